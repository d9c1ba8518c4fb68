"""tinct.color: golden values from scikit-image / OpenCV, round trips, numpy == torch, gradcheck."""

from __future__ import annotations

import doctest

import cv2
import numpy as np
import pytest
import skimage.color
import torch
from numpy.testing import assert_allclose

from tinct import color

SHAPES = [(3, 5, 7), (2, 3, 4, 6)]  # unbatched and batched (*, 3, H, W)


@pytest.fixture
def rgb64(rng: np.random.Generator) -> np.ndarray:
    """Random colours incl. pure black/white/primaries, float64 (H, W, 3)."""
    img = rng.random((9, 11, 3))
    img[0, :8] = [[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5],
                  [0.01, 0.02, 0.03], [1, 1, 0]]
    return img


def to_torch(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(img, -1, -3)))


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return np.moveaxis(t.detach().numpy(), -3, -1)


# --- golden values --------------------------------------------------------------------------

def test_luma_weights_and_value() -> None:
    assert color.LUMA_WEIGHTS == (0.299, 0.587, 0.114)
    assert_allclose(color.rgb_to_luma(np.array([0.2, 0.4, 0.6])), 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6)
    assert color.rgb_to_luma(np.zeros((4, 5, 3))).shape == (4, 5)


def test_yuv_matches_skimage(rgb64: np.ndarray) -> None:
    yuv = color.rgb_to_yuv(rgb64)
    assert_allclose(yuv, skimage.color.rgb2yuv(rgb64), atol=1e-12)
    assert_allclose(yuv[..., 0], color.rgb_to_luma(rgb64), atol=1e-12)
    assert_allclose(color.yuv_to_rgb(yuv), skimage.color.yuv2rgb(yuv), atol=1e-12)
    # the documented ranges: U ±0.436 at blue/yellow, V ±0.615 at red/cyan
    assert_allclose(color.rgb_to_yuv(np.array([0.0, 0.0, 1.0]))[1], 0.436, atol=1e-4)
    assert_allclose(color.rgb_to_yuv(np.array([1.0, 0.0, 0.0]))[2], 0.615, atol=1e-4)
    assert_allclose(color.rgb_to_yuv(np.array([0.0, 1.0, 1.0]))[2], -0.615, atol=1e-4)


def test_ycbcr_matches_opencv(rgb64: np.ndarray) -> None:
    rgb32 = rgb64.astype(np.float32)
    ycrcb = cv2.cvtColor(rgb32, cv2.COLOR_RGB2YCrCb)
    ycbcr = color.rgb_to_ycbcr(rgb32)
    assert ycbcr.dtype == np.float32
    # OpenCV rounds the chroma factors to 0.564 / 0.713: agreement to < 5e-4
    assert_allclose(ycbcr, ycrcb[..., [0, 2, 1]], atol=5e-4)
    back = cv2.cvtColor(ycbcr[..., [0, 2, 1]].copy(), cv2.COLOR_YCrCb2RGB)
    assert_allclose(color.ycbcr_to_rgb(ycbcr), back, atol=2e-3)
    # JPEG exact: Cb/Cr in [0, 1], centred at 0.5 for gray
    assert_allclose(color.rgb_to_ycbcr(np.array([0.3, 0.3, 0.3])), [0.3, 0.5, 0.5], atol=1e-12)
    assert_allclose(color.rgb_to_ycbcr(np.array([0.0, 0.0, 1.0]))[1], 1.0, atol=1e-12)
    assert_allclose(color.rgb_to_ycbcr(np.array([1.0, 0.0, 0.0]))[2], 1.0, atol=1e-12)


