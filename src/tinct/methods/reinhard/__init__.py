"""Reinhard, Ashikhmin, Gooch & Shirley 2001, *Color transfer between images*, as a colorizer.

The paper shifts and scales each lαβ channel of the source so that its mean and standard
deviation match the reference's (eqs. 10-11). Colorizing a gray image, we transfer α and β
only and keep the user's luminance (the l channel is not touched, and the result's BT.601 luma
equals the input exactly, see :func:`tinct.color.compose_luma_chroma`).

What happens on a gray target, stated plainly: a gray pixel has α ≈ β ≈ 0 (tiny constants from
the rounding of eq. 4), so the target's α, β standard deviations are ~0 and the paper's scale
factor ``σ_ref / σ_target`` is meaningless. We do not divide by it: below ``min_std`` the
channel is only shifted, so **every pixel gets the reference's mean α, β** — a global tint of
the reference's average colour. That is the honest floor of reference-based colorization.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinct.color import compose_luma_chroma, gray_to_rgb, rgb_to_uv
from tinct.methods.reinhard.colorspace import (
    lalphabeta_to_rgb,
    rgb_to_lalphabeta,
)
from tinct.nn.tiling import Strip, strip_moments, strips
from tinct.options import option
from tinct.registry import Colorizer, Inputs, register

MIN_STD = 1e-3
"""Below this standard deviation a target channel is treated as constant (shift only)."""


def match_statistics(source: np.ndarray, source_stats: tuple[np.ndarray, np.ndarray],
                     reference_stats: tuple[np.ndarray, np.ndarray], channels: tuple[int, ...] = (1, 2),
                     min_std: float = MIN_STD) -> np.ndarray:
    """Reinhard et al. eqs. 10-11 with given statistics: ``(s - mean_s) * std_r / std_s + mean_r``.

    Args:
        source: float ``(..., 3)`` lαβ (the whole image or some of its rows).
        source_stats, reference_stats: per-channel ``(mean (3,), std (3,))`` of the whole source and
            reference.
        channels: which channels to transfer (default α, β).
        min_std: a source channel with a smaller standard deviation is only shifted.

    Returns:
        float64, ``source``'s shape: the transferred channels, the others unchanged.
    """
    out = np.array(source, dtype=np.float64, copy=True)
    (s_mean, s_std), (r_mean, r_std) = source_stats, reference_stats
    for c in channels:
        scale = r_std[c] / s_std[c] if s_std[c] >= min_std else 1.0
        out[..., c] = (out[..., c] - s_mean[c]) * scale + r_mean[c]
    return out


def _stats(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = np.asarray(lab, dtype=np.float64).reshape(-1, 3)
    return flat.mean(axis=0), flat.std(axis=0)


def transfer_statistics(source: np.ndarray, reference: np.ndarray, channels: tuple[int, ...] = (1, 2),
                        min_std: float = MIN_STD) -> np.ndarray:
    """Match the mean and standard deviation of ``channels`` (Reinhard et al. eqs. 10-11).

    Args:
        source: float ``(H, W, 3)`` lαβ of the image to recolour.
        reference: float ``(H', W', 3)`` lαβ of the reference.
        channels: which channels to transfer (default α, β).
        min_std: a source channel with a smaller standard deviation is only shifted.

    Returns:
        float64 ``(H, W, 3)``: ``(s - mean_s) * std_r / std_s + mean_r`` on ``channels``, the
        other channels unchanged.
    """
    return match_statistics(source, _stats(source), _stats(reference), channels, min_std)


STRIP_ROWS = 256
"""Rows per strip: every full-size array of the method is float32 (input, output); the float64
lαβ work is per strip."""


@dataclass(frozen=True)
class ReinhardOptions:
    """Options of :class:`ReinhardColorizer`."""

    min_std: float = option(MIN_STD, "below this standard deviation a target channel is only shifted")


@register(summary="global lαβ mean/std colour transfer from a reference (Reinhard et al. 2001)",
          paper="Reinhard, Ashikhmin, Gooch & Shirley, Color Transfer between Images, IEEE CG&A 2001",
          options=ReinhardOptions)
class ReinhardColorizer(Colorizer):
    """Gray + colour reference -> the reference's α, β statistics at the input's luma; works in row
    strips (statistics first), so memory stays bounded at any size of either image."""

    name = "reinhard"
    needs = frozenset({"reference"})

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        reference = inputs.reference
        assert reference is not None

        def target(s: Strip) -> np.ndarray:
            return rgb_to_lalphabeta(gray_to_rgb(np.clip(image[s.rows], 0.0, 1.0)))

        # two passes in row strips (bounded memory at any size): statistics, then the transfer
        source_stats = strip_moments(target, image.shape[0], STRIP_ROWS)
        reference_stats = strip_moments(lambda s: rgb_to_lalphabeta(reference[s.rows]), reference.shape[0],
                                        STRIP_ROWS)
        out = np.empty((*image.shape, 3), np.float32)
        for s in strips(image.shape[0], STRIP_ROWS):
            moved = match_statistics(target(s), source_stats, reference_stats, min_std=self.options.min_std)
            out[s.rows] = compose_luma_chroma(image[s.rows], rgb_to_uv(lalphabeta_to_rgb(moved)))
        return out
