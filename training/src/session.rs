//! What every training run does around its steps: the output folder (model, optimiser state,
//! metrics), progress display, Ctrl-C, and picking up a saved run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use gsthyperres::checkpoint::{self, Metadata, StorageDtype};
use indicatif::{ProgressBar, ProgressStyle};
use tch::{Device, Kind, Tensor, nn};

use crate::adam::Adam;

pub const MODEL_FILE: &str = "model.safetensors";
const STATE_FILE: &str = "train_state.safetensors";

pub struct Session {
    out: PathBuf,
    log: std::fs::File,
    bar: ProgressBar,
    interrupted: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl Session {
    /// Opens `out` (created if needed) for a run of `iters` iterations now at `start`, to stop
    /// after `minutes` if given.
    pub fn new(
        out: &Path,
        iters: i64,
        start: i64,
        minutes: Option<f64>,
    ) -> anyhow::Result<Session> {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out.join("metrics.jsonl"))?;
        let bar = ProgressBar::new(iters as u64).with_position(start as u64);
        bar.set_style(ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} {per_sec} ETA {eta} {msg}",
        )?);
        let interrupted = Arc::new(AtomicBool::new(false));
        let flag = interrupted.clone();
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
            .context("installing the Ctrl-C handler")?;
        let deadline = minutes.map(|m| Instant::now() + Duration::from_secs_f64(m * 60.0));
        Ok(Session {
            out: out.to_owned(),
            log,
            bar,
            interrupted,
            deadline,
        })
    }

    /// Whether Ctrl-C was pressed or the time is up (the run then saves and stops).
    pub fn should_stop(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
            || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    pub fn progress(&self, iteration: i64, message: Option<String>) {
        self.bar.set_position(iteration as u64);
        if let Some(message) = message {
            self.bar.set_message(message);
        }
    }

    /// Appends a line to metrics.jsonl and shows it.
    pub fn log(&mut self, line: serde_json::Value) -> anyhow::Result<()> {
        writeln!(self.log, "{line}")?;
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line.to_string());
        }
        Ok(())
    }

    /// Writes the model (with `meta`, its iteration count set) and the optimiser state.
    pub fn save(
        &self,
        meta: &mut Metadata,
        iteration: i64,
        vs: &nn::VarStore,
        adam: &Adam,
    ) -> anyhow::Result<()> {
        meta.provenance.iterations = iteration as u64;
        checkpoint::save_var_store(&self.out.join(MODEL_FILE), meta, vs)?;
        let header = [
            ("iteration", iteration.to_string()),
            ("adam_steps", adam.steps().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        checkpoint::write_raw(
            &self.out.join(STATE_FILE),
            header,
            StorageDtype::F32,
            &adam.state(),
        )?;
        Ok(())
    }

    /// Clears the progress bar and says where the model is.
    pub fn finish(&self, iteration: i64, iters: i64) {
        self.bar.finish_and_clear();
        let more = if iteration < iters {
            " (continue with --resume)"
        } else {
            ""
        };
        eprintln!(
            "saved {} at iteration {iteration}{more}",
            self.out.join(MODEL_FILE).display()
        );
    }
}

/// The steps since the last log line. Their loss is summed where it is computed and read once per
/// line: reading it every step would make the CPU wait for each GPU step before queueing the next.
pub struct LogWindow {
    start: Instant,
    wait: f64,
    loss: Tensor,
    steps: i64,
}

/// What a [`LogWindow`] saw: the mean loss, steps per second and the share of the time spent
/// waiting for batches.
pub struct WindowMeans {
    pub loss: f64,
    pub it_per_s: f64,
    pub loader_wait: f64,
}

impl LogWindow {
    pub fn new(device: Device) -> LogWindow {
        LogWindow {
            start: Instant::now(),
            wait: 0.0,
            loss: Tensor::zeros([], (Kind::Double, device)),
            steps: 0,
        }
    }

    /// Counts a step of `loss` (a scalar on the training device).
    pub fn step(&mut self, loss: &Tensor) {
        self.loss += loss.detach().to_kind(Kind::Double);
        self.steps += 1;
    }

    /// Counts `seconds` spent waiting for a batch.
    pub fn waited(&mut self, seconds: f64) {
        self.wait += seconds;
    }

    /// The window's means; a new window starts.
    pub fn take(&mut self) -> WindowMeans {
        let seconds = self.start.elapsed().as_secs_f64();
        let means = WindowMeans {
            loss: self.loss.double_value(&[]) / self.steps as f64,
            it_per_s: self.steps as f64 / seconds,
            loader_wait: self.wait / seconds,
        };
        *self = LogWindow::new(self.loss.device());
        means
    }
}

/// Restores `adam` from the state file beside `model` when it belongs to `iteration`; otherwise
/// Adam starts afresh from the saved weights. Says which on stderr.
pub fn resume_optimiser(model: &Path, iteration: i64, adam: &mut Adam) -> anyhow::Result<()> {
    let state_path = model.with_file_name(STATE_FILE);
    match checkpoint::read_raw(&state_path) {
        Ok((header, state)) if header.get("iteration") == Some(&iteration.to_string()) => {
            let steps = header
                .get("adam_steps")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            adam.restore(&state, steps)?;
            eprintln!("resuming at iteration {iteration} with the optimiser state");
        }
        _ => eprintln!(
            "resuming at iteration {iteration} from the weights only ({} absent or of another iteration)",
            state_path.display()
        ),
    }
    Ok(())
}
