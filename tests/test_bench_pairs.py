"""The paired protocol (tinct.bench.pairs, ``tinct bench pairs``) and the NIR floors (bench.nir_floors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinct import cli, io, metrics
from tinct.bench.nir_floors import apply_lut, fit_lut, flat_colour, floor_methods
from tinct.bench.pairs import PAIR_METRICS, evaluate_pairs, match_globs, read_pair
from tinct.data.nir import NirPair
from tinct.errors import TinctError


def scene(seed: int, shape: tuple[int, int] = (24, 32)) -> tuple[np.ndarray, np.ndarray]:
    """A band on exact 8-bit levels and a colour image that depends on it and on position."""
    rng = np.random.default_rng(seed)
    band = rng.integers(0, 256, shape).astype(np.float32) / 255
    x = np.linspace(0, 1, shape[1], dtype=np.float32)[None, :].repeat(shape[0], 0)
    return band, np.stack([band, 1 - band, x], axis=2)


def write_scenes(folder: Path, keys: list[str], shape: tuple[int, int] = (24, 32)) -> dict[str, np.ndarray]:
    truths = {}
    for i, key in enumerate(keys):
        band, rgb = scene(i, shape)
        io.write_image(folder / f"{key}_nir.png", band)
        io.write_image(folder / f"{key}_rgb.png", rgb)
        truths[key] = io.read_rgb(folder / f"{key}_rgb.png")
    return truths


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_scenes(tmp_path / "d", ["b_2", "a_1", "c_3"])
    return tmp_path / "d"


def globs(folder: Path) -> tuple[str, str]:
    return str(folder / "*_nir.png"), str(folder / "*_rgb.png")


def test_match_globs_pairs_by_the_captured_text(folder):
    io.write_image(folder / "extra_rgb.png", np.zeros((24, 32, 3), np.float32))
    pairs, unused = match_globs(*globs(folder))
    assert [p.key for p in pairs] == ["a_1", "b_2", "c_3"]
    assert pairs[0] == NirPair("a_1", folder / "a_1_nir.png", folder / "a_1_rgb.png")
    assert unused == ["extra_rgb.png"]


def test_match_globs_errors(folder):
    io.write_image(folder / "lonely_nir.png", np.zeros((24, 32), np.float32))
    with pytest.raises(TinctError, match=r"1 input\(s\) have no truth.*lonely_nir.png"):
        match_globs(*globs(folder))
    with pytest.raises(TinctError, match="matches no file"):
        match_globs(str(folder / "*_ir.png"), str(folder / "*_rgb.png"))
    with pytest.raises(TinctError, match="no input matches a truth"):
        match_globs(str(folder / "a_*_nir.png"), str(folder / "*_rgb.png"))
    with pytest.raises(TinctError, match="exactly one"):
        match_globs(str(folder / "a_1_nir.png"), str(folder / "*_rgb.png"))


def test_evaluate_pairs_scores_and_aligns(folder):
    pairs, _ = match_globs(*globs(folder))
    truths = {p.key: read_pair(p)[1] for p in pairs}
    calls = iter(pairs)
    # the prediction is the truth moved by (1, 2): plain scores are imperfect, aligned ones exact
    report = evaluate_pairs(lambda band: np.roll(truths[next(calls).key], (1, 2), axis=(0, 1)), pairs,
                            align_radius=3, name="shifted")
    assert [r["image"] for r in report.rows] == ["a_1", "b_2", "c_3"]
    for row in report.rows:
        assert (row["dy"], row["dx"], row["shift"]) == (-1, -2, "-1,-2")
        assert row["psnr"] < 30 and row["psnr_aligned"] == np.inf
        assert row["ae_aligned"] == pytest.approx(0.0, abs=1e-6) and row["ae"] > 1
        assert row["ciede2000_aligned"] == pytest.approx(0.0, abs=1e-6)
        assert set(PAIR_METRICS) <= set(row)
    assert report.means()["abs_dx"] == 2.0
    table = report.to_markdown().splitlines()
    assert len(table) == 2 + 3 + 1 and table[-1].startswith("| **mean** |") and "2.0,1.0" not in table[-1]


def test_evaluate_pairs_gray_equals_direct_metrics(folder):
    pairs, _ = match_globs(*globs(folder))
    report = evaluate_pairs(lambda band: np.repeat(band[..., None], 3, axis=2), pairs[:1], align_radius=0)
    band, truth = read_pair(pairs[0])
    pred = np.repeat(band[..., None], 3, axis=2)
    row = report.rows[0]
    assert row["psnr"] == pytest.approx(metrics.psnr(pred, truth)) == row["psnr_aligned"]
    assert row["ssim"] == pytest.approx(metrics.ssim(pred, truth))
    assert row["ae"] == pytest.approx(metrics.angular_error(pred, truth))
    assert row["ciede2000"] == pytest.approx(metrics.mean_ciede2000(pred, truth))


def test_sizes_that_differ_are_refused_unless_resized(tmp_path):
    band, rgb = scene(0, (24, 32))
    io.write_image(tmp_path / "s_nir.png", band)
    io.write_image(tmp_path / "s_rgb.png", np.repeat(np.repeat(rgb, 2, axis=0), 2, axis=1))
    pair = NirPair("s", tmp_path / "s_nir.png", tmp_path / "s_rgb.png")
    with pytest.raises(TinctError, match="64x48.*--resize-truth"):
        read_pair(pair)
    assert read_pair(pair, resize_truth=True)[1].shape == (24, 32, 3)


def test_cli_writes_reports(folder, tmp_path, capsys):
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    code = cli.main(["bench", "pairs", "--method", "gray", "--inputs", globs(folder)[0], "--truth",
                     globs(folder)[1], "--json", str(out_json), "--markdown", str(out_md), "--limit", "2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "| **mean** |" in captured.out and "note: 'gray' expects a luma input" in captured.err
    data = json.loads(out_json.read_text())
    assert data["n_pairs"] == 2 and data["command"].startswith("tinct bench pairs --method gray")
    assert data["data"]["inputs"] == globs(folder)[0] and data["align_radius"] == 4
    assert data["mean"]["psnr"] == pytest.approx(np.mean([r["psnr"] for r in data["images"]]))
    assert "Command: `tinct bench pairs" in out_md.read_text()


@pytest.mark.parametrize("change, expected", [
    (["--method", "nope"], "unknown method 'nope'"),
    (["--method", "welsh"], "needs a colour reference"),
    (["--method", "gray", "-O", "x=1"], "x"),
    (["--method", "gray", "--inputs", "nothing/*_nir.png"], "matches no file"),
    (["--method", "gray", "--broken"], "a_1_nir.png: not an image"),
    (["--method", "gray", "--lonely"], "lonely_nir.png"),
])
def test_cli_bad_input_is_one_line_and_exit_2(folder, capsys, change, expected):
    args = ["bench", "pairs", "--inputs", globs(folder)[0], "--truth", globs(folder)[1], "-q"]
    if "--broken" in change:
        (folder / "a_1_nir.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    if "--lonely" in change:
        io.write_image(folder / "lonely_nir.png", np.zeros((24, 32), np.float32))
    args += [a for a in change if a not in ("--broken", "--lonely")]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("tinct bench pairs: error:")


def test_floors_lut_and_flat_colour(tmp_path):
    folder = tmp_path / "train"
    write_scenes(folder, ["x_1"], (24, 32))
    write_scenes(folder, ["x_2"], (12, 16))  # another size: flat colour weighs pixels, not images
    pairs, _ = match_globs(str(folder / "*_nir.png"), str(folder / "*_rgb.png"))
    bands_truths = [read_pair(p) for p in pairs]
    lut = fit_lut(pairs)
    assert lut.shape == (256, 3) and lut.dtype == np.float32
    # R = band and G = 1 - band exactly, so the table's R, G columns are the identity and its inverse,
    # also at levels no pixel has (interpolated)
    levels = np.arange(256) / 255
    np.testing.assert_allclose(lut[:, 0], levels, atol=1 / 255)
    np.testing.assert_allclose(lut[:, 1], 1 - levels, atol=1 / 255)
    band, truth = bands_truths[0]
    np.testing.assert_allclose(apply_lut(lut, band)[..., :2], truth[..., :2], atol=1 / 255)
    all_pixels = np.concatenate([t.reshape(-1, 3) for _, t in bands_truths])
    np.testing.assert_allclose(flat_colour(pairs), all_pixels.mean(axis=0), rtol=1e-6)
    fns = floor_methods(lut, flat_colour(pairs))
    assert sorted(fns) == ["flat", "gray", "lut"]
    flat = fns["flat"](band)
    assert flat.shape == (24, 32, 3) and np.ptp(flat.reshape(-1, 3), axis=0).max() == 0
    with pytest.raises(TinctError, match="at least one"):
        fit_lut([])


def test_floors_on_real_data(shared_data):
    from tinct.data.nir import nir_split

    if not (shared_data / "nir" / "epfl_country_test").is_dir():
        pytest.skip("../shared/data/nir is absent")
    assert (len(nir_split("train")), len(nir_split("val")), len(nir_split("test"))) == (136, 24, 52)
    pairs = nir_split("test")[:1]
    identity = np.tile(np.linspace(0, 1, 256, dtype=np.float32)[:, None], (1, 3))
    fns = floor_methods(identity, np.full(3, 0.5))
    row = evaluate_pairs(fns["gray"], pairs, name="gray").rows[0]
    assert row["image"] == "country_0000"  # scores measured when the protocol was written
    scores = (row["psnr"], row["ssim"], row["ae"], row["ciede2000"])
    assert scores == pytest.approx((7.89, 0.410, 8.66, 31.55), abs=0.01)
    band = read_pair(pairs[0])[0]
    np.testing.assert_allclose(fns["lut"](band), fns["gray"](band), atol=1e-6)  # identity table = gray
