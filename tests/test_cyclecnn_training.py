"""Cycle-CNN training data and modes added for issue 14: slanted backgrounds, the colour camera's gains
and misalignment, uint8 textures from several folders, cost3d and bf16 steps."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from tinct.data.dual_lens import layered_stereo_pair, simulate_color_camera
from tinct.io import write_image
from tinct.methods.cyclecnn import training
from tinct.methods.cyclecnn.losses import LossConfig
from tinct.methods.cyclecnn.model import ModelConfig


def _textures(rng: np.random.Generator, n: int = 4, dtype=np.float32) -> list[np.ndarray]:
    out = [cv2.resize(rng.random((30, 40, 3)).astype(np.float32), (400, 300)) for _ in range(n)]
    return [(t * 255 + 0.5).astype(np.uint8) for t in out] if dtype == np.uint8 else out


def test_slanted_background_is_consistent(rng: np.random.Generator) -> None:
    textures = _textures(rng, dtype=np.uint8)
    slopes = []
    for _ in range(4):
        pair = layered_stereo_pair(textures, 48, 160, rng, max_disparity=30, slant_x=0.5)
        assert pair.left.dtype == np.float32 and 0 <= pair.disp_left.min() and pair.disp_left.max() <= 30.5
        h, w = pair.disp_left.shape
        map_x = (np.arange(w)[None] - pair.disp_left).astype(np.float32)
        map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
        warped = cv2.remap(pair.right, map_x, map_y, cv2.INTER_LINEAR)
        ok = ~pair.occluded & (map_x > 1)
        assert np.median(np.abs(warped - pair.left).max(-1)[ok]) < 0.01  # left(x) = right(x - d_l)
        row = pair.disp_right[0]
        slopes.append(abs(row[-1] - row[0]))
    assert max(slopes) > 1.0  # the background disparity really changes along x


def test_colour_camera_gain_and_shift(rng: np.random.Generator) -> None:
    img = cv2.resize(rng.random((10, 12, 3)).astype(np.float32), (50, 40), interpolation=cv2.INTER_CUBIC)
    img = img.clip(0, 1)
    plain = simulate_color_camera(img, np.random.default_rng(1), max_noise=0, max_blur=0)
    np.testing.assert_allclose(plain, img, atol=1e-6)
    gained = simulate_color_camera(img, np.random.default_rng(1), max_noise=0, max_blur=0, max_gain=0.2)
    ratio = np.median(gained / np.maximum(img, 1e-3), axis=(0, 1))
    assert np.all(np.abs(ratio - 1) <= 0.2 + 1e-3) and np.ptp(ratio) > 1e-3
    shifted = simulate_color_camera(img, np.random.default_rng(1), max_noise=0, max_blur=0, max_shift_y=1.0)
    assert 1e-3 < np.abs(shifted - img).mean() < 0.2


def test_textures_from_several_folders_are_uint8(tmp_path, rng: np.random.Generator) -> None:
    for folder, n in (("a", 2), ("b", 3)):
        (tmp_path / folder).mkdir()
        for i in range(n):
            write_image(tmp_path / folder / f"{i}.png", rng.random((70, 90, 3)).astype(np.float32))
    got = training.load_textures(f"{tmp_path / 'a'},{tmp_path / 'b'}", 10, rng)
    assert len(got) == 5 and all(t.dtype == np.uint8 and t.shape == (70, 90, 3) for t in got)
    assert len(training.load_textures(f"{tmp_path / 'a'},{tmp_path / 'b'}", 3, rng)) == 3


def _cfg(stage: str, **kw) -> training.TrainConfig:
    return training.TrainConfig(stage=stage, crop_height=24, crop_width=48, batch_size=2, max_disparity=8,
                                lr=2e-3, model=ModelConfig(4, 1, 12, "cost3d", 2), **kw)


@pytest.mark.parametrize("bf16", [False, True])
def test_cost3d_cycle_steps_reduce_loss(bf16: bool, rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    cfg = _cfg("cycle", loss=LossConfig(1.0, 1.0, 0.1, "ssim"), bf16=bf16)
    trainer = training.build_trainer(cfg)
    tex = _textures(rng, dtype=np.uint8)
    batch = training._stack([training.dual_lens_sample(tex, cfg, rng, camera_sim=True) for _ in range(2)])
    first = trainer.training_step(batch)
    for _ in range(6):
        last = trainer.training_step(batch)
    assert last["total"] < first["total"]
    assert trainer.module.regularizer.enc0.conv.weight.dtype == torch.float32  # autocast keeps fp32 weights


def test_supervised_cost3d_baseline_steps(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    cfg = _cfg("supervised")
    trainer = training.build_trainer(cfg)
    tex = _textures(rng)
    batch = training._stack([training.dual_lens_sample(tex, cfg, rng, camera_sim=False) for _ in range(2)])
    losses = [trainer.training_step(batch)["total"] for _ in range(8)]
    assert losses[-1] < 0.8 * losses[0]


def test_volume_gradients_are_exact() -> None:
    # the slice-wise backward of the dot-product volume and the shifted average (gradcheck in float64)
    from tinct.methods.cyclecnn.weight_volume import weight_volume, weighted_average

    gen = torch.Generator().manual_seed(0)
    fa, fb, vals = (torch.randn(2, 2, 2, 7, dtype=torch.float64, generator=gen, requires_grad=True)
                    for _ in range(3))
    scale = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(2, 2, 7, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, v, s, c: weighted_average(weight_volume(a, b, 5, s, c), v),
                                    (fa, fb, vals, scale, bias), fast_mode=True)
    assert torch.autograd.gradcheck(lambda a, b, v: weighted_average(weight_volume(a, b, 12, 1.1), v),
                                    (fa, fb, vals), fast_mode=True)  # d > W: every shift past the border


def test_one_command_trains_ssm_then_cycle_and_resumes(tmp_path, rng: np.random.Generator) -> None:
    import json

    from tinct.train import RunConfig

    data = tmp_path / "photos"
    data.mkdir()
    for i in range(3):
        write_image(data / f"{i}.png", rng.random((70, 100, 3)).astype(np.float32))
    cfg = training.TrainConfig(stage="cycle", crop_height=24, crop_width=48, max_disparity=8, max_textures=3,
                               model=ModelConfig(4, 1, 12, "cost3d", 2), ssm_steps=2)
    run = RunConfig(data=str(data), out=str(tmp_path / "run"), steps=2, progress=False)
    assert training.run(cfg, run) == 0
    assert (tmp_path / "run" / "ssm" / "weights.safetensors").is_file()
    assert (tmp_path / "run" / "weights.safetensors").is_file()
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["cyclecnn"]
    assert saved["ssm_weights"].endswith("ssm/weights.safetensors") and saved["model"]["volume"] == "cost3d"
    assert training.run(cfg, dataclasses.replace(run, steps=3)) == 0
    log = (tmp_path / "run" / "losses.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in log]
    assert steps == [2, 3]  # resumed at step 2, not restarted
    with pytest.raises(training.TinctError, match="ssm-weights"):
        training.run(dataclasses.replace(cfg, ssm_steps=0), run)
    card = json.loads((tmp_path / "run" / "weights.json").read_text())
    assert card["steps"] == 3 and card["total_steps"] == 3 and card["train_seconds"] > 0
    # --init continues from exported weights when the checkpoint is gone: the card counts all steps
    more = dataclasses.replace(run, out=str(tmp_path / "more"), steps=1)
    init = str(tmp_path / "run" / "weights.safetensors")
    assert training.run(dataclasses.replace(cfg, init=init), more) == 0
    assert json.loads((tmp_path / "more" / "weights.json").read_text())["total_steps"] == 4
    wider = dataclasses.replace(cfg, init=init, model=ModelConfig(6, 1, 12, "cost3d", 2))
    with pytest.raises(training.TinctError, match="do not fit"):
        training.run(wider, dataclasses.replace(more, out=str(tmp_path / "wider")))
