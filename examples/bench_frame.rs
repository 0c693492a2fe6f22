//! Times the element's frame reader and writer on the CPU (`Plane::read` and `Plane::write` on a
//! frame of each kind of layout), as the element runs them: its buffer-reusing allocator
//! installed, the restored image in the restorer's channels-last layout. Medians in ms, after a
//! warm-up call.
//!
//!     cargo run --release --example bench_frame -- [--threads N] [--width W] [--height H] [--runs N]

mod common;

use clap::Parser;
use gsthyperres::cpu_buffers;
use gsthyperres::frame::{Depth, Plane, Samples};
use gsthyperres::model::Layout;
use tch::{Device, Kind, Tensor};

use common::median_ms;

/// Times reading and writing a frame of each layout.
#[derive(Parser)]
struct Args {
    /// CPU threads.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    threads: i32,
    #[arg(long, default_value_t = 1920, value_parser = clap::value_parser!(u32).range(1..))]
    width: u32,
    #[arg(long, default_value_t = 1080, value_parser = clap::value_parser!(u32).range(1..))]
    height: u32,
    /// Timed calls of each (the median is printed).
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
}

fn main() {
    let args = Args::parse();
    tch::set_num_threads(args.threads);
    cpu_buffers::reuse_buffers();
    let width = args.width as usize;
    let sixteen = |bits, shift| Depth::Sixteen { bits, shift };
    // (name, samples, bytes of a row: GStreamer's strides for these widths)
    let layouts = [
        ("RGB", Samples::rgb([0, 1, 2], 3, Depth::Eight), 3 * width),
        ("BGRx", Samples::rgb([2, 1, 0], 4, Depth::Eight), 4 * width),
        ("I420 Y", Samples::luma(0, 1, Depth::Eight), width),
        ("P010 Y", Samples::luma(0, 2, sixteen(10, 6)), 2 * width),
        (
            "RGBA64",
            Samples::rgb([0, 2, 4], 8, sixteen(16, 0)),
            8 * width,
        ),
        ("v210 Y", Samples::v210(), width.div_ceil(48) * 128),
    ];
    println!("| layout | read | write |\n|---|---|---|");
    for (name, samples, stride) in layouts {
        let plane = Plane {
            width,
            height: args.height as usize,
            stride,
            samples,
        };
        let mut data = vec![0u8; stride * plane.height];
        let size = [1, samples.channels(), plane.height as i64, width as i64];
        let image = Layout::ChannelsLast.arrange(&Tensor::rand(size, (Kind::Float, Device::Cpu)));
        let write = median_ms(args.runs as usize, || plane.write(&image, None, &mut data));
        let read = median_ms(args.runs as usize, || {
            let _ = plane.read(&data, None);
        });
        println!("| {name} | {read:.2} | {write:.2} |");
    }
}
