//! Trust under attack and crashes: what strangers push through a remote (forged, misplaced,
//! out-of-bounds events, lying snapshots, escape sequences), what crashes leave (damaged
//! indexes, stale locks, unpublished records), and the health commands that show it.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use grit::event::{ActorId, Event, FORMAT_VERSION, Id, Kind, SignedEvent};
use predicates::prelude::*;
use serde_json::Value;

use crate::env::TestEnv;

/// The key the test seed gives the actor labelled `label` (as `GRIT_TEST_SEED` does).
fn key_of(label: &str) -> SigningKey {
    SigningKey::from_bytes(&grit::event::blake2b256(
        format!("grit test key\0grit-tests\0{label}").as_bytes(),
    ))
}

fn actor_of(key: &SigningKey) -> ActorId {
    ActorId(key.verifying_key().to_bytes())
}

fn event(key: &SigningKey, entity: Option<Id>, lamport: u64, kind: Kind) -> SignedEvent {
    Event {
        version: FORMAT_VERSION,
        entity,
        actor: actor_of(key),
        lamport,
        wall_ms: 1_763_700_000_000,
        parents: vec![],
        kind,
    }
    .sign(key)
}

fn created(title: &str) -> Kind {
    Kind::IssueCreated {
        title: title.into(),
        body: String::new(),
        labels: vec![],
    }
}

/// Writes `bytes` as the only file of a commit on top of `parent` in `repo`; returns the commit.
fn commit_file(t: &TestEnv, repo: &Path, file: &str, bytes: &[u8], parents: &[&str]) -> String {
    t.commit_one_file(repo, file, bytes, parents, "x")
}

/// Appends a chunk of `events` to `reference` in `repo` (a bare remote, as a stranger with push
/// access would), on top of what is there; returns the new commit.
fn append_chunk(t: &TestEnv, repo: &Path, reference: &str, chunk_actor: &ActorId, events: &[SignedEvent]) -> String {
    let parent = t
        .git_env(repo, &["rev-parse", "--verify", "-q", reference], &[])
        .1
        .trim()
        .to_owned();
    let parents: Vec<&str> = if parent.is_empty() {
        vec![]
    } else {
        vec![parent.as_str()]
    };
    let commit = commit_file(
        t,
        repo,
        "chunk.cbor",
        &grit::wal::encode_chunk(chunk_actor, events),
        &parents,
    );
    t.git(repo, &["update-ref", reference, &commit]);
    commit
}

fn wal_ref(actor: &ActorId) -> String {
    format!("refs/grit/wal/{actor}")
}

fn titles(t: &TestEnv, dir: &Path) -> Vec<String> {
    let mut v = crate::env::titles(&t.json("issue", dir, &["list", "--state", "all"]));
    v.sort();
    v
}

fn quarantined(t: &TestEnv, dir: &Path) -> Vec<Value> {
    t.json("wal", dir, &["quarantine"]).as_array().unwrap().clone()
}

/// Two clones of a remote, an issue of the first's synced, and a stranger with push access.
fn issue_and_a_stranger(t: &TestEnv) -> (PathBuf, PathBuf, PathBuf, String, SigningKey) {
    let (remote, a, b) = t.pair();
    let id = t.create(&a, "before");
    t.ok("wal", &a, &["sync"]);
    (remote, a, b, id, key_of("mallory"))
}

#[test]
fn a_clock_at_the_end_of_the_range_is_quarantined_and_freezes_nobody() {
    let t = TestEnv::new();
    // A validly signed event with the largest clock there is, by someone with push access.
    let (remote, _a, b, id, mallory) = issue_and_a_stranger(&t);
    let forged = event(
        &mallory,
        Some(Id::from_hex(&id).unwrap()),
        u64::MAX,
        Kind::TitleSet { title: "frozen".into() },
    );
    append_chunk(
        &t,
        &remote,
        &wal_ref(&actor_of(&mallory)),
        &actor_of(&mallory),
        std::slice::from_ref(&forged),
    );
    t.cmd("wal", &b)
        .args(["sync"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "Lamport clock 18446744073709551615 is past the format's bound",
        ));
    assert_eq!(titles(&t, &b), ["before"], "never applied");
    // Everyone's later edits still land and win.
    t.ok("issue", &b, &["edit", &id, "--title", "after"]);
    t.ok("issue", &b, &["close", &id]);
    let shown = t.json("issue", &b, &["show", &id]);
    assert_eq!(shown["title"], "after");
    assert_eq!(shown["state"], "closed");
    assert!(t.json("wal", &b, &["stats"])["lamport"].as_u64().unwrap() < 10);
    let q = quarantined(&t, &b);
    assert_eq!(q[0]["event"], forged.id.to_hex());
    t.cmd("wal", &b)
        .args(["check"])
        .assert()
        .code(4)
        .stdout(predicate::str::contains("bounds"));
}

/// Defect 4: a validly signed event whose clock is the last the format allows, 2^53 - 1, would
/// leave every later writer without a clock. An event may run only so far past every event
/// before it; one that runs farther is quarantined, and a modest jump is not.
#[test]
fn a_clock_that_runs_far_past_every_event_before_it_is_quarantined_and_exhausts_nobody() {
    let t = TestEnv::new();
    let (remote, _a, b, id, mallory) = issue_and_a_stranger(&t);
    let target = Some(Id::from_hex(&id).unwrap());
    // Within the bound: 1,000 ahead of what the clones have is what an honest writer who saw
    // more could write.
    let near = event(&mallory, target, 1_000, Kind::TitleSet { title: "near".into() });
    let far = event(
        &mallory,
        target,
        grit::event::MAX_LAMPORT,
        Kind::TitleSet { title: "frozen".into() },
    );
    append_chunk(
        &t,
        &remote,
        &wal_ref(&actor_of(&mallory)),
        &actor_of(&mallory),
        &[near, far.clone()],
    );
    t.cmd("wal", &b)
        .args(["sync"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "runs more than 16777216 past every event before it",
        ));
    assert_eq!(
        titles(&t, &b),
        ["near"],
        "the modest jump is applied, the far one never"
    );
    let q = quarantined(&t, &b);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["event"], far.id.to_hex());
    // Everyone's later edits still take a clock, and win.
    t.ok("issue", &b, &["edit", &id, "--title", "after"]);
    assert_eq!(t.json("issue", &b, &["show", &id])["title"], "after");
    let clock = t.json("wal", &b, &["stats"])["lamport"].as_u64().unwrap();
    assert!((1_000..2_000).contains(&clock), "{clock}");
    // A fresh clone, folding everything at once, decides the same.
    let c = t.clone(&remote, "c", "Cid", "cid");
    t.ok("wal", &c, &["init"]);
    t.ok("wal", &c, &["sync"]);
    let shown = t.json("issue", &c, &["show", &id]);
    assert_ne!(shown["title"], "frozen", "{shown}");
    assert!(t.json("wal", &c, &["stats"])["lamport"].as_u64().unwrap() < 2_000);
}

