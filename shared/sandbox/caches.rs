//! Language caches (`sandbox.template.<t>.cache = cargo|node`): build output and installed
//! packages shared between the sandboxes of a repository.
//!
//! **cargo.** The cache is a directory under the grit dir (`cache/cargo/target`). A sandbox made
//! from a template with the cache gets a private copy of it (reflinked where the backend is,
//! copied otherwise, modification times kept) instead of the main tree's `target/`; its builds
//! change only that copy. After a run that succeeds, its `target/` replaces the cache's, whole,
//! under a lock, through a new directory renamed into place, so a sandbox being made never reads
//! half of one. Freshness is cargo's own: its fingerprints compare the sources' times and
//! contents with what built each crate, so nothing stale is taken for fresh.
//!
//! **node.** One cache per lockfile (`package-lock.json`, `npm-shrinkwrap.json`, `yarn.lock`,
//! `pnpm-lock.yaml` or `bun.lock`, the first there; keyed by its name and content), at
//! `cache/node/<key>/node_modules`, written once: the first run that succeeds in a sandbox whose
//! lockfile has none publishes its `node_modules`, and no run changes it after. A sandbox whose
//! lockfile has one gets it mounted at `node_modules` as the lower layer of an overlay, read-only
//! and shared, with the sandbox's own upper layer over it: a write there (an `npm install` of one
//! more package) lands in that sandbox only. Where this process may not mount (not root), the
//! sandbox gets a private copy instead (reflinked where the backend is). The mount is made again
//! by the next command when it is gone (after a reboot), and removed with the sandbox.
//!
//! Limits: the cargo publish is a copy of `target/` (cheap with reflinks, a real copy
//! elsewhere), and the last successful run's output wins; a sandbox made while the cache is
//! being replaced may start without it (its build is then a full one, never a wrong one). A node
//! cache is as right as the `node_modules` of the first successful run for its lockfile: a run
//! that succeeds with modules that do not match the lockfile (installed by hand, not by `npm ci`)
//! publishes them; the main tree's `node_modules` is not checked against the lockfile either.
//! The caches of the last 4 lockfiles are kept, besides those a sandbox stands on.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Main;
use super::copy::{self, Method};
use crate::error::{Error, Result};

/// A kind of language cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// cargo's `target/`.
    Cargo,
    /// `node_modules/`, per lockfile.
    Node,
}

impl Kind {
    /// `cargo` or `node`.
    pub fn parse(s: &str) -> Result<Kind> {
        match s.trim() {
            "cargo" => Ok(Kind::Cargo),
            "node" => Ok(Kind::Node),
            other => Err(Error::invalid(
                format!("'{other}' is not a sandbox cache"),
                "sandbox.template.NAME.cache takes cargo (the shared target/ of cargo builds) or node (node_modules, per lockfile)",
            )),
        }
    }

    /// The name config uses.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Cargo => "cargo",
            Kind::Node => "node",
        }
    }

    /// The directory it keeps, relative to the work tree.
    pub fn dir(self) -> &'static str {
        match self {
            Kind::Cargo => "target",
            Kind::Node => "node_modules",
        }
    }

    /// The glob that leaves the main tree's copy out when the cache has one.
    pub fn exclude(self) -> String {
        format!("/{}", self.dir())
    }
}

/// The lockfiles a node cache is keyed by, in the order they are looked for.
const LOCKFILES: [&str; 5] = [
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
];

/// The node cache's key for the work tree at `tree`: its lockfile's name and content, hashed;
/// `None` without a lockfile.
pub fn node_key(tree: &Path) -> Option<String> {
    LOCKFILES.iter().find_map(|name| {
        let bytes = fs::read(tree.join(name)).ok()?;
        let mut keyed = name.as_bytes().to_vec();
        keyed.push(0);
        keyed.extend_from_slice(&bytes);
        let digest = crate::event::blake2b256(&keyed);
        Some(digest[..16].iter().map(|b| format!("{b:02x}")).collect())
    })
}

/// The directory of `kind`'s cache for the work tree at `tree` (holding `<dir>` once filled):
/// cargo's one, or node's for `tree`'s lockfile (`None` without one).
fn slot(main: &Main, kind: Kind, tree: &Path) -> Option<PathBuf> {
    let all = main.repo.grit_dir.join("cache").join(kind.name());
    match kind {
        Kind::Cargo => Some(all),
        Kind::Node => node_key(tree).map(|k| all.join(k)),
    }
}

/// Whether `kind`'s cache for the work tree at `tree` holds something.
pub fn filled(main: &Main, kind: Kind, tree: &Path) -> bool {
    slot(main, kind, tree).is_some_and(|s| s.join(kind.dir()).is_dir())
}

fn lock(main: &Main, kind: Kind) -> Result<fs::File> {
    let h = main.repo.grit_dir.join("cache").join(kind.name());
    fs::create_dir_all(&h).map_err(Error::io(&h))?;
    crate::sys::lock_file(&h.join(".lock"))
}

fn copy_dir(from: &Path, to: &Path, rel: &str, method: Method) -> Result<()> {
    copy::copy_tree(
        from,
        to,
        &[PathBuf::from(rel)],
        method,
        &|_| false,
        &|| false,
        &|_, _| {},
    )
    .map(|_| ())
    .map_err(Error::io(from.join(rel)))
}

/// How a sandbox got a cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seeded {
    /// The cache is empty (or there is no lockfile).
    Nothing,
    /// A private copy.
    Copied,
    /// Mounted as an overlay's lower layer; the key names the node cache.
    Mounted(String),
}

