//! Creating a sandbox: the journal record, `git worktree add`, bringing the rest of the main
//! tree along with its metadata, and rolling everything back on failure or a signal.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::{BRANCH_PREFIX, Backend, Main, Method, Record, alive, copy, git_cmd, nul_list, validate_name};
use crate::error::{Error, Result};
use crate::repo::now_ms;

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
