//! `git wal mcp`: the MCP server, driven over stdio by a line client here and by the official
//! Python SDK, and over HTTP by raw requests and by the official conformance suite.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::env::{TestEnv, test_tool};

/// A stdio session: JSON-RPC lines in and out.
pub(crate) struct Session {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
    /// Notifications that arrived while waiting for a response.
    notes: Vec<(Instant, Value)>,
    next: u64,
}

impl Session {
    pub(crate) fn start(t: &TestEnv, dir: &Path, client: &str, env: &[(&str, &str)]) -> Session {
        let mut c = t.std_cmd("wal", dir);
        c.args(["mcp"]).envs(env.iter().copied());
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("git wal mcp starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take().unwrap();
        let mut s = Session {
            child,
            stdin,
            lines,
            notes: Vec::new(),
            next: 1,
        };
        let init = s.request(
            "initialize",
            json!({ "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": client, "version": "1" } }),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "grit", "{init}");
        s.send(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
        s
    }

    fn send(&mut self, v: &Value) {
        writeln!(self.stdin, "{v}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Sends a request and waits for its response (the whole message, result or error).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        self.response(id)
    }

    fn response(&mut self, id: u64) -> Value {
        loop {
            let v = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no response to request {id}"));
            if v["id"] == json!(id) {
                return v;
            }
            self.notes.push((Instant::now(), v));
        }
    }

    pub(crate) fn call(&mut self, tool: &str, args: Value) -> Value {
        self.request("tools/call", json!({ "name": tool, "arguments": args }))
    }

    /// A tool's structured result, which must not be an error.
    pub(crate) fn ok(&mut self, tool: &str, args: Value) -> Value {
        let r = self.call(tool, args);
        assert_eq!(r["result"]["isError"], json!(false), "{tool}: {r}");
        r["result"]["structuredContent"].clone()
    }

    /// Waits for a notification of `method` (or takes one already here).
    fn notification(&mut self, method: &str, within: Duration) -> Option<(Instant, Value)> {
        if let Some(i) = self.notes.iter().position(|(_, n)| n["method"] == method) {
            return Some(self.notes.remove(i));
        }
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(v) if v["method"] == method => return Some((Instant::now(), v)),
                Ok(v) => self.notes.push((Instant::now(), v)),
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo_with_issue(t: &TestEnv) -> (std::path::PathBuf, String) {
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let id = t.create(&r, "Fix the parser");
    (r, id)
}

#[test]
fn every_tool_has_schemas_and_annotations_and_the_lists_hold_what_the_docs_say() {
    let t = TestEnv::new();
    let (r, _) = repo_with_issue(&t);
    let mut s = Session::start(&t, &r, "agent-a", &[]);
    let tools = s.request("tools/list", json!({}));
    let tools = tools["result"]["tools"].as_array().unwrap().clone();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for want in [
        "ready",
        "claim_next",
        "claim",
        "unclaim",
        "show",
        "search",
        "create",
        "comment",
        "edit",
        "close",
        "link",
        "lock_acquire",
        "lock_release",
        "lock_status",
        "sandbox_create",
        "sandbox_exec",
        "sandbox_diff",
        "sandbox_logs",
        "sandbox_suggest",
        "sandbox_merge_plan",
        "sandbox_squash_plan",
        "sandbox_commit",
        "sandbox_land",
        "sandbox_remove",
        "sync",
    ] {
        assert!(names.contains(&want), "{want} is missing from {names:?}");
    }
    for tool in &tools {
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{tool}");
        let a = &tool["annotations"];
        assert!(
            a["readOnlyHint"].is_boolean() && a["destructiveHint"].is_boolean(),
            "{tool}"
        );
    }
    let by = |n: &str| tools.iter().find(|t| t["name"] == n).unwrap()["annotations"].clone();
    assert_eq!(by("ready")["readOnlyHint"], true);
    assert_eq!(by("create")["readOnlyHint"], false);
    assert_eq!(by("sandbox_remove")["destructiveHint"], true);
    // A required argument is required by the schema.
    let show = tools.iter().find(|t| t["name"] == "show").unwrap();
    assert_eq!(show["inputSchema"]["required"], json!(["id"]), "{show}");
    let resources = s.request("resources/list", json!({}));
    let uris: Vec<&str> = resources["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris, ["grit://ready", "grit://claims/me"]);
    let templates = s.request("resources/templates/list", json!({}));
    let templates: Vec<&str> = templates["result"]["resourceTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uriTemplate"].as_str().unwrap())
        .collect();
    assert_eq!(templates, ["grit://issue/{id}", "grit://sandbox/{name}/diff"]);
    let prompts = s.request("prompts/list", json!({}));
    let prompts: Vec<&str> = prompts["result"]["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(prompts, ["prime", "work-next"]);
}

#[test]
fn tools_do_what_the_cli_does_signed_by_the_session_actor() {
    let t = TestEnv::new();
    let (r, id) = repo_with_issue(&t);
    let mut s = Session::start(&t, &r, "agent-a", &[]);
    let ready = s.ok("ready", json!({}));
    assert_eq!(ready["issues"][0]["id"], id.as_str(), "{ready}");
    let claimed = s.ok("claim_next", json!({}));
    assert_eq!(claimed["id"], id.as_str());
    // The CLI sees the claim, by the session's actor.
    let shown = t.json("issue", &r, &["show", &id]);
    assert_eq!(shown["claim"]["by_actor"], "agent-a", "{shown}");
    let made = s.ok(
        "create",
        json!({ "title": "Found while fixing", "discovered_from": [id], "priority": 1 }),
    );
    let new = made["id"].as_str().unwrap().to_owned();
    s.ok("comment", json!({ "id": new, "body": "a note" }));
    s.ok("edit", json!({ "id": new, "add_labels": ["parser"] }));
    s.ok("link", json!({ "id": new, "kind": "blocked-by", "other": id }));
    let detail = s.ok("show", json!({ "id": new }));
    assert_eq!(detail["labels"], json!(["parser"]), "{detail}");
    assert!(
        detail["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["link"] == "blocked_by"),
        "{detail}"
    );
    let found = s.ok("search", json!({ "query": "label:parser" }));
    assert_eq!(found["issues"].as_array().unwrap().len(), 1, "{found}");
    s.ok("close", json!({ "id": new, "reason": "not_planned" }));
    assert_eq!(t.json("issue", &r, &["show", &new])["state"], "closed");
    // The history is the CLI's, event for event.
    let history = s.ok("history", json!({ "id": new }));
    assert_eq!(history["events"], t.json("issue", &r, &["show", &new, "--history"]));
    let what: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert!(what.contains(&"closed the issue as not planned"), "{what:?}");
    assert!(
        what.iter().any(|w| w.starts_with("added the link blocked-by ")),
        "{what:?}"
    );
    // Every event the session wrote is the session actor's.
    let actors = t.json("wal", &r, &["actor", "list"]);
    let agent = actors
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["label"] == "agent-a")
        .expect("the session's actor was made")["id"]
        .clone();
    let log = t.json("wal", &r, &["log", "--issue", &new]);
    assert!(!log.as_array().unwrap().is_empty());
    for ev in log.as_array().unwrap() {
        assert_eq!(ev["actor"], agent, "{ev}");
    }
    // Locks: taken, listed, given back.
    let taken = s.ok(
        "lock_acquire",
        json!({ "resources": ["path:src/parser.rs"], "note": "parser work", "local": true }),
    );
    assert_eq!(taken["locks"][0]["resource"], "path:src/parser.rs", "{taken}");
    let status = s.ok("lock_status", json!({ "mine": true }));
    assert!(
        status["locks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["resource"] == "path:src/parser.rs"),
        "{status}"
    );
    s.ok(
        "lock_release",
        json!({ "resources": ["path:src/parser.rs"], "local": true }),
    );
    // Resources read what the tools wrote.
    let res = s.request(
        "resources/read",
        json!({ "uri": format!("grit://issue/{}", &new[..8]) }),
    );
    let contents = res["result"]["contents"].as_array().unwrap();
    assert_eq!(contents[0]["mimeType"], "text/markdown", "{res}");
    assert!(
        contents[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("# Found while fixing"),
        "{res}"
    );
    assert_eq!(contents[1]["mimeType"], "application/json");
    let mine = s.request("resources/read", json!({ "uri": "grit://claims/me" }));
    let mine: Value = serde_json::from_str(mine["result"]["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(mine["claims"][0]["id"], id.as_str(), "{mine}");
}

#[test]
fn bad_input_gets_the_protocols_error_and_the_server_keeps_serving() {
    let t = TestEnv::new();
    let (r, _) = repo_with_issue(&t);
    let mut s = Session::start(&t, &r, "agent-a", &[]);
    let unknown = s.call("no_such_tool", json!({}));
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    let wrong = s.call("show", json!({ "id": 42 }));
    assert_eq!(wrong["error"]["code"], -32602, "{wrong}");
    assert!(wrong["error"]["message"].as_str().unwrap().contains("show"), "{wrong}");
    let extra = s.call("ready", json!({ "limit": 3, "colour": "red" }));
    assert_eq!(extra["error"]["code"], -32602, "{extra}");
    let missing = s.call("show", json!({ "id": "deadbeef" }));
    assert_eq!(missing["result"]["isError"], true, "{missing}");
    let text = missing["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("no issue matches 'deadbeef'") && text.contains("\nhint: "),
        "{text}"
    );
    let escape = s.call("sandbox_create", json!({ "name": "../../etc" }));
    assert_eq!(escape["result"]["isError"], true, "{escape}");
    assert!(
        escape["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("'..'"),
        "{escape}"
    );
    assert!(!r.join("../../etc").join(".git").exists());
    let query = s.call("search", json!({ "query": "priority:9" }));
    assert_eq!(query["result"]["isError"], true, "{query}");
    let nothing = s.request("resources/read", json!({ "uri": "grit://issue/ffffffff" }));
    assert_eq!(nothing["error"]["code"], -32002, "{nothing}");
    let nothing = s.request("resources/read", json!({ "uri": "file:///etc/passwd" }));
    assert_eq!(nothing["error"]["code"], -32002, "{nothing}");
    let prompt = s.request("prompts/get", json!({ "name": "nope" }));
    assert_eq!(prompt["error"]["code"], -32602, "{prompt}");
    // A line that is not JSON-RPC at all.
    s.send(&json!({ "what": "ever" }));
    // Still serving.
    assert_eq!(s.request("ping", json!({}))["result"], json!({}));
    assert!(s.ok("ready", json!({}))["issues"].is_array());
}

#[test]
fn a_subscriber_hears_of_an_issue_changed_from_the_cli_within_200ms() {
    let t = TestEnv::new();
    let (r, id) = repo_with_issue(&t);
    let mut s = Session::start(&t, &r, "agent-a", &[]);
    let uri = format!("grit://issue/{}", &id[..10]);
    let sub = s.request("resources/subscribe", json!({ "uri": uri }));
    assert!(sub["error"].is_null(), "{sub}");
    // An issue nobody subscribed to says nothing.
    t.create(&r, "unrelated");
    let mut worst = Duration::ZERO;
    for round in 0..3 {
        // Drop what the unrelated change (or the previous round) may have said.
        while s
            .notification("notifications/resources/updated", Duration::from_millis(300))
            .is_some()
        {}
        let out = t
            .std_cmd("issue", &r)
            .args(["comment", &id, "--body", &format!("round {round}")])
            .output()
            .unwrap();
        let written = Instant::now();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (at, note) = s
            .notification("notifications/resources/updated", Duration::from_secs(5))
            .expect("the subscriber hears of the change");
        assert_eq!(note["params"]["uri"], uri.as_str(), "{note}");
        worst = worst.max(at.saturating_duration_since(written));
    }
    assert!(worst <= Duration::from_millis(200), "the slowest notice took {worst:?}");
    s.request("resources/unsubscribe", json!({ "uri": uri }));
    t.ok("issue", &r, &["comment", &id, "--body", "after"]);
    assert!(
        s.notification("notifications/resources/updated", Duration::from_millis(500))
            .is_none(),
        "nothing after unsubscribing"
    );
}

/// An HTTP/1.1 request on a fresh connection; the status, the headers (lower-cased names) and
/// the body (de-chunked).
fn http(port: u16, method: &str, headers: &[(&str, &str)], body: &str) -> (u16, Vec<(String, String)>, String) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} /mcp HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    c.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let mut body = String::new();
    if chunked {
        let mut rest = rest;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            body.push_str(&after[..n.min(after.len())]);
            rest = after.get(n + 2..).unwrap_or("");
        }
    } else {
        body = rest.to_owned();
    }
    (status, headers, body)
}

/// An HTTP MCP client: one session.
struct HttpSession {
    port: u16,
    session: String,
    token: Option<String>,
    next: u64,
}

impl HttpSession {
    fn headers(&self) -> Vec<(String, String)> {
        let mut h = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("Accept".to_owned(), "application/json, text/event-stream".to_owned()),
            ("MCP-Protocol-Version".to_owned(), "2025-06-18".to_owned()),
        ];
        if !self.session.is_empty() {
            h.push(("Mcp-Session-Id".to_owned(), self.session.clone()));
        }
        if let Some(t) = &self.token {
            h.push(("Authorization".to_owned(), format!("Bearer {t}")));
        }
        h
    }

    fn post(&mut self, message: &Value) -> (u16, Vec<(String, String)>, Option<Value>) {
        let h = self.headers();
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, headers, body) = http(self.port, "POST", &h, &message.to_string());
        // An SSE stream or a JSON body; the last message is the response.
        let msg = body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .rfind(|v| v.get("id").is_some())
            .or_else(|| serde_json::from_str(&body).ok());
        (status, headers, msg)
    }

    fn open(port: u16, client: &str, token: Option<&str>) -> HttpSession {
        let mut s = HttpSession {
            port,
            session: String::new(),
            token: token.map(str::to_owned),
            next: 1,
        };
        let (status, headers, msg) = s.post(&json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": { "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": client, "version": "1" } },
        }));
        assert_eq!(status, 200, "{msg:?}");
        s.session = headers
            .iter()
            .find(|(k, _)| k == "mcp-session-id")
            .expect("a session id")
            .1
            .clone();
        s.post(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
        s
    }

    pub(crate) fn call(&mut self, tool: &str, args: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let (status, _, msg) = self.post(&json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": { "name": tool, "arguments": args },
        }));
        assert_eq!(status, 200, "{msg:?}");
        msg.expect("a response")
    }
}

/// `git wal mcp --http 0` in `dir`; returns the child and its port.
fn http_server(t: &TestEnv, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Child, u16) {
    let mut c = t.std_cmd("wal", dir);
    c.args(["mcp", "--http", "0"]).args(args).envs(env.iter().copied());
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().trim_end_matches("/mcp").parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    (child, port)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn two_sessions_on_one_http_server_each_sign_as_their_own_actor_and_neither_can_act_as_the_other() {
    let t = TestEnv::new();
    let (r, id) = repo_with_issue(&t);
    let (child, port) = http_server(&t, &r, &[], &[]);
    let _server = Killed(child);
    let mut a = HttpSession::open(port, "agent-a", None);
    let mut b = HttpSession::open(port, "agent-b", None);
    let claimed = a.call("claim", json!({ "id": id }));
    assert_eq!(claimed["result"]["isError"], false, "{claimed}");
    let made = b.call("create", json!({ "title": "B's issue" }));
    let b_issue = made["result"]["structuredContent"]["id"].as_str().unwrap().to_owned();
    // B cannot give back A's claim, nor claim the issue A holds.
    let taken = b.call("unclaim", json!({ "id": id }));
    assert_eq!(taken["result"]["isError"], true, "{taken}");
    let text = taken["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("agent-a"), "the refusal names the holder: {text}");
    let again = b.call("claim", json!({ "id": id }));
    assert_eq!(again["result"]["isError"], true, "{again}");
    assert_eq!(t.json("issue", &r, &["show", &id])["claim"]["by_actor"], "agent-a");
    // Each one's events are signed by its own actor.
    let actors = t.json("wal", &r, &["actor", "list"]);
    let id_of = |label: &str| {
        actors
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["label"] == label)
            .unwrap_or_else(|| panic!("no actor {label}: {actors}"))["id"]
            .clone()
    };
    for ev in t.json("wal", &r, &["log", "--issue", &b_issue]).as_array().unwrap() {
        assert_eq!(ev["actor"], id_of("agent-b"), "{ev}");
    }
    let c = a.call("comment", json!({ "id": b_issue, "body": "from A" }));
    assert_eq!(c["result"]["isError"], false, "{c}");
    let log = t.json("wal", &r, &["log", "--issue", &b_issue]);
    let comment = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "issue.comment_added")
        .unwrap();
    assert_eq!(comment["actor"], id_of("agent-a"), "{comment}");
}

#[test]
fn the_http_transport_refuses_rebound_hosts_foreign_origins_and_missing_tokens() {
    let t = TestEnv::new();
    let (r, _) = repo_with_issue(&t);
    let (child, port) = http_server(&t, &r, &["--token", "s3cret"], &[]);
    let _server = Killed(child);
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "x", "version": "1" } },
    })
    .to_string();
    let base = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("Authorization", "Bearer s3cret"),
    ];
    let with = |extra: &[(&str, &str)], drop_auth: bool| {
        let mut h: Vec<(&str, &str)> = base
            .iter()
            .copied()
            .filter(|(k, _)| !(drop_auth && *k == "Authorization"))
            .collect();
        h.extend_from_slice(extra);
        http(port, "POST", &h, &init).0
    };
    assert_eq!(with(&[], false), 200, "the right token, from the server's own host");
    assert_eq!(with(&[], true), 401, "no token");
    assert_eq!(with(&[("Authorization", "Bearer wrong")], true), 401, "a wrong token");
    // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1.
    assert_eq!(with(&[("Host", "evil.example")], false), 403, "a foreign Host");
    assert_eq!(with(&[("Host", &format!("evil.example:{port}"))], false), 403);
    // A browser page of another origin.
    assert_eq!(
        with(&[("Origin", "http://evil.example")], false),
        403,
        "a foreign Origin"
    );
    let own = format!("http://127.0.0.1:{port}");
    assert_eq!(with(&[("Origin", &own)], false), 200, "the server's own origin");
    // A request without a session, once initialised elsewhere, is not taken as one.
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }).to_string();
    let (status, _, _) = http(
        port,
        "POST",
        &[base[0], base[1], base[2], ("Mcp-Session-Id", "made-up")],
        &list,
    );
    assert!(status == 404 || status == 400, "an unknown session: {status}");
    let (status, _, _) = http(port, "GET", &[base[2]], "");
    assert!(status >= 400, "GET without a session: {status}");
}

