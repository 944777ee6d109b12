//! Issues in and out: reading GitHub's JSON (the shape `gh issue list --json …` prints, and the
//! REST API's issue and comment objects), beads' `issues.jsonl` and this suite's own export
//! into one shape, `Incoming`; and turning an incoming issue into the events that make the
//! index agree with it (all of them for a new issue, only the differences for one imported
//! before).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::event::{Id, Kind, Origin, State};
use crate::issue::{IssueState, LinkSpec};

pub mod beads;
pub mod gitlab;
pub mod jira;

/// Where an import reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    /// GitHub issues, as `gh issue list --json` or the REST API gives them.
    Github,
    /// GitLab issues.
    Gitlab,
    /// Jira issues.
    Jira,
    /// A beads database's JSONL.
    Beads,
    /// An export of this suite (`git issue export`).
    Grit,
}

/// A comment as another tracker had it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingComment {
    /// Its id there (`github:owner/name#12/comment/345`).
    pub source: String,
    /// Who wrote it, as the source names them.
    pub author: String,
    /// Their email, if the source gives it.
    pub author_email: Option<String>,
    /// For an export of this suite: the author's actor id.
    pub author_id: Option<String>,
    /// When it was written (milliseconds since the epoch).
    pub created_ms: u64,
    /// Its text.
    pub body: String,
}

/// An issue as another tracker had it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Its id there (`github:owner/name#12`, `beads:bd-12`, `grit:<id>`).
    pub source: String,
    /// Its page there.
    pub url: Option<String>,
    /// The title.
    pub title: String,
    /// The body.
    pub body: String,
    /// Open or closed.
    pub state: State,
    /// Why it was closed (`completed`, `not_planned`).
    pub state_reason: Option<String>,
    /// Its labels.
    pub labels: Vec<String>,
    /// Its assignees.
    pub assignees: Vec<String>,
    /// Its priority, 0 to 4, if the source has one.
    pub priority: Option<u8>,
    /// Its type, if the source has one.
    pub issue_type: Option<String>,
    /// Who opened it, as the source names them.
    pub author: String,
    /// Their email, if the source gives it.
    pub author_email: Option<String>,
    /// For an export of this suite: the author's actor id.
    pub author_id: Option<String>,
    /// When it was opened (milliseconds since the epoch).
    pub created_ms: u64,
    /// Its comments, oldest first.
    pub comments: Vec<IncomingComment>,
    /// Links to other incoming issues, by their source ids.
    pub links: Vec<(LinkSpec, String)>,
    /// The parent's source id.
    pub parent: Option<String>,
}

/// A record that could not be read, and where it was.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Skipped {
    /// `file:line` or `file[index]`.
    pub at: String,
    /// Why it could not be read.
    pub reason: String,
}

fn time_ms(v: &Value) -> Option<u64> {
    let s = v.as_str()?;
    // RFC 3339 as GitHub and beads write it: keep the second, drop fractions and the zone
    // offset's effect only when it is Z (others are converted).
    let (main, rest) = s.split_at(19.min(s.len()));
    let mut ms = crate::repo::parse_time(&format!("{main}Z"))?;
    let zone = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    if let Some(off) = zone.strip_prefix('+').or_else(|| zone.strip_prefix('-')) {
        let (h, m) = off.split_once(':').unwrap_or((off, "0"));
        let delta = (h.parse::<u64>().ok()? * 60 + m.parse::<u64>().ok()?) * 60_000;
        ms = if zone.starts_with('+') {
            ms.checked_sub(delta)?
        } else {
            ms + delta
        };
    }
    Some(ms)
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_owned()
}

