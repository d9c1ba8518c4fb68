"""The tcvc networks: the survey's generator and conditional PatchGAN, scaled to the CPU.

Generator: :class:`tinct.nn.unet.Translator` (the project's U-Net with a full-resolution head) on
5 channels — the current luma ``(B, 1, H, W)``, the previous colour frame ``(B, 3, H, W)`` (zeros
where blank) and its mask ``(B, 1, H, W)`` (1 where a previous frame is given; all 0 = blank) —
to 2 channels read as YUV chroma (sigmoid mapped to ``U in +-0.436, V in +-0.615``). The colour
frame is the input luma with that chroma (:func:`compose_torch`; at inference
:func:`tinct.color.compose_luma_chroma` keeps the luma exactly). The mask channel is ours: the
paper's blank frame is an all-zero image, which a dark frame also is; the mask also marks pixels a
warp could not fill.

Discriminator: :class:`tinct.nn.gan.PatchDiscriminator` on 7 channels: input luma, previous frame,
and the output (or the true) colour frame (Thasarathan et al.: "the adversarial loss includes the
previous frame").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tinct.color_torch import yuv_to_rgb_torch
from tinct.errors import TinctError
from tinct.nn.gan import PatchDiscriminator
from tinct.nn.unet import Translator, TranslatorConfig, pad_to_multiple

IN_CHANNELS = 5
OUT_CHANNELS = 2
DISC_CHANNELS = 7
UV_MAX = (0.436, 0.615)


def default_model() -> TranslatorConfig:
    """The shipped generator's configuration (~0.85 M parameters)."""
    return TranslatorConfig(in_channels=IN_CHANNELS, out_channels=OUT_CHANNELS, widths=(24, 48, 96, 160))


def check_model(cfg: TranslatorConfig) -> None:
    """Raise :class:`TinctError` unless ``cfg`` has tcvc's input and output channels."""
    if (cfg.in_channels, cfg.out_channels) != (IN_CHANNELS, OUT_CHANNELS):
        raise TinctError(f"tcvc's generator maps {IN_CHANNELS} channels (luma, previous RGB, mask) to "
                         f"{OUT_CHANNELS} (chroma), got {cfg.in_channels} -> {cfg.out_channels}")


def build_generator(cfg: TranslatorConfig | None = None) -> Translator:
    cfg = cfg or default_model()
    check_model(cfg)
    return Translator(cfg)


def build_discriminator(width: int = 32, n_down: int = 3) -> PatchDiscriminator:
    return PatchDiscriminator(DISC_CHANNELS, width, n_down)


def predict_uv(net: Translator, gray: torch.Tensor, prev: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """YUV chroma ``(B, 2, H, W)`` of the current frame.

    Args:
        net: the generator.
        gray: ``(B, 1, H, W)`` luma in [0, 1] (any H, W: reflect-padded to the network's multiple).
        prev: ``(B, 3, H, W)`` previous colour frame in [0, 1], zeros where ``mask`` is 0.
        mask: ``(B, 1, H, W)``, 1 where the previous frame is given.
    """
    x, (h, w) = pad_to_multiple(torch.cat([gray, prev * mask, mask], dim=1), net.multiple)
    scale = torch.tensor(UV_MAX, dtype=torch.float32, device=gray.device).view(1, 2, 1, 1)
    return (net(x)[..., :h, :w].float() - 0.5) * 2.0 * scale


def compose_torch(gray: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """RGB ``(B, 3, H, W)`` in [0, 1] of luma ``(B, 1, H, W)`` and chroma ``(B, 2, H, W)`` (clamped:
    differentiable; the luma moves only where the colour leaves the gamut)."""
    return yuv_to_rgb_torch(torch.cat([gray, uv], dim=1)).clamp(0.0, 1.0)


def blank_like(gray: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The blank previous frame of ``gray`` ``(B, 1, H, W)``: (zeros ``(B, 3, H, W)``, zero mask)."""
    b, _, h, w = gray.shape
    return gray.new_zeros(b, 3, h, w), gray.new_zeros(b, 1, h, w)


def feature_maps(disc: PatchDiscriminator, x: torch.Tensor) -> list[torch.Tensor]:
    """The discriminator's activations after each LeakyReLU (for a feature-matching loss)."""
    feats, h = [], x * 2.0 - 1.0
    for layer in disc.net:
        h = layer(h)
        if isinstance(layer, torch.nn.LeakyReLU):
            feats.append(h)
    return feats


def feature_matching(disc: PatchDiscriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """pix2pixHD's feature-matching loss: mean L1 between the discriminator's features of the real
    and the generated input (real features detached)."""
    pairs = zip(feature_maps(disc, real), feature_maps(disc, fake), strict=True)
    return torch.stack([F.l1_loss(f.float(), r.detach().float()) for r, f in pairs]).mean()
