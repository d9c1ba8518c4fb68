"""Training photos for the fusion network: every image held in memory (uint8), random scale,
crop and flip, returned as luma + Lab ab tensors.

Sources (train splits only): a list of folders of colour photos, plus optionally the images
named in a Stanford Background ``split_train.txt``. Gray images are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from tinct.errors import TinctError


def load_photos(folders: list[str | Path], *, stanford: str | Path | None = None, max_side: int = 320,
                limit: int | None = None, progress: bool = True) -> list[np.ndarray]:
    """uint8 RGB arrays of every colour photo (long side reduced to ``max_side``)."""
    from tinct.io import is_color, list_images, read_rgb

    paths: list[Path] = []
    for folder in folders:
        if not Path(folder).is_dir():
            raise TinctError(f"training folder not found: {folder}")
        paths += list_images(folder)
    if stanford:
        root = Path(stanford)
        split = root / "split_train.txt"
        if not split.is_file():
            raise TinctError(f"{split} not found (Stanford Background train split)")
        ids = [s.strip() for s in split.read_text().splitlines() if s.strip()]
        paths += [root / "images" / f"{i}.jpg" for i in ids]
    paths = paths[:limit] if limit else paths
    out = []
    for path in tqdm(paths, desc="reading photos", disable=not progress, leave=False):
        rgb = read_rgb(path)
        if not is_color(rgb):
            continue
        h, w = rgb.shape[:2]
        s = min(1.0, max_side / max(h, w))
        if s < 1.0:
            rgb = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        out.append(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if not out:
        raise TinctError(f"no colour photos in {', '.join(map(str, folders))}")
    return out


def random_crop(img: np.ndarray, size: int, rng: np.random.Generator, min_scale: float = 0.5) -> np.ndarray:
    """A random square of ``min_scale``..1 of the short side (at least ``size`` px when possible),
    resized to ``size`` (area), flipped left-right half the time; float32 RGB in [0, 1]."""
    h, w = img.shape[:2]
    short = min(h, w)
    lo = min(short, max(int(min_scale * short), min(size, short)))
    side = int(rng.integers(lo, short + 1))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = img[y:y + side, x:x + side]
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return crop.astype(np.float32) / 255.0


def to_luma_ab(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, 3, H, W)`` RGB in [0, 1] -> luma ``(N, 1, H, W)`` (BT.601) and Lab ab ``(N, 2, H, W)``."""
    from tinct.color import rgb_to_lab_torch, rgb_to_luma_torch

    return rgb_to_luma_torch(rgb), rgb_to_lab_torch(rgb)[:, 1:]


class CropBatches:
    """``batches(start)`` for :func:`tinct.train.fit`: endless ``{"luma", "ab"}`` batches of random
    crops, reseeded from ``seed`` and the start step (a resumed run continues its sequence)."""

    def __init__(self, photos: list[np.ndarray], *, crop: int, batch_size: int, seed: int) -> None:
        self.photos, self.crop, self.batch_size, self.seed = photos, crop, batch_size, seed

    def __call__(self, start: int) -> Iterator[dict[str, torch.Tensor]]:
        rng = np.random.default_rng(self.seed * 1_000_003 + start)
        while True:
            idx = rng.integers(0, len(self.photos), self.batch_size)
            rgb = np.stack([random_crop(self.photos[i], self.crop, rng) for i in idx])
            luma, ab = to_luma_ab(torch.from_numpy(rgb).permute(0, 3, 1, 2).contiguous())
            yield {"luma": luma, "ab": ab}


def sample_ab(photos: list[np.ndarray], *, per_image: int = 500, max_images: int = 2000,
              seed: int = 0) -> np.ndarray:
    """``(M, 2)`` Lab ab of random pixels of up to ``max_images`` photos (for the empirical prior)."""
    from tinct.color import rgb_to_lab

    rng = np.random.default_rng(seed)
    picks = rng.permutation(len(photos))[:max_images]
    out = []
    for i in picks:
        img = photos[i].reshape(-1, 3)
        px = img[rng.integers(0, len(img), per_image)].astype(np.float32) / 255.0
        out.append(rgb_to_lab(px)[:, 1:])
    return np.concatenate(out).astype(np.float32)
