//! Live: `git wal watch` (local writes, a plain fetch, a restart with the cursor), the daemon
//! (one per repository, idle exit, background sync, a socket only its user may use), JSON-RPC
//! errors, webhooks delivered at least once across a kill -9, and the sandbox API.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::env::TestEnv;

/// A `git wal watch --json` running in the background, its records arriving on a channel.
struct Watch {
    child: Child,
    rx: mpsc::Receiver<Value>,
}

impl Watch {
    fn start(t: &TestEnv, dir: &Path, args: &[&str]) -> Watch {
        let mut child = t
            .std_cmd("wal", dir)
            .args(["watch", "--json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx
                    .send(serde_json::from_str(&line).expect("each line is JSON"))
                    .is_err()
                {
                    break;
                }
            }
        });
        // It watches once its feed cursor is set: give it a moment to open.
        std::thread::sleep(Duration::from_millis(300));
        Watch { child, rx }
    }

    /// The next `n` records, waiting at most 20 s in all.
    fn take(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(v) => out.push(v),
                Err(_) => panic!("only {} of {n} records arrived: {out:?}", out.len()),
            }
        }
        out
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn titles_of(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["event"]["summary"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn watch_sees_local_writes_and_fetched_events_in_order_and_resumes_without_gaps() {
    let t = TestEnv::new();
    let remote = t.remote();
    let a = t.clone(&remote, "a", "Ann", "ann");
    let b = t.clone(&remote, "b", "Bob", "bob");
    t.ok("wal", &a, &["init"]);
    t.ok("wal", &b, &["init"]);
    let w = Watch::start(&t, &b, &["--no-daemon"]);
    // A local write.
    t.create(&b, "local one");
    let first = w.take(1);
    assert_eq!(first[0]["type"], "event");
    assert_eq!(first[0]["event"]["kind"], "issue.created");
    assert_eq!(first[0]["issue"]["title"], "local one");
    assert_eq!(first[0]["issue"]["state"], "open");
    // Events brought by a plain `git fetch`, in the order they were written.
    let id = t.create(&a, "remote one");
    t.ok("issue", &a, &["comment", &id, "--body", "a comment"]);
    t.ok("issue", &a, &["close", &id]);
    t.ok("wal", &a, &["push"]);
    t.git(&b, &["fetch", "-q"]);
    let fetched = w.take(3);
    let kinds: Vec<&str> = fetched.iter().map(|r| r["event"]["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["issue.created", "issue.comment_added", "issue.state_set"]);
    assert_eq!(
        fetched[2]["issue"]["state"], "closed",
        "the summary is the issue as it is now"
    );
    let cursor = fetched[1]["cursor"].as_str().unwrap().to_owned();
    drop(w);
    // More arrives while nobody watches; a restart from the cursor gets exactly what followed.
    t.create(&b, "while away");
    let again = Watch::start(&t, &b, &["--no-daemon", "--since", &cursor, "--count", "2"]);
    let resumed = again.take(2);
    assert_eq!(titles_of(&resumed), ["closed", "while away"]);
    assert_eq!(resumed[0]["event"]["id"], fetched[2]["event"]["id"]);
    assert!(again.ends_within(Duration::from_secs(10)), "--count ends the watch");
}

impl Watch {
    /// Whether the watch exits successfully by itself within `d`.
    fn ends_within(mut self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

#[test]
fn watch_streams_lock_changes_and_sandbox_steps_and_filters_by_query_and_kind() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    t.git(&r, &["config", "sandbox.root", ".sandboxes"]);
    t.git(&r, &["config", "sandbox.backend", "copy"]);
    std::fs::write(r.join(".gitignore"), ".sandboxes/\n").unwrap();
    t.git(&r, &["add", ".gitignore"]);
    t.git(&r, &["commit", "-q", "-m", "ignore"]);
    let all = Watch::start(&t, &r, &["--no-daemon"]);
    let bugs = Watch::start(&t, &r, &["--no-daemon", "-S", "label:bug"]);
    let locks = Watch::start(&t, &r, &["--no-daemon", "--kind", "lock,sandbox"]);
    t.ok("lock", &r, &["acquire", "path:src/", "--note", "refactor"]);
    t.ok("lock", &r, &["release", "path:src/"]);
    let id = t.create(&r, "not a bug");
    let bug = t.json("issue", &r, &["create", "--title", "a bug", "--label", "bug"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.ok("issue", &r, &["comment", &id, "--body", "on the other"]);
    t.ok("issue", &r, &["comment", &bug, "--body", "on the bug"]);
    t.ok("sandbox", &r, &["run", "s1", "--keep", "--", "true"]);
    let got = locks.take(4);
    let what: Vec<String> = got
        .iter()
        .map(|r| match r["type"].as_str().unwrap() {
            "lock" => format!("lock {}", r["lock"]["change"].as_str().unwrap()),
            other => format!("{other} {}", r[other]["step"].as_str().unwrap()),
        })
        .collect();
    assert_eq!(what, ["lock acquire", "lock release", "sandbox created", "sandbox ran"]);
    assert_eq!(got[0]["lock"]["lock"]["resource"], "path:src/");
    assert_eq!(got[0]["lock"]["lock"]["note"], "refactor");
    assert_eq!(got[3]["sandbox"]["exit_code"], 0);
    let b = bugs.take(2);
    assert!(b.iter().all(|r| r["event"]["entity"] == bug.as_str()), "{b:?}");
    let everything = all.take(8);
    assert!(everything.iter().any(|r| r["event"]["entity"] == id.as_str()));
    // Bad input is refused before anything runs.
    t.cmd("wal", &r)
        .args(["watch", "--kind", "nonsense"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("hint:"));
    t.cmd("wal", &r)
        .args(["watch", "--since", "not-a-cursor"])
        .assert()
        .code(2);
}

/// Stops a repository's daemon when dropped, however the test ends.
struct DaemonGuard {
    dir: PathBuf,
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        let state = self.dir.join(".git/grit/daemon/state.json");
        if let Ok(b) = std::fs::read(&state)
            && let Ok(v) = serde_json::from_slice::<Value>(&b)
            && let Some(pid) = v["pid"].as_i64()
        {
            // SAFETY: a signal to the daemon this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

fn start_daemon(t: &TestEnv, dir: &Path) -> (DaemonGuard, i64) {
    let v = t.json("wal", dir, &["daemon", "start"]);
    (DaemonGuard { dir: dir.to_owned() }, v["pid"].as_i64().unwrap())
}

fn running(t: &TestEnv, dir: &Path) -> bool {
    t.json("wal", dir, &["daemon", "status"])["running"] == json!(true)
}

#[test]
fn two_daemons_started_at_once_one_runs_and_the_other_reports_it() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "x");
    let _guard = DaemonGuard { dir: r.clone() };
    let starts: Vec<Child> = (0..4)
        .map(|_| {
            t.std_cmd("wal", &r)
                .args(["daemon", "start", "--json"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Value> = starts
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect();
    let pids: BTreeSet<i64> = outs.iter().map(|o| o["pid"].as_i64().unwrap()).collect();
    assert_eq!(pids.len(), 1, "one daemon: {outs:?}");
    assert_eq!(
        outs.iter().filter(|o| o["already_running"] == json!(false)).count(),
        1,
        "one start started it, the others found it: {outs:?}"
    );
    // Its socket is its user's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(r.join(".git/grit/daemon.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // A crashed daemon (kill -9) is taken over by the next start.
    let pid = *pids.iter().next().unwrap();
    // SAFETY: a signal to the daemon this test started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(100));
    let (_g, again) = start_daemon(&t, &r);
    assert_ne!(again, pid);
    assert!(running(&t, &r));
    t.ok("wal", &r, &["daemon", "stop"]);
    assert!(!running(&t, &r));
}

#[test]
fn an_idle_daemon_exits_and_auto_start_brings_it_back() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "x");
    t.git(&r, &["config", "grit.daemon.idleTimeout", "300ms"]);
    let (_g, _) = start_daemon(&t, &r);
    assert!(running(&t, &r));
    // Watched from outside: a client (`daemon status`) would count as activity.
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.join(".git/grit/daemon.sock").exists() {
        assert!(Instant::now() < deadline, "the daemon should exit when idle");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(!running(&t, &r));
    let log = std::fs::read_to_string(r.join(".git/grit/daemon.log")).unwrap();
    assert!(log.contains("idle: exiting"), "{log}");
    // autoStart: any command starts it again.
    t.git(&r, &["config", "grit.daemon.idleTimeout", "30s"]);
    t.git(&r, &["config", "grit.daemon.autoStart", "true"]);
    t.ok("issue", &r, &["list"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !running(&t, &r) {
        assert!(Instant::now() < deadline, "autoStart should start the daemon");
        std::thread::sleep(Duration::from_millis(50));
    }
    t.ok("wal", &r, &["daemon", "stop"]);
}

#[test]
fn background_sync_carries_events_between_two_clones_with_no_command_run() {
    let t = TestEnv::new();
    let remote = t.remote();
    let a = t.clone(&remote, "a", "Ann", "ann");
    let b = t.clone(&remote, "b", "Bob", "bob");
    for d in [&a, &b] {
        t.ok("wal", d, &["init"]);
        t.git(d, &["config", "grit.daemon.syncInterval", "200ms"]);
        t.git(d, &["config", "grit.daemon.idleTimeout", "0"]);
    }
    t.create(&a, "made in a");
    let (_ga, _) = start_daemon(&t, &a);
    let (_gb, _) = start_daemon(&t, &b);
    let w = Watch::start(&t, &b, &[]);
    let got = w.take(1);
    assert_eq!(got[0]["issue"]["title"], "made in a");
    let status = t.json("wal", &b, &["daemon", "status"]);
    assert!(status["sync"]["runs"].as_u64().unwrap() >= 1, "{status}");
    assert_eq!(status["sync"]["last_ok"], true, "{status}");
    drop(w);
    t.ok("wal", &a, &["daemon", "stop"]);
    t.ok("wal", &b, &["daemon", "stop"]);
}

/// Sends lines to the daemon and returns the answers to the requests that have an id.
fn rpc(dir: &Path, lines: &[&str]) -> Vec<Value> {
    let s = UnixStream::connect(dir.join(".git/grit/daemon.sock")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = s.try_clone().unwrap();
    for l in lines {
        writeln!(w, "{l}").unwrap();
    }
    let mut r = BufReader::new(s);
    let expected = lines
        .iter()
        .filter(|l| serde_json::from_str::<Value>(l).map_or(true, |v| v.get("id").is_some() || !v.is_object()))
        .count();
    let mut out = Vec::new();
    while out.len() < expected {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 {
            break;
        }
        out.push(serde_json::from_str(&line).unwrap());
    }
    out
}

#[test]
fn bad_json_rpc_requests_get_json_rpc_errors_never_a_crash() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "x");
    let (_g, _) = start_daemon(&t, &r);
    let answers = rpc(
        &r,
        &[
            "this is not json",
            r#"[{"jsonrpc":"2.0","id":1,"method":"status"}]"#,
            r#"{"jsonrpc":"1.0","id":2,"method":"status"}"#,
            r#"{"jsonrpc":"2.0","id":3}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"no.such.method"}"#,
            r#"{"jsonrpc":"2.0","id":5,"method":"subscribe","params":{"query":"label:"}}"#,
            r#"{"jsonrpc":"2.0","id":6,"method":"subscribe","params":{"since":"zz"}}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"sandbox.commit","params":{"name":7}}"#,
            r#"{"jsonrpc":"2.0","id":8,"method":"sandbox.diff","params":{"name":"missing"}}"#,
            r#"{"jsonrpc":"2.0","id":9,"method":"status","params":[1]}"#,
            r#"{"jsonrpc":"2.0","method":"status"}"#,
            r#"{"jsonrpc":"2.0","id":10,"method":"status"}"#,
        ],
    );
    let codes: Vec<i64> = answers
        .iter()
        .take(10)
        .map(|a| a["error"]["code"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(
        codes,
        [
            -32700, -32600, -32600, -32600, -32601, -32602, -32602, -32602, -32000, -32602
        ],
        "{answers:#?}"
    );
    assert_eq!(answers[8]["error"]["data"]["exit_code"], 1);
    assert!(answers[8]["error"]["data"]["hint"].is_string(), "{}", answers[8]);
    assert_eq!(answers[10]["id"], 10, "a notification gets no answer");
    assert_eq!(answers[10]["result"]["running"], true);
    assert!(running(&t, &r));
}

#[test]
fn the_socket_refuses_other_users() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "x");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let setpriv = Path::new("/usr/bin/setpriv").exists();
    if !root || !setpriv {
        eprintln!("skipped: needs root and setpriv to run as another user (root={root}, setpriv={setpriv})");
        return;
    }
    let (_g, _) = start_daemon(&t, &r);
    // Everything on the way is open to others; only the socket's own mode keeps them out.
    crate::env::open_to_others(&r.join(".git/grit"));
    t.git(&r, &["config", "--local", "safe.directory", "*"]);
    std::process::Command::new("chmod")
        .args(["-R", "o+rX"])
        .arg(r.join(".git"))
        .status()
        .unwrap();
    let mut c = t.wrapped("setpriv", &r);
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        &crate::env::exe("wal"),
        "daemon",
        "status",
    ])
    .env("HOME", "/tmp");
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "nobody must not talk to the daemon");
    assert!(err.contains("Permission denied"), "{err}");
    assert!(running(&t, &r), "and the daemon is unharmed");
}

/// A local HTTP server recording each request's headers and body; it answers 200 after
/// `delay`, or 500 to the first `fail_first` requests.
/// Each request received: its headers (lower-cased names) and body.
type Requests = Arc<Mutex<Vec<(HashMap<String, String>, Vec<u8>)>>>;

struct Receiver {
    url: String,
    got: Requests,
}

fn receiver(fail_first: usize, delay: Duration) -> Receiver {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let got: Requests = Default::default();
    let seen = Arc::new(Mutex::new(0usize));
    let g = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(conn) = conn else { continue };
            let (g, seen) = (g.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut w = conn;
                while let Some((_, _, headers, body)) = crate::env::read_request(&mut r) {
                    let n = {
                        let mut s = seen.lock().unwrap();
                        *s += 1;
                        *s
                    };
                    std::thread::sleep(delay);
                    let status = if n <= fail_first { "500 Oops" } else { "200 OK" };
                    if n > fail_first {
                        g.lock().unwrap().push((headers, body));
                    }
                    write!(w, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").unwrap();
                }
            });
        }
    });
    Receiver { url, got }
}

#[test]
fn webhooks_after_a_kill_9_deliver_every_event_at_least_once_with_stable_ids() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "before the webhook");
    let rx = receiver(0, Duration::from_millis(10));
    t.git(&r, &["config", "grit.webhook.ci.url", &rx.url]);
    t.git(&r, &["config", "grit.webhook.ci.secret", "s3cret"]);
    t.git(&r, &["config", "grit.webhook.ci.events", "issue.created"]);
    t.git(&r, &["config", "grit.daemon.idleTimeout", "0"]);
    let (_g, pid) = start_daemon(&t, &r);
    // Let the webhook take its place at the end of the feed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !r.join(".git/grit/feed/webhooks/ci.cursor").exists() {
        assert!(Instant::now() < deadline, "the webhook should start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(t.create(&r, &format!("issue {i}")));
        if i == 12 {
            // SAFETY: a signal to the daemon this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
    let (_g2, _) = start_daemon(&t, &r);
    let deadline = Instant::now() + Duration::from_secs(30);
    let delivered = loop {
        let got = rx.got.lock().unwrap().clone();
        let events: BTreeSet<String> = got
            .iter()
            .map(|(_, b)| {
                serde_json::from_slice::<Value>(b).unwrap()["event"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        if ids.iter().all(|i| events.contains(i)) {
            break got;
        }
        assert!(Instant::now() < deadline, "{} of 30 delivered", events.len());
        std::thread::sleep(Duration::from_millis(50));
    };
    // Every delivery is signed, and the same event always carries the same delivery id.
    let mut by_delivery: HashMap<String, String> = HashMap::new();
    for (h, body) in &delivered {
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(h["x-grit-event"], "issue.created");
        assert_eq!(h["x-hub-signature-256"], grit::live::webhook::signature("s3cret", body));
        assert_eq!(h["x-grit-delivery"], v["delivery"].as_str().unwrap());
        let event = v["event"]["id"].as_str().unwrap().to_owned();
        if let Some(e) = by_delivery.insert(h["x-grit-delivery"].clone(), event.clone()) {
            assert_eq!(e, event, "one delivery id, one event");
        }
        assert_ne!(v["event"]["summary"], "before the webhook", "history is not replayed");
    }
    assert_eq!(by_delivery.len(), 30, "deduplicated by delivery id: exactly once");
    t.ok("wal", &r, &["daemon", "stop"]);
}

#[test]
fn a_failing_webhook_is_retried_then_parked_and_retry_delivers_it() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "x");
    let out = t.tmp.path().join("received");
    t.git(&r, &["config", "grit.webhook.cmd.command", "exit 3"]);
    t.git(&r, &["config", "grit.webhook.cmd.maxAttempts", "3"]);
    t.git(&r, &["config", "grit.webhook.cmd.backoff", "10ms"]);
    // A first pass takes the webhook's place at the end of the feed.
    t.ok("wal", &r, &["webhook", "deliver"]);
    t.create(&r, "y");
    let pass = t.json("wal", &r, &["webhook", "deliver", "cmd"]);
    assert_eq!(pass[0]["parked"], 1, "{pass}");
    assert_eq!(pass[0]["delivered"], 0);
    let parked = t.json("wal", &r, &["webhook", "list"]);
    assert_eq!(parked[0]["parked"], 1);
    t.cmd("wal", &r)
        .args(["daemon", "status"])
        .assert()
        .success()
        .stdout(predicates::str::contains("1 parked"));
    t.cmd("wal", &r)
        .args(["doctor"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("webhook cmd has 1 parked"));
    t.cmd("wal", &r)
        .args(["webhook", "retry", "cmd"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("exited with 3"));
    t.git(
        &r,
        &[
            "config",
            "grit.webhook.cmd.command",
            &format!(
                "cat > {}; echo \"$GRIT_DELIVERY\" >> {}.ids",
                out.display(),
                out.display()
            ),
        ],
    );
    let v = t.json("wal", &r, &["webhook", "retry", "cmd"]);
    assert_eq!(v["delivered"], 1);
    assert_eq!(v["parked"], 0);
    let body: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(body["event"]["summary"], "y");
    let ids = std::fs::read_to_string(out.with_extension("ids")).unwrap();
    assert_eq!(ids.trim(), body["delivery"].as_str().unwrap());
    // A timeout counts as a failure.
    t.git(&r, &["config", "grit.webhook.cmd.command", "sleep 5"]);
    t.git(&r, &["config", "grit.webhook.cmd.timeout", "100ms"]);
    t.git(&r, &["config", "grit.webhook.cmd.maxAttempts", "1"]);
    t.create(&r, "z");
    let started = Instant::now();
    let pass = t.json("wal", &r, &["webhook", "deliver", "cmd"]);
    assert_eq!(pass[0]["parked"], 1);
    assert!(started.elapsed() < Duration::from_secs(4));
    // `test` sends a ping; a webhook without a target is refused with a hint.
    let rx = receiver(0, Duration::ZERO);
    t.git(&r, &["config", "grit.webhook.web.url", &rx.url]);
    t.ok("wal", &r, &["webhook", "test", "web"]);
    assert_eq!(rx.got.lock().unwrap()[0].0["x-grit-event"], "ping");
    t.git(&r, &["config", "grit.webhook.bad.secret", "x"]);
    t.cmd("wal", &r)
        .args(["webhook", "list"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("neither a url nor a command"));
}

/// A repository for the daemon's sandbox API: `a.txt` on main, sandboxes under `.sandboxes`
/// (ignored), and a daemon that never idles out.
fn api_repo(t: &TestEnv) -> PathBuf {
    let r = t.repo("r");
    std::fs::write(r.join("a.txt"), "a\n").unwrap();
    std::fs::write(r.join(".gitignore"), ".sandboxes/\n").unwrap();
    t.git(&r, &["add", "."]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    t.git(&r, &["config", "sandbox.root", ".sandboxes"]);
    t.git(&r, &["config", "grit.daemon.idleTimeout", "0"]);
    r
}

/// A client of the daemon's socket that keeps notifications apart from answers.
struct Client {
    w: UnixStream,
    r: BufReader<UnixStream>,
    next: u64,
}

impl Client {
    fn connect(dir: &Path) -> Client {
        let s = UnixStream::connect(dir.join(".git/grit/daemon.sock")).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Client {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
            next: 1,
        }
    }

    /// Calls a method; returns the notifications that came first, and the answer.
    fn call(&mut self, method: &str, params: Value) -> (Vec<Value>, Value) {
        let id = self.next;
        self.next += 1;
        writeln!(
            self.w,
            "{}",
            json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
        )
        .unwrap();
        let mut notes = Vec::new();
        loop {
            let mut line = String::new();
            assert!(self.r.read_line(&mut line).unwrap() > 0, "the daemon hung up");
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == json!(id) {
                return (notes, v);
            }
            notes.push(v);
        }
    }
}

#[test]
fn the_sandbox_api_creates_execs_with_streamed_output_commits_and_removes() {
    let t = TestEnv::new();
    let r = api_repo(&t);
    let (_g, _) = start_daemon(&t, &r);
    let mut c = Client::connect(&r);
    let (_, created) = c.call("sandbox.create", json!({ "name": "api", "backend": "copy" }));
    assert_eq!(created["result"]["name"], "api", "{created}");
    assert_eq!(created["result"]["state"], "ready");
    let (_, list) = c.call("sandbox.list", json!({}));
    assert_eq!(list["result"][0]["name"], "api");
    // The CLI sees what the API made: the same records.
    assert_eq!(t.json("sandbox", &r, &["list"])[0]["name"], "api");
    let (notes, ran) = c.call(
        "sandbox.exec",
        json!({ "name": "api", "cmd": ["sh", "-c", "echo out; echo err >&2; echo new > b.txt; exit 3"], "env": { "X": "1" } }),
    );
    assert_eq!(ran["result"]["exit_code"], 3, "{ran}");
    let text = |stream: &str| -> String {
        notes
            .iter()
            .filter(|n| n["method"] == "sandbox.output" && n["params"]["stream"] == stream)
            .map(|n| n["params"]["data"].as_str().unwrap())
            .collect()
    };
    assert_eq!(text("stdout"), "out\n");
    assert_eq!(text("stderr"), "err\n");
    let (_, diff) = c.call("sandbox.diff", json!({ "name": "api", "patch": true }));
    assert_eq!(diff["result"]["files"][0]["path"], "b.txt", "{diff}");
    assert!(diff["result"]["patch"].as_str().unwrap().contains("+new"));
    let (_, committed) = c.call("sandbox.commit", json!({ "name": "api", "message": "from the API" }));
    let commit = committed["result"]["commit"].as_str().unwrap().to_owned();
    assert_eq!(
        t.git(&r, &["log", "-1", "--format=%s", "sandbox/api"]).trim(),
        "from the API"
    );
    assert!(
        t.git(&r, &["log", "-1", "--format=%H", "sandbox/api"])
            .starts_with(&commit)
    );
    // Unmerged work is not thrown away without `force`; with it the branch stays.
    let (_, refused) = c.call("sandbox.remove", json!({ "name": "api" }));
    assert_eq!(refused["error"]["code"], -32000, "{refused}");
    let (_, removed) = c.call("sandbox.remove", json!({ "name": "api", "force": true }));
    assert_eq!(removed["result"]["branch_kept"], true, "{removed}");
    assert_eq!(t.json("sandbox", &r, &["list"]), json!([]));
    // A client that hangs up in the middle of a create leaves nothing behind.
    t.ok("wal", &r, &["daemon", "stop"]);
    let mut start = t.std_cmd("wal", &r);
    start
        .args(["daemon", "start"])
        .env("GRIT_TEST_SANDBOX_PAUSE_MS", "3000");
    assert!(start.status().unwrap().success());
    let s = UnixStream::connect(r.join(".git/grit/daemon.sock")).unwrap();
    let mut w = s.try_clone().unwrap();
    writeln!(
        w,
        "{}",
        json!({ "jsonrpc": "2.0", "id": 1, "method": "sandbox.create", "params": { "name": "gone", "backend": "copy" } })
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    drop(w);
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let worktrees = t.git(&r, &["worktree", "list"]);
        let branches = t.git(&r, &["branch", "--list", "sandbox/gone"]);
        if !worktrees.contains("gone")
            && branches.trim().is_empty()
            && !r.join(".git/grit/sandboxes/gone.json").exists()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "half-made sandbox left: {worktrees} {branches}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(running(&t, &r));
    t.ok("wal", &r, &["daemon", "stop"]);
}

#[test]
fn sandbox_exec_over_the_socket_is_isolated_as_the_cli_is_under_sandbox_isolate() {
    let t = TestEnv::new();
    let r = api_repo(&t);
    t.git(&r, &["config", "sandbox.isolate", "true"]);
    let (_g, _) = start_daemon(&t, &r);
    let mut c = Client::connect(&r);
    let (_, created) = c.call("sandbox.create", json!({ "name": "iso", "backend": "copy" }));
    assert_eq!(created["result"]["name"], "iso", "{created}");
    let outside = r.join("escaped.txt");
    let (_, ran) = c.call(
        "sandbox.exec",
        json!({ "name": "iso", "cmd": ["sh", "-c", format!("echo x > '{}'; echo in > inside.txt", outside.display())] }),
    );
    t.ok("wal", &r, &["daemon", "stop"]);
    if ran["error"]["message"].as_str().is_some_and(|m| m.contains("isolat")) {
        eprintln!("skipped: this machine cannot isolate ({ran}); the exec was refused, not run bare");
        assert!(!outside.exists());
        return;
    }
    let isolation = ran["result"]["isolation"].as_str().unwrap_or_default();
    assert!(matches!(isolation, "bwrap" | "unshare"), "{ran}");
    assert!(!outside.exists(), "the command wrote outside its sandbox: {ran}");
    let diff = t.json("sandbox", &r, &["diff", "iso"]);
    assert!(
        r.join(".sandboxes/iso/inside.txt").exists() || diff.to_string().contains("inside.txt"),
        "the command's own write is in its sandbox: {ran}; diff {diff}; log {}",
        t.ok("sandbox", &r, &["logs", "iso"])
    );
    let listed = t.json("sandbox", &r, &["list"]);
    assert!(
        listed.to_string().contains(isolation),
        "the run is recorded as isolated: {listed}"
    );
}

#[test]
fn a_webhook_command_that_never_reads_a_large_body_or_never_exits_times_out_as_a_failure() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "x");
    // Never reads its input; its child outlives it unless the whole group goes.
    let marker = t.tmp.path().join("still-running");
    t.git(
        &r,
        &[
            "config",
            "grit.webhook.slow.command",
            &format!("(sleep 5; touch '{}') & sleep 30", marker.display()),
        ],
    );
    t.git(&r, &["config", "grit.webhook.slow.timeout", "1s"]);
    t.git(&r, &["config", "grit.webhook.slow.maxAttempts", "1"]);
    t.ok("wal", &r, &["webhook", "deliver"]);
    // A record far past a pipe's 64 KiB.
    let body = t.tmp.path().join("body");
    std::fs::write(&body, "b".repeat(200 << 10)).unwrap();
    t.ok(
        "issue",
        &r,
        &["create", "--title", "big", "--body-file", body.to_str().unwrap()],
    );
    let started = Instant::now();
    let pass = t.json("wal", &r, &["webhook", "deliver", "slow"]);
    let took = started.elapsed();
    assert_eq!(pass[0]["parked"], 1, "a timeout is a failure: {pass}");
    assert_eq!(pass[0]["delivered"], 0, "{pass}");
    assert!(took < Duration::from_secs(5), "the deadline held: {took:?}");
    std::thread::sleep(Duration::from_secs(6));
    assert!(!marker.exists(), "what the command started was ended with it");
}

#[test]
fn two_webhook_deliveries_at_once_send_each_record_once_and_in_order() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "first");
    let log = t.tmp.path().join("got");
    t.git(
        &r,
        &[
            "config",
            "grit.webhook.cmd.command",
            &format!(
                "{{ sed -n 's/.*\"summary\":\"\\([^\"]*\\)\".*/\\1/p'; echo; }} >> '{}'; sleep 0.05",
                log.display()
            ),
        ],
    );
    t.git(&r, &["config", "grit.webhook.cmd.events", "issue.created"]);
    t.ok("wal", &r, &["webhook", "deliver"]);
    let titles: Vec<String> = (0..12).map(|i| format!("t{i:02}")).collect();
    for title in &titles {
        t.create(&r, title);
    }
    let children: Vec<_> = (0..2)
        .map(|_| {
            t.std_cmd("wal", &r)
                .args(["webhook", "deliver", "cmd"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let got = std::fs::read_to_string(&log).unwrap();
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got, titles, "each once, in order");
}

#[test]
fn stalled_half_lines_are_cut_off_and_past_the_cap_a_client_is_told_so() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.create(&r, "x");
    t.git(&r, &["config", "grit.daemon.readTimeout", "1s"]);
    t.git(&r, &["config", "grit.daemon.maxClients", "8"]);
    t.git(&r, &["config", "grit.daemon.idleTimeout", "0"]);
    let (_g, _) = start_daemon(&t, &r);
    // Twenty clients that begin a line and never end it.
    let stalled: Vec<UnixStream> = (0..20)
        .map(|_| {
            let mut s = UnixStream::connect(r.join(".git/grit/daemon.sock")).unwrap();
            let _ = s.write_all(b"{\"jsonrpc\":\"2.0\",");
            s
        })
        .collect();
    // Past the cap, a client is told so at once.
    let mut over = UnixStream::connect(r.join(".git/grit/daemon.sock")).unwrap();
    over.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut told = String::new();
    let _ = BufReader::new(&mut over).read_line(&mut told);
    assert!(told.contains("maxClients"), "{told:?}");
    // Within the read timeout the stalled ones are cut off, and a new client is served.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = (|| -> Option<Value> {
            let mut s = UnixStream::connect(r.join(".git/grit/daemon.sock")).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
            writeln!(s, "{}", json!({ "jsonrpc": "2.0", "id": 1, "method": "status" })).ok()?;
            let mut line = String::new();
            BufReader::new(&mut s).read_line(&mut line).ok()?;
            serde_json::from_str(&line).ok()
        })();
        if let Some(status) = &answer
            && status["result"]["clients"].as_u64().is_some_and(|n| n <= 1)
        {
            break;
        }
        assert!(Instant::now() < deadline, "stalled clients still held: {answer:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(stalled);
    t.ok("wal", &r, &["daemon", "stop"]);
}

#[test]
fn watch_claimed_gives_the_same_records_with_and_without_the_daemon() {
    let t = TestEnv::new();
    let r = api_repo(&t);
    let free = t.create(&r, "nobody's");
    let taken = t.create(&r, "claimed one");
    t.ok("issue", &r, &["comment", &free, "--body", "on the free one"]);
    t.ok("issue", &r, &["comment", &taken, "--body", "on the claimed one"]);
    t.ok("issue", &r, &["claim", &taken]);
    let watch = |extra: &[&str]| -> Vec<Value> {
        let mut args = vec![
            "watch",
            "--json",
            "--since",
            "start",
            "-S",
            "claimed:true",
            "--count",
            "2",
        ];
        args.extend_from_slice(&["--timeout", "20s"]);
        args.extend_from_slice(extra);
        t.ok("wal", &r, &args)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let alone = watch(&["--no-daemon"]);
    let (_g, _) = start_daemon(&t, &r);
    let through = watch(&[]);
    t.ok("wal", &r, &["daemon", "stop"]);
    let entities = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|r| r["event"]["entity"].as_str().unwrap_or("?").to_owned())
            .collect()
    };
    assert_eq!(entities(&alone), [taken.clone(), taken.clone()], "{alone:?}");
    assert_eq!(entities(&through), entities(&alone), "{through:?}");
    let kinds = |v: &[Value]| -> Vec<Value> { v.iter().map(|r| r["event"]["kind"].clone()).collect() };
    assert_eq!(kinds(&through), kinds(&alone));
}

#[test]
fn sandbox_create_over_the_socket_honours_templates_as_the_cli_does() {
    let t = TestEnv::new();
    let r = api_repo(&t);
    std::fs::create_dir_all(r.join("target")).unwrap();
    std::fs::write(r.join("target/out.bin"), "built\n").unwrap();
    std::fs::write(r.join(".gitignore"), ".sandboxes/\ntarget/\n").unwrap();
    t.git(&r, &["commit", "-qam", "ignore target"]);
    t.git(&r, &["config", "sandbox.template.rust.include", "target/"]);
    t.git(&r, &["config", "--add", "sandbox.template.rust.env", "PROFILE=ci"]);
    t.git(&r, &["config", "sandbox.template.rust.backend", "copy"]);
    let (_g, _) = start_daemon(&t, &r);
    let mut c = Client::connect(&r);
    // Named in the request, and then as sandbox.defaultTemplate.
    let (_, named) = c.call("sandbox.create", json!({ "name": "named", "template": "rust" }));
    assert_eq!(named["result"]["backend"], "copy", "{named}");
    t.git(&r, &["config", "sandbox.defaultTemplate", "rust"]);
    let (_, dflt) = c.call("sandbox.create", json!({ "name": "dflt" }));
    assert_eq!(dflt["result"]["backend"], "copy", "{dflt}");
    t.ok("sandbox", &r, &["run", "cli", "--keep", "--", "true"]);
    for name in ["named", "dflt", "cli"] {
        let (_, ran) = c.call(
            "sandbox.exec",
            json!({ "name": name, "cmd": ["sh", "-c", "echo $PROFILE > profile.txt"], "env": {} }),
        );
        assert_eq!(ran["result"]["exit_code"], 0, "{ran}");
        let dir = r.join(".sandboxes").join(name);
        assert_eq!(
            std::fs::read_to_string(dir.join("target/out.bin")).unwrap(),
            "built\n",
            "the template's include came into {name}"
        );
        assert!(dir.join("profile.txt").is_file());
    }
    let (_, bad) = c.call("sandbox.create", json!({ "name": "x", "template": "nope" }));
    assert_eq!(bad["error"]["data"]["exit_code"], 2, "{bad}");
    assert!(bad["error"]["data"]["hint"].is_string(), "{bad}");
    t.ok("wal", &r, &["daemon", "stop"]);
}

#[test]
fn the_socket_acts_for_many_agents_each_request_signed_by_its_own_actor() {
    let t = TestEnv::new();
    let r = api_repo(&t);
    let first = t.create(&r, "first");
    let second = t.create(&r, "second");
    let (_g, _) = start_daemon(&t, &r);
    let mut a = Client::connect(&r);
    let mut b = Client::connect(&r);
    // A's connection acts as agent-a throughout; B names its actor per request.
    let (_, hello) = a.call("session.actor", json!({ "actor": "agent-a" }));
    assert_eq!(hello["result"]["actor"], "agent-a", "{hello}");
    let (_, made) = a.call("sandbox.create", json!({ "name": "sa", "issue": first }));
    assert!(made["error"].is_null(), "{made}");
    let (_, made) = b.call(
        "sandbox.create",
        json!({ "name": "sb", "issue": second, "actor": "agent-b" }),
    );
    assert!(made["error"].is_null(), "{made}");
    let (_, ran) = a.call(
        "sandbox.exec",
        json!({ "name": "sa", "cmd": ["sh", "-c", "echo $GRIT_ACTOR > who"] }),
    );
    assert_eq!(ran["result"]["exit_code"], 0, "{ran}");
    assert_eq!(
        std::fs::read_to_string(r.join(".sandboxes/sa/who")).unwrap(),
        "agent-a\n"
    );
    let (_, bad) = b.call("sandbox.list", json!({ "actor": "../x" }));
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a valid actor label"),
        "{bad}"
    );
    let actors = t.json("wal", &r, &["actor", "list"]);
    let id_of = |label: &str| {
        actors
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["label"] == label)
            .unwrap_or_else(|| panic!("no {label}: {actors}"))["id"]
            .clone()
    };
    for (issue, label) in [(&first, "agent-a"), (&second, "agent-b")] {
        let log = t.json("wal", &r, &["log", "--issue", issue]);
        let comment = log
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "issue.comment_added")
            .unwrap_or_else(|| panic!("the sandbox's comment: {log}"));
        assert_eq!(comment["actor"], id_of(label), "{comment}");
    }
    t.ok("wal", &r, &["daemon", "stop"]);
}

/// CPU time (user + system, in clock ticks) a process has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn an_idle_watcher_sleeps_while_nothing_changes() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.create(&r, "x");
    // A watcher reads the feed when it wakes; its own reading must not wake it again.
    let mut watch = t
        .std_cmd("wal", &r)
        .args(["watch", "--no-daemon", "--json", "--since", "start"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(watch.stdout.take().unwrap());
    t.ok("issue", &r, &["comment", &id, "--body", "wake up"]);
    let mut line = String::new();
    while !line.contains("wake up") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the watcher ended");
    }
    let before = cpu_ticks(watch.id());
    // Measured over a while of nothing happening (not waited on for anything).
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(watch.id()) - before;
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(used <= 20, "an idle watcher used {used} ticks of CPU in 2 s");
}

/// `sandbox.autosync=interval:…`: the daemon merges the base branch into each idle sandbox
/// behind it; one that would conflict is left exactly as it was and marked (list and the feed
/// say so); one with uncommitted work is not touched.
#[test]
fn the_daemon_syncs_idle_sandboxes_and_marks_a_conflict_it_undid() {
    let t = TestEnv::new();
    let r = t.repo("r");
    std::fs::write(r.join("f.txt"), "one\n").unwrap();
    std::fs::write(r.join(".gitignore"), ".sandboxes/\n").unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    t.git(&r, &["config", "sandbox.root", ".sandboxes"]);
    t.ok("sandbox", &r, &["run", "calm", "--", "true"]);
    t.ok(
        "sandbox",
        &r,
        &[
            "run",
            "clash",
            "--commit",
            "theirs",
            "--sh",
            "--",
            "echo theirs > f.txt",
        ],
    );
    t.ok("sandbox", &r, &["run", "busy", "--sh", "--", "echo wip > wip.txt"]);
    let head_of = |name: &str| t.git(&r.join(".sandboxes").join(name), &["rev-parse", "HEAD"]);
    let (clash_before, busy_before) = (head_of("clash"), head_of("busy"));
    // The base moves: f.txt (which clash changed too) and a new file.
    std::fs::write(r.join("f.txt"), "main\n").unwrap();
    std::fs::write(r.join("new.txt"), "new\n").unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "main moves"]);
    let moved = t.git(&r, &["rev-parse", "HEAD"]);
    let feed = Watch::start(&t, &r, &["--no-daemon", "--kind", "sandbox"]);
    t.git(&r, &["config", "sandbox.autosync", "interval:1s"]);
    t.git(&r, &["config", "grit.daemon.syncInterval", "0"]);
    let _daemon = start_daemon(&t, &r);
    let deadline = Instant::now() + Duration::from_secs(60);
    let listed = loop {
        let l = t.json("sandbox", &r, &["list"]);
        let clash = l
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "clash")
            .unwrap()
            .clone();
        let calm_synced = t
            .wrapped("git", &r.join(".sandboxes/calm"))
            .args(["merge-base", "--is-ancestor", moved.trim(), "HEAD"])
            .status()
            .unwrap()
            .success();
        if calm_synced && clash.get("sync_conflict").is_some() {
            break l;
        }
        assert!(Instant::now() < deadline, "not synced in time: {l}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(r.join(".sandboxes/calm/new.txt").exists());
    // The conflicting one: as it was, clean, and marked.
    assert_eq!(head_of("clash"), clash_before);
    assert_eq!(t.git(&r.join(".sandboxes/clash"), &["status", "--porcelain"]), "");
    assert_eq!(
        std::fs::read_to_string(r.join(".sandboxes/clash/f.txt")).unwrap(),
        "theirs\n"
    );
    let clash = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "clash")
        .unwrap();
    assert!(clash["sync_conflict"].as_str().unwrap().contains("conflict"), "{clash}");
    assert!(
        t.ok("sandbox", &r, &["--color", "always", "list"])
            .contains("base conflicts")
    );
    // The busy one: untouched.
    assert_eq!(head_of("busy"), busy_before);
    assert_eq!(
        std::fs::read_to_string(r.join(".sandboxes/busy/wip.txt")).unwrap(),
        "wip\n"
    );
    // The feed told both.
    let steps: Vec<String> = feed
        .take(2)
        .iter()
        .map(|x| {
            format!(
                "{} {}",
                x["sandbox"]["name"].as_str().unwrap(),
                x["sandbox"]["step"].as_str().unwrap()
            )
        })
        .collect();
    for want in ["calm synced", "clash sync-conflict"] {
        assert!(steps.iter().any(|s| s == want), "{steps:?}");
    }
}