fn names(v: Option<&Value>, key: &str) -> Vec<String> {
    let mut out: Vec<String> = v
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .or_else(|| x.get(key)?.as_str().map(str::to_owned))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

/// `owner/name#number` from an issue's URL (html or API).
fn github_key(url: &str, number: u64) -> String {
    let path = url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .collect::<Vec<_>>();
    // github.com/o/r/issues/n, or api.github.com/repos/o/r/issues/n
    let at = path.iter().position(|p| *p == "repos").map_or(1, |i| i + 1);
    match (path.get(at), path.get(at + 1)) {
        (Some(o), Some(r)) => format!("github:{o}/{r}#{number}"),
        _ => format!("github:#{number}"),
    }
}

/// The most labels one imported issue may carry, and the longest label: a record past them is
/// skipped and named (one issue with a million labels cost minutes and gigabytes).
pub const MAX_LABELS: usize = 100;
/// The longest label, in bytes (see [`MAX_LABELS`]).
pub const MAX_LABEL_BYTES: usize = 256;

/// Checks what every source's record must hold to be written as the CLI would write it.
pub fn validate(x: Incoming) -> Result<Incoming, String> {
    if x.labels.len() > MAX_LABELS {
        return Err(format!(
            "{} carries {} labels; an issue takes at most {MAX_LABELS}",
            x.source,
            x.labels.len()
        ));
    }
    if let Some(l) = x.labels.iter().find(|l| l.len() > MAX_LABEL_BYTES) {
        return Err(format!(
            "{} has a label of {} bytes; a label takes at most {MAX_LABEL_BYTES}",
            x.source,
            l.len()
        ));
    }
    if let Some(l) = x
        .labels
        .iter()
        .find(|l| l.trim().is_empty() || l.chars().any(char::is_control))
    {
        return Err(format!(
            "{} has a label that is empty or holds control characters: {l:?}",
            x.source
        ));
    }
    Ok(x)
}

/// One GitHub issue, in either shape (`gh` camelCase or REST snake_case).
pub fn github_issue(v: &Value) -> Result<Incoming, String> {
    let number = v.get("number").and_then(Value::as_u64).ok_or("no issue number")?;
    if v.get("pull_request").is_some() {
        return Err("a pull request, not an issue".into());
    }
    let url = v
        .get("html_url")
        .or_else(|| v.get("url"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let title = text(v, "title");
    if title.trim().is_empty() {
        return Err("no title".into());
    }
    let source = github_key(&url, number);
    let state = match text(v, "state").to_ascii_lowercase().as_str() {
        "open" => State::Open,
        "closed" => State::Closed,
        other => return Err(format!("unknown state '{other}'")),
    };
    let state_reason = v
        .get("state_reason")
        .or_else(|| v.get("stateReason"))
        .and_then(Value::as_str)
        .map(|r| r.to_ascii_lowercase())
        .filter(|r| r == "completed" || r == "not_planned");
    let author = v
        .get("author")
        .or_else(|| v.get("user"))
        .and_then(|a| a.get("login"))
        .and_then(Value::as_str)
        .unwrap_or("ghost")
        .to_owned();
    let created_ms = time_ms(
        v.get("createdAt")
            .or_else(|| v.get("created_at"))
            .unwrap_or(&Value::Null),
    )
    .ok_or("no creation time")?;
    let mut comments = Vec::new();
    if let Some(list) = v.get("comments").and_then(Value::as_array) {
        for (i, c) in list.iter().enumerate() {
            comments.push(github_comment(c, &source, i)?);
        }
    }
    Ok(Incoming {
        url: (!url.is_empty()).then_some(url),
        title,
        body: text(v, "body"),
        state,
        state_reason,
        labels: names(v.get("labels"), "name"),
        assignees: names(v.get("assignees"), "login"),
        priority: None,
        issue_type: None,
        author,
        author_email: None,
        author_id: None,
        created_ms,
        comments,
        links: Vec::new(),
        parent: None,
        source,
    })
}

/// Comment `i` of the GitHub issue whose source id is `issue_source`, in either shape.
pub fn github_comment(c: &Value, issue_source: &str, i: usize) -> Result<IncomingComment, String> {
    let id = c
        .get("id")
        .map(|id| {
            id.as_u64()
                .map_or_else(|| id.as_str().unwrap_or("").to_owned(), |n| n.to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("n{i}"));
    Ok(IncomingComment {
        source: format!("{issue_source}/comment/{id}"),
        author: c
            .get("author")
            .or_else(|| c.get("user"))
            .and_then(|a| a.get("login"))
            .and_then(Value::as_str)
            .unwrap_or("ghost")
            .to_owned(),
        author_email: None,
        author_id: None,
        created_ms: time_ms(
            c.get("createdAt")
                .or_else(|| c.get("created_at"))
                .unwrap_or(&Value::Null),
        )
        .ok_or("a comment has no creation time")?,
        body: text(c, "body"),
    })
}

/// GitHub's JSON: arrays of issues (either shape); REST comment objects (they carry
/// `issue_url`) are attached to their issues. Returns the issues and what was skipped.
pub fn read_github(docs: Vec<(String, Value)>) -> (Vec<Incoming>, Vec<Skipped>) {
    let (mut issues, mut skipped) = (Vec::new(), Vec::new());
    let mut comments: BTreeMap<String, Vec<IncomingComment>> = BTreeMap::new();
    for (file, doc) in docs {
        let items = match doc {
            Value::Array(a) => a,
            other => vec![other],
        };
        for (i, item) in items.iter().enumerate() {
            let at = format!("{file}[{i}]");
            if let Some(issue_url) = item.get("issue_url").and_then(Value::as_str) {
                let number = issue_url.rsplit('/').next().and_then(|n| n.parse().ok()).unwrap_or(0);
                let key = github_key(issue_url, number);
                match github_comment(item, &key, i) {
                    Ok(c) => comments.entry(key).or_default().push(c),
                    Err(reason) => skipped.push(Skipped { at, reason }),
                }
                continue;
            }
            match github_issue(item) {
                Ok(x) => issues.push(x),
                Err(reason) => skipped.push(Skipped { at, reason }),
            }
        }
    }
    for issue in &mut issues {
        if let Some(mut extra) = comments.remove(&issue.source) {
            issue.comments.append(&mut extra);
        }
        issue
            .comments
            .sort_by(|a, b| (a.created_ms, &a.source).cmp(&(b.created_ms, &b.source)));
        issue.comments.dedup_by(|a, b| a.source == b.source);
    }
    (issues, skipped)
}

/// This suite's own export (`git issue export --format jsonl`).
pub fn grit_issue(v: &Value) -> Result<Incoming, String> {
    let id = text(v, "id");
    if Id::from_hex(&id).is_none() {
        return Err("no issue id".into());
    }
    // An issue exported after being imported keeps its first source.
    let source = v
        .get("source")
        .and_then(Value::as_str)
        .map_or_else(|| format!("grit:{id}"), str::to_owned);
    let state = match text(v, "state").as_str() {
        "open" => State::Open,
        "closed" => State::Closed,
        other => return Err(format!("unknown state '{other}'")),
    };
    let person = |p: Option<&Value>| {
        let p = p.unwrap_or(&Value::Null);
        (
            p.get("name").and_then(Value::as_str).unwrap_or("unknown").to_owned(),
            p.get("email").and_then(Value::as_str).map(str::to_owned),
            p.get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        )
    };
    let (author, author_email, author_id) = person(v.get("author"));
    let mut comments = Vec::new();
    for c in v.get("comments").and_then(Value::as_array).into_iter().flatten() {
        let (author, author_email, author_id) = person(c.get("author"));
        comments.push(IncomingComment {
            source: format!("grit:{}", text(c, "id")),
            author,
            author_email,
            author_id,
            created_ms: time_ms(c.get("created_at").unwrap_or(&Value::Null)).ok_or("a comment has no time")?,
            body: text(c, "body"),
        });
    }
    let other = |v: &Value| v.get("id").and_then(Value::as_str).map(|i| format!("grit:{i}"));
    let mut links = Vec::new();
    for l in v.get("links").and_then(Value::as_array).into_iter().flatten() {
        let Some(o) = other(l) else { continue };
        let spec = match text(l, "link").as_str() {
            "blocked_by" => LinkSpec::BlockedBy,
            "related" => LinkSpec::Related,
            "duplicate_of" => LinkSpec::DuplicateOf,
            "discovered_from" => LinkSpec::DiscoveredFrom,
            _ => continue,
        };
        links.push((spec, o));
    }
    Ok(Incoming {
        url: v.get("url").and_then(Value::as_str).map(str::to_owned),
        title: text(v, "title"),
        body: text(v, "body"),
        state,
        state_reason: v.get("state_reason").and_then(Value::as_str).map(str::to_owned),
        labels: names(v.get("labels"), "name"),
        assignees: names(v.get("assignees"), "login"),
        priority: v
            .get("priority")
            .and_then(Value::as_u64)
            .filter(|p| *p <= 4)
            .map(|p| p as u8),
        issue_type: v.get("type").and_then(Value::as_str).map(str::to_owned),
        author,
        author_email,
        author_id,
        created_ms: time_ms(v.get("created_at").unwrap_or(&Value::Null)).ok_or("no creation time")?,
        comments,
        links,
        parent: v.get("parent").and_then(Value::as_str).map(|p| format!("grit:{p}")),
        source,
    })
}

impl Incoming {
    fn origin(&self) -> Origin {
        Origin {
            source: self.source.clone(),
            url: self.url.clone(),
            author: self.author.clone(),
            author_email: self.author_email.clone(),
            author_id: self.author_id.clone(),
            created_ms: self.created_ms,
        }
    }

    /// The events that make `current` (None: no such issue yet) agree with this one, leaving
    /// links for later (they need every issue to exist).
    pub fn events(&self, current: Option<&IssueState>) -> Vec<Kind> {
        let mut kinds = Vec::new();
        let clean = |s: &str| s.trim().to_owned();
        let Some(cur) = current else {
            kinds.push(Kind::IssueCreated {
                title: clean(&self.title),
                body: self.body.trim_end().to_owned(),
                labels: self.labels.clone(),
            });
            kinds.push(Kind::Imported { origin: self.origin() });
            kinds.extend(self.rest(&IssueState::default(), true));
            return kinds;
        };
        if cur.title.as_ref().map(|t| t.value.as_str()) != Some(clean(&self.title).as_str()) {
            kinds.push(Kind::TitleSet {
                title: clean(&self.title),
            });
        }
        if cur.body.as_ref().map(|b| b.value.as_str()) != Some(self.body.trim_end()) {
            kinds.push(Kind::BodySet {
                body: self.body.trim_end().to_owned(),
            });
        }
        let have: BTreeSet<String> = cur.labels().into_iter().collect();
        let want: BTreeSet<String> = self.labels.iter().cloned().collect();
        kinds.extend(want.difference(&have).map(|l| Kind::LabelAdded { label: l.clone() }));
        kinds.extend(have.difference(&want).map(|l| Kind::LabelRemoved { label: l.clone() }));
        if cur.origin.as_ref().map(|o| &o.value) != Some(&self.origin()) {
            kinds.push(Kind::Imported { origin: self.origin() });
        }
        kinds.extend(self.rest(cur, false));
        kinds
    }

    /// Assignees, priority, type, state and the comments `cur` lacks.
    fn rest(&self, cur: &IssueState, new: bool) -> Vec<Kind> {
        let mut kinds = Vec::new();
        let have: BTreeSet<String> = cur.assignees().into_iter().collect();
        let want: BTreeSet<String> = self.assignees.iter().cloned().collect();
        kinds.extend(
            want.difference(&have)
                .map(|a| Kind::AssigneeAdded { assignee: a.clone() }),
        );
        kinds.extend(
            have.difference(&want)
                .map(|a| Kind::AssigneeRemoved { assignee: a.clone() }),
        );
        if let Some(p) = self
            .priority
            .filter(|p| new && *p != crate::issue::DEFAULT_PRIORITY || !new && *p != cur.priority())
        {
            kinds.push(Kind::PrioritySet { priority: p });
        }
        if let Some(t) = self.issue_type.clone().filter(|t| t != cur.issue_type()) {
            kinds.push(Kind::TypeSet { issue_type: t });
        }
        if self.state != cur.state()
            || (!new
                && self.state_reason != cur.state_reg().and_then(|s| s.value.reason)
                && self.state == State::Closed)
        {
            kinds.push(Kind::StateSet {
                state: self.state,
                reason: self.state_reason.clone().filter(|_| self.state == State::Closed),
            });
        }
        // A comment is here when it was imported from the same source, or when it is the very
        // comment an export of this repository names (`grit:<its event id>`).
        let seen: BTreeSet<String> = cur
            .comments
            .iter()
            .flat_map(|c| {
                let own = format!("grit:{}", crate::event::Id(c.stamp.id).to_hex());
                // Imports before 0.3 kept a beads comment's string id in quotes.
                let unquoted = c.origin.as_ref().and_then(|o| {
                    let (head, id) = o.source.split_once("/comment/\"")?;
                    Some(format!("{head}/comment/{}", id.strip_suffix('"')?))
                });
                std::iter::once(own)
                    .chain(c.origin.as_ref().map(|o| o.source.clone()))
                    .chain(unquoted)
            })
            .collect();
        for c in self.comments.iter().filter(|c| !seen.contains(&c.source)) {
            kinds.push(Kind::CommentImported {
                body: c.body.trim_end().to_owned(),
                origin: Origin {
                    source: c.source.clone(),
                    url: None,
                    author: c.author.clone(),
                    author_email: c.author_email.clone(),
                    author_id: c.author_id.clone(),
                    created_ms: c.created_ms,
                },
            });
        }
        kinds
    }
}
