//! Merging many sandboxes: which ones conflict with the target and with each other (through
//! `git merge-tree`, touching no work tree), grouped by the files they fight over, and an order
//! that merges every one it can without a conflict.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::sandboxes::{Merged, Sandboxes};
use crate::error::{Error, Result};
use std::path::Path;

use crate::sandbox::Record;

/// Sandboxes that fight over files: a connected group of the "would conflict with" relation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    /// The sandboxes of the group, by name.
    pub sandboxes: Vec<String>,
    /// The files that conflict between them.
    pub files: Vec<String>,
}

/// A sandbox that conflicts with the target itself, whatever else is merged.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WithTarget {
    /// The sandbox's name.
    pub name: String,
    /// The files that would conflict.
    pub files: Vec<String>,
}

/// The plan: what merges, in what order, and what does not, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The branch checked out in the main work tree, and its commit.
    pub target: String,
    /// That commit, in hex.
    pub at: String,
    /// Merged in this order, each cleanly on top of those before it.
    pub merge: Vec<String>,
    /// Left for a person: each conflicts with one merged before it (its group says which).
    pub held: Vec<String>,
    /// The groups of sandboxes that conflict with each other.
    pub groups: Vec<Group>,
    /// The sandboxes that conflict with the target itself.
    pub conflicts_with_target: Vec<WithTarget>,
    /// Nothing to merge: their commits are on the target already.
    pub up_to_date: Vec<String>,
}

/// What `merge_all` did: the plan, and each merge made.
#[derive(Debug, Serialize)]
pub struct MergedAll {
    /// The plan it followed.
    #[serde(flatten)]
    pub plan: Plan,
    /// Each merge it made, in order.
    pub merged: Vec<Merged>,
}

/// A sandbox against the target: the files it changes, and those in conflict if it conflicts.
type Against = (BTreeSet<String>, Option<Vec<String>>);

fn git(tree: &Path, args: &[&str]) -> Result<std::process::Output> {
    crate::sys::git_output(
        crate::sandbox::git_cmd(tree)
            .args(["-c", "core.hooksPath=/dev/null"])
            .args(args),
    )
    .map_err(Error::io("git"))
}

/// The files `git merge-tree` finds in conflict merging `a` and `b`; `None` when it merges clean.
fn conflicts(tree: &Path, a: &str, b: &str) -> Result<Option<Vec<String>>> {
    let out = git(
        tree,
        &["merge-tree", "--write-tree", "--name-only", "--no-messages", a, b],
    )?;
    match out.status.code() {
        Some(0) => Ok(None),
        Some(1) => Ok(Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .skip(1)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
        )),
        _ => Err(Error::Failed {
            message: format!("git merge-tree failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
            hint: "`git merge-tree --write-tree` needs git 2.38 or later".into(),
        }),
    }
}

