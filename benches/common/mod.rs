//! Helpers shared by the benchmarks: binaries, git, repositories, timing, a fast generator.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use grit::actor;
use grit::event::{Event, FORMAT_VERSION, Kind};
use grit::repo::Repo;
use grit::wal;

pub fn exe(tool: &str) -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_git-issue")).with_file_name(format!("git-{tool}"))
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where a benchmark keeps its repositories: `GRIT_BENCH_DIR`, else the scratch directory cargo
/// gives benchmarks inside `target/`. Not the system temp dir by default: builds and test suites
/// create and delete thousands of files there, and where the file system skips recently freed
/// inodes one by one (ext4 without a journal), every file created near them pays for each for
/// minutes (see docs/performance.md).
pub fn scratch() -> tempfile::TempDir {
    let base =
        std::env::var_os("GRIT_BENCH_DIR").map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")), PathBuf::from);
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

pub fn new_repo(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["config", "user.name", "Bench"]);
    git(&dir, &["config", "user.email", "bench@example.com"]);
    git(&dir, &["commit", "-q", "--allow-empty", "-m", "root"]);
    dir
}

/// One run of a command, output discarded: its wall time.
fn run(mut c: Command) -> Duration {
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let start = Instant::now();
    let status = c.status().expect("command runs");
    let took = start.elapsed();
    assert!(status.success(), "{c:?} failed");
    took
}

/// Median wall time of `runs` runs of a command.
pub fn median(runs: usize, mut cmd: impl FnMut() -> Command) -> Duration {
    med((0..runs).map(|_| run(cmd())).collect())
}

/// Medians of `runs` runs each of several commands, run in turn: when the machine's speed drifts
/// (it does, here), all see the same drift and their ratios stay honest.
pub fn medians<const N: usize>(runs: usize, mut cmds: [&mut dyn FnMut() -> Command; N]) -> [Duration; N] {
    let mut times: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::with_capacity(runs));
    for _ in 0..runs {
        for (cmd, t) in cmds.iter_mut().zip(&mut times) {
            t.push(run(cmd()));
        }
    }
    times.map(med)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn rev_parse(dir: &Path) -> impl FnMut() -> Command + '_ {
    move || {
        let mut c = Command::new("git");
        c.args(["rev-parse", "HEAD"]).current_dir(dir);
        c
    }
}

/// Writes `issues` issues with 3 events each (created, label added, comment) straight into one
/// actor's WAL, `per_chunk` events per commit, as a fast in-process generator.
pub fn generate(dir: &Path, issues: usize, per_chunk: usize) -> usize {
    let repo = Repo::discover(dir).unwrap();
    let actor = actor::current(&repo).unwrap();
    let mut batch = Vec::with_capacity(per_chunk);
    let mut total = 0;
    let mut lamport = 0;
    for i in 0..issues {
        let mut ev = |entity, parents, kind| {
            lamport += 1;
            Event {
                version: FORMAT_VERSION,
                entity,
                actor: actor.id(),
                lamport,
                wall_ms: 1_763_700_000_000 + i as u64,
                parents,
                kind,
            }
            .sign(&actor.key)
        };
        let created = ev(
            None,
            vec![],
            Kind::IssueCreated {
                title: format!("Issue number {i}: something to do"),
                body: "A body of a typical length, a sentence or two.".into(),
                labels: vec![["bug", "docs", "ui"][i % 3].into()],
            },
        );
        let labelled = ev(
            Some(created.id),
            vec![created.id],
            Kind::LabelAdded {
                label: format!("p{}", i % 4),
            },
        );
        let commented = ev(
            Some(created.id),
            vec![labelled.id],
            Kind::CommentAdded {
                body: "Looking at it.".into(),
            },
        );
        batch.extend([created, labelled, commented]);
        if batch.len() >= per_chunk || i + 1 == issues {
            total += batch.len();
            wal::append(&repo, &actor.id(), &actor.author(1_763_700_000_000), &batch).unwrap();
            batch.clear();
        }
    }
    total
}

/// PATH with the built binaries first, as an installed suite would be (hooks find `git-wal`).
pub fn path_with_binaries() -> String {
    format!(
        "{}:{}",
        exe("wal").parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs a command once, output discarded, with the built binaries on PATH; its wall time.
pub fn timed(mut c: Command) -> Duration {
    c.env("PATH", path_with_binaries());
    run(c)
}

/// What creating an empty file in `dir` costs just now (median of 101; the files are left for the
/// scratch directory's cleanup, as deleting them would slow the next creations).
pub fn file_creation(dir: &Path) -> Duration {
    static PROBES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = dir.join(format!("file-creation-probe-{n}"));
    std::fs::create_dir_all(&probe).unwrap();
    med((0..101)
        .map(|i| {
            let start = Instant::now();
            std::fs::File::create_new(probe.join(i.to_string())).unwrap();
            start.elapsed()
        })
        .collect())
}

/// The median of some timings.
pub fn med(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// User and system CPU time of this process's waited-for children so far: what the commands a
/// benchmark ran used, across all its threads.
pub fn children_cpu() -> Duration {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid rusage for the kernel to fill.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(u.ru_utime) + tv(u.ru_stime)
}
