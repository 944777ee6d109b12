//! Webhooks: git config `grit.webhook.<name>.{url,command,query,events,secret,timeout,
//! maxAttempts,backoff}`. Each webhook reads the feed from its own durable cursor
//! (`<grit-dir>/feed/webhooks/<name>.cursor`, beside the feed rather than in the index, which
//! is a cache a schema change wipes), delivers each record it wants at least once, in order,
//! signed with HMAC-SHA256 the way GitHub signs its own, and moves the cursor only after a
//! delivery succeeded. A delivery that keeps failing is retried with exponential backoff, then
//! parked (`<name>.parked`, JSON Lines) for `git wal webhook retry NAME`.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;

use super::daemon::{Shared, duration};
use super::{Filter, Item, Since, Stream};
use crate::error::{Error, Result};
use crate::feed::{Cursor, Feed};
use crate::repo::Repo;
use crate::store::Store;

/// Attempts before a delivery is parked.
const MAX_ATTEMPTS: u32 = 5;
/// The wait after the first failed attempt; it doubles after each (`backoff`).
const BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long one attempt may take (`timeout`).
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where a webhook delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An HTTP(S) URL, POSTed the JSON.
    Url(String),
    /// A shell command line, given the JSON on stdin.
    Command(String),
}

/// One configured webhook.
#[derive(Debug, Clone)]
pub struct Hook {
    /// Its name: `grit.webhook.<name>.*`.
    pub name: String,
    /// Where it delivers.
    pub target: Target,
    /// Only records of issues matching this query (the `-S` language).
    pub query: Option<String>,
    /// Only these record kinds (a comma-separated list, as `git wal watch --kind` takes it).
    pub events: Option<String>,
    /// The HMAC-SHA256 key that signs each delivery.
    pub secret: Option<String>,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Attempts before a delivery is parked.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each.
    pub backoff: Duration,
    /// The configuration as read, to notice a change.
    pub fingerprint: String,
}

/// A webhook's state, as `status` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// Its name.
    pub name: String,
    /// Where it delivers, as a person reads it.
    pub target: String,
    /// Where in the feed it has delivered up to.
    pub cursor: Option<String>,
    /// Deliveries made since the daemon started.
    pub delivered: u64,
    /// Attempts that failed since the daemon started.
    pub failed_attempts: u64,
    /// Deliveries parked after their last attempt failed.
    pub parked: usize,
    /// A delivery is being attempted (or waits for its next attempt).
    pub in_flight: bool,
    /// What the last failed attempt said.
    pub last_error: Option<String>,
}

/// Every webhook in git config, by name. A webhook with neither `url` nor `command`, or with
/// a value that does not parse, is an error naming the key.
pub fn configured(repo: &Repo) -> Result<Vec<Hook>> {
    let out = repo.git_output(&["config", "--get-regexp", r"^grit\.webhook\."])?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut by_name: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for line in text.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        let Some(rest) = key.strip_prefix("grit.webhook.") else {
            continue;
        };
        let Some((name, var)) = rest.rsplit_once('.') else {
            continue;
        };
        by_name
            .entry(name.to_owned())
            .or_default()
            .push((var.to_ascii_lowercase(), value.to_owned()));
    }
    let mut hooks = Vec::new();
    for (name, vars) in by_name {
        let get = |k: &str| vars.iter().rev().find(|(v, _)| v == k).map(|(_, x)| x.clone());
        let key = |k: &str| format!("grit.webhook.{name}.{k}");
        let target = match (get("url"), get("command")) {
            (Some(u), None) => Target::Url(u),
            (None, Some(c)) => Target::Command(c),
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    format!("webhook {name} has both a url and a command"),
                    format!("keep one: `git config --unset {}`", key("command")),
                ));
            }
            (None, None) => {
                return Err(Error::invalid(
                    format!("webhook {name} has neither a url nor a command"),
                    format!(
                        "`git config {} https://…` or `git config {} 'CMD'`",
                        key("url"),
                        key("command")
                    ),
                ));
            }
        };
        let dur = |k: &str, d: Duration| -> Result<Duration> {
            get(k).map_or(Ok(d), |v| {
                duration(&v).map_err(|_| {
                    Error::invalid(
                        format!("{} = '{v}' is not a duration", key(k)),
                        "write a number with a unit: 500ms, 30s, 10m",
                    )
                })
            })
        };
        let max_attempts = match get("maxattempts") {
            None => MAX_ATTEMPTS,
            Some(v) => v.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                Error::invalid(
                    format!("{} = '{v}' is not a positive number", key("maxAttempts")),
                    "attempts before a delivery is parked, e.g. 5",
                )
            })?,
        };
        if let Some(q) = get("query") {
            crate::query::parse(&q, crate::repo::now_ms()).map_err(|e| {
                Error::invalid(
                    format!("{}: {}", key("query"), e.message),
                    "the query language is the one of `git issue list -S`",
                )
            })?;
        }
        if let Some(e) = get("events") {
            Filter::parse_kinds(&e)?;
        }
        hooks.push(Hook {
            fingerprint: format!("{vars:?}"),
            timeout: dur("timeout", TIMEOUT)?,
            backoff: dur("backoff", BACKOFF)?,
            max_attempts,
            query: get("query"),
            events: get("events"),
            secret: get("secret"),
            target,
            name,
        });
    }
    Ok(hooks)
}

