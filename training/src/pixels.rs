//! Packed 8-bit pixels (what image files, libjpeg-turbo and FFmpeg exchange) to and from the
//! planar `[C, H, W]` tensors the models work on.

use tch::{Device, Kind, Tensor};

use crate::metrics::quantise;

/// Packed `height x width x channels` bytes as a `[C, H, W]` u8 tensor.
pub fn from_packed(bytes: &[u8], channels: i64, height: i64, width: i64) -> Tensor {
    Tensor::from_slice(bytes)
        .view([height, width, channels])
        .permute([2, 0, 1])
        .contiguous()
}

/// `image` `[C, H, W]` in [0, 1], rounded to 8 bits and packed.
pub fn to_packed(image: &Tensor) -> Vec<u8> {
    let bytes = quantise(image)
        .to_kind(Kind::Uint8)
        .permute([1, 2, 0])
        .contiguous()
        .to_device(Device::Cpu);
    Vec::<u8>::try_from(bytes.view([-1])).expect("a contiguous u8 CPU tensor converts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_round_trip_keeps_channel_order() {
        // Two pixels, RGB: red then cyan.
        let bytes = [255u8, 0, 0, 0, 255, 255];
        let planar = from_packed(&bytes, 3, 1, 2);
        assert_eq!(planar.size(), [3, 1, 2]);
        assert_eq!(
            Vec::<u8>::try_from(planar.view([-1])).unwrap(),
            [255, 0, 0, 255, 0, 255]
        );
        let float = planar.to_kind(Kind::Float) / 255.0;
        assert_eq!(to_packed(&float), bytes);
    }

    #[test]
    fn to_packed_rounds_and_clamps() {
        let image = Tensor::from_slice(&[-0.5f32, 0.6 / 255.0, 1.49 / 255.0, 2.0]).view([1, 2, 2]);
        assert_eq!(to_packed(&image), [0, 1, 1, 255]);
    }
}
