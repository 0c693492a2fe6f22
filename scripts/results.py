"""Regenerates docs/RESULTS.md: every bundled model evaluated the paper's way with
`hyperres-train eval`, beside the paper's numbers and beside the FFmpeg filters a pipeline engineer
would otherwise use (best of a few strengths per level, measured on the same degraded images).

Run it through scripts/results, which builds the trainer first. With --stale it lists the results a
regeneration would redo, and computes none of them (exit status 1 if there are any): run it after
changing code to learn what that change costs.
Evaluations land in docs/results/ (JSON, Markdown, PNG). Each is redone only when what its numbers
depend on changed: its arguments, the contents of the files and folders they name (model, estimator,
test set), the measuring code, and the restorer's code (our models; the estimator's too where one
is loaded) or FFmpeg's version and how eval runs it (its filters); comment lines of Rust sources do not count. docs/results/keys.json holds a hash of these
per result.
"""

import argparse
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import results_video
from jpeg_pipeline_frames import decode_in_pipeline
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path, default=ROOT.parent / "shared" / "data",
                        help="the data folder (test sets under test/)")
    parser.add_argument("--stale", action="store_true", help="list the results a regeneration would redo")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--ffmpeg-only", action="store_true", help="run the FFmpeg baselines only")
    only.add_argument("--models-only", action="store_true", help="run our models' evaluations only")
    return parser.parse_args()


ARGS = parse_args()
DATA = ARGS.data
TRAIN = ROOT / "target" / "release" / "hyperres-train"
OUT = ROOT / "docs" / "results"
MODELS = ROOT / "models"
# The full-size denoiser: its f32 master, which scripts/gpu-train and CPU runs continue, and the
# bundled copy made from it with `hyperres-train convert --dtype f16` (half the bytes).
FULL_DENOISE = MODELS / "wip" / "denoise-rgb-16b.safetensors"
BUNDLED_FULL_DENOISE = MODELS / "denoise-rgb-16b.safetensors"


def fast_model(name):
    """The fast model (4 blocks x 32, for real time on a CPU) bundled beside models/NAME."""
    return MODELS / f"{name}-fast.safetensors"


FAST_DENOISE = fast_model("denoise-rgb")
# The full-size super-resolver (CPU-trained, stored in f16 like the denoiser).
BUNDLED_FULL_SR = MODELS / "sr-rgb-16b.safetensors"
KEYS = OUT / "keys.json"
# With --stale, the names of the results whose key changed, listed instead of redone.
STALE = [] if ARGS.stale else None
# The code behind every number (data, metrics, the eval itself, crate versions), and the code
# behind our models' outputs. The element and the trainer's other parts are not in either, so
# rebuilding or editing them reuses the results.
MEASURE_CODE = [ROOT / "Cargo.lock"] + [ROOT / "training" / "src" / f"{m}.rs" for m in
                                        ("eval", "data", "degrade", "metrics", "pixels", "paper", "plot")]
# Each task's degradation, behind the numbers of evaluations that degrade clean images with it.
DEGRADE_CODE = {"dejpeg": ROOT / "training" / "src" / "jpeg.rs", "sr": ROOT / "training" / "src" / "resize.rs"}
# How `eval --ffmpeg` runs FFmpeg and times it, behind the FFmpeg filters' numbers only.
FFMPEG_CODE = [ROOT / "training" / "src" / "ffmpeg_filter.rs"]
# Writing checkpoints (src/checkpoint/write.rs) is in neither: it reaches a number only through
# the files, which are keyed by their contents.
MODEL_CODE = [ROOT / "src" / p for p in ("model", "checkpoint/mod.rs", "checkpoint/metadata.rs", "checkpoint/import.rs",
                                         "restorer.rs", "ensemble.rs", "task.rs")]
# The estimator's reading (the median of its crops, kept in its range), behind the numbers of runs
# that load an estimator only.
ESTIMATOR_CODE = [ROOT / "src" / "level_estimator.rs"]
# The element's own code, behind the numbers it measures in a pipeline (with the model's).
ELEMENT_CODE = [ROOT / "src" / "hyperres", ROOT / "src" / "frame.rs"]

CBSD68, LIVE1_GRAY, LIVE1, SET5 = (DATA / "test" / d for d in ("CBSD68", "LIVE1_gray", "LIVE1", "Set5"))
DENOISE_LEVELS = [5, 15, 25, 35, 50, 75, 90]
# The sigmas from 15 to 75 that the paper reports (the 0.3 dB target).
PAPER_DENOISE_LEVELS = [15, 25, 35, 75]
# The paper's qualities (10..80), then light compression (90, 95), where a restorer must do no harm.
JPEG_LEVELS = [10, 30, 50, 70, 80, 90, 95]
# H.264 frames: the CRFs LIVE1 is coded at (20 and 23: broadcast-like quality, where a restorer
# must do no harm), and the levels tried on them (a log grid).
H264_CRFS = [20, 23, 26, 32, 38, 44, 50]
H264_LEVELS = [5, 7, 10, 14, 20, 28, 40, 56, 80, 95]
# The H.264 frames of each dejpeg model's colour: h264_frames.py's flags, the frames' folder under
# target/h264-frames/ beside the test set's name, and how the section compares them.
H264_FRAMES = {
    "gray": ([], "", ("luma", "PSNR on Y", "its luma against the uncoded frame's")),
    "rgb": (["--colour"], "-rgb", ("in colour", "PSNR over RGB", "converted back to RGB by FFmpeg (BT.601) against "
                                   "the uncoded RGB crop, so 4:2:0 chroma counts")),
}
# x1.5 besides the paper's: 720p to 1080p, the upscale broadcast video needs most.
SR_LEVELS = [1.5, 2, 3, 4, 5, 6]


def levels_arg(levels):
    return ",".join(str(level) for level in levels)


