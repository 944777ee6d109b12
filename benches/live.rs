//! Benchmarks of the live stream and the daemon, each beside a baseline from the same run:
//! - from `git issue create` returning to the record reaching a `git wal watch --json` consumer,
//!   p50 and p99 over 1,000 events, with and without the daemon (baseline: the create itself);
//! - after a plain `git fetch` of 1,000 events, when the last reaches the consumer (baseline: the
//!   fetch itself);
//! - an idle daemon's CPU and resident memory;
//! - webhook deliveries per second to a local HTTP receiver (baseline: the same POSTs sent by
//!   `curl`-free plain HTTP from this process);
//! - `sandbox.create` over the socket against `git sandbox run --keep -- true` on the overlay
//!   backend's cached base (copy where overlay cannot mount);
//! - whether a read would gain from going through the daemon: `ready` and `show` in full against
//!   the least a routed command costs (the binary's start and one socket request).
//!
//! `benches/run --bench live`; `GRIT_BENCH_SMALL=1` runs 10x fewer events.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::{exe, git, ms, new_repo, path_with_binaries, scratch};

fn tool(name: &str, dir: &Path) -> Command {
    let mut c = Command::new(exe(name));
    c.current_dir(dir)
        .env("PATH", path_with_binaries())
        .env("GRIT_NO_AUTO_GC", "1");
    c
}

