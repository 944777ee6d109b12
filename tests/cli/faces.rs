//! One library, many faces: an operation driven through the CLI, the terminal UI and the
//! daemon's socket writes the same events and leaves the same state. Each test does the same
//! work through two or three faces, each in a fresh repository, and compares `show --json` and
//! the WAL's event kinds.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use grit::tui::{App, Effect, Tab, Theme};
use serde_json::{Value, json};

use crate::env::TestEnv;

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn fresh(t: &TestEnv, name: &str) -> PathBuf {
    let r = t.repo(name);
    std::fs::write(r.join("a.txt"), "a\n").unwrap();
    std::fs::write(r.join(".gitignore"), ".sandboxes/\n").unwrap();
    t.git(&r, &["add", "."]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    t.git(&r, &["config", "sandbox.root", ".sandboxes"]);
    t.git(&r, &["config", "sandbox.backend", "copy"]);
    t.git(&r, &["config", "grit.daemon.idleTimeout", "0"]);
    r
}

/// What an issue is, leaving out what differs between any two writes (ids, times, actors).
fn essence(t: &TestEnv, r: &Path, id: &str) -> Value {
    let v = t.json("issue", r, &["show", id]);
    json!({
        "title": v["title"],
        "body": v["body"],
        "state": v["state"],
        "labels": v["labels"],
        "comments": v["comments"].as_array().map(|c| c.iter().map(|c| masked(c["body"].as_str().unwrap_or(""))).collect::<Vec<_>>()),
        "claimed": !v["claim"].is_null(),
    })
}

/// `text` with commit ids (which hold the times they were made at) as `<commit>`.
fn masked(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            if w.len() >= 7 && w.bytes().all(|b| b.is_ascii_hexdigit()) {
                "<commit>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The kinds of the events in the log, oldest first.
fn kinds(t: &TestEnv, r: &Path) -> Vec<String> {
    let log = t.json("wal", r, &["log"]);
    let mut v: Vec<(u64, String)> = log
        .as_array()
        .unwrap_or_else(|| panic!("a list: {log}"))
        .iter()
        .map(|e| {
            (
                e["lamport"].as_u64().unwrap_or(0),
                e["kind"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, k)| k).collect()
}

#[test]
fn create_comment_label_claim_and_close_write_the_same_events_from_the_cli_and_the_tui() {
    crate::tui::hermetic();
    let t = TestEnv::new();
    // The CLI.
    let cli = fresh(&t, "cli");
    let id = t.json("issue", &cli, &["create", "--title", "same work", "--body", "the body"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.ok("issue", &cli, &["comment", &id, "--body", "a comment"]);
    t.ok("issue", &cli, &["edit", &id, "--add-label", "bug"]);
    t.ok("issue", &cli, &["claim", &id]);
    t.ok("issue", &cli, &["close", &id]);
    // The terminal UI, key by key.
    let tui = fresh(&t, "tui");
    let mut app = App::new(tui.clone(), Tab::Issues, Theme { color: false }).unwrap();
    let Effect::Edit { purpose, .. } = app.key(key('c')) else {
        panic!("c opens the editor")
    };
    app.edited(purpose, Some("same work\n\nthe body\n".into()));
    let Effect::Edit { purpose, .. } = app.key(key('m')) else {
        panic!("m opens the editor")
    };
    app.edited(purpose, Some("a comment".into()));
    app.key(key('l'));
    for c in "bug".chars() {
        app.key(key(c));
    }
    app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    app.key(key('a'));
    app.key(key('x'));
    assert!(!app.status_error, "{}", app.status);
    let tui_id = t.json("issue", &tui, &["list", "-S", "is:closed"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(essence(&t, &tui, &tui_id), essence(&t, &cli, &id));
    assert_eq!(essence(&t, &cli, &id)["claimed"], true);
    assert_eq!(kinds(&t, &tui), kinds(&t, &cli));
}

/// Calls the daemon's socket: one request, the notifications before its answer, the answer.
fn call(dir: &Path, method: &str, params: Value) -> (Vec<Value>, Value) {
    let s = UnixStream::connect(dir.join(".git/grit/daemon.sock")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = s.try_clone().unwrap();
    writeln!(
        w,
        "{}",
        json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params })
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut notes = Vec::new();
    loop {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0, "the daemon hung up");
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["id"] == json!(1) {
            return (notes, v);
        }
        notes.push(v);
    }
}

/// A sandbox's state as `list` shows it, leaving out paths and times.
fn sandbox_essence(t: &TestEnv, r: &Path) -> Value {
    let l = t.json("sandbox", r, &["list"]);
    json!(l.as_array().unwrap().iter().map(|s| json!({
        "name": s["name"],
        "backend": s["backend"],
        "dirty": s["dirty"],
        "ahead": s["ahead"],
        "issue": !s["issue"].is_null(),
        "locks": s["locks"],
        "last_run": { "cmd": s["last_run"]["cmd"], "exit_code": s["last_run"]["exit_code"], "isolation": s["last_run"]["isolation"] },
    })).collect::<Vec<_>>())
}

#[test]
fn a_sandbox_made_run_and_committed_through_the_socket_matches_the_cli() {
    let t = TestEnv::new();
    let work = |r: &Path| -> String {
        t.json("issue", r, &["create", "--title", "work"])["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // The CLI.
    let cli = fresh(&t, "cli");
    let id = work(&cli);
    t.cmd("sandbox", &cli)
        .args([
            "run",
            "s",
            "--issue",
            &id,
            "--lock",
            "path:a.txt",
            "--keep",
            "--sh",
            "--",
            "echo b > b.txt; exit 3",
        ])
        .assert()
        .code(3);
    // The socket.
    let sock = fresh(&t, "sock");
    let sid = work(&sock);
    t.json("wal", &sock, &["daemon", "start"]);
    let (_, made) = call(
        &sock,
        "sandbox.create",
        json!({ "name": "s", "issue": sid, "lock": ["path:a.txt"] }),
    );
    assert_eq!(made["result"]["state"], "ready", "{made}");
    let (_, ran) = call(
        &sock,
        "sandbox.exec",
        json!({ "name": "s", "cmd": ["echo b > b.txt; exit 3"], "sh": true }),
    );
    assert_eq!(ran["result"]["exit_code"], 3, "{ran}");
    assert_eq!(sandbox_essence(&t, &sock), sandbox_essence(&t, &cli));
    // The locks taken for it are held the same way.
    let held = |r: &Path| -> Vec<Value> {
        t.json("lock", r, &["status"])
            .as_array()
            .unwrap()
            .iter()
            .map(|l| json!([l["resource"], l["note"], l["active"]]))
            .collect()
    };
    assert_eq!(held(&sock), held(&cli));
    // Committing gives them back, through either face.
    t.ok("sandbox", &cli, &["commit", "s", "-m", "made b"]);
    let (_, committed) = call(&sock, "sandbox.commit", json!({ "name": "s", "message": "made b" }));
    assert!(committed["result"]["commit"].is_string(), "{committed}");
    assert_eq!(held(&sock), held(&cli));
    assert_eq!(sandbox_essence(&t, &sock), sandbox_essence(&t, &cli));
    assert_eq!(essence(&t, &sock, &sid), essence(&t, &cli, &id));
    assert_eq!(kinds(&t, &sock), kinds(&t, &cli));
    t.ok("wal", &sock, &["daemon", "stop"]);
}

#[test]
fn the_command_history_has_every_faces_runs_with_their_output_and_stays_bounded() {
    let t = TestEnv::new();
    let r = fresh(&t, "r");
    t.git(&r, &["config", "sandbox.logLimit", "1k"]);
    t.git(&r, &["config", "sandbox.history", "3"]);
    // The CLI: output to a pipe is kept.
    t.cmd("sandbox", &r)
        .args(["run", "s", "--keep", "--sh", "--", "echo from the cli; exit 4"])
        .assert()
        .code(4);
    // The socket.
    t.json("wal", &r, &["daemon", "start"]);
    let (_, ran) = call(
        &r,
        "sandbox.exec",
        json!({ "name": "s", "cmd": ["echo over the socket"], "sh": true }),
    );
    assert_eq!(ran["result"]["exit_code"], 0, "{ran}");
    // repeat runs the last again.
    t.cmd("sandbox", &r).args(["repeat", "s"]).assert().success();
    let log = t.json("sandbox", &r, &["log", "s"]);
    let runs = log.as_array().unwrap();
    let seen: Vec<(&str, i64)> = runs
        .iter()
        .map(|x| (x["via"].as_str().unwrap(), x["exit_code"].as_i64().unwrap()))
        .collect();
    assert_eq!(seen, [("cli", 4), ("socket", 0), ("repeat", 0)]);
    assert!(runs.iter().all(|x| !x["actor"].as_str().unwrap().is_empty()), "{log}");
    let output = |x: &Value| std::fs::read_to_string(x["log"].as_str().unwrap()).unwrap();
    assert_eq!(output(&runs[0]), "from the cli\n");
    assert_eq!(output(&runs[1]), "over the socket\n");
    // Bounded: a run's log keeps its first KiB and says how much more there was.
    t.cmd("sandbox", &r)
        .args(["exec", "s", "--sh", "--", "head -c 5000 /dev/zero | tr '\\0' x"])
        .assert()
        .success();
    let log = t.json("sandbox", &r, &["log", "s"]);
    let runs = log.as_array().unwrap();
    assert_eq!(runs.len(), 3, "sandbox.history keeps 3: {log}");
    assert_eq!(runs[0]["via"], "socket", "the oldest went");
    let big = output(&runs[2]);
    assert!(
        big.starts_with(&"x".repeat(1024)) && big.contains("3976 more bytes"),
        "{}",
        &big[1000..]
    );
    // Only the kept runs' logs are on disk, and none once the sandbox goes.
    let logs = r.join(".git/grit/sandboxes/s.logs");
    assert_eq!(std::fs::read_dir(&logs).unwrap().count(), 3);
    t.ok("wal", &r, &["daemon", "stop"]);
    t.ok("sandbox", &r, &["rm", "s", "--force"]);
    assert!(!logs.exists());
}

/// An issue's history with what differs between any two repositories left out: who, when, and
/// the ids. What each event did, its kind, and a comment's text stay.
fn history(t: &TestEnv, r: &Path, id: &str) -> Vec<Value> {
    let h = t.json("issue", r, &["show", id, "--history"]);
    h.as_array()
        .unwrap_or_else(|| panic!("a list: {h}"))
        .iter()
        .map(|s| json!({ "kind": s["kind"], "what": s["what"], "body": s["body"], "signature": s["signature"] }))
        .collect()
}

/// The same work through the CLI, the MCP server and the web dashboard (and, above, the terminal
/// UI): each face calls the same operation, so each writes the same events, the history shows
/// them alike, and the issue ends the same.
#[test]
fn comment_label_claim_and_close_write_the_same_history_from_the_cli_mcp_and_the_web() {
    let t = TestEnv::new();
    let made = |r: &Path| {
        t.json("issue", r, &["create", "--title", "same work", "--body", "the body"])["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // The CLI.
    let cli = fresh(&t, "cli");
    let id = made(&cli);
    t.ok("issue", &cli, &["comment", &id, "--body", "a comment"]);
    t.ok("issue", &cli, &["edit", &id, "--add-label", "bug"]);
    t.ok("issue", &cli, &["claim", &id]);
    t.ok("issue", &cli, &["close", &id, "--reason", "not-planned"]);
    // An agent over MCP.
    let mcp = fresh(&t, "mcp");
    let mcp_id = made(&mcp);
    let mut s = crate::mcp::Session::start(&t, &mcp, "agent-a", &[]);
    s.ok("comment", json!({ "id": mcp_id, "body": "a comment" }));
    s.ok("edit", json!({ "id": mcp_id, "add_labels": ["bug"] }));
    s.ok("claim", json!({ "id": mcp_id }));
    s.ok("close", json!({ "id": mcp_id, "reason": "not_planned" }));
    // The session stays open to the end: its claims are its own, and end with it.
    // A person on the dashboard.
    let web = fresh(&t, "web");
    let web_id = made(&web);
    let server = crate::web::serve(&t, &web, &[], &[]);
    let (_, _, page) = crate::web::request(server.1, "GET", &format!("/issue/{web_id}"), &[], "");
    let csrf = crate::web::csrf_of(&page);
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    for (action, body) in [
        ("comment", "body=a+comment"),
        ("label", "label=bug"),
        ("claim", ""),
        ("close", "reason=not_planned"),
    ] {
        let (status, _, out) = crate::web::request(
            server.1,
            "POST",
            &format!("/issue/{web_id}/{action}"),
            &[form, ("X-CSRF-Token", &csrf)],
            body,
        );
        assert!(status < 400, "{action}: {status} {out}");
    }
    drop(server);
    let want = history(&t, &cli, &id);
    assert_eq!(want.len(), 4, "created, commented, labelled, closed: {want:?}");
    assert_eq!(want[3]["what"], "closed the issue as not planned", "{want:?}");
    for (face, r, i) in [("mcp", &mcp, &mcp_id), ("web", &web, &web_id)] {
        assert_eq!(history(&t, r, i), want, "{face}");
        assert_eq!(essence(&t, r, i), essence(&t, &cli, &id), "{face}");
    }
    drop(s);
}
