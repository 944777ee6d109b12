//! `git wal watch`, `git wal daemon` and `git wal webhook`: the live stream, the optional
//! daemon, and webhooks (`crate::live` does the work).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{CommandError, Ui};
use crate::live::daemon;
use crate::live::webhook;
use crate::live::{Filter, FoldLater, Since, Stream, Waker};
use crate::repo::Repo;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Only events of issues the query matches; lock and sandbox records are then left out
    #[command(flatten)]
    pub query: super::search::QueryArgs,
    /// Only these record kinds, comma-separated: an event kind (issue.created), issue.*, lock,
    /// sandbox
    #[arg(long, value_name = "KINDS")]
    pub kind: Option<String>,
    /// Start from a cursor a record carried (resuming right after it), `start` (everything the
    /// feed holds) or `now` (the default)
    #[arg(long, value_name = "CURSOR")]
    pub since: Option<String>,
    /// Exit after N records
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Exit after this long (500ms, 30s, 10m)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Watch in this process even when the daemon runs
    #[arg(long)]
    pub no_daemon: bool,
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Start the daemon in the background (nothing happens if it runs already)
    Start(DaemonStartArgs),
    /// Stop the running daemon
    Stop(DaemonNoArgs),
    /// Show whether the daemon runs: its pid, clients, last sync, webhooks and their pending
    /// and parked deliveries
    Status(DaemonNoArgs),
    /// Run the daemon in this process, in the foreground, until it is stopped or idle
    Run(DaemonNoArgs),
}

#[derive(Debug, Args)]
pub struct DaemonStartArgs {}

#[derive(Debug, Args)]
pub struct DaemonNoArgs {}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// List the webhooks in git config, with their cursor and parked deliveries
    List(DaemonNoArgs),
    /// Send a sample delivery (type "ping") to a webhook, once
    Test(WebhookNameArgs),
    /// Try each parked delivery of a webhook again, once; those that fail stay parked
    Retry(WebhookNameArgs),
    /// Deliver what is pending now, without the daemon, and exit (for cron or CI)
    Deliver(WebhookDeliverArgs),
}

#[derive(Debug, Args)]
pub struct WebhookNameArgs {
    /// The webhook's name (grit.webhook.<name>.*)
    pub name: String,
}

#[derive(Debug, Args)]
pub struct WebhookDeliverArgs {
    /// Only this webhook (default: all)
    pub name: Option<String>,
}

fn out_err(e: std::io::Error) -> CommandError {
    e.into()
}

