//! The fast reader of event bodies and chunks: the restricted CBOR of docs/event-format.md
//! read in place, falling back to the general decoder on anything else.

use super::{ActorId, Event, Id, Kind, SignedEvent, State};
use crate::cbor::Cursor;

pub(super) fn decode(body: &[u8]) -> Option<Event> {
    let mut c = Cursor(body);
    if c.array()? != 8 {
        return None;
    }
    let version = c.uint()?;
    let entity = c.option(|c| c.id().map(Id))?;
    let actor = ActorId(c.id()?);
    let lamport = c.uint()?;
    let wall_ms = c.uint()?;
    let n = c.array()?;
    let mut parents = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        parents.push(Id(c.id()?));
    }
    let code = c.uint()?;
    let fields = c.array()?;
    let kind = match (code, fields) {
        (1, 3) => {
            let (title, body) = (c.text()?, c.text()?);
            let n = c.array()?;
            let mut labels = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                labels.push(c.text()?);
            }
            Kind::IssueCreated { title, body, labels }
        }
        (2, 1) => Kind::TitleSet { title: c.text()? },
        (3, 1) => Kind::BodySet { body: c.text()? },
        (4, 2) => {
            let state = match c.uint()? {
                0 => State::Open,
                1 => State::Closed,
                _ => return None,
            };
            let reason = c.option(Cursor::text)?;
            Kind::StateSet { state, reason }
        }
        (5, 1) => Kind::CommentAdded { body: c.text()? },
        (6, 1) => Kind::LabelAdded { label: c.text()? },
        (7, 1) => Kind::LabelRemoved { label: c.text()? },
        (8, 1) => Kind::AssigneeAdded { assignee: c.text()? },
        (9, 1) => Kind::AssigneeRemoved { assignee: c.text()? },
        (10, 1) => match c.uint()? {
            p @ 0..=4 => Kind::PrioritySet { priority: p as u8 },
            _ => return None,
        },
        (11, 1) => Kind::TypeSet { issue_type: c.text()? },
        (12, 1) => Kind::ParentSet {
            parent: c.option(|c| c.id().map(Id))?,
        },
        (13, 2) => Kind::LinkAdded {
            link: c.text()?,
            target: Id(c.id()?),
        },
        (14, 2) => Kind::LinkRemoved {
            link: c.text()?,
            target: Id(c.id()?),
        },
        _ => return None,
    };
    c.0.is_empty().then_some(Event {
        version,
        entity,
        actor,
        lamport,
        wall_ms,
        parents,
        kind,
    })
}

/// A WAL chunk, `[format, actor, [[body, signature]…]]`, when it uses only the canonical
/// subset and every event is of a known kind; `None` sends it to `wal`'s general decoder.
pub(super) fn chunk(bytes: &[u8], format: u64) -> Option<Vec<SignedEvent>> {
    let mut c = Cursor(bytes);
    if c.array()? != 3 || c.uint()? != format {
        return None;
    }
    c.take(2)?;
    let n = c.array()?;
    let mut out = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        if c.array()? != 2 {
            return None;
        }
        let body = c.take(2)?;
        let signature: [u8; 64] = c.take(2)?.try_into().ok()?;
        out.push(SignedEvent {
            id: super::id_of(body),
            event: decode(body)?,
            body: body.to_vec(),
            signature,
        });
    }
    c.0.is_empty().then_some(out)
}
