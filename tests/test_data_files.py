"""tinct.data.files: the training folders' listing and uint8 loader shared by the data modules."""

import numpy as np
import pytest

from tinct import io
from tinct.data.files import load_uint8, training_images
from tinct.errors import TinctError


def test_training_images_lists_images_and_says_why_a_folder_is_unusable(tmp_path) -> None:
    with pytest.raises(TinctError, match="image folder not found"):
        training_images(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(TinctError, match="no images in"):
        training_images(tmp_path)
    for name in ("b.png", "a.jpg"):
        io.write_image(tmp_path / name, np.zeros((8, 8, 3), np.float32))
    assert [p.name for p in training_images(tmp_path)] == ["a.jpg", "b.png"]


def test_load_uint8_round_trips_and_resizes_the_short_side(tmp_path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (40, 60, 3)).astype(np.uint8)
    io.write_image(tmp_path / "x.png", rgb.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(load_uint8(tmp_path / "x.png"), rgb)  # PNG is lossless
    small = load_uint8(tmp_path / "x.png", short_side=20)
    assert small.shape == (20, 30, 3) and small.dtype == np.uint8
