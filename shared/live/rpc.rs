//! The daemon's protocol: JSON-RPC 2.0 over its Unix socket, one message per line
//! (`docs/protocol.md`). Subscriptions (`subscribe`, `unsubscribe`) stream the feed as `record`
//! notifications; the sandbox lifecycle methods run the same functions as `git sandbox`.
//! A request that is not valid JSON-RPC gets a JSON-RPC error, never a crash.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::daemon::Shared;
use super::{Filter, Since, Stream};
use crate::ops::Sandboxes;
use crate::ops::sandboxes::{CreateRequest, Exec, Output};
use crate::sandbox;
use crate::store::Store;

/// JSON-RPC: the request is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: the request is not a request.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC: no such method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC: the parameters do not fit the method.
pub const INVALID_PARAMS: i64 = -32602;
/// A method that ran and failed; `data` holds the hint and the exit code the CLI would give.
pub const FAILED: i64 = -32000;

/// The longest request line taken (a sandbox.exec's environment may be large, not more).
const MAX_LINE: usize = 1 << 20;

type Writer = Arc<Mutex<UnixStream>>;

/// A JSON-RPC error object.
#[derive(Debug)]
pub struct RpcError {
    /// The JSON-RPC error code.
    pub code: i64,
    /// What went wrong.
    pub message: String,
    /// More: the hint and exit code, for a method that failed.
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

impl From<crate::Error> for RpcError {
    fn from(e: crate::Error) -> Self {
        RpcError {
            code: FAILED,
            message: e.to_string(),
            data: Some(json!({ "exit_code": e.exit_code(), "hint": e.hints().first(), "causes": e.causes() })),
        }
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
    /// The actor this connection acts as (`session.actor`).
    actor: Option<String>,
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
        actor: None,
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
        // The actor a request acts as: its own "actor", else the session's (`session.actor`),
        // else the daemon's. Its writes are signed with that actor's key.
        let actor = match params.get("actor") {
            None | Some(Value::Null) => self.actor.clone(),
            Some(Value::String(a)) => Some(a.clone()),
            Some(_) => {
                return reply(
                    &self.writer,
                    &id_or_null,
                    Err(RpcError::params("\"actor\" must be a label")),
                );
            }
        };
        if method == "daemon.stop" {
            reply(&self.writer, &id_or_null, Ok(json!(true)));
            self.shared.log("asked to stop");
            self.shared.stop();
            return false;
        }
        let result = match &actor {
            Some(a) => crate::actor::acting_as(a, || self.dispatch(&method, &params, &id_or_null, Some(a)))
                .unwrap_or_else(|e| Err(e.into())),
            None => self.dispatch(&method, &params, &id_or_null, None),
        };
        if method == "session.actor" && result.is_ok() {
            self.actor = actor;
        }
        // A notification (no id) gets no answer, not even an error.
        let ok = id.is_none() || reply(&self.writer, &id_or_null, result);
        if let Some(go) = self.answered.take() {
            go.store(true, Ordering::Release);
        }
        ok
    }

    /// Runs one method, as the thread's actor.
    fn dispatch(&mut self, method: &str, params: &Value, id: &Value, actor: Option<&str>) -> Result<Value, RpcError> {
        let id_or_null = id;
        match method {
            "status" => Ok(self.shared.status()),
            // Every later request of this connection acts as this actor (made on first use).
            "session.actor" => match actor {
                None => Err(RpcError::params("\"actor\" names the label to act as")),
                Some(_) => {
                    let repo = crate::repo::Repo::discover(&self.shared.dir)?;
                    let a = crate::actor::current(&repo)?;
                    Ok(json!({ "actor": a.label, "id": a.id().to_hex() }))
                }
            },
            "subscribe" => self.subscribe(params),
            "unsubscribe" => self.unsubscribe(params),
            "sandbox.create" => self.sandbox_create(params),
            "sandbox.list" => self
                .sandboxes()
                .and_then(|s| Ok(serde_json::to_value(s.list()?).expect("serialises"))),
            "sandbox.exec" => self.sandbox_exec(id_or_null, params, actor),
            "sandbox.diff" => self.sandbox_diff(params),
            "sandbox.commit" => self.sandbox_commit(params),
            "sandbox.remove" => self.sandbox_remove(params),
            "sandbox.land" => self.sandbox_land(params),
            other => Err(RpcError::new(METHOD_NOT_FOUND, format!("no method '{other}'"))),
        }
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

    fn sandboxes(&self) -> Result<Sandboxes<'static>, RpcError> {
        Ok(Sandboxes::open(&self.shared.dir)?)
    }

    /// Whether the client hung up (a read would return end-of-file).
    fn gone(&self) -> bool {
        crate::sys::peer_closed(&self.conn)
    }

