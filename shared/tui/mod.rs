//! The terminal UI (`git issue ui`, `git sandbox ui`, `git lock ui`): one ratatui application
//! with a tab per tool. It reads through the library (search, views, sandbox records, leases)
//! and acts by running the CLI's own commands in-process (`git issue comment …` and the like,
//! with their output kept off the screen), so there is no second implementation of any
//! operation. It refreshes when the refs or the feed change (the same kernel notification as
//! `git wal watch`), and always gives the terminal back as it found it: on quit, on a panic,
//! on Ctrl-C and on SIGTERM.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind,
};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Tabs, Wrap};

use crate::cli::{CommandError, Ui};
use crate::store::Store;

pub mod issues;
pub mod locks;
pub mod sandboxes;

/// The tabs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Issues,
    Sandboxes,
    Locks,
}

const TABS: [Tab; 3] = [Tab::Issues, Tab::Sandboxes, Tab::Locks];

impl Tab {
    fn title(self) -> &'static str {
        match self {
            Tab::Issues => "Issues",
            Tab::Sandboxes => "Sandboxes",
            Tab::Locks => "Locks",
        }
    }
}

/// Colours, or none (`NO_COLOR`, `--color never`).
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn selected(&self) -> Style {
        if self.color {
            Style::default()
                .bg(Color::Blue)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    pub fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }
}

/// What the UI asks the loop around it to do, beyond redrawing.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    None,
    Quit,
    /// Suspend, edit `template` in $EDITOR, resume, and hand the text to `App::edited`.
    Edit {
        template: String,
        purpose: Purpose,
    },
    /// Suspend, run $SHELL in this directory, resume.
    Shell(PathBuf),
    /// Put this text on the terminal's clipboard (OSC 52; tmux and most terminals pass it on).
    Copy(String),
    /// Suspend, run sandbox NAME's last command again where its output shows, wait for Enter,
    /// resume.
    Repeat(String),
    /// Suspend, run a program (an editor, `git mergetool`) in `dir`, resume, and tell the
    /// conflict view it is done.
    Tool {
        dir: PathBuf,
        argv: Vec<String>,
    },
}

/// What an edited text is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Purpose {
    Create,
    Comment(String),
    /// The fields and body of the issue with this full id.
    Edit(String),
}

/// A one-line prompt at the bottom: its question, what was typed, and what Enter does.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub question: String,
    pub input: String,
    pub on_enter: Then,
}

/// What a prompt's answer goes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Then {
    Labels(String),
    Commit(String),
    /// A yes/no question: do this on `y`.
    Confirm(Action),
}

/// An action a key asks for that needs a confirmation first.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Give back a lease (with `force`, someone else's: recorded as a break).
    ReleaseLock { resource: String, force: bool },
    /// Remove a sandbox (with `force`, losing what it holds).
    RemoveSandbox { name: String, force: bool },
    /// Merge a sandbox's branch into the current branch.
    MergeSandbox { name: String },
    /// Close (or reopen) an issue, by its full id.
    SetState { id: String, close: bool },
}

/// The whole application: the tabs' state, the prompt, the help, the status line.
pub struct App {
    pub store: Store,
    pub dir: PathBuf,
    pub tab: Tab,
    pub theme: Theme,
    pub issues: issues::IssuesTab,
    pub sandboxes: sandboxes::SandboxesTab,
    pub locks: locks::LocksTab,
    pub prompt: Option<Prompt>,
    pub help: bool,
    /// The last message: what an action did, or why it failed.
    pub status: String,
    pub status_error: bool,
}

impl App {
    pub fn new(dir: PathBuf, tab: Tab, theme: Theme) -> Result<App, CommandError> {
        let store = Store::open(&dir)?;
        let mut app = App {
            issues: issues::IssuesTab::default(),
            sandboxes: sandboxes::SandboxesTab::default(),
            locks: locks::LocksTab::default(),
            store,
            dir,
            tab,
            theme,
            prompt: None,
            help: false,
            status: String::new(),
            status_error: false,
        };
        app.issues.query = "is:open".into();
        app.refresh_all();
        Ok(app)
    }

