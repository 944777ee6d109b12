//! The sandboxes tab: what `git sandbox list` shows, a coloured diff per file, and the
//! lifecycle keys (shell, rerun, commit, merge after a preview, remove after saying what would
//! be lost), each the library's own operation (`ops::Sandboxes`).

use crate::ops::Sandboxes;
use crate::ops::resolve::{ConflictFile, Side};
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
    (
        "R",
        "resolve its conflicts with the current branch, hunk by hunk (o t b: ours, theirs, both; e: $EDITOR; m: git mergetool; C: commit; A: abandon)",
    ),
    (
        "G",
        "the merge plan of every sandbox: what merges, what conflicts, grouped by file",
    ),
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

/// A merge of the current branch into a sandbox, resolved hunk by hunk (`ops::resolve`).
#[derive(Debug, Clone)]
pub struct ResolveView {
    pub name: String,
    pub target: String,
    pub files: Vec<ConflictFile>,
    /// The file and hunk on screen.
    pub file: usize,
    pub hunk: usize,
    /// The other sandboxes that fight over the same files, from the merge plan.
    pub group: Option<String>,
}

impl ResolveView {
    fn hunks(&self) -> usize {
        self.files.get(self.file).map_or(0, |f| f.hunks().count())
    }

    /// Moves to the next hunk (into the next file at a file's end), or back.
    fn step(&mut self, forward: bool) {
        if forward {
            if self.hunk + 1 < self.hunks() {
                self.hunk += 1;
            } else if self.file + 1 < self.files.len() {
                self.file += 1;
                self.hunk = 0;
            }
        } else if self.hunk > 0 {
            self.hunk -= 1;
        } else if self.file > 0 {
            self.file -= 1;
            self.hunk = self.hunks().saturating_sub(1);
        }
    }
}

