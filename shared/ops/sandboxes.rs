//! What a user does with sandboxes: make one (its template, `sandbox.*` config, issue and
//! locks resolved), run a command in it (with the isolation asked for or configured, its
//! leases renewed, the run recorded, autosync first), sync, diff, commit, merge and remove it,
//! list them. Landing is `sandbox::land`. Every face makes, runs and removes sandboxes here:
//! nothing a face does can skip isolation or a check.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::repo::format_time;
use crate::sandbox::isolate::Isolate;
use crate::sandbox::runs::{Run, Template};
use crate::sandbox::{self, Backend, Main, Record, Spec, Stopped};

/// The sandbox operations of one repository.
pub struct Sandboxes<'a> {
    main: Holder<'a>,
}

/// The main tree, opened here or lent by the caller.
enum Holder<'a> {
    Owned(Box<Main>),
    Lent(&'a Main),
}

impl std::ops::Deref for Holder<'_> {
    type Target = Main;

    fn deref(&self) -> &Main {
        match self {
            Holder::Owned(m) => m,
            Holder::Lent(m) => m,
        }
    }
}

/// What to make: a name and the choices a `git sandbox run` offers. Unset choices come from the
/// template (`template`, else `sandbox.defaultTemplate`) and `sandbox.*` config.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CreateRequest {
    /// The sandbox's name: its branch is `sandbox/NAME`.
    pub name: String,
    /// A commit or branch to start from (default: HEAD, with the main tree's changes carried).
    pub base: Option<String>,
    /// Start from the commit alone, carrying nothing.
    pub clean: bool,
    /// Globs of ignored or untracked paths not to carry, after `sandbox.exclude`.
    pub excludes: Vec<String>,
    /// A template by name (`sandbox.template.NAME.*`); `None` for `sandbox.defaultTemplate`.
    pub template: Option<String>,
    /// auto, reflink, copy or overlay.
    pub backend: Option<String>,
    /// `NAME=VALUE` pairs for the commands run in it, after the template's.
    pub env: Vec<(String, String)>,
    /// An issue (id or prefix) the sandbox works on; it gets a comment.
    pub issue: Option<String>,
    /// Lock resources taken for the sandbox (released when it commits, lands or is removed).
    pub locks: Vec<String>,
    /// The executor its commands run on (`sandbox.executor.<on>.*`, or an ssh destination).
    pub on: Option<String>,
}

impl CreateRequest {
    /// A request for sandbox `name` with every choice left to config.
    pub fn named(name: impl Into<String>) -> CreateRequest {
        CreateRequest {
            name: name.into(),
            ..CreateRequest::default()
        }
    }
}

/// A request with its template and config applied.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Resolved {
    /// What to make, every choice settled.
    pub spec: Spec,
    /// The template applied, if any.
    pub template: Option<Template>,
    /// The template's environment, then the request's.
    pub env: Vec<(String, String)>,
    /// What a person should hear (a backend that was not available, say).
    pub notes: Vec<String>,
}

/// A command to run in a sandbox.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Exec {
    /// The command and its arguments; empty runs an interactive `$SHELL`.
    pub cmd: Vec<String>,
    /// Run `cmd` joined by spaces with `sh -c`.
    pub sh: bool,
    /// `NAME=VALUE` pairs for the command, after the template's.
    pub env: Vec<(String, String)>,
    /// The isolation (from [`Sandboxes::isolation`]): `None` runs it bare.
    pub isolate: Option<Isolate>,
    /// The face that runs it, for the history: cli, repeat, watch, socket or mcp.
    pub via: &'static str,
}

impl Exec {
    /// `cmd` as it is (no shell, no extra environment, no isolation).
    pub fn command<S: Into<String>>(cmd: impl IntoIterator<Item = S>) -> Exec {
        Exec {
            cmd: cmd.into_iter().map(Into::into).collect(),
            ..Exec::default()
        }
    }
}

/// Where a command's output goes.
pub enum Output<'a> {
    /// This process's terminal; with `stdout_to_stderr`, the command's stdout goes to stderr
    /// (the face's stdout holds its JSON).
    Inherit {
        /// Send the command's stdout to stderr.
        stdout_to_stderr: bool,
    },
    /// Each chunk, as it comes, to the callback: `(stream, bytes)` with stream `stdout` or
    /// `stderr`. Stdin is empty.
    Stream(&'a (dyn Fn(&'static str, &[u8]) + Sync)),
}

/// How a run went.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Ran {
    /// The sandbox's name.
    pub name: String,
    /// The command's exit code; 128+N for signal N; 127 when it was not found.
    pub exit_code: i32,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
    /// none, bwrap or unshare.
    pub isolation: String,
    /// Set when the program could not be found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_found: Option<String>,
}

/// What a sync brought.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Synced {
    /// The sandbox's name.
    pub name: String,
    /// The base branch merged in.
    pub base: String,
    /// The sandbox's commit before the sync.
    pub before: String,
    /// Its commit after it (the same when the base had nothing new).
    pub after: String,
}

/// One changed file of a sandbox.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileChange {
    /// The file's path, from the work tree's root.
    pub path: String,
    /// Lines added; `None` for a binary file.
    pub added: Option<u64>,
    /// Lines removed; `None` for a binary file.
    pub removed: Option<u64>,
}

/// What a sandbox changed: from its start (its commits with what was carried laid over them)
/// to its work tree, untracked files included.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Diff {
    /// The sandbox's name.
    pub name: String,
    /// The tree or commit compared from, and the tree compared to.
    pub from: String,
    /// The work tree's tree, as written for the comparison.
    pub to: String,
    /// Each changed file.
    pub files: Vec<FileChange>,
}

/// A sandbox as `list` shows it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Listed {
    /// The sandbox's name.
    pub name: String,
    /// Its work tree.
    pub path: String,
    /// Its branch (`sandbox/NAME`).
    pub branch: String,
    /// The commit it started from.
    pub base: String,
    /// The branch it started from and merges back into, if it started from one.
    pub base_ref: Option<String>,
    /// How its files were made.
    pub backend: Backend,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// Whether it holds changes of its own, uncommitted (see `sandbox::status` for when this is a
    /// kept answer).
    pub dirty: bool,
    /// Commits on its branch that its base does not have.
    pub ahead: u64,
    /// Commits on its base that its branch does not have.
    pub behind: u64,
    /// Bytes brought along besides the checkout, at creation.
    pub copied_bytes: u64,
    /// The issue it works on, if it was made for one.
    pub issue: Option<String>,
    /// The lock resources taken for it.
    pub locks: Vec<String>,
    /// The last command run in it (`git sandbox repeat` runs it again).
    pub last_run: Option<Run>,
    /// Why the last automatic sync of its base into it stopped, until one succeeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_conflict: Option<String>,
    /// Where its commands run, when not here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<sandbox::remote::Remote>,
    /// The language caches it shares (a template's `cache`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caches: Vec<sandbox::caches::Kind>,
    /// The node cache mounted at its `node_modules` (its lockfile's key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_modules: Option<String>,
}

