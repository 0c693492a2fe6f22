"""PyTorch-eager counterpart of `hyperres-bench`'s worker: the same checkpoint through the parity
reference (tests/reference/hyperres_ref.py, the authors' module layout, strict load), one frame of
the given size on the given device/precision/threads; prints {"median_ms": ...} as one JSON line.
The model regenerates its kernels from c inside every forward, as the authors' code does.

Usage: bench_torch.py CKPT DEVICE THREADS PRECISION WIDTH HEIGHT RUNS [channels_last] [cuda_graph]
(channels_last: the model and frame in NHWC layout, as gst-hyperres's restorer computes, to tell a
cost of the layout from one of the code. cuda_graph: each frame replays one captured CUDA graph of
the whole forward, free of per-kernel launch and Python costs: what CUDA graphs could at best give.)
"""

import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "reference"))
from hyperres_ref import load  # noqa: E402

ckpt, device, threads, precision, width, height, runs = sys.argv[1:8]
threads, width, height, runs = int(threads), int(width), int(height), int(runs)
options = sys.argv[8:]
assert set(options) <= {"channels_last", "cuda_graph"}, f"unknown options {options}"
layout = torch.channels_last if "channels_last" in options else torch.contiguous_format
dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
torch.set_num_threads(threads)
torch.backends.cudnn.benchmark = True
# fp32 as ours computes it on CUDA: IEEE, not TF32 (PyTorch's default for convolutions).
torch.backends.cudnn.conv.fp32_precision = "ieee"
model, meta = load(ckpt)
channels = 3 if meta["colour"] == "rgb" else 1
model = model.to(device=device, dtype=dtype, memory_format=layout)
low, high = json.loads(meta["level_range"])
c = (low + high) / 2 / float(meta["level_divisor"])
frame = torch.rand(1, channels, height, width, device=device).contiguous(memory_format=layout)


def restore():
    with torch.inference_mode():
        y = model(frame.to(dtype), c).float().clamp_(0, 1)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return y


if "cuda_graph" in options:
    if not device.startswith("cuda"):
        sys.exit("cuda_graph needs a CUDA device")
    # Warm up (cuDNN autotuning) on a side stream, as capture requires, then capture one forward.
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            restore()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.no_grad(), torch.cuda.graph(graph):
        replayed = model(frame.to(dtype), c).float().clamp_(0, 1)

    def restore():  # noqa: F811 (the graph's replay replaces the eager forward)
        graph.replay()
        torch.cuda.synchronize()
        return replayed


restore()
times = []
for _ in range(runs):
    start = time.perf_counter()
    restore()
    times.append((time.perf_counter() - start) * 1e3)
print(json.dumps({"median_ms": statistics.median(times)}))
