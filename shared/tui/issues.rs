//! The issues tab: a query bar with the `list -S` language that filters as you type, a list
//! that reads only the rows on screen (so 100,000 issues scroll as fast as 100), and the
//! selected issue's body, comments and links.

use std::collections::{BTreeSet, HashMap};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Wrap};
use serde_json::Value;

use super::e;
use super::{Action, App, Effect, Prompt, Purpose, Then};
use crate::cli::CommandError;
use crate::event::Id;
use crate::index::search::Queue;
use crate::issue::IssueView;
use crate::ops::Claim;
use crate::store::Store;

pub const KEYS: &[(&str, &str)] = &[
    ("j k ↑ ↓", "move (PgUp PgDn g G: by page, to the ends)"),
    ("/", "edit the query (as list -S); Enter, Esc: done"),
    ("c", "create an issue in $EDITOR"),
    ("m", "comment on the issue in $EDITOR"),
    ("x", "close the issue, or reopen it"),
    ("l", "edit its labels"),
    ("a", "claim it, or give your claim up"),
    ("e", "edit title, body, priority, type, assignees"),
    ("s", "sort: updated, priority, created, the query's"),
    ("1-9", "jump to the issue of that link (b: back)"),
    ("y", "copy its id (to the terminal's clipboard)"),
    ("J K", "scroll the details"),
];

/// The sorts `s` steps through; after the last, the query's own (none).
const SORTS: [&str; 3] = ["sort:updated", "sort:priority", "sort:created"];

/// The query with its sort replaced by the next of [`SORTS`] (or removed after the last).
pub fn next_sort(query: &str) -> String {
    let mut terms: Vec<&str> = query.split_whitespace().collect();
    let current = terms.iter().position(|t| t.starts_with("sort:"));
    let next = match current.map(|i| terms[i]) {
        None => Some(SORTS[0]),
        Some(t) => SORTS
            .iter()
            .position(|s| t.starts_with(s))
            .and_then(|i| SORTS.get(i + 1))
            .copied(),
    };
    if let Some(i) = current {
        terms.remove(i);
    }
    terms.extend(next);
    terms.join(" ")
}

/// The text `e` opens: the fields as `key: value` lines, `---`, then the body.
pub fn edit_template(v: &IssueView) -> String {
    format!(
        "title: {}\npriority: {}\ntype: {}\nassignees: {}\n---\n{}\n\n\
         # Change the fields above the --- line and the body below it.\n\
         # Lines starting with # are left out; an empty text cancels.\n",
        v.title,
        v.priority,
        v.issue_type,
        v.assignees.join(", "),
        v.body
    )
}

/// The edit that turns `v` into what `text` (an [`edit_template`], edited) says; an error names
/// a line that does not read.
pub fn parse_edit(v: &IssueView, text: &str) -> Result<crate::ops::Edit, String> {
    let text = crate::text::edited(text).ok_or("the text was left empty")?;
    let (head, body) = text
        .split_once("\n---")
        .ok_or("the --- line between the fields and the body is gone")?;
    let mut edit = crate::ops::Edit::default();
    for line in head.lines().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("'{line}' is not `field: value`"))?;
        let value = value.trim();
        match key.trim() {
            "title" if value != v.title => edit.title = Some(value.to_owned()),
            "priority" => {
                let p: u8 = value
                    .parse()
                    .ok()
                    .filter(|p| *p <= 4)
                    .ok_or_else(|| format!("priority '{value}' is not 0 to 4"))?;
                if p != v.priority {
                    edit.priority = Some(p);
                }
            }
            "type" if value != v.issue_type => edit.issue_type = Some(value.to_owned()),
            "assignees" => {
                let want: BTreeSet<String> = value
                    .split(',')
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty())
                    .collect();
                let have: BTreeSet<String> = v.assignees.iter().cloned().collect();
                edit.add_assignees = want.difference(&have).cloned().collect();
                edit.remove_assignees = have.difference(&want).cloned().collect();
            }
            "title" | "type" => {}
            other => return Err(format!("'{other}' is not a field (title, priority, type, assignees)")),
        }
    }
    let body = body.trim_start_matches('-').trim();
    if body != v.body.trim() {
        edit.body = Some(body.to_owned());
    }
    Ok(edit)
}

