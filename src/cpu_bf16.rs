//! Whether bf16 pays on this CPU, measured rather than guessed from CPU flags: oneDNN's bf16
//! convolutions are several times faster than fp32 ones with AMX (an Intel Xeon), about twice as
//! fast with AVX512-BF16 on an AMD EPYC (Zen 4), but slower than fp32 on a Xeon VM that has
//! AVX512-BF16 without AMX (about 1.8x the fp32 time) and wherever bf16 is emulated.

use std::sync::OnceLock;
use std::time::Instant;

use tch::{Device, Kind, Tensor};

use crate::model::Layout;

/// One 3x3, 64-to-64 convolution (the network's inner layer) on a 64x64 channels-last map, in
/// fp32 and in bf16: the fastest of 20 runs of each, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Probe {
    fp32_ms: f64,
    bf16_ms: f64,
}

impl Probe {
    /// Whether bf16 is clearly faster (it costs a little accuracy, so a tie is not enough).
    fn bf16_is_faster(self) -> bool {
        self.bf16_ms < 0.8 * self.fp32_ms
    }
}

/// The probe, measured once per process (under 0.1 s) at the threads torch uses then.
fn probe() -> Probe {
    static PROBE: OnceLock<Probe> = OnceLock::new();
    *PROBE.get_or_init(|| {
        let _no_grad = tch::no_grad_guard();
        // Constant values: the time does not depend on them, and libtorch's one random generator
        // is the caller's (a draw here would shift whatever sequence a seed started).
        let options = (Kind::Float, Device::Cpu);
        let input = Layout::ChannelsLast.arrange(&Tensor::full([1, 64, 64, 64], 0.5, options));
        let weight = Tensor::full([64, 64, 3, 3], 1.0 / 576.0, options);
        let convs = [Kind::Float, Kind::BFloat16].map(|kind| {
            let (input, weight) = (input.to_kind(kind), weight.to_kind(kind));
            move || {
                let _ = input.conv2d(&weight, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1);
            }
        });
        // The first calls compile oneDNN's kernels. The two precisions then alternate and each
        // keeps its fastest run, so that other work on the machine slows both alike and the
        // comparison holds unless every run is disturbed.
        convs.iter().for_each(|conv| conv());
        let mut fastest_ms = [f64::INFINITY; 2];
        for _ in 0..20 {
            for (conv, fastest) in convs.iter().zip(&mut fastest_ms) {
                let start = Instant::now();
                conv();
                *fastest = fastest.min(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        Probe {
            fp32_ms: fastest_ms[0],
            bf16_ms: fastest_ms[1],
        }
    })
}

/// Whether bf16 beats fp32 on this CPU.
pub fn is_fast() -> bool {
    probe().bf16_is_faster()
}

/// What the probe measured, in words.
pub fn measured() -> String {
    let probe = probe();
    format!(
        "a probe layer took {:.2} ms in bf16 against {:.2} ms in fp32",
        probe.bf16_ms, probe.fp32_ms
    )
}

/// Why bf16 is a poor choice on `device`, if it is (the element and the trainer warn with it):
/// on a CPU where it is not clearly faster than fp32.
pub fn not_worth_it(device: Device) -> Option<String> {
    (device == Device::Cpu && !is_fast()).then(|| {
        format!(
            "bf16 convolutions are not faster than fp32 ones on this CPU ({}; bf16 is fast with \
             AMX or, on some CPUs, AVX512-BF16)",
            measured()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_times_both_precisions_once() {
        // As the element does before its first convolution (`cpu_buffers::reuse_buffers` says
        // why; another test here installs the allocator).
        crate::cpu_buffers::reuse_buffers();
        let first = probe();
        println!("{first:?}");
        for ms in [first.fp32_ms, first.bf16_ms] {
            assert!(ms.is_finite() && ms > 0.0, "{first:?}");
        }
        // Measured once: later callers (the element, the trainer, the bench) agree.
        let again = probe();
        assert_eq!(
            (first.fp32_ms, first.bf16_ms),
            (again.fp32_ms, again.bf16_ms)
        );
    }
}
