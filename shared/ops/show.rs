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
