"""CycleGAN baseline: sizes, a training step, a falling cycle loss, resume, weights round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinct.color import rgb_to_luma, rgb_to_luma_torch
from tinct.errors import TinctError
from tinct.methods.cyclegan import CycleGANColorizer
from tinct.methods.cyclegan.model import CycleGANModelConfig, make_generators
from tinct.methods.cyclegan.training import CycleGANTrainConfig, CycleGANTrainer, export_generators
from tinct.methods.spynco.model import SpyncoGenerator, SpyncoModelConfig
from tinct.nn.gan import count_parameters
from tinct.registry import method_info
from tinct.train import load_trainable_state, trainable_state

TINY = CycleGANModelConfig(width=8, n_res_blocks=1)


def tiny_trainer() -> CycleGANTrainer:
    torch.manual_seed(0)
    return CycleGANTrainer(CycleGANTrainConfig(model=TINY, disc_width=8, lr=2e-3))


def tiny_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"gray": rgb_to_luma_torch(torch.rand(4, 3, 16, 16, generator=g)),
            "color": torch.rand(4, 3, 16, 16, generator=g)}


def test_generators_shapes_and_default_size_comparable_to_spynco() -> None:
    g, f = make_generators(TINY)
    x = torch.rand(2, 1, 16, 20)
    with torch.no_grad():
        y = g(x)
        assert y.shape == (2, 3, 16, 20) and f(y).shape == (2, 1, 16, 20)
    g, f = make_generators(CycleGANModelConfig())
    spynco = count_parameters(SpyncoGenerator(SpyncoModelConfig()))
    # each CycleGAN generator is about the size of spynco's G; the pair is about twice as large.
    assert 0.8 < count_parameters(g) / spynco < 1.2
    assert 1.6 < (count_parameters(g) + count_parameters(f)) / spynco < 2.4


def test_training_step_finite() -> None:
    t = tiny_trainer()
    losses = t.training_step(tiny_batch())
    assert set(losses) == {"g_total", "d", "adv_color", "adv_gray", "cycle_gray", "cycle_color"}
    assert all(np.isfinite(v) for v in losses.values())


def test_cycle_loss_decreases_over_a_few_steps() -> None:
    t = tiny_trainer()
    batch = tiny_batch()

    def cycle() -> float:
        with torch.no_grad():
            terms = t.generator_losses(batch["gray"], batch["color"])[0]
        return float(terms["cycle_gray"] + terms["cycle_color"])

    first = cycle()
    for _ in range(40):  # 25 steps left too little margin: 0.79 (1 thread) vs 0.80 (2 threads)
        t.training_step(batch)
    assert cycle() < 0.8 * first


def test_state_dict_round_trip() -> None:
    a = tiny_trainer()
    a.training_step(tiny_batch(0))
    b = tiny_trainer()
    load_trainable_state(b, trainable_state(a))
    assert a.training_step(tiny_batch(1)) == pytest.approx(b.training_step(tiny_batch(1)), rel=1e-5)


def test_exported_weights_colorize_odd_size(tmp_path) -> None:
    path = export_generators(tmp_path / "cg", tiny_trainer(), data={"source": "synthetic"}, split={})
    m = CycleGANColorizer(weights=str(path))
    assert m.card.method == "cyclegan" and set(m.card.extra["parameters"]) == {"G", "F", "D_color", "D_gray"}
    gray = (0.4 + 0.2 * np.random.default_rng(1).random((21, 15))).astype(np.float32)
    out = m.colorize(gray)
    assert out.shape == (21, 15, 3)
    assert np.median(np.abs(rgb_to_luma(out) - gray)) < 1e-4
    with pytest.raises(TinctError, match="not found"):
        CycleGANColorizer(weights=str(tmp_path / "nope.safetensors"))


def test_registered_trainable() -> None:
    info = method_info("cyclegan")
    assert info.trainable and info.name == "cyclegan"
