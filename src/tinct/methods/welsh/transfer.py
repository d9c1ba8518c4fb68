"""The pieces of Welsh, Ashikhmin & Mueller 2002, vectorized.

Luminance here is CIE L/100 and chroma is (a, b) of CIE Lab from :mod:`tinct.color` (the paper
uses Ruderman's lαβ; Lab is the common substitute and matches better in dark regions, where
lαβ's log amplifies noise). Features per pixel: luminance and the standard deviation of
luminance over its 5x5 neighbourhood, weighted 50/50 (the paper's choice).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import cKDTree

from tinct.color import compose_luma_chroma, gray_to_rgb, lab_to_rgb, rgb_to_lab, rgb_to_uv

WINDOW = 5
"""Neighbourhood size for the standard-deviation feature and for swatch texture matching."""


def remap_luminance(lum_ref: np.ndarray, lum_target: np.ndarray) -> np.ndarray:
    """Shift and scale the reference luminance to the target's mean and std (paper Sec. 2).

    Args:
        lum_ref: float ``(...)`` reference luminance.
        lum_target: float ``(...)`` target luminance (only its statistics are used).

    Returns:
        float64, same shape as ``lum_ref``.
    """
    ref = np.asarray(lum_ref, dtype=np.float64)
    target = (float(np.mean(lum_target)), float(np.std(lum_target)))
    scale, shift = remap_affine((ref.mean(), ref.std()), target)
    return ref * scale + shift


def remap_affine(ref_stats: tuple[float, float], target_stats: tuple[float, float]) -> tuple[float, float]:
    """``(scale, shift)`` of :func:`remap_luminance` (``remapped = ref * scale + shift``) from the
    ``(mean, std)`` of the reference and target luminance."""
    (m_ref, s_ref), (m_tgt, s_tgt) = ref_stats, target_stats
    scale = s_tgt / s_ref if s_ref > 1e-6 else 1.0
    return scale, m_tgt - m_ref * scale


def local_std(lum: np.ndarray, size: int = WINDOW) -> np.ndarray:
    """Standard deviation over each pixel's ``size x size`` neighbourhood (reflected border).

    Args:
        lum: float ``(H, W)``.

    Returns:
        float64 ``(H, W)`` >= 0.
    """
    x = np.asarray(lum, dtype=np.float64)
    mean = cv2.boxFilter(x, cv2.CV_64F, (size, size), borderType=cv2.BORDER_REFLECT_101)
    sq = cv2.boxFilter(x * x, cv2.CV_64F, (size, size), borderType=cv2.BORDER_REFLECT_101)
    return np.sqrt(np.maximum(sq - mean * mean, 0.0))


def jittered_samples(h: int, w: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """About ``n`` positions on a jittered grid: one uniform random point in each grid cell.

    Returns:
        ``(ys, xs)`` int arrays of equal length (at most ``h * w``).
    """
    gy = int(np.clip(round(np.sqrt(n * h / w)), 1, h))
    gx = int(np.clip(round(n / gy), 1, w))
    y_edges = np.linspace(0, h, gy + 1)
    x_edges = np.linspace(0, w, gx + 1)
    cy, cx = np.meshgrid(np.arange(gy), np.arange(gx), indexing="ij")
    ys = y_edges[cy] + rng.random(cy.shape) * (y_edges[cy + 1] - y_edges[cy])
    xs = x_edges[cx] + rng.random(cx.shape) * (x_edges[cx + 1] - x_edges[cx])
    return (np.minimum(ys.astype(int), h - 1).ravel(), np.minimum(xs.astype(int), w - 1).ravel())


def features(lum: np.ndarray, weight_lum: float = 0.5) -> np.ndarray:
    """Matching features ``(H, W, 2)``: ``sqrt(wl) * L``, ``sqrt(1 - wl) * local std`` (L2 = weighted sum)."""
    return np.stack([np.sqrt(weight_lum) * lum, np.sqrt(1.0 - weight_lum) * local_std(lum)], axis=-1)


def transfer_global(lum_target: np.ndarray, lum_ref: np.ndarray, chroma_ref: np.ndarray, *, samples: int,
                    rng: np.random.Generator, weight_lum: float = 0.5) -> np.ndarray:
    """Global transfer (paper Sec. 2): each target pixel copies the chroma of its best sample.

    Args:
        lum_target: float ``(H, W)`` target luminance in [0, 1].
        lum_ref: float ``(H', W')`` reference luminance in [0, 1] (remapped here).
        chroma_ref: float ``(H', W', C)`` reference chroma.
        samples: number of jittered samples (~200 in the paper).
        rng: random generator (seeded by the caller for repeatability).
        weight_lum: weight of luminance vs neighbourhood std in the match (0.5 in the paper).

    Returns:
        float64 ``(H, W, C)`` chroma.
    """
    ref_feat = features(remap_luminance(lum_ref, lum_target), weight_lum)
    ys, xs = jittered_samples(*lum_ref.shape, samples, rng)
    tree = cKDTree(ref_feat[ys, xs])
    _, nearest = tree.query(features(lum_target, weight_lum).reshape(-1, 2), workers=-1)
    return np.asarray(chroma_ref, dtype=np.float64)[ys[nearest], xs[nearest]].reshape(
        lum_target.shape + (chroma_ref.shape[-1],))


def patch_projection(lum: np.ndarray, basis: np.ndarray, size: int = WINDOW) -> np.ndarray:
    """Project every ``size x size`` luminance patch onto ``basis`` rows without building patches.

    Each basis vector is a correlation kernel, so the projection is ``len(basis)`` filter2D calls.

    Args:
        lum: float ``(H, W)``.
        basis: float ``(K, size*size)``.

    Returns:
        float32 ``(H, W, K)``.
    """
    x = np.asarray(lum, dtype=np.float32)
    return np.stack([cv2.filter2D(x, cv2.CV_32F, b.reshape(size, size).astype(np.float32),
                                  borderType=cv2.BORDER_REFLECT_101) for b in basis], axis=-1)


def patches_at(lum: np.ndarray, ys: np.ndarray, xs: np.ndarray, size: int = WINDOW) -> np.ndarray:
    """``size x size`` patches (reflected border) centred at the given pixels, ``(n, size*size)``."""
    r = size // 2
    pad = np.pad(np.asarray(lum, dtype=np.float64), r, mode="reflect")
    dy, dx = np.mgrid[0:size, 0:size]
    return pad[ys[:, None] + dy.ravel(), xs[:, None] + dx.ravel()]


def transfer_texture(lum_target: np.ndarray, src_y: np.ndarray, src_x: np.ndarray, src_chroma: np.ndarray,
                     *, components: int = 8, size: int = WINDOW) -> np.ndarray:
    """Paper Sec. 3 step 2: colour each pixel from the colourised swatch pixel whose luminance
    neighbourhood is closest in L2 (5x5 patches, searched in their leading principal components).

    Args:
        lum_target: float ``(H, W)`` target luminance.
        src_y, src_x: int ``(n,)`` positions of the colourised swatch pixels in the target.
        src_chroma: float ``(n, C)`` their chroma.
        components: PCA dimensions kept for the nearest-neighbour search.

    Returns:
        float64 ``(H, W, C)``.
    """
    src = patches_at(lum_target, src_y, src_x, size)
    mean = src.mean(axis=0)
    _, _, vt = np.linalg.svd(src - mean, full_matrices=False)
    basis = vt[: min(components, vt.shape[0])]
    tree = cKDTree((src - mean) @ basis.T)
    proj = patch_projection(lum_target, basis, size) - (basis @ mean).astype(np.float32)
    _, nearest = tree.query(proj.reshape(-1, basis.shape[0]), workers=-1)
    chroma = np.asarray(src_chroma, dtype=np.float64)
    return chroma[nearest].reshape(lum_target.shape + (chroma.shape[-1],))


def gray_luminance(gray: np.ndarray) -> np.ndarray:
    """CIE L / 100 (float64, the shape of ``gray``) of the gray RGB image ``(g, g, g)``."""
    return rgb_to_lab(gray_to_rgb(np.clip(gray, 0.0, 1.0)).astype(np.float64))[..., 0] / 100.0


def compose_lab(gray: np.ndarray, lum: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """RGB ``(H, W, 3)`` float32 keeping ``gray``'s luma, with the chroma of Lab ``(100 lum, ab)``."""
    rgb = lab_to_rgb(np.concatenate([100.0 * lum[..., None], ab], axis=-1), clip=False)
    return compose_luma_chroma(gray, rgb_to_uv(np.asarray(rgb, dtype=np.float64)))
