//! The GitHub bridge against a local server that serves recorded API responses
//! (`tests/fixtures/github/`), paginated with `Link` headers, with rate limits and outages
//! injected; and that takes pushes (issues, edits, comments) into its own state.

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::env::TestEnv;

const PAGE: usize = 2;

#[derive(Default)]
struct Faults {
    /// The first GET of this page answers 403 with `retry-after: 1` (a secondary limit).
    secondary_on_page: Option<u32>,
    /// After this many requests, one answers 403 with the hourly limit spent (reset in 1 s).
    primary_after: Option<usize>,
    /// Every GET of this page of issues answers 500: the service is down from there on.
    down_from_page: Option<u32>,
    /// Each page's `Link: rel="next"` names the page itself.
    self_link: bool,
    /// Each page's `Link: rel="next"` names this other origin.
    foreign_next: Option<String>,
}

#[derive(Default)]
struct State {
    issues: Vec<Value>,
    pulls: Vec<Value>,
    comments: HashMap<u64, Vec<Value>>,
    faults: Faults,
    /// Each request: method, path with query.
    log: Vec<(String, String)>,
    clock: u64,
}

struct Server {
    base: String,
    state: Arc<Mutex<State>>,
}

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

impl State {
    /// GitHub's clock: later than the tests' frozen one (GRIT_NOW), as a real one would be.
    fn now(&mut self) -> String {
        self.clock += 1;
        format!("2025-12-01T00:{:02}:{:02}Z", self.clock / 60, self.clock % 60)
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
        let q = query(q);
        let page: u32 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let mut headers = vec![
            ("x-ratelimit-limit".to_owned(), "5000".to_owned()),
            ("x-ratelimit-remaining".to_owned(), "4000".to_owned()),
            ("x-ratelimit-reset".to_owned(), "9999999999".to_owned()),
        ];
        if let Some(n) = self.faults.primary_after
            && self.log.len() > n
        {
            self.faults.primary_after = None;
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 1;
            headers[1].1 = "0".into();
            headers[2].1 = reset.to_string();
            return (
                403,
                headers,
                json!({ "message": "API rate limit exceeded for user ID 1." }),
            );
        }
        if method == "GET" && self.faults.secondary_on_page == Some(page) {
            self.faults.secondary_on_page = None;
            headers.push(("retry-after".into(), "1".into()));
            return (
                403,
                headers,
                json!({ "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." }),
            );
        }
        if method != "GET" && !auth {
            return (401, headers, json!({ "message": "Requires authentication" }));
        }
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        match (method, parts.as_slice()) {
            ("GET", ["repos", "acme", "widgets", "issues"]) => {
                if self.faults.down_from_page.is_some_and(|p| page >= p) {
                    return (500, headers, json!({ "message": "Server Error" }));
                }
                let since = q.get("since").cloned().unwrap_or_default();
                let mut list: Vec<Value> = self
                    .issues
                    .iter()
                    .filter(|i| i["updated_at"].as_str().unwrap() >= since.as_str())
                    .cloned()
                    .collect();
                if q.get("sort").map(String::as_str) == Some("updated") {
                    list.sort_by(|a, b| a["updated_at"].as_str().cmp(&b["updated_at"].as_str()));
                }
                self.paginate(list, page, path, &q, headers, base)
            }
            ("GET", ["repos", "acme", "widgets", "issues", n]) => match self.find(n) {
                Some(i) => (200, headers, self.issues[i].clone()),
                None => (404, headers, json!({ "message": "Not Found" })),
            },
            ("GET", ["repos", "acme", "widgets", "issues", n, "comments"]) => {
                let since = q.get("since").cloned().unwrap_or_default();
                let list: Vec<Value> = self
                    .comments
                    .get(&n.parse().unwrap())
                    .into_iter()
                    .flatten()
                    .filter(|c| c["updated_at"].as_str().unwrap() >= since.as_str())
                    .cloned()
                    .collect();
                self.paginate(list, page, path, &q, headers, base)
            }
            ("POST", ["repos", "acme", "widgets", "issues"]) => {
                let n = self
                    .issues
                    .iter()
                    .map(|i| i["number"].as_u64().unwrap())
                    .max()
                    .unwrap_or(0)
                    + 1;
                let now = self.now();
                let issue = json!({
                    "url": format!("https://api.github.com/repos/acme/widgets/issues/{n}"),
                    "html_url": format!("https://github.com/acme/widgets/issues/{n}"),
                    "number": n, "title": input["title"], "body": input["body"],
                    "user": { "login": "grit-bot", "id": 99 },
                    "labels": labels(&input["labels"]), "state": "open", "state_reason": null,
                    "assignees": [], "comments": 0, "created_at": now, "updated_at": now, "closed_at": null,
                });
                self.issues.push(issue.clone());
                (201, headers, issue)
            }
            ("PATCH", ["repos", "acme", "widgets", "issues", n]) => {
                let Some(i) = self.find(n) else {
                    return (404, headers, json!({ "message": "Not Found" }));
                };
                let now = self.now();
                let issue = &mut self.issues[i];
                for k in ["title", "body", "state", "state_reason"] {
                    if let Some(v) = input.get(k) {
                        issue[k] = v.clone();
                    }
                }
                if let Some(l) = input.get("labels") {
                    issue["labels"] = labels(l);
                }
                issue["updated_at"] = json!(now);
                (200, headers, issue.clone())
            }
            ("POST", ["repos", "acme", "widgets", "issues", n, "comments"]) => {
                let Some(i) = self.find(n) else {
                    return (404, headers, json!({ "message": "Not Found" }));
                };
                let number: u64 = n.parse().unwrap();
                let now = self.now();
                let id = 20_000 + self.clock;
                let c = json!({
                    "id": id, "issue_url": format!("https://api.github.com/repos/acme/widgets/issues/{number}"),
                    "user": { "login": "grit-bot", "id": 99 }, "body": input["body"],
                    "created_at": now, "updated_at": now,
                });
                self.comments.entry(number).or_default().push(c.clone());
                let issue = &mut self.issues[i];
                issue["comments"] = json!(issue["comments"].as_u64().unwrap() + 1);
                issue["updated_at"] = json!(now);
                (201, headers, c)
            }
            ("GET", ["repos", "acme", "widgets", "pulls"]) => {
                let head = q.get("head").cloned().unwrap_or_default();
                let open: Vec<Value> = self
                    .pulls
                    .iter()
                    .filter(|p| p["state"] == "open" && format!("acme:{}", p["head"]["ref"].as_str().unwrap()) == head)
                    .cloned()
                    .collect();
                (200, headers, json!(open))
            }
            ("POST", ["repos", "acme", "widgets", "pulls"]) if auth => {
                let n = self.pulls.len() as u64 + 1;
                let pr = json!({
                    "number": n, "html_url": format!("https://github.com/acme/widgets/pull/{n}"),
                    "title": input["title"], "body": input["body"], "state": "open", "draft": input["draft"],
                    "head": { "ref": input["head"] }, "base": { "ref": input["base"] },
                });
                self.pulls.push(pr.clone());
                (201, headers, pr)
            }
            ("GET", ["user"]) if auth => (200, headers, json!({ "login": "grit-bot", "id": 99 })),
            _ => (404, headers, json!({ "message": "Not Found" })),
        }
    }

