"""Levin solver speed: our exact fast path vs the straightforward build + scipy spsolve.

Both solve the same system (same weights, same scribbles) in the same process; reported are
build / solve / total wall times, CPU times, the ratio and max |U_fast - U_spsolve| (and V).
The fast path is repeated (median of --repeat runs); spsolve runs once per size.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/levin_speed.py --sizes 256 512 1024 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse.linalg as spla
from skimage import data, transform

from tinct.color import rgb_to_luma
from tinct.methods.levin.solve import solve_system
from tinct.methods.levin.strokes import random_strokes
from tinct.methods.levin.system import build_csr_reference, build_system
from tinct.methods.reinhard.colorspace import chroma_of

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    now = _clock()
    return now[0] - start[0], now[1] - start[1]


def problem(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Astronaut resized to size x size, strokes covering ~0.5 % of the pixels."""
    rgb = transform.resize(data.astronaut(), (size, size), anti_aliasing=True).astype(np.float32)
    hints = random_strokes(rgb, max(size * size // 2000, 1), np.random.default_rng(seed))
    return rgb_to_luma(rgb), hints.mask, chroma_of(rgb)


def fast(gray: np.ndarray, mask: np.ndarray, uv: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    t = _clock()
    system = build_system(gray, mask)
    build_wall, build_cpu = _since(t)
    t = _clock()
    x = solve_system(system, uv)
    solve_wall, solve_cpu = _since(t)
    return x, {"build_s": build_wall, "solve_s": solve_wall, "total_s": build_wall + solve_wall,
               "total_cpu_s": build_cpu + solve_cpu}


def baseline(gray: np.ndarray, mask: np.ndarray, uv: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    t = _clock()
    A = build_csr_reference(gray, mask)
    b = np.where(mask[..., None], uv, 0.0).reshape(-1, 2)
    build_wall, build_cpu = _since(t)
    t = _clock()
    x = spla.spsolve(A.tocsc(), b)
    solve_wall, solve_cpu = _since(t)
    times = {"build_s": build_wall, "solve_s": solve_wall, "total_s": build_wall + solve_wall,
             "total_cpu_s": build_cpu + solve_cpu}
    return x.reshape(uv.shape), times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-baseline", action="store_true", help="skip spsolve (for quick runs)")
    ap.add_argument("--out", default="levin_speed")
    args = ap.parse_args(argv)
    rows = []
    load_before = os.getloadavg()
    for size in args.sizes:
        gray, mask, uv = problem(size)
        runs = []
        for _ in range(args.repeat):
            x_fast, t_fast = fast(gray, mask, uv)
            runs.append(t_fast)
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        row = {"size": size, "pixels": size * size, "scribbled": int(mask.sum()), "fast_median": med,
               "fast_runs_total_s": [r["total_s"] for r in runs],
               "peak_rss_mb_after_fast": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if not args.no_baseline:
            x_ref, t_ref = baseline(gray, mask, uv)
            row["spsolve"] = t_ref
            row["ratio_total"] = t_ref["total_s"] / med["total_s"]
            row["max_abs_diff_U"] = float(np.abs(x_fast[..., 0] - x_ref[..., 0]).max())
            row["max_abs_diff_V"] = float(np.abs(x_fast[..., 1] - x_ref[..., 1]).max())
        print(json.dumps(row), flush=True)
        rows.append(row)
    command = "OMP_NUM_THREADS=2 .venv/bin/python benchmarks/levin_speed.py " + " ".join(sys.argv[1:])
    meta = {"command": command,
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                       f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}",
            "threads": os.environ.get("OMP_NUM_THREADS", "unset"), "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
