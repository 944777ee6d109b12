//! Snapshots: a compacted copy of every event up to a set of WAL commits, at
//! `refs/grit/snapshots/<events>-<commit>`, so a fresh clone's first fold reads one blob instead
//! of the whole history. They never replace the WAL: each snapshot commit has the WAL tips it
//! covers as parents, and the WAL refs keep their chains.

use std::collections::HashSet;

use ciborium::value::{Integer, Value};
use gix::ObjectId;

use crate::error::{Error, Result};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::event::{ActorId, DecodeError, Id, SignedEvent, blake2b256, to_cbor};
use crate::refs;
use crate::repo::Repo;
use crate::wal::{self, Author};

pub use crate::refs::SNAPSHOTS_PREFIX;
/// The file of a snapshot commit's tree that holds the snapshot.
pub const SNAPSHOT_FILE: &str = "snapshot.cbor";
/// Format 3 is one link of a chain, signed by the actor that wrote it; format 4 is a link that
/// also retires actors (`retire`); format 2 (signed, whole) starts a chain; format 1 (unsigned)
/// is read but never trusted.
pub const SNAPSHOT_FORMAT: u64 = 3;
/// A link that retires actors: format 3 with the (actor, tip) pairs it retires after its commits.
pub const RETIRING_FORMAT: u64 = 4;
/// `grit.snapshotEvery` when unset: a snapshot is written once this many events are not in one.
pub const DEFAULT_EVERY: u64 = 10_000;
/// The CBOR of a signature at the end of a signed snapshot: a 64-byte string (0x58 0x40 …).
const SIGNATURE_TAIL: usize = 66;

/// An actor a snapshot link retires, with the tip its WAL ref had.
pub type Retirement = (ActorId, ObjectId);

/// A snapshot ref: where it is, and how many events it holds (from its name).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotRef {
    /// The ref's name.
    #[serde(rename = "ref")]
    pub name: String,
    /// The commit it points to.
    #[serde(serialize_with = "crate::hex::serialize_oid")]
    pub commit: ObjectId,
    /// How many events it holds.
    pub events: u64,
}

/// A snapshot's contents: one link, or a whole chain read from its newest link.
pub struct Loaded {
    /// The actor whose key signed the newest link (`None`: an unsigned snapshot of format 1).
    pub signer: Option<ActorId>,
    /// The link this one continues, if any (for a whole chain: `None`).
    pub parent: Option<ObjectId>,
    /// Every link's signer; empty when any link is unsigned.
    pub signers: Vec<ActorId>,
    /// Every WAL commit whose events the snapshot holds.
    pub commits: Vec<ObjectId>,
    /// The actors this link retires, each with the tip its WAL ref had (format 4).
    pub retired: Vec<Retirement>,
    /// The events it holds.
    pub events: Vec<SignedEvent>,
}

