"""Writing a benchmark's results: the raw numbers as JSON beside the table as Markdown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_report(out: str | Path, result: dict[str, Any], markdown: str) -> None:
    """Write ``result`` to ``out.json`` and ``markdown`` to ``out.md`` (folders made), print the table.

    Args:
        out: path without (or with any) suffix, e.g. ``docs/results/deepcolor_speed``.
        result: JSON-serialisable raw numbers (with the command that produced them).
        markdown: the human-readable table.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown)
    print(markdown)
