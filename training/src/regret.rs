//! The PSNR each coded frame loses when restored away from its best level, read from an
//! `eval --coded` report over a grid of levels: what an estimator's error on that frame costs.
//! Near the lightest levels a few quality units cost tenths of a dB; in the middle of the range
//! tens of units cost hundredths, which an L1 loss on the best level cannot tell apart.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail, ensure};
use tch::{Device, Kind, Tensor};

use crate::coded::CodedFrames;

pub struct Regret {
    /// The grid's levels, in logarithms (PSNR is interpolated between them in log(level), as the
    /// labels are refined).
    log_levels: Tensor,
    /// The grid's first and last levels, on the host: every step clamps to them.
    ends: [f64; 2],
    /// `[frames, grid]`: each frame's best PSNR on the grid minus its PSNR at each level, in dB.
    lost: Tensor,
}

impl Regret {
    /// The curves of `frames` in the `eval --coded` reports `paths`, which must give every coded
    /// frame the same grid of positive levels. Frames before coding (`--uncoded`) have none: they
    /// lose nothing at any estimate, and so keep their L1 alone, as do estimates beyond the grid.
    pub fn load(paths: &[PathBuf], frames: &CodedFrames, device: Device) -> anyhow::Result<Self> {
        let mut curves: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for path in paths {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let not_a_report = || format!("{}: not an `eval` report", path.display());
            let report: serde_json::Value =
                serde_json::from_str(&text).with_context(not_a_report)?;
            for row in report["images"].as_array().with_context(not_a_report)? {
                let (Some(image), Some(level), Some(psnr)) = (
                    row["image"].as_str(),
                    row["level"].as_f64(),
                    row["psnr"].as_f64(),
                ) else {
                    bail!(
                        "{}: an image row without image, level and psnr",
                        path.display()
                    );
                };
                curves.entry(image.into()).or_default().push((level, psnr));
            }
        }
        let path = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let mut grid = None;
        let mut lost = Vec::new();
        for name in frames.coded_names() {
            let curve = curves
                .get_mut(name)
                .with_context(|| format!("{path}: no rows for the coded frame {name}"))?;
            curve.sort_by(|a, b| a.0.total_cmp(&b.0));
            let levels: Vec<f64> = curve.iter().map(|&(level, _)| level).collect();
            let grid = grid.get_or_insert_with(|| levels.clone());
            ensure!(
                *grid == levels,
                "{path}: {name} was evaluated at {levels:?}, another frame at {grid:?}"
            );
            let best = curve.iter().map(|&(_, psnr)| psnr).fold(f64::MIN, f64::max);
            lost.extend(curve.iter().map(|&(_, psnr)| (best - psnr) as f32));
        }
        let grid = grid.context("no coded frames")?;
        // The frames before coding follow the coded ones, with flat curves.
        lost.resize(lost.len() + frames.uncoded() * grid.len(), 0.0);
        ensure!(
            grid.len() >= 2 && grid[0] > 0.0,
            "{path}: the curves need two levels or more, all above 0 (got {grid:?})"
        );
        Ok(Regret {
            ends: [grid[0], grid[grid.len() - 1]],
            log_levels: Tensor::from_slice(&grid)
                .to_kind(Kind::Float)
                .log()
                .to_device(device),
            lost: Tensor::from_slice(&lost)
                .view([-1, grid.len() as i64])
                .to_device(device),
        })
    }

