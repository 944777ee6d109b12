//! The daemon: one optional process per repository (`git wal daemon`), never needed for
//! correctness. It holds an ownership lease (an exclusive `flock` on `<grit-dir>/daemon/lock`,
//! which the kernel releases when the process dies, so a crashed daemon is taken over), listens
//! on a 0600 Unix socket (`<grit-dir>/daemon.sock`) speaking JSON-RPC 2.0 (`rpc`), folds what
//! arrives, syncs in the background with backoff and jitter, delivers webhooks, and exits when
//! idle. Its log is `<grit-dir>/daemon.log`, capped in size.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::repo::{Repo, now_ms};

/// Exits after this long with no clients and nothing to do (`grit.daemon.idleTimeout`).
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Background sync interval (`grit.daemon.syncInterval`).
const SYNC_INTERVAL: Duration = Duration::from_secs(60);
/// The longest wait between failed syncs.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// The log is rotated past this size (`grit.daemon.logSize`), keeping one old copy.
const LOG_BYTES: u64 = 1 << 20;
/// The environment variable that hands a started daemon its lease.
const LEASE_FD: &str = "GRIT_DAEMON_LEASE_FD";

/// Where a repository's daemon keeps things.
pub struct Paths {
    /// The daemon's directory, `<grit dir>/daemon`.
    pub dir: PathBuf,
    /// The lock file the running daemon holds.
    pub lock: PathBuf,
    /// Where it says who it is (`state.json`).
    pub state: PathBuf,
    /// Its socket.
    pub socket: PathBuf,
    /// Its log.
    pub log: PathBuf,
}

impl Paths {
    /// The paths of the daemon of the repository whose grit directory is `grit_dir`.
    pub fn of(grit_dir: &Path) -> Paths {
        let dir = grit_dir.join("daemon");
        Paths {
            lock: dir.join("lock"),
            state: dir.join("state.json"),
            dir,
            socket: grit_dir.join("daemon.sock"),
            log: grit_dir.join("daemon.log"),
        }
    }
}

/// What a running daemon says about itself in `daemon/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Info {
    /// Its process id.
    pub pid: u32,
    /// When it started (milliseconds since the epoch).
    pub started_ms: u64,
    /// Its socket.
    pub socket: PathBuf,
}

/// A duration as config and flags write it: `250ms`, `30s`, `10m`, `2h`, or seconds; `0` is zero.
pub fn duration(s: &str) -> Result<Duration> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let bad = || {
        Error::invalid(
            format!("'{s}' is not a duration"),
            "write a number with a unit: 500ms, 30s, 10m or 2h (0 turns it off)",
        )
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    Ok(match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(bad()),
    })
}

fn config_duration(repo: &Repo, key: &str, default: Duration) -> Result<Duration> {
    repo.config_string(key).map_or(Ok(default), |v| {
        duration(&v).map_err(|e| match e {
            Error::Invalid { message, hint } => Error::Invalid {
                message: format!("{key}: {message}"),
                hint,
            },
            e => e,
        })
    })
}

fn open_lock(paths: &Paths) -> Result<fs::File> {
    fs::create_dir_all(&paths.dir).map_err(Error::io(&paths.dir))?;
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&paths.lock)
        .map_err(Error::io(&paths.lock))
}

fn try_flock(f: &fs::File) -> bool {
    f.try_lock().is_ok()
}

