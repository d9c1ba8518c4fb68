"""``-O disparities=auto``: the range from a coarse stereo match, and the note that says which."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
import torch

import tinct
from tinct.color import rgb_to_ycbcr
from tinct.data.dual_lens import layered_stereo_pair
from tinct.methods.cyclecnn.auto_range import estimate_disparities
from tinct.methods.cyclecnn.model import ColorizationCNN, ModelConfig
from tinct.options import OptionError
from tinct.testing import load_stereo_motorcycle
from tinct.weights import WeightCard, save_weights


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_ycbcr(rgb)[..., 0].astype(np.float32)


def test_motorcycle_range_covers_its_disparities() -> None:
    pair = load_stereo_motorcycle()
    true = np.nanpercentile(pair.disp_left, 99.5)  # ~58 px
    got = estimate_disparities(_luma(pair.left), pair.right)
    assert got.source == "match" and got.disparities % 8 == 0
    assert true < got.disparities <= true + 24
    assert "chose d = " in got.describe()
    mirrored = estimate_disparities(_luma(pair.left)[:, ::-1], pair.right[:, ::-1], reference_side="left")
    assert mirrored.disparities == got.disparities


@pytest.mark.parametrize("max_disparity", [12.0, 40.0])
def test_synthetic_pair_range_follows_the_scene(max_disparity: float, rng: np.random.Generator) -> None:
    textures = [cv2.resize(rng.random((30, 40, 3)).astype(np.float32), (400, 300)) for _ in range(4)]
    pair = layered_stereo_pair(textures, 240, 320, rng, max_disparity=max_disparity)
    got = estimate_disparities(_luma(pair.left), pair.right, minimum=8)
    assert pair.disp_left.max() <= got.disparities <= pair.disp_left.max() + 24


def test_unmatched_pair_falls_back(rng: np.random.Generator) -> None:
    gray, ref = rng.random((100, 120)).astype(np.float32), rng.random((100, 120, 3)).astype(np.float32)
    got = estimate_disparities(gray, ref, fallback=80)
    assert (got.disparities, got.source) == (80, "fallback")
    assert "trained range" in got.describe()
    assert estimate_disparities(gray[:, :60], ref[:, :60], fallback=72).disparities == 72  # too narrow


def test_method_auto_option_says_what_it_chose(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    torch.manual_seed(0)
    model = ColorizationCNN(ModelConfig(4, 1, 8))
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    path = save_weights(tmp_path / "tiny.safetensors", tensors,
                        WeightCard(method="cyclecnn", config={"model": {"width": 4, "n_blocks": 1,
                                                                        "disparities": 8}}))
    pair = load_stereo_motorcycle()
    small = [cv2.resize(v, (370, 250), interpolation=cv2.INTER_AREA) for v in (pair.left, pair.right)]
    m = tinct.load_method("cyclecnn", weights=str(path), disparities="auto")
    with caplog.at_level(logging.WARNING, logger="tinct.methods.cyclecnn"):
        out = m.colorize(_luma(small[0]), reference=small[1])
    assert out.shape == (250, 370, 3)
    assert m.last_range is not None and 24 <= m.last_range.disparities <= 48  # ~29 px at half size
    assert any(f"chose d = {m.last_range.disparities}" in r.getMessage() for r in caplog.records)
    assert tinct.load_method("cyclecnn", weights=str(path)).disparities == 8  # the card's range
    with pytest.raises(OptionError, match="disparities"):
        tinct.load_method("cyclecnn", weights=str(path), disparities="wide")
