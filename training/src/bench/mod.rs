//! `hyperres-bench`: how fast the restorer runs on this machine, in one command, against the same
//! architecture and weights in PyTorch eager and against FFmpeg's denoisers. Every measurement
//! runs in a child process (our worker, the PyTorch script, `gst-launch-1.0`, `ffmpeg`) so that its
//! peak resident memory is its own; times are medians, and start-up never counts: FFmpeg is timed
//! by difference (1 + N frames minus 1 frame), the element by the intervals between its frames.

mod ffmpeg;
pub mod process;
mod report;
pub mod worker;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use anyhow::{Context, ensure};
use clap::{Args, ValueEnum};
use gsthyperres::checkpoint::{self, Metadata, Provenance};
use gsthyperres::cpu_bf16;
use gsthyperres::model::{HyperRes, RestorerConfig};
use serde_json::{Value, json};
use tch::{Device, nn};

use crate::eval::Precision;
use ffmpeg::ffmpeg_rows;
use process::{Finished, available};
use report::{machine, table};

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
    #[arg(long, value_delimiter = ',', default_value = "1,2", value_parser = crate::args::thread_count())]
    threads: Vec<i32>,
    /// Frame sizes: 480p, 720p, 1080p, 2160p or WxH (default 480p,720p,1080p; --quick: 480p,720p).
    #[arg(long, value_delimiter = ',')]
    resolutions: Option<Vec<Resolution>>,
    /// The bundled model (the size most users run).
    #[arg(long, default_value = "models/denoise-rgb.safetensors")]
    model: PathBuf,
    /// The full-size (16-block) model (bundled in f16, computed in f32 like the others); when the
    /// file is absent, an untrained one with the authors' initialisation stands in for timing
    /// (speed does not depend on the weights' values).
    #[arg(long, default_value = "models/denoise-rgb-16b.safetensors")]
    full_model: PathBuf,
    /// The fast model (the real-time pick on a CPU); timed even with --quick, skipped when absent.
    #[arg(long, default_value = "models/denoise-rgb-fast.safetensors")]
    fast_model: PathBuf,
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
    /// The parts to run (e.g. only `element` on a GPU machine whose model rows are measured).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "model,level-change,element,memory,ffmpeg"
    )]
    parts: Vec<Part>,
}

/// A part of the benchmark (a section of its report).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Model,
    LevelChange,
    Element,
    Memory,
    Ffmpeg,
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

/// A model the run times.
struct Timed {
    name: String,
    path: PathBuf,
    /// Also run through the element: the bundled model, and the fast one except with --quick (which
    /// must end within 10 minutes); never the full-size one (longer than the rest of a CPU run).
    in_element: bool,
}

