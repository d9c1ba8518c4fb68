"""Near-infrared to RGB (survey seed 002's NIR section): ``nir-unet``, the encoder-decoder baseline
trained with L1 on registered pairs, and :class:`NirColorizer`, the base of every NIR method.

The input is a single NIR band ``(H, W)`` in [0, 1]; the output is RGB ``(H, W, 3)`` whose luma is
*not* the input (vegetation is bright in NIR, dark in RGB), so these methods do not compose
through the input luma.

The network runs at a working resolution, the scale it was trained at: the band is reduced
(area) to ``short_side`` pixels on its short side (default: the card's training crops' scale,
:func:`tinct.data.nir.training_short_side`; 0 = full resolution), and the RGB is brought back to
full size bilinearly and sharpened by a guided filter steered by the full-resolution band
(:func:`tinct.filters.upsample_guided`, row strips). The network pass itself runs in row strips
with a halo (:mod:`tinct.nn.tiling`, 512 rows, a halo of 96 rows, each strip starting on the
network's pooling grid): memory is bounded by the strip at any image size. Images up to 512 rows
go in one pass; taller ones differ from a whole-image pass only through the context beyond the
halo (measured in ``tests/test_nir.py``).
See ``docs/methods/nir.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from tinct.data.nir import training_short_side
from tinct.errors import TinctError
from tinct.filters import reduce_short_side, upsample_guided
from tinct.nn.tiling import Strip, grid_tiles
from tinct.nn.unet import Translator, TranslatorConfig, pad_to_multiple
from tinct.options import OptionError, check_short_side, option
from tinct.registry import Colorizer, Inputs, register
from tinct.weights import load_weights, resolve

STRIP_ROWS = 512
HALO = 96
GUIDE_EPS = 1e-3  # the guided upsampling's regulariser (squared band units)


@dataclass(frozen=True)
class NirOptions:
    """Options of the NIR methods."""

    weights: str = option("default", "bundled variant or a .safetensors path from `tinct train METHOD`")
    strip_rows: int = option(STRIP_ROWS, "rows per strip of the network pass (memory is bounded by it)")
    short_side: int | None = option(None, "short side (pixels) at which the network runs; the RGB is "
                                    "brought to full size by a guided filter steered by the band. "
                                    "Default: the scale of the weights' training crops; 0: full resolution")

    def __post_init__(self) -> None:
        if self.strip_rows < 32:
            raise OptionError(f"strip_rows must be at least 32, got {self.strip_rows}")
        check_short_side(self.short_side)


def card_short_side(card_config: dict) -> int:
    """The working short side a card implies: its ``inference.short_side`` if set, else the scale of
    its training crops (``train.crop``, :func:`tinct.data.nir.training_short_side`), else 0."""
    inference = card_config.get("inference") or {}
    if "short_side" in inference:
        return int(inference["short_side"])
    crop = (card_config.get("train") or {}).get("crop")
    return training_short_side(int(crop)) if crop else 0


def at_working_size(band: np.ndarray, short_side: int,
                    predict: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``predict`` (band -> RGB float ``(h, w, 3)``) run on ``band`` ``(H, W)`` in [0, 1] reduced to
    ``short_side`` px on its short side (area), its RGB brought back to ``(H, W, 3)`` by
    :func:`tinct.filters.upsample_guided` steered by ``band`` and clipped to [0, 1]. A band no
    larger than that, or ``short_side`` 0, is predicted as it is."""
    small = reduce_short_side(band, short_side)
    if small is band:
        return predict(band)
    rgb = upsample_guided(np.asarray(predict(small), np.float32), band.astype(np.float32, copy=False),
                          eps=GUIDE_EPS)
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def build_translator(card_config: dict, path: str) -> nn.Module:
    """The NIR->RGB :class:`Translator` of a card (``config.model``)."""
    from tinct.weights import WeightCard

    return Translator(WeightCard(method="", config=card_config).section("model", TranslatorConfig, path=path))


