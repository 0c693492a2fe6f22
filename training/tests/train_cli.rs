//! `hyperres-train train` and `eval` end to end on tiny models: a few-iteration smoke run, exact
//! resumption, Ctrl-C, and the evaluation report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gsthyperres::checkpoint;
use gsthyperres::restorer::Restorer;
use gsthyperres::task::Architecture;
use tch::Device;

/// A training folder holding the committed test crops.
fn image_folder(dir: &Path) -> PathBuf {
    named_image_folder(dir, "images")
}

/// The test crops, and a broken file, in `dir/name` (a benchmark's name brings its published figures).
fn named_image_folder(dir: &Path, name: &str) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let crops = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
    for entry in std::fs::read_dir(crops).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "png") {
            std::fs::copy(&path, folder.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(folder.join("broken.png"), b"not a png").unwrap();
    folder
}

fn hyperres_train(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hyperres-train"));
    command.args(args);
    command
}

/// Runs `hyperres-train` and fails the test, showing its stderr, unless it succeeds.
fn run_ok(args: &[&str]) -> Output {
    let output = hyperres_train(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "hyperres-train {args:?}: {stderr}");
    output
}

/// Runs `hyperres-train` and fails the test unless it exits non-zero saying `message`.
fn run_refused(args: &[&str], message: &str) {
    let output = hyperres_train(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains(message),
        "hyperres-train {args:?} should fail with {message:?}: {stderr}"
    );
}

/// `hyperres-train eval` of `model` on `data` (plus `extra`): the JSON report (written beside
/// `data`, a temporary folder, not beside a committed model) and the output.
fn eval(model: &Path, data: &Path, extra: &[&str]) -> (serde_json::Value, Output) {
    let json = data.with_extension("eval.json");
    let (model, data, json_str) = (
        model.to_str().unwrap(),
        data.to_str().unwrap(),
        json.to_str().unwrap(),
    );
    let mut args = vec!["eval", "--model", model, "--data", data, "--json", json_str];
    args.extend_from_slice(extra);
    let output = run_ok(&args);
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (report, output)
}

fn train(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let (data, out) = (data.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec![
        "train",
        "--data",
        data,
        "--out",
        out,
        "--blocks",
        "1",
        "--width",
        "8",
        "--batch",
        "2",
        "--patch",
        "16",
        "--threads",
        "1",
        "--log-every",
        "1",
        "--seed",
        "3",
    ];
    if !extra.contains(&"--levels") {
        args.extend_from_slice(&["--levels", "15,50"]);
    }
    args.extend_from_slice(extra);
    run_ok(&args)
}

fn weights(model: &Path) -> Vec<(String, tch::Tensor)> {
    let mut tensors = checkpoint::read(model).unwrap().1;
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    tensors
}

/// The `dataset` a checkpoint's provenance names.
fn dataset(model: &Path) -> String {
    checkpoint::read(model).unwrap().0.provenance.dataset
}

/// Asserts that two checkpoints hold the same tensors, bit for bit (`what`: the runs compared).
fn assert_same_weights(a: &Path, b: &Path, what: &str) {
    let (a, b) = (weights(a), weights(b));
    let names = |w: &[(String, tch::Tensor)]| w.iter().map(|t| t.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "{what}: different tensors");
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x.equal(y), "{what}: {name} differs");
    }
}

/// Whether two checkpoints of the same network hold different weights.
fn weights_differ(a: &Path, b: &Path) -> bool {
    weights(a)
        .iter()
        .zip(weights(b))
        .any(|((_, a), (_, b))| !a.equal(&b))
}

