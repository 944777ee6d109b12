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

mod create;
mod landing;
mod remove;
mod show;
mod verify;

pub(in crate::cli) use create::*;
pub(in crate::cli) use landing::*;
pub(in crate::cli) use remove::*;
pub(in crate::cli) use show::*;
pub(in crate::cli) use verify::*;

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
    /// The command history: each run kept (`sandbox.history`, 20 unless set), with when, which
    /// face ran it (cli, repeat, watch, matrix, socket, mcp), as which actor, its exit code and time,
    /// and the command; `--json` gives them with their log files
    Log(NameArgs),
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
    /// Propose how to squash a sandbox's commits: grouped by kind (test, docs, style, feat, fix,
    /// refactor, as commit --suggest tells them) and top directory, checked to give the same
    /// tree; --apply moves the branch to it (its files and index stay as they are)
    #[command(name = "squash-plan")]
    SquashPlan(SquashArgs),
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
    /// Run it on another machine over ssh: an executor (sandbox.executor.NAME.ssh, .sshCommand,
    /// .dir, .wrap) or an ssh destination; the branch and every command stay here
    #[arg(long, value_name = "HOST", conflicts_with = "matrix")]
    pub on: Option<String>,
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
pub struct ListArgs {
    /// Check every sandbox's files in full. Without it, a copy or reflink sandbox of at least
    /// sandbox.listFullCheckBelow files (10,000) has the dirty flag found at its last check, kept
    /// while its index, HEAD, branch and top directory are unchanged and no command grit ran in
    /// it has ended since: a file edited in place behind grit's back shows here, or after the
    /// sandbox's next run
    #[arg(long)]
    pub exact: bool,
}

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
    /// With --isolate, the seccomp filter: default (ptrace, mount, keyctl, bpf, new user
    /// namespaces… fail), strict, trace (lets debuggers trace), off, or one git config defines
    /// (sandbox.seccomp.NAME.*); sandbox.seccomp sets it for every run
    #[arg(long, value_name = "PROFILE", requires = "isolate")]
    pub seccomp: Option<String>,
    /// With --isolate, let the command reach HOST (on PORT only, if given) through a proxy,
    /// and nothing else (repeatable; also sandbox.allowHost); every connection is logged
    #[arg(long, value_name = "HOST[:PORT]", requires = "isolate", conflicts_with = "net")]
    pub allow_host: Vec<String>,
}

impl IsolateArgs {
    pub(in crate::cli) fn policy(&self) -> crate::ops::sandboxes::Policy<'_> {
        crate::ops::sandboxes::Policy {
            isolate: self.isolate,
            net: self.net,
            allow: &self.allow,
            hosts: &self.allow_host,
            seccomp: self.seccomp.as_deref(),
        }
    }
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
pub struct SquashArgs {
    /// The sandbox's name
    #[arg(allow_hyphen_values = true)]
    pub name: String,
    /// Move the sandbox's branch to the plan's commits (the old tip stays in its reflog)
    #[arg(long)]
    pub apply: bool,
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
        Command::List(a) => list(ui, &main, a.exact),
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
            sandbox::caches::remount(&main, &r)?;
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
            let iso = isolation(&main, &a.isolate)?;
            autosync(ui, &main, &r)?;
            let exec = crate::ops::sandboxes::Exec {
                cmd: a.cmd.clone(),
                sh: a.sh,
                env,
                isolate: iso,
                via: "cli",
            };
            let code = run_recorded(ui, &main, &r, exec)?;
            ran(ui, &r, code)
        }
        Command::Logs(a) => logs(ui, &find(&main, &a.name)?, &a),
        Command::Log(a) => logs(
            ui,
            &find(&main, &a.name)?,
            &LogsArgs {
                name: a.name.clone(),
                run: 1,
                list: true,
            },
        ),
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
            let exec = crate::ops::sandboxes::Exec {
                cmd: last.cmd,
                sh: last.sh,
                env: last.env,
                isolate: last.isolate,
                via: "repeat",
            };
            let code = run_recorded(ui, &main, &r, exec)?;
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
        Command::SquashPlan(a) => {
            let r = find(&main, &a.name)?;
            let plan = ops(&main).squash(&r, a.apply)?;
            show::squash_plan(ui, &r, &plan)
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
    let (r, said) = ops(main).find_settled(name)?;
    if let Some(said) = said {
        eprintln!("note: {}", crate::cli::term::esc(&said));
    }
    Ok(r)
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
    // Held until the command ends: the allowlist's proxy runs while it does.
    let line = argv(dir, cmd, sh, iso)?;
    let configured = match (iso, Main::discover(dir)) {
        (Some(_), Ok(main)) => Some(sandbox::isolate::configured_env(&main)),
        (Some(_), Err(_)) => Some(Vec::new()),
        (None, _) => None,
    };
    let mut p = command_in(dir, &line, env, configured.as_deref())?;
    // With --json, stdout is ours: the command writes to stderr.
    if stdout_to_stderr {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            p.stdout(std::process::Stdio::from(fd));
        }
    }
    block_signals();
    crate::sys::unblock_signals_on_exec(&mut p);
    let status = match crate::ops::sandboxes::run_line(&line, &mut p, |p| p.status(), &|n| eprint!("{n}")) {
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
