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

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from tinct.data.captions import VOCABULARY, CaptionedImage, captions_for, write_caption_cache
from tinct.data.color_names import image_regions
from tinct.errors import TinctError
from tinct.methods.fusion.bins import empirical_prior, gamut_bins, rebalancing_weights
from tinct.methods.fusion.data import sample_ab
from tinct.methods.fusion.training import AbBinTrainer, export
from tinct.options import OptionError, option
from tinct.train import RunConfig, fit, seed_everything
from tinct.weights import WeightCard, warm_start

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
    recolor_weight: float = option(1.0, "loss weight of the recoloured pixels (1: like every other pixel; "
                                   "> 1 makes obeying the word count more than the content's usual colour)")
    bank_pull: float = option(0.0, "share of the way a recolouring's real colour is moved toward the "
                              "word's prototype (0: the real colour; 1: the prototype)")
    bf16: bool = option(True, "bf16 autocast where the CPU has it natively"
                              " for the image network (losses in float32)")
    limit: int | None = option(None, "use only the first N images of each source (smoke runs)")
    init: str | None = option("default", "start the image network from these fusion weights (a bundled "
                              "fusion variant or a .safetensors path; same trunk; none: from scratch); the "
                              "conditioning layers start at the identity, so the run starts as that fusion "
                              "model")

    def __post_init__(self) -> None:
        if self.recolor_regions < 1:
            raise OptionError(f"recolor_regions must be at least 1, got {self.recolor_regions}")
        if not 0.0 <= self.bank_pull <= 1.0:
            raise OptionError(f"bank_pull must be in [0, 1], got {self.bank_pull}")
        if self.recolor_weight <= 0:
            raise OptionError(f"recolor_weight must be positive, got {self.recolor_weight}")


class CaptionTrainer(AbBinTrainer):
    """The caption network with fusion's objective (:class:`~tinct.methods.fusion.training.AbBinTrainer`)."""

    def __init__(self, cfg: CaptionTrainConfig, centers: np.ndarray, class_weights: np.ndarray,
                 total_steps: int) -> None:
        super().__init__(cfg, CaptionNet(cfg.model), centers, class_weights, total_steps)

    def heads(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """The caption encoder in float32, the image network under autocast (batches of
        :class:`~.data.CaptionBatches`)."""
        cond = self.net.encode_caption(batch["tokens"], batch["lengths"])
        with self.autocast():
            return self.net(batch["luma"], batch["tokens"], batch["lengths"], cond=cond)


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
    bank = ColourBank([r for rec in records if rec.split == "train" for r in rec.regions], pull=cfg.bank_pull)
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
                             recolor_regions=cfg.recolor_regions, recolor_weight=cfg.recolor_weight)
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
