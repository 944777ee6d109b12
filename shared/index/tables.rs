//! The secondary tables of one issue, derived from its state: the facts a query filters and
//! sorts on, its label, assignee and link keys, and its words for full-text search. Folding
//! writes the difference between an issue's entries before and after.

use super::*;
use crate::issue::{ALL_TYPES, Link};

/// `facts` values: state byte, priority, type (position in `ALL_TYPES`, 255 for another), flags
/// (1: has a parent, 2: has labels, 4: has assignees), comments (u32 BE), created_ms, updated_ms (u64 BE), author.
pub(super) const FACTS_LEN: usize = 56;
/// `edges` keys: issue ++ link byte ++ other issue.
pub(super) const EDGE_LEN: usize = 65;
/// Bytes of an issue id that a `words` posting keeps.
pub(super) const POSTING: usize = 8;

/// The link bytes of `edges`: each link as its holder stores it, and the inverse the other
/// issue sees.
pub const BLOCKED_BY: u8 = b'b';
/// The inverse of [`BLOCKED_BY`]: this issue blocks the other.
pub const BLOCKS: u8 = b'B';
/// Related to the other issue.
pub const RELATED: u8 = b'r';
/// The inverse of [`RELATED`].
pub const RELATED_FROM: u8 = b'R';
/// A duplicate of the other issue.
pub const DUPLICATE_OF: u8 = b'd';
/// The inverse of [`DUPLICATE_OF`]: the other issue duplicates this one.
pub const DUPLICATED_BY: u8 = b'D';
/// Found while working on the other issue.
pub const DISCOVERED_FROM: u8 = b'f';
/// The inverse of [`DISCOVERED_FROM`]: the other issue was found while working on this one.
pub const DISCOVERED: u8 = b'F';
/// The other issue is this one's parent.
pub const PARENT: u8 = b'p';
/// The inverse of [`PARENT`]: the other issue is this one's child.
pub const CHILD: u8 = b'c';

fn link_bytes(l: Link) -> (u8, u8) {
    match l {
        Link::BlockedBy => (BLOCKED_BY, BLOCKS),
        Link::Related => (RELATED, RELATED_FROM),
        Link::DuplicateOf => (DUPLICATE_OF, DUPLICATED_BY),
        Link::DiscoveredFrom => (DISCOVERED_FROM, DISCOVERED),
    }
}

pub(super) fn edge_key(a: &Id, link: u8, b: &Id) -> [u8; EDGE_LEN] {
    let mut k = [0; EDGE_LEN];
    k[..32].copy_from_slice(&a.0);
    k[32] = link;
    k[33..].copy_from_slice(&b.0);
    k
}

/// The facts of an issue, decoded.
#[derive(Clone, Copy, Debug)]
pub struct Facts {
    /// Open (not closed).
    pub open: bool,
    /// Priority 0 (most urgent) to 4.
    pub priority: u8,
    /// The type's position in [`ALL_TYPES`], 255 for another.
    pub type_code: u8,
    /// It has a parent.
    pub has_parent: bool,
    /// It carries a label.
    pub has_labels: bool,
    /// It is assigned to someone.
    pub has_assignees: bool,
    /// How many comments it has.
    pub comments: u32,
    /// When it was opened (milliseconds since the epoch; the original time for an import).
    pub created_ms: u64,
    /// When it last changed.
    pub updated_ms: u64,
    /// Its author's actor id.
    pub author: [u8; 32],
}

impl Facts {
    pub(super) fn decode(b: &[u8]) -> Option<Facts> {
        if b.len() != FACTS_LEN {
            return None;
        }
        let u64_at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Some(Facts {
            open: b[0] == state_byte(State::Open),
            priority: b[1],
            type_code: b[2],
            has_parent: b[3] & 1 != 0,
            has_labels: b[3] & 2 != 0,
            has_assignees: b[3] & 4 != 0,
            comments: u32::from_be_bytes(b[4..8].try_into().expect("4 bytes")),
            created_ms: u64_at(8),
            updated_ms: u64_at(16),
            author: b[24..56].try_into().expect("32 bytes"),
        })
    }
}

