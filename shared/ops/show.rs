//! One issue as every face shows it: its view, its claim, its links both ways and the cycles
//! through it (`git issue show --json`, the MCP `show` tool and `grit://issue/{id}`).

use std::collections::HashMap;

use serde::Serialize;

use crate::error::Result;
use crate::event::{Id, State};
use crate::index::tables;
use crate::issue::IssueView;
use crate::ops::locks::Claim;
use crate::store::Store;

/// An issue in full.
#[derive(Serialize)]
pub struct Detail {
    /// The issue as `show --json` prints it.
    #[serde(flatten)]
    pub view: IssueView,
    /// Who holds its claim, if anyone does.
    pub claim: Option<Claim>,
    /// Every link, both ways.
    pub links: Vec<LinkView>,
    /// Cycles of `blocked-by` or `parent` links through this issue (two clones made them).
    pub cycles: Vec<Cycle>,
    /// This clone's writes to a field that a concurrent write overrode, while that winner stands.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<crate::issue::Overridden>,
}

/// The writes of this clone's to issue `id` that a concurrent write overrode and that still
/// stand overridden: the winner is still the field's value (once anyone writes the field again,
/// the mark goes).
pub fn overridden(store: &Store, id: &Id) -> Result<Vec<crate::issue::Overridden>> {
    let found = crate::overrides::of_issue(&store.repo, &id.to_hex());
    if found.is_empty() {
        return Ok(found);
    }
    let Some(s) = store.index.issue(id)? else {
        return Ok(Vec::new());
    };
    let winner = |field: &str| -> Option<[u8; 32]> {
        match field {
            "title" => s.title.as_ref().map(|r| r.stamp.id),
            "body" => s.body.as_ref().map(|r| r.stamp.id),
            "priority" => s.priority.as_ref().map(|r| r.stamp.id),
            "type" => s.issue_type.as_ref().map(|r| r.stamp.id),
            "parent" => s.parent.as_ref().map(|r| r.stamp.id),
            _ => None,
        }
    };
    let mut out: Vec<crate::issue::Overridden> = found
        .into_iter()
        .filter(|o| winner(&o.field).is_some_and(|w| Id(w).to_hex() == o.won_event))
        .collect();
    out.dedup_by(|a, b| a.lost_event == b.lost_event);
    Ok(out)
}

/// A cycle of links through an issue.
#[derive(Serialize)]
pub struct Cycle {
    /// `blocked-by` or `parent`.
    pub link: &'static str,
    /// The issues of the cycle, in order, by short id.
    pub short_ids: Vec<String>,
}

/// The issue `query` names (an id or a unique prefix), in full.
pub fn detail(store: &Store, query: &str) -> Result<Detail> {
    let id = store.index.resolve(query)?;
    detail_of(store, &id, store.index.view(&id)?)
}

/// `detail` of an issue whose view is at hand.
pub fn detail_of(store: &Store, id: &Id, view: IssueView) -> Result<Detail> {
    let claim = crate::ops::locks::claims(store)?.remove(id);
    Ok(Detail {
        view,
        claim,
        links: views(store, id)?,
        cycles: cycles(store, id)?
            .into_iter()
            .map(|(link, short_ids)| Cycle { link, short_ids })
            .collect(),
        overridden: overridden(store, id)?,
    })
}

/// One link of an issue as `show` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct LinkView {
    /// blocks, blocked_by, parent, child, related, duplicate_of, duplicated_by,
    /// discovered_from or discovered
    pub link: &'static str,
    /// The linked issue's full id in hex.
    pub id: String,
    /// Its shortest unique prefix.
    pub short_id: String,
    /// None when the linked issue has not arrived in this clone.
    pub state: Option<State>,
    /// Its title; `None` when it has not arrived in this clone.
    pub title: Option<String>,
}

/// The name of a link byte, seen from the issue holding the key.
pub fn link_name(b: u8) -> &'static str {
    match b {
        tables::BLOCKED_BY => "blocked_by",
        tables::BLOCKS => "blocks",
        tables::RELATED | tables::RELATED_FROM => "related",
        tables::DUPLICATE_OF => "duplicate_of",
        tables::DUPLICATED_BY => "duplicated_by",
        tables::DISCOVERED_FROM => "discovered_from",
        tables::DISCOVERED => "discovered",
        tables::PARENT => "parent",
        tables::CHILD => "child",
        _ => "unknown",
    }
}

/// Every link of `id`, both ways, with the other issue's short id, state and title.
pub fn views(store: &Store, id: &Id) -> Result<Vec<LinkView>> {
    let order = |l: &str| {
        [
            "parent",
            "child",
            "blocked_by",
            "blocks",
            "related",
            "duplicate_of",
            "duplicated_by",
            "discovered_from",
            "discovered",
        ]
        .iter()
        .position(|x| *x == l)
    };
    let mut out = Vec::new();
    for (b, other) in store.index.links_of(id)? {
        let state = store.index.issue(&other)?.filter(|s| s.created.is_some());
        out.push(LinkView {
            link: link_name(b),
            id: other.to_hex(),
            short_id: store.index.short_id(&other)?,
            state: state.as_ref().map(|s| s.state()),
            title: state.and_then(|s| s.title.map(|t| t.value)),
        });
    }
    out.sort_by_key(|v| (order(v.link), v.short_id.clone()));
    out.dedup_by(|a, b| a.link == b.link && a.id == b.id);
    Ok(out)
}

