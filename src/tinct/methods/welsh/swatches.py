"""Welsh et al.'s swatch mode (Sec. 3) in row strips: memory bounded by the swatches, not the image.

Step 1 colours each gray swatch from its reference swatch by the global procedure (arrays the size
of the swatches; a later swatch wins where two overlap). Step 2 colours every pixel by texture
synthesis from up to ``TEXTURE_SOURCES`` colourised swatch pixels: their 5x5 luminance patches
(gathered strip by strip), projected on the leading principal components, searched by a k-d tree
for each pixel's patch (projected strip by strip, the window's halo around each strip). Swatch
pixels keep their step-1 colours. The result is that of
:func:`~tinct.methods.welsh.transfer.transfer_texture` on whole arrays (tested).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from tinct.color import rgb_to_lab
from tinct.methods.welsh.transfer import (
    WINDOW,
    compose_lab,
    gray_luminance,
    patch_projection,
    patches_at,
    transfer_global,
)
from tinct.nn.tiling import strips

Box = tuple[int, int, int, int]
"""(y0, x0, y1, x1), half-open pixel rectangle."""

SWATCH_SAMPLES = 50
TEXTURE_SOURCES = 4000
COMPONENTS = 8


def texture_sources(inside: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(ys, xs)`` of the source pixels: every pixel of ``inside`` (bool ``(H, W)``) in raster
    order, or ``TEXTURE_SOURCES`` of them drawn without replacement (``rng.choice`` over the raster
    order, as ``np.nonzero`` would list them, without listing them all)."""
    counts = inside.sum(axis=1)
    total = int(counts.sum())
    if total <= TEXTURE_SOURCES:
        return np.nonzero(inside)
    pick = rng.choice(total, TEXTURE_SOURCES, replace=False)
    ends = np.cumsum(counts)
    ys = np.searchsorted(ends, pick, side="right")
    xs = np.empty_like(ys)
    for y in np.unique(ys):
        sel = ys == y
        xs[sel] = np.flatnonzero(inside[y])[pick[sel] - (ends[y] - counts[y])]
    return ys, xs


def swatch_colorize(image: np.ndarray, reference: np.ndarray, pairs: list[tuple[Box, Box]], *,
                    rng: np.random.Generator, weight_lum: float, rows: int) -> np.ndarray:
    """Swatch mode: float32 ``(H, W, 3)`` RGB keeping ``image``'s luma.

    Args:
        image: float ``(H, W)`` gray in [0, 1]; reference: float ``(H', W', 3)`` RGB in [0, 1].
        pairs: validated (gray box, reference box) pairs.
        rng: the seeded generator (step 1's samples, then step 2's sources).
        weight_lum: weight of luminance against neighbourhood std in step 1.
        rows: rows per strip.
    """
    h, w = image.shape
    half = WINDOW // 2
    colored: list[tuple[Box, np.ndarray]] = []
    inside = np.zeros((h, w), dtype=bool)
    for (gy0, gx0, gy1, gx1), (ry0, rx0, ry1, rx1) in pairs:
        ref_lab = rgb_to_lab(np.asarray(reference[ry0:ry1, rx0:rx1], dtype=np.float64))
        ab = transfer_global(gray_luminance(image[gy0:gy1, gx0:gx1]), ref_lab[..., 0] / 100.0,
                             ref_lab[..., 1:], samples=SWATCH_SAMPLES, rng=rng, weight_lum=weight_lum)
        colored.append(((gy0, gx0, gy1, gx1), ab))
        inside[gy0:gy1, gx0:gx1] = True
    ys, xs = texture_sources(inside, rng)
    src_ab = np.zeros((len(ys), 2))
    src = np.empty((len(ys), WINDOW * WINDOW))
    for (gy0, gx0, gy1, gx1), ab in colored:  # in order: a later swatch wins
        sel = (ys >= gy0) & (ys < gy1) & (xs >= gx0) & (xs < gx1)
        src_ab[sel] = ab[ys[sel] - gy0, xs[sel] - gx0]
    for s in strips(h, rows, half):
        sel = (ys >= s.top) & (ys < s.bottom)
        if sel.any():
            src[sel] = patches_at(gray_luminance(image[s.extended]), ys[sel] - s.lo, xs[sel])
    mean = src.mean(axis=0)
    _, _, vt = np.linalg.svd(src - mean, full_matrices=False)
    basis = vt[: min(COMPONENTS, vt.shape[0])]
    tree = cKDTree((src - mean) @ basis.T)
    offset = (basis @ mean).astype(np.float32)
    out = np.empty((h, w, 3), np.float32)
    for s in strips(h, rows, half):
        lum = gray_luminance(image[s.extended])
        proj = s.crop(np.moveaxis(patch_projection(lum, basis), -1, 0)) - offset[:, None, None]
        _, nearest = tree.query(np.moveaxis(proj, 0, -1).reshape(-1, basis.shape[0]), workers=-1)
        ab = src_ab[nearest].reshape(s.bottom - s.top, w, 2)
        for (gy0, gx0, gy1, gx1), sab in colored:  # swatch pixels keep their step-1 colours
            y0, y1 = max(gy0, s.top), min(gy1, s.bottom)
            if y0 < y1:
                ab[y0 - s.top:y1 - s.top, gx0:gx1] = sab[y0 - gy0:y1 - gy0]
        out[s.rows] = compose_lab(image[s.rows], s.crop(lum), ab)
    return out
