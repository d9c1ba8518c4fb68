"""The resumable batch (``tinct colorize SRC... --out-dir OUT``): tree, names, manifest, resume, kills."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinct
from tinct import cli, io
from tinct.batch.manifest import MANIFEST_NAME

SLOW_CLI = Path(__file__).parent / "fixtures" / "slow_cli.py"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tinct, "DEFAULT_METHOD", "gray")
    return tmp_path


def gray_file(path: Path, seed: int = 0, shape: tuple[int, int] = (12, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return io.write_image(path, np.random.default_rng(seed).random(shape).astype(np.float32))


def manifest(out: Path) -> list[dict]:
    """The manifest's records; a last line cut off by a kill is left out (as the batch does)."""
    records = []
    for line in (out / MANIFEST_NAME).read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def archive(root: Path, count: int = 3) -> None:
    """root/a.png, root/x.jpg + root/x.tif (one stem), root/sub/deeper/b<i>.png."""
    gray_file(root / "a.png")
    gray_file(root / "x.tif", seed=1)
    io.write_image(root / "x.jpg", np.full((12, 16), 0.3, np.float32))
    for i in range(count):
        gray_file(root / "sub" / "deeper" / f"b{i}.png", seed=10 + i)


def test_tree_is_mirrored_names_never_clash_and_manifest_lists_all(work):
    archive(work / "arch")
    assert cli.main(["colorize", "arch", "-r", "--out-dir", "out"]) == 0
    outputs = sorted(p.relative_to(work / "out").as_posix() for p in (work / "out").rglob("*.png"))
    assert outputs == ["a_gray.png", "sub/deeper/b0_gray.png", "sub/deeper/b1_gray.png",
                       "sub/deeper/b2_gray.png", "x_jpg_gray.png", "x_tif_gray.png"]
    records = manifest(work / "out")
    assert len(records) == 6 and {r["status"] for r in records} == {"done"}
    first = records[0]
    assert set(first) >= {"input", "output", "method", "options", "weights", "status", "error", "seconds"}
    assert Path(first["input"]).is_absolute() and first["method"] == "gray" and first["error"] is None
    jpg = next(r for r in records if r["input"].endswith("x.jpg"))
    np.testing.assert_allclose(io.read_rgb(work / "out" / jpg["output"])[..., 1], 0.3, atol=1 / 255)
    assert cli.main(["colorize", "arch", "--out-dir", "flat"]) == 0  # without -r: the top folder only
    assert len(list((work / "flat").rglob("*.png"))) == 3


def test_rerun_skips_what_is_done_and_redoes_what_changed(work, capsys):
    archive(work / "arch", count=2)
    args = ["colorize", "arch", "-r", "--out-dir", "out"]
    assert cli.main(args) == 0
    stamps = {p: p.stat().st_mtime_ns for p in (work / "out").rglob("*.png")}
    capsys.readouterr()
    assert cli.main(args) == 0
    assert "5 of 5 done (0 now, 5 before)" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    gray_file(work / "arch" / "a.png", seed=7, shape=(14, 16))  # a changed input is redone
    (work / "out" / "x_tif_gray.png").unlink()  # a lost output is redone
    assert cli.main(args) == 0
    assert "(2 now, 3 before)" in capsys.readouterr().err
    assert io.read_rgb(work / "out" / "a_gray.png").shape == (14, 16, 3)
    assert cli.main([*args, "--bit-depth", "16"]) == 0  # other options: everything again
    assert "(5 now, 0 before)" in capsys.readouterr().err
    assert cli.main([*args, "--bit-depth", "16", "--force"]) == 0
    assert "(5 now, 0 before)" in capsys.readouterr().err
    assert len(manifest(work / "out")) == 5  # one record per input after every run


def test_failures_are_recorded_and_retried(work, capsys):
    gray_file(work / "in" / "good.png")
    (work / "in" / "bad.png").write_bytes(b"\x89PNG not really")
    assert cli.main(["colorize", "in", "--out-dir", "out"]) == 1
    err = capsys.readouterr().err
    assert "bad.png" in err and "1 failed" in err
    bad = next(r for r in manifest(work / "out") if r["input"].endswith("bad.png"))
    assert bad["status"] == "failed" and "bad.png" in bad["error"]
    gray_file(work / "in" / "bad.png", seed=3)  # fixed: the re-run does it, and only it
    assert cli.main(["colorize", "in", "--out-dir", "out"]) == 0
    assert "(1 now, 1 before)" in capsys.readouterr().err


