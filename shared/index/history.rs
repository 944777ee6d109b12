//! Every event of an issue, in the `history` table: what the issue page's timeline shows, one
//! step per event, where the issue's state keeps only each field's last writer.
//!
//! Keys are the entity's id and the event's id, so a bulk fold writes them in order. A value is
//! the event's Lamport clock and wall time (BE), its actor, its kind (the position in
//! [`KIND_NAMES`], 255 for a kind of a newer version) and the kind's few fields, each cut to
//! [`FIELD`] bytes, separated by a zero byte. Long texts (a body, a comment) are not kept: the
//! issue's state has the comments, and a body's change is shown as a change.

use crate::event::{ActorId, Id, KIND_NAMES, Kind, SignedEvent, State};

/// `history` keys: entity ++ event.
pub(super) const KEY_LEN: usize = 64;
/// The most bytes of one field a step keeps.
const FIELD: usize = 160;
/// Where a value's fields start: lamport, wall time, actor, kind.
const HEAD: usize = 8 + 8 + 32 + 1;

pub(super) fn key(entity: &Id, event: &Id) -> [u8; KEY_LEN] {
    let mut k = [0; KEY_LEN];
    k[..32].copy_from_slice(&entity.0);
    k[32..].copy_from_slice(&event.0);
    k
}

/// The value of `ev`'s step, into `out` (cleared first).
pub(super) fn encode(ev: &SignedEvent, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&ev.event.lamport.to_be_bytes());
    out.extend_from_slice(&ev.event.wall_ms.to_be_bytes());
    out.extend_from_slice(&ev.event.actor.0);
    let kind = &ev.event.kind;
    let code = KIND_NAMES
        .iter()
        .position(|n| *n == kind.name())
        .map_or(u8::MAX, |p| p as u8);
    out.push(code);
    let mut first = true;
    let mut field = |out: &mut Vec<u8>, text: &str| {
        if !first {
            out.push(0);
        }
        first = false;
        out.extend_from_slice(cut(text).as_bytes());
    };
    match kind {
        Kind::IssueCreated { title, .. } | Kind::TitleSet { title } => field(out, title),
        Kind::BodySet { .. } | Kind::CommentAdded { .. } => {}
        Kind::StateSet { state, reason } => {
            field(out, if *state == State::Closed { "closed" } else { "open" });
            if let Some(r) = reason {
                field(out, r);
            }
        }
        Kind::LabelAdded { label } | Kind::LabelRemoved { label } => field(out, label),
        Kind::AssigneeAdded { assignee } | Kind::AssigneeRemoved { assignee } => field(out, assignee),
        Kind::PrioritySet { priority } => field(out, &priority.to_string()),
        Kind::TypeSet { issue_type } => field(out, issue_type),
        Kind::ParentSet { parent } => field(out, &parent.map(|p| p.to_hex()).unwrap_or_default()),
        Kind::LinkAdded { link, target } | Kind::LinkRemoved { link, target } => {
            field(out, link);
            field(out, &target.to_hex());
        }
        Kind::Imported { origin } | Kind::CommentImported { origin, .. } => {
            field(out, &origin.source);
            field(out, &origin.author);
        }
        Kind::CommitReferenced {
            commit,
            subject,
            closes,
            ..
        } => {
            field(out, commit);
            field(out, subject);
            field(out, if *closes { "closes" } else { "refs" });
        }
        Kind::Unknown { code, .. } => field(out, &code.to_string()),
    }
}

/// `text`, cut at a character boundary to at most [`FIELD`] bytes, with no zero byte.
fn cut(text: &str) -> std::borrow::Cow<'_, str> {
    let mut end = text.len().min(FIELD);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let t = &text[..end];
    if t.contains('\0') {
        t.replace('\0', " ").into()
    } else {
        t.into()
    }
}

/// One event of an issue's history, as the index keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The event's id.
    pub event: Id,
    /// Its Lamport clock.
    pub lamport: u64,
    /// Its writer's wall time, in milliseconds since the epoch.
    pub wall_ms: u64,
    /// The actor that signed it.
    pub actor: ActorId,
    /// The kind's name (`issue.title_set`), or `unknown` for a kind of a newer version.
    pub kind: &'static str,
    /// The kind's fields as kept (see the module's description), each cut to a few bytes:
    /// - created, title: the title;
    /// - state: `open` or `closed`, and the reason if any;
    /// - label, assignee, priority, type: the value;
    /// - parent: the parent's id in hex, or empty for none;
    /// - link: the link's name and the target's id in hex;
    /// - imported, comment imported: the source id and the original author;
    /// - commit referenced: the commit, its subject, and `closes` or `refs`;
    /// - unknown: the kind's code.
    pub fields: Vec<String>,
}

