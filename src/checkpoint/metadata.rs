//! The metadata every gst-hyperres checkpoint carries in its safetensors header.

use std::collections::HashMap;

use tch::Kind;

use crate::task::{Architecture, Colour, ModelKind, Task};

/// Version of the layout below; a reader refuses files written with a newer one.
pub const FORMAT_VERSION: u32 = 1;

/// Where a checkpoint came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Provenance {
    /// Training data set (or the release it was imported from).
    pub dataset: String,
    /// Training iterations (0 when unknown).
    pub iterations: u64,
    /// Device it was trained on.
    pub device: String,
    /// Source commit of the trainer.
    pub commit: String,
}

/// Everything needed to rebuild and use the network a checkpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// The network (its kind follows from it); absent in a header means the kind's original one.
    pub architecture: Architecture,
    pub task: Task,
    pub colour: Colour,
    /// Feature channels.
    pub width: i64,
    /// Residual blocks (restorer) or [ResBlock, MaxPool] stages (estimator).
    pub blocks: i64,
    /// Levels the restorer was trained at; for an estimator, the range of its training levels.
    pub levels: Vec<f64>,
    /// The network's input is c = level / level_divisor.
    pub level_divisor: f64,
    /// Levels recommended for use: [low, high].
    pub level_range: [f64; 2],
    /// How tensors are stored: f32, f16 or bf16 (always computed in f32 after loading).
    pub dtype: StorageDtype,
    /// Restorer adds its input to its output (see `RestorerConfig::input_skip`); absent in a
    /// header means false.
    pub input_skip: bool,
    pub provenance: Provenance,
}

/// Storage type of a checkpoint's tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageDtype {
    #[default]
    F32,
    F16,
    Bf16,
}

impl std::str::FromStr for StorageDtype {
    type Err = String;

    fn from_str(s: &str) -> Result<StorageDtype, String> {
        [StorageDtype::F32, StorageDtype::F16, StorageDtype::Bf16]
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| "must be f32, f16 or bf16".to_owned())
    }
}

impl StorageDtype {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageDtype::F32 => "f32",
            StorageDtype::F16 => "f16",
            StorageDtype::Bf16 => "bf16",
        }
    }

    pub(crate) fn safetensors(self) -> safetensors::Dtype {
        match self {
            StorageDtype::F32 => safetensors::Dtype::F32,
            StorageDtype::F16 => safetensors::Dtype::F16,
            StorageDtype::Bf16 => safetensors::Dtype::BF16,
        }
    }

    pub fn tch(self) -> Kind {
        match self {
            StorageDtype::F32 => Kind::Float,
            StorageDtype::F16 => Kind::Half,
            StorageDtype::Bf16 => Kind::BFloat16,
        }
    }
}

/// A metadata field that is missing or does not parse; names the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetadataError {
    #[error(
        "no gst-hyperres metadata (key {0:?} missing); authors' files need `hyperres-train import`"
    )]
    Missing(&'static str),
    #[error("metadata {key:?} = {value:?}: {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        reason: String,
    },
}

impl Metadata {
    pub fn kind(&self) -> ModelKind {
        self.architecture.kind()
    }

    /// The levels a restorer is used at: its recommended range widened by a quarter of the range
    /// on each side (HyperRes extrapolates somewhat), within the task's meaningful levels.
    pub fn accepted_levels(&self) -> [f64; 2] {
        let [low, high] = self.level_range;
        let margin = 0.25 * (high - low);
        let meaningful = self.task.meaningful_levels();
        [
            (low - margin).max(*meaningful.start()),
            (high + margin).min(*meaningful.end()),
        ]
    }

