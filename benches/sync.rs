//! Benchmarks of sync and hooks, each against plain git in the same run: pushing 10,000 events
//! to a fresh bare remote (baseline: `git push` of the same refs), fetching them into a fresh
//! clone and folding them into the index (baseline: `git fetch` of the same refs alone), and
//! what the installed hooks add to `git commit`; and what a flood of forged events costs later
//! commands (`flood`). `benches/run --bench sync` (release build);
//! `GRIT_BENCH_SMALL=1` scales down 10x.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{exe, generate, git, med, ms, new_repo, scratch, timed};

fn in_dir(dir: &Path, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args).current_dir(dir).env("GRIT_NO_AUTO_GC", "1");
    c
}

fn bare(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    git(root, &["init", "-q", "--bare", dir.to_str().unwrap()]);
    dir
}

fn bench_push_fetch(root: &Path, issues: usize) {
    let a = new_repo(root, "writer");
    // One event per commit, as `git issue create|edit|comment` write them: the worst case.
    let events = generate(&a, issues, 1);
    // What the background maintenance after writes would have done.
    git(&a, &["repack", "-d", "-q"]);
    let runs = 3;
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let remote = bare(root, &format!("ours-{run}.git"));
        git(&a, &["remote", "add", &format!("ours-{run}"), remote.to_str().unwrap()]);
        ours.push(timed(in_dir(&a, exe("wal"), &["push", &format!("ours-{run}")])));
        let plain = bare(root, &format!("plain-{run}.git"));
        base.push(timed(in_dir(
            &a,
            "git",
            &["push", "-q", plain.to_str().unwrap(), "refs/grit/*:refs/grit/*"],
        )));
    }
    let (ours, base) = (med(ours), med(base));
    println!(
        "push {events} events ({events} commits) to a fresh bare remote: git wal push {:7.1} ms   \
         baseline git push of the same refs {:7.1} ms   ratio {:.2}   (target <= 1000 ms)",
        ms(ours),
        ms(base),
        ms(ours) / ms(base)
    );

    let remote = root.join("ours-0.git");
    git(&a, &["push", "-q", "ours-0", "main"]);
    let (mut ours, mut base, mut first_list) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let b = root.join(format!("reader-{run}"));
        git(root, &["clone", "-q", remote.to_str().unwrap(), b.to_str().unwrap()]);
        git(&b, &["config", "user.name", "Reader"]);
        git(&b, &["config", "user.email", "reader@example.com"]);
        let mut init = in_dir(&b, exe("wal"), &["init"]);
        timed({
            init.stdout(Stdio::null());
            init
        });
        // The reference-transaction hook folds during the fetch.
        ours.push(timed(in_dir(&b, "git", &["fetch", "-q"])));
        first_list.push(timed(in_dir(&b, exe("issue"), &["list", "--limit", "0", "--json"])));
        let out = Command::new(exe("wal"))
            .args(["stats", "--json"])
            .current_dir(&b)
            .output()
            .unwrap();
        let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(stats["events"].as_u64(), Some(events as u64), "every event folded");

        let c = root.join(format!("plain-reader-{run}"));
        git(root, &["clone", "-q", remote.to_str().unwrap(), c.to_str().unwrap()]);
        base.push(timed(in_dir(
            &c,
            "git",
            &["fetch", "-q", "origin", "+refs/grit/*:refs/grit/remotes/origin/*"],
        )));
    }
    let (ours, base, list) = (med(ours), med(base), med(first_list));
    println!(
        "fetch + fold {events} events into a fresh clone: git fetch with the hook {:7.1} ms   \
         baseline git fetch alone {:7.1} ms   ratio {:.2}   fold alone ~{:.0} ms   next git issue list {:.1} ms   \
         (target <= 500 ms)",
        ms(ours),
        ms(base),
        ms(ours) / ms(base),
        ms(ours) - ms(base),
        ms(list)
    );
}

fn bench_hooks(root: &Path, runs: usize) {
    let plain = new_repo(root, "no-hooks");
    let empty = new_repo(root, "empty-hook");
    let rt = new_repo(root, "ref-tx-hook");
    let all = new_repo(root, "all-hooks");
    // git's own floor: any reference-transaction hook at all is spawned for every phase of
    // every transaction (a commit makes five calls).
    let empty_hook = empty.join(".git/hooks/reference-transaction");
    std::fs::write(&empty_hook, "#!/bin/sh\nexit 0\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&empty_hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for dir in [&rt, &all] {
        timed(in_dir(dir, exe("wal"), &["hooks", "install"]));
    }
    for h in ["pre-commit", "pre-push"] {
        std::fs::remove_file(rt.join(".git/hooks").join(h)).unwrap();
    }
    let commit = |dir: &Path| timed(in_dir(dir, "git", &["commit", "-q", "--allow-empty", "-m", "x"]));
    let dirs = [&plain, &empty, &rt, &all];
    for dir in dirs {
        commit(dir);
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); dirs.len()];
    for _ in 0..runs {
        for (i, dir) in dirs.iter().enumerate() {
            times[i].push(commit(dir));
        }
    }
    let m: Vec<f64> = times.into_iter().map(|t| ms(med(t))).collect();
    println!(
        "git commit, no grit ref changed ({runs} runs, interleaved): without hooks {:.2} ms   \
         with an empty `exit 0` hook {:.2} ms (+{:.2}: git spawning any hook)   \
         with grit's reference-transaction hook {:.2} ms (+{:.2} ms; target <= 2 ms; +{:.2} over the empty hook)   \
         with every grit hook {:.2} ms (+{:.2} ms, incl. the pre-commit lock-check entry point)",
        m[0],
        m[1],
        m[1] - m[0],
        m[2],
        m[2] - m[0],
        m[2] - m[1],
        m[3],
        m[3] - m[0]
    );
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let on = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let scale = if std::env::var_os("GRIT_BENCH_SMALL").is_some() {
        10
    } else {
        1
    };
    let tmp = scratch();
    println!(
        "grit sync benchmarks ({} cores); medians",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if on("push") || on("fetch") {
        // 3,334 issues × 3 events = 10,002 events.
        bench_push_fetch(tmp.path(), 3334 / scale);
    }
    if on("hook") {
        bench_hooks(tmp.path(), 201 / scale);
    }
    if on("flood") {
        bench_flood(tmp.path(), 50_000 / scale);
    }
}

