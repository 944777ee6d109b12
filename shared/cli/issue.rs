//! `git issue`: create, list, show, edit, comment, close, reopen, claim, unclaim and ready.
//! Flags follow GitHub CLI's `gh issue` wherever it has one.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use super::claim::{Claim, claim_field, claims, guard, take_lock};
use super::term::{self, esc};
use super::{CommandError, GlobalArgs, Ui, columns, main_with};
use crate::event::{Id, Kind, State};
use crate::index::ListFilter;
use crate::issue::RowFields;
use crate::lock::{self, Resource, Scope};
use crate::store::Store;

/// An issue tracker that lives in the repository
///
/// Every change is a signed event appended to the writer's own ref under refs/grit/, shared by
/// plain `git fetch` and `git push`; a local index answers queries instantly.
#[derive(Debug, Parser)]
#[command(name = "git-issue", bin_name = "git issue", version, after_help = super::EXIT_STATUS_HELP)]
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
    Create(CreateArgs),
    /// List issues, newest first
    List(ListArgs),
    /// Show an issue with its body and comments
    #[command(visible_alias = "view")]
    Show(ShowArgs),
    /// Edit an issue's title, body, labels or assignees
    Edit(EditArgs),
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
    /// List open issues nobody has claimed, newest first (what an agent can pick up)
    Ready(ReadyArgs),
    /// Run a short tour in a new scratch repository (through `git issue`, so PATH is checked too)
    Demo(DemoArgs),
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
    pub id: String,
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
    /// Only issues with this label (repeat: all of them)
    #[arg(short, long = "label", value_name = "NAME", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Show at most N issues (0: all)
    #[arg(short = 'L', long, default_value_t = 30, value_name = "N")]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Title of the issue
    #[arg(short, long, required = true)]
    pub title: Option<String>,
    #[command(flatten)]
    pub body: BodyArgs,
    /// Add a label (repeat, or separate with commas)
    #[arg(short, long = "label", value_name = "NAME", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Assign someone (repeat, or separate with commas; `@me` is your own email)
    #[arg(short, long = "assignee", value_name = "WHO", value_delimiter = ',')]
    pub assignees: Vec<String>,
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
    /// Which issues to list
    #[arg(short, long, value_enum, default_value = "open")]
    pub state: StateFilter,
    /// Only issues with this label (repeat: all of them)
    #[arg(short, long = "label", value_name = "NAME", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Only issues assigned to WHO (`@me`: your own email)
    #[arg(short, long, value_name = "WHO")]
    pub assignee: Option<String>,
    /// Show at most N issues (0: all)
    #[arg(short = 'L', long, default_value_t = 30, value_name = "N")]
    pub limit: usize,
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
    pub id: String,
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
    main_with(run, |c: &Cli| &c.global)
}

pub fn run(cli: Cli, ui: &mut Ui) -> Result<(), CommandError> {
    match cli.command {
        Command::Create(a) => create(ui, a),
        Command::List(a) => list(ui, a),
        Command::Show(a) => show(ui, a),
        Command::Edit(a) => edit(ui, a),
        Command::Comment(a) => comment(ui, a),
        Command::Close(a) => set_state(ui, &a.id, a.lock.lock, State::Closed, a.reason, a.comment),
        Command::Reopen(a) => set_state(ui, &a.id, a.lock.lock, State::Open, None, a.comment),
        Command::Claim(a) => claim(ui, a),
        Command::Unclaim(a) => unclaim(ui, a),
        Command::Ready(a) => ready(ui, a),
        Command::Demo(a) => super::docs::demo(ui, a.scratch),
    }
}

fn open(ui: &Ui) -> Result<Store, CommandError> {
    super::open_store(ui)
}

/// Rejects text that is empty or holds control characters other than newlines and tabs.
fn clean_text(what: &str, s: &str, multiline: bool) -> Result<String, CommandError> {
    let t = if multiline {
        s.trim_end().to_owned()
    } else {
        s.trim().to_owned()
    };
    if t.is_empty() {
        return Err(CommandError::usage(
            format!("{what} is empty"),
            format!("give a non-empty {what}"),
        ));
    }
    if t.chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')))
    {
        return Err(CommandError::usage(
            format!("{what} contains control characters"),
            if multiline {
                "remove them; newlines and tabs are fine"
            } else {
                "a single line of printable text is expected"
            },
        ));
    }
    Ok(t)
}

