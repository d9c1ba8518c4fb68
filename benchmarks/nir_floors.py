"""NIR colorization floors (issue 16 item 4) on the val and test splits with the paired protocol.

Floors (``tinct.bench.nir_floors``): NIR used as gray, a NIR -> RGB lookup table and the flat mean
colour, both fitted on the train split of ``epfl_train`` (136 pairs); scored on val (the last 3
pairs per category of ``epfl_train``, 24 pairs) and test (``epfl_country_test``, 52 pairs):
PSNR / SSIM / AE / CIEDE2000, plainly and after the best shift within +-R px. One extra row on
test, ``lut_all160``, fits the table on all 160 ``epfl_train`` pairs (val included): the fit that
reproduces issue 16's LUT numbers; it is not a floor for val (val is in its fit).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/nir_floors.py
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from tinct.bench.nir_floors import FLOORS, apply_lut, evaluate_floors, fit_lut, flat_colour, floor_methods
from tinct.bench.pairs import PROTOCOL
from tinct.data.nir import nir_split
from tinct.testing import write_report

# issue 16's measurement on epfl_country_test (PSNR dB / SSIM / AE deg / CIEDE2000)
ISSUE_TEST = {"gray": (10.14, 0.478, 6.59, 25.0), "lut": (10.82, 0.485, 6.44, 24.3),
              "flat": (11.29, 0.410, 6.53, 22.5)}
EXTRA = {"lut_all160": "the lookup table fitted on all 160 epfl_train pairs (train + val), test only"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--align-radius", type=int, default=4)
    ap.add_argument("--out", default="docs/results/nir_floors")
    args = ap.parse_args()
    train, val, test = nir_split("train"), nir_split("val"), nir_split("test")
    lut, colour = fit_lut(train), flat_colour(train)
    reports = evaluate_floors(floor_methods(lut, colour), {"val": val, "test": test}, args.align_radius)
    lut_all = fit_lut(train + val)
    reports["test"] |= evaluate_floors({"lut_all160": lambda band: apply_lut(lut_all, band)}, {"test": test},
                                       args.align_radius)["test"]
    result = {
        "command": "python " + " ".join(sys.argv), "protocol": PROTOCOL, "align_radius": args.align_radius,
        "n_train": len(train), "n_pairs": {"val": len(val), "test": len(test)},
        "floors": FLOORS | EXTRA, "issue_test": ISSUE_TEST,
        "flat_colour": colour.tolist(), "lut": np.round(lut, 6).tolist(),
        "splits": {s: {name: {"mean": r.means(), "images": r.rows} for name, r in by.items()}
                   for s, by in reports.items()},
    }
    write_report(args.out, result, to_markdown(result))
    return 0


def _cells(m: dict, suffix: str = "") -> list[str]:
    return [f"{m['psnr' + suffix]:.2f}", f"{m['ssim' + suffix]:.3f}", f"{m['ae' + suffix]:.2f}",
            f"{m['ciede2000' + suffix]:.1f}"]


def to_markdown(r: dict) -> str:
    lines = ["# NIR colorization floors (issue 16 item 4)", "",
             f"Command: `{r['command']}`", "",
             f"Protocol: {r['protocol']} (R = {r['align_radius']} px). Floors fitted on the train split "
             f"({r['n_train']} pairs of `epfl_train`); val = the last 3 pairs per category of `epfl_train` "
             f"({r['n_pairs']['val']} pairs), test = `epfl_country_test` ({r['n_pairs']['test']} pairs).", ""]
    lines += [f"- `{k}`: {v}" for k, v in r["floors"].items()]
    colour = ", ".join(f"{c:.3f}" for c in r["flat_colour"])
    lines += [f"- flat colour = RGB ({colour})", "",
              "| split | floor | PSNR | SSIM | AE (deg) | CIEDE2000 | PSNR al. | SSIM al. | AE al. | "
              "CIEDE2000 al. | mean abs shift dy,dx |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for split, by in r["splits"].items():
        for name, rep in by.items():
            m = rep["mean"]
            shift = f"{m['abs_dy']:.1f},{m['abs_dx']:.1f}"
            lines.append("| " + " | ".join([split, name, *_cells(m), *_cells(m, "_aligned"), shift]) + " |")
    lines += ["", "Issue 16's measurement on test (PSNR / SSIM / AE / CIEDE2000) against this run's plain "
              "scores:", "", "| floor | issue | here (fitted on train, 136) | here, `lut_all160` |",
              "|---|---|---|---|"]
    test = r["splits"]["test"]
    for name, ref in r["issue_test"].items():
        here = " / ".join(_cells(test[name]["mean"]))
        extra = " / ".join(_cells(test["lut_all160"]["mean"])) if name == "lut" else ""
        issue = f"{ref[0]:.2f} / {ref[1]:.3f} / {ref[2]:.2f} / {ref[3]:.1f}"
        lines.append(f"| {name} | {issue} | {here} | {extra} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
