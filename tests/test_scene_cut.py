"""Scene-cut detection shared by video-blend and tcvc (`tinct.scene_cut`)."""

from __future__ import annotations

import numpy as np
import pytest

import tinct
from tinct.options import OptionError
from tinct.scene_cut import SceneCutOptions, histogram_distance


def test_histogram_distance_is_zero_for_the_same_frame_and_one_for_disjoint_ones() -> None:
    rng = np.random.default_rng(0)
    frame = rng.uniform(0, 1, (40, 60)).astype(np.float32)
    assert histogram_distance(frame, frame) == pytest.approx(0.0, abs=1e-6)
    dark, bright = np.full((40, 60), 0.1, np.float32), np.full((40, 60), 0.9, np.float32)
    assert histogram_distance(dark, bright) == pytest.approx(1.0, abs=1e-6)


def test_cut_tests_compare_with_their_thresholds() -> None:
    o = SceneCutOptions(cut_occluded=0.5, cut_histogram=0.12)
    dark, bright = np.full((8, 8), 0.1, np.float32), np.full((8, 8), 0.9, np.float32)
    assert o.histogram_cut(dark, bright) and not o.histogram_cut(dark, dark)
    assert o.occlusion_cut(0.51) and not o.occlusion_cut(0.5)


@pytest.mark.parametrize("method", ["video-blend", "tcvc"])
def test_both_temporal_methods_share_the_thresholds_and_their_checks(method: str) -> None:
    with pytest.raises(OptionError, match="cut_occluded must be in"):
        tinct.load_method(method, cut_occluded=1.5)
    with pytest.raises(OptionError, match="cut_histogram must be in"):
        tinct.load_method(method, cut_histogram=-0.1)
