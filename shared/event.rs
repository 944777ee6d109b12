//! The event model: what an event says, its canonical CBOR encoding, its id and its signature.
//! Everything here is pure (no git, no disk); `docs/event-format.md` is the byte-level spec.

use std::fmt;

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use ciborium::value::{Integer, Value};
use ed25519_dalek::{Signer, SigningKey};

use crate::hex;

/// The event format written by this version.
pub const FORMAT_VERSION: u64 = 1;
/// The largest Lamport clock an event may carry (2^53 - 1, exact in every JSON reader). An
/// event past it is invalid, so no stranger can wrap the clock of those who read it.
pub const MAX_LAMPORT: u64 = (1 << 53) - 1;
/// The latest wall-clock time an event may carry: the last millisecond of the year 9999.
pub const MAX_WALL_MS: u64 = 253_402_300_799_999;

/// Hashes ids (and other 32-byte hashes) by their first bytes: they are uniformly random already.
#[derive(Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut head = [0u8; 8];
        let n = bytes.len().min(8);
        head[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(head);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Keyed by a 32-byte hash (an event id, an actor key).
pub type IdMap<V> = std::collections::HashMap<[u8; 32], V, std::hash::BuildHasherDefault<IdHasher>>;

/// A 32-byte content address (BLAKE2b-256) of an event; an issue's id is its creation event's id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Id(pub [u8; 32]);

/// The order of the bytes. Ids are hashes, so the first eight, compared as a number, nearly
/// always decide: sorting hundreds of thousands of ids then costs no call to `memcmp` each.
impl Ord for Id {
    fn cmp(&self, other: &Id) -> std::cmp::Ordering {
        let head = |id: &Id| u64::from_be_bytes(id.0[..8].try_into().expect("8 of 32 bytes"));
        head(self).cmp(&head(other)).then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Id) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// An actor is named by its Ed25519 public key, so every event is self-certifying.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ActorId(pub [u8; 32]);

macro_rules! hex_id {
    ($t:ident) => {
        impl $t {
            /// In lower-case hex, 64 digits.
            pub fn to_hex(&self) -> String {
                hex::encode(&self.0)
            }
            /// From 64 hex digits; `None` for anything else.
            pub fn from_hex(s: &str) -> Option<Self> {
                let v = hex::decode(s)?;
                Some(Self(v.try_into().ok()?))
            }
            /// From 32 bytes; `None` for another length.
            pub fn from_slice(b: &[u8]) -> Option<Self> {
                Some(Self(b.try_into().ok()?))
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($t), &self.to_hex()[..12])
            }
        }
    };
}
hex_id!(Id);
hex_id!(ActorId);

/// Open or closed, with the reason a close was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Open: work to do.
    Open,
    /// Closed: done, or not to be done.
    Closed,
}

/// What an event does. Codes are part of the format; unknown codes survive as `Unknown`.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// An issue is opened.
    IssueCreated {
        /// Its title.
        title: String,
        /// Its body (markdown; may be empty).
        body: String,
        /// The labels it starts with.
        labels: Vec<String>,
    },
    /// The title changes.
    TitleSet {
        /// The new title.
        title: String,
    },
    /// The body changes.
    BodySet {
        /// The new body.
        body: String,
    },
    /// The issue is closed or reopened.
    StateSet {
        /// The state it moves to.
        state: State,
        /// Why it was closed (`completed`, `not_planned`), for a close.
        reason: Option<String>,
    },
    /// A comment is added.
    CommentAdded {
        /// Its text (markdown).
        body: String,
    },
    /// A label is added.
    LabelAdded {
        /// The label.
        label: String,
    },
    /// A label is removed.
    LabelRemoved {
        /// The label.
        label: String,
    },
    /// Someone is assigned.
    AssigneeAdded {
        /// Who (an email or a name).
        assignee: String,
    },
    /// Someone is unassigned.
    AssigneeRemoved {
        /// Who.
        assignee: String,
    },
    /// Priority 0 (highest) to 4.
    PrioritySet {
        /// The new priority.
        priority: u8,
    },
    /// bug, feature, task, epic or chore (writers write these; readers keep any text).
    TypeSet {
        /// The new type.
        issue_type: String,
    },
    /// The issue's one parent (an epic), or none.
    ParentSet {
        /// The parent's id; `None` removes it.
        parent: Option<Id>,
    },
    /// A link from this issue to `target`: `blocked-by`, `related`, `duplicate-of` or
    /// `discovered-from` (readers keep any other name and skip it).
    LinkAdded {
        /// The link's name.
        link: String,
        /// The issue it points to.
        target: Id,
    },
    /// A link from this issue is removed.
    LinkRemoved {
        /// The link's name.
        link: String,
        /// The issue it pointed to.
        target: Id,
    },
    /// Where an imported issue came from: its source id (`github:owner/name#12`,
    /// `beads:bd-12`, `grit:<id>`), URL, original author and creation time.
    Imported {
        /// The issue's origin.
        origin: Origin,
    },
    /// A comment carried over from another tracker, with its original author and time.
    CommentImported {
        /// Its text.
        body: String,
        /// Its origin.
        origin: Origin,
    },
    /// A commit whose `Fixes:`/`Closes:` (`closes`) or `Refs:` trailer names the issue, seen on
    /// the branch that closes issues. Every clone that sees the commit land may write one; the
    /// projection keeps the first (lowest stamp) of each commit, so the issue gets one close and
    /// one comment however many wrote it.
    CommitReferenced {
        /// The commit id in lower-case hex (40 or 64 digits).
        commit: String,
        /// The commit's subject line.
        subject: String,
        /// Whether the trailer closes the issue (`Fixes:`/`Closes:`) or only refers to it.
        closes: bool,
        /// What stays the same when the commit is rebased, cherry-picked or amended: 32 hex
        /// digits of BLAKE2b-256 over its author's email, author time and subject (see
        /// `trailers::commit_key`). Notes are told apart by it, not by the commit id.
        key: String,
    },
    /// A kind from a newer version: kept byte for byte, skipped by the projection.
    Unknown {
        /// The kind's code.
        code: u64,
        /// Its payload, as it was.
        payload: Value,
    },
}