/// One row on screen.
#[derive(Debug, Clone)]
pub struct RowView {
    pub id: Id,
    pub short: String,
    pub title: String,
    pub open: bool,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub priority: u8,
    pub issue_type: String,
    pub updated: String,
}

/// The issue shown in the details.
#[derive(Debug, Clone)]
pub struct Detail {
    pub id: Id,
    pub view: IssueView,
    /// How each linked issue relates, its id, short id, title, and whether it is open.
    pub links: Vec<(String, Id, String, String, bool)>,
}

#[derive(Default)]
pub struct IssuesTab {
    pub query: String,
    pub editing: bool,
    pub query_error: Option<String>,
    /// Every issue the query matches, in order.
    pub hits: Vec<(Id, u64)>,
    pub selected: usize,
    pub offset: usize,
    /// The rows read for the window starting at `rows_from`.
    pub rows: Vec<RowView>,
    pub rows_from: usize,
    pub detail: Option<Detail>,
    /// A linked issue jumped to that is not in the list: shown until the selection moves.
    pub pinned: Option<Id>,
    pub detail_scroll: u16,
    pub claims: HashMap<Id, Claim>,
    pub me: Option<String>,
    /// Rows that fit on screen, as last drawn.
    pub page: usize,
    /// Where each link jump came from (the selection and the pinned issue), for `b`.
    pub back: Vec<(usize, Option<Id>)>,
}

impl IssuesTab {
    /// Runs the query again and rereads what is on screen.
    pub fn reload(&mut self, store: &Store) -> Result<(), CommandError> {
        self.claims = crate::ops::locks::claims(store)?;
        let label = crate::actor::selected_label(&store.repo);
        self.me = crate::actor::find(&store.repo, &label)?.map(|a| a.id().to_hex());
        self.search(store)?;
        self.rows.clear();
        self.load_detail(store)
    }

    fn search(&mut self, store: &Store) -> Result<(), CommandError> {
        let q = match crate::query::parse(&self.query, crate::repo::now_ms()) {
            Ok(mut q) => {
                crate::ops::query::resolve_me(store, &mut q)?;
                q
            }
            Err(e) => {
                // Keep showing the last result while the query is being typed.
                self.query_error = Some(e.message);
                return Ok(());
            }
        };
        self.query_error = None;
        let ctx = crate::ops::query::context_of(store, &self.claims)?;
        let found = store.index.search(&q, &ctx, Queue::All, 0)?;
        let keep = self.hits.get(self.selected).map(|h| h.0);
        self.hits = found.hits.iter().map(|h| (h.id, h.facts.created_ms)).collect();
        self.selected = keep
            .and_then(|k| self.hits.iter().position(|h| h.0 == k))
            .unwrap_or(0)
            .min(self.hits.len().saturating_sub(1));
        self.rows.clear();
        Ok(())
    }

    pub fn selected_id(&self) -> Option<Id> {
        self.pinned.or_else(|| self.hits.get(self.selected).map(|h| h.0))
    }

    /// Selects an issue: in the list if the query shows it, else pinned in the details.
    pub fn select(&mut self, store: &Store, id: Id) {
        match self.hits.iter().position(|h| h.0 == id) {
            Some(i) => {
                self.selected = i;
                self.pinned = None;
            }
            None => self.pinned = Some(id),
        }
        self.detail_scroll = 0;
        let _ = self.load_detail(store);
    }

    fn load_detail(&mut self, store: &Store) -> Result<(), CommandError> {
        self.detail = None;
        let Some(id) = self.selected_id() else { return Ok(()) };
        let view = store.index.view(&id)?;
        let mut links = Vec::new();
        for (byte, other) in store.index.links_of(&id)? {
            let name = link_name(byte);
            let (short, title, open) = match store.index.issue(&other)? {
                Some(s) => (
                    store.index.short_id(&other)?,
                    s.title.as_ref().map(|t| t.value.clone()).unwrap_or_default(),
                    s.state() == crate::event::State::Open,
                ),
                None => (other.to_hex()[..7].to_owned(), "(not here yet)".into(), false),
            };
            links.push((name.to_owned(), other, short, title, open));
        }
        self.detail = Some(Detail { id, view, links });
        Ok(())
    }

