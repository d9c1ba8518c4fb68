"""Which colour words a luma-keeping colorizer can make a region show at all (the manipulation
test's ceiling, ``tinct bench caption``).

Every method here keeps the input's luma exactly: its chroma is composed with the luma by
:func:`tinct.color.compose_luma_chroma`, which scales the chroma of each pixel into the RGB cube.
So a region's colours are bounded pixel by pixel by its lumas: a sky of clipped highlights can only
be white, a shadow only black, and a bright region only pale colours. :func:`obeyable_words` asks
an oracle: over a grid of constant chroma requests (hue every ``hue_step`` degrees x chroma
:data:`CHROMAS` in Lab units, from 0 so that the achromatic words count), put through the same
pipeline as the methods (Lab at each pixel's gray lightness -> RGB -> YUV chroma -> composed with
the luma), which words can name the region's per-channel median Lab (:func:`name_colors`)?
A constant request of large chroma gives every pixel the most chroma its luma allows in that
direction, so this is the ceiling of any output with one hue per region.
"""

from __future__ import annotations

import numpy as np

from tinct.color import compose_luma_chroma, gray_to_rgb, lab_to_rgb, rgb_to_lab, rgb_to_luma, rgb_to_uv
from tinct.data.color_names import name_colors

CHROMAS = (0.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 80.0, 110.0)
"""Chroma magnitudes of the oracle's requests (Lab units)."""


def chroma_requests(hue_step: float = 5.0) -> np.ndarray:
    """The oracle's constant ab requests ``(K, 2)``: every hue in steps of ``hue_step`` degrees at
    every chroma of :data:`CHROMAS` (chroma 0 once)."""
    hues = np.deg2rad(np.arange(0.0, 360.0, hue_step))
    ab = [(0.0, 0.0)] + [(c * np.cos(h), c * np.sin(h)) for h in hues for c in CHROMAS if c > 0]
    return np.asarray(ab, np.float32)


def obeyable_words(rgb: np.ndarray, mask: np.ndarray, *, hue_step: float = 5.0, max_pixels: int = 4000,
                   seed: int = 0) -> set[str]:
    """The colour words some constant chroma request can make the region show (see the module).

    Args:
        rgb: float ``(H, W, 3)`` in [0, 1], the original (only its luma is used).
        mask: bool ``(H, W)``, the region (at least one pixel).
        hue_step: degrees between the requested hues.
        max_pixels: at most this many region pixels (a fixed random subset) stand for the region.
        seed: of that subset.

    Returns:
        The set of words from :data:`tinct.data.color_names.COLOR_WORDS`.
    """
    luma = rgb_to_luma(np.asarray(rgb, np.float32))[mask].astype(np.float32)
    if luma.size == 0:
        raise ValueError("the region is empty")
    if luma.size > max_pixels:
        luma = luma[np.random.default_rng(seed).choice(luma.size, max_pixels, replace=False)]
    lightness = rgb_to_lab(gray_to_rgb(np.clip(luma, 0.0, 1.0)[None]))[0, :, 0]  # (P,)
    ab = chroma_requests(hue_step)
    k, p = len(ab), luma.size
    lab = np.concatenate([np.broadcast_to(lightness[None, :, None], (k, p, 1)),
                          np.broadcast_to(ab[:, None, :], (k, p, 2))], axis=2)
    uv = rgb_to_uv(lab_to_rgb(lab, clip=False)).astype(np.float32)
    out = compose_luma_chroma(np.broadcast_to(luma[None], (k, p)), uv)
    return set(name_colors(np.median(rgb_to_lab(out), axis=1)))
