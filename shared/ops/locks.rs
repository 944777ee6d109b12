//! Locks as the faces use them: taking a lease with the conflict said as an error, who holds
//! what (claims are leases on `issue:<id>`), and `lock.policy` applied to a write.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::event::{ActorId, Id};
use crate::lock::{self, LeaseChange, Lock, Policy, Resource, Scope, View};
use crate::repo::{Repo, format_time, now_ms};
use crate::store::Store;

/// An active claim (a lease on `issue:<id>`), as `list --json` and `show --json` print it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claim {
    /// The claiming actor's id (hex).
    pub by: String,
    /// The claimer's name, from the actor's record.
    pub by_name: String,
    /// Which of the person's actors: its local label, or `actor <id prefix>` for another clone's.
    pub by_actor: String,
    /// When the lease runs out, unless renewed.
    pub until: String,
}

impl Claim {
    /// The claimer as a person reads it: name and actor, `Ada Lovelace (agent-1)`.
    pub fn who(&self) -> String {
        format!("{} ({})", self.by_name, self.by_actor)
    }
}

/// Active claims by issue, from the locks this clone knows of.
pub fn claims(store: &Store) -> Result<HashMap<Id, Claim>> {
    let view = View::load(&store.repo, Some(&store.index))?;
    let now = now_ms();
    let mut out = HashMap::new();
    for l in view.locks.values().filter(|l| l.lease.active(now)) {
        let (Some(Resource::Issue(id)), Some(owner)) = (lock::parse_canonical(&l.lease.resource), l.lease.owner) else {
            continue;
        };
        let author = store.index.author(&owner)?;
        out.insert(
            id,
            Claim {
                by: owner.to_hex(),
                by_name: author.name.clone().unwrap_or_else(|| author.id[..12].to_owned()),
                by_actor: crate::actor::which(&store.repo, &owner),
                until: format_time(l.lease.expires_ms),
            },
        );
    }
    // Another tracker's claim, imported: beads' in_progress is the label status:in_progress
    // with its assignee. It is that assignee's claim (with no lease: it holds until the label
    // goes), unless a lease here says otherwise.
    for id in store.index.with_label(IMPORTED_CLAIM)? {
        if out.contains_key(&id) {
            continue;
        }
        let Some(s) = store.index.issue(&id)? else { continue };
        let Some(who) = s
            .assignees()
            .into_iter()
            .next()
            .filter(|_| s.state() == crate::event::State::Open)
        else {
            continue;
        };
        out.insert(
            id,
            Claim {
                by: String::new(),
                by_name: who,
                by_actor: "imported".into(),
                until: String::new(),
            },
        );
    }
    Ok(out)
}

/// The label of an imported claim (beads' in_progress).
pub const IMPORTED_CLAIM: &str = "status:in_progress";

/// Parses resource arguments (`path:…`, `issue:<id prefix>`, `repo:`), resolving issue ids.
pub fn resources(store: &Store, args: &[String]) -> Result<Vec<Resource>> {
    args.iter()
        .map(|a| Resource::parse(a, |q| store.index.resolve(q)))
        .collect()
}

/// The holder's name, from the published actor records (local or fetched from a remote).
pub fn holder(repo: &Repo, owner: Option<ActorId>) -> String {
    thread_local! {
        static NAMES: std::cell::RefCell<HashMap<ActorId, String>> = Default::default();
    }
    let Some(owner) = owner else {
        return "nobody".into();
    };
    if let Some(n) = NAMES.with(|m| m.borrow().get(&owner).cloned()) {
        return n;
    }
    let name = lock::actor_record(repo, &owner)
        .map(|r| format!("{} <{}>", r.name, r.email))
        .unwrap_or_else(|| owner.to_hex()[..12].to_owned());
    NAMES.with(|m| m.borrow_mut().insert(owner, name.clone()));
    name
}

/// The holder as a person reads it: name, email and which of their actors
/// (`Ada Lovelace <ada@example.com> (agent-1)`).
pub fn holder_and_actor(repo: &Repo, owner: Option<ActorId>) -> String {
    match owner {
        Some(id) => format!("{} ({})", holder(repo, owner), crate::actor::which(repo, &id)),
        None => holder(repo, owner),
    }
}

/// One lock in a sentence: what, by whom, until when, and its note. Control characters in what
/// a stranger wrote (the note, the names) are shown escaped.
pub fn describe(repo: &Repo, l: &Lock) -> String {
    let note = if l.lease.note.is_empty() {
        String::new()
    } else {
        format!(" ({})", crate::text::esc(&l.lease.note))
    };
    format!(
        "{} is held by {} until {}{note}",
        crate::text::esc(&l.lease.resource),
        crate::text::esc(&holder_and_actor(repo, l.lease.owner)),
        format_time(l.lease.expires_ms)
    )
}

