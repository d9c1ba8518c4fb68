"""The 3-D weight volume W of the colorization CNN M (Dong et al. 2019, Cycle-CNN Fig. 6).

For a pixel ``(j, i)`` of the gray input A and each disparity ``k = 0 .. d-1`` the model scores the
reference pixel ``(j, i + k)`` by the scaled dot product of their ResNet features; a softmax over
``k`` gives ``W[j, i, k]`` (sums to 1 over ``k``; positions past the right border get weight 0).
Colours are then the W-weighted average of the reference's values at ``(j, i + k)``.

Two implementations with the same result:

- :func:`weight_volume` + :func:`weighted_average` materialise W ``(N, d, H, W)`` (training: the
  smoothness loss, eq. 3, needs it);
- :func:`streaming_average` never stores W: an online softmax over the shift/narrow loop
  (inference; memory ``O(H W)`` instead of ``O(d H W)``);
- :func:`banded_average` (fastest, inference): W of a few rows at a time, as block matrix products.
  Each block of ``block`` pixels of a row scores the ``block + d - 1`` reference pixels it can reach
  with one small matmul; entries outside the band ``i .. i + d - 1`` (and past the border) are masked
  to -inf before the softmax and the average is a second matmul with the reference values. The
  matmuls compute ``(block + d - 1) / d`` times the needed scores, but run at BLAS speed instead of
  ~10 memory passes per disparity; a few rows at a time keep the volume in cache.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _shifted_scores(feat_a: torch.Tensor, feat_b: torch.Tensor, k: int, scale: torch.Tensor) -> torch.Tensor:
    """Scores of disparity ``k`` for columns ``0 .. W-k-1``: ``(N, H, W-k)``."""
    width = feat_a.shape[-1]
    fa = feat_a.narrow(-1, 0, width - k)
    fb = feat_b.narrow(-1, k, width - k)
    return (fa * fb).sum(dim=1) * scale


class _DotScores(torch.autograd.Function):
    """Scores ``(N, d, H, W)``: ``scale <fa(j, i), fb(j, i + k)>``, -inf past the border. Its backward
    accumulates into gradient buffers slice by slice; autograd through ``narrow`` would allocate and
    add a full-size zero gradient per disparity (most of a training step's time)."""

    @staticmethod
    def forward(ctx, feat_a: torch.Tensor, feat_b: torch.Tensor, scale: torch.Tensor,
                disparities: int) -> torch.Tensor:
        ctx.save_for_backward(feat_a, feat_b, scale)
        n, _, h, w = feat_a.shape
        scores = feat_a.new_full((n, disparities, h, w), float("-inf"))
        for k in range(min(disparities, w)):
            torch.sum(feat_a[..., :w - k] * feat_b[..., k:], dim=1, out=scores[:, k, :, :w - k])
        return scores.mul_(scale)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        feat_a, feat_b, scale = ctx.saved_tensors
        w = feat_a.shape[-1]
        ga, gb = torch.zeros_like(feat_a), torch.zeros_like(feat_b)
        gs = torch.zeros((), dtype=feat_a.dtype)
        for k in range(min(grad.shape[1], w)):
            g = grad[:, k:k + 1, :, :w - k]
            fa, fb = feat_a[..., :w - k], feat_b[..., k:]
            gs += (g * fa * fb).sum()
            ga[..., :w - k].addcmul_(g, fb)
            gb[..., k:].addcmul_(g, fa)
        return ga.mul_(scale), gb.mul_(scale), gs.reshape(scale.shape).to(scale.dtype), None


class _ShiftedAverage(torch.autograd.Function):
    """``out[:, c, j, i] = sum_k weights[:, k, j, i] values[:, c, j, i + k]`` with a slice-wise backward
    (see :class:`_DotScores`)."""

    @staticmethod
    def forward(ctx, weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(weights, values)
        w = weights.shape[-1]
        out = torch.zeros_like(values)
        for k in range(min(weights.shape[1], w)):
            out[..., :w - k].addcmul_(weights[:, k:k + 1, :, :w - k], values[..., k:])
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        weights, values = ctx.saved_tensors
        w = weights.shape[-1]
        gw, gv = torch.zeros_like(weights), torch.zeros_like(values)
        for k in range(min(weights.shape[1], w)):
            g = grad[..., :w - k]
            torch.sum(g * values[..., k:], dim=1, out=gw[:, k, :, :w - k])
            gv[..., k:].addcmul_(weights[:, k:k + 1, :, :w - k], g)
        return gw, gv


def weight_volume(feat_a: torch.Tensor, feat_b: torch.Tensor, disparities: int,
                  scale: torch.Tensor | float = 1.0, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax weights over disparities.

    Args:
        feat_a: ``(N, C, H, W)`` features of the gray input A.
        feat_b: ``(N, C, H, W)`` features of the reference B (same size).
        disparities: ``d`` >= 1; disparity ``k`` looks at reference column ``i + k``.
        scale: multiplies the dot products (a learnt inverse temperature).
        bias: ``(N, H, W, d)`` added to the scores before the softmax (the regularized cost volume of
            :mod:`.cost3d`), or None.

    Returns:
        ``(N, d, H, W)`` weights >= 0 summing to 1 over dim 1; zero where ``i + k >= W``.
    """
    if feat_a.shape != feat_b.shape:
        raise ValueError(f"feature shapes differ: {tuple(feat_a.shape)} vs {tuple(feat_b.shape)}")
    scale = torch.as_tensor(scale, dtype=feat_a.dtype)
    scores = _DotScores.apply(feat_a, feat_b, scale, int(disparities))
    if bias is not None:
        scores = scores + bias.permute(0, 3, 1, 2)
    return torch.softmax(scores, dim=1)


def weighted_average(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``out[:, c, j, i] = sum_k weights[:, k, j, i] * values[:, c, j, i + k]``.

    Args:
        weights: ``(N, d, H, W)`` from :func:`weight_volume`.
        values: ``(N, C, H, W)`` reference values (e.g. Y, Cb, Cr in [0, 1]).

    Returns:
        ``(N, C, H, W)``; a convex combination, so it stays in the values' range.
    """
    return _ShiftedAverage.apply(weights, values.to(weights.dtype))


def streaming_average(feat_a: torch.Tensor, feat_b: torch.Tensor, values: torch.Tensor, disparities: int,
                      scale: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Same as ``weighted_average(weight_volume(feat_a, feat_b, d, scale), values)`` without storing W.

    Online softmax: keeps the running maximum, the running normaliser and the running weighted sum.

    Args:
        feat_a, feat_b: ``(N, C, H, W)`` features.
        values: ``(N, V, H, W)`` reference values.
        disparities: ``d``.
        scale: inverse temperature.

    Returns:
        ``(N, V, H, W)``.
    """
    n, _, h, w = feat_a.shape
    scale = torch.as_tensor(scale, dtype=feat_a.dtype)
    best = _shifted_scores(feat_a, feat_b, 0, scale)  # k = 0 is always valid
    norm = torch.ones_like(best)
    acc = values.clone()
    for k in range(1, min(disparities, w)):
        s = _shifted_scores(feat_a, feat_b, k, scale)
        cols = w - k
        m_old = best[..., :cols]
        m_new = torch.maximum(m_old, s)
        keep = torch.exp(m_old - m_new)
        new = torch.exp(s - m_new)
        norm[..., :cols] = norm[..., :cols] * keep + new
        acc[..., :cols] = acc[..., :cols] * keep.unsqueeze(1) + new.unsqueeze(1) * values[..., k:]
        best[..., :cols] = m_new
    return acc / norm.unsqueeze(1)


def _band_mask(block: int, disparities: int, width: int) -> torch.Tensor:
    """``(nb, block, block + d - 1)`` additive mask: 0 where local column ``k`` of block ``b`` is a
    disparity ``k - i`` in ``[0, d)`` of pixel ``i`` and inside the image, else -inf. Pixels past the
    right border (padding, discarded) keep their own column so no softmax row is all -inf."""
    nb = -(-width // block)
    ext = block + disparities - 1
    i = torch.arange(block)[:, None]
    k = torch.arange(ext)[None, :]
    start = torch.arange(nb)[:, None, None] * block
    valid = ((k >= i) & (k < i + disparities))[None] & (start + k[None] < width)
    valid |= (k == i)[None] & (start + i[None] >= width)
    return torch.zeros(nb, block, ext).masked_fill_(~valid, float("-inf"))


def _skew(bias: torch.Tensor, block: int, nb: int) -> torch.Tensor:
    """``(m, W, d)`` per-pixel disparity values -> ``(m, nb, block, block + d - 1)`` in the band layout:
    ``out[r, b, p, p + k] = bias[r, b * block + p, k]``, 0 elsewhere and past ``W`` (one zero-padding copy
    and a strided view, no loop)."""
    m, w, d = bias.shape
    ext = block + d - 1
    flat = F.pad(bias, (0, block, 0, nb * block - w)).view(m, nb, block * (block + d))
    return flat[..., :block * ext].view(m, nb, block, ext)


def banded_average(feat_a: torch.Tensor, feat_b: torch.Tensor, values: torch.Tensor, disparities: int,
                   scale: torch.Tensor | float = 1.0, *, block: int = 16, rows: int = 8,
                   bias: torch.Tensor | None = None) -> torch.Tensor:
    """Same as :func:`streaming_average` (to float rounding) by banded block matmuls, ``rows`` image
    rows at a time (see the module docstring).

    Args:
        feat_a, feat_b: ``(N, C, H, W)`` features (channels-last memory avoids a copy).
        values: ``(N, V, H, W)`` reference values.
        disparities: ``d`` >= 1.
        scale: inverse temperature.
        block: pixels per matmul block; rows: image rows per step (the volume of ``rows * W * (block
            + d - 1)`` floats should stay in cache).
        bias: ``(N, H, W, d)`` added to the scores of each disparity (as in :func:`weight_volume`).

    Returns:
        ``(N, V, H, W)`` in channels-last memory format.
    """
    if feat_a.shape != feat_b.shape or feat_a.shape[-2:] != values.shape[-2:]:
        raise ValueError(f"shapes differ: features {tuple(feat_a.shape)}, {tuple(feat_b.shape)}, "
                         f"values {tuple(values.shape)}")
    n, c, h, w = feat_a.shape
    v = values.shape[1]
    d = int(disparities)
    nb = -(-w // block)
    ext = block + d - 1
    wp = nb * block + d - 1
    nh = n * h
    scale = torch.as_tensor(scale, dtype=feat_a.dtype)
    a = F.pad((feat_a.permute(0, 2, 3, 1) * scale).reshape(nh, w, c), (0, 0, 0, nb * block - w))
    a = a.view(nh, nb, block, c)
    b = F.pad(feat_b.permute(0, 2, 3, 1).reshape(nh, w, c), (0, 0, 0, wp - w))
    vals = F.pad(values.permute(0, 2, 3, 1).reshape(nh, w, v), (0, 0, 0, wp - w))
    mask = _band_mask(block, d, w).to(feat_a.dtype)
    if bias is not None:
        bias = bias.reshape(nh, w, d)
    out = torch.empty(nh, nb, block, v, dtype=values.dtype)
    for r0 in range(0, nh, rows):
        m = min(rows, nh - r0)
        bx = b.as_strided((m, nb, ext, c), (wp * c, block * c, c, 1), b.storage_offset() + r0 * wp * c)
        scores = torch.matmul(a[r0:r0 + m], bx.transpose(-1, -2)).add_(mask)  # (m, nb, block, ext)
        if bias is not None:
            scores.add_(_skew(bias[r0:r0 + m], block, nb))
        weights = torch.softmax(scores, dim=-1)
        vx = vals.as_strided((m, nb, ext, v), (wp * v, block * v, v, 1), vals.storage_offset() + r0 * wp * v)
        torch.matmul(weights, vx, out=out[r0:r0 + m])
    return out.view(n, h, nb * block, v)[:, :, :w].permute(0, 3, 1, 2)
