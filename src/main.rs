//! The `backups` binary: parse, run, map the outcome to an exit code. A closed stdout
//! (`| head`) is success.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = backups::cli::parse();
    match backups::app::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("backups: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