fn is_snapshot_ref(name: &str) -> bool {
    name.starts_with(SNAPSHOTS_PREFIX) || (name.starts_with(crate::refs::TRACKING_ROOT) && name.contains("/snapshots/"))
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

/// `[3, signer, parent, [commit…], [[body, signature]…], signature]`: one link of a chain, holding
/// the events of the commits its parent chain does not cover. The last field signs the
/// BLAKE2b-256 of the CBOR array of the fields before it. A link that retires actors is
/// `[4, signer, parent, [commit…], [[actor, tip]…], [[body, signature]…], signature]`; one that
/// retires none keeps format 3, which every version since chains reads.
pub fn encode_link(
    key: &SigningKey,
    parent: Option<ObjectId>,
    commits: &[ObjectId],
    retired: &[Retirement],
    events: &[SignedEvent],
) -> Vec<u8> {
    let signer = key.verifying_key().to_bytes();
    let format = if retired.is_empty() {
        SNAPSHOT_FORMAT
    } else {
        RETIRING_FORMAT
    };
    let mut fields = vec![
        Value::Integer(Integer::from(format)),
        Value::Bytes(signer.to_vec()),
        parent.map_or(Value::Null, |p| Value::Bytes(p.as_bytes().to_vec())),
        Value::Array(commits.iter().map(|c| Value::Bytes(c.as_bytes().to_vec())).collect()),
    ];
    if !retired.is_empty() {
        fields.push(Value::Array(
            retired
                .iter()
                .map(|(a, tip)| Value::Array(vec![Value::Bytes(a.0.to_vec()), Value::Bytes(tip.as_bytes().to_vec())]))
                .collect(),
        ));
    }
    fields.push(Value::Array(events.iter().map(SignedEvent::to_value).collect()));
    let len = fields.len() as u8;
    let mut out = to_cbor(&Value::Array(fields));
    let signature = key.sign(&blake2b256(&out)).to_bytes();
    out[0] = 0x80 | (len + 1); // the signature makes one field more
    out.extend(to_cbor(&Value::Bytes(signature.to_vec())));
    out
}

/// A snapshot that starts a chain (no parent).
pub fn encode(key: &SigningKey, commits: &[ObjectId], events: &[SignedEvent]) -> Vec<u8> {
    encode_link(key, None, commits, &[], events)
}

/// The signer a snapshot names, read from its first bytes without decoding the rest.
pub fn signer_of(bytes: &[u8]) -> Option<ActorId> {
    match bytes {
        [0x85, 0x02, 0x58, 0x20, rest @ ..]
        | [0x86, 0x03, 0x58, 0x20, rest @ ..]
        | [0x87, 0x04, 0x58, 0x20, rest @ ..] => ActorId::from_slice(rest.get(..32)?),
        _ => None,
    }
}

/// What a snapshot holds before its events: read, and its signature checked, without decoding
/// the events.
pub struct Header {
    /// The actor whose key signed it (`None`: an unsigned snapshot of format 1).
    pub signer: Option<ActorId>,
    /// The snapshot commit this one continues (format 3).
    pub parent: Option<ObjectId>,
    /// The WAL commits whose events this link holds.
    pub commits: Vec<ObjectId>,
    /// The actors this link retires, with their tips (format 4; else empty).
    pub retired: Vec<Retirement>,
    /// Where the events' array starts and ends in the bytes.
    events: std::ops::Range<usize>,
}

/// A CBOR head at `*at`: (major type, argument). Definite lengths only, as grit writes them.
fn cbor_head(bytes: &[u8], at: &mut usize) -> Result<(u8, u64), DecodeError> {
    let short = || DecodeError("snapshot is too short");
    let b = *bytes.get(*at).ok_or_else(short)?;
    *at += 1;
    let width = match b & 31 {
        n @ 0..=23 => return Ok((b >> 5, u64::from(n))),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => return Err(DecodeError("snapshot uses an indefinite or reserved length")),
    };
    let arg = bytes.get(*at..*at + width).ok_or_else(short)?;
    *at += width;
    Ok((b >> 5, arg.iter().fold(0, |n, &x| (n << 8) | u64::from(x))))
}

fn cbor_commit(bytes: &[u8], at: &mut usize) -> Result<ObjectId, DecodeError> {
    if cbor_head(bytes, at)? != (2, 20) {
        return Err(DecodeError("snapshot commit is not 20 bytes"));
    }
    let id = bytes.get(*at..*at + 20).ok_or(DecodeError("snapshot is too short"))?;
    *at += 20;
    ObjectId::try_from(id).map_err(|_| DecodeError("bad commit id in snapshot"))
}

/// Reads and checks everything but the events: format, signer and signature, parent, commits.
pub fn header(bytes: &[u8]) -> Result<Header, DecodeError> {
    let (format, fields) = match bytes {
        [0x83, 0x01, ..] => (1, 3),
        [0x85, 0x02, ..] => (2, 5),
        [0x86, 0x03, ..] => (3, 6),
        [0x87, 0x04, ..] => (4, 7),
        [0x83 | 0x85 | 0x86 | 0x87, ..] => return Err(DecodeError("unsupported snapshot format")),
        _ => return Err(DecodeError("snapshot is not an array of its fields")),
    };
    let mut at = 2;
    let (mut signer, mut end) = (None, bytes.len());
    if format >= 2 {
        let id = signer_of(bytes).ok_or(DecodeError("snapshot signer is not 32 bytes"))?;
        at += 34;
        end = bytes
            .len()
            .checked_sub(SIGNATURE_TAIL)
            .filter(|&e| e >= at)
            .ok_or(DecodeError("snapshot is too short"))?;
        let (signed, tail) = bytes.split_at(end);
        let sig = match tail {
            [0x58, 0x40, sig @ ..] => Signature::from_slice(sig).map_err(|_| DecodeError("bad snapshot signature"))?,
            _ => return Err(DecodeError("snapshot does not end with its signature")),
        };
        let mut message = Vec::with_capacity(signed.len());
        message.push(0x80 | (fields - 1));
        message.extend_from_slice(&signed[1..]);
        let key = VerifyingKey::from_bytes(&id.0).map_err(|_| DecodeError("snapshot signer is not a key"))?;
        key.verify(&blake2b256(&message), &sig)
            .map_err(|_| DecodeError("the snapshot's signature does not verify"))?;
        signer = Some(id);
    }
    let mut parent = None;
    if format >= 3 {
        if bytes.get(at) == Some(&0xf6) {
            at += 1;
        } else {
            parent = Some(cbor_commit(bytes, &mut at)?);
        }
    }
    let (major, count) = cbor_head(bytes, &mut at)?;
    if major != 4 {
        return Err(DecodeError("snapshot commits are not an array"));
    }
    // Each commit takes 21 bytes: a count the bytes cannot hold is a lie, not an allocation.
    if count > (end.saturating_sub(at) / 21) as u64 {
        return Err(DecodeError("snapshot is too short"));
    }
    let commits = (0..count)
        .map(|_| cbor_commit(bytes, &mut at))
        .collect::<Result<_, _>>()?;
    let mut retired = Vec::new();
    if format == 4 {
        let (major, count) = cbor_head(bytes, &mut at)?;
        // Each pair takes 57 bytes, as the commits' count above.
        if major != 4 || count > (end.saturating_sub(at) / 57) as u64 {
            return Err(DecodeError("snapshot retirements are not an array of pairs"));
        }
        for _ in 0..count {
            if cbor_head(bytes, &mut at)? != (4, 2) || cbor_head(bytes, &mut at)? != (2, 32) {
                return Err(DecodeError("snapshot retirement is not [actor, tip]"));
            }
            let actor = bytes
                .get(at..at + 32)
                .and_then(ActorId::from_slice)
                .ok_or(DecodeError("snapshot is too short"))?;
            at += 32;
            retired.push((actor, cbor_commit(bytes, &mut at)?));
        }
    }
    if at > end {
        return Err(DecodeError("snapshot is too short"));
    }
    Ok(Header {
        signer,
        parent,
        commits,
        retired,
        events: at..end,
    })
}

/// Decodes one snapshot link; its signature is not checked here.
pub fn decode(bytes: &[u8]) -> Result<Loaded, DecodeError> {
    let header = header(bytes)?;
    let mut rest = &bytes[header.events.clone()];
    let value: Value = ciborium::de::from_reader(&mut rest).map_err(|_| DecodeError("not valid CBOR"))?;
    if !rest.is_empty() {
        return Err(DecodeError("snapshot has bytes after its events"));
    }
    let Value::Array(events) = value else {
        return Err(DecodeError("snapshot events are not an array"));
    };
    let events = events
        .into_iter()
        .map(SignedEvent::from_value)
        .collect::<Result<_, _>>()?;
    Ok(Loaded {
        signer: header.signer,
        parent: header.parent,
        signers: header.signer.into_iter().collect(),
        commits: header.commits,
        retired: header.retired,
        events,
    })
}

/// The blob of the snapshot commit `commit`, as stored.
fn blob_of(repo: &Repo, name: &str, commit: ObjectId) -> Result<Vec<u8>> {
    let missing = |why: String| Error::MissingObject {
        reference: name.to_owned(),
        commit: commit.to_string(),
        why,
    };
    let tree = repo
        .git
        .find_commit(commit)
        .map_err(|e| missing(e.to_string()))?
        .tree()?;
    let entry = tree.find_entry(SNAPSHOT_FILE).ok_or_else(|| Error::Corrupt {
        reference: name.to_owned(),
        commit: commit.to_string(),
        source: DecodeError("snapshot commit has no snapshot.cbor"),
    })?;
    Ok(repo.git.find_blob(entry.object_id())?.take_data())
}

fn read_bytes(repo: &Repo, snap: &SnapshotRef) -> Result<Vec<u8>> {
    blob_of(repo, &snap.name, snap.commit)
}

/// Reads one snapshot link's blob.
pub fn read(repo: &Repo, snap: &SnapshotRef) -> Result<Loaded> {
    let bytes = read_bytes(repo, snap)?;
    decode(&bytes).map_err(|source| Error::Corrupt {
        reference: snap.name.clone(),
        commit: snap.commit.to_string(),
        source,
    })
}

/// Links a chain may have: far more than a repository's history makes (one per
/// `grit.snapshotEvery` events), few enough that a forged loop ends.
const MAX_LINKS: usize = 1 << 20;

/// Visits the links of the chain `snap` heads, newest first: each one's commit, blob and header,
/// read as far as its parent (the events are not decoded). One link's blob is held at a time.
fn each_link(
    repo: &Repo,
    snap: &SnapshotRef,
    head: Option<Vec<u8>>,
    mut visit: impl FnMut(ObjectId, Vec<u8>, Header) -> Result<()>,
) -> Result<()> {
    let corrupt = |commit: ObjectId, source| Error::Corrupt {
        reference: snap.name.clone(),
        commit: commit.to_string(),
        source,
    };
    let mut seen = HashSet::new();
    let (mut commit, mut bytes) = match head {
        Some(b) => (snap.commit, b),
        None => (snap.commit, read_bytes(repo, snap)?),
    };
    loop {
        if !seen.insert(commit) || seen.len() > MAX_LINKS {
            return Err(corrupt(commit, DecodeError("snapshot chain loops")));
        }
        let header = header(&bytes).map_err(|e| corrupt(commit, e))?;
        let parent = header.parent;
        visit(commit, bytes, header)?;
        let Some(parent) = parent else { break };
        commit = parent;
        bytes = blob_of(repo, &snap.name, commit)?;
    }
    Ok(())
}

/// The headers of the chain `snap` heads, newest first, with each link's commit.
fn links(repo: &Repo, snap: &SnapshotRef) -> Result<Vec<(ObjectId, Header)>> {
    let mut out = Vec::new();
    each_link(repo, snap, None, |commit, _, header| {
        out.push((commit, header));
        Ok(())
    })?;
    Ok(out)
}

/// Decodes a link's blob, naming its commit in the error.
fn decode_link(snap: &SnapshotRef, commit: ObjectId, bytes: &[u8]) -> Result<Loaded> {
    decode(bytes).map_err(|source| Error::Corrupt {
        reference: snap.name.clone(),
        commit: commit.to_string(),
        source,
    })
}

/// Reads the whole chain that `snap` heads: every link's commits and events, and every link's
/// signer. A link that does not decode or verify fails the chain.
pub fn read_chain(repo: &Repo, snap: &SnapshotRef) -> Result<Loaded> {
    let mut out = Loaded {
        signer: None,
        parent: None,
        signers: Vec::new(),
        commits: Vec::new(),
        retired: Vec::new(),
        events: Vec::new(),
    };
    let mut unsigned = false;
    let mut first = true;
    each_link(repo, snap, None, |commit, bytes, _| {
        let link = decode_link(snap, commit, &bytes)?;
        if std::mem::take(&mut first) {
            out.signer = link.signer;
        }
        match link.signer {
            Some(s) if !out.signers.contains(&s) => out.signers.push(s),
            Some(_) => {}
            None => unsigned = true,
        }
        out.commits.extend(link.commits);
        out.retired.extend(link.retired);
        out.events.extend(link.events);
        Ok(())
    })?;
    if unsigned {
        out.signers.clear();
    }
    Ok(out)
}

/// What the message of a link that retires actors says (`write_link`): links whose message
/// does not say it are not read for retirements, so that finding them costs a commit per link,
/// not a blob of every event since the previous link.
const RETIRING_MARK: &str = ", retiring ";

/// The links of `refs`' snapshot chains not in `seen` that retire actors: each one's signer and
/// the pairs it retires whose tip is a parent of its commit (as `write_link` makes it, so the
/// tip's history came with the link and stays reachable through it). Each link visited is added
/// to `seen`; a chain's walk stops at a link seen before. The walk goes from link to link
/// through each commit's last parent (where `write_link` puts the previous link), reading only
/// commits; the blob of a link whose message says it retires is read, and its signature
/// checked. A link that does not read is skipped.
fn retiring_links(
    repo: &Repo,
    refs: &[(String, ObjectId)],
    seen: &mut HashSet<ObjectId>,
) -> Vec<(Option<ActorId>, Vec<Retirement>)> {
    let mut out = Vec::new();
    for snap in list(refs) {
        let mut at = Some(snap.commit);
        let mut steps = 0;
        while let Some(commit) = at.take() {
            steps += 1;
            if steps > MAX_LINKS || !seen.insert(commit) {
                break;
            }
            let Ok(c) = repo.git.find_commit(commit) else { break };
            let parents: Vec<ObjectId> = c.parent_ids().map(|p| p.detach()).collect();
            let message = c.message_raw_sloppy().to_string();
            if message.contains(RETIRING_MARK)
                && let Ok(bytes) = blob_of(repo, &snap.name, commit)
                && let Ok(h) = header(&bytes)
            {
                let pairs: Vec<Retirement> = h.retired.into_iter().filter(|(_, tip)| parents.contains(tip)).collect();
                if !pairs.is_empty() {
                    out.push((h.signer, pairs));
                }
            }
            // The previous link, if the last parent is one.
            at = parents.last().copied().filter(|p| {
                repo.git
                    .find_commit(*p)
                    .is_ok_and(|c| c.message_raw_sloppy().starts_with(b"grit: snapshot of "))
            });
        }
    }
    out
}

/// The (actor, tip) pairs retired by the links of `refs`' snapshot chains not in `seen`, whoever
/// signed them: a fold reads each retired chain as it reads a WAL ref, checking every event (a
/// snapshot is a summary, never an authority). Each link visited is added to `seen`.
pub fn retirements_since(repo: &Repo, refs: &[(String, ObjectId)], seen: &mut HashSet<ObjectId>) -> Vec<Retirement> {
    retiring_links(repo, refs, seen)
        .into_iter()
        .flat_map(|(_, pairs)| pairs)
        .collect()
}

/// The retirements a clone acts on: those of links signed by an actor it trusts
/// (`trusted_signers`). Sync deletes this clone's copies of such refs while they still hold the
/// retired tip, and never pushes them back. No event depends on this trust: every fold reads
/// a retired chain through the link that retired it, whoever signed the link.
pub fn trusted_retirements(repo: &Repo, refs: &[(String, ObjectId)]) -> Result<HashSet<Retirement>> {
    let mut out = HashSet::new();
    if list(refs).is_empty() {
        return Ok(out);
    }
    let trusted = trusted_signers(repo)?;
    for (signer, pairs) in retiring_links(repo, refs, &mut HashSet::new()) {
        if signer.is_some_and(|s| trusted.contains(&s)) {
            out.extend(pairs);
        }
    }
    Ok(out)
}

/// A chain a first fold may start from: checked link by link, its events held only while they
/// fit in the fold's memory, else read again one link at a time as the fold applies them.
pub struct Chain {
    /// Every WAL commit whose events the chain holds.
    pub commits: Vec<ObjectId>,
    /// The links' commits, newest first.
    pub links: Vec<ObjectId>,
    /// Every event, when they all fit in the budget `choose` was given.
    pub events: Option<Vec<SignedEvent>>,
}

impl Chain {
    /// The events of one link (read again from its blob), without those the quarantine lists.
    pub fn link_events(
        &self,
        repo: &Repo,
        snap: &SnapshotRef,
        link: ObjectId,
        quarantine: &crate::quarantine::Quarantine,
    ) -> Result<Vec<SignedEvent>> {
        let mut events = decode_link(snap, link, &blob_of(repo, &snap.name, link)?)?.events;
        events.retain(|ev| !quarantine.has_event(&ev.id));
        Ok(events)
    }
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
                None => crate::warnings::warn(format!(
                    "grit.snapshotSigners: '{word}' is not a full actor id; ignored"
                )),
            }
        }
    }
    Ok(out)
}

