//! A small media application: plays a stream through `hyperres` and sweeps `level` while it plays
//! (or, with an estimator, lets auto mode pick it and prints each estimate).
//!
//!     cargo run --example live_level -- MODEL [--input FILE] [--estimator EST] [--seconds N] [--headless]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use gst::glib;
use gst::prelude::*;

/// Plays a stream through `hyperres`, sweeping `level` while it plays or letting auto mode pick it.
#[derive(Parser)]
struct Options {
    /// The restoration checkpoint (.safetensors).
    model: PathBuf,
    /// A media file to play (default: a live test pattern).
    #[arg(long)]
    input: Option<PathBuf>,
    /// A level-estimator checkpoint: auto mode picks the level and prints each estimate.
    #[arg(long)]
    estimator: Option<PathBuf>,
    /// How long to play.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Discard the frames (fakesink) instead of showing them.
    #[arg(long)]
    headless: bool,
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    gst::init()?;
    gsthyperres::plugin_register_static()?;
    let source = match &options.input {
        Some(file) => format!(
            "uridecodebin uri={}",
            glib::filename_to_uri(std::fs::canonicalize(file)?, None)?
        ),
        None => "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240".into(),
    };
    let sink = if options.headless {
        "fakesink sync=true"
    } else {
        "autovideosink"
    };
    let pipeline = gst::parse::launch(&format!(
        "{source} ! videoconvert ! hyperres name=restore ! videoconvert ! {sink}"
    ))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| anyhow::anyhow!("not a pipeline"))?;
    let restore = pipeline
        .by_name("restore")
        .context("no hyperres in the pipeline")?;
    restore.set_property(
        "model-location",
        options.model.to_str().context("model path")?,
    );
    if let Some(estimator) = &options.estimator {
        restore.set_property(
            "estimator-location",
            estimator.to_str().context("estimator path")?,
        );
        restore.set_property_from_str("mode", "auto");
    }

    let main_loop = glib::MainLoop::new(None, false);
    let bus = pipeline.bus().context("no bus")?;
    let quit = main_loop.clone();
    let _watch = bus.add_watch(move |_, message| {
        match message.view() {
            gst::MessageView::Element(m)
                if m.structure().is_some_and(|s| s.name() == "hyperres-level") =>
            {
                let s = m.structure().unwrap();
                println!(
                    "auto level {:.2} (raw {:.2})",
                    s.get::<f64>("level").unwrap_or(f64::NAN),
                    s.get::<f64>("raw-level").unwrap_or(f64::NAN)
                );
            }
            gst::MessageView::Error(e) => {
                eprintln!("error: {} ({:?})", e.error(), e.debug());
                quit.quit();
            }
            gst::MessageView::Eos(_) => quit.quit(),
            _ => {}
        }
        glib::ControlFlow::Continue
    })?;

    // The scripted sweep: the level follows a slow triangle across the model's recommended range
    // (its `model-info`, there once the element has loaded the model), changed from the
    // application while the pipeline plays.
    if options.estimator.is_none() {
        let started = Instant::now();
        let restore = restore.clone();
        glib::timeout_add(Duration::from_millis(250), move || {
            let info = restore.property::<Option<gst::Structure>>("model-info");
            let range = info.and_then(|info| {
                let bound = |name| info.get::<f64>(name).ok();
                Some((bound("recommended-min")?, bound("recommended-max")?))
            });
            if let Some((low, high)) = range {
                let phase = (started.elapsed().as_secs_f64() / 4.0).fract();
                let level = low + (high - low) * (1.0 - (2.0 * phase - 1.0).abs());
                restore.set_property("level", level);
                println!("level {level:.1}");
            }
            glib::ControlFlow::Continue
        });
    }
    let quit = main_loop.clone();
    glib::timeout_add_seconds_once(options.seconds, move || quit.quit());

    pipeline.set_state(gst::State::Playing)?;
    main_loop.run();
    pipeline.set_state(gst::State::Null)?;
    let updates: u64 = restore.property("weight-updates");
    println!("weights generated {updates} times");
    Ok(())
}
