//! Changing leases: acquire, renew, release, break and gc, as one local ref transaction or one
//! atomic push with a lease on every ref touched, so that of many clones racing for
//! overlapping locks exactly one gets through.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use gix::ObjectId;
use serde::Serialize;

use super::{Action, LOCKS_PREFIX, Lease, Lock, Resource, Scope, View};
use crate::actor::ACTORS_PREFIX;
use crate::error::{Error, Result};
use crate::event::ActorId;
use crate::index::Index;
use crate::refs::TRACKING_ROOT;
use crate::refs::{self, Swap};
use crate::repo::{Repo, now_ms};
use crate::wal::{self, Author};

/// A lock someone else holds.
#[derive(Debug, Clone, Serialize)]
pub struct Conflict {
    /// The resource asked for.
    pub wanted: String,
    /// The lock that holds it.
    #[serde(flatten)]
    pub held: Lock,
}

/// Why an acquire did not happen.
#[derive(Debug)]
pub enum Denied {
    /// Others hold some of the resources.
    Conflicts(Vec<Conflict>),
    /// Something else went wrong.
    Error(Error),
}

impl From<Error> for Denied {
    fn from(e: Error) -> Self {
        Denied::Error(e)
    }
}

/// Who is acting, and when.
pub struct Actor<'a> {
    /// The actor's id.
    pub id: ActorId,
    /// How its commits are authored (name, email, time).
    pub author: Author<'a>,
}

impl Actor<'_> {
    /// A local actor, acting now.
    pub fn of(actor: &crate::actor::Actor) -> Actor<'_> {
        Actor {
            id: actor.id(),
            author: actor.author(now_ms()),
        }
    }
}

fn nonce() -> String {
    let mut b = [0u8; 16];
    if std::env::var_os("GRIT_TEST_SEED").is_some() {
        // Tests pin keys, not nonces: keep them unique anyway.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b.copy_from_slice(&(t ^ u128::from(std::process::id())).to_be_bytes());
    } else {
        getrandom::getrandom(&mut b).expect("the OS has randomness");
    }
    crate::hex::encode(&b)
}

