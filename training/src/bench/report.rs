//! The benchmark report: the machine it ran on, and its JSON as Markdown tables.

use std::fmt::Write as _;

use serde_json::{Value, json};

pub(super) fn machine() -> Value {
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
pub(super) fn table(report: &Value) -> String {
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
