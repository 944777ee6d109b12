//! Sync through plain git. A remote's `refs/grit/{wal,actors,snapshots}/*` are mirrored under
//! `refs/grit/remotes/<remote>/` by `git fetch` (with the refspecs `git wal init` adds), folded
//! into the local refs (create, fast-forward, or a union merge when one actor's WAL diverged),
//! and pushed back fast-forward only. gix has no push, so fetch and push run `git`.

use std::collections::{BTreeMap, HashSet};

use gix::ObjectId;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::event::Id;
use crate::refs::{self, Swap};
use crate::repo::{RefFormat, Repo};
use crate::store::Store;
use crate::wal::{self, Relation};

pub use crate::refs::{TRACKING_ROOT, TrackingLock, tracking_lock, tracking_prefix};
pub use crate::repo::{check_remote, remote_names};

/// The namespaces under `refs/grit/` that travel between clones.
pub const NAMESPACES: [&str; 3] = ["wal", "actors", "snapshots"];
/// Fetch–integrate–push rounds before giving up on a remote that keeps moving.
const ROUNDS: u32 = 5;

/// The namespaces a plain `git fetch` mirrors (locks too, for the hooks' checks; sync never
/// pushes those: leases are taken on the remote by `git lock` itself).
pub const FETCHED: [&str; 4] = ["wal", "actors", "snapshots", "locks"];

/// The fetch refspecs that mirror a remote's grit refs into its tracking namespace.
pub fn fetch_refspecs(remote: &str) -> Vec<String> {
    FETCHED
        .iter()
        .map(|ns| format!("+refs/grit/{ns}/*:{TRACKING_ROOT}{remote}/{ns}/*"))
        .collect()
}

/// The remote to use when none is named: `grit.remote`, else `origin`, else the only remote.
pub fn default_remote(repo: &Repo) -> Result<String> {
    if let Some(r) = repo.config_string("grit.remote") {
        return Ok(r);
    }
    let names = remote_names(repo);
    if names.iter().any(|n| n == "origin") {
        return Ok("origin".into());
    }
    match names.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(Error::invalid(
            "this repository has no remote to sync with",
            "add one with `git remote add origin URL`",
        )),
        _ => Err(Error::invalid(
            format!("several remotes and none is 'origin': {}", names.join(", ")),
            "name one: `git wal sync REMOTE`, or set it once with `git config grit.remote REMOTE`",
        )),
    }
}

/// Adds the refspecs of [`fetch_refspecs`] to `remote.<remote>.fetch` where missing; returns
/// the ones added. Never touches `remote.<remote>.push`.
pub fn configure_fetch(repo: &Repo, remote: &str) -> Result<Vec<String>> {
    let key = format!("remote.{remote}.fetch");
    let have: Vec<String> = repo
        .git
        .config_snapshot()
        .strings(key.as_str())
        .unwrap_or_default()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut added = Vec::new();
    for spec in fetch_refspecs(remote) {
        if !have.contains(&spec) {
            repo.git_command(&["config", "--local", "--add", &key, &spec])?;
            added.push(spec);
        }
    }
    Ok(added)
}

/// Fetches a remote's grit refs into its tracking namespace, quietly; returns how many refs
/// under `refs/grit/remotes/<remote>/` there are afterwards.
pub fn fetch_grit(repo: &Repo, remote: &str) -> Result<usize> {
    let _turn = tracking_lock(repo, remote)?;
    if let Some(n) = first_fetch_packed(repo, remote)? {
        return Ok(n);
    }
    // Pruned: a tracking ref says what the remote has, and a ref deleted there (retired, say)
    // must not pass for one it still holds when this clone decides what to push.
    let mut args = vec![
        "fetch",
        "--prune",
        "--no-tags",
        "--no-write-fetch-head",
        "--quiet",
        remote,
    ];
    let specs = fetch_refspecs(remote);
    args.extend(specs.iter().map(String::as_str));
    repo.git_command(&args)
        .map_err(|e| e.for_command(&format!("git fetch {remote}")))?;
    // A first fetch from a team of thousands of agents writes a loose file per ref; packed, they
    // cost every later ref listing (each command's) a binary search instead of a file each.
    let loose = repo.git.common_dir().join(format!("{}wal", tracking_prefix(remote)));
    if std::fs::read_dir(loose).map_or(0, |d| d.count()) > crate::maintenance::LOOSE_REFS {
        repo.git_command(&["pack-refs", "--all"])?;
    }
    Ok(refs::list_refs(repo, &tracking_prefix(remote))?.len())
}

