"""Independent SSIM (Wang et al. 2004; 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, valid
region, mean over channels) in numpy, for checking the trainer's SSIM.

Usage: ssim_ref.py A.raw B.raw C H W   (uint8, [C, H, W] row-major); prints the SSIM.
"""

import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

a_path, b_path, c, h, w = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
a = np.fromfile(a_path, dtype=np.uint8).reshape(c, h, w).astype(np.float64)
b = np.fromfile(b_path, dtype=np.uint8).reshape(c, h, w).astype(np.float64)

x = np.arange(11) - 5
g = np.exp(-(x**2) / (2 * 1.5**2))
window = np.outer(g, g) / np.outer(g, g).sum()


def filt(img):
    return np.einsum("ijkl,kl->ij", sliding_window_view(img, (11, 11)), window)


c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
values = []
for ch in range(c):
    x_, y_ = a[ch], b[ch]
    mx, my = filt(x_), filt(y_)
    vx, vy, cxy = filt(x_ * x_) - mx**2, filt(y_ * y_) - my**2, filt(x_ * y_) - mx * my
    ssim_map = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    values.append(ssim_map.mean())
print(repr(float(np.mean(values))))