fn clean_names(
    what: &str,
    names: &[String],
    me: &dyn Fn() -> Result<String, CommandError>,
) -> Result<Vec<String>, CommandError> {
    let mut out = Vec::new();
    for n in names {
        let n = if n.trim() == "@me" {
            me()?
        } else {
            clean_text(what, n, false)?
        };
        if n.len() > 256 {
            return Err(CommandError::usage(
                format!("{what} '{}' is too long", term::truncate(&n, 32)),
                "use at most 256 bytes",
            ));
        }
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
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

fn me(store: &Store) -> impl Fn() -> Result<String, CommandError> + '_ {
    move || Ok(store.actor()?.record.email)
}

fn create(ui: &mut Ui, a: CreateArgs) -> Result<(), CommandError> {
    let title = a
        .title
        .as_deref()
        .ok_or_else(|| CommandError::usage("a title is required", "`git issue create --title \"…\" [--body \"…\"]`"))?;
    let title = clean_text("title", title, false)?;
    let body = read_body(&a.body)?.unwrap_or_default();
    let store = open(ui)?;
    let labels = clean_names("label", &a.labels, &me(&store))?;
    let assignees = clean_names("assignee", &a.assignees, &me(&store))?;
    let mut kinds = vec![Kind::IssueCreated { title, body, labels }];
    kinds.extend(assignees.into_iter().map(|assignee| Kind::AssigneeAdded { assignee }));
    let events = store.write(None, kinds)?;
    let id = events[0].id;
    print_written(ui, &store, &id, "created")
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
        let view = store.index.view(id)?;
        let claim = claims(store)?.remove(id);
        return ui.json(&ShowJson { view: &view, claim });
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
    let assignee = match a.assignee {
        Some(w) if w == "@me" => Some(store.actor()?.record.email),
        other => other,
    };
    let filter = ListFilter {
        state: match a.state {
            StateFilter::Open => Some(State::Open),
            StateFilter::Closed => Some(State::Closed),
            StateFilter::All => None,
        },
        labels: a.labels,
        assignee,
        author: None,
        exclude: Default::default(),
        limit: a.limit,
    };
    let claims = claims(&store)?;
    if ui.json {
        store
            .index
            .write_list_json(&filter, ui.out(), |id, out| claim_field(claims.get(id), out))?;
        return Ok(());
    }
    print_rows(ui, &store, &filter, &claims, a.state)
}

fn print_rows(
    ui: &mut Ui,
    store: &Store,
    filter: &ListFilter,
    claims: &HashMap<Id, Claim>,
    state: StateFilter,
) -> Result<(), CommandError> {
    let mut rows = Vec::new();
    let total = store.index.for_each_row(filter, |row| {
        let f: RowFields =
            serde_json::from_slice(&[b"{", row.fragment, b"}"].concat()).map_err(|e| crate::Error::Io {
                path: "index row".into(),
                source: e.into(),
            })?;
        let title = match claims.get(&row.id) {
            Some(c) => format!("{} [claimed by {}]", esc(&f.title), esc(&c.who())),
            None => esc(&f.title).into_owned(),
        };
        let labels: Vec<_> = f.labels.iter().map(|l| esc(l)).collect();
        rows.push((row.short_id.to_owned(), f.state, title, labels.join(", "), f.updated_at));
        Ok(())
    })?;
    if ui.quiet {
        return Ok(());
    }
    let what = match state {
        StateFilter::Open => "open ",
        StateFilter::Closed => "closed ",
        StateFilter::All => "",
    };
    if rows.is_empty() {
        ui.note(format!("no {what}issues match"));
        return Ok(());
    }
    if ui.tty {
        ui.say(format!("Showing {} of {} {what}issues\n", rows.len(), total))?;
        let mut table = vec![vec![
            "ID".into(),
            "STATE".into(),
            "TITLE".into(),
            "LABELS".into(),
            "UPDATED".into(),
        ]];
        for (short, state, title, labels, updated) in rows {
            let state = match state {
                State::Open => ui.paint("32", "open"),
                State::Closed => ui.paint("35", "closed"),
            };
            table.push(vec![
                ui.paint("33", &short),
                state,
                title,
                labels,
                updated[..10].to_owned(),
            ]);
        }
        for line in columns(&table) {
            ui.say(line.trim_end())?;
        }
    } else {
        for (short, state, title, labels, updated) in rows {
            let state = if state == State::Open { "open" } else { "closed" };
            ui.say(format!("{short}\t{state}\t{title}\t{labels}\t{updated}"))?;
        }
    }
    if total > filter.limit && filter.limit > 0 {
        ui.note(format!(
            "hint: {} more; use `--limit {}` or `--limit 0` for all",
            total - filter.limit,
            total
        ));
    }
    Ok(())
}

fn show(ui: &mut Ui, a: ShowArgs) -> Result<(), CommandError> {
    let store = open(ui)?;
    let id = store.index.resolve(&a.id)?;
    let v = store.index.view(&id)?;
    let claim = claims(&store)?.remove(&id);
    if ui.json {
        return ui.json(&ShowJson { view: &v, claim });
    }
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
    let title = a.title.as_deref().map(|t| clean_text("title", t, false)).transpose()?;
    let body = read_body(&a.body)?;
    let store = open(ui)?;
    let me = me(&store);
    let (add_l, rm_l) = (
        clean_names("label", &a.add_label, &me)?,
        clean_names("label", &a.remove_label, &me)?,
    );
    let (add_a, rm_a) = (
        clean_names("assignee", &a.add_assignee, &me)?,
        clean_names("assignee", &a.remove_assignee, &me)?,
    );
    if title.is_none() && body.is_none() && add_l.is_empty() && rm_l.is_empty() && add_a.is_empty() && rm_a.is_empty() {
        return Err(CommandError::usage(
            "nothing to edit",
            "give at least one of --title, --body, --body-file, --add-label, --remove-label, --add-assignee, --remove-assignee",
        ));
    }
    let id = store.index.resolve(&a.id)?;
    let _guard = guard(ui, &store, &id, a.lock.lock)?;
    let cur = store.index.issue(&id)?.expect("resolved ids exist");
    let (labels, assignees) = (cur.labels(), cur.assignees());
    let mut kinds = Vec::new();
    if let Some(t) = title.filter(|t| cur.title.as_ref().is_none_or(|r| &r.value != t)) {
        kinds.push(Kind::TitleSet { title: t });
    }
    if let Some(b) = body.filter(|b| cur.body.as_ref().is_none_or(|r| &r.value != b)) {
        kinds.push(Kind::BodySet { body: b });
    }
    kinds.extend(
        add_l
            .into_iter()
            .filter(|l| !labels.contains(l))
            .map(|label| Kind::LabelAdded { label }),
    );
    kinds.extend(
        rm_l.into_iter()
            .filter(|l| labels.contains(l))
            .map(|label| Kind::LabelRemoved { label }),
    );
    kinds.extend(
        add_a
            .into_iter()
            .filter(|x| !assignees.contains(x))
            .map(|assignee| Kind::AssigneeAdded { assignee }),
    );
    kinds.extend(
        rm_a.into_iter()
            .filter(|x| assignees.contains(x))
            .map(|assignee| Kind::AssigneeRemoved { assignee }),
    );
    if kinds.is_empty() {
        ui.note("nothing changed: the issue already looks like that");
    }
    store.write(Some(id), kinds)?;
    print_written(ui, &store, &id, "edited")
}

fn comment(ui: &mut Ui, a: CommentArgs) -> Result<(), CommandError> {
    let body = read_body(&a.body)?.ok_or_else(|| {
        CommandError::usage(
            "a comment needs a body",
            "`git issue comment ID --body \"…\"` or `--body-file FILE`",
        )
    })?;
    let body = clean_text("comment", &body, true)?;
    let store = open(ui)?;
    let id = store.index.resolve(&a.id)?;
    let _guard = guard(ui, &store, &id, a.lock.lock)?;
    store.write(Some(id), vec![Kind::CommentAdded { body }])?;
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
    let _guard = guard(ui, &store, &id, lock)?;
    let cur = store.index.issue(&id)?.expect("resolved ids exist");
    let mut kinds: Vec<Kind> = comment.into_iter().map(|body| Kind::CommentAdded { body }).collect();
    let verb = if to == State::Closed { "closed" } else { "reopened" };
    if cur.state() == to {
        ui.note(format!(
            "issue {} is already {}",
            store.index.short_id(&id)?,
            if to == State::Closed { "closed" } else { "open" }
        ));
    } else {
        let reason = reason.map(|r| match r {
            Reason::Completed => "completed".to_owned(),
            Reason::NotPlanned => "not_planned".to_owned(),
        });
        kinds.push(Kind::StateSet { state: to, reason });
    }
    store.write(Some(id), kinds)?;
    print_written(ui, &store, &id, verb)
}

#[derive(Serialize)]
struct ShowJson<'a> {
    #[serde(flatten)]
    view: &'a crate::issue::IssueView,
    claim: Option<Claim>,
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
    let id = store.index.resolve(&a.id)?;
    let scope = scope(&store, a.local);
    take_lock(&store, &Resource::Issue(id), ttl, "claim", &scope)?;
    print_written(ui, &store, &id, "claimed")
}

