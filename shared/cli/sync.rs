//! `git wal init | sync | pull | push | hooks | hook | snapshot | gc`: sharing the log through
//! plain git, the hooks that keep the index current, and snapshots for fresh clones.

use std::io::BufRead;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{CommandError, Ui, columns, open_store};
use crate::hooks::{self, Foreign, HookReport};
use crate::repo::Repo;
use crate::snapshot::{self, SnapshotRef};
use crate::store::Store;
use crate::sync::{self, Options, SyncReport};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Only this remote (repeatable; default: every remote)
    #[arg(long, value_name = "NAME")]
    pub remote: Vec<String>,
    #[command(flatten)]
    pub foreign: ForeignArgs,
}

// What to do with a hook that grit did not write
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct ForeignArgs {
    /// Keep an existing hook and run it before grit's (its exit status counts)
    #[arg(long)]
    pub chain: bool,
    /// Set an existing hook aside as <hook>.grit-backup (uninstall puts it back)
    #[arg(long)]
    pub force: bool,
}

impl ForeignArgs {
    fn policy(&self) -> Foreign {
        match (self.chain, self.force) {
            (true, _) => Foreign::Chain,
            (_, true) => Foreign::Replace,
            _ => Foreign::Refuse,
        }
    }
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Remote to sync with (default: grit.remote, origin, or the only remote)
    pub remote: Option<String>,
    /// Push only what carries this issue's events. A WAL chain cannot be split without
    /// rewriting it, so each actor's chain goes up to its newest commit with an event of ID
    /// (earlier events of other issues go along and are counted) and later commits stay local.
    /// Fetching always brings everything: it is cheap, and other issues' events are never hidden
    #[arg(long, value_name = "ID")]
    pub issue: Option<String>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Remote to pull from (default: grit.remote, origin, or the only remote)
    pub remote: Option<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Remote to push to (default: grit.remote, origin, or the only remote)
    pub remote: Option<String>,
    /// Push only what carries this issue's events
    #[arg(long, value_name = "ID")]
    pub issue: Option<String>,
}

/// Install, remove or inspect grit's git hooks
#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// Install the hooks into the directory git uses (core.hooksPath honoured)
    Install(HooksInstallArgs),
    /// Remove grit's hooks and restore what they chained or replaced
    Uninstall(HooksPlainArgs),
    /// Show each hook's state: absent, installed, chained, outdated or foreign
    Status(HooksPlainArgs),
}

#[derive(Debug, Args)]
pub struct HooksInstallArgs {
    #[command(flatten)]
    pub foreign: ForeignArgs,
}

#[derive(Debug, Args)]
pub struct HooksPlainArgs {}

#[derive(Debug, Args)]
pub struct HookArgs {
    /// reference-transaction, pre-push or pre-commit
    pub name: String,
    /// The arguments git gave the hook
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// How many snapshots to keep
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub keep: usize,
}

#[derive(Debug, Args)]
pub struct RetireArgs {
    /// Remote to retire the refs on (default: grit.remote, origin, or the only remote)
    pub remote: Option<String>,
    /// Retire actors whose WAL ref has not moved for this long (90s, 15m, 2h, 30d)
    #[arg(long, value_name = "DURATION")]
    pub older_than: String,
    /// Only list the actors it would retire
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Serialize)]
struct InitJson {
    actor: String,
    actor_label: String,
    hooks: Vec<HookReport>,
    remotes: Vec<RemoteJson>,
    push_with_code: bool,
}

#[derive(Serialize)]
struct RemoteJson {
    name: String,
    added_refspecs: Vec<String>,
    /// grit refs of this remote after init fetched them (null when the fetch failed).
    fetched_refs: Option<usize>,
}

