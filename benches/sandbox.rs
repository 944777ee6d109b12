//! Benchmarks of `git sandbox`, each against baselines in the same run: creating a sandbox of a
//! repository with ~20,000 tracked files (~200 MB) and an ignored build directory of ~30,000
//! files (~500 MB) against `git worktree add` alone and `cp -a`; whether a fresh `cargo build`
//! stays fresh in the sandbox; `git sandbox list` with 50 sandboxes; and the workflows: a
//! cargo-shaped repository whose target/ holds hard links and a small repository, each against
//! `git worktree add` + `cp -a`, a matrix of 8 on overlay against one sandbox, and what
//! `--isolate` adds to a command; and what a remote executor adds to a command (`remote`, against
//! an sshd named by `GRIT_BENCH_SSH`); and a real crate's second sandbox with the cargo cache
//! against one without it (`cache`, run only when named: this repository, or `GRIT_BENCH_CRATE`).
//! `benches/run --bench sandbox` (release build); `GRIT_BENCH_SMALL=1` scales down 10x.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{exe, git, med, ms, new_repo, scratch, timed};

fn sandbox(dir: &Path, data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(exe("sandbox"));
    c.args(args).current_dir(dir).env("XDG_DATA_HOME", data);
    c
}

/// The path of the first sandbox `git sandbox list` shows.
fn first_sandbox(repo: &Path, data: &Path) -> std::path::PathBuf {
    let out = Command::new(exe("sandbox"))
        .args(["list", "--json"])
        .current_dir(repo)
        .env("XDG_DATA_HOME", data)
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    std::path::PathBuf::from(list[0]["path"].as_str().unwrap())
}