#[test]
fn an_event_of_another_actor_on_an_actors_ref_is_quarantined() {
    let t = TestEnv::new();
    let (remote, a, b) = t.pair();
    t.create(&a, "ann's");
    t.ok("wal", &a, &["sync"]);
    let ann = actor_of(&key_of("ann"));
    // Mallory signs her own event (valid) and puts it on Ann's ref.
    let mallory = key_of("mallory");
    let foreign = event(&mallory, None, 7, created("mallory's, on ann's ref"));
    append_chunk(&t, &remote, &wal_ref(&ann), &ann, std::slice::from_ref(&foreign));
    t.cmd("wal", &b)
        .args(["sync"])
        .assert()
        .success()
        .stderr(predicate::str::contains("on the WAL ref of actor"));
    assert_eq!(titles(&t, &b), ["ann's"]);
    assert_eq!(quarantined(&t, &b)[0]["event"], foreign.id.to_hex());
    // Ann builds on her ref as usual: the foreign event never becomes hers.
    t.ok("wal", &a, &["sync"]);
    t.create(&a, "ann's next");
    t.ok("wal", &a, &["sync"]);
    t.ok("wal", &b, &["sync"]);
    assert_eq!(titles(&t, &b), ["ann's", "ann's next"]);
    assert_eq!(titles(&t, &a), ["ann's", "ann's next"]);
}

#[test]
fn a_forged_commit_on_the_remote_does_not_stop_the_actors_valid_events() {
    let t = TestEnv::new();
    let (remote, a, b) = t.pair();
    t.create(&a, "one");
    t.ok("wal", &a, &["sync"]);
    let ann = actor_of(&key_of("ann"));
    // A forged event (signed by the wrong key) on top of Ann's ref on the remote.
    let mut forged = event(&key_of("mallory"), None, 3, created("forged"));
    forged.event.actor = ann;
    forged.body = forged.event.encode();
    let forged = SignedEvent::from_value(forged.to_value()).unwrap();
    let bad = append_chunk(&t, &remote, &wal_ref(&ann), &ann, &[forged]);
    // Ann keeps writing; her syncs still land, without force and without rewriting.
    t.create(&a, "two");
    t.cmd("wal", &a)
        .args(["sync"])
        .assert()
        .success()
        .stderr(predicate::str::contains("bad signature"))
        .stdout(predicate::str::contains("rejected").not());
    t.create(&a, "three");
    t.ok("wal", &a, &["sync"]);
    let tip = t.git(&remote, &["rev-parse", &wal_ref(&ann)]);
    t.git(&remote, &["merge-base", "--is-ancestor", &bad, tip.trim()]);
    t.ok("wal", &b, &["sync"]);
    assert_eq!(titles(&t, &b), ["one", "three", "two"]);
    assert_eq!(titles(&t, &a), ["one", "three", "two"]);
    // Every command that reads the log names it, not only the first fold.
    for dir in [&a, &b] {
        for _ in 0..2 {
            t.cmd("issue", dir)
                .args(["list"])
                .assert()
                .success()
                .stderr(predicate::str::contains(format!("commit {}", &bad[..12])));
        }
    }
    t.cmd("wal", &b)
        .args(["verify"])
        .assert()
        .code(4)
        .stdout(predicate::str::contains("bad signature"));
    t.ok("wal", &b, &["quarantine", "resolve", "--all"]);
    t.cmd("issue", &b).args(["list"]).assert().success().stderr("");
    t.ok("wal", &b, &["verify"]);
    // A fresh clone sees the same, and a rebuild skips it too.
    let c = t.clone(&remote, "c", "Cy", "cy");
    t.ok("wal", &c, &["init"]);
    t.git(&c, &["fetch", "-q"]);
    assert_eq!(titles(&t, &c), ["one", "three", "two"]);
    t.ok("wal", &c, &["rebuild", "--full"]);
    assert_eq!(titles(&t, &c), ["one", "three", "two"]);
}

/// Ann's snapshot (she writes three issues first), synced; returns (remote, a, c) where c is a
/// fresh clone that trusts snapshots signed by Ann.
fn snapshot_setup(t: &TestEnv) -> (PathBuf, PathBuf, PathBuf) {
    let (remote, a, _) = t.pair();
    for n in 0..3 {
        t.create(&a, &format!("issue {n}"));
    }
    t.ok("wal", &a, &["sync"]);
    let c = t.clone(&remote, "c", "Cy", "cy");
    t.ok("wal", &c, &["init"]);
    t.git(
        &c,
        &["config", "grit.snapshotSigners", &actor_of(&key_of("ann")).to_hex()],
    );
    (remote, a, c)
}

