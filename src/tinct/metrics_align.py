"""Colour-angle error and integer registration of a prediction against its ground truth.

Re-exported by :mod:`tinct.metrics`. Used by the paired protocol (:mod:`tinct.bench.pairs`),
whose ground truths (EPFL RGB-NIR) are not perfectly registered with their inputs.

* ``angular_error``: the near-infrared colorization papers' "AE" — the mean over pixels of the
  angle, in degrees, between the predicted and the true RGB vectors. It ignores brightness
  (scale-invariant per pixel) and measures hue/saturation error only: 0 for identical or
  proportional colours, 90 for orthogonal ones (pure red vs pure green).
* ``best_shift`` / ``aligned_pair``: the integer translation within ±radius px that minimizes
  the mean squared error on the overlap, and the two overlapping crops at that shift.

Sign convention of a shift ``(dy, dx)``: ``np.roll(pred, (dy, dx), axis=(0, 1))`` moves ``pred``
onto ``target``, i.e. ``pred[y - dy, x - dx]`` is compared with ``target[y, x]``. So
``best_shift(pred, np.roll(pred, (2, -3), axis=(0, 1)))`` is ``(2, -3)``.

Example::

    >>> rgb = np.random.default_rng(0).random((32, 32, 3))
    >>> best_shift(rgb, np.roll(rgb, (1, -2), axis=(0, 1)))
    (1, -2)
"""

from __future__ import annotations

import numpy as np
import scipy.fft

__all__ = ["ANGLE_EPS", "angular_error", "angular_error_map", "shift_errors", "best_shift", "aligned_pair",
           "overlap"]

ANGLE_EPS = 1e-6
"""Added to every channel of both vectors before the angle is taken (on the [0, 1] scale): a black
pixel then points along the gray axis (1, 1, 1) instead of having no direction, so black vs gray is
0 deg and black vs pure red is 54.7 deg; for any pixel brighter than ~1e-4 the change is < 0.01 deg."""


def _rgb_pair(pred: np.ndarray, target: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred), np.asarray(target)
    for arr in (pred, target):
        if not np.issubdtype(arr.dtype, np.floating):
            raise TypeError(f"{name} expects float images in [0, 1], got dtype {arr.dtype}")
    if pred.shape != target.shape or pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"{name} expects two RGB images of the same shape (H, W, 3), got {pred.shape} "
                         f"and {target.shape}")
    return pred.astype(np.float64, copy=False), target.astype(np.float64, copy=False)


def angular_error_map(pred: np.ndarray, target: np.ndarray, *, eps: float = ANGLE_EPS) -> np.ndarray:
    """Per-pixel angle in degrees between RGB vectors: ``arccos(p . t / (|p| |t|))``.

    Args:
        pred, target: float ``(H, W, 3)`` RGB in [0, 1].
        eps: added to every channel of both images first (see :data:`ANGLE_EPS`).

    Returns:
        float64 ``(H, W)`` angles in [0, 180] (in [0, 90] for non-negative RGB).
    """
    p, t = _rgb_pair(pred, target, "angular_error")
    p, t = p + eps, t + eps
    # atan2(|p x t|, p . t) is the same angle as arccos of the cosine, without arccos's loss of
    # precision near 0 deg (identical colours give exactly 0)
    sine = np.linalg.norm(np.cross(p, t), axis=2)
    return np.degrees(np.arctan2(sine, np.einsum("hwc,hwc->hw", p, t)))


def angular_error(pred: np.ndarray, target: np.ndarray, *, eps: float = ANGLE_EPS) -> float:
    """Mean angular error "AE" in degrees over all pixels (see :func:`angular_error_map`).

    Args:
        pred, target: float ``(H, W, 3)`` RGB in [0, 1].

    Returns:
        Mean angle in degrees, >= 0; 0 when every predicted colour is a positive multiple of the true one.
    """
    return float(angular_error_map(pred, target, eps=eps).mean())


