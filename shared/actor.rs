//! Actors: writer identities (a person on a device, or one agent), each an Ed25519 key pair.
//! Private keys stay in `<git-common-dir>/grit/actors/` (0600); public records are published at
//! `refs/grit/actors/<id>` so every clone can show names and verify signatures.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use ciborium::value::{Integer, Value};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

use crate::error::{Error, Result};
use crate::event::{ActorId, blake2b256, from_cbor, to_cbor};
use crate::refs;
use crate::repo::{Repo, now_ms};
use crate::wal;

/// Where actors publish their records: `refs/grit/actors/<actor id>`.
pub const ACTORS_PREFIX: &str = "refs/grit/actors/";
const RECORD_FILE: &str = "actor.cbor";
const DEFAULT_LABEL: &str = "default";

/// A local actor: its key and its public record.
pub struct Actor {
    /// Its label in this clone (`default`, `agent-1`).
    pub label: String,
    /// Its record.
    pub record: Record,
    /// Its signing key (kept in this clone only).
    pub key: SigningKey,
}

impl Actor {
    /// Its id: its public key.
    pub fn id(&self) -> ActorId {
        self.record.id
    }

    /// A git identity for the commits it writes at `time_ms`.
    pub fn author(&self, time_ms: u64) -> wal::Author<'_> {
        wal::Author {
            name: &self.record.name,
            email: &self.record.email,
            time_ms,
        }
    }
}

/// The public, self-signed description of an actor.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Record {
    /// The actor's id: its public key.
    #[serde(serialize_with = "ser_hex")]
    pub id: ActorId,
    /// The person's name.
    pub name: String,
    /// The person's email.
    pub email: String,
    /// When it was made (milliseconds since the epoch).
    pub created_ms: u64,
}

fn ser_hex<S: serde::Serializer>(id: &ActorId, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_hex())
}

impl Record {
    fn fields(&self) -> Vec<Value> {
        vec![
            Value::Integer(Integer::from(1u8)),
            Value::Bytes(self.id.0.to_vec()),
            Value::Text(self.name.clone()),
            Value::Text(self.email.clone()),
            Value::Integer(Integer::from(self.created_ms)),
        ]
    }

    /// `[1, public key, name, email, created_ms, signature of BLAKE2b-256 of the first five]`.
    pub fn encode(&self, key: &SigningKey) -> Vec<u8> {
        let mut fields = self.fields();
        let digest = blake2b256(&to_cbor(&Value::Array(fields.clone())));
        fields.push(Value::Bytes(key.sign(&digest).to_bytes().to_vec()));
        to_cbor(&Value::Array(fields))
    }

    /// Decodes a published record and checks its self-signature.
    pub fn decode(bytes: &[u8]) -> Option<Record> {
        let Value::Array(mut f) = from_cbor(bytes).ok()? else {
            return None;
        };
        if f.len() != 6 {
            return None;
        }
        let Value::Bytes(sig) = f.pop()? else {
            return None;
        };
        let text = |v: &Value| v.as_text().map(str::to_owned);
        let record = Record {
            id: ActorId::from_slice(f[1].as_bytes()?)?,
            name: text(&f[2])?,
            email: text(&f[3])?,
            created_ms: u64::try_from(f[4].as_integer()?).ok()?,
        };
        let digest = blake2b256(&to_cbor(&Value::Array(record.fields())));
        let key = VerifyingKey::from_bytes(&record.id.0).ok()?;
        key.verify(&digest, &ed25519_dalek::Signature::from_slice(&sig).ok()?)
            .ok()?;
        Some(record)
    }
}

fn actors_dir(repo: &Repo) -> PathBuf {
    repo.grit_dir.join("actors")
}

/// Labels name local actors: `GRIT_ACTOR=agent-7`. Letters, digits, `.`, `_`, `-`.
pub fn validate_label(label: &str) -> Result<()> {
    let ok = !label.is_empty()
        && label.len() <= 64
        && !label.starts_with(['-', '.'])
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            format!("'{label}' is not a valid actor label"),
            "use 1-64 letters, digits, '.', '_' or '-', not starting with '-' or '.'",
        ))
    }
}

fn encode_private(label: &str, key: &SigningKey, record: &Record) -> Vec<u8> {
    to_cbor(&Value::Array(vec![
        Value::Integer(Integer::from(1u8)),
        Value::Text(label.to_owned()),
        Value::Bytes(key.to_bytes().to_vec()),
        Value::Text(record.name.clone()),
        Value::Text(record.email.clone()),
        Value::Integer(Integer::from(record.created_ms)),
    ]))
}

