"""Fusion speed and memory beside deepcolor: 1 MP end to end in a warm process (median of runs, 2
threads), and the peak resident memory of colorizing a 24 MP photo in a fresh process.

    python benchmarks/fusion_speed.py [--weights W] [--repeat 7]

Writes docs/results/fusion_speed.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

CHILD = """
import resource, sys, time, numpy as np, tinct
from tinct.methods.fusion import FusionColorizer
name, weights, side = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = FusionColorizer(weights=weights) if name == "fusion" else tinct.load_method(name)
rng = np.random.default_rng(0)
small = np.kron(rng.random((side // 64, side // 64)), np.ones((64, 64))).astype(np.float32)
gray = np.clip(small + 0.05 * rng.random(small.shape, dtype=np.float32), 0, 1)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter(); out = m.colorize(gray); t = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base / 1024, peak / 1024, t, out.shape[0] * out.shape[1])
"""


def warm_times(name: str, weights: str, repeat: int) -> list[float]:
    import torch

    import tinct
    from tinct.methods.fusion import FusionColorizer

    torch.set_num_threads(2)
    method = FusionColorizer(weights=weights) if name == "fusion" else tinct.load_method(name)
    from skimage import data, transform

    from tinct.color import rgb_to_luma

    photo = transform.resize(data.astronaut(), (1024, 1024), anti_aliasing=True)
    gray = rgb_to_luma(photo).astype(np.float32)
    method.colorize(gray)  # warm-up
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        method.colorize(gray)
        out.append(time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="default")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--big-side", type=int, default=4928, help="square side of the memory test (24 MP)")
    args = ap.parse_args()
    result: dict = {"command": "python " + " ".join(sys.argv), "warm_1mp_s": {}, "memory": {}}
    for name in ("deepcolor", "fusion"):
        times = warm_times(name, args.weights, args.repeat)
        result["warm_1mp_s"][name] = {"median": float(np.median(times)), "runs": times}
    for name in ("fusion",):
        out = subprocess.run([sys.executable, "-c", CHILD, name, args.weights, str(args.big_side)],
                             capture_output=True, text=True, check=True).stdout.split()
        base, peak, seconds, pixels = map(float, out)
        result["memory"][name] = {"pixels": pixels, "rss_before_mb": base, "peak_rss_mb": peak,
                                  "seconds": seconds}
    from tinct.testing import write_report

    w = result["warm_1mp_s"]
    ratio = w["deepcolor"]["median"] / w["fusion"]["median"]
    mem = result["memory"]["fusion"]
    md = "\n".join([
        "# fusion speed and memory", "", f"`{result['command']}`", "",
        "| | deepcolor | fusion |", "|---|---|---|",
        f"| 1 MP (1024²), warm, median of {args.repeat}, 2 threads | {w['deepcolor']['median']:.3f} s | "
        f"{w['fusion']['median']:.3f} s ({ratio:.1f}x faster) |",
        "", f"24 MP ({mem['pixels'] / 1e6:.1f} MP) in a fresh process: peak RSS {mem['peak_rss_mb']:.0f} MB "
        f"(after import and loading: {mem['rss_before_mb']:.0f} MB; the input and output arrays alone are "
        f"{mem['pixels'] * 16 / 2**20:.0f} MB), {mem['seconds']:.1f} s.", ""])
    write_report("docs/results/fusion_speed", result, md)
    print(json.dumps(result["memory"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
