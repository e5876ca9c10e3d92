//! Project tasks: `cargo xtask <setup|build|build-ebpf|test|demo|bench|soak|lint|fuzz>`.

mod bench;
mod bootstrap;
mod build;
mod demo;
mod fuzz;
mod lint;
mod soak;
mod test;
mod test_digest;
mod util;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "clprof project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install the pinned nightly, bpf-linker, Go 1.27 and Go 1.19 (idempotent, quick when present).
    Setup,
    /// Setup, then build the workspace.
    Build {
        #[arg(long)]
        release: bool,
    },
    /// Setup, build release clprof and copy its embedded eBPF object to target/bpf/clprof.bpf.o.
    BuildEbpf,
    /// Setup, build everything and run all tests (as root: the integration tests load eBPF).
    Test,
    /// Setup, build release clprof and the demo Go workload, and profile it (as root).
    Demo {
        /// How long to record (and run the workload): e.g. 5s, 500ms, 1m.
        #[arg(long, default_value = "5s")]
        duration: String,
    },
    /// Setup, then measure target slowdown, detection time, fold rate and symbolization speed
    /// (as root) and write BENCHMARKS.md.
    Bench {
        /// Rounds of the alone / default budget / --budget 100 slowdown runs.
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        /// Run only this part and print its results (BENCHMARKS.md is left as it is).
        #[arg(long, value_enum)]
        only: Option<bench::Section>,
    },
    /// Setup, then run Go standard-library packages' own tests alone and under
    /// `clprof record --budget 100` (as root), with both Go versions, and print a table.
    Soak {
        /// Packages to run (default: the built-in list).
        packages: Vec<String>,
        /// The clprof binary to use (default: build release clprof).
        #[arg(long)]
        clprof: Option<std::path::PathBuf>,
        /// Write the table to BENCHMARKS.md's soak section.
        #[arg(long)]
        write: bool,
    },
    /// rustfmt check and clippy (-D warnings) for the workspace and profiler-ebpf.
    Lint,
    /// Install cargo-fuzz if missing, build the fuzz targets in fuzz/ with the pinned nightly
    /// and run each for a while; fails if any crashes.
    Fuzz {
        /// How long to run each target, in seconds.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.task) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line per cause, no backtrace: these errors say what to do.
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(task: Task) -> Result<()> {
    util::prepend_cargo_bin_to_path()?;
    match task {
        Task::Setup => bootstrap::setup().map(drop),
        Task::Build { release } => build::build(release),
        Task::BuildEbpf => build::build_ebpf(),
        Task::Test => test::test(),
        Task::Demo { duration } => demo::demo(&duration),
        Task::Bench { rounds, only } => bench::bench(rounds, only),
        Task::Soak {
            packages,
            clprof,
            write,
        } => soak::soak(&packages, clprof, write),
        Task::Lint => lint::lint(),
        Task::Fuzz { seconds } => fuzz::fuzz(seconds),
    }
}
