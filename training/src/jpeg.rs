//! The JPEG degradation: an encode/decode round trip through libjpeg-turbo with the settings
//! OpenCV's `imencode` and Pillow use (standard tables scaled by quality, 4:2:0 chroma for colour,
//! the accurate integer DCT), decoded as the paper's benchmark or as a GStreamer pipeline decodes.

use std::ffi::{CStr, c_int, c_ulong};

use anyhow::{Context, anyhow, bail, ensure};
use tch::{Kind, Tensor};
use turbojpeg::{PixelFormat, Subsamp, raw};

use crate::pixels::{from_packed, to_packed};

/// How a JPEG is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoder {
    /// libjpeg's defaults, as OpenCV and Pillow decode (the paper's benchmark): the accurate
    /// integer IDCT, colour's 4:2:0 chroma interpolated up.
    Libjpeg,
    /// As `jpegdec [! videoconvert]` hands JPEG to an element: jpegdec's default fast integer IDCT,
    /// and colour's chroma repeated over 2x2 pixels (jpegdec outputs I420, which videoconvert
    /// converts to RGB without interpolating). videoconvert's fixed-point matrix, whose chroma
    /// gains come out about 4% low, is not copied.
    Jpegdec,
}

/// `image` `[C, H, W]` (C = 1 or 3, values in [0, 1]) compressed at `quality` and decoded again
/// by libjpeg's defaults, as the benchmark's images are.
pub fn round_trip(image: &Tensor, quality: f64) -> anyhow::Result<Tensor> {
    round_trip_by(image, quality, Decoder::Libjpeg)
}

/// `crops` (`[N, C, H, W]`) compressed at `quality`, crop i decoded by `decoders[i]`.
pub fn round_trip_each(
    crops: &Tensor,
    quality: f64,
    decoders: &[Decoder],
) -> anyhow::Result<Tensor> {
    let crops = crops.unbind(0);
    ensure!(crops.len() == decoders.len(), "one decoder per crop");
    let coded = crops
        .iter()
        .zip(decoders)
        .map(|(crop, &decoder)| round_trip_by(crop, quality, decoder))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Tensor::stack(&coded, 0))
}

/// [`round_trip`], decoded by `decoder`.
pub fn round_trip_by(image: &Tensor, quality: f64, decoder: Decoder) -> anyhow::Result<Tensor> {
    let size = image.size();
    let [channels, height, width] = size[..] else {
        bail!("JPEG expects a [C, H, W] image, got {size:?}");
    };
    let (format, subsamp) = match channels {
        1 => (PixelFormat::GRAY, Subsamp::Gray),
        3 => (PixelFormat::RGB, Subsamp::Sub2x2),
        n => bail!("JPEG of {n}-channel images"),
    };
    let quality = quality.round().clamp(1.0, 100.0) as i32;
    let jpeg = compress_accurately(&to_packed(image), width, height, format, quality, subsamp)
        .context("JPEG encoding")?;
    let flags = match decoder {
        Decoder::Libjpeg => 0,
        Decoder::Jpegdec => (raw::TJFLAG_FASTDCT | raw::TJFLAG_FASTUPSAMPLE) as c_int,
    };
    let decoded = decompress(&jpeg, width, height, format, flags).context("JPEG decoding")?;
    let restored = from_packed(&decoded, channels, height, width);
    Ok(restored.to_kind(Kind::Float) / 255.0)
}

/// Packed `pixels` (rows without padding) JPEG-coded with the accurate DCT. The `turbojpeg`
/// crate cannot ask for it, and TurboJPEG uses the fast DCT below quality 96 unless asked, which
/// loses up to 0.7 dB more at quality 90-95 than the encoders whose files users restore.
fn compress_accurately(
    pixels: &[u8],
    width: i64,
    height: i64,
    format: PixelFormat,
    quality: i32,
    subsamp: Subsamp,
) -> anyhow::Result<Vec<u8>> {
    let (width, height) = (dimension(width)?, dimension(height)?);
    if pixels.len() != width as usize * height as usize * format.size() {
        bail!("{} bytes for a {width}x{height} image", pixels.len());
    }
    // SAFETY: the handle lives until tjDestroy; `pixels` holds the width x height pixels
    // TurboJPEG reads (checked above; pitch 0: rows follow each other); TurboJPEG allocates the
    // output, copied here before tjFree.
    unsafe {
        let handle = raw::tjInitCompress();
        if handle.is_null() {
            bail!("TurboJPEG could not start a compressor");
        }
        let (mut jpeg, mut size): (*mut u8, c_ulong) = (std::ptr::null_mut(), 0);
        let status = raw::tjCompress2(
            handle,
            pixels.as_ptr(),
            width,
            0,
            height,
            format as c_int,
            &mut jpeg,
            &mut size,
            subsamp as c_int,
            quality,
            raw::TJFLAG_ACCURATEDCT as c_int,
        );
        let result = if status == 0 && !jpeg.is_null() {
            Ok(std::slice::from_raw_parts(jpeg, size as usize).to_vec())
        } else {
            Err(last_error(handle))
        };
        raw::tjFree(jpeg);
        raw::tjDestroy(handle);
        result
    }
}

