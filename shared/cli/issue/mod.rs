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

mod agents;
mod read;
mod views;
mod write;

pub(in crate::cli) use agents::*;
pub(in crate::cli) use read::*;
pub(in crate::cli) use views::*;
pub(in crate::cli) use write::*;

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
    /// Claim an issue at the head of `git issue ready` (atomically: agents running this at once
    /// each get a different issue); -S narrows the queue. It draws among the first
    /// issue.claimSpread (default 8; 1 for strictly the first) of the first one's priority
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
    /// Also ephemeral issues (labelled `ephemeral`, as beads' wisps are imported)
    #[arg(long)]
    pub include_ephemeral: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `-T`: the types `--help` lists, and (unlisted) the kinds an import keeps.
fn type_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        crate::issue::ALL_TYPES
            .iter()
            .map(|t| clap::builder::PossibleValue::new(t).hide(!TYPES.contains(t))),
    )
}

// Priority, type and links, as `create` and `edit` take them (a plain comment: a doc comment on
// a flattened group becomes the about text of every command that flattens it).
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Priority from 0 (most urgent) to 4; 2 unless set
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=4))]
    pub priority: Option<u8>,
    /// bug, feature, task, epic or chore; task unless set
    #[arg(short = 'T', long = "type", value_name = "TYPE", value_parser = type_parser())]
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
    /// Body text (`-m`, as git commit takes a message, says the same)
    #[arg(short, long, short_alias = 'm', alias = "message", conflicts_with = "body_file")]
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
    /// Show every event of the issue, oldest first, with who wrote it and what its signature
    /// vouches for, instead of the issue as it stands (with --json: the events as an array)
    #[arg(long)]
    pub history: bool,
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
        Command::Ready(a) => search::ready(ui, &a.query, &a.labels, a.limit, a.include_ephemeral, &a.output),
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