    /// Reads the rows of the window `[from, from + n)` unless they are read already.
    fn ensure_rows(&mut self, store: &Store, from: usize, n: usize) -> Result<(), CommandError> {
        let to = (from + n).min(self.hits.len());
        if self.rows_from == from && self.rows.len() == to.saturating_sub(from) && !self.rows.is_empty() {
            return Ok(());
        }
        let ids: Vec<Id> = self.hits[from..to].iter().map(|h| h.0).collect();
        let mut sums = store.index.summaries(&ids)?;
        self.rows = ids
            .iter()
            .filter_map(|id| sums.remove(id).map(|v| row_view(*id, &v)))
            .collect();
        self.rows_from = from;
        Ok(())
    }

    fn moved(&mut self, store: &Store) -> Result<(), CommandError> {
        self.pinned = None;
        self.detail_scroll = 0;
        self.load_detail(store)
    }

    pub fn query_key(&mut self, store: &Store, k: KeyEvent) {
        match k.code {
            KeyCode::Enter | KeyCode::Esc => self.editing = false,
            KeyCode::Backspace => {
                self.query.pop();
            }
            KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => self.query.clear(),
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => self.query.push(c),
            _ => return,
        }
        if self.search(store).is_ok() {
            let _ = self.moved(store);
        }
    }
}

fn link_name(byte: u8) -> &'static str {
    use crate::index::tables::*;
    match byte {
        BLOCKED_BY => "blocked by",
        BLOCKS => "blocks",
        RELATED | RELATED_FROM => "related",
        DUPLICATE_OF => "duplicate of",
        DUPLICATED_BY => "duplicated by",
        DISCOVERED_FROM => "discovered from",
        DISCOVERED => "discovered",
        PARENT => "parent",
        CHILD => "child",
        _ => "linked",
    }
}

