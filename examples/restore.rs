//! Restores an image or a video file from the command line.
//!
//!     cargo run --release --example restore -- MODEL LEVEL INPUT OUTPUT
//!
//! Images (png, jpg, bmp, tif) go through the library directly and are written in OUTPUT's format,
//! keeping gray images gray, alpha, and 16 bits where that format holds them; a gray model restores
//! a colour image's luma and keeps its chroma; videos go through a GStreamer pipeline
//! (`decodebin ! hyperres ! jpegenc ! avimux`), whatever decoders are installed, with a progress
//! line.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Parser;
use gst::prelude::*;
use gsthyperres::frame::luma;
use gsthyperres::restorer::Restorer;
use tch::{Device, Tensor};

/// Restores an image or a video file with a HyperRes checkpoint.
#[derive(Parser)]
// A negative level reaches the model's own range check rather than reading as a flag.
#[command(allow_negative_numbers = true)]
struct Args {
    /// The restoration checkpoint (.safetensors).
    model: PathBuf,
    /// The degradation level: noise sigma, JPEG quality or SR scale.
    level: f64,
    /// An image (png, jpg, bmp, tif) or any video GStreamer decodes.
    input: PathBuf,
    /// Where to write the result: an image in the format its extension names, or an AVI (MJPEG).
    output: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let Args {
        model,
        level,
        input,
        output,
    } = Args::parse();
    if !input.exists() {
        bail!("{} does not exist", input.display());
    }
    let is_image = input
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .is_some_and(|e| ["png", "jpg", "jpeg", "bmp", "tif", "tiff"].contains(&e.as_str()));
    if is_image {
        restore_image(&model, level, &input, &output)
    } else {
        restore_video(&model, level, &input, &output)
    }
}

fn restore_image(model: &Path, level: f64, input: &Path, output: &Path) -> anyhow::Result<()> {
    let device = Device::cuda_if_available();
    gsthyperres::restorer::prepare_device(device);
    let mut restorer = Restorer::load(model, device)?;
    // As the element does.
    let [low, high] = restorer.metadata().accepted_levels();
    let level = if !level.is_finite() || (low..=high).contains(&level) {
        level
    } else {
        let clamped = level.clamp(low, high);
        eprintln!("level {level} is outside {low}..{high} for this model; restoring at {clamped}");
        clamped
    };
    restorer.set_level(level)?;
    let image = image::open(input)?;
    // The output keeps the input's colour type: gray stays gray, alpha passes through as in the
    // element, and 16-bit images (PNG, TIFF) are restored and written at 16 bits where OUTPUT's
    // format holds them.
    let colour = image.color();
    let deep = colour.bytes_per_pixel() > colour.channel_count()
        && matches!(
            image::ImageFormat::from_path(output),
            Ok(image::ImageFormat::Png | image::ImageFormat::Tiff)
        );
    let image = image.to_rgba32f();
    let (w, h) = (image.width(), image.height());
    let pixels = Tensor::from_slice(image.as_raw())
        .view([1, i64::from(h), i64::from(w), 4])
        .permute([0, 3, 1, 2]);
    let (x, alpha) = (pixels.narrow(1, 0, 3), pixels.narrow(1, 3, 1));
    let y = if restorer.metadata().colour.channels() == 1 {
        // A gray model restores the luma. Adding its change to R, G and B alike keeps Cb and Cr
        // (BT.601), as the element keeps a YUV frame's chroma planes.
        let before = luma(&x);
        x + (restorer.restore(&before).to_device(Device::Cpu) - before)
    } else {
        restorer.restore(&x).to_device(Device::Cpu)
    };
    let y = Tensor::cat(&[y, alpha], 1);
    let samples =
        Vec::<f32>::try_from(y.squeeze_dim(0).permute([1, 2, 0]).contiguous().view([-1]))?;
    let restored = image::DynamicImage::from(
        image::Rgba32FImage::from_raw(w, h, samples).context("image size")?,
    );
    // The image crate clamps to [0, 1] and rounds to the depth written.
    let restored: image::DynamicImage = match (colour.has_color(), colour.has_alpha(), deep) {
        (true, false, false) => restored.to_rgb8().into(),
        (true, true, false) => restored.to_rgba8().into(),
        (true, false, true) => restored.to_rgb16().into(),
        (true, true, true) => restored.to_rgba16().into(),
        (false, false, false) => restored.to_luma8().into(),
        (false, true, false) => restored.to_luma_alpha8().into(),
        (false, false, true) => restored.to_luma16().into(),
        (false, true, true) => restored.to_luma_alpha16().into(),
    };
    restored.save(output)?;
    println!(
        "{} -> {} (level {level})",
        input.display(),
        output.display()
    );
    Ok(())
}

fn restore_video(model: &Path, level: f64, input: &Path, output: &Path) -> anyhow::Result<()> {
    gst::init()?;
    gsthyperres::plugin_register_static()?;
    let pipeline = gst::parse::launch(
        "filesrc name=in ! decodebin ! videoconvert ! hyperres name=restore ! videoconvert ! \
         jpegenc quality=95 ! avimux ! filesink name=out",
    )?
    .downcast::<gst::Pipeline>()
    .map_err(|_| anyhow::anyhow!("not a pipeline"))?;
    let by_name = |name: &str| pipeline.by_name(name).context("pipeline element");
    by_name("in")?.set_property("location", input.to_str().context("input path")?);
    by_name("out")?.set_property("location", output.to_str().context("output path")?);
    let restore = by_name("restore")?;
    restore.set_property("model-location", model.to_str().context("model path")?);
    restore.set_property("level", level);
    let frames = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = frames.clone();
    restore.static_pad("src").context("src pad")?.add_probe(
        gst::PadProbeType::BUFFER,
        move |_, _| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if n.is_multiple_of(25) {
                eprint!("\rframes restored: {n}");
            }
            gst::PadProbeReturn::Ok
        },
    );
    pipeline.set_state(gst::State::Playing)?;
    let bus = pipeline.bus().context("no bus")?;
    use gst::MessageType::{Eos, Error, Warning};
    let result = loop {
        let Some(message) = bus.timed_pop_filtered(gst::ClockTime::NONE, &[Eos, Error, Warning])
        else {
            break Ok(());
        };
        match message.view() {
            // The element's, such as a level clamped to the model's range.
            gst::MessageView::Warning(w) => eprintln!("\rwarning: {}", w.error()),
            gst::MessageView::Error(e) => {
                break Err(anyhow::anyhow!("{} ({:?})", e.error(), e.debug()));
            }
            _ => break Ok(()),
        }
    };
    // The level restored at, clamped to the range the loaded model accepts (known until stopped).
    let info = restore.property::<Option<gst::Structure>>("model-info");
    let bound = |name| info.as_ref().and_then(|i| i.get::<f64>(name).ok());
    let level = match (bound("accepted-min"), bound("accepted-max")) {
        (Some(low), Some(high)) => level.clamp(low, high),
        _ => level,
    };
    pipeline.set_state(gst::State::Null)?;
    eprintln!();
    result?;
    println!(
        "{} -> {} ({} frames, level {level})",
        input.display(),
        output.display(),
        frames.load(std::sync::atomic::Ordering::Relaxed)
    );
    Ok(())
}
