//! Import of the authors' PyTorch checkpoints (their key names and meta-block layout).
//!
//! Restorer: `conv{1..5}.module.{weight,bias}` are our `conv{1..5}.*`; each generated conv is a
//! meta block `res_blocks_meta.{1..N}.hy_conv{1,2}.fc.{weight [n, 1], bias [n]}` whose n outputs are
//! the kernel then the bias, which is exactly one segment of our flat `generated.{w,b}`.
//! Estimator: the parameter names are already ours.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use tch::Tensor;

use super::{CheckpointError, Problem, Tensors, read_untyped};
use crate::model::{EstimatorConfig, RestorerConfig};
use crate::task::Architecture;

/// Which network an authors' state dict holds, with its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorsCheckpoint {
    Restorer(RestorerConfig),
    Estimator(EstimatorConfig),
}

/// Reads an authors' state dict: a `.safetensors` file directly, anything else as a PyTorch pickle
/// through `python` (which needs torch and safetensors installed).
pub fn read_authors(path: &Path, python: &Path) -> Result<Tensors, CheckpointError> {
    if path.extension().is_some_and(|e| e == "safetensors") {
        return read_untyped(path);
    }
    let converted = tempfile::Builder::new()
        .suffix(".safetensors")
        .tempfile()
        .map_err(|e| Problem::Io(e).at(path))?;
    let output = Command::new(python)
        .arg("-c")
        .arg(include_str!("pth_to_safetensors.py"))
        .arg(path)
        .arg(converted.path())
        .output()
        .map_err(|e| {
            Problem::Invalid(format!(
                "cannot run {} to read the pickle: {e}",
                python.display()
            ))
            .at(path)
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("no message");
        return Err(Problem::Invalid(format!("PyTorch could not read it: {last}")).at(path));
    }
    read_untyped(converted.path()).map_err(|e| e.problem.at(path))
}

/// Converts an authors' state dict (optionally wrapped by DataParallel, `module.` prefixes) into
/// our tensor names and layout, and tells which network and size it holds.
pub fn import_authors(tensors: Tensors) -> Result<(AuthorsCheckpoint, Tensors), Problem> {
    let mut by_name: HashMap<String, Tensor> = tensors
        .into_iter()
        .map(|(name, t)| (name.strip_prefix("module.").unwrap_or(&name).to_owned(), t))
        .collect();
    let (kind, ours) = if by_name.contains_key("res_blocks_meta.1.hy_conv1.fc.weight") {
        import_restorer(&mut by_name)?
    } else if by_name.contains_key("conv_seq.0.conv1.weight") {
        import_estimator(&mut by_name)?
    } else {
        return Err(Problem::Invalid(
            "neither an authors' HyperRes nor NoiseNet state dict (no res_blocks_meta.1 or conv_seq.0)"
                .into(),
        ));
    };
    match by_name.into_keys().min() {
        Some(name) => Err(Problem::UnexpectedTensor(name)),
        None => Ok((kind, ours)),
    }
}

fn take(by_name: &mut HashMap<String, Tensor>, name: &str) -> Result<Tensor, Problem> {
    by_name
        .remove(name)
        .ok_or_else(|| Problem::MissingTensor(name.to_owned()))
}

fn import_restorer(
    by_name: &mut HashMap<String, Tensor>,
) -> Result<(AuthorsCheckpoint, Tensors), Problem> {
    let head = by_name
        .get("conv1.module.weight")
        .ok_or_else(|| Problem::MissingTensor("conv1.module.weight".into()))?;
    let (width, channels) = (head.size()[0], head.size()[1]);
    let blocks = (1..)
        .take_while(|i| by_name.contains_key(&format!("res_blocks_meta.{i}.hy_conv1.fc.weight")))
        .count() as i64;
    let config = RestorerConfig {
        channels,
        width,
        blocks,
        input_skip: false,
    };
    let mut ours = Tensors::new();
    for conv in 1..=5 {
        for param in ["weight", "bias"] {
            let tensor = take(by_name, &format!("conv{conv}.module.{param}"))?;
            ours.push((format!("conv{conv}.{param}"), tensor));
        }
    }
    let (mut slopes, mut offsets) = (Vec::new(), Vec::new());
    for block in 1..=blocks {
        for conv in 1..=2 {
            let prefix = format!("res_blocks_meta.{block}.hy_conv{conv}.fc");
            let slope = take(by_name, &format!("{prefix}.weight"))?;
            let offset = take(by_name, &format!("{prefix}.bias"))?;
            let n = config.generated_conv_len();
            for (name, t, shape) in [("weight", &slope, vec![n, 1]), ("bias", &offset, vec![n])] {
                if t.size() != shape {
                    return Err(Problem::Shape {
                        name: format!("{prefix}.{name}"),
                        expected: shape,
                        found: t.size(),
                    });
                }
            }
            slopes.push(slope.flatten(0, -1));
            offsets.push(offset);
        }
    }
    // At least one block: detection needed res_blocks_meta.1.
    ours.push(("generated.w".into(), Tensor::cat(&slopes, 0)));
    ours.push(("generated.b".into(), Tensor::cat(&offsets, 0)));
    Ok((AuthorsCheckpoint::Restorer(config), ours))
}

fn import_estimator(
    by_name: &mut HashMap<String, Tensor>,
) -> Result<(AuthorsCheckpoint, Tensors), Problem> {
    let head = by_name
        .get("conv1.weight")
        .ok_or_else(|| Problem::MissingTensor("conv1.weight".into()))?;
    let config = EstimatorConfig {
        architecture: Architecture::NoiseNet,
        width: head.size()[0],
        channels: head.size()[1],
        stages: (0..)
            .take_while(|i| by_name.contains_key(&format!("conv_seq.{}.conv1.weight", 2 * i)))
            .count() as i64,
    };
    let ours = by_name.drain().collect();
    Ok((AuthorsCheckpoint::Estimator(config), ours))
}
