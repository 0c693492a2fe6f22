//! `hyperres-train eval`: the paper's protocol. Images cropped to even sizes, degraded from a fixed
//! seed, restored, clamped and rounded to 8 bits; PSNR (no border crop) and SSIM per image and
//! level. With `--blind`, the estimator's level drives the restorer; given an estimator as
//! `--model`, its error per level is reported instead.

use std::fmt::Write as _;
use std::path::PathBuf;

use std::time::Instant;

use anyhow::{Context, bail, ensure};
use clap::Args;
use gsthyperres::checkpoint;
use gsthyperres::ensemble;
use gsthyperres::level_estimator::LevelEstimator;
use gsthyperres::restorer::{Restorer, Tiling};
use gsthyperres::task::{Colour, ModelKind, Task};
use serde_json::{Map, Value, json};
use tch::{Device, Kind, Tensor};

use crate::args::parse_device;
use crate::data::{decode, load_images};
use crate::degrade::{self, degrade, seeded_rng};
use crate::ffmpeg_filter::FfmpegFilter;
use crate::metrics::{psnr, quantise, relative_l2, ssim};
use crate::paper;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Restorer (or estimator) checkpoint.
    #[arg(long, required_unless_present = "ffmpeg")]
    model: Option<PathBuf>,
    /// Restore with this FFmpeg filter graph instead of a model (e.g. "format=yuv444p,nlmeans=s=8"
    /// or "spp=quality=6:qp=20"), to compare with the tools a pipeline would otherwise use; needs
    /// --task and --colour.
    #[arg(long, conflicts_with_all = ["model", "blind"], requires = "task")]
    ffmpeg: Option<String>,
    /// Task of the degradations (with --ffmpeg; a model's own task otherwise).
    #[arg(long)]
    task: Option<Task>,
    /// Colour of the images (with --ffmpeg).
    #[arg(long, default_value = "rgb")]
    colour: Colour,
    /// Benchmark folder (e.g. ../shared/data/test/CBSD68).
    #[arg(long)]
    data: PathBuf,
    /// Already degraded images (e.g. frames a video codec coded, from scripts/h264_frames.py): the
    /// file of each `--data` image's name in this folder is restored at every level, instead of a
    /// synthetic degradation at that level.
    #[arg(long)]
    coded: Option<PathBuf>,
    /// Levels to evaluate (default: the levels the paper reports for the task).
    #[arg(long, value_delimiter = ',')]
    levels: Option<Vec<f64>>,
    /// Estimator checkpoint: restore at its estimate of each image's level (blind mode).
    #[arg(long)]
    blind: Option<PathBuf>,
    /// Use only the first N images (sorted by name).
    #[arg(long)]
    limit: Option<usize>,
    /// Seed of the degradations (fixed, so every run sees the same degraded images).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a Markdown table of the means per level (beside the published figures, when the data
    /// is their benchmark and eval degrades it).
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Write a PNG chart of PSNR against level (restorers).
    #[arg(long)]
    plot: Option<PathBuf>,
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Arithmetic of the restorer, as the element's `precision`: fp32, fp16 (CUDA), bf16 (CUDA, or
    /// a CPU where it is faster).
    #[arg(long, value_enum, default_value = "fp32")]
    precision: Precision,
    /// Self-ensemble: average the restorations of this many flipped and transposed copies
    /// (1..=8; the element's `ensemble`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=8))]
    ensemble: u8,
    /// Also restore on the CPU in fp32 and report the relative L2 distance of the two outputs
    /// (`cpu_rel_l2`, before rounding): checks a CUDA device and precision against the CPU.
    #[arg(long, conflicts_with = "ffmpeg")]
    against_cpu: bool,
    #[arg(long, value_parser = crate::args::thread_count())]
    threads: Option<i32>,
}

/// Arithmetic a restorer computes in (as the element's `precision`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
    Fp32,
    Fp16,
    Bf16,
}

impl Precision {
    pub fn kind(self) -> Kind {
        match self {
            Precision::Fp32 => Kind::Float,
            Precision::Fp16 => Kind::Half,
            Precision::Bf16 => Kind::BFloat16,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Bf16 => "bf16",
        }
    }
}

