"""Fully convolutional networks with InstanceNorm, run tile by tile at bounded memory.

InstanceNorm normalizes each channel by its mean and variance over the whole image, so no output
pixel of such a network is local: plain tiling (:mod:`tinct.nn.tiling`) would change the result.
:func:`forward_tiled` therefore runs in two passes:

1. **statistics** (:func:`sampled_statistics`): the network runs on sample tiles spread evenly over
   the image (:func:`sample_tiles`: ``stats_pixels`` own pixels in all, 64 x 64 each, every one with
   its halo, i.e. with its real surroundings), once per norm in order: norm ``k`` is measured on the
   tiles' own pixels with the norms before it frozen at their measured statistics. This is an
   unbiased sample of the whole image's statistics (the exact ones when the samples cover the
   image); an area-reduced copy or a mosaic of crops is biased (texture at another scale; seams);
2. **tiles**: a copy of the network whose norms apply those frozen statistics
   (:class:`FrozenInstanceNorm`, a per-channel affine map, so the copy is local) runs on tiles of
   the full-resolution image: row strips times column strips of :func:`tinct.nn.tiling.strips`,
   with a halo of at least the network's receptive radius, on the grid of its downsampling factor
   (so strided convolutions and nearest upsampling line up with the whole-image call). Each tile's
   output is cropped to its own pixels.

Exact when the sample tiles cover the image (at most ``stats_pixels``): the tiles then give the
whole-image output to float rounding (tested). Larger images get sampled statistics, the one
approximation (measured in ``docs/results/gan_tiling.md``). Peak memory is that of the network on
one tile plus the input and the output; the statistics cost about 5 passes over ``stats_pixels``
(each pass stops at the norm it measures) with the tiles' halo.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from tinct.nn.tiling import Strip, strips

GOLDEN = (5 ** 0.5 - 1) / 2
"""Column step of the sample lattice (:func:`sample_tiles`), as a fraction of the width."""
BATCH = 16
"""Sample tiles of one shape measured per forward call."""
SAMPLE = 64
"""Own side of the tiles the statistics are measured on (:func:`sample_tiles`): many small tiles
beat fewer large ones at the same pixel count (measured, ``docs/methods/spynco.md``)."""


class FrozenInstanceNorm(nn.Module):
    """An :class:`~torch.nn.InstanceNorm2d` with fixed statistics: ``(x - mean) / sqrt(var + eps)``,
    then the norm's affine weight and bias; ``(B, C, H, W)`` -> same shape."""

    def __init__(self, norm: nn.InstanceNorm2d, mean: torch.Tensor, var: torch.Tensor) -> None:
        super().__init__()
        self.eps = norm.eps
        self.weight, self.bias = norm.weight, norm.bias
        self.register_buffer("mean", mean.detach().clone())
        self.register_buffer("var", var.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.mean, self.var, self.weight, self.bias, False, 0.0, self.eps)


