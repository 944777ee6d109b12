//! GitLab's issues: the REST v4 issue and note objects (`GET /projects/:id/issues`, its notes)
//! and the records of a project export (`tree/project/issues.ndjson`, notes inside).
//!
//! | GitLab | here |
//! |---|---|
//! | `iid` and the project's path | source `gitlab:GROUP/NAME#IID` |
//! | `state` opened, closed | open, closed (completed) |
//! | `labels` | labels |
//! | `milestone.title` | the label `milestone:<title>` (a push leaves milestones to GitLab) |
//! | `assignees[].username` | assignees |
//! | `issue_type` incident, task | type bug, task |
//! | `author.username`, `created_at` | attribution |
//! | notes | comments; system notes ("changed the label") are skipped |
//! | `confidential: true` | skipped unless `--include-confidential` |

use serde_json::Value;

use super::{Incoming, IncomingComment, names, text, time_ms};
use crate::event::State;

/// The label prefix a milestone becomes.
pub const MILESTONE: &str = "milestone:";

/// `GROUP/NAME` of an issue: from `references.full` (`group/name#3`), else its `web_url`
/// (`https://host/group/name/-/issues/3`), else `project-<id>`.
pub fn project_of(v: &Value) -> String {
    if let Some(full) = v.pointer("/references/full").and_then(Value::as_str)
        && let Some((p, _)) = full.rsplit_once('#')
        && !p.is_empty()
    {
        return p.to_owned();
    }
    if let Some(url) = v.get("web_url").and_then(Value::as_str)
        && let Some((head, _)) = url.split_once("/-/issues/")
    {
        let path = head
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split_once('/')
            .map_or("", |(_, p)| p);
        if !path.is_empty() {
            return path.to_owned();
        }
    }
    match v.get("project_id").and_then(Value::as_u64) {
        Some(id) => format!("project-{id}"),
        None => "project".to_owned(),
    }
}

/// Whether GitLab marks the issue confidential.
pub fn confidential(v: &Value) -> bool {
    v.get("confidential").and_then(Value::as_bool) == Some(true)
}

/// A person's handle: `username`, else `name`.
fn who(p: Option<&Value>) -> String {
    p.and_then(|p| p.get("username").or_else(|| p.get("name")))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("ghost")
        .to_owned()
}

/// One issue, REST or export. `project` names its project when the record does not (an
/// export's records do not).
pub fn issue(v: &Value, project: Option<&str>) -> Result<Incoming, String> {
    let iid = v.get("iid").and_then(Value::as_u64).ok_or("no iid")?;
    let title = text(v, "title");
    if title.trim().is_empty() {
        return Err("no title".into());
    }
    let path = match project {
        Some(p) if v.get("references").is_none() && v.get("web_url").is_none() => p.to_owned(),
        _ => project_of(v),
    };
    let source = format!("gitlab:{path}#{iid}");
    let state = match text(v, "state").as_str() {
        "opened" | "open" | "reopened" => State::Open,
        "closed" => State::Closed,
        other => return Err(format!("unknown state '{other}'")),
    };
    let mut labels = names(v.get("labels"), "name");
    // An export names its labels through links.
    for l in v.get("label_links").and_then(Value::as_array).into_iter().flatten() {
        if let Some(t) = l.pointer("/label/title").and_then(Value::as_str) {
            labels.push(t.to_owned());
        }
    }
    if let Some(m) = v.pointer("/milestone/title").and_then(Value::as_str) {
        labels.push(format!("{MILESTONE}{m}"));
    }
    labels.sort();
    labels.dedup();
    let mut assignees = names(v.get("assignees"), "username");
    if assignees.is_empty()
        && let Some(a) = v.get("assignee").filter(|a| a.is_object())
    {
        assignees.push(who(Some(a)));
    }
    let created_ms = time_ms(v.get("created_at").unwrap_or(&Value::Null)).ok_or("no creation time")?;
    let mut x = Incoming {
        url: v.get("web_url").and_then(Value::as_str).map(str::to_owned),
        title,
        body: text(v, "description"),
        state,
        state_reason: (state == State::Closed).then(|| "completed".to_owned()),
        labels,
        assignees,
        priority: None,
        issue_type: match text(v, "issue_type").as_str() {
            "incident" => Some("bug".to_owned()),
            "task" => Some("task".to_owned()),
            _ => None,
        },
        author: who(v.get("author")),
        author_email: None,
        author_id: None,
        created_ms,
        comments: Vec::new(),
        links: Vec::new(),
        parent: None,
        source,
    };
    for (i, n) in v
        .get("notes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(c) = note(n, &x.source, i) {
            x.comments.push(c?);
        }
    }
    x.comments
        .sort_by(|a, b| (a.created_ms, &a.source).cmp(&(b.created_ms, &b.source)));
    Ok(x)
}

/// One note of an issue as a comment, or None for a system note (GitLab's record of a change,
/// not something a person wrote).
pub fn note(n: &Value, issue_source: &str, i: usize) -> Option<Result<IncomingComment, String>> {
    if n.get("system").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let id = n
        .get("id")
        .and_then(Value::as_u64)
        .map_or_else(|| format!("n{i}"), |id| id.to_string());
    let body = n
        .get("body")
        .or_else(|| n.get("note"))
        .and_then(Value::as_str)
        .unwrap_or("");
    Some(
        time_ms(n.get("created_at").unwrap_or(&Value::Null))
            .ok_or_else(|| "a note has no creation time".to_owned())
            .map(|created_ms| IncomingComment {
                source: format!("{issue_source}/note/{id}"),
                author: who(n.get("author")),
                author_email: None,
                author_id: None,
                created_ms,
                body: body.to_owned(),
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rest_and_export_records_read_alike() {
        let rest = json!({"iid": 3, "title": "T", "description": null, "state": "opened",
            "labels": ["bug"], "milestone": {"title": "v1"}, "assignees": [{"username": "ada"}],
            "author": {"username": "bob"}, "created_at": "2025-01-01T00:00:00.000Z",
            "references": {"full": "acme/app#3"}, "web_url": "https://gitlab.example/acme/app/-/issues/3"});
        let x = issue(&rest, None).unwrap();
        assert_eq!(x.source, "gitlab:acme/app#3");
        assert_eq!(x.labels, ["bug", "milestone:v1"]);
        assert_eq!(x.body, "");
        let export = json!({"iid": 3, "title": "T", "state": "closed", "created_at": "2025-01-01T00:00:00Z",
            "label_links": [{"label": {"title": "bug"}}],
            "notes": [{"id": 1, "note": "hi", "created_at": "2025-01-02T00:00:00Z", "author": {"name": "Ada"}},
                      {"id": 2, "note": "changed the label", "system": true, "created_at": "2025-01-02T00:00:00Z"}]});
        let y = issue(&export, Some("acme/app")).unwrap();
        assert_eq!(y.source, "gitlab:acme/app#3");
        assert_eq!(y.state, State::Closed);
        assert_eq!(y.comments.len(), 1);
        assert_eq!(y.comments[0].author, "Ada");
        assert_eq!(
            project_of(&json!({"web_url": "https://h/g/sub/p/-/issues/9"})),
            "g/sub/p"
        );
    }
}