/// What choosing a snapshot found: the one to start from, and those that failed their checks.
pub struct Chosen {
    /// The snapshot to start from, with its chain; `None` when none passed.
    pub snapshot: Option<(SnapshotRef, Chain)>,
    /// Snapshots skipped because they failed a check: (snapshot, reason).
    pub failed: Vec<(SnapshotRef, String)>,
}

/// The largest snapshot that a trusted actor signed and that passes every check, for a first
/// fold. A snapshot is a summary, never an authority: one signed by anyone else is not used
/// (the fold reads the WAL), and one whose signature, encoding or any event fails is skipped
/// and reported. Events of a snapshot that came from another clone are verified like WAL events.
/// The chain is checked one link at a time; its events are kept while their cost stays within
/// `budget` (bytes, as the fold counts them), else the fold reads each link again.
pub fn choose(
    repo: &Repo,
    refs: &[(String, ObjectId)],
    quarantine: &crate::quarantine::Quarantine,
    budget: usize,
    cost: impl Fn(&SignedEvent) -> usize,
) -> Result<Chosen> {
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
        let foreign = snap.name.starts_with(crate::refs::TRACKING_ROOT);
        let mut chain = Chain {
            commits: Vec::new(),
            links: Vec::new(),
            events: Some(Vec::new()),
        };
        let mut held = 0usize;
        // Why the chain is refused, found as soon as a link shows it.
        let mut refused: Option<String> = None;
        let walked = each_link(repo, &snap, Some(bytes), |commit, bytes, header| {
            // Every link vouches for the commits it covers: each must be signed by a trusted actor.
            match header.signer {
                None => refused = Some("a link of its chain is not signed".into()),
                Some(s) if !trusted.contains(&s) => {
                    refused = Some(format!(
                        "a link of its chain is signed by {}, whose snapshots are not trusted",
                        &s.to_hex()[..12]
                    ))
                }
                Some(_) => {}
            }
            if refused.is_some() {
                return Err(Error::invalid("refused", ""));
            }
            let link = decode_link(&snap, commit, &bytes)?;
            drop(bytes);
            let own = !foreign && header.signer.is_some_and(|s| local.contains(&s));
            let mut bad = link
                .events
                .iter()
                .find_map(|ev| ev.check_structure(None).err().map(|e| (ev.id, e)));
            if bad.is_none() && !own {
                bad = crate::event::verify_all(&link.events)
                    .into_iter()
                    .next()
                    .map(|(i, e)| (link.events[i].id, e));
            }
            if let Some((id, why)) = bad {
                refused = Some(format!("event {}: {}", &id.to_hex()[..12], why.reason()));
                return Err(Error::invalid("refused", ""));
            }
            // A link vouches for its commits: one that lacks an event they hold would hide it.
            if !own && let Some((c, id)) = uncovered(repo, &snap.name, &link)? {
                refused = Some(format!(
                    "it claims to cover commit {c} but lacks its event {}",
                    &id.to_hex()[..12]
                ));
                return Err(Error::invalid("refused", ""));
            }
            chain.commits.extend(link.commits);
            chain.links.push(commit);
            held += link.events.iter().map(&cost).sum::<usize>();
            match &mut chain.events {
                Some(events) if held <= budget => {
                    events.extend(link.events.into_iter().filter(|ev| !quarantine.has_event(&ev.id)))
                }
                // Past the budget: the fold reads each link again as it applies it.
                _ => chain.events = None,
            }
            Ok(())
        });
        match (walked, refused) {
            (_, Some(why)) => out.failed.push((snap, why)),
            (Err(e), None) => out.failed.push((snap, e.to_string())),
            (Ok(()), None) => {
                out.snapshot = Some((snap, chain));
                break;
            }
        }
    }
    Ok(out)
}