/// Ann's WAL commits and events, read back through the library.
fn wal_of(t: &TestEnv, repo: &Path, actor: &ActorId) -> (Vec<gix::ObjectId>, Vec<SignedEvent>) {
    let log = t.git(repo, &["rev-list", &wal_ref(actor)]);
    let mut commits = Vec::new();
    let mut events = Vec::new();
    for c in log.lines() {
        commits.push(gix::ObjectId::from_hex(c.as_bytes()).unwrap());
        let out = std::process::Command::new("git")
            .args(["cat-file", "blob", &format!("{c}:chunk.cbor")])
            .current_dir(repo)
            .output()
            .unwrap();
        events.extend(grit::wal::decode_chunk(&out.stdout).unwrap());
    }
    (commits, events)
}

fn push_snapshot(t: &TestEnv, remote: &Path, bytes: &[u8], parents: &[&str], count: usize) -> String {
    let commit = commit_file(t, remote, "snapshot.cbor", bytes, parents);
    let name = format!("refs/grit/snapshots/{count:010}-{}", &commit[..16]);
    t.git(remote, &["update-ref", &name, &commit]);
    name
}

#[test]
fn a_snapshot_that_hides_anothers_commits_hides_nothing() {
    let t = TestEnv::new();
    let (remote, _a, c) = snapshot_setup(&t);
    let ann = actor_of(&key_of("ann"));
    let (commits, _) = wal_of(&t, &remote, &ann);
    let tip = t.git(&remote, &["rev-parse", &wal_ref(&ann)]);
    // Mallory's snapshot: no events, but it claims to cover every one of Ann's commits, and
    // it is large enough to be chosen first.
    let mallory = key_of("mallory");
    let lying = grit::snapshot::encode(&mallory, &commits, &[]);
    let name = push_snapshot(&t, &remote, &lying, &[tip.trim()], 99);
    t.git(&c, &["fetch", "-q"]);
    let rebuilt = t.json("wal", &c, &["rebuild"]);
    assert!(rebuilt["snapshot"].is_null(), "{rebuilt}");
    assert_eq!(titles(&t, &c), ["issue 0", "issue 1", "issue 2"]);
    // Even signed by a trusted key, a snapshot only counts for the events it really holds.
    let lying = grit::snapshot::encode(&key_of("ann"), &commits, &[]);
    t.git(&remote, &["update-ref", "-d", &name]);
    let name = push_snapshot(&t, &remote, &lying, &[tip.trim()], 98);
    t.git(&c, &["fetch", "-q", "--prune"]);
    // It is not used: the fold reads the WAL, and says why.
    let rebuilt = t.json("wal", &c, &["rebuild"]);
    assert!(rebuilt["snapshot"].is_null(), "{rebuilt}");
    assert!(rebuilt.to_string().contains("lacks its event"), "{rebuilt}");
    assert_eq!(titles(&t, &c), ["issue 0", "issue 1", "issue 2"]);
    t.cmd("wal", &c)
        .args(["check"])
        .assert()
        .code(4)
        .stdout(predicate::str::contains("lacks its event"))
        .stdout(predicate::str::contains(&name["refs/grit/".len()..]));
}

#[test]
fn a_snapshot_with_a_forged_event_is_skipped_and_named() {
    let t = TestEnv::new();
    let (remote, _a, c) = snapshot_setup(&t);
    let ann = actor_of(&key_of("ann"));
    let (commits, mut events) = wal_of(&t, &remote, &ann);
    let tip = t.git(&remote, &["rev-parse", &wal_ref(&ann)]);
    // The snapshot's signature is Ann's own, but one event inside was altered after signing.
    let mut body = events[0].body.clone();
    let at = body.windows(6).position(|w| w == b"issue ").unwrap();
    body[at..at + 6].copy_from_slice(b"FORGED");
    events[0] = SignedEvent::from_value(ciborium::value::Value::Array(vec![
        ciborium::value::Value::Bytes(body),
        ciborium::value::Value::Bytes(events[0].signature.to_vec()),
    ]))
    .unwrap();
    let forged = grit::snapshot::encode(&key_of("ann"), &commits, &events);
    let name = push_snapshot(&t, &remote, &forged, &[tip.trim()], 3);
    t.git(&c, &["fetch", "-q"]);
    let out = t.cmd("wal", &c).args(["rebuild"]).assert().success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains(&format!(
            "snapshot refs/grit/remotes/origin/{}",
            &name["refs/grit/".len()..]
        )),
        "{stderr}"
    );
    assert!(stderr.contains("bad signature"), "{stderr}");
    assert_eq!(
        titles(&t, &c),
        ["issue 0", "issue 1", "issue 2"],
        "the fold fell back to the WAL"
    );
}

/// A chain is trusted link by link: Ann's newest link cannot vouch for an older one Mallory
/// signed (which claims Ann's first commit and holds nothing). The chain is refused and named, and
/// the fold reads the WAL; the same chain with both links Ann's is used, and equals a replay.
#[test]
fn a_snapshot_chain_counts_only_if_every_link_is_trusted() {
    let t = TestEnv::new();
    let (remote, _a, c) = snapshot_setup(&t);
    let ann = actor_of(&key_of("ann"));
    let (mut commits, mut events) = wal_of(&t, &remote, &ann);
    // rev-list gives the newest first: the oldest commit goes in the first link.
    let (oldest, oldest_events) = (commits.pop().unwrap(), events.split_off(events.len() - 1));
    let tip = t.git(&remote, &["rev-parse", &wal_ref(&ann)]);
    let link = |key: &SigningKey, parent: Option<&str>, commits: &[gix::ObjectId], events: &[SignedEvent]| {
        let parent_id = parent.map(|p| gix::ObjectId::from_hex(p.as_bytes()).unwrap());
        let bytes = grit::snapshot::encode_link(key, parent_id, commits, &[], events);
        let parents: Vec<&str> = [tip.trim()].into_iter().chain(parent).collect();
        commit_file(&t, &remote, "snapshot.cbor", &bytes, &parents)
    };
    let forged_root = link(&key_of("mallory"), None, &[oldest], &[]);
    let head = link(&key_of("ann"), Some(&forged_root), &commits, &events);
    let name = format!("refs/grit/snapshots/{:010}-{}", 3, &head[..16]);
    t.git(&remote, &["update-ref", &name, &head]);
    t.git(&c, &["fetch", "-q"]);
    let out = t.cmd("wal", &c).args(["rebuild"]).assert().success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains(&name["refs/grit/".len()..]), "{stderr}");
    assert!(stderr.contains("not trusted"), "{stderr}");
    assert_eq!(titles(&t, &c), ["issue 0", "issue 1", "issue 2"]);
    // Both links Ann's: the fold starts from the chain and reads no WAL commit.
    let root = link(&key_of("ann"), None, &[oldest], &oldest_events);
    let head = link(&key_of("ann"), Some(&root), &commits, &events);
    t.git(&remote, &["update-ref", "-d", &name]);
    let name = format!("refs/grit/snapshots/{:010}-{}", 3, &head[..16]);
    t.git(&remote, &["update-ref", &name, &head]);
    t.git(&c, &["fetch", "-q", "--prune"]);
    let rebuilt = t.json("wal", &c, &["rebuild"]);
    assert!(
        rebuilt["snapshot"]
            .as_str()
            .unwrap()
            .ends_with(&name["refs/grit/snapshots/".len()..]),
        "{rebuilt}"
    );
    assert_eq!(rebuilt["commits"], 0);
    let from_chain = t.json("issue", &c, &["list", "--limit", "0"]);
    t.ok("wal", &c, &["rebuild", "--full"]);
    assert_eq!(t.json("issue", &c, &["list", "--limit", "0"]), from_chain);
    t.ok("wal", &c, &["check"]);
}