    /// Reads everything again (after a change from outside, or an action).
    pub fn refresh_all(&mut self) {
        if let Err(e) = self.store.index.refresh(&self.store.repo) {
            self.fail(&e.into());
        }
        let r = self.issues.reload(&self.store);
        self.report(r);
        let r = self.sandboxes.reload(&self.dir);
        self.report(r);
        let r = self.locks.reload(&self.store);
        self.report(r);
    }

    fn report(&mut self, r: Result<(), CommandError>) {
        if let Err(e) = r {
            self.fail(&e);
        }
    }

    pub fn fail(&mut self, err: &CommandError) {
        let mut s = err.message.clone();
        if let Some(h) = err.hints.first() {
            s.push_str(" — ");
            s.push_str(h);
        }
        self.status = e(&s);
        self.status_error = true;
    }

    pub fn say(&mut self, s: impl Into<String>) {
        self.status = s.into();
        self.status_error = false;
    }

    /// Runs an operation on the store, says how it went (its notes and warnings too), and
    /// reloads.
    pub fn apply(&mut self, done: &str, op: impl FnOnce(&Store) -> crate::Result<Vec<String>>) {
        match op(&self.store) {
            Ok(said) if said.is_empty() => self.say(done),
            Ok(said) => self.say(format!("{done} ({})", said.join("; "))),
            Err(e) => self.fail(&e.into()),
        }
        self.refresh_all();
    }

    /// Does a confirmed action, says how it went, and reloads.
    pub fn run(&mut self, action: Action, done: &str) {
        let dir = self.dir.clone();
        self.apply(done, |store| match action {
            Action::ReleaseLock { resource, force } => {
                let resources = crate::ops::locks::resources(store, &[resource])?;
                let actor = store.actor()?;
                let scope = crate::lock::default_scope(&store.repo);
                crate::lock::change(
                    &store.repo,
                    &crate::lock::Actor::of(&actor),
                    &resources,
                    crate::lock::LeaseChange::Release,
                    &scope,
                    force,
                )
                .map_err(|r| match r {
                    crate::lock::Refused::Error(e) => e,
                    crate::lock::Refused::NotHeld(r) => crate::Error::Failed {
                        message: format!("{r} is not locked"),
                        hint: "`git lock status` lists the locks this clone knows of".into(),
                    },
                    crate::lock::Refused::NotOwner(l) => crate::ops::locks::conflict_with_hint(
                        &store.repo,
                        &[&l],
                        "only its owner releases a lease; force-release breaks an abandoned one",
                    ),
                })?;
                Ok(Vec::new())
            }
            Action::RemoveSandbox { name, force } => {
                let removed = crate::ops::Sandboxes::open(&dir)?.remove(&name, force, false, false)?;
                Ok(removed.warnings)
            }
            Action::MergeSandbox { name } => {
                let ops = crate::ops::Sandboxes::open(&dir)?;
                ops.merge(&ops.find(&name)?, false)?;
                Ok(Vec::new())
            }
            Action::SetState { id, close } => {
                let id = crate::event::Id::from_hex(&id).ok_or_else(|| crate::Error::NotFound {
                    what: "issue",
                    query: id.clone(),
                })?;
                let change = match close {
                    true => crate::ops::StateChange::close(),
                    false => crate::ops::StateChange::reopen(),
                };
                Ok(crate::ops::Issues::new(store).set_state(&id, &change)?.warnings)
            }
        });
    }

