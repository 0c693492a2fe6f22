//! The degradations a restorer learns to undo, applied the authors' way.

use gsthyperres::task::Task;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use tch::Tensor;

use crate::jpeg;
use crate::resize::bicubic_down_up;

/// Independent, reproducible randomness: stream `stream` (e.g. the iteration) of `seed`.
pub fn seeded_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// `clean` (f32 in [0, 1], `[C, H, W]` or `[N, C, H, W]`) degraded at `level` of `task`:
/// noise sigma, JPEG quality or SR scale.
pub fn degrade(
    task: Task,
    clean: &Tensor,
    level: f64,
    rng: &mut impl Rng,
) -> anyhow::Result<Tensor> {
    match task {
        Task::Denoise => Ok(add_noise(clean, level, rng)),
        Task::Dejpeg => per_image(clean, |image| jpeg::round_trip(image, level)),
        Task::Sr => Ok(bicubic_down_up(clean, level)),
    }
}

/// Refuses levels given as `flag` at which `task` has no degradation to apply: a noise sigma
/// below 0, a JPEG quality outside 1..100, an SR scale below 1, or no number at all.
pub fn check_levels(task: Task, levels: &[f64], flag: &str) -> anyhow::Result<()> {
    let meaning = match task {
        Task::Denoise => "a noise sigma of at least 0",
        Task::Dejpeg => "a JPEG quality from 1 to 100",
        Task::Sr => "a scale factor of at least 1",
    };
    for level in levels {
        anyhow::ensure!(
            level.is_finite() && task.meaningful_levels().contains(level),
            "{flag} {level}: a {task} level is {meaning}"
        );
    }
    Ok(())
}

/// Applies `f` to each `[C, H, W]` image of a batch (or to the one image given).
fn per_image(x: &Tensor, f: impl Fn(&Tensor) -> anyhow::Result<Tensor>) -> anyhow::Result<Tensor> {
    if x.dim() == 3 {
        return f(x);
    }
    let images = x
        .unbind(0)
        .iter()
        .map(f)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Tensor::stack(&images, 0))
}

/// Gaussian noise of `sigma` (0..255 scale), clipped to [0, 1] and truncated to 8 bits as the
/// authors store their noisy images.
pub fn add_noise(clean: &Tensor, sigma: f64, rng: &mut impl Rng) -> Tensor {
    let normal = Normal::new(0.0f32, (sigma / 255.0) as f32).expect("finite sigma");
    let noise: Vec<f32> = (0..clean.numel()).map(|_| normal.sample(rng)).collect();
    let noisy = clean + Tensor::from_slice(&noise).view(clean.size().as_slice());
    (noisy.clamp(0.0, 1.0) * 255.0).floor() / 255.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn levels_without_a_degradation_are_refused() {
        let refused = [
            (Task::Denoise, -5.0),
            (Task::Denoise, f64::NAN),
            (Task::Denoise, f64::INFINITY),
            (Task::Dejpeg, 0.0),
            (Task::Dejpeg, 101.0),
            (Task::Sr, 0.5),
        ];
        for (task, level) in refused {
            let error = check_levels(task, &[15.0, level], "--levels").unwrap_err();
            assert!(error.to_string().starts_with("--levels "), "{error}");
        }
        let accepted = [(Task::Denoise, 0.0), (Task::Dejpeg, 100.0), (Task::Sr, 1.0)];
        for (task, level) in accepted {
            check_levels(task, &[level], "--levels").unwrap();
        }
    }

    #[test]
    fn noise_has_the_requested_sigma_and_sits_on_the_8_bit_grid() {
        let clean = Tensor::full([3, 128, 128], 0.5, (Kind::Float, Device::Cpu));
        for sigma in [5.0, 25.0, 50.0] {
            let noisy = add_noise(&clean, sigma, &mut seeded_rng(7, 0));
            let residual = (&noisy - &clean) * 255.0;
            // Truncation to 8 bits lowers the mean by about half a level and adds 1/12 variance.
            let std = residual.std(true).double_value(&[]);
            let expected = (sigma * sigma + 1.0 / 12.0).sqrt();
            assert!(
                (std - expected).abs() / expected < 0.02,
                "sigma {sigma}: std {std}"
            );
            let mean = residual.mean(Kind::Float).double_value(&[]);
            assert!(
                (mean + 0.5).abs() < 0.1 * sigma / 5.0,
                "sigma {sigma}: mean {mean}"
            );
            let scaled = &noisy * 255.0;
            let off_grid = (&scaled - scaled.round()).abs().max().double_value(&[]);
            assert!(off_grid < 1e-3);
        }
    }

    #[test]
    fn the_same_seed_and_stream_give_the_same_noise() {
        let clean = Tensor::full([1, 8, 8], 0.5, (Kind::Float, Device::Cpu));
        let a = add_noise(&clean, 25.0, &mut seeded_rng(1, 9));
        assert!(a.equal(&add_noise(&clean, 25.0, &mut seeded_rng(1, 9))));
        assert!(!a.equal(&add_noise(&clean, 25.0, &mut seeded_rng(1, 10))));
        assert!(!a.equal(&add_noise(&clean, 25.0, &mut seeded_rng(2, 9))));
    }

    #[test]
    fn noise_is_clipped_to_the_valid_range() {
        let clean = Tensor::full([1, 64, 64], 0.02, (Kind::Float, Device::Cpu));
        let noisy = add_noise(&clean, 75.0, &mut seeded_rng(3, 0));
        assert!(noisy.min().double_value(&[]) >= 0.0 && noisy.max().double_value(&[]) <= 1.0);
    }
}
