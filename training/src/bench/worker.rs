//! One measurement of our restorer, in a process of its own so that its peak memory is its own:
//! median time per frame (model only: frame already on the device, output clamped there) at one
//! size, device, precision and thread count, plus the time of a level change.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use gsthyperres::model::Layout;
use gsthyperres::restorer::{Restorer, Tiling};
use serde_json::json;
use tch::{Device, Kind, Tensor};

use crate::args::parse_device;
use crate::bench::process::median;
use crate::eval::Precision;

#[derive(Args, Debug, Clone)]
pub struct WorkerArgs {
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[arg(long, value_enum, default_value = "fp32")]
    pub precision: Precision,
    #[arg(long, default_value_t = 1, value_parser = crate::args::thread_count())]
    pub threads: i32,
    #[arg(long)]
    pub width: i64,
    #[arg(long)]
    pub height: i64,
    /// Timed frames after one warm-up frame.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Output tiles of this many pixels (0: the whole frame at once).
    #[arg(long, default_value_t = 0)]
    pub tile: i64,
    #[arg(long, default_value_t = 32)]
    pub overlap: i64,
    /// A new level before every frame (a knob turned continuously, or auto mode).
    #[arg(long)]
    pub sweep: bool,
    /// Convolve in NCHW layout instead of the one the restorer picks (channels-last except for
    /// fp32 on CUDA), to measure what the layout costs.
    #[arg(long)]
    pub nchw: bool,
}

/// Prints one JSON line: `median_ms`, `level_change_ms`.
pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    tch::set_num_threads(args.threads);
    let device = parse_device(&args.device)?;
    // As the element does.
    gsthyperres::restorer::prepare_device(device);
    let mut restorer = Restorer::load(&args.model, device)?;
    restorer.set_kind(args.precision.kind());
    if args.nchw {
        restorer.set_layout(Layout::Nchw);
    }
    let [low, high] = restorer.metadata().level_range;
    let sync = || {
        if let Device::Cuda(index) = device {
            tch::Cuda::synchronize(index as i64);
        }
    };
    // Distinct levels each time, so every call regenerates.
    let mut level_changes: Vec<f64> = (0..21)
        .map(|i| {
            let start = Instant::now();
            restorer.set_level(low + (high - low) * i as f64 / 20.0)?;
            sync();
            Ok(start.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<anyhow::Result<_>>()?;

    let channels = restorer.metadata().colour.channels();
    let frame = Tensor::rand(
        [1, channels, args.height, args.width],
        (Kind::Float, device),
    );
    let tiling = Tiling {
        tile: args.tile,
        overlap: args.overlap,
    };
    let mut times = Vec::with_capacity(args.runs);
    for i in 0..=args.runs {
        let start = Instant::now();
        if args.sweep {
            restorer.set_level(low + (high - low) * (i % 10) as f64 / 10.0)?;
        }
        let restored = restorer.restore_tiled(&frame, tiling);
        sync();
        drop(restored);
        if i > 0 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    println!(
        "{}",
        json!({
            "median_ms": median(&mut times),
            "level_change_ms": median(&mut level_changes),
        })
    );
    Ok(())
}
