//! What the timing examples share.

use std::time::Instant;

/// The median of `runs` timed calls of `work` in milliseconds, after one warm-up call (which
/// fills libtorch's and the allocator's caches).
pub fn median_ms(runs: usize, mut work: impl FnMut()) -> f64 {
    work();
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms[runs / 2]
}
