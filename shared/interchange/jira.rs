//! Jira's issues, as its REST search answers them (`/rest/api/3/search` pages: `issues[]`, each
//! with `key` and `fields`), with descriptions and comments in the Atlassian Document Format
//! turned into Markdown.
//!
//! | Jira | here |
//! |---|---|
//! | `key` | source `jira:KEY`, and the browse URL |
//! | status category done | closed; the resolution Won't Do, Won't Fix, Duplicate, Cannot Reproduce or Declined is `not_planned`, another `completed` |
//! | another status category | open |
//! | issue type | a type, through `issue.jira.type` entries over the defaults |
//! | priority | a priority, through `issue.jira.priority` entries over the defaults |
//! | labels, components | labels, and `component:<name>` |
//! | parent (an epic or a sub-task's parent) | parent |
//! | link Blocks (is blocked by) | blocked-by |
//! | link Duplicate (duplicates) | duplicate-of |
//! | link Relates and any other | related |
//! | reporter, created | attribution |
//! | description, comments (ADF) | body, comments (Markdown) |

use std::collections::HashMap;

use serde_json::Value;

use super::{Incoming, IncomingComment, names, text, time_ms};
use crate::event::State;
use crate::issue::{ALL_TYPES, LinkSpec};

/// Issue types and priorities as Jira names them, to ours: the defaults, and what the
/// multi-valued `issue.jira.type` and `issue.jira.priority` in git config add or change.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Jira's issue type (lower-cased) to ours.
    pub types: HashMap<String, String>,
    /// Jira's priority name (lower-cased) to ours, 0 to 4.
    pub priorities: HashMap<String, u8>,
}

impl Default for Mapping {
    fn default() -> Mapping {
        let types = [
            ("bug", "bug"),
            ("story", "story"),
            ("task", "task"),
            ("sub-task", "task"),
            ("subtask", "task"),
            ("epic", "epic"),
            ("improvement", "feature"),
            ("new feature", "feature"),
            ("feature", "feature"),
            ("spike", "spike"),
            ("incident", "bug"),
        ];
        let priorities = [
            ("highest", 0),
            ("blocker", 0),
            ("critical", 0),
            ("high", 1),
            ("major", 1),
            ("medium", 2),
            ("low", 3),
            ("minor", 3),
            ("lowest", 4),
            ("trivial", 4),
        ];
        Mapping {
            types: types.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            priorities: priorities.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        }
    }
}

impl Mapping {
    /// The defaults, with the `issue.jira.type` and `issue.jira.priority` entries of `config`
    /// (`key value` lines, as `git config --get-regexp` prints them; each value `Jira name=ours`,
    /// as `git config --add issue.jira.type 'New Feature=feature'` writes it) over them. A bad
    /// entry is an error that names it.
    pub fn with_config(config: &str) -> Result<Mapping, String> {
        let mut m = Mapping::default();
        for line in config.lines() {
            let Some((key, value)) = line.split_once(' ') else {
                continue;
            };
            let value = value.trim();
            if key != "issue.jira.type" && key != "issue.jira.priority" {
                continue;
            }
            let (name, ours) = value
                .rsplit_once('=')
                .map(|(n, o)| (n.trim().to_ascii_lowercase(), o.trim()))
                .ok_or_else(|| format!("{key} = {value}: write JIRA NAME=OURS, e.g. 'New Feature=feature'"))?;
            if key == "issue.jira.type" {
                if !ALL_TYPES.contains(&ours) {
                    return Err(format!(
                        "{key} = {value}: '{ours}' is not a type (use {})",
                        ALL_TYPES.join(", ")
                    ));
                }
                m.types.insert(name, ours.to_owned());
            } else {
                let p = ours
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= 4)
                    .ok_or_else(|| format!("{key} = {value}: '{ours}' is not a priority from 0 to 4"))?;
                m.priorities.insert(name, p);
            }
        }
        Ok(m)
    }
}

/// Jira's times: `2024-01-31T10:00:00.000+0100` (an offset without a colon).
pub fn jira_time(v: Option<&Value>) -> Option<u64> {
    let s = v?.as_str()?;
    let fixed = match s.len().checked_sub(5).map(|i| s.split_at(i)) {
        Some((head, off))
            if (off.starts_with('+') || off.starts_with('-')) && off[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{head}{}:{}", &off[..3], &off[3..])
        }
        _ => s.to_owned(),
    };
    time_ms(&Value::String(fixed))
}

