"""Write an unpaired GAN run's generator into the package as float16 (issue 15 item 4).

Only the generator ``G.*`` tensors go in (the discriminators and the second generator are training
state); the loaders widen them to float32. The card keeps the run's config, data and training
sections and records the scores that justified the bundle, the command that produced them and the
source run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinct.weights import bundled_path, load_weights, save_weights


def bundle_generator(src: str | Path, method: str, name: str, metrics: dict[str, Any]) -> Path:
    """Copy ``src`` (an exported run, ``.safetensors`` + card) to ``method``'s bundled ``name``.

    Returns the written path. ``metrics`` replaces the card's metrics (protocol, command, scores).
    """
    src = Path(src).with_suffix(".safetensors")
    tensors, card = load_weights(src)
    half = {k: v.half() for k, v in tensors.items() if k.startswith("G.")}
    if not half:
        raise SystemExit(f"{src}: no generator tensors (G.*) to bundle")
    card.metrics = metrics
    card.extra["dtype"] = "float16 (widened to float32 at load)"
    card.extra["source_run"] = str(src)
    return save_weights(bundled_path(method, name), half, card)
