"""Reinhard et al. 2001: lαβ, statistics transfer, gray-target behaviour, luma, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tinct.color import compose_luma_chroma, rgb_to_luma, rgb_to_yuv
from tinct.errors import TinctError
from tinct.methods.reinhard import ReinhardColorizer, transfer_statistics
from tinct.methods.reinhard.colorspace import lalphabeta_to_rgb, rgb_to_lalphabeta
from tinct.registry import load_method


def test_lalphabeta_round_trip_and_gray_axis(small_rgb: np.ndarray) -> None:
    np.testing.assert_allclose(lalphabeta_to_rgb(rgb_to_lalphabeta(small_rgb)), small_rgb, atol=1e-6)
    gray = rgb_to_lalphabeta(np.array([[0.2, 0.2, 0.2], [0.9, 0.9, 0.9]]))
    assert np.abs(gray[:, 1:]).max() < 0.01                   # achromatic -> α, β ≈ 0
    # paper eq. 6 by hand for one colour
    lms = np.array([0.3811 * 0.5 + 0.5783 * 0.2 + 0.0402 * 0.1, 0.1967 * 0.5 + 0.7244 * 0.2 + 0.0782 * 0.1,
                    0.0241 * 0.5 + 0.1288 * 0.2 + 0.8444 * 0.1])
    L, M, S = np.log10(lms)
    expected = [(L + M + S) / np.sqrt(3), (L + M - 2 * S) / np.sqrt(6), (L - M) / np.sqrt(2)]
    np.testing.assert_allclose(rgb_to_lalphabeta(np.array([0.5, 0.2, 0.1])), expected, rtol=1e-12)


def test_transfer_matches_reference_mean_and_std(rng: np.random.Generator) -> None:
    src = rng.normal([0, 0.1, -0.2], [1, 0.3, 0.05], (30, 40, 3))
    ref = rng.normal([1, -0.4, 0.3], [2, 0.1, 0.2], (20, 25, 3))
    out = transfer_statistics(src, ref)
    for c in (1, 2):
        assert out[..., c].mean() == pytest.approx(ref[..., c].mean(), abs=1e-12)
        assert out[..., c].std() == pytest.approx(ref[..., c].std(), rel=1e-12)
    np.testing.assert_array_equal(out[..., 0], src[..., 0])     # l untouched


def test_gray_target_gets_reference_mean_chroma(small_rgb: np.ndarray) -> None:
    gray = rgb_to_luma(small_rgb)
    ref = np.zeros((8, 8, 3), dtype=np.float32)
    ref[..., 0], ref[..., 1], ref[..., 2] = 0.7, 0.45, 0.3          # one orange colour
    out = ReinhardColorizer().colorize(gray, reference=ref)
    uv = rgb_to_yuv(out.astype(np.float64))[..., 1:]
    ref_uv = rgb_to_yuv(ref[0, 0].astype(np.float64))[1:]
    mid = (gray > 0.25) & (gray < 0.75)                           # away from gamut limits
    assert np.sign(uv[mid]).tolist().count([np.sign(ref_uv[0]), np.sign(ref_uv[1])]) == mid.sum()
    # constant α, β = constant L:M:S ratios, so the hue (UV angle) is the same everywhere
    angle = np.arctan2(uv[mid, 1], uv[mid, 0])
    assert angle.std() < 0.05
    assert abs(angle.mean() - np.arctan2(ref_uv[1], ref_uv[0])) < 0.1


def test_keeps_luma_exactly(small_rgb: np.ndarray) -> None:
    gray = rgb_to_luma(small_rgb)
    ref = small_rgb[::-1, ::-1]
    out = load_method("reinhard").colorize(gray, reference=ref)
    assert np.abs(rgb_to_luma(out.astype(np.float64)) - gray).max() < 1e-5


def test_compose_keeps_luma_and_gamut(rng: np.random.Generator) -> None:
    y = rng.random((30, 30))
    out = compose_luma_chroma(y, rng.normal(0, 0.5, (30, 30, 2)))
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.abs(rgb_to_luma(out.astype(np.float64)) - y).max() < 1e-6


def test_missing_reference_is_a_clear_error(small_rgb: np.ndarray) -> None:
    with pytest.raises(TinctError, match="needs a colour reference"):
        ReinhardColorizer().colorize(rgb_to_luma(small_rgb))


def test_strips_equal_the_whole_image_transfer(rng: np.random.Generator) -> None:
    """The colorizer works in row strips (statistics first); the result is the whole-image transfer."""
    from tinct.methods.reinhard import STRIP_ROWS
    from tinct.methods.reinhard.colorspace import rgb_to_lalphabeta as to_lab

    h = 2 * STRIP_ROWS + 37
    gray = rng.random((h, 20)).astype(np.float32)
    ref = rng.random((STRIP_ROWS + 5, 30, 3)).astype(np.float32)
    source = to_lab(np.repeat(gray[..., None], 3, axis=2))
    moved = lalphabeta_to_rgb(transfer_statistics(source, to_lab(ref)))
    whole = compose_luma_chroma(gray, rgb_to_yuv(moved)[..., 1:])
    np.testing.assert_allclose(ReinhardColorizer().colorize(gray, reference=ref), whole, atol=1e-6)
