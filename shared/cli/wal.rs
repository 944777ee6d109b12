//! `git wal`: the event log underneath — actors, the log itself, the index; sync, hooks and
//! snapshots are in `cli::sync`.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use super::sync;
use super::{CommandError, GlobalArgs, Ui, columns, main_with};
use crate::actor::{self, Actor};
use crate::event::SignedEvent;
use crate::index::{Index, is_wal_ref};
use crate::repo::{Repo, format_time};
use crate::sync::Options;
use crate::wal;

/// The event log under grit
///
/// Actors (who writes), the events in refs/grit/wal/, the local index built from them, sync
/// through plain git, hooks and snapshots.
#[derive(Debug, Parser)]
#[command(name = "git-wal", bin_name = "git wal", version, after_help = super::EXIT_STATUS_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
// Each subcommand's arguments are built only when it runs: a command parses its own, not all.
#[command(defer = true)]
pub enum Command {
    /// Set this repository up to share its events: actor, hooks, fetch refspecs
    ///
    /// Creates the actor if needed, installs the hooks, and adds to each remote (or only --remote)
    /// fetch refspecs that mirror refs/grit/* into refs/grit/remotes/<remote>/, so a plain `git fetch`
    /// brings other clones' events and the next command (or the hook, at once) folds them in. Sets
    /// grit.pushWithCode=true unless it is set. Never sets remote.<name>.push. Safe to run again.
    Init(sync::InitArgs),
    /// Fetch, integrate and push the event log (fast-forward only)
    ///
    /// Fetches the remote's refs/grit/ into refs/grit/remotes/<remote>/, integrates each into the
    /// local ref (create, fast-forward, or a union merge when one actor's history diverged between
    /// clones: no event lost, nothing rewritten), then pushes fast-forward only. When the remote
    /// moves during the push, it fetches and integrates again. Prints per ref what happened.
    Sync(sync::SyncArgs),
    /// Fetch and integrate the remote's events, without pushing
    Pull(sync::PullArgs),
    /// Push local events to the remote (fast-forward only), without fetching first
    Push(sync::PushArgs),
    #[command(subcommand)]
    Actor(ActorCommand),
    /// Show events, newest first, as stored in the WAL refs
    Log(LogArgs),
    /// Delete the local index and rebuild it from the refs
    Rebuild(RebuildArgs),
    /// Counts: events, issues, actors, refs, index size, last fold
    Stats(StatsArgs),
    /// Write a compacted copy of the events the last snapshot lacks under refs/grit/snapshots/
    ///
    /// Each snapshot is the next link of a chain: it holds the events since the previous link and
    /// names it as its parent. A fresh clone's first index build reads the chain and then only the
    /// WAL commits after it. Snapshots never replace the WAL. Written automatically, in the
    /// background, once grit.snapshotEvery events (default 10000) are not in a snapshot.
    Snapshot(sync::SnapshotArgs),
    /// Delete old local snapshots, keeping the newest N
    Gc(sync::GcArgs),
    /// Retire the WAL refs of actors silent for longer than a bound, keeping every event
    ///
    /// Syncs, then writes a snapshot link that names each retired actor with its tip and has the
    /// tips as parents, pushes it, and deletes the remote's refs with a lease on those tips (a
    /// ref that moved meanwhile stays), then this clone's copies. Other clones delete theirs when
    /// they sync, if they trust the link's signer (grit.snapshotSigners), and never push them
    /// back. Every fold still reads the retired chains, through the link. An actor that writes
    /// again comes back with its whole history. This clone's own actors are never retired.
    Retire(sync::RetireArgs),
    /// Check the log's structure (no keys needed); exit 4 on any failure
    ///
    /// Every WAL commit's chunk decodes, every event is in canonical form (so its id recomputes
    /// the same anywhere), within the format's bounds and on its owner's ref, every parent and
    /// every issue an event changes is known, every snapshot agrees with the WAL, and the index
    /// holds what the log says it should. Each finding names the ref, the commit and the event.
    Check(HealthArgs),
    /// Check every signature, and every writer's published actor record; exit 4 on any failure
    Verify(VerifyArgs),
    /// Check the installation (hooks, refspecs, index, stale locks, actor records, quarantine,
    /// loose objects, key permissions, sandbox leftovers) and repair what is safe with --fix
    Doctor(DoctorArgs),
    /// List or resolve quarantined events: invalid events found on WAL refs
    ///
    /// An event that fails a check (a bad signature, another actor's event on an actor's ref, a
    /// clock past the format's bound, an unreadable chunk) is quarantined: never applied, named
    /// by every command that reads the log, and carried along in history so that the actor's
    /// valid events still sync. Resolving one stops the warning; it stays unapplied.
    Quarantine(QuarantineArgs),
    /// Stream events, lock changes and sandbox steps as they reach this clone
    ///
    /// Each record is one JSON Lines object with --json: an event with its issue's summary, a
    /// lock change, or a sandbox step, each with the cursor that resumes right after it
    /// (--since). Whatever brought it (a write here, a plain `git fetch`, a sync, another
    /// agent) it shows up; without the daemon the kernel's change notification on the refs
    /// wakes it, no polling.
    Watch(super::live::WatchArgs),
    /// The optional per-repository daemon: background sync, subscriptions, webhooks, and the
    /// sandbox API on a Unix socket (see docs/protocol.md)
    #[command(subcommand)]
    Daemon(super::live::DaemonCommand),
    /// Serve grit to coding agents over the Model Context Protocol (stdio, or HTTP with --http)
    ///
    /// Tools for issues (ready, claim_next, claim, unclaim, show, search, create, comment, edit,
    /// close, link), locks (lock_acquire, lock_release, lock_status), sandboxes (sandbox_create,
    /// sandbox_exec, sandbox_diff, sandbox_commit, sandbox_land, sandbox_remove) and sync;
    /// resources grit://issue/{id}, grit://ready, grit://claims/me and
    /// grit://sandbox/{name}/diff, with subscriptions; prompts prime and work-next. Each request
    /// acts as --actor or GRIT_ACTOR when given, else as the actor the client names itself at
    /// initialise (clientInfo.name, when it is a valid actor label). See docs/mcp.md.
    Mcp(McpArgs),
    /// Set the repository up for coding agents: MCP client configuration and AGENTS.md
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// Webhooks from git config (grit.webhook.<name>.url or .command, .query, .events, .secret):
    /// list, test, retry parked deliveries, deliver without the daemon
    #[command(subcommand)]
    Webhook(super::live::WebhookCommand),
    #[command(subcommand)]
    Hooks(sync::HooksCommand),
    /// Run a hook's work (called by the installed shims)
    #[command(hide = true)]
    Hook(sync::HookArgs),
}

