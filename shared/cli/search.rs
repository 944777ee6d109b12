//! Finding issues from the command line: `list`, `ready`, `blocked` and `tree`, the query
//! language's flags (`-S`, `--view`), saved views (`git issue view`), `claim --next`, and
//! the output formats every listing shares (table, `--json [FIELDS]`, `--format`).

use std::collections::{HashMap, HashSet};

use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use super::claim::{Claim, claims};
use super::term::esc;
use super::{CommandError, Ui, columns};
use crate::event::{Id, State};
use crate::index::search::{Found, Queue, SearchContext};
use crate::index::{ListFilter, Row};
use crate::query::{self, Expr, Query, Term};
use crate::store::Store;

/// The fields of a listed issue, for `--json FIELDS` and `--format`.
pub const FIELDS: [&str; 16] = [
    "id",
    "short_id",
    "title",
    "state",
    "state_reason",
    "priority",
    "type",
    "labels",
    "assignees",
    "author",
    "comments",
    "created_at",
    "updated_at",
    "parent",
    "claim",
    "blocked_by",
];

// How to choose issues: the query language and saved views (a plain comment, see `PlanArgs`).
#[derive(Debug, Args, Default)]
pub struct QueryArgs {
    /// Search with a query: qualifiers (is:open, label:bug, -label:wontfix, assignee:@me,
    /// no:assignee, author:NAME, type:bug, priority:<=1, parent:ID, blocked:true,
    /// claimed:false, created:>2026-11-01, updated:<7d, comments:>3), words and "phrases"
    /// (title, body and comments), OR, NOT or -, parentheses, and
    /// sort:created|updated|priority|comments[-asc|-desc]
    #[arg(short = 'S', long = "search", value_name = "QUERY")]
    pub search: Option<String>,
    /// Start from a saved view (`git issue view save NAME -S QUERY`); -S narrows it
    #[arg(long, value_name = "NAME")]
    pub view: Option<String>,
}

