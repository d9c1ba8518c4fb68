"""Colour-space conversions: numpy (channel-last) and differentiable torch (channel-first).

Every constant used by tinct for colour lives here.

* numpy functions take float arrays of shape ``(..., 3)`` (channel last) and keep the dtype
  (float32 stays float32).
* torch functions take float tensors of shape ``(*, 3, H, W)`` (channel first, batched or not),
  are differentiable and are named ``*_torch``. They live in :mod:`tinct.color_torch` and are
  re-exported here lazily, so importing this module does not import torch (~3 s).

Ranges (RGB is always in [0, 1]):

=========  ==========================================================================
luma       BT.601 ``Y = 0.299 R + 0.587 G + 0.114 B`` in [0, 1] (the Y of YUV and YCbCr)
YUV        analog YUV (Cheng et al.): Y [0, 1], U in [-0.436, 0.436], V in [-0.615, 0.615]
YCbCr      BT.601 full range (JPEG/JFIF): Y, Cb, Cr in [0, 1], Cb and Cr centred at 0.5
Lab        CIE L*a*b*, sRGB primaries, D65 white, 2° observer: L [0, 100], a, b ≈ [-128, 127]
=========  ==========================================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "LUMA_WEIGHTS", "D65_WHITE", "YUV_FROM_RGB", "RGB_FROM_YUV", "YCBCR_FROM_RGB", "RGB_FROM_YCBCR",
    "XYZ_FROM_RGB", "RGB_FROM_XYZ",
    "rgb_to_luma", "rgb_to_yuv", "yuv_to_rgb", "rgb_to_ycbcr", "ycbcr_to_rgb", "rgb_to_lab",
    "lab_to_rgb", "gray_to_rgb", "rgb_to_uv", "cbcr_to_uv", "compose_luma_chroma", "UV_FROM_CBCR",
]

LUMA_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)
"""BT.601 luma weights (R, G, B)."""

_KR, _KG, _KB = LUMA_WEIGHTS

# Analog YUV: U = 0.436 (B - Y) / (1 - Kb) ≈ 0.492 (B - Y), V ≈ 0.877 (R - Y). The rows are those
# of scikit-image's ``yuv_from_rgb`` so that ``rgb_to_yuv`` equals ``skimage.color.rgb2yuv``.
YUV_FROM_RGB = np.array([
    [_KR, _KG, _KB],
    [-0.14714119, -0.28886916, 0.43601035],
    [0.61497538, -0.51496512, -0.10001026],
])
RGB_FROM_YUV = np.linalg.inv(YUV_FROM_RGB)

# BT.601 full range (JFIF): Cb = (B - Y) / (2 (1 - Kb)) + 0.5, Cr = (R - Y) / (2 (1 - Kr)) + 0.5.
# OpenCV's float RGB2YCrCb rounds these factors to 0.564 and 0.713 (differences < 5e-4).
YCBCR_FROM_RGB = np.array([
    [_KR, _KG, _KB],
    [-_KR / (2 * (1 - _KB)), -_KG / (2 * (1 - _KB)), 0.5],
    [0.5, -_KG / (2 * (1 - _KR)), -_KB / (2 * (1 - _KR))],
])
RGB_FROM_YCBCR = np.linalg.inv(YCBCR_FROM_RGB)
_YCBCR_OFFSET = np.array([0.0, 0.5, 0.5])

# sRGB (IEC 61966-2-1) linear RGB -> CIE XYZ, the matrix scikit-image uses; D65 white, 2° observer.
XYZ_FROM_RGB = np.array([
    [0.412453, 0.357580, 0.180423],
    [0.212671, 0.715160, 0.072169],
    [0.019334, 0.119193, 0.950227],
])
RGB_FROM_XYZ = np.linalg.inv(XYZ_FROM_RGB)
D65_WHITE = np.array([0.95047, 1.0, 1.08883])

# sRGB transfer function.
_SRGB_THRESHOLD = 0.04045           # encoded value where the linear segment ends
_SRGB_LINEAR_THRESHOLD = 0.0031308  # the same point in linear light
# CIE Lab companding, exact form: f(t) = cbrt(t) above delta^3, else t / (3 delta^2) + 4/29.
# (scikit-image rounds to 0.008856 and 7.787; the exact constants make f continuously
# differentiable, which gradients need; the difference is below 2e-4 Lab units.)
_LAB_DELTA = 6.0 / 29.0


# ---------------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------------

def _check_numpy(image: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim < 1 or arr.shape[-1] != 3:
        raise ValueError(f"{name} expects an array of shape (..., 3), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name} expects a float array in the documented range, got dtype {arr.dtype}")
    return arr


def _apply_numpy(matrix: np.ndarray, arr: np.ndarray) -> np.ndarray:
    return arr @ matrix.T.astype(arr.dtype)


# ---------------------------------------------------------------------------------------------
# numpy, channel last
# ---------------------------------------------------------------------------------------------

def rgb_to_luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB image.

    Args:
        rgb: float ``(..., 3)`` RGB in [0, 1].

    Returns:
        float ``(...)`` luma in [0, 1].

    Example:
        >>> rgb_to_luma(np.ones((4, 5, 3))).shape
        (4, 5)
    """
    arr = _check_numpy(rgb, "rgb_to_luma")
    return arr @ np.asarray(LUMA_WEIGHTS, dtype=arr.dtype)


