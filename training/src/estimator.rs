//! `hyperres-train estimator`: trains the level estimator. Every 128x128 crop is degraded at its
//! own level drawn uniformly from the task's range, and the network regresses that level (L1).
//! With `--coded`, a share of each batch are crops of frames a real codec degraded instead,
//! labelled with the level that restores them best (with `--uncoded`, also the same frames before
//! coding, at the lightest level or degraded at light levels); with `--regret`, the coded crops'
//! loss adds the PSNR their frame loses at the estimate.

use std::path::Path;

use anyhow::{Context, bail, ensure};
use clap::Args;
use gsthyperres::checkpoint::{Metadata, StorageDtype};
use gsthyperres::frame::to_device;
use gsthyperres::level_estimator::LevelEstimator;
use gsthyperres::model::{ESTIMATOR_CROP, Estimator, EstimatorConfig};
use gsthyperres::task::{Architecture, LEVEL_DIVISOR, Task};
use rand::RngExt;
use serde_json::json;
use tch::{Kind, Reduction, Tensor, nn};

use crate::adam::Adam;
use crate::args::{RunArgs, low_high, training_device};
use crate::coded::{self, CodedFrames};
use crate::data::{ImageSource, sample_crops};
use crate::degrade::{self, degrade, seeded_rng};
use crate::regret::Regret;
use crate::session::{LogWindow, Session, resume_optimiser};
use crate::train::LrSchedule;

#[derive(Args, Debug)]
pub struct EstimatorArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Level range LOW,HIGH to train on (default: sigma 0..100, JPEG quality 5..95, SR scale 1.5..6).
    #[arg(long, value_delimiter = ',')]
    levels: Option<Vec<f64>>,
    #[arg(long, default_value_t = 20_000)]
    iters: i64,
    #[arg(long, default_value_t = 32)]
    batch: i64,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, value_enum, default_value = "cosine")]
    lr_schedule: LrSchedule,
    /// Folders of codec-degraded frames with their labels (`levels.json`, see
    /// scripts/h264_labels.py and scripts/jpeg_frames.py): a share of every batch is cropped
    /// from them.
    #[arg(long, num_args = 1..)]
    coded: Vec<std::path::PathBuf>,
    /// Also crop each --coded folder's frames before coding (`../clean`, as
    /// scripts/h264_frames.py lays them out), labelled with the lightest level (sigma 0, the best
    /// JPEG quality, the smallest scale): they show the codec's traces apart from a clean picture,
    /// which the estimator otherwise reads at the levels of the coded frames that look like it.
    #[arg(long, requires = "coded")]
    uncoded: bool,
    /// Degrade half of the crops of frames before coding, each at its own level drawn from
    /// LOW..HIGH as the other crops are; the rest stay at the lightest level. Clean frames tell
    /// the codec's traces from the picture, but so many of them alone pull light uncoded
    /// degradations to the lightest level, and a band alone lets the coded frames pull clean
    /// pictures up to their levels.
    #[arg(long, value_delimiter = ',', requires = "uncoded")]
    uncoded_levels: Option<Vec<f64>>,
    /// The share of every batch taken from the --coded frames.
    #[arg(long, default_value_t = 0.5, requires = "coded")]
    coded_share: f64,
    /// `eval --coded` reports on the --coded frames over one grid of levels: the coded crops' loss
    /// adds the PSNR their frame loses at the estimate (against its best level on the grid, and
    /// flat beyond it), times --regret-weight, to their L1 on the label. Crops of frames before
    /// coding (--uncoded) keep their L1 alone.
    #[arg(long, num_args = 1.., requires = "coded")]
    regret: Vec<std::path::PathBuf>,
    /// Level units of L1 (the other crops' loss) that one dB of --regret weighs as.
    #[arg(long, default_value_t = 200.0, requires = "regret")]
    regret_weight: f64,
    /// noisenet (the authors') or blockgrid (ours, JPEG-block aware); default: blockgrid for
    /// dejpeg, noisenet otherwise.
    #[arg(long)]
    architecture: Option<Architecture>,
}

