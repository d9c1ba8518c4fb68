"""tinct.metrics: oracles (scikit-image, scipy, Sharma et al.), numpy == torch, gradients, errors."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
import scipy.stats
import skimage.color
import skimage.metrics
import torch
from numpy.testing import assert_allclose

from tinct import metrics
from tinct.color import rgb_to_lab

# Sharma, Wu & Dalal (2005), Table 1: L1 a1 b1 L2 a2 b2 ΔE00 — the 34 published CIEDE2000 test pairs.
SHARMA_PAIRS = np.array([
    [50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425],
    [50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615],
    [50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412],
    [50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000],
    [50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485, 1.0000],
    [50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485, 1.0000],
    [50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669],
    [50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000, 2.3669],
    [50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792],
    [50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010, 7.1792],
    [50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195],
    [50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012, 7.2195],
    [50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045],
    [50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900, 4.8045],
    [50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461],
    [50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065],
    [50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492],
    [50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977],
    [50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030],
    [50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535],
    [50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000],
    [50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000, 1.0000],
    [50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757, 1.0000],
    [50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350, 1.0000],
    [60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644],
    [63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630],
    [61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731],
    [35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645],
    [22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373],
    [36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146],
    [90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441],
    [90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381],
    [6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377],
    [2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082],
])

SKIMAGE_SSIM = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny tensors: threads only add contention on the shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A smooth colour image and a noisy, shifted copy: float64 (24, 29, 3) in [0, 1]."""
    y, x = np.mgrid[0:24, 0:29]
    a = np.stack([0.5 + 0.4 * np.sin(x / 5), 0.5 + 0.4 * np.cos(y / 4), (x + y) / 55], axis=2)
    b = np.clip(0.9 * a + 0.05 + rng.normal(0, 0.08, a.shape), 0, 1)
    return a, b


