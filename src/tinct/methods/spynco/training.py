"""Training SpyncoGAN (seed 003) through the one loop :func:`tinct.train.fit`.

``tinct train spynco --data-root ../shared/data --source cifar10 --out /work/runs/spynco``.
Each step: G colorizes an unpaired gray batch; the generator loss is
``lambda_c * consistency + adversarial (+ lambda_k * contours)`` on the pyramid levels chosen by
``--loss-levels`` (``all`` = L^{1,2,3}, ``last`` = L^1); then the per-level discriminators learn
real colour images (average-pooled to each level) against the detached fakes.
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from tinct.data.unpaired import UnpairedBatches, load_unpaired
from tinct.methods.spynco import losses as L
from tinct.methods.spynco.model import LEVELS, SpyncoGenerator, SpyncoModelConfig
from tinct.nn.gan import PyramidDiscriminator, count_parameters, image_pyramid
from tinct.train import FitConfig, fit, seed_everything
from tinct.weights import save_weights


@dataclass
class SpyncoTrainConfig:
    """Everything a SpyncoGAN run needs besides the data (saved in config.json and the card)."""

    model: SpyncoModelConfig = field(default_factory=SpyncoModelConfig)
    loss_levels: str = "all"          # "all" = L^{1,2,3}; "last" = L^1 (full-size output only)
    contours: bool = False            # add the contours loss
    lambda_consistency: float = 10.0
    lambda_contours: float = 1.0
    disc_width: int = 32
    disc_n_down: int = 2              # stride-2 layers of the finest discriminator
    lr: float = 2e-4
    bf16: bool = False                # bf16 autocast for the convolutions (losses stay float32)


def autocast_context(enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CPU when ``enabled``, else a no-op context."""
    return torch.autocast("cpu", dtype=torch.bfloat16) if enabled else contextlib.nullcontext()


class SpyncoTrainer:
    """Generator + per-level discriminators + their Adam optimizers (a :class:`tinct.train.Trainable`)."""

    def __init__(self, config: SpyncoTrainConfig | None = None) -> None:
        self.config = cfg = config or SpyncoTrainConfig()
        self.levels = L.loss_levels([None] * LEVELS, cfg.loss_levels)
        self.generator = SpyncoGenerator(cfg.model)
        self.discriminator = PyramidDiscriminator(LEVELS, 3, cfg.disc_width, cfg.disc_n_down)
        betas = (0.5, 0.999)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr, betas=betas)
        d_params = [p for k in self.levels for p in self.discriminator.discs[k].parameters()]
        self.opt_d = torch.optim.Adam(d_params, lr=cfg.lr, betas=betas)

    def generator_losses(self, gray: torch.Tensor) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
        """Generator loss terms for a gray batch ``(B, 1, H, W)``; also returns the pyramid outputs."""
        cfg = self.config
        gray_pyr = image_pyramid(gray, LEVELS)
        with autocast_context(cfg.bf16):
            outputs = self.generator(gray)
            scores = [self.discriminator.discs[k](outputs[k]) if k in self.levels else None
                      for k in range(LEVELS)]
        outputs = [o.float() for o in outputs]
        terms = {"consistency": L.consistency_loss(outputs, gray_pyr, self.levels),
                 "adversarial": L.generator_adversarial_loss(scores, self.levels)}
        if cfg.contours:
            terms["contours"] = L.contours_loss(outputs, gray_pyr, self.levels)
        return terms, outputs

    def training_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One G update then one D update; returns float losses."""
        cfg = self.config
        self.generator.train()
        self.discriminator.train()
        # Generator step (discriminator frozen).
        self.discriminator.requires_grad_(False)
        terms, outputs = self.generator_losses(batch["gray"])
        g_loss = cfg.lambda_consistency * terms["consistency"] + terms["adversarial"]
        if cfg.contours:
            g_loss = g_loss + cfg.lambda_contours * terms["contours"]
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        # Discriminator step: real colour images (pooled to each level) vs detached fakes.
        self.discriminator.requires_grad_(True)
        real_pyr = image_pyramid(batch["color"], LEVELS)
        with autocast_context(cfg.bf16):
            real_scores = [self.discriminator.discs[k](real_pyr[k]) if k in self.levels else None
                           for k in range(LEVELS)]
            fake_scores = [self.discriminator.discs[k](outputs[k].detach()) if k in self.levels else None
                           for k in range(LEVELS)]
        d_loss = L.discriminator_loss(real_scores, fake_scores, self.levels)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        return {"g_total": g_loss.item(), "d": d_loss.item(), **{k: v.item() for k, v in terms.items()}}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])


def add_data_arguments(parser: argparse.ArgumentParser, *, out_default: str) -> None:
    """Data and loop flags shared by the unpaired methods (spynco, cyclegan)."""
    parser.add_argument("--data-root", default="../shared/data", help="the shared data folder")
    parser.add_argument("--source", default="cifar10", help="cifar10 | photos | an image folder")
    parser.add_argument("--crop", type=int, default=32,
                        help="training crop (multiple of 4; 32 = CIFAR whole)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training files")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20000,
                        help="step cap (the time budget usually stops first)")
    parser.add_argument("--time-budget", type=float, default=None, help="wall-clock seconds for this run")
    parser.add_argument("--seed", type=int, default=0, help="seed of init, split and batches")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for the convolutions")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    parser.add_argument("--out", default=out_default,
                        help="run folder (checkpoint, losses.jsonl, config.json)")
    parser.add_argument("--export", default=None, help="write generator weights (.safetensors + card) here")
    parser.add_argument("--no-resume", action="store_true")
    parser.add_argument("--no-progress", action="store_true")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``tinct train spynco``."""
    add_data_arguments(parser, out_default="runs/spynco")
    parser.add_argument("--loss-levels", choices=["all", "last"], default="all",
                        help="all = L^{1,2,3} (every pyramid output), last = L^1 (full-size output only)")
    parser.add_argument("--contours", action="store_true", help="add the contours loss")
    parser.add_argument("--lambda-consistency", type=float, default=10.0)
    parser.add_argument("--lambda-contours", type=float, default=1.0)
    parser.add_argument("--encoder-width", type=int, default=32)
    parser.add_argument("--decoder-width", type=int, default=64)
    parser.add_argument("--res-blocks", type=int, default=2)
    parser.add_argument("--disc-width", type=int, default=32)
    parser.add_argument("--disc-down", type=int, default=2)


