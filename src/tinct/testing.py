"""Helpers for tests and benchmarks, not part of the user API.

Nothing in the library, the CLI or the web app imports this module; names here may change without
notice. Imports are kept light: numpy and the standard library at the top, everything heavier
(torch, OpenCV, scikit-image, :mod:`tinct.io`, the web server) only inside the helper that needs it.

- benchmark output: :func:`write_report`;
- stereo data with ground-truth disparity: :class:`StereoPair`, :func:`load_middlebury2005`,
  :func:`load_stereo_motorcycle`, :func:`warp_right_to_left`;
- whole-image reference forms of strip/sample-based code: :func:`map_strips` (row strips of
  :mod:`tinct.nn.tiling`), :func:`dense_daisy` and :func:`predict_uv_dense` (deepcolor);
- the web server on a background thread: :func:`serve_in_thread`.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from tinct.methods.deepcolor.features import FeatureConfig
    from tinct.methods.deepcolor.model import ColorMLP
    from tinct.nn.tiling import Array
    from tinct.web.app import WebApp
    from tinct.web.server import ServerHandle


# ---------------------------------------------------------------------------------------------------
# benchmark output


def median_seconds(fn: Callable[[], object], repeats: int = 5) -> float:
    """Median wall-clock seconds of ``repeats`` calls of ``fn`` after one warm-up call."""
    import time

    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def command_line(script: str, argv: list[str] | None = None) -> str:
    """``python SCRIPT 'ARG' ...``: how a benchmark was called (``argv`` or ``sys.argv[1:]``), for reports."""
    given = sys.argv[1:] if argv is None else argv
    return f"python {script} " + " ".join(f"'{a}'" for a in given)


def write_report(out: str | Path, result: dict[str, Any], markdown: str) -> None:
    """Write ``result`` to ``out.json`` and ``markdown`` to ``out.md`` (folders made), print the table.

    Args:
        out: path without (or with any) suffix, e.g. ``docs/results/deepcolor_speed``.
        result: JSON-serialisable raw numbers (with the command that produced them).
        markdown: the human-readable table.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown)
    print(markdown)


# ---------------------------------------------------------------------------------------------------
# rectified stereo pairs with ground-truth disparity: Middlebury 2005 and skimage's motorcycle
#
# Convention (Middlebury): the left pixel ``(y, x)`` with disparity ``d`` is seen at ``(y, x - d)`` in
# the right view. For the dual-lens task the left view plays the monochrome camera (its colour is the
# hidden ground truth) and the right view is the colour reference.

MIDDLEBURY_2005_SCENES = ("art", "books", "dolls", "laundry", "moebius", "reindeer")


@dataclass
class StereoPair:
    """One rectified pair.

    Attributes:
        name: scene name.
        left, right: float32 ``(H, W, 3)`` RGB in [0, 1].
        disp_left: float32 ``(H, W)`` left-view disparity in pixels, NaN where unknown.
        disp_right: float32 ``(H, W)`` right-view disparity (right ``(y, x)`` is left ``(y, x + d)``),
            NaN where unknown, or None.
    """

    name: str
    left: np.ndarray
    right: np.ndarray
    disp_left: np.ndarray
    disp_right: np.ndarray | None = None

    @property
    def max_disparity(self) -> float:
        return float(np.nanmax(self.disp_left))


def _read_disparity_x3(path: Path) -> np.ndarray:
    from tinct.io import read_gray

    raw = np.rint(read_gray(path) * 255.0)
    disp = (raw / 3.0).astype(np.float32)
    disp[raw == 0] = np.nan
    return disp


def load_middlebury2005(root: str | Path, scenes: tuple[str, ...] | None = None) -> list[StereoPair]:
    """Load Middlebury 2005 third-size pairs from ``root`` (``mb2005_<scene>_{left,right,disp_*_x3}.png``).

    Args:
        root: the ``stereo/middlebury2005`` folder.
        scenes: subset of :data:`MIDDLEBURY_2005_SCENES` (default: all six).

    Raises:
        TinctError: the folder or a scene's file is missing.
    """
    from tinct.errors import TinctError
    from tinct.io import read_rgb

    root = Path(root)
    if not root.is_dir():
        raise TinctError(f"{root}: Middlebury 2005 folder not found")
    pairs = []
    for scene in scenes or MIDDLEBURY_2005_SCENES:
        stem = root / f"mb2005_{scene}"
        files = [Path(f"{stem}_{s}.png") for s in ("left", "right", "disp_left_x3", "disp_right_x3")]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise TinctError(f"Middlebury scene '{scene}' is incomplete: missing {missing[0]}")
        pairs.append(StereoPair(scene, read_rgb(files[0]), read_rgb(files[1]),
                                _read_disparity_x3(files[2]), _read_disparity_x3(files[3])))
    return pairs


def load_stereo_motorcycle() -> StereoPair:
    """``skimage.data.stereo_motorcycle()`` (Middlebury 2014, 741x500) as a :class:`StereoPair`;
    infinite (unknown) disparities become NaN; no right-view disparity."""
    from skimage import data

    left, right, disp = data.stereo_motorcycle()
    disp = disp.astype(np.float32)
    disp[~np.isfinite(disp)] = np.nan
    return StereoPair("motorcycle", (left / 255.0).astype(np.float32), (right / 255.0).astype(np.float32),
                      disp)


