"""Cycle-CNN inference speed and peak memory at 780x1024, d = 64: straightforward vs optimized.

Each variant runs in its own fresh subprocess (so peak RSS is its own), same input, same weights
(random init of the paper's architecture: speed does not depend on the values). Output equality of
the variants is checked on the same image. Writes docs/results/cyclecnn_speed.{md,json}.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/cyclecnn_speed.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    # name: optimized = row strips + streaming softmax; prepare = folded BN + channels_last
    "straightforward": dict(optimized=False, prepare=False, bf16=False),
    "tiled + streaming": dict(optimized=True, prepare=False, bf16=False),
    "optimized (tiled + folded BN + channels_last)": dict(optimized=True, prepare=True, bf16=False),
    "optimized + bf16 autocast (approximate)": dict(optimized=True, prepare=True, bf16=True),
}


def _out_file(name: str) -> str:
    return f"/tmp/cyclecnn_speed_{list(VARIANTS).index(name)}.npy"


def _inputs(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    gray = torch.from_numpy(rng.random((1, 1, h, w), dtype=np.float32))
    ref = torch.from_numpy(rng.random((1, 3, h, w), dtype=np.float32))
    return gray, ref


def run_variant(name: str, h: int, w: int, d: int, repeats: int, threads: int, strip: int) -> dict:
    from tinct.methods.cyclecnn.inference import Networks, colorize_ycbcr, optimize_networks
    from tinct.methods.cyclecnn.model import ColorizationCNN, ModelConfig
    from tinct.methods.cyclecnn.refine import RefinementCNN

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nets = Networks(ColorizationCNN(ModelConfig()).eval(), RefinementCNN().eval())
    v = VARIANTS[name]
    if v["prepare"]:
        nets = optimize_networks(nets)
    gray, ref = _inputs(h, w)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # one untimed warm-up call (oneDNN primitive creation, allocator growth)
    colorize_ycbcr(nets, gray, ref, disparities=d, optimized=v["optimized"], strip_rows=strip, bf16=v["bf16"])
    times, cpu_times = [], []
    out = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = colorize_ycbcr(nets, gray, ref, disparities=d, optimized=v["optimized"], strip_rows=strip,
                             bf16=v["bf16"])
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    np.save(_out_file(name), out.numpy())
    return {
        "variant": name,
        "times_s": times,
        "median_s": statistics.median(times),
        "cpu_times_s": cpu_times, "median_cpu_s": statistics.median(cpu_times),
        "peak_rss_mb": peak / 1024,
        "rss_before_mb": rss0 / 1024,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--height", type=int, default=780)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--disparities", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--strip", type=int, default=128)
    ap.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "cyclecnn_speed"))
    args = ap.parse_args()
    if args.variant:
        res = run_variant(
            args.variant, args.height, args.width, args.disparities, args.repeats, args.threads, args.strip
        )
        print(json.dumps(res))
        return 0
    results = []
    for name in VARIANTS:
        cmd = [
            sys.executable,
            __file__,
            "--variant",
            name,
            "--height",
            str(args.height),
            "--width",
            str(args.width),
            "--disparities",
            str(args.disparities),
            "--repeats",
            str(args.repeats),
            "--threads",
            str(args.threads),
            "--strip",
            str(args.strip),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    outs = [np.load(_out_file(n)) for n in VARIANTS]
    for r, o in zip(results, outs, strict=True):
        r["max_abs_diff_vs_straightforward"] = float(np.abs(o - outs[0]).max())
    base = results[0]["median_cpu_s"]
    info = {
        "size": f"{args.height}x{args.width}",
        "disparities": args.disparities,
        "threads": args.threads,
        "strip_rows": args.strip,
        "repeats": args.repeats,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "torch": torch.__version__,
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(info, indent=2) + "\n")
    lines = [
        "# Cycle-CNN inference speed (M + refinement, 780x1024, d = 64)",
        "",
        f"Command: `OMP_NUM_THREADS={args.threads} .venv/bin/python benchmarks/cyclecnn_speed.py "
        f"--repeats {args.repeats} --threads {args.threads}`",
        "",
        f"Machine: {info['cores']} cores ({info['cpu']}), torch {torch.__version__}, {args.threads} threads; "
        f"load average at the end {tuple(round(x, 1) for x in info['load_average_at_end'])} "
        "(the machine is shared by several engineers: wall times are inflated by the load; the process CPU "
        "time divided by the thread count estimates the time on an idle machine).",
        "",
        "| variant | median wall s | runs s | median CPU s (all threads) | CPU s / threads | speed-up (CPU) "
        "| peak RSS MB | max abs diff vs straightforward |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['variant']} | {r['median_s']:.2f} | {', '.join(f'{t:.2f}' for t in r['times_s'])} | "
            f"{r['median_cpu_s']:.2f} | {r['median_cpu_s'] / args.threads:.2f} | "
            f"{base / r['median_cpu_s']:.2f}x | {r['peak_rss_mb']:.0f} | "
            f"{r['max_abs_diff_vs_straightforward']:.1e} |"
        )
    lines += ["", "Output: YCbCr in [0, 1]; peak RSS includes the Python/torch process (~300 MB).", ""]
    Path(args.out + ".md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
