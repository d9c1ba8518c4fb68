"""Training SpyncoGAN (seed 003) through the one loop :func:`tinct.train.fit`.

``tinct train spynco --data cifar10 --out /work/runs/spynco --time-budget 3600``.
Each step: G colorizes an unpaired gray batch; the generator loss is
``lambda_c * consistency + adversarial (+ lambda_k * contours)`` on the pyramid levels chosen by
``--loss-levels`` (``all`` = L^{1,2,3}, ``last`` = L^1); then the per-level discriminators learn
real colour images (average-pooled to each level) against the detached fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from tinct.data.unpaired import UnpairedBatches, load_unpaired
from tinct.errors import TinctError
from tinct.methods.spynco import losses as L
from tinct.methods.spynco.model import LEVELS, SpyncoGenerator, SpyncoModelConfig
from tinct.nn.ema import EMA
from tinct.nn.gan import PyramidDiscriminator, count_parameters, image_pyramid
from tinct.options import option
from tinct.precision import bf16_autocast
from tinct.train import RunConfig, Snapshots, fit, optimizer_step, seed_everything, train_seconds
from tinct.weights import WeightCard, save_weights

DEFAULT_STEPS = 20000  # a cap: the time budget usually stops a run first


@dataclass
class UnpairedData:
    """Data settings shared by the unpaired methods (spynco, cyclegan); ``--data`` is the source."""

    data_root: str = option("../shared/data", "the shared data folder (for the named sources)")
    crop: int = option(32, "training crop in pixels (multiple of 4; 32 = CIFAR-10 whole)")
    limit: int | None = option(None, "use only the first N training files")
    batch_size: int = option(32, "images per batch (gray and colour each)")
    export: str | None = option(None, "write the generator weights (.safetensors + card) here at the end")
    ema: float = option(0.999, "decay of the moving average of the generator's weights that is exported "
                        "(tinct.nn.ema; 0: export the last iterate)")
    snapshot_every: int = option(0, "also export the generator every N steps, as EXPORT_stepN (a quality "
                                 "curve over training; 0: only at the end)")


@dataclass
class SpyncoTrainConfig(UnpairedData):
    """Everything a SpyncoGAN run needs (config.json, the card); --data: cifar10 (default) | photos (train +
    extra_train) | photos-train | DIR[,DIR]."""

    model: SpyncoModelConfig = field(default_factory=SpyncoModelConfig)
    loss_levels: Literal["all", "last"] = option("all", "all = L^{1,2,3} (every pyramid output), last = L^1")
    contours: bool = option(False, "add the contours loss")
    lambda_consistency: float = option(10.0, "weight of the pseudo-cycle consistency loss")
    lambda_contours: float = option(1.0, "weight of the contours loss")
    disc_width: int = option(32, "channels of the first discriminator layer")
    disc_n_down: int = option(2, "stride-2 layers of the finest discriminator")
    lr: float = option(2e-4, "Adam learning rate (generator and discriminators)")
    bf16: bool = option(False, "bf16 autocast where the CPU has it natively"
                               " for the convolutions (losses stay float32)")


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
        self.modules = {"generator": self.generator, "discriminator": self.discriminator}
        self.ema = EMA(self.generator, cfg.ema) if cfg.ema > 0 else None
        if self.ema is not None:
            self.modules["generator_ema"] = self.ema
        self.optimizers = {"g": self.opt_g, "d": self.opt_d}

    @property
    def exported(self) -> torch.nn.Module:
        """The generator that is exported: the moving average when there is one."""
        return self.ema.average if self.ema is not None else self.generator

    def generator_losses(self, gray: torch.Tensor) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
        """Generator loss terms for a gray batch ``(B, 1, H, W)``; also returns the pyramid outputs."""
        cfg = self.config
        gray_pyr = image_pyramid(gray, LEVELS)
        with bf16_autocast(cfg.bf16):
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
        optimizer_step(self.opt_g, g_loss)
        if self.ema is not None:
            self.ema.update(self.generator)
        # Discriminator step: real colour images (pooled to each level) vs detached fakes.
        self.discriminator.requires_grad_(True)
        real_pyr = image_pyramid(batch["color"], LEVELS)
        with bf16_autocast(cfg.bf16):
            real_scores = [self.discriminator.discs[k](real_pyr[k]) if k in self.levels else None
                           for k in range(LEVELS)]
            fake_scores = [self.discriminator.discs[k](outputs[k].detach()) if k in self.levels else None
                           for k in range(LEVELS)]
        d_loss = L.discriminator_loss(real_scores, fake_scores, self.levels)
        optimizer_step(self.opt_d, d_loss)
        return {"g_total": g_loss.item(), "d": d_loss.item(), **{k: v.item() for k, v in terms.items()}}


def data_description(data: UnpairedData, source: str, seed: int) -> dict[str, Any]:
    """What the card says about the training data."""
    return {"source": source, "crop": data.crop, "limit": data.limit, "batch_size": data.batch_size,
            "split": f"disjoint shuffled halves (seed {seed}): luma of one half, colour of the other"}


def training_record(run: RunConfig, steps: int | None) -> dict[str, Any]:
    """What the card says about the run itself: steps, seconds trained over every resume, the last
    invocation's budget and threads."""
    return {"steps": steps, "train_seconds": train_seconds(run.out), "time_budget_s": run.time_budget_s,
            "threads": run.threads}


