//! The demo (`scripts/demo` runs the release build of examples/demo.rs) makes its files, restores
//! a video file, and fails clearly on a wrong input path or a --level without an input.

use std::path::Path;
use std::process::Command;

mod common;

use common::{run_ok, run_refused};

#[test]
fn demo_restores_the_built_in_clip_and_a_video_file_and_refuses_a_missing_input_or_a_lone_level() {
    // Built once: common::example runs cargo build.
    let demo = common::example("demo");
    let out = tempfile::tempdir().unwrap();
    let stdout = run_ok(Command::new(&demo).args(["--out", out.path().to_str().unwrap()]));
    for file in ["restored.avi", "side_by_side.png"] {
        let len = std::fs::metadata(out.path().join(file))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 1000, "{file} missing or empty");
    }
    let side = image::open(out.path().join("side_by_side.png")).unwrap();
    assert_eq!((side.width(), side.height()), (480, 160));
    // It names where the element restored (CPU here; fp32 or bf16, whichever runs faster).
    assert!(
        stdout.contains("(auto mode, Y plane of I420) on cpu in "),
        "{stdout}"
    );
    // "PSNR Y JPEG X dB -> restored Z dB" on the Y plane the model restores (about +1 dB), then
    // RGB, whose untouched chroma keeps the gain smaller: restoration must gain on both.
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("PSNR")).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for (line, gain) in lines.iter().zip([0.6, 0.15]) {
        let numbers: Vec<f64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        assert!(numbers[1] > numbers[0] + gain, "{line}");
    }

    // The restored clip as an INPUT video: denoised at a set level, then in auto mode.
    let video = out.path().join("restored.avi");
    for (args, expected) in [
        (&["--level", "10"][..], "at noise sigma 10 on cpu in "),
        (&[], "at the estimated noise sigma "),
    ] {
        let again = tempfile::tempdir().unwrap();
        let stdout = run_ok(
            Command::new(&demo)
                .arg(&video)
                .args(args)
                .args(["--out", again.path().to_str().unwrap()]),
        );
        assert!(stdout.contains(expected), "{stdout}");
        let side = image::open(again.path().join("side_by_side.png")).unwrap();
        assert_eq!((side.width(), side.height()), (320, 160));
    }

    let missing = Path::new("/nonexistent/clip.mp4");
    let stderr = run_refused(Command::new(&demo).arg(missing));
    assert!(stderr.contains("does not exist"), "{stderr}");

    // --level is the sigma to denoise an INPUT at: alone, the demo says so rather than ignoring it.
    let stderr = run_refused(Command::new(&demo).args(["--level", "25"]));
    assert!(stderr.contains("<INPUT>"), "{stderr}");
}
