"""Colour-angle error and integer registration (tinct.metrics_align, re-exported by tinct.metrics)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinct import metrics
from tinct.metrics_align import ANGLE_EPS, aligned_pair, angular_error, best_shift, overlap, shift_errors


def pixels(*colours: tuple[float, float, float]) -> np.ndarray:
    """A (1, N, 3) float64 image of the given colours."""
    return np.array([colours], dtype=np.float64)


def test_angular_error_hand_computed_angles():
    red, green, yellow, white = (1.0, 0, 0), (0, 1.0, 0), (1.0, 1.0, 0), (1.0, 1.0, 1.0)
    assert angular_error(pixels(red), pixels(red)) == pytest.approx(0.0, abs=1e-6)
    assert angular_error(pixels(red), pixels(green), eps=0.0) == pytest.approx(90.0, abs=1e-9)
    assert angular_error(pixels(red), pixels(green)) == pytest.approx(90.0, abs=1e-3)  # eps: 1e-4 deg
    assert angular_error(pixels(red), pixels(yellow), eps=0.0) == pytest.approx(45.0, abs=1e-9)
    white_red = math.degrees(math.acos(1 / math.sqrt(3)))  # 54.7356 deg
    assert angular_error(pixels(white), pixels(red)) == pytest.approx(white_red, abs=1e-4)
    # the mean over pixels: one 90 deg and one 0 deg pixel
    assert angular_error(pixels(red, green), pixels(green, green)) == pytest.approx(45.0, abs=1e-3)


def test_angular_error_is_scale_invariant_and_symmetric(small_rgb):
    other = np.roll(small_rgb, 5, axis=1)
    base = angular_error(small_rgb, other)
    assert base > 1.0
    assert angular_error(0.5 * small_rgb, other) == pytest.approx(base, abs=1e-3)
    assert angular_error(other, small_rgb) == pytest.approx(base, abs=1e-9)
    assert angular_error(0.3 * small_rgb, small_rgb) == pytest.approx(0.0, abs=1e-3)


def test_angular_error_black_pixels_point_along_gray():
    black, gray, red = (0.0, 0.0, 0.0), (0.4, 0.4, 0.4), (0.8, 0.0, 0.0)
    assert angular_error(pixels(black), pixels(gray)) == pytest.approx(0.0, abs=1e-6)
    assert angular_error(pixels(black), pixels(black)) == 0.0
    assert angular_error(pixels(black), pixels(red)) == pytest.approx(54.7356, abs=1e-3)
    assert np.isfinite(metrics.angular_error_map(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)))).all()
    assert ANGLE_EPS < 1e-4


def test_angular_error_refuses_bad_input():
    with pytest.raises(TypeError, match="float"):
        angular_error(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        angular_error(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="same shape"):
        angular_error(np.zeros((2, 2, 3)), np.zeros((2, 3, 3)))


@pytest.mark.parametrize("shape", [(30, 41, 3), (27, 23)])
def test_shift_errors_equal_the_direct_computation(rng, shape):
    pred, target = rng.random(shape), rng.random(shape)
    direct = np.array([[np.mean(np.subtract(*overlap(pred, target, dy, dx)) ** 2) for dx in range(-3, 4)]
                       for dy in range(-3, 4)])
    np.testing.assert_allclose(shift_errors(pred, target, 3), direct, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shift", [(2, -3), (-4, 4), (0, 1), (0, 0)])
def test_best_shift_recovers_a_rolled_image(small_rgb, shift):
    target = np.roll(small_rgb, shift, axis=(0, 1))
    assert best_shift(small_rgb, target, radius=4) == shift
    pred_crop, target_crop, found = aligned_pair(small_rgb, target, radius=4)
    assert found == shift
    h, w = small_rgb.shape[:2]
    assert pred_crop.shape == target_crop.shape == (h - abs(shift[0]), w - abs(shift[1]), 3)
    np.testing.assert_array_equal(pred_crop, target_crop)  # np.roll's wrapped rows are cropped away


def test_best_shift_stays_within_radius_and_checks_sizes(small_rgb):
    far = np.roll(small_rgb, (6, 0), axis=(0, 1))
    dy, dx = best_shift(small_rgb, far, radius=2)
    assert abs(dy) <= 2 and abs(dx) <= 2
    assert best_shift(small_rgb, far, radius=0) == (0, 0)
    with pytest.raises(ValueError, match="radius"):
        best_shift(small_rgb, small_rgb, radius=24)
    with pytest.raises(ValueError, match="same shape"):
        best_shift(small_rgb, small_rgb[1:], radius=1)


def test_metrics_reexports_the_alignment_functions():
    assert metrics.angular_error is angular_error and metrics.best_shift is best_shift
    assert metrics.aligned_pair is aligned_pair
