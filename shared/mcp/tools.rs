//! The MCP tools: each one's arguments (a JSON Schema derived from the type), its annotations,
//! and the operation it calls. A tool does what the CLI command of the same purpose does,
//! through the same function of the operations tier; its result is that function's result as
//! structured content.

use std::time::Duration;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::event::Id;
use crate::issue::LinkSpec;
use crate::lock::{self, LeaseChange, Scope};
use crate::ops::sandboxes::{CreateRequest, Exec, LandRequest, Output};
use crate::ops::{self, Issues, Sandboxes};
use crate::store::Store;

/// Issues to choose from, the `-S` language of `git issue list` (`label:bug priority:<=1`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadyArgs {
    /// Only issues that match this query (the `-S` language).
    pub query: Option<String>,
    /// How many to return (default 10).
    pub limit: Option<usize>,
    /// Also ephemeral issues (labelled `ephemeral`), which ready leaves out by default.
    #[serde(default)]
    pub include_ephemeral: bool,
}

/// The `search` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// The query (the `-S` language): `is:open label:bug "free text"`, `claimed:@me`, `ready`…
    pub query: String,
    /// How many to return (default 50).
    pub limit: Option<usize>,
}

/// The `claim_next` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimNextArgs {
    /// Only issues that match this query.
    pub query: Option<String>,
    /// How long the claim lasts unless renewed (`30m`, `4h`; default 4h).
    pub ttl: Option<String>,
}

/// The arguments of tools that take one issue (`show`, `history`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueArgs {
    /// The issue: its id or a unique prefix of it (at least 4 characters).
    pub id: String,
}

/// The `claim` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimArgs {
    /// The issue: its id or a unique prefix of it.
    pub id: String,
    /// How long the claim lasts unless renewed (default 4h).
    pub ttl: Option<String>,
}

/// The `unclaim` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnclaimArgs {
    /// The issue: its id or a unique prefix of it.
    pub id: String,
    /// End another actor's abandoned claim (recorded in the lock's history).
    #[serde(default)]
    pub force: bool,
}

/// The `create` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// The title: one line.
    pub title: String,
    /// The description, in markdown.
    #[serde(default)]
    pub body: String,
    /// Labels it starts with.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Emails; `@me` is this session's actor.
    #[serde(default)]
    pub assignees: Vec<String>,
    /// 0 (highest) to 4.
    pub priority: Option<u8>,
    /// task, bug, feature, epic, chore…
    #[serde(rename = "type")]
    pub issue_type: Option<String>,
    /// The parent issue (id or prefix).
    pub parent: Option<String>,
    /// Issues that must close before this one is ready (ids or prefixes).
    #[serde(default)]
    pub blocked_by: Vec<String>,
    /// The issue whose work turned this one up.
    #[serde(default)]
    pub discovered_from: Vec<String>,
}

/// The `comment` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentArgs {
    /// The issue: its id or a unique prefix of it.
    pub id: String,
    /// The comment, in markdown.
    pub body: String,
}

/// The `edit` tool's arguments: only what is given changes.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditArgs {
    /// The issue: its id or a unique prefix of it.
    pub id: String,
    /// A new title.
    pub title: Option<String>,
    /// A new description, in markdown.
    pub body: Option<String>,
    /// Labels to add.
    #[serde(default)]
    pub add_labels: Vec<String>,
    /// Labels to remove.
    #[serde(default)]
    pub remove_labels: Vec<String>,
    /// Assignees to add (emails; `@me` is this session's actor).
    #[serde(default)]
    pub add_assignees: Vec<String>,
    /// Assignees to remove.
    #[serde(default)]
    pub remove_assignees: Vec<String>,
    /// A new priority, 0 (highest) to 4.
    pub priority: Option<u8>,
    /// A new type: task, bug, feature, epic, chore…
    #[serde(rename = "type")]
    pub issue_type: Option<String>,
    /// The new parent (id or prefix), or `none`.
    pub parent: Option<String>,
}

/// The `close` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseArgs {
    /// The issue: its id or a unique prefix of it.
    pub id: String,
    /// `completed` (default) or `not_planned`.
    pub reason: Option<String>,
    /// A comment written with the close.
    pub comment: Option<String>,
}

