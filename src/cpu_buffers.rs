//! Reuse of libtorch's large CPU buffers from frame to frame (see `cpu_buffers.cpp`): without it,
//! every 720p-and-larger frame maps and faults in its activation memory afresh.

use std::sync::Once;

unsafe extern "C" {
    fn hyperres_reuse_cpu_buffers(limit: usize) -> i32;
    fn hyperres_release_cpu_buffers();
    fn hyperres_cached_cpu_bytes() -> usize;
}

/// Freed buffers kept at most: a whole 1080p frame's working set of the full model fits; larger
/// frames are best tiled (`tile-size`), which also keeps their buffers small.
pub const DEFAULT_LIMIT: usize = 4 << 30;

/// Installs the reusing allocator for every CPU tensor allocated afterwards in this process
/// (once; later calls do nothing). Tensors allocated before keep their own deallocator, but
/// oneDNN's scratch memory is freed through whichever allocator is current then, so install it
/// before any convolution runs, not while one is running on another thread.
pub fn reuse_buffers() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: plain C entry point; it catches C++ exceptions and reports them as -1.
        let status = unsafe { hyperres_reuse_cpu_buffers(DEFAULT_LIMIT) };
        assert_eq!(status, 0, "installing the CPU buffer allocator failed");
    });
}

/// Frees every kept buffer (when a stream stops or changes size).
pub fn release() {
    // SAFETY: frees blocks no tensor refers to any more, under the allocator's mutex.
    unsafe { hyperres_release_cpu_buffers() }
}

/// Bytes of freed CPU buffers currently kept for reuse.
pub fn cached_bytes() -> usize {
    // SAFETY: reads a counter under the allocator's mutex.
    unsafe { hyperres_cached_cpu_bytes() }
}
