"""Cycle-CNN inference speed and peak memory at 780x1024, d = 64: both weight volumes, both paths.

Variants: for the dot-product volume (``volume = "dot"``, the ablation) and the regularized
cost volume (``volume = "cost3d"``, issue 14, bundled), the straightforward modules (``optimized=False``, the
reference: W materialised at full resolution) and the fused fp32 path (``optimized=True``, default of
the ``cyclecnn`` method: oneDNN-fused convolutions on row strips, banded block-matmul cost volume;
for cost3d the 3-D network on the pooled volume in row strips and the up-sampled logits added strip by
strip); plus cost3d with its cost volume at full resolution (``cost_stride = 1``, the authors' layout,
fused path in strips) to show what the 1/4-resolution volume saves. All of these include the refinement
CNN; the "M only" pair is the shipped configuration (cost3d M, no refinement CNN is bundled). The
older tiled paths (streaming softmax loop, bf16 autocast) were removed; their last measurements are in
docs/results/cyclecnn_speed.md.

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
    # name: the colorize_ycbcr path; prepare = optimize_networks (the fused networks built once);
    # volume/stride: the model; ref: the variant whose output this one must equal
    "straightforward": dict(optimized=False, prepare=False, volume="dot", stride=4, ref="straightforward"),
    "fused fp32 (default)": dict(optimized=True, prepare=True, volume="dot", stride=4, ref="straightforward"),
    "cost3d 1/4, straightforward": dict(optimized=False, prepare=False, volume="cost3d", stride=4,
                                        ref="cost3d 1/4, straightforward"),
    "cost3d 1/4, fused": dict(optimized=True, prepare=True, volume="cost3d", stride=4,
                              ref="cost3d 1/4, straightforward"),
    "cost3d full-res volume, fused": dict(optimized=True, prepare=True, volume="cost3d", stride=1, ref=None),
    # the shipped configuration (session 17 on): cost3d M without a refinement CNN
    "M only: cost3d 1/4, straightforward": dict(optimized=False, prepare=False, volume="cost3d", stride=4,
                                                refine=False, ref="M only: cost3d 1/4, straightforward"),
    "M only: cost3d 1/4, fused (shipped)": dict(optimized=True, prepare=True, volume="cost3d", stride=4,
                                                refine=False, ref="M only: cost3d 1/4, straightforward"),
}


def _out_file(name: str) -> str:
    return f"/tmp/cyclecnn_speed_{list(VARIANTS).index(name)}.npy"


def _inputs(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    gray = torch.from_numpy(rng.random((1, 1, h, w), dtype=np.float32))
    ref = torch.from_numpy(rng.random((1, 3, h, w), dtype=np.float32))
    return gray, ref


def run_variant(name: str, h: int, w: int, d: int, repeats: int, threads: int, strip: int | None) -> dict:
    from tinct.methods.cyclecnn.inference import Networks, colorize_ycbcr, optimize_networks
    from tinct.methods.cyclecnn.model import ColorizationCNN, ModelConfig
    from tinct.methods.cyclecnn.refine import RefinementCNN

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    v = VARIANTS[name]
    model = ColorizationCNN(ModelConfig(volume=v["volume"], cost_stride=v["stride"]))
    nets = Networks(model.eval(), RefinementCNN().eval() if v.get("refine", True) else None)
    if v["prepare"]:
        nets = optimize_networks(nets)
    gray, ref = _inputs(h, w)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # the first call is timed apart (oneDNN primitive creation, allocator growth)
    t0 = time.perf_counter()
    colorize_ycbcr(nets, gray, ref, disparities=d, optimized=v["optimized"], strip_rows=strip)
    first = time.perf_counter() - t0
    times, cpu_times = [], []
    out = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = colorize_ycbcr(nets, gray, ref, disparities=d, optimized=v["optimized"], strip_rows=strip)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    np.save(_out_file(name), out.numpy())
    return {
        "variant": name,
        "first_call_s": first,
        "times_s": times,
        "median_s": statistics.median(times),
        "cpu_times_s": cpu_times, "median_cpu_s": statistics.median(cpu_times),
        "peak_rss_mb": peak / 1024,
        "rss_before_mb": rss0 / 1024,
    }


class _Timed:
    """Wraps a callable, adding its wall and CPU time to ``totals[name]``; other attributes pass through."""

    def __init__(self, inner, name: str, totals: dict) -> None:
        self.inner, self.name, self.totals = inner, name, totals

    def __getattr__(self, attr: str):
        return getattr(self.inner, attr)

    def __call__(self, *args, **kwargs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = self.inner(*args, **kwargs)
        wall, cpu = self.totals.setdefault(self.name, [0.0, 0.0])
        self.totals[self.name] = [wall + time.perf_counter() - t0, cpu + time.process_time() - c0]
        return out


def stage_times(h: int, w: int, d: int, repeats: int, threads: int, volume: str, refine: bool) -> str:
    """Markdown table: median wall and CPU seconds of each stage of the fused path."""
    from tinct.methods.cyclecnn import fused
    from tinct.methods.cyclecnn.model import ColorizationCNN, ModelConfig
    from tinct.methods.cyclecnn.refine import RefinementCNN

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = ColorizationCNN(ModelConfig(volume=volume)).eval()
    nets = fused.FusedNetworks(model, RefinementCNN().eval() if refine else None)
    totals: dict = {}
    for name in ("gray", "color", "guide", "body"):
        if getattr(nets, name) is not None:
            setattr(nets, name, _Timed(getattr(nets, name), f"{name} ResNet", totals))
    fused.banded_average = _Timed(fused.banded_average, "banded cost volume", totals)
    if nets.cost is not None:  # the 3-D network (pooled features -> coarse logits) and their up-sampling
        nets.cost.coarse_logits = _Timed(nets.cost.coarse_logits, "3-D network (coarse logits)", totals)
        fused.upsample_logits = _Timed(fused.upsample_logits, "logit up-sampling", totals)
    gray, ref = _inputs(h, w)
    nets.colorize(gray, ref, disparities=d)
    runs = []
    for _ in range(repeats):
        totals.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        nets.colorize(gray, ref, disparities=d)
        runs.append({**totals, "total": [time.perf_counter() - t0, time.process_time() - c0]})
    lines = [f"| stage | wall s ({threads} threads) | CPU s |", "|---|---|---|"]
    for name in runs[0]:
        lines.append(f"| {name} | {statistics.median(r[name][0] for r in runs):.3f} | "
                     f"{statistics.median(r[name][1] for r in runs):.3f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--height", type=int, default=780)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--disparities", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--strip", type=int, default=0, help="rows per strip (0: each path's default)")
    ap.add_argument("--only", action="append", default=None,
                    help="only variants whose name contains this (repeatable; straightforward and each "
                    "variant's reference always run)")
    ap.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "cyclecnn_speed"))
    ap.add_argument("--report-only", action="store_true", help="rewrite OUT.md from OUT.json")
    ap.add_argument("--stages", action="store_true", help="print the fused path's time per stage and exit")
    ap.add_argument("--stage-volume", default="cost3d", choices=["dot", "cost3d"],
                    help="--stages: M's weight volume")
    ap.add_argument("--stage-refine", action="store_true", help="--stages: with the refinement CNN")
    args = ap.parse_args()
    if args.stages:
        print(stage_times(args.height, args.width, args.disparities, args.repeats, args.threads,
                          args.stage_volume, args.stage_refine))
        return 0
    if args.report_only:
        Path(args.out + ".md").write_text(report(json.loads(Path(args.out + ".json").read_text())))
        return 0
    if args.variant:
        res = run_variant(
            args.variant, args.height, args.width, args.disparities, args.repeats, args.threads,
            args.strip or None,
        )
        print(json.dumps(res))
        return 0
    results = []
    only = args.only or []
    chosen = {n for n in VARIANTS if n == "straightforward" or not only or any(o in n for o in only)}
    chosen |= {VARIANTS[n]["ref"] for n in chosen if VARIANTS[n]["ref"]}  # what each is compared with
    names = [n for n in VARIANTS if n in chosen]
    for name in names:
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
    outs = {n: np.load(_out_file(n)) for n in names}
    for r in results:
        ref = VARIANTS[r["variant"]]["ref"]
        r["reference"] = ref
        r["max_abs_diff_vs_straightforward"] = (float(np.abs(outs[r["variant"]] - outs[ref]).max())
                                                if ref in outs else None)
    info = {
        "size": f"{args.height}x{args.width}",
        "disparities": args.disparities,
        "threads": args.threads,
        "strip_rows": args.strip or "default (fused: 300k pixels, 260 rows here)",
        "repeats": args.repeats,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "torch": torch.__version__,
        "results": results,
    }
    info["command"] = (
        "OMP_WAIT_POLICY=PASSIVE "
        f"OMP_NUM_THREADS={args.threads} .venv/bin/python benchmarks/cyclecnn_speed.py "
        f"--repeats {args.repeats} --threads {args.threads}"
        + (f" --strip {args.strip}" if args.strip else "")
        + "".join(f" --only '{o}'" for o in args.only or [])
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(info, indent=2) + "\n")
    text = report(info)
    Path(args.out + ".md").write_text(text)
    print(text)
    return 0


def report(info: dict) -> str:
    """The markdown table of one run (``info`` as written to the JSON file)."""
    results = info["results"]
    base = results[0]["median_s"]
    lines = [
        f"# Cycle-CNN inference speed ({info['size']}, d = {info['disparities']}; M + refinement unless "
        "the variant says M only)",
        "",
        f"Command: `{info.get('command', '')}`",
        "",
        f"Machine: {info['cores']} cores ({info['cpu']}), torch {info['torch']}, {info['threads']} threads; "
        f"load average at the end {tuple(round(x, 1) for x in info['load_average_at_end'])}. The machine is "
        "shared: runs are taken with the other engineers' background jobs paused, which does not stop "
        "their foreground commands. CPU/wall (process CPU time over wall time) near the thread count "
        "means the cores were ours; near 1 means another process held a core during the run.",
        "",
        "| variant | median wall s | runs s | first call s | median CPU s | CPU/wall | speed-up (wall) "
        "| peak RSS MB | max abs diff vs its straightforward path |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['variant']} | {r['median_s']:.2f} | {', '.join(f'{t:.2f}' for t in r['times_s'])} | "
            f"{r['first_call_s']:.2f} | {r['median_cpu_s']:.2f} | {r['median_cpu_s'] / r['median_s']:.2f} | "
            f"{base / r['median_s']:.2f}x | {r['peak_rss_mb']:.0f} | "
            + (f"{r['max_abs_diff_vs_straightforward']:.1e} |" if r.get("max_abs_diff_vs_straightforward")
               is not None else "- |")
        )
    lines += ["", "Output: YCbCr in [0, 1]; peak RSS includes the Python/torch process (~300 MB).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
