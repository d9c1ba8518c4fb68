"""The line-art protocol (issue 17 item 5): a drawing (and optional hints) in, RGB out, scored against
the drawing's photo with PSNR and CIEDE2000 (:mod:`tinct.metrics`), means over the images.

Hints for the "hinted" rows are :func:`tinct.data.lineart.sample_hints` points on ``rate`` of the
pixels of the true photo, from a generator seeded with ``(seed, image index)``, so every method
gets the same hints. Floors (no learning): :func:`drawing_floor` (the drawing itself as the image),
:func:`flat_floor` (the mean colour of the training photos under the black lines, or without them)
and, with hints, :func:`spread_hints` (each pixel the Gaussian-weighted mean of the nearby hints, no
lines used). :func:`oracle_score` is not a floor but a ceiling for guesses without hints: it knows the
photo's own mean colour (per image or per row).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tinct.data.lineart import sample_hints
from tinct.data.lineart_pairs import lineart_split, load_lineart_pair
from tinct.hints import Hints
from tinct.metrics import mean_ciede2000, psnr

Colorize = Callable[[np.ndarray, Hints | None], np.ndarray]
"""``colorize(drawing (H, W) in [0, 1], hints or None) -> RGB (H, W, 3) in [0, 1]``."""


@dataclass(frozen=True)
class LineartItem:
    """One scored image: ``drawing`` float32 (H, W) in [0, 1], ``photo`` float32 (H, W, 3)."""

    key: str
    drawing: np.ndarray
    photo: np.ndarray


def load_items(split: str = "val", root: str | Path | None = None,
               limit: int | None = None) -> list[LineartItem]:
    """The drawings and photos of a split (``val`` for scores), as float32 in [0, 1]."""
    pairs = lineart_split(split, root)[:limit] if limit else lineart_split(split, root)
    items = []
    for p in pairs:
        drawing, photo = load_lineart_pair(p)
        items.append(LineartItem(p.key, drawing.astype(np.float32) / 255.0, photo.astype(np.float32) / 255.0))
    return items


def mean_train_colour(root: str | Path | None = None) -> np.ndarray:
    """The mean RGB ``(3,)`` of the photos of the train drawings (fitted on train only)."""
    from tinct.io import read_rgb

    sums = [read_rgb(p.photo).reshape(-1, 3).mean(axis=0) for p in lineart_split("train", root)]
    return np.mean(sums, axis=0).astype(np.float32)


def hints_for(item_index: int, photo: np.ndarray, rate: float, seed: int = 0) -> Hints | None:
    """The protocol's fixed hints of image ``item_index``: ``rate`` of the pixels of ``photo``."""
    if rate <= 0:
        return None
    return sample_hints(photo, np.random.default_rng([seed, item_index]), rate=rate)


def drawing_floor(drawing: np.ndarray, hints: Hints | None = None) -> np.ndarray:
    """The drawing itself as a gray RGB image ``(H, W, 3)``."""
    return np.repeat(drawing[..., None], 3, axis=2)


def flat_floor(colour: np.ndarray, *, lines: bool = True) -> Colorize:
    """The flat ``colour`` ``(3,)`` everywhere, black under the lines (the drawing times the colour; the
    issue's floor), or without the lines (``lines=False``: the best constant image, a stronger floor)."""
    if lines:
        return lambda drawing, hints=None: drawing[..., None] * colour[None, None, :]
    return lambda drawing, hints=None: np.broadcast_to(colour, (*drawing.shape, 3)).astype(np.float32)


def spread_hints(colour: np.ndarray, sigma: float = 6.0) -> Colorize:
    """Hints spread by normalized convolution: each pixel the Gaussian(``sigma`` px)-weighted mean of
    the hinted colours; the flat ``colour`` where no hint is near (and without hints). Lines unused."""

    def colorize(drawing: np.ndarray, hints: Hints | None = None) -> np.ndarray:
        h, w = drawing.shape
        if hints is None or not hints.mask.any():
            return np.broadcast_to(colour, (h, w, 3)).astype(np.float32)
        m = hints.mask.astype(np.float32)
        num = cv2.GaussianBlur(hints.color * m[..., None], (0, 0), sigma)
        den = cv2.GaussianBlur(m, (0, 0), sigma)[..., None]
        prior = 1e-3  # a weak pull to the flat colour where the hints are far
        return ((num + prior * colour) / (den + prior)).astype(np.float32)

    return colorize


def oracle_score(kind: str, items: list[LineartItem]) -> dict[str, float]:
    """Scores of an *oracle* that knows each true photo (not a method; it bounds what a flat or
    row-wise guess could reach without hints): ``kind`` ``"mean"`` paints every pixel the photo's own
    mean colour, ``"rows"`` each row the photo's own mean colour of that row. Same means as :func:`score`."""
    if kind not in ("mean", "rows"):
        raise ValueError(f"oracle kind must be 'mean' or 'rows', got {kind!r}")
    rows = []
    for item in items:
        axis = (0, 1) if kind == "mean" else (1,)
        out = np.broadcast_to(item.photo.mean(axis=axis, keepdims=True), item.photo.shape)
        rows.append((psnr(out, item.photo), mean_ciede2000(np.ascontiguousarray(out), item.photo)))
    means = np.mean(rows, axis=0)
    return {"psnr": round(float(means[0]), 3), "ciede2000": round(float(means[1]), 3), "images": len(items)}


def score(colorize: Colorize, items: list[LineartItem], *, hint_rate: float = 0.0, seed: int = 0
          ) -> dict[str, float]:
    """Mean PSNR (dB) and CIEDE2000 of ``colorize`` over ``items``, with the protocol's hints on
    ``hint_rate`` of the pixels (0: none)."""
    rows = []
    for i, item in enumerate(items):
        out = np.clip(colorize(item.drawing, hints_for(i, item.photo, hint_rate, seed)), 0.0, 1.0)
        rows.append((psnr(out, item.photo), mean_ciede2000(out, item.photo)))
    means = np.mean(rows, axis=0)
    return {"psnr": round(float(means[0]), 3), "ciede2000": round(float(means[1]), 3), "images": len(items)}
