"""Training of the NIR methods through the one loop :func:`tinct.train.fit`.

``tinct train nir-unet`` (this module) trains the U-Net with L1; nir-snet, nir-scgan and nir-acgan
subclass :class:`PairedTrainer` and reuse :class:`NirTrainConfig` and :func:`train_and_export`.
Data: the ``train`` split of ``--data`` (default ``../shared/data/nir/epfl_train``; the last 3
pairs of each category are held out as ``val``, see :mod:`tinct.data.nir`), random crops and
flips, optionally misregistered (``--misregister 8``: random affine displacement of the RGB
crop). AdamW with a linear warm-up and cosine decay, bf16 autocast where measured faster.
At the end the generator is written to ``OUT/<method>.safetensors`` (float16) with a card that
holds its validation scores (:func:`tinct.bench.pairs.evaluate_pairs` protocol).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tinct.data.nir import DEFAULT_TRAIN, PairBatches, list_pairs, load_pair, split_pairs, training_short_side
from tinct.nn.unet import Translator, TranslatorConfig
from tinct.options import option
from tinct.precision import bf16_autocast
from tinct.train import (
    RunConfig,
    StepCounter,
    fit,
    optimizer_step,
    seed_everything,
    set_schedule_lr,
)
from tinct.weights import WeightCard, save_weights

DEFAULT_STEPS = 3000


@dataclass
class NirTrainConfig:
    """Settings every NIR run shares (--data: a folder of <key>_nir / <key>_rgb pairs; its `val`
    split is held out)."""

    crop: int = option(128, "training crop in pixels (random scale 0.6-1 of the short side, flips)")
    batch_size: int = option(16, "crops per batch")
    lr: float = option(2e-3, "AdamW peak learning rate (generators)")
    weight_decay: float = option(1e-4, "AdamW weight decay")
    warmup: int = option(200, "linear warm-up steps")
    misregister: float = option(0.0, "displace each RGB crop by a random affine warp of up to this many "
                                "pixels (0: registered pairs)")
    bf16: bool = option(True, "bf16 autocast where the CPU has it natively"
                              " for the networks (losses in float32)")
    limit: int | None = option(None, "use only the first N training pairs (smoke runs)")


@dataclass
class NirUNetTrainConfig(NirTrainConfig):
    """A nir-unet run: the U-Net translator with L1."""

    model: TranslatorConfig = field(default_factory=TranslatorConfig)


class PairedTrainer(StepCounter):
    """A generator ``net`` with AdamW and the warm-up/cosine schedule (a :class:`tinct.train.Trainable`).

    Subclasses implement :meth:`losses` (``{"total": ..., ...}``) and may add modules and
    optimizers (a discriminator) by overriding :meth:`extra_updates`, called after the generator's step.
    """

    def __init__(self, cfg: NirTrainConfig, net: nn.Module, total_steps: int) -> None:
        self.cfg, self.net = cfg, net
        self.opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.modules: dict[str, nn.Module] = {"net": net}
        self.optimizers: dict[str, torch.optim.Optimizer] = {"opt": self.opt}
        self.total_steps = max(1, total_steps)
        self.step = 0

    def schedule(self) -> float:
        """This step's learning-rate factor (warm-up, then cosine to 5 %); sets the generator's LR."""
        cfg = self.cfg
        set_schedule_lr(self.opt, cfg.lr, self.step, cfg.warmup, self.total_steps)
        return self.opt.param_groups[0]["lr"] / cfg.lr

    def generate(self, nir: torch.Tensor) -> torch.Tensor:
        with bf16_autocast(self.cfg.bf16):
            return self.net(nir).float()

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def extra_updates(self, batch: dict[str, torch.Tensor], lr_factor: float) -> dict[str, float]:
        return {}

    def training_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        for m in self.modules.values():
            m.train()
        self.step += 1
        factor = self.schedule()
        terms = self.losses(batch)
        optimizer_step(self.opt, terms["total"], clip_norm=5.0)
        out = {k: float(v.detach()) for k, v in terms.items()}
        return {**out, **self.extra_updates(batch, factor)}


class L1Trainer(PairedTrainer):
    """nir-unet: L1 between the prediction and the (possibly misregistered) RGB."""

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"total": F.l1_loss(self.generate(batch["nir"]), batch["rgb"])}


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def training_pairs(run: RunConfig, limit: int | None) -> tuple[str, list, list]:
    """(folder, train pairs as arrays, val pairs) of ``run.data``."""
    folder = run.data or DEFAULT_TRAIN
    train, val = split_pairs(list_pairs(folder))
    train = train[:limit] if limit else train
    return folder, [load_pair(p) for p in train], val


def train_and_export(method: str, trainer: PairedTrainer, cfg: Any, run: RunConfig, *,
                     generator: nn.Module, model_config: dict, prefix: str = "net.") -> Path:
    """Train ``trainer`` on the train split through :func:`fit`, score the generator on the val split
    and write ``OUT/<method>.safetensors`` (its tensors under ``prefix``, float16) with the card."""
    seed_everything(run.seed)
    folder, pairs, val = training_pairs(run, cfg.limit)
    batches = PairBatches(pairs, crop=cfg.crop, batch_size=cfg.batch_size, seed=run.seed,
                          misregister=cfg.misregister)
    t0 = time.perf_counter()
    fit_cfg = run.fit_config(default_steps=DEFAULT_STEPS, checkpoint_every=250, log_every=25)
    history = fit(trainer, batches, fit_cfg, desc=method,
                  resolved_config={method: asdict(cfg), "run": asdict(run), "pairs": len(pairs)})
    seconds = time.perf_counter() - t0
    generator.eval()
    short_side = training_short_side(cfg.crop)
    metrics = validation_scores(generator, val, short_side)
    card = WeightCard(
        method=method, config={"model": model_config, "train": asdict(cfg)},
        data={"folder": folder, "pairs": len(pairs), "held_out": "val = last 3 pairs per category"},
        split="train", metrics={"protocol": "val split, tinct.bench.pairs.evaluate_pairs (align ±4 px), "
                                            f"the network at a {short_side} px short side",
                                **metrics, "train_loss": history[-1] if history else {}},
        extra={"steps": trainer.step, "train_seconds_this_run": round(seconds, 1),
               "threads": torch.get_num_threads(), "parameters": count_parameters(generator)})
    state = generator.state_dict()
    tensors = {f"{prefix}{k}": v.half() if v.is_floating_point() else v for k, v in state.items()}
    path = save_weights(Path(run.out) / f"{method}.safetensors", tensors, card)
    print(f"weights: {path}")
    return path


def validation_scores(generator: nn.Module, val: list, short_side: int = 0) -> dict[str, float]:
    """Mean scores of ``generator`` on the val pairs (:func:`tinct.bench.pairs.evaluate_pairs`), run
    as the method runs it: at a ``short_side`` px working size (0: full resolution), guided upsampling."""
    from tinct.bench.pairs import PAIR_METRICS, evaluate_pairs
    from tinct.methods.nir_unet import at_working_size
    from tinct.nn.unet import pad_to_multiple

    @torch.no_grad()
    def predict(band):
        x = torch.from_numpy(np.ascontiguousarray(band))[None, None]
        x, (h, w) = pad_to_multiple(x, generator.multiple)
        return generator(x)[0, :, :h, :w].permute(1, 2, 0).numpy()

    means = evaluate_pairs(lambda band: at_working_size(band, short_side, predict), val).means()
    return {k: round(float(means[k]), 4) for k in PAIR_METRICS}


def run(cfg: NirUNetTrainConfig, run: RunConfig) -> int:
    """``tinct train nir-unet``."""
    net = Translator(cfg.model)
    trainer = L1Trainer(cfg, net, run.steps or DEFAULT_STEPS)
    train_and_export("nir-unet", trainer, cfg, run, generator=net, model_config=cfg.model.to_dict())
    return 0