#[test]
fn snapshots_of_other_clones_are_not_copied_into_the_local_namespace() {
    let t = TestEnv::new();
    let (_remote, a, b) = t.pair();
    t.create(&a, "x");
    t.ok("wal", &a, &["snapshot"]);
    t.ok("wal", &a, &["sync"]);
    t.ok("wal", &b, &["sync"]);
    assert!(t.refs(&b, "refs/grit/snapshots/").is_empty());
    assert_eq!(t.refs(&b, "refs/grit/remotes/origin/snapshots/").len(), 1);
}

#[test]
fn escape_sequences_from_a_remote_event_are_shown_escaped_in_every_human_output() {
    let t = TestEnv::new();
    let (remote, a, b) = t.pair();
    t.create(&a, "plain");
    t.ok("wal", &a, &["sync"]);
    let mallory = key_of("mallory");
    let nasty = "\x1b]52;c;aGVsbG8=\x07\x1b[2Jwipe\u{202e}txt.exe\u{200b}";
    let issue = event(&mallory, None, 5, created(nasty));
    let more = vec![
        issue.clone(),
        event(
            &mallory,
            Some(issue.id),
            6,
            Kind::LabelAdded {
                label: "\x1b[31mred".into(),
            },
        ),
        event(
            &mallory,
            Some(issue.id),
            7,
            Kind::CommentAdded {
                body: "hi\x1b[8m hidden\u{9b}".into(),
            },
        ),
        event(
            &mallory,
            Some(issue.id),
            8,
            Kind::AssigneeAdded {
                assignee: "\x07bell".into(),
            },
        ),
    ];
    append_chunk(&t, &remote, &wal_ref(&actor_of(&mallory)), &actor_of(&mallory), &more);
    t.git(&b, &["fetch", "-q"]);
    let id = issue.id.to_hex();
    for args in [
        vec!["issue", "list"],
        vec!["issue", "list", "--label", "\x1b[31mred"],
        vec!["issue", "show", &id],
        vec!["wal", "log"],
        vec!["issue", "show", "\x1b[2Jnot-an-id"],
    ] {
        let out = t.cmd(args[0], &b).args(&args[1..]).output().unwrap();
        for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(text);
            assert!(
                !text.contains(['\x1b', '\x07', '\u{202e}', '\u{200b}', '\u{9b}']),
                "{args:?} {what}: {text:?}"
            );
        }
        if args[1] != "show" || args[2] == id {
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                stdout.contains("\\e]52;c;aGVsbG8=\\x07\\e[2Jwipe\\u{202e}txt.exe"),
                "{args:?}: {stdout}"
            );
        }
    }
    // JSON stays exact.
    assert_eq!(t.json("issue", &b, &["show", &id])["title"], nasty);
    // What comes from the command line is checked as before, lock notes too.
    t.cmd("lock", &b)
        .args(["acquire", "--local", "repo:", "--note", "\x1b[2J"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("control characters"));
}

