"""The work of one image, the same on every backend: encoded bytes in, encoded PNG bytes out.

A :class:`Worker` loads the method once (and decodes the reference and hints once); its three
steps (:meth:`~Worker.decode`, :meth:`~Worker.compute`, :meth:`~Worker.encode`) let the local
backend overlap decoding and encoding with compute, and :meth:`~Worker.run` does all three
(a Ray actor). Nothing here touches the output folder: the driver writes results.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinct.errors import TinctError


@dataclass(frozen=True)
class WorkSpec:
    """Everything a worker needs, picklable (files travel as bytes: a cluster node may not see them).

    Attributes:
        method / options: the registry name and raw ``-O`` values (text), ``weights`` included.
        reference / hints: ``(name, encoded bytes)`` of the command line's image, or None.
        caption: the caption text, or None.
        bit_depth: output bits per channel, or None for the input's (16 for 16-bit inputs, else 8).
        max_pixels: refuse larger inputs (None: :data:`tinct.io.DEFAULT_MAX_PIXELS`).
    """

    method: str
    options: dict[str, Any] = field(default_factory=dict)
    reference: tuple[str, bytes] | None = None
    hints: tuple[str, bytes] | None = None
    caption: str | None = None
    bit_depth: int | None = None
    max_pixels: int | None = None


@dataclass
class Result:
    """The outcome of one image: ``payload`` (PNG bytes) or ``error`` (one line), with notes."""

    input: str
    payload: bytes | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Decoded:
    """A decoded input on its way through the steps (``gray`` float32 ``(H, W)`` in [0, 1])."""

    input: str
    gray: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    notes: list[str]
    started: float


class Worker:
    """One loaded method plus the shared inputs; call :meth:`run` per image (or the three steps)."""

    def __init__(self, spec: WorkSpec) -> None:
        import tinct
        from tinct import io

        self.spec = spec
        read_kw = {} if spec.max_pixels is None else {"max_pixels": spec.max_pixels}
        self.colorizer = tinct.load_method(spec.method, **spec.options)
        self.reference = None if spec.reference is None else \
            io.decode(spec.reference[1], name=spec.reference[0], **read_kw).rgb
        self.hints_rgba = None
        if spec.hints is not None:
            data = io.decode(spec.hints[1], name=spec.hints[0], **read_kw)
            self.hints_rgba = data.rgb if data.alpha is None else \
                np.concatenate([data.rgb, data.alpha[..., None]], axis=2)

    def decode(self, name: str, data: bytes) -> Decoded:
        """:func:`decode_input` with this worker's size limit."""
        return decode_input(name, data, self.spec.max_pixels)

    def compute(self, item: Decoded) -> np.ndarray:
        """Colorize a decoded input: float32 ``(H, W, 3)`` RGB in [0, 1]."""
        from tinct.hints import hints_from_image

        hints = None
        if self.hints_rgba is not None:
            (h, w), (ih, iw) = self.hints_rgba.shape[:2], item.gray.shape
            if (h, w) != (ih, iw):
                raise TinctError(f"{item.input}: the hints file is {w}x{h} but the image is {iw}x{ih}; "
                                 "they must be the same size")
            hints = hints_from_image(self.hints_rgba, item.gray)
            if not hints.mask.any():
                raise TinctError(f"{item.input}: the hints file {self.spec.hints[0]} has no strokes on this "
                                 "image (every pixel equals the gray input or is transparent); draw colour "
                                 "scribbles on it")
        return self.colorizer.colorize(item.gray, reference=self.reference, hints=hints,
                                       caption=self.spec.caption)

    def encode(self, item: Decoded, rgb: np.ndarray) -> bytes:
        """PNG bytes of ``rgb`` (16-bit for a 16-bit input unless ``bit_depth`` says otherwise)."""
        from tinct import io

        bit_depth = self.spec.bit_depth or (16 if item.bit_depth == 16 else 8)
        return io.encode(rgb, format="png", bit_depth=bit_depth, alpha=item.alpha)

    def run(self, name: str, data: bytes) -> Result:
        """All three steps; a failure becomes ``Result.error`` (one line), never an exception."""
        started = time.perf_counter()
        notes: list[str] = []
        try:
            item = self.decode(name, data)
            notes = item.notes
            payload = self.encode(item, self.compute(item))
            return Result(name, payload, None, notes, time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - one line per failed file, the others go on
            return Result(name, None, error_line(name, exc), notes, time.perf_counter() - started)


def decode_input(name: str, data: bytes, max_pixels: int | None = None) -> Decoded:
    """Decode an input's bytes to its luma (needs no method: runs while the method loads); notes for
    a colour or a multi-frame file."""
    from tinct import io
    from tinct.color import rgb_to_luma

    started = time.perf_counter()
    image = io.decode(data, name=name, **({} if max_pixels is None else {"max_pixels": max_pixels}))
    notes = []
    frames = io.frame_count(data)
    if frames > 1:
        notes.append(f"warning: {name} has {frames} frames; only the first is colorized")
    if io.is_color(image.rgb):
        notes.append(f"note: {name} is already colour; using its luma")
    gray = image.rgb[..., 0] if image.is_gray_source else rgb_to_luma(image.rgb).astype(np.float32)
    return Decoded(name, gray, image.alpha, image.bit_depth, notes, started)


def error_line(name: str, exc: BaseException) -> str:
    """``<file>: <reason>`` on one line (io's messages already start with the file)."""
    text = " ".join(str(exc).split())
    message = text if isinstance(exc, TinctError) else f"unexpected {type(exc).__name__}: {text}"
    return message if message.startswith(name) else f"{name}: {message}"