/// The official Python SDK (`mcp` from PyPI) drives a whole agent loop over stdio.
#[test]
fn the_python_sdk_drives_an_agent_loop_to_a_closed_issue() {
    let Some(python) = test_tool("GRIT_TEST_PYTHON", "mcp-venv/bin/python") else {
        eprintln!(
            "skipped: no Python with the `mcp` SDK in target/test-tools/mcp-venv or GRIT_TEST_PYTHON \
             (.ci/run installs it: `python3 -m venv target/test-tools/mcp-venv` and `pip install mcp==2.3.0`)"
        );
        return;
    };
    let t = TestEnv::new();
    let (r, id) = repo_with_issue(&t);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/agent_loop.py");
    let out = t
        .wrapped(python.to_str().unwrap(), &r)
        .arg(&script)
        .arg(&r)
        .arg("agent-py")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the agent loop failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').find(|l| l.starts_with(b"{")).unwrap()).unwrap();
    assert_eq!(seen["issue"], id.as_str(), "{seen}");
    assert!(seen["prime"].as_str().unwrap().contains("Fix the parser"), "{seen}");
    assert_eq!(seen["exit_code"], 0);
    assert_eq!(seen["diff_files"], json!(["fix.txt"]));
    assert!(
        seen["progress"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().contains("wrote it")),
        "the output came as progress: {seen}"
    );
    assert_eq!(seen["closed"], json!([id]));
    assert_eq!(seen["state"], "closed");
    assert_eq!(seen["bad_name_is_error"], true);
    // The landed commit is on main, and the events carry the session's actor.
    assert_eq!(std::fs::read_to_string(r.join("fix.txt")).unwrap(), "fixed\n");
    let actors = t.json("wal", &r, &["actor", "list"]);
    let agent = actors
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["label"] == "agent-py")
        .unwrap()["id"]
        .clone();
    let log = t.json("wal", &r, &["log", "--issue", &id]);
    let by_agent: Vec<&Value> = log.as_array().unwrap().iter().filter(|e| e["actor"] == agent).collect();
    assert!(
        by_agent.iter().any(|e| e["kind"] == "issue.commit_referenced"),
        "the close is the agent's: {log}"
    );
}

