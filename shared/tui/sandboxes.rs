//! The sandboxes tab: what `git sandbox list` shows, a coloured diff per file, and the
//! lifecycle keys (shell, rerun, commit, merge after a preview, remove after saying what would
//! be lost), each the library's own operation (`ops::Sandboxes`).

use crate::ops::Sandboxes;
use crate::ops::sandboxes::Listed;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::e;
use super::{Action, App, Effect, Prompt, Then};
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
    pub list: Vec<Listed>,
    pub selected: usize,
    pub diff: Option<DiffView>,
    pub error: Option<String>,
    pub page: usize,
}

impl SandboxesTab {
    pub fn reload(&mut self, dir: &std::path::Path) -> Result<(), CommandError> {
        match Sandboxes::open(dir) {
            Ok(ops) => {
                self.list = ops.list()?;
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
        self.list.get(self.selected).map(|s| s.name.clone())
    }
}

/// The sandbox's diff as `git sandbox diff` shows it (its own changes, untracked files too).
fn diff_of(dir: &std::path::Path, name: &str) -> Result<DiffView, CommandError> {
    let ops = Sandboxes::open(dir)?;
    let r = ops.find(name)?;
    let text = ops.patch(&ops.diff(&r)?, &r)?;
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
            return Effect::Shell(s.path.into());
        }
        KeyCode::Char('r') => {
            if s.last_run.is_none() {
                app.say(format!("nothing ran in sandbox {name} yet"));
            } else {
                return Effect::Repeat(name);
            }
        }
        KeyCode::Char('c') => {
            let cmd = s.last_run.as_ref().map(|r| r.cmd.join(" ")).unwrap_or_default();
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
            let preview = Sandboxes::open(&app.dir).and_then(|ops| ops.preview(&ops.find(&name)?));
            match preview {
                Ok(conflicts) => {
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
                        on_enter: Then::Confirm(Action::MergeSandbox { name }),
                    });
                }
                Err(err) => app.fail(&err.into()),
            }
        }
        KeyCode::Char('D') => {
            let (dirty, ahead) = (s.dirty, s.ahead);
            let mut lost = Vec::new();
            if dirty {
                lost.push("its uncommitted changes are lost".to_owned());
            }
            if ahead > 0 {
                lost.push(format!("{ahead} unmerged commit(s) stay on {}", s.branch));
            }
            let force = dirty || ahead > 0;
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
                on_enter: Then::Confirm(Action::RemoveSandbox { name, force }),
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
            let dirty = s.dirty;
            let row = Row::new(vec![
                Cell::from(e(&s.name)),
                Cell::from(Span::styled(
                    if dirty { "dirty" } else { "clean" },
                    if dirty {
                        theme.fg(Color::Yellow)
                    } else {
                        theme.fg(Color::Green)
                    },
                )),
                Cell::from(format!("+{} -{}", s.ahead, s.behind)),
                Cell::from(format!("{:?}", s.backend).to_lowercase()),
                Cell::from(
                    s.last_run
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |r| format!("exit {}", r.exit_code)),
                ),
                Cell::from(e(&s.path)),
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
        let cmd = s.last_run.as_ref().map(|r| r.cmd.join(" "));
        let lines = vec![
            Line::from(vec![
                Span::styled("branch ", theme.dim()),
                Span::raw(e(&s.branch)),
                Span::styled("  from ", theme.dim()),
                Span::raw(s.base.chars().take(12).collect::<String>()),
                Span::styled("  created ", theme.dim()),
                Span::raw(s.created_at.clone()),
            ]),
            Line::from(vec![
                Span::styled("last run ", theme.dim()),
                Span::raw(e(&cmd.unwrap_or_else(|| "(none)".into()))),
            ]),
            Line::from(vec![
                Span::styled("issue ", theme.dim()),
                Span::raw(
                    s.issue
                        .as_deref()
                        .map_or("-".to_owned(), |i| i.chars().take(12).collect()),
                ),
                Span::styled("  locks ", theme.dim()),
                Span::raw(e(&s.locks.join(", "))),
            ]),
        ];
        f.render_widget(Paragraph::new(lines).block(Block::default()), info);
    }
}
