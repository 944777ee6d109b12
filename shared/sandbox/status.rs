//! A sandbox's dirty flag without a full status where it can be known cheaply. The answer of the
//! last full check is kept beside the record (`<name>.status`) with a fingerprint of what can
//! change it; while the fingerprint holds, `list` answers from the kept answer.
//!
//! - **Overlay.** A sandbox writes only to its own upper directory, so what it changed is what
//!   that directory holds: the fingerprint covers each of its entries (path, size, mode and change
//!   time, which no program can set back), the git index, and HEAD and its ref. Any write, through
//!   grit or behind its back, changes it.
//! - **Copy and reflink.** Their files are a whole tree. One of fewer than
//!   `sandbox.listFullCheckBelow` files (10,000 by default) is checked in full by every `list`.
//!   A larger one is too many to look at on every `list` of a fleet: its fingerprint covers the
//!   git index, HEAD and its ref, the sandbox's top directory, and a mark each command grit runs
//!   in the sandbox leaves when it ends (`grit-ran` in the sandbox's git directory; see
//!   [`RunMark`]). While a command runs there is no fingerprint, so every `list` checks in full.
//!   So the answer is the one recorded at the last run, commit, `git add` or check: a file
//!   edited in place behind grit's back, with no git command after, shows at the next run or
//!   with `list --exact`, which checks every sandbox in full.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Backend, Main, Record};

/// The mark a finished run leaves in a copy or reflink sandbox's git directory.
const RAN: &str = "grit-ran";
/// The marks of runs going on: `grit-running.<pid>.<n>`.
const RUNNING: &str = "grit-running.";

/// The git directory of the worktree at `dir` (its `.git` file's `gitdir:`).
fn git_dir_of(dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(dir.join(".git")).ok()?;
    Some(PathBuf::from(text.strip_prefix("gitdir: ")?.trim()))
}

type Hasher64 = std::collections::hash_map::DefaultHasher;

fn stat(h: &mut Hasher64, p: &Path) {
    if let Ok(m) = std::fs::symlink_metadata(p) {
        (m.ino(), m.size(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec()).hash(h);
    } else {
        0u8.hash(h);
    }
}

/// A fingerprint of what can change a sandbox's status (see the module's description); `None`
/// when something cannot be read, or while a command runs in a copy or reflink sandbox (then a
/// full check answers).
pub fn fingerprint(main: &Main, root: &Path, r: &Record, full_below: u64) -> Option<u64> {
    if r.remote.is_some() {
        return None;
    }
    let mut h = Hasher64::new();
    // HEAD, the branch it names and the packed refs; the index.
    let git_dir = git_dir_of(&r.path)?;
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    head.hash(&mut h);
    let common = main.repo.git.common_dir().to_owned();
    if let Some(reference) = head.strip_prefix("ref: ") {
        stat(&mut h, &common.join(reference.trim()));
    }
    stat(&mut h, &common.join("packed-refs"));
    stat(&mut h, &git_dir.join("index"));
    if r.backend != Backend::Overlay {
        // A small tree is checked in full every time: that costs little, and sees everything.
        if index_entries(&git_dir.join("index")).is_none_or(|n| n < full_below) {
            return None;
        }
        for e in std::fs::read_dir(&git_dir).ok()?.flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(RUNNING)?.split('.').next()) else {
                continue;
            };
            match pid.parse::<u32>() {
                Ok(pid) if crate::sys::alive(pid) => return None,
                // The mark of a run whose process was killed outright: it marks nothing.
                _ => {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        stat(&mut h, &git_dir.join(RAN));
        // A file made or removed at the top, by anyone, changes the directory.
        stat(&mut h, &r.path);
        return Some(h.finish());
    }
    // Every entry of the upper directory, in a stable order.
    let (upper, _) = super::overlay::dirs(root, &r.name);
    let mut stack = vec![upper.clone()];
    let mut entries = Vec::new();
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).ok()?.flatten() {
            let m = e.metadata().ok()?;
            let path = e.path();
            entries.push((
                path.strip_prefix(&upper).ok()?.to_owned(),
                m.size(),
                m.mode(),
                m.ctime(),
                m.ctime_nsec(),
                m.mtime(),
                m.mtime_nsec(),
            ));
            if m.is_dir() {
                stack.push(path);
            }
        }
    }
    entries.sort();
    entries.hash(&mut h);
    Some(h.finish())
}

