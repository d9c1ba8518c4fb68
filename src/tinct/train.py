"""The one training loop for every trainable method (GANs included).

A method exposes a :class:`Trainable`: ``training_step(batch)`` does the forward pass, the
losses and its own optimizer step(s) through :func:`optimizer_step` (so a GAN can alternate
generator and discriminator) and returns a dict of float losses; ``modules`` and ``optimizers``
name what it trains, so :func:`trainable_state` / :func:`load_trainable_state` (model *and*
optimizers, plus an optional ``extra_state()`` such as a step counter) are the same for every
method and a run resumes exactly. :func:`fit` adds what every run needs: seeding, a progress
bar, a JSONL loss log, periodic checkpoints, resume, a time budget and the resolved config saved
beside the outputs. :class:`RunConfig` holds the settings every ``tinct train METHOD`` shares.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import sys
import threading
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
    """What :func:`fit` drives: named modules and optimizers, and one training step.

    Optional: ``extra_state() -> dict`` and ``load_extra_state(dict)`` for anything else a resume
    needs (a step counter of a learning-rate schedule).
    """

    modules: dict[str, torch.nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    def training_step(self, batch: Any) -> dict[str, float]: ...


class StepCounter:
    """Mixin for trainables whose schedule counts steps: ``step`` is saved and restored with the
    checkpoint (``extra_state`` / ``load_extra_state``)."""

    step: int = 0

    def extra_state(self) -> dict[str, Any]:
        return {"step": self.step}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.step = int(state.get("step", 0))


class Snapshots:
    """Wraps a :class:`Trainable` so that every ``every`` steps ``write(step)`` is called (e.g. to
    export the weights for a quality-over-training curve); the count is saved with the checkpoint,
    so a resumed run writes the same snapshots. The wrapped trainer's modules and optimizers are
    the wrapper's."""

    def __init__(self, trainable: Trainable, every: int, write: Callable[[int], Any]) -> None:
        if every < 1:
            raise TinctError(f"snapshot interval must be at least 1 step, got {every}")
        self.trainable, self.every, self.write, self.step = trainable, every, write, 0
        self.modules, self.optimizers = trainable.modules, trainable.optimizers

    def training_step(self, batch: Any) -> dict[str, float]:
        losses = self.trainable.training_step(batch)
        self.step += 1
        if self.step % self.every == 0:
            self.write(self.step)
        return losses

    def extra_state(self) -> dict[str, Any]:
        inner = getattr(self.trainable, "extra_state", None)
        return {**(inner() if inner is not None else {}), "snapshot_step": self.step}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.step = int(state.get("snapshot_step", 0))
        inner = getattr(self.trainable, "load_extra_state", None)
        if inner is not None:
            inner(state)


def trainable_state(trainable: Trainable) -> dict[str, Any]:
    """Everything a resume needs: every module's and optimizer's state, plus ``extra_state()``."""
    extra = getattr(trainable, "extra_state", None)
    return {"modules": {k: m.state_dict() for k, m in trainable.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in trainable.optimizers.items()},
            "extra": extra() if extra is not None else {}}


def load_trainable_state(trainable: Trainable, state: dict[str, Any]) -> None:
    """Inverse of :func:`trainable_state`; a clear error if the names do not match."""
    for kind, own in (("modules", trainable.modules), ("optimizers", trainable.optimizers)):
        saved = state.get(kind, {})
        if set(saved) != set(own):
            raise TinctError(f"the checkpoint holds {kind} {sorted(saved)}, this run has {sorted(own)}; "
                             "delete it or pass --no-resume")
        for k, obj in own.items():
            obj.load_state_dict(saved[k])
    load_extra = getattr(trainable, "load_extra_state", None)
    if load_extra is not None:
        load_extra(state.get("extra", {}))


@dataclass
class RunConfig:
    """The settings every ``tinct train METHOD`` shares (its common flags).

    ``data`` and ``steps`` may be None: the method's own default then applies.
    """

    data: str | None = None
    out: str = "runs/train"
    steps: int | None = None
    seed: int = 0
    resume: bool = True
    progress: bool = True
    threads: int | None = None
    time_budget_s: float | None = None

    def fit_config(self, *, default_steps: int, checkpoint_every: int = 200, log_every: int = 20,
                   out_dir: str | None = None) -> FitConfig:
        """The :class:`FitConfig` of one :func:`fit` call of this run."""
        return FitConfig(out_dir=out_dir or self.out, steps=self.steps or default_steps, seed=self.seed,
                         checkpoint_every=checkpoint_every, log_every=log_every, resume=self.resume,
                         progress=self.progress, time_budget_s=self.time_budget_s)


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


