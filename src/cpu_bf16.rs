//! Whether bf16 pays on this CPU (see `cpu_bf16.cpp`).

use tch::Device;

unsafe extern "C" {
    fn hyperres_cpu_amx() -> i32;
}

/// Whether bf16 beats fp32 on this CPU. On x86 that takes AMX: without it oneDNN's bf16
/// convolutions are slower than fp32 ones, emulated or even on AVX512-BF16 (about 1.8x the fp32
/// time for both model sizes on a Xeon VM that has AVX512-BF16 but no AMX). On Arm, the BF16
/// extension (not measured here).
pub fn is_fast() -> bool {
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("bf16")
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        // SAFETY: plain C entry point; it catches C++ exceptions and reports them as -1.
        unsafe { hyperres_cpu_amx() == 1 }
    }
}

/// Why bf16 is a poor choice on `device`, if it is (the element and the trainer warn with it):
/// on a CPU where it is not fast.
pub fn slower_than_fp32(device: Device) -> Option<&'static str> {
    (device == Device::Cpu && !is_fast()).then_some(
        "this CPU has no AMX, so bf16 runs slower than fp32 on it (measured on such a CPU: about \
         1.8x the fp32 time per frame, 1.7x per training step)",
    )
}
