"""``tinct train lineart``: the line-art network trained with L1 through the one loop :func:`tinct.train.fit`.

Data (``--data``: a data root, default ``../shared/data``; :mod:`tinct.data.lineart_pairs`): the 400
human drawings of BSDS500 train + test with their photos, and the ``photos/extra_train`` photos
with synthetic Canny/XDoG drawings, mixed ``human_share`` : 1 - ``human_share`` per batch; native-
scale random crops with flips; random hints from the true photo (none for ``no_hint_share`` of the
crops, else 0.1 % to ``hint_rate_max`` of the pixels as points or small patches), so one network
serves both modes. The ``val`` drawings are never trained on; they are scored at the end (PSNR and
CIEDE2000 without hints and with hints on 1 % of the pixels, :mod:`tinct.bench.lineart`) and the
scores go on the weight card with the data, steps and time. AdamW with warm-up + cosine
(:func:`tinct.train.set_schedule_lr` through nir-unet's :class:`PairedTrainer`), bf16 autocast.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tinct.data.lineart_pairs import (
    DEFAULT_ROOT,
    HintPlan,
    LineartBatches,
    extra_photos,
    lineart_split,
    load_lineart_pair,
)
from tinct.methods.lineart.model import build, default_config, network_input
from tinct.methods.nir_unet.training import PairedTrainer, count_parameters
from tinct.nn.tiling import Strip
from tinct.nn.unet import TranslatorConfig, pad_to_multiple
from tinct.options import option
from tinct.train import RunConfig, fit, seed_everything
from tinct.weights import WeightCard, save_weights

DEFAULT_STEPS = 3500
VAL_HINT_RATE = 0.01


@dataclass
class LineartTrainConfig:
    """A lineart run (--data: a data root holding lineart/bsds500 and photos/{train,val,extra_train})."""

    crop: int = option(192, "training crop in pixels, taken at native scale (with left-right flips)")
    batch_size: int = option(8, "crops per batch")
    lr: float = option(2e-3, "AdamW peak learning rate")
    weight_decay: float = option(1e-4, "AdamW weight decay")
    warmup: int = option(200, "linear warm-up steps")
    bf16: bool = option(True, "bf16 autocast where the CPU has it natively"
                              " for the network (the loss in float32)")
    human_share: float = option(0.5, "share of crops from the human drawings (the rest: synthetic "
                                "drawings of photos/extra_train)")
    no_hint_share: float = option(0.3, "share of crops trained without any hint")
    hint_rate_max: float = option(0.02, "largest share of hinted pixels of a crop (log-uniform from 0.001)")
    mse_weight: float = option(0.0, "weight of an added MSE term (0: L1 only)")
    limit: int | None = option(None, "use only the first N human pairs and N extra photos (smoke runs)")
    val_limit: int | None = option(None, "score only the first N val drawings at the end (smoke runs)")
    model: TranslatorConfig = field(default_factory=default_config)


class LineartTrainer(PairedTrainer):
    """L1 (+ optional MSE) between the predicted and the true RGB of each crop."""

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        pred = self.generate(network_input(batch["drawing"], batch["hint_rgb"], batch["hint_mask"]))
        l1 = F.l1_loss(pred, batch["rgb"])
        if self.cfg.mse_weight <= 0:
            return {"total": l1}
        mse = F.mse_loss(pred, batch["rgb"])
        return {"total": l1 + self.cfg.mse_weight * mse, "l1": l1, "mse": mse}


def whole_image_colorizer(net: nn.Module):
    """``colorize(drawing (H, W), hints | None) -> RGB (H, W, 3)`` by one pass of ``net`` (validation)."""
    from tinct.methods.lineart import drawing_input

    @torch.no_grad()
    def colorize(drawing: np.ndarray, hints=None) -> np.ndarray:
        h, w = drawing.shape
        x = drawing_input(drawing, hints, Strip(0, h, 0, h), Strip(0, w, 0, w))
        x, (hh, ww) = pad_to_multiple(x, net.multiple)
        return net(x)[0, :, :hh, :ww].permute(1, 2, 0).numpy()

    return colorize


def validation_scores(net: nn.Module, root: str, limit: int | None) -> dict[str, dict[str, float]]:
    """PSNR / CIEDE2000 on the val drawings without hints and with hints on 1 % of the pixels."""
    from tinct.bench.lineart import load_items, score

    net.eval()
    items = load_items("val", root, limit)
    colorize = whole_image_colorizer(net)
    return {"no_hints": score(colorize, items), "hints_1pct": score(colorize, items, hint_rate=VAL_HINT_RATE)}


def training_data(cfg: LineartTrainConfig, root: str) -> tuple[list, list]:
    """(human pairs as uint8 arrays, extra photos) of the train split of ``root``."""
    pairs = lineart_split("train", root)
    human = [load_lineart_pair(p) for p in (pairs[:cfg.limit] if cfg.limit else pairs)]
    extra = extra_photos(root, cfg.limit) if cfg.human_share < 1 else []
    return human, extra


def run(cfg: LineartTrainConfig, run: RunConfig) -> int:
    """``tinct train lineart``: train, score val, write ``OUT/lineart.safetensors`` (float16) + card."""
    seed_everything(run.seed)
    root = run.data or DEFAULT_ROOT
    human, extra = training_data(cfg, root)
    hints = HintPlan(no_hint_share=cfg.no_hint_share, rate_max=cfg.hint_rate_max)
    batches = LineartBatches(human, extra, crop=cfg.crop, batch_size=cfg.batch_size, seed=run.seed,
                             human_share=cfg.human_share, hints=hints)
    net = build(cfg.model)
    trainer = LineartTrainer(cfg, net, run.steps or DEFAULT_STEPS)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    fit_cfg = run.fit_config(default_steps=DEFAULT_STEPS, checkpoint_every=250, log_every=25)
    history = fit(trainer, batches, fit_cfg, desc="lineart",
                  resolved_config={"lineart": asdict(cfg), "run": asdict(run), "human_pairs": len(human),
                                   "extra_photos": len(extra)})
    seconds = time.perf_counter() - t0
    metrics = validation_scores(net, root, cfg.val_limit)
    card = WeightCard(
        method="lineart", config={"model": cfg.model.to_dict(), "train": asdict(cfg)},
        data={"root": str(root), "human_pairs": len(human), "extra_photos": len(extra),
              "drawings": "lineart/bsds500 train_* + test_* (human); extra_train: synthetic Canny/XDoG"},
        split="train", metrics={"protocol": "val drawings, tinct.bench.lineart.score (hints: 1 % of the "
                                            "pixels, points from the photo, seed 0)",
                                **metrics, "train_loss": history[-1] if history else {}},
        extra={"steps": trainer.step, "train_seconds_this_run": round(seconds, 1),
               "threads": torch.get_num_threads(), "parameters": count_parameters(net)})
    tensors = {f"net.{k}": v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    path = save_weights(Path(run.out) / "lineart.safetensors", tensors, card)
    print(f"val: {metrics}")
    print(f"weights: {path}")
    return 0
