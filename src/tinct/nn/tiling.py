"""Row strips with a halo: running a convolutional network (or any row-local computation) on a large
image a few rows at a time, with exactly the result of one whole-image call.

An output row of a network whose receptive field reaches ``halo`` rows up and down depends only on
the input rows within ``halo`` of it. So the image is cut into strips of output rows
``top:bottom``; each strip's input is the halo-extended rows ``lo:hi`` (clipped at the image
border, where the network's own padding applies as in the whole-image call), and the network's
output is cropped back to ``top:bottom``. Peak memory is bounded by the strip, not the image.

The strips of :func:`strips` have equal heights (+-1): ``ceil(height / rows)`` of them, so no thin
last strip pays a full halo for a few rows (780 rows at ``rows=288``: 3 strips of 260, not
288 + 288 + 204).

Rows are axis ``-2`` of every array (``(H, W)``, ``(C, H, W)``, ``(N, C, H, W)``), numpy arrays and
torch tensors alike.

Typical use::

    for s in strips(h, 256, net.radius):
        s.put(out, net(s.take(x)))          # out[..., s.top:s.bottom, :] = crop of net(x[..., lo:hi, :])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:  # torch only for type hints: numpy-only methods use strips without loading torch
    import torch

    Array = TypeVar("Array", np.ndarray, torch.Tensor)
else:
    Array = TypeVar("Array")


@dataclass(frozen=True)
class Strip:
    """Output rows ``top:bottom`` of an image and the input rows ``lo:hi`` (``lo <= top <= bottom <= hi``)
    that a network with a halo needs to compute them."""

    top: int
    bottom: int
    lo: int
    hi: int

    @property
    def rows(self) -> slice:
        """The strip's own rows, ``top:bottom``, in image coordinates."""
        return slice(self.top, self.bottom)

    @property
    def extended(self) -> slice:
        """The halo-extended rows, ``lo:hi``, in image coordinates."""
        return slice(self.lo, self.hi)

    @property
    def inner(self) -> slice:
        """The strip's own rows inside the extended rows: ``top - lo : bottom - lo``."""
        return slice(self.top - self.lo, self.bottom - self.lo)

    def take(self, x: Array) -> Array:
        """Rows ``lo:hi`` of ``x`` ``(..., H, W)`` (a view): ``(..., hi - lo, W)``."""
        return x[..., self.lo:self.hi, :]

    def crop(self, y: Array) -> Array:
        """The strip's own rows of ``y`` ``(..., hi - lo, W')``, a result on :meth:`take`'s rows (a view):
        ``(..., bottom - top, W')``."""
        if y.shape[-2] != self.hi - self.lo:
            raise ValueError(f"expected {self.hi - self.lo} rows (the extended strip), got {tuple(y.shape)}")
        return y[..., self.top - self.lo:self.bottom - self.lo, :]

    def put(self, out: Array, y: Array) -> None:
        """``out[..., top:bottom, :] = crop(y)``; ``out`` ``(..., H, W')``, ``y`` ``(..., hi - lo, W')``."""
        out[..., self.top:self.bottom, :] = self.crop(y)

    def with_halo(self, halo: int, height: int) -> Strip:
        """The same rows ``top:bottom`` with another halo (clipped to ``[0, height)``)."""
        return Strip(self.top, self.bottom, max(0, self.top - halo), min(height, self.bottom + halo))


def strips(height: int, rows: int, halo: int = 0) -> list[Strip]:
    """Cover rows ``0:height`` with ``ceil(height / rows)`` strips of equal height (+-1), in order.

    Args:
        height: image rows (>= 0; 0 gives no strip).
        rows: at most this many rows per strip (values < 1 count as 1).
        halo: rows of context above and below each strip (>= 0), clipped at the image border.

    Returns:
        Strips whose ``top:bottom`` are disjoint, contiguous and cover every row exactly once; their
        ``lo:hi`` is ``max(0, top - halo) : min(height, bottom + halo)``.
    """
    if height < 0 or halo < 0:
        raise ValueError(f"height and halo must be >= 0, got {height} and {halo}")
    if height == 0:
        return []
    n = -(-height // max(1, rows))
    bounds = [round(i * height / n) for i in range(n + 1)]
    return [Strip(top, bottom, max(0, top - halo), min(height, bottom + halo))
            for top, bottom in zip(bounds[:-1], bounds[1:], strict=True)]


def snap(strip: Strip, multiple: int) -> Strip:
    """``strip`` with its input start ``lo`` moved down to a multiple of ``multiple`` (a network's
    pooling grid), so its poolings see the pixels a whole-image pass sees."""
    return Strip(strip.top, strip.bottom, max(0, strip.lo // multiple * multiple), strip.hi)


def grid_tiles(height: int, width: int, side: int, halo: int, multiple: int = 1,
               full_width: bool = False) -> list[tuple[Strip, Strip]]:
    """(rows, columns) of the tiles of a network pass over ``(height, width)``: at most ``side`` px
    each way (``full_width``: row strips spanning every column), each with a ``halo`` of context,
    its input start snapped to ``multiple`` (:func:`snap`). The tiles' own pixels cover the image
    exactly once."""
    whole = [Strip(0, width, 0, width)]
    cols = whole if full_width else [snap(c, multiple) for c in strips(width, side, halo)]
    return [(snap(r, multiple), c) for r in strips(height, side, halo) for c in cols]


def strip_moments(values: Callable[[Strip], np.ndarray], height: int,
                  rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (biased) standard deviation over a whole image, computed strip by strip.

    The first pass of a two-pass strip scheme (statistics, then the strips that use them): each
    strip's ``values(strip)`` ``(..., C)`` (for rows ``strip.top:strip.bottom``) is reduced to its
    count, mean and sum of squared deviations, and the strips are merged by Chan et al.'s parallel
    update (float64), so no full-size array is made and there is no cancellation of ``E[x^2] - E[x]^2``.

    Returns:
        float64 ``(C,)`` mean and ``(C,)`` standard deviation (equal to ``np.mean`` / ``np.std`` of the
        whole image's values up to float rounding).
    """
    n, mean, m2 = 0, None, None
    for s in strips(height, rows):
        v = np.asarray(values(s), dtype=np.float64)
        v = v.reshape(-1, v.shape[-1])
        k, mu = v.shape[0], v.mean(axis=0)
        sq = ((v - mu) ** 2).sum(axis=0)
        if mean is None:
            n, mean, m2 = k, mu, sq
            continue
        delta = mu - mean
        total = n + k
        mean = mean + delta * (k / total)
        m2 = m2 + sq + delta ** 2 * (n * k / total)
        n = total
    if mean is None:
        raise ValueError("strip_moments of an empty image")
    return mean, np.sqrt(m2 / n)
