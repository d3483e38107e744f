//! The `backups` binary: parse, run, map the outcome to an exit code. A closed stdout
//! (`| head`) is success.

use std::process::ExitCode;

use backups::commands;

fn main() -> ExitCode {
    match commands::run(backups::cli::parse()) {
        Ok(outcome) => outcome.into(),
        Err(err) if commands::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("backups: {}", commands::message(&err));
            commands::outcome_of(&err).into()
        }
    }
}
