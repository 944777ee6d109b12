//! Remote executors: a sandbox whose commands run on another machine over ssh, while its
//! branch, its directory here and every other command stay as for a local one.
//!
//! A run sends the sandbox's state there and brings the result back:
//! - here, everything the sandbox holds (its commit, and its uncommitted and untracked files)
//!   becomes a commit on a scratch index, pushed with its `HEAD` to `refs/grit-remote/*` of a
//!   repository in the executor's directory (made by the push, so the remote needs only git and
//!   a POSIX shell);
//! - there, the branch is checked out at that `HEAD` with the state's files over it, and the
//!   command runs (inside the executor's `wrap`, such as `podman run …`, when one is set), its
//!   output streamed back through ssh and its exit code returned;
//! - then the remote's branch (with any commits the command made) and its files (as a commit)
//!   are fetched, and the sandbox here takes both: `diff`, `commit`, `land` and `rm` work as
//!   for any sandbox.
//!
//! Ignored files stay where they are (a remote build's `target/` is kept there between runs).
//! The run holds ssh's standard input open: when this side goes (Ctrl-C, a kill, a lost
//! connection), the remote end reads end-of-file, moves the directory aside at once (so the next
//! run starts afresh, never in a directory being removed), stops the command's process group and
//! removes the directory. A run whose connection is lost leaves the record marked; the next command on
//! the sandbox reconciles it.

use std::process::Command;

use serde::{Deserialize, Serialize};

use super::{Main, Record, git_cmd, git_in};
use crate::error::{Error, Result};

/// Where a remote sandbox lives, in its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remote {
    /// The executor's name, or the ssh destination given to `--on`.
    pub on: String,
    /// The ssh destination (`user@host`).
    pub destination: String,
    /// The ssh program and its options (`sandbox.executor.<name>.sshCommand`, default `ssh`).
    pub ssh: String,
    /// The sandbox's repository there (relative paths are from the remote user's home); for
    /// an executor not yet given a sandbox, the directory its sandboxes go in.
    pub dir: String,
    /// A command the remote command runs inside (`podman run --rm -v "$PWD:/w" -w /w img`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrap: Option<String>,
    /// idle, running (a run by `pid` is under way), or lost (a run lost its connection).
    pub state: String,
    /// The process of the run under way, when `state` is running.
    #[serde(default)]
    pub pid: u32,
}

/// The executor `on` names: `sandbox.executor.<on>.ssh` (its destination), `.sshCommand`,
/// `.dir` and `.wrap`; otherwise `on` is an ssh destination itself, with `ssh` and the
/// directory `grit-sandboxes`.
pub fn executor(main: &Main, on: &str) -> Result<Remote> {
    let key = |k: &str| main.repo.config_string(&format!("sandbox.executor.{on}.{k}"));
    let destination = key("ssh").unwrap_or_else(|| on.to_owned());
    if destination.is_empty() || destination.starts_with('-') || destination.contains(char::is_whitespace) {
        return Err(Error::invalid(
            format!("'{on}' is neither a configured executor nor an ssh destination"),
            "give user@host, or set sandbox.executor.NAME.ssh and pass NAME to --on",
        ));
    }
    let base = key("dir").unwrap_or_else(|| "grit-sandboxes".into());
    Ok(Remote {
        on: on.to_owned(),
        destination,
        ssh: key("sshCommand").unwrap_or_else(|| "ssh".into()),
        dir: base.trim_end_matches('/').to_owned(),
        wrap: key("wrap").filter(|w| !w.trim().is_empty()),
        state: "idle".into(),
        pid: 0,
    })
}

/// Where ssh's shared connections live: this user's private directory (a socket path must be
/// short). `None`, and no sharing, when it cannot be trusted.
fn control_dir() -> Option<std::path::PathBuf> {
    crate::sys::private_tmp().filter(|d| d.as_os_str().len() < 60)
}

