"""Converts a PyTorch state-dict pickle (.pth) into a safetensors file of float32 tensors.

Usage: python pth_to_safetensors.py IN.pth OUT.safetensors
Accepts a bare state dict or one wrapped under "state_dict", "model" or "net".
"""

import sys

import torch
from safetensors.torch import save_file

obj = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
for key in ("state_dict", "model", "net"):
    if isinstance(obj, dict) and isinstance(obj.get(key), dict):
        obj = obj[key]
if not isinstance(obj, dict):
    sys.exit(f"{sys.argv[1]}: not a state dict (found {type(obj).__name__})")
tensors = {k: v.detach().float().contiguous() for k, v in obj.items() if torch.is_tensor(v)}
save_file(tensors, sys.argv[2])
