"""Training of Cycle-CNN and its baselines through :func:`tinct.train.fit`.

Stages (``--stage``):

- ``ssm``: pre-train the structure-similarity network on random-warp pairs (L1 to the SSIM map).
- ``cycle``: train M without ground truth: eq. 4 on the cycle (each loss switchable).
- ``supervised``: the Dong et al. 2019 baseline: the same M trained with the ground truth of
  synthesised pairs whose gray image is the exact luma of the left view (no camera differences).
- ``refine``: the refinement CNN with L2 from R'_C (guided by R_G) to R_C, M frozen, in the frame
  of M's second call (:func:`refinement_example`); Adam with a warm-up (``--lr`` 1e-3 suggested).
- ``bundle``: no training; joins ``--colorizer-weights`` (M) and ``--refine-weights`` into one
  inference file ``<out>/cyclecnn.safetensors`` (+ card), the format of the bundled weights.

Data: synthetic dual-lens pairs from ``photos/train`` + ``photos/extra_train`` (``--data``: folders
separated by commas; :mod:`tinct.data.dual_lens`), flipped to M's convention (a match of gray pixel
``i`` lies at reference ``i + k``). ``--set bf16=true``: bf16 autocast of M's forward (CPU).
CLI: ``tinct train cyclecnn --stage cycle --out /work/runs/cyclecnn --set model.disparities=80 ...``
(:class:`TrainConfig`, :func:`run`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from tinct.color import rgb_to_ycbcr
from tinct.data.dual_lens import (
    layered_stereo_pair,
    random_mono_response,
    simulate_color_camera,
    simulate_mono_camera,
)
from tinct.errors import TinctError
from tinct.io import list_images, read_rgb
from tinct.methods.cyclecnn.bundle import bundle_weights
from tinct.methods.cyclecnn.losses import (
    LossConfig,
    chroma_ssim_loss,
    cycle_consistency_loss,
    refinement_loss,
    smoothness_loss,
    ssim_structure_loss,
    structure_similarity_loss,
)
from tinct.methods.cyclecnn.model import (
    ColorizationCNN,
    Colorized,
    CycleOutput,
    ModelConfig,
    colorize_cycle,
    hflip,
)
from tinct.methods.cyclecnn.refine import RefinementCNN
from tinct.methods.cyclecnn.ssm import StructureSimilarityNet, ssm_training_pair
from tinct.options import option
from tinct.precision import bf16_autocast
from tinct.train import RunConfig, StepCounter, fit, optimizer_step, set_warmup_lr, train_seconds
from tinct.weights import WeightCard, load_weights, save_weights, warm_start

STAGES = ("ssm", "cycle", "supervised", "refine", "bundle")


DEFAULT_DATA = "../shared/data/photos/train,../shared/data/photos/extra_train"
DEFAULT_STEPS = 1000


@dataclass
class TrainConfig:
    """One stage of a Cycle-CNN run (--data: training photos, a train split, folders separated by commas;
    default photos/train + photos/extra_train)."""

    stage: Literal["ssm", "cycle", "supervised", "refine", "bundle"] = option(
        "cycle", "what to train (see the docstring of tinct.methods.cyclecnn.training)")
    crop_height: int = option(96, "height of the synthetic stereo crops")
    crop_width: int = option(256, "width of the synthetic stereo crops")
    batch_size: int = option(2, "pairs per batch")
    max_disparity: float = option(96.0, "largest disparity of the synthetic pairs, pixels")
    slant_x: float = option(0.5, "background disparity changes by up to this share of max_disparity across "
                            "the width (0: fronto-parallel rows)")
    colour_gain: float = option(0.1, "colour camera: per-channel gains 1 +- this (its own white balance)")
    misalign_y: float = option(0.5, "colour camera: vertical shift up to this many pixels (rectification)")
    lr: float = option(1e-3, "RMSProp learning rate, constant (paper); Adam with warm-up for stage refine")
    max_textures: int = option(4000, "photos read as textures of the synthetic scenes (random subset; "
                               "a small number for smoke runs)")
    bf16: bool = option(False, "bf16 autocast where the CPU has it natively"
                               " of M's forward pass (stages cycle, supervised)")
    model: ModelConfig = field(default_factory=lambda: ModelConfig(disparities=104, volume="cost3d"))
    loss: LossConfig = field(default_factory=LossConfig)
    ssm_weights: str | None = option(None, "stage cycle with loss.ss_kind=ssm: the trained SSM")
    colorizer_weights: str | None = option(None, "stage refine and bundle: the trained M")
    refine_weights: str | None = option(None, "stage bundle: the trained refinement CNN")
    refine_warmup: int = option(200, "stage refine: linear learning-rate warm-up steps (Adam)")
    init: str | None = option(None, "stages cycle and supervised: start M from these cyclecnn weights (a "
                              "bundled variant or a path; continues a run whose checkpoint is gone)")
    ssm_steps: int = option(1500, "stage cycle without --ssm-weights: train the SSM network first for this "
                            "many steps in <out>/ssm (0: refuse instead)")


def load_textures(folders: str | Path, limit: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Up to ``limit`` random photos of ``folders`` (one folder, or several separated by commas) as uint8
    RGB (4x smaller than float32: the whole training set fits; at least 64 px on each side)."""
    paths = [p for f in str(folders).split(",") if f for p in list_images(f)]
    if not paths:
        raise TinctError(f"{folders}: no training images")
    order = rng.permutation(len(paths))[:limit]
    out = [np.clip(read_rgb(paths[i]) * 255 + 0.5, 0, 255).astype(np.uint8) for i in order]
    return [t for t in out if min(t.shape[:2]) >= 64] or out


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W[, C]) numpy -> (C, H, W) float32 tensor."""
    arr = img[..., None] if img.ndim == 2 else img
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32))


def dual_lens_sample(textures: list[np.ndarray], cfg: TrainConfig, rng: np.random.Generator,
                     *, camera_sim: bool) -> dict[str, torch.Tensor]:
    """One pair in M's convention: gray ``(1,H,W)``, ref / target YCbCr ``(3,H,W)``, occluded ``(1,H,W)``.

    ``camera_sim``: the gray view goes through a random monochrome-camera response and the reference
    through a colour-camera simulation (the "real" data); otherwise gray = exact luma (Dong's data).
    """
    pair = layered_stereo_pair(textures, cfg.crop_height, cfg.crop_width, rng,
                               max_disparity=cfg.max_disparity, slant_x=cfg.slant_x)
    left_ycc = rgb_to_ycbcr(pair.left).astype(np.float32)
    if camera_sim:
        gray = simulate_mono_camera(pair.left, random_mono_response(rng), rng)
        ref = simulate_color_camera(pair.right, rng, max_gain=cfg.colour_gain, max_shift_y=cfg.misalign_y)
    else:
        gray, ref = left_ycc[..., 0], pair.right
    flip = (slice(None), slice(None, None, -1))  # Middlebury geometry -> M's i + k search
    return {"gray": _to_tensor(gray[flip]), "ref": _to_tensor(rgb_to_ycbcr(ref[flip]).astype(np.float32)),
            "target": _to_tensor(left_ycc[flip]),
            "occluded": _to_tensor(pair.occluded[flip].astype(np.float32))}


def _stack(samples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([s[k] for s in samples]) for k in samples[0]}


def make_batches(cfg: TrainConfig, seed: int, data: str = DEFAULT_DATA):
    """``batches(start)`` for :func:`fit`: an endless iterator, reseeded from ``seed + start``."""
    textures = load_textures(data, cfg.max_textures, np.random.default_rng(seed))

    def batches(start: int) -> Iterator[dict[str, torch.Tensor]]:
        rng = np.random.default_rng(seed * 1_000_003 + start)
        while True:
            if cfg.stage == "ssm":
                items = []
                for _ in range(cfg.batch_size):
                    tex = textures[int(rng.integers(len(textures)))]
                    y = int(rng.integers(0, tex.shape[0] - min(cfg.crop_height, tex.shape[0]) + 1))
                    x = int(rng.integers(0, tex.shape[1] - min(cfg.crop_width, tex.shape[1]) + 1))
                    crop = tex[y:y + cfg.crop_height, x:x + cfg.crop_width].astype(np.float32) / 255
                    g, c, t = ssm_training_pair(crop, rng)
                    items.append({"gray": _to_tensor(g), "color": _to_tensor(c), "target": _to_tensor(t)})
                yield _stack(_same_size(items))
            else:
                yield _stack([dual_lens_sample(textures, cfg, rng, camera_sim=cfg.stage != "supervised")
                              for _ in range(cfg.batch_size)])

    return batches


def _same_size(items: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
    h = min(i["gray"].shape[-2] for i in items)
    w = min(i["gray"].shape[-1] for i in items)
    return [{k: v[..., :h, :w] for k, v in i.items()} for i in items]


class _Trainer:
    """Common state handling: one module, one RMSProp optimizer, gradient norm clipped to 5."""

    module: torch.nn.Module

    def _setup(self, module: torch.nn.Module, lr: float) -> None:
        self.module = module
        self.optimizer = torch.optim.RMSprop(module.parameters(), lr=lr)
        self.modules = {"module": module}
        self.optimizers = {"optimizer": self.optimizer}

    def _step(self, loss: torch.Tensor) -> None:
        optimizer_step(self.optimizer, loss, clip_norm=5.0)


class SSMTrainer(_Trainer):
    """Stage ``ssm``: L1 between SSM(J_G, warped J_C^Y) and SSIM(J_G, warped J_G)."""

    def __init__(self, cfg: TrainConfig) -> None:
        self._setup(StructureSimilarityNet(cfg.model.width, cfg.model.n_blocks), cfg.lr)

    def training_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.module.train()
        pred = self.module(batch["gray"], batch["color"])
        loss = (pred - batch["target"]).abs().mean()
        self._step(loss)
        return {"l1": loss.item()}


def freeze(module: torch.nn.Module) -> torch.nn.Module:
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


class ColorizerTrainer(_Trainer):
    """Stages ``cycle`` (eq. 4, no ground truth) and ``supervised`` (Dong et al. 2019)."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self._setup(ColorizationCNN(cfg.model), cfg.lr)
        self.steps_before = warm_start(self.module, "cyclecnn", cfg.init, prefix="model.") if cfg.init else 0
        self.ssm: torch.nn.Module | None = None
        if cfg.stage == "cycle" and cfg.loss.structure > 0 and cfg.loss.ss_kind == "ssm":
            if not cfg.ssm_weights:
                raise TinctError("the structure-similarity loss needs --ssm-weights "
                                 "(train --stage ssm first)")
            self.ssm = freeze(load_module(StructureSimilarityNet(cfg.model.width, cfg.model.n_blocks),
                                          cfg.ssm_weights, "ssm."))

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        lc = self.cfg.loss
        gray, ref = batch["gray"], batch["ref"]
        if self.cfg.stage == "supervised":
            with self._autocast():
                first = self.module(gray, ref)
            ycbcr = first.ycbcr.float()
            return {"total": chroma_ssim_loss(ycbcr, batch["target"]),
                    "first_ssim_cbcr": 1 - chroma_ssim_loss(ycbcr.detach(), batch["target"])}
        with self._autocast():
            out = colorize_cycle(self.module, gray, ref)
        out = CycleOutput(*(Colorized(c.ycbcr.float(), c.warped_y.float(), c.weights.float())
                            for c in (out.first, out.second)))
        terms: dict[str, torch.Tensor] = {}
        if lc.structure > 0:
            if lc.ss_kind == "ssm":
                terms["ss"] = structure_similarity_loss(self.ssm, gray, out.first.warped_y)
            else:
                terms["ss"] = ssim_structure_loss(gray, out.first.warped_y)
        if lc.cycle > 0:
            terms["cc"] = cycle_consistency_loss(out.second.ycbcr, ref)
        if lc.smooth > 0:
            terms["smooth"] = 0.5 * (smoothness_loss(out.first.weights) + smoothness_loss(out.second.weights))
        weights = {"ss": lc.structure, "cc": lc.cycle, "smooth": lc.smooth}
        total = sum(weights[k] * v for k, v in terms.items())
        with torch.no_grad():  # monitoring only: the ground truth never reaches the gradient
            terms["first_ssim_cbcr"] = 1 - chroma_ssim_loss(out.first.ycbcr, batch["target"])
        return {"total": total, **terms}

    def _autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast of M's forward pass when ``bf16`` is set and native here (losses stay float32)."""
        return bf16_autocast(self.cfg.bf16)

    def training_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.module.train()
        terms = self.losses(batch)
        self._step(terms["total"])
        return {k: v.item() for k, v in terms.items()}


def refinement_example(colorizer: ColorizationCNN, gray: torch.Tensor, ref: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One training example of the refinement CNN: ``(guide R_G, input R'_C, target R_C)``.

    All three are returned in the frame of M's second call (the batch's frame flipped), where M's
    ``i + k`` search ran: there R'_C's occlusion and border errors lie on the same side of objects
    as I_C's errors at inference (which runs in the first call's frame). In the batch's own frame
    the refiner would learn mirrored corrections.

    Args:
        gray: ``(N, 1, H, W)`` I_G; ref: ``(N, 3, H, W)`` R_C YCbCr, both in [0, 1], M's convention.

    Returns:
        ``(N, 1, H, W)``, ``(N, 3, H, W)``, ``(N, 3, H, W)``; no gradient (M is frozen).
    """
    with torch.no_grad():
        out = colorize_cycle(colorizer, gray, ref)
    return hflip(ref[:, :1]), hflip(out.second.ycbcr), hflip(ref)


class RefineTrainer(StepCounter, _Trainer):
    """Stage ``refine``: L2 from refine(R_G, R'_C) to R_C; M frozen. Adam with a linear warm-up of
    ``refine_warmup`` steps: from the zero residual head, full-size first steps of an adaptive optimizer
    overshoot the small residual to learn (logged l2 2.5x the identity's)."""

    def __init__(self, cfg: TrainConfig) -> None:
        if not cfg.colorizer_weights:
            raise TinctError("stage refine needs --set colorizer_weights=PATH (the trained M)")
        self.cfg = cfg
        self.colorizer = freeze(load_module(ColorizationCNN(cfg.model), cfg.colorizer_weights, "model."))
        self._setup(RefinementCNN(cfg.model.width, cfg.model.n_blocks), cfg.lr)
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=cfg.lr)
        self.optimizers = {"optimizer": self.optimizer}
        self.step = 0

    def training_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.module.train()
        self.step += 1
        set_warmup_lr(self.optimizer, self.cfg.lr, self.step, self.cfg.refine_warmup)
        guide, colorized, target = refinement_example(self.colorizer, batch["gray"], batch["ref"])
        loss = refinement_loss(self.module(guide, colorized), target)
        self._step(loss)
        unrefined = float(refinement_loss(colorized, target))
        return {"l2": loss.item(), "l2_unrefined": unrefined, "ratio": loss.item() / max(unrefined, 1e-12)}


def load_module(module: torch.nn.Module, path: str | Path, prefix: str) -> torch.nn.Module:
    """Load the tensors named ``prefix*`` of a safetensors file into ``module``."""
    tensors, _ = load_weights(path)
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    if not state:
        raise TinctError(f"{path}: no '{prefix}*' tensors")
    module.load_state_dict(state)
    return module


def build_trainer(cfg: TrainConfig) -> _Trainer:
    if cfg.stage not in STAGES:
        raise TinctError(f"unknown stage {cfg.stage!r}; choose one of {', '.join(STAGES)}")
    if cfg.stage == "ssm":
        return SSMTrainer(cfg)
    if cfg.stage == "refine":
        return RefineTrainer(cfg)
    return ColorizerTrainer(cfg)


PREFIX = {"ssm": "ssm.", "cycle": "model.", "supervised": "model.", "refine": "refine."}


def _needs_ssm(cfg: TrainConfig) -> bool:
    return cfg.stage == "cycle" and cfg.loss.structure > 0 and cfg.loss.ss_kind == "ssm"


def run(cfg: TrainConfig, run: RunConfig) -> int:
    """``tinct train cyclecnn``: one stage; writes ``<out>/weights.safetensors`` (+ card) at the end
    (stage bundle: ``<out>/cyclecnn.safetensors``, the inference format). Stage cycle without
    ``--ssm-weights`` first trains the SSM network for ``ssm_steps`` steps in ``<out>/ssm`` (kept and
    resumed like the main run, outside its time budget), so one command trains Cycle-CNN from scratch."""
    if cfg.stage == "bundle":
        out = Path(run.out) / "cyclecnn.safetensors"
        path = bundle_weights(cfg.colorizer_weights, cfg.refine_weights, out)
        print(f"weights: {path}")
        return 0
    if _needs_ssm(cfg) and not cfg.ssm_weights and cfg.ssm_steps > 0:
        sub = replace(run, out=str(Path(run.out) / "ssm"), steps=cfg.ssm_steps, time_budget_s=None)
        ssm_path = Path(sub.out) / "weights.safetensors"
        if not ssm_path.is_file():
            _run_stage(replace(cfg, stage="ssm"), sub)
        cfg = replace(cfg, ssm_weights=str(ssm_path))
    return _run_stage(cfg, run)


def _run_stage(cfg: TrainConfig, run: RunConfig) -> int:
    data = run.data or DEFAULT_DATA
    trainer = build_trainer(cfg)
    t0 = time.perf_counter()
    history = fit(trainer, make_batches(cfg, run.seed, data),
                  run.fit_config(default_steps=DEFAULT_STEPS, checkpoint_every=50, log_every=10),
                  resolved_config={"cyclecnn": asdict(cfg), "data": data}, desc=f"cyclecnn/{cfg.stage}")
    prefix = PREFIX[cfg.stage]
    tensors = {prefix + k: v for k, v in trainer.module.state_dict().items()}
    metrics = {"protocol": "training-loss log (last record)", **(history[-1] if history else {})}
    steps = int(history[-1].get("step", 0)) if history else 0
    seconds = train_seconds(run.out)
    extra = {"stage": cfg.stage, "steps": steps, "total_steps": steps + getattr(trainer, "steps_before", 0),
             "train_seconds": round(seconds, 1) if seconds is not None else None,
             "train_seconds_this_run": round(time.perf_counter() - t0, 1)}
    card = WeightCard(method="cyclecnn", config={**asdict(cfg), "data": data}, data=data, split="train",
                      metrics=metrics, extra=extra)
    path = save_weights(Path(run.out) / "weights.safetensors", tensors, card)
    print(f"weights: {path}")
    return 0
