//! Tiled restoration equals whole-frame restoration when the overlap covers the network's reach.

mod common;

use common::{load_crop, max_abs_diff, repo_path};
use gsthyperres::restorer::{Restorer, Tiling};
use tch::Device;

#[test]
fn tiles_with_enough_overlap_match_the_whole_frame() {
    // The fixture: a trained 4-block model, so outputs are real images, not clamped noise.
    let model = repo_path("tests/data/fixture-denoise-4b.safetensors");
    let mut restorer = Restorer::load(&model, Device::Cpu).unwrap();
    restorer.set_level(25.0).unwrap();
    // Odd sizes, and tiles that do not divide them.
    let x = load_crop("cbsd68_102061_crop.png")
        .narrow(1, 0, 75)
        .narrow(2, 0, 101)
        .unsqueeze(0);
    let whole = tch::no_grad(|| {
        restorer
            .network()
            .forward(&gsthyperres::model::pad_to_even(&x))
    });
    let whole = gsthyperres::model::crop_to(&whole, 75, 101);
    // Reach of 4 blocks: 4 * 4 + 8 = 24 pixels.
    let tiled = restorer.restore_tiled(
        &x,
        Tiling {
            tile: 24,
            overlap: 24,
        },
    );
    let reference = whole.clamp(0.0, 1.0);
    let err = max_abs_diff(&tiled, &reference);
    assert!(err < 1e-5, "tiled differs from whole frame by {err}");
    // Odd tile and overlap values are rounded up to even ones, keeping the stride-2 grid.
    let odd = restorer.restore_tiled(
        &x,
        Tiling {
            tile: 23,
            overlap: 23,
        },
    );
    assert!(max_abs_diff(&odd, &reference) < 1e-5);
    // Too little overlap shows at the seams only.
    let seams = restorer.restore_tiled(
        &x,
        Tiling {
            tile: 64,
            overlap: 0,
        },
    );
    let diff = (&seams - &reference).abs().amax([0, 1], false);
    assert!(diff.max().double_value(&[]) > 1e-4);
    // Pixels 28+ away from the seams at 64 (beyond the 24-pixel reach) are unaffected.
    let far_from_seams = diff.narrow(0, 28, 8).narrow(1, 28, 8);
    assert!(far_from_seams.max().double_value(&[]) < 1e-5);
    // No tiling: the plain path.
    assert!(
        restorer
            .restore_tiled(&x, Tiling::default())
            .equal(&restorer.restore(&x))
    );
}
