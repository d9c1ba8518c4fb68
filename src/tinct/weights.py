"""Weights on disk: ``*.safetensors`` (never pickle) plus a JSON card beside them.

A card is a dict with at least ``method``, ``config``, ``data``, ``split``, ``commit``,
``metrics`` (with the protocol that produced them) and ``size_bytes``.
Bundled weights live in ``tinct/methods/<name>/weights/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where tensors are read or written, not by `import tinct.weights`
    import torch

from tinct.errors import TinctError


def git_commit() -> str:
    """The current git commit of the working tree (``"unknown"`` outside a checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_weights(path: str | Path, tensors: dict[str, torch.Tensor], card: dict[str, Any]) -> Path:
    """Write ``path`` (``.safetensors``) and ``path`` with ``.json`` (the card), atomically."""
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        from safetensors.torch import save_file
        save_file(tensors, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    card = {"commit": git_commit(), **card, "size_bytes": path.stat().st_size}
    card_path = path.with_suffix(".json")
    tmp_card = card_path.with_suffix(".json.tmp")
    tmp_card.write_text(json.dumps(card, indent=2, default=str) + "\n")
    os.replace(tmp_card, card_path)
    return path


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read tensors and card (empty dict if the card is missing)."""
    path = Path(path).with_suffix(".safetensors")
    if not path.is_file():
        raise TinctError(f"weights not found: {path}")
    try:
        from safetensors.torch import load_file
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise TinctError(f"cannot read weights {path}: {exc}") from None
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    return tensors, card


def bundled_path(method: str, name: str = "default") -> Path:
    """Path of a method's bundled weights file (may not exist)."""
    return Path(__file__).parent / "methods" / method / "weights" / f"{name}.safetensors"