#[test]
fn no_text_argument_of_any_command_panics() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "exists");
    let long = "a".to_owned() + &"é".repeat(200);
    let values: Vec<OsString> = vec![
        long.clone().into(),
        "e\u{301}".repeat(150).into(),
        "日本語".repeat(600).into(),
        "\u{202e}x\u{200b}\u{feff}".into(),
        OsString::from_vec(b"\xff\xfe bad \xc3".to_vec()),
    ];
    let mut runs = 0;
    for mut tool in grit::cli::docs::tools() {
        tool.build();
        let name = tool.get_name().trim_start_matches("git-").to_owned();
        let mut stack: Vec<(Vec<String>, clap::Command)> = vec![(vec![], tool)];
        while let Some((path, cmd)) = stack.pop() {
            for sub in cmd.get_subcommands() {
                if sub.get_name() == "help" || sub.get_name() == "demo" {
                    continue;
                }
                let mut p = path.clone();
                p.push(sub.get_name().to_owned());
                stack.push((p, sub.clone()));
            }
            if cmd.has_subcommands() {
                continue;
            }
            // Servers run until stopped; what they do with their arguments is tested beside
            // them (tests/cli/web.rs, tests/cli/mcp.rs).
            if (name == "issue" && path == ["serve"]) || (name == "wal" && path == ["mcp"]) {
                continue;
            }
            let takes_value = |a: &&clap::Arg| {
                a.get_action().takes_values() && a.get_id() != "dir" && a.get_possible_values().is_empty()
            };
            let args: Vec<&clap::Arg> = cmd.get_arguments().filter(takes_value).collect();
            for arg in &args {
                for value in &values {
                    let mut argv: Vec<OsString> = path.iter().map(OsString::from).collect();
                    // Other required arguments get a plain value (an issue id where one fits).
                    for other in cmd
                        .get_arguments()
                        .filter(|o| o.is_required_set() && o.get_id() != arg.get_id())
                    {
                        if other.is_positional() {
                            argv.push(id.clone().into());
                        } else if let Some(l) = other.get_long() {
                            argv.push(format!("--{l}").into());
                            argv.push("x".into());
                        }
                    }
                    if arg.is_positional() {
                        if arg.is_last_set() || arg.is_trailing_var_arg_set() {
                            argv.push("--".into());
                        }
                        argv.push(value.clone());
                    } else if let Some(l) = arg.get_long() {
                        argv.push(format!("--{l}").into());
                        argv.push(value.clone());
                    } else if let Some(s) = arg.get_short() {
                        argv.push(format!("-{s}").into());
                        argv.push(value.clone());
                    }
                    // A stream runs until stopped: `--count 0` stops it once its arguments are read.
                    if name == "wal" && path == ["watch"] {
                        argv.extend(["--count".into(), "0".into()]);
                    }
                    let out = t
                        .cmd(&name, &r)
                        .args(&argv)
                        .timeout(std::time::Duration::from_secs(20))
                        .output()
                        .unwrap();
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    assert!(
                        out.status.code().is_some_and(|c| c != 101) && !stderr.contains("panicked"),
                        "git {name} {argv:?}: {:?}\n{stderr}",
                        out.status
                    );
                    runs += 1;
                }
            }
        }
    }
    assert!(runs > 100, "only {runs} runs: the walk over the commands is broken");
}

#[test]
fn a_damaged_index_is_rebuilt_with_a_warning_and_never_stops_a_command() {
    let t = TestEnv::new();
    let r = t.repo("r");
    for n in 0..150 {
        t.ok(
            "issue",
            &r,
            &["create", "--title", &format!("issue {n}"), "--label", "l"],
        );
    }
    let expected = t.ok("issue", &r, &["list", "--limit", "0"]);
    let data = r.join(".git/grit/index/data.mdb");
    let pristine = std::fs::read(&data).unwrap();
    // Truncated: caught before it is mapped.
    std::fs::write(&data, &pristine[..pristine.len() / 2]).unwrap();
    t.cmd("issue", &r)
        .args(["list", "--limit", "0"])
        .assert()
        .success()
        .stdout(expected.clone())
        .stderr(predicate::str::contains("warning: the index is damaged"));
    // Pages overwritten in the middle: met as a fault, an assertion or an error, and rebuilt.
    let pages = pristine.len() / 4096;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..12 {
        let mut bytes = pristine.clone();
        for _ in 0..4 {
            let page = 2 + (next() as usize) % (pages - 2);
            for b in &mut bytes[page * 4096..(page + 1) * 4096] {
                *b = next() as u8;
            }
        }
        let _ = std::fs::remove_file(r.join(".git/grit/index/lock.mdb"));
        std::fs::write(&data, &bytes).unwrap();
        let out = t.cmd("issue", &r).args(["list", "--limit", "0"]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "round {round}");
    }
    // A write meets the damage too, and lands once.
    std::fs::write(&data, &pristine[..pristine.len() / 3]).unwrap();
    t.create(&r, "after");
    assert_eq!(
        t.json("issue", &r, &["list", "--limit", "0"]).as_array().unwrap().len(),
        151
    );
    t.ok("wal", &r, &["check"]);
}

#[test]
fn a_write_that_landed_is_not_reported_as_failed_when_the_index_cannot_take_it() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "first");
    let out = t
        .cmd("issue", &r)
        .args(["create", "--title", "landed"])
        .env("GRIT_TEST_FAIL", "index-after-append")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: created, but the index could not take the write in",
        ))
        .stderr(predicate::str::contains("nothing to redo"));
    let printed = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let listed = t.json("issue", &r, &["list"]);
    let landed: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["title"] == "landed")
        .collect();
    assert_eq!(landed.len(), 1, "once, and the index caught up: {listed}");
    assert_eq!(printed.trim(), landed[0]["id"].as_str().unwrap());
}

#[test]
fn an_actor_record_lost_to_a_crash_is_published_by_the_next_write() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "one");
    let (record, _) = t.refs(&r, "refs/grit/actors/").remove(0);
    // As if the process died after saving the key and before publishing the record.
    t.git(&r, &["update-ref", "-d", &record]);
    std::fs::remove_dir_all(r.join(".git/grit/index")).unwrap();
    t.cmd("wal", &r)
        .args(["verify"])
        .assert()
        .code(4)
        .stdout(predicate::str::contains("no published record"));
    t.cmd("wal", &r)
        .args(["doctor", "--json"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("actor-record"));
    t.create(&r, "two");
    assert_eq!(t.refs(&r, "refs/grit/actors/").len(), 1);
    t.ok("wal", &r, &["verify"]);
}

#[test]
fn sixty_four_writers_of_one_actor_all_land() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "seed");
    let children: Vec<_> = (0..64)
        .map(|w| {
            let mut script = String::new();
            for n in 0..10 {
                script.push_str(&format!("git-issue create --title 'w{w} n{n}' >/dev/null || exit 1\n"));
            }
            let mut sh = t.wrapped("sh", &r);
            sh.args(["-c", &script]);
            sh.stderr(std::process::Stdio::piped());
            sh.spawn().unwrap()
        })
        .collect();
    let mut failed = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            failed.push(String::from_utf8_lossy(&out.stderr).into_owned());
        }
    }
    assert!(
        failed.is_empty(),
        "{} writers failed: {:?}",
        failed.len(),
        &failed[..1.min(failed.len())]
    );
    assert_eq!(
        t.json("issue", &r, &["list", "--limit", "0"]).as_array().unwrap().len(),
        641
    );
    t.ok("wal", &r, &["check"]);
}