/// The first event that `link`'s commits hold, that the link lacks, and that a fold of the WAL
/// would apply (it keeps within bounds, sits on its chunk's writer and verifies), with its
/// commit. Such a link would hide the event from every clone that starts from it. The commits
/// are read a group at a time, so a link of a million commits is not held whole.
fn uncovered(repo: &Repo, name: &str, link: &Loaded) -> Result<Option<(ObjectId, Id)>> {
    let held: HashSet<Id> = link.events.iter().map(|e| e.id).collect();
    for group in link.commits.chunks(4096) {
        let items: Vec<(&str, ObjectId)> = group.iter().map(|c| (name, *c)).collect();
        for chunk in wal::read_chunks(repo, &items)? {
            let chunk = match chunk {
                Ok(c) => c,
                // A chunk that does not decode holds nothing a fold applies.
                Err(Error::Corrupt { .. }) => continue,
                Err(e) => return Err(e),
            };
            let missing: Vec<SignedEvent> = chunk
                .events
                .into_iter()
                .filter(|e| !held.contains(&e.id) && e.check_structure(chunk.owner.as_ref()).is_ok())
                .collect();
            if missing.is_empty() {
                continue;
            }
            let bad: HashSet<usize> = crate::event::verify_all(&missing).into_iter().map(|(i, _)| i).collect();
            if let Some((_, e)) = missing.iter().enumerate().find(|(i, _)| !bad.contains(i)) {
                return Ok(Some((chunk.commit, e.id)));
            }
        }
    }
    Ok(None)
}