fn ok(mut c: Command) -> String {
    let out = c.output().expect("runs");
    assert!(out.status.success(), "{c:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `git wal watch --json` whose lines arrive, with the instant each was read, on a channel.
fn watch(dir: &Path, args: &[&str]) -> (Child, mpsc::Receiver<(Instant, String)>) {
    let mut child = tool("wal", dir)
        .args(["watch", "--json"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    (child, rx)
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Creates `n` issues one command at a time; returns each create's time and the latency from
/// its return to its record's arrival.
fn latencies(dir: &Path, rx: &mpsc::Receiver<(Instant, String)>, n: usize) -> (Vec<Duration>, Vec<Duration>) {
    let (mut creates, mut lat) = (Vec::new(), Vec::new());
    for i in 0..n {
        let start = Instant::now();
        ok({
            let mut c = tool("issue", dir);
            c.args(["create", "-q", "--title", &format!("live {i}")]);
            c
        });
        let done = Instant::now();
        creates.push(done - start);
        let (at, _) = rx.recv_timeout(Duration::from_secs(10)).expect("the record arrives");
        lat.push(at.saturating_duration_since(done));
    }
    (creates, lat)
}

fn main() {
    let small = std::env::var_os("GRIT_BENCH_SMALL").is_some();
    let n = if small { 100 } else { 1000 };
    let root = scratch();

    // 1. create → consumer, without and with the daemon.
    let dir = new_repo(root.path(), "latency");
    ok({
        let mut c = tool("issue", &dir);
        c.args(["create", "-q", "--title", "first"]);
        c
    });
    let (mut w, rx) = watch(&dir, &["--no-daemon"]);
    let (mut creates, mut without) = latencies(&dir, &rx, n);
    let _ = w.kill();
    ok({
        let mut c = tool("wal", &dir);
        c.args(["daemon", "start"]);
        c
    });
    let (mut w, rx) = watch(&dir, &[]);
    let (_, mut with) = latencies(&dir, &rx, n);
    let _ = w.kill();
    println!(
        "create -> watch consumer, {n} events: without the daemon p50 {:.2} ms p99 {:.2} ms (target p99 <= 200); \
         with it p50 {:.2} ms p99 {:.2} ms (target p99 <= 50); baseline: the create itself p50 {:.2} ms",
        ms(percentile(&mut without, 0.5)),
        ms(percentile(&mut without, 0.99)),
        ms(percentile(&mut with, 0.5)),
        ms(percentile(&mut with, 0.99)),
        ms(percentile(&mut creates, 0.5)),
    );

    // 3. An idle daemon: CPU over a few seconds, and its resident memory.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(".git/grit/daemon/state.json")).unwrap()).unwrap();
    let pid = state["pid"].as_u64().unwrap();
    let ticks = || -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split(' ').collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    };
    std::thread::sleep(Duration::from_secs(1));
    let (t0, c0) = (Instant::now(), ticks());
    std::thread::sleep(Duration::from_secs(if small { 2 } else { 5 }));
    let (secs, used) = (t0.elapsed().as_secs_f64(), ticks() - c0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let rss_kb: u64 = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap();
    println!(
        "idle daemon: {:.2} % CPU over {secs:.1} s (target about 0), {:.1} MB resident (target <= 20)",
        100.0 * used as f64 / hz / secs,
        rss_kb as f64 / 1024.0
    );

    // 6. Whether a read would gain from going through the daemon: what it costs in full, against
    //    what a routed one could not avoid (the process's start, and one request to the socket).
    routing(&dir, if small { 20 } else { 100 });

    // 5. sandbox.create over the socket against the CLI.
    sandboxes(&dir, if small { 5 } else { 15 });
    ok({
        let mut c = tool("wal", &dir);
        c.args(["daemon", "stop"]);
        c
    });

    // 2. A plain fetch of n events: the last one reaches the consumer after the fetch returns.
    let remote = root.path().join("remote.git");
    git(root.path(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
    let a = new_repo(root.path(), "a");
    git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    git(&a, &["push", "-q", "origin", "main"]);
    let b = root.path().join("b");
    git(
        root.path(),
        &["clone", "-q", remote.to_str().unwrap(), b.to_str().unwrap()],
    );
    for d in [&a, &b] {
        git(d, &["config", "user.name", "Bench"]);
        git(d, &["config", "user.email", "bench@example.com"]);
        ok({
            let mut c = tool("wal", d);
            c.args(["init"]);
            c
        });
    }
    ok({
        let mut c = tool("issue", &b);
        c.args(["create", "-q", "--title", "b's own"]);
        c
    });
    common::generate(&a, n, 1);
    ok({
        let mut c = tool("wal", &a);
        c.args(["push"]);
        c
    });
    let (mut w, rx) = watch(&b, &["--no-daemon"]);
    let start = Instant::now();
    let mut fetch = Command::new("git");
    fetch
        .args(["fetch", "-q"])
        .current_dir(&b)
        .env("PATH", path_with_binaries());
    assert!(fetch.status().unwrap().success());
    let fetched = Instant::now();
    let mut last = fetched;
    for _ in 0..n {
        last = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("every record arrives")
            .0;
    }
    let _ = w.kill();
    println!(
        "plain git fetch of {n} events: the last reached the consumer {:.1} ms after the fetch returned \
         (target <= 300); baseline: the fetch itself (hook and fold included) {:.1} ms",
        ms(last.saturating_duration_since(fetched)),
        ms(fetched - start)
    );

    // 4. Webhook deliveries per second.
    webhooks(root.path(), if small { 500 } else { 3000 });
}

/// A local HTTP receiver answering 200 to every POST, counting them.
fn receiver() -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let c = c.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut w = conn;
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        r.read_line(&mut line).unwrap();
                        if line.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                    c.fetch_add(1, Ordering::Relaxed);
                    if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, count)
}

fn webhooks(root: &Path, n: usize) {
    let (url, count) = receiver();
    let dir = new_repo(root, "webhooks");
    git(&dir, &["config", "grit.webhook.bench.url", &url]);
    git(&dir, &["config", "grit.webhook.bench.secret", "s"]);
    ok({
        let mut c = tool("issue", &dir);
        c.args(["create", "-q", "--title", "first"]);
        c
    });
    // The webhook takes its place at the end of the feed, then n events arrive.
    ok({
        let mut c = tool("wal", &dir);
        c.args(["webhook", "deliver"]);
        c
    });
    ok({
        let mut c = tool("issue", &dir);
        c.args(["create", "-q", "--title", "one more"]);
        c
    });
    let file = root.join("export.jsonl");
    // n events of one import: a file of n issues.
    let lines: Vec<String> = (0..n)
        .map(|i| {
            serde_json::json!({ "number": i + 1, "title": format!("hook {i}"), "body": "", "state": "OPEN",
                "labels": [], "assignees": [], "author": {"login": "octo"}, "comments": [],
                "createdAt": "2024-03-01T10:00:00Z", "closedAt": null,
                "url": format!("https://github.com/acme/widgets/issues/{}", i + 1) })
            .to_string()
        })
        .collect();
    std::fs::write(&file, format!("[{}]", lines.join(","))).unwrap();
    ok({
        let mut c = tool("issue", &dir);
        c.args(["import", file.to_str().unwrap(), "--from", "github"]);
        c
    });
    let before = count.load(Ordering::Relaxed);
    let start = Instant::now();
    let out = ok({
        let mut c = tool("wal", &dir);
        c.args(["webhook", "deliver", "--json"]);
        c
    });
    let took = start.elapsed();
    let delivered = count.load(Ordering::Relaxed) - before;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["parked"], 0, "{v}");
    // Baseline: the same number of POSTs of a similar body on one kept-alive connection.
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let body = vec![b'x'; 900];
    let b0 = Instant::now();
    for _ in 0..delivered {
        agent.post(&url).send(&body[..]).unwrap();
    }
    let base = b0.elapsed();
    println!(
        "webhooks: {delivered} deliveries in {:.0} ms = {:.0}/s (target >= 1000/s); baseline: the same POSTs \
         from one loop {:.0}/s",
        ms(took),
        delivered as f64 / took.as_secs_f64(),
        delivered as f64 / base.as_secs_f64()
    );
}

/// `git issue ready --json` and `git issue show --json` against the least a command routed
/// through the daemon would cost: the same binary's start (`--version`) plus one request (the
/// daemon's `status`, which does nothing) from a process already running. Medians over `runs`,
/// the kinds alternating.
fn routing(dir: &Path, runs: usize) {
    let id = ok({
        let mut c = tool("issue", dir);
        c.args(["list", "--json", "--fields", "short_id", "-L", "1"]);
        c
    });
    let id: serde_json::Value = serde_json::from_str(&id).unwrap();
    let id = id[0]["short_id"].as_str().unwrap().to_owned();
    let time = |args: &[&str]| {
        let start = Instant::now();
        ok({
            let mut c = tool("issue", dir);
            c.args(args);
            c
        });
        start.elapsed()
    };
    let (mut ready, mut show, mut start, mut request) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        ready.push(time(&["ready", "--json"]));
        show.push(time(&["show", &id, "--json"]));
        start.push(time(&["--version"]));
        let t = Instant::now();
        call(dir, "status", serde_json::json!({}));
        request.push(t.elapsed());
    }
    let floor = ms(percentile(&mut start, 0.5)) + ms(percentile(&mut request, 0.5));
    println!(
        "routing reads through the daemon: `ready --json` {:.2} ms and `show --json` {:.2} ms in full; \
         a routed command could cost no less than {floor:.2} ms (the binary's start {:.2} ms, one socket request {:.2} ms), \
         before the daemon's own query",
        ms(percentile(&mut ready, 0.5)),
        ms(percentile(&mut show, 0.5)),
        ms(percentile(&mut start, 0.5)),
        ms(percentile(&mut request, 0.5)),
    );
}

/// Calls the daemon: one request, its answer.
fn call(dir: &Path, method: &str, params: serde_json::Value) -> serde_json::Value {
    let s = UnixStream::connect(dir.join(".git/grit/daemon.sock")).unwrap();
    let mut w = s.try_clone().unwrap();
    writeln!(
        w,
        "{}",
        serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params })
    )
    .unwrap();
    let mut r = BufReader::new(s);
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["id"] == 1 {
            assert!(v.get("error").is_none(), "{v}");
            return v["result"].clone();
        }
    }
}

