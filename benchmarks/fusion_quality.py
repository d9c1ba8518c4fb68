"""Fusion: tune the inference mix/temperature on photos/val, then the quality table beside gray and
deepcolor on Kodak24, McMaster18 and photos/val (issue 21's bar), and a contact sheet.

    python benchmarks/fusion_quality.py --weights RUN/fusion.safetensors --sweep     # photos/val only
    python benchmarks/fusion_quality.py --weights RUN/fusion.safetensors --mix 0.5 --temperature 0.4

Writes docs/results/fusion_sweep.{md,json}, docs/results/fusion_quality.{md,json} and
docs/img/fusion_sheet.jpg. The sweep computes the network once per image and scores every
(mix, temperature) on the quality protocol's metrics (ΔE00, PSNR, colourfulness).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

import tinct
from tinct import io, metrics
from tinct.bench.quality import PROTOCOL, evaluate_quality
from tinct.color import compose_luma_chroma, gray_to_rgb, lab_to_rgb, rgb_to_lab, rgb_to_luma, rgb_to_uv
from tinct.methods.fusion import FusionColorizer, upsample_guided
from tinct.methods.fusion.bins import annealed_mean
from tinct.nn.unet import pad_to_multiple
from tinct.testing import write_report

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {"kodak24": DATA / "eval/kodak24", "mcmaster18": DATA / "eval/mcmaster18",
        "photos_val": DATA / "photos/val"}
MIXES = (0.0, 0.25, 0.5, 0.65, 0.8, 1.0)
TEMPS = (0.2, 0.3, 0.38, 0.5, 0.7, 1.0)


def sweep(weights: str, limit: int | None) -> dict:
    """Every (mix, temperature) on photos/val: mean ΔE00, PSNR, colourfulness ratio, % images < gray."""
    method = FusionColorizer(weights=weights)
    paths = io.list_images(SETS["photos_val"])[:limit]
    scores: dict[tuple[float, float], list[tuple[float, float, float, float]]] = {}
    for path in paths:
        gt = io.read_rgb(path)
        gray = rgb_to_luma(gt).astype(np.float32)
        gray_de = metrics.mean_ciede2000(gray_to_rgb(gray), gt)
        scale = min(1.0, method.options.work_size / max(gray.shape))
        size = (round(gray.shape[1] * scale), round(gray.shape[0] * scale))
        g = gray if scale == 1 else cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        with torch.no_grad():
            xp, (h, w) = pad_to_multiple(torch.from_numpy(g)[None, None], method.net.multiple)
            logits, ab_reg = method.net(xp)
        light = rgb_to_lab(gray_to_rgb(g))[..., :1]
        for temp in TEMPS:
            ab_cls = annealed_mean(logits, method.centers, temp)
            for mix in MIXES:
                ab = mix * ab_cls + (1 - mix) * ab_reg
                ab = F.interpolate(ab, size=xp.shape[-2:], mode="bilinear", align_corners=False)
                ab = ab[0, :, :h, :w].permute(1, 2, 0).numpy()
                uv = rgb_to_uv(lab_to_rgb(np.concatenate([light, ab], -1), clip=False)).astype(np.float32)
                pred = compose_luma_chroma(gray, upsample_guided(uv, gray))
                de = metrics.mean_ciede2000(pred, gt)
                scores.setdefault((mix, temp), []).append(
                    (de - gray_de, metrics.psnr(pred, gt) - metrics.psnr(gray_to_rgb(gray), gt),
                     metrics.colorfulness(pred) / max(metrics.colorfulness(gt), 1e-6), float(de < gray_de)))
        print(f"sweep: {path.name}", file=sys.stderr)
    rows = [{"mix": m, "temperature": t, "d_ciede2000": float(np.mean([s[0] for s in v])),
             "d_psnr": float(np.mean([s[1] for s in v])),
             "colourfulness_ratio": float(np.mean([s[2] for s in v])),
             "beats_gray": float(np.mean([s[3] for s in v]))} for (m, t), v in sorted(scores.items())]
    return {"images": len(paths), "rows": rows}


def sweep_markdown(r: dict, command: str) -> str:
    lines = ["# fusion: inference mix x temperature on photos/val", "", f"`{command}`", "",
             f"{r['images']} images of photos/val; differences against the gray floor (ΔE00: lower is "
             "better).",
             "", "| mix (cls share) | T | ΔE00 − gray | PSNR − gray (dB) | colourfulness / original | "
             "images better than gray |", "|---|---|---|---|---|---|"]
    for x in r["rows"]:
        lines.append(f"| {x['mix']:.2f} | {x['temperature']:.2f} | {x['d_ciede2000']:+.2f} | "
                     f"{x['d_psnr']:+.2f} | {x['colourfulness_ratio']:.2f} | {100 * x['beats_gray']:.0f} % |")
    return "\n".join(lines) + "\n"


def baseline_rows(limit: int | None, cache: Path) -> dict:
    """gray and deepcolor on every set (per-image rows), cached in ``cache`` (they do not change)."""
    if cache.is_file():
        return json.loads(cache.read_text())
    out: dict = {}
    for name, folder in SETS.items():
        out[name] = {label: [dataclasses.asdict(r) for r in evaluate_quality(
            tinct.load_method(label), folder, limit=limit, progress=False).rows]
            for label in ("gray", "deepcolor")}
        print(f"baselines: {name}", file=sys.stderr)
    cache.write_text(json.dumps(out))
    return out


def summarize(rows: list[dict], gray_rows: list[dict]) -> dict:
    keys = ("psnr", "ssim", "ciede2000", "colorfulness_pred", "colorfulness_gt", "seconds")
    return {**{k: float(np.mean([r[k] for r in rows])) for k in keys},
            "beats_gray": float(np.mean([r["ciede2000"] < g["ciede2000"] for r, g in zip(rows, gray_rows,
                                                                                        strict=True)])),
            "colourfulness_ratio": float(np.mean([r["colorfulness_pred"] / max(r["colorfulness_gt"], 1e-6)
                                                  for r in rows]))}


def table(weights: str, options: dict, limit: int | None, cache: Path) -> dict:
    """gray, deepcolor and fusion on every set with the quality protocol."""
    base = baseline_rows(limit, cache)
    out: dict = {"protocol": PROTOCOL, "sets": {}}
    fusion = FusionColorizer(weights=weights, **options)
    for name, folder in SETS.items():
        rows = {**base[name], "fusion": [dataclasses.asdict(r) for r in evaluate_quality(
            fusion, folder, limit=limit, progress=False).rows]}
        out["sets"][name] = {label: summarize(r, rows["gray"]) for label, r in rows.items()}
        print(name, out["sets"][name]["fusion"], file=sys.stderr)
    return out


def table_markdown(r: dict, command: str) -> str:
    lines = ["# fusion quality beside gray and deepcolor (issue 21's bar)", "", f"`{command}`", "",
             "Bar: ΔE00 ≥ 1.0 below gray, PSNR ≥ 0.5 dB above, ΔE00 better than gray on ≥ 70 % of images, "
             "colourfulness ≥ 50 % of the originals'.", "",
             "| set | method | PSNR | SSIM | ΔE00 | colourfulness / original | better than gray (ΔE00) "
             "| s/img |",
             "|---|---|---|---|---|---|---|---|"]
    for name, rows in r["sets"].items():
        for label, v in rows.items():
            lines.append(f"| {name} | {label} | {v['psnr']:.2f} | {v['ssim']:.4f} | {v['ciede2000']:.2f} | "
                         f"{v['colourfulness_ratio']:.2f} | {100 * v['beats_gray']:.0f} % | "
                         f"{v['seconds']:.3f} |")
    return "\n".join(lines) + "\n\n" + PROTOCOL + "\n"


def contact_sheet(weights: str, options: dict, out: Path, n: int = 12) -> None:
    """gray | deepcolor | fusion | original for ``n`` photos of the eval/val sets, 192 px high rows."""
    import cv2

    picks = [*io.list_images(SETS["kodak24"])[::4][:5], *io.list_images(SETS["mcmaster18"])[::6][:3],
             *io.list_images(SETS["photos_val"])[::25][:4]][:n]
    deep, fus = tinct.load_method("deepcolor"), FusionColorizer(weights=weights, **options)
    rows = []
    for path in picks:
        gt = io.read_rgb(path)
        s = 192 / gt.shape[0]
        gt = cv2.resize(gt, (round(gt.shape[1] * s), 192), interpolation=cv2.INTER_AREA)
        gt = gt[:, :288] if gt.shape[1] >= 288 else np.pad(gt, ((0, 0), (0, 288 - gt.shape[1]), (0, 0)))
        g = rgb_to_luma(gt).astype(np.float32)
        rows.append(np.concatenate([gray_to_rgb(g), deep.colorize(g), fus.colorize(g), gt], axis=1))
    io.write_image(out, np.concatenate(rows, axis=0), quality=88)


def bundle(weights: str, options: dict, table_result: dict, command: str) -> Path:
    """Copy the run's weights into the package with the tuned inference defaults and the scores."""
    from tinct.weights import bundled_path, load_weights, save_weights

    tensors, card = load_weights(weights)
    card.extra["inference"] = {**card.extra.get("inference", {}), **options,
                               "tuned_on": "photos/val (benchmarks/fusion_quality.py --sweep)"}
    card.extra["source_run"] = str(weights)
    card.metrics = {**card.metrics, "protocol": PROTOCOL, "command": command,
                    **{name: rows["fusion"] for name, rows in table_result["sets"].items()}}
    return save_weights(bundled_path("fusion"), tensors, card)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="default")
    ap.add_argument("--sweep", action="store_true", help="only the photos/val sweep")
    ap.add_argument("--mix", type=float)
    ap.add_argument("--temperature", type=float)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--out", default="docs/results/fusion")
    ap.add_argument("--baselines-only", action="store_true",
                    help="compute (and cache) the gray and deepcolor rows")
    ap.add_argument("--cache", default="/tmp/fusion_baselines.json", help="cache of the gray/deepcolor rows")
    ap.add_argument("--bundle", action="store_true", help="write the weights, tuned defaults and scores into "
                    "tinct/methods/fusion/weights/default.*")
    args = ap.parse_args()
    command = "python " + " ".join(sys.argv)
    if args.sweep:
        r = sweep(args.weights, args.limit)
        write_report(args.out + "_sweep", {"command": command, **r}, sweep_markdown(r, command))
        return 0
    if args.baselines_only:
        baseline_rows(args.limit, Path(args.cache))
        return 0
    options = {k: v for k, v in (("mix", args.mix), ("temperature", args.temperature)) if v is not None}
    r = table(args.weights, options, args.limit, Path(args.cache))
    write_report(args.out + "_quality", {"command": command, "options": options, **r},
                 table_markdown(r, command))
    contact_sheet(args.weights, options, Path("docs/img/fusion_sheet.jpg"))
    if args.bundle:
        print(f"bundled {bundle(args.weights, options, r, command)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