def rgb_to_yuv(rgb: np.ndarray) -> np.ndarray:
    """RGB to analog YUV (equals ``skimage.color.rgb2yuv``).

    Args:
        rgb: float ``(..., 3)`` RGB in [0, 1].

    Returns:
        float ``(..., 3)``: Y in [0, 1], U in [-0.436, 0.436], V in [-0.615, 0.615].

    Example:
        >>> rgb_to_yuv(np.zeros((4, 5, 3))).shape
        (4, 5, 3)
    """
    return _apply_numpy(YUV_FROM_RGB, _check_numpy(rgb, "rgb_to_yuv"))


def yuv_to_rgb(yuv: np.ndarray) -> np.ndarray:
    """Analog YUV to RGB (inverse of :func:`rgb_to_yuv`; not clipped).

    Args:
        yuv: float ``(..., 3)``: Y in [0, 1], U in [-0.436, 0.436], V in [-0.615, 0.615].

    Returns:
        float ``(..., 3)`` RGB, in [0, 1] when the input came from an RGB image.

    Example:
        >>> yuv_to_rgb(np.array([0.5, 0.0, 0.0]))
        array([0.5, 0.5, 0.5])
    """
    return _apply_numpy(RGB_FROM_YUV, _check_numpy(yuv, "yuv_to_rgb"))


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """RGB to BT.601 full-range YCbCr (JPEG). Channel order Y, Cb, Cr (OpenCV's is Y, Cr, Cb).

    Args:
        rgb: float ``(..., 3)`` RGB in [0, 1].

    Returns:
        float ``(..., 3)``: Y, Cb, Cr in [0, 1]; Cb = Cr = 0.5 for gray.

    Example:
        >>> rgb_to_ycbcr(np.array([0.2, 0.2, 0.2]))
        array([0.2, 0.5, 0.5])
    """
    arr = _check_numpy(rgb, "rgb_to_ycbcr")
    return _apply_numpy(YCBCR_FROM_RGB, arr) + _YCBCR_OFFSET.astype(arr.dtype)


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """BT.601 full-range YCbCr (Y, Cb, Cr) to RGB (inverse of :func:`rgb_to_ycbcr`; not clipped).

    Args:
        ycbcr: float ``(..., 3)``: Y, Cb, Cr in [0, 1], Cb and Cr centred at 0.5.

    Returns:
        float ``(..., 3)`` RGB, in [0, 1] when the input came from an RGB image.

    Example:
        >>> ycbcr_to_rgb(np.array([0.2, 0.5, 0.5]))
        array([0.2, 0.2, 0.2])
    """
    arr = _check_numpy(ycbcr, "ycbcr_to_rgb")
    return _apply_numpy(RGB_FROM_YCBCR, arr - _YCBCR_OFFSET.astype(arr.dtype))


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x > _SRGB_THRESHOLD, ((np.maximum(x, _SRGB_THRESHOLD) + 0.055) / 1.055) ** 2.4, x / 12.92)


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    safe = np.maximum(x, _SRGB_LINEAR_THRESHOLD)
    return np.where(x > _SRGB_LINEAR_THRESHOLD, 1.055 * safe ** (1 / 2.4) - 0.055, 12.92 * x)