def contents(path):
    """A file's bytes; a Rust source's without its comment lines, which change no number; of
    Cargo.lock, the crates from registries, not what the workspace's own crates list (a
    dependency added to an example changes no number)."""
    data = path.read_bytes()
    if path.name == "Cargo.lock":
        return b"\n".join(p for p in data.split(b"\n[[package]]\n") if b"\nsource = " in p)
    if path.suffix != ".rs":
        return data
    return b"\n".join(line for line in data.split(b"\n") if not line.lstrip().startswith(b"//"))


@functools.cache
def digest(path):
    """sha256 of a file's contents, or of a folder's file names and contents."""
    if not path.is_dir():
        return hashlib.sha256(contents(path)).hexdigest()
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode() + b"\0" + contents(f))
    return h.hexdigest()


@functools.cache
def ffmpeg_version():
    return subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]


def is_estimator(path):
    """Whether `path` is an estimator checkpoint."""
    return path.suffix == ".safetensors" and path.is_file() and metadata(path).get("kind") == "estimator"


def degraded_for(args):
    """The task whose degradation an evaluation applies: none when it is given coded frames or
    runs no `eval` (the element's results)."""
    if "--coded" in args:
        return None
    if "--task" in args:
        return args[args.index("--task") + 1]
    if "--model" in args:
        return metadata(args[args.index("--model") + 1])["task"]
    return None


def key(args):
    """What an evaluation's numbers depend on, hashed: paths count by their contents, not names."""
    parts = [digest(a) if isinstance(a, Path) else str(a) for a in args]
    parts += [digest(p) for p in MEASURE_CODE]
    if (task := degraded_for(args)) in DEGRADE_CODE:
        parts.append(digest(DEGRADE_CODE[task]))
    if "--ffmpeg" in args:
        parts += [digest(p) for p in FFMPEG_CODE] + [ffmpeg_version()]
    else:
        code = MODEL_CODE + (ESTIMATOR_CODE if any(isinstance(a, Path) and is_estimator(a) for a in args) else [])
        parts += [digest(p) for p in code]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def stored_keys():
    return json.loads(KEYS.read_text()) if KEYS.exists() else {}


def cached(name, args, compute):
    """Runs compute(OUT/name.json) unless the result there was made with the same key (of args);
    returns its JSON."""
    out = OUT / f"{name}.json"
    wanted = key(args)
    if not (out.exists() and stored_keys().get(name) == wanted):
        if STALE is not None:
            STALE.append(name)
            if not out.exists():
                # What follows reads this result, so the list ends here.
                report_stale(complete=False)
            return json.loads(out.read_text())
        out.parent.mkdir(parents=True, exist_ok=True)
        compute(out)
        # Written after each run, so an interrupted regeneration keeps what it finished.
        KEYS.write_text(json.dumps({**stored_keys(), name: wanted}, indent=1, sort_keys=True) + "\n")
    return json.loads(out.read_text())


def report_stale(complete=True):
    """Prints the results --stale found (every one, if `complete`) and exits: 1 if any."""
    print("\n".join(STALE) if STALE else "every result is current")
    if not complete:
        print(f"(and perhaps more after {STALE[-1]}, which has no result yet)")
    sys.exit(1 if STALE else 0)


