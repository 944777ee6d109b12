//! `git issue count`: how many issues a query matches, in all or by a field, answered from the
//! index's tables without reading the issues (but for labels and assignees, which are read).

use std::collections::BTreeMap;

use clap::Args;
use serde::Serialize;

use super::search::{self, QueryArgs};
use super::{CommandError, Ui};
use crate::index::search::Queue;

/// What `--by` groups on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum By {
    State,
    Label,
    Type,
    Priority,
    Assignee,
    Actor,
}

#[derive(Debug, Args)]
pub struct CountArgs {
    #[command(flatten)]
    pub query: QueryArgs,
    /// Count by a field: state, label, type, priority, assignee or actor (who opened it); an
    /// issue with several labels or assignees counts once for each
    #[arg(long, value_enum, value_name = "FIELD")]
    pub by: Option<By>,
}

#[derive(Serialize)]
struct CountJson {
    total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<By>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<BTreeMap<String, usize>>,
}

/// Counts the issues the query matches: every state unless the query names one.
pub fn count(ui: &mut Ui, a: CountArgs) -> Result<(), CommandError> {
    let store = super::open_store(ui)?;
    let claims = if a.query.search.as_deref().is_some_and(|q| q.contains("claimed")) {
        super::claim::claims(&store)?
    } else {
        Default::default()
    };
    let q = search::parse_query(&store, &a.query)?;
    let found = store
        .index
        .search(&q, &search::context(&store, &claims)?, Queue::All, 0)?;
    let total = found.hits.len();
    let counts = match a.by {
        None => None,
        Some(by) => {
            let mut m: BTreeMap<String, usize> = BTreeMap::new();
            let mut names: std::collections::HashMap<[u8; 32], String> = Default::default();
            for h in &found.hits {
                let keys: Vec<String> = match by {
                    By::State => vec![if h.facts.open { "open" } else { "closed" }.into()],
                    By::Priority => vec![h.facts.priority.to_string()],
                    By::Type => vec![
                        crate::issue::ALL_TYPES
                            .get(usize::from(h.facts.type_code))
                            .map_or("other", |t| t)
                            .to_owned(),
                    ],
                    By::Actor => vec![
                        names
                            .entry(h.facts.author)
                            .or_insert_with(|| crate::actor::which(&store.repo, &crate::event::ActorId(h.facts.author)))
                            .clone(),
                    ],
                    By::Label | By::Assignee => {
                        let s = store.index.issue(&h.id)?.unwrap_or_default();
                        let v = if by == By::Label { s.labels() } else { s.assignees() };
                        if v.is_empty() { vec!["(none)".into()] } else { v }
                    }
                };
                for k in keys {
                    *m.entry(k).or_default() += 1;
                }
            }
            Some(m)
        }
    };
    if ui.json {
        return ui.json(&CountJson {
            total,
            by: a.by,
            counts,
        });
    }
    match counts {
        None => ui.say(total.to_string()),
        Some(m) => {
            let mut rows: Vec<(String, usize)> = m.into_iter().collect();
            rows.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
            for (k, n) in rows {
                ui.say(format!("{n}\t{}", super::term::esc(&k)))?;
            }
            Ok(())
        }
    }
}