pub fn init(ui: &mut Ui, a: InitArgs) -> Result<(), CommandError> {
    let repo = Repo::discover(&ui.dir)?;
    let all = sync::remote_names(&repo);
    for r in &a.remote {
        sync::check_remote(&repo, r)?;
    }
    let mut policy = a.foreign.policy();
    if policy == Foreign::Refuse {
        let conflicts = hooks::conflicts(&repo)?;
        // A hook manager's dispatchers are chained without asking: they must keep running.
        let known: Vec<Option<&str>> = conflicts
            .iter()
            .map(|h| hooks::manager(std::path::Path::new(&h.path)))
            .collect();
        if let Some(h) = conflicts.iter().zip(&known).find(|(_, m)| m.is_none()).map(|(h, _)| h) {
            return Err(CommandError::usage(
                format!("{} is a hook grit did not write; nothing was changed", h.path),
                "`git wal init --chain` keeps it and runs it first; `--force` sets it aside (uninstall restores it)",
            ));
        }
        if !conflicts.is_empty() {
            policy = Foreign::Chain;
            for (h, m) in conflicts.iter().zip(known) {
                ui.note(format!(
                    "note: {} was written by {}: it is kept and runs first, then grit's (`git wal hooks uninstall` \
                     puts it back alone)",
                    h.path,
                    m.unwrap_or_default()
                ));
            }
        }
    }
    let actor = crate::actor::current(&repo)?;
    let hooks = hooks::install(&repo, policy)?;
    let remotes = if a.remote.is_empty() { all } else { a.remote };
    let mut out = Vec::new();
    for r in remotes {
        let added = sync::configure_fetch(&repo, &r)?;
        // Once, so the next command already sees what the remote holds; an unreachable remote
        // is fine: the next `git fetch` brings it.
        let fetched_refs = match sync::fetch_grit(&repo, &r) {
            Ok(n) => Some(n),
            Err(e) => {
                ui.note(format!("warning: could not fetch grit's refs from {r}: {e}"));
                None
            }
        };
        out.push(RemoteJson {
            name: r,
            added_refspecs: added,
            fetched_refs,
        });
    }
    let push_with_code = match repo.config_bool("grit.pushWithCode") {
        Some(v) => v,
        None => {
            repo.set_local_config("grit.pushWithCode", "true")?;
            true
        }
    };
    if ui.json {
        return ui.json(&InitJson {
            actor: actor.id().to_hex(),
            actor_label: actor.label.clone(),
            hooks,
            remotes: out,
            push_with_code,
        });
    }
    ui.say(format!("actor    {} ({})", actor.label, &actor.id().to_hex()[..12]))?;
    print_hooks(ui, &hooks)?;
    if out.is_empty() {
        ui.say("remotes  none yet; run `git wal init` again after `git remote add`")?;
    }
    for r in &out {
        let mut what = if r.added_refspecs.is_empty() {
            "already fetches refs/grit/*".to_owned()
        } else {
            format!("now fetches refs/grit/* into {}", sync::tracking_prefix(&r.name))
        };
        if let Some(n) = r.fetched_refs {
            what.push_str(&format!(" ({n} refs fetched)"));
        }
        ui.say(format!("remote   {}: {what}", r.name))?;
    }
    ui.say(format!(
        "push     events go along with `git push`: {}",
        if push_with_code {
            "yes"
        } else {
            "no (grit.pushWithCode)"
        }
    ))?;
    if !sync::remote_names(&repo).is_empty() {
        ui.say("next     `git wal sync` shares your events; a plain `git fetch` brings others'")?;
    }
    Ok(())
}

fn print_hooks(ui: &mut Ui, hooks: &[HookReport]) -> Result<(), CommandError> {
    let rows: Vec<Vec<String>> = hooks
        .iter()
        .map(|h| {
            vec![
                "hook".into(),
                h.name.to_owned(),
                h.action
                    .map(|a| format!("{a:?}").to_lowercase())
                    .unwrap_or_else(|| format!("{:?}", h.state).to_lowercase()),
                h.path.clone(),
            ]
        })
        .collect();
    for line in columns(&rows) {
        ui.say(line.replacen("hook ", "hook    ", 1))?;
    }
    for h in hooks {
        if let Some(note) = &h.note {
            ui.say(format!("note     {}: {note}", h.name))?;
        }
    }
    Ok(())
}

fn resolve_remote(repo: &Repo, remote: Option<String>) -> Result<String, CommandError> {
    Ok(match remote {
        Some(r) => r,
        None => sync::default_remote(repo)?,
    })
}

pub fn sync_cmd(ui: &mut Ui, remote: Option<String>, issue: Option<String>, opts: Options) -> Result<(), CommandError> {
    let store = Store::open(&ui.dir)?;
    let remote = resolve_remote(&store.repo, remote)?;
    let issue = issue.map(|q| store.index.resolve(&q)).transpose()?;
    let mut report = sync::sync(&store, &remote, Options { issue, ..opts })?;
    report
        .rejected_events
        .splice(0..0, store.folded.rejected.iter().cloned());
    let rejected = report.rejected().count();
    super::warn_rejected(ui, &store.repo, &report.rejected_events);
    if ui.json {
        ui.json(&report)?;
    } else {
        print_sync(ui, &report)?;
    }
    super::tell_overridden(ui, &store);
    if rejected > 0 {
        return Err(CommandError::failure(format!(
            "{rejected} ref(s) could not be integrated or pushed (see above)"
        ))
        .hint("run `git wal sync` again; if it keeps failing, `git wal sync --json` shows why per ref"));
    }
    Ok(())
}