fn sandboxes(dir: &Path, runs: usize) {
    // A tree worth carrying: 2,000 small files, half of them ignored build output.
    for d in 0..20 {
        let src = dir.join(format!("src/m{d}"));
        let out = dir.join(format!("target/m{d}"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        for f in 0..50 {
            std::fs::write(src.join(format!("f{f}.rs")), format!("fn f{f}() {{}}\n")).unwrap();
            std::fs::write(out.join(format!("o{f}")), [d as u8; 512]).unwrap();
        }
    }
    std::fs::write(dir.join(".gitignore"), "target/\n").unwrap();
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "tree"]);
    let backend = if overlay_works(dir) { "overlay" } else { "copy" };
    git(dir, &["config", "sandbox.backend", backend]);
    // Warm the overlay's base layer once.
    ok({
        let mut c = tool("sandbox", dir);
        c.args(["run", "warm", "--keep", "--", "true"]);
        c
    });
    let (mut cli, mut api) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let name = format!("c{i}");
        let start = Instant::now();
        ok({
            let mut c = tool("sandbox", dir);
            c.args(["run", &name, "--keep", "--", "true"]);
            c
        });
        cli.push(start.elapsed());
        let name = format!("a{i}");
        let start = Instant::now();
        call(dir, "sandbox.create", serde_json::json!({ "name": name }));
        call(
            dir,
            "sandbox.exec",
            serde_json::json!({ "name": name, "cmd": ["true"] }),
        );
        api.push(start.elapsed());
    }
    let (c, a) = (common::med(cli), common::med(api));
    println!(
        "sandbox.create + exec over the socket ({backend}, cached base): {:.1} ms, against `git sandbox run --keep -- true` \
         {:.1} ms: {:.2}x (target <= 1.2x)",
        ms(a),
        ms(c),
        a.as_secs_f64() / c.as_secs_f64()
    );
    for i in 0..runs {
        for n in [format!("c{i}"), format!("a{i}")] {
            let _ = tool("sandbox", dir).args(["rm", &n, "--force"]).output();
        }
    }
}

fn overlay_works(dir: &Path) -> bool {
    let out = tool("sandbox", dir)
        .args(["run", "probe", "--backend", "overlay", "--keep", "--json", "--", "true"])
        .output()
        .unwrap();
    let works = out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("using a copy instead");
    let _ = tool("sandbox", dir).args(["rm", "probe", "--force"]).output();
    works
}
