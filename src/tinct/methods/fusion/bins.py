"""Quantized ab colours (Zhang, Isola & Efros 2016): bins, the empirical prior, class rebalancing,
soft-encoded targets and annealed-mean decoding.

The ab plane is cut into a grid of ``GRID`` = 10 units; the bins kept are those an sRGB colour
can reach at some lightness (the "in-gamut" bins, ~300). Training targets are soft: each pixel's
ab spreads over its 5 nearest bin centres with a Gaussian of sigma 5. Rare colours are
re-weighted: ``w ∝ ((1 - λ) p̃ + λ / Q)^-1`` with the prior ``p̃`` (bin frequencies of the
training set smoothed by a Gaussian of sigma 5 in ab), λ = 0.5, normalized so that ``E_p̃[w] = 1``.
Decoding: the annealed mean ``softmax(log p / T)`` averaged over the bin centres (T = 1: the mean,
T -> 0: the mode).
"""

from __future__ import annotations

import numpy as np
import torch

GRID = 10.0
AB_RANGE = 110.0


def gamut_bins(grid: float = GRID) -> np.ndarray:
    """Centres ``(Q, 2)`` float32 of the ab bins reachable by sRGB colours (L sampled with them)."""
    from tinct.color import rgb_to_lab

    steps = np.linspace(0.0, 1.0, 48)
    rgb = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(-1, 3)
    ab = rgb_to_lab(rgb)[:, 1:]
    idx = np.round(ab / grid).astype(int)
    keys = np.unique(idx, axis=0)
    return (keys * grid).astype(np.float32)


def empirical_prior(ab_samples: np.ndarray, centers: np.ndarray, *, sigma: float = 5.0) -> np.ndarray:
    """Bin frequencies ``(Q,)`` of ``(M, 2)`` ab samples (nearest bin), smoothed by a Gaussian of
    ``sigma`` ab units over the bin centres, summing to 1."""
    nearest = np.argmin(((ab_samples[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=len(centers)).astype(np.float64)
    d2 = ((centers[:, None, :] - centers[None]) ** 2).sum(-1)
    smoothed = np.exp(-d2 / (2 * sigma**2)) @ counts
    return (smoothed / smoothed.sum()).astype(np.float32)


def rebalancing_weights(prior: np.ndarray, lam: float = 0.5) -> np.ndarray:
    """``w ∝ ((1 - lam) prior + lam / Q)^-1``, normalized so that ``sum(prior * w) = 1``."""
    q = len(prior)
    w = 1.0 / ((1.0 - lam) * prior + lam / q)
    return (w / (prior * w).sum()).astype(np.float32)


class SoftEncoder:
    """Soft targets over the bins: each ab spreads over the in-gamut bins among the 3x3 grid points
    around it, Gaussian weights of ``sigma`` (Zhang et al. use the 5 nearest bins; the 3x3 grid
    neighbourhood contains them and costs 9 lookups instead of Q distances).

    ``__call__(ab (N, 2, h, w))`` -> ``(indices (N, 9, h, w) int64, weights (N, 9, h, w))`` with
    weight 0 (and index 0) where a neighbour is out of gamut; weights sum to 1 per pixel.
    """

    def __init__(self, centers: np.ndarray, *, grid: float = GRID, sigma: float = 5.0) -> None:
        self.grid, self.sigma = grid, sigma
        keys = np.round(np.asarray(centers) / grid).astype(int)
        self.offset = int(np.ceil(AB_RANGE / grid)) + 2
        size = 2 * self.offset + 1
        lut = np.full((size, size), -1, np.int64)
        lut[keys[:, 0] + self.offset, keys[:, 1] + self.offset] = np.arange(len(keys))
        self.lut = torch.from_numpy(lut)
        self.size = size

    def __call__(self, ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cell = torch.round(ab.float() / self.grid)
        idx_list, d2_list = [], []
        for da in (-1, 0, 1):
            for db in (-1, 0, 1):
                ga = (cell[:, 0] + da).long().clamp(-self.offset, self.offset) + self.offset
                gb = (cell[:, 1] + db).long().clamp(-self.offset, self.offset) + self.offset
                idx_list.append(self.lut[ga, gb])
                ca, cb = (ga - self.offset).float() * self.grid, (gb - self.offset).float() * self.grid
                d2_list.append((ab[:, 0] - ca) ** 2 + (ab[:, 1] - cb) ** 2)
        idx = torch.stack(idx_list, dim=1)
        logits = -torch.stack(d2_list, dim=1) / (2 * self.sigma**2)
        logits = logits.masked_fill(idx < 0, float("-inf"))
        weights = torch.softmax(logits, dim=1).nan_to_num(0.0)
        return idx.clamp(min=0), weights


def soft_cross_entropy(logits: torch.Tensor, idx: torch.Tensor, weights: torch.Tensor,
                       class_weights: torch.Tensor, pixel_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Rebalanced cross-entropy of ``logits`` ``(N, Q, h, w)`` against sparse soft targets
    (:class:`SoftEncoder`): each pixel weighted by the class weight of its heaviest target bin (times
    ``pixel_weight`` ``(N, h, w)`` if given)."""
    logp = torch.log_softmax(logits.float(), dim=1)
    ce = -(weights * torch.gather(logp, 1, idx)).sum(dim=1)
    pixel_w = class_weights[torch.gather(idx, 1, weights.argmax(dim=1, keepdim=True))[:, 0]]
    if pixel_weight is not None:
        pixel_w = pixel_w * pixel_weight
    return (pixel_w * ce).sum() / pixel_w.sum()


def annealed_mean(logits: torch.Tensor, centers: torch.Tensor, temperature: float, *,
                  class_weights: torch.Tensor | None = None, correction: float = 0.0) -> torch.Tensor:
    """ab ``(N, 2, h, w)`` from bin logits ``(N, Q, h, w)``: ``softmax(logits / T)`` averaged over
    the bin centres ``(Q, 2)`` (``log p / T`` = ``logits / T`` up to a per-pixel constant).

    ``correction`` = α in [0, 1] undoes that share of the class rebalancing first: a network trained
    with pixels weighted by ``w(q)`` learns ``p̂(q) ∝ w(q) p(q | x)``, so ``logits - α log w``
    (``class_weights`` ``(Q,)``) moves from the rebalanced, vivid distribution (α = 0) back to the
    data's posterior (α = 1)."""
    logits = logits.float()
    if correction and class_weights is not None:
        logits = logits - correction * torch.log(class_weights.float()).view(1, -1, 1, 1)
    p = torch.softmax(logits / max(temperature, 1e-3), dim=1)
    return torch.einsum("nqhw,qc->nchw", p, centers)


def confidence(logits: torch.Tensor) -> torch.Tensor:
    """Per-pixel confidence ``(N, 1, h, w)`` in [0, 1]: 1 - normalized entropy of ``softmax(logits)``."""
    logp = torch.log_softmax(logits.float(), dim=1)
    entropy = -(logp.exp() * logp).sum(dim=1, keepdim=True)
    return 1.0 - entropy / float(np.log(logits.shape[1]))