class NirColorizer(Colorizer):
    """Base of the NIR methods: load the generator named by the card, run it in row strips.

    Subclasses set ``name`` and may override :meth:`build_network` (the module for the card) and
    ``prefix`` (the key prefix of the generator's tensors in the weights file)."""

    modality = "nir"
    keeps_luma = False
    prefix: ClassVar[str] = "net."

    def __init__(self, options: NirOptions | None = None, /, **values: object) -> None:
        super().__init__(options, **values)
        self.path = resolve(self.name, self.options.weights)
        tensors, card = load_weights(self.path)
        if card.method and card.method != self.name:
            raise TinctError(f"{self.path} is not {self.name} weights (its card says {card.method}); "
                             f"use --method {card.method} or weights from `tinct train {self.name}`")
        try:
            self.net = self.build_network(card.config, str(self.path))
            own = {k[len(self.prefix):]: v.float() for k, v in tensors.items() if k.startswith(self.prefix)}
            self.net.load_state_dict(own)
        except (KeyError, RuntimeError, TypeError) as exc:
            reason = " ".join(str(exc).split())[:200]
            raise TinctError(f"{self.path} is not {self.name} weights ({reason})") from None
        self.net.eval()
        self.card = card
        given = getattr(self.options, "short_side", None)  # subclasses with options of their own: none
        self.short_side = card_short_side(card.config) if given is None else given

    def build_network(self, card_config: dict, path: str) -> nn.Module:
        return build_translator(card_config, path)

    @torch.no_grad()
    def forward(self, band: torch.Tensor) -> torch.Tensor:
        """``(1, 1, h, w)`` NIR -> ``(1, 3, h, w)`` RGB in [0, 1] (padded to the network's multiple)."""
        x, (h, w) = pad_to_multiple(band, self.net.multiple)
        return self.net(x)[..., :h, :w]

    def tile_grid(self, height: int, width: int) -> list[tuple[Strip, Strip]]:
        """The (rows, columns) of the network passes: row strips of ``strip_rows`` over every column."""
        return grid_tiles(height, width, self.options.strip_rows, HALO, self.net.multiple, full_width=True)

    def run_tiles(self, height: int, width: int,
                  tile_input: Callable[[Strip, Strip], torch.Tensor]) -> np.ndarray:
        """RGB ``(height, width, 3)`` float32 in [0, 1], one network pass per tile of :meth:`tile_grid`;
        ``tile_input(rows, cols)`` gives a tile's input ``(1, C, rows.hi - rows.lo, cols.hi - cols.lo)``."""
        out = np.empty((height, width, 3), np.float32)
        for rows, cols in self.tile_grid(height, width):
            y = self.forward(tile_input(rows, cols))[0].permute(1, 2, 0).numpy()
            out[rows.rows, cols.rows] = y[rows.inner, cols.inner]
        return out

    def full_resolution(self, band: np.ndarray) -> np.ndarray:
        """The network on ``band`` ``(h, w)`` as it is (row strips): RGB ``(h, w, 3)`` in [0, 1]."""
        x = torch.from_numpy(np.ascontiguousarray(band, np.float32))[None, None]
        return self.run_tiles(*band.shape, lambda rows, cols: x[..., rows.extended, cols.extended])

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        return at_working_size(image, self.short_side, self.full_resolution)


@register(summary="near-infrared -> RGB: an encoder-decoder (U-Net) trained with L1 on registered pairs "
                  "(the baseline)",
          paper="survey seed 002, NIR colorization (encoder-decoder baseline)",
          options=NirOptions,
          weights={"default": "EPFL RGB-NIR train split (136 pairs)"},
          train_config="tinct.methods.nir_unet.training:NirUNetTrainConfig",
          trainer="tinct.methods.nir_unet.training:run")
class NirUNetColorizer(NirColorizer):
    """NIR band -> RGB by the U-Net translator."""

    name = "nir-unet"
