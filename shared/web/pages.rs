//! The dashboard's pages, rendered on the server: every string that came from a ref (titles,
//! bodies, labels, names, lock notes) goes through `text::html`, and markdown is rendered with
//! raw HTML turned into text and only web and mail links kept.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::State;
use crate::ops::{self, Issues};
use crate::store::Store;
use crate::text::html as h;

pub const APP_JS: &str = include_str!("app.js");
pub const APP_CSS: &str = include_str!("app.css");

pub enum Page {
    Board { q: Option<String>, view: Option<String> },
    Issue(String),
    Graph { q: Option<String>, limit: usize },
    GraphSvg { q: Option<String>, limit: usize },
    Agents,
    Sandboxes,
    Sandbox(String),
}

/// A page, or only its `<main>` when `fragment` (the live update's refetch).
pub fn render(s: &Store, page: &Page, csrf: &str, fragment: bool) -> Result<String> {
    let (title, nav, main) = match page {
        Page::Board { q, view } => ("Board".to_owned(), "board", board(s, q.as_deref(), view.as_deref())?),
        Page::Issue(id) => {
            let (title, main) = issue(s, id, csrf)?;
            (title, "board", main)
        }
        Page::Graph { q, limit } => ("Graph".to_owned(), "graph", graph(s, q.as_deref(), *limit)?),
        Page::GraphSvg { q, limit } => {
            let g = ops::graph::graph(s, None, q.as_deref(), *limit)?;
            return Ok(ops::graph::svg(&g, "/issue/"));
        }
        Page::Agents => ("Agents".to_owned(), "agents", agents(s)?),
        Page::Sandboxes => ("Sandboxes".to_owned(), "sandboxes", sandboxes(s)?),
        Page::Sandbox(name) => (format!("Sandbox {name}"), "sandboxes", sandbox(s, name)?),
    };
    if fragment {
        return Ok(main);
    }
    Ok(layout(&title, nav, csrf, &main))
}

fn layout(title: &str, nav: &str, csrf: &str, main: &str) -> String {
    let link = |href: &str, name: &str, key: &str| {
        format!(
            "<a href=\"{href}\"{}>{name}</a>",
            if key == nav { " class=\"active\"" } else { "" }
        )
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"csrf\" content=\"{csrf}\">\
         <title>{} · grit</title><link rel=\"stylesheet\" href=\"/static/app.css\">\
         <script src=\"/static/app.js\" defer></script></head>\n<body>\
         <header><strong>grit</strong><nav>{}{}{}{}</nav><span id=\"live\" title=\"live updates\">●</span></header>\n\
         <main id=\"main\">{main}</main>\n</body></html>\n",
        h(title),
        link("/", "Board", "board"),
        link("/graph", "Graph", "graph"),
        link("/agents", "Agents", "agents"),
        link("/sandboxes", "Sandboxes", "sandboxes"),
    )
}

pub fn not_found(csrf: &str, path: &str) -> String {
    layout(
        "Not found",
        "",
        csrf,
        &format!("<h1>Not found</h1><p>Nothing is at <code>{}</code>.</p>", h(path)),
    )
}

pub fn error_page(csrf: &str, e: &Error) -> String {
    let mut main = format!("<h1>Error</h1><p class=\"error\">{}</p>", h(&e.to_string()));
    for c in e.causes() {
        let _ = write!(main, "<pre>{}</pre>", h(&c));
    }
    for hint in e.hints() {
        let _ = write!(main, "<p class=\"hint\">hint: {}</p>", h(&hint));
    }
    layout("Error", "", csrf, &main)
}

/// A query ANDed with a column's own terms.
fn and(base: &str, q: Option<&str>) -> String {
    match q {
        Some(q) => format!("({q}) {base}"),
        None => base.to_owned(),
    }
}

