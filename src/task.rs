//! What a model restores, in which colour, and the units of its level.

/// The degradation a restorer removes (or an estimator measures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    /// Additive Gaussian noise; level = sigma on the 0..255 scale.
    Denoise,
    /// JPEG compression artifacts; level = JPEG quality 1..100.
    Dejpeg,
    /// Bicubic-upscaled input; level = scale factor.
    Sr,
}

/// The network a checkpoint holds (which determines its parameter names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// The HyperRes restorer.
    HyperRes,
    /// The authors' level estimator: strided head, residual stages with max pooling.
    NoiseNet,
    /// A level estimator that averages full-resolution features per position inside the 8x8
    /// JPEG block, so that it sees blocking whatever the picture shows (ours, for JPEG quality).
    BlockGrid,
}

impl Architecture {
    /// The kind of model the architecture is.
    pub fn kind(self) -> ModelKind {
        match self {
            Architecture::HyperRes => ModelKind::Restorer,
            Architecture::NoiseNet | Architecture::BlockGrid => ModelKind::Estimator,
        }
    }
}

/// Colour handling of a model: three RGB channels or one luma/gray channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Colour {
    Rgb,
    Gray,
}

/// What a checkpoint holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// The HyperRes restoration network.
    Restorer,
    /// The level-estimator CNN.
    Estimator,
}

impl ModelKind {
    /// The kind with its article, for messages ("an estimator", not "a estimator").
    pub fn with_article(self) -> &'static str {
        match self {
            ModelKind::Restorer => "a restorer",
            ModelKind::Estimator => "an estimator",
        }
    }
}

impl Task {
    /// The levels that describe a degradation: a noise sigma from 0, a JPEG quality from 1 to
    /// 100, an SR scale from 1.
    pub fn meaningful_levels(self) -> std::ops::RangeInclusive<f64> {
        match self {
            Task::Denoise => 0.0..=f64::INFINITY,
            Task::Dejpeg => 1.0..=100.0,
            Task::Sr => 1.0..=f64::INFINITY,
        }
    }
}

impl Colour {
    pub fn channels(self) -> i64 {
        match self {
            Colour::Rgb => 3,
            Colour::Gray => 1,
        }
    }
}

/// Error of parsing one of the names above; says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {found:?} (expected one of: {expected})")]
pub struct UnknownName {
    pub what: &'static str,
    pub found: String,
    pub expected: &'static str,
}

/// Implements `as_str`, `Display` and `FromStr` from one table of (variant, name) pairs (for any
/// enum of the crate: `task` is declared first, with `#[macro_use]`).
macro_rules! named_enum {
    ($ty:ty, $what:literal, [$(($variant:path, $name:literal)),+ $(,)?]) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($variant => $name),+ }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $ty {
            type Err = $crate::task::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($variant),)+
                    _ => Err($crate::task::UnknownName {
                        what: $what,
                        found: s.to_owned(),
                        expected: concat!($($name, " "),+).trim_ascii_end(),
                    }),
                }
            }
        }
    };
}

named_enum!(
    Task,
    "task",
    [
        (Task::Denoise, "denoise"),
        (Task::Dejpeg, "dejpeg"),
        (Task::Sr, "sr")
    ]
);
named_enum!(
    Colour,
    "colour",
    [(Colour::Rgb, "rgb"), (Colour::Gray, "gray")]
);
named_enum!(
    Architecture,
    "architecture",
    [
        (Architecture::HyperRes, "hyperres"),
        (Architecture::NoiseNet, "noisenet"),
        (Architecture::BlockGrid, "blockgrid")
    ]
);
named_enum!(
    ModelKind,
    "kind",
    [
        (ModelKind::Restorer, "restorer"),
        (ModelKind::Estimator, "estimator")
    ]
);

/// The authors divide every task's level by 255 to get the network's input c.
pub const LEVEL_DIVISOR: f64 = 255.0;
