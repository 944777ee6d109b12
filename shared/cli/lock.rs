//! `git lock`: lease locks on paths, issues or the whole repository, kept in refs and taken
//! on the remote with an atomic push, so among concurrent acquirers exactly one wins.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use super::{CommandError, GlobalArgs, Ui, columns, main_with};
use crate::lock::{self, LeaseChange, Lock, Policy, Resource, Scope};
use crate::ops::locks::LockStatus;
use crate::repo::{Repo, format_time, now_ms};
use crate::store::Store;

/// Lease locks on paths, issues or the whole repository
///
/// A lock is a lease: it expires unless renewed. Resources are `repo:` (the whole tree:
/// conflicts with every path lock), `path:<file>` and `path:<dir>/` (conflict when one contains
/// the other) and `issue:<id>` (a claim: conflicts only with itself). Leases live in refs/grit/locks/ and, with a remote (lock.remote, else origin),
/// are taken there by an atomic push with --force-with-lease: of many clones racing, exactly one
/// wins and the others exit 3 naming the holder. lock.policy (off, warn, require; default warn)
/// decides what the pre-commit and pre-push hooks and `git issue` writes do about others' locks.
#[derive(Debug, Parser)]
#[command(name = "git-lock", bin_name = "git lock", version, after_help = super::EXIT_STATUS_HELP)]
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
    /// Take leases on resources, all or nothing (one you hold already is renewed)
    Acquire(AcquireArgs),
    /// Extend leases you hold
    Renew(RenewArgs),
    /// Give leases back
    Release(ReleaseArgs),
    /// List locks this clone knows of (run `git fetch` or `git wal sync` for the remote's newest)
    Status(StatusArgs),
    /// Delete released and expired leases (locally, and on the lock remote unless --local)
    Gc(GcArgs),
    /// Check paths or issues against others' locks under lock.policy (what the hooks run)
    Check(CheckArgs),
    /// Open the terminal UI on its locks tab (`?` lists the keys)
    Ui(super::UiArgs),
}

// Where to take the lease (no doc comment: a flattened container's would replace the about of
// every subcommand it is in)
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct ScopeArgs {
    /// Take it on this remote (default: lock.remote, else origin if it exists)
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
    /// Only in this repository, not on any remote
    #[arg(long)]
    pub local: bool,
}

impl ScopeArgs {
    fn scope(&self, repo: &Repo) -> Result<Scope, CommandError> {
        Ok(match (&self.remote, self.local) {
            (_, true) => Scope::Local,
            (Some(r), _) => {
                crate::sync::check_remote(repo, r)?;
                Scope::Remote(r.clone())
            }
            _ => lock::default_scope(repo),
        })
    }
}

#[derive(Debug, Args)]
pub struct AcquireArgs {
    /// repo:, path:<file>, path:<dir>/ or issue:<id>
    #[arg(required = true, value_name = "RESOURCE")]
    pub resources: Vec<String>,
    /// How long the lease lasts: 90s, 15m, 2h, 1d
    #[arg(long, default_value = "15m", value_name = "DURATION")]
    pub ttl: String,
    /// Why you hold it (shown to others)
    #[arg(long, default_value = "", value_name = "TEXT")]
    pub note: String,
    /// Keep trying this long while someone else holds one of them
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,
    #[command(flatten)]
    pub scope: ScopeArgs,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    /// The resources whose leases you hold: repo:, path:<file>, path:<dir>/ or issue:<id>
    #[arg(required = true, value_name = "RESOURCE")]
    pub resources: Vec<String>,
    /// New lease length from now
    #[arg(long, default_value = "15m", value_name = "DURATION")]
    pub ttl: String,
    #[command(flatten)]
    pub scope: ScopeArgs,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The resources to let go: repo:, path:<file>, path:<dir>/ or issue:<id>
    #[arg(required = true, value_name = "RESOURCE")]
    pub resources: Vec<String>,
    /// End a lease someone else holds (an abandoned one); recorded in the lock's history
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub scope: ScopeArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only your own
    #[arg(long)]
    pub mine: bool,
    /// Also released and expired leases
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Paths relative to the repository root
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    /// Check the paths staged for commit
    #[arg(long)]
    pub staged: bool,
    /// Check an issue (id or unique prefix)
    #[arg(long, value_name = "ID")]
    pub issue: Vec<String>,
}

