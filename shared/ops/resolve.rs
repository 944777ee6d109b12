//! Resolving a sandbox's conflicts with the branch it lands on, one hunk at a time (the faces'
//! conflict view; the TUI's `R`).
//!
//! The target's commits (the main tree's branch) are merged into the sandbox's branch in the
//! sandbox's own work tree (`git merge --no-commit`, with diff3 markers, so each hunk has the
//! sandbox's side, the common base and the target's side). Each conflicted file's hunks are read
//! from its markers; a choice per hunk (`ours`: the sandbox's lines, `theirs`: the target's,
//! `both`: the sandbox's then the target's) writes the file and stages it once every hunk has
//! one. A file without text hunks (binary, or deleted on one side) is left to an editor or
//! `git mergetool`, and counts as resolved once git has it staged. When no file is left, the
//! merge commit goes on the sandbox's branch: the sandbox then merges into the target without a
//! conflict. Abandoning puts the sandbox back as it was (`git merge --abort`).

use serde::Serialize;

use super::sandboxes::Sandboxes;
use crate::error::{Error, Result};
use crate::sandbox::{self, Record};

/// Which side a hunk keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The sandbox's lines.
    Ours,
    /// The target's lines.
    Theirs,
    /// The sandbox's lines, then the target's.
    Both,
}

/// One conflict of a file: both sides and their common base, and the side chosen, if any.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Hunk {
    /// The sandbox's lines.
    pub ours: Vec<String>,
    /// The lines of the common base.
    pub base: Vec<String>,
    /// The target's lines.
    pub theirs: Vec<String>,
    /// The side chosen; `None` while it is open.
    pub choice: Option<Side>,
}

impl Hunk {
    /// The lines the hunk becomes.
    fn chosen(&self) -> Option<Vec<String>> {
        Some(match self.choice? {
            Side::Ours => self.ours.clone(),
            Side::Theirs => self.theirs.clone(),
            Side::Both => self.ours.iter().chain(&self.theirs).cloned().collect(),
        })
    }
}

/// A part of a conflicted file: lines both sides agree on, or a hunk.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Piece {
    /// Lines both sides agree on.
    Text(Vec<String>),
    /// A conflict.
    Hunk(Hunk),
}

/// A file git could not merge.
#[derive(Debug, Clone, Serialize)]
pub struct ConflictFile {
    /// The file's path, from the work tree's root.
    pub path: String,
    /// The file, in order.
    pub pieces: Vec<Piece>,
    /// Whether the file ended with a newline.
    pub newline: bool,
}

impl ConflictFile {
    /// Reads the markers of `text` (`<<<<<<<`, `|||||||`, `=======`, `>>>>>>>`, each at a line's
    /// start); a file with none has no hunks.
    pub fn parse(path: &str, text: &str) -> ConflictFile {
        #[derive(PartialEq)]
        enum At {
            Text,
            Ours,
            Base,
            Theirs,
        }
        let marker = |l: &str, m: &str| l == m || l.strip_prefix(m).is_some_and(|rest| rest.starts_with(' '));
        let (mut pieces, mut text_lines, mut hunk, mut at) = (Vec::new(), Vec::new(), Hunk::default(), At::Text);
        for line in text.lines() {
            match at {
                At::Text if marker(line, "<<<<<<<") => {
                    if !text_lines.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text_lines)));
                    }
                    at = At::Ours;
                }
                At::Text => text_lines.push(line.to_owned()),
                At::Ours | At::Base if marker(line, "|||||||") => at = At::Base,
                At::Ours | At::Base if line == "=======" => at = At::Theirs,
                At::Ours => hunk.ours.push(line.to_owned()),
                At::Base => hunk.base.push(line.to_owned()),
                At::Theirs if marker(line, ">>>>>>>") => {
                    pieces.push(Piece::Hunk(std::mem::take(&mut hunk)));
                    at = At::Text;
                }
                At::Theirs => hunk.theirs.push(line.to_owned()),
            }
        }
        if at != At::Text {
            // Markers that do not close: not a conflict this view can take apart.
            return ConflictFile {
                path: path.to_owned(),
                pieces: vec![Piece::Text(text.lines().map(str::to_owned).collect())],
                newline: text.ends_with('\n'),
            };
        }
        if !text_lines.is_empty() {
            pieces.push(Piece::Text(text_lines));
        }
        ConflictFile {
            path: path.to_owned(),
            pieces,
            newline: text.ends_with('\n'),
        }
    }

    /// The file's conflicts, in order.
    pub fn hunks(&self) -> impl Iterator<Item = &Hunk> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Hunk(h) => Some(h),
            Piece::Text(_) => None,
        })
    }

    /// The `i`th hunk.
    pub fn hunk_mut(&mut self, i: usize) -> Option<&mut Hunk> {
        self.pieces
            .iter_mut()
            .filter_map(|p| match p {
                Piece::Hunk(h) => Some(h),
                Piece::Text(_) => None,
            })
            .nth(i)
    }

    /// The file with every hunk's choice made; `None` while one has none.
    pub fn resolved(&self) -> Option<String> {
        let mut lines: Vec<String> = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => lines.extend(t.iter().cloned()),
                Piece::Hunk(h) => lines.extend(h.chosen()?),
            }
        }
        let mut out = lines.join("\n");
        if self.newline && !out.is_empty() {
            out.push('\n');
        }
        Some(out)
    }
}

/// A merge of the target into a sandbox, under way.
#[derive(Debug, Clone, Serialize)]
pub struct Resolving {
    /// The sandbox's name.
    pub name: String,
    /// The branch merged in.
    pub target: String,
    /// The files still unmerged, in git's order.
    pub files: Vec<ConflictFile>,
}

