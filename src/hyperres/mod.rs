//! The `hyperres` element: restores every frame with the HyperRes network generated for the
//! current level (set by an application, a control source, or estimated from the picture).

use gst::glib;
use gst::prelude::*;

mod formats;
mod imp;
mod locations;

glib::wrapper! {
    pub struct HyperRes(ObjectSubclass<imp::HyperRes>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Where the level comes from.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstHyperResMode")]
pub enum Mode {
    #[enum_value(name = "Manual: the level property", nick = "manual")]
    Manual = 0,
    #[enum_value(
        name = "Auto: estimated from the frames by the level estimator",
        nick = "auto"
    )]
    Auto = 1,
}

/// The restoration task (informational when a model is set: the checkpoint's task wins).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstHyperResTask")]
pub enum Task {
    #[enum_value(
        name = "Denoise (level: noise sigma on the 0..255 scale)",
        nick = "denoise"
    )]
    Denoise = 0,
    #[enum_value(
        name = "JPEG artifact removal (level: JPEG quality 1..100)",
        nick = "dejpeg"
    )]
    Dejpeg = 1,
    #[enum_value(
        name = "Super-resolution of bicubic-upscaled frames (level: scale factor)",
        nick = "sr"
    )]
    Sr = 2,
}

/// The arithmetic the network runs in.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstHyperResPrecision")]
pub enum Precision {
    #[enum_value(
        name = "Auto: fp32 (half precision is chosen explicitly)",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(name = "fp32", nick = "fp32")]
    Fp32 = 1,
    #[enum_value(name = "fp16 (CUDA only)", nick = "fp16")]
    Fp16 = 2,
    #[enum_value(
        name = "bf16 (CUDA, or a CPU where it is faster: AMX, Zen 4)",
        nick = "bf16"
    )]
    Bf16 = 3,
}

/// How interlaced frames are restored.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstHyperResFieldMode")]
pub enum FieldMode {
    #[enum_value(
        name = "Fields: each field restored as a picture of its own (keeps motion apart)",
        nick = "fields"
    )]
    Fields = 0,
    #[enum_value(
        name = "Frame: the woven frame as one picture (static or progressive-segmented content)",
        nick = "frame"
    )]
    Frame = 1,
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "hyperres",
        gst::Rank::NONE,
        HyperRes::static_type(),
    )
}
