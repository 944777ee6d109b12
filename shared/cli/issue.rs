//! `git issue`: create, show, edit, comment, close, reopen, link, claim and unclaim (finding
//! issues is `search`'s). Flags follow GitHub CLI's `gh issue` wherever it has one.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::claim::claims;
use super::links::{self, LinkArgs};
use super::search::{self, BlockedArgs, OutputArgs, QueryArgs, Rows, TreeArgs, ViewArgs};
use super::term::{self, esc};
use super::{CommandError, GlobalArgs, Ui, main_with_args};
use crate::event::{Id, State};
use crate::index::ListFilter;
use crate::index::search::Queue;
use crate::issue::{LinkSpec, TYPES};
use crate::lock::{self, Scope};
use crate::query::{Expr, Query, Term};
use crate::store::Store;

/// An issue tracker that lives in the repository
///
/// Every change is a signed event appended to the writer's own ref under refs/grit/, shared by
/// plain `git fetch` and `git push`; a local index answers queries instantly.
#[derive(Debug, Parser)]
#[command(
    name = "git-issue",
    bin_name = "git issue",
    version,
    after_help = concat!(
        super::exit_status_help!(),
        "\n\nTopics: `git issue help TOPIC` for query (man git-issue-TOPIC)"
    )
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
// Each subcommand's arguments are built only when it runs: a command parses its own, not all.
#[command(defer = true)]
pub enum Command {
    /// Create an issue
    Create(Box<CreateArgs>),
    /// List issues, newest first, or as a query sorts them
    List(ListArgs),
    /// Count the issues a query matches (every state unless it names one), in all or by state,
    /// label, type, priority, assignee or actor
    Count(super::count::CountArgs),
    /// Show an issue with its body, comments and links
    Show(ShowArgs),
    /// Show an issue (`view ID`), or save, list and remove saved queries (`view save|list|rm`)
    View(ViewArgs),
    /// Edit an issue's title, body, labels or assignees
    Edit(Box<EditArgs>),
    /// Add a comment to an issue
    Comment(CommentArgs),
    /// Close an issue
    Close(CloseArgs),
    /// Reopen a closed issue
    Reopen(ReopenArgs),
    /// Claim an issue: a lease on issue:<id>, so two agents never work the same issue
    Claim(ClaimArgs),
    /// Give up a claim
    Unclaim(UnclaimArgs),
    /// The work queue: open issues with no open blocker, not claimed by someone else, and not
    /// epics with open children; most urgent first, then oldest
    Ready(ReadyArgs),
    /// Open issues that an open issue blocks, with what blocks each
    Blocked(BlockedArgs),
    /// An agent's session primer: its claims, the top of the ready queue for it, what changed
    /// since it last looked, its locks, the sandboxes, and the team's conventions
    /// (`.grit/AGENTS.md`, or grit.agentsFile); bounded by --max-bytes, most important first
    Prime(PrimeArgs),
    /// An issue (an epic, usually) with its children, their children, and what blocks each
    Tree(TreeArgs),
    /// Serve the web dashboard: board, dependency graph, issue pages with actions, agents and
    /// sandboxes, updated live (on 127.0.0.1 unless --bind, which needs a token)
    Serve(ServeArgs),
    /// The dependency graph of a query's issues (default: the open ones), with each issue's
    /// downstream count (how much work it unblocks) and the critical path, as SVG, DOT or JSON
    Graph(GraphArgs),
    /// Link two issues: `git issue link A blocks B` (also blocked-by, parent, child, related,
    /// duplicate-of, discovered-from)
    Link(LinkArgs),
    /// Remove a link: `git issue unlink A blocks B`
    Unlink(LinkArgs),
    /// Write issues out: JSON Lines (every field; `import --from grit` reads it back), JSON or
    /// Markdown
    Export(super::transfer::ExportArgs),
    /// Read issues in from GitHub's JSON, beads' JSONL or an export; a second import of the
    /// same source writes only what changed
    Import(super::transfer::ImportArgs),
    /// Sync issues and comments with another tracker (GitHub) through its API
    ///
    /// `pull` imports what changed since the last pull, resuming where an interrupted one
    /// stopped; `push` creates GitHub issues for local ones, updates those that differ and posts
    /// the comments GitHub lacks. Both read GITHUB_TOKEN (or GH_TOKEN); GRIT_GITHUB_API overrides
    /// the API's URL (GitHub Enterprise: https://HOST/api/v3). Rate limits are waited out as
    /// GitHub asks, up to --max-wait.
    #[command(subcommand)]
    Bridge(super::bridge::BridgeCommand),
    /// Open the terminal UI: issues, sandboxes and locks, live (`?` lists the keys)
    Ui(super::UiArgs),
    /// Run a short tour in a new scratch repository (through `git issue`, so PATH is checked too)
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The port (0 picks a free one)
    #[arg(long, default_value_t = 8080, value_name = "N")]
    pub port: u16,
    /// The address to listen on; anything but loopback needs a token
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: std::net::IpAddr,
    /// Require this token: open the page once as /?token=TOKEN (then a cookie carries it)
    #[arg(long, env = "GRIT_WEB_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The actor the page's actions act as (default: GRIT_ACTOR, grit.actor)
    #[arg(long, value_name = "LABEL")]
    pub actor: Option<String>,
    /// Open the page in the browser (xdg-open, or open on macOS)
    #[arg(long)]
    pub open: bool,
}

