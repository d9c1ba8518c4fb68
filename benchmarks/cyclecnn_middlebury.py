"""Cycle-CNN protocol tables: Middlebury 2005 (six pairs) and synthetic pairs from photos/val.

First-time colorization: the left view's luma is the monochrome image, the right view the colour
reference; the left view's true colour is only used for scoring. SSIM (Wang et al. 2004 maps,
``tinct.metrics.ssim_map``, same-size maps) of Cb, Cr (mean of the two) and of RGB (mean over
channels), averaged over all pixels, non-occluded and occluded pixels (left-right disparity
consistency of the ground-truth disparities, unknown disparity counted as occluded).
Second-time (cycle): the right view's luma is coloured from the first-time result
(``reference_side="left"`` for the stereo-aware methods) and scored against the right view (the
only score the paper can compute on real data). LCC: Pearson correlation of first- and
second-time SSIM (CbCr) over images.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cyclecnn_middlebury.py --runs /work/runs/cyclecnn

Writes docs/results/cyclecnn_middlebury.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import tinct
from tinct.color import rgb_to_lab, rgb_to_ycbcr
from tinct.data.dual_lens import (
    CameraResponse,
    layered_stereo_pair,
    simulate_color_camera,
    simulate_mono_camera,
)
from tinct.data.stereo import occlusion_mask
from tinct.errors import TinctError
from tinct.io import list_images, read_rgb
from tinct.metrics import ciede2000, pearson, ssim_map
from tinct.testing import load_middlebury2005

ROOT = Path(__file__).resolve().parents[1]
STEREO_AWARE = {"cyclecnn", "stereocopy"}
MONO_RESPONSE = CameraResponse(
    weights=(0.36, 0.50, 0.14), gain=1.1, gamma=0.9, blur_sigma=0.6, noise_sigma=0.005
)


def scores(out: np.ndarray, truth: np.ndarray, occluded: np.ndarray | None) -> dict[str, float]:
    """SSIM CbCr / RGB over all (and non-occluded / occluded) pixels."""
    a, b = rgb_to_ycbcr(out), rgb_to_ycbcr(truth)
    cbcr = 0.5 * (ssim_map(a[..., 1], b[..., 1]) + ssim_map(a[..., 2], b[..., 2]))
    rgb = ssim_map(out, truth).mean(axis=2)
    de = ciede2000(rgb_to_lab(np.clip(out, 0, 1)), rgb_to_lab(truth))
    res = {"ssim_cbcr": float(cbcr.mean()), "ssim_rgb": float(rgb.mean()), "de00": float(de.mean())}
    if occluded is not None:
        for name, mask in (("nonocc", ~occluded), ("occ", occluded)):
            res[f"ssim_cbcr_{name}"] = float(cbcr[mask].mean()) if mask.any() else float("nan")
            res[f"ssim_rgb_{name}"] = float(rgb[mask].mean()) if mask.any() else float("nan")
            res[f"de00_{name}"] = float(de[mask].mean()) if mask.any() else float("nan")
    return res


def method_specs(
    runs: Path, disparities: int, extra: list[str] | None = None, baselines: bool = True
) -> dict[str, tuple[str, dict]]:
    """label -> (registered name, options); only what exists. ``extra``: "label=weights path" items;
    ``baselines`` False: only stereocopy and the weights (a quick learning-curve point)."""
    specs: dict[str, tuple[str, dict]] = {"gray (floor)": ("gray", {})} if baselines else {}
    names = {m.name: m for m in tinct.list_methods()} if baselines else {}
    for name in ("welsh", "reinhard"):
        if name in names:
            specs[name] = (name, {})
    if "deepcolor" in names and names["deepcolor"].bundled_weights:
        specs["deepcolor (automatic)"] = ("deepcolor", {})
    specs["stereocopy (SGBM, Jeon-like)"] = ("stereocopy", {"num_disparities": max(96, disparities)})
    cand = {
        "Dong et al. 2019 (supervised M, 1910 steps)": runs / "supervised_long2" / "weights.safetensors",
        "Cycle-CNN M (1120 steps, bundled)": runs / "cycle_long2" / "weights.safetensors",
        "Cycle-CNN M (420 steps)": runs / "cycle_long" / "weights.safetensors",
        "Cycle-CNN M (1120 steps) + refinement": runs / "bundle_refine" / "cyclecnn.safetensors",
    }
    for item in extra or []:
        label, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            raise TinctError(f"--weights wants LABEL=PATH of an existing file, got {item!r}")
        cand[label] = Path(path)
    for label, path in cand.items():
        if path.is_file():
            specs[label] = ("cyclecnn", {"weights": str(path), "disparities": disparities})
    return specs


def ablation_specs(runs: Path, disparities: int) -> dict[str, tuple[str, dict]]:
    labels = {
        "no cycle consistency loss": "no_cc",
        "no structure similarity loss": "no_ss",
        "no spatial smoothness loss": "no_smooth",
        "SSIM as structure similarity loss": "ssim_ss",
        "full (all three losses)": "full",
    }
    out = {}
    for label, sub in labels.items():
        path = runs / "ablation" / sub / "weights.safetensors"
        if path.is_file():
            out[label] = ("cyclecnn", {"weights": str(path), "disparities": disparities})
    return out


def run_pairs(
    specs: dict[str, tuple[str, dict]], pairs: list[dict], keep: dict[str, list] | None = None
) -> dict[str, list[dict]]:
    """pairs: dicts with name, gray_left, left, right, occluded. Returns label -> per-image records;
    ``keep``: also collects label -> first-time outputs (for the contact sheet)."""
    results: dict[str, list[dict]] = {}
    for label, (name, opts) in specs.items():
        first_m = tinct.load_method(name, **opts)
        second_m = tinct.load_method(
            name, **opts, **({"reference_side": "left"} if name in STEREO_AWARE else {})
        )
        recs = []
        for p in pairs:
            t0 = time.perf_counter()
            ref = p["right_camera"]
            first = first_m.colorize(
                p["gray_left"], reference=ref if "reference" in tinct.method_info(name).accepts else None
            )
            gray_right = rgb_to_ycbcr(ref)[..., 0].astype(np.float32)
            second = second_m.colorize(
                gray_right, reference=first if "reference" in tinct.method_info(name).accepts else None
            )
            rec = {
                "image": p["name"],
                "seconds": round(time.perf_counter() - t0, 2),
                "first": scores(first, p["left"], p["occluded"]),
                "second": scores(second, ref, None),
            }
            recs.append(rec)
            if keep is not None:
                keep.setdefault(label, []).append(first)
            print(label, p["name"], rec["first"]["ssim_cbcr"], rec["second"]["ssim_cbcr"], flush=True)
        results[label] = recs
    return results


def contact_sheet(pairs: list[dict], outputs: dict[str, list], path: Path, height: int = 150) -> None:
    """One row per pair: gray | colour reference (right view) | each method's first-time result |
    true left colour, ``height`` px high; written as JPEG."""
    import cv2
    from PIL import Image

    def fit(img: np.ndarray) -> np.ndarray:
        img = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img
        w = round(img.shape[1] * height / img.shape[0])
        return cv2.resize(np.clip(img, 0, 1).astype(np.float32), (w, height), interpolation=cv2.INTER_AREA)

    rows = []
    for i, p in enumerate(pairs):
        cells = [p["gray_left"], p["right_camera"], *(o[i] for o in outputs.values()), p["left"]]
        rows.append(np.concatenate([fit(c) for c in cells], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0)), constant_values=1.0) for r in rows]
    sheet = (np.concatenate(rows, axis=0) * 255 + 0.5).astype(np.uint8)
    Image.fromarray(sheet).save(path, quality=82)
    print("sheet:", path, "columns: gray | reference |", " | ".join(outputs), "| truth")


def bundle_row(label: str, specs: dict, report: dict, out: str, variant: str = "default") -> Path:
    """Bundle the M weights of row ``label`` as the package's ``variant``; the card gets its first-time
    scores (and stereocopy's, the bar) on every part of ``report``."""
    from tinct.methods.cyclecnn.bundle import bundle_weights
    from tinct.train import train_seconds
    from tinct.weights import bundled_path, load_weights, save_weights

    if label not in specs or "weights" not in specs[label][1]:
        raise TinctError(f"--bundle {label!r}: not a --weights row")
    path = bundle_weights(specs[label][1]["weights"], None, bundled_path("cyclecnn", variant))
    tensors, card = load_weights(path)
    keys = ("first_ssim_cbcr", "first_ssim_cbcr_nonocc", "first_de00", "second_ssim_cbcr")
    stereo = next((k for k in specs if k.startswith("stereocopy")), None)
    card.metrics = {"protocol": f"benchmarks/cyclecnn_middlebury.py (d = 80), tables in {Path(out).name}.md"}
    names = {"middlebury": "middlebury2005", "middlebury_camera_sim": "middlebury2005_camera_sim"}
    for part, rec in report.items():
        rows = {"model": rec["summary"][label], "stereocopy": rec["summary"].get(stereo, {})}
        card.metrics[names.get(part, part)] = {
            who: {k: round(r[k], 4) for k in keys if k in r} for who, r in rows.items()
        }
    model = card.extra["parts"]["model"]
    seconds = train_seconds(Path(specs[label][1]["weights"]).parent)
    card.extra["training"] = {
        "steps": model.get("total_steps") or model.get("steps") or model.get("metrics", {}).get("step"),
        "train_seconds": round(seconds, 1) if seconds else model.get("train_seconds"),
    }
    return save_weights(path, tensors, card)


def middlebury_pairs(root: Path, camera_sim: bool) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for p in load_middlebury2005(root):
        left_y = rgb_to_ycbcr(p.left)[..., 0].astype(np.float32)
        gray = simulate_mono_camera(p.left, MONO_RESPONSE, rng) if camera_sim else left_y
        right = simulate_color_camera(p.right, rng, max_noise=0.02, max_blur=0.8) if camera_sim else p.right
        out.append(
            {
                "name": p.name,
                "gray_left": gray,
                "left": p.left,
                "right_camera": right,
                "occluded": occlusion_mask(p.disp_left, p.disp_right),
            }
        )
    return out


def synthetic_val_pairs(folder: Path, count: int, max_disparity: float) -> list[dict]:
    rng = np.random.default_rng(123)
    paths = list_images(folder)
    textures = [read_rgb(paths[i]) for i in rng.permutation(len(paths))[: 3 * count]]
    out = []
    for i in range(count):
        p = layered_stereo_pair(textures[3 * i : 3 * i + 3], 256, 384, rng, max_disparity=max_disparity)
        out.append(
            {
                "name": f"val_pair_{i:02d}",
                "gray_left": rgb_to_ycbcr(p.left)[..., 0].astype(np.float32),
                "left": p.left,
                "right_camera": p.right,
                "occluded": p.occluded,
            }
        )
    return out


def summarize(results: dict[str, list[dict]]) -> dict[str, dict]:
    summary = {}
    for label, recs in results.items():
        s = {}
        for when in ("first", "second"):
            for key in recs[0][when]:
                s[f"{when}_{key}"] = float(np.nanmean([r[when][key] for r in recs]))
        f = [r["first"]["ssim_cbcr"] for r in recs]
        g = [r["second"]["ssim_cbcr"] for r in recs]
        s["lcc_first_second_cbcr"] = pearson(np.array(f), np.array(g)) if len(recs) > 2 else float("nan")
        s["seconds_per_pair"] = float(np.mean([r["seconds"] for r in recs]))
        summary[label] = s
    return summary


def table(summary: dict[str, dict], occ: bool) -> list[str]:
    if occ:
        head = (
            "| method | 1st CbCr all | 1st CbCr non-occ | 1st CbCr occ | 1st RGB all | 1st RGB non-occ | "
            "1st RGB occ | 1st ΔE00 all | 1st ΔE00 non-occ | 2nd CbCr | 2nd RGB | LCC | s/pair |"
        )
        keys = [
            "first_ssim_cbcr",
            "first_ssim_cbcr_nonocc",
            "first_ssim_cbcr_occ",
            "first_ssim_rgb",
            "first_ssim_rgb_nonocc",
            "first_ssim_rgb_occ",
            "first_de00",
            "first_de00_nonocc",
            "second_ssim_cbcr",
            "second_ssim_rgb",
            "lcc_first_second_cbcr",
            "seconds_per_pair",
        ]
    else:
        head = "| method | 2nd-time SSIM CbCr | 2nd-time SSIM RGB | 1st-time SSIM CbCr | 1st-time SSIM RGB |"
        keys = ["second_ssim_cbcr", "second_ssim_rgb", "first_ssim_cbcr", "first_ssim_rgb"]
    lines = [head, "|" + "---|" * (len(keys) + 1)]
    for label, s in summary.items():
        lines.append(
            f"| {label} | "
            + " | ".join(f"{s[k]:.4f}" if k != "seconds_per_pair" else f"{s[k]:.1f}" for k in keys)
            + " |"
        )
    return lines


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--runs", default="/work/runs/cyclecnn")
    ap.add_argument(
        "--disparities", type=int, default=80, help="search range on Middlebury (max disparity 77)"
    )
    ap.add_argument("--val-pairs", type=int, default=10)
    ap.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="also score cyclecnn with these weights (repeatable)",
    )
    ap.add_argument("--parts", default="main,camera,ablation,val")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--bundle", metavar="LABEL", help="copy this --weights row into the package, its scores on the card"
    )
    ap.add_argument("--bundle-as", default="default", help="--bundle: the weights variant to write")
    ap.add_argument(
        "--no-baselines", action="store_true", help="score only stereocopy and the --weights (quick)"
    )
    ap.add_argument(
        "--sheet", type=Path, help="write a contact sheet of the Middlebury pairs (part main) here"
    )
    ap.add_argument(
        "--sheet-methods",
        default="stereocopy,Cycle-CNN",
        help="comma-separated label prefixes of the methods shown on the sheet",
    )
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "cyclecnn_middlebury"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data, runs = Path(args.data), Path(args.runs)
    if not (data / "stereo" / "middlebury2005").is_dir():
        raise TinctError(f"{data}/stereo/middlebury2005 not found")
    parts = set(args.parts.split(","))
    specs = method_specs(runs, args.disparities, args.weights, not args.no_baselines)
    report: dict[str, dict] = {}
    md = [
        "# Cycle-CNN protocol tables",
        "",
        f"Command: `OMP_NUM_THREADS={args.threads} .venv/bin/python benchmarks/cyclecnn_middlebury.py "
        f"--runs {args.runs} --parts {args.parts}"
        + "".join(f" --weights '{w}'" for w in args.weights)
        + (" --no-baselines" if args.no_baselines else "")
        + "` (weights: see docs/methods/cyclecnn.md).",
        "",
    ]
    mb = data / "stereo" / "middlebury2005"
    if "main" in parts:
        pairs, kept = middlebury_pairs(mb, camera_sim=False), {}
        res = run_pairs(specs, pairs, kept)
        report["middlebury"] = {"summary": summarize(res), "per_image": res}
        if args.sheet:
            prefixes = tuple(args.sheet_methods.split(","))
            contact_sheet(pairs, {k: v for k, v in kept.items() if k.startswith(prefixes)}, args.sheet)
        md += [
            "## Middlebury 2005, six pairs, gray = exact luma of the left view (Tables 1 and 3)",
            "",
            *table(report["middlebury"]["summary"], True),
            "",
        ]
    if "camera" in parts:
        res = run_pairs(specs, middlebury_pairs(mb, camera_sim=True))
        report["middlebury_camera_sim"] = {"summary": summarize(res), "per_image": res}
        md += [
            "## Middlebury 2005 with simulated cameras (mono response gain 1.1, gamma 0.9, weights "
            "(0.36, 0.50, 0.14), blur 0.6, noise 0.005; colour camera blur/noise)",
            "",
            "Scores use the true colour of the left view (whose Y differs from the gray input here, "
            "so RGB SSIM is bounded below 1 for every method).",
            "",
            *table(report["middlebury_camera_sim"]["summary"], True),
            "",
        ]
    if "ablation" in parts:
        abl = ablation_specs(runs, args.disparities)
        if abl:
            res = run_pairs(abl, middlebury_pairs(mb, camera_sim=True))
            report["ablation"] = {"summary": summarize(res), "per_image": res}
            md += [
                "## Ablation (Table 4): M only, 100 training steps each, Middlebury with simulated cameras",
                "",
                *table(report["ablation"]["summary"], False),
                "",
            ]
    if "val" in parts:
        res = run_pairs(
            {k: v for k, v in specs.items()},
            synthetic_val_pairs(data / "photos" / "val", args.val_pairs, 40.0),
        )
        report["synthetic_val"] = {"summary": summarize(res), "per_image": res}
        md += [
            f"## Synthetic layered pairs from photos/val ({args.val_pairs} pairs, 384x256, disparity <= 40; "
            "Table 2 style)",
            "",
            *table(report["synthetic_val"]["summary"], True),
            "",
        ]
    if args.bundle:
        print("bundled:", bundle_row(args.bundle, specs, report, args.out, args.bundle_as))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(report, indent=1) + "\n")
    Path(args.out + ".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