    fn find(&self, n: &str) -> Option<usize> {
        let n: u64 = n.parse().ok()?;
        self.issues.iter().position(|i| i["number"] == n)
    }

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
        if self.faults.self_link {
            let qs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
            headers.push(("link".into(), format!("<{base}{path}?{}>; rel=\"next\"", qs.join("&"))));
        } else if let Some(other) = &self.faults.foreign_next {
            headers.push((
                "link".into(),
                format!("<{other}{path}?page={}>; rel=\"next\"", page + 1),
            ));
        } else if start + PAGE < list.len() {
            let mut q: Vec<(String, String)> = q.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            q.retain(|(k, _)| k != "page");
            q.sort();
            q.push(("page".into(), (page + 1).to_string()));
            let qs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
            headers.push((
                "link".into(),
                format!(
                    "<{base}{path}?{}>; rel=\"next\", <{base}{path}?page=99>; rel=\"last\"",
                    qs.join("&")
                ),
            ));
        }
        (200, headers, Value::Array(items))
    }
}

fn labels(v: &Value) -> Value {
    Value::Array(
        v.as_array()
            .into_iter()
            .flatten()
            .map(|l| json!({ "name": l, "color": "ededed" }))
            .collect(),
    )
}

fn server() -> Server {
    let mut st = State {
        issues: fixture("issues.json").as_array().unwrap().clone(),
        ..Default::default()
    };
    for (n, cs) in fixture("comments.json").as_object().unwrap() {
        st.comments.insert(n.parse().unwrap(), cs.as_array().unwrap().clone());
    }
    let state = Arc::new(Mutex::new(st));
    let s = state.clone();
    let base = crate::env::json_server(move |(method, target, headers, body), base| {
        let auth = headers.get("authorization").is_some_and(|v| v == "Bearer t0ken");
        s.lock().unwrap().answer(method, target, auth, body, base)
    });
    Server { base, state }
}