impl Sandboxes<'_> {
    /// Merges the main tree's branch into sandbox `r` (or picks up the merge already under
    /// way there), and returns the files left to resolve; none when it merged cleanly, in which
    /// case the merge is committed at once. Refuses a sandbox with uncommitted changes.
    pub fn begin_resolve(&self, r: &Record) -> Result<Resolving> {
        let target = self.main().git(&["symbolic-ref", "--short", "HEAD"])?.trim().to_owned();
        if !self.merging(r) {
            if sandbox::dirty(r)? {
                return Err(Error::invalid(
                    format!("sandbox {} has uncommitted changes", r.name),
                    format!("commit them first: git sandbox commit {} -m MSG", r.name),
                ));
            }
            let tip = self.main().git(&["rev-parse", "HEAD"])?.trim().to_owned();
            let out = sandbox::git_cmd(&r.path)
                .args(["-c", "merge.conflictStyle=diff3", "merge", "--no-commit", "--no-ff"])
                .arg("-m")
                .arg(format!("Merge {target} into {}", r.branch))
                .arg(&tip)
                .output()
                .map_err(Error::io(&r.path))?;
            if out.status.success() {
                if self.merging(r) {
                    self.finish_resolve(r)?;
                }
                return Ok(Resolving {
                    name: r.name.clone(),
                    target,
                    files: Vec::new(),
                });
            }
            if !self.merging(r) {
                return Err(Error::Failed {
                    message: format!(
                        "git merge in sandbox {} stopped: {}",
                        r.name,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                    hint: format!("look at it with `git -C {} status`", r.path.display()),
                });
            }
        }
        Ok(Resolving {
            name: r.name.clone(),
            target,
            files: self.unmerged(r)?,
        })
    }

    /// Whether a merge is under way in the sandbox.
    fn merging(&self, r: &Record) -> bool {
        sandbox::git_in(&r.path, &["rev-parse", "-q", "--verify", "MERGE_HEAD"]).is_ok()
    }

    /// The files git still has unmerged in the sandbox, read from their markers.
    pub fn unmerged(&self, r: &Record) -> Result<Vec<ConflictFile>> {
        let names = sandbox::git_in(&r.path, &["diff", "--name-only", "--diff-filter=U", "-z"])?;
        Ok(names
            .split('\0')
            .filter(|n| !n.is_empty())
            .map(|n| {
                let text = std::fs::read(r.path.join(n)).unwrap_or_default();
                match std::str::from_utf8(&text) {
                    Ok(t) => ConflictFile::parse(n, t),
                    Err(_) => ConflictFile {
                        path: n.to_owned(),
                        pieces: Vec::new(),
                        newline: false,
                    },
                }
            })
            .collect())
    }

    /// Writes `file` as its hunks' choices make it, and stages it.
    pub fn resolve_file(&self, r: &Record, file: &ConflictFile) -> Result<()> {
        let text = file.resolved().ok_or_else(|| {
            Error::invalid(
                format!("{} has a hunk with no side chosen", file.path),
                "choose ours, theirs or both for each hunk",
            )
        })?;
        let path = r.path.join(&file.path);
        std::fs::write(&path, text).map_err(Error::io(&path))?;
        sandbox::git_in(&r.path, &["add", "--", &file.path])?;
        Ok(())
    }

    /// Stages `path` as it is now (resolved by hand: an editor, `git mergetool`), when it has no
    /// conflict markers left.
    pub fn mark_resolved(&self, r: &Record, path: &str) -> Result<()> {
        let text = std::fs::read_to_string(r.path.join(path)).unwrap_or_default();
        if ConflictFile::parse(path, &text).hunks().next().is_some() {
            return Err(Error::invalid(
                format!("{path} still has conflict markers"),
                "choose a side for each hunk, or edit the file until none is left",
            ));
        }
        sandbox::git_in(&r.path, &["add", "--", path])?;
        Ok(())
    }

    /// Commits the merge on the sandbox's branch once no file is unmerged; returns the commit.
    pub fn finish_resolve(&self, r: &Record) -> Result<String> {
        let left = self.unmerged(r)?;
        if !left.is_empty() {
            let names: Vec<&str> = left.iter().map(|f| f.path.as_str()).collect();
            return Err(Error::invalid(
                format!("{} file(s) are still unmerged: {}", names.len(), names.join(", ")),
                "resolve each one first",
            ));
        }
        sandbox::git_in(&r.path, &["commit", "--no-edit", "--no-verify", "-q"])?;
        Ok(sandbox::git_in(&r.path, &["rev-parse", "HEAD"])?.trim().to_owned())
    }

    /// Abandons the merge: the sandbox is as it was before `begin_resolve`.
    pub fn abort_resolve(&self, r: &Record) -> Result<()> {
        if self.merging(r) {
            sandbox::git_in(&r.path, &["merge", "--abort"])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{ConflictFile, Side};

    #[test]
    fn hunks_are_read_from_diff3_markers_and_written_back_by_choice() {
        let text = "a\n<<<<<<< HEAD\nmine\n||||||| base\nold\n=======\ntheirs\n>>>>>>> main\nz\n";
        let mut f = ConflictFile::parse("f.txt", text);
        assert_eq!(f.hunks().count(), 1);
        assert_eq!(f.resolved(), None);
        f.hunk_mut(0).unwrap().choice = Some(Side::Both);
        assert_eq!(f.resolved().unwrap(), "a\nmine\ntheirs\nz\n");
        f.hunk_mut(0).unwrap().choice = Some(Side::Theirs);
        assert_eq!(f.resolved().unwrap(), "a\ntheirs\nz\n");
        // Markers that never close are not taken apart.
        let broken = ConflictFile::parse("g", "<<<<<<< HEAD\nx\n");
        assert_eq!(broken.hunks().count(), 0);
    }
}
