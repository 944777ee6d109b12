//! The write-ahead log in git: one append-only commit chain per actor under `refs/grit/wal/`.
//! Each commit's tree holds one chunk (`[format, actor, [signed events…]]`); the ref update,
//! compare-and-swap on the old tip, is the commit point (`loose` writes the objects, `refs` the ref).

use std::time::Duration;

use ciborium::value::{Integer, Value};
use gix::ObjectId;

use crate::error::{Error, Result};
use crate::event::{ActorId, DecodeError, SignedEvent, from_cbor, to_cbor};
use crate::refs::{self, Swap};
use crate::repo::Repo;

/// Where each actor's WAL lives: `refs/grit/wal/<actor id>`.
pub const WAL_PREFIX: &str = "refs/grit/wal/";
/// The chunk format this version writes and reads.
pub const CHUNK_FORMAT: u64 = 1;
/// The file name of the chunk inside each WAL commit's tree.
pub const CHUNK_FILE: &str = "chunk.cbor";
/// How often an append retries when another process of the same actor moves the ref first.
const CAS_ATTEMPTS: u32 = 1000;

/// The WAL ref of `actor`.
pub fn wal_ref(actor: &ActorId) -> String {
    format!("{WAL_PREFIX}{actor}")
}

/// Encodes a chunk: `[format, actor, [[body, signature]…]]`.
pub fn encode_chunk(actor: &ActorId, events: &[SignedEvent]) -> Vec<u8> {
    to_cbor(&Value::Array(vec![
        Value::Integer(Integer::from(CHUNK_FORMAT)),
        Value::Bytes(actor.0.to_vec()),
        Value::Array(events.iter().map(SignedEvent::to_value).collect()),
    ]))
}

/// The actor a chunk's header names (`[format, actor, …]`), read without decoding its events.
pub fn chunk_owner(bytes: &[u8]) -> Option<ActorId> {
    // An array of 3, the format (a small uint), then a byte string of 32.
    match bytes {
        [0x83, f, 0x58, 0x20, rest @ ..] if u64::from(*f) == CHUNK_FORMAT && rest.len() >= 32 => {
            Some(ActorId(rest[..32].try_into().ok()?))
        }
        _ => None,
    }
}

/// Decodes a chunk (see [`encode_chunk`]); its events are decoded, not verified.
pub fn decode_chunk(bytes: &[u8]) -> Result<Vec<SignedEvent>, DecodeError> {
    if let Some(events) = crate::event::decode_chunk_fast(bytes, CHUNK_FORMAT) {
        return Ok(events);
    }
    let Value::Array(fields) = from_cbor(bytes)? else {
        return Err(DecodeError("chunk is not an array"));
    };
    let mut fields = fields.into_iter();
    match fields.next() {
        Some(Value::Integer(i)) if u64::try_from(i).ok() == Some(CHUNK_FORMAT) => {}
        _ => return Err(DecodeError("unsupported chunk format")),
    }
    let Some(Value::Bytes(_actor)) = fields.next() else {
        return Err(DecodeError("chunk actor is not bytes"));
    };
    let Some(Value::Array(events)) = fields.next() else {
        return Err(DecodeError("chunk events are not an array"));
    };
    events.into_iter().map(SignedEvent::from_value).collect()
}

/// A git identity and time for the commits grit writes.
pub struct Author<'a> {
    /// The name.
    pub name: &'a str,
    /// The email.
    pub email: &'a str,
    /// The time (milliseconds since the epoch).
    pub time_ms: u64,
}

impl Author<'_> {
    fn signature(&self) -> gix::actor::Signature {
        gix::actor::Signature {
            name: self.name.into(),
            email: self.email.into(),
            time: gix::date::Time {
                seconds: (self.time_ms / 1000) as i64,
                offset: 0,
            },
        }
    }
}

/// Writes a tree holding one file and returns its id.
pub fn write_single_file_tree(repo: &Repo, file: &str, bytes: &[u8]) -> Result<ObjectId> {
    let blob = crate::loose::write_buf(repo, gix::objs::Kind::Blob, bytes)?;
    let tree = gix::objs::Tree {
        entries: vec![gix::objs::tree::Entry {
            mode: gix::objs::tree::EntryKind::Blob.into(),
            filename: file.into(),
            oid: blob,
        }],
    };
    crate::loose::write(repo, &tree)
}