/// The names of the event kinds this version knows, as `Kind::name` gives them.
pub const KIND_NAMES: &[&str] = &[
    "issue.created",
    "issue.title_set",
    "issue.body_set",
    "issue.state_set",
    "issue.comment_added",
    "issue.label_added",
    "issue.label_removed",
    "issue.assignee_added",
    "issue.assignee_removed",
    "issue.priority_set",
    "issue.type_set",
    "issue.parent_set",
    "issue.link_added",
    "issue.link_removed",
    "issue.imported",
    "issue.comment_imported",
    "issue.commit_referenced",
    "unknown",
];

impl Kind {
    /// The kind's code in the format (`docs/event-format.md`).
    pub fn code(&self) -> u64 {
        match self {
            Kind::IssueCreated { .. } => 1,
            Kind::TitleSet { .. } => 2,
            Kind::BodySet { .. } => 3,
            Kind::StateSet { .. } => 4,
            Kind::CommentAdded { .. } => 5,
            Kind::LabelAdded { .. } => 6,
            Kind::LabelRemoved { .. } => 7,
            Kind::AssigneeAdded { .. } => 8,
            Kind::AssigneeRemoved { .. } => 9,
            Kind::PrioritySet { .. } => 10,
            Kind::TypeSet { .. } => 11,
            Kind::ParentSet { .. } => 12,
            Kind::LinkAdded { .. } => 13,
            Kind::LinkRemoved { .. } => 14,
            Kind::Imported { .. } => 15,
            Kind::CommentImported { .. } => 16,
            Kind::CommitReferenced { .. } => 17,
            Kind::Unknown { code, .. } => *code,
        }
    }

