//! `git sandbox list`, `diff` and `logs`: what the sandboxes hold and what ran in them.

use super::*;

pub(in crate::cli) fn list(ui: &mut Ui, main: &Main, exact: bool) -> Result<(), CommandError> {
    let listed = ops(main).list_checked(exact)?;
    if ui.json {
        return ui.json(&listed);
    }
    if listed.is_empty() {
        ui.note("no sandboxes; `git sandbox run NAME -- CMD` makes one");
        return Ok(());
    }
    // A person at a terminal (or anyone asking for colour) gets a header and colour; a script
    // reading a pipe gets the rows alone, as before.
    let mut rows: Vec<Vec<String>> = Vec::new();
    if ui.tty || ui.color {
        rows.push(
            ["NAME", "STATE", "AHEAD", "BASE", "BACKEND", "CREATED", "PATH"]
                .iter()
                .map(|h| ui.paint("1", h))
                .collect(),
        );
    }
    rows.extend(listed.iter().map(|s| {
        vec![
            ui.paint("1", &crate::cli::term::esc(&s.name)),
            match (s.dirty, &s.sync_conflict) {
                (_, Some(_)) => ui.paint(
                    "31",
                    if s.dirty {
                        "dirty, base conflicts"
                    } else {
                        "base conflicts"
                    },
                ),
                (true, None) => ui.paint("33", "dirty"),
                (false, None) => ui.paint("32", "clean"),
            },
            match (s.ahead, s.behind) {
                (0, 0) => ui.paint("2", "+0 -0"),
                (a, b) => format!(
                    "{} {}",
                    ui.paint("32", &format!("+{a}")),
                    ui.paint("31", &format!("-{b}"))
                ),
            },
            s.base_ref.as_deref().unwrap_or(&s.base).chars().take(20).collect(),
            match &s.remote {
                None => format!("{:?}", s.backend).to_lowercase(),
                Some(rm) => {
                    let on = format!("on {}", crate::cli::term::esc(&rm.on));
                    match rm.state.as_str() {
                        "lost" => ui.paint("31", &format!("{on} (connection lost)")),
                        "running" => ui.paint("33", &format!("{on} (running)")),
                        _ => ui.paint("36", &on),
                    }
                }
            },
            s.created_at.clone(),
            ui.paint("2", &crate::cli::term::esc(&s.path)),
        ]
    }));
    for line in columns(&rows) {
        ui.say(line)?;
    }
    Ok(())
}

pub(in crate::cli) fn diff(ui: &mut Ui, main: &Main, r: &Record, stat: bool) -> Result<(), CommandError> {
    if ui.json {
        let d = ops(main).diff(r)?;
        return ui.json(&serde_json::json!({ "name": d.name, "files": d.files }));
    }
    let (from, to) = crate::ops::sandboxes::diff_trees(r)?;
    ui.flush()?;
    let st = Process::new("git")
        .current_dir(&r.path)
        .arg("diff")
        .args(if stat { &["--stat"][..] } else { &[] })
        .args([&from, &to])
        .status()?;
    exit_with(st.code().unwrap_or(1))
}

/// `logs NAME`: a kept run's output, or the list of runs.
pub(in crate::cli) fn logs(ui: &mut Ui, r: &Record, a: &LogsArgs) -> Result<(), CommandError> {
    if a.list {
        if ui.json {
            return ui.json(&r.runs);
        }
        let rows: Vec<Vec<String>> = r
            .runs
            .iter()
            .rev()
            .enumerate()
            .map(|(i, run)| {
                vec![
                    format!("{}", i + 1),
                    run.started_at.clone(),
                    if run.via.is_empty() {
                        "-".into()
                    } else {
                        run.via.clone()
                    },
                    if run.actor.is_empty() {
                        "-".into()
                    } else {
                        crate::cli::term::esc(&run.actor).into_owned()
                    },
                    format!("exit {}", run.exit_code),
                    format!("{} ms", run.duration_ms),
                    if run.log.is_some() { "log".into() } else { "-".into() },
                    crate::cli::term::esc(&run.cmd.join(" ")).into_owned(),
                ]
            })
            .collect();
        for line in columns(&rows) {
            ui.say(line)?;
        }
        return Ok(());
    }
    let Some(run) = r.runs.len().checked_sub(a.run.max(1)).and_then(|i| r.runs.get(i)) else {
        return Err(CommandError::usage(
            format!(
                "sandbox {} has {} run(s) kept; there is no run {}",
                r.name,
                r.runs.len(),
                a.run
            ),
            format!("`git sandbox logs {} --list` lists them", r.name),
        ));
    };
    let Some(path) = &run.log else {
        return Err(CommandError::failure(format!(
            "the output of that run ({}) was not kept: it went to a terminal",
            crate::cli::term::esc(&run.cmd.join(" "))
        ))
        .hint("runs whose output is not a terminal (agents, scripts, the socket, MCP) are kept"));
    };
    let text = std::fs::read(path).map_err(crate::Error::io(path))?;
    if ui.json {
        return ui.json(&serde_json::json!({
            "name": r.name,
            "cmd": run.cmd,
            "exit_code": run.exit_code,
            "started_at": run.started_at,
            "output": String::from_utf8_lossy(&text),
        }));
    }
    // Another program's output, shown as it is to a pipe and escaped to a terminal.
    if ui.tty {
        for line in String::from_utf8_lossy(&text).lines() {
            ui.say(crate::cli::term::esc(line))?;
        }
        Ok(())
    } else {
        ui.flush()?;
        use std::io::Write;
        std::io::stdout().write_all(&text).map_err(CommandError::from)
    }
}

/// A squash plan: each group's header and commits; then how to apply it, or what applying did.
pub(in crate::cli) fn squash_plan(
    ui: &mut Ui,
    r: &Record,
    plan: &crate::ops::squash::SquashPlan,
) -> Result<(), CommandError> {
    if ui.json {
        return ui.json(plan);
    }
    let short = |id: &str| id.chars().take(10).collect::<String>();
    ui.say(format!(
        "{}: {} commit(s) since {}, in {} group(s)",
        plan.branch,
        plan.commits,
        short(&plan.base),
        plan.groups.len()
    ))?;
    for g in &plan.groups {
        let title = g.message.lines().next().unwrap_or_default();
        ui.say(format!("  {}", ui.paint("1", &crate::cli::term::esc(title))))?;
        for c in &g.commits {
            ui.say(format!(
                "      {} {}",
                ui.paint("33", &short(&c.id)),
                crate::cli::term::esc(&c.subject)
            ))?;
        }
    }
    if let Some(n) = &plan.note {
        ui.note(n);
    }
    match &plan.applied {
        Some(_) => ui.note(format!(
            "squashed {} into {} commit(s): {} was {}; `git -C {} reset --soft {}` undoes it",
            plan.branch,
            plan.groups.len(),
            plan.branch,
            short(&plan.head),
            crate::cli::term::esc(&r.path.display().to_string()),
            short(&plan.head)
        )),
        None if plan.groups.len() < plan.commits => {
            ui.note(format!("apply it: git sandbox squash-plan {} --apply", r.name));
        }
        None => {}
    }
    Ok(())
}