fn serve(ui: &mut Ui, a: ServeArgs) -> Result<(), CommandError> {
    let mut opts = crate::web::Options::new(ui.dir.clone());
    opts.bind = a.bind;
    opts.port = a.port;
    opts.token = a.token.filter(|t| !t.is_empty());
    opts.actor = a.actor;
    let token = opts.token.clone();
    let quiet = ui.quiet;
    crate::web::serve(opts, |addr| {
        let url = match &token {
            Some(t) => format!("http://{addr}/?token={t}"),
            None => format!("http://{addr}/"),
        };
        if !quiet {
            eprintln!("grit: serving the dashboard at {url}");
        }
        if a.open {
            let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
            if let Err(e) = std::process::Command::new(opener)
                .arg(&url)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
            {
                eprintln!("warning: could not open a browser ({opener}: {e}); open {url}");
            }
        }
    })?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub query: search::QueryArgs,
    /// svg (a drawing, each issue a link), dot (Graphviz) or json
    #[arg(long, default_value = "svg", value_parser = ["svg", "dot", "json"])]
    pub format: String,
    /// At most this many issues
    #[arg(short = 'L', long, default_value_t = 500, value_name = "N")]
    pub limit: usize,
}

fn graph(ui: &mut Ui, a: GraphArgs) -> Result<(), CommandError> {
    let store = open(ui)?;
    let g = crate::ops::graph::graph(&store, a.query.view.as_deref(), a.query.search.as_deref(), a.limit)?;
    if ui.json || a.format == "json" {
        return ui.json(&g);
    }
    let text = match a.format.as_str() {
        "dot" => crate::ops::graph::dot(&g),
        _ => crate::ops::graph::svg(&g, "#"),
    };
    ui.say(text.trim_end())
}

#[derive(Debug, Args)]
pub struct PrimeArgs {
    /// At most this many bytes of text (whole lines; what is left out is counted)
    #[arg(long, default_value_t = crate::ops::prime::DEFAULT_MAX_BYTES, value_name = "N")]
    pub max_bytes: usize,
    /// How many ready issues to list
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub ready: usize,
    /// Leave "since last time" where it was (the next primer shows the same changes again)
    #[arg(long)]
    pub peek: bool,
}

// Hold the issue's lock while this command writes (`issue:<id>`, a short lease)
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Take the issue's lock for the duration of the command (fails with exit 3 if another
    /// actor holds it)
    #[arg(long)]
    pub lock: bool,
}

#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// Issue id, or any unique prefix of it
    #[arg(required_unless_present = "next")]
    pub id: Option<String>,
    /// Claim the first issue of `git issue ready` (atomically: agents running this at once
    /// each get a different issue); -S narrows the queue
    #[arg(long, conflicts_with = "id")]
    pub next: bool,
    #[command(flatten)]
    pub query: QueryArgs,
    /// How long the claim lasts unless renewed (`git lock renew issue:<id>`)
    #[arg(long, default_value = "2h", value_name = "DURATION")]
    pub ttl: String,
    /// Take it only in this repository, not on the lock remote
    #[arg(long)]
    pub local: bool,
}

#[derive(Debug, Args)]
pub struct UnclaimArgs {
    /// Issue id, or any unique prefix of it
    pub id: String,
    /// End someone else's (abandoned) claim; recorded in the lock's history
    #[arg(long)]
    pub force: bool,
    /// Only in this repository, not on the lock remote
    #[arg(long)]
    pub local: bool,
}

