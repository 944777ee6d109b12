//! An agent's session primer (`git issue prime`): who it is, its claims, the top of the ready
//! queue for it, what changed since it last looked (a feed cursor kept per actor), the locks it
//! holds, the live sandboxes, and the team's agent conventions, most important first and
//! bounded in size, as data and as text.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::event::Id;
use crate::live::{Filter, Since, Stream};
use crate::query::Query;
use crate::store::Store;

/// The default bound of the text, in bytes.
pub const DEFAULT_MAX_BYTES: usize = 8 * 1024;

/// Where the team keeps its agent conventions, unless `grit.agentsFile` names another file.
pub const AGENTS_FILE: &str = ".grit/AGENTS.md";

/// What a primer holds.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Primer {
    /// The actor this session acts as.
    pub actor: Who,
    /// The issues this actor has claimed.
    pub claims: Vec<Brief>,
    /// The first issues of the ready queue for this actor.
    pub ready: Vec<Brief>,
    /// How many issues are ready in all.
    pub ready_total: usize,
    /// What changed since the last primer of this actor, by issue, newest last; `None` on the
    /// first one (there is no last time).
    pub since: Option<Vec<Change>>,
    /// The leases this actor holds, claims apart.
    pub locks: Vec<Held>,
    /// The sandboxes of this clone.
    pub sandboxes: Vec<Sandbox>,
    /// The conventions file's path and text, if the repository has one.
    pub conventions: Option<(String, String)>,
}

/// The current actor.
#[derive(Debug, Clone, Serialize)]
pub struct Who {
    /// The actor's id in hex.
    pub id: String,
    /// Its local label (`agent-1`).
    pub label: String,
    /// The person's name, from git's identity.
    pub name: String,
    /// The person's email.
    pub email: String,
}

/// An issue in a line.
#[derive(Debug, Clone, Serialize)]
pub struct Brief {
    /// The issue's full id in hex.
    pub id: String,
    /// Its shortest unique prefix.
    pub short_id: String,
    /// Its title.
    pub title: String,
    /// `open` or `closed`.
    pub state: String,
    /// Its priority, 0 (most urgent) to 4.
    pub priority: u8,
    /// For a claim: when it runs out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// What happened to one issue since the last primer.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The issue's full id in hex.
    pub id: String,
    /// Its shortest unique prefix.
    pub short_id: String,
    /// Its title.
    pub title: String,
    /// One line per event: `closed by Ada`, `comment by Bob`.
    pub what: Vec<String>,
}

/// A lease this actor holds (claims are listed apart).
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    /// The resource (`path:src/`, `issue:…`).
    pub resource: String,
    /// When the lease runs out, unless renewed.
    pub until: String,
    /// Why it was taken.
    pub note: String,
}

/// A sandbox of this clone.
#[derive(Debug, Clone, Serialize)]
pub struct Sandbox {
    /// The sandbox's name.
    pub name: String,
    /// Its branch (`sandbox/NAME`).
    pub branch: String,
    /// Whether it holds uncommitted changes of its own.
    pub dirty: bool,
    /// How many commits it has that its base does not.
    pub ahead: u64,
    /// The issue it works on, if it was made for one.
    pub issue: Option<String>,
}