fn decode_private(bytes: &[u8]) -> Option<Actor> {
    let Value::Array(f) = from_cbor(bytes).ok()? else {
        return None;
    };
    if f.len() != 6 {
        return None;
    }
    let secret: [u8; 32] = f[2].as_bytes()?.as_slice().try_into().ok()?;
    let key = SigningKey::from_bytes(&secret);
    Some(Actor {
        label: f[1].as_text()?.to_owned(),
        record: Record {
            id: ActorId(key.verifying_key().to_bytes()),
            name: f[3].as_text()?.to_owned(),
            email: f[4].as_text()?.to_owned(),
            created_ms: u64::try_from(f[5].as_integer()?).ok()?,
        },
        key,
    })
}

fn load(repo: &Repo, label: &str) -> Result<Option<Actor>> {
    let path = actors_dir(repo).join(format!("{label}.key"));
    match fs::read(&path) {
        Ok(bytes) => decode_private(&bytes).map(Some).ok_or_else(|| {
            Error::invalid(
                format!("the key file {} is damaged", path.display()),
                "restore it from a backup, or move it away and run `git wal actor new` to start a new actor",
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io { path, source: e }),
    }
}

/// Every actor with a private key in this repository, sorted by label.
pub fn list_local(repo: &Repo) -> Result<Vec<Actor>> {
    let dir = actors_dir(repo);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Io { path: dir, source: e });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let name = entry.map_err(Error::io(&dir))?.file_name();
        if let Some(label) = name.to_str().and_then(|n| n.strip_suffix(".key")) {
            out.extend(load(repo, label)?);
        }
    }
    out.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(out)
}

/// The private key files of this repository's actors.
pub fn key_files(repo: &Repo) -> Result<Vec<PathBuf>> {
    let dir = actors_dir(repo);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::Io { path: dir, source: e }),
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "key"))
        .collect();
    out.sort();
    Ok(out)
}

fn new_key(label: &str) -> Result<SigningKey> {
    // Tests and reproducible demos pin keys; everyone else gets fresh randomness.
    let secret = match std::env::var("GRIT_TEST_SEED") {
        Ok(seed) => blake2b256(format!("grit test key\0{seed}\0{label}").as_bytes()),
        Err(_) => {
            let mut s = [0u8; 32];
            getrandom::getrandom(&mut s).map_err(|e| Error::Io {
                path: "/dev/urandom".into(),
                source: std::io::Error::other(e.to_string()),
            })?;
            s
        }
    };
    Ok(SigningKey::from_bytes(&secret))
}

/// Creates a local actor and publishes its record. If another process created the same label
/// at the same moment, that one wins and is returned.
pub fn create(repo: &Repo, label: &str, name: &str, email: &str) -> Result<Actor> {
    validate_label(label)?;
    let key = new_key(label)?;
    let record = Record {
        id: ActorId(key.verifying_key().to_bytes()),
        name: name.into(),
        email: email.into(),
        created_ms: now_ms(),
    };
    let dir = actors_dir(repo);
    fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    let path = dir.join(format!("{label}.key"));
    // Unique per thread too: a server creates actors for several sessions at once.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{label}.{}.{seq}.tmp", std::process::id()));
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(Error::io(&tmp))?;
        f.write_all(&encode_private(label, &key, &record))
            .map_err(Error::io(&tmp))?;
        f.sync_all().map_err(Error::io(&tmp))?;
    }
    // A hard link never replaces an existing file: exactly one creator of a label wins.
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return load(repo, label)?.ok_or_else(|| Error::Io { path, source: e });
        }
        Err(e) => return Err(Error::Io { path, source: e }),
    }
    let actor = Actor {
        label: label.to_owned(),
        record,
        key,
    };
    publish(repo, &actor)?;
    Ok(actor)
}

/// Writes the public record to `refs/grit/actors/<id>` unless it is already there.
/// Returns the record's commit when this call created the ref, `None` when it was there.
pub fn publish(repo: &Repo, actor: &Actor) -> Result<Option<gix::ObjectId>> {
    let name = format!("{ACTORS_PREFIX}{}", actor.id());
    if refs::ref_tip(repo, &name)?.is_some() {
        return Ok(None);
    }
    let tree = wal::write_single_file_tree(repo, RECORD_FILE, &actor.record.encode(&actor.key))?;
    let commit = wal::write_commit(repo, tree, &[], &actor.author(actor.record.created_ms), "grit: actor")?;
    // Losing this race means someone published the same record: nothing to do.
    Ok(match refs::swap_ref(repo, &name, None, commit)? {
        refs::Swap::Done => Some(commit),
        refs::Swap::Moved => None,
    })
}