fn rows(s: &Store, found: &crate::index::search::Found) -> Result<Vec<Value>> {
    let claims = ops::locks::claims(s)?;
    Ok(match ops::query::listing(s, found, &claims)? {
        Value::Array(a) => a,
        _ => Vec::new(),
    })
}

fn card(r: &Value) -> String {
    let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
    let mut labels = String::new();
    for l in r["labels"].as_array().into_iter().flatten() {
        let _ = write!(
            labels,
            "<span class=\"label\">{}</span>",
            h(l.as_str().unwrap_or_default())
        );
    }
    let claim = match r["claim"]["by_name"].as_str() {
        Some(name) => format!(
            "<div class=\"claim\">claimed by {} ({})</div>",
            h(name),
            h(r["claim"]["by_actor"].as_str().unwrap_or_default())
        ),
        None => String::new(),
    };
    format!(
        "<li class=\"card p{p}\" data-id=\"{id}\"><a href=\"/issue/{id}\"><span class=\"sid\">{sid}</span> {title}</a>\
         <div class=\"meta\"><span class=\"prio\">P{p}</span> <span class=\"type\">{ty}</span> {labels}</div>{claim}</li>",
        p = r["priority"].as_u64().unwrap_or(2),
        id = h(&text("id")),
        sid = h(&text("short_id")),
        title = h(&text("title")),
        ty = h(&text("type")),
    )
}

fn board(s: &Store, q: Option<&str>, view: Option<&str>) -> Result<String> {
    let ctx = ops::query::context(s)?;
    let column = |name: &str,
                  class: &str,
                  query: String,
                  queue: crate::index::search::Queue,
                  limit: usize|
     -> Result<String> {
        let parsed = ops::query::parse(s, view, Some(&query))?;
        let found = s.index.search(&parsed, &ctx, queue, limit)?;
        let cards: String = rows(s, &found)?.iter().map(card).collect();
        Ok(format!(
            "<section class=\"column {class}\"><h2>{} <span class=\"count\">{}</span></h2><ul>{cards}</ul></section>",
            h(name),
            found.total
        ))
    };
    use crate::index::search::Queue;
    let form = format!(
        "<form class=\"query\" method=\"get\" action=\"/\"><input name=\"q\" id=\"q\" placeholder=\"label:bug priority:&lt;=1 &quot;free text&quot;\" value=\"{}\">\
         {}<button>Filter</button></form>",
        h(q.unwrap_or("")),
        view.map(|v| format!("<input type=\"hidden\" name=\"view\" value=\"{}\">", h(v)))
            .unwrap_or_default(),
    );
    // Columns of the team's own (`issue.board.column`, repeatable: `NAME: QUERY`, where the
    // query may be `view:NAME` for a saved view), else ready, claimed, blocked, closed recently.
    let configured: Vec<String> = s
        .repo
        .git
        .config_snapshot()
        .strings("issue.board.column")
        .unwrap_or_default()
        .iter()
        .map(|v| v.to_string())
        .collect();
    if !configured.is_empty() {
        let mut columns = String::new();
        for (i, spec) in configured.iter().enumerate() {
            let (name, query) = spec
                .split_once(':')
                .map_or((spec.as_str(), ""), |(n, q)| (n.trim(), q.trim()));
            let query = match query.strip_prefix("view:") {
                Some(v) => ops::query::view(s, v.trim())?,
                None => query.to_owned(),
            };
            columns.push_str(&column(name, &format!("custom c{i}"), and(&query, q), Queue::All, 200)?);
        }
        return Ok(format!("{form}\n<div class=\"board\">{columns}</div>"));
    }
    let ready = {
        let parsed = ops::query::parse(s, view, q)?;
        let found = ops::query::ready(s, &parsed, 200)?;
        let cards: String = rows(s, &found)?.iter().map(card).collect();
        format!(
            "<section class=\"column ready\"><h2>Ready <span class=\"count\">{}</span></h2><ul>{cards}</ul></section>",
            found.total
        )
    };
    let claimed = column("Claimed", "claimed", and("is:open claimed:true", q), Queue::All, 200)?;
    let blocked = column("Blocked", "blocked", and("is:open blocked:true", q), Queue::All, 200)?;
    let closed = column(
        "Closed recently",
        "closed",
        and("is:closed sort:updated-desc", q),
        Queue::All,
        30,
    )?;
    Ok(format!(
        "{form}\n<div class=\"board\">{ready}{claimed}{blocked}{closed}</div>"
    ))
}

