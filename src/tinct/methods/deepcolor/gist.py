"""Gist global descriptor (Oliva & Torralba; Siagian & Itti): oriented filter energies on a grid.

The gray image is resized to 128x128, contrast-normalised, filtered in the Fourier domain with a
bank of log-Gabor filters (4 scales x 8 orientations), and the response magnitude is averaged on
a 4x4 grid: a 512-d vector. Used by the adaptive image clustering (Sec. III-C).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

SIZE = 128
N_SCALES = 4
N_ORIENT = 8
GRID = 4
DIM = N_SCALES * N_ORIENT * GRID * GRID


@lru_cache(maxsize=1)
def _filter_bank() -> np.ndarray:
    """``(32, 128, 128)`` float32 transfer functions (scale-major), centred frequencies at 0.25 / 2^s."""
    f = np.fft.fftfreq(SIZE)
    fx, fy = np.meshgrid(f, f)
    radius = np.hypot(fx, fy)
    radius[0, 0] = 1.0  # no DC response (log-Gabor is 0 there); avoid log(0)
    angle = np.arctan2(fy, fx)
    bank = []
    for s in range(N_SCALES):
        f0 = 0.25 / 2**s
        radial = np.exp(-(np.log(radius / f0) ** 2) / (2 * np.log(1.6) ** 2))
        radial[0, 0] = 0.0
        for o in range(N_ORIENT):
            theta = np.pi * o / N_ORIENT
            d = np.angle(np.exp(1j * (angle - theta)))  # wrapped to (-pi, pi]; one-sided filters
            bank.append(radial * np.exp(-(d**2) / (2 * (np.pi / N_ORIENT) ** 2)))
    return np.stack(bank).astype(np.float32)


def gist(gray: np.ndarray) -> np.ndarray:
    """512-d gist of a gray image.

    Args:
        gray: float ``(H, W)`` luma in [0, 1], any size.

    Returns:
        float32 ``(512,)``, non-negative, ordered (scale, orientation, grid row, grid column).
    """
    g = cv2.resize(np.asarray(gray, np.float32), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    g = np.log1p(g * 255.0)
    # local contrast normalisation (the gist "prefilter"): remove the local mean and divide by the
    # local amplitude, so illumination changes do not move the descriptor
    g = g - cv2.GaussianBlur(g, (0, 0), 4.0, borderType=cv2.BORDER_REFLECT)
    g = g / (0.2 + np.sqrt(cv2.GaussianBlur(g * g, (0, 0), 4.0, borderType=cv2.BORDER_REFLECT)))
    spectrum = np.fft.fft2(g)
    energy = np.abs(np.fft.ifft2(spectrum[None] * _filter_bank()))
    cell = SIZE // GRID
    pooled = energy.reshape(-1, GRID, cell, GRID, cell).mean(axis=(2, 4))
    return pooled.reshape(-1).astype(np.float32)
