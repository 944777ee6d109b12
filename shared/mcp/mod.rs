//! `git wal mcp`: grit as a Model Context Protocol server, for coding agents. Its tools,
//! resources and prompts call the operations tier, as every other face does; nothing here
//! decides a rule of its own.
//!
//! - Transports: stdio (one agent; the harness starts `git wal mcp` in the repository), and
//!   streamable HTTP on 127.0.0.1 (`--http PORT`) for many, with the Host and Origin checked
//!   (DNS rebinding) and an optional bearer token.
//! - Identity: each request acts as one actor. `--actor` or `GRIT_ACTOR` pins it for the whole
//!   server; otherwise the client's name (`clientInfo.name` at initialise) names it when it is
//!   a valid actor label, so one HTTP server serves many agents, each signing as its own actor;
//!   otherwise `grit.actor`, else the default actor. No tool takes an actor argument.
//! - Subscriptions: `resources/subscribe` (and `subscriptions/listen`) get
//!   `notifications/resources/updated` from the feed as it grows, woken by the kernel.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[allow(deprecated)]
use rmcp::model::SetLevelRequestParams;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult, CompletionInfo,
    ContentBlock, GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, Prompt, PromptArgument, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Reference, Resource, ResourceContents, ResourceTemplate, ResourceUpdatedNotificationParam,
    Role, ServerCapabilities, ServerConfig, SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::error::{Error, Result};
use crate::serve::{Changed, Hub, Workers};
use crate::store::Store;

mod http;
pub mod tools;

pub use http::HttpOptions;

/// How to serve.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The repository (its work tree or git dir, or a directory below).
    pub dir: PathBuf,
    /// The actor every request acts as; `None`: by the client's name (see the module).
    pub actor: Option<String>,
    /// Serve over HTTP instead of stdio.
    pub http: Option<HttpOptions>,
}

impl Options {
    /// Serving the repository at `dir` over stdio, each request acting by the client's name.
    pub fn new(dir: PathBuf) -> Options {
        Options {
            dir,
            actor: None,
            http: None,
        }
    }
}

