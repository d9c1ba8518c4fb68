"""The floor: returns the luma as a gray RGB image, so every table has a baseline."""

from __future__ import annotations

import numpy as np

from tinct.registry import Colorizer, Hints, register


@register(summary="floor baseline: the luma repeated in R, G and B", paper="(none)")
class GrayColorizer(Colorizer):
    """Output = (gray, gray, gray); keeps the luminance exactly, no chroma."""

    name = "gray"

    def _colorize(self, gray: np.ndarray, *, reference: np.ndarray | None, hints: Hints | None) -> np.ndarray:
        return np.repeat(gray[:, :, None], 3, axis=2)
