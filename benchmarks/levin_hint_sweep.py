"""Levin et al. on Kodak24 with scribbles synthesized from the ground truth: quality vs hints.

N random short strokes (5-15 px long, 1-3 px wide, random directions) carry the TRUE colour;
the gray input is the photo's BT.601 luma. PSNR / SSIM (tinct.metrics) are averaged over the
24 images for each N; N = 0 is the gray image (no scribbles). Strokes use a fixed seed per
image (the same start seed for every N, so larger N are not supersets).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/levin_hint_sweep.py --counts 0 10 100 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from tinct.color import rgb_to_luma
from tinct.io import read_rgb
from tinct.methods.levin import LevinColorizer
from tinct.methods.levin.strokes import random_strokes
from tinct.metrics import psnr, ssim

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
KODAK = ROOT.parent / "shared" / "data" / "eval" / "kodak24"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", type=int, nargs="+", default=[0, 10, 100, 1000])
    ap.add_argument("--data", type=Path, default=KODAK)
    ap.add_argument("--limit", type=int, default=0, help="only the first N images (smoke runs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="levin_hint_sweep")
    args = ap.parse_args(argv)
    paths = sorted(args.data.glob("*.png"))[: args.limit or None]
    if not paths:
        print(f"no images in {args.data}", file=sys.stderr)
        return 1
    method = LevinColorizer()
    per: dict[int, list[dict[str, float]]] = {n: [] for n in args.counts}
    for i, path in enumerate(paths):
        rgb = read_rgb(path)
        gray = rgb_to_luma(rgb)
        for n in args.counts:
            hints = random_strokes(rgb, n, np.random.default_rng(args.seed + i))
            t = time.perf_counter()
            out = method.colorize(gray, hints=hints)
            per[n].append({"image": path.stem, "psnr": psnr(out, rgb), "ssim": ssim(out, rgb),
                           "scribbled": int(hints.mask.sum()), "seconds": time.perf_counter() - t})
        print(path.stem, [round(per[n][-1]["psnr"], 2) for n in args.counts], flush=True)
    rows = [{"strokes": n, "images": len(per[n]),
             "scribbled_pixels_mean": statistics.mean(r["scribbled"] for r in per[n]),
             "scribbled_fraction_mean": statistics.mean(r["scribbled"] for r in per[n]) / gray.size,
             "psnr_mean": statistics.mean(r["psnr"] for r in per[n]),
             "ssim_mean": statistics.mean(r["ssim"] for r in per[n]),
             "seconds_median": statistics.median(r["seconds"] for r in per[n])} for n in args.counts]
    command = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/levin_hint_sweep.py " + " ".join(
        argv or sys.argv[1:])
    result = {"command": command, "dataset": "kodak24", "rows": rows, "per_image": per}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Levin et al. 2004 on Kodak24: quality vs number of scribbles", "",
             "Scribbles are random short strokes (5-15 px long, 1-3 px wide, random direction) that "
             "carry the ground-truth colour; input = the photo's BT.601 luma; exact solve of the "
             "paper's system (`tinct.methods.levin`). PSNR (dB) and SSIM on RGB in [0, 1] "
             "(`tinct.metrics`), mean over the 24 images (768x512). N = 0 is the gray floor.", "",
             f"Command: `{command}`", "",
             "| strokes N | scribbled pixels (mean) | % of pixels | PSNR | SSIM | s / image (median) |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['strokes']} | {r['scribbled_pixels_mean']:.0f} "
                     f"| {100 * r['scribbled_fraction_mean']:.3f} | {r['psnr_mean']:.2f} "
                     f"| {r['ssim_mean']:.4f} | {r['seconds_median']:.2f} |")
    lines += ["", "Kodak Lossless True Color suite (released for unrestricted use). Timings are on the "
              "shared 2-core development machine under load, one thread.", ""]
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
