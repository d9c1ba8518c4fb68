"""Synthetic monochrome + colour dual-lens data (for training Cycle-CNN / Dong et al. and the SSM).

- :func:`layered_stereo_pair`: a rectified pair rendered from textured layers (a slanted background
  plane and a few fronto-parallel foreground shapes cut from photos) at random disparities, so the
  right view has *real* occlusions (what the nearer layers hide), with exact disparities both ways.
- :func:`simulate_mono_camera` / :func:`simulate_color_camera`: the two cameras' different
  responses, so that I_G and R_C's luma differ as in real rigs (spectral weights, gain, gamma,
  blur, noise).
- :func:`random_warp_field` / :func:`warp`: smooth random deformations (seeds of 1x1 .. 5x5 with
  variance in {1, 5, 10, 20, 40}, bicubic up-sampling) for pre-training the structure-similarity
  network.

Geometry follows :mod:`tinct.data.stereo`: left ``(y, x)`` is right ``(y, x - d)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WARP_SEED_SIZES = (1, 2, 3, 4, 5)
WARP_VARIANCES = (1.0, 5.0, 10.0, 20.0, 40.0)


@dataclass
class SyntheticPair:
    """left/right: float32 ``(H, W, 3)`` RGB in [0, 1]; disp_left/disp_right: float32 ``(H, W)`` pixels;
    occluded: bool ``(H, W)`` left pixels hidden in (or outside) the right view."""

    left: np.ndarray
    right: np.ndarray
    disp_left: np.ndarray
    disp_right: np.ndarray
    occluded: np.ndarray


def _crop(texture: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``(h, w)`` float32 crop in [0, 1], the texture being resized up first if it is too small
    (``texture``: float32 in [0, 1] or uint8, the compact form of a large training set)."""
    th, tw = texture.shape[:2]
    if th < h or tw < w:
        f = max(h / th, w / tw) * 1.01
        size = (int(np.ceil(tw * f)), int(np.ceil(th * f)))
        texture = cv2.resize(texture, size, interpolation=cv2.INTER_LINEAR)
        th, tw = texture.shape[:2]
    y = int(rng.integers(0, th - h + 1))
    x = int(rng.integers(0, tw - w + 1))
    crop = texture[y:y + h, x:x + w]
    if crop.dtype == np.uint8:
        return crop.astype(np.float32) * np.float32(1 / 255)
    return np.ascontiguousarray(crop)


