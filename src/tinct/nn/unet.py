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

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

Hook = Callable[[str, int, torch.Tensor], torch.Tensor]
"""``hook(stage, index, features) -> features`` of :meth:`UNet.encode` (stage ``"down"``) and
:meth:`UNet.decode` (``"up"``): conditioning layers between blocks (:mod:`tinct.nn.conditioning`)."""


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

    def encode(self, x: torch.Tensor, hook: Hook | None = None) -> list[torch.Tensor]:
        """Features of every level, finest first; the last is the bottleneck. ``hook("down", k, h)``,
        if given, replaces level ``k``'s output (before it is used as a skip or passed on)."""
        return self.encode_with_stem(x, hook)[1:]

    def encode_with_stem(self, x: torch.Tensor, hook: Hook | None = None) -> list[torch.Tensor]:
        """The full-resolution stem features ``(N, widths[0], H, W)``, then :meth:`encode`'s list
        (for heads that need full-resolution output)."""
        h = self.stem(x)
        feats = [h]
        for k, level in enumerate(self.down):
            h = level(h)
            h = hook("down", k, h) if hook is not None else h
            feats.append(h)
        return feats

    def decode(self, feats: list[torch.Tensor], hook: Hook | None = None) -> torch.Tensor:
        """Upsample, concatenate the skip, conv, per decoder block; ``hook("up", j, h)`` replaces
        block ``j``'s output (``j`` = 0 is the coarsest, widths[-2] channels)."""
        h = feats[-1]
        for j, (k, block) in enumerate(zip(reversed(range(len(feats) - 1)), self.up, strict=True)):
            h = F.interpolate(h, size=feats[k].shape[-2:], mode="bilinear", align_corners=False)
            h = block(torch.cat([h, feats[k]], dim=1))
            h = hook("up", j, h) if hook is not None else h
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


class ResBlockBN(nn.Module):
    """Two 3x3 conv + BatchNorm layers with an identity shortcut; keeps ``(N, C, H, W)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn_relu(channels, channels),
                                  nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


@dataclass(frozen=True)
class TranslatorConfig:
    """An image-to-image :class:`Translator`: ``in_channels`` -> ``out_channels`` at full resolution.

    ``res_blocks``: ResNet blocks at the bottleneck (the asymmetric CycleGAN's stronger generator);
    ``noise``: std of a Gaussian noise channel appended to the input while training (SC-GAN; zeros
    at inference, so outputs are deterministic)."""

    in_channels: int = 1
    out_channels: int = 3
    widths: tuple[int, ...] = (24, 48, 96, 160)
    res_blocks: int = 0
    noise: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class Translator(nn.Module):
    """:class:`UNet` + optional bottleneck ResNet blocks + a full-resolution head (the decoder's
    half-resolution features upsampled, concatenated with the stem's, conv, 1x1 conv, sigmoid).

    ``forward(x)``: ``(N, in_channels, H, W)`` in [0, 1], H and W multiples of :attr:`multiple`
    -> ``(N, out_channels, H, W)`` in [0, 1]."""

    def __init__(self, config: TranslatorConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or TranslatorConfig()
        extra = 1 if cfg.noise > 0 else 0
        self.trunk = UNet(UNetConfig(in_channels=cfg.in_channels + extra, widths=tuple(cfg.widths)))
        self.res = nn.Sequential(*[ResBlockBN(cfg.widths[-1]) for _ in range(cfg.res_blocks)])
        w0 = cfg.widths[0]
        self.head = nn.Sequential(conv_bn_relu(2 * w0, w0), nn.Conv2d(w0, cfg.out_channels, 1))

    @property
    def multiple(self) -> int:
        return self.trunk.multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 0.5) * 2.0
        if self.config.noise > 0:
            z = (torch.randn_like(x[:, :1]) * self.config.noise if self.training
                 else torch.zeros_like(x[:, :1]))
            x = torch.cat([x, z], dim=1)
        stem, *feats = self.trunk.encode_with_stem(x)
        feats[-1] = self.res(feats[-1])
        h = self.trunk.decode(feats)
        h = F.interpolate(h, size=stem.shape[-2:], mode="bilinear", align_corners=False)
        return torch.sigmoid(self.head(torch.cat([h, stem], dim=1)))
