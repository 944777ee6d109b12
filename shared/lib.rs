//! grit: a team's and its coding agents' coordination state, kept inside the git repository.
//!
//! The engine (events, WAL, index, issues) knows nothing of the terminal; `cli` holds the
//! command-line front ends that the `git-*` binaries call.
//!
//! `unsafe` is denied everywhere but in `sys` (the platform calls), the index's fault guard, and
//! the few items of the index that call LMDB's own `unsafe` API (opening and resizing its map,
//! appending in order, dropping mapped pages), each allowed by name. Every public item is
//! documented (`missing_docs` is denied).
//!
//! # Embedding
//!
//! A program opens a [`store::Store`] and calls the operations tier ([`ops`]), as every face
//! does; nothing is printed, and no signal handler or daemon is installed (`arm_binary` is for
//! grit's own binaries):
//!
//! ```
//! # fn main() -> grit::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let git = |args: &[&str]| {
//! #     let ok = std::process::Command::new("git").arg("-C").arg(dir.path()).args(args).status();
//! #     assert!(ok.unwrap().success());
//! # };
//! # git(&["init", "-q"]);
//! # git(&["config", "user.name", "Ada Lovelace"]);
//! # git(&["config", "user.email", "ada@example.com"]);
//! # git(&["commit", "-q", "--allow-empty", "-m", "init"]);
//! use grit::ops::{Issues, NewIssue, query};
//! use grit::store::Store;
//!
//! let store = Store::open(dir.path())?;
//! let mut new = NewIssue::titled("Fix the parser");
//! new.labels = vec!["bug".into()];
//! let made = Issues::new(&store).create(&new)?;
//!
//! let found = query::ready(&store, &query::parse(&store, None, Some("label:bug"))?, 10)?;
//! assert_eq!(found.hits[0].id, made.id);
//!
//! // Every event of the issue, with what its signature vouches for.
//! let history = grit::ops::show::timeline(&store, &made.id)?;
//! assert_eq!(history[0].what, "opened the issue “Fix the parser”");
//! # Ok(())
//! # }
//! ```

#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod actor;
pub mod cbor;
/// The command-line faces the `git-*` binaries call: not part of the library's API.
#[doc(hidden)]
pub mod cli;
pub mod error;
pub mod event;
pub mod feed;
#[doc(hidden)]
pub mod fixtures;
pub mod health;
pub mod hex;
pub mod hooks;
pub mod index;
pub mod interchange;
pub mod issue;
pub mod live;
pub mod lock;
pub mod loose;
pub mod maintenance;
pub mod mcp;
pub mod ops;
pub mod overrides;
pub mod parallel;
pub mod quarantine;
pub mod query;
pub mod refs;
pub mod repo;
pub mod rest;
pub mod retire;
pub mod sandbox;
pub mod serve;
pub mod snapshot;
pub mod store;
pub mod sync;
#[allow(unsafe_code)]
pub mod sys;
pub mod text;
pub mod trailers;
/// The terminal UI (`git issue tui`): a face, not part of the library's API.
#[doc(hidden)]
pub mod tui;
pub mod wal;
pub mod warnings;
pub mod web;

#[cfg(test)]
mod decode_props;

pub use error::{Error, Result};

/// The commit a grit binary was built from, when it knows (`--version` names it).
pub static COMMIT: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Arms what belongs to a grit binary's process, not to the library: the index's fault guard
/// (handlers for SIGBUS, SIGSEGV and SIGABRT that delete a damaged index and run the command
/// again), warnings printed to stderr as they come (`warnings`), the daemon's auto-start
/// (`grit.daemon.autoStart`), and the commit it was built from
/// (`commit`, empty when unknown). The `git-*` binaries call it first thing; a program that
/// embeds the library does not, and opening a store then installs no handler and starts no
/// process.
pub fn arm_binary(commit: &'static str) {
    if !commit.is_empty() {
        let _ = COMMIT.set(commit);
    }
    index::enable_fault_guard();
    warnings::to_stderr();
    store::on_open(live::daemon::auto_start);
}
