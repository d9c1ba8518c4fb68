"""The ``tinct`` command line, run in-process on tiny PNGs (plus one entry-point subprocess)."""

from __future__ import annotations

import csv
import io as _stringio
import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytest

import tinct
from tinct import cli, io, metrics, registry
from tinct.options import option
from tinct.registry import Colorizer, MethodInfo


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (the default output folder lands inside it); default method: gray."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tinct, "DEFAULT_METHOD", "gray")  # CLI mechanics on the fast floor method
    return tmp_path


def gray_png(path: Path, seed: int = 0, shape: tuple[int, int] = (12, 16), **kw) -> Path:
    img = np.random.default_rng(seed).random(shape).astype(np.float32)
    return io.write_image(path, img, **kw)


def colour_png(path: Path, seed: int = 0, shape: tuple[int, int] = (12, 16), **kw) -> Path:
    img = np.random.default_rng(seed).random((*shape, 3)).astype(np.float32)
    return io.write_image(path, img, **kw)


@dataclass
class FakeTrainConfig:
    lr: float = option(0.1, "learning rate")
    width: int = option(8, "channels")


FAKE_RUNS: list = []


def fake_trainer(config: FakeTrainConfig, run) -> int:
    FAKE_RUNS.append((config, run))
    return 0


FAKE_TRAINER = fake_trainer


@dataclass(frozen=True)
class FakeOptions:
    sigma: float = option(1.0, "a number")
    fast: bool = option(False, "a switch")
    weights: str = option("default", "a weight variant")


def fake_method(monkeypatch: pytest.MonkeyPatch, name: str, body=None, *, needs=frozenset(),
                trainable: bool = False) -> list:
    """Register a throwaway method; returns a list of ("created", options) and (gray, reference, hints)."""
    calls: list = []

    class Fake(Colorizer):
        Options = FakeOptions

        def __init__(self, **options):
            super().__init__(**options)
            calls.append(("created", asdict(self.options)))

        def _colorize(self, gray, inputs):
            calls.append((gray, inputs.reference, inputs.hints))
            return body(gray) if body else np.repeat(gray[..., None], 3, axis=2)

    Fake.name, Fake.needs = name, frozenset(needs)
    registry.list_methods()  # make sure the real methods are registered first
    training = {"train_config": FakeTrainConfig, "trainer": FAKE_TRAINER} if trainable else {}
    info = MethodInfo(name=name, summary=f"fake {name}", paper="(test)", needs=Fake.needs, accepts=Fake.needs,
                      options=FakeOptions, weights={"default": "d", "warm": "w"}, factory=Fake, **training)
    monkeypatch.setitem(registry._REGISTRY, name, info)
    return calls


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"tinct {tinct.__version__}"


