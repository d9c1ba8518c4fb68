"""Write an unpaired GAN run's generator into the package as float16 (issue 15 item 4).

Only the generator ``G.*`` tensors go in (the discriminators and the second generator are training
state); the loaders widen them to float32. The card keeps the run's config, data and training
sections and records the scores that justified the bundle, the command that produced them and the
source run.

From a table already written by ``benchmarks/gan_table.py`` (its JSON keeps the command, each row's
method and weights, and the scores), without scoring again::

    .venv/bin/python benchmarks/gan_bundle.py --table docs/results/gan_table_s15_photos.json \
        --row "CycleGAN, photos 96 px, 130 min" --name photos
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tinct.weights import bundled_path, load_weights, resolve, save_weights

PROTOCOL = ("benchmarks/gan_table.py: the quality protocol of tinct bench quality "
            "(luma in, full-size output against the original)")


def table_metrics(command: str, report: str, results: dict[str, dict[str, Any]],
                  label: str) -> dict[str, Any]:
    """A card's metrics for row ``label`` of a gan_table result: per set the gray floor and this row.

    ``results`` maps set name -> row label -> scores (gan_table's ``results``)."""
    return {"protocol": PROTOCOL, "command": command, "report": report,
            **{s: {"gray floor": results[s]["gray floor"], "this": results[s][label]} for s in results}}


def bundle_generator(src: str | Path, method: str, name: str, metrics: dict[str, Any]) -> Path:
    """Copy ``src`` (an exported run, ``.safetensors`` + card) to ``method``'s bundled ``name``.

    Returns the written path. ``metrics`` replaces the card's metrics (protocol, command, scores).
    """
    src = Path(src).with_suffix(".safetensors")
    tensors, card = load_weights(src)
    half = {k: v.half() for k, v in tensors.items() if k.startswith("G.")}
    if not half:
        raise SystemExit(f"{src}: no generator tensors (G.*) to bundle")
    card.metrics = metrics
    card.extra["dtype"] = "float16 (widened to float32 at load)"
    card.extra["source_run"] = str(src)
    return save_weights(bundled_path(method, name), half, card)


def main(argv: list[str] | None = None) -> int:
    """Bundle one row of a written gan_table JSON (``--table``, ``--row``, ``--name``)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--table", required=True, help="the .json written by benchmarks/gan_table.py")
    ap.add_argument("--row", required=True, help="the row's label, as in the table")
    ap.add_argument("--name", required=True, help="the bundled variant's name (e.g. photos)")
    args = ap.parse_args(argv)
    table = json.loads(Path(args.table).read_text())
    if args.row not in table["rows"]:
        raise SystemExit(f"no row {args.row!r} in {args.table}; rows: {', '.join(table['rows'])}")
    method, weights = table["rows"][args.row]
    report = str(Path(args.table).with_suffix(".md"))
    metrics = table_metrics(table["command"], report, table["results"], args.row)
    out = bundle_generator(resolve(method, weights), method, args.name, metrics)
    print(f"bundled {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
