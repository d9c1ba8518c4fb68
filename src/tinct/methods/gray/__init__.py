"""The floor: returns the luma as a gray RGB image, so every table has a baseline."""

from __future__ import annotations

import numpy as np

from tinct.registry import Colorizer, Inputs, register


@register(summary="floor baseline: the luma repeated in R, G and B", paper="(none)")
class GrayColorizer(Colorizer):
    """Output = (gray, gray, gray); keeps the luminance exactly, no chroma."""

    name = "gray"

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        return np.repeat(image[:, :, None], 3, axis=2)
