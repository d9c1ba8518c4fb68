"""Per-pixel features of Cheng et al. Sec. III-B: 7x7 patch, DAISY-like descriptor, semantic map.

Feature layout of one pixel (the MLP input, :data:`N_FEATURES` = 89 with 8 classes):

- ``[0, 49)`` patch: the 7x7 luma neighbourhood, row-major (dy, dx = -3..3), minus 0.5;
  image borders replicate the edge pixel.
- ``[49, 81)`` DAISY: 4 ring locations (right, down, left, up at ``radius`` pixels) x 8
  orientations; each 8-bin histogram is the Gaussian-smoothed positive directional derivative
  (Tola et al.'s orientation maps) L2-normalised per pixel; locations outside the image replicate
  the edge. A fast dense approximation of DAISY's 4-location ring (no centre histogram).
- ``[81, 89)`` semantic: scene-parser class probabilities, smoothed by a domain-transform filter
  guided by the gray image (Sec. III-B.3).

Training gathers these at sampled pixels (:func:`patch_at`, :func:`daisy_at`); inference never
builds the N x 89 matrix, it convolves (see :mod:`.model`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from tinct.filters import domain_transform

from .scene_parser import SceneParser

PATCH = 7
N_ORIENT = 8
N_RING = 4


@dataclass
class FeatureConfig:
    """Feature settings (pixels are at the colorization working resolution)."""

    daisy_radius: int = 8
    daisy_sigma: float = 4.0
    parser_max_side: int = 160  # the parser was trained on ~160x120 images
    semantic_sigma_space: float = 20.0
    semantic_sigma_color: float = 0.08
    use_patch: bool = True
    use_daisy: bool = True
    use_semantic: bool = True


def n_features(cfg: FeatureConfig, n_classes: int) -> int:
    """Input width of the MLP for the enabled feature groups."""
    return PATCH * PATCH * cfg.use_patch + N_ORIENT * N_RING * cfg.use_daisy + n_classes * cfg.use_semantic


def ring_offsets(radius: int) -> list[tuple[int, int]]:
    """(dy, dx) of the 4 DAISY ring locations: right, down, left, up."""
    return [(0, radius), (radius, 0), (0, -radius), (-radius, 0)]


def orientation_maps(gray: np.ndarray, sigma: float) -> np.ndarray:
    """Smoothed, per-pixel L2-normalised orientation maps.

    Args:
        gray: float32 ``(H, W)`` in [0, 1].
        sigma: Gaussian sigma (pixels) applied to each orientation map.

    Returns:
        float32 ``(8, H, W)``, each pixel's 8 values have L2 norm <= 1 (0 in flat regions).
    """
    g = np.ascontiguousarray(gray, dtype=np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=1, borderType=cv2.BORDER_REPLICATE) * 0.5
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=1, borderType=cv2.BORDER_REPLICATE) * 0.5
    maps = np.empty((N_ORIENT, *g.shape), np.float32)
    for o in range(N_ORIENT):
        t = 2 * np.pi * o / N_ORIENT
        d = np.maximum(gx * np.float32(np.cos(t)) + gy * np.float32(np.sin(t)), 0)
        maps[o] = cv2.GaussianBlur(d, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    norm = np.sqrt((maps * maps).sum(0))
    # the floor keeps flat, noise-only regions near zero instead of amplifying them to unit norm
    maps /= np.maximum(norm, np.float32(2e-3))
    return maps


def patch_at(gray: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """7x7 patches (minus 0.5) at pixels ``(ys, xs)``: ``(N, 49)`` float32, replicate borders."""
    h, w = gray.shape
    d = np.arange(PATCH) - PATCH // 2
    yy = np.clip(ys[:, None, None] + d[None, :, None], 0, h - 1)
    xx = np.clip(xs[:, None, None] + d[None, None, :], 0, w - 1)
    return (gray[yy, xx] - 0.5).reshape(len(ys), PATCH * PATCH).astype(np.float32)


def daisy_at(maps: np.ndarray, ys: np.ndarray, xs: np.ndarray, radius: int) -> np.ndarray:
    """DAISY descriptor at pixels ``(ys, xs)`` from :func:`orientation_maps`: ``(N, 32)``."""
    h, w = maps.shape[-2:]
    parts = [
        maps[:, np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)].T for dy, dx in ring_offsets(radius)
    ]
    return np.concatenate(parts, axis=1).astype(np.float32)


def semantic_map(gray: np.ndarray, parser: SceneParser, cfg: FeatureConfig) -> np.ndarray:
    """Class probabilities at every pixel, edge-aware smoothed: ``(K, H, W)`` float32 in [0, 1].

    The parser runs with the longer side scaled to ``cfg.parser_max_side``; its softmax is
    resized back and smoothed with the domain transform guided by ``gray`` (Sec. III-B.3).
    """
    h, w = gray.shape
    s = min(1.0, cfg.parser_max_side / max(h, w))
    small = (
        gray
        if s == 1.0
        else cv2.resize(gray, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)
    )
    parser.eval()
    with torch.no_grad():
        logits = parser(torch.from_numpy(np.ascontiguousarray(small, np.float32))[None, None])
        probs = F.interpolate(torch.softmax(logits, 1), size=(h, w), mode="bilinear", align_corners=False)
    probs = probs[0].numpy().transpose(1, 2, 0)
    k = probs.shape[2]
    out = np.empty((k, h, w), np.float32)
    for c0 in range(0, k, 4):  # the filter takes up to 4 channels per call
        part = domain_transform(
            np.ascontiguousarray(probs[..., c0 : c0 + 4]),
            gray,
            sigma_space=cfg.semantic_sigma_space,
            sigma_color=cfg.semantic_sigma_color,
        )
        out[c0 : c0 + part.shape[2]] = part.transpose(2, 0, 1)
    return out


def features_at(
    gray: np.ndarray, ys: np.ndarray, xs: np.ndarray, cfg: FeatureConfig, semantic: np.ndarray | None
) -> np.ndarray:
    """The concatenated feature rows at pixels ``(ys, xs)``: ``(N, n_features)`` float32.

    ``semantic`` is the ``(K, H, W)`` output of :func:`semantic_map` (ignored if disabled).
    """
    parts = []
    if cfg.use_patch:
        parts.append(patch_at(gray, ys, xs))
    if cfg.use_daisy:
        parts.append(daisy_at(orientation_maps(gray, cfg.daisy_sigma), ys, xs, cfg.daisy_radius))
    if cfg.use_semantic:
        if semantic is None:
            raise ValueError("features_at: semantic map required when use_semantic is set")
        parts.append(semantic[:, ys, xs].T.astype(np.float32))
    return np.concatenate(parts, axis=1)
