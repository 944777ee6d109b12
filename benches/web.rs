//! Benchmarks of the web dashboard (`git issue serve`) at 10,000 issues, beside the CLI in the
//! same run:
//! - the board's first byte over HTTP against `git issue list --json` run as a process;
//! - in headless Chromium (Playwright, `benches/web_page.py`): the board's full load, the graph of
//!   200 issues with 150 links, and how long a CLI comment takes to show on the open page (p50,
//!   p99 over 50 writes);
//! - the server's CPU while idle (10 s) and its resident memory.
//!
//! `benches/run --bench web`; `GRIT_BENCH_SMALL=1` uses 1,000 issues. The browser part needs
//! `target/test-tools/mcp-venv` with Playwright and /usr/bin/chromium (`.ci/run` installs both).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{exe, generate, git, med, ms, new_repo, path_with_binaries, scratch};

fn tool(dir: &Path, name: &str) -> Command {
    let mut c = Command::new(exe(name));
    c.current_dir(dir)
        .env("PATH", path_with_binaries())
        .env("GRIT_NO_AUTO_GC", "1");
    c
}

fn ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{c:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Time to the first byte of `GET /`, and to the whole answer.
fn get(port: u16, path: &str) -> (Duration, Duration) {
    let start = Instant::now();
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut first = [0u8; 1];
    c.read_exact(&mut first).unwrap();
    let ttfb = start.elapsed();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    (ttfb, start.elapsed())
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap()
        / 1024.0
}

fn main() {
    let small = std::env::var_os("GRIT_BENCH_SMALL").is_some();
    let issues = if small { 1_000 } else { 10_000 };
    let tmp = scratch();
    let dir = new_repo(tmp.path(), "r");
    std::fs::write(dir.join("README"), "hello\n").unwrap();
    git(&dir, &["add", "README"]);
    git(&dir, &["commit", "-q", "-m", "init"]);
    generate(&dir, issues, 3_000);
    // 150 links among the 200 newest issues: chains and fans, for the graph.
    let listed: serde_json::Value = serde_json::from_str(&ok({
        let mut c = tool(&dir, "issue");
        c.args(["list", "--limit", "200", "--json"]);
        c
    }))
    .unwrap();
    let ids: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    for i in 0..150 {
        let (a, b) = (&ids[i + 50], &ids[(i * 7) % 50 + (i / 50) * 10]);
        if a != b {
            let mut c = tool(&dir, "issue");
            c.args(["link", a, "blocked-by", b]);
            let _ = c.output();
        }
    }
    let mut server = tool(&dir, "issue")
        .args(["serve", "--port", "0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let port: u16 = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    get(port, "/");
    let (mut first, mut whole, mut cli) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..21 {
        let (f, w) = get(port, "/");
        first.push(f);
        whole.push(w);
        let start = Instant::now();
        ok({
            let mut c = tool(&dir, "issue");
            c.args(["list", "--json"]);
            c
        });
        cli.push(start.elapsed());
    }
    println!(
        "board at {issues} issues: first byte {:.1} ms (ceiling 50), whole answer {:.1} ms; `git issue list --json` {:.1} ms",
        ms(med(first)),
        ms(med(whole)),
        ms(med(cli))
    );
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/mcp-venv/bin/python");
    if python.exists() && Path::new("/usr/bin/chromium").exists() {
        let out = Command::new(&python)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/web_page.py"))
            .arg(format!("http://127.0.0.1:{port}"))
            .arg("/usr/bin/chromium")
            .arg(&dir)
            .arg(&ids[60])
            .env("PATH", path_with_binaries())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        println!(
            "in Chromium: the board loads in {} ms (ceiling 300); the graph of {} issues in {} ms (ceiling 500); \
             a CLI comment shows on the open page p50 {} ms, p99 {} ms over 50 (ceiling 500)",
            v["board_ms"], v["graph_nodes"], v["graph_200_ms"], v["write_p50_ms"], v["write_p99_ms"]
        );
    } else {
        println!("skipped the browser figures: no target/test-tools/mcp-venv with Playwright, or no /usr/bin/chromium");
    }
    let pid = server.id();
    let rss = rss_mb(pid);
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(10));
    let idle = cpu_ticks(pid) - before;
    println!(
        "idle for 10 s: {:.2} s of CPU ({:.3} %); resident memory {rss:.1} MB",
        idle as f64 / 100.0,
        idle as f64 / 100.0 / 10.0 * 100.0
    );
    let _ = server.kill();
    let _ = server.wait();
}