/// The `link` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkArgs {
    /// The issue the link is from.
    pub id: String,
    /// blocks, blocked-by, parent (`other` becomes the parent), child, related, duplicate-of or
    /// discovered-from.
    pub kind: String,
    /// The issue the link is to.
    pub other: String,
    /// Remove the link instead.
    #[serde(default)]
    pub remove: bool,
}

/// The `lock_acquire` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockArgs {
    /// `path:<file>`, `path:<dir>/`, `issue:<id>` or `repo:`.
    pub resources: Vec<String>,
    /// How long the lease lasts unless renewed (default 1h).
    pub ttl: Option<String>,
    /// A note everyone who meets the lock sees.
    #[serde(default)]
    pub note: String,
    /// Only in this clone, not on the lock remote.
    #[serde(default)]
    pub local: bool,
}

/// The `lock_release` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseArgs {
    /// The resources to give back, as `lock_acquire` took them.
    pub resources: Vec<String>,
    /// End another actor's abandoned lease (recorded in its history).
    #[serde(default)]
    pub force: bool,
    /// Leases taken only in this clone (`local` on `lock_acquire`).
    #[serde(default)]
    pub local: bool,
}

/// The `lock_status` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusArgs {
    /// Only this session's actor's locks.
    #[serde(default)]
    pub mine: bool,
    /// Released and expired leases too.
    #[serde(default)]
    pub all: bool,
}

/// The `sandbox_create` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxCreateArgs {
    /// The sandbox's name: letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// A template (`sandbox.template.<name>.*` in git config); default sandbox.defaultTemplate.
    pub template: Option<String>,
    /// The issue the sandbox works on (id or prefix); it gets a comment.
    pub issue: Option<String>,
    /// Lock resources taken for the sandbox, given back when it commits, lands or is removed.
    #[serde(default)]
    pub locks: Vec<String>,
    /// A commit or branch to start from (default HEAD, with the main tree's changes carried).
    pub base: Option<String>,
    /// auto, reflink, copy or overlay.
    pub backend: Option<String>,
    /// Run its commands on another machine over ssh: an executor configured as
    /// `sandbox.executor.<name>.*`, or an ssh destination.
    pub on: Option<String>,
}

/// The `sandbox_exec` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxExecArgs {
    /// The sandbox's name.
    pub name: String,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Run `command` joined by spaces with `sh -c`.
    #[serde(default)]
    pub sh: bool,
    /// Run it isolated (namespaces); sandbox.isolate=true isolates every run anyway.
    #[serde(default)]
    pub isolate: bool,
    /// With isolation, keep the network.
    #[serde(default)]
    pub net: bool,
    /// Isolated, reach only these hosts (`HOST` or `HOST:PORT`) through a proxy that logs
    /// each connection; not with `net`.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Isolated, the seccomp profile: default, strict, trace, off, or one git config defines
    /// (sandbox.seccomp.NAME.*); sandbox.seccomp when not given.
    #[serde(default)]
    pub seccomp: Option<String>,
    /// Environment variables for the command.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
}

/// The arguments of tools that take one sandbox (`sandbox_diff`, `sandbox_suggest`,
/// `sandbox_remove`…).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxArgs {
    /// The sandbox's name.
    pub name: String,
}

/// The `sandbox_logs` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxLogsArgs {
    /// The sandbox's name.
    pub name: String,
    /// Which run, counting back from the last (1, the default).
    #[serde(default)]
    pub run: Option<usize>,
}

/// The `sandbox_merge_plan` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxMergePlanArgs {
    /// The sandboxes to plan; empty: every sandbox.
    #[serde(default)]
    pub names: Vec<String>,
}

/// The `sandbox_squash_plan` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxSquashArgs {
    /// The sandbox's name.
    pub name: String,
    /// Move the sandbox's branch to the plan's commits (its files and index stay as they are;
    /// the old tip stays in the branch's reflog).
    #[serde(default)]
    pub apply: bool,
}

