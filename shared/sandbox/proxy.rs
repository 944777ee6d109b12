//! The network allowlist of `--isolate --allow-host HOST[:PORT]`: the command runs in a network
//! namespace of its own, where nothing but loopback exists, with `HTTP(S)_PROXY` pointing at a
//! forwarder inside it (`git-sandbox`'s hidden `__netshim`, bound in read-only) that carries each
//! connection over a Unix socket to this proxy, outside. The proxy reads the request: an HTTPS
//! `CONNECT host:port`, or a plain-HTTP request in absolute form. It reaches the host only when
//! the allowlist names it, and it logs every decision in the run's record.
//!
//! Credentials (`sandbox.secret.<name>.host` and `.env`): a plain-HTTP request to that host
//! gets the secret as its `Authorization` header (`.header` names another), taken from this
//! process's environment. It is never in the sandbox's environment or files. An HTTPS
//! connection is a tunnel the proxy cannot read, so nothing can be added to it.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The port the forwarder listens on inside the namespace (its own loopback: nothing else is
/// there to take it).
pub const INSIDE_PORT: u16 = 3128;
/// Where the proxy's directory (its socket, the forwarder) appears inside.
pub const INSIDE_DIR: &str = "/tmp/.grit-proxy";

/// One host the command may reach: a name or address (`*.example.com` for its subdomains), on
/// one port or any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowed {
    /// The host name or address (`*.example.com` for its subdomains).
    pub host: String,
    /// The port; `None` for any.
    pub port: Option<u16>,
}

impl Allowed {
    /// `HOST` or `HOST:PORT` (`[v6]:PORT` for an IPv6 address).
    pub fn parse(s: &str) -> Result<Allowed> {
        let bad = || {
            Error::invalid(
                format!("'{s}' is not HOST or HOST:PORT"),
                "give a host name or address, and a port if only one is allowed: --allow-host crates.io:443",
            )
        };
        let s = s.trim();
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(bad)?;
            (h, after.strip_prefix(':'))
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p)),
                _ => (s, None),
            }
        };
        let port = port.map(|p| p.parse::<u16>().map_err(|_| bad())).transpose()?;
        let ok = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:*".contains(&b));
        if !ok {
            return Err(bad());
        }
        Ok(Allowed {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    fn admits(&self, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        let name = match self.host.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == self.host,
        };
        name && self.port.is_none_or(|p| p == port)
    }
}

/// A secret the proxy adds to plain-HTTP requests to one host.
#[derive(Debug, Clone)]
pub struct Secret {
    /// The secret's name (`sandbox.secret.<name>.*`).
    pub name: String,
    /// The host it is sent to.
    pub host: String,
    /// The header it goes in.
    pub header: String,
    /// Its value.
    pub value: String,
}

/// `sandbox.secret.<name>.host`, `.env` and `.header` (default `Authorization`): the value is
/// the variable `.env` names, in this process's environment; a value without a scheme is sent
/// as `Bearer VALUE`. A secret whose variable is unset is left out, and said.
pub fn secrets(main: &super::Main) -> (Vec<Secret>, Vec<String>) {
    let snapshot = main.repo.git.config_snapshot();
    let mut names: Vec<String> = Vec::new();
    if let Some(sections) = snapshot.sections_by_name("sandbox") {
        for s in sections {
            if let Some(sub) = s.header().subsection_name() {
                let sub = sub.to_string();
                if let Some(name) = sub.strip_prefix("secret.")
                    && !names.iter().any(|n| n == name)
                {
                    names.push(name.to_owned());
                }
            }
        }
    }
    let (mut out, mut notes) = (Vec::new(), Vec::new());
    for name in names {
        let key = |k: &str| main.repo.config_string(&format!("sandbox.secret.{name}.{k}"));
        let (Some(host), Some(var)) = (key("host"), key("env")) else {
            notes.push(format!("secret {name} needs both .host and .env; it is left out"));
            continue;
        };
        let Ok(raw) = std::env::var(&var) else {
            notes.push(format!("secret {name}: ${var} is not set here; it is left out"));
            continue;
        };
        let value = if raw.contains(' ') {
            raw
        } else {
            format!("Bearer {raw}")
        };
        let header = key("header").unwrap_or_else(|| "Authorization".into());
        out.push(Secret {
            name,
            host: host.to_ascii_lowercase(),
            header,
            value,
        });
    }
    (out, notes)
}

/// One connection the command asked for, as the run's record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetEvent {
    /// The host asked for.
    pub host: String,
    /// The port asked for.
    pub port: u16,
    /// CONNECT, or the plain-HTTP request's method.
    pub method: String,
    /// Whether the allowlist let it through.
    pub allowed: bool,
    /// The secret added to it, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A running proxy: its directory (socket and forwarder) and what it decided. It stops when
