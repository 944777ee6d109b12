//! Reading issues: `list` (with the first-minutes hints) and `show`.

use super::*;

/// In a clone whose log is empty, looks for remotes that hold issues this clone never fetched
/// (`git clone` brings branches only): fetches them when `grit.autoInit` allows, else says how.
pub(in crate::cli) fn first_minutes(ui: &Ui, store: Store) -> Result<Store, CommandError> {
    if store.index.event_count()? > 0 {
        return Ok(store);
    }
    let remotes = crate::sync::remotes_with_unfetched_events(&store.repo).unwrap_or_default();
    if remotes.is_empty() {
        return Ok(store);
    }
    if store.repo.config_bool("grit.autoInit") != Some(true) {
        for r in &remotes {
            ui.note(format!(
                "hint: the remote '{r}' has issues this clone has not fetched; `git wal init` fetches them \
                 (and `git config grit.autoInit true` does it by itself next time)"
            ));
        }
        return Ok(store);
    }
    for r in &remotes {
        crate::sync::configure_fetch(&store.repo, r)?;
        crate::sync::fetch_grit(&store.repo, r)?;
        ui.note(format!(
            "fetched the issues of '{r}' (grit.autoInit); `git wal init` also installs the hooks that keep them current"
        ));
    }
    drop(store);
    open(ui)
}

pub(in crate::cli) fn list(ui: &mut Ui, a: ListArgs) -> Result<(), CommandError> {
    let store = first_minutes(ui, open(ui)?)?;
    let claims = claims(&store)?;
    let what = match a.state {
        Some(StateFilter::Open) | None => "open ",
        Some(StateFilter::Closed) => "closed ",
        Some(StateFilter::All) => "",
    };
    let state = |s: Option<StateFilter>| match s.unwrap_or(StateFilter::Open) {
        StateFilter::Open => Some(State::Open),
        StateFilter::Closed => Some(State::Closed),
        StateFilter::All => None,
    };
    let simple = a.query.search.is_none() && a.query.view.is_none() && a.author.is_none();
    let rows = if simple {
        // The flags alone: the rows, newest first, stopping at the limit.
        let assignee = match a.assignee {
            Some(w) if w == "@me" => Some(store.actor()?.record.email),
            other => other,
        };
        Rows::Filter(ListFilter {
            state: state(a.state),
            labels: a.labels,
            assignee,
            author: None,
            exclude: Default::default(),
            limit: a.limit,
        })
    } else {
        let mut q = search::parse_query(&store, &a.query)?;
        let what = if a.state.is_none() && search::mentions_state(&q) {
            ""
        } else {
            what
        };
        let mut terms = Vec::new();
        if (!what.is_empty() || a.state.is_some())
            && let Some(s) = state(a.state)
        {
            terms.push(Term::State(s));
        }
        terms.extend(a.labels.iter().map(|l| Term::Label(vec![l.clone()])));
        terms.extend(a.assignee.iter().map(|w| Term::Assignee(vec![w.clone()])));
        terms.extend(a.author.iter().map(|w| Term::Author(w.clone())));
        for t in terms {
            q = q.and(Query {
                expr: Some(Expr::Term(t)),
                sort: None,
            });
        }
        search::resolve_me(&store, &mut q)?;
        let ctx = search::context(&store, &claims)?;
        Rows::Found(store.index.search(&q, &ctx, Queue::All, a.limit)?)
    };
    let what = match &rows {
        Rows::Found(_) if a.state.is_none() => "",
        _ => what,
    };
    search::print(ui, &store, &rows, &claims, &a.output, a.limit, what)
}

