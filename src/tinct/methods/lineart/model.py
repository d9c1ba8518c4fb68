"""The ``lineart`` network: :class:`tinct.nn.unet.Translator` on a drawing plus hint channels.

Input channels (:func:`network_input`), all in [0, 1] at full resolution:

- the drawing (0 = ink, 1 = paper);
- the hinted RGB (0 where there is no hint) and the hint mask, as Zhang et al.'s interactive
  networks take their user points;
- the hints spread by normalized convolution (:func:`spread_hints`: the Gaussian-weighted mean
  colour of the nearby hints) and its confidence (``1 - exp(-n)``, ``n`` the Gaussian-weighted
  count of hints around). Sparse points are hard for a small CNN to average over a region in a
  short training; this spreads them once so the network can spend itself on stopping colours at
  the lines and filling where no hint is near. All zeros without hints.

Output: RGB ``(N, 3, H, W)`` in [0, 1] (a sigmoid). The Translator's default widths (24, 48, 96,
160) give 0.85 M parameters, 1.7 MB in float16.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.nn.functional as F

from tinct.nn.unet import Translator, TranslatorConfig

IN_CHANNELS = 9
"""drawing (1) + hint RGB (3) + hint mask (1) + spread hint RGB (3) + spread confidence (1)."""
SPREAD_SIGMA = 8.0
"""Gaussian sigma (px) of :func:`spread_hints`; its reach (3 sigma) is well inside the strip halo."""


def default_config() -> TranslatorConfig:
    """The shipped configuration: 9 input channels, RGB out, widths (24, 48, 96, 160)."""
    return replace(TranslatorConfig(), in_channels=IN_CHANNELS, out_channels=3)


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian of ``(N, C, H, W)`` with zero padding (so normalized convolution is exact at
    borders)."""
    radius = int(math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), padding=(0, radius), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), padding=(radius, 0), groups=c)


def spread_hints(hint_rgb: torch.Tensor, hint_mask: torch.Tensor, sigma: float = SPREAD_SIGMA
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalized convolution of the hints: ``(N, 3, H, W)`` colours and ``(N, 1, H, W)`` mask ->
    (spread RGB ``(N, 3, H, W)`` in [0, 1], 0 where no hint reaches; confidence ``(N, 1, H, W)`` in
    [0, 1))."""
    blurred = _gaussian_blur(torch.cat([hint_rgb * hint_mask, hint_mask], dim=1), sigma)
    num, den = blurred[:, :3], blurred[:, 3:]
    spread = torch.where(den > 1e-6, num / den.clamp_min(1e-6), torch.zeros_like(num))
    count = den * (2 * math.pi * sigma ** 2)  # Gaussian-weighted number of hints around
    return spread.clamp(0.0, 1.0), 1.0 - torch.exp(-count)


def network_input(drawing: torch.Tensor, hint_rgb: torch.Tensor, hint_mask: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)`` drawing, ``(N, 3, H, W)`` hint colours, ``(N, 1, H, W)`` mask in {0, 1}
    -> ``(N, 9, H, W)`` network input (see the module doc)."""
    hint_rgb = hint_rgb * hint_mask
    if bool(hint_mask.any()):
        spread, confidence = spread_hints(hint_rgb, hint_mask)
    else:  # what spread_hints gives without hints, without its two full-size convolutions
        spread, confidence = torch.zeros_like(hint_rgb), torch.zeros_like(hint_mask)
    return torch.cat([drawing, hint_rgb, hint_mask, spread, confidence], dim=1)


def build(config: TranslatorConfig | None = None) -> Translator:
    """The network of ``config`` (default :func:`default_config`); it must take 9 channels."""
    config = config or default_config()
    if config.in_channels != IN_CHANNELS:
        raise ValueError(f"the lineart network takes {IN_CHANNELS} input channels, not {config.in_channels}")
    return Translator(config)