    /// The dB each of `frames` (`[n]` int64 on the device: the numbers [`CodedFrames::sample`]
    /// gives) loses when restored at `estimate` (`[n]`), interpolated linearly in log(level)
    /// between the grid's levels; an estimate beyond the grid counts as its nearest end (no
    /// gradient there: the curve is unknown beyond it).
    pub fn at(&self, frames: &Tensor, estimate: &Tensor) -> Tensor {
        let n = self.log_levels.size()[0];
        let x = estimate.clamp(self.ends[0], self.ends[1]).log();
        // The grid segment [j - 1, j] holding each x.
        let j = x
            .unsqueeze(1)
            .gt_tensor(&self.log_levels.unsqueeze(0))
            .sum_dim_intlist(1, false, Kind::Int64)
            .clamp(1, n - 1);
        let lost = self.lost.index_select(0, frames);
        let at = |k: &Tensor| {
            (
                self.log_levels.index_select(0, k),
                lost.gather(1, &k.unsqueeze(1), false).squeeze_dim(1),
            )
        };
        let ((x0, y0), (x1, y1)) = (at(&(&j - 1)), at(&j));
        &y0 + (&y1 - &y0) * (x - &x0) / (x1 - x0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gsthyperres::task::Colour;
    use std::path::Path;

    /// Frames a and b, each in its own folder and report, evaluated at 5, 20 and 80: a best at
    /// 80, b at 20. Returns the folders and the reports.
    fn folders(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let (mut folders, mut reports) = (Vec::new(), Vec::new());
        for (name, psnr) in [("a", [30.0, 31.0, 33.0]), ("b", [30.0, 32.0, 31.5])] {
            let coded = dir.join(name);
            std::fs::create_dir_all(&coded).unwrap();
            let file = format!("{name}.png");
            image::GrayImage::new(128, 128)
                .save(coded.join(&file))
                .unwrap();
            std::fs::write(coded.join("levels.json"), format!(r#"{{"{file}": 20}}"#)).unwrap();
            folders.push(coded);
            reports.push(report(dir, &file, psnr));
        }
        (folders, reports)
    }

    /// An `eval --coded` report in `dir` of the frame `file` at 5, 20 and 80, with those PSNRs.
    fn report(dir: &Path, file: &str, psnr: [f64; 3]) -> PathBuf {
        let rows: Vec<_> = [5.0, 20.0, 80.0]
            .into_iter()
            .zip(psnr)
            .map(|(level, psnr)| serde_json::json!({"image": file, "level": level, "psnr": psnr}))
            .collect();
        let report = dir.join(format!("{file}.json"));
        std::fs::write(&report, serde_json::json!({ "images": rows }).to_string()).unwrap();
        report
    }

    #[test]
    fn regret_interpolates_in_log_level_and_clamps_to_the_grid() {
        let dir = tempfile::tempdir().unwrap();
        let (folders, reports) = folders(dir.path());
        let frames = CodedFrames::open(&folders, Colour::Gray, [5.0, 80.0], None).unwrap();
        assert_eq!(frames.names(), ["a.png", "b.png"]);
        let regret = Regret::load(&reports, &frames, Device::Cpu).unwrap();
        let estimate = Tensor::from_slice(&[5.0f32, 20.0, 80.0, 10.0, 40.0, 2.0, 200.0])
            .set_requires_grad(true);
        let lost = regret.at(&Tensor::from_slice(&[0i64, 0, 0, 0, 1, 1, 1]), &estimate);
        // 10 lies halfway between 5 and 20 in log(level); 40 halfway between 20 and 80.
        let expected = [3.0, 2.0, 0.0, 2.5, 0.25, 2.0, 0.5];
        assert_close(&lost, &expected);
        // Lower levels cost frame a more, higher ones cost b more; beyond the grid nothing moves.
        lost.sum(Kind::Float).backward();
        let grad: Vec<f64> = Vec::try_from(&estimate.grad().to_kind(Kind::Double)).unwrap();
        assert!(grad[3] < 0.0 && grad[4] > 0.0, "{grad:?}");
        assert_eq!((grad[5], grad[6]), (0.0, 0.0));
    }

    fn assert_close(lost: &Tensor, expected: &[f64]) {
        let got: Vec<f64> = Vec::try_from(&lost.to_kind(Kind::Double)).unwrap();
        assert_eq!(got.len(), expected.len());
        for (got, expected) in got.iter().zip(expected) {
            assert!((got - expected).abs() < 1e-5, "{got} against {expected}");
        }
    }

    #[test]
    fn frames_before_coding_lose_nothing_and_need_no_curve() {
        let dir = tempfile::tempdir().unwrap();
        let coded = crate::coded::tests::one_frame(dir.path());
        let report = report(dir.path(), "f.png", [30.0, 32.0, 31.0]);
        let frames = CodedFrames::open(&[coded], Colour::Gray, [0.0, 100.0], Some(0.0)).unwrap();
        assert_eq!(frames.names(), ["f.png", "f.png (uncoded)"]);
        // The grid lies inside the range 0..100: beyond it only the L1 acts.
        let regret = Regret::load(&[report], &frames, Device::Cpu).unwrap();
        let estimate = Tensor::from_slice(&[5.0f32, 5.0, 80.0, 0.0]);
        let lost = regret.at(&Tensor::from_slice(&[0i64, 1, 1, 0]), &estimate);
        assert_close(&lost, &[2.0, 0.0, 0.0, 2.0]);
    }

    #[test]
    fn frames_without_curves_grids_of_one_level_and_repeated_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (folders, reports) = folders(dir.path());
        let frames = CodedFrames::open(&folders, Colour::Gray, [5.0, 80.0], None).unwrap();
        let message = |result: anyhow::Result<Regret>| result.err().unwrap().to_string();
        let error = message(Regret::load(&reports[..1], &frames, Device::Cpu));
        assert!(
            error.contains("no rows for the coded frame b.png"),
            "{error}"
        );
        for report in &reports {
            let text = std::fs::read_to_string(report).unwrap();
            let mut rows: serde_json::Value = serde_json::from_str(&text).unwrap();
            rows["images"]
                .as_array_mut()
                .unwrap()
                .retain(|row| row["level"] == 20.0);
            std::fs::write(report, rows.to_string()).unwrap();
        }
        let error = message(Regret::load(&reports, &frames, Device::Cpu));
        assert!(error.contains("two levels or more"), "{error}");
        let twice = [folders[0].clone(), folders[0].clone()];
        let error = CodedFrames::open(&twice, Colour::Gray, [5.0, 80.0], None)
            .err()
            .unwrap();
        assert!(error.to_string().contains("a.png is in"), "{error}");
    }
}
