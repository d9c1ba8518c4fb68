"""Colour scribbles ("hints") from an image file.

Format: an RGB or RGBA image the same size as the input. A pixel is a scribble when it is not
fully transparent and differs from the gray input, i.e. some channel is more than
``tolerance`` away from the gray value (so a gray stroke on a darker area is a valid hint for
"no colour here"). Everything else is ignored, so a hints file can be a copy of the gray photo
painted over in any editor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinct.errors import TinctError

DEFAULT_TOLERANCE = 3.0 / 255.0


@dataclass(frozen=True)
class Hints:
    """User colour scribbles.

    Attributes:
        color: float32 ``(H, W, 3)`` RGB in [0, 1]; only meaningful where ``mask`` is set.
        mask: bool ``(H, W)``; True where a scribble gives a colour.
    """

    color: np.ndarray
    mask: np.ndarray

    def __post_init__(self) -> None:
        if self.color.ndim != 3 or self.color.shape[2] != 3:
            raise TinctError(f"hints colour must be (H, W, 3), got {self.color.shape}")
        if self.mask.shape != self.color.shape[:2]:
            raise TinctError(f"hints mask {self.mask.shape} does not match colour {self.color.shape[:2]}")


def hints_from_image(image: np.ndarray, gray: np.ndarray, *, tolerance: float = DEFAULT_TOLERANCE) -> Hints:
    """Build :class:`Hints` from a scribble image.

    Args:
        image: float ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA in [0, 1].
        gray: float ``(H, W)`` gray input in [0, 1].
        tolerance: how far (in [0, 1] units) a channel must be from the gray value to count.

    Returns:
        :class:`Hints` with ``color`` = the RGB values and ``mask`` = scribbled pixels.
    """
    image = np.asarray(image, dtype=np.float32)
    gray = np.asarray(gray, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise TinctError(f"hints must be an RGB or RGBA image, got shape {image.shape}")
    if image.shape[:2] != gray.shape:
        raise TinctError(f"hints are {image.shape[1]}x{image.shape[0]} but the image is "
                         f"{gray.shape[1]}x{gray.shape[0]}; they must be the same size")
    rgb = image[..., :3]
    mask = (np.abs(rgb - gray[..., None]) > tolerance).any(axis=2)
    if image.shape[2] == 4:
        mask &= image[..., 3] > 0
    return Hints(color=np.ascontiguousarray(rgb), mask=mask)


def hints_to_image(hints: Hints, gray: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hints_from_image`: gray RGB with the scribbles painted in, (H, W, 3)."""
    out = np.repeat(np.asarray(gray, dtype=np.float32)[..., None], 3, axis=2)
    out[hints.mask] = hints.color[hints.mask]
    return out