    /// Handles a key; returns what the loop must do.
    pub fn key(&mut self, k: KeyEvent) -> Effect {
        if k.kind == KeyEventKind::Release {
            return Effect::None;
        }
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && k.code == KeyCode::Char('c') {
            return Effect::Quit;
        }
        if let Some(p) = self.prompt.as_mut() {
            match k.code {
                KeyCode::Esc => self.prompt = None,
                KeyCode::Enter => {
                    let p = self.prompt.take().expect("a prompt");
                    self.answer(p);
                }
                KeyCode::Backspace => {
                    p.input.pop();
                }
                KeyCode::Char(c) if !ctrl => p.input.push(c),
                _ => {}
            }
            return Effect::None;
        }
        if self.help {
            self.help = false;
            return Effect::None;
        }
        // The query bar takes every key while it is open.
        if self.tab == Tab::Issues && self.issues.editing {
            self.issues.query_key(&self.store, k);
            return Effect::None;
        }
        match k.code {
            KeyCode::Char('q') => return Effect::Quit,
            KeyCode::Char('?') => {
                self.help = true;
                return Effect::None;
            }
            KeyCode::Tab => {
                self.tab = TABS[(TABS.iter().position(|t| *t == self.tab).unwrap_or(0) + 1) % TABS.len()];
                return Effect::None;
            }
            KeyCode::BackTab => {
                self.tab = TABS[(TABS.iter().position(|t| *t == self.tab).unwrap_or(0) + TABS.len() - 1) % TABS.len()];
                return Effect::None;
            }
            _ => {}
        }
        match self.tab {
            Tab::Issues => issues::key(self, k),
            Tab::Sandboxes => sandboxes::key(self, k),
            Tab::Locks => locks::key(self, k),
        }
    }

    fn answer(&mut self, p: Prompt) {
        match p.on_enter {
            Then::Labels(id) => issues::set_labels(self, &id, &p.input),
            Then::Commit(name) => {
                if p.input.trim().is_empty() {
                    return self.say("nothing committed: the message was empty");
                }
                let dir = self.dir.clone();
                self.apply(&format!("committed sandbox {name}"), |_| {
                    let ops = crate::ops::Sandboxes::open(&dir)?;
                    let c = ops.commit(&ops.find(&name)?, p.input.trim(), false, false)?;
                    Ok(if c.commit.is_none() {
                        vec!["nothing to commit".into()]
                    } else {
                        Vec::new()
                    })
                });
            }
            Then::Confirm(action) => {
                if p.input.trim().eq_ignore_ascii_case("y") || p.input.trim().eq_ignore_ascii_case("yes") {
                    self.run(action, "done");
                } else {
                    self.say("cancelled");
                }
            }
        }
    }

    /// The text an editor returned, for what it was opened for.
    pub fn edited(&mut self, purpose: Purpose, text: Option<String>) {
        let Some(text) = text.as_deref().and_then(crate::text::edited) else {
            return self.say("cancelled: nothing was written");
        };
        match purpose {
            Purpose::Create => {
                let (title, body) = crate::text::edited_issue(&text).unwrap_or_default();
                let made = crate::ops::Issues::new(&self.store).create(&crate::ops::NewIssue {
                    title,
                    body,
                    ..Default::default()
                });
                self.refresh_all();
                match made.and_then(|m| Ok((m.id, self.store.index.short_id(&m.id)?))) {
                    Ok((id, short)) => {
                        self.say(format!("created {short}"));
                        self.issues.select(&self.store, id);
                    }
                    Err(err) => self.fail(&err.into()),
                }
            }
            Purpose::Edit(id) => {
                let Some(view) = self
                    .issues
                    .detail
                    .as_ref()
                    .filter(|d| d.id.to_hex() == id)
                    .map(|d| d.view.clone())
                else {
                    return self.say("the issue changed under the editor; nothing was written");
                };
                match issues::parse_edit(&view, &text) {
                    Err(why) => self.say(format!("nothing was written: {why}")),
                    Ok(edit) if edit.is_empty() => self.say("nothing changed"),
                    Ok(edit) => self.apply(&format!("edited {}", view.short_id), |store| {
                        Ok(crate::ops::Issues::new(store).edit(&id, &edit)?.warnings)
                    }),
                }
            }
            Purpose::Comment(id) => self.apply("commented", |store| {
                let id = crate::event::Id::from_hex(&id).ok_or_else(|| crate::Error::NotFound {
                    what: "issue",
                    query: id.clone(),
                })?;
                Ok(crate::ops::Issues::new(store)
                    .comment(&id, text.trim(), false)?
                    .warnings)
            }),
        }
    }

