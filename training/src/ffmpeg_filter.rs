//! An FFmpeg filter graph as `hyperres-train eval --ffmpeg` applies it: one 8-bit image through
//! raw files, timed by FFmpeg's own `-benchmark` clock. Kept apart from eval.rs, so that
//! scripts/results keys only the FFmpeg results on this code, and ours not.

use std::process::Command;

use anyhow::{Context, ensure};
use gsthyperres::task::{Colour, Task};
use tch::{Kind, Tensor};

use crate::bench::process;
use crate::pixels::{from_packed, to_packed};

/// An FFmpeg filter graph applied to one 8-bit image through raw video files.
pub struct FfmpegFilter {
    graph: String,
    pub task: Task,
    colour: Colour,
    scratch: tempfile::TempDir,
}

impl FfmpegFilter {
    pub fn new(graph: &str, task: Task, colour: Colour) -> anyhow::Result<FfmpegFilter> {
        Ok(FfmpegFilter {
            graph: graph.to_owned(),
            task,
            colour,
            scratch: tempfile::tempdir()?,
        })
    }

    /// Filters `image` `[C, H, W]` in [0, 1] (quantised to 8 bits first): the result in 0..255,
    /// and FFmpeg's seconds for it. Those are its `-benchmark` real time, the transcoding alone
    /// (reading, the filter graph, writing), since the process's start-up (about 0.06 s) would
    /// be most of a fast filter's time on one image.
    pub fn apply(&self, image: &Tensor) -> anyhow::Result<(Tensor, f64)> {
        let size = image.size();
        let (h, w) = (size[1], size[2]);
        let bytes = to_packed(image);
        let pix_fmt = match self.colour {
            Colour::Rgb => "rgb24",
            Colour::Gray => "gray",
        };
        let input = self.scratch.path().join("in.raw");
        let output = self.scratch.path().join("out.raw");
        std::fs::write(&input, &bytes)?;
        // The bench line is logged at level info, with the stream summaries; a failure's error
        // names FFmpeg's last lines, where its reason is.
        let run = process::run(
            Command::new("ffmpeg")
                .args(["-hide_banner", "-nostats", "-v", "info", "-benchmark", "-y"])
                .args(["-f", "rawvideo", "-pix_fmt", pix_fmt])
                .args(["-s", &format!("{w}x{h}"), "-i"])
                .arg(&input)
                .args(["-vf", &self.graph, "-f", "rawvideo", "-pix_fmt", pix_fmt])
                .arg(&output),
        )?;
        let seconds = benchmark_seconds(&run.stderr).with_context(|| {
            format!(
                "ffmpeg -benchmark printed no real time: {}",
                run.stderr.trim()
            )
        })?;
        let filtered = std::fs::read(&output)?;
        ensure!(
            filtered.len() == bytes.len(),
            "ffmpeg -vf {:?} changed the image size",
            self.graph
        );
        Ok((
            from_packed(&filtered, size[0], h, w).to_kind(Kind::Float),
            seconds,
        ))
    }
}

/// The real time of `ffmpeg -benchmark`'s line `bench: utime=0.005s stime=0.003s rtime=0.007s`.
fn benchmark_seconds(log: &str) -> Option<f64> {
    log.lines()
        .filter_map(|line| line.strip_prefix("bench: "))
        .find_map(|fields| {
            fields
                .split_whitespace()
                .find_map(|field| field.strip_prefix("rtime=")?.strip_suffix('s'))
        })?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::benchmark_seconds;

    #[test]
    fn reads_the_real_time_of_the_bench_line() {
        // FFmpeg 5.1's end of a one-frame run (after the stream summaries, which mention times too).
        let log = "frame=    1 fps=0.0 q=-0.0 Lsize=     450kB time=00:00:00.04 speed=5.72x\n\
                   video:450kB audio:0kB subtitle:0kB other streams:0kB\n\
                   bench: utime=0.005s stime=0.003s rtime=0.007s\n\
                   bench: maxrss=53936kB\n";
        assert_eq!(benchmark_seconds(log), Some(0.007));
    }

    #[test]
    fn without_a_real_time_there_is_none() {
        assert_eq!(benchmark_seconds("time=00:00:00.04 rtime=0.5s\n"), None);
        assert_eq!(benchmark_seconds("bench: maxrss=53936kB\n"), None);
        assert_eq!(benchmark_seconds("bench: utime=0.005s rtime=fast\n"), None);
    }
}