#[test]
fn smoke_run_trains_logs_and_writes_a_loadable_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = image_folder(dir.path());
    let out = dir.path().join("run");
    let output = train(
        &data,
        &out,
        &[
            "--iters",
            "4",
            "--val",
            data.to_str().unwrap(),
            "--val-every",
            "2",
            "--val-images",
            "1",
        ],
    );
    // One warning for the broken file, though it is in both the training and validation folders,
    // saying the decoder's reason once.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let skipped: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("broken.png"))
        .collect();
    assert!(
        matches!(skipped[..], [line] if line.starts_with("warning: skipping ")),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("Invalid PNG signature").count(),
        1,
        "{stderr}"
    );

    let restorer = Restorer::load(&out.join("model.safetensors"), Device::Cpu).unwrap();
    let meta = restorer.metadata();
    assert_eq!(
        (meta.width, meta.blocks, meta.provenance.iterations),
        (8, 1, 4)
    );
    assert_eq!(meta.levels, [15.0, 50.0]);
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.iter().filter(|l| l.get("loss").is_some()).count(), 4);
    let val = lines
        .iter()
        .find_map(|l| l.get("val_psnr"))
        .expect("a validation line");
    assert!(val["15"].as_f64().unwrap().is_finite() && val["50"].is_number());
    // Training changed the weights away from the initialisation.
    let first = lines[0]["loss"].as_f64().unwrap();
    assert!(first.is_finite() && first > 0.0);
}

#[test]
fn bf16_mixed_precision_and_nchw_change_only_the_rounding() {
    let dir = tempfile::tempdir().unwrap();
    let data = image_folder(dir.path());
    let (fp32, bf16, nchw) = (
        dir.path().join("fp32"),
        dir.path().join("bf16"),
        dir.path().join("nchw"),
    );
    train(&data, &fp32, &["--iters", "3", "--layout", "channels-last"]);
    train(&data, &bf16, &["--iters", "3", "--precision", "bf16"]);
    train(&data, &nchw, &["--iters", "3", "--layout", "nchw"]);
    let a = weights(&fp32.join("model.safetensors"));
    let gap = a
        .iter()
        .zip(weights(&nchw.join("model.safetensors")))
        .map(|((_, x), (_, y))| (x - y).abs().max().double_value(&[]))
        .fold(0.0, f64::max);
    assert!(gap < 1e-5, "NCHW and channels-last runs {gap} apart");

    let (meta, _) = checkpoint::read(&bf16.join("model.safetensors")).unwrap();
    assert!(
        meta.provenance.device.contains("bf16 mixed precision"),
        "{}",
        meta.provenance.device
    );
    let b = weights(&bf16.join("model.safetensors"));
    let fp16 = dir.path().join("fp16");
    let (data_str, fp16_str) = (data.to_str().unwrap(), fp16.to_str().unwrap());
    run_refused(
        &[
            "train",
            "--levels",
            "15",
            "--precision",
            "fp16",
            "--data",
            data_str,
            "--out",
            fp16_str,
        ],
        "loss scaling",
    );
    // A level with no degradation is refused before anything runs (NaN panicked in the loader).
    let out = ["--data", data_str, "--out", fp16_str];
    run_refused(
        &[&["train", "--levels", "15,nan"][..], &out].concat(),
        "--levels NaN: a denoise level is a noise sigma of at least 0",
    );
    // Decoding as a pipeline does is JPEG's, and a share.
    let share = |task, share| {
        let args = [
            "train",
            "--task",
            task,
            "--levels",
            "50",
            "--pipeline-decoded",
            share,
        ];
        [&args[..], &out].concat()
    };
    run_refused(
        &share("denoise", "0.5"),
        "--pipeline-decoded is for --task dejpeg",
    );
    run_refused(
        &share("dejpeg", "2"),
        "--pipeline-decoded is a share from 0 to 1",
    );
    // libtorch panics on 0 threads: the argument parser refuses them.
    run_refused(
        &[&["train", "--levels", "15", "--threads", "0"][..], &out].concat(),
        "invalid value '0' for '--threads <THREADS>'",
    );
    assert!(b.iter().all(|(_, w)| w.kind() == tch::Kind::Float));
    // The same seed and data: the steps differ only by the convolutions' rounding.
    let differing = a
        .iter()
        .zip(&b)
        .filter(|((_, x), (_, y))| !x.equal(y))
        .count();
    assert!(differing > 0, "bf16 training computed exactly as fp32");
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        let gap = (x - y).abs().max().double_value(&[]);
        assert!(gap < 1e-3, "{name}: fp32 and bf16 runs {gap} apart");
    }
}