/// The running daemon, if there is one (someone holds the lease).
pub fn running(grit_dir: &Path) -> Option<Info> {
    let paths = Paths::of(grit_dir);
    let f = fs::File::open(&paths.lock).ok()?;
    if try_flock(&f) {
        return None;
    }
    // The lease is held; the state file may lag a moment behind a start.
    for _ in 0..50 {
        if let Some(info) = fs::read(&paths.state)
            .ok()
            .and_then(|b| serde_json::from_slice::<Info>(&b).ok())
            .filter(|i| alive(i.pid))
        {
            return Some(info);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn alive(pid: u32) -> bool {
    crate::sys::alive(pid)
}

/// Connects to the daemon's socket. A socket address holds 108 bytes at most: a longer path
/// is reached through the descriptor of its directory (`/proc/self/fd/N/daemon.sock`).
pub fn connect(grit_dir: &Path) -> Result<UnixStream> {
    let socket = Paths::of(grit_dir).socket;
    let err = |e| Error::Io {
        path: socket.clone(),
        source: e,
    };
    if socket.as_os_str().len() < 100 {
        return UnixStream::connect(&socket).map_err(err);
    }
    let dir = fs::File::open(grit_dir).map_err(err)?;
    UnixStream::connect(format!("/proc/self/fd/{}/daemon.sock", dir.as_raw_fd())).map_err(err)
}

/// Sends one request and returns its result (or the error it got).
pub fn call(grit_dir: &Path, method: &str, params: Value) -> Result<Value> {
    let stream = connect(grit_dir)?;
    stream.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let mut w = stream.try_clone().map_err(Error::io("daemon socket"))?;
    let req = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    writeln!(w, "{req}").map_err(Error::io("daemon socket"))?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(Error::io("daemon socket"))?;
    let v: Value = serde_json::from_str(&line).map_err(|_| {
        Error::invalid(
            "the daemon answered with something that is not JSON-RPC",
            "`git wal daemon stop` and start it again; its log is <git-dir>/grit/daemon.log",
        )
    })?;
    if let Some(e) = v.get("error") {
        return Err(Error::invalid(
            format!(
                "the daemon refused {method}: {}",
                e.get("message").and_then(Value::as_str).unwrap_or("(no message)")
            ),
            e.pointer("/data/hint")
                .and_then(Value::as_str)
                .unwrap_or("`git wal daemon status` shows its state"),
        ));
    }
    Ok(v.get("result").cloned().unwrap_or(Value::Null))
}

/// Starts the daemon in the background unless one runs. Returns it, and whether it was
/// already running. Of several starts at once, one takes the lease and the others find it.
pub fn start(repo: &Repo) -> Result<(Info, bool)> {
    let paths = Paths::of(&repo.grit_dir);
    let lock = open_lock(&paths)?;
    if !try_flock(&lock) {
        return match running(&repo.grit_dir) {
            Some(info) => Ok((info, true)),
            None => Err(Error::invalid(
                "another daemon holds the lease but does not say who it is",
                "wait a moment and run `git wal daemon status`",
            )),
        };
    }
    let _ = fs::remove_file(&paths.state);
    spawn(repo, &lock)?;
    drop(lock);
    // It is up once it answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(info) = fs::read(&paths.state)
            .ok()
            .and_then(|b| serde_json::from_slice::<Info>(&b).ok())
            && call(&repo.grit_dir, "status", json!({})).is_ok()
        {
            return Ok((info, false));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(Error::invalid(
        "the daemon did not come up within 10 s",
        format!("its log may say why: {}", paths.log.display()),
    ))
}

/// Starts the daemon if `grit.daemon.autoStart` is set and none runs; never fails the caller.
/// A grit binary runs it each time it opens a store (`grit::arm_binary`).
pub fn auto_start(repo: &Repo) {
    if repo.config_bool("grit.daemon.autoStart") != Some(true) || std::env::var_os(LEASE_FD).is_some() {
        return;
    }
    let paths = Paths::of(&repo.grit_dir);
    let Ok(lock) = open_lock(&paths) else { return };
    if try_flock(&lock)
        && let Err(e) = spawn(repo, &lock)
    {
        eprintln!("warning: could not start the daemon (grit.daemon.autoStart): {e}");
    }
}

/// Runs `git-wal daemon run` detached (its own session, no terminal), handing it the lease.
fn spawn(repo: &Repo, lock: &fs::File) -> Result<()> {
    let exe = std::env::current_exe().map_err(Error::io("the running program"))?;
    let wal = exe.with_file_name("git-wal");
    let wal = if wal.exists() { wal } else { PathBuf::from("git-wal") };
    let dir = repo
        .git
        .workdir()
        .map_or_else(|| repo.git.common_dir().to_owned(), Path::to_owned);
    let log = open_log(&Paths::of(&repo.grit_dir).log)?;
    let fd = lock.as_raw_fd();
    let mut cmd = std::process::Command::new(&wal);
    cmd.args(["daemon", "run"])
        .current_dir(&dir)
        .env(LEASE_FD, fd.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(Error::io("daemon log"))?)
        .stderr(log);
    // The lease descriptor survives the exec.
    crate::sys::detach_keeping(&mut cmd, fd);
    cmd.spawn().map_err(|e| Error::Io { path: wal, source: e })?;
    Ok(())
}

fn open_log(path: &Path) -> Result<fs::File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(Error::io(path))
}

/// Stops the running daemon (asks it, then signals it). Returns the one stopped.
pub fn stop(grit_dir: &Path) -> Result<Option<Info>> {
    let Some(info) = running(grit_dir) else {
        return Ok(None);
    };
    if call(grit_dir, "daemon.stop", json!({})).is_err() {
        crate::sys::terminate(info.pid);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(info.pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(Some(info))
}

/// The background sync's state, as `status` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncState {
    /// How often it syncs, in milliseconds (0: never).
    pub interval_ms: u64,
    /// The remote it syncs with.
    pub remote: Option<String>,
    /// When the last sync ran (RFC 3339).
    pub last_at: Option<String>,
    /// Whether it worked.
    pub last_ok: Option<bool>,
    /// What it said.
    pub last_message: Option<String>,
    /// Events the last sync folded in.
    pub events_folded: usize,
    /// Failures in a row.
    pub failures: u32,
    /// When the next runs.
    pub next_in_ms: Option<u64>,
    /// Syncs run since the daemon started.
    pub runs: u64,
}

/// What every thread of the daemon shares.
pub struct Shared {
    /// The work tree (or git dir) each thread opens the repository at.
    pub dir: PathBuf,
    /// The repository's grit directory.
    pub grit_dir: PathBuf,
    /// When the daemon started (milliseconds since the epoch).
    pub started_ms: u64,
    /// Bumped whenever something may have reached the feed; waiters wake on it.
    generation: Mutex<u64>,
    changed: Condvar,
    /// Clients connected now.
    pub clients: AtomicUsize,
    /// Set when the daemon is stopping.
    pub stopping: AtomicBool,
    last_activity: Mutex<Instant>,
    /// The background sync's state.
    pub sync: Mutex<SyncState>,
    /// Each webhook's state.
    pub webhooks: Mutex<Vec<super::webhook::Status>>,
    log: Mutex<Option<fs::File>>,
    log_cap: u64,
    log_path: PathBuf,
    /// Live subscriptions now.
    pub subscriptions: AtomicUsize,
    /// Bumped when the repository's config file changes (webhooks are read again).
    pub config: std::sync::atomic::AtomicU64,
    /// How long a client may take to finish a line it began, and may sit idle without a
    /// subscription (`grit.daemon.readTimeout`).
    pub read_timeout: Duration,
    /// The port the MCP server listens on (grit.daemon.mcpPort), once it does; 0 before.
    pub mcp_port: Arc<std::sync::atomic::AtomicU16>,
    /// Sandboxes are synced on a schedule (`sandbox.autosync=interval:…`): the daemon stays.
    pub autosyncing: std::sync::atomic::AtomicBool,
}

/// Clients served at once; one more is told so and closed (`grit.daemon.maxClients`).
pub const MAX_CLIENTS: usize = 256;
/// The default of `grit.daemon.readTimeout`.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

impl Shared {
    /// Something may have arrived: wake every waiter.
    pub fn bump(&self) {
        let mut g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        *g += 1;
        self.changed.notify_all();
    }

    /// The generation now (see `bump`).
    pub fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the generation passes `seen`, or `timeout`; returns the generation.
    pub fn wait_past(&self, seen: u64, timeout: Duration) -> u64 {
        let g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        let (g, _) = self
            .changed
            .wait_timeout_while(g, timeout, |g| *g == seen && !self.stopping.load(Ordering::Relaxed))
            .unwrap_or_else(|p| p.into_inner());
        *g
    }

    /// Marks activity now: the idle timeout starts again.
    pub fn touch(&self) {
        *self.last_activity.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last_activity.lock().unwrap_or_else(|p| p.into_inner()).elapsed()
    }

    /// Makes every thread stop.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.bump();
    }

    /// Writes a line to the log, rotating it past its cap.
    pub fn log(&self, line: impl AsRef<str>) {
        let mut f = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(file) = f.as_mut() {
            let _ = writeln!(
                file,
                "{} [{}] {}",
                crate::repo::format_time(now_ms()),
                std::process::id(),
                line.as_ref()
            );
            if file.metadata().is_ok_and(|m| m.len() > self.log_cap) {
                let old = self.log_path.with_extension("log.1");
                let _ = fs::rename(&self.log_path, old);
                *f = open_log(&self.log_path).ok();
            }
        }
    }

    /// The daemon's state, as `git wal daemon status --json` prints it.
    pub fn status(&self) -> Value {
        let feed = crate::feed::Feed::of(&match Repo::discover(&self.dir) {
            Ok(r) => r,
            Err(_) => return json!({ "pid": std::process::id() }),
        })
        .end()
        .ok()
        .map(|c| c.to_string());
        json!({
            "running": true,
            "pid": std::process::id(),
            "started_at": crate::repo::format_time(self.started_ms),
            "uptime_ms": now_ms().saturating_sub(self.started_ms),
            "socket": Paths::of(&self.grit_dir).socket,
            "clients": self.clients.load(Ordering::Relaxed),
            "subscriptions": self.subscriptions.load(Ordering::Relaxed),
            "idle_ms": self.idle_for().as_millis() as u64,
            "sync": *self.sync.lock().unwrap_or_else(|p| p.into_inner()),
            "webhooks": *self.webhooks.lock().unwrap_or_else(|p| p.into_inner()),
            "feed_end": feed,
            "mcp": match self.mcp_port.load(Ordering::SeqCst) {
                0 => Value::Null,
                port => json!(format!("http://127.0.0.1:{port}/mcp")),
            },
        })
    }

    fn busy(&self) -> bool {
        // Agents reach the MCP endpoint at any time: a daemon serving it stays until stopped.
        self.mcp_port.load(Ordering::Relaxed) != 0
            || self.autosyncing.load(Ordering::Relaxed)
            || self.clients.load(Ordering::Relaxed) > 0
            || self
                .webhooks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .any(|w| w.in_flight)
    }
}

/// Takes the lease this process was handed, or takes it itself.
fn take_lease(paths: &Paths) -> Result<Option<fs::File>> {
    // Before any other thread starts.
    if let Some(f) = crate::sys::inherited_file(LEASE_FD)
        && try_flock(&f)
    {
        return Ok(Some(f));
    }
    let f = open_lock(paths)?;
    Ok(try_flock(&f).then_some(f))
}

/// Runs the daemon in this process until it is stopped or idle. Returns `Ok(false)` when
/// another daemon holds the lease.
pub fn run(dir: &Path) -> Result<bool> {
    let repo = Repo::discover(dir)?;
    let paths = Paths::of(&repo.grit_dir);
    let Some(_lease) = take_lease(&paths)? else {
        return Ok(false);
    };
    block_signals();
    let dir = repo
        .git
        .workdir()
        .map_or_else(|| repo.git.common_dir().to_owned(), Path::to_owned);
    let log_cap = repo
        .config_string("grit.daemon.logSize")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(LOG_BYTES);
    let idle = config_duration(&repo, "grit.daemon.idleTimeout", IDLE_TIMEOUT)?;
    let read_timeout = config_duration(&repo, "grit.daemon.readTimeout", READ_TIMEOUT)?;
    let max_clients = repo
        .config_string("grit.daemon.maxClients")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(MAX_CLIENTS);
    let shared = Arc::new(Shared {
        dir: dir.clone(),
        grit_dir: repo.grit_dir.clone(),
        started_ms: now_ms(),
        generation: Mutex::new(0),
        changed: Condvar::new(),
        clients: AtomicUsize::new(0),
        stopping: AtomicBool::new(false),
        last_activity: Mutex::new(Instant::now()),
        sync: Mutex::new(SyncState::default()),
        webhooks: Mutex::new(Vec::new()),
        log: Mutex::new(open_log(&paths.log).ok()),
        log_cap,
        log_path: paths.log.clone(),
        subscriptions: AtomicUsize::new(0),
        config: std::sync::atomic::AtomicU64::new(0),
        read_timeout,
        mcp_port: Arc::default(),
        autosyncing: std::sync::atomic::AtomicBool::new(false),
    });
    // The socket: a stale one (a crashed daemon's) is ours to replace, as we hold the lease.
    let _ = fs::remove_file(&paths.socket);
    // Bound by a relative name, from the directory: a socket address holds 108 bytes at most.
    std::env::set_current_dir(&repo.grit_dir).map_err(Error::io(&repo.grit_dir))?;
    // The mask is process-wide, and only this thread runs yet: the socket is born 0600.
    let bound = crate::sys::with_umask(0o177, || UnixListener::bind("daemon.sock"));
    let listener = bound.map_err(|e| Error::Io {
        path: paths.socket.clone(),
        source: e,
    })?;
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&paths.socket, fs::Permissions::from_mode(0o600)).map_err(Error::io(&paths.socket))?;
    }
    let info = Info {
        pid: std::process::id(),
        started_ms: shared.started_ms,
        socket: paths.socket.clone(),
    };
    let tmp = paths.dir.join(format!(".state.{}", std::process::id()));
    fs::write(&tmp, serde_json::to_vec(&info).expect("serialises")).map_err(Error::io(&tmp))?;
    fs::rename(&tmp, &paths.state).map_err(Error::io(&paths.state))?;
    shared.log(format!("started (idle timeout {} ms)", idle.as_millis()));

    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(f)
            .map_err(Error::io("a daemon thread"))
    };
    {
        let s = shared.clone();
        spawn("signals", Box::new(move || wait_for_signal(&s)))?;
    }
    {
        let s = shared.clone();
        spawn("follow", Box::new(move || follow(&s)))?;
    }
    {
        let s = shared.clone();
        spawn("sync", Box::new(move || sync_loop(&s)))?;
    }
    {
        let s = shared.clone();
        spawn("webhooks", Box::new(move || super::webhook::run(&s)))?;
    }
    {
        let s = shared.clone();
        spawn("autosync", Box::new(move || autosync_loop(&s)))?;
    }
    // MCP over HTTP for the agents of this clone (grit.daemon.mcpPort), beside the socket.
    if let Some(port) = repo.config_string("grit.daemon.mcpPort") {
        let port: u16 = port.trim().parse().map_err(|_| {
            Error::invalid(
                format!("grit.daemon.mcpPort is '{port}', not a port number"),
                "`git config grit.daemon.mcpPort 8765` (0 picks a free port; `git wal daemon status` shows it)",
            )
        })?;
        let s = shared.clone();
        spawn(
            "mcp",
            Box::new(move || {
                let mut http = crate::mcp::HttpOptions::on(port);
                http.own_signals = false;
                http.token = std::env::var("GRIT_MCP_TOKEN").ok().filter(|t| !t.is_empty());
                http.bound = Some(s.mcp_port.clone());
                let mut opts = crate::mcp::Options::new(s.dir.clone());
                opts.http = Some(http);
                s.log(format!("serving MCP over HTTP on 127.0.0.1:{port}"));
                if let Err(e) = crate::mcp::serve(opts) {
                    s.log(format!("the MCP server stopped: {e}"));
                }
            }),
        )?;
    }
    {
        let s = shared.clone();
        spawn(
            "accept",
            Box::new(move || {
                for conn in listener.incoming() {
                    if s.stopping.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(mut conn) = conn else { continue };
                    if !same_user(&conn) {
                        s.log("refused a connection from another user");
                        continue;
                    }
                    if s.clients.load(Ordering::SeqCst) >= max_clients {
                        use std::io::Write;
                        let _ = conn.set_write_timeout(Some(Duration::from_millis(100)));
                        let _ = writeln!(
                            conn,
                            "{}",
                            serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32000,
                                "message": format!("the daemon serves {max_clients} clients at most (grit.daemon.maxClients); try again")}})
                        );
                        continue;
                    }
                    let s2 = s.clone();
                    s.clients.fetch_add(1, Ordering::SeqCst);
                    s.touch();
                    let _ = std::thread::Builder::new().name("client".into()).spawn(move || {
                        super::rpc::serve(&s2, conn);
                        s2.clients.fetch_sub(1, Ordering::SeqCst);
                        s2.touch();
                    });
                }
            }),
        )?;
    }
    while !shared.stopping.load(Ordering::Relaxed) {
        shared.wait_past(
            shared.generation(),
            Duration::from_secs(1).min(idle.max(Duration::from_millis(50))),
        );
        if !idle.is_zero() && !shared.busy() && shared.idle_for() >= idle {
            shared.log("idle: exiting");
            break;
        }
    }
    shared.stop();
    let _ = fs::remove_file(&paths.socket);
    let _ = fs::remove_file(&paths.state);
    shared.log("stopped");
    Ok(true)
}

