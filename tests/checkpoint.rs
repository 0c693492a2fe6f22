//! Checkpoints: bit-exact round trips, and a clear error (never a panic) for every bad file.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::{metadata, rand, random_estimator_checkpoint, random_restorer_checkpoint, seeded};
use gsthyperres::checkpoint::{self, CheckpointError, Problem, StorageDtype};
use gsthyperres::level_estimator::LevelEstimator;
use gsthyperres::model::{EstimatorConfig, RestorerConfig, crop_to, pad_to_even};
use gsthyperres::restorer::Restorer;
use gsthyperres::task::{Architecture, Colour, ModelKind, Task};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use tch::{Device, Kind, Tensor};

const SMALL: RestorerConfig = RestorerConfig {
    channels: 3,
    width: 8,
    blocks: 2,
    input_skip: false,
};

const SMALL_ESTIMATOR: EstimatorConfig = EstimatorConfig {
    architecture: Architecture::NoiseNet,
    channels: 3,
    width: 4,
    stages: 4,
};

#[test]
fn restorer_round_trip_is_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = random_restorer_checkpoint(dir.path(), SMALL, 7);
    let restorer = Restorer::load(&path, Device::Cpu).unwrap();
    let again = dir.path().join("again.safetensors");
    checkpoint::save_var_store(&again, restorer.metadata(), restorer.var_store()).unwrap();
    let (meta, tensors) = checkpoint::read(&again).unwrap();
    assert_eq!(&meta, restorer.metadata());
    let loaded = restorer.var_store().variables();
    for (name, tensor) in tensors {
        assert!(loaded[&name].equal(&tensor), "{name} changed");
    }
    assert!(!dir.path().join("again.safetensors.partial").exists());
    // The same contents give the same bytes (the header's key order does not vary by run).
    assert!(std::fs::read(&path).unwrap() == std::fs::read(&again).unwrap());
}

#[test]
fn estimator_round_trip_is_bit_exact() {
    for (seed, config) in [(8, SMALL_ESTIMATOR), (9, EstimatorConfig::block_grid(1))] {
        let dir = tempfile::tempdir().unwrap();
        let path = random_estimator_checkpoint(dir.path(), config, seed, None);
        let estimator = LevelEstimator::load(&path, Device::Cpu).unwrap();
        assert_eq!(estimator.metadata().architecture, config.architecture);
        let again = dir.path().join("again.safetensors");
        checkpoint::save_var_store(&again, estimator.metadata(), estimator.var_store()).unwrap();
        let (meta, tensors) = checkpoint::read(&again).unwrap();
        assert_eq!(&meta, estimator.metadata());
        let original: HashMap<String, Tensor> =
            checkpoint::read(&path).unwrap().1.into_iter().collect();
        assert_eq!(tensors.len(), original.len());
        for (name, tensor) in tensors {
            assert!(original[&name].equal(&tensor), "{name} changed");
        }
    }
}

/// An application that seeds libtorch's one generator (or a test) gets the same draws whether or
/// not an element loaded a model meanwhile.
#[test]
fn loading_draws_nothing_from_the_global_generator() {
    let dir = tempfile::tempdir().unwrap();
    let restorer = random_restorer_checkpoint(dir.path(), SMALL, 3);
    let estimator = random_estimator_checkpoint(dir.path(), SMALL_ESTIMATOR, 4, None);
    let after_loading = seeded(5, || {
        Restorer::load(&restorer, Device::Cpu).unwrap();
        LevelEstimator::load(&estimator, Device::Cpu).unwrap();
        Tensor::rand([8], (Kind::Float, Device::Cpu))
    });
    assert!(after_loading.equal(&rand(5, &[8])));
}

