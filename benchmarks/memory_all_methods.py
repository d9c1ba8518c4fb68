"""Peak memory of every registered method on large photos (issue 19 item 3, issue 15 item 3).

Each method colours a photo of each size in a fresh child process (torch and OpenCV at ``--threads``
threads); the peak resident set size of that child (``ru_maxrss`` from ``os.wait4``) is the number
reported, i.e. everything: Python, imports, weights, the input arrays and the colorization. The
child also reports its RSS just before ``colorize`` (imports + weights + inputs) and the seconds
``colorize`` took. A watchdog kills a child whose RSS passes ``--kill-mb`` (recorded as killed), so
an unbounded method cannot take the machine down.

Inputs, all made in the child from real photos upscaled (bicubic) to the size:

- the gray image: the luma of Kodak ``kodim05`` (3:2) at ``W x H`` (24 MP: 6000 x 4000);
- reference methods (welsh, reinhard): a reference of the same size (the photo itself, flipped
  left-right), the heaviest case a user can give;
- stereo methods (cyclecnn, stereocopy): Middlebury 2005 ``art`` left (gray) / right (reference)
  upscaled to the same size (aspect 5:4);
- levin: scribbles of the photo's own colours, a 3-pixel stroke every 1/12 of the height;
- without ``../shared/data``, scikit-image's astronaut and stereo motorcycle stand in.

    python benchmarks/memory_all_methods.py [--sizes 16,24] [--methods all] [--threads 2]

Writes docs/results/memory_all_methods.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
STEREO = ("cyclecnn", "stereocopy")
BUDGET_MB = 2048


# ---------------------------------------------------------------------------------------------- child
def _rgb_at(rgb_u8: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bicubic upscale of a uint8 ``(h, w, 3)`` photo to ``(height, width, 3)`` uint8."""
    import cv2

    return cv2.resize(rgb_u8, (width, height), interpolation=cv2.INTER_CUBIC)


def _luma(rgb_u8: np.ndarray) -> np.ndarray:
    """BT.601 luma float32 ``(H, W)`` in [0, 1] of a uint8 photo, in row blocks (no float RGB copy)."""
    from tinct.color import rgb_to_luma

    out = np.empty(rgb_u8.shape[:2], np.float32)
    for top in range(0, out.shape[0], 256):
        out[top:top + 256] = rgb_to_luma(rgb_u8[top:top + 256].astype(np.float32) / 255.0)
    return out


def _float_rgb(rgb_u8: np.ndarray) -> np.ndarray:
    """float32 ``(H, W, 3)`` in [0, 1]."""
    out = np.empty(rgb_u8.shape, np.float32)
    np.multiply(rgb_u8, np.float32(1 / 255), out=out)
    return out


def _sources(method: str) -> tuple[np.ndarray, np.ndarray]:
    """(gray-side photo, reference-side photo) as uint8 RGB at their native size."""
    from skimage import data as skdata

    if method in STEREO:
        if (DATA / "stereo/middlebury2005").is_dir():
            from tinct.io import read_rgb

            folder = DATA / "stereo/middlebury2005"
            left, right = (read_rgb(folder / f"mb2005_art_{s}.png") for s in ("left", "right"))
            return (left * 255).round().astype(np.uint8), (right * 255).round().astype(np.uint8)
        left, right, _ = skdata.stereo_motorcycle()
        return left, right
    if (DATA / "eval/kodak24/kodim05.png").is_file():
        from tinct.io import read_rgb

        photo = (read_rgb(DATA / "eval/kodak24/kodim05.png") * 255).round().astype(np.uint8)
    else:
        photo = skdata.astronaut()
    return photo, np.ascontiguousarray(photo[:, ::-1])


