"""Training the CycleGAN baseline through :func:`tinct.train.fit` on the same unpaired data as spynco.

``tinct train cyclegan --data cifar10 --out /work/runs/cyclegan``. Each step: G and F are
updated together with ``adv(D_color(G(x))) + adv(D_gray(F(y))) + lambda (|F(G(x)) - x|_1 +
|G(F(y)) - y|_1)``, then both discriminators with LSGAN real/fake losses.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from tinct.methods.cyclegan.model import CycleGANModelConfig, make_generators
from tinct.methods.spynco.training import (
    UnpairedData,
    data_description,
    fit_unpaired,
    training_record,
)
from tinct.nn.ema import EMA
from tinct.nn.gan import PatchDiscriminator, count_parameters, lsgan_loss
from tinct.options import option
from tinct.precision import bf16_autocast
from tinct.train import RunConfig, optimizer_step, seed_everything
from tinct.weights import WeightCard, save_weights


@dataclass
class CycleGANTrainConfig(UnpairedData):
    """A CycleGAN run's settings (config.json, the card); --data: cifar10 (default) | photos (train +
    extra_train) | photos-train | DIR[,DIR]."""

    model: CycleGANModelConfig = field(default_factory=CycleGANModelConfig)
    lambda_cycle: float = option(10.0, "weight of the two cycle losses")
    disc_width: int = option(32, "channels of the first discriminator layer")
    disc_n_down: int = option(2, "stride-2 layers of the discriminators")
    lr: float = option(2e-4, "Adam learning rate")
    bf16: bool = option(False, "bf16 autocast where the CPU has it natively for the convolutions")


class CycleGANTrainer:
    """G, F, D_color, D_gray and two Adam optimizers (generators together, discriminators together)."""

    def __init__(self, config: CycleGANTrainConfig | None = None) -> None:
        self.config = cfg = config or CycleGANTrainConfig()
        self.g, self.f = make_generators(cfg.model)
        self.d_color = PatchDiscriminator(3, cfg.disc_width, cfg.disc_n_down)
        self.d_gray = PatchDiscriminator(1, cfg.disc_width, cfg.disc_n_down)
        betas = (0.5, 0.999)
        self.opt_g = torch.optim.Adam(itertools.chain(self.g.parameters(), self.f.parameters()), lr=cfg.lr,
                                      betas=betas)
        self.opt_d = torch.optim.Adam(itertools.chain(self.d_color.parameters(), self.d_gray.parameters()),
                                      lr=cfg.lr, betas=betas)
        self.modules = {"g": self.g, "f": self.f, "d_color": self.d_color, "d_gray": self.d_gray}
        # moving averages of both generators (the exported pair; tinct.nn.ema)
        self.emas = {"g": EMA(self.g, cfg.ema), "f": EMA(self.f, cfg.ema)} if cfg.ema > 0 else {}
        self.modules.update({f"{k}_ema": e for k, e in self.emas.items()})
        self.optimizers = {"g": self.opt_g, "d": self.opt_d}

    def exported(self, name: str) -> torch.nn.Module:
        """Generator ``"g"`` or ``"f"`` as exported: its moving average when the run keeps one."""
        return self.emas[name].average if name in self.emas else getattr(self, name)

    def generator_losses(self, gray: torch.Tensor,
                         color: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """Loss terms of the generator step, plus the fakes (fake colour, fake gray)."""
        with bf16_autocast(self.config.bf16):
            fake_color = self.g(gray)
            fake_gray = self.f(color)
            rec_gray = self.f(fake_color)
            rec_color = self.g(fake_gray)
            s_color = self.d_color(fake_color)
            s_gray = self.d_gray(fake_gray)
        terms = {"adv_color": lsgan_loss(s_color, True), "adv_gray": lsgan_loss(s_gray, True),
                 "cycle_gray": F.l1_loss(rec_gray.float(), gray),
                 "cycle_color": F.l1_loss(rec_color.float(), color)}
        return terms, fake_color.float(), fake_gray.float()

    def training_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One generator update, one discriminator update; float losses."""
        cfg = self.config
        gray, color = batch["gray"], batch["color"]
        for m in (self.g, self.f, self.d_color, self.d_gray):
            m.train()
        for d in (self.d_color, self.d_gray):
            d.requires_grad_(False)
        terms, fake_color, fake_gray = self.generator_losses(gray, color)
        g_loss = terms["adv_color"] + terms["adv_gray"] + cfg.lambda_cycle * (terms["cycle_gray"]
                                                                               + terms["cycle_color"])
        optimizer_step(self.opt_g, g_loss)
        for name, ema in self.emas.items():
            ema.update(getattr(self, name))
        for d in (self.d_color, self.d_gray):
            d.requires_grad_(True)
        with bf16_autocast(cfg.bf16):
            d_color = (lsgan_loss(self.d_color(color), True)
                       + lsgan_loss(self.d_color(fake_color.detach()), False))
            d_gray = lsgan_loss(self.d_gray(gray), True) + lsgan_loss(self.d_gray(fake_gray.detach()), False)
            d_loss = 0.5 * (d_color + d_gray)
        optimizer_step(self.opt_d, d_loss)
        return {"g_total": g_loss.item(), "d": d_loss.item(), **{k: v.item() for k, v in terms.items()}}


def run(config: CycleGANTrainConfig, run: RunConfig) -> int:
    """``tinct train cyclegan``: train; export G (and F) if ``unpaired.export`` is set."""
    seed_everything(run.seed)
    trainer = CycleGANTrainer(config)

    def write(path: Path, images: Any, steps: int | None) -> Path:
        data = data_description(config, run.data or "cifar10", run.seed)
        return export_generators(path, trainer, data=data, split=images.split_description(),
                                 extra=training_record(run, steps), inference=images.inference(config.crop))

    images, history = fit_unpaired("cyclegan", trainer, run, config, write)
    if config.export:
        write(Path(config.export), images, history[-1]["step"] if history else None)
    return 0


def export_generators(path: str | Path, trainer: CycleGANTrainer, *, data: dict[str, Any],
                      split: dict[str, Any], extra: dict[str, Any] | None = None,
                      inference: dict[str, Any] | None = None) -> Path:
    """Save G (``G.*``) and F (``F.*``), their moving averages when the run keeps them, with a card
    (``inference``: the working size); returns the ``.safetensors`` path."""
    tensors = {**{f"G.{k}": v for k, v in trainer.exported("g").state_dict().items()},
               **{f"F.{k}": v for k, v in trainer.exported("f").state_dict().items()}}
    params = {"G": count_parameters(trainer.g), "F": count_parameters(trainer.f),
              "D_color": count_parameters(trainer.d_color), "D_gray": count_parameters(trainer.d_gray)}
    card = WeightCard(method="cyclegan", config={"model": trainer.config.model.to_dict(),
                                                 "train": asdict(trainer.config)},
                      data=data, split=split, extra={"training": extra or {}, "parameters": params,
                                                     **({"inference": inference} if inference else {})})
    return save_weights(path, tensors, card)
