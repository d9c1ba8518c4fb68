"""tinct — image colorization toolkit.

Public API::

    import tinct
    tinct.list_methods()                  # -> [MethodInfo, ...]
    m = tinct.load_method("levin")        # -> Colorizer
    rgb = m.colorize(gray, hints=hints)   # gray (H, W) in [0, 1] -> (H, W, 3) in [0, 1]
    rgb = tinct.colorize(gray, method="gray")
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a 2-core machine shared with other work,
# spinning made 2-thread inference 8-20x slower (docs/results/deepcolor_speed_omp_active.md).
# Must be set before torch is first imported; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from typing import Any

import numpy as np

from tinct.errors import TinctError
from tinct.registry import Colorizer, Hints, MethodInfo, list_methods, load_method, method_info

__version__ = "0.1.0"
DEFAULT_METHOD = "deepcolor"

__all__ = [
    "Colorizer", "Hints", "MethodInfo", "TinctError", "colorize", "list_methods", "load_method",
    "method_info", "DEFAULT_METHOD", "__version__",
]


def colorize(
    gray: np.ndarray,
    *,
    method: str | None = None,
    reference: np.ndarray | None = None,
    hints: Hints | None = None,
    caption: str | None = None,
    **options: Any,
) -> np.ndarray:
    """One-call colorization: load ``method`` (default :data:`DEFAULT_METHOD`) and run it.

    Args:
        gray: float ``(H, W)`` luma in [0, 1].
        method: registry name; ``None`` means the bundled default.
        reference: float ``(H', W', 3)`` RGB in [0, 1] for reference-based methods.
        hints: :class:`Hints` for scribble-based methods.
        caption: text for caption-steered methods (``method="caption"``).

    Returns:
        float32 ``(H, W, 3)`` RGB in [0, 1].
    """
    return load_method(method or DEFAULT_METHOD, **options).colorize(gray, reference=reference, hints=hints,
                                                                     caption=caption)
