//! gst-hyperres: continuous, level-adjustable restoration (HyperRes) as a GStreamer plugin.
//!
//! The model code (`model`, `checkpoint`, `restorer`, `level_estimator`, `task`) has no GStreamer
//! dependency and is shared with the `hyperres-train` tool; `hyperres` is the element.

// First: its `named_enum!` serves the modules below.
#[macro_use]
pub mod task;
pub mod checkpoint;
pub mod cpu_bf16;
pub mod cpu_buffers;
pub mod cuda_fp32;
pub mod ensemble;
pub mod frame;
mod hyperres;
pub mod level_estimator;
pub mod model;
pub mod restorer;

use gst::glib;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    hyperres::register(plugin)
}

gst::plugin_define!(
    hyperres,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
