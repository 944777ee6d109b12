//! Lease locks in refs: `refs/grit/locks/<hash-of-resource>`, one commit per change (acquire,
//! renew, release, break, guard), the lease in the commit message so `git log` reads as the
//! lock's history. `resource` names what is locked; `take` changes leases, locally or on a
//! remote, serialising overlapping resources through their ancestors' refs there and through a
//! mutex file among the processes of one clone.

mod resource;
mod take;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use gix::ObjectId;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::event::{ActorId, Id};
use crate::refs;
use crate::refs::TRACKING_ROOT;
use crate::repo::Repo;

pub use resource::{Resource, parse_duration};
pub use take::{Actor, Conflict, Denied, LeaseChange, Refused, Request, acquire, actor_record, change, fetch, gc};

/// Where locks live: one ref per resource, named by the hash of its canonical form.
pub const LOCKS_PREFIX: &str = "refs/grit/locks/";
/// `--ttl` when none is given.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);

/// What a lock commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A lease was taken.
    Acquire,
    /// A lease was extended.
    Renew,
    /// A lease was given back.
    Release,
    /// Another actor ended a lease (`--force`).
    Break,
    /// A lock under this one changed; the lease itself is carried over unchanged.
    Guard,
}

impl Action {
    /// The action as a lock commit names it.
    pub fn name(self) -> &'static str {
        match self {
            Action::Acquire => "acquire",
            Action::Renew => "renew",
            Action::Release => "release",
            Action::Break => "break",
            Action::Guard => "guard",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "acquire" => Action::Acquire,
            "renew" => Action::Renew,
            "release" => Action::Release,
            "break" => Action::Break,
            "guard" => Action::Guard,
            _ => return None,
        })
    }
}

/// A lease, as one lock commit records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The resource, in its canonical form (`path:src/`, `issue:<id>`, `repo:`).
    pub resource: String,
    /// The holder; `None` on a guard commit of a lock nobody ever held.
    #[serde(serialize_with = "serialize_actor")]
    pub owner: Option<ActorId>,
    /// Whether the lease is held (not released or broken).
    pub held: bool,
    /// When it was taken (milliseconds since the epoch).
    pub acquired_ms: u64,
    /// When it runs out unless renewed.
    pub expires_ms: u64,
    /// Why it was taken, as its holder wrote it.
    pub note: String,
    /// A random value of this lease, kept when it is renewed: two leases of one holder are told
    /// apart by it.
    pub nonce: String,
    /// Length of the lock's commit chain; the newest copy of a lease wins.
    pub seq: u64,
    /// What this commit did.
    pub action: Action,
    /// Who wrote this commit (differs from the owner on a break or a guard).
    #[serde(serialize_with = "serialize_actor")]
    pub by: Option<ActorId>,
}

fn serialize_actor<S: serde::Serializer>(a: &Option<ActorId>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match a {
        Some(a) => s.collect_str(a),
        None => s.serialize_none(),
    }
}

impl Lease {
    /// Held and not expired at `now`.
    pub fn active(&self, now: u64) -> bool {
        self.held && self.expires_ms > now
    }

    pub(crate) fn message(&self) -> String {
        let actor = |a: &Option<ActorId>| a.map_or_else(|| "-".to_owned(), |a| a.to_hex());
        format!(
            "grit-lock: {} {}\n\nresource {}\nowner {}\nheld {}\nacquired {}\nexpires {}\nseq {}\nnonce {}\nby {}\nnote {}\n",
            self.action.name(),
            self.resource,
            self.resource,
            actor(&self.owner),
            self.held,
            self.acquired_ms,
            self.expires_ms,
            self.seq,
            self.nonce,
            actor(&self.by),
            serde_json::to_string(&self.note).expect("a string serialises"),
        )
    }

