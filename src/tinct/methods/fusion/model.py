"""The fusion network: a U-Net on the luma whose bottleneck is fused with a global image vector
(seed 002's CNN family), with two heads at half resolution: ab-bin logits (classification,
Zhang et al. 2016) and ab (regression, the survey's MSE).

``forward(luma, scene=None)``: luma ``(N, 1, H, W)`` in [0, 1], H and W multiples of ``net.multiple`` ->
``(logits (N, Q, H/2, W/2), ab (N, 2, H/2, W/2))`` with ab in Lab units (about ±110).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from tinct.nn.unet import FusionLayer, GlobalBranch, UNet, UNetConfig

AB_SCALE = 110.0


@dataclass(frozen=True)
class FusionModelConfig:
    """Architecture. ``fusion=False`` is the ablation: the same trunk without the global branch;
    ``scene_classes`` > 0 feeds the scene parser's class histogram ``(N, K)`` to the global branch
    (:mod:`tinct.methods.fusion.scene`)."""

    widths: tuple[int, ...] = (32, 64, 128, 256)
    global_dim: int = 256
    fusion: bool = True
    n_bins: int = 313
    scene_classes: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class FusionNet(nn.Module):
    """U-Net trunk + global branch + fusion layer + classification and regression heads."""

    def __init__(self, config: FusionModelConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or FusionModelConfig()
        self.trunk = UNet(UNetConfig(in_channels=1, widths=tuple(cfg.widths)))
        top = cfg.widths[-1]
        if cfg.scene_classes and not cfg.fusion:
            raise ValueError("scene_classes needs the global branch (fusion=True)")
        self.global_branch = (GlobalBranch(top, cfg.global_dim, extra=cfg.scene_classes)
                              if cfg.fusion else None)
        self.fuse = FusionLayer(top, cfg.global_dim) if cfg.fusion else None
        self.cls_head = nn.Conv2d(cfg.widths[0], cfg.n_bins, 1)
        self.reg_head = nn.Conv2d(cfg.widths[0], 2, 1)

    @property
    def multiple(self) -> int:
        return self.trunk.multiple

    def forward(self, luma: torch.Tensor, scene: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``scene``: the class histogram ``(N, K)``, needed iff ``config.scene_classes``."""
        feats = self.trunk.encode((luma - 0.5) * 2.0)
        if self.fuse is not None and self.global_branch is not None:
            feats[-1] = self.fuse(feats[-1], self.global_branch(feats[-1], scene))
        h = self.trunk.decode(feats)
        return self.cls_head(h), torch.tanh(self.reg_head(h)) * AB_SCALE


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
