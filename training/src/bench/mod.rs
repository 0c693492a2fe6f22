//! `hyperres-bench`: how fast the restorer runs on this machine, in one command, against the same
//! architecture and weights in PyTorch eager and against FFmpeg's denoisers. Every measurement
//! runs in a child process (our worker, the PyTorch script, `gst-launch-1.0`, `ffmpeg`) so that its
//! peak resident memory is its own; times are medians, and whole-process tools are timed by
//! difference (1 + N frames minus 1 frame) so that start-up does not count.

pub mod process;
pub mod worker;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use anyhow::{Context, bail, ensure};
use clap::Args;
use gsthyperres::checkpoint::{self, Metadata, Provenance};
use gsthyperres::model::{HyperRes, RestorerConfig};
use gsthyperres::restorer::Restorer;
use serde_json::{Value, json};
use tch::{Device, Kind, Tensor, nn};

use crate::degrade::{add_noise, seeded_rng};
use crate::eval::Precision;
use crate::metrics::{psnr, quantise};
use process::{Finished, available};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// 480p and 720p, 2 timed frames, no full-size model (under 10 minutes on 2 cores).
    #[arg(long)]
    quick: bool,
    /// Write every measurement as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Devices (default: cpu, and cuda when torch sees a GPU).
    #[arg(long, value_delimiter = ',')]
    devices: Option<Vec<String>>,
    /// CPU thread counts.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<i32>,
    /// Frame sizes: 480p, 720p, 1080p, 2160p or WxH (default 480p,720p,1080p; --quick: 480p,720p).
    #[arg(long, value_delimiter = ',')]
    resolutions: Option<Vec<Resolution>>,
    /// The bundled model (the size most users run).
    #[arg(long, default_value = "models/denoise-rgb.safetensors")]
    model: PathBuf,
    /// The full-size (16-block) model; when the file is absent, an untrained one with the authors'
    /// initialisation stands in for timing (speed does not depend on the weights' values).
    #[arg(long, default_value = "models/wip/denoise-rgb-16b.safetensors")]
    full_model: PathBuf,
    /// A real video: its decoded frames go through the element, and its first frame is the clean
    /// picture of the FFmpeg comparison (skipped without it).
    #[arg(long)]
    video: Option<PathBuf>,
    /// Timed frames per configuration (default 5; 2 with --quick).
    #[arg(long)]
    runs: Option<usize>,
    /// Python with torch 2.11 for the PyTorch-eager side.
    #[arg(long, default_value = ".venv/bin/python")]
    python: PathBuf,
    /// Noise sigma of the quality comparison.
    #[arg(long, default_value_t = 25.0)]
    sigma: f64,
    /// Frame size of the peak-memory comparison, whole frame against tiles.
    #[arg(long, default_value = "2160p")]
    memory_resolution: Resolution,
}

/// A frame size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    width: i64,
    height: i64,
}

impl FromStr for Resolution {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (width, height) = match s {
            "480p" => (854, 480),
            "720p" => (1280, 720),
            "1080p" => (1920, 1080),
            "2160p" | "4k" => (3840, 2160),
            other => other
                .split_once('x')
                .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
                .filter(|&(w, h)| w > 0 && h > 0)
                .ok_or_else(|| format!("{other:?}: expected 480p, 720p, 1080p, 2160p or WxH"))?,
        };
        Ok(Resolution { width, height })
    }
}

impl Resolution {
    fn name(self) -> String {
        match self.height {
            480 | 720 | 1080 | 2160 => format!("{}p", self.height),
            _ => format!("{}x{}", self.width, self.height),
        }
    }
}

const TORCH_SCRIPT: &str = "scripts/bench_torch.py";
const TILE_4K: i64 = 512;

/// What the run measures with, resolved once.
struct Setup {
    exe: PathBuf,
    plugin_dir: PathBuf,
    runs: usize,
    resolutions: Vec<Resolution>,
    models: Vec<(String, PathBuf)>,
    torch: bool,
    scratch: tempfile::TempDir,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let setup = prepare(&args)?;
    let devices = match &args.devices {
        Some(devices) => devices.clone(),
        None if tch::Cuda::is_available() => vec!["cpu".into(), "cuda".into()],
        None => vec!["cpu".into()],
    };
    let max_threads = *args.threads.iter().max().context("--threads is empty")?;
    let mut report = json!({
        "machine": machine(),
        "quick": args.quick,
        "runs": setup.runs,
        "models": setup.models.iter().map(|(name, path)| json!({"name": name, "path": path})).collect::<Vec<_>>(),
    });

