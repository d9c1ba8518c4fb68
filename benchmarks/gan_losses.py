"""Loss curves and the discriminator/generator balance of unpaired GAN runs (issue 15 item 1).

Reads each run's ``losses.jsonl`` (written by ``fit`` every ``log_every`` steps), smooths every
loss by a moving average, draws one panel per run (PNG, PIL only) and writes a table of each loss
over the first and last tenth of the run. LSGAN with real = 1 and fake = 0: a generator adversarial
term near 0.25 means D cannot tell (the grey line); D falling while G's adversarial term rises means D
is winning. Chance level of the logged ``d``: 0.25 for spynco (0.5 (real + fake)), 0.5 for cyclegan
(the mean of its two discriminators' real + fake).

Usage::

    .venv/bin/python benchmarks/gan_losses.py spynco=/work/runs/spynco_ph96 \
        cyclegan=/work/runs/cyclegan_ph96 --out docs/results/gan_losses_photos96 \
        --image docs/img/gan_losses_photos96.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tinct.testing import command_line, write_report

PANEL = (560, 300)
MARGIN = 44
PALETTE = [(200, 30, 30), (30, 90, 200), (20, 140, 60), (150, 60, 170), (220, 130, 0), (90, 90, 90)]
SKIP = {"step", "elapsed_s", "g_total"}


def read_losses(run: Path) -> dict[str, np.ndarray]:
    """``{key: values}`` with ``step`` among the keys; lines that do not parse are skipped."""
    rows = []
    for line in (run / "losses.jsonl").read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    if not rows:
        raise SystemExit(f"{run}/losses.jsonl has no rows")
    keys = [k for k in rows[0] if all(k in r for r in rows)]
    return {k: np.array([r[k] for r in rows], dtype=np.float64) for k in keys}


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average (shorter windows at the ends); same length as ``values``."""
    if window <= 1 or len(values) < 3:
        return values
    kernel = np.ones(min(window, len(values)))
    return np.convolve(values, kernel, "same") / np.convolve(np.ones_like(values), kernel, "same")


def draw_panel(title: str, losses: dict[str, np.ndarray], window: int) -> Image.Image:
    """One run: every loss (but the total) smoothed, against the step."""
    img = Image.new("RGB", PANEL, "white")
    draw = ImageDraw.Draw(img)
    steps = losses["step"]
    keys = [k for k in losses if k not in SKIP]
    curves = {k: smooth(losses[k], window) for k in keys}
    top = max(float(np.percentile(c, 99)) for c in curves.values()) * 1.05 or 1.0
    w, h = PANEL[0] - 2 * MARGIN, PANEL[1] - 2 * MARGIN

    def xy(s: float, v: float) -> tuple[float, float]:
        x = MARGIN + w * (s - steps[0]) / max(steps[-1] - steps[0], 1)
        return x, MARGIN + h * (1 - min(v, top) / top)

    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        _, y = xy(steps[0], frac * top)
        draw.line((MARGIN, y, PANEL[0] - MARGIN, y), fill=(225, 225, 225))
        draw.text((4, y - 6), f"{frac * top:.2f}", fill="black")
    draw.text((MARGIN, 8), f"{title}: losses (moving average of {window} logs) vs step", fill="black")
    draw.text((PANEL[0] - MARGIN - 60, PANEL[1] - MARGIN + 8), f"{int(steps[-1])}", fill="black")
    draw.text((MARGIN, PANEL[1] - MARGIN + 8), f"{int(steps[0])}", fill="black")
    if "d" in curves:  # the LSGAN "cannot tell" level
        _, y = xy(steps[0], 0.25)
        draw.line((MARGIN, y, PANEL[0] - MARGIN, y), fill=(160, 160, 160), width=1)
    for i, k in enumerate(keys):
        colour = PALETTE[i % len(PALETTE)]
        draw.line([xy(s, v) for s, v in zip(steps, curves[k], strict=True)], fill=colour, width=2)
        draw.text((PANEL[0] - MARGIN - 110, MARGIN + 14 * i), f"-- {k}", fill=colour)
    return img


def balance(losses: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Each loss's mean over the first and the last tenth of the logged steps."""
    n = max(len(losses["step"]) // 10, 1)
    return {k: (float(v[:n].mean()), float(v[-n:].mean())) for k, v in losses.items() if k not in SKIP}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR",
                    help="a label and a run folder with losses.jsonl")
    ap.add_argument("--window", type=int, default=25, help="moving average, in logged rows")
    ap.add_argument("--out", required=True, help="report path without extension (.md and .json)")
    ap.add_argument("--image", required=True, help="PNG with one panel per run")
    args = ap.parse_args(argv)
    runs = []
    for spec in args.runs:
        label, _, folder = spec.partition("=")
        if not folder or not (Path(folder) / "losses.jsonl").is_file():
            print(f"{spec}: want LABEL=RUN_DIR with a losses.jsonl", file=sys.stderr)
            return 2
        runs.append((label, read_losses(Path(folder))))
    panels = [draw_panel(label, losses, args.window) for label, losses in runs]
    sheet = Image.new("RGB", (PANEL[0], PANEL[1] * len(panels)), "white")
    for i, p in enumerate(panels):
        sheet.paste(p, (0, PANEL[1] * i))
    Path(args.image).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.image)
    command = command_line("benchmarks/gan_losses.py", argv)
    image_link = (f"![losses]({Path('..') / Path(args.image).relative_to('docs')})"
                  if args.image.startswith("docs/") else f"Image: `{args.image}`")
    lines = ["# Unpaired GAN losses: first tenth → last tenth of each run", "", f"`{command}`", "",
             image_link, "", "| run | steps | loss | first tenth | last tenth |", "|---|---|---|---|---|"]
    result = {}
    for label, losses in runs:
        result[label] = {k: {"first": a, "last": b} for k, (a, b) in balance(losses).items()}
        for k, (a, b) in balance(losses).items():
            lines.append(f"| {label} | {int(losses['step'][-1])} | {k} | {a:.3f} | {b:.3f} |")
    write_report(args.out, {"command": command, "runs": result}, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
