"""Line art -> colour (issue 17 item 5): the lineart model against the floors on the 100 val drawings.

    python benchmarks/lineart_quality.py                                     # the bundled weights
    python benchmarks/lineart_quality.py --weights /work/runs/lineart/lineart.safetensors --bundle

Rows (protocol :mod:`tinct.bench.lineart`: PSNR and CIEDE2000 against the photo, means over the 100
``val_*`` drawings of ``lineart/bsds500``):

- floors without hints: the drawing itself as the image; the mean colour of the training photos under
  the black lines (the issue's floor) and without them (fitted on the train split only);
- a floor with hints: the hints spread by normalized convolution (no network, lines unused);
- the model without hints, with hints on 1 % of the pixels and on 0.1 % (points from the true photo,
  fixed seed: the same hints for every row);
- two oracles that know the true photo (its mean colour, or its mean colour per row): not methods,
  but how far a guess without hints could go if it knew each photo's overall colour.

Speed: median of 5 warm calls on a 481x321 drawing (``--threads``, default 2). Writes
``docs/results/lineart_quality.md`` / ``.json`` and the contact sheet ``docs/img/lineart_sheet.jpg``
(drawing | no hints | 1 % hints | photo, 6 val images). ``--bundle`` copies the weights into the
package with these scores on the card.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

import tinct
from tinct.bench.lineart import (
    drawing_floor,
    flat_floor,
    hints_for,
    load_items,
    mean_train_colour,
    oracle_score,
    score,
    spread_hints,
)
from tinct.testing import median_seconds, write_report

ROOT = Path(__file__).resolve().parents[1]
BAR = {"psnr_no_hints": 14.14, "ciede2000_1pct": 12.0}


def speed(method: tinct.Colorizer, drawing: np.ndarray, repeat: int = 5) -> float:
    """Median seconds of ``repeat`` warm calls on ``drawing``."""
    return median_seconds(lambda: method.colorize(drawing), repeat)


def contact_sheet(method: tinct.Colorizer, items: list, out: Path, count: int = 6) -> None:
    """drawing | no hints | 1 % hints | photo for ``count`` landscape val images spread over the set, at
    half size (240 x 160 per panel)."""
    import cv2

    from tinct.io import write_image

    landscape = [i for i, item in enumerate(items) if item.drawing.shape[1] > item.drawing.shape[0]]
    picks = landscape[::max(1, len(landscape) // count)][:count]
    rows = []
    for i in picks:
        item = items[i]
        hinted = method.colorize(item.drawing, hints=hints_for(i, item.photo, 0.01))
        panels = [drawing_floor(item.drawing), method.colorize(item.drawing), hinted, item.photo]
        panels = [cv2.resize(p, (240, 160), interpolation=cv2.INTER_AREA) for p in panels]
        rows.append(np.concatenate(panels, axis=1))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_image(out, np.concatenate(rows, axis=0), quality=88)


MEMORY_CODE = """
import resource, sys, time, numpy as np, torch, tinct
from tinct.hints import Hints
torch.set_num_threads({threads})
h, w = {height}, {width}
drawing = np.ones((h, w), np.float32)
drawing[::97] = 0.0
drawing[:, ::89] = 0.0
rng = np.random.default_rng(0)
mask = rng.random((h, w)) < 0.01
colour = rng.random((h, w, 3), dtype=np.float32)
method = tinct.load_method("lineart", weights={weights!r})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
out = method.colorize(drawing, hints=Hints(colour, mask))
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - t0)
"""


def peak_memory(weights: str, megapixels: float, threads: int) -> dict:
    """Peak RSS (MB) of colouring a ``megapixels`` drawing with 1 % hints in a fresh process, the RSS
    before the call (inputs made, method loaded) and the seconds of the call."""
    import subprocess

    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(megapixels * 1e6 / width))
    code = MEMORY_CODE.format(threads=threads, height=height, width=width, weights=str(weights))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, peak, seconds = (float(v) for v in out.stdout.split())
    return {"size": f"{width}x{height}", "rss_before_mb": round(before), "peak_rss_mb": round(peak),
            "seconds": round(seconds, 2)}


def bundle(weights: str, result: dict) -> Path:
    """Copy ``weights`` into the package as the default variant, with this benchmark's scores on its card."""
    from tinct.weights import bundled_path, load_weights, save_weights

    tensors, card = load_weights(weights)
    card.metrics = {**card.metrics, "protocol": "benchmarks/lineart_quality.py (tinct.bench.lineart, val)",
                    **{f"{r['label']} (hints: {r['hints']})": {"psnr": r["psnr"], "ciede2000": r["ciede2000"]}
                       for r in result["rows"]},
                    "seconds_481x321": result["seconds_481x321"]}
    card.extra.setdefault("source_run", str(weights))
    return save_weights(bundled_path("lineart"), tensors, card)