/// Markdown as HTML: raw HTML in it becomes text, and only http, https, mailto and relative
/// links are kept.
pub fn markdown(text: &str) -> String {
    use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
    let safe = |url: &CowStr| {
        let u = url.trim().to_ascii_lowercase();
        !u.contains(':') || u.starts_with("http://") || u.starts_with("https://") || u.starts_with("mailto:")
    };
    let events = Parser::new_ext(
        text,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS,
    )
    .map(|ev| match ev {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: if safe(&dest_url) {
                dest_url
            } else {
                CowStr::Borrowed("#")
            },
            title,
            id,
        }),
        // Images from elsewhere would be fetched by the page: shown as their text instead.
        Event::Start(Tag::Image { dest_url, .. }) => Event::Text(CowStr::from(format!("[image: {dest_url}] "))),
        Event::End(pulldown_cmark::TagEnd::Image) => Event::Text(CowStr::Borrowed("")),
        e => e,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

fn issue(s: &Store, query: &str, csrf: &str) -> Result<(String, String)> {
    let d = ops::show::detail(s, query)?;
    let id = s.index.resolve(query)?;
    let v = &d.view;
    let mut m = String::new();
    let state = match v.state {
        State::Open => "<span class=\"state open\">Open</span>",
        State::Closed => "<span class=\"state closed\">Closed</span>",
    };
    let _ = write!(
        m,
        "<h1><span class=\"sid\">{}</span> {}</h1><p class=\"meta\">{state} P{} · {} · opened by {} {}</p>",
        h(&v.short_id),
        h(&v.title),
        v.priority,
        h(&v.issue_type),
        h(&v.author.display()),
        h(&v.created_at)
    );
    if !v.labels.is_empty() {
        m.push_str("<p class=\"labels\">");
        for l in &v.labels {
            let _ = write!(
                m,
                "<span class=\"label\">{}</span><form method=\"post\" action=\"/issue/{}/unlabel\" class=\"inline\">{}<input type=\"hidden\" name=\"label\" value=\"{}\"><button title=\"remove\">×</button></form> ",
                h(l),
                v.id,
                csrf_field(csrf),
                h(l)
            );
        }
        m.push_str("</p>");
    }
    match &d.claim {
        Some(c) => {
            let _ = write!(
                m,
                "<p class=\"claim\">Claimed by {} until {} {}</p>",
                h(&c.who()),
                h(&c.until),
                action(csrf, &v.id, "unclaim", "Unclaim")
            );
        }
        None if v.state == State::Open => {
            let _ = write!(
                m,
                "<p class=\"claim\">Not claimed {}</p>",
                action(csrf, &v.id, "claim", "Claim")
            );
        }
        None => {}
    }
    if !d.links.is_empty() {
        m.push_str("<ul class=\"links\">");
        for l in &d.links {
            let _ = write!(
                m,
                "<li>{} <a href=\"/issue/{}\">{}</a> {}</li>",
                h(&l.link.replace('_', " ")),
                h(&l.id),
                h(&l.short_id),
                h(l.title.as_deref().unwrap_or(""))
            );
        }
        m.push_str("</ul>");
    }
    for c in &d.cycles {
        let _ = write!(
            m,
            "<p class=\"error\">A {} cycle: {}</p>",
            h(c.link),
            h(&c.short_ids.join(" → "))
        );
    }
    let _ = write!(
        m,
        "<article class=\"body\">{}</article>",
        if v.body.is_empty() {
            "<p class=\"none\">No description.</p>".to_owned()
        } else {
            markdown(&v.body)
        }
    );
    m.push_str("<h2>Timeline</h2><ol class=\"timeline\">");
    for step in ops::show::timeline(s, &id)? {
        let _ = write!(
            m,
            "<li class=\"step\" data-event=\"{}\"><span class=\"when\">{}</span> <span class=\"who\">{}</span> {} <span class=\"sig sig-{}\" title=\"{}: key {}\">✓ {}</span>{}</li>",
            h(&step.event),
            h(&step.time),
            h(&step.by),
            h(&step.what),
            match step.signature {
                ops::show::Signature::Local => "local",
                ops::show::Signature::Published => "published",
                ops::show::Signature::Unnamed => "unnamed",
            },
            step.signature.describe(),
            h(&step.signer),
            match step.signature {
                ops::show::Signature::Local => "signed here",
                ops::show::Signature::Published => "signed",
                ops::show::Signature::Unnamed => "signed, unnamed key",
            },
            step.body
                .as_deref()
                .map(|b| format!("<div class=\"comment\">{}</div>", markdown(b)))
                .unwrap_or_default()
        );
    }
    m.push_str("</ol>");
    let _ = write!(
        m,
        "<section class=\"actions\">\
         <form method=\"post\" action=\"/issue/{id}/comment\" class=\"comment-form\">{f}<textarea name=\"body\" rows=\"4\" required placeholder=\"Comment (markdown)\"></textarea><button>Comment</button></form>\
         <form method=\"post\" action=\"/issue/{id}/label\">{f}<input name=\"label\" placeholder=\"label\" required><button>Add label</button></form>\
         <form method=\"post\" action=\"/issue/{id}/edit\">{f}<input name=\"title\" value=\"{title}\" required><button>Rename</button></form>\
         <details><summary>Edit</summary><form method=\"post\" action=\"/issue/{id}/edit\" class=\"edit-form\">{f}\
         <input name=\"title\" value=\"{title}\" required>\
         <textarea name=\"body\" rows=\"6\">{body}</textarea>\
         <select name=\"priority\">{priorities}</select>\
         <select name=\"type\">{types}</select>\
         <button>Save</button></form></details>\
         {state_action}</section>",
        id = v.id,
        f = csrf_field(csrf),
        title = h(&v.title),
        body = h(&v.body),
        priorities = (0..=4u8)
            .map(|p| format!(
                "<option value=\"{p}\"{}>P{p}</option>",
                if p == v.priority { " selected" } else { "" }
            ))
            .collect::<String>(),
        types = crate::issue::TYPES
            .iter()
            .copied()
            .chain((!crate::issue::TYPES.contains(&v.issue_type.as_str())).then_some(v.issue_type.as_str()))
            .map(|t| format!(
                "<option value=\"{0}\"{1}>{0}</option>",
                h(t),
                if t == v.issue_type { " selected" } else { "" }
            ))
            .collect::<String>(),
        state_action = match v.state {
            State::Open => action(csrf, &v.id, "close", "Close"),
            State::Closed => action(csrf, &v.id, "reopen", "Reopen"),
        }
    );
    Ok((format!("{} {}", v.short_id, v.title), m))
}

fn csrf_field(csrf: &str) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">")
}

