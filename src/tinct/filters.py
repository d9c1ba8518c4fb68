"""Edge-aware smoothing of a multi-channel image guided by a gray image (OpenCV ximgproc underneath).

Every filter takes ``src`` float ``(H, W, C)`` with C = 1..4 (or ``(H, W)``, returned as
``(H, W)``) and a gray ``guide`` float ``(H, W)`` in [0, 1], and returns float32 of ``src``'s
shape. ``src`` values are not range-limited (U, V chroma or ab are fine). Colour sigmas are in
guide units, i.e. a step of 0.1 in the guide is a difference of 0.1.

- :func:`joint_bilateral` — Tomasi & Manduchi's bilateral filter with range weights from the
  guide (Petschnigg et al. / Kopf et al. "joint" or "cross" bilateral). OpenCV's kernel, which
  the tests check against a brute-force implementation: a *circular* window of radius
  ``round(1.5 * sigma_space)`` (at least 1), spatial weight ``exp(-d^2 / (2 sigma_space^2))``,
  range weight ``exp(-|g_p - g_q|^2 / (2 sigma_color^2))`` (from a 4096-bin table with linear
  interpolation over the guide's value range), borders mirrored without repeating the edge
  pixel (``BORDER_REFLECT_101``). When the guide is constant OpenCV falls back to a square
  ``GaussianBlur``. Cost grows with ``sigma_space ** 2``.
- :func:`guided_filter` — He et al.'s guided filter (box windows of ``2 * radius + 1``,
  regulariser ``eps`` added to the guide's local variance, so it is in squared guide units).
- :func:`domain_transform` — Gastal & Oliveira's domain transform (modes "NC" normalized
  convolution, "IC" interpolated convolution, "RF" recursive filtering; 3 iterations).
- :func:`upsample_guided` — a low-resolution ``(h, w, C)`` image brought to the guide's size:
  bilinear, then the guided filter steered by the full-resolution guide, in row strips with a
  halo (exact, memory bounded by the strip). Used by ``fusion`` and ``caption`` (chroma), the
  NIR methods (RGB at their working size) and the unpaired GANs (chroma at their working size).
- :func:`reduce_short_side` — the area reduction to a working size that goes with it.

Run ``python -m tinct.filters`` for timings at 1 MP (recorded in ``docs/methods/io.md``).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from tinct.nn.tiling import strips

_DT_MODES = {"NC": cv2.ximgproc.DTF_NC, "IC": cv2.ximgproc.DTF_IC, "RF": cv2.ximgproc.DTF_RF}


def _validate(src: np.ndarray, guide: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """float32 ``(H, W, C)`` src, float32 ``(H, W)`` guide and whether src was 2-D."""
    src, guide = np.asarray(src), np.asarray(guide)
    if not np.issubdtype(src.dtype, np.floating) or not np.issubdtype(guide.dtype, np.floating):
        raise ValueError(f"{name}: src and guide must be float arrays, got {src.dtype} and {guide.dtype}")
    flat = src.ndim == 2
    if flat:
        src = src[..., None]
    if src.ndim != 3 or not 1 <= src.shape[2] <= 4:
        raise ValueError(f"{name}: src must be (H, W, C) with C in 1..4, got shape {src.shape}")
    if guide.ndim == 3 and guide.shape[2] == 1:
        guide = guide[..., 0]
    if guide.shape != src.shape[:2]:
        raise ValueError(f"{name}: guide must be gray (H, W) = {src.shape[:2]}, got shape {guide.shape}")
    if 0 in guide.shape:
        raise ValueError(f"{name}: empty image, shape {src.shape}")
    if not np.isfinite(guide).all():
        raise ValueError(f"{name}: guide contains NaN or infinity")
    return (np.ascontiguousarray(src, dtype=np.float32), np.ascontiguousarray(guide, dtype=np.float32), flat)


def _positive(name: str, **values: float) -> None:
    for key, value in values.items():
        if not value > 0:
            raise ValueError(f"{name}: {key} must be > 0, got {value}")


def _finish(out: np.ndarray, flat: bool) -> np.ndarray:
    out = out if out.ndim == 3 else out[..., None]
    return np.ascontiguousarray(out[..., 0] if flat else out, dtype=np.float32)


def _in_groups_of_three(src: np.ndarray, apply: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Call ``apply`` (which takes 1 or 3 channels) on channel groups of ``src`` and restack.

    Two channels (U, V) are padded with a zero channel into ONE 3-channel call (one pass over
    the window instead of two) and the extra channel is dropped; 4 channels are 3 + 1.
    """
    height, width, channels = src.shape
    pieces = []
    for start in range(0, channels, 3):
        part = src[..., start:start + 3]
        count = part.shape[2]
        if count == 2:
            part = np.concatenate([part, np.zeros_like(part[..., :1])], axis=2)
        out = apply(part[..., 0] if count == 1 else np.ascontiguousarray(part))
        pieces.append(out.reshape(height, width, -1)[..., :count])
    return np.concatenate(pieces, axis=2) if len(pieces) > 1 else pieces[0]


