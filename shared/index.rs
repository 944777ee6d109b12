//! The index: an LMDB projection of every WAL ref, kept at `<git-common-dir>/grit/index/`.
//! Each command folds in only the commits that arrived since the stored tips; the whole index
//! is a cache that can be deleted at any time (or is wiped on a schema change) and rebuilt.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::time::Instant;

use gix::ObjectId;
use heed::types::{Bytes, Str, Unit};
use heed::{Database, Env, EnvFlags, EnvOpenOptions, PutFlags, RoTxn, RwTxn};

use crate::actor::{self, ACTORS_PREFIX, Record};
use crate::error::{Error, Result};
use crate::event::{ActorId, Id, IdSet, SignedEvent, State};
use crate::hex;
use crate::issue::{AuthorView, IssueState, IssueView};
use crate::repo::Repo;
use crate::{snapshot, sync, wal};

/// Bump when the stored layout or the merge rules change: the index then rebuilds itself.
pub const SCHEMA_VERSION: u32 = 3;
/// Shortest id prefix ever printed.
pub const MIN_SHORT: usize = 7;
const MAP_SIZE: usize = 16 << 30;

/// The open index of one repository.
pub struct Index {
    env: Env,
    path: PathBuf,
    meta: Database<Str, Bytes>,
    /// ref name → tip commit applied.
    tips: Database<Str, Bytes>,
    /// commit id → (): every WAL commit folded in.
    commits: Database<Bytes, Unit>,
    /// event id → entity id: every event folded in.
    events: Database<Bytes, Bytes>,
    /// event id → (): events some other event names as a causal parent.
    parented: Database<Bytes, Unit>,
    /// issue id → `IssueState`, in the form `IssueState::encode` writes.
    issues: Database<Bytes, Bytes>,
    /// created_ms (BE) ++ issue id → state byte ++ author ++ JSON fragment, for `list`.
    rows: Database<Bytes, Bytes>,
    /// label ++ 0 ++ issue id → (): issues currently carrying a label.
    labels: Database<Bytes, Unit>,
    /// actor id → CBOR `[name, email]` from the published records.
    actors: Database<Bytes, Bytes>,
    /// lock commit id → its message (the lease): lock commits never change, so neither does this.
    leases: Database<Bytes, Bytes>,
}

/// What one fold did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct FoldStats {
    pub refs_changed: usize,
    pub commits: usize,
    pub events: usize,
    pub millis: f64,
    /// The snapshot a first fold started from.
    pub snapshot: Option<String>,
    /// Events from other clones that failed verification and were not applied.
    pub rejected: Vec<Rejected>,
}

/// An event that did not verify, and where it was found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rejected {
    #[serde(rename = "ref")]
    pub reference: String,
    pub commit: String,
    /// None when the whole chunk was unreadable.
    pub event: Option<String>,
    pub reason: String,
}

/// Events read from git, with the remote-tracking ref and commit they came from when they came
/// from another clone (those are verified before they are applied).
type Fetched<'a> = (Vec<SignedEvent>, Option<(&'a str, ObjectId)>);

/// Meta key prefix: remote-tracking ref → the commit where a bad event was found.
const REJECTED: &str = "rejected:";

/// `git wal stats`.
#[derive(Debug, serde::Serialize)]
pub struct Stats {
    pub events: u64,
    pub issues: u64,
    pub actors: u64,
    pub refs: u64,
    pub index_bytes: u64,
    pub index_path: String,
    pub schema_version: u32,
    pub last_fold_at: Option<String>,
    pub last_fold_ms: Option<f64>,
    pub lamport: u64,
}

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub state: Option<State>,
    /// Issues carrying every one of these labels.
    pub labels: Vec<String>,
    pub assignee: Option<String>,
    pub author: Option<ActorId>,
    /// Issues left out (e.g. claimed ones, for `ready`).
    pub exclude: std::collections::HashSet<Id>,
    /// 0: no limit.
    pub limit: usize,
}

