//! `hyperres-train`: makes and converts gst-hyperres checkpoints.

mod import;

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
    /// Convert an authors' PyTorch checkpoint (HyperRes or NoiseNet, .pth or .safetensors)
    /// into a gst-hyperres checkpoint.
    Import(import::ImportArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Import(args) => import::run(args),
    }
}
