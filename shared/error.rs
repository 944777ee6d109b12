//! The library's error type: what went wrong, with enough context for the CLI to say what to do.
//! The CLI layer (`cli::CommandError`) turns these into messages, hints and exit codes.

use std::path::PathBuf;

use crate::event::{DecodeError, VerifyError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Exit codes, documented in every man page; the socket and MCP report them too.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const LOCK_CONFLICT: u8 = 3;
    pub const VERIFY_FAILED: u8 = 4;
    /// A content conflict (`git sandbox land`): nothing was changed, the sandbox is intact.
    pub const CONFLICT: u8 = 5;
}

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

    /// A failed subprocess's error, named by `command` (shorter than the command line it ran).
    pub fn for_command(self, command: &str) -> Error {
        match self {
            Error::Subprocess { stderr, .. } => Error::Subprocess {
                command: command.to_owned(),
                stderr,
            },
            other => other,
        }
    }

    /// Whether a write found the index's map full (MDB_MAP_FULL).
    pub fn is_map_full(&self) -> bool {
        matches!(
            self,
            Error::Index {
                source: heed::Error::Mdb(heed::MdbError::MapFull),
                ..
            }
        )
    }

    /// The exit code a command that fails with this error gives (the socket and MCP report it
    /// too).
    pub fn exit_code(&self) -> u8 {
        self.advice().0
    }

    /// What to do about it: the `hint:` lines every face shows.
    pub fn hints(&self) -> Vec<String> {
        self.advice().1.into_iter().filter(|h| !h.is_empty()).collect()
    }

    /// The lines under the message: the error's sources where the message does not say them
    /// already, a query with a caret under the column, the other holders of a lock.
    pub fn causes(&self) -> Vec<String> {
        if let Error::Locked { causes, .. } = self {
            return causes.clone();
        }
        if let Error::Query { text, column, .. } = self {
            let caret = format!("{}^", " ".repeat(column.saturating_sub(1)));
            return vec![format!("  {}", crate::text::esc(text)), format!("  {caret}")];
        }
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            let text = s.to_string();
            if !self.to_string().contains(&text) {
                causes.push(text);
            }
            source = s.source();
        }
        causes
    }

    fn advice(&self) -> (u8, Vec<String>) {
        match self {
            Error::NotARepo { .. } => (
                exit::FAILURE,
                vec!["run this inside a git repository, or create one with `git init`".into()],
            ),
            Error::Invalid { hint, .. } => (exit::USAGE, hint.iter().cloned().collect()),
            Error::Remote { hint, .. } | Error::Failed { hint, .. } => (exit::FAILURE, vec![hint.clone()]),
            Error::Conflict { hint, files, .. } => {
                let mut h: Vec<String> = files.iter().map(|f| format!("conflict in {f}")).collect();
                h.push(hint.clone());
                (exit::CONFLICT, h)
            }
            Error::UnsupportedRefFormat { .. } => (
                exit::FAILURE,
                vec![
                    "nothing was read or written; a clone made with `git clone --ref-format=files` (or reftable) works".into(),
                ],
            ),
            Error::Locked { hints, .. } => (exit::LOCK_CONFLICT, hints.clone()),
            Error::Query { .. } => (
                exit::USAGE,
                vec!["`git issue list --help` describes queries (-S); quote a phrase as '\"two words\"'".into()],
            ),
            Error::NotFound { what, .. } => (exit::FAILURE, vec![format!("`git {what} list` shows what there is")]),
            Error::Ambiguous { candidates, .. } => {
                let mut h = vec!["use more characters of the id; candidates:".to_owned()];
                h.extend(candidates.iter().map(|c| format!("  {c}")));
                (exit::USAGE, h)
            }
            Error::NoIdentity { missing } => (
                exit::FAILURE,
                vec![format!(
                    "tell git who you are: `git config {missing} \"{}\"` (add --global for every repository)",
                    if *missing == "user.name" {
                        "Your Name"
                    } else {
                        "you@example.com"
                    }
                )],
            ),
            e @ Error::Index { .. } if e.is_map_full() => (
                exit::FAILURE,
                vec![
                    "the index needs more address space than this process may map: raise `ulimit -v`, or run it where there is no such limit"
                        .into(),
                ],
            ),
            Error::Index { .. } => (
                exit::FAILURE,
                vec!["the index is a cache: `git wal rebuild` recreates it from the refs".into()],
            ),
            Error::Corrupt { .. } => (
                exit::VERIFY_FAILED,
                vec!["`git wal log` shows the readable events; fetch the ref again from a healthy clone".into()],
            ),
            Error::Verify(_) => (exit::VERIFY_FAILED, vec![]),
            Error::MissingObject { reference, .. } => (
                exit::FAILURE,
                vec![
                    format!(
                        "an object of {reference} is missing or damaged; `git fetch` brings it back from a clone that has it \
                         (its remote-tracking copy under refs/grit/remotes/)"
                    ),
                    "`git wal rebuild` (without --full) starts from a snapshot that covers it, if there is one".into(),
                ],
            ),
            Error::Subprocess { command, stderr }
                if command.starts_with("git fetch") || command.starts_with("git push") =>
            {
                let mut h = vec![if stderr.contains("cannot lock ref") || stderr.contains("Unable to create") {
                    "another git process (a plain `git fetch` or `git push`, or another tool) was updating the same \
                     refs of this clone at that moment; try again"
                        .into()
                } else {
                    "is the remote reachable? `git remote -v` lists it; `git fetch REMOTE` shows git's own view".into()
                }];
                if command.contains("lock") {
                    h.push("`--local` takes the lease in this repository only".into());
                }
                (exit::FAILURE, h)
            }
            Error::RefLocked { .. } => (
                exit::FAILURE,
                vec![
                    "another grit or git process is updating that ref; try again".into(),
                    format!(
                        "a lock left by a crash: a write takes over its own ref's lock once it is {} s old \
                         and unchanged, and `git wal doctor --fix` removes any such lock",
                        crate::refs::STALE_LOCK_AGE.as_secs()
                    ),
                ],
            ),
            Error::ClockExhausted { .. } => (
                exit::FAILURE,
                vec!["an event carries a clock at the bound; `git wal log --json` shows the largest `lamport` and who wrote it".into()],
            ),
            Error::Contention { .. } => (
                exit::FAILURE,
                vec!["many writers share this actor; give each its own with GRIT_ACTOR=<label>".into()],
            ),
            _ => (exit::FAILURE, vec![]),
        }
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
