"""Synthetic scribbles: short random strokes that carry the true colour (for benchmarks/tests)."""

from __future__ import annotations

import numpy as np

from tinct.registry import Hints


def random_strokes(rgb: np.ndarray, count: int, rng: np.random.Generator, *,
                   length: tuple[int, int] = (5, 15), width: tuple[int, int] = (1, 3)) -> Hints:
    """``count`` straight strokes with random start, direction, length and width.

    Args:
        rgb: float ``(H, W, 3)`` true colour image in [0, 1]; strokes copy its pixels.
        count: number of strokes (0 gives an empty mask).
        rng: random generator (seed it for repeatable sweeps).
        length: inclusive range of stroke lengths in pixels.
        width: inclusive range of stroke widths in pixels.

    Returns:
        :class:`~tinct.registry.Hints` with ``color = rgb`` and the stroke pixels as mask.
    """
    h, w = rgb.shape[:2]
    mask = np.zeros((h, w), dtype=bool)
    if count > 0:
        y0, x0 = rng.uniform(0, h, count), rng.uniform(0, w, count)
        angle = rng.uniform(0, 2 * np.pi, count)
        lengths = rng.integers(length[0], length[1] + 1, count)
        widths = rng.integers(width[0], width[1] + 1, count)
        t = np.arange(length[1])[None, :, None]                          # along the stroke
        k = np.arange(width[1])[None, None, :]                           # across it
        dy, dx = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
        ys = np.rint(y0[:, None, None] + t * dy + k * dx).astype(int)
        xs = np.rint(x0[:, None, None] + t * dx - k * dy).astype(int)
        keep = (t < lengths[:, None, None]) & (k < widths[:, None, None])
        keep &= (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
        mask[ys[keep], xs[keep]] = True
    return Hints(color=np.ascontiguousarray(rgb, dtype=np.float32), mask=mask)
