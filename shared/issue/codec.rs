//! How the index stores an issue's state, by hand in canonical CBOR, and the JSON fragment of
//! its list row. Stamps repeat (one event sets the title, body, state and first labels) and so
//! do actors, so each is written once in a table and referred to by position:
//!
//! `[id, [actor…], [[lamport, wall_ms, actor#, event id]…], created, title, body, state,
//!   labels, assignees, [[stamp#, body]…], [head…], updated_ms, events, priority, type,
//!   parent, links, origin, commits]`, a comment being `[stamp#, body, null | origin]` and an origin
//! `[source, null | url, author, null | email, null | author id, created_ms]`
//!
//! with `created = null | [actor#, created_ms]`, `title`, `body = null | [stamp#, text]`,
//! `state = null | [stamp#, 0 open | 1 closed, null | reason]`, `priority = null | [stamp#, n]`,
//! `type = null | [stamp#, text]`, `parent = null | [stamp#, null | id]` and each set
//! `[[name, null | add stamp#, null | remove stamp#]…]`, and `commits = [[commit, stamp#, 0 | 1
//! closes]…]`. Change it, bump `SCHEMA_VERSION`.

use std::collections::BTreeMap;

use super::{Comment, CommitNote, Created, Element, IssueState, Reg, Stamp, StateValue};
use crate::cbor::{self, Cursor};
use crate::event::{Id, IdMap, Origin, State};
use crate::repo::write_time;

/// The stamp and actor tables of one state, in first-use order.
#[derive(Default)]
struct Tables<'a> {
    stamps: Vec<&'a Stamp>,
    stamp_at: IdMap<u64>,
    actors: Vec<&'a [u8; 32]>,
    actor_at: IdMap<u64>,
}

impl<'a> Tables<'a> {
    fn actor(&mut self, a: &'a [u8; 32]) {
        let next = self.actors.len() as u64;
        if *self.actor_at.entry(*a).or_insert(next) == next {
            self.actors.push(a);
        }
    }

    fn stamp(&mut self, s: &'a Stamp) {
        let next = self.stamps.len() as u64;
        if *self.stamp_at.entry(s.id).or_insert(next) == next {
            self.stamps.push(s);
            self.actor(&s.actor);
        }
    }
}

fn write_origin(out: &mut Vec<u8>, o: &Origin) {
    let opt = |out: &mut Vec<u8>, s: &Option<String>| cbor::option(out, s.as_ref(), |out, s| cbor::text(out, s));
    cbor::array(out, 6);
    cbor::text(out, &o.source);
    opt(out, &o.url);
    cbor::text(out, &o.author);
    opt(out, &o.author_email);
    opt(out, &o.author_id);
    cbor::uint(out, o.created_ms);
}

fn read_origin(c: &mut Cursor<'_>) -> Option<Origin> {
    (c.array()? == 6).then_some(())?;
    Some(Origin {
        source: c.text()?,
        url: c.option(Cursor::text)?,
        author: c.text()?,
        author_email: c.option(Cursor::text)?,
        author_id: c.option(Cursor::text)?,
        created_ms: c.uint()?,
    })
}