/// Writes `n` files of `size` bytes under `root/prefix`, 100 per directory.
fn fill(root: &Path, prefix: &str, n: usize, size: usize) {
    let mut block = vec![0u8; size];
    for i in 0..n {
        let dir = root.join(prefix).join(format!("d{:04}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        // Distinct contents, so git stores every file.
        block[..8].copy_from_slice(&(i as u64).to_le_bytes());
        for (j, b) in block.iter_mut().enumerate().skip(8) {
            *b = b'a' + ((i + j) % 26) as u8;
        }
        std::fs::write(dir.join(format!("f{i}.txt")), &block).unwrap();
    }
}

fn drop_caches_hint() -> &'static str {
    "page cache warm (files just written)"
}

fn bench_create(root: &Path, scale: usize) {
    let repo = new_repo(root, "big");
    let (tracked, ignored) = (20_000 / scale, 30_000 / scale);
    let start = Instant::now();
    fill(&repo, "src", tracked, 10_000);
    std::fs::write(repo.join(".gitignore"), "build/\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "tracked files"]);
    fill(&repo, "build", ignored, 17_000);
    println!(
        "repository: {tracked} tracked files (~{} MB), {ignored} ignored files (~{} MB), made in {:.0} s; {}",
        tracked * 10_000 / 1_000_000,
        ignored * 17_000 / 1_000_000,
        start.elapsed().as_secs_f64(),
        drop_caches_hint()
    );
    let data = root.join("data");
    let runs = 3;
    let (mut ours, mut wt, mut cp_ignored, mut cp_all) = (vec![], vec![], vec![], vec![]);
    for i in 0..runs {
        let name = format!("b{i}");
        ours.push(timed(sandbox(
            &repo,
            &data,
            &["run", &name, "--backend", "copy", "--keep", "--", "true"],
        )));
        timed(sandbox(&repo, &data, &["rm", &name, "--force"]));
        let w = root.join(format!("wt{i}"));
        let mut c = Command::new("git");
        c.args(["worktree", "add", "-q", "-b", &format!("wt{i}"), w.to_str().unwrap()])
            .current_dir(&repo);
        wt.push(timed(c));
        let mut c = Command::new("cp");
        c.args([
            "-a",
            repo.join("build").to_str().unwrap(),
            w.join("build").to_str().unwrap(),
        ]);
        cp_ignored.push(timed(c));
        let full = root.join(format!("cp{i}"));
        let mut c = Command::new("cp");
        c.args(["-a", repo.to_str().unwrap(), full.to_str().unwrap()]);
        cp_all.push(timed(c));
        std::fs::remove_dir_all(&full).unwrap();
        git(&repo, &["worktree", "remove", "--force", w.to_str().unwrap()]);
        git(&repo, &["branch", "-D", "-q", &format!("wt{i}")]);
    }
    let (o, w, ci, ca) = (med(ours), med(wt), med(cp_ignored), med(cp_all));
    println!(
        "git sandbox run (copy backend): {:7.0} ms   baselines: git worktree add {:5.0} ms + cp -a of the ignored files {:5.0} ms = {:5.0} ms (ratio {:.2}; target <= 1.0)   cp -a of the whole tree {:5.0} ms",
        ms(o),
        ms(w),
        ms(ci),
        ms(w) + ms(ci),
        ms(o) / (ms(w) + ms(ci)),
        ms(ca)
    );
    // Overlay: the first sandbox on a base materialises the layer, later ones only mount.
    if grit::sandbox::overlay::probe(root).is_ok() {
        let first = timed(sandbox(
            &repo,
            &data,
            &["run", "ov0", "--backend", "overlay", "--", "true"],
        ));
        let mut later: Vec<Duration> = (1..6)
            .map(|i| {
                timed(sandbox(
                    &repo,
                    &data,
                    &["run", &format!("ov{i}"), "--backend", "overlay", "--", "true"],
                ))
            })
            .collect();
        later.sort();
        println!(
            "git sandbox run (overlay backend): first on this base {:6.0} ms (materialises the layer)   \
             second and later: median {:5.1} ms   (target <= 100 ms)",
            ms(first),
            ms(later[2])
        );
        for i in 0..6 {
            timed(sandbox(&repo, &data, &["rm", &format!("ov{i}"), "--force"]));
        }
    } else {
        println!("git sandbox run (overlay backend): skipped, this process cannot mount an overlay");
    }
    // The first `git status` in a fresh sandbox (its index was refreshed during creation).
    timed(sandbox(
        &repo,
        &data,
        &["run", "st", "--backend", "copy", "--keep", "--", "true"],
    ));
    let path = first_sandbox(&repo, &data);
    let mut c = Command::new("git");
    c.args(["status", "--porcelain"]).current_dir(&path);
    let first = timed(c);
    let mut c = Command::new("git");
    c.args(["status", "--porcelain"]).current_dir(&repo);
    let main_status = timed(c);
    println!(
        "first git status in the fresh sandbox {:.0} ms   (git status in the main tree {:.0} ms)",
        ms(first),
        ms(main_status)
    );
}

fn bench_cargo(root: &Path) {
    let Ok(v) = Command::new("cargo").arg("--version").output() else {
        println!("cargo build freshness: skipped (no cargo on PATH)");
        return;
    };
    assert!(v.status.success());
    let repo = new_repo(root, "crate");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    std::fs::write(
        repo.join("Cargo.toml"),
        "[package]\nname = \"fresh\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(repo.join("src/main.rs"), "fn main() { println!(\"hi\"); }\n").unwrap();
    std::fs::write(repo.join("src/lib.rs"), "pub fn f() -> u32 { 7 }\n").unwrap();
    std::fs::write(repo.join(".gitignore"), "target/\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "crate"]);
    let build = |dir: &Path| {
        let out = Command::new("cargo")
            .args(["build", "--offline"])
            .current_dir(dir)
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.trim_start().starts_with("Compiling"))
            .count()
    };
    build(&repo);
    let data = root.join("data-cargo");
    timed(sandbox(&repo, &data, &["run", "cargo", "--keep", "--", "true"]));
    let path = first_sandbox(&repo, &data);
    let rebuilt = build(&path);
    println!(
        "cargo build in a fresh sandbox after a fresh build in the main tree: {rebuilt} crate(s) rebuilt (target 0)"
    );
}

/// A real crate's second sandbox with the cargo cache against its first (no cache yet: the
/// same full build a sandbox without the cache does): this repository itself, or the one
/// `GRIT_BENCH_CRATE` names, cloned, built with `cargo build --offline` (debug).
fn bench_cargo_cache(root: &Path) {
    if Command::new("cargo").arg("--version").output().is_err() {
        println!("cargo cache: skipped (no cargo on PATH)");
        return;
    }
    let source = std::env::var("GRIT_BENCH_CRATE").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    let repo = root.join("real-crate");
    let out = Command::new("git")
        .args(["clone", "-q", "--no-hardlinks", &source])
        .arg(&repo)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    git(&repo, &["config", "sandbox.template.rust.cache", "cargo"]);
    let data = root.join("data-real-crate");
    let build = |name: &str, template: bool| {
        let mut args = vec!["run", name, "--keep"];
        if template {
            args.extend(["--template", "rust"]);
        }
        args.extend(["--", "cargo", "build", "--offline", "--quiet"]);
        let mut c = sandbox(&repo, &data, &args);
        // What `benches/run` sets for grit's own static build is not the crate's.
        for (k, _) in std::env::vars() {
            if k.starts_with("CARGO_TARGET_") || k.starts_with("CARGO_BUILD_") || k.ends_with("RUSTFLAGS") {
                c.env_remove(k);
            }
        }
        timed(c)
    };
    // The package's name, from its manifest.
    let name = std::fs::read_to_string(repo.join("Cargo.toml"))
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.trim().strip_prefix("name = ").map(|n| n.trim_matches('"').to_owned()))
        })
        .unwrap_or_else(|| "the crate".into());
    let without = build("plain", false);
    let first = build("first", true);
    let second = build("second", true);
    println!(
        "{name}, cargo build in a new sandbox: {:.1} s without the cache, {:.1} s for the template's first (fills it), {:.1} s for its second ({:.0}x)",
        without.as_secs_f64(),
        first.as_secs_f64(),
        second.as_secs_f64(),
        without.as_secs_f64() / second.as_secs_f64().max(0.001)
    );
}

fn bench_list(root: &Path, n: usize) {
    let repo = new_repo(root, "many");
    std::fs::write(repo.join("a.txt"), "a").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "a"]);
    let data = root.join("data-many");
    for i in 0..n {
        timed(sandbox(
            &repo,
            &data,
            &["run", &format!("s{i}"), "--keep", "--", "true"],
        ));
    }
    let mut times: Vec<Duration> = (0..11)
        .map(|_| timed(sandbox(&repo, &data, &["list", "--json"])))
        .collect();
    times.sort();
    let mut c = Command::new("git");
    c.args(["worktree", "list", "--porcelain"]).current_dir(&repo);
    let base = timed(c);
    println!(
        "git sandbox list with {n} sandboxes: median {:.1} ms   baseline git worktree list {:.1} ms   (target <= 50 ms)",
        ms(times[5]),
        ms(base)
    );
}

