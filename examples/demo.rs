//! The main job: restore a video with the bundled models. Run through `scripts/demo [INPUT]`.
//!
//! Without INPUT it makes a short clip from a committed real photo (a slow pan), compresses every
//! frame with GStreamer's JPEG encoder at quality 15, restores the Y plane of the decoded I420
//! frames with the bundled dejpeg model at the quality the bundled JPEG estimator reads from them
//! (auto mode; chroma passes through), and reports PSNR before and after. INPUT (any file GStreamer decodes) is denoised by the bundled denoise model, its level
//! picked by the bundled estimator (auto mode). It writes, into the output folder, the restored
//! video (`restored.avi`) and a side-by-side PNG (degraded | restored | original; without an
//! original, degraded | restored).
//!
//!     demo [INPUT] [--out FOLDER]     (FOLDER defaults to demo-output)

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use gst::prelude::*;
use gst_app::{AppSink, AppSrc};
use gst_video::prelude::*;
use gsthyperres::frame::{packed_rgb, psnr_8bit};
use image::RgbImage;
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

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (mut input, mut out) = (None, PathBuf::from("demo-output"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next().context("--out needs a folder")?.into(),
            _ if input.is_none() && !arg.starts_with("--") => input = Some(PathBuf::from(arg)),
            _ => bail!("usage: demo [INPUT] [--out FOLDER]"),
        }
    }
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
        Some(input) => restore_file(&input, &paths),
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

/// The denoising part of the pipeline for an input file.
fn denoiser(paths: &Paths) -> String {
    format!(
        "hyperres mode=auto model-location=\"{}\" estimator-location=\"{}\" estimate-interval=8",
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
fn collect(sink: &AppSink, progress: bool) -> Collected {
    let frames = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let collected = frames.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let mut frames = collected.lock().unwrap();
                frames.push(map.to_vec());
                if progress {
                    eprint!("\rframes restored: {}/{FRAMES}", frames.len());
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
    let tap = |name: &str, progress: bool| -> anyhow::Result<Collected> {
        let sink = pipeline
            .by_name(name)
            .and_then(|e| e.downcast::<AppSink>().ok())
            .context("appsink")?;
        Ok(collect(&sink, progress))
    };
    let clean_y = tap("clean-yuv", false)?;
    let taps = [
        [tap("degraded-yuv", false)?, tap("degraded-rgb", false)?],
        [tap("restored-yuv", false)?, tap("restored-rgb", true)?],
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
    eprintln!();

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
    let estimated: f64 = pipeline
        .by_name("restorer")
        .context("hyperres")?
        .property("estimated-level");
    println!(
        "JPEG quality {QUALITY}, restored at the estimated quality {estimated:.1} (auto mode, Y plane of I420)"
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

fn restore_file(input: &Path, paths: &Paths) -> anyhow::Result<()> {
    let uri = gst::glib::filename_to_uri(std::fs::canonicalize(input)?, None)?;
    let pipeline = gst::parse::launch(&format!(
        "uridecodebin uri=\"{uri}\" ! videoconvert ! video/x-raw,format=RGB ! tee name=before \
         before. ! queue ! appsink name=first-in max-buffers=1 drop=true sync=false \
         before. ! queue ! {} ! tee name=after \
         after. ! queue ! appsink name=first-out max-buffers=1 drop=true sync=false \
         after. ! queue ! videoconvert ! jpegenc quality=95 ! avimux ! filesink location=\"{}\"",
        denoiser(paths),
        paths.out.join("restored.avi").display()
    ))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| anyhow::anyhow!("not a pipeline"))?;
    let first = |name: &str| -> anyhow::Result<Arc<Mutex<Option<Frame>>>> {
        let sink = pipeline
            .by_name(name)
            .context("appsink")?
            .downcast::<AppSink>()
            .unwrap();
        let kept = Arc::new(Mutex::new(None));
        let slot = kept.clone();
        let frames = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let progress = name == "first-out";
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let n = frames.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    if progress {
                        eprint!("\rframes restored: {n}");
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
    pipeline.set_state(gst::State::Playing)?;
    wait(&pipeline)?;
    eprintln!();
    let (before, after) = (before.lock().unwrap().take(), after.lock().unwrap().take());
    let (Some((a, w, h)), Some((b, _, _))) = (before, after) else {
        bail!("{} gave no video frames", input.display());
    };
    println!(
        "restored {} -> {}",
        input.display(),
        paths.out.join("restored.avi").display()
    );
    side_by_side(&[&a, &b], w, h, &paths.out)
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
