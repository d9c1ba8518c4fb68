"""``tinct train caption``: the caption-conditioned network on Stanford Background train (true
labels) + photos/train + photos/extra_train (scene-parser labels; the 1-in-10 hash split held
out), crops captioned with what they show, through :func:`tinct.train.fit`.

Loss (as fusion's): ``lambda_cls`` x class-rebalanced cross-entropy on soft-encoded ab bins
(Zhang et al. 2016, λ = ``rebalance``) + ``lambda_reg`` x Huber on ab / 10. bf16 autocast for the
image network (the caption encoder, a small GRU, runs in float32), AdamW, linear warm-up then
cosine decay, resumable from ``OUT/checkpoint.pt``. Writes ``OUT/captions.json`` (every image's
regions and captions, both splits), ``OUT/parser_labels.npz`` (the parser's label maps) and at the
end ``OUT/caption.safetensors`` (+ card with the vocabulary and the bins).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tinct.data.captions import VOCABULARY, CaptionedImage, captions_for, write_caption_cache
from tinct.data.color_names import image_regions
from tinct.errors import TinctError
from tinct.methods.fusion.bins import (
    SoftEncoder,
    empirical_prior,
    gamut_bins,
    rebalancing_weights,
    soft_cross_entropy,
)
from tinct.methods.fusion.data import sample_ab
from tinct.options import OptionError, option
from tinct.train import (
    RunConfig,
    StepCounter,
    fit,
    optimizer_step,
    seed_everything,
    set_schedule_lr,
)
from tinct.weights import WeightCard, save_weights, warm_start

from .data import CaptionBatches, ColourBank, LabelledPhoto, load_parsed, load_stanford
from .model import CaptionModelConfig, CaptionNet, count_parameters

DEFAULT_DATA = "../shared/data/photos/train,../shared/data/photos/extra_train"
DEFAULT_STANFORD = "../shared/data/segmentation/stanford_background"
DEFAULT_STEPS = 1000  # the shipped runs (from fusion's weights, ~25 min on 2 cores)
INFERENCE = {"temperature": 0.38, "prior_correction": 0.0, "mix": 1.0, "gain": 1.0}


@dataclass
class CaptionTrainConfig:
    """A caption run (--data: comma-separated folders of colour photos labelled by the scene parser;
    default photos/train + photos/extra_train; --no-photos: Stanford Background only)."""

    model: CaptionModelConfig = field(default_factory=CaptionModelConfig)
    stanford: str | None = option(DEFAULT_STANFORD, "Stanford Background folder (true labels; its "
                                  "split_train images are trained on; none: skip)")
    photos: bool = option(True, "also train on the --data photos, labelled by the scene parser (false: "
                          "Stanford Background only)")
    crop: int = option(128, "training crop in pixels (random scale 0.5-1 of the short side, flip)")
    batch_size: int = option(32, "crops per batch")
    lr: float = option(1e-3, "AdamW peak learning rate")
    weight_decay: float = option(1e-4, "AdamW weight decay")
    warmup: int = option(150, "linear warm-up steps")
    lambda_cls: float = option(1.0, "weight of the ab-bin cross-entropy")
    lambda_reg: float = option(1.0, "weight of the regression head's Huber loss (ab / 10)")
    rebalance: float = option(0.5, "λ of the class rebalancing (0: none ... 1: uniform)")
    p_empty: float = option(0.15, "share of crops trained with the empty caption (the no-caption mode)")
    p_recolor: float = option(0.6, "share of captioned crops with one region recoloured to another colour "
                              "word, the caption naming the new colour (counterfactual colours; "
                              "conditioning=none never recolours: it cannot read the word)")
    recolor_regions: int = option(1, "a recoloured crop has 1..N of its regions recoloured, each to a "
                                  "different word, all named (N > 1 asks the network to bind each word "
                                  "to its region rather than tint the whole crop)")
    bf16: bool = option(True, "bf16 autocast for the image network (losses in float32)")
    limit: int | None = option(None, "use only the first N images of each source (smoke runs)")
    init: str | None = option("default", "start the image network from these fusion weights (a bundled "
                              "fusion variant or a .safetensors path; same trunk; none: from scratch); the "
                              "conditioning layers start at the identity, so the run starts as that fusion "
                              "model")

    def __post_init__(self) -> None:
        if self.recolor_regions < 1:
            raise OptionError(f"recolor_regions must be at least 1, got {self.recolor_regions}")


class CaptionTrainer(StepCounter):
    """The network, AdamW, the bins and their rebalancing weights (a :class:`tinct.train.Trainable`)."""

    def __init__(self, cfg: CaptionTrainConfig, centers: np.ndarray, class_weights: np.ndarray,
                 total_steps: int) -> None:
        self.cfg = cfg
        self.net = CaptionNet(cfg.model)
        self.centers = torch.from_numpy(centers)
        self.class_weights = torch.from_numpy(class_weights)
        self.encoder = SoftEncoder(centers)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.modules = {"net": self.net}
        self.optimizers = {"opt": self.opt}
        self.total_steps = max(1, total_steps)
        self.step = 0

    def losses(self, batch: dict) -> dict[str, torch.Tensor]:
        """``{"total", "ce", "reg"}`` of one batch (see :class:`~.data.CaptionBatches`)."""
        cond = self.net.encode_caption(batch["tokens"], batch["lengths"])
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if self.cfg.bf16 else contextlib.nullcontext()
        with ctx:
            logits, ab_reg = self.net(batch["luma"], batch["tokens"], batch["lengths"], cond=cond)
        logits, ab_reg = logits.float(), ab_reg.float()
        ab = F.avg_pool2d(batch["ab"], 2)  # the heads' half resolution
        idx, weights = self.encoder(ab)
        cls = soft_cross_entropy(logits, idx, weights, self.class_weights)
        reg = F.smooth_l1_loss(ab_reg / 10.0, ab / 10.0)
        return {"total": self.cfg.lambda_cls * cls + self.cfg.lambda_reg * reg, "ce": cls, "reg": reg}

    def training_step(self, batch: dict) -> dict[str, float]:
        self.net.train()
        self.step += 1
        c = self.cfg
        set_schedule_lr(self.opt, c.lr, self.step, c.warmup, self.total_steps)
        terms = self.losses(batch)
        optimizer_step(self.opt, terms["total"], clip_norm=5.0)
        return {k: float(v.detach()) for k, v in terms.items()}


def load_sources(cfg: CaptionTrainConfig, folders: list[str], split: str, out: Path, *,
                 progress: bool = False) -> list[LabelledPhoto]:
    """Stanford Background (if configured) and the parser-labelled photos of ``split``."""
    photos = load_stanford(cfg.stanford, split, limit=cfg.limit) if cfg.stanford else []
    if folders:
        photos += load_parsed(folders, split, limit=cfg.limit, cache=out / "parser_labels.npz",
                              progress=progress)
    if not photos:
        raise TinctError(f"no {split} photos: give --data folders and/or --stanford")
    return photos


def cache_captions(path: Path, photos: list[LabelledPhoto]) -> list[CaptionedImage]:
    """``captions.json``: every photo's whole-image regions and three captions (also returned)."""
    from tinct.color import rgb_to_lab

    records = []
    for p in photos:
        regions = tuple(image_regions(rgb_to_lab(p.rgb.astype(np.float32) / 255.0), p.labels))
        records.append(CaptionedImage(p.name, p.source, p.split, regions, captions_for(p.name, regions)))
    write_caption_cache(path, records)
    return records