/// The `sandbox_commit` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxCommitArgs {
    /// The sandbox's name.
    pub name: String,
    /// The commit message; a `Fixes: <id>` trailer closes the issue once the commit lands.
    pub message: String,
    /// Commit what the sandbox carried from the main tree too.
    #[serde(default)]
    pub include_carried: bool,
    /// Keep the sandbox's locks (by default a commit gives them back).
    #[serde(default)]
    pub keep_locks: bool,
}

/// The `sandbox_land` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxLandArgs {
    /// The sandbox's name.
    pub name: String,
    /// Commit what the sandbox holds first, with this message.
    pub message: Option<String>,
    /// Rebase onto the target instead of merging (default sandbox.landStrategy).
    #[serde(default)]
    pub rebase: bool,
    /// The remote to push to (default the branch's upstream, else origin).
    pub remote: Option<String>,
    /// Remove the sandbox once it has landed.
    #[serde(default)]
    pub remove: bool,
    /// Open a pull request on GitHub instead of landing: the branch is pushed and the sandbox
    /// stays (needs GITHUB_TOKEN in the server's environment).
    #[serde(default)]
    pub pr: bool,
    /// With `pr`: the GitHub repository, OWNER/NAME (default grit.github.repo, else the remote's URL).
    pub repo: Option<String>,
    /// With `pr`: open it as a draft.
    #[serde(default)]
    pub draft: bool,
}

/// The `sandbox_remove` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxRemoveArgs {
    /// The sandbox's name.
    pub name: String,
    /// Remove it even with uncommitted changes or unmerged commits (the branch keeps them).
    #[serde(default)]
    pub force: bool,
}

/// The `sync` tool's arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncArgs {
    /// The remote (default grit.remote, else origin).
    pub remote: Option<String>,
}

/// What a tool may do, as its annotations say.
#[derive(Clone, Copy, PartialEq)]
enum Effect {
    Reads,
    Writes,
    Destroys,
}

fn tool<A: JsonSchema + 'static>(
    name: &'static str,
    title: &str,
    description: &'static str,
    effect: Effect,
    output: Value,
) -> Tool {
    let annotations = ToolAnnotations::with_title(title)
        .read_only(effect == Effect::Reads)
        .destructive(effect == Effect::Destroys)
        .idempotent(effect == Effect::Reads)
        .open_world(false);
    let Value::Object(output) = output else {
        unreachable!("output schemas are objects")
    };
    Tool::new(name, description, JsonObject::new())
        .with_input_schema::<A>()
        .with_title(title)
        .with_annotations(annotations)
        .with_raw_output_schema(std::sync::Arc::new(output))
}

fn object(required: &[&str]) -> Value {
    json!({ "type": "object", "required": required })
}

fn listing() -> Value {
    json!({
        "type": "object",
        "properties": { "issues": { "type": "array", "items": { "type": "object" } } },
        "required": ["issues"],
    })
}

