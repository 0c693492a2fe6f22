//! `hyperres-train convert`: a checkpoint rewritten with its tensors stored in another dtype. Stored
//! in f16 a model takes half the bytes; it is still computed in f32 once loaded.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use gsthyperres::checkpoint::{self, StorageDtype};
use gsthyperres::level_estimator::LevelEstimator;
use gsthyperres::restorer::Restorer;
use gsthyperres::task::ModelKind;
use tch::{Device, Kind};

#[derive(Args)]
pub struct ConvertArgs {
    /// The gst-hyperres checkpoint to convert.
    #[arg(long)]
    model: PathBuf,
    /// Where to write the converted checkpoint.
    #[arg(long)]
    out: PathBuf,
    /// Storage type of the result: f32, f16 or bf16.
    #[arg(long)]
    dtype: StorageDtype,
}

pub fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let (mut meta, tensors) = checkpoint::read(&args.model)?;
    let from = meta.dtype;
    meta.dtype = args.dtype;
    // The tensor whose rounding is largest against its own largest magnitude, if any value changed.
    let mut worst: Option<(f64, f64, &str)> = None;
    for (name, tensor) in &tensors {
        let stored = tensor.to_kind(args.dtype.tch()).to_kind(Kind::Float);
        let largest = tensor.abs().max().double_value(&[]);
        let rounding = (&stored - tensor).abs().max().double_value(&[]);
        let relative = if largest > 0.0 {
            rounding / largest
        } else {
            0.0
        };
        if relative > worst.map_or(0.0, |w| w.0) {
            worst = Some((relative, rounding, name));
        }
    }
    checkpoint::save(&args.out, &meta, &tensors)?;
    check_loads(&args.out, meta.kind())?;
    let rounding = match worst {
        Some((relative, rounding, name)) => format!(
            "largest rounding {rounding:.1e} in {name:?}, {relative:.1e} of its largest magnitude"
        ),
        None => "every value kept exactly".into(),
    };
    println!(
        "{} ({}, {}) -> {} ({}, {}); {rounding}",
        args.model.display(),
        from.as_str(),
        megabytes(&args.model)?,
        args.out.display(),
        args.dtype.as_str(),
        megabytes(&args.out)?,
    );
    Ok(())
}

/// Loads the checkpoint just written as the network its metadata describes, which checks every
/// tensor's name and shape against that metadata.
pub fn check_loads(path: &Path, kind: ModelKind) -> anyhow::Result<()> {
    match kind {
        ModelKind::Restorer => drop(Restorer::load(path, Device::Cpu)?),
        ModelKind::Estimator => drop(LevelEstimator::load(path, Device::Cpu)?),
    }
    Ok(())
}

fn megabytes(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::metadata(path)
        .with_context(|| path.display().to_string())?
        .len();
    Ok(format!("{:.1} MB", bytes as f64 / 1e6))
}
