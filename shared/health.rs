//! The log's health: `check` (structure, no keys needed), `verify` (every signature, and every
//! actor's published record) and `doctor` (the installation around them, with safe repairs).
//! Each returns findings; only the CLI prints them or picks an exit code.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use gix::ObjectId;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::event::{ActorId, Id, IdMap, SignedEvent};
use crate::index::{is_actor_ref, is_wal_ref, wal_owner};
use crate::quarantine::Quarantine;
use crate::snapshot;
use crate::store::Store;
use crate::wal;

/// One thing found wrong, named down to the ref, the commit and the event.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What kind of check found it: chunk, owner, bounds, encoding, parent, snapshot, index,
    /// signature, record.
    pub check: &'static str,
    /// The ref it is on.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// The commit, in hex.
    pub commit: Option<String>,
    /// The event, in hex.
    pub event: Option<String>,
    /// What is wrong.
    pub message: String,
    /// Quarantined and resolved by someone: still reported, no longer a failure.
    pub resolved: bool,
}

impl Finding {
    fn new(
        check: &'static str,
        reference: &str,
        commit: Option<ObjectId>,
        event: Option<Id>,
        message: String,
    ) -> Finding {
        Finding {
            check,
            reference: Some(reference.to_owned()),
            commit: commit.map(|c| c.to_string()),
            event: event.map(|e| e.to_hex()),
            message,
            resolved: false,
        }
    }

    /// Marks findings that name a quarantined entry someone resolved.
    fn settle(mut self, q: &Quarantine) -> Finding {
        self.resolved = q
            .entries
            .iter()
            .filter(|e| q.is_resolved(e))
            .any(|e| Some(e.key()) == self.event.as_deref().or(self.commit.as_deref()));
        self
    }
}

/// What `git wal check` or `git wal verify` looked at, and what it found.
#[derive(Debug, Serialize)]
pub struct Report {
    /// WAL refs looked at.
    pub refs: usize,
    /// Commits read.
    pub commits: usize,
    /// Events read.
    pub events: usize,
    /// Snapshots read.
    pub snapshots: usize,
    /// How long it took, in milliseconds.
    pub millis: f64,
    /// What is wrong.
    pub findings: Vec<Finding>,
    /// What is worth knowing but no fault of the log: cycles of `blocked-by` or `parent` links
    /// that two clones made between them (each write was fine where it was made).
    pub notes: Vec<String>,
}

impl Report {
    /// Findings that make the command fail (resolved quarantine entries do not).
    pub fn failures(&self) -> usize {
        self.findings.iter().filter(|f| !f.resolved).count()
    }
}

/// Every WAL commit of every WAL ref (local and remote-tracking), read once each, with the
/// ref it was first reached from (remote-tracking refs first, as the fold reads them).
struct Log {
    refs: usize,
    /// (ref, commit, events); `None` when the chunk could not be read.
    chunks: Vec<(String, ObjectId, Option<Vec<SignedEvent>>)>,
    findings: Vec<Finding>,
}

