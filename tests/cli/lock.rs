//! `git lock`: races between clones through one bare remote, expiry, renew and release by the
//! owner only, the hooks under each policy, claims on issues, and bad input.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::env::{NOW, TestEnv};

/// A bare remote and `n` clones, each with its own actor and grit set up.
fn team(t: &TestEnv, n: usize) -> (PathBuf, Vec<PathBuf>) {
    let remote = t.remote();
    let clones = (0..n)
        .map(|i| {
            let c = t.clone(&remote, &format!("c{i}"), &format!("Agent{i}"), &format!("agent{i}"));
            t.ok("wal", &c, &["init"]);
            c
        })
        .collect();
    (remote, clones)
}

/// Runs `git lock acquire` in every clone at the same moment; returns the exit codes.
fn race(t: &TestEnv, clones: &[PathBuf], resource: impl Fn(usize) -> String) -> Vec<i32> {
    let children: Vec<_> = clones
        .iter()
        .enumerate()
        .map(|(i, c)| {
            t.std_cmd("lock", c)
                .args(["acquire", &resource(i)])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|ch| {
            let out = ch.wait_with_output().unwrap();
            let code = out.status.code().unwrap();
            if code == 3 {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("is held by Agent") && err.contains("until"), "{err}");
            }
            code
        })
        .collect()
}

fn exactly_one_wins(codes: &[i32]) {
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 0 || *c == 3), "losers exit 3: {codes:?}");
}

#[test]
fn eight_clones_racing_for_one_path_lock_exactly_one_wins() {
    let t = TestEnv::new();
    let (_, clones) = team(&t, 8);
    exactly_one_wins(&race(&t, &clones, |_| "path:src/main.rs".into()));
}

#[test]
fn eight_clones_racing_for_nested_path_locks_exactly_one_wins() {
    let t = TestEnv::new();
    let (_, clones) = team(&t, 8);
    // a/, a/b/, a/b/c/, …: every pair overlaps, and none is the same ref.
    let codes = race(&t, &clones, |i| {
        let dirs: Vec<String> = (0..=i).map(|d| format!("d{d}")).collect();
        format!("path:{}/", dirs.join("/"))
    });
    exactly_one_wins(&codes);
}

#[test]
fn eight_clones_racing_for_the_repo_lock_and_paths_exactly_one_wins() {
    let t = TestEnv::new();
    let (_, clones) = team(&t, 8);
    let codes = race(&t, &clones, |i| {
        if i % 2 == 0 { "repo:".into() } else { "path:src/".into() }
    });
    exactly_one_wins(&codes);
}

#[test]
fn eight_clones_racing_for_a_directory_and_a_file_in_it_exactly_one_wins() {
    let t = TestEnv::new();
    let (_, clones) = team(&t, 8);
    // A file's acquire reads only its own lock and its ancestors', by name.
    let codes = race(&t, &clones, |i| {
        if i % 2 == 0 {
            "path:src/".into()
        } else {
            "path:src/deep/a.rs".into()
        }
    });
    exactly_one_wins(&codes);
}

