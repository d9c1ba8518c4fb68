"""Bounded-memory inference of the unpaired GANs (spynco, cyclegan): which approximation of the
whole-image output is closer, on photos large enough that the whole-image call is still affordable.

- ``whole``: the generator on the whole image (the reference; unbounded memory);
- ``tiles`` (what the methods do above 0.5 MP): InstanceNorm statistics measured on 0.5 MP of
  64 x 64 sample tiles spread over the image (each with its halo), frozen, then 512 x 512 tiles at
  full resolution with a halo of the receptive radius;
- ``working``: the generator on the image reduced to 0.5 MP, its chroma upsampled to full size by
  a guided filter steered by the full-resolution luma (as fusion does, ``tinct.filters.upsample_guided``).

Both outputs keep the input luma (``compose_luma_chroma``), so they differ from ``whole`` only in
chroma; reported: CIEDE2000 to ``whole`` (mean and 99th percentile over pixels), seconds.

    python benchmarks/gan_tiling.py [--scale 2.5] [--photos kodim05,kodim13,kodim23]

Writes docs/results/gan_tiling.{md,json}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

VARIANTS = ("tiles", "working")
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _photo(name: str, scale: float) -> np.ndarray:
    """Gray luma of a Kodak photo (or scikit-image's astronaut) upscaled bicubically by ``scale``."""
    import cv2

    from tinct.color import rgb_to_luma
    from tinct.io import read_rgb

    path = DATA / f"eval/kodak24/{name}.png"
    if path.is_file():
        rgb = read_rgb(path)
    else:
        from skimage import data
        rgb = data.astronaut().astype(np.float32) / 255
    h, w = rgb.shape[:2]
    big = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    return np.clip(rgb_to_luma(big), 0, 1).astype(np.float32)


def _variants(method: str, gray: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """{variant: (RGB output, seconds)}."""
    import cv2
    import torch

    import tinct
    from tinct.color import compose_luma_chroma, rgb_to_uv
    from tinct.filters import upsample_guided
    from tinct.methods.spynco.model import WHOLE_PIXELS, generate_full

    m = tinct.load_method(method)
    x = torch.from_numpy(gray)[None, None]

    def compose(rgb: np.ndarray) -> np.ndarray:
        return compose_luma_chroma(gray, rgb_to_uv(rgb))

    out = {}
    t = time.perf_counter()
    out["whole"] = compose(generate_full(m.generator, x, whole_pixels=10**12)[0].permute(1, 2, 0).numpy())
    out["whole"] = (out["whole"], time.perf_counter() - t)
    t = time.perf_counter()
    out["tiles"] = (m.colorize(gray), time.perf_counter() - t)
    t = time.perf_counter()
    h, w = gray.shape
    s = (WHOLE_PIXELS / (h * w)) ** 0.5
    small = cv2.resize(gray, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    rgb = generate_full(m.generator, torch.from_numpy(small)[None, None])[0].permute(1, 2, 0).numpy()
    uv = upsample_guided(rgb_to_uv(rgb).astype(np.float32), gray)
    out["working"] = (compose_luma_chroma(gray, uv), time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=2.5, help="upscaling of the 768x512 Kodak photos")
    ap.add_argument("--photos", default="kodim05,kodim13,kodim23")
    ap.add_argument("--methods", default="spynco,cyclegan")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    from tinct.color import rgb_to_lab
    from tinct.metrics import ciede2000
    from tinct.testing import write_report

    torch.set_num_threads(args.threads)
    rows = []
    for method in args.methods.split(","):
        for name in args.photos.split(","):
            gray = _photo(name, args.scale)
            outs = _variants(method, gray)
            ref = rgb_to_lab(outs["whole"][0])
            row = {"method": method, "photo": name, "size": list(gray.shape),
                   "seconds": {k: v[1] for k, v in outs.items()}}
            for k in VARIANTS:
                de = ciede2000(rgb_to_lab(outs[k][0]), ref)
                row[k] = {"de00_mean": float(de.mean()), "de00_p99": float(np.percentile(de, 99))}
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    lines = ["# Unpaired GANs at bounded memory: tiles with frozen statistics vs a working resolution", "",
             f"`{command}`", "",
             "CIEDE2000 of each bounded-memory output to the whole-image output (mean / 99th percentile over "
             f"pixels); Kodak photos upscaled x{args.scale:g} (bicubic), {args.threads} threads. `tiles`: "
             "InstanceNorm statistics measured on 0.5 MP of 64² sample tiles (a Fibonacci lattice, each "
             "with its halo), then 512² tiles at full size (what spynco and cyclegan do above 0.5 MP); "
             "`working`: the generator at 0.5 MP, chroma upsampled by a guided filter on the full-size "
             "luma.", "",
             "| method | photo | size | tiles ΔE00 mean / p99 | working ΔE00 mean / p99 | seconds whole / "
             "tiles / working |", "|---|---|---|---:|---:|---:|"]
    for r in rows:
        sec = " / ".join(f"{r['seconds'][k]:.1f}" for k in ("whole", *VARIANTS))
        de = " | ".join(f"{r[k]['de00_mean']:.2f} / {r[k]['de00_p99']:.2f}" for k in VARIANTS)
        lines.append(f"| {r['method']} | {r['photo']} | {r['size'][1]}x{r['size'][0]} | {de} | {sec} |")
    write_report("docs/results/gan_tiling", {"command": command, "rows": rows}, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
