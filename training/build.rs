//! libtorch linking shared with the plugin crate.

include!("../scripts/libtorch_link.rs");

fn main() {
    link_libtorch();
}
