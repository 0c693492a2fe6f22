"""Which of GStreamer's videoscale methods to put before `hyperres task=sr`: each method upscales
the Set5 pictures, downscaled with PIL's bicubic, to their size, and the bundled super-resolver
restores them; Y PSNR (BT.601, the paper's) of the upscaled and the restored pictures per scale.

    .venv/bin/python scripts/sr_upscalers.py ../shared/data/test/Set5   (after cargo build --release)
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
METHODS = ["catrom", "lanczos", "4-tap", "mitchell", "bilinear"]
SCALES = [2, 3, 4]


def luma(image):
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    return 16 + rgb @ np.array([65.481, 128.553, 24.966]) / 255


def psnr(a, b):
    return 10 * np.log10(255**2 / np.mean((a - b) ** 2))


def upscale_and_restore(low, method, size, scale, up, restored):
    """One gst-launch run: `low` upscaled by videoscale to `size`, written as is and restored."""
    width, height = size
    chain = (
        f"filesrc location={low} ! pngdec ! videoconvert ! video/x-raw,format=RGB ! "
        f"videoscale method={method} ! video/x-raw,width={width},height={height} ! tee name=t "
        f"t. ! queue ! videoconvert ! pngenc ! filesink location={up} "
        # fp32, as the README's figures were measured (precision=auto is bf16 on some CPUs).
        f"t. ! queue ! hyperres task=sr level={scale} precision=fp32 ! videoconvert ! pngenc ! "
        f"filesink location={restored}"
    )
    env = {"GST_PLUGIN_PATH": str(ROOT / "target/release"), "PATH": "/usr/bin:/bin"}
    subprocess.run(["gst-launch-1.0", "-q", *chain.split()], check=True, env=env, capture_output=True)


def main(folder):
    pictures = sorted(Path(folder).glob("*.png"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for scale in SCALES:
            print(f"x{scale}")
            for method in METHODS:
                scores = []
                for picture in pictures:
                    high = Image.open(picture).convert("RGB")
                    size = (high.width // scale * scale, high.height // scale * scale)
                    high = high.crop((0, 0, *size))
                    high.resize((size[0] // scale, size[1] // scale), Image.BICUBIC).save(tmp / "low.png")
                    upscale_and_restore(tmp / "low.png", method, size, scale, tmp / "up.png", tmp / "sr.png")
                    reference = luma(high)
                    scores.append(tuple(psnr(luma(Image.open(tmp / f)), reference) for f in ("up.png", "sr.png")))
                up, restored = np.mean(scores, axis=0)
                print(f"  {method:9s} upscaled {up:.2f} dB, restored {restored:.2f} dB ({restored - up:+.2f})")


if __name__ == "__main__":
    main(sys.argv[1])
