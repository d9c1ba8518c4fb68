"""Line drawings from photos, drawing statistics and colour hints sampled from a true photo.

The human drawings of ``lineart/bsds500`` are unions of segmentation boundaries: long contours of
objects and regions, 1-2 px wide (median width 1.5 px, measured as dark area / skeleton length),
covering 3-10 % of the image (median 6 %), with no texture strokes. The synthetic drawings here
imitate that (numpy + OpenCV, no torch, so any method can import them):

- :func:`canny_drawing`: edge-preserving smoothing (bilateral), a Gaussian of sigma 1-3 (the
  survey's Thasarathan et al. use Canny after a Gaussian of sigma 1), Canny at a low threshold, then
  only the strongest long contours are kept until the dark share reaches a target (so texture
  specks go and region boundaries stay), optionally thickened to 2 px.
- :func:`xdog_drawing`: the extended difference of Gaussians of Winnemöller et al. 2012
  (:func:`xdog`), thresholded to the same target share through the same contour filter; its lines
  are softer and follow shading a little more.
- :func:`synthesize_drawing` picks one of them with random settings.

Drawings are float32 ``(H, W)`` in [0, 1]: 0 = ink, 1 = paper. :func:`sample_hints` gives random
point or patch hints (:class:`tinct.hints.Hints`) from the true photo, as a user's clicks would.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tinct.hints import Hints

MIN_EDGE = 40.0
"""Lowest Canny high threshold (3x3 Sobel magnitude of 0-255 luma: a step of about 10 levels)."""

__all__ = ["DrawingStyle", "canny_drawing", "drawing_stats", "looks_like_drawing", "random_style",
           "sample_hints", "synthesize_drawing", "xdog", "xdog_drawing"]


@dataclass(frozen=True)
class DrawingStyle:
    """Settings of one synthetic drawing.

    Attributes:
        kind: ``"canny"`` or ``"xdog"``.
        sigma: Gaussian blur (px) before the edge detector (XDoG: the smaller of its two Gaussians).
        target: the share of ink pixels to aim for, in (0, 1) (human drawings: 0.03-0.10).
        thickness: line width in px: 1, 1.5 (a diagonal 2-px dilation: doubles most lines but
            not those along its diagonal) or 2.
        bilateral: passes of bilateral smoothing first (flattens texture, keeps region edges).
    """

    kind: str = "canny"
    sigma: float = 2.0
    target: float = 0.06
    thickness: float = 1.0
    bilateral: int = 1


def _luma_u8(rgb: np.ndarray) -> np.ndarray:
    """float ``(H, W, 3)`` RGB in [0, 1] (or ``(H, W)``) -> uint8 ``(H, W)`` BT.601 luma."""
    rgb = np.asarray(rgb, np.float32)
    gray = rgb if rgb.ndim == 2 else rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.clip(gray * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _smooth(gray: np.ndarray, style: DrawingStyle) -> np.ndarray:
    for _ in range(style.bilateral):
        gray = cv2.bilateralFilter(gray, 7, 40, 5)
    return gray


def keep_strong_contours(edges: np.ndarray, strength: np.ndarray, target: float,
                         min_pixels: int = 12) -> np.ndarray:
    """The connected contours of a bool ``edges`` map ``(H, W)`` with the largest summed
    ``strength`` (``(H, W)`` float), kept strongest first until they cover ``target`` of the image;
    contours under ``min_pixels`` pixels are dropped. Returns bool ``(H, W)``."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(edges.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(edges, dtype=bool)
    score = np.bincount(labels.ravel(), weights=strength.ravel(), minlength=count)[1:]
    sizes = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(-score)
    budget = target * edges.size
    keep = np.zeros(count, bool)
    total = 0
    for k in order:
        if sizes[k] < min_pixels:
            continue
        if total >= budget:
            break
        keep[k + 1] = True
        total += sizes[k]
    return keep[labels]