/// The range the authors' estimator was trained on, and its analogues for the other tasks.
fn default_range(task: Task) -> [f64; 2] {
    match task {
        Task::Denoise => [0.0, 100.0],
        Task::Dejpeg => [5.0, 95.0],
        Task::Sr => [1.5, 6.0],
    }
}

/// The end of a task's range where an undegraded picture lies.
fn lightest(task: Task, [low, high]: [f64; 2]) -> f64 {
    match task {
        Task::Dejpeg => high,
        Task::Denoise | Task::Sr => low,
    }
}

pub fn run(args: EstimatorArgs) -> anyhow::Result<()> {
    if let Some(threads) = args.run.threads {
        tch::set_num_threads(threads);
    }
    let device = training_device(&args.run.device)?;
    let [low, high] = low_high(&args.levels, "--levels")?.unwrap_or(default_range(args.run.task));
    ensure!(low < high, "--levels must be LOW,HIGH with LOW < HIGH");
    degrade::check_levels(args.run.task, &[low, high], "--levels")?;
    // Checked and loaded before anything is written to --out.
    ensure!(
        (0.0..=1.0).contains(&args.coded_share),
        "--coded-share is a fraction from 0 to 1"
    );
    let uncoded = args.uncoded.then(|| lightest(args.run.task, [low, high]));
    let uncoded_levels = low_high(&args.uncoded_levels, "--uncoded-levels")?;
    if let Some([a, b]) = uncoded_levels {
        ensure!(
            low <= a && b <= high,
            "--uncoded-levels {a},{b} lies outside the range {low}..{high}"
        );
    }
    let coded = match &args.coded[..] {
        [] => None,
        dirs => Some(CodedFrames::open(
            dirs,
            args.run.colour,
            [low, high],
            uncoded,
        )?),
    };
    if let (Some(frames), Some(level)) = (&coded, uncoded) {
        let levels = uncoded_levels.map_or(format!("level {level}"), |[a, b]| {
            format!("levels {a}..{b}")
        });
        eprintln!("{} uncoded frames at {levels}", frames.uncoded());
    }
    let regret = match (&args.regret[..], &coded) {
        ([], _) | (_, None) => None,
        (reports, Some(frames)) => Some(Regret::load(reports, frames, device)?),
    };
    // Crops per batch from the coded frames, and degraded here.
    let coded_batch = coded
        .as_ref()
        .map_or(0, |_| (args.batch as f64 * args.coded_share).round() as i64);
    let synthetic = args.batch - coded_batch;
    let channels = args.run.colour.channels();
    let architecture = args.architecture.unwrap_or(match args.run.task {
        Task::Dejpeg => Architecture::BlockGrid,
        _ => Architecture::NoiseNet,
    });
    let config = match architecture {
        Architecture::NoiseNet => EstimatorConfig {
            channels,
            ..Default::default()
        },
        Architecture::BlockGrid => EstimatorConfig::block_grid(channels),
        Architecture::HyperRes => bail!("--architecture hyperres is a restorer"),
    };
    tch::manual_seed(args.run.seed as i64);
    let mut vs = nn::VarStore::new(device);
    let mut net = Estimator::new(&vs.root(), config);
    net.start_at((low + high) / 2.0);
    let mut adam = Adam::new(&vs);
    let mut meta = Metadata {
        architecture: config.architecture,
        task: args.run.task,
        colour: args.run.colour,
        width: config.width,
        blocks: config.stages,
        levels: vec![low, high],
        level_divisor: LEVEL_DIVISOR,
        level_range: [low, high],
        dtype: StorageDtype::F32,
        input_skip: false,
        provenance: args.run.provenance(device),
    };
    let before_coding = match (args.uncoded, uncoded_levels) {
        (false, _) => String::new(),
        (true, None) => " (and before coding)".into(),
        (true, Some([a, b])) => format!(" (and before coding, at levels {a}..{b})"),
    };
    for dir in &args.coded {
        meta.provenance.dataset += &coded::provenance(dir);
        meta.provenance.dataset += &before_coding;
    }
    for report in &args.regret {
        meta.provenance.dataset += &format!(" (regret from {})", report.display());
    }
    let mut iteration = 0;
    if let Some(model) = &args.run.resume {
        iteration = resume_weights(model, &mut vs, &meta)?;
        resume_optimiser(model, iteration, &mut adam)?;
    }
    let mut session = Session::new(&args.run.out, args.iters, iteration, args.run.minutes)?;
    let mut images = ImageSource::open(
        &args.run.data,
        args.run.colour,
        ESTIMATOR_CROP,
        (args.run.seed, iteration),
        args.run.stream,
    )?;
    let end = args
        .run
        .stop_after
        .map_or(args.iters, |n| (iteration + n).min(args.iters));
    let mut window = LogWindow::new(device);
    while iteration < end && !session.should_stop() {
        let mut rng = seeded_rng(args.run.seed, iteration as u64);
        let (mut degraded, mut levels) = (Vec::new(), Vec::new());
        if synthetic > 0 {
            let clean = sample_crops(
                images.images_at(iteration)?,
                ESTIMATOR_CROP,
                synthetic,
                &mut rng,
            );
            levels = (0..synthetic)
                .map(|_| rng.random_range(low..=high))
                .collect();
            degraded = clean
                .split(1, 0)
                .iter()
                .zip(&levels)
                .map(|(crop, &level)| degrade(args.run.task, crop, level, &mut rng))
                .collect::<anyhow::Result<Vec<_>>>()?;
        }
        let mut frames = Vec::new();
        if let Some(coded) = &coded {
            let (crops, labels);
            (crops, frames, labels) = coded_crops(
                coded,
                coded_batch,
                uncoded_levels.map(|band| (args.run.task, band)),
                &mut rng,
            )?;
            degraded.extend(crops);
            levels.extend(labels);
        }
        // Pinned and queued on CUDA, as the restorer's batches are.
        let input = to_device(&Tensor::cat(&degraded, 0), device);
        let target = to_device(&Tensor::from_slice(&levels).to_kind(Kind::Float), device);
        let estimate = net.forward(&input);
        let mut loss = estimate.l1_loss(&target, Reduction::Mean);
        if let Some(regret) = &regret {
            // The coded crops keep their L1 to the label, which settles them where the regret is
            // flat (near their best level, and beyond the grid).
            let coded = estimate.narrow(0, synthetic, coded_batch);
            let numbers: Vec<i64> = frames.iter().map(|&i| i as i64).collect();
            let frames = to_device(&Tensor::from_slice(&numbers), device);
            loss += regret.at(&frames, &coded).sum(Kind::Float) * args.regret_weight
                / args.batch as f64;
        }
        loss.backward();
        adam.step(args.lr_schedule.lr(args.lr, iteration, args.iters));
        iteration += 1;
        window.step(&loss);
        let mut message = None;
        if iteration % args.run.log_every == 0 || iteration == end {
            let means = window.take();
            session.log(json!({
                "iteration": iteration,
                "loss": means.loss,
                "it_per_s": means.it_per_s
            }))?;
            message = Some(format!("loss {:.3}", means.loss));
        }
        session.progress(iteration, message);
        if iteration % args.run.save_every == 0 {
            session.save(&mut meta, iteration, &vs, &adam)?;
        }
    }
    session.save(&mut meta, iteration, &vs, &adam)?;
    session.finish(iteration, args.iters);
    Ok(())
}