/// Manage the identities this clone writes as
#[derive(Debug, Subcommand)]
pub enum ActorCommand {
    New(ActorNewArgs),
    List(ActorListArgs),
    Use(ActorUseArgs),
    Show(ActorShowArgs),
}

/// Create a local actor (a key pair) and publish its public record
#[derive(Debug, Args)]
pub struct ActorNewArgs {
    /// Local label, used with GRIT_ACTOR=<label> (letters, digits, '.', '_', '-')
    pub label: String,
    /// Display name (default: user.name)
    #[arg(long)]
    pub name: Option<String>,
    /// Email (default: user.email)
    #[arg(long)]
    pub email: Option<String>,
    /// Also make it this repository's default actor (grit.actor)
    #[arg(long = "use")]
    pub make_default: bool,
}

/// List the actors that have a private key in this repository
#[derive(Debug, Args)]
pub struct ActorListArgs {}

/// Make an actor this repository's default (sets grit.actor); GRIT_ACTOR still overrides it
#[derive(Debug, Args)]
pub struct ActorUseArgs {
    /// Label, full actor id, or id:<prefix>
    pub actor: String,
}

/// Show an actor (default: the one this process writes as)
#[derive(Debug, Args)]
pub struct ActorShowArgs {
    /// Label, full actor id, or id:<prefix>
    pub actor: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Show at most N events (0: all)
    #[arg(short = 'n', long, default_value_t = 0, value_name = "N")]
    pub limit: usize,
    /// Only events of this issue (id or unique prefix)
    #[arg(long, value_name = "ID")]
    pub issue: Option<String>,
    /// Check every event's id and signature while reading
    #[arg(long)]
    pub verify: bool,
    /// One line per event from a template: {id} {short_id} {issue} {kind} {actor} {author}
    /// {time} {lamport} {summary} {commit} {ref} (e.g. '{time} {author}: {summary}')
    #[arg(long, value_name = "TEMPLATE")]
    pub format: Option<String>,
}