/// What the automatic sync of one sandbox did.
#[derive(Debug, Clone, Serialize)]
pub struct AutoSynced {
    /// The sandbox's name.
    pub name: String,
    /// `synced`, `conflict` (undone, and marked), or why it was left alone: `running`,
    /// `uncommitted`, `current`.
    pub outcome: &'static str,
    /// The conflicting files, or why it was left alone, in a few words.
    pub detail: Option<String>,
}

/// `sandbox.autosync`: `true` syncs a sandbox's base branch into it before each `exec` and
/// `repeat`; `interval:DURATION` (e.g. `interval:10m`) does that too, and the daemon syncs every
/// idle sandbox every DURATION. The interval, when there is one.
pub fn autosync_interval(repo: &crate::repo::Repo) -> Option<std::time::Duration> {
    let v = repo.config_string("sandbox.autosync")?;
    let d = v.trim().strip_prefix("interval:")?;
    crate::live::daemon::duration(d.trim()).ok().filter(|d| !d.is_zero())
}

/// Whether a command runs in sandbox `name` now (a marker that names a live process).
fn running(main: &Main, name: &str) -> bool {
    std::fs::read_to_string(running_marker(main, name))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        .is_some_and(crate::sys::alive)
}

fn running_marker(main: &Main, name: &str) -> PathBuf {
    main.repo.grit_dir.join("sandboxes").join(format!("{name}.running"))
}

/// What releasing a sandbox's locks did.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Released {
    /// Leases given back.
    pub released: Vec<String>,
    /// Leases that were no longer this actor's (expired, broken or released).
    pub gone: Vec<String>,
}

/// What a commit did.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Committed {
    /// The sandbox's name.
    pub name: String,
    /// Its branch.
    pub branch: String,
    /// The new commit; `None` when there was nothing to commit.
    pub commit: Option<String>,
    /// The locks given back (none when nothing was committed or they were kept).
    pub released: Released,
}

/// What a removal did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Removed {
    /// The sandbox's record, as it was.
    pub record: Record,
    /// The branch stays when it holds commits merged nowhere (unless asked to delete it).
    pub branch_kept: bool,
    /// The locks given back.
    pub released: Released,
    /// What went wrong on the way that did not stop the removal.
    pub warnings: Vec<String>,
}

/// What a merge into the main tree did.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Merged {
    /// The sandbox's name.
    pub name: String,
    /// Its branch.
    pub branch: String,
    /// Whether it was rebased onto the target (and then fast-forwarded) rather than merged.
    pub rebased: bool,
    /// The target's commit before.
    pub before: String,
    /// The target's commit after.
    pub after: String,
    /// Whether the target moved forward without a merge commit.
    pub fast_forward: bool,
}

/// What landing a sandbox does besides landing it.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LandRequest {
    /// Commit what the sandbox holds first, with this message.
    pub message: Option<String>,
    /// Keep the sandbox's locks (by default they are given back once it has landed).
    pub keep_locks: bool,
    /// Remove the sandbox once it has landed.
    pub remove: bool,
}

/// What a land did: the commit made first, the land itself, the locks given back and whether
/// the sandbox was removed.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct LandReport {
    /// The commit made before landing (`LandRequest::message`), if there was anything to commit.
    pub committed: Option<String>,
    /// The land itself: what was pushed, to where.
    #[serde(flatten)]
    pub landed: sandbox::land::Landed,
    /// Leases given back.
    pub released: Vec<String>,
    /// Leases that were no longer this actor's when they were given back.
    pub gone: Vec<String>,
    /// Whether the sandbox was removed.
    pub removed: bool,
    /// The branch stays after removal when it holds commits merged nowhere.
    pub branch_kept: bool,
}

