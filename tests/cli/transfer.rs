//! In and out: export and import back, GitHub's two JSON shapes, beads' JSONL, idempotent
//! re-imports, malformed records and --strict.

use std::path::Path;

use serde_json::{Value, json};

use crate::env::{TestEnv, titles};

fn import(env: &TestEnv, dir: &Path, file: &Path, from: &str) -> Value {
    env.json("issue", dir, &["import", file.to_str().unwrap(), "--from", from])
}

/// `show --json` without what a round trip cannot keep: ids (new events make new ones) and
/// the time of the last change (the import's).
fn comparable(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    for k in ["id", "short_id", "updated_at", "source", "url", "claim", "parent"] {
        o.remove(k);
    }
    for c in o["comments"].as_array_mut().unwrap() {
        c.as_object_mut().unwrap().remove("id");
    }
    for l in o["links"].as_array_mut().unwrap() {
        let l = l.as_object_mut().unwrap();
        l.remove("id");
        l.remove("short_id");
    }
    v
}

#[test]
fn an_export_imports_back_into_a_fresh_repository_unchanged() {
    let env = TestEnv::new();
    let a = env.repo("a");
    let new = |args: &[&str]| -> String {
        let mut v = vec!["create"];
        v.extend_from_slice(args);
        env.json("issue", &a, &v)["id"].as_str().unwrap().to_owned()
    };
    let epic = new(&["-t", "Épique ✨", "--type", "epic", "-p", "1"]);
    let x = new(&[
        "-t",
        "Crash",
        "-l",
        "bug,area:db",
        "-b",
        "Steps:\n1. run",
        "--parent",
        &epic,
    ]);
    let y = new(&["-t", "Docs", "-a", "ann", "--blocked-by", &x, "--discovered-from", &x]);
    env.ok("issue", &a, &["comment", &x, "-b", "seen twice\nwith two lines"]);
    env.ok("issue", &a, &["close", &y, "--reason", "not-planned"]);
    env.ok("issue", &a, &["link", &x, "related", &y]);
    let out = env.tmp.path().join("export.jsonl");
    env.ok("issue", &a, &["export", "--out", out.to_str().unwrap()]);
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), 3);
    let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(first["events"].as_array().unwrap().len() >= 2, "event ids are exported");

    let b = env.repo("b");
    let r = import(&env, &b, &out, "grit");
    assert_eq!(
        (r["created"].as_u64(), r["skipped"].as_array().unwrap().len()),
        (Some(3), 0),
        "{r}"
    );
    for id in [&epic, &x, &y] {
        let before = comparable(env.json("issue", &a, &["show", id]));
        let found = env.json("issue", &b, &["list", "--state", "all", "--limit", "0"]);
        let there = found
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["source"] == format!("grit:{id}"))
            .unwrap_or_else(|| panic!("{id} came over: {found}"));
        let after = comparable(env.json("issue", &b, &["show", there["id"].as_str().unwrap()]));
        assert_eq!(before, after, "issue {id}");
    }
    // Again: nothing to do.
    let again = import(&env, &b, &out, "grit");
    assert_eq!(
        (again["created"].as_u64(), again["events"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    // Back into the repository it came from (and into a clone that synced it): the same issues,
    // with their comments, links and states; nothing new, nothing written.
    let home = import(&env, &a, &out, "grit");
    assert_eq!(
        (
            home["created"].as_u64(),
            home["updated"].as_u64(),
            home["events"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{home}"
    );
    assert_eq!(
        env.json("issue", &a, &["show", &x])["source"],
        Value::Null,
        "not marked imported"
    );
    // Markdown, one file per issue.
    let md = env.tmp.path().join("md");
    env.ok(
        "issue",
        &a,
        &["export", "--format", "md", "--out", md.to_str().unwrap()],
    );
    let files: Vec<_> = std::fs::read_dir(&md).unwrap().flatten().collect();
    assert_eq!(files.len(), 3);
    let crash = files
        .iter()
        .find(|f| f.file_name().to_string_lossy().ends_with("crash.md"))
        .expect("named after the title");
    let text = std::fs::read_to_string(crash.path()).unwrap();
    assert!(text.starts_with("# Crash\n") && text.contains("seen twice"), "{text}");
    // -S picks what goes out.
    let some = env.ok("issue", &a, &["export", "-S", "is:closed", "--format", "json"]);
    let v: Value = serde_json::from_str(&some).unwrap();
    assert_eq!(titles(&v), ["Docs"]);
}

fn gh_issue(n: u64, title: &str, body: &str, state: &str, labels: &[&str], comments: Vec<Value>) -> Value {
    json!({
        "number": n,
        "title": title,
        "body": body,
        "state": state,
        "labels": labels.iter().map(|l| json!({"name": l, "color": "ededed"})).collect::<Vec<_>>(),
        "assignees": [{"login": "octocat"}],
        "author": {"login": "monalisa"},
        "comments": comments,
        "createdAt": "2024-03-01T10:00:00Z",
        "closedAt": if state == "CLOSED" { json!("2024-03-05T10:00:00Z") } else { Value::Null },
        "url": format!("https://github.com/acme/widgets/issues/{n}"),
    })
}

#[test]
fn github_json_in_both_shapes_imports_once() {
    let env = TestEnv::new();
    let dir = env.repo("r");
    let many: Vec<Value> = (0..120)
        .map(|i| json!({"id": format!("IC_{i}"), "author": {"login": "bot"}, "body": format!("comment {i}"), "createdAt": "2024-03-02T00:00:00Z"}))
        .collect();
    let gh = json!([
        gh_issue(1, "Ünïcode ✓ title", "body with `code`", "OPEN", &["bug", "area:ui"], many),
        gh_issue(2, "Empty body", "", "CLOSED", &[], vec![]),
        {"number": 3, "state": "OPEN"},
    ]);
    let file = env.tmp.path().join("gh.json");
    std::fs::write(&file, serde_json::to_string(&gh).unwrap()).unwrap();
    let r = import(&env, &dir, &file, "github");
    assert_eq!(r["created"], 2, "{r}");
    assert_eq!(
        r["skipped"][0]["at"].as_str().unwrap(),
        format!("{}[2]", file.display()),
        "{r}"
    );
    let list = env.json("issue", &dir, &["list", "--state", "all", "--limit", "0"]);
    let one = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Ünïcode ✓ title")
        .unwrap();
    assert_eq!(one["labels"], json!(["area:ui", "bug"]));
    assert_eq!(one["comments"], 120);
    assert_eq!(one["created_at"], "2024-03-01T10:00:00Z", "the original time");
    let show = env.json("issue", &dir, &["show", one["id"].as_str().unwrap()]);
    assert_eq!(show["author"]["name"], "monalisa");
    assert_eq!(show["source"], "github:acme/widgets#1");
    assert_eq!(show["url"], "https://github.com/acme/widgets/issues/1");
    assert_eq!(show["comments"][7]["author"]["name"], "bot");
    let text = env.ok("issue", &dir, &["show", one["id"].as_str().unwrap()]);
    assert!(text.contains("monalisa opened 2024-03-01") && text.contains("Imported from github:acme/widgets#1"));
    // The author `show` names is the one a search finds; the importer is not.
    let native = env.create(&dir, "written here");
    for q in [
        vec!["-S", "author:monalisa"],
        vec!["--author", "MonaLisa"],
        vec!["-S", "author:monalisa OR author:nobody"],
    ] {
        let mut args = vec!["list", "--state", "all"];
        args.extend(q.iter().copied());
        assert_eq!(
            titles(&env.json("issue", &dir, &args)),
            ["Empty body", "Ünïcode ✓ title"],
            "{q:?}"
        );
    }
    let mine = env.json("issue", &dir, &["list", "--state", "all", "--author", "@me"]);
    assert_eq!(mine[0]["id"], native.as_str(), "{mine}");
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    let closed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Empty body")
        .unwrap();
    assert_eq!(closed["state"], "closed");

    // Re-importing the same file writes nothing; a changed one only the differences.
    let again = import(&env, &dir, &file, "github");
    assert_eq!(again["events"], 0, "{again}");
    let mut changed = gh.clone();
    changed[0]["title"] = json!("Renamed");
    changed[0]["comments"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "IC_new", "author": {"login": "bot"}, "body": "late", "createdAt": "2024-04-01T00:00:00Z"}));
    std::fs::write(&file, serde_json::to_string(&changed).unwrap()).unwrap();
    let diff = import(&env, &dir, &file, "github");
    assert_eq!(
        (diff["updated"].as_u64(), diff["events"].as_u64()),
        (Some(1), Some(2)),
        "{diff}"
    );

    // The REST shape: issue objects, and comment objects in another page of a directory.
    let rest = env.tmp.path().join("rest");
    std::fs::create_dir_all(&rest).unwrap();
    std::fs::write(
        rest.join("1-issues.json"),
        serde_json::to_string(&json!([
            {"number": 9, "title": "From REST", "body": null, "state": "closed", "state_reason": "not_planned",
             "labels": [{"name": "x:y"}], "assignees": [], "user": {"login": "hubot"},
             "created_at": "2023-01-01T00:00:00Z", "closed_at": "2023-01-02T00:00:00Z",
             "html_url": "https://github.com/acme/widgets/issues/9", "comments": 1},
            {"number": 10, "title": "A pull request", "state": "open", "pull_request": {}, "user": {"login": "x"},
             "created_at": "2023-01-01T00:00:00Z", "html_url": "https://github.com/acme/widgets/pull/10"}
        ]))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(
        rest.join("2-comments.json"),
        serde_json::to_string(&json!([
            {"id": 77, "issue_url": "https://api.github.com/repos/acme/widgets/issues/9", "user": {"login": "hubot"},
             "body": "closing", "created_at": "2023-01-02T00:00:00Z"}
        ]))
        .unwrap(),
    )
    .unwrap();
    let r = import(&env, &dir, &rest, "github");
    assert_eq!(r["created"], 1, "the pull request is skipped: {r}");
    let found = env.json("issue", &dir, &["list", "-S", "\"From REST\"", "--state", "all"]);
    let show = env.json("issue", &dir, &["show", found[0]["id"].as_str().unwrap()]);
    assert_eq!(show["state_reason"], "not_planned");
    assert_eq!(show["comments"][0]["body"], "closing");
    assert_eq!(show["labels"], json!(["x:y"]));
}

#[test]
fn beads_jsonl_maps_priorities_types_and_dependencies() {
    let env = TestEnv::new();
    let dir = env.repo("r");
    let lines = [
        json!({"id": "bd-1", "title": "Epic", "status": "open", "priority": 1, "issue_type": "epic", "created_at": "2025-10-01T12:00:00.123456+02:00"}),
        json!({"id": "bd-2", "title": "Child", "description": "do it", "status": "in_progress", "priority": 0, "issue_type": "task",
               "assignee": "agent-1", "created_at": "2025-10-02T00:00:00Z",
               "dependencies": [{"issue_id": "bd-2", "depends_on_id": "bd-1", "type": "parent-child"},
                                {"issue_id": "bd-2", "depends_on_id": "bd-3", "type": "blocks"}]}),
        json!({"id": "bd-3", "title": "Blocker", "status": "closed", "priority": 2, "issue_type": "bug", "created_at": "2025-10-03T00:00:00Z",
               "dependencies": [{"issue_id": "bd-3", "depends_on_id": "bd-99", "type": "related"}]}),
    ];
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    text.push_str("{not json\n");
    let file = env.tmp.path().join("issues.jsonl");
    std::fs::write(&file, &text).unwrap();
    // --strict: nothing written.
    let strict = env
        .cmd("issue", &dir)
        .args(["import", file.to_str().unwrap(), "--from", "beads", "--strict"])
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("issues.jsonl:4"));
    assert!(
        env.json("issue", &dir, &["list", "--state", "all"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    // --dry-run: nothing written either.
    let dry = env.json(
        "issue",
        &dir,
        &["import", file.to_str().unwrap(), "--from", "beads", "--dry-run"],
    );
    assert_eq!(dry["created"], 3);
    assert!(
        env.json("issue", &dir, &["list", "--state", "all"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = import(&env, &dir, &file, "beads");
    assert_eq!(r["created"], 3, "{r}");
    assert_eq!(r["skipped"][0]["at"].as_str().unwrap(), format!("{}:4", file.display()));
    assert_eq!(
        r["pending_links"],
        json!(["beads:bd-3 related beads:bd-99"]),
        "kept and said"
    );
    let tree = env.json(
        "issue",
        &dir,
        &[
            "tree",
            env.json("issue", &dir, &["list", "-S", "type:epic"])[0]["id"]
                .as_str()
                .unwrap(),
        ],
    );
    assert_eq!(tree["children"][0]["title"], "Child");
    assert_eq!(tree["children"][0]["priority"], 0);
    assert_eq!(tree["children"][0]["blocked_by"][0]["title"], "Blocker");
    // The blocker is closed, so the child is ready.
    let ready = env.json("issue", &dir, &["ready"]);
    assert_eq!(titles(&ready), ["Child"]);
    assert_eq!(
        env.json("issue", &dir, &["list", "-S", "type:bug", "--state", "all"])[0]["state"],
        "closed"
    );
    assert_eq!(import(&env, &dir, &file, "beads")["events"], 0);
}

#[test]
fn fixes_trailers_close_issues_once_on_the_default_branch() {
    let env = TestEnv::new();
    let (_remote, a, _b) = env.pair();
    let fix = env.create(&a, "Crash on start");
    let other = env.create(&a, "Slow");
    let reffed = env.create(&a, "Tracking");
    let commit = |dir: &Path, msg: &str| {
        std::fs::write(dir.join(format!("f{}", msg.len())), msg).unwrap();
        env.git(dir, &["add", "-A"]);
        env.git(dir, &["commit", "-q", "-m", msg]);
    };
    // Through the hook, on the default branch (main: what the remote's HEAD names).
    env.git(&a, &["checkout", "-q", "main"]);
    commit(
        &a,
        &format!("Fix the crash\n\nFixes: {}\nRefs: {}\n", &fix[..10], &reffed[..8]),
    );
    let show = env.json("issue", &a, &["show", &fix]);
    assert_eq!(show["state"], "closed");
    assert_eq!(show["state_reason"], "completed");
    let head = env.git(&a, &["rev-parse", "HEAD"]);
    assert!(
        show["comments"][0]["body"].as_str().unwrap().contains(head.trim()),
        "{show}"
    );
    let r = env.json("issue", &a, &["show", &reffed]);
    assert_eq!(
        (r["state"].as_str(), r["comments"].as_array().unwrap().len()),
        (Some("open"), 1)
    );
    // An unknown id warns and does not block the commit; off the default branch nothing closes.
    let out = env.git_env(
        &a,
        &["commit", "-q", "--allow-empty", "-m", "x\n\nFixes: 0000000deadbeef\n"],
        &[],
    );
    assert!(out.0, "the commit went in");
    assert!(out.2.contains("warning: grit:"), "{}", out.2);
    env.git(&a, &["checkout", "-q", "-b", "topic"]);
    commit(&a, &format!("Speed up\n\nCloses: {other}\n"));
    assert_eq!(
        env.json("issue", &a, &["show", &other])["state"],
        "open",
        "not on main yet"
    );
    // In CI: --from-commits over a range, for what reached main; idempotent.
    let out = env.json("issue", &a, &["close", "--from-commits", "main~2..topic"]);
    assert!(
        out["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("is not on main")),
        "{out}"
    );
    env.git(&a, &["checkout", "-q", "main"]);
    env.git(&a, &["merge", "-q", "--ff-only", "topic"]);
    let out = env.json("issue", &a, &["close", "--from-commits", "main~3..main"]);
    assert_eq!(env.json("issue", &a, &["show", &other])["state"], "closed", "{out}");
    // A reopened issue stays open: the same commit never closes it twice.
    env.ok("issue", &a, &["reopen", &fix]);
    let again = env.json("issue", &a, &["close", "--from-commits", "main~3..main"]);
    assert_eq!(again["closed"], json!([]), "{again}");
    assert_eq!(env.json("issue", &a, &["show", &fix])["state"], "open");
}

#[test]
fn an_import_refuses_the_cycles_and_the_label_floods_the_cli_refuses() {
    let env = TestEnv::new();
    let dir = env.repo("r");
    let many: Vec<String> = (0..1000).map(|i| format!("l{i}")).collect();
    let lines = [
        json!({"id": "bd-1", "title": "One", "status": "open", "created_at": "2025-10-01T00:00:00Z",
               "dependencies": [{"issue_id": "bd-1", "depends_on_id": "bd-2", "type": "blocks"}]}),
        json!({"id": "bd-2", "title": "Two", "status": "open", "created_at": "2025-10-01T00:00:00Z",
               "dependencies": [{"issue_id": "bd-2", "depends_on_id": "bd-3", "type": "blocks"}]}),
        json!({"id": "bd-3", "title": "Three", "status": "open", "created_at": "2025-10-01T00:00:00Z",
               "dependencies": [{"issue_id": "bd-3", "depends_on_id": "bd-1", "type": "blocks"}]}),
        json!({"id": "bd-4", "title": "Flood", "status": "open", "created_at": "2025-10-01T00:00:00Z", "labels": many}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let file = env.tmp.path().join("issues.jsonl");
    std::fs::write(&file, &text).unwrap();
    let r = import(&env, &dir, &file, "beads");
    assert_eq!(r["created"], 3, "{r}");
    let reasons: Vec<String> = r["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap().to_owned())
        .collect();
    assert!(reasons.iter().any(|s| s.contains("1000 labels")), "{reasons:?}");
    assert!(reasons.iter().any(|s| s.contains("cycle")), "{reasons:?}");
    // What was written holds no cycle: check is clean, and two of the three links are there.
    env.ok("wal", &dir, &["check"]);
    assert_eq!(r["links"], 2, "{r}");
    // --strict refuses the lot.
    let other = env.repo("s");
    let strict = env
        .cmd("issue", &other)
        .args(["import", file.to_str().unwrap(), "--from", "beads", "--strict"])
        .output()
        .unwrap();
    assert_eq!(
        strict.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&strict.stderr)
    );
}
