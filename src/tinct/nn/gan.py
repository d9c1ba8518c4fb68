"""Shared GAN pieces: convolution blocks, a ResNet generator, PatchGAN discriminators, GAN losses.

Images are channel-first float tensors ``(B, C, H, W)``; generators here emit values in [0, 1]
(sigmoid) so they live in the same range as :mod:`tinct.color` images. Discriminators return
patch score maps ``(B, 1, H', W')`` (unbounded logits) used with the least-squares GAN loss
(Mao et al. 2017), as in CycleGAN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_norm_act(in_ch: int, out_ch: int, *, kernel: int = 3, stride: int = 1, norm: bool = True,
                  act: str = "relu") -> nn.Sequential:
    """Conv (reflect padding for stride 1) + optional InstanceNorm + activation ("relu", "lrelu", "none")."""
    pad = kernel // 2
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=pad,
                                         padding_mode="reflect" if stride == 1 and pad else "zeros",
                                         bias=not norm)]
    if norm:
        layers.append(nn.InstanceNorm2d(out_ch, affine=True))
    if act == "relu":
        layers.append(nn.ReLU(inplace=True))
    elif act == "lrelu":
        layers.append(nn.LeakyReLU(0.2, inplace=True))
    elif act != "none":
        raise ValueError(f"unknown activation {act!r}")
    return nn.Sequential(*layers)


class ResnetBlock(nn.Module):
    """Two 3x3 conv + InstanceNorm layers with an identity shortcut; keeps ``(B, C, H, W)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_norm_act(channels, channels),
                                  conv_norm_act(channels, channels, act="none"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN-style generator: 2 stride-2 downsamplings, ``n_blocks`` ResNet blocks, 2 upsamplings.

    Input ``(B, in_ch, H, W)`` in [0, 1] with H, W multiples of 4; output ``(B, out_ch, H, W)`` in
    [0, 1]. Upsampling is nearest + 3x3 conv (no checkerboard artefacts from transposed convs).
    """

    def __init__(self, in_ch: int, out_ch: int, width: int = 32, n_blocks: int = 3) -> None:
        super().__init__()
        w = width
        self.n_blocks = n_blocks
        self.net = nn.Sequential(
            conv_norm_act(in_ch, w),
            conv_norm_act(w, 2 * w, stride=2),
            conv_norm_act(2 * w, 4 * w, stride=2),
            *[ResnetBlock(4 * w) for _ in range(n_blocks)],
            nn.Upsample(scale_factor=2, mode="nearest"),
            conv_norm_act(4 * w, 2 * w),
            nn.Upsample(scale_factor=2, mode="nearest"),
            conv_norm_act(2 * w, w),
            nn.Conv2d(w, out_ch, 3, padding=1, padding_mode="reflect"),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x))

    @property
    def receptive_radius(self) -> int:
        """Input pixels each output pixel depends on, on each side (with norm statistics fixed): 1 + 1
        (full-size conv, stride-2 conv) + 2 (stride-2 conv at H/2) + 8 per block (two convs at H/4)
        + 4 (nearest-upsampling offsets) + 2 + 1 (the convs at H/2 and H) + 1 (output conv)."""
        return 12 + 8 * self.n_blocks


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. 2017): stride-2 4x4 convs, then a 1-channel score map.

    Input ``(B, in_ch, H, W)`` in [0, 1] (any H, W >= 2**n_down); output ``(B, 1, H', W')`` logits.
    """

    def __init__(self, in_ch: int = 3, width: int = 32, n_down: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_ch, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(ch, 2 * ch, 4, stride=2, padding=1), nn.InstanceNorm2d(2 * ch, affine=True),
                       nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers += [nn.Conv2d(ch, ch, 3, padding=1), nn.InstanceNorm2d(ch, affine=True),
                   nn.LeakyReLU(0.2, True), nn.Conv2d(ch, 1, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Centre [0, 1] images on 0 so the first layer sees a symmetric input.
        return self.net(x * 2.0 - 1.0)


class PyramidDiscriminator(nn.Module):
    """One :class:`PatchDiscriminator` per pyramid level (finest first).

    ``forward(images)`` takes a list of ``(B, 3, H / 2**k, W / 2**k)`` images and returns the list of
    score maps. Coarser levels use fewer downsamplings so tiny images (CIFAR at H/4 = 8) still work.
    """

    def __init__(self, levels: int, in_ch: int = 3, width: int = 32, n_down: int = 2) -> None:
        super().__init__()
        self.discs = nn.ModuleList(
            PatchDiscriminator(in_ch, width, max(1, n_down - k)) for k in range(levels))

    def forward(self, images: list[torch.Tensor]) -> list[torch.Tensor]:
        return [d(x) for d, x in zip(self.discs, images, strict=True)]


def lsgan_loss(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss: mean (score - 1)^2 for ``real`` targets, mean score^2 otherwise."""
    target = 1.0 if real else 0.0
    return F.mse_loss(scores.float(), torch.full_like(scores.float(), target))


def image_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``[x, x/2, x/4, ...]`` (finest first) by 2x2 average pooling; ``x`` is ``(B, C, H, W)``."""
    out = [x]
    for _ in range(levels - 1):
        out.append(F.avg_pool2d(out[-1], 2))
    return out


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
