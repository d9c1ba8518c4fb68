"""Line drawings paired with their photos, and the training batches of the ``lineart`` method.

Layout of a data root (``../shared/data``)::

    lineart/bsds500/{train,test,val}_<id>_boundaries_union.png   human boundary drawings (black on white)
    photos/train/{train,test}_<id>.jpg                            their photos (BSDS500 train + test)
    photos/val/val_<id>.jpg                                       the val photos
    photos/extra_train/*.jpg                                      photos without drawings (synthesized)

Splits (:func:`lineart_split`): ``train`` = the ``train_*`` and ``test_*`` drawings (BSDS500's
own train and test, 400), ``val`` = the ``val_*`` drawings (100). Nothing of ``val`` is trained on.

Orientation: 63 ``train_*`` drawings are portrait (321 x 481) while their photos are stored
landscape (481 x 321), turned by a quarter. :func:`load_lineart_pair` turns the *photo* to the
drawing (the drawing's orientation is the upright one), choosing the quarter turn whose edges
agree best with the drawing.

:class:`LineartBatches` yields, for :func:`tinct.train.fit`, random native-scale crops: a share
``human_share`` from the human pairs, the rest photos of ``extra_train`` upscaled to the BSDS
scale with a synthetic drawing (:func:`tinct.data.lineart.synthesize_drawing`), each with random
hints from its photo (none for a share ``no_hint_share``, else ``hint_rate_min``-``hint_rate_max``
of the pixels as points or 2-3 px patches, log-uniform).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from tinct.data.lineart import sample_hints, synthesize_drawing
from tinct.errors import TinctError

DEFAULT_ROOT = "../shared/data"
DRAWINGS = "lineart/bsds500"
SUFFIX = "_boundaries_union.png"
SPLIT_PREFIXES = {"train": ("train_", "test_"), "val": ("val_",)}
_EXTS = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class LineartPair:
    """One human drawing and its photo: ``key`` (``<split>_<id>``), both files."""

    key: str
    drawing: Path
    photo: Path


def _photo_of(root: Path, key: str) -> Path:
    folder = root / "photos" / ("val" if key.startswith("val_") else "train")
    for ext in _EXTS:
        if (folder / f"{key}{ext}").is_file():
            return folder / f"{key}{ext}"
    raise TinctError(f"the drawing {key}{SUFFIX} has no photo {key}.jpg in {folder}")


def lineart_split(name: str, root: str | Path | None = None) -> list[LineartPair]:
    """The pairs of split ``name`` (``train`` or ``val``) under the data root ``root`` (default
    ``../shared/data``), sorted by key; a clear :class:`TinctError` if the folder or a photo is missing."""
    if name not in SPLIT_PREFIXES:
        raise TinctError(f"unknown line-art split {name!r} (train, val)")
    root = Path(root or DEFAULT_ROOT)
    folder = root / DRAWINGS
    if not folder.is_dir():
        raise TinctError(f"no line drawings at {folder}; pass --data DATA_ROOT holding {DRAWINGS}/")
    keys = sorted(p.name[:-len(SUFFIX)] for p in folder.glob(f"*{SUFFIX}")
                  if p.name.startswith(SPLIT_PREFIXES[name]))
    if not keys:
        raise TinctError(f"no {name} drawings ({'/'.join(SPLIT_PREFIXES[name])}*{SUFFIX}) in {folder}")
    return [LineartPair(k, folder / f"{k}{SUFFIX}", _photo_of(root, k)) for k in keys]


def _edge_agreement(drawing: np.ndarray, photo: np.ndarray) -> float:
    """Share of the drawing's ink that lies within 2 px of the photo's Canny edges."""
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(gray, (0, 0), 1.5), 30, 90)
    near = cv2.dilate(edges, np.ones((5, 5), np.uint8)) > 0
    ink = drawing < 128
    return float(near[ink].mean()) if ink.any() else 0.0


def orient_photo(drawing: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """``photo`` (uint8 ``(h, w, 3)``) turned to the drawing's orientation (uint8 ``(H, W)``): as is
    when the sizes agree, else the quarter turn whose edges agree best with the drawing."""
    if photo.shape[:2] == drawing.shape:
        return photo
    if photo.shape[1::-1] != drawing.shape:
        raise TinctError(f"a drawing of {drawing.shape[1]}x{drawing.shape[0]} cannot pair with a photo of "
                         f"{photo.shape[1]}x{photo.shape[0]}")
    turns = [np.ascontiguousarray(np.rot90(photo, k)) for k in (1, 3)]
    return max(turns, key=lambda p: _edge_agreement(drawing, p))


def load_lineart_pair(pair: LineartPair) -> tuple[np.ndarray, np.ndarray]:
    """(drawing uint8 ``(H, W)``, 0 = ink, 255 = paper; photo uint8 ``(H, W, 3)`` RGB in the drawing's
    orientation)."""
    from tinct.io import read_gray, read_rgb

    drawing = np.clip(read_gray(pair.drawing) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    photo = np.clip(read_rgb(pair.photo) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return drawing, orient_photo(drawing, photo)


def extra_photos(root: str | Path | None = None, limit: int | None = None) -> list[np.ndarray]:
    """The ``photos/extra_train`` photos as uint8 ``(H, W, 3)`` (the first ``limit`` by name)."""
    from tinct.io import read_rgb

    folder = Path(root or DEFAULT_ROOT) / "photos" / "extra_train"
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _EXTS) if folder.is_dir() else []
    files = files[:limit] if limit else files
    return [np.clip(read_rgb(p) * 255.0 + 0.5, 0, 255).astype(np.uint8) for p in files]


@dataclass(frozen=True)
class HintPlan:
    """How many random hints a training crop gets (see the module doc)."""

    no_hint_share: float = 0.3
    rate_min: float = 0.001
    rate_max: float = 0.02
    patches: tuple[int, ...] = (1, 1, 2, 3)

    def sample(self, rgb: np.ndarray, rng: np.random.Generator):
        """:class:`tinct.hints.Hints` for float ``(H, W, 3)`` ``rgb`` in [0, 1]."""
        if rng.random() < self.no_hint_share:
            rate = 0.0
        else:
            rate = float(np.exp(rng.uniform(np.log(self.rate_min), np.log(self.rate_max))))
        return sample_hints(rgb, rng, rate=rate, patch=int(rng.choice(self.patches)))


class LineartBatches:
    """``batches(start)`` for :func:`tinct.train.fit`: endless dicts of float32 tensors
    ``drawing`` (B, 1, S, S) in [0, 1] (0 = ink), ``hint_rgb`` (B, 3, S, S), ``hint_mask`` (B, 1, S, S)
    in {0, 1} and ``rgb`` (B, 3, S, S), the truth; reseeded from ``seed`` and the start step.

    Args:
        human: (drawing uint8 (H, W), photo uint8 (H, W, 3)) pairs, crops taken at native scale.
        extra: uint8 photos, upscaled by ``extra_scale`` (a random factor in that range, to the
            human drawings' scale), drawn by :func:`synthesize_drawing` on a crop with a margin.
    """

    MARGIN = 32

    def __init__(self, human: list[tuple[np.ndarray, np.ndarray]], extra: list[np.ndarray], *, crop: int,
                 batch_size: int, seed: int, human_share: float = 0.5, hints: HintPlan | None = None,
                 extra_scale: tuple[float, float] = (1.4, 1.8)) -> None:
        if not human and not extra:
            raise TinctError("no line-art training data (no human pairs, no extra photos)")
        self.human, self.extra = human, extra
        self.crop, self.batch_size, self.seed = crop, batch_size, seed
        self.human_share = human_share if extra else 1.0
        self.human_share = self.human_share if human else 0.0
        self.hints, self.extra_scale = hints or HintPlan(), extra_scale

    def _crop_box(self, h: int, w: int, side: int, rng: np.random.Generator) -> tuple[int, int]:
        return int(rng.integers(0, max(0, h - side) + 1)), int(rng.integers(0, max(0, w - side) + 1))

    def human_sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        drawing, photo = self.human[int(rng.integers(len(self.human)))]
        y, x = self._crop_box(*drawing.shape, self.crop, rng)
        d = drawing[y:y + self.crop, x:x + self.crop].astype(np.float32) / 255.0
        return d, photo[y:y + self.crop, x:x + self.crop].astype(np.float32) / 255.0

    def extra_sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        photo = self.extra[int(rng.integers(len(self.extra)))]
        s = float(rng.uniform(*self.extra_scale))
        side = self.crop + 2 * self.MARGIN
        big = cv2.resize(photo, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
        y, x = self._crop_box(*big.shape[:2], side, rng)
        rgb = big[y:y + side, x:x + side].astype(np.float32) / 255.0
        drawing = synthesize_drawing(rgb, rng)
        inner = (slice(self.MARGIN, self.MARGIN + self.crop),) * 2
        return drawing[inner], rgb[inner]

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(drawing (S, S), rgb (S, S, 3)) float32, padded with paper / edge colours if the source is
        smaller than the crop, flipped left-right half of the time."""
        drawing, rgb = self.human_sample(rng) if rng.random() < self.human_share else self.extra_sample(rng)
        ph, pw = self.crop - drawing.shape[0], self.crop - drawing.shape[1]
        if ph or pw:
            drawing = np.pad(drawing, ((0, ph), (0, pw)), constant_values=1.0)
            rgb = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="edge")
        if rng.random() < 0.5:
            drawing, rgb = drawing[:, ::-1], rgb[:, ::-1]
        return np.ascontiguousarray(drawing), np.ascontiguousarray(rgb)

    def __call__(self, start: int) -> Iterator[dict[str, torch.Tensor]]:
        rng = np.random.default_rng(self.seed * 1_000_003 + start)
        while True:
            drawings, rgbs, colors, masks = [], [], [], []
            for _ in range(self.batch_size):
                drawing, rgb = self.sample(rng)
                hints = self.hints.sample(rgb, rng)
                drawings.append(drawing)
                rgbs.append(rgb)
                colors.append(hints.color)
                masks.append(hints.mask)
            yield {"drawing": torch.from_numpy(np.stack(drawings)[:, None]),
                   "hint_rgb": torch.from_numpy(np.stack(colors).transpose(0, 3, 1, 2).copy()),
                   "hint_mask": torch.from_numpy(np.stack(masks)[:, None].astype(np.float32)),
                   "rgb": torch.from_numpy(np.stack(rgbs).transpose(0, 3, 1, 2).copy())}
