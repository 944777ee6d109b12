//! Issues: the projection of issue events (merge rules) and the views commands print.
//! `IssueState::apply` is the only place the merge rules live; it is order-independent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{ActorId, Id, Kind, Origin, SignedEvent, State};
use crate::repo::format_time;

mod codec;

/// Orders concurrent writes: (Lamport clock, wall time, actor, event id), compared in that order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    /// The writer's Lamport clock.
    pub lamport: u64,
    /// The writer's wall time (milliseconds since the epoch).
    pub wall_ms: u64,
    /// The writer's actor id.
    pub actor: [u8; 32],
    /// The event's id.
    pub id: [u8; 32],
}

impl Stamp {
    /// The stamp of `ev`.
    pub fn of(ev: &SignedEvent) -> Stamp {
        Stamp {
            lamport: ev.event.lamport,
            wall_ms: ev.event.wall_ms,
            actor: ev.event.actor.0,
            id: ev.id.0,
        }
    }

    fn clock(&self) -> (u64, u64) {
        (self.lamport, self.wall_ms)
    }
}

/// A last-writer-wins register.
#[derive(Clone, Debug, PartialEq)]
pub struct Reg<T> {
    /// The write that set it.
    pub stamp: Stamp,
    /// The value it set.
    pub value: T,
}

fn set_reg<T>(reg: &mut Option<Reg<T>>, stamp: Stamp, value: T) {
    if reg.as_ref().is_none_or(|r| stamp > r.stamp) {
        *reg = Some(Reg { stamp, value });
    }
}

/// One element of a set: the latest add and the latest remove it has seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Element {
    /// The latest add.
    pub add: Option<Stamp>,
    /// The latest remove.
    pub remove: Option<Stamp>,
}

impl Element {
    /// Present when its latest add is not older than its latest remove by (Lamport, wall time):
    /// an add and a remove with the same clock are concurrent, and the add wins.
    pub fn present(&self) -> bool {
        match (self.add, self.remove) {
            (Some(a), Some(r)) => a.clock() >= r.clock(),
            (Some(_), None) => true,
            _ => false,
        }
    }
}

fn set_op(set: &mut BTreeMap<String, Element>, key: &str, stamp: Stamp, add: bool) {
    let el = set.entry(key.to_owned()).or_default();
    let slot = if add { &mut el.add } else { &mut el.remove };
    if slot.is_none_or(|s| stamp > s) {
        *slot = Some(stamp);
    }
}

fn members(set: &BTreeMap<String, Element>) -> Vec<String> {
    set.iter()
        .filter(|(_, e)| e.present())
        .map(|(k, _)| k.clone())
        .collect()
}

/// A comment of an issue.
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    /// The event that wrote it.
    pub stamp: Stamp,
    /// Its text (markdown).
    pub body: String,
    /// Who wrote it, and when, in the tracker it was imported from.
    pub origin: Option<Origin>,
}

/// The first note of a commit whose trailer named the issue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CommitNote {
    /// The event that wrote it.
    pub stamp: Stamp,
    /// `Fixes:`/`Closes:`: the note closes the issue, as a `state_set` at its stamp would.
    pub closes: bool,
}

/// The comment a commit's note shows as.
pub fn commit_comment(commit: &str, subject: &str, closes: bool) -> String {
    let what = if closes { "Closed" } else { "Referenced" };
    format!("{what} by commit {commit}: {subject}")
}

/// The opening of an issue: who and when.
#[derive(Clone, Debug, PartialEq)]
pub struct Created {
    /// The author's actor id.
    pub author: [u8; 32],
    /// When it was opened (milliseconds since the epoch).
    pub created_ms: u64,
}

/// An issue's state, with why it was closed.
#[derive(Clone, Debug, PartialEq)]
pub struct StateValue {
    /// Open or closed.
    pub state: State,
    /// Why it was closed (`completed`, `not_planned`), for a close.
    pub reason: Option<String>,
}

