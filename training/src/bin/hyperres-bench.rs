//! `hyperres-bench`: speed of gst-hyperres on this machine against PyTorch eager and FFmpeg.
//!
//!     hyperres-bench [--quick] [--video FILE] [--json OUT.json]

use clap::{Parser, Subcommand};
use hyperres_training::bench::{self, BenchArgs, worker};

#[derive(Parser)]
#[command(
    name = "hyperres-bench",
    version,
    about = "Time gst-hyperres against PyTorch eager and FFmpeg on this machine"
)]
struct Cli {
    #[command(subcommand)]
    worker: Option<Worker>,
    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(Subcommand)]
enum Worker {
    /// One measurement in a process of its own (used by the benchmark itself).
    #[command(hide = true)]
    Worker(worker::WorkerArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.worker {
        Some(Worker::Worker(args)) => worker::run(args),
        None => bench::run(cli.bench),
    }
}