pub(in crate::cli) fn show(ui: &mut Ui, a: ShowArgs) -> Result<(), CommandError> {
    let store = open(ui)?;
    let id = store.index.resolve(&a.id)?;
    if a.history {
        return history(ui, &store, &id);
    }
    if ui.json {
        return ui.json(&crate::ops::show::detail(&store, &a.id)?);
    }
    let v = store.index.view(&id)?;
    let claim = claims(&store)?.remove(&id);
    let state = match v.state {
        State::Open => ui.paint("32", "Open"),
        State::Closed => ui.paint("35", "Closed"),
    };
    let reason = v
        .state_reason
        .as_deref()
        .map(|r| format!(" as {}", r.replace('_', " ")))
        .unwrap_or_default();
    ui.say(format!(
        "{} {}",
        ui.paint("1", &esc(&v.title)),
        ui.paint("33", &v.short_id)
    ))?;
    ui.say(format!(
        "{state}{reason} • {} opened {} • {} comment{}",
        esc(&v.author.display()),
        &v.created_at[..10],
        v.comments.len(),
        if v.comments.len() == 1 { "" } else { "s" }
    ))?;
    if !v.labels.is_empty() {
        let labels: Vec<_> = v.labels.iter().map(|l| esc(l)).collect();
        ui.say(format!("Labels: {}", labels.join(", ")))?;
    }
    if !v.assignees.is_empty() {
        let assignees: Vec<_> = v.assignees.iter().map(|a| esc(a)).collect();
        ui.say(format!("Assignees: {}", assignees.join(", ")))?;
    }
    if let Some(c) = &claim {
        ui.say(format!("Claimed by {} until {}", esc(&c.who()), c.until))?;
    }
    ui.say(format!("Priority: P{} • Type: {}", v.priority, esc(&v.issue_type)))?;
    for o in crate::ops::show::overridden(&store, &id)? {
        let who = crate::event::ActorId::from_hex(&o.by)
            .and_then(|a| store.index.author(&a).ok())
            .map_or_else(|| o.by[..12].to_owned(), |a| a.display());
        let lost: String = o.lost.chars().take(60).collect();
        ui.say(ui.paint(
            "33",
            &format!(
                "Overridden: your {} (“{}”) lost to {}'s concurrent edit; redo it with `git issue edit`",
                o.field,
                esc(&lost),
                esc(&who)
            ),
        ))?;
    }
    if let Some(src) = &v.source {
        let url = v.url.as_deref().map(|u| format!(" ({})", esc(u))).unwrap_or_default();
        ui.say(format!("Imported from {}{url}", esc(src)))?;
    }
    links::print(ui, &links::views(&store, &id)?, &links::cycles(&store, &id)?)?;
    ui.say("")?;
    if v.body.is_empty() {
        ui.say("  No description provided")?;
    } else {
        for line in v.body.lines() {
            ui.say(format!("  {}", esc(line)))?;
        }
    }
    for c in &v.comments {
        ui.say("")?;
        ui.say(format!(
            "{} • {}",
            ui.paint("1", &esc(&c.author.display())),
            c.created_at
        ))?;
        for line in c.body.lines() {
            ui.say(format!("  {}", esc(line)))?;
        }
    }
    Ok(())
}

/// `show --history`: every event of the issue, a line each (a comment's text below it).
fn history(ui: &mut Ui, store: &Store, id: &crate::event::Id) -> Result<(), CommandError> {
    let steps = crate::ops::show::timeline(store, id)?;
    if ui.json {
        return ui.json(&steps);
    }
    for step in &steps {
        let sig = match step.signature {
            crate::ops::show::Signature::Unnamed => ui.paint("33", "signed, unnamed key"),
            crate::ops::show::Signature::Local => ui.paint("32", "signed here"),
            crate::ops::show::Signature::Published => ui.paint("32", "signed"),
        };
        ui.say(format!(
            "{} {} {} {} [{sig} {}]",
            ui.paint("33", &step.event[..12]),
            step.time,
            ui.paint("1", &esc(&step.by)),
            esc(&step.what),
            &step.signer[..12],
        ))?;
        for line in step.body.iter().flat_map(|b| b.lines()) {
            ui.say(format!("    {}", esc(line)))?;
        }
    }
    Ok(())
}
