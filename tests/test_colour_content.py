"""benchmarks/colour_content.py: the cast check tells a constant cast from colour that follows content."""

from __future__ import annotations

import numpy as np
from benchmark_loader import load_benchmark

from tinct.color import rgb_to_lab
from tinct.io import write_image

cc = load_benchmark("colour_content")


def test_chroma_stats_of_a_flat_and_a_two_colour_image() -> None:
    flat = np.zeros((4, 4, 3), np.float32)
    flat[..., 1:] = (10.0, -20.0)
    assert cc.chroma_stats(flat) == (10.0, -20.0, 0.0)
    two = flat.copy()
    two[:, :2, 1] = 0.0  # a: 0 on the left half, 10 on the right: each pixel 5 from the mean
    a, b, within = cc.chroma_stats(two)
    assert (a, b) == (5.0, -20.0) and abs(within - 5.0) < 1e-6


def test_summarize_constant_cast_vs_following_content() -> None:
    rng = np.random.default_rng(0)
    true = np.c_[rng.normal(0, 6, 50), rng.normal(8, 12, 50), rng.uniform(5, 15, 50)]
    cast = np.tile([1.0, 9.0, 4.0], (50, 1))
    s = cc.summarize(cast, true)
    assert s["spread_a"] == 0 and s["spread_b"] == 0 and s["corr_a"] == 0 and s["corr_b"] == 0
    follows = cc.summarize(true * 0.5, true)
    assert follows["corr_b"] > 0.999 and abs(follows["spread_b"] - 0.5 * true[:, 1].std()) < 1e-9


def test_gray_row_on_a_folder(tmp_path) -> None:
    rng = np.random.default_rng(1)
    for i in range(3):
        write_image(tmp_path / f"p{i}.png", rng.uniform(0, 1, (40, 60, 3)).astype(np.float32))
    out = tmp_path / "rep"
    assert cc.main(["--data", str(tmp_path), "--row", "plain gray=gray", "--out", str(out)]) == 0
    text = out.with_suffix(".md").read_text()
    assert "| plain gray | +0.0 | +0.0 | 0.0 | 0.0 | +0.00 | +0.00 | 0.0 |" in text
    assert "| originals |" in text
    assert rgb_to_lab(np.ones((1, 1, 3), np.float32))[0, 0, 0] > 99


def test_empty_folder_is_a_clear_error(tmp_path, capsys) -> None:
    assert cc.main(["--data", str(tmp_path), "--row", "g=gray", "--out", str(tmp_path / "r")]) == 2
    assert "no images" in capsys.readouterr().err
