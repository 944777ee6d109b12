//! Sandboxes: a worktree on branch `sandbox/NAME` (tracked files by `git worktree add`) with the
//! rest of the main work tree brought along — uncommitted changes, untracked and ignored files —
//! keeping modes, symlinks and modification times. Creation is journalled so that an interrupted
//! one is rolled back; every sandbox has a record under `<git-common-dir>/grit/sandboxes/`.

pub mod caches;
pub mod carried;
pub mod copy;
mod create;
pub mod isolate;
pub mod land;
pub mod layers;
pub mod leases;
pub mod overlay;
pub mod provenance;
pub mod proxy;
pub mod remote;
pub mod runs;
pub mod seccomp;
pub mod status;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::repo::Repo;

pub use copy::Method;
pub use create::{Spec, Stopped, create, resolve_backend};

/// Every sandbox's branch is `sandbox/<name>`.
pub const BRANCH_PREFIX: &str = "sandbox/";

/// How the rest of the work tree is brought along (`sandbox.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Probe once per repository and remember: reflink where it works, else copy.
    Auto,
    /// Clone each file's blocks (FICLONE).
    Reflink,
    /// Copy each file, in the kernel (copy_file_range), times and modes kept.
    Copy,
    /// An overlayfs mount over a shared base layer.
    Overlay,
}

impl Backend {
    /// `auto`, `reflink`, `copy` or `overlay`.
    pub fn parse(s: &str) -> Result<Backend> {
        Ok(match s {
            "auto" => Backend::Auto,
            "reflink" => Backend::Reflink,
            "copy" => Backend::Copy,
            "overlay" => Backend::Overlay,
            other => {
                return Err(Error::invalid(
                    format!("unknown sandbox backend '{other}'"),
                    "sandbox.backend is auto, reflink, copy or overlay",
                ));
            }
        })
    }
}

/// A sandbox, as recorded at `<git-common-dir>/grit/sandboxes/<name>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Its name.
    pub name: String,
    /// Its work tree.
    pub path: PathBuf,
    /// Its branch (`sandbox/<name>`).
    pub branch: String,
    /// The commit it started from.
    pub base: String,
    /// The branch it started from, if any: "merged" is judged against it.
    pub base_ref: Option<String>,
    /// How its files were made.
    pub backend: Backend,
    /// When it was made (milliseconds since the epoch).
    pub created_ms: u64,
    /// Bytes brought along besides the checkout, at creation.
    pub copied_bytes: u64,
    /// The issue it works on, if it was made for one.
    pub issue: Option<String>,
    /// The lock resources taken for it.
    pub locks: Vec<String>,
    /// "creating" until the sandbox is complete, then "ready".
    pub state: String,
    /// The process that created it (a creation whose process died is rolled back).
    pub pid: u32,
    /// The overlay base layer it stands on (`layers` counts its users by this).
    #[serde(default)]
    pub layer: Option<String>,
    /// The tree of everything it held right after creation, when that differed from its base
    /// (uncommitted changes and untracked files carried from the main tree).
    #[serde(default)]
    pub carried: Option<String>,
    /// The last runs in it, oldest first.
    #[serde(default)]
    pub runs: Vec<runs::Run>,
    /// Why the last automatic sync of its base branch into it stopped (a conflict, undone);
    /// cleared by the next one that succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_conflict: Option<String>,
    /// Where its commands run when not here (`git sandbox run --on`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<remote::Remote>,
    /// The language caches it shares (`sandbox.template.<t>.cache`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caches: Vec<caches::Kind>,
    /// The node cache (its lockfile's key) mounted at its `node_modules`, read-only under its
    /// own writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_modules: Option<String>,
}

/// The repository a sandbox command acts on: always the main work tree, even when run from
/// inside a sandbox (sandboxes never nest).
pub struct Main {
    /// The main repository.
    pub repo: Repo,
    /// Its work tree.
    pub tree: PathBuf,
}

