//! Checkpoints: `.safetensors` files whose header carries [`Metadata`]. Reading validates every
//! tensor's name, shape and dtype and never panics on a bad file: each problem is an error that
//! names the file. Writing is in `write.rs`.

mod import;
mod metadata;
mod write;

pub use import::{AuthorsCheckpoint, import_authors, read_authors};
pub use metadata::{FORMAT_VERSION, Metadata, MetadataError, Provenance, StorageDtype};
pub use write::{save, save_var_store, write_raw};

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensorError, SafeTensors};
use tch::{Device, Kind, TchError, Tensor, nn};

use crate::task::ModelKind;

/// A checkpoint that could not be read or written, and why.
#[derive(Debug, thiserror::Error)]
#[error("checkpoint {}: {problem}", path.display())]
pub struct CheckpointError {
    pub path: PathBuf,
    pub problem: Problem,
}

/// What is wrong with a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a valid safetensors file: {0}")]
    Format(#[from] SafeTensorError),
    #[error("{0}")]
    Metadata(#[from] MetadataError),
    #[error("holds {}, expected {}", found.with_article(), expected.with_article())]
    WrongKind {
        expected: ModelKind,
        found: ModelKind,
    },
    #[error("tensor {0:?} missing")]
    MissingTensor(String),
    #[error("unexpected tensor {0:?} (not part of this architecture)")]
    UnexpectedTensor(String),
    #[error("tensor {name:?} has shape {found:?}, the metadata implies {expected:?}")]
    Shape {
        name: String,
        expected: Vec<i64>,
        found: Vec<i64>,
    },
    #[error("tensor {name:?} is {found:?}, the metadata says {expected}")]
    Dtype {
        name: String,
        expected: &'static str,
        found: Dtype,
    },
    #[error("tensor {0:?} holds NaN or infinite values")]
    NonFinite(String),
    #[error(
        "tensor {name:?} (largest magnitude {largest:e}) does not fit in {dtype}: NaN, infinite or \
         beyond its range; nothing was written"
    )]
    Unstorable {
        name: String,
        dtype: &'static str,
        largest: f64,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("torch: {0}")]
    Torch(#[from] TchError),
}

impl Problem {
    /// This problem, attributed to the file at `path`.
    pub fn at(self, path: &Path) -> CheckpointError {
        CheckpointError {
            path: path.to_owned(),
            problem: self,
        }
    }
}

/// Named tensors, in file order.
pub type Tensors = Vec<(String, Tensor)>;

/// A network loaded from a checkpoint: its metadata, the variables and the module using them.
#[derive(Debug)]
pub struct Loaded<N> {
    pub meta: Metadata,
    pub vs: nn::VarStore,
    pub net: N,
}

/// Reads a gst-hyperres checkpoint: metadata, then tensors (as f32 on the CPU) whose dtype must be
/// the declared one and whose values must be finite.
pub fn read(path: &Path) -> Result<(Metadata, Tensors), CheckpointError> {
    with_file(path, |st, header| {
        let meta = Metadata::from_header(&header)?;
        let tensors = to_tensors(st, Some(meta.dtype))?;
        Ok((meta, tensors))
    })
}

/// Reads any safetensors file's tensors as f32 (for files without our metadata, e.g. the authors').
pub fn read_untyped(path: &Path) -> Result<Tensors, CheckpointError> {
    read_raw(path).map(|(_, tensors)| tensors)
}

/// Reads any safetensors file: its header metadata (empty if none) and its tensors as f32.
pub fn read_raw(path: &Path) -> Result<(HashMap<String, String>, Tensors), CheckpointError> {
    with_file(path, |st, header| Ok((header, to_tensors(st, None)?)))
}

/// Parses the file at `path` and hands its tensors and header metadata to `f`.
fn with_file<T>(
    path: &Path,
    f: impl FnOnce(&SafeTensors<'_>, HashMap<String, String>) -> Result<T, Problem>,
) -> Result<T, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|e| Problem::Io(e).at(path))?;
    let parsed = parse(&bytes).and_then(|st| {
        let (_, header) = SafeTensors::read_metadata(&bytes)?;
        f(&st, header.metadata().clone().unwrap_or_default())
    });
    parsed.map_err(|p| p.at(path))
}

fn parse(bytes: &[u8]) -> Result<SafeTensors<'_>, Problem> {
    if bytes.is_empty() {
        return Err(Problem::Invalid("file is empty".into()));
    }
    Ok(SafeTensors::deserialize(bytes)?)
}

fn to_tensors(st: &SafeTensors<'_>, expected: Option<StorageDtype>) -> Result<Tensors, Problem> {
    let mut tensors = Vec::with_capacity(st.len());
    for (name, view) in st.iter() {
        let kind = match (view.dtype(), expected) {
            (found, Some(dtype)) if found != dtype.safetensors() => {
                return Err(Problem::Dtype {
                    name: name.to_owned(),
                    expected: dtype.as_str(),
                    found,
                });
            }
            (Dtype::F32, _) => Kind::Float,
            (Dtype::F16, _) => Kind::Half,
            (Dtype::BF16, _) => Kind::BFloat16,
            (found, _) => {
                return Err(Problem::Dtype {
                    name: name.to_owned(),
                    expected: "a float type",
                    found,
                });
            }
        };
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let tensor = Tensor::f_from_data_size(view.data(), &shape, kind)?.f_to_kind(Kind::Float)?;
        if !bool::try_from(tensor.f_isfinite()?.f_all()?)? {
            return Err(Problem::NonFinite(name.to_owned()));
        }
        tensors.push((name.to_owned(), tensor));
    }
    Ok(tensors)
}

/// Loads a checkpoint of `kind`: reads it, builds the network `build` describes for its metadata
/// on `device`, and fills every variable, checking that names and shapes match one to one.
pub fn load<N>(
    path: &Path,
    kind: ModelKind,
    device: Device,
    build: impl FnOnce(&nn::Path, &Metadata) -> N,
) -> Result<Loaded<N>, CheckpointError> {
    let (meta, tensors) = read(path)?;
    if meta.kind() != kind {
        return Err(Problem::WrongKind {
            expected: kind,
            found: meta.kind(),
        }
        .at(path));
    }
    let vs = nn::VarStore::new(device);
    let net = build(&vs.root(), &meta);
    assign(&vs, tensors).map_err(|p| p.at(path))?;
    Ok(Loaded { meta, vs, net })
}

/// Copies `tensors` into the variables of `vs` with the same names.
fn assign(vs: &nn::VarStore, tensors: Tensors) -> Result<(), Problem> {
    let mut vars: HashMap<String, Tensor> = vs.variables();
    for (name, tensor) in tensors {
        let Some(mut var) = vars.remove(&name) else {
            return Err(Problem::UnexpectedTensor(name));
        };
        if var.size() != tensor.size() {
            return Err(Problem::Shape {
                name,
                expected: var.size(),
                found: tensor.size(),
            });
        }
        tch::no_grad(|| var.f_copy_(&tensor))?;
    }
    match vars.into_keys().min() {
        Some(name) => Err(Problem::MissingTensor(name)),
        None => Ok(()),
    }
}
