"""JPEGs decoded by libjpeg and as a GStreamer pipeline decodes them (with each IDCT).

Usage: jpeg_pipeline_frames.py SRC OUT [--qualities 10,30,...] [--gray]

Each image of SRC is JPEG-coded at each quality by libjpeg (Pillow: the standard tables, 4:2:0
chroma; with --gray, a gray JPEG of its gray conversion), kept as OUT/qQ/jpeg/NAME.jpg, and decoded
- by libjpeg to RGB (its smooth chroma upsampling), as the benchmark's JPEG degradation is:
  OUT/qQ/libjpeg/NAME;
- by `jpegdec ! videoconvert ! video/x-raw,format=RGB`, what a pipeline feeding an RGB model
  does: jpegdec outputs the file's 4:2:0 planes as I420 and videoconvert upsamples the chroma:
  OUT/qQ/gstreamer/NAME;
- by the same pipeline with `jpegdec idct-method=islow`: OUT/qQ/islow/NAME.
libjpeg's default IDCT is the accurate integer one (islow), jpegdec's the fast integer one (ifast).
With --gray all decode to gray (GRAY8 in the pipeline).
NAME is the image's own name, as `hyperres-train eval --data SRC --coded OUT/qQ/...` reads them
(SRC's lossless images: png, bmp, tif).
"""

import argparse
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

LOSSLESS = {".png", ".bmp", ".tif", ".tiff"}


def decode_in_pipeline(jpeg, png, element=(), env=None, format="RGB", idct="ifast"):
    """`jpeg` decoded as a pipeline feeding a `format` consumer does (`jpegdec idct-method=idct !
    [element !] videoconvert`), written to `png`."""
    chain = ["filesrc", f"location={jpeg}", "!", "jpegdec", f"idct-method={idct}", "!", *element,
             *(["!"] if element else []), "videoconvert", "!", f"video/x-raw,format={format}", "!", "pngenc", "!",
             "filesink", f"location={png}"]
    subprocess.run(["gst-launch-1.0", "-q", *chain], check=True, env=env)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--qualities", default="10,30,50,70,80,90,95")
    parser.add_argument("--gray", action="store_true", help="gray JPEG, decoded to GRAY8")
    args = parser.parse_args()
    mode, format = ("L", "GRAY8") if args.gray else ("RGB", "RGB")
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "decoded.png"
        for quality in map(int, args.qualities.split(",")):
            folders = {kind: args.out / f"q{quality}" / kind for kind in ("jpeg", "libjpeg", "gstreamer", "islow")}
            for folder in folders.values():
                folder.mkdir(parents=True, exist_ok=True)
            for image in sorted(p for p in args.src.iterdir() if p.suffix.lower() in LOSSLESS):
                jpeg = folders["jpeg"] / f"{image.name}.jpg"
                Image.open(image).convert(mode).save(jpeg, format="JPEG", quality=quality)
                Image.open(jpeg).convert(mode).save(folders["libjpeg"] / image.name)
                for idct, folder in (("ifast", "gstreamer"), ("islow", "islow")):
                    decode_in_pipeline(jpeg, png, format=format, idct=idct)
                    Image.open(png).convert(mode).save(folders[folder] / image.name)


if __name__ == "__main__":
    main()
