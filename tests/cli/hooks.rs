//! `git wal hooks`: install and uninstall on no hook, our older hook, a foreign hook (refused,
//! chained, set aside) and core.hooksPath; what the installed hooks do.

use std::fs;
use std::path::Path;

use predicates::prelude::*;

use crate::env::TestEnv;

const HOOKS: [&str; 5] = [
    "reference-transaction",
    "pre-push",
    "pre-commit",
    "post-commit",
    "post-merge",
];

fn states(t: &TestEnv, r: &Path) -> Vec<String> {
    t.json("wal", r, &["hooks", "status"])
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap().to_owned())
        .collect()
}

fn write_hook(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn hooks_install_and_uninstall_cleanly_where_there_were_none() {
    let t = TestEnv::new();
    let r = t.repo("r");
    assert_eq!(states(&t, &r), ["absent"; 5]);
    let installed = t.json("wal", &r, &["hooks", "install"]);
    assert!(installed.as_array().unwrap().iter().all(|h| h["action"] == "installed"));
    assert_eq!(states(&t, &r), ["installed"; 5]);
    for h in HOOKS {
        let shipped = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks").join(h)).unwrap();
        assert_eq!(fs::read_to_string(r.join(".git/hooks").join(h)).unwrap(), shipped);
    }
    let again = t.json("wal", &r, &["hooks", "install"]);
    assert!(again.as_array().unwrap().iter().all(|h| h["action"] == "up-to-date"));
    let removed = t.json("wal", &r, &["hooks", "uninstall"]);
    assert!(removed.as_array().unwrap().iter().all(|h| h["action"] == "removed"));
    assert_eq!(states(&t, &r), ["absent"; 5]);
    for h in HOOKS {
        assert!(!r.join(".git/hooks").join(h).exists());
    }
}

#[test]
fn an_older_grit_hook_is_replaced() {
    let t = TestEnv::new();
    let r = t.repo("r");
    write_hook(
        &r.join(".git/hooks/pre-commit"),
        "#!/bin/sh\n# grit-hook: pre-commit 0\nexit 0\n",
    );
    assert_eq!(states(&t, &r)[2], "outdated");
    let out = t.json("wal", &r, &["hooks", "install"]);
    assert_eq!(out[2]["action"], "updated");
    assert_eq!(states(&t, &r)[2], "installed");
    let out = t.json("wal", &r, &["hooks", "uninstall"]);
    assert_eq!(out[2]["action"], "removed");
}

#[test]
fn a_foreign_hook_is_refused_unless_chained_and_runs_first_with_its_status() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let hook = r.join(".git/hooks/pre-commit");
    let foreign = "#!/bin/sh\necho foreign-ran >> \"$(git rev-parse --git-dir)/foreign.log\"\nexit \"${FAIL:-0}\"\n";
    write_hook(&hook, foreign);
    t.cmd("wal", &r)
        .args(["hooks", "install"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("grit did not write"))
        .stderr(predicate::str::contains("--chain"));
    assert_eq!(fs::read_to_string(&hook).unwrap(), foreign, "nothing was touched");
    assert!(!r.join(".git/hooks/reference-transaction").exists(), "all or nothing");
    t.cmd("wal", &r).args(["init"]).assert().code(2);

    let out = t.json("wal", &r, &["hooks", "install", "--chain"]);
    assert_eq!(out[2]["action"], "chained");
    assert_eq!(
        states(&t, &r),
        ["installed", "installed", "chained", "installed", "installed"]
    );
    fs::write(r.join("f"), "x").unwrap();
    t.git(&r, &["add", "f"]);
    let (ok, _, _) = t.git_env(&r, &["commit", "-q", "-m", "blocked"], &[("FAIL", "1")]);
    assert!(!ok, "the chained hook's failure stops the commit");
    t.git(&r, &["commit", "-q", "-m", "allowed"]);
    let log = fs::read_to_string(r.join(".git/foreign.log")).unwrap();
    assert_eq!(log.lines().count(), 2, "the foreign hook ran both times");

    let out = t.json("wal", &r, &["hooks", "uninstall"]);
    assert_eq!(out[2]["action"], "restored");
    assert_eq!(fs::read_to_string(&hook).unwrap(), foreign, "restored byte for byte");
    assert!(!r.join(".git/hooks/grit-chained").exists());
}

#[test]
fn force_sets_a_foreign_hook_aside_and_uninstall_puts_it_back() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let hook = r.join(".git/hooks/pre-push");
    write_hook(&hook, "#!/bin/sh\nexit 0\n");
    let out = t.json("wal", &r, &["hooks", "install", "--force"]);
    assert_eq!(out[1]["action"], "replaced");
    assert!(r.join(".git/hooks/pre-push.grit-backup").exists());
    let out = t.json("wal", &r, &["hooks", "uninstall"]);
    assert_eq!(out[1]["action"], "restored");
    assert_eq!(fs::read_to_string(&hook).unwrap(), "#!/bin/sh\nexit 0\n");
}

#[test]
fn hooks_go_where_core_hooks_path_points() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["config", "core.hooksPath", "githooks"]);
    t.ok("wal", &r, &["hooks", "install"]);
    for h in HOOKS {
        assert!(r.join("githooks").join(h).exists(), "{h}");
        assert!(!r.join(".git/hooks").join(h).exists(), "{h}");
    }
    let status = t.json("wal", &r, &["hooks", "status"]);
    assert!(
        status[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("githooks/reference-transaction")
    );
    t.ok("wal", &r, &["hooks", "uninstall"]);
    for h in HOOKS {
        assert!(!r.join("githooks").join(h).exists(), "{h}");
    }
}

#[test]
fn a_missing_binary_makes_the_hooks_warn_and_never_block_git() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.ok("wal", &r, &["hooks", "install"]);
    fs::write(r.join("f"), "x").unwrap();
    t.git(&r, &["add", "f"]);
    // The same git as the other tests, without grit's binaries.
    let bin = t.git_only_bin();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let (ok, _, err) = t.git_env(&r, &["commit", "-q", "-m", "no grit here"], &[("PATH", &path)]);
    assert!(ok, "{err}");
    assert!(err.contains("git-wal is not on PATH"), "{err}");
}

#[test]
fn pushing_code_pushes_the_event_log_along() {
    let t = TestEnv::new();
    let remote = t.remote();
    let a = t.clone(&remote, "a", "Ann", "ann");
    t.ok("wal", &a, &["init"]);
    let id = t.create(&a, "travels with the code");
    fs::write(a.join("f"), "x").unwrap();
    t.git(&a, &["add", "f"]);
    t.git(&a, &["commit", "-q", "-m", "code"]);
    let (ok, _, err) = t.git_env(&a, &["push", "-q", "origin", "HEAD"], &[]);
    assert!(ok, "{err}");
    assert!(
        t.git(&remote, &["for-each-ref", "refs/grit/wal/"]).lines().count() == 1,
        "the WAL ref went along"
    );
    let b = t.clone(&remote, "b", "Bob", "bob");
    t.ok("wal", &b, &["init"]);
    t.git(&b, &["fetch", "-q"]);
    assert_eq!(t.json("issue", &b, &["show", &id])["title"], "travels with the code");

    t.git(&a, &["config", "grit.pushWithCode", "false"]);
    t.create(&a, "stays local");
    t.git(&a, &["commit", "-q", "--allow-empty", "-m", "more"]);
    t.git(&a, &["push", "-q", "origin", "HEAD"]);
    t.git(&b, &["fetch", "-q"]);
    assert_eq!(t.json("issue", &b, &["list"]).as_array().unwrap().len(), 1);
}