/// `fleet` (overlay) and `fleet-copy`: a repository of `files` tracked files with `n` sandboxes
/// of `backend` (a few of them changed), and `list --json` cold (every sandbox checked in full:
/// what every list cost before the kept answers) against warm (nothing changed since), beside
/// `git status` in each sandbox; then `merge --all --plan` over them.
fn bench_fleet(root: &Path, files: usize, n: usize, backend: &str) {
    let repo = new_repo(root, &format!("fleet-{backend}"));
    fill(&repo, "src", files, 64);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "files"]);
    let data = root.join(format!("data-fleet-{backend}"));
    if backend == "overlay" && grit::sandbox::overlay::probe(root).is_err() {
        println!("fleet: skipped, this process cannot mount an overlay here");
        return;
    }
    let made = Instant::now();
    for i in 0..n {
        let name = format!("s{i:03}");
        // Every tenth sandbox has a commit of its own and an uncommitted change.
        let args: Vec<String> = if i % 10 == 0 {
            vec![
                "run".into(),
                name.clone(),
                "--backend".into(),
                backend.into(),
                "--commit".into(),
                format!("{name} work"),
                "--sh".into(),
                "--".into(),
                format!("echo {i} > src/d0000/f{}.txt && echo {i} > {name}.txt", i % 100),
            ]
        } else {
            ["run", &name, "--backend", backend, "--keep", "--", "true"]
                .map(String::from)
                .to_vec()
        };
        let out = sandbox(&repo, &data, &args.iter().map(String::as_str).collect::<Vec<_>>())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    println!(
        "fleet: {files} files, {n} {backend} sandboxes made in {:.1} s",
        made.elapsed().as_secs_f64()
    );
    // Cold: no kept answer, every sandbox checked in full (as every list did before).
    let cold = {
        for e in std::fs::read_dir(repo.join(".git/grit/sandboxes")).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "status") {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
        timed(sandbox(&repo, &data, &["list", "--json"]))
    };
    let warm = med((0..11)
        .map(|_| timed(sandbox(&repo, &data, &["list", "--json"])))
        .collect());
    let listed: serde_json::Value =
        serde_json::from_slice(&sandbox(&repo, &data, &["list", "--json"]).output().unwrap().stdout).unwrap();
    let started = Instant::now();
    for s in listed.as_array().unwrap() {
        let mut c = Command::new("git");
        c.args(["status", "--porcelain"])
            .current_dir(s["path"].as_str().unwrap());
        c.output().unwrap();
    }
    let statuses = started.elapsed();
    println!(
        "git sandbox list --json, {n} {backend} sandboxes: warm median {:.1} ms, cold (every one checked) {:.1} ms   \
         baseline git status in each {:.1} ms   (target <= 250 ms)",
        ms(warm),
        ms(cold),
        ms(statuses)
    );
    let plan = timed(sandbox(&repo, &data, &["merge", "--all", "--plan", "--json"]));
    println!(
        "git sandbox merge --all --plan over {n} sandboxes: {:.1} ms   (target <= 10 s)",
        ms(plan)
    );
}