/// Writes a commit of `tree` with `parents`, authored and committed by `author`.
pub fn write_commit(
    repo: &Repo,
    tree: ObjectId,
    parents: &[ObjectId],
    author: &Author<'_>,
    message: &str,
) -> Result<ObjectId> {
    let sig = author.signature();
    let commit = gix::objs::Commit {
        tree,
        parents: parents.iter().copied().collect(),
        author: sig.clone(),
        committer: sig,
        encoding: None,
        message: message.into(),
        extra_headers: Vec::new(),
    };
    crate::loose::write(repo, &commit)
}

/// What an append did: the new commit and the tip it was put on.
pub struct Appended {
    /// The WAL ref.
    pub reference: String,
    /// The commit appended.
    pub commit: ObjectId,
    /// The tip it was put on; `None` for the ref's first commit.
    pub parent: Option<ObjectId>,
}

/// Appends one chunk of `events` to the actor's WAL ref, retrying the compare-and-swap until it
/// lands; concurrent appenders of the same actor each get their own commit, none is lost.
pub fn append(repo: &Repo, actor: &ActorId, author: &Author<'_>, events: &[SignedEvent]) -> Result<Appended> {
    let name = wal_ref(actor);
    let tree = write_single_file_tree(repo, CHUNK_FILE, &encode_chunk(actor, events))?;
    let message = match events {
        [one] => format!("grit: {}", one.event.kind.name()),
        many => format!("grit: {} events", many.len()),
    };
    for attempt in 0..CAS_ATTEMPTS {
        let tip = refs::ref_tip(repo, &name)?;
        let commit = write_commit(repo, tree, tip.as_slice(), author, &message)?;
        if let Swap::Done = refs::swap_ref(repo, &name, tip, commit)? {
            return Ok(Appended {
                reference: name,
                commit,
                parent: tip,
            });
        }
        std::thread::sleep(Duration::from_micros(200 + 50 * u64::from(attempt % 40)));
    }
    Err(Error::Contention {
        reference: name,
        what: "appending events",
        attempts: CAS_ATTEMPTS,
    })
}

/// A commit of a WAL ref, read back.
pub struct Chunk {
    /// The commit.
    pub commit: ObjectId,
    /// Its parents (more than one for a union of two histories).
    pub parents: Vec<ObjectId>,
    /// Its chunk's events, decoded.
    pub events: Vec<SignedEvent>,
    /// The actor the chunk names as its writer (`None` for a commit without a chunk).
    pub owner: Option<ActorId>,
}

/// Reads the chunk a WAL commit adds; a commit without one (a union merge) has no events.
pub fn read_chunk(repo: &Repo, reference: &str, commit: ObjectId) -> Result<Chunk> {
    let (parents, _, bytes) = read_chunk_bytes(repo, commit)?;
    decode_chunk_of(reference, commit, parents, bytes.as_deref())
}

/// A WAL commit's parents, its tree, and the bytes of its chunk, if it has one.
fn read_chunk_bytes(repo: &Repo, commit: ObjectId) -> Result<(Vec<ObjectId>, ObjectId, Option<Vec<u8>>)> {
    let c = repo.git.find_commit(commit)?;
    let parents = c.parent_ids().map(|id| id.detach()).collect();
    let tree = c.tree_id()?.detach();
    Ok((parents, tree, read_tree_chunk(repo, tree)?))
}

/// The bytes of the chunk a WAL commit's tree holds, if it holds one.
fn read_tree_chunk(repo: &Repo, tree: ObjectId) -> Result<Option<Vec<u8>>> {
    Ok(match repo.git.find_tree(tree)?.find_entry(CHUNK_FILE) {
        Some(entry) => Some(repo.git.find_blob(entry.object_id())?.take_data()),
        None => None,
    })
}

fn decode_chunk_of(reference: &str, commit: ObjectId, parents: Vec<ObjectId>, bytes: Option<&[u8]>) -> Result<Chunk> {
    let events = match bytes {
        Some(bytes) => decode_chunk(bytes).map_err(|source| Error::Corrupt {
            reference: reference.to_owned(),
            commit: commit.to_string(),
            source,
        })?,
        None => Vec::new(),
    };
    Ok(Chunk {
        commit,
        parents,
        events,
        owner: bytes.and_then(chunk_owner),
    })
}