fn bridge(t: &TestEnv, dir: &Path, s: &Server, args: &[&str]) -> assert_cmd::Command {
    let mut c = t.cmd("issue", dir);
    c.args(["bridge", "github"])
        .args(args)
        .args(["--repo", "acme/widgets"])
        .env("GRIT_GITHUB_API", &s.base)
        .env("GITHUB_TOKEN", "t0ken");
    c
}

fn titles(t: &TestEnv, dir: &Path) -> Vec<String> {
    let mut v = crate::env::titles(&t.json("issue", dir, &["list", "--state", "all"]));
    v.sort();
    v
}

#[test]
fn pull_pages_waits_out_rate_limits_and_resumes_after_an_interruption() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let s = server();
    {
        let mut st = s.state.lock().unwrap();
        st.faults.secondary_on_page = Some(2);
        st.faults.down_from_page = Some(3);
    }
    // Pages of two, by update time: #1 #2 | #3 and a pull request | #5. Page 3 is down.
    let out = bridge(&t, &r, &s, &["pull"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("waiting 1 s") && err.contains("secondary rate limit"),
        "{err}"
    );
    assert!(err.contains("500") && err.contains("hint:"), "{err}");
    assert_eq!(
        titles(&t, &r),
        [
            "Add a --dry-run flag",
            "Crash on start with an empty config",
            "Übersetzung: 日本語 support"
        ],
        "the pages before the outage are kept; the pull request is not an issue"
    );
    // Back up: the next pull resumes from the last page it kept.
    s.state.lock().unwrap().faults.down_from_page = None;
    s.state.lock().unwrap().log.clear();
    let v: Value = serde_json::from_slice(&bridge(&t, &r, &s, &["pull", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(v["import"]["created"], 1, "{v}");
    let first = s.state.lock().unwrap().log[0].1.clone();
    assert!(first.contains("since=2024-03-04T09:00:00Z"), "{first}");
    assert_eq!(titles(&t, &r).len(), 4);
    // Nothing changed: nothing written.
    let v: Value = serde_json::from_slice(&bridge(&t, &r, &s, &["pull", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(v["import"]["events"], 0, "{v}");
    // Every field came across: comments with their authors, labels with colons, the reason.
    let list = t.json("issue", &r, &["list", "--state", "all", "-S", "crash"]);
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let show = t.json("issue", &r, &["show", &id]);
    assert_eq!(show["comments"].as_array().unwrap().len(), 2, "{show}");
    assert_eq!(show["state"], "closed");
    assert_eq!(show["state_reason"], "completed");
    assert!(show["labels"].as_array().unwrap().contains(&json!("area:core")));
    t.cmd("issue", &r)
        .args(["show", &id])
        .assert()
        .success()
        .stdout(predicates::str::contains("octocat"))
        .stdout(predicates::str::contains("github.com/acme/widgets/issues/1"));
    // A change on GitHub arrives on the next pull; the hourly limit is waited out.
    {
        let mut st = s.state.lock().unwrap();
        let now = st.now();
        let i = st.find("2").unwrap();
        st.issues[i]["title"] = json!("Translation: 日本語 support");
        st.issues[i]["updated_at"] = json!(now);
        st.faults.primary_after = Some(st.log.len());
    }
    let out = bridge(&t, &r, &s, &["pull"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hourly rate limit"));
    assert!(titles(&t, &r).contains(&"Translation: 日本語 support".to_owned()));
}

#[test]
fn push_creates_updates_and_comments_once_and_a_pull_brings_nothing_back_twice() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let s = server();
    bridge(&t, &r, &s, &["pull"]).assert().success();
    let local = t.create(&r, "Made here");
    t.ok("issue", &r, &["comment", &local, "--body", "a local comment"]);
    let closed = t.create(&r, "Done here");
    t.ok("issue", &r, &["close", &closed]);
    // Without a token, nothing is sent.
    t.cmd("issue", &r)
        .args(["bridge", "github", "push", "--repo", "acme/widgets"])
        .env("GRIT_GITHUB_API", &s.base)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("GITHUB_TOKEN"));
    let v: Value = serde_json::from_slice(&bridge(&t, &r, &s, &["push", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(v["push"]["created"], 2, "{v}");
    assert_eq!(v["push"]["comments"], 1, "{v}");
    {
        let st = s.state.lock().unwrap();
        let made = st.issues.iter().find(|i| i["title"] == "Made here").unwrap();
        assert!(made["body"].as_str().unwrap().contains(&format!("grit:issue {local}")));
        let done = st.issues.iter().find(|i| i["title"] == "Done here").unwrap();
        assert_eq!(done["state"], "closed");
        let n = made["number"].as_u64().unwrap();
        assert_eq!(st.comments[&n].len(), 1);
    }
    let show = t.json("issue", &r, &["show", &local]);
    assert!(
        show.to_string().contains("github:acme/widgets#6"),
        "the mapping is recorded: {show}"
    );
    // Again: nothing to do.
    let v: Value = serde_json::from_slice(&bridge(&t, &r, &s, &["push", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(
        (v["push"]["created"].clone(), v["push"]["comments"].clone()),
        (json!(0), json!(0)),
        "{v}"
    );
    // A pull maps them back to the local issues and skips the comment that came from here.
    let before = titles(&t, &r);
    let v: Value = serde_json::from_slice(&bridge(&t, &r, &s, &["pull", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(v["import"]["created"], 0, "{v}");
    assert_eq!(titles(&t, &r), before);
    assert_eq!(
        t.json("issue", &r, &["show", &local])["comments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A local edit goes up.
    t.ok("issue", &r, &["edit", &local, "--title", "Made here, renamed"]);
    let v: Value = serde_json::from_slice(&bridge(&t, &r, &s, &["push", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(v["push"]["updated"], 1, "{v}");
    assert!(
        s.state
            .lock()
            .unwrap()
            .issues
            .iter()
            .any(|i| i["title"] == "Made here, renamed")
    );
    // A push that stopped between GitHub's answer and the local record does not create twice.
    let orphan = t.create(&r, "Half pushed");
    {
        let mut st = s.state.lock().unwrap();
        let now = st.now();
        st.issues.push(json!({
            "number": 50, "title": "Half pushed", "body": format!("<!-- grit:issue {orphan} -->"),
            "html_url": "https://github.com/acme/widgets/issues/50", "user": { "login": "grit-bot" },
            "labels": [], "state": "open", "assignees": [], "comments": 0,
            "created_at": now, "updated_at": now,
        }));
    }
    let v: Value = serde_json::from_slice(&bridge(&t, &r, &s, &["push", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(v["push"]["created"], 0, "{v}");
    assert_eq!(v["push"]["recovered"], 1, "{v}");
    assert!(
        t.json("issue", &r, &["show", &orphan])
            .to_string()
            .contains("github:acme/widgets#50")
    );
    assert_eq!(
        s.state
            .lock()
            .unwrap()
            .issues
            .iter()
            .filter(|i| i["title"] == "Half pushed")
            .count(),
        1
    );
    // Bad input: a malformed repository name.
    t.cmd("issue", &r)
        .args(["bridge", "github", "pull", "--repo", "not a repo"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("OWNER/NAME"));
}

/// A server on another origin that records the Authorization header of each request it gets.
fn foreign() -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut w = conn;
            if let Some((_, _, headers, _)) = crate::env::read_request(&mut r) {
                s.lock().unwrap().push(headers.get("authorization").cloned());
                let _ =
                    w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]");
            }
        }
    });
    (base, seen)
}

/// A `pull` that must fail (exit 1) within a minute; its stderr.
fn failed_pull(t: &TestEnv, dir: &Path, s: &Server) -> String {
    let out = bridge(t, dir, s, &["pull"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    err
}

#[test]
fn a_next_link_to_the_page_itself_stops_with_an_error() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let s = server();
    s.state.lock().unwrap().faults.self_link = true;
    let err = failed_pull(&t, &r, &s);
    assert!(err.contains("pagination") && err.contains("already read"), "{err}");
    let requests = s.state.lock().unwrap().log.len();
    assert!(requests < 10, "{requests} requests for one page");
}

#[test]
fn a_next_link_to_another_origin_is_not_followed_and_never_gets_the_token() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let s = server();
    let (other, seen) = foreign();
    s.state.lock().unwrap().faults.foreign_next = Some(other.clone());
    let err = failed_pull(&t, &r, &s);
    assert!(err.contains("another origin"), "{err}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "the other origin was asked: {:?}",
        seen.lock().unwrap()
    );
}

#[test]
fn a_forged_marker_on_someone_elses_issue_never_takes_over_a_local_issue() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let s = server();
    let mine = t.create(&r, "Local, never pushed");
    // Mallory files an issue whose body names it.
    let title = "Hijacked";
    s.state.lock().unwrap().issues.push(json!({
        "url": "https://api.github.com/repos/acme/widgets/issues/77",
        "html_url": "https://github.com/acme/widgets/issues/77",
        "number": 77, "title": title,
        "body": format!("pwned\n\n<!-- grit:issue {mine} -->"),
        "user": { "login": "mallory", "id": 666 },
        "labels": [], "state": "closed", "state_reason": "completed",
        "assignees": [], "comments": 0,
        "created_at": "2025-12-01T00:00:00Z", "updated_at": "2025-12-01T00:00:00Z", "closed_at": "2025-12-01T00:00:00Z",
    }));
    bridge(&t, &r, &s, &["pull"]).assert().success();
    let local = t.json("issue", &r, &["show", &mine]);
    assert_eq!(local["title"], "Local, never pushed", "{local}");
    assert_eq!(local["state"], "open");
    assert_eq!(local["source"], Value::Null, "{local}");
    // The attacker's issue came in as an issue of its own.
    assert!(titles(&t, &r).contains(&title.to_owned()));
    // And a push creates our issue on GitHub instead of editing the attacker's.
    bridge(&t, &r, &s, &["push"]).assert().success();
    let st = s.state.lock().unwrap();
    assert!(
        !st.log.iter().any(|(m, p)| m == "PATCH" && p.ends_with("/issues/77")),
        "{:?}",
        st.log
    );
    assert!(
        st.issues
            .iter()
            .any(|i| i["title"] == "Local, never pushed" && i["user"]["login"] == "grit-bot")
    );
}

/// `git sandbox land NAME --pr`: the branch goes to the remote under its own name and a pull
/// request opens against the main work tree's branch, titled after the sandbox's issue, with
/// the commits' `Fixes:` trailer in its description; nothing lands, and the issue and the
/// sandbox stay. A second time finds the pull request already open.
#[test]
fn land_pr_pushes_the_branch_and_opens_one_pull_request() {
    let t = TestEnv::new();
    let s = server();
    let bare = t.remote();
    let a = t.clone(&bare, "a", "Ann", "ann");
    t.git(&a, &["commit", "-q", "--allow-empty", "-m", "init"]);
    t.git(&a, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
    t.git(&a, &["branch", "-q", "--set-upstream-to=origin/main"]);
    t.ok("wal", &a, &["init"]);
    let id = t.create(&a, "Make the widget spin");
    let short = &id[..8];
    let message = format!("Spin the widget\n\nFixes: {short}");
    t.ok(
        "sandbox",
        &a,
        &[
            "run",
            "spin",
            "--issue",
            &id,
            "--lock",
            "path:w.txt",
            "--commit",
            &message,
            "--sh",
            "--",
            "echo spin > w.txt",
        ],
    );
    let pr = |extra: &[&str]| {
        let mut c = t.cmd("sandbox", &a);
        c.args(["land", "spin", "--pr", "--repo", "acme/widgets", "--json"])
            .args(extra)
            .env("GRIT_GITHUB_API", &s.base)
            .env("GITHUB_TOKEN", "t0ken");
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let first = pr(&[]);
    assert_eq!(
        (first["created"].as_bool(), first["number"].as_u64()),
        (Some(true), Some(1)),
        "{first}"
    );
    assert_eq!(
        first["title"], "Make the widget spin",
        "titled after the issue: {first}"
    );
    assert_eq!(first["base"], "main");
    assert_eq!(
        t.git(&bare, &["rev-parse", "refs/heads/sandbox/spin"]),
        t.git(&a, &["rev-parse", "refs/heads/sandbox/spin"]),
        "the branch is on the remote"
    );
    {
        let st = s.state.lock().unwrap();
        let body = st.pulls[0]["body"].as_str().unwrap();
        assert!(
            body.contains(&format!("Fixes: {short}")) && body.contains("- Spin the widget"),
            "{body}"
        );
        assert_eq!(st.pulls[0]["head"]["ref"], "sandbox/spin");
    }
    // Nothing landed: main is as it was, the issue open, the sandbox there.
    assert_eq!(t.git(&bare, &["rev-parse", "main"]), t.git(&a, &["rev-parse", "main"]));
    assert!(!t.git(&a, &["log", "--format=%s", "main"]).contains("Spin"));
    assert_eq!(t.json("issue", &a, &["show", &id])["state"], "open");
    assert_eq!(t.json("sandbox", &a, &["list"]).as_array().unwrap().len(), 1);
    // More work, and --pr again: the push updates the same pull request.
    t.ok("sandbox", &a, &["exec", "spin", "--sh", "--", "echo faster > w.txt"]);
    let again = pr(&["-m", "Spin faster"]);
    assert_eq!(
        (again["created"].as_bool(), again["number"].as_u64()),
        (Some(false), Some(1)),
        "{again}"
    );
    assert_eq!(s.state.lock().unwrap().pulls.len(), 1);
    assert_eq!(
        t.git(&bare, &["rev-parse", "refs/heads/sandbox/spin"]),
        t.git(&a, &["rev-parse", "refs/heads/sandbox/spin"])
    );
    // The same through MCP's sandbox_land: the same operation, the same pull request.
    t.ok("sandbox", &a, &["exec", "spin", "--sh", "--", "echo fastest > w.txt"]);
    let mut mcp = crate::mcp::Session::start(
        &t,
        &a,
        "agent",
        &[("GRIT_GITHUB_API", s.base.as_str()), ("GITHUB_TOKEN", "t0ken")],
    );
    let via = mcp.ok(
        "sandbox_land",
        json!({ "name": "spin", "pr": true, "repo": "acme/widgets", "message": "Spin fastest" }),
    );
    assert_eq!(
        (via["created"].as_bool(), via["number"].as_u64()),
        (Some(false), Some(1)),
        "{via}"
    );
    assert_eq!(
        t.git(&bare, &["rev-parse", "refs/heads/sandbox/spin"]),
        t.git(&a, &["rev-parse", "refs/heads/sandbox/spin"])
    );
    drop(mcp);
    let mut bare_env = crate::mcp::Session::start(&t, &a, "agent", &[("GRIT_GITHUB_API", s.base.as_str())]);
    let refused = bare_env.call(
        "sandbox_land",
        json!({ "name": "spin", "pr": true, "repo": "acme/widgets" }),
    );
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert!(refused.to_string().contains("GITHUB_TOKEN"), "{refused}");
    drop(bare_env);
    // Without a token: refused before anything is pushed, with the hint.
    t.cmd("sandbox", &a)
        .args(["land", "spin", "--pr", "--repo", "acme/widgets"])
        .env("GRIT_GITHUB_API", &s.base)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("GITHUB_TOKEN"));
    // A remote that is not GitHub, and no --repo: the hint says how to name it.
    t.cmd("sandbox", &a)
        .args(["land", "spin", "--pr"])
        .env("GRIT_GITHUB_API", &s.base)
        .env("GITHUB_TOKEN", "t0ken")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--repo OWNER/NAME"));
}
