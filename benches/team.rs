//! The team loop, as a fleet runs it: 8 agents on 2 clones of a bare remote (4 per clone), 200
//! issues with epics, parents, about 30 % blocked-by links and priorities 0-4. Each agent loops
//! `claim --next` -> `sandbox run --issue --lock path:F --commit "... Fixes: ID"` ->
//! `sandbox land --rm` -> `wal sync`, with no workaround. Baseline in the same run: one agent
//! alone on a copy of the same setup. Then one round of 8 clones claiming at once against one
//! uncontended claim, and a claim among 500 active claims.
//! `benches/run --bench team` (release build); `GRIT_BENCH_SMALL=1` runs 40 issues.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{children_cpu, exe, git, med, ms, scratch};

fn grit(tool: &str, dir: &Path, actor: &str, data: &Path, args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let out = Command::new(exe(tool))
        .args(args)
        .current_dir(dir)
        .env("GRIT_ACTOR", actor)
        .env("XDG_DATA_HOME", data)
        .output()
        .expect("runs");
    (out, start.elapsed())
}

fn ok(tool: &str, dir: &Path, actor: &str, data: &Path, args: &[&str]) -> String {
    let (out, _) = grit(tool, dir, actor, data, args);
    assert!(
        out.status.success(),
        "git {tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare remote with one file per issue, and `clones` clones of it set up with `git wal init`.
fn setup(root: &Path, issues: usize, clones: usize) -> (PathBuf, Vec<PathBuf>) {
    let seed = root.join("seed");
    std::fs::create_dir_all(seed.join("work")).unwrap();
    git(&seed, &["init", "-q", "-b", "main"]);
    for i in 0..issues {
        std::fs::write(seed.join(format!("work/f{i}.txt")), "todo\n").unwrap();
    }
    git(&seed, &["add", "-A"]);
    git(
        &seed,
        &[
            "-c",
            "user.name=B",
            "-c",
            "user.email=b@x",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "init",
        ],
    );
    let bare = root.join("remote.git");
    git(
        root,
        &["clone", "-q", "--bare", seed.to_str().unwrap(), bare.to_str().unwrap()],
    );
    let dirs = (0..clones)
        .map(|c| {
            let d = root.join(format!("clone{c}"));
            git(root, &["clone", "-q", bare.to_str().unwrap(), d.to_str().unwrap()]);
            git(&d, &["config", "user.name", &format!("Clone {c}")]);
            git(&d, &["config", "user.email", &format!("c{c}@example.com")]);
            ok("wal", &d, "setup", &root.join("data"), &["init"]);
            d
        })
        .collect();
    (bare, dirs)
}

/// 200 issues (or `n`): every tenth an epic, the rest with a parent epic, about 30 % blocked by
/// an earlier issue, priorities 0-4. Returns (id, file) pairs.
fn plan(dir: &Path, data: &Path, n: usize) -> Vec<(String, String)> {
    let mut made: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for i in 0..n {
        let p = (i * 7 % 5).to_string();
        let title = format!("task {i}");
        let mut args: Vec<String> = ["create", "--title", &title, "--priority", &p]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if i % 10 == 0 {
            args.extend(["--type".into(), "epic".into()]);
        } else {
            args.extend(["--parent".into(), made[i / 10 * 10].clone()]);
            if i % 10 < 4 && i > 10 {
                // An earlier task that is not an epic.
                let b = i - 7 - (i % 3);
                if b % 10 != 0 {
                    args.extend(["--blocked-by".into(), made[b].clone()]);
                }
            }
        }
        args.push("--json".into());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let created: serde_json::Value = serde_json::from_str(&ok("issue", dir, "planner", data, &a)).unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        made.push(id.clone());
        out.push((id, format!("work/f{i}.txt")));
    }
    out
}

#[derive(Default)]
struct Steps {
    times: BTreeMap<&'static str, Vec<Duration>>,
    waited: Duration,
    failures: Vec<String>,
}

/// One agent's loop until nothing is open; returns how many it closed.
fn agent(dir: &Path, actor: &str, data: &Path, files: &BTreeMap<String, String>, steps: &Mutex<Steps>) -> usize {
    let mut done = 0;
    loop {
        let (out, t) = grit("issue", dir, actor, data, &["claim", "--next", "--json"]);
        if !out.status.success() {
            // Nothing ready here: what is left is claimed by others or blocked. Sync and look.
            let (_, ts) = grit("wal", dir, actor, data, &["sync", "--quiet"]);
            let open = ok(
                "issue",
                dir,
                actor,
                data,
                &["list", "--limit", "0", "--format", "{short_id}"],
            );
            if open.is_empty() {
                return done;
            }
            steps.lock().unwrap().waited += t + ts;
            std::thread::sleep(Duration::from_millis(20));
            steps.lock().unwrap().waited += Duration::from_millis(20);
            continue;
        }
        steps.lock().unwrap().times.entry("claim").or_default().push(t);
        let claimed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let id = claimed["id"].as_str().unwrap().to_owned();
        let short = claimed["short_id"].as_str().unwrap().to_owned();
        let file = &files[&id];
        let name = format!("t-{short}");
        let message = format!("Work on {short}\n\nFixes: {short}");
        let script = format!("echo done > {file}");
        let lock = format!("path:{file}");
        let (out, t) = grit(
            "sandbox",
            dir,
            actor,
            data,
            &[
                "run", &name, "--issue", &short, "--lock", &lock, "--commit", &message, "--sh", "--", &script,
            ],
        );
        steps.lock().unwrap().times.entry("run").or_default().push(t);
        if !out.status.success() {
            steps
                .lock()
                .unwrap()
                .failures
                .push(format!("run {short}: {}", String::from_utf8_lossy(&out.stderr)));
            continue;
        }
        let (out, t) = grit("sandbox", dir, actor, data, &["land", &name, "--rm"]);
        steps.lock().unwrap().times.entry("land").or_default().push(t);
        if !out.status.success() {
            steps.lock().unwrap().failures.push(format!(
                "land {short}: {:?} {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let (_, t) = grit("wal", dir, actor, data, &["sync", "--quiet"]);
        steps.lock().unwrap().times.entry("sync").or_default().push(t);
        done += 1;
    }
}

/// Runs `agents` (clone index, actor) until every issue is closed; returns (wall time, steps).
fn team(root: &Path, n: usize, clones: usize, agents: &[(usize, String)]) -> (Duration, Steps, Vec<PathBuf>, PathBuf) {
    let data = root.join("data");
    let (bare, dirs) = setup(root, n, clones);
    let planned = plan(&dirs[0], &data, n);
    ok("wal", &dirs[0], "planner", &data, &["sync", "--quiet"]);
    for d in &dirs[1..] {
        ok("wal", d, "planner", &data, &["sync", "--quiet"]);
    }
    let files: Arc<BTreeMap<String, String>> = Arc::new(planned.into_iter().collect());
    let steps = Arc::new(Mutex::new(Steps::default()));
    let start = Instant::now();
    let handles: Vec<_> = agents
        .iter()
        .map(|(c, actor)| {
            let (dir, actor, data, files, steps) = (
                dirs[*c].clone(),
                actor.clone(),
                data.clone(),
                files.clone(),
                steps.clone(),
            );
            std::thread::spawn(move || agent(&dir, &actor, &data, &files, &steps))
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let took = start.elapsed();
    let steps = Arc::try_unwrap(steps).ok().unwrap().into_inner().unwrap();
    (took, steps, dirs, bare)
}

fn closes_once(dir: &Path, data: &Path) -> (usize, usize, usize) {
    ok("wal", dir, "checker", data, &["sync", "--quiet"]);
    let all = ok(
        "issue",
        dir,
        "checker",
        data,
        &["list", "--state", "all", "--limit", "0", "--format", "{id}"],
    );
    let (mut closed, mut once, mut total) = (0, 0, 0);
    for id in all.lines() {
        total += 1;
        let v: serde_json::Value =
            serde_json::from_str(&ok("issue", dir, "checker", data, &["show", id, "--json"])).unwrap();
        let epic = v["type"] == "epic";
        if v["state"] == "closed" {
            closed += 1;
        }
        let n = v["comments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["body"].as_str().unwrap_or("").starts_with("Closed by commit"))
            .count();
        if n == 1 || (epic && n == 0) {
            once += 1;
        }
    }
    (total, closed, once)
}

fn main() {
    let small = std::env::var_os("GRIT_BENCH_SMALL").is_some();
    let n = if small { 40 } else { 200 };
    let tmp = scratch();
    // `GRIT_BENCH_PART=claims` runs only the claim figures.
    let part = std::env::var("GRIT_BENCH_PART").unwrap_or_default();
    if part != "claims" {
        team_figures(&tmp, n);
    }
    claim_figures(&tmp);
}

fn team_figures(tmp: &tempfile::TempDir, n: usize) {
    // The team: 8 agents, 4 per clone. Epics are work items too here: each is claimed once its
    // children are closed (ready leaves epics with open children out).
    let agents: Vec<(usize, String)> = (0..8).map(|i| (i % 2, format!("agent{i}"))).collect();
    let root = tmp.path().join("team");
    let cpu0 = children_cpu();
    let (took, steps, dirs, _) = team(&root, n, 2, &agents);
    let cpu = children_cpu() - cpu0;
    let (total, closed, once) = closes_once(&dirs[0], &root.join("data"));
    let rate = closed as f64 / took.as_secs_f64();

    // One agent alone, same machine, same setup.
    let root1 = tmp.path().join("alone");
    let cpu0 = children_cpu();
    let (took1, steps1, dirs1, _) = team(&root1, n, 1, &[(0, "solo".into())]);
    let cpu1 = children_cpu() - cpu0;
    let (_, closed1, _) = closes_once(&dirs1[0], &root1.join("data"));
    let rate1 = closed1 as f64 / took1.as_secs_f64();

    let agent_time = took.as_secs_f64() * agents.len() as f64;
    println!(
        "team of 8 agents on 2 clones, {n} issues: {closed}/{total} closed, {once} exactly once, {} step failures, {:.1} s, {:.2} issues/s; one agent alone: {closed1} in {:.1} s, {:.2} issues/s; ratio {:.2} (target >= 1.5); waiting {:.0} % of agent time",
        steps.failures.len(),
        took.as_secs_f64(),
        rate,
        took1.as_secs_f64(),
        rate1,
        rate / rate1,
        100.0 * steps.waited.as_secs_f64() / agent_time,
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!(
        "  CPU: team {:.1} s ({:.0} % of {cores} cores, {:.0} ms an issue); alone {:.1} s ({:.0} ms an issue)",
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / (took.as_secs_f64() * cores),
        1000.0 * cpu.as_secs_f64() / closed.max(1) as f64,
        cpu1.as_secs_f64(),
        1000.0 * cpu1.as_secs_f64() / closed1.max(1) as f64,
    );
    for (step, times) in &steps.times {
        let alone = steps1.times.get(step).cloned().unwrap_or_default();
        println!(
            "  {step:<6} median {:8.1} ms (n={})   alone {:8.1} ms",
            ms(med(times.clone())),
            times.len(),
            if alone.is_empty() { 0.0 } else { ms(med(alone)) }
        );
    }
    for f in steps.failures.iter().take(5) {
        println!("  failure: {f}");
    }
}

fn claim_figures(tmp: &tempfile::TempDir) {
    // One round of 8 clones claiming at once, against one uncontended claim.
    let root8 = tmp.path().join("claims");
    let data8 = root8.join("data");
    let (_, dirs8) = setup(&root8, 0, 8);
    for i in 0..64 {
        ok(
            "issue",
            &dirs8[0],
            "planner",
            &data8,
            &["create", "--title", &format!("c{i}")],
        );
    }
    ok("wal", &dirs8[0], "planner", &data8, &["sync", "--quiet"]);
    for d in &dirs8[1..] {
        ok("wal", d, "planner", &data8, &["sync", "--quiet"]);
    }
    // Each agent is one actor for the whole run, as in a fleet: its first claim also publishes
    // its actor record, so that one is not timed. After each claim it lets the issue go (not
    // timed), so that every timed claim takes an issue it does not hold.
    let claim = |d: &std::path::Path, actor: &str| {
        let (out, t) = grit("issue", d, actor, &data8, &["claim", "--next"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (t, String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let unclaim = |d: &std::path::Path, actor: &str, id: &str| ok("issue", d, actor, &data8, &["unclaim", id]);
    let (_, id) = claim(&dirs8[0], "single");
    unclaim(&dirs8[0], "single", &id);
    let mut single = Vec::new();
    let mut cpu = Duration::ZERO;
    for _ in 0..5 {
        let cpu0 = children_cpu();
        let (t, id) = claim(&dirs8[0], "single");
        cpu += children_cpu() - cpu0;
        single.push(t);
        unclaim(&dirs8[0], "single", &id);
    }
    let single = med(single);
    let cpu = cpu / 5;
    for (c, d) in dirs8.iter().enumerate() {
        let (_, id) = claim(d, &format!("c{c}"));
        unclaim(d, &format!("c{c}"), &id);
    }
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let hs: Vec<_> = dirs8
            .iter()
            .enumerate()
            .map(|(c, d)| {
                let (d, data) = (d.clone(), data8.clone());
                std::thread::spawn(move || grit("issue", &d, &format!("c{c}"), &data, &["claim", "--next"]).0)
            })
            .collect();
        let outs: Vec<Output> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        rounds.push(start.elapsed());
        for (c, out) in outs.iter().enumerate() {
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            unclaim(&dirs8[c], &format!("c{c}"), &id);
        }
    }
    let round = med(rounds);
    println!(
        "one round of 8 clones claiming at once: median {:7.1} ms   one uncontended claim {:6.1} ms   ratio {:.2} (target <= 2)",
        ms(round),
        ms(single),
        ms(round) / ms(single)
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "  one claim's CPU (its processes, user + system): {:6.1} ms; 8 of them on {cores} cores take at least {:6.1} ms",
        ms(cpu),
        ms(cpu) * 8.0 / cores as f64
    );

    // claim --next among 500 active claims (local leases, one clone).
    let root5 = tmp.path().join("many");
    let data5 = root5.join("data");
    let (_, dirs5) = setup(&root5, 0, 1);
    let d = &dirs5[0];
    for i in 0..520 {
        ok("issue", d, "planner", &data5, &["create", "--title", &format!("m{i}")]);
    }
    for i in 0..500 {
        ok("issue", d, &format!("holder{}", i % 50), &data5, &["claim", "--next"]);
    }
    let id = ok("issue", d, "late", &data5, &["claim", "--next"]);
    ok("issue", d, "late", &data5, &["unclaim", &id]);
    let mut many = Vec::new();
    for _ in 0..9 {
        let (out, t) = grit("issue", d, "late", &data5, &["claim", "--next"]);
        assert!(out.status.success());
        many.push(t);
        let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        ok("issue", d, "late", &data5, &["unclaim", &id]);
    }
    let many = med(many);
    println!(
        "claim --next with 500 active claims on the remote: median {:6.1} ms   ratio to one uncontended claim {:.2} (target <= 2)",
        ms(many),
        ms(many) / ms(single)
    );
}