/// The error for leases held by others: the first named in the message, the rest as causes.
pub fn conflict(repo: &Repo, held: &[&Lock]) -> Error {
    Error::Locked {
        message: match held.first() {
            Some(l) => describe(repo, l),
            None => "locked".into(),
        },
        causes: held.iter().skip(1).map(|l| describe(repo, l)).collect(),
        hints: vec!["wait for it with `--wait 10m`, ask the holder, or `git lock status` to see every lock".into()],
    }
}

/// `conflict` with its hint replaced.
pub fn conflict_with_hint(repo: &Repo, held: &[&Lock], hint: impl Into<String>) -> Error {
    match conflict(repo, held) {
        Error::Locked { message, causes, .. } => Error::Locked {
            message,
            causes,
            hints: vec![hint.into()],
        },
        other => other,
    }
}

/// Takes a lease on `resource` for the current actor; a lease someone else holds is
/// [`Error::Locked`].
pub fn take(
    store: &Store,
    resource: &Resource,
    ttl: std::time::Duration,
    note: &str,
    scope: &Scope,
) -> Result<Vec<Lock>> {
    acquire(store, std::slice::from_ref(resource), ttl, note, scope, None)
}

/// Takes leases on every one of `resources` for the current actor, or none (one it holds
/// already is renewed); `wait` keeps trying that long while others hold one. A lease someone
/// else holds is [`Error::Locked`].
pub fn acquire(
    store: &Store,
    resources: &[Resource],
    ttl: std::time::Duration,
    note: &str,
    scope: &Scope,
    wait: Option<std::time::Duration>,
) -> Result<Vec<Lock>> {
    let note = lease_note(note)?;
    let actor = store.actor()?;
    let who = lock::Actor::of(&actor);
    let req = lock::Request {
        resources,
        ttl,
        note: &note,
        scope: scope.clone(),
        wait,
        optimistic: true,
    };
    match lock::acquire(&store.repo, Some(&store.index), &who, &req) {
        Ok(l) => Ok(l),
        Err(lock::Denied::Conflicts(c)) => {
            let held: Vec<&Lock> = c.iter().map(|c| &c.held).collect();
            Err(conflict(&store.repo, &held))
        }
        Err(lock::Denied::Error(e)) => Err(e),
    }
}

/// Renews or releases the current actor's leases on `resources`; `force` ends another's
/// (recorded as a break, by whom, in the lock's history).
pub fn change(
    store: &Store,
    resources: &[Resource],
    what: LeaseChange,
    scope: &Scope,
    force: bool,
) -> Result<Vec<Lock>> {
    let actor = store.actor()?;
    let who = lock::Actor::of(&actor);
    match lock::change(&store.repo, &who, resources, what, scope, force) {
        Ok(locks) => Ok(locks),
        Err(lock::Refused::NotHeld(r)) => Err(Error::Failed {
            message: format!("{r} is not locked"),
            hint: "`git lock status` lists the locks this clone knows of".into(),
        }),
        Err(lock::Refused::NotOwner(l)) => Err(conflict_with_hint(
            &store.repo,
            &[&l],
            match what {
                LeaseChange::Release => {
                    "only its owner releases a lease; `--force` breaks an abandoned one (recorded in its history)"
                }
                LeaseChange::Renew(_) => "only its owner renews a lease",
            },
        )),
        Err(lock::Refused::Error(e)) => Err(e),
    }
}

/// A lease note is shown to everyone who meets the lock: one line of printable text.
pub fn lease_note(note: &str) -> Result<String> {
    if note.chars().any(char::is_control) {
        return Err(Error::invalid(
            "the note contains control characters",
            "a single line of printable text is expected",
        ));
    }
    if note.len() > 1024 {
        return Err(Error::invalid("the note is too long", "use at most 1024 bytes"));
    }
    Ok(note.trim().to_owned())
}

/// One lock as every face reports it (`git lock status --json`, the MCP lock tools).
#[derive(Serialize)]
pub struct LockStatus {
    /// The lock as its newest copy records it.
    #[serde(flatten)]
    pub lock: Lock,
    /// The owner's name, from the actor's record (or the start of its id).
    pub owner_name: String,
    /// Which of the owner's actors: its local label, or `actor <id prefix>`.
    pub owner_actor: Option<String>,
    /// Whether the lease is held and not expired now.
    pub active: bool,
    /// When it runs out, unless renewed (RFC 3339).
    pub expires_at: String,
    /// The sandbox the lease was taken for (its note, `sandbox NAME`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// Whether that sandbox is gone from this clone while the lease is still held by one of
    /// its actors: what a release that failed left behind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orphaned: Option<bool>,
}

