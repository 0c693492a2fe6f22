//! The main job: restore a video with the bundled models. Run through `scripts/demo [INPUT]`.
//!
//! Without INPUT it makes a short clip from a committed real photo (a slow pan), compresses every
//! frame with GStreamer's JPEG encoder at quality 15, restores the Y plane of the decoded I420
//! frames with the bundled dejpeg model at the quality the bundled JPEG estimator reads from them
//! (auto mode; chroma passes through), and reports PSNR before and after. INPUT (any file
//! GStreamer decodes) is denoised by the bundled denoise model at the noise sigma the bundled
//! estimator reads (auto mode), or at `--level`. It writes, into the output folder, the restored
//! video (`restored.avi`) and a side-by-side PNG (degraded | restored | original; without an
//! original, degraded | restored).
//!
//!     demo [INPUT [--level SIGMA]] [--out FOLDER]     (FOLDER defaults to demo-output)

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, bail};
use clap::Parser;
use gst::prelude::*;
use gst_app::{AppSink, AppSrc};
use gst_video::prelude::*;
use gsthyperres::frame::{packed_rgb, psnr_8bit};
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};
use tch::{Kind, Tensor};

const QUALITY: u32 = 15;
const FRAMES: i64 = 24;
const SIDE: i64 = 160;

struct Paths {
    denoise: PathBuf,
    estimator: PathBuf,
    dejpeg: PathBuf,
    jpeg_estimator: PathBuf,
    out: PathBuf,
}

/// Restores a video with the bundled models (without INPUT: a JPEG-compressed clip made from a
/// committed photo).
#[derive(Parser)]
struct Args {
    /// Any video GStreamer decodes, denoised in auto mode (or at --level).
    input: Option<PathBuf>,
    /// The noise sigma to denoise INPUT at, instead of the estimator's.
    #[arg(long, requires = "input", value_name = "SIGMA")]
    level: Option<f64>,
    /// Where to write restored.avi and side_by_side.png.
    #[arg(long, default_value = "demo-output", value_name = "FOLDER")]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Args { input, level, out } = Args::parse();
    let paths = Paths {
        denoise: root.join("models/denoise-rgb.safetensors"),
        estimator: root.join("models/estimator-noise.safetensors"),
        dejpeg: root.join("models/dejpeg-gray.safetensors"),
        jpeg_estimator: root.join("models/estimator-jpeg.safetensors"),
        out,
    };
    std::fs::create_dir_all(&paths.out)
        .with_context(|| format!("creating {}", paths.out.display()))?;
    gst::init()?;
    gsthyperres::plugin_register_static()?;
    match input {
        Some(input) if !input.exists() => bail!("{} does not exist", input.display()),
        Some(input) => restore_file(&input, &paths, level),
        None => restore_clip(root, &paths),
    }
}

/// The committed photo as a pan of `FRAMES` frames of `SIDE` x `SIDE`, `[3, H, W]` in [0, 1].
fn clip(root: &Path) -> anyhow::Result<Vec<Tensor>> {
    let photo = image::open(root.join("tests/data/cbsd68_102061_crop.png"))?.to_rgb8();
    let (w, h) = (photo.width() as i64, photo.height() as i64);
    let photo = Tensor::from_slice(photo.as_raw())
        .view([h, w, 3])
        .permute([2, 0, 1])
        .to_kind(Kind::Float)
        / 255.0;
    Ok((0..FRAMES)
        .map(|i| photo.narrow(1, i, SIDE).narrow(2, i, SIDE))
        .collect())
}

/// The denoising part of the pipeline for an input file: at `level`, or in auto mode.
fn denoiser(paths: &Paths, level: Option<f64>) -> String {
    let mode = match level {
        Some(level) => format!("level={level}"),
        None => "mode=auto estimate-interval=8".into(),
    };
    format!(
        "hyperres name=restorer {mode} model-location=\"{}\" estimator-location=\"{}\"",
        paths.denoise.display(),
        paths.estimator.display()
    )
}

/// The frames an appsink has received, in order.
type Collected = Arc<Mutex<Vec<Vec<u8>>>>;

/// The built-in clip's frames at one stage: their Y planes (what the model restores) and packed
/// RGB.
struct Stage {
    y: Vec<Vec<u8>>,
    rgb: Vec<Vec<u8>>,
}

