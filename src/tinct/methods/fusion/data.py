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


def random_crop(img: np.ndarray, size: int | tuple[int, int], rng: np.random.Generator,
                min_scale: float = 0.5) -> np.ndarray:
    """A random window of ``size`` = side or ``(height, width)``'s aspect, ``min_scale``..1 of the
    largest such window in ``img`` (at least ``size`` px when possible), resized to ``size``
    (area), flipped left-right half the time; float32 RGB in [0, 1]."""
    out_h, out_w = (size, size) if isinstance(size, int) else size
    h, w = img.shape[:2]
    full = max(1, int(min(h, w * out_h / out_w)))  # the tallest window of this aspect that fits
    lo = min(full, max(int(min_scale * full), min(out_h, full)))
    win_h = int(rng.integers(lo, full + 1))
    win_w = max(1, min(w, round(win_h * out_w / out_h)))
    y, x = int(rng.integers(0, h - win_h + 1)), int(rng.integers(0, w - win_w + 1))
    crop = img[y:y + win_h, x:x + win_w]
    shrink = win_h > out_h
    crop = cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return crop.astype(np.float32) / 255.0


def to_luma_ab(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, 3, H, W)`` RGB in [0, 1] -> luma ``(N, 1, H, W)`` (BT.601) and Lab ab ``(N, 2, H, W)``."""
    from tinct.color import rgb_to_lab_torch, rgb_to_luma_torch

    return rgb_to_luma_torch(rgb), rgb_to_lab_torch(rgb)[:, 1:]


class CropBatches:
    """``batches(start)`` for :func:`tinct.train.fit`: endless ``{"luma", "ab"}`` batches of random
    crops, reseeded from ``seed`` and the start step (a resumed run continues its sequence).

    With ``crop_max`` each batch draws its own height and width (multiples of 16 in ``crop`` ..
    ``crop_max``), and as many crops as keep ``batch_size`` × ``crop``² pixels: the global branch
    then sees grids of several sizes and aspects, as it does at inference."""

    def __init__(self, photos: list[np.ndarray], *, crop: int, batch_size: int, seed: int,
                 crop_max: int | None = None) -> None:
        self.photos, self.crop, self.batch_size, self.seed = photos, crop, batch_size, seed
        self.sides = list(range(crop, max(crop, crop_max or crop) + 1, 16))

    def __call__(self, start: int) -> Iterator[dict[str, torch.Tensor]]:
        rng = np.random.default_rng(self.seed * 1_000_003 + start)
        while True:
            size: int | tuple[int, int] = self.crop
            count = self.batch_size
            if len(self.sides) > 1:
                size = (int(rng.choice(self.sides)), int(rng.choice(self.sides)))
                count = max(1, round(self.batch_size * self.crop ** 2 / (size[0] * size[1])))
            idx = rng.integers(0, len(self.photos), count)
            rgb = np.stack([random_crop(self.photos[i], size, rng) for i in idx])
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