/// A stranger with push access floods the remote with `n` forged events (a reused signature on
/// changed bodies, in 50 chunks). Clone `b` fetches them; clone `a` never does and is the
/// baseline: `list` and `create` in each, alternating, before and after.
fn bench_flood(root: &Path, n: usize) {
    use grit::event::{ActorId, Event, FORMAT_VERSION, Kind, SignedEvent};
    let seed = new_repo(root, "flood-seed");
    let remote = root.join("flood.git");
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            seed.to_str().unwrap(),
            remote.to_str().unwrap(),
        ],
    );
    let clone = |name: &str| {
        let d = root.join(name);
        git(root, &["clone", "-q", remote.to_str().unwrap(), d.to_str().unwrap()]);
        git(&d, &["config", "user.name", name]);
        git(&d, &["config", "user.email", "x@example.com"]);
        timed(in_dir(&d, exe("wal"), &["init"]));
        d
    };
    let (a, b) = (clone("flood-a"), clone("flood-b"));
    for i in 0..20 {
        timed(in_dir(&a, exe("issue"), &["create", "-t", &format!("real {i}")]));
    }
    timed(in_dir(&a, exe("wal"), &["sync", "--quiet"]));
    timed(in_dir(&b, exe("wal"), &["sync", "--quiet"]));
    let runs = 21;
    let on_path = |mut c: Command| {
        c.env("PATH", common::path_with_binaries());
        c
    };
    let list = |d: &Path| on_path(in_dir(d, exe("issue"), &["list"]));
    let create = |d: &Path| on_path(in_dir(d, exe("issue"), &["create", "-t", "timed"]));
    let [la0, lb0] = common::medians(runs, [&mut || list(&a), &mut || list(&b)]);
    let [ca0, cb0] = common::medians(runs, [&mut || create(&a), &mut || create(&b)]);

    let key = ed25519_dalek::SigningKey::from_bytes(&grit::event::blake2b256(b"bench flood"));
    let who = ActorId(key.verifying_key().to_bytes());
    let template = Event {
        version: FORMAT_VERSION,
        entity: None,
        actor: who,
        lamport: 1,
        wall_ms: 1_763_700_000_000,
        parents: vec![],
        kind: Kind::IssueCreated {
            title: "flood".into(),
            body: String::new(),
            labels: vec![],
        },
    }
    .sign(&key);
    let reference = format!("refs/grit/wal/{who}");
    let mut parent: Option<String> = None;
    for c in 0..50 {
        let events: Vec<SignedEvent> = (0..n / 50)
            .map(|i| {
                let mut e = template.clone();
                e.event.kind = Kind::IssueCreated {
                    title: format!("flood {c} {i}"),
                    body: String::new(),
                    labels: vec![],
                };
                e.body = e.event.encode();
                SignedEvent::from_value(e.to_value()).unwrap()
            })
            .collect();
        let file = root.join("chunk.cbor");
        std::fs::write(&file, grit::wal::encode_chunk(&who, &events)).unwrap();
        let blob = git(&remote, &["hash-object", "-w", file.to_str().unwrap()]);
        let mut mktree = Command::new("git")
            .args(["mktree"])
            .current_dir(&remote)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        writeln!(mktree.stdin.take().unwrap(), "100644 blob {}\tchunk.cbor", blob.trim()).unwrap();
        let tree = String::from_utf8(mktree.wait_with_output().unwrap().stdout).unwrap();
        let mut args = vec![
            "-c",
            "user.name=M",
            "-c",
            "user.email=m@x",
            "commit-tree",
            tree.trim(),
            "-m",
            "x",
        ];
        if let Some(p) = &parent {
            args.extend(["-p", p.as_str()]);
        }
        let commit = git(&remote, &args).trim().to_owned();
        git(&remote, &["update-ref", &reference, &commit]);
        parent = Some(commit);
    }
    let fetched = timed(in_dir(&b, exe("wal"), &["sync", "--quiet"]));
    let out = Command::new(exe("wal"))
        .args(["quarantine", "--json"])
        .current_dir(&b)
        .output()
        .unwrap();
    let q: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        q.as_array().map(Vec::len),
        Some(n),
        "each forged event quarantined once"
    );
    let [la, lb] = common::medians(runs, [&mut || list(&a), &mut || list(&b)]);
    let [ca, cb] = common::medians(runs, [&mut || create(&a), &mut || create(&b)]);
    println!(
        "after a sync that brings {n} forged events (it took {:.0} ms): list {:.2} ms against {:.2} ms in a clone \
         without them, ratio {:.2} (before the flood {:.2} against {:.2}); create {:.2} ms against {:.2} ms, \
         ratio {:.2} (before {:.2} against {:.2}); target <= 2",
        ms(fetched),
        ms(lb),
        ms(la),
        ms(lb) / ms(la),
        ms(lb0),
        ms(la0),
        ms(cb),
        ms(ca),
        ms(cb) / ms(ca),
        ms(cb0),
        ms(ca0),
    );
}