/// Every tool, as `tools/list` gives them.
pub fn all() -> Vec<Tool> {
    use Effect::*;
    vec![
        tool::<ReadyArgs>(
            "ready",
            "Ready issues",
            "The issues ready to work on (open, unblocked, unclaimed by others), highest priority first.",
            Reads,
            listing(),
        ),
        tool::<ClaimNextArgs>(
            "claim_next",
            "Claim the next issue",
            "Claims an issue at the head of the ready queue (matching `query`) for this session's actor, as `git issue claim --next` does: one it does not hold yet, drawn among the first issue.claimSpread (default 8) of the head's priority. A lease on issue:<id>, taken on the lock remote so that of many agents exactly one gets it.",
            Writes,
            object(&["id"]),
        ),
        tool::<ClaimArgs>(
            "claim",
            "Claim an issue",
            "Claims one issue for this session's actor.",
            Writes,
            object(&["id"]),
        ),
        tool::<UnclaimArgs>(
            "unclaim",
            "Give a claim back",
            "Gives back this session's claim on an issue.",
            Writes,
            object(&["id"]),
        ),
        tool::<IssueArgs>(
            "show",
            "Show an issue",
            "One issue in full: title, body, state, labels, comments, claim and links.",
            Reads,
            object(&["id", "title"]),
        ),
        tool::<IssueArgs>(
            "history",
            "An issue's history",
            "Every event of one issue, oldest first: what it changed, who wrote it, and what its signature vouches for.",
            Reads,
            object(&["id", "events"]),
        ),
        tool::<SearchArgs>(
            "search",
            "Search issues",
            "Issues that match a query in the `-S` language of `git issue list`.",
            Reads,
            listing(),
        ),
        tool::<CreateArgs>(
            "create",
            "Create an issue",
            "Creates an issue, signed by this session's actor.",
            Writes,
            object(&["id"]),
        ),
        tool::<CommentArgs>(
            "comment",
            "Comment on an issue",
            "Adds a comment to an issue.",
            Writes,
            object(&["id"]),
        ),
        tool::<EditArgs>(
            "edit",
            "Edit an issue",
            "Changes an issue's title, body, labels, assignees, priority, type or parent.",
            Writes,
            object(&["id"]),
        ),
        tool::<CloseArgs>(
            "close",
            "Close an issue",
            "Closes an issue (completed, or not_planned), with an optional comment.",
            Writes,
            object(&["id"]),
        ),
        tool::<LinkArgs>(
            "link",
            "Link two issues",
            "Adds (or with `remove`, removes) a link between two issues; a blocking or parent cycle is refused.",
            Writes,
            object(&["id"]),
        ),
        tool::<LockArgs>(
            "lock_acquire",
            "Take locks",
            "Takes leases on paths, issues or the repository, all or none; a lease another holds is refused naming the holder.",
            Writes,
            object(&["locks"]),
        ),
        tool::<ReleaseArgs>(
            "lock_release",
            "Release locks",
            "Gives leases back.",
            Writes,
            object(&["locks"]),
        ),
        tool::<StatusArgs>(
            "lock_status",
            "Lock status",
            "The locks this clone knows of.",
            Reads,
            object(&["locks"]),
        ),
        tool::<SandboxCreateArgs>(
            "sandbox_create",
            "Create a sandbox",
            "Makes a sandbox: an isolated work tree on its own branch, from HEAD with the main tree's changes carried.",
            Writes,
            object(&["name", "branch", "path"]),
        ),
        tool::<SandboxExecArgs>(
            "sandbox_exec",
            "Run in a sandbox",
            "Runs a command in a sandbox; its output comes as progress notifications while it runs and in the result, with the exit code.",
            Writes,
            object(&["exit_code"]),
        ),
        tool::<SandboxArgs>(
            "sandbox_diff",
            "A sandbox's changes",
            "What the sandbox changed against its base: the files and the patch.",
            Reads,
            object(&["files", "patch"]),
        ),
        tool::<SandboxLogsArgs>(
            "sandbox_logs",
            "A run's output",
            "What a run in the sandbox printed (the last run by default; `run: 2` the one before), as it was kept: its first MiB.",
            Reads,
            object(&["name", "cmd", "exit_code", "output"]),
        ),
        tool::<SandboxArgs>(
            "sandbox_suggest",
            "Propose a commit message",
            "A Conventional Commits message for what the sandbox would commit now (type, scope, subject, and its issue as a Fixes:/Refs: trailer); commits nothing.",
            Reads,
            object(&["type", "subject", "message"]),
        ),
        tool::<SandboxMergePlanArgs>(
            "sandbox_merge_plan",
            "Plan merging sandboxes",
            "Which sandboxes merge cleanly into the main tree's branch, in what order, and which conflict with it or with each other, grouped by the files they fight over; changes nothing.",
            Reads,
            object(&["target", "merge", "held", "groups"]),
        ),
        tool::<SandboxSquashArgs>(
            "sandbox_squash_plan",
            "Plan squashing a sandbox's commits",
            "How the sandbox's commits group by kind (test, docs, style, feat, fix, refactor) and top directory, one commit per group, checked to give the same tree; `apply: true` moves its branch to them.",
            Writes,
            object(&["branch", "commits", "groups", "reordered"]),
        ),
        tool::<SandboxCommitArgs>(
            "sandbox_commit",
            "Commit in a sandbox",
            "Commits the sandbox's changes on its branch; a `Fixes: <id>` trailer closes the issue once it lands.",
            Writes,
            object(&["name"]),
        ),
        tool::<SandboxLandArgs>(
            "sandbox_land",
            "Land a sandbox",
            "Lands the sandbox's commits on the main tree's branch and pushes them; `Fixes:` trailers close their issues; its locks are given back. With `pr`, pushes its branch and opens (or finds) a GitHub pull request instead, and the sandbox stays.",
            Writes,
            object(&["name", "target"]),
        ),
        tool::<SandboxRemoveArgs>(
            "sandbox_remove",
            "Remove a sandbox",
            "Removes a sandbox (refused when that would lose work, unless `force`).",
            Destroys,
            object(&["name"]),
        ),
        tool::<SyncArgs>(
            "sync",
            "Sync",
            "Fetches others' events and locks and pushes this clone's, through plain git.",
            Writes,
            object(&["refs"]),
        ),
    ]
}

