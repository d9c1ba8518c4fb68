"""Image files of a training folder, read as uint8 RGB (the one loader of the training-data modules)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinct.errors import TinctError


def training_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (see :func:`tinct.io.list_images`).

    Raises:
        TinctError: ``folder`` is not a directory, or holds no image.
    """
    from tinct.io import list_images

    folder = Path(folder)
    if not folder.is_dir():
        raise TinctError(f"image folder not found: {folder}")
    files = list_images(folder)
    if not files:
        raise TinctError(f"no images in {folder}")
    return files


def load_uint8(path: str | Path, short_side: int | None = None) -> np.ndarray:
    """uint8 ``(H, W, 3)`` RGB of an image file (any format :func:`tinct.io.read_rgb` reads), its
    short side resized to ``short_side`` (area interpolation) if given."""
    import cv2

    from tinct.io import read_rgb  # the only module that decodes image files

    rgb = read_rgb(path)
    if short_side is not None and min(rgb.shape[:2]) != short_side:
        h, w = rgb.shape[:2]
        k = short_side / min(h, w)
        rgb = cv2.resize(rgb, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)
