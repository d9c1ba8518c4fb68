"""Unpaired gray / colour training sets (pseudo-cyclic and CycleGAN training).

The rule: the image list is shuffled with a seed and cut into two DISJOINT halves. Only the
luma of the first half is ever shown to the generator (the "gray domain"); only the second
half is shown in colour (to the discriminators). No gray image has its own colour counterpart
in the colour set, so no pair is ever used in training; pairs serve only for scoring.

Sources: ``cifar10`` (the ``cifar10/train`` folder, 32x32 images used whole), ``photos``
(``photos/train`` + ``photos/extra_train``, 3,900 photos; random ``crop`` x ``crop`` crops, images
smaller than the crop are skipped), ``photos-train`` (``photos/train`` only, the wave-1 source) or
folders (comma-separated).
Batches are dicts ``{"gray": (B, 1, c, c), "color": (B, 3, c, c)}`` of float32 tensors in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tinct.color import rgb_to_luma
from tinct.data.files import load_uint8, training_images
from tinct.errors import TinctError

SOURCES = {"cifar10": ("cifar10/train",), "photos": ("photos/train", "photos/extra_train"),
           "photos-train": ("photos/train",)}


def disjoint_halves(items: Sequence, seed: int) -> tuple[list, list]:
    """Shuffle ``items`` with ``seed`` and return (gray half, colour half), disjoint by index.

    With an odd count the gray half gets the extra item. At least 2 items are needed.
    """
    if len(items) < 2:
        raise TinctError(f"an unpaired split needs at least 2 images, got {len(items)}")
    order = np.random.default_rng(seed).permutation(len(items))
    half = (len(items) + 1) // 2
    return [items[i] for i in order[:half]], [items[i] for i in order[half:]]


@dataclass
class UnpairedImages:
    """The two disjoint domains, held in memory as uint8 ``(H, W, 3)`` arrays."""

    gray_files: list[Path]
    color_files: list[Path]
    gray_images: list[np.ndarray]   # colour images whose LUMA only is used
    color_images: list[np.ndarray]

    def split_description(self) -> dict[str, object]:
        """What a weights card records about the split."""
        return {"gray_count": len(self.gray_files), "color_count": len(self.color_files),
                "disjoint": not (set(self.gray_files) & set(self.color_files)),
                "gray_first": self.gray_files[0].name, "color_first": self.color_files[0].name}

    def inference(self, crop: int) -> dict[str, int]:
        """What a card says about inference: crops of ``crop`` px taken from photos at their native
        size teach scenes at the photos' size, so G should run at their median short side
        (``{"short_side": N}``); ``{}`` when the crops are whole images (CIFAR-10)."""
        short = int(np.median([min(im.shape[:2]) for im in self.gray_images]))
        return {"short_side": short} if short > crop else {}


def load_unpaired(source: str, data_root: str | Path, *, seed: int = 0, crop: int = 32,
                  limit: int | None = None) -> UnpairedImages:
    """Read a training source and split it into disjoint gray / colour halves.

    Args:
        source: ``"cifar10"``, ``"photos"``, ``"photos-train"`` (see the module) or folder paths,
            comma-separated.
        data_root: the ``shared/data`` folder.
        seed: split seed.
        crop: training crop size; images smaller than it are dropped (before the split).
        limit: keep only the first ``limit`` files (sorted) before splitting (tests, smoke runs).
    """
    folders = ([Path(data_root) / f for f in SOURCES[source]] if source in SOURCES
               else [Path(f.strip()) for f in source.split(",") if f.strip()])
    files = [f for folder in folders for f in training_images(folder)][:limit]
    images = [load_uint8(p) for p in files]
    keep = [i for i, im in enumerate(images) if min(im.shape[:2]) >= crop]
    files, images = [files[i] for i in keep], [images[i] for i in keep]
    gray_idx, color_idx = disjoint_halves(list(range(len(files))), seed)
    return UnpairedImages([files[i] for i in gray_idx], [files[i] for i in color_idx],
                          [images[i] for i in gray_idx], [images[i] for i in color_idx])


def _random_crop(img: np.ndarray, crop: int, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    y = int(rng.integers(0, h - crop + 1))
    x = int(rng.integers(0, w - crop + 1))
    out = img[y:y + crop, x:x + crop]
    return out[:, ::-1] if rng.random() < 0.5 else out


class UnpairedBatches:
    """``batches(start_step)`` for :func:`tinct.train.fit`: endless, reproducible unpaired batches.

    Batch ``s`` is drawn from ``np.random.default_rng((seed, s))`` so a resumed run continues
    with exactly the batches it would have seen. Gray and colour images are drawn independently.
    """

    def __init__(self, images: UnpairedImages, *, crop: int, batch_size: int, seed: int = 0) -> None:
        if crop % 4:
            raise TinctError(f"crop must be a multiple of 4, got {crop}")
        self.images, self.crop, self.batch_size, self.seed = images, crop, batch_size, seed

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """The batch of training step ``step``: gray ``(B, 1, c, c)`` and colour ``(B, 3, c, c)``."""
        rng = np.random.default_rng((self.seed, step))
        gi = rng.integers(0, len(self.images.gray_images), self.batch_size)
        ci = rng.integers(0, len(self.images.color_images), self.batch_size)
        gray = np.stack([_random_crop(self.images.gray_images[i], self.crop, rng) for i in gi])
        color = np.stack([_random_crop(self.images.color_images[i], self.crop, rng) for i in ci])
        gray_t = torch.from_numpy(rgb_to_luma(gray.astype(np.float32) / 255.0)).unsqueeze(1)
        color_t = torch.from_numpy(color.astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
        return {"gray": gray_t.contiguous(), "color": color_t}

    def __call__(self, start_step: int) -> Iterator[dict[str, torch.Tensor]]:
        step = start_step
        while True:
            yield self.batch(step)
            step += 1