/// One row of `list`, borrowed from the index.
pub struct Row<'a> {
    pub id: Id,
    pub short_id: &'a str,
    pub author_json: &'a str,
    pub fragment: &'a [u8],
}

fn lmdb(path: &Path) -> impl Fn(heed::Error) -> Error + '_ {
    move |source| Error::Index {
        path: path.to_owned(),
        source,
    }
}

fn meta_u64(v: Option<&[u8]>) -> u64 {
    v.and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes)
}

fn oid_bytes(id: &ObjectId) -> &[u8] {
    id.as_bytes()
}

/// An `Index` whose databases `$db!(name)` opens or creates.
macro_rules! databases {
    ($db:ident, $path:expr, $env:expr) => {
        Index {
            meta: $db!("meta"),
            tips: $db!("tips"),
            commits: $db!("commits"),
            events: $db!("events"),
            parented: $db!("parented"),
            issues: $db!("issues"),
            rows: $db!("rows"),
            labels: $db!("labels"),
            actors: $db!("actors"),
            leases: $db!("leases"),
            path: $path.to_owned(),
            env: $env.clone(),
        }
    };
}

impl Index {
    fn dir(repo: &Repo) -> PathBuf {
        repo.grit_dir.join("index")
    }

    /// Opens (creating if needed) the repository's index. An index written by another schema
    /// version, or one LMDB cannot read, is deleted and started afresh: it is only a cache.
    pub fn open(repo: &Repo) -> Result<Index> {
        Self::reopen_checked(&Self::dir(repo))
    }

    fn reopen_checked(path: &Path) -> Result<Index> {
        let path = path.to_owned();
        match Self::open_at(&path) {
            Ok(index) if index.schema()? == SCHEMA_VERSION => Ok(index),
            Ok(index) => {
                index.close();
                Self::wipe(&path)?;
                Self::open_at(&path)
            }
            Err(Error::Index {
                source: heed::Error::Mdb(_),
                ..
            }) => {
                Self::wipe(&path)?;
                Self::open_at(&path)
            }
            Err(e) => Err(e),
        }
    }