/// The fields `git wal log --format` knows.
const LOG_FIELDS: [&str; 11] = [
    "id", "short_id", "issue", "kind", "actor", "author", "time", "lamport", "summary", "commit", "ref",
];

fn parse_template(t: &str) -> Result<Vec<(bool, String)>, CommandError> {
    super::parse_template(t, &LOG_FIELDS, "git wal log", "'{time} {author}: {summary}'")
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Replay every WAL commit instead of starting from the newest snapshot
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {}

#[derive(Debug, Args)]
pub struct HealthArgs {}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only the events of this actor (a local label, or a unique prefix of an actor id)
    #[arg(long, value_name = "ACTOR")]
    pub actor: Option<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Repair what is safe to repair, and say what is left for you
    #[arg(long)]
    pub fix: bool,
}

#[derive(Debug, Args)]
pub struct QuarantineArgs {
    #[command(subcommand)]
    pub command: Option<QuarantineCommand>,
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// List quarantined events (the default), resolved ones with --all
    List(QuarantineListArgs),
    /// Stop reporting quarantined events; they stay unapplied
    Resolve(QuarantineResolveArgs),
}

#[derive(Debug, Args)]
pub struct QuarantineListArgs {
    /// Also list the resolved ones
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct QuarantineResolveArgs {
    /// Event ids (or commit ids, for an unreadable chunk), or unique prefixes of them
    #[arg(value_name = "ID", required_unless_present = "all")]
    pub ids: Vec<String>,
    /// Resolve every unresolved one
    #[arg(long, conflicts_with = "ids")]
    pub all: bool,
}

fn both() -> Options {
    Options {
        fetch: true,
        push: true,
        issue: None,
    }
}

pub fn main() -> ExitCode {
    main_with(run, |c: &Cli| &c.global)
}

pub fn run(cli: Cli, ui: &mut Ui) -> Result<(), CommandError> {
    match cli.command {
        Command::Init(a) => sync::init(ui, a),
        Command::Sync(a) => sync::sync_cmd(ui, a.remote, a.issue, both()),
        Command::Pull(a) => sync::sync_cmd(ui, a.remote, None, Options { push: false, ..both() }),
        Command::Push(a) => sync::sync_cmd(ui, a.remote, a.issue, Options { fetch: false, ..both() }),
        Command::Actor(a) => actor_cmd(ui, a),
        Command::Log(a) => log(ui, a),
        Command::Rebuild(a) => rebuild(ui, a),
        Command::Stats(_) => stats(ui),
        Command::Snapshot(_) => sync::snapshot_cmd(ui),
        Command::Gc(a) => sync::gc(ui, a),
        Command::Retire(a) => sync::retire(ui, a),
        Command::Quarantine(a) => quarantine(ui, a),
        Command::Check(_) => health(ui, None),
        Command::Verify(a) => health(ui, Some(a)),
        Command::Doctor(a) => doctor(ui, a),
        Command::Watch(a) => super::live::watch(ui, a),
        Command::Daemon(a) => super::live::daemon_cmd(ui, a),
        Command::Mcp(a) => mcp(ui, a),
        Command::Agents(AgentsCommand::Init(a)) => agents_init(ui, a),
        Command::Webhook(a) => super::live::webhook_cmd(ui, a),
        Command::Hooks(a) => sync::hooks_cmd(ui, a),
        Command::Hook(a) => sync::hook(ui, a),
    }
}

#[derive(Serialize)]
struct ActorJson<'a> {
    label: &'a str,
    #[serde(flatten)]
    record: &'a actor::Record,
    current: bool,
    wal_ref: String,
}

