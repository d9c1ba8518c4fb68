"""The line-art method (issue 17 item 5): pairing of drawings and photos, synthetic drawings, hint
sampling, the network's input and shapes, `tinct train lineart`, strips against one pass, and bad
input (a photo as line art, a missing file)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from skimage import data, transform

import tinct
from tinct import cli
from tinct.data.lineart import (
    DrawingStyle,
    drawing_stats,
    looks_like_drawing,
    random_style,
    sample_hints,
    synthesize_drawing,
)
from tinct.data.lineart_pairs import HintPlan, LineartBatches, lineart_split, load_lineart_pair, orient_photo
from tinct.errors import TinctError, TinctWarning
from tinct.hints import Hints
from tinct.io import write_image
from tinct.methods.lineart.model import IN_CHANNELS, build, network_input, spread_hints

SAMPLES = ("astronaut", "chelsea", "coffee")


def _photo(name: str = "astronaut", size: tuple[int, int] = (160, 240)) -> np.ndarray:
    return transform.resize(getattr(data, name)(), size, anti_aliasing=True).astype(np.float32)


GROUND, DISC = np.array([0.2, 0.6, 0.2], np.float32), np.array([0.9, 0.2, 0.2], np.float32)


def _scene(rng: np.random.Generator, h: int = 64, w: int = 80, *, fixed: bool = False
           ) -> tuple[np.ndarray, np.ndarray]:
    """A photo of flat discs on a ground (random colours, or green ground and red discs if ``fixed``),
    and its boundary drawing."""
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.empty((h, w, 3), np.float32)
    rgb[:] = GROUND if fixed else rng.uniform(0.2, 0.8, 3)
    label = np.zeros((h, w), int)
    for k in range(1, 4):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(8, 20)
        inside = (y - cy) ** 2 + (x - cx) ** 2 < r ** 2
        rgb[inside], label[inside] = DISC if fixed else rng.uniform(0, 1, 3), k
    edge = np.diff(label, axis=0, prepend=label[:1]) != 0
    edge |= np.diff(label, axis=1, prepend=label[:, :1]) != 0
    return np.where(edge, 0.0, 1.0).astype(np.float32), rgb


def test_real_pairs_split_and_orientation(shared_data) -> None:
    train, val = lineart_split("train", shared_data), lineart_split("val", shared_data)
    assert len(train) == 400 and len(val) == 100
    assert {p.key.split("_")[0] for p in train} == {"train", "test"}
    assert all(p.key.startswith("val_") and p.photo.parent.name == "val" for p in val)
    assert all(p.photo.parent.name == "train" for p in train)
    drawing, photo = load_lineart_pair(next(p for p in train if p.key == "train_100080"))  # a turned pair
    assert drawing.shape == (481, 321) and photo.shape == (481, 321, 3)


def test_orient_photo_picks_the_quarter_turn_that_matches_the_lines(rng) -> None:
    drawing, rgb = _scene(rng, 48, 72)
    photo = (np.rot90(rgb, 1) * 255).astype(np.uint8)  # stored turned, as 63 BSDS photos are
    upright = orient_photo((drawing * 255).astype(np.uint8), photo)
    np.testing.assert_array_equal(upright, (rgb * 255).astype(np.uint8))
    with pytest.raises(TinctError, match="cannot pair"):
        orient_photo(np.zeros((10, 20), np.uint8), np.zeros((10, 30, 3), np.uint8))


def test_missing_folder_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(TinctError, match="no line drawings"):
        lineart_split("train", tmp_path)


@pytest.mark.parametrize("kind", ["canny", "xdog"])
def test_synthetic_drawings_look_like_drawings(kind: str) -> None:
    rng = np.random.default_rng(3)
    for name in SAMPLES:
        photo = _photo(name, (300, 400))
        style = DrawingStyle(kind, **{k: v for k, v in vars(random_style(rng)).items() if k != "kind"})
        drawing = synthesize_drawing(photo, style=style)
        stats = drawing_stats(drawing)
        assert set(np.unique(drawing)) <= {0.0, 1.0}
        assert 0.015 < stats["ink"] < 0.13 and stats["white"] > 0.85, (name, style, stats)
        assert 1.0 <= stats["width"] < 2.6, (name, style, stats)  # thin lines (human: 1.2-1.6 px)
        assert looks_like_drawing(drawing) and not looks_like_drawing(rgb_luma(photo))


def rgb_luma(rgb: np.ndarray) -> np.ndarray:
    return (rgb @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)


def test_flat_image_gives_an_empty_drawing() -> None:
    flat = np.full((64, 64, 3), 0.4, np.float32) + np.random.default_rng(0).normal(0, 0.005, (64, 64, 3))
    assert synthesize_drawing(flat.astype(np.float32), np.random.default_rng(0)).min() == 1.0


def test_hint_sampling_rate_and_colours(rng) -> None:
    photo = _photo()
    for rate in (0.0, 0.001, 0.01, 0.05):
        hints = sample_hints(photo, rng, rate=rate)
        assert abs(hints.mask.mean() - rate) < 1e-4
        np.testing.assert_array_equal(hints.color[hints.mask], photo[hints.mask])
    patches = sample_hints(photo, rng, rate=0.02, patch=3)
    assert 0.01 < patches.mask.mean() <= 0.02
    plan = HintPlan()
    shares = [plan.sample(photo, rng).mask.mean() for _ in range(300)]
    assert 0.2 < np.mean(np.equal(shares, 0.0)) < 0.4  # no hints for about 30 % of the crops
    assert max(shares) <= 0.02 and min(s for s in shares if s > 0) >= 0.0005


def test_batches_mix_human_and_synthetic_crops(rng) -> None:
    human = [tuple(((a * 255).astype(np.uint8)) for a in _scene(rng, 70, 90)) for _ in range(2)]
    extra = [(_photo(n, (96, 128)) * 255).astype(np.uint8) for n in SAMPLES]
    batch = next(LineartBatches(human, extra, crop=48, batch_size=6, seed=0)(0))
    assert batch["drawing"].shape == (6, 1, 48, 48) and batch["rgb"].shape == (6, 3, 48, 48)
    assert batch["hint_rgb"].shape == (6, 3, 48, 48) and batch["hint_mask"].shape == (6, 1, 48, 48)
    assert float(batch["drawing"].mean()) > 0.7  # mostly paper
    again = next(LineartBatches(human, extra, crop=48, batch_size=6, seed=0)(0))
    assert all(torch.equal(batch[k], again[k]) for k in batch)  # reseeded from (seed, start)


def test_network_input_and_shapes() -> None:
    net = build().eval()
    params = sum(p.numel() for p in net.parameters())
    assert 0.8e6 < params < 1.05e6 and 2 * params < 2 * 1024 ** 2  # <= 2 MB in float16
    drawing = torch.ones(2, 1, 64, 96)
    colour, mask = torch.zeros(2, 3, 64, 96), torch.zeros(2, 1, 64, 96)
    colour[:, :, 30, 40] = torch.tensor([0.9, 0.2, 0.1])
    mask[:, :, 30, 40] = 1
    x = network_input(drawing, colour, mask)
    assert x.shape == (2, IN_CHANNELS, 64, 96)
    spread, confidence = spread_hints(colour, mask)
    assert torch.allclose(spread[0, :, 35, 45], torch.tensor([0.9, 0.2, 0.1]), atol=1e-5)  # its colour
    assert float(confidence[0, 0, 30, 40]) > 0.5 > float(confidence[0, 0, 0, 0])
    assert float(network_input(drawing, colour, torch.zeros_like(mask))[:, 1:].abs().max()) == 0.0
    with torch.no_grad():
        out = net(x)
    assert out.shape == (2, 3, 64, 96) and 0 <= float(out.min()) and float(out.max()) <= 1


def _data_root(root, rng) -> None:
    """A data root like ../shared/data: drawings, photos and extra photos of synthetic scenes."""
    for split, n in (("train", 3), ("test", 2), ("val", 2)):
        for i in range(n):
            drawing, rgb = _scene(rng, fixed=True)
            write_image(root / "lineart" / "bsds500" / f"{split}_{i}_boundaries_union.png", drawing)
            write_image(root / "photos" / ("val" if split == "val" else "train") / f"{split}_{i}.png", rgb)
    for i in range(3):
        write_image(root / "photos" / "extra_train" / f"x_{i}.png", _scene(rng, 60, 70, fixed=True)[1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """`tinct train lineart` for 50 steps of a small model on synthetic scenes."""
    rng = np.random.default_rng(1)
    root, out = tmp_path_factory.mktemp("lineart_data"), tmp_path_factory.mktemp("lineart_run")
    _data_root(root, rng)
    code = cli.main(["train", "lineart", "--data", str(root), "--out", str(out), "--steps", "50",
                     "--crop", "32", "--batch-size", "4", "--warmup", "5", "--lr", "0.005", "--no-progress",
                     "--threads", "1",
                     "--set", "model.widths=[8,16,24,32]"])
    assert code == 0
    return {"weights": str(out / "lineart.safetensors"), "out": out}


def test_training_lowers_the_loss_and_writes_a_card(trained) -> None:
    logged = [json.loads(line) for line in (trained["out"] / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [25, 50] and logged[1]["total"] < 0.8 * logged[0]["total"]
    card = json.loads(open(trained["weights"].replace(".safetensors", ".json")).read())
    assert card["method"] == "lineart" and card["steps"] == 50 and card["parameters"] > 0
    assert set(card["metrics"]) >= {"no_hints", "hints_1pct"} and card["metrics"]["no_hints"]["images"] == 2
    assert card["data"]["human_pairs"] == 5 and card["data"]["extra_photos"] == 3


def test_contract_and_tiles_equal_one_pass(trained, rng) -> None:
    info = tinct.method_info("lineart")
    assert info.modality == "lineart" and not info.keeps_luma and "hints" in info.accepts and info.trainable
    drawing, rgb = _scene(rng, 300, 250)
    hints = sample_hints(rgb, rng, rate=0.01)
    whole = tinct.load_method("lineart", weights=trained["weights"])
    for h in (None, hints):
        one = whole.colorize(drawing, hints=h)
        assert one.shape == (300, 250, 3) and one.dtype == np.float32
        strip_method = tinct.load_method("lineart", weights=trained["weights"], tile=64)
        stripped = strip_method.colorize(drawing, hints=h)
        assert np.abs(stripped - one).mean() < 0.01  # only context beyond the 96-px halo differs
    assert np.abs(whole.colorize(drawing, hints=hints) - whole.colorize(drawing)).mean() > 1e-4  # hints count


def test_a_photo_as_line_art_is_drawn_first(trained) -> None:
    method = tinct.load_method("lineart", weights=trained["weights"])
    photo = rgb_luma(_photo())
    with pytest.warns(TinctWarning, match="photo, not a line drawing"):
        out = method.colorize(photo)
    assert out.shape == (*photo.shape, 3) and np.isfinite(out).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", TinctWarning)
        tinct.load_method("lineart", weights=trained["weights"], convert="never").colorize(photo)
    with pytest.warns(TinctWarning, match="inverted"):
        method.colorize(1.0 - _scene(np.random.default_rng(0))[0])


def test_cli_bad_input_is_one_line(trained, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    # a missing input file is "a bad input file" of docs/cli.md (exit 1, as for every method); a
    # command-line mistake (an unknown -O option) is a usage error (exit 2)
    assert cli.main(["colorize", "missing.png", "--method", "lineart", "--weights", trained["weights"],
                     "-o", "out.png"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing.png: file not found" in err and "Traceback" not in err
    write_image(tmp_path / "d.png", np.ones((16, 16), np.float32))
    assert cli.main(["colorize", "d.png", "--method", "lineart", "-O", "convert=maybe", "-o", "o.png"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "convert" in err and "Traceback" not in err
    write_image(tmp_path / "photo.png", _photo())
    assert cli.main(["colorize", "photo.png", "--method", "lineart", "--weights", trained["weights"],
                     "-o", "out.png"]) == 0
    assert "warning: lineart: the input looks like a photo" in capsys.readouterr().err
    assert (tmp_path / "out.png").is_file()


def test_hints_file_through_the_cli(trained, tmp_path, rng, capsys) -> None:
    drawing, rgb = _scene(rng, 64, 80)
    write_image(tmp_path / "drawing.png", drawing)
    painted = np.repeat(drawing[..., None], 3, axis=2)
    painted[20:23, 20:23] = [0.9, 0.1, 0.1]
    write_image(tmp_path / "hints.png", painted)
    assert cli.main(["colorize", str(tmp_path / "drawing.png"), "--method", "lineart", "--weights",
                     trained["weights"], "--hints", str(tmp_path / "hints.png"), "-o",
                     str(tmp_path / "out.png")]) == 0
    assert (tmp_path / "out.png").is_file()


def test_wrong_weights_are_refused() -> None:
    from tinct.weights import resolve

    nir = resolve("nir-unet", "default")
    if not nir.is_file():
        pytest.skip("nir-unet's weights are not bundled")
    with pytest.raises(TinctError, match="is not lineart weights"):
        tinct.load_method("lineart", weights=str(nir))


def test_hints_of_another_size_are_refused(trained) -> None:
    method = tinct.load_method("lineart", weights=trained["weights"])
    with pytest.raises(TinctError, match="same size"):
        method.colorize(np.ones((20, 30), np.float32), hints=Hints(np.zeros((10, 30, 3), np.float32),
                                                                   np.zeros((10, 30), bool)))


def test_tiles_cover_every_pixel_once_on_the_pooling_grid() -> None:
    from tinct.nn.tiling import grid_tiles as tiles

    seen = np.zeros((530, 1100), int)
    for rows, cols in tiles(530, 1100, 256, 96, 16):
        seen[rows.rows, cols.rows] += 1
        assert rows.lo % 16 == 0 and cols.lo % 16 == 0 and rows.lo <= rows.top and cols.lo <= cols.top
        assert rows.hi - rows.bottom <= 96 and cols.hi - cols.bottom <= 96
        assert max(rows.bottom - rows.top, cols.bottom - cols.top) <= 256
    assert (seen == 1).all()
    assert len(tiles(321, 481, 512, 96, 16)) == 1  # a BSDS drawing goes in one pass
    strips = tiles(1030, 3000, 512, 96, 16, full_width=True)  # NIR: row strips over every column
    assert len(strips) == 3 and all(c.lo == 0 and c.hi == 3000 for _, c in strips)


def test_protocol_floors_and_fixed_hints(rng) -> None:
    from tinct.bench.lineart import LineartItem, drawing_floor, flat_floor, hints_for, score, spread_hints
    from tinct.metrics import psnr

    items = [LineartItem(f"val_{i}", *_scene(rng)) for i in range(3)]
    colour = np.array([0.4, 0.5, 0.3], np.float32)
    plain = score(drawing_floor, items)
    assert plain["images"] == 3
    direct = np.mean([psnr(drawing_floor(it.drawing), it.photo) for it in items])
    assert plain["psnr"] == pytest.approx(direct, abs=1e-3)
    flat, no_lines = flat_floor(colour)(items[0].drawing), flat_floor(colour, lines=False)(items[0].drawing)
    assert (flat[items[0].drawing == 0] == 0).all() and np.allclose(no_lines, colour)
    first, again = hints_for(1, items[1].photo, 0.01), hints_for(1, items[1].photo, 0.01)
    assert np.array_equal(first.mask, again.mask) and hints_for(1, items[1].photo, 0.0) is None
    spread = spread_hints(colour)(items[1].drawing, first)
    assert np.abs(spread[first.mask] - items[1].photo[first.mask]).mean() < 0.1  # near each hint: its colour
    hinted = score(spread_hints(colour), items, hint_rate=0.05)
    assert hinted["ciede2000"] < score(flat_floor(colour), items)["ciede2000"]


def test_dense_two_tone_drawings_are_drawings() -> None:
    stripes = np.ones((40, 40), np.float32)
    stripes[:, ::2] = 0.0  # 47.5 % ink, but only two tones: a drawing, not a photo
    stripes[:, 2] = 1.0
    assert looks_like_drawing(stripes) and not looks_like_drawing(1.0 - stripes)
    assert not looks_like_drawing(np.linspace(0, 1, 1600, dtype=np.float32).reshape(40, 40))  # a gradient


def test_oracles_bound_the_flat_guesses(rng) -> None:
    from tinct.bench.lineart import LineartItem, flat_floor, oracle_score, score

    items = [LineartItem(f"val_{i}", *_scene(rng)) for i in range(3)]
    mean, rows = oracle_score("mean", items), oracle_score("rows", items)
    # the photo's own mean colour is the best constant image for PSNR; per-row means can only do better
    for colour in (np.array([0.4, 0.5, 0.3], np.float32), np.float32(0.5) * np.ones(3, np.float32)):
        assert mean["psnr"] >= score(flat_floor(colour, lines=False), items)["psnr"]
    assert rows["psnr"] >= mean["psnr"] and rows["images"] == 3
    with pytest.raises(ValueError, match="oracle kind"):
        oracle_score("median", items)
