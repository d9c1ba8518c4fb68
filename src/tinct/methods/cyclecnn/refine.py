"""Refinement CNN (Cycle-CNN Fig. 7, after Dong et al. 2019).

A ResNet extracts features of the gray image; they are concatenated with the colorization result
(Y, Cb, Cr) and a second ResNet, whose last convolution has no BatchNorm/ReLU, predicts a residual
colour map added to the result's Cb, Cr (Y is kept). Trained with L2 from the second-time result
R'_C (guided by R_G) to R_C, so no ground truth of I_G is needed. (An experimental variant that saw
the colorization's own luma did not help and was removed: docs/methods/cyclecnn.md.)
"""

from __future__ import annotations

import torch
from torch import nn

from tinct.nn.resnet import ResNetExtractor


class RefinementCNN(nn.Module):
    """``(gray (N,1,H,W), colorized YCbCr (N,3,H,W)) -> refined YCbCr (N,3,H,W)``, all in [0, 1]."""

    def __init__(self, width: int = 16, n_blocks: int = 8) -> None:
        super().__init__()
        self.guide = ResNetExtractor(1, width, n_blocks)
        self.body = ResNetExtractor(width + 3, width, n_blocks, out_channels=2)
        nn.init.zeros_(self.body.tail.weight)  # start as the identity refinement
        nn.init.zeros_(self.body.tail.bias)

    @property
    def receptive_radius(self) -> int:
        return self.guide.receptive_radius + self.body.receptive_radius

    def forward(self, gray: torch.Tensor, ycbcr: torch.Tensor) -> torch.Tensor:
        """The output keeps ``ycbcr``'s Y; Cb, Cr get the predicted residual (clipped to [0, 1])."""
        feats = self.guide(gray - 0.5)
        residual = self.body(torch.cat([feats, ycbcr - 0.5], dim=1))
        return torch.cat([ycbcr[:, :1], (ycbcr[:, 1:] + residual).clamp(0.0, 1.0)], dim=1)
