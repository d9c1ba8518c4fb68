"""CycleGAN colorization baseline (Zhu et al. 2017): two generators G (gray->RGB), F (RGB->gray),
two discriminators and cycle losses, trained on the same unpaired data as spynco.

Luma: by default (``keep_luma=True``) the result keeps the input luma exactly (Y of YCbCr
replaced); ``keep_luma=False`` returns G's raw RGB.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tinct.errors import TinctError
from tinct.methods.spynco import SpyncoColorizer, resolve_weights
from tinct.registry import register
from tinct.weights import load_weights

from .model import CycleGANModelConfig, make_generators


def load_generator(weights: str | Path | None = None) -> tuple[torch.nn.Module, dict]:
    """G (gray->RGB) from ``weights`` (default: the bundled one); returns (generator, card)."""
    path = resolve_weights("cyclegan", weights)
    tensors, card = load_weights(path)
    tensors = {k: v.float() for k, v in tensors.items()}
    try:
        g, _ = make_generators(CycleGANModelConfig(**card.get("config", {}).get("model", {})))
        g.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
    except (TypeError, RuntimeError) as exc:
        first = str(exc).splitlines()[0]
        raise TinctError(f"weights {path} do not fit the cyclegan generator: {first}") from None
    return g.eval(), card


@register(summary="CycleGAN baseline (two generators, two discriminators), trained on unpaired data",
          paper="Zhu et al., Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial "
                "Networks, ICCV 2017", bundled_weights=True, trainable=True)
class CycleGANColorizer(SpyncoColorizer):
    """G of a CycleGAN; any H, W (reflect-padded to multiples of 4).

    Args:
        weights: a ``.safetensors`` file from ``tinct train cyclegan --export``; default the bundled one.
        keep_luma: replace the output's luma by the input (default True).
    """

    name = "cyclegan"
    load_generator = staticmethod(load_generator)
