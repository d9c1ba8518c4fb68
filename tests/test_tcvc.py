"""tcvc: pseudo-video pairs, networks, training via `tinct train`, streaming, luma, cuts, keyframes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures.video import moving_square_frames

import tinct
from tinct import cli, flow, io
from tinct.color import rgb_to_luma, rgb_to_uv
from tinct.data.files import load_uint8
from tinct.data.video_pairs import (
    ClipBatches,
    FramePairBatches,
    PrevShares,
    pseudo_clip,
    pseudo_pair,
    video_clip,
    video_pair,
)
from tinct.errors import TinctError
from tinct.methods.tcvc.model import (
    UV_MAX,
    blank_like,
    build_discriminator,
    build_generator,
    compose_torch,
    predict_uv,
)
from tinct.methods.tcvc.training import TcvcTrainConfig, TcvcTrainer
from tinct.nn.gan import count_parameters
from tinct.nn.unet import TranslatorConfig
from tinct.options import OptionError


def _photo(seed: int = 0, shape: tuple[int, int] = (120, 160)) -> np.ndarray:
    """A uint8 textured photo (smooth colour noise: DIS finds its motion)."""
    import cv2

    noise = np.random.default_rng(seed).random((*shape, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 3.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


def test_pseudo_video_pairs_move_by_the_shift_they_report() -> None:
    rng = np.random.default_rng(3)
    photo = _photo()
    for _ in range(4):
        pair = pseudo_pair(photo, rng, size=64, max_shift=6.0, max_zoom=0.0)
        assert pair.prev.shape == pair.cur.shape == (64, 64, 3) and pair.prev.dtype == np.uint8
        assert max(map(abs, pair.shift)) <= 6.0 and pair.zoom == 1.0
        lumas = [rgb_to_luma(x.astype(np.float32) / 255) for x in (pair.prev, pair.cur)]
        moved = flow.motion(*lumas)  # cur[y, x] = prev[y + dy, x + dx]: the flow into prev is the shift
        np.testing.assert_allclose(np.median(moved.to_prev[12:-12, 12:-12], axis=(0, 1)), pair.shift,
                                   atol=0.3)
    zoomed = pseudo_pair(photo, np.random.default_rng(1), size=64, max_shift=0.0, max_zoom=0.2)
    assert zoomed.zoom != 1.0 and zoomed.shift == (0.0, 0.0)


def test_video_pairs_and_batches() -> None:
    frames = [(f * 255).astype(np.uint8) for f in moving_square_frames(n=5)]
    pair = video_pair(frames, np.random.default_rng(0), size=32)
    assert pair.prev.shape == pair.cur.shape == (32, 32, 3)
    shares = PrevShares(blank=0.5, perturbed=0.2, self_generated=0.2, holes=0.5)
    batches = FramePairBatches([frames], [_photo()], size=32, batch_size=64, seed=0, shares=shares)
    batch = next(batches(0))
    assert batch["gray"].shape == (64, 1, 32, 32)
    assert batch["rgb"].shape == batch["prev"].shape == (64, 3, 32, 32)
    assert batch["self"].dtype == torch.bool
    blank = batch["mask"].amax(dim=(1, 2, 3)) == 0
    assert 15 < int(blank.sum()) < 50 and float(batch["prev"][blank].abs().max()) == 0.0
    assert not bool((batch["self"] & blank).any())
    np.testing.assert_allclose(rgb_to_luma(batch["rgb"].permute(0, 2, 3, 1).numpy()), batch["gray"][:, 0],
                               atol=1e-5)
    again = next(batches(0))
    assert torch.equal(again["rgb"], batch["rgb"])  # reseeded from the start step: resumable


def test_networks_shapes_and_size() -> None:
    net = build_generator().eval()
    assert 0.5e6 < count_parameters(net) < 1.0e6  # float16 weights under 2 MB
    gray = torch.rand(2, 1, 40, 56)
    with torch.no_grad():
        uv = predict_uv(net, gray, torch.rand(2, 3, 40, 56), torch.ones(2, 1, 40, 56))
        rgb = compose_torch(gray, uv)
        scores = build_discriminator()(torch.cat([gray, rgb, rgb], 1))
    assert uv.shape == (2, 2, 40, 56)
    assert float(uv[:, 0].abs().max()) <= UV_MAX[0] and float(uv[:, 1].abs().max()) <= UV_MAX[1]
    assert rgb.shape == (2, 3, 40, 56) and 0 <= float(rgb.min()) and float(rgb.max()) <= 1
    assert scores.shape[:2] == (2, 1)
    with pytest.raises(TinctError, match="maps 5 channels"):
        build_generator(TranslatorConfig(in_channels=1, out_channels=2))


def test_blank_previous_frame_ignores_what_is_masked() -> None:
    torch.manual_seed(0)
    net = build_generator().eval()
    gray = torch.rand(1, 1, 32, 48)
    with torch.no_grad():
        blank = predict_uv(net, gray, *blank_like(gray))
        masked = predict_uv(net, gray, torch.rand(1, 3, 32, 48), torch.zeros(1, 1, 32, 48))
        given = predict_uv(net, gray, torch.rand(1, 3, 32, 48), torch.ones(1, 1, 32, 48))
    assert torch.equal(blank, masked)
    assert float((given - blank).abs().max()) > 1e-4  # the previous frame is an input


def _tiny_config(**values) -> TcvcTrainConfig:
    return TcvcTrainConfig(model=TranslatorConfig(in_channels=5, out_channels=2, widths=(8, 16, 32, 32)),
                           bf16=False, warmup=1, lr=3e-3, **values)


def test_training_lowers_the_loss() -> None:
    torch.manual_seed(0)
    cfg = _tiny_config(p_self=0.3)
    trainer = TcvcTrainer(cfg, build_generator(cfg.model), total_steps=60)
    frames = [(f * 255).astype(np.uint8) for f in moving_square_frames(n=5)]
    batch = next(FramePairBatches([frames], [_photo()], size=32, batch_size=6, seed=0)(0))
    assert bool(batch["self"].any())
    losses = [trainer.training_step(batch) for _ in range(60)]
    assert {"l1", "adv", "d", "total"} <= set(losses[0])
    assert np.mean([x["l1"] for x in losses[-5:]]) < 0.6 * np.mean([x["l1"] for x in losses[:5]])


def test_self_generated_previous_frames_are_the_generators_iterates() -> None:
    torch.manual_seed(0)
    cfg = _tiny_config(p_self=1.0, p_blank=0.0, p_perturbed=0.0, chain=3)
    trainer = TcvcTrainer(cfg, build_generator(cfg.model), total_steps=10)
    frames = [(f * 255).astype(np.uint8) for f in moving_square_frames(n=5)]
    batch = next(FramePairBatches([frames], [], size=32, batch_size=2, seed=0,
                                  shares=PrevShares(0.0, 0.0, 1.0, 0.0))(0))
    gray = batch["prev_gray"]
    with torch.no_grad():
        iterates = [compose_torch(gray, predict_uv(trainer.net, gray, *blank_like(gray)))]
        for _ in range(2):
            uv = predict_uv(trainer.net, gray, iterates[-1], torch.ones_like(gray))
            iterates.append(compose_torch(gray, uv))
    seen = set()
    for step in range(12):  # the number of passes is drawn from the step: 1, 2 or 3
        trainer.step = step
        got = trainer.previous(batch)
        match = [k for k, it in enumerate(iterates) if torch.allclose(got, it, atol=1e-5)]
        assert len(match) == 1
        seen.add(match[0])
    assert seen == {0, 1, 2}
    with pytest.raises(OptionError, match="chain"):
        TcvcTrainConfig(chain=0)


def test_clips_move_at_a_constant_velocity_and_batch() -> None:
    photo, rng = _photo(), np.random.default_rng(5)
    still = pseudo_clip(photo, rng, size=48, length=3, max_shift=0.0, max_zoom=0.0)
    assert len(still) == 3 and all(np.array_equal(still[0], f) for f in still[1:])
    moving = pseudo_clip(photo, rng, size=64, length=3, max_shift=5.0, max_zoom=0.0)
    lumas = [rgb_to_luma(f.astype(np.float32) / 255) for f in moving]
    shifts = [np.median(flow.motion(a, b).to_prev[12:-12, 12:-12], axis=(0, 1))
              for a, b in zip(lumas, lumas[1:], strict=False)]
    assert np.abs(shifts[0]).max() > 1.0
    np.testing.assert_allclose(shifts[0], shifts[1], atol=0.3)  # the same step each frame
    frames = [(f * 255).astype(np.uint8) for f in moving_square_frames(n=5)]
    assert len(video_clip(frames, rng, size=32, length=5)) == 5  # the gap shrinks to fit
    with pytest.raises(TinctError, match="at least 6 frames"):
        video_clip(frames, rng, size=32, length=6)
    batches = ClipBatches([frames], [photo], length=3, p_keyframe=0.5, size=32, batch_size=40, seed=0)
    batch = next(batches(0))
    assert batch["gray"].shape == (40, 3, 1, 32, 32) and batch["rgb"].shape == (40, 3, 3, 32, 32)
    assert 8 < int(batch["keyframe"].sum()) < 32
    luma = rgb_to_luma(batch["rgb"].permute(0, 1, 3, 4, 2).numpy())
    np.testing.assert_allclose(luma, batch["gray"][:, :, 0], atol=1e-5)
    assert torch.equal(next(batches(0))["rgb"], batch["rgb"])


def test_unrolled_training_runs_the_inference_loop_and_lowers_the_loss() -> None:
    torch.manual_seed(0)
    cfg = _tiny_config(unroll=3)
    trainer = TcvcTrainer(cfg, build_generator(cfg.model), total_steps=60)
    frames = [(f * 255).astype(np.uint8) for f in moving_square_frames(n=6)]
    batch = next(ClipBatches([frames], [_photo()], length=3, size=32, batch_size=4, seed=0)(0))
    # a keyframe clip of 2 frames: frame 0 is the truth, only frame 1 is scored, fed frame 0's colours
    keyed = {"gray": batch["gray"][:, :2], "rgb": batch["rgb"][:, :2],
             "keyframe": torch.ones(4, dtype=torch.bool)}
    with torch.no_grad():
        got = trainer.losses(keyed)["l1"]
        gray1 = keyed["gray"][:, 1]
        fed = compose_torch(gray1, predict_uv(trainer.net, gray1, keyed["rgb"][:, 0], torch.ones_like(gray1)))
    assert float(got) == pytest.approx(float((fed - keyed["rgb"][:, 1]).abs().mean()), rel=1e-5)
    # from blank, frame 1's loss reaches back through frame 0's pass (backpropagation through time)
    blank = {**keyed, "keyframe": torch.zeros(4, dtype=torch.bool)}
    weight = next(trainer.net.parameters())

    def grad_of(loss: torch.Tensor) -> torch.Tensor:
        trainer.net.zero_grad()
        loss.backward()
        return weight.grad.clone()

    through = trainer.losses(blank)["l1"]
    g_through = grad_of(through)
    gray0, gray1 = blank["gray"][:, 0], blank["gray"][:, 1]
    out0 = compose_torch(gray0, predict_uv(trainer.net, gray0, *blank_like(gray0)))
    out1 = compose_torch(gray1, predict_uv(trainer.net, gray1, out0.detach(), torch.ones_like(gray1)))
    cut = torch.cat([out0 - blank["rgb"][:, 0], out1 - blank["rgb"][:, 1]]).abs().mean()
    assert float(through.detach()) == pytest.approx(float(cut.detach()), rel=1e-5)
    assert not torch.allclose(g_through, grad_of(cut), rtol=1e-3, atol=1e-7)
    losses = [trainer.training_step(batch) for _ in range(60)]
    assert np.mean([x["l1"] for x in losses[-5:]]) < 0.6 * np.mean([x["l1"] for x in losses[:5]])
    with pytest.raises(OptionError, match="unroll"):
        TcvcTrainConfig(unroll=0)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    """tcvc trained for 3 steps through `tinct train` on synthetic videos and photos."""
    root = tmp_path_factory.mktemp("tcvcdata")
    for k in range(2):
        with io.FrameWriter(root / "videos" / f"seq{k}") as writer:
            for frame in moving_square_frames(n=4, seed=k):
                writer.write(frame)
    for k in range(3):
        io.write_image(root / "photos" / f"p{k}.png", _photo(k).astype(np.float32) / 255)
    out = tmp_path_factory.mktemp("tcvcrun")
    code = cli.main(["train", "tcvc", "--data", str(root / "photos"), "--videos", str(root / "videos"),
                     "--sequences", "seq0", "--eval-sequences", "seq1", "--eval-frames", "3",
                     "--out", str(out),
                     "--steps", "3", "--crop", "32", "--batch-size", "2", "--video-short", "48",
                     "--no-progress", "--threads", "1"])
    assert code == 0
    return str(out / "tcvc.safetensors")


def test_train_command_writes_weights_with_a_card(weights: str) -> None:
    card = json.loads(Path(weights).with_suffix(".json").read_text())
    assert card["method"] == "tcvc" and card["steps"] == 3 and card["parameters"] < 1_000_000
    assert card["data"]["sequences"] == ["seq0"] and card["data"]["photos"] == 3
    assert set(card["metrics"]["seq1"]) >= {"warp_ratio", "ciede2000", "colorfulness_pred"}
    assert Path(weights).stat().st_size < 2_100_000


def test_init_continues_from_weights_and_counts_their_steps(weights: str, tmp_path: Path) -> None:
    root = Path(weights).parent
    card = json.loads(Path(weights).with_suffix(".json").read_text())
    data = Path(card["data"]["photos_folder"])
    code = cli.main(["train", "tcvc", "--data", str(data), "--videos", card["data"]["videos"],
                     "--sequences", "seq0", "--eval-sequences", "", "--out", str(tmp_path), "--init", weights,
                     "--steps", "2", "--crop", "32", "--batch-size", "2", "--video-short", "48",
                     "--no-progress", "--threads", "1"])
    assert code == 0 and root != tmp_path
    again = json.loads((tmp_path / "tcvc.json").read_text())
    assert again["init"] == weights and again["total_steps"] == 5


def test_luma_is_kept_and_frame_zero_is_the_single_image(weights: str) -> None:
    method = tinct.load_method("tcvc", weights=weights, work_size=40)
    lumas = [rgb_to_luma(f).astype(np.float32) for f in moving_square_frames(n=4)]
    outs = list(method.colorize_frames(iter(lumas)))
    for out, luma in zip(outs, lumas, strict=True):
        np.testing.assert_allclose(rgb_to_luma(out), luma, atol=2e-5)
    np.testing.assert_allclose(outs[0], method.colorize(lumas[0]), atol=1e-6)
    assert np.abs(outs[1] - method.colorize(lumas[1])).max() > 1e-4  # frame 1 saw frame 0's output
    warped = list(tinct.load_method("tcvc", weights=weights, warp=True).colorize_frames(iter(lumas)))
    assert len(warped) == 4 and np.abs(warped[1] - outs[1]).max() > 0


def test_a_scene_cut_resets_to_a_blank_previous_frame(weights: str) -> None:
    dark = [rgb_to_luma(f * 0.4).astype(np.float32) for f in moving_square_frames(n=3, seed=1)]
    bright = [rgb_to_luma(np.clip(f + 0.35, 0, 1)).astype(np.float32)
              for f in moving_square_frames(n=2, seed=2)]
    method = tinct.load_method("tcvc", weights=weights)
    outs = list(method.colorize_frames(iter(dark + bright)))
    np.testing.assert_allclose(outs[3], method.colorize(bright[0]), atol=1e-6)
    kept = tinct.load_method("tcvc", weights=weights, cut_occluded=1.0, cut_histogram=1.0)
    assert np.abs(list(kept.colorize_frames(iter(dark + bright)))[3] - outs[3]).max() > 1e-4


def test_keyframe_starts_the_stream(weights: str) -> None:
    frames = moving_square_frames(n=3)
    key = frames[0][..., ::-1].copy()
    outs = list(tinct.load_method("tcvc", weights=weights).colorize_frames(
        iter([rgb_to_luma(f).astype(np.float32) for f in frames]), keyframe=key))
    np.testing.assert_allclose(rgb_to_uv(outs[0]), rgb_to_uv(key), atol=2e-3)


def test_colorize_streams_a_clip(weights: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    frames = moving_square_frames(n=5)
    with io.FrameWriter(tmp_path / "clip.mp4") as writer:
        for frame in frames:
            writer.write(frame)
    io.write_image(tmp_path / "key.png", frames[0][..., ::-1].copy())
    assert cli.main(["colorize", "clip.mp4", "-o", "out.mp4", "--method", "tcvc", "--weights", weights,
                     "-q"]) == 0
    assert io.open_frames(tmp_path / "out.mp4").frame_count == 5
    assert cli.main(["colorize", "clip.mp4", "-o", "out/", "--method", "tcvc", "--weights", weights,
                     "--keyframe", "key.png", "-O", "warp=true", "-q"]) == 0
    written = list(io.open_frames(tmp_path / "out"))
    assert len(written) == 5
    np.testing.assert_allclose(rgb_to_uv(written[0]), rgb_to_uv(frames[0][..., ::-1]), atol=0.02)


def test_wrong_weights_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(TinctError, match="is not tcvc weights"):
        tinct.load_method("tcvc", weights=str(Path(tinct.__file__).parent / "methods" / "nir_unet" / "weights"
                                              / "default.safetensors"))


def test_real_data_pairs(shared_data: Path) -> None:
    rng = np.random.default_rng(0)
    photos = sorted((shared_data / "photos" / "extra_train").glob("*.jpg"))[:2]
    dog = sorted((shared_data / "video" / "davis2016" / "dog").glob("*.jpg"))[:3]
    frames = [load_uint8(p, 128) for p in dog]
    if not photos or not frames:
        pytest.skip("photos/extra_train or davis2016/dog is absent")
    assert min(frames[0].shape[:2]) == 128
    pair = pseudo_pair(load_uint8(photos[0]), rng, size=96)
    assert pair.cur.shape == (96, 96, 3)
    assert video_pair(frames, rng, size=64).prev.shape == (64, 64, 3)
