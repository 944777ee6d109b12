//! The release: `tools/dist` packs the built binaries with the man pages, completions and the
//! install script, and that script installs them into a temporary HOME on a PATH with no Rust
//! toolchain, from the unpacked archive or fetched by address with its checksum checked.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::env::{TestEnv, exe};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `sh SCRIPT ARGS…` with a HOME of its own and a PATH of git and the system's tools alone.
fn sh(env: &TestEnv, script: &Path, args: &[&str]) -> Output {
    let home = env.tmp.path().join("user");
    std::fs::create_dir_all(&home).unwrap();
    let path = format!("{}:/usr/bin:/bin", env.git_only_bin().display());
    env.wrapped("sh", env.tmp.path())
        .arg(script)
        .args(args)
        .env("PATH", path)
        .env("HOME", &home)
        .env("TMPDIR", env.tmp.path())
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap()
}

fn said(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// What an install must have put in place under `prefix` (and the user's data directory).
fn assert_installed(env: &TestEnv, prefix: &Path, yes: bool) {
    let data = env.tmp.path().join("user/.local/share");
    let files: Vec<PathBuf> = ["issue", "wal", "lock", "sandbox"]
        .iter()
        .flat_map(|t| {
            [
                prefix.join(format!("bin/git-{t}")),
                prefix.join(format!("share/man/man1/git-{t}.1")),
                data.join(format!("bash-completion/completions/git-{t}")),
                data.join(format!("zsh/site-functions/_git-{t}")),
                data.join(format!("fish/vendor_completions.d/git-{t}.fish")),
            ]
        })
        .chain([
            prefix.join("share/man/man7/git-sandbox-isolation.7"),
            data.join("fish/vendor_conf.d/grit.fish"),
        ])
        .collect();
    for f in files {
        assert_eq!(f.exists(), yes, "{}", f.display());
    }
}

#[test]
fn a_release_archive_installs_without_a_toolchain_from_disk_or_by_address_and_checks_its_checksum() {
    let env = TestEnv::new();
    let out = env.tmp.path().join("dist");
    let bins = Path::new(&exe("issue")).parent().unwrap().to_owned();
    let made = env
        .wrapped("sh", root())
        .arg(root().join("tools/dist"))
        .args(["--bin-dir", bins.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", said(&made));
    let archive = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .expect("an archive");
    let name = archive
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_end_matches(".tar.gz")
        .to_owned();
    assert!(
        name.starts_with("grit-") && name.contains(std::env::consts::ARCH),
        "{name}"
    );
    // The release workflow gathers the checksum lines into SHA256SUMS.
    let line = std::fs::read_to_string(out.join(format!("{name}.tar.gz.sha256"))).unwrap();
    std::fs::write(out.join("SHA256SUMS"), &line).unwrap();

    // Unpacked, its install.sh installs from beside itself, and runs the demo.
    let unpacked = env.tmp.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let tar = env
        .wrapped("tar", &unpacked)
        .arg("-xzf")
        .arg(&archive)
        .output()
        .unwrap();
    assert!(tar.status.success(), "{}", said(&tar));
    let dir = unpacked.join(&name);
    assert_eq!(
        std::fs::read_to_string(dir.join("VERSION")).unwrap().trim(),
        env!("CARGO_PKG_VERSION")
    );
    let prefix = env.tmp.path().join("prefix");
    let o = sh(&env, &dir.join("install.sh"), &["--prefix", prefix.to_str().unwrap()]);
    assert!(o.status.success(), "{}", said(&o));
    assert!(
        said(&o).contains("Everything above lives in refs/grit/"),
        "the demo ran: {}",
        said(&o)
    );
    assert_installed(&env, &prefix, true);
    let version = env
        .wrapped(prefix.join("bin/git-issue").to_str().unwrap(), env.tmp.path())
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
    // --uninstall takes it all away again.
    let o = sh(
        &env,
        &dir.join("install.sh"),
        &["--prefix", prefix.to_str().unwrap(), "--uninstall"],
    );
    assert!(o.status.success(), "{}", said(&o));
    assert_installed(&env, &prefix, false);

    // By address (file://, as curl fetches https://), checked against SHA256SUMS.
    let script = root().join("tools/install-prebuilt.sh");
    let from = format!("file://{}", out.display());
    let o = sh(
        &env,
        &script,
        &["--from", &from, "--prefix", prefix.to_str().unwrap(), "--no-demo"],
    );
    assert!(o.status.success(), "{}", said(&o));
    assert_installed(&env, &prefix, true);
    sh(
        &env,
        &dir.join("install.sh"),
        &["--prefix", prefix.to_str().unwrap(), "--uninstall"],
    );
    // A checksum that does not match: exit 4, nothing installed.
    let bad: String = line
        .chars()
        .map(|c| {
            if c == '0' {
                '1'
            } else if c == '1' {
                '0'
            } else {
                c
            }
        })
        .collect();
    std::fs::write(out.join("SHA256SUMS"), bad).unwrap();
    let o = sh(
        &env,
        &script,
        &["--from", &from, "--prefix", prefix.to_str().unwrap(), "--no-demo"],
    );
    assert_eq!(o.status.code(), Some(4), "{}", said(&o));
    assert!(said(&o).contains("does not match its checksum") && said(&o).contains("hint:"));
    assert_installed(&env, &prefix, false);
    // The script as kept in the repository does not know the releases' address: it says so.
    let o = sh(&env, &script, &["--prefix", prefix.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", said(&o));
    assert!(said(&o).contains("--from"));
}