/// Everything known about one issue. A pure function of the set of its events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IssueState {
    /// The issue's id (its creation event's).
    pub id: [u8; 32],
    /// `None` until the creation event has arrived (events can arrive in any order).
    pub created: Option<Created>,
    /// The title.
    pub title: Option<Reg<String>>,
    /// The body.
    pub body: Option<Reg<String>>,
    /// Open or closed, as `state_set` events say (see `state_reg` for commits that close it).
    pub state: Option<Reg<StateValue>>,
    /// Labels, each with its latest add and remove.
    pub labels: BTreeMap<String, Element>,
    /// Assignees, each with its latest add and remove.
    pub assignees: BTreeMap<String, Element>,
    /// Sorted by stamp; append-only.
    pub comments: Vec<Comment>,
    /// The priority, 0 (highest) to 4.
    pub priority: Option<Reg<u8>>,
    /// The type.
    pub issue_type: Option<Reg<String>>,
    /// The parent (an epic), or a register saying it has none.
    pub parent: Option<Reg<Option<Id>>>,
    /// Links from this issue, keyed `<link>:<target id in hex>` (see `link_key`).
    pub links: BTreeMap<String, Element>,
    /// Where it was imported from, if it was.
    pub origin: Option<Reg<Origin>>,
    /// The commits whose trailers named this issue (`issue.commit_referenced`), by the commit's
    /// key (which a rebase keeps). However many actors saw a commit land, and however often it
    /// was rewritten, only its first note (the lowest stamp) counts: it is the one comment shown,
    /// and the one close.
    pub commits: BTreeMap<String, CommitNote>,
    /// The entity's events that no other known event of the entity names as a parent, sorted.
    /// (A parent in another entity is ignored, so that the heads never depend on the order
    /// events arrive in.)
    pub heads: Vec<Id>,
    /// The latest wall time of its events.
    pub updated_ms: u64,
    /// How many events it holds.
    pub events: u64,
}

impl IssueState {
    /// An issue with no event yet.
    pub fn new(id: Id) -> IssueState {
        IssueState {
            id: id.0,
            ..Default::default()
        }
    }

    /// Folds one event in. `parented` says whether some known event of the same entity names
    /// this one as a parent.
    /// The caller applies each event once; order does not matter.
    pub fn apply(&mut self, ev: &SignedEvent, parented: bool) {
        let stamp = Stamp::of(ev);
        self.events += 1;
        for p in &ev.event.parents {
            if let Ok(i) = self.heads.binary_search(p) {
                self.heads.remove(i);
            }
        }
        if !parented && let Err(i) = self.heads.binary_search(&ev.id) {
            self.heads.insert(i, ev.id);
        }
        if matches!(ev.event.kind, Kind::Unknown { .. }) {
            return;
        }
        self.updated_ms = self.updated_ms.max(ev.event.wall_ms);
        match &ev.event.kind {
            Kind::IssueCreated { title, body, labels } => {
                self.created = Some(Created {
                    author: ev.event.actor.0,
                    created_ms: ev.event.wall_ms,
                });
                set_reg(&mut self.title, stamp, title.clone());
                set_reg(&mut self.body, stamp, body.clone());
                set_reg(
                    &mut self.state,
                    stamp,
                    StateValue {
                        state: State::Open,
                        reason: None,
                    },
                );
                for l in labels {
                    set_op(&mut self.labels, l, stamp, true);
                }
            }
            Kind::TitleSet { title } => set_reg(&mut self.title, stamp, title.clone()),
            Kind::BodySet { body } => set_reg(&mut self.body, stamp, body.clone()),
            Kind::StateSet { state, reason } => set_reg(
                &mut self.state,
                stamp,
                StateValue {
                    state: *state,
                    reason: reason.clone(),
                },
            ),
            Kind::CommentAdded { body } => self.add_comment(stamp, body, None),
            Kind::CommentImported { body, origin } => self.add_comment(stamp, body, Some(origin.clone())),
            Kind::Imported { origin } => set_reg(&mut self.origin, stamp, origin.clone()),
            Kind::LabelAdded { label } => set_op(&mut self.labels, label, stamp, true),
            Kind::LabelRemoved { label } => set_op(&mut self.labels, label, stamp, false),
            Kind::AssigneeAdded { assignee } => set_op(&mut self.assignees, assignee, stamp, true),
            Kind::AssigneeRemoved { assignee } => set_op(&mut self.assignees, assignee, stamp, false),
            Kind::PrioritySet { priority } => set_reg(&mut self.priority, stamp, *priority),
            Kind::TypeSet { issue_type } => set_reg(&mut self.issue_type, stamp, issue_type.clone()),
            Kind::ParentSet { parent } => set_reg(&mut self.parent, stamp, *parent),
            Kind::LinkAdded { link, target } => set_op(&mut self.links, &link_key(link, target), stamp, true),
            Kind::LinkRemoved { link, target } => set_op(&mut self.links, &link_key(link, target), stamp, false),
            Kind::CommitReferenced {
                commit,
                subject,
                closes,
                key,
            } => {
                let earlier = self.commits.get(key).map(|n| n.stamp);
                if earlier.is_none_or(|e| stamp < e) {
                    if let Some(e) = earlier
                        && let Ok(i) = self.comments.binary_search_by(|x| x.stamp.cmp(&e))
                    {
                        self.comments.remove(i);
                    }
                    self.commits.insert(key.clone(), CommitNote { stamp, closes: *closes });
                    self.add_comment(stamp, &commit_comment(commit, subject, *closes), None);
                }
            }
            Kind::Unknown { .. } => unreachable!("skipped above"),
        }
    }

