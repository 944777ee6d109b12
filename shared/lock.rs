//! Lease locks in refs: `refs/grit/locks/<hash-of-resource>`, one commit per change (acquire,
//! renew, release, break), the lease in the commit message so `git log` reads as its history.
//! Overlapping resources are serialised through their ancestors' refs (see `acquire`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use gix::ObjectId;
use gix::refs::Target;
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use serde::Serialize;

use crate::actor::ACTORS_PREFIX;
use crate::error::{Error, Result};
use crate::event::{ActorId, Id};
use crate::repo::{Repo, now_ms};
use crate::sync::TRACKING_ROOT;
use crate::wal::{self, Author};

pub const LOCKS_PREFIX: &str = "refs/grit/locks/";
/// `--ttl` when none is given.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);

/// What a lock is on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// The whole repository: conflicts with every other lock.
    Repo,
    /// A repository-relative path, normalised; `dir` when written with a trailing `/`.
    Path {
        path: String,
        dir: bool,
    },
    Issue(Id),
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resource::Repo => f.write_str("repo:"),
            Resource::Path { path, dir: true } => write!(f, "path:{path}/"),
            Resource::Path { path, dir: false } => write!(f, "path:{path}"),
            Resource::Issue(id) => write!(f, "issue:{id}"),
        }
    }
}

fn bad(message: String, hint: &str) -> Error {
    Error::invalid(message, hint)
}

const RESOURCE_HINT: &str = "resources are `repo:`, `path:<file>`, `path:<dir>/` (relative to the repository root) \
                             or `issue:<id>`";

impl Resource {
    /// Parses `repo:`, `path:<p>` or `issue:<id>`; `issue` resolves an id prefix.
    pub fn parse(s: &str, issue: impl FnOnce(&str) -> Result<Id>) -> Result<Resource> {
        let Some((ns, rest)) = s.split_once(':') else {
            return Err(bad(format!("'{s}' has no namespace"), RESOURCE_HINT));
        };
        match ns {
            "repo" if rest.is_empty() => Ok(Resource::Repo),
            "repo" => Err(bad(
                format!("'{s}': repo: takes nothing after the colon"),
                RESOURCE_HINT,
            )),
            "path" => Self::parse_path(s, rest),
            "issue" if rest.is_empty() => Err(bad(format!("'{s}' names no issue"), RESOURCE_HINT)),
            "issue" => Ok(Resource::Issue(issue(rest)?)),
            _ => Err(bad(format!("unknown lock namespace '{ns}:' in '{s}'"), RESOURCE_HINT)),
        }
    }

    fn parse_path(s: &str, p: &str) -> Result<Resource> {
        if p.is_empty() {
            return Err(bad(format!("'{s}' names no path"), "use `repo:` to lock everything"));
        }
        if p.starts_with('/') {
            return Err(bad(
                format!("'{s}' is an absolute path"),
                "paths are relative to the repository root, e.g. `path:src/main.rs`",
            ));
        }
        if p.chars().any(|c| c.is_control()) {
            return Err(bad(
                format!("'{}' holds control characters", s.escape_debug()),
                RESOURCE_HINT,
            ));
        }
        let dir = p.ends_with('/');
        let mut parts = Vec::new();
        for part in p.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    return Err(bad(
                        format!("'{s}' climbs out with '..'"),
                        "name the path from the repository root, without '..'",
                    ));
                }
                x => parts.push(x),
            }
        }
        if parts.is_empty() {
            return Err(bad(format!("'{s}' names no path"), "use `repo:` to lock everything"));
        }
        Ok(Resource::Path {
            path: parts.join("/"),
            dir,
        })
    }

    /// The lock ref: `refs/grit/locks/<BLAKE2b-256 of the canonical resource, hex>`.
    pub fn ref_name(&self) -> String {
        format!("{LOCKS_PREFIX}{}", hash(&self.to_string()))
    }

    /// The resources that contain this one: parent directories, then `repo:`.
    pub fn ancestors(&self) -> Vec<Resource> {
        let mut out = Vec::new();
        if let Resource::Path { path, .. } = self {
            let parts: Vec<&str> = path.split('/').collect();
            for n in (1..parts.len()).rev() {
                out.push(Resource::Path {
                    path: parts[..n].join("/"),
                    dir: true,
                });
            }
        }
        if *self != Resource::Repo {
            out.push(Resource::Repo);
        }
        out
    }

    /// Whether holding both at once would conflict.
    pub fn overlaps(&self, other: &Resource) -> bool {
        match (self, other) {
            (Resource::Repo, _) | (_, Resource::Repo) => true,
            (Resource::Issue(a), Resource::Issue(b)) => a == b,
            (Resource::Path { path: a, dir: da }, Resource::Path { path: b, dir: db }) => {
                a == b || (*da && contains(a, b)) || (*db && contains(b, a))
            }
            _ => false,
        }
    }

    /// Whether a changed file at `path` falls under this resource.
    pub fn covers_path(&self, path: &str) -> bool {
        match self {
            Resource::Repo => true,
            Resource::Path { path: p, dir: false } => p == path,
            Resource::Path { path: p, dir: true } => contains(p, path),
            Resource::Issue(_) => false,
        }
    }
}