/// `jpeg`, of `width` x `height`, decoded to packed `format` pixels with TurboJPEG's `flags`
/// (the `turbojpeg` crate passes none).
fn decompress(
    jpeg: &[u8],
    width: i64,
    height: i64,
    format: PixelFormat,
    flags: c_int,
) -> anyhow::Result<Vec<u8>> {
    let mut pixels = vec![0u8; (width * height) as usize * format.size()];
    let (width, height) = (dimension(width)?, dimension(height)?);
    let size = c_ulong::try_from(jpeg.len())?;
    // SAFETY: the handle lives until tjDestroy; TurboJPEG reads `size` bytes of `jpeg` and writes
    // at most width x height pixels of `format` into `pixels` (pitch 0: rows follow each other),
    // which holds that many.
    unsafe {
        let handle = raw::tjInitDecompress();
        if handle.is_null() {
            bail!("TurboJPEG could not start a decompressor");
        }
        let status = raw::tjDecompress2(
            handle,
            jpeg.as_ptr(),
            size,
            pixels.as_mut_ptr(),
            width,
            0,
            height,
            format as c_int,
            flags,
        );
        let result = if status == 0 {
            Ok(pixels)
        } else {
            Err(last_error(handle))
        };
        raw::tjDestroy(handle);
        result
    }
}

fn dimension(n: i64) -> anyhow::Result<c_int> {
    c_int::try_from(n).context("image too large for JPEG")
}

/// TurboJPEG's message for the last failure of `handle`.
///
/// # Safety
/// `handle` is a live TurboJPEG handle.
unsafe fn last_error(handle: raw::tjhandle) -> anyhow::Error {
    // SAFETY: tjGetErrorStr2 returns a NUL-terminated string owned by the handle.
    anyhow!(
        "{}",
        unsafe { CStr::from_ptr(raw::tjGetErrorStr2(handle)) }.to_string_lossy()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{psnr, quantise};
    use gsthyperres::task::Colour;

    fn test_data(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data")
            .join(name)
    }

    fn crop(colour: Colour) -> Tensor {
        crate::data::decode(&test_data("cbsd68_119082_crop.png"), colour)
            .unwrap()
            .to_kind(Kind::Float)
            / 255.0
    }

    #[test]
    fn lower_quality_loses_more_in_gray_and_colour() {
        for colour in [Colour::Gray, Colour::Rgb] {
            let clean = crop(colour);
            let at = |q: f64| {
                psnr(
                    &quantise(&round_trip(&clean, q).unwrap()),
                    &quantise(&clean),
                )
            };
            let (q10, q50, q90) = (at(10.0), at(50.0), at(90.0));
            assert!(q10 < q50 && q50 < q90, "{colour}: {q10} {q50} {q90}");
            assert!((20.0..32.0).contains(&q10), "{colour}: q10 {q10}");
            assert!(q90 > 35.0, "{colour}: q90 {q90}");
        }
    }

    /// Pillow's file (made by `Image.save(quality=90)` from this crop, gray by `opencv_gray`),
    /// decoded by the same decoder as ours: the encoders must agree to the last bit. TurboJPEG's
    /// fast DCT, its default at quality 90, changes two thirds of the colour bytes.
    #[test]
    fn the_encoder_matches_pillows_libjpeg() {
        for (colour, name, format) in [
            (Colour::Rgb, "", PixelFormat::RGB),
            (Colour::Gray, "_gray", PixelFormat::GRAY),
        ] {
            let path = test_data(&format!("pillow/cbsd68_119082_crop{name}_q90_pillow.jpg"));
            let pillow = turbojpeg::decompress(&std::fs::read(path).unwrap(), format).unwrap();
            let ours = to_packed(&round_trip(&crop(colour), 90.0).unwrap());
            let differing = ours
                .iter()
                .zip(&pillow.pixels)
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(ours.len(), pillow.pixels.len(), "{colour}");
            assert_eq!(
                differing,
                0,
                "{colour}: {differing} of {} bytes differ",
                ours.len()
            );
        }
    }

    /// Pillow's colour file as a pipeline hands it to an RGB element (`gst-launch-1.0 filesrc
    /// location=... ! jpegdec ! videoconvert ! video/x-raw,format=RGB ! pngenc ! filesink`,
    /// GStreamer 1.22): `Jpegdec` comes within videoconvert's matrix of it (46.8 dB), `Libjpeg`
    /// does not (42.5 dB).
    #[test]
    fn jpegdec_decodes_as_a_gstreamer_pipeline_does() {
        let path = test_data("gstreamer/cbsd68_119082_crop_q90_pillow_jpegdec.png");
        let pipeline = crate::data::decode(&path, Colour::Rgb).unwrap();
        let clean = crop(Colour::Rgb);
        let near = |decoder| {
            let decoded = quantise(&round_trip_by(&clean, 90.0, decoder).unwrap());
            psnr(&decoded, &pipeline.to_kind(Kind::Float))
        };
        let (jpegdec, libjpeg) = (near(Decoder::Jpegdec), near(Decoder::Libjpeg));
        assert!(jpegdec > 46.0, "Jpegdec {jpegdec} dB from GStreamer's");
        assert!(
            libjpeg < jpegdec - 3.0,
            "Libjpeg {libjpeg} dB from GStreamer's"
        );
    }

    #[test]
    fn the_round_trip_is_deterministic_and_keeps_the_size() {
        let clean = crop(Colour::Rgb).narrow(1, 0, 37).narrow(2, 0, 53);
        let a = round_trip(&clean, 30.0).unwrap();
        assert_eq!(a.size(), [3, 37, 53]);
        assert!(a.equal(&round_trip(&clean, 30.0).unwrap()));
    }
}
