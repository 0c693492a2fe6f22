//! Plugin version info for GStreamer, and libtorch linking (see scripts/libtorch_link.rs).

include!("scripts/libtorch_link.rs");

fn main() {
    gst_plugin_version_helper::info();
    link_libtorch();
}
