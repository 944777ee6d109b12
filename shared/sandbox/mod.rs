//! Sandboxes: a worktree on branch `sandbox/NAME` (tracked files by `git worktree add`) with the
//! rest of the main work tree brought along — uncommitted changes, untracked and ignored files —
//! keeping modes, symlinks and modification times. Creation is journalled so that an interrupted
//! one is rolled back; every sandbox has a record under `<git-common-dir>/grit/sandboxes/`.

pub mod copy;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::repo::{Repo, now_ms};

pub use copy::Method;

pub const BRANCH_PREFIX: &str = "sandbox/";

/// How the rest of the work tree is brought along (`sandbox.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Auto,
    Reflink,
    Copy,
    Overlay,
}

impl Backend {
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
    pub name: String,
    pub path: PathBuf,
    pub branch: String,
    /// The commit it started from.
    pub base: String,
    /// The branch it started from, if any: "merged" is judged against it.
    pub base_ref: Option<String>,
    pub backend: Backend,
    pub created_ms: u64,
    /// Bytes brought along besides the checkout, at creation.
    pub copied_bytes: u64,
    pub issue: Option<String>,
    pub locks: Vec<String>,
    /// "creating" until the sandbox is complete, then "ready".
    pub state: String,
    pub pid: u32,
}

/// The repository a sandbox command acts on: always the main work tree, even when run from
/// inside a sandbox (sandboxes never nest).
pub struct Main {
    pub repo: Repo,
    pub tree: PathBuf,
}

fn not_nested(e: impl std::fmt::Display) -> Error {
    Error::invalid(
        format!("sandboxes need a repository with a work tree: {e}"),
        "run `git sandbox` inside a non-bare repository",
    )
}

impl Main {
    pub fn discover(dir: &Path) -> Result<Main> {
        let here = Repo::discover(dir)?;
        let common = here.git.common_dir().to_owned();
        let common = common.canonicalize().map_err(Error::io(&common))?;
        let tree = match common.file_name() {
            Some(n) if n == ".git" => common.parent().expect("a .git dir has a parent").to_owned(),
            _ => return Err(not_nested("the repository is bare")),
        };
        let repo = Repo::discover(&tree)?;
        Ok(Main { repo, tree })
    }

    /// `git` in the main work tree.
    pub fn git(&self, args: &[&str]) -> Result<String> {
        git_in(&self.tree, args)
    }

    fn records_dir(&self) -> PathBuf {
        self.repo.grit_dir.join("sandboxes")
    }

    fn record_path(&self, name: &str) -> PathBuf {
        self.records_dir().join(format!("{name}.json"))
    }

