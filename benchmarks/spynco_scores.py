"""Scores of spynco (L^1, L^{1,2,3}, + contours) and CycleGAN on CIFAR-10 test and Kodak24 crops.

Protocol (both datasets): the gray input is the BT.601 luma of the original colour image; the
generator's full-size output is scored against the original, either with the input luma put
back (``keep_luma``, the method's default) or as G's raw RGB (the paper's output).

* MSE: mean over images of the per-image RGB MSE on the 0-255 scale (floats, no rounding).
* SSIM (%), several definitions (the slides do not say which): ``ssim_rgb`` = tinct.metrics.ssim
  (Gaussian 11x11, sigma 1.5, RGB mean over channels, the project's definition), ``ssim_rgb7`` =
  scikit-image's default (7x7 uniform window, sample covariance) on RGB, ``ssim_luma`` = Gaussian
  SSIM of the lumas, ``ssim_ab`` = Gaussian SSIM on Lab a, b (each scaled from [-128, 127] to [0, 1]).
* mean CIEDE2000 (tinct.metrics.mean_ciede2000) and chroma PSNR: PSNR (dB, data range 1) of the
  Cb, Cr channels of BT.601 full-range YCbCr.

* ``mse_u8wrap``: a diagnostic, NOT a quality score: the MSE computed the buggy way, on uint8
  arrays whose subtraction and squaring wrap modulo 256 (``((a - b) ** 2).mean()`` with numpy
  uint8). It is reported only to discuss the slides' MSE scale (their 86.8 is far below our gray
  floor's true MSE).

Data: ``cifar10/test`` (all 1000 images, 32x32) and ``eval/kodak24`` (4 fixed 128x128 crops per
image, centred at (H/4, W/4), (H/4, 3W/4), (3H/4, W/4), (3H/4, 3W/4): 96 crops).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/spynco_scores.py --runs /work/runs \
        --out docs/results/spynco_scores
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from gan_bundle import bundle_generator
from skimage.metrics import structural_similarity

from tinct import metrics
from tinct.color import compose_luma_chroma, rgb_to_lab, rgb_to_luma, rgb_to_uv, rgb_to_ycbcr
from tinct.io import read_rgb
from tinct.methods.cyclegan import load_generator as load_cyclegan
from tinct.methods.spynco import load_generator as load_spynco
from tinct.methods.spynco.model import generate_full
from tinct.testing import write_report
from tinct.weights import git_commit

# (row label, slides' "loss function" column, loader, weights file relative to --runs)
ROWS = {
    "cifar10": [
        ("spynco L^1 (12 min)", "L^1", "spynco", "spynco_cifar_l1/g"),
        ("spynco L^{1,2,3} (12 min)", "L^{1,2,3}", "spynco", "spynco_cifar_l123/g_12min"),
        ("spynco L^{1,2,3} + contours (12 min)", "L^{1,2,3} + L_contours", "spynco", "spynco_cifar_l123c/g"),
        ("CycleGAN (12 min)", "CycleGAN", "cyclegan", "cyclegan_cifar/g"),
        ("spynco L^{1,2,3} (35 min)", "L^{1,2,3}", "spynco", "spynco_cifar_l123/g_35min"),
        # step-matched ablation: 600 steps each (the wall-clock budgets above bought unequal steps)
        ("spynco L^1 (600 steps)", "L^1", "spynco", "spynco_cifar_l1_s600/g"),
        ("spynco L^{1,2,3} (600 steps)", "L^{1,2,3}", "spynco", "spynco_cifar_l123_s600/g"),
        ("spynco L^{1,2,3} + contours (600 steps)", "L^{1,2,3} + L_contours", "spynco",
         "spynco_cifar_l123c_s600/g"),
    ],
    "kodak24": [
        ("spynco L^1 (12 min)", "L^1", "spynco", "spynco_photos_l1/g"),
        ("spynco L^{1,2,3} (12 min)", "L^{1,2,3}", "spynco", "spynco_photos_l123/g"),
        ("spynco L^{1,2,3} + contours (12 min)", "L^{1,2,3} + L_contours", "spynco", "spynco_photos_l123c/g"),
        ("CycleGAN (12 min)", "CycleGAN", "cyclegan", "cyclegan_photos/g"),
    ],
}
TRAINED_ON = {"cifar10": "cifar10/train (unpaired halves)",
              "kodak24": "photos/train 64x64 crops (unpaired halves)"}


def load_cifar(root: Path) -> np.ndarray:
    """All cifar10/test images, (N, 32, 32, 3) float32 in [0, 1]."""
    files = sorted((root / "cifar10" / "test").glob("*.jpg"))
    return np.stack([read_rgb(p) for p in files])


def load_kodak_crops(root: Path, size: int = 128) -> np.ndarray:
    """4 fixed crops per Kodak image, (96, size, size, 3) float32 in [0, 1]."""
    crops = []
    for p in sorted((root / "eval" / "kodak24").glob("*.png")):
        img = read_rgb(p)
        h, w = img.shape[:2]
        for cy in (h // 4, 3 * h // 4):
            for cx in (w // 4, 3 * w // 4):
                y, x = cy - size // 2, cx - size // 2
                crops.append(img[y:y + size, x:x + size])
    return np.stack(crops)


def predict(generator: torch.nn.Module, gray: np.ndarray, batch: int = 100) -> np.ndarray:
    """G's full-size RGB for (N, H, W) lumas -> (N, H, W, 3) in [0, 1]."""
    outs = []
    with torch.no_grad():
        for i in range(0, len(gray), batch):
            x = torch.from_numpy(np.ascontiguousarray(gray[i:i + batch]))[:, None]
            outs.append(generate_full(generator, x).permute(0, 2, 3, 1).numpy())
    return np.concatenate(outs).astype(np.float32)


