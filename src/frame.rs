//! Video frame memory <-> network tensors, without GStreamer types: a plane of 8-bit pixels
//! described by its size, stride and where the colour samples sit in each pixel.
//!
//! Only the restored samples are written back, so in-place processing leaves alpha, padding bytes
//! and (for a luma plane) the chroma planes exactly as they were.

use tch::{Device, Kind, Tensor};

/// Where the samples a model reads sit in a packed pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Samples {
    /// Three colour samples: byte offsets of R, G and B, and bytes per pixel.
    Rgb {
        offsets: [usize; 3],
        pixel_bytes: usize,
    },
    /// One 8-bit sample per pixel: GRAY8, or the Y plane of a YUV frame.
    Luma,
}

impl Samples {
    pub fn channels(self) -> i64 {
        match self {
            Samples::Rgb { .. } => 3,
            Samples::Luma => 1,
        }
    }

    fn pixel_bytes(self) -> usize {
        match self {
            Samples::Rgb { pixel_bytes, .. } => pixel_bytes,
            Samples::Luma => 1,
        }
    }

    fn offsets(self) -> Vec<usize> {
        match self {
            Samples::Rgb { offsets, .. } => offsets.to_vec(),
            Samples::Luma => vec![0],
        }
    }
}

/// A plane's geometry: `width` x `height` pixels, rows `stride` bytes apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plane {
    pub width: usize,
    pub height: usize,
    pub stride: usize,
    pub samples: Samples,
}

impl Plane {
    /// Checks the geometry against a plane of `len` bytes; returns the bytes the plane spans
    /// (the last row need not be padded to the stride).
    fn check(&self, len: usize) -> usize {
        let row = self.width * self.samples.pixel_bytes();
        assert!(
            self.stride >= row,
            "stride {} below a row of {row} bytes",
            self.stride
        );
        let needed = if self.height == 0 {
            0
        } else {
            (self.height - 1) * self.stride + row
        };
        assert!(len >= needed, "plane of {len} bytes, {needed} needed");
        needed
    }

    /// The plane's samples as f32 `[1, C, H, W]` in [0, 1], on `device`.
    pub fn read(&self, data: &[u8], device: Device) -> Tensor {
        let needed = self.check(data.len());
        let (h, w, bpp) = (
            self.height as i64,
            self.width as i64,
            self.samples.pixel_bytes() as i64,
        );
        let rows = Tensor::from_slice(&data[..needed]).as_strided(
            [h, w, bpp],
            [self.stride as i64, bpp, 1],
            0,
        );
        let channels: Vec<Tensor> = self
            .samples
            .offsets()
            .iter()
            .map(|&o| rows.select(2, o as i64))
            .collect();
        // On the CPU the stack and the conversion are the only full-frame copies (the scaling is
        // in place). To a GPU the 8-bit samples travel (a quarter of the floats), staged once in
        // page-locked memory (torch's caching host allocator, so no allocation per frame) for a
        // copy queued on the stream, and are converted there. Stacked last, the samples keep
        // the channels-last layout the restorer computes in.
        let samples = Tensor::stack(&channels, 2);
        let samples = if device.is_cuda() {
            samples
                .pin_memory(device)
                .to_device_(device, Kind::Uint8, true, false)
        } else {
            samples
        };
        let mut image = samples.to_kind(Kind::Float);
        let _ = image.g_div_scalar_(255.0);
        image.unsqueeze(0).permute([0, 3, 1, 2])
    }

