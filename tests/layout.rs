//! The restorer's two memory layouts compute the same function.

mod common;

use common::{load_crop, max_abs_diff, rand, repo_path};
use gsthyperres::model::Layout;
use gsthyperres::restorer::Restorer;
use tch::Device;

#[test]
fn nchw_and_channels_last_restore_alike() {
    let model = repo_path("tests/data/fixture-denoise-4b.safetensors");
    let mut restorer = Restorer::load(&model, Device::Cpu).unwrap();
    restorer.set_level(25.0).unwrap();
    // An odd size, so padding happens in both layouts.
    let x = load_crop("cbsd68_102061_crop.png")
        .narrow(1, 0, 63)
        .narrow(2, 0, 85)
        .unsqueeze(0);
    let channels_last = restorer.restore(&x);
    restorer.set_layout(Layout::Nchw);
    let nchw = restorer.restore(&x);
    assert_eq!(nchw.size(), [1, 3, 63, 85]);
    let err = max_abs_diff(&nchw, &channels_last);
    assert!(err < 1e-5, "layouts differ by {err}");
    // Not trivially equal: the model changed the picture.
    assert!(max_abs_diff(&nchw, &x) > 1e-2);
}

#[test]
fn channels_last_strides_are_exact_whatever_the_input() {
    let (c, h, w) = (3, 5, 7);
    // A frame as packed pixels become one: `[1, C, H, W]` with channels-last strides except an
    // unusual batch stride, which makes torch fall back to NCHW convolutions.
    let packed = rand(1, &[h, w, c]);
    let frame = packed.permute([2, 0, 1]).unsqueeze(0);
    let nchw = rand(2, &[1, c, h, w]);
    for x in [frame, nchw] {
        let arranged = Layout::ChannelsLast.arrange(&x);
        assert_eq!(arranged.stride(), [h * w * c, 1, w * c, c]);
        assert_eq!(arranged, x);
    }
}

#[test]
fn fp32_on_cuda_convolves_in_nchw_and_everything_else_channels_last() {
    use tch::Kind::{BFloat16, Float, Half};
    assert_eq!(Layout::fastest_for(Device::Cuda(0), Float), Layout::Nchw);
    for (device, kind) in [
        (Device::Cuda(0), Half),
        (Device::Cuda(1), BFloat16),
        (Device::Cpu, Float),
        (Device::Cpu, BFloat16),
    ] {
        assert_eq!(
            Layout::fastest_for(device, kind),
            Layout::ChannelsLast,
            "{kind:?} on {device:?}"
        );
    }
}