fn person(p: Option<&Value>) -> (String, Option<String>, Option<String>) {
    let p = p.filter(|p| p.is_object());
    let name = p
        .and_then(|p| p.get("displayName").or_else(|| p.get("name")))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_owned();
    let email = p
        .and_then(|p| p.get("emailAddress"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let id = p
        .and_then(|p| p.get("accountId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    (name, email, id)
}

/// The browse URL of an issue, from its API `self` URL.
fn browse(v: &Value, key: &str) -> Option<String> {
    let s = v.get("self").and_then(Value::as_str)?;
    let base = s.split("/rest/").next()?;
    Some(format!("{base}/browse/{key}"))
}

/// One issue of a search page.
pub fn issue(v: &Value, m: &Mapping) -> Result<Incoming, String> {
    let key = text(v, "key");
    if key.is_empty() {
        return Err("no key".into());
    }
    let f = v.get("fields").filter(|f| f.is_object()).ok_or("no fields")?;
    let title = text(f, "summary");
    if title.trim().is_empty() {
        return Err(format!("{key} has no summary"));
    }
    let source = format!("jira:{key}");
    let category = f
        .pointer("/status/statusCategory/key")
        .and_then(Value::as_str)
        .unwrap_or("");
    let state = if category == "done" { State::Closed } else { State::Open };
    let resolution = f.pointer("/resolution/name").and_then(Value::as_str).unwrap_or("");
    let not_planned = ["won't do", "won't fix", "duplicate", "cannot reproduce", "declined"]
        .contains(&resolution.to_ascii_lowercase().as_str());
    let mut labels = names(f.get("labels"), "name");
    for c in names(f.get("components"), "name") {
        labels.push(format!("component:{c}"));
    }
    labels.sort();
    labels.dedup();
    let issue_type = f.pointer("/issuetype/name").and_then(Value::as_str).map(|t| {
        m.types
            .get(&t.to_ascii_lowercase())
            .cloned()
            .unwrap_or_else(|| "task".to_owned())
    });
    let priority = f
        .pointer("/priority/name")
        .and_then(Value::as_str)
        .and_then(|p| m.priorities.get(&p.to_ascii_lowercase()).copied());
    let (author, author_email, author_id) = person(f.get("reporter").or_else(|| f.get("creator")));
    let created_ms = jira_time(f.get("created")).ok_or_else(|| format!("{key} has no creation time"))?;
    let mut links = Vec::new();
    for l in f.get("issuelinks").and_then(Value::as_array).into_iter().flatten() {
        let kind = l
            .pointer("/type/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let inward = l.pointer("/inwardIssue/key").and_then(Value::as_str);
        let outward = l.pointer("/outwardIssue/key").and_then(Value::as_str);
        // Each link is in both issues' records; each kind is kept by the side that holds it
        // here (the blocked issue, the duplicate), related by either.
        match (kind.as_str(), inward, outward) {
            ("blocks", Some(by), _) => links.push((LinkSpec::BlockedBy, format!("jira:{by}"))),
            ("duplicate", _, Some(of)) => links.push((LinkSpec::DuplicateOf, format!("jira:{of}"))),
            ("blocks" | "duplicate", ..) => {}
            (_, Some(o), _) | (_, None, Some(o)) => links.push((LinkSpec::Related, format!("jira:{o}"))),
            _ => {}
        }
    }
    let mut comments = Vec::new();
    let list = f
        .pointer("/comment/comments")
        .or_else(|| f.get("comments"))
        .and_then(Value::as_array);
    for (i, c) in list.into_iter().flatten().enumerate() {
        let (author, author_email, author_id) = person(c.get("author"));
        let id = c
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| i.to_string(), str::to_owned);
        comments.push(IncomingComment {
            source: format!("{source}/comment/{id}"),
            author,
            author_email,
            author_id,
            created_ms: jira_time(c.get("created")).ok_or_else(|| format!("a comment of {key} has no time"))?,
            body: adf(c.get("body").unwrap_or(&Value::Null)),
        });
    }
    Ok(Incoming {
        url: browse(v, &key),
        title,
        body: adf(f.get("description").unwrap_or(&Value::Null)),
        state,
        state_reason: (state == State::Closed)
            .then(|| if not_planned { "not_planned" } else { "completed" }.to_owned()),
        labels,
        assignees: f
            .get("assignee")
            .filter(|a| a.is_object())
            .map(|a| person(Some(a)).0)
            .into_iter()
            .collect(),
        priority,
        issue_type,
        author,
        author_email,
        author_id,
        created_ms,
        comments,
        links,
        parent: f
            .pointer("/parent/key")
            .and_then(Value::as_str)
            .map(|k| format!("jira:{k}")),
        source,
    })
}

/// Jira's CSV times: `05/Jan/24 10:00 AM` (its default format; the exporter's zone, taken as
/// UTC), or ISO 8601 as some exports and the API write them. As `2024-01-05T10:00:00.000+0000`.
fn csv_time(s: &str) -> Option<String> {
    let s = s.trim();
    if s.len() >= 19 && s.as_bytes()[4] == b'-' {
        return Some(s.to_owned());
    }
    let (date, rest) = s.split_once(' ')?;
    let mut d = date.split('/');
    let (day, month, year) = (
        d.next()?.parse::<u32>().ok()?,
        d.next()?,
        d.next()?.parse::<u32>().ok()?,
    );
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month = MONTHS.iter().position(|m| month.eq_ignore_ascii_case(m))? + 1;
    let year = if year < 100 { 2000 + year } else { year };
    let (clock, half) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
    let (h, m) = clock.split_once(':')?;
    let (mut h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    match half.to_ascii_uppercase().as_str() {
        "PM" if h < 12 => h += 12,
        "AM" if h == 12 => h = 0,
        _ => {}
    }
    (day <= 31 && h < 24 && m < 60).then(|| format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:00.000+0000"))
}

/// The records of Jira's CSV export, each as the search's JSON shape that [`issue`] reads, named
/// `at:line`; a row that cannot be read is named with why. Columns are found by their names
/// (`Summary`, `Issue key`, `Issue Type`, `Status`, `Status Category`, `Priority`, `Resolution`,
/// `Assignee`, `Reporter`, `Created`, `Description`, and the repeated `Labels`, `Component/s`,
/// `Comment`, `Parent`, `Inward issue link (Blocks)`, `Outward issue link (…)`); the others are
/// not read. The description is Jira's wiki markup, kept as written.
pub fn csv_records(r: impl std::io::Read, at: &str) -> Vec<(String, Result<Value, String>)> {
    use serde_json::json;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(r);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|h| h.trim().to_ascii_lowercase()).collect(),
        Err(e) => return vec![(at.to_owned(), Err(format!("not a CSV file: {e}")))],
    };
    let mut out = Vec::new();
    // The header's line; a row cut off at the end of the file has no position of its own.
    let mut last = 1;
    for row in reader.records() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                out.push((format!("{at}:{line}"), Err(format!("not CSV: {e}"))));
                continue;
            }
        };
        let line = row.position().map_or(0, |p| p.line()).max(last + 1);
        last = line;
        // Jira writes every column of every row: a short row is a file cut off.
        if row.len() != headers.len() {
            out.push((
                format!("{at}:{line}"),
                Err(format!(
                    "the row has {} of the {} columns (a file cut off?)",
                    row.len(),
                    headers.len()
                )),
            ));
            continue;
        }
        let all = |name: &str| -> Vec<&str> {
            headers
                .iter()
                .zip(row.iter())
                .filter(|(h, v)| h.as_str() == name && !v.trim().is_empty())
                .map(|(_, v)| v)
                .collect()
        };
        let one = |name: &str| all(name).first().map(|v| v.trim().to_owned());
        let key = one("issue key").unwrap_or_default();
        let created = one("created").and_then(|c| csv_time(&c));
        let category = one("status category")
            .map(|c| if c.eq_ignore_ascii_case("done") { "done" } else { "new" })
            .unwrap_or(if one("resolution").is_some() { "done" } else { "new" });
        let mut comments = Vec::new();
        for (i, c) in all("comment").iter().enumerate() {
            // `05/Jan/24 10:00 AM;<account id>;the text`
            let mut parts = c.splitn(3, ';');
            let (when, who, body) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next());
            let (when, who, body) = match body {
                Some(b) => (csv_time(when), who, b),
                None => (None, "", *c),
            };
            comments.push(json!({
                "id": format!("csv{i}"),
                "author": { "displayName": if who.is_empty() { "unknown" } else { who }, "accountId": who },
                "created": when.clone().or(created.clone()),
                "body": body,
            }));
        }
        let mut links = Vec::new();
        for (h, v) in headers.iter().zip(row.iter()) {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            let (side, kind) = if let Some(k) = h.strip_prefix("inward issue link (") {
                ("inwardIssue", k.trim_end_matches(')'))
            } else if let Some(k) = h.strip_prefix("outward issue link (") {
                ("outwardIssue", k.trim_end_matches(')'))
            } else {
                continue;
            };
            links.push(json!({ "type": { "name": kind }, side: { "key": v } }));
        }
        let person = |name: &str| one(name).map(|n| json!({ "displayName": n }));
        let parent = one("parent key").or_else(|| one("parent")).filter(|p| p.contains('-'));
        let record = json!({
            "key": key,
            "fields": {
                "summary": one("summary").unwrap_or_default(),
                "status": { "name": one("status"), "statusCategory": { "key": category } },
                "resolution": one("resolution").map(|r| json!({ "name": r })),
                "issuetype": one("issue type").map(|t| json!({ "name": t })),
                "priority": one("priority").map(|p| json!({ "name": p })),
                "labels": all("labels"),
                "components": all("component/s").iter().map(|c| json!({ "name": c })).collect::<Vec<_>>(),
                "assignee": person("assignee"),
                "reporter": person("reporter"),
                "created": created,
                "description": one("description"),
                "issuelinks": links,
                "parent": parent.map(|p| json!({ "key": p })),
                "comment": { "comments": comments },
            }
        });
        out.push((format!("{at}:{line}"), Ok(record)));
    }
    out
}

