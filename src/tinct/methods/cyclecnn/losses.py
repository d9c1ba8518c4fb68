"""Cycle-CNN losses (eqs. 1-4), each switchable for the ablation, plus the supervised loss of the
Dong et al. 2019 baseline and the refinement's L2.

All images are YCbCr channel-first in [0, 1]; SSIM is :func:`tinct.metrics.ssim_torch`
(Wang et al. 2004, Gaussian 11x11, sigma 1.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tinct.metrics import ssim_torch


@dataclass
class LossConfig:
    """Weights lambda_1..3 of eq. 4 (0 switches a term off) and the structure loss kind.

    ss_kind: ``"ssm"`` (the learnt structure-similarity network, eq. 1) or ``"ssim"`` (plain
    ``1 - SSIM`` of the two luma maps, the ablation's "SSIM as structure similarity loss").
    """

    structure: float = 1.0
    cycle: float = 1.0
    smooth: float = 0.1
    ss_kind: str = "ssm"


def structure_similarity_loss(ssm: torch.nn.Module, gray_y: torch.Tensor,
                              colorized_y: torch.Tensor) -> torch.Tensor:
    """Eq. 1: ``1 - mean(SSM(I_G^Y, I_C^Y))``; both ``(N, 1, H, W)`` in [0, 1]."""
    return 1.0 - ssm(gray_y, colorized_y).mean()


def ssim_structure_loss(gray_y: torch.Tensor, colorized_y: torch.Tensor) -> torch.Tensor:
    """Ablation variant of eq. 1: ``1 - SSIM(I_G^Y, I_C^Y)``."""
    return 1.0 - ssim_torch(colorized_y, gray_y)


def chroma_ssim_loss(pred_ycbcr: torch.Tensor, target_ycbcr: torch.Tensor) -> torch.Tensor:
    """``1 - (SSIM(Cb) + SSIM(Cr)) / 2`` of ``(N, 3, H, W)`` YCbCr tensors; eq. 2 when the pair is
    (R'_C, R_C), the supervised loss of the Dong et al. baseline when it is (I_C, ground truth)."""
    cb = ssim_torch(pred_ycbcr[:, 1:2], target_ycbcr[:, 1:2])
    cr = ssim_torch(pred_ycbcr[:, 2:3], target_ycbcr[:, 2:3])
    return 1.0 - 0.5 * (cb + cr)


cycle_consistency_loss = chroma_ssim_loss


def smoothness_loss(weights: torch.Tensor) -> torch.Tensor:
    """Eq. 3 over the weight volume ``(N, d, H, W)``: mean over voxels of the summed absolute
    differences to the 6 neighbours (x, y and disparity; each neighbour pair counts from both sides,
    neighbours outside the volume are absent)."""
    total = weights.new_zeros(())
    for dim in (1, 2, 3):
        total = total + weights.diff(dim=dim).abs().sum()
    return 2.0 * total / weights.numel()


def refinement_loss(refined_ycbcr: torch.Tensor, target_ycbcr: torch.Tensor) -> torch.Tensor:
    """L2 of the chroma (the refinement keeps Y)."""
    return ((refined_ycbcr[:, 1:] - target_ycbcr[:, 1:]) ** 2).mean()
