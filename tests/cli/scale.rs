//! Many actors: pushes by pattern whatever the number of refs, hooks that cost one run per
//! transaction at most, and refusing ref formats grit cannot write.

use std::path::Path;

use crate::env::TestEnv;

fn many_actors(dir: &Path, n: usize) {
    grit::fixtures::many_actors(dir, n).unwrap();
}

fn hook_runs(t: &TestEnv, dir: &Path, args: &[&str]) -> Vec<String> {
    let log = t.tmp.path().join("hook-runs.log");
    let _ = std::fs::remove_file(&log);
    let (ok, _, err) = t.git_env(dir, args, &[("GRIT_HOOK_LOG", log.to_str().unwrap())]);
    assert!(ok, "git {args:?}: {err}");
    std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The WAL refs of `dir` that track origin's.
fn tracking_wal(t: &TestEnv, dir: &Path) -> Vec<(String, String)> {
    t.refs(dir, "refs/grit/remotes/origin/wal/")
}

/// The WAL refs of `dir` (a clone or a remote), named as a clone of it tracks them.
fn as_tracked(t: &TestEnv, dir: &Path) -> Vec<(String, String)> {
    t.refs(dir, "refs/grit/wal/")
        .into_iter()
        .map(|(n, id)| (n.replace("refs/grit/wal/", "refs/grit/remotes/origin/wal/"), id))
        .collect()
}

/// How many tracking WAL refs of `dir` are loose files.
fn loose_tracking(dir: &Path) -> usize {
    std::fs::read_dir(dir.join(".git/refs/grit/remotes/origin/wal")).map_or(0, |d| d.count())
}

#[test]
fn two_thousand_actors_push_clone_fetch_and_gc_with_the_hooks_on() {
    let t = TestEnv::new();
    let remote = t.remote();
    let a = t.clone(&remote, "a", "Ann", "ann");
    t.ok("wal", &a, &["init"]);
    many_actors(&a, 2000);
    t.ok("wal", &a, &["push"]);
    assert_eq!(t.refs(&remote, "refs/grit/wal/").len(), 2000);
    assert_eq!(t.refs(&remote, "refs/grit/actors/").len(), 2001, "and Ann's own");
    // The tracking refs say what the remote now has; a push this large writes them into
    // packed-refs at once, not as a loose file per ref.
    assert_eq!(tracking_wal(&t, &a), as_tracked(&t, &a));
    if crate::env::ref_format().as_deref() != Some("reftable") {
        assert_eq!(
            loose_tracking(&a),
            0,
            "the tracking refs went straight into packed-refs"
        );
    }
    let again = t.json("wal", &a, &["push"]);
    assert_eq!(again["refs"], serde_json::json!([]), "nothing left to push");
    // A fresh clone: init fetches everything once, with the hooks quiet, then the index folds once.
    let b = t.clone(&remote, "b", "Bob", "bob");
    let init = t.json("wal", &b, &["init"]);
    assert!(init["remotes"][0]["fetched_refs"].as_u64().unwrap() >= 4000, "{init}");
    // A first fetch of many refs writes no loose file: the commits are fetched by id and the
    // tracking refs added to packed-refs in one write, beside what `git clone` packed.
    // (A reftable clone has neither: git writes the refs as one table.)
    if crate::env::ref_format().as_deref() != Some("reftable") {
        assert_eq!(loose_tracking(&b), 0, "the fetched refs went straight into packed-refs");
        let packed = std::fs::read_to_string(b.join(".git/packed-refs")).unwrap();
        assert!(
            packed.contains(" refs/remotes/origin/main\n"),
            "the clone's own packed refs are kept"
        );
    }
    assert_eq!(tracking_wal(&t, &b), as_tracked(&t, &remote));
    t.git(&b, &["fsck", "--connectivity-only", "--no-dangling"]);
    assert!(hook_runs(&t, &b, &["fetch", "-q"]).is_empty(), "nothing new, no fold");
    assert_eq!(
        t.json("issue", &b, &["list", "--limit", "0"]).as_array().unwrap().len(),
        2000
    );
    // gc packs the refs in one transaction (which looks like creations: the packed-refs file has
    // no old values), then deletes each loose copy: grit's hook starts once at most, not per ref.
    assert!(hook_runs(&t, &b, &["gc", "-q"]).len() <= 1);
    assert!(hook_runs(&t, &b, &["pack-refs", "--all"]).len() <= 1);
    // New events from a few actors arrive by a plain fetch: folded, once per transaction.
    t.create(&a, "one more");
    t.ok("wal", &a, &["push"]);
    let runs = hook_runs(&t, &b, &["fetch", "-q"]);
    assert!(!runs.is_empty() && runs.len() <= 2, "{runs:?}");
    assert_eq!(
        t.json("issue", &b, &["list", "--limit", "0"]).as_array().unwrap().len(),
        2001
    );
}

#[test]
fn a_push_of_more_refs_than_fit_in_an_argument_list_goes_by_pattern() {
    let t = TestEnv::new();
    let remote = t.remote();
    let a = t.clone(&remote, "a", "Ann", "ann");
    t.ok("wal", &a, &["init"]);
    t.create(&a, "real");
    empty_wal_refs(&t, &a, 0, 4_000);
    // An argument list of 128 KiB (a quarter of a 512 KiB stack) holds about a thousand
    // explicit refspecs of ours; the push must not need one per ref.
    let out = t
        .wrapped("sh", &a)
        .args(["-c", &format!("ulimit -s 512 && exec {} push", crate::env::exe("wal"))])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(t.refs(&remote, "refs/grit/wal/").len(), 4_001);
    assert_eq!(
        t.refs(&a, "refs/grit/remotes/origin/wal/").len(),
        4_001,
        "tracking refs follow"
    );
}

/// `n` WAL refs named from `from`, each on a commit that carries no chunk (as a union merge does).
fn empty_wal_refs(t: &TestEnv, dir: &Path, from: u32, n: u32) {
    let empty = t.git_stdin(dir, &["mktree"], "").trim().to_owned();
    let commit = t
        .git(dir, &["commit-tree", &empty, "-m", "grit: union of diverged histories"])
        .trim()
        .to_owned();
    let mut script = String::new();
    for i in from..from + n {
        let hex = grit::hex::encode(&grit::event::blake2b256(&i.to_be_bytes()));
        script.push_str(&format!("create refs/grit/wal/{hex} {commit}\n"));
    }
    t.git_stdin(dir, &["update-ref", "--stdin"], &script);
}

#[test]
fn a_large_push_goes_where_the_remotes_push_urls_say() {
    let t = TestEnv::new();
    let remote = t.remote();
    let a = t.clone(&remote, "a", "Ann", "ann");
    t.ok("wal", &a, &["init"]);
    // A push this large goes to the remote's push URL rather than its name (so that git writes
    // no loose tracking ref per ref): a `pushurl` is still where it goes.
    let mirror = t.tmp.path().join("mirror.git");
    t.git(
        t.tmp.path(),
        &[
            "clone",
            "-q",
            "--bare",
            remote.to_str().unwrap(),
            mirror.to_str().unwrap(),
        ],
    );
    t.git(&a, &["config", "remote.origin.pushurl", mirror.to_str().unwrap()]);
    empty_wal_refs(&t, &a, 0, 400);
    t.ok("wal", &a, &["push"]);
    assert_eq!(t.refs(&mirror, "refs/grit/wal/").len(), 400);
    assert!(
        t.refs(&remote, "refs/grit/").is_empty(),
        "the fetch URL is not pushed to"
    );
    assert_eq!(t.refs(&a, "refs/grit/remotes/origin/wal/").len(), 400);
    // Two push URLs: git pushes to each, by the remote's name.
    t.git(
        &a,
        &["config", "--add", "remote.origin.pushurl", remote.to_str().unwrap()],
    );
    empty_wal_refs(&t, &a, 400, 400);
    t.ok("wal", &a, &["push"]);
    assert_eq!(t.refs(&mirror, "refs/grit/wal/").len(), 800);
    assert_eq!(t.refs(&remote, "refs/grit/wal/").len(), 800);
    assert_eq!(t.refs(&a, "refs/grit/remotes/origin/wal/").len(), 800);
}

#[test]
fn a_partial_push_names_its_commits_in_batches() {
    let t = TestEnv::new();
    let remote = t.remote();
    let a = t.clone(&remote, "a", "Ann", "ann");
    t.ok("wal", &a, &["init"]);
    let id = t.create(&a, "shared");
    for agent in 0..5 {
        t.cmd("issue", &a)
            .env("GRIT_ACTOR", format!("agent-{agent}"))
            .args(["comment", &id, "--body", "me too"])
            .assert()
            .success();
    }
    t.cmd("wal", &a)
        .env("GRIT_PUSH_BATCH", "2")
        .args(["push", "--issue", &id])
        .assert()
        .success();
    assert_eq!(t.refs(&remote, "refs/grit/wal/").len(), 6);
}

/// In a reftable repository every ref goes through git's own tables: git sees the events, so
/// `git gc --prune=now` keeps them and the index can be rebuilt from them; sync works both ways.
#[test]
fn a_reftable_repository_keeps_every_ref_where_git_sees_it() {
    let t = TestEnv::new();
    let make = |name: &str, bare: bool| {
        let dir = t.tmp.path().join(name);
        let mut args = vec!["init", "-q", "--ref-format=reftable", "-b", "main"];
        if bare {
            args.push("--bare");
        }
        args.push(dir.to_str().unwrap());
        let (ok, _, err) = t.git_env(t.tmp.path(), &args, &[]);
        (ok, dir, err)
    };
    let (ok, remote, err) = make("remote.git", true);
    if !ok {
        eprintln!("skipped: this git cannot make reftable repositories: {err}");
        return;
    }
    let (_, a, _) = make("a", false);
    t.git(&a, &["config", "user.name", "Ann"]);
    t.git(&a, &["config", "user.email", "ann@example.com"]);
    t.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    t.ok("wal", &a, &["init"]);
    let id = t.create(&a, "kept by git");
    t.ok("issue", &a, &["comment", &id, "--body", "and this"]);
    t.ok("lock", &a, &["acquire", "--local", "path:src/"]);
    assert!(!a.join(".git/refs/grit").exists(), "no loose files beside the tables");
    assert_eq!(t.refs(&a, "refs/grit/wal/").len(), 1, "git lists the WAL ref");
    t.git(&a, &["gc", "-q", "--prune=now"]);
    let rebuilt = t.json("wal", &a, &["rebuild", "--full"]);
    assert_eq!(rebuilt["events"], 2, "{rebuilt}");
    assert_eq!(
        t.json("issue", &a, &["show", &id])["comments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    t.ok("wal", &a, &["sync"]);
    assert_eq!(t.refs(&remote, "refs/grit/wal/").len(), 1);
    // A second reftable clone gets it all through a plain fetch with the hooks installed.
    let (_, b, _) = make("b", false);
    t.git(&b, &["config", "user.name", "Bob"]);
    t.git(&b, &["config", "user.email", "bob@example.com"]);
    t.git(&b, &["remote", "add", "origin", remote.to_str().unwrap()]);
    t.ok("wal", &b, &["init"]);
    t.create(&a, "second");
    t.ok("wal", &a, &["push"]);
    t.git(&b, &["fetch", "-q"]);
    let mut titles = crate::env::titles(&t.json("issue", &b, &["list"]));
    titles.sort();
    assert_eq!(titles, ["kept by git", "second"]);
    t.ok("wal", &b, &["check"]);
}

/// A ref format grit does not know is refused before anything is read or written.
#[test]
fn an_unknown_ref_format_is_refused_with_a_clear_error_and_nothing_written() {
    let t = TestEnv::new();
    let dir = t.repo("odd");
    t.git(&dir, &["config", "core.repositoryformatversion", "1"]);
    t.git(&dir, &["config", "extensions.refStorage", "someday"]);
    for (tool, args) in [
        ("issue", &["create", "--title", "x"][..]),
        ("issue", &["list"]),
        ("wal", &["init"]),
    ] {
        t.cmd(tool, &dir)
            .args(args)
            .assert()
            .code(1)
            .stderr(predicates::str::contains("stores its refs as 'someday'"))
            .stderr(predicates::str::contains("hint: "));
    }
    assert!(!dir.join(".git/grit").exists(), "nothing written");
}

/// Commands skip listing refs when a cheap stamp of them (packed-refs' identity, the loose refs'
/// names and values) is what the last fold saw. Every way a ref can move under the index must
/// change that stamp: a plain fetch without hooks, `pack-refs` moving the new value into
/// `packed-refs`, a ref rewritten in place by `update-ref`, and another writer of the same
/// clone appending between two commands of this one.
#[test]
fn every_way_refs_move_under_the_index_is_folded() {
    let t = TestEnv::new();
    let (_remote, a, b) = t.pair();
    let count = |dir: &Path| {
        t.json("issue", dir, &["list", "--limit", "0"])
            .as_array()
            .unwrap()
            .len()
    };
    t.create(&a, "one");
    t.ok("wal", &a, &["sync"]);
    t.ok("wal", &b, &["sync"]);
    assert_eq!(count(&b), 1);
    // A fetch with no hooks at all: loose tracking refs move.
    t.create(&a, "two");
    t.ok("wal", &a, &["push"]);
    t.git(&b, &["-c", "core.hooksPath=/dev/null", "fetch", "-q"]);
    assert_eq!(count(&b), 2);
    // The same, then packed at once: only packed-refs changed since the last command.
    t.create(&a, "three");
    t.ok("wal", &a, &["push"]);
    t.git(&b, &["-c", "core.hooksPath=/dev/null", "pack-refs", "--all"]);
    assert_eq!(count(&b), 2, "not fetched yet");
    t.git(&b, &["-c", "core.hooksPath=/dev/null", "fetch", "-q"]);
    t.git(&b, &["-c", "core.hooksPath=/dev/null", "pack-refs", "--all"]);
    assert_eq!(count(&b), 3);
    // A loose ref rewritten in place to a new value, the same size, within the same tick: the
    // index follows the value, whatever the file's times say.
    t.create(&a, "four");
    t.ok("wal", &a, &["push"]);
    t.git(
        &b,
        &[
            "-c",
            "core.hooksPath=/dev/null",
            "fetch",
            "-q",
            "origin",
            "+refs/grit/wal/*:refs/scratch/*",
        ],
    );
    for (name, tip) in t.refs(&b, "refs/scratch/") {
        let tracking = name.replace("refs/scratch/", "refs/grit/remotes/origin/wal/");
        t.git(&b, &["-c", "core.hooksPath=/dev/null", "update-ref", &tracking, &tip]);
    }
    assert_eq!(count(&b), 4);
    // Another actor of this clone writes between two commands of the first.
    t.create(&b, "five");
    t.cmd("issue", &b)
        .env("GRIT_ACTOR", "helper")
        .args(["create", "--title", "six"])
        .assert()
        .success();
    t.create(&b, "seven");
    assert_eq!(count(&b), 7);
    assert!(t.ok("wal", &b, &["check"]).contains("clean"));
}

/// Hundreds of agents writing in one clone leave a loose WAL ref and a loose actor ref each: past
/// 256 in a namespace, the next write packs them in the background, as it does lock refs.
#[test]
fn many_loose_wal_and_actor_refs_are_packed_in_the_background() {
    if crate::env::skip_unless_files_backend("packing loose refs") {
        return;
    }
    let t = TestEnv::new();
    let r = t.repo("r");
    many_actors(&r, 300);
    let loose = |ns: &str| std::fs::read_dir(r.join(".git/refs/grit").join(ns)).map_or(0, |d| d.count());
    assert_eq!(loose("wal"), 300);
    t.create(&r, "the write that notices");
    let marker = r.join(".git/grit/repack.running");
    for _ in 0..600 {
        if !marker.exists() && loose("wal") < 256 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        loose("wal") < 256 && loose("actors") < 256,
        "{} {}",
        loose("wal"),
        loose("actors")
    );
    assert_eq!(t.refs(&r, "refs/grit/wal/").len(), 301, "nothing lost");
    assert_eq!(
        t.json("issue", &r, &["list", "--limit", "0"]).as_array().unwrap().len(),
        301
    );
}

/// A rebuild in little memory (`grit.foldMemory`) sorts on disk: the events it has read go to
/// a run each time they pass the budget, and so do the records of the tables, and it commits
/// as it writes. The index it builds is the same as one built with every event in memory.
#[test]
fn a_rebuild_in_little_memory_gives_the_same_index() {
    let t = TestEnv::new();
    let r = t.repo("r");
    many_actors(&r, 150);
    let ids: Vec<String> = t
        .json("issue", &r, &["list", "--limit", "0"])
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    // Later history on early issues, from another actor: what a streaming fold must merge into
    // states it has already written.
    for (n, id) in ids.iter().take(12).enumerate() {
        t.ok(
            "issue",
            &r,
            &["comment", id, "--body", &format!("connection reset {n}")],
        );
        t.ok("issue", &r, &["edit", id, "--add-label", "bug", "--priority", "1"]);
        if n % 3 == 0 {
            t.ok("issue", &r, &["close", id]);
        }
        if n % 4 == 1 {
            t.ok("issue", &r, &["edit", id, "--add-blocked-by", &ids[n + 20]]);
        }
    }
    let index = || {
        [
            t.json("issue", &r, &["list", "--state", "all", "--limit", "0"]),
            t.json("issue", &r, &["ready", "--limit", "0"]),
            t.json("issue", &r, &["blocked"]),
            t.json(
                "issue",
                &r,
                &["list", "-S", "\"connection reset\" label:bug", "--limit", "0"],
            ),
            t.json("issue", &r, &["show", &ids[1]]),
        ]
    };
    let whole = t.json("wal", &r, &["rebuild", "--full"]);
    let expected = index();
    t.git(&r, &["config", "grit.foldMemory", "4k"]);
    let streamed = t.json("wal", &r, &["rebuild", "--full"]);
    assert_eq!(streamed["events"], whole["events"], "{streamed}");
    assert_eq!(whole["batches"], 1, "{whole}");
    assert!(streamed["batches"].as_u64().unwrap() > 10, "{streamed}");
    assert_eq!(index(), expected);
    t.ok("wal", &r, &["check"]);
}

/// A fold in little memory commits batch by batch, and marks the index incomplete until its last
/// commit. A command meanwhile waits for it rather than read half an index; a fold that died
/// half way is done again from nothing by the next command.
#[test]
fn half_a_fold_is_never_read_and_a_dead_one_is_done_again() {
    let t = TestEnv::new();
    let r = t.repo("r");
    many_actors(&r, 120);
    let count = || t.json("issue", &r, &["list", "--limit", "0"]).as_array().unwrap().len();
    assert_eq!(count(), 120);
    t.git(&r, &["config", "grit.foldMemory", "4k"]);
    // Dies after its first batch: the next command finds the mark and folds everything again.
    let out = t
        .wrapped(&crate::env::exe("wal"), &r)
        .args(["rebuild", "--full"])
        .env("GRIT_TEST_FAIL", "fold-exit-after-batch")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(137), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(count(), 120, "no half index is read after a crash");
    assert!(t.ok("wal", &r, &["check"]).contains("clean"));
    // Pauses after its first batch: a command started meanwhile waits and reads it whole.
    let lock = r.join(".git/grit/index/fold.lock");
    let mut rebuild = t
        .wrapped(&crate::env::exe("wal"), &r)
        .args(["rebuild", "--full"])
        .env("GRIT_TEST_FAIL", "fold-pause-after-batch")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..400 {
        if lock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(lock.exists(), "the rebuild reached its first batch");
    assert_eq!(count(), 120, "a command during the fold waits for it");
    assert!(rebuild.wait().unwrap().success());
    assert_eq!(count(), 120);
}

/// A reftable stack's lock left by a git that died stops every write of a ref (git waits, then
/// fails): doctor names it, and `--fix` removes it if it is still the same stale file.
#[test]
fn a_stale_reftable_lock_is_found_and_fixed_by_doctor() {
    let t = TestEnv::new();
    let r = t.tmp.path().join("r");
    let (ok, _, err) = t.git_env(
        t.tmp.path(),
        &["init", "-q", "--ref-format=reftable", "-b", "main", r.to_str().unwrap()],
        &[],
    );
    if !ok {
        eprintln!("skipped: this git cannot make reftable repositories: {err}");
        return;
    }
    t.git(&r, &["config", "user.name", "Ann"]);
    t.git(&r, &["config", "user.email", "ann@example.com"]);
    t.create(&r, "before");
    let lock = r.join(".git/reftable/tables.list.lock");
    std::fs::write(&lock, b"").unwrap();
    crate::wal::age(&lock, 60);
    let report = t
        .cmd("wal", &r)
        .args(["doctor", "--json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report = String::from_utf8_lossy(&report);
    assert!(
        report.contains("stale-lock") && report.contains("tables.list.lock"),
        "{report}"
    );
    t.cmd("wal", &r).args(["doctor", "--fix"]).assert().success();
    assert!(!lock.exists());
    t.create(&r, "after");
    assert_eq!(crate::env::titles(&t.json("issue", &r, &["list"])), ["after", "before"]);
}

/// The titles `issue list` shows in `dir`, sorted.
fn titles_in(t: &TestEnv, dir: &Path) -> Vec<String> {
    let mut out = crate::env::titles(&t.json("issue", dir, &["list", "--state", "all"]));
    out.sort();
    out
}

/// `git wal retire`, run as if `days` days had passed since the tests' pinned clock.
fn retire_later(t: &TestEnv, dir: &Path, days: u64, args: &[&str]) -> serde_json::Value {
    let now = crate::env::NOW.parse::<u64>().unwrap() * 1000;
    let later = (now + days * 86_400_000).to_string();
    let out = t
        .cmd("wal", dir)
        .args(["retire", "--json"])
        .args(args)
        .env("GRIT_NOW", &later)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_cold_actor_is_retired_from_every_advertisement_and_no_event_is_lost() {
    let t = TestEnv::new();
    let (remote, a, b) = t.pair();
    let ann = t.json("wal", &a, &["actor", "show"])["id"].as_str().unwrap().to_owned();
    let bob = t.json("wal", &b, &["actor", "show"])["id"].as_str().unwrap().to_owned();
    let bob_ref = format!("refs/grit/wal/{bob}");
    let bugs = t.create(&b, "bob's bug");
    t.create(&b, "bob's idea");
    t.ok("issue", &b, &["comment", &bugs, "--body", "seen on main"]);
    t.ok("wal", &b, &["sync"]);
    t.create(&a, "ann's task");
    t.ok("wal", &a, &["sync"]);
    // Cy and Bob trust Ann's snapshots (the team's snapshot writer); Dee, below, does not.
    let c = t.clone(&remote, "c", "Cy", "cy");
    t.ok("wal", &c, &["init"]);
    for dir in [&b, &c] {
        t.git(dir, &["config", "grit.snapshotSigners", &ann]);
        t.ok("wal", dir, &["sync"]);
    }
    assert!(t.refs(&c, &bob_ref).len() == 1);
    let all = titles_in(&t, &a);
    assert_eq!(all.len(), 3);

    // Nobody is silent for 30 days yet; in 40, Bob is (Ann, who retires, never is).
    assert!(
        retire_later(&t, &a, 0, &["--older-than", "30d"])["retired"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let dry = retire_later(&t, &a, 40, &["--older-than", "30d", "--dry-run"]);
    assert_eq!(dry["retired"][0]["actor"], bob.as_str());
    assert_eq!(dry["retired"].as_array().unwrap().len(), 1);
    assert_eq!(t.refs(&remote, &bob_ref).len(), 1, "a dry run changes nothing");

    let done = retire_later(&t, &a, 40, &["--older-than", "30d"]);
    assert_eq!(done["retired"][0]["remote"], "deleted", "{done}");
    assert_eq!(done["local_refs_deleted"], 2, "the local and the tracking copy: {done}");
    let link = done["snapshot"].as_str().unwrap().to_owned();
    assert!(t.refs(&remote, &bob_ref).is_empty(), "gone from the advertisement");
    assert_eq!(
        t.refs(&remote, &link).len(),
        1,
        "the link that retired it went up first"
    );
    assert!(t.refs(&a, &bob_ref).is_empty() && t.refs(&a, "refs/grit/remotes/origin/wal/").len() == 1);
    // The link names Bob's chain and keeps it reachable: its tip is a parent of the link.
    let tip = done["retired"][0]["tip"].as_str().unwrap();
    assert!(t.git(&a, &["rev-parse", &format!("{link}^@")]).contains(tip));
    t.git(&remote, &["gc", "-q", "--prune=now"]);
    assert_eq!(titles_in(&t, &a), all);
    assert_eq!(
        t.json("wal", &a, &["rebuild", "--full"])["events"],
        4,
        "a replay reads the retired chain"
    );
    assert_eq!(titles_in(&t, &a), all);

    // A clone that trusts the link deletes its copies, and never pushes them back.
    let synced = t.json("wal", &c, &["sync"]);
    assert_eq!(
        synced["retired_refs_deleted"], 1,
        "the local copy (the fetch pruned the tracking one): {synced}"
    );
    assert!(t.refs(&c, &bob_ref).is_empty());
    assert!(t.refs(&remote, &bob_ref).is_empty());
    assert_eq!(titles_in(&t, &c), all);
    // Bob's own clone keeps his ref (he may write again), but does not push it back unmoved.
    t.ok("wal", &b, &["sync"]);
    assert_eq!(t.refs(&b, &bob_ref).len(), 1);
    assert!(t.refs(&remote, &bob_ref).is_empty());

    // A fresh clone that trusts no one reads the retired chain through the link, checking it.
    let d = t.clone(&remote, "d", "Dee", "dee");
    t.ok("wal", &d, &["init"]);
    t.git(&d, &["fetch", "-q"]);
    assert!(
        t.refs(&d, "refs/grit/remotes/origin/wal/")
            .iter()
            .all(|(n, _)| !n.ends_with(&bob))
    );
    assert_eq!(titles_in(&t, &d), all);
    assert_eq!(t.json("wal", &d, &["rebuild", "--full"])["events"], 4);
    assert_eq!(
        t.json("issue", &d, &["show", &bugs])["comments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // check and verify read the retired chain too: the link's events are all in the log.
    for what in ["check", "verify"] {
        let report = t.json("wal", &d, &[what]);
        assert_eq!(report["events"], 4, "{what}: {report}");
        assert!(report["findings"].as_array().unwrap().is_empty(), "{what}: {report}");
    }

    // Bob comes back: his ref returns with its whole history, and everyone follows.
    t.create(&b, "bob is back");
    t.ok("wal", &b, &["sync"]);
    assert_eq!(t.refs(&remote, &bob_ref).len(), 1);
    for dir in [&c, &d] {
        t.ok("wal", dir, &["sync"]);
        assert_eq!(titles_in(&t, dir).len(), 4);
        assert_eq!(t.refs(dir, &bob_ref).len(), 1, "a ref that moved stays");
    }
}

#[test]
fn a_retirement_by_an_untrusted_signer_deletes_nothing_anywhere_else_and_is_undone() {
    let t = TestEnv::new();
    let (remote, a, b) = t.pair();
    t.create(&a, "ann's task");
    t.ok("wal", &a, &["sync"]);
    t.create(&b, "bob's bug");
    t.ok("wal", &b, &["sync"]);
    t.ok("wal", &a, &["sync"]);
    let ann = t.json("wal", &a, &["actor", "show"])["id"].as_str().unwrap().to_owned();
    let ann_ref = format!("refs/grit/wal/{ann}");
    // Bob retires Ann: git lets anyone who may push delete a ref on the remote.
    let done = retire_later(&t, &b, 40, &["--older-than", "30d"]);
    assert_eq!(done["retired"][0]["actor"], ann.as_str());
    assert!(t.refs(&remote, &ann_ref).is_empty());
    // Ann's clone does not trust Bob's snapshots: it keeps every copy and pushes its ref back.
    let synced = t.json("wal", &a, &["sync"]);
    assert_eq!(synced["retired_refs_deleted"], 0);
    assert_eq!(t.refs(&remote, &ann_ref).len(), 1, "the next sync undid it");
    // Bob trusts his own link: his clone drops the copy again, and still has Ann's events.
    t.ok("wal", &b, &["sync"]);
    assert!(t.refs(&b, &ann_ref).is_empty());
    assert_eq!(t.refs(&remote, &ann_ref).len(), 1, "and leaves the remote's alone");
    let mut all = crate::env::titles(&t.json("issue", &b, &["list"]));
    all.sort();
    assert_eq!(all, ["ann's task", "bob's bug"]);
}

/// A link naming the wrong actor for a retired chain (a forgery, walked first) cannot take that
/// chain's commits: a fresh clone still reads them under the link that names their owner.
#[test]
fn a_forged_retirement_naming_the_wrong_actor_costs_no_event() {
    let t = TestEnv::new();
    let (remote, a, b) = t.pair();
    let bob = t.json("wal", &b, &["actor", "show"])["id"].as_str().unwrap().to_owned();
    t.create(&b, "bob's bug");
    t.ok("wal", &b, &["sync"]);
    t.create(&a, "ann's task");
    t.ok("wal", &a, &["sync"]);
    let done = retire_later(&t, &a, 40, &["--older-than", "30d"]);
    let tip = done["retired"][0]["tip"].as_str().unwrap().to_owned();
    // Mallory's link says Bob's chain is Ann's, and sorts before every real snapshot.
    let ann = grit::event::ActorId::from_hex(t.json("wal", &a, &["actor", "show"])["id"].as_str().unwrap()).unwrap();
    let mallory = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let tip_id = gix::ObjectId::from_hex(tip.as_bytes()).unwrap();
    let bytes = grit::snapshot::encode_link(&mallory, None, &[], &[(ann, tip_id)], &[]);
    let forged = t.commit_one_file(
        &remote,
        "snapshot.cbor",
        &bytes,
        &[&tip],
        "grit: snapshot of 0 events (0 new), retiring 1 actors",
    );
    t.git(
        &remote,
        &["update-ref", "refs/grit/snapshots/9999999999-forged", &forged],
    );
    let d = t.clone(&remote, "d", "Dee", "dee");
    t.ok("wal", &d, &["init"]);
    t.git(&d, &["fetch", "-q"]);
    assert_eq!(titles_in(&t, &d), ["ann's task", "bob's bug"]);
    assert_eq!(t.json("wal", &d, &["rebuild", "--full"])["events"], 2);
    assert_eq!(titles_in(&t, &d), ["ann's task", "bob's bug"]);
    assert!(t.refs(&d, &format!("refs/grit/wal/{bob}")).is_empty());
    let check = t.json("wal", &d, &["check"]);
    assert!(check["findings"].as_array().unwrap().is_empty(), "{check}");
}
