"""Cycle-CNN: dual-lens (monochrome + colour camera) colorization trained without ground truth.

Dong, Li, Wang, Wang, "Cycle-CNN for Colorization towards Real Monochrome-Color Camera Systems",
AAAI 2020. See docs/methods/cyclecnn.md for the reproduction, deviations and results.

The reference must be the rectified colour view of the same scene, the same size as the gray
image; by default the gray image is the left view and the colour camera the right one.
The output keeps the gray input's luma exactly (chroma composed by
:func:`~tinct.color.compose_luma_chroma`). The disparity range is the card's unless given;
``disparities="auto"`` picks it per pair from a coarse stereo match (:mod:`.auto_range`) and says
which (a ``note:`` line on the ``tinct.methods.cyclecnn`` logger, shown on stderr by default, and
:attr:`CycleCNNColorizer.last_range`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tinct.methods.cyclecnn.auto_range import AutoRange, estimate_disparities
from tinct.methods.cyclecnn.inference import colorize_pair, load_networks, optimize_networks
from tinct.methods.cyclecnn.model import ModelConfig
from tinct.options import OptionError, option
from tinct.registry import Colorizer, Inputs, register
from tinct.weights import read_card, resolve

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class CycleCNNOptions:
    """Options of :class:`CycleCNNColorizer`."""

    weights: str = option("default", "bundled variant or a .safetensors path from `tinct train cyclecnn`")
    disparities: int | Literal["auto"] | None = option(
        None, "search range d in pixels; default: the range the weights were trained with (their card); "
        "auto: from a coarse stereo match of each pair (a note says which)")
    reference_side: Literal["left", "right"] = option(
        "right", "where the colour camera sits: right (the gray image is the left view) or left")
    refine: bool = option(True, "apply the refinement CNN (Fig. 7) when the weights have one")
    optimized: bool = option(True, "the fused path (folded BatchNorm, row strips, block-matmul cost volume; "
                             "same output to ~1e-6); false = the plain reference path")
    strip_rows: int | None = option(None, "rows per strip of the fused path (default: its own)")

    def __post_init__(self) -> None:
        if isinstance(self.disparities, int) and self.disparities < 1:
            raise OptionError(f"cyclecnn: disparities must be >= 1, got {self.disparities}")
        if self.strip_rows is not None and self.strip_rows < 1:
            raise OptionError(f"cyclecnn: strip_rows must be >= 1, got {self.strip_rows}")


@register(summary="dual-lens colorization from the rectified colour view; trained by cycle consistency",
          paper="Dong et al., Cycle-CNN for Colorization towards Real Monochrome-Color Camera Systems, "
                "AAAI 2020",
          options=CycleCNNOptions,
          weights={"default": "M (regularized cost volume), cycle-trained without ground truth on "
                               "synthetic dual-lens pairs of photos/train + extra_train",
                   "supervised": "the same M trained with ground truth (Dong et al. 2019 baseline), "
                                 "same pairs and training time"},
          train_config="tinct.methods.cyclecnn.training:TrainConfig",
          trainer="tinct.methods.cyclecnn.training:run")
class CycleCNNColorizer(Colorizer):
    """Colour a monochrome view from its stereo colour partner (same size); keeps the luma exactly."""

    name = "cyclecnn"
    needs = frozenset({"reference"})
    reference_same_size = True

    def __init__(self, options: CycleCNNOptions | None = None, /, **values: object) -> None:
        super().__init__(options, **values)
        o = self.options
        path = resolve(self.name, o.weights)
        nets = load_networks(path)
        self.card = read_card(path)
        self.nets = optimize_networks(nets) if o.optimized else nets
        self.trained = self.card.section("model", ModelConfig, path=path)
        self.disparities = o.disparities or self.trained.disparities
        self.last_range: AutoRange | None = None  # what disparities=auto chose for the last pair

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        assert inputs.reference is not None
        o = self.options
        d = self.disparities
        if d == "auto":
            self.last_range = estimate_disparities(image, inputs.reference, reference_side=o.reference_side,
                                                   fallback=self.trained.disparities)
            LOG.warning("note: %s", self.last_range.describe())
            d = self.last_range.disparities
        return colorize_pair(self.nets, image, inputs.reference, disparities=d,
                             reference_side=o.reference_side, optimized=o.optimized, refine=o.refine,
                             strip_rows=o.strip_rows)