/// `read_chunk` of many commits, read and decoded (with each event's id hashed) on every core:
/// an error reading an object is returned; a chunk that does not decode is an `Error::Corrupt`
/// in its place. The results are in the order of `items`.
pub fn read_chunks(repo: &Repo, items: &[(&str, ObjectId)]) -> Result<Vec<Result<Chunk>>> {
    read_many(repo, items, |repo, (name, commit)| {
        Ok(match read_chunk_bytes(repo, *commit) {
            Ok((parents, _, bytes)) => decode_chunk_of(name, *commit, parents, bytes.as_deref()),
            Err(e) => Err(missing(name, *commit, e)),
        })
    })
}

/// `read_chunks` of commits whose trees a walk has already found (`new_commits_with_trees`):
/// the commits are not read again, and the chunks' `parents` are left empty.
pub fn read_tree_chunks(repo: &Repo, items: &[(&str, ObjectId, ObjectId)]) -> Result<Vec<Result<Chunk>>> {
    read_many(repo, items, |repo, (name, commit, tree)| {
        Ok(match read_tree_chunk(repo, *tree) {
            Ok(bytes) => decode_chunk_of(name, *commit, Vec::new(), bytes.as_deref()),
            Err(e) => Err(missing(name, *commit, e)),
        })
    })
}

/// `read` of each item, on every core for more than a few; the results in the order of `items`.
fn read_many<T: Sync>(
    repo: &Repo,
    items: &[T],
    read: impl Fn(&Repo, &T) -> Result<Result<Chunk>> + Sync,
) -> Result<Vec<Result<Chunk>>> {
    // Each thread opens its own handle (gix's are not shared across threads), which only
    // pays off for more than a few commits.
    if items.len() < 16 {
        return items.iter().map(|item| read(repo, item)).collect();
    }
    let opener = repo.opener();
    let results = crate::parallel::map_with(
        items,
        || None,
        |handle: &mut Option<Repo>, item| read(opener.handle_in(handle)?, item),
    );
    results.into_iter().collect()
}

/// An object of a WAL commit that cannot be read, named by its ref and commit.
fn missing(reference: &str, commit: ObjectId, e: Error) -> Error {
    match e {
        Error::Git(source) => Error::MissingObject {
            reference: reference.to_owned(),
            commit: commit.to_string(),
            why: source.to_string(),
        },
        other => other,
    }
}

/// Commits reachable from `tip` that `known` does not already cover, newest first.
pub fn new_commits(repo: &Repo, tip: ObjectId, known: impl Fn(&ObjectId) -> Result<bool>) -> Result<Vec<ObjectId>> {
    walk(tip, known, |id| {
        let commit = repo.git.find_commit(id)?;
        Ok(Some((commit.parent_ids().map(|p| p.detach()).collect(), id)))
    })
}

/// `new_commits`, each with its tree, which `read_tree_chunks` reads without the commit.
pub fn new_commits_with_trees(
    repo: &Repo,
    tip: ObjectId,
    known: impl Fn(&ObjectId) -> Result<bool>,
) -> Result<Vec<(ObjectId, ObjectId)>> {
    walk(tip, known, |id| {
        let commit = repo.git.find_commit(id)?;
        let tree = commit.tree_id()?.detach();
        Ok(Some((commit.parent_ids().map(|p| p.detach()).collect(), (id, tree))))
    })
}

/// `new_commits` of a chain that a snapshot link says is `owner`'s (a retired chain): a commit
/// whose chunk holds another actor's event is left out, with all it leads to, and is not taken
/// as read. So a link that names the wrong actor for a chain (a forgery) never claims another
/// actor's commits for itself: they stay to be read under the link that names their owner.
/// A chunk that does not decode is kept (the fold quarantines it, as on a WAL ref).
pub fn owned_commits(
    repo: &Repo,
    tip: ObjectId,
    owner: &crate::event::ActorId,
    known: impl Fn(&ObjectId) -> Result<bool>,
) -> Result<Vec<(ObjectId, ObjectId)>> {
    walk(tip, known, |id| {
        let (parents, tree, bytes) = read_chunk_bytes(repo, id)?;
        let foreign = matches!(bytes.as_deref().map(decode_chunk),
            Some(Ok(events)) if events.iter().any(|e| e.event.actor != *owner));
        Ok((!foreign).then_some((parents, (id, tree))))
    })
}