fn contains(dir: &str, path: &str) -> bool {
    path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

fn hash(s: &str) -> String {
    use blake2::Digest;
    let digest = blake2::Blake2b::<blake2::digest::consts::U32>::digest(s.as_bytes());
    crate::hex::encode(&digest)
}

/// Parses `90s`, `15m`, `2h`, `1d` (a plain number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num.parse().map_err(|_| {
        bad(
            format!("'{s}' is not a duration"),
            "write a number with a unit: 90s, 15m, 2h or 1d",
        )
    })?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return Err(bad(
                format!("'{s}' has an unknown unit '{unit}'"),
                "write a number with a unit: 90s, 15m, 2h or 1d",
            ));
        }
    };
    if secs == 0 {
        return Err(bad(format!("'{s}' is zero"), "a lease must last at least a second"));
    }
    Ok(Duration::from_secs(secs))
}

/// What a lock commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Acquire,
    Renew,
    Release,
    /// Another actor ended a lease (`--force`).
    Break,
    /// A lock under this one changed; the lease itself is carried over unchanged.
    Guard,
}

impl Action {
    fn name(self) -> &'static str {
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
    pub resource: String,
    /// The holder; `None` on a guard commit of a lock nobody ever held.
    #[serde(serialize_with = "serialize_actor")]
    pub owner: Option<ActorId>,
    pub held: bool,
    pub acquired_ms: u64,
    pub expires_ms: u64,
    pub note: String,
    pub nonce: String,
    /// Length of the lock's commit chain; the newest copy of a lease wins.
    pub seq: u64,
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