/// Serialises acquires among the processes of one clone and its worktrees, from reading the
/// view to writing the refs: two acquires of overlapping resources write different refs, so
/// without it both could pass the check. (Between clones, the guard refs on the remote do
/// this.) Released when dropped, or by the OS when the process dies.
struct Mutex(#[allow(dead_code)] std::fs::File);

impl Mutex {
    fn take(repo: &Repo) -> Result<Mutex> {
        crate::sys::lock_file(&repo.grit_dir.join("locks.mutex")).map(Mutex)
    }
}

/// Brings the remote's lock refs into `refs/grit/remotes/<remote>/locks/`.
pub fn fetch(repo: &Repo, remote: &str) -> Result<()> {
    crate::repo::check_remote(repo, remote)?;
    let _turn = crate::refs::tracking_lock(repo, remote)?;
    // Actor records come along so holders are shown by name.
    let locks = format!("+{LOCKS_PREFIX}*:{TRACKING_ROOT}{remote}/locks/*");
    let actors = format!("+{ACTORS_PREFIX}*:{TRACKING_ROOT}{remote}/actors/*");
    repo.git_command(&[
        "fetch",
        "--no-tags",
        "--no-write-fetch-head",
        "--quiet",
        "--prune",
        remote,
        &locks,
        &actors,
    ])
    .map_err(|e| e.for_command(&format!("git fetch {remote} (locks)")))?;
    Ok(())
}

/// An actor's published record, from the local ref or any remote's copy.
pub fn actor_record(repo: &Repo, id: &ActorId) -> Option<crate::actor::Record> {
    let mut names = vec![format!("{ACTORS_PREFIX}{id}")];
    names.extend(
        crate::repo::remote_names(repo)
            .into_iter()
            .map(|r| format!("{TRACKING_ROOT}{r}/actors/{id}")),
    );
    names.into_iter().find_map(|n| {
        let tip = refs::ref_tip(repo, &n).ok()??;
        crate::actor::read_record(repo, tip).ok()?
    })
}

/// Publishes the actor's record on the remote if it is not there yet, so others can name the
/// holder of a lease. Best effort: a lease is valid without it.
fn publish_actor(repo: &Repo, remote: &str, who: &ActorId) {
    let name = format!("{ACTORS_PREFIX}{who}");
    let tracking = format!("{TRACKING_ROOT}{remote}/actors/{who}");
    if !matches!(refs::ref_tip(repo, &tracking), Ok(None)) {
        return;
    }
    let Ok(Some(tip)) = refs::ref_tip(repo, &name) else {
        return;
    };
    let spec = format!("{tip}:{name}");
    let Ok(_turn) = crate::refs::tracking_lock(repo, remote) else {
        return;
    };
    if let Ok(out) = repo.git_output(&["push", "--quiet", "--no-verify", remote, &spec])
        && out.status.success()
    {
        let _ = refs::set_ref(repo, &tracking, tip);
    }
}

/// One ref to move in a lock change.
struct Step {
    resource: Resource,
    base: Option<ObjectId>,
    lease: Lease,
}

/// How a change was applied.
enum Applied {
    Done(Vec<(Resource, ObjectId, Lease)>),
    /// Another writer moved one of the refs first: look again.
    Raced,
}

fn write_steps(repo: &Repo, who: &Actor<'_>, steps: &[Step]) -> Result<Vec<ObjectId>> {
    let tree = crate::loose::write(repo, &gix::objs::Tree::empty())?;
    steps
        .iter()
        .map(|s| {
            let parents: Vec<ObjectId> = s.base.into_iter().collect();
            wal::write_commit(repo, tree, &parents, &who.author, &s.lease.message())
        })
        .collect()
}

/// Applies every step or none: one local ref transaction, or one atomic push with a lease on
/// each ref (so of many clones racing for overlapping locks, exactly one gets through).
fn apply(repo: &Repo, who: &Actor<'_>, scope: &Scope, steps: Vec<Step>) -> Result<Applied> {
    let commits = write_steps(repo, who, &steps)?;
    match scope {
        Scope::Local => {
            let names: Vec<String> = steps.iter().map(|s| s.resource.ref_name()).collect();
            let updates: Vec<_> = steps
                .iter()
                .zip(&names)
                .zip(&commits)
                .map(|((s, name), c)| (name.as_str(), s.base, *c))
                .collect();
            if let Swap::Moved = refs::swap_refs(repo, &updates)? {
                return Ok(Applied::Raced);
            }
        }
        Scope::Remote(remote) => {
            let mut args: Vec<String> = ["push", "--atomic", "--porcelain", "--no-verify", remote.as_str()]
                .iter()
                .map(|s| s.to_string())
                .collect();
            for s in &steps {
                let expect = s.base.map(|b| b.to_string()).unwrap_or_default();
                args.push(format!("--force-with-lease={}:{expect}", s.resource.ref_name()));
            }
            for (s, c) in steps.iter().zip(&commits) {
                args.push(format!("{c}:{}", s.resource.ref_name()));
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let _turn = crate::refs::tracking_lock(repo, remote)?;
            let out = repo.git_output(&args)?;
            if !out.status.success() {
                let stdout = String::from_utf8_lossy(&out.stdout);
                if stdout.lines().any(|l| l.starts_with('!')) {
                    return Ok(Applied::Raced);
                }
                return Err(Error::Subprocess {
                    command: format!("git push --atomic {remote} (lock refs)"),
                    stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                });
            }
            for (s, c) in steps.iter().zip(&commits) {
                let name = s.resource.ref_name();
                refs::set_ref(repo, &name, *c)?;
                let tracking = format!("{TRACKING_ROOT}{remote}/locks/{}", &name[LOCKS_PREFIX.len()..]);
                refs::set_ref(repo, &tracking, *c)?;
            }
        }
    }
    Ok(Applied::Done(
        steps
            .into_iter()
            .zip(commits)
            .map(|(s, c)| (s.resource, c, s.lease))
            .collect(),
    ))
}

/// The lease a lock ref had, for building on: the copy in `scope` (local ref, or the remote's).
fn base_of(view: &View, r: &Resource, scope: &Scope) -> (Option<ObjectId>, Option<Lease>) {
    let tip = view.tip(r, scope.source());
    let lease = view.get(r).map(|l| l.lease.clone());
    (tip, lease)
}

/// A guard commit on each ancestor of the resources being changed, carrying its lease over.
/// Two clones changing overlapping locks then always write one ref in common, so the atomic
/// push lets exactly one through. (Local leases need none: `Mutex` orders the processes.)
fn guard_steps(view: &View, scope: &Scope, changing: &BTreeSet<Resource>, who: &ActorId, now: u64) -> Vec<Step> {
    let guards: BTreeSet<Resource> = changing
        .iter()
        .flat_map(Resource::ancestors)
        .filter(|g| !changing.contains(g))
        .collect();
    guards
        .into_iter()
        .map(|g| {
            let (base, lease) = base_of(view, &g, scope);
            let lease = match lease {
                Some(l) => Lease {
                    seq: l.seq + 1,
                    action: Action::Guard,
                    by: Some(*who),
                    ..l
                },
                None => Lease {
                    resource: g.to_string(),
                    owner: None,
                    held: false,
                    acquired_ms: now,
                    expires_ms: now,
                    note: String::new(),
                    nonce: nonce(),
                    seq: 1,
                    action: Action::Guard,
                    by: Some(*who),
                },
            };
            Step {
                resource: g,
                base,
                lease,
            }
        })
        .collect()
}

/// Options of an acquire or renew.
pub struct Request<'a> {
    /// The resources, all or none.
    pub resources: &'a [Resource],
    /// How long the leases last unless renewed.
    pub ttl: Duration,
    /// Why they are taken, for anyone who meets them.
    pub note: &'a str,
    /// Where they are taken.
    pub scope: Scope,
    /// Keep trying this long while others hold a lease.
    pub wait: Option<Duration>,
    /// Build on the remote-tracking lock refs as they are, without a fetch first. The atomic
    /// push's leases still refuse any ref the remote has moved; only a refused push, or a
    /// conflict seen in the refs as they were, costs a fetch (so nothing is refused on a stale
    /// view). An uncontended claim is then one push, not a fetch and a push.
    pub optimistic: bool,
}

/// Takes every resource in `req` or none. A resource the actor already holds is renewed.
pub fn acquire(
    repo: &Repo,
    cache: Option<&Index>,
    who: &Actor<'_>,
    req: &Request<'_>,
) -> std::result::Result<Vec<Lock>, Denied> {
    let deadline = Instant::now() + req.wait.unwrap_or_default();
    let mut races = 0;
    let remote = matches!(req.scope, Scope::Remote(_));
    // Whether the view is as the remote has it: fetched by this call.
    let mut fresh = false;
    if let Scope::Remote(r) = &req.scope {
        if !req.optimistic {
            fetch(repo, r)?;
            fresh = true;
        }
        publish_actor(repo, r, &who.id);
    }
    let mut stale = false;
    loop {
        if let Scope::Remote(r) = &req.scope
            && std::mem::take(&mut stale)
        {
            fetch(repo, r)?;
            fresh = true;
        }
        let mutex = Mutex::take(repo)?;
        let view = View::load_overlapping(repo, cache, req.resources)?;
        let now = now_ms();
        let mut conflicts = Vec::new();
        for r in req.resources {
            for held in view.conflicts(r, &who.id, now) {
                conflicts.push(Conflict {
                    wanted: r.to_string(),
                    held: held.clone(),
                });
            }
        }
        if !conflicts.is_empty() {
            drop(mutex);
            if remote && !fresh {
                // Seen in the refs as they were: the remote may have moved on since.
                stale = true;
                continue;
            }
            if Instant::now() < deadline {
                stale = remote;
                std::thread::sleep(Duration::from_millis(500).min(deadline - Instant::now()));
                continue;
            }
            return Err(Denied::Conflicts(conflicts));
        }
        let changing: BTreeSet<Resource> = req.resources.iter().cloned().collect();
        let mut steps: Vec<Step> = changing
            .iter()
            .map(|r| {
                let (base, old) = base_of(&view, r, &req.scope);
                let mine = old
                    .as_ref()
                    .filter(|l| l.active(now) && l.owner == Some(who.id))
                    .cloned();
                Step {
                    resource: r.clone(),
                    base,
                    lease: Lease {
                        resource: r.to_string(),
                        owner: Some(who.id),
                        held: true,
                        acquired_ms: mine.as_ref().map_or(now, |l| l.acquired_ms),
                        expires_ms: now + req.ttl.as_millis() as u64,
                        note: req.note.to_owned(),
                        nonce: mine.map_or_else(nonce, |l| l.nonce),
                        seq: old.map_or(1, |l| l.seq + 1),
                        action: Action::Acquire,
                        by: Some(who.id),
                    },
                }
            })
            .collect();
        if let Scope::Remote(_) = req.scope {
            steps.extend(guard_steps(&view, &req.scope, &changing, &who.id, now));
        }
        let applied = apply(repo, who, &req.scope, steps)?;
        drop(mutex);
        match applied {
            Applied::Done(done) => return Ok(noted(repo, to_locks(done, &req.scope), None)),
            Applied::Raced => {
                races += 1;
                stale = remote;
                if races > 50 && Instant::now() >= deadline {
                    return Err(Denied::Error(Error::Contention {
                        reference: LOCKS_PREFIX.into(),
                        what: "taking locks",
                        attempts: races,
                    }));
                }
                // The first retry goes at once: it fetches, and usually finds the winner's lease
                // in the way (a claim then moves on to another issue). Only writers that keep
                // meeting on a shared guard back off.
                if races > 1 {
                    std::thread::sleep(Duration::from_millis(u64::from(std::process::id() % 20) + 5));
                }
            }
        }
    }
}

fn to_locks(done: Vec<(Resource, ObjectId, Lease)>, scope: &Scope) -> Vec<Lock> {
    done.into_iter()
        .filter(|(_, _, l)| l.action != Action::Guard)
        .map(|(r, c, lease)| Lock {
            reference: r.ref_name(),
            commit: c,
            source: scope.source().to_owned(),
            lease,
        })
        .collect()
}

/// Why a renew or release was refused.
#[derive(Debug)]
pub enum Refused {
    /// Nobody holds it.
    NotHeld(String),
    /// Someone else holds it (and `--force` was not given, or the lease is still live).
    NotOwner(Box<Lock>),
    /// Something else went wrong.
    Error(Error),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Refused::Error(e)
    }
}

