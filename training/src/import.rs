//! `hyperres-train import`: the authors' checkpoints in our format, with metadata.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::Args;
use gsthyperres::checkpoint::{
    self, AuthorsCheckpoint, Metadata, Provenance, StorageDtype, import_authors, read_authors,
};
use gsthyperres::task::{Architecture, Colour, LEVEL_DIVISOR, ModelKind, Task};

#[derive(Args)]
pub struct ImportArgs {
    /// The authors' state dict: a .pth pickle (read through PyTorch) or a .safetensors file.
    #[arg(long = "from")]
    from: PathBuf,
    /// Where to write our checkpoint.
    #[arg(long)]
    out: PathBuf,
    /// Task the model was trained for.
    #[arg(long, default_value = "denoise")]
    task: Task,
    /// Trained levels (restorer; default: the authors' released ones for the task) or the
    /// estimator's training range (default for denoise: 0,100).
    #[arg(long, value_delimiter = ',')]
    levels: Option<Vec<f64>>,
    /// Recommended level range LOW,HIGH (default: the lowest and highest of --levels).
    #[arg(long, value_delimiter = ',')]
    range: Option<Vec<f64>>,
    /// Python with torch and safetensors, for .pth files (default: the project's .venv).
    #[arg(long)]
    python: Option<PathBuf>,
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let python = args.python.clone().unwrap_or_else(default_python);
    let (found, tensors) = import_authors(read_authors(&args.from, &python)?)
        .map_err(|problem| problem.at(&args.from))?;
    let (architecture, channels, width, blocks) = match found {
        AuthorsCheckpoint::Restorer(c) => (Architecture::HyperRes, c.channels, c.width, c.blocks),
        AuthorsCheckpoint::Estimator(c) => (c.architecture, c.channels, c.width, c.stages),
    };
    let kind = architecture.kind();
    let colour = match channels {
        3 => Colour::Rgb,
        1 => Colour::Gray,
        n => bail!(
            "{}: {n} image channels (expected 1 or 3)",
            args.from.display()
        ),
    };
    let levels = match (&args.levels, kind) {
        (Some(levels), _) => levels.clone(),
        (None, ModelKind::Restorer) => released_levels(args.task),
        (None, ModelKind::Estimator) if args.task == Task::Denoise => vec![0.0, 100.0],
        (None, ModelKind::Estimator) => bail!("give the estimator's training range with --levels"),
    };
    let range = match crate::args::low_high(&args.range, "--range")? {
        Some(range) => range,
        None => [
            levels.iter().copied().fold(f64::INFINITY, f64::min),
            levels.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ],
    };
    let meta = Metadata {
        architecture,
        task: args.task,
        colour,
        width,
        blocks,
        levels,
        level_divisor: LEVEL_DIVISOR,
        level_range: range,
        dtype: StorageDtype::F32,
        input_skip: false,
        provenance: Provenance {
            dataset: format!("authors' release ({})", file_name(&args.from)),
            ..Default::default()
        },
    };
    checkpoint::save(&args.out, &meta, &tensors)?;
    crate::convert::check_loads(&args.out, kind)?;
    println!(
        "{}: {kind} ({colour}, width {width}, {blocks} blocks, {} task) -> {}",
        args.from.display(),
        args.task,
        args.out.display()
    );
    Ok(())
}

/// Levels of the authors' released restorers.
fn released_levels(task: Task) -> Vec<f64> {
    match task {
        Task::Denoise => vec![15.0, 35.0, 55.0, 75.0],
        Task::Dejpeg => vec![10.0, 30.0, 50.0, 80.0],
        Task::Sr => vec![2.0, 3.0, 4.0, 5.0],
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The active virtualenv's Python, else the project's .venv, else `python3` on PATH.
fn default_python() -> PathBuf {
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    std::env::var_os("VIRTUAL_ENV")
        .map(|venv| PathBuf::from(venv).join("bin/python"))
        .into_iter()
        .chain([project])
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}