#[test]
fn both_level_batchings_train_the_same_network() {
    let dir = tempfile::tempdir().unwrap();
    let data = image_folder(dir.path());
    let (looped, grouped) = (dir.path().join("loop"), dir.path().join("grouped"));
    // The CPU's default is the loop; the grouped pass is CUDA's.
    train(&data, &looped, &["--iters", "3"]);
    train(
        &data,
        &grouped,
        &["--iters", "3", "--level-batching", "grouped"],
    );
    let (a, b) = (
        weights(&looped.join("model.safetensors")),
        weights(&grouped.join("model.safetensors")),
    );
    let start = weights(&{
        let fresh = dir.path().join("fresh");
        train(&data, &fresh, &["--iters", "0"]);
        fresh.join("model.safetensors")
    });
    // Different convolutions ran: they round differently, and only that.
    assert!(
        a.iter().zip(&b).any(|((_, x), (_, y))| !x.equal(y)),
        "--level-batching grouped computed exactly as the loop"
    );
    for (((name, x), (_, y)), (_, w)) in a.iter().zip(&b).zip(&start) {
        let gap = (x - y).abs().max().double_value(&[]);
        let moved = (x - w).abs().max().double_value(&[]);
        assert!(gap < 1e-6, "{name}: loop and grouped runs {gap} apart");
        assert!(moved > 1e-5, "{name}: 3 steps moved it only {moved}");
    }
    let dir_str = dir.path().to_str().unwrap();
    run_refused(
        &[
            "train",
            "--levels",
            "15",
            "--level-batching",
            "sideways",
            "--data",
            dir_str,
            "--out",
            dir_str,
        ],
        "expected one of: grouped loop",
    );
}

#[test]
fn interrupted_and_resumed_run_equals_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = image_folder(dir.path());
    let (whole, parts) = (dir.path().join("whole"), dir.path().join("parts"));
    train(&data, &whole, &["--iters", "6"]);
    train(&data, &parts, &["--iters", "6", "--stop-after", "2"]);
    let halfway = parts.join("model.safetensors");
    assert_eq!(
        checkpoint::read(&halfway).unwrap().0.provenance.iterations,
        2
    );
    train(
        &data,
        &parts,
        &["--iters", "6", "--resume", halfway.to_str().unwrap()],
    );
    assert_same_weights(&whole.join("model.safetensors"), &halfway, "resumed run");
    // The same holds when the images stream through the decoding pool.
    let (streamed, streamed_parts) = (
        dir.path().join("whole-stream"),
        dir.path().join("parts-stream"),
    );
    train(&data, &streamed, &["--iters", "4", "--stream"]);
    train(
        &data,
        &streamed_parts,
        &["--iters", "4", "--stream", "--stop-after", "3"],
    );
    let stopped = streamed_parts.join("model.safetensors");
    train(
        &data,
        &streamed_parts,
        &[
            "--iters",
            "4",
            "--stream",
            "--resume",
            stopped.to_str().unwrap(),
        ],
    );
    assert_same_weights(
        &streamed.join("model.safetensors"),
        &stopped,
        "resumed streamed run",
    );

    // Weights-only resumption (no optimiser state) still continues, from the saved iteration.
    std::fs::remove_file(parts.join("train_state.safetensors")).unwrap();
    let output = train(
        &data,
        &parts,
        &["--iters", "7", "--resume", halfway.to_str().unwrap()],
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("weights only"));
}