    /// The stable name used in `git wal log` and JSON output.
    ///
    /// Every name is in [`KIND_NAMES`].
    pub fn name(&self) -> &'static str {
        match self {
            Kind::IssueCreated { .. } => "issue.created",
            Kind::TitleSet { .. } => "issue.title_set",
            Kind::BodySet { .. } => "issue.body_set",
            Kind::StateSet { .. } => "issue.state_set",
            Kind::CommentAdded { .. } => "issue.comment_added",
            Kind::LabelAdded { .. } => "issue.label_added",
            Kind::LabelRemoved { .. } => "issue.label_removed",
            Kind::AssigneeAdded { .. } => "issue.assignee_added",
            Kind::AssigneeRemoved { .. } => "issue.assignee_removed",
            Kind::PrioritySet { .. } => "issue.priority_set",
            Kind::TypeSet { .. } => "issue.type_set",
            Kind::ParentSet { .. } => "issue.parent_set",
            Kind::LinkAdded { .. } => "issue.link_added",
            Kind::LinkRemoved { .. } => "issue.link_removed",
            Kind::Imported { .. } => "issue.imported",
            Kind::CommentImported { .. } => "issue.comment_imported",
            Kind::CommitReferenced { .. } => "issue.commit_referenced",
            Kind::Unknown { .. } => "unknown",
        }
    }

    fn payload(&self) -> Value {
        let t = |s: &str| Value::Text(s.to_owned());
        match self {
            Kind::IssueCreated { title, body, labels } => Value::Array(vec![
                t(title),
                t(body),
                Value::Array(canonical_set(labels).map(t).collect()),
            ]),
            Kind::TitleSet { title } => Value::Array(vec![t(title)]),
            Kind::BodySet { body } | Kind::CommentAdded { body } => Value::Array(vec![t(body)]),
            Kind::StateSet { state, reason } => Value::Array(vec![
                uint(match state {
                    State::Open => 0,
                    State::Closed => 1,
                }),
                reason.as_deref().map_or(Value::Null, t),
            ]),
            Kind::LabelAdded { label } | Kind::LabelRemoved { label } => Value::Array(vec![t(label)]),
            Kind::AssigneeAdded { assignee } | Kind::AssigneeRemoved { assignee } => Value::Array(vec![t(assignee)]),
            Kind::PrioritySet { priority } => Value::Array(vec![uint(u64::from(*priority))]),
            Kind::TypeSet { issue_type } => Value::Array(vec![t(issue_type)]),
            Kind::ParentSet { parent } => {
                Value::Array(vec![parent.map_or(Value::Null, |p| Value::Bytes(p.0.to_vec()))])
            }
            Kind::LinkAdded { link, target } | Kind::LinkRemoved { link, target } => {
                Value::Array(vec![t(link), Value::Bytes(target.0.to_vec())])
            }
            Kind::Imported { origin } => Value::Array(origin.values()),
            Kind::CommentImported { body, origin } => {
                let mut v = vec![t(body)];
                v.extend(origin.values());
                Value::Array(v)
            }
            Kind::CommitReferenced {
                commit,
                subject,
                closes,
                key,
            } => Value::Array(vec![t(commit), t(subject), uint(u64::from(*closes)), t(key)]),
            Kind::Unknown { payload, .. } => payload.clone(),
        }
    }

    fn from_parts(code: u64, payload: Value) -> Result<Kind, DecodeError> {
        let fields = match (&payload, code) {
            (_, c) if c == 0 || c > 17 => return Ok(Kind::Unknown { code, payload }),
            (Value::Array(a), _) => a,
            _ => return Err(DecodeError("payload is not an array")),
        };
        let text = |i: usize| -> Result<String, DecodeError> {
            match fields.get(i) {
                Some(Value::Text(s)) => Ok(s.clone()),
                _ => Err(DecodeError("payload field is not text")),
            }
        };
        Ok(match code {
            1 => {
                let labels = match fields.get(2) {
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|v| match v {
                            Value::Text(s) => Ok(s.clone()),
                            _ => Err(DecodeError("label is not text")),
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                    _ => return Err(DecodeError("labels are not an array")),
                };
                Kind::IssueCreated {
                    title: text(0)?,
                    body: text(1)?,
                    labels,
                }
            }
            2 => Kind::TitleSet { title: text(0)? },
            3 => Kind::BodySet { body: text(0)? },
            4 => {
                let state = match fields.first().and_then(as_u64) {
                    Some(0) => State::Open,
                    Some(1) => State::Closed,
                    _ => return Err(DecodeError("state is not 0 or 1")),
                };
                let reason = match fields.get(1) {
                    Some(Value::Null) | None => None,
                    Some(Value::Text(s)) => Some(s.clone()),
                    _ => return Err(DecodeError("reason is not text or null")),
                };
                Kind::StateSet { state, reason }
            }
            5 => Kind::CommentAdded { body: text(0)? },
            6 => Kind::LabelAdded { label: text(0)? },
            7 => Kind::LabelRemoved { label: text(0)? },
            8 => Kind::AssigneeAdded { assignee: text(0)? },
            9 => Kind::AssigneeRemoved { assignee: text(0)? },
            10 => match fields.first().and_then(as_u64) {
                Some(p) if p <= 4 && fields.len() == 1 => Kind::PrioritySet { priority: p as u8 },
                _ => return Err(DecodeError("priority is not 0 to 4")),
            },
            11 => Kind::TypeSet { issue_type: text(0)? },
            12 => Kind::ParentSet {
                parent: match fields.first() {
                    Some(Value::Null) => None,
                    Some(Value::Bytes(b)) => Some(Id::from_slice(b).ok_or(DecodeError("parent is not 32 bytes"))?),
                    _ => return Err(DecodeError("parent is not null or an id")),
                },
            },
            13 | 14 => {
                let link = text(0)?;
                let target = match fields.get(1) {
                    Some(Value::Bytes(b)) => Id::from_slice(b).ok_or(DecodeError("link target is not 32 bytes"))?,
                    _ => return Err(DecodeError("link target is not an id")),
                };
                if code == 13 {
                    Kind::LinkAdded { link, target }
                } else {
                    Kind::LinkRemoved { link, target }
                }
            }
            15 => Kind::Imported {
                origin: Origin::from_values(fields)?,
            },
            16 => Kind::CommentImported {
                body: text(0)?,
                origin: Origin::from_values(fields.get(1..).unwrap_or_default())?,
            },
            17 => {
                let commit = text(0)?;
                if !matches!(commit.len(), 40 | 64) || !commit.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(DecodeError("commit is not a lower-case hex commit id"));
                }
                let closes = match fields.get(2).and_then(as_u64) {
                    Some(0) if fields.len() == 4 => false,
                    Some(1) if fields.len() == 4 => true,
                    _ => return Err(DecodeError("closes is not 0 or 1")),
                };
                let key = text(3)?;
                if key.len() != 32 || !key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(DecodeError("commit key is not 32 lower-case hex digits"));
                }
                Kind::CommitReferenced {
                    commit,
                    subject: text(1)?,
                    closes,
                    key,
                }
            }
            _ => unreachable!("codes outside 1..=17 were handled above"),
        })
    }
}

