//! Where the element finds its checkpoints: the bundled models, and what `model-location` and
//! `estimator-location` name.

use std::path::{Path, PathBuf};

use super::Task;
use crate::task;

/// A bundled checkpoint, in the first of: `$GST_HYPERRES_MODEL_DIR`; the directory `meson install`
/// puts the models in (compiled in by a meson build, used once it exists); the source tree's
/// models/ (a cargo build, or a meson build not yet installed).
fn bundled(name: &str) -> PathBuf {
    let installed = option_env!("GST_HYPERRES_INSTALLED_MODELS")
        .map(PathBuf::from)
        .filter(|dir| dir.is_dir());
    let dir = std::env::var_os("GST_HYPERRES_MODEL_DIR")
        .map(PathBuf::from)
        .or(installed)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models")));
    dir.join(name)
}

/// A `model-location` or `estimator-location` as given; a bare file name that is not in the
/// working directory names a bundled checkpoint (`model-location=denoise-rgb-fast.safetensors`
/// works wherever the plugin and its models are installed).
pub(super) fn checkpoint_location(location: &str) -> PathBuf {
    let path = PathBuf::from(location);
    let bare = path.parent().is_some_and(|dir| dir.as_os_str().is_empty());
    if bare && !path.exists() {
        bundled(location)
    } else {
        path
    }
}

/// What to do when `path`, the checkpoint that `location` (the value of `property`) stands for,
/// is a bundled one and missing.
pub(super) fn missing_bundled_hint(path: &Path, property: &str, location: &str) -> String {
    if path.exists() || path == Path::new(location) {
        String::new()
    } else {
        format!(
            " (looked for among the bundled models: set {property} to a path, or \
             GST_HYPERRES_MODEL_DIR to the folder holding the bundled models)"
        )
    }
}

/// The bundled model for `task`.
pub(super) fn bundled_model(task: Task) -> PathBuf {
    bundled(match task {
        Task::Denoise => "denoise-rgb.safetensors",
        Task::Dejpeg => "dejpeg-gray.safetensors",
        Task::Sr => "sr-rgb.safetensors",
    })
}

/// The bundled level estimator for `task`, where there is one.
pub(super) fn bundled_estimator(task: task::Task) -> Option<PathBuf> {
    match task {
        task::Task::Denoise => Some(bundled("estimator-noise.safetensors")),
        task::Task::Dejpeg => Some(bundled("estimator-jpeg.safetensors")),
        task::Task::Sr => None,
    }
}
