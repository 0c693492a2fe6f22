//! Writing checkpoints: atomically, refusing values the reader would refuse, and byte for byte
//! the same for the same contents. (Kept apart from reading: the results report's cache keys on
//! the code that produces numbers from a file, and writing is not part of it.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{SafeTensorError, tensor::TensorView};
use tch::{Device, Tensor, nn};

use super::{CheckpointError, Metadata, Problem, StorageDtype, Tensors};

/// Writes `tensors` with `meta`, atomically (see [`write_raw`]).
pub fn save(
    path: &Path,
    meta: &Metadata,
    tensors: &[(String, Tensor)],
) -> Result<(), CheckpointError> {
    write_raw(path, meta.to_header(), meta.dtype, tensors)
}

/// Writes any named tensors with a free-form header, stored as `dtype`, atomically (a temporary
/// file in the same folder, then a rename), so a crash mid-write never leaves a truncated file.
pub fn write_raw(
    path: &Path,
    header: HashMap<String, String>,
    dtype: StorageDtype,
    tensors: &[(String, Tensor)],
) -> Result<(), CheckpointError> {
    let bytes = serialize(header, dtype, tensors).map_err(|p| p.at(path))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Problem::Io(e).at(path)
        })
}

/// Writes every variable of `vs` (sorted by name) with `meta`.
pub fn save_var_store(
    path: &Path,
    meta: &Metadata,
    vs: &nn::VarStore,
) -> Result<(), CheckpointError> {
    let mut tensors: Tensors = vs.variables().into_iter().collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    save(path, meta, &tensors)
}

fn serialize(
    header: HashMap<String, String>,
    dtype: StorageDtype,
    tensors: &[(String, Tensor)],
) -> Result<Vec<u8>, Problem> {
    let stored: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let t = t.f_detach()?.f_to_device(Device::Cpu)?;
            let stored = t.f_to_kind(dtype.tch())?.f_contiguous()?;
            // A file the reader would refuse must not replace a good one (e.g. a training
            // checkpoint after the weights turned NaN, or an f16 copy of values beyond 65504).
            if !bool::try_from(stored.f_isfinite()?.f_all()?)? {
                return Err(Problem::Unstorable {
                    name: name.clone(),
                    dtype: dtype.as_str(),
                    largest: t.f_abs()?.f_max()?.f_double_value(&[])?,
                });
            }
            let mut bytes = vec![0u8; stored.numel() * dtype.tch().elt_size_in_bytes()];
            stored.f_copy_data_u8(&mut bytes, stored.numel())?;
            let shape = stored.size().iter().map(|&d| d as usize).collect();
            Ok((name.clone(), shape, bytes))
        })
        .collect::<Result<_, Problem>>()?;
    let views = stored
        .iter()
        .map(|(name, shape, bytes)| {
            Ok((
                name.as_str(),
                TensorView::new(dtype.safetensors(), shape.clone(), bytes)?,
            ))
        })
        .collect::<Result<Vec<_>, SafeTensorError>>()?;
    sorted_header(&safetensors::serialize(views, Some(header))?)
}

/// safetensors writes the metadata in `HashMap` order, which changes from run to run; with the
/// header rewritten in sorted key order, a checkpoint's bytes depend on its contents only. Tensor
/// offsets count from the end of the header, so its length may change.
fn sorted_header(bytes: &[u8]) -> Result<Vec<u8>, Problem> {
    let invalid = |e: serde_json::Error| Problem::Invalid(format!("header: {e}"));
    let (len, rest) = bytes.split_at(8);
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
    let (header, data) = rest.split_at(len);
    let mut header: serde_json::Value = serde_json::from_slice(header).map_err(invalid)?;
    header.sort_all_objects();
    let mut json = serde_json::to_vec(&header).map_err(invalid)?;
    json.resize(json.len().next_multiple_of(8), b' ');
    Ok([&(json.len() as u64).to_le_bytes()[..], &json, data].concat())
}
