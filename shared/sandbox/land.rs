//! Landing a sandbox: its commits onto the target branch of the main work tree, pushed, under a
//! lock per clone so that agents sharing one checkout take turns. A push that loses a race is
//! fetched, integrated and tried again with backoff; only a real content conflict stops it, with
//! the sandbox intact. The commits' `Fixes:` trailers are applied once the push has landed.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Main, Record, git_cmd};
use crate::error::{Error, Result};

/// How the sandbox's commits go onto the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// A merge commit (a fast-forward when the target has not moved).
    Merge,
    /// The sandbox's branch rebased onto the target, then fast-forwarded: a straight history.
    Rebase,
}

impl Strategy {
    /// `sandbox.landStrategy` (`merge` or `rebase`), else merge.
    pub fn configured(main: &Main) -> Strategy {
        match main.repo.config_string("sandbox.landStrategy").as_deref() {
            Some("rebase") => Strategy::Rebase,
            _ => Strategy::Merge,
        }
    }
}

/// What to land, and where.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LandOptions {
    /// Merge or rebase (`sandbox.landStrategy`).
    pub strategy: Strategy,
    /// The remote to push to; `None`: the target's upstream remote, else `origin` if it exists,
    /// else no push (the land is local).
    pub remote: Option<String>,
    /// How long to keep retrying a push that loses races.
    pub deadline: Duration,
}

impl LandOptions {
    /// The options `sandbox.landStrategy` and the defaults give.
    pub fn new(main: &Main) -> LandOptions {
        LandOptions {
            strategy: Strategy::configured(main),
            remote: None,
            deadline: Duration::from_secs(300),
        }
    }
}

/// What a land did.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct Landed {
    /// The sandbox's name.
    pub name: String,
    /// Its branch.
    pub branch: String,
    /// The branch landed onto.
    pub target: String,
    /// The remote pushed to, if any.
    pub remote: Option<String>,
    /// How it landed.
    pub strategy: Strategy,
    /// The target before and after.
    pub before: String,
    /// The target's commit after.
    pub after: String,
    /// The sandbox's commits were on the target already: nothing to land.
    pub already: bool,
    /// Whether the target was pushed.
    pub pushed: bool,
    /// Pushes that lost a race and were tried again.
    pub retries: u32,
    /// Issues the landed commits' `Fixes:`/`Closes:` trailers closed, and `Refs:` referenced.
    pub closed: Vec<String>,
    /// Issues the landed commits' `Refs:` trailers referenced.
    pub referenced: Vec<String>,
    /// What the trailers could not do (an id that names no issue, say).
    pub warnings: Vec<String>,
}