/// A cargo-shaped tree: `tracked` source files, and a target/ of `built` files where every
/// fifth one also has a second name under deps/ (as cargo leaves its outputs).
fn cargo_shaped(root: &Path, name: &str, tracked: usize, built: usize, size: usize) -> std::path::PathBuf {
    let repo = new_repo(root, name);
    fill(&repo, "src", tracked, size);
    std::fs::write(repo.join(".gitignore"), "target/\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "tracked files"]);
    fill(&repo, "target/debug/build", built, size);
    let deps = repo.join("target/debug/deps");
    std::fs::create_dir_all(&deps).unwrap();
    let mut links = 0;
    for d in std::fs::read_dir(repo.join("target/debug/build")).unwrap().flatten() {
        for (i, f) in std::fs::read_dir(d.path()).unwrap().flatten().enumerate() {
            if i % 5 == 0 {
                std::fs::hard_link(f.path(), deps.join(f.file_name())).unwrap();
                links += 1;
            }
        }
    }
    println!("{name}: {tracked} tracked files, {built} built files with {links} hard links");
    repo
}

/// Median of 5 alternating runs: `git sandbox run --backend copy` against `git worktree add` +
/// `cp -a target`.
fn copy_against_baseline(root: &Path, repo: &Path, what: &str, target: f64) {
    let data = root.join(format!("data-{what}"));
    let (mut ours, mut base) = (vec![], vec![]);
    for i in 0..5 {
        let name = format!("c{i}");
        ours.push(timed(sandbox(
            repo,
            &data,
            &["run", &name, "--backend", "copy", "--keep", "--", "true"],
        )));
        timed(sandbox(repo, &data, &["rm", &name, "--force"]));
        let w = root.join(format!("{what}-wt{i}"));
        let start = Instant::now();
        git(
            repo,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                &format!("{what}-wt{i}"),
                w.to_str().unwrap(),
            ],
        );
        let status = Command::new("cp")
            .args([
                "-a",
                repo.join("target").to_str().unwrap(),
                w.join("target").to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(status.success());
        base.push(start.elapsed());
        git(repo, &["worktree", "remove", "--force", w.to_str().unwrap()]);
        git(repo, &["branch", "-D", "-q", &format!("{what}-wt{i}")]);
    }
    let (o, b) = (med(ours), med(base));
    println!(
        "{what:<14} git sandbox run (copy) {:6.0} ms   baseline git worktree add + cp -a target {:6.0} ms   ratio {:.2}   (target <= {target})",
        ms(o),
        ms(b),
        ms(o) / ms(b)
    );
}

fn bench_workflows(root: &Path, scale: usize) {
    let cargo = cargo_shaped(root, "cargo-shaped", 4000 / scale, 6000 / scale, 20_000);
    copy_against_baseline(root, &cargo, "cargo-shaped", 1.0);
    let small = cargo_shaped(root, "small", 4000 / scale, 3000 / scale, 300);
    copy_against_baseline(root, &small, "small", 1.5);

    // A matrix of 8 on overlay against one sandbox, each from nothing (no layer yet).
    if grit::sandbox::overlay::probe(root).is_ok() {
        let repo = new_repo(root, "matrix");
        for i in 0..8 {
            fill(&repo, &format!("items/i{i}"), 200 / scale.min(4), 2000);
        }
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "items"]);
        let data = root.join("data-matrix");
        let (mut one, mut eight) = (vec![], vec![]);
        for i in 0..3 {
            one.push(timed(sandbox(
                &repo,
                &data,
                &["run", &format!("one{i}"), "--backend", "overlay", "--", "true"],
            )));
            timed(sandbox(&repo, &data, &["rm", &format!("one{i}"), "--force"]));
            let m = format!("m{i}");
            eight.push(timed(sandbox(
                &repo,
                &data,
                &[
                    "run",
                    &m,
                    "--matrix",
                    "items/*",
                    "--backend",
                    "overlay",
                    "--discard",
                    "--",
                    "true",
                ],
            )));
        }
        let (o, e) = (med(one), med(eight));
        println!(
            "matrix of 8 on overlay {:6.0} ms   baseline one sandbox on overlay {:6.0} ms   ratio {:.2}   (target <= 3)",
            ms(e),
            ms(o),
            ms(e) / ms(o)
        );
    } else {
        println!("matrix of 8 on overlay: skipped, this process cannot mount an overlay");
    }

    // What --isolate adds to a command.
    if grit::sandbox::isolate::probe().is_ok() {
        let data = root.join("data-isolate");
        timed(sandbox(
            &small,
            &data,
            &["run", "iso", "--backend", "copy", "--keep", "--", "true"],
        ));
        let (mut plain, mut isolated, mut bare, mut listed) = (vec![], vec![], vec![], vec![]);
        for _ in 0..11 {
            plain.push(timed(sandbox(&small, &data, &["exec", "iso", "--", "true"])));
            isolated.push(timed(sandbox(
                &small,
                &data,
                &["exec", "iso", "--isolate", "--", "true"],
            )));
            bare.push(timed(sandbox(
                &small,
                &data,
                &["exec", "iso", "--isolate", "--seccomp", "off", "--", "true"],
            )));
            listed.push(timed(sandbox(
                &small,
                &data,
                &[
                    "exec",
                    "iso",
                    "--isolate",
                    "--allow-host",
                    "example.org:443",
                    "--",
                    "true",
                ],
            )));
        }
        let (p, i, b, l) = (med(plain), med(isolated), med(bare), med(listed));
        println!(
            "the allowlist (--allow-host) adds {:5.1} ms   ({:6.1} ms against --isolate alone; target <= 20 ms)",
            ms(l) - ms(i),
            ms(l)
        );
        println!(
            "exec --isolate -- true {:6.1} ms   baseline exec -- true {:6.1} ms   adds {:5.1} ms   (target <= 50 ms)",
            ms(i),
            ms(p),
            ms(i) - ms(p)
        );
        println!(
            "the seccomp filter of --isolate adds {:5.1} ms   (--seccomp off {:6.1} ms; target <= 5 ms)",
            ms(i) - ms(b),
            ms(b)
        );
    } else {
        println!("--isolate: skipped, bubblewrap cannot make namespaces here");
    }
}