#[test]
fn half_precision_storage_loads_to_rounded_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = random_restorer_checkpoint(dir.path(), SMALL, 9);
    let restorer = Restorer::load(&path, Device::Cpu).unwrap();
    for dtype in [StorageDtype::F16, StorageDtype::Bf16] {
        let mut meta = restorer.metadata().clone();
        meta.dtype = dtype;
        let stored = dir.path().join(format!("{}.safetensors", dtype.as_str()));
        checkpoint::save_var_store(&stored, &meta, restorer.var_store()).unwrap();
        let reloaded = Restorer::load(&stored, Device::Cpu).unwrap();
        let original = restorer.var_store().variables();
        let kind = if dtype == StorageDtype::F16 {
            Kind::Half
        } else {
            Kind::BFloat16
        };
        for (name, tensor) in reloaded.var_store().variables() {
            let rounded = original[&name].to_kind(kind).to_kind(Kind::Float);
            assert!(
                rounded.equal(&tensor),
                "{name} is not the {dtype:?} rounding"
            );
        }
    }
}

#[test]
fn unstorable_values_are_refused_and_the_old_file_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = random_restorer_checkpoint(dir.path(), SMALL, 13);
    let before = std::fs::read(&path).unwrap();
    let (meta, mut tensors) = checkpoint::read(&path).unwrap();
    let f16 = checkpoint::Metadata {
        dtype: StorageDtype::F16,
        ..meta.clone()
    };
    // NaN weights in any dtype; 1e6 is finite in f32 but beyond f16's range.
    for (value, meta) in [(f64::NAN, &meta), (1e6, &f16)] {
        let name = tensors[0].0.clone();
        tensors[0].1 = tensors[0].1.ones_like() * value;
        let err = checkpoint::save(&path, meta, &tensors).unwrap_err();
        assert!(
            matches!(&err.problem, Problem::Unstorable { name: n, .. } if *n == name),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before, "{err}");
    }
}

#[test]
fn restore_pads_odd_sizes_and_crops_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut restorer = Restorer::load(
        &random_restorer_checkpoint(dir.path(), SMALL, 10),
        Device::Cpu,
    )
    .unwrap();
    assert!(restorer.set_level(25.0).unwrap());
    assert!(!restorer.set_level(25.0).unwrap());
    for (h, w) in [(1, 1), (1, 6), (7, 1), (2, 2), (15, 22), (33, 17)] {
        let x = rand(h * 100 + w, &[1, 3, h, w]);
        let y = restorer.restore(&x);
        assert_eq!(y.size(), [1, 3, h, w]);
        let reference = tch::no_grad(|| {
            crop_to(&restorer.network().forward(&pad_to_even(&x)), h, w).clamp(0.0, 1.0)
        });
        // Equal up to float rounding: the restorer convolves in channels-last order.
        assert!(y.allclose(&reference, 1e-5, 1e-6, false), "{h}x{w}");
    }
    // Reflection: the padded column mirrors the one before the last.
    let x = rand(45, &[1, 3, 4, 5]);
    let padded = pad_to_even(&x);
    assert_eq!(padded.size(), [1, 3, 4, 6]);
    assert!(padded.select(3, 5).equal(&x.select(3, 3)));
    assert!(restorer.set_level(f64::NAN).is_err());
    assert!(restorer.set_level(f64::INFINITY).is_err());
}

/// A checkpoint's raw parts, to be broken in one place and written back.
struct Raw {
    header: HashMap<String, String>,
    tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
}

impl Raw {
    fn read(path: &Path) -> Raw {
        let bytes = std::fs::read(path).unwrap();
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let tensors = st
            .iter()
            .map(|(n, v)| {
                (
                    n.to_owned(),
                    v.dtype(),
                    v.shape().to_vec(),
                    v.data().to_vec(),
                )
            })
            .collect();
        Raw {
            header: meta.metadata().clone().unwrap_or_default(),
            tensors,
        }
    }