fn action(csrf: &str, id: &str, what: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/issue/{id}/{what}\" class=\"inline\">{}<button class=\"{what}\">{label}</button></form>",
        csrf_field(csrf)
    )
}

/// Runs an action of the issue page; returns the issue's id.
pub fn act(s: &Store, query: &str, action: &str, form: &HashMap<String, String>) -> Result<String> {
    let id = s.index.resolve(query)?;
    let issues = Issues::new(s);
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::invalid(format!("the form has no {k}"), format!("fill in the {k}")))
    };
    match action {
        "comment" => {
            issues.comment(&id, field("body")?, true)?;
        }
        "close" | "reopen" => {
            let mut change = if action == "close" {
                ops::StateChange::close()
            } else {
                ops::StateChange::reopen()
            };
            change.lock = true;
            let given = |k: &str| {
                form.get(k)
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
            };
            if action == "close" {
                change.reason = given("reason");
            }
            change.comment = given("comment");
            issues.set_state(&id, &change)?;
        }
        "claim" => issues.claim(
            &id,
            crate::lock::parse_duration("4h")?,
            &crate::lock::default_scope(&s.repo),
        )?,
        "unclaim" => issues.unclaim(&id, &crate::lock::default_scope(&s.repo), false)?,
        "label" | "unlabel" | "edit" => {
            let mut edit = ops::Edit {
                lock: true,
                ..ops::Edit::default()
            };
            match action {
                "label" => edit.add_labels = vec![field("label")?.to_owned()],
                "unlabel" => edit.remove_labels = vec![field("label")?.to_owned()],
                _ => {
                    // Only what the form holds changes: a field left out, or as it was, is not
                    // written again (an edit writes an event per field it sets).
                    let cur = s.index.view(&id)?;
                    edit.title = field("title").ok().filter(|t| *t != cur.title).map(str::to_owned);
                    edit.body = form
                        .get("body")
                        .map(|b| b.replace("\r\n", "\n"))
                        .filter(|b| b.trim_end() != cur.body.trim_end());
                    edit.priority = match field("priority").ok() {
                        Some(p) => Some(p.parse::<u8>().ok().filter(|p| *p <= 4).ok_or_else(|| {
                            Error::invalid(format!("'{p}' is not a priority"), "use 0 (most urgent) to 4")
                        })?),
                        None => None,
                    }
                    .filter(|p| *p != cur.priority);
                    edit.issue_type = field("type").ok().filter(|t| *t != cur.issue_type).map(str::to_owned);
                    if edit.is_empty() {
                        return Ok(id.to_hex());
                    }
                }
            }
            issues.edit(&id.to_hex(), &edit)?;
        }
        other => {
            return Err(Error::NotFound {
                what: "action",
                query: other.to_owned(),
            });
        }
    }
    Ok(id.to_hex())
}