fn actor_json<'a>(a: &'a Actor, current: &str) -> ActorJson<'a> {
    ActorJson {
        label: &a.label,
        record: &a.record,
        current: a.label == current,
        wal_ref: wal::wal_ref(&a.id()),
    }
}

fn actor_cmd(ui: &mut Ui, cmd: ActorCommand) -> Result<(), CommandError> {
    let repo = Repo::discover(&ui.dir)?;
    let current = actor::selected_label(&repo);
    match cmd {
        ActorCommand::New(a) => {
            actor::validate_label(&a.label)?;
            if actor::find(&repo, &a.label)?.is_some_and(|x| x.label == a.label) {
                return Err(CommandError::usage(
                    format!("an actor labelled '{}' already exists", a.label),
                    "pick another label, or `git wal actor show LABEL` to see it",
                ));
            }
            let (name, email) = match (a.name, a.email) {
                (Some(n), Some(e)) => (n, e),
                (n, e) => {
                    let (dn, de) = repo.identity()?;
                    (n.unwrap_or(dn), e.unwrap_or(de))
                }
            };
            let created = actor::create(&repo, &a.label, &name, &email)?;
            if a.make_default {
                repo.set_local_config("grit.actor", &created.label)?;
            }
            if ui.json {
                return ui.json(&actor_json(
                    &created,
                    if a.make_default { &created.label } else { &current },
                ));
            }
            ui.say(format!("created actor {} ({})", created.label, created.id()))
        }
        ActorCommand::List(_) => {
            let all = actor::list_local(&repo)?;
            if ui.json {
                return ui.json(&all.iter().map(|a| actor_json(a, &current)).collect::<Vec<_>>());
            }
            if all.is_empty() {
                ui.note("no local actors yet; one is created on the first write (or `git wal actor new LABEL`)");
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|a| {
                    let mark = if a.label == current { "*" } else { " " };
                    vec![
                        format!("{mark} {}", a.label),
                        a.id().to_hex()[..12].to_owned(),
                        format!("{} <{}>", a.record.name, a.record.email),
                    ]
                })
                .collect();
            for line in columns(&rows) {
                ui.say(line)?;
            }
            Ok(())
        }
        ActorCommand::Use(a) => {
            let found = actor::find(&repo, &a.actor)?.ok_or_else(|| {
                CommandError::usage(
                    format!("no local actor matches '{}'", a.actor),
                    "`git wal actor list` shows them; `git wal actor new LABEL` creates one",
                )
            })?;
            repo.set_local_config("grit.actor", &found.label)?;
            if ui.json {
                return ui.json(&actor_json(&found, &found.label));
            }
            ui.say(format!("now writing as {} ({})", found.label, found.id()))
        }
        ActorCommand::Show(a) => {
            let found = match a.actor {
                Some(q) => actor::find(&repo, &q)?.ok_or_else(|| {
                    CommandError::usage(
                        format!("no local actor matches '{q}'"),
                        "`git wal actor list` shows them",
                    )
                })?,
                None => actor::find(&repo, &current)?.ok_or_else(|| {
                    CommandError::failure(format!("actor '{current}' does not exist yet"))
                        .hint("it is created on the first write, or now with `git wal actor new`")
                })?,
            };
            if ui.json {
                return ui.json(&actor_json(&found, &current));
            }
            ui.say(format!("label:   {}", found.label))?;
            ui.say(format!("id:      {}", found.id()))?;
            ui.say(format!("name:    {}", found.record.name))?;
            ui.say(format!("email:   {}", found.record.email))?;
            ui.say(format!("created: {}", format_time(found.record.created_ms)))?;
            ui.say(format!("ref:     {}", wal::wal_ref(&found.id())))
        }
    }
}

use crate::live::{EventJson, summary};