/// A remote's refs past which a first fetch goes through [`first_fetch_packed`].
const MANY_REFS: usize = 256;

/// The first fetch of a remote that holds many grit refs, in the files backend. `git fetch`
/// would write a loose file per ref and `git pack-refs` then delete each: seconds per thousand
/// refs on a slow file system, before anything is folded. Instead this lists the remote's refs
/// (`git ls-remote`, one round trip), fetches their commits by id (`git fetch --stdin`, which
/// writes no ref) and adds the tracking refs to `packed-refs` in one write. The refs are the
/// ones the fetch refspecs would have made. `None` when it does not apply (a reftable
/// repository, tracking refs already there, few refs, `packed-refs` locked): the caller fetches
/// as usual.
fn first_fetch_packed(repo: &Repo, remote: &str) -> Result<Option<usize>> {
    let prefix = tracking_prefix(remote);
    if repo.refs != crate::repo::RefFormat::Files || refs::has_refs(repo, &prefix)? {
        return Ok(None);
    }
    // An unreachable remote is left to the usual fetch, which says so in its own words.
    let Ok(listed) = repo.git_command(&["ls-remote", "--refs", remote, "refs/grit/*"]) else {
        return Ok(None);
    };
    let mut tracking = Vec::new();
    for line in listed.lines() {
        let Some((id, name)) = line.split_once('\t') else {
            continue;
        };
        let Some(rest) = name.strip_prefix("refs/grit/") else {
            continue;
        };
        let fetched = FETCHED
            .iter()
            .any(|ns| rest.strip_prefix(ns).is_some_and(|r| r.starts_with('/')));
        if let (true, Ok(id)) = (fetched, ObjectId::from_hex(id.as_bytes())) {
            tracking.push((format!("{prefix}{rest}"), id));
        }
    }
    if tracking.len() <= MANY_REFS {
        return Ok(None);
    }
    let mut ids: Vec<String> = tracking.iter().map(|(_, id)| id.to_string()).collect();
    ids.sort();
    ids.dedup();
    let out = repo.git_with_input(
        &["core.hooksPath=/dev/null"],
        &[
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--stdin",
            remote,
        ],
        &(ids.join("\n") + "\n"),
    )?;
    if !out.status.success() {
        // A server that refuses wants by id, or a ref that moved and took its old commit with
        // it: the usual fetch gets there.
        return Ok(None);
    }
    if tracking.iter().any(|(_, id)| !repo.git.has_object(id)) {
        return Ok(None);
    }
    if !refs::add_packed(repo, &tracking)? {
        return Ok(None);
    }
    Ok(Some(refs::list_refs(repo, &prefix)?.len()))
}

/// Remotes that hold grit's refs while this clone was never set up to fetch them (a fresh
/// clone: `git clone` fetches branches and tags only). Asks each remote not set up
/// (`git ls-remote`), so it is for when the log here is empty, not for every command.
pub fn remotes_with_unfetched_events(repo: &Repo) -> Result<Vec<String>> {
    if refs::has_refs(repo, "refs/grit/")? {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for remote in remote_names(repo) {
        let key = format!("remote.{remote}.fetch");
        let configured = repo
            .git
            .config_snapshot()
            .strings(key.as_str())
            .unwrap_or_default()
            .iter()
            .any(|s| s.to_string().contains("refs/grit/"));
        if configured {
            continue;
        }
        let listed = repo.git_output(&["ls-remote", "--refs", &remote, "refs/grit/wal/*"])?;
        if listed.status.success() && !listed.stdout.is_empty() {
            out.push(remote);
        }
    }
    Ok(out)
}

/// How a ref's tip moved.
#[derive(Debug, Clone, Serialize)]
pub struct Move {
    /// The tip before, if the ref existed.
    pub old: Option<String>,
    /// The tip after, if the ref still exists.
    pub new: Option<String>,
}

/// How a fetched ref was taken into the local one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Integrated {
    /// The local ref did not exist: it was made at the fetched tip.
    Created,
    /// The local ref moved forward to the fetched tip.
    FastForward,
    /// The local and remote histories diverged; a merge commit now holds both.
    Union,
    /// Records other than WAL refs are never merged; the local one stays.
    KeptLocal,
}