/// Builds the primer of the current actor, and moves its "since last time" cursor to now
/// (unless `keep_cursor`).
pub fn prime(store: &Store, ready_limit: usize, keep_cursor: bool) -> Result<Primer> {
    let repo = &store.repo;
    let actor = store.actor()?;
    let me = actor.id();
    let actor_who = Who {
        id: me.to_hex(),
        label: crate::actor::selected_label(repo),
        name: actor.record.name.clone(),
        email: actor.record.email.clone(),
    };
    let brief = |id: &Id, until: Option<String>| -> Result<Brief> {
        let s = store.index.issue(id)?.unwrap_or_default();
        Ok(Brief {
            id: id.to_hex(),
            short_id: store.index.short_id(id)?,
            title: s.title.as_ref().map(|t| t.value.clone()).unwrap_or_default(),
            state: if s.state() == crate::event::State::Closed {
                "closed".into()
            } else {
                "open".into()
            },
            priority: s.priority(),
            until,
        })
    };
    let claims_all = super::locks::claims(store)?;
    let mut claims: Vec<Brief> = Vec::new();
    for (id, c) in &claims_all {
        if c.by == me.to_hex() {
            claims.push(brief(id, Some(c.until.clone()))?);
        }
    }
    claims.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.short_id.cmp(&b.short_id)));
    // Room for its own claims, which the queue holds but the list leaves out.
    let found = super::query::ready(store, &Query::default(), ready_limit + claims.len())?;
    // Its own claims are in the queue too (only others' are not): they are listed above.
    let mine_in_queue = found.hits.iter().filter(|h| claims_all.contains_key(&h.id)).count();
    let ready = found
        .hits
        .iter()
        .filter(|h| !claims_all.contains_key(&h.id))
        .take(ready_limit)
        .map(|h| brief(&h.id, None))
        .collect::<Result<Vec<_>>>()?;
    let view = crate::lock::View::load(repo, Some(&store.index))?;
    let now = crate::repo::now_ms();
    let locks = view
        .locks
        .values()
        .filter(|l| l.lease.active(now) && l.lease.owner == Some(me))
        .filter(|l| !l.lease.resource.starts_with("issue:"))
        .map(|l| Held {
            resource: l.lease.resource.clone(),
            until: crate::repo::format_time(l.lease.expires_ms),
            note: l.lease.note.clone(),
        })
        .collect();
    let sandboxes = match super::Sandboxes::open(&repo_dir(store)) {
        Ok(s) => s
            .list()?
            .into_iter()
            .map(|l| Sandbox {
                name: l.name,
                branch: l.branch,
                dirty: l.dirty,
                ahead: l.ahead,
                issue: l.issue,
            })
            .collect(),
        // A bare repository has no sandboxes.
        Err(_) => Vec::new(),
    };
    let since = changes_since(store, &me.to_hex(), keep_cursor)?;
    Ok(Primer {
        actor: actor_who,
        claims,
        ready,
        ready_total: found.total.saturating_sub(mine_in_queue),
        since,
        locks,
        sandboxes,
        conventions: conventions(store)?,
    })
}

fn repo_dir(store: &Store) -> PathBuf {
    store
        .repo
        .git
        .workdir()
        .map(PathBuf::from)
        .unwrap_or_else(|| store.repo.git.git_dir().to_owned())
}

/// The file that holds an actor's feed cursor.
fn cursor_file(store: &Store, actor: &str) -> PathBuf {
    store.repo.grit_dir.join("prime").join(format!("{actor}.cursor"))
}

/// What the feed holds past this actor's cursor, by issue; then the cursor moves to the end.
fn changes_since(store: &Store, actor: &str, keep_cursor: bool) -> Result<Option<Vec<Change>>> {
    let path = cursor_file(store, actor);
    let saved = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| crate::feed::Cursor::parse(s.trim()).ok());
    let first = saved.is_none();
    let since = saved.map_or(Since::Now, Since::At);
    let (mut stream, _) = Stream::open(&store.repo, &since)?;
    let mut by_issue: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
    let mut order = 0u64;
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let items = stream.poll(store, &Filter::default(), 1 << 20)?;
        if items.is_empty() {
            break;
        }
        for item in items {
            let (Some(issue), Some(ev)) = (item.issue, item.record.get("event")) else {
                continue;
            };
            let who = ev["actor"].as_str().unwrap_or_default().to_owned();
            // What this actor did itself it knows already.
            if who == actor {
                continue;
            }
            let name = match names.get(&who) {
                Some(n) => n.clone(),
                None => {
                    let n = crate::event::ActorId::from_hex(&who)
                        .and_then(|a| store.index.author(&a).ok())
                        .and_then(|a| a.name.clone())
                        .unwrap_or_else(|| who.chars().take(12).collect());
                    names.insert(who.clone(), n.clone());
                    n
                }
            };
            order += 1;
            let line = format!("{} by {name}", ev["summary"].as_str().unwrap_or("changed"));
            let e = by_issue.entry(issue.to_hex()).or_insert((order, Vec::new()));
            e.0 = order;
            e.1.push(line);
        }
    }
    if !keep_cursor {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        }
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        std::fs::write(&tmp, stream.cursor().to_string()).map_err(Error::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(Error::io(&path))?;
    }
    if first {
        return Ok(None);
    }
    let mut changes: Vec<(u64, Change)> = Vec::new();
    for (hex, (at, what)) in by_issue {
        let Some(id) = Id::from_hex(&hex) else { continue };
        let title = store
            .index
            .issue(&id)?
            .and_then(|s| s.title.map(|t| t.value))
            .unwrap_or_default();
        changes.push((
            at,
            Change {
                short_id: store.index.short_id(&id)?,
                id: hex,
                title,
                what,
            },
        ));
    }
    changes.sort_by_key(|(at, _)| *at);
    Ok(Some(changes.into_iter().map(|(_, c)| c).collect()))
}