    pub fn mouse_scroll(&mut self, down: bool) {
        let k = KeyEvent::new(if down { KeyCode::Down } else { KeyCode::Up }, KeyModifiers::NONE);
        if !self.help && self.prompt.is_none() {
            let _ = match self.tab {
                Tab::Issues => issues::key(self, k),
                Tab::Sandboxes => sandboxes::key(self, k),
                Tab::Locks => locks::key(self, k),
            };
        }
    }

    pub fn render(&mut self, f: &mut Frame) {
        let [top, body, bottom] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(3), Constraint::Length(1)]).areas(f.area());
        let titles: Vec<Line> = TABS.iter().map(|t| Line::from(t.title())).collect();
        let tabs = Tabs::new(titles)
            .select(TABS.iter().position(|t| *t == self.tab).unwrap_or(0))
            .highlight_style(self.theme.selected())
            .divider("│");
        let [tab_area, hint_area] = Layout::horizontal([Constraint::Min(20), Constraint::Length(22)]).areas(top);
        f.render_widget(tabs, tab_area);
        f.render_widget(
            Paragraph::new(Line::from(vec![Span::styled("? keys  q quit", self.theme.dim())]))
                .alignment(ratatui::layout::Alignment::Right),
            hint_area,
        );
        match self.tab {
            Tab::Issues => issues::render(self, f, body),
            Tab::Sandboxes => sandboxes::render(self, f, body),
            Tab::Locks => locks::render(self, f, body),
        }
        let line = match &self.prompt {
            Some(p) => Line::from(vec![
                Span::styled(format!("{} ", p.question), self.theme.bold()),
                Span::raw(e(&p.input)),
                Span::styled("▏", self.theme.dim()),
            ]),
            None => Line::from(Span::styled(
                self.status.clone(),
                if self.status_error {
                    self.theme.fg(Color::Red)
                } else {
                    self.theme.dim()
                },
            )),
        };
        f.render_widget(Paragraph::new(line), bottom);
        if self.help {
            self.render_help(f);
        }
    }

    fn render_help(&self, f: &mut Frame) {
        let keys: &[(&str, &str)] = match self.tab {
            Tab::Issues => issues::KEYS,
            Tab::Sandboxes => sandboxes::KEYS,
            Tab::Locks => locks::KEYS,
        };
        let mut lines: Vec<Line> = keys
            .iter()
            .map(|(k, what)| {
                Line::from(vec![
                    Span::styled(format!("{k:>10}  "), self.theme.bold()),
                    Span::raw(*what),
                ])
            })
            .collect();
        lines.push(Line::from(""));
        for (k, what) in [
            ("Tab", "next tab (Shift-Tab: previous)"),
            ("?", "this help (any key closes it)"),
            ("q Ctrl-C", "quit"),
        ] {
            lines.push(Line::from(vec![
                Span::styled(format!("{k:>10}  "), self.theme.bold()),
                Span::raw(what),
            ]));
        }
        let area = f.area();
        let h = (lines.len() as u16 + 2).min(area.height);
        let w = 70.min(area.width);
        let r = Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h);
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(lines)
                .block(Block::bordered().title(format!(" {} keys ", self.tab.title())))
                .wrap(Wrap { trim: false }),
            r,
        );
    }
}

/// Text as the screen shows it: control, bidi and zero-width characters escaped.
pub fn e(s: &str) -> String {
    crate::cli::term::esc(s).into_owned()
}

/// A child gets the signals this process blocks for itself (Ctrl-C works in the shell).
fn unblocked(cmd: &mut std::process::Command) -> &mut std::process::Command {
    crate::sys::unblock_signals_on_exec(cmd)
}

