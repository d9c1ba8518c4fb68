"""``tinct demo``: colorize a sample photo that ships inside the scikit-image wheel.

The photo (no download needed) is turned into its BT.601 luma, quantized to 8 bits exactly as
the written gray PNG holds it, colorized with the chosen method (default
:data:`tinct.DEFAULT_METHOD`) and compared with the original photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import tinct
from tinct import io, metrics
from tinct.color import rgb_to_luma
from tinct.errors import TinctError
from tinct.registry import MissingInput

PHOTOS = ("chelsea", "astronaut", "coffee", "rocket")
"""Colour sample photos of ``skimage.data`` that the demo can use."""

_GAP = 8  # white pixels between the panels of the side-by-side image


@dataclass(frozen=True)
class DemoResult:
    """Paths written by :func:`run_demo` and the scores of the result against the original."""

    method: str
    gray_path: Path
    result_path: Path
    compare_path: Path
    psnr: float
    ssim: float


def sample_photo(name: str = "chelsea") -> np.ndarray:
    """A colour sample photo from the scikit-image wheel as float32 ``(H, W, 3)`` RGB in [0, 1]."""
    if name not in PHOTOS:
        raise TinctError(f"unknown sample photo '{name}'; choose one of {', '.join(PHOTOS)}")
    from skimage import data

    return np.asarray(getattr(data, name)(), dtype=np.float32) / 255.0


def side_by_side(*images: np.ndarray, gap: int = _GAP) -> np.ndarray:
    """Panels of the same height placed left to right with white gaps, float ``(H, W', 3)``.

    Args:
        images: float ``(H, W)`` gray or ``(H, W, 3)`` RGB in [0, 1], all the same height.
    """
    panels = [np.repeat(im[..., None], 3, axis=2) if im.ndim == 2 else im for im in images]
    height = panels[0].shape[0]
    if any(p.shape[0] != height for p in panels):
        raise ValueError("side_by_side needs images of the same height")
    spacer = np.ones((height, gap, 3), np.float32)
    parts: list[np.ndarray] = []
    for i, panel in enumerate(panels):
        parts.extend([spacer, panel] if i else [panel])
    return np.concatenate(parts, axis=1).astype(np.float32)


def run_demo(out_dir: str | Path = "out", method: str | None = None, *, photo: str = "chelsea") -> DemoResult:
    """Write ``demo_input_gray.png``, ``demo_<method>.png`` and ``demo_compare.png`` to ``out_dir``.

    Earlier demo outputs in ``out_dir`` are replaced (they are the demo's own files).

    Args:
        out_dir: output folder, created if needed.
        method: registry name; ``None`` means :data:`tinct.DEFAULT_METHOD` (read at call time).
        photo: one of :data:`PHOTOS`.

    Returns:
        :class:`DemoResult` with the paths and PSNR (dB) / SSIM of the result against the original.
    """
    method = method or tinct.DEFAULT_METHOD
    try:
        tinct.method_info(method).check_inputs(())  # the registry's needs check
    except MissingInput as exc:
        raise TinctError(f"the demo runs automatic methods only; {exc}") from None
    original = sample_photo(photo)
    gray = np.round(rgb_to_luma(original) * 255.0).astype(np.float32) / 255.0  # what the 8-bit PNG holds
    result = tinct.load_method(method).colorize(gray)

    out_dir = Path(out_dir)
    gray_path = io.write_image(out_dir / "demo_input_gray.png", gray)
    result_path = io.write_image(out_dir / f"demo_{method}.png", result)
    compare_path = io.write_image(out_dir / "demo_compare.png", side_by_side(gray, result, original))
    return DemoResult(method=method, gray_path=gray_path, result_path=result_path, compare_path=compare_path,
                      psnr=float(metrics.psnr(result, original)), ssim=float(metrics.ssim(result, original)))
