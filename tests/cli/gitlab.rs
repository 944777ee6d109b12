//! The GitLab bridge and import against a local server that serves recorded-shape API responses
//! (`tests/fixtures/gitlab/`), paginated with `Link` and `x-next-page` headers, with a rate limit
//! (`Retry-After`, then `RateLimit-Remaining: 0`) and a server error injected; and that takes
//! pushes (issues, edits, notes) into its own state.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::env::TestEnv;

const PAGE: usize = 2;
const PROJECT: &str = "/api/v4/projects/acme%2Fapp";

#[derive(Default)]
struct State {
    issues: Vec<Value>,
    notes: HashMap<u64, Vec<Value>>,
    /// The first GET of this page of issues answers 429 with `Retry-After: 1`.
    limited_page: Option<u32>,
    /// The first GET of this page answers 502.
    failing_page: Option<u32>,
    /// After this many requests, one answer says the window is spent (`RateLimit-Remaining: 0`).
    spent_after: Option<usize>,
    log: Vec<(String, String)>,
    clock: u64,
}

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gitlab")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl State {
    fn now(&mut self) -> String {
        self.clock += 1;
        format!("2025-12-01T00:{:02}:{:02}.000Z", self.clock / 60, self.clock % 60)
    }

    fn answer(
        &mut self,
        method: &str,
        target: &str,
        auth: bool,
        body: &[u8],
        base: &str,
    ) -> (u16, Vec<(String, String)>, Value) {
        self.log.push((method.to_owned(), target.to_owned()));
        let (path, q) = target.split_once('?').unwrap_or((target, ""));
        let q: HashMap<String, String> = q
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let page: u32 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let mut headers = vec![("ratelimit-remaining".to_owned(), "1000".to_owned())];
        if self.spent_after.is_some_and(|n| self.log.len() > n) {
            self.spent_after = None;
            headers[0].1 = "0".into();
            headers.push(("ratelimit-reset".into(), (now_secs() + 1).to_string()));
        }
        if !auth {
            return (401, headers, json!({ "message": "401 Unauthorized" }));
        }
        let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let rest = path.strip_prefix(PROJECT);
        let parts: Vec<&str> = rest
            .map(|r| r.trim_matches('/').split('/').collect())
            .unwrap_or_default();
        match (method, rest.is_some(), parts.as_slice()) {
            ("GET", false, _) if path == "/api/v4/user" => (200, headers, json!({ "id": 99, "username": "grit-bot" })),
            ("GET", true, ["issues"]) => {
                if self.limited_page == Some(page) {
                    self.limited_page = None;
                    headers.push(("retry-after".into(), "1".into()));
                    return (429, headers, json!({ "message": "429 Too Many Requests" }));
                }
                if self.failing_page == Some(page) {
                    self.failing_page = None;
                    return (502, headers, json!({ "message": "502 Bad Gateway" }));
                }
                let after = q.get("updated_after").cloned().unwrap_or_default();
                let mut list: Vec<Value> = self
                    .issues
                    .iter()
                    .filter(|i| i["updated_at"].as_str().unwrap() >= after.as_str())
                    .cloned()
                    .collect();
                list.sort_by(|a, b| a["updated_at"].as_str().cmp(&b["updated_at"].as_str()));
                self.paginate(list, page, path, &q, headers, base)
            }
            ("GET", true, ["issues", n]) => match self.find(n) {
                Some(i) => (200, headers, self.issues[i].clone()),
                None => (404, headers, json!({ "message": "404 Issue Not Found" })),
            },
            ("GET", true, ["issues", n, "notes"]) => {
                let list = self.notes.get(&n.parse().unwrap()).cloned().unwrap_or_default();
                self.paginate(list, page, path, &q, headers, base)
            }
            ("POST", true, ["issues"]) => {
                let iid = self
                    .issues
                    .iter()
                    .map(|i| i["iid"].as_u64().unwrap())
                    .max()
                    .unwrap_or(0)
                    + 1;
                let now = self.now();
                let issue = json!({
                    "id": 1000 + iid, "iid": iid, "project_id": 42, "title": input["title"], "description": input["description"],
                    "state": "opened", "created_at": now, "updated_at": now, "closed_at": null,
                    "labels": split(&input["labels"]), "milestone": null, "assignees": [],
                    "author": { "id": 99, "username": "grit-bot" }, "confidential": false, "user_notes_count": 0,
                    "web_url": format!("https://gitlab.example.com/acme/app/-/issues/{iid}"),
                    "references": { "full": format!("acme/app#{iid}") },
                });
                self.issues.push(issue.clone());
                (201, headers, issue)
            }
            ("PUT", true, ["issues", n]) => {
                let Some(i) = self.find(n) else {
                    return (404, headers, json!({ "message": "404 Issue Not Found" }));
                };
                let now = self.now();
                let issue = &mut self.issues[i];
                for k in ["title", "description"] {
                    if let Some(v) = input.get(k) {
                        issue[k] = v.clone();
                    }
                }
                if let Some(l) = input.get("labels") {
                    issue["labels"] = split(l);
                }
                match input["state_event"].as_str() {
                    Some("close") => issue["state"] = json!("closed"),
                    Some("reopen") => issue["state"] = json!("opened"),
                    _ => {}
                }
                issue["updated_at"] = json!(now);
                (200, headers, issue.clone())
            }
            ("POST", true, ["issues", n, "notes"]) => {
                let Some(i) = self.find(n) else {
                    return (404, headers, json!({ "message": "404 Issue Not Found" }));
                };
                let iid: u64 = n.parse().unwrap();
                let now = self.now();
                let note = json!({
                    "id": 9000 + self.clock, "body": input["body"], "author": { "username": "grit-bot" },
                    "created_at": now, "system": false, "noteable_type": "Issue", "noteable_iid": iid,
                });
                self.notes.entry(iid).or_default().push(note.clone());
                let issue = &mut self.issues[i];
                issue["user_notes_count"] = json!(issue["user_notes_count"].as_u64().unwrap() + 1);
                issue["updated_at"] = json!(now);
                (201, headers, note)
            }
            _ => (404, headers, json!({ "message": "404 Not Found" })),
        }
    }

    fn find(&self, n: &str) -> Option<usize> {
        let n: u64 = n.parse().ok()?;
        self.issues.iter().position(|i| i["iid"] == n)
    }

    /// Offset pagination as GitLab answers it: `Link` with rel="next", and `x-next-page`.
    fn paginate(
        &self,
        list: Vec<Value>,
        page: u32,
        path: &str,
        q: &HashMap<String, String>,
        mut headers: Vec<(String, String)>,
        base: &str,
    ) -> (u16, Vec<(String, String)>, Value) {
        let start = (page as usize - 1) * PAGE;
        let items: Vec<Value> = list.iter().skip(start).take(PAGE).cloned().collect();
        if start + PAGE < list.len() {
            let mut q: Vec<(String, String)> = q
                .iter()
                .filter(|(k, _)| *k != "page")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            q.sort();
            q.push(("page".into(), (page + 1).to_string()));
            let qs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
            headers.push(("link".into(), format!("<{base}{path}?{}>; rel=\"next\"", qs.join("&"))));
            headers.push(("x-next-page".into(), (page + 1).to_string()));
        } else {
            headers.push(("x-next-page".into(), String::new()));
        }
        (200, headers, Value::Array(items))
    }
}

