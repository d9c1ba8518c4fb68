"""The 3-D weight volume W of the colorization CNN M (Dong et al. 2019, Cycle-CNN Fig. 6).

For a pixel ``(j, i)`` of the gray input A and each disparity ``k = 0 .. d-1`` the model scores the
reference pixel ``(j, i + k)`` by the scaled dot product of their ResNet features; a softmax over
``k`` gives ``W[j, i, k]`` (sums to 1 over ``k``; positions past the right border get weight 0).
Colours are then the W-weighted average of the reference's values at ``(j, i + k)``.

Two implementations with the same result:

- :func:`weight_volume` + :func:`weighted_average` materialise W ``(N, d, H, W)`` (training: the
  smoothness loss, eq. 3, needs it);
- :func:`streaming_average` never stores W: an online softmax over the shift/narrow loop
  (inference; memory ``O(H W)`` instead of ``O(d H W)``).
"""

from __future__ import annotations

import torch


def _shifted_scores(feat_a: torch.Tensor, feat_b: torch.Tensor, k: int, scale: torch.Tensor) -> torch.Tensor:
    """Scores of disparity ``k`` for columns ``0 .. W-k-1``: ``(N, H, W-k)``."""
    width = feat_a.shape[-1]
    fa = feat_a.narrow(-1, 0, width - k)
    fb = feat_b.narrow(-1, k, width - k)
    return (fa * fb).sum(dim=1) * scale


def weight_volume(feat_a: torch.Tensor, feat_b: torch.Tensor, disparities: int,
                  scale: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Softmax weights over disparities.

    Args:
        feat_a: ``(N, C, H, W)`` features of the gray input A.
        feat_b: ``(N, C, H, W)`` features of the reference B (same size).
        disparities: ``d`` >= 1; disparity ``k`` looks at reference column ``i + k``.
        scale: multiplies the dot products (a learnt inverse temperature).

    Returns:
        ``(N, d, H, W)`` weights >= 0 summing to 1 over dim 1; zero where ``i + k >= W``.
    """
    if feat_a.shape != feat_b.shape:
        raise ValueError(f"feature shapes differ: {tuple(feat_a.shape)} vs {tuple(feat_b.shape)}")
    n, _, h, w = feat_a.shape
    scale = torch.as_tensor(scale, dtype=feat_a.dtype)
    scores = feat_a.new_full((n, disparities, h, w), float("-inf"))
    for k in range(min(disparities, w)):
        scores[:, k, :, : w - k] = _shifted_scores(feat_a, feat_b, k, scale)
    return torch.softmax(scores, dim=1)


def weighted_average(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``out[:, c, j, i] = sum_k weights[:, k, j, i] * values[:, c, j, i + k]``.

    Args:
        weights: ``(N, d, H, W)`` from :func:`weight_volume`.
        values: ``(N, C, H, W)`` reference values (e.g. Y, Cb, Cr in [0, 1]).

    Returns:
        ``(N, C, H, W)``; a convex combination, so it stays in the values' range.
    """
    n, d, h, w = weights.shape
    out = torch.zeros_like(values)
    for k in range(min(d, w)):
        out = out + torch.nn.functional.pad(
            weights[:, k:k + 1, :, : w - k] * values[..., k:], (0, k))
    return out


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
