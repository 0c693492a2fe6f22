//! `hyperres-train train`: the paper's recipe. k main networks per step (one per level, all fed
//! the same crops degraded at their level), L1 per level averaged, Adam, step or cosine decay.
//!
//! With `--coded`, each step also restores groups of crops of frames a real codec coded, each
//! group at its frame's label, against the frames before coding.
//!
//! Every step's randomness comes from (seed, iteration) alone, and the optimiser state is saved
//! with the weights, so a resumed run continues exactly the trajectory of an uninterrupted one.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Instant;

use anyhow::{Context, ensure};
use clap::{Args, ValueEnum};
use gsthyperres::checkpoint::{Metadata, StorageDtype};
use gsthyperres::cpu_bf16;
use gsthyperres::frame::to_device;
use gsthyperres::model::{HyperRes, Layout, LevelBatching, RestorerConfig};
use gsthyperres::restorer::Restorer;
use gsthyperres::task::{Architecture, Colour, LEVEL_DIVISOR, Task};
use rand::RngExt;
use serde_json::json;
use tch::{Device, Kind, Reduction, Tensor, nn};

use crate::adam::Adam;
use crate::args::{RunArgs, low_high, training_device};
use crate::coded::{self, CodedFrames};
use crate::data::{ImageSource, load_images, sample_crops};
use crate::degrade::{self, degrade, seeded_rng};
use crate::eval::Precision;
use crate::jpeg::{self, Decoder};
use crate::metrics::{psnr, quantise};
use crate::session::{LogWindow, Session, resume_optimiser};

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Levels of the k main networks (task units), e.g. 15,35,50,75.
    #[arg(long, value_delimiter = ',', required = true)]
    levels: Vec<f64>,
    /// Frames a real codec coded, labelled (scripts/h264_frames.py, then scripts/h264_labels.py),
    /// with the frames before coding in `../clean`: each step adds --coded-groups groups of
    /// --batch crops of one such frame, restored at its label.
    #[arg(long)]
    coded: Option<PathBuf>,
    /// Groups of coded crops per step, beside the k levels' groups.
    #[arg(long, default_value_t = 1, requires = "coded",
          value_parser = clap::value_parser!(i64).range(1..))]
    coded_groups: i64,
    /// Share (0..1) of JPEG crops decoded as a GStreamer pipeline decodes them (`jpegdec !
    /// videoconvert`: fast IDCT, chroma repeated); the rest as libjpeg's defaults do, the
    /// benchmark's decoding.
    #[arg(long, default_value_t = 0.0)]
    pipeline_decoded: f64,
    /// Validation image folder (PSNR per level every --val-every iterations).
    #[arg(long)]
    val: Option<PathBuf>,
    #[arg(long, default_value_t = 16)]
    blocks: i64,
    #[arg(long, default_value_t = 64)]
    width: i64,
    /// Add the input image to the network's output (not in the authors' network): learns the
    /// correction only, which converges far faster where the output is close to the input.
    #[arg(long)]
    input_skip: bool,
    /// Total iterations of the run (a resumed run continues up to this number).
    #[arg(long, default_value_t = 1_000_000)]
    iters: i64,
    /// Crops per level per step.
    #[arg(long, default_value_t = 16)]
    batch: i64,
    /// Crop side in pixels.
    #[arg(long, default_value_t = 96)]
    patch: i64,
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    #[arg(long, value_enum, default_value = "step")]
    lr_schedule: LrSchedule,
    #[arg(long, value_enum, default_value = "l1")]
    loss: Loss,
    /// Arithmetic of the convolutions: fp32 (TF32 on CUDA, as PyTorch trains by default) or bf16
    /// mixed precision (weights, gradients, loss and Adam stay float32; bf16 has float32's
    /// exponent range, so no loss scaling, which fp16 would need).
    #[arg(long, value_enum, default_value = "fp32")]
    precision: Precision,
    /// Memory layout of the convolutions, `nchw` or `channels-last` (the same results up to
    /// rounding). Default: PyTorch's NCHW for fp32 on an x86-64 CPU without AVX-512, where it
    /// trained 2-11% faster than channels-last (AMD EPYC Zen 2 and Zen 3), channels-last (NHWC)
    /// elsewhere (scripts/bench-train measures both).
    #[arg(long)]
    layout: Option<Layout>,
    /// How a step runs its k levels: `grouped` (one pass, grouped convolutions) or `loop` (the
    /// network once per level); the same result. Default: the faster measured on the device
    /// (grouped on CUDA, loop on a CPU); examples/bench_model times both.
    #[arg(long)]
    level_batching: Option<LevelBatching>,
    /// Recommended level range LOW,HIGH written to the checkpoint (default: the trained levels' span).
    #[arg(long, value_delimiter = ',')]
    range: Option<Vec<f64>>,
    #[arg(long, default_value_t = 5000)]
    val_every: i64,
    /// Validation images used (the first N of --val).
    #[arg(long, default_value_t = 4)]
    val_images: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Loss {
    /// Mean absolute error (the authors').
    L1,
    /// Mean squared error: weighs the large, learnable errors (edges, ringing) above the small
    /// unpredictable ones, where L1's per-pixel sign gives both the same pull. Near the identity
    /// (an input-skip network on JPEG) L1's sign noise alone drives the last ReLUs to zero.
    L2,
}

