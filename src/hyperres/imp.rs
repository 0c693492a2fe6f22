use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use tch::{Device, Kind};

use super::{FieldMode, Mode, Precision, Task, formats, locations};
use crate::checkpoint::Metadata;
use crate::frame::{Plane, Samples};
use crate::level_estimator::LevelEstimator;
use crate::restorer::{self, Restorer, Tiling};
use crate::task::{self, Colour};
use crate::{cpu_bf16, cpu_buffers, ensemble};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "hyperres",
        gst::DebugColorFlags::empty(),
        Some("HyperRes restoration"),
    )
});

const DEFAULT_LEVEL: f64 = 25.0;
const DEFAULT_INTERVAL: u32 = 30;
const DEFAULT_SMOOTHING: f64 = 0.7;
const NO_ESTIMATE: f64 = -1.0;
const DEFAULT_OVERLAP: u32 = 32;

/// Settings read at start (and `model-location` when it changes while playing).
#[derive(Debug, Clone)]
struct Settings {
    model_location: String,
    /// Counts the changes of `model-location`: a frame that sees a new count loads the model.
    model_generation: u64,
    task: Task,
    estimator_location: String,
    device: String,
    precision: Precision,
    threads: i32,
    live: Live,
}

/// Settings read for every frame (copied out of the lock, no allocation).
#[derive(Debug, Clone, Copy)]
struct Live {
    level: f64,
    mode: Mode,
    estimate_interval: u32,
    level_smoothing: f64,
    tile_size: u32,
    tile_overlap: u32,
    field_mode: FieldMode,
    ensemble: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model_location: String::new(),
            model_generation: 0,
            task: Task::Denoise,
            estimator_location: String::new(),
            device: "auto".into(),
            precision: Precision::Auto,
            threads: 0,
            live: Live {
                level: DEFAULT_LEVEL,
                mode: Mode::Manual,
                estimate_interval: DEFAULT_INTERVAL,
                level_smoothing: DEFAULT_SMOOTHING,
                tile_size: 0,
                tile_overlap: DEFAULT_OVERLAP,
                field_mode: FieldMode::Fields,
                ensemble: 1,
            },
        }
    }
}

/// What exists between start and stop.
struct State {
    /// The settings the model was loaded with (a model changed while playing is loaded with their
    /// task and estimator); their `model_generation` counts the last change of `model-location`
    /// acted on, loaded or not.
    loaded_with: Settings,
    restorer: Restorer,
    /// The estimator for auto mode, or why there is none.
    estimator: Result<LevelEstimator, String>,
    /// Levels the network accepts: the checkpoint's recommended range widened by a margin.
    allowed: [f64; 2],
    samples: Option<Samples>,
    frames: u64,
    estimate: Option<f64>,
    /// Whether the last frame's level was clamped to `allowed`.
    clamped: bool,
    warned_no_estimator: bool,
}

pub struct HyperRes {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    estimated_level: Mutex<f64>,
    weight_updates: Mutex<u64>,
    published: Mutex<Option<Published>>,
}

