"""``nir-snet``: Dong et al.'s S-shape network (ColorNet + EdgeNet, both L2, trained end to end;
survey seed 002) for near-infrared to RGB. See :mod:`tinct.methods.nir_snet.model` and
``docs/methods/nir.md``."""

from __future__ import annotations

from torch import nn

from tinct.methods.nir_unet import NirColorizer, NirOptions
from tinct.registry import register
from tinct.weights import WeightCard

from .model import SNet, SNetConfig, SNetOutput


@register(summary="near-infrared -> RGB: the S-shape network (ColorNet encoder-decoder + EdgeNet, L2, "
                  "end to end)",
          paper="survey seed 002: Dong, Kamata & Breckon, Infrared image colorization using a S-shape "
                "network",
          options=NirOptions,
          weights={"default": "EPFL RGB-NIR train split (136 pairs)"},
          train_config="tinct.methods.nir_snet.training:SNetTrainConfig",
          trainer="tinct.methods.nir_snet.training:run")
class NirSNetColorizer(NirColorizer):
    """NIR band -> RGB by ColorNet + EdgeNet (EdgeNet's output)."""

    name = "nir-snet"

    def build_network(self, card_config: dict, path: str) -> nn.Module:
        cfg = WeightCard(method="", config=card_config).section("model", SNetConfig, path=path)
        return SNetOutput(SNet(cfg))
