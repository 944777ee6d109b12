//! `git wal`: actors, log, rebuild, stats.

use predicates::prelude::*;

use crate::env::TestEnv;

#[test]
fn actors_are_created_listed_used_and_shown() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let made = t.json(
        "wal",
        &r,
        &[
            "actor",
            "new",
            "bot-1",
            "--name",
            "Bot One",
            "--email",
            "bot@example.com",
        ],
    );
    assert_eq!(made["label"], "bot-1");
    assert_eq!(made["current"], false);
    t.cmd("wal", &r)
        .args(["actor", "new", "bot-1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    t.cmd("wal", &r).args(["actor", "new", "bad/label"]).assert().code(2);
    let id = made["id"].as_str().unwrap();
    t.ok("wal", &r, &["actor", "use", &format!("id:{}", &id[..10])]);
    assert_eq!(t.git(&r, &["config", "grit.actor"]).trim(), "bot-1");
    let issue = t.create(&r, "by the bot");
    assert_eq!(t.json("issue", &r, &["show", &issue])["author"]["name"], "Bot One");
    let shown = t.json("wal", &r, &["actor", "show"]);
    assert_eq!(shown["id"], id);
    assert_eq!(shown["current"], true);
    assert!(t.grit_refs(&r).contains(&format!("refs/grit/actors/{id}")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(r.join(".git/grit/actors/bot-1.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "private keys are readable by their owner only");
    }
}

#[test]
fn wal_objects_are_ones_git_reads_and_checks() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "stored");
    t.ok("issue", &r, &["comment", &id, "--body", &"long ".repeat(20_000)]);
    t.ok("lock", &r, &["acquire", "path:src/", "--local"]);
    t.git(&r, &["fsck", "--full", "--strict", "--no-dangling"]);
    let (wal, _) = &t.refs(&r, "refs/grit/wal/")[0];
    let chunk = format!("{wal}:chunk.cbor");
    assert!(t.git(&r, &["cat-file", "-s", &chunk]).trim().parse::<usize>().unwrap() > 100_000);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let blob = t.git(&r, &["rev-parse", &chunk]);
        let path = t.loose_object(&r, blob.trim());
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o444, "loose objects are read-only, as git writes them");
    }
}

#[test]
fn writes_survive_a_background_repack_removing_empty_object_directories() {
    // `git prune-packed`, which a background repack runs, removes the fan-out directories it
    // empties; a write that made its directory just before must make it again, not fail.
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "warm up");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let objects = r.join(".git/objects");
    let pruner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for i in 0..256 {
                    let _ = std::fs::remove_dir(objects.join(format!("{i:02x}")));
                }
            }
        })
    };
    let n = 40;
    for i in 0..n {
        t.create(&r, &format!("written while directories vanish {i}"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    pruner.join().unwrap();
    let listed = t.json("issue", &r, &["list", "--limit", "0"]);
    assert_eq!(listed.as_array().unwrap().len(), n + 1);
    t.git(&r, &["fsck", "--full", "--strict", "--no-dangling"]);
}

#[test]
fn a_loose_ref_vanishing_into_packed_refs_is_not_a_broken_ref() {
    // Background maintenance runs `git pack-refs --all`, which deletes a loose ref file a
    // command may just have listed; the ref lives on in packed-refs.
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "mine");
    t.cmd("issue", &r)
        .env("GRIT_ACTOR", "other")
        .args(["create", "--title", "theirs"])
        .assert()
        .success();
    t.git(&r, &["pack-refs", "--all"]);
    let other = t.refs(&r, "refs/grit/wal/");
    assert_eq!(other.len(), 2);
    // The other actor's ref appears loose and vanishes again, its packed value unchanged.
    let (name, tip) = &other[0];
    let loose = r.join(".git").join(name);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let outputs = std::thread::scope(|s| {
        s.spawn(|| {
            let tmp = r.join(".git/loose-ref.tmp");
            std::fs::create_dir_all(loose.parent().unwrap()).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::fs::write(&tmp, format!("{tip}\n")).unwrap();
                std::fs::rename(&tmp, &loose).unwrap();
                std::thread::sleep(std::time::Duration::from_micros(300));
                std::fs::remove_file(&loose).unwrap();
                std::thread::sleep(std::time::Duration::from_micros(300));
            }
        });
        // Collected, not asserted here: a panic now would leave the toggling thread running.
        let outputs: Vec<_> = (0..150)
            .map(|_| t.std_cmd("issue", &r).args(["list", "--json"]).output().unwrap())
            .collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        outputs
    });
    for out in outputs {
        assert_eq!(String::from_utf8_lossy(&out.stderr), "");
        assert!(out.status.success());
        let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 2);
    }
}

#[test]
fn log_lists_every_event_with_verified_signatures() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "logged");
    t.ok("issue", &r, &["comment", &id, "--body", "c"]);
    let log = t.json("wal", &r, &["log", "--verify"]);
    let kinds: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["issue.comment_added", "issue.created"]);
    assert_eq!(
        log[0]["parents"][0], log[1]["id"],
        "the comment names the creation as its causal parent"
    );
    assert_eq!(
        log[0]["lamport"].as_u64().unwrap(),
        log[1]["lamport"].as_u64().unwrap() + 1
    );
    let only = t.json("wal", &r, &["log", "--issue", &id[..8], "-n", "1"]);
    assert_eq!(only.as_array().unwrap().len(), 1);
}

