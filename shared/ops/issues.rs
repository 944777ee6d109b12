//! What a user does to issues: create, edit, comment, close and reopen, link, claim and
//! unclaim, claim the next ready one. Each checks its input (text, names, links and their
//! cycles), applies `lock.policy` to writes on issues others hold, writes the events, and hands
//! back what it did; it prints nothing.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::event::{Id, Kind, State};
use crate::index::tables;
use crate::issue::{IssueState, Link, LinkSpec};
use crate::lock::{self, Resource, Scope};
use crate::query::Query;
use crate::store::Store;

use super::locks::{self as locks, IssueGuard};

/// The longest label or assignee, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// The issue operations on one store (`examples/embed.rs` uses them).
pub struct Issues<'a> {
    store: &'a Store,
}

/// A new issue: its title and what else it starts with. Ids of other issues are queries (an id
/// or a unique prefix), resolved when it is made.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NewIssue {
    /// The title: one line, not empty.
    pub title: String,
    /// The body, markdown; may be empty.
    pub body: String,
    /// Labels; `@me` is not special here.
    pub labels: Vec<String>,
    /// Assignees; `@me` stands for the current actor's email.
    pub assignees: Vec<String>,
    /// Priority 0 (most urgent) to 4; `None` for the default, 2.
    pub priority: Option<u8>,
    /// Its type (`bug`, `feature`, `task`, `epic`, `chore`); `None` for the default, `task`.
    pub issue_type: Option<String>,
    /// The parent (an epic), as a query.
    pub parent: Option<String>,
    /// Issues it waits for, as queries.
    pub blocked_by: Vec<String>,
    /// Issues whose work found it, as queries.
    pub discovered_from: Vec<String>,
}

impl NewIssue {
    /// An issue with this title and nothing else.
    pub fn titled(title: impl Into<String>) -> NewIssue {
        NewIssue {
            title: title.into(),
            ..NewIssue::default()
        }
    }
}

/// Changes to an issue; what is already so is left out, and an edit that changes nothing says
/// so in its notes.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Edit {
    /// A new title.
    pub title: Option<String>,
    /// A new body.
    pub body: Option<String>,
    /// Labels to add.
    pub add_labels: Vec<String>,
    /// Labels to remove.
    pub remove_labels: Vec<String>,
    /// Assignees to add; `@me` stands for the current actor's email.
    pub add_assignees: Vec<String>,
    /// Assignees to remove.
    pub remove_assignees: Vec<String>,
    /// A new priority, 0 to 4.
    pub priority: Option<u8>,
    /// A new type.
    pub issue_type: Option<String>,
    /// `Some("none")` removes the parent.
    pub parent: Option<String>,
    /// Links to add (`true`) or remove, each to an issue named by a query.
    pub links: Vec<(LinkSpec, String, bool)>,
    /// Hold `issue:<id>` while writing.
    pub lock: bool,
}

impl Edit {
    /// Whether the edit asks for no change at all.
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.body.is_none()
            && self.add_labels.is_empty()
            && self.remove_labels.is_empty()
            && self.add_assignees.is_empty()
            && self.remove_assignees.is_empty()
            && self.priority.is_none()
            && self.issue_type.is_none()
            && self.parent.is_none()
            && self.links.is_empty()
    }
}

/// Closing or reopening, with an optional comment in the same write.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StateChange {
    /// The state to move to.
    pub to: State,
    /// `completed` or `not_planned`, for a close.
    pub reason: Option<String>,
    /// A comment written with the change, in the same write.
    pub comment: Option<String>,
    /// Hold `issue:<id>` while writing.
    pub lock: bool,
}

impl StateChange {
    /// A close with no reason, comment or lock.
    pub fn close() -> StateChange {
        StateChange {
            to: State::Closed,
            reason: None,
            comment: None,
            lock: false,
        }
    }

    /// A reopen with no comment or lock.
    pub fn reopen() -> StateChange {
        StateChange {
            to: State::Open,
            ..StateChange::close()
        }
    }
}

/// What a write did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Written {
    /// The issue written (for a link, the one it is from).
    pub id: Id,
    /// Whether any event was written.
    pub changed: bool,
    /// What a person should hear: "already closed", "nothing to do".
    pub notes: Vec<String>,
    /// What went wrong beside the write: an issue another holds under `lock.policy=warn`, a
    /// lease that would not release.
    pub warnings: Vec<String>,
}