/// Where something imported came from: `[source, url, author, author_email, author_id,
/// created_ms]` in the payload (url, email and id may be null).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `github:owner/name#12`, `github:owner/name#12/comment/345`, `beads:bd-12`, `grit:<id>`.
    pub source: String,
    /// The issue's or comment's page there, if it has one.
    pub url: Option<String>,
    /// The original author as the source names them (a login, a name).
    pub author: String,
    /// The original author's email, if the source gives it.
    pub author_email: Option<String>,
    /// For an export of this suite: the original author's actor id.
    pub author_id: Option<String>,
    /// When it was written there (milliseconds since the epoch).
    pub created_ms: u64,
}

impl Origin {
    fn values(&self) -> Vec<Value> {
        let t = |s: &str| Value::Text(s.to_owned());
        let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, t);
        vec![
            t(&self.source),
            opt(&self.url),
            t(&self.author),
            opt(&self.author_email),
            opt(&self.author_id),
            uint(self.created_ms),
        ]
    }

    fn from_values(f: &[Value]) -> Result<Origin, DecodeError> {
        let text = |i: usize| match f.get(i) {
            Some(Value::Text(s)) => Ok(s.clone()),
            _ => Err(DecodeError("origin field is not text")),
        };
        let opt = |i: usize| match f.get(i) {
            Some(Value::Null) => Ok(None),
            Some(Value::Text(s)) => Ok(Some(s.clone())),
            _ => Err(DecodeError("origin field is not text or null")),
        };
        if f.len() != 6 {
            return Err(DecodeError("origin does not have 6 fields"));
        }
        Ok(Origin {
            source: text(0)?,
            url: opt(1)?,
            author: text(2)?,
            author_email: opt(3)?,
            author_id: opt(4)?,
            created_ms: f
                .get(5)
                .and_then(as_u64)
                .ok_or(DecodeError("origin time is not a uint"))?,
        })
    }
}

/// The fields of an event, before it is encoded and signed.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The format's version ([`FORMAT_VERSION`]).
    pub version: u64,
    /// The entity changed; `None` for an event that creates one (its id becomes the entity's).
    pub entity: Option<Id>,
    /// The writer: its public key, which signs the event.
    pub actor: ActorId,
    /// The writer's Lamport clock: past every event it had seen.
    pub lamport: u64,
    /// Milliseconds since the Unix epoch, as the writer's clock saw it.
    pub wall_ms: u64,
    /// Ids of the entity's latest events the writer had seen (sorted, no duplicates when encoded).
    pub parents: Vec<Id>,
    /// What it does.
    pub kind: Kind,
}

/// An event as stored: its canonical body bytes, id and signature.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedEvent {
    /// BLAKE2b-256 of `body`.
    pub id: Id,
    /// The canonical encoding of `event` ([`Event::encode`]).
    pub body: Vec<u8>,
    /// The actor's Ed25519 signature of `body`.
    pub signature: [u8; 64],
    /// The event, decoded.
    pub event: Event,
}

