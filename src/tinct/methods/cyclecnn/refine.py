"""Refinement CNN (Cycle-CNN Fig. 7, after Dong et al. 2019).

A ResNet extracts features of the gray image; they are concatenated with the colorization result
(Y, Cb, Cr) and a second ResNet, whose last convolution has no BatchNorm/ReLU, predicts a residual
colour map added to the result's Cb, Cr (Y is kept). Trained with L2 from the second-time result
R'_C (guided by R_G) to R_C, so no ground truth of I_G is needed.

``warped_luma=True`` is a training-only leftover of a removed experiment (the refiner seeing the
colorization's own luma I_C^Y, ``Colorized.warped_y``, instead of I_G's Y; it did not help, see
docs/methods/cyclecnn.md). It stays only while ``training.py``'s ``--refine-warped-luma`` uses it:
inference never passes ``warped_y``, and such a refiner carries a ``warped_luma_flag`` buffer, so its
weights do not load into a default :class:`RefinementCNN` (the inference networks).
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
