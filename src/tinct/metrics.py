"""Image-quality metrics: numpy for evaluation, differentiable torch for losses.

numpy metrics take float images in [0, 1] of shape ``(H, W)`` or ``(H, W, C)`` (channel last)
and return Python floats (or arrays where stated). torch metrics take ``(B, C, H, W)`` tensors;
they live in :mod:`tinct.metrics_torch` and are re-exported here lazily, so evaluating images
does not import torch.

Definitions and scales (see ``docs/methods/metrics.md``):

* ``mse`` over all pixels and channels; ``psnr = 10 log10(data_range^2 / mse)`` in dB, ``inf`` for
  identical images (equals ``skimage.metrics.peak_signal_noise_ratio``).
* ``ssim``: Wang et al. 2004 with a Gaussian 11x11 window (sigma 1.5, truncated at 3.5 sigma),
  K1 = 0.01, K2 = 0.03, population (co)variances; the map is computed with symmetric ("reflect"
  in scipy) border handling and its mean is taken after cropping 5 pixels on every side, exactly
  as ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1)``; colour = mean over channels. Range [-1, 1].
* ``ciede2000``: CIE ΔE*00 (Sharma, Wu & Dalal 2005), kL = kC = kH = 1, on Lab (L in [0, 100]);
  ≈ 1 is a just-noticeable difference.
* ``colorfulness``: Hasler & Süsstrunk 2003 M = σ_rgyb + 0.3 μ_rgyb on the 0-255 scale; 0 for gray.
* ``pearson``: linear correlation coefficient in [-1, 1] (``nan`` when an input is constant).
* ``angular_error`` (mean RGB angle in degrees, the NIR papers' "AE"), ``best_shift`` and
  ``aligned_pair`` (integer registration within ±radius px) live in :mod:`tinct.metrics_align` and
  are re-exported here.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import scipy.ndimage

from tinct.color import rgb_to_lab
from tinct.metrics_align import aligned_pair, angular_error, angular_error_map, best_shift

__all__ = [
    "SSIM_SIGMA", "SSIM_TRUNCATE", "SSIM_RADIUS", "SSIM_K1", "SSIM_K2",
    "mse", "psnr", "psnr_per_channel", "ssim", "ssim_map", "ssim_components", "ciede2000",
    "mean_ciede2000", "colorfulness", "pearson", "angular_error", "angular_error_map", "best_shift",
    "aligned_pair",
]

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_RADIUS = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)  # 5 -> an 11x11 window, as scipy.ndimage
SSIM_K1 = 0.01
SSIM_K2 = 0.03

Padding = Literal["valid", "same"]
Reduction = Literal["mean", "none"]


# ---------------------------------------------------------------------------------------------
# numpy
# ---------------------------------------------------------------------------------------------

def _as_float64(image: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(image)
    if not np.issubdtype(arr.dtype, np.floating):
        # an 8-bit image would silently be measured on the wrong scale
        raise TypeError(f"{name} expects float images in [0, 1], got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _check_pair(pred: np.ndarray, target: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    pred, target = _as_float64(pred, name), _as_float64(target, name)
    if pred.shape != target.shape:
        raise ValueError(f"{name}: pred and target differ in shape: {pred.shape} vs {target.shape}")
    if pred.ndim not in (2, 3):
        raise ValueError(f"{name} expects images of shape (H, W) or (H, W, C), got shape {pred.shape}")
    return pred, target


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error over all pixels and channels of two ``(H, W[, C])`` images."""
    pred, target = _check_pair(pred, target, "mse")
    return float(np.mean((pred - target) ** 2))


def _psnr_from_mse(err: float, data_range: float) -> float:
    return math.inf if err == 0 else float(10.0 * np.log10(data_range**2 / err))


def psnr(pred: np.ndarray, target: np.ndarray, data_range: float = 1.0) -> float:
    """PSNR in dB over all channels, ``10 log10(data_range^2 / mse)``; ``inf`` when equal.

    Args:
        pred, target: float ``(H, W)`` or ``(H, W, C)`` images in [0, data_range].
        data_range: the peak value (1.0 for images in [0, 1]).
    """
    return _psnr_from_mse(mse(pred, target), data_range)