def bilateral_radius(sigma_space: float) -> int:
    """Window radius used by :func:`joint_bilateral`: ``max(1, round(1.5 * sigma))``, OpenCV's
    default rule except that halves round up (OpenCV's ``cvRound`` rounds them to even)."""
    return max(1, int(np.floor(1.5 * sigma_space + 0.5)))


def joint_bilateral(src: np.ndarray, guide: np.ndarray, *, sigma_space: float, sigma_color: float,
                    radius: int | None = None) -> np.ndarray:
    """Joint (cross) bilateral filter of ``src`` with range weights from ``guide``.

    Args:
        src: float ``(H, W, C)``, C in 1..4, or ``(H, W)``; any value range.
        guide: float ``(H, W)`` gray in [0, 1].
        sigma_space: spatial Gaussian sigma in pixels.
        sigma_color: range Gaussian sigma in guide units (e.g. 0.1).
        radius: window radius; default :func:`bilateral_radius` ``(sigma_space)``.

    Returns:
        float32 of ``src``'s shape.

    Example:
        >>> uv = np.zeros((8, 8, 2), np.float32); g = np.full((8, 8), 0.5, np.float32)
        >>> joint_bilateral(uv, g, sigma_space=2, sigma_color=0.1).shape
        (8, 8, 2)
    """
    src, guide, flat = _validate(src, guide, "joint_bilateral")
    _positive("joint_bilateral", sigma_space=sigma_space, sigma_color=sigma_color)
    radius = bilateral_radius(sigma_space) if radius is None else int(radius)
    if radius < 1:
        raise ValueError(f"joint_bilateral: radius must be >= 1, got {radius}")

    def apply(part: np.ndarray) -> np.ndarray:
        return cv2.ximgproc.jointBilateralFilter(guide, part, 2 * radius + 1, float(sigma_color),
                                                 float(sigma_space))

    return _finish(_in_groups_of_three(src, apply), flat)


