//! The command-line layer: clap definitions per tool, output, errors, exit codes.
//! Only this layer prints or picks an exit code; the engine returns data and typed errors.

pub mod bridge;
pub mod claim;
pub mod complete;
pub mod count;
pub mod docs;
pub mod issue;
pub mod links;
pub mod live;
pub mod lock;
pub mod matrix;
pub mod sandbox;
pub mod search;
pub mod sync;
pub mod term;
pub mod topics;
pub mod transfer;
pub mod wal;
pub mod watch;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::error::Error;
use crate::store::Store;

pub use crate::error::exit;

/// The exit codes, as every tool's `--help` ends (a macro, so that a tool can add a line).
macro_rules! exit_status_help {
    () => {
        "\
Exit status:
  0  success
  1  failure (git or filesystem error, not found, ...)
  2  usage error or invalid input; nothing was written
  3  lock conflict: someone else holds the lock
  4  verification failed: a signature or id does not check out"
    };
}
pub(crate) use exit_status_help;

pub const EXIT_STATUS_HELP: &str = exit_status_help!();

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// Flags every tool shares.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Run as if started in <PATH>
    #[arg(short = 'C', value_name = "PATH", global = true)]
    pub dir: Option<PathBuf>,
    /// Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to use colour
    #[arg(long, value_enum, default_value_t, value_name = "WHEN", global = true)]
    pub color: ColorChoice,
}

// `ui`: the terminal UI takes no arguments of its own (a plain comment, see `PlanArgs`).
#[derive(Debug, clap::Args)]
pub struct UiArgs {}

/// Output for one command: stdout buffered, colour and TTY decided once.
pub struct Ui {
    pub json: bool,
    pub quiet: bool,
    pub color: bool,
    pub tty: bool,
    pub dir: PathBuf,
    out: io::BufWriter<Box<dyn Write>>,
}

/// What a captured `Ui` wrote to its stdout.
pub type Captured = std::rc::Rc<std::cell::RefCell<Vec<u8>>>;

/// A writer into a shared buffer.
struct Capture(Captured);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Ui {
    pub fn new(g: &GlobalArgs) -> Ui {
        let tty = io::stdout().is_terminal();
        let color = match g.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        };
        Ui {
            json: g.json,
            quiet: g.quiet,
            color,
            tty,
            dir: g.dir.clone().unwrap_or_else(|| PathBuf::from(".")),
            out: io::BufWriter::with_capacity(1 << 16, Box::new(io::stdout())),
        }
    }

    /// A Ui for running a command in-process (the terminal UI): nothing on the terminal;
    /// stdout goes to the buffer returned, and with `json` it holds the command's JSON.
    pub fn capture(dir: &std::path::Path, json: bool) -> (Ui, Captured) {
        let buf = Captured::default();
        let ui = Ui {
            json,
            quiet: true,
            color: false,
            tty: false,
            dir: dir.to_owned(),
            out: io::BufWriter::with_capacity(1 << 12, Box::new(Capture(buf.clone()))),
        };
        (ui, buf)
    }

    /// A Ui that prints nothing but errors, for work whose notes would be noise.
    pub fn quiet_copy(&self) -> Ui {
        Ui {
            json: self.json,
            quiet: true,
            color: false,
            tty: false,
            dir: self.dir.clone(),
            out: io::BufWriter::with_capacity(0, Box::new(io::stdout())),
        }
    }

    pub fn out(&mut self) -> &mut impl Write {
        &mut self.out
    }

    /// Writes a line of human output (suppressed by `--quiet` and `--json`).
    pub fn say(&mut self, line: impl AsRef<str>) -> Result<(), CommandError> {
        if !self.quiet && !self.json {
            writeln!(self.out, "{}", term::line(line.as_ref(), self.color))?;
        }
        Ok(())
    }

    /// Writes one JSON document on stdout.
    pub fn json(&mut self, value: &impl serde::Serialize) -> Result<(), CommandError> {
        serde_json::to_writer_pretty(&mut self.out, value).map_err(io::Error::from)?;
        writeln!(self.out)?;
        Ok(())
    }

    /// Informational note on stderr, for humans only.
    pub fn note(&self, line: impl AsRef<str>) {
        if !self.quiet && !self.json {
            eprintln!("{}", term::line(line.as_ref(), false));
        }
    }

    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// An error as the user sees it: `error: …`, `caused by: …`, `hint: …`, and an exit code.
#[derive(Debug)]
pub struct CommandError {
    /// The index this failure found damaged, if that is what it was: the command runs again.
    pub damaged_index: Option<PathBuf>,
    pub code: u8,
    pub message: String,
    pub causes: Vec<String>,
    pub hints: Vec<String>,
}

impl CommandError {
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> CommandError {
        CommandError {
            damaged_index: None,
            code: exit::USAGE,
            message: message.into(),
            causes: vec![],
            hints: vec![hint.into()],
        }
    }