/// What running on a remote executor costs over running here: `exec -- true` in a sandbox on
/// `GRIT_BENCH_SSH` (an ssh destination that logs in without a password; options such as a
/// port or key in `GRIT_BENCH_SSH_COMMAND`) against the same in a local sandbox, alternating.
fn bench_remote(root: &Path) {
    let Ok(destination) = std::env::var("GRIT_BENCH_SSH") else {
        println!(
            "remote: skipped; set GRIT_BENCH_SSH=user@host (and GRIT_BENCH_SSH_COMMAND='ssh -p N -i KEY') to measure"
        );
        return;
    };
    let repo = new_repo(root, "remote");
    fill(&repo, "src", 200, 2000);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "files"]);
    git(&repo, &["config", "sandbox.executor.bench.ssh", &destination]);
    if let Ok(ssh) = std::env::var("GRIT_BENCH_SSH_COMMAND") {
        git(&repo, &["config", "sandbox.executor.bench.sshCommand", &ssh]);
    }
    let data = root.join("data-remote");
    for (name, on) in [("here", None), ("there", Some("bench"))] {
        let mut args = vec!["run", name, "--backend", "copy", "--keep"];
        args.extend(on.map(|o| ["--on", o]).into_iter().flatten());
        args.extend(["--", "true"]);
        let out = sandbox(&repo, &data, &args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let (mut here, mut there) = (vec![], vec![]);
    for _ in 0..11 {
        here.push(timed(sandbox(&repo, &data, &["exec", "here", "--", "true"])));
        there.push(timed(sandbox(&repo, &data, &["exec", "there", "--", "true"])));
    }
    let (h, t) = (med(here), med(there));
    println!(
        "exec -- true on {destination} {:6.1} ms   baseline exec -- true here {:6.1} ms   adds {:6.1} ms",
        ms(t),
        ms(h),
        ms(t) - ms(h)
    );
    timed(sandbox(&repo, &data, &["rm", "there", "--force"]));
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
        "grit sandbox benchmarks ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if on("create") {
        bench_create(tmp.path(), scale);
    }
    if on("cargo") {
        bench_cargo(tmp.path());
    }
    // Minutes of builds: only when named.
    if filter.iter().any(|f| f == "cache") {
        bench_cargo_cache(tmp.path());
    }
    if on("list") {
        bench_list(tmp.path(), 50);
    }
    if on("workflows") {
        bench_workflows(tmp.path(), scale);
    }
    if on("fleet") {
        bench_fleet(tmp.path(), 50_000 / scale, 100 / scale, "overlay");
    }
    // Minutes of copying (5,000,000 files): only when named.
    if filter.iter().any(|f| f == "fleet-copy") {
        bench_fleet(tmp.path(), 50_000 / scale, 100 / scale, "copy");
    }
    if on("remote") {
        bench_remote(tmp.path());
    }
}
