"""Cycle-CNN training steps, the registered methods (cyclecnn, stereocopy) and their errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

import tinct
from tinct.color import rgb_to_ycbcr
from tinct.data.dual_lens import layered_stereo_pair
from tinct.methods.cyclecnn import training
from tinct.methods.cyclecnn.losses import LossConfig
from tinct.methods.cyclecnn.model import ColorizationCNN, ModelConfig
from tinct.methods.cyclecnn.refine import RefinementCNN
from tinct.methods.cyclecnn.ssm import StructureSimilarityNet
from tinct.methods.stereocopy import fill_invalid_disparity
from tinct.testing import load_stereo_motorcycle
from tinct.train import load_trainable_state, trainable_state
from tinct.weights import save_weights


def _textures(rng: np.random.Generator, n: int = 4) -> list[np.ndarray]:
    return [cv2.resize(rng.random((10, 14, 3)).astype(np.float32), (140, 100), interpolation=cv2.INTER_CUBIC)
            .clip(0, 1) for _ in range(n)]


def _cfg(stage: str, **kw) -> training.TrainConfig:
    return training.TrainConfig(stage=stage, crop_height=24, crop_width=40, batch_size=2, max_disparity=6,
                                lr=2e-3, model=ModelConfig(4, 1, 8), **kw)


def _batch(cfg: training.TrainConfig, rng: np.random.Generator, camera_sim: bool) -> dict[str, torch.Tensor]:
    tex = _textures(rng)
    return training._stack([training.dual_lens_sample(tex, cfg, rng, camera_sim=camera_sim)
                            for _ in range(2)])


def test_supervised_steps_reduce_loss(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    cfg = _cfg("supervised")
    trainer = training.build_trainer(cfg)
    batch = _batch(cfg, rng, camera_sim=False)
    losses = [trainer.training_step(batch)["total"] for _ in range(8)]
    assert losses[-1] < 0.8 * losses[0]


def test_cycle_steps_reduce_loss_without_ground_truth(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    cfg = _cfg("cycle", loss=LossConfig(1.0, 1.0, 0.1, "ssim"))
    trainer = training.build_trainer(cfg)
    batch = _batch(cfg, rng, camera_sim=True)
    batch_no_gt = dict(batch, target=torch.zeros_like(batch["target"]))  # GT only feeds a monitor
    first = trainer.training_step(batch_no_gt)
    assert set(first) >= {"total", "ss", "cc", "smooth"}
    for _ in range(6):
        last = trainer.training_step(batch_no_gt)
    assert last["total"] < first["total"]


def test_cycle_stage_requires_ssm_weights_and_state_round_trip(tmp_path) -> None:
    with pytest.raises(tinct.TinctError, match="ssm-weights"):
        training.build_trainer(_cfg("cycle"))
    ssm = StructureSimilarityNet(4, 1)
    path = save_weights(tmp_path / "ssm.safetensors", {f"ssm.{k}": v for k, v in ssm.state_dict().items()},
                        {"method": "cyclecnn"})
    trainer = training.build_trainer(_cfg("cycle", ssm_weights=str(path)))
    state = trainable_state(trainer)
    again = training.build_trainer(_cfg("cycle", ssm_weights=str(path)))
    load_trainable_state(again, state)
    for a, b in zip(trainer.module.parameters(), again.module.parameters(), strict=True):
        assert torch.equal(a, b)


def test_ssm_stage_steps(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    cfg = _cfg("ssm")
    trainer = training.build_trainer(cfg)
    from tinct.methods.cyclecnn.ssm import ssm_training_pair

    items = [ssm_training_pair(rng.random((24, 24, 3)).astype(np.float32), rng) for _ in range(2)]
    batch = {k: torch.stack([torch.from_numpy(it[i])[None] for it in items]) for i, k in
             enumerate(("gray", "color", "target"))}
    losses = [trainer.training_step(batch)["l1"] for _ in range(6)]
    assert losses[-1] < losses[0]


def test_generated_train_parser() -> None:
    from tinct.cli.train import resolve_run

    cfg, run = resolve_run(tinct.method_info("cyclecnn"), ["--out", "/tmp/x", "--stage", "supervised",
                                                           "--crop-height", "64", "--set", "crop_width=96",
                                                           "--set", "model.disparities=80"])
    assert cfg.stage == "supervised" and (cfg.crop_height, cfg.crop_width) == (64, 96)
    assert cfg.model.disparities == 80 and cfg.model.width == 16
    assert run.out == "/tmp/x" and run.resume and run.data is None


@pytest.fixture
def tiny_weights(tmp_path) -> str:
    torch.manual_seed(0)
    model, refiner = ColorizationCNN(ModelConfig(4, 1, 8)), RefinementCNN(4, 1)
    tensors = {**{f"model.{k}": v for k, v in model.state_dict().items()},
               **{f"refine.{k}": v for k, v in refiner.state_dict().items()}}
    return str(save_weights(tmp_path / "tiny.safetensors", tensors, {"method": "cyclecnn"}))


def _pair(rng: np.random.Generator):
    p = layered_stereo_pair(_textures(rng), 40, 64, rng, max_disparity=6)
    gray = rgb_to_ycbcr(p.left)[..., 0].astype(np.float32)
    return gray, p.right


def test_registered_method_keeps_luma(tiny_weights: str, rng: np.random.Generator) -> None:
    info = tinct.method_info("cyclecnn")
    assert info.needs == frozenset({"reference"}) and info.trainable
    gray, ref = _pair(rng)
    ref = 0.25 + 0.5 * ref  # away from the gamut border so no clipping changes Y
    gray = 0.25 + 0.5 * gray
    fast = tinct.load_method("cyclecnn", weights=tiny_weights, disparities=8)
    out = fast.colorize(gray, reference=ref)
    assert out.shape == (40, 64, 3) and out.dtype == np.float32
    np.testing.assert_allclose(rgb_to_ycbcr(out)[..., 0], gray, atol=1e-5)
    assert np.abs(rgb_to_ycbcr(out)[..., 1:] - 0.5).max() > 0.01  # it did add colour
    slow = tinct.load_method("cyclecnn", weights=tiny_weights, disparities=8, optimized=False)
    np.testing.assert_allclose(slow.colorize(gray, reference=ref), out, atol=1e-4)


def test_method_errors(tiny_weights: str, rng: np.random.Generator, tmp_path) -> None:
    gray, ref = _pair(rng)
    m = tinct.load_method("cyclecnn", weights=tiny_weights)
    with pytest.raises(tinct.TinctError, match="needs a colour reference"):
        m.colorize(gray)
    with pytest.raises(tinct.TinctError, match="same size"):
        m.colorize(gray, reference=ref[:30])
    with pytest.raises(tinct.TinctError, match="weights not found"):
        tinct.load_method("cyclecnn", weights=str(tmp_path / "missing.safetensors"))
    with pytest.raises(tinct.TinctError, match="reference_side"):
        tinct.load_method("cyclecnn", weights=tiny_weights, reference_side="top")
    with pytest.raises(tinct.TinctError, match="needs a colour reference"):
        tinct.load_method("stereocopy").colorize(gray)


@pytest.mark.parametrize("side", ["right", "left"])
def test_cyclecnn_bands_equal_one_band(side: str, tiny_weights: str, rng: np.random.Generator,
                                               monkeypatch) -> None:
    """colorize_pair runs in bands of rows with the networks' halo: the same output as one band (to float
    rounding); the plain reference path refuses a pair above its size limit up front."""
    import tinct.methods.cyclecnn.inference as inference

    gray, ref = _pair(rng)
    m = tinct.load_method("cyclecnn", weights=tiny_weights, disparities=8, reference_side=side)
    whole = m.colorize(gray, reference=ref)
    monkeypatch.setattr(inference, "BAND_PIXELS", 5 * 64)  # bands of 5 rows (halo 2 + 3 + 3 = 8)
    np.testing.assert_allclose(m.colorize(gray, reference=ref), whole, atol=2e-6, rtol=0)
    monkeypatch.setattr(inference, "band_halo", lambda nets, refine: (0, 1))  # no halo: not exact
    assert np.abs(m.colorize(gray, reference=ref) - whole).max() > 1e-5
    monkeypatch.setattr(inference, "REFERENCE_PATH_MAX_PIXELS", 40 * 64 - 1)
    slow = tinct.load_method("cyclecnn", weights=tiny_weights, disparities=8, optimized=False)
    with pytest.raises(tinct.TinctError, match="takes at most .* MP; this pair is 64x40"):
        slow.colorize(gray, reference=ref)


def test_cyclecnn_cost3d_bands_equal_one_band(rng: np.random.Generator, monkeypatch) -> None:
    """The cost3d model's bands carry its 3-D network's halo and are aligned to its strides."""
    import tinct.methods.cyclecnn.inference as inference

    torch.manual_seed(1)
    model = ColorizationCNN(ModelConfig(4, 1, 9, "cost3d", 2)).eval()
    nets = inference.optimize_networks(inference.Networks(model, RefinementCNN(4, 1).eval()))
    torch.nn.init.normal_(nets.refiner.body.tail.weight, std=0.1)  # a refinement that does something
    nets = inference.optimize_networks(inference.Networks(model, nets.refiner))
    assert inference.band_halo(nets) == (4 + (16 + 1) * 2 + 9, 8)  # M, the 3-D network, the refinement
    p = layered_stereo_pair(_textures(rng), 150, 48, rng, max_disparity=6)
    gray = rgb_to_ycbcr(p.left)[..., 0].astype(np.float32)
    whole = inference.colorize_pair(nets, gray, p.right, disparities=9)
    monkeypatch.setattr(inference, "BAND_PIXELS", 20 * 48)  # bands of 24 rows (aligned to 8), halo 48
    np.testing.assert_allclose(inference.colorize_pair(nets, gray, p.right, disparities=9), whole, atol=2e-6)


def test_fill_invalid_disparity_uses_background() -> None:
    disp = np.array([[5, 0, 0, 9, 9, 0, 2]], np.float32)
    valid = disp > 0
    np.testing.assert_array_equal(fill_invalid_disparity(disp, valid), [[5, 5, 5, 9, 9, 2, 2]])


def test_stereocopy_on_motorcycle_beats_gray() -> None:
    p = load_stereo_motorcycle()
    sl = (slice(100, 260), slice(150, 450))  # a crop keeps the test fast
    left, right = p.left[sl], p.right[sl]
    gray = rgb_to_ycbcr(left)[..., 0]
    out = tinct.load_method("stereocopy", num_disparities=160).colorize(gray, reference=right)
    inside = ((out > 0.002) & (out < 0.998)).all(axis=2)  # clipping to the RGB cube moves Y
    np.testing.assert_allclose(rgb_to_ycbcr(out)[..., 0][inside], gray[inside], atol=1e-5)
    err_copy = np.abs(rgb_to_ycbcr(out)[..., 1:] - rgb_to_ycbcr(left)[..., 1:]).mean()
    err_gray = np.abs(0.5 - rgb_to_ycbcr(left)[..., 1:]).mean()
    assert err_copy < 0.6 * err_gray
    # the mirrored rig (gray = right view) works through reference_side="left"
    flipped = tinct.load_method("stereocopy", num_disparities=160, reference_side="left")
    out2 = flipped.colorize(rgb_to_ycbcr(right)[..., 0], reference=left)
    assert np.abs(rgb_to_ycbcr(out2)[..., 1:] - rgb_to_ycbcr(right)[..., 1:]).mean() < 0.6 * err_gray


@pytest.mark.parametrize("side", ["right", "left"])
def test_stereocopy_strips_equal_one_strip(side: str, monkeypatch) -> None:
    """After the disparity search stereocopy runs in row strips with the guided filter's halo: the
    same output as one strip over the whole image (to float rounding)."""
    import tinct.methods.stereocopy as stereocopy

    p = load_stereo_motorcycle()
    sl = (slice(100, 260), slice(150, 450))
    gray = rgb_to_ycbcr(p.left[sl])[..., 0].astype(np.float32)
    ref = p.right[sl].astype(np.float32)
    method = tinct.load_method("stereocopy", num_disparities=160, reference_side=side)
    monkeypatch.setattr(stereocopy, "STRIP_ROWS", 10**6)
    whole = method.colorize(gray, reference=ref)
    monkeypatch.setattr(stereocopy, "STRIP_ROWS", 13)
    np.testing.assert_allclose(method.colorize(gray, reference=ref), whole, atol=1e-5)


def test_bundled_weights_beat_the_gray_floor(rng: np.random.Generator) -> None:
    from tinct.weights import bundled_path, load_weights

    assert tinct.method_info("cyclecnn").bundled_weights
    _, card = load_weights(bundled_path("cyclecnn"))
    assert card.method == "cyclecnn" and "middlebury2005" in card.metrics
    p = layered_stereo_pair(_textures(rng), 48, 96, rng, max_disparity=10)
    gray = rgb_to_ycbcr(p.left)[..., 0].astype(np.float32)
    out = tinct.load_method("cyclecnn", disparities=16).colorize(gray, reference=p.right)
    truth = rgb_to_ycbcr(p.left)[..., 1:]
    err = np.abs(rgb_to_ycbcr(out)[..., 1:] - truth)[~p.occluded].mean()
    assert err < 0.5 * np.abs(0.5 - truth)[~p.occluded].mean()
