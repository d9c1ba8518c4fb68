"""How much memory a web job may take, estimated before it starts.

``tinct serve`` refuses a job whose estimate is over the per-job budget (``--job-memory-gb``)
instead of letting the process grow until the machine swaps: e.g. a 16 MP photo through
``spynco`` (full-resolution convolutions) peaked at 23.4 GB. The estimate is a linear model
``fixed + per_pixel x pixels`` per method, fitted from the peak RSS measured in the methods'
docs (``docs/results/*_speed*``, ``docs/methods/*.md``) and rounded up, so a job under the budget
fits with room. A method that bounds its own working size (deepcolor and fusion work at a
fixed resolution, levin solves on a downsampled grid above 2.1 MP) has a small per-pixel term;
one that runs at full resolution has a large one. When a method gains tiling, its line below
shrinks; an unknown method gets :data:`DEFAULT_COST`, a conservative guess.
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


# Inputs, outputs and the PNG encode alone are ~40 B/pixel (float32 luma, RGB, uint8 copies).
COSTS: dict[str, Cost] = {
    "gray": Cost(50 * MB, 40),
    "reinhard": Cost(50 * MB, 90),
    "welsh": Cost(200 * MB, 120),
    "stereocopy": Cost(200 * MB, 400),     # SGBM cost volume rows + guided filter
    "levin": Cost(1600 * MB, 80),         # solve bounded at 2.1 MP; 12 MP peaked at 1.49 GB
    "deepcolor": Cost(1300 * MB, 60),     # fixed working size; 24 MP peaked at 1.29 GB
    "fusion": Cost(1200 * MB, 50),        # fixed working size; 24 MP peaked at 1.12 GB
    "cyclecnn": Cost(600 * MB, 300),      # strips; 1 MP peaked at 0.61 GB with the process
    "spynco": Cost(300 * MB, 1600),       # full-resolution convolutions: 16 MP peaked at 23.4 GB
    "cyclegan": Cost(300 * MB, 1600),     # ResNet generator at full resolution, like spynco
}
DEFAULT_COST = Cost(1000 * MB, 1500)


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
