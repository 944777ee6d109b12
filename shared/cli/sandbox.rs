//! `git sandbox`: throw-away copies of the work tree (not implemented yet: prints its usage).
//! The clap definition lives here so the man page and completions already exist.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use super::{CommandError, GlobalArgs, Ui, main_with};

/// Run a command in a throw-away copy of the work tree
///
/// The copy is a worktree on its own branch; the result can be kept, committed or discarded.
///
/// Not implemented in this version: the command only prints this help.
#[derive(Debug, Parser)]
#[command(name = "git-sandbox", bin_name = "git sandbox", version, after_help = super::EXIT_STATUS_HELP)]
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
        "`git sandbox` is not implemented in this version",
        "see `git issue list` of the grit project for its status",
    ))
}