    /// Writes `image` (`[1, C, H, W]` in [0, 1], any device) rounded to 8 bits into the plane's
    /// samples, touching no other byte.
    pub fn write(&self, image: &Tensor, data: &mut [u8]) {
        self.check(data.len());
        // One float buffer for the scaled frame, rounded and clamped in place (clamping after
        // scaling is the same as before, and keeps out-of-range input from wrapping in u8).
        let mut scaled = image.squeeze_dim(0) * 255.0;
        let _ = scaled.round_().clamp_(0.0, 255.0);
        let bytes = scaled
            .to_kind(Kind::Uint8)
            .permute([1, 2, 0])
            .contiguous()
            .to_device(Device::Cpu);
        let values = Vec::<u8>::try_from(bytes.view([-1])).expect("u8 tensor");
        let (offsets, bpp) = (self.samples.offsets(), self.samples.pixel_bytes());
        let channels = offsets.len();
        for (y, row) in values.chunks_exact(self.width * channels).enumerate() {
            let line = &mut data[y * self.stride..];
            for (x, pixel) in row.chunks_exact(channels).enumerate() {
                for (&offset, &value) in offsets.iter().zip(pixel) {
                    line[x * bpp + offset] = value;
                }
            }
        }
    }
}

/// PSNR in dB between two 8-bit sample sequences of equal length (infinite when equal).
pub fn psnr_8bit(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "PSNR of sequences of different lengths");
    let squared: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)).pow(2))
        .sum();
    let mse = squared as f64 / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

/// An RGB image `[3, H, W]` in [0, 1] as packed 8-bit RGB (rows unpadded).
pub fn packed_rgb(image: &Tensor) -> Vec<u8> {
    let [_, h, w] = image.size()[..] else {
        panic!("packed_rgb expects [3, H, W]")
    };
    let (width, height) = (w as usize, h as usize);
    let plane = Plane {
        width,
        height,
        stride: 3 * width,
        samples: Samples::Rgb {
            offsets: [0, 1, 2],
            pixel_bytes: 3,
        },
    };
    let mut bytes = vec![0; 3 * width * height];
    plane.write(&image.unsqueeze(0), &mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgb_samples_round_trip_and_leave_other_bytes_alone() {
        // 2x2 BGRA with a padded stride of 10 bytes.
        let plane = Plane {
            width: 2,
            height: 2,
            stride: 10,
            samples: Samples::Rgb {
                offsets: [2, 1, 0],
                pixel_bytes: 4,
            },
        };
        let mut data: Vec<u8> = (0..20).map(|i| i as u8 * 10).collect();
        let image = plane.read(&data, Device::Cpu);
        assert_eq!(image.size(), [1, 3, 2, 2]);
        // R of pixel (0, 0) is byte 2.
        assert!((image.double_value(&[0, 0, 0, 0]) - 20.0 / 255.0).abs() < 1e-6);
        let original = data.clone();
        plane.write(&(1.0 - &image), &mut data);
        for (i, (&new, &old)) in data.iter().zip(&original).enumerate() {
            let in_row = i % 10;
            let is_sample = in_row < 8 && in_row % 4 != 3;
            if is_sample {
                assert_eq!(new, 255 - old, "byte {i}");
            } else {
                assert_eq!(new, old, "alpha or padding byte {i} changed");
            }
        }
    }

    #[test]
    fn psnr_of_known_errors() {
        assert!((psnr_8bit(&[0, 0, 0, 0], &[1, 1, 1, 1]) - 48.130_803_608).abs() < 1e-6);
        assert!(psnr_8bit(&[9, 9], &[9, 9]).is_infinite());
        let image = Tensor::from_slice(&[0.0f32, 1.0, 0.5, 0.25, 1.0, 0.0]).view([3, 1, 2]);
        assert_eq!(packed_rgb(&image), [0, 128, 255, 255, 64, 0]);
    }

    #[test]
    fn luma_plane_round_trips_exactly() {
        let plane = Plane {
            width: 3,
            height: 2,
            stride: 4,
            samples: Samples::Luma,
        };
        let mut data = vec![7u8, 8, 9, 99, 10, 11, 12];
        let image = plane.read(&data, Device::Cpu);
        assert_eq!(image.size(), [1, 1, 2, 3]);
        plane.write(&image, &mut data);
        assert_eq!(data, [7, 8, 9, 99, 10, 11, 12]);
    }
}