def test_help_lists_commands_with_examples(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("colorize", "methods", "eval", "bench", "train", "serve", "demo"):
        assert command in out
    assert cli.main(["colorize", "--help"]) == 0
    assert "examples:" in capsys.readouterr().out


def test_many_inputs_one_corrupt(work, capsys):
    for i in range(3):
        gray_png(work / f"in{i}.png", seed=i)
    (work / "broken.png").write_bytes(b"\x89PNG not really")
    code = cli.main(["colorize", "in0.png", "broken.png", "in1.png", "in2.png", "--method", "gray"])
    err = capsys.readouterr().err
    assert code == 1
    for i in range(3):
        out = io.read_image(work / "tinct-out" / f"in{i}_gray.png")
        np.testing.assert_allclose(out.rgb[..., 1], io.read_gray(work / f"in{i}.png"), atol=1 / 255)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.png" in errors[0]
    assert not (work / "tinct-out" / "broken_gray.png").exists()


def test_glob_and_directory_inputs(work):
    (work / "scans").mkdir()
    for i in range(2):
        gray_png(work / "scans" / f"s{i}.png", seed=i)
    gray_png(work / "other.png")
    assert cli.main(["colorize", "scans/*.png", "--out-dir", "a"]) == 0
    names = sorted(p.name for p in (work / "a").iterdir())
    assert names == ["s0_gray.png", "s1_gray.png", "tinct-manifest.jsonl"]
    assert cli.main(["colorize", "scans", "--out-dir", "b"]) == 0
    assert len(list((work / "b").glob("*.png"))) == 2


def test_output_with_two_inputs_is_usage_error(work, capsys):
    gray_png(work / "a.png")
    gray_png(work / "b.png")
    assert cli.main(["colorize", "a.png", "b.png", "-o", "x.png"]) == 2
    assert "--output" in capsys.readouterr().err
    assert cli.main(["colorize", "a.png", "-o", "x.png"]) == 0 and (work / "x.png").exists()


def test_bad_flags_are_usage_errors(work, capsys):
    assert cli.main(["colorize", "a.png", "--bit-depth", "12"]) == 2
    assert cli.main(["colorize", "a.png", "--no-such-flag"]) == 2
    assert cli.main(["colorize", "a.png", "-O", "novalue"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert cli.main([]) == 2


def test_colour_input_uses_luma_with_note(work, capsys):
    colour_png(work / "c.png")
    assert cli.main(["colorize", "c.png"]) == 0
    assert "note: c.png is already colour; using its luma" in capsys.readouterr().err
    out = io.read_rgb(work / "tinct-out" / "c_gray.png")
    np.testing.assert_allclose(out[..., 0], io.read_gray(work / "c.png"), atol=1 / 255 + 1e-6)


def test_sixteen_bit_in_sixteen_bit_out(work):
    gray_png(work / "deep.png", bit_depth=16)
    assert cli.main(["colorize", "deep.png"]) == 0
    out = io.read_image(work / "tinct-out" / "deep_gray.png")
    assert out.bit_depth == 16
    np.testing.assert_allclose(out.rgb[..., 0], io.read_gray(work / "deep.png"), atol=1 / 65535)
    assert cli.main(["colorize", "deep.png", "--bit-depth", "8", "-o", "eight.png"]) == 0
    assert io.read_image(work / "eight.png").bit_depth == 8
    assert cli.main(["colorize", "deep.png", "-o", "small.jpg"]) == 0  # JPEG: 8-bit without asking
    assert io.read_image(work / "small.jpg").bit_depth == 8


def test_alpha_is_preserved(work, capsys):
    alpha = np.linspace(0, 1, 12 * 16, dtype=np.float32).reshape(12, 16)
    io.write_image(work / "t.png", np.full((12, 16), 0.4, np.float32), alpha=alpha)
    assert cli.main(["colorize", "t.png"]) == 0
    out = io.read_image(work / "tinct-out" / "t_gray.png")
    assert out.alpha is not None
    np.testing.assert_allclose(out.alpha, alpha, atol=1 / 255)
    assert cli.main(["colorize", "t.png", "-o", "t.jpg"]) == 0
    assert "alpha channel is dropped" in capsys.readouterr().err


def test_never_replaces_an_input(work, capsys):
    path = gray_png(work / "x.png")
    before = path.read_bytes()
    assert cli.main(["colorize", "x.png", "-o", "x.png", "--overwrite"]) == 1
    assert "refusing to replace the input image" in capsys.readouterr().err
    gray_png(work / "y_gray.png")
    assert cli.main(["colorize", "y.png", "y_gray.png", "--out-dir", "."]) == 1  # y.png missing too
    assert path.read_bytes() == before


def test_existing_output_needs_overwrite(work, capsys):
    gray_png(work / "x.png")
    gray_png(work / "tinct-out" / "y_gray.png")  # not written by tinct: not in the manifest
    gray_png(work / "y.png")
    assert cli.main(["colorize", "x.png"]) == 0
    assert cli.main(["colorize", "x.png"]) == 0  # done before: skipped
    assert cli.main(["colorize", "y.png"]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert cli.main(["colorize", "y.png", "--overwrite"]) == 0


def test_same_stem_twice_gets_two_names(work, capsys):
    (work / "d").mkdir()
    gray_png(work / "x.png")
    gray_png(work / "d" / "x.png", seed=1)
    assert cli.main(["colorize", "x.png", "d/x.png"]) == 0
    assert (work / "tinct-out" / "x_gray.png").exists() and (work / "tinct-out" / "x_gray-2.png").exists()


def test_method_loaded_once_with_options_and_hints(work, monkeypatch):
    calls = fake_method(monkeypatch, "fakehints", needs={"hints"})
    gray = np.full((12, 16), 0.5, np.float32)
    io.write_image(work / "a.png", gray)
    io.write_image(work / "b.png", gray)
    scribble = np.repeat(gray[..., None], 3, axis=2)
    scribble[2, 3] = (1, 0, 0)
    alpha = np.ones((12, 16), np.float32)
    scribble[5, 5] = (0, 0, 1)
    alpha[5, 5] = 0  # transparent scribble: ignored
    io.write_image(work / "h.png", scribble, alpha=alpha)
    code = cli.main(["colorize", "a.png", "b.png", "--method", "fakehints", "--hints", "h.png",
                     "-O", "sigma=2.5", "-O", "fast=true", "--weights", "warm"])
    assert code == 0
    assert calls[0] == ("created", {"sigma": 2.5, "fast": True, "weights": "warm"})
    assert len(calls) == 3  # created once, then two images
    mask = calls[1][2].mask
    assert mask[2, 3] and not mask[5, 5] and mask.sum() == 1


def test_missing_reference_names_the_flag(work, monkeypatch, capsys):
    fake_method(monkeypatch, "fakeref", needs={"reference"})
    gray_png(work / "a.png")
    assert cli.main(["colorize", "a.png", "--method", "fakeref"]) == 2
    assert "--reference" in capsys.readouterr().err
    colour_png(work / "ref.png", seed=3, shape=(20, 10))
    assert cli.main(["colorize", "a.png", "--method", "fakeref", "--reference", "ref.png"]) == 0


def test_default_method_is_read_at_call_time(work, monkeypatch):
    fake_method(monkeypatch, "fakedefault")
    monkeypatch.setattr(tinct, "DEFAULT_METHOD", "fakedefault")
    gray_png(work / "a.png")
    assert cli.main(["colorize", "a.png"]) == 0
    assert (work / "tinct-out" / "a_fakedefault.png").exists()


def test_unexpected_error_is_one_line(work, monkeypatch, capsys):
    def boom(gray):
        raise RuntimeError("kaboom")

    fake_method(monkeypatch, "fakeboom", boom)
    gray_png(work / "a.png")
    gray_png(work / "b.png")
    assert cli.main(["colorize", "a.png", "b.png", "--method", "fakeboom"]) == 1
    err = capsys.readouterr().err
    assert "error: a.png: unexpected RuntimeError: kaboom" in err and "Traceback" not in err
    monkeypatch.setattr(cli, "cmd_methods", lambda args: (_ for _ in ()).throw(ValueError("bug")))
    assert cli.main(["methods"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "error: unexpected ValueError: bug (run with --debug for the traceback)"
    assert cli.main(["methods", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_interrupt_and_tinct_error_exit_codes(monkeypatch, capsys):
    def interrupt(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_methods", interrupt)
    assert cli.main(["methods"]) == 130
    assert cli.main(["colorize", "x.png", "--method", "no-such-method"]) == 2
    assert "unknown method 'no-such-method'" in capsys.readouterr().err


def test_methods_lists_gray(capsys):
    assert cli.main(["methods"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["name", "needs"]
    assert any(line.startswith("gray") for line in out.splitlines())
    assert cli.main(["methods", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    gray = next(r for r in rows if r["name"] == "gray")
    assert gray["needs"] == [] and gray["trainable"] is False


def test_format_table_fits_the_terminal():
    table = cli.format_table(("a", "long"), [("x" * 5, "y" * 40)], max_width=30, shrink=(1,))
    lines = table.splitlines()
    assert all(len(line) <= 30 for line in lines) and lines[2].endswith("~")
    assert cli.format_table(("a", "long"), [("x", "y" * 40)]).splitlines()[2].endswith("y" * 40)


def _eval_dirs(root: Path) -> tuple[Path, Path]:
    pred, gt = root / "pred", root / "gt"
    for i in range(2):
        colour_png(gt / f"im{i}.png", seed=i)
        colour_png(pred / f"im{i}_fake.png", seed=10 + i)
    return pred, gt


def test_eval_json_and_csv_equal_metrics(work, capsys):
    pred, gt = _eval_dirs(work)
    assert cli.main(["eval", str(pred), str(gt), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_pairs"] == 2
    for row in report["images"]:
        p = io.read_rgb(pred / row["prediction"])
        g = io.read_rgb(gt / row["image"])
        assert row["psnr"] == pytest.approx(metrics.psnr(p, g), rel=1e-9)
        assert row["ssim"] == pytest.approx(metrics.ssim(p, g), rel=1e-9)
        assert row["ciede2000"] == pytest.approx(metrics.mean_ciede2000(p, g), rel=1e-9)
        assert row["colorfulness_pred"] == pytest.approx(metrics.colorfulness(p), rel=1e-9)
    assert report["mean"]["psnr"] == pytest.approx(np.mean([r["psnr"] for r in report["images"]]))
    assert cli.main(["eval", str(pred), str(gt), "--csv"]) == 0
    rows = list(csv.DictReader(_stringio.StringIO(capsys.readouterr().out)))
    assert [r["prediction"] for r in rows] == ["im0_fake.png", "im1_fake.png"]
    assert float(rows[1]["psnr"]) == pytest.approx(report["images"][1]["psnr"], rel=1e-12)


def test_eval_size_mismatch_and_no_pairs(work, capsys):
    pred, gt = _eval_dirs(work)
    colour_png(gt / "big.png", shape=(20, 20))
    colour_png(pred / "big.png", shape=(10, 20))
    assert cli.main(["eval", str(pred), str(gt)]) == 1
    captured = capsys.readouterr()
    assert "error:" in captured.err and "big.png" in captured.err and "20x20" in captured.err
    assert "im0_fake.png" in captured.out and "mean" in captured.out
    (work / "empty").mkdir()
    assert cli.main(["eval", str(work / "empty"), str(gt)]) == 1
    assert "no prediction" in capsys.readouterr().err


def test_bench_quality_gray_psnr(work, capsys, monkeypatch):
    data = work / "data"
    imgs = [colour_png(data / f"c{i}.png", seed=i, shape=(24, 24)) for i in range(2)]
    out_json = work / "r.json"
    code = cli.main(["bench", "quality", "--method", "gray", "--data", str(data), "--json", str(out_json)])
    assert code == 0
    assert "| **mean** |" in capsys.readouterr().out
    report = json.loads(out_json.read_text())
    assert report["command"].startswith("tinct bench quality --method gray")
    assert cli.main(["bench", "quality", "--method", "gray", "--data", "data", "--json", "--limit", "1"]) == 0
    assert json.loads((work / "docs" / "results" / "gray_data.json").read_text())["n_images"] == 1
    fake_method(monkeypatch, "fakeref", needs={"reference"})
    assert cli.main(["bench", "quality", "--method", "fakeref", "--data", "data"]) == 1
    assert "needs a colour reference" in capsys.readouterr().err
    for row, path in zip(report["images"], imgs, strict=True):
        gt = io.read_rgb(path)
        pred = np.repeat(io.read_gray(path)[..., None], 3, axis=2)
        assert row["psnr"] == pytest.approx(metrics.psnr(pred, gt), rel=1e-6)


def test_train_runs_the_registered_trainer_with_a_generated_parser(monkeypatch, capsys, tmp_path):
    fake_method(monkeypatch, "faketrain", trainable=True)
    FAKE_RUNS.clear()
    assert cli.main(["train", "faketrain", "--steps", "7", "--lr", "0.5", "--set", "width=4",
                     "--threads", "1", "--no-progress"]) == 0
    (cfg, run), = FAKE_RUNS
    assert (cfg.lr, cfg.width) == (0.5, 4)
    assert (run.steps, run.threads, run.progress, run.resume) == (7, 1, False, True)
    assert run.out == "runs/faketrain"
    (tmp_path / "run.yaml").write_text("lr: 0.25\nrun:\n  seed: 3\n  out: elsewhere\n")
    assert cli.main(["train", "faketrain", "--config", str(tmp_path / "run.yaml"), "--set", "lr=0.125"]) == 0
    cfg, run = FAKE_RUNS[-1]
    assert cfg.lr == 0.125 and (run.seed, run.out) == (3, "elsewhere")  # flags beat the file
    assert cli.main(["train", "--help"]) == 0
    assert "faketrain" in capsys.readouterr().out
    assert cli.main(["train", "faketrain", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--steps" in out and "--lr V" in out and "width (int, default 8): channels" in out
    assert cli.main(["train", "gray"]) == 2
    assert "not a trainable method" in capsys.readouterr().err
    assert cli.main(["train", "faketrain", "--set", "bogus=1"]) == 2
    assert "unknown setting 'bogus'; valid settings: lr, width" in capsys.readouterr().err
    assert cli.main(["train", "faketrain", "--set", "width=wide"]) == 2
    assert "'width' must be an integer" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("- a list\n")
    assert cli.main(["train", "faketrain", "--config", str(tmp_path / "bad.yaml")]) == 1
    assert "must be a mapping" in capsys.readouterr().err


def test_serve_missing_is_clear(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tinct.web.server", None)
    assert cli.main(["serve"]) == 1
    assert "web interface" in capsys.readouterr().err


def test_demo_writes_files(work, capsys):
    assert cli.main(["demo", "--out-dir", str(work / "demo"), "--method", "gray"]) == 0
    out = capsys.readouterr().out
    gray = io.read_image(work / "demo" / "demo_input_gray.png")
    result = io.read_rgb(work / "demo" / "demo_gray.png")
    compare = io.read_rgb(work / "demo" / "demo_compare.png")
    assert gray.is_gray_source and result.shape == gray.rgb.shape
    assert compare.shape[0] == result.shape[0] and compare.shape[1] > 3 * result.shape[1]
    assert "PSNR" in out and "demo_compare.png" in out


def test_entry_point_help():
    exe = Path(sys.executable).with_name("tinct")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "tinct.cli"]
    done = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "colorize" in done.stdout
