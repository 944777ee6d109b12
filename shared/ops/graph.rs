//! The dependency graph of a query's issues: `blocked-by` links (the blocker comes first) and
//! `parent` links (a child comes before its parent: an epic is done when its children are), with
//! each issue's downstream count (how many issues its completion helps unblock, transitively) and
//! the critical path (the longest chain of dependencies, in issues). Links that form a cycle (two
//! clones can make one) are kept in the picture and counted once: a cycle's issues are one step
//! of the path. `git issue graph` prints it as JSON, DOT or SVG; the web dashboard draws the SVG.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::error::Result;
use crate::event::{Id, State};
use crate::index::search::Queue;
use crate::index::tables;
use crate::store::Store;
use crate::text::html as esc;

/// One issue of the graph.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// The issue's full id in hex.
    pub id: String,
    /// Its shortest unique prefix.
    pub short_id: String,
    /// Its title.
    pub title: String,
    /// Open or closed.
    pub state: State,
    /// Its priority, 0 (most urgent) to 4.
    pub priority: u8,
    /// How many issues of the graph depend on this one, directly or not.
    pub downstream: usize,
    /// Whether it is on the critical path.
    pub critical: bool,
    /// Its column in a drawing: the longest chain of dependencies before it.
    pub layer: usize,
}

/// A dependency: `from` comes before `to`.
#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    /// The issue that comes first (its full id).
    pub from: String,
    /// The issue that waits for it.
    pub to: String,
    /// `blocks` or `parent` (`from` is a child of `to`).
    pub kind: &'static str,
}

/// The dependency graph of a query's issues (`git issue graph`, the dashboard's graph page).
#[derive(Debug, Clone, Serialize)]
pub struct Graph {
    /// Every issue of the query, and every issue a link of theirs reaches.
    pub nodes: Vec<Node>,
    /// Every blocking and parent link between them.
    pub edges: Vec<Edge>,
    /// The longest chain of dependencies, first to last (ids).
    pub critical_path: Vec<String>,
    /// Groups of issues whose links form a cycle.
    pub cycles: Vec<Vec<String>>,
}

/// The graph of the issues a saved view and a query (the `-S` language) match, at most `limit`
/// of them; with neither, the open issues.
pub fn graph(store: &Store, view: Option<&str>, search: Option<&str>, limit: usize) -> Result<Graph> {
    let search = if view.is_none() && search.is_none() {
        Some("is:open")
    } else {
        search
    };
    let q = super::query::parse(store, view, search)?;
    let found = store
        .index
        .search(&q, &super::query::context(store)?, Queue::All, limit)?;
    let ids: Vec<Id> = found.hits.iter().map(|h| h.id).collect();
    let chosen: HashSet<Id> = ids.iter().copied().collect();
    let mut edges: Vec<(usize, usize, &'static str)> = Vec::new();
    let at: HashMap<Id, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    for (i, id) in ids.iter().enumerate() {
        for (link, other) in store.index.links_of(id)? {
            if !chosen.contains(&other) {
                continue;
            }
            match link {
                tables::BLOCKED_BY => edges.push((at[&other], i, "blocks")),
                tables::PARENT => edges.push((i, at[&other], "parent")),
                _ => {}
            }
        }
    }
    edges.sort();
    edges.dedup();
    let n = ids.len();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b, _) in &edges {
        if a != b {
            out[a].push(b);
        }
    }
    let (comp, comps) = components(&out);
    // The condensation: components in topological order (Tarjan finds them in reverse).
    let mut cout: Vec<HashSet<usize>> = vec![HashSet::new(); comps.len()];
    for (a, targets) in out.iter().enumerate() {
        for &b in targets {
            if comp[a] != comp[b] {
                cout[comp[a]].insert(comp[b]);
            }
        }
    }
    let order: Vec<usize> = (0..comps.len()).rev().collect();
    // Longest chain ending at each component (its column), and from each (the critical path).
    let mut layer = vec![0usize; comps.len()];
    for &c in &order {
        for &d in &cout[c] {
            layer[d] = layer[d].max(layer[c] + 1);
        }
    }
    let mut longest = vec![0usize; comps.len()];
    let mut next: Vec<Option<usize>> = vec![None; comps.len()];
    for &c in order.iter().rev() {
        longest[c] = comps[c].len();
        for &d in &cout[c] {
            if comps[c].len() + longest[d] > longest[c] {
                longest[c] = comps[c].len() + longest[d];
                next[c] = Some(d);
            }
        }
    }
    let mut path = Vec::new();
    if let Some(start) = (0..comps.len()).max_by_key(|&c| (longest[c], std::cmp::Reverse(c))) {
        let mut c = Some(start);
        while let Some(x) = c {
            let mut members = comps[x].clone();
            members.sort();
            path.extend(members);
            c = next[x];
        }
    }
    let on_path: HashSet<usize> = path.iter().copied().collect();
    // Downstream: every issue reachable from each one.
    let downstream: Vec<usize> = (0..n)
        .map(|s| {
            let mut seen = HashSet::from([s]);
            let mut stack = vec![s];
            while let Some(x) = stack.pop() {
                for &y in &out[x] {
                    if seen.insert(y) {
                        stack.push(y);
                    }
                }
            }
            seen.len() - 1
        })
        .collect();
    let mut nodes = Vec::with_capacity(n);
    for (i, id) in ids.iter().enumerate() {
        let s = store.index.issue(id)?.unwrap_or_default();
        nodes.push(Node {
            id: id.to_hex(),
            short_id: store.index.short_id(id)?,
            title: s.title.as_ref().map(|t| t.value.clone()).unwrap_or_default(),
            state: s.state(),
            priority: s.priority(),
            downstream: downstream[i],
            critical: on_path.contains(&i),
            layer: layer[comp[i]],
        });
    }
    let hex = |i: usize| ids[i].to_hex();
    Ok(Graph {
        critical_path: if path.len() > 1 {
            path.iter().map(|&i| hex(i)).collect()
        } else {
            Vec::new()
        },
        cycles: comps
            .iter()
            .filter(|c| c.len() > 1)
            .map(|c| c.iter().map(|&i| hex(i)).collect())
            .collect(),
        edges: edges
            .into_iter()
            .map(|(a, b, kind)| Edge {
                from: hex(a),
                to: hex(b),
                kind,
            })
            .collect(),
        nodes,
    })
}

