//! The library's error type: what went wrong, with enough context for the CLI to say what to do.
//! The CLI layer (`cli::CommandError`) turns these into messages, hints and exit codes.

use std::path::PathBuf;

use crate::event::{DecodeError, VerifyError};

/// The library's result: [`Error`] unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Exit codes, documented in every man page; the socket and MCP report them too.
pub mod exit {
    /// It worked.
    pub const OK: u8 = 0;
    /// It failed for a reason the message names (not the caller's input).
    pub const FAILURE: u8 = 1;
    /// The input was wrong: a bad argument, an unknown id, a query that does not parse.
    pub const USAGE: u8 = 2;
    /// A lease someone else holds stands in the way.
    pub const LOCK_CONFLICT: u8 = 3;
    /// A signature, a provenance record or a check did not verify.
    pub const VERIFY_FAILED: u8 = 4;
    /// A content conflict (`git sandbox land`): nothing was changed, the sandbox is intact.
    pub const CONFLICT: u8 = 5;
}

/// Everything the library can fail with. [`Error::exit_code`] and [`Error::hints`] say what a face
/// does with each.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No git repository contains the directory.
    #[error("not a git repository (or any of the parent directories): {}", path.display())]
    NotARepo {
        /// Where the search started.
        path: PathBuf,
    },
    /// git (through gix) failed.
    #[error("git: {0}")]
    Git(#[from] gix::Error),
    /// The repository keeps its refs in a form grit does not read.
    #[error("this repository stores its refs as '{format}'; grit supports git's files and reftable backends")]
    UnsupportedRefFormat {
        /// The format git config names (`extensions.refStorage`).
        format: String,
    },
    /// The index (LMDB) failed.
    #[error("index at {}: {source}", path.display())]
    Index {
        /// The index's directory.
        path: PathBuf,
        /// What LMDB said.
        source: heed::Error,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Input the user can correct; the CLI exits with the usage code.
    #[error("{message}")]
    Invalid {
        /// What is wrong with it.
        message: String,
        /// How to put it right.
        hint: Option<String>,
    },
    /// A service this ran against (GitHub's API) refused or failed: not the caller's input.
    #[error("{message}")]
    Remote {
        /// What the service said, in a sentence.
        message: String,
        /// What to check or do.
        hint: String,
    },
    /// An operation that could not be done, for a reason the message names (not the caller's
    /// input): a lock that would not release, say.
    #[error("{message}")]
    Failed {
        /// What could not be done, and why.
        message: String,
        /// What to do.
        hint: String,
    },
    /// A real content conflict: two changes to the same lines. Nothing was changed, and the work
    /// that conflicts is intact where it was.
    #[error("{message}")]
    Conflict {
        /// What conflicts, in a sentence.
        message: String,
        /// What to do.
        hint: String,
        /// The files that conflict, as git names them.
        files: Vec<String>,
    },
    /// A lease someone else holds stands in the way: `message` names the first holder, `causes`
    /// the others.
    #[error("{message}")]
    Locked {
        /// The first holder, and what they hold.
        message: String,
        /// The other holders.
        causes: Vec<String>,
        /// What to do (wait, ask the holder, `--force` for an abandoned lease).
        hints: Vec<String>,
    },
    /// A query (the `-S` language) that does not parse; `column` counts characters from 1.
    #[error("the query does not parse at column {column}: {message}")]
    Query {
        /// The query as given.
        text: String,
        /// Where it stops parsing, in characters from 1.
        column: usize,
        /// What was expected there.
        message: String,
    },
    /// Nothing matches a name or id.
    #[error("no {what} matches '{query}'")]
    NotFound {
        /// What was looked for (`issue`, `sandbox`, `view`…).
        what: &'static str,
        /// The name or id given.
        query: String,
    },
    /// An id prefix matches more than one.
    #[error("'{prefix}' is ambiguous: it matches {} {what}s", candidates.len())]
    Ambiguous {
        /// What was looked for.
        what: &'static str,
        /// The prefix given.
        prefix: String,
        /// What it matches, each as a line a person can choose from.
        candidates: Vec<String>,
    },
    /// An actor cannot be made without a name and an email.
    #[error("cannot create an actor: {missing} is not set")]
    NoIdentity {
        /// The git setting missing (`user.name` or `user.email`).
        missing: &'static str,
    },
    /// A WAL commit's chunk does not decode.
    #[error("commit {commit} on {reference} holds a malformed chunk: {source}")]
    Corrupt {
        /// The ref it was read from.
        reference: String,
        /// The commit, in hex.
        commit: String,
        /// What the decoder found.
        source: DecodeError,
    },
    /// A WAL commit, or an object it needs, is not in the object database.
    #[error("commit {commit} on {reference} cannot be read: {why}")]
    MissingObject {
        /// The ref it was read from.
        reference: String,
        /// The commit, in hex.
        commit: String,
        /// What git said.
        why: String,
    },
    /// An event's signature or structure does not check.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The Lamport clock would pass the format's bound.
    #[error("the Lamport clock has reached {lamport}, the format's bound; nothing was written")]
    ClockExhausted {
        /// The clock reached.
        lamport: u64,
    },
    /// A program grit ran (git, where gix has no support) failed.
    #[error("`{command}` failed: {stderr}")]
    Subprocess {
        /// The command line.
        command: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A ref's lock file is held (a git or grit process is writing it, or one died doing so).
    #[error("cannot update {reference}: {} exists", lock.display())]
    RefLocked {
        /// The ref.
        reference: String,
        /// Its lock file.
        lock: PathBuf,
    },
    /// A ref changed under each of several attempts to update it.
    #[error("{reference} kept moving while {what}; gave up after {attempts} attempts")]
    Contention {
        /// The ref.
        reference: String,
        /// What was being done (`appending events`…).
        what: &'static str,
        /// How many attempts were made.
        attempts: u32,
    },
}

impl Error {
    /// Input the user can correct, with how to correct it.
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

    /// For `map_err`: an I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
