"""How much memory a web job may take, estimated before it starts.

``tinct serve`` refuses a job whose estimate is over the per-job budget (``--job-memory-gb``)
instead of letting the process grow until the machine swaps (before the methods were tiled, a
16 MP photo through ``spynco`` peaked at 23.4 GB). The estimate is a linear model ``fixed +
per_pixel x pixels`` per method, set above the job peaks measured through the server
(``benchmarks/web_memory.py`` -> ``docs/results/web_memory.md``: VmHWM during the job minus the
RSS before it) and the methods' own measurements (``docs/results/*_speed*``), so a job under
the budget fits with room; ``tests/test_web_limits.py`` checks every measured row against it.
Methods that work in row strips or tiles (all of them now) have a per-pixel term of the
full-size arrays only (input, output, PNG encoding: ~35 B/pixel measured for ``gray``); the
fixed term is their working memory. An unknown method gets :data:`DEFAULT_COST`, a
conservative guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tinct.errors import TinctError

MB = 2**20
GB = 2**30
DEFAULT_JOB_MEMORY_GB = 6.0


@dataclass(frozen=True)
class Cost:
    """Peak memory of one call as ``fixed + per_pixel * pixels`` bytes (pixels of the input)."""

    fixed: float
    per_pixel: float

    def bytes(self, pixels: int) -> int:
        return int(self.fixed + self.per_pixel * pixels)


# Measured job peaks (docs/results/web_memory.md) in the comments.
COSTS: dict[str, Cost] = {
    "gray": Cost(50 * MB, 40),            # 12 MP: 423 MB
    "reinhard": Cost(50 * MB, 90),        # 12 MP with a 12 MP reference: 419 MB
    "welsh": Cost(200 * MB, 120),         # 4 MP with a 4 MP reference: 138 MB
    "stereocopy": Cost(200 * MB, 80),     # row strips; 4 MP pair: 143 MB
    "levin": Cost(1600 * MB, 80),         # solve bounded at 2.1 MP; 4 MP: 796 MB (12 MP: 1.49 GB process)
    "deepcolor": Cost(1300 * MB, 60),     # fixed working size; 12 MP: 487 MB (24 MP: 1.29 GB process)
    "fusion": Cost(1200 * MB, 50),        # fixed working size; 12 MP, weights loaded: 629 MB
    "cyclecnn": Cost(600 * MB, 300),      # strips; 1 MP peaked at 0.61 GB with the process
    "spynco": Cost(900 * MB, 120),        # 512² tiles, frozen statistics; 1 MP (weights loaded): 683-774 MB,
                                          # 2 MP: 728-986 MB (two runs)
    "cyclegan": Cost(900 * MB, 120),      # the same tiling as spynco
}
DEFAULT_COST = Cost(1000 * MB, 400)


def estimate_bytes(method: str, width: int, height: int) -> int:
    """Estimated peak bytes of colorizing a ``width`` x ``height`` image with ``method``."""
    return COSTS.get(method, DEFAULT_COST).bytes(int(width) * int(height))


def max_pixels_within(method: str, budget_bytes: int) -> int:
    """The largest pixel count whose estimate fits ``budget_bytes`` (0 when nothing fits)."""
    cost = COSTS.get(method, DEFAULT_COST)
    return max(0, int((budget_bytes - cost.fixed) / cost.per_pixel))


def check_budget(method: str, width: int, height: int, budget_bytes: int) -> None:
    """Raise :class:`TinctError` (one line, with what to do) if the job's estimate is over the budget."""
    need = estimate_bytes(method, width, height)
    if need <= budget_bytes:
        return
    fits = max_pixels_within(method, budget_bytes)
    scale = math.sqrt(fits / (width * height)) if fits else 0.0
    advice = (f"shrink the photo to about {int(width * scale)}x{int(height * scale)} or less"
              if fits >= 10_000 else "choose another method")
    raise TinctError(f"{method} on a {width}x{height} photo would need about {need / GB:.1f} GB of memory; "
                     f"the per-job limit is {budget_bytes / GB:.1f} GB (tinct serve --job-memory-gb): "
                     f"{advice}")