    fn write(&self, path: &Path) {
        let views: Vec<(&str, TensorView<'_>)> = self
            .tensors
            .iter()
            .map(|(n, d, s, b)| (n.as_str(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        let header = (!self.header.is_empty()).then(|| self.header.clone());
        std::fs::write(path, safetensors::serialize(views, header).unwrap()).unwrap();
    }

    fn tensor_mut(&mut self, name: &str) -> &mut (String, Dtype, Vec<usize>, Vec<u8>) {
        self.tensors.iter_mut().find(|t| t.0 == name).unwrap()
    }
}

fn restorer_error(path: &Path) -> CheckpointError {
    let err = Restorer::load(path, Device::Cpu).expect_err("a bad checkpoint must not load");
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "error does not name the file: {message}"
    );
    err
}

/// Writes a variant of a valid checkpoint, broken by `breaks`, and returns its path.
fn broken(dir: &Path, name: &str, breaks: impl FnOnce(&mut Raw)) -> PathBuf {
    let mut raw = Raw::read(&random_restorer_checkpoint(dir, SMALL, 11));
    breaks(&mut raw);
    let path = dir.join(format!("{name}.safetensors"));
    raw.write(&path);
    path
}

#[test]
fn unreadable_files_give_errors() {
    let dir = tempfile::tempdir().unwrap();
    let valid = std::fs::read(random_restorer_checkpoint(dir.path(), SMALL, 12)).unwrap();
    let missing = dir.path().join("does-not-exist.safetensors");
    assert!(matches!(restorer_error(&missing).problem, Problem::Io(_)));

    let cases: [(&str, Vec<u8>); 5] = [
        ("empty", vec![]),
        ("truncated", valid[..valid.len() / 2].to_vec()),
        ("header-only", valid[..40].to_vec()),
        (
            "garbage",
            (0..4000u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
        ("huge-header-length", {
            let mut bytes = valid.clone();
            bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
            bytes
        }),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(format!("{name}.safetensors"));
        std::fs::write(&path, bytes).unwrap();
        let problem = restorer_error(&path).problem;
        assert!(
            matches!(problem, Problem::Format(_) | Problem::Invalid(_)),
            "{name}: {problem}"
        );
    }
}

#[test]
fn mismatched_checkpoints_give_errors_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let wider = broken(d, "wider", |raw| {
        raw.header.insert("width".into(), "16".into());
    });
    assert!(matches!(
        restorer_error(&wider).problem,
        Problem::Shape { .. }
    ));

    let missing = broken(d, "missing", |raw| {
        raw.tensors.retain(|t| t.0 != "generated.b")
    });
    let problem = restorer_error(&missing).problem;
    assert!(
        matches!(&problem, Problem::MissingTensor(n) if n == "generated.b"),
        "{problem}"
    );

    let extra = broken(d, "extra", |raw| {
        raw.tensors
            .push(("conv9.weight".into(), Dtype::F32, vec![1], vec![0; 4]));
    });
    let problem = restorer_error(&extra).problem;
    assert!(
        matches!(&problem, Problem::UnexpectedTensor(n) if n == "conv9.weight"),
        "{problem}"
    );

    let half = broken(d, "half", |raw| {
        let t = raw.tensor_mut("conv1.bias");
        t.1 = Dtype::F16;
        t.3.truncate(t.3.len() / 2);
    });
    assert!(matches!(
        restorer_error(&half).problem,
        Problem::Dtype { .. }
    ));

    let integer = broken(d, "integer", |raw| {
        raw.header.insert("dtype".into(), "f16".into());
        for t in raw.tensors.iter_mut() {
            t.1 = Dtype::I16;
            t.3.truncate(t.3.len() / 2);
        }
    });
    assert!(matches!(
        restorer_error(&integer).problem,
        Problem::Dtype { .. }
    ));

    let nan = broken(d, "nan", |raw| {
        raw.tensor_mut("conv3.weight").3[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    let problem = restorer_error(&nan).problem;
    assert!(
        matches!(&problem, Problem::NonFinite(n) if n == "conv3.weight"),
        "{problem}"
    );

    let no_metadata = broken(d, "no-metadata", |raw| raw.header.clear());
    assert!(matches!(
        restorer_error(&no_metadata).problem,
        Problem::Metadata(_)
    ));

    let estimator = random_estimator_checkpoint(d, SMALL_ESTIMATOR, 13, None);
    let problem = restorer_error(&estimator).problem;
    assert!(matches!(
        problem,
        Problem::WrongKind {
            expected: ModelKind::Restorer,
            ..
        }
    ));
    assert_eq!(
        problem.to_string(),
        "holds an estimator, expected a restorer"
    );
}

#[test]
fn bad_metadata_values_give_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("format_version", "99"),
        ("kind", "teapot"),
        ("task", "colourise"),
        ("colour", "purple"),
        ("width", "abc"),
        ("width", "100000"),
        ("blocks", "-1"),
        ("levels", "[15, 35"),
        ("levels", "[]"),
        ("level_divisor", "0"),
        ("level_range", "[90, 5]"),
        ("dtype", "f64"),
        ("iterations", "many"),
        ("input_skip", "yes"),
        ("architecture", "resnet"),
        // An estimator's network named in a restorer's file.
        ("architecture", "noisenet"),
    ];
    for (i, (key, value)) in cases.into_iter().enumerate() {
        let path = broken(dir.path(), &format!("meta-{i}"), |raw| {
            raw.header.insert(key.into(), value.into());
        });
        let err = restorer_error(&path);
        assert!(
            matches!(err.problem, Problem::Metadata(_)),
            "{key}={value}: {err}"
        );
        assert!(err.to_string().contains(key), "{key}={value}: {err}");
    }
}

#[test]
fn metadata_survives_the_header() {
    let mut meta = metadata(Architecture::HyperRes, Colour::Gray, 32, 4);
    meta.levels = vec![10.0, 25.0, 45.0, 65.0, 80.0];
    meta.level_range = [5.0, 95.5];
    meta.provenance.iterations = 123_456;
    meta.provenance.commit = "abc123".into();
    meta.input_skip = true;
    let parsed = checkpoint::Metadata::from_header(&meta.to_header()).unwrap();
    assert_eq!(parsed, meta);
    // Checkpoints written before the option existed have no such key: the authors' network.
    let mut header = meta.to_header();
    header.remove("input_skip");
    assert!(
        !checkpoint::Metadata::from_header(&header)
            .unwrap()
            .input_skip
    );
    // Nor an architecture: the kind's original network.
    for (architecture, kind) in [
        (Architecture::HyperRes, "restorer"),
        (Architecture::NoiseNet, "estimator"),
    ] {
        header.remove("architecture");
        header.insert("kind".into(), kind.into());
        let parsed = checkpoint::Metadata::from_header(&header).unwrap();
        assert_eq!(parsed.architecture, architecture);
    }
}

/// The levels a restorer is used at: its recommended range and a quarter of it on each side, within
/// the levels that mean something (sigma from 0, JPEG quality 1 to 100, SR scale from 1).
#[test]
fn accepted_levels_widen_the_recommended_range() {
    let mut meta = metadata(Architecture::HyperRes, Colour::Rgb, 8, 1);
    let cases = [
        (Task::Denoise, [5.0, 90.0], [0.0, 111.25]),
        (Task::Denoise, [20.0, 60.0], [10.0, 70.0]),
        (Task::Dejpeg, [5.0, 95.0], [1.0, 100.0]),
        (Task::Dejpeg, [20.0, 60.0], [10.0, 70.0]),
        (Task::Sr, [1.5, 6.0], [1.0, 7.125]),
    ];
    for (task, range, accepted) in cases {
        (meta.task, meta.level_range) = (task, range);
        assert_eq!(meta.accepted_levels(), accepted, "{task} {range:?}");
    }
}