    report["model"] = Value::Array(model_rows(&args, &setup, &devices)?);
    report["level_change"] = Value::Array(level_change_rows(&setup, &devices, max_threads)?);
    report["element"] = if devices.iter().any(|d| d == "cpu") {
        element_rows(&args, &setup)?
    } else {
        json!("skipped: CPU not benchmarked")
    };
    report["memory_4k"] = if devices.iter().any(|d| d == "cpu") {
        memory_4k(&setup, args.memory_resolution, max_threads)?
    } else {
        json!("skipped: CPU not benchmarked")
    };
    report["ffmpeg"] = ffmpeg_rows(&args, &setup, max_threads, &report["model"])?;

    print!("{}", table(&report));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn prepare(args: &BenchArgs) -> anyhow::Result<Setup> {
    let exe = std::env::current_exe()?;
    let plugin_dir = exe.parent().context("executable without a folder")?.into();
    let scratch = tempfile::tempdir()?;
    let meta = checkpoint::read(&args.model)
        .with_context(|| "the bundled model (--model)".to_string())?
        .0;
    let mut models = vec![(
        format!("bundled ({} blocks)", meta.blocks),
        args.model.clone(),
    )];
    if !args.quick {
        let full = if args.full_model.exists() {
            args.full_model.clone()
        } else {
            untrained_full_model(&meta, &scratch.path().join("full-untrained.safetensors"))?
        };
        models.push(("full (16 blocks)".into(), full));
    }
    let torch = args.python.exists() && Path::new(TORCH_SCRIPT).exists();
    if !torch {
        eprintln!(
            "PyTorch side skipped: needs {} and {TORCH_SCRIPT} (run from the repository root)",
            args.python.display()
        );
    }
    Ok(Setup {
        exe,
        plugin_dir,
        runs: args.runs.unwrap_or(if args.quick { 2 } else { 5 }),
        resolutions: args.resolutions.clone().unwrap_or_else(|| {
            let names: &[&str] = if args.quick {
                &["480p", "720p"]
            } else {
                &["480p", "720p", "1080p"]
            };
            names
                .iter()
                .map(|n| n.parse().expect("known size"))
                .collect()
        }),
        models,
        torch,
        scratch,
    })
}

/// A 16-block, width-64 network like `bundled`, with the authors' initialisation.
fn untrained_full_model(bundled: &Metadata, path: &Path) -> anyhow::Result<PathBuf> {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let config = RestorerConfig {
        channels: bundled.colour.channels(),
        width: 64,
        blocks: 16,
        input_skip: bundled.input_skip,
    };
    let _net = HyperRes::new(&vs.root(), config);
    let meta = Metadata {
        width: 64,
        blocks: 16,
        provenance: Provenance {
            dataset: "untrained (authors' initialisation), for timing".into(),
            ..bundled.provenance.clone()
        },
        ..bundled.clone()
    };
    checkpoint::save_var_store(path, &meta, &vs)?;
    Ok(path.into())
}

/// Thread counts (CPU) or precisions (CUDA) a device is measured at.
fn variants(device: &str, threads: &[i32]) -> Vec<(i32, Precision)> {
    if device == "cpu" {
        threads.iter().map(|&t| (t, Precision::Fp32)).collect()
    } else {
        [Precision::Fp32, Precision::Fp16, Precision::Bf16]
            .map(|p| (1, p))
            .into()
    }
}

/// Runs our worker; returns its JSON line and peak memory.
fn ours(
    setup: &Setup,
    model: &Path,
    device: &str,
    (threads, precision): (i32, Precision),
    size: Resolution,
    runs: usize,
    extra: &[&str],
) -> anyhow::Result<(Value, f64)> {
    let Finished {
        stdout,
        peak_rss_mb,
        ..
    } = process::run(
        Command::new(&setup.exe)
            .arg("worker")
            .arg("--model")
            .arg(model)
            .args(["--device", device, "--precision", precision.name()])
            .args(["--threads", &threads.to_string()])
            .args(["--width", &size.width.to_string()])
            .args(["--height", &size.height.to_string()])
            .args(["--runs", &runs.to_string()])
            .args(extra),
    )?;
    Ok((serde_json::from_str(stdout.trim())?, peak_rss_mb))
}

fn model_rows(args: &BenchArgs, setup: &Setup, devices: &[String]) -> anyhow::Result<Vec<Value>> {
    let mut rows = Vec::new();
    for device in devices {
        for (name, model) in &setup.models {
            for &size in &setup.resolutions {
                for variant in variants(device, &args.threads) {
                    let (threads, precision) = variant;
                    let (measured, peak) =
                        ours(setup, model, device, variant, size, setup.runs, &[])?;
                    let mut row = json!({
                        "device": device, "model": name, "resolution": size.name(),
                        "width": size.width, "height": size.height,
                        "threads": threads, "precision": precision.name(),
                        "ours_ms": measured["median_ms"], "ours_peak_rss_mb": peak,
                        "level_change_ms": measured["level_change_ms"],
                    });
                    if setup.torch {
                        let theirs = process::run(
                            Command::new(&args.python)
                                .arg(TORCH_SCRIPT)
                                .arg(model)
                                .args([device, &threads.to_string(), precision.name()])
                                .args([size.width.to_string(), size.height.to_string()])
                                .arg(setup.runs.to_string()),
                        )?;
                        let torch_ms =
                            serde_json::from_str::<Value>(theirs.stdout.trim())?["median_ms"]
                                .as_f64()
                                .context("PyTorch script output")?;
                        row["torch_ms"] = json!(torch_ms);
                        row["torch_peak_rss_mb"] = json!(theirs.peak_rss_mb);
                        row["ratio_vs_torch"] = json!(row["ours_ms"].as_f64().unwrap() / torch_ms);
                    }
                    eprintln!("model: {row}");
                    rows.push(row);
                }
            }
        }
    }
    Ok(rows)
}

/// Level-change cost, and frames/s at the first frame size with a constant level and with a new
/// level every frame.
fn level_change_rows(
    setup: &Setup,
    devices: &[String],
    max_threads: i32,
) -> anyhow::Result<Vec<Value>> {
    let size = setup.resolutions[0];
    let mut rows = Vec::new();
    for device in devices {
        let variant = (max_threads, Precision::Fp32);
        for (name, model) in &setup.models {
            let (constant, _) = ours(setup, model, device, variant, size, setup.runs, &[])?;
            let (sweep, _) = ours(
                setup,
                model,
                device,
                variant,
                size,
                setup.runs,
                &["--sweep"],
            )?;
            let fps = |v: &Value| 1e3 / v["median_ms"].as_f64().unwrap_or(f64::NAN);
            let row = json!({
                "device": device, "model": name, "threads": max_threads,
                "resolution": size.name(),
                "level_change_ms": constant["level_change_ms"],
                "fps_constant_level": fps(&constant),
                "fps_level_every_frame": fps(&sweep),
            });
            eprintln!("level change: {row}");
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Seconds of one run of `gst-launch-1.0` over `pipeline` (with the plugin on its path).
fn gst_launch(setup: &Setup, pipeline: &str) -> anyhow::Result<Finished> {
    process::run(
        Command::new("gst-launch-1.0")
            .arg("-q")
            .args(pipeline.split(' '))
            .env("GST_PLUGIN_PATH", &setup.plugin_dir),
    )
}

/// The whole element in a pipeline (CPU, bundled model): ms per frame from synthetic frames and,
/// with `--video`, from decoded ones.
fn element_rows(args: &BenchArgs, setup: &Setup) -> anyhow::Result<Value> {
    if !available("gst-launch-1.0", "--version") {
        return Ok(json!("skipped: gst-launch-1.0 not found"));
    }
    ensure!(
        setup.plugin_dir.join("libgsthyperres.so").exists(),
        "no libgsthyperres.so beside {} (cargo build --release first)",
        setup.exe.display()
    );
    let model = &setup.models[0].1;
    // The first launch with a new plugin path rebuilds GStreamer's registry: not part of a frame.
    process::run(
        Command::new("gst-inspect-1.0")
            .arg("hyperres")
            .env("GST_PLUGIN_PATH", &setup.plugin_dir),
    )?;
    let mut rows = Vec::new();
    for &size in &setup.resolutions {
        for &threads in &args.threads {
            let (w, h) = (size.width, size.height);
            let filter = format!(
                "hyperres model-location=\"{}\" threads={threads} level={} ! fakesink",
                model.display(),
                args.sigma
            );
            let per_frame = |source: &dyn Fn(usize) -> String| -> anyhow::Result<(f64, f64)> {
                let one = gst_launch(setup, &format!("{} ! {filter}", source(1)))?;
                let more = gst_launch(setup, &format!("{} ! {filter}", source(1 + setup.runs)))?;
                Ok((
                    (more.seconds - one.seconds) * 1e3 / setup.runs as f64,
                    more.peak_rss_mb,
                ))
            };
            let (synthetic_ms, peak) = per_frame(&|n| {
                format!(
                    "videotestsrc num-buffers={n} ! video/x-raw,format=RGB,width={w},height={h}"
                )
            })?;
            let mut row = json!({
                "resolution": size.name(), "threads": threads,
                "videotestsrc_ms": synthetic_ms, "peak_rss_mb": peak,
            });
            if let Some(video) = &args.video {
                // A video GStreamer cannot decode here costs this row, not the whole run.
                match per_frame(&|n| {
                    format!(
                        "filesrc location=\"{}\" ! decodebin ! videoconvert ! videoscale ! \
                         video/x-raw,format=RGB,width={w},height={h} ! identity eos-after={n}",
                        video.display()
                    )
                }) {
                    Ok((decoded_ms, _)) => row["decoded_ms"] = json!(decoded_ms),
                    Err(e) => row["decoded_error"] = json!(format!("{e:#}")),
                }
            }
            eprintln!("element: {row}");
            rows.push(row);
        }
    }
    Ok(Value::Array(rows))
}

/// Peak memory and time of one large frame (4K by default), whole and in tiles (bundled model, CPU).
fn memory_4k(setup: &Setup, size: Resolution, threads: i32) -> anyhow::Result<Value> {
    let model = &setup.models[0].1;
    let variant = (threads, Precision::Fp32);
    let (whole, whole_peak) = ours(setup, model, "cpu", variant, size, 1, &[])?;
    let tile = TILE_4K.to_string();
    let tiled_args = ["--tile", &tile, "--overlap", "32"];
    let (tiled, tiled_peak) = ours(setup, model, "cpu", variant, size, 1, &tiled_args)?;
    let value = json!({
        "resolution": size.name(),
        "threads": threads,
        "whole_frame": {"ms": whole["median_ms"], "peak_rss_mb": whole_peak},
        "tiled": {"tile": TILE_4K, "overlap": 32, "ms": tiled["median_ms"], "peak_rss_mb": tiled_peak},
    });
    eprintln!("4K memory: {value}");
    Ok(value)
}

/// One frame of `video` scaled to `size`, as packed 8-bit RGB.
fn clean_frame(video: &Path, size: Resolution) -> anyhow::Result<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(video)
        .args(["-frames:v", "1", "-vf"])
        .arg(format!(
            "scale={}:{}:flags=bicubic",
            size.width, size.height
        ))
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()?;
    ensure!(
        out.status.success(),
        "ffmpeg could not decode {}",
        video.display()
    );
    Ok(out.stdout)
}

/// `[1, 3, H, W]` floats in [0, 1] from packed RGB, and back (quantised).
fn to_tensor(rgb: &[u8], size: Resolution) -> Tensor {
    Tensor::from_slice(rgb)
        .view([size.height, size.width, 3])
        .permute([2, 0, 1])
        .unsqueeze(0)
        .to_kind(Kind::Float)
        / 255.0
}

fn to_rgb(image: &Tensor) -> Vec<u8> {
    let bytes = quantise(image)
        .squeeze_dim(0)
        .permute([1, 2, 0])
        .to_kind(Kind::Uint8)
        .contiguous();
    Vec::<u8>::try_from(bytes.view([-1])).expect("u8 tensor")
}

/// FFmpeg filter graphs tried for one noise level: (filter, strength, graph). nlmeans works in
/// YUV 4:4:4 (it leaves RGB planes nearly untouched); hqdn3d spatial only, as on a single frame.
fn ffmpeg_candidates(sigma: f64) -> Vec<(&'static str, f64, String)> {
    let nlmeans = [0.3, 0.4, 0.5].map(|f| {
        let s = (sigma * f).clamp(1.0, 30.0);
        ("nlmeans", s, format!("format=yuv444p,nlmeans=s={s}"))
    });
    let hqdn3d = [1.0, 2.0, 3.0].map(|f| {
        let s = sigma * f;
        ("hqdn3d", s, format!("format=yuv444p,hqdn3d={s}:{s}:0:0"))
    });
    nlmeans.into_iter().chain(hqdn3d).collect()
}

fn ffmpeg_filter(
    input: &Path,
    frames: usize,
    size: Resolution,
    graph: &str,
    threads: i32,
) -> anyhow::Result<(Finished, Vec<u8>)> {
    let output = input.with_extension("out.rgb");
    let finished = process::run(
        Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"])
            .args(["-s", &format!("{}x{}", size.width, size.height), "-i"])
            .arg(input)
            .args(["-frames:v", &frames.to_string()])
            .args(["-filter_threads", &threads.to_string(), "-vf"])
            .arg(format!("{graph},format=rgb24"))
            .args(["-f", "rawvideo"])
            .arg(&output),
    )?;
    let rgb = std::fs::read(&output)?;
    Ok((finished, rgb))
}

/// Ours and FFmpeg's denoisers on the same noisy frames: PSNR against the clean frame and
/// seconds per frame (FFmpeg: best of a few strengths; ours: the model table's time).
fn ffmpeg_rows(
    args: &BenchArgs,
    setup: &Setup,
    threads: i32,
    model_rows: &Value,
) -> anyhow::Result<Value> {
    let Some(video) = &args.video else {
        return Ok(json!("skipped: needs --video (the clean frames)"));
    };
    if !available("ffmpeg", "-version") {
        return Ok(json!("skipped: ffmpeg not found"));
    }
    let mut restorer = Restorer::load(&setup.models[0].1, Device::Cpu)?;
    restorer.set_level(args.sigma)?;
    tch::set_num_threads(threads);
    let mut rows = Vec::new();
    for &size in &setup.resolutions {
        let clean = to_tensor(&clean_frame(video, size)?, size);
        let noisy = add_noise(&clean, args.sigma, &mut seeded_rng(0, 0));
        let noisy_rgb = to_rgb(&noisy);
        let frames = 1 + setup.runs;
        let input = setup
            .scratch
            .path()
            .join(format!("noisy-{}.rgb", size.name()));
        std::fs::write(&input, noisy_rgb.repeat(frames))?;
        let ours_ms = model_rows
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| {
                r["device"] == "cpu"
                    && r["resolution"] == size.name().as_str()
                    && r["threads"] == threads
                    && r["model"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("bundled"))
            })
            .and_then(|r| r["ours_ms"].as_f64());
        // PSNR on the 0..255 scale, as the trainer's metrics take it.
        let clean_8bit = quantise(&clean);
        let restored = quantise(&restorer.restore(&noisy));
        let mut row = json!({
            "resolution": size.name(), "sigma": args.sigma, "threads": threads,
            "noisy_psnr": psnr(&quantise(&noisy), &clean_8bit),
            "ours": {"psnr": psnr(&restored, &clean_8bit), "seconds_per_frame": ours_ms.map(|ms| ms / 1e3)},
        });
        let mut best: Vec<(&str, f64, f64, String)> = Vec::new();
        for (filter, strength, graph) in ffmpeg_candidates(args.sigma) {
            let (_, out) = ffmpeg_filter(&input, 1, size, &graph, threads)?;
            if out.len() != noisy_rgb.len() {
                bail!("ffmpeg {graph}: unexpected output size");
            }
            let quality = psnr(&quantise(&to_tensor(&out, size)), &clean_8bit);
            match best.iter_mut().find(|b| b.0 == filter) {
                Some(b) if b.2 >= quality => {}
                Some(b) => *b = (filter, strength, quality, graph),
                None => best.push((filter, strength, quality, graph)),
            }
        }
        for (filter, strength, quality, graph) in best {
            let (one, _) = ffmpeg_filter(&input, 1, size, &graph, threads)?;
            let (more, _) = ffmpeg_filter(&input, frames, size, &graph, threads)?;
            row[filter] = json!({
                "strength": strength, "psnr": quality,
                "seconds_per_frame": (more.seconds - one.seconds) / setup.runs as f64,
            });
        }
        eprintln!("ffmpeg: {row}");
        rows.push(row);
    }
    Ok(Value::Array(rows))
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default();
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cuda_devices": tch::Cuda::device_count(),
    })
}