/// What the run measures with, resolved once.
struct Setup {
    exe: PathBuf,
    plugin_dir: PathBuf,
    runs: usize,
    resolutions: Vec<Resolution>,
    /// The bundled model first (the memory and FFmpeg parts use it alone).
    models: Vec<Timed>,
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
        "models": setup.models.iter().map(|m| json!({"name": m.name, "path": m.path})).collect::<Vec<_>>(),
    });

    // A part left out of `--parts` is marked so in the report.
    let part = |part: Part, measure: &dyn Fn() -> anyhow::Result<Value>| {
        if args.parts.contains(&part) {
            measure()
        } else {
            Ok(json!("skipped: not in --parts"))
        }
    };
    report["model"] = part(Part::Model, &|| {
        Ok(Value::Array(model_rows(&args, &setup, &devices)?))
    })?;
    report["level_change"] = part(Part::LevelChange, &|| {
        Ok(Value::Array(level_change_rows(
            &setup,
            &devices,
            max_threads,
        )?))
    })?;
    report["element"] = part(Part::Element, &|| element_rows(&args, &setup, &devices))?;
    report["memory_4k"] = part(Part::Memory, &|| {
        if devices.iter().any(|d| d == "cpu") {
            memory_4k(&setup, args.memory_resolution, max_threads)
        } else {
            Ok(json!("skipped: CPU not benchmarked"))
        }
    })?;
    let ffmpeg = part(Part::Ffmpeg, &|| {
        ffmpeg_rows(&args, &setup, max_threads, &report["model"])
    })?;
    report["ffmpeg"] = ffmpeg;

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
    let mut models = vec![Timed {
        name: format!("bundled ({} blocks)", meta.blocks),
        path: args.model.clone(),
        in_element: true,
    }];
    if args.fast_model.exists() {
        let fast = checkpoint::read(&args.fast_model)
            .context("the fast model (--fast-model)")?
            .0;
        models.push(Timed {
            name: format!("fast ({} blocks x {})", fast.blocks, fast.width),
            path: args.fast_model.clone(),
            in_element: !args.quick,
        });
    }
    // Only the model and level-change parts time the full-size model.
    let times_models = [Part::Model, Part::LevelChange]
        .iter()
        .any(|p| args.parts.contains(p));
    if !args.quick && times_models {
        let full = if args.full_model.exists() {
            args.full_model.clone()
        } else {
            untrained_full_model(&meta, &scratch.path().join("full-untrained.safetensors"))?
        };
        models.push(Timed {
            name: "full (16 blocks)".into(),
            path: full,
            in_element: false,
        });
    }
    let torch = args.python.exists() && Path::new(TORCH_SCRIPT).exists();
    if !torch {
        eprintln!(
            "PyTorch side skipped: needs {} and {TORCH_SCRIPT} (run from the repository root)",
            args.python.display()
        );
    }
    if let Some(why) = cpu_bf16::not_worth_it(Device::Cpu) {
        eprintln!("CPU bf16 rows skipped: {why}");
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

/// Thread counts and precisions a device is measured at: on the CPU fp32, and bf16 where it is
/// faster (`cpu_bf16`), at each thread count; on CUDA all three precisions.
fn variants(device: &str, threads: &[i32]) -> Vec<(i32, Precision)> {
    if device == "cpu" {
        let precisions: &[Precision] = if cpu_bf16::is_fast() {
            &[Precision::Fp32, Precision::Bf16]
        } else {
            &[Precision::Fp32]
        };
        threads
            .iter()
            .flat_map(|&t| precisions.iter().map(move |&p| (t, p)))
            .collect()
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
        for Timed { name, path, .. } in &setup.models {
            for &size in &setup.resolutions {
                for variant in variants(device, &args.threads) {
                    let (threads, precision) = variant;
                    let (measured, peak) =
                        ours(setup, path, device, variant, size, setup.runs, &[])?;
                    let mut row = json!({
                        "device": device, "model": name, "resolution": size.name(),
                        "width": size.width, "height": size.height,
                        "threads": threads, "precision": precision.name(),
                        "ours_ms": measured["median_ms"], "ours_peak_rss_mb": peak,
                        "level_change_ms": measured["level_change_ms"],
                    });
                    if setup.torch {
                        // PyTorch's bf16 CPU convolutions are 4x slower in its default layout
                        // (measured at 480p): its reference runs channels-last there, as ours.
                        let layout = (device == "cpu" && precision == Precision::Bf16)
                            .then_some("channels_last");
                        let theirs = process::run(
                            Command::new(&args.python)
                                .arg(TORCH_SCRIPT)
                                .arg(path)
                                .args([device, &threads.to_string(), precision.name()])
                                .args([size.width.to_string(), size.height.to_string()])
                                .arg(setup.runs.to_string())
                                .args(layout),
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
    // Two medians to compare, the sweep's over its whole cycle of 10 levels: --quick's 2 frames
    // each once read 0.75 against 1.12 frames/s on a 2-core VM where 10 read 1.21 against 1.20.
    let runs = setup.runs.max(10);
    let mut rows = Vec::new();
    for device in devices {
        let variant = (max_threads, Precision::Fp32);
        for Timed { name, path, .. } in &setup.models {
            let (constant, _) = ours(setup, path, device, variant, size, runs, &[])?;
            let (sweep, _) = ours(setup, path, device, variant, size, runs, &["--sweep"])?;
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

/// One run of `gst-launch-1.0` over `pipeline` (with the plugin on its path), logging the
/// element's "frame done" trace line to stderr for every frame, whatever the caller's log settings.
fn gst_launch(setup: &Setup, pipeline: &str) -> anyhow::Result<Finished> {
    process::run(
        Command::new("gst-launch-1.0")
            .arg("-q")
            .args(pipeline.split(' '))
            .env("GST_PLUGIN_PATH", &setup.plugin_dir)
            .env("GST_DEBUG", "hyperres:TRACE")
            .env("GST_DEBUG_NO_COLOR", "1")
            .env_remove("GST_DEBUG_FILE"),
    )
}

/// Milliseconds between consecutive frames leaving the element, from the GStreamer log clock
/// (`H:MM:SS.nnnnnnnnn`, a line's first field) of its "frame done" lines. The element shares its
/// streaming thread with the sink and with what feeds it (`videotestsrc`, or the decoder and scaler
/// after decodebin's internal queue), so an interval is the pipeline's whole cost of a frame; the
/// first frame's start-up (plugin, model, first allocations) falls before them all.
fn frame_intervals_ms(log: &str) -> Vec<f64> {
    let seconds = |stamp: &str| -> Option<f64> {
        let mut fields = stamp.split(':').map(|f| f.parse::<f64>().ok());
        Some(fields.next()?? * 3600.0 + fields.next()?? * 60.0 + fields.next()??)
    };
    let done: Vec<f64> = log
        .lines()
        .filter(|line| line.contains("frame done"))
        .filter_map(|line| seconds(line.split_whitespace().next()?))
        .collect();
    done.windows(2).map(|w| (w[1] - w[0]) * 1e3).collect()
}

/// The whole element in a pipeline (the models marked `in_element`, in each of [`variants`]): ms
/// per frame from synthetic frames and, with `--video`, from decoded ones.
fn element_rows(args: &BenchArgs, setup: &Setup, devices: &[String]) -> anyhow::Result<Value> {
    if !available("gst-launch-1.0", "--version") {
        return Ok(json!("skipped: gst-launch-1.0 not found"));
    }
    ensure!(
        setup.plugin_dir.join("libgsthyperres.so").exists(),
        "no libgsthyperres.so beside {} (cargo build --release first)",
        setup.exe.display()
    );
    // The first launch with a new plugin path rebuilds GStreamer's registry: not part of a frame.
    process::run(
        Command::new("gst-inspect-1.0")
            .arg("hyperres")
            .env("GST_PLUGIN_PATH", &setup.plugin_dir),
    )?;
    let mut rows = Vec::new();
    for device in devices {
        for model in setup.models.iter().filter(|m| m.in_element) {
            for &size in &setup.resolutions {
                for variant in variants(device, &args.threads) {
                    let row = element_row(args, setup, model, device, size, variant)?;
                    eprintln!("element: {row}");
                    rows.push(row);
                }
            }
        }
    }
    Ok(Value::Array(rows))
}

/// One row of [`element_rows`]: `model` on `device` at `size`.
fn element_row(
    args: &BenchArgs,
    setup: &Setup,
    model: &Timed,
    device: &str,
    size: Resolution,
    (threads, precision): (i32, Precision),
) -> anyhow::Result<Value> {
    let (w, h) = (size.width, size.height);
    let filter = format!(
        "hyperres model-location=\"{}\" device={device} precision={} threads={threads} level={} \
         ! fakesink",
        model.path.display(),
        precision.name(),
        args.sigma
    );
    let per_frame = |source: &dyn Fn(usize) -> String| -> anyhow::Result<(f64, f64)> {
        let run = gst_launch(setup, &format!("{} ! {filter}", source(1 + setup.runs)))?;
        // A decoder may push a few frames past `eos-after` (they are timed too).
        let mut intervals = frame_intervals_ms(&run.stderr);
        ensure!(
            intervals.len() >= setup.runs,
            "{} frame intervals in the element's log, expected {}",
            intervals.len(),
            setup.runs
        );
        Ok((process::median(&mut intervals), run.peak_rss_mb))
    };
    let (synthetic_ms, peak) = per_frame(&|n| {
        format!("videotestsrc num-buffers={n} ! video/x-raw,format=RGB,width={w},height={h}")
    })?;
    let mut row = json!({
        "device": device, "model": model.name, "resolution": size.name(), "threads": threads,
        "precision": precision.name(), "videotestsrc_ms": synthetic_ms, "peak_rss_mb": peak,
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
    Ok(row)
}

/// Peak memory and time of one large frame (4K by default), whole and in tiles (bundled model, CPU).
fn memory_4k(setup: &Setup, size: Resolution, threads: i32) -> anyhow::Result<Value> {
    let model = &setup.models[0].path;
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

#[cfg(test)]
mod tests {
    use super::frame_intervals_ms;

    #[test]
    fn frame_intervals_come_from_the_log_clock_of_frame_done_lines() {
        // Lines as GStreamer 1.22 writes them (GST_DEBUG_NO_COLOR=1), between others.
        let log = "\
0:00:00.990000000 26930 0x55b74afce800 DEBUG hyperres imp.rs:651:<hyperres0> negotiated RGB 64x48
0:00:01.016175403 26930 0x55b74afce800 TRACE hyperres imp.rs:896:<hyperres0> frame done; 0 MB
0:00:01.022143448 26930 0x55b74afce800 TRACE hyperres imp.rs:896:<hyperres0> frame done; 0 MB
1:02:03.500000000 26930 0x55b74afce800 TRACE hyperres imp.rs:896:<hyperres0> frame done; 0 MB";
        let intervals = frame_intervals_ms(log);
        assert_eq!(intervals.len(), 2);
        assert!((intervals[0] - 5.968045).abs() < 1e-6, "{intervals:?}");
        let hours = 3600.0 + 2.0 * 60.0 + 3.5 - 1.022143448;
        assert!((intervals[1] - hours * 1e3).abs() < 1e-3, "{intervals:?}");
        assert!(frame_intervals_ms("no frames here").is_empty());
    }
}
