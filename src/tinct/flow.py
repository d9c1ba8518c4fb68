"""Optical flow between gray frames, backward warping and forward-backward occlusion (numpy + OpenCV).

Shared by the temporal metric (:mod:`tinct.bench.video`) and the flow-guided methods
(``video-blend``). Conventions:

- a *flow* is float32 ``(H, W, 2)`` in pixels, ``(dx, dy)``: ``flow_ab[y, x]`` takes pixel ``(x, y)``
  of frame *a* to ``(x + dx, y + dy)`` in frame *b* (OpenCV's ``calcOpticalFlow*`` convention);
- :func:`warp` is backward warping: ``warp(image_b, flow_ab)[y, x] = image_b[(x, y) + flow_ab[y, x]]``
  (bilinear), i.e. frame *b*'s content moved onto frame *a*'s pixel grid;
- flow is DIS (Kroeger et al. 2016, ``cv2.DISOpticalFlow_create``, preset MEDIUM) on 8-bit luma;
- the occlusion test is the forward-backward check of Sundaram et al. 2010 used by Ruder et al. 2016
  and Lai et al. 2018: pixel ``x`` of *a* is visible in *b* when
  ``|f + g(x + f)|^2 < 0.01 (|f|^2 + |g(x + f)|^2) + 0.5`` with ``f = flow_ab(x)``, ``g = flow_ba``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Motion", "dis_flow", "motion", "visible", "warp"]


def _to_uint8(luma: np.ndarray) -> np.ndarray:
    luma = np.asarray(luma)
    if luma.ndim != 2:
        raise ValueError(f"flow needs gray frames (H, W), got shape {luma.shape}")
    return np.rint(np.clip(luma, 0.0, 1.0) * 255.0).astype(np.uint8)


def dis_flow(luma_a: np.ndarray, luma_b: np.ndarray) -> np.ndarray:
    """DIS optical flow (preset MEDIUM) from frame *a* to frame *b*.

    Args:
        luma_a, luma_b: float ``(H, W)`` in [0, 1] (quantized to 8 bits for DIS).

    Returns:
        float32 ``(H, W, 2)`` flow ``(dx, dy)`` in pixels, from *a*'s grid into *b*.
    """
    a, b = _to_uint8(luma_a), _to_uint8(luma_b)
    if a.shape != b.shape:
        raise ValueError(f"flow needs frames of one size, got {a.shape} and {b.shape}")
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # cheap; one per call is thread-safe
    return dis.calc(a, b, None)


def _squared_norm(vectors: np.ndarray) -> np.ndarray:
    return np.einsum("...c,...c->...", vectors, vectors)


def _sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = flow.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :] + flow[..., 0]
    ys = np.arange(h, dtype=np.float32)[:, None] + flow[..., 1]
    return xs, ys


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward-warp ``image`` (frame *b*) onto frame *a*'s grid with ``flow`` (*a* -> *b*).

    Args:
        image: float ``(H, W)`` or ``(H, W, C)`` (C <= 4) of frame *b*.
        flow: float32 ``(H, W, 2)`` from *a* to *b*.

    Returns:
        float32, ``image``'s shape: bilinear samples at ``x + flow(x)``; positions outside the frame
        take the nearest border value (such pixels are usually flagged by :func:`visible`).
    """
    xs, ys = _sample_grid(flow)
    return cv2.remap(np.asarray(image, dtype=np.float32), xs, ys, interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def visible(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """Forward-backward consistency: which pixels of *a* are seen again in *b*.

    Args:
        flow_ab: float32 ``(H, W, 2)`` from *a* to *b*.
        flow_ba: float32 ``(H, W, 2)`` from *b* to *a*.

    Returns:
        bool ``(H, W)`` on *a*'s grid: True where ``|f + g(x+f)|^2 < 0.01 (|f|^2 + |g(x+f)|^2) + 0.5``
        and ``x + f`` lies inside the frame (Lai et al. 2018, after Ruder et al. 2016).
    """
    back = warp(flow_ba, flow_ab)  # g(x + f) on a's grid
    total = flow_ab + back
    lhs = _squared_norm(total)
    rhs = 0.01 * (_squared_norm(flow_ab) + _squared_norm(back)) + 0.5
    xs, ys = _sample_grid(flow_ab)
    h, w = flow_ab.shape[:2]
    inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    return (lhs < rhs) & inside


@dataclass(frozen=True)
class Motion:
    """How the previous frame maps onto the current one.

    Attributes:
        to_prev: float32 ``(H, W, 2)`` flow from the current frame into the previous one, so
            ``warp(previous, to_prev)`` is the previous frame on the current grid.
        valid: bool ``(H, W)``: current pixels that are visible in the previous frame.
    """

    to_prev: np.ndarray
    valid: np.ndarray

    @property
    def occluded_fraction(self) -> float:
        """Share of the current frame not seen in the previous one (1.0 after a scene cut, typically)."""
        return float(1.0 - self.valid.mean())


def motion(prev_luma: np.ndarray, luma: np.ndarray) -> Motion:
    """DIS flows both ways between two gray frames and the forward-backward check.

    Args:
        prev_luma, luma: float ``(H, W)`` in [0, 1], the previous and the current frame.

    Returns:
        :class:`Motion` on the current frame's grid.
    """
    to_prev = dis_flow(luma, prev_luma)
    to_cur = dis_flow(prev_luma, luma)
    return Motion(to_prev, visible(to_prev, to_cur))