/// A webhook by name, or an error listing the ones there are.
pub fn find(repo: &Repo, name: &str) -> Result<Hook> {
    let hooks = configured(repo)?;
    let names: Vec<String> = hooks.iter().map(|h| h.name.clone()).collect();
    hooks.into_iter().find(|h| h.name == name).ok_or_else(|| {
        Error::invalid(
            format!("no webhook named '{name}'"),
            if names.is_empty() {
                format!("add one: `git config grit.webhook.{name}.url http://…`")
            } else {
                format!("the webhooks are: {}", names.join(", "))
            },
        )
    })
}

impl Hook {
    /// The filter of its records.
    pub fn filter(&self) -> Result<Filter> {
        Ok(Filter {
            query: self
                .query
                .as_deref()
                .map(|q| crate::query::parse(q, crate::repo::now_ms()))
                .transpose()
                .map_err(|e| Error::invalid(e.message, "the query language is the one of `git issue list -S`"))?,
            kinds: self
                .events
                .as_deref()
                .map(Filter::parse_kinds)
                .transpose()?
                .unwrap_or_default(),
        })
    }

    fn dir(repo: &Repo) -> PathBuf {
        Feed::dir(&repo.grit_dir).join("webhooks")
    }

    fn cursor_path(&self, repo: &Repo) -> PathBuf {
        Self::dir(repo).join(format!("{}.cursor", file_name(&self.name)))
    }

    fn parked_path(&self, repo: &Repo) -> PathBuf {
        Self::dir(repo).join(format!("{}.parked", file_name(&self.name)))
    }

    /// Its durable cursor, if it has delivered (or started) before.
    pub fn cursor(&self, repo: &Repo) -> Option<Cursor> {
        fs::read_to_string(self.cursor_path(repo))
            .ok()
            .and_then(|s| Cursor::parse(s.trim()).ok())
    }

    /// Its durable cursor's file, open for moving it, and locked (exclusively, waiting for
    /// another holder) until dropped: one delivery at a time per webhook, whichever process
    /// runs it, so two never send the same records twice or out of order.
    pub fn cursor_file(&self, repo: &Repo) -> Result<CursorFile> {
        let path = self.cursor_path(repo);
        let file = crate::sys::lock_file(&path)?;
        Ok(CursorFile { file, path })
    }