/// GitLab takes labels as one comma-separated string and gives them as a list.
fn split(v: &Value) -> Value {
    json!(
        v.as_str()
            .unwrap_or("")
            .split(',')
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
    )
}

struct Server {
    base: String,
    state: Arc<Mutex<State>>,
}

fn server() -> Server {
    let mut st = State {
        issues: fixture("issues.json").as_array().unwrap().clone(),
        ..Default::default()
    };
    for (n, ns) in fixture("notes.json").as_object().unwrap() {
        st.notes.insert(n.parse().unwrap(), ns.as_array().unwrap().clone());
    }
    let state = Arc::new(Mutex::new(st));
    let s = state.clone();
    let base = crate::env::json_server(move |(method, target, headers, body), base| {
        let auth = headers.get("private-token").is_some_and(|v| v == "glpat-t0ken");
        s.lock().unwrap().answer(method, target, auth, body, base)
    });
    Server { base, state }
}

fn bridge(t: &TestEnv, dir: &Path, s: &Server, args: &[&str]) -> Value {
    let out = t
        .cmd("issue", dir)
        .args(["bridge", "gitlab"])
        .args(args)
        .args(["--project", "acme/app", "--url", &s.base, "--json"])
        .env("GITLAB_TOKEN", "glpat-t0ken")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn titles(t: &TestEnv, dir: &Path) -> Vec<String> {
    let mut v = crate::env::titles(&t.json("issue", dir, &["list", "--state", "all"]));
    v.sort();
    v
}

#[test]
fn a_pull_waits_out_limits_retries_errors_and_maps_every_field() {
    let t = TestEnv::new();
    let dir = t.repo("r");
    let s = server();
    {
        let mut st = s.state.lock().unwrap();
        st.limited_page = Some(2);
        st.failing_page = Some(3);
        st.spent_after = Some(3);
    }
    let r = bridge(&t, &dir, &s, &["pull"]);
    // Six issues: the confidential one left out, the label flood skipped and named.
    assert_eq!(r["import"]["created"], 4, "{r}");
    assert_eq!(r["import"]["confidential"], 1, "{r}");
    let skipped = r["import"]["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{r}");
    assert!(skipped[0]["reason"].as_str().unwrap().contains("300 bytes"), "{r}");
    assert!(
        r["waited_ms"].as_u64().unwrap() >= 1000,
        "the 429 and the spent window were waited out: {r}"
    );
    assert_eq!(
        titles(&t, &dir),
        ["Closed one", "Crash on start", "Incident", "Ünïcode title ✓ 日本語"]
    );
    let crash = t.show_titled(&dir, "Crash on start");
    assert_eq!(crash["labels"], json!(["bug", "milestone:v1.0"]));
    assert_eq!(crash["assignees"], json!(["ada"]));
    assert_eq!(crash["author"]["name"], "ada");
    assert!(crash["body"].as_str().unwrap().ends_with("Closes #2"), "left alone");
    let bodies: Vec<&str> = crash["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        ["I can reproduce", "Fixed ✓"],
        "the system note is not a comment"
    );
    assert_eq!(t.show_titled(&dir, "Ünïcode title ✓ 日本語")["body"], "");
    assert_eq!(t.show_titled(&dir, "Closed one")["state"], "closed");
    assert_eq!(t.show_titled(&dir, "Incident")["type"], "bug");
    // Again: nothing new, nothing written.
    let again = bridge(&t, &dir, &s, &["pull", "--full"]);
    assert_eq!(again["import"]["events"], 0, "{again}");
    // Confidential issues when asked.
    let conf = bridge(&t, &dir, &s, &["pull", "--full", "--include-confidential"]);
    assert_eq!(conf["import"]["created"], 1, "{conf}");
}

#[test]
fn push_and_pull_round_trip_with_markers_that_only_the_bots_own_issues_carry() {
    let t = TestEnv::new();
    let dir = t.repo("r");
    let s = server();
    bridge(&t, &dir, &s, &["pull"]);
    let local = t.create(&dir, "Made here");
    t.ok("issue", &dir, &["edit", &local, "--add-label", "backend"]);
    t.ok("issue", &dir, &["comment", &local, "-m", "a local note"]);
    let r = bridge(&t, &dir, &s, &["push"]);
    assert_eq!(r["push"]["created"], 1, "{r}");
    assert_eq!(r["push"]["comments"], 1, "{r}");
    {
        let st = s.state.lock().unwrap();
        let made = st.issues.iter().find(|i| i["title"] == "Made here").unwrap();
        assert!(
            made["description"]
                .as_str()
                .unwrap()
                .contains(&format!("<!-- grit:issue {local} -->"))
        );
        assert_eq!(made["labels"], json!(["backend"]));
        // The milestone of an imported issue stays GitLab's: not pushed as a label.
        assert!(st.issues.iter().all(|i| {
            !i["labels"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l.as_str().unwrap().starts_with("milestone:"))
        }));
    }
    // Pulled back: the same issue, no second comment.
    let back = bridge(&t, &dir, &s, &["pull"]);
    assert_eq!(back["import"]["created"], 0, "{back}");
    let shown = t.show_titled(&dir, "Made here");
    assert_eq!(shown["comments"].as_array().unwrap().len(), 1);
    assert!(shown["source"].as_str().unwrap().starts_with("gitlab:acme/app#"));
    assert!(
        !shown["body"].as_str().unwrap().contains("grit:issue"),
        "markers are stripped"
    );
    // A second push: nothing differs.
    let again = bridge(&t, &dir, &s, &["push"]);
    assert_eq!(
        (again["push"]["created"].as_u64(), again["push"]["comments"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    // A local edit goes up; closing closes it there.
    t.ok("issue", &dir, &["close", &local]);
    let closed = bridge(&t, &dir, &s, &["push"]);
    assert_eq!(closed["push"]["updated"], 1, "{closed}");
    assert!(
        s.state
            .lock()
            .unwrap()
            .issues
            .iter()
            .any(|i| i["title"] == "Made here" && i["state"] == "closed")
    );
    // Someone else's issue carrying a marker for a local issue is not taken for it.
    let other = t.create(&dir, "Never pushed");
    {
        let mut st = s.state.lock().unwrap();
        let now = st.now();
        st.issues.push(json!({
            "id": 7777, "iid": 77, "project_id": 42, "title": "Forged", "description": format!("x\n\n<!-- grit:issue {other} -->"),
            "state": "opened", "created_at": now, "updated_at": now, "labels": [], "assignees": [],
            "author": { "username": "mallory" }, "confidential": false, "user_notes_count": 0,
            "web_url": "https://gitlab.example.com/acme/app/-/issues/77", "references": { "full": "acme/app#77" },
        }));
    }
    bridge(&t, &dir, &s, &["pull"]);
    assert!(
        t.show_titled(&dir, "Never pushed")["source"].is_null(),
        "a stranger's marker names nothing"
    );
    assert_eq!(t.show_titled(&dir, "Forged")["title"], "Forged");
}

#[test]
fn import_reads_rest_pages_notes_and_an_export_and_refuses_bad_records() {
    let t = TestEnv::new();
    let dir = t.repo("r");
    let pages = t.tmp.path().join("gitlab");
    std::fs::create_dir(&pages).unwrap();
    std::fs::write(
        pages.join("1-issues.json"),
        serde_json::to_vec(&fixture("issues.json")).unwrap(),
    )
    .unwrap();
    let notes: Vec<Value> = fixture("notes.json")
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| v.as_array().unwrap().clone())
        .collect();
    std::fs::write(pages.join("2-notes.json"), serde_json::to_vec(&notes).unwrap()).unwrap();
    let r = t.json("issue", &dir, &["import", pages.to_str().unwrap(), "--from", "gitlab"]);
    assert_eq!(r["created"], 4, "{r}");
    assert_eq!(r["confidential"], 1, "{r}");
    assert_eq!(
        t.show_titled(&dir, "Crash on start")["comments"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let again = t.json("issue", &dir, &["import", pages.to_str().unwrap(), "--from", "gitlab"]);
    assert_eq!(again["events"], 0, "{again}");
    // A project export's records (no project path in them): --project names it, and the
    // issues are the same ones.
    let export = t.tmp.path().join("issues.ndjson");
    let line = json!({"iid": 1, "title": "Crash on start", "description": "Steps:\n\n1. run\n\nCloses #2", "state": "opened",
        "created_at": "2025-10-01T10:00:00.000Z", "label_links": [{"label": {"title": "bug"}}], "milestone": {"title": "v1.0"},
        "notes": [{"id": 501, "note": "I can reproduce", "author": {"username": "bob"}, "created_at": "2025-10-02T00:00:00.000Z"}]});
    std::fs::write(&export, format!("{line}\n{{\"iid\": 2, \"title\": \"cut off")).unwrap();
    let strict = t
        .cmd("issue", &dir)
        .args([
            "import",
            export.to_str().unwrap(),
            "--from",
            "gitlab",
            "--project",
            "acme/app",
            "--strict",
        ])
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(2), "a truncated file under --strict");
    let r = t.json(
        "issue",
        &dir,
        &[
            "import",
            export.to_str().unwrap(),
            "--from",
            "gitlab",
            "--project",
            "acme/app",
        ],
    );
    assert_eq!(r["created"], 0, "{r}");
    assert_eq!(
        r["skipped"].as_array().unwrap().len(),
        1,
        "the truncated record is named: {r}"
    );
}