impl LockStatus {
    /// The status of `l` at `now` (milliseconds since the epoch), with its owner named.
    pub fn of(repo: &Repo, l: Lock, now: u64) -> LockStatus {
        LockStatus {
            owner_name: holder(repo, l.lease.owner),
            owner_actor: l.lease.owner.map(|o| crate::actor::which(repo, &o)),
            active: l.lease.active(now),
            expires_at: format_time(l.lease.expires_ms),
            sandbox: None,
            orphaned: None,
            lock: l,
        }
    }
}

/// Which locks `status` lists.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusFilter {
    /// Only the current actor's.
    pub mine: bool,
    /// Released and expired leases too.
    pub all: bool,
}

/// The locks this clone knows of, by resource; `dir` finds the sandboxes, to tell orphaned
/// sandbox leases.
pub fn status(store: &Store, dir: &std::path::Path, filter: StatusFilter) -> Result<Vec<LockStatus>> {
    let repo = &store.repo;
    let view = View::load(repo, Some(&store.index))?;
    let now = now_ms();
    let mine = if filter.mine {
        Some(crate::actor::find(repo, &crate::actor::selected_label(repo))?.map(|x| x.id()))
    } else {
        None
    };
    let mut locks: Vec<Lock> = view
        .locks
        .into_values()
        .filter(|l| l.lease.owner.is_some() && (filter.all || l.lease.active(now)))
        .filter(|l| mine.is_none_or(|m| m.is_some() && l.lease.owner == m))
        .collect();
    locks.sort_by(|x, y| x.lease.resource.cmp(&y.lease.resource));
    let mine_all: Vec<ActorId> = crate::actor::list_local(repo)
        .map(|v| v.iter().map(|a| a.id()).collect())
        .unwrap_or_default();
    let main = crate::sandbox::Main::discover(dir).ok();
    Ok(locks
        .into_iter()
        .map(|l| {
            let sandbox = sandbox_of(&l).map(str::to_owned);
            let orphaned = sandbox.as_ref().map(|name| {
                l.lease.held
                    && l.lease.owner.is_some_and(|o| mine_all.contains(&o))
                    && main.as_ref().is_some_and(|m| matches!(m.load(name), Ok(None)))
            });
            LockStatus {
                sandbox,
                orphaned,
                ..LockStatus::of(repo, l, now)
            }
        })
        .collect())
}

/// The sandbox a lease was taken for (its note, `sandbox NAME`).
fn sandbox_of(l: &Lock) -> Option<&str> {
    l.lease
        .note
        .strip_prefix("sandbox ")
        .filter(|n| crate::sandbox::validate_name(n).is_ok())
}

/// A path or issue that is locked by someone else.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// The path or resource that was checked.
    pub what: String,
    /// The lock that covers it.
    #[serde(flatten)]
    pub lock: Lock,
}

/// Who made the changes to each path: the actor ids (hex) of the commits that change it, `?`
/// for a commit whose maker is not known (no verified provenance).
pub type MadeBy = HashMap<String, BTreeSet<String>>;