fn read_log(store: &Store) -> Result<Log> {
    let repo = &store.repo;
    let all = crate::refs::list_refs(repo, "refs/grit/")?;
    let mut refs: Vec<(String, ObjectId)> = all.iter().filter(|(n, _)| is_wal_ref(n)).cloned().collect();
    // Retired chains are part of the log: read from the snapshot links that name them, as the
    // fold reads them.
    let mut names: HashSet<String> = HashSet::new();
    for (actor, tip) in snapshot::retirements_since(repo, &all, &mut HashSet::new()) {
        let name = crate::index::retired_ref(&actor, &tip);
        if names.insert(name.clone()) {
            refs.push((name, tip));
        }
    }
    let mut seen = HashSet::new();
    let mut items: Vec<(&str, ObjectId, ObjectId)> = Vec::new();
    let mut findings = Vec::new();
    for (name, tip) in &refs {
        // A retired chain is read as its owner's alone, as the fold reads it.
        match crate::index::chain_commits(repo, name, *tip, |c| Ok(seen.contains(c))) {
            Ok(commits) => {
                for (c, tree) in commits {
                    seen.insert(c);
                    items.push((name, c, tree));
                }
            }
            Err(e) => findings.push(Finding::new("object", name, Some(*tip), None, e.to_string())),
        }
    }
    let mut chunks = Vec::with_capacity(items.len());
    for ((name, commit, _), chunk) in items.iter().zip(wal::read_tree_chunks(repo, &items)?) {
        match chunk {
            Ok(chunk) => chunks.push((name.to_string(), *commit, Some(chunk.events))),
            Err(e) => {
                let check = if matches!(e, Error::Corrupt { .. }) {
                    "chunk"
                } else {
                    "object"
                };
                findings.push(Finding::new(check, name, Some(*commit), None, e.to_string()));
                chunks.push((name.to_string(), *commit, None));
            }
        }
    }
    Ok(Log {
        refs: refs.len(),
        chunks,
        findings,
    })
}