#[test]
fn a_hundred_kills_during_creates_lose_nothing_that_was_printed() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "seed");
    let mut printed = Vec::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for n in 0..100 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut child = t
            .std_cmd("issue", &r)
            .args(["create", "--title", &format!("k{n}")])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(state % 12_000));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            printed.push(String::from_utf8(out.stdout).unwrap().trim().to_owned());
        }
    }
    let listed = t.json("issue", &r, &["list", "--limit", "0"]);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    for p in &printed {
        assert!(
            ids.iter().any(|id| id.starts_with(p.as_str())),
            "{p} was printed but is not listed"
        );
    }
    assert_eq!(t.git(&r, &["fsck", "--strict", "--no-dangling"]), "");
    t.ok("wal", &r, &["check"]);
    t.create(&r, "the next write");
}

#[test]
fn reading_works_in_a_repository_this_user_cannot_write() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "readable");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let setpriv = std::path::Path::new("/usr/bin/setpriv").exists();
    if !root || !setpriv {
        eprintln!("skipped: needs root and setpriv to run as another user (root={root}, setpriv={setpriv})");
        return;
    }
    crate::env::open_to_others(&r);
    t.git(&r, &["config", "--local", "safe.directory", "*"]);
    std::process::Command::new("chmod")
        .args(["-R", "o+rX"])
        .arg(&r)
        .status()
        .unwrap();
    for index in [true, false] {
        if !index {
            std::fs::remove_dir_all(r.join(".git/grit/index")).unwrap();
        }
        let mut c = t.wrapped("setpriv", &r);
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            &crate::env::exe("issue"),
            "list",
        ])
        .env("HOME", "/tmp");
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("readable"));
    }
}

#[test]
fn commands_work_from_inside_the_git_directory() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "here");
    for dir in [r.join(".git"), r.join(".git/refs")] {
        t.cmd("issue", &dir)
            .args(["list"])
            .assert()
            .success()
            .stdout(predicate::str::contains("here"));
        t.cmd("wal", &dir).args(["check"]).assert().success();
    }
}

#[test]
fn a_lease_longer_than_any_clock_can_hold_is_refused() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "x");
    t.cmd("lock", &r)
        .args(["acquire", "--local", "repo:", "--ttl", "18446742277709551s"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is too long"))
        .stderr(predicate::str::contains("hint: "));
    assert!(t.refs(&r, "refs/grit/locks/").is_empty());
}

#[test]
fn check_and_verify_are_clean_on_a_healthy_log_and_doctor_repairs_what_is_safe() {
    let t = TestEnv::new();
    let (_remote, a, b) = t.pair();
    let id = t.create(&a, "one");
    t.ok("issue", &a, &["comment", &id, "--body", "hi"]);
    t.ok("wal", &a, &["snapshot"]);
    t.ok("wal", &a, &["sync"]);
    t.ok("wal", &b, &["sync"]);
    for dir in [&a, &b] {
        let check = t.json("wal", dir, &["check"]);
        assert_eq!(check["findings"], serde_json::json!([]), "{check}");
        assert_eq!(check["events"], 2);
        let verify = t.json("wal", dir, &["verify"]);
        assert_eq!(verify["findings"], serde_json::json!([]), "{verify}");
    }
    t.ok("wal", &a, &["verify", "--actor", "ann"]);
    // A key readable by others, and a remote without the refspecs.
    let key = a.join(".git/grit/actors/ann.key");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    t.git(&a, &["config", "--unset-all", "remote.origin.fetch", "refs/grit"]);
    let report = t.cmd("wal", &a).args(["doctor", "--json"]).assert().code(1);
    let report: Value = serde_json::from_slice(&report.get_output().stdout).unwrap();
    let checks: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["check"].as_str().unwrap())
        .collect();
    assert!(
        checks.contains(&"key-permissions") && checks.contains(&"refspecs"),
        "{report}"
    );
    t.ok("wal", &a, &["doctor", "--fix"]);
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    t.ok("wal", &a, &["doctor"]);
    // Another hook manager moved grit's hook aside, as the pre-commit framework does.
    let hooks = a.join(".git/hooks");
    std::fs::rename(hooks.join("pre-commit"), hooks.join("pre-commit.legacy")).unwrap();
    std::fs::write(hooks.join("pre-commit"), "#!/bin/sh\nexec other-manager\n").unwrap();
    let status = t.json("wal", &a, &["hooks", "status"]);
    assert_eq!(status[2]["state"], "moved", "{status}");
    t.ok("wal", &a, &["doctor"]);
}

#[test]
fn a_fold_of_more_events_than_the_threshold_rebuilds_in_bulk() {
    let t = TestEnv::new();
    let (_remote, a, b) = t.pair();
    t.create(&b, "bob's");
    t.git(&b, &["config", "grit.rebuildThreshold", "5"]);
    for n in 0..3 {
        t.create(&a, &format!("a{n}"));
    }
    t.ok("wal", &a, &["sync"]);
    let few = t.json("wal", &b, &["sync"]);
    assert_eq!(few["index_rebuilt"], false, "{few}");
    for n in 3..12 {
        t.create(&a, &format!("a{n}"));
    }
    t.ok("wal", &a, &["sync"]);
    let many = t.json("wal", &b, &["sync"]);
    assert_eq!(many["index_rebuilt"], true, "{many}");
    assert_eq!(titles(&t, &b).len(), 13);
    assert_eq!(titles(&t, &a), titles(&t, &b));
    t.ok("wal", &b, &["check"]);
}

#[test]
fn a_missing_object_under_a_wal_ref_names_the_ref_and_how_to_recover() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "one");
    let (wal, tip) = t.refs(&r, "refs/grit/wal/").remove(0);
    let blob = t.git(&r, &["rev-parse", &format!("{tip}:chunk.cbor")]);
    std::fs::remove_file(t.loose_object(&r, blob.trim())).unwrap();
    t.cmd("wal", &r)
        .args(["rebuild", "--full"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "commit {tip} on {wal} cannot be read"
        )))
        .stderr(predicate::str::contains("remote-tracking copy"))
        .stderr(predicate::str::contains("snapshot"));
    t.cmd("wal", &r)
        .args(["check"])
        .assert()
        .code(4)
        .stdout(predicate::str::contains("object"));
}

