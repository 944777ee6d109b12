//! `git issue` end to end.

use predicates::prelude::*;
use serde_json::Value;

use crate::env::TestEnv;

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect()
}

#[test]
fn create_then_list_and_show_round_trip_every_field() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let created = t.json(
        "issue",
        &r,
        &[
            "create",
            "--title",
            "  Login fails  ",
            "--body",
            "Steps\n1. go",
            "--label",
            "bug,ui",
            "-l",
            "bug",
            "--assignee",
            "bob",
        ],
    );
    assert_eq!(created["title"], "Login fails", "titles are trimmed");
    assert_eq!(created["labels"], serde_json::json!(["bug", "ui"]));
    assert_eq!(created["assignees"], serde_json::json!(["bob"]));
    assert_eq!(created["state"], "open");
    assert_eq!(created["author"]["name"], "Ann Example");
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 64);

    let list = t.json("issue", &r, &["list"]);
    let row = &list[0];
    for key in [
        "id",
        "short_id",
        "title",
        "state",
        "labels",
        "assignees",
        "author",
        "created_at",
        "updated_at",
    ] {
        assert_eq!(row[key], created[key], "{key} agrees between create and list");
    }
    assert!(row["short_id"].as_str().unwrap().len() >= 7);

    let shown = t.json("issue", &r, &["show", &id[..7]]);
    assert_eq!(shown["body"], "Steps\n1. go");
    assert_eq!(shown["comments"], serde_json::json!([]));
    let viewed = t.json("issue", &r, &["view", id]);
    assert_eq!(shown, viewed, "`view` is an alias of `show`");
}

#[test]
fn edit_comment_close_and_reopen_change_what_show_prints() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "Old title");
    t.ok(
        "issue",
        &r,
        &[
            "edit",
            &id,
            "--title",
            "New title",
            "--body",
            "Body",
            "--add-label",
            "a,b",
            "--add-assignee",
            "cy",
        ],
    );
    t.ok(
        "issue",
        &r,
        &["edit", &id, "--remove-label", "a", "--remove-assignee", "cy"],
    );
    t.ok("issue", &r, &["comment", &id, "--body", "first"]);
    t.ok(
        "issue",
        &r,
        &["close", &id, "--reason", "not-planned", "--comment", "closing"],
    );
    let s = t.json("issue", &r, &["show", &id]);
    assert_eq!(s["title"], "New title");
    assert_eq!(s["body"], "Body");
    assert_eq!(s["labels"], serde_json::json!(["b"]));
    assert_eq!(s["assignees"], serde_json::json!([]));
    assert_eq!(s["state"], "closed");
    assert_eq!(s["state_reason"], "not_planned");
    let bodies: Vec<&str> = s["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["first", "closing"]);

    assert_eq!(
        t.json("issue", &r, &["list"]),
        serde_json::json!([]),
        "closed issues leave the default list"
    );
    assert_eq!(ids(&t.json("issue", &r, &["list", "--state", "closed"])), [id.as_str()]);

    t.ok("issue", &r, &["reopen", &id]);
    let s = t.json("issue", &r, &["show", &id]);
    assert_eq!(s["state"], "open");
    assert_eq!(s["state_reason"], Value::Null);
}

