"""benchmarks/cyclecnn_ablation.py: runs grouped by variant over seeds, finished runs skipped, the
variant's loss settings passed to training."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from benchmark_loader import load_benchmark

ablation = load_benchmark("cyclecnn_ablation")


def _card(run: Path, steps: int) -> None:
    run.mkdir(parents=True)
    (run / "weights.json").write_text(json.dumps({"method": "cyclecnn", "steps": steps}))


def test_summary_groups_seeds_of_each_variant_with_mean_and_spread() -> None:
    summary = {"full_s0": {"first_ssim_cbcr": 0.95, "first_de00": 2.4},
               "full_s1": {"first_ssim_cbcr": 0.94, "first_de00": 2.6},
               "no_ss_s0": {"first_ssim_cbcr": 0.80, "first_de00": 9.0},
               "no_smooth_s0": {"first_ssim_cbcr": 0.93, "first_de00": 2.9}}
    lines = ablation.summary_table({"middlebury": {"summary": summary}}, 1500, "score")
    rows = {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| ") and "seeds" not in line}
    assert set(rows) == {ablation.LABELS[v] for v in ("full", "no_ss", "no_smooth")}
    full = rows[ablation.LABELS["full"]].split(" | ")
    assert full[1] == "2" and full[2] == "0.9450 (0.0100)" and full[3] == "2.50 (0.20)"
    # "no_ss" must not swallow "no_smooth" (both start with "no_s")
    assert rows[ablation.LABELS["no_ss"]].split(" | ")[1] == "1"
    assert "–" in rows[ablation.LABELS["no_ss"]]  # parts without scores are marked, not zero
    # one seed has no spread: a bracketed 0 would read as a measured spread
    assert rows[ablation.LABELS["no_smooth"]].split(" | ")[2:4] == ["0.9300", "2.90"]


def test_finished_steps_reads_the_card(tmp_path: Path) -> None:
    assert ablation.finished_steps(tmp_path / "missing") == 0
    _card(tmp_path / "a", 1500)
    assert ablation.finished_steps(tmp_path / "a") == 1500


def test_train_skips_finished_runs_and_passes_the_variant(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _card(tmp_path / "full_s0", 1500)
    _card(tmp_path / "no_cc_s0", 700)  # unfinished: resumed
    calls: list[list[str]] = []
    monkeypatch.setattr(ablation.subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    args = argparse.Namespace(runs=str(tmp_path), steps=1500, threads=2, seeds="0",
                              variants="full,no_cc,ssim_ss", ssm_weights="ssm.safetensors")
    assert ablation.train(args) == 0
    outs = [c[c.index("--out") + 1] for c in calls]
    assert outs == [str(tmp_path / "no_cc_s0"), str(tmp_path / "ssim_ss_s0")]
    assert calls[0][calls[0].index("--set") + 1] == "loss.cycle=0"
    assert calls[1][calls[1].index("--set") + 1] == "loss.ss_kind=ssim"
    assert all(c[c.index("--seed") + 1] == "0" and c[c.index("--steps") + 1] == "1500" for c in calls)


def test_train_stops_at_a_failed_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(ablation.subprocess, "call", lambda cmd: calls.append(cmd) or 3)
    args = argparse.Namespace(runs=str(tmp_path), steps=10, threads=1, seeds="0,1",
                              variants="no_smooth", ssm_weights="x")
    assert ablation.train(args) == 3 and len(calls) == 1