/// The files the commits of `branch` that `at` lacks change.
fn changed(tree: &Path, at: &str, branch: &str) -> Result<BTreeSet<String>> {
    let out = git(tree, &["diff", "--name-only", "-z", &format!("{at}...{branch}")])?;
    if !out.status.success() {
        return Err(Error::Failed {
            message: format!(
                "git diff {at}...{branch} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            hint: "`git sandbox list` shows the sandboxes and their branches".into(),
        });
    }
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

impl Sandboxes<'_> {
    /// Plans merging `records` into the branch of the main work tree, changing nothing: each is
    /// tried against the target, and those that touch a file in common against each other, with
    /// `git merge-tree`. Then, in the given order, a sandbox joins the merge when it conflicts
    /// neither with the target nor with one that joined before it; the others are held, in
    /// groups with the files they fight over.
    pub fn plan_merge(&self, records: &[Record]) -> Result<Plan> {
        let main = self.main();
        let target = crate::trailers::current_branch(&main.repo).ok_or_else(|| {
            Error::invalid(
                "the main work tree has no branch checked out (a detached HEAD)",
                "`git switch BRANCH` in the main work tree names where sandboxes merge",
            )
        })?;
        let at = main.git(&["rev-parse", "HEAD"])?.trim().to_owned();
        let mut plan = Plan {
            target,
            at: at.clone(),
            merge: Vec::new(),
            held: Vec::new(),
            groups: Vec::new(),
            conflicts_with_target: Vec::new(),
            up_to_date: Vec::new(),
        };
        // Each sandbox against the target, and what it changes.
        let tree = main.tree.as_path();
        let checked = crate::parallel::map(records, |r| -> Result<Option<Against>> {
            let branch = format!("refs/heads/{}", r.branch);
            let ahead = git(tree, &["merge-base", "--is-ancestor", &branch, &at])?;
            if ahead.status.success() {
                return Ok(None);
            }
            Ok(Some((changed(tree, &at, &branch)?, conflicts(tree, &at, &branch)?)))
        });
        let mut live: Vec<(&Record, BTreeSet<String>)> = Vec::new();
        for (r, c) in records.iter().zip(checked) {
            match c? {
                None => plan.up_to_date.push(r.name.clone()),
                Some((_, Some(files))) => plan.conflicts_with_target.push(WithTarget {
                    name: r.name.clone(),
                    files,
                }),
                Some((files, None)) => live.push((r, files)),
            }
        }
        // Pairs that touch a file in common, tried against each other.
        let pairs: Vec<(usize, usize)> = (0..live.len())
            .flat_map(|i| (i + 1..live.len()).map(move |j| (i, j)))
            .filter(|&(i, j)| !live[i].1.is_disjoint(&live[j].1))
            .collect();
        let fights = crate::parallel::map(&pairs, |&(i, j)| {
            conflicts(
                tree,
                &format!("refs/heads/{}", live[i].0.branch),
                &format!("refs/heads/{}", live[j].0.branch),
            )
        });
        let mut edges: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
        for (&(i, j), f) in pairs.iter().zip(fights) {
            if let Some(files) = f? {
                edges.insert((i, j), files);
            }
        }
        // In order: a sandbox joins unless it fights with one that joined.
        let mut joined: Vec<usize> = Vec::new();
        for (i, (r, _)) in live.iter().enumerate() {
            let fights = joined.iter().any(|&j| edges.contains_key(&(j.min(i), j.max(i))));
            if fights {
                plan.held.push(r.name.clone());
            } else {
                joined.push(i);
                plan.merge.push(r.name.clone());
            }
        }
        // The groups: connected through fights.
        let mut group_of: Vec<usize> = (0..live.len()).collect();
        fn root(g: &mut [usize], mut i: usize) -> usize {
            while g[i] != i {
                g[i] = g[g[i]];
                i = g[i];
            }
            i
        }
        for &(i, j) in edges.keys() {
            let (a, b) = (root(&mut group_of, i), root(&mut group_of, j));
            group_of[a.max(b)] = a.min(b);
        }
        let mut groups: BTreeMap<usize, (Vec<String>, BTreeSet<String>)> = BTreeMap::new();
        for ((i, j), files) in &edges {
            let g = groups.entry(root(&mut group_of, *i)).or_default();
            g.1.extend(files.iter().cloned());
            for k in [*i, *j] {
                let name = live[k].0.name.clone();
                if !g.0.contains(&name) {
                    g.0.push(name);
                }
            }
        }
        plan.groups = groups
            .into_values()
            .map(|(mut sandboxes, files)| {
                sandboxes.sort();
                Group {
                    sandboxes,
                    files: files.into_iter().collect(),
                }
            })
            .collect();
        Ok(plan)
    }

    /// Plans, then merges what the plan merges, in its order (one merge or land at a time per
    /// clone, as `merge` does). Stops at the first merge that fails, with what was merged
    /// before it kept.
    pub fn merge_all(&self, records: &[Record], rebase: bool) -> Result<MergedAll> {
        let plan = self.plan_merge(records)?;
        let mut merged = Vec::new();
        for name in &plan.merge {
            let r = records.iter().find(|r| &r.name == name).expect("planned from these");
            merged.push(self.merge(r, rebase)?);
        }
        Ok(MergedAll { plan, merged })
    }
}