def markdown(result: dict) -> str:
    lines = ["# Line art -> colour on the BSDS500 val drawings (issue 17 item 5)", "",
             f"Command: `{result['command']}`", "",
             f"{result['images']} `val_*` drawings of `lineart/bsds500` against their photos; floors fitted "
             "on the train split only. Hints: points on the given share of the pixels, colours from the true "
             "photo, seed fixed per image (`tinct.bench.lineart.hints_for`).", "",
             "| method | hints | PSNR (dB) | CIEDE2000 |", "|---|---|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['label']} | {r['hints']} | {r['psnr']:.2f} | {r['ciede2000']:.2f} |")
    met = {k: "met" if v else "not met" for k, v in result["bar"].items()}
    lines += ["", f"Bar: PSNR ≥ {BAR['psnr_no_hints']} dB without hints (flat floor + 2 dB): "
              f"**{met['psnr_no_hints']}**; CIEDE2000 ≤ {BAR['ciede2000_1pct']} with 1 % hints: "
              f"**{met['ciede2000_1pct']}**.", "",
              f"Speed: {result['seconds_481x321']:.3f} s per 481x321 drawing ({result['threads']} threads, "
              f"median of 5 warm calls); weights {result['weights_bytes'] / 1e6:.2f} MB "
              f"({result['weights']})."]
    if "memory" in result:
        m = result["memory"]
        lines += ["", f"Memory: a {m['size']} drawing with 1 % hints: peak RSS {m['peak_rss_mb']} MB in a "
                  f"fresh process ({m['rss_before_mb']} MB before the call: inputs, hints and the method), "
                  f"{m['seconds']} s."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="default", help="bundled variant or a .safetensors path")
    ap.add_argument("--data", default=None, help="data root (default ../shared/data)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="only the first N val drawings (a quick look)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "lineart_quality")
    ap.add_argument("--sheet", type=Path, default=ROOT / "docs" / "img" / "lineart_sheet.jpg")
    ap.add_argument("--bundle", action="store_true", help="copy the weights into the package (as default)")
    ap.add_argument("--memory-mp", type=float, default=0, help="also measure the peak RSS of a drawing of "
                    "this many megapixels (with 1 %% hints) in a fresh process")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    items = load_items("val", args.data, args.limit)
    colour = mean_train_colour(args.data)
    method = tinct.load_method("lineart", weights=args.weights)
    model = method.colorize
    rows = []
    spread = "floor: hints spread (normalized convolution, no lines)"
    for label, fn, rate in (("floor: the drawing itself", drawing_floor, 0.0),
                            ("floor: flat mean train colour under the lines", flat_floor(colour), 0.0),
                            ("floor: flat mean train colour, no lines", flat_floor(colour, lines=False), 0.0),
                            (spread, spread_hints(colour), 0.01),
                            (spread, spread_hints(colour), 0.001),
                            ("lineart", lambda d, h: model(d, hints=h), 0.0),
                            ("lineart", lambda d, h: model(d, hints=h), 0.01),
                            ("lineart", lambda d, h: model(d, hints=h), 0.001)):
        rows.append({"label": label, "hints": f"{100 * rate:g} %" if rate else "none",
                     **score(fn, items, hint_rate=rate)})
        print(rows[-1], file=sys.stderr)
    for kind, label in (("mean", "oracle: each photo's own mean colour (knows the truth)"),
                        ("rows", "oracle: each photo's own mean colour per row (knows the truth)")):
        rows.append({"label": label, "hints": "none", **oracle_score(kind, items)})
    by = {(r["label"], r["hints"]): r for r in rows}
    result = {"command": "python benchmarks/lineart_quality.py " + " ".join(argv or sys.argv[1:]),
              "images": len(items), "rows": rows, "threads": args.threads, "weights": str(method.path),
              "weights_bytes": Path(method.path).stat().st_size,
              "mean_train_colour": colour.round(4).tolist()}
    landscape = next((it.drawing for it in items if it.drawing.shape == (321, 481)), items[0].drawing)
    result["seconds_481x321"] = round(speed(method, landscape), 4)
    result["bar"] = {"psnr_no_hints": by[("lineart", "none")]["psnr"] >= BAR["psnr_no_hints"],
                     "ciede2000_1pct": by[("lineart", "1 %")]["ciede2000"] <= BAR["ciede2000_1pct"]}
    if args.memory_mp:
        result["memory"] = peak_memory(method.path, args.memory_mp, args.threads)
    write_report(args.out, result, markdown(result))
    contact_sheet(method, items, args.sheet)
    if args.bundle:
        print("bundled:", bundle(args.weights, result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
