//! `hyperres-train eval`: the paper's protocol. Images cropped to even sizes, degraded from a fixed
//! seed, restored, clamped, rounded to 8 bits; PSNR (no border crop) and SSIM per image and level.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use gsthyperres::restorer::Restorer;
use gsthyperres::task::Task;
use serde_json::json;
use tch::{Device, Kind};

use crate::data::load_images;
use crate::degrade::{degrade, seeded_rng};
use crate::metrics::{psnr, quantise, ssim};
use crate::paper;
use crate::train::parse_device;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Restorer checkpoint.
    #[arg(long)]
    model: PathBuf,
    /// Benchmark folder (e.g. ../shared/data/test/CBSD68).
    #[arg(long)]
    data: PathBuf,
    /// Levels to evaluate (default: the levels the paper reports for the task).
    #[arg(long, value_delimiter = ',')]
    levels: Option<Vec<f64>>,
    /// Use only the first N images (sorted by name).
    #[arg(long)]
    limit: Option<usize>,
    /// Seed of the degradations (fixed, so every run sees the same noisy images).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a Markdown table with the paper's numbers beside ours.
    #[arg(long)]
    markdown: Option<PathBuf>,
    #[arg(long, default_value = "cpu")]
    device: String,
    #[arg(long)]
    threads: Option<i32>,
}

/// One image at one level.
struct Score {
    image: String,
    level: f64,
    psnr: f64,
    ssim: f64,
    input_psnr: f64,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    if let Some(threads) = args.threads {
        tch::set_num_threads(threads);
    }
    let mut restorer = Restorer::load(&args.model, parse_device(&args.device)?)?;
    let meta = restorer.metadata().clone();
    if meta.task != Task::Denoise {
        bail!("evaluation of {} models is not implemented yet", meta.task);
    }
    let levels = args.levels.clone().unwrap_or_else(|| {
        paper::hyperres_results(meta.task)
            .iter()
            .map(|r| r.0)
            .collect()
    });
    let mut images = load_images(std::slice::from_ref(&args.data), meta.colour)?;
    images.truncate(args.limit.unwrap_or(images.len()));

    let mut scores = Vec::new();
    for (index, image) in images.iter().enumerate() {
        let size = image.pixels.size();
        let clean = image
            .pixels
            .narrow(1, 0, size[1] / 2 * 2)
            .narrow(2, 0, size[2] / 2 * 2);
        let clean = clean.to_kind(Kind::Float) / 255.0;
        for (level_index, &level) in levels.iter().enumerate() {
            let mut rng = seeded_rng(args.seed, ((index as u64) << 16) | level_index as u64);
            let degraded = degrade(meta.task, &clean, level, &mut rng)?;
            restorer.set_level(level)?;
            let restored = restorer
                .restore(&degraded.unsqueeze(0))
                .squeeze_dim(0)
                .to_device(Device::Cpu);
            let (restored, reference) = (quantise(&restored), quantise(&clean));
            scores.push(Score {
                image: image.name.clone(),
                level,
                psnr: psnr(&restored, &reference),
                ssim: ssim(&restored, &reference),
                input_psnr: psnr(&quantise(&degraded), &reference),
            });
        }
    }

    let means: Vec<(f64, [f64; 3])> = levels
        .iter()
        .map(|&level| {
            let at: Vec<&Score> = scores.iter().filter(|s| s.level == level).collect();
            let mean =
                |f: fn(&Score) -> f64| at.iter().map(|s| f(s)).sum::<f64>() / at.len() as f64;
            (
                level,
                [mean(|s| s.psnr), mean(|s| s.ssim), mean(|s| s.input_psnr)],
            )
        })
        .collect();

    let title = format!(
        "{} on {} ({} images), {} model trained at {:?} ({} iterations)",
        args.model.display(),
        args.data.display(),
        images.len(),
        meta.task,
        meta.levels,
        meta.provenance.iterations
    );
    let table = markdown_table(meta.task, &means);
    println!("{title}\n\n{table}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, format!("# Evaluation\n\n{title}\n\n{table}"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.json {
        let report = json!({
            "model": args.model,
            "data": args.data,
            "task": meta.task.as_str(),
            "seed": args.seed,
            "levels": means.iter().map(|(level, [p, s, i])| json!({
                "level": level, "psnr": p, "ssim": s, "input_psnr": i,
            })).collect::<Vec<_>>(),
            "images": scores.iter().map(|s| json!({
                "image": s.image, "level": s.level, "psnr": s.psnr, "ssim": s.ssim, "input_psnr": s.input_psnr,
            })).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Per-level means beside the paper's HyperRes numbers.
fn markdown_table(task: Task, means: &[(f64, [f64; 3])]) -> String {
    let mut table = String::from(
        "| level | degraded input PSNR | ours PSNR | ours SSIM | paper PSNR | paper SSIM |\n|---|---|---|---|---|---|\n",
    );
    for &(level, [p, s, input]) in means {
        let (paper_psnr, paper_ssim) = match paper::at(task, level) {
            Some((psnr, ssim)) => (
                format!("{psnr:.2}"),
                ssim.map_or("-".into(), |s| format!("{s:.2}")),
            ),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(
            table,
            "| {level} | {input:.2} | {p:.2} | {s:.4} | {paper_psnr} | {paper_ssim} |"
        );
    }
    table
}
