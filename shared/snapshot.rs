//! Snapshots: a compacted copy of every event up to a set of WAL commits, at
//! `refs/grit/snapshots/<events>-<commit>`, so a fresh clone's first fold reads one blob instead
//! of the whole history. They never replace the WAL: each snapshot commit has the WAL tips it
//! covers as parents, and the WAL refs keep their chains.

use std::collections::HashSet;

use ciborium::value::{Integer, Value};
use gix::ObjectId;

use crate::error::{Error, Result};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::event::{ActorId, DecodeError, SignedEvent, blake2b256, from_cbor, to_cbor};
use crate::refs;
use crate::repo::Repo;
use crate::wal::{self, Author};

pub const SNAPSHOTS_PREFIX: &str = "refs/grit/snapshots/";
pub const SNAPSHOT_FILE: &str = "snapshot.cbor";
/// Format 2 is signed by the actor that wrote it; format 1 (unsigned) is read but never trusted.
pub const SNAPSHOT_FORMAT: u64 = 2;
/// `grit.snapshotEvery` when unset: a snapshot is written once this many events are not in one.
pub const DEFAULT_EVERY: u64 = 10_000;
/// The CBOR of a signature at the end of a signed snapshot: a 64-byte string (0x58 0x40 …).
const SIGNATURE_TAIL: usize = 66;

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
    /// The actor whose key signed it (`None`: an unsigned snapshot of format 1).
    pub signer: Option<ActorId>,
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

/// The snapshot holding the most events, local or remote-tracking (by the count in its name).
pub fn newest(refs: &[(String, ObjectId)]) -> Option<SnapshotRef> {
    list(refs).into_iter().next()
}

/// `[2, signer, [commit…], [[body, signature]…], signature]`: the last field signs the
/// BLAKE2b-256 of the CBOR array of the first four.
pub fn encode(key: &SigningKey, commits: &[ObjectId], events: &[SignedEvent]) -> Vec<u8> {
    let signer = key.verifying_key().to_bytes();
    let mut out = to_cbor(&Value::Array(vec![
        Value::Integer(Integer::from(SNAPSHOT_FORMAT)),
        Value::Bytes(signer.to_vec()),
        Value::Array(commits.iter().map(|c| Value::Bytes(c.as_bytes().to_vec())).collect()),
        Value::Array(events.iter().map(SignedEvent::to_value).collect()),
    ]));
    let signature = key.sign(&blake2b256(&out)).to_bytes();
    out[0] = 0x85; // the array of four becomes an array of five
    out.extend(to_cbor(&Value::Bytes(signature.to_vec())));
    out
}

/// The signer a snapshot names, read from its first bytes without decoding the rest.
pub fn signer_of(bytes: &[u8]) -> Option<ActorId> {
    match bytes {
        [0x85, 0x02, 0x58, 0x20, rest @ ..] => ActorId::from_slice(rest.get(..32)?),
        _ => None,
    }
}

pub fn decode(bytes: &[u8]) -> Result<Loaded, DecodeError> {
    let Value::Array(fields) = from_cbor(bytes)? else {
        return Err(DecodeError("snapshot is not an array"));
    };
    let mut fields = fields.into_iter();
    let format = match fields.next() {
        Some(Value::Integer(i)) => u64::try_from(i).ok(),
        _ => None,
    };
    let signer = match format {
        Some(1) => None,
        Some(2) => {
            let signer = signer_of(bytes).ok_or(DecodeError("snapshot signer is not 32 bytes"))?;
            let Some(Value::Bytes(_)) = fields.next() else {
                return Err(DecodeError("snapshot signer is not bytes"));
            };
            let split = bytes
                .len()
                .checked_sub(SIGNATURE_TAIL)
                .ok_or(DecodeError("snapshot is too short"))?;
            let (signed, tail) = bytes.split_at(split);
            let sig = match tail {
                [0x58, 0x40, sig @ ..] => {
                    Signature::from_slice(sig).map_err(|_| DecodeError("bad snapshot signature"))?
                }
                _ => return Err(DecodeError("snapshot does not end with its signature")),
            };
            let mut message = Vec::with_capacity(signed.len());
            message.push(0x84);
            message.extend_from_slice(&signed[1..]);
            let key = VerifyingKey::from_bytes(&signer.0).map_err(|_| DecodeError("snapshot signer is not a key"))?;
            key.verify(&blake2b256(&message), &sig)
                .map_err(|_| DecodeError("the snapshot's signature does not verify"))?;
            Some(signer)
        }
        _ => return Err(DecodeError("unsupported snapshot format")),
    };
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
    Ok(Loaded {
        signer,
        commits,
        events,
    })
}