def _lab_f(t: np.ndarray) -> np.ndarray:
    return np.where(t > _LAB_DELTA**3, np.cbrt(t), t / (3 * _LAB_DELTA**2) + 4.0 / 29.0)


def _lab_f_inv(f: np.ndarray) -> np.ndarray:
    return np.where(f > _LAB_DELTA, f**3, 3 * _LAB_DELTA**2 * (f - 4.0 / 29.0))


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (gamma-encoded) to CIE Lab, D65 (agrees with ``skimage.color.rgb2lab`` to ~2e-4).

    Args:
        rgb: float ``(..., 3)`` sRGB in [0, 1].

    Returns:
        float ``(..., 3)``: L in [0, 100], a and b roughly in [-128, 127] (0 for gray).

    Example:
        >>> rgb_to_lab(np.array([1.0, 1.0, 1.0])).round(1)
        array([100.,  -0.,   0.])
    """
    arr = _check_numpy(rgb, "rgb_to_lab")
    xyz = _apply_numpy(XYZ_FROM_RGB, _srgb_to_linear(arr))
    f = _lab_f(xyz / D65_WHITE.astype(arr.dtype))
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1).astype(arr.dtype)


def lab_to_rgb(lab: np.ndarray, *, clip: bool = True) -> np.ndarray:
    """CIE Lab (D65) to sRGB (agrees with ``skimage.color.lab2rgb`` for in-gamut colours).

    Args:
        lab: float ``(..., 3)``: L in [0, 100], a and b roughly in [-128, 127].
        clip: clip the result to [0, 1] (out-of-gamut Lab values give RGB outside it).

    Returns:
        float ``(..., 3)`` sRGB, in [0, 1] when ``clip``.

    Example:
        >>> lab_to_rgb(np.array([100.0, 0.0, 0.0])).round(3)
        array([1., 1., 1.])
    """
    arr = _check_numpy(lab, "lab_to_rgb")
    fy = (arr[..., 0] + 16.0) / 116.0
    f = np.stack([fy + arr[..., 1] / 500.0, fy, fy - arr[..., 2] / 200.0], axis=-1)
    xyz = _lab_f_inv(f) * D65_WHITE.astype(arr.dtype)
    rgb = _linear_to_srgb(_apply_numpy(RGB_FROM_XYZ, xyz))
    if clip:
        rgb = np.clip(rgb, 0.0, 1.0)
    return rgb.astype(arr.dtype)


def gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    """Repeat a gray image into three equal RGB channels.

    Args:
        gray: float ``(...)`` in [0, 1], e.g. ``(H, W)``.

    Returns:
        float ``(..., 3)`` RGB with R = G = B = gray.

    Example:
        >>> gray_to_rgb(np.zeros((4, 5))).shape
        (4, 5, 3)
    """
    arr = np.asarray(gray)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"gray_to_rgb expects a float array in [0, 1], got dtype {arr.dtype}")
    return np.repeat(arr[..., None], 3, axis=-1)


def rgb_to_uv(rgb: np.ndarray) -> np.ndarray:
    """YUV chroma of an RGB image.

    Args:
        rgb: float ``(..., 3)`` RGB in [0, 1].

    Returns:
        ``(..., 2)`` U in ±0.436, V in ±0.615 (float64 for float64 input).

    Example:
        >>> rgb_to_uv(np.array([1.0, 0.0, 0.0])).round(3).tolist()
        [-0.147, 0.615]
    """
    return rgb_to_yuv(rgb)[..., 1:]


UV_FROM_CBCR = YUV_FROM_RGB[1:] @ RGB_FROM_YCBCR[:, 1:]
"""(U, V) per unit of (Cb - 0.5, Cr - 0.5): both are scaled B - Y and R - Y (a diagonal 2x2)."""


def cbcr_to_uv(cbcr: np.ndarray) -> np.ndarray:
    """YUV chroma from YCbCr chroma: ``(..., 2)`` Cb, Cr in [0, 1] -> ``(..., 2)`` U, V (float32).

    Lets YCbCr methods compose through :func:`compose_luma_chroma` without a round trip via RGB.
    """
    cbcr = np.asarray(cbcr, dtype=np.float32)
    return ((cbcr - np.float32(0.5)) @ UV_FROM_CBCR.T.astype(np.float32)).astype(np.float32)


def compose_luma_chroma(luma: np.ndarray, uv: np.ndarray, *, strip_rows: int = 512) -> np.ndarray:
    """RGB whose BT.601 luma is exactly ``luma``, from YUV chroma scaled into the RGB cube.

    ``rgb = Y + t * rgb(0, U, V)``: the chroma part has zero luma, so any ``t`` keeps Y; per pixel
    the largest ``t`` in [0, 1] that keeps every channel in [0, 1] is used (saturation is reduced
    instead of clipping channels, which would change the luma). Y is clipped to [0, 1] first.
    Works in row strips of float32, so memory stays bounded at any size.

    Args:
        luma: float ``(H, W)`` in [0, 1].
        uv: float ``(H, W, 2)`` YUV chroma (U in ±0.436, V in ±0.615).
        strip_rows: rows processed at a time.

    Returns:
        float32 ``(H, W, 3)`` RGB in [0, 1] whose luma equals ``luma`` (to float32 rounding).

    Example:
        >>> compose_luma_chroma(np.full((1, 1), 0.5), np.zeros((1, 1, 2))).tolist()
        [[[0.5, 0.5, 0.5]]]
    """
    luma = np.asarray(luma)
    uv = np.asarray(uv)
    if luma.ndim != 2 or uv.shape != (*luma.shape, 2):
        raise ValueError(f"expected luma (H, W) and uv (H, W, 2), got {luma.shape} and {uv.shape}")
    per_unit = RGB_FROM_YUV[:, 1:].astype(np.float32)  # RGB minus luma per unit of U and V
    out = np.empty((*luma.shape, 3), np.float32)
    for top in range(0, luma.shape[0], strip_rows):
        y = np.clip(luma[top:top + strip_rows].astype(np.float32), 0.0, 1.0)
        u = uv[top:top + strip_rows, :, 0].astype(np.float32)
        v = uv[top:top + strip_rows, :, 1].astype(np.float32)
        deltas = [per_unit[k, 0] * u + per_unit[k, 1] * v for k in range(3)]
        t = np.ones_like(y)
        for d in deltas:  # the largest t <= 1 with 0 <= y + t d <= 1 in every channel
            room = np.where(d > 0, 1.0 - y, y)
            np.minimum(t, room / np.maximum(np.abs(d), np.float32(1e-12)), out=t)
        np.clip(t, 0.0, 1.0, out=t)
        for k, d in enumerate(deltas):
            out[top:top + strip_rows, :, k] = y + t * d
    return np.clip(out, 0.0, 1.0, out=out)  # clip: float rounding only


_TORCH_NAMES = frozenset({
    "rgb_to_luma_torch", "rgb_to_yuv_torch", "yuv_to_rgb_torch", "rgb_to_ycbcr_torch",
    "ycbcr_to_rgb_torch", "rgb_to_lab_torch", "lab_to_rgb_torch", "gray_to_rgb_torch",
})


def __getattr__(name: str) -> Any:
    """Lazy re-export of the torch twins from :mod:`tinct.color_torch` (PEP 562)."""
    if name in _TORCH_NAMES:
        from tinct import color_torch
        return getattr(color_torch, name)
    raise AttributeError(f"module 'tinct.color' has no attribute {name!r}")
