"""Is half precision safe for the bundled restorers (the element's `precision=auto` on CUDA)?

For every restorer in models/, over its whole accepted level range (the recommended range widened
by a quarter per side, as the element allows), on real images degraded at each level, prints the
largest magnitude any activation and any generated weight reaches in fp32 (fp16 overflows at
65504), and the PSNR of fp16 inference minus that of fp32 at the range's ends and middle (on a
central crop). Runs the parity reference on the CPU, with PyTorch's CPU fp16 convolutions standing
in for cuDNN's (on an H200 the bundled denoiser was measured directly: README, "On a GPU"); 28
minutes on 2 cores with 4 images.

Usage: .venv/bin/python scripts/fp16_check.py ../shared/data/test/CBSD68 [IMAGES]
(after cargo build --release: the accepted ranges come from `hyperres-train info`)
"""

import copy
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "reference"))
from hyperres_ref import MetaConv, load, metadata  # noqa: E402

folder, count = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 4
torch.set_num_threads(2)


def degrade(image, task, level, seed):
    """`image` (PIL, even-sized) degraded as the task's model expects at `level`, as a [0, 1] array."""
    if task == "denoise":
        x = np.asarray(image, dtype=np.float32) / 255
        noise = np.random.default_rng(seed).normal(0, level / 255, x.shape).astype(np.float32)
        return np.round(np.clip(x + noise, 0, 1) * 255) / 255
    if task == "dejpeg":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=int(min(max(round(level), 1), 100)))
        return np.asarray(Image.open(buffer), dtype=np.float32) / 255
    small = image.resize((max(1, round(image.width / level)), max(1, round(image.height / level))), Image.BICUBIC)
    return np.asarray(small.resize(image.size, Image.BICUBIC), dtype=np.float32) / 255


def accepted_levels(checkpoint):
    """The levels the element accepts for `checkpoint`: Metadata::accepted_levels, as
    `hyperres-train info` prints it ("accepted levels LOW..HIGH")."""
    info = subprocess.run([ROOT / "target/release/hyperres-train", "info", checkpoint],
                          check=True, capture_output=True, text=True).stdout
    low, high = re.search(r"accepted levels\s+(\S+)\.\.(\S+)", info).groups()
    return float(low), float(high)


def psnr(restored, clean):
    restored = (restored.clamp(0, 1) * 255).round()
    return 10 * torch.log10(255**2 / ((restored - clean * 255) ** 2).mean()).item()


for checkpoint in sorted(Path("models").glob("*.safetensors")):
    if metadata(checkpoint)["kind"] != "restorer":
        continue
    model, meta = load(checkpoint)
    channels = 3 if meta["colour"] == "rgb" else 1
    half = copy.deepcopy(model).half()
    peak = {"activation": 0.0, "weight": 0.0}

    def track(key):
        return lambda module, inputs, output: peak.__setitem__(key, max(peak[key], output.abs().max().item()))

    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, MetaConv)):
            module.register_forward_hook(track("activation"))
        if isinstance(module, MetaConv):
            module.fc.register_forward_hook(track("weight"))

    low, high = json.loads(meta["level_range"])
    lowest, highest = accepted_levels(checkpoint)
    levels = [lowest, low, (low + high) / 2, high, highest]
    gains = {}
    for index, path in enumerate(sorted(folder.glob("*.png"))[:count]):
        image = Image.open(path).convert("RGB" if channels == 3 else "L")
        image = image.crop((0, 0, image.width // 2 * 2, image.height // 2 * 2))
        clean = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255)
        clean = (clean.permute(2, 0, 1) if channels == 3 else clean[None])[None]
        for level in levels:
            degraded = torch.from_numpy(degrade(image, meta["task"], level, index))
            degraded = (degraded.permute(2, 0, 1) if channels == 3 else degraded[None])[None].contiguous()
            c = level / float(meta["level_divisor"])
            with torch.inference_mode():
                model(degraded, c)
                if level in levels[1:4]:
                    # PyTorch's CPU fp16 convolutions are slow (35 s for a 6-block 480x320 frame
                    # here): compared on the central 192x192 crop.
                    top, left = (degraded.shape[2] - 192) // 2, (degraded.shape[3] - 192) // 2
                    crop = (..., slice(top, top + 192), slice(left, left + 192))
                    full = model(degraded[crop], c)
                    reduced = half(degraded[crop].half(), c).float()
                    gains.setdefault(level, []).append(psnr(reduced, clean[crop]) - psnr(full, clean[crop]))
    print(
        f"{checkpoint.name}: levels {levels[0]:g}..{levels[-1]:g}: largest activation "
        f"{peak['activation']:.1f}, largest generated weight {peak['weight']:.3f}; fp16 - fp32 PSNR "
        + ", ".join(f"{level:g}: {np.mean(g):+.4f} dB" for level, g in gains.items()),
        flush=True,
    )