fn log(ui: &mut Ui, a: LogArgs) -> Result<(), CommandError> {
    let template = a.format.as_deref().map(parse_template).transpose()?;
    let store = super::open_store(ui)?;
    let issue = a.issue.as_deref().map(|q| store.index.resolve(q)).transpose()?;
    let mut all: Vec<(SignedEvent, String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (name, tip) in crate::refs::list_refs(&store.repo, "refs/grit/")? {
        if !is_wal_ref(&name) {
            continue;
        }
        for commit in wal::new_commits(&store.repo, tip, |c| Ok(seen.contains(c)))? {
            seen.insert(commit);
            for ev in wal::read_chunk(&store.repo, &name, commit)?.events {
                if issue.is_none_or(|i| ev.entity() == i) {
                    all.push((ev, commit.to_string(), name.clone()));
                }
            }
        }
    }
    all.sort_by(|x, y| {
        (y.0.event.lamport, y.0.event.wall_ms, y.0.id).cmp(&(x.0.event.lamport, x.0.event.wall_ms, x.0.id))
    });
    all.dedup_by(|x, y| x.0.id == y.0.id);
    if a.limit > 0 {
        all.truncate(a.limit);
    }
    if a.verify {
        for (ev, _, _) in &all {
            ev.verify().map_err(crate::Error::from)?;
        }
    }
    if ui.json {
        let out: Vec<EventJson> = all
            .iter()
            .map(|(ev, commit, reference)| EventJson::of(ev, commit.clone(), reference.clone()))
            .collect();
        return ui.json(&out);
    }
    // Who wrote each event: the person, and which of their actors.
    let mut authors: std::collections::HashMap<crate::event::ActorId, String> = Default::default();
    let mut author = |id: &crate::event::ActorId| -> Result<String, CommandError> {
        if let Some(a) = authors.get(id) {
            return Ok(a.clone());
        }
        let view = store.index.author(id)?;
        let who = match view.name {
            Some(name) => format!("{name} ({})", actor::which(&store.repo, id)),
            None => actor::which(&store.repo, id),
        };
        authors.insert(*id, who.clone());
        Ok(who)
    };
    if let Some(template) = template {
        for (ev, commit, reference) in &all {
            let mut line = String::new();
            for (field, text) in &template {
                if !field {
                    line.push_str(text);
                    continue;
                }
                let value = match text.as_str() {
                    "id" => ev.id.to_hex(),
                    "short_id" => ev.id.to_hex()[..10].to_owned(),
                    "issue" => ev.entity().to_hex()[..7].to_owned(),
                    "kind" => ev.event.kind.name().to_owned(),
                    "actor" => ev.event.actor.to_hex(),
                    "author" => author(&ev.event.actor)?,
                    "time" => format_time(ev.event.wall_ms),
                    "lamport" => ev.event.lamport.to_string(),
                    "summary" => summary(&ev.event.kind),
                    "commit" => commit.clone(),
                    _ => reference.clone(),
                };
                line.push_str(&super::term::esc(&value));
            }
            ui.say(line)?;
        }
        return Ok(());
    }
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(all.len() + 1);
    if ui.tty {
        rows.push(
            ["EVENT", "TIME", "ISSUE", "AUTHOR", "KIND", "SUMMARY"]
                .map(|h| ui.paint("1", h))
                .to_vec(),
        );
    }
    for (ev, _, _) in &all {
        rows.push(vec![
            ui.paint("33", &ev.id.to_hex()[..10]),
            format_time(ev.event.wall_ms),
            ev.entity().to_hex()[..7].to_owned(),
            super::term::esc(&author(&ev.event.actor)?).into_owned(),
            ev.event.kind.name().to_owned(),
            super::term::esc(&super::term::truncate(&summary(&ev.event.kind), 60)).into_owned(),
        ]);
    }
    for line in columns(&rows) {
        ui.say(line.trim_end())?;
    }
    Ok(())
}

fn rebuild(ui: &mut Ui, a: RebuildArgs) -> Result<(), CommandError> {
    let repo = Repo::discover(&ui.dir)?;
    let (_, stats) = Index::open(&repo)?.rebuild(&repo, !a.full)?;
    super::warn_rejected(ui, &repo, &stats.rejected);
    if ui.json {
        return ui.json(&stats);
    }
    let from = match &stats.snapshot {
        Some(s) => format!(" (starting from {s})"),
        None => String::new(),
    };
    ui.say(format!(
        "rebuilt the index: {} events from {} commits on {} refs in {:.1} ms{from}",
        stats.events, stats.commits, stats.refs_changed, stats.millis
    ))
}

fn stats(ui: &mut Ui) -> Result<(), CommandError> {
    let store = super::open_store(ui)?;
    let s = store.index.stats()?;
    if ui.json {
        return ui.json(&s);
    }
    let rows = vec![
        vec!["events".into(), s.events.to_string()],
        vec!["issues".into(), s.issues.to_string()],
        vec!["actors".into(), s.actors.to_string()],
        vec!["refs".into(), s.refs.to_string()],
        vec![
            "index size".into(),
            format!("{} KiB ({})", s.index_bytes / 1024, s.index_path),
        ],
        vec![
            "last fold".into(),
            match (&s.last_fold_at, s.last_fold_ms) {
                (Some(at), Some(ms)) => format!("{at} ({ms:.2} ms)"),
                _ => "never".into(),
            },
        ],
        vec!["lamport".into(), s.lamport.to_string()],
    ];
    for line in columns(&rows) {
        ui.say(line)?;
    }
    Ok(())
}

#[derive(Serialize)]
struct QuarantineJson<'a> {
    #[serde(flatten)]
    entry: &'a crate::quarantine::Entry,
    resolved: bool,
}

