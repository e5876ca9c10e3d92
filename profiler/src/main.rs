//! `clprof` command-line entry: parse, set up logging, dispatch.

use std::process::ExitCode;

use clap::Parser as _;
use clprof::cli::{Cli, Command};

fn init_logging(verbose: u8) {
    let default = match verbose {
        // The TLS verifier logs each failed handshake as an error of its own; the pusher
        // already reports the first failure of a burst with its cause.
        0 => "warn,rustls_platform_verifier=off",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CLPROF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        // A launched command's exit code when it ended by itself.
        Command::Record(args) => {
            return exit(clprof::cmd::record::run(args, cli.verbose > 0, cli.quiet).await)
        }
        Command::Probes(args) => clprof::cmd::probes::run(&args),
        Command::Report(args) => clprof::cmd::report::run(&args),
        // The one command whose success can still exit 1: its --fail-if-worse gate.
        Command::Diff(args) => return exit(clprof::cmd::diff::run(&args)),
        Command::Daemon(args) => clprof::cmd::daemon::run(args, cli.verbose > 0, cli.quiet).await,
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(shell, &mut Cli::command(), "clprof", &mut std::io::stdout());
            Ok(())
        }
    };
    exit(result.map(|()| ExitCode::SUCCESS))
}

/// The exit status, and an error as one line on stderr.
fn exit(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            // Kernel verifier logs and the like are many lines: keep each cause's first line on
            // stderr, the whole chain in the debug log.
            tracing::debug!("{e:?}");
            let mut parts: Vec<String> = Vec::new();
            for cause in e.chain() {
                let text = cause.to_string();
                let first = text.lines().next().unwrap_or("").to_owned();
                // Messages that already embed their source would repeat it.
                if !parts.last().is_some_and(|p| p.contains(&first)) {
                    parts.push(first);
                }
            }
            eprintln!("clprof: error: {}", parts.join(": "));
            ExitCode::FAILURE
        }
    }
}