fn row_view(id: Id, v: &Value) -> RowView {
    let strs = |k: &str| -> Vec<String> {
        v[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect()
    };
    RowView {
        id,
        short: v["short_id"].as_str().unwrap_or("").to_owned(),
        title: v["title"].as_str().unwrap_or("").to_owned(),
        open: v["state"] == "open",
        labels: strs("labels"),
        assignees: strs("assignees"),
        priority: v["priority"].as_u64().unwrap_or(2) as u8,
        issue_type: v["type"].as_str().unwrap_or("").to_owned(),
        updated: v["updated_at"].as_str().unwrap_or("").chars().take(10).collect(),
    }
}

pub fn key(app: &mut App, k: KeyEvent) -> Effect {
    let t = &mut app.issues;
    let last = t.hits.len().saturating_sub(1);
    let page = t.page.max(1);
    let before = (t.selected, t.pinned);
    match k.code {
        KeyCode::Char('j') | KeyCode::Down => t.selected = (t.selected + 1).min(last),
        KeyCode::Char('k') | KeyCode::Up => t.selected = t.selected.saturating_sub(1),
        KeyCode::PageDown => t.selected = (t.selected + page).min(last),
        KeyCode::PageUp => t.selected = t.selected.saturating_sub(page),
        KeyCode::Char('g') | KeyCode::Home => t.selected = 0,
        KeyCode::Char('G') | KeyCode::End => t.selected = last,
        KeyCode::Char('J') => t.detail_scroll = t.detail_scroll.saturating_add(3),
        KeyCode::Char('K') => t.detail_scroll = t.detail_scroll.saturating_sub(3),
        KeyCode::Char('/') => {
            // What is typed is a new term, not the end of the last one (`is:opencache`).
            if !t.query.is_empty() && !t.query.ends_with(' ') {
                t.query.push(' ');
            }
            t.editing = true;
        }
        KeyCode::Char('c') => {
            return Effect::Edit {
                template: crate::text::ISSUE_TEMPLATE.into(),
                purpose: Purpose::Create,
            };
        }
        KeyCode::Char('s') => {
            t.query = next_sort(&t.query);
            let r = t.reload(&app.store);
            app.report(r);
            let sort = app
                .issues
                .query
                .split_whitespace()
                .find(|w| w.starts_with("sort:"))
                .map(str::to_owned);
            app.say(match sort {
                Some(s) => format!("sorted: {s}"),
                None => "sorted as the query says".into(),
            });
            return Effect::None;
        }
        KeyCode::Char('b') | KeyCode::Backspace => {
            let Some((selected, pinned)) = t.back.pop() else {
                app.say("nothing to go back to");
                return Effect::None;
            };
            t.selected = selected.min(last);
            t.pinned = pinned;
            t_reload_detail(app);
            return Effect::None;
        }
        KeyCode::Char(c @ '1'..='9') => {
            let n = c as usize - '1' as usize;
            let Some((_, other, short, _, _)) = t.detail.as_ref().and_then(|d| d.links.get(n)).cloned() else {
                return Effect::None;
            };
            t.back.push((t.selected, t.pinned));
            match t.hits.iter().position(|h| h.0 == other) {
                Some(i) => {
                    t.selected = i;
                    t.pinned = None;
                }
                None => {
                    t.pinned = Some(other);
                    app.say(format!("{short} is not in this list (the query leaves it out)"));
                }
            }
            t_reload_detail(app);
            return Effect::None;
        }
        _ => {}
    }
    if (t.selected, t.pinned) != before {
        let r = app.issues.moved(&app.store);
        app.report(r);
        return Effect::None;
    }
    let Some(id) = app.issues.selected_id() else {
        return Effect::None;
    };
    let hex = id.to_hex();
    let Some(d) = app.issues.detail.as_ref() else {
        return Effect::None;
    };
    let short = d.view.short_id.clone();
    match k.code {
        KeyCode::Char('e') => Effect::Edit {
            template: edit_template(&d.view),
            purpose: Purpose::Edit(hex),
        },
        KeyCode::Char('y') => {
            app.say(format!("copied {hex}"));
            Effect::Copy(hex)
        }
        KeyCode::Char('m') => Effect::Edit {
            template: format!(
                "\n\n# A comment on {short}: {}\n# Lines starting with # are left out; an empty text cancels.\n",
                e(&d.view.title)
            ),
            purpose: Purpose::Comment(hex),
        },
        KeyCode::Char('x') => {
            let close = d.view.state == crate::event::State::Open;
            // Another agent is working on it: closing it under them is asked first.
            let theirs = app
                .issues
                .claims
                .get(&id)
                .filter(|c| Some(&c.by) != app.issues.me.as_ref())
                .map(|c| c.who());
            match theirs {
                Some(who) if close => {
                    app.prompt = Some(Prompt {
                        question: format!("{short} is claimed by {}; close it anyway? (y/n)", e(&who)),
                        input: String::new(),
                        on_enter: Then::Confirm(Action::SetState { id: hex, close }),
                    });
                }
                _ => app.run(
                    Action::SetState { id: hex, close },
                    &format!("{} {short}", if close { "closed" } else { "reopened" }),
                ),
            }
            Effect::None
        }
        KeyCode::Char('l') => {
            app.prompt = Some(Prompt {
                question: format!("labels of {short} (comma-separated):"),
                input: d.view.labels.join(", "),
                on_enter: Then::Labels(hex),
            });
            Effect::None
        }
        KeyCode::Char('a') => {
            let mine = app
                .issues
                .claims
                .get(&id)
                .is_some_and(|c| Some(&c.by) == app.issues.me.as_ref());
            if mine {
                app.apply(&format!("gave up the claim on {short}"), |store| {
                    let scope = crate::lock::default_scope(&store.repo);
                    crate::ops::Issues::new(store).unclaim(&id, &scope, false)?;
                    Ok(Vec::new())
                });
            } else {
                app.apply(&format!("claimed {short}"), |store| {
                    let scope = crate::lock::default_scope(&store.repo);
                    crate::ops::Issues::new(store).claim(&id, CLAIM_TTL, &scope)?;
                    Ok(Vec::new())
                });
            }
            Effect::None
        }
        _ => Effect::None,
    }
}

fn t_reload_detail(app: &mut App) {
    app.issues.detail_scroll = 0;
    let r = app.issues.load_detail(&app.store);
    app.report(r);
}

/// Applies an edited label list: what was added and what was removed, in one edit.
/// How long a claim from the UI lasts unless renewed (as `git issue claim`'s default).
const CLAIM_TTL: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

pub fn set_labels(app: &mut App, id: &str, input: &str) {
    let want: std::collections::BTreeSet<String> = input
        .split(',')
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    let have: std::collections::BTreeSet<String> = app
        .issues
        .detail
        .as_ref()
        .map(|d| d.view.labels.iter().cloned().collect())
        .unwrap_or_default();
    let edit = crate::ops::Edit {
        add_labels: want.difference(&have).cloned().collect(),
        remove_labels: have.difference(&want).cloned().collect(),
        ..Default::default()
    };
    if edit.is_empty() {
        return app.say("the labels are as they were");
    }
    let id = id.to_owned();
    app.apply("labels changed", |store| {
        Ok(crate::ops::Issues::new(store).edit(&id, &edit)?.warnings)
    });
}

pub fn render(app: &mut App, f: &mut Frame, area: Rect) {
    let wide = area.width >= 120;
    let [list_area, detail_area] = if wide {
        // The details keep to a readable measure; a wider screen goes to the list's titles.
        let detail = (area.width * 42 / 100).min(76);
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(detail)]).areas(area)
    } else {
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area)
    };
    let [bar, table_area] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(list_area);
    let theme = app.theme;
    let t = &mut app.issues;
    // The query bar.
    let mut spans = vec![
        Span::styled("/ ", theme.bold()),
        Span::styled(
            e(&t.query),
            if t.editing {
                theme.fg(Color::Yellow)
            } else {
                Default::default()
            },
        ),
    ];
    if t.editing {
        spans.push(Span::styled("▏", theme.dim()));
    }
    match &t.query_error {
        Some(err) => spans.push(Span::styled(format!("  {}", e(err)), theme.fg(Color::Red))),
        None => spans.push(Span::styled(format!("  {} issue(s)", t.hits.len()), theme.dim())),
    }
    f.render_widget(Paragraph::new(Line::from(spans)), bar);
    // The rows on screen, and only those.
    let visible = table_area.height.saturating_sub(1) as usize;
    t.page = visible;
    if t.selected < t.offset {
        t.offset = t.selected;
    } else if visible > 0 && t.selected >= t.offset + visible {
        t.offset = t.selected + 1 - visible;
    }
    let offset = t.offset;
    if let Err(e) = t.ensure_rows(&app.store, offset, visible) {
        app.fail(&e);
        return;
    }
    let t = &app.issues;
    let narrow = table_area.width < 100;
    // The labels and who columns are as wide as what they show (within a bound), so that the
    // title takes the rest.
    let (mut labels_w, mut who_w) = (6u16, 3u16);
    for r in &t.rows {
        let who = match t.claims.get(&r.id) {
            Some(c) => 2 + c.by_name.chars().count(),
            None => r.assignees.join(",").chars().count(),
        };
        labels_w = labels_w.max(r.labels.join(",").chars().count() as u16);
        who_w = who_w.max(who as u16);
    }
    let (labels_w, who_w) = (
        labels_w.min(if narrow { 10 } else { 18 }),
        who_w.min(if narrow { 10 } else { 16 }),
    );
    let rows: Vec<Row> = t
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let who = match t.claims.get(&r.id) {
                Some(c) => format!("⚑ {}", c.by_name),
                None => r.assignees.join(","),
            };
            let mut cells = vec![Cell::from(r.short.clone()), Cell::from(format!("P{}", r.priority))];
            if !narrow {
                cells.push(Cell::from(r.issue_type.clone()));
            }
            cells.push(Cell::from(Span::styled(
                if r.open { "open" } else { "closed" },
                if r.open {
                    theme.fg(Color::Green)
                } else {
                    theme.fg(Color::Magenta)
                },
            )));
            cells.push(Cell::from(e(&r.title)));
            cells.push(Cell::from(Span::styled(e(&r.labels.join(",")), theme.fg(Color::Cyan))));
            cells.push(Cell::from(e(&who)));
            if !narrow {
                cells.push(Cell::from(r.updated.clone()));
            }
            let row = Row::new(cells);
            if offset + i == t.selected && t.pinned.is_none() {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    let mut widths = vec![Constraint::Length(7), Constraint::Length(2)];
    let mut header = vec!["id", "P"];
    if !narrow {
        widths.push(Constraint::Length(7));
        header.push("type");
    }
    widths.extend([
        Constraint::Length(6),
        // The title takes what the other columns leave.
        Constraint::Fill(1),
        Constraint::Length(labels_w),
        Constraint::Length(who_w),
    ]);
    header.extend(["state", "title", "labels", "who"]);
    if !narrow {
        widths.push(Constraint::Length(10));
        header.push("updated");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.bold()))
        .column_spacing(1);
    f.render_widget(table, table_area);
    if t.hits.is_empty() {
        let msg = if t.query_error.is_some() {
            "the query does not parse yet"
        } else {
            "no issue matches; `c` creates one, `/` changes the query"
        };
        f.render_widget(
            Paragraph::new(Span::styled(msg, theme.dim())),
            Rect::new(table_area.x, table_area.y + 1, table_area.width, 1),
        );
    }
    render_detail(app, f, detail_area);
}

