//! `git sandbox`: run a command in a throw-away copy of the work tree on its own branch, then
//! keep, commit or discard it; and list, open, exec, diff, commit, merge, rm, clean.

use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, ExitCode};

use clap::{Args, Parser, Subcommand};

use super::{CommandError, GlobalArgs, Ui, columns, main_with};
use crate::ops::Sandboxes;
use crate::ops::sandboxes::{CreateRequest, Resolved};
use crate::sandbox::{self, Main, Record, Spec, Stopped};

/// Run a command in a throw-away copy of the work tree
///
/// A sandbox is a git worktree on branch sandbox/NAME (tracked files by `git worktree add`) with
/// the main tree's uncommitted changes, untracked files and ignored files (build directories,
/// .env, node_modules; only those matching .worktreeinclude when it exists) brought along with
/// their modes, symlinks and modification times, so builds find nothing stale. Sandboxes live
/// under sandbox.root (default $XDG_DATA_HOME/grit/sandboxes/<repo-id>/NAME). Run from inside a
/// sandbox, every command acts on the original repository.
#[derive(Debug, Parser)]
#[command(
    name = "git-sandbox",
    bin_name = "git sandbox",
    version,
    after_help = concat!(
        super::exit_status_help!(),
        "\n\nTopics: `git sandbox help TOPIC` for backends, templates, isolation, provenance, matrix (man git-sandbox-TOPIC)"
    )
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
// Each subcommand's arguments are built only when it runs: a command parses its own, not all.
#[command(defer = true)]
pub enum Command {
    /// Create a sandbox, run a command in it, then keep, commit or discard it
    ///
    /// The command's exit code becomes this one's (128+N when a signal N killed it). Afterwards, on a
    /// terminal, asks whether to commit, keep, open a shell or discard; otherwise --commit or
    /// --discard decides, and the default is to keep it. A failing command never skips this step.
    Run(Box<RunArgs>),
    /// List sandboxes: name, path, branch, base, backend, created, dirty, ahead/behind its base
    List(ListArgs),
    /// Open a shell in a sandbox ($SHELL, or sh), or your editor (--editor); its exit code is
    /// passed back
    Open(OpenArgs),
    /// Run a command in an existing sandbox
    Exec(ExecArgs),
    /// Run the last command run in a sandbox again, with the same environment
    Repeat(NameArgs),
    /// Show what a run printed: the last run's output, or an earlier one's (kept for runs whose
    /// output was not a terminal: agents, scripts, the socket, MCP)
    Logs(LogsArgs),
    /// Run a command in a sandbox, then again whenever a file in it changes (not .git, not
    /// ignored build output); debounced, through inotify; Ctrl-C ends it
    Watch(super::watch::WatchArgs),
    /// Check the signed provenance (the Sandbox-Provenance trailer) of commits: exit 4 when one
    /// does not verify, 1 when one has none
    Verify(VerifyArgs),
    /// Bring the new commits of a sandbox's base branch into it (`git merge --autostash`);
    /// sandbox.autosync=true does it before each exec and repeat
    Sync(NameArgs),
    /// Show a sandbox's own changes (untracked files included; not what it carried from the
    /// main tree)
    Diff(DiffArgs),
    /// Commit what changed in a sandbox (what it carried from the main tree stays uncommitted
    /// unless --include-carried)
    Commit(CommitArgs),
    /// Merge a sandbox's branch into the current branch (`git merge --no-edit`), rebase it first
    /// (--rebase), or list what would conflict (--preview)
    Merge(MergeArgs),
    /// Land a sandbox: merge (or rebase, sandbox.landStrategy) its commits onto the branch of
    /// the main work tree and push it, retrying a push that loses a race; release its locks and
    /// close the issues its `Fixes:` trailers name. One land at a time per clone. Exits 5 on a
    /// content conflict, with nothing landed and the sandbox intact
    Land(LandArgs),
    /// Remove a sandbox (refuses to lose uncommitted or unmerged work without --force)
    Rm(RmArgs),
    /// Remove every sandbox that has no uncommitted changes and is merged into its base branch,
    /// then the overlay base layers no sandbox uses
    Clean(CleanArgs),
    /// Open the terminal UI on its sandboxes tab: diffs, shell, commit, merge, remove
    Ui(super::UiArgs),
    /// Remove the overlay base layers no sandbox uses, keeping the most recently used within
    /// sandbox.layerCacheSize (default 0), and what interrupted creations left behind
    Gc(CleanArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Sandbox name (letters, digits, '.', '_', '-'); the branch is sandbox/NAME
    #[arg(allow_hyphen_values = true)]
    pub name: String,
    /// Commit to start from (default: HEAD)
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// Bring neither uncommitted changes nor untracked files (ignored files still come)
    #[arg(long)]
    pub clean: bool,
    /// Leave out ignored or untracked paths matching GLOB (repeatable; also sandbox.exclude)
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// auto, reflink, copy or overlay (default: sandbox.backend, else auto)
    #[arg(long, value_name = "BACKEND")]
    pub backend: Option<String>,
    /// Keep the sandbox afterwards (the default without a terminal)
    #[arg(long, group = "after")]
    pub keep: bool,
    /// Commit everything in the sandbox afterwards with this message
    #[arg(long, value_name = "MSG", group = "after")]
    pub commit: Option<String>,
    /// Remove the sandbox afterwards
    #[arg(long, group = "after")]
    pub discard: bool,
    /// Do this afterwards instead of asking (with or without a terminal): commit (with the last
    /// message used in the sandbox), keep, shell (then keep; without a terminal, keep) or discard;
    /// sandbox.defaultAction sets it for a repository
    #[arg(long, value_enum, value_name = "WHAT")]
    pub default: Option<Afterwards>,
    /// Run CMD as a shell command line (`sh -c`)
    #[arg(long)]
    pub sh: bool,
    /// Record on this issue that the sandbox was started, and what it committed
    #[arg(long, value_name = "ID")]
    pub issue: Option<String>,
    /// Hold a lease on RESOURCE while the sandbox exists (repeatable)
    #[arg(long, value_name = "RESOURCE")]
    pub lock: Vec<String>,
    /// Set an environment variable for the command (repeatable; recorded for `repeat`)
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Create it from a template (sandbox.template.NAME.include, .exclude, .setup, .env,
    /// .backend; default: sandbox.defaultTemplate)
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,
    /// One sandbox per path matching GLOB (NAME-1, NAME-2, …), run in parallel; `{match}` in
    /// the command and $GRIT_MATRIX_ITEM give each its path
    #[arg(long, value_name = "GLOB")]
    pub matrix: Option<String>,
    /// With --matrix, how many run at once (default: the number of cores)
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub isolate: IsolateArgs,
    /// The command and its arguments (default: an interactive $SHELL)
    #[arg(last = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The sandbox's name (`git sandbox list` shows them)
    pub name: String,
    /// Open $VISUAL or $EDITOR on the sandbox instead of a shell
    #[arg(long)]
    pub editor: bool,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// The sandbox's name (`git sandbox list` shows them)
    pub name: String,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The sandbox's name (`git sandbox list` shows them)
    pub name: String,
    /// Which run, counting back from the last (1)
    #[arg(short = 'n', long, value_name = "N", default_value_t = 1)]
    pub run: usize,
    /// List the runs kept (command, exit code, time, whether output was kept) instead
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The sandbox's name (`git sandbox list` shows them)
    pub name: String,
    /// Run CMD as a shell command line (`sh -c`)
    #[arg(long)]
    pub sh: bool,
    /// Set an environment variable for the command (repeatable; recorded for `repeat`)
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    #[command(flatten)]
    pub isolate: IsolateArgs,
    /// The command to run inside it, and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Afterwards {
    Commit,
    Keep,
    Shell,
    Discard,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Commits (or anything git names a commit by)
    #[arg(required = true, value_name = "COMMIT")]
    pub commits: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct IsolateArgs {
    /// Run the command in new user, mount, PID and network namespaces (bubblewrap, else unshare;
    /// sandbox.isolateWith), with everything read-only but the sandbox and a private /tmp (also
    /// sandbox.isolate=true)
    #[arg(long)]
    pub isolate: bool,
    /// With --isolate, keep the network
    #[arg(long, requires = "isolate")]
    pub net: bool,
    /// With --isolate, let the command write PATH too (repeatable)
    #[arg(long, value_name = "PATH", requires = "isolate")]
    pub allow: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// The sandbox's name (`git sandbox list` shows them)
    pub name: String,
    /// The commit message
    #[arg(short, long, value_name = "MSG", required_unless_present = "suggest")]
    pub message: Option<String>,
    /// Print a proposed message instead of committing: `type(scope): subject` from what changed
    /// (`git sandbox help commit-suggest` gives the rules), with the sandbox's issue as a trailer
    #[arg(long, conflicts_with = "message")]
    pub suggest: bool,
    /// Commit the changes carried from the main tree at creation too
    #[arg(long)]
    pub include_carried: bool,
    /// Keep the locks taken for the sandbox (`--lock`); by default a commit releases them
    #[arg(long)]
    pub keep_locks: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The sandbox's name (`git sandbox list` shows them)
    pub name: String,
    /// Only the changed files and how many lines changed in each
    #[arg(long)]
    pub stat: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The sandboxes' names (`git sandbox list` shows them); several are planned together
    #[arg(required_unless_present_any = ["all", "search"])]
    pub names: Vec<String>,
    /// Every sandbox: conflicts with the target and between sandboxes are found first (with
    /// `git merge-tree`, touching nothing), then those that merge cleanly are merged
    #[arg(long, conflicts_with = "preview")]
    pub all: bool,
    /// The sandboxes of the issues this query finds (the `-S` language)
    #[arg(short = 'S', long = "search", value_name = "QUERY", conflicts_with = "preview")]
    pub search: Option<String>,
    /// With several sandboxes: print the plan (what merges, in what order, and the groups that
    /// fight over files) and merge nothing
    #[arg(long)]
    pub plan: bool,
    /// List the files that would conflict, and change nothing (`git merge-tree --write-tree`);
    /// exits 1 when some would (with --json, 0 and `"clean": false`)
    #[arg(long, conflicts_with = "rebase")]
    pub preview: bool,
    /// Rebase the sandbox's branch onto the current branch, then fast-forward: no merge commit
    #[arg(long)]
    pub rebase: bool,
}

#[derive(Debug, Args)]
pub struct LandArgs {
    /// The sandbox's name (`git sandbox list` shows them)
    pub name: String,
    /// Rebase the sandbox's commits onto the target instead of merging them
    #[arg(long)]
    pub rebase: bool,
    /// The remote to push to (default: the branch's upstream remote, else origin; none: land
    /// locally)
    #[arg(long, value_name = "REMOTE")]
    pub remote: Option<String>,
    /// Commit the sandbox's uncommitted changes first, with this message
    #[arg(short, long, value_name = "MSG")]
    pub message: Option<String>,
    /// Remove the sandbox once landed (its branch is merged, so it goes too)
    #[arg(long)]
    pub rm: bool,
    /// Keep the sandbox's locks (by default a land releases them)
    #[arg(long)]
    pub keep_locks: bool,
    /// Give up retrying a push that keeps losing races after this long (default 5m)
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub timeout: String,
    /// Push the sandbox's branch and open a GitHub pull request for it instead of landing
    /// (the token from GITHUB_TOKEN or GH_TOKEN); the sandbox and its locks stay
    #[arg(long, conflicts_with_all = ["rebase", "rm"])]
    pub pr: bool,
    /// With --pr: the GitHub repository (default: grit.github.repo, else the remote's URL)
    #[arg(long, value_name = "OWNER/NAME", requires = "pr")]
    pub repo: Option<String>,
    /// With --pr: open it as a draft
    #[arg(long, requires = "pr")]
    pub draft: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The sandbox's name (`git sandbox list` shows them)
    pub name: String,
    /// Remove it even with uncommitted changes, which are thrown away; committed work that is
    /// not merged stays on its branch unless --delete-branch
    #[arg(long)]
    pub force: bool,
    /// Delete the sandbox's branch too, even when it holds commits merged nowhere
    #[arg(long)]
    pub delete_branch: bool,
    /// Leave the locks taken for the sandbox (`--lock`) held; by default they are released, and
    /// a release that fails is an error
    #[arg(long)]
    pub keep_locks: bool,
}

#[derive(Debug, Args)]
pub struct CleanArgs {}

pub fn main() -> ExitCode {
    main_with(run, |c: &Cli| &c.global)
}

pub fn run(cli: Cli, ui: &mut Ui) -> Result<(), CommandError> {
    if matches!(cli.command, Command::Run(_)) {
        // As early as can be: from here a Ctrl-C is noticed, not obeyed at once (a probe or a
        // creation cut short by the default action would leave its directories behind).
        block_signals();
    }
    if matches!(cli.command, Command::Ui(_)) {
        return crate::tui::run(ui, crate::tui::Tab::Sandboxes);
    }
    let main = Main::discover(&ui.dir)?;
    sandbox::overlay::sweep_probes(&main.root());
    match cli.command {
        Command::Ui(_) => unreachable!("handled above"),
        Command::Run(a) => run_cmd(ui, &main, *a),
        Command::List(_) => list(ui, &main),
        Command::Open(a) => {
            let r = find(&main, &a.name)?;
            let cmd: Vec<String> = if a.editor {
                let editor = ["VISUAL", "EDITOR"]
                    .iter()
                    .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
                    .or_else(|| main.repo.config_string("core.editor"))
                    .ok_or_else(|| {
                        CommandError::usage(
                            "no editor is set",
                            "set $EDITOR (or core.editor), e.g. `export EDITOR=vim`",
                        )
                    })?;
                vec![format!("{editor} .")]
            } else {
                Vec::new()
            };
            let renewer = sandbox::leases::Renewer::start(&main, &r.locks);
            let code = execute(&r.path, &cmd, a.editor, &[], ui.json);
            drop(renewer);
            let code = code?;
            if ui.json {
                ui.json(&serde_json::json!({ "name": r.name, "path": r.path, "exit_code": code }))?;
            }
            exit_with(code)
        }
        Command::Exec(a) => {
            let r = find(&main, &a.name)?;
            let env = parse_envs(&a.env)?;
            let iso = isolation(&main, a.isolate.isolate, a.isolate.net, &a.isolate.allow)?;
            autosync(ui, &main, &r)?;
            let code = run_recorded(ui, &main, &r, &a.cmd, a.sh, &env, iso.as_ref())?;
            ran(ui, &r, code)
        }
        Command::Logs(a) => logs(ui, &find(&main, &a.name)?, &a),
        Command::Repeat(a) => {
            let r = find(&main, &a.name)?;
            let Some(last) = r.runs.last().cloned() else {
                return Err(
                    CommandError::failure(format!("nothing has run in sandbox {} yet", r.name))
                        .hint(format!("`git sandbox exec {} -- CMD` runs something", r.name)),
                );
            };
            // The tool the run was isolated with must still be able to isolate it.
            if let Some(iso) = &last.isolate {
                sandbox::isolate::choose(Some(iso.with.name()))?;
            }
            autosync(ui, &main, &r)?;
            let code = run_recorded(ui, &main, &r, &last.cmd, last.sh, &last.env, last.isolate.as_ref())?;
            ran(ui, &r, code)
        }
        Command::Verify(a) => verify(ui, &main, &a.commits),
        Command::Watch(a) => super::watch::watch(ui, &main, a),
        Command::Sync(a) => {
            let r = find(&main, &a.name)?;
            sync(ui, &main, &r)
        }
        Command::Diff(a) => diff(ui, &main, &find(&main, &a.name)?, a.stat),
        Command::Commit(a) => {
            let r = find(&main, &a.name)?;
            let Some(message) = a.message.as_deref() else {
                let s = ops(&main).suggest(&r)?;
                if ui.json {
                    return ui.json(&s);
                }
                ui.note(format!("({}: {})", s.kind, s.because));
                return ui.say(&s.message);
            };
            let c = commit(&main, &r, message, a.include_carried)?;
            after_commit(ui, &r, c.as_deref())?;
            if c.is_some() && !a.keep_locks {
                release_locks(ui, &main, &r, &format!("committed sandbox {}", r.name))?;
            }
            Ok(())
        }
        Command::Merge(a) => match (&a.names[..], a.all || a.search.is_some() || a.plan) {
            ([name], false) => {
                let r = find(&main, name)?;
                if a.preview {
                    preview(ui, &main, &r)
                } else {
                    merge(ui, &main, &r, a.rebase)
                }
            }
            _ if a.preview => Err(CommandError::usage(
                "--preview takes one sandbox",
                "`git sandbox merge --plan NAME…` (or --all) shows what several would do",
            )),
            _ => merge_many(ui, &main, &a),
        },
        Command::Land(a) => land(ui, &main, a),
        Command::Rm(a) => rm(ui, &main, &a.name, a.force, a.delete_branch, a.keep_locks),
        Command::Clean(_) => clean(ui, &main),
        Command::Gc(_) => gc(ui, &main),
    }
}

/// A ready sandbox by name.
pub(crate) fn find_ready(main: &Main, name: &str) -> Result<Record, CommandError> {
    find(main, name)
}

/// Blocks the terminal's signals in this process (its children get them unblocked).
pub(crate) fn block_signals_now() {
    block_signals();
}

fn find(main: &Main, name: &str) -> Result<Record, CommandError> {
    Ok(ops(main).find(name)?)
}

/// The sandbox operations on `main`.
fn ops(main: &Main) -> Sandboxes<'_> {
    Sandboxes::of(main)
}

fn block_signals() {
    crate::sys::block_signals(&crate::sys::GUARDED);
}

/// The first guarded signal that arrived while blocked, if any.
pub(crate) fn pending_signal() -> Option<i32> {
    crate::sys::pending_signal(&crate::sys::GUARDED)
}

/// Consumes pending guarded signals (the child got its own copy of a Ctrl-C).
fn drain_signals() -> Option<i32> {
    crate::sys::drain_signals(&crate::sys::GUARDED)
}

/// Runs `cmd` in `dir` (an interactive $SHELL when empty; `sh -c` with `sh`) with the
/// signals it would get from the terminal, and returns its exit code (128+N for signal N).
pub(super) fn execute(
    dir: &Path,
    cmd: &[String],
    sh: bool,
    env: &[(String, String)],
    stdout_to_stderr: bool,
) -> Result<i32, CommandError> {
    execute_in(dir, cmd, sh, env, stdout_to_stderr, None)
}

pub(crate) use crate::ops::sandboxes::{argv, command_in};

pub(super) fn execute_in(
    dir: &Path,
    cmd: &[String],
    sh: bool,
    env: &[(String, String)],
    stdout_to_stderr: bool,
    iso: Option<&sandbox::isolate::Isolate>,
) -> Result<i32, CommandError> {
    let line = argv(dir, cmd, sh, iso)?;
    let configured = match (iso, Main::discover(dir)) {
        (Some(_), Ok(main)) => Some(sandbox::isolate::configured_env(&main)),
        (Some(_), Err(_)) => Some(Vec::new()),
        (None, _) => None,
    };
    let mut p = command_in(dir, &line, env, configured.as_deref());
    // With --json, stdout is ours: the command writes to stderr.
    if stdout_to_stderr {
        // SAFETY: duplicating our own stderr descriptor for the child.
        let fd = unsafe { libc::dup(2) };
        if fd >= 0 {
            // SAFETY: `fd` is a fresh descriptor this process owns.
            p.stdout(unsafe { <std::process::Stdio as std::os::fd::FromRawFd>::from_raw_fd(fd) });
        }
    }
    block_signals();
    crate::sys::unblock_signals_on_exec(&mut p);
    let status = match p.status() {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "error: {}: command not found",
                cmd.first().map_or("$SHELL", String::as_str)
            );
            return Ok(127);
        }
        Err(e) => return Err(e.into()),
    };
    drain_signals();
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

pub(super) fn exit_with(code: i32) -> Result<(), CommandError> {
    if code == 0 {
        return Ok(());
    }
    Err(CommandError {
        damaged_index: None,
        code: code.clamp(0, 255) as u8,
        message: String::new(),
        causes: vec![],
        hints: vec![],
    })
}

fn parse_envs(env: &[String]) -> Result<Vec<(String, String)>, CommandError> {
    Ok(env
        .iter()
        .map(|e| sandbox::runs::parse_env(e))
        .collect::<crate::Result<Vec<_>>>()?)
}

/// Runs a command in a sandbox and records it (command, environment, exit code, times), with
/// the terminal's signals going to the command, not to this process.
pub(super) fn run_recorded(
    ui: &Ui,
    main: &Main,
    r: &Record,
    cmd: &[String],
    sh: bool,
    env: &[(String, String)],
    iso: Option<&sandbox::isolate::Isolate>,
) -> Result<i32, CommandError> {
    let exec = crate::ops::sandboxes::Exec {
        cmd: cmd.to_vec(),
        sh,
        env: env.to_vec(),
        isolate: iso.cloned(),
    };
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
pub(super) fn isolation(
    main: &Main,
    isolate: bool,
    net: bool,
    allow: &[PathBuf],
) -> Result<Option<sandbox::isolate::Isolate>, CommandError> {
    let (iso, why) = ops(main).isolation(isolate, net, allow)?;
    if let Some(why) = why {
        eprintln!("note: {why}");
    }
    Ok(iso)
}

/// One commit's provenance as `verify` reports it.
#[derive(serde::Serialize)]
struct Verified {
    commit: String,
    ok: bool,
    problem: Option<String>,
    provenance: Option<sandbox::provenance::Provenance>,
}

fn verify(ui: &mut Ui, main: &Main, commits: &[String]) -> Result<(), CommandError> {
    let mut out = Vec::new();
    let (mut bad, mut missing) = (0, 0);
    for c in commits {
        let id = main
            .git(&["rev-parse", "--verify", "--quiet", &format!("{c}^{{commit}}")])
            .map_err(|_| CommandError::usage(format!("'{c}' is not a commit"), "give commit ids, branches or tags"))?
            .trim()
            .to_owned();
        let message = main.git(&["log", "-1", "--format=%B", &id])?;
        let tree = main.git(&["rev-parse", &format!("{id}^{{tree}}")])?.trim().to_owned();
        let v = match sandbox::provenance::trailer_of(&message) {
            None => {
                missing += 1;
                Verified {
                    commit: id,
                    ok: false,
                    problem: Some(format!("no {} trailer", sandbox::provenance::TRAILER)),
                    provenance: None,
                }
            }
            Some(t) => match sandbox::provenance::verify_known(&main.repo, t, &tree) {
                Ok(p) => Verified {
                    commit: id,
                    ok: true,
                    problem: None,
                    provenance: Some(p),
                },
                Err(e) => {
                    bad += 1;
                    Verified {
                        commit: id,
                        ok: false,
                        problem: Some(e.to_string()),
                        provenance: None,
                    }
                }
            },
        };
        out.push(v);
    }
    if ui.json {
        ui.json(&out)?;
    } else {
        for v in &out {
            match (&v.provenance, &v.problem) {
                (Some(p), _) => ui.say(format!(
                    "{}: good provenance by actor {}: `{}` exited {} on {} ({}, isolation {})",
                    &v.commit[..12],
                    &p.actor[..12],
                    super::term::esc(&p.cmd.join(" ")),
                    p.exit_code,
                    p.base.get(..12).unwrap_or(&p.base),
                    p.backend,
                    p.isolation
                ))?,
                (None, Some(why)) => ui.say(format!("{}: {}", &v.commit[..12], super::term::esc(why)))?,
                (None, None) => {}
            }
        }
    }
    if bad > 0 {
        ui.flush()?;
        return Err(CommandError {
            damaged_index: None,
            code: super::exit::VERIFY_FAILED,
            message: format!("{bad} commit(s) carry provenance that does not verify"),
            causes: vec![],
            hints: vec![
                "the record or the commit's content was changed after it was signed, or a key this repository does \
                 not know signed it (grit.provenanceSigners adds one)"
                    .into(),
            ],
        });
    }
    if missing > 0 {
        ui.flush()?;
        return Err(CommandError::failure(format!("{missing} commit(s) have no provenance"))
            .hint("`git sandbox commit` and `run --commit` sign what they commit"));
    }
    Ok(())
}

/// What `exec` and `repeat` print with --json, and their exit code.
fn ran(ui: &mut Ui, r: &Record, code: i32) -> Result<(), CommandError> {
    if ui.json {
        ui.json(&serde_json::json!({ "name": r.name, "path": r.path, "exit_code": code }))?;
    }
    exit_with(code)
}

/// `sync` before a command, when sandbox.autosync is set.
pub(crate) fn autosync(ui: &mut Ui, main: &Main, r: &Record) -> Result<(), CommandError> {
    if let Some(s) = ops(main).autosync(r)?
        && s.before != s.after
    {
        ui.note(format!("brought {} into sandbox {} (sandbox.autosync)", s.base, r.name));
    }
    Ok(())
}

/// Merges the base branch's new commits into the sandbox.
fn sync(ui: &mut Ui, main: &Main, r: &Record) -> Result<(), CommandError> {
    let s = ops(main).sync(r)?;
    if ui.json {
        return ui.json(&serde_json::json!({ "name": s.name, "base": s.base, "before": s.before, "after": s.after }));
    }
    if s.before == s.after {
        ui.say(format!("sandbox {} is up to date with {}", r.name, s.base))
    } else {
        ui.say(format!(
            "brought {} into sandbox {} ({}..{})",
            s.base,
            r.name,
            &s.before[..12],
            &s.after[..12]
        ))
    }
}

pub(super) fn progress_printer(ui: &Ui) -> impl Fn(u64, u64) + Sync + use<> {
    let on = ui.tty && !ui.quiet && std::io::stderr().is_terminal();
    let start = std::time::Instant::now();
    move |done: u64, total: u64| {
        if on && total > 0 && start.elapsed().as_millis() > 300 {
            eprint!(
                "\rcopying {:>5.1} / {:.1} MB ({:>3}%)",
                done as f64 / 1e6,
                total as f64 / 1e6,
                done * 100 / total
            );
            if done >= total {
                eprintln!();
            }
        }
    }
}

/// What `run` says when a signal stopped the creation.
pub(super) fn interrupted(sig: i32) -> CommandError {
    CommandError {
        damaged_index: None,
        code: (128 + sig) as u8,
        message: "interrupted: the sandbox was not created and nothing was left behind".into(),
        causes: vec![],
        hints: vec![],
    }
}

/// What a `run` asks to make, for sandbox `name`.
fn request(a: &RunArgs, name: &str) -> Result<CreateRequest, CommandError> {
    let mut req = CreateRequest::named(name);
    req.base = a.base.clone();
    req.clean = a.clean;
    req.excludes = a.exclude.clone();
    req.template = a.template.clone();
    req.backend = a.backend.clone();
    req.env = parse_envs(&a.env)?;
    Ok(req)
}

/// The template, environment and creation options a `run` asks for, resolved once (a matrix
/// makes each of its sandboxes from them with [`spec`]).
pub(super) fn options(ui: &Ui, main: &Main, a: &RunArgs) -> Result<Resolved, CommandError> {
    let resolved = ops(main).resolve(&request(a, &a.name)?)?;
    for n in &resolved.notes {
        ui.note(n);
    }
    Ok(resolved)
}

/// The creation options of sandbox `name`, from a run's resolved options.
pub(super) fn spec(r: &Resolved, name: &str) -> Spec {
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

fn run_cmd(ui: &mut Ui, main: &Main, a: RunArgs) -> Result<(), CommandError> {
    if a.matrix.is_some() {
        return super::matrix::run(ui, main, a);
    }
    sandbox::validate_name(&a.name)?;
    // Isolation that cannot be had stops the run before anything is made.
    let iso = isolation(main, a.isolate.isolate, a.isolate.net, &a.isolate.allow)?;
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
    let code = run_recorded(ui, main, &record, &a.cmd, a.sh, env, iso.as_ref())?;
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

enum After {
    Commit(String),
    Keep,
    Discard,
}

/// The subject of the sandbox's last commit since its base, if it made one.
fn last_message(r: &Record) -> Option<String> {
    let out = sandbox::git_in(&r.path, &["log", "-1", "--format=%s", &format!("{}..HEAD", r.base)]).ok()?;
    Some(out.trim().to_owned()).filter(|m| !m.is_empty())
}

fn prompt(r: &Record) -> Result<After, CommandError> {
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

/// Commits a sandbox's own changes (with `include_carried`, everything in it); its locks are
/// released by the caller.
fn commit(main: &Main, r: &Record, message: &str, include_carried: bool) -> Result<Option<String>, CommandError> {
    Ok(ops(main).commit(r, message, include_carried, true)?.commit)
}

fn after_commit(ui: &mut Ui, r: &Record, commit: Option<&str>) -> Result<(), CommandError> {
    after_commit_json(ui, r, commit, true)
}

/// `after_commit`, printing its JSON only with `print_json` (`run` prints one document).
fn after_commit_json(ui: &mut Ui, r: &Record, commit: Option<&str>, print_json: bool) -> Result<(), CommandError> {
    let Some(c) = commit else {
        ui.note(format!("sandbox {}: nothing to commit", r.name));
        return Ok(());
    };
    if ui.json {
        if print_json {
            ui.json(&serde_json::json!({ "name": r.name, "branch": r.branch, "commit": c }))?;
        }
        return Ok(());
    }
    ui.say(format!("committed {} on {}", &c[..12], r.branch))?;
    if r.carried.is_some() {
        ui.note(
            "what the sandbox carried from the main tree stays uncommitted there (`git sandbox commit --include-carried` takes it too)",
        );
    }
    Ok(())
}

/// Releases the locks taken for sandbox `r` once `what` (its commit, removal…) is done. A
/// release that fails is an error that names each lock and why, after `what` was done.
pub(crate) fn release_locks(ui: &Ui, main: &Main, r: &Record, what: &str) -> Result<(), CommandError> {
    let rel = ops(main).release_locks(r, what)?;
    note_gone(ui, &rel.gone);
    Ok(())
}

fn note_gone(ui: &Ui, gone: &[String]) {
    for l in gone {
        ui.note(format!(
            "note: the lease on {l} was no longer this actor's (expired, broken or released)"
        ));
    }
}

fn list(ui: &mut Ui, main: &Main) -> Result<(), CommandError> {
    let listed = ops(main).list()?;
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
            ui.paint("1", &super::term::esc(&s.name)),
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
            format!("{:?}", s.backend).to_lowercase(),
            s.created_at.clone(),
            ui.paint("2", &super::term::esc(&s.path)),
        ]
    }));
    for line in columns(&rows) {
        ui.say(line)?;
    }
    Ok(())
}

fn diff(ui: &mut Ui, main: &Main, r: &Record, stat: bool) -> Result<(), CommandError> {
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

/// The files a merge of the sandbox's branch would conflict on, changing nothing.
fn preview(ui: &mut Ui, main: &Main, r: &Record) -> Result<(), CommandError> {
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
        ui.say(format!("  {}", super::term::esc(c)))?;
    }
    Err(CommandError {
        damaged_index: None,
        code: super::exit::FAILURE,
        message: String::new(),
        causes: vec![],
        hints: vec![],
    })
}

fn merge(ui: &mut Ui, main: &Main, r: &Record, rebase: bool) -> Result<(), CommandError> {
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

fn land(ui: &mut Ui, main: &Main, a: LandArgs) -> Result<(), CommandError> {
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
        ui.note(format!("warning: {}", super::term::esc(w)));
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

/// `logs NAME`: a kept run's output, or the list of runs.
fn logs(ui: &mut Ui, r: &Record, a: &LogsArgs) -> Result<(), CommandError> {
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
                    format!("exit {}", run.exit_code),
                    format!("{} ms", run.duration_ms),
                    if run.log.is_some() { "log".into() } else { "-".into() },
                    super::term::esc(&run.cmd.join(" ")).into_owned(),
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
            super::term::esc(&run.cmd.join(" "))
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
            ui.say(super::term::esc(line))?;
        }
        Ok(())
    } else {
        ui.flush()?;
        use std::io::Write;
        std::io::stdout().write_all(&text).map_err(CommandError::from)
    }
}

/// `merge --all`, `merge -S QUERY` and `merge NAME NAME…`: the plan, then (without --plan) the
/// merges it allows.
fn merge_many(ui: &mut Ui, main: &Main, a: &MergeArgs) -> Result<(), CommandError> {
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
    let esc = |s: &str| super::term::esc(s).into_owned();
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
fn propose(ui: &mut Ui, main: &Main, r: &Record, a: LandArgs) -> Result<(), CommandError> {
    let token = super::bridge::token().ok_or_else(|| {
        CommandError::usage(
            "--pr opens a pull request through GitHub's API, and no token is set",
            "export GITHUB_TOKEN (a fine-grained token with Pull requests: read and write), or GH_TOKEN",
        )
    })?;
    let mut api = crate::github::Client::new(Some(token));
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
        super::term::esc(&p.url)
    ))?;
    ui.note(format!(
        "nothing landed: the sandbox stays (and any lock it holds) until the pull request merges; its {} \
         Fixes:/Closes:/Refs: trailer(s) act then",
        p.trailers.len()
    ));
    Ok(())
}