impl Entry {
    pub(super) fn decode(key: &[u8], value: &[u8]) -> Option<Entry> {
        if key.len() != KEY_LEN || value.len() < HEAD {
            return None;
        }
        let u64_at = |i: usize| u64::from_be_bytes(value[i..i + 8].try_into().expect("8 bytes"));
        let kind = KIND_NAMES.get(usize::from(value[48])).copied().unwrap_or("unknown");
        let rest = &value[HEAD..];
        let fields = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split(|b| *b == 0)
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect()
        };
        Some(Entry {
            event: Id::from_slice(&key[32..])?,
            lamport: u64_at(0),
            wall_ms: u64_at(8),
            actor: ActorId(value[16..48].try_into().expect("32 bytes")),
            kind,
            fields,
        })
    }

    /// Field `i`, or "".
    pub fn field(&self, i: usize) -> &str {
        self.fields.get(i).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, FORMAT_VERSION, Origin};

    fn signed(kind: Kind) -> SignedEvent {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        Event {
            version: FORMAT_VERSION,
            entity: Some(Id([9; 32])),
            actor: ActorId(key.verifying_key().to_bytes()),
            lamport: 42,
            wall_ms: 1_700_000_000_123,
            parents: vec![],
            kind,
        }
        .sign(&key)
    }

    fn round_trip(kind: Kind) -> Entry {
        let ev = signed(kind);
        let mut v = Vec::new();
        encode(&ev, &mut v);
        let e = Entry::decode(&key(&ev.entity(), &ev.id), &v).expect("decodes");
        assert_eq!(
            (e.event, e.lamport, e.wall_ms, e.actor),
            (ev.id, 42, 1_700_000_000_123, ev.event.actor)
        );
        assert_eq!(e.kind, ev.event.kind.name());
        e
    }

    #[test]
    fn each_kind_keeps_its_fields() {
        let t = |s: &str| s.to_owned();
        assert_eq!(round_trip(Kind::TitleSet { title: t("new") }).fields, ["new"]);
        assert!(round_trip(Kind::BodySet { body: t("long") }).fields.is_empty());
        assert!(round_trip(Kind::CommentAdded { body: t("hi") }).fields.is_empty());
        let closed = round_trip(Kind::StateSet {
            state: State::Closed,
            reason: Some(t("not_planned")),
        });
        assert_eq!(closed.fields, ["closed", "not_planned"]);
        let open = round_trip(Kind::StateSet {
            state: State::Open,
            reason: None,
        });
        assert_eq!(open.fields, ["open"]);
        assert_eq!(round_trip(Kind::PrioritySet { priority: 1 }).fields, ["1"]);
        assert_eq!(round_trip(Kind::ParentSet { parent: None }).field(0), "");
        let link = round_trip(Kind::LinkAdded {
            link: t("blocked-by"),
            target: Id([5; 32]),
        });
        assert_eq!(link.fields, [t("blocked-by"), Id([5; 32]).to_hex()]);
        let imported = round_trip(Kind::Imported {
            origin: Origin {
                source: t("github:o/r#1"),
                url: None,
                author: t("octocat"),
                author_email: None,
                author_id: None,
                created_ms: 0,
            },
        });
        assert_eq!(imported.fields, ["github:o/r#1", "octocat"]);
        let noted = round_trip(Kind::CommitReferenced {
            commit: t("ab12"),
            subject: t("fix it"),
            closes: true,
            key: t("k"),
        });
        assert_eq!(noted.fields, ["ab12", "fix it", "closes"]);
    }

    /// A field is cut at a character boundary, and a zero byte in it does not split it.
    #[test]
    fn long_and_odd_fields_are_cut_whole() {
        let title = "é".repeat(200);
        let e = round_trip(Kind::TitleSet { title });
        assert_eq!(e.fields.len(), 1);
        assert!(e.fields[0].len() <= FIELD && e.fields[0].chars().all(|c| c == 'é'));
        let e = round_trip(Kind::LabelAdded { label: "a\0b".into() });
        assert_eq!(e.fields, ["a b"]);
        assert!(Entry::decode(&[0; KEY_LEN], &[0; HEAD - 1]).is_none());
    }
}