impl SignedEvent {
    /// The entity this event belongs to: its own id for a creation event.
    pub fn entity(&self) -> Id {
        self.event.entity.unwrap_or(self.id)
    }

    /// The checks that need no key: the clock and time are within the format's bounds, and the
    /// event sits on its own actor's WAL ref (`owner`, when it was read from one).
    pub fn check_structure(&self, owner: Option<&ActorId>) -> Result<(), VerifyError> {
        if self.event.lamport > MAX_LAMPORT {
            return Err(VerifyError::OutOfBounds(self.id, "Lamport clock", self.event.lamport));
        }
        if self.event.wall_ms > MAX_WALL_MS {
            return Err(VerifyError::OutOfBounds(self.id, "time", self.event.wall_ms));
        }
        if let Some(owner) = owner
            && *owner != self.event.actor
        {
            return Err(VerifyError::NotOwner {
                event: self.id,
                actor: self.event.actor,
                owner: *owner,
            });
        }
        Ok(())
    }

    /// Checks the signature against the actor's public key and the id against the body
    /// (Ed25519 under the ZIP-215 rules, as `sig` says).
    pub fn verify(&self) -> Result<(), VerifyError> {
        self.verify_with(sig::Key::decode(&self.event.actor.0).as_ref())
    }

    /// `verify` with the actor's key already decoded (`None`: it is not a valid point).
    fn verify_with(&self, key: Option<&sig::Key>) -> Result<(), VerifyError> {
        let prepared = self.prepare(key)?;
        match key.is_some_and(|k| sig::verify_one(k, &prepared)) {
            true => Ok(()),
            false => Err(VerifyError::BadSignature(self.id)),
        }
    }

    /// The checks that come before the signature's equation: the id recomputes, the key and
    /// the signature decode.
    fn prepare(&self, key: Option<&sig::Key>) -> Result<sig::Prepared, VerifyError> {
        if id_of(&self.body) != self.id {
            return Err(VerifyError::IdMismatch(self.id));
        }
        let key = key.ok_or(VerifyError::BadKey(self.event.actor))?;
        sig::prepare(key, &self.id.0, &self.signature).ok_or(VerifyError::BadSignature(self.id))
    }
}

/// How many signatures one batch checks at once: large enough that the multiscalar
/// multiplication pays off, small enough that a batch with a bad signature in it costs little to
/// check again one by one.
const VERIFY_BATCH: usize = 256;

/// Verifies many events on every core; returns the index and error of each one that fails.
/// Each thread decodes an actor's key once for all its events, and checks the signatures of a
/// share in batches (`sig::verify_batch`, whose verdict is the same as one by one); a batch that
/// fails is checked again one by one, to name the events that fail.
pub fn verify_all(events: &[SignedEvent]) -> Vec<(usize, VerifyError)> {
    let indexed: Vec<(usize, &[SignedEvent])> = events
        .chunks(VERIFY_BATCH)
        .enumerate()
        .map(|(i, c)| (i * VERIFY_BATCH, c))
        .collect();
    type Keys = std::collections::HashMap<ActorId, Option<sig::Key>>;
    crate::parallel::map_with(&indexed, Keys::new, |keys, (first, batch)| {
        let mut failed = Vec::new();
        let mut used: Vec<sig::Key> = Vec::new();
        let mut slot: std::collections::HashMap<ActorId, usize> = std::collections::HashMap::new();
        let mut prepared = Vec::with_capacity(batch.len());
        for (i, ev) in batch.iter().enumerate() {
            let actor = ev.event.actor;
            let key = *keys.entry(actor).or_insert_with(|| sig::Key::decode(&actor.0));
            match ev.prepare(key.as_ref()) {
                Ok(p) => {
                    let k = *slot.entry(actor).or_insert_with(|| {
                        used.push(key.expect("prepared, so the key decoded"));
                        used.len() - 1
                    });
                    prepared.push((i, k, p));
                }
                Err(e) => failed.push((first + i, e)),
            }
        }
        let items: Vec<(usize, &sig::Prepared)> = prepared.iter().map(|(_, k, p)| (*k, p)).collect();
        if !sig::verify_batch(&used, &items) {
            for (i, k, p) in &prepared {
                if !sig::verify_one(&used[*k], p) {
                    failed.push((first + i, VerifyError::BadSignature(batch[*i].id)));
                }
            }
        }
        failed.sort_by_key(|(i, _)| *i);
        failed
    })
    .into_iter()
    .flatten()
    .collect()
}

