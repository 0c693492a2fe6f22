"""PyTorch-eager counterpart of `hyperres-bench`'s worker: the same checkpoint through the parity
reference (tests/reference/hyperres_ref.py, the authors' module layout, strict load), one frame of
the given size on the given device/precision/threads; prints {"median_ms": ...} as one JSON line.
The model regenerates its kernels from c inside every forward, as the authors' code does.

Usage: bench_torch.py CKPT DEVICE THREADS PRECISION WIDTH HEIGHT RUNS [channels_last]
(channels_last: the model and frame in NHWC layout, as gst-hyperres's restorer computes, to tell a
cost of the layout from one of the code.)
"""

import json
import statistics
import sys
import time
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "reference"))
from hyperres_ref import HyperRes, restorer_state_from_ours  # noqa: E402

ckpt, device, threads, precision, width, height, runs = sys.argv[1:8]
threads, width, height, runs = int(threads), int(width), int(height), int(runs)
layout = torch.channels_last if sys.argv[8:] == ["channels_last"] else torch.contiguous_format
dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
torch.set_num_threads(threads)
torch.backends.cudnn.benchmark = True
# fp32 as ours computes it on CUDA: IEEE, not TF32 (PyTorch's default for convolutions).
torch.backends.cudnn.conv.fp32_precision = "ieee"
with safe_open(ckpt, "pt") as f:
    meta = f.metadata()
channels = 3 if meta["colour"] == "rgb" else 1
blocks = int(meta["blocks"])
model = HyperRes(channels, int(meta["width"]), blocks, meta.get("input_skip") == "true")
model.load_state_dict(restorer_state_from_ours(load_file(ckpt), blocks), strict=True)
model = model.to(device=device, dtype=dtype, memory_format=layout).eval()
low, high = json.loads(meta["level_range"])
c = (low + high) / 2 / float(meta["level_divisor"])
frame = torch.rand(1, channels, height, width, device=device).contiguous(memory_format=layout)


def restore():
    with torch.inference_mode():
        y = model(frame.to(dtype), c).float().clamp_(0, 1)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return y


restore()
times = []
for _ in range(runs):
    start = time.perf_counter()
    restore()
    times.append((time.perf_counter() - start) * 1e3)
print(json.dumps({"median_ms": statistics.median(times)}))
