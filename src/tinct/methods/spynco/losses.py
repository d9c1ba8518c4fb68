"""SpyncoGAN losses: H_t consistency per pyramid level, adversarial realism, optional contours.

H_t is the handcrafted colour->gray translation that replaces CycleGAN's generator F: the
BT.601 weighted sum of R, G, B (:func:`tinct.color.rgb_to_luma_torch`). All losses take
channel-first tensors in [0, 1] and are computed in float32 (also under bf16 autocast).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tinct.color import rgb_to_luma_torch
from tinct.nn.gan import lsgan_loss


def handcrafted_gray(rgb: torch.Tensor) -> torch.Tensor:
    """H_t: ``(B, 3, H, W)`` RGB in [0, 1] -> ``(B, 1, H, W)`` luma in [0, 1] (differentiable)."""
    y = rgb_to_luma_torch(rgb.float())
    return y.unsqueeze(-3) if y.dim() == rgb.dim() - 1 else y


def loss_levels(outputs: list[torch.Tensor], which: str) -> list[int]:
    """Indices of the pyramid outputs a loss uses: ``"all"`` (L^{1,2,3}) or ``"last"`` (L^1, full size)."""
    if which == "all":
        return list(range(len(outputs)))
    if which == "last":
        return [0]
    raise ValueError(f"loss levels must be 'all' or 'last', got {which!r}")


def consistency_loss(outputs: list[torch.Tensor], gray_pyramid: list[torch.Tensor],
                     levels: list[int]) -> torch.Tensor:
    """Mean over ``levels`` of ||H_t(G(x)_k) - x_k||_1 (pixel mean); x_k is the gray input at that scale."""
    terms = [F.l1_loss(handcrafted_gray(outputs[k]), gray_pyramid[k].float()) for k in levels]
    return torch.stack(terms).mean()


_SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0


def gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Per-channel Sobel gradient magnitude of ``(B, C, H, W)``, same shape (replicate border)."""
    c = x.shape[1]
    kx = _SOBEL.to(x.device, x.dtype).expand(c, 1, 3, 3)
    ky = _SOBEL.t().to(x.device, x.dtype).expand(c, 1, 3, 3)
    xp = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(xp, kx, groups=c)
    gy = F.conv2d(xp, ky, groups=c)
    return torch.sqrt(gx * gx + gy * gy + 1e-8)


def contours_loss(outputs: list[torch.Tensor], gray_pyramid: list[torch.Tensor],
                  levels: list[int]) -> torch.Tensor:
    """Contours loss (our reading of the slides' L_contours, which they do not define):
    mean over ``levels`` of || |grad G(x)_c| - |grad x| ||_1 for each colour channel c, i.e. every
    colour channel must have its edges where the gray input has them (no colour bleeding across
    contours, no invented edges)."""
    terms = []
    for k in levels:
        g = gradient_magnitude(gray_pyramid[k].float())
        terms.append(F.l1_loss(gradient_magnitude(outputs[k].float()), g.expand(-1, 3, -1, -1)))
    return torch.stack(terms).mean()


def generator_adversarial_loss(scores: list[torch.Tensor], levels: list[int]) -> torch.Tensor:
    """LSGAN generator loss averaged over the discriminators of ``levels``."""
    return torch.stack([lsgan_loss(scores[k], True) for k in levels]).mean()


def discriminator_loss(real_scores: list[torch.Tensor], fake_scores: list[torch.Tensor],
                       levels: list[int]) -> torch.Tensor:
    """LSGAN discriminator loss, 0.5 (real + fake), averaged over ``levels``."""
    terms = [0.5 * (lsgan_loss(real_scores[k], True) + lsgan_loss(fake_scores[k], False)) for k in levels]
    return torch.stack(terms).mean()
