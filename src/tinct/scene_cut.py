"""Scene-cut detection shared by the temporal methods (``video-blend``, ``tcvc``).

A cut is declared between two consecutive frames when their luma histograms are further apart than
``cut_histogram`` (Bhattacharyya distance, 0 same .. 1 disjoint: cheap, tested first) or when more
than ``cut_occluded`` of the frame is occluded by the forward-backward flow check
(:class:`tinct.flow.Motion`). After a cut a temporal method forgets its previous output. The
thresholds' defaults come from the DAVIS training sequences (``benchmarks/video_quality.py``,
section 3: within a shot at most 0.05 / 0.14, at a join at least 0.19 / 0.85).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tinct.options import OptionError, option


def histogram_distance(luma_a: np.ndarray, luma_b: np.ndarray, bins: int = 64) -> float:
    """Bhattacharyya distance of two frames' luma histograms: 0 (same) .. 1 (disjoint).

    Args:
        luma_a, luma_b: float ``(H, W)`` in [0, 1].
    """
    hists = [cv2.calcHist([np.clip(x, 0, 1).astype(np.float32)], [0], None, [bins], [0, 1.0001])
             for x in (luma_a, luma_b)]
    return float(cv2.compareHist(hists[0], hists[1], cv2.HISTCMP_BHATTACHARYYA))


@dataclass(frozen=True)
class SceneCutOptions:
    """The two cut thresholds, as options of a temporal method (subclass it in the method's options
    and call :meth:`check_cut_options` from ``__post_init__``)."""

    cut_occluded: float = option(0.5, "scene cut (the previous output is forgotten) when more than this "
                                 "share of the frame is occluded")
    cut_histogram: float = option(0.12, "scene cut when the luma histograms' Bhattacharyya distance "
                                  "(0 same .. 1 disjoint) is above this")

    def check_cut_options(self, method: str) -> None:
        """Raise :class:`OptionError` unless both thresholds are in [0, 1]."""
        for key in ("cut_occluded", "cut_histogram"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise OptionError(f"{method}: {key} must be in [0, 1], got {getattr(self, key)}")

    def histogram_cut(self, prev_luma: np.ndarray, luma: np.ndarray) -> bool:
        """Whether the luma histograms of ``(H, W)`` frames in [0, 1] say "cut"."""
        return histogram_distance(prev_luma, luma) > self.cut_histogram

    def occlusion_cut(self, occluded_fraction: float) -> bool:
        """Whether the occluded share of the frame (0..1) says "cut"."""
        return occluded_fraction > self.cut_occluded