/// The official MCP conformance suite against `git wal mcp --http`: every scenario that needs no
/// tool, resource or prompt of the suite's own passes.
#[test]
fn the_conformance_suite_passes_every_scenario_that_needs_no_suite_fixture() {
    let Some(suite) = test_tool("GRIT_TEST_MCP_CONFORMANCE", "node_modules/.bin/conformance") else {
        eprintln!(
            "skipped: no MCP conformance suite in target/test-tools or GRIT_TEST_MCP_CONFORMANCE (.ci/run \
             installs it: `npm install --prefix target/test-tools @modelcontextprotocol/conformance@0.1.9`)"
        );
        return;
    };
    let t = TestEnv::new();
    let (r, _) = repo_with_issue(&t);
    let (child, port) = http_server(&t, &r, &[], &[]);
    let _server = Killed(child);
    let work = t.tmp.path().join("conformance");
    std::fs::create_dir_all(&work).unwrap();
    let out = std::process::Command::new(&suite)
        .args(["server", "--url", &format!("http://127.0.0.1:{port}/mcp")])
        .current_dir(&work)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let summary = text
        .split("=== SUMMARY ===")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary: {text}"));
    for scenario in [
        "server-initialize",
        "logging-set-level",
        "ping",
        "completion-complete",
        "tools-list",
        "server-sse-multiple-streams",
        "resources-list",
        "prompts-list",
    ] {
        assert!(
            summary
                .lines()
                .any(|l| l.starts_with('✓') && l.contains(&format!(" {scenario}:"))),
            "{scenario} did not pass:\n{summary}"
        );
    }
}