    pub fn save(&self, r: &Record) -> Result<()> {
        let dir = self.records_dir();
        fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let path = self.record_path(&r.name);
        let tmp = dir.join(format!(".{}.{}.tmp", r.name, std::process::id()));
        let json = serde_json::to_vec_pretty(r).expect("records serialise");
        fs::write(&tmp, json).map_err(Error::io(&tmp))?;
        fs::rename(&tmp, &path).map_err(Error::io(&path))
    }

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
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Undoes a creation: worktree, branch, directory, record. Best effort, every step.
    pub fn rollback(&self, r: &Record) {
        let path = r.path.to_string_lossy();
        let _ = self.git(&["worktree", "remove", "--force", "--force", &path]);
        let _ = fs::remove_dir_all(&r.path);
        let _ = self.git(&["worktree", "prune"]);
        let _ = self.git(&["branch", "-D", "-q", &r.branch]);
        let _ = fs::remove_file(self.record_path(&r.name));
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

fn blake_hex(b: &[u8]) -> String {
    use blake2::Digest;
    crate::hex::encode(&blake2::Blake2b::<blake2::digest::consts::U32>::digest(b))
}

fn alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// Runs `git` in `dir` (a work tree), ignoring any GIT_DIR of the caller's environment.
pub fn git_in(dir: &Path, args: &[&str]) -> Result<String> {
    let out = git_cmd(dir).args(args).output().map_err(Error::io("git"))?;
    if !out.status.success() {
        return Err(Error::Subprocess {
            command: format!("git {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn git_cmd(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GRIT_NO_HOOKS", "1")
        .stdin(std::process::Stdio::null());
    c
}

/// `GRIT_TRACE_PERFORMANCE=1` prints how long each phase of a creation took, like git's
/// GIT_TRACE_PERFORMANCE.
struct Phases {
    on: bool,
    last: std::time::Instant,
}

impl Phases {
    fn new() -> Phases {
        Phases {
            on: std::env::var_os("GRIT_TRACE_PERFORMANCE").is_some_and(|v| v != "0" && !v.is_empty()),
            last: std::time::Instant::now(),
        }
    }

    fn done(&mut self, what: &str) {
        if self.on {
            eprintln!(
                "grit sandbox: {what}: {:.1} ms",
                self.last.elapsed().as_secs_f64() * 1000.0
            );
        }
        self.last = std::time::Instant::now();
    }
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

/// What to create.
pub struct Spec {
    pub name: String,
    pub base: Option<String>,
    pub clean: bool,
    pub excludes: Vec<String>,
    pub backend: Backend,
    pub issue: Option<String>,
    pub locks: Vec<String>,
}

/// Why creation stopped.
pub enum Stopped {
    Interrupted(i32),
    Failed(Error),
}

impl From<Error> for Stopped {
    fn from(e: Error) -> Self {
        Stopped::Failed(e)
    }
}

/// Resolves `auto` once per repository (the answer is remembered in the grit dir).
pub fn resolve_backend(main: &Main, wanted: Backend, root: &Path) -> Backend {
    match wanted {
        Backend::Auto => {
            let memo = main.repo.grit_dir.join("sandbox-backend");
            if let Ok(s) = fs::read_to_string(&memo)
                && let Ok(b) = Backend::parse(s.trim())
            {
                return b;
            }
            let _ = fs::create_dir_all(root);
            let b = if copy::probe_reflink(root) && copy::probe_reflink(&main.tree) {
                Backend::Reflink
            } else {
                Backend::Copy
            };
            let _ = fs::create_dir_all(&main.repo.grit_dir);
            let _ = fs::write(&memo, if b == Backend::Reflink { "reflink" } else { "copy" });
            b
        }
        other => other,
    }
}

/// Creates a sandbox. Everything is undone if it fails or `interrupted` reports a signal.
pub fn create(
    main: &Main,
    spec: &Spec,
    interrupted: &(dyn Fn() -> Option<i32> + Sync),
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Record, Stopped> {
    validate_name(&spec.name)?;
    if let Some(old) = main.load(&spec.name)? {
        if old.state == "creating" && !alive(old.pid) {
            main.rollback(&old);
        } else {
            return Err(Error::invalid(
                format!("a sandbox named '{}' exists at {}", spec.name, old.path.display()),
                "pick another name, or remove it with `git sandbox rm NAME`",
            )
            .into());
        }
    }
    let branch = format!("{BRANCH_PREFIX}{}", spec.name);
    let clash = main.git(&["for-each-ref", "--format=%(refname)", &format!("refs/heads/{branch}")])?
        + &main.git(&[
            "for-each-ref",
            "--format=%(refname)",
            &format!("refs/remotes/*/{branch}"),
        ])?;
    if let Some(r) = clash.lines().next() {
        return Err(Error::invalid(
            format!("branch {branch} already exists ({r})"),
            "pick another sandbox name, or delete the branch if it is stale",
        )
        .into());
    }
    let base_spec = spec.base.clone().unwrap_or_else(|| "HEAD".into());
    let base = main
        .git(&["rev-parse", "--verify", "--quiet", &format!("{base_spec}^{{commit}}")])
        .map_err(|_| {
            Error::invalid(
                format!("'{base_spec}' is not a commit"),
                "--base takes a branch, tag or commit",
            )
        })?
        .trim()
        .to_owned();
    let head = main
        .git(&["rev-parse", "--verify", "--quiet", "HEAD"])
        .unwrap_or_default();
    let base_ref = if base_spec == "HEAD" {
        main.git(&["symbolic-ref", "-q", "--short", "HEAD"])
            .ok()
            .map(|s| s.trim().to_owned())
    } else {
        main.git(&["rev-parse", "--verify", "--quiet", "--symbolic-full-name", &base_spec])
            .ok()
            .map(|s| s.trim().trim_start_matches("refs/heads/").to_owned())
            .filter(|s| !s.is_empty())
    };
    let root = main.root();
    let path = root.join(&spec.name);
    if path.exists() {
        return Err(Error::invalid(
            format!("{} already exists", path.display()),
            "remove it, or pick another sandbox name",
        )
        .into());
    }
    let backend = resolve_backend(main, spec.backend, &root);
    let mut record = Record {
        name: spec.name.clone(),
        path: path.clone(),
        branch: branch.clone(),
        base: base.clone(),
        base_ref,
        backend,
        created_ms: now_ms(),
        copied_bytes: 0,
        issue: spec.issue.clone(),
        locks: spec.locks.clone(),
        state: "creating".into(),
        pid: std::process::id(),
    };
    main.save(&record)?;
    match populate(main, spec, &mut record, head.trim() == base, interrupted, progress) {
        Ok(()) => {
            record.state = "ready".into();
            main.save(&record)?;
            Ok(record)
        }
        Err(e) => {
            main.rollback(&record);
            Err(e)
        }
    }
}

fn populate(
    main: &Main,
    spec: &Spec,
    record: &mut Record,
    base_is_head: bool,
    interrupted: &(dyn Fn() -> Option<i32> + Sync),
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<(), Stopped> {
    let check = || interrupted().map_or(Ok(()), |s| Err(Stopped::Interrupted(s)));
    let mut phases = Phases::new();
    let path = record.path.clone();
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(Error::io(parent))?;
    }
    // Parallel checkout (one worker per core): inflating blobs is the slow part of a checkout.
    main.git(&[
        "-c",
        "checkout.workers=0",
        "worktree",
        "add",
        "-q",
        "-b",
        &record.branch,
        &path.to_string_lossy(),
        &record.base,
    ])?;
    phases.done("git worktree add");
    // Fault injection for the tests of interrupted creation: a pause with the worktree half made.
    if let Some(ms) = std::env::var("GRIT_TEST_SANDBOX_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
        while std::time::Instant::now() < until && interrupted().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    check()?;
    // What comes along from the main tree.
    let mut changed: BTreeSet<String> = BTreeSet::new();
    let mut roots: Vec<PathBuf> = Vec::new();
    if !spec.clean && base_is_head {
        changed.extend(nul_list(&main.git(&[
            "diff",
            "--name-only",
            "--no-renames",
            "-z",
            "HEAD",
        ])?));
        roots.extend(
            nul_list(&main.git(&["ls-files", "-o", "--exclude-standard", "--directory", "-z"])?)
                .into_iter()
                .map(PathBuf::from),
        );
    }
    let mut ignored: Vec<String> =
        nul_list(&main.git(&["ls-files", "-o", "-i", "--exclude-standard", "--directory", "-z"])?);
    let include = main.tree.join(".worktreeinclude");
    if include.is_file() {
        let wanted = nul_list(&main.git(&[
            "ls-files",
            "-o",
            "-i",
            "--exclude-from=.worktreeinclude",
            "--directory",
            "-z",
        ])?);
        let all_ignored: Vec<String> = std::mem::take(&mut ignored);
        ignored = wanted
            .into_iter()
            .filter(|w| all_ignored.iter().any(|i| w.starts_with(i.as_str()) || i == w))
            .collect();
    }
    roots.extend(ignored.into_iter().map(PathBuf::from));
    let mut excludes = spec.excludes.clone();
    excludes.extend(
        main.repo
            .git
            .config_snapshot()
            .strings("sandbox.exclude")
            .unwrap_or_default()
            .iter()
            .map(|s| s.to_string()),
    );
    let root = main.root();
    let tree = main.tree.clone();
    let skip = move |rel: &Path| {
        rel.file_name().is_some_and(|n| n == ".git")
            || excludes.iter().any(|g| copy::glob_match(g, rel))
            || root.starts_with(tree.join(rel))
    };
    // Uncommitted changes to tracked files replace what the checkout wrote; deletions delete.
    let mut changed_roots = Vec::new();
    for c in &changed {
        let dst = path.join(c);
        if dst.symlink_metadata().is_ok() {
            fs::remove_file(&dst).map_err(Error::io(&dst))?;
        }
        if main.tree.join(c).symlink_metadata().is_ok() {
            changed_roots.push(PathBuf::from(c));
        }
    }
    roots.extend(changed_roots);
    let method = match record.backend {
        Backend::Reflink => Method::Reflink,
        _ => Method::Copy,
    };
    let cancel = || interrupted().is_some();
    let copied = copy::copy_tree(&main.tree, &path, &roots, method, &skip, &cancel, progress).map_err(|e| {
        if e.kind() == std::io::ErrorKind::Interrupted {
            Stopped::Interrupted(interrupted().unwrap_or(libc::SIGINT))
        } else {
            Stopped::Failed(Error::Io {
                path: main.tree.clone(),
                source: e,
            })
        }
    })?;
    record.copied_bytes = copied.bytes;
    phases.done("listing and copying the rest");
    check()?;
    // Tracked files the checkout wrote take the main tree's times, so builds see nothing new.
    let mut same: Vec<String> = nul_list(&main.git(&["ls-files", "-z"])?);
    let differs: BTreeSet<String> = if base_is_head {
        BTreeSet::new()
    } else {
        nul_list(&main.git(&["diff", "--name-only", "--no-renames", "-z", "HEAD", &record.base])?)
            .into_iter()
            .collect()
    };
    let dirty: BTreeSet<String> = if base_is_head {
        changed.clone()
    } else {
        nul_list(&main.git(&["diff", "--name-only", "--no-renames", "-z", "HEAD"])?)
            .into_iter()
            .collect()
    };
    same.retain(|p| !differs.contains(p) && !dirty.contains(p));
    for p in &same {
        if let Ok(m) = fs::symlink_metadata(main.tree.join(p)) {
            let _ = copy::set_times(&path.join(p), &m);
        }
    }
    phases.done("times of tracked files");
    check()?;
    // Staged changes stay staged, so `git status` reads the same in both trees.
    if !spec.clean && base_is_head {
        let staged = nul_list(&main.git(&["diff", "--cached", "--name-only", "--no-renames", "-z", "HEAD"])?);
        if !staged.is_empty() {
            let mut args = vec!["ls-files", "-s", "-z", "--"];
            args.extend(staged.iter().map(String::as_str));
            let entries = main.git(&args)?;
            let present: BTreeSet<String> = nul_list(&entries)
                .iter()
                .filter_map(|e| e.split_once('\t').map(|(_, p)| p.to_owned()))
                .collect();
            let mut info = String::new();
            for e in nul_list(&entries) {
                info.push_str(&e);
                info.push('\0');
            }
            for gone in staged.iter().filter(|p| !present.contains(*p)) {
                info.push_str(&format!("0 {}\t{gone}\0", "0".repeat(40)));
            }
            let mut child = git_cmd(&path)
                .args(["update-index", "-z", "--index-info"])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .map_err(Error::io("git"))?;
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(info.as_bytes())
                .map_err(Error::io("git update-index"))?;
            child.wait().map_err(Error::io("git update-index"))?;
        }
    }
    // Record the new files' stat data in the index once, now, not at the first `git status`.
    phases.done("staged changes");
    let _ = git_cmd(&path).args(["update-index", "-q", "--refresh"]).output();
    phases.done("git update-index --refresh");
    check()?;
    Ok(())
}

/// A sandbox's state, for `list`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub dirty: bool,
    pub ahead: u64,
    pub behind: u64,
    pub exists: bool,
}

/// Status of many sandboxes: one `for-each-ref` per distinct base for ahead/behind, and a
/// `git status` per sandbox, run in parallel.
pub fn statuses(main: &Main, records: &[Record]) -> Result<Vec<Status>> {
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
    let dirty: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = records
            .chunks(records.len().div_ceil(8).max(1))
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|r| {
                            git_cmd(&r.path)
                                .args(["--no-optional-locks", "status", "--porcelain", "-z"])
                                .args(["--ignore-submodules", "--no-renames"])
                                .output()
                                .map(|o| !o.stdout.is_empty())
                                .unwrap_or(false)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("no panic")).collect()
    });
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

/// Whether the sandbox has uncommitted changes.
pub fn dirty(r: &Record) -> Result<bool> {
    if !r.path.exists() {
        return Ok(false);
    }
    Ok(!git_in(&r.path, &["status", "--porcelain", "-z"])?.is_empty())
}

/// Stages everything in the sandbox and commits it; `None` when there was nothing to commit.
pub fn commit(r: &Record, message: &str) -> Result<Option<String>> {
    git_in(&r.path, &["add", "-A"])?;
    let staged = git_cmd(&r.path)
        .args(["diff", "--cached", "--quiet"])
        .status()
        .map_err(Error::io("git"))?;
    if staged.success() {
        return Ok(None);
    }
    git_in(&r.path, &["commit", "-q", "--no-verify", "-m", message])?;
    Ok(Some(git_in(&r.path, &["rev-parse", "HEAD"])?.trim().to_owned()))
}

/// Removes the worktree, its branch and its record.
pub fn remove(main: &Main, r: &Record) -> Result<()> {
    let path = r.path.to_string_lossy();
    if r.path.exists() {
        main.git(&["worktree", "remove", "--force", "--force", &path])
            .or_else(|_| {
                fs::remove_dir_all(&r.path)
                    .map(|_| String::new())
                    .map_err(Error::io(&r.path))
            })?;
    }
    let _ = main.git(&["worktree", "prune"]);
    let _ = main.git(&["branch", "-D", "-q", &r.branch]);
    let p = main.record_path(&r.name);
    let _ = fs::remove_file(&p);
    Ok(())
}