/// Decodes a tool's arguments; what does not fit its schema is an error naming the field.
pub fn args<A: serde::de::DeserializeOwned>(tool: &str, args: Option<&JsonObject>) -> std::result::Result<A, String> {
    let v = Value::Object(args.cloned().unwrap_or_default());
    serde_json::from_value(v).map_err(|e| format!("bad arguments for {tool}: {e}"))
}

fn ttl(s: Option<&str>, default: &str) -> Result<Duration> {
    lock::parse_duration(s.unwrap_or(default))
}

fn scope(store: &Store, local: bool) -> Scope {
    if local {
        Scope::Local
    } else {
        lock::default_scope(&store.repo)
    }
}

fn written(store: &Store, w: &ops::Written) -> Result<Value> {
    Ok(json!({
        "id": w.id.to_hex(),
        "short_id": store.index.short_id(&w.id)?,
        "changed": w.changed,
        "notes": w.notes,
        "warnings": w.warnings,
    }))
}

fn brief(store: &Store, id: &Id) -> Result<Value> {
    let v = store.index.view(id)?;
    Ok(json!({ "id": id.to_hex(), "short_id": v.short_id, "title": v.title, "priority": v.priority }))
}

fn issues_json(store: &Store, found: &crate::index::search::Found) -> Result<Value> {
    let claims = ops::locks::claims(store)?;
    Ok(json!({ "issues": ops::query::listing(store, found, &claims)?, "total": found.total }))
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("results serialise")
}

/// Work on a store, with its answer.
pub type StoreWork = Box<dyn FnOnce(&Store) -> Result<Value> + Send>;

/// A tool's work once its arguments are decoded.
pub enum Call {
    /// Work on the session's store.
    Store(StoreWork),
    /// A sandbox command, with where its output goes.
    Exec(SandboxExecArgs),
}

