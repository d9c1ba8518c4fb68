"""Levin, Lischinski & Weiss 2004, *Colorization using Optimization*: scribbles -> colour.

Neighbouring pixels with similar luma get similar chroma: U and V minimise
``sum_r (U(r) - sum_s w_rs U(s))^2`` with the scribbles as constraints, i.e. the sparse
system of :mod:`~tinct.methods.levin.system`, solved directly by a
:class:`~tinct.methods.levin.solver.LevinSolver` (a batched multifrontal LU on a nested
dissection of the grid whose fronts run in a compiled kernel, float32 with GTH pivots,
``refine=True`` adds float64 refinement; one factorization for U and V; accuracy and speed: see
the accuracy/speed table in docs/methods/levin.md). The solver keeps its memory between solves
until its ``release()``; :func:`levin_chroma` takes one (``solver=``) or uses the default one.
Colour space YUV as in the paper; the result's luma is the input gray exactly (chroma scaled
into the RGB cube where needed). No scribbles at all gives the gray image.

Large images: the exact solve's time and memory grow a little faster than the pixel count
(see the accuracy/speed table in docs/methods/levin.md), so above ``max_pixels`` (default
2.1 MP: full HD, 1920 x 1080, is solved exactly) the chroma is solved on a box-downsampled
grid (gray averaged, scribbles kept if any pixel of a block is scribbled, their chroma
averaged) and upsampled bilinearly; the luma stays full resolution. This is a deviation from
the paper, only for large inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from tinct.color import compose_luma_chroma, rgb_to_uv
from tinct.methods.levin.solver import LevinSolver, default_solver
from tinct.methods.levin.system import build_system
from tinct.options import OptionError, option
from tinct.registry import Colorizer, Inputs, register

MAX_PIXELS = 2_100_000


def _block_mean(img: np.ndarray, k: int) -> np.ndarray:
    """Mean over k x k blocks (the last partial blocks included), (H, W, ...) -> (ceil(H/k), ...)."""
    h, w = img.shape[:2]
    hp, wp = math.ceil(h / k) * k, math.ceil(w / k) * k
    pad = [(0, hp - h), (0, wp - w)] + [(0, 0)] * (img.ndim - 2)
    ones = np.pad(np.ones((h, w)), pad[:2])
    s = np.pad(img.astype(np.float64), pad).reshape(hp // k, k, wp // k, k, *img.shape[2:]).sum(axis=(1, 3))
    n = ones.reshape(hp // k, k, wp // k, k).sum(axis=(1, 3))
    return s / n.reshape(n.shape + (1,) * (img.ndim - 2))


def levin_chroma(gray: np.ndarray, mask: np.ndarray, uv: np.ndarray, *,
                 max_pixels: int = MAX_PIXELS, refine: bool = False,
                 solver: LevinSolver | None = None) -> np.ndarray:
    """Propagate scribble chroma over the image.

    Args:
        gray: float ``(H, W)`` luma in [0, 1].
        mask: bool ``(H, W)``; scribbled pixels.
        uv: float ``(H, W, 2)`` YUV chroma, used where ``mask``.
        max_pixels: above this, solve on a downsampled grid (see the module docstring).
        refine: refine the float32 solve in float64 (see the accuracy/speed table in
            docs/methods/levin.md).
        solver: the :class:`~tinct.methods.levin.solver.LevinSolver` to solve with (it keeps
            its memory until its ``release()``); ``None``: the module's default solver.

    Returns:
        float64 ``(H, W, 2)`` chroma; equals ``uv`` on scribbled pixels when solved at full size.
    """
    solver = solver if solver is not None else default_solver()
    h, w = gray.shape
    if h * w <= max_pixels:
        return solver.solve(build_system(gray, mask, solver.pool), uv, refine=refine)
    k = math.ceil(math.sqrt(h * w / max_pixels))
    hits = _block_mean(mask.astype(np.float64), k)
    mean_uv = _block_mean(np.where(mask[..., None], uv, 0.0), k) / np.maximum(hits, 1e-12)[..., None]
    small = solver.solve(build_system(_block_mean(gray, k), hits > 0, solver.pool), mean_uv, refine=refine)
    return np.stack([cv2.resize(small[..., c].astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
                     for c in range(2)], axis=-1).astype(np.float64)


@dataclass(frozen=True)
class LevinOptions:
    """Options of :class:`LevinColorizer`."""

    max_pixels: int = option(MAX_PIXELS, "largest image solved at full resolution; larger ones are solved "
                             "on a downsampled grid (see docs/methods/levin.md)")
    refine: bool = option(False, "refine the float32 solve in float64 (accuracy table in "
                                 "docs/methods/levin.md)")

    def __post_init__(self) -> None:
        if self.max_pixels < 64:
            raise OptionError(f"levin: max_pixels must be at least 64, got {self.max_pixels}")


@register(summary="scribble colorization by optimization, fast direct sparse solve (Levin et al. 2004)",
          paper="Levin, Lischinski & Weiss, Colorization using Optimization, SIGGRAPH 2004",
          options=LevinOptions)
class LevinColorizer(Colorizer):
    """Gray + colour scribbles (:class:`~tinct.hints.Hints`) -> RGB; keeps the luma exactly."""

    name = "levin"
    needs = frozenset({"hints"})

    def __init__(self, options: LevinOptions | None = None, /, **values: object) -> None:
        super().__init__(options, **values)
        self.solver = LevinSolver()  # its own plan cache, kept memory and threads (none until a solve)

    def release(self) -> None:
        """Free the solver's kept memory, plans and threads (the next solve rebuilds them)."""
        self.solver.release()

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        hints = inputs.hints
        assert hints is not None
        mask = np.asarray(hints.mask, dtype=bool)
        if not mask.any():
            return compose_luma_chroma(image, np.zeros(image.shape + (2,)))
        uv = rgb_to_uv(np.asarray(hints.color, dtype=np.float64))
        chroma = levin_chroma(image, mask, uv, max_pixels=self.options.max_pixels, refine=self.options.refine,
                              solver=self.solver)
        return compose_luma_chroma(image, chroma)