/// Collects every frame `sink` receives (no row padding at the demo's size).
fn collect(sink: &AppSink, progress: Option<Progress>) -> Collected {
    let frames = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let collected = frames.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                collected.lock().unwrap().push(map.to_vec());
                if let Some(progress) = &progress {
                    progress.frame(buffer);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    frames
}

fn restore_clip(root: &Path, paths: &Paths) -> anyhow::Result<()> {
    let input: Vec<Vec<u8>> = clip(root)?.iter().map(packed_rgb).collect();
    let caps = format!("video/x-raw,format=RGB,width={SIDE},height={SIDE},framerate=12/1");
    let rgb = "videoconvert ! video/x-raw,format=RGB";
    // The degraded and restored frames are tapped twice: as I420 (whose Y plane is what the model
    // restores) and as RGB; the clean ones as I420 only (their RGB is the input itself).
    let branches = |tee: &str| {
        format!(
            "{tee}. ! queue ! appsink name={tee}-yuv sync=false \
             {tee}. ! queue ! {rgb} ! appsink name={tee}-rgb sync=false"
        )
    };
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time caps={caps} ! videoconvert ! video/x-raw,format=I420 ! \
         tee name=clean clean. ! queue ! appsink name=clean-yuv sync=false \
         clean. ! queue ! jpegenc quality={QUALITY} ! \
         jpegdec ! video/x-raw,format=I420 ! tee name=degraded {degraded} \
         degraded. ! queue ! hyperres name=restorer mode=auto model-location=\"{model}\" \
         estimator-location=\"{estimator}\" ! tee name=restored {restored} \
         restored. ! queue ! jpegenc quality=95 ! avimux ! filesink location=\"{video}\"",
        degraded = branches("degraded"),
        restored = branches("restored"),
        model = paths.dejpeg.display(),
        estimator = paths.jpeg_estimator.display(),
        video = paths.out.join("restored.avi").display()
    ))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| anyhow::anyhow!("not a pipeline"))?;
    let src = pipeline
        .by_name("src")
        .context("appsrc")?
        .downcast::<AppSrc>()
        .unwrap();
    let progress = Progress::new(&pipeline, "JPEG quality", None)?;
    progress.set_duration(gst::ClockTime::from_mseconds(FRAMES as u64 * 1000 / 12));
    let tap = |name: &str, progress: Option<Progress>| -> anyhow::Result<Collected> {
        let sink = pipeline
            .by_name(name)
            .and_then(|e| e.downcast::<AppSink>().ok())
            .context("appsink")?;
        Ok(collect(&sink, progress))
    };
    let clean_y = tap("clean-yuv", None)?;
    let taps = [
        [tap("degraded-yuv", None)?, tap("degraded-rgb", None)?],
        [
            tap("restored-yuv", None)?,
            tap("restored-rgb", Some(progress.clone()))?,
        ],
    ];
    pipeline.set_state(gst::State::Playing)?;
    for (i, frame) in input.iter().enumerate() {
        let mut buffer = gst::Buffer::from_mut_slice(frame.clone());
        buffer
            .get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_mseconds(i as u64 * 1000 / 12));
        src.push_buffer(buffer)?;
    }
    src.end_of_stream()?;
    wait(&pipeline)?;
    progress.finish();

    // An I420 buffer starts with its Y plane, unpadded: SIDE is a multiple of 4.
    let take = |frames: Collected| std::mem::take(&mut *frames.lock().unwrap());
    let y_planes = |yuv: Collected| {
        let mut frames = take(yuv);
        frames
            .iter_mut()
            .for_each(|f| f.truncate((SIDE * SIDE) as usize));
        frames
    };
    let clean = Stage {
        y: y_planes(clean_y),
        rgb: input,
    };
    let [degraded, restored] = taps.map(|[yuv, rgb]| Stage {
        y: y_planes(yuv),
        rgb: take(rgb),
    });
    let estimated = progress.level().context("no estimate")?;
    println!(
        "JPEG quality {QUALITY}, restored at the estimated quality {estimated:.1} (auto mode, Y plane of I420){}",
        progress.engine()
    );
    // Y: the plane the model restores. RGB: the whole picture against the input, including the
    // loss of the untouched 4:2:0 chroma, which also shifts luma where the decoded colours clip.
    let mean = |frames: &[Vec<u8>], reference: &[Vec<u8>]| {
        let pairs = frames.iter().zip(reference);
        pairs.map(|(f, c)| psnr_8bit(f, c)).sum::<f64>() / reference.len() as f64
    };
    println!(
        "PSNR Y JPEG {:.2} dB -> restored {:.2} dB",
        mean(&degraded.y, &clean.y),
        mean(&restored.y, &clean.y)
    );
    println!(
        "PSNR RGB JPEG {:.2} dB -> restored {:.2} dB",
        mean(&degraded.rgb, &clean.rgb),
        mean(&restored.rgb, &clean.rgb)
    );
    let middle = clean.rgb.len() / 2;
    side_by_side(
        &[&degraded, &restored, &clean].map(|stage| stage.rgb[middle].as_slice()),
        SIDE as u32,
        SIDE as u32,
        &paths.out,
    )
}