/// The work of tool `name`, or `None` for a tool there is not.
pub fn call(name: &str, a: Option<&JsonObject>) -> Option<std::result::Result<Call, String>> {
    fn on<A: serde::de::DeserializeOwned + Send + 'static>(
        name: &str,
        a: Option<&JsonObject>,
        f: impl FnOnce(&Store, A) -> Result<Value> + Send + 'static,
    ) -> std::result::Result<Call, String> {
        let parsed: A = args(name, a)?;
        Ok(Call::Store(Box::new(move |s| f(s, parsed))))
    }
    Some(match name {
        "ready" => on(name, a, |s, a: ReadyArgs| {
            let q = ops::query::parse(s, None, a.query.as_deref())?;
            issues_json(
                s,
                &ops::query::ready_including(s, &q, a.limit.unwrap_or(10), a.include_ephemeral)?,
            )
        }),
        "search" => on(name, a, |s, a: SearchArgs| {
            let q = ops::query::parse(s, None, Some(&a.query))?;
            let found = s.index.search(
                &q,
                &ops::query::context(s)?,
                crate::index::search::Queue::All,
                a.limit.unwrap_or(50),
            )?;
            issues_json(s, &found)
        }),
        "claim_next" => on(name, a, |s, a: ClaimNextArgs| {
            let q = ops::query::parse(s, None, a.query.as_deref())?;
            let id = Issues::new(s).claim_next(&q, ttl(a.ttl.as_deref(), "4h")?, &scope(s, false))?;
            brief(s, &id)
        }),
        "claim" => on(name, a, |s, a: ClaimArgs| {
            let id = s.index.resolve(&a.id)?;
            Issues::new(s).claim(&id, ttl(a.ttl.as_deref(), "4h")?, &scope(s, false))?;
            brief(s, &id)
        }),
        "unclaim" => on(name, a, |s, a: UnclaimArgs| {
            let id = s.index.resolve(&a.id)?;
            Issues::new(s).unclaim(&id, &scope(s, false), a.force)?;
            brief(s, &id)
        }),
        "show" => on(name, a, |s, a: IssueArgs| Ok(to_value(&ops::show::detail(s, &a.id)?))),
        "history" => on(name, a, |s, a: IssueArgs| {
            let id = s.index.resolve(&a.id)?;
            Ok(json!({ "id": id.to_hex(), "events": ops::show::timeline(s, &id)? }))
        }),
        "create" => on(name, a, |s, a: CreateArgs| {
            let mut new = ops::NewIssue::titled(a.title);
            new.body = a.body;
            new.labels = a.labels;
            new.assignees = a.assignees;
            new.priority = a.priority;
            new.issue_type = a.issue_type;
            new.parent = a.parent;
            new.blocked_by = a.blocked_by;
            new.discovered_from = a.discovered_from;
            written(s, &Issues::new(s).create(&new)?)
        }),
        "comment" => on(name, a, |s, a: CommentArgs| {
            let id = s.index.resolve(&a.id)?;
            written(s, &Issues::new(s).comment(&id, &a.body, true)?)
        }),
        "edit" => on(name, a, |s, a: EditArgs| {
            let edit = ops::Edit {
                title: a.title,
                body: a.body,
                add_labels: a.add_labels,
                remove_labels: a.remove_labels,
                add_assignees: a.add_assignees,
                remove_assignees: a.remove_assignees,
                priority: a.priority,
                issue_type: a.issue_type,
                parent: a.parent,
                links: Vec::new(),
                lock: true,
            };
            written(s, &Issues::new(s).edit(&a.id, &edit)?)
        }),
        "close" => on(name, a, |s, a: CloseArgs| {
            let id = s.index.resolve(&a.id)?;
            let mut change = ops::StateChange::close();
            change.reason = a.reason;
            change.comment = a.comment;
            change.lock = true;
            written(s, &Issues::new(s).set_state(&id, &change)?)
        }),
        "link" => on(name, a, |s, a: LinkArgs| {
            let spec = LinkSpec::parse(&a.kind).ok_or_else(|| {
                Error::invalid(
                    format!("'{}' is not a kind of link", a.kind),
                    format!("the kinds are {}", LinkSpec::NAMES.join(", ")),
                )
            })?;
            written(s, &Issues::new(s).link(&a.id, spec, &a.other, !a.remove)?)
        }),
        "lock_acquire" => on(name, a, |s, a: LockArgs| {
            let resources = ops::locks::resources(s, &a.resources)?;
            let ttl = ttl(a.ttl.as_deref(), "1h")?;
            let locks = ops::locks::acquire(s, &resources, ttl, &a.note, &scope(s, a.local), None)?;
            Ok(json!({ "locks": lock_list(s, locks) }))
        }),
        "lock_release" => on(name, a, |s, a: ReleaseArgs| {
            let resources = ops::locks::resources(s, &a.resources)?;
            let locks = ops::locks::change(s, &resources, LeaseChange::Release, &scope(s, a.local), a.force)?;
            Ok(json!({ "locks": lock_list(s, locks) }))
        }),
        "lock_status" => on(name, a, |s, a: StatusArgs| {
            let filter = ops::locks::StatusFilter {
                mine: a.mine,
                all: a.all,
            };
            let dir = s.repo.git.workdir().unwrap_or(s.repo.git.git_dir()).to_owned();
            Ok(json!({ "locks": ops::locks::status(s, &dir, filter)? }))
        }),
        "sandbox_create" => on(name, a, |s, a: SandboxCreateArgs| {
            let sb = sandboxes(s)?;
            let mut req = CreateRequest::named(a.name);
            req.template = a.template;
            req.issue = a.issue;
            req.locks = a.locks;
            req.base = a.base;
            req.backend = a.backend;
            req.on = a.on;
            let mut warnings = Vec::new();
            let (record, _) = sb.create(&req, &|| None, &mut warnings).map_err(|e| match e {
                crate::sandbox::Stopped::Failed(e) => e,
                crate::sandbox::Stopped::Interrupted(sig) => Error::Failed {
                    message: format!("the creation was interrupted (signal {sig})"),
                    hint: "nothing was kept; create it again".into(),
                },
            })?;
            let mut v = to_value(&record);
            v["warnings"] = json!(warnings);
            Ok(v)
        }),
        "sandbox_exec" => match args::<SandboxExecArgs>(name, a) {
            Ok(a) => Ok(Call::Exec(a)),
            Err(e) => Err(e),
        },
        "sandbox_diff" => on(name, a, |s, a: SandboxArgs| {
            let sb = sandboxes(s)?;
            let r = sb.find(&a.name)?;
            let diff = sb.diff(&r)?;
            let mut v = to_value(&diff);
            v["patch"] = json!(sb.patch(&diff, &r)?);
            Ok(v)
        }),
        "sandbox_logs" => on(name, a, |s, a: SandboxLogsArgs| {
            let sb = sandboxes(s)?;
            let r = sb.find(&a.name)?;
            let back = a.run.unwrap_or(1).max(1);
            let run = r
                .runs
                .len()
                .checked_sub(back)
                .and_then(|i| r.runs.get(i))
                .ok_or_else(|| {
                    crate::Error::invalid(
                        format!(
                            "sandbox {} has {} run(s) kept; there is no run {back}",
                            r.name,
                            r.runs.len()
                        ),
                        "ask for run 1 (the last) up to the number kept",
                    )
                })?;
            let output = match &run.log {
                Some(p) => String::from_utf8_lossy(&std::fs::read(p).map_err(crate::Error::io(p))?).into_owned(),
                None => {
                    return Err(crate::Error::Failed {
                        message: "that run's output went to a terminal and was not kept".into(),
                        hint: "runs through MCP, the socket or a script are kept".into(),
                    });
                }
            };
            Ok(json!({
                "name": r.name, "cmd": run.cmd, "exit_code": run.exit_code,
                "started_at": run.started_at, "output": output,
            }))
        }),
        "sandbox_suggest" => on(name, a, |s, a: SandboxArgs| {
            let sb = sandboxes(s)?;
            let r = sb.find(&a.name)?;
            Ok(to_value(&sb.suggest(&r)?))
        }),
        "sandbox_merge_plan" => on(name, a, |s, a: SandboxMergePlanArgs| {
            let sb = sandboxes(s)?;
            let records = if a.names.is_empty() {
                sb.main().list()?
            } else {
                a.names.iter().map(|n| sb.find(n)).collect::<crate::Result<Vec<_>>>()?
            };
            Ok(to_value(&sb.plan_merge(&records)?))
        }),
        "sandbox_squash_plan" => on(name, a, |s, a: SandboxSquashArgs| {
            let sb = sandboxes(s)?;
            let r = sb.find(&a.name)?;
            Ok(to_value(&sb.squash(&r, a.apply)?))
        }),
        "sandbox_commit" => on(name, a, |s, a: SandboxCommitArgs| {
            let sb = sandboxes(s)?;
            let r = sb.find(&a.name)?;
            Ok(to_value(&sb.commit(&r, &a.message, a.include_carried, a.keep_locks)?))
        }),
        "sandbox_land" => on(name, a, |s, a: SandboxLandArgs| {
            let sb = sandboxes(s)?;
            let r = sb.find(&a.name)?;
            if a.pr {
                let token = crate::rest::github_token().ok_or_else(|| {
                    crate::Error::invalid(
                        "pr opens a pull request through GitHub's API, and no token is set",
                        "start the server with GITHUB_TOKEN (Pull requests: read and write) in its environment",
                    )
                })?;
                let opts = crate::sandbox::land::ProposeOptions {
                    remote: a.remote,
                    repo: a.repo,
                    draft: a.draft,
                };
                let mut api = crate::rest::Client::new(Some(token));
                return Ok(to_value(&sb.propose(&r, &opts, a.message.as_deref(), &mut api)?));
            }
            let mut opts = crate::sandbox::land::LandOptions::new(sb.main());
            if a.rebase {
                opts.strategy = crate::sandbox::land::Strategy::Rebase;
            }
            opts.remote = a.remote;
            let req = LandRequest {
                message: a.message,
                remove: a.remove,
                ..LandRequest::default()
            };
            Ok(to_value(&sb.land(&r, &opts, &req)?))
        }),
        "sandbox_remove" => on(name, a, |s, a: SandboxRemoveArgs| {
            let removed = sandboxes(s)?.remove(&a.name, a.force, false, false)?;
            Ok(json!({
                "name": removed.record.name,
                "branch": removed.record.branch,
                "branch_kept": removed.branch_kept,
                "released": removed.released,
                "warnings": removed.warnings,
            }))
        }),
        "sync" => on(name, a, |s, a: SyncArgs| {
            let remote = match a.remote {
                Some(r) => r,
                None => crate::sync::default_remote(&s.repo)?,
            };
            let report = crate::sync::sync(
                s,
                &remote,
                crate::sync::Options {
                    fetch: true,
                    push: true,
                    issue: None,
                },
            )?;
            Ok(to_value(&report))
        }),
        _ => return None,
    })
}