/// What `change` does to a lease the actor holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseChange {
    /// Extend the lease by this long from now.
    Renew(Duration),
    /// Give it back.
    Release,
}

/// Renews or releases leases. Only the owner may, except that `force` lets anyone end a lease
/// (recorded as a break, by whom, in the lock's history).
pub fn change(
    repo: &Repo,
    who: &Actor<'_>,
    resources: &[Resource],
    what: LeaseChange,
    scope: &Scope,
    force: bool,
) -> std::result::Result<Vec<Lock>, Refused> {
    let mut races = 0;
    // As an acquire does, build on the remote-tracking refs as they are: a release of one's
    // own lease is then one push. A refused push, or a refusal seen in the refs as they were,
    // fetches and looks again.
    let mut fresh = !matches!(scope, Scope::Remote(_));
    let mut stale = false;
    loop {
        if let Scope::Remote(r) = scope
            && std::mem::take(&mut stale)
        {
            fetch(repo, r)?;
            fresh = true;
        }
        let view = View::load_exact(repo, resources)?;
        let now = now_ms();
        let refuse = |why: Refused| if fresh { Err(why) } else { Ok(()) };
        let mut steps = Vec::new();
        let mut look_again = false;
        for r in resources {
            let Some(lock) = view.get(r).filter(|l| l.lease.held) else {
                refuse(Refused::NotHeld(r.to_string()))?;
                look_again = true;
                break;
            };
            let mine = lock.lease.owner == Some(who.id);
            if !(mine || force && what == LeaseChange::Release) {
                refuse(Refused::NotOwner(Box::new(lock.clone())))?;
                look_again = true;
                break;
            }
            if mine && !lock.lease.active(now) && what != LeaseChange::Release {
                refuse(Refused::NotHeld(format!("{r} (your lease expired; acquire it again)")))?;
                look_again = true;
                break;
            }
            let (base, _) = base_of(&view, r, scope);
            let old = &lock.lease;
            let lease = match what {
                LeaseChange::Renew(ttl) => Lease {
                    expires_ms: now + ttl.as_millis() as u64,
                    seq: old.seq + 1,
                    action: Action::Renew,
                    by: Some(who.id),
                    ..old.clone()
                },
                LeaseChange::Release => Lease {
                    held: false,
                    expires_ms: now.min(old.expires_ms),
                    seq: old.seq + 1,
                    action: if mine { Action::Release } else { Action::Break },
                    by: Some(who.id),
                    ..old.clone()
                },
            };
            steps.push(Step {
                resource: r.clone(),
                base,
                lease,
            });
        }
        if look_again {
            stale = true;
            continue;
        }
        match apply(repo, who, scope, steps)? {
            Applied::Done(done) => return Ok(noted(repo, to_locks(done, scope), None)),
            Applied::Raced if races < 50 => {
                races += 1;
                stale = matches!(scope, Scope::Remote(_));
                std::thread::sleep(Duration::from_millis(u64::from(std::process::id() % 20) + 5));
            }
            Applied::Raced => {
                return Err(Refused::Error(Error::Contention {
                    reference: LOCKS_PREFIX.into(),
                    what: "changing locks",
                    attempts: races,
                }));
            }
        }
    }
}

