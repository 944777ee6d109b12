//! Commits that close issues: `Fixes: <id>` and `Closes: <id>` trailers close the issue (as
//! completed) once the commit is on the default branch, `Refs: <id>` comments on it. Each issue
//! gets a comment naming the commit, and that comment is also how a commit is known to have
//! been applied: the same commit never acts twice, so an issue reopened after it stays open.

use serde::Serialize;

use crate::error::Result;
use crate::event::{Id, Kind};
use crate::repo::Repo;
use crate::store::Store;

/// What a trailer asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `Fixes:` or `Closes:`: close the issue.
    Close,
    /// `Refs:`: note the commit on the issue.
    Refer,
}

/// A commit's trailers that name issues: (action, the id or prefix as written).
#[derive(Debug, Clone)]
pub struct CommitTrailers {
    /// The commit, in hex.
    pub commit: String,
    /// Its subject line.
    pub subject: String,
    /// What a rebase, cherry-pick or amend keeps of the commit ([`commit_key`]).
    pub key: String,
    /// What its trailers ask, in order.
    pub items: Vec<(Action, String)>,
}

/// What applying trailers did.
#[derive(Debug, Default, Serialize)]
pub struct Applied {
    /// (issue id, commit)
    pub closed: Vec<(String, String)>,
    /// (issue id, commit)
    pub referenced: Vec<(String, String)>,
    /// Already applied by an earlier run (or the issue was closed already).
    pub unchanged: usize,
    /// Trailers naming no issue, or more than one; commits off the branch.
    pub warnings: Vec<String>,
}

/// The branch whose commits close issues: `grit.closeBranch`, else the branch the remote's HEAD
/// names (`origin` first), else `init.defaultBranch`, else main or master if one exists.
pub fn close_branch(repo: &Repo) -> Option<String> {
    if let Some(b) = repo.config_string("grit.closeBranch").filter(|b| !b.is_empty()) {
        return Some(b);
    }
    for remote in ["origin", "upstream"] {
        if let Ok(r) = repo.git_command(&[
            "symbolic-ref",
            "--quiet",
            "--short",
            &format!("refs/remotes/{remote}/HEAD"),
        ]) {
            let r = r.trim();
            if let Some(b) = r.split_once('/').map(|(_, b)| b) {
                return Some(b.to_owned());
            }
        }
    }
    let exists = |b: &str| {
        repo.git_command(&["rev-parse", "--verify", "--quiet", &format!("refs/heads/{b}")])
            .is_ok()
    };
    if let Some(b) = repo.config_string("init.defaultBranch").filter(|b| exists(b)) {
        return Some(b);
    }
    ["main", "master"].into_iter().find(|b| exists(b)).map(str::to_owned)
}

/// The branch checked out, if any.
pub fn current_branch(repo: &Repo) -> Option<String> {
    repo.git_command(&["symbolic-ref", "--quiet", "--short", "HEAD"])
        .ok()
        .map(|b| b.trim().to_owned())
}

/// Whether `commit` is on `branch` (local, or its remote-tracking copy).
pub fn on_branch(repo: &Repo, commit: &str, branch: &str) -> bool {
    [format!("refs/heads/{branch}"), format!("refs/remotes/origin/{branch}")]
        .iter()
        .any(|r| {
            repo.git_output(&["merge-base", "--is-ancestor", commit, r])
                .is_ok_and(|o| o.status.success())
        })
}