fn unclaim(ui: &mut Ui, a: UnclaimArgs) -> Result<(), CommandError> {
    let store = open(ui)?;
    let id = store.index.resolve(&a.id)?;
    let scope = scope(&store, a.local);
    let actor = store.actor()?;
    let who = lock::Actor::of(&actor);
    let r = Resource::Issue(id);
    match lock::change(
        &store.repo,
        &who,
        std::slice::from_ref(&r),
        lock::LeaseChange::Release,
        &scope,
        a.force,
    ) {
        Ok(_) => print_written(ui, &store, &id, "unclaimed"),
        Err(lock::Refused::NotHeld(_)) => Err(CommandError::failure(format!(
            "issue {} is not claimed",
            store.index.short_id(&id)?
        ))),
        Err(lock::Refused::NotOwner(l)) => {
            let mut e = super::lock::conflict_error(&store.repo, &[&l]);
            e.hints = vec!["only the claimer unclaims; `--force` ends an abandoned claim".into()];
            Err(e)
        }
        Err(lock::Refused::Error(e)) => Err(e.into()),
    }
}

fn ready(ui: &mut Ui, a: ReadyArgs) -> Result<(), CommandError> {
    let store = open(ui)?;
    let claims = claims(&store)?;
    let filter = ListFilter {
        state: Some(State::Open),
        labels: a.labels,
        assignee: None,
        author: None,
        exclude: claims.keys().copied().collect(),
        limit: a.limit,
    };
    if ui.json {
        store
            .index
            .write_list_json(&filter, ui.out(), |_, out| claim_field(None, out))?;
        return Ok(());
    }
    print_rows(ui, &store, &filter, &claims, StateFilter::Open)
}