pub fn main() -> ExitCode {
    main_with(run, |c: &Cli| &c.global)
}

pub fn run(cli: Cli, ui: &mut Ui) -> Result<(), CommandError> {
    match cli.command {
        Command::Acquire(a) => acquire(ui, a),
        Command::Renew(a) => change(ui, &a.resources, LeaseChange::Renew(duration(&a.ttl)?), &a.scope, false),
        Command::Release(a) => change(ui, &a.resources, LeaseChange::Release, &a.scope, a.force),
        Command::Status(a) => status(ui, a),
        Command::Gc(a) => gc(ui, a),
        Command::Check(a) => check(ui, a),
        Command::Ui(_) => crate::tui::run(ui, crate::tui::Tab::Locks),
    }
}

fn duration(s: &str) -> Result<Duration, CommandError> {
    Ok(lock::parse_duration(s)?)
}

/// Opens the store for a lock command. Locks live in refs of their own and use the index only
/// as a cache of lease commits, so the event log is folded in only when an `issue:` id must be
/// resolved.
fn open_for(ui: &Ui, args: &[String]) -> Result<Store, CommandError> {
    if args.iter().any(|a| a.starts_with("issue:")) {
        return super::open_store(ui);
    }
    Ok(Store::open_unfolded(&ui.dir)?)
}

/// Parses resources; `issue:` ids resolve through the index like any issue id.
pub fn resources(store: &Store, args: &[String]) -> Result<Vec<Resource>, CommandError> {
    Ok(crate::ops::locks::resources(store, args)?)
}

use crate::ops::locks::holder_and_actor;

pub fn conflict_error(repo: &Repo, held: &[&Lock]) -> CommandError {
    crate::ops::locks::conflict(repo, held).into()
}

fn lock_json(repo: &Repo, l: &Lock, now: u64) -> LockStatus {
    LockStatus::of(repo, l.clone(), now)
}

fn acquire(ui: &mut Ui, a: AcquireArgs) -> Result<(), CommandError> {
    let store = open_for(ui, &a.resources)?;
    let resources = resources(&store, &a.resources)?;
    let scope = a.scope.scope(&store.repo)?;
    let wait = a.wait.as_deref().map(duration).transpose()?;
    let locks = crate::ops::locks::acquire(&store, &resources, duration(&a.ttl)?, &a.note, &scope, wait)?;
    print_locks(ui, &store.repo, &locks, "acquired")
}

fn print_locks(ui: &mut Ui, repo: &Repo, locks: &[Lock], verb: &str) -> Result<(), CommandError> {
    let now = now_ms();
    if ui.json {
        let out: Vec<LockStatus> = locks.iter().map(|l| lock_json(repo, l, now)).collect();
        return ui.json(&out);
    }
    for l in locks {
        let until = if l.lease.held {
            format!(" until {}", format_time(l.lease.expires_ms))
        } else {
            String::new()
        };
        let wher = if l.source == "local" {
            " (local only)".to_owned()
        } else {
            format!(" on {}", l.source)
        };
        ui.say(format!("{verb} {}{until}{wher}", l.lease.resource))?;
    }
    Ok(())
}

fn change(ui: &mut Ui, args: &[String], what: LeaseChange, scope: &ScopeArgs, force: bool) -> Result<(), CommandError> {
    let store = open_for(ui, args)?;
    let resources = resources(&store, args)?;
    let scope = scope.scope(&store.repo)?;
    let locks = crate::ops::locks::change(&store, &resources, what, &scope, force)?;
    let verb = match (what, locks.first().map(|l| l.lease.action)) {
        (LeaseChange::Renew(_), _) => "renewed",
        (_, Some(lock::Action::Break)) => "broke",
        _ => "released",
    };
    print_locks(ui, &store.repo, &locks, verb)
}

