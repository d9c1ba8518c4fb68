"""Stanford Background (Gould et al., ICCV 2009): 715 images, 8 semantic classes, 255 = unknown.

Layout (``../shared/data/segmentation/stanford_background``): ``images/<id>.jpg``,
``labels/<id>.png`` (uint8 class map), ``split_train.txt`` / ``split_val.txt`` (one id a line).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tinct.errors import TinctError


def split_ids(root: str | Path, split: str) -> list[str]:
    """Image ids of ``split`` ("train" or "val")."""
    path = Path(root) / f"split_{split}.txt"
    if not path.is_file():
        raise TinctError(f"Stanford Background split file not found: {path}")
    return [s.strip() for s in path.read_text().split() if s.strip()]


def downscale_pair(rgb: np.ndarray, label: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Resize an ``(H, W, 3)`` float image (area) and its ``(H, W)`` uint8 label map (nearest)."""
    h, w = label.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = cv2.resize(rgb.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    lab = cv2.resize(label, size, interpolation=cv2.INTER_NEAREST)
    return img, lab


def load_split(
    root: str | Path, split: str, *, scale: float = 0.5, limit: int | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Load ``split`` as lists of RGB ``(H, W, 3)`` float32 in [0, 1] and ``(H, W)`` uint8 labels.

    Images are resized by ``scale`` (the parser's working resolution); labels with nearest.
    """
    from tinct.io import read_image  # io.py is the only module that decodes files

    root = Path(root)
    images, labels = [], []
    for ident in split_ids(root, split)[:limit]:
        rgb = read_image(root / "images" / f"{ident}.jpg").rgb
        lab_rgb = read_image(root / "labels" / f"{ident}.png").rgb
        label = np.round(lab_rgb[..., 0] * 255).astype(np.uint8)
        if label.shape != rgb.shape[:2]:
            raise TinctError(f"label {ident}.png is {label.shape} but its image is {rgb.shape[:2]}")
        img, lab = downscale_pair(rgb, label, scale)
        images.append(img)
        labels.append(lab)
    return images, labels