/// How a local ref reached the remote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pushed {
    /// The remote did not have it.
    New,
    /// The remote's copy moved forward to it.
    FastForward,
}

/// What one sync did to one ref (named by its local name, `refs/grit/…`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RefReport {
    /// The ref's local name.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The remote-tracking copy moved.
    pub fetched: Option<Move>,
    /// How the fetched copy was taken in, if it moved.
    pub integrated: Option<Integrated>,
    /// How it was pushed, if it was.
    pub pushed: Option<Pushed>,
    /// The commit that was pushed (for a partial sync, possibly older than the local tip).
    pub pushed_commit: Option<String>,
    /// Why the ref could not be integrated or pushed.
    pub rejected: Option<String>,
}

/// What `git wal sync` did.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// The remote synced with.
    pub remote: String,
    /// Fetch–integrate–push rounds (more than one when the remote moved during the push).
    pub rounds: u32,
    /// Events folded into the index from what was fetched.
    pub events_folded: usize,
    /// Each ref that moved or was refused.
    pub refs: Vec<RefReport>,
    /// A snapshot written during the sync, if one was due.
    pub snapshot: Option<String>,
    /// For `--issue`: what went along and what was held back.
    pub partial: Option<Partial>,
    /// Fetched events that failed verification and were not applied.
    pub rejected_events: Vec<crate::index::Rejected>,
    /// So many events arrived that the index was rebuilt in bulk (`grit.rebuildThreshold`).
    pub index_rebuilt: bool,
    /// This clone's copies of refs that a trusted snapshot retired, deleted (`git wal retire`).
    pub retired_refs_deleted: usize,
}

/// A sync limited to one issue's events.
#[derive(Debug, Clone, Serialize)]
pub struct Partial {
    /// The issue's full id.
    pub issue: String,
    /// Events of other issues that went along because they sit earlier in the same chains.
    pub carried_events: usize,
    /// Events left unpushed because they come after the issue's last event in their chain.
    pub held_back_commits: usize,
}

impl SyncReport {
    /// The refs that could not be integrated or pushed.
    pub fn rejected(&self) -> impl Iterator<Item = &RefReport> {
        self.refs.iter().filter(|r| r.rejected.is_some())
    }
}

/// What a sync does.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Fetch the remote's refs.
    pub fetch: bool,
    /// Push this clone's refs.
    pub push: bool,
    /// Push only what carries this issue's events.
    pub issue: Option<Id>,
}