/// A snapshot's blob, as stored.
fn read_bytes(repo: &Repo, snap: &SnapshotRef) -> Result<Vec<u8>> {
    let tree = repo.git.find_commit(snap.commit)?.tree()?;
    let entry = tree.find_entry(SNAPSHOT_FILE).ok_or_else(|| Error::Corrupt {
        reference: snap.name.clone(),
        commit: snap.commit.to_string(),
        source: DecodeError("snapshot commit has no snapshot.cbor"),
    })?;
    Ok(repo.git.find_blob(entry.object_id())?.take_data())
}

/// Reads a snapshot's blob.
pub fn read(repo: &Repo, snap: &SnapshotRef) -> Result<Loaded> {
    let bytes = read_bytes(repo, snap)?;
    decode(&bytes).map_err(|source| Error::Corrupt {
        reference: snap.name.clone(),
        commit: snap.commit.to_string(),
        source,
    })
}

/// The actors whose snapshots a fold may trust to say which commits they cover: this clone's
/// own actors, and the ids listed in `grit.snapshotSigners` (a team's snapshot writer, say).
pub fn trusted_signers(repo: &Repo) -> Result<HashSet<ActorId>> {
    let mut out: HashSet<ActorId> = crate::actor::list_local(repo)?.iter().map(|a| a.id()).collect();
    let listed = repo
        .git
        .config_snapshot()
        .strings("grit.snapshotSigners")
        .unwrap_or_default();
    for value in listed {
        for word in value.to_string().split([',', ' ']).filter(|w| !w.is_empty()) {
            match ActorId::from_hex(word.trim().to_ascii_lowercase().as_str()) {
                Some(id) => {
                    out.insert(id);
                }
                None => eprintln!("warning: grit.snapshotSigners: '{word}' is not a full actor id; ignored"),
            }
        }
    }
    Ok(out)
}

/// What choosing a snapshot found: the one to start from, and those that failed their checks.
pub struct Chosen {
    pub snapshot: Option<(SnapshotRef, Loaded)>,
    /// Snapshots skipped because they failed a check: (snapshot, reason).
    pub failed: Vec<(SnapshotRef, String)>,
}