    fn wipe(path: &Path) -> Result<()> {
        match std::fs::remove_dir_all(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                path: path.to_owned(),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    fn open_at(path: &Path) -> Result<Index> {
        std::fs::create_dir_all(path).map_err(Error::io(path))?;
        let err = lmdb(path);
        // SAFETY: LMDB requires that the same environment is not opened twice in one process
        // (heed enforces it) and that the files are not modified by other means.
        let env = unsafe {
            EnvOpenOptions::new()
                .map_size(MAP_SIZE)
                .max_dbs(16)
                // The index is a cache of the refs: a power loss may cost it, never the refs,
                // and a damaged index is rebuilt. Process crashes lose nothing either way.
                .flags(EnvFlags::NO_SYNC | EnvFlags::NO_META_SYNC)
                .open(path)
        }
        .map_err(&err)?;
        // Every database exists after the first open: open them in a read transaction, so that
        // a command does not wait for (or hold up) a writer just to start.
        let rtxn = env.read_txn().map_err(&err)?;
        let opened = (|| -> heed::Result<Option<Index>> {
            macro_rules! open {
                ($name:literal) => {
                    match env.open_database(&rtxn, Some($name))? {
                        Some(db) => db,
                        None => return Ok(None),
                    }
                };
            }
            Ok(Some(databases!(open, path, env)))
        })()
        .map_err(&err)?;
        rtxn.commit().map_err(&err)?;
        if let Some(index) = opened {
            return Ok(index);
        }
        let mut wtxn = env.write_txn().map_err(&err)?;
        macro_rules! create {
            ($name:literal) => {
                env.create_database(&mut wtxn, Some($name)).map_err(&err)?
            };
        }
        let index = databases!(create, path, env);
        if index.meta.get(&wtxn, "schema").map_err(&err)?.is_none() {
            index
                .meta
                .put(&mut wtxn, "schema", &SCHEMA_VERSION.to_be_bytes())
                .map_err(&err)?;
        }
        wtxn.commit().map_err(&err)?;
        Ok(index)
    }

    fn close(self) {
        self.env.prepare_for_closing().wait();
    }

    fn err(&self) -> impl Fn(heed::Error) -> Error + '_ {
        lmdb(&self.path)
    }

    fn schema(&self) -> Result<u32> {
        let rtxn = self.env.read_txn().map_err(self.err())?;
        let v = self.meta.get(&rtxn, "schema").map_err(self.err())?;
        Ok(v.and_then(|b| b.try_into().ok()).map_or(0, u32::from_be_bytes))
    }

    /// Deletes the index and folds every ref in again.
    /// With `use_snapshot`, it starts from the newest snapshot, as a fresh clone does.
    pub fn rebuild(self, repo: &Repo, use_snapshot: bool) -> Result<(Index, FoldStats)> {
        let path = self.path.clone();
        self.close();
        Self::wipe(&path)?;
        let index = Self::open_at(&path)?;
        let stats = index.refresh_with(repo, use_snapshot)?;
        Ok((index, stats))
    }

    /// Folds in whatever changed in `refs/grit/` since the last fold. Cheap when nothing did.
    /// A first fold starts from the newest snapshot, if there is one.
    pub fn refresh(&self, repo: &Repo) -> Result<FoldStats> {
        self.refresh_with(repo, true)
    }

    /// `refresh`, choosing whether a first fold may start from a snapshot.
    pub fn refresh_with(&self, repo: &Repo, use_snapshot: bool) -> Result<FoldStats> {
        let start = Instant::now();
        // Lock refs (there may be thousands) are not the fold's business: list around them.
        let mut refs = Vec::new();
        for prefix in [
            wal::WAL_PREFIX,
            ACTORS_PREFIX,
            snapshot::SNAPSHOTS_PREFIX,
            sync::TRACKING_ROOT,
        ] {
            refs.extend(wal::list_refs(repo, prefix)?);
        }
        let relevant: Vec<&(String, ObjectId)> = refs
            .iter()
            .filter(|(name, _)| is_wal_ref(name) || is_actor_ref(name))
            .collect();
        if !self.changed(&relevant)? {
            return Ok(FoldStats::default());
        }
        let err = self.err();
        let mut wtxn = self.env.write_txn().map_err(&err)?;
        let mut stats = FoldStats::default();
        let fresh_index = self.tips.is_empty(&wtxn).map_err(&err)? && self.commits.is_empty(&wtxn).map_err(&err)?;
        let snap = match use_snapshot && fresh_index {
            true => snapshot::newest(&refs),
            false => None,
        };
        // Events, with where they came from when that was another clone (they get verified).
        let mut batch: Vec<Fetched<'_>> = Vec::new();
        if let Some(snap) = &snap {
            let loaded = snapshot::read(repo, snap)?;
            for commit in &loaded.commits {
                self.commits.put(&mut wtxn, oid_bytes(commit), &()).map_err(&err)?;
            }
            let origin = snap
                .name
                .starts_with(sync::TRACKING_ROOT)
                .then_some((snap.name.as_str(), snap.commit));
            batch.push((loaded.events, origin));
            stats.snapshot = Some(snap.name.clone());
        }
        let mut current = BTreeSet::new();
        // The commits to read, by position in `relevant`. Each is marked known as soon as it is
        // found, so a ref sharing history with one walked before stops there.
        let mut jobs: Vec<(usize, ObjectId)> = Vec::new();
        for (i, (name, tip)) in relevant.iter().enumerate() {
            current.insert(name.as_str());
            if self.tips.get(&wtxn, name).map_err(&err)? == Some(oid_bytes(tip)) {
                continue;
            }
            stats.refs_changed += 1;
            if is_actor_ref(name) {
                if let Some(record) = actor::read_record(repo, *tip)? {
                    self.put_actor(&mut wtxn, &record)?;
                }
            } else {
                let fresh = wal::new_commits(repo, *tip, |c| {
                    Ok(self.commits.get(&wtxn, oid_bytes(c)).map_err(&err)?.is_some())
                })?;
                for commit in fresh {
                    self.commits.put(&mut wtxn, oid_bytes(&commit), &()).map_err(&err)?;
                    jobs.push((i, commit));
                }
            }
            self.tips.put(&mut wtxn, name, oid_bytes(tip)).map_err(&err)?;
        }
        let items: Vec<(&str, ObjectId)> = jobs.iter().map(|(i, c)| (relevant[*i].0.as_str(), *c)).collect();
        for ((name, commit), chunk) in items.iter().zip(wal::read_chunks(repo, &items)?) {
            let foreign = name.starts_with(sync::TRACKING_ROOT);
            match chunk {
                Ok(chunk) => {
                    batch.push((chunk.events, foreign.then_some((*name, *commit))));
                    stats.commits += 1;
                }
                // Another clone's garbage must not stop this one: skip it, say so, and look at
                // it again next time.
                Err(Error::Corrupt { source, .. }) if foreign => {
                    self.commits.delete(&mut wtxn, oid_bytes(commit)).map_err(&err)?;
                    self.reject(&mut wtxn, &mut stats, name, *commit, None, source.to_string())?;
                }
                Err(e) => return Err(e),
            }
        }
        // Refs that disappeared stop being tracked; their events stay until the next rebuild.
        let gone: Vec<String> = self
            .tips
            .iter(&wtxn)
            .map_err(&err)?
            .filter_map(|r| r.ok().map(|(k, _)| k.to_owned()))
            .filter(|k| !current.contains(k.as_str()))
            .collect();
        for k in gone {
            self.tips.delete(&mut wtxn, &k).map_err(&err)?;
        }
        let events = self.verified(&mut wtxn, batch, &mut stats)?;
        stats.events = if fresh_index && self.events.is_empty(&wtxn).map_err(&err)? {
            self.apply_to_empty(&mut wtxn, events)?
        } else {
            self.apply(&mut wtxn, events.into_iter().flatten().collect())?
        };
        stats.millis = start.elapsed().as_secs_f64() * 1000.0;
        self.meta
            .put(&mut wtxn, "folded_at", &crate::repo::now_ms().to_be_bytes())
            .map_err(&err)?;
        self.meta
            .put(
                &mut wtxn,
                "fold_micros",
                &((stats.millis * 1000.0) as u64).to_be_bytes(),
            )
            .map_err(&err)?;
        wtxn.commit().map_err(&err)?;
        Ok(stats)
    }

    /// Checks the ids and signatures of events that came from another clone (our own writes
    /// and refs already in this repository are trusted, as git trusts its object store). An
    /// event that fails is not applied; its ref is remembered as rejected so sync will not
    /// carry it into the local refs.
    fn verified(
        &self,
        wtxn: &mut RwTxn,
        batch: Vec<Fetched<'_>>,
        stats: &mut FoldStats,
    ) -> Result<Vec<Vec<SignedEvent>>> {
        let (foreign, trusted): (Vec<_>, Vec<_>) = batch.into_iter().partition(|(_, o)| o.is_some());
        let mut out: Vec<Vec<SignedEvent>> = trusted.into_iter().map(|(evs, _)| evs).collect();
        let mut candidates = Vec::new();
        let mut origins = Vec::new();
        for (events, origin) in foreign {
            for ev in events {
                origins.push(origin.expect("partitioned on origin"));
                candidates.push(ev);
            }
        }
        let bad = crate::event::verify_all(&candidates);
        for (i, reason) in &bad {
            let (reference, commit) = origins[*i];
            let event = Some(candidates[*i].id);
            self.reject(wtxn, stats, reference, commit, event, reason.to_string())?;
        }
        let bad: std::collections::HashSet<usize> = bad.into_iter().map(|(i, _)| i).collect();
        out.push(
            candidates
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !bad.contains(i))
                .map(|(_, e)| e)
                .collect(),
        );
        Ok(out)
    }

