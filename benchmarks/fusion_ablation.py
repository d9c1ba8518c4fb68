"""Fusion ablation (issue 21 item 2): the same trunk trained for the same number of steps with the
global branch on or off, with or without the scene-parser histogram, and with one head only;
each scored with the regression head and with the classification head (annealed mean of the
data's posterior, α = 1, T = 0.38) on Kodak24, McMaster18 and photos/val.

    python benchmarks/fusion_ablation.py --steps 1500 --runs /work/runs/ablation

Trains what is missing (``tinct train fusion`` in a subprocess per variant, resumable: a variant
whose ``fusion.safetensors`` exists is not retrained), then writes
docs/results/fusion_ablation.{md,json}. Equal steps, not equal time: the scene parser costs time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

import tinct
from tinct.bench.quality import PROTOCOL, evaluate_quality
from tinct.testing import write_report
from tinct.weights import read_card

sys.path.insert(0, str(Path(__file__).parent))
from fusion_quality import SETS, with_decoding  # noqa: E402

VARIANTS: dict[str, list[str]] = {
    "fusion, both heads": [],
    "no fusion (no global branch)": ["--set", "model.fusion=false"],
    "fusion + scene histogram": ["--set", "model.scene_classes=8"],
    "regression only": ["--lambda-cls", "0"],
    "classification only": ["--lambda-reg", "0"],
}
DECODINGS = {"regression head": {"mix": 0.0},
             "classification head (α 1, T 0.38)": {"mix": 1.0, "prior_correction": 1.0, "temperature": 0.38}}
UNTRAINED = {"regression only": "classification head (α 1, T 0.38)",  # a head without loss: not scored
             "classification only": "regression head"}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def train(name: str, args: list[str], runs: Path, steps: int, budget: float | None,
          common: list[str]) -> Path:
    """The variant's weights, trained first when missing."""
    out = runs / slug(name)
    weights = out / "fusion.safetensors"
    if not weights.is_file():
        cmd = [sys.executable, "-m", "tinct", "train", "fusion", "--out", str(out), "--steps", str(steps),
               "--threads", "2", "--no-progress", *common, *args]
        if budget:
            cmd += ["--time-budget", str(budget)]
        print("+", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True)
    return weights


def score(weights: Path, limit: int | None, short_side: int | None = None, skip: str | None = None
          ) -> dict:
    """Per set and decoding: ΔE00 and PSNR against gray, % images better than gray, colourfulness;
    chroma predicted at ``short_side`` on the short side (default: fusion's 320 on the long side)."""
    gray = tinct.load_method("gray")
    out: dict = {}
    for label, decoding in DECODINGS.items():
        if label == skip:
            continue
        decoding = {**decoding, "short_side": short_side} if short_side else decoding
        path = with_decoding(str(weights), decoding, weights.with_name(f"decoded_{slug(label)}.safetensors"))
        method = tinct.load_method("fusion", weights=str(path))
        for name, folder in SETS.items():
            rows = evaluate_quality(method, folder, limit=limit, progress=False).rows
            floor = evaluate_quality(gray, folder, limit=limit, progress=False).rows
            de = np.array([r.ciede2000 for r in rows]) - np.array([g.ciede2000 for g in floor])
            psnr = np.array([r.psnr for r in rows]) - np.array([g.psnr for g in floor])
            colour = [r.colorfulness_pred / max(r.colorfulness_gt, 1e-6) for r in rows]
            out.setdefault(label, {})[name] = {"d_ciede2000": float(de.mean()), "d_psnr": float(psnr.mean()),
                                               "beats_gray": float((de < 0).mean()),
                                               "colourfulness_ratio": float(np.mean(colour)),
                                               "images": len(rows)}
    return out


def markdown(r: dict, command: str) -> str:
    lines = ["# fusion ablation (issue 21 item 2)", "", f"`{command}`", "",
             f"Every variant trained for {r['steps']} steps from scratch (same data, seed, schedule), "
             f"chroma predicted at the {r.get('working_size', 'long side 320')} px; "
             "differences against the gray floor (ΔE00: lower is better); per set: ΔE00 − gray / "
             "PSNR − gray (dB) / images better than gray / colourfulness ÷ original's. A variant trained "
             "without one head's loss is scored with its trained head only.", "",
             "| variant | head | " + " | ".join(SETS) + " |", "|---|---|" + "---|" * len(SETS)]
    for name, heads in r["variants"].items():
        for head, sets in heads.items():
            cells = [f"{v['d_ciede2000']:+.2f} / {v['d_psnr']:+.2f} / {100 * v['beats_gray']:.0f} % / "
                     f"{v['colourfulness_ratio']:.2f}" for v in sets.values()]
            lines.append(f"| {name} | {head} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + PROTOCOL + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500, help="training steps per variant")
    ap.add_argument("--time-budget", type=float, help="cap per variant (s); a capped run is marked")
    ap.add_argument("--runs", default="/work/runs/ablation", help="folder of the variants' runs")
    ap.add_argument("--limit", type=int, default=50, help="images per set (photos/val has more)")
    ap.add_argument("--short-side", type=int, help="short side (px) at which the variants predict chroma "
                    "(default: 320 px on the long side; the training crop's side matches what they saw)")
    ap.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    ap.add_argument("--out", default="docs/results/fusion_ablation")
    ap.add_argument("--train-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for every `tinct train fusion` (repeatable: --train-arg=--limit=16)")
    args = ap.parse_args()
    size = f"short side {args.short_side}" if args.short_side else "long side 320"
    result: dict = {"steps": args.steps, "working_size": size, "protocol": PROTOCOL, "variants": {}}
    for name, extra in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        weights = train(name, extra, Path(args.runs), args.steps, args.time_budget, args.train_arg)
        card = read_card(weights)
        result["variants"][name] = score(weights, args.limit, args.short_side, UNTRAINED.get(name))
        result.setdefault("trained_steps", {})[name] = card.extra.get("steps")
        print(name, result["variants"][name], file=sys.stderr)
    command = "python " + " ".join(sys.argv)
    write_report(args.out, {"command": command, **result}, markdown(result, command))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