    fn message(&self) -> String {
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

    fn parse(message: &[u8]) -> Option<Lease> {
        let text = std::str::from_utf8(message).ok()?;
        let mut first = text.lines().next()?.strip_prefix("grit-lock: ")?.split(' ');
        let action = Action::parse(first.next()?)?;
        let mut fields = BTreeMap::new();
        for line in text.lines().skip(2) {
            if let Some((k, v)) = line.split_once(' ') {
                fields.insert(k, v);
            }
        }
        let actor = |k: &str| -> Option<Option<ActorId>> {
            match *fields.get(k)? {
                "-" => Some(None),
                hex => Some(Some(ActorId(crate::hex::decode(hex)?.try_into().ok()?))),
            }
        };
        Some(Lease {
            resource: fields.get("resource")?.to_string(),
            owner: actor("owner")?,
            held: fields.get("held")?.parse().ok()?,
            acquired_ms: fields.get("acquired")?.parse().ok()?,
            expires_ms: fields.get("expires")?.parse().ok()?,
            seq: fields.get("seq")?.parse().ok()?,
            nonce: fields.get("nonce")?.to_string(),
            by: actor("by")?,
            note: serde_json::from_str(fields.get("note")?).ok()?,
            action,
        })
    }
}

/// One lock as this clone sees it: the newest lease among the local ref and every remote's copy.
#[derive(Debug, Clone, Serialize)]
pub struct Lock {
    #[serde(rename = "ref")]
    pub reference: String,
    #[serde(serialize_with = "crate::hex::serialize_oid")]
    pub commit: ObjectId,
    /// Where the newest copy was found: "local" or a remote's name.
    pub source: String,
    #[serde(flatten)]
    pub lease: Lease,
}

/// Every lock this clone knows of, keyed by lock ref hash.
pub struct View {
    pub locks: BTreeMap<String, Lock>,
    /// Per hash: the local tip and each remote's tip.
    tips: BTreeMap<String, BTreeMap<String, ObjectId>>,
}

impl View {
    /// Reads the local lock refs and the remote-tracking copies of every remote's.
    pub fn load(repo: &Repo) -> Result<View> {
        let mut refs: Vec<(String, String, ObjectId)> = wal::list_refs(repo, LOCKS_PREFIX)?
            .into_iter()
            .map(|(n, c)| ("local".to_owned(), n[LOCKS_PREFIX.len()..].to_owned(), c))
            .collect();
        for (name, commit) in wal::list_refs(repo, TRACKING_ROOT)? {
            let rest = &name[TRACKING_ROOT.len()..];
            if let Some((remote, hash)) = rest.split_once("/locks/") {
                refs.push((remote.to_owned(), hash.to_owned(), commit));
            }
        }
        let mut view = View {
            locks: BTreeMap::new(),
            tips: BTreeMap::new(),
        };
        for (source, hash, commit) in refs {
            view.tips
                .entry(hash.clone())
                .or_default()
                .insert(source.clone(), commit);
            let message = repo.git.find_commit(commit)?.message_raw_sloppy().to_vec();
            let Some(lease) = Lease::parse(&message) else {
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
                        source,
                        lease,
                    },
                );
            }
        }
        Ok(view)
    }

    pub fn get(&self, r: &Resource) -> Option<&Lock> {
        self.locks.get(&r.ref_name()[LOCKS_PREFIX.len()..])
    }

    fn tip(&self, r: &Resource, source: &str) -> Option<ObjectId> {
        self.tips
            .get(&r.ref_name()[LOCKS_PREFIX.len()..])
            .and_then(|t| t.get(source).copied())
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
    Resource::parse(s, |q| {
        crate::hex::decode(q)
            .and_then(|b| b.try_into().ok())
            .map(Id)
            .ok_or_else(|| Error::invalid("bad id", ""))
    })
    .ok()
}

/// A lock someone else holds.
#[derive(Debug, Clone, Serialize)]
pub struct Conflict {
    pub wanted: String,
    #[serde(flatten)]
    pub held: Lock,
}

/// Why an acquire did not happen.
#[derive(Debug)]
pub enum Denied {
    Conflicts(Vec<Conflict>),
    Error(Error),
}

impl From<Error> for Denied {
    fn from(e: Error) -> Self {
        Denied::Error(e)
    }
}

/// Who is acting, and when.
pub struct Actor<'a> {
    pub id: ActorId,
    pub author: Author<'a>,
}

/// Where leases are taken.
#[derive(Debug, Clone)]
pub enum Scope {
    Local,
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
    if crate::sync::remote_names(repo).iter().any(|n| n == "origin") {
        return Scope::Remote("origin".into());
    }
    Scope::Local
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

/// Brings the remote's lock refs into `refs/grit/remotes/<remote>/locks/`.
pub fn fetch(repo: &Repo, remote: &str) -> Result<()> {
    crate::sync::check_remote(repo, remote)?;
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
    ])?;
    Ok(())
}

/// An actor's published record, from the local ref or any remote's copy.
pub fn actor_record(repo: &Repo, id: &ActorId) -> Option<crate::actor::Record> {
    let mut names = vec![format!("{ACTORS_PREFIX}{id}")];
    names.extend(
        crate::sync::remote_names(repo)
            .into_iter()
            .map(|r| format!("{TRACKING_ROOT}{r}/actors/{id}")),
    );
    names.into_iter().find_map(|n| {
        let tip = wal::ref_tip(repo, &n).ok()??;
        crate::actor::read_record(repo, tip).ok()?
    })
}

