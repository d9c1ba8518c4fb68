"""Structure-similarity network (Cycle-CNN Fig. 5) and its pre-training data.

Two ResNets extract features of ``I_G^Y`` and ``I_C^Y``; with the SSIM luminance, contrast and
structure maps (l, c, s) of the pair they go through a third ResNet whose last convolution gives
the structure-similarity map SSM ``(N, 1, H, W)``. Pre-training regresses, with L1, the SSIM map
between the gray image and *its own* randomly warped copy, while the network sees the gray image
and the warped *colour camera's* luma: it learns the structure distortion and to ignore the two
cameras' different luminance response (the paper warps both J_G and J_C; this is our reading of
which pair gives the target, see docs/methods/cyclecnn.md).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tinct.color import rgb_to_luma
from tinct.data.dual_lens import (
    random_mono_response,
    random_warp_field,
    simulate_color_camera,
    simulate_mono_camera,
    warp,
)
from tinct.metrics import ssim_components_torch, ssim_map
from tinct.nn.resnet import ResNetExtractor


class StructureSimilarityNet(nn.Module):
    """``(gray_y (N,1,H,W), colour_y (N,1,H,W)) -> SSM (N,1,H,W)``; inputs in [0, 1], output ~[-1, 1]."""

    def __init__(self, width: int = 16, n_blocks: int = 8) -> None:
        super().__init__()
        self.extract_gray = ResNetExtractor(1, width, n_blocks)
        self.extract_color = ResNetExtractor(1, width, n_blocks)
        self.head = ResNetExtractor(2 * width + 3, width, n_blocks, out_channels=1)

    def forward(self, gray_y: torch.Tensor, color_y: torch.Tensor) -> torch.Tensor:
        lum, con, struct = ssim_components_torch(gray_y, color_y)
        feats = [self.extract_gray(gray_y - 0.5), self.extract_color(color_y - 0.5), lum, con, struct]
        return self.head(torch.cat(feats, dim=1))


def ssm_training_pair(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pre-training sample from a colour photo crop.

    Returns:
        (J_G, warped J_C's luma, target SSIM map of (J_G, warped J_G)), float32 ``(H, W)`` each.
    """
    h, w = rgb.shape[:2]
    response = random_mono_response(rng)
    j_g = simulate_mono_camera(rgb, response, rng)
    j_c = simulate_color_camera(rgb, rng)
    if rng.random() < 1 / 6:
        field = np.zeros((h, w, 2), np.float32)  # aligned pairs: the target is all ones
    else:
        field = random_warp_field(h, w, rng)
    warped_g = warp(j_g, field)
    warped_c_y = rgb_to_luma(warp(j_c, field))
    target = ssim_map(warped_g, j_g).astype(np.float32)
    return j_g, warped_c_y.astype(np.float32), target
