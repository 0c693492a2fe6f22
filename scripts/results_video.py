"""The report's real-video section (used by results.py): the element in a GStreamer pipeline on a
clip that H.264 compressed hard, scored on the Y plane against the same clip compressed lightly, beside
FFmpeg's post-processing filters on the same decoded frames. Nothing here is synthetic: the
artifacts are a real encoder's at a real bitrate, and the JPEG-trained models meet them untrained (the
estimator of auto mode learnt H.264 from other, x264-coded, pictures).
"""

import functools
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

# The carphone clip (120 frames, 176x144) at ~9.5 kbps (severe blocking) and at ~1.2 Mbps.
CLIP = "carphone_{}_176x144_h264.mp4"
# JPEG-quality units: the H.264 clip is far below any JPEG quality the models were trained at.
LEVELS = [3, 5, 10, 20, 40, 80]
# Quantisers tried for FFmpeg's filters (spp is best near 24, pp7 near 16 on this clip).
FILTER_QP = (6, 10, 16, 20, 24, 30)


def run(command, **kwargs):
    return subprocess.run([str(c) for c in command], check=True, capture_output=True, text=True, **kwargs)


def decode(video, out, element=(), env=None):
    """Decodes `video` to raw I420 frames in `out` with GStreamer, through `element` if given;
    returns gst-launch's output (-m: with the element's messages)."""
    chain = ["filesrc", f"location={video}", "!", "decodebin", "!", "videoconvert", "!", "video/x-raw,format=I420"]
    if element:
        chain += ["!", *element]
    return run(["gst-launch-1.0", "-m", *chain, "!", "filesink", f"location={out}"], env=env).stdout


def raw(size):
    """FFmpeg's arguments for raw I420 frames of `size` (WxH)."""
    return ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", size]


def scores(frames, reference, size):
    """The clip's mean Y PSNR and SSIM (FFmpeg's psnr and ssim filters)."""
    log = run(["ffmpeg", "-hide_banner", *raw(size), "-i", frames, *raw(size), "-i", reference, "-lavfi",
               "[0:v]split[a][b];[1:v]split[c][d];[a][c]psnr;[b][d]ssim", "-f", "null", "-"]).stderr
    return {"psnr": float(re.search(r"PSNR y:([\d.]+)", log)[1]), "ssim": float(re.search(r"SSIM Y:([\d.]+)", log)[1])}


