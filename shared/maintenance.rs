//! Keeping `.git` small: every append writes a few loose objects, so like git itself we pack
//! them in the background once there are enough (the same estimate `git gc --auto` makes).

use std::process::{Command, Stdio};

use crate::repo::Repo;

/// Git's default `gc.auto`.
const DEFAULT_GC_AUTO: i64 = 6700;

/// Starts `git gc --auto` in the background when the loose-object estimate passes `gc.auto`.
/// Cheap otherwise: one small directory listing. Never fails the write that called it.
pub fn after_write(repo: &Repo) {
    let limit = repo.git.config_snapshot().integer("gc.auto").unwrap_or(DEFAULT_GC_AUTO);
    if limit <= 0 || std::env::var_os("GRIT_NO_AUTO_GC").is_some() {
        return;
    }
    // Git samples objects/17: loose objects are spread evenly over 256 fan-out directories.
    let sample = repo.git.common_dir().join("objects").join("17");
    let count = std::fs::read_dir(sample).map_or(0, |d| d.count()) as i64;
    if count * 256 <= limit {
        return;
    }
    let _ = Command::new("git")
        .arg("--git-dir")
        .arg(repo.git.git_dir())
        .args(["gc", "--auto", "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