#[derive(Debug, Args)]
pub struct ReadyArgs {
    #[command(flatten)]
    pub query: QueryArgs,
    /// Only issues with this label (repeat: all of them)
    #[arg(short, long = "label", value_name = "NAME", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Show at most N issues (0: all)
    #[arg(short = 'L', long, default_value_t = 30, value_name = "N")]
    pub limit: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

// Priority, type and links, as `create` and `edit` take them (a plain comment: a doc comment on
// a flattened group becomes the about text of every command that flattens it).
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Priority from 0 (most urgent) to 4; 2 unless set
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=4))]
    pub priority: Option<u8>,
    /// bug, feature, task, epic or chore; task unless set
    #[arg(short = 'T', long = "type", value_name = "TYPE", value_parser = clap::builder::PossibleValuesParser::new(TYPES))]
    pub issue_type: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Title of the issue (without it, on a terminal, your editor opens on the title and body)
    #[arg(short, long)]
    pub title: Option<String>,
    #[command(flatten)]
    pub body: BodyArgs,
    /// Add a label (repeat, or separate with commas)
    #[arg(short, long = "label", value_name = "NAME", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Assign someone (repeat, or separate with commas; `@me` is your own email)
    #[arg(short, long = "assignee", value_name = "WHO", value_delimiter = ',')]
    pub assignees: Vec<String>,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Make it a child of this issue (an epic, usually)
    #[arg(long, value_name = "ID")]
    pub parent: Option<String>,
    /// Issues that must be closed before this one is ready (repeat, or separate with commas)
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub blocked_by: Vec<String>,
    /// The issue whose work turned this one up
    #[arg(long, value_name = "ID")]
    pub discovered_from: Option<String>,
}

#[derive(Debug, Args)]
pub struct BodyArgs {
    /// Body text
    #[arg(short, long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the body from a file (`-` for standard input)
    #[arg(short = 'F', long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum StateFilter {
    Open,
    Closed,
    All,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Which issues to list (is:open unless the query names a state)
    #[arg(short, long, value_enum)]
    pub state: Option<StateFilter>,
    /// Only issues with this label (repeat: all of them)
    #[arg(short, long = "label", value_name = "NAME", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Only issues assigned to WHO (`@me`: your own email)
    #[arg(short, long, value_name = "WHO")]
    pub assignee: Option<String>,
    /// Only issues opened by WHO (a name or email; `@me`: you)
    #[arg(short = 'A', long, value_name = "WHO")]
    pub author: Option<String>,
    #[command(flatten)]
    pub query: QueryArgs,
    /// Show at most N issues (0: all)
    #[arg(short = 'L', long, default_value_t = 30, value_name = "N")]
    pub limit: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Issue id, or any unique prefix of it
    pub id: String,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Issue id, or any unique prefix of it
    pub id: String,
    #[command(flatten)]
    pub lock: LockArgs,
    /// New title
    #[arg(short, long)]
    pub title: Option<String>,
    #[command(flatten)]
    pub body: BodyArgs,
    /// Add a label (repeat, or separate with commas)
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub add_label: Vec<String>,
    /// Remove a label (repeat, or separate with commas)
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub remove_label: Vec<String>,
    /// Assign someone (repeat, or separate with commas)
    #[arg(long, value_name = "WHO", value_delimiter = ',')]
    pub add_assignee: Vec<String>,
    /// Unassign someone (repeat, or separate with commas)
    #[arg(long, value_name = "WHO", value_delimiter = ',')]
    pub remove_assignee: Vec<String>,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Set the parent (an epic, usually); `none` removes it
    #[arg(long, value_name = "ID")]
    pub parent: Option<String>,
    /// Mark it blocked by these issues (repeat, or separate with commas)
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub add_blocked_by: Vec<String>,
    /// It is no longer blocked by these
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub remove_blocked_by: Vec<String>,
    /// Mark it as blocking these issues
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub add_blocks: Vec<String>,
    /// It no longer blocks these
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub remove_blocks: Vec<String>,
    /// Mark it related to these issues
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub add_related: Vec<String>,
    /// It is no longer related to these
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub remove_related: Vec<String>,
    /// Mark it a duplicate of this issue
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub add_duplicate_of: Vec<String>,
    /// It is no longer a duplicate of this
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub remove_duplicate_of: Vec<String>,
    /// Record that work on this issue turned it up
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub add_discovered_from: Vec<String>,
    /// Remove a discovered-from link
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub remove_discovered_from: Vec<String>,
}

