//! The daemon's protocol: JSON-RPC 2.0 over its Unix socket, one message per line
//! (`docs/protocol.md`). Subscriptions (`subscribe`, `unsubscribe`) stream the feed as `record`
//! notifications; the sandbox lifecycle methods run the same functions as `git sandbox`.
//! A request that is not valid JSON-RPC gets a JSON-RPC error, never a crash.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::daemon::Shared;
use super::{Filter, Since, Stream};
use crate::cli::CommandError;
use crate::cli::sandbox as cli_sandbox;
use crate::sandbox::{self, Backend, Main, Spec};
use crate::store::Store;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
/// A method that ran and failed; `data` holds the hint and the exit code the CLI would give.
pub const FAILED: i64 = -32000;

/// The longest request line taken (a sandbox.exec's environment may be large, not more).
const MAX_LINE: usize = 1 << 20;

type Writer = Arc<Mutex<UnixStream>>;

/// A JSON-RPC error object.
#[derive(Debug)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    fn params(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_PARAMS, message)
    }
}

impl From<CommandError> for RpcError {
    fn from(e: CommandError) -> Self {
        let message = if e.message.is_empty() {
            format!("failed with exit code {}", e.code)
        } else {
            e.message
        };
        RpcError {
            code: FAILED,
            message,
            data: Some(json!({ "exit_code": e.code, "hint": e.hints.first(), "causes": e.causes })),
        }
    }
}

impl From<crate::Error> for RpcError {
    fn from(e: crate::Error) -> Self {
        CommandError::from(e).into()
    }
}

fn send(w: &Writer, v: &Value) -> bool {
    let mut line = serde_json::to_vec(v).expect("serialises");
    line.push(b'\n');
    let mut s = w.lock().unwrap_or_else(|p| p.into_inner());
    s.write_all(&line).is_ok()
}

fn reply(w: &Writer, id: &Value, result: Result<Value, RpcError>) -> bool {
    send(
        w,
        &match result {
            Ok(r) => json!({ "jsonrpc": "2.0", "id": id, "result": r }),
            Err(e) => {
                let mut err = json!({ "code": e.code, "message": e.message });
                if let Some(d) = e.data {
                    err["data"] = d;
                }
                json!({ "jsonrpc": "2.0", "id": id, "error": err })
            }
        },
    )
}

/// One connection's subscriptions.
struct Session {
    shared: Arc<Shared>,
    writer: Writer,
    conn: UnixStream,
    subscriptions: Vec<(u64, Arc<AtomicBool>)>,
    next: u64,
    /// Set once the answer to `subscribe` is out: its records may follow.
    answered: Option<Arc<AtomicBool>>,
}

/// Serves one client until it disconnects.
pub fn serve(shared: &Arc<Shared>, conn: UnixStream) {
    let (Ok(w), Ok(peek)) = (conn.try_clone(), conn.try_clone()) else {
        return;
    };
    let mut session = Session {
        shared: shared.clone(),
        writer: Arc::new(Mutex::new(w)),
        conn: peek,
        subscriptions: Vec::new(),
        next: 1,
        answered: None,
    };
    // A line begun must end within the read timeout, and a client without a subscription may
    // not sit idle past it either: stalled connections would hold a thread each and keep the
    // daemon from its idle exit.
    let _ = conn.set_read_timeout(Some(shared.read_timeout));
    let mut reader = BufReader::new(conn);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
                    && line.is_empty()
                    && !session.subscriptions.is_empty() =>
            {
                continue;
            }
            Err(_) => break,
        }
        if line.len() > MAX_LINE {
            reply(
                &session.writer,
                &Value::Null,
                Err(RpcError::new(INVALID_REQUEST, "the request is longer than 1 MiB")),
            );
            break;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        shared.touch();
        if !session.handle(&line) || shared.stopping.load(Ordering::Relaxed) {
            break;
        }
    }
    for (_, stop) in &session.subscriptions {
        stop.store(true, Ordering::SeqCst);
    }
    shared.bump();
}

