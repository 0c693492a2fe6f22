//! `hyperres-train`: trains, converts and evaluates gst-hyperres checkpoints.

mod adam;
mod data;
mod degrade;
mod eval;
mod import;
mod metrics;
mod paper;
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
    /// Evaluate a restorer on a benchmark folder with the paper's protocol.
    Eval(eval::EvalArgs),
    /// Convert an authors' PyTorch checkpoint (HyperRes or NoiseNet, .pth or .safetensors)
    /// into a gst-hyperres checkpoint.
    Import(import::ImportArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Import(args) => import::run(args),
    }
}
