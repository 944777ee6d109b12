//! Many actors, with the hooks installed, against the same operations with the hooks off:
//! the first push to a fresh bare remote, a fresh clone's `git wal init && git fetch` and first
//! `list`, `git gc` in that clone, a no-op `git fetch` (with the size of the ref advertisement),
//! `git issue create` against 100 actors, and a push of code alone. `benches/run --bench scale`;
//! `GRIT_BENCH_ACTORS` sets the number of actors (10,000 by default).
//!
//! `benches/run --bench scale -- events` measures a long history instead (`GRIT_BENCH_EVENTS`,
//! 1,000,000 by default, one event per commit): a rebuild's peak memory under `grit.foldMemory`,
//! a fresh clone's fetch and first fold, and what a due snapshot adds to the command that
//! triggers it.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::{exe, git, median, ms, new_repo, path_with_binaries, scratch, timed};

/// `n` actors, each with its record and one issue, written in-process into `dir`, then packed.
fn actors(dir: &Path, n: usize) {
    grit::fixtures::many_actors(dir, n).unwrap();
    git(dir, &["repack", "-a", "-d", "-q"]);
    git(dir, &["pack-refs", "--all"]);
}

fn with_path(mut c: Command) -> Command {
    c.env("PATH", path_with_binaries()).env("GRIT_NO_AUTO_GC", "1");
    c
}

fn in_dir(dir: &Path, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args).current_dir(dir);
    with_path(c)
}

/// Peak memory of a process, in MB: resident in all (`getrusage`), and its anonymous part
/// (sampled from `/proc`), which is what it allocated, without the file pages it has mapped (the
/// index, git's packs) that the kernel can drop and read again.
struct Peak {
    rss: f64,
    anon: f64,
}

/// Runs `c` to its end; its wall time and peak memory.
#[allow(clippy::zombie_processes)] // reaped by wait4, which also gives its resource usage
fn peak(mut c: Command) -> (std::time::Duration, Peak) {
    c.stdout(std::process::Stdio::null());
    let start = Instant::now();
    let child = c.spawn().unwrap();
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut max = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                    break;
                };
                let anon = status
                    .lines()
                    .find_map(|l| l.strip_prefix("RssAnon:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                    .unwrap_or(0);
                max = max.max(anon);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            max
        })
    };
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for the child just spawned.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, once.
    let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let anon = sampler.join().unwrap();
    assert!(
        reaped > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{c:?}"
    );
    (
        start.elapsed(),
        Peak {
            rss: usage.ru_maxrss as f64 / 1024.0,
            anon: anon as f64 / 1024.0,
        },
    )
}

