"""Welsh, Ashikhmin & Mueller 2002, *Transferring Color to Greyscale Images*.

Global mode (paper Sec. 2): the reference luminance is remapped to the target's mean/std, ~200
reference pixels are taken on a jittered grid, every target pixel finds the sample with the
closest (luminance, 5x5 neighbourhood std) — 50/50 weights — and copies its chroma; the
target's luminance is kept.

Swatch mode (Sec. 3): the user pairs rectangles of the gray image with rectangles of the
reference. Step 1 colours each gray swatch from its reference swatch by the global procedure
(remapping and ~50 samples per swatch). Step 2 colours the rest of the image by texture
synthesis from the colourised swatch pixels themselves: L2 distance between 5x5 luminance
neighbourhoods (searched in 8 principal components). Swatch pixels keep their step-1 colours.

Deviations: chroma is CIE (a, b) instead of lαβ's (α, β) and luminance is CIE L (see
:mod:`~tinct.methods.welsh.transfer`); the result's BT.601 luma is then set to the input
exactly (chroma scaled into the RGB cube where needed). Sampling is seeded (``seed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinct.color import compose_luma_chroma, gray_to_rgb, lab_to_rgb, rgb_to_lab, rgb_to_uv
from tinct.errors import TinctError
from tinct.methods.welsh.transfer import transfer_global, transfer_texture
from tinct.options import OptionError, option
from tinct.registry import Colorizer, Inputs, register

Box = tuple[int, int, int, int]
"""(y0, x0, y1, x1), half-open pixel rectangle."""

SWATCH_SAMPLES = 50
TEXTURE_SOURCES = 4000


def _check_box(box: Sequence[int], shape: tuple[int, ...], what: str) -> Box:
    if len(box) != 4:
        raise TinctError(f"welsh: {what} swatch must be (y0, x0, y1, x1), got {tuple(box)}")
    y0, x0, y1, x1 = (int(v) for v in box)
    if not (0 <= y0 < y1 <= shape[0] and 0 <= x0 < x1 <= shape[1]):
        raise TinctError(f"welsh: {what} swatch {(y0, x0, y1, x1)} is empty or outside the "
                         f"{shape[1]}x{shape[0]} image")
    return y0, x0, y1, x1


@dataclass(frozen=True)
class WelshOptions:
    """Options of :class:`WelshColorizer`."""

    samples: int = option(200, "jittered reference samples in global mode (paper: ~200)")
    swatches: list | None = option(None, "swatch pairs [[[y0,x0,y1,x1] in gray, [y0,x0,y1,x1] in reference], "
                                   "...] (JSON); none = global mode")
    weight_lum: float = option(0.5, "weight of luminance against neighbourhood std (paper: 0.5)")
    seed: int = option(0, "seed of the jittered sampling")

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise OptionError(f"welsh: samples must be at least 1, got {self.samples}")
        if not 0.0 <= self.weight_lum <= 1.0:
            raise OptionError(f"welsh: weight_lum must be in [0, 1], got {self.weight_lum}")
        for pair in self.swatches or []:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise OptionError(f"welsh: each swatch is a pair (gray box, reference box), got {pair!r}")


@register(summary="reference colour transfer by luminance + texture matching (Welsh et al. 2002)",
          paper="Welsh, Ashikhmin & Mueller, Transferring Color to Greyscale Images, SIGGRAPH 2002",
          options=WelshOptions)
class WelshColorizer(Colorizer):
    """Gray + colour reference -> RGB; keeps the luma exactly."""

    name = "welsh"
    needs = frozenset({"reference"})

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        reference = inputs.reference
        assert reference is not None
        o = self.options
        rng = np.random.default_rng(o.seed)
        lum = rgb_to_lab(gray_to_rgb(np.clip(image, 0.0, 1.0)).astype(np.float64))[..., 0] / 100.0
        ref_lab = rgb_to_lab(np.asarray(reference, dtype=np.float64))
        ref_lum, ref_ab = ref_lab[..., 0] / 100.0, ref_lab[..., 1:]
        if not o.swatches:
            ab = transfer_global(lum, ref_lum, ref_ab, samples=o.samples, rng=rng, weight_lum=o.weight_lum)
        else:
            ab = self._swatch_transfer(lum, ref_lum, ref_ab, rng)
        rgb = lab_to_rgb(np.concatenate([100.0 * lum[..., None], ab], axis=-1), clip=False)
        return compose_luma_chroma(image, rgb_to_uv(np.asarray(rgb, dtype=np.float64)))

    def _swatch_transfer(self, lum: np.ndarray, ref_lum: np.ndarray, ref_ab: np.ndarray,
                         rng: np.random.Generator) -> np.ndarray:
        inside = np.zeros(lum.shape, dtype=bool)
        ab = np.zeros(lum.shape + (2,))
        for g_box, r_box in self.options.swatches:
            gy0, gx0, gy1, gx1 = _check_box(g_box, lum.shape, "gray")
            ry0, rx0, ry1, rx1 = _check_box(r_box, ref_lum.shape, "reference")
            ab[gy0:gy1, gx0:gx1] = transfer_global(
                lum[gy0:gy1, gx0:gx1], ref_lum[ry0:ry1, rx0:rx1], ref_ab[ry0:ry1, rx0:rx1],
                samples=SWATCH_SAMPLES, rng=rng, weight_lum=self.options.weight_lum)
            inside[gy0:gy1, gx0:gx1] = True
        ys, xs = np.nonzero(inside)
        if len(ys) > TEXTURE_SOURCES:
            pick = rng.choice(len(ys), TEXTURE_SOURCES, replace=False)
            ys, xs = ys[pick], xs[pick]
        out = transfer_texture(lum, ys, xs, ab[ys, xs])
        out[inside] = ab[inside]
        return out
