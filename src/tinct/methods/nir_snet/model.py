"""Dong, Kamata & Breckon's S-shape network (survey seed 002): ColorNet, an encoder-decoder from the
NIR band to RGB, followed by EdgeNet, a small encoder-decoder that sharpens ColorNet's output and
relearns its colours; both trained end to end with L2 on their outputs.

As the survey describes them (widths scaled to the CPU):

- ColorNet encoder: 5 blocks of 3x3 conv + BatchNorm + ReLU, a 2x2 max-pooling after each (the
  paper's 512 x 7 x 7 at 224 px; here ``widths[-1]`` x H/32 x W/32). Decoder: 4 blocks of x2
  upsampling + 3x3 conv + BatchNorm + ReLU, then (deviation: a 5th x2 upsampling so that the
  output has the input's size; the survey's 5 poolings and 4 decoder blocks leave H/2) a 1x1
  conv + tanh to RGB. ``skips`` adds U-Net skip connections (the survey does not mention any;
  off by default).
- EdgeNet: 2 stride-2 convolutions (+ BN + ReLU) and 2 stride-2 transposed convolutions; input
  ColorNet's RGB, output RGB.

``forward(nir)``: ``(N, 1, H, W)`` in [0, 1], H and W multiples of 32 -> ``(colornet, edgenet)``
RGB ``(N, 3, H, W)`` in [0, 1] (tanh mapped to [0, 1]); EdgeNet's is the method's output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tinct.nn.unet import conv_bn_relu


@dataclass(frozen=True)
class SNetConfig:
    """Widths of ColorNet's 5 encoder blocks (its decoder mirrors the first 4) and EdgeNet's two levels."""

    widths: tuple[int, ...] = (24, 48, 96, 128, 128)
    edge_widths: tuple[int, int] = (32, 64)
    skips: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


class ColorNet(nn.Module):
    """NIR ``(N, 1, H, W)`` -> RGB ``(N, 3, H, W)`` in [0, 1]."""

    def __init__(self, widths: tuple[int, ...], skips: bool = False) -> None:
        super().__init__()
        if len(widths) != 5:
            raise ValueError(f"ColorNet has 5 encoder blocks, got widths {widths}")
        self.skips = skips
        ins = (1, *widths[:-1])
        self.enc = nn.ModuleList(conv_bn_relu(i, o) for i, o in zip(ins, widths, strict=True))
        dec_out = widths[3::-1]  # 4 decoder blocks: widths[3], [2], [1], [0]
        dec_in = [widths[4], *dec_out[:-1]]
        extra = widths[4:0:-1] if skips else (0, 0, 0, 0)  # encoder blocks 5..2 (H/16..H/2)
        self.dec = nn.ModuleList(conv_bn_relu(i + e, o)
                                 for i, e, o in zip(dec_in, extra, dec_out, strict=True))
        self.out = nn.Conv2d(widths[0], 3, 1)

    def forward(self, nir: torch.Tensor) -> torch.Tensor:
        h = (nir - 0.5) * 2.0
        feats = []
        for block in self.enc:
            h = block(h)
            feats.append(h)
            h = F.max_pool2d(h, 2)
        for k, block in enumerate(self.dec):
            h = F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=False)
            if self.skips:
                h = torch.cat([h, feats[4 - k]], dim=1)
            h = block(h)
        h = F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=False)
        return (torch.tanh(self.out(h)) + 1.0) * 0.5


class EdgeNet(nn.Module):
    """RGB ``(N, 3, H, W)`` -> RGB ``(N, 3, H, W)`` in [0, 1]: 2 stride-2 convs, 2 transposed convs."""

    def __init__(self, widths: tuple[int, int]) -> None:
        super().__init__()
        a, b = widths
        self.net = nn.Sequential(
            conv_bn_relu(3, a, stride=2), conv_bn_relu(a, b, stride=2),
            nn.ConvTranspose2d(b, a, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(a), nn.ReLU(True),
            nn.ConvTranspose2d(a, 3, 4, stride=2, padding=1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(self.net((rgb - 0.5) * 2.0)) + 1.0) * 0.5


class SNet(nn.Module):
    """ColorNet then EdgeNet; ``forward`` returns both outputs, :meth:`predict` EdgeNet's."""

    multiple = 32

    def __init__(self, config: SNetConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or SNetConfig()
        self.colornet = ColorNet(tuple(cfg.widths), cfg.skips)
        self.edgenet = EdgeNet(tuple(cfg.edge_widths))  # type: ignore[arg-type]

    def forward(self, nir: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        color = self.colornet(nir)
        return color, self.edgenet(color)

    def predict(self, nir: torch.Tensor) -> torch.Tensor:
        return self.forward(nir)[1]


class SNetOutput(nn.Module):
    """``SNet`` whose forward is its output alone (what the colorizer and the scoring call)."""

    def __init__(self, snet: SNet) -> None:
        super().__init__()
        self.snet = snet
        self.multiple = snet.multiple

    def forward(self, nir: torch.Tensor) -> torch.Tensor:
        return self.snet.predict(nir)
