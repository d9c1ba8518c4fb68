"""Floors for near-infrared colorization (issue 16 item 4): what a NIR method must beat.

Three colourings of a NIR band that need no learning beyond a table or a mean:

* ``gray``: the NIR band used as gray (the ``gray`` method: the band repeated in R, G, B);
* ``lut``: a NIR -> RGB lookup table fitted on training pairs (:func:`fit_lut`: the mean RGB of
  every one of the 256 NIR levels, empty levels linearly interpolated between their filled
  neighbours, constant beyond the ends);
* ``flat``: the flat mean training colour (:func:`flat_colour`: the mean RGB of all training
  pixels, pixel-weighted), a constant image.

Each is scored with the paired protocol, :func:`evaluate_pairs` (re-exported from
:mod:`tinct.bench.pairs`), which scores any ``band -> RGB`` callable on a list of
:class:`~tinct.data.nir.NirPair`. ``benchmarks/nir_floors.py`` writes ``docs/results/nir_floors.md``.

Example::

    from tinct.data.nir import nir_split
    train = nir_split("train")
    fns = floor_methods(fit_lut(train), flat_colour(train))
    report = evaluate_pairs(fns["lut"], nir_split("test"), name="lut")
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinct.bench.pairs import ColorizeFn, PairsReport, evaluate_pairs
from tinct.data.nir import NirPair, load_pair
from tinct.errors import TinctError

__all__ = ["LEVELS", "FLOORS", "fit_lut", "apply_lut", "flat_colour", "floor_methods", "evaluate_pairs",
           "evaluate_floors", "PairsReport"]

LEVELS = 256
"""NIR levels of the lookup table: ``round(nir * 255)``."""

FLOORS = {
    "gray": "NIR used as gray (the `gray` method: the band in R, G and B)",
    "lut": "NIR -> RGB lookup table fitted on train (mean RGB per NIR level, 256 levels, gaps interpolated)",
    "flat": "flat mean training colour (mean RGB of all train pixels, a constant image)",
}
"""The floors, by name, with a one-line description each."""


def _levels(band: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(band, dtype=np.float64) * (LEVELS - 1)), 0, LEVELS - 1).astype(np.intp)


def _check_pairs(pairs: Sequence[NirPair], what: str) -> None:
    if not pairs:
        raise TinctError(f"{what} needs at least one training pair")


def fit_lut(pairs: Sequence[NirPair]) -> np.ndarray:
    """The mean RGB of every NIR level over the pixels of ``pairs`` (read with :func:`load_pair`).

    Returns:
        float32 ``(256, 3)`` in [0, 1]: row ``k`` is the colour for NIR ``k / 255``. Levels no pixel
        has are interpolated linearly between the nearest filled levels per channel (constant
        beyond the lowest and highest filled level).
    """
    _check_pairs(pairs, "fit_lut")
    sums, counts = np.zeros((LEVELS, 3)), np.zeros(LEVELS)
    for pair in pairs:
        nir, rgb = load_pair(pair)
        levels = _levels(nir).ravel()
        counts += np.bincount(levels, minlength=LEVELS)
        for c in range(3):
            channel = rgb[..., c].ravel().astype(np.float64)
            sums[:, c] += np.bincount(levels, weights=channel, minlength=LEVELS)
    filled = np.flatnonzero(counts)
    means = sums[filled] / counts[filled, None]
    grid = np.arange(LEVELS)
    return np.stack([np.interp(grid, filled, means[:, c]) for c in range(3)], axis=1).astype(np.float32)


def apply_lut(lut: np.ndarray, band: np.ndarray) -> np.ndarray:
    """Colour a band with a ``(256, 3)`` table: float32 ``(H, W)`` in [0, 1] -> float32 ``(H, W, 3)``."""
    return lut[_levels(band)]


def flat_colour(pairs: Sequence[NirPair]) -> np.ndarray:
    """The mean RGB of all pixels of ``pairs`` (every pixel weighs the same): float64 ``(3,)`` in [0, 1]."""
    _check_pairs(pairs, "flat_colour")
    total, count = np.zeros(3), 0
    for pair in pairs:
        rgb = load_pair(pair)[1]
        total += rgb.reshape(-1, 3).sum(axis=0, dtype=np.float64)
        count += rgb.shape[0] * rgb.shape[1]
    return total / count


def floor_methods(lut: np.ndarray, colour: np.ndarray) -> dict[str, ColorizeFn]:
    """``{name: band -> RGB}`` for every floor of :data:`FLOORS`, given the fitted table
    (:func:`fit_lut`, ``(256, 3)``) and colour (:func:`flat_colour`, ``(3,)``)."""
    from tinct.registry import load_method

    lut, colour = np.asarray(lut, dtype=np.float32), np.asarray(colour, dtype=np.float32)
    return {
        "gray": load_method("gray").colorize,
        "lut": lambda band: apply_lut(lut, band),
        "flat": lambda band: np.broadcast_to(colour, (*np.shape(band), 3)).copy(),
    }


def evaluate_floors(fns: dict[str, ColorizeFn], splits: dict[str, Sequence[NirPair]], align_radius: int = 4,
                    *, progress: bool = False) -> dict[str, dict[str, PairsReport]]:
    """``{split: {floor: report}}``: every callable of ``fns`` scored on every split."""
    return {split: {name: evaluate_pairs(fn, pairs, align_radius, name=name, progress=progress)
                    for name, fn in fns.items()}
            for split, pairs in splits.items()}
