//! The switch between IEEE float32 and TF32 for CUDA convolutions: libtorch starts with TF32
//! allowed, and the switch changes libtorch's own setting (no GPU is needed to set or read it).

use gsthyperres::cuda_fp32;

#[test]
fn tf32_switch_sets_libtorchs_cuda_float32_precision() {
    assert!(cuda_fp32::tf32_allowed(), "libtorch's default");
    cuda_fp32::allow_tf32(false);
    assert!(!cuda_fp32::tf32_allowed());
    cuda_fp32::allow_tf32(true);
    assert!(cuda_fp32::tf32_allowed());
}