    pub(crate) fn parse(message: &[u8]) -> Option<Lease> {
        // Called for every lease on every check: one pass over the lines, no map, no allocation
        // beyond the owned strings.
        let text = std::str::from_utf8(message).ok()?;
        let mut lines = text.lines();
        let mut first = lines.next()?.strip_prefix("grit-lock: ")?.split(' ');
        let action = Action::parse(first.next()?)?;
        let actor = |v: &str| -> Option<Option<ActorId>> {
            match v {
                "-" => Some(None),
                hex => Some(Some(ActorId::from_hex(hex)?)),
            }
        };
        let (mut resource, mut owner, mut held, mut acquired, mut expires) = (None, None, None, None, None);
        let (mut seq, mut nonce, mut by, mut note) = (None, None, None, None);
        for line in lines.skip(1) {
            let Some((k, v)) = line.split_once(' ') else { continue };
            match k {
                "resource" => resource = Some(v),
                "owner" => owner = Some(actor(v)?),
                "held" => held = v.parse().ok(),
                "acquired" => acquired = v.parse().ok(),
                "expires" => expires = v.parse().ok(),
                "seq" => seq = v.parse().ok(),
                "nonce" => nonce = Some(v),
                "by" => by = Some(actor(v)?),
                "note" => {
                    note = match v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                        Some(plain) if !plain.contains(['\\', '"']) => Some(plain.to_owned()),
                        _ => serde_json::from_str(v).ok(),
                    }
                }
                _ => {}
            }
        }
        Some(Lease {
            resource: resource?.to_owned(),
            owner: owner?,
            held: held?,
            acquired_ms: acquired?,
            expires_ms: expires?,
            seq: seq?,
            nonce: nonce?.to_owned(),
            by: by?,
            note: note?,
            action,
        })
    }
}

/// One lock as this clone sees it: the newest lease among the local ref and every remote's copy.
#[derive(Debug, Clone, Serialize)]
pub struct Lock {
    /// The lock's ref (under [`LOCKS_PREFIX`]).
    #[serde(rename = "ref")]
    pub reference: String,
    /// The commit holding the newest copy.
    #[serde(serialize_with = "crate::hex::serialize_oid")]
    pub commit: ObjectId,
    /// Where the newest copy was found: "local" or a remote's name.
    pub source: String,
    /// The lease it records.
    #[serde(flatten)]
    pub lease: Lease,
}

/// Every lock this clone knows of, keyed by lock ref hash.
pub struct View {
    /// The locks, by the hash in their ref's name.
    pub locks: HashMap<String, Lock>,
    /// Per hash: the local tip ("local") and each remote's tip.
    tips: HashMap<String, Vec<(String, ObjectId)>>,
}

impl View {
    /// Reads the local lock refs and the remote-tracking copies of every remote's. With an
    /// index, lock commits already seen are not read from git again: their messages are parsed
    /// straight from the index's map.
    pub fn load(repo: &Repo, cache: Option<&crate::index::Index>) -> Result<View> {
        let mut refs: Vec<(String, String, ObjectId)> = refs::list_refs(repo, LOCKS_PREFIX)?
            .into_iter()
            .map(|(mut n, c)| {
                n.drain(..LOCKS_PREFIX.len());
                ("local".to_owned(), n, c)
            })
            .collect();
        for remote in crate::repo::remote_names(repo) {
            let prefix = format!("{TRACKING_ROOT}{remote}/locks/");
            for (mut name, commit) in refs::list_refs(repo, &prefix)? {
                name.drain(..prefix.len());
                refs.push((remote.clone(), name, commit));
            }
        }
        Self::build(repo, cache, refs)
    }