/// A description or comment as Markdown: an ADF document (Jira Cloud's v3), or plain text
/// (v2, and Jira Data Center).
pub fn adf(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim_end().to_owned(),
        Value::Object(_) => {
            let mut out = String::new();
            blocks(v, &mut out, "");
            out.trim_end().to_owned()
        }
        _ => String::new(),
    }
}

fn content(v: &Value) -> impl Iterator<Item = &Value> {
    v.get("content").and_then(Value::as_array).into_iter().flatten()
}

/// The block nodes under `v`, each ending in a blank line, every line after the first of each
/// starting with `indent` (inside a list item or a quote).
fn blocks(v: &Value, out: &mut String, indent: &str) {
    for node in content(v) {
        block(node, out, indent);
    }
}

fn block(node: &Value, out: &mut String, indent: &str) {
    let attr = |k: &str| node.pointer(&format!("/attrs/{k}"));
    match node["type"].as_str().unwrap_or("") {
        "paragraph" => {
            out.push_str(&inline(node).replace('\n', &format!("\n{indent}")));
            out.push_str(&format!("\n{indent}\n{indent}"));
        }
        "heading" => {
            let level = attr("level").and_then(Value::as_u64).unwrap_or(1).clamp(1, 6) as usize;
            out.push_str(&format!("{} {}\n{indent}\n{indent}", "#".repeat(level), inline(node)));
        }
        "bulletList" | "orderedList" => {
            let ordered = node["type"] == "orderedList";
            let start = attr("order").and_then(Value::as_u64).unwrap_or(1);
            for (i, item) in content(node).enumerate() {
                let mark = if ordered {
                    format!("{}. ", start + i as u64)
                } else {
                    "- ".to_owned()
                };
                let inner = format!("{indent}{}", " ".repeat(mark.len()));
                let mut text = String::new();
                blocks(item, &mut text, &inner);
                // A list item's paragraphs sit tight.
                let text = text
                    .trim_end()
                    .replace(&format!("\n{inner}\n{inner}"), &format!("\n{inner}"));
                out.push_str(&format!("{mark}{text}\n{indent}"));
            }
            out.push_str(&format!("\n{indent}"));
        }
        "codeBlock" => {
            let lang = attr("language").and_then(Value::as_str).unwrap_or("");
            let code: String = content(node).filter_map(|t| t["text"].as_str()).collect();
            let fence = if code.contains("```") { "~~~~" } else { "```" };
            let body = code.trim_end_matches('\n').replace('\n', &format!("\n{indent}"));
            out.push_str(&format!(
                "{fence}{lang}\n{indent}{body}\n{indent}{fence}\n{indent}\n{indent}"
            ));
        }
        "blockquote" | "panel" => {
            let inner = format!("{indent}> ");
            out.push_str("> ");
            let mut text = String::new();
            blocks(node, &mut text, &inner);
            out.push_str(text.trim_end_matches([' ', '>', '\n']));
            out.push_str(&format!("\n{indent}\n{indent}"));
        }
        "rule" => out.push_str(&format!("---\n{indent}\n{indent}")),
        "table" => {
            for (r, row) in content(node).enumerate() {
                let cells: Vec<String> = content(row)
                    .map(|cell| {
                        let mut t = String::new();
                        blocks(cell, &mut t, "");
                        t.trim().replace('\n', " ").replace('|', "\\|")
                    })
                    .collect();
                out.push_str(&format!("| {} |\n{indent}", cells.join(" | ")));
                if r == 0 {
                    out.push_str(&format!("|{}\n{indent}", " --- |".repeat(cells.len())));
                }
            }
            out.push_str(&format!("\n{indent}"));
        }
        "mediaSingle" | "mediaGroup" | "media" => out.push_str(&format!("[attachment]\n{indent}\n{indent}")),
        // An inline node where a block should be, or a block this does not know: its text.
        _ if node.get("text").is_some() || node["type"] == "inlineCard" || node["type"] == "mention" => {
            out.push_str(&inline(&serde_json::json!({ "content": [node] })));
            out.push_str(&format!("\n{indent}\n{indent}"));
        }
        _ => blocks(node, out, indent),
    }
}

