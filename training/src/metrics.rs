//! Image quality metrics on 8-bit images held as f64/f32 tensors with values 0..255.

use tch::{Kind, Tensor};

/// PSNR in dB between two `[C, H, W]` 0..255 images over all values (infinite when equal).
pub fn psnr(a: &Tensor, b: &Tensor) -> f64 {
    let mse = (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
        .square()
        .mean(Kind::Double)
        .double_value(&[]);
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

/// `‖a − b‖ / ‖b‖` in float64, for tensors of any shape and scale (e.g. a device's output against
/// the CPU's).
pub fn relative_l2(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.to_kind(Kind::Double), b.to_kind(Kind::Double));
    (a - &b).norm().double_value(&[]) / b.norm().double_value(&[])
}

/// SSIM (Wang et al. 2004) between two `[C, H, W]` 0..255 images: 11x11 Gaussian window with
/// sigma 1.5, K1 = 0.01, K2 = 0.03, valid region only, averaged over the channels.
pub fn ssim(a: &Tensor, b: &Tensor) -> f64 {
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let window = gaussian_window(11, 1.5);
    // Each channel as its own image of a batch, filtered with the same window.
    let filter = |x: &Tensor| {
        x.unsqueeze(1)
            .conv2d(&window, None::<Tensor>, [1, 1], [0, 0], [1, 1], 1)
    };
    let (a, b) = (a.to_kind(Kind::Double), b.to_kind(Kind::Double));
    let (mu_a, mu_b) = (filter(&a), filter(&b));
    let var_a = filter(&(&a * &a)) - mu_a.square();
    let var_b = filter(&(&b * &b)) - mu_b.square();
    let cov = filter(&(&a * &b)) - &mu_a * &mu_b;
    let numerator = (&mu_a * &mu_b * 2.0 + c1) * (cov * 2.0 + c2);
    let denominator = (mu_a.square() + mu_b.square() + c1) * (var_a + var_b + c2);
    (numerator / denominator)
        .mean(Kind::Double)
        .double_value(&[])
}

/// Normalised 2-D Gaussian `[1, 1, size, size]` in f64.
fn gaussian_window(size: i64, sigma: f64) -> Tensor {
    let half = (size - 1) as f64 / 2.0;
    let g: Vec<f64> = (0..size)
        .map(|i| (-((i as f64 - half).powi(2)) / (2.0 * sigma * sigma)).exp())
        .collect();
    let g = Tensor::from_slice(&g);
    let g = &g / g.sum(Kind::Double);
    g.outer(&g).view([1, 1, size, size])
}

/// Rounds a [0, 1] image to the 0..255 grid the authors evaluate on.
pub fn quantise(x: &Tensor) -> Tensor {
    (x.clamp(0.0, 1.0) * 255.0).round()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn psnr_of_a_known_error() {
        let a = Tensor::zeros([3, 4, 4], (Kind::Float, Device::Cpu));
        // MSE 1 on the 0..255 scale: 20 log10(255) = 48.1308 dB.
        assert!((psnr(&(&a + 1.0), &a) - 48.130_803_608).abs() < 1e-6);
        assert!(psnr(&a, &a).is_infinite());
    }

    #[test]
    fn relative_l2_is_the_norm_of_the_difference_over_the_reference_norm() {
        let reference = Tensor::from_slice(&[3.0f32, 4.0]);
        assert_eq!(relative_l2(&reference, &reference), 0.0);
        let off = Tensor::from_slice(&[3.0f32, 4.05]);
        assert!((relative_l2(&off, &reference) - 0.01).abs() < 1e-6);
    }

    #[test]
    fn ssim_of_identical_and_of_shifted_constant_images() {
        let x = Tensor::rand([1, 32, 32], (Kind::Double, Device::Cpu)) * 255.0;
        assert!((ssim(&x, &x) - 1.0).abs() < 1e-12);
        // Two constant images 100 and 110: only the luminance term, (2*100*110 + C1) / (100^2 + 110^2 + C1).
        let a = Tensor::full([1, 16, 16], 100.0, (Kind::Double, Device::Cpu));
        let b = Tensor::full([1, 16, 16], 110.0, (Kind::Double, Device::Cpu));
        let c1 = (0.01f64 * 255.0).powi(2);
        let expected = (2.0 * 100.0 * 110.0 + c1) / (100.0f64.powi(2) + 110.0f64.powi(2) + c1);
        assert!((ssim(&a, &b) - expected).abs() < 1e-9);
    }

    #[test]
    fn ssim_matches_an_independent_numpy_implementation_on_real_images() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let clean = crate::data::decode(
            &root.join("../tests/data/cbsd68_102061_crop.png"),
            gsthyperres::task::Colour::Rgb,
        )
        .unwrap();
        let mut rng = crate::degrade::seeded_rng(1, 0);
        let noisy =
            crate::degrade::add_noise(&(clean.to_kind(Kind::Float) / 255.0), 25.0, &mut rng);
        let noisy = quantise(&noisy).to_kind(Kind::Uint8);
        let dir = tempfile::tempdir().unwrap();
        let raw = |name: &str, t: &Tensor| {
            let path = dir.path().join(name);
            let mut bytes = vec![0u8; t.numel()];
            t.contiguous().copy_data_u8(&mut bytes, t.numel());
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let (a, b) = (raw("a.raw", &clean), raw("b.raw", &noisy));
        let size = clean.size();
        let output = std::process::Command::new(root.join("../.venv/bin/python"))
            .arg(root.join("tests/reference/ssim_ref.py"))
            .args([&a, &b])
            .args(size.iter().map(|d| d.to_string()))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let reference: f64 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap();
        let ours = ssim(&clean, &noisy);
        assert!((0.3..0.95).contains(&reference), "{reference}");
        assert!(
            (ours - reference).abs() < 1e-9,
            "ours {ours}, numpy {reference}"
        );
    }
}