def overlap(pred: np.ndarray, target: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """The overlapping crops of ``pred`` shifted by ``(dy, dx)`` and of ``target`` (module's sign
    convention): views of shape ``(H - |dy|, W - |dx|[, C])`` each."""
    h, w = target.shape[:2]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(f"shift ({dy}, {dx}) leaves no overlap of {w}x{h} images")
    p = pred[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    t = target[max(0, dy):h - max(0, -dy), max(0, dx):w - max(0, -dx)]
    return p, t


def shift_errors(pred: np.ndarray, target: np.ndarray, radius: int = 4) -> np.ndarray:
    """The mean squared error on the overlap for every shift within ±radius px.

    The cross term of every shift comes from one FFT cross-correlation per channel (zero-padded
    by ``radius``, so nothing wraps around) and the overlap's sums of squares from summed-area
    tables: O(HW log HW) instead of (2 radius + 1)^2 passes over the image; equal to the direct
    computation to ~1e-12.

    Args:
        pred, target: float ``(H, W)`` or ``(H, W, C)`` images of the same shape, more than
            ``2 * radius`` px on each side.
        radius: the largest shift tried in each direction (>= 0).

    Returns:
        float64 ``(2 radius + 1, 2 radius + 1)``: entry ``[dy + radius, dx + radius]`` is the MSE
        between ``pred`` shifted by ``(dy, dx)`` (module's convention) and ``target`` on their overlap.
    """
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape or pred.ndim not in (2, 3):
        raise ValueError(f"best_shift expects two (H, W[, C]) images of the same shape, got {pred.shape} "
                         f"and {target.shape}")
    h, w = pred.shape[:2]
    if radius < 0 or 2 * radius >= min(h, w):
        raise ValueError(f"best_shift: radius must be in [0, {(min(h, w) - 1) // 2}] for an image of shape "
                         f"{pred.shape}, got {radius}")
    p3, t3 = pred.reshape(h, w, -1), target.reshape(h, w, -1)
    size = (h + radius, w + radius)
    cross = np.zeros(size)
    for c in range(p3.shape[2]):  # one channel at a time bounds the memory to two spectra
        spectrum = scipy.fft.rfft2(t3[..., c], size) * np.conj(scipy.fft.rfft2(p3[..., c], size))
        cross += scipy.fft.irfft2(spectrum, size)  # cross[dy, dx] = sum t[y, x] p[y - dy, x - dx]
    table_p, table_t = _summed_area((p3**2).sum(axis=2)), _summed_area((t3**2).sum(axis=2))
    errors = np.empty((2 * radius + 1, 2 * radius + 1))
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            py, px = (max(0, -dy), h - max(0, dy)), (max(0, -dx), w - max(0, dx))
            ty, tx = (max(0, dy), h - max(0, -dy)), (max(0, dx), w - max(0, -dx))
            total = _box(table_p, py, px) + _box(table_t, ty, tx) - 2 * cross[dy % size[0], dx % size[1]]
            count = (py[1] - py[0]) * (px[1] - px[0]) * p3.shape[2]
            errors[dy + radius, dx + radius] = max(total, 0.0) / count
    return errors


def _summed_area(a: np.ndarray) -> np.ndarray:
    table = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
    table[1:, 1:] = a.cumsum(axis=0).cumsum(axis=1)
    return table


def _box(table: np.ndarray, ys: tuple[int, int], xs: tuple[int, int]) -> float:
    return float(table[ys[1], xs[1]] - table[ys[0], xs[1]] - table[ys[1], xs[0]] + table[ys[0], xs[0]])


def best_shift(pred: np.ndarray, target: np.ndarray, radius: int = 4) -> tuple[int, int]:
    """The integer shift ``(dy, dx)``, ``|dy|, |dx| <= radius``, minimizing the mean squared error
    between ``pred`` shifted by it and ``target`` on their overlap (:func:`shift_errors`).

    Args:
        pred, target: float ``(H, W)`` or ``(H, W, C)`` images of the same shape, more than
            ``2 * radius`` px on each side.
        radius: the largest shift tried in each direction (0 gives ``(0, 0)``).

    Returns:
        ``(dy, dx)`` in the module's sign convention. Errors within 1e-9 (relative) of the
        smallest count as ties; a tie goes to the smallest ``|dy| + |dx|``, then to the first in
        row-major order, so an exact match at (0, 0) gives (0, 0). The overlap changes with the
        shift, so even a constant prediction has a best shift: the one whose target crop is
        closest to it.
    """
    errors = shift_errors(pred, target, radius)
    best = errors.min()
    ties = np.argwhere(errors <= best + 1e-9 * max(best, 1e-12)) - radius
    dy, dx = min(ties.tolist(), key=lambda s: abs(s[0]) + abs(s[1]))
    return int(dy), int(dx)


def aligned_pair(pred: np.ndarray, target: np.ndarray, radius: int = 4
                 ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """``(pred_crop, target_crop, (dy, dx))``: the overlapping crops at :func:`best_shift`."""
    dy, dx = best_shift(pred, target, radius)
    p, t = overlap(pred, target, dy, dx)
    return p, t, (dy, dx)
