"""``tinct train nir-snet``: ColorNet + EdgeNet end to end, loss = L2(ColorNet) + L2(EdgeNet) (the
survey: "the sum of the losses from the two networks")."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from tinct.methods.nir_unet.training import (
    DEFAULT_STEPS,
    NirTrainConfig,
    PairedTrainer,
    train_and_export,
)
from tinct.precision import bf16_autocast
from tinct.train import RunConfig

from .model import SNet, SNetConfig, SNetOutput


@dataclass
class SNetTrainConfig(NirTrainConfig):
    """A nir-snet run."""

    model: SNetConfig = field(default_factory=SNetConfig)


class SNetTrainer(PairedTrainer):
    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with bf16_autocast(self.cfg.bf16):
            color, edge = self.net(batch["nir"])
        l_color = F.mse_loss(color.float(), batch["rgb"])
        l_edge = F.mse_loss(edge.float(), batch["rgb"])
        return {"total": l_color + l_edge, "colornet": l_color, "edgenet": l_edge}


def run(cfg: SNetTrainConfig, run: RunConfig) -> int:
    """``tinct train nir-snet``."""
    net = SNet(cfg.model)
    trainer = SNetTrainer(cfg, net, run.steps or DEFAULT_STEPS)
    train_and_export("nir-snet", trainer, cfg, run, generator=SNetOutput(net),
                     model_config=cfg.model.to_dict())
    return 0
