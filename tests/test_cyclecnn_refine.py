"""Refinement CNN of Cycle-CNN (Fig. 7): training frame, warm-up, a loss that falls, loading and the
``refine`` switch of the method."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

import tinct
from tinct.color import rgb_to_ycbcr
from tinct.data.dual_lens import layered_stereo_pair
from tinct.methods.cyclecnn import training
from tinct.methods.cyclecnn.inference import load_networks
from tinct.methods.cyclecnn.losses import refinement_loss
from tinct.methods.cyclecnn.model import ColorizationCNN, ModelConfig, hflip
from tinct.methods.cyclecnn.refine import RefinementCNN
from tinct.train import load_trainable_state, trainable_state
from tinct.weights import save_weights

TINY = ModelConfig(4, 1, 8)


def _textures(rng: np.random.Generator, n: int = 4) -> list[np.ndarray]:
    return [cv2.resize(rng.random((8, 12, 3)).astype(np.float32), (120, 80), interpolation=cv2.INTER_CUBIC)
            .clip(0, 1) for _ in range(n)]


@pytest.fixture
def tiny_m(tmp_path) -> str:
    """A random tiny M saved as a stage-cycle weights file."""
    torch.manual_seed(0)
    model = ColorizationCNN(TINY)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    return str(save_weights(tmp_path / "m.safetensors", tensors, {"method": "cyclecnn", "stage": "cycle"}))


def _cfg(colorizer: str, **kw) -> training.TrainConfig:
    # the scenes of the original one-pair diagnostic: no slant, colour gains or vertical misalignment
    return training.TrainConfig(stage="refine", crop_height=24, crop_width=40, batch_size=2, max_disparity=6,
                                slant_x=0.0, colour_gain=0.0, misalign_y=0.0, lr=2e-3, model=TINY,
                                colorizer_weights=colorizer, **kw)


def _batch(cfg: training.TrainConfig, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    tex = _textures(rng)
    return training._stack([training.dual_lens_sample(tex, cfg, rng, camera_sim=True) for _ in range(2)])


def test_refinement_starts_as_identity() -> None:
    torch.manual_seed(0)
    net = RefinementCNN(4, 1)
    gray = torch.rand(1, 1, 12, 16)
    ycbcr = torch.cat([gray, torch.rand(1, 2, 12, 16)], dim=1)
    assert torch.equal(net(gray, ycbcr), ycbcr)


def test_example_is_in_the_frame_of_the_second_call(tiny_m: str, rng: np.random.Generator) -> None:
    cfg = _cfg(tiny_m)
    batch = _batch(cfg, rng)
    m = training.freeze(training.load_module(ColorizationCNN(TINY), tiny_m, "model."))
    guide, colorized, target = training.refinement_example(m, batch["gray"], batch["ref"])
    assert torch.equal(guide, hflip(batch["ref"][:, :1])) and torch.equal(target, hflip(batch["ref"]))
    with torch.no_grad():  # M's second call, un-flipped: R_G (flipped) coloured from I_C (flipped)
        first = m(batch["gray"], batch["ref"]).ycbcr
        second = m(hflip(batch["ref"][:, :1]), hflip(first)).ycbcr
    torch.testing.assert_close(colorized, second)
    torch.testing.assert_close(colorized[:, :1], guide)  # R'_C keeps R_G as its Y


def test_refine_steps_reduce_loss(tiny_m: str, rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    trainer = training.build_trainer(_cfg(tiny_m, refine_warmup=1))
    assert isinstance(trainer, training.RefineTrainer)
    batch = _batch(trainer.cfg, rng)
    first = trainer.training_step(batch)
    assert first["l2"] == pytest.approx(first["l2_unrefined"])  # identity at step 1
    for _ in range(25):
        last = trainer.training_step(batch)
    assert last["l2"] < 0.7 * first["l2"]
    assert last["ratio"] < 0.7
    trainer.module.eval()  # the running BatchNorm statistics (inference) also improve
    guide, colorized, target = training.refinement_example(trainer.colorizer, batch["gray"], batch["ref"])
    with torch.no_grad():
        assert float(refinement_loss(trainer.module(guide, colorized), target)) < first["l2_unrefined"]


def test_warmup_and_resume(tiny_m: str, rng: np.random.Generator) -> None:
    trainer = training.build_trainer(_cfg(tiny_m, refine_warmup=4))
    batch = _batch(trainer.cfg, rng)
    trainer.training_step(batch)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(2e-3 / 4)
    state = trainable_state(trainer)
    again = training.build_trainer(_cfg(tiny_m, refine_warmup=4))
    load_trainable_state(again, state)
    assert again.step == 1
    again.training_step(batch)
    assert again.optimizer.param_groups[0]["lr"] == pytest.approx(2e-3 / 2)


def test_refine_stage_needs_m() -> None:
    with pytest.raises(tinct.TinctError, match="colorizer_weights"):
        training.build_trainer(training.TrainConfig(stage="refine"))


def test_bundle_and_refine_switch(tiny_m: str, tmp_path, rng: np.random.Generator) -> None:
    torch.manual_seed(1)
    refiner = RefinementCNN(4, 1)
    torch.nn.init.normal_(refiner.body.tail.weight, std=0.05)  # a non-identity refinement
    tensors = {f"refine.{k}": v for k, v in refiner.state_dict().items()}
    r_path = save_weights(tmp_path / "r.safetensors", tensors, {"method": "cyclecnn", "stage": "refine"})
    both = training.bundle_weights(tiny_m, str(r_path), tmp_path / "both.safetensors")
    nets = load_networks(both)
    assert nets.refiner is not None and load_networks(tiny_m).refiner is None
    p = layered_stereo_pair(_textures(rng), 32, 48, rng, max_disparity=5)
    gray = rgb_to_ycbcr(p.left)[..., 0].astype(np.float32)
    m_only = tinct.load_method("cyclecnn", weights=tiny_m, disparities=8).colorize(gray, reference=p.right)
    off = tinct.load_method("cyclecnn", weights=str(both), disparities=8, refine=False)
    on = tinct.load_method("cyclecnn", weights=str(both), disparities=8)
    np.testing.assert_allclose(off.colorize(gray, reference=p.right), m_only, atol=1e-6)
    refined = on.colorize(gray, reference=p.right)
    assert np.abs(refined - m_only).max() > 1e-3
    slow = tinct.load_method("cyclecnn", weights=str(both), disparities=8, optimized=False)
    np.testing.assert_allclose(slow.colorize(gray, reference=p.right), refined, atol=1e-4)


@pytest.mark.parametrize("case", ["other width", "warped-luma flag"])
def test_refine_tensors_that_do_not_fit_are_a_clear_error(tiny_m: str, case: str) -> None:
    from tinct.methods.cyclecnn.inference import networks_from_tensors
    from tinct.weights import load_weights
    tensors, _ = load_weights(tiny_m)
    width = int(tensors["model.extract_gray.head.0.weight"].shape[0])
    n_blocks = len({k.split(".")[3] for k in tensors if k.startswith("model.extract_gray.blocks.")})
    net = RefinementCNN(width + 2 if case == "other width" else width, n_blocks)
    tensors.update({f"refine.{k}": v for k, v in net.state_dict().items()})
    if case == "warped-luma flag":  # what the removed experimental refiner carried
        assert networks_from_tensors(tensors).refiner is not None  # loads without the flag
        tensors["refine.warped_luma_flag"] = torch.ones(())
    with pytest.raises(tinct.TinctError, match=r"'refine\.\*' tensors .* do not fit RefinementCNN"):
        networks_from_tensors(tensors)
