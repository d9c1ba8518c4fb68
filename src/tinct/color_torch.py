"""Differentiable torch twins of :mod:`tinct.color` (channel first ``(*, 3, H, W)``).

Same constants, same ranges and the same results as the numpy functions (tested to float
rounding); import them from :mod:`tinct.color` (re-exported lazily) or from here.
"""

from __future__ import annotations

import numpy as np
import torch

from tinct.color import (
    _KB,
    _KG,
    _KR,
    _LAB_DELTA,
    _SRGB_LINEAR_THRESHOLD,
    _SRGB_THRESHOLD,
    _YCBCR_OFFSET,
    D65_WHITE,
    RGB_FROM_XYZ,
    RGB_FROM_YCBCR,
    RGB_FROM_YUV,
    XYZ_FROM_RGB,
    YCBCR_FROM_RGB,
    YUV_FROM_RGB,
)

__all__ = [
    "rgb_to_luma_torch", "rgb_to_yuv_torch", "yuv_to_rgb_torch", "rgb_to_ycbcr_torch",
    "ycbcr_to_rgb_torch", "rgb_to_lab_torch", "lab_to_rgb_torch", "gray_to_rgb_torch",
]


def _check_torch(image: torch.Tensor, name: str, channels: int = 3) -> torch.Tensor:
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(image).__name__}")
    if image.ndim < 3 or image.shape[-3] != channels:
        raise ValueError(f"{name} expects a tensor of shape (*, {channels}, H, W), got shape "
                         f"{tuple(image.shape)}")
    if not image.is_floating_point():
        raise TypeError(f"{name} expects a float tensor, got dtype {image.dtype}")
    return image


def _apply_torch(matrix: np.ndarray, image: torch.Tensor) -> torch.Tensor:
    m = torch.as_tensor(matrix, dtype=image.dtype, device=image.device)
    return torch.einsum("ij,...jhw->...ihw", m, image)


def rgb_to_luma_torch(image: torch.Tensor) -> torch.Tensor:
    """BT.601 luma, differentiable.

    Args:
        image: float ``(*, 3, H, W)`` RGB in [0, 1].

    Returns:
        float ``(*, 1, H, W)`` luma in [0, 1].

    Example:
        >>> rgb_to_luma_torch(torch.rand(2, 3, 4, 5)).shape
        torch.Size([2, 1, 4, 5])
    """
    _check_torch(image, "rgb_to_luma_torch")
    r, g, b = image.unbind(-3)
    return (_KR * r + _KG * g + _KB * b).unsqueeze(-3)


def rgb_to_yuv_torch(image: torch.Tensor) -> torch.Tensor:
    """RGB to analog YUV, differentiable (same numbers as :func:`rgb_to_yuv`).

    Args:
        image: float ``(*, 3, H, W)`` RGB in [0, 1].

    Returns:
        float ``(*, 3, H, W)``: Y in [0, 1], U in [-0.436, 0.436], V in [-0.615, 0.615].

    Example:
        >>> rgb_to_yuv_torch(torch.rand(3, 4, 5)).shape
        torch.Size([3, 4, 5])
    """
    return _apply_torch(YUV_FROM_RGB, _check_torch(image, "rgb_to_yuv_torch"))


def yuv_to_rgb_torch(image: torch.Tensor) -> torch.Tensor:
    """Analog YUV to RGB, differentiable, not clipped.

    Args:
        image: float ``(*, 3, H, W)``: Y in [0, 1], U in [-0.436, 0.436], V in [-0.615, 0.615].

    Returns:
        float ``(*, 3, H, W)`` RGB, in [0, 1] for YUV that came from RGB.

    Example:
        >>> yuv_to_rgb_torch(torch.zeros(1, 3, 2, 2)).abs().max().item()
        0.0
    """
    return _apply_torch(RGB_FROM_YUV, _check_torch(image, "yuv_to_rgb_torch"))