/// Whether the peer of a connection runs as this process's user.
fn same_user(conn: &UnixStream) -> bool {
    crate::sys::peer_uid(conn) == Some(crate::sys::euid())
}

/// SIGTERM, SIGINT and SIGHUP are taken by one thread (`wait_for_signal`), not by whichever
/// thread they land on.
fn block_signals() {
    crate::sys::block_signals(&STOP_SIGNALS);
}

/// The signals that stop the daemon.
const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

fn wait_for_signal(s: &Shared) {
    let sig = crate::sys::wait_for_signal(&STOP_SIGNALS);
    s.log(format!("signal {sig}: stopping"));
    s.stop();
}

/// Folds what the refs bring (a fetch without hooks, another clone's sync) and wakes the
/// subscribers whenever the refs or the feed change.
fn follow(s: &Shared) {
    let store = match crate::store::Store::open(&s.dir) {
        Ok(st) => st,
        Err(e) => {
            s.log(format!("cannot open the repository: {e}"));
            return s.stop();
        }
    };
    let waker = match super::Waker::new(&store.repo) {
        Ok(w) => w,
        Err(e) => {
            s.log(format!("cannot watch the refs: {e}"));
            return s.stop();
        }
    };
    let mut fold = super::FoldLater::default();
    while !s.stopping.load(Ordering::Relaxed) {
        let woken = waker.wait(fold.timeout(Duration::from_secs(2)));
        fold.note(&woken);
        if fold.due()
            && let Err(e) = store.index.refresh(&store.repo)
        {
            s.log(format!("fold failed: {e}"));
        }
        if !woken.any {
            continue;
        }
        if woken.config {
            s.config.fetch_add(1, Ordering::SeqCst);
        }
        s.bump();
    }
}