    fn add_comment(&mut self, stamp: Stamp, body: &str, origin: Option<Origin>) {
        let c = Comment {
            stamp,
            body: body.to_owned(),
            origin,
        };
        if let Err(i) = self.comments.binary_search_by(|x| x.stamp.cmp(&stamp)) {
            self.comments.insert(i, c);
        }
    }

    /// When it was opened: in the tracker it came from, for an imported issue.
    pub fn created_ms(&self) -> Option<u64> {
        match (&self.origin, &self.created) {
            (Some(o), Some(_)) => Some(o.value.created_ms),
            (_, c) => c.as_ref().map(|c| c.created_ms),
        }
    }

    /// Open or closed, commits that close it counted.
    pub fn state(&self) -> State {
        self.state_reg().map_or(State::Open, |r| r.value.state)
    }

    /// The state and why, with its stamp: the latest of the `state_set` register and the closes
    /// of the commits that name the issue (each commit's first note).
    pub fn state_reg(&self) -> Option<Reg<StateValue>> {
        let by_commit = self.commits.values().filter(|n| n.closes).map(|n| n.stamp).max();
        match (&self.state, by_commit) {
            (Some(r), Some(c)) if r.stamp > c => Some(r.clone()),
            (_, Some(c)) => Some(Reg {
                stamp: c,
                value: StateValue {
                    state: State::Closed,
                    reason: Some("completed".into()),
                },
            }),
            (r, None) => r.clone(),
        }
    }

    /// Whether a commit's trailer has acted on this issue already: a note of it (or of a rewrite
    /// of it, by its key), or (written by an earlier version) a comment naming it.
    pub fn names_commit(&self, commit: &str, key: &str) -> bool {
        self.commits.contains_key(key) || self.comments.iter().any(|m| m.body.contains(commit))
    }

    /// The labels it carries now, sorted.
    pub fn labels(&self) -> Vec<String> {
        members(&self.labels)
    }

    /// Its assignees now, sorted.
    pub fn assignees(&self) -> Vec<String> {
        members(&self.assignees)
    }

    /// 0 (highest) to 4; 2 unless set.
    pub fn priority(&self) -> u8 {
        self.priority.as_ref().map_or(DEFAULT_PRIORITY, |r| r.value)
    }

    /// The type; `task` unless set.
    pub fn issue_type(&self) -> &str {
        self.issue_type.as_ref().map_or(DEFAULT_TYPE, |r| r.value.as_str())
    }

    /// Its parent now, if it has one.
    pub fn parent(&self) -> Option<Id> {
        self.parent.as_ref().and_then(|r| r.value)
    }

    /// The links this issue holds now, as (link, target), sorted; names this version does not
    /// know are left out.
    pub fn links(&self) -> Vec<(Link, Id)> {
        self.links
            .iter()
            .filter(|(_, e)| e.present())
            .filter_map(|(k, _)| parse_link_key(k))
            .collect()
    }
}