    pub fn failure(message: impl Into<String>) -> CommandError {
        CommandError {
            damaged_index: None,
            code: exit::FAILURE,
            message: message.into(),
            causes: vec![],
            hints: vec![],
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> CommandError {
        self.hints.push(hint.into());
        self
    }
}

/// Set when a write failed because the reader went away (`git issue list | head`): the command
/// then ends quietly. Decided by the error's kind, never by its text.
static BROKEN_PIPE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn note_broken_pipe(e: &io::Error) {
    if e.kind() == io::ErrorKind::BrokenPipe {
        BROKEN_PIPE.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl From<io::Error> for CommandError {
    fn from(e: io::Error) -> Self {
        note_broken_pipe(&e);
        CommandError::failure(e.to_string())
    }
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        if let Error::Io { source, .. } = &e {
            note_broken_pipe(source);
        }
        let (code, hints, causes) = (e.exit_code(), e.hints(), e.causes());
        let damaged_index = match &e {
            Error::Index { path, .. } if e.is_index_damage() => Some(path.clone()),
            _ => None,
        };
        CommandError {
            damaged_index,
            code,
            message: e.to_string(),
            causes,
            hints,
        }
    }
}

/// Opens the repository's store, warning on stderr about quarantined events (never applied)
/// and snapshots that failed their checks.
pub fn open_store(ui: &Ui) -> Result<Store, CommandError> {
    let store = Store::open(&ui.dir)?;
    for w in &store.warnings {
        ui.note(format!("warning: {w}"));
    }
    if let Some(w) = crate::hooks::displaced_warning(&store.repo) {
        ui.note(format!("warning: {w}"));
    }
    tell_overridden(ui, &store);
    warn_rejected(ui, &store.repo, &store.folded.rejected);
    Ok(store)
}

/// Tells, once, each write of this clone's that a concurrent write of another actor overrode
/// (the clock rule chose theirs), with how to redo it.
pub fn tell_overridden(ui: &Ui, store: &Store) {
    for o in crate::overrides::take_untold(&store.repo) {
        let Some(id) = crate::event::Id::from_hex(&o.issue) else {
            continue;
        };
        let short = store.index.short_id(&id).unwrap_or_else(|_| o.issue[..7].to_owned());
        let who = crate::event::ActorId::from_hex(&o.by)
            .and_then(|a| store.index.author(&a).ok())
            .map_or_else(|| o.by[..12].to_owned(), |a| a.display());
        let clip = |s: &str| {
            let s: String = s.chars().take(60).collect();
            term::esc(&s).into_owned()
        };
        ui.note(format!(
            "note: your {} on {short} (“{}”) was overridden by {}'s concurrent edit (“{}”); `git issue edit {short}` redoes it",
            o.field,
            clip(&o.lost),
            term::esc(&who),
            clip(&o.won)
        ));
    }
}

/// Names, on stderr, the snapshots a fold skipped and every unresolved quarantined event: each
/// command that reads the log says so until someone resolves them.
pub fn warn_rejected(ui: &Ui, repo: &crate::repo::Repo, rejected: &[crate::index::Rejected]) {
    if ui.quiet {
        return;
    }
    for r in rejected
        .iter()
        .filter(|r| r.event.is_none() && r.reference.contains("/snapshots/"))
    {
        eprintln!(
            "warning: snapshot {} skipped: {}; the index was built from the WAL instead",
            term::esc(&r.reference),
            term::esc(&r.reason)
        );
    }
    let Ok(q) = crate::quarantine::Quarantine::summary(repo) else {
        return;
    };
    let open = q.unresolved_count();
    for e in q.unresolved().take(3) {
        eprintln!("warning: {}", quarantine_line(e));
    }
    if open > 3 {
        eprintln!("warning: … and {} more quarantined", open - 3);
    }
    if open > 0 {
        eprintln!(
            "hint: they are never applied; `git wal quarantine` lists them, `git wal quarantine resolve` stops this warning"
        );
    }
}

/// One quarantined entry, for a human.
pub fn quarantine_line(e: &crate::quarantine::Entry) -> String {
    let what = match &e.event {
        Some(id) => format!(
            "event {} in commit {}",
            &id[..12.min(id.len())],
            &e.commit[..12.min(e.commit.len())]
        ),
        None => format!("commit {}", &e.commit[..12.min(e.commit.len())]),
    };
    format!(
        "quarantined {what} on {}: {}; not applied",
        term::esc(&e.reference),
        term::esc(&e.reason)
    )
}

fn is_broken_pipe(_: &CommandError) -> bool {
    BROKEN_PIPE.load(std::sync::atomic::Ordering::Relaxed)
}

/// Parses the arguments of `P`, runs `f`, prints any error, and maps it to an exit code.
/// A closed stdout (`git issue list | head`) ends the program quietly.
pub fn main_with<P: Parser>(
    f: impl FnOnce(P, &mut Ui) -> Result<(), CommandError>,
    global: impl Fn(&P) -> &GlobalArgs,
) -> ExitCode {
    main_with_args(std::env::args_os().collect(), f, global)
}

/// `main_with` on the given arguments (a tool may rewrite some first).
pub fn main_with_args<P: Parser>(
    args: Vec<std::ffi::OsString>,
    f: impl FnOnce(P, &mut Ui) -> Result<(), CommandError>,
    global: impl Fn(&P) -> &GlobalArgs,
) -> ExitCode {
    if args.get(1).is_some_and(|a| a == "__complete") {
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        complete::answer(P::command(), &args);
        return ExitCode::SUCCESS;
    }
    // `help TOPIC`: a topic page; `help SUBCOMMAND` is clap's own.
    if args.get(1).is_some_and(|a| a == "help")
        && let Some(word) = args.get(2).map(|a| a.to_string_lossy().into_owned())
    {
        let cmd = P::command();
        if let Some(t) = topics::find(cmd.get_name(), &word) {
            print!("{}", topics::render_text(t));
            return ExitCode::SUCCESS;
        }
        if cmd.find_subcommand(&word).is_none() {
            let tool = cmd.get_name().trim_start_matches("git-");
            let names: Vec<&str> = topics::of(tool).map(|t| t.name).collect();
            eprintln!(
                "error: '{}' is neither a command nor a help topic of git {tool}",
                term::line(&word, false)
            );
            eprintln!(
                "hint: {}`git {tool} --help` lists the commands",
                if names.is_empty() {
                    String::new()
                } else {
                    format!("the topics are {}; ", names.join(", "))
                }
            );
            return ExitCode::from(exit::USAGE);
        }
    }
    // `--version` names the commit the binary was built from, when it knows.
    let mut cmd = P::command();
    if let Some(commit) = crate::COMMIT.get() {
        cmd = cmd.version(format!("{} ({commit})", env!("CARGO_PKG_VERSION")));
    }
    let parsed = match cmd
        .try_get_matches_from(args)
        .and_then(|mut m| <P as clap::FromArgMatches>::from_arg_matches_mut(&mut m))
    {
        Ok(p) => p,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            if e.use_stderr() {
                // One hint, in the house's form: clap's own "For more information, try
                // '--help'." goes.
                let text = e.render().to_string();
                let kept: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.starts_with("For more information, try"))
                    .collect();
                eprintln!("{}", kept.join("\n").trim_end());
                eprintln!("hint: add `--help` to the command to see what it takes");
            } else {
                let _ = e.print();
            }
            return ExitCode::from(code);
        }
    };
    let mut ui = Ui::new(global(&parsed));
    let result = f(parsed, &mut ui).and_then(|()| ui.flush().map_err(CommandError::from));
    if let Err(e) = &result
        && let Some(path) = &e.damaged_index
    {
        crate::index::restart_after_damage(path);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = ui.flush();
            report(&e, ui.color && io::stderr().is_terminal());
            ExitCode::from(e.code)
        }
    }
}