/// Writes a snapshot of the events on this clone's own WAL refs that the newest local snapshot
/// this clone's actors signed does not hold (what sync integrated has been checked; quarantined
/// events are left out), signed by `key`, as the next link of that snapshot's chain: only newer
/// commits are read, and the new blob holds only their events. Returns `None` when that
/// snapshot already covers every tip.
pub fn create(
    repo: &Repo,
    author: &Author<'_>,
    key: &SigningKey,
    quarantine: &crate::quarantine::Quarantine,
) -> Result<Option<SnapshotRef>> {
    Ok(write_link(repo, author, key, quarantine, &[])?.map(|(snap, _)| snap))
}

/// `create`, retiring the actors of `retire` (each with the tip its WAL ref has) in the new link,
/// which is written even when no event is new. An actor whose chain the whole chain would not
/// cover (a commit left out as corrupt) is not retired. Returns the link and the pairs it retires.
pub fn write_link(
    repo: &Repo,
    author: &Author<'_>,
    key: &SigningKey,
    quarantine: &crate::quarantine::Quarantine,
    retire: &[Retirement],
) -> Result<Option<(SnapshotRef, Vec<Retirement>)>> {
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
    // The chain to continue: the largest local snapshot whose every link one of this clone's
    // actors signed. Its commits are read from the links' headers, its events not at all.
    let mut base: Option<(SnapshotRef, Vec<ObjectId>)> = None;
    for snap in list(&own) {
        if let Ok(links) = links(repo, &snap)
            && links.iter().all(|(_, h)| h.signer.is_some_and(|s| local.contains(&s)))
        {
            let commits = links.into_iter().flat_map(|(_, h)| h.commits).collect();
            base = Some((snap, commits));
            break;
        }
    }
    let (parent, covered_before) = match &base {
        Some((snap, _)) => (Some(snap.commit), snap.events),
        None => (None, 0),
    };
    let mut known: HashSet<ObjectId> = base.map(|(_, c)| c.into_iter().collect()).unwrap_or_default();
    let (mut commits, mut events) = (Vec::new(), Vec::new());
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
                    known.remove(&commit);
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
    // A retired chain must be covered whole: walking it finds nothing the chain does not hold.
    let mut retired = Vec::new();
    for &(actor, tip) in retire {
        if wal::new_commits(repo, tip, |c| Ok(known.contains(c)))?.is_empty() {
            retired.push((actor, tip));
        }
    }
    if commits.is_empty() && parent.is_some() && retired.is_empty() {
        return Ok(None);
    }
    commits.sort();
    events.sort_by_key(|e| e.id);
    events.dedup_by_key(|e| e.id);
    let link = encode_link(key, parent, &commits, &retired, &events);
    let tree = wal::write_single_file_tree(repo, SNAPSHOT_FILE, &link)?;
    // The previous link is a parent of the commit too, so fetching the newest link brings the
    // chain and `git gc` keeps it.
    let total = covered_before + events.len() as u64;
    let mut message = format!("grit: snapshot of {total} events ({} new)", events.len());
    if !retired.is_empty() {
        message += &format!("{RETIRING_MARK}{} actors", retired.len());
    }
    let parents: Vec<ObjectId> = tips.iter().copied().chain(parent).collect();
    let commit = wal::write_commit(repo, tree, &parents, author, &message)?;
    let name = format!("{SNAPSHOTS_PREFIX}{total:010}-{}", &commit.to_string()[..16]);
    refs::swap_ref(repo, &name, None, commit)?;
    let snap = SnapshotRef {
        name,
        commit,
        events: total,
    };
    Ok(Some((snap, retired)))
}