/// `n` crops of the coded frames, as pieces of the step's batch (the step concatenates them once,
/// with the synthetic crops), with their frames' numbers and labels; with `uncoded` (the task and
/// a band of levels), half of the crops of frames before coding are degraded, each at its own
/// level drawn from the band, which becomes its label.
fn coded_crops(
    coded: &CodedFrames,
    n: i64,
    uncoded: Option<(Task, [f64; 2])>,
    rng: &mut impl rand::Rng,
) -> anyhow::Result<(Vec<Tensor>, Vec<usize>, Vec<f64>)> {
    let (crops, frames) = coded.sample(n, rng);
    let mut levels: Vec<f64> = frames.iter().map(|&i| coded.level(i)).collect();
    let Some((task, [a, b])) = uncoded else {
        return Ok((vec![crops], frames, levels));
    };
    let mut pieces = crops.split(1, 0);
    for ((crop, &i), label) in pieces.iter_mut().zip(&frames).zip(&mut levels) {
        if coded.is_uncoded(i) && rng.random_bool(0.5) {
            *label = rng.random_range(a..=b);
            *crop = degrade(task, crop, *label, rng)?;
        }
    }
    Ok((pieces, frames, levels))
}

/// Copies the weights of the estimator checkpoint `model` into `vs` after checking it matches
/// the run; returns its iteration count.
fn resume_weights(model: &Path, vs: &mut nn::VarStore, meta: &Metadata) -> anyhow::Result<i64> {
    let saved = LevelEstimator::load(model, vs.device())?;
    let m = saved.metadata();
    ensure!(
        (m.architecture, m.task, m.colour, &m.levels)
            == (meta.architecture, meta.task, meta.colour, &meta.levels),
        "{}: a {} {} {} estimator over {:?}, not what the arguments ask for",
        model.display(),
        m.architecture,
        m.task,
        m.colour,
        m.levels
    );
    tch::no_grad(|| vs.copy(saved.var_store())).context("copying the saved weights")?;
    Ok(m.provenance.iterations as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coded::tests::one_frame;
    use gsthyperres::task::Colour;

    #[test]
    fn uncoded_crops_are_degraded_at_levels_of_the_band_and_labelled_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = [one_frame(dir.path())];
        let frames = CodedFrames::open(&dirs, Colour::Gray, [0.0, 100.0], Some(0.0)).unwrap();
        let rng = &mut degrade::seeded_rng(0, 0);
        // Without a band the frames before coding come as they are, at the lightest level.
        let (crops, numbers, levels) = coded_crops(&frames, 16, None, rng).unwrap();
        assert_eq!(crops.len(), 1, "split without a band");
        for ((crop, i), level) in crops[0].split(1, 0).iter().zip(&numbers).zip(&levels) {
            let value = [50.0, 200.0][*i] / 255.0;
            assert!((crop - value).abs().max().double_value(&[]) < 1e-6);
            assert_eq!(*level, [30.0, 0.0][*i]);
        }
        let band = Some((Task::Denoise, [10.0, 20.0]));
        let (crops, numbers, levels) = coded_crops(&frames, 32, band, rng).unwrap();
        assert!(numbers.contains(&0) && numbers.contains(&1), "{numbers:?}");
        let mut uncoded_levels = Vec::new();
        for ((crop, i), &level) in crops.iter().zip(&numbers).zip(&levels) {
            // The noise's spread (in 8-bit steps) is the label's sigma.
            let spread = (crop * 255.0).std(true).double_value(&[]);
            match (i, level) {
                (0, _) => assert_eq!((level, spread), (30.0, 0.0)),
                (_, 0.0) => assert_eq!(spread, 0.0),
                _ => {
                    assert!((10.0..=20.0).contains(&level), "{level}");
                    assert!((spread - level).abs() < 0.1 * level, "{spread} for {level}");
                    uncoded_levels.push(level);
                }
            }
        }
        let clean = levels
            .iter()
            .zip(&numbers)
            .filter(|&(&l, &i)| i == 1 && l == 0.0);
        assert!(clean.count() > 0, "no crop before coding stayed clean");
        uncoded_levels.dedup();
        assert!(uncoded_levels.len() > 1, "one level for every crop");
    }
}
