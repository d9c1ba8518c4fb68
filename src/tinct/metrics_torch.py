"""Differentiable torch twins of :mod:`tinct.metrics`: ``(B, C, H, W)`` tensors, for losses.

Same definitions and constants as the numpy metrics (tested equal to float rounding); import
them from :mod:`tinct.metrics` (re-exported lazily) or from here.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tinct.metrics import (
    SSIM_K1,
    SSIM_K2,
    SSIM_RADIUS,
    SSIM_SIGMA,
    Padding,
    Reduction,
    _check_padding,
    _check_ssim_size,
    _lcs,
)

__all__ = ["mse_torch", "psnr_torch", "ssim_torch", "ssim_map_torch", "ssim_components_torch"]


def _check_pair_torch(x: torch.Tensor, y: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} expects torch tensors, got {type(x).__name__} and {type(y).__name__}")
    if x.shape != y.shape:
        raise ValueError(f"{name}: x and y differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    if x.ndim != 4:
        raise ValueError(f"{name} expects tensors of shape (B, C, H, W), got shape {tuple(x.shape)}")


def _reduce(per_image: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_image.mean()
    if reduction == "none":
        return per_image
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def mse_torch(x: torch.Tensor, y: torch.Tensor, reduction: Reduction = "mean") -> torch.Tensor:
    """MSE of ``(B, C, H, W)`` tensors: a scalar ("mean") or per image ``(B,)`` ("none")."""
    _check_pair_torch(x, y, "mse_torch")
    return _reduce(((x - y) ** 2).flatten(1).mean(1), reduction)


def psnr_torch(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0,
               reduction: Reduction = "mean") -> torch.Tensor:
    """PSNR in dB of each image of a ``(B, C, H, W)`` batch; "mean" averages the per-image values.

    Returns a scalar or ``(B,)``; ``inf`` for identical images.
    """
    _check_pair_torch(x, y, "psnr_torch")
    per_image_mse = ((x - y) ** 2).flatten(1).mean(1)
    return _reduce(10.0 * torch.log10(data_range**2 / per_image_mse), reduction)


def _gaussian_kernel_torch(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    offsets = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / SSIM_SIGMA) ** 2)
    return (kernel / kernel.sum()).to(dtype=dtype, device=device)


def _symmetric_index(n: int, pad: int, device: torch.device) -> torch.Tensor:
    """Indices of a half-sample symmetric padding (scipy 'reflect': d c b a | a b c d | d c)."""
    index = torch.arange(-pad, n + pad, device=device) % (2 * n)
    return torch.where(index >= n, 2 * n - 1 - index, index)


def _gaussian_blur_torch(stack: torch.Tensor, padding: str) -> torch.Tensor:
    """Separable depthwise Gaussian of ``(B, K, H, W)``; "valid" shrinks H and W by 10."""
    channels, (height, width) = stack.shape[1], stack.shape[-2:]
    if padding == "same":
        stack = stack.index_select(-2, _symmetric_index(height, SSIM_RADIUS, stack.device))
        stack = stack.index_select(-1, _symmetric_index(width, SSIM_RADIUS, stack.device))
    kernel = _gaussian_kernel_torch(stack.dtype, stack.device)
    size = kernel.numel()
    stack = F.conv2d(stack, kernel.view(1, 1, size, 1).expand(channels, 1, size, 1), groups=channels)
    return F.conv2d(stack, kernel.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)


def _ssim_stats_torch(x: torch.Tensor, y: torch.Tensor, padding: str) -> tuple[torch.Tensor, ...]:
    channels = x.shape[1]
    blurred = _gaussian_blur_torch(torch.cat([x, y, x * x, y * y, x * y], dim=1), padding)
    mu_x, mu_y, xx, yy, xy = blurred.split(channels, dim=1)
    return mu_x, mu_y, xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y


def _check_ssim_torch(x: torch.Tensor, y: torch.Tensor, padding: str, name: str) -> None:
    _check_pair_torch(x, y, name)
    _check_padding(padding)
    _check_ssim_size(tuple(x.shape[-2:]), padding, name)


def ssim_map_torch(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0,
                   padding: Padding = "same") -> torch.Tensor:
    """Per-pixel SSIM of ``(B, C, H, W)`` tensors, differentiable; same numbers as :func:`ssim_map`.

    Returns:
        ``(B, C, H, W)`` ("same", symmetric borders) or ``(B, C, H - 10, W - 10)`` ("valid").
    """
    _check_ssim_torch(x, y, padding, "ssim_map_torch")
    mu_x, mu_y, var_x, var_y, cov_xy = _ssim_stats_torch(x, y, padding)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    return ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def ssim_torch(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, reduction: Reduction = "mean",
               padding: Padding = "valid") -> torch.Tensor:
    """Mean SSIM of ``(B, C, H, W)`` tensors in [0, data_range], differentiable.

    With ``padding="valid"`` (default) each image's value equals :func:`ssim` / scikit-image;
    "same" also averages the border pixels. ``1 - ssim_torch(x, y)`` is a loss.

    Returns:
        a scalar ("mean" over the batch) or per-image ``(B,)`` ("none"), in [-1, 1].

    Example:
        >>> x = torch.rand(2, 3, 16, 16)
        >>> float(ssim_torch(x, x))
        1.0
    """
    per_image = ssim_map_torch(x, y, data_range, padding).flatten(1).mean(1)
    return _reduce(per_image, reduction)


def _safe_sqrt_torch(v: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    # sqrt has an infinite slope at 0 (flat patches): go linear below eps so gradients stay finite.
    return torch.where(v > eps, v.clamp(min=eps).sqrt(), v.clamp(min=0.0) / math.sqrt(eps))


def ssim_components_torch(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0,
                          padding: Padding = "same") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Luminance, contrast and structure maps (l, c, s) of ``(B, C, H, W)`` tensors, differentiable.

    ``l * c * s`` equals :func:`ssim_map_torch`; same numbers as :func:`ssim_components`.

    Returns:
        three ``(B, C, H', W')`` maps, ``H' = H`` ("same") or ``H - 10`` ("valid").
    """
    _check_ssim_torch(x, y, padding, "ssim_components_torch")
    return _lcs(*_ssim_stats_torch(x, y, padding), data_range, _safe_sqrt_torch)
