//! Signed provenance of sandbox commits: the `Sandbox-Provenance:` trailer records how a
//! commit's tree was made (command, exit code, base, backend, isolation, tool versions, times)
//! and is signed with the actor's Ed25519 key over the record, which names the tree, so neither
//! the record nor the content can change without the signature failing. `docs/provenance.md`
//! is the format.

use ciborium::value::Value;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::event::{ActorId, from_cbor, to_cbor};

/// The trailer that carries the record on a sandbox commit.
pub const TRAILER: &str = "Sandbox-Provenance";
/// The version of the record this code writes.
pub const VERSION: u64 = 1;

/// What a sandbox commit's trailer says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    /// The record's version ([`VERSION`]).
    pub version: u64,
    /// The commit's tree: the content the record speaks for.
    pub tree: String,
    /// The commit the sandbox started from.
    pub base: String,
    /// The command that made the change.
    pub cmd: Vec<String>,
    /// Its exit code.
    pub exit_code: i64,
    /// The sandbox's backend.
    pub backend: String,
    /// none, bwrap or unshare.
    pub isolation: String,
    /// (tool, what `tool --version` printed first), sorted by tool.
    pub tools: Vec<(String, String)>,
    /// When the command started (milliseconds since the epoch).
    pub started_ms: u64,
    /// When it ended.
    pub ended_ms: u64,
    /// The signing actor's id, in hex.
    pub actor: String,
}

impl Provenance {
    /// The canonical CBOR the signature covers:
    /// `[version, tree, base, [cmd…], exit_code, backend, isolation, [[tool, version]…],
    ///   started_ms, ended_ms, actor]`, with ids as byte strings.
    fn encode(&self) -> Result<Vec<u8>> {
        let id = |hex: &str, what: &str| -> Result<Value> {
            crate::hex::decode(hex)
                .map(Value::Bytes)
                .ok_or_else(|| Error::invalid(format!("provenance: {what} is not hex"), "a bug; report it"))
        };
        let t = |s: &str| Value::Text(s.to_owned());
        Ok(to_cbor(&Value::Array(vec![
            Value::Integer(self.version.into()),
            id(&self.tree, "tree")?,
            id(&self.base, "base")?,
            Value::Array(self.cmd.iter().map(|c| t(c)).collect()),
            Value::Integer(self.exit_code.into()),
            t(&self.backend),
            t(&self.isolation),
            Value::Array(self.tools.iter().map(|(k, v)| Value::Array(vec![t(k), t(v)])).collect()),
            Value::Integer(self.started_ms.into()),
            Value::Integer(self.ended_ms.into()),
            id(&self.actor, "actor")?,
        ])))
    }

    fn decode(bytes: &[u8]) -> Option<Provenance> {
        let Value::Array(f) = from_cbor(bytes).ok()? else {
            return None;
        };
        let [
            version,
            tree,
            base,
            cmd,
            exit_code,
            backend,
            isolation,
            tools,
            started,
            ended,
            actor,
        ] = &f[..]
        else {
            return None;
        };
        let uint = |v: &Value| v.as_integer().and_then(|i| u64::try_from(i).ok());
        // Object ids only: 20 bytes (SHA-1) or 32 (SHA-256). Anyone can sign a record, so
        // nothing about it is taken on trust, lengths included.
        let hex = |v: &Value| {
            v.as_bytes()
                .filter(|b| matches!(b.len(), 20 | 32))
                .map(|b| crate::hex::encode(b))
        };
        let text = |v: &Value| v.as_text().map(str::to_owned);
        Some(Provenance {
            version: uint(version)?,
            tree: hex(tree)?,
            base: hex(base)?,
            cmd: cmd.as_array()?.iter().map(text).collect::<Option<_>>()?,
            exit_code: exit_code.as_integer().and_then(|i| i64::try_from(i).ok())?,
            backend: text(backend)?,
            isolation: text(isolation)?,
            tools: tools
                .as_array()?
                .iter()
                .map(|p| match p.as_array()?.as_slice() {
                    [k, v] => Some((text(k)?, text(v)?)),
                    _ => None,
                })
                .collect::<Option<_>>()?,
            started_ms: uint(started)?,
            ended_ms: uint(ended)?,
            actor: hex(actor)?,
        })
    }

    /// The trailer's value: the record and its signature, each base64url (no padding), joined
    /// by a dot.
    pub fn sign(&self, key: &SigningKey) -> Result<String> {
        let body = self.encode()?;
        let sig = key.sign(&body);
        Ok(format!("{}.{}", b64(&body), b64(&sig.to_bytes())))
    }
}

/// Why a trailer does not verify.
#[derive(Debug, Clone, PartialEq)]
pub enum Bad {
    /// It does not decode: what is wrong.
    Malformed(&'static str),
    /// The signature is not the named actor's over the record.
    Signature,
    /// The record speaks for another tree than the commit's.
    Tree {
        /// The tree the record names.
        recorded: String,
        /// The commit's tree.
        actual: String,
    },
    /// Signed by a key that is no actor of this repository: anyone can sign a record.
    UnknownSigner(String),
}

impl std::fmt::Display for Bad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bad::Malformed(why) => write!(f, "the trailer is malformed ({why})"),
            Bad::Signature => f.write_str("the signature does not match the record"),
            Bad::Tree { recorded, actual } => write!(
                f,
                "the record is for tree {}, the commit has tree {}",
                &recorded[..12.min(recorded.len())],
                &actual[..12.min(actual.len())]
            ),
            Bad::UnknownSigner(actor) => write!(
                f,
                "signed by an unknown key ({}): no actor of this repository, nor in grit.provenanceSigners",
                &actor[..12.min(actor.len())]
            ),
        }
    }
}