def warp_right_to_left(right: np.ndarray, disp_left: np.ndarray) -> np.ndarray:
    """Sample the right view at ``(y, x - d_left)`` (linear in x): the right image seen from the left.

    Args:
        right: ``(H, W, C)`` or ``(H, W)``.
        disp_left: ``(H, W)`` pixels; NaN is treated as 0.

    Returns:
        array like ``right`` in the left view's geometry (borders clamped).
    """
    import cv2

    h, w = disp_left.shape
    map_x = (np.arange(w, dtype=np.float32)[None, :] - np.nan_to_num(disp_left, nan=0.0)).astype(np.float32)
    map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    return cv2.remap(np.ascontiguousarray(right, dtype=np.float32), map_x, map_y, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


# ---------------------------------------------------------------------------------------------------
# whole-image reference forms


def map_strips(fn: Callable[..., Array], *inputs: Array | None, rows: int, halo: int,
               out: Array | None = None) -> Array:
    """``fn`` on row strips (:func:`tinct.nn.tiling.strips`) of ``inputs`` with a halo; the cropped
    results written into ``out``.

    Equal to ``fn(*inputs)`` when each output row of ``fn`` depends only on the input rows within
    ``halo`` of it and ``fn`` treats the border of its input as the image border (zero, replicate or
    reflect padding all do: the halo rows absorb what the strip's own border changes).

    Args:
        fn: ``(..., h, W)`` inputs -> ``(..., h, W')`` output (the same ``h``: no stride, no resize).
        inputs: arrays or tensors ``(..., H, W)`` with rows on axis -2 and the same ``H``; a None is
            passed to ``fn`` as None.
        rows: at most this many output rows per call of ``fn`` (see :func:`tinct.nn.tiling.strips`).
        halo: rows of context on each side, at least ``fn``'s receptive radius.
        out: ``(..., H, W')`` to write into; by default allocated like ``fn``'s first result (numpy or
            torch, same dtype and device).

    Returns:
        ``out``, ``(..., H, W')``.
    """
    import torch

    from tinct.nn.tiling import strips

    present = [x for x in inputs if x is not None]
    if not present:
        raise ValueError("map_strips needs at least one input")
    height = int(present[0].shape[-2])
    if any(int(x.shape[-2]) != height for x in present):
        raise ValueError(f"inputs differ in height: {[tuple(x.shape) for x in present]}")
    if height == 0:
        return out if out is not None else fn(*inputs)
    for s in strips(height, rows, halo):
        y = fn(*(None if x is None else s.take(x) for x in inputs))
        if out is None:
            shape = (*y.shape[:-2], height, y.shape[-1])
            out = (torch.empty(shape, dtype=y.dtype, device=y.device) if isinstance(y, torch.Tensor)
                   else np.empty(shape, dtype=y.dtype))
        s.put(out, y)
    return out


def _shift_replicate(maps: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[:, y, x] = maps[:, clip(y + dy), clip(x + dx)]`` for ``(C, H, W)`` maps."""
    h, w = maps.shape[-2:]
    ys = np.clip(np.arange(h) + dy, 0, h - 1)
    xs = np.clip(np.arange(w) + dx, 0, w - 1)
    return maps[:, ys][:, :, xs]


def dense_daisy(gray: np.ndarray, radius: int, sigma: float) -> np.ndarray:
    """deepcolor's 32-d DAISY descriptor at every pixel: ``(32, H, W)`` float32 (location-major);
    equal to :func:`tinct.methods.deepcolor.features.daisy_at` at every pixel."""
    from tinct.methods.deepcolor.features import orientation_maps, ring_offsets

    maps = orientation_maps(gray, sigma)
    return np.concatenate([_shift_replicate(maps, dy, dx) for dy, dx in ring_offsets(radius)], axis=0)


def predict_uv_dense(
    mlp: ColorMLP,
    gray: np.ndarray,
    orient: np.ndarray | None,
    semantic: np.ndarray | None,
    fcfg: FeatureConfig,
) -> np.ndarray:
    """deepcolor's (U, V) at every pixel by convolution (whole image, no strips): ``(2, H, W)``
    float32, equal to ``mlp`` on the materialised features."""
    import torch

    from tinct.methods.deepcolor.model import apply_rest, first_layer_maps

    def t(a: np.ndarray | None) -> torch.Tensor | None:
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    with torch.no_grad():
        h1 = first_layer_maps(mlp, t(gray), t(orient), t(semantic), fcfg)
        return apply_rest(mlp, h1).numpy()


# ---------------------------------------------------------------------------------------------------
# web server


def serve_in_thread(app: WebApp, host: str | None = None, port: int = 0,
                    **options: Any) -> tuple[ServerHandle, str]:
    """Start a server on a daemon thread; returns it and its URL (``host`` defaults to the server's
    :data:`~tinct.web.server.DEFAULT_HOST`; ``options``: :func:`~tinct.web.server.make_server`'s).
    Stop it with ``server.shutdown(); server.server_close()``."""
    from tinct.web.server import DEFAULT_HOST, make_server

    server = make_server(app, DEFAULT_HOST if host is None else host, port, **options)
    threading.Thread(target=server.serve_forever, name="tinct-web-server", daemon=True).start()
    return server, server.url