#[test]
fn stats_and_rebuild_report_counts() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "one");
    t.create(&r, "two");
    t.ok("issue", &r, &["close", &id]);
    let s = t.json("wal", &r, &["stats"]);
    assert_eq!(s["events"], 3);
    assert_eq!(s["issues"], 2);
    assert_eq!(s["actors"], 1);
    assert_eq!(s["refs"], 2);
    assert!(s["index_bytes"].as_u64().unwrap() > 0);
    let rebuilt = t.json("wal", &r, &["rebuild"]);
    assert_eq!(rebuilt["events"], 3);
    assert_eq!(rebuilt["commits"], 3);
    // A quiet success says nothing on stderr.
    t.cmd("wal", &r)
        .args(["rebuild", "--json"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn a_corrupt_chunk_is_reported_as_a_verification_failure() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "fine");
    // Append a commit whose chunk is garbage, as a damaged or hostile clone might.
    let (actor_ref, _) = t.refs(&r, "refs/grit/wal/").remove(0);
    std::fs::write(r.join("chunk.cbor"), b"\xff\xff not cbor").unwrap();
    let blob = t.git(&r, &["hash-object", "-w", "chunk.cbor"]).trim().to_owned();
    let tree = t.git_stdin(&r, &["mktree"], &format!("100644 blob {blob}\tchunk.cbor\n"));
    let parent = t.git(&r, &["rev-parse", &actor_ref]).trim().to_owned();
    let commit = t
        .git(&r, &["commit-tree", tree.trim(), "-p", &parent, "-m", "bad"])
        .trim()
        .to_owned();
    t.git(&r, &["update-ref", &actor_ref, &commit]);
    // It is quarantined, not fatal: named on every command, never applied.
    for _ in 0..2 {
        t.cmd("issue", &r)
            .args(["list"])
            .assert()
            .success()
            .stdout(predicate::str::contains("fine"))
            .stderr(predicate::str::contains(format!(
                "quarantined commit {}",
                &commit[..12]
            )))
            .stderr(predicate::str::contains("not valid CBOR"));
    }
    t.cmd("wal", &r)
        .args(["check"])
        .assert()
        .code(4)
        .stdout(predicate::str::contains(&commit));
}