def child(method: str, megapixels: float, threads: int) -> None:
    """Colour one photo of ``megapixels`` with ``method``; print one JSON line."""
    import torch

    torch.set_num_threads(threads)
    import cv2

    cv2.setNumThreads(threads)
    import tinct
    from tinct.hints import Hints

    m = tinct.load_method(method)
    gray_src, ref_src = _sources(method)
    aspect = gray_src.shape[1] / gray_src.shape[0]
    height = round((megapixels * 1e6 / aspect) ** 0.5)
    width = round(height * aspect)
    big = _rgb_at(gray_src, width, height)
    gray = _luma(big)
    kwargs: dict = {}
    if "reference" in m.needs:
        stereo = method in STEREO
        kwargs["reference"] = _float_rgb(_rgb_at(ref_src, width, height) if stereo else big[:, ::-1])
    if "hints" in m.needs:  # a hints image as a file gives it: the gray photo with strokes painted in
        mask = np.zeros(gray.shape, bool)
        for top in np.linspace(0, height, 13)[1:-1].astype(int):
            mask[top:top + 3, width // 10:width - width // 10] = True
        color = np.repeat(gray[..., None], 3, axis=2)
        color[mask] = big[mask] / np.float32(255)
        kwargs["hints"] = Hints(color=color, mask=mask)
    del big
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    now = _rss_mb(os.getpid())
    t = time.perf_counter()
    try:
        out = m.colorize(gray, **kwargs)
        error = None
    except tinct.TinctError as exc:
        out, error = None, str(exc)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"width": width, "height": height, "rss_before_mb": now, "peak_before_mb": before,
              "peak_rss_mb": peak, "seconds": seconds, "error": error}
    if out is not None:
        result["chroma_mean"] = float(np.abs(out - gray[..., None]).mean())
    print(json.dumps(result))


# --------------------------------------------------------------------------------------------- parent
def _rss_mb(pid: int) -> float:
    """Current resident set size of ``pid`` in MB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError):
        return 0.0


def measure(method: str, megapixels: float, threads: int, kill_mb: float) -> dict:
    """Run :func:`child` in a fresh process; its peak RSS (its own ``ru_maxrss`` at the end), or killed."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, __file__, "--child", method, str(megapixels), "--threads", str(threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    killed = threading.Event()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            if _rss_mb(proc.pid) > kill_mb:
                killed.set()
                proc.kill()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    done.set()
    watcher.join()
    row: dict = {"method": method, "megapixels": megapixels}
    if killed.is_set():
        return {**row, "status": f"killed by the watchdog above {kill_mb:.0f} MB"}
    if proc.returncode != 0:
        return {**row, "status": "failed", "stderr": err.strip().splitlines()[-1:]}
    result = json.loads(out.strip().splitlines()[-1])
    return {**row, **result, "status": "refused" if result["error"] else "ok"}


def _table(rows: list[dict], sizes: list[float]) -> list[str]:
    """Markdown rows: one per method, peak RSS and seconds per size."""
    head = "| method | " + " | ".join(f"{mp:g} MP peak RSS | {mp:g} MP seconds" for mp in sizes) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(sizes)]
    for method in dict.fromkeys(r["method"] for r in rows):
        cells = []
        for mp in sizes:
            r = next((r for r in rows if r["method"] == method and r["megapixels"] == mp), None)
            if r is None:
                cells += ["", ""]
            elif r["status"] == "ok":
                flag = "" if r["peak_rss_mb"] <= BUDGET_MB else " **over 2 GB**"
                cells += [f"{r['peak_rss_mb']:.0f} MB{flag}", f"{r['seconds']:.1f}"]
            elif r["status"] == "refused":
                cells += [f"refused ({r['peak_rss_mb']:.0f} MB): {r['error']}", ""]
            else:
                cells += [r["status"] + (f": {r['stderr']}" if r.get("stderr") else ""), ""]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="16,24", help="megapixels, comma-separated")
    ap.add_argument("--methods", default="all", help="comma-separated method names, or all")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kill-mb", type=float, default=8000, help="watchdog: kill a child above this RSS")
    ap.add_argument("--out", default="docs/results/memory_all_methods")
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "MP"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], float(args.child[1]), args.threads)
        return 0
    import tinct

    methods = ([i.name for i in tinct.list_methods()] if args.methods == "all" else args.methods.split(","))
    sizes = [float(s) for s in args.sizes.split(",")]
    rows = []
    for method in methods:
        for mp in sizes:
            rows.append(measure(method, mp, args.threads, args.kill_mb))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    from tinct.testing import write_report

    command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    md = "\n".join([
        "# Peak memory of every method on large photos", "", f"`{command}`", "",
        f"Each cell: the peak resident memory (`ru_maxrss`) of a fresh process ({args.threads} threads) that "
        "imports tinct, loads the method, makes the inputs (gray float32; a same-size float32 reference or "
        "hints image where the method needs one) and colours them; the budget is "
        f"{BUDGET_MB} MB. Inputs: see the docstring of `benchmarks/memory_all_methods.py`.", "",
        *_table(rows, sizes), ""])
    write_report(args.out, {"command": command, "threads": args.threads, "budget_mb": BUDGET_MB,
                            "rows": rows}, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
