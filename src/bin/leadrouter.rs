//! The `leadrouter` command-line tool; see `leadrouter --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    leadrouter::runtime::init_tracing(false);
    match leadrouter::cli::run(leadrouter::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
