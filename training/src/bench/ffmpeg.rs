//! FFmpeg's denoisers (nlmeans, hqdn3d) on the same noisy frames as ours: PSNR and seconds per
//! frame, the best of a few strengths each.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, ensure};
use gsthyperres::restorer::Restorer;
use serde_json::{Value, json};
use tch::{Device, Kind, Tensor};

use super::process::{self, available};
use super::{BenchArgs, Resolution, Setup};
use crate::degrade::{add_noise, seeded_rng};
use crate::metrics::{psnr, quantise};
use crate::pixels::{from_packed, to_packed};

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

/// `[3, H, W]` floats in [0, 1] from packed RGB.
fn to_tensor(rgb: &[u8], size: Resolution) -> Tensor {
    from_packed(rgb, 3, size.height, size.width).to_kind(Kind::Float) / 255.0
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

/// FFmpeg reading the one frame in `input` over and over (`frames` of them), through `graph`.
fn ffmpeg_command(
    input: &Path,
    frames: usize,
    size: Resolution,
    graph: &str,
    threads: i32,
) -> Command {
    let mut command = Command::new("ffmpeg");
    command
        .args(["-v", "error", "-y", "-stream_loop", "-1"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24"])
        .args(["-s", &format!("{}x{}", size.width, size.height), "-i"])
        .arg(input)
        .args(["-frames:v", &frames.to_string()])
        .args(["-filter_threads", &threads.to_string(), "-vf"])
        .arg(format!("{graph},format=rgb24"));
    command
}

/// `graph`'s output for the frame in `input`, as packed RGB.
fn ffmpeg_filter(
    input: &Path,
    size: Resolution,
    graph: &str,
    threads: i32,
) -> anyhow::Result<Vec<u8>> {
    let output = input.with_extension("out.rgb");
    process::run(
        ffmpeg_command(input, 1, size, graph, threads)
            .args(["-f", "rawvideo"])
            .arg(&output),
    )?;
    Ok(std::fs::read(output)?)
}

/// Seconds per frame of `graph`, from the time of a run discarding its output.
fn ffmpeg_seconds_per_frame(
    input: &Path,
    size: Resolution,
    graph: &str,
    threads: i32,
    runs: usize,
) -> anyhow::Result<f64> {
    seconds_per_frame(runs, |frames| {
        let mut command = ffmpeg_command(input, frames, size, graph, threads);
        Ok(process::run(command.args(["-f", "null", "-"]))?.seconds)
    })
}

/// Seconds per frame from `seconds(n)`, the time of a run of n frames: what frames beyond the
/// first add, against the faster of two one-frame runs. A process's start-up varies by tens of
/// milliseconds (FFmpeg's, here), more than a few frames of a fast filter take (hqdn3d: a few
/// ms), so the frames beyond the first grow from `runs`, fourfold at a time, until they take a
/// second (or number `runs` x 64); then the median of three such runs, as a shared machine's
/// speed varies from one run to the next.
fn seconds_per_frame(
    runs: usize,
    mut seconds: impl FnMut(usize) -> anyhow::Result<f64>,
) -> anyhow::Result<f64> {
    let first = seconds(1)?.min(seconds(1)?);
    let mut extra = runs.max(1);
    let mut added = seconds(1 + extra)? - first;
    while added < 1.0 && extra < runs * 64 {
        extra *= 4;
        added = seconds(1 + extra)? - first;
    }
    let mut added = [
        added,
        seconds(1 + extra)? - first,
        seconds(1 + extra)? - first,
    ];
    added.sort_by(f64::total_cmp);
    Ok(added[1] / extra as f64)
}

/// Ours and FFmpeg's denoisers on the same noisy frames: PSNR against the clean frame and
/// seconds per frame (FFmpeg: best of a few strengths; ours: the model table's time).
pub(super) fn ffmpeg_rows(
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
    let mut restorer = Restorer::load(&setup.models[0].path, Device::Cpu)?;
    restorer.set_level(args.sigma)?;
    tch::set_num_threads(threads);
    let mut rows = Vec::new();
    for &size in &setup.resolutions {
        let clean = to_tensor(&clean_frame(video, size)?, size);
        let noisy = add_noise(&clean, args.sigma, &mut seeded_rng(0, 0));
        let noisy_rgb = to_packed(&noisy);
        let input = setup
            .scratch
            .path()
            .join(format!("noisy-{}.rgb", size.name()));
        std::fs::write(&input, &noisy_rgb)?;
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
        let restored = quantise(&restorer.restore(&noisy.unsqueeze(0)).squeeze_dim(0));
        let mut row = json!({
            "resolution": size.name(), "sigma": args.sigma, "threads": threads,
            "noisy_psnr": psnr(&quantise(&noisy), &clean_8bit),
            "ours": {"psnr": psnr(&restored, &clean_8bit), "seconds_per_frame": ours_ms.map(|ms| ms / 1e3)},
        });
        let mut best: Vec<(&str, f64, f64, String)> = Vec::new();
        for (filter, strength, graph) in ffmpeg_candidates(args.sigma) {
            let out = ffmpeg_filter(&input, size, &graph, threads)?;
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
            let seconds = ffmpeg_seconds_per_frame(&input, size, &graph, threads, setup.runs)?;
            row[filter] =
                json!({"strength": strength, "psnr": quality, "seconds_per_frame": seconds});
        }
        eprintln!("ffmpeg: {row}");
        rows.push(row);
    }
    Ok(Value::Array(rows))
}

#[cfg(test)]
mod tests {
    use super::seconds_per_frame;

    /// A run of n frames: a start-up of 80 ms (130 after the first run), then `per_frame` each.
    fn clock(per_frame: f64) -> impl FnMut(usize) -> anyhow::Result<f64> {
        let mut calls = 0;
        move |frames| {
            calls += 1;
            let jitter = if calls > 1 { 0.05 } else { 0.0 };
            Ok(0.08 + jitter + frames as f64 * per_frame)
        }
    }

    #[test]
    fn a_fast_filter_runs_enough_frames_that_start_up_jitter_does_not_count() {
        // Two frames beyond the first alone would read (0.13 + 3 x 0.005 - 0.085) / 2 = 0.03 s.
        let seconds = seconds_per_frame(2, clock(0.005)).unwrap();
        assert!((seconds - 0.005).abs() < 0.0005, "{seconds}");
    }

    #[test]
    fn a_slow_filter_is_timed_over_the_frames_asked_for() {
        let mut frames_run = Vec::new();
        let mut clock = clock(0.7);
        let seconds = seconds_per_frame(2, |n| {
            frames_run.push(n);
            clock(n)
        })
        .unwrap();
        assert_eq!(frames_run, [1, 1, 3, 3, 3]);
        assert!((seconds - 0.7).abs() < 0.03, "{seconds}");
    }

    #[test]
    fn one_run_the_machine_slowed_down_does_not_count() {
        let mut calls = 0;
        let seconds = seconds_per_frame(2, |frames| {
            calls += 1;
            let slowdown = if calls == 4 { 3.0 } else { 1.0 };
            Ok(0.08 + frames as f64 * 0.7 * slowdown)
        })
        .unwrap();
        assert!((seconds - 0.7).abs() < 1e-9, "{seconds}");
    }
}
