"""fit() keeps one training clock across resumes (cards say how long a run really trained)."""

import json
import time

import numpy as np
import pytest
from torch import nn

from tinct.train import FitConfig, fit, train_seconds


class _Sleeper:
    def __init__(self) -> None:
        self.net = nn.Linear(1, 1)
        self.modules, self.optimizers = {"net": self.net}, {}

    def training_step(self, batch) -> dict[str, float]:
        time.sleep(0.01)
        return {"loss": 1.0}


def _fit(tmp_path, steps: int) -> None:
    fit(_Sleeper(), lambda start: iter(lambda: 0, 1),
        FitConfig(out_dir=str(tmp_path), steps=steps, checkpoint_every=5, log_every=5, progress=False))


def test_elapsed_is_cumulative_across_a_resume(tmp_path) -> None:
    assert train_seconds(tmp_path) is None
    _fit(tmp_path, 10)
    first = train_seconds(tmp_path)
    assert first is not None and first >= 10 * 0.01
    _fit(tmp_path, 20)  # resumes at step 10: the clock goes on from where it stopped
    rows = [json.loads(line) for line in (tmp_path / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15, 20]
    elapsed = [r["elapsed_s"] for r in rows]
    assert elapsed == sorted(elapsed) and elapsed[2] > first
    assert train_seconds(tmp_path) == elapsed[-1] >= 20 * 0.01


def test_logs_that_restart_at_zero_are_summed_per_stretch(tmp_path) -> None:
    """Logs written before the clock was kept (per-invocation elapsed) still add up."""
    rows = [(10, 100.0), (20, 200.0), (30, 50.0), (40, 120.0)]
    lines = [json.dumps({"step": s, "loss": 1.0, "elapsed_s": e}) for s, e in rows]
    (tmp_path / "losses.jsonl").write_text("\n".join(lines + ["not json"]) + "\n")
    assert train_seconds(tmp_path) == 320.0


@pytest.mark.parametrize("method", ["spynco", "cyclegan"])
def test_gan_card_records_training_time_over_every_resume(tmp_path, method: str) -> None:
    from tinct.cli import main
    from tinct.io.write import write_image
    from tinct.weights import load_weights

    rng = np.random.default_rng(0)
    (tmp_path / "photos").mkdir()
    for i in range(4):
        write_image(tmp_path / "photos" / f"{i}.png", rng.random((20, 20, 3)).astype(np.float32))
    args = ["train", method, "--data", str(tmp_path / "photos"), "--crop", "16", "--batch-size", "2",
            "--no-progress", "--out", str(tmp_path / "run"), "--export", str(tmp_path / "g")]
    assert main([*args, "--steps", "10"]) == 0
    first = train_seconds(tmp_path / "run")
    assert main([*args, "--steps", "20"]) == 0  # resumes
    training = load_weights(tmp_path / "g.safetensors")[1].extra["training"]
    assert training["steps"] == 20
    assert training["train_seconds"] == train_seconds(tmp_path / "run")
    assert training["train_seconds"] > first > 0


class _Interrupted(_Sleeper):
    """Sends this process SIGINT (or SIGTERM) during step 3, as Ctrl-C (or a kill) would."""

    def __init__(self, sig: int, times: int = 1) -> None:
        super().__init__()
        self.sig, self.times, self.calls = sig, times, 0

    def training_step(self, batch) -> dict[str, float]:
        import os

        self.calls += 1
        if self.calls == 3:
            for _ in range(self.times):
                os.kill(os.getpid(), self.sig)
        return super().training_step(batch)


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_first_interrupt_finishes_the_step_and_keeps_the_checkpoint(tmp_path, signame, capsys) -> None:
    import signal

    import torch

    sig = getattr(signal, signame)
    before = signal.getsignal(sig)
    cfg = FitConfig(out_dir=str(tmp_path), steps=100, checkpoint_every=50, log_every=1, progress=False)
    history = fit(_Interrupted(sig), lambda start: iter(lambda: 0, 1), cfg)
    assert [r["step"] for r in history] == [1, 2, 3]  # returned normally: the caller exports weights
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["step"] == 3
    assert "stopped by " + signame in capsys.readouterr().err
    assert signal.getsignal(sig) == before  # handlers restored after fit
    with pytest.raises(KeyboardInterrupt):  # twice: abort at once
        fit(_Interrupted(signal.SIGINT, times=2), lambda start: iter(lambda: 0, 1),
            FitConfig(out_dir=str(tmp_path / "b"), steps=100, checkpoint_every=50, progress=False))