    fn reject(
        &self,
        wtxn: &mut RwTxn,
        stats: &mut FoldStats,
        reference: &str,
        commit: ObjectId,
        event: Option<Id>,
        reason: String,
    ) -> Result<()> {
        self.meta
            .put(wtxn, &format!("{REJECTED}{reference}"), oid_bytes(&commit))
            .map_err(self.err())?;
        stats.rejected.push(Rejected {
            reference: reference.to_owned(),
            commit: commit.to_string(),
            event: event.map(|e| e.to_hex()),
            reason,
        });
        Ok(())
    }

    /// The commit at which a remote-tracking ref was found to carry a forged or damaged event.
    pub fn rejected(&self, reference: &str) -> Result<Option<ObjectId>> {
        let rtxn = self.env.read_txn().map_err(self.err())?;
        let v = self
            .meta
            .get(&rtxn, &format!("{REJECTED}{reference}"))
            .map_err(self.err())?;
        Ok(v.and_then(|b| ObjectId::try_from(b).ok()))
    }

    /// Folds in a commit this process just appended, without reading it back from git. Returns
    /// false (and does nothing) unless the index had applied exactly the tip it was put on.
    pub fn fold_own_append(&self, appended: &wal::Appended, events: Vec<SignedEvent>) -> Result<bool> {
        let err = self.err();
        let mut wtxn = self.env.write_txn().map_err(&err)?;
        let applied = self.tips.get(&wtxn, &appended.reference).map_err(&err)?;
        if applied != appended.parent.as_ref().map(oid_bytes) {
            return Ok(false);
        }
        self.apply(&mut wtxn, events)?;
        self.commits
            .put(&mut wtxn, oid_bytes(&appended.commit), &())
            .map_err(&err)?;
        self.tips
            .put(&mut wtxn, &appended.reference, oid_bytes(&appended.commit))
            .map_err(&err)?;
        wtxn.commit().map_err(&err)?;
        Ok(true)
    }