fn lock_list(s: &Store, locks: Vec<crate::lock::Lock>) -> Vec<ops::locks::LockStatus> {
    let now = crate::repo::now_ms();
    locks
        .into_iter()
        .map(|l| ops::locks::LockStatus::of(&s.repo, l, now))
        .collect()
}

/// The sandboxes of the store's repository.
pub fn sandboxes(s: &Store) -> Result<Sandboxes<'static>> {
    Sandboxes::open(s.repo.git.workdir().unwrap_or(s.repo.git.git_dir()))
}

/// Runs a sandbox command, each chunk of output to `sink` as it comes; the result holds the
/// exit code and the output's tail.
pub fn exec(
    s: &Store,
    a: &SandboxExecArgs,
    actor: Option<&str>,
    sink: &(dyn Fn(&'static str, &[u8]) + Sync),
) -> Result<Value> {
    if a.command.is_empty() {
        return Err(Error::invalid(
            "the command is empty",
            "give the program and its arguments in \"command\"",
        ));
    }
    let sb = sandboxes(s)?;
    let r = sb.find(&a.name)?;
    let asked = crate::ops::sandboxes::Policy {
        isolate: a.isolate,
        net: a.net,
        allow: &[],
        hosts: &a.allow_hosts,
        seccomp: a.seccomp.as_deref(),
    };
    let (isolate, _) = sb.prepare(&r, &asked)?;
    let mut env: Vec<(String, String)> = a.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    // grit commands run inside act as the session's actor.
    if let Some(actor) = actor {
        env.push(("GRIT_ACTOR".into(), actor.to_owned()));
    }
    let exec = Exec {
        cmd: a.command.clone(),
        sh: a.sh,
        env,
        isolate,
        via: "mcp",
    };
    const TAIL: usize = 64 * 1024;
    let out = std::sync::Mutex::new((Vec::<u8>::new(), Vec::<u8>::new()));
    let collect = |stream: &'static str, data: &[u8]| {
        sink(stream, data);
        let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
        let buf = if stream == "stdout" { &mut o.0 } else { &mut o.1 };
        buf.extend_from_slice(data);
        if buf.len() > 2 * TAIL {
            buf.drain(..buf.len() - TAIL);
        }
    };
    let ran = sb.exec(&r, &exec, Output::Stream(&collect))?;
    if let Some(why) = &ran.not_found {
        return Err(Error::Failed {
            message: format!("cannot run {why}"),
            hint: "check the program's name; it runs in the sandbox's work tree with the sandbox's PATH".into(),
        });
    }
    let (stdout, stderr) = out.into_inner().unwrap_or_else(|p| p.into_inner());
    let tail = |b: &[u8]| String::from_utf8_lossy(&b[b.len().saturating_sub(TAIL)..]).into_owned();
    let mut v = to_value(&ran);
    v["stdout"] = json!(tail(&stdout));
    v["stderr"] = json!(tail(&stderr));
    Ok(v)
}