fn quarantine(ui: &mut Ui, a: QuarantineArgs) -> Result<(), CommandError> {
    let store = crate::store::Store::open(&ui.dir)?;
    let repo = &store.repo;
    match a
        .command
        .unwrap_or(QuarantineCommand::List(QuarantineListArgs { all: false }))
    {
        QuarantineCommand::List(l) => {
            let q = crate::quarantine::Quarantine::load(repo)?;
            let shown: Vec<QuarantineJson> = q
                .entries
                .iter()
                .map(|e| QuarantineJson {
                    entry: e,
                    resolved: q.is_resolved(e),
                })
                .filter(|j| l.all || !j.resolved)
                .collect();
            if ui.json {
                return ui.json(&shown);
            }
            if shown.is_empty() {
                ui.note("nothing is quarantined");
                return Ok(());
            }
            for j in &shown {
                let mark = if j.resolved { " (resolved)" } else { "" };
                ui.say(format!("{}{mark}", super::quarantine_line(j.entry)))?;
            }
            Ok(())
        }
        QuarantineCommand::Resolve(r) => {
            let keys = if r.all { Vec::new() } else { r.ids };
            let done = crate::quarantine::resolve(repo, &keys)?;
            if ui.json {
                let out: Vec<QuarantineJson> = done
                    .iter()
                    .map(|e| QuarantineJson {
                        entry: e,
                        resolved: true,
                    })
                    .collect();
                return ui.json(&out);
            }
            for e in &done {
                ui.say(format!("resolved {}", e.key()))?;
            }
            if done.is_empty() {
                ui.note("nothing to resolve");
            }
            Ok(())
        }
    }
}