#[test]
fn a_resumed_run_may_add_a_level_but_not_change_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let data = image_folder(dir.path());
    let out = dir.path().join("run");
    train(&data, &out, &["--iters", "2"]);
    let model = out.join("model.safetensors");
    let output = train(
        &data,
        &out,
        &[
            "--levels",
            "5,15,50",
            "--iters",
            "3",
            "--resume",
            model.to_str().unwrap(),
        ],
    );
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("trained at levels [15.0, 50.0]; continuing at [5.0, 15.0, 50.0]")
    );
    let (after, _) = checkpoint::read(&model).unwrap();
    assert_eq!(after.levels, [5.0, 15.0, 50.0]);
    assert_eq!(after.provenance.iterations, 3);
    // Without --range the recommended range is the new levels' span.
    assert_eq!(after.level_range, [5.0, 50.0]);

    let (data, out, model) = (
        data.to_str().unwrap(),
        out.to_str().unwrap(),
        model.to_str().unwrap(),
    );
    run_refused(
        &[
            "train", "--levels", "15,50", "--data", data, "--out", out, "--blocks", "1", "--width",
            "16", "--iters", "4", "--resume", model,
        ],
        "which differs from the arguments",
    );
}

#[test]
fn ctrl_c_saves_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = image_folder(dir.path());
    let out = dir.path().join("run");
    let mut child = hyperres_train(&[
        "train",
        "--levels",
        "25",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--blocks",
        "1",
        "--width",
        "8",
        "--batch",
        "1",
        "--patch",
        "16",
        "--threads",
        "1",
        "--log-every",
        "1",
        "--iters",
        "100000000",
    ])
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let metrics = out.join("metrics.jsonl");
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&metrics).is_ok_and(|m| m.lines().count() >= 2) {
        assert!(started.elapsed().as_secs() < 60, "training did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let iterations = checkpoint::read(&out.join("model.safetensors"))
        .unwrap()
        .0
        .provenance
        .iterations;
    assert!((2..100_000_000).contains(&iterations), "{iterations}");
}

#[test]
fn eval_writes_json_and_markdown_with_the_papers_numbers_on_its_benchmark_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = named_image_folder(dir.path(), "CBSD68");
    let out = dir.path().join("run");
    train(&data, &out, &["--iters", "2"]);
    let (markdown, plot) = (dir.path().join("eval.md"), dir.path().join("eval.png"));
    let (report, _) = eval(
        &out.join("model.safetensors"),
        &data,
        &[
            "--levels",
            "15,25",
            "--limit",
            "2",
            "--markdown",
            markdown.to_str().unwrap(),
            "--plot",
            plot.to_str().unwrap(),
        ],
    );
    let levels = report["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 2);
    assert_eq!(levels[1]["level"], 25.0);
    // Noisy input at sigma 15 is near 24.6 dB on the 8-bit grid; sigma 25 is lower.
    let input15 = levels[0]["input_psnr"].as_f64().unwrap();
    assert!((23.5..25.5).contains(&input15), "{input15}");
    assert!(levels[1]["input_psnr"].as_f64().unwrap() < input15);
    assert_eq!(report["images"].as_array().unwrap().len(), 4);
    let table = std::fs::read_to_string(&markdown).unwrap();
    assert!(
        table.contains("| 25 |") && table.contains("31.41"),
        "{table}"
    );
    let chart = image::open(&plot).unwrap();
    assert_eq!((chart.width(), chart.height()), (900, 600));

    // The same images in a folder of another name are not the paper's benchmark.
    let elsewhere = image_folder(dir.path());
    let args = ["--levels", "25", "--limit", "1"];
    let (report, output) = eval(&out.join("model.safetensors"), &elsewhere, &args);
    assert!(report["levels"][0]["published"].is_null(), "{report}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("paper"), "{stdout}");
}

#[test]
fn eval_against_cpu_reports_the_distance_to_cpu_fp32() {
    let dir = tempfile::tempdir().unwrap();
    let data = image_folder(dir.path());
    // A committed trained model: nothing here needs a fresh training run.
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/fixture-denoise-4b.safetensors");
    let args = ["--levels", "25", "--limit", "2", "--against-cpu"];
    let (report, _) = eval(&model, &data, &args);
    let (model_str, data_str) = (model.to_str().unwrap(), data.to_str().unwrap());
    run_refused(
        &[
            "eval",
            "--model",
            model_str,
            "--data",
            data_str,
            "--levels=-5",
        ],
        "--levels -5: a denoise level",
    );
    // On the CPU both restorers compute the same thing.
    for image in report["images"].as_array().unwrap() {
        assert_eq!(image["cpu_rel_l2"], 0.0, "{image}");
    }
    // --against-cpu compares a model, not a filter.
    let data = data.to_str().unwrap();
    run_refused(
        &[
            "eval",
            "--ffmpeg",
            "null",
            "--task",
            "denoise",
            "--against-cpu",
            "--data",
            data,
        ],
        "cannot be used with",
    );
}

#[test]
fn estimator_trains_resumes_and_evaluates_and_drives_blind_restoration() {
    let dir = tempfile::tempdir().unwrap();
    // Named as the benchmark of the authors' estimator figures, which eval prints beside ours.
    let data = named_image_folder(dir.path(), "CBSD68");
    let (whole, parts) = (dir.path().join("est-whole"), dir.path().join("est-parts"));
    let estimator = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "estimator",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--batch",
            "2",
            "--iters",
            "4",
            "--threads",
            "1",
            "--log-every",
            "1",
        ];
        args.extend_from_slice(extra);
        run_ok(&args);
    };
    estimator(&whole, &[]);
    estimator(&parts, &["--stop-after", "1"]);
    let halfway = parts.join("model.safetensors");
    estimator(&parts, &["--resume", halfway.to_str().unwrap()]);
    assert_same_weights(
        &whole.join("model.safetensors"),
        &halfway,
        "resumed estimator",
    );
    let meta = checkpoint::read(&halfway).unwrap().0;
    assert_eq!(
        (meta.kind().as_str(), meta.levels.as_slice()),
        ("estimator", &[0.0, 100.0][..])
    );

    // The estimator alone: error per level.
    let (report, output) = eval(&halfway, &data, &["--levels", "15,50"]);
    assert!(report["levels"][1]["abs_error"].as_f64().unwrap() >= 0.0);
    assert!(String::from_utf8_lossy(&output.stdout).contains("authors' abs error"));

    // Blind restoration: a restorer driven by the estimator reports the PSNR lost.
    let restorer = dir.path().join("restorer");
    train(&data, &restorer, &["--iters", "1"]);
    let blind = [
        "--levels",
        "25",
        "--limit",
        "1",
        "--blind",
        halfway.to_str().unwrap(),
    ];
    let (report, _) = eval(&restorer.join("model.safetensors"), &data, &blind);
    let level = &report["levels"][0];
    let lost = level["blind_psnr_lost"].as_f64().unwrap();
    let (psnr, blind) = (
        level["psnr"].as_f64().unwrap(),
        level["blind_psnr"].as_f64().unwrap(),
    );
    assert!((psnr - blind - lost).abs() < 1e-9);
}

