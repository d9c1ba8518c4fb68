"""A learned realism term for the regression head (issue 21's "learned realism term").

A conditional PatchGAN critic (Isola et al. 2017, as pix2pix uses for colorization) judges
``(luma, ab)`` pairs at the heads' half resolution: real photos' ab against the regression head's
ab. The head then pays ``lambda_adv`` x the least-squares GAN loss (Mao et al. 2017) on top of its
Huber loss, which pulls it away from the desaturated conditional mean that a pure regression
learns. The critic is trained on detached predictions with its own AdamW (β₁ 0.5, as pix2pix).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tinct.nn.gan import PatchDiscriminator, lsgan_loss
from tinct.train import optimizer_step

AB_SCALE = 110.0  # Lab ab of sRGB lies within ±110 (to [0, 1] for the critic)


def critic_input(luma: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` in [0, 1]: luma ``(N, 1, H, W)`` in [0, 1] beside ab ``(N, 2, H, W)`` (Lab units)
    mapped from ±110 to [0, 1]."""
    return torch.cat([luma, (ab / AB_SCALE + 1.0) * 0.5], dim=1)


class RealismCritic:
    """The critic, its optimizer and both sides of the adversarial loss.

    ``generator_term(luma, ab_fake)`` is the generator's loss (differentiable in ``ab_fake``);
    ``update(luma, ab_real, ab_fake)`` takes one critic step on detached ``ab_fake`` and returns the
    critic's loss. ``luma`` is the full-resolution ``(N, 1, H, W)`` batch luma; ab maps are at half
    resolution ``(N, 2, H/2, W/2)``.
    """

    def __init__(self, width: int = 32, n_down: int = 3, lr: float = 2e-4) -> None:
        self.net = PatchDiscriminator(in_ch=3, width=width, n_down=n_down)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=lr, betas=(0.5, 0.999), weight_decay=0.0)

    @staticmethod
    def _half(luma: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(luma, 2)

    def generator_term(self, luma: torch.Tensor, ab_fake: torch.Tensor) -> torch.Tensor:
        """LSGAN loss of the prediction as "real" (the critic's weights get no gradient from it)."""
        self.net.requires_grad_(False)
        try:
            return lsgan_loss(self.net(critic_input(self._half(luma), ab_fake)), real=True)
        finally:
            self.net.requires_grad_(True)

    def update(self, luma: torch.Tensor, ab_real: torch.Tensor, ab_fake: torch.Tensor) -> float:
        """One critic step: real pairs toward 1, predicted (detached) toward 0; returns the loss."""
        self.net.train()
        half = self._half(luma)
        loss = 0.5 * (lsgan_loss(self.net(critic_input(half, ab_real)), real=True)
                      + lsgan_loss(self.net(critic_input(half, ab_fake.detach())), real=False))
        optimizer_step(self.opt, loss)
        return float(loss.detach())
