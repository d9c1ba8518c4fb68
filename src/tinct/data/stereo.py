"""Rectified stereo pairs: occlusion masks from ground-truth disparity, the size check of dual-lens methods.

Convention (Middlebury): the left pixel ``(y, x)`` with disparity ``d`` is seen at ``(y, x - d)`` in
the right view. For the dual-lens task the left view plays the monochrome camera (its colour is the
hidden ground truth) and the right view is the colour reference. (The data-set loaders used by the
tests and benchmarks live in :mod:`tinct.testing`.)
"""

from __future__ import annotations

import numpy as np


def occlusion_mask(disp_left: np.ndarray, disp_right: np.ndarray | None = None, *,
                   tolerance: float = 1.0) -> np.ndarray:
    """Left pixels without a visible match in the right view.

    A pixel is occluded when its disparity is unknown, when ``x - d`` leaves the image, or (with
    ``disp_right``) when the left-right consistency check fails:
    ``|d_left(y, x) - d_right(y, round(x - d_left))| > tolerance`` (NaN on the right fails too).

    Returns:
        bool ``(H, W)``; True = occluded / unmatched.
    """
    h, w = disp_left.shape
    xs = np.arange(w, dtype=np.float32)[None, :] - np.nan_to_num(disp_left, nan=0.0)
    occluded = ~np.isfinite(disp_left) | (xs < -0.5)
    if disp_right is not None:
        xr = np.clip(np.rint(xs), 0, w - 1).astype(np.int64)
        dr = np.take_along_axis(disp_right, xr, axis=1)
        with np.errstate(invalid="ignore"):
            consistent = np.abs(disp_left - dr) <= tolerance
        occluded |= ~consistent
    return occluded