/// Prints one record: its JSON with `--json`, else a line.
fn print_record(
    ui: &mut Ui,
    store: &Store,
    names: &mut HashMap<String, String>,
    rec: &Value,
) -> Result<(), CommandError> {
    if ui.json {
        serde_json::to_writer(ui.out(), rec).map_err(std::io::Error::from)?;
        writeln!(ui.out()).map_err(out_err)?;
        return ui.flush().map_err(out_err);
    }
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let line = match rec["type"].as_str() {
        Some("event") => {
            let ev = &rec["event"];
            let actor = s(&ev["actor"]);
            let who = match names.get(&actor) {
                Some(n) => n.clone(),
                None => {
                    let name = crate::event::ActorId::from_hex(&actor)
                        .and_then(|a| store.index.author(&a).ok())
                        .and_then(|a| a.name)
                        .unwrap_or_else(|| actor.chars().take(12).collect());
                    names.insert(actor, name.clone());
                    name
                }
            };
            let issue = rec["issue"]["short_id"]
                .as_str()
                .map_or_else(|| s(&ev["entity"]).chars().take(7).collect(), str::to_owned);
            format!(
                "{}  {issue}  {}  {who}: {}",
                s(&ev["time"]),
                s(&ev["kind"]),
                super::term::esc(&s(&ev["summary"]))
            )
        }
        Some("lock") => {
            let l = &rec["lock"]["lock"];
            format!(
                "lock  {} {}  owner {}{}",
                s(&rec["lock"]["change"]),
                super::term::esc(&s(&l["resource"])),
                s(&l["owner"]).chars().take(12).collect::<String>(),
                l["note"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .map(|n| format!("  ({})", super::term::esc(n)))
                    .unwrap_or_default()
            )
        }
        Some("sandbox") => {
            let x = &rec["sandbox"];
            let extra = match x["step"].as_str() {
                Some("ran") => format!("  exit {}", x["exit_code"]),
                Some("committed") => format!("  {}", s(&x["commit"]).chars().take(12).collect::<String>()),
                _ => String::new(),
            };
            format!("sandbox  {} {}{extra}", s(&x["step"]), super::term::esc(&s(&x["name"])))
        }
        _ => return Ok(()),
    };
    writeln!(ui.out(), "{line}").map_err(out_err)?;
    ui.flush().map_err(out_err)
}

pub fn watch(ui: &mut Ui, a: WatchArgs) -> Result<(), CommandError> {
    let store = super::open_store(ui)?;
    let filtered = a.query.search.is_some() || a.query.view.is_some();
    let query = filtered
        .then(|| super::search::parse_query(&store, &a.query))
        .transpose()?;
    let kinds = a
        .kind
        .as_deref()
        .map(Filter::parse_kinds)
        .transpose()?
        .unwrap_or_default();
    let since = a.since.as_deref().map(Since::parse).transpose()?.unwrap_or(Since::Now);
    let deadline = a
        .timeout
        .as_deref()
        .map(daemon::duration)
        .transpose()?
        .map(|d| Instant::now() + d);
    if a.count == Some(0) {
        return Ok(());
    }
    let mut names = HashMap::new();
    let mut left = a.count;
    let mut emit = |ui: &mut Ui, rec: &Value| -> Result<bool, CommandError> {
        print_record(ui, &store, &mut names, rec)?;
        if let Some(n) = left.as_mut() {
            *n = n.saturating_sub(1);
            return Ok(*n > 0);
        }
        Ok(true)
    };
    // The daemon takes a query's text: a saved view, or `@me`, is resolved here.
    let plain = a.query.view.is_none() && !a.query.search.as_deref().is_some_and(|q| q.contains("@me"));
    if !a.no_daemon && plain && daemon::running(&store.repo.grit_dir).is_some() {
        let params = json!({
            "query": a.query.search,
            "kinds": kinds,
            "since": match &since {
                Since::Now => "now".to_owned(),
                Since::Start => "start".to_owned(),
                Since::At(c) => c.to_string(),
            },
        });
        if let Some(done) = watch_via_daemon(ui, &store, params, deadline, &mut emit)? {
            return done;
        }
    }
    let filter = Filter { query, kinds };
    let waker = Waker::new(&store.repo)?;
    let mut fold = FoldLater::default();
    let (mut stream, warning) = Stream::open(&store.repo, &since)?;
    if let Some(w) = warning {
        ui.note(format!("warning: {w}"));
    }
    loop {
        for item in stream.poll(&store, &filter, 1 << 20)? {
            if !emit(ui, &item.record)? {
                return Ok(());
            }
        }
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) => left.min(Duration::from_secs(3600)),
                None => return Ok(()),
            },
            None => Duration::from_secs(3600),
        };
        let woken = waker.wait(fold.timeout(wait));
        fold.note(&woken);
        if fold.due()
            && let Err(e) = store.index.refresh(&store.repo)
        {
            ui.note(format!("warning: folding what arrived failed: {e}"));
        }
    }
}

/// Streams through the daemon's subscription. `None` when the daemon could not be used (the
/// caller then watches by itself).
fn watch_via_daemon(
    ui: &mut Ui,
    store: &Store,
    params: Value,
    deadline: Option<Instant>,
    emit: &mut dyn FnMut(&mut Ui, &Value) -> Result<bool, CommandError>,
) -> Result<Option<Result<(), CommandError>>, CommandError> {
    let Ok(conn) = daemon::connect(&store.repo.grit_dir) else {
        return Ok(None);
    };
    let mut w = conn.try_clone()?;
    writeln!(
        w,
        "{}",
        json!({ "jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": params })
    )?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    loop {
        if let Some(d) = deadline {
            match d.checked_duration_since(Instant::now()) {
                Some(left) => conn.set_read_timeout(Some(left.max(Duration::from_millis(1))))?,
                None => return Ok(Some(Ok(()))),
            }
        }
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => {
                return Ok(Some(Err(CommandError::failure("the daemon closed the stream").hint(
                    "`git wal daemon status` says whether it runs; `git wal watch --no-daemon` watches without it",
                ))));
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Ok(Some(Ok(())));
            }
            Err(e) => return Err(e.into()),
        }
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(e) = msg.get("error") {
            return Ok(Some(Err(CommandError::usage(
                e["message"].as_str().unwrap_or("the daemon refused the subscription"),
                "check the query and the cursor",
            ))));
        }
        if let Some(w) = msg.pointer("/result/warning").and_then(Value::as_str) {
            ui.note(format!("warning: {w}"));
        }
        if msg["method"] == "record" && !emit(ui, &msg["params"]["record"])? {
            return Ok(Some(Ok(())));
        }
    }
}