fn graph(s: &Store, q: Option<&str>, limit: usize) -> Result<String> {
    let g = ops::graph::graph(s, None, q, limit)?;
    let critical: Vec<String> = g
        .critical_path
        .iter()
        .filter_map(|id| g.nodes.iter().find(|n| &n.id == id))
        .map(|n| format!("<a href=\"/issue/{}\">{}</a>", h(&n.id), h(&n.short_id)))
        .collect();
    let mut top: Vec<&ops::graph::Node> = g.nodes.iter().filter(|n| n.downstream > 0).collect();
    top.sort_by_key(|n| std::cmp::Reverse(n.downstream));
    let unblocks: String = top
        .iter()
        .take(10)
        .map(|n| {
            format!(
                "<li><a href=\"/issue/{}\">{}</a> {} <span class=\"count\">unblocks {}</span></li>",
                h(&n.id),
                h(&n.short_id),
                h(&n.title),
                n.downstream
            )
        })
        .collect();
    Ok(format!(
        "<form class=\"query\" method=\"get\" action=\"/graph\"><input name=\"q\" id=\"q\" placeholder=\"is:open (the default)\" value=\"{}\"><button>Draw</button></form>\
         <p>{} issues, {} links. Critical path ({}): {}</p>\
         <details><summary>What unblocks the most</summary><ol>{unblocks}</ol></details>\
         <div class=\"graph\">{}</div>",
        h(q.unwrap_or("")),
        g.nodes.len(),
        g.edges.len(),
        g.critical_path.len(),
        if critical.is_empty() {
            "none".to_owned()
        } else {
            critical.join(" → ")
        },
        ops::graph::svg(&g, "/issue/")
    ))
}

