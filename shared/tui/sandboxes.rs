//! The sandboxes tab: what `git sandbox list` shows, a coloured diff per file, and the
//! lifecycle keys (shell, rerun, commit, merge after a preview, remove after saying what would
//! be lost), each the CLI's own command.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};
use serde_json::Value;

use super::e;
use super::{App, Effect, Prompt, Then};
use crate::cli::CommandError;

pub const KEYS: &[(&str, &str)] = &[
    ("j k ↑ ↓", "move"),
    ("Enter d", "show its diff (n p: next, previous file; Esc closes)"),
    ("s", "open $SHELL in it (exit to come back)"),
    ("r", "run its last command again"),
    ("c", "commit what changed in it"),
    ("M", "merge it into the current branch, after a preview"),
    ("D", "remove it, after saying what would be lost"),
];

/// A diff on screen.
#[derive(Debug, Clone, Default)]
pub struct DiffView {
    pub name: String,
    pub lines: Vec<String>,
    /// The line each file starts at.
    pub files: Vec<usize>,
    pub scroll: usize,
}

#[derive(Default)]
pub struct SandboxesTab {
    pub list: Vec<Value>,
    pub selected: usize,
    pub diff: Option<DiffView>,
    pub error: Option<String>,
    pub page: usize,
}

impl SandboxesTab {
    pub fn reload(&mut self, dir: &std::path::Path) -> Result<(), CommandError> {
        match crate::sandbox::Main::discover(dir) {
            Ok(main) => {
                let v = crate::cli::sandbox::list_json(&main)?;
                self.list = v.as_array().cloned().unwrap_or_default();
                self.error = None;
            }
            Err(e) => {
                self.list.clear();
                self.error = Some(e.to_string());
            }
        }
        self.selected = self.selected.min(self.list.len().saturating_sub(1));
        Ok(())
    }

    fn name(&self) -> Option<String> {
        self.list
            .get(self.selected)
            .and_then(|s| s["name"].as_str())
            .map(str::to_owned)
    }
}

/// The sandbox's diff as `git sandbox diff` shows it (its own changes, untracked files too).
fn diff_of(dir: &std::path::Path, name: &str) -> Result<DiffView, CommandError> {
    let main = crate::sandbox::Main::discover(dir)?;
    let r = crate::cli::sandbox::find_ready(&main, name)?;
    let (from, to) = crate::cli::sandbox::diff_trees(&r)?;
    let text = crate::sandbox::git_in(&r.path, &["diff", "--no-color", &from, &to])?;
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let files = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("diff --git "))
        .map(|(i, _)| i)
        .collect();
    Ok(DiffView {
        name: name.to_owned(),
        lines,
        files,
        scroll: 0,
    })
}

