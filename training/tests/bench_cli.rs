//! `hyperres-bench` end to end at tiny sizes: every section measures something, ours and PyTorch
//! eager run the same checkpoint, and the JSON carries the ratio the issue asks for.

use std::path::Path;
use std::process::Command;

/// Runs `hyperres-bench` at a tiny size on the CPU with the fixture model and `extra` arguments;
/// returns its Markdown output and JSON report.
fn bench(extra: &[&str]) -> (String, serde_json::Value) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let output = Command::new(env!("CARGO_BIN_EXE_hyperres-bench"))
        .current_dir(&root)
        .args(["--devices", "cpu", "--threads", "1", "--runs", "1"])
        .args(["--resolutions", "48x32"])
        .args(["--model", "tests/data/fixture-denoise-4b.safetensors"])
        .args(extra)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (String::from_utf8_lossy(&output.stdout).into(), report)
}

/// The precisions the CPU is measured in: fp32, and bf16 where the bench's probe found that faster
/// (ours and PyTorch's alike).
fn cpu_precisions(report: &serde_json::Value) -> &'static [&'static str] {
    if report["machine"]["cpu_bf16"].as_bool().unwrap() {
        &["fp32", "bf16"]
    } else {
        &["fp32"]
    }
}

#[test]
fn quick_benchmark_at_tiny_sizes_reports_every_section() {
    let (stdout, report) = bench(&["--quick", "--memory-resolution", "96x64"]);
    assert!(stdout.contains("## Model only"), "{stdout}");

    let positive = |v: &serde_json::Value| v.as_f64().is_some_and(|x| x > 0.0);
    let model = &report["model"][0];
    assert_eq!(model["resolution"], "48x32");
    assert!(
        positive(&model["ours_ms"]) && positive(&model["torch_ms"]),
        "{model}"
    );
    let ratio = model["ratio_vs_torch"].as_f64().unwrap();
    let expected = model["ours_ms"].as_f64().unwrap() / model["torch_ms"].as_f64().unwrap();
    assert!((ratio - expected).abs() < 1e-9);
    assert!(positive(&model["ours_peak_rss_mb"]) && positive(&model["torch_peak_rss_mb"]));
    let rows = report["model"].as_array().unwrap();
    let precisions: Vec<_> = rows
        .iter()
        .filter(|r| r["model"] == model["model"] && positive(&r["ratio_vs_torch"]))
        .map(|r| r["precision"].as_str().unwrap())
        .collect();
    assert_eq!(precisions, cpu_precisions(&report));
    // The bundled fast model is timed even with --quick.
    assert!(
        rows.iter()
            .any(|r| r["model"] == "fast (4 blocks x 32)" && positive(&r["ratio_vs_torch"])),
        "{rows:?}"
    );

    let level = &report["level_change"][0];
    assert!(positive(&level["level_change_ms"]), "{level}");
    assert!(positive(&level["fps_level_every_frame"]), "{level}");

    // Element times are intervals between frames in the element's log. --quick runs the bundled
    // model alone there.
    assert_eq!(
        report["element"].as_array().unwrap().len(),
        cpu_precisions(&report).len()
    );
    let element = &report["element"][0];
    assert!(positive(&element["videotestsrc_ms"]), "{element}");

    let memory = &report["memory_4k"];
    assert!(positive(&memory["whole_frame"]["peak_rss_mb"]), "{memory}");
    assert!(positive(&memory["tiled"]["peak_rss_mb"]), "{memory}");
    assert!(report["ffmpeg"].as_str().unwrap().contains("--video"));
}

#[test]
fn parts_limit_the_run_to_the_sections_asked_for() {
    let (stdout, report) = bench(&["--parts", "element"]);
    assert!(!stdout.contains("## Model only"), "{stdout}");
    for skipped in ["model", "level_change", "memory_4k", "ffmpeg"] {
        assert_eq!(report[skipped], "skipped: not in --parts", "{skipped}");
    }
    let element = &report["element"][0];
    assert_eq!(element["device"], "cpu", "{element}");
    assert_eq!(element["precision"], "fp32", "{element}");
    assert!(element["videotestsrc_ms"].as_f64().is_some(), "{element}");
    // The element runs the fast model too (the real-time pick), and the model names its rows.
    let rows: Vec<_> = report["element"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["model"].as_str().unwrap(),
                r["precision"].as_str().unwrap(),
            )
        })
        .collect();
    let expected: Vec<_> = ["bundled (4 blocks)", "fast (4 blocks x 32)"]
        .into_iter()
        .flat_map(|m| cpu_precisions(&report).iter().map(move |&p| (m, p)))
        .collect();
    assert_eq!(rows, expected);
    assert!(stdout.contains("| fast (4 blocks x 32) |"), "{stdout}");
}