/// Where the sandbox `name`'s own writes over a mounted cache go.
fn upper(main: &Main, name: &str) -> (PathBuf, PathBuf) {
    let (own, _) = super::overlay::dirs(&main.root(), name);
    let base = own.parent().expect("the overlay's dirs have a parent").join("node");
    (base.join("upper"), base.join("work"))
}

/// Mounts the node cache `key` at the sandbox's `node_modules`, over its own upper layer.
fn mount_node(main: &Main, name: &str, path: &Path, key: &str) -> std::io::Result<()> {
    let lower = main
        .repo
        .grit_dir
        .join("cache")
        .join(Kind::Node.name())
        .join(key)
        .join(Kind::Node.dir());
    let (up, work) = upper(main, name);
    let target = path.join(Kind::Node.dir());
    for d in [&up, &work, &target] {
        fs::create_dir_all(d)?;
    }
    super::overlay::mount(&lower, &up, &work, &target)
}

/// Gives the sandbox `name` at `path` the cache of `kind`: a private copy (cargo's, or node's
/// where mounting is not allowed) or node's mounted.
pub fn seed(main: &Main, name: &str, path: &Path, kind: Kind, method: Method) -> Result<Seeded> {
    let _turn = lock(main, kind)?;
    let Some(slot) = slot(main, kind, path).filter(|s| s.join(kind.dir()).is_dir()) else {
        return Ok(Seeded::Nothing);
    };
    let own = path.join(kind.dir());
    if own.exists() {
        fs::remove_dir_all(&own).map_err(Error::io(&own))?;
    }
    if kind == Kind::Node {
        let key = slot.file_name().expect("a key").to_string_lossy().into_owned();
        if mount_node(main, name, path, &key).is_ok() {
            return Ok(Seeded::Mounted(key));
        }
        let _ = fs::remove_dir(&own);
    }
    copy_dir(&slot, path, kind.dir(), method)?;
    Ok(Seeded::Copied)
}

/// Mounts the node cache a sandbox stands on again when it is gone (a reboot unmounts it).
pub fn remount(main: &Main, r: &super::Record) -> Result<()> {
    let Some(key) = &r.node_modules else { return Ok(()) };
    let target = r.path.join(Kind::Node.dir());
    if super::overlay::is_mounted(&target) {
        return Ok(());
    }
    mount_node(main, &r.name, &r.path, key).map_err(|e| Error::Failed {
        message: format!(
            "the shared node_modules of sandbox {} cannot be mounted again: {e}",
            r.name
        ),
        hint: "run as the user who made the sandbox, or remove it and make it again".into(),
    })
}

/// Unmounts the node cache from the sandbox at `path`, if it is mounted there.
pub fn unmount(path: &Path) -> Result<()> {
    super::overlay::unmount(&path.join(Kind::Node.dir()))
}

/// After a run that succeeded in the sandbox at `path`: cargo's `target/` replaces the cache's;
/// `node_modules` becomes the cache of the sandbox's lockfile when that has none yet. Nothing
/// to do when the sandbox has no such directory.
pub fn publish(main: &Main, path: &Path, kind: Kind, method: Method) -> Result<()> {
    if !path.join(kind.dir()).is_dir() {
        return Ok(());
    }
    let Some(h) = slot(main, kind, path) else {
        return Ok(());
    };
    // A node cache is written once; checked again under the lock.
    if kind == Kind::Node && h.join(kind.dir()).is_dir() {
        return Ok(());
    }
    let _turn = lock(main, kind)?;
    if kind == Kind::Node && h.join(kind.dir()).is_dir() {
        return Ok(());
    }
    fs::create_dir_all(&h).map_err(Error::io(&h))?;
    let fresh = h.join(format!(".new-{}", std::process::id()));
    let _ = fs::remove_dir_all(&fresh);
    fs::create_dir_all(&fresh).map_err(Error::io(&fresh))?;
    let copied = copy_dir(path, &fresh, kind.dir(), method);
    let result = copied.and_then(|()| {
        let current = h.join(kind.dir());
        let old = h.join(format!(".old-{}", std::process::id()));
        if current.exists() {
            fs::rename(&current, &old).map_err(Error::io(&current))?;
        }
        fs::rename(fresh.join(kind.dir()), &current).map_err(Error::io(&current))?;
        let _ = fs::remove_dir_all(&old);
        Ok(())
    });
    let _ = fs::remove_dir_all(&fresh);
    if kind == Kind::Node && result.is_ok() {
        prune_node(main, &h);
    }
    result
}

/// How many node caches are kept besides those a sandbox stands on.
const NODE_KEPT: usize = 4;

/// Removes the node caches of old lockfiles: all but the newest `NODE_KEPT`, `just` and those a
/// sandbox has mounted. Called under the cache's lock.
fn prune_node(main: &Main, just: &Path) {
    let all = main.repo.grit_dir.join("cache").join(Kind::Node.name());
    let Ok(entries) = fs::read_dir(&all) else { return };
    let used: Vec<String> = main
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| r.node_modules)
        .collect();
    let mut slots: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().join(Kind::Node.dir()).is_dir() && e.path() != just)
        .filter(|e| !used.iter().any(|k| e.file_name().to_string_lossy() == *k))
        .map(|e| {
            (
                e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH),
                e.path(),
            )
        })
        .collect();
    slots.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (_, old) in slots.into_iter().skip(NODE_KEPT - 1) {
        let _ = fs::remove_dir_all(old);
    }
}
