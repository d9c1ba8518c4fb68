"""``tinct train cyclecnn --stage bundle``: one inference file from M and the refinement CNN."""

from __future__ import annotations

from pathlib import Path

from tinct.errors import TinctError
from tinct.weights import WeightCard, load_weights, save_weights


def bundle_weights(colorizer: str | None, refiner: str | None, out: str | Path) -> Path:
    """Join M (``model.*``) and the refinement CNN (``refine.*``) into one inference file; the card
    keeps both source cards."""
    if not colorizer:
        raise TinctError("stage bundle needs --colorizer-weights")
    tensors, card_m = load_weights(colorizer)
    tensors = {k: v for k, v in tensors.items() if k.startswith("model.")}
    card = WeightCard(method="cyclecnn", config=card_m.config, data=card_m.data, split=card_m.split,
                      metrics={"protocol": "see docs/results/cyclecnn_middlebury.md"},
                      extra={"parts": {"model": card_m.to_dict()}})
    if refiner:
        more, card_r = load_weights(refiner)
        tensors.update({k: v for k, v in more.items() if k.startswith("refine.")})
        card.extra["parts"]["refine"] = card_r.to_dict()
    return save_weights(out, tensors, card)