def snapshot_path(export: str | Path, step: int) -> Path:
    """Where the snapshot of ``step`` goes: ``EXPORT_step{step}`` beside the final export."""
    export = Path(export)
    return export.with_name(f"{export.name.removesuffix('.safetensors')}_step{step}")


def fit_unpaired(method: str, trainer: Any, run: RunConfig, data: UnpairedData,
                 write: Callable[[Path, Any, int], Any] | None = None) -> tuple[Any, list]:
    """Load the unpaired halves of ``run.data`` (default cifar10) and train ``trainer`` through :func:`fit`
    (``data``: the method's config, whose data settings are :class:`UnpairedData`'s). With
    ``data.snapshot_every`` and ``data.export``, ``write(path, images, step)`` exports a snapshot
    every that many steps (:func:`snapshot_path`).

    Returns (the images, the loss history).
    """
    if data.snapshot_every and not (data.export and write):
        raise TinctError("snapshot_every needs --export (the snapshots are written beside it)")
    source = run.data or "cifar10"
    images = load_unpaired(source, data.data_root, seed=run.seed, crop=data.crop, limit=data.limit)
    batches = UnpairedBatches(images, crop=data.crop, batch_size=data.batch_size, seed=run.seed)
    if data.snapshot_every:  # export and write are set (checked above)
        export, writer = str(data.export), write
        trainer = Snapshots(trainer, data.snapshot_every,
                            lambda step: writer(snapshot_path(export, step), images, step))
    history = fit(trainer, batches, run.fit_config(default_steps=DEFAULT_STEPS), desc=method,
                  resolved_config={"method": method, "train": asdict(data),
                                   "data": data_description(data, source, run.seed),
                                   "split": images.split_description()})
    return images, history


def run(config: SpyncoTrainConfig, run: RunConfig) -> int:
    """``tinct train spynco``: train, then export the generator if ``unpaired.export`` is set."""
    seed_everything(run.seed)  # fit seeds again; this one makes the initial weights repeatable
    trainer = SpyncoTrainer(config)

    def write(path: Path, images: Any, steps: int | None) -> Path:
        return export_generator(path, trainer, data=data_description(config, run.data or "cifar10", run.seed),
                                split=images.split_description(), extra=training_record(run, steps),
                                inference=images.inference(config.crop))

    images, history = fit_unpaired("spynco", trainer, run, config, write)
    if config.export:
        write(Path(config.export), images, history[-1]["step"] if history else None)
    return 0


def export_generator(path: str | Path, trainer: SpyncoTrainer, *, data: dict[str, Any], split: dict[str, Any],
                     extra: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
                     inference: dict[str, Any] | None = None) -> Path:
    """Save the generator only (``G.*`` tensors; the moving average when the run keeps one) with a card
    (``inference``: the working size, :meth:`UnpairedImages.inference`); returns the ``.safetensors`` path."""
    tensors = {f"G.{k}": v for k, v in trainer.exported.state_dict().items()}
    card = WeightCard(method="spynco", config={"model": trainer.config.model.to_dict(),
                                               "train": asdict(trainer.config)},
                      data=data, split=split, metrics=metrics or {},
                      extra={"training": extra or {}, "parameters": count_parameters(trainer.generator),
                             **({"inference": inference} if inference else {})})
    return save_weights(path, tensors, card)