fn number(v: &Value, digits: usize) -> String {
    v.as_f64().map_or("-".into(), |x| format!("{x:.digits$}"))
}

/// The report as Markdown tables.
fn table(report: &Value) -> String {
    let mut out = String::new();
    let rows = |key: &str| report[key].as_array().cloned().unwrap_or_default();
    let _ = writeln!(
        out,
        "\n## Model only (ms per frame, median)\n\n| device | model | size | threads | precision | ours | PyTorch eager | ratio | ours peak MB | PyTorch peak MB |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in rows("model") {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r["device"].as_str().unwrap_or(""),
            r["model"].as_str().unwrap_or(""),
            r["resolution"].as_str().unwrap_or(""),
            r["threads"],
            r["precision"].as_str().unwrap_or(""),
            number(&r["ours_ms"], 1),
            number(&r["torch_ms"], 1),
            number(&r["ratio_vs_torch"], 3),
            number(&r["ours_peak_rss_mb"], 0),
            number(&r["torch_peak_rss_mb"], 0),
        );
    }
    let _ = writeln!(
        out,
        "\n## Level change\n\n| device | model | size | regeneration ms | fps, constant level | fps, new level every frame |\n|---|---|---|---|---|---|"
    );
    for r in rows("level_change") {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r["device"].as_str().unwrap_or(""),
            r["model"].as_str().unwrap_or(""),
            r["resolution"].as_str().unwrap_or(""),
            number(&r["level_change_ms"], 3),
            number(&r["fps_constant_level"], 2),
            number(&r["fps_level_every_frame"], 2),
        );
    }
    match report["element"].as_array() {
        Some(element) => {
            let _ = writeln!(
                out,
                "\n## Element in a pipeline (bundled model, CPU; ms per frame)\n\n| size | threads | videotestsrc | decoded video | peak MB |\n|---|---|---|---|---|"
            );
            for r in element {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    r["resolution"].as_str().unwrap_or(""),
                    r["threads"],
                    number(&r["videotestsrc_ms"], 1),
                    number(&r["decoded_ms"], 1),
                    number(&r["peak_rss_mb"], 0),
                );
            }
        }
        None => {
            let _ = writeln!(out, "\nElement: {}", report["element"]);
        }
    }
    let m = &report["memory_4k"];
    if m.is_object() {
        let _ = writeln!(
            out,
            "\n## One {} frame (bundled model, CPU, {} threads)\n\n| | ms | peak MB |\n|---|---|---|\n| whole frame | {} | {} |\n| tiles of {} (overlap {}) | {} | {} |",
            m["resolution"].as_str().unwrap_or(""),
            m["threads"],
            number(&m["whole_frame"]["ms"], 0),
            number(&m["whole_frame"]["peak_rss_mb"], 0),
            m["tiled"]["tile"],
            m["tiled"]["overlap"],
            number(&m["tiled"]["ms"], 0),
            number(&m["tiled"]["peak_rss_mb"], 0),
        );
    }
    match report["ffmpeg"].as_array() {
        Some(ffmpeg) => {
            let _ = writeln!(
                out,
                "\n## Against FFmpeg (PSNR dB / seconds per frame)\n\n| size | sigma | noisy | ours | nlmeans (best s) | hqdn3d (best) |\n|---|---|---|---|---|---|"
            );
            for r in ffmpeg {
                let cell = |v: &Value| {
                    format!(
                        "{} / {}",
                        number(&v["psnr"], 2),
                        number(&v["seconds_per_frame"], 3)
                    )
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} (s={}) | {} ({}) |",
                    r["resolution"].as_str().unwrap_or(""),
                    r["sigma"],
                    number(&r["noisy_psnr"], 2),
                    cell(&r["ours"]),
                    cell(&r["nlmeans"]),
                    number(&r["nlmeans"]["strength"], 1),
                    cell(&r["hqdn3d"]),
                    number(&r["hqdn3d"]["strength"], 0),
                );
            }
        }
        None => {
            let _ = writeln!(out, "\nFFmpeg: {}", report["ffmpeg"]);
        }
    }
    out
}
