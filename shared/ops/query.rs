//! Queries as every face asks them: the `-S` language after a saved view, `@me` made the current
//! actor's email, and the claims context that `claimed:` and the ready queue need. A query means
//! the same from the CLI, the terminal UI, the socket, MCP and the web.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::event::Id;
use crate::index::search::{Found, Queue, SearchContext};
use crate::query::{self, Expr, Query, Term};
use crate::store::Store;

use super::locks::Claim;

/// The email `@me` stands for: the current actor's, or git's identity before a first write.
pub fn my_email(store: &Store) -> Result<String> {
    let label = crate::actor::selected_label(&store.repo);
    if let Some(a) = crate::actor::find(&store.repo, &label)? {
        return Ok(a.record.email);
    }
    Ok(store.repo.identity()?.1)
}

/// The query a saved view holds.
pub fn view(store: &Store, name: &str) -> Result<String> {
    store
        .repo
        .config_string(&format!("issue.view.{name}"))
        .ok_or_else(|| Error::Failed {
            message: format!("there is no saved view '{name}'"),
            hint: "`git issue view list` lists them; `git issue view save NAME -S QUERY` saves one".into(),
        })
}

/// Parses `search` (the `-S` language) after the saved view `view`, if any, with `@me` made the
/// current actor's email. A sort in `search` replaces the view's.
pub fn parse(store: &Store, view_name: Option<&str>, search: Option<&str>) -> Result<Query> {
    let now = crate::repo::now_ms();
    let mut q = Query::default();
    if let Some(name) = view_name {
        let text = view(store, name)?;
        q = query::parse(&text, now).map_err(|e| {
            Error::invalid(
                format!("the saved view '{name}' does not parse: {e}"),
                format!("fix it with `git issue view save {name} -S '…'`"),
            )
        })?;
    }
    if let Some(text) = search {
        let parsed = query::parse(text, now).map_err(|e| Error::Query {
            text: text.to_owned(),
            column: e.column,
            message: e.message.clone(),
        })?;
        q = Query {
            sort: parsed.sort.or(q.sort),
            ..q
        }
        .and(Query {
            expr: parsed.expr,
            sort: None,
        });
    }
    resolve_me(store, &mut q)?;
    Ok(q)
}

/// Makes `@me` in `q` the current actor's email.
pub fn resolve_me(store: &Store, q: &mut Query) -> Result<()> {
    let me_term = |t: &Term| match t {
        Term::Assignee(v) => v.iter().any(|a| a == "@me"),
        Term::Author(a) => a == "@me",
        _ => false,
    };
    if mentions(q, me_term) {
        let me = my_email(store)?;
        if let Some(e) = q.expr.as_mut() {
            replace_me(e, &me);
        }
    }
    Ok(())
}

fn replace_me(e: &mut Expr, me: &str) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter_mut().for_each(|e| replace_me(e, me)),
        Expr::Not(e) => replace_me(e, me),
        Expr::Term(Term::Assignee(v)) => v.iter_mut().filter(|a| *a == "@me").for_each(|a| *a = me.to_owned()),
        Expr::Term(Term::Author(a)) if a == "@me" => *a = me.to_owned(),
        Expr::Term(_) => {}
    }
}

/// Whether a term of `q` satisfies `pred`, however deep in it.
fn mentions(q: &Query, pred: fn(&Term) -> bool) -> bool {
    fn walk(e: &Expr, pred: fn(&Term) -> bool) -> bool {
        match e {
            Expr::And(v) | Expr::Or(v) => v.iter().any(|e| walk(e, pred)),
            Expr::Not(e) => walk(e, pred),
            Expr::Term(t) => pred(t),
        }
    }
    q.expr.as_ref().is_some_and(|e| walk(e, pred))
}

/// Whether a query says which state it wants (then a listing does not add `is:open`).
pub fn mentions_state(q: &Query) -> bool {
    mentions(q, |t| matches!(t, Term::State(_)))
}

/// Whether `q` asks who holds claims (`claimed:`): only then does matching need a context.
pub fn mentions_claims(q: &Query) -> bool {
    mentions(q, |t| matches!(t, Term::Claimed(_)))
}

/// Who holds claims, as a search needs them: from `claims`, with the current actor's own told
/// apart.
pub fn context_of(store: &Store, claims: &HashMap<Id, Claim>) -> Result<SearchContext> {
    let label = crate::actor::selected_label(&store.repo);
    let me = crate::actor::find(&store.repo, &label)?.map(|a| a.id().to_hex());
    Ok(SearchContext {
        claimed: claims.keys().copied().collect(),
        claimed_by_others: claims
            .iter()
            .filter(|(_, c)| me.as_deref() != Some(c.by.as_str()))
            .map(|(id, _)| *id)
            .collect(),
        include_ephemeral: false,
    })
}

/// The claims context now, from the locks this clone knows of.
pub fn context(store: &Store) -> Result<SearchContext> {
    context_of(store, &super::locks::claims(store)?)
}

/// The first `limit` issues of the ready queue that match `q` (the order `git issue ready`
/// prints), for the current actor: issues others have claimed are not ready for it.
pub fn ready(store: &Store, q: &Query, limit: usize) -> Result<Found> {
    ready_including(store, q, limit, false)
}

/// `ready`, and with `include_ephemeral` the issues labelled `ephemeral` too.
pub fn ready_including(store: &Store, q: &Query, limit: usize, include_ephemeral: bool) -> Result<Found> {
    let mut ctx = context(store)?;
    ctx.include_ephemeral = include_ephemeral;
    store.index.search(q, &ctx, Queue::Ready, limit)
}

/// Writes the issues `each` yields as the JSON array every listing gives (`list --json`, the
/// MCP `ready` and `search` tools): each row with its claim and, for a search's hits, the
/// open issues that block it.
pub fn write_listing<W: std::io::Write>(
    store: &Store,
    each: impl FnOnce(&mut dyn FnMut(crate::index::Row<'_>) -> Result<()>) -> Result<usize>,
    claims: &HashMap<Id, Claim>,
    blockers: Option<&HashMap<Id, Vec<Id>>>,
    out: &mut W,
) -> Result<usize> {
    store.index.write_rows_json(each, out, |id, out| {
        match claims.get(id) {
            None => out.write_all(b",\"claim\":null")?,
            Some(c) => {
                out.write_all(b",\"claim\":")?;
                serde_json::to_writer(&mut *out, c).map_err(std::io::Error::from)?;
            }
        }
        if let Some(b) = blockers {
            let ids: Vec<String> = b.get(id).into_iter().flatten().map(Id::to_hex).collect();
            out.write_all(b",\"blocked_by\":")?;
            serde_json::to_writer(&mut *out, &ids).map_err(std::io::Error::from)?;
        }
        Ok(())
    })
}

/// A search's hits as `write_listing` gives them, parsed.
pub fn listing(store: &Store, found: &Found, claims: &HashMap<Id, Claim>) -> Result<serde_json::Value> {
    let mut buf = Vec::new();
    let items: Vec<(Id, u64)> = found.hits.iter().map(|h| (h.id, h.facts.created_ms)).collect();
    write_listing(
        store,
        |f| {
            store.index.for_each_listed(&items, f)?;
            Ok(found.total)
        },
        claims,
        Some(&found.blockers),
        &mut buf,
    )?;
    Ok(serde_json::from_slice(&buf).expect("the index writes valid JSON"))
}