def _u8(rgb: np.ndarray) -> np.ndarray:
    return np.round(rgb * 255.0).astype(np.uint8)


def _ab01(rgb: np.ndarray) -> np.ndarray:
    return (rgb_to_lab(rgb)[..., 1:] + 128.0) / 255.0


def score(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Mean scores over a set of (N, H, W, 3) predictions."""
    rows = []
    for p, g in zip(pred.astype(np.float64), gt.astype(np.float64), strict=True):
        p = np.clip(p, 0.0, 1.0)
        rows.append({
            "mse": metrics.mse(p, g) * 255.0**2,
            "ssim_rgb": metrics.ssim(p, g),
            "ssim_rgb7": float(structural_similarity(p, g, channel_axis=2, data_range=1.0)),
            "ssim_luma": metrics.ssim(rgb_to_luma(p), rgb_to_luma(g)),
            "ssim_ab": metrics.ssim(_ab01(p), _ab01(g)),
            "mse_u8wrap": float(((_u8(p) - _u8(g)) ** 2).mean()),
            "ciede2000": metrics.mean_ciede2000(p, g),
            "psnr_chroma": metrics.psnr(rgb_to_ycbcr(p)[..., 1:], rgb_to_ycbcr(g)[..., 1:]),
        })
    out = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    for k in ("ssim_rgb", "ssim_rgb7", "ssim_luma", "ssim_ab"):
        out[k] *= 100.0
    return out


def evaluate(dataset: str, gt: np.ndarray, runs: Path) -> list[dict]:
    """Score the gray floor and every available row of ``dataset``."""
    gray = rgb_to_luma(gt).astype(np.float32)
    results = [{"row": "gray (floor)", "loss": "-", "luma": "input", "steps": None,
                **score(np.repeat(gray[..., None], 3, axis=3), gt)}]
    for label, loss, kind, rel in ROWS[dataset]:
        path = runs / f"{rel}.safetensors"
        if not path.is_file():
            print(f"skip {label}: {path} missing", file=sys.stderr)
            continue
        generator, card = (load_spynco if kind == "spynco" else load_cyclegan)(path)
        t0 = time.perf_counter()
        raw = predict(generator, gray)
        seconds = time.perf_counter() - t0
        steps = card.extra.get("training", {}).get("steps")
        kept = np.stack([compose_luma_chroma(g, rgb_to_uv(r)) for g, r in zip(gray, raw, strict=True)])
        for luma, pred in (("input (kept)", kept), ("G's own", raw)):
            results.append({"row": label, "loss": loss, "luma": luma, "steps": steps, "weights": str(path),
                            "infer_s": seconds, **score(pred, gt)})
        print(f"{dataset}: {label} done", file=sys.stderr)
    return results


def to_markdown(dataset: str, results: list[dict], n: int, command: str) -> str:
    """The slides' table (MSE, SSIM %) followed by the extended table."""
    lines = [f"## {dataset} ({n} images; models trained on {TRAINED_ON[dataset]})", "",
             "Slides' format (SSIM = project definition, Gaussian 11x11 on RGB):", "",
             "| Dataset | Model | Loss function | Luma | Avg. MSE ↓ | Avg. SSIM (%) ↑ |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {dataset} | {r['row']} | {r['loss']} | {r['luma']} | {r['mse']:.1f} | "
                     f"{r['ssim_rgb']:.1f} |")
    lines += ["", "All scores:", "",
              "| Model | Luma | steps | MSE ↓ | SSIM RGB % | SSIM RGB 7x7 % | SSIM luma % | SSIM ab % | "
              "CIEDE2000 ↓ | chroma PSNR dB ↑ | MSE u8-wrap |", "|---" * 11 + "|"]
    for r in results:
        lines.append(f"| {r['row']} | {r['luma']} | {r['steps'] or '-'} | {r['mse']:.1f} | "
                     f"{r['ssim_rgb']:.1f} | {r['ssim_rgb7']:.1f} | {r['ssim_luma']:.1f} | "
                     f"{r['ssim_ab']:.1f} | {r['ciede2000']:.2f} | {r['psnr_chroma']:.2f} | "
                     f"{r['mse_u8wrap']:.1f} |")
    return "\n".join(lines) + "\n"


BUNDLE = [  # (method, bundled name, run weights, dataset whose scores go in the card, row label)
    # spynco "default" and "photos" are bundled since session 14 by benchmarks/gan_table.py --bundle
    # (docs/results/gan_table_s14_cifar.md, gan_table_s14_photos.md), no longer from this script.
    ("cyclegan", "default", "cyclegan_cifar/g", "cifar10", "CycleGAN (12 min)"),
]


def bundle(runs: Path, everything: dict) -> None:
    """Copy the chosen run weights into the package as float16 (generator G only), scores in the card."""
    for method, name, rel, dataset, label in BUNDLE:
        src = runs / f"{rel}.safetensors"
        if not src.is_file() or dataset not in everything["results"]:
            print(f"not bundling {method}/{name}: {src} or its scores missing", file=sys.stderr)
            continue
        rows = [r for r in everything["results"][dataset]["rows"] if r["row"] == label]
        metrics = {"protocol": "benchmarks/spynco_scores.py (see docs/results/spynco_scores.md); "
                               f"{dataset}, {everything['results'][dataset]['n_images']} images",
                   "command": everything["command"],
                   **{r["luma"]: {k: r[k] for k in SCORE_KEYS} for r in rows}}
        print(f"bundled {bundle_generator(src, method, name, metrics)}", file=sys.stderr)


SCORE_KEYS = ("mse", "ssim_rgb", "ssim_rgb7", "ssim_luma", "ssim_ab", "ciede2000", "psnr_chroma")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--runs", default="/work/runs", help="folder with the exported run weights")
    parser.add_argument("--out", default="docs/results/spynco_scores", help="output stem (.md and .json)")
    parser.add_argument("--bundle", action="store_true", help="also write the bundled weights (float16)")
    parser.add_argument("--datasets", nargs="+", default=["cifar10", "kodak24"], choices=sorted(ROWS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    root, runs = Path(args.data_root), Path(args.runs)
    command = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/spynco_scores.py " + " ".join(sys.argv[1:])
    md = ["# spynco / CycleGAN scores", "", f"Command: `{command}`", "",
          f"Commit: {git_commit()}; machine: {platform.processor() or platform.machine()}, torch "
          f"{torch.__version__}, 1 thread.", "",
          __doc__.split("\n\n", 1)[1].split("\nUsage::")[0], ""]
    everything = {"command": command, "commit": git_commit(), "results": {}}
    for dataset in args.datasets:
        gt = load_cifar(root) if dataset == "cifar10" else load_kodak_crops(root)
        results = evaluate(dataset, gt, runs)
        everything["results"][dataset] = {"n_images": len(gt), "rows": results}
        md.append(to_markdown(dataset, results, len(gt), command))
    if args.bundle:
        bundle(runs, everything)
    write_report(args.out, everything, "\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
