"""Registered near-infrared / RGB pairs (EPFL RGB-NIR Scene, Brown & Süsstrunk 2011) for the NIR methods.

A folder holds ``<key>_nir.<ext>`` and ``<key>_rgb.<ext>`` files, ``<key>`` = ``<category>_<id>``
(``../shared/data/nir/epfl_train``: 8 categories x 20, registered; ``epfl_country_test``: 52
pairs of the ``country`` category, original registration). :func:`split_pairs` holds out the
last ``val_per_category`` pairs of each category (by id) as the validation split, so it covers
every category, the ``urban`` and ``oldbuilding`` ones of the asymmetric-CycleGAN paper included.

:class:`PairBatches` yields random aligned crops for :func:`tinct.train.fit`; with ``misregister``
> 0 the RGB crop is deliberately displaced against the NIR crop by a random affine warp (shift up
to ``misregister`` px, rotation and scale of the same order at the crop border), the condition the
asymmetric CycleGAN is designed to tolerate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from tinct.errors import TinctError

DEFAULT_TRAIN = "../shared/data/nir/epfl_train"
DEFAULT_TEST = "../shared/data/nir/epfl_country_test"
VAL_PER_CATEGORY = 3
CROP_FRACTION = (0.6, 1.0)  # a training crop's side, as a fraction of the scene's short side


def training_short_side(crop: int) -> int:
    """The short side (px) at which a network trained on ``crop``-px crops saw whole scenes: a crop
    covers on average the mean of :data:`CROP_FRACTION` of the short side, resized to ``crop``."""
    return round(crop / (sum(CROP_FRACTION) / 2))


_EXTS = (".jpg", ".jpeg", ".png", ".tif", ".tiff")


@dataclass(frozen=True)
class NirPair:
    """One scene: ``key`` (``<category>_<id>``), the NIR file and the RGB (truth) file."""

    key: str
    nir: Path
    rgb: Path

    @property
    def category(self) -> str:
        return self.key.rsplit("_", 1)[0]


def list_pairs(folder: str | Path) -> list[NirPair]:
    """Every ``<key>_nir`` file of ``folder`` with its ``<key>_rgb`` partner, sorted by key.

    Raises :class:`TinctError` if the folder is missing, holds no pair, or a NIR file has no partner.
    """
    root = Path(folder)
    if not root.is_dir():
        raise TinctError(f"NIR folder not found: {root}")
    files = {p.stem: p for p in root.iterdir() if p.suffix.lower() in _EXTS}
    pairs = []
    for stem, path in sorted(files.items()):
        if not stem.endswith("_nir"):
            continue
        key = stem[: -len("_nir")]
        if f"{key}_rgb" not in files:
            raise TinctError(f"{path} has no RGB partner {key}_rgb.* in {root}")
        pairs.append(NirPair(key, path, files[f"{key}_rgb"]))
    if not pairs:
        raise TinctError(f"no <key>_nir / <key>_rgb pairs in {root}")
    return pairs


def split_pairs(pairs: list[NirPair], val_per_category: int = VAL_PER_CATEGORY
                ) -> tuple[list[NirPair], list[NirPair]]:
    """(train, val): the last ``val_per_category`` pairs of each category (sorted by key) are val."""
    by_cat: dict[str, list[NirPair]] = {}
    for p in sorted(pairs, key=lambda p: p.key):
        by_cat.setdefault(p.category, []).append(p)
    train, val = [], []
    for items in by_cat.values():
        cut = max(0, len(items) - val_per_category)
        train += items[:cut]
        val += items[cut:]
    return train, val


def nir_split(name: str, folder: str | Path | None = None) -> list[NirPair]:
    """The pairs of a named split: ``train`` / ``val`` (of ``epfl_train``) or ``test``
    (``epfl_country_test``); ``folder`` overrides the default location."""
    if name == "test":
        return list_pairs(folder or DEFAULT_TEST)
    if name not in ("train", "val"):
        raise TinctError(f"unknown NIR split {name!r} (train, val, test)")
    train, val = split_pairs(list_pairs(folder or DEFAULT_TRAIN))
    return train if name == "train" else val


def load_pair(pair: NirPair) -> tuple[np.ndarray, np.ndarray]:
    """NIR float32 ``(H, W)`` in [0, 1] (the luma of the file: the band) and RGB float32
    ``(H, W, 3)`` in [0, 1]; the RGB is resized to the NIR's size if they differ."""
    from tinct.io import read_gray, read_rgb

    nir, rgb = read_gray(pair.nir), read_rgb(pair.rgb)
    if rgb.shape[:2] != nir.shape:
        rgb = cv2.resize(rgb, nir.shape[::-1], interpolation=cv2.INTER_AREA)
    return nir.astype(np.float32), rgb.astype(np.float32)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def random_affine(size: int, shift: float, rng: np.random.Generator) -> np.ndarray:
    """A 2x3 affine map of a ``size``-px crop: translation up to ``shift`` px, rotation and scale
    that move the crop's corners by up to about ``shift / 2`` px."""
    angle = rng.uniform(-1, 1) * np.degrees(shift / 2 / size)
    scale = 1.0 + rng.uniform(-1, 1) * shift / 2 / size
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    m[:, 2] += rng.uniform(-shift, shift, 2)
    return m


class PairBatches:
    """``batches(start)`` for :func:`tinct.train.fit`: endless ``{"nir" (B,1,S,S), "rgb" (B,3,S,S)}``
    float32 batches of random crops (scale 0.6-1 of the short side, left-right flips), reseeded
    from ``seed`` and the start step; ``misregister`` px displaces each RGB crop (see module doc)."""

    def __init__(self, pairs: list[tuple[np.ndarray, np.ndarray]], *, crop: int, batch_size: int,
                 seed: int, misregister: float = 0.0) -> None:
        if not pairs:
            raise TinctError("no NIR training pairs")
        self.pairs = [(_to_uint8(n), _to_uint8(r)) for n, r in pairs]
        self.crop, self.batch_size, self.seed, self.misregister = crop, batch_size, seed, misregister

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        nir, rgb = self.pairs[int(rng.integers(len(self.pairs)))]
        h, w = nir.shape
        short = min(h, w)
        lo, hi = CROP_FRACTION
        side = int(rng.integers(max(min(self.crop, short), int(lo * short)), int(hi * short) + 1))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        size = (self.crop, self.crop)
        interp = cv2.INTER_AREA if side > self.crop else cv2.INTER_LINEAR
        out_n = cv2.resize(nir[y:y + side, x:x + side], size, interpolation=interp)
        out_r = cv2.resize(rgb[y:y + side, x:x + side], size, interpolation=interp)
        if self.misregister > 0:  # displace the RGB crop against the NIR crop
            out_r = cv2.warpAffine(out_r, random_affine(self.crop, self.misregister, rng), size,
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if rng.random() < 0.5:
            out_n, out_r = out_n[:, ::-1], out_r[:, ::-1]
        return out_n, out_r

    def __call__(self, start: int) -> Iterator[dict[str, torch.Tensor]]:
        rng = np.random.default_rng(self.seed * 1_000_003 + start)
        while True:
            items = [self.sample(rng) for _ in range(self.batch_size)]
            nir = np.stack([n for n, _ in items]).astype(np.float32)[:, None] / 255.0
            rgb = np.stack([r for _, r in items]).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
            yield {"nir": torch.from_numpy(nir), "rgb": torch.from_numpy(np.ascontiguousarray(rgb))}
