//! A sandbox's dirty flag without a full status where it can be known cheaply. An overlay
//! sandbox writes only to its own upper directory, so what it changed is what that directory
//! holds: a fingerprint of it (each entry's path, size, mode and change time, which no program
//! can set back), of the git index and of HEAD and its ref tells whether anything changed since
//! the last full check, whose answer is kept beside the record (`<name>.status`). Any write in
//! the sandbox, through grit or behind its back, changes the fingerprint, and the next `list`
//! checks again. Other backends have no such directory: their flag is a full status each time.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{Backend, Main, Record};

/// A fingerprint of what can change an overlay sandbox's status; `None` for other backends, or
/// when something cannot be read (then a full check answers).
pub fn fingerprint(main: &Main, root: &Path, r: &Record) -> Option<u64> {
    if r.backend != Backend::Overlay {
        return None;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let stat = |h: &mut std::collections::hash_map::DefaultHasher, p: &Path| {
        if let Ok(m) = std::fs::symlink_metadata(p) {
            (m.ino(), m.size(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec()).hash(h);
        } else {
            0u8.hash(h);
        }
    };
    // HEAD, the branch it names and the packed refs; the index.
    let git_dir = std::fs::read_to_string(r.path.join(".git"))
        .ok()?
        .strip_prefix("gitdir: ")?
        .trim()
        .to_owned();
    let git_dir = Path::new(&git_dir);
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    head.hash(&mut h);
    let common = main.repo.git.common_dir().to_owned();
    if let Some(reference) = head.strip_prefix("ref: ") {
        stat(&mut h, &common.join(reference.trim()));
    }
    stat(&mut h, &common.join("packed-refs"));
    stat(&mut h, &git_dir.join("index"));
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
