//! Child processes measured from outside: wall time and peak resident memory (from `wait4`), so
//! every configuration's memory is its own and PyTorch, GStreamer and FFmpeg are timed alike.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

/// What a finished child printed, how long it ran and its peak resident memory.
pub struct Finished {
    pub stdout: String,
    pub stderr: String,
    pub seconds: f64,
    pub peak_rss_mb: f64,
}

/// Runs `command` to completion; an error (with its stderr) unless it exits 0.
pub fn run(command: &mut Command) -> anyhow::Result<Finished> {
    let name = format!("{command:?}");
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    let mut stderr = child.stderr.take().expect("piped stderr");
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut stdout)?;
    let (status, usage) = wait4(child.id() as libc::pid_t)?;
    let seconds = start.elapsed().as_secs_f64();
    let stderr = stderr.join().unwrap_or_default();
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(8)..].join("\n");
        bail!("{name} failed (status {status}):\n{tail}");
    }
    Ok(Finished {
        stdout,
        stderr,
        seconds,
        // ru_maxrss is in KiB on Linux.
        peak_rss_mb: usage.ru_maxrss as f64 / 1024.0,
    })
}

/// Reaps `pid` (a child that std has not waited for) with its resource usage.
fn wait4(pid: libc::pid_t) -> anyhow::Result<(i32, libc::rusage)> {
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills; pid is our own unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            return Ok((status, usage));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("wait4");
        }
    }
}

/// Whether `program` runs (asked for its version with `version_flag`).
pub fn available(program: &str, version_flag: &str) -> bool {
    Command::new(program)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Median of `values` (sorted in place); NaN when empty.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    #[test]
    fn a_failing_child_is_an_error_with_its_last_lines() {
        // A long log whose reason comes last, as FFmpeg's does.
        let script = "for i in $(seq 20); do echo info $i >&2; done; \
                      echo 'No such filter' >&2; echo 'Conversion failed!' >&2; exit 1";
        let error = super::run(Command::new("sh").args(["-c", script]))
            .err()
            .expect("a failure")
            .to_string();
        assert!(
            error.ends_with("info 20\nNo such filter\nConversion failed!"),
            "{error}"
        );
        assert!(!error.contains("info 1\n"), "{error}");
        let finished =
            super::run(Command::new("sh").args(["-c", "echo out; echo err >&2"])).unwrap();
        assert_eq!(
            (finished.stdout.as_str(), finished.stderr.as_str()),
            ("out\n", "err\n")
        );
    }
}