def test_lab_matches_skimage(rgb64: np.ndarray) -> None:
    lab = color.rgb_to_lab(rgb64)
    assert_allclose(lab, skimage.color.rgb2lab(rgb64), atol=2e-4)
    assert_allclose(color.lab_to_rgb(lab), skimage.color.lab2rgb(lab), atol=1e-5)
    assert_allclose(lab[0, 1], [100.0, 0.0, 0.0], atol=1e-2)   # white
    assert_allclose(lab[0, 0], [0.0, 0.0, 0.0], atol=1e-12)    # black
    assert 53.0 < lab[0, 2, 0] < 53.5 and 80 < lab[0, 2, 1] < 80.2  # sRGB red: L 53.24, a 80.09


def test_lab_float32_keeps_dtype(rgb64: np.ndarray) -> None:
    lab = color.rgb_to_lab(rgb64.astype(np.float32))
    assert lab.dtype == np.float32
    assert color.lab_to_rgb(lab).dtype == np.float32
    assert_allclose(lab, color.rgb_to_lab(rgb64), atol=1e-3)


def test_lab_to_rgb_clip() -> None:
    out_of_gamut = np.array([50.0, 120.0, -120.0])
    assert color.lab_to_rgb(out_of_gamut).max() <= 1.0
    assert color.lab_to_rgb(out_of_gamut, clip=False).max() > 1.0


def test_gray_to_rgb() -> None:
    gray = np.linspace(0, 1, 20).reshape(4, 5)
    rgb = color.gray_to_rgb(gray)
    assert rgb.shape == (4, 5, 3)
    assert_allclose(color.rgb_to_luma(rgb), gray, atol=1e-12)
    assert_allclose(color.rgb_to_lab(rgb)[..., 1:], 0.0, atol=2e-2)
    t = color.gray_to_rgb_torch(torch.from_numpy(gray)[None])
    assert t.shape == (3, 4, 5)
    assert_allclose(to_numpy(t), rgb)


def test_docstring_examples() -> None:
    from tinct import color_torch
    numpy_side, torch_side = doctest.testmod(color), doctest.testmod(color_torch)
    assert numpy_side.attempted + torch_side.attempted >= 16
    assert numpy_side.failed == 0 and torch_side.failed == 0


def test_importing_tinct_color_does_not_import_torch() -> None:
    import subprocess
    import sys
    code = "import sys, tinct.color; assert 'torch' not in sys.modules; tinct.color.rgb_to_luma_torch"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- round trips ----------------------------------------------------------------------------

@pytest.mark.parametrize("forward,inverse,atol", [
    (color.rgb_to_yuv, color.yuv_to_rgb, 1e-12),
    (color.rgb_to_ycbcr, color.ycbcr_to_rgb, 1e-12),
    (color.rgb_to_lab, color.lab_to_rgb, 1e-10),
])
def test_numpy_round_trip(rgb64: np.ndarray, forward, inverse, atol: float) -> None:
    assert_allclose(inverse(forward(rgb64)), rgb64, atol=atol)


