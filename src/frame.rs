//! Video frame memory <-> network tensors, without GStreamer types: a plane of pixels described
//! by its size, stride, where the samples read sit in each pixel and how they are stored (8 bits,
//! 10 to 16 in 16-bit words, or 10 packed three to a 32-bit word as in v210).
//!
//! Only the restored samples are written back, so in-place processing leaves alpha, padding bytes
//! and (for luma) the chroma samples exactly as they were.

use tch::{Device, Kind, Tensor};

/// Where the samples a model reads sit in a plane's pixels, and how they are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Samples {
    /// Byte offsets inside a pixel of the channels read: R, G and B, or Y alone (the first
    /// `channels`).
    offsets: [usize; 3],
    channels: usize,
    /// Bytes from one pixel to the next in a row.
    pixel_bytes: usize,
    depth: Depth,
}

/// How one sample is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// One byte.
    Eight,
    /// A little-endian 16-bit word holding `bits` significant bits, `shift` bits up (10-bit video
    /// in the low bits, or P010's high bits; GRAY16: all 16).
    Sixteen { bits: u32, shift: u32 },
    /// v210, the 10-bit 4:2:2 of SDI capture cards: six pixels in four little-endian 32-bit
    /// words, three 10-bit samples to a word (the offsets and pixel bytes of `Samples` unused).
    V210,
}

impl Depth {
    /// The largest sample value (what 1.0 maps to).
    fn max(self) -> f64 {
        match self {
            Depth::Eight => 255.0,
            Depth::Sixteen { bits, .. } => f64::from((1u32 << bits) - 1),
            Depth::V210 => 1023.0,
        }
    }
}

/// Where a v210 group of six pixels (four little-endian 32-bit words holding Cb0 Y0 Cr0, Y1 Cb1
/// Y2, Cr1 Y3 Cb2, Y4 Cr2 Y5, from bit 0 up) keeps each pixel's luma: (word, shift).
const V210_LUMA: [(i64, i64); 6] = [(0, 10), (1, 0), (1, 20), (2, 10), (3, 0), (3, 20)];

impl Samples {
    /// Three colour samples at byte `offsets` (R, G, B) in pixels of `pixel_bytes` (8-bit ones,
    /// or 16-bit words as in RGBA64_LE).
    pub fn rgb(offsets: [usize; 3], pixel_bytes: usize, depth: Depth) -> Samples {
        Samples {
            offsets,
            channels: 3,
            pixel_bytes,
            depth,
        }
    }

    /// The luma of v210.
    pub fn v210() -> Samples {
        Samples::luma(0, 0, Depth::V210)
    }

    /// One luma sample at byte `offset` in pixels of `pixel_bytes` (1 for GRAY8 or a planar Y, 2
    /// for packed 4:2:2 such as YUY2 or UYVY, or for 16-bit words).
    pub fn luma(offset: usize, pixel_bytes: usize, depth: Depth) -> Samples {
        Samples {
            offsets: [offset, 0, 0],
            channels: 1,
            pixel_bytes,
            depth,
        }
    }

    pub fn channels(self) -> i64 {
        self.channels as i64
    }

    fn offsets(&self) -> &[usize] {
        &self.offsets[..self.channels]
    }

    /// Bytes of one byte-addressed sample: 1, or 2 for a 16-bit word.
    fn sample_bytes(&self) -> usize {
        match self.depth {
            Depth::Eight => 1,
            _ => 2,
        }
    }

