//! Snapshots: a compacted copy of every event up to a set of WAL commits, at
//! `refs/grit/snapshots/<events>-<commit>`, so a fresh clone's first fold reads one blob instead
//! of the whole history. They never replace the WAL: each snapshot commit has the WAL tips it
//! covers as parents, and the WAL refs keep their chains.

use std::collections::HashSet;

use ciborium::value::{Integer, Value};
use gix::ObjectId;

use crate::error::{Error, Result};
use crate::event::{DecodeError, SignedEvent, from_cbor, to_cbor};
use crate::index::is_wal_ref;
use crate::refs;
use crate::repo::Repo;
use crate::wal::{self, Author};

pub const SNAPSHOTS_PREFIX: &str = "refs/grit/snapshots/";
pub const SNAPSHOT_FILE: &str = "snapshot.cbor";
pub const SNAPSHOT_FORMAT: u64 = 1;
/// `grit.snapshotEvery` when unset: a snapshot is written once this many events are not in one.
pub const DEFAULT_EVERY: u64 = 10_000;

/// A snapshot ref: where it is, and how many events it holds (from its name).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotRef {
    #[serde(rename = "ref")]
    pub name: String,
    #[serde(serialize_with = "crate::hex::serialize_oid")]
    pub commit: ObjectId,
    pub events: u64,
}

/// A snapshot's contents.
pub struct Loaded {
    /// Every WAL commit whose events the snapshot holds.
    pub commits: Vec<ObjectId>,
    pub events: Vec<SignedEvent>,
}

fn is_snapshot_ref(name: &str) -> bool {
    name.starts_with(SNAPSHOTS_PREFIX) || (name.starts_with(crate::sync::TRACKING_ROOT) && name.contains("/snapshots/"))
}

/// Parses `…/snapshots/<events>-<hex>`.
fn parse(name: &str, commit: ObjectId) -> Option<SnapshotRef> {
    let last = name.rsplit('/').next()?;
    let (count, _) = last.split_once('-')?;
    Some(SnapshotRef {
        name: name.to_owned(),
        commit,
        events: count.parse().ok()?,
    })
}

/// Every snapshot, local and remote-tracking, largest first.
pub fn list(refs: &[(String, ObjectId)]) -> Vec<SnapshotRef> {
    let mut all: Vec<SnapshotRef> = refs
        .iter()
        .filter(|(n, _)| is_snapshot_ref(n))
        .filter_map(|(n, c)| parse(n, *c))
        .collect();
    all.sort_by(|a, b| (b.events, &b.name).cmp(&(a.events, &a.name)));
    all
}

/// The snapshot holding the most events, local or remote-tracking.
pub fn newest(refs: &[(String, ObjectId)]) -> Option<SnapshotRef> {
    list(refs).into_iter().next()
}

pub fn encode(commits: &[ObjectId], events: &[SignedEvent]) -> Vec<u8> {
    to_cbor(&Value::Array(vec![
        Value::Integer(Integer::from(SNAPSHOT_FORMAT)),
        Value::Array(commits.iter().map(|c| Value::Bytes(c.as_bytes().to_vec())).collect()),
        Value::Array(events.iter().map(SignedEvent::to_value).collect()),
    ]))
}

pub fn decode(bytes: &[u8]) -> Result<Loaded, DecodeError> {
    let Value::Array(fields) = from_cbor(bytes)? else {
        return Err(DecodeError("snapshot is not an array"));
    };
    let mut fields = fields.into_iter();
    match fields.next() {
        Some(Value::Integer(i)) if u64::try_from(i).ok() == Some(SNAPSHOT_FORMAT) => {}
        _ => return Err(DecodeError("unsupported snapshot format")),
    }
    let Some(Value::Array(commits)) = fields.next() else {
        return Err(DecodeError("snapshot commits are not an array"));
    };
    let commits = commits
        .into_iter()
        .map(|c| match c {
            Value::Bytes(b) => ObjectId::try_from(b.as_slice()).map_err(|_| DecodeError("bad commit id in snapshot")),
            _ => Err(DecodeError("snapshot commit is not bytes")),
        })
        .collect::<Result<_, _>>()?;
    let Some(Value::Array(events)) = fields.next() else {
        return Err(DecodeError("snapshot events are not an array"));
    };
    let events = events
        .into_iter()
        .map(SignedEvent::from_value)
        .collect::<Result<_, _>>()?;
    Ok(Loaded { commits, events })
}