// How to print a listing (a plain comment, see `PlanArgs`).
#[derive(Debug, Args, Default)]
pub struct OutputArgs {
    /// Print one line per issue from a template, e.g. '{short_id} P{priority} {title}'; the
    /// fields are id, short_id, title, state, state_reason, priority, type, labels, assignees,
    /// author, comments, created_at, updated_at, parent, claim and blocked_by
    #[arg(long, value_name = "TEMPLATE")]
    pub format: Option<String>,
    /// With --json, print only these fields (comma-separated; `--json FIELDS` says the same)
    #[arg(long, value_name = "FIELDS", value_delimiter = ',')]
    pub fields: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BlockedArgs {
    #[command(flatten)]
    pub query: QueryArgs,
    /// Show at most N issues (0: all)
    #[arg(short = 'L', long, default_value_t = 30, value_name = "N")]
    pub limit: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    /// The issue at the top (an epic, usually): id or unique prefix
    pub id: String,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ViewArgs {
    #[command(subcommand)]
    pub command: Option<ViewCommand>,
    /// Show this issue (as `git issue show ID`)
    #[arg(required = true)]
    pub id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ViewCommand {
    /// Save a query under a name, in git config (issue.view.NAME), so `list --view NAME` runs it
    Save {
        /// Letters, digits and '-', starting with a letter
        name: String,
        /// The query (as `list -S` takes it)
        #[arg(short = 'S', long = "search", value_name = "QUERY", required = true)]
        search: String,
        /// Save it in your global git config, for every repository
        #[arg(long)]
        global: bool,
    },
    /// List the saved views
    List,
    /// Remove a saved view
    Rm {
        /// The view's name
        name: String,
        /// Remove it from your global git config
        #[arg(long)]
        global: bool,
    },
}

/// Where the rows of a listing come from.
pub enum Rows {
    /// The index's rows newest first, through the simple filter (the fast path of `list`).
    Filter(ListFilter),
    /// A search's hits, in order.
    Found(Found),
}

impl Rows {
    fn each(&self, store: &Store, f: &mut dyn FnMut(Row<'_>) -> crate::Result<()>) -> crate::Result<usize> {
        match self {
            Rows::Filter(filter) => store.index.for_each_row(filter, f),
            Rows::Found(found) => {
                let items: Vec<(Id, u64)> = found.hits.iter().map(|h| (h.id, h.facts.created_ms)).collect();
                store.index.for_each_listed(&items, f)?;
                Ok(found.total)
            }
        }
    }

    fn limit(&self, limit: usize) -> usize {
        match self {
            Rows::Filter(f) => f.limit,
            Rows::Found(_) => limit,
        }
    }

    fn blockers(&self, id: &Id) -> Option<&Vec<Id>> {
        match self {
            Rows::Found(f) => f.blockers.get(id),
            Rows::Filter(_) => None,
        }
    }
}

/// Parses `-S` (after the saved view, if any), with `@me` made the current actor's email.
pub fn parse_query(store: &Store, args: &QueryArgs) -> Result<Query, CommandError> {
    Ok(crate::ops::query::parse(
        store,
        args.view.as_deref(),
        args.search.as_deref(),
    )?)
}

/// Makes `@me` in `q` the current actor's email.
pub fn resolve_me(store: &Store, q: &mut Query) -> Result<(), CommandError> {
    Ok(crate::ops::query::resolve_me(store, q)?)
}

pub use crate::ops::query::mentions_state;

/// Who holds claims, as a search needs them.
pub fn context(store: &Store, claims: &HashMap<Id, Claim>) -> Result<SearchContext, CommandError> {
    Ok(crate::ops::query::context_of(store, claims)?)
}

/// Prints a listing: a table on a terminal, tab-separated lines elsewhere, JSON with `--json`
/// (all fields, or `--fields`), or one line per issue from `--format`.
pub fn print(
    ui: &mut Ui,
    store: &Store,
    rows: &Rows,
    claims: &HashMap<Id, Claim>,
    output: &OutputArgs,
    limit: usize,
    what: &str,
) -> Result<(), CommandError> {
    for f in &output.fields {
        if !FIELDS.contains(&f.as_str()) {
            return Err(CommandError::usage(
                format!("'{f}' is not a field of the JSON output"),
                format!("the fields are {}", FIELDS.join(", ")),
            ));
        }
    }
    if !output.fields.is_empty() && !ui.json && output.format.is_none() {
        return Err(CommandError::usage(
            "--fields picks fields of the JSON output",
            "add --json, or use --format for text",
        ));
    }
    let template = output
        .format
        .as_deref()
        .map(|t| super::parse_template(t, &FIELDS, "git issue list", "'{short_id} P{priority} {title}'"))
        .transpose()?;
    let short_of = |id: &Id| store.index.short_id(id);
    if ui.json && output.fields.is_empty() && template.is_none() {
        let blockers = match rows {
            Rows::Found(f) => Some(&f.blockers),
            Rows::Filter(_) => None,
        };
        crate::ops::query::write_listing(store, |f| rows.each(store, f), claims, blockers, ui.out())?;
        return Ok(());
    }
    if ui.json || template.is_some() {
        let mut objects = Vec::new();
        rows.each(store, &mut |row| {
            objects.push(object(&row, claims, rows)?);
            Ok(())
        })?;
        if let Some(t) = template {
            for o in &objects {
                let mut line = String::new();
                for (field, text) in &t {
                    if *field {
                        line.push_str(&esc(&render(o.get(text.as_str()).unwrap_or(&Value::Null))));
                    } else {
                        line.push_str(text);
                    }
                }
                ui.say(line)?;
            }
            return Ok(());
        }
        let picked: Vec<Value> = objects
            .into_iter()
            .map(|mut o| {
                Value::Object(
                    output
                        .fields
                        .iter()
                        .map(|f| (f.clone(), o.remove(f.as_str()).unwrap_or(Value::Null)))
                        .collect(),
                )
            })
            .collect();
        return ui.json(&picked);
    }
    let mut lines = Vec::new();
    let total = rows.each(store, &mut |row| {
        let f = object(&row, claims, rows)?;
        lines.push((row.id, row.short_id.to_owned(), f));
        Ok(())
    })?;
    if ui.quiet {
        return Ok(());
    }
    if lines.is_empty() {
        ui.note(format!("no {what}issues match"));
        return Ok(());
    }
    let text = |o: &Map<String, Value>, k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let title_of = |id: &Id, o: &Map<String, Value>| match claims.get(id) {
        Some(c) => format!("{} [claimed by {}]", esc(&text(o, "title")), esc(&c.who())),
        None => esc(&text(o, "title")).into_owned(),
    };
    let labels_of = |o: &Map<String, Value>| {
        o.get("labels")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|l| esc(l).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    if ui.tty {
        ui.say(format!("Showing {} of {} {what}issues\n", lines.len(), total))?;
        let mut table = vec![
            ["ID", "STATE", "P", "TYPE", "TITLE", "LABELS", "UPDATED"]
                .map(String::from)
                .to_vec(),
        ];
        let mut notes = Vec::new();
        for (id, short, o) in &lines {
            let state = match text(o, "state").as_str() {
                "open" => ui.paint("32", "open"),
                _ => ui.paint("35", "closed"),
            };
            table.push(vec![
                ui.paint("33", short),
                state,
                format!("P{}", o.get("priority").and_then(Value::as_u64).unwrap_or(2)),
                esc(&text(o, "type")).into_owned(),
                title_of(id, o),
                labels_of(o),
                text(o, "updated_at").chars().take(10).collect(),
            ]);
            if let Some(b) = rows.blockers(id) {
                notes.push((table.len() - 1, b.clone()));
            }
        }
        let rendered = columns(&table);
        for (i, line) in rendered.iter().enumerate() {
            ui.say(line.trim_end())?;
            for (_, blockers) in notes.iter().filter(|(at, _)| *at == i) {
                for b in blockers {
                    let title = store
                        .index
                        .issue(b)?
                        .and_then(|s| s.title.map(|t| t.value))
                        .unwrap_or_default();
                    ui.say(format!(
                        "    blocked by {} {}",
                        ui.paint("33", &short_of(b)?),
                        esc(&title)
                    ))?;
                }
            }
        }
    } else {
        for (id, short, o) in &lines {
            let mut line = format!(
                "{short}\t{}\t{}\t{}\t{}",
                text(o, "state"),
                title_of(id, o),
                labels_of(o),
                text(o, "updated_at")
            );
            if let Some(b) = rows.blockers(id) {
                let shorts = b.iter().map(short_of).collect::<crate::Result<Vec<_>>>()?;
                line.push_str(&format!("\tblocked by {}", shorts.join(",")));
            }
            ui.say(line)?;
        }
    }
    let limit = rows.limit(limit);
    if total > limit && limit > 0 {
        ui.note(format!(
            "hint: {} more; use `--limit {}` or `--limit 0` for all",
            total - limit,
            total
        ));
    }
    Ok(())
}

/// A listed issue as a JSON object with every field of `FIELDS`.
fn object(row: &Row<'_>, claims: &HashMap<Id, Claim>, rows: &Rows) -> crate::Result<Map<String, Value>> {
    let bad = |e: serde_json::Error| crate::Error::Io {
        path: "index row".into(),
        source: e.into(),
    };
    let mut o: Map<String, Value> = serde_json::from_slice(&[b"{", row.fragment, b"}"].concat()).map_err(bad)?;
    o.insert("id".into(), Value::String(row.hex.to_owned()));
    o.insert("short_id".into(), Value::String(row.short_id.to_owned()));
    o.insert("author".into(), serde_json::from_str(row.author_json).map_err(bad)?);
    o.insert(
        "claim".into(),
        claims
            .get(&row.id)
            .map_or(Value::Null, |c| serde_json::to_value(c).expect("a claim serialises")),
    );
    let blockers: Vec<Value> = rows
        .blockers(&row.id)
        .into_iter()
        .flatten()
        .map(|b| Value::String(b.to_hex()))
        .collect();
    o.insert("blocked_by".into(), Value::Array(blockers));
    Ok(o)
}

/// A field's value in a `--format` line: text as is, lists joined by commas, nothing for null,
/// a person by name.
fn render(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(render).collect::<Vec<_>>().join(","),
        Value::Object(o) => o
            .get("name")
            .or_else(|| o.get("by_name"))
            .or_else(|| o.get("id"))
            .map(render)
            .unwrap_or_default(),
        other => other.to_string(),
    }
}

pub fn blocked(ui: &mut Ui, a: BlockedArgs) -> Result<(), CommandError> {
    let store = super::open_store(ui)?;
    let q = parse_query(&store, &a.query)?;
    let claims = claims(&store)?;
    let found = store
        .index
        .search(&q, &context(&store, &claims)?, Queue::Blocked, a.limit)?;
    print(ui, &store, &Rows::Found(found), &claims, &a.output, a.limit, "blocked ")
}

/// `ready`: the work queue.
pub fn ready(
    ui: &mut Ui,
    query: &QueryArgs,
    labels: &[String],
    limit: usize,
    include_ephemeral: bool,
    output: &OutputArgs,
) -> Result<(), CommandError> {
    let store = super::open_store(ui)?;
    let mut q = parse_query(&store, query)?;
    for l in labels {
        q = q.and(Query {
            expr: Some(Expr::Term(Term::Label(vec![l.clone()]))),
            sort: None,
        });
    }
    let claims = claims(&store)?;
    let mut ctx = context(&store, &claims)?;
    ctx.include_ephemeral = include_ephemeral;
    let found = store.index.search(&q, &ctx, Queue::Ready, limit)?;
    print(ui, &store, &Rows::Found(found), &claims, output, limit, "ready ")
}

/// The first ready issues (as `ready` orders them) for `claim --next`.
pub fn ready_ids(store: &Store, query: &QueryArgs, limit: usize) -> Result<Vec<Id>, CommandError> {
    let q = parse_query(store, query)?;
    let claims = claims(store)?;
    let found = store.index.search(&q, &context(store, &claims)?, Queue::Ready, limit)?;
    Ok(found.hits.into_iter().map(|h| h.id).collect())
}

#[derive(serde::Serialize)]
struct TreeNode {
    id: String,
    short_id: String,
    title: String,
    state: State,
    #[serde(rename = "type")]
    issue_type: String,
    priority: u8,
    blocked_by: Vec<TreeLeaf>,
    children: Vec<TreeNode>,
}

#[derive(serde::Serialize)]
struct TreeLeaf {
    id: String,
    short_id: String,
    title: String,
    state: State,
}

pub fn tree(ui: &mut Ui, a: TreeArgs) -> Result<(), CommandError> {
    let store = super::open_store(ui)?;
    let root = store.index.resolve(&a.id)?;
    let mut seen = HashSet::new();
    let node = build_tree(&store, root, &mut seen)?;
    if ui.json {
        return ui.json(&node);
    }
    let mut lines = Vec::new();
    draw(ui, &node, "", "", &mut lines);
    for l in lines {
        ui.say(l)?;
    }
    Ok(())
}

fn build_tree(store: &Store, id: Id, seen: &mut HashSet<Id>) -> Result<TreeNode, CommandError> {
    seen.insert(id);
    let s = store.index.issue(&id)?.unwrap_or_default();
    let mut node = TreeNode {
        id: id.to_hex(),
        short_id: store.index.short_id(&id)?,
        title: s.title.as_ref().map(|t| t.value.clone()).unwrap_or_default(),
        state: s.state(),
        issue_type: s.issue_type().to_owned(),
        priority: s.priority(),
        blocked_by: Vec::new(),
        children: Vec::new(),
    };
    for (link, other) in store.index.links_of(&id)? {
        match link {
            crate::index::tables::BLOCKED_BY => {
                let o = store.index.issue(&other)?.unwrap_or_default();
                node.blocked_by.push(TreeLeaf {
                    id: other.to_hex(),
                    short_id: store.index.short_id(&other)?,
                    state: o.state(),
                    title: o.title.map(|t| t.value).unwrap_or_default(),
                });
            }
            // A child already drawn (a parent cycle made by two clones) is not drawn again.
            crate::index::tables::CHILD if !seen.contains(&other) => {
                node.children.push(build_tree(store, other, seen)?);
            }
            _ => {}
        }
    }
    node.children
        .sort_by(|a, b| (a.priority, &a.short_id).cmp(&(b.priority, &b.short_id)));
    Ok(node)
}

fn draw(ui: &Ui, n: &TreeNode, first: &str, rest: &str, out: &mut Vec<String>) {
    let state = |s: State| match s {
        State::Open => ui.paint("32", "open  "),
        State::Closed => ui.paint("35", "closed"),
    };
    out.push(format!(
        "{first}{} {} P{} {:<7} {}",
        ui.paint("33", &n.short_id),
        state(n.state),
        n.priority,
        esc(&n.issue_type),
        esc(&n.title)
    ));
    let count = n.blocked_by.len() + n.children.len();
    let mut i = 0;
    for b in &n.blocked_by {
        i += 1;
        let (branch, _) = if i == count {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        out.push(format!(
            "{rest}{branch}blocked by {} {} {}",
            ui.paint("33", &b.short_id),
            state(b.state),
            esc(&b.title)
        ));
    }
    for c in &n.children {
        i += 1;
        let (branch, more) = if i == count {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        draw(ui, c, &format!("{rest}{branch}"), &format!("{rest}{more}"), out);
    }
}

fn check_view_name(name: &str) -> Result<(), CommandError> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(CommandError::usage(
            format!("'{name}' cannot name a view"),
            "use letters, digits and '-', starting with a letter (git config keys allow no more)",
        ))
    }
}

pub fn view(ui: &mut Ui, a: ViewArgs) -> Result<(), CommandError> {
    let Some(command) = a.command else {
        let id = a.id.expect("clap requires an id without a subcommand");
        return super::issue::show(ui, super::issue::ShowArgs { id, history: false });
    };
    let store = super::open_store(ui)?;
    let scope = |global: bool| if global { "--global" } else { "--local" };
    match command {
        ViewCommand::Save { name, search, global } => {
            check_view_name(&name)?;
            query::parse(&search, crate::repo::now_ms()).map_err(|e| crate::Error::Query {
                text: search.clone(),
                column: e.column,
                message: e.message.clone(),
            })?;
            store
                .repo
                .git_command(&["config", scope(global), &format!("issue.view.{name}"), &search])?;
            if ui.json {
                return ui.json(&serde_json::json!({ "name": name, "query": search }));
            }
            ui.say(format!("saved view {name}: {}", esc(&search)))
        }
        ViewCommand::List => {
            let out = store.repo.git_output(&["config", "--get-regexp", r"^issue\.view\."])?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let views: Vec<(String, String)> = text
                .lines()
                .filter_map(|l| {
                    let (k, v) = l.split_once(' ').unwrap_or((l, ""));
                    Some((k.strip_prefix("issue.view.")?.to_owned(), v.to_owned()))
                })
                .collect();
            if ui.json {
                let list: Vec<Value> = views
                    .iter()
                    .map(|(n, q)| serde_json::json!({ "name": n, "query": q }))
                    .collect();
                return ui.json(&list);
            }
            if views.is_empty() {
                ui.note("no saved views; `git issue view save NAME -S QUERY` saves one");
            }
            let table: Vec<Vec<String>> = views
                .iter()
                .map(|(n, q)| vec![n.clone(), esc(q).into_owned()])
                .collect();
            for line in columns(&table) {
                ui.say(line.trim_end())?;
            }
            Ok(())
        }
        ViewCommand::Rm { name, global } => {
            check_view_name(&name)?;
            let out = store
                .repo
                .git_output(&["config", scope(global), "--unset", &format!("issue.view.{name}")])?;
            if !out.status.success() {
                return Err(CommandError::failure(format!("there is no saved view '{name}'"))
                    .hint("`git issue view list` lists them"));
            }
            if ui.json {
                return ui.json(&serde_json::json!({ "name": name, "removed": true }));
            }
            ui.say(format!("removed view {name}"))
        }
    }
}

/// `--json FIELDS`, as `gh` takes it, becomes `--json --fields FIELDS` before parsing: only
/// when the next argument is nothing but known field names, so `--json` before an issue id
/// keeps its meaning.
pub fn json_fields_argv(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut it = args.into_iter().peekable();
    while let Some(a) = it.next() {
        let is_json = a == "--json";
        out.push(a);
        if is_json
            && let Some(next) = it.peek().and_then(|n| n.to_str())
            && !next.is_empty()
            && next.split(',').all(|f| FIELDS.contains(&f.trim()))
        {
            out.push("--fields".into());
        }
    }
    out
}