impl Default for HyperRes {
    fn default() -> Self {
        HyperRes {
            settings: Mutex::default(),
            state: Mutex::default(),
            estimated_level: Mutex::new(NO_ESTIMATE),
            weight_updates: Mutex::default(),
            published: Mutex::default(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[glib::object_subclass]
impl ObjectSubclass for HyperRes {
    const NAME: &'static str = "GstHyperRes";
    type Type = super::HyperRes;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for HyperRes {
    fn constructed(&self) {
        self.parent_constructed();
        // A frame costs a forward pass: where a sink reports lateness (live playback), drop the
        // frames that are already late before restoring them, as videoconvert and videoscale do.
        // Without QoS events (a file transcode) nothing is dropped.
        self.obj().set_qos(true);
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("model-location")
                    .nick("Model location")
                    .blurb(
                        "Restorer checkpoint (.safetensors); empty: the bundled model for the task. \
                         Changed while playing, the next frame loads it; one that fails to load or \
                         cannot restore the negotiated format is refused with a warning",
                    )
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("task", Task::Denoise)
                    .nick("Task")
                    .blurb("Task whose bundled model is used when model-location is empty (a checkpoint's own task wins)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("level")
                    .nick("Level")
                    .blurb(
                        "Restoration level in the task's units: noise sigma (0..255 scale), JPEG quality \
                         or SR scale. Values beyond the model's range (widened by a quarter of it on each \
                         side, where HyperRes still extrapolates) are clamped with a warning; NaN is refused",
                    )
                    .minimum(-1e6)
                    .maximum(1e6)
                    .default_value(DEFAULT_LEVEL)
                    .controllable()
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("mode", Mode::Manual)
                    .nick("Mode")
                    .blurb("manual: the level property; auto: the level estimated from the frames")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("estimator-location")
                    .nick("Estimator location")
                    .blurb("Level-estimator checkpoint for auto mode; empty: the bundled one for the model's task")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("estimate-interval")
                    .nick("Estimate interval")
                    .blurb("Frames between two level estimates in auto mode")
                    .minimum(1)
                    .default_value(DEFAULT_INTERVAL)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("level-smoothing")
                    .nick("Level smoothing")
                    .blurb("Weight of the previous estimate in auto mode (0: none, towards 1: steadier)")
                    .minimum(0.0)
                    .maximum(0.99)
                    .default_value(DEFAULT_SMOOTHING)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("estimated-level")
                    .nick("Estimated level")
                    .blurb("The smoothed auto-mode estimate (-1 before the first)")
                    .minimum(-1.0)
                    .maximum(1e6)
                    .default_value(NO_ESTIMATE)
                    .read_only()
                    .build(),
                glib::ParamSpecString::builder("device")
                    .nick("Device")
                    .blurb("auto (CUDA when available, else CPU), cpu, cuda or cuda:N")
                    .default_value(Some("auto"))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("precision", Precision::Auto)
                    .nick("Precision")
                    .blurb("Arithmetic of the network: auto (fp16 on CUDA; on a CPU bf16 where it is clearly faster, else fp32), fp32, fp16 (CUDA) or bf16 (CUDA, or CPUs where it is faster: AMX, Zen 4)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("tile-size")
                    .nick("Tile size")
                    .blurb(
                        "Process frames in tiles of this many pixels per side (0: whole frames), bounding \
                         memory for 4K/8K; rounded up to even",
                    )
                    .default_value(0)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("tile-overlap")
                    .nick("Tile overlap")
                    .blurb(
                        "Pixels of context around each tile; at least 4 x blocks + 8 (72 for the full \
                         model) makes tiled output identical to whole-frame output",
                    )
                    .default_value(DEFAULT_OVERLAP)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("field-mode", FieldMode::Fields)
                    .nick("Field mode")
                    .blurb(
                        "Interlaced video: fields (each field restored on its own, never blending \
                         the two fields' moments) or frame (the woven frame as one picture: about \
                         1 dB better on static or progressive-segmented content, worse on motion)",
                    )
                    .mutable_playing()
                    .build(),
                glib::ParamSpecInt::builder("threads")
                    .nick("Threads")
                    .blurb("CPU threads for torch (process-wide; 0: torch's default)")
                    .minimum(0)
                    .maximum(1024)
                    .default_value(0)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("ensemble")
                    .nick("Self-ensemble")
                    .blurb(
                        "Average the restorations of this many flipped and transposed copies of \
                         each frame (1: off; 2, 4 or 8: about 0.1-0.2 dB more for 2, 4 or 8 times \
                         the compute, for offline work)",
                    )
                    .minimum(1)
                    .maximum(ensemble::MAX_COPIES as u32)
                    .default_value(1)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("bypass")
                    .nick("Bypass")
                    .blurb(
                        "Pass frames through untouched and compute nothing (an on/off switch for \
                         comparing, settable while playing; the model stays loaded)",
                    )
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("model-info")
                    .nick("Model info")
                    .blurb(
                        "The loaded model and how it runs, from READY -> PAUSED on (else NULL): \
                         task, colour, blocks, width, trained levels, the recommended and accepted \
                         level ranges, whether auto mode has an estimator, device and precision",
                    )
                    .read_only()
                    .build(),
                glib::ParamSpecUInt64::builder("weight-updates")
                    .nick("Weight updates")
                    .blurb("How many times the weights were generated for a new level (diagnostics)")
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if !pspec.flags().contains(gst::PARAM_FLAG_MUTABLE_PLAYING)
            && self.obj().current_state() > gst::State::Ready
        {
            gst::warning!(
                CAT,
                imp = self,
                "{} is read at start: the change takes effect after the next READY -> PAUSED",
                pspec.name()
            );
        }
        let mut settings = lock(&self.settings);
        match pspec.name() {
            "model-location" => {
                settings.model_location =
                    value.get::<Option<String>>().unwrap().unwrap_or_default();
                settings.model_generation += 1;
            }
            "task" => settings.task = value.get().unwrap(),
            // GObject validation already refuses NaN and values beyond ±1e6.
            "level" => settings.live.level = value.get().unwrap(),
            "mode" => settings.live.mode = value.get().unwrap(),
            "estimator-location" => {
                settings.estimator_location =
                    value.get::<Option<String>>().unwrap().unwrap_or_default()
            }
            "estimate-interval" => settings.live.estimate_interval = value.get().unwrap(),
            "level-smoothing" => settings.live.level_smoothing = value.get().unwrap(),
            "device" => {
                settings.device = value
                    .get::<Option<String>>()
                    .unwrap()
                    .unwrap_or_else(|| "auto".into())
            }
            "threads" => settings.threads = value.get().unwrap(),
            "precision" => settings.precision = value.get().unwrap(),
            "tile-size" => settings.live.tile_size = value.get().unwrap(),
            "tile-overlap" => settings.live.tile_overlap = value.get().unwrap(),
            "field-mode" => settings.live.field_mode = value.get().unwrap(),
            "ensemble" => settings.live.ensemble = value.get().unwrap(),
            // BaseTransform's passthrough: frames are pushed on as they are, without a call here.
            "bypass" => self.obj().set_passthrough(value.get().unwrap()),
            other => unreachable!("no writable property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = lock(&self.settings);
        match pspec.name() {
            "model-location" => settings.model_location.to_value(),
            "task" => settings.task.to_value(),
            "level" => settings.live.level.to_value(),
            "mode" => settings.live.mode.to_value(),
            "estimator-location" => settings.estimator_location.to_value(),
            "estimate-interval" => settings.live.estimate_interval.to_value(),
            "level-smoothing" => settings.live.level_smoothing.to_value(),
            "estimated-level" => lock(&self.estimated_level).to_value(),
            "device" => settings.device.to_value(),
            "threads" => settings.threads.to_value(),
            "precision" => settings.precision.to_value(),
            "tile-size" => settings.live.tile_size.to_value(),
            "tile-overlap" => settings.live.tile_overlap.to_value(),
            "field-mode" => settings.live.field_mode.to_value(),
            "ensemble" => settings.live.ensemble.to_value(),
            "bypass" => self.obj().is_passthrough().to_value(),
            "weight-updates" => lock(&self.weight_updates).to_value(),
            "model-info" => lock(&self.published)
                .as_ref()
                .map(|published| published.info.clone())
                .to_value(),
            other => unreachable!("no property {other}"),
        }
    }
}

impl GstObjectImpl for HyperRes {}

impl ElementImpl for HyperRes {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "HyperRes restoration",
                "Filter/Effect/Video",
                "Denoising, JPEG artifact removal or super-resolution at a level adjustable while playing",
                "gst-hyperres developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = formats::caps_for(None);
            [gst::PadDirection::Src, gst::PadDirection::Sink]
                .into_iter()
                .map(|direction| {
                    let name = if direction == gst::PadDirection::Src {
                        "src"
                    } else {
                        "sink"
                    };
                    gst::PadTemplate::new(name, direction, gst::PadPresence::Always, &caps).unwrap()
                })
                .collect()
        });
        TEMPLATES.as_ref()
    }
}

/// `auto`, `cpu`, `cuda` or `cuda:N`.
fn resolve_device(name: &str) -> Result<Device, String> {
    let cuda = |index: usize| {
        if tch::Cuda::is_available() && (index as i64) < tch::Cuda::device_count() {
            Ok(Device::Cuda(index))
        } else {
            Err(format!(
                "device={name}, but CUDA sees {} GPU(s)",
                tch::Cuda::device_count()
            ))
        }
    };
    match name {
        "auto" => Ok(Device::cuda_if_available()),
        "cpu" => Ok(Device::Cpu),
        "cuda" => cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse) {
            Some(Ok(index)) => cuda(index),
            _ => Err(format!(
                "unknown device {other:?} (auto, cpu, cuda or cuda:N)"
            )),
        },
    }
}

/// What the loaded model shows outside the streaming thread: kept apart from `state`, which a
/// frame holds while it is restored, so that caps queries and `model-info` never wait for a frame
/// (and a notify handler on the streaming thread may query caps).
struct Published {
    colour: Colour,
    /// Whether a neighbour's formats were found unusable since this model was loaded (said once:
    /// caps are queried many times while a pipeline negotiates).
    explained_caps: bool,
    /// `model-info`: what an application needs to set up its controls for the model (a level
    /// slider's range and units, whether an "auto" switch can work) and to tell where it runs.
    info: gst::Structure,
}

impl Published {
    fn of(state: &State) -> Self {
        let meta = state.restorer.metadata();
        let device = match state.restorer.device() {
            Device::Cuda(index) => format!("cuda:{index}"),
            other => format!("{other:?}").to_lowercase(),
        };
        let precision = match state.restorer.kind() {
            Kind::Half => "fp16",
            Kind::BFloat16 => "bf16",
            _ => "fp32",
        };
        let info = gst::Structure::builder("hyperres-model")
            .field("task", meta.task.as_str())
            .field("colour", meta.colour.as_str())
            .field("blocks", meta.blocks)
            .field("width", meta.width)
            .field("levels", gst::Array::new(meta.levels.iter().copied()))
            .field("recommended-min", meta.level_range[0])
            .field("recommended-max", meta.level_range[1])
            .field("accepted-min", state.allowed[0])
            .field("accepted-max", state.allowed[1])
            .field("auto-mode", state.estimator.is_ok())
            .field("device", device)
            .field("precision", precision)
            .build();
        Published {
            colour: meta.colour,
            explained_caps: false,
            info,
        }
    }
}

/// The level estimator `settings` name for the model `meta` describes: the error's kind and
/// message when it cannot be had.
fn open_estimator(
    settings: &Settings,
    meta: &Metadata,
    device: Device,
) -> Result<LevelEstimator, (gst::ResourceError, String)> {
    let path = match settings.estimator_location.as_str() {
        "" => locations::bundled_estimator(meta.task).ok_or_else(|| {
            (
                gst::ResourceError::Settings,
                format!(
                    "mode=auto needs estimator-location: no estimator is bundled for {}",
                    meta.task
                ),
            )
        })?,
        location => locations::checkpoint_location(location),
    };
    let estimator = LevelEstimator::load(&path, device).map_err(|e| {
        let hint = locations::missing_bundled_hint(
            &path,
            "estimator-location",
            &settings.estimator_location,
        );
        (gst::ResourceError::OpenRead, format!("{e}{hint}"))
    })?;
    estimator
        .check_drives(meta)
        .map_err(|e| (gst::ResourceError::Settings, e))?;
    Ok(estimator)
}

impl HyperRes {
    /// After a caps query found nothing to pass, says which neighbour offers only formats the
    /// model cannot take, and the remedy (once per model). Without this the pipeline stops with
    /// "not-negotiated" alone. An error, as no caps that neighbour can offer would ever pass; posted
    /// before the querying element's own, so gst-launch shows it (it stops at the first error).
    fn explain_empty_caps(&self) {
        let colour = match lock(&self.published).as_ref() {
            Some(published) if !published.explained_caps => published.colour,
            _ => return,
        };
        let takes = formats::caps_for(Some(colour));
        let obj = self.obj();
        let sides = [
            (obj.sink_pad(), "upstream", "before"),
            (obj.src_pad(), "downstream", "after"),
        ];
        for (pad, neighbour, place) in sides {
            let offered = pad.peer_query_caps(None);
            if offered.is_empty() || offered.can_intersect(&takes) {
                continue;
            }
            if let Some(published) = lock(&self.published).as_mut() {
                published.explained_caps = true;
            }
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                (
                    "the loaded model ({colour}) takes none of the formats {neighbour} offers \
                     ({}): put videoconvert {place} hyperres",
                    formats::offered(&offered)
                ),
                [
                    "formats the model takes: {}; offered: {offered}",
                    formats::names_for(colour)
                ]
            );
            return;
        }
    }

    /// The device and arithmetic `settings` ask for, decided once per start (a model changed while
    /// playing runs on them too), with the process-wide set-up they need; or the kind of error
    /// and why.
    fn runtime(&self, settings: &Settings) -> Result<(Device, Kind), (gst::ResourceError, String)> {
        let device =
            resolve_device(&settings.device).map_err(|e| (gst::ResourceError::Settings, e))?;
        if settings.device == "auto" && device == Device::Cpu {
            gst::info!(CAT, imp = self, "no CUDA device: running on the CPU");
            // In the debug text: what gst-launch-1.0 prints of an info message.
            gst::element_imp_info!(
                self,
                gst::ResourceError::Settings,
                ["no CUDA device: running on the CPU"]
            );
        }
        if settings.threads > 0 {
            tch::set_num_threads(settings.threads);
        }
        restorer::prepare_device(device);
        let kind = settings.precision.kind_on(device);
        // CPUs have no fast fp16 convolutions (slower than fp32 even with AVX512-FP16); some
        // have fast bf16 ones (see `cpu_bf16`).
        if kind == Kind::Half && device == Device::Cpu {
            return Err((
                gst::ResourceError::Settings,
                "precision=fp16 needs a CUDA device (on the CPU: fp32, or bf16 where it is faster)"
                    .into(),
            ));
        }
        if kind == Kind::BFloat16
            && let Some(why) = cpu_bf16::not_worth_it(device)
        {
            gst::element_imp_warning!(
                self,
                gst::ResourceError::Settings,
                ("precision=bf16: {why}")
            );
        }
        if settings.precision == Precision::Auto && kind == Kind::BFloat16 {
            // In the debug text: what gst-launch-1.0 prints of an info message.
            gst::element_imp_info!(
                self,
                gst::ResourceError::Settings,
                [
                    "precision=auto: bf16, faster than fp32 on this CPU ({})",
                    cpu_bf16::measured()
                ]
            );
        }
        Ok((device, kind))
    }

    /// The model `settings` name, loaded on `device` to compute in `kind`; or the kind of error
    /// and why.
    fn load(
        &self,
        settings: &Settings,
        (device, kind): (Device, Kind),
    ) -> Result<State, (gst::ResourceError, String)> {
        let model = if settings.model_location.is_empty() {
            locations::bundled_model(settings.task)
        } else {
            locations::checkpoint_location(&settings.model_location)
        };
        let mut restorer = Restorer::load(&model, device).map_err(|e| {
            let hint =
                locations::missing_bundled_hint(&model, "model-location", &settings.model_location);
            (gst::ResourceError::OpenRead, format!("{e}{hint}"))
        })?;
        restorer.set_kind(kind);
        let meta = restorer.metadata();
        gst::info!(
            CAT,
            imp = self,
            "loaded {} ({} {}, levels {:?}) on {device:?}",
            model.display(),
            meta.task,
            meta.colour,
            meta.levels
        );
        // Auto mode asked for at start, or a named estimator, must load; otherwise the bundled one is
        // loaded where it can be, so that an application may switch auto mode on while playing,
        // and why it cannot be is kept for the warning that switch then gets.
        let estimator = match open_estimator(settings, meta, device) {
            Err((kind, message))
                if settings.live.mode == Mode::Auto || !settings.estimator_location.is_empty() =>
            {
                return Err((kind, message));
            }
            opened => opened.map_err(|(_, message)| message),
        };
        let requested_task = match settings.task {
            Task::Denoise => task::Task::Denoise,
            Task::Dejpeg => task::Task::Dejpeg,
            Task::Sr => task::Task::Sr,
        };
        if !settings.model_location.is_empty() && requested_task != meta.task {
            // In the debug text: what gst-launch-1.0 prints of an info message.
            gst::element_imp_info!(
                self,
                gst::ResourceError::Settings,
                [
                    "the model restores {}; task={} is ignored",
                    meta.task,
                    requested_task
                ]
            );
        }
        let allowed = meta.accepted_levels();
        Ok(State {
            loaded_with: settings.clone(),
            restorer,
            estimator,
            allowed,
            samples: None,
            frames: 0,
            estimate: None,
            clamped: false,
            warned_no_estimator: false,
        })
    }

    /// Runs the estimator on `image` when due, smooths, publishes; returns the level to use.
    fn auto_level(
        &self,
        state: &mut State,
        image: &tch::Tensor,
        live: &Live,
        pts: Option<gst::ClockTime>,
    ) -> Option<f64> {
        let estimator = match &state.estimator {
            Ok(estimator) => estimator,
            Err(why) => {
                if !state.warned_no_estimator {
                    gst::element_imp_warning!(
                        self,
                        gst::ResourceError::Settings,
                        ("{why}; restoring at level={}", live.level)
                    );
                    state.warned_no_estimator = true;
                }
                return None;
            }
        };
        if state
            .frames
            .is_multiple_of(u64::from(live.estimate_interval))
            || state.estimate.is_none()
        {
            let raw = estimator.estimate(&image.squeeze_dim(0));
            let smoothed = match state.estimate {
                Some(previous) => {
                    live.level_smoothing * previous + (1.0 - live.level_smoothing) * raw
                }
                None => raw,
            };
            state.estimate = Some(smoothed);
            *lock(&self.estimated_level) = smoothed;
            let structure = gst::Structure::builder("hyperres-level")
                .field("level", smoothed)
                .field("raw-level", raw)
                .field("timestamp", pts)
                .build();
            let _ = self.obj().post_message(
                gst::message::Element::builder(structure)
                    .src(&*self.obj())
                    .build(),
            );
            gst::debug!(
                CAT,
                imp = self,
                "estimated level {raw:.2} (smoothed {smoothed:.2})"
            );
            // Handlers run on the streaming thread, with the state lock held: no property read
            // or caps query takes it.
            self.obj().notify("estimated-level");
        }
        state.estimate
    }

    /// Loads the model `model-location` names if it changed since the current one was loaded, on
    /// the current one's device and arithmetic, with the settings the element started with and
    /// the current per-frame ones; one that fails to load or cannot restore the negotiated format
    /// is refused with a warning, and the current model stays. Returns whether the model changed.
    fn change_model(&self) -> bool {
        let mut guard = lock(&self.state);
        let Some(state) = guard.as_mut() else {
            return false;
        };
        let settings = {
            let current = lock(&self.settings);
            if current.model_generation == state.loaded_with.model_generation {
                return false;
            }
            Settings {
                model_location: current.model_location.clone(),
                model_generation: current.model_generation,
                live: current.live,
                ..state.loaded_with.clone()
            }
        };
        // As in `transform_frame_ip`: a libtorch failure must not disable the element.
        let runtime = (state.restorer.device(), state.restorer.kind());
        let loaded = panic::catch_unwind(AssertUnwindSafe(|| self.load(&settings, runtime)))
            .unwrap_or_else(|panic| Err((gst::ResourceError::Failed, torch_failure(&*panic))));
        let refused = match loaded {
            Err((_, why)) => why,
            Ok(new) => match state.samples {
                Some(samples)
                    if samples.channels() != new.restorer.metadata().colour.channels() =>
                {
                    format!(
                        "the new model ({}) cannot restore the negotiated format (set it before starting)",
                        new.restorer.metadata().colour
                    )
                }
                samples => {
                    *state = State { samples, ..new };
                    *lock(&self.published) = Some(Published::of(state));
                    *lock(&self.estimated_level) = NO_ESTIMATE;
                    return true;
                }
            },
        };
        // Not tried again until model-location changes again.
        state.loaded_with.model_generation = settings.model_generation;
        gst::element_imp_warning!(
            self,
            gst::ResourceError::Settings,
            (
                "model-location {:?} refused: {refused}; the current model stays",
                settings.model_location
            )
        );
        false
    }

    /// Restores the pictures `parts` of one frame in `data` at the level `live` asks for.
    fn restore_parts(
        &self,
        state: &mut State,
        live: &Live,
        parts: &[(usize, Plane)],
        data: &mut [u8],
        pts: Option<gst::ClockTime>,
    ) -> Result<(), String> {
        let device = state.restorer.device();
        let uploads: Vec<_> = parts
            .iter()
            .map(|(offset, part)| part.upload(&data[*offset..], device))
            .collect();
        let images: Vec<_> = parts
            .iter()
            .zip(&uploads)
            .map(|((offset, part), uploaded)| part.read(&data[*offset..], uploaded.as_ref()))
            .collect();

        let requested = match live.mode {
            Mode::Auto => self
                .auto_level(state, &images[0], live, pts)
                .unwrap_or(live.level),
            Mode::Manual => {
                // Switched back on later, auto mode estimates at once and afresh.
                state.estimate = None;
                live.level
            }
        };
        state.frames += 1;
        let [low, high] = state.allowed;
        let level = requested.clamp(low, high);
        let clamped = level != requested;
        // One message each time the level leaves the range, not one per frame: a control source
        // ramping beyond it changes the level on every frame.
        if clamped && !state.clamped {
            gst::element_imp_warning!(
                self,
                gst::ResourceError::Settings,
                ("level {requested} is outside {low}..{high} for this model; restoring at {level}")
            );
        }
        state.clamped = clamped;
        let started = Instant::now();
        if state.restorer.set_level(level).map_err(|e| e.to_string())? {
            *lock(&self.weight_updates) += 1;
            gst::debug!(
                CAT,
                imp = self,
                "weights generated for level {level} in {:?}",
                started.elapsed()
            );
        }
        let tiling = Tiling {
            tile: i64::from(live.tile_size),
            overlap: i64::from(live.tile_overlap),
        };
        for (((offset, part), image), uploaded) in parts.iter().zip(&images).zip(&uploads) {
            let restored =
                ensemble::restore(&state.restorer, image, tiling, live.ensemble as usize);
            part.write(&restored, uploaded.as_ref(), &mut data[*offset..]);
        }
        Ok(())
    }
}

impl BaseTransformImpl for HyperRes {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let state = self
            .runtime(&settings)
            .and_then(|runtime| self.load(&settings, runtime));
        let state = state.map_err(|(kind, message)| {
            gst::error!(CAT, imp = self, "{message}");
            gst::error_msg!(kind, ("{message}"))
        })?;
        *lock(&self.published) = Some(Published::of(&state));
        *lock(&self.state) = Some(state);
        *lock(&self.weight_updates) = 0;
        *lock(&self.estimated_level) = NO_ESTIMATE;
        self.obj().notify("model-info");
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.state) = None;
        *lock(&self.published) = None;
        self.obj().notify("model-info");
        cpu_buffers::release();
        Ok(())
    }

    fn transform_caps(
        &self,
        _direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let colour = lock(&self.published).as_ref().map(|p| p.colour);
        let caps = caps.intersect(&formats::caps_for(colour));
        Some(match filter {
            Some(filter) => filter.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
            None => caps,
        })
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        let answered = BaseTransformImplExt::parent_query(self, direction, query);
        if let gst::QueryViewMut::Caps(caps) = query.view_mut()
            && caps.result().is_some_and(|caps| caps.is_empty())
        {
            self.explain_empty_caps();
        }
        answered
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        // After a seek the footage is another: auto mode estimates at once and afresh.
        if let gst::EventView::FlushStop(_) = event.view()
            && let Some(state) = lock(&self.state).as_mut()
        {
            state.estimate = None;
        }
        self.parent_sink_event(event)
    }

    fn before_transform(&self, buffer: &gst::BufferRef) {
        // Frame-accurate control: let a control source set `level` for this buffer's time.
        let segment = self.obj().segment();
        let stream_time = segment
            .downcast_ref::<gst::ClockTime>()
            .and_then(|segment| segment.to_stream_time(buffer.pts()));
        if let Some(time) = stream_time {
            let _ = self.obj().sync_values(time);
        }
    }
}

impl VideoFilterImpl for HyperRes {
    fn set_info(
        &self,
        _incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        _outcaps: &gst::Caps,
        _out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        let mut state = lock(&self.state);
        let state = state
            .as_mut()
            .ok_or_else(|| gst::loggable_error!(CAT, "not started"))?;
        let samples = formats::samples_of(in_info.format()).ok_or_else(|| {
            gst::loggable_error!(CAT, "unsupported format {:?}", in_info.format())
        })?;
        let colour = state.restorer.metadata().colour;
        if samples.channels() != colour.channels() {
            return Err(gst::loggable_error!(
                CAT,
                "the loaded model ({colour}) cannot restore {:?}",
                in_info.format()
            ));
        }
        gst::debug!(
            CAT,
            imp = self,
            "negotiated {:?} {}x{}",
            in_info.format(),
            in_info.width(),
            in_info.height()
        );
        state.samples = Some(samples);
        // Buffers kept for the previous frame size would not fit the new one.
        cpu_buffers::release();
        Ok(())
    }

    fn transform_frame_ip(
        &self,
        frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let live = lock(&self.settings).live;
        if self.change_model() {
            self.obj().notify("model-info");
            self.obj().notify("estimated-level");
        }
        let pts = frame.buffer().pts();
        let mut guard = lock(&self.state);
        let state = guard.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
        let samples = state.samples.ok_or(gst::FlowError::NotNegotiated)?;
        let plane = Plane {
            width: frame.width() as usize,
            height: frame.height() as usize,
            stride: frame.plane_stride()[0] as usize,
            samples,
        };
        // An interlaced frame holds two pictures taken apart in time, one per field: each is
        // restored on its own, as a plane of every other row (restoring the woven frame blends
        // them where things move).
        let parts = if frame.is_interlaced() && live.field_mode == FieldMode::Fields {
            formats::fields(plane)
        } else {
            vec![(0, plane)]
        };
        let data = frame.plane_data_mut(0).map_err(|_| gst::FlowError::Error)?;
        // libtorch reports failures, running out of memory above all, as panics: caught here they
        // become an error naming the cause, and the element can be restarted (gstreamer-rs would
        // catch them too, but then refuse every later call of this instance).
        let restored = panic::catch_unwind(AssertUnwindSafe(|| {
            self.restore_parts(state, &live, &parts, data, pts)
        }))
        .unwrap_or_else(|panic| Err(torch_failure(&*panic)));
        if let Err(message) = restored {
            gst::element_imp_error!(self, gst::LibraryError::Failed, ("{message}"));
            return Err(gst::FlowError::Error);
        }
        // hyperres-bench times the element by this line's log clock: keep "frame done".
        gst::trace!(
            CAT,
            imp = self,
            "frame done; {} MB of CPU buffers kept for reuse",
            cpu_buffers::cached_bytes() >> 20
        );
        Ok(gst::FlowSuccess::Ok)
    }
}

/// The message for a panic caught while restoring: tch's panics wrap libtorch's message, C++
/// backtrace and all, in `Torch("...")`, of which the first line says what went wrong.
fn torch_failure(panic: &(dyn Any + Send)) -> String {
    let text = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    let cause = text.split_once("Torch(\"").map_or(text, |(_, torch)| torch);
    let cause = cause
        .split_once("\\n")
        .map_or(cause.trim_end_matches("\")"), |(first, _)| first);
    // CUDA's caching allocator and the element's CPU allocator (`cpu_buffers`) both say so.
    let hint = if cause.contains("out of memory") {
        "; a tile-size (e.g. 512) bounds the memory a frame needs"
    } else {
        ""
    };
    format!("restoring the frame failed: {cause}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtorch_failures_become_one_line_messages() {
        let caught =
            |work: fn() -> tch::Tensor| torch_failure(&*panic::catch_unwind(work).unwrap_err());

        let message = caught(|| {
            let a = tch::Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
            a.matmul(&a)
        });
        assert!(
            message.starts_with(
                "restoring the frame failed: mat1 and mat2 shapes cannot be multiplied"
            ),
            "{message}"
        );
        assert!(
            !message.contains("Exception raised from") && !message.contains("\\n"),
            "{message}"
        );
        assert!(!message.contains("tile-size"), "{message}");

        // 4 PiB: more than any machine can give, so the allocator the element installs on the
        // CPU fails at once.
        cpu_buffers::reuse_buffers();
        let message = caught(|| tch::Tensor::empty([1 << 50], (Kind::Float, Device::Cpu)));
        assert!(
            message.contains("CPU out of memory allocating 4503599627370496 bytes"),
            "{message}"
        );
        assert!(
            message.ends_with("a tile-size (e.g. 512) bounds the memory a frame needs"),
            "{message}"
        );
    }
}
