"""deepcolor speed and memory against the paper's Table II (Matlab, Xeon 2.3 GHz).

End to end = the ``colorize`` call of the registered method (working-resolution gray, scene
parser + domain transform, gist + cluster choice, DAISY maps, convolutional MLP, joint bilateral
refinement, full-resolution composition). Median of ``--repeats`` runs after one warm-up, on a
Kodak photo resized to each size. Also a per-stage breakdown, the same at full working
resolution (``work_pixels=None``), and the peak memory (``ru_maxrss``) of a child process that
runs ``tinct colorize`` on a 24-megapixel JPEG.

    .venv/bin/python benchmarks/deepcolor_speed.py --out docs/results/deepcolor_speed
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

import tinct
from tinct.color import rgb_to_luma
from tinct.io import read_rgb
from tinct.methods.deepcolor import pipeline as pl
from tinct.methods.deepcolor.features import orientation_maps, semantic_map
from tinct.testing import median_seconds, write_report

PAPER = {256: 6.780, 512: 17.413, 1024: 63.142}  # Table II, seconds
ROOT = Path(__file__).resolve().parents[1]


def test_image(size: int) -> np.ndarray:
    """A Kodak photo (or the scikit-image astronaut) as ``size`` x ``size`` luma."""
    path = ROOT.parent / "shared" / "data" / "eval" / "kodak24" / "kodim23.png"
    if path.is_file():
        rgb = read_rgb(path)
    else:
        from skimage import data

        rgb = data.astronaut().astype(np.float32) / 255
    rgb = cv2.resize(
        rgb, (size, size), interpolation=cv2.INTER_AREA if size < rgb.shape[0] else cv2.INTER_CUBIC
    )
    return np.clip(rgb_to_luma(rgb), 0, 1).astype(np.float32)




def stages(method, gray: np.ndarray, repeats: int) -> dict[str, float]:
    """Median seconds of each stage of one call."""
    b = method.bundle
    g = pl.working_gray(gray, method.work_pixels)
    sem = semantic_map(g, b.parser, b.features)
    net = pl.choose_net(b, g, sem, True)
    uv = pl.predict_uv(b, g, net=net, semantic=sem, strip_rows=method.strip_rows)
    orient_t = median_seconds(lambda: orientation_maps(g, b.features.daisy_sigma), repeats)
    return {
        "resize to working resolution": median_seconds(
            lambda: pl.working_gray(gray, method.work_pixels), repeats
        ),
        "scene parser + domain transform": median_seconds(
            lambda: semantic_map(g, b.parser, b.features), repeats
        ),
        "gist + cluster choice": median_seconds(lambda: pl.choose_net(b, g, sem, True), repeats),
        "DAISY orientation maps": orient_t,
        "network (convolutions)": median_seconds(
            lambda: pl.predict_uv(b, g, net=net, semantic=sem, strip_rows=method.strip_rows), repeats
        )
        - orient_t,
        "joint bilateral refinement": median_seconds(lambda: pl.refine_uv(uv, g, b.refine), repeats),
        "full-resolution composition": median_seconds(lambda: pl.compose(gray, uv), repeats),
        "working resolution": f"{g.shape[1]}x{g.shape[0]}",
    }


def _child_peak(code: str) -> tuple[int, float, float]:
    """Run ``code`` in a fresh interpreter; its exit code, seconds and peak RSS (MiB)."""
    code += (
        "; print('RC', rc, 'SECONDS', time.perf_counter() - t, "
        "'MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    words = out.stdout.split()
    if "MAXRSS_KB" not in words:
        raise RuntimeError(out.stderr[-2000:])
    return (
        int(words[words.index("RC") + 1]),
        float(words[words.index("SECONDS") + 1]),
        int(words[words.index("MAXRSS_KB") + 1]) / 1024,
    )


def memory_child(width: int, height: int) -> dict:
    """Peak RSS of colorizing a ``width`` x ``height`` JPEG: the API (read + colorize) and the CLI."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "big.jpg"
        small = (test_image(1024) * 255).astype(np.uint8)
        cv2.imwrite(str(src), cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC))
        head = "import resource, sys, time; t = time.perf_counter(); "
        api = _child_peak(
            head + "import numpy as np, tinct; from tinct.io import read_gray; "
            f"g = read_gray({str(src)!r}); out = tinct.colorize(g); rc = int(out.shape[0] != {height})"
        )
        cli = _child_peak(
            head + "from tinct.cli import main; "
            f"rc = main(['colorize', {str(src)!r}, '-o', {str(Path(tmp) / 'out.png')!r}, '-q'])"
        )
    return {
        "size": f"{width}x{height}",
        "megapixels": width * height / 1e6,
        "api_rc": api[0],
        "api_seconds": api[1],
        "api_peak_rss_mib": api[2],
        "cli_rc": cli[0],
        "cli_seconds": cli[1],
        "cli_peak_rss_mib": cli[2],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/results/deepcolor_speed", help="writes OUT.md and OUT.json")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads to time with")
    ap.add_argument("--no-memory", action="store_true")
    args = ap.parse_args()
    method = tinct.load_method("deepcolor")
    full = tinct.load_method("deepcolor", work_pixels=None)
    rows = []
    for size in args.sizes:
        gray = test_image(size)
        row = {"size": size, "paper_s": PAPER.get(size)}
        for threads in args.threads:
            torch.set_num_threads(threads)
            row[f"ours_s_{threads}t"] = median_seconds(lambda g=gray: method.colorize(g), args.repeats)
        torch.set_num_threads(args.threads[0])
        row["ours_full_res_s"] = median_seconds(lambda g=gray: full.colorize(g), max(3, args.repeats // 2))
        row["stages"] = stages(method, gray, args.repeats)
        rows.append(row)
        print(json.dumps(row), flush=True)
    memory = None if args.no_memory else memory_child(6000, 4000)
    result = {
        "command": "python " + " ".join(sys.argv),
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "rows": rows,
        "memory_24mp": memory,
        "work_pixels": method.work_pixels,
        "self_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    write_report(args.out, result, to_markdown(result))
    return 0


def to_markdown(r: dict) -> str:
    threads = r["threads"]
    load = ", ".join(f"{x:.1f}" for x in r["load_average_at_end"])
    lines = [
        "# deepcolor speed and memory (paper Table II beside ours)",
        "",
        f"Command: `{r['command']}`  ",
        f"Machine: {r['cores']} cores ({r['cpu']}), OMP_WAIT_POLICY={r.get('omp_wait_policy')}, load average "
        f"at the end {load} (the machine is shared by several engineers; expect noise, and 2 threads suffer "
        "most from the contention).",
        "",
        f"End to end = one `colorize` call, chroma predicted at <= {r['work_pixels']} pixels (luma full "
        "resolution); median of runs after a warm-up.",
        "",
        "| size | paper (Matlab, Xeon 2.3 GHz) | "
        + " | ".join(f"ours, {t} thread(s) | speed-up" for t in threads)
        + f" | ours, chroma at full resolution ({threads[0]} thread(s)) |",
        "|---" * (3 + 2 * len(threads)) + "|",
    ]
    for row in r["rows"]:
        paper = row["paper_s"]
        cells = []
        for t in threads:
            ours = row[f"ours_s_{t}t"]
            cells += [f"{ours:.3f} s", f"{paper / ours:.0f}x" if paper else "-"]
        lines.append(
            f"| {row['size']}² | {paper if paper else '-'} s | "
            + " | ".join(cells)
            + f" | {row['ours_full_res_s']:.3f} s |"
        )
    keys = list(r["rows"][0]["stages"])
    lines += [
        "",
        f"Stages (median seconds, {threads[0]} thread(s)):",
        "",
        "| size | " + " | ".join(keys) + " |",
    ]
    lines.append("|---" * (len(keys) + 1) + "|")
    for row in r["rows"]:
        vals = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row["stages"].values()]
        lines.append(f"| {row['size']}² | " + " | ".join(vals) + " |")
    if r["memory_24mp"]:
        m = r["memory_24mp"]
        lines += [
            "",
            f"24 MP ({m['size']} JPEG), peak RSS of a fresh process (limit 2048 MiB):",
            "",
            f"- API, `read_gray` + `tinct.colorize` (deepcolor, default options): "
            f"**{m['api_peak_rss_mib']:.0f} MiB**, {m['api_seconds']:.1f} s",
            f"- CLI, `tinct colorize big.jpg -o out.png`: **{m['cli_peak_rss_mib']:.0f} MiB**, "
            f"{m['cli_seconds']:.1f} s (exit code {m['cli_rc']}); the excess over the API run is "
            "decoding the JPEG and encoding the PNG (`tinct.io`, in row strips).",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