/// Fetches, integrates and pushes, repeating when the remote moved under the push.
pub fn sync(store: &Store, remote: &str, opts: Options) -> Result<SyncReport> {
    let repo = &store.repo;
    check_remote(repo, remote)?;
    let mut refs: BTreeMap<String, RefReport> = BTreeMap::new();
    let mut report = SyncReport {
        remote: remote.to_owned(),
        rounds: 0,
        events_folded: 0,
        refs: Vec::new(),
        snapshot: None,
        rejected_events: Vec::new(),
        index_rebuilt: false,
        retired_refs_deleted: 0,
        partial: opts.issue.map(|i| Partial {
            issue: i.to_hex(),
            carried_events: 0,
            held_back_commits: 0,
        }),
    };
    for round in 1..=ROUNDS {
        report.rounds = round;
        // Each round judges every ref afresh; only the last round's rejections stand.
        refs.values_mut().for_each(|r| r.rejected = None);
        if opts.fetch {
            fetch(repo, remote, &mut refs)?;
        }
        let folded = store.index.refresh(repo)?;
        report.events_folded += folded.events;
        report.index_rebuilt |= folded.rebuilt;
        report.rejected_events.extend(folded.rejected);
        integrate(store, remote, &mut refs)?;
        // Refs a trusted snapshot retired: this clone's copies go, and are never pushed back.
        let (retired, forgotten) = crate::snapshot::forget_trusted(repo)?;
        report.retired_refs_deleted += forgotten;
        report.events_folded += store.index.refresh(repo)?.events;
        if !opts.push {
            break;
        }
        if opts.issue.is_none() && report.snapshot.is_none() && snapshot_due(store)? {
            report.snapshot = store.snapshot()?.map(|s| s.name);
        }
        let moved = push(store, remote, opts.issue, &retired, &mut refs, report.partial.as_mut())?;
        if !moved || !opts.fetch {
            break;
        }
        // Racing pushers of the same refs: back off a little, differently per process.
        let jitter = u64::from(std::process::id() % 50) + 20 * u64::from(round);
        std::thread::sleep(std::time::Duration::from_millis(jitter));
    }
    report.refs = refs.into_values().collect();
    Ok(report)
}

fn snapshot_due(store: &Store) -> Result<bool> {
    crate::snapshot::due(&store.repo, store.index.stats()?.events)
}

fn entry<'a>(refs: &'a mut BTreeMap<String, RefReport>, local: &str) -> &'a mut RefReport {
    refs.entry(local.to_owned()).or_insert_with(|| RefReport {
        reference: local.to_owned(),
        ..RefReport::default()
    })
}

/// `git fetch` of the grit namespaces into the remote-tracking refs; records what moved.
pub fn fetch(repo: &Repo, remote: &str, refs: &mut BTreeMap<String, RefReport>) -> Result<()> {
    let prefix = tracking_prefix(remote);
    let before: BTreeMap<String, ObjectId> = refs::list_refs(repo, &prefix)?.into_iter().collect();
    fetch_grit(repo, remote)?;
    let after: BTreeMap<String, ObjectId> = refs::list_refs(repo, &prefix)?.into_iter().collect();
    for (name, new) in &after {
        let old = before.get(name);
        if old != Some(new) {
            let local = format!("refs/grit/{}", &name[prefix.len()..]);
            entry(refs, &local).fetched = Some(Move {
                old: old.map(ToString::to_string),
                new: Some(new.to_string()),
            });
        }
    }
    Ok(())
}

fn is_actor_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Brings every remote-tracking ref of `remote` into the local refs.
pub fn integrate(store: &Store, remote: &str, refs: &mut BTreeMap<String, RefReport>) -> Result<()> {
    let repo = &store.repo;
    let prefix = tracking_prefix(remote);
    for (tracking, theirs) in refs::list_refs(repo, &prefix)? {
        let rest = &tracking[prefix.len()..];
        let Some((ns, key)) = rest.split_once('/') else {
            continue;
        };
        if !NAMESPACES.contains(&ns) {
            continue;
        }
        // Another clone's snapshots stay in its tracking namespace, where a fold checks them as
        // a stranger's: copied into ours, they would pass for this clone's own.
        if ns == "snapshots" {
            continue;
        }
        let local = format!("refs/grit/{rest}");
        if !is_actor_hex(key) {
            entry(refs, &local).rejected = Some("not named by an actor id; ignored".into());
            continue;
        }
        // Only what a fold has checked comes in: invalid events in it are quarantined by then,
        // and come along in the history (never applied) so the actor's valid events still sync.
        if !store.index.has_applied(&tracking, &theirs)? {
            store.index.refresh(repo)?;
            if !store.index.has_applied(&tracking, &theirs)? {
                continue;
            }
        }
        if let Some(done) = integrate_one(store, ns, key, &local, theirs)? {
            let e = entry(refs, &local);
            e.integrated = Some(done);
            e.rejected = None;
        }
    }
    Ok(())
}