impl<'a> Sandboxes<'a> {
    /// The sandboxes of the repository at (or above) `dir`, from the main tree or a sandbox.
    pub fn open(dir: &Path) -> Result<Sandboxes<'static>> {
        Ok(Sandboxes {
            main: Holder::Owned(Box::new(Main::discover(dir)?)),
        })
    }

    /// The operations on `main`, which the caller opened.
    pub fn of(main: &'a Main) -> Sandboxes<'a> {
        Sandboxes {
            main: Holder::Lent(main),
        }
    }

    /// The main tree and its repository.
    pub fn main(&self) -> &Main {
        &self.main
    }

    /// A ready sandbox by name. Interrupted creations whose process is gone are rolled back
    /// first.
    pub fn find(&self, name: &str) -> Result<Record> {
        Ok(self.find_settled(name)?.0)
    }

    /// `find`, with a remote run that lost its connection (or whose process died) settled
    /// first, and what a person should hear of it. A host that cannot be reached leaves it
    /// marked, and says so.
    pub fn find_settled(&self, name: &str) -> Result<(Record, Option<String>)> {
        let r = find(&self.main, name)?;
        if r.remote.is_none() {
            return Ok((r, None));
        }
        let said = match sandbox::remote::reconcile(&self.main, &r) {
            Ok(said) => said,
            Err(e) => Some(format!("sandbox {name}: its last remote run is not settled yet: {e}")),
        };
        let r = find(&self.main, name)?;
        Ok((r, said))
    }

    /// Every sandbox with its state.
    pub fn list(&self) -> Result<Vec<Listed>> {
        self.list_checked(false)
    }

    /// Every sandbox with its state; with `exact`, each one's files checked in full, not
    /// answered from what was kept (see [`sandbox::status`]).
    pub fn list_checked(&self, exact: bool) -> Result<Vec<Listed>> {
        let records = self.main.list()?;
        let statuses = sandbox::statuses(&self.main, &records, exact)?;
        Ok(records
            .into_iter()
            .zip(statuses)
            .map(|(r, s)| Listed {
                path: r.path.display().to_string(),
                created_at: format_time(r.created_ms),
                dirty: s.dirty,
                ahead: s.ahead,
                behind: s.behind,
                last_run: r.runs.last().cloned(),
                name: r.name,
                branch: r.branch,
                base: r.base,
                base_ref: r.base_ref,
                backend: r.backend,
                copied_bytes: r.copied_bytes,
                issue: r.issue,
                locks: r.locks,
                sync_conflict: r.sync_conflict,
                remote: r.remote,
                caches: r.caches,
                node_modules: r.node_modules,
            })
            .collect())
    }

    /// The daemon's automatic sync (`sandbox.autosync=interval:…`): the base branch merged into
    /// every idle sandbox that is behind it. Idle means no command runs in it and it holds no
    /// uncommitted change (an agent's work in progress is never touched). A merge that conflicts
    /// is undone, the sandbox left as it was and marked (`list` shows it, the feed says so); the
    /// next sync that succeeds clears the mark.
    pub fn autosync_all(&self) -> Result<Vec<AutoSynced>> {
        let main = &self.main;
        let mut out = Vec::new();
        for r in main.list()? {
            if r.base_ref.is_none() || r.state != "ready" || !r.path.exists() {
                continue;
            }
            let mut said = |outcome: &'static str, detail: Option<String>| {
                out.push(AutoSynced {
                    name: r.name.clone(),
                    outcome,
                    detail,
                })
            };
            if running(main, &r.name) {
                said("running", None);
                continue;
            }
            if sandbox::dirty(&r)? {
                said("uncommitted", None);
                continue;
            }
            let base = r.base_ref.clone().unwrap_or_default();
            let behind = sandbox::git_in(&r.path, &["rev-list", "--count", &format!("HEAD..{base}")])
                .map(|n| n.trim().parse::<u64>().unwrap_or(0))
                .unwrap_or(0);
            if behind == 0 {
                said("current", None);
                continue;
            }
            match self.sync(&r) {
                Ok(s) => {
                    if let Some(mut fresh) = main.load(&r.name)? {
                        fresh.sync_conflict = None;
                        main.save(&fresh)?;
                    }
                    sandbox::note(
                        main,
                        "synced",
                        &r,
                        serde_json::json!({ "base": s.base, "after": s.after }),
                    );
                    said("synced", Some(s.after));
                }
                Err(e) => {
                    let why = e.to_string();
                    if let Some(mut fresh) = main.load(&r.name)? {
                        fresh.sync_conflict = Some(why.clone());
                        main.save(&fresh)?;
                    }
                    sandbox::note(
                        main,
                        "sync-conflict",
                        &r,
                        serde_json::json!({ "base": base, "why": why }),
                    );
                    said("conflict", Some(why));
                }
            }
        }
        Ok(out)
    }

    /// Applies the template (the request's, else `sandbox.defaultTemplate`) and `sandbox.*`
    /// config to a request.
    pub fn resolve(&self, req: &CreateRequest) -> Result<Resolved> {
        let main = &self.main;
        sandbox::validate_name(&req.name)?;
        let template = match req.template.clone().or_else(|| {
            main.repo
                .config_string("sandbox.defaultTemplate")
                .filter(|t| !t.is_empty())
        }) {
            Some(t) => Some(sandbox::runs::template(main, &t)?),
            None => None,
        };
        let mut env = template.as_ref().map(|t| t.env.clone()).unwrap_or_default();
        env.extend(req.env.iter().cloned());
        let backend = match req
            .backend
            .clone()
            .or_else(|| main.repo.config_string("sandbox.backend"))
        {
            Some(b) => Backend::parse(&b)?,
            None => template.as_ref().and_then(|t| t.backend).unwrap_or(Backend::Auto),
        };
        let (backend, note) = sandbox::resolve_backend(main, backend, &main.root());
        let spec = Spec {
            name: req.name.clone(),
            base: req.base.clone(),
            clean: req.clean,
            excludes: req
                .excludes
                .iter()
                .chain(template.iter().flat_map(|t| &t.excludes))
                .cloned()
                .collect(),
            includes: template.as_ref().map(|t| t.includes.clone()).unwrap_or_default(),
            backend,
            issue: None,
            locks: Vec::new(),
            remote: req
                .on
                .as_deref()
                .map(|on| sandbox::remote::executor(main, on))
                .transpose()?,
            caches: template.as_ref().map(|t| t.caches.clone()).unwrap_or_default(),
        };
        Ok(Resolved {
            spec,
            template,
            env,
            notes: note.into_iter().collect(),
        })
    }

    /// Makes a sandbox with what it takes on: its issue (resolved, and told in a comment) and
    /// its locks (taken for it, and released if creation fails or is interrupted). `stop` is
    /// asked between steps: a signal number there rolls the creation back. Failures to release
    /// go into `warnings`.
    pub fn make(
        &self,
        spec: Spec,
        issue: Option<&str>,
        lock: &[String],
        stop: &(dyn Fn() -> Option<i32> + Sync),
        progress: &(dyn Fn(u64, u64) + Sync),
        warnings: &mut Vec<String>,
    ) -> std::result::Result<Record, Stopped> {
        let main = &self.main;
        let store = match (issue, lock.is_empty()) {
            (None, true) => None,
            _ => Some(crate::store::Store::open(&main.tree)?),
        };
        let issue = match (issue, &store) {
            (Some(q), Some(s)) => Some(s.index.resolve(q)?),
            _ => None,
        };
        let locks = match &store {
            Some(s) if !lock.is_empty() => {
                let res = super::locks::resources(s, lock)?;
                let scope = crate::lock::default_scope(&s.repo);
                let mut taken: Vec<String> = Vec::new();
                for r in &res {
                    let note = format!("sandbox {}", spec.name);
                    if let Err(e) = super::locks::take(s, r, sandbox::leases::ttl(main), &note, &scope) {
                        // All or nothing: the ones taken already go back.
                        release_quietly(main, &taken, warnings);
                        return Err(e.into());
                    }
                    taken.push(r.to_string());
                }
                taken
            }
            _ => Vec::new(),
        };
        let spec = Spec {
            issue: issue.map(|i| i.to_hex()),
            locks,
            ..spec
        };
        let record = match sandbox::create(main, &spec, stop, progress) {
            Ok(r) => r,
            Err(e) => {
                release_quietly(main, &spec.locks, warnings);
                return Err(e);
            }
        };
        if let (Some(id), Some(s)) = (issue, &store) {
            let note = format!(
                "sandbox {}: started on branch {} from {}",
                record.name,
                record.branch,
                &record.base[..record.base.len().min(12)]
            );
            s.write(Some(id), vec![crate::event::Kind::CommentAdded { body: note }])?;
        }
        Ok(record)
    }

    /// `resolve` and `make` in one, for faces with nobody to interrupt the creation but
    /// `stop`.
    pub fn create(
        &self,
        req: &CreateRequest,
        stop: &(dyn Fn() -> Option<i32> + Sync),
        warnings: &mut Vec<String>,
    ) -> std::result::Result<(Record, Resolved), Stopped> {
        let resolved = self.resolve(req)?;
        warnings.extend(resolved.notes.iter().cloned());
        let record = self.make(
            resolved.spec.clone(),
            req.issue.as_deref(),
            &req.locks,
            stop,
            &|_, _| {},
            warnings,
        )?;
        Ok((record, resolved))
    }

    /// The isolation `asked` for (or `sandbox.isolate=true`), checked to be possible: never
    /// `None` when it was asked for and cannot be had. Hosts (`--allow-host`) ask for isolation
    /// and narrow its network to them; a seccomp profile's name overrides `sandbox.seccomp`.
    /// The note says which tool was chosen when the configured one was not there.
    pub fn isolation(&self, asked: &Policy<'_>) -> Result<(Option<Isolate>, Option<String>)> {
        let (mut iso, why) = sandbox::isolate::resolve(
            &self.main,
            asked.isolate || !asked.hosts.is_empty(),
            asked.net,
            asked.allow,
            asked.seccomp,
        )?;
        if let Some(i) = iso.as_mut() {
            let hosts = asked
                .hosts
                .iter()
                .map(|h| sandbox::proxy::Allowed::parse(h))
                .collect::<Result<Vec<_>>>()?;
            i.allow_hosts(hosts)?;
        }
        Ok((iso, why))
    }

    /// What every face does before running a command in sandbox `r`: the isolation asked for
    /// (refused, never run bare, when it cannot be had; see `isolation`), and `sandbox.autosync`
    /// applied. Returns the isolation and the note on which tool gives it.
    pub fn prepare(&self, r: &Record, asked: &Policy<'_>) -> Result<(Option<Isolate>, Option<String>)> {
        let (iso, why) = self.isolation(asked)?;
        self.autosync(r)?;
        Ok((iso, why))
    }

    /// Runs a command in sandbox `r` and records the run (command, environment, exit code,
    /// times, isolation). The sandbox's leases are renewed while it runs. The child starts with
    /// no signal blocked, whatever the face blocks.
    pub fn exec(&self, r: &Record, exec: &Exec, output: Output<'_>) -> Result<Ran> {
        let main = &self.main;
        let iso = exec.isolate.as_ref();
        // A remote sandbox's state goes there first, and its command runs there over ssh.
        let sent = match &r.remote {
            Some(rm) => Some((
                rm,
                remote_ready(r, rm, exec).and_then(|()| sandbox::remote::send(main, r, rm))?,
            )),
            None => None,
        };
        // Lives until the command ends: the allowlist's proxy runs while it does.
        let mut line: Option<Line> = None;
        let mut p = match &sent {
            Some((rm, _)) => {
                let line = sandbox::remote::line(&exec.cmd, exec.sh, &exec.env);
                rm.ssh(&sandbox::remote::script(r, rm, &line))
            }
            None => {
                sandbox::caches::remount(main, r)?;
                let made = line.insert(argv(&r.path, &exec.cmd, exec.sh, iso)?);
                let configured = iso.map(|_| sandbox::isolate::configured_env(main));
                command_in(&r.path, made, &exec.env, configured.as_deref())?
            }
        };
        // ssh's input stays open for as long as this run: when it closes (this process is
        // gone, or the connection), the remote end stops the command.
        let hold = sent.is_some();
        if hold {
            sandbox::remote::mark(main, &r.name, "running", std::process::id())?;
        }
        crate::sys::unblock_signals_on_exec(&mut p);
        let start = Instant::now();
        let started_at = format_time(crate::repo::now_ms());
        let renewer = sandbox::leases::Renewer::start(main, &r.locks);
        // While it runs, the daemon's automatic sync leaves the sandbox alone.
        let marker = running_marker(main, &r.name);
        let _ = std::fs::write(&marker, std::process::id().to_string());
        // The output is kept in a log wherever it does not go to a person's terminal: a
        // terminal's program may behave differently on a pipe (colour, progress, prompts).
        use std::io::IsTerminal;
        let at_terminal = std::io::stdout().is_terminal() || std::io::stderr().is_terminal();
        let log = match (&output, at_terminal) {
            (Output::Inherit { .. }, true) => None,
            _ => sandbox::runs::Log::create(main, &r.name).ok(),
        };
        // Again where bubblewrap's setup lost a race with a mount (`run_line`); a remote run
        // has no line here.
        let settled = |p: &mut Command,
                       run: &mut dyn FnMut(&mut Command) -> std::io::Result<std::process::ExitStatus>,
                       note: &dyn Fn(&str)| match &line {
            Some(l) => run_line(l, p, run, note),
            None => run(p),
        };
        let status = match (output, &log) {
            (Output::Inherit { stdout_to_stderr }, None) => {
                if stdout_to_stderr {
                    use std::os::fd::AsFd;
                    let fd = std::io::stderr()
                        .as_fd()
                        .try_clone_to_owned()
                        .map_err(Error::io("stderr"))?;
                    p.stdout(Stdio::from(fd));
                }
                let mut run = |p: &mut Command| {
                    if hold {
                        p.stdin(Stdio::piped()).spawn().and_then(|mut c| {
                            let _open = c.stdin.take();
                            c.wait()
                        })
                    } else {
                        p.status()
                    }
                };
                settled(&mut p, &mut run, &|n| eprint!("{n}"))
            }
            (Output::Inherit { stdout_to_stderr }, Some(log)) => {
                // Passed on as it comes, and kept.
                let tee = |stream: &'static str, bytes: &[u8]| {
                    use std::io::Write;
                    log.write(bytes);
                    let _ = if stream == "stderr" || stdout_to_stderr {
                        std::io::stderr().write_all(bytes)
                    } else {
                        let mut out = std::io::stdout().lock();
                        out.write_all(bytes).and_then(|()| out.flush())
                    };
                };
                let stdin = || if hold { In::Held } else { In::Inherit };
                settled(&mut p, &mut |p| stream_with(p, &tee, stdin()), &|n| {
                    tee("stderr", n.as_bytes())
                })
            }
            (Output::Stream(sink), log) => {
                let tee = |stream: &'static str, bytes: &[u8]| {
                    if let Some(l) = log {
                        l.write(bytes);
                    }
                    sink(stream, bytes);
                };
                let stdin = || if hold { In::Held } else { In::Null };
                settled(&mut p, &mut |p| stream_with(p, &tee, stdin()), &|n| {
                    tee("stderr", n.as_bytes())
                })
            }
        };
        drop(renewer);
        let net = line
            .as_ref()
            .and_then(|l| l.proxy.as_ref())
            .map(|p| p.events())
            .unwrap_or_default();
        drop(line);
        let _ = std::fs::remove_file(&marker);
        let log = log.map(|l| {
            let path = l.path.clone();
            l.finish();
            path
        });
        let mut not_found = None;
        let mut signalled = false;
        let code = match status {
            Ok(s) => {
                use std::os::unix::process::ExitStatusExt;
                signalled = s.signal().is_some();
                s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                not_found = Some(format!(
                    "{}: command not found",
                    exec.cmd.first().map_or("$SHELL", String::as_str)
                ));
                127
            }
            Err(e) => return Err(Error::io(&r.path)(e)),
        };
        let code = match &sent {
            Some((rm, sent)) => finish_remote(main, r, rm, sent, code, signalled)?,
            None => code,
        };
        // A build that succeeded here becomes the language caches' (best effort: a cache that
        // cannot be written only means the next sandbox builds more).
        if code == 0 && r.remote.is_none() {
            let method = match r.backend {
                Backend::Reflink => sandbox::Method::Reflink,
                _ => sandbox::Method::Copy,
            };
            for kind in &r.caches {
                let _ = sandbox::caches::publish(main, &r.path, *kind, method);
            }
        }
        let duration_ms = start.elapsed().as_millis() as u64;
        let isolation = match &r.remote {
            Some(rm) if rm.wrap.is_some() => "wrap",
            Some(_) => "none",
            None => iso.map_or("none", |i| i.with.name()),
        }
        .to_owned();
        sandbox::runs::record(
            main,
            &r.name,
            Run {
                cmd: exec.cmd.clone(),
                sh: exec.sh,
                env: exec.env.clone(),
                exit_code: code,
                started_at,
                duration_ms,
                isolation: isolation.clone(),
                isolate: exec.isolate.clone(),
                log,
                via: exec.via.to_owned(),
                net,
                // A request's actor (the socket's, MCP's) is the one its commands act as.
                actor: exec
                    .env
                    .iter()
                    .rev()
                    .find(|(k, _)| k == "GRIT_ACTOR")
                    .map_or_else(|| crate::actor::selected_label(&main.repo), |(_, v)| v.clone()),
            },
        )?;
        Ok(Ran {
            name: r.name.clone(),
            exit_code: code,
            duration_ms,
            isolation,
            not_found,
        })
    }

    /// Runs sandbox `r`'s last command again, as it ran (environment and isolation), after
    /// autosync, on this terminal.
    pub fn repeat(&self, r: &Record) -> Result<Ran> {
        let Some(last) = r.runs.last().cloned() else {
            return Err(Error::Failed {
                message: format!("nothing has run in sandbox {} yet", r.name),
                hint: format!("`git sandbox exec {} -- CMD` runs something", r.name),
            });
        };
        // The tool the run was isolated with must still be able to isolate it.
        if let Some(iso) = &last.isolate {
            sandbox::isolate::choose(Some(iso.with.name()))?;
        }
        self.autosync(r)?;
        let exec = Exec {
            cmd: last.cmd,
            sh: last.sh,
            env: last.env,
            isolate: last.isolate,
            via: "repeat",
        };
        self.exec(
            r,
            &exec,
            Output::Inherit {
                stdout_to_stderr: false,
            },
        )
    }

    /// Merges the base branch's new commits into the sandbox. A conflict is undone and is an
    /// error naming the files.
    pub fn sync(&self, r: &Record) -> Result<Synced> {
        let Some(base) = &r.base_ref else {
            return Err(Error::Failed {
                message: format!(
                    "sandbox {} started from a commit, not a branch: there is nothing to follow",
                    r.name
                ),
                hint: "`git -C <sandbox> merge REF` brings in what you choose".into(),
            });
        };
        let before = sandbox::git_in(&r.path, &["rev-parse", "HEAD"])?.trim().to_owned();
        let out =
            crate::sys::git_output(sandbox::git_cmd(&r.path).args(["merge", "--no-edit", "--autostash", "-q", base]))
                .map_err(Error::io("git"))?;
        if !out.status.success() {
            let _ = sandbox::git_cmd(&r.path).args(["merge", "--abort"]).output();
            let files = conflicted_files(&out);
            return Err(Error::Failed {
                message: format!(
                    "bringing {base} into sandbox {} stopped on a conflict{}; it was undone",
                    r.name,
                    if files.is_empty() {
                        String::new()
                    } else {
                        format!(" in {}", files.join(", "))
                    }
                ),
                hint: format!(
                    "resolve it by hand: `git sandbox open {}`, then `git merge {base}`",
                    r.name
                ),
            });
        }
        let after = sandbox::git_in(&r.path, &["rev-parse", "HEAD"])?.trim().to_owned();
        Ok(Synced {
            name: r.name.clone(),
            base: base.clone(),
            before,
            after,
        })
    }

    /// `sync` before a command, when `sandbox.autosync` is set.
    pub fn autosync(&self, r: &Record) -> Result<Option<Synced>> {
        if self.main.repo.config_bool("sandbox.autosync") == Some(true) || autosync_interval(&self.main.repo).is_some()
        {
            return self.sync(r).map(Some);
        }
        Ok(None)
    }

    /// What sandbox `r` changed, file by file.
    pub fn diff(&self, r: &Record) -> Result<Diff> {
        let (from, to) = diff_trees(r)?;
        let out = sandbox::git_in(&r.path, &["diff", "--numstat", "-z", "--no-renames", &from, &to])?;
        let files = out
            .split('\0')
            .filter(|l| !l.is_empty())
            .filter_map(|l| {
                let mut f = l.splitn(3, '\t');
                let (added, removed, path) = (f.next()?, f.next()?, f.next()?);
                Some(FileChange {
                    path: path.to_owned(),
                    added: added.parse().ok(),
                    removed: removed.parse().ok(),
                })
            })
            .collect();
        Ok(Diff {
            name: r.name.clone(),
            from,
            to,
            files,
        })
    }

    /// The patch of `diff`, as `git diff` prints it (no colour).
    pub fn patch(&self, d: &Diff, r: &Record) -> Result<String> {
        sandbox::git_in(&r.path, &["diff", "--no-color", &d.from, &d.to])
    }

    /// Commits the sandbox's own changes (with `include_carried`, everything in it). A commit
    /// gives back the sandbox's locks unless `keep_locks`; a release that fails is an error
    /// that names each lock, after the commit was made.
    pub fn commit(&self, r: &Record, message: &str, include_carried: bool, keep_locks: bool) -> Result<Committed> {
        let commit = sandbox::commit_work(&self.main, r, message, include_carried)?;
        let mut released = Released::default();
        if commit.is_some() && !keep_locks {
            released = self.release_locks(r, &format!("committed sandbox {}", r.name))?;
        }
        Ok(Committed {
            name: r.name.clone(),
            branch: r.branch.clone(),
            commit,
            released,
        })
    }

    /// Gives back the locks taken for sandbox `r` once `what` (its commit, landing, removal…)
    /// is done. A release that fails is an error that names each lock and why.
    pub fn release_locks(&self, r: &Record, what: &str) -> Result<Released> {
        let rel = sandbox::leases::release_for(&self.main, &r.name, &r.locks)?;
        if !rel.ok() {
            return Err(sandbox::leases::failure(what, &rel));
        }
        Ok(Released {
            released: rel.released,
            gone: rel.gone,
        })
    }

    /// Removes sandbox `name` unless that loses work (uncommitted changes, or commits merged
    /// nowhere) and `force` is not given; keeps its branch when it holds unmerged commits,
    /// unless `delete_branch`; gives back its locks unless `keep_locks`.
    pub fn remove(&self, name: &str, force: bool, delete_branch: bool, keep_locks: bool) -> Result<Removed> {
        let main = &self.main;
        let r = self.find(name)?;
        let merged = sandbox::merged(main, &r)?;
        if !force {
            if sandbox::dirty(&r)? {
                return Err(Error::Failed {
                    message: format!("sandbox {name} has uncommitted changes"),
                    hint: format!("`git sandbox commit {name} -m MSG` keeps them; `--force` throws them away"),
                });
            }
            if !merged {
                return Err(Error::Failed {
                    message: format!("sandbox {name} has commits not merged into {}", sandbox::against(&r)),
                    hint: format!(
                        "`git sandbox merge {name}` merges them; `--force` removes the sandbox and keeps them on {}",
                        r.branch
                    ),
                });
            }
        }
        // Commits merged nowhere live only on the branch: it goes only when asked.
        let branch_kept = !merged && !delete_branch;
        sandbox::remove_keeping(main, &r, branch_kept)?;
        let mut warnings = Vec::new();
        // The last sandbox on a layer frees it (beyond the cache).
        if r.layer.is_some()
            && let Err(e) = sandbox::layers::collect(main)
        {
            warnings.push(format!("could not collect unused layers: {e}"));
        }
        let released = if keep_locks {
            Released::default()
        } else {
            self.release_locks(&r, &format!("removed sandbox {name}"))?
        };
        Ok(Removed {
            record: r,
            branch_kept,
            released,
            warnings,
        })
    }

    /// Lands sandbox `r` on the main tree's branch and pushes it (`sandbox::land::land`), after
    /// committing what it holds when `req.message` is given; then gives back its locks and
    /// removes it as `req` asks.
    pub fn land(&self, r: &Record, opts: &sandbox::land::LandOptions, req: &LandRequest) -> Result<LandReport> {
        let committed = match &req.message {
            Some(m) => self.commit(r, m, false, true)?.commit,
            None => None,
        };
        let landed = sandbox::land::land(&self.main, r, opts)?;
        let mut released = Released::default();
        if !req.keep_locks {
            released = self.release_locks(r, &format!("landed sandbox {}", r.name))?;
        }
        let mut report = LandReport {
            committed,
            landed,
            released: released.released,
            gone: released.gone,
            removed: false,
            branch_kept: false,
        };
        if req.remove {
            let removed = self.remove(&r.name, false, false, true)?;
            report.landed.warnings.extend(removed.warnings);
            report.removed = true;
            report.branch_kept = removed.branch_kept;
        }
        Ok(report)
    }

    /// Puts sandbox `r`'s work up for review instead of landing it: commits what it holds first
    /// (with `message`), pushes its branch and opens a pull request on GitHub through `api`
    /// (see [`sandbox::land::propose`]). The sandbox and its locks stay until it lands.
    pub fn propose(
        &self,
        r: &Record,
        opts: &sandbox::land::ProposeOptions,
        message: Option<&str>,
        api: &mut crate::rest::Client,
    ) -> Result<sandbox::land::Proposed> {
        if let Some(m) = message {
            self.commit(r, m, false, true)?;
        }
        sandbox::land::propose(&self.main, r, opts, api)
    }

    /// The files a merge of sandbox `r`'s branch into the current branch would conflict on,
    /// changing nothing.
    pub fn preview(&self, r: &Record) -> Result<Vec<String>> {
        let out = self.main.repo.git_output(&[
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            "HEAD",
            &r.branch,
        ])?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        match out.status.code() {
            Some(0) => Ok(Vec::new()),
            // Exit 1: conflicts; the first line is the tree, then the conflicted files.
            Some(1) => Ok(text
                .lines()
                .skip(1)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()),
            _ => Err(Error::Failed {
                message: format!("git merge-tree failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
                hint: "`git merge-tree` needs git 2.38 or later".into(),
            }),
        }
    }

    /// Merges sandbox `r`'s branch into the main tree's current branch (with `rebase`, rebases
    /// it there first and fast-forwards), one merge or land at a time per clone.
    pub fn merge(&self, r: &Record, rebase: bool) -> Result<Merged> {
        let main = &self.main;
        // Agents of one clone share its checkout: one merge (or land) at a time.
        let _turn = sandbox::land::lock(main)?;
        let before = main.git(&["rev-parse", "HEAD"])?.trim().to_owned();
        if rebase {
            // Rebase the sandbox's branch in the sandbox (its work tree has it checked out).
            if sandbox::dirty(r)? {
                return Err(Error::Failed {
                    message: format!("sandbox {} has uncommitted changes", r.name),
                    hint: format!("`git sandbox commit {} -m MSG` first; nothing was rebased", r.name),
                });
            }
            let out = crate::sys::git_output(sandbox::git_cmd(&r.path).args(["rebase", "-q", "--autostash", &before]))
                .map_err(Error::io("git"))?;
            if !out.status.success() {
                let _ = sandbox::git_cmd(&r.path).args(["rebase", "--abort"]).output();
                return Err(Error::Failed {
                    message: format!(
                        "rebasing {} onto the current branch stopped on a conflict; it was undone",
                        r.branch
                    ),
                    hint: format!(
                        "`git sandbox merge {}` merges instead; `--preview` lists the files",
                        r.name
                    ),
                });
            }
        }
        let mut args = vec!["merge", "--no-edit"];
        if rebase {
            args.push("--ff-only");
        }
        args.push(&r.branch);
        let out = Command::new("git")
            .current_dir(&main.tree)
            .args(&args)
            .output()
            .map_err(Error::io("git"))?;
        if !out.status.success() {
            let (stdout, stderr) = (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
            // git's own explanation (files in the way, conflicts) in the message, then ours.
            let said: Vec<&str> = stdout
                .lines()
                .chain(stderr.lines())
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            return Err(Error::Failed {
                message: format!(
                    "git merge {} failed{}",
                    r.branch,
                    if said.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", said.join(" / "))
                    }
                ),
                hint: merge_hint(&stderr, &stdout),
            });
        }
        let after = main.git(&["rev-parse", "HEAD"])?.trim().to_owned();
        if before != after {
            sandbox::note(
                main,
                "merged",
                r,
                serde_json::json!({ "before": before, "after": after, "rebased": rebase }),
            );
        }
        let fast_forward = main
            .git(&["rev-parse", &format!("{after}^@")])
            .map(|p| p.lines().count() == 1)
            .unwrap_or(false);
        Ok(Merged {
            name: r.name.clone(),
            branch: r.branch.clone(),
            rebased: rebase,
            before,
            after,
            fast_forward,
        })
    }
}

