"""What `hyperres task=sr` adds after GStreamer's videoscale, the way a pipeline upscales video: each
Set5 picture is downscaled with PIL's bicubic (antialiased, as real low-resolution video is), each
videoscale method upscales it back to its size, and the super-resolver restores that at the level
given (by default the scale); Y PSNR (BT.601, the paper's) of the upscaled and the restored
pictures per scale. Scales may be fractions (1.5: 720p to 1080p); each picture is cropped so that
its low-resolution size is whole.

    .venv/bin/python scripts/sr_upscalers.py ../shared/data/test/Set5   (after cargo build --release)
      [--model sr-rgb-16b.safetensors] [--scales 1.25,1.5,2] [--methods catrom] [--levels 1.5,2]
"""

import argparse
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
METHODS = ["catrom", "lanczos", "4-tap", "mitchell", "bilinear"]


def luma(image):
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    return 16 + rgb @ np.array([65.481, 128.553, 24.966]) / 255


def psnr(a, b):
    return 10 * np.log10(255**2 / np.mean((a - b) ** 2))


def upscale_and_restore(low, method, size, model, level, up, restored):
    """One gst-launch run: `low` upscaled by videoscale to `size`, written as is and restored."""
    width, height = size
    chain = (
        f"filesrc location={low} ! pngdec ! videoconvert ! video/x-raw,format=RGB ! "
        f"videoscale method={method} ! video/x-raw,width={width},height={height} ! tee name=t "
        f"t. ! queue ! videoconvert ! pngenc ! filesink location={up} "
        # fp32, as the README's figures were measured (precision=auto is bf16 on some CPUs).
        f"t. ! queue ! hyperres model-location={model} level={level} precision=fp32 ! videoconvert ! "
        f"pngenc ! filesink location={restored}"
    )
    env = {"GST_PLUGIN_PATH": str(ROOT / "target/release"), "PATH": "/usr/bin:/bin"}
    subprocess.run(["gst-launch-1.0", "-q", *chain.split()], check=True, env=env, capture_output=True)


def downscale(pictures, scale, folder):
    """Each picture cropped to sides that are whole multiples of the scale's numerator (so that they
    downscale to whole sides) and downscaled into `folder`: [(low-resolution file, Y of the crop)]."""
    n = scale.numerator
    lows = []
    for i, picture in enumerate(pictures):
        high = Image.open(picture).convert("RGB")
        size = (high.width // n * n, high.height // n * n)
        high = high.crop((0, 0, *size))
        low = folder / f"low{i}.png"
        high.resize(tuple(int(side / scale) for side in size), Image.BICUBIC).save(low)
        lows.append((low, luma(high)))
    return lows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", default="sr-rgb.safetensors", help="checkpoint (a bare name: a bundled one)")
    parser.add_argument("--scales", default="2,3,4", help="upscaling factors, e.g. 1.5,2")
    parser.add_argument("--methods", default=",".join(METHODS), help="videoscale methods")
    parser.add_argument("--levels", help="levels to restore at (default: each scale's own)")
    args = parser.parse_args()
    pictures = sorted(args.folder.glob("*.png"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for scale in (Fraction(s).limit_denominator(8) for s in args.scales.split(",")):
            print(f"x{float(scale):g}")
            levels = args.levels.split(",") if args.levels else [f"{float(scale):g}"]
            lows = downscale(pictures, scale, tmp)
            for method in args.methods.split(","):
                for level in levels:
                    scores = []
                    for low, reference in lows:
                        upscale_and_restore(low, method, reference.shape[::-1], args.model, level, tmp / "up.png",
                                            tmp / "sr.png")
                        scores.append(tuple(psnr(luma(Image.open(tmp / f)), reference) for f in ("up.png", "sr.png")))
                    up, restored = np.mean(scores, axis=0)
                    print(f"  {method:9s} upscaled {up:.2f} dB, restored at {level} {restored:.2f} dB "
                          f"({restored - up:+.2f})", flush=True)


if __name__ == "__main__":
    main()
