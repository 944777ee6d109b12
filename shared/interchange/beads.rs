//! beads' `issues.jsonl`, both ways. In: priorities, types, statuses, flags and every kind of
//! dependency mapped to ours. Out: an issue (as `export` gives it) as one record of beads'
//! schema, which beads' own import reads and which ours reads back to the same issue.
//!
//! | beads | here |
//! |---|---|
//! | status `open`, `closed` | state open, closed |
//! | status `in_progress`, `blocked`, `deferred`, `hooked`, `pinned`, or a custom one | open, with the label `status:<status>` (held out of `ready`) |
//! | `pinned: true`, `ephemeral: true` | the labels `pinned`, `ephemeral` (held out of `ready`) |
//! | `issue_type` | the same type; an unknown one is refused |
//! | `blocks`, `conditional-blocks`, `waits-for` | blocked-by |
//! | `parent-child` | parent |
//! | `discovered-from` | discovered-from |
//! | `duplicates` | duplicate-of |
//! | `related`, `tracks` and the other non-blocking kinds | related |
//! | `design`, `acceptance_criteria`, `notes` | sections of the body |
//! | `assignee`, `created_by`, `created_at` | assignee, attribution |

use serde_json::{Value, json};

use super::{Incoming, IncomingComment, names, text, time_ms};
use crate::event::State;
use crate::issue::{ALL_TYPES, EPHEMERAL, LinkSpec};

/// The prefix of the label that keeps a beads status other than open and closed.
pub const STATUS: &str = "status:";
/// The label of beads' `pinned` flag.
pub const PINNED: &str = "pinned";

/// A status beads may hold besides open and closed (its own or a custom one): a short word.
fn is_status(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The link a beads dependency type becomes (None: the parent).
fn link_of(kind: &str) -> Option<LinkSpec> {
    Some(match kind {
        "blocks" | "conditional-blocks" | "waits-for" | "" => LinkSpec::BlockedBy,
        "parent-child" => return None,
        "discovered-from" => LinkSpec::DiscoveredFrom,
        "duplicates" => LinkSpec::DuplicateOf,
        // related, relates-to, replies-to, tracks, supersedes, caused-by, until, validates and
        // the identity kinds: each is a non-blocking reference to another record.
        _ => LinkSpec::Related,
    })
}

/// One record of beads' `issues.jsonl`.
pub fn issue(v: &Value) -> Result<Incoming, String> {
    let id = text(v, "id");
    if id.is_empty() {
        return Err("no id".into());
    }
    let title = text(v, "title");
    if title.trim().is_empty() {
        return Err("no title".into());
    }
    // An issue this suite exported names itself (or its first source) in `external_ref`.
    let source = v
        .get("external_ref")
        .and_then(Value::as_str)
        .filter(|r| r.starts_with("grit:"))
        .map_or_else(|| format!("beads:{id}"), str::to_owned);
    let mut labels = names(v.get("labels"), "name");
    let status = text(v, "status");
    let state = match status.as_str() {
        "closed" => State::Closed,
        "open" | "" => State::Open,
        s if is_status(s) => {
            labels.push(format!("{STATUS}{s}"));
            State::Open
        }
        other => return Err(format!("unknown status '{other}'")),
    };
    for (flag, label) in [("pinned", PINNED), ("ephemeral", EPHEMERAL)] {
        if v.get(flag).and_then(Value::as_bool) == Some(true) {
            labels.push(label.to_owned());
        }
    }
    labels.sort();
    labels.dedup();
    let priority = match v.get("priority") {
        None | Some(Value::Null) => None,
        Some(p) => Some(
            p.as_u64()
                .filter(|p| *p <= 4)
                .ok_or_else(|| format!("priority {p} is not 0 to 4"))? as u8,
        ),
    };
    let issue_type = match text(v, "issue_type").as_str() {
        "" => None,
        t if ALL_TYPES.contains(&t) => Some(t.to_owned()),
        other => return Err(format!("unknown issue type '{other}'")),
    };
    let mut links = Vec::new();
    let mut parent = None;
    for d in v.get("dependencies").and_then(Value::as_array).into_iter().flatten() {
        let on = text(d, "depends_on_id");
        if on.is_empty() || on == id {
            continue;
        }
        let other = format!("beads:{on}");
        match link_of(&text(d, "type")) {
            Some(spec) => links.push((spec, other)),
            None => parent = Some(other),
        }
    }
    links.sort_by(|a, b| (a.0.name(), &a.1).cmp(&(b.0.name(), &b.1)));
    links.dedup();
    let mut body = text(v, "description");
    // beads' close reason is free text; ours is completed or not planned, so the text is kept
    // in the body (an export writes `completed`, which adds no section when read back).
    for (k, head) in [
        ("design", "Design"),
        ("acceptance_criteria", "Acceptance criteria"),
        ("notes", "Notes"),
        ("close_reason", "Close reason"),
    ] {
        let t = text(v, k);
        if !t.is_empty() && !(k == "close_reason" && (state != State::Closed || t == "completed")) {
            body.push_str(&format!("\n\n## {head}\n\n{t}"));
        }
    }
    let created_ms = time_ms(v.get("created_at").unwrap_or(&Value::Null)).ok_or("no creation time")?;
    let mut comments = Vec::new();
    for (i, c) in v
        .get("comments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let cid = match c.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(n @ Value::Number(_)) => n.to_string(),
            _ => i.to_string(),
        };
        comments.push(IncomingComment {
            // A comment this suite exported names itself.
            source: if cid.starts_with("grit:") || cid.starts_with("github:") {
                cid
            } else {
                format!("beads:{id}/comment/{cid}")
            },
            author: Some(text(c, "author"))
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| "beads".into()),
            author_email: None,
            author_id: None,
            created_ms: time_ms(c.get("created_at").unwrap_or(&Value::Null)).unwrap_or(created_ms),
            body: text(c, "text"),
        });
    }
    Ok(Incoming {
        url: None,
        title,
        body: body.trim().to_owned(),
        state,
        state_reason: (state == State::Closed).then(|| "completed".to_owned()),
        labels,
        assignees: Some(text(v, "assignee"))
            .filter(|a| !a.is_empty())
            .into_iter()
            .collect(),
        priority,
        issue_type,
        author: Some(text(v, "created_by"))
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "beads".into()),
        author_email: None,
        author_id: None,
        created_ms,
        comments,
        links,
        parent,
        source,
    })
}

