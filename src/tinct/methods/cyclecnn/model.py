"""The colorization CNN M and the colorization cycle (Cycle-CNN, Dong et al. AAAI 2020, Figs. 4, 6).

``M(A_G, B_C) -> A_C``: two ResNets extract features of the gray input A (its Y) and of the colour
reference B (its Y, Cb, Cr); the 3-D weight volume W (:mod:`.weight_volume`) scores, for each
pixel ``(j, i)`` of A, the reference pixels ``(j, i) .. (j, i + d - 1)``; A_C's Cb, Cr are the
W-weighted average of B's Cb, Cr and A_C's Y is A's Y (kept exactly). The same average of B's Y,
``warped_y``, is what the structure-similarity loss compares with A's Y (``I_C^Y`` of eq. 1).

``ModelConfig.volume`` selects how W is scored: ``"dot"`` (scaled dot products of the two feature
vectors, the first implementation, kept as the ablation row) or ``"cost3d"`` (the same dot products
plus the up-sampled logits of a cost volume regularized by a 3-D encoder-decoder, after Dong et al.
2019: :mod:`.cost3d`).

Images inside the model are YCbCr (BT.601 full range), channel-first, in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from tinct.methods.cyclecnn.cost3d import CostRegularizer, upsample_logits
from tinct.methods.cyclecnn.weight_volume import streaming_average, weight_volume, weighted_average
from tinct.nn.resnet import ResNetExtractor


@dataclass
class ModelConfig:
    """Architecture of M (paper: width 16, 8 residual blocks, d = 64).

    ``volume``: ``"dot"`` (dot-product scores only; every card without this key) or ``"cost3d"`` (plus
    the regularized cost volume of :mod:`.cost3d` at 1/``cost_stride`` resolution; 1 = full).
    """

    width: int = 16
    n_blocks: int = 8
    disparities: int = 64
    volume: Literal["dot", "cost3d"] = "dot"
    cost_stride: int = 4


@dataclass
class Colorized:
    """Output of :class:`ColorizationCNN`.

    ycbcr: ``(N, 3, H, W)`` = (A's Y, averaged Cb, averaged Cr); warped_y: ``(N, 1, H, W)``
    averaged reference Y; weights: ``(N, d, H, W)`` W, or None when not requested.
    """

    ycbcr: torch.Tensor
    warped_y: torch.Tensor
    weights: torch.Tensor | None


class ColorizationCNN(nn.Module):
    """M: ``(gray (N,1,H,W), reference YCbCr (N,3,H,W)) -> Colorized``; both in [0, 1]."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        c = self.config
        self.extract_gray = ResNetExtractor(1, c.width, c.n_blocks)
        self.extract_color = ResNetExtractor(3, c.width, c.n_blocks)
        # inverse temperature of the softmax over disparities, learnt in log space
        self.log_scale = nn.Parameter(torch.tensor(-1.0))
        if c.volume not in ("dot", "cost3d"):
            raise ValueError(f"unknown weight volume {c.volume!r}; 'dot' or 'cost3d'")
        self.regularizer = CostRegularizer(c.width, c.cost_stride) if c.volume == "cost3d" else None

    @property
    def receptive_radius(self) -> int:
        return self.extract_gray.receptive_radius

    def features(self, gray: torch.Tensor, ref_ycbcr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ResNet features of A and B, ``(N, width, H, W)`` each (inputs centred at 0)."""
        return self.extract_gray(gray - 0.5), self.extract_color(ref_ycbcr - 0.5)

    def cost_bias(self, feat_a: torch.Tensor, feat_b: torch.Tensor, disparities: int) -> torch.Tensor | None:
        """The regularized cost volume's logits at full resolution ``(N, H, W, d)`` (None for "dot")."""
        if self.regularizer is None:
            return None
        h, w = feat_a.shape[-2:]
        with torch.autocast("cpu", enabled=False):  # float32 even under bf16 training: its BatchNorm on
            # few deep voxels overflowed in bf16 (and the 3-D network is a small share of the step)
            logits = self.regularizer.coarse_logits(feat_a.float(), feat_b.float(), disparities)
        return upsample_logits(logits, self.regularizer.stride, disparities, w, range(h))

    def forward(self, gray: torch.Tensor, ref_ycbcr: torch.Tensor, *, disparities: int | None = None,
                return_weights: bool = True) -> Colorized:
        if gray.shape[-2:] != ref_ycbcr.shape[-2:]:
            raise ValueError(f"gray {tuple(gray.shape)} and reference {tuple(ref_ycbcr.shape)} differ "
                             "in size")
        d = disparities or self.config.disparities
        fa, fb = self.features(gray, ref_ycbcr)
        scale = self.log_scale.exp()
        bias = self.cost_bias(fa, fb, d)
        fa, fb = fa.float(), fb.float()  # under bf16 autocast the dot products stay float32
        if return_weights or bias is not None:
            w = weight_volume(fa, fb, d, scale, bias)
            avg = weighted_average(w, ref_ycbcr)
            w = w if return_weights else None
        else:
            w = None
            avg = streaming_average(fa, fb, ref_ycbcr, d, scale)
        return Colorized(torch.cat([gray, avg[:, 1:]], dim=1), avg[:, :1], w)


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Horizontal flip of ``(..., H, W)``."""
    return torch.flip(x, dims=[-1])


@dataclass
class CycleOutput:
    """First-time result ``I_C`` and second-time result ``R'_C`` (both Colorized, unflipped)."""

    first: Colorized
    second: Colorized


def colorize_cycle(model: ColorizationCNN, gray: torch.Tensor, ref_ycbcr: torch.Tensor,
                   *, disparities: int | None = None) -> CycleOutput:
    """``I_C = M(I_G, R_C)``; ``R'_C = flip(M(flip(R_G), flip(I_C)))`` (Fig. 4).

    The flips turn the second search, whose matches lie at ``i - k``, into M's ``i + k`` search.

    Args:
        gray: ``(N, 1, H, W)`` I_G in [0, 1].
        ref_ycbcr: ``(N, 3, H, W)`` R_C in YCbCr [0, 1].

    Returns:
        :class:`CycleOutput`; ``second.ycbcr`` is R'_C, its Y is R_G = R_C's Y.
    """
    first = model(gray, ref_ycbcr, disparities=disparities)
    r_gray = ref_ycbcr[:, :1]
    flipped = model(hflip(r_gray), hflip(first.ycbcr), disparities=disparities)
    second = Colorized(hflip(flipped.ycbcr), hflip(flipped.warped_y),
                       None if flipped.weights is None else hflip(flipped.weights))
    return CycleOutput(first, second)
