//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};

use gsthyperres::checkpoint::{self, Metadata, Provenance, StorageDtype};
use gsthyperres::frame::packed_rgb;
use gsthyperres::model::{Estimator, EstimatorConfig, HyperRes, RestorerConfig};
use gsthyperres::task::{Architecture, Colour, LEVEL_DIVISOR, Task};
use tch::{Device, Kind, Tensor, nn};

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The executable of example `name`, built like scripts/test builds every target (in the profile
/// of the running test).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--workspace", "--all-targets"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    assert!(build.status().unwrap().success());
    profile_dir.join("examples").join(name)
}

/// The project's venv Python (scripts/setup makes it).
pub fn python() -> PathBuf {
    let python = repo_path(".venv/bin/python");
    assert!(
        python.exists(),
        "{} missing: run scripts/setup",
        python.display()
    );
    python
}

/// Runs the PyTorch reference (tests/reference/hyperres_ref.py) and panics with its stderr on failure.
pub fn run_reference(args: &[&Path]) {
    let output = Command::new(python())
        .arg(repo_path("tests/reference/hyperres_ref.py"))
        .args(args)
        .output()
        .expect("run the PyTorch reference");
    assert!(
        output.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn metadata(architecture: Architecture, colour: Colour, width: i64, blocks: i64) -> Metadata {
    Metadata {
        architecture,
        task: Task::Denoise,
        colour,
        width,
        blocks,
        levels: vec![15.0, 35.0, 50.0, 75.0],
        level_divisor: LEVEL_DIVISOR,
        level_range: [5.0, 90.0],
        dtype: StorageDtype::F32,
        input_skip: false,
        provenance: Provenance {
            dataset: "test fixture".into(),
            ..Default::default()
        },
    }
}

/// Adds `scale` x N(0, 1) to every variable, so that no weight or bias is trivially zero; in name
/// order, so that the same seed gives the same network (a HashMap's order changes per instance).
pub fn perturb(vs: &nn::VarStore, scale: f64) {
    let mut variables: Vec<_> = vs.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| {
        for (_, mut var) in variables {
            let _ = var.f_add_(&(var.randn_like() * scale)).unwrap();
        }
    });
}

/// Runs `draw` with libtorch's generator seeded with `seed`. The generator is one per process
/// and a binary's tests run in parallel: every draw in the tests holds this lock, or what a test
/// draws from its seed would depend on what the others draw meanwhile (a bf16 tolerance failed so).
pub fn seeded<T>(seed: i64, draw: impl FnOnce() -> T) -> T {
    static GENERATOR: Mutex<()> = Mutex::new(());
    let _held = GENERATOR.lock().unwrap_or_else(PoisonError::into_inner);
    tch::manual_seed(seed);
    draw()
}

/// A float tensor of `shape` uniform in [0, 1), from `seed`.
pub fn rand(seed: i64, shape: &[i64]) -> Tensor {
    seeded(seed, || Tensor::rand(shape, (Kind::Float, Device::Cpu)))
}

/// A randomly initialised (and perturbed) restorer on the CPU.
pub fn random_restorer(config: RestorerConfig, seed: i64) -> (nn::VarStore, HyperRes) {
    seeded(seed, || {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = HyperRes::new(&vs.root(), config);
        perturb(&vs, 0.02);
        (vs, net)
    })
}

/// Saves a random restorer checkpoint of `config` into `dir` and returns its path.
pub fn random_restorer_checkpoint(dir: &Path, config: RestorerConfig, seed: i64) -> PathBuf {
    let (vs, _) = random_restorer(config, seed);
    let colour = if config.channels == 3 {
        Colour::Rgb
    } else {
        Colour::Gray
    };
    let meta = Metadata {
        input_skip: config.input_skip,
        ..metadata(Architecture::HyperRes, colour, config.width, config.blocks)
    };
    let path = dir.join(format!("restorer-{}-{seed}.safetensors", colour));
    checkpoint::save_var_store(&path, &meta, &vs).unwrap();
    path
}

/// Saves a random estimator checkpoint into `dir` (its output bias at `start`, if given) and
/// returns its path.
pub fn random_estimator_checkpoint(
    dir: &Path,
    config: EstimatorConfig,
    seed: i64,
    start: Option<f64>,
) -> PathBuf {
    let vs = seeded(seed, || {
        let vs = nn::VarStore::new(Device::Cpu);
        let mut net = Estimator::new(&vs.root(), config);
        if let Some(level) = start {
            net.start_at(level);
        }
        vs
    });
    let colour = if config.channels == 1 {
        Colour::Gray
    } else {
        Colour::Rgb
    };
    let meta = metadata(config.architecture, colour, config.width, config.stages);
    let path = dir.join(format!("estimator-{seed}.safetensors"));
    checkpoint::save_var_store(&path, &meta, &vs).unwrap();
    path
}

/// A committed test crop as `[3, H, W]` f32 in [0, 1].
pub fn load_crop(name: &str) -> Tensor {
    let image = image::open(repo_path(&format!("tests/data/{name}")))
        .unwrap()
        .to_rgb8();
    let (w, h) = image.dimensions();
    Tensor::from_slice(image.as_raw())
        .view([h as i64, w as i64, 3])
        .permute([2, 0, 1])
        .to_kind(Kind::Float)
        / 255.0
}

/// Runs `command`, which must succeed, and returns its stdout (its stdout and stderr if it fails).
pub fn run_ok(command: &mut Command) -> String {
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Runs `command`, which must fail, and returns its stderr.
pub fn run_refused(command: &mut Command) -> String {
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{command:?} succeeded: {stderr}");
    stderr
}

/// Writes a `[3, H, W]` image in [0, 1] as 8-bit RGB, in the format `path`'s extension names.
pub fn save_rgb(image: &Tensor, path: &Path) {
    let [_, h, w] = image.size()[..] else {
        panic!("save_rgb expects [3, H, W]")
    };
    image::RgbImage::from_raw(w as u32, h as u32, packed_rgb(image))
        .unwrap()
        .save(path)
        .unwrap();
}

/// Writes `image` as a JPEG file at `quality` (the image crate's encoder).
pub fn save_jpeg(image: &image::RgbImage, quality: u8, path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(file, quality)
        .encode_image(image)
        .unwrap();
}

/// Of 16-bit RGBA words: the alpha words, and how many colour samples fall between the 8-bit steps
/// (are not multiples of 257), which an output rounded to 8 bits has none of.
pub fn rgba16_alpha_and_finer(words: &[u16]) -> (Vec<u16>, usize) {
    let alpha = words.iter().skip(3).step_by(4).copied().collect();
    let colour = words.chunks_exact(4).flat_map(|pixel| &pixel[..3]);
    (alpha, colour.filter(|&&word| word % 257 != 0).count())
}

/// The authors' noise degradation: Gaussian noise of `sigma` (0..255 scale), clipped, then
/// truncated to 8 bits; from a fixed seed.
pub fn add_noise(image: &Tensor, sigma: f64, seed: i64) -> Tensor {
    let noisy = image + seeded(seed, || image.randn_like()) * (sigma / 255.0);
    (noisy.clamp(0.0, 1.0) * 255.0).floor() / 255.0
}

/// ||a - b|| / ||b||.
pub fn relative_l2(a: &Tensor, b: &Tensor) -> f64 {
    let diff = (a - b).norm().double_value(&[]);
    diff / b.norm().double_value(&[])
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// Writes plain named f32 tensors (no metadata) as safetensors, e.g. inputs for the reference.
pub fn write_tensors(path: &Path, tensors: &[(&str, &Tensor)]) {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let t = t.to_kind(Kind::Float).contiguous();
            let mut data = vec![0u8; t.numel() * 4];
            t.copy_data_u8(&mut data, t.numel());
            let shape = t.size().iter().map(|&d| d as usize).collect();
            (name.to_string(), shape, data)
        })
        .collect();
    let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = bytes
        .iter()
        .map(|(n, s, d)| {
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d);
            (n.as_str(), view.unwrap())
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// Runs our checkpoint through the PyTorch reference on `x` (at `level` for a restorer).
pub fn reference_forward(dir: &Path, ckpt: &Path, x: &Tensor, level: f64) -> Tensor {
    let (input, output) = (
        dir.join("ref-in.safetensors"),
        dir.join("ref-out.safetensors"),
    );
    write_tensors(
        &input,
        &[("x", x), ("level", &Tensor::from_slice(&[level as f32]))],
    );
    run_reference(&[Path::new("forward"), ckpt, &input, &output]);
    let mut out = checkpoint::read_untyped(&output).unwrap();
    out.remove(0).1
}

/// Imports the committed authors' noise estimator into `dir` and returns our checkpoint's path.
pub fn authors_estimator_checkpoint(dir: &Path) -> PathBuf {
    let released = repo_path("tests/data/authors_noise_detect.safetensors");
    let authors = checkpoint::read_authors(&released, &python()).unwrap();
    let (kind, tensors) = checkpoint::import_authors(authors).unwrap();
    assert_eq!(
        kind,
        checkpoint::AuthorsCheckpoint::Estimator(EstimatorConfig::default())
    );
    let path = dir.join("authors-estimator.safetensors");
    let meta = metadata(Architecture::NoiseNet, Colour::Rgb, 64, 4);
    checkpoint::save(&path, &meta, &tensors).unwrap();
    path
}
