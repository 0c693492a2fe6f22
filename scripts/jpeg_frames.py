"""JPEG-codes frames for `hyperres-train estimator --coded`, beside codec frames of other kinds.

Usage: jpeg_frames.py CLEAN_DIR OUT [--every N] [--seed S]

Every Nth png of CLEAN_DIR (sorted; default every 2nd) is coded at a quality drawn from 5..95 by
libjpeg (Pillow, the standard tables), as OUT/coded/jpeg_NAME_qQ.png beside OUT/clean/ (the frame
before coding), labelled with that quality in OUT/coded/levels.json. Mixed with x264 frames under
`--regret`, they keep what an estimator learns about high-quality video from reading high-quality
JPEG as higher than it is.
"""

import argparse
import io
import json
import random
from pathlib import Path

from PIL import Image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clean", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    for folder in ("clean", "coded"):
        (args.out / folder).mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    labels = {}
    for frame in sorted(args.clean.glob("*.png"))[:: args.every]:
        quality = rng.randint(5, 95)
        name = f"jpeg_{frame.stem}_q{quality}.png"
        image = Image.open(frame)
        image.save(args.out / "clean" / name)
        coded = io.BytesIO()
        image.save(coded, format="JPEG", quality=quality)
        Image.open(coded).save(args.out / "coded" / name)
        labels[name] = float(quality)
    (args.out / "coded" / "levels.json").write_text(json.dumps(labels, indent=0) + "\n")
    print(f"{len(labels)} frames JPEG-coded in {args.out / 'coded'}")


if __name__ == "__main__":
    main()
