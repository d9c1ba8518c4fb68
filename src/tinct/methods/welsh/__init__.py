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
from scipy.spatial import cKDTree

from tinct.color import rgb_to_lab
from tinct.errors import TinctError
from tinct.methods.welsh.swatches import Box, swatch_colorize
from tinct.methods.welsh.transfer import (
    WINDOW,
    compose_lab,
    features,
    gray_luminance,
    jittered_samples,
    remap_affine,
)
from tinct.nn.tiling import strip_moments, strips
from tinct.options import OptionError, option
from tinct.registry import Colorizer, Inputs, register

STRIP_ROWS = 256
"""Rows per strip of the global mode (bounded memory at any size)."""
SWATCH_MAX_PIXELS = 4_000_000
"""Largest total area of the swatches, gray and reference (step 1 works on whole swatches)."""


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
        if not o.swatches:
            return self._global_transfer(image, reference, rng)
        pairs = [(_check_box(g, image.shape, "gray"), _check_box(r, reference.shape, "reference"))
                 for g, r in o.swatches]
        area = sum((r[2] - r[0]) * (r[3] - r[1]) + (g[2] - g[0]) * (g[3] - g[1]) for g, r in pairs)
        if area > SWATCH_MAX_PIXELS:
            raise TinctError(f"welsh: the swatches cover {area / 1e6:.1f} MP of the two images; at most "
                             f"{SWATCH_MAX_PIXELS / 1e6:g} MP (step 1 works on whole swatches): use smaller "
                             "swatches or the global mode")
        return swatch_colorize(image, reference, pairs, rng=rng, weight_lum=o.weight_lum, rows=STRIP_ROWS)

    def _global_transfer(self, image: np.ndarray, reference: np.ndarray,
                         rng: np.random.Generator) -> np.ndarray:
        """:func:`~.transfer.transfer_global` (then the composition) in row strips, so that no full-size
        float64 array exists at any size of either image: the luminance statistics of both images
        first, then the reference's features at the samples only (strips with the 5x5 window's halo),
        then the target strip by strip (the same result, to float rounding)."""
        o = self.options
        h, w = image.shape
        half = WINDOW // 2

        def target(rows: slice) -> np.ndarray:
            return gray_luminance(image[rows])

        def ref(rows: slice) -> np.ndarray:
            return rgb_to_lab(np.asarray(reference[rows], dtype=np.float64))[..., 0] / 100.0

        stats = [strip_moments(lambda s, f=f: f(s.rows)[..., None], n, STRIP_ROWS)
                 for f, n in ((ref, reference.shape[0]), (target, h))]
        scale, shift = remap_affine(*((float(m[0]), float(sd[0])) for m, sd in stats))
        ys, xs = jittered_samples(*reference.shape[:2], o.samples, rng)
        sample_features = np.empty((len(ys), 2))
        for s in strips(reference.shape[0], STRIP_ROWS, half):
            at = (ys >= s.top) & (ys < s.bottom)
            if at.any():
                f = features(ref(s.extended) * scale + shift, o.weight_lum)
                sample_features[at] = s.crop(np.moveaxis(f, -1, 0))[:, ys[at] - s.top, xs[at]].T
        sample_ab = rgb_to_lab(np.asarray(reference[ys, xs], dtype=np.float64))[..., 1:]
        tree = cKDTree(sample_features)
        out = np.empty((h, w, 3), np.float32)
        for s in strips(h, STRIP_ROWS, half):
            lum = target(s.extended)
            f = s.crop(np.moveaxis(features(lum, o.weight_lum), -1, 0))
            _, nearest = tree.query(np.moveaxis(f, 0, -1).reshape(-1, 2), workers=-1)
            out[s.rows] = compose_lab(image[s.rows], s.crop(lum), sample_ab[nearest].reshape(-1, w, 2))
        return out
