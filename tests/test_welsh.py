"""Welsh et al. 2002: pieces, self-reference reproduction, swatches, luma, errors."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from tinct.color import rgb_to_luma, rgb_to_yuv
from tinct.errors import TinctError
from tinct.methods.welsh import WelshColorizer
from tinct.methods.welsh.transfer import (
    jittered_samples,
    local_std,
    patch_projection,
    patches_at,
    remap_luminance,
)
from tinct.registry import load_method


def test_remap_luminance_matches_target_statistics(rng: np.random.Generator) -> None:
    ref, tgt = rng.normal(0.2, 0.3, 500), rng.normal(0.6, 0.1, 300)
    out = remap_luminance(ref, tgt)
    assert out.mean() == pytest.approx(tgt.mean()) and out.std() == pytest.approx(tgt.std())


def test_local_std_against_brute_force(rng: np.random.Generator) -> None:
    img = rng.random((12, 15))
    ours = local_std(img)
    assert ours[6, 7] == pytest.approx(img[4:9, 5:10].std(), rel=1e-9)


def test_jittered_samples_cover_the_grid(rng: np.random.Generator) -> None:
    ys, xs = jittered_samples(300, 400, 200, rng)
    assert 150 <= len(ys) <= 250
    assert ys.min() >= 0 and ys.max() < 300 and xs.max() < 400
    hist, _, _ = np.histogram2d(ys, xs, bins=[3, 4], range=[[0, 300], [0, 400]])
    assert hist.min() > 0.5 * hist.mean()                       # stratified, not clumped


def test_patch_projection_equals_explicit_patches(rng: np.random.Generator) -> None:
    img = rng.random((10, 11))
    basis = rng.normal(size=(3, 25))
    ys, xs = np.array([0, 5, 9]), np.array([0, 4, 10])
    np.testing.assert_allclose(patch_projection(img, basis)[ys, xs], patches_at(img, ys, xs) @ basis.T,
                               rtol=1e-4, atol=1e-5)


def test_own_reference_reproduces_the_photo() -> None:
    rgb = data.chelsea()[::2, ::2].astype(np.float32) / 255
    gray = rgb_to_luma(rgb)
    out = WelshColorizer().colorize(gray, reference=rgb)
    psnr = 10 * np.log10(1.0 / np.mean((out - rgb) ** 2))
    assert psnr > 25.0
    assert np.abs(rgb_to_luma(out.astype(np.float64)) - gray).max() < 1e-5


def test_two_textures_take_the_right_colours(rng: np.random.Generator) -> None:
    """Smooth dark region vs noisy bright region: each copies the matching reference colour."""
    h, w = 40, 80
    ref = np.zeros((h, w, 3), dtype=np.float32)
    ref[:, :40] = [0.1, 0.3, 0.1]                                 # dark green, flat
    ref[:, 40:] = np.clip(np.array([0.9, 0.6, 0.5]) + rng.normal(0, 0.05, (h, 40, 3)), 0, 1)
    gray = rgb_to_luma(ref[:, ::-1].copy())                       # mirrored layout
    out = load_method("welsh").colorize(gray, reference=ref)
    uv = rgb_to_yuv(out.astype(np.float64))[..., 1:]
    green = rgb_to_yuv(np.array([0.1, 0.3, 0.1]))[1:]
    assert np.abs(uv[:, 45:].mean(axis=(0, 1)) - green).max() < 0.02
    assert uv[:, 5:35, 1].mean() > 0.1                           # reddish V on the right texture


def test_swatch_mode(rng: np.random.Generator) -> None:
    h, w = 40, 80
    ref = np.zeros((h, w, 3), dtype=np.float32)
    ref[:, :40] = [0.2, 0.2, 0.6]                                 # blue
    ref[:, 40:] = [0.8, 0.5, 0.2]                                 # orange
    gray = np.where(np.arange(w) < 40, 0.3, 0.7)[None, :].repeat(h, 0).astype(np.float32)
    gray += rng.normal(0, 0.01, gray.shape).astype(np.float32)
    sw = [((0, 0, 10, 10), (0, 0, 10, 10)), ((0, 60, 10, 70), (0, 60, 10, 70))]
    out = WelshColorizer(swatches=sw).colorize(gray, reference=ref)
    uv = rgb_to_yuv(out.astype(np.float64))[..., 1:]
    assert uv[20:, :35, 0].mean() > 0.05                          # blue: U > 0 below the swatch
    assert uv[20:, 45:, 1].mean() > 0.05                          # orange: V > 0
    assert np.abs(rgb_to_luma(out.astype(np.float64)) - np.clip(gray, 0, 1)).max() < 1e-5


def test_errors(small_rgb: np.ndarray) -> None:
    gray = rgb_to_luma(small_rgb)
    with pytest.raises(TinctError, match="needs a colour reference"):
        WelshColorizer().colorize(gray)
    with pytest.raises(TinctError, match="swatch"):
        WelshColorizer(swatches=[((0, 0, 100, 100), (0, 0, 5, 5))]).colorize(gray, reference=small_rgb)
    with pytest.raises(TinctError, match="samples"):
        WelshColorizer(samples=0)


@pytest.mark.parametrize("rows", [7, 40])
def test_global_mode_in_strips_equals_the_whole_image_transfer(rows: int, monkeypatch) -> None:
    """Global mode runs in row strips (statistics, then the samples' features, then the target);
    the result is the whole-image transfer of the paper's pieces."""
    import tinct.methods.welsh as welsh
    from tinct.color import rgb_to_lab
    from tinct.methods.welsh.transfer import compose_lab, gray_luminance, transfer_global

    rgb = data.astronaut()[::4, ::3].astype(np.float32) / 255
    gray = rgb_to_luma(data.coffee()[::4, ::4].astype(np.float32) / 255).astype(np.float32)
    lum = gray_luminance(gray)
    ref_lab = rgb_to_lab(rgb.astype(np.float64))
    ab = transfer_global(lum, ref_lab[..., 0] / 100, ref_lab[..., 1:], samples=200,
                         rng=np.random.default_rng(0))
    whole = compose_lab(gray, lum, ab)
    monkeypatch.setattr(welsh, "STRIP_ROWS", rows)
    out = WelshColorizer().colorize(gray, reference=rgb)
    assert np.abs(out - whole).max() < 1e-5


def test_swatch_mode_refuses_large_swatches_up_front(monkeypatch) -> None:
    import tinct.methods.welsh as welsh

    monkeypatch.setattr(welsh, "SWATCH_MAX_PIXELS", 199)
    m = WelshColorizer(swatches=[[[0, 0, 10, 10], [0, 0, 10, 10]]])
    gray, ref = np.full((40, 80), 0.5, np.float32), np.full((40, 80, 3), 0.5, np.float32)
    with pytest.raises(TinctError, match=r"the swatches cover 0.0 MP of the two images; at most"):
        m.colorize(gray, reference=ref)
    monkeypatch.setattr(welsh, "SWATCH_MAX_PIXELS", 200)
    assert m.colorize(gray, reference=ref).shape == (40, 80, 3)


@pytest.mark.parametrize("rows", [6, 1000])
def test_swatch_mode_in_strips_equals_the_whole_array_transfer(rows: int, monkeypatch) -> None:
    """Swatch mode in row strips gives what step 1 + transfer_texture give on whole arrays."""
    import tinct.methods.welsh as welsh
    import tinct.methods.welsh.swatches as swatches
    from tinct.color import rgb_to_lab
    from tinct.methods.welsh.transfer import compose_lab, gray_luminance, transfer_global, transfer_texture

    rgb = data.astronaut()[::6, ::6].astype(np.float32) / 255
    gray = rgb_to_luma(data.coffee()[::6, ::6].astype(np.float32) / 255).astype(np.float32)
    pairs = [((5, 5, 40, 50), (10, 10, 50, 60)), ((30, 40, 60, 90), (40, 20, 70, 70))]  # overlapping
    monkeypatch.setattr(swatches, "TEXTURE_SOURCES", 500)  # fewer pixels than the swatches: sampled
    rng = np.random.default_rng(3)
    lum = gray_luminance(gray)
    ref_lab = rgb_to_lab(rgb.astype(np.float64))
    inside, ab = np.zeros(gray.shape, bool), np.zeros(gray.shape + (2,))
    for (gy0, gx0, gy1, gx1), (ry0, rx0, ry1, rx1) in pairs:
        ab[gy0:gy1, gx0:gx1] = transfer_global(lum[gy0:gy1, gx0:gx1], ref_lab[ry0:ry1, rx0:rx1, 0] / 100,
                                               ref_lab[ry0:ry1, rx0:rx1, 1:], samples=50, rng=rng)
        inside[gy0:gy1, gx0:gx1] = True
    ys, xs = np.nonzero(inside)
    pick = rng.choice(len(ys), 500, replace=False)
    out = transfer_texture(lum, ys[pick], xs[pick], ab[ys[pick], xs[pick]])
    out[inside] = ab[inside]
    whole = compose_lab(gray, lum, out)
    monkeypatch.setattr(welsh, "STRIP_ROWS", rows)
    m = WelshColorizer(swatches=[[list(g), list(r)] for g, r in pairs], seed=3)
    np.testing.assert_allclose(m.colorize(gray, reference=rgb), whole, atol=1e-5)
