"""Training the CycleGAN baseline through :func:`tinct.train.fit` on the same unpaired data as spynco.

``tinct train cyclegan --source cifar10 --out /work/runs/cyclegan``. Each step: G and F are
updated together with ``adv(D_color(G(x))) + adv(D_gray(F(y))) + lambda (|F(G(x)) - x|_1 +
|G(F(y)) - y|_1)``, then both discriminators with LSGAN real/fake losses.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from tinct.data.unpaired import UnpairedBatches, load_unpaired
from tinct.methods.cyclegan.model import CycleGANModelConfig, make_generators
from tinct.methods.spynco.training import add_data_arguments, autocast_context, data_description, fit_config
from tinct.nn.gan import PatchDiscriminator, count_parameters, lsgan_loss
from tinct.train import fit, seed_everything
from tinct.weights import save_weights


@dataclass
class CycleGANTrainConfig:
    """A CycleGAN run's settings besides the data."""

    model: CycleGANModelConfig = field(default_factory=CycleGANModelConfig)
    lambda_cycle: float = 10.0
    disc_width: int = 32
    disc_n_down: int = 2
    lr: float = 2e-4
    bf16: bool = False


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

    def generator_losses(self, gray: torch.Tensor,
                         color: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """Loss terms of the generator step, plus the fakes (fake colour, fake gray)."""
        with autocast_context(self.config.bf16):
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
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        for d in (self.d_color, self.d_gray):
            d.requires_grad_(True)
        with autocast_context(cfg.bf16):
            d_color = (lsgan_loss(self.d_color(color), True)
                       + lsgan_loss(self.d_color(fake_color.detach()), False))
            d_gray = lsgan_loss(self.d_gray(gray), True) + lsgan_loss(self.d_gray(fake_gray.detach()), False)
            d_loss = 0.5 * (d_color + d_gray)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        return {"g_total": g_loss.item(), "d": d_loss.item(), **{k: v.item() for k, v in terms.items()}}

    def state_dict(self) -> dict[str, Any]:
        return {"g": self.g.state_dict(), "f": self.f.state_dict(), "d_color": self.d_color.state_dict(),
                "d_gray": self.d_gray.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("g", "f", "d_color", "d_gray", "opt_g", "opt_d"):
            getattr(self, name).load_state_dict(state[name])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``tinct train cyclegan``."""
    add_data_arguments(parser, out_default="runs/cyclegan")
    parser.add_argument("--lambda-cycle", type=float, default=10.0)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--res-blocks", type=int, default=2)
    parser.add_argument("--disc-width", type=int, default=32)
    parser.add_argument("--disc-down", type=int, default=2)


def main(args: argparse.Namespace) -> int:
    """Train; export G (and F) if ``--export`` is given. Returns 0."""
    torch.set_num_threads(args.threads)
    cfg = CycleGANTrainConfig(model=CycleGANModelConfig(width=args.width, n_res_blocks=args.res_blocks),
                              lambda_cycle=args.lambda_cycle, disc_width=args.disc_width,
                              disc_n_down=args.disc_down, lr=args.lr, bf16=args.bf16)
    images = load_unpaired(args.source, args.data_root, seed=args.seed, crop=args.crop, limit=args.limit)
    seed_everything(args.seed)
    trainer = CycleGANTrainer(cfg)
    batches = UnpairedBatches(images, crop=args.crop, batch_size=args.batch_size, seed=args.seed)
    history = fit(trainer, batches, fit_config(args), desc="cyclegan",
                  resolved_config={"method": "cyclegan", "train": asdict(cfg), "data": data_description(args),
                                   "split": images.split_description()})
    if args.export:
        export_generators(args.export, trainer, data=data_description(args), split=images.split_description(),
                          extra={"steps": history[-1]["step"] if history else None,
                                 "time_budget_s": args.time_budget, "threads": args.threads})
    return 0


def export_generators(path: str | Path, trainer: CycleGANTrainer, *, data: dict[str, Any],
                      split: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """Save G (``G.*``) and F (``F.*``) with a card; returns the ``.safetensors`` path."""
    tensors = {**{f"G.{k}": v for k, v in trainer.g.state_dict().items()},
               **{f"F.{k}": v for k, v in trainer.f.state_dict().items()}}
    card = {"method": "cyclegan", "config": {"model": trainer.config.model.to_dict(),
                                             "train": asdict(trainer.config)},
            "data": data, "split": split, "metrics": {}, "training": extra or {},
            "parameters": {"G": count_parameters(trainer.g), "F": count_parameters(trainer.f),
                           "D_color": count_parameters(trainer.d_color),
                           "D_gray": count_parameters(trainer.d_gray)}}
    return save_weights(path, tensors, card)
