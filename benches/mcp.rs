//! Benchmarks of the MCP server (`git wal mcp` over stdio), each beside the CLI in the same run:
//! - `tools/call ready` at 10,000 issues against `git issue ready --json` run as a process;
//! - `claim_next` + `sandbox_create` + `sandbox_exec true` against `git issue claim --next` and
//!   `git sandbox run NAME --keep -- true` (create and run in one process);
//! - the server's CPU while idle (10 s) and its resident memory after the work.
//!
//! `benches/run --bench mcp`; `GRIT_BENCH_SMALL=1` uses 1,000 issues.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::{exe, generate, git, med, ms, new_repo, path_with_binaries, scratch};
use serde_json::{Value, json};

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut child = Command::new(exe("wal"))
            .args(["mcp"])
            .current_dir(dir)
            .env("PATH", path_with_binaries())
            .env("GRIT_NO_AUTO_GC", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut s = Server {
            child,
            stdin,
            stdout,
            next: 1,
        };
        s.request(
            "initialize",
            json!({ "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "bench", "version": "1" } }),
        );
        writeln!(
            s.stdin,
            "{}",
            json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })
        )
        .unwrap();
        s
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        writeln!(
            self.stdin,
            "{}",
            json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
        )
        .unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            assert!(self.stdout.read_line(&mut line).unwrap() > 0, "the server ended");
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == json!(id) {
                return v;
            }
        }
    }

    fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({ "name": tool, "arguments": args }));
        assert_eq!(r["result"]["isError"], json!(false), "{tool}: {r}");
        r["result"]["structuredContent"].clone()
    }

    /// utime + stime, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(dir: &Path, tool: &str, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new(exe(tool))
        .args(args)
        .current_dir(dir)
        .env("PATH", path_with_binaries())
        .env("GRIT_NO_AUTO_GC", "1")
        .output()
        .unwrap();
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
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
    // The index is built once, before anything is timed.
    cli(&dir, "issue", &["ready", "--limit", "10", "--json"]);
    let mut server = Server::start(&dir);
    server.call("ready", json!({ "limit": 10 }));

    let runs = 31;
    let (mut over_mcp, mut as_process) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        let r = server.call("ready", json!({ "limit": 10 }));
        over_mcp.push(start.elapsed());
        assert_eq!(r["issues"].as_array().unwrap().len(), 10);
        as_process.push(cli(&dir, "issue", &["ready", "--limit", "10", "--json"]));
    }
    let (m, p) = (med(over_mcp), med(as_process));
    println!(
        "ready at {issues} issues: tools/call {:.2} ms, `git issue ready --json` {:.2} ms: {:.2}x (ceiling 1.5x)",
        ms(m),
        ms(p),
        m.as_secs_f64() / p.as_secs_f64()
    );

    let loops = 10;
    let (mut over_mcp, mut as_process) = (Vec::new(), Vec::new());
    for i in 0..loops {
        let start = Instant::now();
        let claimed = server.call("claim_next", json!({}));
        server.call(
            "sandbox_create",
            json!({ "name": format!("m{i}"), "issue": claimed["id"] }),
        );
        let ran = server.call("sandbox_exec", json!({ "name": format!("m{i}"), "command": ["true"] }));
        over_mcp.push(start.elapsed());
        assert_eq!(ran["exit_code"], 0);
        let name = format!("c{i}");
        as_process.push(
            cli(&dir, "issue", &["claim", "--next", "--json"])
                + cli(&dir, "sandbox", &["run", &name, "--keep", "--", "true"]),
        );
    }
    let (m, p) = (med(over_mcp), med(as_process));
    println!(
        "claim_next + sandbox create + exec true: over MCP {:.1} ms, CLI {:.1} ms: {:.2}x (ceiling 1.2x)",
        ms(m),
        ms(p),
        m.as_secs_f64() / p.as_secs_f64()
    );

    let rss = server.rss_kib();
    let before = server.cpu_ticks();
    std::thread::sleep(Duration::from_secs(10));
    let idle = server.cpu_ticks() - before;
    let hz = 100.0;
    println!(
        "idle for 10 s: {:.2} s of CPU ({:.3} %); resident memory {:.1} MB at {issues} issues (ceiling 30 MB)",
        idle as f64 / hz,
        idle as f64 / hz / 10.0 * 100.0,
        rss as f64 / 1024.0
    );
}