def _skeleton(lines: np.ndarray) -> np.ndarray:
    """1-px centre lines of a bool ``(H, W)`` map (Zhang-Suen thinning)."""
    if hasattr(cv2, "ximgproc"):
        return cv2.ximgproc.thinning(lines.astype(np.uint8) * 255) > 0
    from skimage.morphology import skeletonize

    return skeletonize(lines)


def _finish(lines: np.ndarray, thickness: float) -> np.ndarray:
    """bool 1-px lines ``(H, W)`` -> float32 drawing (0 ink, 1 paper) with lines ``thickness`` px wide."""
    if thickness > 1:
        kernel = np.eye(2, dtype=np.uint8) if thickness < 2 else np.ones((2, 2), np.uint8)
        lines = cv2.dilate(lines.astype(np.uint8), kernel) > 0
    return np.where(lines, 0.0, 1.0).astype(np.float32)


def _thin_target(style: DrawingStyle) -> float:
    """The ink share to reach with 1-px lines so that the thickened drawing has about ``style.target``."""
    return style.target / (1.0 + 0.8 * (style.thickness - 1.0))


def canny_drawing(rgb: np.ndarray, style: DrawingStyle | None = None) -> np.ndarray:
    """A boundary drawing of a photo by Canny (see the module doc).

    Args:
        rgb: float ``(H, W, 3)`` RGB (or ``(H, W)`` gray) in [0, 1].
        style: the settings (``kind`` is ignored); defaults to :class:`DrawingStyle`'s.

    Returns:
        float32 ``(H, W)``: 0 on the lines, 1 elsewhere.
    """
    style = style or DrawingStyle()
    gray = _smooth(_luma_u8(rgb), style)
    blurred = cv2.GaussianBlur(gray, (0, 0), style.sigma)
    gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1)
    magnitude = np.hypot(gx, gy)
    high = max(MIN_EDGE, float(np.percentile(magnitude, 85)))  # no specks of noise in a flat crop
    edges = cv2.Canny(blurred, 0.4 * high, high, L2gradient=True) > 0
    return _finish(keep_strong_contours(edges, magnitude * edges, _thin_target(style)), style.thickness)


def xdog(gray: np.ndarray, sigma: float = 1.0, k: float = 1.6, tau: float = 0.99) -> np.ndarray:
    """The difference of Gaussians of XDoG (Winnemöller et al. 2012, eq. 3):
    ``G_sigma * I - tau * G_{k sigma} * I`` of float ``(H, W)`` gray in [0, 1]; float32 ``(H, W)``
    (about ``(1 - tau) I`` in flat areas, negative on the dark side of edges)."""
    gray = np.asarray(gray, np.float32)
    return cv2.GaussianBlur(gray, (0, 0), sigma) - tau * cv2.GaussianBlur(gray, (0, 0), k * sigma)


def xdog_drawing(rgb: np.ndarray, style: DrawingStyle | None = None) -> np.ndarray:
    """A drawing by XDoG: the most negative DoG responses (dark sides of edges), thresholded at the
    quantile that gives about twice the target share, thinned to centre lines, then the strongest
    contours up to the target.

    Args:
        rgb: float ``(H, W, 3)`` RGB (or ``(H, W)`` gray) in [0, 1].
        style: the settings (``kind`` is ignored).

    Returns:
        float32 ``(H, W)``: 0 on the lines, 1 elsewhere.
    """
    style = style or DrawingStyle(kind="xdog", sigma=1.2)
    gray = _smooth(_luma_u8(rgb), style).astype(np.float32) / 255.0
    d = xdog(gray, max(0.5, style.sigma / 2), 1.6, 0.995)
    eps = min(-MIN_EDGE / 8000.0, float(np.percentile(d, 100 * min(0.5, 2.0 * style.target))))
    lines = _skeleton(d < eps)  # XDoG's strokes are several px wide; their centre lines are the drawing
    return _finish(keep_strong_contours(lines, np.maximum(-d, 0.0), _thin_target(style)), style.thickness)


