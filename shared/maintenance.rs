//! Keeping `.git` small and fast: every append writes loose objects and every lock a loose ref,
//! so like `git gc --auto` we estimate how many there are and pack them in the background.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::repo::Repo;

/// Loose objects (estimated) that trigger an incremental `git repack -d` (`grit.autoPack`).
const DEFAULT_AUTO_PACK: i64 = 1024;
/// A repack that has not removed its marker after this long is taken to have died.
const STALE_MARKER: Duration = Duration::from_secs(600);
/// Loose refs in one of grit's namespaces (lock, WAL or actor refs) that trigger `git pack-refs`.
pub const LOOSE_REFS: usize = 256;

/// `grit.autoPack`: loose objects (estimated) past which appends pack them.
pub fn auto_pack_limit(repo: &Repo) -> i64 {
    repo.git
        .config_snapshot()
        .integer("grit.autoPack")
        .unwrap_or(DEFAULT_AUTO_PACK)
}

/// How many loose objects there are, estimated as git does: they spread evenly over 256
/// fan-out directories, so count one (in the directory appends write to, which honours
/// GIT_OBJECT_DIRECTORY) and multiply.
pub fn loose_estimate(repo: &Repo) -> i64 {
    let sample = repo.git.objects.store_ref().path().join("17");
    std::fs::read_dir(sample).map_or(0, |d| d.count()) as i64 * 256
}

/// Starts an incremental repack in the background when the loose-object estimate passes
/// `grit.autoPack`. Cheap otherwise: one small directory listing. Never fails the caller's write.
/// Pack consolidation, pruning and the rest stay with git's own `gc --auto`.
pub fn after_write(repo: &Repo) {
    let limit = auto_pack_limit(repo);
    if limit <= 0 || std::env::var_os("GRIT_NO_AUTO_GC").is_some() {
        return;
    }
    let count = loose_estimate(repo) / 256;
    if count * 256 <= limit && !many_loose_refs(repo) {
        return;
    }
    // One repack at a time: the marker is created exclusively and removed when it ends.
    let marker = repo.grit_dir.join("repack.running");
    if !take_marker(&marker) {
        return;
    }
    let mut sh = Command::new("sh");
    sh.args([
        "-c",
        "git --git-dir=\"$1\" repack -d -q -l; \
         git -c core.hooksPath=/dev/null --git-dir=\"$1\" pack-refs --all; \
         git --git-dir=\"$1\" gc --auto --quiet; rm -f \"$2\"",
        "sh",
    ])
    .arg(repo.git.git_dir())
    .arg(&marker);
    spawn_holding(sh, &marker);
}

/// Starts `cmd` (which removes `marker` when it ends) with no stdin or output; if it cannot
/// start, removes the marker itself.
fn spawn_holding(mut cmd: Command, marker: &std::path::Path) {
    let spawned = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if spawned.is_err() {
        let _ = std::fs::remove_file(marker);
    }
}

/// Whether a namespace of grit's holds more than [`LOOSE_REFS`] loose refs. Lock refs are listed
/// on every lock check, and WAL and actor refs whenever a fold looks at them all: loose, each
/// costs a file; packed, the lot is one read. Each directory is read only as far as the limit.
fn many_loose_refs(repo: &Repo) -> bool {
    let common = repo.git.common_dir();
    ["refs/grit/locks", "refs/grit/wal", "refs/grit/actors"]
        .iter()
        .any(|dir| std::fs::read_dir(common.join(dir)).is_ok_and(|d| d.take(LOOSE_REFS + 1).count() > LOOSE_REFS))
}

/// Writes the next snapshot link in the background (`git wal snapshot`, detached), so the
/// command whose write made one due never waits for it. One at a time: the marker is created
/// exclusively and removed when it ends; what fails is appended to `<grit>/snapshot.log`.
pub fn snapshot_in_background(repo: &Repo) {
    let marker = repo.grit_dir.join("snapshot.running");
    if !take_marker(&marker) {
        return;
    }
    let exe = std::env::current_exe().ok().map(|e| e.with_file_name("git-wal"));
    let wal = exe.filter(|w| w.exists()).unwrap_or_else(|| "git-wal".into());
    let mut sh = Command::new("sh");
    sh.args(["-c", "\"$1\" snapshot >/dev/null 2>>\"$3\"; rm -f \"$2\"", "sh"])
        .arg(wal)
        .arg(&marker)
        .arg(repo.grit_dir.join("snapshot.log"))
        .env("GIT_DIR", repo.git.git_dir());
    spawn_holding(sh, &marker);
}

/// Creates `marker` exclusively, first removing one left by a process that died
/// ([`STALE_MARKER`]); false if another holds it.
fn take_marker(marker: &std::path::Path) -> bool {
    let stale = std::fs::metadata(marker)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().unwrap_or_default() > STALE_MARKER);
    if stale {
        let _ = std::fs::remove_file(marker);
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(marker)
        .is_ok()
}
