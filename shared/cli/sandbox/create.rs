//! `git sandbox run`: making a sandbox, running the command in it, and what to do with it after.

use super::*;
use crate::ops::sandboxes::Exec;

/// Runs a command in a sandbox and records it (command, environment, exit code, times, face),
/// with the terminal's signals going to the command, not to this process.
pub(in crate::cli) fn run_recorded(ui: &Ui, main: &Main, r: &Record, exec: Exec) -> Result<i32, CommandError> {
    block_signals();
    let ran = ops(main).exec(
        r,
        &exec,
        crate::ops::sandboxes::Output::Inherit {
            stdout_to_stderr: ui.json,
        },
    );
    drain_signals();
    let ran = ran?;
    if let Some(why) = &ran.not_found {
        eprintln!("error: {why}");
    }
    Ok(ran.exit_code)
}

/// The isolation asked for (`--isolate`, or sandbox.isolate=true), checked to be possible:
/// never `None` when it was asked for and cannot be had.
pub(in crate::cli) fn isolation(
    main: &Main,
    a: &IsolateArgs,
) -> Result<Option<sandbox::isolate::Isolate>, CommandError> {
    let (iso, why) = ops(main).isolation(&a.policy())?;
    if let Some(why) = why {
        eprintln!("note: {why}");
    }
    Ok(iso)
}

/// What a `run` asks to make, for sandbox `name`.
pub(in crate::cli) fn request(a: &RunArgs, name: &str) -> Result<CreateRequest, CommandError> {
    let mut req = CreateRequest::named(name);
    req.base = a.base.clone();
    req.clean = a.clean;
    req.excludes = a.exclude.clone();
    req.template = a.template.clone();
    req.backend = a.backend.clone();
    req.env = parse_envs(&a.env)?;
    req.on = a.on.clone();
    Ok(req)
}

/// The template, environment and creation options a `run` asks for, resolved once (a matrix
/// makes each of its sandboxes from them with [`spec`]).
pub(in crate::cli) fn options(ui: &Ui, main: &Main, a: &RunArgs) -> Result<Resolved, CommandError> {
    let resolved = ops(main).resolve(&request(a, &a.name)?)?;
    for n in &resolved.notes {
        ui.note(n);
    }
    Ok(resolved)
}

/// The creation options of sandbox `name`, from a run's resolved options.
pub(in crate::cli) fn spec(r: &Resolved, name: &str) -> Spec {
    Spec {
        name: name.to_owned(),
        ..r.spec.clone()
    }
}

