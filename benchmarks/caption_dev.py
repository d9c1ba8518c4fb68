"""Caption (issue 18): a tuning set apart from the bar's. Runs and decodings scored by the caption
protocol (accuracy, ΔE00 in the named regions, manipulation and its locality) on the held-out
photos of photos/train + photos/extra_train (the 1-in-10 hash split no caption run trains on),
labelled by the scene parser — so decodings and recipes are chosen without looking at Stanford
val, on which issue 18's bar is measured (benchmarks/caption_quality.py).

    python benchmarks/caption_dev.py --run film=RUN/caption.safetensors \\
        --decoding 'fusion/0.38,0,1.4' --decoding 'fusion/0.38,0,2.0' \\
        --cache RUN/parser_labels.npz --limit 80

Writes docs/results/caption_dev.{md,json} (``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from caption_quality import DATA, ROOT, decoded  # noqa: E402  (benchmarks/ is sys.path[0])

from tinct.bench.caption import evaluate_caption, photo_cases
from tinct.errors import TinctWarning
from tinct.methods.caption import CaptionColorizer

FOLDERS = [DATA / "photos/train", DATA / "photos/extra_train"]
COLUMNS = (("acc1", "acc@1 %", ".1f"), ("acc1_empty", "acc@1 empty %", ".1f"),
           ("de_regions", "ΔE00 regions", ".2f"), ("manip", "manip. %", ".1f"),
           ("manip_ceiling", "manip. ceiling %", ".1f"), ("manip_reachable", "manip. reachable %", ".1f"),
           ("swap_de_in", "swap ΔE00 in", ".2f"),
           ("swap_de_out", "swap ΔE00 out", ".2f"))


def markdown(rows: dict[str, dict], command: str, images: int) -> str:
    """One table row per run and decoding."""
    lines = ["# caption: the tuning set (held-out photos, scene-parser regions)", "", f"`{command}`", "",
             f"{images} held-out photos of photos/train + photos/extra_train (never trained on), regions "
             "from the scene parser, 3 swaps each. Not the bar's set (Stanford val).", "",
             "| run | decoding | " + " | ".join(h for _, h, _ in COLUMNS) + " |",
             "|---|---|" + "---:|" * len(COLUMNS)]
    for key, s in rows.items():
        run, dec = key.split("|", 1)
        lines.append(f"| {run} | {dec} | " + " | ".join(format(s[k], f) for k, _, f in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", required=True, metavar="LABEL=KIND:PATH|KIND=PATH",
                    help="a trained run (film|concat|attend|none=caption.safetensors; LABEL=KIND:PATH to "
                    "tell two runs of one kind apart; repeatable)")
    ap.add_argument("--decoding", action="append", required=True, metavar="SPEC",
                    help="as benchmarks/caption_quality.py (e.g. fusion/0.38,0,1.4; repeatable)")
    ap.add_argument("--cache", help="a caption run's parser_labels.npz (else the parser labels the photos)")
    ap.add_argument("--limit", type=int, default=80, help="first N held-out photos (default 80)")
    ap.add_argument("--tmp", default="/tmp/caption_dev", help="folder for the decoded weight copies")
    ap.add_argument("--out", default=str(ROOT / "docs/results/caption_dev"))
    args = ap.parse_args()
    warnings.simplefilter("ignore", TinctWarning)
    cases = photo_cases(FOLDERS, cache=args.cache, limit=args.limit)
    tmp = Path(args.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict] = {}
    for spec in args.run:
        label, rest = spec.split("=", 1)
        kind, path = rest.split(":", 1) if ":" in rest else (label, rest)
        for dec in args.decoding:
            colorizer = CaptionColorizer(weights=str(decoded(path, dec, tmp)), conditioning=kind)
            summary = evaluate_caption(colorizer, photos=cases).summary()["photos_dev"]
            rows[f"{label}|{dec}"] = {**summary, "weights": path}
            print(label, dec, json.dumps(summary), file=sys.stderr)
    command = "python benchmarks/caption_dev.py " + " ".join(sys.argv[1:])
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps({"command": command, "images": len(cases),
                                                    "rows": rows}, indent=1) + "\n")
    text = markdown(rows, command, len(cases))
    out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
