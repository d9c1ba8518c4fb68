"""Issue 15's table: unpaired GAN runs (spynco L^1 / L^{1,2,3} / + contours, CycleGAN) beside the gray
floor on CIFAR-10 test and photos/val, by the project's quality protocol (``tinct bench quality``:
the BT.601 luma in, the method's full-size output scored against the original: CIEDE2000, PSNR, SSIM,
colourfulness of the prediction over the original's).

Usage::

    .venv/bin/python benchmarks/gan_table.py \
        --row "spynco L^{1,2,3}, photos 96 px, 80 min=spynco:/work/runs/spynco_ph96/g.safetensors" \
        --set photos_val=../shared/data/photos/val --set cifar10_test=../shared/data/cifar10/test:1000 \
        --out docs/results/gan_table [--bundle "photos=ROW LABEL"]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gan_bundle import bundle_generator, table_metrics
from gan_curve import score

from tinct.testing import command_line, write_report
from tinct.weights import git_commit, resolve


def parse_row(text: str) -> tuple[str, str, str]:
    """``LABEL=METHOD:WEIGHTS[,KEY:VALUE...]`` -> (label, method, weights[,options]); the options go to
    the method (e.g. ``short_side:0``, full resolution)."""
    label, _, spec = text.rpartition("=")
    method, _, weights = spec.partition(":")
    if not label or not method or not weights:
        raise SystemExit(f"--row wants LABEL=METHOD:WEIGHTS[,KEY:VALUE...], got {text!r}")
    return label, method, weights


def split_options(weights: str) -> tuple[str, dict[str, str]]:
    """``WEIGHTS[,KEY:VALUE...]`` -> (weights, options as strings)."""
    path, *pairs = weights.split(",")
    return path, dict(pair.split(":", 1) for pair in pairs)


def parse_set(text: str) -> tuple[str, str, int | None]:
    """``NAME=DIR[:LIMIT]`` -> (name, folder, limit)."""
    name, _, spec = text.partition("=")
    folder, _, limit = spec.partition(":")
    return name, folder, int(limit) if limit else None


def parse_bundle(text: str, rows: list[tuple[str, str, str]]) -> tuple[str, tuple[str, str, str]]:
    """``NAME=ROW LABEL`` -> (bundled name, the row); the row must be one of ``--row``'s."""
    name, _, label = text.partition("=")
    found = [r for r in rows if r[0] == label]
    if not name or not found:
        raise SystemExit(f"--bundle wants NAME=ROW LABEL of a --row, got {text!r}")
    return name, found[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--row", action="append", required=True,
                    help="LABEL=METHOD:WEIGHTS[,KEY:VALUE...] (repeatable; options such as short_side:0)")
    ap.add_argument("--set", action="append", required=True, help="NAME=DIR[:LIMIT] (repeatable)")
    ap.add_argument("--out", required=True, help="report path without extension (.md and .json)")
    ap.add_argument("--bundle", action="append", default=[],
                    help="NAME=ROW LABEL: also write that row's generator as the method's bundled NAME "
                         "(float16), the table's scores in its card (repeatable)")
    args = ap.parse_args(argv)
    rows = [parse_row(r) for r in args.row]
    sets = [parse_set(s) for s in args.set]
    bundles = [parse_bundle(b, rows) for b in args.bundle]
    for name, folder, _ in sets:
        if not Path(folder).is_dir():
            print(f"--set {name}: {folder} is not a folder", file=sys.stderr)
            return 2
    result: dict[str, dict] = {}
    for name, folder, limit in sets:
        result[name] = {"gray floor": score("gray", None, folder, limit)}
        for label, method, weights in rows:
            path, options = split_options(weights)
            result[name][label] = score(method, path, folder, limit, **options)
            print(f"{name} {label}: {json.dumps({k: round(v, 3) for k, v in result[name][label].items()})}",
                  flush=True)
    command = command_line("benchmarks/gan_table.py", argv)
    lines = ["# Unpaired GANs against the gray floor (issue 15)", "", f"`{command}`", "",
             "Quality protocol of `tinct bench quality` (luma in, full-size output against the original). "
             "Colourfulness: the prediction's mean over the originals' mean.", ""]
    for name, folder, limit in sets:
        gray = result[name]["gray floor"]
        lines += [f"## {name} ({folder}, {limit or 'all'} images)", "",
                  "| row | ΔE00 | ΔE00 − gray | PSNR | PSNR − gray | SSIM | colourfulness |",
                  "|---|---|---|---|---|---|---|"]
        for label, s in result[name].items():
            lines.append(f"| {label} | {s['ciede2000']:.2f} | {s['ciede2000'] - gray['ciede2000']:+.2f} | "
                         f"{s['psnr']:.2f} | {s['psnr'] - gray['psnr']:+.2f} | {s['ssim']:.3f} | "
                         f"{s['colourfulness']:.2f} |")
        lines.append("")
    write_report(args.out, {"command": command, "commit": git_commit(), "rows": {r[0]: r[1:] for r in rows},
                            "results": result}, "\n".join(lines))
    for name, (label, method, weights) in bundles:
        metrics = table_metrics(command, f"{args.out}.md", result, label)
        path = resolve(method, split_options(weights)[0])
        print(f"bundled {bundle_generator(path, method, name, metrics)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
