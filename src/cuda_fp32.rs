//! Whether float32 on CUDA means IEEE float32 or TF32 (see `cuda_fp32.cpp`). Process-wide, as in
//! libtorch: the element and evaluation ask for IEEE so that fp32 on CUDA matches the CPU; training
//! allows TF32, as PyTorch does by default, for its speed.

unsafe extern "C" {
    fn hyperres_allow_tf32(allow: i32) -> i32;
    fn hyperres_tf32_allowed() -> i32;
}

/// Lets (or stops) CUDA float32 convolutions and matrix products use TF32 tensor cores.
pub fn allow_tf32(allow: bool) {
    // SAFETY: plain C entry point; it catches C++ exceptions and reports them as -1.
    let status = unsafe { hyperres_allow_tf32(i32::from(allow)) };
    assert_eq!(
        status, 0,
        "setting libtorch's CUDA float32 precision failed"
    );
}

/// Whether CUDA float32 convolutions may use TF32 (libtorch's default: yes).
pub fn tf32_allowed() -> bool {
    // SAFETY: plain C entry point; it catches C++ exceptions and reports them as -1.
    match unsafe { hyperres_tf32_allowed() } {
        -1 => panic!("reading libtorch's CUDA float32 precision failed"),
        allowed => allowed == 1,
    }
}