impl Loss {
    fn between(self, output: &Tensor, target: &Tensor) -> Tensor {
        match self {
            Loss::L1 => output.l1_loss(target, Reduction::Mean),
            Loss::L2 => output.mse_loss(target, Reduction::Mean),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LrSchedule {
    /// x0.1 after half of the iterations (the authors').
    Step,
    /// Cosine decay to zero.
    Cosine,
}

impl LrSchedule {
    pub fn lr(self, base: f64, iteration: i64, total: i64) -> f64 {
        match self {
            LrSchedule::Step if iteration >= total / 2 => base * 0.1,
            LrSchedule::Step => base,
            LrSchedule::Cosine => {
                base * 0.5 * (1.0 + (std::f64::consts::PI * iteration as f64 / total as f64).cos())
            }
        }
    }
}

/// Whether fp32 training steps run faster in NCHW than in channels-last on this CPU: so on x86-64
/// CPUs without AVX-512 (AMD EPYC Zen 2 and Zen 3), the other way round on one with it (an Intel
/// Xeon: 739 against 860 ms a step of scripts/bench-train).
fn cpu_prefers_nchw() -> bool {
    #[cfg(target_arch = "x86_64")]
    return !std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// The layout a run convolves in: `--layout`, else NCHW for fp32 on a CPU that prefers it (see
/// [`cpu_prefers_nchw`]), else channels-last.
fn training_layout(asked: Option<Layout>, device: Device, precision: Precision) -> Layout {
    match asked {
        Some(layout) => layout,
        None if device == Device::Cpu && precision == Precision::Fp32 && cpu_prefers_nchw() => {
            Layout::Nchw
        }
        None => Layout::ChannelsLast,
    }
}

/// One step's data: the clean crops and, level after level, their degraded copies (then the
/// coded groups' crops, if any).
struct Batch {
    input: Tensor,
    target: Tensor,
    coded: Option<CodedGroups>,
}

/// The uncoded crops of a step's groups of coded crops, and each group's level (as the network
/// reads it), made by the loader so that the step only copies them to the device.
struct CodedGroups {
    target: Tensor,
    levels: Tensor,
}

/// How a step's batch is made from the training images.
#[derive(Clone)]
struct Recipe {
    patch: i64,
    task: Task,
    levels: Vec<f64>,
    batch: i64,
    seed: u64,
    /// The coded frames and how many groups of them each step takes.
    coded: Option<(CodedFrames, i64)>,
    /// `--pipeline-decoded` (0 unless JPEG).
    pipeline_decoded: f64,
}

impl Recipe {
    /// The batch of `iteration`, from its own random stream (seed, iteration).
    fn batch(&self, images: &[Tensor], iteration: i64) -> anyhow::Result<Batch> {
        let mut rng = seeded_rng(self.seed, iteration as u64);
        let clean = sample_crops(images, self.patch, self.batch, &mut rng);
        // Drawn only when asked, so that other runs keep their random streams.
        let decoders = (self.pipeline_decoded > 0.0).then(|| {
            (0..self.batch)
                .map(|_| {
                    if rng.random_bool(self.pipeline_decoded) {
                        Decoder::Jpegdec
                    } else {
                        Decoder::Libjpeg
                    }
                })
                .collect::<Vec<_>>()
        });
        let mut parts = self
            .levels
            .iter()
            .map(|&level| match &decoders {
                Some(decoders) => jpeg::round_trip_each(&clean, level, decoders),
                None => degrade(self.task, &clean, level, &mut rng),
            })
            .collect::<anyhow::Result<Vec<Tensor>>>()?;
        let coded = self.coded.as_ref().map(|(frames, groups)| {
            let (mut target, mut levels) = (Vec::new(), Vec::new());
            for _ in 0..*groups {
                let (coded, uncoded, level) = frames.pairs(self.batch, self.patch, &mut rng);
                parts.push(coded);
                target.push(uncoded);
                levels.push((level / LEVEL_DIVISOR) as f32);
            }
            CodedGroups {
                target: Tensor::cat(&target, 0),
                levels: Tensor::from_slice(&levels),
            }
        });
        Ok(Batch {
            input: Tensor::cat(&parts, 0),
            target: clean,
            coded,
        })
    }
}

/// Threads making batches, each every `LOADERS`-th iteration: one thread alone, over a step's
/// degradations (millions of Gaussian samples, or dozens of JPEG round trips), left an H200
/// waiting up to a fifth of the time (2026-12-04).
const LOADERS: usize = 4;

/// The batches of iterations `start..end`, made a few steps ahead by [`LOADERS`] threads in
/// turn and handed out in order. Each batch depends on its iteration alone, so how many threads
/// make them changes nothing.
struct Loader {
    made: Vec<Receiver<anyhow::Result<Batch>>>,
    next: usize,
}

impl Loader {
    fn spawn(mut images: ImageSource, recipe: Recipe, (start, end): (i64, i64)) -> Loader {
        let (orders, made): (Vec<_>, Vec<_>) = (0..LOADERS)
            .map(|_| {
                let (order, orders) = sync_channel::<(i64, anyhow::Result<Vec<Tensor>>)>(2);
                let (send, made) = sync_channel(2);
                let recipe = recipe.clone();
                std::thread::spawn(move || {
                    for (iteration, images) in orders {
                        let batch = images.and_then(|images| recipe.batch(&images, iteration));
                        if send.send(batch).is_err() {
                            return;
                        }
                    }
                });
                (order, made)
            })
            .collect();
        // One thread hands out the images, iteration by iteration: a streaming pool advances so.
        std::thread::spawn(move || {
            for (iteration, order) in (start..end).zip(orders.iter().cycle()) {
                let images = images
                    .images_at(iteration)
                    .map(|images| images.iter().map(Tensor::shallow_clone).collect());
                if order.send((iteration, images)).is_err() {
                    return;
                }
            }
        });
        Loader { made, next: 0 }
    }

    /// The next iteration's batch.
    fn next(&mut self) -> anyhow::Result<Batch> {
        let batch = self.made[self.next]
            .recv()
            .context("the data loader stopped")?;
        self.next = (self.next + 1) % self.made.len();
        batch
    }
}

/// Everything needed to continue a run: the network, its variables, the optimiser, the iteration.
struct Run {
    meta: Metadata,
    vs: nn::VarStore,
    net: HyperRes,
    adam: Adam,
    iteration: i64,
}

impl Run {
    fn start(args: &TrainArgs, device: Device) -> anyhow::Result<Run> {
        let config = RestorerConfig {
            channels: args.run.colour.channels(),
            width: args.width,
            blocks: args.blocks,
            input_skip: args.input_skip,
        };
        tch::manual_seed(args.run.seed as i64);
        let vs = nn::VarStore::new(device);
        let net = HyperRes::new(&vs.root(), config);
        let adam = Adam::new(&vs);
        let range = match low_high(&args.range, "--range")? {
            Some(range) => range,
            None => [
                args.levels.iter().copied().fold(f64::INFINITY, f64::min),
                args.levels
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max),
            ],
        };
        let mut provenance = args.run.provenance(device);
        if args.precision == Precision::Bf16 {
            provenance.device += ", bf16 mixed precision";
        }
        if let Some(dir) = &args.coded {
            provenance.dataset += &coded::provenance(dir);
        }
        if args.pipeline_decoded > 0.0 {
            provenance.dataset += &format!(
                ";{}% of the JPEG crops decoded as jpegdec does",
                args.pipeline_decoded * 100.0
            );
        }
        let meta = Metadata {
            architecture: Architecture::HyperRes,
            task: args.run.task,
            colour: args.run.colour,
            width: args.width,
            blocks: args.blocks,
            levels: args.levels.clone(),
            level_divisor: LEVEL_DIVISOR,
            level_range: range,
            dtype: StorageDtype::F32,
            input_skip: args.input_skip,
            provenance,
        };
        Ok(Run {
            meta,
            vs,
            net,
            adam,
            iteration: 0,
        })
    }

    /// Loads the weights of `model` and, when `train_state.safetensors` beside it belongs to the
    /// same iteration, the optimiser state; otherwise Adam starts afresh from those weights.
    /// `--levels` may differ from the checkpoint's: the weights do not depend on the levels, so a
    /// resumed run can add a main network (a warm restart with a level below the trained ones).
    fn resume(args: &TrainArgs, model: &Path, device: Device) -> anyhow::Result<Run> {
        let restorer = Restorer::load(model, device)?;
        let meta = restorer.metadata().clone();
        ensure!(
            (
                meta.task,
                meta.colour,
                meta.width,
                meta.blocks,
                meta.input_skip
            ) == (
                args.run.task,
                args.run.colour,
                args.width,
                args.blocks,
                args.input_skip
            ),
            "{}: holds {} {} width {} blocks {} input skip {}, which differs from the arguments",
            model.display(),
            meta.task,
            meta.colour,
            meta.width,
            meta.blocks,
            meta.input_skip
        );
        if meta.levels != args.levels {
            eprintln!(
                "{} was trained at levels {:?}; continuing at {:?}",
                model.display(),
                meta.levels,
                args.levels
            );
        }
        let mut run = Run::start(args, device)?;
        tch::no_grad(|| run.vs.copy(restorer.var_store()))?;
        run.iteration = meta.provenance.iterations as i64;
        run.meta.provenance.dataset =
            continued_on(&meta.provenance.dataset, &run.meta.provenance.dataset);
        run.meta.provenance.device =
            continued_on(&meta.provenance.device, &run.meta.provenance.device);
        resume_optimiser(model, run.iteration, &mut run.adam)?;
        Ok(run)
    }
}

/// The devices (or data sets) a resumed run has trained on, e.g. "Cpu, bf16 mixed precision; then
/// Cuda(0)": a model started on the CPU and continued on a GPU says both. Only a change is appended.
fn continued_on(before: &str, now: &str) -> String {
    if before.is_empty() {
        now.into()
    } else if before.rsplit("; then ").next() == Some(now) {
        before.into()
    } else {
        format!("{before}; then {now}")
    }
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    ensure!(!args.levels.is_empty(), "--levels needs at least one level");
    degrade::check_levels(args.run.task, &args.levels, "--levels")?;
    ensure!(
        args.precision != Precision::Fp16,
        "--precision fp16 would need loss scaling: train in bf16 (or fp32)"
    );
    ensure!(
        args.batch > 0 && args.patch >= 2 && args.patch % 2 == 0,
        "--batch > 0 and an even --patch"
    );
    ensure!(
        (0.0..=1.0).contains(&args.pipeline_decoded),
        "--pipeline-decoded is a share from 0 to 1"
    );
    ensure!(
        args.pipeline_decoded == 0.0 || args.run.task == Task::Dejpeg,
        "--pipeline-decoded is for --task dejpeg"
    );
    if args.run.task == Task::Sr {
        // A crop that a scale does not divide shrinks to a rounded size: the model then learns that
        // scale's sampling phase wrongly (measured: x3 fell below bicubic with 64-pixel crops).
        let misfit: Vec<f64> = args
            .levels
            .iter()
            .copied()
            .filter(|s| s.fract() == 0.0 && args.patch % (*s as i64) != 0)
            .collect();
        if !misfit.is_empty() {
            eprintln!(
                "warning: --patch {} is not divisible by the scales {misfit:?}; prefer a crop size every integer scale divides (e.g. 60 for 2,3,4,5)",
                args.patch
            );
        }
    }
    if let Some(threads) = args.run.threads {
        tch::set_num_threads(threads);
    }
    let device = training_device(&args.run.device)?;
    if args.precision == Precision::Bf16
        && let Some(why) = cpu_bf16::not_worth_it(device)
    {
        eprintln!("warning: --precision bf16: {why}; prefer --precision fp32");
    }
    // Checked and loaded before anything is written to --out.
    let coded = match &args.coded {
        Some(dir) => {
            let levels = args.run.task.meaningful_levels();
            let range = [*levels.start(), *levels.end()];
            let frames = CodedFrames::open_pairs(dir, args.run.colour, range, args.patch)?;
            Some((frames, args.coded_groups))
        }
        None => None,
    };
    let mut run = match &args.run.resume {
        Some(model) => Run::resume(&args, model, device)?,
        None => Run::start(&args, device)?,
    };
    let mut session = Session::new(&args.run.out, args.iters, run.iteration, args.run.minutes)?;
    let images = ImageSource::open(
        &args.run.data,
        args.run.colour,
        args.patch,
        (args.run.seed, run.iteration),
        args.run.stream,
    )?;
    let validation = match &args.val {
        Some(dir) => Some(Validation::new(
            dir,
            args.run.colour,
            args.val_images,
            args.run.task,
            &args.levels,
            args.run.seed,
        )?),
        None => None,
    };
    let end = args
        .run
        .stop_after
        .map_or(args.iters, |n| (run.iteration + n).min(args.iters));
    let recipe = Recipe {
        patch: args.patch,
        task: args.run.task,
        levels: args.levels.clone(),
        batch: args.batch,
        seed: args.run.seed,
        coded,
        pipeline_decoded: args.pipeline_decoded,
    };
    let mut batches = Loader::spawn(images, recipe, (run.iteration, end));
    let c = Tensor::from_slice(&args.levels)
        .to_kind(Kind::Float)
        .to_device(device)
        / LEVEL_DIVISOR;
    let k = args.levels.len() as i64;
    let layout = training_layout(args.layout, device, args.precision);
    if args.layout.is_none() && layout == Layout::Nchw {
        eprintln!("convolving in NCHW, the faster layout for fp32 on a CPU without AVX-512");
    }
    let batching = args
        .level_batching
        .unwrap_or(LevelBatching::for_device(device));
    let mut window = LogWindow::new(device);

    while run.iteration < end && !session.should_stop() {
        let wait = Instant::now();
        let batch = batches.next()?;
        window.waited(wait.elapsed().as_secs_f64());
        let lr = args.lr_schedule.lr(args.lr, run.iteration, args.iters);
        let input = layout.arrange(&to_device(&batch.input, device).to_kind(args.precision.kind()));
        let target = to_device(&batch.target, device).repeat([k, 1, 1, 1]);
        let (target, levels) = match &batch.coded {
            Some(coded) => (
                Tensor::cat(&[target, to_device(&coded.target, device)], 0),
                Tensor::cat(&[&c, &to_device(&coded.levels, device)], 0),
            ),
            None => (target, c.shallow_clone()),
        };
        let output = run
            .net
            .forward_levels(&input, &levels, batching)
            .to_kind(Kind::Float);
        let loss = args.loss.between(&output, &target);
        loss.backward();
        run.adam.step(lr);
        run.iteration += 1;
        window.step(&loss);

        let mut message = None;
        if run.iteration % args.run.log_every == 0 || run.iteration == end {
            let means = window.take();
            session.log(json!({
                "iteration": run.iteration,
                "loss": means.loss,
                "lr": lr,
                "it_per_s": means.it_per_s,
                "loader_wait": means.loader_wait,
            }))?;
            message = Some(format!("loss {:.5}", means.loss));
        }
        session.progress(run.iteration, message);
        if let Some(validation) = &validation
            && (run.iteration % args.val_every == 0 || run.iteration == args.iters)
        {
            let psnrs = validation.psnr_per_level(&run.net, device);
            session.log(json!({"iteration": run.iteration, "val_psnr": psnrs}))?;
        }
        if run.iteration % args.run.save_every == 0 {
            session.save(&mut run.meta, run.iteration, &run.vs, &run.adam)?;
        }
    }
    session.save(&mut run.meta, run.iteration, &run.vs, &run.adam)?;
    session.finish(run.iteration, args.iters);
    Ok(())
}

/// A few validation images, degraded once at every trained level.
struct Validation {
    clean: Vec<Tensor>,
    degraded: Vec<Vec<Tensor>>,
    levels: Vec<f64>,
}

impl Validation {
    fn new(
        dir: &Path,
        colour: Colour,
        count: usize,
        task: Task,
        levels: &[f64],
        seed: u64,
    ) -> anyhow::Result<Validation> {
        let images = load_images(&[dir.to_owned()], colour)?;
        let clean: Vec<Tensor> = images
            .into_iter()
            .take(count)
            .map(|image| {
                let size = image.pixels.size();
                let even = image
                    .pixels
                    .narrow(1, 0, size[1] / 2 * 2)
                    .narrow(2, 0, size[2] / 2 * 2);
                even.to_kind(Kind::Float).unsqueeze(0) / 255.0
            })
            .collect();
        let mut rng = seeded_rng(seed, u64::MAX);
        let degraded = clean
            .iter()
            .map(|x| {
                levels
                    .iter()
                    .map(|&l| degrade(task, x, l, &mut rng))
                    .collect()
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Validation {
            clean,
            degraded,
            levels: levels.to_vec(),
        })
    }

    /// Mean PSNR per level, keyed by the level.
    fn psnr_per_level(
        &self,
        net: &HyperRes,
        device: Device,
    ) -> serde_json::Map<String, serde_json::Value> {
        self.levels
            .iter()
            .enumerate()
            .map(|(i, &level)| {
                let c = Tensor::from_slice(&[(level / LEVEL_DIVISOR) as f32]).to_device(device);
                let total: f64 = self
                    .clean
                    .iter()
                    .zip(&self.degraded)
                    .map(|(clean, degraded)| {
                        // Fresh weights: the level cache of `set_level` would be stale while
                        // training. One level: the plain pass, which `Grouped` is.
                        let out = tch::no_grad(|| {
                            net.forward_levels(
                                &degraded[i].to_device(device),
                                &c,
                                LevelBatching::Grouped,
                            )
                        });
                        psnr(
                            &quantise(&out.squeeze_dim(0).to_device(Device::Cpu)),
                            &quantise(&clean.squeeze_dim(0)),
                        )
                    })
                    .sum();
                (level.to_string(), json!(total / self.clean.len() as f64))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_asked_for_wins_and_only_fp32_on_a_cpu_may_default_to_nchw() {
        for device in [Device::Cpu, Device::Cuda(0)] {
            for precision in [Precision::Fp32, Precision::Bf16] {
                for layout in [Layout::Nchw, Layout::ChannelsLast] {
                    assert_eq!(training_layout(Some(layout), device, precision), layout);
                }
            }
            assert_eq!(
                training_layout(None, device, Precision::Bf16),
                Layout::ChannelsLast
            );
        }
        assert_eq!(
            training_layout(None, Device::Cuda(0), Precision::Fp32),
            Layout::ChannelsLast
        );
        let cpu_fp32 = training_layout(None, Device::Cpu, Precision::Fp32);
        assert_eq!(cpu_fp32 == Layout::Nchw, cpu_prefers_nchw());
    }

    #[test]
    fn a_resumed_run_records_each_change_of_device_or_data() {
        let cpu = "Cpu, bf16 mixed precision";
        assert_eq!(continued_on("", "Cpu"), "Cpu");
        assert_eq!(continued_on(cpu, cpu), cpu);
        let both = continued_on(cpu, "Cuda(0)");
        assert_eq!(both, "Cpu, bf16 mixed precision; then Cuda(0)");
        assert_eq!(continued_on(&both, "Cuda(0)"), both);
        assert_eq!(
            continued_on(&both, cpu),
            "Cpu, bf16 mixed precision; then Cuda(0); then Cpu, bf16 mixed precision"
        );
        assert_eq!(
            continued_on("../shared/data/train/CBSD432", "gpu/data/train"),
            "../shared/data/train/CBSD432; then gpu/data/train"
        );
    }

    fn recipe(task: Task, patch: i64, levels: &[f64], batch: i64, pipeline_decoded: f64) -> Recipe {
        Recipe {
            patch,
            task,
            levels: levels.to_vec(),
            batch,
            seed: 11,
            coded: None,
            pipeline_decoded,
        }
    }

    #[test]
    fn the_loader_hands_out_each_iterations_own_batch_in_order() {
        tch::manual_seed(3);
        let images: Vec<Tensor> = (0..3)
            .map(|_| Tensor::randint(256, [3, 20, 24], (Kind::Uint8, Device::Cpu)))
            .collect();
        let recipe = recipe(Task::Denoise, 8, &[15.0, 50.0], 2, 0.0);
        let (start, end) = (5, 5 + 2 * LOADERS as i64 + 1);
        let copies = images.iter().map(Tensor::shallow_clone).collect();
        let mut loader = Loader::spawn(ImageSource::Memory(copies), recipe.clone(), (start, end));
        for iteration in start..end {
            let made = loader.next().unwrap();
            let expected = recipe.batch(&images, iteration).unwrap();
            assert_eq!(made.input.size(), [4, 3, 8, 8]);
            assert!(made.input.equal(&expected.input), "iteration {iteration}");
            assert!(made.target.equal(&expected.target), "iteration {iteration}");
        }
        assert!(loader.next().is_err(), "a batch past the end");
    }

    /// With --pipeline-decoded each crop is decoded one way at every level, and both ways occur.
    #[test]
    fn jpeg_crops_mix_the_decoders() {
        tch::manual_seed(4);
        let images = [Tensor::randint(
            256,
            [3, 40, 40],
            (Kind::Uint8, Device::Cpu),
        )];
        let recipe = recipe(Task::Dejpeg, 16, &[20.0, 60.0], 12, 0.5);
        let batch = recipe.batch(&images, 0).unwrap();
        let coded = batch.input.chunk(2, 0);
        let mut jpegdec = 0;
        for (i, crop) in batch.target.unbind(0).iter().enumerate() {
            let at = |level, decoder| jpeg::round_trip_by(crop, level, decoder).unwrap();
            let is = |decoder| {
                (0..2).all(|l| coded[l].get(i as i64).equal(&at(recipe.levels[l], decoder)))
            };
            match (is(Decoder::Jpegdec), is(Decoder::Libjpeg)) {
                (true, false) => jpegdec += 1,
                (false, true) => {}
                both => panic!("crop {i}: jpegdec, libjpeg {both:?}"),
            }
        }
        assert!(
            (1..12).contains(&jpegdec),
            "{jpegdec} of 12 decoded as jpegdec"
        );
    }

    #[test]
    fn learning_rate_schedules() {
        assert_eq!(LrSchedule::Step.lr(1e-4, 499, 1000), 1e-4);
        assert!((LrSchedule::Step.lr(1e-4, 500, 1000) - 1e-5).abs() < 1e-20);
        assert_eq!(LrSchedule::Cosine.lr(1.0, 0, 1000), 1.0);
        assert!((LrSchedule::Cosine.lr(1.0, 500, 1000) - 0.5).abs() < 1e-12);
        assert!(LrSchedule::Cosine.lr(1.0, 1000, 1000).abs() < 1e-12);
    }
}
