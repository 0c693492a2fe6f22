//! The JPEG degradation: an encode/decode round trip through libjpeg-turbo with the settings
//! OpenCV's `imencode` uses (standard tables scaled by quality, 4:2:0 chroma for colour, islow DCT).

use anyhow::{Context, bail};
use tch::{Kind, Tensor};
use turbojpeg::{Image, PixelFormat, Subsamp};

use crate::pixels::{from_packed, to_packed};

/// `image` `[C, H, W]` (C = 1 or 3, values in [0, 1]) compressed at `quality` and decoded again.
pub fn round_trip(image: &Tensor, quality: f64) -> anyhow::Result<Tensor> {
    let size = image.size();
    let [channels, height, width] = size[..] else {
        bail!("JPEG expects a [C, H, W] image, got {size:?}");
    };
    let (format, subsamp) = match channels {
        1 => (PixelFormat::GRAY, Subsamp::Gray),
        3 => (PixelFormat::RGB, Subsamp::Sub2x2),
        n => bail!("JPEG of {n}-channel images"),
    };
    let pixels = to_packed(image);
    let (width, height) = (width as usize, height as usize);
    let source = Image {
        pixels: pixels.as_slice(),
        width,
        pitch: width * channels as usize,
        height,
        format,
    };
    let quality = quality.round().clamp(1.0, 100.0) as i32;
    let jpeg = turbojpeg::compress(source, quality, subsamp).context("JPEG encoding")?;
    let decoded = turbojpeg::decompress(&jpeg, format).context("JPEG decoding")?;
    let restored = from_packed(&decoded.pixels, channels, height as i64, width as i64);
    Ok(restored.to_kind(Kind::Float) / 255.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{psnr, quantise};
    use gsthyperres::task::Colour;

    fn crop(colour: Colour) -> Tensor {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/cbsd68_119082_crop.png");
        crate::data::decode(&path, colour)
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

    #[test]
    fn the_round_trip_is_deterministic_and_keeps_the_size() {
        let clean = crop(Colour::Rgb).narrow(1, 0, 37).narrow(2, 0, 53);
        let a = round_trip(&clean, 30.0).unwrap();
        assert_eq!(a.size(), [3, 37, 53]);
        assert!(a.equal(&round_trip(&clean, 30.0).unwrap()));
    }
}