impl EditArgs {
    /// The link flags as (spec, ids, add).
    fn link_flags(&self) -> [(LinkSpec, &[String], bool); 10] {
        [
            (LinkSpec::BlockedBy, &self.add_blocked_by, true),
            (LinkSpec::BlockedBy, &self.remove_blocked_by, false),
            (LinkSpec::Blocks, &self.add_blocks, true),
            (LinkSpec::Blocks, &self.remove_blocks, false),
            (LinkSpec::Related, &self.add_related, true),
            (LinkSpec::Related, &self.remove_related, false),
            (LinkSpec::DuplicateOf, &self.add_duplicate_of, true),
            (LinkSpec::DuplicateOf, &self.remove_duplicate_of, false),
            (LinkSpec::DiscoveredFrom, &self.add_discovered_from, true),
            (LinkSpec::DiscoveredFrom, &self.remove_discovered_from, false),
        ]
    }
}

#[derive(Debug, Args)]
pub struct CommentArgs {
    /// Issue id, or any unique prefix of it
    pub id: String,
    #[command(flatten)]
    pub lock: LockArgs,
    #[command(flatten)]
    pub body: BodyArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Reason {
    Completed,
    NotPlanned,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    /// Issue id, or any unique prefix of it
    #[arg(required_unless_present = "from_commits")]
    pub id: Option<String>,
    /// Close what the Fixes:/Closes: trailers of the commits in RANGE name (and comment on
    /// Refs:), for commits on the default branch (grit.closeBranch); for CI, e.g. `before..after`
    #[arg(long, value_name = "RANGE", conflicts_with = "id")]
    pub from_commits: Option<String>,
    #[command(flatten)]
    pub lock: LockArgs,
    /// Why it is closed
    #[arg(short, long, value_enum)]
    pub reason: Option<Reason>,
    /// Leave a closing comment
    #[arg(short, long, value_name = "BODY")]
    pub comment: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReopenArgs {
    /// Issue id, or any unique prefix of it
    pub id: String,
    #[command(flatten)]
    pub lock: LockArgs,
    /// Leave a comment saying why
    #[arg(short, long, value_name = "BODY")]
    pub comment: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to create the scratch repository (default: a new temporary directory)
    #[arg(value_name = "DIR")]
    pub scratch: Option<PathBuf>,
}

pub fn main() -> ExitCode {
    let args = search::json_fields_argv(std::env::args_os().collect());
    main_with_args(args, run, |c: &Cli| &c.global)
}

pub fn run(cli: Cli, ui: &mut Ui) -> Result<(), CommandError> {
    match cli.command {
        Command::Create(a) => create(ui, *a),
        Command::List(a) => list(ui, a),
        Command::Count(a) => super::count::count(ui, a),
        Command::Show(a) => show(ui, a),
        Command::View(a) => search::view(ui, a),
        Command::Edit(a) => edit(ui, *a),
        Command::Comment(a) => comment(ui, a),
        Command::Close(a) => match (&a.from_commits, &a.id) {
            (Some(range), _) => close_from_commits(ui, range),
            (None, Some(id)) => set_state(ui, id, a.lock.lock, State::Closed, a.reason, a.comment),
            (None, None) => unreachable!("clap requires one"),
        },
        Command::Reopen(a) => set_state(ui, &a.id, a.lock.lock, State::Open, None, a.comment),
        Command::Claim(a) => claim(ui, a),
        Command::Unclaim(a) => unclaim(ui, a),
        Command::Ready(a) => search::ready(ui, &a.query, &a.labels, a.limit, &a.output),
        Command::Blocked(a) => search::blocked(ui, a),
        Command::Prime(a) => prime(ui, a),
        Command::Tree(a) => search::tree(ui, a),
        Command::Graph(a) => graph(ui, a),
        Command::Serve(a) => serve(ui, a),
        Command::Link(a) => links::link(ui, a, true),
        Command::Unlink(a) => links::link(ui, a, false),
        Command::Export(a) => super::transfer::export(ui, a),
        Command::Import(a) => super::transfer::import(ui, a),
        Command::Bridge(a) => super::bridge::bridge(ui, a),
        Command::Ui(_) => crate::tui::run(ui, crate::tui::Tab::Issues),
        Command::Demo(a) => super::docs::demo(ui, a.scratch),
    }
}

fn open(ui: &Ui) -> Result<Store, CommandError> {
    super::open_store(ui)
}

fn clean_text(what: &str, s: &str, multiline: bool) -> Result<String, CommandError> {
    Ok(crate::ops::issues::clean_text(what, s, multiline)?)
}

/// Says an operation's notes and warnings on stderr.
fn tell(ui: &Ui, w: &crate::ops::Written) {
    for n in &w.notes {
        ui.note(n);
    }
    for n in &w.warnings {
        ui.note(format!("warning: {n}"));
    }
}

fn read_body(b: &BodyArgs) -> Result<Option<String>, CommandError> {
    let raw = match (&b.body, &b.body_file) {
        (Some(s), _) => s.clone().into_bytes(),
        (None, Some(p)) if p.as_os_str() == "-" => {
            let mut v = Vec::new();
            std::io::stdin().read_to_end(&mut v)?;
            v
        }
        (None, Some(p)) => std::fs::read(p).map_err(|e| {
            CommandError::usage(
                format!("cannot read {}: {e}", p.display()),
                "check the path given to --body-file",
            )
        })?,
        (None, None) => return Ok(None),
    };
    let text = String::from_utf8(raw).map_err(|_| {
        CommandError::usage(
            "the body is not valid UTF-8",
            "convert it first, e.g. with `iconv -t UTF-8`",
        )
    })?;
    if text.contains('\0') {
        return Err(CommandError::usage(
            "the body contains NUL bytes",
            "pass text, not a binary file",
        ));
    }
    Ok(Some(text.trim_end().to_owned()))
}

/// Whether a person is at the keyboard: text left out may be asked for in their editor.
fn at_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

fn create(ui: &mut Ui, a: CreateArgs) -> Result<(), CommandError> {
    let body = read_body(&a.body)?.unwrap_or_default();
    // Without --title on a terminal, the editor opens (as `git commit` and `gh issue create` do).
    let (title, body) = match a.title {
        Some(t) => (t, body),
        None if at_terminal() => {
            let template = format!("\n{body}\n{}", crate::text::ISSUE_TEMPLATE);
            let text = crate::sys::edit_text(&ui.dir, &template)?;
            match text.as_deref().and_then(crate::text::edited_issue) {
                Some(written) => written,
                None => return Err(cancelled()),
            }
        }
        None => {
            return Err(CommandError::usage(
                "a title is required",
                "`git issue create --title \"…\" [--body \"…\"]` (on a terminal, without --title, your editor opens)",
            ));
        }
    };
    let title = clean_text("title", &title, false)?;
    let store = open(ui)?;
    let new = crate::ops::NewIssue {
        title,
        body,
        labels: a.labels,
        assignees: a.assignees,
        priority: a.plan.priority,
        issue_type: a.plan.issue_type,
        parent: a.parent,
        blocked_by: a.blocked_by,
        discovered_from: a.discovered_from.into_iter().collect(),
    };
    let made = crate::ops::Issues::new(&store).create(&new)?;
    tell(ui, &made);
    print_written(ui, &store, &made.id, "created")
}

fn print_written(ui: &mut Ui, store: &Store, id: &Id, verb: &str) -> Result<(), CommandError> {
    if let Some(why) = store.index_behind.borrow().as_deref() {
        // The events are in the WAL; the index may not know them yet, so say only the id.
        if !ui.quiet {
            eprintln!(
                "warning: {verb}, but the index could not take the write in: {}",
                term::line(why, false)
            );
            eprintln!("hint: nothing to redo; the next command brings the index up to date");
        }
        if ui.json {
            return ui.json(&serde_json::json!({ "id": id.to_hex() }));
        }
        return ui.say(id.to_hex());
    }
    if ui.json {
        return ui.json(&crate::ops::show::detail_of(store, id, store.index.view(id)?)?);
    }
    let short = store.index.short_id(id)?;
    if ui.tty {
        let title = store
            .index
            .issue(id)?
            .and_then(|s| s.title.map(|t| t.value))
            .unwrap_or_default();
        let line = format!("{} {} {}", ui.paint("32", verb), ui.paint("33", &short), esc(&title));
        ui.say(line)
    } else {
        ui.say(short)
    }
}

/// In a clone whose log is empty, looks for remotes that hold issues this clone never fetched
/// (`git clone` brings branches only): fetches them when `grit.autoInit` allows, else says how.
fn first_minutes(ui: &Ui, store: Store) -> Result<Store, CommandError> {
    if store.index.event_count()? > 0 {
        return Ok(store);
    }
    let remotes = crate::sync::remotes_with_unfetched_events(&store.repo).unwrap_or_default();
    if remotes.is_empty() {
        return Ok(store);
    }
    if store.repo.config_bool("grit.autoInit") != Some(true) {
        for r in &remotes {
            ui.note(format!(
                "hint: the remote '{r}' has issues this clone has not fetched; `git wal init` fetches them \
                 (and `git config grit.autoInit true` does it by itself next time)"
            ));
        }
        return Ok(store);
    }
    for r in &remotes {
        crate::sync::configure_fetch(&store.repo, r)?;
        crate::sync::fetch_grit(&store.repo, r)?;
        ui.note(format!(
            "fetched the issues of '{r}' (grit.autoInit); `git wal init` also installs the hooks that keep them current"
        ));
    }
    drop(store);
    open(ui)
}

fn list(ui: &mut Ui, a: ListArgs) -> Result<(), CommandError> {
    let store = first_minutes(ui, open(ui)?)?;
    let claims = claims(&store)?;
    let what = match a.state {
        Some(StateFilter::Open) | None => "open ",
        Some(StateFilter::Closed) => "closed ",
        Some(StateFilter::All) => "",
    };
    let state = |s: Option<StateFilter>| match s.unwrap_or(StateFilter::Open) {
        StateFilter::Open => Some(State::Open),
        StateFilter::Closed => Some(State::Closed),
        StateFilter::All => None,
    };
    let simple = a.query.search.is_none() && a.query.view.is_none() && a.author.is_none();
    let rows = if simple {
        // The flags alone: the rows, newest first, stopping at the limit.
        let assignee = match a.assignee {
            Some(w) if w == "@me" => Some(store.actor()?.record.email),
            other => other,
        };
        Rows::Filter(ListFilter {
            state: state(a.state),
            labels: a.labels,
            assignee,
            author: None,
            exclude: Default::default(),
            limit: a.limit,
        })
    } else {
        let mut q = search::parse_query(&store, &a.query)?;
        let what = if a.state.is_none() && search::mentions_state(&q) {
            ""
        } else {
            what
        };
        let mut terms = Vec::new();
        if (!what.is_empty() || a.state.is_some())
            && let Some(s) = state(a.state)
        {
            terms.push(Term::State(s));
        }
        terms.extend(a.labels.iter().map(|l| Term::Label(vec![l.clone()])));
        terms.extend(a.assignee.iter().map(|w| Term::Assignee(vec![w.clone()])));
        terms.extend(a.author.iter().map(|w| Term::Author(w.clone())));
        for t in terms {
            q = q.and(Query {
                expr: Some(Expr::Term(t)),
                sort: None,
            });
        }
        search::resolve_me(&store, &mut q)?;
        let ctx = search::context(&store, &claims)?;
        Rows::Found(store.index.search(&q, &ctx, Queue::All, a.limit)?)
    };
    let what = match &rows {
        Rows::Found(_) if a.state.is_none() => "",
        _ => what,
    };
    search::print(ui, &store, &rows, &claims, &a.output, a.limit, what)
}

pub fn show(ui: &mut Ui, a: ShowArgs) -> Result<(), CommandError> {
    let store = open(ui)?;
    let id = store.index.resolve(&a.id)?;
    if ui.json {
        return ui.json(&crate::ops::show::detail(&store, &a.id)?);
    }
    let v = store.index.view(&id)?;
    let claim = claims(&store)?.remove(&id);
    let state = match v.state {
        State::Open => ui.paint("32", "Open"),
        State::Closed => ui.paint("35", "Closed"),
    };
    let reason = v
        .state_reason
        .as_deref()
        .map(|r| format!(" as {}", r.replace('_', " ")))
        .unwrap_or_default();
    ui.say(format!(
        "{} {}",
        ui.paint("1", &esc(&v.title)),
        ui.paint("33", &v.short_id)
    ))?;
    ui.say(format!(
        "{state}{reason} • {} opened {} • {} comment{}",
        esc(&v.author.display()),
        &v.created_at[..10],
        v.comments.len(),
        if v.comments.len() == 1 { "" } else { "s" }
    ))?;
    if !v.labels.is_empty() {
        let labels: Vec<_> = v.labels.iter().map(|l| esc(l)).collect();
        ui.say(format!("Labels: {}", labels.join(", ")))?;
    }
    if !v.assignees.is_empty() {
        let assignees: Vec<_> = v.assignees.iter().map(|a| esc(a)).collect();
        ui.say(format!("Assignees: {}", assignees.join(", ")))?;
    }
    if let Some(c) = &claim {
        ui.say(format!("Claimed by {} until {}", esc(&c.who()), c.until))?;
    }
    ui.say(format!("Priority: P{} • Type: {}", v.priority, esc(&v.issue_type)))?;
    for o in crate::ops::show::overridden(&store, &id)? {
        let who = crate::event::ActorId::from_hex(&o.by)
            .and_then(|a| store.index.author(&a).ok())
            .map_or_else(|| o.by[..12].to_owned(), |a| a.display());
        let lost: String = o.lost.chars().take(60).collect();
        ui.say(ui.paint(
            "33",
            &format!(
                "Overridden: your {} (“{}”) lost to {}'s concurrent edit; redo it with `git issue edit`",
                o.field,
                esc(&lost),
                esc(&who)
            ),
        ))?;
    }
    if let Some(src) = &v.source {
        let url = v.url.as_deref().map(|u| format!(" ({})", esc(u))).unwrap_or_default();
        ui.say(format!("Imported from {}{url}", esc(src)))?;
    }
    links::print(ui, &links::views(&store, &id)?, &links::cycles(&store, &id)?)?;
    ui.say("")?;
    if v.body.is_empty() {
        ui.say("  No description provided")?;
    } else {
        for line in v.body.lines() {
            ui.say(format!("  {}", esc(line)))?;
        }
    }
    for c in &v.comments {
        ui.say("")?;
        ui.say(format!(
            "{} • {}",
            ui.paint("1", &esc(&c.author.display())),
            c.created_at
        ))?;
        for line in c.body.lines() {
            ui.say(format!("  {}", esc(line)))?;
        }
    }
    Ok(())
}

fn edit(ui: &mut Ui, a: EditArgs) -> Result<(), CommandError> {
    let mut links: Vec<(LinkSpec, String, bool)> = Vec::new();
    for (spec, ids, add) in a.link_flags() {
        links.extend(ids.iter().map(|q| (spec, q.clone(), add)));
    }
    let edit = crate::ops::Edit {
        title: a.title.clone(),
        body: read_body(&a.body)?,
        add_labels: a.add_label.clone(),
        remove_labels: a.remove_label.clone(),
        add_assignees: a.add_assignee.clone(),
        remove_assignees: a.remove_assignee.clone(),
        priority: a.plan.priority,
        issue_type: a.plan.issue_type.clone(),
        parent: a.parent.clone(),
        links,
        lock: a.lock.lock,
    };
    if edit.is_empty() {
        // Said before the repository is opened: a usage error needs none.
        return Err(crate::Error::invalid(
            "nothing to edit",
            "give at least one of --title, --body, --body-file, --add-label, --remove-label, --add-assignee, \
             --remove-assignee, --priority, --type, --parent, --add-blocked-by, --add-blocks, --add-related, …",
        )
        .into());
    }
    let store = open(ui)?;
    let done = crate::ops::Issues::new(&store).edit(&a.id, &edit)?;
    tell(ui, &done);
    print_written(ui, &store, &done.id, "edited")
}

/// The editor was left empty, or failed: nothing is written.
fn cancelled() -> CommandError {
    CommandError::usage(
        "the text was left empty; nothing was written",
        "write the text in the editor and save it, or pass it as an option",
    )
}

fn comment(ui: &mut Ui, a: CommentArgs) -> Result<(), CommandError> {
    let body = match read_body(&a.body)? {
        Some(b) => b,
        None if at_terminal() => {
            let text = crate::sys::edit_text(&ui.dir, crate::text::COMMENT_TEMPLATE)?;
            text.as_deref().and_then(crate::text::edited).ok_or_else(cancelled)?
        }
        None => {
            return Err(CommandError::usage(
                "a comment needs a body",
                "`git issue comment ID --body \"…\"` or `--body-file FILE` (on a terminal, your editor opens)",
            ));
        }
    };
    let body = clean_text("comment", &body, true)?;
    let store = open(ui)?;
    let id = store.index.resolve(&a.id)?;
    let done = crate::ops::Issues::new(&store).comment(&id, &body, a.lock.lock)?;
    tell(ui, &done);
    print_written(ui, &store, &id, "commented on")
}

fn set_state(
    ui: &mut Ui,
    query: &str,
    lock: bool,
    to: State,
    reason: Option<Reason>,
    comment: Option<String>,
) -> Result<(), CommandError> {
    let comment = comment.map(|c| clean_text("comment", &c, true)).transpose()?;
    let store = open(ui)?;
    let id = store.index.resolve(query)?;
    let change = crate::ops::StateChange {
        to,
        reason: reason.map(|r| match r {
            Reason::Completed => "completed".to_owned(),
            Reason::NotPlanned => "not_planned".to_owned(),
        }),
        comment,
        lock,
    };
    let done = crate::ops::Issues::new(&store).set_state(&id, &change)?;
    tell(ui, &done);
    print_written(ui, &store, &id, if to == State::Closed { "closed" } else { "reopened" })
}

fn close_from_commits(ui: &mut Ui, range: &str) -> Result<(), CommandError> {
    let store = open(ui)?;
    let branch = crate::trailers::close_branch(&store.repo).ok_or_else(|| {
        CommandError::failure("there is no default branch to close issues from")
            .hint("`git config grit.closeBranch main` names it")
    })?;
    let all = crate::trailers::in_range(&store.repo, range).map_err(|e| {
        CommandError::from(e).hint("give a range git understands, e.g. `main~10..main` or `$BEFORE..$AFTER`")
    })?;
    let (on, off): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|c| crate::trailers::on_branch(&store.repo, &c.commit, &branch));
    let mut applied = crate::trailers::apply(&store, &on)?;
    for c in &off {
        applied.warnings.push(format!(
            "commit {} is not on {branch}: it closes nothing yet",
            &c.commit[..12]
        ));
    }
    if ui.json {
        return ui.json(&applied);
    }
    for w in &applied.warnings {
        ui.note(format!("warning: {}", esc(w)));
    }
    for (issue, commit) in &applied.closed {
        let id = Id::from_hex(issue).expect("ids are hex");
        ui.say(format!(
            "closed {} (commit {})",
            store.index.short_id(&id)?,
            &commit[..12]
        ))?;
    }
    for (issue, commit) in &applied.referenced {
        let id = Id::from_hex(issue).expect("ids are hex");
        ui.say(format!(
            "commented on {} (commit {})",
            store.index.short_id(&id)?,
            &commit[..12]
        ))?;
    }
    if applied.closed.is_empty() && applied.referenced.is_empty() {
        ui.note(format!("nothing to do ({} already applied)", applied.unchanged));
    }
    Ok(())
}

fn scope(store: &Store, local: bool) -> Scope {
    if local {
        Scope::Local
    } else {
        lock::default_scope(&store.repo)
    }
}

fn claim(ui: &mut Ui, a: ClaimArgs) -> Result<(), CommandError> {
    let ttl = lock::parse_duration(&a.ttl)?;
    let store = open(ui)?;
    let scope = scope(&store, a.local);
    let issues = crate::ops::Issues::new(&store);
    let id = match a.id.as_deref() {
        Some(query) => {
            let id = store.index.resolve(query)?;
            issues.claim(&id, ttl, &scope)?;
            id
        }
        None => issues.claim_next(&search::parse_query(&store, &a.query)?, ttl, &scope)?,
    };
    print_written(ui, &store, &id, "claimed")
}

fn unclaim(ui: &mut Ui, a: UnclaimArgs) -> Result<(), CommandError> {
    let store = open(ui)?;
    let id = store.index.resolve(&a.id)?;
    let scope = scope(&store, a.local);
    crate::ops::Issues::new(&store).unclaim(&id, &scope, a.force)?;
    print_written(ui, &store, &id, "unclaimed")
}

fn prime(ui: &mut Ui, a: PrimeArgs) -> Result<(), CommandError> {
    if a.max_bytes < 256 {
        return Err(CommandError::usage(
            format!("--max-bytes {} leaves no room for a primer", a.max_bytes),
            "give at least 256",
        ));
    }
    let store = open(ui)?;
    let p = crate::ops::prime::prime(&store, a.ready, a.peek)?;
    // --json: every item, unbounded.
    if ui.json {
        return ui.json(&p);
    }
    ui.flush()?;
    print!("{}", crate::ops::prime::text(&p, a.max_bytes));
    Ok(())
}
