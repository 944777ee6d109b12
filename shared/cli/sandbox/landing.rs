//! `git sandbox merge` (one, several, or a plan) and `land` (with `--pr`): work going back.

use super::*;

/// The files a merge of the sandbox's branch would conflict on, changing nothing.
pub(in crate::cli) fn preview(ui: &mut Ui, main: &Main, r: &Record) -> Result<(), CommandError> {
    let conflicts = ops(main).preview(r)?;
    if ui.json {
        return ui.json(&serde_json::json!({
            "name": r.name,
            "branch": r.branch,
            "clean": conflicts.is_empty(),
            "conflicts": conflicts,
        }));
    }
    if conflicts.is_empty() {
        return ui.say(format!("{} merges cleanly into the current branch", r.branch));
    }
    ui.say(format!("{} would conflict in {} file(s):", r.branch, conflicts.len()))?;
    for c in &conflicts {
        ui.say(format!("  {}", crate::cli::term::esc(c)))?;
    }
    Err(CommandError {
        damaged_index: None,
        code: crate::cli::exit::FAILURE,
        message: String::new(),
        causes: vec![],
        hints: vec![],
    })
}

pub(in crate::cli) fn merge(ui: &mut Ui, main: &Main, r: &Record, rebase: bool) -> Result<(), CommandError> {
    let m = ops(main).merge(r, rebase)?;
    if ui.json {
        return ui.json(&m);
    }
    if m.before == m.after {
        return ui.say(format!("{} was already merged", r.branch));
    }
    ui.say(format!(
        "{} {} into the current branch ({}..{})",
        if rebase { "rebased and fast-forwarded" } else { "merged" },
        r.branch,
        &m.before[..12],
        &m.after[..12]
    ))
}

pub(in crate::cli) fn land(ui: &mut Ui, main: &Main, a: LandArgs) -> Result<(), CommandError> {
    let r = find_ready(main, &a.name)?;
    if a.pr {
        return propose(ui, main, &r, a);
    }
    let mut opts = sandbox::land::LandOptions::new(main);
    if a.rebase {
        opts.strategy = sandbox::land::Strategy::Rebase;
    }
    opts.remote = a.remote.clone();
    opts.deadline = crate::lock::parse_duration(&a.timeout)?;
    let req = crate::ops::sandboxes::LandRequest {
        message: a.message.clone(),
        keep_locks: a.keep_locks,
        remove: a.rm,
    };
    let report = ops(main).land(&r, &opts, &req)?;
    if ui.json {
        return ui.json(&report);
    }
    if let Some(c) = &report.committed {
        ui.note(format!("committed {} on {}", &c[..12], r.branch));
    }
    note_gone(ui, &report.gone);
    if report.branch_kept {
        ui.note(format!("its branch {} stays: it holds commits not merged", r.branch));
    }
    let landed = &report.landed;
    for w in &landed.warnings {
        ui.note(format!("warning: {}", crate::cli::term::esc(w)));
    }
    if landed.already {
        ui.say(format!("{} was already on {}", r.branch, landed.target))?;
    } else {
        ui.say(format!(
            "landed {} on {} ({}..{}){}",
            r.branch,
            landed.target,
            &landed.before[..landed.before.len().min(12)],
            &landed.after[..landed.after.len().min(12)],
            match (&landed.remote, landed.pushed) {
                (Some(rm), true) if landed.retries > 0 => format!(", pushed to {rm} after {} retries", landed.retries),
                (Some(rm), true) => format!(", pushed to {rm}"),
                _ => ", not pushed: no remote".into(),
            }
        ))?;
    }
    for i in &landed.closed {
        ui.note(format!("closed issue {}", &i[..i.len().min(12)]));
    }
    Ok(())
}