/// `s` quoted for a POSIX shell.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+%".contains(&b))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Remote {
    /// The executor's place for sandbox `name` of this repository: one directory per sandbox
    /// and per repository, so two clones' sandboxes of one name do not meet there.
    pub fn for_sandbox(&self, main: &Main, name: &str) -> Remote {
        let tag = crate::hex::encode(&crate::event::blake2b256(main.tree.to_string_lossy().as_bytes())[..4]);
        Remote {
            dir: format!("{}/{name}-{tag}", self.dir),
            ..self.clone()
        }
    }

    /// The ssh command with grit's options: never prompt, and one connection shared by a
    /// run's steps and the runs of the next minute (a login costs a key exchange each).
    fn ssh_line(&self) -> String {
        let mut line = format!("{} -o BatchMode=yes", self.ssh);
        if let Some(dir) = control_dir() {
            line.push_str(&format!(
                " -o ControlMaster=auto -o ControlPersist=60 -o ControlPath={}",
                quote(&format!("{}/%C", dir.display()))
            ));
        }
        line
    }

    /// `ssh` to the destination running `script` in its shell; never prompts.
    pub fn ssh(&self, script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", &format!("{} \"$@\"", self.ssh_line()), "ssh"])
            .arg(&self.destination)
            .arg(script);
        c
    }

    /// `git` in the main tree with this executor's ssh for its transport.
    fn git(&self, main: &Main, args: &[&str]) -> Result<String> {
        let mut c = git_cmd(&main.tree);
        c.env("GIT_SSH_COMMAND", self.ssh_line()).env("GIT_SSH_VARIANT", "ssh");
        let out = crate::sys::git_output(c.args(args)).map_err(Error::io("git"))?;
        if !out.status.success() {
            return Err(Error::Failed {
                message: format!(
                    "could not reach sandbox {} on {}: {}",
                    self.dir,
                    self.destination,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                hint: format!(
                    "check that `{} {}` logs in without a password and that git is on its PATH",
                    self.ssh, self.destination
                ),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn url(&self) -> String {
        format!("{}:{}", self.destination, self.dir)
    }
}

/// What a run sent: the sandbox's commit and its state (every file it held, as a commit).
pub struct Sent {
    /// The sandbox's commit.
    pub head: String,
    /// Everything it held, as a commit.
    pub state: String,
}

const IDENT: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "grit"),
    ("GIT_AUTHOR_EMAIL", "grit@sandbox.invalid"),
    ("GIT_COMMITTER_NAME", "grit"),
    ("GIT_COMMITTER_EMAIL", "grit@sandbox.invalid"),
];

/// Everything sandbox `r` holds as a commit on its `HEAD`: uncommitted and untracked files
/// included, ignored ones not. The sandbox's own index is left alone.
fn state_commit(r: &Record) -> Result<Sent> {
    let head = git_in(&r.path, &["rev-parse", "HEAD"])?.trim().to_owned();
    let tree = super::carried::worktree_tree(&r.path)?;
    let mut c = git_cmd(&r.path);
    c.envs(IDENT)
        .args(["commit-tree", &tree, "-p", &head, "-m", "sandbox state"]);
    let out = crate::sys::git_output(&mut c).map_err(Error::io("git"))?;
    if !out.status.success() {
        return Err(Error::Subprocess {
            command: "git commit-tree".into(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let state = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok(Sent { head, state })
}

/// Sends sandbox `r`'s state to its executor: the repository there is made on first use.
pub fn send(main: &Main, r: &Record, rm: &Remote) -> Result<Sent> {
    let sent = state_commit(r)?;
    let dir = quote(&rm.dir);
    // git appends the path to the receive-pack command; the directory is made first.
    let receive = format!("mkdir -p {dir} && git init -q {dir} >/dev/null && git receive-pack");
    rm.git(
        main,
        &[
            "push",
            "--quiet",
            "--force",
            "--no-verify",
            &format!("--receive-pack={receive}"),
            &rm.url(),
            &format!("{}:refs/grit-remote/head", sent.head),
            &format!("{}:refs/grit-remote/state", sent.state),
        ],
    )?;
    Ok(sent)
}

/// The script that runs `line` (already a command line for the remote shell) in the sandbox
/// there: check out what was sent, run it in its own process group with a watcher on ssh's
/// input, keep the result as a commit, and exit with the command's code.
pub fn script(r: &Record, rm: &Remote, line: &str) -> String {
    let dir = quote(&rm.dir);
    let branch = quote(&r.branch);
    let line = match &rm.wrap {
        Some(w) => format!("{w} {line}"),
        None => line.to_owned(),
    };
    format!(
        r#"exec 3<&0
cd {dir} 2>/dev/null || {{ echo "grit: the sandbox's directory {dir} is gone on this host" >&2; exit 125; }}
rm -f .git/grit-exit .git/grit-stopped
git update-ref -d refs/grit-remote/result 2>/dev/null
{{ git checkout -q -f -B {branch} refs/grit-remote/head && git clean -fdq && git read-tree -u --reset refs/grit-remote/state && git reset -q; }} >&2 || {{ echo "grit: could not check out the sandbox in {dir}" >&2; exit 125; }}
if command -v setsid >/dev/null 2>&1; then setsid {line} </dev/null & else {line} </dev/null & fi
pid=$!
top=$(pwd)
( cat >/dev/null
  if kill -0 $pid 2>/dev/null; then
    : >.git/grit-stopped
    gone="$top.stopped-$$"
    mv "$top" "$gone"
    kill -TERM -$pid 2>/dev/null || kill -TERM $pid
    sleep 1
    kill -KILL -$pid 2>/dev/null || kill -KILL $pid 2>/dev/null
    cd / && rm -rf "$gone"
  fi ) <&3 >/dev/null 2>&1 &
exec 3<&-
wait $pid
code=$?
[ -e .git/grit-stopped ] && exit $code
git add -A >/dev/null 2>&1 && t=$(git write-tree) && s=$(git -c user.name=grit -c user.email=grit@sandbox.invalid commit-tree "$t" -p HEAD -m "sandbox result") && git update-ref refs/grit-remote/result "$s"
git reset -q >/dev/null 2>&1
echo $code >.git/grit-exit
exit $code
"#
    )
}

/// The command line for `cmd` there: `env` with the run's variables, then the command (or
/// `sh -c` of it joined, for `--sh`).
pub fn line(cmd: &[String], sh: bool, env: &[(String, String)]) -> String {
    let mut words: Vec<String> = Vec::new();
    if !env.is_empty() {
        words.push("env".into());
        words.extend(env.iter().map(|(k, v)| quote(&format!("{k}={v}"))));
    }
    if sh {
        words.extend(["sh".into(), "-c".into(), quote(&cmd.join(" "))]);
    } else {
        words.extend(cmd.iter().map(|w| quote(w)));
    }
    words.join(" ")
}

/// Brings back the result of the last run there: the branch (with any commits the command
/// made) and the files, onto sandbox `r` here. `sent` is what the run started from. Returns
/// whether anything came: `false` when the remote has no result (its run was stopped).
pub fn bring_back(main: &Main, r: &Record, rm: &Remote, sent: &Sent) -> Result<bool> {
    let ns = format!("refs/grit-remote/{}", r.name);
    let found = rm.git(
        main,
        &[
            "ls-remote",
            &rm.url(),
            &format!("refs/heads/{}", r.branch),
            "refs/grit-remote/result",
        ],
    )?;
    if !found.contains("refs/grit-remote/result") {
        return Ok(false);
    }
    rm.git(
        main,
        &[
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            &rm.url(),
            &format!("+refs/heads/{}:{ns}/head", r.branch),
            &format!("+refs/grit-remote/result:{ns}/result"),
        ],
    )?;
    let head = main.git(&["rev-parse", &format!("{ns}/head")])?.trim().to_owned();
    let result = main.git(&["rev-parse", &format!("{ns}/result")])?.trim().to_owned();
    // The files the remote removed, among those sent (untracked ones are not in any index
    // here, so reading the tree would leave them).
    let gone = main.git(&["diff", "--name-only", "-z", "--diff-filter=D", &sent.state, &result])?;
    if head != sent.head {
        main.git(&["update-ref", &format!("refs/heads/{}", r.branch), &head, &sent.head])?;
    }
    git_in(&r.path, &["read-tree", "-u", "--reset", &result])?;
    git_in(&r.path, &["reset", "-q"])?;
    for f in gone.split('\0').filter(|f| !f.is_empty()) {
        let p = r.path.join(f);
        if p.starts_with(&r.path) && !f.split('/').any(|c| c == "..") {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok(true)
}

/// What the remote says of its last run: its exit code, or `None` when the directory is gone
/// or the run did not finish. `Err` when the host cannot be reached.
pub fn last_exit(rm: &Remote) -> Result<Option<i32>> {
    let dir = quote(&rm.dir);
    let out = rm
        .ssh(&format!("cat {dir}/.git/grit-exit 2>/dev/null || echo none"))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(Error::io("ssh"))?;
    if !out.status.success() {
        return Err(unreachable_host(rm, &String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse().ok())
}

fn unreachable_host(rm: &Remote, stderr: &str) -> Error {
    Error::Failed {
        message: format!("could not reach {}: {}", rm.destination, stderr.trim()),
        hint: format!("check that `{} {}` logs in without a password", rm.ssh, rm.destination),
    }
}

/// Removes the sandbox's directory there.
pub fn remove_dir(rm: &Remote) -> Result<()> {
    let out = rm
        .ssh(&format!("rm -rf {}", quote(&rm.dir)))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(Error::io("ssh"))?;
    if !out.status.success() {
        return Err(unreachable_host(rm, &String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// Sets the remote state of sandbox `name` in its record.
pub fn mark(main: &Main, name: &str, state: &str, pid: u32) -> Result<()> {
    let Some(mut r) = main.load(name)? else {
        return Ok(());
    };
    if let Some(rm) = r.remote.as_mut() {
        rm.state = state.into();
        rm.pid = pid;
        main.save(&r)?;
    }
    Ok(())
}

/// A run that lost its connection, or whose process died, is settled: its result brought back
/// if the remote finished it, else the mark cleared. Returns what a person should hear.
pub fn reconcile(main: &Main, r: &Record) -> Result<Option<String>> {
    let Some(rm) = &r.remote else { return Ok(None) };
    let stale = match rm.state.as_str() {
        "lost" => true,
        "running" => !crate::sys::alive(rm.pid),
        _ => false,
    };
    if !stale {
        return Ok(None);
    }
    let said = match last_exit(rm)? {
        Some(code) => {
            // What the run started from is the state of the sandbox here, unchanged since.
            let sent = state_commit(r)?;
            if bring_back(main, r, rm, &sent)? {
                format!(
                    "sandbox {}: the run on {} that lost its connection had finished (exit {code}); its result is brought back",
                    r.name, rm.on
                )
            } else {
                format!("sandbox {}: the run on {} left no result", r.name, rm.on)
            }
        }
        None => format!(
            "sandbox {}: the run on {} that lost its connection was stopped there; the sandbox holds what it had before that run",
            r.name, rm.on
        ),
    };
    mark(main, &r.name, "idle", 0)?;
    Ok(Some(said))
}