/// The priority of an issue that never set one.
pub const DEFAULT_PRIORITY: u8 = 2;
/// The type of an issue that never set one.
pub const DEFAULT_TYPE: &str = "task";
/// The types `--help` offers, in its order.
pub const TYPES: [&str; 5] = ["bug", "feature", "task", "epic", "chore"];
/// Every type the model knows: `TYPES`, then the kinds other trackers hold (beads' among them),
/// kept so that an import does not turn a message or an agent into a task. The index stores a
/// type as its position here, so new kinds go at the end.
pub const ALL_TYPES: [&str; 18] = [
    "bug",
    "feature",
    "task",
    "epic",
    "chore",
    "decision",
    "spike",
    "story",
    "milestone",
    "message",
    "event",
    "gate",
    "molecule",
    "agent",
    "role",
    "rig",
    "convoy",
    "merge-request",
];
/// Labels that keep an open issue out of `ready`, as another tracker's states that mean "not
/// now" do (beads' in_progress, blocked, deferred, hooked and pinned statuses, which an import
/// keeps as these labels), and the `pinned` and `ephemeral` flags. A query that names one of
/// them (`ready -S label:status:hooked`) lifts it.
pub const HELD_LABELS: [&str; 7] = [
    "status:in_progress",
    "status:blocked",
    "status:deferred",
    "status:hooked",
    "status:pinned",
    "pinned",
    EPHEMERAL,
];
/// The label of an ephemeral issue (beads' wisps): out of `ready` unless `--include-ephemeral`.
pub const EPHEMERAL: &str = "ephemeral";
/// Types that are not work: `ready` leaves them out unless its query names a type (beads'
/// ready queue does the same).
pub const NOT_WORK: [&str; 9] = [
    "message",
    "event",
    "gate",
    "molecule",
    "agent",
    "role",
    "rig",
    "convoy",
    "merge-request",
];

/// A link an issue holds to another, as stored: each kind of link lives on one side (the
/// blocked issue holds `blocked-by`; `related` lives on the issue whose id sorts first), and
/// the other side sees the inverse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Link {
    /// It waits for the target.
    BlockedBy,
    /// Related to the target.
    Related,
    /// A duplicate of the target.
    DuplicateOf,
    /// Found while working on the target.
    DiscoveredFrom,
}

impl Link {
    /// Every link an event can hold.
    pub const ALL: [Link; 4] = [Link::BlockedBy, Link::Related, Link::DuplicateOf, Link::DiscoveredFrom];

    /// The name in events.
    pub fn name(self) -> &'static str {
        match self {
            Link::BlockedBy => "blocked-by",
            Link::Related => "related",
            Link::DuplicateOf => "duplicate-of",
            Link::DiscoveredFrom => "discovered-from",
        }
    }

    /// The link named `s` in an event; `None` for a name this version does not know.
    pub fn from_name(s: &str) -> Option<Link> {
        Link::ALL.into_iter().find(|l| l.name() == s)
    }
}

/// The key of a link in `IssueState::links`.
pub fn link_key(link: &str, target: &Id) -> String {
    format!("{link}:{}", target.to_hex())
}

fn parse_link_key(k: &str) -> Option<(Link, Id)> {
    let (link, target) = k.rsplit_once(':')?;
    Some((Link::from_name(link)?, Id::from_hex(target)?))
}

/// A list row's fields, as `IssueState::row_fragment` writes them.
#[derive(Serialize, Deserialize)]
pub struct RowFields {
    /// The title.
    pub title: String,
    /// Open or closed.
    pub state: State,
    /// Why it was closed.
    pub state_reason: Option<String>,
    /// Its labels, sorted.
    pub labels: Vec<String>,
    /// Its assignees, sorted.
    pub assignees: Vec<String>,
    /// How many comments it has.
    pub comments: usize,
    /// When it was opened (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Priority 0 (highest) to 4.
    pub priority: u8,
    /// Its type.
    #[serde(rename = "type")]
    pub issue_type: String,
    /// Where it was imported from (`github:owner/name#12`, …), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Its parent's full id, if it has one.
    pub parent: Option<String>,
}

/// Who wrote something, as printed.
#[derive(Clone, Debug, Serialize)]
pub struct AuthorView {
    /// The actor's id in hex; for an imported author, empty or the original actor's.
    pub id: String,
    /// The name, from the actor's record or the source.
    pub name: Option<String>,
    /// The email, if known.
    pub email: Option<String>,
}

impl AuthorView {
    /// The name, else the start of the id.
    pub fn display(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.id[..12].to_owned())
    }
}

/// A comment as `show` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct CommentView {
    /// The event's id in hex.
    pub id: String,
    /// Who wrote it.
    pub author: AuthorView,
    /// When (RFC 3339; the original time for an imported one).
    pub created_at: String,
    /// Its text (markdown).
    pub body: String,
    /// For an imported comment, its id in the source (`beads:bd-1/comment/7`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// `git issue show --json`: the list fields plus body and comments.
