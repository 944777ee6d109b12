//! Overlay base layers over time: which sandboxes use each (their records say), when each was
//! last used, and collecting the unused ones. An unused layer is kept only as a cache, within
//! `sandbox.layerCacheSize` (default 0: none), the least recently used going first.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Serialize;

use super::{Backend, Main};
use crate::error::{Error, Result};

/// One layer as `gc` saw it.
#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    /// The layer's key: a hash of its base commit and what it includes and leaves out.
    pub key: String,
    /// Bytes on disk (each inode once).
    pub bytes: u64,
    /// Sandboxes using it.
    pub sandboxes: Vec<String>,
    /// When a sandbox last used it (milliseconds since the epoch).
    pub last_used_ms: u64,
}

/// What `gc` did.
#[derive(Debug, Default, Serialize)]
pub struct Collected {
    /// Layers removed.
    pub removed: Vec<LayerInfo>,
    /// Layers kept.
    pub kept: Vec<LayerInfo>,
    /// Half-built layers of processes that are gone, removed.
    pub leftovers: usize,
}

/// Marks a layer used now (its `ready` file's time), for the cache's least-recently-used order.
pub fn touch(root: &Path, key: &str) {
    let ready = super::overlay::layer_dir(root, key).join("ready");
    if let Ok(f) = fs::File::options().write(true).open(&ready) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

/// Bytes a directory tree takes on disk, each inode counted once.
fn disk_usage(dir: &Path) -> u64 {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else { continue };
            if seen.insert((m.dev(), m.ino())) {
                total += m.blocks() * 512;
            }
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    total
}

/// `sandbox.layerCacheSize`: bytes (with k, m, g suffixes) of unused layers to keep.
pub fn cache_size(main: &Main) -> Result<u64> {
    Ok(size_config(main, "sandbox.layerCacheSize")?.unwrap_or(0))
}

/// A size in git config: bytes with an optional k, m or g suffix; None when unset.
pub fn size_config(main: &Main, key: &str) -> Result<Option<u64>> {
    let Some(v) = main.repo.config_string(key) else {
        return Ok(None);
    };
    parse_size(&v).map(Some).ok_or_else(|| {
        Error::invalid(
            format!("{key} is '{v}', not a size"),
            format!("give bytes with an optional k, m or g suffix, e.g. `git config {key} 2m`"),
        )
    })
}

fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim().to_ascii_lowercase();
    let (num, mul) = match v.chars().last()? {
        'k' => (&v[..v.len() - 1], 1 << 10),
        'm' => (&v[..v.len() - 1], 1 << 20),
        'g' => (&v[..v.len() - 1], 1 << 30),
        _ => (v.as_str(), 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mul)
}

/// Removes the layers no sandbox uses, beyond the cache size (least recently used first), and
/// half-built layers of processes that are gone. A layer in use is never removed; if an
/// overlay sandbox's record predates layer keys, every layer counts as in use.
pub fn collect(main: &Main) -> Result<Collected> {
    let cap = cache_size(main)?;
    let root = main.root();
    let dir = root.join(".layers");
    let mut out = Collected::default();
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(out);
    };
    let mut users: HashMap<String, Vec<String>> = HashMap::new();
    let mut unknown = false;
    for r in main.list()? {
        if r.backend == Backend::Overlay {
            match &r.layer {
                Some(k) => users.entry(k.clone()).or_default().push(r.name.clone()),
                None => unknown = true,
            }
        }
    }
    let mut layers = Vec::new();
    for e in entries.flatten() {
        let key = e.file_name().to_string_lossy().into_owned();
        if let Some(rest) = key.strip_prefix(".tmp-") {
            let pid: Option<u32> = rest.split('-').next().and_then(|p| p.parse().ok());
            let alive = pid.is_some_and(crate::sys::alive);
            if !alive && fs::remove_dir_all(e.path()).is_ok() {
                out.leftovers += 1;
            }
            continue;
        }
        let last_used_ms = fs::metadata(e.path().join("ready"))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as u64);
        layers.push(LayerInfo {
            bytes: disk_usage(&e.path()),
            sandboxes: users.remove(&key).unwrap_or_default(),
            key,
            last_used_ms,
        });
    }
    // Most recently used first: the cache keeps a prefix of the unused ones.
    layers.sort_by(|a, b| b.last_used_ms.cmp(&a.last_used_ms).then(a.key.cmp(&b.key)));
    let mut cached = 0u64;
    for l in layers {
        let used = unknown || !l.sandboxes.is_empty();
        if used || cached + l.bytes <= cap {
            if !used {
                cached += l.bytes;
            }
            out.kept.push(l);
            continue;
        }
        let path = super::overlay::layer_dir(&root, &l.key);
        fs::remove_dir_all(&path).map_err(Error::io(&path))?;
        out.removed.push(l);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_take_suffixes() {
        assert_eq!(super::parse_size("2g"), Some(2 << 30));
        assert_eq!(super::parse_size("512M"), Some(512 << 20));
        assert_eq!(super::parse_size("100"), Some(100));
        assert_eq!(super::parse_size("lots"), None);
    }
}
