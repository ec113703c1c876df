//! The `appsweep` binary: parse the command line, run the command, exit with its outcome.
//! Everything else lives in the library (`appsweep::commands` is the entry point).

use appsweep::cli::Cli;
use appsweep::exit::Outcome;
use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match appsweep::commands::run(cli) {
        Ok(outcome) => outcome.into(),
        Err(err) => {
            // A closed pipe (`appsweep ... | head`) is a normal end, not an error.
            let broken_pipe = err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return std::process::ExitCode::SUCCESS;
            }
            appsweep::report::message(&format!("error: {err:#}"));
            Outcome::Usage.into()
        }
    }
}
