"""NIR methods against the floors (issue 16 items 4-5): val and test scores, speed and weight size.

    python benchmarks/nir_quality.py                      # the bundled weights of every NIR method
    python benchmarks/nir_quality.py --weights nir-unet=/work/runs/nir/unet/nir-unet.safetensors \
        --weights "nir-snet (misregistered)=nir-snet:/work/runs/nir/snet_mis/nir-snet.safetensors"

Each row is a method (``NAME=PATH`` uses method NAME; ``LABEL=METHOD:PATH`` a labelled variant).
Floors (gray / LUT / flat mean colour, fitted on the train split) are scored in the same run.
Scores: the paired protocol of :mod:`tinct.bench.pairs` (PSNR, SSIM, AE in degrees, CIEDE2000,
plain and after the best shift within ±4 px). Speed: median of 5 warm calls on a 512x340 band
(2 threads). Writes ``docs/results/nir_quality.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

import tinct
from tinct.bench.nir_floors import fit_lut, flat_colour, floor_methods
from tinct.bench.pairs import evaluate_pairs
from tinct.data.nir import nir_split
from tinct.testing import median_seconds

METHODS = ("nir-unet", "nir-snet", "nir-scgan", "nir-acgan")
KEYS = ("psnr", "ssim", "ae", "ciede2000", "ae_aligned", "ciede2000_aligned", "colorfulness_pred")
OUT = Path(__file__).resolve().parents[1] / "docs" / "results"


def parse_variants(items: list[str]) -> list[tuple[str, str, str]]:
    """``(label, method, weights)`` from ``NAME=PATH`` / ``LABEL=METHOD:PATH``; bundled ones if none."""
    if not items:
        return [(m, m, "default") for m in METHODS if tinct.method_info(m).bundled_weights]
    out = []
    for item in items:
        label, _, rest = item.partition("=")
        method, sep, path = rest.partition(":")
        out.append((label, method, path) if sep and method in METHODS else (label, label, rest))
    return out


def speed(method: tinct.Colorizer, repeat: int = 5) -> float:
    band = np.random.default_rng(0).random((340, 512), dtype=np.float32)
    return median_seconds(lambda: method.colorize(band), repeat)


def contact_sheet(methods: dict[str, tinct.Colorizer], out: Path, height: int = 160,
                  width: int = 240) -> None:
    """NIR | each method | RGB for 3 val and 3 test pairs, ``height`` px rows cropped to ``width``."""
    import cv2

    from tinct.data.nir import load_pair
    from tinct.io import write_image

    rows = []
    for pair in [*nir_split("val")[::8][:3], *nir_split("test")[::17][:3]]:
        nir, rgb = load_pair(pair)
        s = height / nir.shape[0]
        size = (round(nir.shape[1] * s), height)
        cells = [np.repeat(nir[..., None], 3, axis=2), *(m.colorize(nir) for m in methods.values()), rgb]
        # each method runs on the full-size band (as a user runs it); the cells are reduced for the sheet
        cells = [cv2.resize(c, size, interpolation=cv2.INTER_AREA)[:, :width] for c in cells]
        rows.append(np.concatenate(cells, axis=1))
    write_image(out, np.concatenate(rows, axis=0), quality=88)


def bundle(row: dict, splits: dict) -> Path:
    """Copy a row's weights into the package, with its val/test scores on the card."""
    from tinct.weights import bundled_path, load_weights, resolve, save_weights

    src = resolve(row["method"], row["weights"])
    tensors, card = load_weights(src)
    protocol = "benchmarks/nir_quality.py (tinct.bench.pairs, ±4 px alignment)"
    card.metrics = {**card.metrics, "protocol": protocol,
                    **{s: {k: round(float(v), 4) for k, v in row[s].items()} for s in splits},
                    "seconds_512x340": round(row["seconds_512x340"], 4)}
    card.extra.setdefault("source_run", str(src))
    return save_weights(bundled_path(row["method"]), tensors, card)


def fmt(v: float, key: str) -> str:
    return f"{v:.3f}" if key == "ssim" else f"{v:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", action="append", default=[], help="NAME=PATH or LABEL=METHOD:PATH")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--name", default="nir_quality", help="output file stem in docs/results/")
    ap.add_argument("--sheet", type=Path, help="also write a contact sheet (NIR | methods | RGB) here")
    ap.add_argument("--bundle", action="append", default=[], metavar="LABEL",
                    help="copy this row's weights into the package (repeatable)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    splits = {"val": nir_split("val"), "test": nir_split("test")}
    train = nir_split("train")
    rows: list[dict] = []
    for label, fn in floor_methods(fit_lut(train), flat_colour(train)).items():
        rows.append({"label": f"floor: {label}", **{s: evaluate_pairs(fn, p, name=label).means()
                                                     for s, p in splits.items()}})
    loaded = {}
    for label, name, weights in parse_variants(args.weights):
        method = loaded[label] = tinct.load_method(name, weights=weights)
        path = Path(method.path)
        rows.append({"label": label, "method": name, "weights": str(weights),
                     "bytes": path.stat().st_size, "seconds_512x340": speed(method),
                     **{s: evaluate_pairs(method.colorize, p, name=label, progress=True).means()
                        for s, p in splits.items()}})
        print(label, {s: round(rows[-1][s]["ae"], 2) for s in splits}, file=sys.stderr)
    command = "python benchmarks/nir_quality.py " + " ".join(f"--weights '{w}'" for w in args.weights)
    head = [f"# NIR colorization: methods against the floors ({args.name})", "",
            f"Command: `{command.strip()}`", "",
            f"val = the last 3 pairs of each epfl_train category ({len(splits['val'])} pairs); test = "
            f"epfl_country_test ({len(splits['test'])} pairs, original registration). Floors fitted on the "
            f"train split ({len(train)} pairs). AE in degrees; `_al` = after the best shift within ±4 px.",
            ""]
    cols = " | ".join(f"{s} {k.replace('_aligned', '_al').replace('colorfulness_pred', 'colourf.')}"
                      for s in splits for k in KEYS)
    table = [f"| method | {cols} | s @512x340 | MB |", "|---" * (2 + 2 * len(KEYS) + 1) + "|"]
    for r in rows:
        vals = " | ".join(fmt(r[s][k], k) for s in splits for k in KEYS)
        sec = f"{r['seconds_512x340']:.3f}" if "seconds_512x340" in r else ""
        mb = f"{r['bytes'] / 1e6:.2f}" if "bytes" in r else ""
        table.append(f"| {r['label']} | {vals} | {sec} | {mb} |")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{args.name}.md").write_text("\n".join(head + table) + "\n")
    (OUT / f"{args.name}.json").write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
    print("\n".join(table))
    if args.sheet:
        contact_sheet(loaded, args.sheet)
    for row in rows:
        if row["label"] in args.bundle:
            print("bundled:", bundle(row, splits))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