fn report(e: &CommandError, color: bool) {
    // An exit code passed through from a child (git sandbox exec) has nothing to add.
    if e.message.is_empty() {
        return;
    }
    let (red, yellow, reset) = if color {
        ("\x1b[1;31m", "\x1b[33m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{red}error:{reset} {}", term::line(&e.message, false));
    for c in &e.causes {
        // An indented cause is a picture (a query with a caret under the column), not a cause.
        let prefix = if c.starts_with("  ") { "" } else { "caused by: " };
        let _ = writeln!(err, "{prefix}{}", term::line(c, false));
    }
    for h in &e.hints {
        let _ = writeln!(err, "{yellow}hint:{reset} {}", term::line(h, false));
    }
}

/// Splits a `--format` template into literal text (false) and field names (true), refusing
/// fields not in `fields`. `{{` and `}}` stand for braces.
pub fn parse_template(
    t: &str,
    fields: &[&str],
    command: &str,
    example: &str,
) -> Result<Vec<(bool, String)>, CommandError> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = t;
    while let Some(i) = rest.find(['{', '}']) {
        text.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            text.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        let close = match (tail.starts_with('{'), tail.find('}')) {
            (true, Some(close)) => close,
            _ => {
                return Err(CommandError::usage(
                    format!("'{t}' has an unmatched brace"),
                    format!("write fields as {{name}} (and a brace as {{{{ or }}}}), e.g. {example}"),
                ));
            }
        };
        let field = &tail[1..close];
        if !fields.contains(&field) {
            return Err(CommandError::usage(
                format!("'{{{field}}}' is not a field of `{command} --format`"),
                format!(
                    "the fields are {}",
                    fields.iter().map(|f| format!("{{{f}}}")).collect::<Vec<_>>().join(" ")
                ),
            ));
        }
        out.push((false, std::mem::take(&mut text)));
        out.push((true, field.to_owned()));
        rest = &tail[close + 1..];
    }
    text.push_str(rest);
    out.push((false, text));
    Ok(out)
}

/// Pads `cells` into aligned columns (by character count), two spaces apart.
pub fn columns(rows: &[Vec<String>]) -> Vec<String> {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| visible_len(c))
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate() {
                line.push_str(c);
                if i + 1 < r.len() {
                    line.push_str(&" ".repeat(widths[i] - visible_len(c) + 2));
                }
            }
            line
        })
        .collect()
}

/// Length without ANSI colour sequences.
fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_esc = false;
    for ch in s.chars() {
        match (in_esc, ch) {
            (false, '\x1b') => in_esc = true,
            (true, 'm') => in_esc = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}
