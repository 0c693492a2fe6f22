"""Labels coded frames with the level that restores each best, for `hyperres-train estimator --coded`.

Usage: h264_labels.py EVAL.json CODED_DIR [--range LOW,HIGH]

EVAL.json is `hyperres-train eval --model RESTORER --data CLEAN --coded CODED_DIR --levels GRID --json
EVAL.json` over a grid of levels. Each frame's label is its best grid level, refined by the vertex of
the parabola through it and its neighbours in log(level), and kept in the estimator's range
(default 5..95, the JPEG-quality estimator's). Writes CODED_DIR/levels.json. (`hyperres-train
estimator --regret EVAL.json` reads the whole curves from the same report.)
"""

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path


def best_level(curve, low, high):
    """The level of highest PSNR on `curve` [(level, psnr)] sorted by level, refined and clamped."""
    i = max(range(len(curve)), key=lambda k: curve[k][1])
    level = curve[i][0]
    if 0 < i < len(curve) - 1:
        (x0, y0), (x1, y1), (x2, y2) = ((math.log(l), p) for l, p in curve[i - 1 : i + 2])
        # Vertex of the parabola through the three points (a maximum, since y1 is the largest).
        d = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
        if d != 0:
            n = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
            level = math.exp(min(max(x1 - 0.5 * n / d, x0), x2))
    return min(max(level, low), high)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_json", type=Path)
    parser.add_argument("coded", type=Path)
    parser.add_argument("--range", default="5,95")
    args = parser.parse_args()
    low, high = map(float, args.range.split(","))
    curves = defaultdict(list)
    for row in json.loads(args.eval_json.read_text())["images"]:
        curves[row["image"]].append((row["level"], row["psnr"]))
    labels = {name: round(best_level(sorted(curve), low, high), 2) for name, curve in sorted(curves.items())}
    (args.coded / "levels.json").write_text(json.dumps(labels, indent=0) + "\n")
    print(f"{len(labels)} frames labelled in {args.coded / 'levels.json'}")


if __name__ == "__main__":
    main()