/// Deletes all but the `keep` largest local snapshots; returns the ones deleted. A snapshot whose
/// chain retired actors is deleted only when it is a link of a kept one's chain: such a link is
/// what keeps the retired chains reachable, and two links can hold as many events (the second
/// only retiring).
pub fn gc(repo: &Repo, keep: usize) -> Result<Vec<SnapshotRef>> {
    let local: Vec<SnapshotRef> = list(&refs::list_refs(repo, SNAPSHOTS_PREFIX)?);
    let mut kept_links = HashSet::new();
    for snap in local.iter().take(keep) {
        // A chain that does not read keeps nothing else.
        if let Ok(links) = links(repo, snap) {
            kept_links.extend(links.into_iter().map(|(commit, _)| commit));
        }
    }
    let mut deleted = Vec::new();
    for snap in local.into_iter().skip(keep) {
        let retires = || links(repo, &snap).map_or(true, |l| l.iter().any(|(_, h)| !h.retired.is_empty()));
        if !kept_links.contains(&snap.commit) && retires() {
            continue;
        }
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

/// This clone's snapshot refs and every remote's tracking copies of theirs.
fn every_snapshot_ref(repo: &Repo) -> Result<Vec<(String, ObjectId)>> {
    let mut refs = refs::list_refs(repo, SNAPSHOTS_PREFIX)?;
    for remote in crate::repo::remote_names(repo) {
        refs.extend(refs::list_refs(
            repo,
            &format!("{}snapshots/", crate::refs::tracking_prefix(&remote)),
        )?);
    }
    Ok(refs)
}

/// Whether `indexed` events are far enough past the newest snapshot to write a new one.
pub fn due(repo: &Repo, indexed: u64) -> Result<bool> {
    let every = every(repo);
    if every == 0 || indexed < every {
        return Ok(false);
    }
    let covered = newest(&every_snapshot_ref(repo)?).map_or(0, |s| s.events);
    Ok(indexed >= covered + every)
}

/// Deletes this clone's copies of the retired refs that still hold their retired tip: the local
/// WAL ref (never one of this clone's own actors, whose clone keeps writing on it) and every
/// remote's tracking copy. A ref that moved is an actor that came back, and stays. Returns how
/// many refs it deleted.
pub fn forget(repo: &Repo, retired: &HashSet<Retirement>) -> Result<usize> {
    if retired.is_empty() {
        return Ok(0);
    }
    let own: HashSet<ActorId> = crate::actor::list_local(repo)?.iter().map(|a| a.id()).collect();
    let mut names = Vec::new();
    for (actor, tip) in retired {
        if !own.contains(actor) {
            names.push((format!("{}{}", wal::WAL_PREFIX, actor.to_hex()), *tip));
        }
        for remote in crate::repo::remote_names(repo) {
            names.push((
                format!("{}wal/{}", crate::refs::tracking_prefix(&remote), actor.to_hex()),
                *tip,
            ));
        }
    }
    let mut deleted = 0;
    for (name, tip) in names {
        if refs::ref_tip(repo, &name)? == Some(tip) && matches!(refs::delete_ref(repo, &name, tip)?, refs::Swap::Done) {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// What sync does with retirements: reads those of trusted chains, and deletes this clone's
/// copies of retired refs. Returns the retirements, so that a push leaves out a ref of this
/// clone's own still at its retired tip.
pub fn forget_trusted(repo: &Repo) -> Result<(HashSet<Retirement>, usize)> {
    let retired = trusted_retirements(repo, &every_snapshot_ref(repo)?)?;
    let deleted = forget(repo, &retired)?;
    Ok((retired, deleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(n: u8) -> ObjectId {
        ObjectId::try_from(&[n; 20][..]).unwrap()
    }

    /// Format 2, as versions before chains wrote it: `[2, signer, commits, events, signature]`.
    fn encode_v2(key: &SigningKey, commits: &[ObjectId]) -> Vec<u8> {
        let mut out = to_cbor(&Value::Array(vec![
            Value::Integer(Integer::from(2)),
            Value::Bytes(key.verifying_key().to_bytes().to_vec()),
            Value::Array(commits.iter().map(|c| Value::Bytes(c.as_bytes().to_vec())).collect()),
            Value::Array(vec![]),
        ]));
        let signature = key.sign(&blake2b256(&out)).to_bytes();
        out[0] = 0x85;
        out.extend(to_cbor(&Value::Bytes(signature.to_vec())));
        out
    }

    #[test]
    fn links_name_their_parent_and_whole_snapshots_still_read() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let link = encode_link(&key, Some(commit(1)), &[commit(2), commit(3)], &[], &[]);
        let h = header(&link).unwrap();
        assert_eq!(h.parent, Some(commit(1)));
        assert_eq!(h.commits, [commit(2), commit(3)]);
        assert_eq!(signer_of(&link), h.signer);
        let root = decode(&encode(&key, &[commit(4)], &[])).unwrap();
        assert_eq!((root.parent, root.commits), (None, vec![commit(4)]));
        let old = decode(&encode_v2(&key, &[commit(5)])).unwrap();
        assert_eq!(
            (old.parent, old.commits, old.signer.is_some()),
            (None, vec![commit(5)], true)
        );
        // A link that retires actors is format 4, its pairs signed with the rest.
        let who = ActorId([9; 32]);
        let retiring = encode_link(&key, Some(commit(1)), &[commit(2)], &[(who, commit(6))], &[]);
        assert_eq!(retiring[..2], [0x87, 0x04]);
        let h = header(&retiring).unwrap();
        assert_eq!((h.retired, h.commits), (vec![(who, commit(6))], vec![commit(2)]));
        assert_eq!(decode(&retiring).unwrap().retired, [(who, commit(6))]);
        let at = retiring.windows(20).position(|w| w == commit(6).as_bytes()).unwrap();
        let mut forged = retiring.clone();
        forged[at] ^= 1;
        assert!(header(&forged).is_err(), "a retired tip cannot be changed");
        // The parent is signed: a link cannot be moved onto another chain.
        let mut moved = link.clone();
        moved[37] ^= 1;
        assert!(header(&moved).is_err());
    }
}