/// Creates a sandbox with what it takes on (`Sandboxes::make`); what went wrong beside it is
/// said as a warning.
pub(crate) fn make(
    ui: &Ui,
    main: &Main,
    spec: Spec,
    issue: Option<&str>,
    lock: &[String],
    stop: &(dyn Fn() -> Option<i32> + Sync),
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Record, CommandError> {
    let mut warnings = Vec::new();
    let made = ops(main).make(spec, issue, lock, stop, progress, &mut warnings);
    for w in warnings {
        ui.note(format!("warning: {w}"));
    }
    match made {
        Ok(r) => Ok(r),
        Err(Stopped::Interrupted(sig)) => Err(interrupted(sig)),
        Err(Stopped::Failed(e)) => Err(e.into()),
    }
}

pub(in crate::cli) fn run_cmd(ui: &mut Ui, main: &Main, a: RunArgs) -> Result<(), CommandError> {
    if a.matrix.is_some() {
        return crate::cli::matrix::run(ui, main, a);
    }
    sandbox::validate_name(&a.name)?;
    // Isolation that cannot be had stops the run before anything is made.
    let iso = isolation(main, &a.isolate)?;
    let resolved = options(ui, main, &a)?;
    let (template, env) = (&resolved.template, &resolved.env);
    if let Some(sig) = pending_signal() {
        return Err(interrupted(sig));
    }
    block_signals();
    let progress = progress_printer(ui);
    let record = make(
        ui,
        main,
        spec(&resolved, &a.name),
        a.issue.as_deref(),
        &a.lock,
        &pending_signal,
        &progress,
    )?;
    ui.note(format!("sandbox {} at {}", record.name, record.path.display()));
    ui.flush()?;
    if let Some(setup) = template.as_ref().and_then(|t| t.setup.clone()) {
        let code = execute(&record.path, std::slice::from_ref(&setup), true, env, ui.json)?;
        if code != 0 {
            return Err(CommandError::failure(format!(
                "the setup of template {} (`{setup}`) exited with {code}; the sandbox is kept",
                template.as_ref().map_or("", |t| t.name.as_str())
            ))
            .hint(format!(
                "`git sandbox open {}` to look; `git sandbox rm {} --force` removes it",
                record.name, record.name
            )));
        }
    }
    let exec = Exec {
        cmd: a.cmd.clone(),
        sh: a.sh,
        env: env.to_vec(),
        isolate: iso,
        via: "cli",
    };
    let code = run_recorded(ui, main, &record, exec)?;
    // Its runs are in the record now, for a commit's provenance.
    let record = main.load(&record.name)?.unwrap_or(record);
    let tty = std::io::stdin().is_terminal();
    let undecided = !a.keep && a.commit.is_none() && !a.discard;
    // `--default`, else sandbox.defaultAction: with or without a terminal (agents and CI that
    // ask for discard must not fill the disk).
    let default = a.default.or_else(|| {
        main.repo
            .config_string("sandbox.defaultAction")
            .and_then(|v| <Afterwards as clap::ValueEnum>::from_str(v.trim(), true).ok())
    });
    let decision = if let (true, Some(d)) = (undecided, default) {
        match d {
            Afterwards::Commit => {
                After::Commit(last_message(&record).unwrap_or_else(|| format!("sandbox {}", record.name)))
            }
            Afterwards::Keep => After::Keep,
            Afterwards::Discard => After::Discard,
            Afterwards::Shell if tty => {
                execute(&record.path, &[], false, &[], false)?;
                After::Keep
            }
            Afterwards::Shell => After::Keep,
        }
    } else if tty && undecided {
        prompt(&record)?
    } else if undecided {
        ui.note(
            "no terminal to ask what to do with the sandbox: it is kept (--default or sandbox.defaultAction decides)",
        );
        After::Keep
    } else if let Some(m) = a.commit {
        After::Commit(m)
    } else if a.discard {
        After::Discard
    } else {
        After::Keep
    };
    let (after, committed) = match decision {
        After::Commit(m) => {
            let c = commit(main, &record, &m, false)?;
            after_commit_json(ui, &record, c.as_deref(), false)?;
            if c.is_some() {
                release_locks(ui, main, &record, &format!("committed sandbox {}", record.name))?;
            }
            ("committed", c)
        }
        After::Discard => {
            sandbox::remove(main, &record)?;
            release_locks(ui, main, &record, &format!("discarded sandbox {}", record.name))?;
            ui.note(format!("discarded sandbox {}", record.name));
            ("discarded", None)
        }
        After::Keep => {
            ui.note(format!(
                "kept sandbox {} (`git sandbox open {}`, `git sandbox rm {}`)",
                record.name, record.name, record.name
            ));
            ("kept", None)
        }
    };
    if ui.json {
        ui.json(&serde_json::json!({
            "name": record.name,
            "path": record.path,
            "branch": record.branch,
            "base": record.base,
            "backend": record.backend,
            "exit_code": code,
            "after": after,
            "commit": committed,
        }))?;
    }
    exit_with(code)
}

pub(in crate::cli) enum After {
    Commit(String),
    Keep,
    Discard,
}

/// The subject of the sandbox's last commit since its base, if it made one.
pub(in crate::cli) fn last_message(r: &Record) -> Option<String> {
    let out = sandbox::git_in(&r.path, &["log", "-1", "--format=%s", &format!("{}..HEAD", r.base)]).ok()?;
    Some(out.trim().to_owned()).filter(|m| !m.is_empty())
}

pub(in crate::cli) fn prompt(r: &Record) -> Result<After, CommandError> {
    let stdin = std::io::stdin();
    loop {
        eprint!("sandbox {}: [c]ommit, [k]eep, [s]hell, [d]iscard? ", r.name);
        std::io::stderr().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            return Ok(After::Keep);
        }
        match line.trim() {
            "c" | "commit" => {
                // The last message used in this sandbox, else its name: Enter takes it.
                let last = last_message(r).unwrap_or_else(|| format!("sandbox {}", r.name));
                eprint!("commit message [{last}]: ");
                std::io::stderr().flush()?;
                let mut m = String::new();
                stdin.lock().read_line(&mut m)?;
                let m = m.trim();
                return Ok(After::Commit(if m.is_empty() { last } else { m.to_owned() }));
            }
            "k" | "keep" | "" => return Ok(After::Keep),
            "d" | "discard" => return Ok(After::Discard),
            "s" | "shell" => {
                execute(&r.path, &[], false, &[], false)?;
            }
            _ => {}
        }
    }
}