fn short(r: &str) -> String {
    match r.rsplit_once('/') {
        Some((ns, key)) if key.len() > 12 && !ns.ends_with("snapshots") => format!("{ns}/{}", &key[..12]),
        _ => r.to_owned(),
    }
}

fn print_sync(ui: &mut Ui, r: &SyncReport) -> Result<(), CommandError> {
    let mut rows = Vec::new();
    for x in &r.refs {
        let mut what = Vec::new();
        if x.fetched.is_some() {
            what.push("fetched".to_owned());
        }
        if let Some(i) = x.integrated {
            what.push(format!("{i:?}").to_lowercase().replace("fastforward", "fast-forwarded"));
        }
        if let Some(p) = x.pushed {
            what.push(match p {
                sync::Pushed::New => "pushed (new)".into(),
                sync::Pushed::FastForward => "pushed".into(),
            });
        }
        if let Some(why) = &x.rejected {
            what.push(ui.paint("31", &format!("rejected: {why}")));
        }
        if !what.is_empty() {
            rows.push(vec![short(&x.reference), what.join(", ")]);
        }
    }
    for line in columns(&rows) {
        ui.say(line)?;
    }
    let rounds = if r.rounds > 1 {
        format!(" in {} rounds (the remote moved meanwhile)", r.rounds)
    } else {
        String::new()
    };
    if rows.is_empty() {
        ui.say(format!("{}: everything up to date", r.remote))?;
    } else {
        ui.say(format!(
            "{}: {} ref(s) changed, {} new event(s) folded{rounds}",
            r.remote,
            rows.len(),
            r.events_folded
        ))?;
    }
    if let Some(s) = &r.snapshot {
        ui.say(format!("wrote snapshot {s}"))?;
    }
    if let Some(p) = &r.partial {
        ui.say(format!(
            "partial: issue {}; {} event(s) of other issues went along (earlier in the same chains), \
             {} later commit(s) held back",
            &p.issue[..12],
            p.carried_events,
            p.held_back_commits
        ))?;
    }
    Ok(())
}

pub fn hooks_cmd(ui: &mut Ui, cmd: HooksCommand) -> Result<(), CommandError> {
    let repo = Repo::discover(&ui.dir)?;
    let reports = match cmd {
        HooksCommand::Install(a) => hooks::install(&repo, a.foreign.policy())?,
        HooksCommand::Uninstall(_) => hooks::uninstall(&repo)?,
        HooksCommand::Status(_) => hooks::status(&repo)?,
    };
    if ui.json {
        return ui.json(&reports);
    }
    print_hooks(ui, &reports)
}

