"""PyTorch-eager counterpart of `examples/bench_model`: the same HyperRes (tests/reference), the
same step (k levels, L1, Adam), on random data; prints the median milliseconds per step. On CUDA
both sides train with PyTorch's default float32 arithmetic (TF32 convolutions).

Usage: bench_train_torch.py THREADS BLOCKS BATCH PATCH [DEVICE=cpu]
"""

import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "reference"))
from hyperres_ref import HyperRes, authors_init  # noqa: E402

threads, blocks, batch, patch = map(int, sys.argv[1:5])
device = sys.argv[5] if len(sys.argv) > 5 else "cpu"
torch.set_num_threads(threads)
torch.backends.cudnn.benchmark = True
torch.manual_seed(0)
levels = [15 / 255, 35 / 255, 50 / 255, 75 / 255]
model = HyperRes(3, 64, blocks)
authors_init(model)
model = model.to(device)
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
x = torch.rand(len(levels), batch, 3, patch, patch, device=device)
target = torch.rand(batch, 3, patch, patch, device=device)


def step():
    opt.zero_grad()
    loss = sum(F.l1_loss(model(x[i], c), target) for i, c in enumerate(levels)) / len(levels)
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
