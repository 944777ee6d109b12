//! `git issue serve`: the web dashboard over real HTTP, and in a real headless Chromium driven by
//! Playwright (`tests/web/browser.py`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::env::{TestEnv, test_tool};

pub(crate) struct Server(Child, pub(crate) u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn serve(t: &TestEnv, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut c = t.std_cmd("issue", dir);
    c.args(["serve", "--port", "0"]).args(args).envs(env.iter().copied());
    let mut child = c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    Server(child, port)
}

/// One HTTP/1.1 request: the status, the headers (lower-cased names) and the body.
pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
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
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

pub(crate) fn csrf_of(page: &str) -> String {
    page.split("<meta name=\"csrf\" content=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the page carries its CSRF token")
        .to_owned()
}

#[test]
fn the_dashboard_escapes_what_strangers_wrote_and_refuses_forged_requests() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let evil = t.json(
        "issue",
        &r,
        &[
            "create",
            "--title",
            "<img src=x onerror=alert(1)>",
            "--label",
            "<b>bold</b>",
            "--body",
            "<script>alert(2)</script>\n\n[x](javascript:alert(3)) and [ok](https://example.com)",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = serve(&t, &r, &[], &[]);
    let (status, head, board) = request(s.1, "GET", "/", &[], "");
    assert_eq!(status, 200);
    assert!(
        head.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{head}"
    );
    assert!(
        board.contains("&lt;img src=x onerror=alert(1)&gt;") && !board.contains("<img src=x"),
        "{board}"
    );
    assert!(board.contains("&lt;b&gt;bold&lt;/b&gt;") && !board.contains("<b>bold</b>"));
    assert!(
        !board.contains("<script>") || board.matches("<script").count() == 1,
        "only the page's own script"
    );
    let (_, _, page) = request(s.1, "GET", &format!("/issue/{evil}"), &[], "");
    assert!(
        page.contains("&lt;script&gt;alert(2)&lt;/script&gt;"),
        "raw HTML is text: {page}"
    );
    let article = page
        .split("<article class=\"body\">")
        .nth(1)
        .and_then(|a| a.split("</article>").next());
    assert!(
        !article.unwrap().contains("javascript:"),
        "a script link is dropped: {page}"
    );
    assert!(!page.contains("href=\"javascript:"), "{page}");
    assert!(page.contains("href=\"https://example.com\""));
    // Requests of another site, or through a rebound name, are refused.
    let host = format!("evil.example:{}", s.1);
    assert_eq!(request(s.1, "GET", "/", &[("Host", &host)], "").0, 403);
    assert_eq!(
        request(s.1, "GET", "/", &[("Origin", "http://evil.example")], "").0,
        403
    );
    // A POST without the page's CSRF token is refused and writes nothing.
    let form = "body=forged";
    let kind = ("Content-Type", "application/x-www-form-urlencoded");
    let (status, _, _) = request(s.1, "POST", &format!("/issue/{evil}/comment"), &[kind], form);
    assert_eq!(status, 403);
    let (status, _, _) = request(
        s.1,
        "POST",
        &format!("/issue/{evil}/comment"),
        &[kind, ("X-CSRF-Token", "0000")],
        form,
    );
    assert_eq!(status, 403);
    assert!(
        t.json("issue", &r, &["show", &evil])["comments"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // With it, the action is the CLI's: the comment is there, and so is a claim.
    let csrf = csrf_of(&page);
    let own_origin = format!("http://127.0.0.1:{}", s.1);
    let (status, _, _) = request(
        s.1,
        "POST",
        &format!("/issue/{evil}/comment"),
        &[kind, ("Origin", &own_origin)],
        &format!("csrf={csrf}&body=from+the+page"),
    );
    assert_eq!(status, 303);
    let (status, _, _) = request(
        s.1,
        "POST",
        &format!("/issue/{evil}/claim"),
        &[kind, ("X-CSRF-Token", &csrf)],
        "",
    );
    assert_eq!(status, 200);
    let shown = t.json("issue", &r, &["show", &evil]);
    assert_eq!(shown["comments"][0]["body"], "from the page");
    assert!(shown["claim"].is_object(), "{shown}");
    // The timeline is the issue's history, event for event, in the CLI's order, each step marked
    // with what its signature vouches for; the hostile title in it is text.
    let (_, _, page) = request(s.1, "GET", &format!("/issue/{evil}"), &[], "");
    let history = t.json("issue", &r, &["show", &evil, "--history"]);
    let events: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events.len(),
        2,
        "created and commented; a claim is a lock, not an event of the issue: {history}"
    );
    let shown_events: Vec<&str> = page.split("data-event=\"").skip(1).map(|rest| &rest[..64]).collect();
    assert_eq!(shown_events, events, "{page}");
    assert_eq!(page.matches("class=\"sig sig-local\"").count(), 2, "{page}");
    assert!(
        page.contains("opened the issue “&lt;img src=x onerror=alert(1)&gt;”"),
        "{page}"
    );
    // The edit form changes what it holds anew, and nothing else.
    let (status, _, out) = request(
        s.1,
        "POST",
        &format!("/issue/{evil}/edit"),
        &[kind, ("X-CSRF-Token", &csrf)],
        "title=%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E&body=new+body%0D%0Aline+two&priority=1&type=bug",
    );
    assert!(status < 400, "{status} {out}");
    let shown = t.json("issue", &r, &["show", &evil]);
    assert_eq!(
        (&shown["body"], &shown["priority"], &shown["type"], &shown["title"]),
        (
            &json!("new body\nline two"),
            &json!(1),
            &json!("bug"),
            &json!("<img src=x onerror=alert(1)>")
        ),
        "{shown}"
    );
    let kinds: Vec<String> = t
        .json("issue", &r, &["show", &evil, "--history"])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds[2..],
        ["issue.body_set", "issue.priority_set", "issue.type_set"],
        "the unchanged title is not written again"
    );
    let (status, _, out) = request(
        s.1,
        "POST",
        &format!("/issue/{evil}/edit"),
        &[kind, ("X-CSRF-Token", &csrf)],
        "title=x&priority=9",
    );
    assert_eq!(status, 400, "{out}");
    assert!(out.contains("hint: use 0"), "{out}");
    // A bad action is the operation's error, with its hint.
    let (status, _, body) = request(
        s.1,
        "POST",
        &format!("/issue/{evil}/label"),
        &[kind, ("X-CSRF-Token", &csrf)],
        "label=",
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("hint: "), "{body}");
    // Pages of what is not there.
    assert_eq!(request(s.1, "GET", "/issue/ffffffff", &[], "").0, 404);
    assert_eq!(request(s.1, "GET", "/nowhere", &[], "").0, 200, "a page saying so");
}

#[test]
fn serving_beyond_loopback_needs_a_token_and_the_token_is_checked() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let out = t
        .cmd("issue", &r)
        .args(["serve", "--bind", "0.0.0.0", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a token") && err.contains("hint: "), "{err}");
    let s = serve(&t, &r, &[], &[("GRIT_WEB_TOKEN", "s3cret")]);
    assert_eq!(request(s.1, "GET", "/", &[], "").0, 401);
    assert_eq!(request(s.1, "GET", "/?token=wrong", &[], "").0, 401);
    let (status, head, _) = request(s.1, "GET", "/?token=s3cret", &[], "");
    assert_eq!(status, 303);
    assert!(
        head.contains("set-cookie: grit_token=s3cret; httponly; samesite=strict"),
        "{head}"
    );
    assert_eq!(request(s.1, "GET", "/", &[("Cookie", "grit_token=s3cret")], "").0, 200);
    assert_eq!(
        request(s.1, "GET", "/", &[("Authorization", "Bearer s3cret")], "").0,
        200
    );
}

#[test]
fn the_event_stream_announces_a_write_from_the_cli() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let id = t.create(&r, "watched");
    let s = serve(&t, &r, &[], &[]);
    let mut c = TcpStream::connect(("127.0.0.1", s.1)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(c, "GET /events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n", s.1).unwrap();
    let mut reader = BufReader::new(c);
    let mut line = String::new();
    // The stream is open once its first line (the retry interval) arrives.
    while !line.starts_with("retry:") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0);
    }
    t.ok("issue", &r, &["comment", &id, "--body", "hello"]);
    loop {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the stream ended");
        if line.contains("data: ") && line.contains(&id) {
            break;
        }
    }
}

#[test]
fn the_dashboard_sleeps_while_nothing_changes_with_a_page_open() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let id = t.create(&r, "watched");
    let s = serve(&t, &r, &[], &[]);
    let mut c = TcpStream::connect(("127.0.0.1", s.1)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(c, "GET /events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n", s.1).unwrap();
    let mut reader = BufReader::new(c);
    let mut line = String::new();
    // Subscribed once the stream's first line (the retry interval) is out.
    while !line.starts_with("retry:") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0);
    }
    t.ok("issue", &r, &["comment", &id, "--body", "hello"]);
    while !line.contains(&id) {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0);
    }
    let ticks = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let f: Vec<u64> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|v| v.parse().unwrap())
            .collect();
        f[0] + f[1]
    };
    let before = ticks(s.0.id());
    std::thread::sleep(Duration::from_secs(2));
    let used = ticks(s.0.id()) - before;
    assert!(used <= 20, "an idle dashboard used {used} ticks of CPU in 2 s");
}

