"""What every benchmark report shares: the machine it ran on and writing itself as JSON.

A report class (``QualityReport``, ``PairsReport``, ``VideoReport``, ``CaptionReport``) defines
``to_dict()``; :class:`JsonReport` adds ``to_json(path)``, and :func:`machine_info` is the
``"machine"`` entry of every report's dict.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def machine_info() -> dict[str, Any]:
    """The platform string, the Python version and the CPU count, for a report's JSON."""
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}


class JsonReport:
    """Mixin for a report with ``to_dict()``: write it as indented JSON."""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every report overrides it
        raise NotImplementedError

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as indented JSON to ``path`` (folders are created); numpy scalars
        are written as floats."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, default=float) + "\n")
        return path