#[derive(Clone, Debug, Serialize)]
pub struct IssueView {
    /// The issue's full id in hex.
    pub id: String,
    /// Its shortest unique prefix.
    pub short_id: String,
    /// The title.
    pub title: String,
    /// Open or closed.
    pub state: State,
    /// Why it was closed.
    pub state_reason: Option<String>,
    /// Its labels, sorted.
    pub labels: Vec<String>,
    /// Its assignees, sorted.
    pub assignees: Vec<String>,
    /// Who opened it.
    pub author: AuthorView,
    /// When it was opened (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// The body (markdown).
    pub body: String,
    /// Its comments, oldest first.
    pub comments: Vec<CommentView>,
    /// Priority 0 (highest) to 4.
    pub priority: u8,
    /// Its type.
    #[serde(rename = "type")]
    pub issue_type: String,
    /// Its parent's full id, if it has one.
    pub parent: Option<String>,
    /// Where it was imported from, if it was: source id and URL.
    pub source: Option<String>,
    /// Its page in the source.
    pub url: Option<String>,
}

/// How an imported author is shown: their name in the source, and their actor id when the
/// source was another clone of this suite.
fn origin_author(o: &Origin) -> AuthorView {
    AuthorView {
        id: o.author_id.clone().unwrap_or_default(),
        name: Some(o.author.clone()),
        email: o.author_email.clone(),
    }
}

impl IssueView {
    /// The view of `s`, with `short_id` and authors named by `author`.
    pub fn new(s: &IssueState, short_id: String, author: &dyn Fn(&ActorId) -> AuthorView) -> IssueView {
        let created = s.created.as_ref();
        IssueView {
            id: Id(s.id).to_hex(),
            short_id,
            title: s.title.as_ref().map(|r| r.value.clone()).unwrap_or_default(),
            state: s.state(),
            state_reason: s.state_reg().and_then(|r| r.value.reason),
            labels: s.labels(),
            assignees: s.assignees(),
            author: match &s.origin {
                Some(o) => origin_author(&o.value),
                None => author(&ActorId(created.map_or([0; 32], |c| c.author))),
            },
            created_at: format_time(s.created_ms().unwrap_or(0)),
            updated_at: format_time(s.updated_ms),
            body: s.body.as_ref().map(|r| r.value.clone()).unwrap_or_default(),
            comments: s
                .comments
                .iter()
                .map(|c| CommentView {
                    id: Id(c.stamp.id).to_hex(),
                    author: c
                        .origin
                        .as_ref()
                        .map_or_else(|| author(&ActorId(c.stamp.actor)), origin_author),
                    created_at: format_time(c.origin.as_ref().map_or(c.stamp.wall_ms, |o| o.created_ms)),
                    body: c.body.clone(),
                    source: c.origin.as_ref().map(|o| o.source.clone()),
                })
                .collect(),
            priority: s.priority(),
            issue_type: s.issue_type().to_owned(),
            parent: s.parent().map(|p| p.to_hex()),
            source: s.origin.as_ref().map(|o| o.value.source.clone()),
            url: s.origin.as_ref().and_then(|o| o.value.url.clone()),
        }
    }
}

/// A link as the command line names it, from the first issue's side: `A blocks B`,
/// `A parent B` (B is A's parent), `A child B`, `A related B`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkSpec {
    /// The first issue blocks the second.
    Blocks,
    /// The first issue waits for the second.
    BlockedBy,
    /// The second issue is the first's parent.
    Parent,
    /// The second issue is the first's child.
    Child,
    /// The two are related.
    Related,
    /// The first duplicates the second.
    DuplicateOf,
    /// The first was found while working on the second.
    DiscoveredFrom,
}

