//! What a sandbox brought from the main tree (uncommitted changes, untracked files) versus what
//! happened in it. The state right after creation is kept as a tree; a sandbox's own changes
//! are what differs from its commits with the carried changes laid over them, so `diff`,
//! `rm`, `clean`, `list` and `commit` see only the sandbox's work, never the user's local
//! edits that came along.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Record, git_cmd, git_in};
use crate::error::{Error, Result};

/// One path's content in a tree: (mode, blob id), or `None` where the path is absent.
type Entry = Option<(String, String)>;

/// Runs git in `dir` with a temporary index at `index`; returns stdout.
fn git_with_index(dir: &Path, index: &Path, args: &[&str], input: Option<&[u8]>) -> Result<String> {
    use std::io::Write;
    let mut c = git_cmd(dir);
    c.env("GIT_INDEX_FILE", index).args(args);
    c.stdin(if input.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    });
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().map_err(Error::io("git"))?;
    if let Some(bytes) = input {
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(bytes)
            .map_err(Error::io("git"))?;
    }
    let out = child.wait_with_output().map_err(Error::io("git"))?;
    if !out.status.success() {
        return Err(Error::Subprocess {
            command: format!("git {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A scratch index beside the sandbox's own, removed when dropped.
struct ScratchIndex(std::path::PathBuf);

impl ScratchIndex {
    /// A copy of `dir`'s index (so that unchanged files need no hashing), or an empty one.
    fn copy_of(dir: &Path) -> Result<ScratchIndex> {
        let git_dir = git_in(dir, &["rev-parse", "--absolute-git-dir"])?;
        let git_dir = Path::new(git_dir.trim());
        let tmp = git_dir.join(format!("grit-scratch-index-{}", std::process::id()));
        let own = git_dir.join("index");
        if own.is_file() {
            std::fs::copy(&own, &tmp).map_err(Error::io(&own))?;
        }
        Ok(ScratchIndex(tmp))
    }
}

impl Drop for ScratchIndex {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A tree of everything `git status` sees in `dir`: tracked files as they are in the work tree
/// and untracked files that are not ignored. The sandbox's own index is not touched.
pub fn worktree_tree(dir: &Path) -> Result<String> {
    let index = ScratchIndex::copy_of(dir)?;
    git_with_index(dir, &index.0, &["add", "-A"], None)?;
    Ok(git_with_index(dir, &index.0, &["write-tree"], None)?.trim().to_owned())
}

/// The paths that differ between two trees, with their content in `to`.
fn changes(dir: &Path, from: &str, to: &str) -> Result<BTreeMap<String, Entry>> {
    let out = git_in(dir, &["diff-tree", "-r", "-z", "--no-renames", from, to])?;
    let mut items = out.split('\0');
    let mut map = BTreeMap::new();
    while let (Some(meta), Some(path)) = (items.next(), items.next()) {
        // :oldmode newmode oldsha newsha status
        let f: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
        if f.len() < 5 {
            continue;
        }
        let entry = (f[4] != "D").then(|| (f[1].to_owned(), f[3].to_owned()));
        map.insert(path.to_owned(), entry);
    }
    Ok(map)
}

/// The tree of `head` with `entries` laid over it (a deleted path's entry is `None`).
fn tree_with<'a>(dir: &Path, head: &str, entries: impl IntoIterator<Item = (&'a String, &'a Entry)>) -> Result<String> {
    let mut info = String::new();
    for (path, entry) in entries {
        match entry {
            Some((mode, id)) => info.push_str(&format!("{mode} {id}\t{path}\0")),
            None => info.push_str(&format!("0 {}\t{path}\0", "0".repeat(40))),
        }
    }
    if info.is_empty() {
        return Ok(git_in(dir, &["rev-parse", &format!("{head}^{{tree}}")])?
            .trim()
            .to_owned());
    }
    let index = ScratchIndex::copy_of(dir)?;
    git_with_index(dir, &index.0, &["read-tree", head], None)?;
    git_with_index(
        dir,
        &index.0,
        &["update-index", "-z", "--index-info"],
        Some(info.as_bytes()),
    )?;
    Ok(git_with_index(dir, &index.0, &["write-tree"], None)?.trim().to_owned())
}

/// What the sandbox's work is measured from: its current commit, with the carried changes laid
/// over every path its own commits have not changed since the base. `None` for a sandbox that
/// carried nothing (its commit is the start) or one made before this was recorded.
pub fn start_tree(r: &Record) -> Result<Option<String>> {
    let Some(carried) = &r.carried else {
        return Ok(None);
    };
    let dir = &r.path;
    let head = git_in(dir, &["rev-parse", "HEAD^{tree}"])?.trim().to_owned();
    let base = git_in(dir, &["rev-parse", &format!("{}^{{tree}}", r.base)])?
        .trim()
        .to_owned();
    let carried_changes = changes(dir, &base, carried)?;
    let committed = changes(dir, &base, &head)?;
    let uncommitted = carried_changes
        .iter()
        .filter(|(path, _)| !committed.contains_key(*path));
    Ok(Some(tree_with(dir, &head, uncommitted)?))
}

/// The sandbox's own uncommitted changes: (start tree, work tree's tree, changed paths), or
/// `None` for a sandbox without a recorded start (`git status` decides there).
pub fn own_changes(r: &Record) -> Result<Option<(String, String, Vec<String>)>> {
    let Some(start) = start_tree(r)? else {
        return Ok(None);
    };
    let now = worktree_tree(&r.path)?;
    let paths = changes(&r.path, &start, &now)?.into_keys().collect();
    Ok(Some((start, now, paths)))
}

/// Commits the sandbox's own changes only (the carried ones stay uncommitted), on its branch.
/// Returns the new commit, or `None` when it had none.
pub fn commit_own(r: &Record, message: &str, signer: Option<&super::Signer>) -> Result<Option<String>> {
    let Some((start, now, paths)) = own_changes(r)? else {
        return super::commit(r, message, signer);
    };
    if paths.is_empty() {
        return Ok(None);
    }
    let dir = &r.path;
    let head = git_in(dir, &["rev-parse", "HEAD"])?.trim().to_owned();
    let own = changes(dir, &start, &now)?;
    let tree = tree_with(dir, &head, &own)?;
    let commit = super::commit_tree(r, &tree, message, signer)?;
    // The sandbox's index follows the commit for the paths it took; carried changes stay as
    // they were (staged ones staged).
    let mut args = vec!["reset", "-q", "HEAD", "--"];
    args.extend(own.keys().map(String::as_str));
    git_in(dir, &args)?;
    Ok(Some(commit))
}