#[test]
fn list_filters_by_state_label_and_limit_newest_first() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let mut made = Vec::new();
    for i in 0..5 {
        let mut cmd = t.cmd("issue", &r);
        cmd.env("GRIT_NOW", (1_763_700_000 + i).to_string());
        let label = if i % 2 == 0 { "even" } else { "odd" };
        let out = cmd
            .args(["create", "--title", &format!("issue {i}"), "--label", label, "--json"])
            .output()
            .unwrap();
        made.push(
            serde_json::from_slice::<Value>(&out.stdout).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    t.ok("issue", &r, &["close", made[4].as_str()]);
    assert_eq!(
        ids(&t.json("issue", &r, &["list"])),
        [made[3].as_str(), made[2].as_str(), made[1].as_str(), made[0].as_str()],
        "newest first"
    );
    assert_eq!(
        ids(&t.json("issue", &r, &["list", "--label", "even"])),
        [made[2].as_str(), made[0].as_str()]
    );
    assert_eq!(
        ids(&t.json("issue", &r, &["list", "--state", "all", "--label", "even"])),
        [made[4].as_str(), made[2].as_str(), made[0].as_str()]
    );
    assert_eq!(
        ids(&t.json("issue", &r, &["list", "--limit", "2"])),
        [made[3].as_str(), made[2].as_str()]
    );
    assert_eq!(
        ids(&t.json("issue", &r, &["list", "--label", "even", "--label", "odd"])),
        Vec::<&str>::new()
    );

    // What a limit leaves out is counted per state, through reopening, closing and a rebuild.
    let hint = |args: &[&str]| {
        let out = t.cmd("issue", &r).args(args).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(hint(&["list", "--limit", "1"]).contains("hint: 3 more;"));
    assert!(hint(&["list", "--state", "all", "--limit", "1"]).contains("hint: 4 more;"));
    assert_eq!(hint(&["list", "--state", "closed", "--limit", "1"]), "");
    t.ok("issue", &r, &["reopen", made[4].as_str()]);
    t.ok("issue", &r, &["close", made[0].as_str()]);
    t.ok("issue", &r, &["close", made[1].as_str()]);
    for round in ["folded", "rebuilt"] {
        assert!(hint(&["list", "--limit", "1"]).contains("hint: 2 more;"), "{round}");
        assert!(
            hint(&["list", "--state", "closed", "--limit", "1"]).contains("hint: 1 more;"),
            "{round}"
        );
        assert!(
            hint(&["list", "--label", "even", "--limit", "1"]).contains("hint: 1 more;"),
            "{round}"
        );
        std::fs::remove_dir_all(r.join(".git/grit/index")).unwrap();
    }
}

#[test]
fn human_output_is_tab_separated_when_piped() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "Piped");
    t.cmd("issue", &r)
        .args(["list"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(format!("^{}\topen\tPiped\t\t2025-11-21T04:40:00Z\n$", &id[..7])).unwrap());
    t.cmd("issue", &r)
        .args(["show", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("Piped"));
}

#[test]
fn deleting_the_index_changes_nothing_that_is_printed() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "Survives");
    t.ok("issue", &r, &["comment", &id, "--body", "hello"]);
    t.ok("issue", &r, &["edit", &id, "--add-label", "x"]);
    let (list, show) = (t.json("issue", &r, &["list"]), t.json("issue", &r, &["show", &id]));
    std::fs::remove_dir_all(r.join(".git/grit/index")).unwrap();
    assert_eq!(t.json("issue", &r, &["list"]), list);
    assert_eq!(t.json("issue", &r, &["show", &id]), show);
    t.ok("wal", &r, &["rebuild"]);
    assert_eq!(t.json("issue", &r, &["show", &id]), show);
}

#[test]
fn a_damaged_index_is_rebuilt_silently() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "Robust");
    let before = t.json("issue", &r, &["show", &id]);
    std::fs::write(r.join(".git/grit/index/data.mdb"), b"garbage, not an LMDB file").unwrap();
    assert_eq!(t.json("issue", &r, &["show", &id]), before);
}

#[test]
fn two_actors_in_one_repository_write_to_their_own_refs() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "Shared");
    let mut c = t.cmd("issue", &r);
    c.env("GRIT_ACTOR", "agent-1")
        .args(["comment", &id, "--body", "from the agent"])
        .assert()
        .success();
    let refs = t.grit_refs(&r);
    assert_eq!(refs.matches("refs/grit/wal/").count(), 2, "{refs}");
    assert_eq!(refs.matches("refs/grit/actors/").count(), 2, "{refs}");
    let s = t.json("issue", &r, &["show", &id]);
    assert_ne!(s["author"]["id"], s["comments"][0]["author"]["id"]);
    assert_eq!(s["comments"][0]["author"]["name"], "Ann Example");
    let actors = t.json("wal", &r, &["actor", "list"]);
    let labels: Vec<&str> = actors
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["agent-1", "default"]);
}

