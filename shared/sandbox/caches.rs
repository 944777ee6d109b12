//! Language caches (`sandbox.template.<t>.cache = cargo`): build output shared between the
//! sandboxes of a repository, so that a second sandbox's build compiles only what changed.
//!
//! The cache is a directory under the grit dir (`cache/cargo/target`). A sandbox made from a
//! template with the cache gets a private copy of it (reflinked where the backend is, copied
//! otherwise, modification times kept) instead of the main tree's `target/`; its builds change
//! only that copy. After a run that succeeds, its `target/` replaces the cache's, whole, under a
//! lock, through a new directory renamed into place, so a sandbox being made never reads half of
//! one. Freshness is cargo's own: its fingerprints compare the sources' times and contents with
//! what built each crate, so nothing stale is taken for fresh.
//!
//! Limits: the publish is a copy of `target/` (cheap with reflinks, a real copy elsewhere); the
//! last successful run's output wins; and a sandbox made while the cache is being replaced may
//! start without it (its build is then a full one, never a wrong one).

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
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind> {
        match s.trim() {
            "cargo" => Ok(Kind::Cargo),
            other => Err(Error::invalid(
                format!("'{other}' is not a sandbox cache"),
                "sandbox.template.NAME.cache takes cargo (the shared target/ of cargo builds)",
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Cargo => "cargo",
        }
    }

    /// The directory it keeps, relative to the work tree.
    pub fn dir(self) -> &'static str {
        match self {
            Kind::Cargo => "target",
        }
    }

    /// The glob that leaves the main tree's copy out when the cache has one.
    pub fn exclude(self) -> String {
        format!("/{}", self.dir())
    }
}

/// The cache's directory for `kind` (holding `<dir>` when it has been filled).
fn home(main: &Main, kind: Kind) -> PathBuf {
    main.repo.grit_dir.join("cache").join(kind.name())
}

/// Whether the cache of `kind` holds a build.
pub fn filled(main: &Main, kind: Kind) -> bool {
    home(main, kind).join(kind.dir()).is_dir()
}

fn lock(main: &Main, kind: Kind) -> Result<fs::File> {
    let h = home(main, kind);
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

/// Gives the sandbox at `path` a private copy of the cache of `kind`; `false` when the cache
/// is empty.
pub fn seed(main: &Main, path: &Path, kind: Kind, method: Method) -> Result<bool> {
    let _turn = lock(main, kind)?;
    if !filled(main, kind) {
        return Ok(false);
    }
    let own = path.join(kind.dir());
    if own.exists() {
        fs::remove_dir_all(&own).map_err(Error::io(&own))?;
    }
    copy_dir(&home(main, kind), path, kind.dir(), method)?;
    Ok(true)
}

/// Replaces the cache of `kind` with the sandbox's own (after a run that succeeded). Nothing to
/// do when the sandbox has none.
pub fn publish(main: &Main, path: &Path, kind: Kind, method: Method) -> Result<()> {
    if !path.join(kind.dir()).is_dir() {
        return Ok(());
    }
    let h = home(main, kind);
    let _turn = lock(main, kind)?;
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
    result
}
