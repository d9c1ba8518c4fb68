"""SpyncoGAN: pseudo-cyclic unsupervised colorization (Ratajczak et al., seed 003).

A gray->RGB generator G with output spatial pyramids, trained from UNPAIRED gray and colour
images: instead of CycleGAN's second generator F, the known handcrafted translation H_t (BT.601
weighted sum of R, G, B) closes the cycle, ``||H_t(G(x)) - x||``, while per-level discriminators
judge realism against real colour images.

Luma: the paper's G outputs RGB whose luma only approximates the input. By default
(``keep_luma=True``) the result keeps the input luma exactly (G's chroma composed with the input by
:func:`~tinct.color.compose_luma_chroma`); ``keep_luma=False`` returns G's raw RGB output.

Scale: weights trained on crops of photos at their native size learned scenes at the size of those
photos, and the card says so (``inference.short_side``: the training photos' median short side,
written by ``tinct train``). G then runs on the input reduced to that short side and its chroma (or
RGB) is brought back to full size by :func:`tinct.filters.upsample_guided` steered by the input;
``-O short_side=0`` runs G at full resolution (the CIFAR-10 weights' default, which have no
working size).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tinct.color import compose_luma_chroma, rgb_to_uv
from tinct.errors import TinctError
from tinct.filters import reduce_short_side, upsample_guided
from tinct.nn.tiling import strips
from tinct.options import OptionError, check_short_side, option
from tinct.registry import Colorizer, Inputs, register
from tinct.weights import WeightCard, load_weights, resolve

from .model import SpyncoGenerator, SpyncoModelConfig, generate_full


def load_generator(weights: str | Path | None = None) -> tuple[SpyncoGenerator, WeightCard]:
    """Build G from ``weights`` (a bundled variant name or a path; default: the bundled CIFAR-10 model);
    returns (generator, card). Tensors stored in float16 (the bundled files) are widened to float32."""
    path = resolve("spynco", weights)
    tensors, card = load_weights(path)
    tensors = {k: v.float() for k, v in tensors.items()}
    try:
        generator = SpyncoGenerator(card.section("model", SpyncoModelConfig, path=path))
        generator.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise TinctError(f"weights {path} do not fit the spynco generator: {first}") from None
    return generator.eval(), card


@dataclass(frozen=True)
class GANOptions:
    """Options of the unpaired GAN colorizers (spynco, cyclegan)."""

    weights: str = option("default", "bundled variant or a .safetensors path from `tinct train`")
    keep_luma: bool = option(True, "keep the input's luma exactly (false: the generator's raw RGB)")
    saturation: float = option(1.0, "chroma scale, with keep_luma (kept within the RGB gamut; 0 = gray)")
    short_side: int | None = option(None, "short side (pixels) at which G runs; its colour is brought to "
                                    "full size by a guided filter steered by the input. Default: the "
                                    "card's (the training photos' scale), else 0 = full resolution")

    def __post_init__(self) -> None:
        if not 0.0 <= self.saturation <= 4.0:
            raise OptionError(f"saturation must be in [0, 4], got {self.saturation}")
        check_short_side(self.short_side)


def card_short_side(card: WeightCard) -> int:
    """The working short side a card names (``inference.short_side``), else 0 (full resolution)."""
    return int((card.extra.get("inference") or {}).get("short_side", 0))


@register(summary="unsupervised GAN (pseudo-cyclic, output spatial pyramids), trained on unpaired data",
          paper="Ratajczak et al., Pseudo-Cyclic Network for Unsupervised Colorization (seed 003)",
          options=GANOptions,
          weights={"default": "CIFAR-10, 32x32 (the paper's setting), L^{1,2,3}, 10 min (3,140 steps), EMA",
                   "photos": "96x96 crops of photos/train + extra_train, 80 min (6,420 steps), EMA"},
          train_config="tinct.methods.spynco.training:SpyncoTrainConfig",
          trainer="tinct.methods.spynco.training:run")
class SpyncoColorizer(Colorizer):
    """G's full-size output; any H, W (reflect-padded to multiples of 4); bounded memory at any size
    (tiles with frozen norm statistics above 0.5 MP, :func:`~.model.generate_full`)."""

    name = "spynco"
    load_generator = staticmethod(load_generator)  # subclasses (cyclegan) swap in their own loader

    def __init__(self, options: GANOptions | None = None, /, **values: object) -> None:
        super().__init__(options, **values)
        self.generator, self.card = self.load_generator(self.options.weights)
        self.keeps_luma = self.options.keep_luma  # type: ignore[misc]  # per instance: an option here
        given = self.options.short_side
        self.short_side = card_short_side(self.card) if given is None else given

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        small = reduce_short_side(image, self.short_side)
        x = torch.from_numpy(np.ascontiguousarray(small))[None, None]
        rgb = generate_full(self.generator, x)[0].permute(1, 2, 0).numpy()
        if not self.options.keep_luma:
            return rgb if small is image else np.clip(upsample_guided(rgb, image), 0.0, 1.0)
        uv = np.empty((*small.shape, 2), np.float32)  # in row strips: no full-size float64 temporaries
        for s in strips(small.shape[0], 512):
            uv[s.rows] = rgb_to_uv(rgb[s.rows]) * self.options.saturation
        del rgb
        return compose_luma_chroma(image, uv if small is image else upsample_guided(uv, image))
