"""Ruderman's lαβ space (as used by Reinhard et al. 2001) and luma-preserving recomposition.

lαβ: RGB -> LMS (the paper's eq. 4, combining RGB->XYZ->LMS), ``log10`` (eq. 5), then the
decorrelating rotation/scaling (eq. 6). The paper applies the matrices to the image's RGB values
as stored; so do we (gamma-encoded sRGB in [0, 1]). ``log10(0)`` is avoided by flooring LMS at
:data:`LMS_FLOOR` (a black pixel maps to ``l = -4 sqrt(3)``).

:func:`compose_luma_chroma` is how all three classic methods hand back a result whose BT.601
luma equals the gray input exactly: chroma comes from the method, luma from the user, and where
the combination would leave the RGB cube the chroma is scaled down (hue kept) instead of
clipping R, G or B, which would change the luma.
"""

from __future__ import annotations

import numpy as np

LMS_FROM_RGB = np.array([
    [0.3811, 0.5783, 0.0402],
    [0.1967, 0.7244, 0.0782],
    [0.0241, 0.1288, 0.8444],
])
"""Reinhard et al. 2001, eq. 4."""

RGB_FROM_LMS = np.linalg.inv(LMS_FROM_RGB)
"""Exact inverse of eq. 4. The paper prints it to 4 decimals (eq. 9: [[4.4679, -3.5873, 0.1193],
...]); those rounded values give round-trip errors up to 0.007, the exact inverse 1e-15."""

LAB_FROM_LOGLMS = np.diag([1 / np.sqrt(3), 1 / np.sqrt(6), 1 / np.sqrt(2)]) @ np.array(
    [[1.0, 1.0, 1.0], [1.0, 1.0, -2.0], [1.0, -1.0, 0.0]])
"""Reinhard et al. 2001, eq. 6 (Ruderman et al. 1998)."""

LOGLMS_FROM_LAB = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, -1.0], [1.0, -2.0, 0.0]]) @ np.diag(
    [np.sqrt(3) / 3, np.sqrt(6) / 6, np.sqrt(2) / 2])
"""Reinhard et al. 2001, eq. 8 (inverse of eq. 6)."""

LMS_FLOOR = 1e-4


def rgb_to_lalphabeta(rgb: np.ndarray) -> np.ndarray:
    """RGB to Ruderman's lαβ.

    Args:
        rgb: float ``(..., 3)`` RGB in [0, 1].

    Returns:
        float64 ``(..., 3)``: l in about [-6.9, 0], α and β near 0 for gray (|α|, |β| < 0.01).
    """
    lms = np.maximum(np.asarray(rgb, dtype=np.float64) @ LMS_FROM_RGB.T, LMS_FLOOR)
    return np.log10(lms) @ LAB_FROM_LOGLMS.T


def lalphabeta_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Ruderman's lαβ to RGB (inverse of :func:`rgb_to_lalphabeta`; not clipped).

    Args:
        lab: float ``(..., 3)`` lαβ.

    Returns:
        float64 ``(..., 3)`` RGB, in [0, 1] for colours that came from RGB.
    """
    lms = 10.0 ** (np.asarray(lab, dtype=np.float64) @ LOGLMS_FROM_LAB.T)
    return lms @ RGB_FROM_LMS.T
