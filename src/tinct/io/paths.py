"""Finding image files (folders, globs), telling colour images from gray ones, counting frames."""

from __future__ import annotations

import glob
import io
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from tinct.errors import TinctError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
"""Extensions that :func:`list_images` and :func:`expand_inputs` pick up (case-insensitive)."""


def is_color(rgb: np.ndarray, *, tolerance: float = 2 / 255, fraction: float = 0.001) -> bool:
    """True when more than ``fraction`` of the pixels have a channel spread above ``tolerance``.

    Args:
        rgb: float ``(H, W, 3)`` (or ``(H, W, 4)``, alpha ignored) in [0, 1]; ``(H, W)`` is gray.

    A JPEG of a gray photo has tiny chroma noise, which stays under the default tolerance.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] == 1):
        return False
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ValueError(f"rgb must be (H, W, 3), got shape {rgb.shape}")
    colour = rgb[..., :3].astype(np.float32)
    spread = colour.max(axis=2) - colour.min(axis=2)
    return bool(np.count_nonzero(spread > tolerance) > fraction * spread.size)


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def list_images(directory: str | os.PathLike[str]) -> list[Path]:
    """Image files (by extension, see ``IMAGE_EXTENSIONS``) directly inside ``directory``, sorted.

    Hidden files (names starting with ".") are skipped. Raises TinctError if it is not a directory.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise TinctError(f"{directory}: not a directory")
    return sorted(p for p in directory.iterdir() if p.is_file() and _is_image_name(p))


def expand_inputs(patterns: Iterable[str]) -> list[Path]:
    """Expand command-line inputs into a de-duplicated list of files, in the order given.

    A directory gives its images (:func:`list_images`); a glob (``*``, ``?``, ``[``) gives the
    matching image files, sorted, and matching directories' images; anything else is kept as is.
    A path that does not exist, or a glob that matches nothing, is KEPT in the list so the caller
    (the CLI) reports it as missing on its own line and carries on with the others.
    """
    result: list[Path] = []
    for pattern in patterns:
        expanded = os.path.expanduser(str(pattern))
        path = Path(expanded)
        if path.is_dir():
            result.extend(list_images(path))
        elif glob.has_magic(expanded) and not path.exists():
            matches = sorted(Path(m) for m in glob.glob(expanded))
            found: list[Path] = []
            for match in matches:
                if match.is_dir():
                    found.extend(list_images(match))
                elif _is_image_name(match):
                    found.append(match)
            result.extend(found or [path])
        else:
            result.append(path)
    seen: set[Path] = set()
    unique = []
    for path in result:
        key = path.resolve() if path.exists() else path
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def frame_count(data: bytes) -> int:
    """Frames (pages) in an encoded image: > 1 for an animated GIF/WebP/PNG or a multi-page TIFF.

    :func:`~tinct.io.read_image` and :func:`~tinct.io.decode` read the first frame only; callers
    use this to say so. Bytes Pillow cannot open count as 1 (decoding reports the real problem).
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            return int(getattr(image, "n_frames", 1))
    except Exception:  # noqa: BLE001 - not an image: decoding gives the one-line error
        return 1
