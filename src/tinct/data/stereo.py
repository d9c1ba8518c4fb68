"""Rectified stereo pairs with ground-truth disparity: Middlebury 2005 and skimage's motorcycle.

Convention (Middlebury): the left pixel ``(y, x)`` with disparity ``d`` is seen at ``(y, x - d)`` in
the right view. For the dual-lens task the left view plays the monochrome camera (its colour is the
hidden ground truth) and the right view is the colour reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinct.errors import TinctError
from tinct.io import read_gray, read_rgb

MIDDLEBURY_2005_SCENES = ("art", "books", "dolls", "laundry", "moebius", "reindeer")


@dataclass
class StereoPair:
    """One rectified pair.

    Attributes:
        name: scene name.
        left, right: float32 ``(H, W, 3)`` RGB in [0, 1].
        disp_left: float32 ``(H, W)`` left-view disparity in pixels, NaN where unknown.
        disp_right: float32 ``(H, W)`` right-view disparity (right ``(y, x)`` is left ``(y, x + d)``),
            NaN where unknown, or None.
    """

    name: str
    left: np.ndarray
    right: np.ndarray
    disp_left: np.ndarray
    disp_right: np.ndarray | None = None

    @property
    def max_disparity(self) -> float:
        return float(np.nanmax(self.disp_left))


def _read_disparity_x3(path: Path) -> np.ndarray:
    raw = np.rint(read_gray(path) * 255.0)
    disp = (raw / 3.0).astype(np.float32)
    disp[raw == 0] = np.nan
    return disp


def load_middlebury2005(root: str | Path, scenes: tuple[str, ...] | None = None) -> list[StereoPair]:
    """Load Middlebury 2005 third-size pairs from ``root`` (``mb2005_<scene>_{left,right,disp_*_x3}.png``).

    Args:
        root: the ``stereo/middlebury2005`` folder.
        scenes: subset of :data:`MIDDLEBURY_2005_SCENES` (default: all six).

    Raises:
        TinctError: the folder or a scene's file is missing.
    """
    root = Path(root)
    if not root.is_dir():
        raise TinctError(f"{root}: Middlebury 2005 folder not found")
    pairs = []
    for scene in scenes or MIDDLEBURY_2005_SCENES:
        stem = root / f"mb2005_{scene}"
        files = [Path(f"{stem}_{s}.png") for s in ("left", "right", "disp_left_x3", "disp_right_x3")]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise TinctError(f"Middlebury scene '{scene}' is incomplete: missing {missing[0]}")
        pairs.append(StereoPair(scene, read_rgb(files[0]), read_rgb(files[1]),
                                _read_disparity_x3(files[2]), _read_disparity_x3(files[3])))
    return pairs


def load_stereo_motorcycle() -> StereoPair:
    """``skimage.data.stereo_motorcycle()`` (Middlebury 2014, 741x500) as a :class:`StereoPair`;
    infinite (unknown) disparities become NaN; no right-view disparity."""
    from skimage import data

    left, right, disp = data.stereo_motorcycle()
    disp = disp.astype(np.float32)
    disp[~np.isfinite(disp)] = np.nan
    return StereoPair("motorcycle", (left / 255.0).astype(np.float32), (right / 255.0).astype(np.float32),
                      disp)


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


def warp_right_to_left(right: np.ndarray, disp_left: np.ndarray) -> np.ndarray:
    """Sample the right view at ``(y, x - d_left)`` (linear in x): the right image seen from the left.

    Args:
        right: ``(H, W, C)`` or ``(H, W)``.
        disp_left: ``(H, W)`` pixels; NaN is treated as 0.

    Returns:
        array like ``right`` in the left view's geometry (borders clamped).
    """
    import cv2

    h, w = disp_left.shape
    map_x = (np.arange(w, dtype=np.float32)[None, :] - np.nan_to_num(disp_left, nan=0.0)).astype(np.float32)
    map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    return cv2.remap(np.ascontiguousarray(right, dtype=np.float32), map_x, map_y, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def check_rectified_pair(method: str, gray: np.ndarray, reference: np.ndarray) -> None:
    """Dual-lens methods need the partner view at the same size; a clear error otherwise."""
    if reference.shape[:2] != gray.shape:
        raise TinctError(f"{method} needs the rectified colour view of the same size: reference is "
                         f"{reference.shape[1]}x{reference.shape[0]}, "
                         f"gray is {gray.shape[1]}x{gray.shape[0]}")
