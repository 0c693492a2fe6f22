//! The raw video formats the element takes, and where a model's samples sit in them.

use gst_video::VideoFormat;

use crate::frame::{Depth, Plane, Samples};
use crate::task::Colour;

/// RGB models restore 8-bit RGB with or without alpha or padding, and the 16-bit RGBA formats (in
/// which 10- and 12-bit video reaches them through videoconvert without being rounded to 8 bits).
const RGB_FORMATS: [VideoFormat; 14] = [
    VideoFormat::Rgb,
    VideoFormat::Bgr,
    VideoFormat::Rgbx,
    VideoFormat::Bgrx,
    VideoFormat::Xrgb,
    VideoFormat::Xbgr,
    VideoFormat::Rgba,
    VideoFormat::Bgra,
    VideoFormat::Argb,
    VideoFormat::Abgr,
    VideoFormat::Rgba64Le,
    VideoFormat::Bgra64Le,
    VideoFormat::Argb64Le,
    VideoFormat::Abgr64Le,
];
/// Gray models restore GRAY8/16, or the luma of YUV video (chroma and alpha pass through):
/// planar and semi-planar 4:2:0, 4:2:2, 4:4:4 and 4:1:1, packed 4:2:2 (the usual capture formats,
/// v210 the 10-bit one of SDI cards, Y210 that of hardware HEVC decoders) and 4:4:4 with alpha;
/// 8, 10, 12 and 16 bits.
const LUMA_FORMATS: [VideoFormat; 27] = [
    VideoFormat::Gray8,
    VideoFormat::I420,
    VideoFormat::Yv12,
    VideoFormat::Nv12,
    VideoFormat::Nv21,
    VideoFormat::Y42b,
    VideoFormat::Nv16,
    VideoFormat::Nv24,
    VideoFormat::Y444,
    VideoFormat::Y41b,
    VideoFormat::Yuy2,
    VideoFormat::Uyvy,
    VideoFormat::Yvyu,
    VideoFormat::Ayuv,
    VideoFormat::Gray16Le,
    VideoFormat::I42010le,
    VideoFormat::P01010le,
    VideoFormat::I42210le,
    VideoFormat::Y44410le,
    VideoFormat::V210,
    VideoFormat::Y210,
    VideoFormat::I42012le,
    VideoFormat::I42212le,
    VideoFormat::Y44412le,
    VideoFormat::P012Le,
    VideoFormat::Y212Le,
    VideoFormat::P016Le,
];

fn formats_caps<'a>(formats: impl IntoIterator<Item = &'a VideoFormat>) -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format_list(formats.into_iter().copied())
        .build()
}

fn formats_of(colour: Colour) -> &'static [VideoFormat] {
    match colour {
        Colour::Rgb => &RGB_FORMATS,
        Colour::Gray => &LUMA_FORMATS,
    }
}

/// The formats a model of `colour` restores; with no model loaded yet, all of them.
pub(super) fn caps_for(colour: Option<Colour>) -> gst::Caps {
    match colour {
        Some(colour) => formats_caps(formats_of(colour)),
        None => formats_caps(RGB_FORMATS.iter().chain(&LUMA_FORMATS)),
    }
}

/// The names of the formats a model of `colour` restores, for messages.
pub(super) fn names_for(colour: Colour) -> String {
    let names: Vec<&str> = formats_of(colour)
        .iter()
        .map(|f| f.to_str().as_str())
        .collect();
    names.join(", ")
}

/// The formats `caps` names, for messages, each with its memory where that is not system memory
/// (which the element also needs); its whole description where it names none (another media
/// type, say).
pub(super) fn offered(caps: &gst::Caps) -> String {
    let names: Vec<String> = caps
        .iter_with_features()
        .filter_map(|(s, features)| Some((s.value("format").ok()?, features)))
        .flat_map(|(format, features)| {
            let names: Vec<String> = match format.get::<gst::List>() {
                Ok(list) => list.iter().filter_map(|f| f.get().ok()).collect(),
                Err(_) => format.get().into_iter().collect(),
            };
            let system = features.contains(gst::CAPS_FEATURE_MEMORY_SYSTEM_MEMORY);
            names.into_iter().map(move |name| {
                if system {
                    name
                } else {
                    format!("{name} in {features}")
                }
            })
        })
        .collect();
    if names.is_empty() {
        caps.to_string()
    } else {
        names.join(", ")
    }
}

/// The two fields of an interlaced `plane`, each as a plane of every other row with the byte
/// offset of its first row; a 1-row frame has only the top one.
pub(super) fn fields(plane: Plane) -> Vec<(usize, Plane)> {
    let field = |first: usize| {
        let height = (plane.height + 1 - first) / 2;
        (height > 0).then_some((
            first * plane.stride,
            Plane {
                height,
                stride: 2 * plane.stride,
                ..plane
            },
        ))
    };
    [0, 1].into_iter().filter_map(field).collect()
}

