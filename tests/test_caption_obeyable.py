"""The manipulation test's ceiling: which words a luma-keeping output can make a region show."""

from __future__ import annotations

import numpy as np
import pytest

from tinct.bench.obeyable import CHROMAS, chroma_requests, obeyable_words
from tinct.color import compose_luma_chroma, lab_to_rgb, rgb_to_lab, rgb_to_luma, rgb_to_uv
from tinct.data.color_names import COLOR_WORDS, name_color


def flat(value: float, size: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rgb = np.full((size, size, 3), value, np.float32)
    mask = np.zeros((size, size), bool)
    mask[2:10, 2:10] = True
    return rgb, mask


def test_requests_cover_every_hue_and_chroma_once_at_zero() -> None:
    ab = chroma_requests(30.0)
    assert ab.shape == (1 + 12 * (len(CHROMAS) - 1), 2)
    assert np.hypot(ab[:, 0], ab[:, 1]).max() == pytest.approx(max(CHROMAS), rel=1e-5)
    assert (np.hypot(ab[:, 0], ab[:, 1]) < 1e-6).sum() == 1


def test_mid_gray_region_can_show_every_word_but_black_and_white() -> None:
    words = obeyable_words(*flat(0.45))
    assert words == set(COLOR_WORDS) - {"black", "white"}


def test_clipped_highlights_are_only_white_and_deep_shadow_only_black() -> None:
    assert obeyable_words(*flat(1.0)) == {"white"}
    assert obeyable_words(*flat(0.004)) == {"black"}


def test_a_bright_region_cannot_be_purple_but_can_be_yellow() -> None:
    words = obeyable_words(*flat(0.93))
    assert "yellow" in words and "purple" not in words and "white" in words


def test_a_word_it_finds_is_shown_by_the_pipeline() -> None:
    # the oracle's claim checked by hand for one request: pale yellow on a bright region
    rgb, mask = flat(0.85)
    lab = np.concatenate([rgb_to_lab(rgb)[..., :1], np.zeros(rgb.shape[:2] + (2,), np.float32)], axis=-1)
    lab[..., 2] = 60.0
    out = compose_luma_chroma(rgb_to_luma(rgb), rgb_to_uv(lab_to_rgb(lab, clip=False)).astype(np.float32))
    assert name_color(np.median(rgb_to_lab(out)[mask], axis=0)) == "yellow"
    assert "yellow" in obeyable_words(rgb, mask)
    with pytest.raises(ValueError, match="empty"):
        obeyable_words(rgb, np.zeros_like(mask))
