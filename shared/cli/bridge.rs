//! `git issue bridge github|gitlab pull|push`: issues and comments both ways through GitHub's
//! or GitLab's REST API (`crate::rest`). One implementation; a [`Forge`] says how each names
//! its paths and fields.
//!
//! `pull` imports what changed since the last pull (a cursor in the index: the `updated_at` of
//! the last page taken), a page at a time, through the same code as `git issue import`, so it
//! is idempotent and an interrupted pull resumes where it stopped. `push` creates issues there
//! for local ones and records each mapping as an `issue.imported` event (so every clone knows
//! it, and a pull finds the issue instead of duplicating it), updates mapped issues that differ,
//! and posts local comments the other side lacks. What push writes carries a hidden marker
//! (`<!-- grit:issue ID -->`, `<!-- grit:comment ID -->`): a pull skips comments that came from
//! this repository and strips the markers, and a push interrupted between the answer and the
//! local record finds its issue again by the marker instead of creating a second one. A marker
//! counts only on an issue the token's own user created: anyone can write one.

use std::collections::{BTreeSet, HashMap};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::transfer::{ImportReport, apply};
use super::{CommandError, Ui};
use crate::event::{Id, Kind, Origin, State};
use crate::interchange::{Incoming, IncomingComment, Skipped, github_comment, github_issue, gitlab};
use crate::rest::{Client, Dialect};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum BridgeCommand {
    /// Issues and comments with a GitHub repository, through the REST API and GITHUB_TOKEN
    #[command(subcommand)]
    Github(GithubCommand),
    /// Issues and notes with a GitLab project, through the REST API (v4) and GITLAB_TOKEN
    #[command(subcommand)]
    Gitlab(GitlabCommand),
    /// Issues and comments from Jira, through its REST search and JIRA_TOKEN
    #[command(subcommand)]
    Jira(JiraCommand),
}

#[derive(Debug, Subcommand)]
pub enum JiraCommand {
    /// Import the issues a JQL query finds, with their comments, that changed since the last pull
    Pull(JiraArgs),
}

#[derive(Debug, Args)]
pub struct JiraArgs {
    /// The site (`https://acme.atlassian.net`), or GRIT_JIRA_API
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Which issues, in JQL (`project = APP`); they are read oldest change first
    #[arg(long, value_name = "JQL")]
    pub jql: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Subcommand)]
pub enum GitlabCommand {
    /// Import the project's issues and notes that changed since the last pull
    Pull(GitlabArgs),
    /// Create GitLab issues for local ones, update those that differ, post missing notes
    Push(GitlabArgs),
}

#[derive(Debug, Args)]
pub struct GitlabArgs {
    /// The GitLab project
    #[arg(long, value_name = "GROUP/NAME")]
    pub project: String,
    /// A self-managed instance: its URL (`https://gitlab.example.com`; `/api/v4` is added) or
    /// GRIT_GITLAB_API; gitlab.com otherwise
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Also confidential issues (left out otherwise)
    #[arg(long)]
    pub include_confidential: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Subcommand)]
pub enum GithubCommand {
    /// Import the repository's issues and comments that changed since the last pull
    Pull(BridgeArgs),
    /// Create GitHub issues for local ones, update those that differ, post missing comments
    Push(BridgeArgs),
}

#[derive(Debug, Args)]
pub struct BridgeArgs {
    /// The GitHub repository
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

// What every bridge takes (a plain comment, see `PlanArgs`).
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Give up rather than wait longer than this on rate limits in all (what was done is kept;
    /// run again to resume)
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub max_wait: String,
    /// Pull: everything, not only what changed since the last pull
    #[arg(long)]
    pub full: bool,
}

/// How one forge names what the bridge needs: paths, fields and writes.
struct Forge {
    dialect: Dialect,
    /// `OWNER/NAME` or `GROUP/NAME`.
    project: String,
    include_confidential: bool,
}

impl Forge {
    fn github(repo: &str) -> Forge {
        Forge {
            dialect: Dialect::GitHub,
            project: repo.to_owned(),
            include_confidential: false,
        }
    }

