"""Cycle-CNN: dual-lens (monochrome + colour camera) colorization trained without ground truth.

Dong, Li, Wang, Wang, "Cycle-CNN for Colorization towards Real Monochrome-Color Camera Systems",
AAAI 2020. See docs/methods/cyclecnn.md for the reproduction, deviations and results.

The reference must be the rectified colour view of the same scene, the same size as the gray
image; by default the gray image is the left view and the colour camera the right one.
The output keeps the gray input's luma (Y of YCbCr).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinct.data.stereo import check_rectified_pair
from tinct.errors import TinctError
from tinct.methods.cyclecnn.inference import colorize_pair, load_networks, optimize_networks
from tinct.registry import Colorizer, Hints, register
from tinct.weights import bundled_path


@register(summary="dual-lens colorization from the rectified colour view; trained by cycle consistency",
          paper="Dong et al., Cycle-CNN for Colorization towards Real Monochrome-Color Camera Systems, "
                "AAAI 2020",
          bundled_weights=bundled_path("cyclecnn").is_file(), trainable=True)
class CycleCNNColorizer(Colorizer):
    """Colour a monochrome view from its stereo colour partner.

    Args:
        weights: a ``.safetensors`` file from ``tinct train cyclecnn`` (default: bundled weights).
        disparities: search range ``d`` in pixels (paper 64; Middlebury 2005 third-size needs ~80).
        reference_side: ``"right"`` (gray = left view, default) or ``"left"``.
        refine: apply the refinement CNN (Fig. 7) when the weights have one.
        optimized: fused float32 inference (folded BatchNorm, oneDNN-fused convolutions on row strips,
            block-matmul cost volume; same output to ~1e-6, ~8x faster than the plain modules).
        strip_rows: rows per strip of the optimized paths (default: the path's own).
        bf16: bfloat16 autocast for the ResNets of the older tiled path (approximate).
    """

    name = "cyclecnn"
    needs = frozenset({"reference"})

    def __init__(self, weights: str | None = None, disparities: int = 64, reference_side: str = "right",
                 refine: bool = True, optimized: bool = True, strip_rows: int | None = None,
                 bf16: bool = False) -> None:
        if reference_side not in ("left", "right"):
            raise TinctError(f"reference_side must be 'left' or 'right', got {reference_side!r}")
        if int(disparities) < 1:
            raise TinctError(f"disparities must be >= 1, got {disparities}")
        path = Path(weights) if weights else bundled_path("cyclecnn")
        if not path.with_suffix(".safetensors").is_file():
            raise TinctError(f"cyclecnn weights not found: {path}; train them with `tinct train cyclecnn` "
                             "or pass weights=PATH")
        nets = load_networks(path)
        self.nets = optimize_networks(nets) if optimized else nets
        self.disparities = int(disparities)
        self.reference_side = reference_side
        self.refine = bool(refine)
        self.optimized = bool(optimized)
        self.strip_rows = int(strip_rows) if strip_rows else None
        self.bf16 = bool(bf16)

    def _colorize(self, gray: np.ndarray, *, reference: np.ndarray | None, hints: Hints | None) -> np.ndarray:
        assert reference is not None
        check_rectified_pair("cyclecnn", gray, reference)
        return colorize_pair(self.nets, gray, reference, disparities=self.disparities,
                             reference_side=self.reference_side, optimized=self.optimized,
                             refine=self.refine, strip_rows=self.strip_rows, bf16=self.bf16)
