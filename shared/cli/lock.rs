//! `git lock`: team-wide lease locks stored in refs (not implemented yet: prints its usage).
//! The clap definition lives here so the man page and completions already exist.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use super::{CommandError, GlobalArgs, Ui, main_with};

/// Lease locks on paths, issues or the whole repository
///
/// Locks are shared through the remote, without a server.
///
/// Not implemented in this version: the command only prints this help.
#[derive(Debug, Parser)]
#[command(name = "git-lock", bin_name = "git lock", version, after_help = super::EXIT_STATUS_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
}

pub fn main() -> ExitCode {
    main_with(run, |c: &Cli| &c.global)
}

pub fn run(_cli: Cli, _ui: &mut Ui) -> Result<(), CommandError> {
    Cli::command().print_help()?;
    Err(CommandError::usage(
        "`git lock` is not implemented in this version",
        "see `git issue list` of the grit project for its status",
    ))
}