fn render_detail(app: &App, f: &mut Frame, area: Rect) {
    let theme = app.theme;
    let t = &app.issues;
    let block = Block::bordered().title(" details ");
    let Some(d) = &t.detail else {
        f.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let v = &d.view;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} ", v.short_id), theme.fg(Color::Yellow)),
            Span::styled(e(&v.title), theme.bold()),
        ]),
        Line::from(vec![Span::styled(
            format!(
                "{}{} · P{} {} · by {} · {}{}",
                match v.state {
                    crate::event::State::Open => "open",
                    crate::event::State::Closed => "closed",
                },
                v.state_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
                v.priority,
                v.issue_type,
                e(&v.author.display()),
                v.created_at.chars().take(10).collect::<String>(),
                v.source.as_deref().map(|s| format!(" · {}", e(s))).unwrap_or_default(),
            ),
            theme.dim(),
        )]),
    ];
    if !v.labels.is_empty() || !v.assignees.is_empty() {
        lines.push(Line::from(vec![
            Span::styled(e(&v.labels.join(", ")), theme.fg(Color::Cyan)),
            Span::raw(if v.assignees.is_empty() { "" } else { "  → " }),
            Span::raw(e(&v.assignees.join(", "))),
        ]));
    }
    if let Some(c) = t.claims.get(&d.id) {
        lines.push(Line::from(Span::styled(
            format!("claimed by {} until {}", e(&c.who()), c.until),
            theme.fg(Color::Yellow),
        )));
    }
    for (i, (name, _, short, title, open)) in d.links.iter().enumerate() {
        lines.push(Line::from(vec![
            Span::styled(format!("[{}] ", i + 1), theme.bold()),
            Span::raw(format!("{name} ")),
            Span::styled(format!("{short} "), theme.fg(Color::Yellow)),
            Span::styled(e(title), if *open { Default::default() } else { theme.dim() }),
        ]));
    }
    lines.push(Line::from(""));
    for l in v.body.lines() {
        lines.push(Line::from(e(l)));
    }
    for c in &v.comments {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            format!(
                "— {} · {}",
                e(&c.author.display()),
                c.created_at.chars().take(16).collect::<String>()
            ),
            theme.dim(),
        )));
        for l in c.body.lines() {
            lines.push(Line::from(e(l)));
        }
    }
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((t.detail_scroll, 0)),
        area,
    );
}
