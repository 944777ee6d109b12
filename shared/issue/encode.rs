//! Hand-written encoders for what the index stores per issue: the state as CBOR (byte for byte
//! what serde and ciborium write, so either reads it) and the JSON fragment of its list row.

use std::collections::BTreeMap;

use super::{Element, IssueState, Reg, Stamp, StateValue};
use crate::event::State;
use crate::repo::format_time;

/// A CBOR head: major type and argument, in the shortest form.
fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn uint(out: &mut Vec<u8>, n: u64) {
    head(out, 0, n);
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

fn text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn array(out: &mut Vec<u8>, len: usize) {
    head(out, 4, len as u64);
}

fn map(out: &mut Vec<u8>, len: usize) {
    head(out, 5, len as u64);
}

const NULL: u8 = 0xf6;

fn option<T>(out: &mut Vec<u8>, v: Option<&T>, f: impl FnOnce(&mut Vec<u8>, &T)) {
    match v {
        Some(v) => f(out, v),
        None => out.push(NULL),
    }
}

fn stamp(out: &mut Vec<u8>, s: &Stamp) {
    map(out, 4);
    text(out, "lamport");
    uint(out, s.lamport);
    text(out, "wall_ms");
    uint(out, s.wall_ms);
    text(out, "actor");
    bytes(out, &s.actor);
    text(out, "id");
    bytes(out, &s.id);
}

fn reg<T>(out: &mut Vec<u8>, r: &Reg<T>, value: impl FnOnce(&mut Vec<u8>, &T)) {
    map(out, 2);
    text(out, "stamp");
    stamp(out, &r.stamp);
    text(out, "value");
    value(out, &r.value);
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Open => "open",
        State::Closed => "closed",
    }
}

fn set(out: &mut Vec<u8>, set: &BTreeMap<String, Element>) {
    map(out, set.len());
    for (k, e) in set {
        text(out, k);
        map(out, 2);
        text(out, "add");
        option(out, e.add.as_ref(), stamp);
        text(out, "remove");
        option(out, e.remove.as_ref(), stamp);
    }
}

impl IssueState {
    /// Appends the state's CBOR encoding to `out`: the bytes `ciborium::ser::into_writer` gives.
    pub fn encode(&self, out: &mut Vec<u8>) {
        map(out, 11);
        text(out, "id");
        bytes(out, &self.id);
        text(out, "created");
        option(out, self.created.as_ref(), |out, c| {
            map(out, 2);
            text(out, "author");
            bytes(out, &c.author);
            text(out, "created_ms");
            uint(out, c.created_ms);
        });
        text(out, "title");
        option(out, self.title.as_ref(), |out, r| reg(out, r, |out, v| text(out, v)));
        text(out, "body");
        option(out, self.body.as_ref(), |out, r| reg(out, r, |out, v| text(out, v)));
        text(out, "state");
        option(out, self.state.as_ref(), |out, r| {
            reg(out, r, |out, v: &StateValue| {
                map(out, 2);
                text(out, "state");
                text(out, state_name(v.state));
                text(out, "reason");
                option(out, v.reason.as_ref(), |out, s| text(out, s));
            })
        });
        text(out, "labels");
        set(out, &self.labels);
        text(out, "assignees");
        set(out, &self.assignees);
        text(out, "comments");
        array(out, self.comments.len());
        for c in &self.comments {
            map(out, 2);
            text(out, "stamp");
            stamp(out, &c.stamp);
            text(out, "body");
            text(out, &c.body);
        }
        text(out, "heads");
        array(out, self.heads.len());
        for h in &self.heads {
            bytes(out, &h.0);
        }
        text(out, "updated_ms");
        uint(out, self.updated_ms);
        text(out, "events");
        uint(out, self.events);
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
        out.extend_from_slice(b",\"state\":\"");
        out.extend_from_slice(state_name(self.state()).as_bytes());
        out.extend_from_slice(b"\",\"state_reason\":");
        match self.state.as_ref().and_then(|r| r.value.reason.as_deref()) {
            Some(reason) => json(out, reason),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"labels\":");
        names(out, &self.labels);
        out.extend_from_slice(b",\"assignees\":");
        names(out, &self.assignees);
        out.extend_from_slice(format!(",\"comments\":{}", self.comments.len()).as_bytes());
        let created_ms = self.created.as_ref().map_or(0, |c| c.created_ms);
        out.extend_from_slice(b",\"created_at\":\"");
        out.extend_from_slice(format_time(created_ms).as_bytes());
        out.extend_from_slice(b"\",\"updated_at\":\"");
        out.extend_from_slice(format_time(self.updated_ms).as_bytes());
        out.push(b'"');
    }
}
