//! FFmpeg's denoisers (nlmeans, hqdn3d) on the same noisy frames as ours: PSNR and seconds per
//! frame, the best of a few strengths each.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, ensure};
use gsthyperres::restorer::Restorer;
use serde_json::{Value, json};
use tch::{Device, Kind, Tensor};

use super::process::{self, Finished, available};
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
        let restored = quantise(&restorer.restore(&noisy.unsqueeze(0)).squeeze_dim(0));
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