def psnr_per_channel(pred: np.ndarray, target: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """PSNR in dB of each channel: float64 ``(C,)`` (``(1,)`` for ``(H, W)`` images)."""
    pred, target = _check_pair(pred, target, "psnr_per_channel")
    if pred.ndim == 2:
        pred, target = pred[..., None], target[..., None]
    errors = np.mean((pred - target) ** 2, axis=(0, 1))
    return np.array([_psnr_from_mse(float(e), data_range) for e in errors])


def _check_padding(padding: str) -> None:
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


def _check_ssim_size(shape: tuple[int, ...], padding: str, name: str) -> None:
    size = 2 * SSIM_RADIUS + 1
    if padding == "valid" and min(shape) < size:
        raise ValueError(f"{name} needs images of at least {size}x{size} pixels, got shape {shape}")


def _ssim_stats(x: np.ndarray, y: np.ndarray, padding: str) -> tuple[np.ndarray, ...]:
    """Gaussian-weighted means, variances and covariance of (H, W[, C]) images."""
    sigma = (SSIM_SIGMA, SSIM_SIGMA) + (0.0,) * (x.ndim - 2)

    def blur(a: np.ndarray) -> np.ndarray:
        out = scipy.ndimage.gaussian_filter(a, sigma=sigma, truncate=SSIM_TRUNCATE, mode="reflect")
        if padding == "valid":
            out = out[SSIM_RADIUS:-SSIM_RADIUS, SSIM_RADIUS:-SSIM_RADIUS]
        return out

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov_xy = blur(x * y) - mu_x * mu_y
    return mu_x, mu_y, var_x, var_y, cov_xy


def ssim_map(pred: np.ndarray, target: np.ndarray, *, data_range: float = 1.0,
             padding: Padding = "same") -> np.ndarray:
    """Per-pixel SSIM (Wang et al. 2004, eq. 13 with Gaussian weights).

    Args:
        pred, target: float ``(H, W)`` or ``(H, W, C)`` images in [0, data_range].
        data_range: the peak value, sets C1 = (K1 R)^2 and C2 = (K2 R)^2.
        padding: "same" gives an ``(H, W[, C])`` map with symmetric borders (skimage's ``full``
            map); "valid" gives the ``(H - 10, W - 10[, C])`` interior that :func:`ssim` averages.

    Returns:
        float64 SSIM map, values in [-1, 1].
    """
    pred, target = _check_pair(pred, target, "ssim_map")
    _check_padding(padding)
    _check_ssim_size(pred.shape[:2], padding, "ssim_map")
    mu_x, mu_y, var_x, var_y, cov_xy = _ssim_stats(pred, target, padding)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    return ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def ssim(pred: np.ndarray, target: np.ndarray, *, data_range: float = 1.0) -> float:
    """Mean SSIM, equal to scikit-image's Gaussian SSIM (mean over channels for colour).

    Args:
        pred, target: float ``(H, W)`` or ``(H, W, C)`` images in [0, data_range], at least 11x11.
        data_range: the peak value (1.0 for images in [0, 1]).

    Returns:
        SSIM in [-1, 1]; 1 for identical images.
    """
    return float(ssim_map(pred, target, data_range=data_range, padding="valid").mean())


def _safe_sqrt_np(v: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    return np.where(v > eps, np.sqrt(np.maximum(v, eps)), np.maximum(v, 0.0) / math.sqrt(eps))


def _lcs(mu_x, mu_y, var_x, var_y, cov_xy, data_range, sqrt):
    """Luminance, contrast and structure terms (Wang et al. 2004, eqs. 6, 9, 10), C3 = C2 / 2."""
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    c3 = c2 / 2
    sigma_xy = sqrt(var_x) * sqrt(var_y)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    contrast = (2 * sigma_xy + c2) / (var_x + var_y + c2)
    structure = (cov_xy + c3) / (sigma_xy + c3)
    return luminance, contrast, structure


def ssim_components(x: np.ndarray, y: np.ndarray, *, data_range: float = 1.0,
                    padding: Padding = "same") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Luminance, contrast and structure maps whose product is :func:`ssim_map`.

    Args:
        x, y: float ``(H, W)`` images (``(H, W, C)`` works per channel) in [0, data_range].
        data_range: the peak value.
        padding: as in :func:`ssim_map`.

    Returns:
        ``(l, c, s)`` float64 maps: l, c in (0, 1], s in [-1, 1]; ``l * c * s == ssim_map``.
    """
    x, y = _check_pair(x, y, "ssim_components")
    _check_padding(padding)
    _check_ssim_size(x.shape[:2], padding, "ssim_components")
    return _lcs(*_ssim_stats(x, y, padding), data_range, _safe_sqrt_np)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference per pixel (Sharma, Wu & Dalal 2005), kL = kC = kH = 1.

    Args:
        lab1, lab2: float ``(..., 3)`` CIE Lab, L in [0, 100].

    Returns:
        float64 ``(...)`` ΔE00 >= 0 (≈ 1 is just noticeable).
    """
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    if lab1.shape != lab2.shape or lab1.shape[-1:] != (3,):
        raise ValueError(f"ciede2000 expects two Lab arrays of the same shape (..., 3), got {lab1.shape} "
                         f"and {lab2.shape}")
    l1, a1, b1 = np.moveaxis(lab1, -1, 0)
    l2, a2, b2 = np.moveaxis(lab2, -1, 0)
    # eqs. 2-5: a' rescaled by G, which depends on the mean chroma
    c_mean7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(c_mean7 / (c_mean7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    chroma_prod = c1p * c2p
    # eqs. 8-10: differences; the hue difference wraps around 360 degrees
    dl = l2 - l1
    dc = c2p - c1p
    dh_angle = h2p - h1p
    dh_angle = np.where(dh_angle > 180, dh_angle - 360, np.where(dh_angle < -180, dh_angle + 360, dh_angle))
    dh_angle = np.where(chroma_prod == 0, 0.0, dh_angle)
    dh = 2 * np.sqrt(chroma_prod) * np.sin(np.radians(dh_angle) / 2)
    # eqs. 12-14: means; the mean hue takes the short way around the circle
    l_mean = (l1 + l2) / 2
    c_mean = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_mean = np.where(np.abs(h1p - h2p) <= 180, h_sum / 2,
                      np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2))
    h_mean = np.where(chroma_prod == 0, h_sum, h_mean)
    # eqs. 15-22: weighting functions and the rotation term
    t = (1 - 0.17 * np.cos(np.radians(h_mean - 30)) + 0.24 * np.cos(np.radians(2 * h_mean))
         + 0.32 * np.cos(np.radians(3 * h_mean + 6)) - 0.20 * np.cos(np.radians(4 * h_mean - 63)))
    d_theta = 30 * np.exp(-(((h_mean - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * c_mean
    s_h = 1 + 0.015 * c_mean * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    term_l, term_c, term_h = dl / s_l, dc / s_c, dh / s_h
    return np.sqrt(term_l**2 + term_c**2 + term_h**2 + r_t * term_c * term_h)


def mean_ciede2000(rgb_pred: np.ndarray, rgb_target: np.ndarray) -> float:
    """Mean CIEDE2000 between two sRGB images ``(H, W, 3)`` in [0, 1] (via :func:`tinct.color.rgb_to_lab`)."""
    pred, target = _check_pair(rgb_pred, rgb_target, "mean_ciede2000")
    if pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"mean_ciede2000 expects RGB images of shape (H, W, 3), got shape {pred.shape}")
    return float(ciede2000(rgb_to_lab(pred), rgb_to_lab(target)).mean())


def colorfulness(rgb: np.ndarray) -> float:
    """Colourfulness M of Hasler & Süsstrunk 2003 (eq. 3) on the 0-255 scale.

    Args:
        rgb: float ``(H, W, 3)`` RGB in [0, 1].

    Returns:
        M = σ_rgyb + 0.3 μ_rgyb >= 0, with rg = R - G, yb = (R + G) / 2 - B; 0 for a gray image,
        roughly 0-110 for natural images (≈ 33 "moderately", ≈ 59 "quite" colourful).
    """
    arr = _as_float64(rgb, "colorfulness")
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"colorfulness expects an RGB image of shape (H, W, 3), got shape {arr.shape}")
    r, g, b = np.moveaxis(arr * 255.0, -1, 0)
    rg = r - g
    yb = 0.5 * (r + g) - b
    sigma = math.sqrt(rg.var() + yb.var())
    mu = math.hypot(rg.mean(), yb.mean())
    return float(sigma + 0.3 * mu)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson linear correlation of two arrays of the same shape (flattened), in [-1, 1].

    Returns ``nan`` when either input is constant (the coefficient is undefined).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"pearson expects two arrays with the same number (>= 2) of values, got "
                         f"{x.size} and {y.size}")
    dx, dy = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(dx @ dx) * float(dy @ dy))
    if denominator == 0:
        return math.nan
    return float(np.clip((dx @ dy) / denominator, -1.0, 1.0))


_TORCH_NAMES = frozenset({"mse_torch", "psnr_torch", "ssim_torch", "ssim_map_torch", "ssim_components_torch"})


def __getattr__(name: str) -> Any:
    """Lazy re-export of the torch metrics from :mod:`tinct.metrics_torch` (PEP 562)."""
    if name in _TORCH_NAMES:
        from tinct import metrics_torch
        return getattr(metrics_torch, name)
    raise AttributeError(f"module 'tinct.metrics' has no attribute {name!r}")
