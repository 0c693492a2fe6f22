//! gst-hyperres tools: the trainer, importer and evaluation (`hyperres-train`) and the speed
//! benchmark (`hyperres-bench`); one model implementation (the `gsthyperres` library) serves both.

pub mod adam;
pub mod args;
pub mod bench;
pub mod coded;
pub mod convert;
pub mod data;
pub mod degrade;
pub mod estimator;
pub mod eval;
pub mod ffmpeg_filter;
pub mod import;
pub mod info;
pub mod jpeg;
pub mod metrics;
pub mod paper;
pub mod pixels;
pub mod plot;
pub mod regret;
pub mod resize;
pub mod session;
pub mod train;

/// Every step allocates and frees the same large activation buffers. glibc would hand them back
/// to the kernel (mmap/trim) and fault them in again each step, costing about 10% of a CPU
/// training step here; keeping them in the heap makes the reuse free.
pub fn keep_freed_memory() {
    // SAFETY: mallopt only adjusts allocator thresholds; it is called before any other thread
    // exists, and failure (return 0) just leaves the defaults.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
