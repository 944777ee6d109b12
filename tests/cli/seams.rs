//! The seams with git: commands from anywhere in a repository, the first minutes in a fresh
//! clone, shell completion through `git <tool> <TAB>`.

use predicates::prelude::*;

use crate::env::TestEnv;

#[test]
fn every_command_works_from_a_subdirectory_a_linked_worktree_and_inside_git() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let sub = r.join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    t.ok("wal", &sub, &["init"]);
    t.ok("wal", &sub, &["hooks", "install"]);
    let status = t.json("wal", &sub, &["hooks", "status"]);
    assert!(
        status.as_array().unwrap().iter().all(|h| h["state"] == "installed"),
        "{status}"
    );
    t.create(&sub, "from a subdirectory");
    let wt = t.tmp.path().join("wt");
    t.git(&r, &["worktree", "add", "-q", wt.to_str().unwrap()]);
    for dir in [sub.clone(), wt.clone(), r.join(".git"), r.join(".git/refs/heads")] {
        t.cmd("issue", &dir)
            .args(["list"])
            .assert()
            .success()
            .stdout(predicate::str::contains("from a subdirectory"));
        t.ok("wal", &dir, &["hooks", "status"]);
        t.ok("wal", &dir, &["check"]);
    }
    t.create(&wt, "from a worktree");
    assert_eq!(t.json("issue", &r, &["list"]).as_array().unwrap().len(), 2);
}
