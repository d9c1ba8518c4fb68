"""Does a colorizer's colour follow the content, or is it one cast over everything?

The sepia check behind "a number that improves while the pictures stay sepia is not progress":
for each photo (resized to 256 px on the long side; the gray input is the BT.601 luma) the mean
CIELAB a and b of the prediction and of the original. A colorizer that paints one cast has a
per-image mean chroma that barely varies between images (small across-image spread) and is
uncorrelated with the originals' (correlation near 0); one that follows content approaches the
originals' spread and a correlation near 1. Also the within-image chroma spread (mean distance of
each pixel's ab from the image's mean ab): colour that varies inside a picture.

Usage::

    .venv/bin/python benchmarks/colour_content.py --data ../shared/data/photos/val \
        --row "spynco 80 min=spynco:/work/runs/spynco_ph96/g.safetensors" --row deepcolor=deepcolor \
        --out docs/results/colour_content_photos_val
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from skimage.transform import resize

from tinct import load_method
from tinct.color import rgb_to_lab, rgb_to_luma
from tinct.io import list_images, read_rgb
from tinct.testing import command_line, write_report

SIDE = 256


def chroma_stats(lab: np.ndarray) -> tuple[float, float, float]:
    """(mean a, mean b, within-image spread) of a ``(H, W, 3)`` CIELAB image."""
    ab = lab[..., 1:].reshape(-1, 2)
    mean = ab.mean(0)
    return float(mean[0]), float(mean[1]), float(np.hypot(*(ab - mean).T).mean())


def summarize(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """``pred``, ``true``: ``(N, 3)`` rows of :func:`chroma_stats` for the same N images."""
    def corr(i: int) -> float:
        if pred[:, i].std() < 1e-3 or true[:, i].std() < 1e-3:  # no spread: no correlation
            return 0.0
        return float(np.corrcoef(pred[:, i], true[:, i])[0, 1])
    return {"mean_a": float(pred[:, 0].mean()), "mean_b": float(pred[:, 1].mean()),
            "spread_a": float(pred[:, 0].std()), "spread_b": float(pred[:, 1].std()),
            "corr_a": corr(0), "corr_b": corr(1), "within": float(pred[:, 2].mean())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="folder of colour photos")
    ap.add_argument("--limit", type=int, default=None, help="first N photos (sorted)")
    ap.add_argument("--row", action="append", required=True, help="LABEL=METHOD[:WEIGHTS] (repeatable)")
    ap.add_argument("--out", required=True, help="report path without extension (.md and .json)")
    args = ap.parse_args(argv)
    files = list_images(args.data)[: args.limit]
    if not files:
        print(f"no images in {args.data}", file=sys.stderr)
        return 2
    grays, truth = [], []
    for f in files:
        rgb = read_rgb(f)
        s = SIDE / max(rgb.shape[:2])
        rgb = resize(rgb, (max(round(rgb.shape[0] * s), 8), max(round(rgb.shape[1] * s), 8)),
                     anti_aliasing=True).astype(np.float32)
        grays.append(rgb_to_luma(rgb).astype(np.float32))
        truth.append(chroma_stats(rgb_to_lab(rgb)))
    true = np.array(truth)
    result = {"originals": summarize(true, true)}
    for spec in args.row:
        label, _, target = spec.rpartition("=")
        method, _, weights = target.partition(":")
        colorizer = load_method(method, **({"weights": weights} if weights else {}))
        pred = np.array([chroma_stats(rgb_to_lab(colorizer.colorize(g))) for g in grays])
        result[label or method] = summarize(pred, true)
        print(f"{label or method}: {result[label or method]}", flush=True)
    command = command_line("benchmarks/colour_content.py", argv)
    title = f"Does the colour follow the content? ({Path(args.data).name}, {len(files)} photos at {SIDE} px)"
    lines = [f"# {title}", "", f"`{command}`", "",
             "Per image the mean CIELAB a, b of the prediction; across images: their mean, their spread "
             "(std) and their correlation with the originals' means; within: the mean distance of a "
             "pixel's ab from its image's mean. One cast over everything: small spread, correlation ≈ 0.",
             "", "| row | mean a | mean b | spread a | spread b | corr a | corr b | within-image |",
             "|---|---|---|---|---|---|---|---|"]
    for label, r in result.items():
        r = {k: round(v, 2) + 0.0 for k, v in r.items()}  # no "-0.0"
        lines.append(f"| {label} | {r['mean_a']:+.1f} | {r['mean_b']:+.1f} | {r['spread_a']:.1f} | "
                     f"{r['spread_b']:.1f} | {r['corr_a']:+.2f} | {r['corr_b']:+.2f} | {r['within']:.1f} |")
    write_report(args.out, {"command": command, "data": args.data, "n": len(files), "rows": result},
                 "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