fn integrate_one(store: &Store, ns: &str, key: &str, local: &str, theirs: ObjectId) -> Result<Option<Integrated>> {
    let repo = &store.repo;
    for _ in 0..1000 {
        let ours = refs::ref_tip(repo, local)?;
        let (done, new) = match ours {
            None => (Integrated::Created, theirs),
            Some(o) if o == theirs => return Ok(None),
            Some(o) => match (ns, wal::relation(repo, o, theirs)?) {
                (_, Relation::Same | Relation::Ahead) => return Ok(None),
                (_, Relation::Behind) => (Integrated::FastForward, theirs),
                ("wal", Relation::Diverged) => {
                    let author = union_author(store, key)?;
                    let merge = wal::union_commit(repo, o, theirs, (&author.0, &author.1))?;
                    (Integrated::Union, merge)
                }
                (_, Relation::Diverged) => return Ok(Some(Integrated::KeptLocal)),
            },
        };
        if let Swap::Done = refs::swap_ref(repo, local, ours, new)? {
            return Ok(Some(done));
        }
    }
    Err(Error::Contention {
        reference: local.to_owned(),
        what: "integrating fetched events",
        attempts: 1000,
    })
}

/// The name and email on a union commit: the actor's own, from its published record.
fn union_author(store: &Store, key: &str) -> Result<(String, String)> {
    let id = crate::event::ActorId::from_hex(key).expect("checked to be 64 hex digits");
    let view = store.index.author(&id)?;
    Ok((
        view.name.unwrap_or_else(|| "grit".into()),
        view.email.unwrap_or_else(|| "grit@localhost".into()),
    ))
}

/// One ref to push: its local name, the commit to put there, and what the remote had.
struct Planned {
    local: String,
    tracking: String,
    commit: ObjectId,
    theirs: Option<ObjectId>,
}

/// Pushes local refs the remote lacks, fast-forward only. Returns true when a ref was rejected
/// because the remote moved (another round will fetch and integrate first).
fn push(
    store: &Store,
    remote: &str,
    issue: Option<Id>,
    retired: &HashSet<crate::snapshot::Retirement>,
    refs: &mut BTreeMap<String, RefReport>,
    mut partial: Option<&mut Partial>,
) -> Result<bool> {
    let repo = &store.repo;
    let prefix = tracking_prefix(remote);
    let mut plan = Vec::new();
    let mut actors_needed = HashSet::new();
    // A ref of this clone's own still at the tip a trusted snapshot retired stays off the remote:
    // its actor has not come back. A pattern would push it, so the rest go by name.
    let mut held_back = false;
    for ns in NAMESPACES {
        if issue.is_some() && ns == "snapshots" {
            continue;
        }
        for (local, tip) in refs::list_refs(repo, &format!("refs/grit/{ns}/"))? {
            let tracking = format!("{prefix}{}", &local["refs/grit/".len()..]);
            let theirs = refs::ref_tip(repo, &tracking)?;
            if theirs == Some(tip) {
                continue;
            }
            if ns == "wal" && crate::index::wal_owner(&local).is_some_and(|a| retired.contains(&(a, tip))) {
                held_back = true;
                continue;
            }
            let commit = match (issue, ns) {
                (Some(issue), "wal") => match cut(repo, tip, theirs, issue)? {
                    Some(c) => {
                        if let Some(p) = partial.as_deref_mut() {
                            p.carried_events += c.carried;
                            p.held_back_commits += c.held_back;
                        }
                        actors_needed.insert(local["refs/grit/wal/".len()..].to_owned());
                        c.commit
                    }
                    None => continue,
                },
                _ => tip,
            };
            plan.push(Planned {
                local,
                tracking,
                commit,
                theirs,
            });
        }
    }
    if issue.is_some() {
        // Only the records of actors whose events go out.
        plan.retain(|p| {
            !p.local.starts_with(crate::actor::ACTORS_PREFIX)
                || actors_needed.contains(&p.local[crate::actor::ACTORS_PREFIX.len()..])
        });
    }
    if plan.is_empty() {
        return Ok(false);
    }
    // Whole refs go by pattern, one refspec per namespace, whatever the number of refs (git
    // pushes only those that differ, fast-forward only); a partial push names commits, in
    // batches, so that no number of refs can overflow the argument list.
    let whole = !held_back
        && plan
            .iter()
            .all(|p| refs::ref_tip(repo, &p.local).ok().flatten() == Some(p.commit));
    let batches: Vec<Vec<String>> = if whole {
        vec![
            NAMESPACES
                .iter()
                .filter(|ns| issue.is_none() || **ns != "snapshots")
                .map(|ns| format!("refs/grit/{ns}/*:refs/grit/{ns}/*"))
                .collect(),
        ]
    } else {
        plan.chunks(push_batch())
            .map(|part| part.iter().map(|p| format!("{}:{}", p.commit, p.local)).collect())
            .collect()
    };
    let by_ref: std::collections::HashMap<&str, &Planned> = plan.iter().map(|p| (p.local.as_str(), p)).collect();
    // Pushed to a remote by name, git writes a loose tracking ref for every ref pushed (its
    // "opportunistic" update), which at thousands of refs costs more than the push. A large push
    // goes to the remote's one push URL instead, and the new tracking refs are packed in one write.
    let target = if plan.len() > crate::maintenance::LOOSE_REFS && repo.refs == RefFormat::Files {
        push_url(repo, remote)
    } else {
        None
    };
    let mut moved = false;
    for specs in batches {
        moved |= push_batch_of(repo, remote, target.as_deref(), &specs, &by_ref, refs)?;
    }
    Ok(moved)
}

