"""bf16 autocast only where the CPU has native bf16 (tinct.precision)."""

from __future__ import annotations

import pytest
import torch

from tinct import precision


@pytest.fixture(autouse=True)
def _fresh_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TINCT_BF16", raising=False)
    precision._warn_once.cache_clear()


def _autocast_on(ctx) -> bool:
    with ctx:
        return torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


def test_native_cpu_gets_autocast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "native_bf16", lambda: True)
    assert _autocast_on(precision.bf16_autocast(True))
    assert not _autocast_on(precision.bf16_autocast(False))


def test_cpu_without_bf16_falls_back_to_float32_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(precision, "native_bf16", lambda: False)
    assert not _autocast_on(precision.bf16_autocast(True))
    assert not _autocast_on(precision.bf16_autocast(True))
    err = capsys.readouterr().err
    assert err.count("no native bf16") == 1 and "float32" in err
    monkeypatch.setenv("TINCT_BF16", "force")
    assert _autocast_on(precision.bf16_autocast(True))


def test_native_bf16_reads_cpu_flags(tmp_path) -> None:
    for i, (flags, expected) in enumerate((("fpu avx2 avx512f avx512_bf16", True), ("fpu avx2 fma", False),
                                           ("fpu amx_tile amx_bf16", True))):
        info = tmp_path / f"cpuinfo{i}"
        info.write_text(f"processor\t: 0\nvendor_id\t: x\nflags\t\t: {flags}\n")
        assert precision.native_bf16(str(info)) is expected
