//! Writing issues: `create`, `edit`, `comment`, `close`, `reopen`, and closing from commits.

use super::*;

/// Whether a person is at the keyboard: text left out may be asked for in their editor.
pub(in crate::cli) fn at_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

pub(in crate::cli) fn create(ui: &mut Ui, a: CreateArgs) -> Result<(), CommandError> {
    let body = read_body(&a.body)?.unwrap_or_default();
    // Without --title on a terminal, the editor opens (as `git commit` and `gh issue create` do).
    let (title, body) = match a.title {
        Some(t) => (t, body),
        None if at_terminal() => {
            let template = format!("\n{body}\n{}", crate::text::ISSUE_TEMPLATE);
            let text = crate::sys::edit_text(&ui.dir, &template)?;
            match text.as_deref().and_then(crate::text::edited_issue) {
                Some(written) => written,
                None => return Err(cancelled()),
            }
        }
        None => {
            return Err(CommandError::usage(
                "a title is required",
                "`git issue create --title \"…\" [--body \"…\"]` (on a terminal, without --title, your editor opens)",
            ));
        }
    };
    let title = clean_text("title", &title, false)?;
    let store = open(ui)?;
    let new = crate::ops::NewIssue {
        title,
        body,
        labels: a.labels,
        assignees: a.assignees,
        priority: a.plan.priority,
        issue_type: a.plan.issue_type,
        parent: a.parent,
        blocked_by: a.blocked_by,
        discovered_from: a.discovered_from.into_iter().collect(),
    };
    let made = crate::ops::Issues::new(&store).create(&new)?;
    tell(ui, &made);
    print_written(ui, &store, &made.id, "created")
}

pub(in crate::cli) fn print_written(ui: &mut Ui, store: &Store, id: &Id, verb: &str) -> Result<(), CommandError> {
    if let Some(why) = store.index_behind.borrow().as_deref() {
        // The events are in the WAL; the index may not know them yet, so say only the id.
        if !ui.quiet {
            eprintln!(
                "warning: {verb}, but the index could not take the write in: {}",
                term::line(why, false)
            );
            eprintln!("hint: nothing to redo; the next command brings the index up to date");
        }
        if ui.json {
            return ui.json(&serde_json::json!({ "id": id.to_hex() }));
        }
        return ui.say(id.to_hex());
    }
    if ui.json {
        return ui.json(&crate::ops::show::detail_of(store, id, store.index.view(id)?)?);
    }
    let short = store.index.short_id(id)?;
    if ui.tty {
        let title = store
            .index
            .issue(id)?
            .and_then(|s| s.title.map(|t| t.value))
            .unwrap_or_default();
        let line = format!("{} {} {}", ui.paint("32", verb), ui.paint("33", &short), esc(&title));
        ui.say(line)
    } else {
        ui.say(short)
    }
}

pub(in crate::cli) fn edit(ui: &mut Ui, a: EditArgs) -> Result<(), CommandError> {
    let mut links: Vec<(LinkSpec, String, bool)> = Vec::new();
    for (spec, ids, add) in a.link_flags() {
        links.extend(ids.iter().map(|q| (spec, q.clone(), add)));
    }
    let edit = crate::ops::Edit {
        title: a.title.clone(),
        body: read_body(&a.body)?,
        add_labels: a.add_label.clone(),
        remove_labels: a.remove_label.clone(),
        add_assignees: a.add_assignee.clone(),
        remove_assignees: a.remove_assignee.clone(),
        priority: a.plan.priority,
        issue_type: a.plan.issue_type.clone(),
        parent: a.parent.clone(),
        links,
        lock: a.lock.lock,
    };
    if edit.is_empty() {
        // Said before the repository is opened: a usage error needs none.
        return Err(crate::Error::invalid(
            "nothing to edit",
            "give at least one of --title, --body, --body-file, --add-label, --remove-label, --add-assignee, \
             --remove-assignee, --priority, --type, --parent, --add-blocked-by, --add-blocks, --add-related, …",
        )
        .into());
    }
    let store = open(ui)?;
    let done = crate::ops::Issues::new(&store).edit(&a.id, &edit)?;
    tell(ui, &done);
    print_written(ui, &store, &done.id, "edited")
}

