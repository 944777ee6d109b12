//! The operations tier: what a user can do, as typed functions that every face calls (the CLI,
//! the terminal UI, the daemon's socket, MCP, the web). An operation takes typed arguments and
//! returns a typed result or an [`Error`](crate::Error) with a hint; it prints nothing, picks no
//! exit code and installs no signal handler. What a person should hear besides comes back as
//! notes and warnings in the result. A rule (who may close, when a claim counts, what isolation
//! a run gets) lives here once.

pub mod agents;
pub mod graph;
pub mod issues;
pub mod locks;
pub mod merge_plan;
pub mod prime;
pub mod query;
pub mod resolve;
pub mod sandboxes;
pub mod show;
pub mod squash;
pub mod suggest;

pub use issues::{Edit, Issues, LinkChange, NewIssue, StateChange, Written};
pub use locks::Claim;
pub use sandboxes::Sandboxes;
