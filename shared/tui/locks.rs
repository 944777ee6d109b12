//! The locks tab: the leases this clone knows of, with their owner, expiry and note; yours are
//! released with a key, another's only after a confirmation (`git lock release --force`).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Color;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::e;
use super::{Action, App, Effect, Prompt, Then};
use crate::cli::CommandError;
use crate::store::Store;

pub const KEYS: &[(&str, &str)] = &[
    ("j k ↑ ↓", "move"),
    ("x", "release the lease (another's: asks first, then forces it)"),
];

#[derive(Debug, Clone)]
pub struct LockRow {
    pub resource: String,
    pub owner: String,
    pub mine: bool,
    pub active: bool,
    pub expires: String,
    pub note: String,
    pub source: String,
}

#[derive(Default)]
pub struct LocksTab {
    pub rows: Vec<LockRow>,
    pub selected: usize,
}

impl LocksTab {
    pub fn reload(&mut self, store: &Store) -> Result<(), CommandError> {
        let view = crate::lock::View::load(&store.repo, Some(&store.index))?;
        let me = crate::actor::find(&store.repo, &crate::actor::selected_label(&store.repo))?.map(|a| a.id());
        let now = crate::repo::now_ms();
        let mut rows: Vec<LockRow> = view
            .locks
            .values()
            .filter(|l| l.lease.held)
            .map(|l| LockRow {
                resource: l.lease.resource.clone(),
                owner: crate::ops::locks::holder(&store.repo, l.lease.owner),
                mine: l.lease.owner.is_some() && l.lease.owner == me,
                active: l.lease.active(now),
                expires: crate::repo::format_time(l.lease.expires_ms),
                note: l.lease.note.clone(),
                source: l.source.clone(),
            })
            .collect();
        rows.sort_by(|a, b| a.resource.cmp(&b.resource));
        self.rows = rows;
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
        Ok(())
    }
}

pub fn key(app: &mut App, k: KeyEvent) -> Effect {
    let t = &mut app.locks;
    let last = t.rows.len().saturating_sub(1);
    match k.code {
        KeyCode::Char('j') | KeyCode::Down => t.selected = (t.selected + 1).min(last),
        KeyCode::Char('k') | KeyCode::Up => t.selected = t.selected.saturating_sub(1),
        KeyCode::Char('x') => {
            let Some(l) = t.rows.get(t.selected).cloned() else {
                return Effect::None;
            };
            if l.mine {
                let done = format!("released {}", e(&l.resource));
                app.run(
                    Action::ReleaseLock {
                        resource: l.resource,
                        force: false,
                    },
                    &done,
                );
            } else {
                app.prompt = Some(Prompt {
                    question: format!(
                        "{} is held by {}; force-release it (recorded as a break by you)? y/n",
                        e(&l.resource),
                        e(&l.owner)
                    ),
                    input: String::new(),
                    on_enter: Then::Confirm(Action::ReleaseLock {
                        resource: l.resource,
                        force: true,
                    }),
                });
            }
        }
        _ => {}
    }
    Effect::None
}

pub fn render(app: &mut App, f: &mut Frame, area: Rect) {
    let theme = app.theme;
    let t = &app.locks;
    if t.rows.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled(
                "no leases held; `git lock acquire RESOURCE` takes one",
                theme.dim(),
            )),
            area,
        );
        return;
    }
    let rows: Vec<Row> = t
        .rows
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let row = Row::new(vec![
                Cell::from(e(&l.resource)),
                Cell::from(Span::styled(
                    e(&l.owner),
                    if l.mine {
                        theme.fg(Color::Green)
                    } else {
                        Default::default()
                    },
                )),
                Cell::from(Span::styled(
                    if l.active {
                        l.expires.clone()
                    } else {
                        format!("expired {}", l.expires)
                    },
                    if l.active { Default::default() } else { theme.dim() },
                )),
                Cell::from(l.source.clone()),
                Cell::from(e(&l.note)),
            ]);
            if i == t.selected {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Max(28),
                Constraint::Max(24),
                Constraint::Length(28),
                Constraint::Length(8),
                Constraint::Min(8),
            ],
        )
        .header(Row::new(vec!["resource", "owner", "expires", "where", "note"]).style(theme.bold()))
        .column_spacing(1),
        area,
    );
}