fn agents(s: &Store) -> Result<String> {
    let claims = ops::locks::claims(s)?;
    let view = crate::lock::View::load(&s.repo, Some(&s.index))?;
    let now = crate::repo::now_ms();
    let sb = crate::ops::Sandboxes::open(s.repo.git.workdir().unwrap_or(s.repo.git.git_dir()))
        .and_then(|x| x.list())
        .unwrap_or_default();
    // Every actor that wrote here, with when its log last moved.
    let mut actors: BTreeMap<String, (String, Option<i64>)> = BTreeMap::new();
    for (name, tip) in crate::refs::list_refs(&s.repo, "refs/grit/wal/")? {
        let Some(hex) = name.rsplit('/').next() else { continue };
        let Some(id) = crate::event::ActorId::from_hex(hex) else {
            continue;
        };
        let when = s
            .repo
            .git
            .find_commit(tip)
            .ok()
            .and_then(|c| c.time().ok())
            .map(|t| t.seconds);
        let author = s.index.author(&id)?;
        actors.insert(
            hex.to_owned(),
            (
                format!("{} ({})", author.display(), crate::actor::which(&s.repo, &id)),
                when,
            ),
        );
    }
    let mut m = String::from(
        "<h1>Agents</h1><table class=\"agents\"><tr><th>Actor</th><th>Claims</th><th>Locks</th><th>Sandboxes</th><th>Last write</th></tr>",
    );
    let mut ordered: Vec<_> = actors.into_iter().collect();
    ordered.sort_by_key(|(_, (_, when))| std::cmp::Reverse(*when));
    for (hex, (who, when)) in ordered {
        let mine: Vec<String> = claims
            .iter()
            .filter(|(_, c)| c.by == hex)
            .map(|(id, _)| {
                let sid = s.index.short_id(id).unwrap_or_default();
                format!("<a href=\"/issue/{}\">{}</a>", id.to_hex(), h(&sid))
            })
            .collect();
        let locks: Vec<String> = view
            .locks
            .values()
            .filter(|l| l.lease.active(now) && l.lease.owner.is_some_and(|o| o.to_hex() == hex))
            .filter(|l| !l.lease.resource.starts_with("issue:"))
            .map(|l| format!("<span title=\"{}\">{}</span>", h(&l.lease.note), h(&l.lease.resource)))
            .collect();
        let issues_of: Vec<&str> = mine.iter().map(String::as_str).collect();
        let boxes: Vec<String> = sb
            .iter()
            .filter(|x| {
                x.issue
                    .as_deref()
                    .is_some_and(|i| claims.iter().any(|(id, c)| c.by == hex && id.to_hex().starts_with(i)))
            })
            .map(|x| format!("<a href=\"/sandbox/{}\">{}</a>", h(&x.name), h(&x.name)))
            .collect();
        let _ = write!(
            m,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            h(&who),
            issues_of.join(" "),
            locks.join(" "),
            boxes.join(" "),
            when.map(|t| crate::repo::format_time(t.max(0) as u64 * 1000))
                .unwrap_or_default()
        );
    }
    m.push_str("</table>");
    Ok(m)
}

