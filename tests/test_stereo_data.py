"""Stereo loaders, occlusion masks, synthetic dual-lens pairs, camera simulation, random warps."""

from __future__ import annotations

import numpy as np
import pytest

from tinct.data.dual_lens import (
    CameraResponse,
    layered_stereo_pair,
    random_mono_response,
    random_warp_field,
    simulate_color_camera,
    simulate_mono_camera,
    warp,
)
from tinct.data.stereo import occlusion_mask
from tinct.errors import TinctError
from tinct.testing import (
    MIDDLEBURY_2005_SCENES,
    load_middlebury2005,
    load_stereo_motorcycle,
    warp_right_to_left,
)


def _textures(rng: np.random.Generator, n: int = 3) -> list[np.ndarray]:
    # smooth random textures: bilinear interpolation is exact enough on them
    import cv2

    return [cv2.resize(rng.random((12, 16, 3)).astype(np.float32), (120, 90), interpolation=cv2.INTER_CUBIC)
            .clip(0, 1) for _ in range(n)]


def test_middlebury_loader(shared_data) -> None:
    pairs = load_middlebury2005(shared_data / "stereo" / "middlebury2005")
    assert [p.name for p in pairs] == list(MIDDLEBURY_2005_SCENES)
    for p in pairs:
        assert p.left.shape == p.right.shape and p.left.shape[2] == 3
        assert p.disp_left.shape == p.left.shape[:2]
        assert 40 < p.max_disparity < 90  # third-size Middlebury 2005
        occ = occlusion_mask(p.disp_left, p.disp_right)
        assert 0.02 < occ.mean() < 0.4
        # non-occluded pixels: the right view warped by the true disparity matches the left view
        warped = warp_right_to_left(p.right, p.disp_left)
        err = np.abs(warped - p.left).mean(axis=2)
        assert np.median(err[~occ]) < 0.03
        assert np.median(err[~occ]) < np.median(np.abs(p.right - p.left).mean(axis=2)[~occ]) / 2


def test_middlebury_missing_folder(tmp_path) -> None:
    with pytest.raises(TinctError, match="not found"):
        load_middlebury2005(tmp_path / "nope")
    with pytest.raises(TinctError, match="incomplete"):
        load_middlebury2005(tmp_path, scenes=("art",))


def test_stereo_motorcycle() -> None:
    p = load_stereo_motorcycle()
    assert p.left.shape == (500, 741, 3) and p.left.dtype == np.float32
    assert 0 <= p.left.min() and p.left.max() <= 1
    known = np.isfinite(p.disp_left)
    assert 0.8 < known.mean() < 1.0
    warped = warp_right_to_left(p.right, p.disp_left)
    err = np.abs(warped - p.left).mean(axis=2)[known]
    assert np.median(err) < 0.05


def test_occlusion_mask_oracle() -> None:
    # a foreground box at disparity 6 in front of a background at 2: background pixels just left of
    # the box (in the left view) are hidden in the right view
    h, w = 10, 40
    dl = np.full((h, w), 2.0, np.float32)
    dl[:, 20:30] = 6.0
    dr = np.full((h, w), 2.0, np.float32)
    dr[:, 14:24] = 6.0
    occ = occlusion_mask(dl, dr)
    assert occ[:, :2].all()  # leaves the image on the right view
    assert occ[:, 16:20].all()  # hidden behind the box
    assert not occ[:, 20:30].any() and not occ[:, 2:16].any() and not occ[:, 30:].any()
    dl[0, 5] = np.nan
    assert occlusion_mask(dl)[0, 5]


def test_layered_pair_geometry(rng: np.random.Generator) -> None:
    pair = layered_stereo_pair(_textures(rng), 64, 96, rng, max_disparity=16)
    assert pair.left.shape == pair.right.shape == (64, 96, 3)
    assert pair.disp_left.min() >= 0 and pair.disp_left.max() <= 16
    assert pair.occluded.any() and pair.occluded.mean() < 0.5
    warped = warp_right_to_left(pair.right, pair.disp_left)
    err = np.abs(warped - pair.left).mean(axis=2)
    assert np.median(err[~pair.occluded]) < 0.01
    assert err[pair.occluded].mean() > err[~pair.occluded].mean()


def test_camera_simulation(rng: np.random.Generator) -> None:
    rgb = _textures(rng, 1)[0][:64, :64]
    ident = simulate_mono_camera(rgb, CameraResponse(), rng)
    np.testing.assert_allclose(ident, rgb @ np.array([0.299, 0.587, 0.114], np.float32), atol=1e-6)
    resp = random_mono_response(rng)
    assert abs(sum(resp.weights) - 1) < 1e-6 and 0.8 <= resp.gain <= 1.2
    response = CameraResponse(gain=1.2, gamma=0.8, blur_sigma=1.0, noise_sigma=0.01)
    mono = simulate_mono_camera(rgb, response, rng)
    assert mono.shape == (64, 64) and 0 <= mono.min() and mono.max() <= 1
    assert np.abs(mono - ident).mean() > 0.02  # a different luminance response
    color = simulate_color_camera(rgb, rng)
    assert color.shape == rgb.shape and np.abs(color - rgb).mean() < 0.05


@pytest.mark.parametrize("seed_size", [1, 3, 5])
def test_random_warp_field(rng: np.random.Generator, seed_size: int) -> None:
    field = random_warp_field(50, 70, rng, seed_size=seed_size, variance=20.0)
    assert field.shape == (50, 70, 2) and field.dtype == np.float32
    assert field.std() > 0.5
    if seed_size == 1:
        assert np.ptp(field[..., 0]) == 0  # a 1x1 seed is a pure translation
    zero = np.zeros_like(field)
    img = _textures(rng, 1)[0][:50, :70]
    np.testing.assert_allclose(warp(img, zero), img, atol=1e-6)
    shift = zero.copy()
    shift[..., 0] = 3.0
    np.testing.assert_allclose(warp(img, shift)[:, :60], img[:, 3:63], atol=1e-5)