fn not_nested(e: impl std::fmt::Display) -> Error {
    Error::invalid(
        format!("sandboxes need a repository with a work tree: {e}"),
        "run `git sandbox` inside a non-bare repository",
    )
}

impl Main {
    /// The main repository of `dir`, even from inside a sandbox.
    pub fn discover(dir: &Path) -> Result<Main> {
        let here = Repo::discover(dir)?;
        let common = here.git.common_dir().to_owned();
        let common = common.canonicalize().map_err(Error::io(&common))?;
        let tree = match common.file_name() {
            Some(n) if n == ".git" => common.parent().expect("a .git dir has a parent").to_owned(),
            _ => return Err(not_nested("the repository is bare")),
        };
        // Only from inside a sandbox (a linked worktree) is the main tree another repository.
        let in_main = here.git.workdir().and_then(|w| w.canonicalize().ok()).as_deref() == Some(tree.as_path());
        let repo = if in_main { here } else { Repo::discover(&tree)? };
        Ok(Main { repo, tree })
    }

    /// `git` in the main work tree.
    pub fn git(&self, args: &[&str]) -> Result<String> {
        git_in(&self.tree, args)
    }

    /// `git` in the main work tree, dying with this process (see [`git_in_tied`]).
    pub fn git_tied(&self, args: &[&str]) -> Result<String> {
        // `git worktree add` reads every other worktree's directory, and fails on one another
        // add is still writing: creations (a matrix's threads, other agents' processes) take
        // turns at it, through a lock on a file beside the records.
        let _turn = (args.contains(&"worktree") && args.contains(&"add")).then(|| self.worktree_lock());
        git_in_tied(&self.tree, args)
    }

    /// An exclusive lock (flock) held until the file is dropped; `None` if it cannot be had,
    /// and then git's own failure will say what went wrong.
    fn worktree_lock(&self) -> Option<fs::File> {
        crate::sys::lock_file(&self.records_dir().join(".worktree-add.lock")).ok()
    }

    fn records_dir(&self) -> PathBuf {
        self.repo.grit_dir.join("sandboxes")
    }

    fn record_path(&self, name: &str) -> PathBuf {
        self.records_dir().join(format!("{name}.json"))
    }

    /// Writes `r`'s record, whole (a rename).
    pub fn save(&self, r: &Record) -> Result<()> {
        let dir = self.records_dir();
        fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let path = self.record_path(&r.name);
        let tmp = dir.join(format!(".{}.{}.tmp", r.name, std::process::id()));
        let json = serde_json::to_vec_pretty(r).expect("records serialise");
        fs::write(&tmp, json).map_err(Error::io(&tmp))?;
        fs::rename(&tmp, &path).map_err(Error::io(&path))
    }

    /// The record of sandbox `name`, if there is one.
    pub fn load(&self, name: &str) -> Result<Option<Record>> {
        let path = self.record_path(name);
        match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::Io { path, source: e.into() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io { path, source: e }),
        }
    }

    /// Every complete sandbox, by name. Interrupted creations whose process is gone are rolled
    /// back first.
    pub fn list(&self) -> Result<Vec<Record>> {
        let dir = self.records_dir();
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(out);
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(name) = name.strip_suffix(".json").filter(|n| !n.starts_with('.')) else {
                continue;
            };
            let Some(r) = self.load(name)? else { continue };
            if r.state == "creating" {
                if !alive(r.pid) {
                    self.rollback(&r);
                }
                continue;
            }
            out.push(r);
        }
        out.sort_by(|a, b| natural(&a.name, &b.name));
        Ok(out)
    }

    /// Undoes a creation: worktree, branch, directory, record. Best effort, every step.
    pub fn rollback(&self, r: &Record) {
        // A creation killed outright can leave a git it started running: `git worktree add`
        // checks the files out through a `git reset --hard` of its own, which outlives it and
        // would write the directory again once it is removed. It holds the worktree's index
        // lock while it writes: wait for that, for a while.
        if let Some(name) = r.path.file_name() {
            let lock = self
                .repo
                .git
                .common_dir()
                .join("worktrees")
                .join(name)
                .join("index.lock");
            let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while lock.exists() && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let _ = remove(self, r);
    }

    /// Where sandboxes go: `sandbox.root`, else `$XDG_DATA_HOME/grit/sandboxes/<repo-id>`.
    pub fn root(&self) -> PathBuf {
        if let Some(r) = self.repo.config_string("sandbox.root").filter(|r| !r.is_empty()) {
            let p = PathBuf::from(r);
            return if p.is_absolute() { p } else { self.tree.join(p) };
        }
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into())).join(".local/share")
            });
        let name = self
            .tree
            .file_name()
            .map_or("repo".into(), |n| n.to_string_lossy().into_owned());
        let id = blake_hex(self.tree.to_string_lossy().as_bytes());
        data.join("grit/sandboxes").join(format!("{name}-{}", &id[..12]))
    }
}

