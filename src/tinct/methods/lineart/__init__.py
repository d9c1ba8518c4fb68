"""Line art -> colour (survey seed 002, Thasarathan et al.'s generator on line art, for stills), with
optional colour hints: ``tinct colorize drawing.png --method lineart [--hints hints.png]``.

The input is a line drawing ``(H, W)`` in [0, 1] (dark lines on a light page); the output is RGB
``(H, W, 3)`` that does not keep the input's luma (``modality = "lineart"``). Hints are the
project's scribbles (:class:`tinct.hints.Hints`, a hints file painted over the drawing); the one
network serves both modes, trained with no hints for a share of its crops and random point/patch
hints from the true photo for the rest (:mod:`tinct.methods.lineart.training`).

The network (:mod:`tinct.methods.lineart.model`) is the project's :class:`tinct.nn.unet.Translator`
on 9 channels (drawing, hint RGB and mask, the hints spread by normalized convolution); it runs in
square tiles with a 96-px halo (the NIR methods' halo, :class:`tinct.methods.nir_unet.NirColorizer`,
whose weight loading it reuses; tiles rather than its row strips, so a very wide image is bounded
too), so memory is bounded by the tile at any size. An
input that does not look like a drawing (a photo given by mistake) is turned into one first
(``-O convert=auto``, a one-line warning).
See ``docs/methods/lineart.md``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from tinct.data.lineart import canny_drawing, looks_like_drawing
from tinct.errors import TinctWarning
from tinct.hints import Hints
from tinct.methods.lineart.model import network_input
from tinct.methods.nir_unet import HALO, NirColorizer
from tinct.nn.tiling import Strip, grid_tiles
from tinct.options import OptionError, option
from tinct.registry import Inputs, register

CONVERT_HALO = 32
"""Extra pixels around a tile when a photo is turned into a drawing tile by tile."""
TILE = 512


@dataclass(frozen=True)
class LineartOptions:
    """Options of ``lineart``."""

    weights: str = option("default", "bundled variant or a .safetensors path from `tinct train lineart`")
    tile: int = option(TILE, "side of the square tiles of the network pass, in pixels, each with a 96-px "
                             "halo (memory is bounded by it; images up to this size go in one pass)")
    convert: Literal["auto", "never"] = option(
        "auto", "auto: an input that is not dark lines on a light page is first made one (light lines on "
                "dark are inverted; a photo is drawn by Canny, as in training); never: use it as given")

    def __post_init__(self) -> None:
        if self.tile < 32:
            raise OptionError(f"tile must be at least 32, got {self.tile}")
        if self.convert not in ("auto", "never"):
            raise OptionError(f"convert must be 'auto' or 'never', got {self.convert!r}")


def _input_kind(image: np.ndarray, convert: str) -> str:
    """``drawing``, ``inverted`` (light lines on dark) or ``photo`` (to be drawn first)."""
    if convert == "never" or looks_like_drawing(image):
        return "drawing"
    return "inverted" if looks_like_drawing(1.0 - image) else "photo"


@register(summary="line art -> colour: a U-Net on the drawing and optional colour hints (L1), trained on "
                  "BSDS500 boundary drawings and synthetic Canny/XDoG drawings",
          paper="survey seed 002, Thasarathan et al., temporally coherent (line-art) colorization; "
                "scaled down, stills, no VGG losses",
          options=LineartOptions,
          weights={"default": "BSDS500 train+test human drawings + synthetic drawings of photos/extra_train"},
          train_config="tinct.methods.lineart.training:LineartTrainConfig",
          trainer="tinct.methods.lineart.training:run")
class LineartColorizer(NirColorizer):
    """Line drawing (+ hints) -> RGB by the 9-channel translator, in tiles."""

    name = "lineart"
    modality = "lineart"
    keeps_luma = False
    accepts = frozenset({"hints"})

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        kind = _input_kind(image, self.options.convert)
        if kind != "drawing":
            what = ("light lines on a dark page: inverted" if kind == "inverted"
                    else "a photo, not a line drawing: drawn by Canny first")
            warnings.warn(TinctWarning(f"lineart: the input looks like {what} (-O convert=never to use it "
                                       "as given)"), stacklevel=3)
        return self.run_tiles(*image.shape, lambda rows, cols: drawing_input(image, inputs.hints, rows, cols,
                                                                            kind))

    def tile_grid(self, height: int, width: int) -> list[tuple[Strip, Strip]]:
        """Square tiles of ``tile`` px (bounded memory for wide images too)."""
        return grid_tiles(height, width, self.options.tile, HALO, self.net.multiple)


def drawing_input(image: np.ndarray, hints: Hints | None, rows: Strip, cols: Strip,
                  kind: str = "drawing") -> torch.Tensor:
    """The network input ``(1, 9, rows.hi - rows.lo, cols.hi - cols.lo)`` of a tile's extended pixels
    (``kind``: ``drawing``, ``inverted`` or ``photo``, see :func:`_input_kind`)."""
    area = (rows.extended, cols.extended)
    if kind == "photo":  # drawn with CONVERT_HALO more pixels of context, then cut to the tile
        grown = [Strip(s.lo, s.hi, max(0, s.lo - CONVERT_HALO), min(n, s.hi + CONVERT_HALO))
                 for s, n in zip((rows, cols), image.shape, strict=True)]
        drawn = canny_drawing(image[grown[0].extended, grown[1].extended])
        pixels = drawn[grown[0].inner, grown[1].inner]
    else:
        pixels = image[area] if kind == "drawing" else 1.0 - image[area]
    drawing = torch.from_numpy(np.ascontiguousarray(pixels, np.float32))[None, None]
    if hints is None:
        colour = torch.zeros((1, 3, *drawing.shape[-2:]))
        mask = torch.zeros_like(drawing)
    else:
        colour = torch.from_numpy(np.ascontiguousarray(hints.color[area])).permute(2, 0, 1)[None]
        mask = torch.from_numpy(hints.mask[area].astype(np.float32))[None, None]
    return network_input(drawing, colour, mask)