/// `merge --all`, `merge -S QUERY` and `merge NAME NAME…`: the plan, then (without --plan) the
/// merges it allows.
pub(in crate::cli) fn merge_many(ui: &mut Ui, main: &Main, a: &MergeArgs) -> Result<(), CommandError> {
    let all = main.list()?;
    let mut chosen: Vec<Record> = if a.all {
        all.clone()
    } else {
        a.names.iter().map(|n| find(main, n)).collect::<Result<_, _>>()?
    };
    if let Some(q) = &a.search {
        let store = crate::store::Store::open(&main.tree)?;
        let query = crate::ops::query::parse(&store, None, Some(q))?;
        let ctx = crate::ops::query::context(&store)?;
        let found = store.index.search(&query, &ctx, crate::index::search::Queue::All, 0)?;
        let ids: std::collections::HashSet<crate::event::Id> = found.hits.iter().map(|h| h.id).collect();
        chosen.extend(all.into_iter().filter(|r| {
            r.issue
                .as_deref()
                .and_then(|i| store.index.resolve(i).ok())
                .is_some_and(|id| ids.contains(&id))
        }));
        chosen.sort_by(|x, y| x.name.cmp(&y.name));
        chosen.dedup_by(|x, y| x.name == y.name);
    }
    if chosen.is_empty() {
        ui.note("no sandboxes to merge");
        return Ok(());
    }
    let ops = ops(main);
    let (plan, merged) = if a.plan {
        (ops.plan_merge(&chosen)?, None)
    } else {
        let done = ops.merge_all(&chosen, a.rebase)?;
        (done.plan, Some(done.merged))
    };
    if ui.json {
        let mut v = serde_json::to_value(&plan).map_err(std::io::Error::from)?;
        if let Some(m) = &merged {
            v["merged"] = serde_json::to_value(m).map_err(std::io::Error::from)?;
        }
        return ui.json(&v);
    }
    let esc = |s: &str| crate::cli::term::esc(s).into_owned();
    let verb = if merged.is_some() { "merged" } else { "would merge" };
    ui.say(format!(
        "{verb} into {}: {}",
        plan.target,
        if plan.merge.is_empty() {
            "nothing".to_owned()
        } else {
            plan.merge.iter().map(|n| esc(n)).collect::<Vec<_>>().join(", ")
        }
    ))?;
    for g in &plan.groups {
        ui.say(format!(
            "conflict group: {} over {}",
            g.sandboxes.iter().map(|n| esc(n)).collect::<Vec<_>>().join(", "),
            g.files.iter().map(|f| esc(f)).collect::<Vec<_>>().join(", ")
        ))?;
    }
    if !plan.held.is_empty() {
        ui.say(format!(
            "held (each conflicts with one merged before it): {}",
            plan.held.iter().map(|n| esc(n)).collect::<Vec<_>>().join(", ")
        ))?;
    }
    for w in &plan.conflicts_with_target {
        ui.say(format!(
            "conflicts with {}: {} over {}",
            plan.target,
            esc(&w.name),
            w.files.iter().map(|f| esc(f)).collect::<Vec<_>>().join(", ")
        ))?;
    }
    if !plan.up_to_date.is_empty() {
        ui.say(format!("already merged: {}", plan.up_to_date.join(", ")))?;
    }
    if !plan.held.is_empty() || !plan.conflicts_with_target.is_empty() {
        ui.note("hint: resolve a held sandbox with `git sandbox merge NAME` (the conflict is left to resolve), then plan again");
    }
    Ok(())
}

/// `land --pr`: the branch pushed and a pull request opened, through the operation.
pub(in crate::cli) fn propose(ui: &mut Ui, main: &Main, r: &Record, a: LandArgs) -> Result<(), CommandError> {
    let token = crate::rest::github_token().ok_or_else(|| {
        CommandError::usage(
            "--pr opens a pull request through GitHub's API, and no token is set",
            "export GITHUB_TOKEN (a fine-grained token with Pull requests: read and write), or GH_TOKEN",
        )
    })?;
    let mut api = crate::rest::Client::new(Some(token));
    let quiet = ui.quiet;
    api.on_wait = Box::new(move |why, d| {
        if !quiet {
            eprintln!("waiting {} s: {why}", d.as_secs());
        }
    });
    let opts = sandbox::land::ProposeOptions {
        remote: a.remote.clone(),
        repo: a.repo.clone(),
        draft: a.draft,
    };
    let p = ops(main).propose(r, &opts, a.message.as_deref(), &mut api)?;
    if ui.json {
        return ui.json(&p);
    }
    ui.say(format!(
        "pushed {} to {}; pull request #{} {} {}",
        p.branch,
        p.remote,
        p.number,
        if p.created {
            "opened:"
        } else {
            "(already open) updated:"
        },
        crate::cli::term::esc(&p.url)
    ))?;
    ui.note(format!(
        "nothing landed: the sandbox stays (and any lock it holds) until the pull request merges; its {} \
         Fixes:/Closes:/Refs: trailer(s) act then",
        p.trailers.len()
    ));
    Ok(())
}