impl IssueState {
    /// Appends the stored form (see the module's documentation) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut t = Tables::default();
        if let Some(c) = &self.created {
            t.actor(&c.author);
        }
        let regs = [
            self.title.as_ref().map(|r| &r.stamp),
            self.body.as_ref().map(|r| &r.stamp),
        ];
        for s in regs
            .into_iter()
            .chain([self.state.as_ref().map(|r| &r.stamp)])
            .flatten()
        {
            t.stamp(s);
        }
        for s in [
            self.priority.as_ref().map(|r| &r.stamp),
            self.issue_type.as_ref().map(|r| &r.stamp),
            self.parent.as_ref().map(|r| &r.stamp),
        ]
        .into_iter()
        .flatten()
        {
            t.stamp(s);
        }
        for e in self
            .labels
            .values()
            .chain(self.assignees.values())
            .chain(self.links.values())
        {
            for s in [&e.add, &e.remove].into_iter().flatten() {
                t.stamp(s);
            }
        }
        for c in &self.comments {
            t.stamp(&c.stamp);
        }
        if let Some(r) = &self.origin {
            t.stamp(&r.stamp);
        }
        for n in self.commits.values() {
            t.stamp(&n.stamp);
        }
        let stamp = |s: &Stamp| t.stamp_at[&s.id];
        cbor::array(out, 19);
        cbor::bytes(out, &self.id);
        cbor::array(out, t.actors.len());
        for a in &t.actors {
            cbor::bytes(out, *a);
        }
        cbor::array(out, t.stamps.len());
        for s in &t.stamps {
            cbor::array(out, 4);
            cbor::uint(out, s.lamport);
            cbor::uint(out, s.wall_ms);
            cbor::uint(out, t.actor_at[&s.actor]);
            cbor::bytes(out, &s.id);
        }
        cbor::option(out, self.created.as_ref(), |out, c| {
            cbor::array(out, 2);
            cbor::uint(out, t.actor_at[&c.author]);
            cbor::uint(out, c.created_ms);
        });
        for r in [&self.title, &self.body] {
            cbor::option(out, r.as_ref(), |out, r| {
                cbor::array(out, 2);
                cbor::uint(out, stamp(&r.stamp));
                cbor::text(out, &r.value);
            });
        }
        cbor::option(out, self.state.as_ref(), |out, r| {
            cbor::array(out, 3);
            cbor::uint(out, stamp(&r.stamp));
            cbor::uint(out, u64::from(r.value.state == State::Closed));
            cbor::option(out, r.value.reason.as_ref(), |out, s| cbor::text(out, s));
        });
        let set = |out: &mut Vec<u8>, set: &BTreeMap<String, Element>| {
            cbor::array(out, set.len());
            for (name, e) in set {
                cbor::array(out, 3);
                cbor::text(out, name);
                for s in [&e.add, &e.remove] {
                    cbor::option(out, s.as_ref(), |out, s| cbor::uint(out, stamp(s)));
                }
            }
        };
        set(out, &self.labels);
        set(out, &self.assignees);
        cbor::array(out, self.comments.len());
        for c in &self.comments {
            cbor::array(out, 3);
            cbor::uint(out, stamp(&c.stamp));
            cbor::text(out, &c.body);
            cbor::option(out, c.origin.as_ref(), write_origin);
        }
        cbor::array(out, self.heads.len());
        for h in &self.heads {
            cbor::bytes(out, &h.0);
        }
        cbor::uint(out, self.updated_ms);
        cbor::uint(out, self.events);
        cbor::option(out, self.priority.as_ref(), |out, r| {
            cbor::array(out, 2);
            cbor::uint(out, stamp(&r.stamp));
            cbor::uint(out, u64::from(r.value));
        });
        cbor::option(out, self.issue_type.as_ref(), |out, r| {
            cbor::array(out, 2);
            cbor::uint(out, stamp(&r.stamp));
            cbor::text(out, &r.value);
        });
        cbor::option(out, self.parent.as_ref(), |out, r| {
            cbor::array(out, 2);
            cbor::uint(out, stamp(&r.stamp));
            cbor::option(out, r.value.as_ref(), |out, p| cbor::bytes(out, &p.0));
        });
        set(out, &self.links);
        cbor::option(out, self.origin.as_ref(), |out, r| {
            cbor::array(out, 2);
            cbor::uint(out, stamp(&r.stamp));
            write_origin(out, &r.value);
        });
        cbor::array(out, self.commits.len());
        for (commit, n) in &self.commits {
            cbor::array(out, 3);
            cbor::text(out, commit);
            cbor::uint(out, stamp(&n.stamp));
            cbor::uint(out, u64::from(n.closes));
        }
    }

    /// The title, body and comments of a stored state, borrowed from its bytes, without
    /// decoding the rest (full-text search reads thousands of them). `None` for anything
    /// `encode` did not write.
    pub fn stored_texts(bytes: &[u8]) -> Option<Vec<&str>> {
        let mut c = Cursor(bytes);
        (c.array()? == 19).then_some(())?;
        c.take(2)?;
        for _ in 0..c.array()? {
            c.take(2)?;
        }
        for _ in 0..c.array()? {
            (c.array()? == 4).then_some(())?;
            c.uint()?;
            c.uint()?;
            c.uint()?;
            c.take(2)?;
        }
        c.option(|c| {
            (c.array()? == 2).then_some(())?;
            c.uint().and(c.uint())
        })?;
        let mut out = Vec::new();
        fn text<'a>(c: &mut Cursor<'a>) -> Option<&'a str> {
            std::str::from_utf8(c.take(3)?).ok()
        }
        for _ in 0..2 {
            if let Some(t) = c.option(|c| {
                (c.array()? == 2).then_some(())?;
                c.uint()?;
                text(c)
            })? {
                out.push(t);
            }
        }
        c.option(|c| {
            (c.array()? == 3).then_some(())?;
            c.uint()?;
            c.uint()?;
            c.option(|c| c.take(3))
        })?;
        for _ in 0..2 {
            for _ in 0..c.array()? {
                (c.array()? == 3).then_some(())?;
                c.take(3)?;
                c.option(Cursor::uint)?;
                c.option(Cursor::uint)?;
            }
        }
        for _ in 0..c.array()? {
            (c.array()? == 3).then_some(())?;
            c.uint()?;
            out.push(text(&mut c)?);
            c.option(read_origin)?;
        }
        Some(out)
    }

    /// Reads what `encode` wrote; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<IssueState> {
        let mut c = Cursor(bytes);
        if c.array()? != 19 {
            return None;
        }
        let id = c.id()?;
        let actors = (0..c.array()?).map(|_| c.id()).collect::<Option<Vec<_>>>()?;
        let actor = |c: &mut Cursor| actors.get(usize::try_from(c.uint()?).ok()?).copied();
        let mut stamps = Vec::new();
        for _ in 0..c.array()? {
            if c.array()? != 4 {
                return None;
            }
            let (lamport, wall_ms, actor, id) = (c.uint()?, c.uint()?, actor(&mut c)?, c.id()?);
            stamps.push(Stamp {
                lamport,
                wall_ms,
                actor,
                id,
            });
        }
        let stamp = |c: &mut Cursor| stamps.get(usize::try_from(c.uint()?).ok()?).copied();
        let created = c.option(|c| {
            (c.array()? == 2).then_some(())?;
            Some(Created {
                author: actor(c)?,
                created_ms: c.uint()?,
            })
        })?;
        let text_reg = |c: &mut Cursor| {
            c.option(|c| {
                (c.array()? == 2).then_some(())?;
                Some(Reg {
                    stamp: stamp(c)?,
                    value: c.text()?,
                })
            })
        };
        let (title, body) = (text_reg(&mut c)?, text_reg(&mut c)?);
        let state = c.option(|c| {
            (c.array()? == 3).then_some(())?;
            let stamp = stamp(c)?;
            let state = match c.uint()? {
                0 => State::Open,
                1 => State::Closed,
                _ => return None,
            };
            let reason = c.option(Cursor::text)?;
            Some(Reg {
                stamp,
                value: StateValue { state, reason },
            })
        })?;
        let set = |c: &mut Cursor| {
            let mut set = BTreeMap::new();
            for _ in 0..c.array()? {
                (c.array()? == 3).then_some(())?;
                let name = c.text()?;
                let (add, remove) = (c.option(stamp)?, c.option(stamp)?);
                set.insert(name, Element { add, remove });
            }
            Some(set)
        };
        let (labels, assignees) = (set(&mut c)?, set(&mut c)?);
        let mut comments = Vec::new();
        for _ in 0..c.array()? {
            (c.array()? == 3).then_some(())?;
            comments.push(Comment {
                stamp: stamp(&mut c)?,
                body: c.text()?,
                origin: c.option(read_origin)?,
            });
        }
        let heads = (0..c.array()?).map(|_| c.id().map(Id)).collect::<Option<Vec<_>>>()?;
        let (updated_ms, events) = (c.uint()?, c.uint()?);
        let priority = c.option(|c| {
            (c.array()? == 2).then_some(())?;
            let stamp = stamp(c)?;
            let value = u8::try_from(c.uint()?).ok().filter(|p| *p <= 4)?;
            Some(Reg { stamp, value })
        })?;
        let issue_type = text_reg(&mut c)?;
        let parent = c.option(|c| {
            (c.array()? == 2).then_some(())?;
            Some(Reg {
                stamp: stamp(c)?,
                value: c.option(|c| c.id().map(Id))?,
            })
        })?;
        let links = set(&mut c)?;
        let origin = c.option(|c| {
            (c.array()? == 2).then_some(())?;
            Some(Reg {
                stamp: stamp(c)?,
                value: read_origin(c)?,
            })
        })?;
        let mut commits = BTreeMap::new();
        for _ in 0..c.array()? {
            (c.array()? == 3).then_some(())?;
            let commit = c.text()?;
            let stamp = stamp(&mut c)?;
            let closes = match c.uint()? {
                0 => false,
                1 => true,
                _ => return None,
            };
            commits.insert(commit, CommitNote { stamp, closes });
        }
        c.0.is_empty().then_some(IssueState {
            id,
            created,
            title,
            body,
            state,
            labels,
            assignees,
            comments,
            heads,
            updated_ms,
            events,
            priority,
            issue_type,
            parent,
            links,
            origin,
            commits,
        })
    }

    /// The JSON fields of a list row other than `id`, `short_id` and `author`, which the index
    /// adds when it prints (they depend on other issues and on actor records): the members of
    /// a `RowFields` object without its braces.
    pub fn row_fragment(&self, out: &mut Vec<u8>) {
        let json = |out: &mut Vec<u8>, s: &str| serde_json::to_writer(out, s).expect("writing to a Vec cannot fail");
        let names = |out: &mut Vec<u8>, set: &BTreeMap<String, Element>| {
            out.push(b'[');
            for (i, (name, _)) in set.iter().filter(|(_, e)| e.present()).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json(out, name);
            }
            out.push(b']');
        };
        out.extend_from_slice(b"\"title\":");
        json(out, self.title.as_ref().map_or("", |r| r.value.as_str()));
        out.extend_from_slice(b",\"state\":");
        serde_json::to_writer(&mut *out, &self.state()).expect("writing to a Vec cannot fail");
        out.extend_from_slice(b",\"state_reason\":");
        match self.state_reg().and_then(|r| r.value.reason) {
            Some(reason) => json(out, &reason),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"labels\":");
        names(out, &self.labels);
        out.extend_from_slice(b",\"assignees\":");
        names(out, &self.assignees);
        out.extend_from_slice(b",\"comments\":");
        serde_json::to_writer(&mut *out, &self.comments.len()).expect("writing to a Vec cannot fail");
        let created_ms = self.created_ms().unwrap_or(0);
        out.extend_from_slice(b",\"created_at\":\"");
        write_time(created_ms, out);
        out.extend_from_slice(b"\",\"updated_at\":\"");
        write_time(self.updated_ms, out);
        out.extend_from_slice(b"\",\"priority\":");
        serde_json::to_writer(&mut *out, &self.priority()).expect("writing to a Vec cannot fail");
        out.extend_from_slice(b",\"type\":");
        json(out, self.issue_type());
        if let Some(o) = &self.origin {
            out.extend_from_slice(b",\"source\":");
            json(out, &o.value.source);
        }
        out.extend_from_slice(b",\"parent\":");
        match self.parent() {
            Some(p) => {
                let mut hex = [0u8; 64];
                crate::hex::encode_to(&p.0, &mut hex);
                out.push(b'"');
                out.extend_from_slice(&hex);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
    }
}