/// Syncs every `grit.daemon.syncInterval` (± 10 % jitter), backing off exponentially after
/// failures, up to an hour.
fn sync_loop(s: &Shared) {
    let (interval, remote) = match Repo::discover(&s.dir) {
        Ok(repo) => (
            config_duration(&repo, "grit.daemon.syncInterval", SYNC_INTERVAL).unwrap_or_else(|e| {
                s.log(format!("{e}: background sync is off"));
                Duration::ZERO
            }),
            crate::sync::default_remote(&repo).ok(),
        ),
        Err(_) => return,
    };
    {
        let mut st = s.sync.lock().unwrap_or_else(|p| p.into_inner());
        st.interval_ms = interval.as_millis() as u64;
        st.remote = remote.clone();
    }
    let Some(remote) = remote.filter(|_| !interval.is_zero()) else {
        return;
    };
    let mut failures = 0u32;
    loop {
        let wait = if failures == 0 {
            interval
        } else {
            (interval * 2u32.saturating_pow(failures.min(16))).min(MAX_BACKOFF.max(interval))
        };
        let wait = jitter(wait);
        s.sync.lock().unwrap_or_else(|p| p.into_inner()).next_in_ms = Some(wait.as_millis() as u64);
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if s.stopping.load(Ordering::Relaxed) {
                return;
            }
            // Wakes early only to stop (the stop bumps the generation).
            s.wait_past(s.generation(), left);
        }
        if s.stopping.load(Ordering::Relaxed) {
            return;
        }
        let result = crate::store::Store::open(&s.dir).and_then(|store| {
            crate::sync::sync(
                &store,
                &remote,
                crate::sync::Options {
                    fetch: true,
                    push: true,
                    issue: None,
                },
            )
        });
        let mut st = s.sync.lock().unwrap_or_else(|p| p.into_inner());
        st.runs += 1;
        st.last_at = Some(crate::repo::format_time(now_ms()));
        match result {
            Ok(report) => {
                failures = 0;
                let rejected = report.rejected().count();
                st.last_ok = Some(rejected == 0);
                st.events_folded += report.events_folded;
                let moved = report
                    .refs
                    .iter()
                    .filter(|r| r.fetched.is_some() || r.pushed.is_some())
                    .count();
                st.last_message = Some(format!(
                    "{moved} ref(s) moved, {} event(s) folded{}",
                    report.events_folded,
                    if rejected > 0 {
                        format!(", {rejected} rejected")
                    } else {
                        String::new()
                    }
                ));
                if moved > 0 {
                    s.log(format!("sync: {}", st.last_message.as_deref().unwrap_or("")));
                    s.touch();
                }
            }
            Err(e) => {
                failures += 1;
                st.last_ok = Some(false);
                st.last_message = Some(e.to_string());
                s.log(format!("sync failed ({failures} in a row): {e}"));
            }
        }
        st.failures = failures;
        drop(st);
        s.bump();
    }
}

