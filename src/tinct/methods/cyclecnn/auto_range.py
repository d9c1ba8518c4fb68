"""``-O disparities=auto``: the search range of a pair from a coarse, cheap stereo match.

The pair is shrunk by ``scale`` (area averaging), both views' luma matched by OpenCV's StereoSGBM
(:func:`tinct.methods.stereocopy.sgbm_disparity`, searching up to half the image width), and the
range is a high percentile of the valid disparities, scaled back, with a margin, rounded up to a
multiple of 8 and capped. The mono camera's different response hardly matters: SGBM's pre-filter
matches horizontal gradients, not intensities. At 780x1024 the match takes ~20 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tinct.color import rgb_to_ycbcr

MULTIPLE = 8


@dataclass(frozen=True)
class AutoRange:
    """The chosen range ``disparities`` and why: ``percentile_px`` (the full-resolution ``percentile``
    of the coarse match, None when it failed), ``valid_share`` (matched share of the coarse pixels)
    and ``source`` (``"match"`` or ``"fallback"``)."""

    disparities: int
    percentile_px: float | None
    valid_share: float
    source: str
    percentile: float = 99.0

    def describe(self) -> str:
        """One line for the user."""
        if self.source == "match":
            return (f"cyclecnn: disparities=auto chose d = {self.disparities} (coarse SGBM match: "
                    f"{self.percentile:g}th percentile {self.percentile_px:.0f} px, "
                    f"{self.valid_share:.0%} of pixels matched)")
        return (f"cyclecnn: disparities=auto found too few matches ({self.valid_share:.0%} of pixels); "
                f"using d = {self.disparities} (the weights' trained range)")


def estimate_disparities(gray: np.ndarray, reference: np.ndarray, *, reference_side: str = "right",
                         fallback: int = 64, scale: int = 4, percentile: float = 99.0, margin: float = 1.1,
                         cap: int = 256, minimum: int = 16, min_valid: float = 0.05) -> AutoRange:
    """Pick the disparity range of a rectified pair.

    Args:
        gray: float32 ``(H, W)`` luma in [0, 1] (the monochrome view).
        reference: float32 ``(H, W, 3)`` RGB in [0, 1] (the colour view).
        reference_side: ``"right"`` (gray is the left view, matches at ``x - d``) or ``"left"``.
        fallback: the range when fewer than ``min_valid`` of the coarse pixels match.
        scale: shrink factor of the coarse match.
        percentile, margin: the range is ``margin *`` this percentile of the matched disparities.
        cap, minimum: bounds of the result (before the rounding to a multiple of 8).

    Returns:
        :class:`AutoRange`; ``disparities`` is a multiple of 8 in ``[minimum, cap]`` (or ``fallback``).
    """
    from tinct.methods.stereocopy import sgbm_disparity

    if reference_side == "left":  # mirror the rig: the gray view becomes the left one
        gray, reference = gray[:, ::-1], reference[:, ::-1]
    h, w = gray.shape
    size = (max(1, w // scale), max(1, h // scale))
    small_g = cv2.resize(np.ascontiguousarray(gray, np.float32), size, interpolation=cv2.INTER_AREA)
    luma = rgb_to_ycbcr(np.ascontiguousarray(reference, np.float32))[..., 0].astype(np.float32)
    small_r = cv2.resize(luma, size, interpolation=cv2.INTER_AREA)
    if size[0] <= 32:  # too narrow to match: nothing to learn from
        return AutoRange(int(fallback), None, 0.0, "fallback")
    disp, valid = sgbm_disparity(small_g, small_r, num_disparities=size[0] // 2, block_size=5)
    share = float(valid.mean())
    if share < min_valid:
        return AutoRange(int(fallback), None, share, "fallback")
    full = float(np.percentile(disp[valid], percentile)) * w / size[0]
    d = int(np.clip(np.ceil(margin * full + 1), minimum, cap))
    return AutoRange(-(-d // MULTIPLE) * MULTIPLE, full, share, "match", percentile)
