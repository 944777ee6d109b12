//! One issue as every face shows it: its view, its claim, its links both ways and the cycles
//! through it (`git issue show --json`, the MCP `show` tool and `grit://issue/{id}`).

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
    #[serde(flatten)]
    pub view: IssueView,
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
    pub link: &'static str,
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
    pub id: String,
    pub short_id: String,
    /// None when the linked issue has not arrived in this clone.
    pub state: Option<State>,
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

/// One step of an issue's history, as the timeline shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub time: String,
    /// Who: the person's name and which of their actors.
    pub by: String,
    /// What, in a few words ("opened", "commented", "set the state to closed", "added label bug").
    pub what: String,
    /// The comment's text, for a comment.
    pub body: Option<String>,
}

/// The history of an issue as the index knows it: its opening, every comment (commit notes
/// among them), and the latest change of each field and label, each with who made it. Every
/// one of these came from an event whose signature was checked when it was folded in.
pub fn timeline(store: &Store, id: &Id) -> Result<Vec<Step>> {
    let Some(s) = store.index.issue(id)? else {
        return Err(crate::Error::NotFound {
            what: "issue",
            query: id.to_hex(),
        });
    };
    let who = |actor: &[u8; 32]| -> Result<String> {
        let a = crate::event::ActorId(*actor);
        let name = store.index.author(&a)?.display();
        Ok(format!("{name} ({})", crate::actor::which(&store.repo, &a)))
    };
    let mut steps: Vec<(u64, u64, Step)> = Vec::new();
    let mut push = |lamport: u64, wall: u64, actor: &[u8; 32], what: String, body: Option<String>| -> Result<()> {
        steps.push((
            wall,
            lamport,
            Step {
                time: crate::repo::format_time(wall),
                by: who(actor)?,
                what,
                body,
            },
        ));
        Ok(())
    };
    if let Some(c) = &s.created {
        push(0, c.created_ms, &c.author, "opened the issue".into(), None)?;
    }
    for c in &s.comments {
        push(
            c.stamp.lamport,
            c.stamp.wall_ms,
            &c.stamp.actor,
            "commented".into(),
            Some(c.body.clone()),
        )?;
    }
    // What the opening event set is part of "opened".
    let opened = s.id;
    let mut reg = |stamp: &crate::issue::Stamp, what: String| {
        if stamp.id == opened {
            return Ok(());
        }
        push(stamp.lamport, stamp.wall_ms, &stamp.actor, what, None)
    };
    if let Some(r) = &s.title {
        reg(&r.stamp, format!("set the title to “{}”", r.value))?;
    }
    if let Some(r) = &s.state {
        let state = format!("{:?}", r.value.state).to_lowercase();
        reg(
            &r.stamp,
            format!(
                "set the state to {state}{}",
                r.value.reason.as_deref().map(|x| format!(" ({x})")).unwrap_or_default()
            ),
        )?;
    }
    if let Some(r) = &s.priority {
        reg(&r.stamp, format!("set the priority to P{}", r.value))?;
    }
    if let Some(r) = &s.issue_type {
        reg(&r.stamp, format!("set the type to {}", r.value))?;
    }
    for (label, e) in &s.labels {
        if let Some(a) = &e.add {
            reg(a, format!("added the label {label}"))?;
        }
        if let Some(r) = &e.remove {
            reg(r, format!("removed the label {label}"))?;
        }
    }
    steps.sort_by_key(|(wall, lamport, _)| (*wall, *lamport));
    Ok(steps.into_iter().map(|(_, _, s)| s).collect())
}
