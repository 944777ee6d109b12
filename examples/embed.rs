//! Embedding grit: open a repository, create an issue, run a query, make a sandbox and run a
//! command in it, with no terminal, no daemon, no signal handler installed by the library, and
//! its warnings taken as data.
//!
//! `cargo run --example embed [REPO]` (without REPO it makes a throwaway repository). It checks
//! through `/proc/self/status` that the library installed no signal handler.

use std::path::{Path, PathBuf};
use std::process::Command;

use grit::ops::sandboxes::{CreateRequest, Exec, Output};
use grit::ops::{Issues, NewIssue, Sandboxes};
use grit::store::Store;

/// The signals this process catches (`SigCgt`), as a bit set (bit N-1 for signal N), without
/// the C library's own 32 and 33, which it takes for its threads when the first one starts.
fn caught() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .expect("a SigCgt line")
        .trim();
    u64::from_str_radix(hex, 16).expect("hex") & !(0b11 << 31)
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .status()
        .expect("git runs");
    assert!(ok.success(), "git {args:?}");
}

fn throwaway() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("grit-embed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["config", "user.name", "Embedder"]);
    git(&dir, &["config", "user.email", "embedder@example.com"]);
    std::fs::write(dir.join("README"), "hello\n").expect("a file");
    git(&dir, &["add", "README"]);
    git(&dir, &["commit", "-q", "-m", "init"]);
    git(&dir, &["config", "sandbox.root", ".git/sandboxes"]);
    dir
}

fn main() -> grit::Result<()> {
    let before = caught();
    let (dir, made_here) = match std::env::args_os().nth(1) {
        Some(d) => (PathBuf::from(d), false),
        None => (throwaway(), true),
    };

    let store = Store::open(&dir)?;
    let issues = Issues::new(&store);
    let mut new = NewIssue::titled("Written by a program that embeds grit");
    new.labels = vec!["embedded".into()];
    let made = issues.create(&new)?;
    let found = grit::ops::query::ready(
        &store,
        &grit::ops::query::parse(&store, None, Some("label:embedded"))?,
        10,
    )?;
    assert!(
        found.hits.iter().any(|h| h.id == made.id),
        "the query finds the new issue"
    );
    println!(
        "created issue {} and found it with label:embedded",
        store.index.short_id(&made.id)?
    );

    let sandboxes = Sandboxes::open(&dir)?;
    let mut req = CreateRequest::named("embed");
    req.backend = Some("copy".into());
    let mut warnings = Vec::new();
    let (record, _) = sandboxes.create(&req, &|| None, &mut warnings).map_err(|e| match e {
        grit::sandbox::Stopped::Failed(e) => e,
        grit::sandbox::Stopped::Interrupted(sig) => panic!("interrupted by signal {sig}"),
    })?;
    let exec = Exec::command(["sh", "-c", "echo made in a sandbox > made.txt"]);
    let ran = sandboxes.exec(&record, &exec, Output::Stream(&|_, _| {}))?;
    assert_eq!(ran.exit_code, 0);
    let diff = sandboxes.diff(&record)?;
    assert!(
        diff.files.iter().any(|f| f.path == "made.txt"),
        "the diff shows the new file"
    );
    println!(
        "sandbox {} ran `{}` and changed {} file(s)",
        record.name,
        exec.cmd.join(" "),
        diff.files.len()
    );
    sandboxes.remove(&record.name, true, true, false)?;
    // What the library warned of came back as data (it printed nothing).
    for w in warnings.iter().cloned().chain(grit::warnings::take()) {
        println!("the library warned: {w}");
    }

    let after = caught();
    assert_eq!(
        before, after,
        "the library installed signal handlers: SigCgt {before:#x} became {after:#x}"
    );
    println!("no signal handler was installed (SigCgt {after:#x})");
    if made_here {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
