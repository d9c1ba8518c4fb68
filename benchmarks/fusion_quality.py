"""Fusion: tune the decoding on photos/val, then the quality table beside gray and deepcolor on
Kodak24, McMaster18 and photos/val (issue 21's bar), and a contact sheet.

    python benchmarks/fusion_quality.py --weights RUN/fusion.safetensors --sweep --limit 50
    python benchmarks/fusion_quality.py --weights RUN/fusion.safetensors --decoding sweep --bundle

Writes docs/results/fusion_sweep.{md,json}, docs/results/fusion_quality.{md,json} and
docs/img/fusion_sheet.jpg. The sweep computes the network once per image and scores every
decoding (:class:`tinct.methods.fusion.Decoding`: regression or classification head, prior
correction, temperature, gain) on the quality protocol's metrics (ΔE00, PSNR, colourfulness).
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
from tinct.filters import upsample_guided
from tinct.methods.fusion import Decoding, FusionColorizer, working_gray
from tinct.nn.unet import pad_to_multiple
from tinct.testing import write_report

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {"kodak24": DATA / "eval/kodak24", "mcmaster18": DATA / "eval/mcmaster18",
        "photos_val": DATA / "photos/val"}
CORRECTIONS = (0.5, 0.75, 0.9, 1.0)
TEMPS = (0.25, 0.38)
GAINS = (1.0, 1.5, 2.0, 2.5, 3.0)
FOCUSED = {"focus": (1.0,), "corrections": (0.75, 0.9, 1.0), "gains": (2.0, 3.0, 4.0, 5.0)}
MIN_COLOUR = 0.55  # the pick: lowest ΔE00 among decodings at >= this colourfulness ratio (bar: 0.5)


def sizes_dev() -> list[Path]:
    """A second tuning set of held-out colour photos of **several sizes** (photos/val is all 481x321,
    so it cannot choose a working size): DAVIS 2016 frames 0 and 20 of each sequence (640x360), the
    Middlebury 2005 left views (~460x370), the EPFL RGB-NIR val split's RGB images (<= 512 px, many
    aspect ratios), Sintel frames 16 and 21 (1024x436) and the first 12 COCO caption images (<= 384
    px). fusion trains on none of them (photos/train, extra_train, Stanford train)."""
    from tinct.data.nir import nir_split

    davis = [p for seq in sorted((DATA / "video/davis2016").iterdir()) if seq.is_dir()
             for p in io.list_images(seq)[0:21:20]]
    return [*davis, *sorted((DATA / "stereo/middlebury2005").glob("*_left.png")),
            *[pair.rgb for pair in nir_split("val")],
            *[p for p in io.list_images(DATA / "video/sintel") if p.stem.endswith(("0016", "0021"))],
            *io.list_images(DATA / "captions/coco2017/images")[:12]]


SWEEP_SETS = {"photos_val": lambda: io.list_images(SETS["photos_val"]), "sizes_dev": sizes_dev}


def decodings(grid: str = "full") -> list[Decoding]:
    """The sweep's grid: the regression head alone at each gain, the classification head at each
    (prior correction, temperature, gain) with one gain everywhere (``full`` only), and with a gain
    that follows the confidence (``focus``; higher gains, since the effective gain is lower where
    κ < 1)."""
    reg = [Decoding(mix=0.0, gain=g) for g in GAINS]
    flat = [Decoding(temperature=t, prior_correction=a, mix=1.0, gain=g)
            for a in CORRECTIONS for t in TEMPS for g in GAINS] if grid == "full" else []
    return reg + flat + [Decoding(temperature=t, prior_correction=a, mix=1.0, gain=g, focus=f)
                         for f in FOCUSED["focus"] for a in FOCUSED["corrections"] for t in TEMPS
                         for g in FOCUSED["gains"]]


def network_ab(method: FusionColorizer, gray: np.ndarray, size_spec: dict, grid: list[Decoding]
               ) -> tuple[np.ndarray, list[np.ndarray]]:
    """The luma reduced to the working size ``size_spec`` (``{"work_size": N}`` on the long side or
    ``{"short_side": N}``) and every decoding's ab ``(h, w, 2)`` at that size: the network runs once."""
    g = working_gray(gray, size_spec.get("work_size", method.work_size), size_spec.get("short_side"))
    with torch.no_grad():
        xp, (h, w) = pad_to_multiple(torch.from_numpy(g)[None, None], method.net.multiple)
        logits, ab_reg = method.net(xp)
    out = []
    for d in grid:
        ab = d.ab(logits, ab_reg, method.bins["centers"], method.bins["weights"])
        ab = F.interpolate(ab, size=xp.shape[-2:], mode="bilinear", align_corners=False)
        out.append(ab[0, :, :h, :w].permute(1, 2, 0).numpy())
    return g, out


