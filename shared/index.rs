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
use crate::event::{ActorId, Id, IdMap, SignedEvent, State};
use crate::hex;
use crate::issue::{AuthorView, IssueState, IssueView};
use crate::repo::Repo;
use crate::{snapshot, sync, wal};

/// Bump when the stored layout or the merge rules change: the index then rebuilds itself.
pub const SCHEMA_VERSION: u32 = 4;
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
    /// entity id ++ event id → (): events another event of the same entity names as a parent.
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
    /// The id in full hex.
    pub hex: &'a str,
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
                self.parented.put(wtxn, &parent_key(&entity, p), &()).map_err(&err)?;
            }
            let parented = self
                .parented
                .get(wtxn, &parent_key(&entity, &ev.id))
                .map_err(&err)?
                .is_some();
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
        let mut buf = Vec::with_capacity(512);
        state.encode(&mut buf);
        self.issues.put(wtxn, &id.0, &buf).map_err(&err)?;
        buf.clear();
        let Some(key) = write_row(id, state, &mut buf) else {
            return Ok(());
        };
        self.rows.put(wtxn, &key, &buf).map_err(&err)?;
        let new_labels = state.labels();
        let label_key = |l: &str| {
            let mut key = Vec::with_capacity(l.len() + 33);
            write_label_key(l, id, &mut key);
            key
        };
        for l in old_labels.iter().filter(|l| !new_labels.contains(l)) {
            self.labels.delete(wtxn, &label_key(l)).map_err(&err)?;
        }
        for l in new_labels.iter().filter(|l| !old_labels.contains(l)) {
            self.labels.put(wtxn, &label_key(l), &()).map_err(&err)?;
        }
        Ok(())
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

/// Appends the `rows` value of an issue whose creation event has arrived, and returns its key.
fn write_row(id: &Id, state: &IssueState, out: &mut Vec<u8>) -> Option<[u8; 40]> {
    let created = state.created.as_ref()?;
    out.push(state_byte(state.state()));
    out.extend_from_slice(&created.author);
    state.row_fragment(out);
    let mut key = [0u8; 40];
    key[..8].copy_from_slice(&created.created_ms.to_be_bytes());
    key[8..].copy_from_slice(&id.0);
    Some(key)
}

fn state_byte(s: State) -> u8 {
    match s {
        State::Open => b'o',
        State::Closed => b'c',
    }
}

/// The `parented` key saying that an event of `entity` names `parent`.
fn parent_key(entity: &Id, parent: &Id) -> [u8; 64] {
    let mut key = [0; 64];
    key[..32].copy_from_slice(&entity.0);
    key[32..].copy_from_slice(&parent.0);
    key
}

/// Appends the `labels` key of an issue carrying `label`.
fn write_label_key(label: &str, id: &Id, out: &mut Vec<u8>) {
    out.extend_from_slice(label.as_bytes());
    out.push(0);
    out.extend_from_slice(&id.0);
}

mod bulk;
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