pub fn key(app: &mut App, k: KeyEvent) -> Effect {
    let page = app.sandboxes.page.max(1);
    if let Some(d) = app.sandboxes.diff.as_mut() {
        let last = d.lines.len().saturating_sub(1);
        match k.code {
            KeyCode::Esc | KeyCode::Char('d') | KeyCode::Enter => app.sandboxes.diff = None,
            KeyCode::Char('j') | KeyCode::Down => d.scroll = (d.scroll + 1).min(last),
            KeyCode::Char('k') | KeyCode::Up => d.scroll = d.scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => d.scroll = (d.scroll + page).min(last),
            KeyCode::PageUp => d.scroll = d.scroll.saturating_sub(page),
            KeyCode::Char('n') => {
                if let Some(f) = d.files.iter().find(|f| **f > d.scroll) {
                    d.scroll = *f;
                }
            }
            KeyCode::Char('p') => {
                if let Some(f) = d.files.iter().rev().find(|f| **f < d.scroll) {
                    d.scroll = *f;
                }
            }
            _ => {}
        }
        return Effect::None;
    }
    let t = &mut app.sandboxes;
    let last = t.list.len().saturating_sub(1);
    match k.code {
        KeyCode::Char('j') | KeyCode::Down => t.selected = (t.selected + 1).min(last),
        KeyCode::Char('k') | KeyCode::Up => t.selected = t.selected.saturating_sub(1),
        _ => {}
    }
    let Some(name) = t.name() else { return Effect::None };
    let s = t.list[t.selected].clone();
    match k.code {
        KeyCode::Enter | KeyCode::Char('d') => match diff_of(&app.dir, &name) {
            Ok(d) if d.lines.is_empty() => app.say(format!("sandbox {name} has no changes of its own")),
            Ok(d) => app.sandboxes.diff = Some(d),
            Err(e) => app.fail(&e),
        },
        KeyCode::Char('s') => {
            if let Some(p) = s["path"].as_str() {
                return Effect::Shell(p.into());
            }
        }
        KeyCode::Char('r') => {
            if s["last_run"].is_null() {
                app.say(format!("nothing ran in sandbox {name} yet"));
            } else {
                return Effect::Run(vec!["sandbox".into(), "repeat".into(), name]);
            }
        }
        KeyCode::Char('c') => {
            let cmd = s["last_run"]["cmd"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            app.prompt = Some(Prompt {
                question: format!("commit message for {name}:"),
                input: if cmd.is_empty() {
                    format!("sandbox {name}")
                } else {
                    format!("sandbox {name}: {cmd}")
                },
                on_enter: Then::Commit(name),
            });
        }
        KeyCode::Char('M') => {
            match super::run_cli_output(&app.dir, &["sandbox", "merge", &name, "--preview", "--json"]) {
                Ok(out) => {
                    let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
                    let conflicts: Vec<&str> = v["conflicts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    let question = if conflicts.is_empty() {
                        format!("merge {name} into the current branch (no conflicts)? y/n")
                    } else {
                        format!(
                            "merge {name}? it conflicts in {}: {} — y/n",
                            conflicts.len(),
                            e(&conflicts.join(", "))
                        )
                    };
                    app.prompt = Some(Prompt {
                        question,
                        input: String::new(),
                        on_enter: Then::Confirm(vec!["sandbox".into(), "merge".into(), name]),
                    });
                }
                Err(e) => app.fail(&e),
            }
        }
        KeyCode::Char('D') => {
            let dirty = s["dirty"] == true;
            let ahead = s["ahead"].as_u64().unwrap_or(0);
            let mut lost = Vec::new();
            if dirty {
                lost.push("its uncommitted changes are lost".to_owned());
            }
            if ahead > 0 {
                lost.push(format!(
                    "{ahead} unmerged commit(s) stay on {}",
                    s["branch"].as_str().unwrap_or("its branch")
                ));
            }
            let mut argv = vec!["sandbox".to_owned(), "rm".to_owned(), name.clone()];
            if dirty || ahead > 0 {
                argv.push("--force".into());
            }
            app.prompt = Some(Prompt {
                question: format!(
                    "remove sandbox {name}{}? y/n",
                    if lost.is_empty() {
                        " (nothing is lost)".to_owned()
                    } else {
                        format!(": {}", lost.join("; "))
                    }
                ),
                input: String::new(),
                on_enter: Then::Confirm(argv),
            });
        }
        _ => {}
    }
    Effect::None
}

pub fn render(app: &mut App, f: &mut Frame, area: Rect) {
    let theme = app.theme;
    if let Some(d) = &app.sandboxes.diff {
        let height = area.height.saturating_sub(2) as usize;
        app.sandboxes.page = height;
        let file = d.files.iter().filter(|f| **f <= d.scroll).count();
        let lines: Vec<Line> = d
            .lines
            .iter()
            .skip(d.scroll)
            .take(height)
            .map(|l| {
                let header = ["diff --git", "index ", "+++", "---"].iter().any(|p| l.starts_with(p));
                let style = if header {
                    theme.bold()
                } else if l.starts_with('+') {
                    theme.fg(Color::Green)
                } else if l.starts_with('-') {
                    theme.fg(Color::Red)
                } else if l.starts_with("@@") {
                    theme.fg(Color::Cyan)
                } else {
                    Default::default()
                };
                Line::from(Span::styled(e(l), style))
            })
            .collect();
        f.render_widget(
            Paragraph::new(lines).block(Block::bordered().title(format!(
                " diff of {} · file {file} of {} · line {} of {} ",
                e(&d.name),
                d.files.len(),
                d.scroll + 1,
                d.lines.len()
            ))),
            area,
        );
        return;
    }
    let t = &mut app.sandboxes;
    if let Some(err) = &t.error {
        f.render_widget(Paragraph::new(Span::styled(e(err), theme.dim())), area);
        return;
    }
    if t.list.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled(
                "no sandboxes; `git sandbox run NAME -- CMD` makes one",
                theme.dim(),
            )),
            area,
        );
        return;
    }
    let [list_area, info] = Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(area);
    t.page = list_area.height.saturating_sub(1) as usize;
    let rows: Vec<Row> = t
        .list
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let dirty = s["dirty"] == true;
            let row = Row::new(vec![
                Cell::from(e(s["name"].as_str().unwrap_or(""))),
                Cell::from(Span::styled(
                    if dirty { "dirty" } else { "clean" },
                    if dirty {
                        theme.fg(Color::Yellow)
                    } else {
                        theme.fg(Color::Green)
                    },
                )),
                Cell::from(format!("+{} -{}", s["ahead"], s["behind"])),
                Cell::from(s["backend"].as_str().unwrap_or("").to_owned()),
                Cell::from(
                    s["last_run"]["exit_code"]
                        .as_i64()
                        .map_or_else(|| "-".to_owned(), |c| format!("exit {c}")),
                ),
                Cell::from(e(s["path"].as_str().unwrap_or(""))),
            ]);
            if i == t.selected {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Max(20),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(vec!["name", "state", "commits", "backend", "last run", "path"]).style(theme.bold()))
    .column_spacing(1);
    f.render_widget(table, list_area);
    if let Some(s) = t.list.get(t.selected) {
        let cmd = s["last_run"]["cmd"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "));
        let lines = vec![
            Line::from(vec![
                Span::styled("branch ", theme.dim()),
                Span::raw(e(s["branch"].as_str().unwrap_or(""))),
                Span::styled("  from ", theme.dim()),
                Span::raw(s["base"].as_str().unwrap_or("").chars().take(12).collect::<String>()),
                Span::styled("  created ", theme.dim()),
                Span::raw(s["created_at"].as_str().unwrap_or("").to_owned()),
            ]),
            Line::from(vec![
                Span::styled("last run ", theme.dim()),
                Span::raw(e(&cmd.unwrap_or_else(|| "(none)".into()))),
            ]),
            Line::from(vec![
                Span::styled("issue ", theme.dim()),
                Span::raw(
                    s["issue"]
                        .as_str()
                        .map_or("-".to_owned(), |i| i.chars().take(12).collect()),
                ),
                Span::styled("  locks ", theme.dim()),
                Span::raw(e(&s["locks"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default())),
            ]),
        ];
        f.render_widget(Paragraph::new(lines).block(Block::default()), info);
    }
}