#[test]
fn agents_init_prints_a_diff_writes_only_with_write_and_keeps_what_is_there() {
    let t = TestEnv::new();
    let r = t.repo("r");
    std::fs::write(
        r.join(".mcp.json"),
        "{ \"mcpServers\": { \"other\": { \"command\": \"x\" } } }\n",
    )
    .unwrap();
    std::fs::write(r.join("AGENTS.md"), "# Agents\n\nBe kind.\n").unwrap();
    let dry = t.ok("wal", &r, &["agents", "init"]);
    assert!(
        dry.contains("+++ b/.mcp.json") && dry.contains("+    \"grit\": {"),
        "{dry}"
    );
    assert!(
        dry.contains("+++ b/.vscode/mcp.json") && dry.contains("\"type\": \"stdio\""),
        "{dry}"
    );
    assert!(dry.contains("+## Coordinating through grit"), "{dry}");
    assert!(!r.join(".vscode").exists(), "nothing is written without --write");
    assert_eq!(
        std::fs::read_to_string(r.join("AGENTS.md")).unwrap(),
        "# Agents\n\nBe kind.\n"
    );
    t.ok("wal", &r, &["agents", "init", "--write"]);
    let claude: Value = serde_json::from_str(&std::fs::read_to_string(r.join(".mcp.json")).unwrap()).unwrap();
    assert_eq!(claude["mcpServers"]["other"]["command"], "x", "the other server stays");
    assert_eq!(
        claude["mcpServers"]["grit"],
        json!({ "command": "git", "args": ["wal", "mcp"] })
    );
    for f in [".cursor/mcp.json", ".vscode/mcp.json", ".gemini/settings.json"] {
        assert!(r.join(f).exists(), "{f}");
    }
    let agents = std::fs::read_to_string(r.join("AGENTS.md")).unwrap();
    assert!(
        agents.starts_with("# Agents\n\nBe kind.\n\n<!-- grit:begin"),
        "{agents}"
    );
    // Again: nothing to do, and the section is there once.
    let again = t.cmd("wal", &r).args(["agents", "init", "--write"]).output().unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("up to date"));
    assert_eq!(std::fs::read_to_string(r.join("AGENTS.md")).unwrap(), agents);
    // A configuration that is not JSON: a usage error, and nothing is changed.
    std::fs::write(r.join(".cursor/mcp.json"), "{ broken").unwrap();
    std::fs::remove_file(r.join(".gemini/settings.json")).unwrap();
    let bad = t.cmd("wal", &r).args(["agents", "init", "--write"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("hint: "),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(!r.join(".gemini/settings.json").exists(), "nothing was written");
}

#[test]
fn the_daemon_serves_mcp_over_http_for_the_clones_agents() {
    let t = TestEnv::new();
    let (r, id) = repo_with_issue(&t);
    t.git(&r, &["config", "grit.daemon.mcpPort", "0"]);
    struct Stop<'a>(&'a TestEnv, &'a Path);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = self.0.cmd("wal", self.1).args(["daemon", "stop"]).output();
        }
    }
    t.ok("wal", &r, &["daemon", "start"]);
    let _stop = Stop(&t, &r);
    // The endpoint is up once the status names it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        let status = t.json("wal", &r, &["daemon", "status"]);
        if let Some(u) = status["mcp"].as_str() {
            break u.to_owned();
        }
        assert!(Instant::now() < deadline, "no MCP endpoint: {status}");
        std::thread::yield_now();
    };
    let port: u16 = url
        .trim_end_matches("/mcp")
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut s = HttpSession::open(port, "agent-d", None);
    let ready = s.call("ready", json!({}));
    assert_eq!(
        ready["result"]["structuredContent"]["issues"][0]["id"],
        id.as_str(),
        "{ready}"
    );
    let claimed = s.call("claim", json!({ "id": id }));
    assert_eq!(claimed["result"]["isError"], false, "{claimed}");
    assert_eq!(t.json("issue", &r, &["show", &id])["claim"]["by_actor"], "agent-d");
}

