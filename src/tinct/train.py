"""The one training loop for every trainable method (GANs included).

A method exposes a :class:`Trainable`: ``training_step(batch)`` does the forward pass, the
losses and its own optimizer step(s) (so a GAN can alternate generator and discriminator) and
returns a dict of float losses; ``state_dict()`` / ``load_state_dict()`` cover the model *and*
its optimizers so a run resumes exactly. :func:`fit` adds what every run needs: seeding, a
progress bar, a JSONL loss log, periodic checkpoints, resume, and the resolved config saved
beside the outputs.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from tinct.errors import TinctError


class Trainable(Protocol):
    """What :func:`fit` drives."""

    def training_step(self, batch: Any) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class FitConfig:
    """Loop settings shared by all methods."""

    out_dir: str
    steps: int = 1000
    seed: int = 0
    checkpoint_every: int = 200
    log_every: int = 10
    resume: bool = True
    progress: bool = True
    time_budget_s: float | None = None  # stop cleanly (with a checkpoint) after this many seconds


def set_cosine_lr(optimizer: torch.optim.Optimizer, base_lr: float, progress: float,
                  floor: float = 0.05) -> None:
    """Cosine annealing from ``base_lr`` (progress 0) to ``floor * base_lr`` (progress >= 1)."""
    progress = min(1.0, max(0.0, progress))
    lr = base_lr * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))
    for group in optimizer.param_groups:
        group["lr"] = lr


def set_warmup_lr(optimizer: torch.optim.Optimizer, base_lr: float, step: int, warmup: int) -> None:
    """Linear warm-up: ``base_lr * step / warmup`` for steps ``1..warmup``, then ``base_lr``."""
    lr = base_lr * min(1.0, step / max(1, warmup))
    for group in optimizer.param_groups:
        group["lr"] = lr


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """Zero the gradients, back-propagate ``loss``, step; returns the loss as a float."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _to_jsonable(obj: Any) -> Any:
    return asdict(obj) if is_dataclass(obj) and not isinstance(obj, type) else obj


def save_config(out_dir: str | Path, config: dict[str, Any]) -> Path:
    """Write the resolved config as ``config.json`` in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "config.json"
    path.write_text(json.dumps({k: _to_jsonable(v) for k, v in config.items()}, indent=2, default=str) + "\n")
    return path


def _checkpoint_path(out_dir: Path) -> Path:
    return out_dir / "checkpoint.pt"


def _save_checkpoint(out_dir: Path, trainable: Trainable, step: int) -> None:
    path = _checkpoint_path(out_dir)
    tmp = path.with_suffix(".pt.tmp")
    state = {"step": step, "trainable": trainable.state_dict(), "torch_rng": torch.get_rng_state(),
             "numpy_rng": np.random.get_state(), "python_rng": random.getstate()}
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(out_dir: Path, trainable: Trainable) -> int:
    path = _checkpoint_path(out_dir)
    if not path.is_file():
        return 0
    try:
        state = torch.load(path, weights_only=False)
    except Exception as exc:
        raise TinctError(f"cannot resume from {path}: {exc}; delete it or pass --no-resume") from None
    trainable.load_state_dict(state["trainable"])
    torch.set_rng_state(state["torch_rng"])
    np.random.set_state(state["numpy_rng"])
    random.setstate(state["python_rng"])
    return int(state["step"])


def fit(
    trainable: Trainable,
    batches: Callable[[int], Iterator[Any]],
    config: FitConfig,
    *,
    resolved_config: dict[str, Any] | None = None,
    desc: str = "train",
) -> list[dict[str, float]]:
    """Run ``config.steps`` training steps.

    Args:
        trainable: the method's training object.
        batches: ``batches(start_step)`` returns an endless iterator of batches (it is called
            again after a resume so data order can continue from ``start_step``).
        config: loop settings.
        resolved_config: the full config to save as ``config.json`` (method config included).
        desc: progress-bar label.

    Returns:
        The logged loss records of this run (one dict per ``log_every`` steps, means over them).
    """
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(out, {"fit": config, **(resolved_config or {})})
    seed_everything(config.seed)
    start = _load_checkpoint(out, trainable) if config.resume else 0
    if start >= config.steps:
        return []
    it = batches(start)
    history: list[dict[str, float]] = []
    acc: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    log = (out / "losses.jsonl").open("a")
    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, desc=desc,
               disable=not config.progress, dynamic_ncols=True)
    step = start
    try:
        for step in bar:
            losses = trainable.training_step(next(it))
            for k, v in losses.items():
                if not math.isfinite(v):
                    raise TinctError(f"training diverged at step {step}: {k} = {v}")
                acc.setdefault(k, []).append(float(v))
            if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
                rec = {"step": step + 1, **{k: float(np.mean(v)) for k, v in acc.items()},
                       "elapsed_s": time.perf_counter() - t0}
                history.append(rec)
                log.write(json.dumps(rec) + "\n")
                log.flush()
                bar.set_postfix({k: f"{v:.4g}" for k, v in rec.items() if k not in ("step", "elapsed_s")})
                acc = {}
            if (step + 1) % config.checkpoint_every == 0:
                _save_checkpoint(out, trainable, step + 1)
            if config.time_budget_s is not None and time.perf_counter() - t0 > config.time_budget_s:
                break
        _save_checkpoint(out, trainable, step + 1)
    finally:
        bar.close()
        log.close()
    return history
