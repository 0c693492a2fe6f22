//! Parsing of command-line values shared by the subcommands.

use anyhow::{bail, ensure};
use tch::Device;

/// `cpu`, `cuda` or `cuda:N`; CUDA only where torch sees it. On CUDA, cuDNN picks the fastest
/// convolution algorithms for the fixed training shapes (and, as in PyTorch, may use TF32).
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
        tch::Cuda::cudnn_set_benchmark(true);
    }
    Ok(device)
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