/// `sandbox.autosync=interval:DURATION`: every DURATION, the base branch merged into each idle
/// sandbox of this clone (see `Sandboxes::autosync_all`), each result in the daemon's log.
fn autosync_loop(s: &Shared) {
    let Some(interval) = Repo::discover(&s.dir)
        .ok()
        .and_then(|repo| crate::ops::sandboxes::autosync_interval(&repo))
    else {
        return;
    };
    s.log(format!("syncing sandboxes every {} ms", interval.as_millis()));
    // A schedule is kept only by a daemon that stays.
    s.autosyncing.store(true, Ordering::Relaxed);
    loop {
        let deadline = Instant::now() + jitter(interval);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if s.stopping.load(Ordering::Relaxed) {
                return;
            }
            s.wait_past(s.generation(), left);
        }
        if s.stopping.load(Ordering::Relaxed) {
            return;
        }
        match crate::ops::Sandboxes::open(&s.dir).and_then(|ops| ops.autosync_all()) {
            Ok(done) => {
                for d in done.iter().filter(|d| matches!(d.outcome, "synced" | "conflict")) {
                    s.log(format!(
                        "autosync: sandbox {} {}{}",
                        d.name,
                        d.outcome,
                        d.detail.as_deref().map(|x| format!(": {x}")).unwrap_or_default()
                    ));
                }
                if done.iter().any(|d| d.outcome == "synced") {
                    s.touch();
                }
            }
            Err(e) => s.log(format!("autosync failed: {e}")),
        }
    }
}

/// `d` moved by up to 10 % either way, so that a fleet does not sync at the same second.
pub fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 4];
    getrandom::getrandom(&mut b).expect("the OS has randomness");
    let r = f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX); // 0..1
    d.mul_f64(0.9 + 0.2 * r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_config_writes_them() {
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(duration("45").unwrap(), Duration::from_secs(45));
        assert_eq!(duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "s", "1d", "-1s", "1.5s"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jitter_stays_within_a_tenth() {
        for _ in 0..1000 {
            let j = jitter(Duration::from_secs(60)).as_secs_f64();
            assert!((54.0..=66.0).contains(&j), "{j}");
        }
    }
}