/// The dashboard in a real browser: Playwright for Python drives Debian's Chromium.
#[test]
fn the_dashboard_works_in_a_real_browser() {
    let Some(python) = test_tool("GRIT_TEST_PYTHON", "mcp-venv/bin/python") else {
        eprintln!("skipped: no Python with Playwright in target/test-tools/mcp-venv (.ci/run installs it)");
        return;
    };
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(chromium) = chromium else {
        eprintln!("skipped: no Chromium at /usr/bin/chromium (.ci/run installs Debian's chromium)");
        return;
    };
    let probe = std::process::Command::new(&python)
        .args(["-c", "import playwright"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: Playwright for Python is not installed (.ci/run installs it)");
        return;
    }
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    // 200 issues, some blocked, one with a hostile title.
    let out = t
        .wrapped("sh", &r)
        .args([
            "-c",
            "set -e; prev=; for i in $(seq 1 199); do \
               if [ $((i % 10)) = 0 ]; then \
                 prev=$(git issue create --title \"Task $i\" --label area$((i % 3)) --blocked-by $prev); \
               else \
                 prev=$(git issue create --title \"Task $i\" --label area$((i % 3)) --priority $((i % 5))); \
               fi; done; \
             git issue create --title '<img src=x onerror=alert(1)>' >/dev/null",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = serve(&t, &r, &[], &[]);
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/web");
    std::fs::create_dir_all(&shots).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web/browser.py");
    let out = t
        .wrapped(python.to_str().unwrap(), &r)
        .arg(&script)
        .arg(format!("http://127.0.0.1:{}", s.1))
        .arg(chromium)
        .arg(&shots)
        .arg(&r)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}");
    for shot in ["board.png", "issue.png", "graph.png", "agents.png"] {
        assert!(shots.join(shot).exists(), "no screenshot {shot}");
    }
}

/// A sandbox's page shows each run's output (escaped: a command prints what it likes).
#[test]
fn a_sandbox_page_shows_what_its_runs_printed_escaped() {
    let t = TestEnv::new();
    let r = t.repo("r");
    std::fs::write(r.join("a.txt"), "a\n").unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    t.ok(
        "sandbox",
        &r,
        &[
            "run",
            "s",
            "--keep",
            "--sh",
            "--",
            "echo '<script>alert(1)</script> built fine'; \
             printf 'pub fn f() -> &str { \"<img src=x onerror=alert(2)>\" } // 42\\n' > lib.rs",
        ],
    );
    let s = serve(&t, &r, &[], &[]);
    let (status, _, page) = request(s.1, "GET", "/sandbox/s", &[], "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<summary>output</summary>"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; built fine"),
        "{page}"
    );
    assert!(!page.contains("<script>alert(1)"), "{page}");
    // The diff's code is coloured for its language, and a string in it stays text.
    assert!(
        page.contains("<span class=\"add\">+<span class=\"k\">pub</span> <span class=\"k\">fn</span> f()"),
        "{page}"
    );
    assert!(
        page.contains("<span class=\"s\">&quot;&lt;img src=x onerror=alert(2)&gt;&quot;</span>"),
        "{page}"
    );
    assert!(page.contains("<span class=\"c\">// 42</span>"), "{page}");
    assert!(!page.contains("<img src=x"), "{page}");
}

/// The board's columns are the team's when `issue.board.column` names them (a query, or a saved
/// view), escaped; the query bar narrows each.
#[test]
fn the_board_takes_its_columns_from_config_and_saved_views() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    t.json("issue", &r, &["create", "-t", "urgent bug", "-l", "bug", "-p", "0"]);
    t.json("issue", &r, &["create", "-t", "calm task", "-p", "3"]);
    t.ok("issue", &r, &["view", "save", "low", "-S", "priority:>=3"]);
    t.git(
        &r,
        &["config", "--add", "issue.board.column", "Hot <now>: priority:<=1"],
    );
    t.git(&r, &["config", "--add", "issue.board.column", "Later: view:low"]);
    let s = serve(&t, &r, &[], &[]);
    let (status, _, board) = request(s.1, "GET", "/", &[], "");
    assert_eq!(status, 200, "{board}");
    assert!(
        board.contains("<h2>Hot &lt;now&gt; <span class=\"count\">1</span>"),
        "{board}"
    );
    assert!(board.contains("<h2>Later <span class=\"count\">1</span>"), "{board}");
    assert!(
        !board.contains("Closed recently"),
        "the default columns give way: {board}"
    );
    let hot = board.split("Later").next().unwrap();
    assert!(hot.contains("urgent bug") && !hot.contains("calm task"), "{board}");
    let (_, _, narrowed) = request(s.1, "GET", "/?q=label%3Abug", &[], "");
    assert!(
        narrowed.contains("<h2>Later <span class=\"count\">0</span>"),
        "{narrowed}"
    );
}
