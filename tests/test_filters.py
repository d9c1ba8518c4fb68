"""tinct.filters: brute-force oracles, constants, edge preservation, shapes and errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter, uniform_filter

from tinct import filters

FILTERS = {
    "joint_bilateral": lambda s, g: filters.joint_bilateral(s, g, sigma_space=3, sigma_color=0.1),
    "guided_filter": lambda s, g: filters.guided_filter(s, g, radius=4, eps=1e-3),
    "domain_transform_RF": lambda s, g: filters.domain_transform(s, g, sigma_space=8, sigma_color=0.1),
    "domain_transform_NC": lambda s, g: filters.domain_transform(s, g, sigma_space=8, sigma_color=0.1,
                                                                 mode="NC"),
    "domain_transform_IC": lambda s, g: filters.domain_transform(s, g, sigma_space=8, sigma_color=0.1,
                                                                 mode="IC"),
}


def brute_force_joint_bilateral(src: np.ndarray, guide: np.ndarray, sigma_space: float,
                                sigma_color: float) -> np.ndarray:
    """Direct float64 sum over OpenCV's circular window with reflect-101 borders."""
    radius = filters.bilateral_radius(sigma_space)
    height, width = guide.shape
    padded_src = np.pad(src.astype(np.float64), ((radius, radius), (radius, radius), (0, 0)), mode="reflect")
    padded_guide = np.pad(guide.astype(np.float64), radius, mode="reflect")
    total = np.zeros(src.shape, np.float64)
    weights = np.zeros(guide.shape, np.float64)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy * dy + dx * dx > radius * radius:
                continue
            shifted_guide = padded_guide[radius + dy:radius + dy + height, radius + dx:radius + dx + width]
            shifted_src = padded_src[radius + dy:radius + dy + height, radius + dx:radius + dx + width]
            weight = np.exp(-(dy * dy + dx * dx) / (2 * sigma_space**2)
                            - (shifted_guide - guide) ** 2 / (2 * sigma_color**2))
            total += weight[..., None] * shifted_src
            weights += weight
    return total / weights[..., None]