def _shape_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A random filled ellipse or polygon covering part of an ``(h, w)`` frame (float32 0/1)."""
    mask = np.zeros((h, w), np.uint8)
    cy, cx = rng.uniform(0.15, 0.85) * h, rng.uniform(0.1, 0.9) * w
    if rng.random() < 0.5:
        axes = (int(rng.uniform(0.08, 0.3) * w), int(rng.uniform(0.1, 0.4) * h))
        cv2.ellipse(mask, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    else:
        n = int(rng.integers(3, 8))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(0.1, 0.35, n) * min(h, w) * 1.3
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1)
    return mask.astype(np.float32)


def _shift_x(img: np.ndarray, shift: np.ndarray | float) -> np.ndarray:
    """``out(y, x) = img(y, x + shift(y[, x]))`` with linear interpolation, zero outside; ``shift`` is a
    number, one per row ``(H,)`` or one per pixel ``(H, W)``."""
    h, w = img.shape[:2]
    shift = np.asarray(shift, np.float32)
    shift = shift if shift.ndim == 2 else np.broadcast_to(shift.reshape(-1, 1), (h, 1))
    map_x = (np.arange(w, dtype=np.float32)[None, :] + shift).astype(np.float32)
    map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    return cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def layered_stereo_pair(textures: list[np.ndarray], height: int, width: int, rng: np.random.Generator, *,
                        max_disparity: float = 48.0, n_layers: tuple[int, int] = (1, 4),
                        slant_x: float = 0.0) -> SyntheticPair:
    """Render a rectified pair from textured layers.

    Args:
        textures: float32 ``(h, w, 3)`` RGB photos in [0, 1]; the background and each foreground
            layer take a random crop of a random one.
        height, width: output size.
        rng: random generator.
        max_disparity: largest disparity in pixels (foreground layers are nearer than the background).
        n_layers: inclusive range of the number of foreground layers.
        slant_x: the background plane also slants in x: its disparity changes by up to ``slant_x *
            max_disparity`` across the width (0: fronto-parallel rows, the original scenes).

    Returns:
        :class:`SyntheticPair`.
    """
    pad = int(np.ceil(max_disparity)) + 2
    # background: a plane slanted in y, disparity d(y) = a + b * y
    d_top, d_bottom = rng.uniform(0.0, 0.4 * max_disparity, 2)
    bg_disp = np.linspace(d_top, d_bottom, height, dtype=np.float32)
    bg = _crop(textures[int(rng.integers(len(textures)))], height, width + pad, rng)
    left = bg[:, :width].copy()
    if slant_x > 0:
        disp_right, disp_left = _slanted_background(bg_disp, width, max_disparity, slant_x, rng)
        right = _shift_x(bg[:, :width + pad], np.pad(disp_right, ((0, 0), (0, pad)), mode="edge"))[:, :width]
    else:
        right = _shift_x(bg, bg_disp)[:, :width]
        disp_left = np.repeat(bg_disp[:, None], width, axis=1)
        disp_right = disp_left.copy()
    count = int(rng.integers(n_layers[0], n_layers[1] + 1))
    layer_disps = np.sort(rng.uniform(0.4 * max_disparity, max_disparity, count))  # far to near
    for d in layer_disps:
        tex = _crop(textures[int(rng.integers(len(textures)))], height, width + pad, rng)
        mask = _shape_mask(height, width + pad, rng)
        m_l = mask[:, :width]
        tex_r = _shift_x(tex, float(d))[:, :width]
        m_r = _shift_x(mask, float(d))[:, :width]
        left = left * (1 - m_l[..., None]) + tex[:, :width] * m_l[..., None]
        right = right * (1 - m_r[..., None]) + tex_r * m_r[..., None]
        disp_left = np.where(m_l > 0.5, d, disp_left).astype(np.float32)
        disp_right = np.where(m_r > 0.5, d, disp_right).astype(np.float32)
    occluded = _occluded(disp_left, disp_right)
    return SyntheticPair(np.clip(left, 0, 1).astype(np.float32), np.clip(right, 0, 1).astype(np.float32),
                         disp_left, disp_right, occluded)


def _slanted_background(row_disp: np.ndarray, width: int, max_disparity: float, slant_x: float,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Right- and left-view disparities ``(H, W)`` of a plane ``d_r(y, x_r) = row_disp(y) + c x_r`` (in
    right-view columns), kept within ``[0, max_disparity]``; the left view sees ``x = x_r + d_r`` so its
    disparity is ``d_l(y, x) = (row_disp(y) + c x) / (1 + c)``."""
    c = float(rng.uniform(-1, 1)) * slant_x * max_disparity / width
    x = np.arange(width, dtype=np.float32)[None, :]
    row = row_disp[:, None]
    row = np.clip(row, max(0.0, -c * (width - 1)), max_disparity - max(0.0, c * (width - 1)))
    return (row + c * x).astype(np.float32), ((row + c * x) / (1 + c)).astype(np.float32)


def _occluded(disp_left: np.ndarray, disp_right: np.ndarray) -> np.ndarray:
    from tinct.data.stereo import occlusion_mask

    return occlusion_mask(disp_left, disp_right, tolerance=0.5)


@dataclass
class CameraResponse:
    """Parameters of a simulated camera (see :func:`simulate_mono_camera`)."""

    weights: tuple[float, float, float] = (0.299, 0.587, 0.114)
    gain: float = 1.0
    gamma: float = 1.0
    blur_sigma: float = 0.0
    noise_sigma: float = 0.0