/// Orders names as people count: `l2` before `l10`, runs of digits compared by their value.
pub fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let ord = match (x, y) {
            ((true, x), (true, y)) => {
                let (tx, ty) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                tx.len()
                    .cmp(&ty.len())
                    .then_with(|| tx.cmp(ty))
                    .then_with(|| x.len().cmp(&y.len()))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ord.is_ne() {
            return ord;
        }
    }
    pa.len().cmp(&pb.len()).then_with(|| a.cmp(b))
}

pub(crate) fn blake_hex(b: &[u8]) -> String {
    crate::hex::encode(&crate::event::blake2b256(b))
}

fn alive(pid: u32) -> bool {
    crate::sys::alive(pid)
}

/// Runs `git` in `dir` (a work tree), ignoring any GIT_DIR of the caller's environment.
pub fn git_in(dir: &Path, args: &[&str]) -> Result<String> {
    run_git(git_cmd(dir), args)
}

/// `git_in`, with the child tied to this process: it dies when this process dies. A creation
/// killed outright must not leave a `git worktree add` running on its own, finishing the
/// worktree after the next command has rolled the creation back.
pub fn git_in_tied(dir: &Path, args: &[&str]) -> Result<String> {
    let mut c = git_cmd(dir);
    crate::sys::tie_to_parent(&mut c);
    run_git(c, args)
}

fn run_git(mut c: Command, args: &[&str]) -> Result<String> {
    let out = crate::sys::git_output(c.args(args)).map_err(Error::io("git"))?;
    if !out.status.success() {
        return Err(Error::Subprocess {
            command: format!("git {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A `git` command run in `dir`.
pub fn git_cmd(dir: &Path) -> Command {
    // `-C` rather than a working directory for the child: std can then spawn with posix_spawn
    // (no fork of this process's address space), which `list` does once per sandbox.
    let mut c = Command::new(git_exe());
    c.arg("-C").arg(dir);
    // What a command in a sandbox could have written must never run here: no fsmonitor, and in
    // a sandbox (a linked worktree: `.git` is a file) no hooks. Isolation keeps the files that
    // say where the repository is read-only (`sandbox::isolate`); this is the second wall.
    c.args(["-c", "core.fsmonitor=false"]);
    if dir.join(".git").is_file() {
        c.args(["-c", "core.hooksPath=/dev/null"]);
    }
    c.env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GRIT_NO_HOOKS", "1")
        .stdin(std::process::Stdio::null());
    c
}

/// `git` resolved on PATH once, so each spawn execs it directly.
fn git_exe() -> &'static Path {
    static GIT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    GIT.get_or_init(|| {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|d| d.join("git"))
            .find(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("git"))
    })
}

fn nul_list(s: &str) -> Vec<String> {
    s.split('\0').filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

/// Names become branch names and directory names: nothing that could escape or confuse either.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid(
            format!("'{}' is not a valid sandbox name: {why}", name.escape_debug()),
            "use letters, digits, '.', '_' and '-', e.g. `git sandbox run fix-login -- make test`",
        ))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.starts_with('-') {
        return bad("it starts with '-'");
    }
    if name.contains("..") {
        return bad("it contains '..'");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("it contains a slash");
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains whitespace or control characters");
    }
    if name.ends_with(".lock") || name.starts_with('.') || name.contains(['~', '^', ':', '?', '*', '[', '@']) {
        return bad("git does not allow it in a branch name");
    }
    Ok(())
}

/// A sandbox's state, for `list`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Whether it holds changes of its own.
    pub dirty: bool,
    /// Commits it has that its base does not.
    pub ahead: u64,
    /// Commits its base has that it does not.
    pub behind: u64,
    /// Whether its work tree is still there.
    pub exists: bool,
}