impl LinkSpec {
    /// Every name `parse` takes, in the order `--help` gives them.
    pub const NAMES: [&'static str; 7] = [
        "blocks",
        "blocked-by",
        "parent",
        "child",
        "related",
        "duplicate-of",
        "discovered-from",
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LinkSpec::Blocks => "blocks",
            LinkSpec::BlockedBy => "blocked-by",
            LinkSpec::Parent => "parent",
            LinkSpec::Child => "child",
            LinkSpec::Related => "related",
            LinkSpec::DuplicateOf => "duplicate-of",
            LinkSpec::DiscoveredFrom => "discovered-from",
        }
    }

    /// The link named `s` (`_` or `-`, any case); `None` for another name.
    pub fn parse(s: &str) -> Option<LinkSpec> {
        Some(match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "blocks" => LinkSpec::Blocks,
            "blocked-by" => LinkSpec::BlockedBy,
            "parent" => LinkSpec::Parent,
            "child" => LinkSpec::Child,
            "related" => LinkSpec::Related,
            "duplicate-of" => LinkSpec::DuplicateOf,
            "discovered-from" => LinkSpec::DiscoveredFrom,
            _ => return None,
        })
    }

    /// The event recording (`add`) or removing "`a` SPEC `b`", and the issue it is written on:
    /// each link lives on one side (see `Link`), and a parent is the child's register.
    pub fn event(self, a: Id, b: Id, add: bool) -> (Id, Kind) {
        let link = |l: Link, holder: Id, target: Id| {
            let link = l.name().to_owned();
            let kind = if add {
                Kind::LinkAdded { link, target }
            } else {
                Kind::LinkRemoved { link, target }
            };
            (holder, kind)
        };
        match self {
            LinkSpec::Blocks => link(Link::BlockedBy, b, a),
            LinkSpec::BlockedBy => link(Link::BlockedBy, a, b),
            LinkSpec::Related => link(Link::Related, a.min(b), a.max(b)),
            LinkSpec::DuplicateOf => link(Link::DuplicateOf, a, b),
            LinkSpec::DiscoveredFrom => link(Link::DiscoveredFrom, a, b),
            LinkSpec::Parent => (
                a,
                Kind::ParentSet {
                    parent: add.then_some(b),
                },
            ),
            LinkSpec::Child => (
                b,
                Kind::ParentSet {
                    parent: add.then_some(a),
                },
            ),
        }
    }
}

/// A write of this clone's that a concurrent one overrode: under the clock rule another actor's
/// value for the field won, and its writer had not seen this one (nothing this clone knows names
/// it as a parent). The person who wrote it may want to redo it.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Overridden {
    /// The issue's full id.
    pub issue: String,
    /// `title`, `body`, `priority`, `type` or `parent`.
    pub field: String,
    /// The value that lost, and the event that wrote it.
    pub lost: String,
    /// The event that wrote the value that lost.
    pub lost_event: String,
    /// The value that won, the event that wrote it, and its writer (actor id).
    pub won: String,
    /// The event that wrote the value that won.
    pub won_event: String,
    /// Its writer (actor id in hex).
    pub by: String,
}

/// The writes of `local` actors that the change from `old` to `new` overrode concurrently:
/// for each field, a winner of `old` written by a local actor that `new` replaced with another
/// actor's value, where `named(id)` says no known event names the old winner as a parent.
pub fn overridden(
    old: &IssueState,
    new: &IssueState,
    local: &dyn Fn(&[u8; 32]) -> bool,
    named: &dyn Fn(&Id) -> bool,
) -> Vec<Overridden> {
    let mut out = Vec::new();
    let mut check = |field: &str, o: Option<(&Stamp, String)>, n: Option<(&Stamp, String)>| {
        let (Some((os, lost)), Some((ns, won))) = (o, n) else {
            return;
        };
        if os == ns || !local(&os.actor) || local(&ns.actor) {
            return;
        }
        // The opening event is not a write of a field.
        if os.id == new.id || named(&Id(os.id)) {
            return;
        }
        out.push(Overridden {
            issue: Id(new.id).to_hex(),
            field: field.to_owned(),
            lost,
            lost_event: Id(os.id).to_hex(),
            won,
            won_event: Id(ns.id).to_hex(),
            by: ActorId(ns.actor).to_hex(),
        });
    };
    fn reg<T>(r: &Option<Reg<T>>, shown: impl Fn(&T) -> String) -> Option<(&Stamp, String)> {
        r.as_ref().map(|r| (&r.stamp, shown(&r.value)))
    }
    let text = |s: &String| s.clone();
    check("title", reg(&old.title, text), reg(&new.title, text));
    check("body", reg(&old.body, text), reg(&new.body, text));
    let p = |p: &u8| format!("P{p}");
    check("priority", reg(&old.priority, p), reg(&new.priority, p));
    check("type", reg(&old.issue_type, text), reg(&new.issue_type, text));
    let parent = |p: &Option<Id>| p.map_or_else(|| "none".into(), |p| p.to_hex());
    check("parent", reg(&old.parent, parent), reg(&new.parent, parent));
    out
}