#[test]
fn jpeg_and_sr_models_train_and_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let data = image_folder(dir.path());
    for (task, colour, levels, eval_levels) in [
        ("dejpeg", "gray", "10,50", "10,30"),
        ("sr", "rgb", "2,4", "2,3"),
    ] {
        let out = dir.path().join(task);
        let (data_str, out_str) = (data.to_str().unwrap(), out.to_str().unwrap());
        run_ok(&[
            "train",
            "--task",
            task,
            "--colour",
            colour,
            "--levels",
            levels,
            "--data",
            data_str,
            "--out",
            out_str,
            "--blocks",
            "1",
            "--width",
            "8",
            "--batch",
            "2",
            "--patch",
            "24",
            "--threads",
            "1",
            "--iters",
            "2",
        ]);
        let (report, _) = eval(
            &out.join("model.safetensors"),
            &data,
            &["--levels", eval_levels, "--limit", "1"],
        );
        let levels = report["levels"].as_array().unwrap();
        // Stronger degradation (lower quality, larger scale) leaves a worse input.
        let input = |i: usize| levels[i]["input_psnr"].as_f64().unwrap();
        let (weaker, stronger) = if task == "dejpeg" {
            (input(1), input(0))
        } else {
            (input(0), input(1))
        };
        assert!(weaker > stronger && stronger > 15.0, "{task}: {levels:?}");
    }
}