fn rm(
    ui: &mut Ui,
    main: &Main,
    name: &str,
    force: bool,
    delete_branch: bool,
    keep_locks: bool,
) -> Result<(), CommandError> {
    let removed = ops(main).remove(name, force, delete_branch, keep_locks)?;
    for w in &removed.warnings {
        ui.note(format!("warning: {w}"));
    }
    note_gone(ui, &removed.released.gone);
    let (r, keep_branch) = (&removed.record, removed.branch_kept);
    if ui.json {
        return ui.json(&serde_json::json!({
            "removed": name,
            "branch": r.branch,
            "branch_kept": keep_branch,
        }));
    }
    if keep_branch {
        ui.say(format!(
            "removed sandbox {name}; its unmerged commits stay on {} (`git branch -D {}` deletes them)",
            r.branch, r.branch
        ))
    } else {
        ui.say(format!("removed sandbox {name} and its branch {}", r.branch))
    }
}

fn clean(ui: &mut Ui, main: &Main) -> Result<(), CommandError> {
    let mut removed = Vec::new();
    for r in main.list()? {
        if !sandbox::dirty(&r)? && sandbox::merged(main, &r)? {
            sandbox::remove(main, &r)?;
            release_locks(ui, main, &r, &format!("removed sandbox {}", r.name))?;
            removed.push(r.name);
        }
    }
    let layers = sandbox::layers::collect(main)?;
    if ui.json {
        return ui.json(&serde_json::json!({ "removed": removed, "layers": layers }));
    }
    ui.say(format!(
        "removed {} sandbox(es){}",
        removed.len(),
        if removed.is_empty() {
            String::new()
        } else {
            format!(": {}", removed.join(", "))
        }
    ))?;
    say_layers(ui, &layers)
}

fn gc(ui: &mut Ui, main: &Main) -> Result<(), CommandError> {
    let layers = sandbox::layers::collect(main)?;
    if ui.json {
        return ui.json(&layers);
    }
    say_layers(ui, &layers)
}

fn say_layers(ui: &mut Ui, c: &sandbox::layers::Collected) -> Result<(), CommandError> {
    let mb = |b: u64| b as f64 / 1e6;
    let freed: u64 = c.removed.iter().map(|l| l.bytes).sum();
    let kept: u64 = c.kept.iter().map(|l| l.bytes).sum();
    let in_use = c.kept.iter().filter(|l| !l.sandboxes.is_empty()).count();
    ui.say(format!(
        "removed {} unused base layer(s) ({:.1} MB); kept {} ({:.1} MB, {in_use} in use){}",
        c.removed.len(),
        mb(freed),
        c.kept.len(),
        mb(kept),
        if c.leftovers > 0 {
            format!("; removed {} half-built layer(s) of interrupted runs", c.leftovers)
        } else {
            String::new()
        }
    ))
}
