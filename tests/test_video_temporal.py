"""Flow and occlusions, the warping-error protocol, video-blend (blending, scene cuts, keyframes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fixtures.video import ByBrightness, Flicker, moving_square_frames

import tinct
from tinct import cli, flow
from tinct.bench.video import cut_recovery, evaluate_video, luma_of
from tinct.color import rgb_to_luma, rgb_to_uv
from tinct.errors import TinctError
from tinct.methods.video_blend import VideoBlend
from tinct.options import OptionError
from tinct.registry import MissingInput


def test_forward_backward_check_on_a_synthetic_shift() -> None:
    big = moving_square_frames(n=1, shape=(64, 120))[0][..., 1]
    a, b = big[:, 10:106], big[:, 7:103]  # b(x) = a(x - 3): the view moved 3 px left
    moved = flow.motion(a, b)
    np.testing.assert_allclose(np.median(moved.to_prev[8:-8, 8:-8], axis=(0, 1)), [-3.0, 0.0], atol=0.25)
    assert not moved.valid[:, :2].any()  # left edge: seen only in b
    assert moved.valid[8:-8, 8:-8].mean() > 0.95
    h, w = 20, 30
    right = np.zeros((h, w, 2), np.float32)
    right[..., 0] = 2.0
    assert flow.visible(right, -right)[:, :-2].all()  # consistent: +2 there, -2 back
    assert not flow.visible(right, right).any()  # +2 both ways: |f + b|^2 = 16 > 0.01 * 8 + 0.5
    np.testing.assert_allclose(flow.warp(np.arange(w, dtype=np.float32)[None].repeat(h, 0), right)[:, :-2],
                               np.arange(2, w, dtype=np.float32)[None].repeat(h, 0))


def test_warping_error_is_zero_when_static_and_positive_for_flicker() -> None:
    still = [moving_square_frames(n=1)[0]] * 4
    report = evaluate_video(tinct.load_method("gray"), still, data="still")
    summary = report.summary()
    assert summary["warp_true"] == pytest.approx(0.0, abs=1e-6) and summary["warp_pred"] < 1e-6
    flicker = evaluate_video(Flicker(), still, data="still").summary()
    assert flicker["warp_pred"] > 100  # (2 * 0.08 in V)^2 in Lab units is large
    assert np.isnan(report.rows[0]["warp_pred"]) and report.rows[1]["occluded"] == 0.0
    assert "| gray |" in report.to_markdown()


def test_video_blend_removes_most_flicker_and_keeps_luma() -> None:
    frames = moving_square_frames(n=8)
    alone = evaluate_video(Flicker(), frames, data="square").summary()
    blend = VideoBlend.around(Flicker(), alpha=0.8)
    blended = evaluate_video(blend, frames, data="square").summary()
    assert blended["warp_pred"] < alone["warp_pred"] / 5
    outs = list(blend.colorize_frames(luma_of(f) for f in frames))
    for out, frame in zip(outs, frames, strict=True):
        np.testing.assert_allclose(rgb_to_luma(out), luma_of(frame), atol=2e-5)


def test_a_scene_cut_resets_to_the_inner_method() -> None:
    dark = [f * 0.5 for f in moving_square_frames(n=4, seed=1)]
    bright = [np.clip(f + 0.3, 0, 1) for f in moving_square_frames(n=3, seed=2)]
    lumas = [luma_of(f) for f in dark + bright]
    inner = ByBrightness()
    expected = inner.colorize(lumas[4])
    reset = list(VideoBlend.around(inner).colorize_frames(lumas))
    np.testing.assert_allclose(reset[4], expected, atol=1e-5)
    kept = list(VideoBlend.around(inner, cut_occluded=1.0, cut_histogram=1.0).colorize_frames(lumas))
    assert np.abs(kept[4] - expected).max() > 0.02  # without the reset the dark scene's colour lingers
    assert cut_recovery(VideoBlend.around(inner), dark, bright, first_frames=4, second_frames=3).recovery == 0
    late = cut_recovery(VideoBlend.around(inner, cut_occluded=1.0, cut_histogram=1.0), dark, bright,
                        first_frames=4, second_frames=3)
    assert late.recovery != 0


def test_keyframes_start_the_sequence() -> None:
    frames = moving_square_frames(n=3)
    lumas = [luma_of(f) for f in frames]
    key = frames[0][..., ::-1].copy()  # a colour the methods would never produce
    gray = tinct.load_method("gray")
    outs = list(gray.colorize_frames(iter(lumas), keyframe=key))
    np.testing.assert_allclose(rgb_to_uv(outs[0]), rgb_to_uv(key), atol=2e-3)
    np.testing.assert_allclose(outs[1], gray.colorize(lumas[1]), atol=1e-6)  # per frame: frame 0 only
    still = VideoBlend.around(gray, keyframe_alpha=1.0)
    carried = list(still.colorize_frames(iter([lumas[0]] * 3), keyframe=key))
    np.testing.assert_allclose(rgb_to_uv(carried[2]), rgb_to_uv(key), atol=5e-3)  # still: kept as it was
    with pytest.raises(TinctError, match="the keyframe is 10x8, the frames 96x64"):
        list(gray.colorize_frames(iter(lumas), keyframe=np.zeros((8, 10, 3), np.float32)))


def test_inner_method_option_errors() -> None:
    with pytest.raises(OptionError, match="inner method cannot be video-blend"):
        tinct.load_method("video-blend", inner="video-blend")
    with pytest.raises(OptionError, match="unknown method 'nope'"):
        tinct.load_method("video-blend", inner="nope")
    with pytest.raises(OptionError, match="alpha must be in"):
        tinct.load_method("video-blend", alpha=1.0)
    blend = tinct.load_method("video-blend", inner="reinhard")
    with pytest.raises(MissingInput):
        list(blend.colorize_frames(iter([np.zeros((8, 8), np.float32)])))


def test_bench_video_command(tmp_path, capsys) -> None:
    from tinct import io

    folder = tmp_path / "clip"
    with io.FrameWriter(folder) as writer:
        for frame in moving_square_frames(n=4):
            writer.write(frame)
    out = tmp_path / "r.json"
    assert cli.main(["bench", "video", "--method", "gray", "--data", str(folder), "--json", str(out),
                     "--markdown", str(tmp_path / "r.md"), "-q"]) == 0
    report = json.loads(out.read_text())
    assert report["summary"]["frames"] == 4 and report["summary"]["colorfulness_pred"] < 1e-3
    assert "warp err" in capsys.readouterr().out and (tmp_path / "r.md").read_text().startswith("# gray")
    assert cli.main(["bench", "video", "--method", "gray", "--data", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no such file or folder" in err
    assert cli.main(["bench", "video", "--method", "levin", "--data", str(folder)]) == 2
    assert "colours the luma alone" in capsys.readouterr().err


def test_chroma_colourfulness_is_hasler_on_the_composed_image() -> None:
    from tinct import metrics
    from tinct.color import compose_luma_chroma
    from tinct.methods.video_blend import chroma_colourfulness, saturation_gain

    uv = np.random.default_rng(0).normal(0, 0.05, (30, 40, 2)).astype(np.float32)
    rgb = compose_luma_chroma(np.full((30, 40), 0.5, np.float32), uv)  # mid-gray luma: nothing clipped
    assert chroma_colourfulness(uv) * 255 == pytest.approx(metrics.colorfulness(rgb), rel=1e-4)
    mask = np.ones((30, 40), bool)
    assert saturation_gain(uv, 0.8 * uv, mask) == pytest.approx(1.25, rel=1e-5)
    assert saturation_gain(uv, 2.0 * uv, mask) == 1.0  # never desaturates


def test_saturation_gain_is_shown_not_remembered() -> None:
    lumas = [luma_of(f) for f in moving_square_frames(n=8)]
    plain = list(VideoBlend.around(Flicker(), keep_saturation=False).colorize_frames(iter(lumas)))
    shown = list(VideoBlend.around(Flicker()).colorize_frames(iter(lumas)))
    np.testing.assert_allclose(shown[0], plain[0], atol=1e-6)  # frame 0: the inner method's
    gains = []
    for p, s in zip(plain[1:], shown[1:], strict=True):
        up, us = rgb_to_uv(p).reshape(-1, 2), rgb_to_uv(s).reshape(-1, 2)
        gains.append(np.linalg.norm(us) / np.linalg.norm(up))
        cos = (up * us).sum() / (np.linalg.norm(up) * np.linalg.norm(us))
        assert cos > 0.99  # the same blend, only scaled: the memory never saw the gain
    assert all(1.0 - 1e-3 <= g <= 1.5 + 1e-3 for g in gains), gains  # never desaturates; capped
    assert max(gains) > 1.4  # averaging the flicker desaturated, the gain undid it
    still = [lumas[0]] * 4  # a steady inner method on a still scene: nothing to undo, output = inner
    steady = ByBrightness()
    for out in VideoBlend.around(steady).colorize_frames(iter(still)):
        np.testing.assert_allclose(out, steady.colorize(still[0]), atol=2e-3)
