"""An encoder-decoder (U-Net) on one band and the global-feature fusion layer of the survey's CNNs.

The survey's "Deep Koalarization" (and Iizuka et al.'s global/local network) encodes the
luminance with a fully convolutional encoder, computes one feature vector for the whole image,
**broadcasts it over the bottleneck, concatenates and fuses with a 1x1 convolution**, then
decodes to chroma. :class:`UNet` is that trunk (skip connections from each encoder level),
:class:`GlobalBranch` turns the bottleneck into the image-level vector (learned end to end;
extra per-image features such as a class histogram may be appended), :class:`FusionLayer` is
the fusion. Shapes: input ``(N, C_in, H, W)`` with H, W multiples of ``2 ** len(widths)``
(:func:`pad_to_multiple`); output ``(N, widths[0], H / 2, W / 2)`` features for the heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution (zero padding), BatchNorm, ReLU; ``stride`` 2 halves H and W."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the bottom/right of ``(N, C, H, W)`` to multiples of ``multiple``; returns
    (padded, (H, W))."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


@dataclass(frozen=True)
class UNetConfig:
    """Widths of the encoder levels (each level halves H, W); ``in_channels`` of the input band."""

    in_channels: int = 1
    widths: tuple[int, ...] = (32, 64, 128, 256)


class UNet(nn.Module):
    """Encoder (a stride-2 conv + a conv per level) and decoder (upsample, concatenate the skip,
    conv) back to half the input resolution. ``forward(x, fuse)``: ``fuse`` maps the bottleneck
    ``(N, widths[-1], H/2^L, W/2^L)`` to a tensor of the same shape (the fusion), or None."""

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or UNetConfig()
        w = cfg.widths
        self.stem = conv_bn_relu(cfg.in_channels, w[0])
        self.down = nn.ModuleList()
        c = w[0]
        for width in w:
            self.down.append(nn.Sequential(conv_bn_relu(c, width, stride=2), conv_bn_relu(width, width)))
            c = width
        self.up = nn.ModuleList(conv_bn_relu(w[k + 1] + w[k], w[k]) for k in reversed(range(len(w) - 1)))

    @property
    def multiple(self) -> int:
        return 2 ** len(self.config.widths)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Features of every level, finest first; the last is the bottleneck."""
        feats = []
        h = self.stem(x)
        for level in self.down:
            h = level(h)
            feats.append(h)
        return feats

    def decode(self, feats: list[torch.Tensor]) -> torch.Tensor:
        h = feats[-1]
        for k, block in zip(reversed(range(len(feats) - 1)), self.up, strict=True):
            h = F.interpolate(h, size=feats[k].shape[-2:], mode="bilinear", align_corners=False)
            h = block(torch.cat([h, feats[k]], dim=1))
        return h


class GlobalBranch(nn.Module):
    """Bottleneck ``(N, C, h, w)`` -> image-level vector ``(N, dim)``: two stride-2 convolutions,
    global average pooling, a linear layer; ``extra`` ``(N, E)`` features are appended before it."""

    def __init__(self, channels: int, dim: int = 256, extra: int = 0) -> None:
        super().__init__()
        self.convs = nn.Sequential(conv_bn_relu(channels, channels, stride=2),
                                   conv_bn_relu(channels, channels, stride=2))
        self.fc = nn.Sequential(nn.Linear(channels + extra, dim), nn.ReLU(inplace=True))
        self.extra = extra

    def forward(self, bottleneck: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        v = self.convs(bottleneck).mean(dim=(2, 3))
        if self.extra:
            if extra is None:
                raise ValueError(f"this global branch expects {self.extra} extra features per image")
            v = torch.cat([v, extra.to(v.dtype)], dim=1)
        return self.fc(v)


class FusionLayer(nn.Module):
    """The survey's fusion: broadcast the global vector over the bottleneck, concatenate, 1x1 conv
    + ReLU. ``(N, C, h, w), (N, D) -> (N, C, h, w)``."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.mix = nn.Sequential(nn.Conv2d(channels + dim, channels, 1), nn.ReLU(inplace=True))

    def forward(self, bottleneck: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
        tiled = vector[:, :, None, None].expand(-1, -1, *bottleneck.shape[-2:])
        return self.mix(torch.cat([bottleneck, tiled.to(bottleneck.dtype)], dim=1))