/// The team's conventions for agents: `grit.agentsFile`, else `.grit/AGENTS.md`, in the work
/// tree.
fn conventions(store: &Store) -> Result<Option<(String, String)>> {
    let name = store
        .repo
        .config_string("grit.agentsFile")
        .unwrap_or_else(|| AGENTS_FILE.to_owned());
    let Some(tree) = store.repo.git.workdir() else {
        return Ok(None);
    };
    let path = tree.join(&name);
    match std::fs::read(&path) {
        Ok(b) => Ok(Some((name, String::from_utf8_lossy(&b).into_owned()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path)(e)),
    }
}

/// The primer as text for an agent's context, at most `max_bytes` long: the sections in order
/// of importance, each line whole; what does not fit is counted in a last line.
pub fn text(p: &Primer, max_bytes: usize) -> String {
    let esc = |s: &str| crate::text::esc(s).into_owned();
    let mut lines: Vec<String> = Vec::new();
    lines.push(format!(
        "# grit primer for {} <{}> (actor {})",
        esc(&p.actor.name),
        esc(&p.actor.email),
        esc(&p.actor.label)
    ));
    lines.push(String::new());
    lines.push(format!("## Your claims ({})", p.claims.len()));
    if p.claims.is_empty() {
        lines.push("none: `git issue claim --next` takes one from the head of the ready queue".into());
    }
    for c in &p.claims {
        lines.push(format!(
            "- {} [{}] P{} {} (until {})",
            c.short_id,
            c.state,
            c.priority,
            esc(&c.title),
            c.until.as_deref().unwrap_or("?")
        ));
    }
    lines.push(String::new());
    lines.push(format!("## Ready for you ({} in all)", p.ready_total));
    for r in &p.ready {
        lines.push(format!("- {} P{} {}", r.short_id, r.priority, esc(&r.title)));
    }
    lines.push(String::new());
    match &p.since {
        None => lines.push("## Since last time: this is your first primer here".into()),
        Some(c) if c.is_empty() => lines.push("## Since last time: nothing changed".into()),
        Some(changes) => {
            lines.push(format!("## Since last time ({} issues changed)", changes.len()));
            for c in changes.iter().rev() {
                lines.push(format!(
                    "- {} {}: {}",
                    c.short_id,
                    esc(&c.title),
                    esc(&c.what.join("; "))
                ));
            }
        }
    }
    lines.push(String::new());
    lines.push(format!("## Your locks ({})", p.locks.len()));
    for l in &p.locks {
        let note = if l.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", esc(&l.note))
        };
        lines.push(format!("- {} until {}{note}", esc(&l.resource), l.until));
    }
    lines.push(String::new());
    lines.push(format!("## Sandboxes ({})", p.sandboxes.len()));
    for s in &p.sandboxes {
        lines.push(format!(
            "- {} on {}{}{}",
            esc(&s.name),
            esc(&s.branch),
            if s.dirty { ", uncommitted changes" } else { "" },
            if s.ahead > 0 {
                format!(", {} commit(s) to land", s.ahead)
            } else {
                String::new()
            }
        ));
    }
    if let Some((name, body)) = &p.conventions {
        lines.push(String::new());
        lines.push(format!("## Conventions ({})", esc(name)));
        lines.extend(body.lines().map(esc));
    }
    bounded(&lines, max_bytes)
}

/// `lines` joined, as many whole lines as fit in `max` bytes, with a last line that says how
/// many were left out.
fn bounded(lines: &[String], max: usize) -> String {
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let left = lines.len() - i;
        let tail = format!("… {left} more line(s) left out (--max-bytes)\n");
        if out.len() + l.len() + 1 + if left > 1 { tail.len() } else { 0 } > max {
            if out.len() + tail.len() <= max {
                out.push_str(&tail);
            }
            return out;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}
