//! Retiring cold actors: the WAL refs of actors silent for long leave the remote's advertisement
//! and every clone, while a signed snapshot link names each retired chain and keeps it reachable
//! (its tip is a parent of the link's commit). No event is lost: a fold reads a retired chain
//! from the link as it reads a WAL ref, checking every event (`docs/scale.md`).

use std::collections::{BTreeMap, HashSet};

use gix::ObjectId;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::event::ActorId;
use crate::refs;
use crate::repo::{Repo, now_ms};
use crate::store::Store;
use crate::sync::{self, Options};
use crate::{snapshot, wal};

/// One actor retired, or that would be.
#[derive(Debug, Clone, Serialize)]
pub struct Retired {
    /// The actor's id, in hex.
    pub actor: String,
    /// The tip of its WAL ref when it was retired.
    #[serde(serialize_with = "crate::hex::serialize_oid")]
    pub tip: ObjectId,
    /// When its WAL ref last moved (the tip's commit time).
    pub last_write: String,
    /// What happened to the remote's ref: `deleted`, or why it stayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

/// What `git wal retire` did (or, with `--dry-run`, would do).
#[derive(Debug, Serialize)]
pub struct Report {
    /// The remote it retired on.
    pub remote: String,
    /// Whether it only said what it would do.
    pub dry_run: bool,
    /// The snapshot link that records the retirements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The actors retired.
    pub retired: Vec<Retired>,
    /// This clone's copies of retired refs deleted (local and remote-tracking).
    pub local_refs_deleted: usize,
}

/// The actors whose WAL ref has not moved for `older_than_ms`, other than this clone's own, and
/// whose tip the remote has too (so the lease on its deletion names what both sides hold).
pub fn candidates(repo: &Repo, remote: &str, older_than_ms: u64) -> Result<Vec<(ActorId, ObjectId, u64)>> {
    let own: HashSet<ActorId> = crate::actor::list_local(repo)?.iter().map(|a| a.id()).collect();
    let tracking: BTreeMap<String, ObjectId> =
        refs::list_refs(repo, &format!("{}wal/", crate::refs::tracking_prefix(remote)))?
            .into_iter()
            .collect();
    let cutoff = now_ms().saturating_sub(older_than_ms);
    let mut out = Vec::new();
    for (name, tip) in refs::list_refs(repo, wal::WAL_PREFIX)? {
        let Some(actor) = crate::index::wal_owner(&name) else {
            continue;
        };
        if own.contains(&actor) {
            continue;
        }
        let theirs = format!("{}wal/{}", crate::refs::tracking_prefix(remote), actor.to_hex());
        if tracking.get(&theirs) != Some(&tip) {
            continue;
        }
        let last = wal::commit_time_ms(repo, tip)?;
        if last < cutoff {
            out.push((actor, tip, last));
        }
    }
    Ok(out)
}

/// Retires the actors silent for `older_than_ms`: syncs with `remote`, writes a snapshot link
/// that names each retired (actor, tip) and has the tips as parents, pushes it, deletes the
/// remote's refs with a lease on their tips (a ref that moved meanwhile stays), and deletes this
/// clone's copies. With `dry_run`, only says which actors it would retire.
pub fn retire(store: &Store, remote: &str, older_than_ms: u64, dry_run: bool) -> Result<Report> {
    let repo = &store.repo;
    let whole = Options {
        fetch: true,
        push: true,
        issue: None,
    };
    sync::sync(store, remote, whole)?;
    let found = candidates(repo, remote, older_than_ms)?;
    let mut report = Report {
        remote: remote.to_owned(),
        dry_run,
        snapshot: None,
        retired: found
            .iter()
            .map(|(actor, tip, last)| Retired {
                actor: actor.to_hex(),
                tip: *tip,
                last_write: crate::repo::format_time(*last),
                remote: None,
            })
            .collect(),
        local_refs_deleted: 0,
    };
    if dry_run || found.is_empty() {
        return Ok(report);
    }
    let actor = store.actor()?;
    let quarantine = crate::quarantine::Quarantine::lookup(repo)?;
    let pairs: Vec<snapshot::Retirement> = found.iter().map(|(a, t, _)| (*a, *t)).collect();
    let Some((link, retired)) = snapshot::write_link(repo, &actor.author(now_ms()), &actor.key, &quarantine, &pairs)?
    else {
        // No chain the link would cover whole, and nothing new: nothing retired.
        report.retired.clear();
        return Ok(report);
    };
    let retired: HashSet<snapshot::Retirement> = retired.into_iter().collect();
    report
        .retired
        .retain(|r| retired.iter().any(|(a, t)| a.to_hex() == r.actor && *t == r.tip));
    report.snapshot = Some(link.name.clone());
    // The link goes up before any ref comes down: until the remote has it, the retired chains
    // are reachable there only through their refs.
    let pushed = sync::sync(store, remote, Options { fetch: false, ..whole })?;
    let tracking = format!(
        "{}snapshots/{}",
        crate::refs::tracking_prefix(remote),
        &link.name[snapshot::SNAPSHOTS_PREFIX.len()..]
    );
    if refs::ref_tip(repo, &tracking)? != Some(link.commit) {
        let why = pushed
            .refs
            .iter()
            .find(|r| r.reference == link.name)
            .and_then(|r| r.rejected.clone())
            .unwrap_or_else(|| "it did not reach the remote".into());
        return Err(Error::invalid(
            format!("could not push the retiring snapshot {}: {why}", link.name),
            "no ref was deleted on the remote; run `git wal retire` again once `git wal push` works",
        ));
    }
    let outcome = delete_on_remote(repo, remote, &retired)?;
    for r in &mut report.retired {
        let name = format!("{}{}", wal::WAL_PREFIX, r.actor);
        r.remote = Some(
            outcome
                .get(&name)
                .cloned()
                .unwrap_or_else(|| "not reported by git push".into()),
        );
    }
    // The sync that pushed the link already deleted the copies it found (the link is this
    // clone's own, so trusted); what is left goes now.
    report.local_refs_deleted = pushed.retired_refs_deleted + snapshot::forget(repo, &retired)?;
    store.index.refresh(repo)?;
    Ok(report)
}

/// Deletes the retired refs on `remote`, each with a lease on its retired tip, in batches that
/// fit the argument list. Returns what git said of each ref: `deleted`, or why not.
fn delete_on_remote(
    repo: &Repo,
    remote: &str,
    retired: &HashSet<snapshot::Retirement>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut all: Vec<(String, ObjectId)> = retired
        .iter()
        .map(|(a, t)| (format!("{}{}", wal::WAL_PREFIX, a.to_hex()), *t))
        .collect();
    all.sort();
    for part in all.chunks(250) {
        let mut args: Vec<String> = vec!["push".into(), "--porcelain".into(), "--no-verify".into()];
        args.extend(
            part.iter()
                .map(|(name, tip)| format!("--force-with-lease={name}:{tip}")),
        );
        args.push(remote.into());
        args.extend(part.iter().map(|(name, _)| format!(":{name}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let result = {
            let _turn = crate::refs::tracking_lock(repo, remote)?;
            repo.git_output(&args)?
        };
        let stdout = String::from_utf8_lossy(&result.stdout);
        let mut seen = 0;
        for line in stdout.lines() {
            let mut fields = line.splitn(3, '\t');
            let (Some(flag), Some(spec), summary) = (fields.next(), fields.next(), fields.next()) else {
                continue;
            };
            let Some(name) = spec.strip_prefix(':') else { continue };
            seen += 1;
            let what = match flag {
                "-" => "deleted".to_owned(),
                _ => summary.unwrap_or("rejected").trim().to_owned(),
            };
            out.insert(name.to_owned(), what);
        }
        if seen == 0 && !result.status.success() {
            return Err(Error::Subprocess {
                command: format!("git push {remote} (deleting retired refs)"),
                stderr: String::from_utf8_lossy(&result.stderr).trim().to_owned(),
            });
        }
    }
    Ok(out)
}
