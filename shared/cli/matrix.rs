//! `git sandbox run --matrix GLOB`: one sandbox per matching path of the tree, made one after
//! another (on overlay, N sandboxes share one base layer), the command run in all of them at
//! once, each one's output kept in a log, and a summary of every item at the end.

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::sandbox::{RunArgs, exit_with, interrupted, options, pending_signal, progress_printer, spec};
use super::{CommandError, Ui, columns};
use crate::sandbox::{self, Main, Record, Stopped};

/// One item of a matrix, as the summary and `--json` show it.
#[derive(Debug, Serialize)]
struct Item {
    item: String,
    name: String,
    branch: String,
    exit_code: i32,
    duration_ms: u64,
    log: PathBuf,
    commit: Option<String>,
}

/// The paths of the tree that `glob` matches, at its depth: `crates/*` gives each directory
/// (or file) directly under `crates/` that holds tracked files.
fn items(main: &Main, glob: &str) -> Result<Vec<String>, CommandError> {
    let glob = glob.trim_matches('/');
    let depth = glob.split('/').count();
    let files = main.git(&["ls-files", "-z"])?;
    let mut out: Vec<String> = files
        .split('\0')
        .filter(|f| !f.is_empty())
        .filter_map(|f| {
            let parts: Vec<&str> = f.split('/').collect();
            (parts.len() >= depth).then(|| parts[..depth].join("/"))
        })
        .filter(|p| sandbox::copy::glob_match(glob, Path::new(p)) && p.split('/').count() == depth)
        .collect();
    out.sort_by(|a, b| sandbox::natural(a, b));
    out.dedup();
    Ok(out)
}

/// A sandbox name for an item: NAME-<item with its slashes made dashes>.
fn item_name(base: &str, item: &str) -> String {
    let slug: String = item
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' })
        .collect();
    format!("{base}-{}", slug.trim_matches('-'))
}

/// Runs `cmd` in `dir` with its output to `log`, the terminal's signals unblocked.
fn run_logged(
    dir: &Path,
    line: &crate::ops::sandboxes::Line,
    env: &[(String, String)],
    isolated: Option<&[(String, String)]>,
    log: &Path,
) -> std::io::Result<i32> {
    let out = fs::File::create(log)?;
    let mut p = super::sandbox::command_in(dir, line, env, isolated).map_err(std::io::Error::other)?;
    p.stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out.try_clone()?);
    crate::sys::unblock_signals_on_exec(&mut p);
    let note = |n: &str| {
        use std::io::Write;
        let _ = (&out).write_all(n.as_bytes());
    };
    match crate::ops::sandboxes::run_line(line, &mut p, |p| p.status(), &note) {
        Ok(s) => Ok(s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(127),
        Err(e) => Err(e),
    }
}

