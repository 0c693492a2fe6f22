//! The benchmark report: the machine it ran on, and its JSON as Markdown tables.

use std::fmt::Write as _;

use gsthyperres::cpu_bf16;
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
        "cpu_bf16": cpu_bf16::is_fast(),
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cuda_devices": tch::Cuda::device_count(),
    })
}

fn number(v: &Value, digits: usize) -> String {
    v.as_f64().map_or("-".into(), |x| format!("{x:.digits$}"))
}

/// A JSON value as a table cell: strings unquoted, absent values as "-".
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

/// One titled Markdown table; none without rows (e.g. a part `--parts` left out).
fn section(
    out: &mut String,
    title: &str,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) {
    let mut rows = rows.into_iter().peekable();
    if rows.peek().is_none() {
        return;
    }
    let _ = writeln!(out, "\n## {title}\n\n| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
}

/// A table column: its header and the key of its value in each row, shown as text or as a number
/// with so many digits.
#[derive(Clone, Copy)]
enum Column {
    Text(&'static str, &'static str),
    Number(&'static str, &'static str, usize),
}

/// The first columns of the timing tables: what was measured where (the level-change table has
/// these three only), then with which settings.
const CONFIGURATION: [Column; 5] = [
    Column::Text("device", "device"),
    Column::Text("model", "model"),
    Column::Text("size", "resolution"),
    Column::Text("threads", "threads"),
    Column::Text("precision", "precision"),
];

/// A table whose cells are the rows' values under `columns`.
fn columns_section(out: &mut String, title: &str, rows: &[Value], columns: &[Column]) {
    let header: Vec<&str> = columns
        .iter()
        .map(|c| match *c {
            Column::Text(h, _) | Column::Number(h, _, _) => h,
        })
        .collect();
    let cells = |r: &Value| {
        columns
            .iter()
            .map(|c| match *c {
                Column::Text(_, key) => text(&r[key]),
                Column::Number(_, key, digits) => number(&r[key], digits),
            })
            .collect()
    };
    section(out, title, &header, rows.iter().map(cells));
}

/// The report as Markdown tables.
pub(super) fn table(report: &Value) -> String {
    let mut out = String::new();
    let rows = |key: &str| report[key].as_array().map_or(&[][..], Vec::as_slice);
    columns_section(
        &mut out,
        "Model only (ms per frame, median)",
        rows("model"),
        &[
            &CONFIGURATION[..],
            &[
                Column::Number("ours", "ours_ms", 1),
                Column::Number("PyTorch eager", "torch_ms", 1),
                Column::Number("ratio", "ratio_vs_torch", 3),
                Column::Number("ours peak MB", "ours_peak_rss_mb", 0),
                Column::Number("PyTorch peak MB", "torch_peak_rss_mb", 0),
            ],
        ]
        .concat(),
    );
    columns_section(
        &mut out,
        "Level change",
        rows("level_change"),
        &[
            &CONFIGURATION[..3],
            &[
                Column::Number("regeneration ms", "level_change_ms", 3),
                Column::Number("fps, constant level", "fps_constant_level", 2),
                Column::Number("fps, new level every frame", "fps_level_every_frame", 2),
            ],
        ]
        .concat(),
    );
    match report["element"].as_array() {
        Some(element) => columns_section(
            &mut out,
            "Element in a pipeline (ms per frame)",
            element,
            &[
                &CONFIGURATION[..],
                &[
                    Column::Number("videotestsrc", "videotestsrc_ms", 1),
                    Column::Number("decoded video", "decoded_ms", 1),
                    Column::Number("peak MB", "peak_rss_mb", 0),
                ],
            ]
            .concat(),
        ),
        None => {
            let _ = writeln!(out, "\nElement: {}", report["element"]);
        }
    }
    let m = &report["memory_4k"];
    if m.is_object() {
        let (whole, tiled) = (&m["whole_frame"], &m["tiled"]);
        section(
            &mut out,
            &format!(
                "One {} frame (bundled model, CPU, {} threads)",
                text(&m["resolution"]),
                text(&m["threads"])
            ),
            &["", "ms", "peak MB"],
            [
                vec![
                    "whole frame".into(),
                    number(&whole["ms"], 0),
                    number(&whole["peak_rss_mb"], 0),
                ],
                vec![
                    format!(
                        "tiles of {} (overlap {})",
                        text(&tiled["tile"]),
                        text(&tiled["overlap"])
                    ),
                    number(&tiled["ms"], 0),
                    number(&tiled["peak_rss_mb"], 0),
                ],
            ],
        );
    }
    // PSNR and seconds per frame of one method.
    let cell = |v: &Value| {
        format!(
            "{} / {}",
            number(&v["psnr"], 2),
            number(&v["seconds_per_frame"], 3)
        )
    };
    match report["ffmpeg"].as_array() {
        Some(ffmpeg) => section(
            &mut out,
            "Against FFmpeg (PSNR dB / seconds per frame)",
            &[
                "size",
                "sigma",
                "noisy",
                "ours",
                "nlmeans (best s)",
                "hqdn3d (best)",
            ],
            ffmpeg.iter().map(|r| {
                vec![
                    text(&r["resolution"]),
                    text(&r["sigma"]),
                    number(&r["noisy_psnr"], 2),
                    cell(&r["ours"]),
                    format!(
                        "{} (s={})",
                        cell(&r["nlmeans"]),
                        number(&r["nlmeans"]["strength"], 1)
                    ),
                    format!(
                        "{} ({})",
                        cell(&r["hqdn3d"]),
                        number(&r["hqdn3d"]["strength"], 0)
                    ),
                ]
            }),
        ),
        None => {
            let _ = writeln!(out, "\nFFmpeg: {}", report["ffmpeg"]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_show_values_and_mark_missing_ones() {
        let report = json!({
            "model": [{"device": "cpu", "model": "denoise 6x64", "resolution": "480p", "threads": 2,
                       "precision": "fp32", "ours_ms": 101.26, "torch_ms": null, "ratio_vs_torch": 0.5}],
            "element": "skipped: no GStreamer",
            "ffmpeg": [{"resolution": "720p", "sigma": 25, "noisy_psnr": 20.5,
                        "ours": {"psnr": 39.94, "seconds_per_frame": 0.25},
                        "nlmeans": {"psnr": 34.9, "seconds_per_frame": 1.5, "strength": 10.0},
                        "hqdn3d": {"psnr": 30.0, "seconds_per_frame": 0.01, "strength": 8}}],
        });
        let md = table(&report);
        assert!(
            md.contains("| cpu | denoise 6x64 | 480p | 2 | fp32 | 101.3 | - | 0.500 | - | - |"),
            "{md}"
        );
        assert!(
            !md.contains("## Level change"),
            "no level-change table without its rows: {md}"
        );
        assert!(md.contains("\nElement: \"skipped: no GStreamer\""), "{md}");
        assert!(
            md.contains(
                "| 720p | 25 | 20.50 | 39.94 / 0.250 | 34.90 / 1.500 (s=10.0) | 30.00 / 0.010 (8) |"
            ),
            "{md}"
        );
        assert!(
            !md.contains("## One "),
            "no memory section without its data: {md}"
        );
        let report = json!({
            "level_change": [{"device": "cuda", "model": "sr 16x64", "resolution": "1080p",
                              "level_change_ms": 0.1234, "fps_constant_level": 60.0}],
            "element": [{"device": "cpu", "model": "denoise 6x64", "resolution": "720p", "threads": 1,
                         "precision": "bf16", "videotestsrc_ms": 250.04, "peak_rss_mb": 812.4}],
        });
        let md = table(&report);
        assert!(
            md.contains("| cuda | sr 16x64 | 1080p | 0.123 | 60.00 | - |"),
            "{md}"
        );
        assert!(
            md.contains("| cpu | denoise 6x64 | 720p | 1 | bf16 | 250.0 | - | 812 |"),
            "{md}"
        );
    }
}