/// The largest snapshot that a trusted actor signed and that passes every check, for a first
/// fold. A snapshot is a summary, never an authority: one signed by anyone else is not used
/// (the fold reads the WAL), and one whose signature, encoding or any event fails is skipped
/// and reported. Events of a snapshot that came from another clone are verified like WAL events.
pub fn choose(repo: &Repo, refs: &[(String, ObjectId)], quarantine: &crate::quarantine::Quarantine) -> Result<Chosen> {
    let mut out = Chosen {
        snapshot: None,
        failed: Vec::new(),
    };
    let candidates = list(refs);
    if candidates.is_empty() {
        return Ok(out);
    }
    let trusted = trusted_signers(repo)?;
    let local: HashSet<ActorId> = crate::actor::list_local(repo)?.iter().map(|a| a.id()).collect();
    for snap in candidates {
        let bytes = match read_bytes(repo, &snap) {
            Ok(b) => b,
            Err(e) => {
                out.failed.push((snap, e.to_string()));
                continue;
            }
        };
        if !signer_of(&bytes).is_some_and(|s| trusted.contains(&s)) {
            continue;
        }
        let mut loaded = match decode(&bytes) {
            Ok(l) => l,
            Err(e) => {
                out.failed.push((snap, e.to_string()));
                continue;
            }
        };
        drop(bytes);
        let own =
            !snap.name.starts_with(crate::sync::TRACKING_ROOT) && loaded.signer.is_some_and(|s| local.contains(&s));
        let mut bad = loaded
            .events
            .iter()
            .find_map(|ev| ev.check_structure(None).err().map(|e| (ev.id, e)));
        if bad.is_none() && !own {
            bad = crate::event::verify_all(&loaded.events)
                .into_iter()
                .next()
                .map(|(i, e)| (loaded.events[i].id, e));
        }
        if let Some((id, why)) = bad {
            out.failed
                .push((snap, format!("event {}: {}", &id.to_hex()[..12], why.reason())));
            continue;
        }
        loaded.events.retain(|ev| !quarantine.has_event(&ev.id));
        out.snapshot = Some((snap, loaded));
        break;
    }
    Ok(out)
}

/// Writes a snapshot of every event on this clone's own WAL refs (what sync integrated has
/// been checked; quarantined events are left out), signed by `key`, starting from the newest
/// local snapshot this clone's actors signed, so only newer commits are read. Returns `None`
/// when that snapshot already covers every tip.
pub fn create(
    repo: &Repo,
    author: &Author<'_>,
    key: &SigningKey,
    quarantine: &crate::quarantine::Quarantine,
) -> Result<Option<SnapshotRef>> {
    let refs = refs::list_refs(repo, "refs/grit/")?;
    let wal_refs: Vec<&(String, ObjectId)> = refs.iter().filter(|(n, _)| n.starts_with(wal::WAL_PREFIX)).collect();
    let mut tips: Vec<ObjectId> = wal_refs.iter().map(|(_, c)| *c).collect();
    tips.sort();
    tips.dedup();
    let local: HashSet<ActorId> = crate::actor::list_local(repo)?.iter().map(|a| a.id()).collect();
    let own: Vec<(String, ObjectId)> = refs
        .iter()
        .filter(|(n, _)| n.starts_with(SNAPSHOTS_PREFIX))
        .cloned()
        .collect();
    let mut base = None;
    for snap in list(&own) {
        if let Ok(loaded) = read(repo, &snap)
            && loaded.signer.is_some_and(|s| local.contains(&s))
        {
            base = Some(loaded);
            break;
        }
    }
    let (mut commits, mut events) = match base {
        Some(loaded) => (loaded.commits, loaded.events),
        None => (Vec::new(), Vec::new()),
    };
    let mut known: HashSet<ObjectId> = commits.iter().copied().collect();
    let before = known.len();
    for (name, tip) in wal_refs {
        let owner = crate::index::wal_owner(name);
        for commit in wal::new_commits(repo, *tip, |c| Ok(known.contains(c)))? {
            known.insert(commit);
            commits.push(commit);
            if quarantine.has_commit(&commit) {
                continue;
            }
            let chunk = match wal::read_chunk(repo, name, commit) {
                Ok(c) => c,
                // Not quarantined yet: the next fold will; leave it out of the snapshot's cover.
                Err(Error::Corrupt { .. }) => {
                    commits.pop();
                    continue;
                }
                Err(e) => return Err(e),
            };
            events.extend(
                chunk
                    .events
                    .into_iter()
                    .filter(|e| !quarantine.has_event(&e.id) && e.check_structure(owner.as_ref()).is_ok()),
            );
        }
    }
    if known.len() == before && before > 0 {
        return Ok(None);
    }
    commits.sort();
    events.sort_by_key(|e| e.id);
    events.dedup_by_key(|e| e.id);
    let tree = wal::write_single_file_tree(repo, SNAPSHOT_FILE, &encode(key, &commits, &events))?;
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
