//! Sync through a bare remote and several clones: plain fetch, `git wal sync`, unions of one
//! actor's diverged history, a remote that moved, partial sync, forged events, snapshots.

use std::path::Path;

use predicates::prelude::*;
use serde_json::Value;

use crate::env::TestEnv;

fn list(t: &TestEnv, dir: &Path) -> Value {
    t.json("issue", dir, &["list", "--state", "all"])
}

/// The titles of a listing, sorted: clones may order events of the same time differently.
fn titles(list: &Value) -> Vec<String> {
    let mut v = crate::env::titles(list);
    v.sort();
    v
}

fn wal_events(t: &TestEnv, dir: &Path) -> usize {
    t.json("wal", dir, &["log"]).as_array().unwrap().len()
}

#[test]
fn pulled_issues_appear_after_plain_git_fetch() {
    let t = TestEnv::new();
    let remote = t.remote();
    let a = t.clone(&remote, "a", "Ann", "ann");
    let b = t.clone(&remote, "b", "Bob", "bob");
    t.ok("wal", &a, &["init"]);
    let id = t.create(&a, "shared bug");
    t.ok(
        "issue",
        &a,
        &["edit", &id, "--add-label", "p1", "--add-assignee", "bob"],
    );
    t.ok("issue", &a, &["comment", &id, "--body", "steps to reproduce"]);
    t.create(&a, "second");
    let synced = t.json("wal", &a, &["sync"]);
    assert_eq!(synced["rounds"], 1);
    assert!(
        synced["refs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["pushed"] == "new" && r["ref"].as_str().unwrap().starts_with("refs/grit/wal/"))
    );

    t.ok("wal", &b, &["init"]);
    let configured = t.git(&b, &["config", "--get-all", "remote.origin.fetch"]);
    assert!(configured.contains("+refs/grit/wal/*:refs/grit/remotes/origin/wal/*"));
    assert!(
        t.git_env(&b, &["config", "remote.origin.push"], &[]).1.is_empty(),
        "init never sets a push refspec"
    );
    t.git(&b, &["fetch", "-q"]);
    assert_eq!(
        list(&t, &b),
        list(&t, &a),
        "B sees exactly what A has, after a plain fetch"
    );
    assert_eq!(t.json("issue", &b, &["show", &id]), t.json("issue", &a, &["show", &id]));
    // Running init again changes nothing.
    let again = t.json("wal", &b, &["init"]);
    assert_eq!(again["remotes"][0]["added_refspecs"].as_array().unwrap().len(), 0);
    assert!(
        again["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["action"] == "up-to-date")
    );
}

#[test]
fn the_fetch_hook_folds_new_events_at_once() {
    let t = TestEnv::new();
    let (_, a, b) = t.pair();
    t.create(&a, "one");
    t.ok("wal", &a, &["sync"]);
    // The hook's fold is stamped with the fetch's clock; a later command finds nothing to do.
    let (ok, _, err) = t.git_env(&b, &["fetch", "-q"], &[("GRIT_NOW", "1800000000")]);
    assert!(ok, "{err}");
    let stats = t.json("wal", &b, &["stats"]);
    assert_eq!(stats["events"], 1);
    assert_eq!(
        stats["last_fold_at"], "2027-01-15T08:00:00Z",
        "the hook folded during the fetch"
    );
}

fn concurrent_edits(order_ab: bool) {
    let t = TestEnv::new();
    let remote = t.remote();
    let a = t.clone(&remote, "a", "Ann", "ann");
    let b = t.clone(&remote, "b", "Bob", "bob");
    for c in [&a, &b] {
        t.ok("wal", c, &["init"]);
    }
    let id = t.create(&a, "original");
    t.ok("issue", &a, &["edit", &id, "--add-label", "base"]);
    t.ok("wal", &a, &["sync"]);
    t.ok("wal", &b, &["sync"]);
    // Both edit every kind of field without seeing each other.
    t.ok(
        "issue",
        &a,
        &[
            "edit",
            &id,
            "--title",
            "A's title",
            "--add-label",
            "a",
            "--remove-label",
            "base",
        ],
    );
    t.ok("issue", &a, &["comment", &id, "--body", "from A"]);
    t.ok("issue", &a, &["close", &id, "--reason", "not-planned"]);
    t.ok(
        "issue",
        &b,
        &[
            "edit",
            &id,
            "--title",
            "B's title",
            "--add-label",
            "b",
            "--add-assignee",
            "bob",
        ],
    );
    t.ok("issue", &b, &["comment", &id, "--body", "from B"]);
    t.ok("issue", &b, &["close", &id]);
    t.ok("issue", &b, &["reopen", &id]);
    let (first, second) = if order_ab { (&a, &b) } else { (&b, &a) };
    t.ok("wal", first, &["sync"]);
    t.ok("wal", second, &["sync"]);
    t.ok("wal", first, &["sync"]);
    let show_a = t.json("issue", &a, &["show", &id]);
    let show_b = t.json("issue", &b, &["show", &id]);
    assert_eq!(show_a, show_b);
    assert_eq!(show_a["comments"].as_array().unwrap().len(), 2);
    let labels: Vec<&str> = show_a["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(labels.contains(&"a") && labels.contains(&"b"), "{labels:?}");
    assert_eq!(list(&t, &a), list(&t, &b));
}

#[test]
fn concurrent_edits_converge_when_a_syncs_first() {
    concurrent_edits(true);
}

#[test]
fn concurrent_edits_converge_when_b_syncs_first() {
    concurrent_edits(false);
}

#[test]
fn one_actor_in_two_clones_is_united_and_pushed_fast_forward() {
    let t = TestEnv::new();
    let remote = t.remote();
    // Same label and key seed: the same actor writes from two clones.
    let a = t.clone(&remote, "a", "Ann", "ann");
    let b = t.clone(&remote, "b", "Ann", "ann");
    for c in [&a, &b] {
        t.ok("wal", c, &["init"]);
    }
    let actor = t.json("wal", &a, &["actor", "show"])["id"].as_str().unwrap().to_owned();
    assert_eq!(t.json("wal", &b, &["actor", "show"])["id"], actor.as_str());
    for n in 0..3 {
        t.create(&a, &format!("a{n}"));
        t.create(&b, &format!("b{n}"));
    }
    t.ok("wal", &a, &["sync"]);
    let united = t.json("wal", &b, &["sync"]);
    let wal = format!("refs/grit/wal/{actor}");
    let entry = united["refs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ref"] == wal.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["integrated"], "union");
    assert_eq!(entry["pushed"], "fast-forward");
    assert!(entry["rejected"].is_null());
    let back = t.json("wal", &a, &["sync"]);
    let entry = back["refs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ref"] == wal.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["integrated"], "fast-forward", "A takes the union as it is");
    for c in [&a, &b] {
        assert_eq!(wal_events(&t, c), 6, "every event of both clones is in the log");
        assert_eq!(titles(&list(&t, c)), ["a0", "a1", "a2", "b0", "b1", "b2"]);
    }
    // The remote's ref holds both histories, nothing rewritten.
    let tip = t.git(&remote, &["rev-parse", &wal]);
    let parents = t.git(&remote, &["rev-list", "--parents", "-n", "1", tip.trim()]);
    assert_eq!(parents.split_whitespace().count(), 3, "a union merge commit");
    assert_eq!(t.git(&remote, &["rev-list", "--count", &wal]).trim(), "7");
}

#[test]
fn push_alone_reports_a_moved_remote_and_sync_then_succeeds() {
    let t = TestEnv::new();
    let remote = t.remote();
    let a = t.clone(&remote, "a", "Ann", "ann");
    let b = t.clone(&remote, "b", "Ann", "ann");
    for c in [&a, &b] {
        t.ok("wal", c, &["init"]);
    }
    t.create(&a, "from a");
    t.ok("wal", &a, &["sync"]);
    t.create(&b, "from b");
    let out = t.cmd("wal", &b).args(["push", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rejected: Vec<&Value> = report["refs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["rejected"].is_null())
        .collect();
    assert_eq!(rejected.len(), 1, "{report}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
    // No manual step: sync fetches, unites and pushes.
    t.ok("wal", &b, &["sync"]);
    t.ok("wal", &a, &["sync"]);
    assert_eq!(titles(&list(&t, &a)), ["from a", "from b"]);
    assert_eq!(list(&t, &a), list(&t, &b));
}

#[test]
fn clones_syncing_at_the_same_moment_all_land() {
    let t = TestEnv::new();
    let remote = t.remote();
    let clones: Vec<_> = (0..4)
        .map(|i| {
            // Two actors shared by two clones each: pushes race on the same refs.
            let c = t.clone(&remote, &format!("c{i}"), "Ann", &format!("agent{}", i % 2));
            t.ok("wal", &c, &["init"]);
            for n in 0..3 {
                t.create(&c, &format!("c{i}-{n}"));
            }
            c
        })
        .collect();
    let children: Vec<_> = clones
        .iter()
        .map(|c| {
            t.std_cmd("wal", c)
                .arg("sync")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    for c in &clones {
        t.ok("wal", c, &["sync"]);
    }
    let want = titles(&list(&t, &clones[0]));
    assert_eq!(want.len(), 12);
    for c in &clones {
        assert_eq!(titles(&list(&t, c)), want);
    }
}

#[test]
fn partial_sync_pushes_one_issue_and_holds_later_events_back() {
    let t = TestEnv::new();
    let (_, a, b) = t.pair();
    let x = t.create(&a, "x");
    let y = t.create(&a, "y");
    t.ok("issue", &a, &["comment", &x, "--body", "x comment"]);
    t.ok("issue", &a, &["comment", &y, "--body", "y comment"]);
    let r = t.json("wal", &a, &["sync", "--issue", &x[..8]]);
    assert_eq!(
        r["partial"]["carried_events"], 1,
        "y's creation sits between x's events"
    );
    assert_eq!(r["partial"]["held_back_commits"], 1, "y's comment stays local");
    t.git(&b, &["fetch", "-q"]);
    assert_eq!(
        t.json("issue", &b, &["show", &x])["comments"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        t.json("issue", &b, &["show", &y])["comments"].as_array().unwrap().len(),
        0
    );
    t.ok("wal", &a, &["sync"]);
    t.git(&b, &["fetch", "-q"]);
    assert_eq!(
        t.json("issue", &b, &["show", &y])["comments"].as_array().unwrap().len(),
        1
    );
}

#[test]
fn a_forged_event_from_the_remote_is_quarantined_and_never_applied() {
    let t = TestEnv::new();
    let (remote, a, b) = t.pair();
    t.create(&a, "genuine");
    t.ok("wal", &a, &["sync"]);
    // Someone with push access rewrites the title inside a copy of A's chunk and appends it.
    let wal = t
        .git(&remote, &["for-each-ref", "--format=%(refname)", "refs/grit/wal/"])
        .trim()
        .to_owned();
    let blob = std::process::Command::new("git")
        .args(["cat-file", "blob", &format!("{wal}:chunk.cbor")])
        .current_dir(&remote)
        .output()
        .unwrap()
        .stdout;
    let at = blob.windows(7).position(|w| w == b"genuine").unwrap();
    let mut forged = blob.clone();
    forged[at..at + 7].copy_from_slice(b"forged!");
    let parent = t.git(&remote, &["rev-parse", &wal]);
    let commit = t.commit_one_file(&remote, "chunk.cbor", &forged, &[parent.trim()], "x");
    t.git(&remote, &["update-ref", &wal, commit.trim()]);

    t.cmd("wal", &b)
        .args(["sync"])
        .assert()
        .success()
        .stderr(predicate::str::contains("quarantined event"))
        .stderr(predicate::str::contains("bad signature"));
    assert_eq!(titles(&list(&t, &b)), ["genuine"], "the forged event is not applied");
    // It comes along in history (nothing is rewritten), and every command names it until it is
    // resolved; resolved, it is still never applied.
    t.cmd("issue", &b)
        .args(["list"])
        .assert()
        .success()
        .stderr(predicate::str::contains(&commit.trim()[..12]));
    let q = t.json("wal", &b, &["quarantine"]);
    assert_eq!(q.as_array().unwrap().len(), 1, "{q}");
    assert_eq!(q[0]["commit"], commit.trim());
    t.ok("wal", &b, &["quarantine", "resolve", "--all"]);
    t.cmd("issue", &b).args(["list"]).assert().success().stderr("");
    t.ok("wal", &b, &["rebuild", "--full"]);
    assert_eq!(titles(&list(&t, &b)), ["genuine"], "a rebuild skips it too");
}

#[test]
fn a_fresh_clone_starts_from_the_snapshot_and_matches_a_full_replay() {
    let t = TestEnv::new();
    let remote = t.remote();
    let a = t.clone(&remote, "a", "Ann", "ann");
    t.ok("wal", &a, &["init"]);
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(t.create(&a, &format!("before {n}")));
    }
    t.ok("issue", &a, &["close", &ids[0]]);
    let snap = t.json("wal", &a, &["snapshot"]);
    assert_eq!(snap["created"]["events"], 6);
    assert_eq!(
        t.json("wal", &a, &["snapshot"])["created"],
        Value::Null,
        "nothing new, nothing written"
    );
    t.create(&a, "after the snapshot");
    t.ok("issue", &a, &["comment", &ids[1], "--body", "later"]);
    // The next snapshot is a link of a chain: it holds only the two new events, and names the
    // first as its parent (in its signed blob and as a parent commit).
    let second = t.json("wal", &a, &["snapshot"]);
    assert_eq!(second["created"]["events"], 8);
    let link = second["created"]["commit"].as_str().unwrap();
    let blob = t
        .wrapped("git", &a)
        .args(["cat-file", "blob", &format!("{link}:snapshot.cbor")])
        .output()
        .unwrap()
        .stdout;
    let loaded = grit::snapshot::decode(&blob).unwrap();
    let first = snap["created"]["commit"].as_str().unwrap();
    assert_eq!(loaded.events.len(), 2);
    assert_eq!(loaded.parent.unwrap().to_string(), first);
    assert!(t.git(&a, &["rev-parse", &format!("{link}^@")]).contains(first));
    t.create(&a, "after the chain");
    t.ok("wal", &a, &["sync"]);

    let c = t.clone(&remote, "c", "Cy", "cy");
    t.ok("wal", &c, &["init"]);
    t.git(&c, &["fetch", "-q"]);
    // Another clone's snapshot says which commits it covers only if its signer is trusted.
    let ann = t.json("wal", &a, &["actor", "show"])["id"].as_str().unwrap().to_owned();
    assert!(t.json("wal", &c, &["rebuild"])["snapshot"].is_null(), "not trusted yet");
    t.git(&c, &["config", "grit.snapshotSigners", &ann]);
    let from_snapshot = t.json("wal", &c, &["rebuild"]);
    assert!(
        from_snapshot["snapshot"]
            .as_str()
            .unwrap()
            .starts_with("refs/grit/remotes/origin/snapshots/0000000008-")
    );
    assert_eq!(from_snapshot["commits"], 1, "only the commits after the chain are read");
    let listed = list(&t, &c);
    let shown = t.json("issue", &c, &["show", &ids[1]]);
    let full = t.json("wal", &c, &["rebuild", "--full"]);
    assert!(full["snapshot"].is_null());
    assert_eq!(full["events"], 9);
    assert_eq!(list(&t, &c), listed, "same projection as a full replay");
    assert_eq!(t.json("issue", &c, &["show", &ids[1]]), shown);
    assert_eq!(listed, list(&t, &a));
    // A chain larger than grit.foldMemory streams too: each link read again and sorted in
    // runs on disk, with the same result.
    t.git(&c, &["config", "grit.foldMemory", "1k"]);
    let streamed = t.json("wal", &c, &["rebuild"]);
    assert_eq!(streamed["snapshot"], from_snapshot["snapshot"]);
    assert!(streamed["batches"].as_u64().unwrap() >= 2, "{streamed}");
    assert_eq!(streamed["events"], from_snapshot["events"]);
    assert_eq!(list(&t, &c), listed);
    assert_eq!(t.json("issue", &c, &["show", &ids[1]]), shown);
}

#[test]
fn snapshots_are_automatic_and_gc_keeps_the_newest() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["config", "grit.snapshotEvery", "3"]);
    // Each snapshot is written in the background; the next write that finds one due waits for
    // nothing, so let each finish before the writes go on.
    let marker = r.join(".git/grit/snapshot.running");
    let settle = || {
        for _ in 0..600 {
            if !marker.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("the background snapshot never ended");
    };
    for n in 0..7 {
        t.create(&r, &format!("i{n}"));
        settle();
    }
    let snaps = t.git(&r, &["for-each-ref", "--format=%(refname)", "refs/grit/snapshots/"]);
    let names: Vec<&str> = snaps.lines().collect();
    assert_eq!(names.len(), 2, "{snaps}");
    assert!(names[0].contains("/0000000003-") && names[1].contains("/0000000006-"));
    let log = std::fs::read_to_string(r.join(".git/grit/snapshot.log")).unwrap_or_default();
    assert!(log.is_empty(), "{log}");
    let gc = t.json("wal", &r, &["gc", "--keep", "1"]);
    assert_eq!(gc["deleted"].as_array().unwrap().len(), 1);
    let left = t.git(&r, &["for-each-ref", "--format=%(refname)", "refs/grit/snapshots/"]);
    assert!(left.trim().contains("/0000000006-"));
    assert_eq!(wal_events(&t, &r), 7, "the WAL is untouched");
}

#[test]
fn sync_without_a_usable_remote_explains_what_to_do() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.cmd("wal", &r)
        .args(["sync"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no remote"))
        .stderr(predicate::str::contains("hint: add one with `git remote add"));
    t.cmd("wal", &r)
        .args(["sync", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no remote named 'nope'"));
}

#[test]
fn an_unreachable_remote_fails_with_a_hint_and_loses_nothing() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(
        &r,
        &[
            "remote",
            "add",
            "origin",
            t.tmp.path().join("gone.git").to_str().unwrap(),
        ],
    );
    let id = t.create(&r, "kept");
    t.cmd("wal", &r)
        .args(["sync"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`git fetch origin` failed"))
        .stderr(predicate::str::contains("hint: is the remote reachable?"));
    t.cmd("lock", &r)
        .args(["acquire", "path:x"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--local"));
    assert_eq!(t.json("issue", &r, &["show", &id])["title"], "kept");
    t.ok("lock", &r, &["acquire", "path:x", "--local"]);
}

/// An edit that loses to a concurrent one is told to its writer, once, at the sync that brings
/// the winner, and `show` marks it until someone writes the field again. An edit made after
/// seeing the other is not a loss and says nothing.
#[test]
fn a_local_edit_overridden_by_a_concurrent_one_is_told_once_and_marked_in_show() {
    let t = TestEnv::new();
    let (_remote, a, b) = t.pair();
    let id = t.create(&a, "first title");
    t.ok("wal", &a, &["sync"]);
    t.ok("wal", &b, &["sync"]);
    // Concurrently: Ann retitles; Bob sets the priority, then retitles (his clock runs ahead).
    t.ok("issue", &a, &["edit", &id, "--title", "Ann's title"]);
    t.ok("issue", &b, &["edit", &id, "--priority", "1"]);
    t.ok("issue", &b, &["edit", &id, "--title", "Bob's title"]);
    t.ok("wal", &b, &["sync"]);
    let out = t.cmd("wal", &a).args(["sync"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("your title on")
            && err.contains("Ann's title")
            && err.contains("Bob's title")
            && err.contains("Bob"),
        "{err}"
    );
    assert_eq!(t.json("issue", &a, &["show", &id])["title"], "Bob's title");
    // Told once.
    let again = t.cmd("issue", &a).args(["list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&again.stderr).contains("overridden"));
    // show marks it, in text and JSON.
    let shown = t.ok("issue", &a, &["show", &id]);
    assert!(
        shown.contains("Overridden: your title (“Ann's title”) lost to Bob"),
        "{shown}"
    );
    let json = t.json("issue", &a, &["show", &id]);
    assert_eq!(json["overridden"][0]["field"], "title", "{json}");
    assert_eq!(json["overridden"][0]["lost"], "Ann's title", "{json}");
    // Redone: the mark goes. Bob, who never lost, was told nothing.
    t.ok("issue", &a, &["edit", &id, "--title", "Ann's title, again"]);
    assert!(!t.ok("issue", &a, &["show", &id]).contains("Overridden"));
    assert!(t.json("issue", &a, &["show", &id]).get("overridden").is_none());
    t.ok("wal", &a, &["sync"]);
    let out = t.cmd("wal", &b).args(["sync"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("overridden"),
        "Bob saw Ann's edit first"
    );
    assert_eq!(t.json("issue", &b, &["show", &id])["title"], "Ann's title, again");
}

/// `show --history` lists every event of an issue, the ones that lost to a concurrent write
/// among them, each with who wrote it and what its signature vouches for; a rebuild from the
/// refs (the bulk fold) gives the same history as the folds one sync at a time.
#[test]
fn the_history_holds_every_event_with_its_signer_and_survives_a_rebuild() {
    let t = TestEnv::new();
    let (_remote, a, b) = t.pair();
    let id = t.create(&a, "first title");
    t.ok("wal", &a, &["sync"]);
    t.ok("wal", &b, &["sync"]);
    t.ok(
        "issue",
        &a,
        &["edit", &id, "--title", "Ann's title", "--add-label", "bug"],
    );
    t.ok("issue", &b, &["edit", &id, "--priority", "1"]);
    t.ok("issue", &b, &["edit", &id, "--title", "Bob's title"]);
    t.ok("issue", &b, &["comment", &id, "--body", "a note\nover two lines"]);
    t.ok("issue", &a, &["edit", &id, "--remove-label", "bug"]);
    t.ok("issue", &a, &["close", &id]);
    t.ok("wal", &b, &["sync"]);
    t.ok("wal", &a, &["sync"]);
    let history = t.json("issue", &a, &["show", &id, "--history"]);
    let steps = history.as_array().unwrap();
    let kinds: Vec<&str> = steps.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    let mut sorted = kinds.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "issue.comment_added",
            "issue.created",
            "issue.label_added",
            "issue.label_removed",
            "issue.priority_set",
            "issue.state_set",
            "issue.title_set",
            "issue.title_set",
        ],
        "{history}"
    );
    assert_eq!(kinds[0], "issue.created", "{history}");
    let what: Vec<&str> = steps.iter().map(|s| s["what"].as_str().unwrap()).collect();
    // The title that lost is in the history as well as the one that stands.
    for want in [
        "opened the issue “first title”",
        "set the title to “Ann's title”",
        "set the title to “Bob's title”",
        "set the priority to P1",
        "added the label bug",
        "removed the label bug",
        "closed the issue",
        "commented",
    ] {
        assert!(what.contains(&want), "{want} missing from {what:?}");
    }
    let comment = steps.iter().find(|s| s["kind"] == "issue.comment_added").unwrap();
    assert_eq!(comment["body"], "a note\nover two lines");
    // Ann's events were signed here; Bob's with the key his published record names.
    for s in steps {
        let by = s["by"].as_str().unwrap();
        let want = if by.starts_with("Ann") { "local" } else { "published" };
        assert!(by.starts_with("Ann") || by.starts_with("Bob"), "{s}");
        assert_eq!(s["signature"], want, "{s}");
        assert_eq!(s["signer"].as_str().unwrap().len(), 64, "{s}");
    }
    // Every event id is one of the issue's events, once.
    let mut ids: Vec<&str> = steps.iter().map(|s| s["event"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), steps.len());
    // They are the events the WAL holds for the issue, read from the refs without the index.
    let log = t.json("wal", &a, &["log", "--issue", &id]);
    let mut logged: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    logged.sort_unstable();
    assert_eq!(ids, logged);
    // Bob's clone, which folded the same events in another order, agrees; so does a rebuild.
    t.ok("wal", &b, &["sync"]);
    assert_eq!(
        t.json("issue", &b, &["show", &id, "--history"])
            .as_array()
            .unwrap()
            .len(),
        8
    );
    t.ok("wal", &a, &["rebuild", "--full"]);
    assert_eq!(t.json("issue", &a, &["show", &id, "--history"]), history);
    // The text form: a line per event, the comment's lines below it.
    let text = t.ok("issue", &a, &["show", &id, "--history"]);
    assert!(text.contains("set the title to “Ann's title”"), "{text}");
    assert!(text.contains("    over two lines"), "{text}");
    assert!(text.contains("[signed here "), "{text}");
    // Without Bob's published record, his events are still his key's, and the history says that
    // no record names it.
    let bob_key = steps
        .iter()
        .find(|s| s["by"].as_str().unwrap().starts_with("Bob"))
        .unwrap()["signer"]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, _) in t.refs(&a, "refs/grit/") {
        if name.contains(&bob_key) && !name.contains("/wal/") {
            t.git(&a, &["update-ref", "-d", &name]);
        }
    }
    t.ok("wal", &a, &["rebuild", "--full"]);
    let unnamed = t.json("issue", &a, &["show", &id, "--history"]);
    for s in unnamed.as_array().unwrap() {
        let want = if s["signer"] == bob_key.as_str() {
            "unnamed"
        } else {
            "local"
        };
        assert_eq!(s["signature"], want, "{unnamed}");
    }
    let text = t.ok("issue", &a, &["show", &id, "--history"]);
    assert!(text.contains("[signed, unnamed key "), "{text}");
}