#[derive(Default)]
pub struct SandboxesTab {
    pub list: Vec<Listed>,
    pub selected: usize,
    pub diff: Option<DiffView>,
    pub resolve: Option<ResolveView>,
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

/// Reads the sandbox's unmerged files again (after an editor, a mergetool, a file resolved),
/// keeping the place.
fn reread(app: &mut App) {
    let Some(v) = app.sandboxes.resolve.as_mut() else {
        return;
    };
    let files = Sandboxes::open(&app.dir).and_then(|ops| ops.unmerged(&ops.find(&v.name)?));
    match files {
        Ok(files) => {
            v.files = files;
            v.file = v.file.min(v.files.len().saturating_sub(1));
            v.hunk = v.hunk.min(v.hunks().saturating_sub(1));
        }
        Err(err) => app.fail(&err.into()),
    }
}

/// After an editor or `git mergetool` on the file on screen: staged when no marker is left.
pub fn tool_done(app: &mut App) {
    let Some(v) = app.sandboxes.resolve.as_ref() else {
        return;
    };
    let (name, path) = match v.files.get(v.file) {
        Some(f) => (v.name.clone(), f.path.clone()),
        None => return,
    };
    let marked = Sandboxes::open(&app.dir).and_then(|ops| ops.mark_resolved(&ops.find(&name)?, &path));
    match marked {
        Ok(()) => app.say(format!("resolved {}", e(&path))),
        Err(err) => app.fail(&err.into()),
    }
    reread(app);
}

fn resolve_key(app: &mut App, k: KeyEvent) -> Effect {
    let Some(v) = app.sandboxes.resolve.as_mut() else {
        return Effect::None;
    };
    let choice = match k.code {
        KeyCode::Char('o') => Some(Side::Ours),
        KeyCode::Char('t') => Some(Side::Theirs),
        KeyCode::Char('b') => Some(Side::Both),
        _ => None,
    };
    if let Some(side) = choice {
        let (file, hunk) = (v.file, v.hunk);
        let Some(f) = v.files.get_mut(file) else {
            return Effect::None;
        };
        let Some(h) = f.hunk_mut(hunk) else {
            app.say("this file has no hunks to choose from: e opens it in $EDITOR, m in git mergetool");
            return Effect::None;
        };
        h.choice = Some(side);
        if f.resolved().is_none() {
            v.step(true);
            return Effect::None;
        }
        // Every hunk of the file has a side: written and staged.
        let (name, done) = (v.name.clone(), f.clone());
        let written = Sandboxes::open(&app.dir).and_then(|ops| ops.resolve_file(&ops.find(&name)?, &done));
        match written {
            Ok(()) => app.say(format!("resolved {}", e(&done.path))),
            Err(err) => app.fail(&err.into()),
        }
        reread(app);
        return Effect::None;
    }
    match k.code {
        KeyCode::Char('j') | KeyCode::Char('n') | KeyCode::Down => v.step(true),
        KeyCode::Char('k') | KeyCode::Char('p') | KeyCode::Up => v.step(false),
        KeyCode::Tab if v.file + 1 < v.files.len() => {
            v.file += 1;
            v.hunk = 0;
        }
        KeyCode::Char('e') | KeyCode::Char('m') => {
            let Some(f) = v.files.get(v.file) else {
                return Effect::None;
            };
            let path = match Sandboxes::open(&app.dir).and_then(|ops| ops.find(&v.name)) {
                Ok(r) => r.path,
                Err(err) => {
                    app.fail(&err.into());
                    return Effect::None;
                }
            };
            let argv = if k.code == KeyCode::Char('e') {
                let editor = std::env::var("VISUAL")
                    .or_else(|_| std::env::var("EDITOR"))
                    .unwrap_or_else(|_| "vi".into());
                vec![
                    "sh".into(),
                    "-c".into(),
                    format!("{editor} \"$1\""),
                    "editor".into(),
                    f.path.clone(),
                ]
            } else {
                vec!["git".into(), "mergetool".into(), "--".into(), f.path.clone()]
            };
            return Effect::Tool { dir: path, argv };
        }
        KeyCode::Char('C') => {
            let name = v.name.clone();
            let done = Sandboxes::open(&app.dir).and_then(|ops| ops.finish_resolve(&ops.find(&name)?));
            match done {
                Ok(c) => {
                    app.sandboxes.resolve = None;
                    app.say(format!(
                        "committed the resolution on sandbox/{} ({}): M merges it cleanly now",
                        e(&name),
                        &c[..c.len().min(10)]
                    ));
                    app.refresh_all();
                }
                Err(err) => app.fail(&err.into()),
            }
        }
        KeyCode::Char('A') => {
            let name = v.name.clone();
            let undone = Sandboxes::open(&app.dir).and_then(|ops| ops.abort_resolve(&ops.find(&name)?));
            app.sandboxes.resolve = None;
            match undone {
                Ok(()) => app.say(format!("abandoned the merge: sandbox {} is as it was", e(&name))),
                Err(err) => app.fail(&err.into()),
            }
            app.refresh_all();
        }
        KeyCode::Esc => {
            let name = v.name.clone();
            app.sandboxes.resolve = None;
            app.say(format!(
                "the merge stays under way in sandbox {}: R picks it up, A there abandons it",
                e(&name)
            ));
        }
        _ => {}
    }
    Effect::None
}

/// The merge plan of every sandbox, as lines to read.
fn plan_of(dir: &std::path::Path) -> Result<DiffView, CommandError> {
    let ops = Sandboxes::open(dir)?;
    let plan = ops.plan_merge(&ops.main().list()?)?;
    let mut lines = vec![format!("into {} at {}", plan.target, &plan.at[..plan.at.len().min(10)])];
    let list = |v: &[String]| if v.is_empty() { "none".to_owned() } else { v.join(", ") };
    lines.push(format!("merge cleanly, in this order: {}", list(&plan.merge)));
    for w in &plan.conflicts_with_target {
        lines.push(format!(
            "conflicts with {}: {} — over {}",
            plan.target,
            w.name,
            w.files.join(", ")
        ));
    }
    for g in &plan.groups {
        lines.push(format!(
            "fight each other: {} — over {}",
            g.sandboxes.join(", "),
            g.files.join(", ")
        ));
    }
    if !plan.held.is_empty() {
        lines.push(format!(
            "held back: {} (R on one resolves it against {})",
            plan.held.join(", "),
            plan.target
        ));
    }
    if !plan.up_to_date.is_empty() {
        lines.push(format!("nothing to merge: {}", plan.up_to_date.join(", ")));
    }
    Ok(DiffView {
        name: "the merge plan".into(),
        lines,
        files: Vec::new(),
        scroll: 0,
    })
}

pub fn key(app: &mut App, k: KeyEvent) -> Effect {
    if app.sandboxes.resolve.is_some() {
        return resolve_key(app, k);
    }
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
        KeyCode::Char('R') => {
            let begun = Sandboxes::open(&app.dir).and_then(|ops| {
                let r = ops.find(&name)?;
                let resolving = ops.begin_resolve(&r)?;
                // The others it fights with over files, from the merge plan.
                let group = ops
                    .plan_merge(&ops.main().list()?)
                    .ok()
                    .and_then(|p| p.groups.into_iter().find(|g| g.sandboxes.contains(&name)))
                    .map(|g| format!("{} fight over {}", g.sandboxes.join(", "), g.files.join(", ")));
                Ok((resolving, group))
            });
            match begun {
                Ok((r, _)) if r.files.is_empty() => {
                    app.say(format!(
                        "merged {} into sandbox {}: no conflicts",
                        e(&r.target),
                        e(&name)
                    ));
                    app.refresh_all();
                }
                Ok((r, group)) => {
                    app.sandboxes.resolve = Some(ResolveView {
                        name: r.name,
                        target: r.target,
                        files: r.files,
                        file: 0,
                        hunk: 0,
                        group,
                    })
                }
                Err(err) => app.fail(&err.into()),
            }
        }
        KeyCode::Char('G') => match plan_of(&app.dir) {
            Ok(d) => app.sandboxes.diff = Some(d),
            Err(err) => app.fail(&err),
        },
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

fn render_resolve(app: &App, v: &ResolveView, f: &mut Frame, area: Rect) {
    let theme = app.theme;
    let mut lines: Vec<Line> = Vec::new();
    if let Some(g) = &v.group {
        lines.push(Line::from(Span::styled(format!("group: {}", e(g)), theme.dim())));
    }
    if v.files.is_empty() {
        lines.push(Line::from(
            "every file is resolved: C commits the merge on the sandbox's branch",
        ));
    }
    if let Some(file) = v.files.get(v.file) {
        let n = file.hunks().count();
        lines.push(Line::from(Span::styled(
            format!("{} · hunk {} of {n}", e(&file.path), (v.hunk + 1).min(n)),
            theme.bold(),
        )));
        match file.hunks().nth(v.hunk) {
            None => lines.push(Line::from(Span::styled(
                "no text hunks (binary, or deleted on one side): e opens it in $EDITOR, m in git mergetool",
                theme.dim(),
            ))),
            Some(h) => {
                let chosen = |side: Side| if h.choice == Some(side) { " ◀ chosen" } else { "" };
                let both = if h.choice == Some(Side::Both) {
                    " (both chosen)"
                } else {
                    ""
                };
                // Each side: its heading, then its lines, in its colour.
                let mut side = |heading: String, body: &[String], style| {
                    lines.push(Line::from(Span::styled(heading, style)));
                    lines.extend(
                        body.iter()
                            .map(|l| Line::from(Span::styled(format!("  {}", e(l)), style))),
                    );
                };
                side(
                    format!("ours: sandbox/{}{}{both}", e(&v.name), chosen(Side::Ours)),
                    &h.ours,
                    theme.fg(Color::Green),
                );
                side("base".into(), &h.base, theme.dim());
                side(
                    format!("theirs: {}{}{both}", e(&v.target), chosen(Side::Theirs)),
                    &h.theirs,
                    theme.fg(Color::Cyan),
                );
            }
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "o ours · t theirs · b both · j k hunks · Tab file · e $EDITOR · m mergetool · C commit · A abandon · Esc later",
        theme.dim(),
    )));
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(format!(
            " resolving {} into sandbox {} · {} file(s) left ",
            e(&v.target),
            e(&v.name),
            v.files.len()
        ))),
        area,
    );
}

pub fn render(app: &mut App, f: &mut Frame, area: Rect) {
    let theme = app.theme;
    if let Some(v) = &app.sandboxes.resolve {
        render_resolve(app, v, f, area);
        return;
    }
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