/// dropped.
pub struct Proxy {
    /// The proxy's directory: its socket and forwarder.
    pub dir: PathBuf,
    log: Arc<Mutex<Vec<NetEvent>>>,
    socket: PathBuf,
}

impl Proxy {
    /// Starts a proxy for `allowed` with `secrets`, its socket in a new directory.
    pub fn start(allowed: Vec<Allowed>, secrets: Vec<Secret>) -> Result<Proxy> {
        use std::os::unix::fs::DirBuilderExt;
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // In this user's private directory (a socket's path must be short).
        let private = crate::sys::private_tmp().ok_or_else(|| Error::Failed {
            message: format!(
                "no private directory for the allowlist's proxy under {}",
                std::env::temp_dir().display()
            ),
            hint: "set TMPDIR to a directory of your own".into(),
        })?;
        let dir = private.join(format!("proxy-{}-{n}-{}", std::process::id(), crate::repo::now_ms()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(Error::io(&dir))?;
        let socket = dir.join("proxy.sock");
        let listener = UnixListener::bind(&socket).map_err(Error::io(&socket))?;
        // The file the forwarder is bound over, inside.
        std::fs::write(dir.join("shim"), b"").map_err(Error::io(&dir))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let rules = Arc::new((allowed, secrets));
        let (log2, stop) = (log.clone(), socket.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                // The drop of the Proxy wakes the loop with a connection of its own.
                if !stop.exists() {
                    break;
                }
                let (rules, log) = (rules.clone(), log2.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &rules.0, &rules.1, &log);
                });
            }
        });
        Ok(Proxy { dir, log, socket })
    }

    /// What it decided so far.
    pub fn events(&self) -> Vec<NetEvent> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
        let _ = UnixStream::connect(&self.socket);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const REFUSED: &str = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";

/// One connection from the forwarder: its request head read, judged, then carried through.
fn serve(conn: UnixStream, allowed: &[Allowed], secrets: &[Secret], log: &Mutex<Vec<NetEvent>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut head: Vec<String> = Vec::new();
    let mut size = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        size += line.len();
        if size > 64 << 10 {
            return (&conn).write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n");
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let Some(first) = head.first().cloned() else {
        return Ok(());
    };
    let mut parts = first.split(' ');
    let (method, target, version) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or("HTTP/1.1").to_owned(),
    );
    let (host, port, path) = if method == "CONNECT" {
        let a = Allowed::parse(&target).ok();
        (
            a.as_ref().map(|a| a.host.clone()).unwrap_or_default(),
            a.and_then(|a| a.port).unwrap_or(443),
            String::new(),
        )
    } else if let Some(rest) = target.strip_prefix("http://") {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let a = Allowed::parse(authority).ok();
        let path = if path.is_empty() { "/" } else { path };
        (
            a.as_ref().map(|a| a.host.clone()).unwrap_or_default(),
            a.and_then(|a| a.port).unwrap_or(80),
            path.to_owned(),
        )
    } else {
        (String::new(), 0, String::new())
    };
    let ok = !host.is_empty() && allowed.iter().any(|a| a.admits(&host, port));
    let secret = (ok && method != "CONNECT")
        .then(|| secrets.iter().find(|s| s.host == host))
        .flatten();
    if let Ok(mut l) = log.lock() {
        l.push(NetEvent {
            host: host.clone(),
            port,
            method: method.clone(),
            allowed: ok,
            secret: secret.map(|s| s.name.clone()),
        });
    }
    if !ok {
        let why = if host.is_empty() {
            format!("grit: the proxy takes CONNECT host:port or http://host/ requests, not '{first}'\n")
        } else {
            format!("grit: {host}:{port} is not on this sandbox's allowlist (--allow-host, sandbox.allowHost)\n")
        };
        return (&conn).write_all(format!("{REFUSED}{why}").as_bytes());
    }
    let addr = (host.as_str(), port).to_socket_addrs()?.next();
    let Some(upstream) = addr.and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(10)).ok()) else {
        return (&conn).write_all(
            format!("HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\ngrit: could not reach {host}:{port}\n")
                .as_bytes(),
        );
    };
    conn.set_read_timeout(None)?;
    if method == "CONNECT" {
        (&conn).write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    } else {
        // The request in origin form, one per connection, with the secret added.
        let mut out = format!("{method} {path} {version}\r\n");
        for h in &head[1..] {
            let name = h.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
            let dropped = name.starts_with("proxy-")
                || name == "connection"
                || secret.is_some_and(|s| s.header.eq_ignore_ascii_case(&name));
            if !dropped {
                out.push_str(h);
                out.push_str("\r\n");
            }
        }
        if let Some(s) = secret {
            out.push_str(&format!("{}: {}\r\n", s.header, s.value));
        }
        out.push_str("Connection: close\r\n\r\n");
        (&upstream).write_all(out.as_bytes())?;
    }
    // What was read past the head (a body's start), then both ways until either side ends.
    let early = reader.buffer().to_vec();
    (&upstream).write_all(&early)?;
    splice(reader.into_inner(), upstream)
}

