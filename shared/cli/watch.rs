//! `git sandbox watch NAME -- CMD`: runs CMD in the sandbox, then again whenever a file in it
//! changes. Changes come from the kernel (inotify, through the notify crate), are debounced
//! (a burst of writes is one rerun), and leave out `.git` and the ignored directories (build
//! output); what changes while the command runs is its own doing and starts nothing. Each run
//! is recorded like `exec`'s; Ctrl-C ends it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;
use notify::{RecursiveMode, Watcher};

use super::sandbox::{IsolateArgs, exit_with, isolation, pending_signal};
use super::{CommandError, Ui};
use crate::sandbox::{self, Main};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The sandbox's name (`git sandbox list` shows them)
    pub name: String,
    /// Run CMD as a shell command line (`sh -c`)
    #[arg(long)]
    pub sh: bool,
    /// Set an environment variable for the command (repeatable)
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Wait this long after the last change before running (milliseconds)
    #[arg(long, default_value_t = 200, value_name = "MS")]
    pub debounce: u64,
    #[command(flatten)]
    pub isolate: IsolateArgs,
    /// The command to run, and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

/// Directories whose changes do not count: `.git`, and what git ignores (collapsed to
/// directories, as `git status --ignored` lists them).
fn ignored_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.join(".git")];
    if let Ok(list) = sandbox::git_in(
        dir,
        &[
            "ls-files",
            "--others",
            "--ignored",
            "--exclude-standard",
            "--directory",
            "-z",
        ],
    ) {
        out.extend(
            list.split('\0')
                .filter(|p| !p.is_empty())
                .map(|p| dir.join(p.trim_end_matches('/'))),
        );
    }
    out
}

fn counts(path: &Path, ignored: &[PathBuf]) -> bool {
    !ignored.iter().any(|i| path.starts_with(i))
}

pub fn watch(ui: &mut Ui, main: &Main, a: WatchArgs) -> Result<(), CommandError> {
    let r = super::sandbox::find_ready(main, &a.name)?;
    let env = a
        .env
        .iter()
        .map(|e| sandbox::runs::parse_env(e))
        .collect::<crate::Result<Vec<_>>>()?;
    let iso = isolation(main, &a.isolate)?;
    super::sandbox::block_signals_now();
    let (tx, rx) = mpsc::channel();
    let mut watcher =
        notify::recommended_watcher(tx).map_err(|e| CommandError::failure(format!("cannot watch: {e}")))?;
    watcher.watch(&r.path, RecursiveMode::Recursive).map_err(|e| {
        CommandError::failure(format!("cannot watch {}: {e}", r.path.display())).hint(
            "inotify may be out of watches: raise fs.inotify.max_user_watches (`sysctl fs.inotify.max_user_watches`)",
        )
    })?;
    let debounce = Duration::from_millis(a.debounce);
    let mut ignored: Vec<PathBuf>;
    let mut runs = 0u64;
    let mut changed: BTreeSet<PathBuf> = BTreeSet::new();
    loop {
        runs += 1;
        let what = if changed.is_empty() {
            "start".to_owned()
        } else {
            let shown: Vec<String> = changed
                .iter()
                .take(3)
                .map(|p| p.strip_prefix(&r.path).unwrap_or(p).display().to_string())
                .collect();
            let more = changed.len().saturating_sub(3);
            format!(
                "{}{}",
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        };
        ui.note(format!("watch {}: run {runs} ({})", r.name, super::term::esc(&what)));
        let exec = crate::ops::sandboxes::Exec {
            cmd: a.cmd.clone(),
            sh: a.sh,
            env: env.clone(),
            isolate: iso.clone(),
            via: "watch",
        };
        let code = super::sandbox::run_recorded(ui, main, &r, exec)?;
        ui.note(format!(
            "watch {}: run {runs} exited {code}; waiting for changes",
            r.name
        ));
        // What changed while it ran is the run's own doing (a formatter, generated files): it
        // does not start another. The ignored directories are read again: a build may have
        // made new ones.
        while rx.try_recv().is_ok() {}
        ignored = ignored_dirs(&r.path);
        changed.clear();
        // Wait for a change, then for quiet.
        let mut quiet_since: Option<Instant> = None;
        loop {
            if let Some(sig) = pending_signal() {
                return exit_with(128 + sig);
            }
            let wait = match quiet_since {
                Some(t) => debounce.saturating_sub(t.elapsed()),
                None => Duration::from_millis(100),
            };
            match rx.recv_timeout(wait.max(Duration::from_millis(1))) {
                Ok(Ok(ev)) => {
                    let relevant: Vec<PathBuf> = ev.paths.into_iter().filter(|p| counts(p, &ignored)).collect();
                    if !relevant.is_empty() && !matches!(ev.kind, notify::EventKind::Access(_)) {
                        changed.extend(relevant);
                        quiet_since = Some(Instant::now());
                    }
                }
                Ok(Err(e)) => ui.note(format!("warning: watching: {e}")),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if quiet_since.is_some_and(|t| t.elapsed() >= debounce) {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(CommandError::failure("the file watcher stopped"));
                }
            }
        }
    }
}