/// `sandbox.listFullCheckBelow`: a copy or reflink sandbox tracking fewer files than this is
/// checked in full by every `list`; a larger one answers from its kept answer while its
/// fingerprint holds. 10,000 by default (a full check of that many files takes about 10 ms).
pub fn full_check_below(main: &Main) -> u64 {
    main.repo
        .config_string("sandbox.listFullCheckBelow")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(10_000)
}

/// The number of entries of the git index at `path`, from its header.
fn index_entries(path: &Path) -> Option<u64> {
    use std::io::Read;
    let mut head = [0u8; 12];
    std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    (&head[..4] == b"DIRC").then(|| u64::from(u32::from_be_bytes(head[8..12].try_into().expect("4 bytes"))))
}

/// Held while grit runs a command in a sandbox: a mark that the run goes on, and, when it ends,
/// a new `grit-ran` (a new file each time, so its inode changes), which changes the sandbox's
/// fingerprint. Outside a sandbox (no `.git` file naming a worktree) it marks nothing.
pub struct RunMark {
    git_dir: PathBuf,
    running: PathBuf,
}

impl RunMark {
    /// Marks a run starting in the sandbox at `dir`.
    pub fn start(dir: &Path) -> Option<RunMark> {
        let git_dir = git_dir_of(dir)?;
        let running = git_dir.join(format!("{RUNNING}{}.{}", std::process::id(), next()));
        std::fs::write(&running, b"").ok()?;
        Some(RunMark { git_dir, running })
    }
}

/// A number this process has not used for a mark before (one process may run many commands).
fn next() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Drop for RunMark {
    fn drop(&mut self) {
        let tmp = self.git_dir.join(format!("{RAN}.{}.{}", std::process::id(), next()));
        if std::fs::write(&tmp, crate::repo::now_ms().to_string()).is_ok() {
            let _ = std::fs::rename(&tmp, self.git_dir.join(RAN));
        }
        let _ = std::fs::remove_file(&self.running);
    }
}

fn cache_path(main: &Main, name: &str) -> std::path::PathBuf {
    main.repo.grit_dir.join("sandboxes").join(format!("{name}.status"))
}

/// The kept answer and the fingerprint it was for.
fn read_kept(main: &Main, name: &str) -> Option<(u64, bool)> {
    let text = std::fs::read_to_string(cache_path(main, name)).ok()?;
    let (fp, answer) = text.trim().split_once(' ')?;
    Some((fp.parse().ok()?, answer == "dirty"))
}

/// Whether the answer kept for sandbox `name` was for fingerprint `fp`.
pub fn kept_matches(main: &Main, name: &str, fp: u64) -> bool {
    read_kept(main, name).is_some_and(|(kept, _)| kept == fp)
}

/// The answer kept for sandbox `name`.
pub fn kept(main: &Main, name: &str) -> Option<bool> {
    read_kept(main, name).map(|(_, a)| a)
}

/// Keeps `answer` for fingerprint `fp` (taken before the check that found it, so a write during
/// the check changes the fingerprint and is checked next time).
pub fn keep(main: &Main, name: &str, fp: u64, answer: bool) {
    let path = cache_path(main, name);
    let tmp = path.with_extension(format!("status.{}", std::process::id()));
    if std::fs::write(&tmp, format!("{fp} {}\n", if answer { "dirty" } else { "clean" })).is_ok() {
        let _ = std::fs::rename(&tmp, &path);
    }
}