pub fn daemon_cmd(ui: &mut Ui, c: DaemonCommand) -> Result<(), CommandError> {
    let repo = Repo::discover(&ui.dir)?;
    match c {
        DaemonCommand::Start(_) => {
            let (info, already) = daemon::start(&repo)?;
            if ui.json {
                return ui.json(&json!({ "pid": info.pid, "socket": info.socket, "already_running": already }));
            }
            if already {
                ui.say(format!("the daemon runs already (pid {})", info.pid))
            } else {
                ui.say(format!(
                    "started the daemon (pid {}) on {}",
                    info.pid,
                    info.socket.display()
                ))
            }
        }
        DaemonCommand::Stop(_) => {
            let stopped = daemon::stop(&repo.grit_dir)?;
            if ui.json {
                return ui.json(&json!({ "stopped": stopped.as_ref().map(|i| i.pid) }));
            }
            match stopped {
                Some(i) => ui.say(format!("stopped the daemon (pid {})", i.pid)),
                None => ui.say("no daemon runs"),
            }
        }
        DaemonCommand::Status(_) => {
            let status = match daemon::running(&repo.grit_dir) {
                // One that exits as it is asked is not running either.
                Some(_) => match daemon::call(&repo.grit_dir, "status", json!({})) {
                    Ok(s) => s,
                    Err(_) if daemon::running(&repo.grit_dir).is_none() => json!({ "running": false }),
                    Err(e) => return Err(e.into()),
                },
                None => json!({ "running": false }),
            };
            let feed = crate::feed::Feed::of(&repo);
            let parked: Vec<Value> = webhook::configured(&repo)?
                .iter()
                .map(|h| {
                    // Records past its cursor: an upper bound on what it has still to deliver
                    // (its filter may want fewer).
                    let pending = h
                        .cursor(&repo)
                        .and_then(|c| feed.resume(&c).ok())
                        .and_then(|(c, _)| feed.read(c.offset, 16 << 20).ok())
                        .map_or(0, |r| r.len());
                    json!({ "name": h.name, "parked": h.parked(&repo).len(), "pending_records": pending })
                })
                .collect();
            if ui.json {
                let mut s = status;
                s["deliveries"] = json!(parked);
                return ui.json(&s);
            }
            print_status(ui, &status, &parked)
        }
        DaemonCommand::Run(_) => {
            if !daemon::run(&ui.dir)? {
                return Err(CommandError::failure("another daemon runs for this repository")
                    .hint("`git wal daemon status` shows it; `git wal daemon stop` stops it"));
            }
            Ok(())
        }
    }
}

fn print_status(ui: &mut Ui, s: &Value, parked: &[Value]) -> Result<(), CommandError> {
    if s["running"] != json!(true) {
        ui.say("the daemon is not running (`git wal daemon start` starts it)")?;
    } else {
        ui.say(format!(
            "the daemon runs: pid {}, since {}, {} client(s), {} subscription(s)",
            s["pid"],
            s["started_at"].as_str().unwrap_or("?"),
            s["clients"],
            s["subscriptions"]
        ))?;
        let sync = &s["sync"];
        if sync["interval_ms"].as_u64().unwrap_or(0) == 0 || sync["remote"].is_null() {
            ui.say("  background sync: off")?;
        } else {
            ui.say(format!(
                "  background sync: every {} s with {}; last {} ({}), {} failure(s) in a row",
                sync["interval_ms"].as_u64().unwrap_or(0) / 1000,
                sync["remote"].as_str().unwrap_or("?"),
                sync["last_at"].as_str().unwrap_or("never"),
                sync["last_message"].as_str().unwrap_or("-"),
                sync["failures"]
            ))?;
        }
        for w in s["webhooks"].as_array().into_iter().flatten() {
            ui.say(format!(
                "  webhook {}: {} delivered, {} failed attempt(s){}{}",
                w["name"].as_str().unwrap_or("?"),
                w["delivered"],
                w["failed_attempts"],
                if w["in_flight"] == json!(true) {
                    ", delivering"
                } else {
                    ""
                },
                w["last_error"]
                    .as_str()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            ))?;
        }
    }
    for p in parked {
        if p["pending_records"].as_u64().unwrap_or(0) > 0 {
            ui.say(format!(
                "  webhook {}: {} record(s) not delivered yet",
                p["name"].as_str().unwrap_or("?"),
                p["pending_records"]
            ))?;
        }
        if p["parked"].as_u64().unwrap_or(0) > 0 {
            ui.say(format!(
                "  webhook {}: {} parked deliver(ies) (`git wal webhook retry {}`)",
                p["name"].as_str().unwrap_or("?"),
                p["parked"],
                p["name"].as_str().unwrap_or("?")
            ))?;
        }
    }
    Ok(())
}

