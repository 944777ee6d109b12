//! Creating a sandbox: the journal record, `git worktree add`, bringing the rest of the main
//! tree along with its metadata, and rolling everything back on failure or a signal.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::{BRANCH_PREFIX, Backend, Main, Method, Record, alive, copy, git_cmd, nul_list, overlay, validate_name};
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
#[derive(Debug, Clone)]
pub struct Spec {
    /// Its name.
    pub name: String,
    /// A commit or branch to start from; `None`: HEAD, with the main tree's changes carried.
    pub base: Option<String>,
    /// Start from the commit alone, carrying nothing.
    pub clean: bool,
    /// Globs of ignored or untracked paths not to carry.
    pub excludes: Vec<String>,
    /// Globs of ignored files to bring (a template's `include`); every ignored file when empty.
    pub includes: Vec<String>,
    /// How to make its files.
    pub backend: Backend,
    /// The issue it works on.
    pub issue: Option<String>,
    /// Lock resources to take for it.
    pub locks: Vec<String>,
    /// The executor its commands run on (`--on`); `None` runs them here.
    pub remote: Option<super::remote::Remote>,
    /// The language caches it shares (a template's `cache`).
    pub caches: Vec<super::caches::Kind>,
}

/// Why creation stopped.
pub enum Stopped {
    /// A signal stopped it (the number); what was made is rolled back.
    Interrupted(i32),
    /// It failed; what was made is rolled back.
    Failed(Error),
}

impl From<Error> for Stopped {
    fn from(e: Error) -> Self {
        Stopped::Failed(e)
    }
}

/// Resolves the backend: `auto` is probed once per repository and remembered in the grit dir
/// (reflink where the filesystem clones, else copy); `overlay` and `reflink` fall back to a copy
/// where this process cannot mount or clone, with a note saying so.
pub fn resolve_backend(main: &Main, wanted: Backend, root: &Path) -> (Backend, Option<String>) {
    let _ = fs::create_dir_all(root);
    match wanted {
        Backend::Auto => {
            let memo = main.repo.grit_dir.join("sandbox-backend");
            if let Ok(s) = fs::read_to_string(&memo)
                && let Ok(b) = Backend::parse(s.trim())
            {
                return (b, None);
            }
            let b = if copy::probe_reflink(root) && copy::probe_reflink(&main.tree) {
                Backend::Reflink
            } else {
                Backend::Copy
            };
            let _ = fs::create_dir_all(&main.repo.grit_dir);
            let _ = fs::write(&memo, if b == Backend::Reflink { "reflink" } else { "copy" });
            (b, None)
        }
        Backend::Overlay => match overlay::probe(root) {
            Ok(()) => (Backend::Overlay, None),
            Err(e) => (
                Backend::Copy,
                Some(format!(
                    "note: the overlay backend needs permission to mount ({e}); using a copy instead"
                )),
            ),
        },
        Backend::Reflink if !copy::probe_reflink(root) => (
            Backend::Copy,
            Some("note: this filesystem cannot clone files (no FICLONE); using a copy instead".into()),
        ),
        other => (other, None),
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
    let backend = match spec.backend {
        Backend::Auto => resolve_backend(main, Backend::Auto, &root).0,
        b => b,
    };
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
        layer: None,
        carried: None,
        runs: Vec::new(),
        sync_conflict: None,
        remote: spec.remote.as_ref().map(|e| e.for_sandbox(main, &spec.name)),
        caches: spec.caches.clone(),
        node_modules: None,
    };
    main.save(&record)?;
    match populate(main, spec, &mut record, head.trim() == base, interrupted, progress) {
        Ok(()) => {
            record.state = "ready".into();
            main.save(&record)?;
            super::note(
                main,
                "created",
                &record,
                serde_json::json!({ "base": record.base, "copied_bytes": record.copied_bytes }),
            );
            Ok(record)
        }
        Err(e) => {
            main.rollback(&record);
            Err(e)
        }
    }
}