/// How the samples a model reads (R, G, B, or Y) sit in plane 0 of `format`, from GStreamer's
/// description of the format; None where they are elsewhere or stored otherwise.
pub(super) fn samples_of(format: VideoFormat) -> Option<Samples> {
    // Three samples to a 32-bit word: no byte offset addresses them.
    if format == VideoFormat::V210 {
        return Some(Samples::v210());
    }
    // GStreamer 1.22 describes Y210's samples as unshifted, but they sit in each 16-bit word's
    // high bits, as in Y212_LE (its pack and unpack functions read them so).
    if format == VideoFormat::Y210 {
        return Some(Samples::luma(0, 4, Depth::Sixteen { bits: 10, shift: 6 }));
    }
    let info = gst_video::VideoFormatInfo::from_format(format);
    let components: &[usize] = if info.is_rgb() { &[0, 1, 2] } else { &[0] };
    let first = components[0];
    let same_layout = components.iter().all(|&c| {
        info.plane()[c] == 0
            && info.depth()[c] == info.depth()[first]
            && info.pixel_stride()[c] == info.pixel_stride()[first]
    });
    let pixel_bytes = usize::try_from(info.pixel_stride()[first]).ok()?;
    let depth = match (info.depth()[first], info.shift()[first]) {
        (8, 0) => Depth::Eight,
        (bits @ 9..=16, shift) if info.is_le() && pixel_bytes % 2 == 0 => {
            Depth::Sixteen { bits, shift }
        }
        _ => return None,
    };
    if !same_layout || pixel_bytes == 0 {
        return None;
    }
    let offset = |c: usize| info.poffset()[c] as usize;
    match (components, depth) {
        ([r, g, b], depth) => Some(Samples::rgb(
            [offset(*r), offset(*g), offset(*b)],
            pixel_bytes,
            depth,
        )),
        ([y], depth) => Some(Samples::luma(offset(*y), pixel_bytes, depth)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offered_formats_are_named_with_their_memory() {
        gst::init().unwrap();
        let caps: gst::Caps = "video/x-raw, format=(string){ I420, NV12 }; \
                               video/x-raw(memory:GLMemory), format=(string)RGBA; \
                               video/x-raw, format=(string)YUY2"
            .parse()
            .unwrap();
        assert_eq!(offered(&caps), "I420, NV12, RGBA in memory:GLMemory, YUY2");
        let caps: gst::Caps = "image/jpeg, width=(int)64".parse().unwrap();
        assert_eq!(offered(&caps), "image/jpeg, width=(int)64");
    }

    #[test]
    fn every_listed_format_has_its_samples_in_plane_0() {
        gst::init().unwrap();
        for format in RGB_FORMATS {
            assert_eq!(
                samples_of(format).map(Samples::channels),
                Some(3),
                "{format:?}"
            );
        }
        for format in LUMA_FORMATS {
            assert_eq!(
                samples_of(format).map(Samples::channels),
                Some(1),
                "{format:?}"
            );
        }
        let eight = Depth::Eight;
        let ten = |shift| Depth::Sixteen { bits: 10, shift };
        let sixteen = Depth::Sixteen { bits: 16, shift: 0 };
        let cases = [
            (VideoFormat::Bgra, Samples::rgb([2, 1, 0], 4, eight)),
            (VideoFormat::Xrgb, Samples::rgb([1, 2, 3], 4, eight)),
            (VideoFormat::Rgb, Samples::rgb([0, 1, 2], 3, eight)),
            (VideoFormat::Rgba64Le, Samples::rgb([0, 2, 4], 8, sixteen)),
            (VideoFormat::Argb64Le, Samples::rgb([2, 4, 6], 8, sixteen)),
            (VideoFormat::I420, Samples::luma(0, 1, eight)),
            (VideoFormat::Yuy2, Samples::luma(0, 2, eight)),
            (VideoFormat::Uyvy, Samples::luma(1, 2, eight)),
            (VideoFormat::Ayuv, Samples::luma(1, 4, eight)),
            (VideoFormat::I42010le, Samples::luma(0, 2, ten(0))),
            (VideoFormat::P01010le, Samples::luma(0, 2, ten(6))),
            (VideoFormat::V210, Samples::v210()),
            (VideoFormat::Y210, Samples::luma(0, 4, ten(6))),
            (
                VideoFormat::Y212Le,
                Samples::luma(0, 4, Depth::Sixteen { bits: 12, shift: 4 }),
            ),
            (VideoFormat::Gray16Le, Samples::luma(0, 2, sixteen)),
        ];
        for (format, samples) in cases {
            assert_eq!(samples_of(format), Some(samples), "{format:?}");
        }
        // Big-endian words, and 10-bit samples packed three to 32 bits but for v210, are not read.
        for format in [VideoFormat::Gray16Be, VideoFormat::Nv1210le32] {
            assert_eq!(samples_of(format), None, "{format:?}");
        }
    }
}
