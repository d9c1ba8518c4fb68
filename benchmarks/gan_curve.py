"""Quality over training of an unpaired GAN run (issue 15): every snapshot a run exported with
``--snapshot-every N`` (``EXPORT_stepN.safetensors``) and its final export, scored by the project's
quality protocol (``tinct bench quality``: luma in, CIEDE2000, PSNR, SSIM, colourfulness of the
prediction over the original's) on one folder, beside the gray floor.

The curve shows whether a run has converged, drifted or collapsed; it is not used to pick a
snapshot (a run's result is its final export, scored on the bar's sets).

Usage::

    .venv/bin/python benchmarks/gan_curve.py --method spynco --export /work/runs/spynco_photos/g \
        --data /work/runs/stanford_val40 --out docs/results/spynco_photos_curve
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from tinct import load_method
from tinct.bench.quality import evaluate_quality
from tinct.testing import write_report
from tinct.weights import git_commit


def snapshots(export: Path) -> list[tuple[int | None, Path]]:
    """(step, path) of every ``EXPORT_stepN.safetensors`` by step, then the final export (step None)."""
    found = []
    for p in export.parent.glob(f"{export.name}_step*.safetensors"):
        m = re.fullmatch(rf"{re.escape(export.name)}_step(\d+)\.safetensors", p.name)
        if m:
            found.append((int(m.group(1)), p))
    final = export.with_name(export.name + ".safetensors")
    return sorted(found) + ([(None, final)] if final.exists() else [])


def score(method: str, weights: str | None, data: str, limit: int | None, **options: str) -> dict[str, float]:
    """Means of the quality protocol; colourfulness as the ratio of the means. ``options``: method
    options as strings (parsed by the method's option types)."""
    colorizer = load_method(method, **({"weights": weights} if weights else {}), **options)
    m = evaluate_quality(colorizer, data, limit=limit, progress=False).means()
    return {"ciede2000": m["ciede2000"], "psnr": m["psnr"], "ssim": m["ssim"],
            "colourfulness": m["colorfulness_pred"] / max(m["colorfulness_gt"], 1e-9)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--method", required=True, help="spynco or cyclegan")
    ap.add_argument("--export", required=True, help="the run's --export path (without .safetensors)")
    ap.add_argument("--data", required=True, help="folder of colour images")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", required=True, help="report path without extension (.md and .json)")
    args = ap.parse_args(argv)
    found = snapshots(Path(args.export))
    if not found:
        print(f"no snapshots or export found at {args.export}", file=sys.stderr)
        return 2
    gray = score("gray", None, args.data, args.limit)
    rows = []
    for step, path in found:
        s = score(args.method, str(path), args.data, args.limit)
        card = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").exists() else {}
        steps = step if step is not None else card.get("training", {}).get("steps")
        rows.append({"step": steps, "final": step is None, **s})
        print(f"step {steps}: ΔE00 {s['ciede2000']:.2f} (gray {gray['ciede2000']:.2f}), "
              f"colourfulness {s['colourfulness']:.2f}", flush=True)
    command = "python benchmarks/gan_curve.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = [f"# {args.method}: quality over training ({Path(args.export).name})", "",
             f"`{command}`", "",
             f"Data: {args.data} ({args.limit or 'all'} images), the quality protocol of "
             "`tinct bench quality`. Colourfulness: the prediction's mean over the originals' mean. "
             "Not used to pick a snapshot.",
             "", "| step | ΔE00 | ΔE00 − gray | PSNR − gray | SSIM | colourfulness |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        label = f"{r['step']} (final)" if r["final"] else str(r["step"])
        lines.append(f"| {label} | {r['ciede2000']:.2f} | {r['ciede2000'] - gray['ciede2000']:+.2f} | "
                     f"{r['psnr'] - gray['psnr']:+.2f} | {r['ssim']:.3f} | {r['colourfulness']:.2f} |")
    lines.append(f"| gray floor | {gray['ciede2000']:.2f} | 0 | 0 | {gray['ssim']:.3f} | "
                 f"{gray['colourfulness']:.2f} |")
    write_report(args.out, {"command": command, "commit": git_commit(), "gray": gray, "rows": rows},
                 "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