/// Puts the terminal in the UI's mode; restores it when dropped (also on a panic's unwind).
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> std::io::Result<TerminalGuard> {
        enable_raw_mode()?;
        execute!(std::io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
        Ok(TerminalGuard)
    }
}

/// Gives the terminal back: the main screen, cooked mode, the cursor, no mouse capture.
fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// What the loop waits for.
enum Msg {
    Input(Event),
    /// The refs or the feed changed.
    Changed,
    /// SIGTERM or SIGHUP.
    Stop,
}

/// `git issue ui`: refuses outside a terminal; else runs until quit.
pub fn run(ui: &Ui, tab: Tab) -> Result<(), CommandError> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(CommandError::usage(
            "the terminal UI needs a terminal",
            "outside one, `git issue list` (or `git sandbox list`, `git lock status`) prints the same",
        ));
    }
    // `--color` and NO_COLOR, as for every command.
    let theme = Theme { color: ui.color };
    let mut app = App::new(
        std::path::absolute(&ui.dir).unwrap_or_else(|_| ui.dir.clone()),
        tab,
        theme,
    )?;
    // Errors and notes of the commands the UI runs go to the status line, not over the screen.
    let stderr = StderrCapture::start();
    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        release_stderr();
        prev_hook(info);
    }));
    let result = event_loop(&mut app);
    drop(stderr);
    let _ = std::panic::take_hook();
    result
}

fn event_loop(app: &mut App) -> Result<(), CommandError> {
    // Before any thread starts (they inherit the mask): SIGTERM and SIGHUP go to the thread that
    // waits for them, never to a thread whose default death would leave the terminal raw.
    crate::cli::sandbox::block_signals_now();
    let (tx, rx) = mpsc::channel::<Msg>();
    let paused = Arc::new(AtomicBool::new(false));
    let reading = Arc::new(AtomicBool::new(false));
    {
        let (tx, paused, reading) = (tx.clone(), paused.clone(), reading.clone());
        std::thread::spawn(move || {
            loop {
                if paused.load(Ordering::SeqCst) {
                    reading.store(false, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                reading.store(true, Ordering::SeqCst);
                match event::poll(Duration::from_millis(100)) {
                    Ok(true) => {
                        if let Ok(e) = event::read()
                            && tx.send(Msg::Input(e)).is_err()
                        {
                            return;
                        }
                    }
                    Ok(false) => {}
                    Err(_) => return,
                }
            }
        });
    }
    if let Ok(waker) = crate::live::Waker::new(&app.store.repo) {
        let tx = tx.clone();
        std::thread::spawn(move || {
            loop {
                let w = waker.wait(Duration::from_secs(3600));
                if w.any && tx.send(Msg::Changed).is_err() {
                    return;
                }
            }
        });
    }
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            crate::sys::wait_for_signal(&crate::sys::GUARDED);
            let _ = tx.send(Msg::Stop);
        });
    }
    let guard = TerminalGuard::enter()?;
    let mut terminal = ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
    terminal.clear()?;
    loop {
        terminal.draw(|f| app.render(f))?;
        let Ok(msg) = rx.recv() else { break };
        let effect = match msg {
            Msg::Stop => break,
            Msg::Changed => {
                // A burst of changes is one reload.
                while let Ok(Msg::Changed) = rx.try_recv() {}
                app.refresh_all();
                Effect::None
            }
            Msg::Input(Event::Key(k)) => app.key(k),
            Msg::Input(Event::Mouse(m)) => {
                match m.kind {
                    MouseEventKind::ScrollDown => app.mouse_scroll(true),
                    MouseEventKind::ScrollUp => app.mouse_scroll(false),
                    _ => {}
                }
                Effect::None
            }
            Msg::Input(_) => Effect::None,
        };
        match effect {
            Effect::None => {}
            Effect::Quit => break,
            Effect::Edit { template, purpose } => {
                let dir = app.dir.clone();
                let text = suspended(&paused, &reading, &mut terminal, || {
                    crate::sys::edit_text(&dir, &template).unwrap_or(None)
                })?;
                app.edited(purpose, text);
            }
            Effect::Copy(text) => {
                use std::io::Write;
                let mut out = std::io::stdout();
                let _ = write!(out, "\x1b]52;c;{}\x07", crate::text::base64(text.as_bytes()));
                let _ = out.flush();
            }
            Effect::Shell(dir) => {
                let code = suspended(&paused, &reading, &mut terminal, || {
                    let shell = std::env::var("SHELL")
                        .ok()
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "sh".into());
                    let mut cmd = std::process::Command::new(shell);
                    cmd.current_dir(&dir);
                    unblocked(&mut cmd).status().ok().and_then(|s| s.code())
                })?;
                app.say(format!(
                    "the shell exited ({})",
                    code.map_or("signal".into(), |c| c.to_string())
                ));
                app.refresh_all();
            }
            Effect::Tool { dir, argv } => {
                let ran = suspended(&paused, &reading, &mut terminal, || {
                    let mut cmd = std::process::Command::new(&argv[0]);
                    cmd.args(&argv[1..]).current_dir(&dir);
                    unblocked(&mut cmd).status().ok().and_then(|s| s.code())
                })?;
                if ran.is_none() {
                    app.say(format!("{} did not run", e(&argv[0])));
                }
                sandboxes::tool_done(app);
            }
            Effect::Repeat(name) => {
                let dir = app.dir.clone();
                let result = suspended(&paused, &reading, &mut terminal, || {
                    let r = crate::ops::Sandboxes::open(&dir).and_then(|ops| ops.repeat(&ops.find(&name)?));
                    match &r {
                        Ok(ran) => println!("\n— exited {}; press Enter to go back —", ran.exit_code),
                        Err(e) => println!("\n— {e}; press Enter to go back —"),
                    }
                    let mut line = String::new();
                    let _ = std::io::stdin().read_line(&mut line);
                    r.map_err(CommandError::from)
                })?;
                match result {
                    Ok(ran) => app.say(format!(
                        "ran the last command of sandbox {name} again: exit {}",
                        ran.exit_code
                    )),
                    Err(e) => app.fail(&e),
                }
                app.refresh_all();
            }
        }
    }
    drop(guard);
    Ok(())
}