/// [`verify`], and that the key is one this repository knows: an actor whose record is
/// published here (`refs/grit/actors/`, or a remote's copy) or listed in
/// `grit.provenanceSigners` (actor ids or unique prefixes of them, comma- or space-separated).
pub fn verify_known(repo: &crate::repo::Repo, value: &str, tree: &str) -> std::result::Result<Provenance, Bad> {
    let p = verify(value, tree)?;
    if known_signer(repo, &p.actor) {
        Ok(p)
    } else {
        Err(Bad::UnknownSigner(p.actor))
    }
}

/// Whether `actor` (hex) signs provenance this repository trusts (see [`verify_known`]).
pub fn known_signer(repo: &crate::repo::Repo, actor: &str) -> bool {
    let listed = repo
        .git
        .config_snapshot()
        .strings("grit.provenanceSigners")
        .unwrap_or_default()
        .iter()
        .flat_map(|v| {
            v.to_string()
                .split([',', ' '])
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| s.len() >= 7)
                .collect::<Vec<_>>()
        })
        .any(|s| actor.starts_with(&s));
    listed || ActorId::from_hex(actor).is_some_and(|id| crate::lock::actor_record(repo, &id).is_some())
}

/// Checks a trailer value against the commit's tree; returns the record it signs.
pub fn verify(value: &str, tree: &str) -> std::result::Result<Provenance, Bad> {
    let (body, sig) = value.trim().split_once('.').ok_or(Bad::Malformed("no signature"))?;
    let body = unb64(body).ok_or(Bad::Malformed("the record is not base64url"))?;
    let sig = unb64(sig).ok_or(Bad::Malformed("the signature is not base64url"))?;
    let p = Provenance::decode(&body).ok_or(Bad::Malformed("the record does not decode"))?;
    let actor = ActorId::from_hex(&p.actor).ok_or(Bad::Malformed("no actor"))?;
    let key = VerifyingKey::from_bytes(&actor.0).map_err(|_| Bad::Malformed("the actor is not a key"))?;
    let sig: [u8; 64] = sig
        .try_into()
        .map_err(|_| Bad::Malformed("the signature is not 64 bytes"))?;
    key.verify(&body, &Signature::from_bytes(&sig))
        .map_err(|_| Bad::Signature)?;
    // Canonical form only: a record that re-encodes differently was not written by a signer.
    if p.encode().ok().as_deref() != Some(&body[..]) {
        return Err(Bad::Malformed("the record is not in canonical form"));
    }
    if p.tree != tree {
        return Err(Bad::Tree {
            recorded: p.tree.clone(),
            actual: tree.to_owned(),
        });
    }
    Ok(p)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn unb64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = B64.iter().position(|b| *b == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // Leftover bits must be zero padding, or the text is not an encoding this writes.
    (acc & ((1 << bits) - 1) == 0).then_some(out)
}

/// The versions of the tools `sandbox.provenanceTools` names (default: rustc, cargo, node,
/// python3, go), for those found on PATH: the first line each prints for `--version`.
pub fn tool_versions(names: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = names
        .iter()
        .filter_map(|n| {
            let o = std::process::Command::new(n)
                .arg("--version")
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
                .ok()?;
            let first = String::from_utf8_lossy(&o.stdout).lines().next()?.trim().to_owned();
            (o.status.success() && !first.is_empty()).then(|| (n.clone(), first))
        })
        .collect();
    out.sort();
    out
}

/// Finds the trailer's value in a commit message (the last one wins, as git reads trailers).
pub fn trailer_of(message: &str) -> Option<&str> {
    message
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(TRAILER).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &SigningKey) -> Provenance {
        Provenance {
            version: VERSION,
            tree: "aa".repeat(20),
            base: "bb".repeat(20),
            cmd: vec!["cargo".into(), "test".into()],
            exit_code: 0,
            backend: "copy".into(),
            isolation: "none".into(),
            tools: vec![("rustc".into(), "rustc 1.95.0".into())],
            started_ms: 1,
            ended_ms: 2,
            actor: ActorId(key.verifying_key().to_bytes()).to_hex(),
        }
    }

    #[test]
    fn base64url_round_trips() {
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(unb64(&b64(&bytes)), Some(bytes));
        }
        assert_eq!(b64(b"hello"), "aGVsbG8");
    }

    #[test]
    fn a_signed_record_verifies_and_any_change_does_not() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let p = record(&key);
        let v = p.sign(&key).unwrap();
        assert_eq!(verify(&v, &p.tree), Ok(p.clone()));
        assert!(matches!(verify(&v, &"cc".repeat(20)), Err(Bad::Tree { .. })));
        let mut other = p.clone();
        other.exit_code = 1;
        let forged = format!(
            "{}.{}",
            other.sign(&key).unwrap().split('.').next().unwrap(),
            v.split('.').nth(1).unwrap()
        );
        assert_eq!(verify(&forged, &p.tree), Err(Bad::Signature));
        let wrong_key = SigningKey::from_bytes(&[8; 32]);
        let by_other = format!(
            "{}.{}",
            v.split('.').next().unwrap(),
            p.sign(&wrong_key).unwrap().split('.').nth(1).unwrap()
        );
        assert_eq!(verify(&by_other, &p.tree), Err(Bad::Signature));
        assert!(matches!(verify("x", &p.tree), Err(Bad::Malformed(_))));
    }

    #[test]
    fn a_record_whose_base_or_tree_is_not_an_object_id_is_malformed() {
        let key = SigningKey::from_bytes(&[9; 32]);
        for base in ["abc0".to_owned(), "ab".repeat(12)] {
            let mut p = record(&key);
            p.base = base;
            let v = p.sign(&key).unwrap();
            assert!(matches!(verify(&v, &p.tree), Err(Bad::Malformed(_))), "{}", p.base);
        }
    }
}