/// Medians of `runs` runs of `git issue list` in each of `dirs`, run in turn: the machine's load
/// (a parallel test suite) falls on all alike, so their ratio is honest.
fn list_times<const N: usize>(t: &TestEnv, dirs: [&Path; N], runs: usize) -> [std::time::Duration; N] {
    let mut times: [Vec<std::time::Duration>; N] = std::array::from_fn(|_| Vec::new());
    for _ in 0..runs {
        for (dir, v) in dirs.iter().zip(&mut times) {
            let start = std::time::Instant::now();
            let out = t.cmd("issue", dir).args(["list"]).output().unwrap();
            assert!(out.status.success());
            v.push(start.elapsed());
        }
    }
    times.map(|mut v| {
        v.sort();
        v[runs / 2]
    })
}

#[test]
fn a_flood_of_forged_events_costs_its_reading_once_and_nothing_per_later_command() {
    let t = TestEnv::new();
    let (remote, a, b) = t.pair();
    for i in 0..20 {
        t.create(&a, &format!("real {i}"));
    }
    t.ok("wal", &a, &["sync"]);
    t.ok("wal", &b, &["sync"]);
    // 50,000 events whose signatures do not check out (one signature, reused on changed
    // bodies), in 50 chunks on a stranger's ref. Clone a never fetches them: it is the
    // baseline, measured beside b in the same moments.
    let mallory = key_of("mallory");
    let who = actor_of(&mallory);
    let template = event(&mallory, None, 1, created("flood"));
    let n: usize = std::env::var("GRIT_FLOOD_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    for c in 0..50 {
        let events: Vec<SignedEvent> = (0..n / 50)
            .map(|i| {
                let mut e = template.clone();
                e.event.kind = created(&format!("flood {c} {i}"));
                e.body = e.event.encode();
                SignedEvent::from_value(e.to_value()).unwrap()
            })
            .collect();
        append_chunk(&t, &remote, &wal_ref(&who), &who, &events);
    }
    let fetched = std::time::Instant::now();
    let out = t.cmd("wal", &b).args(["sync"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fetch_took = fetched.elapsed();
    let q = quarantined(&t, &b);
    assert_eq!(q.len(), n, "each forged event is quarantined once");
    // Later commands pay nothing for it: list within twice the baseline's cost (and 5 ms of
    // noise on a loaded machine), and a write too.
    let [base, after] = list_times(&t, [&a, &b], 9);
    assert!(
        after <= base * 2 + std::time::Duration::from_millis(5),
        "list took {after:?} after the flood, {base:?} without it (the fetch took {fetch_took:?})"
    );
    let timed = |dir: &Path| {
        let started = std::time::Instant::now();
        t.create(dir, "after the flood");
        started.elapsed()
    };
    let (ca, cb) = (timed(&a), timed(&b));
    assert!(
        cb < ca * 4 + std::time::Duration::from_millis(50),
        "create took {cb:?}, {ca:?} without the flood"
    );
    // Resolved, still never applied, and still cheap.
    t.ok("wal", &b, &["quarantine", "resolve", "--all"]);
    let [base, resolved] = list_times(&t, [&a, &b], 9);
    assert!(
        resolved <= base * 2 + std::time::Duration::from_millis(5),
        "{resolved:?} after resolving, {base:?} without"
    );
    assert_eq!(titles(&t, &b).len(), 21);
}

/// A commit on HEAD of `dir` whose message carries a provenance record for its tree with `base`,
/// signed by `key`.
fn self_signed(t: &TestEnv, dir: &Path, key: &SigningKey, base: &str) -> String {
    std::fs::write(dir.join("signed.txt"), base).unwrap();
    t.git(dir, &["add", "signed.txt"]);
    let tree = t.git(dir, &["write-tree"]).trim().to_owned();
    let record = grit::sandbox::provenance::Provenance {
        version: grit::sandbox::provenance::VERSION,
        tree: tree.clone(),
        base: base.to_owned(),
        cmd: vec!["true".into()],
        exit_code: 0,
        backend: "copy".into(),
        isolation: "bwrap".into(),
        tools: vec![],
        started_ms: 1,
        ended_ms: 2,
        actor: actor_of(key).to_hex(),
    };
    let value = record.sign(key).unwrap();
    let message = format!("Looks isolated\n\nSandbox-Provenance: {value}");
    t.git(dir, &["commit-tree", &tree, "-p", "HEAD", "-m", &message])
        .trim()
        .to_owned()
}

#[test]
fn provenance_signed_by_a_key_this_repository_does_not_know_exits_4() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let head = t.git(&r, &["rev-parse", "HEAD"]).trim().to_owned();
    let stranger = key_of("stranger");
    let c = self_signed(&t, &r, &stranger, &head);
    let out = t.cmd("sandbox", &r).args(["verify", &c]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("signed by an unknown key"));
    // Listed as a provenance signer, it verifies.
    t.git(
        &r,
        &["config", "grit.provenanceSigners", &actor_of(&stranger).to_hex()[..16]],
    );
    t.ok("sandbox", &r, &["verify", &c]);
}

#[test]
fn provenance_whose_base_is_not_an_object_id_exits_4_and_never_panics() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let me = key_of("stranger");
    t.git(&r, &["config", "grit.provenanceSigners", &actor_of(&me).to_hex()]);
    for base in ["abc0", "ab"] {
        let c = self_signed(&t, &r, &me, base);
        let out = t.cmd("sandbox", &r).args(["verify", &c]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn markdown_export_to_a_terminal_escapes_control_characters_and_a_file_keeps_them() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.ok(
        "issue",
        &r,
        &[
            "create",
            "--title",
            "odd body",
            "--body",
            "bell\x07 and \x1b[31mred, rlo \u{202e} here",
        ],
    );
    let file = t.tmp.path().join("out.md");
    t.ok(
        "issue",
        &r,
        &["export", "--format", "md", "--out", file.to_str().unwrap()],
    );
    let kept = std::fs::read_to_string(&file).unwrap();
    assert!(
        kept.contains('\x1b') && kept.contains('\u{202e}'),
        "a file keeps them: {kept:?}"
    );
    if !Path::new("/usr/bin/script").exists() {
        eprintln!("skipped the terminal part: no `script` to give the command a terminal");
        return;
    }
    let out = t
        .wrapped("script", &r)
        .args([
            "-qec",
            &format!("{} export --format md", crate::env::exe("issue")),
            "/dev/null",
        ])
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        screen.contains("\\x1b[31mred") || screen.contains("\\e[31mred"),
        "{screen:?}"
    );
    assert!(
        !screen.contains('\x1b') && !screen.contains('\u{202e}') && !screen.contains('\x07'),
        "{screen:?}"
    );
}

#[test]
fn an_index_or_feed_replaced_by_a_plain_file_is_healed_with_a_warning() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "before");
    for what in ["index", "feed"] {
        let path = r.join(".git/grit").join(what);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        }
        std::fs::write(&path, "not a directory").unwrap();
        let out = t
            .cmd("issue", &r)
            .args(["create", "--title", &format!("after {what}")])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{what}: {stderr}");
        assert!(stderr.contains("not a directory"), "{what}: {stderr}");
        assert!(path.is_dir(), "{what} is a directory again");
        t.ok("issue", &r, &["list"]);
    }
    assert_eq!(titles(&t, &r), ["after feed", "after index", "before"]);
}

