"""The quality protocol (tinct.bench.quality): scores, pairing rule, report formats."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tinct import io, metrics, registry
from tinct.bench.quality import METRICS, evaluate_folders, evaluate_quality, pair_by_stem, score_pair
from tinct.color import rgb_to_luma
from tinct.errors import TinctError
from tinct.options import OptionError, option
from tinct.registry import Colorizer, MethodInfo


def write_colour(path: Path, seed: int, shape: tuple[int, int] = (24, 32)) -> Path:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[0], 0:shape[1]] / max(shape)
    img = np.stack([x, y, 1 - x * y], axis=2) * 0.8 + rng.random((*shape, 3)) * 0.2
    return io.write_image(path, img.astype(np.float32))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "set"
    write_colour(folder / "b.png", 1)
    write_colour(folder / "a.png", 0)
    io.write_image(folder / "c_gray.png", np.full((24, 32), 0.3, np.float32))  # gray: skipped
    return folder


class RefCopy(Colorizer):
    """Returns the reference (the test passes the ground truth): a perfect prediction."""

    name = "refcopy"
    needs = frozenset({"reference"})

    def _colorize(self, gray, inputs):
        return inputs.reference


def test_gray_floor_scores_equal_direct_computation(data_dir):
    report = evaluate_quality("gray", data_dir, progress=False)
    assert [r.image for r in report.rows] == ["a.png", "b.png"]
    assert report.skipped == ["c_gray.png"]
    for row in report.rows:
        gt = io.read_rgb(data_dir / row.image)
        pred = np.repeat(rgb_to_luma(gt)[..., None], 3, axis=2)
        assert row.psnr == pytest.approx(metrics.psnr(pred, gt), rel=1e-6)
        assert row.ssim == pytest.approx(metrics.ssim(pred, gt), rel=1e-6)
        assert row.ciede2000 == pytest.approx(metrics.mean_ciede2000(pred, gt), rel=1e-6)
        assert row.colorfulness_pred == pytest.approx(0.0, abs=1e-3)
        assert row.colorfulness_gt == pytest.approx(metrics.colorfulness(gt), rel=1e-6)
        assert (row.width, row.height) == (32, 24) and row.seconds >= 0
    means = report.means()
    assert means["psnr"] == pytest.approx(np.mean([r.psnr for r in report.rows]))


def test_limit_and_errors(data_dir, tmp_path):
    assert len(evaluate_quality("gray", data_dir, limit=1, progress=False).rows) == 1
    with pytest.raises(TinctError, match="at least 1"):
        evaluate_quality("gray", data_dir, limit=0, progress=False)
    with pytest.raises(TinctError, match="not a folder"):
        evaluate_quality("gray", tmp_path / "missing", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(TinctError, match="no images"):
        evaluate_quality("gray", tmp_path / "empty", progress=False)
    with pytest.raises(TinctError, match="unknown method"):
        evaluate_quality("nope", data_dir, progress=False)


def test_reference_method_needs_reference_fn_and_perfect_scores(data_dir):
    with pytest.raises(TinctError, match="reference_fn"):
        evaluate_quality(RefCopy(), data_dir, progress=False)
    seen: list[str] = []

    def reference_fn(path: Path, gt: np.ndarray) -> np.ndarray:
        seen.append(path.name)
        return gt

    report = evaluate_quality(RefCopy(), data_dir, reference_fn=reference_fn, progress=False)
    assert seen == ["a.png", "b.png"] and report.method == "refcopy"
    for row in report.rows:
        assert math.isinf(row.psnr) and row.ssim == pytest.approx(1.0) and row.ciede2000 == pytest.approx(0.0)
        assert row.colorfulness_pred == pytest.approx(row.colorfulness_gt)


def test_options_are_passed_to_the_method(data_dir, monkeypatch):
    @dataclass(frozen=True)
    class OptOptions:
        strength: float = option(0.0, "how strong")

    class Opt(Colorizer):
        name = "opt"
        Options = OptOptions

        def _colorize(self, gray, inputs):
            return np.repeat(gray[..., None], 3, axis=2)

    registry.list_methods()
    info = MethodInfo(name="opt", summary="s", paper="p", options=OptOptions, factory=Opt)
    monkeypatch.setitem(registry._REGISTRY, "opt", info)
    report = evaluate_quality("opt", data_dir, options={"strength": 2.0}, progress=False)
    assert report.options == {"strength": 2.0}
    with pytest.raises(OptionError, match="unknown option 'bogus'; valid options: strength"):
        evaluate_quality("opt", data_dir, options={"bogus": 1}, progress=False)


def test_report_json_and_markdown(data_dir, tmp_path):
    report = evaluate_quality("gray", data_dir, progress=False)
    path = report.to_json(tmp_path / "out" / "r.json")
    loaded = json.loads(path.read_text())
    assert loaded["method"] == "gray" and loaded["dataset"] == "set" and loaded["n_images"] == 2
    assert loaded["images"][1]["psnr"] == pytest.approx(report.rows[1].psnr)
    assert set(METRICS) <= set(loaded["mean"]) and "protocol" in loaded
    table = report.to_markdown().splitlines()
    assert len(table) == 2 + 2 + 1 and table[-1].startswith("| **mean** |")
    assert f"{report.rows[0].psnr:.2f}" in table[2]


def test_score_pair_rejects_size_mismatch():
    with pytest.raises(TinctError, match="32x24"):
        score_pair(np.zeros((24, 32, 3)), np.zeros((24, 30, 3)))


def test_pairing_rule():
    gts = [Path(f"gt/{s}.png") for s in ("kodim1", "kodim10", "a", "a_b")]
    preds = [Path(f"p/{s}") for s in ("kodim1_levin.png", "kodim10.jpg", "a_b_x.png", "zzz.png")]
    pairs, problems = pair_by_stem(preds, gts)
    assert {(p.name, g.name) for p, g in pairs} == {("kodim1_levin.png", "kodim1.png"),
                                                   ("kodim10.jpg", "kodim10.png"), ("a_b_x.png", "a_b.png")}
    assert problems == []
    pairs, problems = pair_by_stem([Path("k_x.png"), Path("k_y.png")], [Path("k.png")])
    assert pairs == [] and "several predictions" in problems[0]
    pairs, _ = pair_by_stem([Path("k.png"), Path("k_y.png")], [Path("k.png")])  # the exact stem wins
    assert pairs == [(Path("k.png"), Path("k.png"))]


def test_evaluate_folders_reports_and_continues(tmp_path):
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    write_colour(gt / "x.png", 0)
    write_colour(pred / "x_m.png", 1)
    write_colour(gt / "y.png", 2)
    write_colour(pred / "y_m.png", 3, shape=(24, 30))
    result = evaluate_folders(pred, gt)
    assert [r["image"] for r in result.rows] == ["x.png"]
    assert len(result.errors) == 1 and "y_m.png" in result.errors[0]
    with pytest.raises(TinctError, match="no prediction"):
        evaluate_folders(gt / "..", gt)


def test_kodak_first_image_gray_floor(shared_data):
    report = evaluate_quality("gray", shared_data / "eval" / "kodak24", limit=1, progress=False)
    row = report.rows[0]
    assert row.image == "kodim01.png" and (row.width, row.height) == (768, 512)
    assert 15 < row.psnr < 60 and row.colorfulness_pred < 1e-3 < row.colorfulness_gt


def test_write_report_writes_json_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from tinct.testing import write_report

    write_report(tmp_path / "deep" / "speed", {"command": "x", "rows": [1.5]}, "# table\n")
    assert json.loads((tmp_path / "deep" / "speed.json").read_text()) == {"command": "x", "rows": [1.5]}
    assert (tmp_path / "deep" / "speed.md").read_text() == "# table\n"
    assert "# table" in capsys.readouterr().out
