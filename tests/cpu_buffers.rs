//! The reusing CPU allocator: large freed buffers are kept and handed out again, results stay
//! right, and release() empties the cache.

use gsthyperres::cpu_buffers;
use tch::{Kind, Tensor};

#[test]
fn large_buffers_are_reused_and_released() {
    cpu_buffers::reuse_buffers();
    cpu_buffers::release();
    assert_eq!(cpu_buffers::cached_bytes(), 0);

    let shape = [4, 64, 128, 128]; // 16 MiB of f32
    let bytes = 4 * 64 * 128 * 128 * 4;
    let a = Tensor::ones(shape, (Kind::Float, tch::Device::Cpu));
    drop(a);
    assert_eq!(
        cpu_buffers::cached_bytes(),
        bytes,
        "a freed large buffer is kept"
    );

    // The same size again takes the kept block; the arithmetic on it is ordinary.
    let b = Tensor::full(shape, 2.0, (Kind::Float, tch::Device::Cpu));
    assert_eq!(
        cpu_buffers::cached_bytes(),
        0,
        "the kept block was handed out"
    );
    assert_eq!(b.mean(Kind::Float).double_value(&[]), 2.0);

    // A much smaller request does not take it (no quarter-of-a-frame waste of a big block).
    drop(b);
    let small = Tensor::zeros([1024, 1024], (Kind::Float, tch::Device::Cpu));
    assert_eq!(cpu_buffers::cached_bytes(), bytes);
    assert_eq!(small.double_value(&[1023, 1023]), 0.0);

    cpu_buffers::release();
    assert_eq!(cpu_buffers::cached_bytes(), 0);
}
