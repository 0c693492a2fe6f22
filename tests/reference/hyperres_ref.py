"""PyTorch reference of the HyperRes restorer and the NoiseNet level estimator, written from the
facts about the authors' implementation and in their module layout (so that its state_dict has
their key names). Used by tests/parity.rs; not part of the product.

  hyperres_ref.py forward CKPT INPUT OUTPUT
      Loads one of our checkpoints (mapped to the authors' keys, strict), runs it on tensor "x"
      of INPUT (restorer: at tensor "level", in task units) and writes tensor "y" to OUTPUT.
  hyperres_ref.py make-authors OUT.pth CHANNELS WIDTH BLOCKS SEED
      Writes a restorer state_dict in the authors' layout: their initialisation, then every
      parameter perturbed so that no bias is zero.
"""

import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file


def conv3x3(c_in, c_out, stride=1):
    return nn.Conv2d(c_in, c_out, 3, stride, 1)


class Wrapped(nn.Module):
    """The authors wrap plain convs, hence their `convN.module.weight` keys."""

    def __init__(self, conv):
        super().__init__()
        self.module = conv

    def forward(self, x):
        return self.module(x)


class MetaConv(nn.Module):
    """A conv whose kernel and bias are the outputs of Linear(1 -> out*(in*9+1)) at c."""

    def __init__(self, width):
        super().__init__()
        self.width = width
        self.fc = nn.Linear(1, width * (width * 9 + 1))

    def forward(self, x, c):
        t = self.fc(torch.full((1, 1), c, dtype=x.dtype, device=x.device))[0]
        n = self.width * self.width * 9
        return F.conv2d(x, t[:n].view(self.width, self.width, 3, 3), t[n:], padding=1)


class MetaBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.hy_conv1 = MetaConv(width)
        self.hy_conv2 = MetaConv(width)

    def forward(self, x, c):
        return x + self.hy_conv2(F.relu(self.hy_conv1(x, c)), c)


class HyperRes(nn.Module):
    def __init__(self, channels, width, blocks, input_skip=False):
        super().__init__()
        # Not in the authors' network: gst-hyperres checkpoints with input_skip add the input.
        self.input_skip = input_skip
        self.conv1 = Wrapped(conv3x3(channels, width, 2))
        self.res_blocks_meta = nn.ModuleList([nn.Identity()] + [MetaBlock(width) for _ in range(blocks)])
        self.conv2 = Wrapped(conv3x3(width, width))
        self.conv3 = Wrapped(conv3x3(width, 4 * width))
        self.conv4 = Wrapped(conv3x3(width, width))
        self.conv5 = Wrapped(conv3x3(width, channels))

    def forward(self, x, c):
        head = self.conv1(x)
        h = head
        for block in self.res_blocks_meta[1:]:
            h = block(h, c)
        h = head + self.conv2(h)
        h = F.relu(F.pixel_shuffle(self.conv3(h), 2))
        out = self.conv5(F.relu(self.conv4(h)))
        return out + x if self.input_skip else out


class ResBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv1 = conv3x3(width, width)
        self.conv2 = conv3x3(width, width)

    def forward(self, x):
        return self.conv2(F.relu(self.conv1(x))) + x


class NoiseNet(nn.Module):
    def __init__(self, channels, width, stages):
        super().__init__()
        self.conv1 = conv3x3(channels, width, 2)
        layers = []
        for _ in range(stages):
            layers += [ResBlock(width), nn.MaxPool2d(2)]
        self.conv_seq = nn.Sequential(*layers)
        side = 64 >> stages
        self.fc_seq = nn.Sequential(
            nn.Linear(width * side * side, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1)
        )

    def forward(self, x):
        return self.fc_seq(self.conv_seq(self.conv1(x)).flatten(1)).view(-1)


def authors_init(model):
    """Kaiming-normal (fan-in) x 0.1 and zero bias, for convs and the meta Linear layers."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in")
            m.weight.data *= 0.1
            nn.init.zeros_(m.bias)


def restorer_state_from_ours(ours, blocks):
    state = {}
    for name, t in ours.items():
        if name.startswith("conv"):
            conv, param = name.split(".")
            state[f"{conv}.module.{param}"] = t
    slopes = ours["generated.w"].view(blocks * 2, -1)
    offsets = ours["generated.b"].view(blocks * 2, -1)
    for i in range(blocks * 2):
        prefix = f"res_blocks_meta.{i // 2 + 1}.hy_conv{i % 2 + 1}.fc"
        state[f"{prefix}.weight"] = slopes[i].view(-1, 1)
        state[f"{prefix}.bias"] = offsets[i]
    return state


def metadata(ckpt):
    """The gst-hyperres metadata of one of our checkpoints, without reading its tensors."""
    with safe_open(ckpt, "pt") as f:
        return f.metadata()


def load(ckpt):
    """One of our checkpoints (a restorer, or a noisenet estimator: the reference has no
    blockgrid) as the reference module, in float32 (strict load), with its metadata."""
    meta = metadata(ckpt)
    if meta["kind"] != "restorer" and meta.get("architecture", "noisenet") != "noisenet":
        raise ValueError(f"{ckpt}: the reference has no {meta['architecture']} network")
    ours = load_file(ckpt)
    channels = 3 if meta["colour"] == "rgb" else 1
    width, blocks = int(meta["width"]), int(meta["blocks"])
    if meta["kind"] == "restorer":
        model = HyperRes(channels, width, blocks, meta.get("input_skip") == "true")
        model.load_state_dict(restorer_state_from_ours(ours, blocks), strict=True)
    else:
        model = NoiseNet(channels, width, blocks)
        model.load_state_dict(ours, strict=True)
    return model.eval(), meta


def forward(ckpt, input_path, output_path):
    model, meta = load(ckpt)
    inputs = load_file(input_path)
    torch.set_grad_enabled(False)
    if meta["kind"] == "restorer":
        y = model(inputs["x"], inputs["level"].item() / float(meta["level_divisor"]))
    else:
        y = model(inputs["x"])
    save_file({"y": y.contiguous()}, output_path)


def make_authors(out, channels, width, blocks, seed):
    torch.manual_seed(seed)
    model = HyperRes(channels, width, blocks)
    authors_init(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    torch.save(model.state_dict(), out)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "forward":
        forward(*args)
    elif command == "make-authors":
        make_authors(args[0], *map(int, args[1:]))
    else:
        sys.exit(f"unknown command {command}")