#[test]
fn eight_processes_in_one_clone_racing_for_overlapping_local_locks_exactly_one_wins() {
    let t = TestEnv::new();
    let dir = t.repo("r");
    let actors: Vec<String> = (0..8).map(|i| format!("agent{i}")).collect();
    for a in &actors {
        // Each actor exists before the race.
        t.cmd("lock", &dir)
            .env("GRIT_ACTOR", a)
            .args(["status"])
            .assert()
            .success();
    }
    for round in 0..3 {
        let children: Vec<_> = actors
            .iter()
            .enumerate()
            .map(|(i, a)| {
                // Different refs, every pair overlapping: nested directories, a file, repo:.
                let resource = match i % 4 {
                    0 => format!("path:r{round}/"),
                    1 => format!("path:r{round}/s/"),
                    2 => format!("path:r{round}/s/a.rs"),
                    _ => "repo:".into(),
                };
                t.std_cmd("lock", &dir)
                    .env("GRIT_ACTOR", a)
                    .args(["acquire", "--local", &resource])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let codes: Vec<i32> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap().status.code().unwrap())
            .collect();
        exactly_one_wins(&codes);
        // Free the winner's lock for the next round.
        let status = t.json("lock", &dir, &["status"]);
        for l in status.as_array().unwrap() {
            t.ok("lock", &dir, &["release", "--force", l["resource"].as_str().unwrap()]);
        }
    }
}

#[test]
fn a_file_lock_sees_the_directory_and_repo_locks_above_it_and_the_reverse() {
    let t = TestEnv::new();
    let (_, c) = team(&t, 2);
    t.ok("lock", &c[0], &["acquire", "path:src/"]);
    for wanted in ["path:src/deep/a.rs", "path:src/", "repo:"] {
        t.cmd("lock", &c[1])
            .args(["acquire", wanted])
            .assert()
            .code(3)
            .stderr(predicate::str::contains("path:src/ is held by Agent0"));
    }
    t.ok("lock", &c[1], &["acquire", "path:srcx/a.rs", "path:docs/a.md"]);
    t.ok("lock", &c[1], &["release", "path:srcx/a.rs", "path:docs/a.md"]);
    t.ok("lock", &c[0], &["release", "path:src/"]);
    t.ok("lock", &c[0], &["acquire", "repo:", "--local"]);
    t.cmd("lock", &c[0])
        .env("GRIT_ACTOR", "other")
        .args(["acquire", "path:x/y/z.rs", "--local"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("repo: is held by Agent0"));
    t.ok("lock", &c[1], &["acquire", "path:lib/a.rs"]);
    t.cmd("lock", &c[0])
        .args(["acquire", "path:lib/"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("path:lib/a.rs is held by Agent1"));
}

#[test]
fn disjoint_locks_taken_at_once_all_succeed() {
    let t = TestEnv::new();
    let (_, clones) = team(&t, 4);
    let codes = race(&t, &clones, |i| format!("path:mod{i}/"));
    assert_eq!(
        codes,
        [0, 0, 0, 0],
        "siblings only share guard refs; they retry and all win"
    );
}

fn at(t: &TestEnv, dir: &Path, secs_later: u64, args: &[&str]) -> assert_cmd::assert::Assert {
    let now = (NOW.parse::<u64>().unwrap() + secs_later).to_string();
    t.cmd("lock", dir).env("GRIT_NOW", now).args(args).assert()
}

#[test]
fn expired_leases_are_free_gc_removes_them_and_only_the_owner_renews() {
    let t = TestEnv::new();
    let (remote, c) = team(&t, 2);
    at(&t, &c[0], 0, &["acquire", "path:a.txt", "--ttl", "60s"]).success();
    at(&t, &c[1], 30, &["acquire", "path:a.txt"])
        .code(3)
        .stderr(predicate::str::contains("held by Agent0"));
    at(&t, &c[1], 30, &["renew", "path:a.txt"])
        .code(3)
        .stderr(predicate::str::contains("only its owner renews"));
    at(&t, &c[1], 30, &["release", "path:a.txt"]).code(3);
    at(&t, &c[0], 30, &["renew", "path:a.txt", "--ttl", "60s"]).success();
    at(&t, &c[1], 80, &["acquire", "path:a.txt"]).code(3);
    // Past the renewed expiry the lease is free; the taker builds on its history.
    at(&t, &c[1], 100, &["acquire", "path:a.txt", "--ttl", "10s"]).success();
    let status = t.json("lock", &c[1], &["status", "--all"]);
    assert_eq!(status[0]["owner_name"], "Agent1 <agent1@example.com>");
    assert_eq!(status[0]["seq"], 3);
    at(&t, &c[0], 200, &["gc"]).success();
    let left = t.git(&remote, &["for-each-ref", "refs/grit/locks/"]);
    assert_eq!(
        left.lines().count(),
        0,
        "expired leases and idle guards are gone: {left}"
    );
    at(&t, &c[0], 200, &["acquire", "path:a.txt"]).success();
}

#[test]
fn release_is_for_the_owner_and_force_records_a_break() {
    let t = TestEnv::new();
    let (_, c) = team(&t, 2);
    t.ok("lock", &c[0], &["acquire", "path:x/"]);
    t.cmd("lock", &c[1])
        .args(["release", "path:x/"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("--force"));
    let broke = t.json("lock", &c[1], &["release", "path:x/", "--force"]);
    assert_eq!(broke[0]["action"], "break");
    assert_eq!(broke[0]["held"], false);
    let log = t.git(&c[1], &["log", "--format=%s", broke[0]["ref"].as_str().unwrap()]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        ["grit-lock: break path:x/", "grit-lock: acquire path:x/"]
    );
    t.ok("lock", &c[1], &["acquire", "path:x/"]);
}

#[test]
fn leases_are_taken_and_recorded_while_packed_refs_is_locked() {
    // A clone has packed-refs; `git fetch` or `git pack-refs` may hold its lock (or a crashed
    // one may have left it). The lease is pushed, so the local refs must follow it.
    if crate::env::skip_unless_files_backend("packed-refs.lock") {
        return;
    }
    let t = TestEnv::new();
    let (remote, c) = team(&t, 1);
    assert!(c[0].join(".git/packed-refs").exists());
    std::fs::write(c[0].join(".git/packed-refs.lock"), b"").unwrap();
    t.ok("lock", &c[0], &["acquire", "path:x/"]);
    let pushed = t.refs(&remote, "refs/grit/locks/");
    assert!(!pushed.is_empty());
    assert_eq!(t.refs(&c[0], "refs/grit/locks/"), pushed, "the lock refs themselves");
    let tracking: Vec<_> = t
        .refs(&c[0], "refs/grit/remotes/origin/locks/")
        .into_iter()
        .map(|(name, tip)| (name.replace("refs/grit/remotes/origin/locks/", "refs/grit/locks/"), tip))
        .collect();
    assert_eq!(tracking, pushed, "their remote-tracking refs");
    // A local lease is one ref transaction in the clone: it does not wait for packed-refs either.
    t.ok("lock", &c[0], &["acquire", "--local", "path:y/"]);
    assert!(t.refs(&c[0], "refs/grit/locks/").len() > pushed.len());
    assert!(
        c[0].join(".git/packed-refs.lock").exists(),
        "someone else's lock is left alone"
    );
    // Deleting a ref does need that lock, as in git: an expired lease stays until it is free.
    at(&t, &c[0], 0, &["acquire", "--local", "path:z/", "--ttl", "10s"]).success();
    at(&t, &c[0], 100, &["gc", "--local"])
        .code(1)
        .stderr(predicate::str::contains("packed-refs.lock exists"))
        .stderr(predicate::str::contains("hint: a lock left by a crash"));
    std::fs::remove_file(c[0].join(".git/packed-refs.lock")).unwrap();
    at(&t, &c[0], 100, &["gc", "--local"])
        .success()
        .stdout(predicate::str::contains("removed"));
}

#[test]
fn several_resources_are_taken_all_or_nothing() {
    let t = TestEnv::new();
    let (remote, c) = team(&t, 2);
    t.ok("lock", &c[0], &["acquire", "path:b.txt"]);
    t.cmd("lock", &c[1])
        .args(["acquire", "path:a.txt", "path:b.txt"])
        .assert()
        .code(3);
    let refs = t.git(&remote, &["for-each-ref", "--format=%(subject)", "refs/grit/locks/"]);
    assert!(!refs.contains("path:a.txt"), "a.txt was not taken: {refs}");
    t.ok("lock", &c[1], &["acquire", "path:a.txt", "path:c.txt", "--local"]);
    let mine = t.json("lock", &c[1], &["status", "--mine"]);
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert!(mine.as_array().unwrap().iter().all(|l| l["source"] == "local"));
}

fn commit_file(t: &TestEnv, dir: &Path, path: &str) -> (bool, String) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, format!("{path}\n")).unwrap();
    t.git(dir, &["add", path]);
    let (ok, _, err) = t.git_env(dir, &["commit", "-q", "-m", path], &[]);
    (ok, err)
}

#[test]
fn pre_commit_checks_staged_paths_under_each_policy() {
    let t = TestEnv::new();
    let (_, c) = team(&t, 2);
    t.ok("lock", &c[0], &["acquire", "path:src/", "--note", "big refactor"]);
    t.git(&c[1], &["fetch", "-q"]);

    t.git(&c[1], &["config", "lock.policy", "off"]);
    let (ok, err) = commit_file(&t, &c[1], "src/one.rs");
    assert!(ok && !err.contains("locked"), "{err}");

    t.git(&c[1], &["config", "lock.policy", "warn"]);
    let (ok, err) = commit_file(&t, &c[1], "src/two.rs");
    assert!(ok, "{err}");
    assert!(
        err.contains("src/two.rs") && err.contains("held by Agent0") && err.contains("big refactor"),
        "{err}"
    );

    t.git(&c[1], &["config", "lock.policy", "require"]);
    let (ok, err) = commit_file(&t, &c[1], "src/three.rs");
    assert!(!ok, "require refuses the commit");
    assert!(err.contains("lock.policy=require") && err.contains("hint:"), "{err}");
    // The hint names commands that exist where the user is: `git commit` has no --wait.
    assert!(err.contains("`git lock acquire --wait 10m path:src/`"), "{err}");
    assert!(!err.contains("with `--wait"), "{err}");
    t.git(&c[1], &["reset", "-q"]);
    let (ok, err) = commit_file(&t, &c[1], "docs/free.md");
    assert!(ok, "paths nobody holds pass: {err}");

    // `git -c` reaches grit as it reaches git's own commands.
    t.git(&c[1], &["config", "lock.policy", "warn"]);
    let (ok, _, err) = t.git_env(&c[1], &["-c", "lock.policy=require", "lock", "check", "src/x.rs"], &[]);
    assert!(!ok && err.contains("lock.policy=require"), "{err}");
    let (ok, _, err) = t.git_env(&c[1], &["-c", "lock.policy=off", "lock", "check", "src/x.rs"], &[]);
    assert!(ok && err.is_empty(), "{err}");

    // Your own locks never block you.
    t.git(&c[0], &["config", "lock.policy", "require"]);
    let (ok, err) = commit_file(&t, &c[0], "src/mine.rs");
    assert!(ok, "{err}");
}

#[test]
fn pre_push_checks_pushed_paths_against_the_remotes_locks() {
    let t = TestEnv::new();
    let (_, c) = team(&t, 2);
    t.git(&c[1], &["config", "lock.policy", "off"]);
    let (ok, _) = commit_file(&t, &c[1], "lib/x.rs");
    assert!(ok);
    // Locked after B committed, and B never fetched: pre-push asks the remote.
    t.ok("lock", &c[0], &["acquire", "path:lib/x.rs"]);
    t.git(&c[1], &["config", "lock.policy", "require"]);
    let (ok, _, err) = t.git_env(&c[1], &["push", "-q", "origin", "HEAD:main"], &[]);
    assert!(!ok, "the push is refused");
    assert!(
        err.contains("push changes a locked path") && err.contains("lib/x.rs"),
        "{err}"
    );
    t.git(&c[1], &["config", "lock.policy", "warn"]);
    let (ok, _, err) = t.git_env(&c[1], &["push", "-q", "origin", "HEAD:main"], &[]);
    assert!(ok, "{err}");
    assert!(err.contains("warning"), "{err}");
}

#[test]
fn claims_show_in_list_and_show_and_ready_skips_them() {
    let t = TestEnv::new();
    let (_, c) = team(&t, 2);
    let one = t.create(&c[0], "one");
    let two = t.create(&c[0], "two");
    t.ok("wal", &c[0], &["sync"]);
    t.ok("wal", &c[1], &["sync"]);
    let claimed = t.json("issue", &c[0], &["claim", &one[..8]]);
    assert_eq!(claimed["claim"]["by_name"], "Agent0");
    assert_eq!(claimed["claim"]["by_actor"], "agent0", "which of the person's actors");
    t.cmd("issue", &c[0])
        .args(["list"])
        .assert()
        .stdout(predicate::str::contains("[claimed by Agent0 (agent0)]"));
    t.cmd("lock", &c[0])
        .args(["status"])
        .assert()
        .stdout(predicate::str::contains("Agent0 <agent0@example.com> (agent0)"));
    t.cmd("issue", &c[1])
        .args(["claim", &one[..8]])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("held by Agent0"));
    t.git(&c[1], &["fetch", "-q"]);
    let list = t.json("issue", &c[1], &["list"]);
    let by_id = |id: &str| list.as_array().unwrap().iter().find(|i| i["id"] == id).unwrap().clone();
    assert_eq!(by_id(&one)["claim"]["by_name"], "Agent0");
    assert!(by_id(&two)["claim"].is_null());
    let ready = t.json("issue", &c[1], &["ready"]);
    let ids: Vec<&str> = ready
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [two.as_str()]);
    // Under require, others' writes to a claimed issue are refused; the claimer's are not.
    t.git(&c[1], &["config", "lock.policy", "require"]);
    t.cmd("issue", &c[1])
        .args(["comment", &one, "--body", "me too"])
        .assert()
        .code(3);
    t.ok("issue", &c[0], &["comment", &one, "--body", "on it"]);
    t.ok("issue", &c[0], &["unclaim", &one]);
    t.git(&c[1], &["fetch", "-q"]);
    t.ok("issue", &c[1], &["comment", &one, "--lock", "--body", "now me"]);
    assert!(
        t.json("issue", &c[1], &["show", &one])["claim"].is_null(),
        "--lock let go afterwards"
    );
}

