//! Writes of this clone's actors that a concurrent write of another actor overrode (see
//! [`crate::issue::overridden`]): kept in `<git-common-dir>/grit/overridden.jsonl`, one JSON line
//! each, as the fold finds them. The next command a person runs tells each once (a cursor in
//! `overridden.told` keeps how far), and `show` marks those whose winner still stands.

use std::io::Write;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::issue::Overridden;
use crate::repo::Repo;

fn log(repo: &Repo) -> PathBuf {
    repo.grit_dir.join("overridden.jsonl")
}

fn cursor(repo: &Repo) -> PathBuf {
    repo.grit_dir.join("overridden.told")
}

/// Appends `found` to the log.
pub fn record(repo: &Repo, found: &[Overridden]) -> Result<()> {
    if found.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for o in found {
        text.push_str(&serde_json::to_string(o).expect("serialises"));
        text.push('\n');
    }
    let path = log(repo);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(Error::io(&path))?;
    // One write of whole lines: O_APPEND keeps concurrent folds' lines apart.
    f.write_all(text.as_bytes()).map_err(Error::io(&path))
}

fn read_from(repo: &Repo, from: u64) -> (Vec<Overridden>, u64) {
    let Ok(bytes) = std::fs::read(log(repo)) else {
        return (Vec::new(), 0);
    };
    let from = (from as usize).min(bytes.len());
    // Only whole lines: a line being written is read next time.
    let end = bytes[from..]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(from, |i| from + i + 1);
    let found = bytes[from..end]
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    (found, end as u64)
}

/// What was recorded since last told, and moves the cursor past it: each is told once.
pub fn take_untold(repo: &Repo) -> Vec<Overridden> {
    // Nearly always nothing was ever overridden: one stat, no lock.
    if !log(repo).exists() {
        return Vec::new();
    }
    let path = cursor(repo);
    let Ok(_lock) = crate::sys::lock_file(&repo.grit_dir.join("overridden.lock")) else {
        return Vec::new();
    };
    let from = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let (found, end) = read_from(repo, from);
    if end != from {
        let _ = std::fs::write(&path, end.to_string());
    }
    found
}

/// Every write of this clone's on issue `id` that was overridden (whether told or not).
pub fn of_issue(repo: &Repo, id: &str) -> Vec<Overridden> {
    read_from(repo, 0).0.into_iter().filter(|o| o.issue == id).collect()
}