/// What comes along from the main tree besides the tracked files.
struct Selection {
    /// Tracked paths whose content differs from HEAD in the main tree (staged or not), when
    /// they come along.
    changed: BTreeSet<String>,
    /// The same paths, listed whenever the tracked files take the main tree's times (one
    /// full-tree diff serves both).
    differ: BTreeSet<String>,
    /// Untracked, not ignored (collapsed to directories where git does).
    untracked: Vec<PathBuf>,
    /// Ignored, narrowed by .worktreeinclude (collapsed to directories).
    ignored: Vec<PathBuf>,
    excludes: Vec<String>,
}

/// Lists what comes along, running git's scans of the main tree side by side. The ignored files
/// are listed only when `ignored` says they are needed (an existing overlay layer has them), and
/// the changed files when they come along or `times` asks for them.
fn select(main: &Main, spec: &Spec, base_is_head: bool, ignored: bool, times: bool) -> Result<Selection> {
    let mut sel = Selection {
        changed: BTreeSet::new(),
        differ: BTreeSet::new(),
        untracked: Vec::new(),
        ignored: Vec::new(),
        excludes: excludes(main, spec),
    };
    let with_changes = !spec.clean && base_is_head;
    let include = main.tree.join(".worktreeinclude").is_file();
    let tree = main.tree.as_path();
    let scan = |on: bool, args: &'static [&'static str]| -> Result<Vec<String>> {
        if on {
            Ok(nul_list(&super::git_in(tree, args)?))
        } else {
            Ok(Vec::new())
        }
    };
    let (changed, untracked, all_ignored, wanted) = std::thread::scope(|s| {
        let changed = s.spawn(|| {
            scan(
                with_changes || times,
                &["diff", "--name-only", "--no-renames", "-z", "HEAD"],
            )
        });
        let untracked = s.spawn(|| {
            scan(
                with_changes,
                &["ls-files", "-o", "--exclude-standard", "--directory", "-z"],
            )
        });
        let all_ignored = s.spawn(|| {
            scan(
                ignored,
                &["ls-files", "-o", "-i", "--exclude-standard", "--directory", "-z"],
            )
        });
        let wanted = scan(
            ignored && include,
            &[
                "ls-files",
                "-o",
                "-i",
                "--exclude-from=.worktreeinclude",
                "--directory",
                "-z",
            ],
        );
        let join = |h: std::thread::ScopedJoinHandle<'_, Result<Vec<String>>>| h.join().expect("no panic");
        (join(changed), join(untracked), join(all_ignored), wanted)
    });
    sel.differ.extend(changed?);
    if with_changes {
        sel.changed = sel.differ.clone();
    }
    sel.untracked = untracked?.into_iter().map(PathBuf::from).collect();
    let all_ignored = all_ignored?;
    let chosen: Vec<String> = if include {
        wanted?
            .into_iter()
            .filter(|w| all_ignored.iter().any(|i| w.starts_with(i.as_str()) || i == w))
            .collect()
    } else {
        all_ignored
    };
    // A template's includes narrow the ignored files to what they match (a directory git
    // listed whole comes when a glob names it or something in it).
    let chosen = chosen.into_iter().filter(|p| {
        spec.includes.is_empty()
            || spec.includes.iter().any(|g| {
                let g = g.trim_start_matches('/');
                super::copy::glob_match(g, Path::new(p.trim_end_matches('/')))
                    || g.starts_with(p.as_str())
                    || p.starts_with(g.trim_end_matches('/'))
            })
    });
    sel.ignored = chosen.map(PathBuf::from).collect();
    Ok(sel)
}

fn excludes(main: &Main, spec: &Spec) -> Vec<String> {
    let mut all = spec.excludes.clone();
    // A filled language cache stands in for the main tree's copy of its directory.
    all.extend(
        spec.caches
            .iter()
            .filter(|k| super::caches::filled(main, **k, &main.tree))
            .map(|k| k.exclude()),
    );
    all.extend(
        main.repo
            .git
            .config_snapshot()
            .strings("sandbox.exclude")
            .unwrap_or_default()
            .iter()
            .map(|s| s.to_string()),
    );
    all
}

