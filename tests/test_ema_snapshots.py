"""The generator's moving average (tinct.nn.ema) and the snapshots of a training run (tinct.train)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tinct.errors import TinctError
from tinct.methods.cyclegan.training import CycleGANTrainConfig, CycleGANTrainer
from tinct.methods.spynco.model import SpyncoModelConfig
from tinct.methods.spynco.training import SpyncoTrainConfig, SpyncoTrainer, export_generator, snapshot_path
from tinct.nn.ema import EMA
from tinct.train import FitConfig, Snapshots, fit, load_trainable_state, trainable_state
from tinct.weights import load_weights

TINY = SpyncoModelConfig(encoder_width=8, decoder_width=8)


def test_ema_follows_with_warmup_and_converges_to_a_constant() -> None:
    net = nn.Linear(3, 2)
    ema = EMA(net, decay=0.9)
    assert not any(p.requires_grad for p in ema.average.parameters())
    start = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(net)  # first update: decay (1 + 0) / 10 = 0.1, so 90 % of the way
    assert torch.allclose(ema.average.weight, 0.1 * start + 0.9, atol=1e-6)
    for _ in range(200):
        ema.update(net)
    assert torch.allclose(ema.average.weight, torch.ones_like(net.weight), atol=1e-6)
    assert ema.current_decay() == pytest.approx(0.9)
    with pytest.raises(ValueError, match="decay"):
        EMA(net, decay=1.0)


def test_ema_averages_an_oscillating_weight() -> None:
    net = nn.Linear(1, 1, bias=False)
    ema = EMA(net, decay=0.99)
    for i in range(2000):
        with torch.no_grad():
            net.weight.fill_(1.0 if i % 2 else -1.0)
        ema.update(net)
    assert abs(float(ema.average.weight)) < 0.05  # the last iterate is +-1, the average ~0


def _batch(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"gray": torch.rand(2, 1, 16, 16, generator=g), "color": torch.rand(2, 3, 16, 16, generator=g)}


def test_spynco_exports_the_average_and_resumes_it(tmp_path) -> None:
    torch.manual_seed(0)
    t = SpyncoTrainer(SpyncoTrainConfig(model=TINY, disc_width=8, lr=2e-3, ema=0.5))
    for s in range(3):
        t.training_step(_batch(s))
    path = export_generator(tmp_path / "g", t, data={}, split={})
    tensors, _ = load_weights(path)
    key = next(iter(t.ema.average.state_dict()))
    assert torch.equal(tensors[f"G.{key}"].float(), t.ema.average.state_dict()[key].float())
    assert not torch.equal(t.ema.average.state_dict()[key], t.generator.state_dict()[key])
    u = SpyncoTrainer(SpyncoTrainConfig(model=TINY, disc_width=8, lr=2e-3, ema=0.5))
    load_trainable_state(u, trainable_state(t))
    assert int(u.ema.updates) == 3
    assert torch.equal(u.ema.average.state_dict()[key], t.ema.average.state_dict()[key])
    off = SpyncoTrainer(SpyncoTrainConfig(model=TINY, disc_width=8, ema=0.0))
    assert off.exported is off.generator and "generator_ema" not in off.modules


def test_cyclegan_keeps_an_average_of_both_generators() -> None:
    from tinct.methods.cyclegan.model import CycleGANModelConfig

    t = CycleGANTrainer(CycleGANTrainConfig(model=CycleGANModelConfig(width=8, n_res_blocks=1), disc_width=8))
    t.training_step(_batch(0))
    assert {"g_ema", "f_ema"} <= set(t.modules) and int(t.emas["g"].updates) == 1
    assert t.exported("f") is t.emas["f"].average


class _Counter:
    def __init__(self) -> None:
        self.net = nn.Linear(1, 1)
        self.modules, self.optimizers = {"net": self.net}, {}

    def training_step(self, batch) -> dict[str, float]:
        return {"loss": 1.0}


def test_snapshots_are_written_every_n_steps_and_continue_after_a_resume(tmp_path) -> None:
    written: list[int] = []
    endless = lambda start: iter(lambda: 0, 1)  # noqa: E731

    def run(steps: int) -> None:
        fit(Snapshots(_Counter(), 3, written.append), endless,
            FitConfig(out_dir=str(tmp_path), steps=steps, checkpoint_every=4, progress=False))

    run(7)
    assert written == [3, 6]
    run(10)  # resumes at step 7 from the checkpoint: the count continues
    assert written == [3, 6, 9]
    assert snapshot_path(tmp_path / "g.safetensors", 9).name == "g_step9"
    with pytest.raises(TinctError, match="at least 1"):
        Snapshots(_Counter(), 0, written.append)