    /// The project's path in a URL: GitLab takes it percent-encoded as one segment.
    fn at(&self) -> String {
        match self.dialect {
            Dialect::GitLab => format!("/projects/{}", self.project.replace('/', "%2F")),
            _ => format!("/repos/{}", self.project),
        }
    }

    /// The name of a field in this forge's issue objects: GitHub's, or GitLab's.
    fn field(&self, github: &'static str, gitlab: &'static str) -> &'static str {
        if self.dialect == Dialect::GitLab {
            gitlab
        } else {
            github
        }
    }

    fn source_prefix(&self) -> String {
        match self.dialect {
            Dialect::GitLab => format!("gitlab:{}#", self.project),
            _ => format!("github:{}#", self.project),
        }
    }

    fn cursor_key(&self, what: &str) -> String {
        match self.dialect {
            Dialect::GitLab => format!("bridge.gitlab.{}.{what}", self.project),
            _ => format!("bridge.github.{}.{what}", self.project),
        }
    }

    /// Every issue, oldest change first, changed since `since` if given.
    fn issues_path(&self, since: Option<&str>) -> String {
        let (mut path, key) = match self.dialect {
            Dialect::GitLab => (
                format!(
                    "{}/issues?scope=all&order_by=updated_at&sort=asc&per_page=100",
                    self.at()
                ),
                "updated_after",
            ),
            _ => (
                format!("{}/issues?state=all&sort=updated&direction=asc&per_page=100", self.at()),
                "since",
            ),
        };
        if let Some(s) = since {
            path.push_str(&format!("&{key}={s}"));
        }
        path
    }

    fn issue_path(&self, n: u64) -> String {
        format!("{}/issues/{n}", self.at())
    }

    fn comments_path(&self, n: u64) -> String {
        match self.dialect {
            Dialect::GitLab => format!("{}/notes", self.issue_path(n)),
            _ => format!("{}/comments", self.issue_path(n)),
        }
    }

    /// The issue's number in its project (GitHub's `number`, GitLab's `iid`).
    fn number(&self, item: &Value) -> Option<u64> {
        item.get(self.field("number", "iid")).and_then(Value::as_u64)
    }

