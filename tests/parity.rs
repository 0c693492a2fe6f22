//! Parity with a PyTorch reference written from the authors' architecture (tests/reference), and
//! the importer on the authors' checkpoint layouts.

mod common;

use std::path::Path;

use common::{
    authors_estimator_checkpoint, metadata, python, rand, random_restorer_checkpoint,
    reference_forward, relative_l2, repo_path, run_ok,
};
use gsthyperres::checkpoint::{self, AuthorsCheckpoint, import_authors, read_authors};
use gsthyperres::level_estimator::LevelEstimator;
use gsthyperres::model::RestorerConfig;
use gsthyperres::restorer::Restorer;
use gsthyperres::task::{Architecture, Colour};
use tch::{Device, Tensor};

const TOLERANCE: f64 = 1e-5;

fn restorer_parity(dir: &Path, ckpt: &Path, level: f64, x: &Tensor) -> f64 {
    let mut restorer = Restorer::load(ckpt, Device::Cpu).unwrap();
    restorer.set_level(level).unwrap();
    let ours = tch::no_grad(|| restorer.network().forward(x));
    let theirs = reference_forward(dir, ckpt, x, level);
    let err = relative_l2(&ours, &theirs);
    println!(
        "restorer {:?} level {level}: relative L2 {err:.2e}",
        restorer.network().config()
    );
    err
}

#[test]
fn full_rgb_restorer_imported_from_the_authors_layout_matches_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let pth = dir.path().join("authors.pth");
    common::run_reference(&[
        Path::new("make-authors"),
        &pth,
        Path::new("3"),
        Path::new("64"),
        Path::new("16"),
        Path::new("1"),
    ]);

    let authors = read_authors(&pth, &python()).unwrap();
    let by_name = |name: &str| {
        authors
            .iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
            .shallow_clone()
    };
    let (kind, ours) = import_authors(
        authors
            .iter()
            .map(|(n, t)| (n.clone(), t.shallow_clone()))
            .collect(),
    )
    .unwrap();
    assert_eq!(kind, AuthorsCheckpoint::Restorer(RestorerConfig::default()));
    // The flat generated buffers are the authors' meta blocks, concatenated in block order.
    let ours_by_name = |name: &str| {
        ours.iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
            .shallow_clone()
    };
    let (w, b) = (ours_by_name("generated.w"), ours_by_name("generated.b"));
    let n = RestorerConfig::default().generated_conv_len();
    for (segment, (block, conv)) in [(0, (1, 1)), (1, (1, 2)), (31, (16, 2))] {
        let prefix = format!("res_blocks_meta.{block}.hy_conv{conv}.fc");
        assert!(
            w.narrow(0, segment * n, n)
                .equal(&by_name(&format!("{prefix}.weight")).view([-1]))
        );
        assert!(
            b.narrow(0, segment * n, n)
                .equal(&by_name(&format!("{prefix}.bias")))
        );
    }

    let ckpt = dir.path().join("imported.safetensors");
    checkpoint::save(
        &ckpt,
        &metadata(Architecture::HyperRes, Colour::Rgb, 64, 16),
        &ours,
    )
    .unwrap();
    let x = rand(3, &[2, 3, 32, 24]);
    for level in [15.0, 50.0, 90.0] {
        let err = restorer_parity(dir.path(), &ckpt, level, &x);
        assert!(err <= TOLERANCE, "level {level}: relative L2 {err}");
    }
}

#[test]
fn gray_restorer_matches_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let config = RestorerConfig {
        channels: 1,
        width: 32,
        blocks: 3,
        input_skip: false,
    };
    let ckpt = random_restorer_checkpoint(dir.path(), config, 21);
    let x = rand(4, &[3, 1, 20, 36]);
    for level in [10.0, 45.0] {
        let err = restorer_parity(dir.path(), &ckpt, level, &x);
        assert!(err <= TOLERANCE, "level {level}: relative L2 {err}");
    }
}

#[test]
fn input_skip_restorer_matches_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let config = RestorerConfig {
        channels: 3,
        width: 16,
        blocks: 2,
        input_skip: true,
    };
    let ckpt = random_restorer_checkpoint(dir.path(), config, 23);
    let x = rand(5, &[2, 3, 18, 24]);
    let err = restorer_parity(dir.path(), &ckpt, 30.0, &x);
    assert!(err <= TOLERANCE, "relative L2 {err}");
}

#[test]
fn authors_estimator_imports_and_matches_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = authors_estimator_checkpoint(dir.path());
    let estimator = LevelEstimator::load(&ckpt, Device::Cpu).unwrap();
    let x = rand(5, &[4, 3, 128, 128]);
    let ours = tch::no_grad(|| estimator.network().forward(&x));
    let theirs = reference_forward(dir.path(), &ckpt, &x, 0.0);
    let err = relative_l2(&ours, &theirs);
    println!("estimator: relative L2 {err:.2e}");
    assert!(err <= TOLERANCE, "relative L2 {err}");
}

#[test]
fn importer_rejects_what_is_not_an_authors_state_dict() {
    let dir = tempfile::tempdir().unwrap();
    let ours = random_restorer_checkpoint(
        dir.path(),
        RestorerConfig {
            channels: 3,
            width: 8,
            blocks: 1,
            input_skip: false,
        },
        22,
    );
    let err = import_authors(read_authors(&ours, &python()).unwrap()).unwrap_err();
    assert!(err.to_string().contains("neither"), "{err}");
    let not_a_pickle = dir.path().join("junk.pth");
    std::fs::write(&not_a_pickle, b"not a pickle").unwrap();
    let err = read_authors(&not_a_pickle, &python()).unwrap_err();
    assert!(err.to_string().contains("junk.pth"), "{err}");
}

/// The PyTorch benchmark counterparts (scripts/bench_torch.py, scripts/bench_train_torch.py) keep
/// every tensor on the device they are given. PyTorch's `meta` device (shapes only, no arithmetic)
/// refuses a tensor left on the CPU as CUDA does, so a CPU-only machine catches what the first GPU
/// session did.
#[test]
fn pytorch_benchmarks_keep_every_tensor_on_the_requested_device() {
    let mut bench = std::process::Command::new(python());
    bench
        .arg(repo_path("scripts/bench_torch.py"))
        .arg(repo_path("models/denoise-rgb.safetensors"))
        .args(["meta", "1", "fp32", "64", "48", "1"]);
    let mut train = std::process::Command::new(python());
    train
        .arg(repo_path("scripts/bench_train_torch.py"))
        .args(["1", "2", "2", "32", "meta"]);
    for mut command in [bench, train] {
        run_ok(&mut command);
    }
}