/// Status of many sandboxes: one `for-each-ref` per distinct base for ahead/behind, and the
/// dirty flag kept from the last check while nothing that could change it changed (see
/// `status`), else (or, with `exact`, always) an in-process status per sandbox, spread over every
/// core.
pub fn statuses(main: &Main, records: &[Record], exact: bool) -> Result<Vec<Status>> {
    let mut counts: std::collections::HashMap<String, (u64, u64)> = Default::default();
    let bases: BTreeSet<String> = records.iter().map(against).collect();
    for b in bases {
        let out = main.git(&[
            "for-each-ref",
            &format!("--format=%(refname:short) %(ahead-behind:{b})"),
            "refs/heads/sandbox/",
        ])?;
        for line in out.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if let [name, ahead, behind] = f[..] {
                counts.insert(
                    format!("{b}\0{name}"),
                    (ahead.parse().unwrap_or(0), behind.parse().unwrap_or(0)),
                );
            }
        }
    }
    // A sandbox answers from what it kept when nothing changed (see `status`), unless `exact`.
    let root = main.root();
    let full_below = status::full_check_below(main);
    let fps: Vec<Option<u64>> = records
        .iter()
        .map(|r| status::fingerprint(main, &root, r, full_below))
        .collect();
    let need: Vec<&Record> = records
        .iter()
        .zip(&fps)
        .filter(|(r, fp)| exact || fp.is_none() || !status::kept_matches(main, &r.name, fp.unwrap_or(0)))
        .map(|(r, _)| r)
        .collect();
    let checked = crate::parallel::map(&need, |r| dirty(r).unwrap_or(false));
    let mut fresh: std::collections::HashMap<&str, bool> = need.iter().map(|r| r.name.as_str()).zip(checked).collect();
    let dirty: Vec<bool> = records
        .iter()
        .zip(&fps)
        .map(|(r, fp)| match fresh.remove(r.name.as_str()) {
            Some(answer) => {
                if let Some(fp) = fp {
                    status::keep(main, &r.name, *fp, answer);
                }
                answer
            }
            None => status::kept(main, &r.name).unwrap_or(false),
        })
        .collect();
    Ok(records
        .iter()
        .zip(dirty)
        .map(|(r, dirty)| {
            let (ahead, behind) = counts
                .get(&format!("{}\0{}", against(r), r.branch))
                .copied()
                .unwrap_or_default();
            Status {
                dirty,
                ahead,
                behind,
                exists: r.path.exists(),
            }
        })
        .collect())
}

/// What "merged" and ahead/behind are measured against: the base branch, else the base commit.
pub fn against(r: &Record) -> String {
    r.base_ref.clone().unwrap_or_else(|| r.base.clone())
}

/// Whether the sandbox's branch is contained in its base branch (or still at its base commit).
pub fn merged(main: &Main, r: &Record) -> Result<bool> {
    let tip = main
        .git(&["rev-parse", "--verify", "--quiet", &r.branch])
        .unwrap_or_default();
    if tip.trim().is_empty() {
        return Ok(true);
    }
    let out = git_cmd(&main.tree)
        .args(["merge-base", "--is-ancestor", tip.trim(), &against(r)])
        .output()
        .map_err(Error::io("git"))?;
    Ok(out.status.success())
}

