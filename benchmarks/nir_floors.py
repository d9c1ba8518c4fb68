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
NOTES = [
    "**Reproducing issue 16.** `gray` and `flat` reproduce the issue's test numbers to the printed "
    "digits except the flat floor's SSIM: 0.4094 here, 0.410 in the issue (variants tried, none gives "
    "0.410: the colour as a pixel- or image-weighted mean, over the 136 train or all 160 pairs, "
    "quantized to 8 bits or not: 0.4088-0.4094; the SSIM is per RGB channel, as for gray, whose 0.478 "
    "matches; on luma gray would be 0.498). The `lut` floor fitted on the 136 train pairs gives "
    "10.72 / 0.482 / 24.6; the issue's 10.82 / 0.485 / 24.3 is reproduced exactly by the same table "
    "fitted on all 160 `epfl_train` pairs (`lut_all160`), so the issue fitted it on train + val. The "
    "floors keep the 136-pair fit: val must not be in any fit. (Also tried for the table: an "
    "image-weighted mean 10.55 dB, the median per level 10.03 dB, a mean in linear light 10.16 dB.)",
    "**Aligned scores.** The shift is chosen per prediction by the RGB MSE, so it is the registration "
    "only for a prediction that looks like the truth. For the floors it is not: `flat` (a constant) "
    "just picks the crop of the truth closest to its colour (mean |shift| ~3 px), and the gray / lut "
    "shifts can lower SSIM (test gray: 0.478 -> 0.468). Compare aligned scores between methods, and "
    "read them for the floors as 'the best of 81 crops'.",
]
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
    lines += ["", "## Notes", ""] + [f"- {n}" for n in NOTES]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
