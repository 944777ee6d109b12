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
        let c = c.as_object_mut().unwrap();
        c.remove("id");
        c.remove("source");
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
    // The blocker is closed, but the child is in progress (beads' claim): not ready, as in
    // beads; it carries its status and assignee.
    assert!(env.json("issue", &dir, &["ready"]).as_array().unwrap().is_empty());
    let child = &env.json("issue", &dir, &["list", "-S", "label:status:in_progress"])[0];
    assert_eq!(child["title"], "Child");
    assert_eq!(child["assignees"], json!(["agent-1"]));
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

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The titles of beads' ready queue for a file of its records, by the rule of its
/// `GetReadyWork` written out: status `open` (an `in_progress` issue is claimed work, which
/// `br ready` leaves out), not pinned, not ephemeral, a type outside beads' non-work list (with
/// `event` and `convoy`), and no blocking dependency (`blocks`, `conditional-blocks`,
/// `waits-for`) on an issue that is not closed.
fn beads_ready(records: &[Value]) -> Vec<String> {
    let status = |id: &str| -> String {
        records
            .iter()
            .find(|r| r["id"] == id)
            .map_or("closed".into(), |r| r["status"].as_str().unwrap_or("open").to_owned())
    };
    let not_work = [
        "merge-request",
        "gate",
        "molecule",
        "message",
        "agent",
        "role",
        "rig",
        "event",
        "convoy",
    ];
    let mut out: Vec<String> = records
        .iter()
        .filter(|r| r["status"].as_str().unwrap_or("open") == "open")
        .filter(|r| r["pinned"] != true && r["ephemeral"] != true)
        .filter(|r| !not_work.contains(&r["issue_type"].as_str().unwrap_or("task")))
        .filter(|r| {
            !r["dependencies"].as_array().into_iter().flatten().any(|d| {
                ["blocks", "conditional-blocks", "waits-for"].contains(&d["type"].as_str().unwrap())
                    && status(d["depends_on_id"].as_str().unwrap()) != "closed"
            })
        })
        .map(|r| r["title"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn all_of_beads_statuses_flags_types_and_dependencies_and_its_ready_queue() {
    let env = TestEnv::new();
    let dir = env.repo("r");
    let file = fixture("beads/issues.jsonl");
    let records: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let r = import(&env, &dir, &file, "beads");
    assert_eq!(r["created"], records.len(), "every record comes in: {r}");
    assert!(r["skipped"].as_array().unwrap().is_empty(), "{r}");
    assert!(r["pending_links"].as_array().unwrap().is_empty(), "{r}");
    // The ready queue is beads' own.
    let ready = sorted(titles(&env.json("issue", &dir, &["ready", "-L", "0"])));
    assert_eq!(ready, beads_ready(&records));
    assert!(ready.contains(&"Conditional on closed".to_owned()), "{ready:?}");
    // Statuses and flags are kept, shown, and can be asked for.
    let with = |q: &str| sorted(titles(&env.json("issue", &dir, &["list", "-S", q, "--state", "all"])));
    assert_eq!(with("label:status:hooked"), ["Hooked by a worker"]);
    assert_eq!(with("label:status:pinned"), ["Pinned status"]);
    assert_eq!(with("label:pinned"), ["Pinned flag"]);
    assert_eq!(with("label:status:deferred"), ["Put on ice"]);
    assert_eq!(with("label:ephemeral"), ["A wisp"]);
    let wisp = with("label:ephemeral");
    let including = sorted(titles(&env.json(
        "issue",
        &dir,
        &["ready", "-L", "0", "--include-ephemeral"],
    )));
    assert_eq!(including.len(), ready.len() + 1);
    assert!(including.contains(&wisp[0]));
    assert_eq!(
        titles(&env.json("issue", &dir, &["ready", "-S", "label:ephemeral"])),
        wisp
    );
    // The kinds that are not work keep their type, and a query for the type finds them.
    assert_eq!(with("type:message"), ["A message"]);
    assert_eq!(with("type:convoy"), ["A convoy"]);
    assert_eq!(
        titles(&env.json("issue", &dir, &["ready", "-S", "type:agent"])),
        ["An agent"]
    );
    // Claimed work carries its assignee; the close reason is kept in the body; tracks is related.
    let show = |title: &str| env.show_titled(&dir, title);
    assert_eq!(show("Claimed work")["assignees"], json!(["ada"]));
    // beads' in_progress is a claim by its assignee: claimed: finds it, and listings say who.
    let claimed = env.json("issue", &dir, &["list", "-S", "claimed:true"]);
    assert_eq!(titles(&claimed), ["Claimed work"], "{claimed}");
    assert_eq!(claimed[0]["claim"]["by_name"], "ada");
    assert!(
        show("Done")["body"]
            .as_str()
            .unwrap()
            .contains("## Close reason\n\nfixed in abc123")
    );
    let convoy = show("A convoy");
    assert_eq!(convoy["links"][0]["title"], "Open task");
    let many = show("Many references");
    let kinds: Vec<&str> = many["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["link"].as_str().unwrap())
        .collect();
    for k in ["discovered_from", "related", "duplicate_of"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let parent = show("Parent feature")["id"].clone();
    assert_eq!(show("Child task")["parent"], parent);
    let one = show("Open task");
    assert_eq!(one["comments"].as_array().unwrap().len(), 2);

    // Out to beads and back: a fixed point.
    let out1 = env.tmp.path().join("e1.jsonl");
    env.ok(
        "issue",
        &dir,
        &["export", "--format", "beads", "-o", out1.to_str().unwrap()],
    );
    let e1: Vec<Value> = std::fs::read_to_string(&out1)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(e1.len(), records.len());
    // beads' schema: its field names and shapes, its ids, statuses and dependency kinds.
    for e in &e1 {
        let r = records
            .iter()
            .find(|r| r["id"] == e["id"])
            .expect("an id of the fixture");
        assert_eq!(
            e["status"],
            r["status"].as_str().map_or(json!("open"), |s| json!(s)),
            "{e}"
        );
        assert_eq!(e["issue_type"], r["issue_type"]);
        assert_eq!(e["priority"], r["priority"]);
        for k in ["pinned", "ephemeral", "assignee"] {
            assert_eq!(e.get(k), r.get(k), "{k} of {}", r["id"]);
        }
        assert!(
            e.get("closed_at").is_some() == (r["status"] == "closed"),
            "closed_at is there exactly when closed: {e}"
        );
        for k in e.as_object().unwrap().keys() {
            assert!(
                BEADS_FIELDS.contains(&k.as_str()),
                "{k} is not a field of beads' schema"
            );
        }
    }
    let dep_of = |id: &str| -> Vec<String> {
        let e = e1.iter().find(|e| e["id"] == id).unwrap();
        e["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                format!(
                    "{} {}",
                    d["type"].as_str().unwrap(),
                    d["depends_on_id"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(dep_of("fx-15"), ["blocks fx-1"]);
    assert_eq!(dep_of("fx-14"), ["parent-child fx-13"]);
    assert!(dep_of("fx-18").contains(&"discovered-from fx-1".to_owned()));
    // Read back here: nothing changes.
    let again = import(&env, &dir, &out1, "beads");
    assert_eq!(again["events"], 0, "{again}");
    // Read into a fresh repository and exported again: the same records.
    let fresh = env.repo("fresh");
    let r2 = import(&env, &fresh, &out1, "beads");
    assert!(r2["skipped"].as_array().unwrap().is_empty(), "{r2}");
    let out2 = env.tmp.path().join("e2.jsonl");
    env.ok(
        "issue",
        &fresh,
        &["export", "--format", "beads", "-o", out2.to_str().unwrap()],
    );
    let e2: Vec<Value> = std::fs::read_to_string(&out2)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let timeless = |v: &[Value]| -> Vec<Value> {
        v.iter()
            .map(|e| {
                let mut e = e.clone();
                let o = e.as_object_mut().unwrap();
                o.remove("updated_at");
                o.remove("closed_at");
                e
            })
            .collect()
    };
    assert_eq!(timeless(&e1), timeless(&e2));
    assert_eq!(sorted(titles(&env.json("issue", &fresh, &["ready", "-L", "0"]))), ready);
}

/// The fields of beads' issue record (its `types.Issue` JSON names) an export may write.
const BEADS_FIELDS: [&str; 18] = [
    "id",
    "title",
    "description",
    "status",
    "priority",
    "issue_type",
    "assignee",
    "created_at",
    "created_by",
    "updated_at",
    "closed_at",
    "close_reason",
    "labels",
    "dependencies",
    "comments",
    "pinned",
    "ephemeral",
    "external_ref",
];

#[test]
fn a_native_issue_goes_out_to_beads_and_comes_back_to_itself() {
    let env = TestEnv::new();
    let dir = env.repo("r");
    let a = env.create(&dir, "Native");
    let b = env.create(&dir, "Blocker");
    env.ok("issue", &dir, &["link", &a, "blocked-by", &b]);
    env.ok("issue", &dir, &["comment", &a, "-m", "a note"]);
    let out = env.tmp.path().join("b.jsonl");
    env.ok(
        "issue",
        &dir,
        &["export", "--format", "beads", "-o", out.to_str().unwrap()],
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let first: Value = serde_json::from_str(text.lines().find(|l| l.contains("Native")).unwrap()).unwrap();
    assert_eq!(first["id"], format!("grit-{}", &a[..12]));
    assert_eq!(first["external_ref"], format!("grit:{a}"));
    assert_eq!(first["dependencies"][0]["depends_on_id"], format!("grit-{}", &b[..12]));
    assert!(first["comments"][0]["id"].as_str().unwrap().starts_with("grit:"));
    let r = import(&env, &dir, &out, "beads");
    assert_eq!((r["created"].as_u64(), r["events"].as_u64()), (Some(0), Some(0)), "{r}");
}

#[test]
fn jira_search_pages_map_types_links_adf_and_resolutions() {
    let env = TestEnv::new();
    let dir = env.repo("r");
    let pages = fixture("jira");
    // The config table over the defaults: Jira's "Improvement" is a chore here.
    let git = |args: &[&str]| {
        assert!(
            std::process::Command::new("git")
                .args(args)
                .current_dir(&dir)
                .status()
                .unwrap()
                .success()
        );
    };
    git(&["config", "--add", "issue.jira.type", "Improvement=chore"]);
    let r = import(&env, &dir, &pages, "jira");
    assert_eq!(r["created"], 5, "{r}");
    let skipped = r["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{r}");
    assert!(skipped[0]["at"].as_str().unwrap().contains("search-2.json[2]"), "{r}");
    assert!(skipped[0]["reason"].as_str().unwrap().contains("APP-6"), "{r}");
    let show = |title: &str| env.show_titled(&dir, title);
    let crash = show("Crash on save");
    assert_eq!(
        (crash["type"].as_str(), crash["priority"].as_u64()),
        (Some("bug"), Some(0))
    );
    assert_eq!(crash["labels"], json!(["component:editor", "crash"]));
    assert_eq!(crash["assignees"], json!(["Bob"]));
    assert_eq!(crash["author"]["name"], "Ada");
    assert_eq!(crash["url"], "https://acme.atlassian.net/browse/APP-1");
    assert_eq!(
        crash["body"],
        "### Steps\n\n1. open the app\n2. click **Save**\n\n```python\nprint('crash')\n```\n\ncc @Bob see [the log](https://logs.acme.test/1)"
    );
    assert_eq!(crash["comments"][0]["body"], "Reproduced on 日本語 locale ✓");
    assert_eq!(crash["created_at"], "2024-01-01T09:00:00Z", "the offset is applied");
    let links: Vec<String> = crash["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| format!("{} {}", l["link"].as_str().unwrap(), l["title"].as_str().unwrap()))
        .collect();
    assert!(links.contains(&"blocked_by Ünïcode fix".to_owned()), "{links:?}");
    let fix = show("Ünïcode fix");
    assert_eq!(
        (
            fix["state"].as_str(),
            fix["state_reason"].as_str(),
            fix["body"].as_str()
        ),
        (Some("closed"), Some("completed"), Some(""))
    );
    assert_eq!(fix["type"], "story");
    let wont = show("Won't do this");
    assert_eq!(
        (wont["state_reason"].as_str(), wont["type"].as_str()),
        (Some("not_planned"), Some("chore"))
    );
    let kinds: Vec<&str> = wont["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["link"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"duplicate_of") && kinds.contains(&"related"),
        "{kinds:?}"
    );
    assert_eq!(show("Sub-task of the epic")["parent"], show("An epic")["id"]);
    assert_eq!(show("Sub-task of the epic")["priority"], 4);
    // Again: nothing.
    assert_eq!(import(&env, &dir, &pages, "jira")["events"], 0);
    // A bad table entry is refused before anything is read.
    git(&["config", "--add", "issue.jira.priority", "P1=9"]);
    let bad = env
        .cmd("issue", &dir)
        .args(["import", pages.to_str().unwrap(), "--from", "jira"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a priority"));
}

#[test]
fn jira_csv_export_comes_in_as_its_search_does() {
    let env = TestEnv::new();
    let dir = env.repo("r");
    let file = fixture("jira/csv/export.csv");
    let r = import(&env, &dir, &file, "jira");
    assert_eq!(r["created"], 4, "{r}");
    let show = |title: &str| env.show_titled(&dir, title);
    let crash = show("Crash on save");
    assert_eq!(
        (crash["type"].as_str(), crash["priority"].as_u64()),
        (Some("bug"), Some(0))
    );
    assert_eq!(crash["labels"], json!(["component:editor", "crash", "ui"]));
    assert_eq!(crash["created_at"], "2024-01-05T10:00:00Z");
    assert_eq!(
        crash["body"], "Steps:\n# open\n# *save*\n\nünïcode ✓",
        "wiki markup kept as written"
    );
    let comments: Vec<(&str, &str, &str)> = crash["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["author"]["name"].as_str().unwrap(),
                c["created_at"].as_str().unwrap(),
                c["body"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        comments,
        [
            (
                "557058:bob",
                "2024-01-06T09:15:00Z",
                "Reproduced, quoted; with a semicolon"
            ),
            ("557058:ada", "2024-01-07T13:30:00Z", "Fixed ✓")
        ]
    );
    assert!(
        crash["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["link"] == "blocked_by" && l["title"] == "Ünïcode fix")
    );
    assert_eq!(show("Ünïcode fix")["state"], "closed");
    assert_eq!(show("Won't do")["state_reason"], "not_planned");
    assert_eq!(show("Sub-task")["parent"], crash["id"]);
    assert_eq!(import(&env, &dir, &file, "jira")["events"], 0);
    // Cut off inside a quoted field: the broken row is named, and --strict writes nothing.
    let text = std::fs::read_to_string(&file).unwrap();
    let cut = env.tmp.path().join("cut.csv");
    std::fs::write(&cut, &text[..text.find("ünïcode").unwrap()]).unwrap();
    let fresh = env.repo("fresh");
    let strict = env
        .cmd("issue", &fresh)
        .args(["import", cut.to_str().unwrap(), "--from", "jira", "--strict"])
        .output()
        .unwrap();
    assert_eq!(
        strict.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&strict.stderr)
    );
    assert!(
        env.json("issue", &fresh, &["list", "--state", "all"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = import(&env, &fresh, &cut, "jira");
    assert_eq!(r["created"], 0, "{r}");
    assert!(r["skipped"][0]["at"].as_str().unwrap().contains("cut.csv:2"), "{r}");
}
