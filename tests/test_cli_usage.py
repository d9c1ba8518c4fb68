"""Usage errors of ``tinct colorize`` come before any heavy import (torch), fast, with exit 2; the
static method table they use equals the registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinct
from tinct import io
from tinct.cli import catalog

PROBE = """
import json, sys, time
from tinct import cli
start = time.perf_counter()
code = cli.main(sys.argv[1:])
print(json.dumps({"code": code, "seconds": time.perf_counter() - start, "torch": "torch" in sys.modules}))
"""


def run_cli(cwd: Path, *args: str) -> tuple[dict, str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.fixture
def work(tmp_path: Path) -> Path:
    io.write_image(tmp_path / "a.png", np.random.default_rng(0).random((12, 16)).astype(np.float32))
    io.write_image(tmp_path / "g.png", np.full((12, 16, 3), 0.5, np.float32))
    (tmp_path / "folder").mkdir()
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "notes.txt").write_text("no images here")
    return tmp_path


@pytest.mark.parametrize(("args", "message"), [
    (["--method", "levin"], "needs colour scribbles (hints): pass --hints IMG"),
    (["--method", "no-such"], "unknown method 'no-such'; known methods: caption, cyclecnn"),
    (["-O", "nope=1"], "unknown option 'nope'; valid options: weights (str)"),
    (["-O", "refine=maybe"], "option 'refine' must be true or false, got 'maybe'"),
    (["-O", "work_pixels=lots"], "option 'work_pixels' must be"),
    (["--method", "gray", "--weights", "warm"], "has no trained weights"),
    (["-o", "folder/"], "takes a file name, and 'folder/' is a folder; use --out-dir folder"),
    (["-o", "folder"], "is a folder"),
    (["-o", "out.xyz"], "unknown image extension '.xyz'"),
    (["--workers", "2"], "--address and --workers are options of --backend ray"),
    (["--method", "reinhard", "--reference", "g.png"], "the reference g.png is gray"),
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
])
def test_usage_errors_are_one_line_exit_2_without_torch(work, args, message):
    result, err = run_cli(work, "colorize", "a.png", "--method", "deepcolor", *args)
    assert result["code"] == 2 and not result["torch"], err
    assert message in err and len(err.strip().splitlines()) <= 2  # argparse adds its usage line
    assert result["seconds"] < 0.5


@pytest.mark.parametrize("source", ["folder", "texts", "folder/*.png"])
def test_no_images_found_is_exit_2(work, source):
    result, err = run_cli(work, "colorize", source)
    assert result["code"] == 2 and not result["torch"]
    assert err.strip().count("\n") == 0 and "no images found in" in err


def test_static_table_equals_the_registry():
    assert catalog.generate() == catalog.METHODS, "run: python -m tinct.cli.catalog"


def test_static_option_checks_follow_the_declared_types():
    facts = catalog.lookup("cyclecnn")
    facts.check_options({"disparities": "none", "reference_side": "left", "refine": "yes"})
    for bad in ({"reference_side": "up"}, {"disparities": "many"}, {"refine": "2"}, {"nope": "1"}):
        with pytest.raises(catalog.OptionError):
            facts.check_options(bad)
    catalog.lookup("welsh").check_options({"swatches": "[[0, 0, 4, 4, 0, 0, 4, 4]]"})  # JSON: after loading


def test_colouring_does_not_import_training_only_modules():
    """Cold start of ``tinct colorize photo.jpg``: deepcolor's k-means (scipy.cluster, ~0.35 s) is
    needed for training only and stays out of the colouring path."""
    probe = "import sys, tinct; tinct.load_method('deepcolor'); print('scipy.cluster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_python_dash_m_tinct_is_the_command():
    done = subprocess.run([sys.executable, "-m", "tinct", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"tinct {tinct.__version__}"