#[test]
fn commands_work_under_an_address_space_limit() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "before");
    let line = format!(
        "ulimit -v 6000000 && {issue} create --title limited && {issue} list",
        issue = crate::env::exe("issue")
    );
    let out = t.wrapped("sh", &r).args(["-c", &line]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("limited"));
}

/// A repository holding `a.txt` on main, where isolation is possible; `None` (said) where not.
fn isolation_repo(t: &TestEnv) -> Option<PathBuf> {
    if let Err(e) = grit::sandbox::isolate::choose(None) {
        eprintln!("skipped: isolation is not possible here ({e})");
        return None;
    }
    let r = t.repo("r");
    std::fs::write(r.join("a.txt"), "a\n").unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    Some(r)
}

/// `git sandbox` in `dir` with its sandboxes under the test's directory.
fn sandbox_cmd(t: &TestEnv, dir: &Path) -> assert_cmd::Command {
    let mut c = t.cmd("sandbox", dir);
    c.env("XDG_DATA_HOME", t.tmp.path().join("data"));
    c
}

#[test]
fn an_isolated_command_cannot_point_the_hosts_git_at_a_repository_of_its_own() {
    let t = TestEnv::new();
    let Some(r) = isolation_repo(&t) else { return };
    t.ok("wal", &r, &["init"]);
    let marker = t.tmp.path().join("escaped");
    // Inside: a repository whose config runs a program, and every file that says where the
    // sandbox's repository is, pointed at it; HEAD pointed at main.
    let hostile = format!(
        "git init -q evil; printf '[core]\\n\\tfsmonitor = \"touch {m}\"\\n' >> evil/.git/config; \
         gd=$(git rev-parse --absolute-git-dir); \
         echo \"gitdir: $PWD/evil/.git\" > .git; \
         echo \"$PWD/evil/.git\" > \"$gd/commondir\"; \
         printf '[core]\\n\\tfsmonitor = \"touch {m}\"\\n' > \"$gd/config.worktree\"; \
         git symbolic-ref HEAD refs/heads/main; \
         echo changed > a.txt; true",
        m = marker.display()
    );
    let _ = sandbox_cmd(&t, &r)
        .args(["run", "s", "--isolate", "--commit", "hostile", "--sh", "--", &hostile])
        .output()
        .unwrap();
    assert!(
        !marker.exists(),
        "run --isolate --commit ran the sandbox's program on the host"
    );
    for args in [
        vec!["diff", "s"],
        vec!["list"],
        vec!["commit", "s", "-m", "more"],
        vec!["merge", "s"],
        vec!["rm", "s", "--force"],
    ] {
        let _ = sandbox_cmd(&t, &r).args(&args).output().unwrap();
        assert!(
            !marker.exists(),
            "`git sandbox {}` ran the sandbox's program on the host",
            args.join(" ")
        );
    }
    assert_eq!(t.git(&r, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(), "main");
}

#[test]
fn an_isolated_command_sees_no_signing_key_no_home_and_no_token() {
    let t = TestEnv::new();
    let Some(r) = isolation_repo(&t) else { return };
    t.create(&r, "makes a key");
    std::fs::write(t.home().join("secret.txt"), "home secret").unwrap();
    let keys: Vec<_> = std::fs::read_dir(r.join(".git/grit/actors"))
        .unwrap()
        .flatten()
        .collect();
    assert!(!keys.is_empty());
    let look = "cat .git >/dev/null; cat \"$(git rev-parse --git-common-dir)\"/grit/actors/* 2>&1; \
                cat \"$HOME/secret.txt\" 2>&1; env";
    let out = sandbox_cmd(&t, &r)
        .env("GITHUB_TOKEN", "ghp_sekrit")
        .args([
            "run",
            "k",
            "--isolate",
            "--discard",
            "--env",
            "MINE=1",
            "--sh",
            "--",
            look,
        ])
        .output()
        .unwrap();
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(!seen.contains("ghp_sekrit"), "the token reached the command: {seen}");
    assert!(!seen.contains("home secret"), "$HOME was visible: {seen}");
    assert!(seen.contains("MINE=1"), "--env still reaches it: {seen}");
    for k in keys {
        let key = std::fs::read(k.path()).unwrap();
        let text = String::from_utf8_lossy(&key);
        assert!(
            text.trim().is_empty() || !seen.contains(text.trim()),
            "a signing key was readable"
        );
    }
}
