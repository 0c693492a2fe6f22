"""Colour JPEGs decoded two ways: by libjpeg to RGB, and as a GStreamer pipeline decodes them.

Usage: jpeg_pipeline_frames.py SRC OUT [--qualities 10,30,...]

Each image of SRC is JPEG-coded at each quality by libjpeg (Pillow: the standard tables, 4:2:0
chroma), kept as OUT/qQ/jpeg/NAME.jpg, and decoded
- by libjpeg to RGB (its smooth chroma upsampling), as the benchmark's JPEG degradation is:
  OUT/qQ/libjpeg/NAME;
- by `jpegdec ! videoconvert ! video/x-raw,format=RGB`, what a pipeline feeding an RGB model
  does: jpegdec outputs the file's 4:2:0 planes as I420 and videoconvert upsamples the chroma:
  OUT/qQ/gstreamer/NAME.
NAME is the image's own name, as `hyperres-train eval --data SRC --coded OUT/qQ/...` reads them
(SRC's lossless images: png, bmp, tif).
"""

import argparse
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

LOSSLESS = {".png", ".bmp", ".tif", ".tiff"}


def decode_in_pipeline(jpeg, png, element=(), env=None):
    """`jpeg` decoded as a pipeline feeding an RGB consumer does (`jpegdec ! [element !] videoconvert`),
    written to `png`."""
    chain = ["filesrc", f"location={jpeg}", "!", "jpegdec", "!", *element, *(["!"] if element else []),
             "videoconvert", "!", "video/x-raw,format=RGB", "!", "pngenc", "!", "filesink", f"location={png}"]
    subprocess.run(["gst-launch-1.0", "-q", *chain], check=True, env=env)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--qualities", default="10,30,50,70,80,90,95")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "decoded.png"
        for quality in map(int, args.qualities.split(",")):
            folders = {kind: args.out / f"q{quality}" / kind for kind in ("jpeg", "libjpeg", "gstreamer")}
            for folder in folders.values():
                folder.mkdir(parents=True, exist_ok=True)
            for image in sorted(p for p in args.src.iterdir() if p.suffix.lower() in LOSSLESS):
                jpeg = folders["jpeg"] / f"{image.name}.jpg"
                Image.open(image).convert("RGB").save(jpeg, format="JPEG", quality=quality)
                Image.open(jpeg).convert("RGB").save(folders["libjpeg"] / image.name)
                decode_in_pipeline(jpeg, png)
                Image.open(png).convert("RGB").save(folders["gstreamer"] / image.name)


if __name__ == "__main__":
    main()
