//! Fixtures the integration tests and the benchmarks share: logs written in-process, as a team
//! would have written them over time, in a fraction of the time the commands would take.

use std::path::Path;

use ed25519_dalek::SigningKey;

use crate::actor::{self, Actor, Record};
use crate::error::Result;
use crate::event::{ActorId, Event, FORMAT_VERSION, Kind};
use crate::repo::Repo;

/// Writes `n` actors into the repository at `dir`, each with its record published and one issue
/// in its WAL ref (`agent-<i>`, keys derived from `i`, so every run writes the same log).
pub fn many_actors(dir: &Path, n: usize) -> Result<()> {
    let repo = Repo::discover(dir)?;
    let when = 1_763_700_000_000;
    for i in 0..n {
        let key = SigningKey::from_bytes(&crate::event::blake2b256(format!("agent {i}").as_bytes()));
        let actor = Actor {
            label: format!("agent-{i}"),
            record: Record {
                id: ActorId(key.verifying_key().to_bytes()),
                name: format!("Agent {i}"),
                email: format!("agent{i}@example.com"),
                created_ms: when,
            },
            key,
        };
        actor::publish(&repo, &actor)?;
        let ev = Event {
            version: FORMAT_VERSION,
            entity: None,
            actor: actor.id(),
            lamport: 1,
            wall_ms: when,
            parents: vec![],
            kind: Kind::IssueCreated {
                title: format!("from agent {i}"),
                body: String::new(),
                labels: vec![],
            },
        }
        .sign(&actor.key);
        crate::wal::append(&repo, &actor.id(), &actor.author(when), &[ev])?;
    }
    Ok(())
}
