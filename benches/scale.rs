//! Many actors, with the hooks installed, against the same operations with the hooks off:
//! the first push to a fresh bare remote, a fresh clone's `git wal init && git fetch` and first
//! `list`, `git gc` in that clone, a no-op `git fetch` (with the size of the ref advertisement),
//! `git issue create` against 100 actors, and a push of code alone. `benches/run --bench scale`;
//! `GRIT_BENCH_ACTORS` sets the number of actors (10,000 by default).

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

fn main() {
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