/// What the shims call. Hooks never block git because of grit's own trouble: errors become
/// warnings. Only a lock held by someone else under `lock.policy=require` stops a commit or push.
pub fn hook(ui: &mut Ui, a: HookArgs) -> Result<(), CommandError> {
    // `GRIT_HOOK_LOG=FILE` appends each run's hook name to FILE: how many times a hook ran,
    // for whoever wants to know (tests of hook managers and of large fetches do).
    if let Some(log) = std::env::var_os("GRIT_HOOK_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = writeln!(f, "{}", a.name);
        }
    }
    let result = match a.name.as_str() {
        "reference-transaction" => open_store(ui).map(|_| ()),
        "pre-push" => pre_push(ui, &a.args),
        "pre-commit" => pre_commit(ui),
        "post-commit" => post_commit(ui, "HEAD^!"),
        // A merge (or pull) brings commits from ORIG_HEAD to HEAD.
        "post-merge" => post_commit(ui, "ORIG_HEAD..HEAD"),
        other => {
            return Err(CommandError::usage(
                format!("'{other}' is not a hook grit runs"),
                "`git wal hooks status` lists grit's hooks",
            ));
        }
    };
    match result {
        Err(e) if e.code == super::exit::LOCK_CONFLICT => Err(e),
        Err(e) => {
            eprintln!("warning: grit {} hook: {}", a.name, e.message);
            for h in &e.hints {
                eprintln!("hint: {h}");
            }
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// Applies the `Fixes:`/`Closes:`/`Refs:` trailers of the commits in `range`, when the branch
/// checked out is the one whose commits close issues.
fn post_commit(ui: &mut Ui, range: &str) -> Result<(), CommandError> {
    let names_an_issue = |message: &[u8]| {
        String::from_utf8_lossy(message).lines().any(|l| {
            let l = l.trim_start().to_ascii_lowercase();
            ["fixes:", "closes:", "refs:"].iter().any(|k| l.starts_with(k))
        })
    };
    // Most commits name no issue: find that out from the files git just wrote, before opening
    // the repository or starting any git. A merge commit is looked into whole: `git commit`
    // concluding a conflicted merge runs this hook, not post-merge, and the commits that name
    // issues are the ones the merge brought.
    let mut range = range.to_owned();
    if range == "HEAD^!"
        && let Some(head) = crate::trailers::head_message_fast(&ui.dir)
    {
        if head.parents > 1 {
            range = "HEAD^1..HEAD".into();
        } else if !names_an_issue(&head.message) {
            return Ok(());
        }
    }
    let repo = crate::repo::Repo::discover(&ui.dir)?;
    if range == "HEAD^!" {
        let head = crate::refs::head_commit(&repo).and_then(|id| repo.git.find_commit(id).ok());
        let parents = head.as_ref().map_or(0, |c| c.parent_ids().count());
        let message = head
            .and_then(|c| c.message_raw().ok().map(|m| m.to_vec()))
            .unwrap_or_default();
        if parents > 1 {
            range = "HEAD^1..HEAD".into();
        } else if !names_an_issue(&message) {
            return Ok(());
        }
    }
    let (Some(branch), Some(current)) = (
        crate::trailers::close_branch(&repo),
        crate::trailers::current_branch(&repo),
    ) else {
        return Ok(());
    };
    if branch != current {
        return Ok(());
    }
    let commits = crate::trailers::in_range(&repo, &range)?;
    if commits.is_empty() {
        return Ok(());
    }
    let store = open_store(ui)?;
    let applied = crate::trailers::apply(&store, &commits)?;
    for w in &applied.warnings {
        eprintln!("warning: grit: {}", super::term::esc(w));
    }
    for (issue, _) in &applied.closed {
        eprintln!(
            "grit: closed issue {}",
            store.index.short_id(&crate::event::Id::from_hex(issue).expect("hex"))?
        );
    }
    Ok(())
}

fn pre_commit(ui: &mut Ui) -> Result<(), CommandError> {
    // Paths only: the event log need not be folded in.
    let store = Store::open_unfolded(&ui.dir)?;
    let staged = || super::lock::staged_paths(&store.repo);
    super::lock::enforce(ui, &store, staged, &[], "commit touches a locked path").map(|_| ())
}

const ZERO: &str = "0000000000000000000000000000000000000000";

/// Paths changed by the commits a push sends (git gives `<local ref> <sha> <remote ref> <sha>`).
/// Paths changed by the commits a push sends, and who made each commit: the actor of its
/// `Sandbox-Provenance` trailer when that verifies against the commit's tree, else `?`.
fn pushed_paths(
    repo: &Repo,
    remote: &str,
    updates: &[String],
    made_by: &mut super::lock::MadeBy,
) -> Result<Vec<String>, CommandError> {
    let mut paths = std::collections::BTreeSet::new();
    for line in updates {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [local_ref, local, _, theirs] = f[..] else { continue };
        if local.trim_start_matches('0').is_empty() || local_ref.starts_with("refs/grit/") {
            continue;
        }
        let not = if theirs == ZERO || repo.git_output(&["cat-file", "-e", theirs])?.status.code() != Some(0) {
            format!("--remotes={remote}")
        } else {
            theirs.to_owned()
        };
        let out = repo.git_command(&[
            "log",
            "--format=%x1e%T%x1f%(trailers:key=Sandbox-Provenance,valueonly,separator=%x1f)",
            "--name-only",
            "--no-renames",
            local,
            "--not",
            &not,
        ])?;
        for commit in out.split('\x1e').filter(|c| !c.trim().is_empty()) {
            let (head, files) = commit.split_once('\n').unwrap_or((commit, ""));
            let mut f = head.split('\x1f');
            let tree = f.next().unwrap_or_default();
            let maker = f
                .rfind(|v| !v.trim().is_empty())
                .and_then(|v| crate::sandbox::provenance::verify_known(repo, v.trim(), tree).ok())
                .map_or_else(|| "?".to_owned(), |p| p.actor);
            for path in files.lines().filter(|l| !l.is_empty()) {
                made_by.entry(path.to_owned()).or_default().insert(maker.clone());
                paths.insert(path.to_owned());
            }
        }
    }
    Ok(paths.into_iter().collect())
}

fn pre_push(ui: &mut Ui, args: &[String]) -> Result<(), CommandError> {
    let updates: Vec<String> = std::io::stdin().lock().lines().map_while(Result::ok).collect();
    let store = open_store(ui)?;
    let repo = &store.repo;
    let named = args.first().filter(|r| sync::remote_names(repo).contains(r));
    if crate::lock::policy(repo)? != crate::lock::Policy::Off {
        // Against the remote's current locks: fetch them first.
        if let Some(remote) = named
            && let Err(e) = crate::lock::fetch(repo, remote)
        {
            eprintln!("warning: grit: could not fetch locks from {remote}: {e}");
        }
        let remote = named.map_or("origin", String::as_str);
        let pushed = || {
            let mut made_by = super::lock::MadeBy::new();
            pushed_paths(repo, remote, &updates, &mut made_by).map(|p| (p, made_by))
        };
        super::lock::enforce_made_by(ui, &store, pushed, &[], "push changes a locked path")?;
    }
    let Some(remote) = named else {
        return Ok(()); // a URL, not a named remote: there is no tracking namespace to use
    };
    if !repo.config_bool("grit.pushWithCode").unwrap_or(false) {
        return Ok(());
    }
    let push_only = Options {
        fetch: false,
        push: true,
        issue: None,
    };
    let mut report = sync::sync(&store, remote, push_only)?;
    if report.rejected().next().is_some() {
        report = sync::sync(
            &store,
            remote,
            Options {
                fetch: true,
                ..push_only
            },
        )?;
    }
    let pushed = report.refs.iter().filter(|r| r.pushed.is_some()).count();
    if pushed > 0 && !ui.quiet {
        eprintln!("grit: pushed {pushed} event log ref(s) to {remote}");
    }
    if let Some(r) = report.rejected().next() {
        eprintln!(
            "warning: grit: {} was not pushed: {}",
            r.reference,
            r.rejected.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct SnapshotJson {
    created: Option<SnapshotRef>,
    snapshots: Vec<SnapshotRef>,
}

pub fn snapshot_cmd(ui: &mut Ui) -> Result<(), CommandError> {
    let store = open_store(ui)?;
    let created = store.snapshot()?;
    let all = snapshot::list(&crate::refs::list_refs(&store.repo, "refs/grit/")?);
    if ui.json {
        return ui.json(&SnapshotJson {
            created,
            snapshots: all,
        });
    }
    match created {
        Some(s) => ui.say(format!("wrote {} ({} events)", s.name, s.events)),
        None => ui.say("the newest snapshot already covers every WAL tip; nothing written"),
    }
}

pub fn gc(ui: &mut Ui, a: GcArgs) -> Result<(), CommandError> {
    let repo = Repo::discover(&ui.dir)?;
    let deleted = snapshot::gc(&repo, a.keep)?;
    if ui.json {
        return ui.json(&serde_json::json!({ "deleted": deleted, "kept": a.keep }));
    }
    for s in &deleted {
        ui.say(format!("deleted {}", s.name))?;
    }
    ui.say(format!("{} snapshot(s) deleted; the WAL is untouched", deleted.len()))
}

pub fn retire(ui: &mut Ui, a: RetireArgs) -> Result<(), CommandError> {
    let older_than = crate::lock::parse_duration(&a.older_than)?;
    let store = Store::open(&ui.dir)?;
    let remote = resolve_remote(&store.repo, a.remote)?;
    sync::check_remote(&store.repo, &remote)?;
    let report = crate::retire::retire(&store, &remote, older_than.as_millis() as u64, a.dry_run)?;
    if ui.json {
        return ui.json(&report);
    }
    if report.retired.is_empty() {
        return ui.say(format!(
            "no actor other than this clone's own has been silent for {}",
            a.older_than
        ));
    }
    let rows: Vec<Vec<String>> = report
        .retired
        .iter()
        .map(|r| {
            vec![
                r.actor[..12].to_owned(),
                r.last_write.clone(),
                r.remote.clone().unwrap_or_else(|| "would retire".into()),
            ]
        })
        .collect();
    for line in columns(&rows) {
        ui.say(line)?;
    }
    match &report.snapshot {
        Some(s) => ui.say(format!(
            "retired {} actor(s) in {s}; {} local ref(s) deleted",
            report.retired.len(),
            report.local_refs_deleted
        )),
        None => ui.say(format!(
            "{} actor(s) would be retired (--dry-run)",
            report.retired.len()
        )),
    }
}
