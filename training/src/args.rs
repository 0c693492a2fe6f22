//! Parsing of command-line values shared by the subcommands.

use std::path::PathBuf;

use anyhow::{bail, ensure};
use clap::Args;
use gsthyperres::checkpoint::Provenance;
use gsthyperres::task::{Colour, Task};
use tch::Device;

/// Options every training run has.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Degradation: denoise, dejpeg or sr.
    #[arg(long, default_value = "denoise")]
    pub task: Task,
    /// rgb or gray.
    #[arg(long, default_value = "rgb")]
    pub colour: Colour,
    /// Training image folders.
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Output folder: model.safetensors, train_state.safetensors, metrics.jsonl.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// CPU threads for torch (default: torch's choice).
    #[arg(long, value_parser = thread_count())]
    pub threads: Option<i32>,
    /// Continue from this checkpoint (and the train_state.safetensors beside it, if any).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Stop, saving, after this many iterations of this invocation (as Ctrl-C would).
    #[arg(long)]
    pub stop_after: Option<i64>,
    /// Stop, saving, after this many minutes of training (e.g. to fit a lent GPU's time).
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Stream the images through a pool of decoded ones even if the set would fit in memory
    /// (large sets always stream).
    #[arg(long)]
    pub stream: bool,
    #[arg(long, default_value_t = 1000)]
    pub save_every: i64,
    #[arg(long, default_value_t = 100)]
    pub log_every: i64,
}

/// `cpu`, `cuda` or `cuda:N`; CUDA only where torch sees it. Restoring prepares the device with
/// `gsthyperres::restorer::prepare_device`, training with [`training_device`].
pub fn parse_device(name: &str) -> anyhow::Result<Device> {
    let device = match name {
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse) {
            Some(Ok(index)) => Device::Cuda(index),
            _ => bail!("unknown device {other:?} (cpu, cuda or cuda:N)"),
        },
    };
    if let Device::Cuda(index) = device {
        let count = tch::Cuda::device_count();
        ensure!(
            (index as i64) < count,
            "device {name}: CUDA sees {count} GPU(s)"
        );
    }
    Ok(device)
}

/// The device of a training run: on CUDA, cuDNN picks the fastest convolution algorithms for the
/// fixed training shapes, and float32 convolutions may use TF32 tensor cores, as PyTorch trains by
/// default (the weights and optimiser state stay float32).
pub fn training_device(name: &str) -> anyhow::Result<Device> {
    let device = parse_device(name)?;
    if device.is_cuda() {
        tch::Cuda::cudnn_set_benchmark(true);
        gsthyperres::cuda_fp32::allow_tf32(true);
    }
    Ok(device)
}

impl RunArgs {
    /// Where a checkpoint of this run comes from (its iteration count is set when saving).
    pub fn provenance(&self, device: Device) -> Provenance {
        Provenance {
            dataset: self
                .data
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(";"),
            iterations: 0,
            device: format!("{device:?}"),
            commit: env!("HYPERRES_COMMIT").into(),
        }
    }
}

/// A `--threads` value: at least 1 (libtorch panics on 0).
pub fn thread_count() -> clap::builder::RangedI64ValueParser<i32> {
    clap::value_parser!(i32).range(1..)
}

/// A `LOW,HIGH` option: None when absent, an error unless it has two values with LOW <= HIGH.
pub fn low_high(values: &Option<Vec<f64>>, flag: &str) -> anyhow::Result<Option<[f64; 2]>> {
    match values.as_deref() {
        None => Ok(None),
        Some(&[low, high]) if low <= high => Ok(Some([low, high])),
        Some(other) => bail!("{flag} takes LOW,HIGH with LOW <= HIGH, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_absent_gpus_are_refused() {
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
        assert!(parse_device("tpu").is_err());
        if tch::Cuda::device_count() == 0 {
            let err = parse_device("cuda:0").unwrap_err().to_string();
            assert!(err.contains("CUDA sees 0"), "{err}");
        }
    }

    #[test]
    fn ranges_need_two_ordered_values() {
        assert_eq!(
            low_high(&Some(vec![5.0, 90.0]), "--range").unwrap(),
            Some([5.0, 90.0])
        );
        assert_eq!(low_high(&None, "--range").unwrap(), None);
        assert!(low_high(&Some(vec![5.0]), "--range").is_err());
        assert!(low_high(&Some(vec![90.0, 5.0]), "--range").is_err());
    }
}