    /// Whether a pixel's samples sit side by side in channel order (RGB, xRGB, RGBA64, any
    /// luma), so that one strided view of the plane covers them.
    fn side_by_side(&self) -> bool {
        let step = self.sample_bytes();
        self.offsets()
            .windows(2)
            .all(|pair| pair[1] == pair[0] + step)
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
    /// The bytes of one row's pixels (v210: its groups of six).
    fn row_bytes(&self) -> usize {
        match self.samples.depth {
            Depth::V210 => self.width.div_ceil(6) * 16,
            _ => self.width * self.samples.pixel_bytes,
        }
    }

    /// Checks the geometry against a plane of `len` bytes; returns the bytes the plane spans
    /// (the last row need not be padded to the stride).
    fn check(&self, len: usize) -> usize {
        let row = self.row_bytes();
        if self.samples.depth == Depth::V210 {
            assert!(
                self.stride.is_multiple_of(4),
                "v210 stride {} not in words",
                self.stride
            );
        }
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

    /// The plane's bytes on `device` when that is a GPU, for [`Plane::read`] to pick the samples
    /// out of and [`Plane::write`] to put the restored ones into, so that a frame crosses the bus
    /// once each way; `None` on the CPU, where both work on the frame's memory in place.
    pub fn upload(&self, data: &[u8], device: Device) -> Option<Tensor> {
        let needed = self.check(data.len());
        // SAFETY: the view does not outlive this function: `to_device` copies out of it.
        device
            .is_cuda()
            .then(|| to_device(&unsafe { bytes_view(data.as_ptr(), needed) }, device))
    }

    /// The plane's samples as f32 `[1, C, H, W]` in [0, 1], picked out of `uploaded` (its
    /// [`Plane::upload`], on that GPU) or else of `data` on the CPU.
    pub fn read(&self, data: &[u8], uploaded: Option<&Tensor>) -> Tensor {
        let needed = self.check(data.len());
        // SAFETY: `in_place` does not outlive this function and is only read: the samples are
        // copied out of it.
        let in_place = unsafe { bytes_view(data.as_ptr(), needed) };
        let plane = uploaded.unwrap_or(&in_place);
        let samples = match self.samples.depth {
            Depth::V210 => self
                .v210_lumas(&self.v210_words(plane))
                .narrow(1, 0, self.width as i64)
                .unsqueeze(2),
            depth => self.pixel_samples(plane, depth),
        };
        // A shifted sample is read with its (zero) low bits, as a fraction of the shifted maximum.
        let full_scale = match self.samples.depth {
            depth @ (Depth::Eight | Depth::V210) => depth.max(),
            depth @ Depth::Sixteen { shift, .. } => depth.max() * f64::from(1u32 << shift),
        };
        let mut image = samples.to_kind(Kind::Float);
        let _ = image.g_div_scalar_(full_scale);
        image.unsqueeze(0).permute([0, 3, 1, 2])
    }

    /// `plane` (the plane's bytes, on any device) as `[H, W, bytes of a pixel]`, a view.
    fn pixels(&self, plane: &Tensor) -> Tensor {
        let bpp = self.samples.pixel_bytes as i64;
        plane.as_strided(
            [self.height as i64, self.width as i64, bpp],
            [self.stride as i64, bpp, 1],
            0,
        )
    }

    /// The samples of byte-addressed pixels in `plane` (the plane's bytes, on any device) as
    /// `[H, W, C]` integers (8-bit ones side by side: a view of the plane). Channels last, they keep
    /// the channels-last layout the restorer computes in.
    fn pixel_samples(&self, plane: &Tensor, depth: Depth) -> Tensor {
        let rows = self.pixels(plane);
        let (h, w) = (self.height as i64, self.width as i64);
        let offsets = self.samples.offsets();
        if self.samples.side_by_side() {
            // One strided view; 16-bit words seen as int16 and widened without the sign.
            let span = self.samples.sample_bytes() * offsets.len();
            let samples = rows.narrow(2, offsets[0] as i64, span as i64);
            return match depth {
                Depth::Eight => samples,
                _ => {
                    let mut words = samples
                        .contiguous()
                        .view([-1])
                        .view_dtype(Kind::Int16)
                        .view([h, w, offsets.len() as i64])
                        .to_kind(Kind::Int);
                    let _ = words.bitwise_and_(0xffff);
                    words
                }
            };
        }
        let byte = |offset: usize| rows.select(2, offset as i64);
        let channels: Vec<Tensor> = offsets
            .iter()
            .map(|&o| match depth {
                Depth::Eight => byte(o),
                _ => byte(o).to_kind(Kind::Int) + byte(o + 1).to_kind(Kind::Int) * 256,
            })
            .collect();
        Tensor::stack(&channels, 2)
    }

    /// v210's 32-bit words in `plane` (its bytes, on any device) as `[H, groups of six pixels,
    /// 4]`, sharing the plane's memory.
    fn v210_words(&self, plane: &Tensor) -> Tensor {
        let groups = self.width.div_ceil(6) as i64;
        plane.view_dtype(Kind::Int).as_strided(
            [self.height as i64, groups, 4],
            [(self.stride / 4) as i64, 4, 1],
            0,
        )
    }

    /// The lumas of every group's six pixels in v210 `words` (those past the width included), as
    /// a new `[H, groups * 6]` tensor.
    fn v210_lumas(&self, words: &Tensor) -> Tensor {
        let lumas: Vec<Tensor> = V210_LUMA
            .iter()
            .map(|&(word, shift)| {
                words
                    .select(2, word)
                    .bitwise_right_shift_tensor_scalar(shift)
                    .bitwise_and_(0x3ff)
            })
            .collect();
        Tensor::stack(&lumas, 2).view([self.height as i64, -1])
    }

    /// Writes `image` (`[1, C, H, W]` in [0, 1], any device) rounded to the samples' depth into
    /// the plane's samples, touching no other byte (nor bit, in v210's words). When the image is
    /// on the GPU of `uploaded` (the plane's [`Plane::upload`]), the samples are put there and
    /// only this plane's rows come back whole (an interlaced field's plane spans the other
    /// field's rows, which that field writes); otherwise they are put into `data` on the CPU.
    pub fn write(&self, image: &Tensor, uploaded: Option<&Tensor>, data: &mut [u8]) {
        let needed = self.check(data.len());
        let depth = self.samples.depth;
        // One float buffer for the scaled frame, rounded and clamped in place (clamping after
        // scaling is the same as before, and keeps out-of-range input from wrapping).
        let mut scaled = image.squeeze_dim(0) * depth.max();
        let _ = scaled.round_().clamp_(0.0, depth.max());
        // SAFETY: `frame` does not outlive this function; the copies into it stay inside the
        // `needed` bytes `check` measured.
        let frame = unsafe { bytes_view(data.as_mut_ptr(), needed) };
        match uploaded.filter(|plane| plane.device() == scaled.device()) {
            Some(plane) => {
                self.put(plane, &scaled);
                self.rows(&frame).copy_(&self.rows(plane));
            }
            None => self.put(&frame, &scaled.to_device(Device::Cpu)),
        }
    }

    /// Puts `scaled` (`[C, H, W]`, rounded to the samples' range) into `plane` (the plane's
    /// bytes, on the same device).
    fn put(&self, plane: &Tensor, scaled: &Tensor) {
        match self.samples.depth {
            Depth::V210 => self.put_v210_lumas(plane, scaled),
            depth => self.put_pixel_samples(plane, scaled, depth),
        }
    }

    /// `plane`'s rows (`[H, bytes of a row]`), a view without the padding between them.
    fn rows(&self, plane: &Tensor) -> Tensor {
        let row = self.row_bytes() as i64;
        plane.as_strided([self.height as i64, row], [self.stride as i64, 1], 0)
    }

    /// Puts `scaled` (`[C, H, W]`, rounded to the samples' range) into the byte-addressed pixels
    /// of `plane` (the plane's bytes, on the same device).
    fn put_pixel_samples(&self, plane: &Tensor, scaled: &Tensor, depth: Depth) {
        // [H, W, C, bytes of a sample]: a view of the restorer's channels-last output, then its
        // samples' bytes.
        let samples = scaled.permute([1, 2, 0]);
        let bytes = match depth {
            Depth::Sixteen { shift, .. } => {
                let mut words = samples.to_kind(Kind::Int);
                let _ = words.g_mul_scalar_(i64::from(1u32 << shift));
                // A 16-bit word's bit pattern (casts to narrower integers wrap) seen as its bytes,
                // little-endian like the frame's on every host torch runs on.
                let [h, w, c] = words.size()[..] else {
                    unreachable!("[H, W, C] samples")
                };
                words
                    .to_kind(Kind::Int16)
                    .contiguous()
                    .view([-1]) // a size-1 dimension may keep any stride
                    .view_dtype(Kind::Uint8)
                    .view([h, w, c, 2])
            }
            _ => samples.to_kind(Kind::Uint8).unsqueeze(3),
        };
        let pixels = self.pixels(plane);
        let (h, w) = (self.height as i64, self.width as i64);
        let sample_bytes = self.samples.sample_bytes();
        let offsets = self.samples.offsets();
        if self.samples.side_by_side() {
            let span = (offsets.len() * sample_bytes) as i64;
            pixels
                .narrow(2, offsets[0] as i64, span)
                .copy_(&bytes.reshape([h, w, span]));
        } else {
            for (channel, &offset) in offsets.iter().enumerate() {
                pixels
                    .narrow(2, offset as i64, sample_bytes as i64)
                    .copy_(&bytes.select(2, channel as i64));
            }
        }
    }

    /// Puts v210 lumas `scaled` (`[1, H, W]`, rounded to 10 bits) into their bits of `plane`'s
    /// words (the plane's bytes, on the same device).
    fn put_v210_lumas(&self, plane: &Tensor, scaled: &Tensor) {
        let words = self.v210_words(plane);
        let groups = words.size()[1];
        let lumas = scaled.squeeze_dim(0).to_kind(Kind::Int);
        let past_width = groups * 6 - self.width as i64;
        let lumas = if past_width == 0 {
            lumas
        } else {
            // The last group's pixels past the width keep their lumas.
            let last = self.v210_lumas(&words.narrow(1, groups - 1, 1));
            Tensor::cat(&[lumas, last.narrow(1, 6 - past_width, past_width)], 1)
        }
        .reshape([self.height as i64, groups, 6]);
        // In place, in the frame's words and in `lumas` (a tensor of its own).
        for (pixel, &(word, shift)) in V210_LUMA.iter().enumerate() {
            let luma = lumas
                .select(2, pixel as i64)
                .bitwise_left_shift_tensor_scalar_(shift);
            let _ = words
                .select(2, word)
                .bitwise_and_(!(0x3ff << shift))
                .bitwise_or_tensor_(&luma);
        }
    }
}

/// The `len` bytes at `data` as a 1-D uint8 CPU tensor viewing them in place.
///
/// # Safety
/// The bytes must stay valid, and be written through nothing else, while the tensor lives; it
/// may be written through only if they may be.
unsafe fn bytes_view(data: *const u8, len: usize) -> Tensor {
    // SAFETY: as the caller promises.
    unsafe { Tensor::from_blob(data, &[len as i64], &[1], Kind::Uint8, Device::Cpu) }
}

/// `tensor` (on the CPU) on `device`. To a GPU it is staged in page-locked memory (torch's caching
/// host allocator, so no allocation per frame or step) for a copy queued on the stream: unlike a
/// copy from pageable memory, the CPU does not wait for the GPU's queued work first. Frames travel
/// as integers (8-bit ones: a quarter of the floats) and are converted there.
pub fn to_device(tensor: &Tensor, device: Device) -> Tensor {
    if device.is_cuda() {
        // `_pin_memory`, what `pin_memory` calls: tch passes `pin_memory` a device, an argument
        // torch 2.11 warns is deprecated (and `pin_memory`'s is-it-pinned check warns again).
        tensor
            .internal_pin_memory(device)
            .to_device_(device, tensor.kind(), true, false)
    } else {
        tensor.shallow_clone()
    }
}

/// Full-range BT.601 luma (JPEG's, and the gray conversion the models train on) of RGB images
/// `[..., 3, H, W]`, as `[..., 1, H, W]`.
pub fn luma(rgb: &Tensor) -> Tensor {
    let channel = |c: i64| rgb.select(-3, c);
    (channel(0) * 0.299 + channel(1) * 0.587 + channel(2) * 0.114).unsqueeze(-3)
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
        samples: Samples::rgb([0, 1, 2], 3, Depth::Eight),
    };
    let mut bytes = vec![0; 3 * width * height];
    plane.write(&image.unsqueeze(0), None, &mut bytes);
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
            samples: Samples::rgb([2, 1, 0], 4, Depth::Eight),
        };
        let mut data: Vec<u8> = (0..20).map(|i| i as u8 * 10).collect();
        let image = plane.read(&data, None);
        assert_eq!(image.size(), [1, 3, 2, 2]);
        // R of pixel (0, 0) is byte 2.
        assert!((image.double_value(&[0, 0, 0, 0]) - 20.0 / 255.0).abs() < 1e-6);
        let original = data.clone();
        plane.write(&(1.0 - &image), None, &mut data);
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
    fn every_layout_reads_its_samples_and_writes_them_alone() {
        use crate::model::Layout;
        let sixteen = Depth::Sixteen { bits: 16, shift: 0 };
        let layouts = [
            Samples::rgb([0, 1, 2], 3, Depth::Eight), // RGB
            Samples::rgb([2, 1, 0], 4, Depth::Eight), // BGRx
            Samples::rgb([1, 2, 3], 4, Depth::Eight), // xRGB
            Samples::rgb([0, 2, 4], 8, sixteen),      // RGBA64_LE
            Samples::rgb([4, 0, 2], 6, Depth::Eight), // samples apart, out of order
            Samples::luma(1, 2, Depth::Eight),        // UYVY
            Samples::luma(0, 4, Depth::Sixteen { bits: 12, shift: 4 }),
        ];
        for (samples, layout) in layouts
            .into_iter()
            .flat_map(|s| [(s, Layout::ChannelsLast), (s, Layout::Nchw)])
        {
            let (width, height) = (7, 3);
            let plane = Plane {
                width,
                height,
                stride: width * samples.pixel_bytes + 3,
                samples,
            };
            let frame = Vec::<u8>::try_from(Tensor::randint(
                256,
                [(plane.stride * height) as i64],
                (Kind::Uint8, Device::Cpu),
            ))
            .unwrap();
            let (max, sample_bytes) = (samples.depth.max(), samples.sample_bytes());
            // Read: each sample decoded by hand from the bytes, a fraction of the full scale.
            let full_scale = match samples.depth {
                Depth::Sixteen { shift, .. } => max * f64::from(1u32 << shift),
                _ => max,
            };
            let read = plane.read(&frame, None);
            let uploaded = Tensor::from_slice(&frame);
            assert!(
                read.equal(&plane.read(&frame, Some(&uploaded))),
                "{samples:?} copy read"
            );
            for (c, &offset) in samples.offsets().iter().enumerate() {
                for (y, x) in (0..height).flat_map(|y| (0..width).map(move |x| (y, x))) {
                    let at = y * plane.stride + x * samples.pixel_bytes + offset;
                    let sample = match sample_bytes {
                        1 => f64::from(frame[at]),
                        _ => f64::from(u16::from_le_bytes([frame[at], frame[at + 1]])),
                    };
                    let got = read.double_value(&[0, c as i64, y as i64, x as i64]);
                    assert!((got - sample / full_scale).abs() < 1e-6, "{samples:?} read");
                }
            }

            let size = [1, samples.channels(), height as i64, width as i64];
            let image = layout.arrange(&Tensor::rand(size, (Kind::Float, Device::Cpu)));
            let mut data = frame.clone();
            plane.write(&image, None, &mut data);
            // Put into an uploaded copy of the plane (here on the CPU too) and copied back: the same.
            let mut through_copy = frame.clone();
            plane.write(&image, Some(&uploaded), &mut through_copy);
            assert_eq!(through_copy, data, "{samples:?} {layout:?}: through a copy");
            let expected = (&image * max).round() / max;
            let error = (plane.read(&data, None) - expected).abs().max();
            assert!(error.double_value(&[]) < 1e-6, "{samples:?} {layout:?}");
            let mut is_sample = vec![false; data.len()];
            for (y, x, &offset) in (0..height)
                .flat_map(|y| (0..width).map(move |x| (y, x)))
                .flat_map(|(y, x)| samples.offsets().iter().map(move |o| (y, x, o)))
            {
                let at = y * plane.stride + x * samples.pixel_bytes + offset;
                is_sample[at..at + sample_bytes].fill(true);
            }
            for (at, ((&new, &old), sample)) in data.iter().zip(&frame).zip(is_sample).enumerate() {
                assert!(sample || new == old, "{samples:?}: byte {at} changed");
            }
        }
    }

