//! Benchmarks of the foundation, each against a baseline measured in the same run:
//! `git issue create` per process, `list --json` at 10k and 100k issues, a full rebuild, and
//! the size of `.git` after 10k creates. `benches/run --bench issue` (release build).
//! `GRIT_BENCH_SMALL=1` scales everything down 10x for a quick look.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{exe, file_creation, generate, git, med, median, medians, ms, new_repo, rev_parse, scratch};
use grit::index::Index;
use grit::repo::Repo;
use grit::wal;

fn bench_create(root: &Path) {
    let dir = new_repo(root, "create");
    let issue = exe("issue");
    let mut create = || {
        let mut c = Command::new(&issue);
        c.args(["create", "--title", "A new issue", "--label", "bug"])
            .current_dir(&dir)
            .env("GRIT_NO_AUTO_GC", "1");
        c
    };
    let before = file_creation(&dir.join(".git"));
    median(20, create);
    // A second baseline that writes: a ref update creates a lock file and renames it into place,
    // as every append does. On a file system where creating a file is slow just now (see
    // docs/performance.md), it shows, and so does the cost of creating one, probed before and
    // after. Each run creates a new ref: replacing one would free an inode per run, and freed
    // inodes are what slows the next creations there, the appends' included.
    let head = git(&dir, &["rev-parse", "HEAD"]);
    let mut n = 0;
    let mut update_ref = || {
        n += 1;
        let mut c = Command::new("git");
        c.args(["update-ref", &format!("refs/bench/{n}"), head.trim()])
            .current_dir(&dir);
        c
    };
    let [ours, base, writes] = medians(301, [&mut create, &mut rev_parse(&dir), &mut update_ref]);
    println!(
        "create           median {:7.2} ms   baseline git rev-parse HEAD {:5.2} ms   ratio {:4.2}   \
         git update-ref {:5.2} ms   creating a file there {:.0} µs before, {:.0} µs after   (target <= 3 ms)",
        ms(ours),
        ms(base),
        ms(ours) / ms(base),
        ms(writes),
        before.as_secs_f64() * 1e6,
        file_creation(&dir.join(".git")).as_secs_f64() * 1e6,
    );
}

fn bench_list(root: &Path, issues: usize) -> PathBuf {
    let dir = new_repo(root, &format!("list-{issues}"));
    let start = Instant::now();
    let events = generate(&dir, issues, 3000);
    let generated = start.elapsed();
    let issue = exe("issue");
    let mut list = || {
        let mut c = Command::new(&issue);
        c.args(["list", "--json", "--limit", "0", "--state", "all"])
            .current_dir(&dir);
        c
    };
    let start = Instant::now();
    let first = list().stdout(Stdio::null()).status().unwrap();
    assert!(first.success());
    let fold = start.elapsed();
    let [ours, base] = medians(21, [&mut list, &mut rev_parse(&dir)]);
    let default_limit = median(21, || {
        let mut c = Command::new(&issue);
        c.args(["list", "--json"]).current_dir(&dir);
        c
    });
    println!(
        "list --json {issues:>6} issues ({events} events, generated in {:.1} s): first run incl. fold {:.0} ms; \
         median {:7.2} ms   baseline {:5.2} ms   ratio {:5.1}   default --limit 30: {:.2} ms",
        generated.as_secs_f64(),
        ms(fold),
        ms(ours),
        ms(base),
        ms(ours) / ms(base),
        ms(default_limit)
    );
    dir
}

/// A full rebuild, first with the chunks loose as appends leave them, then packed as `git gc`
/// leaves them (compressed, and deltified where git finds it worth it).
fn bench_rebuild(dir: &Path) {
    rebuild_once(dir, "loose");
    git(dir, &["repack", "-a", "-d", "-q"]);
    git(dir, &["prune-packed"]);
    rebuild_once(dir, "packed");
}

fn rebuild_once(dir: &Path, objects: &str) {
    let repo = Repo::discover(dir).unwrap();
    let start = Instant::now();
    let mut read = 0;
    for (name, tip) in grit::refs::list_refs(&repo, wal::WAL_PREFIX).unwrap() {
        for commit in wal::new_commits(&repo, tip, |_| Ok(false)).unwrap() {
            read += wal::read_chunk(&repo, &name, commit).unwrap().events.len();
        }
    }
    let reading = start.elapsed();
    // The machine is noisy and one rebuild takes about a second: take the median of five,
    // each alternating with the baseline.
    let (mut ours, mut base, mut stats) = (Vec::new(), Vec::new(), None);
    for _ in 0..5 {
        let start = Instant::now();
        let (index, folded) = Index::open(&repo).unwrap().rebuild(&repo, false).unwrap();
        ours.push(start.elapsed());
        drop(index);
        stats = Some(folded);
        base.push(read_every_object(dir));
    }
    let (stats, took, base) = (stats.unwrap(), med(ours), med(base));
    println!(
        "rebuild {objects:<8} {} events from {} commits in {:.0} ms = {:.0} events/s (reading and decoding alone: {read} in {:.0} ms)   baseline git cat-file --batch-all-objects {:.0} ms   ratio {:.2}   (target >= 300,000/s)",
        stats.events,
        stats.commits,
        ms(took),
        stats.events as f64 / took.as_secs_f64(),
        ms(reading),
        ms(base),
        ms(took) / ms(base)
    );
}