/// The cycles through `id`, each as short ids.
pub fn cycles(store: &Store, id: &Id) -> Result<Vec<(&'static str, Vec<String>)>> {
    let mut out = Vec::new();
    // Only an issue with blocking or parent links can be on a cycle: the rest need no walk
    // over every link.
    let graph_links = [tables::BLOCKED_BY, tables::BLOCKS, tables::PARENT, tables::CHILD];
    if !store.index.links_of(id)?.iter().any(|(l, _)| graph_links.contains(l)) {
        return Ok(out);
    }
    for (link, cycle) in store.index.cycles(Some(id))? {
        let ids = cycle
            .iter()
            .map(|i| store.index.short_id(i))
            .collect::<Result<Vec<_>>>()?;
        out.push((link, ids));
    }
    Ok(out)
}

/// One step of an issue's history, as the timeline shows it: one event.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// When, as RFC 3339 in UTC.
    pub time: String,
    /// Who: the person's name and which of their actors.
    pub by: String,
    /// What, in a few words ("opened the issue", "commented", "closed the issue", "added the
    /// label bug").
    pub what: String,
    /// The comment's text, for a comment.
    pub body: Option<String>,
    /// The event's id in hex.
    pub event: String,
    /// The event's kind (`issue.title_set`).
    pub kind: &'static str,
    /// The key that signed it: the actor's id in hex.
    pub signer: String,
    /// How far the signature vouches for `by` (see [`Signature`]).
    pub signature: Signature,
}

/// What an event's signature says of its writer. Every event in the index was checked before
/// it was folded in: signed by the key of the actor it names, and on that actor's own ref. What
/// differs is what is known of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signature {
    /// Signed with a key of this clone: one of its own actors.
    Local,
    /// Signed with a key whose actor published a record (a name and an email) under it.
    Published,
    /// Signed with a key no published record names: the name shown is only the key's.
    Unnamed,
}

impl Signature {
    /// A few words for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Signature::Local => "signed with a key of this clone",
            Signature::Published => "signed with the key its actor published",
            Signature::Unnamed => "signed with a key no actor record names",
        }
    }
}

/// The history of an issue: every event the index holds for it, in the order they happened,
/// each with who wrote it and what its signature vouches for. An event that lost to a
/// concurrent one is still shown: the history is what was written, not what stands.
pub fn timeline(store: &Store, id: &Id) -> Result<Vec<Step>> {
    let Some(s) = store.index.issue(id)? else {
        return Err(crate::Error::NotFound {
            what: "issue",
            query: id.to_hex(),
        });
    };
    let local: Vec<crate::event::ActorId> = crate::actor::list_local(&store.repo)?
        .iter()
        .map(crate::actor::Actor::id)
        .collect();
    let mut people: HashMap<crate::event::ActorId, (String, Signature)> = HashMap::new();
    let short = |hex: &str| -> Result<String> {
        Ok(match Id::from_hex(hex) {
            Some(i) if store.index.issue(&i)?.is_some() => store.index.short_id(&i)?,
            _ => hex.chars().take(12).collect(),
        })
    };
    let mut steps = Vec::new();
    for e in store.index.history(id)? {
        let (by, signature) = match people.get(&e.actor) {
            Some(p) => p.clone(),
            None => {
                let author = store.index.author(&e.actor)?;
                let signature = if local.contains(&e.actor) {
                    Signature::Local
                } else if author.name.is_some() {
                    Signature::Published
                } else {
                    Signature::Unnamed
                };
                let p = (
                    format!("{} ({})", author.display(), crate::actor::which(&store.repo, &e.actor)),
                    signature,
                );
                people.insert(e.actor, p.clone());
                p
            }
        };
        let body = s
            .comments
            .iter()
            .find(|c| c.stamp.id == e.event.0)
            .map(|c| c.body.clone());
        let f = |i: usize| e.field(i);
        let what = match e.kind {
            "issue.created" => format!("opened the issue “{}”", f(0)),
            "issue.title_set" => format!("set the title to “{}”", f(0)),
            "issue.body_set" => "edited the description".to_owned(),
            "issue.state_set" => match (f(0), f(1)) {
                ("closed", "") => "closed the issue".to_owned(),
                ("closed", why) => format!("closed the issue as {}", why.replace('_', " ")),
                _ => "reopened the issue".to_owned(),
            },
            "issue.comment_added" => "commented".to_owned(),
            "issue.label_added" => format!("added the label {}", f(0)),
            "issue.label_removed" => format!("removed the label {}", f(0)),
            "issue.assignee_added" => format!("assigned {}", f(0)),
            "issue.assignee_removed" => format!("unassigned {}", f(0)),
            "issue.priority_set" => format!("set the priority to P{}", f(0)),
            "issue.type_set" => format!("set the type to {}", f(0)),
            "issue.parent_set" if f(0).is_empty() => "removed the parent".to_owned(),
            "issue.parent_set" => format!("set the parent to {}", short(f(0))?),
            "issue.link_added" => format!("added the link {} {}", f(0), short(f(1))?),
            "issue.link_removed" => format!("removed the link {} {}", f(0), short(f(1))?),
            "issue.imported" => format!("imported it from {} (opened there by {})", f(0), f(1)),
            "issue.comment_imported" => format!("imported a comment by {} from {}", f(1), f(0)),
            "issue.commit_referenced" => {
                let commit: String = f(0).chars().take(12).collect();
                let verb = if f(2) == "closes" { "closes it" } else { "refers to it" };
                let again = if body.is_none() { " (noted already)" } else { "" };
                format!("noted commit {commit} “{}”, which {verb}{again}", f(1))
            }
            _ => format!("wrote an event of a kind this version does not know ({})", f(0)),
        };
        steps.push(Step {
            time: crate::repo::format_time(e.wall_ms),
            by,
            what,
            body,
            event: e.event.to_hex(),
            kind: e.kind,
            signer: e.actor.to_hex(),
            signature,
        });
    }
    Ok(steps)
}