/// Reads a snapshot's blob.
pub fn read(repo: &Repo, snap: &SnapshotRef) -> Result<Loaded> {
    let tree = repo.git.find_commit(snap.commit)?.tree()?;
    let corrupt = |source| Error::Corrupt {
        reference: snap.name.clone(),
        commit: snap.commit.to_string(),
        source,
    };
    let entry = tree
        .find_entry(SNAPSHOT_FILE)
        .ok_or_else(|| corrupt(DecodeError("snapshot commit has no snapshot.cbor")))?;
    let blob = repo.git.find_blob(entry.object_id())?;
    decode(&blob.data).map_err(corrupt)
}

/// Writes a snapshot of every event on the WAL refs (local and remote-tracking, except those
/// `skip` rejects), starting from the newest snapshot so only newer commits are read. Returns
/// `None` when the newest snapshot already covers every tip.
pub fn create(repo: &Repo, author: &Author<'_>, skip: impl Fn(&str) -> bool) -> Result<Option<SnapshotRef>> {
    let refs = refs::list_refs(repo, "refs/grit/")?;
    let mut tips: Vec<ObjectId> = refs
        .iter()
        .filter(|(n, _)| is_wal_ref(n) && !skip(n))
        .map(|(_, c)| *c)
        .collect();
    tips.sort();
    tips.dedup();
    let (mut commits, mut events) = match newest(&refs) {
        Some(base) => {
            let loaded = read(repo, &base)?;
            (loaded.commits, loaded.events)
        }
        None => (Vec::new(), Vec::new()),
    };
    let mut known: HashSet<ObjectId> = commits.iter().copied().collect();
    let before = known.len();
    for tip in &tips {
        for commit in wal::new_commits(repo, *tip, |c| Ok(known.contains(c)))? {
            known.insert(commit);
            commits.push(commit);
            events.extend(wal::read_chunk(repo, "snapshot", commit)?.events);
        }
    }
    if known.len() == before && before > 0 {
        return Ok(None);
    }
    commits.sort();
    events.sort_by_key(|e| e.id);
    events.dedup_by_key(|e| e.id);
    let tree = wal::write_single_file_tree(repo, SNAPSHOT_FILE, &encode(&commits, &events))?;
    let message = format!("grit: snapshot of {} events", events.len());
    let commit = wal::write_commit(repo, tree, &tips, author, &message)?;
    let name = format!("{SNAPSHOTS_PREFIX}{:010}-{}", events.len(), &commit.to_string()[..16]);
    refs::swap_ref(repo, &name, None, commit)?;
    Ok(Some(SnapshotRef {
        name,
        commit,
        events: events.len() as u64,
    }))
}

/// Deletes all but the `keep` largest local snapshots; returns the ones deleted.
pub fn gc(repo: &Repo, keep: usize) -> Result<Vec<SnapshotRef>> {
    let local: Vec<SnapshotRef> = list(&refs::list_refs(repo, SNAPSHOTS_PREFIX)?);
    let mut deleted = Vec::new();
    for snap in local.into_iter().skip(keep) {
        if let refs::Swap::Done = refs::delete_ref(repo, &snap.name, snap.commit)? {
            deleted.push(snap);
        }
    }
    Ok(deleted)
}

/// `grit.snapshotEvery` (0 turns automatic snapshots off).
pub fn every(repo: &Repo) -> u64 {
    repo.config_string("grit.snapshotEvery")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_EVERY)
}

/// Whether `indexed` events are far enough past the newest snapshot to write a new one.
pub fn due(repo: &Repo, indexed: u64) -> Result<bool> {
    let every = every(repo);
    if every == 0 || indexed < every {
        return Ok(false);
    }
    let mut refs = refs::list_refs(repo, SNAPSHOTS_PREFIX)?;
    for remote in crate::sync::remote_names(repo) {
        refs.extend(refs::list_refs(
            repo,
            &format!("{}snapshots/", crate::sync::tracking_prefix(&remote)),
        )?);
    }
    let covered = newest(&refs).map_or(0, |s| s.events);
    Ok(indexed >= covered + every)
}