/// The URL a push to `remote` goes to, when pushing there instead of to the name changes
/// nothing but git's tracking-ref update: one push URL, no remote helper, receive-pack program
/// or proxy of the remote's own.
fn push_url(repo: &Repo, remote: &str) -> Option<String> {
    let own = ["receivepack", "vcs", "proxy", "proxyAuthMethod"];
    if own
        .iter()
        .any(|k| repo.config_string(&format!("remote.{remote}.{k}")).is_some())
    {
        return None;
    }
    let out = repo
        .git_output(&["remote", "get-url", "--push", "--all", remote])
        .ok()?;
    let urls = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = urls.lines();
    match (out.status.success(), lines.next(), lines.next()) {
        (true, Some(url), None) if !url.is_empty() => Some(url.to_owned()),
        _ => None,
    }
}

/// How many explicit refspecs one `git push` takes (`GRIT_PUSH_BATCH` lowers it, for tests).
fn push_batch() -> usize {
    std::env::var("GRIT_PUSH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(500)
}

/// One `git push --porcelain` of `specs`; records what happened to the refs of `plan`.
fn push_batch_of(
    repo: &Repo,
    remote: &str,
    url: Option<&str>,
    specs: &[String],
    plan: &std::collections::HashMap<&str, &Planned>,
    refs: &mut BTreeMap<String, RefReport>,
) -> Result<bool> {
    let mut args = vec!["push", "--porcelain", "--no-verify", url.unwrap_or(remote)];
    args.extend(specs.iter().map(String::as_str));
    let _turn = tracking_lock(repo, remote)?;
    let out = repo.git_output(&args)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut seen = 0;
    let mut updated = 0;
    let mut moved = false;
    let mut tracking = Vec::new();
    for line in stdout.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(flag), Some(spec), summary) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Some((_, to)) = spec.split_once(':') else { continue };
        let Some(p) = plan.get(to) else {
            continue;
        };
        seen += 1;
        let e = entry(refs, &p.local);
        match flag {
            " " | "*" | "+" | "=" => {
                tracking.push((p.tracking.as_str(), p.commit));
                if flag != "=" {
                    updated += 1;
                    e.pushed = Some(if p.theirs.is_none() && flag == "*" {
                        Pushed::New
                    } else {
                        Pushed::FastForward
                    });
                    e.pushed_commit = Some(p.commit.to_string());
                }
                e.rejected = None;
            }
            _ => {
                let why = summary.unwrap_or("rejected").trim().to_owned();
                moved |= lost_race(&why);
                e.rejected = Some(why);
            }
        }
    }
    // What the remote now has, in one ref transaction however many refs went (pushed by name,
    // git has already updated those its fetch refspecs map, opportunistically). Tracking refs
    // that do not exist yet go straight into packed-refs when there are many.
    let mut stale = Vec::with_capacity(tracking.len());
    let mut absent = Vec::new();
    for (name, commit) in tracking {
        match refs::ref_tip(repo, name)? {
            Some(c) if c == commit => {}
            None if url.is_some() => absent.push((name.to_owned(), commit)),
            _ => stale.push((name, commit)),
        }
    }
    if absent.len() <= crate::maintenance::LOOSE_REFS || !refs::add_packed(repo, &absent)? {
        stale.extend(absent.iter().map(|(n, c)| (n.as_str(), *c)));
    }
    refs::set_refs(repo, &stale)?;
    // Hundreds of loose tracking refs (git's or ours) would cost every later command a file
    // each to list them; packed, a binary search.
    if stale.len() > crate::maintenance::LOOSE_REFS || (url.is_none() && updated > crate::maintenance::LOOSE_REFS) {
        repo.git_command(&["pack-refs", "--all"])?;
    }
    if seen == 0 && !out.status.success() {
        return Err(Error::Subprocess {
            command: format!("git push {remote}"),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(moved)
}

/// Rejections that another round (fetch, integrate, push) can fix: the remote moved, or another
/// push held the ref's lock at that moment.
fn lost_race(why: &str) -> bool {
    [
        "fetch first",
        "non-fast-forward",
        "stale info",
        "failed to update ref",
        "failed to lock",
        "cannot lock",
    ]
    .iter()
    .any(|s| why.contains(s))
}

/// Where a partial push of one ref stops.
struct Cut {
    commit: ObjectId,
    carried: usize,
    held_back: usize,
}

/// A WAL chain cannot be split without rewriting it, so a partial push sends the chain up to
/// its newest commit holding an event of `issue` (earlier commits go along), and holds back
/// the commits after it. Diverged histories are pushed whole.
fn cut(repo: &Repo, tip: ObjectId, theirs: Option<ObjectId>, issue: Id) -> Result<Option<Cut>> {
    let mut on_remote = HashSet::new();
    if let Some(t) = theirs {
        for c in wal::new_commits(repo, t, |_| Ok(false))? {
            on_remote.insert(c);
        }
    }
    let outgoing = wal::new_commits(repo, tip, |c| Ok(on_remote.contains(c)))?;
    let mut touching = Vec::new();
    for c in &outgoing {
        if wal::read_chunk(repo, "partial sync", *c)?
            .events
            .iter()
            .any(|e| e.entity() == issue)
        {
            touching.push(*c);
        }
    }
    let Some(&first) = touching.first() else {
        return Ok(None);
    };
    let mut commit = first;
    for t in &touching[1..] {
        if !matches!(wal::relation(repo, commit, *t)?, Relation::Ahead) {
            commit = tip;
            break;
        }
    }
    if let Some(t) = theirs
        && !matches!(wal::relation(repo, commit, t)?, Relation::Ahead)
    {
        commit = tip;
    }
    let going = wal::new_commits(repo, commit, |c| Ok(on_remote.contains(c)))?;
    let mut carried = 0;
    for c in &going {
        carried += wal::read_chunk(repo, "partial sync", *c)?
            .events
            .iter()
            .filter(|e| e.entity() != issue)
            .count();
    }
    Ok(Some(Cut {
        commit,
        carried,
        held_back: outgoing.len() - going.len(),
    }))
}