def fit_config(args: argparse.Namespace) -> FitConfig:
    """The loop settings from the shared flags."""
    return FitConfig(out_dir=args.out, steps=args.steps, seed=args.seed, checkpoint_every=200, log_every=20,
                     resume=not args.no_resume, progress=not args.no_progress, time_budget_s=args.time_budget)


def data_description(args: argparse.Namespace) -> dict[str, Any]:
    """What the card says about the training data."""
    return {"source": args.source, "crop": args.crop, "limit": args.limit, "batch_size": args.batch_size,
            "split": f"disjoint shuffled halves (seed {args.seed}): luma of one half, colour of the other"}


def main(args: argparse.Namespace) -> int:
    """Train, then export the generator if ``--export`` is given. Returns 0."""
    torch.set_num_threads(args.threads)
    cfg = SpyncoTrainConfig(
        model=SpyncoModelConfig(encoder_width=args.encoder_width, decoder_width=args.decoder_width,
                                n_res_blocks=args.res_blocks),
        loss_levels=args.loss_levels, contours=args.contours, lambda_consistency=args.lambda_consistency,
        lambda_contours=args.lambda_contours, disc_width=args.disc_width, disc_n_down=args.disc_down,
        lr=args.lr, bf16=args.bf16)
    images = load_unpaired(args.source, args.data_root, seed=args.seed, crop=args.crop, limit=args.limit)
    seed_everything(args.seed)  # fit seeds again; this one makes the initial weights repeatable
    trainer = SpyncoTrainer(cfg)
    batches = UnpairedBatches(images, crop=args.crop, batch_size=args.batch_size, seed=args.seed)
    fc = fit_config(args)
    history = fit(trainer, batches, fc, desc="spynco",
                  resolved_config={"method": "spynco", "train": asdict(cfg), "data": data_description(args),
                                   "split": images.split_description()})
    if args.export:
        steps_done = history[-1]["step"] if history else None
        extra = {"steps": steps_done, "time_budget_s": args.time_budget, "threads": args.threads}
        export_generator(args.export, trainer, data=data_description(args), split=images.split_description(),
                         extra=extra)
    return 0


def export_generator(path: str | Path, trainer: SpyncoTrainer, *, data: dict[str, Any], split: dict[str, Any],
                     extra: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None) -> Path:
    """Save the generator only (``G.*`` tensors) with a card; returns the ``.safetensors`` path."""
    tensors = {f"G.{k}": v for k, v in trainer.generator.state_dict().items()}
    card = {"method": "spynco", "config": {"model": trainer.config.model.to_dict(),
                                           "train": asdict(trainer.config)},
            "data": data, "split": split, "metrics": metrics or {}, "training": extra or {},
            "parameters": count_parameters(trainer.generator)}
    return save_weights(path, tensors, card)