fn status(ui: &mut Ui, a: StatusArgs) -> Result<(), CommandError> {
    let store = Store::open_unfolded(&ui.dir)?;
    let repo = &store.repo;
    let filter = crate::ops::locks::StatusFilter {
        mine: a.mine,
        all: a.all,
    };
    let locks = crate::ops::locks::status(&store, &ui.dir, filter)?;
    if ui.json {
        return ui.json(&locks);
    }
    if locks.is_empty() {
        ui.note("no locks held");
        return Ok(());
    }
    let now = now_ms();
    let rows: Vec<Vec<String>> = locks
        .iter()
        .map(|s| {
            let l = &s.lock;
            let state = if l.lease.active(now) {
                format!("until {}", format_time(l.lease.expires_ms))
            } else if l.lease.held {
                "expired".into()
            } else {
                "released".into()
            };
            vec![
                super::term::esc(&l.lease.resource).into_owned(),
                super::term::esc(&holder_and_actor(repo, l.lease.owner)).into_owned(),
                state,
                l.source.clone(),
                if s.orphaned == Some(true) {
                    format!(
                        "{} (orphaned: the sandbox is gone; `git lock release {}`)",
                        super::term::esc(&l.lease.note),
                        super::term::esc(&l.lease.resource)
                    )
                } else {
                    super::term::esc(&l.lease.note).into_owned()
                },
            ]
        })
        .collect();
    for line in columns(&rows) {
        ui.say(line.trim_end())?;
    }
    Ok(())
}

fn gc(ui: &mut Ui, a: GcArgs) -> Result<(), CommandError> {
    let store = Store::open_unfolded(&ui.dir)?;
    let scope = a.scope.scope(&store.repo)?;
    let removed = lock::gc(&store.repo, Some(&store.index), &scope)?;
    if ui.json {
        let now = now_ms();
        let out: Vec<LockStatus> = removed.iter().map(|l| lock_json(&store.repo, l, now)).collect();
        return ui.json(&out);
    }
    ui.say(format!("removed {} released or expired lease(s)", removed.len()))
}

pub use crate::ops::locks::Hit;

#[derive(Serialize)]
struct CheckJson<'a> {
    policy: Policy,
    conflicts: &'a [Hit],
}

/// Staged paths (`git diff --cached --name-only`).
pub fn staged_paths(repo: &Repo) -> Result<Vec<String>, CommandError> {
    let out = repo.git_command(&["diff", "--cached", "--name-only", "-z", "--no-renames"])?;
    Ok(out.split('\0').filter(|s| !s.is_empty()).map(str::to_owned).collect())
}

/// Checks `paths` and `issues` against others' locks and applies the policy: nothing under
/// off; a warning per hit under warn; under require, the lock-conflict exit code. `paths` is
/// only called when some lock exists (listing staged or pushed paths costs a git process), and
/// only the locks that can cover those paths are read.
pub fn enforce(
    ui: &mut Ui,
    store: &Store,
    paths: impl FnOnce() -> Result<Vec<String>, CommandError>,
    issues: &[Resource],
    what: &str,
) -> Result<Vec<Hit>, CommandError> {
    enforce_made_by(ui, store, || paths().map(|p| (p, MadeBy::new())), issues, what)
}

pub use crate::ops::locks::MadeBy;

/// [`enforce`], where a path changed only by the holder of its lock is no conflict: a push that
/// carries another agent's landed work judges the pusher's own changes.
pub fn enforce_made_by(
    ui: &mut Ui,
    store: &Store,
    paths: impl FnOnce() -> Result<(Vec<String>, MadeBy), CommandError>,
    issues: &[Resource],
    what: &str,
) -> Result<Vec<Hit>, CommandError> {
    let mut failed = None;
    let hits = crate::ops::locks::enforce(
        store,
        || {
            paths().map_err(|e| {
                failed = Some(e);
                crate::Error::Failed {
                    message: String::new(),
                    hint: String::new(),
                }
            })
        },
        issues,
        what,
    );
    if let Some(e) = failed {
        return Err(e);
    }
    let hits = hits?;
    if !ui.quiet {
        for w in crate::ops::locks::hit_warnings(&store.repo, what, &hits) {
            eprintln!("warning: {w}");
        }
    }
    Ok(hits)
}

fn check(ui: &mut Ui, a: CheckArgs) -> Result<(), CommandError> {
    let issues: Vec<String> = a.issue.iter().map(|i| format!("issue:{i}")).collect();
    let store = open_for(ui, &issues)?;
    let issues = resources(&store, &issues)?;
    let paths = || {
        let mut paths = a.paths.clone();
        if a.staged {
            paths.extend(staged_paths(&store.repo)?);
        }
        Ok(paths)
    };
    let hits = enforce(ui, &store, paths, &issues, "locked")?;
    if ui.json {
        return ui.json(&CheckJson {
            policy: lock::policy(&store.repo)?,
            conflicts: &hits,
        });
    }
    Ok(())
}