    #[test]
    fn interlaced_fields_written_through_copies_made_before_either_write_keep_each_other() {
        // Two fields of 4x3 RGB pixels in alternate rows of 14 bytes (2 of padding).
        let row = 14;
        let field = Plane {
            width: 4,
            height: 3,
            stride: 2 * row,
            samples: Samples::rgb([0, 1, 2], 3, Depth::Eight),
        };
        let frame = Vec::<u8>::try_from(Tensor::randint(
            256,
            [6 * row as i64],
            (Kind::Uint8, Device::Cpu),
        ))
        .unwrap();
        let images = [0, 1].map(|_| Tensor::rand([1, 3, 3, 4], (Kind::Float, Device::Cpu)));
        let uploads = [0, row].map(|offset| {
            let needed = field.check(frame.len() - offset);
            Tensor::from_slice(&frame[offset..offset + needed])
        });
        let (mut in_place, mut through_copies) = (frame.clone(), frame.clone());
        for ((offset, image), uploaded) in [0, row].into_iter().zip(&images).zip(&uploads) {
            field.write(image, None, &mut in_place[offset..]);
            field.write(image, Some(uploaded), &mut through_copies[offset..]);
        }
        assert_ne!(in_place, frame);
        assert_eq!(through_copies, in_place);
    }