/// The editor was left empty, or failed: nothing is written.
pub(in crate::cli) fn cancelled() -> CommandError {
    CommandError::usage(
        "the text was left empty; nothing was written",
        "write the text in the editor and save it, or pass it as an option",
    )
}

pub(in crate::cli) fn comment(ui: &mut Ui, a: CommentArgs) -> Result<(), CommandError> {
    let body = match read_body(&a.body)? {
        Some(b) => b,
        None if at_terminal() => {
            let text = crate::sys::edit_text(&ui.dir, crate::text::COMMENT_TEMPLATE)?;
            text.as_deref().and_then(crate::text::edited).ok_or_else(cancelled)?
        }
        None => {
            return Err(CommandError::usage(
                "a comment needs a body",
                "`git issue comment ID --body \"…\"` or `--body-file FILE` (on a terminal, your editor opens)",
            ));
        }
    };
    let body = clean_text("comment", &body, true)?;
    let store = open(ui)?;
    let id = store.index.resolve(&a.id)?;
    let done = crate::ops::Issues::new(&store).comment(&id, &body, a.lock.lock)?;
    tell(ui, &done);
    print_written(ui, &store, &id, "commented on")
}

pub(in crate::cli) fn set_state(
    ui: &mut Ui,
    query: &str,
    lock: bool,
    to: State,
    reason: Option<Reason>,
    comment: Option<String>,
) -> Result<(), CommandError> {
    let comment = comment.map(|c| clean_text("comment", &c, true)).transpose()?;
    let store = open(ui)?;
    let id = store.index.resolve(query)?;
    let change = crate::ops::StateChange {
        to,
        reason: reason.map(|r| match r {
            Reason::Completed => "completed".to_owned(),
            Reason::NotPlanned => "not_planned".to_owned(),
        }),
        comment,
        lock,
    };
    let done = crate::ops::Issues::new(&store).set_state(&id, &change)?;
    tell(ui, &done);
    print_written(ui, &store, &id, if to == State::Closed { "closed" } else { "reopened" })
}

pub(in crate::cli) fn close_from_commits(ui: &mut Ui, range: &str) -> Result<(), CommandError> {
    let store = open(ui)?;
    let branch = crate::trailers::close_branch(&store.repo).ok_or_else(|| {
        CommandError::failure("there is no default branch to close issues from")
            .hint("`git config grit.closeBranch main` names it")
    })?;
    let all = crate::trailers::in_range(&store.repo, range).map_err(|e| {
        CommandError::from(e).hint("give a range git understands, e.g. `main~10..main` or `$BEFORE..$AFTER`")
    })?;
    let (on, off): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|c| crate::trailers::on_branch(&store.repo, &c.commit, &branch));
    let mut applied = crate::trailers::apply(&store, &on)?;
    for c in &off {
        applied.warnings.push(format!(
            "commit {} is not on {branch}: it closes nothing yet",
            &c.commit[..12]
        ));
    }
    if ui.json {
        return ui.json(&applied);
    }
    for w in &applied.warnings {
        ui.note(format!("warning: {}", esc(w)));
    }
    for (issue, commit) in &applied.closed {
        let id = Id::from_hex(issue).expect("ids are hex");
        ui.say(format!(
            "closed {} (commit {})",
            store.index.short_id(&id)?,
            &commit[..12]
        ))?;
    }
    for (issue, commit) in &applied.referenced {
        let id = Id::from_hex(issue).expect("ids are hex");
        ui.say(format!(
            "commented on {} (commit {})",
            store.index.short_id(&id)?,
            &commit[..12]
        ))?;
    }
    if applied.closed.is_empty() && applied.referenced.is_empty() {
        ui.note(format!("nothing to do ({} already applied)", applied.unchanged));
    }
    Ok(())
}
