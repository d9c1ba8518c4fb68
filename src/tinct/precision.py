"""bf16 autocast for training, only where the CPU computes bf16 natively.

Every trainer's ``--bf16`` goes through :func:`bf16_autocast`. On a CPU with native bf16
(``avx512_bf16`` or ``amx_bf16``) autocast made our convolutions 1.4-1.7x faster; on one without
(an AVX2 AMD EPYC, session 17) the same autocast made a 16-channel ResNet step **30x slower**
(3.7 s against 0.13 s), because oneDNN falls back to a slow path. So the flag is a request: where
bf16 is not native it is ignored with one warning on stderr and the run trains in float32
(``TINCT_BF16=force`` keeps autocast anyway, e.g. to test the bf16 code path).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path

import torch

NATIVE_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=4)
def native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when this CPU computes bf16 natively (the ``flags`` of ``cpuinfo`` name ``avx512_bf16``
    or ``amx_bf16``; without that file, PyTorch's CPU capability says AVX512)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return "AVX512" in torch.backends.cpu.get_cpu_capability()
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")),
                 [])
    return any(f in flags for f in NATIVE_FLAGS)


@functools.lru_cache(maxsize=1)
def _warn_once() -> None:
    print("tinct: bf16 requested but this CPU has no native bf16 (avx512_bf16/amx_bf16); training in "
          "float32 instead (bf16 would be many times slower here; TINCT_BF16=force keeps it)",
          file=sys.stderr)


def bf16_enabled(requested: bool) -> bool:
    """Whether a run that asks for bf16 (``requested``) gets it on this machine."""
    if not requested:
        return False
    if os.environ.get("TINCT_BF16", "").lower() == "force" or native_bf16():
        return True
    _warn_once()
    return False


def bf16_autocast(requested: bool) -> contextlib.AbstractContextManager:
    """CPU bf16 autocast when requested and native here (see the module docstring), else a no-op
    context (float32)."""
    if bf16_enabled(requested):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
