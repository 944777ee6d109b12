//! Claims and issue locks for `git issue`: who holds `issue:<id>`, taking it around a write
//! (`--lock`), and applying lock.policy to writes on issues others hold.

use std::collections::HashMap;

use serde::Serialize;

use super::{CommandError, Ui};
use crate::event::Id;
use crate::lock::{self, Resource, Scope};
use crate::repo::{format_time, now_ms};
use crate::store::Store;

/// An active claim (a lease on `issue:<id>`), as `list --json` and `show --json` print it.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    pub by: String,
    pub by_name: String,
    /// Which of the person's actors: its local label, or `actor <id prefix>` for another clone's.
    pub by_actor: String,
    pub until: String,
}

impl Claim {
    /// The claimer as a person reads it: name and actor, `Ada Lovelace (agent-1)`.
    pub fn who(&self) -> String {
        format!("{} ({})", self.by_name, self.by_actor)
    }
}

/// Writes `,"claim":…` into a `list --json` row.
pub fn claim_field(c: Option<&Claim>, out: &mut impl std::io::Write) -> std::io::Result<()> {
    match c {
        None => out.write_all(b",\"claim\":null"),
        Some(c) => {
            out.write_all(b",\"claim\":")?;
            serde_json::to_writer(out, c).map_err(std::io::Error::from)
        }
    }
}

/// Active claims by issue, from the locks this clone knows of.
pub fn claims(store: &Store) -> Result<HashMap<Id, Claim>, CommandError> {
    let view = lock::View::load(&store.repo, Some(&store.index))?;
    let now = now_ms();
    let mut out = HashMap::new();
    for l in view.locks.values().filter(|l| l.lease.active(now)) {
        let (Some(Resource::Issue(id)), Some(owner)) = (lock::parse_canonical(&l.lease.resource), l.lease.owner) else {
            continue;
        };
        let author = store.index.author(&owner)?;
        out.insert(
            id,
            Claim {
                by: owner.to_hex(),
                by_name: author.name.clone().unwrap_or_else(|| author.id[..12].to_owned()),
                by_actor: crate::actor::which(&store.repo, &owner),
                until: format_time(l.lease.expires_ms),
            },
        );
    }
    Ok(out)
}

/// Holds `issue:<id>` while a write runs (with `--lock`); otherwise applies lock.policy to a
/// write on an issue someone else has locked. Dropping it releases the lease.
pub struct IssueGuard<'a> {
    store: &'a Store,
    resource: Resource,
    scope: Scope,
}

impl Drop for IssueGuard<'_> {
    fn drop(&mut self) {
        let Ok(actor) = self.store.actor() else { return };
        let who = lock::Actor::of(&actor);
        if let Err(e) = lock::change(
            &self.store.repo,
            &who,
            std::slice::from_ref(&self.resource),
            lock::LeaseChange::Release,
            &self.scope,
            false,
        ) {
            // The resource once, by the issue's short id where it has one.
            let name = match &self.resource {
                Resource::Issue(id) => format!(
                    "the claim on issue {}",
                    self.store
                        .index
                        .short_id(id)
                        .unwrap_or_else(|_| id.to_hex()[..12].to_owned())
                ),
                other => other.to_string(),
            };
            let why = match e {
                lock::Refused::Error(e) => e.to_string(),
                lock::Refused::NotHeld(_) => "it was no longer held".into(),
                lock::Refused::NotOwner(_) => "someone else holds it now".into(),
            };
            eprintln!("warning: could not release {name}: {why}");
        }
    }
}

pub fn guard<'a>(ui: &mut Ui, store: &'a Store, id: &Id, take: bool) -> Result<Option<IssueGuard<'a>>, CommandError> {
    let resource = Resource::Issue(*id);
    if !take {
        super::lock::enforce(
            ui,
            store,
            || Ok(Vec::new()),
            std::slice::from_ref(&resource),
            "issue is locked",
        )?;
        return Ok(None);
    }
    let scope = lock::default_scope(&store.repo);
    take_lock(
        store,
        &resource,
        std::time::Duration::from_secs(300),
        "git issue --lock",
        &scope,
    )?;
    Ok(Some(IssueGuard { store, resource, scope }))
}

pub fn take_lock(
    store: &Store,
    resource: &Resource,
    ttl: std::time::Duration,
    note: &str,
    scope: &Scope,
) -> Result<Vec<lock::Lock>, CommandError> {
    let actor = store.actor()?;
    let who = lock::Actor::of(&actor);
    let req = lock::Request {
        resources: std::slice::from_ref(resource),
        ttl,
        note,
        scope: scope.clone(),
        wait: None,
    };
    match lock::acquire(&store.repo, Some(&store.index), &who, &req) {
        Ok(l) => Ok(l),
        Err(lock::Denied::Conflicts(c)) => {
            let held: Vec<&lock::Lock> = c.iter().map(|c| &c.held).collect();
            Err(super::lock::conflict_error(&store.repo, &held))
        }
        Err(lock::Denied::Error(e)) => Err(e.into()),
    }
}
