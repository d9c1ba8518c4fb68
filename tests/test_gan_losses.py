"""benchmarks/gan_losses.py: smoothing, the first/last-tenth balance, and the panel sheet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from benchmark_loader import load_benchmark
from PIL import Image

gan_losses = load_benchmark("gan_losses")


def _run(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    rows = [{"step": 20 * (i + 1), "d": 0.5 - 0.3 * i / n, "adversarial": 0.2 + 0.2 * i / n, "elapsed_s": i}
            for i in range(n)]
    (folder / "losses.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n{truncated")
    return folder


def test_smooth_keeps_length_and_constants_and_averages_noise() -> None:
    assert np.allclose(gan_losses.smooth(np.full(50, 0.3), 9), 0.3)
    noisy = np.tile([0.0, 1.0], 50)
    out = gan_losses.smooth(noisy, 10)
    assert out.shape == noisy.shape and np.abs(out[5:-5] - 0.5).max() < 0.06


def test_balance_and_report(tmp_path) -> None:
    run = _run(tmp_path / "run", 100)
    losses = gan_losses.read_losses(run)  # the truncated last line is skipped
    assert len(losses["step"]) == 100
    bal = gan_losses.balance(losses)
    assert set(bal) == {"d", "adversarial"}
    assert bal["d"][0] > bal["d"][1] and bal["adversarial"][0] < bal["adversarial"][1]
    rc = gan_losses.main([f"a={run}", "--out", str(tmp_path / "rep"), "--image", str(tmp_path / "l.png")])
    assert rc == 0
    assert Image.open(tmp_path / "l.png").size == (gan_losses.PANEL[0], gan_losses.PANEL[1])
    assert "| a | 2000 | d |" in (tmp_path / "rep.md").read_text()


def test_missing_losses_is_a_clear_error(tmp_path, capsys) -> None:
    args = [f"a={tmp_path}", "--out", str(tmp_path / "r"), "--image", str(tmp_path / "i.png")]
    assert gan_losses.main(args) == 2
    assert "losses.jsonl" in capsys.readouterr().err
