"""One test over every registered method (as timm tests all its models).

Each method colorizes a small image with whatever it needs synthesized, returns float32
``(H, W, 3)`` in [0, 1], keeps the input's luma when it says so, colours a sequence frame by
frame like single images, refuses a missing input, and refuses a bad option with one clear line
(a usage error, exit 2, from the command line) that lists its valid options.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from skimage import data, transform

import tinct
from tinct import cli, io
from tinct.color import rgb_to_luma
from tinct.hints import Hints
from tinct.options import OptionError
from tinct.registry import MissingInput

NAMES = [info.name for info in tinct.list_methods()]


def loadable(name: str) -> tinct.MethodInfo:
    """The method's info; skip a trainable method whose default weights are not built in this checkout."""
    info = tinct.method_info(name)
    if info.weights and not info.bundled_weights:
        pytest.skip(f"{name}: its default weights are not bundled yet (tinct train {name})")
    return info
H, W = 40, 104


@pytest.fixture(scope="module")
def scene() -> dict[str, np.ndarray]:
    """A colour crop and its stereo partner 4 px to the side (rectified, same size)."""
    photo = transform.resize(data.astronaut(), (128, 128), anti_aliasing=True).astype(np.float32)
    return {"left": photo[40:40 + H, 8:8 + W], "right": photo[40:40 + H, 12:12 + W]}


def single_band(info: tinct.MethodInfo, rgb: np.ndarray) -> np.ndarray:
    """The input of the method's modality, (H, W) in [0, 1]."""
    luma = rgb_to_luma(rgb).astype(np.float32)
    if info.modality == "nir":  # a stand-in band: red-weighted brightness (vegetation-like response)
        return np.clip(0.6 * rgb[..., 0] + 0.4 * luma, 0, 1).astype(np.float32)
    if info.modality == "lineart":  # dark lines on white
        edges = np.hypot(*np.gradient(luma)) > 0.05
        return np.where(edges, 0.0, 1.0).astype(np.float32)
    return luma


def inputs_for(info: tinct.MethodInfo, scene: dict[str, np.ndarray], image: np.ndarray) -> dict:
    """Every input the method needs, synthesized."""
    kw: dict = {}
    if "reference" in info.needs:
        kw["reference"] = scene["right"]
    if "hints" in info.needs:
        mask = np.zeros(image.shape, bool)
        mask[5:8, 10:60] = mask[25:28, 40:100] = True
        kw["hints"] = Hints(scene["left"], mask)
    if "caption" in info.needs:
        kw["caption"] = "a woman in a white suit in front of a dark wall"
    return kw


@pytest.mark.parametrize("name", NAMES)
def test_contract(name: str, scene: dict[str, np.ndarray]) -> None:
    info = loadable(name)
    method = tinct.load_method(name)
    image = single_band(info, scene["left"])
    kw = inputs_for(info, scene, image)
    out = method.colorize(image, **kw)
    assert out.shape == (H, W, 3) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    if info.modality != "luma":
        assert not info.keeps_luma, "a NIR or line-art output cannot keep the input's luma"
    if method.keeps_luma:
        np.testing.assert_allclose(rgb_to_luma(out), image, atol=2e-5)
    frames = list(method.colorize_frames(iter([image, image[::-1].copy()]), **kw))
    assert len(frames) == 2
    np.testing.assert_allclose(frames[0], out, atol=1e-5)
    if kw:
        with pytest.raises(MissingInput):
            method.colorize(image)


@pytest.mark.parametrize("name", NAMES)
def test_bad_options_are_one_clear_line(name: str, tmp_path, monkeypatch, capsys) -> None:
    info = loadable(name)
    valid = [spec.name for spec in info.option_specs()]
    with pytest.raises(OptionError) as caught:
        tinct.load_method(name, bogus=1)
    message = str(caught.value)
    assert "\n" not in message and "unknown option 'bogus'" in message
    assert all(option in message for option in valid)
    monkeypatch.chdir(tmp_path)
    io.write_image(tmp_path / "in.png", rgb_to_luma(np.full((8, 24, 3), 0.5, np.float32)))
    extra = ["--reference", "in.png"] if "reference" in info.needs else []
    extra += ["--hints", "in.png"] if "hints" in info.needs else []
    extra += ["--caption", "red"] if "caption" in info.needs else []
    assert cli.main(["colorize", "in.png", "--method", name, "-O", "bogus=1", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown option 'bogus'" in err and "Traceback" not in err
    typed = [s for s in info.option_specs() if s.type in ("int", "float", "bool")]
    if typed:
        assert cli.main(["colorize", "in.png", "--method", name, "-O", f"{typed[0].name}=lots", *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and typed[0].name in err


@pytest.mark.parametrize("name", NAMES)
def test_options_and_weights_are_registry_data(name: str) -> None:
    info = loadable(name)
    for spec in info.option_specs():
        assert spec.help, f"{name}.{spec.name} has no help text"
    defaults = {s.name: s.default for s in info.option_specs()}
    assert dataclasses.asdict(tinct.load_method(name).options) == defaults
    if info.weights:
        assert "weights" in defaults and "default" in info.weights
        assert info.trainable and info.bundled_weights
