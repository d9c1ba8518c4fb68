"""The web app's records: one decoded upload (:class:`Upload`) and one colorization job (:class:`Job`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Upload:
    """One decoded upload.

    Attributes:
        pixels: ``image`` role: float32 ``(H, W)`` luma in [0, 1]; ``reference``: ``(H, W, 3)``
            RGB in [0, 1]; ``hints``: ``(H, W, 4)`` RGBA in [0, 1].
        is_color: whether the decoded file had colour (a colour photo uploaded as input).
    """

    id: str
    role: str
    name: str
    pixels: np.ndarray
    is_color: bool
    note: str = ""

    @property
    def nbytes(self) -> int:
        return int(self.pixels.nbytes)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, "name": self.name, "width": self.width,
                "height": self.height, "is_color": self.is_color, "note": self.note}


@dataclass
class Job:
    """One colorization request and its progress (``fraction`` in [0, 1])."""

    id: str
    method: str
    image: Upload
    reference: Upload | None
    hints: Upload | None
    saturation: float | None = None  # the strength slider (methods with a ``saturation`` option)
    caption: str | None = None  # the caption box (methods that accept a caption)
    note: str | None = None  # a one-line warning of the method (a caption's unknown words)
    status: str = "queued"  # queued -> running -> done | error
    fraction: float = 0.0
    message: str = "waiting for the worker"
    indeterminate: bool = False  # inside the method's own call, which reports no progress
    error: str | None = None
    result_png: bytes | None = field(default=None, repr=False)
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None

    def describe(self, queue_position: int = 0) -> dict[str, Any]:
        now = time.monotonic()
        elapsed = (self.finished or now) - (self.started or now)
        out: dict[str, Any] = {
            "id": self.id, "method": self.method, "status": self.status,
            "fraction": round(self.fraction, 3), "indeterminate": self.indeterminate,
            "message": self.message, "error": self.error,
            "elapsed_s": round(elapsed, 2), "width": self.image.width, "height": self.image.height,
            "saturation": self.saturation, "caption": self.caption, "note": self.note,
        }
        if self.status == "queued" and queue_position:
            out["message"] = f"queued: {queue_position} job(s) ahead"
        if self.status == "done":
            out["result_url"] = f"/api/jobs/{self.id}/result.png"
        return out