/// Checks `paths` and `issues` against others' locks and applies `lock.policy`: nothing under
/// off; the hits, for the face to warn about, under warn; under require, [`Error::Locked`].
/// `paths` is only called when some lock exists (listing staged or pushed paths costs a git
/// process), and only the locks that can cover those paths are read. A path changed only by
/// the holder of its lock is no conflict: a push that carries another agent's landed work
/// judges the pusher's own changes.
pub fn enforce(
    store: &Store,
    paths: impl FnOnce() -> Result<(Vec<String>, MadeBy)>,
    issues: &[Resource],
    what: &str,
) -> Result<Vec<Hit>> {
    let repo = &store.repo;
    let policy = lock::policy(repo)?;
    if policy == Policy::Off || !lock::any(repo)? {
        return Ok(Vec::new());
    }
    let (paths, made_by) = paths()?;
    // Only the locks that can cover these paths or issues, looked up by name.
    let view = match lock::path_resources(&paths) {
        Some(mut wanted) => {
            wanted.extend_from_slice(issues);
            View::load_overlapping(repo, Some(&store.index), &wanted)?
        }
        None => View::load(repo, Some(&store.index))?,
    };
    let now = now_ms();
    let me = crate::actor::find(repo, &crate::actor::selected_label(repo))?
        .map(|a| a.id())
        .unwrap_or(ActorId([0; 32]));
    let mut hits: Vec<Hit> = lock::path_conflicts(&view, &paths, &me, now)
        .into_iter()
        .map(|(p, l)| Hit { what: p, lock: l })
        .collect();
    for r in issues {
        for l in view.conflicts(r, &me, now) {
            hits.push(Hit {
                what: r.to_string(),
                lock: l.clone(),
            });
        }
    }
    hits.retain(|h| {
        let holder = h.lock.lease.owner.map(|o| o.to_hex());
        !made_by
            .get(&h.what)
            .is_some_and(|makers| !makers.is_empty() && makers.iter().all(|m| Some(m) == holder.as_ref()))
    });
    if hits.is_empty() || policy != Policy::Require {
        return Ok(hits);
    }
    let held: Vec<&Lock> = hits.iter().map(|h| &h.lock).collect();
    // Here the command refused is git's or a write's, which has no --wait of its own.
    let resource = held.first().map_or("RESOURCE".to_owned(), |l| l.lease.resource.clone());
    let Error::Locked { message, causes, .. } = conflict(repo, &held) else {
        unreachable!("conflict is Locked")
    };
    Err(Error::Locked {
        message: format!("{what}: {message} (lock.policy=require)"),
        causes,
        hints: vec![
            format!(
                "`git lock status` shows who holds it; `git lock acquire --wait 10m {resource}` waits until it \
                 is free and takes it, then run this again"
            ),
            format!(
                "hits: {}",
                hits.iter().map(|h| h.what.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ],
    })
}

/// The warnings a face shows for hits under `lock.policy=warn`.
pub fn hit_warnings(repo: &Repo, what: &str, hits: &[Hit]) -> Vec<String> {
    hits.iter()
        .map(|h| format!("{what}: {} — {}", h.what, describe(repo, &h.lock)))
        .collect()
}

/// Holds `issue:<id>` while a write runs, for a write that asked for the lock; a write that did
/// not is checked against `lock.policy` instead. Ending it (or dropping it) releases the lease.
pub(crate) struct IssueGuard<'a> {
    store: &'a Store,
    resource: Resource,
    scope: Scope,
    done: bool,
}

impl<'a> IssueGuard<'a> {
    /// Takes the lock (`take`), or applies the policy; the policy's hits come back as warnings.
    pub(crate) fn new(store: &'a Store, id: &Id, take_it: bool, warnings: &mut Vec<String>) -> Result<Option<Self>> {
        let resource = Resource::Issue(*id);
        if !take_it {
            let hits = enforce(
                store,
                || Ok((Vec::new(), MadeBy::new())),
                std::slice::from_ref(&resource),
                "issue is locked",
            )?;
            warnings.extend(hit_warnings(&store.repo, "issue is locked", &hits));
            return Ok(None);
        }
        // The writer's own claim guards the write already: taking the lease again would cut the
        // claim to the guard's five minutes, and giving it back would end the claim.
        let me = store.actor()?.id();
        let view = lock::View::load_exact(&store.repo, std::slice::from_ref(&resource))?;
        if view
            .get(&resource)
            .is_some_and(|l| l.lease.owner == Some(me) && l.lease.active(crate::repo::now_ms()))
        {
            return Ok(None);
        }
        let scope = lock::default_scope(&store.repo);
        take(
            store,
            &resource,
            std::time::Duration::from_secs(300),
            "git issue --lock",
            &scope,
        )?;
        Ok(Some(IssueGuard {
            store,
            resource,
            scope,
            done: false,
        }))
    }

    /// Releases the lease; a release that fails is a warning, after the write it guarded.
    pub(crate) fn end(mut self, warnings: &mut Vec<String>) {
        self.done = true;
        if let Some(w) = self.release() {
            warnings.push(w);
        }
    }

    fn release(&self) -> Option<String> {
        let actor = self.store.actor().ok()?;
        let who = lock::Actor::of(&actor);
        let e = lock::change(
            &self.store.repo,
            &who,
            std::slice::from_ref(&self.resource),
            lock::LeaseChange::Release,
            &self.scope,
            false,
        )
        .err()?;
        // The resource once, by the issue's short id where it has one.
        let name = match &self.resource {
            Resource::Issue(id) => format!(
                "the claim on issue {}",
                self.store
                    .index
                    .short_id(id)
                    .unwrap_or_else(|_| id.to_hex()[..12].to_owned())
            ),
            other => other.to_string(),
        };
        let why = match e {
            lock::Refused::Error(e) => e.to_string(),
            lock::Refused::NotHeld(_) => "it was no longer held".into(),
            lock::Refused::NotOwner(_) => "someone else holds it now".into(),
        };
        Some(format!("could not release {name}: {why}"))
    }
}

impl Drop for IssueGuard<'_> {
    fn drop(&mut self) {
        // A write that failed: the lease goes back all the same; its error is the one to show.
        if !self.done {
            let _ = self.release();
        }
    }
}
