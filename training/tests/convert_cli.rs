//! `hyperres-train convert`: a checkpoint stored in f16 restores as the f32 one does, and values
//! f16 cannot hold are refused; `info` shows a checkpoint and refuses a broken one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gsthyperres::checkpoint::{self, StorageDtype};
use gsthyperres::restorer::Restorer;
use gsthyperres::task::Colour;
use hyperres_training::{data, degrade, metrics};
use tch::{Device, Kind, Tensor};

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// The committed fixture (stored in f16) rewritten in f32, with its tensors passed through `edit`.
fn f32_fixture(dir: &Path, edit: impl FnOnce(&mut [(String, Tensor)])) -> PathBuf {
    let (mut meta, mut tensors) =
        checkpoint::read(&repo_path("tests/data/fixture-denoise-4b.safetensors")).unwrap();
    meta.dtype = StorageDtype::F32;
    edit(&mut tensors);
    let path = dir.join("f32.safetensors");
    checkpoint::save(&path, &meta, &tensors).unwrap();
    path
}

fn convert(model: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hyperres-train"))
        .args(["convert", "--dtype", "f16", "--model"])
        .arg(model)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// `model`'s restoration of `noisy` at sigma 25, 0..255.
fn restored(model: &Path, noisy: &Tensor) -> Tensor {
    let mut restorer = Restorer::load(model, Device::Cpu).unwrap();
    restorer.set_level(25.0).unwrap();
    restorer
        .restore(&(noisy / 255.0).unsqueeze(0))
        .squeeze_dim(0)
        * 255.0
}

#[test]
fn f16_storage_halves_the_file_and_restores_alike() {
    let dir = tempfile::tempdir().unwrap();
    // Scaled slightly so that its values are no longer all f16 numbers, as a trained model's are not.
    let model = f32_fixture(dir.path(), |tensors| {
        for (_, tensor) in tensors {
            *tensor = &*tensor * 1.0001;
        }
    });
    let out = dir.path().join("f16.safetensors");
    let output = convert(&model, &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");

    let (meta, tensors) = checkpoint::read(&model).unwrap();
    let (converted_meta, converted) = checkpoint::read(&out).unwrap();
    assert_eq!(converted_meta.dtype, StorageDtype::F16);
    assert_eq!(
        checkpoint::Metadata {
            dtype: StorageDtype::F32,
            ..converted_meta
        },
        meta,
        "only the storage type may change"
    );
    let converted: HashMap<String, Tensor> = converted.into_iter().collect();
    assert_eq!(converted.len(), tensors.len());
    for (name, original) in &tensors {
        let rounded = original.to_kind(Kind::Half).to_kind(Kind::Float);
        assert!(!rounded.equal(original), "{name} was an f16 number already");
        assert!(
            rounded.equal(&converted[name]),
            "{name} is not its f16 rounding"
        );
    }
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64;
    assert!(size(&out) < 0.55 * size(&model));

    let crop = repo_path("tests/data/cbsd68_101087_crop.png");
    let clean = data::decode(&crop, Colour::Rgb)
        .unwrap()
        .to_kind(Kind::Float);
    let noisy = degrade::add_noise(&(&clean / 255.0), 25.0, &mut degrade::seeded_rng(0, 0)) * 255.0;
    let (f32_out, f16_out) = (restored(&model, &noisy), restored(&out, &noisy));
    let gain = metrics::psnr(&f32_out, &clean) - metrics::psnr(&noisy, &clean);
    assert!(
        gain > 3.0,
        "the fixture should denoise: {gain:.2} dB gained"
    );
    let agreement = metrics::psnr(&f16_out, &f32_out);
    assert!(
        agreement > 60.0,
        "f16 and f32 restorations differ: {agreement:.1} dB apart"
    );
}

#[test]
fn refuses_weights_beyond_f16_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut name = String::new();
    let model = f32_fixture(dir.path(), |tensors| {
        let (first, tensor) = &mut tensors[0];
        *tensor = tensor.ones_like() * 1e6;
        name = first.clone();
    });
    let out = dir.path().join("f16.safetensors");
    let output = convert(&model, &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("{name:?}")) && stderr.contains("does not fit in f16"),
        "{stderr}"
    );
    assert!(!out.exists());
}

fn info(model: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hyperres-train"))
        .arg("info")
        .arg(model)
        .output()
        .unwrap()
}

/// `hyperres-train info` shows a checkpoint's metadata, size and accepted levels, and fails on one
/// the element would refuse.
#[test]
fn info_shows_a_checkpoint_and_refuses_a_broken_one() {
    let fixture = repo_path("tests/data/fixture-denoise-4b.safetensors");
    let (meta, tensors) = checkpoint::read(&fixture).unwrap();
    let output = info(&fixture);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let parameters: i64 = tensors.iter().map(|(_, t)| t.numel() as i64).sum();
    let [low, high] = meta.accepted_levels();
    for line in [
        "  task            denoise".to_string(),
        format!("  blocks          {}", meta.blocks),
        format!("  parameters      {parameters}"),
        format!("  accepted levels {low}..{high}"),
    ] {
        assert!(stdout.contains(&line), "{line:?} not in {stdout}");
    }

    let dir = tempfile::tempdir().unwrap();
    let broken = f32_fixture(dir.path(), |tensors| {
        tensors[0].1 = tensors[0].1.flatten(0, -1).narrow(0, 0, 1);
    });
    let output = info(&broken);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("shape"),
        "{stderr}"
    );
}