fn find(main: &Main, name: &str) -> Result<Record> {
    sandbox::validate_name(name)?;
    let _ = main.list()?; // rolls back dead creations first
    main.load(name)?
        .filter(|r| r.state == "ready")
        .ok_or_else(|| Error::Failed {
            message: format!("no sandbox named '{name}'"),
            hint: "`git sandbox list` shows them".into(),
        })
}

/// Whether `exec` can run on remote sandbox `r`: a command (no interactive shell), and any
/// isolation asked for given by the executor's `wrap` (this machine's cannot reach there).
fn remote_ready(r: &Record, rm: &sandbox::remote::Remote, exec: &Exec) -> Result<()> {
    if exec.cmd.is_empty() {
        return Err(Error::invalid(
            format!(
                "sandbox {} runs on {}: it takes a command, not an interactive shell",
                r.name, rm.on
            ),
            format!("`git sandbox exec {} -- CMD` runs one there", r.name),
        ));
    }
    if exec.isolate.is_some() && rm.wrap.is_none() {
        return Err(Error::invalid(
            format!(
                "sandbox {} runs on {}, where this machine's isolation cannot reach",
                r.name, rm.on
            ),
            format!(
                "set sandbox.executor.{}.wrap to a command that contains it there (`podman run …`, `bwrap …`)",
                rm.on
            ),
        ));
    }
    Ok(())
}

