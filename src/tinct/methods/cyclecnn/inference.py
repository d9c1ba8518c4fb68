"""Loading trained Cycle-CNN weights and running M (+ refinement) on a full image.

Paths with the same result (tested): ``straightforward`` runs every network on the whole image
and materialises the weight volume ``(d, H, W)``; ``optimized`` (default) is :mod:`.fused`: folded
BatchNorm, oneDNN-fused convolutions on row strips with a halo, and the banded block-matmul cost
volume (fp32, 3-4x less time than the older tiled path). The older tiled path (``fused=False``:
folded BatchNorm, channels-last, a streaming softmax over a loop of disparities) remains for the
``bf16`` option (bfloat16 autocast of the ResNets, approximate).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tinct.color import rgb_to_ycbcr_torch, ycbcr_to_rgb_torch
from tinct.errors import TinctError
from tinct.methods.cyclecnn.fused import FusedNetworks
from tinct.methods.cyclecnn.model import ColorizationCNN, ModelConfig, colorize_tiled, hflip
from tinct.methods.cyclecnn.refine import RefinementCNN, refine_tiled
from tinct.nn.resnet import fold_batchnorm
from tinct.weights import load_weights


@dataclass
class Networks:
    """The inference networks: M and (optionally) the refinement CNN, in eval mode; ``fused``: their
    :class:`~.fused.FusedNetworks` (set by :func:`optimize_networks`)."""

    colorizer: ColorizationCNN
    refiner: RefinementCNN | None
    fused: FusedNetworks | None = None


def networks_from_tensors(tensors: dict[str, torch.Tensor], card: dict | None = None) -> Networks:
    """Build :class:`Networks` from ``model.*`` / ``refine.*`` tensors (sizes read off the tensors)."""
    width = int(tensors["model.extract_gray.head.0.weight"].shape[0])
    n_blocks = len({k.split(".")[3] for k in tensors if k.startswith("model.extract_gray.blocks.")})
    colorizer = ColorizationCNN(ModelConfig(width, n_blocks))
    colorizer.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    refiner = None
    refine_state = {k[7:]: v for k, v in tensors.items() if k.startswith("refine.")}
    if "warped_luma_flag" in refine_state:
        raise TinctError("these Cycle-CNN weights hold the experimental warped-luma refiner, which the "
                         "inference paths do not support; bundle a default refiner (or none) instead")
    if refine_state:
        refiner = RefinementCNN(width, n_blocks)
        refiner.load_state_dict(refine_state)
        refiner.eval()
    return Networks(colorizer.eval(), refiner)


def load_networks(path: str | Path) -> Networks:
    """Read a Cycle-CNN ``.safetensors`` file (``model.*`` and optional ``refine.*`` tensors)."""
    tensors, card = load_weights(path)
    if "model.extract_gray.head.0.weight" not in tensors:
        raise TinctError(f"{path}: not Cycle-CNN weights (no 'model.*' tensors)")
    return networks_from_tensors(tensors, card)


def optimize_networks(nets: Networks) -> Networks:
    """Inference copies: folded-BatchNorm channels-last modules (tiled path) and the fused networks."""
    colorizer = fold_batchnorm(nets.colorizer).to(memory_format=torch.channels_last)
    refiner = None
    if nets.refiner is not None:
        refiner = fold_batchnorm(nets.refiner).to(memory_format=torch.channels_last)
    return Networks(colorizer, refiner, FusedNetworks(nets.colorizer, nets.refiner))


@torch.no_grad()
def colorize_ycbcr(nets: Networks, gray: torch.Tensor, ref_ycbcr: torch.Tensor, *, disparities: int,
                   optimized: bool = True, strip_rows: int | None = None, refine: bool = True,
                   bf16: bool = False, fused: bool = True) -> torch.Tensor:
    """Run M (then the refinement) in M's geometry (matches at ``i + k``).

    Args:
        gray: ``(1, 1, H, W)`` in [0, 1]; ref_ycbcr: ``(1, 3, H, W)`` YCbCr in [0, 1].
        optimized: an optimized path (expects :func:`optimize_networks` output, works with both):
            :mod:`.fused` unless ``bf16`` or ``fused=False``, else the tiled/streaming path.
        strip_rows: rows per strip (default: ~300k pixels fused, 128 tiled).
        bf16: bfloat16 autocast for the ResNets of the tiled path (approximate).

    Returns:
        ``(1, 3, H, W)`` YCbCr; Y is ``gray``.
    """
    if optimized and fused and not bf16:
        fast = nets.fused if nets.fused is not None else FusedNetworks(nets.colorizer, nets.refiner)
        return fast.colorize(gray, ref_ycbcr, disparities=disparities, refine=refine,
                             strip_rows=strip_rows)
    strip_rows = strip_rows or 128
    if optimized:
        cl = torch.channels_last
        gray_cl, ref_cl = gray.contiguous(memory_format=cl), ref_ycbcr.contiguous(memory_format=cl)
        out = colorize_tiled(nets.colorizer, gray_cl, ref_cl, disparities=disparities, strip_rows=strip_rows,
                             bf16=bf16)
        if refine and nets.refiner is not None:
            out = refine_tiled(nets.refiner, gray_cl, out.contiguous(memory_format=cl), strip_rows=strip_rows,
                               bf16=bf16)
        return out.contiguous()
    out = nets.colorizer(gray, ref_ycbcr, disparities=disparities, return_weights=True).ycbcr
    if refine and nets.refiner is not None:
        out = nets.refiner(gray, out)
    return out


def colorize_pair(nets: Networks, gray: np.ndarray, reference: np.ndarray, *, disparities: int = 64,
                  reference_side: str = "right", optimized: bool = True, refine: bool = True,
                  strip_rows: int | None = None, bf16: bool = False) -> np.ndarray:
    """Colour a monochrome view from the rectified colour view of the same rig.

    Args:
        gray: float32 ``(H, W)`` luma in [0, 1].
        reference: float32 ``(H, W, 3)`` RGB in [0, 1].
        reference_side: ``"right"``: gray is the left view (a match lies at ``x - d``, Middlebury);
            ``"left"``: gray is the right view (M's own ``x + d`` search).

    Returns:
        float32 ``(H, W, 3)`` RGB in [0, 1] whose BT.601 luma is ``gray`` (up to clipping).
    """
    g = torch.from_numpy(np.ascontiguousarray(gray, np.float32))[None, None]
    r = torch.from_numpy(np.ascontiguousarray(reference.transpose(2, 0, 1), np.float32))[None]
    ycc = rgb_to_ycbcr_torch(r)
    flip = reference_side == "right"
    if flip:
        g, ycc = hflip(g), hflip(ycc)
    out = colorize_ycbcr(nets, g, ycc, disparities=disparities, optimized=optimized, strip_rows=strip_rows,
                         refine=refine, bf16=bf16)
    if flip:
        out = hflip(out)
    rgb = ycbcr_to_rgb_torch(out).clamp(0, 1)
    return rgb[0].permute(1, 2, 0).numpy().astype(np.float32)
