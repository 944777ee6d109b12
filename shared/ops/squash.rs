//! A squash plan for a sandbox's commits (`git sandbox squash-plan NAME [--apply]`): the
//! commits on its branch since its base, grouped by what each changed, as `commit --suggest`
//! classifies a change (`test`, `docs`, `style`, `feat`, `fix`, `refactor`, with the one top
//! directory as the scope), one commit per group, groups in the order of their first commit.
//!
//! The plan is built before it is shown: each group's commits are applied in order onto the
//! groups before it with `git merge-tree` (objects only: no work tree, no index, no ref moves),
//! and the last group's tree must be the branch's tree. When moving a commit past others makes a
//! conflict, or a different tree, the plan joins only neighbours of the same kind instead, which
//! always gives the same tree. Applying it moves the branch (compare-and-swap against the tip it
//! was planned from) to commits whose last tree is the tree it had, so the sandbox's files, index
//! and uncommitted changes are untouched; the old tip stays in the branch's reflog.
//!
//! Each squashed commit keeps the author and date of its group's first commit, and the union of
//! the group's `Fixes:`, `Closes:` and `Refs:` trailers; a group of one keeps its message.
//! `Sandbox-Provenance:` records are left out: each signs its own commit's tree and parents,
//! which the plan replaces.

use std::collections::BTreeMap;

use serde::Serialize;

use super::sandboxes::Sandboxes;
use super::suggest::{classify, header};
use crate::error::{Error, Result};
use crate::sandbox::{self, Record};

/// A commit of the sandbox's branch, as the plan sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    /// The commit's id in hex.
    pub id: String,
    /// Its subject line.
    pub subject: String,
    /// The Conventional Commits type the plan gives it (`fix`, `test`, `docs`…).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its scope: the one top directory it touches, if one.
    pub scope: Option<String>,
}

/// One commit of the plan: the commits it joins, and its message.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// The Conventional Commits type of the joined commit.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its scope, if its commits share one.
    pub scope: Option<String>,
    /// Its proposed message.
    pub message: String,
    /// The commits it joins, oldest first.
    pub commits: Vec<Planned>,
}

/// What `squash-plan` proposes (and, applied, did).
#[derive(Debug, Clone, Serialize)]
pub struct SquashPlan {
    /// The sandbox's name.
    pub name: String,
    /// Its branch.
    pub branch: String,
    /// Where the sandbox's own commits start (the merge base with its base).
    pub base: String,
    /// The tip the plan was made from.
    pub head: String,
    /// How many commits the sandbox's branch has of its own.
    pub commits: usize,
    /// The commits the plan makes, oldest first.
    pub groups: Vec<Group>,
    /// Whether the plan moves commits past others (grouping by kind); `false` when it joins
    /// neighbours only.
    pub reordered: bool,
    /// Why the plan is not the one by kind, or has nothing to do.
    pub note: Option<String>,
    /// The branch's new tip, once applied.
    pub applied: Option<String>,
    /// The tip the plan would give (its commits are objects already; the branch moves to it
    /// when applied).
    #[serde(skip)]
    pub result: String,
}

/// A commit's subject without a Conventional Commits prefix it may have.
fn bare_subject(s: &str) -> &str {
    let Some((head, rest)) = s.split_once(": ") else {
        return s;
    };
    let kind = head.split(['(', '!']).next().unwrap_or(head);
    if !kind.is_empty() && kind.chars().all(|c| c.is_ascii_lowercase()) && !head.contains(' ') {
        rest
    } else {
        s
    }
}

struct Built {
    tip: String,
    tree: String,
}

