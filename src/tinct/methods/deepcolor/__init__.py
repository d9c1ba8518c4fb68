"""Cheng, Yang & Sheng, "Deep Colorization" (ICCV 2015 / TIP extension): the bundled default model.

Fully automatic: per-pixel patch + DAISY + semantic features -> per-cluster MLP -> (U, V) ->
joint bilateral refinement. The luma of the result is the input's (chroma is scaled into the RGB
gamut instead of clipping RGB). See ``docs/methods/deepcolor.md``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from tinct.errors import TinctError
from tinct.registry import Colorizer, Hints, register
from tinct.weights import bundled_path

from .pipeline import Bundle, compose, load_bundle, predict_uv, refine_uv, working_gray

DEFAULT_WORK_PIXELS = 512 * 512


def available_styles() -> list[str]:
    """Names of the bundled models (``default`` and any global styles, Sec. IV-C)."""
    folder = bundled_path("deepcolor").parent
    return sorted(p.stem for p in folder.glob("*.safetensors"))


def resolve_weights(weights: str | None, style: str | None) -> Path:
    """The weight file for ``weights`` (a path) or ``style`` (a bundled name or a path)."""
    if weights and style:
        raise TinctError("give either weights= or style= for deepcolor, not both")
    if weights:
        return Path(weights)
    name = style or "default"
    if name.endswith(".safetensors") or "/" in name:
        return Path(name)
    path = bundled_path("deepcolor", name)
    if not path.is_file():
        raise TinctError(
            f"no deepcolor style '{name}'; bundled: {', '.join(available_styles()) or 'none'} "
            "(or pass a .safetensors path trained with `tinct train deepcolor --style-list`)"
        )
    return path


@register(
    summary="automatic: patch+DAISY+semantic features, per-cluster MLPs, joint bilateral refinement",
    paper="Cheng, Yang, Sheng: Deep Colorization (ICCV 2015, seed 001)",
    bundled_weights=True,
    trainable=True,
)
class DeepColorizer(Colorizer):
    """Automatic colorization (Algorithm 2). Options:

    - ``weights``: a ``.safetensors`` from ``tinct train deepcolor`` (default: the bundled model).
    - ``style``: a bundled global style name or a weight path (Sec. IV-C).
    - ``work_pixels``: chroma is predicted at most at this many pixels (luma stays full resolution).
    - ``refine``: joint bilateral refinement on/off (default: as trained).
    - ``clustering``: pick the per-cluster net (True) or use the one net trained on all images
      (False); default: as the weight card says (``clustering_default``).
    - ``strip_rows``: rows per network tile at the working resolution (memory bound, same result).
    """

    name = "deepcolor"

    def __init__(
        self,
        weights: str | None = None,
        style: str | None = None,
        work_pixels: int | None = DEFAULT_WORK_PIXELS,
        refine: bool | None = None,
        clustering: bool | None = None,
        strip_rows: int = 64,
    ) -> None:
        self.path = resolve_weights(weights, style)
        self.bundle: Bundle = load_bundle(self.path)
        if refine is not None:
            self.bundle.refine = replace(self.bundle.refine, enabled=bool(refine))
        if work_pixels is not None and int(work_pixels) < 64:
            raise TinctError(f"work_pixels must be at least 64, got {work_pixels}")
        self.work_pixels = None if work_pixels is None else int(work_pixels)
        self.clustering = self.bundle.clustering_default if clustering is None else bool(clustering)
        self.strip_rows = max(1, int(strip_rows))

    def predict_chroma(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Working-resolution gray ``(h, w)`` and refined chroma ``(2, h, w)`` (U, V)."""
        g = working_gray(gray, self.work_pixels)
        uv = predict_uv(self.bundle, g, clustering=self.clustering, strip_rows=self.strip_rows)
        return g, refine_uv(uv, g, self.bundle.refine)

    def _colorize(self, gray: np.ndarray, *, reference: np.ndarray | None, hints: Hints | None) -> np.ndarray:
        _, uv = self.predict_chroma(gray)
        return compose(gray, uv)
