//! `git issue bridge github pull|push --repo OWNER/NAME`: issues and comments both ways through
//! GitHub's REST API (`crate::github`).
//!
//! `pull` imports what changed since the last pull (a cursor in the index: GitHub's `updated_at`
//! of the last page taken), a page at a time, through the same code as `git issue import`, so it
//! is idempotent and an interrupted pull resumes where it stopped. `push` creates GitHub issues
//! for local ones and records each mapping as an `issue.imported` event (so every clone knows
//! it, and a pull finds the issue instead of duplicating it), updates mapped issues that differ,
//! and posts local comments GitHub lacks. What push writes to GitHub carries a hidden marker
//! (`<!-- grit:issue ID -->`, `<!-- grit:comment ID -->`): a pull skips comments that came from
//! this repository and strips the markers, and a push interrupted between GitHub's answer and
//! the local record finds its issue again by the marker instead of creating a second one.

use std::collections::{BTreeSet, HashMap};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::transfer::{ImportReport, apply};
use super::{CommandError, Ui};
use crate::event::{Id, Kind, Origin, State};
use crate::github::Client;
use crate::interchange::{Incoming, Skipped, github_comment, github_issue};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum BridgeCommand {
    /// Issues and comments with a GitHub repository, through the REST API and GITHUB_TOKEN
    #[command(subcommand)]
    Github(GithubCommand),
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
    /// Give up rather than wait longer than this on GitHub's rate limits in all (what was done
    /// is kept; run again to resume)
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub max_wait: String,
    /// Pull: everything, not only what changed since the last pull
    #[arg(long)]
    pub full: bool,
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

pub(crate) fn token() -> Option<String> {
    ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|t| !t.is_empty()))
}

fn client(ui: &Ui, a: &BridgeArgs) -> Result<Client, CommandError> {
    let mut c = Client::new(token());
    c.max_wait = crate::live::daemon::duration(&a.max_wait)?;
    let quiet = ui.quiet;
    c.on_wait = Box::new(move |why, d| {
        if !quiet {
            eprintln!("waiting {} s: {why}", d.as_secs());
        }
    });
    Ok(c)
}

/// The login of the token's own user (`GET /user`), or `None` without a token or an answer.
/// A marker counts for recovery only on an issue that user created: anyone can write one.
fn own_login(api: &mut Client) -> Option<String> {
    if !api.has_token() {
        return None;
    }
    let page = api.get("/user").ok()?;
    page.body.get("login").and_then(Value::as_str).map(str::to_owned)
}

/// Whether a GitHub issue was created by `login`.
fn created_by(item: &Value, login: Option<&str>) -> bool {
    login.is_some_and(|l| item.pointer("/user/login").and_then(Value::as_str) == Some(l))
}

fn cursor_key(repo: &str, what: &str) -> String {
    format!("bridge.github.{repo}.{what}")
}

pub fn bridge(ui: &mut Ui, c: BridgeCommand) -> Result<(), CommandError> {
    match c {
        BridgeCommand::Github(GithubCommand::Pull(a)) => pull(ui, a),
        BridgeCommand::Github(GithubCommand::Push(a)) => push(ui, a),
    }
}

fn pull(ui: &mut Ui, a: BridgeArgs) -> Result<(), CommandError> {
    check_repo(&a.repo)?;
    let store = super::open_store(ui)?;
    let mut api = client(ui, &a)?;
    let key = cursor_key(&a.repo, "pulled");
    let since = if a.full { None } else { store.index.meta_string(&key)? };
    let mut path = format!(
        "/repos/{}/issues?state=all&sort=updated&direction=asc&per_page=100",
        a.repo
    );
    if let Some(s) = &since {
        path.push_str(&format!("&since={s}"));
    }
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
            if item.get("pull_request").is_some() {
                continue;
            }
            let mut x = match github_issue(item).and_then(crate::interchange::validate) {
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
            if item.get("comments").and_then(Value::as_u64).unwrap_or(0) > 0 {
                let number = item["number"].as_u64().unwrap_or(0);
                let mut cpath = format!("/repos/{}/issues/{number}/comments?per_page=100", a.repo);
                if let Some(s) = &since {
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
                        match github_comment(&c, &x.source, n) {
                            Ok(c) => x.comments.push(c),
                            Err(reason) => report.skipped.push(Skipped {
                                at: format!("{} comment {n}", x.source),
                                reason,
                            }),
                        }
                    }
                    Ok(true)
                })?;
            }
            // A marker is a stranger's word unless the token's own user wrote the issue.
            let marked = marker(item.get("body").and_then(Value::as_str).unwrap_or(""), MARK_ISSUE)
                .filter(|_| created_by(item, own.get_or_insert_with(|| own_login(api)).as_deref()));
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
            "repo": a.repo,
            "pages": pages,
            "requests": api.requests,
            "waited_ms": api.waited().as_millis() as u64,
            "cursor": newest,
            "import": report,
        }));
    }
    for s in &report.skipped {
        ui.note(format!(
            "warning: skipped {}: {}",
            super::term::esc(&s.at),
            super::term::esc(&s.reason)
        ));
    }
    ui.say(format!(
        "pulled {} issue(s) from {}: {} new, {} changed, {} unchanged; {} event(s)",
        report.issues, a.repo, report.created, report.updated, report.unchanged, report.events
    ))
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