/// `git wal check`: the structure of the log, with no keys. Every chunk decodes; every event is
/// in canonical form (so its id recomputes the same in any implementation), within the
/// format's bounds and on its owner's ref; every parent and every issue an event changes is
/// known; every snapshot decodes, holds only events of the WAL and every event of each commit
/// it claims to cover; and the index holds what the log says it should.
pub fn check(store: &Store, fold_failed: Option<String>) -> Result<Report> {
    let start = Instant::now();
    let repo = &store.repo;
    let quarantine = Quarantine::load(repo)?;
    let log = read_log(store)?;
    let mut findings = log.findings;
    // id → whether it may be applied; per commit, its event ids.
    let mut ids: IdMap<bool> = IdMap::default();
    let mut by_commit: HashMap<ObjectId, Vec<Id>> = HashMap::new();
    let mut all: Vec<(&str, ObjectId, &SignedEvent)> = Vec::new();
    for (name, commit, events) in &log.chunks {
        let Some(events) = events else { continue };
        let owner = wal_owner(name);
        by_commit.insert(*commit, events.iter().map(|e| e.id).collect());
        for ev in events {
            let mut ok = !quarantine.has_event(&ev.id);
            if let Err(why) = ev.check_structure(owner.as_ref()) {
                let kind = if matches!(why, crate::event::VerifyError::NotOwner { .. }) {
                    "owner"
                } else {
                    "bounds"
                };
                findings.push(Finding::new(kind, name, Some(*commit), Some(ev.id), why.reason()));
                ok = false;
            }
            let applicable = ids.entry(ev.id.0).or_insert(ok);
            *applicable &= ok;
            all.push((name, *commit, ev));
        }
    }
    let canonical = crate::parallel::map(&all, |(_, _, ev)| ev.event.encode() == ev.body);
    for ((name, commit, ev), canonical) in all.iter().zip(canonical) {
        if !canonical {
            findings.push(Finding::new(
                "encoding",
                name,
                Some(*commit),
                Some(ev.id),
                "the body is not in canonical form: another implementation would give it another id".into(),
            ));
        }
        if let Some(entity) = ev.event.entity
            && !ids.contains_key(&entity.0)
        {
            findings.push(Finding::new(
                "parent",
                name,
                Some(*commit),
                Some(ev.id),
                format!(
                    "changes issue {}, whose creation is not in the log",
                    &entity.to_hex()[..12]
                ),
            ));
        }
        for p in &ev.event.parents {
            if !ids.contains_key(&p.0) {
                findings.push(Finding::new(
                    "parent",
                    name,
                    Some(*commit),
                    Some(ev.id),
                    format!("names parent {}, which is not in the log", &p.to_hex()[..12]),
                ));
            }
        }
    }
    let snapshots = snapshot::list(&crate::refs::list_refs(repo, "refs/grit/")?);
    for snap in &snapshots {
        let loaded = match snapshot::read_chain(repo, snap) {
            Ok(l) => l,
            Err(e) => {
                findings.push(Finding::new(
                    "snapshot",
                    &snap.name,
                    Some(snap.commit),
                    None,
                    e.to_string(),
                ));
                continue;
            }
        };
        let held: HashSet<Id> = loaded.events.iter().map(|e| e.id).collect();
        for ev in &loaded.events {
            if let Err(why) = ev.check_structure(None) {
                findings.push(Finding::new(
                    "snapshot",
                    &snap.name,
                    Some(snap.commit),
                    Some(ev.id),
                    why.reason(),
                ));
            } else if !ids.contains_key(&ev.id.0) {
                findings.push(Finding::new(
                    "snapshot",
                    &snap.name,
                    Some(snap.commit),
                    Some(ev.id),
                    "holds an event that is in no WAL ref".into(),
                ));
            }
        }
        for c in &loaded.commits {
            match by_commit.get(c) {
                None if !log.chunks.iter().any(|(_, commit, _)| commit == c) => findings.push(Finding::new(
                    "snapshot",
                    &snap.name,
                    Some(snap.commit),
                    None,
                    format!("claims to cover commit {c}, which is on no WAL ref"),
                )),
                None => {}
                Some(events) => {
                    let quarantined = |e: &Id| quarantine.has_event(e) || !ids.get(&e.0).copied().unwrap_or(false);
                    if let Some(missing) = events.iter().find(|e| !held.contains(e) && !quarantined(e)) {
                        findings.push(Finding::new(
                            "snapshot",
                            &snap.name,
                            Some(snap.commit),
                            Some(*missing),
                            format!("claims to cover commit {c} but lacks its event"),
                        ));
                    }
                }
            }
        }
    }
    // The index: after the fold that opening the store did, it must hold every applicable event.
    let expected = ids.values().filter(|ok| **ok).count() as u64;
    let indexed = store.index.event_count()?;
    let unverifiable = quarantine.entries.iter().filter(|e| e.event.is_some()).count() as u64;
    let folded = fold_failed.is_none();
    if let Some(why) = fold_failed {
        findings.push(Finding {
            check: "index",
            reference: None,
            commit: None,
            event: None,
            message: format!("the index cannot fold the log in: {why}"),
            resolved: false,
        });
    } else if indexed != expected && indexed + unverifiable < expected {
        findings.push(Finding {
            check: "index",
            reference: None,
            commit: None,
            event: None,
            message: format!(
                "the index holds {indexed} events, the log {expected} that apply; `git wal rebuild` recreates it"
            ),
            resolved: false,
        });
    }
    let findings = findings.into_iter().map(|f| f.settle(&quarantine)).collect();
    let notes = if folded {
        store
            .index
            .cycles(None)?
            .into_iter()
            .map(|(link, ids)| {
                let mut ring: Vec<String> = ids.iter().map(|i| i.to_hex()[..12].to_owned()).collect();
                ring.push(ring[0].clone());
                format!("{link} cycle: {}", ring.join(" → "))
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Report {
        notes,
        refs: log.refs,
        commits: log.chunks.len(),
        events: ids.len(),
        snapshots: snapshots.len(),
        millis: start.elapsed().as_secs_f64() * 1000.0,
        findings,
    })
}

/// `git wal verify`: every event's signature (of `actor` only, if given), in the WAL and in
/// snapshots, and for every actor that wrote one a published record that checks out.
pub fn verify(store: &Store, actor: Option<ActorId>) -> Result<Report> {
    let start = Instant::now();
    let repo = &store.repo;
    let quarantine = Quarantine::load(repo)?;
    let log = read_log(store)?;
    let mut findings = log.findings;
    let mut events: Vec<(&str, ObjectId, &SignedEvent)> = Vec::new();
    let mut seen: HashSet<Id> = HashSet::new();
    for (name, commit, evs) in &log.chunks {
        for ev in evs.iter().flatten() {
            if actor.is_none_or(|a| a == ev.event.actor) && seen.insert(ev.id) {
                events.push((name, *commit, ev));
            }
        }
    }
    let all_refs = crate::refs::list_refs(repo, "refs/grit/")?;
    let snapshots = snapshot::list(&all_refs);
    let mut loaded = Vec::new();
    for snap in &snapshots {
        match snapshot::read_chain(repo, snap) {
            Ok(l) => loaded.push((snap, l)),
            Err(e) => findings.push(Finding::new(
                "snapshot",
                &snap.name,
                Some(snap.commit),
                None,
                e.to_string(),
            )),
        }
    }
    for (snap, l) in &loaded {
        for ev in &l.events {
            if actor.is_none_or(|a| a == ev.event.actor) && seen.insert(ev.id) {
                events.push((&snap.name, snap.commit, ev));
            }
        }
    }
    let signed: Vec<SignedEvent> = events.iter().map(|(_, _, e)| (*e).clone()).collect();
    for (i, why) in crate::event::verify_all(&signed) {
        let (name, commit, ev) = events[i];
        findings.push(Finding::new("signature", name, Some(commit), Some(ev.id), why.reason()));
    }
    // Every actor that wrote an event needs a published record to be named and trusted.
    let mut records: HashMap<ActorId, bool> = HashMap::new();
    for (name, tip) in all_refs.iter().filter(|(n, _)| is_actor_ref(n)) {
        let Some(id) = ActorId::from_hex(name.rsplit('/').next().unwrap_or("")) else {
            continue;
        };
        let ok = crate::actor::read_record(repo, *tip)?.is_some_and(|r| r.id == id);
        if !ok {
            findings.push(Finding::new(
                "record",
                name,
                Some(*tip),
                None,
                "the actor record does not decode or is not signed by its own key".into(),
            ));
        }
        *records.entry(id).or_insert(false) |= ok;
    }
    let writers: HashSet<ActorId> = events.iter().map(|(_, _, e)| e.event.actor).collect();
    let mut writers: Vec<ActorId> = writers.into_iter().collect();
    writers.sort();
    for w in writers {
        if !records.get(&w).copied().unwrap_or(false) {
            let reference = crate::wal::wal_ref(&w);
            findings.push(Finding::new(
                "record",
                &reference,
                None,
                None,
                format!(
                    "actor {} has no published record (refs/grit/actors/{w})",
                    &w.to_hex()[..12]
                ),
            ));
        }
    }
    let findings = findings.into_iter().map(|f| f.settle(&quarantine)).collect();
    Ok(Report {
        notes: Vec::new(),
        refs: log.refs,
        commits: log.chunks.len(),
        events: events.len(),
        snapshots: snapshots.len(),
        millis: start.elapsed().as_secs_f64() * 1000.0,
        findings,
    })
}

/// One thing `git wal doctor` found wrong with the installation, and what repairs it.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// hooks, refspecs, index, stale-lock, actor-record, quarantine, loose-objects,
    /// key-permissions, sandbox.
    pub check: &'static str,
    /// What is wrong.
    pub message: String,
    /// What repairs it: done by `--fix` when `fixable`, else left for the user.
    pub repair: String,
    /// Whether `--fix` can repair it.
    pub fixable: bool,
    /// Whether this run repaired it.
    pub fixed: bool,
}

/// What `git wal doctor` found.
#[derive(Debug, Serialize)]
pub struct DoctorReport {
    /// Every check that ran.
    pub checked: Vec<&'static str>,
    /// What is wrong.
    pub problems: Vec<Problem>,
}

impl DoctorReport {
    /// Problems still there after any repair.
    pub fn remaining(&self) -> usize {
        self.problems.iter().filter(|p| !p.fixed).count()
    }
}

struct Doctor {
    fix: bool,
    report: DoctorReport,
}

impl Doctor {
    fn check(&mut self, name: &'static str) {
        self.report.checked.push(name);
    }

    /// Records a problem; with `--fix`, runs `repair` when there is one (safe repairs only).
    fn problem(
        &mut self,
        check: &'static str,
        message: String,
        how: String,
        repair: Option<&mut dyn FnMut() -> Result<()>>,
    ) {
        let fixable = repair.is_some();
        let mut fixed = false;
        let mut message = message;
        if self.fix
            && let Some(repair) = repair
        {
            match repair() {
                Ok(()) => fixed = true,
                Err(e) => message = format!("{message} (the repair failed: {e})"),
            }
        }
        self.report.problems.push(Problem {
            check,
            message,
            repair: how,
            fixable,
            fixed,
        });
    }
}

/// `git wal doctor`: the hooks (installed, chained, not orphaned), the remotes' refspecs, the
/// index, ref locks left by crashes, actor records never published, quarantined events, loose
/// objects past the pack threshold, private key permissions and sandbox leftovers. With `fix`,
/// repairs what is safe to repair and says what it left for the user.
pub fn doctor(store: &Store, fix: bool) -> Result<DoctorReport> {
    let repo = &store.repo;
    let mut d = Doctor {
        fix,
        report: DoctorReport {
            checked: Vec::new(),
            problems: Vec::new(),
        },
    };

    d.check("hooks");
    let dir = crate::hooks::hooks_dir(repo)?;
    for h in crate::hooks::status(repo)? {
        use crate::hooks::State;
        let orphan = crate::hooks::chained_path(&dir, h.name);
        if orphan.exists() && !matches!(h.state, State::Chained | State::Outdated | State::Moved) {
            d.problem(
                "hooks",
                format!(
                    "{} is left over: the hook it was chained from is no longer grit's",
                    orphan.display()
                ),
                "another tool replaced the hook; `git wal hooks install --chain` chains the current one \
                 (compare the two and keep what you need)"
                    .into(),
                None,
            );
        }
        match h.state {
            // Moved: another manager (the pre-commit framework) runs ours from `<hook>.legacy`.
            State::Installed | State::Chained | State::Moved => {}
            State::Absent | State::Outdated => {
                let verb = if h.state == State::Absent {
                    "is not installed"
                } else {
                    "is an older version"
                };
                let mut repair = || crate::hooks::install(repo, crate::hooks::Foreign::Refuse).map(|_| ());
                d.problem(
                    "hooks",
                    format!("grit's {} hook {verb} ({})", h.name, h.path),
                    "`git wal hooks install`".into(),
                    Some(&mut repair),
                );
            }
            State::Foreign => d.problem(
                "hooks",
                format!("{} is another tool's hook; grit's does not run", h.path),
                "`git wal hooks install --chain` keeps it and runs grit's after it".into(),
                None,
            ),
        }
    }

    d.check("webhooks");
    match crate::live::webhook::configured(repo) {
        Ok(hooks) => {
            for h in hooks {
                let parked = h.parked(repo);
                if let Some(last) = parked.last() {
                    d.problem(
                        "webhooks",
                        format!(
                            "webhook {} has {} parked deliver(ies); the last failed: {}",
                            h.name,
                            parked.len(),
                            last.error
                        ),
                        format!("fix the receiver, then `git wal webhook retry {}`", h.name),
                        None,
                    );
                }
            }
        }
        Err(e) => d.problem(
            "webhooks",
            e.to_string(),
            "fix the grit.webhook.* settings in git config (`git wal webhook list` checks them)".into(),
            None,
        ),
    }

    d.check("refspecs");
    for remote in crate::sync::remote_names(repo) {
        let have: Vec<String> = repo
            .git
            .config_snapshot()
            .strings(format!("remote.{remote}.fetch").as_str())
            .unwrap_or_default()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let missing: Vec<String> = crate::sync::fetch_refspecs(&remote)
            .into_iter()
            .filter(|s| !have.contains(s))
            .collect();
        if !missing.is_empty() {
            let mut repair = || crate::sync::configure_fetch(repo, &remote).map(|_| ());
            d.problem(
                "refspecs",
                format!("remote '{remote}' does not fetch {}", missing.join(", ")),
                format!("`git wal init --remote {remote}` adds them"),
                Some(&mut repair),
            );
        }
    }

    d.check("index");
    if !store.index.is_current(repo)? {
        let mut repair = || store.index.refresh(repo).map(|_| ());
        d.problem(
            "index",
            "the index has not folded in every ref".into(),
            "any command folds them in; `git wal rebuild` recreates the index".into(),
            Some(&mut repair),
        );
    }

    d.check("stale-lock");
    for lock in crate::refs::stale_locks(repo) {
        let mut repair = || crate::refs::remove_stale_lock(&lock).map(|_| ());
        d.problem(
            "stale-lock",
            format!(
                "{} is older than {} s: left by a process that died while updating a ref",
                lock.display(),
                crate::refs::STALE_LOCK_AGE.as_secs()
            ),
            "removed by `git wal doctor --fix` if it is still unchanged".into(),
            Some(&mut repair),
        );
    }

    d.check("actor-record");
    for actor in crate::actor::list_local(repo)? {
        let name = format!("{}{}", crate::actor::ACTORS_PREFIX, actor.id());
        if crate::refs::ref_tip(repo, &name)?.is_none() {
            let mut repair = || crate::actor::publish(repo, &actor).map(|_| ());
            d.problem(
                "actor-record",
                format!("actor '{}' has a key but no published record at {name}", actor.label),
                "publish it (the next write does too)".into(),
                Some(&mut repair),
            );
        }
    }

    d.check("key-permissions");
    for key in crate::actor::key_files(repo)? {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).map_err(Error::io(&key))?.permissions().mode();
        if mode & 0o077 != 0 {
            let mut repair =
                || std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).map_err(Error::io(&key));
            d.problem(
                "key-permissions",
                format!("{} is readable by others (mode {:o})", key.display(), mode & 0o777),
                "`chmod 600` it".into(),
                Some(&mut repair),
            );
        }
    }

    d.check("quarantine");
    let quarantine = Quarantine::load(repo)?;
    let open = quarantine.unresolved().count();
    if open > 0 {
        d.problem(
            "quarantine",
            format!("{open} quarantined event(s) are not resolved; they are never applied"),
            "`git wal quarantine` lists them; find who wrote them, then `git wal quarantine resolve`".into(),
            None,
        );
    }

    d.check("loose-objects");
    let loose = crate::maintenance::loose_estimate(repo);
    let limit = crate::maintenance::auto_pack_limit(repo);
    if limit > 0 && loose > limit {
        let mut repair = || repo.git_command(&["repack", "-d", "-q"]).map(|_| ());
        d.problem(
            "loose-objects",
            format!("about {loose} loose objects, past grit.autoPack ({limit})"),
            "`git repack -d` packs them".into(),
            Some(&mut repair),
        );
    }

    d.check("sandbox");
    if let Ok(main) = crate::sandbox::Main::discover(repo.git.workdir().unwrap_or(repo.git.git_dir())) {
        for r in main.list()? {
            if !r.path.exists() {
                d.problem(
                    "sandbox",
                    format!("sandbox '{}' is recorded but {} is gone", r.name, r.path.display()),
                    format!("`git sandbox rm {}` forgets it (its branch {} stays)", r.name, r.branch),
                    None,
                );
            }
        }
        if let Ok(entries) = std::fs::read_dir(main.root()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(pid) = name.strip_prefix(".overlay-probe-").and_then(|p| p.parse::<u32>().ok()) else {
                    continue;
                };
                if crate::sys::alive(pid) {
                    continue;
                }
                let path = e.path();
                let mut repair = || std::fs::remove_dir_all(&path).map_err(Error::io(&path));
                d.problem(
                    "sandbox",
                    format!("{} was left by an interrupted overlay probe", path.display()),
                    "remove it".into(),
                    Some(&mut repair),
                );
            }
        }
    }
    Ok(d.report)
}