    /// The deliveries parked after their last attempt failed.
    pub fn parked(&self, repo: &Repo) -> Vec<Parked> {
        fs::read_to_string(self.parked_path(repo))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn park(&self, repo: &Repo, p: &Parked) -> Result<()> {
        let dir = Self::dir(repo);
        fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let path = self.parked_path(repo);
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(Error::io(&path))?;
        let line = serde_json::to_string(p).expect("serialises");
        writeln!(f, "{line}").map_err(Error::io(&path))
    }

    fn write_parked(&self, repo: &Repo, ps: &[Parked]) -> Result<()> {
        let path = self.parked_path(repo);
        if ps.is_empty() {
            return match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io { path, source: e }),
                _ => Ok(()),
            };
        }
        let mut text = String::new();
        for p in ps {
            text.push_str(&serde_json::to_string(p).expect("serialises"));
            text.push('\n');
        }
        let tmp = path.with_extension("parked.tmp");
        fs::write(&tmp, text).map_err(Error::io(&tmp))?;
        fs::rename(&tmp, &path).map_err(Error::io(&path))
    }

    /// Where it delivers, as a person reads it: the URL, or `command: …`.
    pub fn target_text(&self) -> String {
        match &self.target {
            Target::Url(u) => u.clone(),
            Target::Command(c) => format!("command: {c}"),
        }
    }
}

/// A webhook's cursor file. Each move is one small write at the start of the file, padded to
/// a fixed width, so the file always holds one whole cursor; it is not synced to disk (a power
/// loss costs a redelivery, never a gap).
pub struct CursorFile {
    file: fs::File,
    path: PathBuf,
}

/// The width of a cursor record (an epoch, an offset and a count fit many times over).
const CURSOR_WIDTH: usize = 80;

impl CursorFile {
    /// Moves the cursor to `c`.
    pub fn save(&self, c: &Cursor) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let mut line = c.to_string();
        line.truncate(CURSOR_WIDTH - 1);
        let line = format!("{line:<width$}\n", width = CURSOR_WIDTH - 1);
        self.file
            .write_all_at(line.as_bytes(), 0)
            .map_err(Error::io(&self.path))
    }
}

/// A name as a file name: what is not a letter, digit, `-`, `_` or `.` becomes `_`.
fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One delivery: a stable id (the same on every attempt and after a restart), what it is
/// about, and the body sent.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Delivery {
    /// The delivery's id: the same on every attempt.
    pub id: String,
    /// The record's kind (`issue.created`, `lock`, `sandbox`, `ping`).
    pub event: String,
    /// The JSON sent.
    pub body: Value,
}

/// A delivery parked after its last attempt failed.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Parked {
    /// The delivery.
    pub delivery: Delivery,
    /// Attempts made.
    pub attempts: u32,
    /// What the last one said.
    pub error: String,
    /// When it was parked (RFC 3339).
    pub parked_at: String,
}

impl Delivery {
    /// The delivery of a record to `hook`. Its id is a hash of the webhook's name and what
    /// the record is (an event's id; a lock or sandbox record's place in the feed).
    pub fn of(hook: &str, item: &Item) -> Delivery {
        let what = item.record.pointer("/event/id").and_then(Value::as_str).map_or_else(
            || format!("{}:{}", item.cursor.epoch, item.cursor.offset),
            str::to_owned,
        );
        let id = delivery_id(hook, &what);
        let mut body = item.record.clone();
        if let Some(o) = body.as_object_mut() {
            o.insert("delivery".into(), json!(id));
            o.insert("webhook".into(), json!(hook));
        }
        Delivery {
            id,
            event: item.kind.clone(),
            body,
        }
    }
}

fn delivery_id(hook: &str, what: &str) -> String {
    use blake2::digest::{Update, VariableOutput};
    let mut h = blake2::Blake2bVar::new(16).expect("16 is a valid length");
    h.update(hook.as_bytes());
    h.update(&[0]);
    h.update(what.as_bytes());
    let mut out = [0u8; 16];
    h.finalize_variable(&mut out).expect("the length asked for");
    crate::hex::encode(&out)
}

/// `sha256=<hex>`: HMAC-SHA256 of the body with the secret, as GitHub's `X-Hub-Signature-256`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", crate::hex::encode(&mac.finalize().into_bytes()))
}

/// Sends deliveries for one webhook, keeping connections open between them.
pub struct Sender {
    hook: Hook,
    agent: ureq::Agent,
}