pub fn run(ui: &mut Ui, main: &Main, a: RunArgs) -> Result<(), CommandError> {
    let glob = a.matrix.clone().expect("called for --matrix");
    if a.issue.is_some() || !a.lock.is_empty() {
        return Err(CommandError::usage(
            "--matrix takes no --issue or --lock",
            "run the matrix, then record or lock what you need",
        ));
    }
    if a.cmd.is_empty() {
        return Err(CommandError::usage(
            "--matrix needs a command",
            "`git sandbox run NAME --matrix 'crates/*' -- cargo test` ({match} in the command is each path)",
        ));
    }
    sandbox::validate_name(&a.name)?;
    let iso = super::sandbox::isolation(main, &a.isolate)?;
    let list = items(main, &glob)?;
    if list.is_empty() {
        return Err(CommandError::usage(
            format!("no tracked path matches '{glob}'"),
            "the glob matches paths of the tree at its depth, e.g. 'crates/*'",
        ));
    }
    let resolved = options(ui, main, &a)?;
    let (template, env) = (&resolved.template, &resolved.env);
    // The first is made alone (on overlay it builds the base layer), the rest side by side (each
    // thread with its own handle on the repository): most of a creation is waiting on git and
    // on the file system.
    let progress = progress_printer(ui);
    let names: Vec<String> = list.iter().map(|item| item_name(&a.name, item)).collect();
    for n in &names {
        sandbox::validate_name(n)?;
    }
    let first = sandbox::create(main, &spec(&resolved, &names[0]), &pending_signal, &progress);
    let mut results: Vec<(usize, Result<Record, Stopped>)> = vec![(0, first)];
    if list.len() > 1 {
        let next = AtomicUsize::new(1);
        let tree = main.tree.clone();
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .max(4)
            .min(list.len() - 1);
        let (names, resolved) = (&names, &resolved);
        let more: Vec<(usize, Result<Record, Stopped>)> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let tree = tree.clone();
                    let next = &next;
                    s.spawn(move || {
                        let mut out = Vec::new();
                        let m = match Main::discover(&tree) {
                            Ok(m) => m,
                            Err(e) => {
                                let i = next.fetch_add(1, Ordering::Relaxed);
                                out.push((i, Err(Stopped::Failed(e))));
                                return out;
                            }
                        };
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(name) = names.get(i) else { break };
                            let sp = spec(resolved, name);
                            out.push((i, sandbox::create(&m, &sp, &pending_signal, &|_, _| {})));
                        }
                        out
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("creation threads do not panic"))
                .collect()
        });
        results.extend(more);
    }
    results.sort_by_key(|(i, _)| *i);
    let mut made: Vec<(String, Record)> = Vec::new();
    let mut failure = None;
    for (i, r) in results {
        match r {
            Ok(r) => made.push((list[i].clone(), r)),
            Err(Stopped::Interrupted(sig)) => failure = Some(interrupted(sig)),
            Err(Stopped::Failed(e)) => {
                failure.get_or_insert(CommandError::from(e));
            }
        }
    }
    if let Some(e) = failure {
        return Err(e.hint(format!(
            "{} of {} sandboxes were made; `git sandbox list` shows them",
            made.len(),
            list.len()
        )));
    }
    if let Some(setup) = template.as_ref().and_then(|t| t.setup.clone()) {
        for (_, r) in &made {
            let code = super::sandbox::execute(&r.path, std::slice::from_ref(&setup), true, env, true)?;
            if code != 0 {
                return Err(CommandError::failure(format!(
                    "the template's setup (`{setup}`) exited with {code} in sandbox {}; the sandboxes are kept",
                    r.name
                )));
            }
        }
    }
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let logs = main.repo.grit_dir.join("sandboxes").join("logs");
    fs::create_dir_all(&logs).map_err(crate::Error::io(&logs))?;
    let next = AtomicUsize::new(0);
    let configured = iso.as_ref().map(|_| sandbox::isolate::configured_env(main));
    type Done = (usize, sandbox::runs::Run, Result<(i32, u64), String>);
    let made_ref = &made;
    let actor = crate::actor::selected_label(&main.repo);
    let results: Vec<Done> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..jobs.min(made.len()))
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((item, r)) = made_ref.get(i) else { break };
                        let cmd: Vec<String> = a.cmd.iter().map(|c| c.replace("{match}", item)).collect();
                        let mut env = env.clone();
                        env.push(("GRIT_MATRIX_ITEM".into(), item.clone()));
                        let start = Instant::now();
                        let started_at = crate::repo::format_time(crate::repo::now_ms());
                        let log = logs.join(format!("{}.log", r.name));
                        let mut net = Vec::new();
                        let result = super::sandbox::argv(&r.path, &cmd, a.sh, iso.as_ref())
                            .map_err(|e| e.to_string())
                            .and_then(|line| {
                                let ran = run_logged(&r.path, &line, &env, configured.as_deref(), &log);
                                net = line.proxy.map(|p| p.events()).unwrap_or_default();
                                ran.map_err(|e| e.to_string())
                            });
                        let took = start.elapsed().as_millis() as u64;
                        let run = sandbox::runs::Run {
                            cmd,
                            sh: a.sh,
                            env,
                            exit_code: *result.as_ref().unwrap_or(&-1),
                            started_at,
                            duration_ms: took,
                            isolation: iso.as_ref().map_or("none", |i| i.with.name()).into(),
                            isolate: iso.clone(),
                            log: Some(log.clone()),
                            via: "matrix".into(),
                            actor: actor.clone(),
                            net,
                        };
                        out.push((i, run, result.map(|c| (c, took))));
                    }
                    out
                })
            })
            .collect();
        let mut all: Vec<_> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("matrix threads do not panic"))
            .collect();
        all.sort_by_key(|(i, ..)| *i);
        all
    });
    let mut summary = Vec::new();
    for (i, run, result) in results {
        let (item, r) = &made[i];
        if result.is_ok() {
            sandbox::runs::record(main, &r.name, run)?;
        }
        let (exit_code, duration_ms) = result.map_err(|e| CommandError::failure(format!("{}: {e}", r.name)))?;
        let commit = match &a.commit {
            Some(m) => {
                let r = main.load(&r.name)?.unwrap_or_else(|| r.clone());
                let signer = sandbox::Signer::for_main(main)?;
                sandbox::carried::commit_own(&r, &m.replace("{match}", item), signer.as_ref())?
            }
            _ => None,
        };
        summary.push(Item {
            item: item.clone(),
            name: r.name.clone(),
            branch: r.branch.clone(),
            exit_code,
            duration_ms,
            log: logs.join(format!("{}.log", r.name)),
            commit,
        });
    }
    if a.discard {
        for (_, r) in &made {
            sandbox::remove(main, r)?;
        }
        sandbox::layers::collect(main)?;
    }
    let failed = summary.iter().filter(|s| s.exit_code != 0).count();
    if ui.json {
        ui.json(&summary)?;
    } else {
        let mut table = vec![["ITEM", "EXIT", "TIME", "BRANCH", "COMMIT"].map(String::from).to_vec()];
        for s in &summary {
            table.push(vec![
                super::term::esc(&s.item).into_owned(),
                if s.exit_code == 0 {
                    ui.paint("32", "0")
                } else {
                    ui.paint("31", &s.exit_code.to_string())
                },
                format!("{:.1}s", s.duration_ms as f64 / 1000.0),
                s.branch.clone(),
                s.commit.as_deref().map_or("-".into(), |c| c[..12].to_owned()),
            ]);
        }
        for line in columns(&table) {
            ui.say(line.trim_end())?;
        }
        for s in summary.iter().filter(|s| s.exit_code != 0) {
            ui.note(format!(
                "{} failed ({}); its output: {}",
                s.item,
                s.exit_code,
                s.log.display()
            ));
        }
        ui.note(format!(
            "{} of {} item(s) passed{}",
            summary.len() - failed,
            summary.len(),
            if a.discard { "; the sandboxes were removed" } else { "" }
        ));
    }
    exit_with(if failed > 0 { 1 } else { 0 })
}