/// A packed RGB frame and its width and height.
type Frame = (Vec<u8>, u32, u32);

fn restore_file(input: &Path, paths: &Paths, level: Option<f64>) -> anyhow::Result<()> {
    let uri = gst::glib::filename_to_uri(std::fs::canonicalize(input)?, None)?;
    let pipeline = gst::parse::launch(&format!(
        "uridecodebin uri=\"{uri}\" ! videoconvert ! video/x-raw,format=RGB ! tee name=before \
         before. ! queue ! appsink name=first-in max-buffers=1 drop=true sync=false \
         before. ! queue ! {} ! tee name=after \
         after. ! queue ! appsink name=first-out max-buffers=1 drop=true sync=false \
         after. ! queue ! videoconvert ! jpegenc quality=95 ! avimux ! filesink location=\"{}\"",
        denoiser(paths, level),
        paths.out.join("restored.avi").display()
    ))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| anyhow::anyhow!("not a pipeline"))?;
    let progress = Progress::new(&pipeline, "noise sigma", level)?;
    let first = |name: &str| -> anyhow::Result<Arc<Mutex<Option<Frame>>>> {
        let sink = pipeline
            .by_name(name)
            .context("appsink")?
            .downcast::<AppSink>()
            .unwrap();
        let kept = Arc::new(Mutex::new(None));
        let slot = kept.clone();
        let progress = (name == "first-out").then(|| progress.clone());
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let (Some(progress), Some(buffer)) = (&progress, sample.buffer()) {
                        progress.frame(buffer);
                    }
                    let mut slot = slot.lock().unwrap();
                    if slot.is_none() {
                        let info = gst_video::VideoInfo::from_caps(
                            sample.caps().ok_or(gst::FlowError::Error)?,
                        )
                        .map_err(|_| gst::FlowError::Error)?;
                        let frame = gst_video::VideoFrame::from_buffer_readable(
                            sample.buffer_owned().unwrap(),
                            &info,
                        )
                        .map_err(|_| gst::FlowError::Error)?;
                        let (w, h) = (info.width(), info.height());
                        let stride = frame.plane_stride()[0] as usize;
                        let data = frame.plane_data(0).map_err(|_| gst::FlowError::Error)?;
                        let rows = (0..h as usize).flat_map(|y| {
                            data[y * stride..y * stride + 3 * w as usize]
                                .iter()
                                .copied()
                        });
                        *slot = Some((rows.collect(), w, h));
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        Ok(kept)
    };
    let (before, after) = (first("first-in")?, first("first-out")?);
    // Prerolled, the pipeline knows the input's duration (not every source does).
    pipeline.set_state(gst::State::Paused)?;
    if pipeline.state(gst::ClockTime::NONE).0.is_ok()
        && let Some(duration) = pipeline.query_duration::<gst::ClockTime>()
    {
        progress.set_duration(duration);
    }
    pipeline.set_state(gst::State::Playing)?;
    let finished = wait(&pipeline);
    progress.finish();
    let (before, after) = (before.lock().unwrap().take(), after.lock().unwrap().take());
    // An input without a video stream fails as "not-linked": say what that means.
    let (Some((a, w, h)), Some((b, _, _))) = (before, after) else {
        let why = finished
            .err()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        bail!("{} gave no video frames{why}", input.display());
    };
    finished?;
    let how = match level {
        Some(level) => format!("noise sigma {level}"),
        None => {
            let estimated = progress.level().context("no estimate")?;
            format!("the estimated noise sigma {estimated:.1} (auto mode; --level sets it)")
        }
    };
    println!(
        "restored {} at {how}{} -> {}",
        input.display(),
        progress.engine(),
        paths.out.join("restored.avi").display()
    );
    side_by_side(&[&a, &b], w, h, &paths.out)
}