def set_schedule_lr(optimizer: torch.optim.Optimizer, base_lr: float, step: int, warmup: int,
                    total_steps: int) -> None:
    """The usual schedule of step ``step`` (1-based): :func:`set_warmup_lr` for the first ``warmup``
    steps, then :func:`set_cosine_lr` over the remaining ``total_steps - warmup``."""
    if step <= warmup:
        set_warmup_lr(optimizer, base_lr, step, warmup)
    else:
        set_cosine_lr(optimizer, base_lr, (step - warmup) / max(1, total_steps - warmup))


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, *,
                   clip_norm: float | None = None) -> float:
    """Zero the gradients, back-propagate ``loss``, clip the gradient norm of the optimizer's
    parameters to ``clip_norm`` (if given), step; returns the loss as a float."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_norm is not None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, clip_norm)
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


def _save_checkpoint(out_dir: Path, trainable: Trainable, step: int, elapsed_s: float) -> None:
    path = _checkpoint_path(out_dir)
    tmp = path.with_suffix(".pt.tmp")
    state = {"step": step, "elapsed_s": elapsed_s, "trainable": trainable_state(trainable),
             "torch_rng": torch.get_rng_state(),
             "numpy_rng": np.random.get_state(), "python_rng": random.getstate()}
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(out_dir: Path, trainable: Trainable) -> tuple[int, float]:
    """Restore ``trainable`` and the RNGs; returns (step, training seconds so far), (0, 0.0) if none."""
    path = _checkpoint_path(out_dir)
    if not path.is_file():
        return 0, 0.0
    try:
        state = torch.load(path, weights_only=False)
    except Exception as exc:
        raise TinctError(f"cannot resume from {path}: {exc}; delete it or pass --no-resume") from None
    load_trainable_state(trainable, state["trainable"])
    torch.set_rng_state(state["torch_rng"])
    np.random.set_state(state["numpy_rng"])
    random.setstate(state["python_rng"])
    return int(state["step"]), float(state.get("elapsed_s", 0.0))  # checkpoints before session 16 lack it


def train_seconds(out_dir: str | Path) -> float | None:
    """Wall-clock training seconds of the run in ``out_dir``, summed over every resume, as of its last
    logged step; None when nothing is logged.

    ``elapsed_s`` in ``losses.jsonl`` is cumulative across resumes; logs written before it was (and
    a resume from such a checkpoint) restart at 0, so each stretch that restarts counts on its own.
    """
    path = Path(out_dir) / "losses.jsonl"
    if not path.is_file():
        return None
    total, last = 0.0, None
    with path.open() as f:
        for line in f:
            try:
                t = float(json.loads(line)["elapsed_s"])
            except (ValueError, KeyError, TypeError):
                continue
            if last is not None and t < last:
                total += last
            last = t
    return None if last is None else total + last


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
    start, before = _load_checkpoint(out, trainable) if config.resume else (0, 0.0)
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
    stop = _GracefulStop()
    try:
        for step in bar:
            losses = trainable.training_step(next(it))
            for k, v in losses.items():
                if not math.isfinite(v):
                    raise TinctError(f"training diverged at step {step}: {k} = {v}")
                acc.setdefault(k, []).append(float(v))
            if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
                rec = {"step": step + 1, **{k: float(np.mean(v)) for k, v in acc.items()},
                       "elapsed_s": before + time.perf_counter() - t0}
                history.append(rec)
                log.write(json.dumps(rec) + "\n")
                log.flush()
                bar.set_postfix({k: f"{v:.4g}" for k, v in rec.items() if k not in ("step", "elapsed_s")})
                acc = {}
            if (step + 1) % config.checkpoint_every == 0:
                _save_checkpoint(out, trainable, step + 1, before + time.perf_counter() - t0)
            if config.time_budget_s is not None and time.perf_counter() - t0 > config.time_budget_s:
                break
            if stop.requested:
                print(f"\n{desc}: stopped by {stop.requested} after step {step + 1}; checkpoint saved, "
                      "the same command resumes", file=sys.stderr)
                break
        _save_checkpoint(out, trainable, step + 1, before + time.perf_counter() - t0)
    finally:
        stop.restore()
        bar.close()
        log.close()
    return history


class _GracefulStop:
    """While :func:`fit` runs, the first Ctrl-C (SIGINT) or SIGTERM finishes the current step, saves
    the checkpoint and returns normally (so the caller still exports its weights); a second one
    interrupts at once. Only in the main thread (signal handlers cannot be set elsewhere)."""

    def __init__(self) -> None:
        self.requested: str | None = None
        self._old: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:  # the second time: stop now
            self.restore()
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        print(f"\n{self.requested}: stopping after this step (again to abort at once)", file=sys.stderr)

    def restore(self) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old = {}