def evaluate(name, *args, plot=False):
    """Runs `hyperres-train eval ARGS` into OUT/name.{json,md[,png]} (cached); returns its JSON."""
    def run(out):
        command = ["eval", *args, "--json", out, "--markdown", out.with_suffix(".md")]
        if plot:
            command += ["--plot", out.with_suffix(".png")]
        # Paths relative to the repository, so the reports name them the same on every machine.
        command = [os.path.relpath(a, ROOT) if isinstance(a, Path) else str(a) for a in command]
        print("+", " ".join(command), flush=True)
        subprocess.run([str(TRAIN), *command], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return cached(name, args, run)


def by_level(result):
    return {round(row["level"], 3): row for row in result["levels"]}


def best_ffmpeg(name, task, colour, data, candidates):
    """candidates: {level: [(label, graph), ...]}; the best mean PSNR per level wins."""
    best = {}
    for level, graphs in candidates.items():
        for label, graph in graphs:
            slug = label.replace("=", "").replace(":", "-").replace(" ", "")
            result = evaluate(f"ffmpeg/{name}-{level}-{slug}", "--ffmpeg", graph, "--task", task,
                              "--colour", colour, "--data", data, "--levels", level)
            row = result["levels"][0]
            if level not in best or row["psnr"] > best[level]["psnr"]:
                best[level] = {**row, "label": label}
    return best


def nlmeans(sigma):
    # nlmeans takes s in 1..30.
    strengths = sorted({min(30, round(sigma * f)) for f in (0.3, 0.4, 0.5, 0.6)})
    return [(f"s={s:g}", f"format=yuv444p,nlmeans=s={s:g}") for s in strengths]


def hqdn3d(sigma):
    return [(f"{s:g}", f"format=yuv444p,hqdn3d={s:g}:{s:g}:0:0") for s in (sigma, 2 * sigma, 3 * sigma)]


# Quantiser scales around the best ones (they fall as quality rises), each of spp's and pp7's winners
# on LIVE1's accurate-DCT JPEG flanked by a worse one where the filter takes one (pp7's least is 1).
JPEG_QP = {10: (12, 14, 16, 20), 30: (5, 6, 8, 10), 50: (4, 5, 6, 8), 70: (3, 4, 5, 6), 80: (2, 3, 4, 6), 90: (1, 2, 3, 4),
           95: (1, 2, 3)}


def spp(qps, prefix=""):
    return [(f"qp={qp}", f"{prefix}spp=quality=6:qp={qp}") for qp in qps]


def pp7(qps):
    return [(f"qp={qp}", f"pp7=qp={qp}") for qp in qps]


def deblock(_qps):
    return [(f"{kind}", f"deblock=filter={kind}:block=8") for kind in ("weak", "strong")]


FFMPEG_SIGMAS = [15, 25, 50, 75]

# FFmpeg's JPEG post-processing filters: each gives its candidate (label, graph)s for quantisers.
JPEG_FILTERS = {"spp": spp, "pp7": pp7, "deblock": deblock}


def fmt(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def cell(row):
    return f"{fmt(row['psnr'])} / {fmt(row['ssim'], 3)}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


@functools.cache
def metadata(path):
    """A checkpoint's metadata: its safetensors header (8 bytes of length, then JSON) holds it as
    `__metadata__`."""
    with path.open("rb") as f:
        return json.loads(f.read(int.from_bytes(f.read(8), "little"))).get("__metadata__", {})


def model_card(path):
    meta = metadata(path)
    trained = f"for {meta['iterations']} iterations on {meta['device']}"
    if meta["dtype"] != "f32":
        trained += f"; stored in {meta['dtype']}"
    if meta["kind"] == "estimator":
        low, high = json.loads(meta["levels"])
        return (f"{meta.get('architecture', 'noisenet')} estimator, width {meta['width']}, {meta['colour']}, "
                f"trained on levels {low:g}..{high:g} {trained}")
    return f"{meta['blocks']} blocks x {meta['width']}, {meta['colour']}, trained at {meta['levels']} {trained}"


def ffmpeg_baselines():
    """Every FFmpeg run of the report (independent of our models)."""
    best_ffmpeg("nlmeans", "denoise", "rgb", CBSD68, {s: nlmeans(s) for s in FFMPEG_SIGMAS})
    best_ffmpeg("hqdn3d", "denoise", "rgb", CBSD68, {s: hqdn3d(s) for s in FFMPEG_SIGMAS})
    for colour in ("gray", "rgb"):
        jpeg_filters(colour)


def jpeg_filters(colour):
    """FFmpeg's JPEG post-processing on LIVE1 in `colour`, each filter's best quantiser per quality:
    {filter: best_ffmpeg's result}. All of them on gray; on colour spp alone, in YUV 4:4:4 so that
    the chroma is filtered too."""
    if colour == "gray":
        return {f: best_ffmpeg(f, "dejpeg", "gray", LIVE1_GRAY, {q: make(JPEG_QP[q]) for q in JPEG_LEVELS})
                for f, make in JPEG_FILTERS.items()}
    return {"spp": best_ffmpeg("spp-rgb", "dejpeg", "rgb", LIVE1,
                               {q: spp(JPEG_QP[q], "format=yuv444p,") for q in JPEG_LEVELS})}


JPEG_SETS = {"dejpeg-gray": LIVE1_GRAY, "dejpeg-rgb": LIVE1}
# Noisy video: CBSD68 with camera noise of each sigma added before x264 coded it at each CRF, and
# the denoiser's levels tried on it.
NOISY_SIGMAS = [10, 25, 50]
NOISY_CRFS = [18, 23, 28]
NOISY_LEVELS = [4, 7, 10, 14, 20, 28, 40, 56, 80]


def made_frames(script, data, folder, flags, tools):
    """`data` through scripts/`script` with `flags` into target/`folder`, made again only when the
    script, the data, the flags or `tools` (the versions of what it runs) changed; returns the folder."""
    script = ROOT / "scripts" / script
    out = ROOT / "target" / folder
    made_by = f"{digest(script)} {digest(data)} {tools} {' '.join(flags)}"
    stamp = out / "made-by"
    if not (stamp.exists() and stamp.read_text() == made_by):
        shutil.rmtree(out, ignore_errors=True)
        print("+", script.name, data, out, *flags, flush=True)
        subprocess.run([sys.executable, script, data, out, *flags], check=True, stdout=subprocess.DEVNULL)
        stamp.write_text(made_by)
    return out


def h264_frames(data, crfs, flags, suffix):
    """`data` coded by x264 at `crfs` (scripts/h264_frames.py with `flags`, fixed seed) under
    target/h264-frames/, in the folder named after `data` and `suffix`; returns the folder (clean/
    and coded/)."""
    return made_frames("h264_frames.py", data, Path("h264-frames") / f"{data.name}{suffix}",
                       ["--crf-list", levels_arg(crfs), "--seed", "2", *flags], ffmpeg_version())


def coded_results(name, model, estimator, frames, levels, auto_level):
    """`model` on coded `frames` over `levels` and in auto mode with `estimator`, as table cells per
    CRF: the coded input, the best of `levels` (level), auto mode (mean estimate), auto - best."""
    args = ["--model", model, "--data", frames / "clean", "--coded", frames / "coded"]
    grid = evaluate(name, *args, "--levels", levels_arg(levels))
    # Blind mode restores each coded frame at its estimate whatever the level, so one level will do.
    auto = evaluate(f"{name}-auto", *args, "--levels", auto_level, "--blind", estimator)
    crf = lambda row: int(row["image"].split("_crf")[1].split("_")[0])
    mean = lambda rows, key: sum(r[key] for r in rows) / len(rows)
    cells = {}
    for c in sorted({crf(r) for r in auto["images"]}):
        at = {l: mean([r for r in grid["images"] if crf(r) == c and r["level"] == l], "psnr") for l in levels}
        best = max(at, key=at.get)
        blind = [r for r in auto["images"] if crf(r) == c]
        cells[c] = [fmt(mean(blind, "input_psnr")), f"{fmt(at[best])} ({best})",
                    f"{fmt(mean(blind, 'blind_psnr'))} ({mean(blind, 'estimate'):.0f})",
                    fmt(mean(blind, "blind_psnr") - at[best])]
    return cells


def h264_section(colour):
    """Auto mode on real H.264 frames: LIVE1 coded by x264 (its luma for the gray model, in colour
    for the RGB one), ours at each CRF's best level and at the estimator's."""
    name = f"dejpeg-{colour}"
    model, estimator = MODELS / f"{name}.safetensors", MODELS / "estimator-jpeg.safetensors"
    if not model.exists():
        return None
    flags, suffix, (what, metric, kept) = H264_FRAMES[colour]
    frames = h264_frames(LIVE1, H264_CRFS, flags, suffix)
    results = coded_results(f"{name}-h264-live1", model, estimator, frames, H264_LEVELS, "80")
    rows = [[c, *results[c]] for c in H264_CRFS]
    return (f"## Real H.264 frames: LIVE1 {what} coded by x264, {metric} (dB)\n\n"
            f"Each of the 29 LIVE1 images as 8 frames of 256x192 panning across it, coded by x264 (FFmpeg's libx264, "
            f"preset medium, yuv420p, at each CRF), one random frame kept (I, P or B), {kept}: "
            f"`scripts/h264_frames.py LIVE1 OUT --crf-list {levels_arg(H264_CRFS)} --seed 2{''.join(' ' + f for f in flags)}`, "
            f"then `hyperres-train eval --coded`. Ours is `models/{name}.safetensors` at the level best for that CRF (of "
            f"{levels_arg(H264_LEVELS)}), and in auto mode, each frame at the level `models/estimator-jpeg.safetensors` "
            "reads from it (mean in brackets).\n\n"
            + table(["CRF", "H.264", "ours, best level (level)", "ours, auto (estimated level)", "auto - best"], rows))


def noisy_video_section():
    """Auto mode on noisy video: CBSD68 with camera noise coded by x264, the denoiser at each sigma and
    CRF's best level and at the level the noise estimator reads."""
    model, estimator = MODELS / "denoise-rgb.safetensors", MODELS / "estimator-noise.safetensors"
    rows = []
    for sigma in NOISY_SIGMAS:
        frames = h264_frames(CBSD68, NOISY_CRFS, ["--colour", "--noise", str(sigma)], f"-noise{sigma}")
        results = coded_results(f"denoise-noisy-h264-cbsd68-{sigma}", model, estimator, frames, NOISY_LEVELS,
                                str(sigma))
        rows += [[sigma, c, *results[c]] for c in NOISY_CRFS]
    return ("## Noisy video: CBSD68 with camera noise, coded by x264, PSNR over RGB (dB)\n\n"
            "Each of the 68 CBSD68 images as 8 frames of 256x192 panning across it, Gaussian noise of sigma "
            "(fresh in every frame, as a camera's) added to the RGB frames, which x264 then coded (FFmpeg's "
            "libx264, preset medium, yuv420p, at each CRF), one random frame kept, converted back to RGB against "
            "the noiseless crop: `scripts/h264_frames.py CBSD68 OUT --crf-list "
            f"{levels_arg(NOISY_CRFS)} --seed 2 --colour --noise SIGMA`, then `hyperres-train eval --coded`. "
            "The codec removes part of the noise and smears the rest (no longer independent from pixel to pixel "
            "or channel to channel). Ours is `models/denoise-rgb.safetensors` at the level best for that sigma "
            f"and CRF (of {levels_arg(NOISY_LEVELS)}), and in auto mode, each frame at the level "
            "`models/estimator-noise.safetensors` reads from it (mean in brackets).\n\n"
            + table(["sigma", "CRF", "H.264", "ours, best level (level)", "ours, auto (estimated level)",
                     "auto - best"], rows))


# Makes the JPEG pipeline frames and holds the pipeline the element is measured in.
PIPELINE_SCRIPT = ROOT / "scripts" / "jpeg_pipeline_frames.py"


def element_on_luma(q, frames, model):
    """`model` (gray) in the element on the Y plane of LIVE1's q-quality JPEGs in `frames` as jpegdec
    outputs them (I420: what `task=dejpeg` restores), the chroma as decoded, converted to RGB: the
    mean PSNR over RGB against the originals (cached)."""
    jpegs = frames / f"q{q}" / "jpeg"
    element = ["hyperres", f"model-location={model}", "precision=fp32", f"level={q}"]

    def compute(out):
        env = {**os.environ, "GST_PLUGIN_PATH": str(ROOT / "target" / "release")}
        psnrs = []
        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "restored.png"
            for jpeg in sorted(jpegs.iterdir()):
                decode_in_pipeline(jpeg, png, element, env)
                restored, clean = (np.asarray(Image.open(f).convert("RGB"), np.float64) for f in (png, LIVE1 / jpeg.stem))
                psnrs.append(10 * np.log10(255**2 / np.mean((restored - clean) ** 2)))
        out.write_text(json.dumps({"psnr": float(np.mean(psnrs)), "images": psnrs}))
    return cached(f"dejpeg-gray-element-live1-q{q}", [jpegs, LIVE1, model, *ELEMENT_CODE, *element, PIPELINE_SCRIPT],
                  compute)


def pipeline_frames(data, flags):
    """`data` JPEG-coded at JPEG_LEVELS and decoded each way by PIPELINE_SCRIPT with `flags`."""
    gst = subprocess.run(["gst-launch-1.0", "--version"], capture_output=True, text=True, check=True).stdout
    tools = f"{gst.splitlines()[1]} Pillow {importlib.metadata.version('pillow')}"
    return made_frames(PIPELINE_SCRIPT.name, data, Path("jpeg-pipeline-frames") / data.name,
                       ["--qualities", levels_arg(JPEG_LEVELS), *flags], tools)


def decoded_each_way(name, model, data, frames, q):
    """Table cells of `model` at level q on `frames`' q-quality JPEGs as each decoder decoded them:
    the input, ours (gain) and, except after jpegdec's islow, auto mode (mean estimate); and the
    level row of jpegdec's default decoding (`gstreamer`)."""
    cells = []
    for decoder in ("libjpeg", "gstreamer", "islow"):
        auto = [] if decoder == "islow" else ["--blind", MODELS / "estimator-jpeg.safetensors"]
        (at,) = evaluate(f"{name}-{decoder}-live1-q{q}", "--model", model, "--data", data, "--coded",
                         frames / f"q{q}" / decoder, "--levels", q, *auto)["levels"]
        cells += [fmt(at["input_psnr"]), f"{cell(at)} ({at['psnr'] - at['input_psnr']:+.2f})"]
        if auto:
            cells.append(f"{fmt(at['blind_psnr'])} ({at['estimate']:.0f})")
        if decoder == "gstreamer":
            pipeline = at
    return cells, pipeline


PIPELINE_COLUMNS = ["quality", *(f"{decoder}: {column}" for decoder in ("libjpeg", "GStreamer")
                                 for column in ("JPEG", "ours (gain)", "ours, auto (estimated level)")),
                    "islow: JPEG", "islow: ours (gain)"]


def jpeg_pipeline_section():
    """The colour model on JPEG as a GStreamer pipeline decodes it for an RGB element (jpegdec !
    videoconvert), beside the same files decoded to RGB by libjpeg, as the benchmark's are, and the
    gray model restoring the luma of jpegdec's I420."""
    model, gray = (MODELS / f"{m}.safetensors" for m in ("dejpeg-rgb", "dejpeg-gray"))
    if not model.exists():
        return None
    frames = pipeline_frames(LIVE1, [])
    rows = []
    for q in JPEG_LEVELS:
        cells, pipeline = decoded_each_way("dejpeg-rgb", model, LIVE1, frames, q)
        # Scored against the pipeline's own input.
        luma = element_on_luma(q, frames, gray)["psnr"]
        rows.append([q, *cells, f"{fmt(luma)} ({luma - pipeline['input_psnr']:+.2f})"])
    return ("## JPEG in a GStreamer pipeline: LIVE1 colour, PSNR over RGB (dB) / SSIM\n\n"
            "Each LIVE1 image JPEG-coded at quality q by Pillow's libjpeg (4:2:0, the accurate DCT: the same "
            "coefficients as the benchmark above) and the same file decoded three ways: by libjpeg to RGB, "
            "smoothing the chroma up as the benchmark does; by "
            "`jpegdec ! videoconvert ! video/x-raw,format=RGB`, as a pipeline feeding an RGB model does (jpegdec "
            "decodes by its default fast integer IDCT and outputs the 4:2:0 planes as I420; videoconvert repeats "
            "each chroma sample over 2x2 pixels); and by the same pipeline with `jpegdec idct-method=islow`, "
            "libjpeg's accurate IDCT: "
            f"`scripts/jpeg_pipeline_frames.py LIVE1 OUT --qualities {levels_arg(JPEG_LEVELS)}`, then "
            "`hyperres-train eval --coded`. Ours is `models/dejpeg-rgb.safetensors` at level q (gain in brackets), "
            "and in auto mode at the level `models/estimator-jpeg.safetensors` reads from each image (mean in "
            "brackets); last, `models/dejpeg-gray.safetensors` in the element at level q restoring the Y plane of "
            "jpegdec's I420 (`jpegdec ! hyperres task=dejpeg ! videoconvert`, the chroma as decoded), against the "
            "same pipeline's RGB input.\n\n"
            + table([*PIPELINE_COLUMNS, "gray model on the Y plane (gain)"], rows))


def gray_jpeg_pipeline_section():
    """The gray model on gray JPEG decoded by libjpeg and by jpegdec with each IDCT."""
    model = MODELS / "dejpeg-gray.safetensors"
    if not model.exists():
        return None
    frames = pipeline_frames(LIVE1_GRAY, ["--gray"])
    rows = [[q, *decoded_each_way("dejpeg-gray", model, LIVE1_GRAY, frames, q)[0]] for q in JPEG_LEVELS]
    return ("## JPEG in a GStreamer pipeline: LIVE1 gray (dB) / SSIM\n\n"
            "LIVE1 gray JPEG-coded at quality q by Pillow's libjpeg (the benchmark's files) and decoded by libjpeg, "
            "as the benchmark does; by `jpegdec ! videoconvert ! video/x-raw,format=GRAY8`, whose default IDCT "
            "is the fast integer one (jpegdec hands the Y plane of colour JPEG to `hyperres task=dejpeg` the same "
            "way); and by the same pipeline with `jpegdec idct-method=islow`, libjpeg's accurate IDCT: "
            f"`scripts/jpeg_pipeline_frames.py LIVE1_gray OUT --qualities {levels_arg(JPEG_LEVELS)} --gray`, then "
            "`hyperres-train eval --coded`. Ours is `models/dejpeg-gray.safetensors` at level q (gain in brackets), "
            "and in auto mode at the level `models/estimator-jpeg.safetensors` reads from each image (mean in "
            "brackets).\n\n"
            + table(PIPELINE_COLUMNS, rows))


def gpu_hours():
    """The paper's 1,000,000 iterations at the training-step time measured on a GPU, if one was."""
    step = ROOT / "docs" / "gpu" / "train-step-h200.json"
    if not step.exists():
        return "That is GPU-days rather than CPU-hours. "
    m = json.loads(step.read_text())
    hours = 1_000_000 * m["ours_ms_per_step"] / 1e3 / 3600
    return (f"The full-size step ({m['step']}) takes {m['ours_ms_per_step']} ms on an {m['device']} "
            f"(PyTorch eager: {m['pytorch_eager_ms_per_step']} ms; `{step.relative_to(ROOT)}`), so those "
            f"iterations take about {hours:.1f} hours of one such GPU. ")


# Issue 5's mark for the full-size model: within this many dB of the paper at every sigma 15..75.
TARGET_GAP_DB = 0.3


def paper_gaps(result):
    """A denoiser's PSNR minus the paper's at the sigmas from 15 to 75 that the paper reports."""
    return {level: result[level]["psnr"] - result[level]["published"]["psnr"] for level in PAPER_DENOISE_LEVELS}


def gaps_text(gaps):
    """Signed distances to the paper, as a sentence's list."""
    return ", ".join(f"{g:+.2f} dB" for g in gaps.values())


def full_size_progress(full):
    """Where the bundled full-size model (its CBSD68 results by level, empty if there is none) stands
    against the paper, and what storing it in f16 costs."""
    if not full:
        return ("No full-size model is bundled yet; closing the gap to within "
                f"{TARGET_GAP_DB} dB takes one (`scripts/gpu-train` trains it on a lent GPU).\n")
    gaps = paper_gaps(full)
    bundled = BUNDLED_FULL_DENOISE.relative_to(ROOT)
    text = (f"The bundled full-size model (`{bundled}`: {model_card(BUNDLED_FULL_DENOISE)}) stands at "
            f"{gaps_text(gaps)} against the paper at sigma "
            f"{', '.join(f'{level:g}' for level in gaps)}: ")
    if min(gaps.values()) >= -TARGET_GAP_DB:
        text += f"within {TARGET_GAP_DB} dB of the paper at every one of them, trained on this CPU alone. "
    else:
        text += (f"closing the gap to within {TARGET_GAP_DB} dB takes more training "
                 "(`scripts/gpu-train` continues it on a lent GPU). ")
    master = evaluate_model("denoise-16b-f32-cbsd68")
    iterations = metadata(FULL_DENOISE)["iterations"]
    if iterations != metadata(BUNDLED_FULL_DENOISE)["iterations"]:
        change = ", ".join(f"{master[level]['psnr'] - full[level]['psnr']:+.3f}" for level in DENOISE_LEVELS)
        return text + (f"Its f32 master (`{FULL_DENOISE.relative_to(ROOT)}`) has trained on since "
                       f"({model_card(FULL_DENOISE)}): {change} dB against the bundled copy at sigma "
                       f"{', '.join(f'{level:g}' for level in DENOISE_LEVELS)}; `hyperres-train convert --dtype f16` "
                       "makes the bundled copy from it again once it is better at every sigma.\n")
    apart = max(abs(master[level]["psnr"] - full[level]["psnr"]) for level in DENOISE_LEVELS)
    return text + (f"It was made from its f32 master (`{FULL_DENOISE.relative_to(ROOT)}`, which "
                   f"training continues) by `hyperres-train convert --dtype f16`; on these images the two are within "
                   f"{apart:.4f} dB of each other at every sigma from {DENOISE_LEVELS[0]} to {DENOISE_LEVELS[-1]} (the master: "
                   f"{', '.join(fmt(master[level]['psnr'], 3) for level in gaps)} dB at sigma "
                   f"{', '.join(f'{level:g}' for level in gaps)}).\n")


def model_runs():
    """Every evaluation of a bundled model, by result name: (eval arguments, plot)."""
    runs = {
        "denoise-cbsd68": (["--model", MODELS / "denoise-rgb.safetensors", "--data", CBSD68, "--levels",
                            levels_arg(DENOISE_LEVELS), "--blind", MODELS / "estimator-noise.safetensors"], True),
        "estimator-noise-cbsd68": (["--model", MODELS / "estimator-noise.safetensors", "--data", CBSD68], False),
        "sr-set5": (["--model", MODELS / "sr-rgb.safetensors", "--data", SET5, "--levels", levels_arg(SR_LEVELS)], True),
        "sr-16b-set5": (["--model", BUNDLED_FULL_SR, "--data", SET5, "--levels", levels_arg(SR_LEVELS)], False),
        "denoise-fast-cbsd68": (["--model", FAST_DENOISE, "--data", CBSD68, "--levels",
                                 levels_arg(DENOISE_LEVELS)], False),
        "denoise-16b-cbsd68": (["--model", BUNDLED_FULL_DENOISE, "--data", CBSD68, "--levels",
                                levels_arg(DENOISE_LEVELS)], False),
        # The best quality there is: the full-size models averaging 8 flipped/transposed copies.
        "denoise-16b-x8-cbsd68": (["--model", BUNDLED_FULL_DENOISE, "--data", CBSD68, "--levels",
                                   levels_arg(DENOISE_LEVELS), "--ensemble", "8"], False),
        "sr-16b-x8-set5": (["--model", BUNDLED_FULL_SR, "--data", SET5, "--levels", levels_arg(SR_LEVELS),
                            "--ensemble", "8"], False),
        # The same levels as the bundled copy: the noise of an image depends on its level's place
        # in the list, so only then do both see the same noisy images.
        "denoise-16b-f32-cbsd68": (["--model", FULL_DENOISE, "--data", CBSD68, "--levels",
                                    levels_arg(DENOISE_LEVELS)], False),
    }
    jpeg_estimator = MODELS / "estimator-jpeg.safetensors"
    runs["estimator-jpeg-live1"] = (["--model", jpeg_estimator, "--data", LIVE1_GRAY,
                                     "--levels", levels_arg(JPEG_LEVELS)], False)
    for name, data in JPEG_SETS.items():
        blind = ["--blind", jpeg_estimator] if jpeg_estimator.exists() else []
        runs[f"{name}-live1"] = (["--model", MODELS / f"{name}.safetensors", "--data", data,
                                  "--levels", levels_arg(JPEG_LEVELS), *blind], True)
        runs[f"{name}-fast-live1"] = (["--model", fast_model(name), "--data", data,
                                       "--levels", levels_arg(JPEG_LEVELS)], False)
    return {name: run for name, run in runs.items() if run[0][1].exists()}


def evaluate_model(name):
    """The named evaluation of `model_runs`, by level; None where the model is not bundled."""
    run = model_runs().get(name)
    return by_level(evaluate(name, *run[0], plot=run[1])) if run else None


def five_networks(paths, at_5):
    """Where some of these denoisers have a main network at sigma 5, the sentence that sets them
    beside the paper's model that has one too (the table's paper column, `at_5` at sigma 5, is its
    four-network one)."""
    names = [f"`{p.relative_to(ROOT)}`" for p in paths if p.exists() and min(json.loads(metadata(p)["levels"])) <= 5]
    if not names:
        return ""
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    verb = "trains" if len(names) == 1 else "train"
    return (f"{listed} also {verb} a main network at sigma 5, added in a warm restart "
            "(`models/README.md`), besides the paper's four at 15, 35, 50, 75. The paper column above is the model "
            f"with those four (its Table 1; its {fmt(at_5)} dB at sigma 5 is extrapolated); the paper's model with five, at "
            "5, 25, 45, 65, 85 (its Table 7), gives 40.31 dB at sigma 5 and 34.00 / 31.39 / 29.78 / 26.46 at 15 / 25 / "
            "35 / 75.\n")


def full_size_about(path):
    """The sentence fragment that names a full-size model column's checkpoint in a table's caption."""
    return f"; 16 blocks = `{path.relative_to(ROOT)}` ({model_card(path)})"


def cpu_name():
    """The CPU's model name (the seconds in the reports are its), or the architecture where the
    kernel does not say."""
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def main():
    if not (DATA / "test").is_dir():
        sys.exit(f"no test sets under {DATA}/test (give the data folder: scripts/results DATA_DIR)")
    if ARGS.ffmpeg_only:
        ffmpeg_baselines()
        return
    if ARGS.models_only:
        for name in model_runs():
            evaluate_model(name)
        return
    sections = []
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()

    # Denoising, CBSD68, RGB PSNR.
    denoise_model = MODELS / "denoise-rgb.safetensors"
    ours = evaluate_model("denoise-cbsd68")
    nl = best_ffmpeg("nlmeans", "denoise", "rgb", CBSD68, {s: nlmeans(s) for s in FFMPEG_SIGMAS})
    hq = best_ffmpeg("hqdn3d", "denoise", "rgb", CBSD68, {s: hqdn3d(s) for s in FFMPEG_SIGMAS})
    full = evaluate_model("denoise-16b-cbsd68") or {}
    full8 = evaluate_model("denoise-16b-x8-cbsd68") or {}
    fast = evaluate_model("denoise-fast-cbsd68") or {}
    rows = []
    for sigma in DENOISE_LEVELS:
        o = ours[sigma]
        paper = o.get("published") or {}
        seconds = [r["seconds"] if r else None
                   for r in (o, fast.get(sigma), full.get(sigma), full8.get(sigma), nl.get(sigma), hq.get(sigma))]
        rows.append([sigma, fmt(o["input_psnr"]), cell(o), fmt(o.get("blind_psnr")), fmt(o.get("estimate_abs_error")),
                     *(cell(r[sigma]) if sigma in r else "-" for r in (fast, full, full8)),
                     fmt(paper.get("psnr")),
                     f"{cell(nl[sigma])} ({nl[sigma]['label']})" if sigma in nl else "",
                     f"{cell(hq[sigma])} ({hq[sigma]['label']})" if sigma in hq else "",
                     " / ".join(fmt(t, 3) for t in seconds)])
    fast_about = f"; fast = `{FAST_DENOISE.relative_to(ROOT)}` ({model_card(FAST_DENOISE)})" if fast else ""
    full_about = full_size_about(BUNDLED_FULL_DENOISE) if full else ""
    sections.append(
        "## Denoising: CBSD68, PSNR over RGB (dB) / SSIM\n\n"
        f"`models/denoise-rgb.safetensors` ({model_card(denoise_model)}); blind = level from "
        f"`models/estimator-noise.safetensors`{fast_about}{full_about}; x8 = its self-ensemble (`--ensemble 8`, the element's "
        "`ensemble=8`: the average of 8 flipped and transposed copies, 8 times the compute; the paper's figures are "
        "single passes). FFmpeg: the best of a few strengths per sigma, on the same "
        "noisy images (nlmeans in YUV 4:4:4, where it works; hqdn3d spatial only, single images).\n\n"
        + table(["sigma", "noisy", "ours", "ours blind", "estimate error", "ours, fast", "ours, 16 blocks",
                 "16 blocks, x8", "paper HyperRes", "FFmpeg nlmeans", "FFmpeg hqdn3d",
                 "s/image ours / fast / 16 blocks / x8 / nlmeans / hqdn3d"], rows)
        + "\n![PSNR against sigma](results/denoise-cbsd68.png)\n")
    gaps = paper_gaps(ours)
    meta = metadata(denoise_model)
    # The paper's recipe against ours (batch 8 of 64x64 crops): iterations, pixels per step, depth.
    iterations = 1_000_000 / int(meta["iterations"])
    pixels = (16 * 96 * 96) / (8 * 64 * 64)
    depth = 16 / int(meta["blocks"])
    sections.append(
        "### Distance to the paper\n\n"
        "The bundled 6-block denoiser, the element's default, is "
        + ", ".join(f"{-g:.2f} dB" for g in gaps.values())
        + f" below the paper's HyperRes at sigma {', '.join(map(str, gaps))}. It is a CPU-trained stand-in: "
        f"{model_card(denoise_model)}, batch 8 of 64x64 crops, on {Path(meta['dataset']).name}. The paper's model has 16 blocks and "
        f"trains for 1,000,000 iterations of batch 16, 96x96 crops, on DIV2K: about {iterations:.0f}x the "
        f"iterations, {pixels:.1f}x the pixels per iteration and {depth:.1f}x the depth, some "
        f"{iterations * pixels * depth:,.0f}x this model's compute. "
        + gpu_hours()
        + full_size_progress(full)
        + (f"Averaging 8 flipped and transposed copies (`ensemble=8`, 8 times the compute) puts it at "
           f"{gaps_text(paper_gaps(full8))} against the paper's single passes "
           f"at the same sigmas.\n" if full8 else "")
        + five_networks([denoise_model, FAST_DENOISE, BUNDLED_FULL_DENOISE], ours[5]["published"]["psnr"]))

    # Noise estimator.
    est = evaluate_model("estimator-noise-cbsd68")
    rows = [[level, fmt(r["abs_error"]), fmt(r["rel_error_pct"], 1), fmt((r.get("published") or {}).get("rel_error_pct"), 1)]
            for level, r in est.items()]
    sections.append("## Noise-level estimator: CBSD68\n\nMedian over a 3x3 grid of 128x128 crops.\n\n"
                    + table(["sigma", "mean abs error", "relative error %", "authors' estimator, relative error %"], rows))

    # JPEG-quality estimator.
    est = evaluate_model("estimator-jpeg-live1")
    if est:
        rows = [[level, fmt(r["abs_error"]), fmt(r["rel_error_pct"], 1)] for level, r in est.items()]
        sections.append("## JPEG-quality estimator: LIVE1 gray\n\n"
                        f"`models/estimator-jpeg.safetensors` ({model_card(MODELS / 'estimator-jpeg.safetensors')}); "
                        "median over a 3x3 grid of 128x128 crops on the JPEG block grid.\n\n"
                        + table(["quality", "mean abs error", "relative error %"], rows))

    # JPEG, LIVE1 gray (and colour): the FFmpeg filters always, ours where a model is bundled.
    for colour, name, title in (("gray", "dejpeg-gray", "LIVE1 gray"),
                                ("rgb", "dejpeg-rgb", "LIVE1 colour (4:2:0 JPEG), PSNR over RGB")):
        model, filters = MODELS / f"{name}.safetensors", jpeg_filters(colour)
        ours = evaluate_model(f"{name}-live1")
        # The fast model's columns only where one is bundled.
        fast = evaluate_model(f"{name}-fast-live1")
        fast_cols = [fast] if fast else []
        rows = []
        for q in JPEG_LEVELS:
            jpeg = next(iter(filters.values()))[q]["input_psnr"]
            mine = [cell(ours[q]), fmt(ours[q]["seconds"], 3)] if ours else ["-", "-"]
            # eval gives the paper's figures for the colour the paper measured (gray) only.
            paper = (ours[q].get("published") or {}).get("psnr") if ours else None
            blind = [fmt(ours[q].get("blind_psnr")), fmt(ours[q].get("estimate_abs_error"))] if ours else ["-", "-"]
            rows.append([q, fmt(jpeg), mine[0], *blind, *(cell(f[q]) for f in fast_cols), fmt(paper),
                         *[f"{cell(f[q])} ({f[q]['label']})" for f in filters.values()],
                         " / ".join([mine[1], *(fmt(f[q]["seconds"], 3) for f in fast_cols),
                                     *(fmt(f[q]["seconds"], 3) for f in filters.values())])])
        about = (f"`models/{name}.safetensors` ({model_card(model)})" if model.exists()
                 else f"No {name} model is bundled yet (see `models/README.md`); the FFmpeg filters alone")
        fast_path = fast_model(name)
        fast_about = f"; fast = `{fast_path.relative_to(ROOT)}` ({model_card(fast_path)})" if fast else ""
        sections.append(
            f"## JPEG artifact removal: {title} (dB) / SSIM\n\n"
            f"{about}; blind = quality from `models/estimator-jpeg.safetensors` (reading the luma){fast_about}. "
            "JPEG by libjpeg-turbo at quality q (the accurate DCT, as OpenCV and Pillow code it); FFmpeg's "
            "post-processing filters given the best constant quantiser per quality.\n\n"
            + table(["quality", "JPEG", "ours", "ours blind", "estimate error", *(["ours, fast"] if fast else []),
                     "paper HyperRes", *(f"FFmpeg {f}" for f in filters),
                     "s/image " + " / ".join(["ours", *(["fast"] if fast else []), *filters])], rows))

    for pipeline in (jpeg_pipeline_section(), gray_jpeg_pipeline_section()):
        if pipeline:
            sections.append(pipeline)

    # Super-resolution, Set5, Y PSNR.
    sr = MODELS / "sr-rgb.safetensors"
    ours = evaluate_model("sr-set5")
    if ours:
        full = evaluate_model("sr-16b-set5") or {}
        full8 = evaluate_model("sr-16b-x8-set5") or {}
        rows = [[f"x{s}", fmt(ours[s]["input_psnr"]), cell(ours[s]), cell(full[s]) if full else "-",
                 cell(full8[s]) if full8 else "-", fmt((ours[s].get("published") or {}).get("psnr")),
                 " / ".join(fmt(r[s]["seconds"], 3) for r in (ours, full, full8) if r)] for s in SR_LEVELS]
        full_about = full_size_about(BUNDLED_FULL_SR) if full else ""
        sections.append(
            "## Super-resolution: Set5, PSNR on Y (BT.601) (dB) / SSIM\n\n"
            f"`models/sr-rgb.safetensors` ({model_card(sr)}){full_about}; x8 = its self-ensemble of 8 flipped and "
            "transposed copies (8 times the compute); input and plain bicubic are the same "
            "image (bicubic down and up with OpenCV's INTER_CUBIC; at x1.5, x3 and x5 most pictures' sides do not "
            "divide, and the paper's protocol crops none, so the way back up is a fraction of a pixel off).\n\n"
            + table(["scale", "bicubic", "ours", "ours, 16 blocks", "16 blocks, x8", "paper HyperRes",
                     "s/image ours" + (" / 16 blocks" if full else "") + (" / x8" if full8 else "")], rows)
            + "\n![PSNR against scale](results/sr-set5.png)\n")

    for colour in H264_FRAMES:
        h264 = h264_section(colour)
        if h264:
            sections.append(h264)
    sections.append(noisy_video_section())

    video = results_video.section(cached, cell, table, JPEG_FILTERS, DATA, ROOT, MODELS, ELEMENT_CODE)
    if video:
        sections.append(video)

    header = (
        "# Results\n\n"
        f"Generated by `scripts/results` on {date.today()} at commit {commit}, on {cpu_name()} "
        f"({len(os.sched_getaffinity(0))} cores), CPU only. "
        "Every number below is measured here by `hyperres-train eval` (fixed degradation seed 0), but the real "
        "video's, which come from the element in a GStreamer pipeline; the per-image values "
        "and the paper's figures are in `docs/results/*.json`. Seconds are per image on this machine, from eval "
        "runs that may have shared its CPU with training jobs: indicative only (`scripts/bench` gives clean "
        "timings, `docs/bench-cpu.md`). A result is redone only when what its numbers depend on changed, so it "
        "keeps the seconds of the machine it ran on: compare seconds within a column, not across. FFmpeg's "
        "seconds are its own clock's (`ffmpeg -benchmark`'s real time: reading the image, the filter graph, "
        "writing), without the process's start-up (about 0.06 s, which was in them until 2026-12-05); ours are "
        "the restorer's alone. "
        "The FFmpeg figures reproduce the ones quoted in the project's issues (nlmeans 31.06 / 28.31 / 24.40 dB at "
        "sigma 15 / 25 / 50; spp 28.57 / 32.01 / 33.69 / 37.32 dB at q 10 / 30 / 50 / 80).\n\n")
    if STALE is not None:
        return
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "RESULTS.md").write_text(header + "\n".join(sections))
    print("wrote docs/RESULTS.md")


if __name__ == "__main__":
    main()
    if STALE is not None:
        report_stale()