/// Runs `f` with the terminal given back (the input thread paused), then takes it again.
fn suspended<T>(
    paused: &AtomicBool,
    reading: &AtomicBool,
    terminal: &mut ratatui::Terminal<ratatui::backend::CrosstermBackend<std::io::Stdout>>,
    f: impl FnOnce() -> T,
) -> Result<T, CommandError> {
    paused.store(true, Ordering::SeqCst);
    while reading.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    restore_terminal();
    release_stderr();
    let _ = std::io::stdout().flush();
    let out = f();
    capture_stderr();
    enable_raw_mode()?;
    execute!(std::io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    terminal.clear()?;
    paused.store(false, Ordering::SeqCst);
    Ok(out)
}

/// This process's stderr while the UI holds it elsewhere (-1: not held).
static SAVED_STDERR: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Sends this process's stderr to a file while the UI runs (restored when dropped, when the
/// UI suspends, and on a panic), so a command's notes do not draw over the screen.
struct StderrCapture;

impl StderrCapture {
    fn start() -> StderrCapture {
        capture_stderr();
        StderrCapture
    }
}

fn capture_stderr() {
    if SAVED_STDERR.load(Ordering::SeqCst) >= 0 {
        return;
    }
    let Ok(sink) = tempfile::tempfile() else { return };
    if let Some(saved) = crate::sys::swap_stderr(&sink) {
        SAVED_STDERR.store(saved, Ordering::SeqCst);
    }
}

fn release_stderr() {
    let fd = SAVED_STDERR.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        crate::sys::restore_stderr(fd);
    }
}

impl Drop for StderrCapture {
    fn drop(&mut self) {
        release_stderr();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_is_rfc_4648() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(crate::text::base64(plain.as_bytes()), coded, "{plain}");
        }
    }
}