    #[test]
    fn v210_lumas_round_trip_and_keep_every_other_bit() {
        // 7 pixels: a whole group of six and one of a second; stride with a padding word.
        let (width, height, stride) = (7, 2, 36);
        let plane = Plane {
            width,
            height,
            stride,
            samples: Samples::v210(),
        };
        let frame = Vec::<u8>::try_from(Tensor::randint(
            256,
            [(stride * height) as i64],
            (Kind::Uint8, Device::Cpu),
        ))
        .unwrap();
        let image = Tensor::rand([1, 1, 2, 7], (Kind::Float, Device::Cpu));
        let mut data = frame.clone();
        plane.write(&image, None, &mut data);
        let expected = (&image * 1023.0).round() / 1023.0;
        let error = (plane.read(&data, None) - expected).abs().max();
        assert!(error.double_value(&[]) < 1e-6);
        // The luma bits of the 7 pixels of each row, by hand from the layout (byte, shift).
        let at = [
            (0, 10),
            (4, 0),
            (4, 20),
            (8, 10),
            (12, 0),
            (12, 20),
            (16, 10),
        ];
        let word = |bytes: &[u8], y: usize, byte: usize| {
            let i = y * stride + byte;
            u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap())
        };
        for y in 0..height {
            for (x, &(byte, shift)) in at.iter().enumerate() {
                let luma = (word(&data, y, byte) >> shift) & 0x3ff;
                let want = (image.double_value(&[0, 0, y as i64, x as i64]) * 1023.0).round();
                assert_eq!(f64::from(luma), want, "pixel {x} of row {y}");
            }
            for byte in (0..stride).step_by(4) {
                let mask: u32 = at
                    .iter()
                    .filter(|&&(b, _)| b == byte)
                    .map(|&(_, shift)| 0x3ff << shift)
                    .sum();
                let (new, old) = (word(&data, y, byte), word(&frame, y, byte));
                assert_eq!(
                    new & !mask,
                    old & !mask,
                    "other bits of word {byte} in row {y}"
                );
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
    fn sixteen_bit_samples_in_low_or_high_bits() {
        // Two 10-bit samples, 0 and 1023, then padding, in the low bits (I420_10LE) or shifted
        // to the high bits (P010).
        for (shift, words) in [(0, [0u16, 1023, 0xbeef]), (6, [0, 1023 << 6, 0xbeef])] {
            let plane = Plane {
                width: 2,
                height: 1,
                stride: 6,
                samples: Samples::luma(0, 2, Depth::Sixteen { bits: 10, shift }),
            };
            let mut data: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            let image = plane.read(&data, None);
            assert_eq!(Vec::<f32>::try_from(image.view([-1])).unwrap(), [0.0, 1.0]);
            // 0.5 rounds to 512 (0x200), 1/1023 to 1.
            let written = Tensor::from_slice(&[0.5f32, 1.0 / 1023.0]).view([1, 1, 1, 2]);
            plane.write(&written, None, &mut data);
            let words: Vec<u16> = data
                .chunks(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect();
            assert_eq!(words, [512 << shift, 1 << shift, 0xbeef], "shift {shift}");
        }
    }

    #[test]
    fn packed_luma_leaves_chroma_alone() {
        // UYVY: U Y0 V Y1, one 4-byte group for two pixels.
        let plane = Plane {
            width: 2,
            height: 1,
            stride: 4,
            samples: Samples::luma(1, 2, Depth::Eight),
        };
        let mut data = vec![10u8, 20, 30, 40];
        let image = plane.read(&data, None);
        assert_eq!(image.size(), [1, 1, 1, 2]);
        assert!((image.double_value(&[0, 0, 0, 1]) - 40.0 / 255.0).abs() < 1e-6);
        plane.write(&(1.0 - &image), None, &mut data);
        assert_eq!(data, [10, 235, 30, 215]);
    }

    #[test]
    fn luma_plane_round_trips_exactly() {
        let plane = Plane {
            width: 3,
            height: 2,
            stride: 4,
            samples: Samples::luma(0, 1, Depth::Eight),
        };
        let mut data = vec![7u8, 8, 9, 99, 10, 11, 12];
        let image = plane.read(&data, None);
        assert_eq!(image.size(), [1, 1, 2, 3]);
        plane.write(&image, None, &mut data);
        assert_eq!(data, [7, 8, 9, 99, 10, 11, 12]);
    }
}