/// The measurements of one image at one level, by column name.
struct Row {
    image: String,
    level: f64,
    values: Vec<(&'static str, f64)>,
}

/// What is evaluated: a restorer (possibly driven by an estimator), an estimator alone, or an
/// FFmpeg filter graph in place of a restorer.
enum Subject {
    Restorer {
        restorer: Box<Restorer>,
        /// The estimator of blind mode.
        blind: Option<LevelEstimator>,
        /// The CPU fp32 restorer of `--against-cpu`.
        cpu: Option<Box<Restorer>>,
        /// Copies averaged (`--ensemble`).
        copies: usize,
    },
    Estimator(LevelEstimator),
    Ffmpeg(FfmpegFilter),
}

impl Subject {
    fn task(&self) -> Task {
        match self {
            Subject::Restorer { restorer, .. } => restorer.metadata().task,
            Subject::Estimator(e) => e.metadata().task,
            Subject::Ffmpeg(f) => f.task,
        }
    }

    /// Measures `clean` degraded at `level` into `degraded` (both `[C, H, W]` in [0, 1]).
    fn measure(
        &mut self,
        clean: &Tensor,
        degraded: &Tensor,
        level: f64,
    ) -> anyhow::Result<Vec<(&'static str, f64)>> {
        // The paper measures SR on luma (BT.601), the other tasks on the model's channels.
        let task = self.task();
        let measured = |x: &Tensor| {
            if task == Task::Sr {
                luma_bt601(x)
            } else {
                x.shallow_clone()
            }
        };
        let reference = measured(&quantise(clean));
        Ok(match self {
            Subject::Estimator(estimator) => {
                let estimate = estimator.estimate(degraded);
                let error = (estimate - level).abs();
                vec![
                    ("estimate", estimate),
                    ("abs_error", error),
                    ("rel_error_pct", 100.0 * error / level),
                ]
            }
            Subject::Ffmpeg(filter) => {
                let (filtered, seconds) = filter.apply(degraded)?;
                let restored = measured(&filtered);
                vec![
                    ("psnr", psnr(&restored, &reference)),
                    ("ssim", ssim(&restored, &reference)),
                    (
                        "input_psnr",
                        psnr(&measured(&quantise(degraded)), &reference),
                    ),
                    ("seconds", seconds),
                ]
            }
            Subject::Restorer {
                restorer,
                blind,
                cpu,
                copies,
            } => {
                // Float32 on the CPU (`restore` returns float32 in [0, 1]), before rounding.
                let mut restore_raw = |level: f64| -> anyhow::Result<Tensor> {
                    restorer.set_level(level)?;
                    let images = degraded.unsqueeze(0);
                    let out = ensemble::restore(restorer, &images, Tiling::default(), *copies)
                        .squeeze_dim(0);
                    Ok(out.to_device(Device::Cpu))
                };
                let start = Instant::now();
                let raw = restore_raw(level)?;
                let seconds = start.elapsed().as_secs_f64();
                let restored = measured(&quantise(&raw));
                let mut values = vec![
                    ("psnr", psnr(&restored, &reference)),
                    ("ssim", ssim(&restored, &reference)),
                    (
                        "input_psnr",
                        psnr(&measured(&quantise(degraded)), &reference),
                    ),
                    ("seconds", seconds),
                ];
                if let Some(cpu) = cpu {
                    cpu.set_level(level)?;
                    let expected = cpu.restore(&degraded.unsqueeze(0)).squeeze_dim(0);
                    values.push(("cpu_rel_l2", relative_l2(&raw, &expected)));
                }
                if let Some(estimator) = blind {
                    let estimate = estimator.estimate(degraded);
                    let blind_psnr =
                        psnr(&measured(&quantise(&restore_raw(estimate)?)), &reference);
                    values.extend([
                        ("estimate", estimate),
                        ("estimate_abs_error", (estimate - level).abs()),
                        ("blind_psnr", blind_psnr),
                        ("blind_psnr_lost", values[0].1 - blind_psnr),
                    ]);
                }
                values
            }
        })
    }
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    if let Some(threads) = args.threads {
        tch::set_num_threads(threads);
    }
    let device = parse_device(&args.device)?;
    gsthyperres::restorer::prepare_device(device);
    let (subject, described) = match (&args.model, &args.ffmpeg) {
        (Some(model), _) => load_subject(&args, model, device)?,
        (None, Some(graph)) => {
            let task = args.task.context("--ffmpeg needs --task")?;
            let name = format!("ffmpeg -vf {graph}");
            let described = Described {
                short: name.clone(),
                name,
                task,
                colour: args.colour,
                kind: ModelKind::Restorer,
                iterations: None,
                on_benchmark: on_benchmark(&args, task),
            };
            let filter = FfmpegFilter::new(graph, task, args.colour)?;
            (Subject::Ffmpeg(filter), described)
        }
        (None, None) => bail!("give --model or --ffmpeg"),
    };
    let mut subject = subject;
    // By default the levels with published figures: the authors' noise estimator's, or the paper's.
    let levels = args.levels.clone().unwrap_or_else(|| {
        if (described.kind, described.task) == (ModelKind::Estimator, Task::Denoise) {
            paper::AUTHORS_ESTIMATOR_ERROR.iter().map(|r| r.0).collect()
        } else {
            paper::hyperres_results(described.task, described.colour)
                .iter()
                .map(|r| r.0)
                .collect()
        }
    });
    anyhow::ensure!(
        !levels.is_empty(),
        "the paper publishes no levels for {} in {}: give --levels",
        described.task,
        described.colour
    );
    degrade::check_levels(described.task, &levels, "--levels")?;
    let mut images = load_images(std::slice::from_ref(&args.data), described.colour)?;
    images.truncate(args.limit.unwrap_or(images.len()));
    let coded = args
        .coded
        .as_ref()
        .map(|dir| coded_images(dir, &images, &described))
        .transpose()?;

