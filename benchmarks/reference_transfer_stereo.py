"""Reference-based transfer (welsh, reinhard) on the six Middlebury 2005 stereo pairs.

The left view's BT.601 luma is the input, the right colour view the reference; PSNR / SSIM
(tinct.metrics) against the left view's true colour, with the gray floor for comparison. Also
times welsh and reinhard at 1 MP (astronaut luma 1024x1024, chelsea as the reference).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/reference_transfer_stereo.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from skimage import data, transform

from tinct.color import rgb_to_luma
from tinct.io import read_rgb
from tinct.metrics import psnr, ssim
from tinct.registry import load_method

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
STEREO = ROOT.parent / "shared" / "data" / "stereo" / "middlebury2005"
SCENES = ["art", "books", "dolls", "laundry", "moebius", "reindeer"]
METHODS = ["gray", "reinhard", "welsh"]


def time_1mp(repeat: int = 5) -> dict[str, float]:
    gray = rgb_to_luma(transform.resize(data.astronaut(), (1024, 1024)).astype(np.float32))
    ref = data.chelsea().astype(np.float32) / 255
    out = {}
    for name in ("reinhard", "welsh"):
        method = load_method(name)
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            method.colorize(gray, reference=ref)
            times.append(time.perf_counter() - t)
        out[name] = statistics.median(times)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=STEREO)
    ap.add_argument("--out", default="reference_transfer_stereo")
    args = ap.parse_args(argv)
    per: dict[str, list[dict[str, float | str]]] = {m: [] for m in METHODS}
    for scene in SCENES:
        left = read_rgb(args.data / f"mb2005_{scene}_left.png")
        right = read_rgb(args.data / f"mb2005_{scene}_right.png")
        gray = rgb_to_luma(left)
        for name in METHODS:
            t = time.perf_counter()
            out = load_method(name).colorize(gray, reference=right if name != "gray" else None)
            per[name].append({"scene": scene, "psnr": psnr(out, left), "ssim": ssim(out, left),
                              "seconds": time.perf_counter() - t})
        print(scene, {m: round(float(per[m][-1]["psnr"]), 2) for m in METHODS}, flush=True)
    rows = [{"method": m, "psnr_mean": statistics.mean(float(r["psnr"]) for r in per[m]),
             "ssim_mean": statistics.mean(float(r["ssim"]) for r in per[m])} for m in METHODS]
    speed = time_1mp()
    command = "OMP_NUM_THREADS=2 .venv/bin/python benchmarks/reference_transfer_stereo.py " + " ".join(
        argv or sys.argv[1:])
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"command": command, "rows": rows, "per_scene": per, "seconds_at_1mp_median": speed}
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Reference transfer on Middlebury 2005 (left luma + right colour view)", "",
             "Input: BT.601 luma of the left view; reference: the right colour view (not warped); "
             "scores against the left view's true colour, RGB in [0, 1], `tinct.metrics` PSNR (dB) / "
             "SSIM. Six third-size pairs (~460x370) of Scharstein et al. (Middlebury 2005).", "",
             f"Command: `{command}`", "",
             "| scene | " + " | ".join(f"{m} PSNR | {m} SSIM" for m in METHODS) + " |",
             "|---|" + "---:|" * (2 * len(METHODS))]
    for i, scene in enumerate(SCENES):
        cells = " | ".join(f"{float(per[m][i]['psnr']):.2f} | {float(per[m][i]['ssim']):.4f}"
                           for m in METHODS)
        lines.append(f"| {scene} | {cells} |")
    cells = " | ".join(f"**{r['psnr_mean']:.2f}** | **{r['ssim_mean']:.4f}**" for r in rows)
    lines += [f"| mean | {cells} |", "",
              f"Time at 1 MP (1024x1024 gray, 451x300 reference), median of 5, shared 2-core machine: "
              f"reinhard {speed['reinhard']:.2f} s, welsh {speed['welsh']:.2f} s.", ""]
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