/// The commits of `range` (oldest first) with trailers naming issues, read by git's own trailer
/// parser (`%(trailers)`).
pub fn in_range(repo: &Repo, range: &str) -> Result<Vec<CommitTrailers>> {
    let out = repo.git_command(&[
        "log",
        "--reverse",
        "--format=%H%x1f%s%x1f%ae%x1f%at%x1f%(trailers:only,unfold,key=Fixes,key=Closes,key=Refs)%x1e",
        range,
    ])?;
    let mut all = Vec::new();
    for rec in out.split('\x1e') {
        let mut f = rec.trim_start_matches('\n').splitn(5, '\x1f');
        let (Some(commit), Some(subject), Some(email), Some(time), Some(trailers)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let items: Vec<(Action, String)> = trailers
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                let action = match k.trim().to_ascii_lowercase().as_str() {
                    "fixes" | "closes" => Action::Close,
                    "refs" => Action::Refer,
                    _ => return None,
                };
                // `Fixes: abc1234, def5678` names two.
                Some(
                    v.split([',', ' '])
                        .map(|x| x.trim().trim_start_matches('#'))
                        .filter(|x| !x.is_empty())
                        .map(|x| (action, x.to_owned()))
                        .collect::<Vec<_>>(),
                )
            })
            .flatten()
            .collect();
        if !items.is_empty() {
            all.push(CommitTrailers {
                commit: commit.to_owned(),
                subject: subject.to_owned(),
                key: commit_key(email, time, subject),
                items,
            });
        }
    }
    Ok(all)
}

/// What a commit keeps when it is rebased, cherry-picked or amended: its author's email, author
/// time and subject, hashed (BLAKE2b-256, the first 16 bytes in hex). Two notes of one issue
/// with the same key are one commit's.
pub fn commit_key(author_email: &str, author_time: &str, subject: &str) -> String {
    let h = crate::event::blake2b256(format!("{author_email}\0{author_time}\0{subject}").as_bytes());
    crate::hex::encode(&h[..16])
}

/// Applies the trailers of `commits`: closes and comments, once per commit and issue.
pub fn apply(store: &Store, commits: &[CommitTrailers]) -> Result<Applied> {
    let mut out = Applied::default();
    for c in commits {
        for (action, query) in &c.items {
            let id: Id = match store.index.resolve(query) {
                Ok(id) => id,
                Err(e) => {
                    out.warnings.push(format!(
                        "commit {}: {} {query}: {e}",
                        &c.commit[..12],
                        if *action == Action::Close { "Fixes:" } else { "Refs:" }
                    ));
                    continue;
                }
            };
            let state = store.index.issue(&id)?.unwrap_or_default();
            if state.names_commit(&c.commit, &c.key) {
                out.unchanged += 1;
                continue;
            }
            // One event per commit and issue: the projection keeps the first of each commit,
            // so another clone's note of the same commit adds no second close or comment.
            let closes = *action == Action::Close;
            match action {
                Action::Close => out.closed.push((id.to_hex(), c.commit.clone())),
                Action::Refer => out.referenced.push((id.to_hex(), c.commit.clone())),
            }
            let kind = Kind::CommitReferenced {
                commit: c.commit.to_ascii_lowercase(),
                subject: c.subject.clone(),
                closes,
                key: c.key.clone(),
            };
            store.write(Some(id), vec![kind])?;
        }
    }
    Ok(out)
}