@torch.no_grad()
def norm_statistics(net: nn.Module, x: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Run ``net(x)`` (``x`` ``(1, C, H, W)``) and return ``{name: (mean (C,), biased var (C,))}`` of the
    input of every InstanceNorm2d submodule, by module name."""
    if x.shape[0] != 1:
        raise ValueError(f"statistics are per image: expected a batch of 1, got {tuple(x.shape)}")
    stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(name: str):  # noqa: ANN202 - a forward pre-hook
        def record(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            var, mean = torch.var_mean(args[0], dim=(0, 2, 3), correction=0)
            stats[name] = (mean, var)
        return record

    handles = [m.register_forward_pre_hook(hook(name)) for name, m in net.named_modules()
               if isinstance(m, nn.InstanceNorm2d)]
    try:
        net(x)
    finally:
        for h in handles:
            h.remove()
    return stats


class _Stop(Exception):
    """Ends a forward pass early, once the norm whose input is being measured has seen it."""


def _stop(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
    raise _Stop(args[0])


def _tile_input(x: torch.Tensor, rs: Strip, cs: Strip) -> torch.Tensor:
    """Rows ``rs.lo:rs.hi``, columns ``cs.lo:cs.hi`` of ``x`` ``(..., H, W)``."""
    return x[..., rs.extended, cs.extended]


@torch.no_grad()
def sampled_statistics(net: nn.Module, x: torch.Tensor,
                       tiles: list[tuple[Strip, Strip]]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The whole-image InstanceNorm statistics of ``net`` on ``x`` ``(1, C, H, W)``, measured on the own
    pixels of the given tiles only (each run with its halo, so with its real surroundings: no seams).

    A norm's input depends on the statistics of the norms before it, so the norms are measured in
    order, one pass over the tiles each (a pass stops at the norm it measures): norm ``k`` sees the
    network with norms ``< k`` frozen at their measured statistics. With every tile of a cover of the
    image the result is the whole image's statistics (to float rounding); with a subset, an unbiased
    sample of them.

    Returns:
        ``{name: (mean (C,), biased var (C,))}`` for every InstanceNorm2d submodule.
    """
    order: list[str] = []
    handles = [m.register_forward_pre_hook(lambda _m, _a, name=name: order.append(name))
               for name, m in net.named_modules() if isinstance(m, nn.InstanceNorm2d)]
    try:
        net(_tile_input(x, *tiles[0]))
    finally:
        for h in handles:
            h.remove()
    # tiles of one shape and one own-pixel window run as one batch (norms < k are frozen: per image)
    groups: dict[tuple[int, ...], list[torch.Tensor]] = {}
    for rs, cs in tiles:
        key = (rs.hi - rs.lo, cs.hi - cs.lo, rs.inner.start, rs.inner.stop, cs.inner.start, cs.inner.stop)
        groups.setdefault(key, []).append(_tile_input(x, rs, cs))
    batches = [(key, torch.cat(group[i:i + BATCH])) for key, group in groups.items()
               for i in range(0, len(group), BATCH)]
    stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for name in dict.fromkeys(order):
        partial = freeze_norms(net, stats)
        handle = partial.get_submodule(name).register_forward_pre_hook(_stop)
        sums = torch.zeros(3, 0, dtype=torch.float64)
        for (th, tw, top, bottom, left, right), batch in batches:
            try:
                partial(batch)
            except _Stop as stop:
                feat = stop.args[0].double()
                fy, fx = th / feat.shape[-2], tw / feat.shape[-1]
                own = feat[..., round(top / fy):round(bottom / fy), round(left / fx):round(right / fx)]
                count = torch.full((own.shape[1],), float(own[:, 0].numel()), dtype=torch.float64)
                part = torch.stack([count, own.sum(dim=(0, 2, 3)), (own * own).sum(dim=(0, 2, 3))])
                sums = part if sums.numel() == 0 else sums + part
        handle.remove()
        n, total, total_sq = sums
        mean = total / n
        stats[name] = (mean.float(), (total_sq / n - mean * mean).clamp_min(0).float())
    return stats


def freeze_norms(net: nn.Module, stats: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> nn.Module:
    """A copy of ``net`` whose InstanceNorm2d modules are :class:`FrozenInstanceNorm` with ``stats``
    (from :func:`norm_statistics`); ``net`` is unchanged."""
    frozen = copy.deepcopy(net)
    for name, module in list(frozen.named_modules()):
        if isinstance(module, nn.InstanceNorm2d) and name in stats:
            parent_name, _, child = name.rpartition(".")
            parent = frozen.get_submodule(parent_name) if parent_name else frozen
            setattr(parent, child, FrozenInstanceNorm(module, *stats[name]))
    return frozen


def _grid_strips(size: int, tile: int, halo: int, multiple: int) -> list[Strip]:
    """:func:`strips` of ``size`` (a multiple of ``multiple``) whose bounds are multiples of ``multiple``."""
    m = multiple
    return [Strip(s.top * m, s.bottom * m, s.lo * m, s.hi * m)
            for s in strips(size // m, max(1, tile // m), -(-halo // m))]


def sample_tiles(height: int, width: int, sample: int, halo: int, multiple: int,
                 max_pixels: int) -> list[tuple[Strip, Strip]]:
    """Tiles of about ``sample`` x ``sample`` own pixels (with ``halo``, on the ``multiple`` grid) spread
    over a ``height`` x ``width`` image, at most ``max_pixels`` own pixels in all (at least one tile);
    every tile of the cover when they fit. Returns (row strip, column strip) pairs."""
    rows, cols = _grid_strips(height, sample, halo, multiple), _grid_strips(width, sample, halo, multiple)
    n = max(1, max_pixels // (sample * sample))
    if n >= len(rows) * len(cols):
        return [(r, c) for r in rows for c in cols]
    # a Fibonacci lattice: evenly spaced rows, columns by the golden ratio, so the samples see many
    # different rows and columns and the border tiles, whose padding differs, are not over-weighted.
    # Measured on spynco, kodim05 x2.5, ΔE00 to the whole-image output: this lattice 0.34; a gy x gx
    # grid of cell centres (few distinct rows and columns) 1.42; a grid through the corners 2.04
    picks = [(rows[int((i + 0.5) * len(rows) / n)], cols[int((i * GOLDEN + 0.5) % 1.0 * len(cols))])
             for i in range(n)]
    return list(dict.fromkeys(picks))


@torch.no_grad()
def forward_tiled(net: nn.Module, x: torch.Tensor, *, out_channels: int, halo: int, multiple: int,
                  tile: int = 512, stats_pixels: int = 1 << 19, sample: int = SAMPLE) -> torch.Tensor:
    """``net(x)`` at bounded memory (see the module docstring).

    Args:
        net: a fully convolutional network with InstanceNorm2d layers mapping ``(1, C, H, W)`` to
            ``(1, out_channels, H, W)``; H and W multiples of ``multiple``.
        x: ``(1, C, H, W)`` input, H and W multiples of ``multiple``.
        halo: pixels of context around each tile, at least the network's receptive radius.
        multiple: the network's total downsampling factor (tile bounds are multiples of it).
        tile: at most this many output rows (and columns) per tile.
        stats_pixels: the statistics are measured on at most this many pixels of ``x``
            (:func:`sample_tiles` of side ``sample``; all of them when ``x`` is that small: exact).

    Returns:
        ``(1, out_channels, H, W)`` float32.
    """
    h, w = x.shape[-2:]
    if h % multiple or w % multiple:
        raise ValueError(f"H and W must be multiples of {multiple}, got {(h, w)}")
    stats = sampled_statistics(net, x, sample_tiles(h, w, sample, halo, multiple, stats_pixels))
    frozen = freeze_norms(net, stats).eval()
    out = torch.empty(1, out_channels, h, w)
    cols = _grid_strips(w, tile, halo, multiple)
    for rs in _grid_strips(h, tile, halo, multiple):
        for cs in cols:
            y = frozen(_tile_input(x, rs, cs))
            out[..., rs.rows, cs.rows] = y[..., rs.inner, cs.inner]
    return out
