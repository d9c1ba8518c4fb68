"""Cheng, Yang & Sheng, "Deep Colorization" (ICCV 2015 / TIP extension): the bundled default model.

Fully automatic: per-pixel patch + DAISY + semantic features -> per-cluster MLP -> (U, V) ->
joint bilateral refinement. The luma of the result is the input's (chroma is scaled into the RGB
gamut instead of clipping RGB). See ``docs/methods/deepcolor.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tinct.options import OptionError, option
from tinct.registry import Colorizer, Inputs, register
from tinct.weights import resolve

from .pipeline import Bundle, compose, load_bundle, predict_uv, refine_uv, working_gray

DEFAULT_WORK_PIXELS = 512 * 512


@dataclass(frozen=True)
class DeepColorOptions:
    """Options of :class:`DeepColorizer`."""

    weights: str = option("default", "bundled variant (default, warm: a global style, Sec. IV-C) or a "
                          ".safetensors path from `tinct train deepcolor`")
    work_pixels: int | None = option(DEFAULT_WORK_PIXELS, "chroma is predicted at most at this many pixels "
                                     "(luma stays full resolution); none = full size")
    refine: bool | None = option(None, "joint bilateral refinement on/off (default: as trained)")
    clustering: bool | None = option(None, "pick the per-cluster net (true) or the one net trained on all "
                                     "images (false); default: as the weights card says")
    strip_rows: int = option(64, "rows per network strip at the working resolution (memory bound, "
                                     "same result)")
    saturation: float = option(1.0, "chroma scale (kept within the RGB gamut; 0 = gray)")

    def __post_init__(self) -> None:
        if self.work_pixels is not None and self.work_pixels < 64:
            raise OptionError(f"deepcolor: work_pixels must be at least 64, got {self.work_pixels}")
        if self.strip_rows < 1:
            raise OptionError(f"deepcolor: strip_rows must be at least 1, got {self.strip_rows}")
        if not 0.0 <= self.saturation <= 4.0:
            raise OptionError(f"deepcolor: saturation must be in [0, 4], got {self.saturation}")


@register(
    summary="automatic: patch+DAISY+semantic features, per-cluster MLPs, joint bilateral refinement",
    paper="Cheng, Yang, Sheng: Deep Colorization (ICCV 2015, seed 001)",
    options=DeepColorOptions,
    weights={"default": "photos/train (491 photos), adaptive clustering",
             "warm": "a global style (Sec. IV-C): the warm-toned photos of photos/train"},
    train_config="tinct.methods.deepcolor.training:DeepColorTrainConfig",
    trainer="tinct.methods.deepcolor.training:run",
)
class DeepColorizer(Colorizer):
    """Automatic colorization (Algorithm 2); the luma is kept exactly."""

    name = "deepcolor"

    def __init__(self, options: DeepColorOptions | None = None, /, **values: object) -> None:
        super().__init__(options, **values)
        o = self.options
        self.path = resolve(self.name, o.weights)
        self.bundle: Bundle = load_bundle(self.path)
        if o.refine is not None:
            self.bundle.refine = replace(self.bundle.refine, enabled=o.refine)
        self.clustering = self.bundle.clustering_default if o.clustering is None else o.clustering

    def predict_chroma(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Working-resolution gray ``(h, w)`` and refined chroma ``(2, h, w)`` (U, V)."""
        g = working_gray(gray, self.options.work_pixels)
        uv = predict_uv(self.bundle, g, clustering=self.clustering, strip_rows=self.options.strip_rows)
        return g, refine_uv(uv, g, self.bundle.refine)

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        _, uv = self.predict_chroma(image)
        if self.options.saturation != 1.0:
            uv = uv * np.float32(self.options.saturation)
        return compose(image, uv)