/// `message` with `line` (`Key: value`) added to its trailer block, so that git's trailer parser
/// reads it together with the `Fixes:`, `Closes:` and `Refs:` already there. A message whose
/// last paragraph is not a trailer block (every line `Token: value`, or a folded continuation)
/// gets a new paragraph, as `git interpret-trailers` would give it.
pub fn with_trailer(message: &str, line: &str) -> String {
    let body = message.trim_end();
    let is_trailer = |l: &str| {
        l.split_once(':')
            .is_some_and(|(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    let block = match body.rfind("\n\n") {
        Some(at) => {
            let last = &body[at + 2..];
            let mut lines = last.lines().filter(|l| !l.starts_with('#'));
            lines.next().is_some_and(is_trailer) && lines.all(|l| is_trailer(l) || l.starts_with([' ', '\t']))
        }
        None => false,
    };
    if body.is_empty() {
        line.to_owned()
    } else if block {
        format!("{body}\n{line}\n")
    } else {
        format!("{body}\n\n{line}\n")
    }
}

/// The message of HEAD's commit, read straight from the files git just wrote: `.git/HEAD`, a
/// loose branch ref and a loose commit, as after every `git commit`. `None` whenever anything
/// is otherwise (a linked worktree, packed refs, a packed object, another ref backend): the
/// caller then asks gix, which knows every case. The post-commit hook runs on every commit, and
/// this answers "does it name an issue?" for a fraction of opening the repository.
pub fn head_message_fast(work_tree: &std::path::Path) -> Option<HeadCommit> {
    let git_dir = match std::env::var_os("GIT_DIR") {
        Some(d) => work_tree.join(d),
        None => work_tree.join(".git"),
    };
    if !git_dir.is_dir() || git_dir.join("commondir").exists() {
        return None;
    }
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    let hex = match head.strip_prefix("ref: ") {
        Some(r) if r.starts_with("refs/") && !r.contains("..") => std::fs::read_to_string(git_dir.join(r)).ok()?,
        Some(_) => return None,
        None => head.to_owned(),
    };
    let hex = hex.trim();
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let raw = std::fs::read(git_dir.join("objects").join(&hex[..2]).join(&hex[2..])).ok()?;
    let mut out = vec![0u8; 64 << 10];
    let (inflated, status) = zlib_rs::decompress_slice(&mut out, &raw, Default::default());
    if status != zlib_rs::ReturnCode::Ok {
        return None;
    }
    let nul = inflated.iter().position(|b| *b == 0)?;
    if !inflated.starts_with(b"commit ") {
        return None;
    }
    let body = &inflated[nul + 1..];
    let at = body.windows(2).position(|w| w == b"\n\n")?;
    let parents = body[..at]
        .split(|b| *b == b'\n')
        .filter(|l| l.starts_with(b"parent "))
        .count();
    Some(HeadCommit {
        message: body[at + 2..].to_vec(),
        parents,
    })
}

/// HEAD's commit, as much of it as the post-commit hook needs.
#[derive(Debug, PartialEq, Eq)]
pub struct HeadCommit {
    /// Its message.
    pub message: Vec<u8>,
    /// More than one: a merge, concluded by `git commit` after a conflict.
    pub parents: usize,
}

#[cfg(test)]
mod fast_tests {
    #[test]
    fn a_commits_key_is_the_one_the_format_documents() {
        // docs/event-format.md, vector 21.
        assert_eq!(
            super::commit_key("ada@example.com", "1763700000", "Fix the proxy login"),
            "c560ff428e589f5cd149712493182822"
        );
    }

    #[test]
    fn an_added_trailer_joins_the_block_gits_parser_reads() {
        use std::io::Write;
        let parse = |m: &str| {
            let mut c = std::process::Command::new("git")
                .args(["interpret-trailers", "--parse"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin.take().unwrap().write_all(m.as_bytes()).unwrap();
            String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()
        };
        let p = "Sandbox-Provenance: abc.def";
        for (message, trailers) in [
            (
                "Fix it\n\nFixes: 1234567",
                "Fixes: 1234567\nSandbox-Provenance: abc.def\n",
            ),
            (
                "Fix it\n\nWhy.\n\nFixes: 1234567\nRefs: 89abcde\n\n",
                "Fixes: 1234567\nRefs: 89abcde\nSandbox-Provenance: abc.def\n",
            ),
            ("Fix it", "Sandbox-Provenance: abc.def\n"),
            (
                "Fix it\n\nA body: with a colon, and more words than a trailer.\nAnd a line.",
                "Sandbox-Provenance: abc.def\n",
            ),
            ("Fixes: 1234567", "Sandbox-Provenance: abc.def\n"),
        ] {
            let m = super::with_trailer(message, p);
            assert_eq!(parse(&m), trailers, "{m:?}");
        }
    }

    #[test]
    fn the_fast_read_of_heads_message_agrees_with_git() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .output()
                .unwrap();
            assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
        };
        git(&["init", "-q"]);
        git(&[
            "-c",
            "user.name=A",
            "-c",
            "user.email=a@x",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "Subject\n\nFixes: abc123",
        ]);
        let m = super::head_message_fast(dir.path()).unwrap();
        assert_eq!(String::from_utf8(m.message).unwrap(), "Subject\n\nFixes: abc123\n");
        assert_eq!(m.parents, 0);
        // Packed refs are not its business: it says so, and the caller asks gix.
        git(&["pack-refs", "--all"]);
        assert_eq!(super::head_message_fast(dir.path()), None);
    }
}