/// After a remote run: its result brought back; a lost connection (ssh's 255) leaves the
/// record marked for the next command to reconcile; an interrupted run left nothing there.
/// Returns the exit code to report (128 + the signal, for an interrupted run).
fn finish_remote(
    main: &Main,
    r: &Record,
    rm: &sandbox::remote::Remote,
    sent: &sandbox::remote::Sent,
    code: i32,
    signalled: bool,
) -> Result<i32> {
    // A Ctrl-C reaches ssh too; a client sharing a connection then exits 255, as for a lost
    // one. A face that holds such signals pending (the CLI) was interrupted, not cut off.
    let pending = crate::sys::pending_signal(&crate::sys::GUARDED);
    let interrupted = signalled || pending.is_some();
    if code == 255 && !interrupted {
        sandbox::remote::mark(main, &r.name, "lost", 0)?;
        return Err(Error::Failed {
            message: format!(
                "the connection to {} was lost during the run in sandbox {}",
                rm.on, r.name
            ),
            hint: format!(
                "the sandbox is marked; the next command on it (`git sandbox diff {}`) settles it",
                r.name
            ),
        });
    }
    sandbox::remote::mark(main, &r.name, "idle", 0)?;
    // Interrupted here (Ctrl-C): the remote end stopped the command and removed its directory;
    // there is nothing to bring back.
    if !interrupted && !sandbox::remote::bring_back(main, r, rm, sent)? {
        return Err(Error::Failed {
            message: format!(
                "the run in sandbox {} on {} did not finish: its connection closed, and it was stopped there",
                r.name, rm.on
            ),
            hint: format!(
                "the sandbox holds what it had before; `git sandbox repeat {}` runs it again",
                r.name
            ),
        });
    }
    Ok(match pending {
        Some(sig) if !signalled => 128 + sig,
        _ => code,
    })
}