/// A progress bar over the stream's time (a spinner where the duration is unknown), with the
/// level the restorer is working at: the one set, or its auto-mode estimate once it has one.
#[derive(Clone)]
struct Progress {
    bar: ProgressBar,
    restorer: gst::glib::WeakRef<gst::Element>,
    unit: &'static str,
    set: Option<f64>,
    frames: Arc<AtomicU64>,
    /// The device and precision the restorer resolved at start (its `model-info`, which the
    /// element clears when it stops).
    engine: Arc<OnceLock<String>>,
}

impl Progress {
    fn new(pipeline: &gst::Pipeline, unit: &'static str, set: Option<f64>) -> anyhow::Result<Self> {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template(
            "{elapsed_precise} {spinner} {msg}",
        )?);
        let restorer = pipeline.by_name("restorer").context("hyperres")?;
        Ok(Self {
            bar,
            restorer: restorer.downgrade(),
            unit,
            set,
            frames: Arc::default(),
            engine: Arc::default(),
        })
    }

    fn set_duration(&self, duration: gst::ClockTime) {
        self.bar.set_length(duration.mseconds());
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {percent}% ETA {eta} {msg}",
        ) {
            self.bar.set_style(style);
        }
    }

    /// Called with each restored frame.
    fn frame(&self, buffer: &gst::BufferRef) {
        let n = self.frames.fetch_add(1, Ordering::Relaxed) + 1;
        if self.engine.get().is_none()
            && let Some(info) = self
                .restorer
                .upgrade()
                .and_then(|r| r.property::<Option<gst::Structure>>("model-info"))
            && let (Ok(device), Ok(precision)) =
                (info.get::<&str>("device"), info.get::<&str>("precision"))
        {
            let _ = self.engine.set(format!(" on {device} in {precision}"));
        }
        if let Some(end) = buffer
            .pts()
            .map(|pts| pts + buffer.duration().unwrap_or(gst::ClockTime::ZERO))
        {
            self.bar.set_position(end.mseconds());
        }
        self.bar.set_message(match self.level() {
            Some(level) => format!("{n} frames, {} {level:.1}", self.unit),
            None => format!("{n} frames, estimating the {}", self.unit),
        });
    }

    /// The level the restorer works at: the one set, or its auto-mode estimate once it has one.
    fn level(&self) -> Option<f64> {
        self.set.or_else(|| {
            let estimate: f64 = self.restorer.upgrade()?.property("estimated-level");
            (estimate >= 0.0).then_some(estimate)
        })
    }

    /// ` on DEVICE in PRECISION`, where the frames were restored (on a CPU, bf16 where it runs
    /// faster than fp32), or nothing if no frame came.
    fn engine(&self) -> &str {
        self.engine.get().map_or("", String::as_str)
    }

    fn finish(&self) {
        self.bar.finish();
    }
}

fn wait(pipeline: &gst::Pipeline) -> anyhow::Result<()> {
    let bus = pipeline.bus().context("no bus")?;
    let end = bus.timed_pop_filtered(
        gst::ClockTime::NONE,
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    pipeline.set_state(gst::State::Null)?;
    match end.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Error(e)) => {
            bail!("{} ({})", e.error(), e.debug().unwrap_or_default())
        }
        _ => Ok(()),
    }
}

/// Packed RGB frames of `w` x `h` side by side into `side_by_side.png`.
fn side_by_side(frames: &[&[u8]], w: u32, h: u32, out: &Path) -> anyhow::Result<()> {
    let mut canvas = RgbImage::new(w * frames.len() as u32, h);
    for (i, frame) in frames.iter().enumerate() {
        let tile = RgbImage::from_raw(w, h, frame.to_vec()).context("frame size")?;
        image::imageops::replace(&mut canvas, &tile, i64::from(w) * i as i64, 0);
    }
    let path = out.join("side_by_side.png");
    canvas.save(&path)?;
    println!(
        "wrote {} and {}",
        out.join("restored.avi").display(),
        path.display()
    );
    Ok(())
}