#[test]
fn the_jpeg_quality_estimator_is_block_aware_and_has_no_noise_figures_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = named_image_folder(dir.path(), "LIVE1");
    let out = dir.path().join("est-jpeg");
    run_ok(&[
        "estimator",
        "--task",
        "dejpeg",
        "--colour",
        "gray",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--batch",
        "2",
        "--iters",
        "2",
        "--threads",
        "1",
    ]);
    let model = out.join("model.safetensors");
    let meta = checkpoint::read(&model).unwrap().0;
    assert_eq!(
        (meta.architecture, meta.levels.as_slice()),
        (Architecture::BlockGrid, &[5.0, 95.0][..])
    );
    // Default levels: the paper's JPEG qualities, with nothing published beside them even on
    // LIVE1 (the authors' figures are for their noise estimator).
    let (report, output) = eval(&model, &data, &["--limit", "1"]);
    let levels = report["levels"].as_array().unwrap();
    let qualities: Vec<f64> = levels
        .iter()
        .map(|l| l["level"].as_f64().unwrap())
        .collect();
    assert_eq!(qualities, [10.0, 30.0, 50.0, 70.0, 80.0]);
    assert!(levels.iter().all(|l| l["published"].is_null()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("| 50 |") && !stdout.contains("authors'"),
        "{stdout}"
    );
}

/// A folder of frames a codec degraded, named as the clean crops of `data`: here each crop's luma
/// JPEG-coded at quality 10, labelled with that quality.
fn coded_folder(dir: &Path, data: &Path) -> PathBuf {
    use hyperres_training::{data::decode, jpeg, pixels::to_packed};
    let coded = dir.join("coded");
    std::fs::create_dir_all(&coded).unwrap();
    let mut labels = serde_json::Map::new();
    for entry in std::fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        let Ok(clean) = decode(&path, gsthyperres::task::Colour::Gray) else {
            continue;
        };
        let jpeg = jpeg::round_trip(&(clean.to_kind(tch::Kind::Float) / 255.0), 10.0).unwrap();
        let size = jpeg.size();
        let gray = image::GrayImage::from_raw(size[2] as u32, size[1] as u32, to_packed(&jpeg));
        let name = path.file_name().unwrap().to_str().unwrap();
        gray.unwrap().save(coded.join(name)).unwrap();
        labels.insert(name.into(), 10.0.into());
    }
    std::fs::write(
        coded.join("levels.json"),
        serde_json::Value::Object(labels).to_string(),
    )
    .unwrap();
    coded
}

/// Checks the run into `out` that added training data: it said `read`, its provenance ends with
/// `source`, and its weights differ from those of the run into `without`.
fn assert_learnt_from(output: &Output, read: &str, out: &Path, source: &str, without: &Path) {
    assert!(String::from_utf8_lossy(&output.stderr).contains(read));
    let model = out.join("model.safetensors");
    let dataset = dataset(&model);
    assert!(dataset.ends_with(source), "{dataset}");
    assert!(
        weights_differ(&without.join("model.safetensors"), &model),
        "{source} changed nothing"
    );
}

