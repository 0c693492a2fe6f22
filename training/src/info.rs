//! `hyperres-train info`: what a checkpoint holds (its metadata, size and the levels the element
//! accepts), after loading it the way the element does.

use std::path::PathBuf;

use clap::Args;
use gsthyperres::checkpoint;
use gsthyperres::level_estimator::LevelEstimator;
use gsthyperres::restorer::Restorer;
use gsthyperres::task::ModelKind;
use tch::Device;

#[derive(Args)]
pub struct InfoArgs {
    /// gst-hyperres checkpoints (.safetensors).
    #[arg(required = true)]
    models: Vec<PathBuf>,
}

pub fn run(args: InfoArgs) -> anyhow::Result<()> {
    for path in &args.models {
        let (meta, tensors) = checkpoint::read(path)?;
        // Every name, shape and value checked, as when the element loads it.
        match meta.kind() {
            ModelKind::Restorer => drop(Restorer::load(path, Device::Cpu)?),
            ModelKind::Estimator => drop(LevelEstimator::load(path, Device::Cpu)?),
        }
        println!("{}", path.display());
        let header = meta.to_header();
        let mut keys: Vec<&String> = header.keys().collect();
        keys.sort();
        for key in keys {
            println!("  {key:<16}{}", header[key]);
        }
        let parameters: i64 = tensors.iter().map(|(_, t)| t.numel() as i64).sum();
        println!("  {:<16}{parameters}", "parameters");
        if meta.kind() == ModelKind::Restorer {
            let [low, high] = meta.accepted_levels();
            println!(
                "  {:<16}{low}..{high} (the element clamps beyond)",
                "accepted levels"
            );
        }
    }
    Ok(())
}