def brute_force_guided_filter(src: np.ndarray, guide: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al. 2010, Algorithm 1, in float64 (box means; borders differ, compare the interior)."""
    def box(x: np.ndarray) -> np.ndarray:
        return uniform_filter(x, size=2 * radius + 1, mode="reflect")

    guide = guide.astype(np.float64)
    out = np.empty(src.shape, np.float64)
    for channel in range(src.shape[2]):
        p = src[..., channel].astype(np.float64)
        mean_i, mean_p = box(guide), box(p)
        a = (box(guide * p) - mean_i * mean_p) / (box(guide * guide) - mean_i**2 + eps)
        b = mean_p - a * mean_i
        out[..., channel] = box(a) * guide + box(b)
    return out


@pytest.fixture
def textured_guide(rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[0:24, 0:32]
    return np.clip(0.3 + 0.4 * (x > 15) + 0.05 * np.sin(y / 3) + rng.normal(0, 0.03, (24, 32)), 0, 1)


@pytest.mark.parametrize("sigma_space,sigma_color", [(1.0, 0.1), (2.5, 0.05), (4.0, 0.3)])
def test_joint_bilateral_matches_brute_force(textured_guide: np.ndarray, rng: np.random.Generator,
                                             sigma_space: float, sigma_color: float) -> None:
    src = rng.normal(0, 0.2, (24, 32, 2)).astype(np.float32)
    ours = filters.joint_bilateral(src, textured_guide.astype(np.float32), sigma_space=sigma_space,
                                   sigma_color=sigma_color)
    expected = brute_force_joint_bilateral(src, textured_guide.astype(np.float32), sigma_space, sigma_color)
    # OpenCV reads the range weight from a 4096-bin table with linear interpolation
    np.testing.assert_allclose(ours, expected, atol=2e-4)


def test_guided_filter_matches_he_et_al_in_the_interior(textured_guide: np.ndarray,
                                                        rng: np.random.Generator) -> None:
    src = rng.random((24, 32, 3)).astype(np.float32)
    ours = filters.guided_filter(src, textured_guide.astype(np.float32), radius=2, eps=1e-2)
    expected = brute_force_guided_filter(src, textured_guide.astype(np.float32), 2, 1e-2)
    np.testing.assert_allclose(ours[4:-4, 4:-4], expected[4:-4, 4:-4], atol=1e-4)


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("constant_guide", [False, True])
def test_constant_image_stays_constant(name: str, constant_guide: bool, textured_guide: np.ndarray) -> None:
    guide = np.full((24, 32), 0.4) if constant_guide else textured_guide
    src = np.broadcast_to(np.array([0.3, -0.2, 5.0, 1.0], np.float32), (24, 32, 4))
    out = FILTERS[name](src, guide.astype(np.float32))
    np.testing.assert_allclose(out, src, atol=1e-4)


@pytest.mark.parametrize("name", FILTERS)
def test_smooths_noise_but_keeps_the_guide_edge(name: str, rng: np.random.Generator) -> None:
    height, width, edge = 40, 60, 30
    guide = np.where(np.arange(width) < edge, 0.2, 0.8)[None, :].repeat(height, 0).astype(np.float32)
    clean = np.where(np.arange(width) < edge, -0.3, 0.3)[None, :, None].repeat(height, 0)
    src = (clean + rng.normal(0, 0.05, (height, width, 1))).astype(np.float32)
    out = FILTERS[name](src, guide)[..., 0]
    flat = np.s_[:, 5:edge - 6]
    noise_before = np.std(src[..., 0][flat] - clean[..., 0][flat])
    noise_after = np.std(out[flat] - clean[..., 0][flat])
    assert noise_after < 0.25 * noise_before, (noise_before, noise_after)
    contrast = out[:, edge].mean() - out[:, edge - 1].mean()  # the two columns touching the step
    # interpolated convolution blurs the interpolated signal across the step a little (0.84 measured);
    # a Gaussian blur with the same noise reduction keeps only 0.2 of it
    kept = 0.8 if name == "domain_transform_IC" else 0.95
    assert contrast > kept * 0.6, contrast
    blurred = gaussian_filter(src[..., 0], 2)
    assert blurred[:, edge].mean() - blurred[:, edge - 1].mean() < 0.5 * 0.6  # the check has teeth


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_shapes_dtype_and_channel_independence(name: str, channels: int, textured_guide: np.ndarray,
                                               rng: np.random.Generator) -> None:
    src = rng.random((24, 32, channels))  # float64 in: float32 out
    guide = textured_guide
    out = FILTERS[name](src, guide)
    assert out.shape == (24, 32, channels) and out.dtype == np.float32
    for channel in range(channels):  # packing U, V into one 3-channel call changes nothing
        alone = FILTERS[name](src[..., channel], guide)
        assert alone.shape == (24, 32)
        np.testing.assert_allclose(out[..., channel], alone, atol=1e-6)


def test_validation_messages() -> None:
    guide = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match=r"\(8, 8, 5\)"):
        filters.guided_filter(np.zeros((8, 8, 5), np.float32), guide, radius=2, eps=1e-3)
    with pytest.raises(ValueError, match=r"\(8, 9\)"):
        filters.joint_bilateral(np.zeros((8, 8, 2), np.float32), np.zeros((8, 9), np.float32),
                                sigma_space=2, sigma_color=0.1)
    with pytest.raises(ValueError, match="float"):
        filters.domain_transform(np.zeros((8, 8, 2), np.uint8), guide, sigma_space=2, sigma_color=0.1)
    with pytest.raises(ValueError, match="NaN"):
        filters.joint_bilateral(np.zeros((8, 8)), np.full((8, 8), np.nan), sigma_space=2, sigma_color=0.1)
    with pytest.raises(ValueError, match="sigma_color"):
        filters.joint_bilateral(np.zeros((8, 8)), guide, sigma_space=2, sigma_color=0)
    with pytest.raises(ValueError, match="mode"):
        filters.domain_transform(np.zeros((8, 8)), guide, sigma_space=2, sigma_color=0.1, mode="XX")
    with pytest.raises(ValueError, match="eps"):
        filters.guided_filter(np.zeros((8, 8)), guide, radius=2, eps=-1)


def test_bilateral_radius_follows_opencv() -> None:
    assert [filters.bilateral_radius(s) for s in (0.1, 1, 2, 5, 10)] == [1, 2, 3, 8, 15]


@pytest.mark.parametrize("channels", [1, 3])
def test_upsample_guided_in_strips_equals_one_pass(channels: int) -> None:
    from tinct.filters import upsample_guided

    rng = np.random.default_rng(5)
    guide = rng.random((97, 61)).astype(np.float32)
    small = rng.random((33, 21, channels)).astype(np.float32)
    whole = upsample_guided(small, guide, rows=10_000, eps=1e-3)
    assert whole.shape == (97, 61, channels) and whole.dtype == np.float32
    np.testing.assert_allclose(upsample_guided(small, guide, rows=13, eps=1e-3), whole, atol=1e-5)
    flat = np.full((33, 21, channels), 0.25, np.float32)  # a constant image stays constant
    np.testing.assert_allclose(upsample_guided(flat, guide), 0.25, atol=1e-5)
    # a sharp edge of the guide comes back sharper than by bilinear upsampling of its reduced copy:
    # the jump across the edge's columns 29 | 30
    step = np.zeros((97, 61), np.float32)
    step[:, 30:] = 1.0
    reduced = np.repeat(cv2.resize(step, (21, 33), interpolation=cv2.INTER_AREA)[..., None], channels, 2)
    bilinear = cv2.resize(reduced, (61, 97), interpolation=cv2.INTER_LINEAR).reshape(97, 61, channels)
    guided = upsample_guided(reduced, step)
    def jump(x: np.ndarray) -> float:
        return float((x[:, 30] - x[:, 29]).mean())

    assert jump(guided) > 0.5 and jump(guided) > 2 * jump(bilinear)
