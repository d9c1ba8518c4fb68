"""Loading trained Cycle-CNN weights and running M (+ refinement) on a full image.

Two inference paths with the same result (to ~1e-6, tested):

- ``optimized=False``, the reference: every module (:class:`~.model.ColorizationCNN`,
  :class:`~.refine.RefinementCNN`) on the whole image, materialising the weight volume ``(d, H, W)``;
- ``optimized=True`` (default), :mod:`.fused`: folded BatchNorm, oneDNN-fused convolutions on row
  strips with a halo (:mod:`tinct.nn.tiling`) and the banded block-matmul cost volume (~8x faster).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tinct.color import cbcr_to_uv, compose_luma_chroma, rgb_to_ycbcr_torch
from tinct.errors import TinctError
from tinct.methods.cyclecnn.cost3d import LEVELS, aligned_strips
from tinct.methods.cyclecnn.fused import FusedNetworks
from tinct.methods.cyclecnn.model import ColorizationCNN, ModelConfig
from tinct.methods.cyclecnn.refine import RefinementCNN
from tinct.weights import WeightCard, load_weights

BAND_PIXELS = 2_000_000
"""Own pixels per band of :func:`colorize_pair` (with the halo: ~60 bytes per pixel for the
dot-product volume, ~190 for cost3d, whose full-resolution features a band keeps)."""
REFERENCE_PATH_MAX_PIXELS = 2_000_000
"""Largest pair the plain reference path (``optimized=False``) takes: its weight volume ``(d, H, W)``
is ~320 bytes per pixel at d = 80."""


@dataclass
class Networks:
    """The inference networks: M and (optionally) the refinement CNN, in eval mode; ``fused``: their
    :class:`~.fused.FusedNetworks` (set by :func:`optimize_networks`)."""

    colorizer: ColorizationCNN
    refiner: RefinementCNN | None
    fused: FusedNetworks | None = None


def networks_from_tensors(tensors: dict[str, torch.Tensor], card: WeightCard | None = None) -> Networks:
    """Build :class:`Networks` from ``model.*`` / ``refine.*`` tensors (sizes read off the tensors; the
    weight volume is "cost3d" when there are ``model.regularizer.*`` tensors, its stride from the card's
    ``model`` section, default 4; cards without ``volume`` are the dot-product model).

    Raises:
        TinctError: tensors that do not fit M or the (default) refinement CNN.
    """
    width = int(tensors["model.extract_gray.head.0.weight"].shape[0])
    n_blocks = len({k.split(".")[3] for k in tensors if k.startswith("model.extract_gray.blocks.")})
    trained = card.section("model", ModelConfig) if card is not None else ModelConfig()
    volume = "cost3d" if any(k.startswith("model.regularizer.") for k in tensors) else "dot"
    config = ModelConfig(width, n_blocks, trained.disparities, volume, trained.cost_stride)
    colorizer = ColorizationCNN(config)
    _load(colorizer, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, "model")
    refiner = None
    refine_state = {k[7:]: v for k, v in tensors.items() if k.startswith("refine.")}
    if refine_state:
        refiner = RefinementCNN(width, n_blocks)
        _load(refiner, refine_state, "refine")
        refiner.eval()
    return Networks(colorizer.eval(), refiner)


def _load(module: torch.nn.Module, state: dict[str, torch.Tensor], prefix: str) -> None:
    """``module.load_state_dict(state)``, a mismatch as a :class:`TinctError`."""
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise TinctError(f"the '{prefix}.*' tensors of these Cycle-CNN weights do not fit "
                         f"{type(module).__name__}: {exc}") from None


def load_networks(path: str | Path) -> Networks:
    """Read a Cycle-CNN ``.safetensors`` file (``model.*`` and optional ``refine.*`` tensors)."""
    tensors, card = load_weights(path)
    if "model.extract_gray.head.0.weight" not in tensors:
        raise TinctError(f"{path}: not Cycle-CNN weights (no 'model.*' tensors)")
    return networks_from_tensors(tensors, card)


def optimize_networks(nets: Networks) -> Networks:
    """``nets`` with their :class:`~.fused.FusedNetworks` (the ``optimized`` path) built once; the
    modules stay as they are (the ``optimized=False`` path runs them)."""
    return Networks(nets.colorizer, nets.refiner, FusedNetworks(nets.colorizer, nets.refiner))


@torch.no_grad()
def colorize_ycbcr(nets: Networks, gray: torch.Tensor, ref_ycbcr: torch.Tensor, *, disparities: int,
                   optimized: bool = True, strip_rows: int | None = None,
                   refine: bool = True) -> torch.Tensor:
    """Run M (then the refinement) in M's geometry (matches at ``i + k``).

    Args:
        gray: ``(1, 1, H, W)`` in [0, 1]; ref_ycbcr: ``(1, 3, H, W)`` YCbCr in [0, 1].
        optimized: the fused path (:mod:`.fused`; uses ``nets.fused`` when :func:`optimize_networks`
            built it), else every module on the whole image.
        strip_rows: at most this many rows per strip of the fused path (default ~300k pixels).
        refine: apply the refinement CNN when ``nets`` has one.

    Returns:
        ``(1, 3, H, W)`` YCbCr; Y is ``gray``.
    """
    if optimized:
        fast = nets.fused if nets.fused is not None else FusedNetworks(nets.colorizer, nets.refiner)
        return fast.colorize(gray, ref_ycbcr, disparities=disparities, refine=refine, strip_rows=strip_rows)
    out = nets.colorizer(gray, ref_ycbcr, disparities=disparities, return_weights=True).ycbcr
    if refine and nets.refiner is not None:
        out = nets.refiner(gray, out)
    return out


def colorize_pair(nets: Networks, gray: np.ndarray, reference: np.ndarray, *, disparities: int = 64,
                  reference_side: str = "right", optimized: bool = True, refine: bool = True,
                  strip_rows: int | None = None) -> np.ndarray:
    """Colour a monochrome view from the rectified colour view of the same rig.

    Args:
        gray: float32 ``(H, W)`` luma in [0, 1].
        reference: float32 ``(H, W, 3)`` RGB in [0, 1].
        reference_side: ``"right"``: gray is the left view (a match lies at ``x - d``, Middlebury);
            ``"left"``: gray is the right view (M's own ``x + d`` search).
        disparities, optimized, refine, strip_rows: see :func:`colorize_ycbcr`.

    Returns:
        float32 ``(H, W, 3)`` RGB in [0, 1] whose BT.601 luma is ``gray`` exactly: M's Cb, Cr composed
        with it by :func:`tinct.color.compose_luma_chroma` (chroma scaled into the gamut, no clipping).
    """
    h, w = gray.shape
    if not optimized and h * w > REFERENCE_PATH_MAX_PIXELS:
        limit = REFERENCE_PATH_MAX_PIXELS / 1e6
        raise TinctError(f"cyclecnn: optimized=false (the plain reference path) keeps the whole weight "
                         f"volume in memory and takes at most {limit:g} MP; this pair is {w}x{h}: use the "
                         "default optimized=true")
    # M works in its own geometry (matches at x + d): the default rig (reference on the right) is
    # mirrored. The pair runs in bands of rows with the networks' halo (exact: every output row depends
    # only on the rows within the halo), so memory is bounded at any size; a small pair is one band.
    cols = slice(None, None, -1) if reference_side == "right" else slice(None)
    halo, align = band_halo(nets, refine)
    result = np.empty((h, w, 3), np.float32)
    for b in aligned_strips(h, max(align, BAND_PIXELS // w), halo, align):
        g = torch.from_numpy(np.ascontiguousarray(gray[b.extended, cols], np.float32))[None, None]
        rgb = np.ascontiguousarray(reference[b.extended, cols].transpose(2, 0, 1), np.float32)
        ycc = rgb_to_ycbcr_torch(torch.from_numpy(rgb))[None]
        del rgb
        out = colorize_ycbcr(nets, g, ycc, disparities=disparities, optimized=optimized,
                             strip_rows=strip_rows, refine=refine)
        del g, ycc
        cbcr = b.crop(out[0, 1:]).permute(1, 2, 0).numpy()[:, cols]
        result[b.rows] = compose_luma_chroma(gray[b.rows], cbcr_to_uv(cbcr))
    return result


def band_halo(nets: Networks, refine: bool = True) -> tuple[int, int]:
    """``(halo, align)`` of :func:`colorize_pair`'s bands: the rows of context an output row depends on
    (M's ResNets; the cost3d 3-D network's halo plus one coarse row of up-sampling, in full rows; the
    refinement's two ResNets) and the multiple every band boundary must be on (cost3d's pooling and
    3-D strides; 1 for the dot-product volume)."""
    m = nets.colorizer
    halo = max(m.extract_gray.receptive_radius, m.extract_color.receptive_radius)
    align = 1
    cost = getattr(m, "regularizer", None)
    if cost is not None:
        align = cost.stride * 2 ** LEVELS
        halo += (cost.halo + 1) * cost.stride
    if refine and nets.refiner is not None:
        halo += nets.refiner.receptive_radius
    return halo, align
