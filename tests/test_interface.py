"""The method contract of issue 13: options dataclasses, weight cards and variants, input kinds,
modalities, sequences, and the one place that checks inputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pytest

import tinct
from tinct import registry
from tinct.errors import TinctError
from tinct.hints import Hints
from tinct.options import OptionError, build_options, describe_options, option
from tinct.registry import Colorizer, Inputs, MethodInfo, MissingInput, register
from tinct.weights import WeightCard, read_card, resolve, save_weights


@dataclass(frozen=True)
class DemoOptions:
    size: int = option(3, "a size")
    gain: float = option(1.0, "a gain")
    on: bool = option(False, "a switch")
    side: Literal["left", "right"] = option("right", "a side")
    limit: int | None = option(None, "a limit or none")
    boxes: list | None = option(None, "JSON boxes")

    def __post_init__(self) -> None:
        if self.size < 1:
            raise OptionError(f"demo: size must be >= 1, got {self.size}")


def test_options_from_text_and_values() -> None:
    o = build_options(DemoOptions, {"size": "5", "gain": "2", "on": "yes", "side": "left", "limit": "none",
                                    "boxes": "[[1, 2]]"}, owner="demo")
    assert (o.size, o.gain, o.on, o.side, o.limit, o.boxes) == (5, 2.0, True, "left", None, [[1, 2]])
    assert build_options(DemoOptions, {"gain": 3, "limit": 7}).limit == 7  # typed values from the API
    assert build_options(DemoOptions, None) == DemoOptions()


@pytest.mark.parametrize(("values", "expected"), [
    ({"bogus": 1}, "demo: unknown option 'bogus'; valid options: size (int, default 3), gain (float"),
    ({"size": "big"}, "demo: option 'size' must be an integer, got 'big'"),
    ({"size": True}, "must be an integer"),
    ({"on": "maybe"}, "must be true or false"),
    ({"side": "up"}, "must be one of 'left', 'right'"),
    ({"size": 0}, "demo: size must be >= 1, got 0"),
    ({"boxes": "[1,"}, "must be JSON"),
])
def test_bad_options_are_one_line(values: dict, expected: str) -> None:
    with pytest.raises(OptionError) as caught:
        build_options(DemoOptions, values, owner="demo")
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_describe_options() -> None:
    specs = {s.name: s for s in describe_options(DemoOptions)}
    assert specs["side"].type == "'left'|'right'" and specs["limit"].type == "int | None"
    assert specs["size"].default == 3 and specs["size"].help == "a size"


class _Echo(Colorizer):
    """Returns the image as gray and records what it was given."""

    name = "_echo"
    needs = frozenset({"caption"})
    accepts = frozenset({"reference"})
    modality = "nir"
    keeps_luma = False
    reference_same_size = True
    seen: list = []

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        type(self).seen.append(inputs)
        return np.repeat(image[..., None], 3, axis=2) * 2.0  # out of range: the base class clips


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> Colorizer:
    registry.list_methods()
    monkeypatch.setitem(registry._REGISTRY, "_echo", MethodInfo(
        name="_echo", summary="s", paper="p", needs=_Echo.needs, accepts=_Echo.accepts | _Echo.needs,
        modality="nir", keeps_luma=False, factory=_Echo))
    _Echo.seen = []
    return tinct.load_method("_echo")


def test_inputs_are_checked_in_one_place(echo: Colorizer) -> None:
    band = np.full((6, 8), 0.75, np.float32)
    with pytest.raises(MissingInput, match="needs a caption"):
        echo.colorize(band)
    with pytest.raises(TinctError, match="non-empty text"):
        echo.colorize(band, caption="   ")
    with pytest.raises(TinctError, match="near-infrared input must be"):
        echo.colorize(np.zeros((6, 8, 3)), caption="x")
    with pytest.raises(TinctError, match="rectified colour view of the same size"):
        echo.colorize(band, caption="x", reference=np.zeros((6, 9, 3)))
    hints = Hints(np.zeros((6, 8, 3), np.float32), np.ones((6, 8), bool))
    out = echo.colorize(band, caption="  a  red\ncar ", hints=hints)  # hints: not accepted, dropped
    assert out.max() == 1.0 and out.dtype == np.float32  # clipped
    assert _Echo.seen[-1] == Inputs(caption="a red car")
    assert tinct.method_info("_echo").check_inputs({"caption", "hints"}) == ["hints"]


def test_colorize_frames_streams_and_checks_sizes(echo: Colorizer) -> None:
    def frames():
        for k in range(3):
            yield np.full((4, 5), 0.1 * k, np.float32)

    outs = echo.colorize_frames(frames(), caption="x")
    first = next(outs)  # lazy: one frame in, one out
    assert first.shape == (4, 5, 3) and len(_Echo.seen) == 1
    assert len(list(outs)) == 2
    assert list(echo.colorize_frames(iter([]), caption="x")) == []
    mixed = echo.colorize_frames([np.zeros((4, 5)), np.zeros((4, 6))], caption="x")
    next(mixed)
    with pytest.raises(TinctError, match="frame 1 is 6x4 but the first frame is 5x4"):
        next(mixed)
    with pytest.raises(MissingInput):
        next(echo.colorize_frames([np.zeros((4, 5))]))


def test_register_refuses_inconsistent_declarations() -> None:
    class Bad(Colorizer):
        name = "_bad"
        modality = "sonar"

        def _colorize(self, image, inputs):
            return image

    with pytest.raises(ValueError, match="unknown modality"):
        register(summary="s", paper="p")(Bad)
    Bad.modality = "luma"
    with pytest.raises(ValueError, match="needs a 'weights' option"):
        register(summary="s", paper="p", weights={"default": "x"})(Bad)
    with pytest.raises(ValueError, match="both train_config and trainer"):
        register(summary="s", paper="p", trainer="x:y")(Bad)
    assert "_bad" not in registry._REGISTRY


def test_weight_card_round_trip_and_sections(tmp_path) -> None:
    import torch

    @dataclass
    class Model:
        width: int = 8
        widths: tuple[int, ...] = (1, 2)

    card = WeightCard(method="m", config={"model": {"width": 4, "widths": [3, 4]}}, data="d",
                      extra={"style": "warm"})
    path = save_weights(tmp_path / "w", {"x": torch.zeros(2)}, card)
    raw = json.loads(path.with_suffix(".json").read_text())
    assert raw["style"] == "warm" and raw["size_bytes"] > 0 and raw["commit"]  # extra keys at the top
    back = read_card(path)
    assert back.extra["style"] == "warm" and back.section("model", Model) == Model(4, (3, 4))
    assert back.section("missing", Model) == Model()
    back.config["model"]["depth"] = 3
    with pytest.raises(TinctError, match=r"unknown keys \['depth'\].*another model version"):
        back.section("model", Model)


def test_resolve_variants_and_paths(tmp_path) -> None:
    assert resolve("deepcolor").name == "default.safetensors"
    assert resolve("deepcolor", "warm").name == "warm.safetensors"
    with pytest.raises(TinctError, match="no spynco weights named 'nope'; bundled: default, photos"):
        resolve("spynco", "nope")
    with pytest.raises(TinctError, match="weights not found"):
        resolve("spynco", str(tmp_path / "missing.safetensors"))


def test_cyclecnn_runs_at_the_disparity_range_of_its_card() -> None:
    method = tinct.load_method("cyclecnn")
    assert method.disparities == method.card.config["model"]["disparities"] == 104  # the trained range
    assert tinct.load_method("cyclecnn", disparities=48).disparities == 48


def test_methods_name_shows_options_and_weights(capsys) -> None:
    from tinct import cli

    assert cli.main(["methods", "levin"]) == 0
    out = capsys.readouterr().out
    assert "options (-O KEY=VALUE)" in out and "max_pixels" in out and "2100000" in out and "refine" in out
    assert "training: not trainable" in out
    assert cli.main(["methods", "deepcolor"]) == 0
    out = capsys.readouterr().out
    assert "weights (--weights NAME" in out and "warm" in out and "tinct train deepcolor --help" in out
    assert cli.main(["methods", "spynco", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [w["name"] for w in info["weights"]] == ["default", "photos"] and info["keeps_luma"] is True
    assert {o["name"] for o in info["options"]} == {"weights", "keep_luma", "saturation", "short_side"}
    assert cli.main(["methods", "nope"]) == 1
    assert "unknown method 'nope'" in capsys.readouterr().err


def test_weights_flag_for_every_trainable_method_only(tmp_path, monkeypatch, capsys) -> None:
    from tinct import cli, io

    monkeypatch.chdir(tmp_path)
    io.write_image(tmp_path / "in.png", np.full((8, 20), 0.5, np.float32))
    assert cli.main(["colorize", "in.png", "--method", "gray", "--weights", "x"]) == 2
    assert "method 'gray' has no trained weights" in capsys.readouterr().err
    assert cli.main(["colorize", "in.png", "--method", "spynco", "--weights", "photos", "-q"]) == 0
    assert cli.main(["colorize", "in.png", "--method", "spynco", "--weights", "nope", "-q"]) == 1
    assert "no spynco weights named 'nope'; bundled: default, photos" in capsys.readouterr().err
    assert cli.main(["colorize", "in.png", "--method", "spynco", "--weights", "a", "-O", "weights=b"]) == 2
    assert cli.main(["colorize", "in.png", "--method", "levin"]) == 2
    assert "needs colour scribbles (hints): pass --hints IMG" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["deepcolor", "spynco"])
def test_saturation_scales_chroma_within_gamut(name: str) -> None:
    from skimage import data, transform

    from tinct.color import rgb_to_luma, rgb_to_uv

    g = rgb_to_luma(transform.resize(data.astronaut(), (64, 64), anti_aliasing=True)).astype(np.float32)
    base = tinct.load_method(name).colorize(g)
    gray = tinct.load_method(name, saturation=0.0).colorize(g)
    vivid = tinct.load_method(name, saturation=1.5).colorize(g)
    assert np.abs(rgb_to_uv(gray)).max() < 1e-5
    assert np.abs(rgb_to_uv(vivid)).mean() > 1.2 * np.abs(rgb_to_uv(base)).mean()
    np.testing.assert_allclose(rgb_to_luma(vivid), g, atol=2e-5)
    with pytest.raises(OptionError, match="saturation must be in"):
        tinct.load_method(name, saturation=-1)