#[test]
fn eval_restores_coded_frames_and_the_estimator_and_the_restorer_learn_from_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = named_image_folder(dir.path(), "LIVE1");
    let coded = coded_folder(dir.path(), &data);
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/dejpeg-gray-fast.safetensors");
    let coded_arg = ["--coded", coded.to_str().unwrap(), "--levels", "10,80"];
    let (report, output) = eval(&model, &data, &coded_arg);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("coded images from"));
    // The paper's LIVE1 figures are for JPEG, not for whatever coded these frames.
    assert!(!stdout.contains("paper"), "{stdout}");
    // Every level restores the same coded file, which the bundled model cleans at its quality.
    let rows = report["images"].as_array().unwrap();
    let frames = std::fs::read_dir(&coded).unwrap().count() - 1;
    assert_eq!(rows.len(), 2 * frames);
    for pair in rows.chunks(2) {
        let value = |i: usize, key: &str| pair[i][key].as_f64().unwrap();
        assert_eq!(value(0, "input_psnr"), value(1, "input_psnr"));
        assert!(value(0, "input_psnr") < 35.0, "{pair:?}");
        assert!(value(0, "psnr") > value(0, "input_psnr") + 0.5, "{pair:?}");
        assert!(value(0, "psnr") > value(1, "psnr"), "{pair:?}");
    }
    let first = rows[0]["image"].as_str().unwrap();
    std::fs::remove_file(coded.join(first)).unwrap();
    let (model, data_arg) = (model.to_str().unwrap(), data.to_str().unwrap());
    let eval_args = [
        "eval", "--model", model, "--data", data_arg, "--levels", "10",
    ];
    run_refused(
        &[&eval_args[..], &coded_arg[..2]].concat(),
        "--coded: reading",
    );

    // The estimator takes half of each batch from the labelled frames, whose labels must lie in
    // its range.
    let labels = coded.join("levels.json");
    let text = std::fs::read_to_string(&labels)
        .unwrap()
        .replace(&format!("\"{first}\":10.0,"), "");
    std::fs::write(&labels, &text).unwrap();
    let out = dir.path().join("est");
    let paths = ["--data", data_arg, "--coded", coded.to_str().unwrap()];
    let estimator: Vec<&str> =
        "estimator --task dejpeg --colour gray --batch 4 --iters 2 --threads 1"
            .split(' ')
            .chain(paths)
            .chain(["--out", out.to_str().unwrap()])
            .collect();
    let output = run_ok(&estimator);
    let read = format!("{} labelled coded frames", frames - 1);
    assert!(String::from_utf8_lossy(&output.stderr).contains(&read));
    assert!(out.join("model.safetensors").exists());

    // With --regret, the coded crops' loss is the PSNR their frame loses at the estimate (from an
    // eval report over levels spanning the range): another network from the same seed.
    let names: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    let rows: Vec<_> = names
        .keys()
        .flat_map(|name| {
            [(5.0, 30.0), (50.0, 29.0), (95.0, 27.0)].map(
                |(level, psnr)| serde_json::json!({"image": name, "level": level, "psnr": psnr}),
            )
        })
        .collect();
    let report = dir.path().join("grid.json");
    std::fs::write(&report, serde_json::json!({ "images": rows }).to_string()).unwrap();
    let with_regret = dir.path().join("est-regret");
    let regret_args = ["--regret", report.to_str().unwrap()];
    let mut regret_run = estimator.clone();
    *regret_run.last_mut().unwrap() = with_regret.to_str().unwrap();
    run_ok(&[&regret_run[..], &regret_args[..]].concat());
    let model = with_regret.join("model.safetensors");
    assert!(
        dataset(&model).contains("(regret from"),
        "{}",
        dataset(&model)
    );
    assert!(
        weights_differ(&out.join("model.safetensors"), &model),
        "--regret changed nothing"
    );
    let first_row = serde_json::to_string(&rows[0]).unwrap() + ",";
    let text_report = std::fs::read_to_string(&report).unwrap();
    std::fs::write(&report, text_report.replacen(&first_row, "", 1)).unwrap();
    let refused = dir.path().join("refused-regret");
    *regret_run.last_mut().unwrap() = refused.to_str().unwrap();
    run_refused(
        &[&regret_run[..], &regret_args[..]].concat(),
        "was evaluated at",
    );
    assert!(!refused.exists(), "a refused run wrote its --out folder");
    std::fs::write(&labels, text.replace("10.0", "99.0")).unwrap();
    let refused = dir.path().join("refused");
    let mut estimator = estimator;
    *estimator.last_mut().unwrap() = refused.to_str().unwrap();
    run_refused(&estimator, "outside the range 5..95");
    assert!(!refused.exists(), "a refused run wrote its --out folder");

    // The restorer adds a group of coded crops to every step, restored at its frame's level
    // against the uncoded frame (`../clean`, here the gray data): it trains another network.
    std::fs::write(&labels, &text).unwrap();
    std::os::unix::fs::symlink(&data, dir.path().join("clean")).unwrap();
    let dejpeg = ["--task", "dejpeg", "--colour", "gray", "--iters", "2"];
    let plain = dir.path().join("plain");
    train(&data, &plain, &dejpeg);
    let with_coded = dir.path().join("with-coded");
    let coded_args = [&dejpeg[..], &["--coded", coded.to_str().unwrap()]].concat();
    let output = train(&data, &with_coded, &coded_args);
    assert_learnt_from(&output, &read, &with_coded, "(coded frames)", &plain);

    // With --uncoded, the estimator also crops the frames before coding, at the best quality.
    let with_uncoded = dir.path().join("est-uncoded");
    *estimator.last_mut().unwrap() = with_uncoded.to_str().unwrap();
    let output = run_ok(&[&estimator[..], &["--uncoded"]].concat());
    let read = format!("{} uncoded frames at level 95", frames - 1);
    assert_learnt_from(&output, &read, &with_uncoded, "(and before coding)", &out);
    // ... or half of those crops degraded, each at its own quality of a band (every crop coded or
    // uncoded here, so that some are: 8 in all).
    let all_coded = ["--coded-share", "1", "--uncoded"];
    let without_band = dir.path().join("est-uncoded-all");
    *estimator.last_mut().unwrap() = without_band.to_str().unwrap();
    run_ok(&[&estimator[..], &all_coded[..]].concat());
    let with_band = dir.path().join("est-uncoded-band");
    *estimator.last_mut().unwrap() = with_band.to_str().unwrap();
    let band = ["--uncoded-levels", "80,95"];
    let output = run_ok(&[&estimator[..], &all_coded[..], &band[..]].concat());
    let read = format!("{} uncoded frames at levels 80..95", frames - 1);
    let source = "(and before coding, at levels 80..95)";
    assert_learnt_from(&output, &read, &with_band, source, &without_band);
    *estimator.last_mut().unwrap() = refused.to_str().unwrap();
    run_refused(&[&estimator[..], &band[..]].concat(), "--uncoded");
    let outside = ["--uncoded", "--uncoded-levels", "1,95"];
    run_refused(
        &[&estimator[..], &outside[..]].concat(),
        "outside the range 5..95",
    );
    assert!(!refused.exists(), "a refused run wrote its --out folder");
    // With --regret too, the crops of frames before coding keep their L1 alone: the report needs
    // no rows for them.
    std::fs::write(&report, &text_report).unwrap();
    let with_both = dir.path().join("est-regret-uncoded");
    *regret_run.last_mut().unwrap() = with_both.to_str().unwrap();
    let output = run_ok(&[&regret_run[..], &regret_args[..], &["--uncoded"]].concat());
    let read = format!("{} uncoded frames at level 95", frames - 1);
    let source = format!("(regret from {})", report.display());
    assert_learnt_from(&output, &read, &with_both, &source, &with_regret);

    std::fs::remove_file(dir.path().join("clean")).unwrap();
    let refused = dir.path().join("refused-train");
    let refused_arg = refused.to_str().unwrap();
    let args = [
        &[
            "train",
            "--data",
            data_arg,
            "--out",
            refused_arg,
            "--levels",
            "10",
        ],
        &coded_args[..],
    ]
    .concat();
    run_refused(&args, "uncoded frame");
    assert!(!refused.exists(), "a refused run wrote its --out folder");
}
