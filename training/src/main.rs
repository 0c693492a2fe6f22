//! `hyperres-train`: trains, converts and evaluates gst-hyperres checkpoints.

mod adam;
mod args;
mod data;
mod degrade;
mod estimator;
mod eval;
mod import;
mod jpeg;
mod metrics;
mod paper;
mod plot;
mod resize;
mod session;
mod train;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "hyperres-train",
    version,
    about = "Train, import and evaluate gst-hyperres models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a HyperRes restorer with the paper's recipe.
    Train(train::TrainArgs),
    /// Train a level estimator (noise sigma, JPEG quality or SR scale from a 128x128 crop).
    Estimator(estimator::EstimatorArgs),
    /// Evaluate a restorer (optionally blind) or an estimator on a benchmark folder, the paper's way.
    Eval(eval::EvalArgs),
    /// Convert an authors' PyTorch checkpoint (HyperRes or NoiseNet, .pth or .safetensors)
    /// into a gst-hyperres checkpoint.
    Import(import::ImportArgs),
}

fn main() -> anyhow::Result<()> {
    keep_freed_memory();
    match Cli::parse().command {
        Command::Train(args) => train::run(args),
        Command::Estimator(args) => estimator::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Import(args) => import::run(args),
    }
}

/// Every step allocates and frees the same large activation buffers. glibc would hand them back
/// to the kernel (mmap/trim) and fault them in again each step, costing about 10% of a CPU
/// training step here; keeping them in the heap makes the reuse free.
fn keep_freed_memory() {
    // SAFETY: mallopt only adjusts allocator thresholds; it is called before any other thread
    // exists, and failure (return 0) just leaves the defaults.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