def section(cached, cell, table, ffmpeg_filters, data, root, models, element_code):
    """The Markdown section, or None without the clip. `cached`, `cell`, `table`, `ffmpeg_filters`
    (name: quantisers -> candidate (label, graph)s) and `element_code` are results.py's."""
    compressed, reference = (data / "video" / CLIP.format(kind) for kind in ("distorted", "pristine"))
    if not compressed.exists():
        return None
    size = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                "-of", "csv=s=x:p=0", compressed]).stdout.strip()
    gst = run(["gst-launch-1.0", "--version"]).stdout.splitlines()[1]
    clip = ["video", compressed, reference, gst]
    env = {**os.environ, "GST_PLUGIN_PATH": str(root / "target" / "release")}
    slug = CLIP.split("_")[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)

        @functools.cache
        def decoded(video):
            """`video` decoded to raw I420 (once, and only where a result is not cached)."""
            decode(video, tmp / f"{video.stem}.yuv")
            return tmp / f"{video.stem}.yuv"

        def write_scores(out, yuv, **extra):
            out.write_text(json.dumps({**scores(yuv, decoded(reference), size), **extra}))

        def write_input_scores(out):
            width, height = map(int, size.split("x"))
            frames = decoded(compressed).stat().st_size // (width * height * 3 // 2)
            write_scores(out, decoded(compressed), frames=frames)

        def ours(name, model, level):
            # fp32, the arithmetic of every other table (precision=auto is bf16 on some CPUs).
            precision = "precision=fp32"
            settings = [f"model-location={model}", precision, "mode=auto" if level == "auto" else f"level={level}"]
            # Auto mode's estimator: the bundled one for the task.
            estimator = [models / "estimator-jpeg.safetensors"] if level == "auto" else []

            def compute(out):
                messages = decode(compressed, tmp / "ours.yuv", ["hyperres", *settings], env)
                # The auto mode's last smoothed estimate, from its hyperres-level messages.
                estimates = re.findall(r"hyperres-level, level=\(double\)([\d.e+-]+)", messages)
                write_scores(out, tmp / "ours.yuv", **({"estimate": float(estimates[-1])} if estimates else {}))
            return cached(f"video/{slug}-{name}-{level}", [*clip, model, *estimator, *element_code, precision, level], compute)

        def ffmpeg(name, label, graph):
            def compute(out):
                run(["ffmpeg", "-y", *raw(size), "-i", decoded(compressed), "-vf", graph, *raw(size),
                     tmp / "filtered.yuv"])
                write_scores(out, tmp / "filtered.yuv")
            return cached(f"video/{slug}-ffmpeg-{name}-{label.replace('=', '')}", [*clip, "--ffmpeg", graph], compute)

        model, fast = models / "dejpeg-gray.safetensors", models / "dejpeg-gray-fast.safetensors"
        compressed_score = cached(f"video/{slug}-input", [*clip, "--ffmpeg"], write_input_scores)
        mine = {level: ours("dejpeg-gray", model, level) for level in [*LEVELS, "auto"]}
        mine_fast = {level: ours("dejpeg-gray-fast", fast, level) for level in LEVELS}
        filters = {name: max(((label, ffmpeg(name, label, graph)) for label, graph in make(FILTER_QP)),
                             key=lambda r: r[1]["psnr"])
                   for name, make in ffmpeg_filters.items()}

    rows = [["compressed input", cell(compressed_score), "", ""]]
    rows += [[f"ours, level {level}", cell(mine[level]), cell(mine_fast[level]), ""] for level in LEVELS]
    rows += [[f"ours, auto (estimated level {mine['auto']['estimate']:.0f})", cell(mine["auto"]), "", ""]]
    rows += [[f"FFmpeg {name}", "", "", f"{cell(r)} ({label})"] for name, (label, r) in filters.items()]
    best = max(LEVELS, key=lambda level: mine[level]["psnr"])
    best_filter, (label, r) = max(filters.items(), key=lambda f: f[1][1]["psnr"])
    return (
        "## Real compressed video: H.264, PSNR on Y (dB) / SSIM\n\n"
        f"`{compressed.name}` (~9.5 kbps, severe blocking; {size}, {compressed_score['frames']} frames) against `{reference.name}` (the same "
        "clip at ~1.2 Mbps), both decoded by GStreamer (`decodebin`) to I420; ours is the element restoring the Y plane "
        f"in that pipeline (`models/dejpeg-gray.safetensors`; fast = `models/dejpeg-gray-fast.safetensors`), FFmpeg's "
        "filters run on the same decoded frames (best of a few quantisers). Scores: FFmpeg's `psnr` and `ssim` filters, "
        "mean over the clip. The restorers were trained on JPEG and on x264-coded photos, none of them this clip.\n\n"
        + table(["", "ours (dejpeg-gray)", "ours, fast (dejpeg-gray-fast)", "FFmpeg"], rows)
        + f"\nAt its best level ({best}) the model gains {mine[best]['psnr'] - compressed_score['psnr']:+.2f} dB, FFmpeg's best "
        f"filter ({best_filter}, {label}) {r['psnr'] - compressed_score['psnr']:+.2f} dB. Levels are JPEG qualities; "
        "H.264 at a low bitrate wants low ones. Auto mode read this clip as quality "
        f"{mine['auto']['estimate']:.0f} ({mine['auto']['psnr'] - compressed_score['psnr']:+.2f} dB): the bundled "
        "estimator learnt H.264 from the same photos (`models/README.md`).\n")