/// Bytes that are not an event of the format: what is wrong, in a few words.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("malformed event: {0}")]
pub struct DecodeError(pub &'static str);

/// Why an event that decodes is refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VerifyError {
    /// Its body does not hash to its id.
    #[error("event {0} does not hash to its id")]
    IdMismatch(Id),
    /// Its actor is not an Ed25519 public key.
    #[error("actor {0} is not a valid Ed25519 public key")]
    BadKey(ActorId),
    /// Its signature is not its actor's over its body.
    #[error("event {0} has a bad signature")]
    BadSignature(Id),
    /// A clock or time past the format's bound: the event, the field, its value.
    #[error("event {0} has a {1} of {2}, past the format's bound")]
    OutOfBounds(Id, &'static str, u64),
    /// It sits on another actor's WAL ref.
    #[error("event {event} by actor {actor} sits on the WAL ref of actor {owner}")]
    NotOwner {
        /// The event.
        event: Id,
        /// The actor that signed it.
        actor: ActorId,
        /// The actor whose ref holds it.
        owner: ActorId,
    },
}

impl VerifyError {
    /// What is wrong, without the event's id (for lists that show the id beside it).
    pub fn reason(&self) -> String {
        match self {
            VerifyError::IdMismatch(_) => "does not hash to its id".into(),
            VerifyError::BadKey(a) => format!("actor {} is not a valid Ed25519 public key", &a.to_hex()[..12]),
            VerifyError::BadSignature(_) => "bad signature".into(),
            VerifyError::OutOfBounds(_, what, n) => format!("{what} {n} is past the format's bound"),
            VerifyError::NotOwner { actor, owner, .. } => format!(
                "written by actor {} on the WAL ref of actor {}",
                &actor.to_hex()[..12],
                &owner.to_hex()[..12]
            ),
        }
    }
}

fn uint(n: u64) -> Value {
    Value::Integer(Integer::from(n))
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => u64::try_from(*i).ok(),
        _ => None,
    }
}

fn canonical_set(items: &[String]) -> impl Iterator<Item = &str> {
    let mut v: Vec<&str> = items.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    v.into_iter()
}

/// Encodes a CBOR value; ciborium always writes definite lengths and the shortest integer heads.
pub fn to_cbor(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    ciborium::ser::into_writer(value, &mut out).expect("writing CBOR to a Vec cannot fail");
    out
}

/// Decodes CBOR.
pub fn from_cbor(bytes: &[u8]) -> Result<Value, DecodeError> {
    ciborium::de::from_reader(bytes).map_err(|_| DecodeError("not valid CBOR"))
}

/// BLAKE2b-256 of `bytes`.
pub fn blake2b256(bytes: &[u8]) -> [u8; 32] {
    Blake2b::<U32>::digest(bytes).into()
}

/// The id of an event whose canonical body is `body`.
pub fn id_of(body: &[u8]) -> Id {
    Id(blake2b256(body))
}

impl Event {
    /// The canonical encoding: a 8-element array, see docs/event-format.md.
    pub fn encode(&self) -> Vec<u8> {
        let mut parents = self.parents.clone();
        parents.sort_unstable();
        parents.dedup();
        to_cbor(&Value::Array(vec![
            uint(self.version),
            self.entity.map_or(Value::Null, |e| Value::Bytes(e.0.to_vec())),
            Value::Bytes(self.actor.0.to_vec()),
            uint(self.lamport),
            uint(self.wall_ms),
            Value::Array(parents.iter().map(|p| Value::Bytes(p.0.to_vec())).collect()),
            uint(self.kind.code()),
            self.kind.payload(),
        ]))
    }

    /// Decodes an event's body. Its id and signature are not checked here (see
    /// [`SignedEvent::verify`]).
    pub fn decode(body: &[u8]) -> Result<Event, DecodeError> {
        // Known kinds take a fast path over the canonical subset; anything else goes through
        // the general decoder, which also handles payloads of unknown kinds.
        if let Some(ev) = fast::decode(body) {
            return Ok(ev);
        }
        Self::decode_general(body)
    }