/// The sandbox tools beyond the loop: what a run printed, a proposed commit message, and the
/// plan of merging, each as the CLI gives it.
#[test]
fn sandbox_logs_suggest_and_merge_plan_answer_as_the_cli_does() {
    let t = TestEnv::new();
    let (r, id) = repo_with_issue(&t);
    let mut s = Session::start(&t, &r, "agent-a", &[]);
    s.ok("sandbox_create", json!({ "name": "m1", "issue": id }));
    let ran = s.ok(
        "sandbox_exec",
        json!({ "name": "m1", "command": ["echo 'pub fn f() {}' > x.rs; echo printed"], "sh": true }),
    );
    assert_eq!(ran["exit_code"], 0, "{ran}");
    let logs = s.ok("sandbox_logs", json!({ "name": "m1" }));
    assert_eq!(logs["output"], "printed\n", "{logs}");
    let cli: Value = serde_json::from_str(&t.ok("sandbox", &r, &["logs", "m1", "--json"])).unwrap();
    assert_eq!(cli["output"], logs["output"]);
    let suggested = s.ok("sandbox_suggest", json!({ "name": "m1" }));
    assert_eq!(suggested["type"], "feat", "{suggested}");
    assert_eq!(suggested["subject"], "fix the parser", "{suggested}");
    let message = suggested["message"].as_str().unwrap().to_owned();
    s.ok("sandbox_commit", json!({ "name": "m1", "message": message }));
    let plan = s.ok("sandbox_merge_plan", json!({}));
    assert_eq!(plan["merge"], json!(["m1"]), "{plan}");
    let cli: Value = serde_json::from_str(&t.ok("sandbox", &r, &["merge", "--all", "--plan", "--json"])).unwrap();
    assert_eq!(cli["merge"], plan["merge"]);
    let squash = s.ok("sandbox_squash_plan", json!({ "name": "m1" }));
    let cli: Value = serde_json::from_str(&t.ok("sandbox", &r, &["squash-plan", "m1", "--json"])).unwrap();
    assert_eq!(squash["commits"], 1, "{squash}");
    assert_eq!(squash["groups"], cli["groups"]);
    let missing = s.call("sandbox_logs", json!({ "name": "m1", "run": 9 }));
    assert_eq!(missing["result"]["isError"], json!(true), "{missing}");
}
