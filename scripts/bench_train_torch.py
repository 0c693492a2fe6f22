"""PyTorch-eager counterpart of `examples/bench_model`: the same HyperRes (tests/reference), the
same step (k levels, L1, Adam), on random data; prints the median milliseconds per step. On CUDA
both sides train with PyTorch's default float32 arithmetic (TF32 convolutions); PRECISION bf16
runs the forward under autocast to bfloat16 (PyTorch's mixed precision); LAYOUT channels_last
gives the model and the crops NHWC strides.

Usage: bench_train_torch.py THREADS BLOCKS BATCH PATCH [DEVICE=cpu] [PRECISION=fp32] [LAYOUT=nchw]
"""

import contextlib
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "reference"))
from hyperres_ref import HyperRes, authors_init  # noqa: E402

threads, blocks, batch, patch = map(int, sys.argv[1:5])
device, precision, layout = (sys.argv[5:] + ["cpu", "fp32", "nchw"][len(sys.argv[5:]) :])[:3]
memory_format = torch.channels_last if layout == "channels_last" else torch.contiguous_format
torch.set_num_threads(threads)
torch.backends.cudnn.benchmark = True
torch.manual_seed(0)
levels = [15 / 255, 35 / 255, 50 / 255, 75 / 255]
model = HyperRes(3, 64, blocks)
authors_init(model)
model = model.to(device, memory_format=memory_format)
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
x = [torch.rand(batch, 3, patch, patch, device=device).contiguous(memory_format=memory_format) for _ in levels]
target = torch.rand(batch, 3, patch, patch, device=device)
if precision == "bf16":
    autocast = torch.autocast(device.split(":")[0], dtype=torch.bfloat16)
else:
    autocast = contextlib.nullcontext()


def step():
    opt.zero_grad()
    with autocast:
        outputs = [model(x[i], c) for i, c in enumerate(levels)]
    loss = sum(F.l1_loss(out.float(), target) for out in outputs) / len(levels)
    loss.backward()
    opt.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()


step()
times = []
for _ in range(7):
    start = time.perf_counter()
    step()
    times.append((time.perf_counter() - start) * 1e3)
print(f"{statistics.median(times):.1f}")
