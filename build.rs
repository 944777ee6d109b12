//! Records the commit the binaries are built from, so that `--version` names it. Outside a git
//! checkout (a source archive) the commit is left empty and `--version` gives the version alone.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(&dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    println!("cargo:rustc-env=GRIT_COMMIT={commit}");
    // Again when HEAD moves: a commit, a checkout. Only paths that exist (a missing one would
    // run this script on every build).
    let git = std::path::Path::new(&dir).join(".git");
    let mut watched = vec![git.join("HEAD"), git.join("packed-refs")];
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD"))
        && let Some(r) = head.strip_prefix("ref: ")
    {
        watched.push(git.join(r.trim()));
    }
    for p in watched.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}