/// The position of a type in `ALL_TYPES`, or 255.
pub fn type_code(t: &str) -> u8 {
    ALL_TYPES.iter().position(|x| *x == t).map_or(255, |i| i as u8)
}

/// Everything an issue puts in the secondary tables.
#[derive(Default, PartialEq)]
pub(super) struct Secondary {
    pub facts: Vec<u8>,
    pub labels: Vec<String>,
    pub assigned: Vec<String>,
    pub edges: Vec<[u8; EDGE_LEN]>,
    /// Sorted, without repeats.
    pub words: Vec<String>,
    /// Where it was imported from.
    pub source: Option<String>,
}

impl Secondary {
    /// The entries of an issue whose creation event has arrived (others have none); its words
    /// only `with_words` (tokenising is the costly part, and most writes leave the text be).
    pub fn of(id: &Id, s: &IssueState, with_words: bool) -> Option<Secondary> {
        let created = s.created.as_ref()?;
        let mut facts = Vec::with_capacity(FACTS_LEN);
        facts.push(state_byte(s.state()));
        facts.push(s.priority());
        facts.push(type_code(s.issue_type()));
        let (labels, assigned) = (s.labels(), s.assignees());
        facts.push(
            u8::from(s.parent().is_some()) | u8::from(!labels.is_empty()) << 1 | u8::from(!assigned.is_empty()) << 2,
        );
        facts.extend_from_slice(&u32::try_from(s.comments.len()).unwrap_or(u32::MAX).to_be_bytes());
        facts.extend_from_slice(&s.created_ms().unwrap_or(created.created_ms).to_be_bytes());
        facts.extend_from_slice(&s.updated_ms.to_be_bytes());
        facts.extend_from_slice(&created.author);
        let mut edges = Vec::new();
        for (link, target) in s.links() {
            let (fwd, inv) = link_bytes(link);
            edges.push(edge_key(id, fwd, &target));
            edges.push(edge_key(&target, inv, id));
        }
        if let Some(p) = s.parent() {
            edges.push(edge_key(id, PARENT, &p));
            edges.push(edge_key(&p, CHILD, id));
        }
        edges.sort_unstable();
        edges.dedup();
        Some(Secondary {
            facts,
            labels,
            assigned,
            edges,
            words: if with_words { words_of(s) } else { Vec::new() },
            source: s.origin.as_ref().map(|o| o.value.source.clone()),
        })
    }
}

/// The sorted, distinct words of an issue's title, body and comments.
pub(super) fn words_of(s: &IssueState) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut buf = String::new();
    for t in text_parts(s) {
        crate::text::for_each_word(t, &mut buf, |w| {
            out.push(w.to_owned());
            true
        });
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The texts full-text search reads: title, body, then each comment.
pub fn text_parts(s: &IssueState) -> impl Iterator<Item = &str> {
    let title = s.title.as_ref().map(|r| r.value.as_str());
    let body = s.body.as_ref().map(|r| r.value.as_str());
    title
        .into_iter()
        .chain(body)
        .chain(s.comments.iter().map(|c| c.body.as_str()))
}

/// Whether two states of an issue have the same text (so the same words). Comments are only
/// ever added, but for a commit's note, which a note of the same commit with a lower stamp
/// replaces: the notes then differ.
pub(super) fn same_text(a: &IssueState, b: &IssueState) -> bool {
    a.title == b.title && a.body == b.body && a.comments.len() == b.comments.len() && a.commits == b.commits
}

/// The keys in `new` that are not in `old` (both sorted).
pub(super) fn added<'a, T: Ord>(old: &[T], new: &'a [T]) -> impl Iterator<Item = &'a T> {
    new.iter().filter(move |k| old.binary_search(k).is_err())
}

/// Appends the key of a name table (`labels`, `assigned`): name ++ 0 ++ issue id.
pub(super) fn name_key(name: &str, id: &Id, out: &mut Vec<u8>) {
    write_label_key(name, id, out)
}
