"""Adaptive image clustering (Cheng et al. Sec. III-C, Algorithm 3, eq. 3) and cluster selection.

Training: the reference images are grouped by k-means on their gist descriptors, layer by layer;
a network is trained per cluster; images whose training PSNR already passes the threshold
(E(I) = -PSNR <= eps) leave the pool; the next layer has ``N^l = size(pool) / mu`` clusters, and
the loop stops when fewer than ``mu`` images remain (``mu = alpha * N_w / N_s``, eq. 3).

Test time: the ``top_k`` clusters nearest in gist (Euclidean), then among them the one whose
semantic histogram is most similar (cosine) to the image's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ClusterParams:
    """Algorithm 3 settings. ``eps_db`` is the paper's epsilon (-26 dB)."""

    eps_db: float = -26.0
    alpha: float = 30.0
    n0: int = 4
    max_layers: int = 3
    top_k: int = 3


def min_images(alpha: float, n_weights: int, samples_per_image: int) -> int:
    """Eq. 3: ``mu = alpha * N_w / N_s`` (at least 1)."""
    return max(1, int(round(alpha * n_weights / samples_per_image)))


@dataclass
class Cluster:
    """One node of the hierarchy: its layer, members, gist centre and semantic histogram."""

    layer: int
    members: np.ndarray
    center: np.ndarray
    semantic_hist: np.ndarray
    psnr: np.ndarray = field(default_factory=lambda: np.zeros(0))


def kmeans(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Labels of k-means++ / Lloyd on rows of ``x`` (``k`` clamped to the number of rows)."""
    k = max(1, min(k, len(x)))
    if k == 1:
        return np.zeros(len(x), dtype=np.int64)
    from scipy.cluster.vq import kmeans2  # training only: keeps scipy.cluster (0.35 s) out of start-up

    _, labels = kmeans2(x.astype(np.float64), k, minit="++", seed=np.random.default_rng(seed))
    return labels.astype(np.int64)


def adaptive_clustering(
    gists: np.ndarray,
    semantic_hists: np.ndarray,
    train_net: Callable[[int, np.ndarray], None],
    image_psnr: Callable[[int, np.ndarray], np.ndarray],
    params: ClusterParams,
    mu: int,
    *,
    seed: int = 0,
) -> list[Cluster]:
    """Algorithm 3.

    Args:
        gists: ``(N, D)`` global descriptors of the reference images.
        semantic_hists: ``(N, K)`` per-image class histograms (rows sum to 1).
        train_net: ``train_net(cluster_index, member_indices)`` trains the net of a new cluster.
        image_psnr: ``image_psnr(cluster_index, member_indices) -> (len(members),)`` PSNR in dB of
            each member colorized by that cluster's net.
        params: thresholds and sizes; ``mu`` from :func:`min_images`.

    Returns:
        The clusters in training order (cluster index = position).
    """
    pool = np.arange(len(gists))
    clusters: list[Cluster] = []
    n_clusters = params.n0
    layer = 0
    while len(pool) >= mu and layer < params.max_layers and n_clusters >= 1:
        labels = kmeans(gists[pool], n_clusters, seed + layer)
        keep = []
        for c in np.unique(labels):
            members = pool[labels == c]
            hist = semantic_hists[members].mean(0)
            index = len(clusters)
            cluster = Cluster(layer, members, gists[members].mean(0), hist / max(hist.sum(), 1e-12))
            clusters.append(cluster)
            train_net(index, members)
            cluster.psnr = np.asarray(image_psnr(index, members), dtype=np.float64)
            keep.append(members[-cluster.psnr > params.eps_db])  # E(I) <= eps: removed
        pool = np.sort(np.concatenate(keep)) if keep else pool[:0]
        layer += 1
        n_clusters = len(pool) // mu
    return clusters


def select_cluster(
    gist: np.ndarray, semantic_hist: np.ndarray, centers: np.ndarray, hists: np.ndarray, top_k: int
) -> int:
    """Index of the cluster for one image: top-k by gist distance, then max cosine similarity."""
    d = np.linalg.norm(centers - gist[None], axis=1)
    candidates = np.argsort(d, kind="stable")[: max(1, top_k)]
    h = semantic_hist / max(float(np.linalg.norm(semantic_hist)), 1e-12)
    norms = np.maximum(np.linalg.norm(hists[candidates], axis=1), 1e-12)
    cosine = hists[candidates] @ h / norms
    return int(candidates[int(np.argmax(cosine))])