def test_stale_temporaries_are_removed(work, capsys):
    gray_file(work / "a.png")
    (work / "out" / "sub").mkdir(parents=True)
    stale = [work / "out" / ".a_gray.png.4242.tinct-part", work / "out" / "sub" / ".b_gray.png.x1y2.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    keep = work / "out" / ".notes.tmp"  # not an image temporary: someone else's
    keep.write_text("mine")
    assert cli.main(["colorize", "a.png", "--out-dir", "out"]) == 0
    assert not any(p.exists() for p in stale) and keep.exists()
    assert "removed 2 temporary file(s)" in capsys.readouterr().err


def test_warnings_for_multi_frame_files_and_hints_without_strokes(work, capsys):
    from PIL import Image

    frames = [Image.fromarray(np.full((12, 16), v, np.uint8)) for v in (40, 200)]
    frames[0].save(work / "anim.gif", save_all=True, append_images=frames[1:])
    assert cli.main(["colorize", "anim.gif", "-q"]) == 0
    assert "warning: anim.gif has 2 frames; only the first is colorized" in capsys.readouterr().err
    gray = np.full((12, 16), 0.5, np.float32)
    io.write_image(work / "g.png", gray)
    io.write_image(work / "h.png", np.repeat(gray[..., None], 3, axis=2))  # equals the input: no stroke
    assert cli.main(["colorize", "g.png", "--method", "levin", "--hints", "h.png"]) == 1
    assert "has no strokes on this image" in capsys.readouterr().err


def _slow_batch(work: Path, *extra: str, sleep: float = 0.02) -> subprocess.Popen:
    env = dict(os.environ, TINCT_TEST_SLEEP=str(sleep), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, str(SLOW_CLI), "colorize", "in", "--out-dir", "out", "-q",
                             "--method", "slowgray", *extra], cwd=work, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def _default_sigint() -> None:
    # a test run started in the background (`make test &`) has SIGINT ignored, and the child would
    # inherit that: give it the disposition an interactive terminal gives
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint_says_what_is_done_and_what_is_left(work):
    for i in range(40):
        gray_file(work / "in" / f"p{i:02d}.png", seed=i)
    proc = _slow_batch(work, sleep=0.05)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not list(work.glob("out/*.png")):
        time.sleep(0.01)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    line = next(x for x in err.splitlines() if x.startswith("interrupted:"))
    done = int(line.split()[1])
    assert 0 < done < 40 and f"{40 - done} left" in line
    assert len(list((work / "out").glob("*.png"))) == done


def test_sigkill_at_random_moments_loses_nothing_and_leaves_nothing_half_written(work):
    count = 30
    for i in range(count):
        gray_file(work / "in" / f"p{i:02d}.png", seed=i, shape=(64, 80))
    rng = random.Random(19)
    seen_done = 0
    for round_ in range(4):
        before = len(list((work / "out").glob("*.png"))) if (work / "out").exists() else 0
        proc = _slow_batch(work, sleep=0.05)
        deadline = time.monotonic() + 20
        while round_ and time.monotonic() < deadline and proc.poll() is None and \
                len(list((work / "out").glob("*.png"))) == before:  # rounds 1-3: once it makes progress
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))  # round 0: anywhere from start-up on
        proc.kill()
        proc.wait(timeout=30)
        done = [r for r in manifest(work / "out") if r["status"] == "done"] \
            if (work / "out" / MANIFEST_NAME).exists() else []
        for path in (work / "out").glob("*.png"):  # every visible output is complete
            source = work / "in" / path.name.replace("_slowgray", "")
            np.testing.assert_allclose(io.read_rgb(path)[..., 0], io.read_gray(source), atol=1 / 255)
        assert len(done) >= seen_done  # nothing done is lost
        seen_done = len(done)
    assert 0 < seen_done < count  # the kills came in the middle of the batch
    proc = _slow_batch(work)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not [p for p in (work / "out").iterdir() if p.name.startswith(".")]
    names = sorted(p.name for p in (work / "out").glob("*.png"))
    assert names == [f"p{i:02d}_slowgray.png" for i in range(count)]
    assert len(manifest(work / "out")) == count


def test_a_kill_between_record_and_rename_is_redone(work, monkeypatch):
    gray_file(work / "a.png")
    gray_file(work / "b.png", seed=1)

    def killed(src, dst):
        raise RuntimeError("killed")

    monkeypatch.setattr("tinct.batch.run.os.replace", killed)
    assert cli.main(["colorize", "a.png", "--out-dir", "out"]) == 1  # done record, no output, a temp
    assert [r["status"] for r in manifest(work / "out")] == ["done"]
    assert not (work / "out" / "a_gray.png").exists()
    monkeypatch.undo()
    monkeypatch.chdir(work)
    assert cli.main(["colorize", "a.png", "b.png", "--out-dir", "out", "--method", "gray"]) == 0
    assert sorted(p.name for p in (work / "out").iterdir()) == ["a_gray.png", "b_gray.png", MANIFEST_NAME]


def test_one_run_per_output_folder_and_out_dir_inside_the_source(work, capsys):
    from tinct.batch.run import lock_folder

    archive(work / "arch", count=1)
    (work / "arch" / "coloured").mkdir()
    held = lock_folder(work / "arch" / "coloured")
    try:
        assert cli.main(["colorize", "arch", "-r", "--out-dir", "arch/coloured"]) == 1
        assert "another tinct colorize is writing to arch/coloured" in capsys.readouterr().err
    finally:
        os.close(held)
    args = ["colorize", "arch", "-r", "--out-dir", "arch/coloured"]
    assert cli.main(args) == 0 and cli.main(args) == 0  # its own outputs are never inputs
    assert len(manifest(work / "arch" / "coloured")) == 4