/// Deletes the refs of leases that are released or expired (and guards nobody holds). With a
/// remote, deletes them there too, each only if it is still what was seen.
pub fn gc(repo: &Repo, cache: Option<&Index>, scope: &Scope) -> Result<Vec<Lock>> {
    if let Scope::Remote(r) = scope {
        fetch(repo, r)?;
    }
    let view = View::load(repo, cache)?;
    let now = now_ms();
    let dead: Vec<Lock> = view.locks.values().filter(|l| !l.lease.active(now)).cloned().collect();
    if let Scope::Remote(remote) = scope {
        let mut args: Vec<String> = vec![
            "push".into(),
            "--porcelain".into(),
            "--no-verify".into(),
            remote.clone(),
        ];
        let mut any = false;
        for l in &dead {
            if let Some(tip) = view.tip_of(&l.reference[LOCKS_PREFIX.len()..], remote) {
                args.push(format!("--force-with-lease={}:{tip}", l.reference));
                any = true;
            }
        }
        for l in &dead {
            if view.tip_of(&l.reference[LOCKS_PREFIX.len()..], remote).is_some() {
                args.push(format!(":{}", l.reference));
            }
        }
        if any {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            {
                let _turn = crate::refs::tracking_lock(repo, remote)?;
                repo.git_output(&args)?;
            }
            fetch(repo, remote)?;
        }
    }
    let mut removed = Vec::new();
    for l in dead {
        let hash = &l.reference[LOCKS_PREFIX.len()..];
        if let Some(local) = view.tip_of(hash, "local") {
            refs::delete_ref(repo, &l.reference, local)?;
        }
        removed.push(l);
    }
    Ok(noted(repo, removed, Some("collect")))
}

/// Records lock changes in the feed (`git wal watch`): each lease as its commit says, with the
/// change (its action, or `change` when it has none of its own, as for collected ones).
fn noted(repo: &Repo, locks: Vec<Lock>, change: Option<&str>) -> Vec<Lock> {
    let entries: Vec<crate::feed::Entry> = locks
        .iter()
        .map(|l| {
            crate::feed::Entry::Lock(serde_json::json!({
                "change": change.unwrap_or(l.lease.action.name()),
                "lock": l,
            }))
        })
        .collect();
    crate::feed::note(repo, &entries);
    locks
}
