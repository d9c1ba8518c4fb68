"""The unpaired GANs at their working size: the card's training scale, the guided return to full
size, the luma kept, the option's checks; and :func:`tinct.filters.reduce_short_side`."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from tinct.color import rgb_to_luma
from tinct.data.unpaired import UnpairedImages
from tinct.filters import reduce_short_side
from tinct.methods.spynco import SpyncoColorizer
from tinct.methods.spynco.model import SpyncoGenerator, SpyncoModelConfig
from tinct.methods.spynco.training import SpyncoTrainConfig, SpyncoTrainer, export_generator
from tinct.options import OptionError
from tinct.weights import bundled_path, load_weights

TINY = SpyncoModelConfig(encoder_width=8, decoder_width=16, n_res_blocks=1)


def scene(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return (0.5 + 0.3 * np.sin(x / 9.0) * np.cos(y / 13.0)).astype(np.float32)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    torch.manual_seed(0)
    trainer = SpyncoTrainer(SpyncoTrainConfig(model=TINY, disc_width=8))
    for p in trainer.generator.parameters():  # a generator whose colour varies with the content
        p.data.normal_(0.0, 0.3)
    path = export_generator(tmp_path_factory.mktemp("g") / "g", trainer, data={}, split={},
                            inference={"short_side": 48})
    return str(path)


def test_reduce_short_side_matches_area_resize_and_keeps_small_images() -> None:
    img = np.random.default_rng(0).random((90, 150, 3)).astype(np.float32)
    small = reduce_short_side(img, 30)
    assert small.shape == (30, 50, 3)
    np.testing.assert_allclose(small, cv2.resize(img, (50, 30), interpolation=cv2.INTER_AREA))
    assert reduce_short_side(img, 0) is img and reduce_short_side(img, 90) is img
    assert reduce_short_side(img[..., 0], 45).shape == (45, 75)


def test_card_names_the_working_size_and_the_option_overrides_it(weights: str) -> None:
    assert load_weights(weights)[1].extra["inference"] == {"short_side": 48}
    assert SpyncoColorizer(weights=weights).short_side == 48
    assert SpyncoColorizer(weights=weights, short_side=0).short_side == 0
    assert SpyncoColorizer(weights=weights, short_side=64).short_side == 64
    with pytest.raises(OptionError, match="short_side"):
        SpyncoColorizer(weights=weights, short_side=8)


def test_working_size_keeps_luma_and_differs_from_full_resolution(weights: str) -> None:
    gray = scene(120, 200)
    small = SpyncoColorizer(weights=weights).colorize(gray)
    full = SpyncoColorizer(weights=weights, short_side=0).colorize(gray)
    assert small.shape == full.shape == (120, 200, 3)
    assert np.abs(rgb_to_luma(small) - gray).max() < 1e-5
    assert np.abs(small - full).max() > 1e-3  # G really ran at another scale
    raw = SpyncoColorizer(weights=weights, keep_luma=False).colorize(gray)
    assert raw.shape == (120, 200, 3) and raw.min() >= 0.0 and raw.max() <= 1.0


def test_images_no_larger_than_the_working_size_run_as_they_are(weights: str) -> None:
    gray = scene(40, 70)  # short side 40 < 48
    np.testing.assert_array_equal(SpyncoColorizer(weights=weights).colorize(gray),
                                  SpyncoColorizer(weights=weights, short_side=0).colorize(gray))


def test_working_size_chroma_is_the_small_pass_brought_up() -> None:
    """The colour at the working size, seen at that size, is the small pass's colour (much closer to
    it than the full-resolution pass is)."""
    torch.manual_seed(1)
    gen = SpyncoGenerator(TINY).eval()
    m = SpyncoColorizer.__new__(SpyncoColorizer)
    m.generator, m.short_side = gen, 0
    gray = scene(160, 240)
    m.options = type("O", (), {"keep_luma": True, "saturation": 1.0})()
    direct = m._colorize(reduce_short_side(gray, 80), None)
    m.short_side = 80
    up = m._colorize(gray, None)
    m.short_side = 0
    full = m._colorize(gray, None)

    def reduced(x: np.ndarray) -> np.ndarray:
        return cv2.resize(x, direct.shape[1::-1], interpolation=cv2.INTER_AREA)

    assert np.abs(reduced(up) - direct).mean() < 0.5 * np.abs(reduced(full) - direct).mean()


def test_unpaired_images_record_the_photos_scale(tmp_path) -> None:
    ims = [np.zeros((h, w, 3), np.uint8) for h, w in [(192, 256), (200, 300), (150, 180)]]
    files = [tmp_path / f"{i}" for i in range(3)]
    images = UnpairedImages(files, files, ims, ims)
    assert images.inference(96) == {"short_side": 192}
    cifar = [np.zeros((32, 32, 3), np.uint8)] * 3
    assert UnpairedImages(files, files, cifar, cifar).inference(32) == {}


@pytest.mark.parametrize("name", ["spynco", "cyclegan"])
def test_bundled_photos_weights_run_at_the_training_photos_scale(name: str) -> None:
    if not bundled_path(name, "photos").is_file():
        pytest.skip(f"bundled {name} photos weights not present")
    from tinct.registry import load_method

    assert load_method(name, weights="photos").short_side == 192
    assert load_method(name).short_side == 0  # the CIFAR-10 default: whole 32 px images
