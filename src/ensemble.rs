//! Self-ensemble: the restorer run on flipped and transposed copies of a frame, each result
//! turned back and all averaged. The network is not equivariant to these, so its errors partly
//! cancel: more quality for n times the compute (for offline work, not real time).

use tch::Tensor;

use crate::restorer::{Restorer, Tiling};

/// The most copies: the 8 symmetries of a rectangle's grid (4 flips, each transposed or not).
pub const MAX_COPIES: usize = 8;

/// One of the 8 symmetries: transposed first (or not), then flipped left-right and/or upside down.
#[derive(Clone, Copy)]
struct Symmetry {
    transpose: bool,
    flip_x: bool,
    flip_y: bool,
}

impl Symmetry {
    /// The k-th symmetry; the first is the identity, and any first n are as spread as can be
    /// (2: a mirror; 4: all flips).
    fn nth(k: usize) -> Symmetry {
        Symmetry {
            transpose: k >= 4,
            flip_x: k % 2 == 1,
            flip_y: k % 4 >= 2,
        }
    }

    /// The dimensions flipped.
    fn flips(self) -> &'static [i64] {
        match (self.flip_y, self.flip_x) {
            (false, false) => &[],
            (true, false) => &[2],
            (false, true) => &[3],
            (true, true) => &[2, 3],
        }
    }

    /// Applies the symmetry to `[N, C, H, W]` images.
    fn apply(self, x: &Tensor) -> Tensor {
        let x = if self.transpose {
            x.transpose(2, 3)
        } else {
            x.shallow_clone()
        };
        let flips = self.flips();
        if flips.is_empty() { x } else { x.flip(flips) }
    }

    /// Undoes [`Symmetry::apply`].
    fn undo(self, y: &Tensor) -> Tensor {
        let flips = self.flips();
        let y = if flips.is_empty() {
            y.shallow_clone()
        } else {
            y.flip(flips)
        };
        if self.transpose { y.transpose(2, 3) } else { y }
    }
}

/// [`Restorer::restore_tiled`] averaged over the first `copies` (1..=8) symmetries of `images`;
/// 1 is the plain restoration.
pub fn restore(restorer: &Restorer, images: &Tensor, tiling: Tiling, copies: usize) -> Tensor {
    let copies = copies.clamp(1, MAX_COPIES);
    let sum = (0..copies)
        .map(|k| {
            let symmetry = Symmetry::nth(k);
            symmetry.undo(&restorer.restore_tiled(&symmetry.apply(images), tiling))
        })
        .reduce(|total, restored| total + restored)
        .expect("at least one copy");
    if copies == 1 {
        sum
    } else {
        sum / copies as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eight_symmetries_are_distinct_and_undone() {
        let x = Tensor::arange(2 * 3 * 5, (tch::Kind::Float, tch::Device::Cpu)).view([1, 2, 3, 5]);
        let moved: Vec<Tensor> = (0..MAX_COPIES)
            .map(|k| Symmetry::nth(k).apply(&x))
            .collect();
        for (k, y) in moved.iter().enumerate() {
            assert!(Symmetry::nth(k).undo(y).equal(&x), "symmetry {k}");
            for (j, other) in moved.iter().enumerate().take(k) {
                assert!(!y.equal(other), "symmetries {j} and {k} coincide");
            }
        }
    }
}