    fn changed(&self, refs: &[&(String, ObjectId)]) -> Result<bool> {
        let rtxn = self.env.read_txn().map_err(self.err())?;
        if self.tips.len(&rtxn).map_err(self.err())? != refs.len() as u64 {
            return Ok(true);
        }
        for (name, tip) in refs {
            if self.tips.get(&rtxn, name).map_err(self.err())? != Some(oid_bytes(tip)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn put_actor(&self, wtxn: &mut RwTxn, r: &Record) -> Result<()> {
        let v = crate::event::to_cbor(&ciborium::value::Value::Array(vec![
            ciborium::value::Value::Text(r.name.clone()),
            ciborium::value::Value::Text(r.email.clone()),
        ]));
        self.actors.put(wtxn, &r.id.0, &v).map_err(self.err())
    }

    /// Applies a batch of events, each once, in any order. Returns how many were new.
    pub fn apply(&self, wtxn: &mut RwTxn, mut batch: Vec<SignedEvent>) -> Result<usize> {
        let err = self.err();
        // Sorted keys make LMDB's inserts sequential; the result does not depend on order.
        batch.sort_unstable_by_key(|e| e.id);
        batch.dedup_by(|a, b| a.id == b.id);
        let mut touched: HashMap<Id, (IssueState, Vec<String>)> = HashMap::new();
        let mut lamport = meta_u64(self.meta.get(wtxn, "lamport").map_err(&err)?);
        let mut applied = 0;
        for ev in &batch {
            if self.events.get(wtxn, &ev.id.0).map_err(&err)?.is_some() {
                continue;
            }
            let entity = ev.entity();
            self.events.put(wtxn, &ev.id.0, &entity.0).map_err(&err)?;
            for p in &ev.event.parents {
                self.parented.put(wtxn, &p.0, &()).map_err(&err)?;
            }
            let parented = self.parented.get(wtxn, &ev.id.0).map_err(&err)?.is_some();
            let (state, _) = match touched.entry(entity) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let state = self
                        .load_issue(wtxn, &entity)?
                        .unwrap_or_else(|| IssueState::new(entity));
                    let labels = if state.created.is_some() {
                        state.labels()
                    } else {
                        Vec::new()
                    };
                    v.insert((state, labels))
                }
            };
            state.apply(ev, parented);
            lamport = lamport.max(ev.event.lamport);
            applied += 1;
        }
        for (id, (state, old_labels)) in touched {
            self.store_issue(wtxn, &id, &state, &old_labels)?;
        }
        self.meta.put(wtxn, "lamport", &lamport.to_be_bytes()).map_err(&err)?;
        Ok(applied)
    }

    fn load_issue(&self, txn: &RoTxn, id: &Id) -> Result<Option<IssueState>> {
        match self.issues.get(txn, &id.0).map_err(self.err())? {
            None => Ok(None),
            Some(bytes) => match IssueState::decode(bytes) {
                Some(state) => Ok(Some(state)),
                None => Err(Error::Index {
                    path: self.path.clone(),
                    source: heed::Error::Decoding(format!("issue {} is stored malformed", id.to_hex()).into()),
                }),
            },
        }
    }

    fn store_issue(&self, wtxn: &mut RwTxn, id: &Id, state: &IssueState, old_labels: &[String]) -> Result<()> {
        let err = self.err();
        self.issues.put(wtxn, &id.0, &encode_state(state)).map_err(&err)?;
        let Some((key, row)) = row_of(id, state) else {
            return Ok(());
        };
        self.rows.put(wtxn, &key, &row).map_err(&err)?;
        let new_labels = state.labels();
        for l in old_labels.iter().filter(|l| !new_labels.contains(l)) {
            self.labels.delete(wtxn, &label_key(l, id)).map_err(&err)?;
        }
        for l in new_labels.iter().filter(|l| !old_labels.contains(l)) {
            self.labels.put(wtxn, &label_key(l, id), &()).map_err(&err)?;
        }
        Ok(())
    }

    /// `apply` into an empty index (a first fold, a rebuild): every key is new, so nothing is
    /// looked up. Each thread takes the entities of one range of ids, sorts their events by
    /// entity, folds and encodes each entity at once and hands the results over in order;
    /// this thread meanwhile writes every table in key order with MDB_APPEND. Copies of an
    /// event (same bytes, same id) count once. The result is the same as `apply`'s.
    fn apply_to_empty(&self, wtxn: &mut RwTxn, chunks: Vec<Vec<SignedEvent>>) -> Result<usize> {
        let err = self.err();
        let all: Vec<&SignedEvent> = chunks.iter().flatten().collect();
        let threads = crate::parallel::threads();
        let mut shares: Vec<Vec<u32>> = vec![Vec::with_capacity(all.len() / threads + 1); threads];
        for (i, ev) in all.iter().enumerate() {
            shares[usize::from(ev.entity().0[0]) * threads / 256].push(i as u32);
        }
        let (mut rows, mut labels) = (Vec::new(), Vec::new());
        let parented = std::sync::OnceLock::new();
        let (applied, lamport) = std::thread::scope(|scope| -> Result<(usize, u64)> {
            let (all, parented) = (&all, &parented);
            let (workers, receivers): (Vec<_>, Vec<_>) = shares
                .into_iter()
                .map(|share| {
                    let (tx, rx) = std::sync::mpsc::channel();
                    (scope.spawn(move || encode_states(share, all, parented, &tx)), rx)
                })
                .unzip();
            // Meanwhile, this thread sorts the parents (before anything can fail: the other
            // threads wait for them) and writes the parent and event tables.
            let mut ids: Vec<Id> = all.iter().flat_map(|e| e.event.parents.iter().copied()).collect();
            ids.sort_unstable();
            ids.dedup();
            let _ = parented.set(ids.iter().copied().collect());
            append_sorted(self.parented, wtxn, ids.iter().map(|p| (p.0, []))).map_err(&err)?;
            let mut events: Vec<(Id, Id)> = all.iter().map(|e| (e.id, e.entity())).collect();
            events.sort_unstable_by_key(|(id, _)| *id);
            events.dedup_by_key(|(id, _)| *id);
            append_sorted(self.events, wtxn, events.iter().map(|(id, entity)| (id.0, entity.0))).map_err(&err)?;
            let states = receivers.iter().flatten().flatten().map(|(id, state)| (id.0, state));
            append_sorted(self.issues, wtxn, states).map_err(&err)?;
            for w in workers {
                let (r, l) = w.join().expect("encoding does not panic");
                rows.extend(r);
                labels.extend(l);
            }
            Ok((events.len(), all.iter().map(|e| e.event.lamport).max().unwrap_or(0)))
        })?;
        drop(all);
        std::thread::scope(|scope| -> Result<()> {
            // Freeing the events takes a while: do it alongside the last two tables.
            scope.spawn(move || drop(chunks));
            // Each thread's share is sorted already: a stable sort merges the runs.
            rows.sort();
            append_sorted(self.rows, wtxn, rows.iter().map(|(key, row)| (key, row))).map_err(&err)?;
            labels.sort();
            append_sorted(self.labels, wtxn, labels.iter().map(|key| (key, []))).map_err(&err)?;
            Ok(())
        })?;
        let old = meta_u64(self.meta.get(wtxn, "lamport").map_err(&err)?);
        self.meta
            .put(wtxn, "lamport", &lamport.max(old).to_be_bytes())
            .map_err(&err)?;
        Ok(applied)
    }

    /// Applies events directly (no git), in one transaction, the way a fold does (in bulk when
    /// the index is empty). For tests and benchmarks of the fold.
    pub fn apply_batch(&self, batch: Vec<SignedEvent>) -> Result<usize> {
        let mut wtxn = self.env.write_txn().map_err(self.err())?;
        let n = match self.events.is_empty(&wtxn).map_err(self.err())? {
            true => self.apply_to_empty(&mut wtxn, vec![batch])?,
            false => self.apply(&mut wtxn, batch)?,
        };
        wtxn.commit().map_err(self.err())?;
        Ok(n)
    }

    /// Opens an index in an arbitrary directory (tests, benchmarks).
    pub fn open_dir(path: &Path) -> Result<Index> {
        Self::open_at(path)
    }
}

/// WAL refs: `refs/grit/wal/<actor>` and remote-tracking copies `refs/grit/remotes/<r>/wal/<actor>`.
pub fn is_wal_ref(name: &str) -> bool {
    name.starts_with(wal::WAL_PREFIX) || (name.starts_with(sync::TRACKING_ROOT) && name.contains("/wal/"))
}

/// Actor records: `refs/grit/actors/<id>` and their remote-tracking copies.
pub fn is_actor_ref(name: &str) -> bool {
    name.starts_with(ACTORS_PREFIX) || (name.starts_with(sync::TRACKING_ROOT) && name.contains("/actors/"))
}

/// Folds the entities of `share` (positions in `all`) into their states and encodes them,
/// sending the states in entity order, a few hundred at a time, and returning the rows and
/// label keys, each sorted. Whether an event has a child is looked up in `parented` once this
/// thread has sorted its share and the other has set it.
fn encode_states(
    share: Vec<u32>,
    all: &[&SignedEvent],
    parented: &std::sync::OnceLock<IdSet>,
    out: &std::sync::mpsc::Sender<Vec<(Id, Vec<u8>)>>,
) -> (Vec<RowEntry>, Vec<Vec<u8>>) {
    let mut sorted: Vec<(Id, Id, u32)> = share
        .into_iter()
        .map(|i| (all[i as usize].entity(), all[i as usize].id, i))
        .collect();
    sorted.sort_unstable();
    sorted.dedup_by(|a, b| a.1 == b.1);
    let parented = parented.wait();
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    let (mut part, mut buf) = (Vec::with_capacity(256), Vec::new());
    for group in sorted.chunk_by(|a, b| a.0 == b.0) {
        let id = group[0].0;
        let mut state = IssueState::new(id);
        for (_, ev, i) in group {
            state.apply(all[*i as usize], parented.contains(ev));
        }
        state.encode(&mut buf);
        part.push((id, buf.clone()));
        buf.clear();
        if state.created.is_some() {
            labels.extend(state.labels().iter().map(|l| label_key(l, &id)));
        }
        rows.extend(row_of(&id, &state));
        if part.len() == part.capacity() && out.send(std::mem::replace(&mut part, Vec::with_capacity(256))).is_err() {
            break;
        }
    }
    let _ = out.send(part);
    rows.sort_unstable();
    labels.sort_unstable();
    (rows, labels)
}

/// Writes `entries`, in strictly increasing key order, after the last key of `db`, through one
/// cursor: `put` with MDB_APPEND opens a cursor and searches the tree from its root every time.
fn append_sorted<D, K: AsRef<[u8]>, V: AsRef<[u8]>>(
    db: Database<Bytes, D>,
    wtxn: &mut RwTxn,
    entries: impl IntoIterator<Item = (K, V)>,
) -> heed::Result<()> {
    let mut cursor = db.remap_data_type::<Bytes>().iter_mut(wtxn)?;
    for (key, value) in entries {
        // SAFETY: nothing read from `db` is held while it is written.
        unsafe { cursor.put_current_with_options::<Bytes>(PutFlags::APPEND, key.as_ref(), value.as_ref())? };
    }
    Ok(())
}

fn encode_state(state: &IssueState) -> Vec<u8> {
    let mut buf = Vec::with_capacity(512);
    state.encode(&mut buf);
    buf
}

/// A `rows` entry: key and value.
type RowEntry = ([u8; 40], Vec<u8>);

/// The `rows` entry of an issue whose creation event has arrived.
fn row_of(id: &Id, state: &IssueState) -> Option<RowEntry> {
    let created = state.created.as_ref()?;
    let mut row = Vec::with_capacity(256);
    row.push(state_byte(state.state()));
    row.extend_from_slice(&created.author);
    state.row_fragment(&mut row);
    Some((row_key(created.created_ms, id), row))
}

fn state_byte(s: State) -> u8 {
    match s {
        State::Open => b'o',
        State::Closed => b'c',
    }
}

fn row_key(created_ms: u64, id: &Id) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..8].copy_from_slice(&created_ms.to_be_bytes());
    k[8..].copy_from_slice(&id.0);
    k
}

fn label_key(label: &str, id: &Id) -> Vec<u8> {
    [label.as_bytes(), &[0], &id.0].concat()
}

mod query;

#[cfg(test)]
#[path = "index_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_change_wipes_the_index_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        {
            let index = Index::open_at(&path).unwrap();
            let mut wtxn = index.env.write_txn().unwrap();
            index
                .meta
                .put(&mut wtxn, "schema", &(SCHEMA_VERSION + 1).to_be_bytes())
                .unwrap();
            index.meta.put(&mut wtxn, "lamport", &7u64.to_be_bytes()).unwrap();
            wtxn.commit().unwrap();
            index.close();
        }
        let index = Index::reopen_checked(&path).unwrap();
        assert_eq!(index.schema().unwrap(), SCHEMA_VERSION);
        assert_eq!(index.lamport().unwrap(), 0, "the old contents are gone");
    }
}
