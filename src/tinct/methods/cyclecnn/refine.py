"""Refinement CNN (Cycle-CNN Fig. 7, after Dong et al. 2019).

A ResNet extracts features of the gray image; they are concatenated with the colorization result
(Y, Cb, Cr) and a second ResNet, whose last convolution has no BatchNorm/ReLU, predicts a residual
colour map added to the result's Cb, Cr (Y is kept). Trained with L2 from the second-time result
R'_C (guided by R_G) to R_C, so no ground truth of I_G is needed.

``warped_luma=True`` (experimental, not used by the bundled weights or the inference paths): the
second ResNet sees the colorization's *own* luma I_C^Y (the W-weighted average of the reference's
Y, ``Colorized.warped_y``) instead of I_G's Y. In the paper I_C is the warped reference, whose Y
differs from I_G where M matched wrongly or the pixel is occluded; with I_G's Y in its place the
refiner has no cue where I_C is unreliable. Such a refiner carries a ``warped_luma`` buffer, so
loading it into a default :class:`RefinementCNN` (the inference paths) fails loudly.
"""

from __future__ import annotations

import torch
from torch import nn

from tinct.nn.resnet import ResNetExtractor


class RefinementCNN(nn.Module):
    """``(gray (N,1,H,W), colorized YCbCr (N,3,H,W)) -> refined YCbCr (N,3,H,W)``, all in [0, 1]."""

    def __init__(self, width: int = 16, n_blocks: int = 8, warped_luma: bool = False) -> None:
        super().__init__()
        self.warped_luma = warped_luma
        if warped_luma:
            self.register_buffer("warped_luma_flag", torch.ones(()))
        self.guide = ResNetExtractor(1, width, n_blocks)
        self.body = ResNetExtractor(width + 3, width, n_blocks, out_channels=2)
        nn.init.zeros_(self.body.tail.weight)  # start as the identity refinement
        nn.init.zeros_(self.body.tail.bias)

    @property
    def receptive_radius(self) -> int:
        return self.guide.receptive_radius + self.body.receptive_radius

    def forward(self, gray: torch.Tensor, ycbcr: torch.Tensor,
                warped_y: torch.Tensor | None = None) -> torch.Tensor:
        """``warped_y`` ``(N, 1, H, W)``: I_C^Y, given iff ``warped_luma``; the output keeps ``ycbcr``'s Y."""
        if (warped_y is not None) != self.warped_luma:
            raise ValueError("warped_y must be given exactly when the refiner has warped_luma=True")
        feats = self.guide(gray - 0.5)
        seen = ycbcr if warped_y is None else torch.cat([warped_y, ycbcr[:, 1:]], dim=1)
        residual = self.body(torch.cat([feats, seen - 0.5], dim=1))
        return torch.cat([ycbcr[:, :1], (ycbcr[:, 1:] + residual).clamp(0.0, 1.0)], dim=1)


@torch.no_grad()
def refine_tiled(refiner: RefinementCNN, gray: torch.Tensor, ycbcr: torch.Tensor, *,
                 strip_rows: int = 64, bf16: bool = False) -> torch.Tensor:
    """:class:`RefinementCNN` on row strips with a halo (identical output in eval mode; ``bf16``:
    bfloat16 autocast, approximate)."""
    h = gray.shape[-2]
    halo = refiner.receptive_radius
    out = torch.empty_like(ycbcr)
    for top in range(0, h, strip_rows):
        bottom = min(h, top + strip_rows)
        lo, hi = max(0, top - halo), min(h, bottom + halo)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            res = refiner(gray[..., lo:hi, :], ycbcr[..., lo:hi, :])
        out[..., top:bottom, :] = res[..., top - lo:bottom - lo, :].float()
    return out