fn bench_events(root: &Path) {
    let n: usize = std::env::var("GRIT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let actors = 100;
    let a = new_repo(root, "history");
    let start = Instant::now();
    grit::fixtures::long_history(&a, actors, n / actors).unwrap();
    git(&a, &["pack-refs", "--all"]);
    println!(
        "generated {} events, one per commit, from {actors} actors in {:.1} s",
        n / actors * actors,
        start.elapsed().as_secs_f64()
    );
    git(&a, &["config", "grit.snapshotEvery", "0"]);
    peak(in_dir(&a, exe("wal"), &["init"]));
    for mem in ["", "1g", "512m", "256m"] {
        if !mem.is_empty() {
            git(&a, &["config", "grit.foldMemory", mem]);
        }
        let (took, p) = peak(in_dir(&a, exe("wal"), &["rebuild", "--full"]));
        println!(
            "rebuild --full, grit.foldMemory {:>7}: {:8.0} ms   peak RSS {:6.0} MB, of it anonymous {:6.0} MB",
            if mem.is_empty() { "default" } else { mem },
            ms(took),
            p.rss,
            p.anon
        );
    }
    git(&a, &["config", "--unset", "grit.foldMemory"]);
    // A fresh clone: fetch and first fold, against git's own fetch of the same refs.
    let bare = root.join("history.git");
    git(root, &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    git(&a, &["remote", "add", "origin", bare.to_str().unwrap()]);
    git(&a, &["push", "-q", "--no-verify", "origin", "main"]);
    timed(in_dir(&a, exe("wal"), &["push"]));
    for hooks in [true, false] {
        let b = root.join(format!("history-clone-{hooks}"));
        git(root, &["clone", "-q", bare.to_str().unwrap(), b.to_str().unwrap()]);
        git(&b, &["config", "user.name", "Reader"]);
        git(&b, &["config", "user.email", "reader@example.com"]);
        let start = Instant::now();
        let mut runs = Vec::new();
        if hooks {
            runs.push(peak(in_dir(&b, exe("wal"), &["init"])).1);
            runs.push(peak(in_dir(&b, "git", &["fetch", "-q"])).1);
            runs.push(peak(in_dir(&b, exe("issue"), &["list", "--limit", "1", "--json"])).1);
        } else {
            runs.push(
                peak(in_dir(
                    &b,
                    "git",
                    &["fetch", "-q", "origin", "+refs/grit/*:refs/grit/remotes/origin/*"],
                ))
                .1,
            );
        }
        println!(
            "fresh clone {}: {:8.0} ms   peak RSS {:6.0} MB, of it anonymous {:6.0} MB",
            if hooks {
                "git wal init + git fetch + first list"
            } else {
                "git fetch of the same refs (baseline)"
            },
            ms(start.elapsed()),
            runs.iter().map(|p| p.rss).fold(0.0, f64::max),
            runs.iter().map(|p| p.anon).fold(0.0, f64::max)
        );
    }
    // A team that runs a trusted snapshot writer (docs/scale.md): the fresh clone starts from
    // the chain, checking each of its events, and reads only the WAL commits after it.
    timed(in_dir(&a, exe("wal"), &["snapshot"]));
    timed(in_dir(&a, exe("wal"), &["push"]));
    let signer = String::from_utf8(
        in_dir(&a, exe("wal"), &["actor", "show", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let signer: serde_json::Value = serde_json::from_str(&signer).unwrap();
    let b = root.join("history-clone-trusting");
    git(root, &["clone", "-q", bare.to_str().unwrap(), b.to_str().unwrap()]);
    git(&b, &["config", "user.name", "Reader"]);
    git(&b, &["config", "user.email", "reader@example.com"]);
    git(&b, &["config", "grit.snapshotSigners", signer["id"].as_str().unwrap()]);
    let start = Instant::now();
    let runs = [
        peak(in_dir(&b, exe("wal"), &["init"])).1,
        peak(in_dir(&b, "git", &["fetch", "-q"])).1,
        peak(in_dir(&b, exe("issue"), &["list", "--limit", "1", "--json"])).1,
    ];
    println!(
        "fresh clone from a trusted snapshot chain: {:8.0} ms   peak RSS {:6.0} MB, of it anonymous {:6.0} MB   (target <= 30 s)",
        ms(start.elapsed()),
        runs.iter().map(|p| p.rss).fold(0.0, f64::max),
        runs.iter().map(|p| p.anon).fold(0.0, f64::max)
    );
    // What a due snapshot adds to the command that makes it due (it runs in the background).
    let create = |dir: &Path| {
        let mut c = in_dir(dir, exe("issue"), &["create", "--title", "x"]);
        c.stdout(std::process::Stdio::null());
        c
    };
    let marker = a.join(".git/grit/snapshot.running");
    let (mut plain, mut due) = (vec![], vec![]);
    for _ in 0..5 {
        git(&a, &["config", "grit.snapshotEvery", "0"]);
        plain.push(timed(create(&a)));
        git(&a, &["config", "grit.snapshotEvery", "1"]);
        due.push(timed(create(&a)));
        while marker.exists() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let (p, d) = (common::med(plain), common::med(due));
    println!(
        "create that makes a snapshot due {:6.1} ms   baseline create {:6.1} ms   adds {:5.1} ms   (target <= 50 ms)",
        ms(d),
        ms(p),
        ms(d) - ms(p)
    );
}

fn main() {
    if std::env::args().skip(1).any(|a| a == "events") {
        let tmp = scratch();
        bench_events(tmp.path());
        if std::env::var_os("GRIT_BENCH_KEEP").is_some() {
            println!("kept {}", tmp.keep().display());
        }
        return;
    }
    let n: usize = std::env::var("GRIT_BENCH_ACTORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let tmp = scratch();
    let root = tmp.path();
    println!(
        "grit scale benchmark, {n} actors ({} cores)",
        std::thread::available_parallelism().map_or(1, |c| c.get())
    );
    let a = new_repo(root, "writer");
    let start = Instant::now();
    actors(&a, n);
    println!(
        "generated {n} actors with one issue each in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    for hooks in [true, false] {
        let label = if hooks { "hooks on " } else { "hooks off" };
        let bare = root.join(format!("remote-{hooks}.git"));
        git(root, &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
        git(&a, &["remote", "add", &format!("r{hooks}"), bare.to_str().unwrap()]);
        git(&a, &["push", "-q", &format!("r{hooks}"), "main"]);
        let push = if hooks {
            timed(in_dir(&a, exe("wal"), &["push", &format!("r{hooks}")]))
        } else {
            timed(in_dir(
                &a,
                "git",
                &[
                    "push",
                    "-q",
                    &format!("r{hooks}"),
                    "refs/grit/wal/*:refs/grit/wal/*",
                    "refs/grit/actors/*:refs/grit/actors/*",
                ],
            ))
        };
        let b = root.join(format!("clone-{hooks}"));
        git(root, &["clone", "-q", bare.to_str().unwrap(), b.to_str().unwrap()]);
        git(&b, &["config", "user.name", "Reader"]);
        git(&b, &["config", "user.email", "reader@example.com"]);
        let start = Instant::now();
        if hooks {
            let mut init = in_dir(&b, exe("wal"), &["init"]);
            init.stdout(std::process::Stdio::null());
            timed(init);
            timed(in_dir(&b, "git", &["fetch", "-q"]));
            timed(in_dir(&b, exe("issue"), &["list", "--limit", "0", "--json"]));
        } else {
            timed(in_dir(
                &b,
                "git",
                &["fetch", "-q", "origin", "+refs/grit/*:refs/grit/remotes/origin/*"],
            ));
        }
        let clone = start.elapsed();
        let gc = timed(in_dir(&b, "git", &["gc", "-q"]));
        let noop = median(5, || in_dir(&b, "git", &["fetch", "-q"]));
        let advert = Command::new("git")
            .args(["ls-remote", bare.to_str().unwrap()])
            .output()
            .unwrap()
            .stdout
            .len();
        let code = {
            git(&b, &["commit", "-q", "--allow-empty", "-m", "code"]);
            timed(in_dir(
                &b,
                "git",
                &["push", "-q", "--no-verify", "origin", "HEAD:refs/heads/main"],
            ))
        };
        println!(
            "{label}: first push {:8.0} ms   fresh clone {} + first list {:8.0} ms   gc {:7.0} ms   \
             no-op fetch {:6.1} ms ({advert} bytes of refs advertised)   push of code alone {:6.1} ms",
            ms(push),
            if hooks { "init + fetch" } else { "fetch" },
            ms(clone),
            ms(gc),
            ms(noop),
            ms(code),
        );
    }
    // create at n actors against create at 100 (a repository with 100 actors).
    let small = new_repo(root, "small");
    actors(&small, 100);
    for (dir, count) in [(&small, 100), (&a, n)] {
        let took = median(51, || {
            let mut c = in_dir(dir, exe("issue"), &["create", "--title", "x"]);
            c.stdout(std::process::Stdio::null());
            c
        });
        println!("create with {count:>6} actors: median {:.2} ms", ms(took));
    }
}
