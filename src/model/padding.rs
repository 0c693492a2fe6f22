//! The network halves the resolution, so frames must have even sizes: odd ones are padded by one
//! row/column (reflect, or replicate where the side is a single pixel) and cropped back afterwards.

use tch::Tensor;

/// Pads the last two dimensions of `x` ([.., H, W]) at the bottom/right to even sizes.
pub fn pad_to_even(x: &Tensor) -> Tensor {
    let size = x.size();
    let (h, w) = (size[size.len() - 2], size[size.len() - 1]);
    let mut out = x.shallow_clone();
    for (dim_len, pad) in [(w, [0, 1, 0, 0]), (h, [0, 0, 0, 1])] {
        if dim_len % 2 == 1 {
            let mode = if dim_len > 1 { "reflect" } else { "replicate" };
            out = out.pad(pad, mode, None);
        }
    }
    out
}

/// Crops the last two dimensions of `x` back to `height` x `width` (top-left anchored).
pub fn crop_to(x: &Tensor, height: i64, width: i64) -> Tensor {
    let dims = x.dim();
    x.narrow(dims as i64 - 2, 0, height)
        .narrow(dims as i64 - 1, 0, width)
}
