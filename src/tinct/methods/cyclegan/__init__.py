"""CycleGAN colorization baseline (Zhu et al. 2017): two generators G (gray->RGB), F (RGB->gray),
two discriminators and cycle losses, trained on the same unpaired data as spynco.

Luma: by default (``keep_luma=True``) the result keeps the input luma exactly (composed by
:func:`~tinct.color.compose_luma_chroma`); ``keep_luma=False`` returns G's raw RGB.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tinct.errors import TinctError
from tinct.methods.spynco import GANOptions, SpyncoColorizer
from tinct.registry import register
from tinct.weights import WeightCard, load_weights, resolve

from .model import CycleGANModelConfig, make_generators


def load_generator(weights: str | Path | None = None) -> tuple[torch.nn.Module, WeightCard]:
    """G (gray->RGB) from ``weights`` (a variant name or a path; default: the bundled one)."""
    path = resolve("cyclegan", weights)
    tensors, card = load_weights(path)
    tensors = {k: v.float() for k, v in tensors.items()}
    try:
        g, _ = make_generators(card.section("model", CycleGANModelConfig, path=path))
        g.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise TinctError(f"weights {path} do not fit the cyclegan generator: {first}") from None
    return g.eval(), card


@register(summary="CycleGAN baseline (two generators, two discriminators), trained on unpaired data",
          paper="Zhu et al., Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial "
                "Networks, ICCV 2017",
          options=GANOptions,
          weights={"default": "CIFAR-10, 32x32, the same budget as spynco's",
                   "photos": "96x96 crops of photos/train + extra_train, 130 min (5,260 steps), EMA"},
          train_config="tinct.methods.cyclegan.training:CycleGANTrainConfig",
          trainer="tinct.methods.cyclegan.training:run")
class CycleGANColorizer(SpyncoColorizer):
    """G of a CycleGAN; any H, W (reflect-padded to multiples of 4)."""

    name = "cyclegan"
    load_generator = staticmethod(load_generator)