/// The baseline of the rebuild, check and verify: git reading every object of the repository.
fn read_every_object(dir: &Path) -> Duration {
    let start = Instant::now();
    let out = Command::new("git")
        .args(["cat-file", "--batch-all-objects", "--batch"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(out.success());
    start.elapsed()
}

/// `git wal check` and `git wal verify` over the whole log, as processes, each alternating with
/// the same baseline as the rebuild (they read the same data).
fn bench_health(dir: &Path) {
    let wal_exe = exe("wal");
    let events = {
        let repo = Repo::discover(dir).unwrap();
        Index::open(&repo).unwrap().event_count().unwrap()
    };
    for what in ["check", "verify"] {
        let (mut ours, mut base) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let start = Instant::now();
            let st = Command::new(&wal_exe)
                .args([what, "--json"])
                .current_dir(dir)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(st.success(), "git wal {what} found problems");
            ours.push(start.elapsed());
            base.push(read_every_object(dir));
        }
        let (took, base) = (med(ours), med(base));
        println!(
            "wal {what:<7} {events} events in {:.0} ms = {:.0} events/s   baseline git cat-file --batch-all-objects {:.0} ms   ratio {:.2}   (target >= 300,000/s)",
            ms(took),
            events as f64 / took.as_secs_f64(),
            ms(base),
            ms(took) / ms(base)
        );
    }
}

fn du(path: &Path) -> u64 {
    let out = git(path, &["count-objects", "-v"]);
    let kib: u64 = out
        .lines()
        .filter(|l| l.starts_with("size:") || l.starts_with("size-pack:"))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    let index = std::fs::metadata(path.join(".git/grit/index/data.mdb")).map_or(0, |m| m.len());
    kib * 1024 + index
}

fn disk_usage(path: &Path) -> u64 {
    let out = Command::new("du")
        .args(["-sk", ".git"])
        .current_dir(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

fn bench_size(root: &Path, issues: usize) {
    let dir = new_repo(root, "size");
    let issue = exe("issue");
    let start = Instant::now();
    for i in 0..issues {
        let st = Command::new(&issue)
            .args([
                "create",
                "--title",
                &format!("Issue number {i}: something to do"),
                "--label",
                "bug",
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
    }
    let took = start.elapsed();
    // Let a background `git gc --auto` finish before measuring.
    while dir.join(".git/gc.pid").exists() || dir.join(".git/grit/repack.running").exists() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let ours = disk_usage(&dir);
    let objects_and_index = du(&dir);
    git(&dir, &["gc", "-q", "--prune=now"]);
    let packed = disk_usage(&dir);
    println!(
        "size             {issues} issues, one process each ({:.1} s, {:.2} ms per create): .git {:.1} MB on disk   \
         baseline after `git gc --prune=now` {:.1} MB   ratio {:.2}   (objects + index {:.1} MB; target <= 30 MB)",
        took.as_secs_f64(),
        ms(took) / issues as f64,
        ours as f64 / 1e6,
        packed as f64 / 1e6,
        ours as f64 / packed as f64,
        objects_and_index as f64 / 1e6
    );
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters by benchmark name.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let on = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let scale = if std::env::var_os("GRIT_BENCH_SMALL").is_some() {
        10
    } else {
        1
    };
    let tmp = scratch();
    let root = tmp.path();
    println!(
        "grit benchmarks ({} cores); medians of repeated process runs",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    // The build that precedes a bench leaves the disk busy writing back; on this VM that slows
    // every file creation for a while, and `create` makes four.
    let _ = Command::new("sync").status();
    if on("create") {
        bench_create(root);
    }
    if on("list") || on("rebuild") || on("health") {
        bench_list(root, 10_000 / scale);
        let big = bench_list(root, 100_000 / scale);
        if on("rebuild") {
            bench_rebuild(&big);
        }
        if on("rebuild") || on("health") {
            bench_health(&big);
        }
    }
    if on("size") {
        bench_size(root, 10_000 / scale);
    }
}