fn sandboxes(s: &Store) -> Result<String> {
    let sb = crate::ops::Sandboxes::open(s.repo.git.workdir().unwrap_or(s.repo.git.git_dir()))?;
    let mut m = String::from(
        "<h1>Sandboxes</h1><table class=\"sandboxes\"><tr><th>Name</th><th>Branch</th><th>Backend</th><th>Issue</th><th>State</th><th>Last run</th></tr>",
    );
    for x in sb.list()? {
        let _ = write!(
            m,
            "<tr><td><a href=\"/sandbox/{n}\">{n}</a></td><td>{}</td><td>{:?}</td><td>{}</td><td>{}{} ahead, {} behind</td><td>{}</td></tr>",
            h(&x.branch),
            x.backend,
            x.issue
                .as_deref()
                .map(|i| format!("<a href=\"/issue/{}\">{}</a>", h(i), h(&i[..i.len().min(7)])))
                .unwrap_or_default(),
            if x.dirty { "changed, " } else { "" },
            x.ahead,
            x.behind,
            x.last_run
                .as_ref()
                .map(|r| format!("<code>{}</code> exit {}", h(&r.cmd.join(" ")), r.exit_code))
                .unwrap_or_default(),
            n = h(&x.name),
        );
    }
    m.push_str("</table>");
    Ok(m)
}

fn sandbox(s: &Store, name: &str) -> Result<String> {
    let sb = crate::ops::Sandboxes::open(s.repo.git.workdir().unwrap_or(s.repo.git.git_dir()))?;
    let r = sb.find(name)?;
    let diff = sb.diff(&r)?;
    let patch = sb.patch(&diff, &r)?;
    let mut m = format!(
        "<h1>Sandbox {}</h1><p>branch {} · {} file(s) changed</p>",
        h(&r.name),
        h(&r.branch),
        diff.files.len()
    );
    m.push_str("<pre class=\"diff\">");
    // Each file's code lines are coloured for its language (by the path in its header).
    let mut lang = super::highlight::Lang::Plain;
    for line in patch.lines() {
        let class = match line.as_bytes().first() {
            Some(b'+') if !line.starts_with("+++") => "add",
            Some(b'-') if !line.starts_with("---") => "del",
            Some(b'@') => "hunk",
            _ if line.starts_with("diff ")
                || line.starts_with("index ")
                || line.starts_with("+++")
                || line.starts_with("---") =>
            {
                "head"
            }
            _ => "ctx",
        };
        if let Some(path) = line
            .strip_prefix("+++ b/")
            .or_else(|| line.strip_prefix("diff --git a/"))
        {
            lang = super::highlight::Lang::of(path.split(' ').next().unwrap_or(path));
        }
        match class {
            "add" | "del" | "ctx" if !line.is_empty() => {
                let (mark, code) = line.split_at(1);
                let _ = writeln!(
                    m,
                    "<span class=\"{class}\">{}{}</span>",
                    h(mark),
                    super::highlight::line(lang, code)
                );
            }
            _ => {
                let _ = writeln!(m, "<span class=\"{class}\">{}</span>", h(line));
            }
        }
    }
    m.push_str("</pre><h2>Runs</h2><table class=\"runs\"><tr><th>Started</th><th>Command</th><th>Exit</th><th>Took</th><th>Isolation</th></tr>");
    for run in r.runs.iter().rev() {
        let _ = write!(
            m,
            "<tr class=\"{}\"><td>{}</td><td><code>{}</code></td><td>{}</td><td>{} ms</td><td>{}</td></tr>",
            if run.exit_code == 0 { "ok" } else { "failed" },
            h(&run.started_at),
            h(&run.cmd.join(" ")),
            run.exit_code,
            run.duration_ms,
            h(&run.isolation)
        );
        // The output it left, its last 64 KiB, folded away until asked for.
        if let Some(text) = run.log.as_deref().and_then(|p| log_tail(p, 64 << 10)) {
            let _ = write!(
                m,
                "<tr class=\"log\"><td colspan=\"5\"><details><summary>output</summary><pre class=\"log\">{}</pre></details></td></tr>",
                h(&text)
            );
        }
    }
    m.push_str("</table>");
    Ok(m)
}

/// The last `limit` bytes of a run's log, as text, said to be cut when it is.
fn log_tail(path: &std::path::Path, limit: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let from = len.saturating_sub(limit);
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Some(if from > 0 {
        format!("[… {from} bytes before]\n{text}")
    } else {
        text
    })
}