/// Publishes the actor's record on the remote if it is not there yet, so others can name the
/// holder of a lease. Best effort: a lease is valid without it.
fn publish_actor(repo: &Repo, remote: &str, who: &ActorId) {
    let name = format!("{ACTORS_PREFIX}{who}");
    let tracking = format!("{TRACKING_ROOT}{remote}/actors/{who}");
    if !matches!(wal::ref_tip(repo, &tracking), Ok(None)) {
        return;
    }
    let Ok(Some(tip)) = wal::ref_tip(repo, &name) else {
        return;
    };
    let spec = format!("{tip}:{name}");
    if let Ok(out) = repo.git_output(&["push", "--quiet", "--no-verify", remote, &spec])
        && out.status.success()
    {
        let _ = wal::force_ref(repo, &tracking, tip, "grit: pushed");
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
    let tree = repo.git.write_object(gix::objs::Tree::empty())?.detach();
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
            let edits: Vec<RefEdit> = steps
                .iter()
                .zip(&commits)
                .map(|(s, c)| RefEdit {
                    change: Change::Update {
                        log: LogChange {
                            mode: RefLog::AndReference,
                            force_create_reflog: false,
                            message: "grit: lock".into(),
                        },
                        expected: match s.base {
                            Some(b) => PreviousValue::MustExistAndMatch(Target::Object(b)),
                            None => PreviousValue::MustNotExist,
                        },
                        new: Target::Object(*c),
                    },
                    name: s.resource.ref_name().try_into().expect("lock ref names are valid"),
                    deref: false,
                })
                .collect();
            match repo.git.edit_references_as(edits, None) {
                Ok(_) => {}
                Err(e) if e.is_conflict() || format!("{e:?}").contains("lock") => return Ok(Applied::Raced),
                Err(e) if format!("{e:?}").contains("MustNotExist") || format!("{e:?}").contains("OutOfDate") => {
                    return Ok(Applied::Raced);
                }
                Err(e) => return Err(e.into()),
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
                wal::force_ref(repo, &name, *c, "grit: lock")?;
                let tracking = format!("{TRACKING_ROOT}{remote}/locks/{}", &name[LOCKS_PREFIX.len()..]);
                wal::force_ref(repo, &tracking, *c, "grit: lock")?;
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
/// Two clones changing overlapping locks then always write one ref in common, so the ref
/// transaction (or the atomic push) lets exactly one through.
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
    pub resources: &'a [Resource],
    pub ttl: Duration,
    pub note: &'a str,
    pub scope: Scope,
    /// Keep trying this long while others hold a lease.
    pub wait: Option<Duration>,
}

/// Takes every resource in `req` or none. A resource the actor already holds is renewed.
pub fn acquire(repo: &Repo, who: &Actor<'_>, req: &Request<'_>) -> std::result::Result<Vec<Lock>, Denied> {
    let deadline = Instant::now() + req.wait.unwrap_or_default();
    let mut races = 0;
    if let Scope::Remote(r) = &req.scope {
        fetch(repo, r)?;
        publish_actor(repo, r, &who.id);
    }
    let mut fetched = true;
    loop {
        if let Scope::Remote(r) = &req.scope
            && !std::mem::take(&mut fetched)
        {
            fetch(repo, r)?;
        }
        let view = View::load(repo)?;
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
            if Instant::now() < deadline {
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
        steps.extend(guard_steps(&view, &req.scope, &changing, &who.id, now));
        match apply(repo, who, &req.scope, steps)? {
            Applied::Done(done) => return Ok(to_locks(done, &req.scope)),
            Applied::Raced => {
                races += 1;
                if races > 50 && Instant::now() >= deadline {
                    return Err(Denied::Error(Error::Contention {
                        reference: LOCKS_PREFIX.into(),
                        what: "taking locks",
                        attempts: races,
                    }));
                }
                std::thread::sleep(Duration::from_millis(u64::from(std::process::id() % 20) + 5));
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
    Renew(Duration),
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
    loop {
        if let Scope::Remote(r) = scope {
            fetch(repo, r)?;
        }
        let view = View::load(repo)?;
        let now = now_ms();
        let mut steps = Vec::new();
        for r in resources {
            let Some(lock) = view.get(r).filter(|l| l.lease.held) else {
                return Err(Refused::NotHeld(r.to_string()));
            };
            let mine = lock.lease.owner == Some(who.id);
            if !(mine || force && what == LeaseChange::Release) {
                return Err(Refused::NotOwner(Box::new(lock.clone())));
            }
            if mine && !lock.lease.active(now) && what != LeaseChange::Release {
                return Err(Refused::NotHeld(format!("{r} (your lease expired; acquire it again)")));
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
        match apply(repo, who, scope, steps)? {
            Applied::Done(done) => return Ok(to_locks(done, scope)),
            Applied::Raced if races < 50 => {
                races += 1;
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
pub fn gc(repo: &Repo, scope: &Scope) -> Result<Vec<Lock>> {
    if let Scope::Remote(r) = scope {
        fetch(repo, r)?;
    }
    let view = View::load(repo)?;
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
            if let Some(tip) = view
                .tips
                .get(&l.reference[LOCKS_PREFIX.len()..])
                .and_then(|t| t.get(remote))
            {
                args.push(format!("--force-with-lease={}:{tip}", l.reference));
                any = true;
            }
        }
        for l in &dead {
            if view
                .tips
                .get(&l.reference[LOCKS_PREFIX.len()..])
                .is_some_and(|t| t.contains_key(remote))
            {
                args.push(format!(":{}", l.reference));
            }
        }
        if any {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            repo.git_output(&args)?;
            fetch(repo, remote)?;
        }
    }
    let mut removed = Vec::new();
    for l in dead {
        let hash = &l.reference[LOCKS_PREFIX.len()..];
        if let Some(local) = view.tips.get(hash).and_then(|t| t.get("local")) {
            wal::delete_ref(repo, &l.reference, *local)?;
        }
        removed.push(l);
    }
    Ok(removed)
}

/// `lock.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    Off,
    Warn,
    Require,
}

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

    fn res(s: &str) -> Resource {
        Resource::parse(s, |_| Ok(Id([7; 32]))).unwrap()
    }

    #[test]
    fn resources_parse_normalise_and_refuse_bad_input() {
        assert_eq!(res("path:./src//main.rs").to_string(), "path:src/main.rs");
        assert_eq!(res("path:src/").to_string(), "path:src/");
        assert_eq!(res("repo:"), Resource::Repo);
        for bad in [
            "",
            "src",
            "foo:x",
            "path:",
            "path:/etc/passwd",
            "path:a/../b",
            "repo:x",
            "issue:",
            "path:./",
        ] {
            assert!(Resource::parse(bad, |_| Ok(Id([7; 32]))).is_err(), "{bad}");
        }
    }

    #[test]
    fn overlap_is_prefix_on_directories_and_exact_otherwise() {
        assert!(res("path:src/").overlaps(&res("path:src/a.rs")));
        assert!(res("path:src/a.rs").overlaps(&res("path:src/")));
        assert!(res("path:src/").overlaps(&res("path:src/sub/")));
        assert!(!res("path:src/").overlaps(&res("path:srcx/a")));
        assert!(!res("path:src/a.rs").overlaps(&res("path:src/b.rs")));
        assert!(
            !res("path:src").overlaps(&res("path:src/a.rs")),
            "a file is not a directory"
        );
        assert!(res("repo:").overlaps(&res("issue:x")));
        assert!(!res("issue:x").overlaps(&res("path:x")));
        assert_eq!(
            res("path:a/b/c").ancestors(),
            [res("path:a/b/"), res("path:a/"), Resource::Repo]
        );
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        for bad in ["", "m", "5x", "-5m", "0s", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

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