impl Sender {
    /// A sender for `hook`.
    pub fn new(hook: Hook) -> Sender {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(hook.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("grit/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Sender { hook, agent }
    }

    /// One attempt; the error says what went wrong.
    pub fn send(&self, d: &Delivery) -> std::result::Result<(), String> {
        let body = serde_json::to_vec(&d.body).expect("serialises");
        let sig = self.hook.secret.as_deref().map(|s| signature(s, &body));
        match &self.hook.target {
            Target::Url(url) => {
                let mut req = self
                    .agent
                    .post(url)
                    .header("Content-Type", "application/json")
                    .header("X-Grit-Delivery", &d.id)
                    .header("X-Grit-Event", &d.event)
                    .header("X-Grit-Webhook", &self.hook.name);
                if let Some(sig) = &sig {
                    req = req
                        .header("X-Grit-Signature-256", sig)
                        .header("X-Hub-Signature-256", sig);
                }
                match req.send(&body[..]) {
                    Ok(resp) if resp.status().is_success() => Ok(()),
                    Ok(resp) => Err(format!("{url} answered {}", resp.status())),
                    Err(e) => Err(format!("{url}: {e}")),
                }
            }
            Target::Command(line) => run_command(line, &body, d, sig.as_deref(), &self.hook),
        }
    }

    /// Attempts until it succeeds, backing off after each failure, at most `max_attempts`
    /// times; between attempts `stop` is checked. The error is the last attempt's.
    pub fn deliver(
        &self,
        d: &Delivery,
        stop: &dyn Fn() -> bool,
        failed: &mut dyn FnMut(&str),
    ) -> std::result::Result<(), (u32, String)> {
        let mut wait = self.hook.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send(d) {
                Ok(()) => return Ok(()),
                Err(e) if attempt >= self.hook.max_attempts => return Err((attempt, e)),
                Err(e) => {
                    failed(&e);
                    let until = Instant::now() + wait;
                    while Instant::now() < until {
                        if stop() {
                            return Err((attempt, e));
                        }
                        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
                    }
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

fn run_command(
    line: &str,
    body: &[u8],
    d: &Delivery,
    sig: Option<&str>,
    hook: &Hook,
) -> std::result::Result<(), String> {
    use std::os::unix::process::CommandExt;
    // The deadline counts from the start: writing the body is part of the attempt.
    let deadline = Instant::now() + hook.timeout;
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", line])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group, so that the deadline ends whatever it started too.
        .process_group(0)
        .env("GRIT_WEBHOOK", &hook.name)
        .env("GRIT_DELIVERY", &d.id)
        .env("GRIT_EVENT", &d.event);
    if let Some(sig) = sig {
        cmd.env("GRIT_SIGNATURE_256", sig);
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot run `{line}`: {e}"))?;
    // The body goes in on its own thread: a command that does not read it (or not all of it)
    // must not hold this one past the deadline. What it does not read is its own business.
    let writer = child.stdin.take().map(|mut stdin| {
        let body = body.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&body);
        })
    });
    // Its stderr is drained as it comes, so a chatty command never blocks on a full pipe.
    let reader = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            use std::io::Read;
            let mut err = Vec::new();
            let _ = e.read_to_end(&mut err);
            String::from_utf8_lossy(&err).into_owned()
        })
    });
    let pgid = child.id() as i32;
    let outcome = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                crate::sys::kill_group(pgid);
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("`{line}` timed out after {} ms", hook.timeout.as_millis()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => break Err(format!("waiting for `{line}`: {e}")),
        }
    };
    // Whatever the command left running in its group goes with it.
    crate::sys::kill_group(pgid);
    if let Some(w) = writer {
        let _ = w.join();
    }
    let err = reader.and_then(|r| r.join().ok()).unwrap_or_default();
    let status = outcome?;
    if status.success() {
        return Ok(());
    }
    let err = err.trim();
    Err(format!(
        "`{line}` exited with {}{}",
        status.code().map_or_else(|| "a signal".to_owned(), |c| c.to_string()),
        if err.is_empty() {
            String::new()
        } else {
            format!(": {}", err.lines().last().unwrap_or(""))
        }
    ))
}