/// The inline nodes of a block as Markdown.
fn inline(v: &Value) -> String {
    let mut out = String::new();
    for n in content(v) {
        let attr = |k: &str| n.pointer(&format!("/attrs/{k}")).and_then(Value::as_str);
        match n["type"].as_str().unwrap_or("") {
            "text" => {
                let mut t = n["text"].as_str().unwrap_or("").to_owned();
                for mark in n.get("marks").and_then(Value::as_array).into_iter().flatten() {
                    t = match mark["type"].as_str().unwrap_or("") {
                        "strong" => format!("**{t}**"),
                        "em" => format!("*{t}*"),
                        "code" => format!("`{t}`"),
                        "strike" => format!("~~{t}~~"),
                        "link" => format!(
                            "[{t}]({})",
                            mark.pointer("/attrs/href").and_then(Value::as_str).unwrap_or("")
                        ),
                        _ => t,
                    };
                }
                out.push_str(&t);
            }
            "hardBreak" => out.push('\n'),
            "mention" => {
                let t = attr("text").unwrap_or("someone");
                out.push_str(&if t.starts_with('@') {
                    t.to_owned()
                } else {
                    format!("@{t}")
                });
            }
            "emoji" => out.push_str(attr("text").or(attr("shortName")).unwrap_or("")),
            "inlineCard" | "blockCard" => {
                let url = attr("url").unwrap_or("");
                out.push_str(&format!("<{url}>"));
            }
            "date" => {
                let ms = attr("timestamp").and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
                out.push_str(&crate::repo::format_time(ms)[..10]);
            }
            "status" => out.push_str(&format!("[{}]", attr("text").unwrap_or(""))),
            _ => out.push_str(&inline(n)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn adf_becomes_markdown() {
        let doc = json!({"type": "doc", "version": 1, "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Steps"}]},
            {"type": "paragraph", "content": [
                {"type": "text", "text": "Ask "},
                {"type": "mention", "attrs": {"id": "1", "text": "@Ada Lovelace"}},
                {"type": "text", "text": " about "},
                {"type": "text", "text": "the docs", "marks": [{"type": "link", "attrs": {"href": "https://example.com"}}]},
                {"type": "text", "text": " and "},
                {"type": "text", "text": "this", "marks": [{"type": "strong"}]}]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "one"}]},
                    {"type": "orderedList", "content": [{"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "nested"}]}]}]}]},
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "two"}]}]}]},
            {"type": "codeBlock", "attrs": {"language": "rust"}, "content": [{"type": "text", "text": "fn main() {}\n"}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "ünïcode ✓"}]}
        ]});
        assert_eq!(
            adf(&doc),
            "## Steps\n\nAsk @Ada Lovelace about [the docs](https://example.com) and **this**\n\n- one\n  1. nested\n- two\n\n```rust\nfn main() {}\n```\n\nünïcode ✓"
        );
        assert_eq!(adf(&Value::Null), "");
        assert_eq!(adf(&json!("plain v2 text\n")), "plain v2 text");
    }

    #[test]
    fn times_with_offsets_and_the_config_table() {
        assert_eq!(
            jira_time(Some(&json!("2024-01-01T01:00:00.000+0100"))),
            jira_time(Some(&json!("2024-01-01T00:00:00.000+0000")))
        );
        let m = Mapping::with_config("issue.jira.type New Feature=epic\nissue.jira.priority P1=0\n").unwrap();
        assert_eq!(m.types["new feature"], "epic");
        assert_eq!(m.priorities["p1"], 0);
        assert_eq!(m.types["bug"], "bug", "the defaults stay");
        assert!(Mapping::with_config("issue.jira.type Story=saga").is_err());
        assert!(Mapping::with_config("issue.jira.priority P1=9").is_err());
        assert!(Mapping::with_config("issue.jira.type Story").is_err());
    }

    #[test]
    fn rows_are_named_by_their_line() {
        let text = "Summary,Issue key\nA,K-1\n\"multi\nline\",K-2\nB,K-3\n\"cut";
        let at: Vec<String> = super::csv_records(text.as_bytes(), "f")
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        assert_eq!(at, ["f:2", "f:3", "f:5", "f:6"]);
    }
}