/// `git wal check` (no `verify`) and `git wal verify`.
fn health(ui: &mut Ui, verify: Option<VerifyArgs>) -> Result<(), CommandError> {
    // A log that cannot be folded is what these commands are for: check it all the same.
    let store = crate::store::Store::open_unfolded(&ui.dir)?;
    let folded = store.index.refresh(&store.repo).map_err(|e| e.to_string()).err();
    let (what, report) = match verify {
        None => ("checked", crate::health::check(&store, folded)?),
        Some(a) => {
            let actor = a.actor.map(|q| find_actor(&store, &q)).transpose()?;
            ("verified", crate::health::verify(&store, actor)?)
        }
    };
    let failures = report.failures();
    if ui.json {
        ui.json(&report)?;
    } else {
        for f in &report.findings {
            let at = [&f.reference, &f.commit, &f.event]
                .iter()
                .filter_map(|x| x.as_deref())
                .map(|x| if x.len() == 64 || x.len() == 40 { &x[..12] } else { x })
                .collect::<Vec<_>>()
                .join(" ");
            let mark = if f.resolved { " (quarantined, resolved)" } else { "" };
            ui.say(format!("{}: {at}: {}{mark}", f.check, super::term::esc(&f.message)))?;
        }
        for n in &report.notes {
            ui.say(format!("note: {n} (`git issue unlink` breaks it)"))?;
        }
        ui.say(format!(
            "{what} {} events in {} commits on {} refs and {} snapshots in {:.0} ms: {}",
            report.events,
            report.commits,
            report.refs,
            report.snapshots,
            report.millis,
            match failures {
                0 => "clean".to_owned(),
                n => format!("{n} problem(s)"),
            }
        ))?;
    }
    if failures > 0 {
        ui.flush()?;
        return Err(CommandError {
            damaged_index: None,
            code: super::exit::VERIFY_FAILED,
            message: format!("the log has {failures} problem(s)"),
            causes: vec![],
            hints: vec![
                "a fold quarantines what fails (never applied); `git wal quarantine` lists it".into(),
                "`git wal doctor` checks the rest of the installation".into(),
            ],
        });
    }
    Ok(())
}

/// An actor named by a local label or a unique prefix of any known actor id.
fn find_actor(store: &crate::store::Store, q: &str) -> Result<crate::event::ActorId, CommandError> {
    if let Some(a) = actor::find(&store.repo, q)? {
        return Ok(a.id());
    }
    let q = q.strip_prefix("id:").unwrap_or(q).to_ascii_lowercase();
    let mut ids: Vec<crate::event::ActorId> = crate::refs::list_refs(&store.repo, "refs/grit/")?
        .iter()
        .filter(|(n, _)| is_wal_ref(n) || crate::index::is_actor_ref(n))
        .filter_map(|(n, _)| crate::event::ActorId::from_hex(n.rsplit('/').next()?))
        .filter(|id| id.to_hex().starts_with(&q))
        .collect();
    ids.sort();
    ids.dedup();
    match ids.as_slice() {
        [one] => Ok(*one),
        [] => Err(CommandError::usage(
            format!("no actor matches '{q}'"),
            "give a local label or a prefix of an actor id (`git wal log --json` shows them)",
        )),
        many => Err(crate::Error::Ambiguous {
            what: "actor",
            prefix: q,
            candidates: many.iter().map(|a| a.to_hex()).collect(),
        }
        .into()),
    }
}