def size_specs(method: FusionColorizer, work_sizes: list[int] | None, short_sides: list[int] | None
               ) -> list[dict]:
    """The working sizes to sweep: long sides, then short sides; default: the card's."""
    specs = [{"work_size": n} for n in work_sizes or []] + [{"short_side": n} for n in short_sides or []]
    card = {"short_side": method.short_side} if method.short_side else {"work_size": method.work_size}
    return specs or [card]


def size_label(spec: dict) -> str:
    return f"short {spec['short_side']}" if spec.get("short_side") else f"long {spec.get('work_size', '–')}"


def sweep(weights: str, limit: int | None, work_sizes: list[int] | None = None,
          short_sides: list[int] | None = None, grid: str = "full", on: str = "photos_val") -> dict:
    """Every decoding (at every working size; default: the card's) on ``on`` (a :data:`SWEEP_SETS`
    name): mean ΔE00 and PSNR against gray, colourfulness ratio, % of images better than gray."""
    method = FusionColorizer(weights=weights)
    sizes = [tuple(sorted(spec.items())) for spec in size_specs(method, work_sizes, short_sides)]
    paths = SWEEP_SETS[on]()[:limit]
    grid_list = decodings(grid)
    scores: dict[tuple[tuple, Decoding], list[tuple[float, float, float, float]]] = {
        (ws, d): [] for ws in sizes for d in grid_list}
    for path in paths:
        gt = io.read_rgb(path)
        gray = rgb_to_luma(gt).astype(np.float32)
        gray_de = metrics.mean_ciede2000(gray_to_rgb(gray), gt)
        gray_psnr = metrics.psnr(gray_to_rgb(gray), gt)
        for ws in sizes:
            g, abs_ = network_ab(method, gray, dict(ws), grid_list)
            light = rgb_to_lab(gray_to_rgb(g))[..., :1]
            for d, ab in zip(grid_list, abs_, strict=True):
                uv = rgb_to_uv(lab_to_rgb(np.concatenate([light, ab], -1), clip=False)).astype(np.float32)
                pred = compose_luma_chroma(gray, upsample_guided(uv, gray))
                de = metrics.mean_ciede2000(pred, gt)
                scores[(ws, d)].append((de - gray_de, metrics.psnr(pred, gt) - gray_psnr,
                                        metrics.colorfulness(pred) / max(metrics.colorfulness(gt), 1e-6),
                                        float(de < gray_de)))
        print(f"sweep: {path.name}", file=sys.stderr)
    rows = [{**dataclasses.asdict(d), **dict(ws), "d_ciede2000": float(np.mean([s[0] for s in v])),
             "d_psnr": float(np.mean([s[1] for s in v])),
             "colourfulness_ratio": float(np.mean([s[2] for s in v])),
             "beats_gray": float(np.mean([s[3] for s in v]))} for (ws, d), v in scores.items()]
    vivid = [r for r in rows if r["colourfulness_ratio"] >= MIN_COLOUR] or rows
    pick = min(vivid, key=lambda r: r["d_ciede2000"])
    return {"set": on, "images": len(paths), "rows": rows, "min_colourfulness": MIN_COLOUR,
            "pick": {k: pick[k] for k in ("temperature", "prior_correction", "mix", "gain", "focus",
                                          "work_size", "short_side") if k in pick}}