    /// Reads only the locks of `resources` (local and every remote's copy): a lookup by name
    /// each, however many locks exist. The few commits are read from git directly; the index's
    /// cache (and its write transaction) pays off only when reading every lock.
    pub fn load_exact<'r>(repo: &Repo, resources: impl IntoIterator<Item = &'r Resource>) -> Result<View> {
        let remotes = crate::repo::remote_names(repo);
        let mut refs = Vec::new();
        for r in resources {
            let name = r.ref_name();
            let hash = &name[LOCKS_PREFIX.len()..];
            if let Some(c) = refs::ref_tip(repo, &name)? {
                refs.push(("local".to_owned(), hash.to_owned(), c));
            }
            for remote in &remotes {
                if let Some(c) = refs::ref_tip(repo, &format!("{TRACKING_ROOT}{remote}/locks/{hash}"))? {
                    refs.push((remote.clone(), hash.to_owned(), c));
                }
            }
        }
        Self::build(repo, None, refs)
    }

    /// Reads every lock that can overlap one of `resources`: a file or an issue overlaps only
    /// itself and what contains it, so those are looked up by name; a directory or `repo:`
    /// (which contain locks of unknown names) make it read every lock.
    pub fn load_overlapping(repo: &Repo, cache: Option<&crate::index::Index>, resources: &[Resource]) -> Result<View> {
        match candidates(resources) {
            Some(set) => Self::load_exact(repo, &set),
            None => Self::load(repo, cache),
        }
    }

    fn build(repo: &Repo, cache: Option<&crate::index::Index>, refs: Vec<(String, String, ObjectId)>) -> Result<View> {
        let commits: Vec<ObjectId> = refs.iter().map(|(_, _, c)| *c).collect();
        let mut leases: Vec<Option<Lease>> = vec![None; commits.len()];
        let mut missing = Vec::new();
        match cache {
            Some(index) => index.with_cached_leases(&commits, |i, m| match m {
                Some(m) => leases[i] = Lease::parse(m),
                None => missing.push(i),
            })?,
            None => missing.extend(0..commits.len()),
        }
        let mut fresh = Vec::new();
        for i in missing {
            let text = repo.git.find_commit(commits[i])?.message_raw_sloppy().to_vec();
            leases[i] = Lease::parse(&text);
            fresh.push((commits[i], text));
        }
        if let Some(index) = cache {
            index.cache_leases(&fresh)?;
        }
        let mut view = View {
            locks: HashMap::with_capacity(refs.len()),
            tips: HashMap::with_capacity(refs.len()),
        };
        for ((source, hash, commit), lease) in refs.into_iter().zip(leases) {
            let Some(lease) = lease else {
                view.tips.entry(hash).or_default().push((source, commit));
                continue;
            };
            let newer = match view.locks.get_mut(&hash) {
                None => true,
                // The same commit here and on a remote: say where it is shared.
                Some(l) if l.commit == commit => {
                    if l.source == "local" {
                        l.source = source.clone();
                    }
                    false
                }
                // Equal length and different commits: the two copies diverged; keep the held one.
                Some(l) => (lease.seq, lease.held) > (l.lease.seq, l.lease.held),
            };
            if newer {
                view.locks.insert(
                    hash.clone(),
                    Lock {
                        reference: format!("{LOCKS_PREFIX}{hash}"),
                        commit,
                        source: source.clone(),
                        lease,
                    },
                );
            }
            view.tips.entry(hash).or_default().push((source, commit));
        }
        Ok(view)
    }

    /// The tip of a lock ref in `source` ("local" or a remote's name).
    pub fn tip_of(&self, hash: &str, source: &str) -> Option<ObjectId> {
        self.tips
            .get(hash)
            .and_then(|t| t.iter().find(|(s, _)| s == source).map(|(_, c)| *c))
    }

    /// The lock on `r`, if this clone knows of one.
    pub fn get(&self, r: &Resource) -> Option<&Lock> {
        self.locks.get(&r.ref_name()[LOCKS_PREFIX.len()..])
    }

    fn tip(&self, r: &Resource, source: &str) -> Option<ObjectId> {
        self.tip_of(&r.ref_name()[LOCKS_PREFIX.len()..], source)
    }

    /// Active leases held by someone other than `me`.
    pub fn others(&self, me: &ActorId, now: u64) -> impl Iterator<Item = &Lock> {
        self.locks
            .values()
            .filter(move |l| l.lease.active(now) && l.lease.owner.as_ref() != Some(me))
    }

    /// Active leases of others that overlap `r`.
    pub fn conflicts(&self, r: &Resource, me: &ActorId, now: u64) -> Vec<&Lock> {
        self.others(me, now)
            .filter(|l| parse_canonical(&l.lease.resource).is_some_and(|x| x.overlaps(r)))
            .collect()
    }
}

/// Parses a resource as stored in a lease (issue ids are already full).
pub fn parse_canonical(s: &str) -> Option<Resource> {
    Resource::parse(s, |q| Id::from_hex(q).ok_or_else(|| Error::invalid("bad id", ""))).ok()
}