/// What the copy leaves out: `.git`, excluded globs, and the sandbox root itself.
fn skipper(main: &Main, excludes: &[String]) -> impl Fn(&Path) -> bool + Sync + use<> {
    let excludes = excludes.to_vec();
    let root = main.root();
    let tree = main.tree.clone();
    move |rel: &Path| {
        rel.file_name().is_some_and(|n| n == ".git")
            || excludes.iter().any(|g| copy::glob_match(g, rel))
            || root.starts_with(tree.join(rel))
    }
}

fn copy_roots(
    tree: &Path,
    to: &Path,
    roots: &[PathBuf],
    method: Method,
    skip: &(dyn Fn(&Path) -> bool + Sync),
    interrupted: &(dyn Fn() -> Option<i32> + Sync),
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<u64, Stopped> {
    let cancel = || interrupted().is_some();
    copy::copy_tree(tree, to, roots, method, skip, &cancel, progress)
        .map(|c| c.bytes)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::Interrupted {
                Stopped::Interrupted(interrupted().unwrap_or(libc::SIGINT))
            } else {
                Stopped::Failed(Error::Io {
                    path: tree.to_owned(),
                    source: e,
                })
            }
        })
}

/// Tracked files at `base` whose content is the main tree's: they take its times. `differ` is
/// what the main tree changed against HEAD.
fn same_as_main(main: &Main, base: &str, base_is_head: bool, differ: &BTreeSet<String>) -> Result<Vec<String>> {
    let mut same: Vec<String> = nul_list(&main.git(&["ls-files", "-z"])?);
    let mut moved = BTreeSet::new();
    if !base_is_head {
        moved.extend(nul_list(&main.git(&[
            "diff",
            "--name-only",
            "--no-renames",
            "-z",
            "HEAD",
            base,
        ])?));
    }
    same.retain(|p| !differ.contains(p) && !moved.contains(p));
    Ok(same)
}

/// Gives each of `paths` under `to` the main tree's times, on all cores.
fn copy_times(main: &Main, to: &Path, paths: &[String]) {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    let chunk = paths.len().div_ceil(threads).max(256);
    let tree = main.tree.as_path();
    std::thread::scope(|s| {
        for part in paths.chunks(chunk) {
            s.spawn(move || {
                for p in part {
                    if let Ok(m) = fs::symlink_metadata(tree.join(p)) {
                        let _ = copy::set_times(&to.join(p), &m);
                    }
                }
            });
        }
    });
}