/// What one pass of deliveries did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Pass {
    /// Deliveries made.
    pub delivered: u64,
    /// Deliveries parked.
    pub parked: u64,
}

/// Delivers what the feed holds past the webhook's cursor, until it is caught up (or `stop`).
/// A webhook that never ran starts from the end of the feed: it is told of what comes after it
/// was added, not of history. `status` is called after each delivery.
pub fn deliver_pending(
    store: &Store,
    hook: &Hook,
    sender: &Sender,
    stop: &dyn Fn() -> bool,
    status: &mut dyn FnMut(&Status),
) -> Result<Pass> {
    let repo = &store.repo;
    // The cursor is read under its lock: another delivery that held it may have moved it.
    let cursor = hook.cursor_file(repo)?;
    let since = match hook.cursor(repo) {
        Some(c) => Since::At(c),
        None => Since::Now,
    };
    let (mut stream, warning) = Stream::open(repo, &since)?;
    let mut st = Status {
        name: hook.name.clone(),
        target: hook.target_text(),
        cursor: Some(stream.cursor().to_string()),
        parked: hook.parked(repo).len(),
        last_error: warning,
        ..Default::default()
    };
    if hook.cursor(repo).as_ref() != Some(stream.cursor()) {
        cursor.save(stream.cursor())?;
    }
    let filter = hook.filter()?;
    let mut pass = Pass::default();
    loop {
        let items = stream.poll(store, &filter, 1 << 18)?;
        if items.is_empty() {
            cursor.save(stream.cursor())?;
            st.cursor = Some(stream.cursor().to_string());
            status(&st);
            return Ok(pass);
        }
        for item in items {
            if stop() {
                return Ok(pass);
            }
            let d = Delivery::of(&hook.name, &item);
            st.in_flight = true;
            let result = sender.deliver(&d, stop, &mut |e| {
                st.failed_attempts += 1;
                st.last_error = Some(e.to_owned());
                status(&st);
            });
            st.in_flight = false;
            match result {
                Ok(()) => {
                    st.delivered += 1;
                    pass.delivered += 1;
                }
                Err(_) if stop() => return Ok(pass),
                Err((attempts, error)) => {
                    st.failed_attempts += 1;
                    st.last_error = Some(error.clone());
                    hook.park(
                        repo,
                        &Parked {
                            delivery: d,
                            attempts,
                            error,
                            parked_at: crate::repo::format_time(crate::repo::now_ms()),
                        },
                    )?;
                    st.parked += 1;
                    pass.parked += 1;
                }
            }
            cursor.save(&item.cursor)?;
            st.cursor = Some(item.cursor.to_string());
            status(&st);
        }
    }
}

/// `git wal webhook retry NAME`: one more attempt for each parked delivery; those that fail
/// again stay parked. Returns (delivered, still parked).
pub fn retry(repo: &Repo, hook: &Hook) -> Result<(usize, Vec<Parked>)> {
    let sender = Sender::new(Hook {
        max_attempts: 1,
        ..hook.clone()
    });
    let mut left = Vec::new();
    let mut ok = 0;
    for mut p in hook.parked(repo) {
        match sender.send(&p.delivery) {
            Ok(()) => ok += 1,
            Err(e) => {
                p.attempts += 1;
                p.error = e;
                left.push(p);
            }
        }
    }
    hook.write_parked(repo, &left)?;
    Ok((ok, left))
}

/// `git wal webhook test NAME`: a sample delivery (`type: ping`), once.
pub fn test(hook: &Hook) -> std::result::Result<Delivery, String> {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).expect("the OS has randomness");
    let id = delivery_id(&hook.name, &format!("ping:{}", crate::hex::encode(&b)));
    let d = Delivery {
        body: json!({
            "type": "ping",
            "delivery": id,
            "webhook": hook.name,
            "zen": "Everything canonical is in git.",
            "query": hook.query,
            "events": hook.events,
        }),
        id,
        event: "ping".into(),
    };
    Sender::new(Hook {
        max_attempts: 1,
        ..hook.clone()
    })
    .send(&d)
    .map(|()| d)
}

