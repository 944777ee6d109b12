//! The overlay backend: an immutable base layer per (base commit, include set), materialised
//! once under `<sandbox root>/.layers/<key>/`, with one overlayfs mount per sandbox on top of it,
//! so the second and later sandboxes on the same base cost a mount, not a copy. The layer is only
//! ever a lower layer: every write lands in the sandbox's own upper directory. Its git index is
//! cached with it (overlayfs passes lower inode numbers and times through, and git does not
//! compare device numbers), so a new sandbox's `git status` needs no re-hashing.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A materialised base layer.
pub struct Layer {
    /// The layer's files: the tree every sandbox on it starts from.
    pub tree: PathBuf,
    /// The git index of a sandbox made from this layer, before any change of the main tree.
    pub index: PathBuf,
}

/// Where a sandbox's overlay keeps its own writes.
pub fn dirs(root: &Path, name: &str) -> (PathBuf, PathBuf) {
    let base = root.join(".overlay").join(name);
    (base.join("upper"), base.join("work"))
}

/// Where the layer of `key` lives under the sandboxes' root.
pub fn layer_dir(root: &Path, key: &str) -> PathBuf {
    root.join(".layers").join(key)
}

/// The layer for `key`, if it was materialised already.
pub fn existing(root: &Path, key: &str) -> Option<Layer> {
    let dir = layer_dir(root, key);
    dir.join("ready").exists().then(|| Layer {
        tree: dir.join("tree"),
        index: dir.join("index"),
    })
}

/// Mounts `lower` + `upper` (with `work`) at `target`.
pub fn mount(lower: &Path, upper: &Path, work: &Path, target: &Path) -> std::io::Result<()> {
    crate::sys::mount_overlay(lower, upper, work, target)
}

/// Unmounts `target` if something is mounted there.
pub fn unmount(target: &Path) -> Result<()> {
    if !is_mounted(target) {
        return Ok(());
    }
    crate::sys::unmount_detached(target).map_err(Error::io(target))
}

/// Whether `target` is a mount point (from /proc/self/mountinfo).
pub fn is_mounted(target: &Path) -> bool {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = target.to_string_lossy();
    // Field 5 is the mount point, with spaces and the like escaped as octal.
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| m.replace("\\040", " ") == want)
}

/// Whether this process may mount an overlay here; the error says why not.
pub fn probe(root: &Path) -> std::io::Result<()> {
    let dir = root.join(format!(".overlay-probe-{}", std::process::id()));
    let (l, u, w, m) = (dir.join("l"), dir.join("u"), dir.join("w"), dir.join("m"));
    for d in [&l, &u, &w, &m] {
        fs::create_dir_all(d)?;
    }
    let r = mount(&l, &u, &w, &m);
    if r.is_ok() {
        let _ = unmount(&m);
    }
    let _ = fs::remove_dir_all(&dir);
    r
}

/// Removes what probes of processes that are gone left in `root` (a Ctrl-C, a kill, in the few
/// milliseconds a probe takes): `.overlay-probe-<pid>/` (unmounted first) and `.grit-probe-<pid>*`.
pub fn sweep_probes(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(".overlay-probe-")
            .or_else(|| name.strip_prefix(".grit-probe-"))
            .and_then(|rest| rest.split('.').next())
            .and_then(|p| p.parse::<i32>().ok());
        let Some(pid) = pid else { continue };
        if pid == std::process::id() as i32 || u32::try_from(pid).is_ok_and(crate::sys::alive) {
            continue;
        }
        let path = e.path();
        if path.is_dir() {
            let m = path.join("m");
            if is_mounted(&m) {
                let _ = unmount(&m);
            }
            let _ = fs::remove_dir_all(&path);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
}
