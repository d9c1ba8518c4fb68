"""SpyncoGAN: pseudo-cyclic unsupervised colorization (Ratajczak et al., seed 003).

A gray->RGB generator G with output spatial pyramids, trained from UNPAIRED gray and colour
images: instead of CycleGAN's second generator F, the known handcrafted translation H_t (BT.601
weighted sum of R, G, B) closes the cycle, ``||H_t(G(x)) - x||``, while per-level discriminators
judge realism against real colour images.

Luma: the paper's G outputs RGB whose luma only approximates the input. By default
(``keep_luma=True``) the result keeps the input luma exactly (Y of YCbCr replaced by the input);
``keep_luma=False`` returns G's raw RGB output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tinct.color import rgb_to_ycbcr, ycbcr_to_rgb
from tinct.errors import TinctError
from tinct.registry import Colorizer, Hints, register
from tinct.weights import bundled_path, load_weights

from .model import SpyncoGenerator, SpyncoModelConfig, generate_full


def resolve_weights(method: str, weights: str | Path | None) -> Path:
    """Weights file: ``None`` -> bundled ``default``; a bare name (``"photos"``) -> that bundled file;
    anything else is a path."""
    if weights is None:
        return bundled_path(method)
    text = str(weights)
    if "/" not in text and "\\" not in text and not text.endswith(".safetensors"):
        return bundled_path(method, text)
    return Path(weights)


def load_generator(weights: str | Path | None = None) -> tuple[SpyncoGenerator, dict]:
    """Build G from ``weights`` (default: the bundled CIFAR-10 model); returns (generator, card).

    Tensors stored in float16 (the bundled files) are widened to float32.
    """
    path = resolve_weights("spynco", weights)
    tensors, card = load_weights(path)
    tensors = {k: v.float() for k, v in tensors.items()}
    model_cfg = card.get("config", {}).get("model", {})
    try:
        generator = SpyncoGenerator(SpyncoModelConfig(**model_cfg))
        generator.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
    except (TypeError, RuntimeError) as exc:
        first = str(exc).splitlines()[0]
        raise TinctError(f"weights {path} do not fit the spynco generator: {first}") from None
    return generator.eval(), card


def replace_luma(rgb: np.ndarray, gray: np.ndarray) -> np.ndarray:
    """Keep the chroma (Cb, Cr) of ``rgb`` (H, W, 3), set its luma to ``gray`` (H, W); clip to [0, 1]."""
    ycc = rgb_to_ycbcr(rgb.astype(np.float32))
    ycc[..., 0] = gray
    return np.clip(ycbcr_to_rgb(ycc), 0.0, 1.0).astype(np.float32)


@register(summary="unsupervised GAN (pseudo-cyclic, output spatial pyramids), trained on unpaired data",
          paper="Ratajczak et al., Pseudo-Cyclic Network for Unsupervised Colorization (seed 003)",
          bundled_weights=True, trainable=True)
class SpyncoColorizer(Colorizer):
    """G's full-size output; any H, W (reflect-padded to multiples of 4).

    Args:
        weights: a ``.safetensors`` file from ``tinct train spynco --export``, or the name of a bundled
            file: ``"default"`` (CIFAR-10, 32x32) or ``"photos"`` (64x64 crops of photos/train).
        keep_luma: replace the output's luma by the input (default True; see module docstring).
    """

    name = "spynco"
    load_generator = staticmethod(load_generator)  # subclasses (cyclegan) swap in their own loader

    def __init__(self, weights: str | None = None, keep_luma: bool = True) -> None:
        self.generator, self.card = self.load_generator(weights)
        self.keep_luma = keep_luma

    def _colorize(self, gray: np.ndarray, *, reference: np.ndarray | None, hints: Hints | None) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(gray))[None, None]
        rgb = generate_full(self.generator, x)[0].permute(1, 2, 0).numpy()
        return replace_luma(rgb, gray) if self.keep_luma else rgb
