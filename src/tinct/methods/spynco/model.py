"""SpyncoGAN generator G: gray -> RGB encoder-decoder with output spatial pyramids.

The decoder keeps a constant (large) number of channels at every scale so that ONE mapping
from deep features to RGB (a shared 3x3 head) can be applied at H/4, H/2 and H (slides,
"Output Spatial Pyramids"). The generator is fully convolutional; H and W must be multiples
of 4 (:func:`pad_to_multiple` / :meth:`SpyncoGenerator.colorize_full` pad and crop).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tinct.nn.gan import ResnetBlock, conv_norm_act
from tinct.nn.norm_tiles import forward_tiled

LEVELS = 3  # outputs at H, H/2, H/4


@dataclass
class SpyncoModelConfig:
    """Generator sizes. ``decoder_width`` is the constant decoder channel count."""

    encoder_width: int = 32
    decoder_width: int = 64
    n_res_blocks: int = 2
    shared_head: bool = True  # one feature->RGB mapping for every pyramid level (slides)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class SpyncoGenerator(nn.Module):
    """Encoder (3 scales) -> constant-width decoder emitting RGB at H/4, H/2 and H.

    ``forward(gray)`` takes ``(B, 1, H, W)`` luma in [0, 1] (H, W multiples of 4) and returns the
    list ``[rgb_H, rgb_H/2, rgb_H/4]`` (finest first) of ``(B, 3, H/2**k, W/2**k)`` RGB in [0, 1].
    """

    def __init__(self, config: SpyncoModelConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or SpyncoModelConfig()
        w, d = cfg.encoder_width, cfg.decoder_width
        self.enc1 = conv_norm_act(1, w)                               # H
        self.enc2 = conv_norm_act(w, 2 * w, stride=2)                 # H/2
        self.enc3 = nn.Sequential(conv_norm_act(2 * w, 4 * w, stride=2),  # H/4
                                  *[ResnetBlock(4 * w) for _ in range(cfg.n_res_blocks)])
        # Decoder: constant width d; encoder features join through 1x1 projections (additive skips).
        self.proj3 = nn.Conv2d(4 * w, d, 1)
        self.proj2 = nn.Conv2d(2 * w, d, 1)
        self.proj1 = nn.Conv2d(w, d, 1)
        self.dec3 = conv_norm_act(d, d)
        self.dec2 = conv_norm_act(d, d)
        self.dec1 = conv_norm_act(d, d)
        n_heads = 1 if cfg.shared_head else LEVELS
        self.heads = nn.ModuleList(nn.Conv2d(d, 3, 3, padding=1, padding_mode="reflect")
                                   for _ in range(n_heads))

    @property
    def receptive_radius(self) -> int:
        """Input pixels each finest-level output pixel depends on, on each side (with norm statistics
        fixed): 1 + 1 + 2 (enc1, enc2, enc3's stride-2 conv) + 8 per ResNet block (two convs at H/4)
        + 4 (dec3) + 3 (nearest-upsampling offsets) + 2 + 1 + 1 (dec2, dec1, head)."""
        return 15 + 8 * self.config.n_res_blocks

    def _head(self, level: int, feat: torch.Tensor) -> torch.Tensor:
        head = self.heads[0 if len(self.heads) == 1 else level]
        return torch.sigmoid(head(feat))

    def forward(self, gray: torch.Tensor) -> list[torch.Tensor]:
        if gray.dim() != 4 or gray.shape[1] != 1:
            raise ValueError(f"expected (B, 1, H, W) gray, got {tuple(gray.shape)}")
        if gray.shape[-2] % 4 or gray.shape[-1] % 4:
            raise ValueError(f"H and W must be multiples of 4, got {tuple(gray.shape[-2:])}")
        x = gray * 2.0 - 1.0
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d3 = self.dec3(self.proj3(e3))
        d2 = self.dec2(F.interpolate(d3, scale_factor=2.0, mode="nearest") + self.proj2(e2))
        d1 = self.dec1(F.interpolate(d2, scale_factor=2.0, mode="nearest") + self.proj1(e1))
        return [self._head(0, d1), self._head(1, d2), self._head(2, d3)]


def pad_to_multiple(x: torch.Tensor, multiple: int = 4) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad ``(B, C, H, W)`` bottom/right to multiples of ``multiple``; returns (padded, (H, W))."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if h > ph and w > pw else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


class _Finest(nn.Module):
    """The finest-level output of a generator (spynco's list or CycleGAN's tensor): ``(B, 3, H, W)``."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.generator(x)
        return out[0] if isinstance(out, list) else out


WHOLE_PIXELS = 1 << 19
"""Images up to this many pixels (after padding to multiples of 4; ~0.5 MP) run in one whole-image
call; larger ones run in tiles with frozen norm statistics (:func:`tinct.nn.norm_tiles.forward_tiled`)
measured on this many pixels of sample tiles."""


@torch.no_grad()
def generate_full(generator: nn.Module, gray: torch.Tensor, *, whole_pixels: int = WHOLE_PIXELS,
                  tile: int = 512) -> torch.Tensor:
    """Finest-level output for any size: ``(1, 1, H, W)`` -> ``(1, 3, H, W)`` RGB in [0, 1].

    Used by ``spynco`` and ``cyclegan``. Up to ``whole_pixels`` the generator runs on the whole
    image. Above, memory stays bounded at any size: the generator's InstanceNorm statistics are
    measured on 64 x 64 sample tiles spread over the image (``whole_pixels`` in all, each with its
    real surroundings) and frozen, and the generator runs on ``tile`` x ``tile`` tiles with a halo of
    its receptive radius (:func:`tinct.nn.norm_tiles.forward_tiled`; exact for fixed statistics, so
    the only change from a whole-image call is the sampling of the statistics: measured in
    ``docs/results/gan_tiling.md``). The generator needs ``receptive_radius`` (both GANs have it).
    """
    padded, (h, w) = pad_to_multiple(gray, 4)
    net = _Finest(generator)
    if padded.shape[-2] * padded.shape[-1] <= whole_pixels:
        return net(padded)[..., :h, :w]
    del gray
    out = forward_tiled(net, padded, out_channels=3, halo=generator.receptive_radius, multiple=4, tile=tile,
                        stats_pixels=whole_pixels)
    return out[..., :h, :w]