#[test]
fn a_broken_ref_file_is_skipped_with_a_warning_as_git_does() {
    if crate::env::skip_unless_files_backend("a broken loose ref file") {
        return;
    }
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "still here");
    // A stray empty file among the WAL refs, as a crashed tool or a careless hand leaves.
    std::fs::write(r.join(".git/refs/grit/wal/stray"), b"").unwrap();
    let list = t
        .cmd("issue", &r)
        .args(["list", "--json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("warning: ignoring broken ref"))
        .stderr(predicate::str::contains("refs/grit/wal/stray"))
        .stderr(predicate::str::contains("hint: "));
    let listed: serde_json::Value = serde_json::from_slice(&list.get_output().stdout).unwrap();
    assert_eq!(listed[0]["id"], id.as_str());
    // Writes go on, and the index keeps up with them.
    t.cmd("issue", &r)
        .args(["create", "--title", "after"])
        .assert()
        .success();
    let listed = t.json("issue", &r, &["list"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    // Once the file is moved aside, nothing is said any more.
    std::fs::remove_file(r.join(".git/refs/grit/wal/stray")).unwrap();
    t.cmd("issue", &r).args(["list"]).assert().success().stderr("");
}

#[test]
fn appends_do_not_wait_for_a_packed_refs_lock() {
    // `git pack-refs` and `git fetch` hold packed-refs.lock while they rewrite it; git updates a
    // loose ref without it, and so must an append (a stale one must not stop every writer).
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "before");
    let (wal, _) = t.refs(&r, "refs/grit/wal/").remove(0);
    t.git(&r, &["pack-refs", "--all"]);
    std::fs::write(r.join(".git/packed-refs.lock"), b"").unwrap();
    t.create(&r, "while packed-refs is locked");
    t.cmd("issue", &r)
        .env("GRIT_ACTOR", "other")
        .args(["create", "--title", "a new actor too"])
        .assert()
        .success();
    assert!(
        r.join(".git/packed-refs.lock").exists(),
        "someone else's lock is left alone"
    );
    std::fs::remove_file(r.join(".git/packed-refs.lock")).unwrap();
    let log = t.git(&r, &["log", "--format=%s", &wal]);
    assert_eq!(log.lines().count(), 2, "{log}");
    t.cmd("issue", &r).args(["list"]).assert().success();
    assert_eq!(t.git(&r, &["fsck", "--no-dangling"]), "");
}

#[test]
fn a_ref_lock_left_by_a_crash_is_taken_over_and_nothing_is_lost() {
    if crate::env::skip_unless_files_backend("a loose ref's lock file") {
        return;
    }
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "kept");
    let (name, _) = t.refs(&r, "refs/grit/wal/").remove(0);
    let lock = r.join(".git").join(format!("{name}.lock"));
    // As a writer killed between creating and renaming it leaves it: old, and not moving.
    std::fs::write(&lock, b"").unwrap();
    age(&lock, 60);
    t.cmd("wal", &r)
        .args(["doctor", "--json"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("stale-lock"));
    t.create(&r, "after");
    assert!(!lock.exists(), "taken over");
    let listed = t.json("issue", &r, &["list"]);
    assert_eq!(crate::env::titles(&listed), ["after", "kept"]);
    assert_eq!(listed[1]["id"], id.as_str());
}

/// Sets a file's modification time `secs` seconds into the past.
pub fn age(path: &std::path::Path, secs: u64) {
    let when = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

#[test]
fn appends_pack_loose_objects_in_the_background_past_grit_auto_pack() {
    let t = TestEnv::new();
    let r = t.repo("r");
    // The estimate samples one fan-out directory, objects/17, as git's does: seed it.
    let seeded = t.git_stdin(&r, &["hash-object", "-w", "--stdin"], "seed 40\n");
    assert!(seeded.starts_with("17"), "{seeded}");
    t.git(&r, &["config", "grit.autoPack", "1"]);
    let id = t.create(&r, "packed soon");
    let marker = r.join(".git/grit/repack.running");
    let in_pack = || {
        let counts = t.git(&r, &["count-objects", "-v"]);
        counts
            .lines()
            .find_map(|l| l.strip_prefix("in-pack: "))
            .map_or(0, |n| n.trim().parse::<u64>().unwrap())
    };
    // The repack runs detached from the command; wait for it to finish.
    for _ in 0..600 {
        if !marker.exists() && in_pack() > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!marker.exists(), "the repack marker is removed when the repack ends");
    assert!(in_pack() >= 3, "the append's commit, tree and chunk are packed");
    let (_, wal) = &t.refs(&r, "refs/grit/wal/")[0];
    assert!(!t.loose_object(&r, wal).exists(), "the WAL commit is no longer loose");
    // Nothing was lost on the way.
    t.cmd("wal", &r).args(["rebuild"]).assert().success();
    assert_eq!(t.json("issue", &r, &["show", &id])["title"], "packed soon");
}

#[test]
fn a_label_that_looks_like_hex_is_a_label_never_another_actors_id() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let first = t.json("wal", &r, &["actor", "new", "first"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Labels that are prefixes of that id, as agents numbered in hex might be called.
    for label in [&first[..4], &first[..7], &first[..12]] {
        let made = t
            .cmd("issue", &r)
            .env("GRIT_ACTOR", label)
            .args(["create", "--title", label, "--json"])
            .output()
            .unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let shown: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
        assert_ne!(shown["author"]["id"], first.as_str(), "{label} wrote as another actor");
        let me = t
            .cmd("wal", &r)
            .env("GRIT_ACTOR", label)
            .args(["actor", "show", "--json"])
            .output()
            .unwrap();
        let me: serde_json::Value = serde_json::from_slice(&me.stdout).unwrap();
        assert_eq!(me["label"], label);
    }
    // An id is accepted in full, or as a prefix written id:<prefix>.
    for query in [first.clone(), format!("id:{}", &first[..8])] {
        let shown = t.json("wal", &r, &["actor", "show", &query]);
        assert_eq!(shown["label"], "first");
    }
    t.cmd("wal", &r).args(["actor", "show", &first[..8]]).assert().code(2);
}

#[test]
fn log_names_the_author_takes_a_format_and_heads_its_columns_on_a_terminal() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "first");
    t.cmd("issue", &r)
        .env("GRIT_ACTOR", "agent-1")
        .args(["comment", &id, "--body", "seen"])
        .assert()
        .success();
    let plain = t.ok("wal", &r, &["log"]);
    assert!(
        plain.contains("Ann Example (agent-1)") && plain.contains("Ann Example (default)"),
        "{plain}"
    );
    assert!(!plain.contains("EVENT"), "no header when piped:\n{plain}");
    let formatted = t.ok("wal", &r, &["log", "--format", "{issue} {author}: {kind} {summary}"]);
    assert_eq!(
        formatted,
        format!(
            "{0} Ann Example (agent-1): issue.comment_added seen\n{0} Ann Example (default): issue.created first\n",
            &id[..7]
        )
    );
    t.cmd("wal", &r)
        .args(["log", "--format", "{title}"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("{summary}"));
    if std::path::Path::new("/usr/bin/script").exists() {
        let out = t
            .wrapped("script", &r)
            .args([
                "-qec",
                &format!("{} log --color never", crate::env::exe("wal")),
                "/dev/null",
            ])
            .output()
            .unwrap();
        let screen = String::from_utf8_lossy(&out.stdout);
        assert!(screen.contains("EVENT") && screen.contains("AUTHOR"), "{screen}");
    } else {
        eprintln!("skipped the terminal part: no `script` to give the command a terminal");
    }
}
