"""Fusion: the accuracy-colour curve of several weights, from their decoding sweeps (issue 21's
"show the curve").

    python benchmarks/fusion_frontier.py bundle=docs/results/fusion_sweep.json \
        adv=/work/runs/adv_end_sweep.json --out docs/results/fusion_frontier

Each sweep (``fusion_quality.py --sweep``) scores many decodings of one network on the same
images: ΔE00 − gray against the colourfulness ratio. A decoding is on the frontier when no other
decoding of the same weights is both more colourful and closer to the truth. Writes
``OUT.{md,json}`` (the frontier's points, and the best ΔE00 at each colourfulness level) and
``docs/img/fusion_frontier.png`` (one colour per weights; the bar's corner is shaded).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from tinct.testing import write_report

LEVELS = (0.5, 0.55, 0.7, 0.85, 1.0)
PALETTE = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207))
X_RANGE, Y_RANGE = (0.2, 1.6), (-2.0, 1.5)
SIZE, MARGIN = (760, 520), 60


def frontier(rows: list[dict]) -> list[dict]:
    """The decodings no other row beats on both axes, by increasing colourfulness (lower ΔE00 is
    better, higher colourfulness is better)."""
    best: list[dict] = []
    for r in sorted(rows, key=lambda r: (-r["colourfulness_ratio"], r["d_ciede2000"])):
        if not best or r["d_ciede2000"] < best[-1]["d_ciede2000"]:
            best.append(r)
    return best[::-1]


def best_at(rows: list[dict], level: float) -> float | None:
    """The lowest ΔE00 − gray among decodings at colourfulness ≥ ``level`` (None if none is)."""
    vals = [r["d_ciede2000"] for r in rows if r["colourfulness_ratio"] >= level]
    return min(vals) if vals else None


def _xy(c: float, d: float) -> tuple[float, float]:
    w, h = SIZE[0] - 2 * MARGIN, SIZE[1] - 2 * MARGIN
    x = MARGIN + (min(max(c, X_RANGE[0]), X_RANGE[1]) - X_RANGE[0]) / (X_RANGE[1] - X_RANGE[0]) * w
    y = MARGIN + (min(max(d, Y_RANGE[0]), Y_RANGE[1]) - Y_RANGE[0]) / (Y_RANGE[1] - Y_RANGE[0]) * h
    return x, y


def plot(curves: dict[str, list[dict]], fronts: dict[str, list[dict]], path: Path,
         on: str = "photos/val") -> None:
    """Every decoding as a dot, each frontier as a line; ΔE00 − gray grows downwards (the best is at
    the top right); the bar (ΔE00 ≤ −1, colourfulness ≥ 0.5) is shaded. Labels are ASCII: PIL's
    built-in font has no Δ."""
    img = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(img)
    x0, y0 = _xy(0.5, Y_RANGE[0])
    x1, y1 = _xy(X_RANGE[1], -1.0)
    draw.rectangle((x0, y0, x1, y1), fill=(225, 245, 225))
    for d in (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5):
        _, y = _xy(X_RANGE[0], d)
        draw.line((MARGIN, y, SIZE[0] - MARGIN, y), fill=(200, 200, 200) if d else (120, 120, 120))
        draw.text((8, y - 6), f"{d:+.1f}", fill="black")
    for c in (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6):
        x, _ = _xy(c, Y_RANGE[0])
        draw.line((x, MARGIN, x, SIZE[1] - MARGIN), fill=(220, 220, 220))
        draw.text((x - 10, SIZE[1] - MARGIN + 6), f"{c:.1f}", fill="black")
    draw.text((MARGIN, SIZE[1] - 22), "colourfulness / original's  (right: more colour)", fill="black")
    draw.text((MARGIN, 8), f"dE00 - gray on {on} (up: closer to the truth); shaded: issue 21's bar",
              fill="black")
    for i, (label, rows) in enumerate(curves.items()):
        colour = PALETTE[i % len(PALETTE)]
        for r in rows:
            x, y = _xy(r["colourfulness_ratio"], r["d_ciede2000"])
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)
        pts = [_xy(r["colourfulness_ratio"], r["d_ciede2000"]) for r in fronts[label]]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=3)
        draw.text((SIZE[0] - MARGIN - 150, MARGIN + 8 + 16 * i), f"-- {label}", fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweeps", nargs="+", metavar="LABEL=SWEEP.json", help="a label and a sweep's JSON")
    ap.add_argument("--out", default="docs/results/fusion_frontier")
    ap.add_argument("--image", default="docs/img/fusion_frontier.png")
    args = ap.parse_args()
    curves: dict[str, list[dict]] = {}
    commands: dict[str, str] = {}
    sets: set[str] = set()
    for spec in args.sweeps:
        label, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            ap.error(f"expected LABEL=SWEEP.json with an existing file, got {spec!r}")
        r = json.loads(Path(path).read_text())
        curves[label], commands[label] = r["rows"], r.get("command", "")
        sets.add(r.get("set", "photos_val"))
    if len(sets) > 1:
        ap.error(f"the sweeps were made on different photos: {sorted(sets)}")
    on = sets.pop()
    fronts = {k: frontier(v) for k, v in curves.items()}
    plot(curves, fronts, Path(args.image), on)
    command = "python " + " ".join(sys.argv)
    lines = [f"# fusion: accuracy against colour (decoding sweeps on {on})", "", f"`{command}`", "",
             f"![frontier](../img/{Path(args.image).name})", "",
             "Best ΔE00 − gray at colourfulness ≥ level (the sweep's rule uses 0.55):", "",
             "| weights | " + " | ".join(f"≥ {lv}" for lv in LEVELS) + " |",
             "|---|" + "---|" * len(LEVELS)]
    for label, rows in curves.items():
        cells = [best_at(rows, lv) for lv in LEVELS]
        lines.append(f"| {label} | " + " | ".join("–" if c is None else f"{c:+.2f}" for c in cells) + " |")
    lines += ["", "Sweeps:", ""] + [f"- {k}: `{v}`" for k, v in commands.items()] + [""]
    best = {k: {str(lv): best_at(v, lv) for lv in LEVELS} for k, v in curves.items()}
    write_report(args.out, {"command": command, "frontiers": fronts, "best_at": best}, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
