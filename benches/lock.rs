//! Benchmarks of `git lock` with 1,000 active leases held by another actor, each against a
//! baseline in the same run: `acquire --local` and `check` (baseline: `git rev-parse HEAD`),
//! and what the pre-commit check adds to `git commit` (baseline: the same commit without the
//! hook). `benches/run --bench lock` (release build); `GRIT_BENCH_SMALL=1` scales down 10x.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{exe, file_creation, git, med, median, ms, new_repo, rev_parse, scratch, timed};
use grit::lock::{self, Resource, Scope};
use grit::repo::Repo;

/// `n` active leases held by the repository's default actor, in one transaction.
fn hold(dir: &Path, n: usize) {
    let repo = Repo::discover(dir).unwrap();
    let actor = grit::actor::current(&repo).unwrap();
    let resources: Vec<Resource> = (0..n)
        .map(|i| Resource::Path {
            path: format!("dir{}/file{i}.rs", i % 50),
            dir: false,
        })
        .collect();
    let who = lock::Actor::of(&actor);
    let req = lock::Request {
        resources: &resources,
        ttl: Duration::from_secs(3600),
        note: "bench",
        scope: Scope::Local,
        wait: None,
        optimistic: false,
    };
    assert!(lock::acquire(&repo, None, &who, &req).is_ok());
    // What the background maintenance after writes would have done.
    git(dir, &["repack", "-d", "-q"]);
    git(dir, &["pack-refs", "--all"]);
}

fn main() {
    let small = std::env::var_os("GRIT_BENCH_SMALL").is_some();
    let n = if small { 100 } else { 1000 };
    let runs = if small { 21 } else { 101 };
    let tmp = scratch();
    let dir = new_repo(tmp.path(), "locks");
    hold(&dir, n);
    let other = |args: &[&str]| {
        let mut c = Command::new(exe("lock"));
        c.args(args)
            .current_dir(&dir)
            .env("GRIT_ACTOR", "other")
            .env("GRIT_NO_AUTO_GC", "1");
        c
    };
    // Another actor (created on first use, outside the timing).
    assert!(other(&["status"]).status().unwrap().success());
    let mut i = 0;
    let acquire = median(runs, || {
        i += 1;
        other(&["acquire", "--local", &format!("path:new/f{i}.rs")])
    });
    let check = median(runs, || other(&["check", "dir7/file7.rs", "src/free.rs"]));
    let base = median(runs, rev_parse(&dir));
    // An acquire creates files (a commit, a ref and its lock): see docs/performance.md.
    println!(
        "git lock acquire --local with {n} active locks: median {:6.2} ms   baseline git rev-parse HEAD {:5.2} ms   ratio {:4.1}   creating a file there {:.0} µs   (target <= 5 ms)",
        ms(acquire),
        ms(base),
        ms(acquire) / ms(base),
        file_creation(&dir.join(".git")).as_secs_f64() * 1e6,
    );
    println!(
        "git lock check (2 paths, one locked) with {n} active locks: median {:6.2} ms   baseline {:5.2} ms   ratio {:4.1}   (target <= 10 ms)",
        ms(check),
        ms(base),
        ms(check) / ms(base)
    );

    // The pre-commit hook alone, in a clone that sees the same leases.
    let hooked = tmp.path().join("hooked");
    git(
        tmp.path(),
        &["clone", "-q", dir.to_str().unwrap(), hooked.to_str().unwrap()],
    );
    git(&hooked, &["fetch", "-q", "origin", "+refs/grit/*:refs/grit/*"]);
    git(&hooked, &["pack-refs", "--all"]);
    git(&hooked, &["config", "user.name", "Other"]);
    git(&hooked, &["config", "user.email", "other@example.com"]);
    let install = Command::new(exe("wal"))
        .args(["hooks", "install"])
        .current_dir(&hooked)
        .output()
        .unwrap();
    assert!(install.status.success());
    for h in ["reference-transaction", "pre-push"] {
        std::fs::remove_file(hooked.join(".git/hooks").join(h)).unwrap();
    }
    let plain = new_repo(tmp.path(), "plain");
    let commit = |d: &Path, file: &str| {
        std::fs::write(d.join(file), file).unwrap();
        git(d, &["add", file]);
        let mut c = Command::new("git");
        c.args(["commit", "-q", "-m", file])
            .current_dir(d)
            .env("GRIT_ACTOR", "other");
        c
    };
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for k in 0..runs {
        let f = format!("free{k}.txt");
        without.push(timed(commit(&plain, &f)));
        with.push(timed(commit(&hooked, &f)));
    }
    let (w, wo) = (med(with), med(without));
    println!(
        "git commit with the pre-commit lock check, {n} active locks: {:6.2} ms   without the hook {:6.2} ms   adds {:5.2} ms   (target <= 10 ms)",
        ms(w),
        ms(wo),
        ms(w) - ms(wo)
    );
}