def sweep_markdown(r: dict, command: str) -> str:
    on = r.get("set", "photos_val")
    lines = [f"# fusion: decoding sweep on {on}", "", f"`{command}`", "",
             f"{r['images']} images of {on}; differences against the gray floor (ΔE00: lower is "
             f"better). The pick (lowest ΔE00 at colourfulness ≥ {r['min_colourfulness']:.2f} of the "
             f"originals'): `{r['pick']}`.", "",
             "| working size | cls share | prior correction α | T | gain | focus | ΔE00 − gray | "
             "PSNR − gray (dB) | colourfulness / original | images better than gray |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for x in r["rows"]:
        cls = x["mix"] > 0
        lines.append(f"| {size_label(x)} | {x['mix']:.2f} | "
                     f"{x['prior_correction'] if cls else '–'} | "
                     f"{x['temperature'] if cls else '–'} | {x['gain']:.1f} | {x.get('focus', 0.0):g} | "
                     f"{x['d_ciede2000']:+.2f} | "
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


def table(weights: str, limit: int | None, cache: Path) -> dict:
    """gray, deepcolor and fusion on every set with the quality protocol."""
    base = baseline_rows(limit, cache)
    out: dict = {"protocol": PROTOCOL, "sets": {}}
    fusion = FusionColorizer(weights=weights)
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


def contact_sheet(weights: str, out: Path, n: int = 12) -> None:
    """gray | deepcolor | fusion | original for ``n`` photos of the eval/val sets, 192 px high rows."""

    picks = [*io.list_images(SETS["kodak24"])[::4][:5], *io.list_images(SETS["mcmaster18"])[::6][:3],
             *io.list_images(SETS["photos_val"])[::25][:4]][:n]
    deep, fus = tinct.load_method("deepcolor"), FusionColorizer(weights=weights)
    rows = []
    for path in picks:
        gt = io.read_rgb(path)
        s = 192 / gt.shape[0]
        gt = cv2.resize(gt, (round(gt.shape[1] * s), 192), interpolation=cv2.INTER_AREA)
        gt = gt[:, :288] if gt.shape[1] >= 288 else np.pad(gt, ((0, 0), (0, 288 - gt.shape[1]), (0, 0)))
        g = rgb_to_luma(gt).astype(np.float32)
        rows.append(np.concatenate([gray_to_rgb(g), deep.colorize(g), fus.colorize(g), gt], axis=1))
    io.write_image(out, np.concatenate(rows, axis=0), quality=88)


def with_decoding(weights: str, decoding: dict, out: Path) -> Path:
    """A copy of ``weights`` whose card's inference defaults are ``decoding`` (tuned on photos/val)."""
    from tinct.weights import load_weights, resolve, save_weights

    src = resolve("fusion", weights)
    tensors, card = load_weights(src)
    fields = {k: v for k, v in decoding.items() if k in Decoding.__dataclass_fields__}
    size = {k: int(decoding[k]) for k in ("work_size", "short_side") if decoding.get(k)}
    card.extra["inference"] = {**dataclasses.asdict(Decoding(**fields)), **size,
                               "tuned_on": "photos/val (benchmarks/fusion_quality.py --sweep)"}
    card.extra.setdefault("source_run", str(src))
    return save_weights(out, tensors, card)


def bundle(weights: Path, table_result: dict, command: str) -> Path:
    """Copy ``weights`` (with their decoding) into the package with the scores on the card."""
    from tinct.weights import bundled_path, load_weights, save_weights

    tensors, card = load_weights(weights)
    card.metrics = {**card.metrics, "protocol": PROTOCOL, "command": command,
                    **{name: rows["fusion"] for name, rows in table_result["sets"].items()}}
    return save_weights(bundled_path("fusion"), tensors, card)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="default")
    ap.add_argument("--sweep", action="store_true", help="only the decoding sweep (on --sweep-set)")
    ap.add_argument("--decoding", default="card",
                    help="'card' (the weights' own), 'sweep' (the pick of OUT_sweep.json) or JSON such as "
                    '\'{"temperature": 0.3, "prior_correction": 0.9, "mix": 1, "gain": 2}\'')
    ap.add_argument("--limit", type=int)
    ap.add_argument("--sweep-set", choices=sorted(SWEEP_SETS), default="photos_val",
                    help="--sweep: the tuning photos (sizes_dev: held-out photos of several sizes)")
    ap.add_argument("--work-sizes", type=lambda v: [int(x) for x in v.split(",")],
                    help="--sweep: long sides to sweep beside the decodings, e.g. 192,256,320 "
                    "(default: the card's working size)")
    ap.add_argument("--short-sides", type=lambda v: [int(x) for x in v.split(",")],
                    help="--sweep: short sides to sweep, e.g. 112,128,144")
    ap.add_argument("--grid", choices=("full", "focused"), default="full",
                    help="--sweep: every decoding, or the regression head and the confidence-following gains")
    ap.add_argument("--out", default="docs/results/fusion")
    ap.add_argument("--baselines-only", action="store_true",
                    help="compute (and cache) the gray and deepcolor rows")
    ap.add_argument("--cache", default="/tmp/fusion_baselines.json", help="cache of the gray/deepcolor rows")
    ap.add_argument("--bundle", action="store_true", help="write the weights, tuned defaults and scores into "
                    "tinct/methods/fusion/weights/default.*")
    args = ap.parse_args()
    command = "python " + " ".join(sys.argv)
    if args.sweep:
        r = sweep(args.weights, args.limit, args.work_sizes, args.short_sides, args.grid, args.sweep_set)
        write_report(args.out + "_sweep", {"command": command, **r}, sweep_markdown(r, command))
        return 0
    if args.baselines_only:
        baseline_rows(args.limit, Path(args.cache))
        return 0
    if args.decoding == "card":
        from tinct.weights import resolve

        weights = resolve("fusion", args.weights)
    else:
        decoding = (json.loads(Path(args.out + "_sweep.json").read_text())["pick"]
                    if args.decoding == "sweep" else json.loads(args.decoding))
        weights = with_decoding(args.weights, decoding, Path("/tmp/fusion_decoded.safetensors"))
    r = table(str(weights), args.limit, Path(args.cache))
    write_report(args.out + "_quality", {"command": command, "weights": str(weights), **r},
                 table_markdown(r, command))
    contact_sheet(str(weights), Path("docs/img/fusion_sheet.jpg"))
    if args.bundle:
        print(f"bundled {bundle(weights, r, command)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