def random_style(rng: np.random.Generator) -> DrawingStyle:
    """Random settings matched to the human drawings' statistics (ink share 3-10 %, widths 1-2 px)."""
    kind = "canny" if rng.random() < 0.6 else "xdog"
    return DrawingStyle(kind=kind, sigma=float(rng.uniform(1.0, 3.0)), target=float(rng.uniform(0.03, 0.10)),
                        thickness=float(rng.choice([1.0, 1.0, 1.5, 1.5, 1.5, 2.0])),
                        bilateral=int(rng.integers(0, 3)))


def synthesize_drawing(rgb: np.ndarray, rng: np.random.Generator | None = None,
                       style: DrawingStyle | None = None) -> np.ndarray:
    """A synthetic line drawing of a photo: ``style`` if given, else :func:`random_style` (``rng``).

    Args:
        rgb: float ``(H, W, 3)`` RGB in [0, 1].

    Returns:
        float32 ``(H, W)``: 0 on the lines, 1 elsewhere.
    """
    style = style or random_style(rng if rng is not None else np.random.default_rng())
    make = xdog_drawing if style.kind == "xdog" else canny_drawing
    return make(rgb, style)


def drawing_stats(drawing: np.ndarray) -> dict[str, float]:
    """``ink``: share of pixels darker than 0.5; ``width``: ink pixels per skeleton pixel (the mean
    line width in px, thinning by OpenCV's Zhang-Suen); ``white``: share of pixels above 0.8.

    Args:
        drawing: float ``(H, W)`` in [0, 1].
    """
    drawing = np.asarray(drawing, np.float32)
    ink = drawing < 0.5
    length = int(_skeleton(ink).sum())
    return {"ink": float(ink.mean()), "width": float(ink.sum() / max(1, length)),
            "white": float((drawing > 0.8).mean())}


def looks_like_drawing(image: np.ndarray) -> bool:
    """Whether a single-band image ``(H, W)`` in [0, 1] looks like dark lines on a light page: at least
    half of its pixels are near white (> 0.8) and at most a third are dark (< 0.5); or it is nearly
    two-tone (>= 90 % of the pixels below 0.2 or above 0.8) with more white than black (dense ink)."""
    image = np.asarray(image, np.float32)
    white, dark = float((image > 0.8).mean()), float((image < 0.5).mean())
    if white >= 0.5 and dark <= 1 / 3:
        return True
    black = float((image < 0.2).mean())
    return white + black >= 0.9 and white >= black


def sample_hints(rgb: np.ndarray, rng: np.random.Generator, *, rate: float, patch: int = 1) -> Hints:
    """Random colour hints from the true photo, as clicks of a user who knows its colours.

    About ``rate`` of the pixels are hinted: ``rate * H * W / patch**2`` random centres, each a
    ``patch`` x ``patch`` square filled with its centre's true colour (``patch`` 1: single pixels).

    Args:
        rgb: float ``(H, W, 3)`` RGB in [0, 1], the truth.
        rng: the random generator (a fixed seed gives fixed hints).
        rate: share of hinted pixels, in [0, 1]; 0 gives an empty mask.
        patch: side of each hint square in px (>= 1).

    Returns:
        :class:`tinct.hints.Hints` of the photo's size.
    """
    if not 0.0 <= rate <= 1.0 or patch < 1:
        raise ValueError(f"rate must be in [0, 1] and patch >= 1, got {rate}, {patch}")
    h, w = rgb.shape[:2]
    color = np.zeros((h, w, 3), np.float32)
    mask = np.zeros((h, w), bool)
    count = int(round(rate * h * w / patch ** 2))
    if count:
        ys, xs = np.divmod(rng.choice(h * w, size=min(count, h * w), replace=False), w)
        for dy in range(patch):
            for dx in range(patch):
                y, x = np.minimum(ys + dy, h - 1), np.minimum(xs + dx, w - 1)
                color[y, x] = rgb[ys, xs]
                mask[y, x] = True
    return Hints(color=color, mask=mask)