/// Whether this clone has any lock ref at all (local or a remote's copy): one step into the
/// refs, however many there are.
pub fn any(repo: &Repo) -> Result<bool> {
    if refs::has_refs(repo, LOCKS_PREFIX)? {
        return Ok(true);
    }
    for remote in crate::repo::remote_names(repo) {
        if refs::has_refs(repo, &format!("{TRACKING_ROOT}{remote}/locks/"))? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Beyond this many lookups by name, reading every lock is cheaper.
const MAX_LOOKUPS: usize = 512;

/// The resources whose locks can overlap any of `resources`, when that set is small and known
/// by name: each file or issue and its ancestors. `None` when one contains locks of unknown
/// names (a directory, `repo:`) or the set is large.
fn candidates(resources: &[Resource]) -> Option<BTreeSet<Resource>> {
    let mut set = BTreeSet::new();
    for r in resources {
        match r {
            Resource::Repo | Resource::Path { dir: true, .. } => return None,
            _ => {}
        }
        set.extend(r.ancestors());
        set.insert(r.clone());
        if set.len() > MAX_LOOKUPS {
            return None;
        }
    }
    Some(set)
}

/// The file resources of changed paths, for checking them against locks; `None` when a path
/// is not a valid resource (then every lock is read and matched by `covers_path`).
pub fn path_resources(paths: &[String]) -> Option<Vec<Resource>> {
    paths
        .iter()
        .map(
            |p| match Resource::parse(&format!("path:{p}"), |_| Err(Error::invalid("", ""))) {
                Ok(r @ Resource::Path { dir: false, .. }) => Some(r),
                _ => None,
            },
        )
        .collect()
}

/// Where leases are taken.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Leases in this clone only.
    Local,
    /// Leases on this remote, taken by an atomic push.
    Remote(String),
}

impl Scope {
    fn source(&self) -> &str {
        match self {
            Scope::Local => "local",
            Scope::Remote(r) => r,
        }
    }
}

/// `lock.remote`, else `origin` when it exists, else none (local leases).
pub fn default_scope(repo: &Repo) -> Scope {
    if let Some(r) = repo.config_string("lock.remote").filter(|r| !r.is_empty()) {
        return Scope::Remote(r);
    }
    if crate::repo::remote_names(repo).iter().any(|n| n == "origin") {
        return Scope::Remote("origin".into());
    }
    Scope::Local
}

/// `lock.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Locks are not checked.
    Off,
    /// A write to a locked path or issue goes ahead, with a warning.
    Warn,
    /// A write to a locked path or issue is refused.
    Require,
}

/// `lock.policy` as git config sets it (`warn` unless set); an unknown value is an error.
pub fn policy(repo: &Repo) -> Result<Policy> {
    match repo.config_string("lock.policy").as_deref().map(str::trim) {
        None | Some("warn") | Some("") => Ok(Policy::Warn),
        Some("off") => Ok(Policy::Off),
        Some("require") => Ok(Policy::Require),
        Some(other) => Err(Error::invalid(
            format!("lock.policy is '{other}'"),
            "set it to off, warn or require: `git config lock.policy warn`",
        )),
    }
}

/// Locks of others that cover any of `paths` (path: and repo: locks).
pub fn path_conflicts(view: &View, paths: &[String], me: &ActorId, now: u64) -> Vec<(String, Lock)> {
    let mut out = Vec::new();
    let held: Vec<(Resource, &Lock)> = view
        .others(me, now)
        .filter_map(|l| parse_canonical(&l.lease.resource).map(|r| (r, l)))
        .filter(|(r, _)| !matches!(r, Resource::Issue(_)))
        .collect();
    for p in paths {
        for (r, l) in &held {
            if r.covers_path(p) {
                out.push((p.clone(), (*l).clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_round_trip_through_the_commit_message() {
        let lease = Lease {
            resource: "path:src/".into(),
            owner: Some(ActorId([1; 32])),
            held: true,
            acquired_ms: 5,
            expires_ms: 9,
            note: "fixing \"it\"\nnow".into(),
            nonce: "ab".into(),
            seq: 3,
            action: Action::Renew,
            by: None,
        };
        assert_eq!(Lease::parse(lease.message().as_bytes()), Some(lease));
    }
}
