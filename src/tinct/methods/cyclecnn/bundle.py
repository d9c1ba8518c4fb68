"""``tinct train cyclecnn --stage bundle``: one inference file from M and the refinement CNN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinct.errors import TinctError
from tinct.weights import load_weights, save_weights


def bundle_weights(colorizer: str | None, refiner: str | None, out: str | Path) -> Path:
    """Join M (``model.*``) and the refinement CNN (``refine.*``) into one inference file; the card
    keeps both source cards."""
    if not colorizer:
        raise TinctError("stage bundle needs --colorizer-weights")
    tensors, card_m = load_weights(colorizer)
    tensors = {k: v for k, v in tensors.items() if k.startswith("model.")}
    card: dict[str, Any] = {"method": "cyclecnn", "parts": {"model": card_m}}
    if refiner:
        more, card_r = load_weights(refiner)
        if "refine.warped_luma_flag" in more:
            raise TinctError(f"{refiner}: a warped-luma refiner (experimental) cannot be bundled: the "
                             "inference paths feed the refiner I_G's luma")
        tensors.update({k: v for k, v in more.items() if k.startswith("refine.")})
        card["parts"]["refine"] = card_r
    card.update({"config": card_m.get("config"), "data": card_m.get("data"), "split": card_m.get("split"),
                 "metrics": {"protocol": "see docs/results/cyclecnn_middlebury.md"}})
    return save_weights(out, tensors, card)