    let mut rows = Vec::new();
    for (index, image) in images.iter().enumerate() {
        let size = image.pixels.size();
        let even = image
            .pixels
            .narrow(1, 0, size[1] / 2 * 2)
            .narrow(2, 0, size[2] / 2 * 2);
        let clean = even.to_kind(Kind::Float) / 255.0;
        for (level_index, &level) in levels.iter().enumerate() {
            let degraded = match &coded {
                Some(coded) => {
                    coded[index]
                        .narrow(1, 0, clean.size()[1])
                        .narrow(2, 0, clean.size()[2])
                }
                None => {
                    let mut rng =
                        seeded_rng(args.seed, ((index as u64) << 16) | level_index as u64);
                    degrade(described.task, &clean, level, &mut rng)?
                }
            };
            let values = subject.measure(&clean, &degraded, level)?;
            rows.push(Row {
                image: image.name.clone(),
                level,
                values,
            });
        }
    }

    let means = level_means(&levels, &rows);
    let trained =
        |iterations: Option<u64>| iterations.map_or(String::new(), |i| format!(", {i} iterations"));
    let degradation = match &args.coded {
        Some(dir) => format!("coded images from {}", dir.display()),
        None => format!("degradation seed {}", args.seed),
    };
    let title = format!(
        "{} ({} {}{}) on {}, {} images, {degradation}",
        described.name,
        described.task,
        described.kind,
        trained(described.iterations),
        args.data.display(),
        images.len(),
    );
    let table = markdown_table(&described, &means);
    println!("{title}\n\n{table}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, format!("# Evaluation\n\n{title}\n\n{table}"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        let name = |p: &std::path::Path| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        };
        let short = format!(
            "{} {}{} on {}, {} images",
            described.task,
            described.short,
            trained(described.iterations),
            name(&args.data),
            images.len()
        );
        plot(path, &short, &described, &means)?;
    }
    if let Some(path) = &args.json {
        let as_json = |level: f64, values: &[(&str, f64)], image: Option<&str>| {
            let mut object = Map::new();
            if let Some(image) = image {
                object.insert("image".into(), json!(image));
            }
            object.insert("level".into(), json!(level));
            object.extend(values.iter().map(|(k, v)| (k.to_string(), json!(v))));
            Value::Object(object)
        };
        let mut report = json!({
            "model": described.name,
            "data": args.data,
            "task": described.task.as_str(),
            "kind": described.kind.as_str(),
            "seed": args.seed,
            "levels": means.iter().map(|(l, v)| {
                let mut level = as_json(*l, v, None);
                level["published"] = published(&described, *l);
                level
            }).collect::<Vec<_>>(),
            "images": rows.iter().map(|r| as_json(r.level, &r.values, Some(&r.image))).collect::<Vec<_>>(),
        });
        if let Some(coded) = &args.coded {
            report["coded"] = json!(coded);
        }
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The image of each of `clean`'s names in `dir`, in [0, 1], checked to match its size; restorers
/// only (an estimator's truth would be the coded image's level, which no file gives).
fn coded_images(
    dir: &std::path::Path,
    clean: &[crate::data::Image],
    described: &Described,
) -> anyhow::Result<Vec<Tensor>> {
    ensure!(
        described.kind == ModelKind::Restorer,
        "--coded: the levels of coded images are unknown, so an estimator cannot be scored on them"
    );
    clean
        .iter()
        .map(|image| {
            let path = dir.join(&image.name);
            let coded = decode(&path, described.colour)
                .with_context(|| format!("--coded: reading {}", path.display()))?;
            ensure!(
                coded.size() == image.pixels.size(),
                "--coded: {} is {:?}, its clean image {:?}",
                path.display(),
                coded.size(),
                image.pixels.size()
            );
            Ok(coded.to_kind(Kind::Float) / 255.0)
        })
        .collect()
}

/// The paper's (restorers) or the authors' estimator's (noise) published figures at `level`.
fn published(described: &Described, level: f64) -> Value {
    if !described.on_benchmark {
        return Value::Null;
    }
    match described.kind {
        ModelKind::Restorer => paper::at(described.task, described.colour, level).map_or(
            Value::Null,
            |(psnr, ssim)| json!({"psnr": psnr, "ssim": ssim}),
        ),
        ModelKind::Estimator if described.task == Task::Denoise => paper::AUTHORS_ESTIMATOR_ERROR
            .iter()
            .find(|r| r.0 == level)
            .map_or(
                Value::Null,
                |r| json!({"abs_error": r.1, "rel_error_pct": r.2}),
            ),
        ModelKind::Estimator => Value::Null,
    }
}

/// What an evaluation is of, for its titles.
struct Described {
    name: String,
    /// The name in plot titles: the model's file name, or the whole filter graph.
    short: String,
    task: Task,
    colour: Colour,
    kind: ModelKind,
    iterations: Option<u64>,
    /// Whether the published figures apply: the data is their benchmark, degraded by eval itself.
    on_benchmark: bool,
}

fn on_benchmark(args: &EvalArgs, task: Task) -> bool {
    args.coded.is_none() && paper::is_benchmark(task, &args.data)
}

fn load_subject(
    args: &EvalArgs,
    model: &std::path::Path,
    device: Device,
) -> anyhow::Result<(Subject, Described)> {
    let (meta, _) = checkpoint::read(model)?;
    let subject = match meta.kind() {
        ModelKind::Restorer => {
            let blind = args
                .blind
                .as_deref()
                .map(|p| LevelEstimator::load(p, device))
                .transpose()?;
            if let Some(estimator) = &blind {
                estimator
                    .check_drives(&meta)
                    .map_err(|e| anyhow::anyhow!("--blind: {e}"))?;
            }
            let mut restorer = Restorer::load(model, device)?;
            restorer.set_kind(args.precision.kind());
            let cpu = args
                .against_cpu
                .then(|| Restorer::load(model, Device::Cpu).map(Box::new))
                .transpose()?;
            Subject::Restorer {
                restorer: Box::new(restorer),
                blind,
                cpu,
                copies: usize::from(args.ensemble),
            }
        }
        ModelKind::Estimator => Subject::Estimator(LevelEstimator::load(model, device)?),
    };
    let described = Described {
        name: model.display().to_string(),
        short: model
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        task: meta.task,
        colour: meta.colour,
        kind: meta.kind(),
        iterations: Some(meta.provenance.iterations),
        on_benchmark: on_benchmark(args, meta.task),
    };
    Ok((subject, described))
}

/// Ours (and blind, when measured), the degraded input, and the paper's HyperRes on its benchmark,
/// against level.
fn plot(
    path: &std::path::Path,
    title: &str,
    described: &Described,
    means: &[(f64, Vec<(&'static str, f64)>)],
) -> anyhow::Result<()> {
    let column = |name: &str| -> Vec<(f64, f64)> {
        means
            .iter()
            .filter_map(|(level, values)| {
                values
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*level, *v))
            })
            .collect()
    };
    let paper: Vec<(f64, f64)> = if described.on_benchmark {
        paper::hyperres_results(described.task, described.colour)
            .iter()
            .map(|&(l, p, _)| (l, p))
            .collect()
    } else {
        Vec::new()
    };
    let series: Vec<(&str, Vec<(f64, f64)>)> = [
        ("ours", column("psnr")),
        ("ours, blind", column("blind_psnr")),
        ("degraded input", column("input_psnr")),
        ("paper HyperRes", paper),
    ]
    .into_iter()
    .filter(|(_, points)| !points.is_empty())
    .collect();
    anyhow::ensure!(!column("psnr").is_empty(), "--plot needs a restorer");
    crate::plot::psnr_chart(path, title, &series)
}

/// BT.601 luma (16..235) of an RGB `[3, H, W]` image on the 0..255 scale, as `[1, H, W]`; a gray
/// image is returned as it is.
fn luma_bt601(rgb: &Tensor) -> Tensor {
    if rgb.size()[0] == 1 {
        return rgb.shallow_clone();
    }
    let weights = Tensor::from_slice(&[65.481f32, 128.553, 24.966]).view([3, 1, 1]) / 255.0;
    (rgb * weights).sum_dim_intlist(0, true, Kind::Float) + 16.0
}

/// Mean of every column per level.
fn level_means(levels: &[f64], rows: &[Row]) -> Vec<(f64, Vec<(&'static str, f64)>)> {
    levels
        .iter()
        .map(|&level| {
            let at: Vec<&Row> = rows.iter().filter(|r| r.level == level).collect();
            let columns = at[0].values.iter().enumerate().map(|(i, &(name, _))| {
                let mean = at.iter().map(|r| r.values[i].1).sum::<f64>() / at.len() as f64;
                (name, mean)
            });
            (level, columns.collect())
        })
        .collect()
}

/// Per-level means beside the paper's (or, for estimators, the authors' released) numbers, where
/// any are published for these levels and data.
fn markdown_table(described: &Described, means: &[(f64, Vec<(&'static str, f64)>)]) -> String {
    let Some((_, first)) = means.first() else {
        return String::new();
    };
    let names: Vec<&str> = first.iter().map(|(name, _)| *name).collect();
    // Published columns (header, key in `published`, decimals): the authors' estimator's error,
    // or the paper's PSNR and SSIM.
    let references: Vec<Value> = means
        .iter()
        .map(|(level, _)| published(described, *level))
        .collect();
    let columns: &[(&str, &str, usize)] = match described.kind {
        _ if references.iter().all(Value::is_null) => &[],
        ModelKind::Estimator => &[
            ("authors' abs error", "abs_error", 2),
            ("authors' rel error %", "rel_error_pct", 1),
        ],
        ModelKind::Restorer => &[("paper PSNR", "psnr", 2), ("paper SSIM", "ssim", 2)],
    };
    let headers: Vec<&str> = names
        .iter()
        .chain(columns.iter().map(|c| &c.0))
        .copied()
        .collect();
    let mut table = format!("| level | {} |\n", headers.join(" | "));
    let _ = writeln!(table, "|---|{}", "---|".repeat(headers.len()));
    for ((level, values), reference) in means.iter().zip(&references) {
        // Small values (a relative L2 distance) in scientific notation.
        let ours = values.iter().map(|(_, v)| match v.abs() {
            a if a > 0.0 && a < 1e-3 => format!("{v:.2e}"),
            _ => format!("{v:.4}"),
        });
        let figures = columns.iter().map(|&(_, key, digits)| {
            reference[key]
                .as_f64()
                .map_or("-".into(), |v| format!("{v:.digits$}"))
        });
        let cells: Vec<String> = ours.chain(figures).collect();
        let _ = writeln!(table, "| {level} | {} |", cells.join(" | "));
    }
    table
}
