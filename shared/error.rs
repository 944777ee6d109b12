//! The library's error type: what went wrong, with enough context for the CLI to say what to do.
//! The CLI layer (`cli::CommandError`) turns these into messages, hints and exit codes.

use std::path::PathBuf;

use crate::event::{DecodeError, VerifyError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a git repository (or any of the parent directories): {}", path.display())]
    NotARepo { path: PathBuf },
    #[error("git: {0}")]
    Git(#[from] gix::Error),
    #[error("this repository stores its refs as '{format}'; grit supports git's files and reftable backends")]
    UnsupportedRefFormat { format: String },
    #[error("index at {}: {source}", path.display())]
    Index { path: PathBuf, source: heed::Error },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Input the user can correct; the CLI exits with the usage code.
    #[error("{message}")]
    Invalid { message: String, hint: Option<String> },
    /// A service this ran against (GitHub's API) refused or failed: not the caller's input.
    #[error("{message}")]
    Remote { message: String, hint: String },
    /// An operation that could not be done, for a reason the message names (not the caller's
    /// input): a lock that would not release, say.
    #[error("{message}")]
    Failed { message: String, hint: String },
    /// A real content conflict: two changes to the same lines. Nothing was changed, and the work
    /// that conflicts is intact where it was.
    #[error("{message}")]
    Conflict {
        message: String,
        hint: String,
        /// The files that conflict, as git names them.
        files: Vec<String>,
    },
    /// A lease someone else holds stands in the way: `message` names the first holder, `causes`
    /// the others.
    #[error("{message}")]
    Locked {
        message: String,
        causes: Vec<String>,
        hints: Vec<String>,
    },
    /// A query (the `-S` language) that does not parse; `column` counts characters from 1.
    #[error("the query does not parse at column {column}: {message}")]
    Query {
        text: String,
        column: usize,
        message: String,
    },
    #[error("no {what} matches '{query}'")]
    NotFound { what: &'static str, query: String },
    #[error("'{prefix}' is ambiguous: it matches {} {what}s", candidates.len())]
    Ambiguous {
        what: &'static str,
        prefix: String,
        candidates: Vec<String>,
    },
    #[error("cannot create an actor: {missing} is not set")]
    NoIdentity { missing: &'static str },
    #[error("commit {commit} on {reference} holds a malformed chunk: {source}")]
    Corrupt {
        reference: String,
        commit: String,
        source: DecodeError,
    },
    #[error("commit {commit} on {reference} cannot be read: {why}")]
    MissingObject {
        reference: String,
        commit: String,
        why: String,
    },
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error("the Lamport clock has reached {lamport}, the format's bound; nothing was written")]
    ClockExhausted { lamport: u64 },
    #[error("`{command}` failed: {stderr}")]
    Subprocess { command: String, stderr: String },
    #[error("cannot update {reference}: {} exists", lock.display())]
    RefLocked { reference: String, lock: PathBuf },
    #[error("{reference} kept moving while {what}; gave up after {attempts} attempts")]
    Contention {
        reference: String,
        what: &'static str,
        attempts: u32,
    },
}

impl Error {
    pub fn invalid(message: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Invalid {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// Whether this is the index's file failing to read as LMDB wrote it (a cache to rebuild).
    pub fn is_index_damage(&self) -> bool {
        use heed::MdbError as M;
        matches!(
            self,
            Error::Index {
                source: heed::Error::Mdb(
                    M::Corrupted
                        | M::PageNotFound
                        | M::Invalid
                        | M::VersionMismatch
                        | M::BadTxn
                        | M::BadValSize
                        | M::BadDbi
                ) | heed::Error::Decoding(_),
                ..
            }
        )
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