impl Sandboxes<'_> {
    /// The squash plan for sandbox `r`; with `apply`, its branch is moved to it.
    pub fn squash(&self, r: &Record, apply: bool) -> Result<SquashPlan> {
        let git = |args: &[&str]| sandbox::git_in(&r.path, args).map(|s| s.trim().to_owned());
        let head = git(&["rev-parse", "--verify", &format!("refs/heads/{}^{{commit}}", r.branch)])?;
        let base = git(&["merge-base", &sandbox::against(r), &head])?;
        let range = format!("{base}..{head}");
        if !git(&["rev-list", "--merges", &range])?.is_empty() {
            return Err(Error::invalid(
                format!("the commits of {} include merges (a sync of its base)", r.branch),
                format!(
                    "squash-plan works on a straight line of commits; `git sandbox land {} --rebase` lands them as they are",
                    r.name
                ),
            ));
        }
        let ids: Vec<String> = git(&["rev-list", "--reverse", &range])?
            .lines()
            .map(str::to_owned)
            .collect();
        let issue = self.issue_of(r);
        let mut commits = Vec::with_capacity(ids.len());
        for id in &ids {
            let c = classify(r, &format!("{id}^"), id, issue.as_ref())?;
            commits.push(Planned {
                id: id.clone(),
                subject: git(&["log", "-1", "--format=%s", id])?,
                kind: c.kind.to_owned(),
                scope: c.scope,
            });
        }
        let mut plan = SquashPlan {
            name: r.name.clone(),
            branch: r.branch.clone(),
            base: base.clone(),
            head: head.clone(),
            commits: commits.len(),
            groups: Vec::new(),
            reordered: true,
            note: None,
            applied: None,
            result: head.clone(),
        };
        // By kind and scope, in the order each first appears.
        let mut by_kind: Vec<Vec<Planned>> = Vec::new();
        let mut at: BTreeMap<(String, Option<String>), usize> = BTreeMap::new();
        for c in &commits {
            let key = (c.kind.clone(), c.scope.clone());
            let i = *at.entry(key).or_insert_with(|| {
                by_kind.push(Vec::new());
                by_kind.len() - 1
            });
            by_kind[i].push(c.clone());
        }
        let want = git(&["rev-parse", &format!("{head}^{{tree}}")])?;
        let by_kind = self.groups(r, by_kind)?;
        let built = match self.build(r, &base, &by_kind)? {
            Some(b) if b.tree == want => Some((by_kind, b)),
            _ => None,
        };
        let (groups, built) = match built {
            Some(g) => g,
            None => {
                // Neighbours of one kind only: each group ends on a commit of the branch, so its
                // tree is that commit's.
                let mut runs: Vec<Vec<Planned>> = Vec::new();
                for c in commits {
                    match runs.last_mut() {
                        Some(run) if run[0].kind == c.kind && run[0].scope == c.scope => run.push(c),
                        _ => runs.push(vec![c]),
                    }
                }
                plan.reordered = false;
                plan.note = Some(
                    "grouping by kind moves commits past others that change the same lines; this plan joins only neighbours"
                        .into(),
                );
                let runs = self.groups(r, runs)?;
                let b = self
                    .build(r, &base, &runs)?
                    .filter(|b| b.tree == want)
                    .ok_or_else(|| Error::Failed {
                        message: format!("the commits of {} cannot be replayed as they are", r.branch),
                        hint: "check the branch with `git log`; nothing was changed".into(),
                    })?;
                (runs, b)
            }
        };
        plan.groups = groups;
        if plan.groups.len() == plan.commits {
            plan.note = Some(match plan.commits {
                0 => format!("{} has no commits of its own", r.branch),
                _ => "each commit is a group of its own: nothing to squash".into(),
            });
            plan.result = head.clone();
        } else {
            plan.result = built.tip;
        }
        if apply && plan.result != head {
            let reason = format!("squash-plan: {} commits into {}", plan.commits, plan.groups.len());
            sandbox::git_in(
                &r.path,
                &[
                    "update-ref",
                    "-m",
                    &reason,
                    &format!("refs/heads/{}", r.branch),
                    &plan.result,
                    &head,
                ],
            )
            .map_err(|e| Error::Failed {
                message: format!("{} moved while the plan was made: {e}", r.branch),
                hint: format!("run `git sandbox squash-plan {}` again", r.name),
            })?;
            plan.applied = Some(plan.result.clone());
        }
        Ok(plan)
    }

    /// The groups of `commits`, each with its message.
    fn groups(&self, r: &Record, commits: Vec<Vec<Planned>>) -> Result<Vec<Group>> {
        commits
            .into_iter()
            .map(|commits| {
                let mut g = Group {
                    kind: commits[0].kind.clone(),
                    scope: commits[0].scope.clone(),
                    message: String::new(),
                    commits,
                };
                g.message = self.message(r, &g)?;
                Ok(g)
            })
            .collect()
    }

    /// The message of a group's commit: its kind and scope with the first commit's subject,
    /// the others' subjects as a list, and the group's issue trailers.
    fn message(&self, r: &Record, g: &Group) -> Result<String> {
        // Alone, a commit keeps its message, but for a provenance record the squash voids.
        if let [one] = &g.commits[..] {
            let m = sandbox::git_in(&r.path, &["log", "-1", "--format=%B", &one.id])?;
            let kept: Vec<&str> = m
                .trim_end()
                .lines()
                .filter(|l| !l.starts_with("Sandbox-Provenance:"))
                .collect();
            return Ok(kept.join("\n").trim_end().to_owned());
        }
        let mut m = header(&g.kind, g.scope.as_deref(), bare_subject(&g.commits[0].subject));
        m.push_str("\n\n");
        let lines: Vec<String> = g.commits.iter().map(|c| format!("- {}", c.subject)).collect();
        m.push_str(&lines.join("\n"));
        let mut trailers: Vec<String> = Vec::new();
        for c in &g.commits {
            let t = sandbox::git_in(
                &r.path,
                &[
                    "log",
                    "-1",
                    "--format=%(trailers:key=Fixes,key=Closes,key=Refs,unfold)",
                    &c.id,
                ],
            )?;
            for line in t.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if !trailers.iter().any(|x| x == line) {
                    trailers.push(line.to_owned());
                }
            }
        }
        if !trailers.is_empty() {
            m.push_str("\n\n");
            m.push_str(&trailers.join("\n"));
        }
        Ok(m)
    }

    /// Writes the commits of `groups` onto `base` (objects only); `None` when a commit does not
    /// apply where the grouping puts it.
    fn build(&self, r: &Record, base: &str, groups: &[Group]) -> Result<Option<Built>> {
        let git = |args: &[&str]| sandbox::git_in(&r.path, args).map(|s| s.trim().to_owned());
        let (mut tip, mut tree) = (base.to_owned(), git(&["rev-parse", &format!("{base}^{{tree}}")])?);
        for g in groups {
            let mut at = tip.clone();
            for c in &g.commits {
                // The commit's own change, merged onto what the plan has so far.
                let out = sandbox::git_cmd(&r.path)
                    .args([
                        "merge-tree",
                        "--write-tree",
                        "--no-messages",
                        &format!("--merge-base={}^", c.id),
                        &at,
                        &c.id,
                    ])
                    .output()
                    .map_err(Error::io(&r.path))?;
                if !out.status.success() {
                    return Ok(None);
                }
                tree = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                at = git(&["commit-tree", &tree, "-p", &at, "-m", "squash-plan step"])?;
            }
            // The group's commit, by its first commit's author.
            let first = &g.commits[0].id;
            let who = git(&["log", "-1", "--format=%an%x00%ae%x00%aI", first])?;
            let mut who = who.split('\0');
            let (name, email, date) = (
                who.next().unwrap_or_default(),
                who.next().unwrap_or_default(),
                who.next().unwrap_or_default(),
            );
            let out = sandbox::git_cmd(&r.path)
                .args(["commit-tree", &tree, "-p", &tip, "-m", &g.message])
                .env("GIT_AUTHOR_NAME", name)
                .env("GIT_AUTHOR_EMAIL", email)
                .env("GIT_AUTHOR_DATE", date)
                .output()
                .map_err(Error::io(&r.path))?;
            if !out.status.success() {
                return Err(Error::Failed {
                    message: format!(
                        "git commit-tree failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                    hint: "check the repository with `git fsck`".into(),
                });
            }
            tip = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        }
        Ok(Some(Built { tip, tree }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_conventional_prefix_is_taken_off_a_subject() {
        assert_eq!(
            super::bare_subject("fix(parser): handle empty input"),
            "handle empty input"
        );
        assert_eq!(super::bare_subject("feat!: drop v1"), "drop v1");
        assert_eq!(super::bare_subject("Handle empty input"), "Handle empty input");
        assert_eq!(super::bare_subject("Note: this is it"), "Note: this is it");
    }
}