impl Session {
    /// Handles one message; false when the connection should close.
    fn handle(&mut self, line: &[u8]) -> bool {
        let msg: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => {
                return reply(
                    &self.writer,
                    &Value::Null,
                    Err(RpcError::new(PARSE_ERROR, format!("not JSON: {e}"))),
                );
            }
        };
        let id = msg.get("id").cloned();
        let invalid = |why: &str| Err(RpcError::new(INVALID_REQUEST, why.to_owned()));
        let checked = match &msg {
            Value::Array(_) => invalid("batches are not supported: send one request per line"),
            Value::Object(o) if o.get("jsonrpc") != Some(&json!("2.0")) => invalid("\"jsonrpc\" must be \"2.0\""),
            Value::Object(o) => match o.get("method").and_then(Value::as_str) {
                None => invalid("\"method\" must be a string"),
                Some(_)
                    if id
                        .as_ref()
                        .is_some_and(|i| !(i.is_string() || i.is_number() || i.is_null())) =>
                {
                    invalid("\"id\" must be a string, a number or null")
                }
                Some(_) => match o.get("params") {
                    None | Some(Value::Object(_)) => Ok(()),
                    Some(_) => Err(RpcError::params("\"params\" must be an object")),
                },
            },
            _ => invalid("a request is a JSON object"),
        };
        if let Err(e) = checked {
            return reply(&self.writer, &id.unwrap_or(Value::Null), Err(e));
        }
        let method = msg["method"].as_str().unwrap_or_default().to_owned();
        let params = msg.get("params").cloned().unwrap_or_else(|| json!({}));
        let id_or_null = id.clone().unwrap_or(Value::Null);
        let result = match method.as_str() {
            "status" => Ok(self.shared.status()),
            "subscribe" => self.subscribe(&params),
            "unsubscribe" => self.unsubscribe(&params),
            "daemon.stop" => {
                reply(&self.writer, &id_or_null, Ok(json!(true)));
                self.shared.log("asked to stop");
                self.shared.stop();
                return false;
            }
            "sandbox.create" => self.sandbox_create(&params),
            "sandbox.list" => self.main().and_then(|m| Ok(cli_sandbox::list_json(&m)?)),
            "sandbox.exec" => self.sandbox_exec(&id_or_null, &params),
            "sandbox.diff" => self.sandbox_diff(&params),
            "sandbox.commit" => self.sandbox_commit(&params),
            "sandbox.remove" => self.sandbox_remove(&params),
            "sandbox.land" => self.sandbox_land(&params),
            other => Err(RpcError::new(METHOD_NOT_FOUND, format!("no method '{other}'"))),
        };
        // A notification (no id) gets no answer, not even an error.
        let ok = id.is_none() || reply(&self.writer, &id_or_null, result);
        if let Some(go) = self.answered.take() {
            go.store(true, Ordering::Release);
        }
        ok
    }

    fn subscribe(&mut self, p: &Value) -> Result<Value, RpcError> {
        let repo = crate::repo::Repo::discover(&self.shared.dir)?;
        let query = opt_str(p, "query")?
            .map(|q| {
                crate::query::parse(q, crate::repo::now_ms())
                    .map_err(|e| RpcError::params(format!("query: {} (at column {})", e.message, e.column + 1)))
            })
            .transpose()?;
        let kinds = match p.get("kinds") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => {
                let list: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                if list.len() != a.len() {
                    return Err(RpcError::params("\"kinds\" must be an array of strings"));
                }
                Filter::parse_kinds(&list.join(",")).map_err(|e| RpcError::params(e.to_string()))?
            }
            Some(_) => return Err(RpcError::params("\"kinds\" must be an array of strings")),
        };
        let since = match opt_str(p, "since")? {
            None => Since::Now,
            Some(s) => Since::parse(s).map_err(|e| RpcError::params(e.to_string()))?,
        };
        let (mut stream, warning) = Stream::open(&repo, &since)?;
        let filter = Filter { query, kinds };
        let sub = self.next;
        self.next += 1;
        let stop = Arc::new(AtomicBool::new(false));
        self.subscriptions.push((sub, stop.clone()));
        let result = json!({ "subscription": sub, "cursor": stream.cursor().to_string(), "warning": warning });
        let (shared, writer) = (self.shared.clone(), self.writer.clone());
        // The answer goes out before the first record: the thread starts after a short handoff.
        let ready = Arc::new(AtomicBool::new(false));
        let go = ready.clone();
        std::thread::Builder::new()
            .name(format!("subscription {sub}"))
            .spawn(move || {
                while !go.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_micros(200));
                }
                shared.subscriptions.fetch_add(1, Ordering::SeqCst);
                let store = match Store::open(&shared.dir) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        shared.log(format!("subscription {sub}: {e}"));
                        None
                    }
                };
                while let Some(store) = &store {
                    if stop.load(Ordering::Relaxed) || shared.stopping.load(Ordering::Relaxed) {
                        break;
                    }
                    let seen = shared.generation();
                    match stream.poll(store, &filter, 1 << 20) {
                        Ok(items) if !items.is_empty() => {
                            for item in items {
                                let n = json!({
                                    "jsonrpc": "2.0",
                                    "method": "record",
                                    "params": { "subscription": sub, "record": item.record },
                                });
                                if !send(&writer, &n) {
                                    stop.store(true, Ordering::SeqCst);
                                    break;
                                }
                            }
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => shared.log(format!("subscription {sub}: {e}")),
                    }
                    shared.wait_past(seen, Duration::from_secs(30));
                }
                shared.subscriptions.fetch_sub(1, Ordering::SeqCst);
            })
            .map_err(|e| RpcError::new(FAILED, format!("cannot start the subscription: {e}")))?;
        // The caller sends the answer, then lets the thread go.
        self.answered = Some(ready);
        Ok(result)
    }

    fn unsubscribe(&mut self, p: &Value) -> Result<Value, RpcError> {
        let sub = p
            .get("subscription")
            .and_then(Value::as_u64)
            .ok_or_else(|| RpcError::params("\"subscription\" must be the number `subscribe` returned"))?;
        let Some(i) = self.subscriptions.iter().position(|(s, _)| *s == sub) else {
            return Ok(json!(false));
        };
        let (_, stop) = self.subscriptions.remove(i);
        stop.store(true, Ordering::SeqCst);
        self.shared.bump();
        Ok(json!(true))
    }

    fn main(&self) -> Result<Main, RpcError> {
        Ok(Main::discover(&self.shared.dir)?)
    }

    fn ui(&self) -> crate::cli::Ui {
        crate::cli::Ui::new(&crate::cli::GlobalArgs {
            dir: Some(self.shared.dir.clone()),
            json: true,
            quiet: true,
            color: crate::cli::ColorChoice::Never,
        })
    }

    /// Whether the client hung up (a read would return end-of-file).
    fn gone(&self) -> bool {
        let mut b = [0u8; 1];
        // SAFETY: a non-blocking peek into a one-byte buffer this function owns.
        let n = unsafe {
            libc::recv(
                self.conn.as_raw_fd(),
                b.as_mut_ptr().cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n == 0
    }

    fn sandbox_create(&self, p: &Value) -> Result<Value, RpcError> {
        let main = self.main()?;
        let name = req_str(p, "name")?.to_owned();
        let backend = match opt_str(p, "backend")?
            .map(str::to_owned)
            .or_else(|| main.repo.config_string("sandbox.backend"))
        {
            Some(b) => Backend::parse(&b)?,
            None => Backend::Auto,
        };
        let (backend, _) = sandbox::resolve_backend(&main, backend, &main.root());
        let spec = Spec {
            name: name.clone(),
            base: opt_str(p, "base")?.map(str::to_owned),
            clean: p.get("clean").and_then(Value::as_bool).unwrap_or(false),
            excludes: str_list(p, "exclude")?,
            includes: str_list(p, "include")?,
            backend,
            issue: None,
            locks: Vec::new(),
        };
        let locks = str_list(p, "lock")?;
        let ui = self.ui();
        // A client that hangs up mid-creation gets it rolled back, as Ctrl-C would.
        let last_check = Mutex::new(Instant::now());
        let stop = || {
            let mut t = last_check.lock().unwrap_or_else(|p| p.into_inner());
            if t.elapsed() < Duration::from_millis(5) {
                return None;
            }
            *t = Instant::now();
            self.gone().then_some(libc::SIGHUP)
        };
        let record = cli_sandbox::make(&ui, &main, spec, opt_str(p, "issue")?, &locks, &stop, &|_, _| {})?;
        // Nobody is left to be told of it, or to use it: it goes, as if never made.
        if self.gone() {
            self.shared
                .log(format!("sandbox.create {}: the client left; removing it", record.name));
            cli_sandbox::remove_checked(&ui, &main, &record.name, true, true)?;
            let _ = sandbox::leases::release(&main, &record.locks);
            return Err(RpcError::new(FAILED, "the client disconnected"));
        }
        Ok(serde_json::to_value(&record).expect("serialises"))
    }

    fn sandbox_exec(&self, id: &Value, p: &Value) -> Result<Value, RpcError> {
        let main = self.main()?;
        let r = cli_sandbox::find_ready(&main, req_str(p, "name")?)?;
        let cmd = str_list(p, "cmd")?;
        if cmd.is_empty() {
            return Err(RpcError::params("\"cmd\" must be a non-empty array of strings"));
        }
        let sh = p.get("sh").and_then(Value::as_bool).unwrap_or(false);
        let env: Vec<(String, String)> = match p.get("env") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(o)) => o
                .iter()
                .map(|(k, v)| match v.as_str() {
                    Some(v) => Ok((k.clone(), v.to_owned())),
                    None => Err(RpcError::params("\"env\" values must be strings")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(RpcError::params("\"env\" must be an object of strings")),
        };
        // The same rules as the CLI's exec: sandbox.isolate (or "isolate": true) isolates, and
        // what cannot be isolated is refused, never run bare; sandbox.autosync syncs first.
        let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
        let allow: Vec<std::path::PathBuf> = str_list(p, "allow")?.into_iter().map(Into::into).collect();
        let (iso, _) = sandbox::isolate::resolve(&main, flag("isolate"), flag("net"), &allow)?;
        cli_sandbox::autosync(&mut self.ui(), &main, &r)?;
        let line = cli_sandbox::argv(&r.path, &cmd, sh, iso.as_ref())?;
        // The sandbox's short leases are renewed while the command runs.
        let _renewer = sandbox::leases::Renewer::start(&main, &r.locks);
        let start = Instant::now();
        let started_at = crate::repo::format_time(crate::repo::now_ms());
        let configured = iso.as_ref().map(|_| sandbox::isolate::configured_env(&main));
        let mut child = cli_sandbox::command_in(&r.path, &line, &env, configured.as_deref())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| RpcError::new(FAILED, format!("cannot run {}: {e}", cmd[0])))?;
        let pumps: Vec<_> = [
            (
                "stdout",
                child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
            ),
            (
                "stderr",
                child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
            ),
        ]
        .into_iter()
        .filter_map(|(name, r)| r.map(|r| (name, r)))
        .map(|(name, mut r)| {
            let (w, id) = (self.writer.clone(), id.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 16 << 10];
                while let Ok(n) = r.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    send(
                        &w,
                        &json!({
                            "jsonrpc": "2.0",
                            "method": "sandbox.output",
                            "params": { "exec": id, "stream": name, "data": String::from_utf8_lossy(&buf[..n]) },
                        }),
                    );
                }
            })
        })
        .collect();
        let status = child
            .wait()
            .map_err(|e| RpcError::new(FAILED, format!("waiting for {}: {e}", cmd[0])))?;
        for p in pumps {
            let _ = p.join();
        }
        use std::os::unix::process::ExitStatusExt;
        let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        let duration_ms = start.elapsed().as_millis() as u64;
        sandbox::runs::record(
            &main,
            &r.name,
            sandbox::runs::Run {
                cmd,
                sh,
                env,
                exit_code: code,
                started_at,
                duration_ms,
                isolation: iso.as_ref().map_or("none", |i| i.with.name()).into(),
                isolate: iso.clone(),
            },
        )?;
        Ok(json!({
            "name": r.name,
            "exit_code": code,
            "duration_ms": duration_ms,
            "isolation": iso.as_ref().map_or("none", |i| i.with.name()),
        }))
    }

    fn sandbox_diff(&self, p: &Value) -> Result<Value, RpcError> {
        let main = self.main()?;
        let r = cli_sandbox::find_ready(&main, req_str(p, "name")?)?;
        let (from, to) = cli_sandbox::diff_trees(&r)?;
        let files = cli_sandbox::diff_files(&r, &from, &to)?;
        let mut out = json!({ "name": r.name, "files": files });
        if p.get("patch").and_then(Value::as_bool).unwrap_or(false) {
            out["patch"] = json!(sandbox::git_in(&r.path, &["diff", "--no-color", &from, &to])?);
        }
        Ok(out)
    }

    fn sandbox_commit(&self, p: &Value) -> Result<Value, RpcError> {
        let main = self.main()?;
        let r = cli_sandbox::find_ready(&main, req_str(p, "name")?)?;
        let message = req_str(p, "message")?;
        let carried = p.get("include_carried").and_then(Value::as_bool).unwrap_or(false);
        let c = sandbox::commit_work(&main, &r, message, carried)?;
        let keep = p.get("keep_locks").and_then(Value::as_bool).unwrap_or(false);
        if c.is_some() && !keep {
            let released = sandbox::leases::release_for(&main, &r.name, &r.locks)?;
            if !released.ok() {
                return Err(sandbox::leases::failure(&format!("committed sandbox {}", r.name), &released).into());
            }
        }
        Ok(json!({ "name": r.name, "branch": r.branch, "commit": c }))
    }

    fn sandbox_land(&self, p: &Value) -> Result<Value, RpcError> {
        let main = self.main()?;
        let r = cli_sandbox::find_ready(&main, req_str(p, "name")?)?;
        let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
        let mut opts = sandbox::land::LandOptions::new(&main);
        if flag("rebase") {
            opts.strategy = sandbox::land::Strategy::Rebase;
        }
        opts.remote = opt_str(p, "remote")?.map(str::to_owned);
        let landed = sandbox::land::land(&main, &r, &opts)?;
        let mut out = serde_json::to_value(&landed).expect("serialises");
        if !flag("keep_locks") {
            let released = sandbox::leases::release_for(&main, &r.name, &r.locks)?;
            if !released.ok() {
                return Err(sandbox::leases::failure(&format!("landed sandbox {}", r.name), &released).into());
            }
            out["released"] = json!(released.released);
        }
        Ok(out)
    }

    fn sandbox_remove(&self, p: &Value) -> Result<Value, RpcError> {
        let main = self.main()?;
        let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
        let name = req_str(p, "name")?;
        let (r, kept) = cli_sandbox::remove_checked(&self.ui(), &main, name, flag("force"), flag("delete_branch"))?;
        if !flag("keep_locks") {
            let released = sandbox::leases::release(&main, &r.locks)?;
            if !released.ok() {
                return Err(sandbox::leases::failure(&format!("removed sandbox {}", r.name), &released).into());
            }
        }
        Ok(json!({ "removed": r.name, "branch": r.branch, "branch_kept": kept }))
    }
}

fn opt_str<'a>(p: &'a Value, key: &str) -> Result<Option<&'a str>, RpcError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(RpcError::params(format!("\"{key}\" must be a string"))),
    }
}

fn req_str<'a>(p: &'a Value, key: &str) -> Result<&'a str, RpcError> {
    opt_str(p, key)?.ok_or_else(|| RpcError::params(format!("\"{key}\" is required")))
}

fn str_list(p: &Value, key: &str) -> Result<Vec<String>, RpcError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| RpcError::params(format!("\"{key}\" must be an array of strings")))
            })
            .collect(),
        Some(_) => Err(RpcError::params(format!("\"{key}\" must be an array of strings"))),
    }
}
