"""Frame pairs for training temporally coherent video colorization (``tcvc``).

A training sample is a *current* frame (its luma is the input, its colours the target) and the
*previous* colour frame. Two sources, mixed by ``video_share``:

- **real videos**: frames ``t - gap`` and ``t`` of a sequence (DAVIS; ``gap`` 1 or 2), the same crop
  window in both (the scene's own motion), random scale, flips and time reversal;
- **pseudo-videos** from photos: two crops of one photo whose window moves by a random translation
  of up to ``max_shift`` crop pixels and zooms by up to ``max_zoom`` (:func:`pseudo_pair`), the
  motion of a camera panning over a still scene.

What the generator is shown as the previous frame (Thasarathan et al.: the true previous colour
frame, or a blank one, drawn by a Bernoulli variable) is decided per sample by
:class:`FramePairBatches` with these shares: blank (zeros, mask 0), the true previous frame, a
*perturbed* true previous frame (hue rotated, saturation scaled, chroma blurred:
:func:`perturb_chroma`), or *self-generated* (flag ``self``: the trainer replaces it by the
generator's own output on the previous luma). Non-blank previous frames get random blank
rectangles (mask 0 there) with probability ``holes``, like pixels that a warp could not fill.
All of this fights exposure bias: at inference the previous frame is the model's own output.

**Clips** (:class:`ClipBatches`, ``tinct train tcvc --unroll K``): ``K`` consecutive frames of a
video (:func:`video_clip`) or of a camera moving at a constant velocity over a photo
(:func:`pseudo_clip`), for training through the inference loop itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from tinct.color import compose_luma_chroma, rgb_to_luma, rgb_to_uv
from tinct.errors import TinctError

DAVIS = "../shared/data/video/davis2016"
PHOTOS = "../shared/data/photos/extra_train"
TRAIN_SEQUENCES = ("blackswan", "bmx-trees", "car-roundabout", "cows")
EVAL_SEQUENCES = ("camel", "dog")


@dataclass(frozen=True)
class FramePair:
    """Two crops: ``prev`` and ``cur`` uint8 ``(S, S, 3)``; ``shift`` ``(dx, dy)`` in crop pixels such
    that ``cur[y, x] = prev[y + dy, x + dx]`` (at ``zoom`` 1); ``zoom`` = prev window / cur window."""

    prev: np.ndarray
    cur: np.ndarray
    shift: tuple[float, float]
    zoom: float


def _window(image: np.ndarray, centre: np.ndarray, side: float, size: int) -> np.ndarray:
    """The square window of ``side`` source pixels around ``centre`` (x, y), resampled to ``size``."""
    k = size / side
    origin = centre - side / 2
    m = np.array([[k, 0.0, -k * origin[0]], [0.0, k, -k * origin[1]]], np.float64)
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def pseudo_pair(photo: np.ndarray, rng: np.random.Generator, *, size: int, max_shift: float = 8.0,
                max_zoom: float = 0.05, scale: tuple[float, float] = (0.55, 0.9)) -> FramePair:
    """Two consecutive frames of a camera moving over a photo.

    Args:
        photo: uint8 ``(H, W, 3)`` RGB.
        rng: the random source.
        size: the crops' side ``S`` in pixels.
        max_shift: the window moves by up to this many crop pixels in x and in y (uniform).
        max_zoom: the window's side changes by a factor in ``1 +- max_zoom``.
        scale: the previous window's side as a share of the photo's short side.

    Returns:
        A :class:`FramePair`; windows are kept inside the photo (the shift is then what was possible).
    """
    h, w = photo.shape[:2]
    side0 = rng.uniform(*scale) * min(h, w)
    zoom = 1.0 + rng.uniform(-max_zoom, max_zoom)
    side1 = side0 / zoom
    k0 = size / side0
    move = rng.uniform(-max_shift, max_shift, 2) / k0  # in source pixels
    half = max(side0, side1) / 2
    low = np.array([half, half]) + np.maximum(-move, 0)
    high = np.array([w - half, h - half]) - np.maximum(move, 0)
    low, high = np.minimum(low, high), np.maximum(low, high)
    c0 = rng.uniform(low, high)
    c1 = np.clip(c0 + move, half, [w - half, h - half])
    shift = (c1 - c0) * k0
    return FramePair(_window(photo, c0, side0, size), _window(photo, c1, side1, size),
                     (float(shift[0]), float(shift[1])), float(zoom))


def video_pair(frames: list[np.ndarray], rng: np.random.Generator, *, size: int, max_gap: int = 2,
               scale: tuple[float, float] = (0.5, 0.9)) -> FramePair:
    """Frames ``t - gap`` and ``t`` of a sequence through one random square window (its side a share
    ``scale`` of the short side), in random time order (``shift`` is unknown: NaN)."""
    gap = int(rng.integers(1, max_gap + 1))
    t = int(rng.integers(gap, len(frames)))
    a, b = (frames[t - gap], frames[t]) if rng.random() < 0.5 else (frames[t], frames[t - gap])
    h, w = a.shape[:2]
    side = rng.uniform(*scale) * min(h, w)
    centre = rng.uniform([side / 2, side / 2], [w - side / 2, h - side / 2])
    return FramePair(_window(a, centre, side, size), _window(b, centre, side, size), (np.nan, np.nan), 1.0)


def video_clip(frames: list[np.ndarray], rng: np.random.Generator, *, size: int, length: int,
               max_gap: int = 2, scale: tuple[float, float] = (0.5, 0.9)) -> list[np.ndarray]:
    """``length`` frames ``t, t + gap, ...`` of a sequence (``gap`` 1..``max_gap``, shortened when the
    sequence is short) through one random square window, forwards or backwards in time."""
    gap = int(rng.integers(1, max_gap + 1))
    gap = max(1, min(gap, (len(frames) - 1) // max(1, length - 1)))
    span = gap * (length - 1)
    if span >= len(frames):
        raise TinctError(f"tcvc: a clip of {length} frames needs a sequence of at least {length} frames")
    t = int(rng.integers(0, len(frames) - span))
    picked = [frames[t + i * gap] for i in range(length)]
    if rng.random() < 0.5:
        picked.reverse()
    h, w = picked[0].shape[:2]
    side = rng.uniform(*scale) * min(h, w)
    centre = rng.uniform([side / 2, side / 2], [w - side / 2, h - side / 2])
    return [_window(f, centre, side, size) for f in picked]


def pseudo_clip(photo: np.ndarray, rng: np.random.Generator, *, size: int, length: int,
                max_shift: float = 8.0, max_zoom: float = 0.05,
                scale: tuple[float, float] = (0.55, 0.9)) -> list[np.ndarray]:
    """``length`` frames of a camera moving at a constant velocity over a photo: each frame the window
    moves by the same random translation (up to ``max_shift`` crop pixels in x and y) and zooms by the
    same factor in ``1 +- max_zoom``; the windows stay inside the photo (the motion is clipped there).
    ``photo`` uint8 ``(H, W, 3)`` -> ``length`` uint8 ``(size, size, 3)`` crops."""
    h, w = photo.shape[:2]
    side0 = rng.uniform(*scale) * min(h, w)
    zoom = 1.0 + rng.uniform(-max_zoom, max_zoom)
    sides = np.minimum(side0 / zoom ** np.arange(length), min(h, w))
    move = rng.uniform(-max_shift, max_shift, 2) * side0 / size  # source pixels per frame
    half = sides.max() / 2
    total = move * (length - 1)
    low = np.array([half, half]) + np.maximum(-total, 0)
    high = np.array([w - half, h - half]) - np.maximum(total, 0)
    c0 = rng.uniform(np.minimum(low, high), np.maximum(low, high))
    centres = [np.clip(c0 + i * move, half, [w - half, h - half]) for i in range(length)]
    return [_window(photo, c, side, size) for c, side in zip(centres, sides, strict=True)]


def perturb_chroma(rgb: np.ndarray, rng: np.random.Generator, *, hue_deg: float = 25.0,
                   saturation: tuple[float, float] = (0.6, 1.3), blur: float = 2.0) -> np.ndarray:
    """A colour frame with wrong-ish colours and its own luma: the YUV chroma rotated by up to
    ``hue_deg``, scaled by a factor in ``saturation``, blurred by a Gaussian of sigma up to ``blur``
    px. ``rgb`` float32 ``(S, S, 3)`` in [0, 1] -> the same shape and range."""
    uv = rgb_to_uv(rgb)
    angle = np.radians(rng.uniform(-hue_deg, hue_deg))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    uv = (uv @ rot.T) * np.float32(rng.uniform(*saturation))
    sigma = rng.uniform(0.0, blur)
    if sigma > 0.3:
        uv = cv2.GaussianBlur(uv, (0, 0), sigma)
    return compose_luma_chroma(rgb_to_luma(rgb), uv)


def _holes(size: int, rng: np.random.Generator, count: int = 3, largest: float = 0.5) -> np.ndarray:
    """float32 ``(S, S)`` mask: 1 with up to ``count`` random zero rectangles (sides <= ``largest`` S)."""
    mask = np.ones((size, size), np.float32)
    for _ in range(int(rng.integers(1, count + 1))):
        hh, ww = (rng.uniform(0.1, largest, 2) * size).astype(int)
        y, x = int(rng.integers(0, size - hh + 1)), int(rng.integers(0, size - ww + 1))
        mask[y:y + hh, x:x + ww] = 0.0
    return mask


@dataclass(frozen=True)
class PrevShares:
    """Shares of what the previous frame is (the rest: the true previous frame) and of holes."""

    blank: float = 0.25
    perturbed: float = 0.15
    self_generated: float = 0.2
    holes: float = 0.3


class FramePairBatches:
    """``batches(start)`` for :func:`tinct.train.fit`: endless batches of float32 tensors in [0, 1]

    ``gray`` ``(B, 1, S, S)`` (the current luma), ``rgb`` ``(B, 3, S, S)`` (its colours), ``prev``
    ``(B, 3, S, S)`` (the previous frame shown: zeros when blank), ``mask`` ``(B, 1, S, S)`` (1 where
    ``prev`` is given), ``prev_gray`` ``(B, 1, S, S)`` and ``self`` ``(B,)`` bool (replace ``prev`` by
    the generator's output on ``prev_gray``), reseeded from ``seed`` and the start step."""

    def __init__(self, videos: list[list[np.ndarray]], photos: list[np.ndarray], *, size: int,
                 batch_size: int, seed: int, video_share: float = 0.5, max_shift: float = 8.0,
                 max_zoom: float = 0.05, shares: PrevShares | None = None) -> None:
        if not videos and not photos:
            raise TinctError("tcvc: no training videos or photos")
        self.videos, self.photos = [v for v in videos if len(v) >= 2], photos
        self.video_share = video_share if self.photos else 1.0
        self.video_share = self.video_share if self.videos else 0.0
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.max_shift, self.max_zoom = max_shift, max_zoom
        self.shares = shares or PrevShares()

    def pair(self, rng: np.random.Generator) -> FramePair:
        if rng.random() < self.video_share:
            frames = self.videos[int(rng.integers(len(self.videos)))]
            pair = video_pair(frames, rng, size=self.size)
        else:
            photo = self.photos[int(rng.integers(len(self.photos)))]
            pair = pseudo_pair(photo, rng, size=self.size, max_shift=self.max_shift, max_zoom=self.max_zoom)
        if rng.random() < 0.5:
            flipped = (-pair.shift[0], pair.shift[1])
            return FramePair(pair.prev[:, ::-1], pair.cur[:, ::-1], flipped, pair.zoom)
        return pair

    def sample(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One sample: the arrays of a batch item, channel-last."""
        pair, s = self.pair(rng), self.shares
        prev = pair.prev.astype(np.float32) / 255.0
        cur = pair.cur.astype(np.float32) / 255.0
        prev_gray = rgb_to_luma(prev).astype(np.float32)
        draw = rng.random()
        mask = np.ones(prev.shape[:2], np.float32)
        self_generated = False
        if draw < s.blank:
            mask[:] = 0.0
        else:
            if draw < s.blank + s.perturbed:
                prev = perturb_chroma(prev, rng)
            elif draw < s.blank + s.perturbed + s.self_generated:
                self_generated = True
            if rng.random() < s.holes:
                mask = _holes(self.size, rng)
        return {"gray": rgb_to_luma(cur).astype(np.float32)[..., None], "rgb": cur,
                "prev": prev * mask[..., None], "mask": mask[..., None], "prev_gray": prev_gray[..., None],
                "self": np.bool_(self_generated)}

    def __call__(self, start: int) -> Iterator[dict[str, torch.Tensor]]:
        rng = np.random.default_rng(self.seed * 1_000_003 + start)
        while True:
            items = [self.sample(rng) for _ in range(self.batch_size)]
            batch = {}
            for key in items[0]:
                stacked = np.stack([item[key] for item in items])
                if stacked.ndim >= 4:  # channel-last images -> (..., C, S, S)
                    stacked = np.ascontiguousarray(np.moveaxis(stacked, -1, -3), np.float32)
                batch[key] = torch.from_numpy(stacked)
            yield batch


class ClipBatches(FramePairBatches):
    """Batches of clips for training through the inference loop (backpropagation through time):
    ``gray`` ``(B, K, 1, S, S)``, ``rgb`` ``(B, K, 3, S, S)`` float32 in [0, 1] (K = ``length``
    consecutive frames of a video or a pseudo-video) and ``keyframe`` ``(B,)`` bool (frame 0 is given
    in its true colours, as a user's keyframe, with probability ``p_keyframe``; else it is coloured
    from a blank previous frame). Reseeded from ``seed`` and the start step, like the pairs."""

    def __init__(self, videos: list[list[np.ndarray]], photos: list[np.ndarray], *, length: int,
                 p_keyframe: float = 0.2, **kwargs: object) -> None:
        super().__init__([v for v in videos if len(v) >= length], photos, **kwargs)
        if length < 2:
            raise TinctError(f"tcvc: a training clip needs at least 2 frames, got {length}")
        self.length, self.p_keyframe = length, p_keyframe

    def sample(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        if rng.random() < self.video_share:
            frames = self.videos[int(rng.integers(len(self.videos)))]
            clip = video_clip(frames, rng, size=self.size, length=self.length)
        else:
            photo = self.photos[int(rng.integers(len(self.photos)))]
            clip = pseudo_clip(photo, rng, size=self.size, length=self.length, max_shift=self.max_shift,
                               max_zoom=self.max_zoom)
        rgb = np.stack(clip).astype(np.float32) / 255.0
        if rng.random() < 0.5:
            rgb = rgb[:, :, ::-1]
        return {"gray": rgb_to_luma(rgb).astype(np.float32)[..., None], "rgb": rgb,
                "keyframe": np.bool_(rng.random() < self.p_keyframe)}
