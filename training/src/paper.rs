//! The HyperRes paper's published results (shared/reference/paper-results.md), to print beside ours.

use std::path::Path;

use gsthyperres::task::{Colour, Task};

/// (level, PSNR dB, SSIM) of HyperRes in the paper for `task`'s benchmark, where published: denoising
/// in RGB, JPEG in gray (nothing for the other colour), SR on Y of either.
pub fn hyperres_results(task: Task, colour: Colour) -> &'static [(f64, f64, Option<f64>)] {
    match (task, colour) {
        (Task::Denoise, Colour::Gray) | (Task::Dejpeg, Colour::Rgb) => &[],
        // CBSD68, RGB, trained at sigma 15, 35, 50, 75 (Table 1).
        (Task::Denoise, Colour::Rgb) => &[
            (5.0, 39.96, Some(0.98)),
            (15.0, 34.02, Some(0.95)),
            (25.0, 31.41, Some(0.89)),
            (35.0, 29.80, Some(0.85)),
            (45.0, 28.64, Some(0.81)),
            (55.0, 27.78, Some(0.78)),
            (65.0, 27.06, Some(0.76)),
            (75.0, 26.46, Some(0.73)),
            (85.0, 25.95, Some(0.71)),
        ],
        // LIVE1 gray, trained at q 10, 25, 45, 65, 80 (Table 3).
        (Task::Dejpeg, Colour::Gray) => &[
            (10.0, 28.81, Some(0.82)),
            (30.0, 32.56, Some(0.91)),
            (50.0, 34.39, Some(0.94)),
            (70.0, 36.38, Some(0.96)),
            (80.0, 38.09, Some(0.97)),
        ],
        // Set5, Y channel, trained at x2..x5 (Table 2).
        (Task::Sr, _) => &[
            (2.0, 36.69, None),
            (3.0, 29.77, None),
            (4.0, 29.46, None),
            (5.0, 25.63, None),
            (6.0, 24.92, None),
        ],
    }
}

/// Whether `data` is, by its folder name, the test set the published figures for `task` were
/// measured on: CBSD68 for noise (the paper's and the authors' estimator's), LIVE1 for JPEG (gray,
/// as eval loads it for a gray model), Set5 for SR. Beside any other images they would mislead.
pub fn is_benchmark(task: Task, data: &Path) -> bool {
    let names: &[&str] = match task {
        Task::Denoise => &["CBSD68"],
        Task::Dejpeg => &["LIVE1", "LIVE1_gray"],
        Task::Sr => &["Set5"],
    };
    data.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| names.iter().any(|n| n.eq_ignore_ascii_case(name)))
}

/// The paper's result at `level`, if it published one.
pub fn at(task: Task, colour: Colour, level: f64) -> Option<(f64, Option<f64>)> {
    hyperres_results(task, colour)
        .iter()
        .find(|(l, _, _)| *l == level)
        .map(|&(_, psnr, ssim)| (psnr, ssim))
}

/// The authors' released noise estimator on CBSD68 (shared/reference/paper-results.md):
/// (sigma, mean absolute error, relative error %).
pub const AUTHORS_ESTIMATOR_ERROR: [(f64, f64, f64); 7] = [
    (5.0, 0.64, 12.9),
    (15.0, 0.47, 3.1),
    (25.0, 0.27, 1.1),
    (35.0, 0.27, 0.8),
    (50.0, 0.41, 0.8),
    (75.0, 0.88, 1.2),
    (90.0, 1.18, 1.3),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_belong_to_the_colour_the_paper_measured() {
        assert_eq!(
            at(Task::Dejpeg, Colour::Gray, 10.0),
            Some((28.81, Some(0.82)))
        );
        assert_eq!(at(Task::Dejpeg, Colour::Rgb, 10.0), None);
        assert_eq!(
            at(Task::Denoise, Colour::Rgb, 25.0),
            Some((31.41, Some(0.89)))
        );
        assert_eq!(at(Task::Denoise, Colour::Gray, 25.0), None);
        assert_eq!(
            at(Task::Sr, Colour::Rgb, 2.0),
            at(Task::Sr, Colour::Gray, 2.0)
        );
    }

    #[test]
    fn the_benchmark_is_known_by_its_folder_name() {
        assert!(is_benchmark(
            Task::Denoise,
            Path::new("../data/test/CBSD68/")
        ));
        assert!(is_benchmark(Task::Dejpeg, Path::new("LIVE1_gray")));
        assert!(is_benchmark(Task::Sr, Path::new("/data/set5")));
        assert!(!is_benchmark(Task::Sr, Path::new("/data/CBSD68")));
        assert!(!is_benchmark(
            Task::Dejpeg,
            Path::new("h264-frames/LIVE1/clean")
        ));
    }
}
