//! The leases a sandbox holds: taken for it at creation (`--lock`), short, renewed while it is in
//! use, and released when it commits, lands or is removed. A release that fails says why.

use std::time::Duration;

use serde::Serialize;

use super::Main;
use crate::error::{Error, Result};
use crate::lock::{self, LeaseChange, Refused};

/// A sandbox lease's time to live unless `sandbox.lockTtl` says otherwise: short, so that a
/// sandbox whose agent died frees its paths soon, and renewed while the sandbox is in use.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10 * 60);

/// `sandbox.lockTtl` (`90s`, `10m`, `1h`), else [`DEFAULT_TTL`].
pub fn ttl(main: &Main) -> Duration {
    main.repo
        .config_string("sandbox.lockTtl")
        .and_then(|s| lock::parse_duration(&s).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_TTL)
}

/// What releasing a sandbox's locks did, lock by lock.
#[derive(Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Released {
    /// Released now.
    pub released: Vec<String>,
    /// Not this actor's any more (expired and taken, broken, or released already): nothing to do.
    pub gone: Vec<String>,
    /// Still held by this actor: (resource, why the release failed).
    pub failed: Vec<(String, String)>,
}

impl Released {
    /// Whether every lock is free of this actor's lease.
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Releases `locks` (canonical resource names, as a record keeps them) one by one, so that one
/// that fails or is no longer ours does not keep the others.
pub fn release(main: &Main, locks: &[String]) -> Result<Released> {
    let mut out = Released::default();
    if locks.is_empty() {
        return Ok(out);
    }
    let store = crate::store::Store::open(&main.tree)?;
    let actor = store.actor()?;
    let who = lock::Actor::of(&actor);
    let scope = lock::default_scope(&store.repo);
    for l in locks {
        let Some(res) = lock::parse_canonical(l) else {
            out.failed.push((l.clone(), "not a lock resource".into()));
            continue;
        };
        match lock::change(&store.repo, &who, &[res], LeaseChange::Release, &scope, false) {
            Ok(_) => out.released.push(l.clone()),
            Err(Refused::NotHeld(_) | Refused::NotOwner(_)) => out.gone.push(l.clone()),
            Err(Refused::Error(e)) => out.failed.push((l.clone(), e.to_string())),
        }
    }
    Ok(out)
}

/// Releases a sandbox's locks and, where its record is still there, forgets the ones that are
/// free of this actor's lease, so that a later `rm` does not try them again.
pub fn release_for(main: &Main, name: &str, locks: &[String]) -> Result<Released> {
    let out = release(main, locks)?;
    if let Some(mut r) = main.load(name)?
        && !r.locks.is_empty()
    {
        r.locks.retain(|l| out.failed.iter().any(|(f, _)| f == l));
        main.save(&r)?;
    }
    Ok(out)
}

/// Renews the sandbox's leases that this actor still holds, for another `ttl`. A lease that is
/// gone is left gone; a failure is returned.
pub fn renew(main: &Main, locks: &[String], ttl: Duration) -> Result<()> {
    if locks.is_empty() {
        return Ok(());
    }
    let store = crate::store::Store::open_unfolded(&main.tree)?;
    let actor = store.actor()?;
    let who = lock::Actor::of(&actor);
    let scope = lock::default_scope(&store.repo);
    let res: Vec<lock::Resource> = locks.iter().filter_map(|l| lock::parse_canonical(l)).collect();
    match lock::change(&store.repo, &who, &res, LeaseChange::Renew(ttl), &scope, false) {
        Ok(_) | Err(Refused::NotHeld(_) | Refused::NotOwner(_)) => Ok(()),
        Err(Refused::Error(e)) => Err(e),
    }
}

/// Renews a sandbox's leases every third of their time to live until dropped: a run, a shell or
/// the daemon holds one while the sandbox is in use.
pub struct Renewer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Renewer {
    /// Starts renewing `locks` in a thread (nothing when there are none).
    pub fn start(main: &Main, locks: &[String]) -> Renewer {
        if locks.is_empty() {
            return Renewer {
                stop: None,
                thread: None,
            };
        }
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let ttl = ttl(main);
        let tree = main.tree.clone();
        let locks = locks.to_vec();
        let thread = std::thread::spawn(move || {
            let every = ttl / 3;
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                if let Ok(main) = Main::discover(&tree) {
                    let _ = renew(&main, &locks, ttl);
                }
            }
        });
        Renewer {
            stop: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Renewer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The error a face reports when a release failed: which locks, and why.
pub fn failure(what: &str, r: &Released) -> Error {
    let reasons: Vec<String> = r.failed.iter().map(|(l, why)| format!("{l}: {why}")).collect();
    Error::Failed {
        message: format!("{what}, but could not release its locks: {}", reasons.join("; ")),
        hint: format!(
            "`git lock release {}` tries again; `git lock status` shows the lease; `--keep-locks` leaves them on purpose",
            r.failed.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>().join(" ")
        ),
    }
}
