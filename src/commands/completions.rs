//! `backups completions SHELL`: a static completion script (subcommands, flags and every value
//! from a closed set). Account names for `-a` need the dynamic script instead
//! (`COMPLETE=bash backups`, see [`crate::cli::parse`]), which asks the binary at each Tab.

use clap_complete::Shell;

use super::context::write_stdout;
use crate::cli;
use crate::error::Outcome;

/// Runs `backups completions SHELL`.
pub(crate) fn run(shell: Shell) -> anyhow::Result<Outcome> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cli::command(), "backups", &mut script);
    write_stdout(|out| out.write_all(&script))?;
    Ok(Outcome::Success)
}