    fn sandbox_create(&self, p: &Value) -> Result<Value, RpcError> {
        let ops = self.sandboxes()?;
        // The same request a `git sandbox run` makes: templates (`"template"`, else
        // sandbox.defaultTemplate) and sandbox.* config apply.
        let mut req = CreateRequest::named(req_str(p, "name")?);
        req.base = opt_str(p, "base")?.map(str::to_owned);
        req.clean = p.get("clean").and_then(Value::as_bool).unwrap_or(false);
        req.excludes = str_list(p, "exclude")?;
        req.template = opt_str(p, "template")?.map(str::to_owned);
        req.backend = opt_str(p, "backend")?.map(str::to_owned);
        req.on = opt_str(p, "on")?.map(str::to_owned);
        req.issue = opt_str(p, "issue")?.map(str::to_owned);
        req.locks = str_list(p, "lock")?;
        let mut resolved = ops.resolve(&req)?;
        // An include list is the template's; a request may add to it.
        resolved.spec.includes.extend(str_list(p, "include")?);
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
        let mut warnings = resolved.notes.clone();
        let made = ops.make(
            resolved.spec,
            req.issue.as_deref(),
            &req.locks,
            &stop,
            &|_, _| {},
            &mut warnings,
        );
        for w in &warnings {
            self.shared.log(format!("sandbox.create {}: {w}", req.name));
        }
        let record = match made {
            Ok(r) => r,
            Err(sandbox::Stopped::Interrupted(_)) => return Err(RpcError::new(FAILED, "the client disconnected")),
            Err(sandbox::Stopped::Failed(e)) => return Err(e.into()),
        };
        // Nobody is left to be told of it, or to use it: it goes, as if never made.
        if self.gone() {
            self.shared
                .log(format!("sandbox.create {}: the client left; removing it", record.name));
            ops.remove(&record.name, true, true, false)?;
            return Err(RpcError::new(FAILED, "the client disconnected"));
        }
        let mut out = serde_json::to_value(&record).expect("serialises");
        out["warnings"] = json!(warnings);
        Ok(out)
    }

    fn sandbox_exec(&self, id: &Value, p: &Value, actor: Option<&str>) -> Result<Value, RpcError> {
        let ops = self.sandboxes()?;
        let r = ops.find(req_str(p, "name")?)?;
        let cmd = str_list(p, "cmd")?;
        if cmd.is_empty() {
            return Err(RpcError::params("\"cmd\" must be a non-empty array of strings"));
        }
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
        let hosts = str_list(p, "allow_hosts")?;
        let seccomp = match p.get("seccomp") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(RpcError::params("\"seccomp\" must be a profile's name")),
        };
        let asked = crate::ops::sandboxes::Policy {
            isolate: flag("isolate"),
            net: flag("net"),
            allow: &allow,
            hosts: &hosts,
            seccomp,
        };
        let (isolate, _) = ops.prepare(&r, &asked)?;
        let mut env = env;
        // grit commands inside act as the request's actor too.
        if let Some(a) = actor {
            env.push(("GRIT_ACTOR".into(), a.to_owned()));
        }
        let exec = Exec {
            cmd,
            sh: flag("sh"),
            env,
            isolate,
            via: "socket",
        };
        let (w, exec_id) = (self.writer.clone(), id.clone());
        let sink = move |stream: &'static str, data: &[u8]| {
            send(
                &w,
                &json!({
                    "jsonrpc": "2.0",
                    "method": "sandbox.output",
                    "params": { "exec": exec_id, "stream": stream, "data": String::from_utf8_lossy(data) },
                }),
            );
        };
        let ran = ops.exec(&r, &exec, Output::Stream(&sink))?;
        if let Some(why) = ran.not_found {
            return Err(RpcError::new(FAILED, format!("cannot run {why}")));
        }
        Ok(json!({
            "name": ran.name,
            "exit_code": ran.exit_code,
            "duration_ms": ran.duration_ms,
            "isolation": ran.isolation,
        }))
    }

    fn sandbox_diff(&self, p: &Value) -> Result<Value, RpcError> {
        let ops = self.sandboxes()?;
        let r = ops.find(req_str(p, "name")?)?;
        let d = ops.diff(&r)?;
        let mut out = json!({ "name": d.name, "files": d.files });
        if p.get("patch").and_then(Value::as_bool).unwrap_or(false) {
            out["patch"] = json!(ops.patch(&d, &r)?);
        }
        Ok(out)
    }

    fn sandbox_commit(&self, p: &Value) -> Result<Value, RpcError> {
        let ops = self.sandboxes()?;
        let r = ops.find(req_str(p, "name")?)?;
        let message = req_str(p, "message")?;
        let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
        let c = ops.commit(&r, message, flag("include_carried"), flag("keep_locks"))?;
        Ok(json!({ "name": c.name, "branch": c.branch, "commit": c.commit }))
    }

    fn sandbox_land(&self, p: &Value) -> Result<Value, RpcError> {
        let ops = self.sandboxes()?;
        let r = ops.find(req_str(p, "name")?)?;
        let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
        let mut opts = sandbox::land::LandOptions::new(ops.main());
        if flag("rebase") {
            opts.strategy = sandbox::land::Strategy::Rebase;
        }
        opts.remote = opt_str(p, "remote")?.map(str::to_owned);
        let landed = sandbox::land::land(ops.main(), &r, &opts)?;
        let mut out = serde_json::to_value(&landed).expect("serialises");
        if !flag("keep_locks") {
            let released = ops.release_locks(&r, &format!("landed sandbox {}", r.name))?;
            out["released"] = json!(released.released);
        }
        Ok(out)
    }

    fn sandbox_remove(&self, p: &Value) -> Result<Value, RpcError> {
        let ops = self.sandboxes()?;
        let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
        let name = req_str(p, "name")?;
        let removed = ops.remove(name, flag("force"), flag("delete_branch"), flag("keep_locks"))?;
        Ok(
            json!({ "removed": removed.record.name, "branch": removed.record.branch, "branch_kept": removed.branch_kept }),
        )
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
