//! Bicubic resizing with OpenCV's `INTER_CUBIC` semantics (the authors' SR degradation): Keys
//! kernel with a = -0.75, half-pixel centres, replicated borders, no antialiasing when shrinking.
//! Done as two small matrix products: out = Wy · image · Wxᵀ.

use tch::{Kind, Tensor};

const A: f64 = -0.75;

/// Keys' cubic convolution weight at distance `x`.
fn cubic(x: f64) -> f64 {
    let x = x.abs();
    if x <= 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A
    } else {
        0.0
    }
}

/// The `[to, from]` matrix that resamples one axis of length `from` to `to`, source position of
/// output i being (i + 0.5) * scale - 0.5.
fn resampling_matrix(from: i64, to: i64, scale: f64) -> Tensor {
    let mut weights = vec![0.0f64; (to * from) as usize];
    for i in 0..to {
        let position = (i as f64 + 0.5) * scale - 0.5;
        let base = position.floor();
        let t = position - base;
        for k in -1..=2i64 {
            let source = (base as i64 + k).clamp(0, from - 1);
            weights[(i * from + source) as usize] += cubic(t - k as f64);
        }
    }
    Tensor::from_slice(&weights)
        .view([to, from])
        .to_kind(Kind::Float)
}

/// Resizes `image` `[.., H, W]` (values on the 0..1 scale) to `height` x `width`; `scale` gives
/// each axis' source step per output pixel (OpenCV uses 1/fx when fx is given, else in/out).
pub fn resize(
    image: &Tensor,
    (height, width): (i64, i64),
    (scale_y, scale_x): (f64, f64),
) -> Tensor {
    let size = image.size();
    let (h, w) = (size[size.len() - 2], size[size.len() - 1]);
    let wy = resampling_matrix(h, height, scale_y).to_device(image.device());
    let wx = resampling_matrix(w, width, scale_x).to_device(image.device());
    wy.matmul(&image.to_kind(Kind::Float)).matmul(&wx.tr())
}

/// OpenCV's output rounding for 8-bit images: nearest level, saturated.
fn to_8_bit(x: &Tensor) -> Tensor {
    (x * 255.0).round().clamp(0.0, 255.0) / 255.0
}

/// The SR degradation at `scale`: down by 1/scale (size rounded, as `cv2.resize(fx=1/s)`), then
/// back up to the original size, each step rounded to 8 bits as OpenCV does.
pub fn bicubic_down_up(image: &Tensor, scale: f64) -> Tensor {
    let size = image.size();
    let (h, w) = (size[size.len() - 2], size[size.len() - 1]);
    let (small_h, small_w) = (
        ((h as f64) / scale).round().max(1.0) as i64,
        ((w as f64) / scale).round().max(1.0) as i64,
    );
    let small = to_8_bit(&resize(image, (small_h, small_w), (scale, scale)));
    let up_scale = (small_h as f64 / h as f64, small_w as f64 / w as f64);
    to_8_bit(&resize(&small, (h, w), up_scale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn keys_kernel_interpolates_and_sums_to_one() {
        assert_eq!(cubic(0.0), 1.0);
        assert_eq!(cubic(1.0), 0.0);
        assert_eq!(cubic(2.0), 0.0);
        for t in [0.0, 0.1, 0.25, 0.5, 0.9] {
            let sum: f64 = (-1..=2).map(|k| cubic(t - f64::from(k))).sum();
            assert!((sum - 1.0).abs() < 1e-12);
        }
    }

    /// Values computed by hand from the definition: doubling [0, 1, 0, 0] (one row).
    #[test]
    fn upscaling_a_short_row_gives_the_hand_computed_values() {
        let row = Tensor::from_slice(&[0.0f32, 1.0, 0.0, 0.0]).view([1, 4]);
        let out = resize(&row, (1, 8), (1.0, 0.5));
        // Output 2 sits at source 0.75 (t = 0.75 from pixel 0): weights of pixels -1..2 are
        // cubic(1.75), cubic(0.75), cubic(0.25), cubic(1.25); only pixel 1 is lit.
        let expected_2 = cubic(0.25);
        // Output 0 sits at -0.25 (base -1, t = 0.75): pixel 1 is two steps right of the base + 1.
        let expected_0 = cubic(0.75 - 2.0);
        let values = Vec::<f32>::try_from(out.view([-1])).unwrap();
        assert!(
            (f64::from(values[2]) - expected_2).abs() < 1e-6,
            "{values:?}"
        );
        assert!(
            (f64::from(values[0]) - expected_0).abs() < 1e-6,
            "{values:?}"
        );
        assert!((cubic(0.25) - 0.878_906_25).abs() < 1e-12);
    }

    #[test]
    fn constant_images_stay_constant_and_sizes_follow_the_scale() {
        let flat = Tensor::full([3, 30, 45], 0.4, (Kind::Float, Device::Cpu));
        let out = bicubic_down_up(&flat, 3.0);
        assert_eq!(out.size(), [3, 30, 45]);
        let expected = (0.4f64 * 255.0).round() / 255.0;
        assert!((out - expected).abs().max().double_value(&[]) < 1e-6);
    }
}