fn push(ui: &mut Ui, a: BridgeArgs) -> Result<(), CommandError> {
    check_repo(&a.repo)?;
    if token().is_none() {
        return Err(CommandError::usage(
            "pushing to GitHub needs a token",
            "set GITHUB_TOKEN (a fine-grained token with Issues: read and write on the repository)",
        ));
    }
    let store = super::open_store(ui)?;
    let mut api = client(ui, &a)?;
    let started = crate::repo::now_ms();
    let key = cursor_key(&a.repo, "pushed");
    let pushed_ms: u64 = store.index.meta_string(&key)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    let prefix = format!("github:{}#", a.repo);
    let mut report = PushReport::default();
    // Issues a push created but could not record (it stopped in between): found by marker.
    let mut marked: HashMap<Id, Value> = HashMap::new();
    let mut own: Option<Option<String>> = None;
    let mut path = format!("/repos/{}/issues?state=all&per_page=100", a.repo);
    if pushed_ms > 0 {
        path.push_str(&format!("&since={}", crate::repo::format_time(pushed_ms)));
    }
    api.each_page(&path, |api, items| {
        for item in items {
            if let Some(id) = marker(item.get("body").and_then(Value::as_str).unwrap_or(""), MARK_ISSUE)
                && created_by(&item, own.get_or_insert_with(|| own_login(api)).as_deref())
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
        let labels = s.labels();
        let (state, reason) = s
            .state_reg()
            .map_or((State::Open, None), |r| (r.value.state, r.value.reason));
        let want = json!({
            "title": title,
            "body": body,
            "labels": labels,
            "state": if state == State::Open { "open" } else { "closed" },
            "state_reason": if state == State::Closed { Some(reason.unwrap_or_else(|| "completed".into())) } else { None },
        });
        let (number, fresh) = match number {
            Some(n) => (n, false),
            None => {
                let gh = match marked.remove(&id) {
                    Some(item) => {
                        report.recovered += 1;
                        item
                    }
                    None => {
                        let created = api
                            .request(
                                "POST",
                                &format!("/repos/{}/issues", a.repo),
                                Some(
                                    &json!({ "title": want["title"], "body": want["body"], "labels": want["labels"] }),
                                ),
                            )?
                            .body;
                        report.created += 1;
                        created
                    }
                };
                let n = gh["number"].as_u64().ok_or_else(|| {
                    CommandError::failure(format!("GitHub's answer for {} has no issue number", id.to_hex()))
                })?;
                store.write(
                    Some(id),
                    vec![Kind::Imported {
                        origin: Origin {
                            source: format!("{prefix}{n}"),
                            url: gh["html_url"].as_str().map(str::to_owned),
                            author: gh["user"]["login"].as_str().unwrap_or("ghost").to_owned(),
                            author_email: None,
                            author_id: None,
                            created_ms: s.created_ms().unwrap_or(0),
                        },
                    }],
                )?;
                if state == State::Closed {
                    api.request(
                        "PATCH",
                        &format!("/repos/{}/issues/{n}", a.repo),
                        Some(&json!({ "state": "closed", "state_reason": want["state_reason"] })),
                    )?;
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
            let gh = api.get(&format!("/repos/{}/issues/{number}", a.repo))?.body;
            let gh_labels: BTreeSet<String> = gh["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["name"].as_str().map(str::to_owned))
                .collect();
            let same = gh["title"] == want["title"]
                && strip_markers(gh["body"].as_str().unwrap_or(""))
                    == strip_markers(want["body"].as_str().unwrap_or(""))
                && gh["state"] == want["state"]
                && gh_labels == labels.iter().cloned().collect::<BTreeSet<_>>();
            if same {
                report.unchanged += 1;
            } else {
                api.request("PATCH", &format!("/repos/{}/issues/{number}", a.repo), Some(&want))?;
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
            api.each_page(
                &format!("/repos/{}/issues/{number}/comments?per_page=100", a.repo),
                |_, cs| {
                    for c in cs {
                        if let Some(id) = marker(c["body"].as_str().unwrap_or(""), MARK_COMMENT) {
                            there.insert(id);
                        }
                    }
                    Ok(true)
                },
            )?;
        }
        for c in local {
            let cid = Id(c.stamp.id);
            if there.contains(&cid) {
                continue;
            }
            api.request(
                "POST",
                &format!("/repos/{}/issues/{number}/comments", a.repo),
                Some(&json!({ "body": with_marker(&c.body, MARK_COMMENT, &cid) })),
            )?;
            report.comments += 1;
        }
    }
    store.index.set_meta_string(&key, &started.to_string())?;
    if ui.json {
        return ui.json(&json!({ "repo": a.repo, "requests": api.requests, "push": report }));
    }
    if report.foreign > 0 {
        ui.note(format!(
            "note: {} issue(s) imported from elsewhere were left alone",
            report.foreign
        ));
    }
    ui.say(format!(
        "pushed to {}: {} created, {} updated, {} unchanged, {} comment(s)",
        a.repo,
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
