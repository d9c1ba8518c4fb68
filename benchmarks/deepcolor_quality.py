"""deepcolor quality on Kodak24 / McMaster18 with the quality protocol, the gray floor and ablations.

Rows: the gray floor; the bundled default (all features, the one net trained on all images,
refinement); the same bundle with the paper's adaptive clustering (``clustering=True``: 9 cluster
nets, top-3 gist + semantic-histogram choice); without refinement (``refine=False``); and feature
ablations, each its own one-net bundle trained with ``tinct train deepcolor --no-clustering
--no-<feature>`` on the same cached features (compare them with the default row).

    .venv/bin/python benchmarks/deepcolor_quality.py --ablation "patch=RUN/deepcolor.safetensors" ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tinct.bench.quality import METRICS, PROTOCOL, evaluate_quality
from tinct.registry import load_method
from tinct.testing import write_report

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "eval"


def rows_for(ablations: dict[str, str]) -> list[tuple[str, str, dict]]:
    """(label, method, options) of every row."""
    rows = [
        ("gray (floor)", "gray", {}),
        ("deepcolor default (all features, one net, refinement)", "deepcolor", {}),
        ("with adaptive clustering (paper, Algorithm 3)", "deepcolor", {"clustering": True}),
        ("without refinement", "deepcolor", {"refine": False}),
    ]
    rows += [(f"without {name}", "deepcolor", {"weights": path}) for name, path in ablations.items()]
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["kodak24", "mcmaster18"])
    ap.add_argument(
        "--ablation",
        action="append",
        default=[],
        metavar="NAME=WEIGHTS",
        help="a feature-ablation bundle, e.g. 'DAISY=/work/runs/x/deepcolor.safetensors'",
    )
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", default="docs/results/deepcolor_quality")
    args = ap.parse_args()
    ablations = dict(a.split("=", 1) for a in args.ablation)
    result = {"command": "python " + " ".join(sys.argv), "protocol": PROTOCOL, "tables": {}}
    for ds in args.datasets:
        table = []
        for label, method, options in rows_for(ablations):
            report = evaluate_quality(
                load_method(method, **options), DATA / ds, limit=args.limit, progress=False
            )
            table.append({"row": label, "method": method, "options": options, **report.means()})
            print(ds, json.dumps(table[-1]), flush=True)
        result["tables"][ds] = table
    write_report(args.out, result, to_markdown(result))
    return 0


def to_markdown(r: dict) -> str:
    lines = [
        "# deepcolor quality and ablations (the paper's Figures 2-9 as numbers)",
        "",
        f"Command: `{r['command']}`  ",
        f"Protocol: {r['protocol']}",
        "",
    ]
    for ds, table in r["tables"].items():
        lines += [
            f"## {ds}",
            "",
            "| row | PSNR (dB) ↑ | SSIM ↑ | CIEDE2000 ↓ | colourfulness pred | "
            "colourfulness GT | s / image |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for t in table:
            lines.append(
                f"| {t['row']} | "
                + " | ".join(
                    f"{t[k]:.3f}" if k in ("ssim", "seconds") else f"{t[k]:.2f}"
                    for k in (*METRICS, "seconds")
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