/// Reads a published record from the tip of an actor ref.
pub fn read_record(repo: &Repo, commit: gix::ObjectId) -> Result<Option<Record>> {
    let tree = repo.git.find_commit(commit)?.tree()?;
    let Some(entry) = tree.find_entry(RECORD_FILE) else {
        return Ok(None);
    };
    let blob = repo.git.find_blob(entry.object_id())?;
    Ok(Record::decode(&blob.data))
}

/// Which of a person's actors `id` is: its local label (`agent-1`), or, for an actor of another
/// clone, the start of its id. A record names the person; every agent of theirs shares it.
pub fn which(repo: &Repo, id: &ActorId) -> String {
    type Labels = (Option<std::time::SystemTime>, Vec<(ActorId, String)>);
    thread_local! {
        static LOCAL: std::cell::RefCell<Option<Labels>> = const { std::cell::RefCell::new(None) };
    }
    // Read again when the actors' directory changed: a server runs for long, and makes actors.
    let stamp = fs::metadata(actors_dir(repo)).and_then(|m| m.modified()).ok();
    let label = LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        if l.as_ref().is_none_or(|(at, _)| *at != stamp) {
            let list = list_local(repo)
                .unwrap_or_default()
                .into_iter()
                .map(|a| (a.id(), a.label))
                .collect();
            *l = Some((stamp, list));
        }
        let (_, list) = l.as_ref().expect("filled above");
        list.iter().find(|(a, _)| a == id).map(|(_, label)| label.clone())
    });
    label.unwrap_or_else(|| format!("actor {}", &id.to_hex()[..8]))
}

thread_local! {
    static ACTING_AS: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread writing as the local actor `label` (created from git's identity
/// on first use), whatever `GRIT_ACTOR` says: a server that acts for many agents runs each
/// one's request under its own actor. The label is checked first.
pub fn acting_as<T>(label: &str, f: impl FnOnce() -> T) -> Result<T> {
    validate_label(label)?;
    struct Restore(Option<String>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ACTING_AS.with(|a| *a.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(ACTING_AS.with(|a| a.borrow_mut().replace(label.to_owned())));
    Ok(f())
}

/// The label this thread writes as: the one `acting_as` set, else `GRIT_ACTOR`, else
/// `grit.actor`, else "default".
pub fn selected_label(repo: &Repo) -> String {
    if let Some(label) = ACTING_AS.with(|a| a.borrow().clone()) {
        return label;
    }
    std::env::var("GRIT_ACTOR")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| repo.config_string("grit.actor"))
        .unwrap_or_else(|| DEFAULT_LABEL.to_owned())
}

/// Finds a local actor by label, by its full id, or by a unique prefix of its id written
/// `id:<prefix>`. A label is only ever a label: one that looks like hex never names another
/// actor whose id it happens to start.
pub fn find(repo: &Repo, query: &str) -> Result<Option<Actor>> {
    let (q, prefix) = match query.strip_prefix("id:") {
        Some(p) => (p.to_ascii_lowercase(), true),
        None => {
            if validate_label(query).is_ok()
                && let Some(a) = load(repo, query)?
            {
                return Ok(Some(a));
            }
            (query.to_ascii_lowercase(), false)
        }
    };
    if !prefix && ActorId::from_hex(&q).is_none() {
        return Ok(None);
    }
    let mut matches: Vec<Actor> = list_local(repo)?
        .into_iter()
        .filter(|a| a.id().to_hex().starts_with(&q))
        .collect();
    match matches.len() {
        0 => Ok(None),
        1 => Ok(matches.pop()),
        _ => Err(Error::Ambiguous {
            what: "actor",
            prefix: query.to_owned(),
            candidates: matches.iter().map(|a| format!("{} {}", a.id(), a.label)).collect(),
        }),
    }
}

/// The actor this process writes as, created from git's identity on first use.
pub fn current(repo: &Repo) -> Result<Actor> {
    let label = selected_label(repo);
    if let Some(actor) = find(repo, &label)? {
        return Ok(actor);
    }
    validate_label(&label)?;
    let (name, email) = repo.identity()?;
    create(repo, &label, &name, &email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_self_signed() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let record = Record {
            id: ActorId(key.verifying_key().to_bytes()),
            name: "Ann".into(),
            email: "a@x".into(),
            created_ms: 9,
        };
        let bytes = record.encode(&key);
        assert_eq!(Record::decode(&bytes), Some(record.clone()));
        let other = SigningKey::from_bytes(&[4; 32]);
        assert_eq!(
            Record::decode(&record.encode(&other)),
            None,
            "a record signed by another key is rejected"
        );
    }

    #[test]
    fn labels_are_validated() {
        for ok in ["default", "agent-7", "a.b_c"] {
            assert!(validate_label(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", ".x", "a/b", "a b", "ü"] {
            assert!(validate_label(bad).is_err(), "{bad}");
        }
    }
}