    fn decode_general(body: &[u8]) -> Result<Event, DecodeError> {
        let Value::Array(f) = from_cbor(body)? else {
            return Err(DecodeError("event is not an array"));
        };
        if f.len() != 8 {
            return Err(DecodeError("event does not have 8 fields"));
        }
        let mut f = f.into_iter();
        let mut next = || f.next().expect("length checked above");
        let version = as_u64(&next()).ok_or(DecodeError("version is not an integer"))?;
        let entity = match next() {
            Value::Null => None,
            Value::Bytes(b) => Some(Id::from_slice(&b).ok_or(DecodeError("entity is not 32 bytes"))?),
            _ => return Err(DecodeError("entity is not bytes or null")),
        };
        let actor = match next() {
            Value::Bytes(b) => ActorId::from_slice(&b).ok_or(DecodeError("actor is not 32 bytes"))?,
            _ => return Err(DecodeError("actor is not bytes")),
        };
        let lamport = as_u64(&next()).ok_or(DecodeError("lamport is not an integer"))?;
        let wall_ms = as_u64(&next()).ok_or(DecodeError("time is not an integer"))?;
        let parents = match next() {
            Value::Array(a) => a
                .into_iter()
                .map(|v| match v {
                    Value::Bytes(b) => Id::from_slice(&b).ok_or(DecodeError("parent is not 32 bytes")),
                    _ => Err(DecodeError("parent is not bytes")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(DecodeError("parents are not an array")),
        };
        let code = as_u64(&next()).ok_or(DecodeError("kind is not an integer"))?;
        let kind = Kind::from_parts(code, next())?;
        Ok(Event {
            version,
            entity,
            actor,
            lamport,
            wall_ms,
            parents,
            kind,
        })
    }

    /// Encodes, hashes and signs the event with the actor's key.
    pub fn sign(self, key: &SigningKey) -> SignedEvent {
        debug_assert_eq!(
            key.verifying_key().to_bytes(),
            self.actor.0,
            "an event is signed by its own actor"
        );
        let body = self.encode();
        let id = id_of(&body);
        let signature = key.sign(&id.0).to_bytes();
        SignedEvent {
            id,
            body,
            signature,
            event: self,
        }
    }
}

/// A reader for the restricted CBOR of event bodies (see docs/event-format.md): definite
/// lengths, unsigned integers, byte and text strings, arrays, null. Returns `None` on anything
/// else, and the caller falls back to the general decoder.
mod fast;
pub mod sig;

/// A WAL chunk's events by the fast reader, when the chunk uses only the canonical subset and
/// every event is of a known kind (the chunk format itself is `wal`'s).
pub fn decode_chunk_fast(bytes: &[u8], format: u64) -> Option<Vec<SignedEvent>> {
    fast::chunk(bytes, format)
}

impl SignedEvent {
    /// The stored form: `[body as a byte string, signature]`.
    pub fn to_value(&self) -> Value {
        Value::Array(vec![
            Value::Bytes(self.body.clone()),
            Value::Bytes(self.signature.to_vec()),
        ])
    }

    /// The inverse of `to_value`: the body is decoded, not checked (see `verify`).
    pub fn from_value(v: Value) -> Result<SignedEvent, DecodeError> {
        let Value::Array(f) = v else {
            return Err(DecodeError("signed event is not an array"));
        };
        let mut f = f.into_iter();
        let (Some(Value::Bytes(body)), Some(Value::Bytes(sig)), None) = (f.next(), f.next(), f.next()) else {
            return Err(DecodeError("signed event is not [body, signature]"));
        };
        let signature: [u8; 64] = sig.try_into().map_err(|_| DecodeError("signature is not 64 bytes"))?;
        let event = Event::decode(&body)?;
        Ok(SignedEvent {
            id: id_of(&body),
            body,
            signature,
            event,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_as_their_bytes_do() {
        // Every pair of ids that differ in one byte, at each position, either way.
        let mut ids = vec![Id([0; 32]), Id([0xff; 32])];
        for at in 0..32 {
            for value in [1, 0x80, 0xff] {
                let mut bytes = [0x40; 32];
                bytes[at] = value;
                ids.push(Id(bytes));
            }
        }
        for a in &ids {
            for b in &ids {
                assert_eq!(a.cmp(b), a.0.cmp(&b.0), "{a} against {b}");
                assert_eq!(a.partial_cmp(b), Some(a.0.cmp(&b.0)));
            }
        }
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn event(kind: Kind) -> Event {
        Event {
            version: FORMAT_VERSION,
            entity: Some(Id([7; 32])),
            actor: ActorId(key(1).verifying_key().to_bytes()),
            lamport: 3,
            wall_ms: 1_700_000_000_000,
            parents: vec![Id([2; 32]), Id([1; 32]), Id([2; 32])],
            kind,
        }
    }

    #[test]
    fn every_kind_round_trips_through_the_stored_form() {
        let kinds = vec![
            Kind::IssueCreated {
                title: "t".into(),
                body: "b".into(),
                labels: vec!["x".into(), "a".into()],
            },
            Kind::TitleSet { title: "ü".into() },
            Kind::BodySet { body: String::new() },
            Kind::StateSet {
                state: State::Closed,
                reason: Some("completed".into()),
            },
            Kind::StateSet {
                state: State::Open,
                reason: None,
            },
            Kind::CommentAdded { body: "hi".into() },
            Kind::LabelAdded { label: "bug".into() },
            Kind::LabelRemoved { label: "bug".into() },
            Kind::AssigneeAdded { assignee: "ann".into() },
            Kind::AssigneeRemoved { assignee: "ann".into() },
            Kind::Unknown {
                code: 4242,
                payload: Value::Array(vec![Value::Bool(true)]),
            },
        ];
        for kind in kinds {
            let signed = event(kind).sign(&key(1));
            let back = SignedEvent::from_value(signed.to_value()).expect("decodes");
            assert_eq!(back.id, signed.id);
            assert_eq!(back.event.encode(), signed.body, "re-encoding is byte-identical");
            back.verify().expect("signature verifies");
        }
    }

    #[test]
    fn parents_and_labels_are_encoded_as_sorted_sets() {
        let a = event(Kind::IssueCreated {
            title: "t".into(),
            body: "".into(),
            labels: vec!["b".into(), "a".into()],
        });
        let mut b = a.clone();
        b.parents.reverse();
        b.kind = Kind::IssueCreated {
            title: "t".into(),
            body: "".into(),
            labels: vec!["a".into(), "b".into(), "a".into()],
        };
        assert_eq!(a.encode(), b.encode());
    }

    #[test]
    fn unknown_kinds_are_kept_not_rejected() {
        let signed = event(Kind::Unknown {
            code: 77,
            payload: Value::Text("future".into()),
        })
        .sign(&key(1));
        let back = SignedEvent::from_value(signed.to_value()).unwrap();
        assert_eq!(
            back.event.kind,
            Kind::Unknown {
                code: 77,
                payload: Value::Text("future".into())
            }
        );
    }

    #[test]
    fn tampering_is_detected() {
        let mut signed = event(Kind::TitleSet { title: "a".into() }).sign(&key(1));
        signed.signature[0] ^= 1;
        assert_eq!(signed.verify(), Err(VerifyError::BadSignature(signed.id)));
        let mut signed = event(Kind::TitleSet { title: "a".into() }).sign(&key(1));
        signed.body.push(0);
        assert!(matches!(signed.verify(), Err(VerifyError::IdMismatch(_))));
    }

    #[test]
    fn verify_all_reports_what_verify_reports() {
        let not_a_point = (0..=255u8)
            .map(|b| [b; 32])
            .find(|b| ed25519_dalek::VerifyingKey::from_bytes(b).is_err())
            .expect("some bytes are no curve point");
        let mut events = Vec::new();
        for i in 0..40u8 {
            let seed = 1 + i % 3;
            let mut ev = event(Kind::TitleSet { title: format!("t{i}") });
            ev.actor = ActorId(key(seed).verifying_key().to_bytes());
            let mut signed = ev.sign(&key(seed));
            match i % 7 {
                3 => signed.signature[5] ^= 1,
                5 => signed.event.actor = ActorId(not_a_point),
                _ => {}
            }
            events.push(signed);
        }
        let expected: Vec<(usize, VerifyError)> = events
            .iter()
            .enumerate()
            .filter_map(|(i, ev)| ev.verify().err().map(|e| (i, e)))
            .collect();
        assert_eq!(expected.len(), 11);
        assert!(expected.iter().any(|(_, e)| matches!(e, VerifyError::BadKey(_))));
        assert_eq!(verify_all(&events), expected);
    }

    #[test]
    fn the_fast_decoder_agrees_with_the_general_one() {
        for (_, seed, ev) in test_vectors() {
            let body = ev.sign(&key(seed)).body;
            assert_eq!(Event::decode_general(&body), Event::decode(&body));
        }
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        for bytes in [&b""[..], &[0x80], &[0x88, 0, 0, 0, 0, 0, 0, 0, 0], &[0xff, 0xff]] {
            assert!(Event::decode(bytes).is_err());
        }
    }
}

#[cfg(test)]
mod vectors;
#[cfg(test)]
pub(crate) use vectors::test_vectors;