    fn body<'a>(&self, item: &'a Value) -> &'a str {
        item.get(self.field("body", "description"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    fn author<'a>(&self, item: &'a Value) -> Option<&'a str> {
        match self.dialect {
            Dialect::GitLab => item.pointer("/author/username"),
            _ => item.pointer("/user/login"),
        }
        .and_then(Value::as_str)
    }

    fn has_comments(&self, item: &Value) -> bool {
        item.get(self.field("comments", "user_notes_count"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
            > 0
    }

    /// Why an item is not imported: GitHub lists pull requests among issues, and GitLab's
    /// confidential issues stay there unless asked for.
    fn left_out(&self, item: &Value) -> bool {
        match self.dialect {
            Dialect::GitLab => gitlab::confidential(item) && !self.include_confidential,
            _ => item.get("pull_request").is_some(),
        }
    }

    fn incoming(&self, item: &Value) -> Result<Incoming, String> {
        match self.dialect {
            Dialect::GitLab => gitlab::issue(item, Some(&self.project)),
            _ => github_issue(item),
        }
    }

    /// A comment as incoming, or None for one not to import (GitLab's system notes).
    fn comment(&self, c: &Value, source: &str, n: usize) -> Option<Result<IncomingComment, String>> {
        match self.dialect {
            Dialect::GitLab => gitlab::note(c, source, n),
            _ => Some(github_comment(c, source, n)),
        }
    }

    /// The token's own user's name there, or None without a token or an answer.
    fn own_login(&self, api: &mut Client) -> Option<String> {
        if !api.has_token() {
            return None;
        }
        let page = api.get("/user").ok()?;
        page.body
            .get(self.field("login", "username"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The labels an issue there carries, as a push compares them.
    fn labels_of(&self, item: &Value) -> BTreeSet<String> {
        item["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str().or_else(|| l["name"].as_str()).map(str::to_owned))
            .collect()
    }

    fn is_open(&self, item: &Value) -> bool {
        matches!(item["state"].as_str(), Some("open" | "opened"))
    }

    /// The fields a push sets: title, body, labels and state.
    fn want(&self, title: &str, body: &str, labels: &[String], closed: bool, reason: Option<String>) -> Value {
        match self.dialect {
            Dialect::GitLab => json!({
                "title": title,
                "description": body,
                "labels": labels.join(","),
                "state_event": if closed { "close" } else { "reopen" },
            }),
            _ => json!({
                "title": title,
                "body": body,
                "labels": labels,
                "state": if closed { "closed" } else { "open" },
                "state_reason": if closed { Some(reason.unwrap_or_else(|| "completed".into())) } else { None },
            }),
        }
    }

    fn create(&self, api: &mut Client, want: &Value) -> crate::Result<Value> {
        let mut fields = want.clone();
        if let Some(o) = fields.as_object_mut() {
            for k in ["state", "state_reason", "state_event"] {
                o.remove(k);
            }
        }
        Ok(api
            .request("POST", &format!("{}/issues", self.at()), Some(&fields))?
            .body)
    }

    fn update(&self, api: &mut Client, n: u64, want: &Value) -> crate::Result<()> {
        let method = if self.dialect == Dialect::GitLab {
            "PUT"
        } else {
            "PATCH"
        };
        api.request(method, &self.issue_path(n), Some(want))?;
        Ok(())
    }

    fn close(&self, api: &mut Client, n: u64, want: &Value) -> crate::Result<()> {
        let fields = match self.dialect {
            Dialect::GitLab => json!({ "state_event": "close" }),
            _ => json!({ "state": "closed", "state_reason": want["state_reason"] }),
        };
        self.update(api, n, &fields)
    }

    fn url_of(&self, item: &Value) -> Option<String> {
        item.get(self.field("html_url", "web_url"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

const MARK_ISSUE: &str = "<!-- grit:issue ";
const MARK_COMMENT: &str = "<!-- grit:comment ";

/// The id a marker of `kind` in `text` names.
fn marker(text: &str, kind: &str) -> Option<Id> {
    let at = text.find(kind)? + kind.len();
    let hex: String = text[at..].chars().take_while(char::is_ascii_hexdigit).collect();
    Id::from_hex(&hex)
}

/// `text` without grit's markers (and the blank line before them).
fn strip_markers(text: &str) -> String {
    let mut out = text.to_owned();
    for kind in [MARK_ISSUE, MARK_COMMENT] {
        while let Some(at) = out.find(kind) {
            let end = out[at..].find("-->").map_or(out.len(), |e| at + e + 3);
            out.replace_range(at..end, "");
        }
    }
    out.trim_end().to_owned()
}

fn with_marker(body: &str, kind: &str, id: &Id) -> String {
    let body = body.trim_end();
    if body.is_empty() {
        format!("{kind}{} -->", id.to_hex())
    } else {
        format!("{body}\n\n{kind}{} -->", id.to_hex())
    }
}

fn check_repo(repo: &str) -> Result<(), CommandError> {
    let ok = repo.split_once('/').is_some_and(|(o, n)| {
        let part = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        part(o) && part(n)
    });
    if ok {
        Ok(())
    } else {
        Err(CommandError::usage(
            format!("'{repo}' is not OWNER/NAME"),
            "name the repository as GitHub does, e.g. --repo octocat/hello-world",
        ))
    }
}

fn forge_token(f: &Forge) -> Option<String> {
    match f.dialect {
        Dialect::GitLab => std::env::var("GITLAB_TOKEN").ok().filter(|t| !t.is_empty()),
        _ => crate::rest::github_token(),
    }
}

fn client(
    ui: &Ui,
    dialect: Dialect,
    token: Option<String>,
    base: Option<String>,
    a: &CommonArgs,
) -> Result<Client, CommandError> {
    let mut c = Client::of(dialect, token, base);
    c.max_wait = crate::live::daemon::duration(&a.max_wait)?;
    let quiet = ui.quiet;
    c.on_wait = Box::new(move |why, d| {
        if !quiet {
            eprintln!("waiting {} s: {why}", d.as_secs());
        }
    });
    Ok(c)
}

/// Whether an issue there was created by `login`.
fn created_by(f: &Forge, item: &Value, login: Option<&str>) -> bool {
    login.is_some_and(|l| f.author(item) == Some(l))
}

/// GitLab's API base from `--url`: an instance's URL gets `/api/v4`.
fn gitlab_base(url: Option<&str>) -> Option<String> {
    let u = url?.trim_end_matches('/');
    Some(if u.ends_with("/api/v4") {
        u.to_owned()
    } else {
        format!("{u}/api/v4")
    })
}

fn check_project(project: &str) -> Result<(), CommandError> {
    let part = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if project.split('/').count() >= 2 && project.split('/').all(part) {
        Ok(())
    } else {
        Err(CommandError::usage(
            format!("'{project}' is not GROUP/NAME"),
            "name the project by its path, e.g. --project gitlab-org/gitlab (subgroups: a/b/c)",
        ))
    }
}

pub fn bridge(ui: &mut Ui, c: BridgeCommand) -> Result<(), CommandError> {
    let (f, base, common, pulling) = match c {
        BridgeCommand::Jira(JiraCommand::Pull(a)) => return pull_jira(ui, &a),
        BridgeCommand::Github(c) => {
            let (a, pulling) = match c {
                GithubCommand::Pull(a) => (a, true),
                GithubCommand::Push(a) => (a, false),
            };
            check_repo(&a.repo)?;
            (Forge::github(&a.repo), None, a.common, pulling)
        }
        BridgeCommand::Gitlab(c) => {
            let (a, pulling) = match c {
                GitlabCommand::Pull(a) => (a, true),
                GitlabCommand::Push(a) => (a, false),
            };
            check_project(&a.project)?;
            let f = Forge {
                dialect: Dialect::GitLab,
                project: a.project.clone(),
                include_confidential: a.include_confidential,
            };
            (f, gitlab_base(a.url.as_deref()), a.common, pulling)
        }
    };
    if pulling {
        pull(ui, &f, base, &common)
    } else {
        push(ui, &f, base, &common)
    }
}

fn pull(ui: &mut Ui, f: &Forge, base: Option<String>, a: &CommonArgs) -> Result<(), CommandError> {
    let store = super::open_store(ui)?;
    let mut api = client(ui, f.dialect, forge_token(f), base, a)?;
    let key = f.cursor_key("pulled");
    let since = if a.full { None } else { store.index.meta_string(&key)? };
    let path = f.issues_path(since.as_deref());
    let mut report = ImportReport::default();
    let mut pages = 0;
    let mut newest = since.clone();
    // Asked once, the first time a marker needs it.
    let mut own: Option<Option<String>> = None;
    api.each_page(&path, |api, items| {
        pages += 1;
        let mut incoming = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(u) = item.get("updated_at").and_then(Value::as_str)
                && newest.as_deref().is_none_or(|n| u > n)
            {
                newest = Some(u.to_owned());
            }
            if f.left_out(item) {
                if f.dialect == Dialect::GitLab {
                    report.confidential += 1;
                }
                continue;
            }
            let mut x = match f.incoming(item).and_then(crate::interchange::validate) {
                Ok(x) => x,
                Err(reason) => {
                    report.skipped.push(Skipped {
                        at: format!("page {pages}[{i}]"),
                        reason,
                    });
                    continue;
                }
            };
            x.body = strip_markers(&x.body);
            if f.has_comments(item) {
                let number = f.number(item).unwrap_or(0);
                let mut cpath = format!("{}?per_page=100", f.comments_path(number));
                // GitHub takes only the comments changed since; GitLab's notes are all read
                // (matched by their ids, those already here write nothing).
                if let Some(s) = since.as_ref().filter(|_| f.dialect == Dialect::GitHub) {
                    cpath.push_str(&format!("&since={s}"));
                }
                let mut n = 0;
                api.each_page(&cpath, |_, comments| {
                    for c in comments {
                        n += 1;
                        let body = c.get("body").and_then(Value::as_str).unwrap_or("");
                        // One of ours, posted by a push: it is already here.
                        if marker(body, MARK_COMMENT).is_some() {
                            continue;
                        }
                        match f.comment(&c, &x.source, n) {
                            Some(Ok(c)) => x.comments.push(c),
                            Some(Err(reason)) => report.skipped.push(Skipped {
                                at: format!("{} comment {n}", x.source),
                                reason,
                            }),
                            None => {}
                        }
                    }
                    Ok(true)
                })?;
            }
            // A marker is a stranger's word unless the token's own user wrote the issue.
            let marked = marker(f.body(item), MARK_ISSUE)
                .filter(|_| created_by(f, item, own.get_or_insert_with(|| f.own_login(api)).as_deref()));
            reconcile(&store, &mut x, marked)?;
            incoming.push(x);
        }
        apply(ui, &store, &incoming, &mut report)
            .map_err(|e| crate::Error::invalid(e.message.clone(), "run it again"))?;
        // Each page is kept as it lands: an interrupted pull resumes after the last one.
        if let Some(n) = &newest {
            store.index.set_meta_string(&key, n)?;
        }
        Ok(true)
    })?;
    if ui.json {
        return ui.json(&json!({
            "repo": f.project,
            "pages": pages,
            "requests": api.requests,
            "waited_ms": api.waited().as_millis() as u64,
            "cursor": newest,
            "import": report,
        }));
    }
    warn_skipped(ui, &report.skipped);
    if report.confidential > 0 {
        ui.note(format!(
            "note: {} confidential issue(s) left out; --include-confidential pulls them",
            report.confidential
        ));
    }
    ui.say(format!(
        "pulled {} issue(s) from {}: {} new, {} changed, {} unchanged; {} event(s)",
        report.issues, f.project, report.created, report.updated, report.unchanged, report.events
    ))
}

/// The most pages of a Jira search one pull reads (100 issues each).
const JIRA_MAX_PAGES: usize = 10_000;

/// `bridge jira pull`: the search's pages (`startAt`, 100 at a time, oldest change first), each
/// imported as it lands; an issue's comments past those the search carries are read from its
/// comment list. The cursor is the day before the newest change taken (JQL compares dates in
/// the account's time zone, so a day's margin is read again, and writes nothing).
fn pull_jira(ui: &mut Ui, a: &JiraArgs) -> Result<(), CommandError> {
    if a.jql.to_ascii_lowercase().contains("order by") {
        return Err(CommandError::usage(
            "the JQL has an ORDER BY",
            "leave the order out: a pull reads oldest change first, to resume where it stopped",
        ));
    }
    let mapping = super::transfer::jira_mapping()?;
    let token = std::env::var("JIRA_TOKEN").ok().filter(|t| !t.is_empty());
    let mut api = client(ui, Dialect::Jira, token, a.url.clone(), &a.common)?;
    if api.base.is_empty() {
        return Err(CommandError::usage(
            "which Jira?",
            "name the site with --url https://SITE.atlassian.net, or GRIT_JIRA_API",
        ));
    }
    let store = super::open_store(ui)?;
    let key = format!("bridge.jira.{}.{}.pulled", api.base, a.jql);
    let since = if a.common.full {
        None
    } else {
        store.index.meta_string(&key)?
    };
    let jql = match &since {
        Some(day) => format!("({}) AND updated >= \"{day}\" ORDER BY updated ASC", a.jql),
        None => format!("({}) ORDER BY updated ASC", a.jql),
    };
    let mut report = ImportReport::default();
    let (mut start, mut pages) = (0usize, 0usize);
    let mut newest: Option<u64> = None;
    loop {
        if pages >= JIRA_MAX_PAGES {
            return Err(CommandError::failure(format!(
                "Jira's search goes past {JIRA_MAX_PAGES} pages; stopped (what was read is kept)"
            )));
        }
        let page = api
            .get(&format!(
                "/rest/api/3/search?jql={}&startAt={start}&maxResults=100&fields=*all",
                crate::rest::encode(&jql)
            ))?
            .body;
        pages += 1;
        let Some(items) = page.get("issues").and_then(Value::as_array) else {
            return Err(CommandError::failure("Jira's search answered without an issues list"));
        };
        if items.is_empty() {
            break;
        }
        let mut incoming = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let mut item = item.clone();
            let issue_key = item["key"].as_str().unwrap_or("").to_owned();
            let changed = item
                .pointer("/fields/updated")
                .or_else(|| item.pointer("/fields/created"));
            if let Some(u) = crate::interchange::jira::jira_time(changed) {
                newest = newest.max(Some(u));
            }
            // The search carries the first comments; the rest are read from the issue.
            let (have, total) = (
                item.pointer("/fields/comment/comments")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len),
                item.pointer("/fields/comment/total")
                    .and_then(Value::as_u64)
                    .unwrap_or(0) as usize,
            );
            if total > have && !issue_key.is_empty() {
                let mut more = Vec::new();
                let mut at = have;
                while at < total && more.len() < 100_000 {
                    let p = api
                        .get(&format!(
                            "/rest/api/3/issue/{}/comment?startAt={at}&maxResults=100",
                            crate::rest::encode(&issue_key)
                        ))?
                        .body;
                    let list = p.get("comments").and_then(Value::as_array).cloned().unwrap_or_default();
                    if list.is_empty() {
                        break;
                    }
                    at += list.len();
                    more.extend(list);
                }
                if let Some(Value::Array(cs)) = item.pointer_mut("/fields/comment/comments") {
                    cs.extend(more);
                }
            }
            match crate::interchange::jira::issue(&item, &mapping).and_then(crate::interchange::validate) {
                Ok(x) => incoming.push(x),
                Err(reason) => report.skipped.push(Skipped {
                    at: format!("page {pages}[{i}]"),
                    reason,
                }),
            }
        }
        apply(ui, &store, &incoming, &mut report)?;
        if let Some(n) = newest {
            let day = crate::repo::format_time(n.saturating_sub(86_400_000));
            store.index.set_meta_string(&key, &day[..10])?;
        }
        start += items.len();
        if page
            .get("total")
            .and_then(Value::as_u64)
            .is_some_and(|t| start as u64 >= t)
        {
            break;
        }
    }
    if ui.json {
        return ui.json(&json!({
            "site": api.base,
            "pages": pages,
            "requests": api.requests,
            "waited_ms": api.waited().as_millis() as u64,
            "import": report,
        }));
    }
    warn_skipped(ui, &report.skipped);
    ui.say(format!(
        "pulled {} issue(s) from Jira: {} new, {} changed, {} unchanged; {} event(s)",
        report.issues, report.created, report.updated, report.unchanged, report.events
    ))
}

/// Names each record a pull skipped, and why.
fn warn_skipped(ui: &Ui, skipped: &[Skipped]) {
    for s in skipped {
        ui.note(format!(
            "warning: skipped {}: {}",
            super::term::esc(&s.at),
            super::term::esc(&s.reason)
        ));
    }
}

/// Makes an incoming issue agree with what is local where the bridge, not GitHub, is right: a
/// local issue that push created (named by its marker) is that issue, local assignees stay
/// (GitHub's are added), and the origin push recorded stays.
fn reconcile(store: &Store, x: &mut Incoming, marked: Option<Id>) -> crate::Result<()> {
    let existing = match store.index.by_source(&x.source)? {
        Some(id) => Some(id),
        // Pushed, but the push stopped before recording the mapping: record it now.
        None => match marked.and_then(|id| store.index.issue(&id).ok().flatten()) {
            Some(s) if s.origin.is_none() => {
                let id = Id(s.id);
                store.write(
                    Some(id),
                    vec![Kind::Imported {
                        origin: Origin {
                            source: x.source.clone(),
                            url: x.url.clone(),
                            author: x.author.clone(),
                            author_email: None,
                            author_id: None,
                            created_ms: x.created_ms,
                        },
                    }],
                )?;
                Some(id)
            }
            _ => None,
        },
    };
    let Some(id) = existing else { return Ok(()) };
    let Some(cur) = store.index.issue(&id)? else {
        return Ok(());
    };
    let mut assignees: BTreeSet<String> = x.assignees.iter().cloned().collect();
    assignees.extend(cur.assignees());
    x.assignees = assignees.into_iter().collect();
    if let Some(o) = cur.origin.as_ref().map(|o| &o.value)
        && o.source == x.source
    {
        x.url = o.url.clone();
        x.author = o.author.clone();
        x.author_email = o.author_email.clone();
        x.author_id = o.author_id.clone();
        x.created_ms = o.created_ms;
    }
    Ok(())
}

#[derive(Default, serde::Serialize)]
struct PushReport {
    created: usize,
    updated: usize,
    unchanged: usize,
    comments: usize,
    /// Issues imported from elsewhere (beads, another repository), left alone.
    foreign: usize,
    recovered: usize,
}

fn push(ui: &mut Ui, f: &Forge, base: Option<String>, a: &CommonArgs) -> Result<(), CommandError> {
    if forge_token(f).is_none() {
        return Err(CommandError::usage(
            format!("pushing to {} needs a token", f.dialect.name()),
            match f.dialect {
                Dialect::GitLab => "set GITLAB_TOKEN (a token with the api scope on the project)",
                _ => "set GITHUB_TOKEN (a fine-grained token with Issues: read and write on the repository)",
            },
        ));
    }
    let store = super::open_store(ui)?;
    let mut api = client(ui, f.dialect, forge_token(f), base, a)?;
    let started = crate::repo::now_ms();
    let key = f.cursor_key("pushed");
    let pushed_ms: u64 = store.index.meta_string(&key)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    let prefix = f.source_prefix();
    let mut report = PushReport::default();
    // Issues a push created but could not record (it stopped in between): found by marker.
    let mut marked: HashMap<Id, Value> = HashMap::new();
    let mut own: Option<Option<String>> = None;
    let path = f.issues_path((pushed_ms > 0).then(|| crate::repo::format_time(pushed_ms)).as_deref());
    api.each_page(&path, |api, items| {
        for item in items {
            if let Some(id) = marker(f.body(&item), MARK_ISSUE)
                && created_by(f, &item, own.get_or_insert_with(|| f.own_login(api)).as_deref())
            {
                marked.insert(id, item);
            }
        }
        Ok(true)
    })?;
    let mut ids = Vec::new();
    store.index.for_each_row(&Default::default(), |row| {
        ids.push(row.id);
        Ok(())
    })?;
    for id in ids {
        let Some(s) = store.index.issue(&id)? else { continue };
        let origin = s.origin.as_ref().map(|o| o.value.clone());
        let number = match &origin {
            Some(o) if o.source.starts_with(&prefix) => o.source[prefix.len()..].parse::<u64>().ok(),
            Some(_) => {
                report.foreign += 1;
                continue;
            }
            None => None,
        };
        let title = s.title.as_ref().map(|t| t.value.clone()).unwrap_or_default();
        let body = with_marker(s.body.as_ref().map_or("", |b| b.value.as_str()), MARK_ISSUE, &id);
        // A milestone is the forge's to set: its label is not pushed as a label.
        let labels: Vec<String> = s
            .labels()
            .into_iter()
            .filter(|l| f.dialect != Dialect::GitLab || !l.starts_with(gitlab::MILESTONE))
            .collect();
        let (state, reason) = s
            .state_reg()
            .map_or((State::Open, None), |r| (r.value.state, r.value.reason));
        let want = f.want(&title, &body, &labels, state == State::Closed, reason);
        let (number, fresh) = match number {
            Some(n) => (n, false),
            None => {
                let gh = match marked.remove(&id) {
                    Some(item) => {
                        report.recovered += 1;
                        item
                    }
                    None => {
                        let created = f.create(&mut api, &want)?;
                        report.created += 1;
                        created
                    }
                };
                let n = f.number(&gh).ok_or_else(|| {
                    CommandError::failure(format!(
                        "{}'s answer for {} has no issue number",
                        f.dialect.name(),
                        id.to_hex()
                    ))
                })?;
                store.write(
                    Some(id),
                    vec![Kind::Imported {
                        origin: Origin {
                            source: format!("{prefix}{n}"),
                            url: f.url_of(&gh),
                            author: f.author(&gh).unwrap_or("ghost").to_owned(),
                            author_email: None,
                            author_id: None,
                            created_ms: s.created_ms().unwrap_or(0),
                        },
                    }],
                )?;
                if state == State::Closed {
                    f.close(&mut api, n, &want)?;
                }
                (n, true)
            }
        };
        // Changed at or after the last push began (the same millisecond included) is checked.
        if !fresh && s.updated_ms < pushed_ms {
            report.unchanged += 1;
            continue;
        }
        if !fresh {
            // Only what differs: a pull's own changes would otherwise come back as updates.
            let gh = api.get(&f.issue_path(number))?.body;
            let same = gh["title"] == want["title"]
                && strip_markers(f.body(&gh)) == strip_markers(&body)
                && f.is_open(&gh) == (state == State::Open)
                && f.labels_of(&gh) == labels.iter().cloned().collect::<BTreeSet<_>>();
            if same {
                report.unchanged += 1;
            } else {
                f.update(&mut api, number, &want)?;
                report.updated += 1;
            }
        }
        // Local comments (not imported ones) that GitHub lacks, by marker.
        let local: Vec<&crate::issue::Comment> = s.comments.iter().filter(|c| c.origin.is_none()).collect();
        if local.is_empty() {
            continue;
        }
        let mut there = BTreeSet::new();
        if !fresh {
            api.each_page(&format!("{}?per_page=100", f.comments_path(number)), |_, cs| {
                for c in cs {
                    if let Some(id) = marker(c["body"].as_str().unwrap_or(""), MARK_COMMENT) {
                        there.insert(id);
                    }
                }
                Ok(true)
            })?;
        }
        for c in local {
            let cid = Id(c.stamp.id);
            if there.contains(&cid) {
                continue;
            }
            api.request(
                "POST",
                &f.comments_path(number),
                Some(&json!({ "body": with_marker(&c.body, MARK_COMMENT, &cid) })),
            )?;
            report.comments += 1;
        }
    }
    store.index.set_meta_string(&key, &started.to_string())?;
    if ui.json {
        return ui.json(&json!({ "repo": f.project, "requests": api.requests, "push": report }));
    }
    if report.foreign > 0 {
        ui.note(format!(
            "note: {} issue(s) imported from elsewhere were left alone",
            report.foreign
        ));
    }
    ui.say(format!(
        "pushed to {}: {} created, {} updated, {} unchanged, {} comment(s)",
        f.project,
        report.created + report.recovered,
        report.updated,
        report.unchanged,
        report.comments
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_strip() {
        let id = Id([7; 32]);
        let b = with_marker("Body text\n", MARK_ISSUE, &id);
        assert_eq!(marker(&b, MARK_ISSUE), Some(id));
        assert_eq!(marker(&b, MARK_COMMENT), None);
        assert_eq!(strip_markers(&b), "Body text");
        assert_eq!(strip_markers(&with_marker("", MARK_COMMENT, &id)), "");
    }
}