pub fn webhook_cmd(ui: &mut Ui, c: WebhookCommand) -> Result<(), CommandError> {
    let repo = Repo::discover(&ui.dir)?;
    match c {
        WebhookCommand::List(_) => {
            let hooks = webhook::configured(&repo)?;
            let rows: Vec<Value> = hooks
                .iter()
                .map(|h| {
                    json!({
                        "name": h.name,
                        "target": h.target_text(),
                        "query": h.query,
                        "events": h.events,
                        "signed": h.secret.is_some(),
                        "cursor": h.cursor(&repo).map(|c| c.to_string()),
                        "parked": h.parked(&repo).len(),
                    })
                })
                .collect();
            if ui.json {
                return ui.json(&rows);
            }
            if rows.is_empty() {
                ui.note("no webhooks; `git config grit.webhook.NAME.url http://…` adds one");
            }
            for r in rows {
                ui.say(format!(
                    "{}  {}{}{}",
                    r["name"].as_str().unwrap_or(""),
                    r["target"].as_str().unwrap_or(""),
                    r["query"].as_str().map(|q| format!("  -S {q}")).unwrap_or_default(),
                    match r["parked"].as_u64() {
                        Some(0) | None => String::new(),
                        Some(n) => format!("  ({n} parked)"),
                    }
                ))?;
            }
            Ok(())
        }
        WebhookCommand::Test(a) => {
            let hook = webhook::find(&repo, &a.name)?;
            match webhook::test(&hook) {
                Ok(d) => {
                    if ui.json {
                        return ui.json(&json!({ "delivered": true, "delivery": d.id }));
                    }
                    ui.say(format!(
                        "delivered a ping to {} (delivery {})",
                        hook.target_text(),
                        d.id
                    ))
                }
                Err(e) => Err(
                    CommandError::failure(format!("the test delivery failed: {e}")).hint(format!(
                        "check grit.webhook.{}.url (or .command) and that it answers",
                        a.name
                    )),
                ),
            }
        }
        WebhookCommand::Retry(a) => {
            let hook = webhook::find(&repo, &a.name)?;
            let (ok, left) = webhook::retry(&repo, &hook)?;
            if ui.json {
                return ui.json(&json!({ "delivered": ok, "parked": left.len() }));
            }
            ui.say(format!("{ok} delivered, {} still parked", left.len()))?;
            if let Some(p) = left.first() {
                return Err(
                    CommandError::failure(format!("{} deliver(ies) failed again: {}", left.len(), p.error))
                        .hint(format!("`git wal webhook retry {}` tries them again", a.name)),
                );
            }
            Ok(())
        }
        WebhookCommand::Deliver(a) => {
            let store = super::open_store(ui)?;
            let hooks: Vec<webhook::Hook> = match &a.name {
                Some(n) => vec![webhook::find(&store.repo, n)?],
                None => webhook::configured(&store.repo)?,
            };
            let mut out = Vec::new();
            for h in hooks {
                let sender = webhook::Sender::new(h.clone());
                let pass = webhook::deliver_pending(
                    &store,
                    &h,
                    &sender,
                    &|| super::sandbox::pending_signal().is_some(),
                    &mut |_| {},
                )?;
                out.push(json!({ "name": h.name, "delivered": pass.delivered, "parked": pass.parked }));
            }
            if ui.json {
                return ui.json(&out);
            }
            for o in out {
                ui.say(format!(
                    "{}: {} delivered, {} parked",
                    o["name"].as_str().unwrap_or(""),
                    o["delivered"],
                    o["parked"]
                ))?;
            }
            Ok(())
        }
    }
}
