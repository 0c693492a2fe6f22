//! `hyperres-train`: trains, converts and evaluates gst-hyperres checkpoints.

use clap::{Parser, Subcommand};
use hyperres_training::{convert, estimator, eval, import, info, keep_freed_memory, train};

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
    /// Rewrite a checkpoint with its tensors stored as f32, f16 or bf16 (f16 halves a bundled
    /// model's size; it is computed in f32 once loaded).
    Convert(convert::ConvertArgs),
    /// Show what checkpoints hold (metadata, parameter count, the levels the element accepts),
    /// after checking that they load.
    Info(info::InfoArgs),
}

fn main() -> anyhow::Result<()> {
    keep_freed_memory();
    match Cli::parse().command {
        Command::Train(args) => train::run(args),
        Command::Estimator(args) => estimator::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Import(args) => import::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Info(args) => info::run(args),
    }
}