/// Gives back locks taken for a creation that did not finish; a failure is a warning with its
/// reason, after the creation's own error.
fn release_quietly(main: &Main, locks: &[String], warnings: &mut Vec<String>) {
    match sandbox::leases::release(main, locks) {
        Ok(r) if r.ok() => {}
        Ok(r) => warnings.push(sandbox::leases::failure("the sandbox was not made", &r).to_string()),
        Err(e) => warnings.push(format!("could not release the sandbox's locks: {e}")),
    }
}

/// What `diff` compares: the sandbox's start (its commits with what was carried laid over them)
/// and its work tree, untracked files included; for a sandbox without a recorded start, its
/// base commit and its work tree.
pub fn diff_trees(r: &Record) -> Result<(String, String)> {
    Ok(match sandbox::carried::own_changes(r)? {
        Some((start, now, _)) => (start, now),
        None => (r.base.clone(), sandbox::carried::worktree_tree(&r.path)?),
    })
}

/// What a face asks of a run's isolation: `--isolate`, `--net`, `--allow PATH`,
/// `--allow-host HOST` and `--seccomp PROFILE`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy<'a> {
    /// Run it isolated (bubblewrap, else unshare).
    pub isolate: bool,
    /// Let it reach the network.
    pub net: bool,
    /// More paths it may write.
    pub allow: &'a [PathBuf],
    /// Hosts it may reach through the allowlist's proxy (`HOST[:PORT]`).
    pub hosts: &'a [String],
    /// A seccomp profile by name (`strict`, `trace`, or one from git config).
    pub seccomp: Option<&'a str>,
}