#[cfg_attr(not(feature = "fault-injection"), allow(unused_variables))]
fn pause_for_tests(interrupted: &(dyn Fn() -> Option<i32> + Sync)) {
    // Fault injection for the tests of interrupted creation (the `fault-injection` feature,
    // which only they build): a pause with the worktree half made.
    #[cfg(feature = "fault-injection")]
    if let Some(ms) = std::env::var("GRIT_TEST_SANDBOX_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
        while std::time::Instant::now() < until && interrupted().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(5));
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
    let mut narrowing = excludes(main, spec);
    narrowing.extend(spec.includes.iter().map(|i| format!("include:{i}")));
    let key = layer_key(main, &record.base, &narrowing);
    let layer_ready = record.backend == Backend::Overlay && overlay::existing(&main.root(), &key).is_some();
    let sel = select(main, spec, base_is_head, !layer_ready, !layer_ready)?;
    let skip = skipper(main, &sel.excludes);
    let method = match record.backend {
        Backend::Reflink => Method::Reflink,
        _ => Method::Copy,
    };
    let mut roots: Vec<PathBuf> = sel.untracked.clone();
    if record.backend == Backend::Overlay {
        overlay_tree(main, record, &key, &sel, base_is_head, &skip, interrupted, progress)?;
        phases.done("base layer and overlay mount");
    } else {
        // Parallel checkout (one worker per core): inflating blobs is the slow part of a checkout.
        main.git_tied(&[
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
        roots.extend(sel.ignored.iter().cloned());
    }
    pause_for_tests(interrupted);
    check()?;
    // Uncommitted changes to tracked files replace what the checkout wrote; deletions delete.
    let mut changed = Vec::new();
    for c in &sel.changed {
        let dst = path.join(c);
        if dst.symlink_metadata().is_ok() {
            fs::remove_file(&dst).map_err(Error::io(&dst))?;
        }
        if main.tree.join(c).symlink_metadata().is_ok() {
            changed.push(PathBuf::from(c));
        }
    }
    if !changed.is_empty() {
        record.copied_bytes += copy_roots(&main.tree, &path, &changed, method, &skip, interrupted, progress)?;
        check()?;
    }
    // The tracked files' times and index entries, and the copy of what git does not track, touch
    // different files: they are done side by side.
    let overlay = record.backend == Backend::Overlay;
    let tree = main.tree.as_path();
    let (copied, tracked) = std::thread::scope(|s| {
        let copying = s.spawn(|| copy_roots(tree, &path, &roots, method, &skip, interrupted, progress));
        let tracked = (|| -> Result<()> {
            if !overlay {
                // Tracked files the checkout wrote take the main tree's times, so builds see
                // nothing new.
                copy_times(
                    main,
                    &path,
                    &same_as_main(main, &record.base, base_is_head, &sel.differ)?,
                );
            }
            // Staged changes stay staged, so `git status` reads the same in both trees.
            if !spec.clean && base_is_head {
                restage(main, &path)?;
            }
            // Record the new files' stat data in the index once, now, not at the first `git
            // status`. (An overlay's index comes from its layer and is current but for what
            // was just copied.)
            if !overlay {
                let _ = git_cmd(&path).args(["update-index", "-q", "--refresh"]).output();
            }
            Ok(())
        })();
        (copying.join().expect("copy threads do not panic"), tracked)
    });
    record.copied_bytes += copied?;
    tracked?;
    phases.done("copying the rest, and the tracked files' times and index");
    check()?;
    for kind in &spec.caches {
        match super::caches::seed(main, &record.name, &path, *kind, method)? {
            super::caches::Seeded::Nothing => {}
            super::caches::Seeded::Copied => phases.done("the language cache"),
            super::caches::Seeded::Mounted(key) => {
                record.node_modules = Some(key);
                phases.done("the language cache");
            }
        }
    }
    // What came along from the main tree, kept as a tree, so that the sandbox's own work can be
    // told from it later.
    if !sel.changed.is_empty() || !sel.untracked.is_empty() {
        let now = super::carried::worktree_tree(&path)?;
        let base = super::git_in(&path, &["rev-parse", &format!("{}^{{tree}}", record.base)])?;
        if now != base.trim() {
            record.carried = Some(now);
        }
        phases.done("recording what was carried");
    }
    Ok(())
}

/// Copies the main tree's index entries of staged paths into the sandbox's index.
fn restage(main: &Main, path: &Path) -> Result<()> {
    let staged = nul_list(&main.git(&["diff", "--cached", "--name-only", "--no-renames", "-z", "HEAD"])?);
    if staged.is_empty() {
        return Ok(());
    }
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
    let mut child = git_cmd(path)
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
    Ok(())
}

/// The layer key: the base commit and what decides which ignored files the layer holds
/// (.worktreeinclude and the excludes).
fn layer_key(main: &Main, base: &str, excludes: &[String]) -> String {
    let mut k = format!("{base}\0");
    for e in excludes {
        k.push_str(e);
        k.push('\0');
    }
    k.push('\0');
    k.push_str(&fs::read_to_string(main.tree.join(".worktreeinclude")).unwrap_or_default());
    super::blake_hex(k.as_bytes())[..24].to_owned()
}

/// The overlay backend: the base layer (materialised on first use) mounted under this
/// sandbox's own upper directory, with the worktree's `.git` file in the upper layer and the
/// layer's cached index.
#[allow(clippy::too_many_arguments)]
fn overlay_tree(
    main: &Main,
    record: &mut Record,
    key: &str,
    sel: &Selection,
    base_is_head: bool,
    skip: &(dyn Fn(&Path) -> bool + Sync),
    interrupted: &(dyn Fn() -> Option<i32> + Sync),
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<(), Stopped> {
    let root = main.root();
    // Recorded before the layer is used, so that a collection meanwhile sees it taken.
    record.layer = Some(key.to_owned());
    main.save(record)?;
    let layer = match overlay::existing(&root, key) {
        Some(l) => l,
        None => {
            record.copied_bytes +=
                materialise(main, &root, key, record, sel, base_is_head, skip, interrupted, progress)?;
            overlay::existing(&root, key).ok_or_else(|| Error::invalid("the base layer vanished", "run it again"))?
        }
    };
    super::layers::touch(&root, key);
    let path = record.path.clone();
    main.git_tied(&[
        "worktree",
        "add",
        "-q",
        "--no-checkout",
        "-b",
        &record.branch,
        &path.to_string_lossy(),
        &record.base,
    ])?;
    let (upper, work) = overlay::dirs(&root, &record.name);
    for d in [&upper, &work] {
        fs::create_dir_all(d).map_err(Error::io(d))?;
    }
    let dotgit = path.join(".git");
    fs::rename(&dotgit, upper.join(".git")).map_err(Error::io(&dotgit))?;
    overlay::mount(&layer.tree, &upper, &work, &path).map_err(|e| Error::Io {
        path: path.clone(),
        source: e,
    })?;
    let git_dir = git_cmd(&path)
        .args(["rev-parse", "--absolute-git-dir"])
        .output()
        .map_err(Error::io("git"))?;
    let git_dir = PathBuf::from(String::from_utf8_lossy(&git_dir.stdout).trim());
    let index = git_dir.join("index");
    if layer.index.is_file() {
        fs::copy(&layer.index, &index).map_err(Error::io(&layer.index))?;
    } else {
        super::git_in(&path, &["read-tree", &record.base])?;
        let _ = git_cmd(&path).args(["update-index", "-q", "--refresh"]).output();
        let tmp = layer.index.with_extension(format!("tmp{}", std::process::id()));
        fs::copy(&index, &tmp).map_err(Error::io(&index))?;
        fs::rename(&tmp, &layer.index).map_err(Error::io(&layer.index))?;
    }
    Ok(())
}

/// Builds a base layer in a private directory and renames it into place: the tracked files at
/// the base (with the main tree's times where the content is the same) and the ignored files.
#[allow(clippy::too_many_arguments)]
fn materialise(
    main: &Main,
    root: &Path,
    key: &str,
    record: &Record,
    sel: &Selection,
    base_is_head: bool,
    skip: &(dyn Fn(&Path) -> bool + Sync),
    interrupted: &(dyn Fn() -> Option<i32> + Sync),
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<u64, Stopped> {
    let tmp = root
        .join(".layers")
        .join(format!(".tmp-{}-{}", std::process::id(), now_ms()));
    let tree = tmp.join("tree");
    fs::create_dir_all(&tree).map_err(Error::io(&tree))?;
    let result = (|| -> Result<u64, Stopped> {
        let build_index = tmp.join("checkout-index");
        let git = |args: &[&str]| -> Result<()> {
            let out = git_cmd(&main.tree)
                .env("GIT_INDEX_FILE", &build_index)
                .arg("--work-tree")
                .arg(&tree)
                .args(args)
                .output()
                .map_err(Error::io("git"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(Error::Subprocess {
                    command: format!("git {}", args.join(" ")),
                    stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                })
            }
        };
        git(&["read-tree", &record.base])?;
        git(&["-c", "checkout.workers=0", "checkout-index", "-a", "-f"])?;
        let _ = fs::remove_file(&build_index);
        copy_times(
            main,
            &tree,
            &same_as_main(main, &record.base, base_is_head, &sel.differ)?,
        );
        let bytes = copy_roots(
            &main.tree,
            &tree,
            &sel.ignored,
            Method::Copy,
            skip,
            interrupted,
            progress,
        )?;
        fs::write(tmp.join("ready"), b"").map_err(Error::io(&tmp))?;
        Ok(bytes)
    })();
    let dest = overlay::layer_dir(root, key);
    match result {
        Ok(bytes) => {
            // Another sandbox may have made the same layer meanwhile: then use that one.
            if fs::rename(&tmp, &dest).is_err() {
                let _ = fs::remove_dir_all(&tmp);
            }
            Ok(bytes)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}
