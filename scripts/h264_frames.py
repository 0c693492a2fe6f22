"""Real H.264 frames with their clean originals, for training and testing auto mode on video codecs.

Usage: h264_frames.py SRC OUT [--crf LOW,HIGH | --crf-list A,B,...] [--per-image N] [--seed S] [--colour]
                      [--noise SIGMA | --noise LOW,HIGH]

From each image of SRC it makes N short clips (8 frames of 256x192 panning across the image at a
random speed, BT.601 yuv420p as video is), codes each with x264 (FFmpeg's libx264, CRF drawn
uniformly from LOW..HIGH, or each CRF of the list in turn) and keeps one random frame: I, P or B,
as a decoder outputs it. Written as gray PNGs of the Y plane: OUT/coded/NAME.png, and the same
frame uncoded as OUT/clean/NAME.png, NAME = <image>_crf<C>_f<K>. With --colour, RGB PNGs for RGB
models instead: the decoded frame converted back to RGB by FFmpeg (BT.601, as it coded it), and the
RGB crop itself as the clean frame, so that the 4:2:0 chroma counts as an artifact as in colour JPEG
training. The same crops, CRFs and frames either way. With --noise, Gaussian noise of that sigma
(0..255 scale; LOW,HIGH: each clip's drawn uniformly from the range) is added to every sample of
the frames before they are coded, as a camera's would be, rounded to 8 bits, and the clean frame
stays the noiseless crop: noisy video as a broadcast or a phone delivers it, for the denoiser and
its estimator. Deterministic given the seed.
"""

import argparse
import random
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

W, H, FRAMES = 256, 192, 8


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


def y_planes(raw):
    """The Y planes of raw yuv420p frames of W x H, as [frames, H, W] uint8."""
    data = np.fromfile(raw, np.uint8).reshape(-1, W * H * 3 // 2)
    return data[:, : W * H].reshape(-1, H, W)


def rgb_frames(raw):
    """Raw rgb24 frames of W x H as [frames, H, W, 3] uint8."""
    return np.fromfile(raw, np.uint8).reshape(-1, H, W, 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--crf", default="20,51", help="LOW,HIGH: each clip's CRF drawn from this range")
    parser.add_argument("--crf-list", help="A,B,...: one clip per CRF per image instead")
    parser.add_argument("--per-image", type=int, default=1, help="clips per image (with --crf)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--colour", action="store_true", help="RGB frames, for RGB models")
    parser.add_argument("--noise", default="0", help="SIGMA or LOW,HIGH: noise added before coding")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    # Its own generator: the crops, CRFs and frames stay those drawn without --noise.
    noise_rng = np.random.default_rng(args.seed)
    low, high = map(int, args.crf.split(","))
    noise = [float(sigma) for sigma in args.noise.split(",")]
    if len(noise) not in (1, 2) or min(noise) < 0 or noise[0] > noise[-1]:
        parser.error(f"--noise {args.noise}: a sigma, or LOW,HIGH with 0 <= LOW <= HIGH")
    for sub in ("coded", "clean"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
    images = sorted(p for p in args.src.iterdir() if p.suffix.lower() in (".png", ".jpg", ".bmp"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for image in images:
            iw, ih = Image.open(image).size
            if iw < W or ih < H:
                print(f"skipping {image.name}: smaller than {W}x{H}")
                continue
            crfs = list(map(int, args.crf_list.split(","))) if args.crf_list else [
                rng.randint(low, high) for _ in range(args.per_image)]
            for crf in crfs:
                # A pan of up to 2 px per frame each way, from a random start that keeps it inside.
                vx, vy = rng.randint(-2, 2), rng.randint(-2, 2)
                x0 = rng.randint(max(0, -vx * FRAMES), iw - W - max(0, vx * FRAMES))
                y0 = rng.randint(max(0, -vy * FRAMES), ih - H - max(0, vy * FRAMES))
                clean, coded, decoded = tmp / "clean.raw", tmp / "coded.mp4", tmp / "decoded.raw"
                # Gray: the crop in yuv420p, coded and compared as it is. Colour: the RGB crop,
                # converted to yuv420p by the encoder's input as the gray path converts it.
                pix_fmt, frames = ("rgb24", rgb_frames) if args.colour else ("yuv420p", y_planes)
                ffmpeg("-loop", "1", "-i", image, "-vf",
                       f"crop={W}:{H}:{x0}+{vx}*n:{y0}+{vy}*n,format={pix_fmt}", "-frames:v", FRAMES,
                       "-f", "rawvideo", clean)
                source = clean
                sigma = noise_rng.uniform(*noise) if len(noise) == 2 else noise[0]
                if sigma:
                    source = tmp / "noisy.raw"
                    samples = np.fromfile(clean, np.uint8)
                    noisy = samples + noise_rng.normal(0.0, sigma, samples.shape)
                    np.clip(noisy, 0, 255).round().astype(np.uint8).tofile(source)
                ffmpeg("-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{W}x{H}", "-r", 25, "-i", source,
                       "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "medium", "-crf", crf, coded)
                ffmpeg("-i", coded, "-f", "rawvideo", "-pix_fmt", pix_fmt, decoded)
                k = rng.randrange(FRAMES)
                name = f"{image.stem}_crf{crf}_f{k}.png"
                Image.fromarray(frames(decoded)[k]).save(args.out / "coded" / name)
                Image.fromarray(frames(clean)[k]).save(args.out / "clean" / name)
    print(f"{len(list((args.out / 'coded').iterdir()))} coded frames in {args.out}")


if __name__ == "__main__":
    main()