def guided_filter(src: np.ndarray, guide: np.ndarray, *, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (ECCV 2010 / TPAMI 2013).

    Args:
        src: float ``(H, W, C)``, C in 1..4, or ``(H, W)``; any value range.
        guide: float ``(H, W)`` gray in [0, 1].
        radius: box window radius in pixels (window ``2 * radius + 1``).
        eps: regulariser added to the guide's local variance (squared guide units, e.g. 1e-3).

    Returns:
        float32 of ``src``'s shape.
    """
    src, guide, flat = _validate(src, guide, "guided_filter")
    _positive("guided_filter", radius=radius, eps=eps)
    out = cv2.ximgproc.guidedFilter(guide, src if src.shape[2] > 1 else src[..., 0], int(radius), float(eps))
    return _finish(out, flat)


def upsample_guided(values: np.ndarray, guide: np.ndarray, *, rows: int = 512, eps: float = 1e-4,
                    radius: int | None = None) -> np.ndarray:
    """``values`` float ``(h, w, C)`` (C = 1..4, any range) -> float32 ``(H, W, C)`` at ``guide``'s
    size ``(H, W)`` (gray in [0, 1]): bilinear (pixel centres aligned, edges replicated), then a
    guided filter steered by ``guide`` with ``eps`` and ``radius`` (default: 1.5 x the upsampling
    factor, at least 2), in strips of ``rows`` rows with a halo of twice the radius (exact:
    equal to one pass; memory bounded by the strip). A ``values`` already at the guide's size is
    returned unchanged (as float32)."""
    big_h, big_w = guide.shape
    h, w, channels = values.shape
    if (h, w) == (big_h, big_w):
        return values.astype(np.float32)
    radius = radius or max(2, round(1.5 * max(big_h / h, big_w / w)))
    out = np.empty((big_h, big_w, channels), np.float32)
    sy = h / big_h
    xs = ((np.arange(big_w) + 0.5) * (w / big_w) - 0.5).astype(np.float32)
    for s in strips(big_h, rows, 2 * radius + 2):
        # bilinear rows lo..hi of the full-size image, from the source rows they need
        y0 = max(0, int(np.floor((s.lo + 0.5) * sy - 0.5)) - 1)
        y1 = min(h, int(np.ceil((s.hi + 0.5) * sy - 0.5)) + 2)
        ys = ((np.arange(s.lo, s.hi) + 0.5) * sy - 0.5 - y0).astype(np.float32)
        map_x, map_y = np.meshgrid(xs, ys)
        up = cv2.remap(np.ascontiguousarray(values[y0:y1], np.float32), map_x, map_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
        up = up.reshape(*up.shape[:2], channels)
        part = guided_filter(up, np.ascontiguousarray(guide[s.lo:s.hi], np.float32), radius=radius, eps=eps)
        out[s.rows] = part.reshape(*part.shape[:2], channels)[s.inner]
    return out


def reduce_short_side(image: np.ndarray, short_side: int) -> np.ndarray:
    """``image`` ``(H, W[, C])`` reduced (area interpolation) to ``short_side`` px on its short side,
    the aspect kept; the image itself when ``short_side`` is 0 or the image is no larger."""
    h, w = image.shape[:2]
    scale = short_side / min(h, w) if short_side > 0 else 1.0
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def domain_transform(src: np.ndarray, guide: np.ndarray, *, sigma_space: float, sigma_color: float,
                     mode: str = "RF") -> np.ndarray:
    """Gastal & Oliveira's domain-transform filter (SIGGRAPH 2011), 3 iterations.

    Args:
        src: float ``(H, W, C)``, C in 1..4, or ``(H, W)``; any value range.
        guide: float ``(H, W)`` gray in [0, 1].
        sigma_space: spatial sigma (the paper's sigma_s) in pixels.
        sigma_color: range sigma (the paper's sigma_r) in guide units.
        mode: "NC" (normalized convolution), "IC" (interpolated convolution) or "RF" (recursive).

    Returns:
        float32 of ``src``'s shape.
    """
    src, guide, flat = _validate(src, guide, "domain_transform")
    _positive("domain_transform", sigma_space=sigma_space, sigma_color=sigma_color)
    if mode not in _DT_MODES:
        raise ValueError(f"domain_transform: mode must be one of {sorted(_DT_MODES)}, got {mode!r}")
    out = cv2.ximgproc.dtFilter(guide, src if src.shape[2] > 1 else src[..., 0], float(sigma_space),
                                float(sigma_color), mode=_DT_MODES[mode], numIters=3)
    return _finish(out, flat)


def _benchmark(size: int = 1000, repeats: int = 5) -> dict[str, tuple[float, float]]:
    """Median (wall, process CPU) seconds of each filter on a ``size`` x ``size`` 2-channel image."""
    import time

    rng = np.random.default_rng(0)
    guide = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 3)
    chroma = rng.normal(0, 0.1, (size, size, 2)).astype(np.float32)
    cases = {
        "joint_bilateral sigma_space=5 sigma_color=0.1": lambda: joint_bilateral(
            chroma, guide, sigma_space=5, sigma_color=0.1),
        "joint_bilateral sigma_space=10 sigma_color=0.1": lambda: joint_bilateral(
            chroma, guide, sigma_space=10, sigma_color=0.1),
        "guided_filter radius=8 eps=1e-3": lambda: guided_filter(chroma, guide, radius=8, eps=1e-3),
        "domain_transform RF sigma_space=10 sigma_color=0.1": lambda: domain_transform(
            chroma, guide, sigma_space=10, sigma_color=0.1, mode="RF"),
        "domain_transform NC sigma_space=10 sigma_color=0.1": lambda: domain_transform(
            chroma, guide, sigma_space=10, sigma_color=0.1, mode="NC"),
        "domain_transform IC sigma_space=10 sigma_color=0.1": lambda: domain_transform(
            chroma, guide, sigma_space=10, sigma_color=0.1, mode="IC"),
    }
    results = {}
    for name, call in cases.items():
        wall, cpu = [], []
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        results[name] = float(np.median(wall)), float(np.median(cpu))
    return results


if __name__ == "__main__":
    import os
    import sys

    threads = int(sys.argv[1]) if len(sys.argv) > 1 else cv2.getNumThreads()
    cv2.setNumThreads(threads)
    print(f"1 MP (1000x1000), 2-channel float32 src, median of 5, cv2 threads = {threads}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'filter':55s} {'wall ms':>8s} {'CPU ms':>8s}")
    for case, (wall, cpu) in _benchmark().items():
        print(f"{case:55s} {wall * 1000:8.1f} {cpu * 1000:8.1f}")
