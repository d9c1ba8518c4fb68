"""Shared ResNet feature extractor of Dong et al. 2019 / Cycle-CNN (Dong et al. 2020).

18 convolutions: a 5x5 convolution, then 8 residual blocks of two 3x3 convolutions; BatchNorm and
ReLU after every convolution (the ReLU of a block's second convolution follows the skip sum).
All convolutions keep the spatial size ("same" zero padding), so the receptive-field radius is
``2 + 2 * n_blocks`` pixels (18 for the paper's 8 blocks): a row strip computed with that many
halo rows gives exactly the untiled result (see :func:`receptive_radius`).

:func:`fold_batchnorm` returns an inference copy with every BatchNorm folded into the preceding
convolution (same output up to float rounding, fewer memory passes).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, + skip, ReLU. ``(N, C, H, W) -> (N, C, H, W)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(y)))


class ResNetExtractor(nn.Module):
    """The paper's ResNet: ``(N, in_ch, H, W) -> (N, out_ch, H, W)``, same spatial size.

    Args:
        in_channels: input channels.
        width: filter number ``n`` of all layers (16 in the paper).
        n_blocks: residual blocks after the first 5x5 convolution (8 in the paper).
        out_channels: if given, a final 3x3 convolution with this many outputs and no
            BatchNorm/ReLU (the refinement and structure-similarity heads); else the output is the
            last block's ``width`` features.
    """

    def __init__(self, in_channels: int, width: int = 16, n_blocks: int = 8,
                 out_channels: int | None = None) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(in_channels, width, 5, padding=2, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(*[ResidualBlock(width) for _ in range(n_blocks)])
        self.tail = nn.Conv2d(width, out_channels, 3, padding=1) if out_channels else None
        self.n_blocks = n_blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.blocks(self.head(x))
        return self.tail(y) if self.tail is not None else y

    @property
    def receptive_radius(self) -> int:
        """Rows of context each output row depends on, on each side."""
        return 2 + 2 * self.n_blocks + (1 if self.tail is not None else 0)


def receptive_radius(module: nn.Module) -> int:
    """Sum of the receptive radii of every :class:`ResNetExtractor` chained inside ``module``."""
    return int(getattr(module, "receptive_radius", 0))


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new conv equal to ``bn(conv(x))`` in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, padding=conv.padding,
                      bias=True)
    with torch.no_grad():
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return fused


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Deep copy of ``module`` in eval mode with every conv->BatchNorm pair of the ResNet blocks
    folded into one conv (BatchNorm replaced by identity)."""
    out = copy.deepcopy(module).eval()
    for m in out.modules():
        if isinstance(m, ResNetExtractor):
            m.head[0] = _fold(m.head[0], m.head[1])
            m.head[1] = nn.Identity()
        if isinstance(m, ResidualBlock):
            m.conv1, m.bn1 = _fold(m.conv1, m.bn1), nn.Identity()
            m.conv2, m.bn2 = _fold(m.conv2, m.bn2), nn.Identity()
    return out