def _offset_torch(image: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(_YCBCR_OFFSET, dtype=image.dtype, device=image.device).view(3, 1, 1)


def rgb_to_ycbcr_torch(image: torch.Tensor) -> torch.Tensor:
    """RGB to BT.601 full-range YCbCr (Y, Cb, Cr), differentiable.

    Args:
        image: float ``(*, 3, H, W)`` RGB in [0, 1].

    Returns:
        float ``(*, 3, H, W)``: Y, Cb, Cr in [0, 1], Cb and Cr centred at 0.5.

    Example:
        >>> rgb_to_ycbcr_torch(torch.zeros(3, 1, 1)).flatten().tolist()
        [0.0, 0.5, 0.5]
    """
    _check_torch(image, "rgb_to_ycbcr_torch")
    return _apply_torch(YCBCR_FROM_RGB, image) + _offset_torch(image)


def ycbcr_to_rgb_torch(image: torch.Tensor) -> torch.Tensor:
    """BT.601 full-range YCbCr (Y, Cb, Cr) to RGB, differentiable, not clipped.

    Args:
        image: float ``(*, 3, H, W)``: Y, Cb, Cr in [0, 1], Cb and Cr centred at 0.5.

    Returns:
        float ``(*, 3, H, W)`` RGB, in [0, 1] for YCbCr that came from RGB.

    Example:
        >>> ycbcr_to_rgb_torch(torch.tensor([0.2, 0.5, 0.5]).view(3, 1, 1)).flatten()
        tensor([0.2000, 0.2000, 0.2000])
    """
    _check_torch(image, "ycbcr_to_rgb_torch")
    return _apply_torch(RGB_FROM_YCBCR, image - _offset_torch(image))


def _srgb_to_linear_torch(x: torch.Tensor) -> torch.Tensor:
    # Both branches are evaluated by torch.where: clamp the power's base so that its gradient
    # stays finite where the branch is not used.
    curve = ((x.clamp(min=_SRGB_THRESHOLD) + 0.055) / 1.055) ** 2.4
    return torch.where(x > _SRGB_THRESHOLD, curve, x / 12.92)


def _linear_to_srgb_torch(x: torch.Tensor) -> torch.Tensor:
    curve = 1.055 * x.clamp(min=_SRGB_LINEAR_THRESHOLD) ** (1 / 2.4) - 0.055
    return torch.where(x > _SRGB_LINEAR_THRESHOLD, curve, 12.92 * x)


def _lab_f_torch(t: torch.Tensor) -> torch.Tensor:
    # cbrt has an infinite slope at 0: evaluate it only above the linear segment.
    cube_root = t.clamp(min=_LAB_DELTA**3) ** (1.0 / 3.0)
    return torch.where(t > _LAB_DELTA**3, cube_root, t / (3 * _LAB_DELTA**2) + 4.0 / 29.0)


def _lab_f_inv_torch(f: torch.Tensor) -> torch.Tensor:
    return torch.where(f > _LAB_DELTA, f**3, 3 * _LAB_DELTA**2 * (f - 4.0 / 29.0))


def rgb_to_lab_torch(image: torch.Tensor) -> torch.Tensor:
    """sRGB to CIE Lab (D65), differentiable (same numbers as :func:`rgb_to_lab`).

    Args:
        image: float ``(*, 3, H, W)`` sRGB in [0, 1].

    Returns:
        float ``(*, 3, H, W)``: L in [0, 100], a and b roughly in [-128, 127].

    Example:
        >>> rgb_to_lab_torch(torch.ones(3, 1, 1)).flatten().round(decimals=1).abs().tolist()
        [100.0, 0.0, 0.0]
    """
    _check_torch(image, "rgb_to_lab_torch")
    xyz = _apply_torch(XYZ_FROM_RGB, _srgb_to_linear_torch(image))
    white = torch.as_tensor(D65_WHITE, dtype=image.dtype, device=image.device).view(3, 1, 1)
    fx, fy, fz = _lab_f_torch(xyz / white).unbind(-3)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-3)


def lab_to_rgb_torch(image: torch.Tensor, *, clip: bool = True) -> torch.Tensor:
    """CIE Lab (D65) to sRGB, differentiable (same numbers as :func:`lab_to_rgb`).

    Args:
        image: float ``(*, 3, H, W)``: L in [0, 100], a and b roughly in [-128, 127].
        clip: clamp the result to [0, 1] (the gradient is zero where it clamps).

    Returns:
        float ``(*, 3, H, W)`` sRGB, in [0, 1] when ``clip``.

    Example:
        >>> lab_to_rgb_torch(torch.tensor([100.0, 0.0, 0.0]).view(3, 1, 1)).flatten().round(decimals=3)
        tensor([1., 1., 1.])
    """
    _check_torch(image, "lab_to_rgb_torch")
    lightness, a, b = image.unbind(-3)
    fy = (lightness + 16.0) / 116.0
    f = torch.stack([fy + a / 500.0, fy, fy - b / 200.0], dim=-3)
    white = torch.as_tensor(D65_WHITE, dtype=image.dtype, device=image.device).view(3, 1, 1)
    rgb = _linear_to_srgb_torch(_apply_torch(RGB_FROM_XYZ, _lab_f_inv_torch(f) * white))
    return rgb.clamp(0.0, 1.0) if clip else rgb


def gray_to_rgb_torch(image: torch.Tensor) -> torch.Tensor:
    """Repeat a one-channel image into three equal RGB channels.

    Args:
        image: float ``(*, 1, H, W)`` in [0, 1].

    Returns:
        float ``(*, 3, H, W)`` with R = G = B.

    Example:
        >>> gray_to_rgb_torch(torch.zeros(2, 1, 4, 5)).shape
        torch.Size([2, 3, 4, 5])
    """
    _check_torch(image, "gray_to_rgb_torch", channels=1)
    return torch.cat([image, image, image], dim=-3)