/// Whether the sandbox has changes `git status` would show: staged, unstaged or untracked
/// (submodules aside). Decided in-process; `git status` answers when gix cannot.
pub fn dirty(r: &Record) -> Result<bool> {
    if !r.path.exists() {
        return Ok(false);
    }
    // What came from the main tree is not the sandbox's work.
    if r.carried.is_some()
        && let Some((_, _, paths)) = carried::own_changes(r)?
    {
        return Ok(!paths.is_empty());
    }
    match dirty_in_process(&r.path) {
        Ok(dirty) => Ok(dirty),
        Err(_) => Ok(!git_in(
            &r.path,
            &[
                "--no-optional-locks",
                "status",
                "--porcelain",
                "-z",
                "--ignore-submodules",
            ],
        )?
        .is_empty()),
    }
}

fn dirty_in_process(tree: &Path) -> Result<bool> {
    use gix::status::{Submodule, UntrackedFiles};
    let repo = gix::open(tree)?;
    let ignore = gix::submodule::config::Ignore::All;
    let mut changes = repo
        .status(gix::progress::Discard)?
        .untracked_files(UntrackedFiles::Collapsed)
        .index_worktree_rewrites(None)
        .index_worktree_submodules(Submodule::Given {
            ignore,
            check_dirty: false,
        })
        .into_iter(Vec::new())?;
    for item in &mut changes {
        let change = match item? {
            gix::status::Item::IndexWorktree(item) => item.summary().is_some(),
            gix::status::Item::TreeIndex(_) => true,
        };
        if change {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Stages everything in the sandbox and commits it; `None` when there was nothing to commit.
pub fn commit(r: &Record, message: &str, signer: Option<&Signer>) -> Result<Option<String>> {
    git_in(&r.path, &["add", "-A"])?;
    let tree = git_in(&r.path, &["write-tree"])?.trim().to_owned();
    let head_tree = git_in(&r.path, &["rev-parse", "HEAD^{tree}"])?.trim().to_owned();
    if tree == head_tree {
        return Ok(None);
    }
    commit_tree(r, &tree, message, signer).map(Some)
}

/// `git sandbox commit`: commits what changed in the sandbox (with `include_carried`, also
/// what it carried from the main tree), signed with provenance; comments on its issue, if it
/// has one, and records the step in the feed. `None` when there was nothing to commit.
pub fn commit_work(main: &Main, r: &Record, message: &str, include_carried: bool) -> Result<Option<String>> {
    let signer = Signer::for_main(main)?;
    let commit = if include_carried {
        commit(r, message, signer.as_ref())?
    } else {
        carried::commit_own(r, message, signer.as_ref())?
    };
    let Some(c) = commit else { return Ok(None) };
    // Everything it held is committed now, carried changes too (a carried file it removed
    // included): its work is measured from its commits from here on.
    if include_carried
        && let Some(mut now) = main.load(&r.name)?
        && now.carried.is_some()
    {
        now.carried = None;
        main.save(&now)?;
    }
    if let Some(issue) = &r.issue {
        let store = crate::store::Store::open(&main.tree)?;
        let id = store.index.resolve(issue)?;
        let body = format!("sandbox {}: committed {} on {}", r.name, &c[..12], r.branch);
        store.write(Some(id), vec![crate::event::Kind::CommentAdded { body }])?;
    }
    note(main, "committed", r, serde_json::json!({ "commit": c }));
    Ok(Some(c))
}

/// Records a sandbox's lifecycle step in the feed (`git wal watch`): `created`, `ran`,
/// `committed`, `merged`, `removed`, with what the step adds.
pub fn note(main: &Main, step: &str, r: &Record, extra: serde_json::Value) {
    let mut v = serde_json::json!({
        "step": step,
        "name": r.name,
        "branch": r.branch,
        "path": r.path,
        "backend": r.backend,
        "issue": r.issue,
    });
    if let (Some(o), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
        o.extend(extra);
    }
    crate::feed::note(&main.repo, &[crate::feed::Entry::Sandbox(v)]);
}

/// Who signs sandbox commits' provenance, and the tool versions it records.
pub struct Signer {
    /// The actor that signs.
    pub actor: crate::actor::Actor,
    /// The tools (name, version) recorded as having built the change.
    pub tools: Vec<(String, String)>,
}

impl Signer {
    /// The current actor, unless `sandbox.provenance=false`.
    pub fn for_main(main: &Main) -> Result<Option<Signer>> {
        if main.repo.config_bool("sandbox.provenance") == Some(false) {
            return Ok(None);
        }
        let names: Vec<String> = match main.repo.git.config_snapshot().strings("sandbox.provenanceTools") {
            Some(v) if !v.is_empty() => v
                .iter()
                .flat_map(|s| {
                    s.to_string()
                        .split(',')
                        .map(|t| t.trim().to_owned())
                        .collect::<Vec<_>>()
                })
                .filter(|t| !t.is_empty())
                .collect(),
            _ => ["rustc", "cargo", "node", "python3", "go"].map(String::from).to_vec(),
        };
        Ok(Some(Signer {
            actor: crate::actor::current(&main.repo)?,
            tools: provenance::tool_versions(&names),
        }))
    }
}

/// Commits `tree` on the sandbox's branch on top of its HEAD, with a signed provenance
/// trailer when there is a signer (from the sandbox's last run).
pub(crate) fn commit_tree(r: &Record, tree: &str, message: &str, signer: Option<&Signer>) -> Result<String> {
    let branch = format!("refs/heads/{}", r.branch);
    let head = git_in(&r.path, &["rev-parse", "--verify", &branch])?.trim().to_owned();
    let mut message = message.to_owned();
    if let Some(s) = signer {
        let last = r.runs.last();
        let now = crate::repo::now_ms();
        let started = last.and_then(|l| crate::repo::parse_time(&l.started_at)).unwrap_or(now);
        let p = provenance::Provenance {
            version: provenance::VERSION,
            tree: tree.to_owned(),
            base: r.base.clone(),
            cmd: last.map(|l| l.cmd.clone()).unwrap_or_default(),
            exit_code: last.map_or(0, |l| i64::from(l.exit_code)),
            backend: format!("{:?}", r.backend).to_lowercase(),
            isolation: last.map_or_else(|| "none".to_owned(), |l| l.isolation.clone()),
            tools: s.tools.clone(),
            started_ms: started,
            ended_ms: started + last.map_or(0, |l| l.duration_ms),
            actor: s.actor.id().to_hex(),
        };
        message =
            crate::trailers::with_trailer(&message, &format!("{}: {}", provenance::TRAILER, p.sign(&s.actor.key)?));
    }
    let commit = git_in(&r.path, &["commit-tree", tree, "-p", &head, "-m", &message])?
        .trim()
        .to_owned();
    // The sandbox's own branch by name: HEAD is a file the sandbox's command could point at
    // another branch.
    git_in(
        &r.path,
        &["update-ref", "-m", "sandbox commit", &branch, &commit, &head],
    )?;
    Ok(commit)
}

/// Removes the worktree, its branch and its record (and an overlay's mount and upper layer).
/// Every step is tried and the first failure returned; a mount that will not go away stops it
/// before anything is deleted through it. Steps with nothing to do (an interrupted creation
/// never made the branch) are not failures.
/// Removes git's record of a worktree at `path` that `git worktree add` left half made (killed
/// before it finished): it stays locked as "initializing", so `git worktree prune` keeps it.
fn forget_half_made_worktree(main: &Main, path: &Path) {
    let Some(name) = path.file_name() else { return };
    let Ok(entries) = fs::read_dir(main.repo.git.common_dir().join("worktrees")) else {
        return;
    };
    let ours = path.join(".git");
    for e in entries.flatten() {
        let dir = e.path();
        // git names the entry after the directory, with a number when that name is taken.
        let entry = e.file_name().to_string_lossy().into_owned();
        let named = entry
            .strip_prefix(&*name.to_string_lossy())
            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()));
        // Killed early, git may have left `gitdir` (and `locked`) missing, empty or half written.
        let gitdir = fs::read_to_string(dir.join("gitdir")).unwrap_or_default();
        let ours_or_unwritten = gitdir.trim().is_empty() || Path::new(gitdir.trim()) == ours;
        if named && ours_or_unwritten && !path.exists() {
            let _ = fs::remove_dir_all(&dir);
        }
    }
}

/// Removes a sandbox and its branch.
pub fn remove(main: &Main, r: &Record) -> Result<()> {
    remove_keeping(main, r, false)
}

/// Removes a sandbox: its mount, worktree, directory, record, and its branch unless
/// `keep_branch` (committed work not merged anywhere lives only there).
pub fn remove_keeping(main: &Main, r: &Record, keep_branch: bool) -> Result<()> {
    // The shared node_modules first: it is mounted inside the sandbox (and its overlay).
    caches::unmount(&r.path)?;
    overlay::unmount(&r.path)?;
    let mut first: Option<Error> = None;
    // Its directory on a remote executor, and the refs that brought its results back. A host
    // that cannot be reached does not keep the sandbox here: the error says what is left there.
    if let Some(rm) = &r.remote {
        if let Err(e) = remote::remove_dir(rm) {
            first = Some(Error::Failed {
                message: format!(
                    "sandbox {} is removed here, but not its directory {} on {}: {e}",
                    r.name, rm.dir, rm.destination
                ),
                hint: format!(
                    "remove it there by hand: `{} {} rm -rf {}`",
                    rm.ssh,
                    rm.destination,
                    remote::quote(&rm.dir)
                ),
            });
        }
        let ns = format!("refs/grit-remote/{}/", r.name);
        for suffix in ["head", "result"] {
            let _ = main.git(&["update-ref", "-d", &format!("{ns}{suffix}")]);
        }
    }
    let overlay_dir = overlay::dirs(&main.root(), &r.name).0;
    if let Some(d) = overlay_dir.parent().filter(|d| d.exists())
        && let Err(e) = fs::remove_dir_all(d)
    {
        first.get_or_insert(Error::Io {
            path: d.to_owned(),
            source: e,
        });
    }
    let path = r.path.to_string_lossy();
    if r.path.exists()
        && main.git(&["worktree", "remove", "--force", "--force", &path]).is_err()
        && let Err(e) = fs::remove_dir_all(&r.path)
    {
        first.get_or_insert(Error::Io {
            path: r.path.clone(),
            source: e,
        });
    }
    let _ = main.git(&["worktree", "prune"]);
    forget_half_made_worktree(main, &r.path);
    if !keep_branch {
        let _ = main.git(&["branch", "-D", "-q", &r.branch]);
    }
    let _ = fs::remove_file(main.record_path(&r.name));
    let _ = fs::remove_file(main.records_dir().join(format!("{}.running", r.name)));
    let _ = fs::remove_file(main.records_dir().join(format!("{}.status", r.name)));
    runs::prune_logs(main, &r.name, &[]);
    if r.state == "ready" {
        note(main, "removed", r, serde_json::json!({ "branch_kept": keep_branch }));
    }
    first.map_or(Ok(()), Err)
}

#[cfg(test)]
mod natural_tests {
    #[test]
    fn names_sort_as_people_count() {
        let mut v = vec!["l10", "l2", "l1", "b", "a10b", "a9c", "l02", "x"];
        v.sort_by(|a, b| super::natural(a, b));
        assert_eq!(v, ["a9c", "a10b", "b", "l1", "l2", "l02", "l10", "x"]);
    }
}