/// The daemon's webhook thread: one worker per configured webhook, restarted when its
/// configuration changes (read again every few seconds).
pub fn run(shared: &Arc<Shared>) {
    let mut workers: Vec<(Hook, Arc<AtomicBool>)> = Vec::new();
    while !shared.stopping.load(Ordering::Relaxed) {
        let hooks = match Repo::discover(&shared.dir).and_then(|r| configured(&r)) {
            Ok(h) => h,
            Err(e) => {
                shared.log(format!("webhooks: {e}"));
                Vec::new()
            }
        };
        workers.retain(|(w, stop)| {
            let keep = hooks.iter().any(|h| h.name == w.name && h.fingerprint == w.fingerprint);
            if !keep {
                stop.store(true, Ordering::SeqCst);
            }
            keep
        });
        for h in hooks {
            if workers.iter().any(|(w, _)| w.name == h.name) {
                continue;
            }
            let stop = Arc::new(AtomicBool::new(false));
            let (s, st, hook) = (shared.clone(), stop.clone(), h.clone());
            shared.log(format!("webhook {}: delivering to {}", h.name, h.target_text()));
            let _ = std::thread::Builder::new()
                .name(format!("webhook {}", h.name))
                .spawn(move || worker(&s, &hook, &st));
            workers.push((h, stop));
        }
        let names: Vec<&str> = workers.iter().map(|(w, _)| w.name.as_str()).collect();
        shared
            .webhooks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|s| names.contains(&s.name.as_str()));
        // Read again when the config file changes (or once a minute, should a change be missed).
        let seen = shared.config.load(Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(60);
        while shared.config.load(Ordering::SeqCst) == seen && !shared.stopping.load(Ordering::Relaxed) {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            shared.wait_past(shared.generation(), left);
        }
    }
    for (_, stop) in workers {
        stop.store(true, Ordering::SeqCst);
    }
}

fn worker(shared: &Arc<Shared>, hook: &Hook, stop: &AtomicBool) {
    let store = match Store::open(&shared.dir) {
        Ok(s) => s,
        Err(e) => return shared.log(format!("webhook {}: {e}", hook.name)),
    };
    let sender = Sender::new(hook.clone());
    let stopped = || stop.load(Ordering::Relaxed) || shared.stopping.load(Ordering::Relaxed);
    let publish = |st: &Status| {
        let mut all = shared.webhooks.lock().unwrap_or_else(|p| p.into_inner());
        match all.iter_mut().find(|s| s.name == st.name) {
            Some(s) => *s = st.clone(),
            None => all.push(st.clone()),
        }
    };
    let mut totals = Status::default();
    while !stopped() {
        let seen = shared.generation();
        let base = totals.clone();
        match deliver_pending(&store, hook, &sender, &stopped, &mut |st| {
            let mut st = st.clone();
            st.delivered += base.delivered;
            st.failed_attempts += base.failed_attempts;
            totals = st.clone();
            publish(&st);
        }) {
            Ok(p) => {
                if p.delivered + p.parked > 0 {
                    shared.touch();
                }
                if p.parked > 0 {
                    shared.log(format!("webhook {}: {} delivery(ies) parked", hook.name, p.parked));
                }
            }
            Err(e) => {
                shared.log(format!("webhook {}: {e}", hook.name));
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        shared.wait_past(seen, Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_githubs_documented_example() {
        // From GitHub's "Validating webhook deliveries".
        assert_eq!(
            signature("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn delivery_ids_are_stable_and_per_webhook() {
        assert_eq!(delivery_id("a", "x"), delivery_id("a", "x"));
        assert_ne!(delivery_id("a", "x"), delivery_id("b", "x"));
        assert_eq!(delivery_id("a", "x").len(), 32);
    }
}