/// A command line to run, with the allowlist's proxy it needs for as long as it runs.
pub struct Line {
    /// The program and its arguments, the isolation's wrapper first.
    pub argv: Vec<String>,
    /// Running while this lives (`--allow-host`); its decisions go into the run's record.
    pub proxy: Option<sandbox::proxy::Proxy>,
    /// What a person should hear (a secret left out).
    pub notes: Vec<String>,
    /// The filter bubblewrap loads (`--add-seccomp-fd`).
    pub seccomp: Option<sandbox::seccomp::Profile>,
    /// What bubblewrap says of its setup (`--json-status-fd`).
    pub setup: Option<sandbox::isolate::Setup>,
}

/// The command line to run: an interactive $SHELL when `cmd` is empty, `sh -c` with `sh`,
/// inside bubblewrap (or unshare) with `iso`, behind the allowlist's proxy when it names hosts.
pub fn argv(dir: &Path, cmd: &[String], sh: bool, iso: Option<&Isolate>) -> Result<Line> {
    let (mut proxy, mut notes) = (None, Vec::new());
    let mut v = match iso {
        Some(iso) => {
            // Both in one git process (each costs a few ms of every isolated run's start).
            let dirs = sandbox::git_in(
                dir,
                &[
                    "rev-parse",
                    "--absolute-git-dir",
                    "--path-format=absolute",
                    "--git-common-dir",
                ],
            )
            .unwrap_or_default();
            let mut dirs = dirs.lines().map(|d| PathBuf::from(d.trim()));
            let (git_dir, common) = (dirs.next(), dirs.next());
            if !iso.allow_hosts.is_empty() {
                let secrets = match Main::discover(dir) {
                    Ok(main) => {
                        let (secrets, said) = sandbox::proxy::secrets(&main);
                        notes = said;
                        secrets
                    }
                    Err(_) => Vec::new(),
                };
                proxy = Some(sandbox::proxy::Proxy::start(iso.allow_hosts.clone(), secrets)?);
            }
            let through = proxy.as_ref().map(|p| p.dir.as_path());
            sandbox::isolate::wrapper(dir, git_dir.as_deref(), common.as_deref(), iso, through)?
        }
        None => Vec::new(),
    };
    if cmd.is_empty() {
        v.push(
            std::env::var("SHELL")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "sh".into()),
        );
    } else if sh {
        v.extend(["sh".to_owned(), "-c".to_owned(), cmd.join(" ")]);
    } else {
        v.extend(cmd.iter().cloned());
    }
    let bwrap = v.first().is_some_and(|t| t == "bwrap");
    let seccomp = iso.filter(|i| bwrap && !i.seccomp.is_off());
    Ok(Line {
        argv: v,
        proxy,
        notes,
        seccomp: seccomp.map(|i| i.seccomp.clone()),
        setup: if bwrap {
            Some(sandbox::isolate::Setup::new()?)
        } else {
            None
        },
    })
}