/// A socket that can be copied both ways at once: std's TCP and Unix streams.
trait Duplex: std::io::Read + Write + Send + Sized + 'static {
    fn twin(&self) -> std::io::Result<Self>;
    fn end_writes(&self);
}

impl Duplex for TcpStream {
    fn twin(&self) -> std::io::Result<Self> {
        self.try_clone()
    }
    fn end_writes(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

impl Duplex for UnixStream {
    fn twin(&self) -> std::io::Result<Self> {
        self.try_clone()
    }
    fn end_writes(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

/// Carries `a` to `b` and `b` to `a` until both ends are done, ending each direction's writes
/// when its source ends.
fn splice(mut a: impl Duplex, mut b: impl Duplex) -> std::io::Result<()> {
    let (mut a2, mut b2) = (a.twin()?, b.twin()?);
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut b2, &mut a2);
        a2.end_writes();
    });
    let _ = std::io::copy(&mut a, &mut b);
    b.end_writes();
    let _ = back.join();
    Ok(())
}

/// The forwarder: `git-sandbox` beside this program (every grit binary lives beside the
/// others).
pub fn shim_exe() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(Error::io("the running program"))?;
    let shim = exe.with_file_name("git-sandbox");
    if shim.is_file() {
        return Ok(shim);
    }
    Err(Error::Failed {
        message: format!("the network allowlist needs git-sandbox beside {}", exe.display()),
        hint: "install the whole suite (./install.sh) in one directory".into(),
    })
}

/// The forwarder inside the namespace (`git-sandbox __netshim SOCKET -- CMD…`): listens on
/// loopback's `INSIDE_PORT`, carries each connection to the proxy's socket, and runs the
/// command with `HTTP(S)_PROXY` set to it. Returns the command's exit code.
pub fn shim(args: &[std::ffi::OsString]) -> i32 {
    let (Some(socket), Some(cmd)) = (
        args.first(),
        args.iter().position(|a| a == "--").map(|i| &args[i + 1..]),
    ) else {
        eprintln!("grit: usage: git-sandbox __netshim SOCKET -- CMD…");
        return 125;
    };
    if cmd.is_empty() {
        eprintln!("grit: __netshim: no command");
        return 125;
    }
    let listener = match std::net::TcpListener::bind(("127.0.0.1", INSIDE_PORT)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("grit: the network allowlist's forwarder could not listen: {e}");
            return 125;
        }
    };
    let socket = PathBuf::from(socket);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let Ok(up) = UnixStream::connect(&socket) else { return };
                let _ = splice(conn, up);
            });
        }
    });
    let url = format!("http://127.0.0.1:{INSIDE_PORT}");
    let mut c = std::process::Command::new(&cmd[0]);
    c.args(&cmd[1..]);
    for v in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        c.env(v, &url);
    }
    c.env_remove("NO_PROXY").env_remove("no_proxy");
    match c.status() {
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("grit: {}: command not found", cmd[0].to_string_lossy());
            127
        }
        Err(e) => {
            eprintln!("grit: {}: {e}", cmd[0].to_string_lossy());
            126
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Allowed;

    #[test]
    fn hosts_parse_and_admit_what_they_name() {
        let a = Allowed::parse("Crates.io:443").unwrap();
        assert!(a.admits("crates.io", 443) && !a.admits("crates.io", 80) && !a.admits("evil-crates.io", 443));
        let any = Allowed::parse("127.0.0.1").unwrap();
        assert!(any.admits("127.0.0.1", 1) && any.admits("127.0.0.1", 65535));
        let wild = Allowed::parse("*.example.com").unwrap();
        assert!(
            wild.admits("a.example.com", 443) && !wild.admits("example.com", 443) && !wild.admits("aexample.com", 1)
        );
        let v6 = Allowed::parse("[::1]:8080").unwrap();
        assert!(v6.admits("::1", 8080));
        for bad in ["", "host:port", "a b", "x:99999", "evil/path"] {
            assert!(Allowed::parse(bad).is_err(), "{bad}");
        }
    }
}