/// The commits from `tip` down that `known` does not cover, newest first: `take` gives each
/// commit's parents to go on to and what to list for it, or `None` to leave the commit out.
fn walk<T>(
    tip: ObjectId,
    known: impl Fn(&ObjectId) -> Result<bool>,
    mut take: impl FnMut(ObjectId) -> Result<Option<(Vec<ObjectId>, T)>>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![tip];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) || known(&id)? {
            continue;
        }
        if let Some((parents, item)) = take(id)? {
            stack.extend(parents);
            out.push(item);
        }
    }
    Ok(out)
}

/// How one commit's history relates to another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The same commit.
    Same,
    /// The first contains the second (a fast-forward from the second).
    Ahead,
    /// The second contains the first.
    Behind,
    /// Each has commits the other does not.
    Diverged,
}

/// Relates `a` to `b` by walking both histories in step, so a fast-forward of k commits costs
/// O(k) reads; only diverged histories are walked to the root.
pub fn relation(repo: &Repo, a: ObjectId, b: ObjectId) -> Result<Relation> {
    use std::collections::{HashSet, VecDeque};
    if a == b {
        return Ok(Relation::Same);
    }
    let (mut queue_a, mut queue_b) = (VecDeque::from([a]), VecDeque::from([b]));
    let (mut seen_a, mut seen_b) = (HashSet::new(), HashSet::new());
    while !queue_a.is_empty() || !queue_b.is_empty() {
        if let Some(id) = queue_a.pop_front() {
            if id == b {
                return Ok(Relation::Ahead);
            }
            if seen_a.insert(id) {
                queue_a.extend(repo.git.find_commit(id)?.parent_ids().map(|p| p.detach()));
            }
        }
        if let Some(id) = queue_b.pop_front() {
            if id == a {
                return Ok(Relation::Behind);
            }
            if seen_b.insert(id) {
                queue_b.extend(repo.git.find_commit(id)?.parent_ids().map(|p| p.detach()));
            }
        }
    }
    Ok(Relation::Diverged)
}

/// The committer time of a commit, in milliseconds.
pub fn commit_time_ms(repo: &Repo, id: ObjectId) -> Result<u64> {
    let commit = repo.git.find_commit(id)?;
    let seconds = commit.time().map(|t| t.seconds).unwrap_or(0);
    Ok(u64::try_from(seconds).unwrap_or(0) * 1000)
}

/// The union of two diverged histories of one WAL ref: a merge commit that adds no chunk. It
/// is a pure function of its parents (sorted, empty tree, the later parent's time), so two
/// clones that merge the same pair make the same commit and do not diverge again.
pub fn union_commit(repo: &Repo, a: ObjectId, b: ObjectId, author: (&str, &str)) -> Result<ObjectId> {
    let mut parents = [a, b];
    parents.sort();
    let time_ms = commit_time_ms(repo, a)?.max(commit_time_ms(repo, b)?);
    let tree = crate::loose::write(repo, &gix::objs::Tree::empty())?;
    let author = Author {
        name: author.0,
        email: author.1,
        time_ms,
    };
    write_commit(repo, tree, &parents, &author, "grit: union of diverged histories")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, FORMAT_VERSION, Kind};
    use ed25519_dalek::SigningKey;

    #[test]
    fn chunks_round_trip() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let actor = ActorId(key.verifying_key().to_bytes());
        let events: Vec<_> = (0..3)
            .map(|i| {
                Event {
                    version: FORMAT_VERSION,
                    entity: None,
                    actor,
                    lamport: i,
                    wall_ms: 5,
                    parents: vec![],
                    kind: Kind::IssueCreated {
                        title: format!("t{i}"),
                        body: String::new(),
                        labels: vec![],
                    },
                }
                .sign(&key)
            })
            .collect();
        assert_eq!(decode_chunk(&encode_chunk(&actor, &events)).unwrap(), events);
        assert!(
            decode_chunk(b"\x83\x02\x40\x80").is_err(),
            "a future chunk format is refused, not misread"
        );
    }
}