def to_torch(img: np.ndarray) -> torch.Tensor:
    """(H, W, C) numpy -> (1, C, H, W) torch."""
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(img, -1, 0)))[None]


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) torch -> (H, W, C) numpy."""
    return np.moveaxis(t[0].detach().numpy(), 0, -1)


# --- numpy metrics vs oracles --------------------------------------------------------------------

def test_mse_psnr_match_skimage(pair) -> None:
    a, b = pair
    assert_allclose(metrics.mse(a, b), skimage.metrics.mean_squared_error(a, b))
    assert_allclose(metrics.psnr(a, b), skimage.metrics.peak_signal_noise_ratio(a, b, data_range=1))
    assert_allclose(metrics.psnr(2 * a, 2 * b, data_range=2.0), metrics.psnr(a, b))
    assert metrics.psnr(a, a) == math.inf
    per_channel = metrics.psnr_per_channel(a, b)
    assert per_channel.shape == (3,)
    for c in range(3):
        assert_allclose(per_channel[c], skimage.metrics.peak_signal_noise_ratio(a[..., c], b[..., c],
                                                                                 data_range=1))
    assert metrics.psnr_per_channel(a[..., 0], b[..., 0]).shape == (1,)
    assert_allclose(metrics.psnr(np.zeros((4, 4)), np.full((4, 4), 0.1)), 20.0)


def test_ssim_matches_skimage(pair) -> None:
    a, b = pair
    expected = skimage.metrics.structural_similarity(a, b, channel_axis=-1, **SKIMAGE_SSIM)
    assert abs(metrics.ssim(a, b) - expected) < 1e-10
    gray_ssim, full_map = skimage.metrics.structural_similarity(a[..., 1], b[..., 1], full=True,
                                                                **SKIMAGE_SSIM)
    assert_allclose(metrics.ssim_map(a[..., 1], b[..., 1]), full_map, atol=1e-10)
    assert abs(metrics.ssim(a[..., 1], b[..., 1]) - gray_ssim) < 1e-10
    valid = metrics.ssim_map(a[..., 1], b[..., 1], padding="valid")
    assert valid.shape == (24 - 10, 29 - 10)
    assert_allclose(valid, full_map[5:-5, 5:-5], atol=1e-10)
    # float32 inputs and data_range = 255
    assert abs(metrics.ssim((255 * a).astype(np.float32), (255 * b).astype(np.float32), data_range=255.0)
               - expected) < 1e-4


def test_ssim_identical_and_inverted(pair) -> None:
    a, _ = pair
    assert metrics.ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert metrics.ssim(a, 1 - a) < 0


def test_ssim_components_product_and_ranges(pair) -> None:
    a, b = pair
    for padding in ("same", "valid"):
        lum, con, struct = metrics.ssim_components(a[..., 0], b[..., 0], padding=padding)
        expected = metrics.ssim_map(a[..., 0], b[..., 0], padding=padding)
        assert_allclose(lum * con * struct, expected, atol=1e-12)
        assert (lum > 0).all() and (lum <= 1 + 1e-12).all() and (con <= 1 + 1e-12).all()
        assert (np.abs(struct) <= 1 + 1e-9).all()
    # a pure brightness change affects only luminance, a contrast change only contrast
    lum, con, struct = metrics.ssim_components(a[..., 0], a[..., 0] * 0.5 + 0.25)
    assert (lum < 1).any() and (con < 1).any()
    assert_allclose(struct, 1.0, atol=1e-9)
    lum, con, struct = metrics.ssim_components(a[..., 0], a[..., 0] + 0.1)
    assert_allclose(con, 1.0, atol=1e-9)
    assert_allclose(struct, 1.0, atol=1e-9)
    assert (lum < 1).all()


def test_ciede2000_sharma_pairs() -> None:
    lab1, lab2, expected = SHARMA_PAIRS[:, :3], SHARMA_PAIRS[:, 3:6], SHARMA_PAIRS[:, 6]
    assert_allclose(metrics.ciede2000(lab1, lab2), expected, atol=5e-5)
    assert_allclose(metrics.ciede2000(lab2, lab1), expected, atol=5e-5)   # symmetric
    assert_allclose(metrics.ciede2000(lab1, lab1), 0.0, atol=1e-12)


def test_ciede2000_matches_skimage(pair) -> None:
    a, b = pair
    lab_a, lab_b = rgb_to_lab(a), rgb_to_lab(b)
    got = metrics.ciede2000(lab_a, lab_b)
    assert got.shape == a.shape[:2]
    assert_allclose(got, skimage.color.deltaE_ciede2000(lab_a, lab_b), atol=1e-9)
    assert_allclose(metrics.mean_ciede2000(a, b), got.mean())
    assert metrics.mean_ciede2000(a, a) == 0.0


def test_colorfulness() -> None:
    gray = np.repeat(np.linspace(0, 1, 60).reshape(6, 10, 1), 3, axis=2)
    assert metrics.colorfulness(gray) == 0.0
    # hand-computed: half pure red (rg = 255, yb = 127.5), half gray (rg = yb = 0)
    img = np.full((4, 6, 3), 0.5)
    img[:2] = [1.0, 0.0, 0.0]
    assert_allclose(metrics.colorfulness(img), 1.3 * math.hypot(127.5, 63.75))
    uniform_red = np.zeros((3, 3, 3))
    uniform_red[..., 0] = 1
    assert_allclose(metrics.colorfulness(uniform_red), 0.3 * math.hypot(255, 127.5))


def test_pearson_matches_scipy(rng: np.random.Generator) -> None:
    x = rng.random((7, 9))
    y = 0.5 * x + rng.normal(0, 0.2, x.shape)
    assert_allclose(metrics.pearson(x, y), scipy.stats.pearsonr(x.ravel(), y.ravel())[0], atol=1e-12)
    assert metrics.pearson(x, 3 * x + 1) == pytest.approx(1.0)
    assert metrics.pearson(x, -x) == pytest.approx(-1.0)
    assert math.isnan(metrics.pearson(x, np.ones_like(x)))


def test_docstring_examples() -> None:
    from tinct import metrics_torch
    numpy_side, torch_side = doctest.testmod(metrics), doctest.testmod(metrics_torch)
    assert torch_side.attempted > 0
    assert numpy_side.failed == 0 and torch_side.failed == 0


def test_importing_tinct_metrics_does_not_import_torch() -> None:
    import subprocess
    import sys
    code = "import sys, tinct.metrics; assert 'torch' not in sys.modules; tinct.metrics.ssim_torch"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- torch == numpy ------------------------------------------------------------------------------

@pytest.mark.parametrize("padding", ["same", "valid"])
def test_ssim_torch_equals_numpy(pair, padding: str) -> None:
    a, b = pair
    ta, tb = to_torch(a), to_torch(b)
    assert_allclose(to_numpy(metrics.ssim_map_torch(ta, tb, padding=padding)),
                    metrics.ssim_map(a, b, padding=padding), atol=1e-10)
    torch_lcs = metrics.ssim_components_torch(ta[:, :1], tb[:, :1], padding=padding)
    numpy_lcs = metrics.ssim_components(a[..., 0], b[..., 0], padding=padding)
    for t, n in zip(torch_lcs, numpy_lcs, strict=True):
        assert_allclose(t[0, 0].numpy(), n, atol=1e-10)
    assert_allclose(float(metrics.ssim_torch(ta, tb)), metrics.ssim(a, b), atol=1e-10)


def test_ssim_same_padding_small_image(rng: np.random.Generator) -> None:
    # images smaller than the window: the symmetric padding wraps several times, as in scipy
    a, b = rng.random((4, 6)), rng.random((4, 6))
    got = metrics.ssim_map_torch(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None])
    assert_allclose(got[0, 0].numpy(), metrics.ssim_map(a, b), atol=1e-10)


def test_torch_batch_and_reductions(pair) -> None:
    a, b = pair
    x = torch.cat([to_torch(a), to_torch(b)])
    y = torch.cat([to_torch(b), to_torch(b)])
    per_image = metrics.ssim_torch(x, y, reduction="none")
    assert per_image.shape == (2,)
    assert_allclose(per_image[0].item(), metrics.ssim(a, b), atol=1e-10)
    assert per_image[1].item() == pytest.approx(1.0)
    assert metrics.ssim_torch(x, y).item() == pytest.approx(per_image.mean().item())
    assert_allclose(metrics.mse_torch(x, y, reduction="none").numpy(), [metrics.mse(a, b), 0.0])
    assert metrics.mse_torch(x, y).item() == pytest.approx(metrics.mse(a, b) / 2)
    psnr = metrics.psnr_torch(x, y, reduction="none")
    assert_allclose(psnr[0].item(), metrics.psnr(a, b))
    assert math.isinf(psnr[1].item())
    lum, con, struct = metrics.ssim_components_torch(x, y, padding="valid")
    assert lum.shape == con.shape == struct.shape == (2, 3, 14, 19)
    assert torch.allclose(lum * con * struct, metrics.ssim_map_torch(x, y, padding="valid"))


def test_ssim_torch_float32_identical() -> None:
    x = torch.rand(2, 3, 16, 16)
    assert metrics.ssim_torch(x, x).item() == pytest.approx(1.0, abs=1e-6)
    assert metrics.ssim_torch(x, x).dtype == torch.float32


# --- gradients -----------------------------------------------------------------------------------

def _small(seed: int, shape=(1, 2, 12, 13)) -> torch.Tensor:
    return torch.rand(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_gradcheck_ssim(padding: str) -> None:
    x, y = _small(0).requires_grad_(True), _small(1)
    assert torch.autograd.gradcheck(lambda t: metrics.ssim_torch(t, y, padding=padding), (x,))
    # three full-size maps: check random projections of the Jacobian (fast mode)
    assert torch.autograd.gradcheck(lambda t: metrics.ssim_components_torch(t, y, padding=padding), (x,),
                                    fast_mode=True)
    assert torch.autograd.gradcheck(lambda t: metrics.ssim_map_torch(t, y, padding=padding), (x,),
                                    fast_mode=True)


def test_gradcheck_psnr_mse() -> None:
    x, y = _small(0, (2, 1, 4, 5)).requires_grad_(True), _small(1, (2, 1, 4, 5))
    assert torch.autograd.gradcheck(lambda t: metrics.psnr_torch(t, y), (x,))
    assert torch.autograd.gradcheck(lambda t: metrics.mse_torch(t, y, reduction="none"), (x,))


def test_components_gradient_finite_on_flat_image() -> None:
    x = torch.full((1, 1, 12, 12), 0.5, dtype=torch.float64, requires_grad=True)
    y = _small(2, (1, 1, 12, 12))
    lum, con, struct = metrics.ssim_components_torch(x, y)
    (lum.sum() + con.sum() + struct.sum()).backward()
    assert torch.isfinite(x.grad).all()


def test_one_minus_ssim_loss_falls() -> None:
    torch.manual_seed(0)
    target = _small(3, (1, 3, 16, 16)).float()
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    optimizer = torch.optim.Adam([x], lr=0.05)
    losses = []
    for _ in range(30):
        loss = 1 - metrics.ssim_torch(x, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# --- errors --------------------------------------------------------------------------------------

def test_numpy_errors() -> None:
    with pytest.raises(ValueError, match=r"\(4, 4\) vs \(4, 5\)"):
        metrics.psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"\(4,\)"):
        metrics.mse(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"11x11.*\(8, 20\)"):
        metrics.ssim(np.zeros((8, 20)), np.zeros((8, 20)))
    with pytest.raises(ValueError, match="padding"):
        metrics.ssim_map(np.zeros((12, 12)), np.zeros((12, 12)), padding="full")
    with pytest.raises(ValueError, match=r"\(4, 4, 2\)"):
        metrics.ciede2000(np.zeros((4, 4, 2)), np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        metrics.colorfulness(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        metrics.mean_ciede2000(np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="3 and 4"):
        metrics.pearson(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match="uint8"):
        metrics.psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        metrics.colorfulness(np.zeros((4, 4, 3), np.uint8))


def test_torch_errors() -> None:
    with pytest.raises(ValueError, match=r"\(3, 12, 12\)"):
        metrics.ssim_torch(torch.zeros(3, 12, 12), torch.zeros(3, 12, 12))
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr_torch(torch.zeros(1, 3, 12, 12), torch.zeros(1, 1, 12, 12))
    with pytest.raises(ValueError, match=r"11x11"):
        metrics.ssim_torch(torch.zeros(1, 1, 12, 10), torch.zeros(1, 1, 12, 10))
    with pytest.raises(ValueError, match="reduction"):
        metrics.mse_torch(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), reduction="sum")
    with pytest.raises(TypeError):
        metrics.mse_torch(np.zeros((1, 1, 2, 2)), torch.zeros(1, 1, 2, 2))