/// The process for `line` in a sandbox: its directory, the caller's environment without git's
/// variables that would point it elsewhere, and `env` on top. An isolated one (`isolated`
/// holds what `sandbox.env` adds) gets only the variables isolation passes: no token or key of
/// the caller's reaches it.
pub fn command_in(
    dir: &Path,
    line: &Line,
    env: &[(String, String)],
    isolated: Option<&[(String, String)]>,
) -> Result<Command> {
    let mut p = Command::new(&line.argv[0]);
    p.args(&line.argv[1..]).current_dir(dir);
    // bubblewrap reads the seccomp programs from the descriptors its line names, and reports its
    // setup on another.
    let mut fds = Vec::new();
    if let Some(profile) = &line.seccomp {
        fds.extend(sandbox::seccomp::files(profile)?.into_iter().zip(sandbox::seccomp::FDS));
    }
    if let Some(setup) = &line.setup {
        fds.push((setup.writer()?, sandbox::isolate::STATUS_FD));
    }
    crate::sys::give_fds(&mut p, fds);
    match isolated {
        Some(configured) => {
            let all: Vec<(String, String)> = configured.iter().chain(env).cloned().collect();
            sandbox::isolate::scrub_env(&mut p, &all);
        }
        None => {
            p.env_remove("GIT_DIR")
                .env_remove("GIT_WORK_TREE")
                .env_remove("GIT_INDEX_FILE")
                .envs(env.iter().map(|(k, v)| (k, v)));
        }
    }
    Ok(p)
}

/// Runs `p`, made by [`command_in`] from `line`, with `run`; and again, at most ten more
/// times, each said through `note`, while bubblewrap's setup failed because a mount of the host
/// came or went under it (see [`sandbox::isolate::Setup`]). A setup that fails with the mounts
/// unchanged (a path that is not there, a command not found) is not tried again.
pub fn run_line(
    line: &Line,
    p: &mut Command,
    mut run: impl FnMut(&mut Command) -> std::io::Result<std::process::ExitStatus>,
    note: &dyn Fn(&str),
) -> std::io::Result<std::process::ExitStatus> {
    let mut again = 0;
    // Whatever the command changes, the sandbox's kept status is checked again after it.
    let _mark = p.get_current_dir().and_then(sandbox::status::RunMark::start);
    loop {
        let watch = line.setup.as_ref().and_then(|_| crate::sys::MountWatch::new());
        let status = run(p);
        let (Some(setup), Some(watch)) = (&line.setup, watch) else {
            return status;
        };
        let unstarted = status.as_ref().is_ok_and(|s| s.code() == Some(1)) && !setup.started();
        if !(unstarted && watch.changed() && again < 10) {
            return status;
        }
        again += 1;
        note(
            "note: a mount of this machine came or went while the sandbox's isolation was set up; setting it up again\n",
        );
    }
}

/// A streamed child's standard input.
enum In {
    Inherit,
    Null,
    /// A pipe held open, never written, until the child ends (a remote run's watcher).
    Held,
}

fn stream_with(
    p: &mut Command,
    sink: &(dyn Fn(&'static str, &[u8]) + Sync),
    stdin: In,
) -> std::io::Result<std::process::ExitStatus> {
    match stdin {
        In::Inherit => {}
        In::Null => {
            p.stdin(Stdio::null());
        }
        In::Held => {
            p.stdin(Stdio::piped());
        }
    }
    let mut child = p.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let _open = child.stdin.take();
    let out = child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>);
    let err = child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>);
    std::thread::scope(|scope| {
        for (name, r) in [("stdout", out), ("stderr", err)] {
            let Some(mut r) = r else { continue };
            scope.spawn(move || {
                let mut buf = vec![0u8; 16 << 10];
                while let Ok(n) = r.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink(name, &buf[..n]);
                }
            });
        }
        child.wait()
    })
}

/// The files a failed `git merge` names as conflicted.
fn conflicted_files(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .filter_map(|l| l.split_once("Merge conflict in ").map(|(_, f)| f.trim().to_owned()))
        .collect()
}

/// The hint for what a failed `git merge` said.
fn merge_hint(stderr: &str, stdout: &str) -> String {
    if stderr.contains("would be overwritten by merge") && stderr.contains("untracked") {
        "untracked files in the current tree are in the way (listed above); move them aside, then merge again. \
         Nothing was merged"
            .into()
    } else if stderr.contains("would be overwritten by merge") {
        "your uncommitted changes to those files are in the way: commit or stash them (`git stash`), then merge \
         again. Nothing was merged"
            .into()
    } else if stdout.contains("CONFLICT") || stderr.contains("CONFLICT") {
        "resolve the conflicts and commit, or `git merge --abort`".into()
    } else {
        "nothing was merged; `git sandbox merge --preview NAME` lists what would conflict".into()
    }
}
