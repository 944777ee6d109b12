//! Integration tests: the built binaries against real temporary repositories, with real git.
//! One test binary (a module per tool) so linking happens once.

mod action;
mod agents;
mod bridge;
mod docs;
mod env;
mod faces;
mod gitlab;
mod hooks;
mod issue;
mod jira;
mod live;
mod lock;
mod mcp;
mod queue;
mod release;
mod remote;
mod sandbox;
mod scale;
mod seams;
mod sync;
mod team;
mod transfer;
mod trust;
mod tui;
mod wal;
mod web;