/// Serves until stdin closes (stdio) or the process is told to stop (HTTP).
pub fn serve(opts: Options) -> Result<()> {
    if let Some(a) = &opts.actor {
        crate::actor::validate_label(a)?;
    }
    // The repository must be there before a client is told anything.
    drop(Store::open(&opts.dir)?);
    let workers = Workers::new(opts.dir.clone());
    let core = Arc::new(Core {
        hub: Hub::new(opts.dir.clone()),
        workers,
        pinned: opts.actor.clone(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("the async runtime")(e))?;
    rt.block_on(async move {
        match &opts.http {
            None => {
                use rmcp::ServiceExt;
                let running = Server::new(core)
                    .serve(rmcp::transport::stdio())
                    .await
                    .map_err(|e| failed(format!("the MCP session did not start: {e}")))?;
                running
                    .waiting()
                    .await
                    .map_err(|e| failed(format!("the MCP session failed: {e}")))?;
                Ok(())
            }
            Some(h) => http::serve(core, h).await,
        }
    })
}

fn failed(message: String) -> Error {
    Error::Failed {
        message,
        hint: "the client must speak MCP over this transport".into(),
    }
}

/// What every session of one server shares: the workers on the repository, the actor pinned
/// for every request, and the feed's changes.
pub(crate) struct Core {
    workers: Arc<Workers>,
    pinned: Option<String>,
    hub: Hub,
}

impl Core {
    fn run<T: Send + 'static>(
        &self,
        actor: Option<String>,
        f: impl FnOnce(&Store, Option<&str>) -> Result<T> + Send + 'static,
    ) -> tokio::sync::oneshot::Receiver<Result<T>> {
        self.workers.run(actor, f)
    }

    fn changes(&self) -> Result<broadcast::Receiver<Changed>> {
        self.hub.subscribe()
    }
}

/// Whether a change makes the resource at `uri` read differently.
fn touches(uri: &str, c: &Changed) -> bool {
    match (uri, c) {
        ("grit://ready", _) => !matches!(c, Changed::Sandbox(_)),
        ("grit://claims/me", Changed::Lock) => true,
        (u, Changed::Issue(id)) => u
            .strip_prefix("grit://issue/")
            .map(|p| p.strip_suffix(".json").unwrap_or(p))
            .is_some_and(|p| p.len() >= 4 && id.starts_with(&p.to_ascii_lowercase())),
        (u, Changed::Sandbox(name)) => u
            .strip_prefix("grit://sandbox/")
            .and_then(|p| p.strip_suffix("/diff"))
            .is_some_and(|n| n == name),
        _ => false,
    }
}

/// One session's handler (HTTP makes one per session; stdio has one).
#[derive(Clone)]
pub(crate) struct Server {
    core: Arc<Core>,
    /// The URIs this session subscribed to (`resources/subscribe`).
    subscribed: Arc<Mutex<BTreeSet<String>>>,
    forwarding: Arc<AtomicBool>,
}

impl Server {
    pub(crate) fn new(core: Arc<Core>) -> Server {
        Server {
            core,
            subscribed: Arc::default(),
            forwarding: Arc::default(),
        }
    }

    /// The actor a request acts as (see the module).
    fn actor(&self, ctx: &RequestContext<RoleServer>) -> Option<String> {
        if let Some(p) = &self.core.pinned {
            return Some(p.clone());
        }
        if let Ok(a) = std::env::var("GRIT_ACTOR")
            && !a.is_empty()
        {
            return Some(a);
        }
        ctx.client_info()
            .map(|i| i.name)
            .filter(|n| crate::actor::validate_label(n).is_ok())
    }

    /// Runs `f` on a store, off the async threads, as the request's actor.
    async fn blocking<T: Send + 'static>(
        &self,
        ctx: &RequestContext<RoleServer>,
        f: impl FnOnce(&Store, Option<&str>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.core.run(self.actor(ctx), f).await.map_err(|_| Error::Failed {
            message: "the operation ended without an answer (it panicked)".into(),
            hint: "this is a bug in grit; please report it with what the call was".into(),
        })?
    }
}

/// A failed operation as a tool's result: the message, its causes and the hint, for the agent
/// to read and correct.
fn tool_error(e: &Error) -> CallToolResult {
    let mut text = format!("error: {e}");
    for c in e.causes() {
        text.push('\n');
        text.push_str(&c);
    }
    for h in e.hints() {
        text.push_str("\nhint: ");
        text.push_str(&h);
    }
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// A failed operation as a protocol error (resources and prompts have no error results).
fn protocol_error(e: &Error) -> McpError {
    let data = json!({ "hint": e.hints().first(), "exit_code": e.exit_code() });
    match e {
        Error::NotFound { .. } => McpError::resource_not_found(e.to_string(), Some(data)),
        Error::Invalid { .. } | Error::Ambiguous { .. } | Error::Query { .. } => {
            McpError::invalid_params(e.to_string(), Some(data))
        }
        _ => McpError::internal_error(e.to_string(), Some(data)),
    }
}

const INSTRUCTIONS: &str = "grit keeps this repository's issues, locks and sandboxes in git. \
Start with the `prime` prompt (your claims, the ready queue, what changed since you last looked). \
The loop: `claim_next` → `sandbox_create` (with `issue` and `locks`) → `sandbox_exec` → \
`sandbox_commit` with a `Fixes: <id>` trailer → `sandbox_land` (closes the issue, gives the locks back) → `sync`.";

impl ServerHandler for Server {
    #[allow(deprecated)]
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_prompts()
                .enable_logging()
                .enable_completions()
                .build(),
        )
        .with_server_info(Implementation::new("grit", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools::all()))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        tools::all().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResponse, McpError> {
        let name = request.name.to_string();
        let call = match tools::call(&name, request.arguments.as_ref()) {
            None => {
                return Err(McpError::invalid_params(
                    format!("there is no tool '{name}'"),
                    Some(json!({ "hint": "tools/list names them" })),
                ));
            }
            Some(Err(message)) => return Err(McpError::invalid_params(message, None)),
            Some(Ok(c)) => c,
        };
        let result = match call {
            tools::Call::Store(f) => self.blocking(&context, move |s, _| f(s)).await,
            tools::Call::Exec(a) => self.exec(a, &context).await,
        };
        Ok(match result {
            Ok(v) => CallToolResult::structured(v),
            Err(e) => tool_error(&e),
        }
        .into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new("grit://ready", "ready")
                .with_title("Ready issues")
                .with_description("The issues ready for this session's actor, highest priority first (JSON)")
                .with_mime_type("application/json"),
            Resource::new("grit://claims/me", "claims")
                .with_title("My claims")
                .with_description("The issues this session's actor has claimed (JSON)")
                .with_mime_type("application/json"),
        ]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("grit://issue/{id}", "issue")
                .with_title("An issue")
                .with_description("One issue in full, as markdown and as JSON (id or unique prefix)")
                .with_mime_type("text/markdown"),
            ResourceTemplate::new("grit://sandbox/{name}/diff", "sandbox-diff")
                .with_title("A sandbox's changes")
                .with_description("The patch of what a sandbox changed against its base")
                .with_mime_type("text/x-diff"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> std::result::Result<ReadResourceResponse, McpError> {
        let uri = request.uri.clone();
        let contents = self
            .blocking(&context, move |s, _| resource(s, &uri))
            .await
            .map_err(|e| protocol_error(&e))?;
        Ok(ReadResourceResult::new(contents).into())
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> std::result::Result<(), McpError> {
        if !known_uri(&request.uri) {
            return Err(McpError::resource_not_found(
                format!("no resource {}", request.uri),
                None,
            ));
        }
        let mut rx = self.core.changes().map_err(|e| protocol_error(&e))?;
        self.subscribed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(request.uri);
        if self.forwarding.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let (peer, subscribed) = (context.peer.clone(), self.subscribed.clone());
        tokio::spawn(async move {
            loop {
                let change = match rx.recv().await {
                    Ok(c) => c,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let uris: Vec<String> = subscribed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .filter(|u| touches(u, &change))
                    .cloned()
                    .collect();
                for uri in uris {
                    if peer
                        .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<(), McpError> {
        self.subscribed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(&self, requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        Some(requested.supported_by(&self.get_info().capabilities))
    }

    async fn listen(&self, context: SubscriptionContext) -> std::result::Result<(), McpError> {
        let uris = context.accepted().resource_subscriptions.clone().unwrap_or_default();
        if uris.is_empty() {
            context.cancelled().await;
            return Ok(());
        }
        let mut rx = self.core.changes().map_err(|e| protocol_error(&e))?;
        loop {
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                change = rx.recv() => {
                    let change = match change {
                        Ok(c) => c,
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    };
                    for uri in uris.iter().filter(|u| touches(u, &change)) {
                        if context.sink().notify_resource_updated(uri.clone()).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(vec![
            Prompt::new(
                "prime",
                Some(
                    "Your bearings in this repository: your claims, the ready queue, what changed since you last looked, your locks and sandboxes, and the team's conventions",
                ),
                Some(vec![
                    PromptArgument::new("max_bytes").with_description("The primer's size bound (default 8192)"),
                ]),
            ),
            Prompt::new(
                "work-next",
                Some("Claim the next ready issue and work it through a sandbox to landing"),
                Some(vec![
                    PromptArgument::new("query")
                        .with_description("Only issues that match this query (the -S language)"),
                ]),
            ),
        ]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> std::result::Result<GetPromptResponse, McpError> {
        let arg = |k: &str| {
            request
                .arguments
                .as_ref()
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let max_bytes = match arg("max_bytes") {
            None => 8192,
            Some(n) => n
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 256)
                .ok_or_else(|| McpError::invalid_params("max_bytes must be a number of at least 256", None))?,
        };
        let primer = self
            .blocking(&context, move |s, _| {
                let p = crate::ops::prime::prime(s, 10, false)?;
                Ok(crate::ops::prime::text(&p, max_bytes))
            })
            .await
            .map_err(|e| protocol_error(&e))?;
        let text = match request.name.as_str() {
            "prime" => primer,
            "work-next" => work_next(&primer, arg("query").as_deref()),
            other => {
                return Err(McpError::invalid_params(format!("there is no prompt '{other}'"), None));
            }
        };
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> std::result::Result<CompleteResult, McpError> {
        let (uri, value) = match &request.r#ref {
            Reference::Resource(r) => (r.uri.clone(), request.argument.value.to_ascii_lowercase()),
            // The prompts' arguments are free text.
            _ => (String::new(), String::new()),
        };
        let arg = request.argument.name.clone();
        let values = self
            .blocking(&context, move |s, _| -> Result<Vec<String>> {
                Ok(match (uri.as_str(), arg.as_str()) {
                    ("grit://issue/{id}", "id") => {
                        let q = crate::ops::query::parse(s, None, Some("is:open"))?;
                        let found = s.index.search(
                            &q,
                            &crate::ops::query::context(s)?,
                            crate::index::search::Queue::All,
                            usize::MAX,
                        )?;
                        let mut out = Vec::new();
                        for h in found.hits.iter().filter(|h| h.id.to_hex().starts_with(&value)) {
                            out.push(s.index.short_id(&h.id)?);
                        }
                        out
                    }
                    ("grit://sandbox/{name}/diff", "name") => tools::sandboxes(s)?
                        .list()?
                        .into_iter()
                        .map(|l| l.name)
                        .filter(|n| n.starts_with(&value))
                        .collect(),
                    _ => Vec::new(),
                })
            })
            .await
            .map_err(|e| protocol_error(&e))?;
        let total = values.len();
        let shown: Vec<String> = values.into_iter().take(CompletionInfo::MAX_VALUES).collect();
        let info = CompletionInfo::with_pagination(shown, Some(total as u32), total > CompletionInfo::MAX_VALUES)
            .map_err(|e| McpError::internal_error(e, None))?;
        Ok(CompleteResult::new(info))
    }

    #[allow(deprecated)]
    async fn set_level(
        &self,
        _request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<(), McpError> {
        // The server logs nothing to the client but errors, which come back as results.
        Ok(())
    }
}

impl Server {
    /// `sandbox_exec`: the command's output goes out as progress notifications while it runs
    /// (when the client gave a progress token), and its tail and exit code in the result.
    async fn exec(&self, a: tools::SandboxExecArgs, context: &RequestContext<RoleServer>) -> Result<Value> {
        let token = context.meta.get_progress_token();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(&'static str, String)>();
        let forward = token.map(|token| {
            let peer = context.peer.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while let Some((stream, text)) = rx.recv().await {
                    n += 1;
                    let p = ProgressNotificationParam::new(token.clone(), n as f64)
                        .with_message(format!("{stream}: {text}"));
                    if peer.notify_progress(p).await.is_err() {
                        return;
                    }
                }
            })
        });
        let streaming = forward.is_some();
        let out = self
            .blocking(context, move |s, actor| {
                let sink = move |stream: &'static str, data: &[u8]| {
                    if streaming {
                        let _ = tx.send((stream, String::from_utf8_lossy(data).into_owned()));
                    }
                };
                tools::exec(s, &a, actor, &sink)
            })
            .await;
        if let Some(f) = forward {
            // Every chunk goes out before the result does.
            let _ = f.await;
        }
        out
    }
}

fn known_uri(uri: &str) -> bool {
    uri == "grit://ready"
        || uri == "grit://claims/me"
        || uri.strip_prefix("grit://issue/").is_some_and(|p| !p.is_empty())
        || uri
            .strip_prefix("grit://sandbox/")
            .is_some_and(|p| p.ends_with("/diff"))
}

/// Reads a resource.
fn resource(s: &Store, uri: &str) -> Result<Vec<ResourceContents>> {
    let json_of = |v: &Value| {
        ResourceContents::text(serde_json::to_string_pretty(v).expect("serialises"), uri)
            .with_mime_type("application/json")
    };
    if uri == "grit://ready" {
        let q = crate::ops::query::parse(s, None, None)?;
        let found = crate::ops::query::ready(s, &q, 50)?;
        let claims = crate::ops::locks::claims(s)?;
        return Ok(vec![json_of(&crate::ops::query::listing(s, &found, &claims)?)]);
    }
    if uri == "grit://claims/me" {
        // The primer's account of this actor's claims (it moves no cursor when peeking).
        let p = crate::ops::prime::prime(s, 0, true)?;
        return Ok(vec![json_of(&json!({ "actor": p.actor, "claims": p.claims }))]);
    }
    if let Some(id) = uri.strip_prefix("grit://issue/") {
        let (id, only_json) = match id.strip_suffix(".json") {
            Some(i) => (i, true),
            None => (id, false),
        };
        let d = crate::ops::show::detail(s, id)?;
        let v = serde_json::to_value(&d).expect("serialises");
        let mut out = Vec::new();
        if !only_json {
            out.push(ResourceContents::text(markdown(&d), uri).with_mime_type("text/markdown"));
        }
        out.push(json_of(&v));
        return Ok(out);
    }
    if let Some(name) = uri
        .strip_prefix("grit://sandbox/")
        .and_then(|p| p.strip_suffix("/diff"))
    {
        let sb = tools::sandboxes(s)?;
        let r = sb.find(name)?;
        let diff = sb.diff(&r)?;
        return Ok(vec![
            ResourceContents::text(sb.patch(&diff, &r)?, uri).with_mime_type("text/x-diff"),
        ]);
    }
    Err(Error::NotFound {
        what: "resource",
        query: uri.to_owned(),
    })
}

/// An issue as markdown: what an agent reads first.
fn markdown(d: &crate::ops::show::Detail) -> String {
    let v = &d.view;
    let mut out = format!("# {} ({})\n\n", v.title, v.short_id);
    out.push_str(&format!(
        "- state: {:?}{}\n- priority: P{}\n- type: {}\n",
        v.state,
        v.state_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
        v.priority,
        v.issue_type
    ));
    if !v.labels.is_empty() {
        out.push_str(&format!("- labels: {}\n", v.labels.join(", ")));
    }
    if let Some(c) = &d.claim {
        out.push_str(&format!("- claimed by {} until {}\n", c.who(), c.until));
    }
    for l in &d.links {
        out.push_str(&format!(
            "- {} {}{}\n",
            l.link.replace('_', " "),
            l.short_id,
            l.title.as_deref().map(|t| format!(" {t}")).unwrap_or_default()
        ));
    }
    out.push('\n');
    out.push_str(if v.body.is_empty() { "(no description)" } else { &v.body });
    out.push('\n');
    for c in &v.comments {
        out.push_str(&format!(
            "\n## {} at {}\n\n{}\n",
            c.author.display(),
            c.created_at,
            c.body
        ));
    }
    out
}

fn work_next(primer: &str, query: Option<&str>) -> String {
    let q = query.map(|q| format!(" with `query` \"{q}\"")).unwrap_or_default();
    format!(
        "{primer}\n\nWork the next issue through to landing:\n\
         1. Call `claim_next`{q}. If nothing is ready, stop and say so.\n\
         2. Call `sandbox_create` with a short `name`, `issue` set to the claimed id, and `locks` for the paths you will change (`path:src/x.rs`).\n\
         3. Make the change with `sandbox_exec` (commands run in the sandbox's work tree); run the tests there.\n\
         4. Call `sandbox_commit` with a message whose last paragraph is the trailer `Fixes: <id>`.\n\
         5. Call `sandbox_land` with `remove: true`: it lands and pushes the commit, closes the issue and gives the locks back.\n\
         6. If a lock or a land conflicts, read the error's hint; never force another agent's lock.\n"
    )
}
