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
        let actor = agent(i, when);
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

/// Agent `i`: its key derived from `i`, so every run writes the same log.
fn agent(i: usize, when: u64) -> Actor {
    let key = SigningKey::from_bytes(&crate::event::blake2b256(format!("agent {i}").as_bytes()));
    Actor {
        label: format!("agent-{i}"),
        record: Record {
            id: ActorId(key.verifying_key().to_bytes()),
            name: format!("Agent {i}"),
            email: format!("agent{i}@example.com"),
            created_ms: when,
        },
        key,
    }
}

/// Writes a long history into the repository at `dir`: `actors` agents, each with `per_actor`
/// events, one event per commit (as agents that each write one at a time leave it). Every other
/// event opens an issue, and the one after it comments on that issue. The commits go in through
/// one `git fast-import` (a pack, not millions of loose objects).
pub fn long_history(dir: &Path, actors: usize, per_actor: usize) -> Result<()> {
    use std::io::Write;
    let repo = Repo::discover(dir)?;
    let when = 1_763_700_000_000u64;
    let mut child = std::process::Command::new("git")
        .current_dir(dir)
        .args(["fast-import", "--quiet", "--done"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(crate::error::Error::io("git fast-import"))?;
    let io = |e: std::io::Error| crate::error::Error::io("git fast-import")(e);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, child.stdin.take().expect("piped"));
    let mut lamport = 0u64;
    let mut mark = 0u64;
    for a in 0..actors {
        let actor = agent(a, when);
        actor::publish(&repo, &actor)?;
        let reference = crate::wal::wal_ref(&actor.id());
        let mut issue = None;
        let mut parent_mark = None;
        for j in 0..per_actor {
            lamport += 1;
            let wall_ms = when + lamport * 1000;
            let (entity, parents, kind) = match issue {
                Some((id, head)) if j % 2 == 1 => (
                    Some(id),
                    vec![head],
                    Kind::CommentAdded {
                        body: format!("progress on step {j}: the build passes on agent {a}"),
                    },
                ),
                _ => (
                    None,
                    vec![],
                    Kind::IssueCreated {
                        title: format!("task {j} of agent {a}"),
                        body: String::new(),
                        labels: vec![],
                    },
                ),
            };
            let ev = Event {
                version: FORMAT_VERSION,
                entity,
                actor: actor.id(),
                lamport,
                wall_ms,
                parents,
                kind,
            }
            .sign(&actor.key);
            issue = Some((entity.unwrap_or(ev.id), ev.id));
            let chunk = crate::wal::encode_chunk(&actor.id(), std::slice::from_ref(&ev));
            mark += 1;
            let blob = mark;
            write!(out, "blob\nmark :{blob}\ndata {}\n", chunk.len()).map_err(&io)?;
            out.write_all(&chunk).map_err(&io)?;
            mark += 1;
            let message = format!("grit: {}", ev.event.kind.name());
            let who = format!(
                "{} <{}> {} +0000",
                actor.record.name,
                actor.record.email,
                wall_ms / 1000
            );
            write!(
                out,
                "\ncommit {reference}\nmark :{mark}\nauthor {who}\ncommitter {who}\ndata {}\n{message}\n",
                message.len()
            )
            .map_err(&io)?;
            if let Some(p) = parent_mark {
                writeln!(out, "from :{p}").map_err(&io)?;
            }
            writeln!(out, "M 100644 :{blob} {}\n", crate::wal::CHUNK_FILE).map_err(&io)?;
            parent_mark = Some(mark);
        }
    }
    writeln!(out, "done").map_err(&io)?;
    drop(out);
    let status = child.wait().map_err(&io)?;
    if !status.success() {
        return Err(crate::error::Error::Subprocess {
            command: "git fast-import".into(),
            stderr: format!("exited with {status}"),
        });
    }
    Ok(())
}
