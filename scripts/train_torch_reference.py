"""An independent PyTorch-eager implementation of the training recipe, to compare learning and speed
with `hyperres-train train` on the same machine (the model is tests/reference/hyperres_ref.py).

Usage: train_torch_reference.py DATA_DIR OUT.pth [--blocks 4] [--batch 8] [--patch 64] [--lr 1e-3]
       [--iters 1024] [--threads 2] [--seed 0]
Then:  hyperres-train import --from OUT.pth --out OUT.safetensors --levels 15,35,50,75
       hyperres-train eval --model OUT.safetensors --data CBSD68 --levels 25 --limit 20
"""

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "reference"))
from hyperres_ref import HyperRes, authors_init  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("data")
parser.add_argument("out")
for name, default in [("blocks", 4), ("batch", 8), ("patch", 64), ("iters", 1024), ("threads", 2), ("seed", 0)]:
    parser.add_argument(f"--{name}", type=int, default=default)
parser.add_argument("--lr", type=float, default=1e-3)
args = parser.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
random.seed(args.seed)
images = [
    np.asarray(Image.open(f).convert("RGB"))
    for f in sorted(Path(args.data).iterdir())
    if f.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
]
levels = [15, 35, 50, 75]
model = HyperRes(3, 64, args.blocks)
authors_init(model)
opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999))
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=args.iters // 2, gamma=0.1)


def crop():
    image = images[random.randrange(len(images))]
    h, w, _ = image.shape
    y, x = random.randrange(h - args.patch + 1), random.randrange(w - args.patch + 1)
    c = image[y : y + args.patch, x : x + args.patch]
    if random.random() < 0.5:
        c = c[:, ::-1]
    if random.random() < 0.5:
        c = c[::-1]
    if random.random() < 0.5:
        c = c.transpose(1, 0, 2)
    return torch.from_numpy(np.ascontiguousarray(c)).permute(2, 0, 1).float() / 255


start = time.time()
for it in range(args.iters):
    clean = torch.stack([crop() for _ in range(args.batch)])
    loss = 0
    for sigma in levels:
        noisy = torch.floor((clean + torch.randn_like(clean) * sigma / 255).clamp(0, 1) * 255) / 255
        loss = loss + F.l1_loss(model(noisy, sigma / 255), clean)
    loss = loss / len(levels)
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    if (it + 1) % 64 == 0:
        print(f"{it + 1} loss {loss.item():.5f} {(it + 1) / (time.time() - start):.2f} it/s", flush=True)
torch.save(model.state_dict(), args.out)
print(f"done in {time.time() - start:.0f} s")