    /// The safetensors header entries.
    pub fn to_header(&self) -> HashMap<String, String> {
        let list = |values: &[f64]| serde_json::to_string(values).expect("floats serialise");
        let p = &self.provenance;
        [
            ("format_version", FORMAT_VERSION.to_string()),
            ("kind", self.kind().to_string()),
            ("architecture", self.architecture.to_string()),
            ("task", self.task.to_string()),
            ("colour", self.colour.to_string()),
            ("width", self.width.to_string()),
            ("blocks", self.blocks.to_string()),
            ("levels", list(&self.levels)),
            ("level_divisor", self.level_divisor.to_string()),
            ("level_range", list(&self.level_range)),
            ("dtype", self.dtype.as_str().to_owned()),
            ("input_skip", self.input_skip.to_string()),
            ("dataset", p.dataset.clone()),
            ("iterations", p.iterations.to_string()),
            ("device", p.device.clone()),
            ("commit", p.commit.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Parses and sanity-checks the header entries (sizes are bounded so that a hostile file
    /// cannot make the loader allocate a huge network).
    pub fn from_header(header: &HashMap<String, String>) -> Result<Metadata, MetadataError> {
        let fields = Fields(header);
        let version: u32 = fields.parse("format_version")?;
        if version > FORMAT_VERSION {
            return Err(fields.invalid(
                "format_version",
                format!("written by a newer gst-hyperres (this one reads up to {FORMAT_VERSION})"),
            ));
        }
        let kind: ModelKind = fields.parse("kind")?;
        let architecture = match header.get("architecture") {
            None => match kind {
                ModelKind::Restorer => Architecture::HyperRes,
                ModelKind::Estimator => Architecture::NoiseNet,
            },
            Some(_) => fields.parse("architecture")?,
        };
        if architecture.kind() != kind {
            return Err(fields.invalid("architecture", format!("is not {}", kind.with_article())));
        }
        let width: i64 = fields.parse("width")?;
        let blocks: i64 = fields.parse("blocks")?;
        if !(1..=1024).contains(&width) {
            return Err(fields.invalid("width", "must be 1..=1024".into()));
        }
        let max_blocks = match kind {
            ModelKind::Restorer => 256,
            ModelKind::Estimator => 6,
        };
        if !(0..=max_blocks).contains(&blocks) {
            return Err(fields.invalid(
                "blocks",
                format!("must be 0..={max_blocks} for {}", kind.with_article()),
            ));
        }
        let levels = fields.floats("levels")?;
        if levels.is_empty() {
            return Err(fields.invalid("levels", "needs at least one level".into()));
        }
        let level_divisor: f64 = fields.parse("level_divisor")?;
        if !(level_divisor.is_finite() && level_divisor > 0.0) {
            return Err(fields.invalid("level_divisor", "must be finite and positive".into()));
        }
        let level_range = match fields.floats("level_range")?[..] {
            [low, high] if low <= high => [low, high],
            _ => return Err(fields.invalid("level_range", "must be [low, high]".into())),
        };
        let dtype: StorageDtype = fields.parse("dtype")?;
        let input_skip = match header.get("input_skip").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(fields.invalid("input_skip", "must be true or false".into())),
        };
        Ok(Metadata {
            architecture,
            task: fields.parse("task")?,
            colour: fields.parse("colour")?,
            width,
            blocks,
            levels,
            level_divisor,
            level_range,
            dtype,
            input_skip,
            provenance: Provenance {
                dataset: fields.get("dataset")?.to_owned(),
                iterations: fields.parse("iterations")?,
                device: fields.get("device")?.to_owned(),
                commit: fields.get("commit")?.to_owned(),
            },
        })
    }
}

/// Typed access to header entries, with errors that name the key.
struct Fields<'a>(&'a HashMap<String, String>);

impl Fields<'_> {
    fn get(&self, key: &'static str) -> Result<&str, MetadataError> {
        self.0
            .get(key)
            .map(String::as_str)
            .ok_or(MetadataError::Missing(key))
    }

    fn invalid(&self, key: &'static str, reason: String) -> MetadataError {
        let value = self.0.get(key).cloned().unwrap_or_default();
        MetadataError::Invalid { key, value, reason }
    }

    fn parse<T: std::str::FromStr>(&self, key: &'static str) -> Result<T, MetadataError>
    where
        T::Err: std::fmt::Display,
    {
        self.get(key)?
            .parse()
            .map_err(|e: T::Err| self.invalid(key, e.to_string()))
    }

    /// A JSON list of finite numbers.
    fn floats(&self, key: &'static str) -> Result<Vec<f64>, MetadataError> {
        let values: Vec<f64> =
            serde_json::from_str(self.get(key)?).map_err(|e| self.invalid(key, e.to_string()))?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(self.invalid(key, "values must be finite".into()));
        }
        Ok(values)
    }
}