/// The beads id of an exported issue, from its source and id: its own when it came from beads,
/// else `grit-` and the first 12 digits of the id it had where it was written (the same from
/// every clone, and from a repository that imported this export).
pub fn id_of(source: Option<&str>, id: &str) -> String {
    if let Some(b) = source.and_then(|s| s.strip_prefix("beads:")) {
        return b.to_owned();
    }
    let own = source.and_then(|s| s.strip_prefix("grit:")).unwrap_or(id);
    format!("grit-{}", &own[..own.len().min(12)])
}

/// One issue as `export --format jsonl` gives it, as a record of beads' schema. `ids` gives the
/// beads id of a linked issue (by its id here), or None for one not exported.
pub fn record(v: &Value, ids: &dyn Fn(&str) -> Option<String>) -> Value {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let id = id_of(v.get("source").and_then(Value::as_str), v["id"].as_str().unwrap_or(""));
    let labels: Vec<&str> = v["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let closed = s("state") == "closed";
    let status = if closed {
        "closed".to_owned()
    } else {
        labels
            .iter()
            .find_map(|l| l.strip_prefix(STATUS))
            .unwrap_or("open")
            .to_owned()
    };
    let kept: Vec<&str> = labels
        .iter()
        .copied()
        .filter(|l| !l.starts_with(STATUS) && *l != PINNED && *l != EPHEMERAL)
        .collect();
    let who = v["author"]["name"].as_str().unwrap_or("").to_owned();
    let mut deps = Vec::new();
    let mut dep = |kind: &str, on: String| {
        deps.push(json!({
            "issue_id": id, "depends_on_id": on, "type": kind,
            "created_at": s("created_at"), "created_by": who,
        }));
    };
    if let Some(p) = v.get("parent").and_then(Value::as_str).and_then(ids) {
        dep("parent-child", p);
    }
    for l in v["links"].as_array().into_iter().flatten() {
        let Some(on) = l["id"].as_str().and_then(ids) else {
            continue;
        };
        let kind = match l["link"].as_str().unwrap_or("") {
            "blocked_by" => "blocks",
            "discovered_from" => "discovered-from",
            "duplicate_of" => "duplicates",
            // A related link is written once, by the issue whose beads id sorts first (the
            // same in every repository that reads the file).
            "related" if id < on => "related",
            _ => continue,
        };
        dep(kind, on);
    }
    deps.sort_by(|a, b| {
        (a["type"].as_str(), a["depends_on_id"].as_str()).cmp(&(b["type"].as_str(), b["depends_on_id"].as_str()))
    });
    let comments: Vec<Value> = v["comments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let source = c.get("source").and_then(Value::as_str);
            let cid = match source.and_then(|s| s.strip_prefix(&format!("beads:{id}/comment/"))) {
                Some(own) => own.to_owned(),
                None => source.map_or_else(|| format!("grit:{}", c["id"].as_str().unwrap_or("")), str::to_owned),
            };
            json!({
                "id": cid, "issue_id": id,
                "author": c["author"]["name"].as_str().unwrap_or(""),
                "text": c["body"], "created_at": c["created_at"],
            })
        })
        .collect();
    let mut out = json!({
        "id": id,
        "title": s("title"),
        "description": s("body"),
        "status": status,
        "priority": v["priority"],
        "issue_type": s("type"),
        "created_at": s("created_at"),
        "created_by": who,
        "updated_at": s("updated_at"),
    });
    let o = out.as_object_mut().expect("an object");
    if let Some(a) = v["assignees"].as_array().and_then(|a| a.first()) {
        o.insert("assignee".into(), a.clone());
    }
    if closed {
        o.insert("closed_at".into(), Value::from(s("updated_at")));
        if let Some(r) = v.get("state_reason").and_then(Value::as_str) {
            o.insert("close_reason".into(), Value::from(r));
        }
    }
    if !kept.is_empty() {
        o.insert("labels".into(), json!(kept));
    }
    if !deps.is_empty() {
        o.insert("dependencies".into(), Value::from(deps));
    }
    if !comments.is_empty() {
        o.insert("comments".into(), Value::from(comments));
    }
    if labels.contains(&PINNED) {
        o.insert("pinned".into(), Value::Bool(true));
    }
    if labels.contains(&EPHEMERAL) {
        o.insert("ephemeral".into(), Value::Bool(true));
    }
    // Not from beads: the record names the issue here, so importing it back finds it.
    if !v
        .get("source")
        .and_then(Value::as_str)
        .is_some_and(|s| s.starts_with("beads:"))
    {
        let own = v
            .get("source")
            .and_then(Value::as_str)
            .filter(|s| s.starts_with("grit:"))
            .map_or_else(|| format!("grit:{}", s("id")), str::to_owned);
        o.insert("external_ref".into(), Value::from(own));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_flags_become_labels_and_come_back() {
        let v = json!({"id": "bd-1", "title": "T", "status": "hooked", "pinned": true, "ephemeral": true,
                       "issue_type": "message", "created_at": "2025-01-01T00:00:00Z"});
        let x = issue(&v).unwrap();
        assert_eq!(x.labels, ["ephemeral", "pinned", "status:hooked"]);
        assert_eq!(x.state, State::Open);
        assert_eq!(x.issue_type.as_deref(), Some("message"));
        assert!(
            issue(&json!({"id": "x", "title": "T", "status": "Bad Status!", "created_at": "2025-01-01T00:00:00Z"}))
                .is_err()
        );
        assert!(
            issue(&json!({"id": "x", "title": "T", "issue_type": "wibble", "created_at": "2025-01-01T00:00:00Z"}))
                .is_err()
        );
        let back = record(
            &json!({"id": "ab", "short_id": "ab", "title": "T", "body": "", "state": "open", "labels": x.labels,
                    "priority": 2, "type": "message", "author": {"name": "a"}, "created_at": "2025-01-01T00:00:00Z",
                    "updated_at": "2025-01-01T00:00:00Z", "source": "beads:bd-1", "links": [], "comments": []}),
            &|_| None,
        );
        assert_eq!(back["status"], "hooked");
        assert_eq!(back["pinned"], true);
        assert_eq!(back["ephemeral"], true);
        assert!(back.get("labels").is_none());
        assert!(back.get("external_ref").is_none());
        assert_eq!(back["id"], "bd-1");
    }
}