/// Strongly connected components (Tarjan, iteratively): each node's component, and the
/// components' members, in reverse topological order.
fn components(out: &[Vec<usize>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let n = out.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on = vec![false; n];
    let mut stack = Vec::new();
    let mut comp = vec![usize::MAX; n];
    let mut comps: Vec<Vec<usize>> = Vec::new();
    let mut counter = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut next)) = work.last_mut() {
            if *next == 0 && index[v] == usize::MAX {
                index[v] = counter;
                low[v] = counter;
                counter += 1;
                stack.push(v);
                on[v] = true;
            }
            if let Some(&w) = out[v].get(*next) {
                *next += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut members = Vec::new();
                while let Some(w) = stack.pop() {
                    on[w] = false;
                    comp[w] = comps.len();
                    members.push(w);
                    if w == v {
                        break;
                    }
                }
                comps.push(members);
            }
        }
    }
    (comp, comps)
}

/// The graph in Graphviz's DOT language.
pub fn dot(g: &Graph) -> String {
    let mut s = String::from("digraph grit {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    let q = |t: &str| t.replace('\\', "\\\\").replace('"', "\\\"");
    for n in &g.nodes {
        let mut attrs = format!(
            "label=\"{}\\n{}\\n↓{}\"",
            q(&n.short_id),
            q(&truncate(&n.title, 40)),
            n.downstream
        );
        if n.critical {
            attrs.push_str(", color=red, penwidth=2");
        }
        if n.state == State::Closed {
            attrs.push_str(", fontcolor=gray");
        }
        let _ = writeln!(s, "  \"{}\" [{attrs}];", n.short_id);
    }
    let short: HashMap<&str, &str> = g.nodes.iter().map(|n| (n.id.as_str(), n.short_id.as_str())).collect();
    for e in &g.edges {
        let style = if e.kind == "parent" { " [style=dashed]" } else { "" };
        let _ = writeln!(
            s,
            "  \"{}\" -> \"{}\"{style};",
            short[e.from.as_str()],
            short[e.to.as_str()]
        );
    }
    s.push_str("}\n");
    s
}

fn truncate(t: &str, n: usize) -> String {
    if t.chars().count() <= n {
        return t.to_owned();
    }
    let mut out: String = t.chars().take(n - 1).collect();
    out.push('…');
    out
}

const W: usize = 180;
const H: usize = 44;
const GAP_X: usize = 60;
const GAP_Y: usize = 16;

/// The graph as SVG, laid out in columns by dependency depth (a layered drawing: each issue
/// right of everything it depends on, rows ordered to keep edges short). Every node links to
/// `link` followed by the issue's id; all text is escaped.
pub fn svg(g: &Graph, link: &str) -> String {
    let at: HashMap<&str, usize> = g.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); g.nodes.len()];
    let mut linked = vec![false; g.nodes.len()];
    for e in &g.edges {
        let (a, b) = (at[e.from.as_str()], at[e.to.as_str()]);
        preds[b].push(a);
        linked[a] = true;
        linked[b] = true;
    }
    // Linked issues in columns by depth; the rest in a grid below them, by priority.
    let layers = g
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| linked[*i])
        .map(|(_, n)| n.layer)
        .max()
        .map_or(0, |m| m + 1);
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); layers];
    let mut loose: Vec<usize> = Vec::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if linked[i] {
            columns[n.layer].push(i);
        } else {
            loose.push(i);
        }
    }
    loose.sort_by_key(|&i| (g.nodes[i].priority, g.nodes[i].short_id.clone()));
    // Rows: the first column by what it unblocks, then each by the mean row of its predecessors.
    let mut row = vec![0f64; g.nodes.len()];
    for (c, col) in columns.iter_mut().enumerate() {
        if c == 0 {
            col.sort_by_key(|&i| {
                (
                    std::cmp::Reverse(g.nodes[i].downstream),
                    g.nodes[i].priority,
                    g.nodes[i].short_id.clone(),
                )
            });
        } else {
            let key = |i: usize| {
                let p = &preds[i];
                if p.is_empty() {
                    f64::MAX
                } else {
                    p.iter().map(|&x| row[x]).sum::<f64>() / p.len() as f64
                }
            };
            col.sort_by(|&a, &b| {
                key(a)
                    .total_cmp(&key(b))
                    .then(g.nodes[a].short_id.cmp(&g.nodes[b].short_id))
            });
        }
        for (r, &i) in col.iter().enumerate() {
            row[i] = r as f64;
        }
    }
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
    let per_row = layers.max(6);
    let loose_rows = loose.len().div_ceil(per_row);
    let width = per_row * (W + GAP_X) + GAP_X;
    let height = (rows + loose_rows) * (H + GAP_Y) + GAP_Y + if loose_rows > 0 && rows > 0 { GAP_Y * 2 } else { 0 };
    let mut xy = vec![(0usize, 0usize); g.nodes.len()];
    for col in &columns {
        for &i in col {
            xy[i] = (
                GAP_X / 2 + g.nodes[i].layer * (W + GAP_X),
                GAP_Y + row[i] as usize * (H + GAP_Y),
            );
        }
    }
    let top = rows * (H + GAP_Y) + if rows > 0 { GAP_Y * 2 } else { 0 };
    for (k, &i) in loose.iter().enumerate() {
        xy[i] = (
            GAP_X / 2 + (k % per_row) * (W + GAP_X),
            top + GAP_Y + (k / per_row) * (H + GAP_Y),
        );
    }
    let pos = |i: usize| xy[i];
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"grit-graph\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#888\"/></marker></defs>\n"
    );
    let crit: HashSet<(&str, &str)> = g
        .critical_path
        .windows(2)
        .map(|w| (w[0].as_str(), w[1].as_str()))
        .collect();
    for e in &g.edges {
        let (a, b) = (at[e.from.as_str()], at[e.to.as_str()]);
        let ((x1, y1), (x2, y2)) = (pos(a), pos(b));
        let (sx, sy, ex, ey) = (x1 + W, y1 + H / 2, x2, y2 + H / 2);
        let mid = (sx + ex) / 2;
        let class = match (e.kind, crit.contains(&(e.from.as_str(), e.to.as_str()))) {
            (_, true) => "edge critical",
            ("parent", _) => "edge parent",
            _ => "edge",
        };
        let _ = writeln!(
            s,
            "<path class=\"{class}\" d=\"M {sx} {sy} C {mid} {sy}, {mid} {ey}, {ex} {ey}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{} marker-end=\"url(#arrow)\"/>",
            if class == "edge critical" { "#d33" } else { "#888" },
            if class == "edge critical" { 2 } else { 1 },
            if e.kind == "parent" {
                " stroke-dasharray=\"4 3\""
            } else {
                ""
            }
        );
    }
    for (i, n) in g.nodes.iter().enumerate() {
        let (x, y) = pos(i);
        let class = format!(
            "node{}{}",
            if n.critical { " critical" } else { "" },
            if n.state == State::Closed { " closed" } else { "" }
        );
        let _ = writeln!(
            s,
            "<a href=\"{}{}\" class=\"{class}\" data-id=\"{}\"><title>{} {} (P{}, unblocks {})</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{W}\" height=\"{H}\" rx=\"6\" fill=\"{}\" stroke=\"{}\" stroke-width=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-weight=\"bold\">{} · P{} · ↓{}</text>\
             <text x=\"{}\" y=\"{}\">{}</text></a>",
            esc(link),
            n.id,
            n.id,
            esc(&n.short_id),
            esc(&n.title),
            n.priority,
            n.downstream,
            if n.state == State::Closed { "#eee" } else { "#fff" },
            if n.critical { "#d33" } else { "#999" },
            if n.critical { 2 } else { 1 },
            x + 8,
            y + 17,
            esc(&n.short_id),
            n.priority,
            n.downstream,
            x + 8,
            y + 34,
            esc(&truncate(&n.title, 26)),
        );
    }
    s.push_str("</svg>\n");
    s
}