fn doctor(ui: &mut Ui, a: DoctorArgs) -> Result<(), CommandError> {
    let store = crate::store::Store::open(&ui.dir)?;
    let report = crate::health::doctor(&store, a.fix)?;
    let remaining = report.remaining();
    if ui.json {
        ui.json(&report)?;
    } else {
        for p in &report.problems {
            let state = match (p.fixed, p.fixable) {
                (true, _) => ui.paint("32", "fixed"),
                (false, true) => ui.paint("33", "fixable"),
                (false, false) => ui.paint("31", "yours"),
            };
            ui.say(format!("{state}  {}: {}", p.check, p.message))?;
            if !p.fixed {
                ui.say(format!("        repair: {}", p.repair))?;
            }
        }
        let fixable = report.problems.iter().filter(|p| p.fixable && !p.fixed).count();
        ui.say(match (report.problems.len(), remaining) {
            (0, _) => format!("checked {}: all well", report.checked.join(", ")),
            (_, 0) => "every problem found was repaired".to_owned(),
            _ if fixable > 0 && !a.fix => format!("{remaining} problem(s); `git wal doctor --fix` repairs {fixable}"),
            _ => format!("{remaining} problem(s) left for you"),
        })?;
    }
    if remaining > 0 {
        ui.flush()?;
        return Err(CommandError {
            damaged_index: None,
            code: super::exit::FAILURE,
            message: String::new(),
            causes: vec![],
            hints: vec![],
        });
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// Serve streamable HTTP on 127.0.0.1:PORT instead of stdio (0 picks a free port)
    #[arg(long, value_name = "PORT")]
    pub http: Option<u16>,
    /// Every request acts as this local actor (default: GRIT_ACTOR, else the client's name)
    #[arg(long, value_name = "LABEL")]
    pub actor: Option<String>,
    /// With --http, require `Authorization: Bearer TOKEN` of every request
    #[arg(long, env = "GRIT_MCP_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// With --http, a browser origin allowed besides the server's own (repeatable)
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
}

fn mcp(ui: &mut Ui, a: McpArgs) -> Result<(), CommandError> {
    if a.http.is_none()
        && (a.token.is_some() || !a.allow_origin.is_empty())
        && std::env::var_os("GRIT_MCP_TOKEN").is_none()
    {
        return Err(CommandError::usage(
            "--token and --allow-origin are for --http",
            "add --http PORT, or leave them out for stdio",
        ));
    }
    let mut opts = crate::mcp::Options::new(ui.dir.clone());
    opts.actor = a.actor;
    opts.http = a.http.map(|port| {
        let mut h = crate::mcp::HttpOptions::on(port);
        h.token = a.token.filter(|t| !t.is_empty());
        h.origins = a.allow_origin;
        h
    });
    crate::mcp::serve(opts)?;
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Write the grit MCP server into the agent harnesses' configuration (.mcp.json,
    /// .cursor/mcp.json, .vscode/mcp.json, .gemini/settings.json) and a section into AGENTS.md
    ///
    /// Prints each change as a diff and changes nothing without --write. Files that hold the
    /// grit server already are left alone; the AGENTS.md section is replaced between its markers.
    Init(AgentsInitArgs),
}

#[derive(Debug, Args)]
pub struct AgentsInitArgs {
    /// Write the changes (without it, only the diff is printed)
    #[arg(long)]
    pub write: bool,
    /// Only these harnesses (claude, cursor, vscode, gemini; repeatable; default all)
    #[arg(long = "harness", value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(["claude", "cursor", "vscode", "gemini"]))]
    pub harness: Vec<String>,
}

fn agents_init(ui: &mut Ui, a: AgentsInitArgs) -> Result<(), CommandError> {
    use crate::ops::agents;
    let repo = Repo::discover(&ui.dir)?;
    let root = repo.git.workdir().map(std::path::Path::to_owned).ok_or_else(|| {
        CommandError::usage(
            "a bare repository has no work tree for agent configuration",
            "run it in a clone with a work tree",
        )
    })?;
    let chosen: Vec<agents::Harness> = agents::HARNESSES
        .iter()
        .filter(|h| a.harness.iter().any(|n| n == h.name))
        .copied()
        .collect();
    let planned = agents::plan(&root, &chosen)?;
    if planned.is_empty() {
        ui.note("the agent configuration and AGENTS.md are up to date");
        return Ok(());
    }
    let scratch = tempfile::tempdir()?;
    for p in &planned {
        let new = scratch.path().join("b").join(&p.path);
        std::fs::create_dir_all(new.parent().expect("a file in a directory"))?;
        std::fs::write(&new, &p.new)?;
        let old = match &p.old {
            Some(text) => {
                let old = scratch.path().join("a").join(&p.path);
                std::fs::create_dir_all(old.parent().expect("a file in a directory"))?;
                std::fs::write(&old, text)?;
                format!("a/{}", p.path.display())
            }
            None => "/dev/null".into(),
        };
        let out = std::process::Command::new("git")
            .args(["diff", "--no-index", "--no-color", "--no-prefix", "--", &old])
            .arg(format!("b/{}", p.path.display()))
            .current_dir(scratch.path())
            .output()?;
        ui.say(String::from_utf8_lossy(&out.stdout).trim_end())?;
        if a.write {
            agents::write(&root, p)?;
        }
    }
    if a.write {
        ui.note(format!("wrote {} file(s)", planned.len()));
    } else {
        ui.note("nothing was changed: run `git wal agents init --write` to write this");
    }
    Ok(())
}