def run(cfg: CaptionTrainConfig, run: RunConfig) -> int:
    """``tinct train caption``: photos and labels, captions cached, bins, train, export."""
    seed_everything(run.seed)
    out = Path(run.out)
    folders = [f for f in (run.data or DEFAULT_DATA).split(",") if f] if cfg.photos else []
    photos = load_sources(cfg, folders, "train", out, progress=run.progress)
    held_out = load_sources(cfg, folders, "val", out, progress=run.progress)
    records = cache_captions(out / "captions.json", photos + held_out)
    bank = ColourBank([r for rec in records if rec.split == "train" for r in rec.regions])
    centers = gamut_bins()
    prior = empirical_prior(sample_ab([p.rgb for p in photos], seed=run.seed), centers)
    class_weights = rebalancing_weights(prior, cfg.rebalance)
    model = replace(cfg.model, n_bins=len(centers), vocab_size=len(VOCABULARY))
    cfg = replace(cfg, model=model)
    steps = run.steps or DEFAULT_STEPS
    trainer = CaptionTrainer(cfg, centers, class_weights, steps)
    steps_before = warm_start(trainer.net, "fusion", cfg.init, partial=True) if cfg.init else 0
    t0 = time.perf_counter()
    p_recolor = 0.0 if model.conditioning == "none" else cfg.p_recolor
    batches = CaptionBatches(photos, crop=cfg.crop, batch_size=cfg.batch_size, seed=run.seed,
                             p_empty=cfg.p_empty, p_recolor=p_recolor, bank=bank,
                             recolor_regions=cfg.recolor_regions)
    fit_cfg = run.fit_config(default_steps=DEFAULT_STEPS, checkpoint_every=250, log_every=25)
    history = fit(trainer, batches, fit_cfg, desc=f"caption ({model.conditioning})",
                  resolved_config={"caption": asdict(cfg), "run": asdict(run), "photos": len(photos)})
    card = WeightCard(
        method="caption", config={"model": model.to_dict(), "train": asdict(cfg)},
        data={"folders": folders, "stanford": cfg.stanford, "photos": len(photos),
              "held_out": len(held_out)}, split="train",
        metrics={"protocol": "training loss (last logged record); held-out: tinct bench caption",
                 **(history[-1] if history else {})},
        extra={"vocabulary": list(VOCABULARY), "inference": dict(INFERENCE), "steps": trainer.step,
               "init": cfg.init, "total_steps": steps_before + trainer.step,
               "train_seconds_this_run": round(time.perf_counter() - t0, 1),
               "threads": torch.get_num_threads(), "parameters": count_parameters(trainer.net),
               "caption_parameters": (count_parameters(trainer.net.text)
                                      + count_parameters(trainer.net.condition))})
    path = export(out / "caption.safetensors", trainer, prior, card)
    print(f"weights: {path}")
    return 0


def export(path: str | Path, trainer: CaptionTrainer, prior: np.ndarray, card: WeightCard) -> Path:
    """The network (float16) + bins (centres, prior, rebalancing weights), with ``card``."""
    state = trainer.net.state_dict()
    tensors = {f"net.{k}": v.half() if v.is_floating_point() else v for k, v in state.items()}
    tensors["bins.centers"] = trainer.centers
    tensors["bins.prior"] = torch.from_numpy(prior)
    tensors["bins.weights"] = trainer.class_weights
    return save_weights(path, tensors, card)