#[test]
fn ids_are_accepted_by_any_unique_prefix_and_ambiguity_lists_candidates() {
    let t = TestEnv::new();
    let r = t.repo("r");
    // 17 ids over 16 hex digits: two must share their first digit.
    let made: Vec<String> = (0..17).map(|i| t.create(&r, &format!("n{i}"))).collect();
    let (a, b) = made
        .iter()
        .enumerate()
        .find_map(|(i, a)| made[i + 1..].iter().find(|b| b[..1] == a[..1]).map(|b| (a, b)))
        .expect("pigeonhole");
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    if common >= 4 {
        t.cmd("issue", &r)
            .args(["show", &a[..common]])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("ambiguous"))
            .stderr(predicate::str::contains(&a[..common + 1]))
            .stderr(predicate::str::contains(&b[..common + 1]));
    }
    // Fewer than 4 digits name nothing, as in git: `close 1` must not close an unrelated issue.
    for cmd in [
        vec!["show", &a[..1]],
        vec!["close", &a[..1]],
        vec!["comment", &a[..3], "--body", "x"],
    ] {
        t.cmd("issue", &r)
            .args(&cmd)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("too short"))
            .stderr(predicate::str::contains("hint: "));
    }
    assert_eq!(
        t.json("issue", &r, &["show", &a[..4.max(common + 1)]])["id"],
        a.as_str()
    );
    let short = t.json("issue", &r, &["list", "--limit", "0"]);
    for row in short.as_array().unwrap() {
        let s = row["short_id"].as_str().unwrap();
        assert_eq!(
            t.json("issue", &r, &["show", s])["id"],
            row["id"],
            "every short id resolves to its issue"
        );
    }
    t.cmd("issue", &r)
        .args(["show", "zzzzzzz"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not an issue id"));
    t.cmd("issue", &r)
        .args(["show", "0000000000"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no issue matches"));
}

fn assert_nothing_written(t: &TestEnv, r: &std::path::Path) {
    assert_eq!(t.grit_refs(r), "", "no ref was written");
}

#[test]
fn an_empty_title_is_refused_and_nothing_is_written() {
    let t = TestEnv::new();
    let r = t.repo("r");
    for args in [
        &["create", "--title", "   "][..],
        &["create"],
        &["create", "--title", "a\u{7}b"],
    ] {
        t.cmd("issue", &r)
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("hint:"));
    }
    assert_nothing_written(&t, &r);
}

#[test]
fn a_body_file_that_is_not_utf8_is_refused() {
    let t = TestEnv::new();
    let r = t.repo("r");
    std::fs::write(r.join("body.bin"), [0x66, 0xff, 0xfe, 0x00]).unwrap();
    t.cmd("issue", &r)
        .args(["create", "--title", "x", "--body-file", "body.bin"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not valid UTF-8"));
    t.cmd("issue", &r)
        .args(["create", "--title", "x", "--body-file", "missing.txt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.txt"));
    assert_nothing_written(&t, &r);
    std::fs::write(r.join("body.md"), "from a file\n").unwrap();
    let id = t.create(&r, "with file");
    t.ok("issue", &r, &["edit", &id, "--body-file", "body.md"]);
    assert_eq!(t.json("issue", &r, &["show", &id])["body"], "from a file");
    t.cmd("issue", &r)
        .args(["comment", &id, "-F", "-"])
        .write_stdin("from stdin")
        .assert()
        .success();
    assert_eq!(t.json("issue", &r, &["show", &id])["comments"][0]["body"], "from stdin");
}

#[test]
fn outside_a_repository_the_error_says_so() {
    let t = TestEnv::new();
    let dir = t.tmp.path().join("plain");
    std::fs::create_dir_all(&dir).unwrap();
    t.cmd("issue", &dir)
        .env("GIT_CEILING_DIRECTORIES", t.tmp.path())
        .args(["list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a git repository"))
        .stderr(predicate::str::contains("hint: "));
}

#[test]
fn an_unset_user_name_is_refused_with_a_hint_and_nothing_is_written() {
    let t = TestEnv::new();
    let r = t.tmp.path().join("anon");
    std::fs::create_dir_all(&r).unwrap();
    t.git(&r, &["init", "-q"]);
    t.cmd("issue", &r)
        .args(["create", "--title", "who am I"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("user.name is not set"))
        .stderr(predicate::str::contains("git config user.name"));
    assert_nothing_written(&t, &r);
    assert!(
        !r.join(".git/grit/actors/default.key").exists(),
        "no half-made actor is left behind"
    );
}

#[test]
fn edits_that_change_nothing_write_nothing() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "Same");
    let before = t.git(&r, &["rev-list", "--all", "--count"]);
    t.cmd("issue", &r)
        .args(["edit", &id, "--title", "Same"])
        .assert()
        .success()
        .stderr(predicate::str::contains("nothing changed"));
    t.cmd("issue", &r)
        .args(["reopen", &id])
        .assert()
        .success()
        .stderr(predicate::str::contains("already open"));
    assert_eq!(t.git(&r, &["rev-list", "--all", "--count"]), before);
    t.cmd("issue", &r)
        .args(["edit", &id])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to edit"));
}

#[test]
fn json_failures_leave_stdout_empty() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.cmd("issue", &r)
        .args(["show", "abcdef0", "--json"])
        .assert()
        .code(1)
        .stdout("");
}

#[test]
fn concurrent_processes_on_one_actor_and_on_many_never_lose_an_event() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "warm up"); // the shared actor exists before the race
    let per_proc = 5;
    let mut children = Vec::new();
    for p in 0..8 {
        let actor = if p < 4 {
            "default".to_owned()
        } else {
            format!("agent-{p}")
        };
        let mut cmd = std::process::Command::new("sh");
        let exe = std::path::Path::new(env!("CARGO_BIN_EXE_git-issue"));
        let script = format!(
            "for i in $(seq 1 {per_proc}); do \"{}\" create --title \"p{p} n$i\" >/dev/null || exit 1; done",
            exe.display()
        );
        cmd.args(["-c", &script])
            .current_dir(&r)
            .env("GRIT_ACTOR", actor)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null");
        children.push(cmd.spawn().unwrap());
    }
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let expected = 1 + 8 * per_proc;
    let list = t.json("issue", &r, &["list", "--limit", "0"]);
    assert_eq!(list.as_array().unwrap().len(), expected, "every issue is in the index");
    let log = t.json("wal", &r, &["log"]);
    assert_eq!(log.as_array().unwrap().len(), expected, "every event is in the WAL");
    std::fs::remove_dir_all(r.join(".git/grit/index")).unwrap();
    assert_eq!(
        t.json("issue", &r, &["list", "--limit", "0"]).as_array().unwrap().len(),
        expected
    );
}

