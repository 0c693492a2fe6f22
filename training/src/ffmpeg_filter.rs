//! An FFmpeg filter graph as `hyperres-train eval --ffmpeg` applies it: one 8-bit image through
//! raw files, timed by FFmpeg's own `-benchmark` clock. Kept apart from eval.rs, so that
//! scripts/results keys only the FFmpeg results on this code, and ours not.

use anyhow::{Context, ensure};
use gsthyperres::task::{Colour, Task};
use tch::{Kind, Tensor};

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
        // The bench line is logged at level info, with the stream summaries: every line is tagged
        // with its level, so that a failure can report the errors alone.
        let run = std::process::Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-nostats",
                "-loglevel",
                "level+info",
                "-benchmark",
                "-y",
            ])
            .args(["-f", "rawvideo", "-pix_fmt", pix_fmt])
            .args(["-s", &format!("{w}x{h}"), "-i"])
            .arg(&input)
            .args(["-vf", &self.graph, "-f", "rawvideo", "-pix_fmt", pix_fmt])
            .arg(&output)
            .output()
            .context("running ffmpeg (is it installed?)")?;
        let log = String::from_utf8_lossy(&run.stderr);
        ensure!(
            run.status.success(),
            "ffmpeg -vf {:?} failed: {}",
            self.graph,
            errors(&log)
        );
        let seconds = benchmark_seconds(&log)
            .with_context(|| format!("ffmpeg -benchmark printed no real time: {}", log.trim()))?;
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

/// The lines of a level-tagged FFmpeg `log` that report errors, joined; all of it if none does.
fn errors(log: &str) -> String {
    let errors: Vec<&str> = log
        .lines()
        .filter(|line| {
            ["[error]", "[fatal]", "[panic]"]
                .iter()
                .any(|tag| line.contains(tag))
        })
        .collect();
    if errors.is_empty() {
        log.trim().to_owned()
    } else {
        errors.join("; ")
    }
}

/// The real time of `ffmpeg -benchmark`'s line `[info] bench: utime=0.005s stime=0.003s
/// rtime=0.007s`.
fn benchmark_seconds(log: &str) -> Option<f64> {
    log.lines()
        .filter_map(|line| line.strip_prefix("[info] bench: "))
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
    use super::{benchmark_seconds, errors};

    #[test]
    fn reads_the_real_time_of_the_bench_line() {
        // FFmpeg 5.1's end of a one-frame run (after the stream summaries, which mention times too).
        let log = "[info] frame=    1 fps=0.0 q=-0.0 Lsize=     450kB time=00:00:00.04 speed=5.72x\n\
                   [info] video:450kB audio:0kB subtitle:0kB other streams:0kB\n\
                   [info] bench: utime=0.005s stime=0.003s rtime=0.007s\n\
                   [info] bench: maxrss=53936kB\n";
        assert_eq!(benchmark_seconds(log), Some(0.007));
    }

    #[test]
    fn without_a_real_time_there_is_none() {
        assert_eq!(
            benchmark_seconds("[info] time=00:00:00.04 rtime=0.5s\n"),
            None
        );
        assert_eq!(benchmark_seconds("[info] bench: maxrss=53936kB\n"), None);
        assert_eq!(
            benchmark_seconds("[info] bench: utime=0.005s rtime=fast\n"),
            None
        );
    }

    #[test]
    fn a_failure_reports_its_errors_alone() {
        // FFmpeg 5.1 given a filter that does not exist.
        let log = "[info] Press [q] to stop, [?] for help\n\
                   [AVFilterGraph @ 0x560ab481b4c0] [error] No such filter: 'nosuch'\n\
                   [error] Error reinitializing filters!\n\
                   [fatal] Error while processing the decoded data for stream #0:0\n\
                   [info] Conversion failed!\n";
        assert_eq!(
            errors(log),
            "[AVFilterGraph @ 0x560ab481b4c0] [error] No such filter: 'nosuch'; \
             [error] Error reinitializing filters!; \
             [fatal] Error while processing the decoded data for stream #0:0"
        );
        assert_eq!(
            errors("[info] Conversion failed!\n"),
            "[info] Conversion failed!"
        );
    }
}