PAIRS_TORCH = [
    (color.rgb_to_yuv, color.rgb_to_yuv_torch, color.yuv_to_rgb, color.yuv_to_rgb_torch),
    (color.rgb_to_ycbcr, color.rgb_to_ycbcr_torch, color.ycbcr_to_rgb, color.ycbcr_to_rgb_torch),
    (color.rgb_to_lab, color.rgb_to_lab_torch, color.lab_to_rgb, color.lab_to_rgb_torch),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fwd_np,fwd_t,inv_np,inv_t", PAIRS_TORCH)
def test_torch_equals_numpy_and_round_trips(shape, fwd_np, fwd_t, inv_np, inv_t) -> None:
    x = torch.rand(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = fwd_t(x)
    assert y.shape == x.shape
    assert_allclose(to_numpy(y), fwd_np(to_numpy(x)), atol=1e-10)
    back = inv_t(y)
    assert_allclose(back.numpy(), x.numpy(), atol=1e-9)
    assert_allclose(to_numpy(back), inv_np(to_numpy(y)), atol=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
def test_luma_torch(shape) -> None:
    x = torch.rand(shape, dtype=torch.float64)
    y = color.rgb_to_luma_torch(x)
    assert y.shape == (*shape[:-3], 1, *shape[-2:])
    assert_allclose(y.squeeze(-3).numpy(), color.rgb_to_luma(to_numpy(x)), atol=1e-12)
    assert_allclose(y.numpy(), color.rgb_to_yuv_torch(x)[..., :1, :, :].numpy(), atol=1e-12)


def test_torch_float32() -> None:
    x = torch.rand(2, 3, 8, 8)
    lab = color.rgb_to_lab_torch(x)
    assert lab.dtype == torch.float32
    assert torch.allclose(color.lab_to_rgb_torch(lab), x, atol=1e-4)


# --- gradients ------------------------------------------------------------------------------

def _gradcheck_input(low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    x = low + (high - low) * torch.rand(2, 3, 3, 4, dtype=torch.float64, generator=g)
    return x.requires_grad_(True)


@pytest.mark.parametrize("fn", [
    color.rgb_to_luma_torch, color.rgb_to_yuv_torch, color.yuv_to_rgb_torch, color.rgb_to_ycbcr_torch,
    color.ycbcr_to_rgb_torch, color.rgb_to_lab_torch,
])
def test_gradcheck(fn) -> None:
    assert torch.autograd.gradcheck(fn, (_gradcheck_input(),))


def test_gradcheck_lab_to_rgb() -> None:
    lab = color.rgb_to_lab_torch(_gradcheck_input(0.05, 0.95)).detach().requires_grad_(True)
    assert torch.autograd.gradcheck(color.lab_to_rgb_torch, (lab,))
    assert torch.autograd.gradcheck(lambda t: color.lab_to_rgb_torch(t, clip=False), (lab,))


def test_lab_gradient_finite_at_black_and_linear_segment() -> None:
    # zero and the sRGB/Lab linear segments must give finite, non-zero gradients (no cbrt(0) blow-up)
    x = torch.tensor([0.0, 0.001, 0.03, 1.0], dtype=torch.float64).view(1, 1, 4).expand(3, 1, 4).clone()
    x.requires_grad_(True)
    color.rgb_to_lab_torch(x)[0].sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad[1] > 0).all()
    lab = torch.zeros(3, 1, 2, dtype=torch.float64, requires_grad=True)
    color.lab_to_rgb_torch(lab, clip=False).sum().backward()
    assert torch.isfinite(lab.grad).all()


# --- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [color.rgb_to_luma, color.rgb_to_yuv, color.yuv_to_rgb, color.rgb_to_ycbcr,
                                color.ycbcr_to_rgb, color.rgb_to_lab, color.lab_to_rgb])
def test_numpy_bad_shape_names_shape(fn) -> None:
    with pytest.raises(ValueError, match=r"\(4, 5\)"):
        fn(np.zeros((4, 5)))
    with pytest.raises(TypeError, match="uint8"):
        fn(np.zeros((4, 5, 3), dtype=np.uint8))


@pytest.mark.parametrize("fn", [color.rgb_to_luma_torch, color.rgb_to_yuv_torch, color.yuv_to_rgb_torch,
                                color.rgb_to_ycbcr_torch, color.ycbcr_to_rgb_torch, color.rgb_to_lab_torch,
                                color.lab_to_rgb_torch])
def test_torch_bad_shape_names_shape(fn) -> None:
    with pytest.raises(ValueError, match=r"\(2, 4, 5, 3\)"):
        fn(torch.zeros(2, 4, 5, 3))      # channel-last by mistake
    with pytest.raises(ValueError, match=r"\(5, 3\)"):
        fn(torch.zeros(5, 3))
    with pytest.raises(TypeError):
        fn(np.zeros((3, 4, 5)))


def test_gray_errors() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5\)"):
        color.gray_to_rgb_torch(torch.zeros(2, 3, 4, 5))
    with pytest.raises(TypeError, match="uint8"):
        color.gray_to_rgb(np.zeros((4, 5), dtype=np.uint8))
