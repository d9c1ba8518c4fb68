"""Stereo block-matching colour copy: a classic dual-lens baseline in the spirit of Jeon et al. 2016.

OpenCV's semi-global block matching (StereoSGBM, Hirschmüller 2008) on the gray image and the
reference's luma gives a disparity per gray pixel; Cb, Cr are copied from the reference through it.
Pixels without a valid match (occlusions, texture-less areas) take the disparity of the farther
(smaller-disparity) valid neighbour on their row, the usual background fill, and the copied
chroma is smoothed by a guided filter steered by the gray image (a light stand-in for Jeon et
al.'s spatial colour correction). The gray input's luma is kept exactly
(:func:`~tinct.color.compose_luma_chroma`: chroma scaled into the RGB cube, no clipping).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from tinct.color import cbcr_to_uv, compose_luma_chroma, rgb_to_ycbcr
from tinct.errors import TinctError
from tinct.nn.tiling import strips
from tinct.options import OptionError, option
from tinct.registry import Colorizer, Inputs, register


def fill_invalid_disparity(disp: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill invalid pixels of each row with the smaller of the nearest valid values to the left and
    right (background fill); rows with no valid pixel become 0. ``(H, W)`` float32."""
    h, w = disp.shape
    idx = np.where(valid, np.arange(w)[None, :], -1)
    left_idx = np.maximum.accumulate(idx, axis=1)
    idx_r = np.where(valid, np.arange(w)[None, :], w)
    right_idx = np.minimum.accumulate(idx_r[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(h)[:, None]
    big = np.float32(1e9)
    left_val = np.where(left_idx >= 0, disp[rows, np.clip(left_idx, 0, w - 1)], big)
    right_val = np.where(right_idx < w, disp[rows, np.clip(right_idx, 0, w - 1)], big)
    filled = np.minimum(left_val, right_val)
    filled = np.where(filled >= big, 0.0, filled)
    return np.where(valid, disp, filled).astype(np.float32)


def sgbm_disparity(gray_left: np.ndarray, gray_right: np.ndarray, num_disparities: int = 96,
                   block_size: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Left-view disparity by StereoSGBM. Inputs float (H, W) in [0, 1]. Returns (disp float32 pixels,
    valid bool)."""
    return sgbm_disparity_u8(_to_u8(gray_left), _to_u8(gray_right), num_disparities, block_size)


def _to_u8(gray: np.ndarray) -> np.ndarray:
    """float ``(H, W)`` in [0, 1] -> uint8, rounded."""
    return np.clip(gray * 255 + 0.5, 0, 255).astype(np.uint8)


def sgbm_disparity_u8(a: np.ndarray, b: np.ndarray, num_disparities: int = 96,
                      block_size: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sgbm_disparity` of uint8 ``(H, W)`` views (OpenCV's 3-way SGBM keeps a few rows of costs,
    so its memory is ~10 bytes per pixel besides its input and output)."""
    width = a.shape[1]
    if width <= 16:
        raise TinctError(f"stereo matching needs an image wider than 16 pixels, got {width}")
    num = min(max(16, int(np.ceil(num_disparities / 16)) * 16), (width - 1) // 16 * 16)
    p1, p2 = 8 * block_size ** 2, 32 * block_size ** 2
    sgbm = cv2.StereoSGBM_create(minDisparity=0, numDisparities=num, blockSize=block_size, P1=p1, P2=p2,
                                 disp12MaxDiff=1, uniquenessRatio=10, speckleWindowSize=100, speckleRange=2,
                                 preFilterCap=31, mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)
    raw = sgbm.compute(a, b).astype(np.float32) / 16.0
    valid = raw >= 0
    return raw, valid


STRIP_ROWS = 256
"""Rows per strip after the disparity search."""


@dataclass(frozen=True)
class StereoCopyOptions:
    """Options of :class:`StereoCopyColorizer`."""

    reference_side: Literal["left", "right"] = option(
        "right", "where the colour camera sits: right (the gray image is the left view) or left")
    num_disparities: int = option(96, "disparity search range in pixels (rounded up to a multiple of 16, "
                                  "capped below the image width)")
    guided_radius: int = option(4, "radius of the guided filter on the copied chroma (0 = off)")

    def __post_init__(self) -> None:
        if self.num_disparities < 1:
            raise OptionError(f"stereocopy: num_disparities must be >= 1, got {self.num_disparities}")
        if self.guided_radius < 0:
            raise OptionError(f"stereocopy: guided_radius must be >= 0, got {self.guided_radius}")


@register(summary="dual-lens baseline: StereoSGBM disparity, copy the reference's chroma through it",
          paper="in the spirit of Jeon et al., CVPR 2016 (stereo matching for mono + colour cameras)",
          options=StereoCopyOptions)
class StereoCopyColorizer(Colorizer):
    """Colour a monochrome view from the rectified colour view of a stereo rig (same size); bounded
    memory at any size (SGBM on uint8, the rest in row strips)."""

    name = "stereocopy"
    needs = frozenset({"reference"})
    reference_same_size = True

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        reference = inputs.reference
        assert reference is not None
        o = self.options
        flip = o.reference_side == "left"
        g = image[:, ::-1] if flip else image
        ref = reference[:, ::-1] if flip else reference
        h, w = g.shape
        # SGBM on the whole image (uint8 in, made in strips); everything after it is row-local but for
        # the guided filter (context 2 x its radius), so it runs in row strips: bounded memory at any size
        a, b = np.empty((h, w), np.uint8), np.empty((h, w), np.uint8)
        for s in strips(h, STRIP_ROWS):
            a[s.rows] = _to_u8(g[s.rows])
            b[s.rows] = _to_u8(rgb_to_ycbcr(ref[s.rows])[..., 0].astype(np.float32))
        disp, valid = sgbm_disparity_u8(a, b, o.num_disparities)
        del a, b
        out = np.empty((h, w, 3), np.float32)
        for s in strips(h, STRIP_ROWS, 2 * o.guided_radius + 2):
            n = s.hi - s.lo
            ycc = rgb_to_ycbcr(ref[s.extended]).astype(np.float32)
            filled = fill_invalid_disparity(s.take(disp), s.take(valid))
            map_x = np.arange(w, dtype=np.float32)[None, :] - filled
            map_y = np.repeat(np.arange(n, dtype=np.float32)[:, None], w, axis=1)
            chroma = cv2.remap(np.ascontiguousarray(ycc[..., 1:]), map_x.astype(np.float32), map_y,
                               cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            if o.guided_radius > 0:
                guide = np.ascontiguousarray(s.take(g), dtype=np.float32)
                chroma = cv2.ximgproc.guidedFilter(guide, chroma, o.guided_radius, 1e-3)
            uv = cbcr_to_uv(chroma[s.inner])
            out[s.rows] = compose_luma_chroma(image[s.rows], uv[:, ::-1] if flip else uv)
        return out