/// This clone's landing lock: one land (or sandbox merge) at a time in the shared checkout.
pub struct LandLock(#[allow(dead_code)] std::fs::File);

/// Waits for and takes the landing lock of the clone `main` belongs to.
pub fn lock(main: &Main) -> Result<LandLock> {
    crate::sys::lock_file(&main.repo.git.common_dir().join("grit").join("land.lock")).map(LandLock)
}

fn git(main: &Main, args: &[&str]) -> Result<std::process::Output> {
    crate::sys::git_output(git_cmd(&main.tree).args(args)).map_err(Error::io("git"))
}

fn git_ok(main: &Main, args: &[&str]) -> Result<String> {
    let out = git(main, args)?;
    if !out.status.success() {
        return Err(Error::Subprocess {
            command: format!("git {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn rev(main: &Main, what: &str) -> Option<String> {
    git_ok(main, &["rev-parse", "--verify", "--quiet", what])
        .ok()
        .filter(|s| !s.is_empty())
}

fn is_ancestor(main: &Main, a: &str, b: &str) -> Result<bool> {
    Ok(git(main, &["merge-base", "--is-ancestor", a, b])?.status.success())
}

/// The files a failed merge left in conflict.
fn conflicted(main: &Main) -> Vec<String> {
    git_ok(main, &["diff", "--name-only", "--diff-filter=U"])
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn conflict(r: &Record, onto: &str, files: Vec<String>) -> Error {
    let what = if files.is_empty() {
        String::new()
    } else {
        format!(" ({})", files.join(", "))
    };
    Error::Conflict {
        message: format!(
            "sandbox {} conflicts with {onto}{what}; nothing was landed, and the sandbox is intact",
            r.name
        ),
        hint: format!(
            "`git sandbox merge {}` merges it into the current branch to resolve by hand, or resolve it in the sandbox \
             (`git sandbox open {}`, `git merge {onto}`) and land again",
            r.name, r.name
        ),
        files,
    }
}

/// Merges `what` into the checked-out branch of the main tree; on a conflict, undoes it and
/// returns the files.
fn merge_in(main: &Main, what: &str, message: &str) -> Result<std::result::Result<(), Vec<String>>> {
    let out = git(main, &["merge", "--no-edit", "-q", "-m", message, what])?;
    if out.status.success() {
        return Ok(Ok(()));
    }
    let files = conflicted(main);
    let _ = git(main, &["merge", "--abort"]);
    if files.is_empty() {
        // Not a content conflict: local changes or untracked files in the way, say.
        return Err(Error::Failed {
            message: format!(
                "git merge {what} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            hint: "the main work tree must be clean to land in it: commit or stash its changes (`git stash`)".into(),
        });
    }
    Ok(Err(files))
}

/// The remote to push to: `opts.remote`, else the target's upstream, else `origin`.
fn remote_for(main: &Main, target: &str, opts: &LandOptions) -> Option<String> {
    if let Some(r) = &opts.remote {
        return Some(r.clone());
    }
    if let Some(r) = main
        .repo
        .config_string(&format!("branch.{target}.remote"))
        .filter(|r| !r.is_empty() && r != ".")
    {
        return Some(r);
    }
    crate::sync::remote_names(&main.repo)
        .into_iter()
        .find(|n| n == "origin")
}

/// Lands sandbox `r` onto the branch checked out in the main work tree, and pushes it.
pub fn land(main: &Main, r: &Record, opts: &LandOptions) -> Result<Landed> {
    if super::dirty(r)? {
        return Err(Error::invalid(
            format!("sandbox {} has uncommitted changes", r.name),
            format!("`git sandbox commit {} -m MSG` first; nothing was landed", r.name),
        ));
    }
    let mut turn = lock(main)?;
    let target = crate::trailers::current_branch(&main.repo).ok_or_else(|| {
        Error::invalid(
            "the main work tree has no branch checked out (a detached HEAD)",
            "`git switch BRANCH` in the main work tree names where sandboxes land",
        )
    })?;
    let tip = rev(main, &format!("refs/heads/{}", r.branch)).ok_or_else(|| Error::NotFound {
        what: "sandbox branch",
        query: r.branch.clone(),
    })?;
    let remote = remote_for(main, &target, opts);
    let before = rev(main, "HEAD").unwrap_or_default();
    let mut out = Landed {
        name: r.name.clone(),
        branch: r.branch.clone(),
        target: target.clone(),
        remote: remote.clone(),
        strategy: opts.strategy,
        before: before.clone(),
        after: before.clone(),
        already: false,
        pushed: false,
        retries: 0,
        closed: Vec::new(),
        referenced: Vec::new(),
        warnings: Vec::new(),
    };
    let started = Instant::now();
    let upstream = remote.as_ref().map(|rm| format!("refs/remotes/{rm}/{target}"));
    // The target just before the sandbox's commits went on, in the round that landed.
    let mut pre;
    loop {
        // 1. The remote's target, merged in (a fast-forward unless this clone has commits of
        //    its own there).
        if let (Some(rm), Some(up)) = (&remote, &upstream) {
            let spec = format!("+refs/heads/{target}:{up}");
            let f = {
                let _t = crate::sync::tracking_lock(&main.repo, rm)?;
                git(main, &["fetch", "--quiet", "--no-tags", rm, &spec])?
            };
            if !f.status.success() {
                let stderr = String::from_utf8_lossy(&f.stderr);
                // A remote without the branch yet: the first push makes it.
                if !stderr.contains("couldn't find remote ref") {
                    return Err(Error::Subprocess {
                        command: format!("git fetch {rm} {target}"),
                        stderr: stderr.trim().to_owned(),
                    });
                }
            }
            if let Some(theirs) = rev(main, up)
                && !is_ancestor(main, &theirs, "HEAD")?
                && let Err(files) = merge_in(main, &theirs, &format!("Merge {rm}/{target}"))?
            {
                return Err(Error::Conflict {
                    message: format!(
                        "{target} here and on {rm} conflict ({}); nothing was landed, and the sandbox is intact",
                        files.join(", ")
                    ),
                    hint: format!("`git pull {rm} {target}` and resolve it, then land again"),
                    files,
                });
            }
        }
        pre = rev(main, "HEAD").unwrap_or_default();
        // 2. The sandbox's commits, onto it.
        if is_ancestor(main, &tip, &pre)? {
            out.already = true;
        } else {
            match opts.strategy {
                Strategy::Merge => {
                    if let Err(files) = merge_in(main, &tip, &format!("Merge sandbox {} ({})", r.name, r.branch))? {
                        return Err(conflict(r, &target, files));
                    }
                }
                Strategy::Rebase => {
                    // A rebase of a detached copy of the sandbox's commits, in the main tree's
                    // repository, leaves the sandbox's own branch untouched until it worked.
                    let base = git_ok(main, &["merge-base", &pre, &tip])?;
                    let onto = rebase_commits(main, &base, &tip, &pre).map_err(|files| conflict(r, &target, files))?;
                    let ff = git(main, &["merge", "--ff-only", "-q", &onto])?;
                    if !ff.status.success() {
                        return Err(Error::Subprocess {
                            command: format!("git merge --ff-only {onto}"),
                            stderr: String::from_utf8_lossy(&ff.stderr).trim().to_owned(),
                        });
                    }
                }
            }
        }
        let now = rev(main, "HEAD").unwrap_or_default();
        out.after = now.clone();
        // 3. Pushed; a lost race goes round again.
        let Some(rm) = &remote else { break };
        let pushed = {
            let _t = crate::sync::tracking_lock(&main.repo, rm)?;
            git(
                main,
                &[
                    "push",
                    "--quiet",
                    "--porcelain",
                    rm,
                    &format!("HEAD:refs/heads/{target}"),
                ],
            )?
        };
        if pushed.status.success() {
            out.pushed = true;
            break;
        }
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&pushed.stdout),
            String::from_utf8_lossy(&pushed.stderr)
        );
        let lost = [
            "non-fast-forward",
            "fetch first",
            "rejected",
            "cannot lock ref",
            "failed to update ref",
        ]
        .iter()
        .any(|m| text.contains(m));
        if !lost || started.elapsed() > opts.deadline {
            // Back to where the target was before this round's own commits, so nothing of the
            // sandbox sits unpushed on it.
            if now != pre {
                let _ = git(main, &["reset", "-q", "--keep", &pre]);
            }
            return Err(Error::Subprocess {
                command: format!("git push {rm} {target}"),
                stderr: text.trim().to_owned(),
            });
        }
        if now != pre {
            let _ = git(main, &["reset", "-q", "--keep", &pre]);
        }
        out.retries += 1;
        // A push lost to another clone goes round again at once: the fetch and merge space the
        // tries. Only a land that keeps losing backs off, and it lets the other agents of this
        // clone land meanwhile (each round starts from the remote's target again).
        if out.retries > 1 {
            drop(turn);
            std::thread::sleep(backoff(out.retries - 1));
            turn = lock(main)?;
        }
    }
    // The checkout is the target's now: the next land may go while this one applies trailers.
    drop(turn);
    // The sandbox follows its rebased commits, so that it counts as landed.
    if opts.strategy == Strategy::Rebase && !out.already {
        let _ = git_cmd(&r.path).args(["reset", "-q", "--keep", &out.after]).output();
    }
    // 4. The landed commits' trailers, once: through the library, as the hooks would.
    if !out.already {
        let range = format!("{pre}..{}", out.after);
        let commits = crate::trailers::in_range(&main.repo, if pre.is_empty() { &out.after } else { &range })?;
        if !commits.is_empty() && crate::trailers::close_branch(&main.repo).is_some_and(|b| b == target) {
            let store = crate::store::Store::open(&main.tree)?;
            let applied = crate::trailers::apply(&store, &commits)?;
            out.closed = applied.closed.into_iter().map(|(i, _)| i).collect();
            out.referenced = applied.referenced.into_iter().map(|(i, _)| i).collect();
            out.warnings = applied.warnings;
        }
        super::note(
            main,
            "landed",
            r,
            serde_json::json!({ "before": out.before, "after": out.after, "target": target, "pushed": out.pushed }),
        );
    }
    Ok(out)
}

/// Cherry-picks the commits `base..tip` onto `onto` without touching any work tree
/// (`git merge-tree` and `git commit-tree`, each commit's author and message kept); returns the
/// new tip, or the files of the first conflict.
fn rebase_commits(main: &Main, base: &str, tip: &str, onto: &str) -> std::result::Result<String, Vec<String>> {
    let list = git_ok(
        main,
        &[
            "rev-list",
            "--reverse",
            "--topo-order",
            "--no-merges",
            &format!("{base}..{tip}"),
        ],
    )
    .map_err(|_| Vec::new())?;
    let mut head = onto.to_owned();
    for c in list.lines() {
        let parent = format!("{c}^");
        let out = git(
            main,
            &[
                "merge-tree",
                "--write-tree",
                "--messages",
                "--name-only",
                "--merge-base",
                &parent,
                &head,
                c,
            ],
        )
        .map_err(|_| Vec::new())?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = stdout.lines();
        let tree = lines.next().unwrap_or_default().to_owned();
        if !out.status.success() {
            let files: Vec<String> = lines.take_while(|l| !l.is_empty()).map(str::to_owned).collect();
            return Err(files);
        }
        let meta = git_ok(main, &["log", "-1", "--format=%an%x00%ae%x00%aI%x00%B", c]).map_err(|_| Vec::new())?;
        let mut f = meta.splitn(4, '\0');
        let (an, ae, ad, msg) = (
            f.next().unwrap_or_default(),
            f.next().unwrap_or_default(),
            f.next().unwrap_or_default(),
            f.next().unwrap_or_default(),
        );
        let made = git_cmd(&main.tree)
            .args(["commit-tree", &tree, "-p", &head, "-m", msg])
            .env("GIT_AUTHOR_NAME", an)
            .env("GIT_AUTHOR_EMAIL", ae)
            .env("GIT_AUTHOR_DATE", ad)
            .output()
            .map_err(|_| Vec::new())?;
        if !made.status.success() {
            return Err(Vec::new());
        }
        head = String::from_utf8_lossy(&made.stdout).trim().to_owned();
    }
    Ok(head)
}

/// The wait before retry `n`: doubling from 20 ms to about 1 s, with jitter so that agents that
/// lost the same race do not meet again.
fn backoff(n: u32) -> Duration {
    let base = 20u64 << n.min(6);
    let mut seed = [0u8; 8];
    let _ = getrandom::getrandom(&mut seed);
    let jitter = u64::from_le_bytes(seed) % base.max(1);
    Duration::from_millis(base / 2 + jitter)
}

/// Where a sandbox's work goes up for review instead of landing: the remote, the GitHub
/// repository, and whether the pull request is a draft.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ProposeOptions {
    /// The remote to push the branch to (as a land chooses it when `None`).
    pub remote: Option<String>,
    /// `OWNER/NAME` on GitHub; `None`: `grit.github.repo`, else read from the remote's URL.
    pub repo: Option<String>,
    /// Open it as a draft.
    pub draft: bool,
}

/// What `propose` did: the branch pushed, and the pull request opened (or found open).
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct Proposed {
    /// The sandbox's name.
    pub name: String,
    /// Its branch.
    pub branch: String,
    /// The remote the branch was pushed to.
    pub remote: String,
    /// The branch the pull request asks to merge into (the main work tree's).
    pub base: String,
    /// The GitHub repository, `OWNER/NAME`.
    pub repo: String,
    /// The pull request's number.
    pub number: u64,
    /// Its page.
    pub url: String,
    /// Its title.
    pub title: String,
    /// A new pull request; false when one was already open for the branch (the push updated it).
    pub created: bool,
    /// The `Fixes:`/`Closes:`/`Refs:` trailers of the commits, carried into the description.
    pub trailers: Vec<String>,
}

/// `OWNER/NAME` of a GitHub remote URL (`git@github.com:o/n.git`, `https://github.com/o/n`,
/// `ssh://git@github.com/o/n.git`), or `None` for another host.
pub fn github_repo_of(url: &str) -> Option<String> {
    let rest = [
        "git@github.com:",
        "https://github.com/",
        "http://github.com/",
        "ssh://git@github.com/",
        "git://github.com/",
    ]
    .iter()
    .find_map(|p| url.strip_prefix(p))?;
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let (owner, name) = rest.split_once('/')?;
    let part = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    (part(owner) && part(name)).then(|| format!("{owner}/{name}"))
}

/// Pushes sandbox `r`'s branch to the remote under its own name and opens a pull request for
/// it on GitHub against the branch of the main work tree (or finds the one already open, which
/// the push updated). Its title is the sandbox's issue's title, else its first commit's subject;
/// its description lists the commits and carries their `Fixes:` trailers, so the issues close
/// when it merges, not before. Nothing lands, and the sandbox and its locks stay.
pub fn propose(main: &Main, r: &Record, opts: &ProposeOptions, api: &mut crate::rest::Client) -> Result<Proposed> {
    if super::dirty(r)? {
        return Err(Error::invalid(
            format!("sandbox {} has uncommitted changes", r.name),
            format!(
                "`git sandbox commit {} -m MSG` first, or pass -m; nothing was pushed",
                r.name
            ),
        ));
    }
    let base = crate::trailers::current_branch(&main.repo).ok_or_else(|| {
        Error::invalid(
            "the main work tree has no branch checked out (a detached HEAD)",
            "`git switch BRANCH` in the main work tree names the branch the pull request targets",
        )
    })?;
    let land = LandOptions {
        remote: opts.remote.clone(),
        ..LandOptions::new(main)
    };
    let remote = remote_for(main, &base, &land).ok_or_else(|| {
        Error::invalid(
            "there is no remote to push the sandbox's branch to",
            "`git remote add origin URL`, or name one with --remote",
        )
    })?;
    let repo = match opts.repo.clone().or_else(|| main.repo.config_string("grit.github.repo")) {
        Some(r) => r,
        None => main
            .repo
            .config_string(&format!("remote.{remote}.url"))
            .as_deref()
            .and_then(github_repo_of)
            .ok_or_else(|| {
                Error::invalid(
                    format!("the remote '{remote}' is not on GitHub, so the repository to open the pull request in is unknown"),
                    "name it with --repo OWNER/NAME, or `git config grit.github.repo OWNER/NAME`",
                )
            })?,
    };
    // The commits the pull request brings: those of the branch the base lacks.
    let range = format!("{base}..refs/heads/{}", r.branch);
    let log = git_ok(
        main,
        &["log", "--reverse", "--format=%s%x1f%(trailers:only,unfold)%x1e", &range],
    )?;
    let mut subjects = Vec::new();
    let mut trailers = Vec::new();
    for entry in log.split('\x1e').map(str::trim).filter(|e| !e.is_empty()) {
        let (subject, rest) = entry.split_once('\x1f').unwrap_or((entry, ""));
        subjects.push(subject.to_owned());
        for t in rest.lines().map(str::trim) {
            let key = t.split(':').next().unwrap_or_default().to_ascii_lowercase();
            if ["fixes", "closes", "refs"].contains(&key.as_str()) && !trailers.iter().any(|x| x == t) {
                trailers.push(t.to_owned());
            }
        }
    }
    if subjects.is_empty() {
        return Err(Error::invalid(
            format!(
                "sandbox {} has no commits that {base} lacks; nothing was pushed",
                r.name
            ),
            format!("commit in the sandbox first (`git sandbox commit {} -m MSG`)", r.name),
        ));
    }
    let push = git(
        main,
        &[
            "push",
            "--quiet",
            &remote,
            &format!("refs/heads/{b}:refs/heads/{b}", b = r.branch),
        ],
    )?;
    if !push.status.success() {
        return Err(Error::Remote {
            message: format!(
                "could not push {} to {remote}: {}",
                r.branch,
                String::from_utf8_lossy(&push.stderr).trim()
            ),
            hint: "if the remote's branch has commits the sandbox lacks (a reviewer's), bring them in with \
                   `git sandbox sync` or a merge in the sandbox, and try again"
                .into(),
        });
    }
    let issue_title = r.issue.as_deref().and_then(|id| {
        let store = crate::store::Store::open(&main.tree).ok()?;
        let id = store.index.resolve(id).ok()?;
        store.index.issue(&id).ok()??.title.map(|t| t.value)
    });
    let title = issue_title.unwrap_or_else(|| subjects[0].clone());
    let mut body = String::from("Commits:\n\n");
    for s in &subjects {
        body.push_str(&format!("- {s}\n"));
    }
    if !trailers.is_empty() {
        body.push('\n');
        for t in &trailers {
            body.push_str(t);
            body.push('\n');
        }
    }
    body.push_str(&format!(
        "\nFrom sandbox `{}` (`git sandbox land {} --pr`).\n",
        r.name, r.name
    ));
    let owner = repo.split('/').next().unwrap_or_default();
    let open = api.request(
        "GET",
        &format!("/repos/{repo}/pulls?state=open&head={owner}:{}", r.branch),
        None,
    )?;
    let (pr, created) = match open.body.as_array().and_then(|a| a.first()).cloned() {
        Some(pr) => (pr, false),
        None => {
            let input = serde_json::json!({
                "title": title, "head": r.branch, "base": base, "body": body, "draft": opts.draft,
            });
            (
                api.request("POST", &format!("/repos/{repo}/pulls"), Some(&input))?.body,
                true,
            )
        }
    };
    Ok(Proposed {
        name: r.name.clone(),
        branch: r.branch.clone(),
        remote,
        base,
        repo,
        number: pr["number"].as_u64().unwrap_or(0),
        url: pr["html_url"].as_str().unwrap_or_default().to_owned(),
        title: pr["title"].as_str().map_or(title, str::to_owned),
        created,
        trailers,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn github_repositories_are_read_from_their_remote_urls() {
        for url in [
            "git@github.com:acme/widgets.git",
            "https://github.com/acme/widgets",
            "https://github.com/acme/widgets.git/",
            "ssh://git@github.com/acme/widgets.git",
        ] {
            assert_eq!(super::github_repo_of(url).as_deref(), Some("acme/widgets"), "{url}");
        }
        for url in [
            "/srv/git/widgets.git",
            "https://gitlab.com/acme/widgets",
            "https://notgithub.com/acme/widgets",
            "git@github.com:acme",
        ] {
            assert_eq!(super::github_repo_of(url), None, "{url}");
        }
    }
}