def random_mono_response(rng: np.random.Generator) -> CameraResponse:
    """A random monochrome-camera response: spectral weights around BT.601's, gain 0.8..1.2,
    gamma 0.8..1.25, blur sigma 0..1, noise sigma 0..0.01 (mono sensors are the cleaner ones)."""
    w = np.array([0.299, 0.587, 0.114]) * rng.uniform(0.7, 1.3, 3)
    w = w / w.sum()
    return CameraResponse(tuple(float(v) for v in w), float(rng.uniform(0.8, 1.2)),
                          float(np.exp(rng.uniform(np.log(0.8), np.log(1.25)))),
                          float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.0, 0.01)))


def simulate_mono_camera(rgb: np.ndarray, response: CameraResponse, rng: np.random.Generator) -> np.ndarray:
    """Monochrome capture of a scene: ``clip(gain * (w . rgb) ** gamma)``, Gaussian blur, noise.

    Args:
        rgb: float32 ``(H, W, 3)`` in [0, 1].

    Returns:
        float32 ``(H, W)`` in [0, 1].
    """
    y = rgb @ np.asarray(response.weights, np.float32)
    y = np.clip(response.gain * np.power(np.clip(y, 0, 1), response.gamma), 0, 1).astype(np.float32)
    if response.blur_sigma > 0.05:
        y = cv2.GaussianBlur(y, (0, 0), response.blur_sigma)
    if response.noise_sigma > 0:
        y = y + rng.normal(0, response.noise_sigma, y.shape).astype(np.float32)
    return np.clip(y, 0, 1).astype(np.float32)


def simulate_color_camera(rgb: np.ndarray, rng: np.random.Generator, *, max_noise: float = 0.02,
                          max_blur: float = 0.8, max_gain: float = 0.0,
                          max_shift_y: float = 0.0) -> np.ndarray:
    """Colour capture: a little blur and more noise than the mono camera (Bayer filters lose light).

    ``max_gain``: per-channel gains in ``1 +- max_gain`` (the colour camera's own white balance);
    ``max_shift_y``: a vertical shift of up to this many pixels (imperfect rectification). Both 0 by
    default (then no random numbers are drawn for them).

    Returns float32 ``(H, W, 3)`` in [0, 1]."""
    out = rgb.astype(np.float32)
    if max_gain > 0:
        out = out * rng.uniform(1 - max_gain, 1 + max_gain, 3).astype(np.float32)
    if max_shift_y > 0:
        shift = np.float32([[1, 0, 0], [0, 1, rng.uniform(-max_shift_y, max_shift_y)]])
        out = cv2.warpAffine(out, shift, out.shape[1::-1], flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
    sigma = float(rng.uniform(0, max_blur))
    if sigma > 0.05:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    out = out + rng.normal(0, rng.uniform(0, max_noise), out.shape).astype(np.float32)
    return np.clip(out, 0, 1).astype(np.float32)


def random_warp_field(height: int, width: int, rng: np.random.Generator, *, seed_size: int | None = None,
                      variance: float | None = None) -> np.ndarray:
    """A smooth random displacement field: seeds ``N(0, variance)`` of size ``s x s`` (x and y),
    bicubically up-sampled to ``(height, width)``.

    Args:
        seed_size: 1..5 (random from :data:`WARP_SEED_SIZES` if None).
        variance: pixels^2 (random from :data:`WARP_VARIANCES` if None).

    Returns:
        float32 ``(height, width, 2)`` displacement (dx, dy) in pixels.
    """
    s = int(seed_size if seed_size is not None else rng.choice(WARP_SEED_SIZES))
    var = float(variance if variance is not None else rng.choice(WARP_VARIANCES))
    seeds = rng.normal(0.0, np.sqrt(var), (s, s, 2)).astype(np.float32)
    if s == 1:
        return np.broadcast_to(seeds, (height, width, 2)).astype(np.float32)
    return cv2.resize(seeds, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)


def warp(img: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``out(y, x) = img(y + dy, x + dx)`` (bilinear, borders replicated); ``img`` is (H, W) or (H, W, C)."""
    h, w = img.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(np.ascontiguousarray(img, np.float32), gx + field[..., 0], gy + field[..., 1],
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
