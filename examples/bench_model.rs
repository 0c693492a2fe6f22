//! Times the model's two hot paths on this machine:
//! - a level change (weight regeneration) for the full model;
//! - one training step (forward + backward over k levels) with each `LevelBatching`, in NCHW and
//!   channels-last layout, in fp32 and in bf16 mixed precision (float32 weights, bf16 convolutions;
//!   skipped on a CPU where bf16 is not faster than fp32, see `cpu_bf16`).
//!
//!     cargo run --release --example bench_model -- [--threads N] [--blocks N] [--batch N] [--patch N]

mod common;

use clap::Parser;
use gsthyperres::cpu_bf16;
use gsthyperres::model::{HyperRes, Layout, LevelBatching, RestorerConfig};
use tch::nn::OptimizerConfig;
use tch::{Device, Kind, Reduction, Tensor, nn};

use common::median_ms;

/// Times a level change and one training step of each configuration.
#[derive(Parser)]
struct Args {
    /// CPU threads.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(i32).range(1..))]
    threads: i32,
    /// Residual blocks of the trained model.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i64).range(1..))]
    blocks: i64,
    /// Crops per level.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(i64).range(1..))]
    batch: i64,
    /// Crop side in pixels.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(i64).range(1..))]
    patch: i64,
}

fn main() {
    let Args {
        threads,
        blocks,
        batch,
        patch,
    } = Args::parse();
    tch::set_num_threads(threads);
    let device = Device::cuda_if_available();

    let vs = nn::VarStore::new(device);
    let mut full = HyperRes::new(&vs.root(), RestorerConfig::default());
    let mut level = 0.0;
    let regenerate = median_ms(51, || {
        level += 1.0;
        full.set_level(level / 255.0);
        if device.is_cuda() {
            tch::Cuda::synchronize(0);
        }
    });
    let generated = RestorerConfig::default().generated_len();
    println!(
        "level change, full model ({generated} generated values from 2 x {generated} parameters): {regenerate:.3} ms"
    );

    let config = RestorerConfig {
        blocks,
        ..Default::default()
    };
    let levels = Tensor::from_slice(&[15.0f32, 35.0, 50.0, 75.0]).to_device(device) / 255.0;
    let k = levels.size()[0];
    println!(
        "training step: {blocks} blocks, width 64, {k} levels x batch {batch}, {patch}x{patch} crops, {} threads",
        tch::get_num_threads()
    );
    let mut precisions = vec![("fp32", Kind::Float)];
    match cpu_bf16::not_worth_it(device) {
        None => precisions.push(("bf16 mixed", Kind::BFloat16)),
        Some(why) => println!("  bf16 skipped: {why}"),
    }
    let configurations = [LevelBatching::Grouped, LevelBatching::Loop]
        .into_iter()
        .flat_map(|b| [Layout::Nchw, Layout::ChannelsLast].map(|l| (b, l)))
        .flat_map(|(b, l)| precisions.iter().map(move |&p| (b, l, p)));
    for (batching, layout, (precision, kind)) in configurations {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(device);
        let net = HyperRes::new(&vs.root(), config);
        let mut opt = nn::Adam::default().build(&vs, 1e-4).unwrap();
        let x = layout.arrange(&Tensor::rand([k * batch, 3, patch, patch], (kind, device)));
        let target = Tensor::rand([k * batch, 3, patch, patch], (Kind::Float, device));
        let step = median_ms(7, || {
            let loss = net
                .forward_levels(&x, &levels, batching)
                .to_kind(Kind::Float)
                .l1_loss(&target, Reduction::Mean);
            opt.backward_step(&loss);
            if device.is_cuda() {
                tch::Cuda::synchronize(0);
            }
        });
        println!(
            "  {batching}, {layout:?}, {precision}: {step:.1} ms per step ({:.2} it/s)",
            1e3 / step
        );
    }
}