/// Claims of different issues share no ref: eight clones claiming at once each write their
/// issue's lock and nothing else (before, each also wrote a guard on `repo:`, so all eight
/// raced for one ref). `repo:` is the tree: it and a claim do not exclude each other.
#[test]
fn claims_share_no_ref_and_repo_lock_is_the_tree_not_the_issues() {
    let t = TestEnv::new();
    let (remote, c) = team(&t, 8);
    let ids: Vec<String> = (0..8).map(|i| t.create(&c[0], &format!("i{i}"))).collect();
    t.ok("wal", &c[0], &["sync"]);
    for dir in &c[1..] {
        t.ok("wal", dir, &["sync"]);
    }
    t.ok("lock", &c[1], &["acquire", "repo:"]);
    let children: Vec<_> = c
        .iter()
        .zip(&ids)
        .map(|(dir, id)| {
            t.std_cmd("issue", dir)
                .args(["claim", id])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for ch in children {
        let out = ch.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let refs = t.git(&remote, &["for-each-ref", "--format=%(refname)", "refs/grit/locks/"]);
    assert_eq!(
        refs.lines().count(),
        9,
        "eight claims and the repo: lock, no guard:\n{refs}"
    );
    // A path lock still meets repo:.
    t.cmd("lock", &c[2])
        .args(["acquire", "path:src/a.rs"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("repo: is held by Agent1"));
}

/// A claim is taken on the remote's claims as last fetched, and a queue that looks empty is
/// looked at again on the remote: a claim released since the last fetch is claimed, not
/// reported as "no issue is ready".
#[test]
fn claim_next_sees_a_claim_released_since_the_last_fetch() {
    let t = TestEnv::new();
    let (_, c) = team(&t, 2);
    let one = t.create(&c[0], "one");
    t.ok("wal", &c[0], &["sync"]);
    t.ok("wal", &c[1], &["sync"]);
    t.ok("issue", &c[0], &["claim", &one]);
    t.git(&c[1], &["fetch", "-q"]);
    t.ok("issue", &c[0], &["unclaim", &one]);
    let got = t.json("issue", &c[1], &["claim", "--next"]);
    assert_eq!(got["id"], one.as_str());
    // And the other way: a claim taken since the last fetch is refused by the push's lease.
    t.ok("issue", &c[1], &["unclaim", &one]);
    t.git(&c[0], &["fetch", "-q"]);
    t.ok("issue", &c[1], &["claim", &one]);
    t.cmd("issue", &c[0])
        .args(["claim", "--next"])
        .assert()
        .code(predicate::ne(0))
        .stderr(predicate::str::contains("no issue is ready"));
}

#[test]
fn bad_resources_and_durations_exit_2_and_write_nothing() {
    let t = TestEnv::new();
    let r = t.repo("r");
    for bad in [
        vec!["acquire", "nope:x"],
        vec!["acquire", "/abs/path"],
        vec!["acquire", "path:/etc/passwd"],
        vec!["acquire", "path:a/../../b"],
        vec!["acquire", ""],
        vec!["acquire", "path:"],
        vec!["acquire", "path:a", "--ttl", "5x"],
        vec!["acquire", "path:a", "--ttl", "0s"],
        vec!["acquire", "path:a", "--wait", "soon"],
    ] {
        t.cmd("lock", &r)
            .args(&bad)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("hint:"));
    }
    assert_eq!(t.grit_refs(&r), "", "nothing was written");
}

/// A write with `--lock` by the issue's claimer (every write of the MCP server and the dashboard
/// asks for the lock) is guarded by the claim: the claim keeps its end, and outlives the write.
#[test]
fn a_locked_write_by_the_claimer_leaves_the_claim_as_it_was() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let id = t.create(&r, "claimed work");
    t.ok("issue", &r, &["claim", &id]);
    let before = t.json("issue", &r, &["show", &id])["claim"].clone();
    assert!(before.is_object(), "{before}");
    t.ok("issue", &r, &["comment", &id, "--body", "progress", "--lock"]);
    t.ok("issue", &r, &["edit", &id, "--priority", "1", "--lock"]);
    t.ok("issue", &r, &["close", &id, "--lock"]);
    assert_eq!(t.json("issue", &r, &["show", &id])["claim"], before);
    // Another actor's locked write is refused while the claim holds.
    let out = t
        .cmd("issue", &r)
        .env("GRIT_ACTOR", "other")
        .args(["reopen", &id, "--lock"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    // Without a claim, the lock is taken for the write and given back after it.
    t.ok("issue", &r, &["unclaim", &id]);
    t.ok("issue", &r, &["reopen", &id, "--lock"]);
    assert!(t.json("issue", &r, &["show", &id])["claim"].is_null());
}