/// One link to add or remove: "`a` SPEC `b`".
#[derive(Debug, Clone, Copy)]
pub struct LinkChange {
    /// The issue the link is written on.
    pub a: Id,
    /// Which link, read from `a` to `b`.
    pub spec: LinkSpec,
    /// The issue it points to.
    pub b: Id,
    /// Add it (`true`) or remove it.
    pub add: bool,
}

/// Rejects text that is empty or holds control characters other than newlines and tabs;
/// returns it trimmed (at the end only, for `multiline`).
pub fn clean_text(what: &str, s: &str, multiline: bool) -> Result<String> {
    let t = if multiline { s.trim_end() } else { s.trim() };
    if t.is_empty() {
        return Err(Error::invalid(
            format!("{what} is empty"),
            format!("give a non-empty {what}"),
        ));
    }
    if t.chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')))
    {
        return Err(Error::invalid(
            format!("{what} contains control characters"),
            if multiline {
                "remove them; newlines and tabs are fine"
            } else {
                "a single line of printable text is expected"
            },
        ));
    }
    Ok(t.to_owned())
}

impl<'a> Issues<'a> {
    /// The operations on `store`.
    pub fn new(store: &'a Store) -> Issues<'a> {
        Issues { store }
    }

    /// Label or assignee names, checked and without repeats; `@me` (when `me_allowed`) is the
    /// current actor's email.
    fn clean_names(&self, what: &str, names: &[String]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for n in names {
            let n = if n.trim() == "@me" {
                self.store.actor()?.record.email
            } else {
                clean_text(what, n, false)?
            };
            if n.len() > MAX_NAME_BYTES {
                let short: String = n.chars().take(32).collect();
                return Err(Error::invalid(
                    format!("{what} '{short}…' is too long"),
                    format!("use at most {MAX_NAME_BYTES} bytes"),
                ));
            }
            if !out.contains(&n) {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// Creates an issue. Its links are written with it: nothing links to it yet, so none can
    /// close a cycle.
    pub fn create(&self, new: &NewIssue) -> Result<Written> {
        let title = clean_text("title", &new.title, false)?;
        let body = new.body.trim_end().to_owned();
        let labels = self.clean_names("label", &new.labels)?;
        let assignees = self.clean_names("assignee", &new.assignees)?;
        let index = &self.store.index;
        let mut kinds = vec![Kind::IssueCreated { title, body, labels }];
        kinds.extend(assignees.into_iter().map(|assignee| Kind::AssigneeAdded { assignee }));
        kinds.extend(plan_kinds(new.priority, new.issue_type.as_deref(), None));
        if let Some(p) = &new.parent {
            kinds.push(Kind::ParentSet {
                parent: Some(index.resolve(p)?),
            });
        }
        for (ids, link) in [
            (&new.blocked_by, Link::BlockedBy),
            (&new.discovered_from, Link::DiscoveredFrom),
        ] {
            for q in ids {
                kinds.push(Kind::LinkAdded {
                    link: link.name().to_owned(),
                    target: index.resolve(q)?,
                });
            }
        }
        let events = self.store.write(None, kinds)?;
        Ok(Written {
            id: events[0].id,
            changed: true,
            notes: Vec::new(),
            warnings: Vec::new(),
        })
    }

    /// Edits issue `query`. Links are checked first: a cycle refuses the whole edit before
    /// anything is written.
    pub fn edit(&self, query: &str, edit: &Edit) -> Result<Written> {
        let title = edit
            .title
            .as_deref()
            .map(|t| clean_text("title", t, false))
            .transpose()?;
        let body = edit.body.as_ref().map(|b| b.trim_end().to_owned());
        let (add_l, rm_l) = (
            self.clean_names("label", &edit.add_labels)?,
            self.clean_names("label", &edit.remove_labels)?,
        );
        let (add_a, rm_a) = (
            self.clean_names("assignee", &edit.add_assignees)?,
            self.clean_names("assignee", &edit.remove_assignees)?,
        );
        if edit.is_empty() {
            return Err(Error::invalid(
                "nothing to edit",
                "give at least one of --title, --body, --body-file, --add-label, --remove-label, --add-assignee, \
                 --remove-assignee, --priority, --type, --parent, --add-blocked-by, --add-blocks, --add-related, …",
            ));
        }
        let index = &self.store.index;
        let id = index.resolve(query)?;
        let mut warnings = Vec::new();
        let guard = IssueGuard::new(self.store, &id, edit.lock, &mut warnings)?;
        let cur = index.issue(&id)?.expect("resolved ids exist");
        let mut changes = Vec::new();
        match edit.parent.as_deref() {
            Some("none") => {
                if let Some(p) = cur.parent() {
                    changes.push(LinkChange {
                        a: id,
                        spec: LinkSpec::Parent,
                        b: p,
                        add: false,
                    });
                }
            }
            Some(p) => changes.push(LinkChange {
                a: id,
                spec: LinkSpec::Parent,
                b: index.resolve(p)?,
                add: true,
            }),
            None => {}
        }
        for (spec, q, add) in &edit.links {
            changes.push(LinkChange {
                a: id,
                spec: *spec,
                b: index.resolve(q)?,
                add: *add,
            });
        }
        let mut notes = Vec::new();
        let mut planned = self.plan_links(&changes, &mut notes)?;
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
        kinds.extend(plan_kinds(edit.priority, edit.issue_type.as_deref(), Some(&cur)));
        if let Some(at) = planned.iter().position(|(holder, _)| *holder == id) {
            kinds.extend(planned.remove(at).1);
        }
        let changed = !(kinds.is_empty() && planned.is_empty());
        if !changed {
            notes.push("nothing changed: the issue already looks like that".into());
        }
        self.store.write(Some(id), kinds)?;
        self.write_links(planned)?;
        if let Some(g) = guard {
            g.end(&mut warnings);
        }
        Ok(Written {
            id,
            changed,
            notes,
            warnings,
        })
    }

    /// Comments on issue `id`.
    pub fn comment(&self, id: &Id, body: &str, lock: bool) -> Result<Written> {
        let body = clean_text("comment", body, true)?;
        let mut warnings = Vec::new();
        let guard = IssueGuard::new(self.store, id, lock, &mut warnings)?;
        self.store.write(Some(*id), vec![Kind::CommentAdded { body }])?;
        if let Some(g) = guard {
            g.end(&mut warnings);
        }
        Ok(Written {
            id: *id,
            changed: true,
            notes: Vec::new(),
            warnings,
        })
    }

    /// Closes or reopens issue `id`: one rule for every face. An issue already in that state
    /// gets no second state event (its comment is still written), and says so in the notes.
    pub fn set_state(&self, id: &Id, change: &StateChange) -> Result<Written> {
        let comment = change
            .comment
            .as_deref()
            .map(|c| clean_text("comment", c, true))
            .transpose()?;
        if let Some(r) = &change.reason
            && !matches!(r.as_str(), "completed" | "not_planned")
        {
            return Err(Error::invalid(
                format!("'{r}' is not a reason to close"),
                "use completed or not_planned",
            ));
        }
        let mut warnings = Vec::new();
        let guard = IssueGuard::new(self.store, id, change.lock, &mut warnings)?;
        let cur = self.store.index.issue(id)?.ok_or_else(|| Error::NotFound {
            what: "issue",
            query: id.to_hex(),
        })?;
        let mut kinds: Vec<Kind> = comment.into_iter().map(|body| Kind::CommentAdded { body }).collect();
        let mut notes = Vec::new();
        let already = cur.state() == change.to;
        if already {
            notes.push(format!(
                "issue {} is already {}",
                self.store.index.short_id(id)?,
                if change.to == State::Closed { "closed" } else { "open" }
            ));
        } else {
            kinds.push(Kind::StateSet {
                state: change.to,
                reason: change.reason.clone(),
            });
        }
        let changed = !kinds.is_empty();
        self.store.write(Some(*id), kinds)?;
        if let Some(g) = guard {
            g.end(&mut warnings);
        }
        Ok(Written {
            id: *id,
            changed: changed && !already,
            notes,
            warnings,
        })
    }

    /// Adds (`add`) or removes the link "`a` SPEC `b`" (ids or prefixes).
    pub fn link(&self, a: &str, spec: LinkSpec, b: &str, add: bool) -> Result<Written> {
        let (x, y) = (self.store.index.resolve(a)?, self.store.index.resolve(b)?);
        let mut notes = Vec::new();
        let planned = self.plan_links(&[LinkChange { a: x, spec, b: y, add }], &mut notes)?;
        let changed = !planned.is_empty();
        self.write_links(planned)?;
        Ok(Written {
            id: x,
            changed,
            notes,
            warnings: Vec::new(),
        })
    }

    /// The events that make `changes`, by the issue each is written on, in order. Refuses a
    /// link to the issue itself and one that would close a cycle of `blocks` or `parent` (with
    /// the cycle); a change that is already so is left out, with a note.
    pub fn plan_links(&self, changes: &[LinkChange], notes: &mut Vec<String>) -> Result<Vec<(Id, Vec<Kind>)>> {
        let index = &self.store.index;
        let mut out: Vec<(Id, Vec<Kind>)> = Vec::new();
        for c in changes {
            if c.a == c.b {
                return Err(Error::invalid(
                    "an issue cannot be linked to itself",
                    "give two different issues",
                ));
            }
            let (holder, kind) = c.spec.event(c.a, c.b, c.add);
            let state = index.issue(&holder)?.unwrap_or_default();
            let present = match &kind {
                Kind::ParentSet { .. } => {
                    let parent = if c.spec == LinkSpec::Child { c.a } else { c.b };
                    state.parent() == Some(parent)
                }
                Kind::LinkAdded { link, target } | Kind::LinkRemoved { link, target } => {
                    state.links().iter().any(|(l, t)| l.name() == link && t == target)
                }
                _ => false,
            };
            if present == c.add {
                notes.push(format!(
                    "{} {} {} {}: nothing to do",
                    index.short_id(&c.a)?,
                    if c.add { "already" } else { "is not" },
                    c.spec.name(),
                    index.short_id(&c.b)?
                ));
                continue;
            }
            if c.add {
                self.check_cycle(c)?;
            }
            match out.iter_mut().find(|(h, _)| *h == holder) {
                Some((_, kinds)) => kinds.push(kind),
                None => out.push((holder, vec![kind])),
            }
        }
        Ok(out)
    }

    /// Refuses a `blocks` or `parent` link that would close a cycle.
    fn check_cycle(&self, c: &LinkChange) -> Result<()> {
        let Some((from, to, link)) = cycle_edge(c) else {
            return Ok(());
        };
        let word = if link == tables::PARENT {
            "has the parent"
        } else {
            "is blocked by"
        };
        let index = &self.store.index;
        let Some(path) = index.path(&to, &from, link)? else {
            return Ok(());
        };
        let mut shown = vec![index.short_id(&from)?];
        for id in &path {
            shown.push(index.short_id(id)?);
        }
        Err(Error::invalid(
            format!("this link would make a cycle: {}", shown.join(&format!(" {word} "))),
            "nothing was written; remove one of the links on the cycle first (`git issue unlink`)",
        ))
    }

    /// Writes what `plan_links` made, issue by issue.
    pub fn write_links(&self, planned: Vec<(Id, Vec<Kind>)>) -> Result<()> {
        for (holder, kinds) in planned {
            self.store.write(Some(holder), kinds)?;
        }
        Ok(())
    }

    /// Claims issue `id`: a lease on `issue:<id>` for `ttl`. Another's claim is
    /// [`Error::Locked`].
    pub fn claim(&self, id: &Id, ttl: Duration, scope: &Scope) -> Result<()> {
        locks::take(self.store, &Resource::Issue(*id), ttl, "claim", scope).map(|_| ())
    }

    /// Claims a ready issue matching `q` that nobody else takes first: each try is a
    /// compare-and-swap on the issue's lease, so of several agents doing this at once each ends
    /// up with a different one.
    ///
    /// Which one: an issue the actor does not hold yet, at random among the head of the queue,
    /// the first `issue.claimSpread` (default 8; 1 takes strictly the first) that share the first
    /// one's priority. A fleet's agents then rarely race for the same issue, and none takes a
    /// less urgent issue while a more urgent one is ready. After a lost race the queue is read
    /// again (the race fetched the remote's claims), without the issues already tried.
    ///
    /// The queue is read from the remote's claims as last fetched: each try is one push whose
    /// lease refuses an issue the remote has seen claimed since. Only a queue that looks empty
    /// fetches before saying so.
    pub fn claim_next(&self, q: &Query, ttl: Duration, scope: &Scope) -> Result<Id> {
        let spread = claim_spread(&self.store.repo)?;
        let mut tried = std::collections::HashSet::new();
        let mut fetched = false;
        loop {
            let ctx = super::query::context(self.store)?;
            let candidates: Vec<(Id, u8)> = self
                .store
                .index
                .search(q, &ctx, crate::index::search::Queue::Ready, 64)?
                .hits
                .into_iter()
                // Not one this actor holds already: an agent whose land stopped on a conflict
                // keeps that claim, and must not be handed the same issue again.
                .filter(|h| !tried.contains(&h.id) && !ctx.claimed.contains(&h.id))
                .map(|h| (h.id, h.facts.priority))
                .collect();
            if candidates.is_empty()
                && let Scope::Remote(remote) = scope
                && !std::mem::replace(&mut fetched, true)
            {
                lock::fetch(&self.store.repo, remote)?;
                continue;
            }
            let Some(&(_, urgency)) = candidates.first() else {
                return Err(Error::Failed {
                    message: "no issue is ready to claim".into(),
                    hint: "`git issue ready` shows the queue; `git issue blocked` shows what waits on what".into(),
                });
            };
            let lead = candidates.iter().take_while(|c| c.1 == urgency).count().min(spread);
            let (id, _) = candidates[random_below(lead)];
            tried.insert(id);
            match locks::take(self.store, &Resource::Issue(id), ttl, "claim --next", scope) {
                Ok(_) => return Ok(id),
                // Someone else took it between the queue and the lease: another one.
                Err(Error::Locked { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Ends the current actor's claim on issue `id` (with `force`, anyone's).
    pub fn unclaim(&self, id: &Id, scope: &Scope, force: bool) -> Result<()> {
        let actor = self.store.actor()?;
        let who = lock::Actor::of(&actor);
        let r = Resource::Issue(*id);
        match lock::change(
            &self.store.repo,
            &who,
            std::slice::from_ref(&r),
            lock::LeaseChange::Release,
            scope,
            force,
        ) {
            Ok(_) => Ok(()),
            Err(lock::Refused::NotHeld(_)) => Err(Error::Failed {
                message: format!("issue {} is not claimed", self.store.index.short_id(id)?),
                hint: "`git issue show ID` shows an issue's claim; `git lock status` lists every lock".into(),
            }),
            Err(lock::Refused::NotOwner(l)) => Err(locks::conflict_with_hint(
                &self.store.repo,
                &[&l],
                "only the claimer unclaims; `--force` ends an abandoned claim",
            )),
            Err(lock::Refused::Error(e)) => Err(e),
        }
    }
}

/// The edge a `blocks` or `parent` link adds, as (from, to, link table): adding "from → to"
/// closes a cycle if `to` already reaches `from`. Other links make no cycle.
pub fn cycle_edge(c: &LinkChange) -> Option<(Id, Id, u8)> {
    match c.spec {
        LinkSpec::BlockedBy => Some((c.a, c.b, tables::BLOCKED_BY)),
        LinkSpec::Blocks => Some((c.b, c.a, tables::BLOCKED_BY)),
        LinkSpec::Parent => Some((c.a, c.b, tables::PARENT)),
        LinkSpec::Child => Some((c.b, c.a, tables::PARENT)),
        _ => None,
    }
}

/// The events that set priority and type, where they differ from `cur`.
fn plan_kinds(priority: Option<u8>, issue_type: Option<&str>, cur: Option<&IssueState>) -> Vec<Kind> {
    let mut kinds = Vec::new();
    if let Some(priority) = priority.filter(|n| cur.is_none_or(|c| c.priority() != *n)) {
        kinds.push(Kind::PrioritySet { priority });
    }
    if let Some(t) = issue_type.filter(|t| cur.is_none_or(|c| c.issue_type() != *t)) {
        kinds.push(Kind::TypeSet {
            issue_type: t.to_owned(),
        });
    }
    kinds
}

/// `issue.claimSpread`: among how many of the head of the queue `claim --next` draws.
fn claim_spread(repo: &crate::repo::Repo) -> Result<usize> {
    let Some(v) = repo.config_string("issue.claimSpread") else {
        return Ok(8);
    };
    v.trim().parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
        Error::invalid(
            format!("issue.claimSpread is '{v}', not a number of issues"),
            "set it to 1 to claim strictly the head of the queue, or to how many of the head to draw among (default 8)",
        )
    })
}

/// A number below `n` (> 0), from the system's random source.
fn random_below(n: usize) -> usize {
    let mut b = [0u8; 8];
    let _ = getrandom::getrandom(&mut b);
    (u64::from_le_bytes(b) % n as u64) as usize
}