#[test]
fn a_reader_that_goes_away_ends_the_listing_quietly() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let long = "x".repeat(1000);
    for i in 0..120 {
        t.ok("issue", &r, &["create", "--title", &format!("{i} {long}")]);
    }
    let line = format!(
        "set -o pipefail; {} list --limit 0 | head -c 10 >/dev/null",
        crate::env::exe("issue")
    );
    let out = t.wrapped("bash", &r).args(["-c", &line]).output().unwrap();
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_usage_error_carries_one_hint() {
    let t = TestEnv::new();
    let r = t.repo("r");
    for args in [vec!["lsit"], vec!["list", "--bogus"]] {
        let out = t.cmd("issue", &r).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2));
        assert!(!err.contains("For more information"), "{err}");
        assert_eq!(err.matches("hint: ").count(), 1, "{err}");
    }
}

#[test]
fn count_answers_in_all_or_by_a_field_and_takes_a_query() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.ok(
        "issue",
        &r,
        &["create", "--title", "a", "--label", "bug,ui", "--priority", "1"],
    );
    t.ok(
        "issue",
        &r,
        &["create", "--title", "b", "--label", "bug", "--type", "feature"],
    );
    let c = t.create(&r, "c");
    t.ok("issue", &r, &["close", &c]);
    assert_eq!(t.ok("issue", &r, &["count"]).trim(), "3", "every state");
    assert_eq!(t.ok("issue", &r, &["count", "-S", "is:open"]).trim(), "2");
    let by = t.json("issue", &r, &["count", "--by", "state"]);
    assert_eq!(by["counts"], serde_json::json!({"open": 2, "closed": 1}), "{by}");
    let by = t.json("issue", &r, &["count", "--by", "label"]);
    assert_eq!(
        by["counts"],
        serde_json::json!({"bug": 2, "ui": 1, "(none)": 1}),
        "{by}"
    );
    let by = t.json("issue", &r, &["count", "--by", "type", "-S", "label:bug"]);
    assert_eq!(by["total"], 2);
    assert_eq!(by["counts"], serde_json::json!({"feature": 1, "task": 1}), "{by}");
    let by = t.json("issue", &r, &["count", "--by", "priority"]);
    assert_eq!(by["counts"], serde_json::json!({"1": 1, "2": 2}), "{by}");
    let human = t.ok("issue", &r, &["count", "--by", "label"]);
    assert_eq!(human.lines().next(), Some("2\tbug"), "{human}");
}
