//! The team loop: claim, sandbox under a lock, commit with `Fixes:`, land, sync, from several
//! agents in one clone and across clones. Each step is what a fleet runs, many at once.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::env::TestEnv;

fn data(t: &TestEnv) -> String {
    t.tmp.path().join("data").display().to_string()
}

/// `git-<tool> args…` as `actor`, in `dir`.
fn as_actor(t: &TestEnv, tool: &str, dir: &Path, actor: &str, args: &[&str]) -> Output {
    t.std_cmd(tool, dir)
        .env("GRIT_ACTOR", actor)
        .env("XDG_DATA_HOME", data(t))
        .args(args)
        .output()
        .unwrap()
}

fn ok(t: &TestEnv, tool: &str, dir: &Path, actor: &str, args: &[&str]) -> String {
    let out = as_actor(t, tool, dir, actor, args);
    assert!(
        out.status.success(),
        "git {tool} {args:?} as {actor} exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts every command at once (stdout discarded), then waits for each: its exit code and
/// stderr, in order.
fn run_together(commands: Vec<std::process::Command>) -> Vec<(Option<i32>, String)> {
    let children: Vec<_> = commands
        .into_iter()
        .map(|mut c| {
            c.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
        })
        .collect()
}

fn show(t: &TestEnv, dir: &Path, id: &str) -> Value {
    t.json("issue", dir, &["show", id])
}

fn closing_comments(issue: &Value) -> usize {
    issue["comments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["body"].as_str().unwrap().starts_with("Closed by commit"))
        .count()
}

/// A bare remote holding `a.txt` and `b.txt` on main, and `n` clones of it set up with
/// `git wal init`.
fn team(t: &TestEnv, n: usize) -> (PathBuf, Vec<PathBuf>) {
    let seed = t.repo("seed");
    for f in ["a.txt", "b.txt", "c.txt", "d.txt"] {
        fs::write(seed.join(f), format!("{f}\n")).unwrap();
    }
    t.git(&seed, &["add", "-A"]);
    t.git(&seed, &["commit", "-q", "-m", "init"]);
    let bare = t.tmp.path().join("team.git");
    t.git(
        t.tmp.path(),
        &["clone", "-q", "--bare", seed.to_str().unwrap(), bare.to_str().unwrap()],
    );
    let clones = (0..n)
        .map(|i| {
            let c = t.clone(&bare, &format!("clone{i}"), &format!("User{i}"), &format!("user{i}"));
            t.ok("wal", &c, &["init"]);
            c
        })
        .collect();
    (bare, clones)
}

/// A repository holding `a.txt` ("one") on main, with grit's hooks installed.
fn hooked_repo(t: &TestEnv) -> PathBuf {
    let r = t.repo("r");
    fs::write(r.join("a.txt"), "one\n").unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    t.ok("wal", &r, &["init"]);
    r
}

fn trailers(t: &TestEnv, dir: &Path, commit: &str) -> String {
    let message = t.git(dir, &["log", "-1", "--format=%B", commit]);
    t.git_stdin(dir, &["interpret-trailers", "--parse"], &message)
}

#[test]
fn sandbox_commits_keep_fixes_and_provenance_in_one_trailer_block_and_landing_closes_once() {
    let t = TestEnv::new();
    let (bare, clones) = team(&t, 1);
    let a = &clones[0];
    let id = t.create(a, "Proxy login fails");
    let short = &id[..8];
    // `run --commit`
    let message = format!("Fix the proxy login\n\nFixes: {short}");
    ok(
        &t,
        "sandbox",
        a,
        "agent",
        &["run", "s1", "--commit", &message, "--sh", "--", "echo fixed > a.txt"],
    );
    let tip = t.git(a, &["rev-parse", "sandbox/s1"]);
    let parsed = trailers(&t, a, tip.trim());
    assert!(parsed.contains(&format!("Fixes: {short}")), "{parsed}");
    assert!(parsed.contains("Sandbox-Provenance: "), "{parsed}");
    // `commit -m`
    ok(
        &t,
        "sandbox",
        a,
        "agent",
        &["exec", "s1", "--sh", "--", "echo more > b.txt"],
    );
    ok(
        &t,
        "sandbox",
        a,
        "agent",
        &["commit", "s1", "-m", &format!("More\n\nRefs: {short}")],
    );
    let tip = t.git(a, &["rev-parse", "sandbox/s1"]);
    let parsed = trailers(&t, a, tip.trim());
    assert!(
        parsed.contains(&format!("Refs: {short}")) && parsed.contains("Sandbox-Provenance: "),
        "{parsed}"
    );
    // `land`: on main, pushed, and the issue closed by the trailer, once.
    let landed: Value =
        serde_json::from_str(&ok(&t, "sandbox", a, "agent", &["land", "s1", "--rm", "--json"])).unwrap();
    assert_eq!(landed["pushed"], true, "{landed}");
    assert_eq!(landed["closed"][0], id.as_str(), "{landed}");
    assert_eq!(
        t.git(&bare, &["rev-parse", "main"]),
        t.git(a, &["rev-parse", "main"]),
        "the remote has what landed"
    );
    let issue = show(&t, a, &id);
    assert_eq!(issue["state"], "closed");
    assert_eq!(closing_comments(&issue), 1, "{issue}");
    assert_eq!(fs::read_to_string(a.join("a.txt")).unwrap(), "fixed\n");
    // The sandbox is gone with its branch (it was landed).
    assert!(t.git(a, &["branch", "--list", "sandbox/s1"]).trim().is_empty());
}

#[test]
fn a_conflicted_merge_concluded_by_git_commit_closes_the_issue_it_brings() {
    let t = TestEnv::new();
    let r = hooked_repo(&t);
    let id = t.create(&r, "Wrong greeting");
    t.git(&r, &["switch", "-q", "-c", "topic"]);
    fs::write(r.join("a.txt"), "topic\n").unwrap();
    t.git(
        &r,
        &["commit", "-q", "-am", &format!("Greet right\n\nFixes: {}", &id[..8])],
    );
    t.git(&r, &["switch", "-q", "main"]);
    fs::write(r.join("a.txt"), "main\n").unwrap();
    t.git(&r, &["commit", "-q", "-am", "Another greeting"]);
    let (merged, ..) = t.git_env(&r, &["merge", "topic"], &[]);
    assert!(!merged, "the merge conflicts");
    assert_eq!(show(&t, &r, &id)["state"], "open");
    fs::write(r.join("a.txt"), "both\n").unwrap();
    t.git(&r, &["add", "a.txt"]);
    t.git(&r, &["commit", "-q", "--no-edit"]);
    let issue = show(&t, &r, &id);
    assert_eq!(issue["state"], "closed", "{issue}");
    assert_eq!(closing_comments(&issue), 1);
}

#[test]
fn two_clones_that_see_one_landed_commit_close_it_once() {
    let t = TestEnv::new();
    let (_bare, clones) = team(&t, 2);
    let (a, b) = (&clones[0], &clones[1]);
    let id = t.create(a, "Crash on start");
    t.ok("wal", a, &["sync"]);
    t.ok("wal", b, &["sync"]);
    // a commits the fix on main (its post-commit hook closes the issue) and pushes it.
    fs::write(a.join("a.txt"), "fixed\n").unwrap();
    t.git(
        a,
        &["commit", "-q", "-am", &format!("Fix the crash\n\nFixes: {}", &id[..8])],
    );
    t.git(a, &["push", "-q", "origin", "main"]);
    // b pulls it before it has a's close: its post-merge hook closes it too.
    t.git(b, &["pull", "-q", "--no-rebase", "origin", "main"]);
    let kinds = |dir: &Path| t.ok("wal", dir, &["log", "--format", "{kind}"]);
    assert!(kinds(b).contains("issue.commit_referenced"));
    // Both notes meet.
    t.ok("wal", a, &["sync"]);
    t.ok("wal", b, &["sync"]);
    t.ok("wal", a, &["sync"]);
    let log = kinds(a);
    assert_eq!(
        log.matches("issue.commit_referenced").count(),
        2,
        "both clones wrote a note:\n{log}"
    );
    for dir in [a, b] {
        let issue = show(&t, dir, &id);
        assert_eq!(issue["state"], "closed");
        assert_eq!(
            closing_comments(&issue),
            1,
            "one comment, however many noted it: {issue}"
        );
    }
    // A reopen after the close is not undone by the other clone's note.
    t.ok("issue", a, &["reopen", &id]);
    t.ok("wal", a, &["sync"]);
    t.ok("wal", b, &["sync"]);
    assert_eq!(show(&t, b, &id)["state"], "open");
}

#[test]
fn sandbox_rm_whose_lock_release_fails_says_why_and_exits_non_zero() {
    let t = TestEnv::new();
    let (bare, clones) = team(&t, 1);
    let a = &clones[0];
    for s in ["s1", "s2"] {
        ok(
            &t,
            "sandbox",
            a,
            "agent",
            &["run", s, "--lock", &format!("path:{s}.txt"), "--keep", "--", "true"],
        );
    }
    let status = t.json("lock", a, &["status"]);
    assert_eq!(status.as_array().map(Vec::len), Some(2), "{status}");
    // The remote goes away: the lease cannot be released there.
    let away = t.tmp.path().join("away.git");
    fs::rename(&bare, &away).unwrap();
    let out = as_actor(&t, "sandbox", a, "agent", &["rm", "s1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not release") && stderr.contains("path:s1.txt"),
        "{stderr}"
    );
    assert!(
        stderr.contains("git fetch") || stderr.contains("remote"),
        "the reason is given: {stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
    // On purpose, it is not an error.
    ok(&t, "sandbox", a, "agent", &["rm", "s2", "--keep-locks"]);
    // Back again, both leases are there and are released by their owner.
    fs::rename(&away, &bare).unwrap();
    let status = t.json("lock", a, &["status"]);
    assert_eq!(status.as_array().map(Vec::len), Some(2), "{status}");
    for l in status.as_array().unwrap() {
        assert_eq!(l["orphaned"], true, "a lease whose sandbox is gone says so: {l}");
    }
    let human = t.ok("lock", a, &["status"]);
    assert!(human.contains("orphaned"), "{human}");
    ok(&t, "lock", a, "agent", &["release", "path:s1.txt", "path:s2.txt"]);
}

#[test]
fn a_sandbox_run_takes_a_short_lease_and_a_commit_releases_it() {
    let t = TestEnv::new();
    let (_bare, clones) = team(&t, 1);
    let a = &clones[0];
    ok(
        &t,
        "sandbox",
        a,
        "agent",
        &[
            "run",
            "s",
            "--lock",
            "path:a.txt",
            "--keep",
            "--sh",
            "--",
            "echo x > a.txt",
        ],
    );
    let status = t.json("lock", a, &["status"]);
    let lease = &status[0];
    let expires = lease["expires_at"].as_str().unwrap_or_default().to_owned();
    assert!(!expires.is_empty(), "{status}");
    ok(&t, "sandbox", a, "agent", &["commit", "s", "-m", "x"]);
    let status = t.json("lock", a, &["status"]);
    assert_eq!(
        status.as_array().map(Vec::len),
        Some(0),
        "released by the commit: {status}"
    );
}

#[test]
fn agents_landing_at_once_from_two_clones_all_land_and_a_conflict_exits_5_with_the_sandbox_intact() {
    let t = TestEnv::new();
    let (bare, clones) = team(&t, 2);
    let files = ["a.txt", "b.txt", "c.txt", "d.txt"];
    // Four agents, two per clone, each changing its own file, landing at once.
    let mut children = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let dir = &clones[i % 2];
        let name = format!("s{i}");
        ok(
            &t,
            "sandbox",
            dir,
            &format!("agent{i}"),
            &[
                "run",
                &name,
                "--commit",
                &format!("Change {f}"),
                "--sh",
                "--",
                &format!("echo {i} > {f}"),
            ],
        );
        children.push(
            t.std_cmd("sandbox", dir)
                .env("GRIT_ACTOR", format!("agent{i}"))
                .env("XDG_DATA_HOME", data(&t))
                .args(["land", &name, "--rm"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let fresh = t.tmp.path().join("check");
    t.git(
        t.tmp.path(),
        &["clone", "-q", bare.to_str().unwrap(), fresh.to_str().unwrap()],
    );
    for (i, f) in files.iter().enumerate() {
        assert_eq!(
            fs::read_to_string(fresh.join(f)).unwrap(),
            format!("{i}\n"),
            "{f} landed"
        );
    }
    // Two changes to the same line: the second one conflicts.
    let a = &clones[0];
    let b = &clones[1];
    ok(
        &t,
        "sandbox",
        a,
        "x",
        &["run", "x", "--commit", "x", "--sh", "--", "echo x > a.txt"],
    );
    ok(
        &t,
        "sandbox",
        b,
        "y",
        &["run", "y", "--commit", "y", "--sh", "--", "echo y > a.txt"],
    );
    ok(&t, "sandbox", a, "x", &["land", "x"]);
    let tip = t.git(b, &["rev-parse", "sandbox/y"]);
    let main_before = t.git(b, &["rev-parse", "main"]);
    let out = as_actor(&t, "sandbox", b, "y", &["land", "y"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("conflict") && stderr.contains("a.txt"), "{stderr}");
    assert_eq!(
        t.git(b, &["rev-parse", "sandbox/y"]),
        tip,
        "the sandbox's branch is as it was"
    );
    assert!(!b.join(".git/MERGE_HEAD").exists(), "no merge left half done");
    assert!(
        t.git(b, &["status", "--porcelain"]).trim().is_empty(),
        "the main tree is clean"
    );
    // The remote's commits were integrated, and nothing of y's.
    let main_after = t.git(b, &["rev-parse", "main"]);
    assert!(
        main_after == main_before
            || t.git_env(
                b,
                &["merge-base", "--is-ancestor", main_before.trim(), main_after.trim()],
                &[]
            )
            .0
    );
    let list = t.json("sandbox", b, &["list"]);
    assert!(list.to_string().contains("\"y\""), "the sandbox is kept: {list}");
}

#[test]
fn sixteen_mixed_grit_commands_in_one_clone_never_fail_on_each_other() {
    let t = TestEnv::new();
    let (_bare, clones) = team(&t, 2);
    let a = &clones[0];
    let rounds: usize = std::env::var("GRIT_TEAM_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    for i in 0..4 * rounds {
        t.create(a, &format!("task {i}"));
    }
    t.ok("wal", a, &["sync"]);
    let mut failures = Vec::new();
    for round in 0..rounds {
        let mut children = Vec::new();
        for k in 0..16 {
            let actor = format!("agent{k}");
            let args: Vec<String> = match k % 4 {
                0 => vec!["issue".into(), "claim".into(), "--next".into()],
                1 => vec![
                    "lock".into(),
                    "acquire".into(),
                    format!("path:f{k}-{round}"),
                    "--ttl".into(),
                    "1m".into(),
                ],
                2 => vec![
                    "sandbox".into(),
                    "run".into(),
                    format!("r{round}k{k}"),
                    "--lock".into(),
                    format!("path:s{k}-{round}"),
                    "--discard".into(),
                    "--".into(),
                    "true".into(),
                ],
                _ => vec!["wal".into(), "sync".into()],
            };
            let child = t
                .std_cmd(&args[0], a)
                .env("GRIT_ACTOR", &actor)
                .env("XDG_DATA_HOME", data(&t))
                .args(&args[1..])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            children.push((args.join(" "), child));
        }
        for (what, c) in children {
            let out = c.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            if !out.status.success() || stderr.contains("broken ref") {
                failures.push(format!("round {round}: git {what}: {:?} {stderr}", out.status.code()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    t.ok("wal", a, &["check"]);
}

#[test]
fn thousands_of_creates_by_new_actors_never_fail_or_warn() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let total: usize = std::env::var("GRIT_TEAM_CREATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut failures = Vec::new();
    let mut n = 0;
    while n < total {
        let children: Vec<_> = (n..(n + 4).min(total))
            .map(|i| {
                let mut c = t.std_cmd("issue", &r);
                c.env("GRIT_ACTOR", format!("a{i}"))
                    .args(["create", "--title", &format!("t{i}")]);
                c
            })
            .collect();
        for (code, stderr) in run_together(children) {
            if code != Some(0) || !stderr.trim().is_empty() {
                failures.push(format!("{code:?}: {stderr}"));
            }
        }
        n += 4;
    }
    assert!(
        failures.is_empty(),
        "{} of {total} failed or warned; first: {:?}",
        failures.len(),
        failures.first()
    );
    let count = t.json("issue", &r, &["list", "--limit", "0"]);
    assert_eq!(count.as_array().map(Vec::len), Some(total));
}

#[test]
fn a_rewritten_commit_does_not_close_or_comment_twice() {
    let t = TestEnv::new();
    let r = hooked_repo(&t);
    let id = t.create(&r, "Typo");
    let message = format!("Fix the typo\n\nFixes: {}", &id[..8]);
    // Made on a topic branch, cherry-picked onto main (a new commit id), then the topic merged.
    t.git(&r, &["switch", "-q", "-c", "topic"]);
    fs::write(r.join("a.txt"), "two\n").unwrap();
    t.git(&r, &["commit", "-q", "-am", &message]);
    t.git(&r, &["switch", "-q", "main"]);
    fs::write(r.join("b.txt"), "other\n").unwrap();
    t.git(&r, &["add", "b.txt"]);
    t.git(&r, &["commit", "-q", "-m", "Other work"]);
    t.git(&r, &["cherry-pick", "topic"]);
    assert_eq!(show(&t, &r, &id)["state"], "closed");
    t.git(&r, &["merge", "-q", "--no-edit", "topic"]);
    // And amended on main.
    t.git(&r, &["commit", "-q", "--amend", "--no-edit", "--allow-empty"]);
    let issue = show(&t, &r, &id);
    assert_eq!(closing_comments(&issue), 1, "{issue}");
    let log = t.ok("wal", &r, &["log", "--format", "{kind}"]);
    assert_eq!(
        log.matches("issue.commit_referenced").count(),
        1,
        "written once:\n{log}"
    );
}

#[test]
fn the_pre_push_check_judges_the_pushers_own_changes_not_the_landed_work_of_the_lock_holder() {
    let t = TestEnv::new();
    let (_bare, clones) = team(&t, 1);
    let a = &clones[0];
    t.git(a, &["config", "lock.policy", "require"]);
    // Agent x holds a.txt and commits to it in a sandbox, merged into the shared checkout.
    ok(&t, "lock", a, "x", &["acquire", "path:a.txt", "--ttl", "30m"]);
    ok(
        &t,
        "sandbox",
        a,
        "x",
        &["run", "s", "--commit", "x's change", "--sh", "--", "echo x > a.txt"],
    );
    ok(&t, "sandbox", a, "x", &["merge", "s"]);
    // Agent y pushes main, which carries x's work: not y's change, so not refused.
    let (pushed, _, stderr) = t.git_env(a, &["push", "-q", "origin", "main"], &[("GRIT_ACTOR", "y")]);
    assert!(pushed, "{stderr}");
    // y's own change to a.txt is refused.
    fs::write(a.join("a.txt"), "y\n").unwrap();
    t.git_env(
        a,
        &["commit", "-q", "--no-verify", "-am", "y's change"],
        &[("GRIT_ACTOR", "y")],
    );
    let (pushed, _, stderr) = t.git_env(a, &["push", "-q", "origin", "main"], &[("GRIT_ACTOR", "y")]);
    assert!(!pushed, "y's own change to a locked path is refused");
    assert!(stderr.contains("a.txt"), "{stderr}");
}

#[test]
fn the_readme_team_loop_runs_as_pasted_by_three_agents_on_two_clones() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("## A team of agents").nth(1).unwrap();
    let script = section.split("```sh\n").nth(1).unwrap().split("```").next().unwrap();
    // Each agent's own actor instead of the README's one.
    let script = script.replace("export GRIT_ACTOR=agent-3", "");
    let t = TestEnv::new();
    let (bare, clones) = team(&t, 2);
    let ids: Vec<String> = (0..6).map(|i| t.create(&clones[0], &format!("task {i}"))).collect();
    t.ok("wal", &clones[0], &["sync"]);
    t.ok("wal", &clones[1], &["sync"]);
    let agents: Vec<_> = [(0, "agent-1"), (0, "agent-2"), (1, "agent-3")]
        .into_iter()
        .map(|(c, actor)| {
            t.wrapped("bash", &clones[c])
                .args(["-c", &script])
                .env("GRIT_ACTOR", actor)
                .env("XDG_DATA_HOME", data(&t))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = agents.into_iter().map(|a| a.wait_with_output().unwrap()).collect();
    for c in &clones {
        let _ = t.cmd("wal", c).args(["daemon", "stop"]).output();
    }
    for o in &outs {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    for c in &clones {
        t.ok("wal", c, &["sync"]);
    }
    t.ok("wal", &clones[0], &["sync"]);
    let check = t.tmp.path().join("check");
    t.git(
        t.tmp.path(),
        &["clone", "-q", bare.to_str().unwrap(), check.to_str().unwrap()],
    );
    for id in &ids {
        let issue = show(&t, &clones[0], id);
        assert_eq!(issue["state"], "closed", "{issue}");
        assert_eq!(closing_comments(&issue), 1, "{issue}");
        let short = issue["short_id"].as_str().unwrap();
        assert!(check.join(format!("notes/{short}.md")).exists(), "{short} landed");
    }
    t.ok("wal", &clones[0], &["check"]);
}

/// What the agents of the team test saw, shared between their threads.
#[derive(Default)]
struct Seen {
    /// Issue → the agent holding its claim now.
    holding: std::collections::HashMap<String, String>,
    double_claims: Vec<String>,
    blocked_claims: Vec<String>,
    failures: Vec<String>,
    landed: Vec<String>,
    /// Blocked-by links of claimed issues, all checked closed (the check did look).
    blockers_seen: usize,
}

#[test]
fn four_agents_on_two_clones_close_every_issue_once_with_no_double_or_blocked_claim_and_lose_nothing() {
    let t = TestEnv::new();
    let (bare, clones) = team(&t, 2);
    let a = &clones[0];
    // 24 issues: 3 epics of 7 children each, about a third blocked by an earlier child.
    let mut ids: Vec<String> = Vec::new();
    for e in 0..3 {
        let epic = t.json(
            "issue",
            a,
            &["create", "--title", &format!("epic {e}"), "--type", "epic"],
        )["id"]
            .as_str()
            .unwrap()
            .to_owned();
        ids.push(epic.clone());
        for c in 0..7 {
            let mut args = vec![
                "create".to_owned(),
                "--title".into(),
                format!("task {e}.{c}"),
                "--parent".into(),
                epic.clone(),
                "--priority".into(),
                ((e + c) % 5).to_string(),
            ];
            if c % 3 == 2 {
                args.extend(["--blocked-by".into(), ids[ids.len() - 1].clone()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ids.push(t.json("issue", a, &args)["id"].as_str().unwrap().to_owned());
        }
    }
    t.ok("wal", a, &["sync"]);
    t.ok("wal", &clones[1], &["sync"]);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    let files = ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt", "f.txt"];
    std::thread::scope(|s| {
        for agent in 0..4 {
            let dir = clones[agent % 2].clone();
            let (t, seen) = (&t, seen.clone());
            s.spawn(move || {
                let me = format!("agent{agent}");
                let run = |args: &[&str]| as_actor(t, args[0], &dir, &me, &args[1..]);
                let fail = |what: &str, out: &Output| {
                    seen.lock().unwrap().failures.push(format!(
                        "{me}: {what}: {:?} {}",
                        out.status.code(),
                        String::from_utf8_lossy(&out.stderr)
                    ))
                };
                for _ in 0..400 {
                    let out = run(&["issue", "claim", "--next", "--json"]);
                    if out.status.code() == Some(1) {
                        // Nothing ready here: the rest is claimed, blocked, or not synced yet.
                        run(&["wal", "sync", "--quiet"]);
                        let open = run(&["issue", "list", "--limit", "0", "--format", "{id}"]);
                        if String::from_utf8_lossy(&open.stdout).trim().is_empty() {
                            return;
                        }
                        std::thread::yield_now();
                        continue;
                    }
                    if !out.status.success() {
                        fail("claim", &out);
                        return;
                    }
                    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                    let (id, short) = (
                        v["id"].as_str().unwrap().to_owned(),
                        v["short_id"].as_str().unwrap().to_owned(),
                    );
                    {
                        let mut s = seen.lock().unwrap();
                        if let Some(other) = s.holding.insert(id.clone(), me.clone()) {
                            s.double_claims.push(format!("{short}: {other} and {me}"));
                        }
                    }
                    // Its blockers as the index that let it be claimed saw them.
                    let links = v["links"].as_array().cloned().unwrap_or_default();
                    if links
                        .iter()
                        .any(|l| l["link"] == "blocked_by" && l["state"] != "closed")
                    {
                        seen.lock().unwrap().blocked_claims.push(short.clone());
                    }
                    let blockers = links.iter().filter(|l| l["link"] == "blocked_by").count();
                    seen.lock().unwrap().blockers_seen += blockers;
                    let file = files[ids_index(&id) % files.len()];
                    let name = format!("t-{short}");
                    let message = format!("Work on {short}\n\nFixes: {short}");
                    let script = format!("echo '{short} by {me}' >> {file}");
                    let lock = format!("path:{file}");
                    let out = run(&[
                        "sandbox", "run", &name, "--issue", &short, "--lock", &lock, "--commit", &message, "--sh",
                        "--", &script,
                    ]);
                    let unclaim = |seen: &std::sync::Mutex<Seen>| {
                        seen.lock().unwrap().holding.remove(&id);
                        run(&["issue", "unclaim", &short]);
                    };
                    match out.status.code() {
                        Some(0) => {}
                        // Someone holds the file: leave the issue for later.
                        Some(3) => {
                            unclaim(&seen);
                            continue;
                        }
                        _ => {
                            fail("sandbox run", &out);
                            return;
                        }
                    }
                    let out = run(&["sandbox", "land", &name, "--rm"]);
                    match out.status.code() {
                        Some(0) => {
                            let mut s = seen.lock().unwrap();
                            s.holding.remove(&id);
                            s.landed.push(short.clone());
                        }
                        // The file moved under it: start over on the new base.
                        Some(5) => {
                            run(&["sandbox", "rm", &name, "--force", "--delete-branch"]);
                            unclaim(&seen);
                            continue;
                        }
                        _ => {
                            fail("sandbox land", &out);
                            return;
                        }
                    }
                    let out = run(&["wal", "sync", "--quiet"]);
                    if !out.status.success() {
                        fail("wal sync", &out);
                        return;
                    }
                }
                seen.lock().unwrap().failures.push(format!("{me}: did not finish"));
            });
        }
    });
    let seen = seen.lock().unwrap();
    assert!(seen.failures.is_empty(), "{:#?}", seen.failures);
    assert!(seen.double_claims.is_empty(), "{:?}", seen.double_claims);
    assert!(seen.blocked_claims.is_empty(), "{:?}", seen.blocked_claims);
    assert!(
        seen.blockers_seen >= 6,
        "claimed issues with blockers were checked: {}",
        seen.blockers_seen
    );
    // Three clones agree, every issue is closed exactly once, and nothing was lost.
    let third = t.clone(&bare, "third", "Third", "third");
    t.ok("wal", &third, &["init"]);
    for _ in 0..2 {
        for c in &clones {
            t.ok("wal", c, &["sync"]);
        }
    }
    t.ok("wal", &third, &["sync"]);
    let log = |dir: &Path| {
        let mut v: Vec<String> = t
            .ok("wal", dir, &["log", "--format", "{id}"])
            .lines()
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    };
    let first = log(&clones[0]);
    assert_eq!(first, log(&clones[1]), "clone 1 has every event");
    assert_eq!(first, log(&third), "a fresh clone has every event");
    for id in &ids {
        let issue = show(&t, &third, id);
        assert_eq!(issue["state"], "closed", "{issue}");
        assert_eq!(closing_comments(&issue), 1, "{issue}");
    }
    for c in clones.iter().chain([&third]) {
        t.ok("wal", c, &["check"]);
    }
}

/// A stable small number for an issue id (which file its work edits).
fn ids_index(id: &str) -> usize {
    usize::from_str_radix(&id[..4], 16).unwrap()
}

/// The first commands in a clone race to create its index: each must wait for the one that
/// creates it, not take its half-made file for a damaged index and wipe it.
#[test]
fn processes_that_race_to_create_the_index_never_take_it_for_damaged() {
    let t = TestEnv::new();
    let mut failures = Vec::new();
    for round in 0..30 {
        let r = t.repo(&format!("r{round}"));
        let children: Vec<_> = (0..6)
            .map(|i| {
                let mut c = t.std_cmd("issue", &r);
                if i % 2 == 0 {
                    c.args(["list"]);
                } else {
                    c.env("GRIT_ACTOR", format!("a{i}")).args(["create", "--title", "t"]);
                }
                c
            })
            .collect();
        for (code, stderr) in run_together(children) {
            if code != Some(0) || stderr.contains("damaged") {
                failures.push(format!("round {round}: {code:?}: {stderr}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
