//! The GitHub Action: its scripts run here with the `GITHUB_*` variables a runner sets, on a
//! temporary repository, and `action.yml` and the example workflow against GitHub's schemas.

use std::path::{Path, PathBuf};

use crate::env::{TestEnv, exe};

/// A ~/.grit as the install script leaves it, holding the binaries under test.
fn grit_root(env: &TestEnv) -> PathBuf {
    let root = env.tmp.path().join("grit-root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    for tool in ["issue", "lock", "sandbox", "wal"] {
        std::os::unix::fs::symlink(exe(tool), root.join("bin").join(format!("git-{tool}"))).unwrap();
    }
    root
}

fn script(env: &TestEnv, name: &str, dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("action").join(name);
    let mut c = env.wrapped("bash", dir);
    c.arg(path).args(args).envs(vars.iter().copied());
    c.output().unwrap()
}

#[test]
fn the_actions_scripts_close_fixed_issues_and_summarise_a_push() {
    let env = TestEnv::new();
    let (_remote, a, _b) = env.pair();
    let root = grit_root(&env);
    let id = env.create(&a, "Crash on start");
    env.ok("wal", &a, &["sync"]);
    let before = env.git(&a, &["rev-parse", "HEAD"]).trim().to_owned();
    std::fs::write(a.join("fix.txt"), "fixed").unwrap();
    env.git(&a, &["add", "fix.txt"]);
    env.git(
        &a,
        &[
            "-c",
            "core.hooksPath=/dev/null",
            "commit",
            "-q",
            "-m",
            &format!("Fix it\n\nFixes: {}", &id[..8]),
        ],
    );
    let after = env.git(&a, &["rev-parse", "HEAD"]).trim().to_owned();
    env.git(&a, &["push", "-q", "origin", "HEAD:main"]);
    let event = env.tmp.path().join("event.json");
    std::fs::write(
        &event,
        format!("{{\"before\": \"{before}\", \"after\": \"{after}\", \"ref\": \"refs/heads/main\"}}"),
    )
    .unwrap();
    let github_path = env.tmp.path().join("github_path");
    let summary = env.tmp.path().join("summary.md");
    let vars = [
        ("GRIT_ROOT", root.to_str().unwrap()),
        ("GITHUB_WORKSPACE", a.to_str().unwrap()),
        ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ("GITHUB_PATH", github_path.to_str().unwrap()),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ("GITHUB_ACTION_PATH", env!("CARGO_MANIFEST_DIR")),
    ];
    // Installed already, at this version: kept, and put on PATH.
    let version = env.git(Path::new(env!("CARGO_MANIFEST_DIR")), &["rev-parse", "HEAD"]);
    std::fs::write(root.join("version"), version.trim()).unwrap();
    let out = script(&env, "install.sh", &a, &vars, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("(cached)"));
    assert_eq!(
        std::fs::read_to_string(&github_path).unwrap().trim(),
        root.join("bin").to_str().unwrap()
    );

    let out = script(&env, "run.sh", &a, &vars, &["close-from-commits"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env.json("issue", &a, &["show", &id])["state"], "closed");
    // Twice is once.
    let out = script(&env, "run.sh", &a, &vars, &["close-from-commits"]);
    assert!(out.status.success());
    assert_eq!(
        env.json("issue", &a, &["show", &id])["comments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let out = script(&env, "run.sh", &a, &vars, &["summary"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("| closed | `") && md.contains("Crash on start"), "{md}");

    for cmd in ["sync", "verify"] {
        let out = script(&env, "run.sh", &a, &vars, &[cmd]);
        assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = script(&env, "run.sh", &a, &vars, &["deploy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
}

#[test]
fn sandbox_run_runs_the_job_in_a_sandbox_commits_it_with_provenance_and_pushes_the_branch() {
    let env = TestEnv::new();
    let (remote, a, _b) = env.pair();
    let root = grit_root(&env);
    let outputs = env.tmp.path().join("github_output");
    let summary = env.tmp.path().join("summary.md");
    let vars = |run_id: &'static str, job: &'static str| {
        vec![
            ("GRIT_ROOT", root.to_str().unwrap().to_owned()),
            ("GITHUB_WORKSPACE", a.to_str().unwrap().to_owned()),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap().to_owned()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap().to_owned()),
            ("GITHUB_RUN_ID", run_id.to_owned()),
            ("GITHUB_RUN_ATTEMPT", "1".to_owned()),
            ("GRIT_RUN", job.to_owned()),
        ]
    };
    let run = |vars: &[(&str, String)]| {
        let _ = std::fs::remove_file(&outputs);
        let v: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = script(&env, "run.sh", &a, &v, &["sandbox-run"]);
        let said: std::collections::BTreeMap<String, String> = std::fs::read_to_string(&outputs)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (out, said)
    };
    // A job that succeeds: committed on the sandbox's branch, signed, pushed.
    let (out, said) = run(&vars("42", "echo built > out.txt"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(said["branch"], "sandbox/ci-42-1", "{said:?}");
    assert_eq!(said["exit-code"], "0");
    assert_eq!(said["pushed"], "true");
    let commit = &said["commit"];
    assert_eq!(commit.len(), 40, "{said:?}");
    assert!(!said["provenance"].is_empty(), "{said:?}");
    let pushed = env.git(&remote, &["rev-parse", "refs/heads/sandbox/ci-42-1"]);
    assert_eq!(pushed.trim(), commit);
    assert_eq!(env.git(&remote, &["show", &format!("{commit}:out.txt")]), "built\n");
    env.ok("sandbox", &a, &["verify", commit]);
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .contains("| `sandbox/ci-42-1` |")
    );
    // A job that fails: its exit code is the step's, its result committed but not pushed.
    let (out, said) = run(&vars("43", "echo half > out.txt; exit 7"));
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(said["exit-code"], "7");
    assert_eq!(said["pushed"], "false");
    assert!(
        !env.git(&remote, &["branch", "--list", "sandbox/ci-43-1"])
            .contains("ci-43")
    );
    // push: always pushes it anyway, for a look at what failed.
    let mut always = vars("44", "echo partial > out.txt; exit 3");
    always.push(("GRIT_PUSH", "always".into()));
    let (out, said) = run(&always);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(said["pushed"], "true");
    assert!(
        env.git(&remote, &["branch", "--list", "sandbox/ci-44-1"])
            .contains("ci-44")
    );
    // A job that changes nothing has nothing to commit or push.
    let (out, said) = run(&vars("48", "true"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((said["commit"].as_str(), said["pushed"].as_str()), ("", "false"));
    // No job, a bad push value, a template that does not exist: said, with hints.
    let (out, _) = run(&vars("45", ""));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
    let mut bad = vars("46", "true");
    bad.push(("GRIT_PUSH", "sometimes".into()));
    assert_eq!(run(&bad).0.status.code(), Some(2));
    let mut missing = vars("47", "true");
    missing.push(("GRIT_TEMPLATE", "nosuch".into()));
    let (out, said) = run(&missing);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(said["exit-code"], "2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuch"));
}

#[test]
fn action_yml_the_example_workflow_and_dependabot_follow_githubs_schemas() {
    let env = TestEnv::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Ok(probe) = env.wrapped("check-jsonschema", dir).arg("--version").output() else {
        eprintln!(
            "skipped: check-jsonschema is not installed; .ci/run installs it with `pip install check-jsonschema`"
        );
        return;
    };
    assert!(probe.status.success());
    for (schema, file) in [
        ("vendor.github-actions", "action.yml"),
        ("vendor.github-workflows", "docs/examples/grit.yml"),
        ("vendor.github-workflows", "docs/examples/sandbox-run.yml"),
        ("vendor.github-workflows", ".github/workflows/release.yml"),
        ("vendor.dependabot", ".github/dependabot.yml"),
    ] {
        let out = env
            .wrapped("check-jsonschema", dir)
            .args(["--builtin-schema", schema, file])
            .output()
            .unwrap();
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stdout));
    }
}
