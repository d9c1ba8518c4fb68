"""State and work of the web app, free of HTTP: uploads, colorization jobs, PNG results.

:class:`WebApp` keeps uploaded images (decoded in memory by :func:`tinct.io.decode`, no
temporary file) in a small in-memory store under random ids, runs colorization jobs one at a
time on a worker thread (the machine's cores are better spent on one image than shared by two)
and keeps each result as PNG bytes (:func:`tinct.io.encode`). :mod:`tinct.web.server` maps HTTP
requests onto these methods.

Every user mistake raises :class:`tinct.errors.TinctError` with a one-line message; the server
turns it into a JSON ``{"error": ...}`` answer, so the page can show it and nothing crashes.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import tinct
from tinct import io as tio
from tinct.color import gray_to_rgb, rgb_to_luma
from tinct.errors import TinctError
from tinct.hints import hints_from_image
from tinct.registry import Colorizer, MissingInput

ROLES = ("image", "reference", "hints")
DEFAULT_MAX_UPLOAD_MB = 25.0
DEFAULT_MAX_PIXELS = 16_000_000
# Canvas strokes are anti-aliased: edge pixels are partly transparent. Only pixels at least this
# opaque count as scribbles, so a stroke's soft rim does not smear its colour into the hints.
HINT_ALPHA_THRESHOLD = 0.5


_WHAT_TO_DO = {"reference": "upload a colour reference image", "hints": "draw a coloured stroke on the image",
               "caption": "type a caption"}


class NotFound(TinctError):
    """An upload or job id that is unknown or was dropped (the server answers 404)."""


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
        }
        if self.status == "queued" and queue_position:
            out["message"] = f"queued: {queue_position} job(s) ahead"
        if self.status == "done":
            out["result_url"] = f"/api/jobs/{self.id}/result.png"
        return out


class WebApp:
    """Uploads, jobs and results of one ``tinct serve`` process (thread-safe).

    Args:
        max_upload_bytes: largest request body accepted (the server enforces it before reading).
        max_pixels: largest image (width x height) :func:`tinct.io.read_image` may decode.
        max_items: how many uploads and how many finished jobs are kept (oldest dropped first).
    """

    def __init__(self, *, max_upload_bytes: int = int(DEFAULT_MAX_UPLOAD_MB * 2**20),
                 max_pixels: int = DEFAULT_MAX_PIXELS, max_items: int = 16) -> None:
        self.max_upload_bytes = int(max_upload_bytes)
        self.max_pixels = int(max_pixels)
        self.max_items = int(max_items)
        self._lock = threading.Lock()
        self._uploads: OrderedDict[str, Upload] = OrderedDict()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._methods: dict[str, Colorizer] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="tinct-web-worker", daemon=True)
        self._worker.start()

    # ----------------------------------------------------------------------------- methods
    def config(self) -> dict[str, Any]:
        """Methods with what each needs/accepts, the default method and the upload limits."""
        methods = [{
            "name": m.name, "summary": m.summary, "paper": m.paper, "needs": sorted(m.needs),
            "accepts": sorted(m.accepts), "bundled_weights": m.bundled_weights,
        } for m in tinct.list_methods()]
        return {"methods": methods, "default": tinct.DEFAULT_METHOD,
                "max_upload_bytes": self.max_upload_bytes, "max_pixels": self.max_pixels}

    # ----------------------------------------------------------------------------- uploads
    def add_upload(self, data: bytes, *, name: str = "upload", role: str = "image") -> Upload:
        """Decode an uploaded file (via :func:`tinct.io.read_image`) and keep it under a new id.

        Args:
            data: the file's bytes.
            name: the file name the user gave (only its suffix and stem are used).
            role: ``image`` (kept as luma), ``reference`` (RGB) or ``hints`` (RGBA).
        """
        if role not in ROLES:
            raise TinctError(f"unknown upload role '{role}'; use one of {', '.join(ROLES)}")
        if not data:
            raise TinctError(f"the uploaded {role} file '{name}' is empty; choose an image file")
        if len(data) > self.max_upload_bytes:
            raise TinctError(f"'{name}' is {len(data) / 2**20:.1f} MB; the limit is "
                             f"{self.max_upload_bytes / 2**20:.0f} MB (--max-upload-mb)")
        image = self._decode(data, name)
        rgb = np.asarray(image.rgb, dtype=np.float32)
        is_color = bool(tio.is_color(rgb))
        note = ""
        if role == "image":
            luma = rgb[..., 0] if image.is_gray_source else rgb_to_luma(rgb)  # gray files: exact
            pixels = np.ascontiguousarray(luma, dtype=np.float32)
            if is_color:
                note = "colour photo: its luma (brightness) is used as the gray input"
        elif role == "reference":
            pixels = rgb
            if not is_color:
                note = "this reference has no colour, so it cannot give the result any"
        else:
            alpha = np.ones(rgb.shape[:2], np.float32) if image.alpha is None else image.alpha
            alpha = np.where(np.asarray(alpha, np.float32) >= HINT_ALPHA_THRESHOLD, 1.0, 0.0)
            pixels = np.dstack([rgb, alpha]).astype(np.float32)
        upload = Upload(id=secrets.token_hex(8), role=role, name=Path(name).name or "upload",
                        pixels=pixels, is_color=is_color, note=note)
        with self._lock:
            self._uploads[upload.id] = upload
            while len(self._uploads) > self.max_items:
                self._uploads.popitem(last=False)
        return upload

    def _decode(self, data: bytes, name: str) -> tio.ImageData:
        # In memory; io's one-line messages start with the name the user knows the file by.
        try:
            return tio.decode(data, name=Path(name).name or "upload", max_pixels=self.max_pixels)
        except TinctError:
            raise
        except Exception as exc:  # a decoder failing in a way io did not anticipate (MemoryError...)
            raise TinctError(f"'{Path(name).name}' could not be read as an image ({type(exc).__name__}); "
                             "upload a PNG, JPEG, TIFF, BMP or WebP file") from None

    def upload(self, upload_id: str, role: str | None = None) -> Upload:
        """The upload with this id; a clear error if unknown, expired or of the wrong role."""
        with self._lock:
            upload = self._uploads.get(upload_id)
        if upload is None:
            raise NotFound(f"upload '{upload_id}' is unknown or expired; upload the file again")
        if role is not None and upload.role != role:
            words = {"image": "the photo", "reference": "the colour reference", "hints": "the scribbles"}
            raise TinctError(f"upload '{upload_id}' is {words[upload.role]}, not {words[role]}")
        return upload

    def preview_png(self, upload_id: str) -> bytes:
        """PNG of an upload as the browser should show it: the luma for inputs, RGB(A) otherwise."""
        upload = self.upload(upload_id)
        pixels = gray_to_rgb(upload.pixels) if upload.role == "image" else upload.pixels[..., :3]
        return self._encode_png(pixels)

    def _encode_png(self, rgb: np.ndarray) -> bytes:
        """8-bit PNG bytes of float ``(H, W)`` / ``(H, W, 3)`` in [0, 1] (clipped), encoded in memory."""
        return tio.encode(np.clip(rgb, 0.0, 1.0).astype(np.float32), format="png")

    # ----------------------------------------------------------------------------- jobs
    def submit(self, *, image_id: str, method: str, reference_id: str | None = None,
               hints_id: str | None = None) -> Job:
        """Queue a colorization; returns the :class:`Job` at once (poll :meth:`job`)."""
        info = tinct.method_info(method)  # unknown method -> clear TinctError now, not later
        image = self.upload(image_id, "image")
        reference = self.upload(reference_id, "reference") if reference_id else None
        hints = self.upload(hints_id, "hints") if hints_id else None
        given = {k for k, v in (("reference", reference), ("hints", hints)) if v is not None}
        try:
            ignored = info.check_inputs(given)  # the registry's needs check; sizes: colorize()
        except MissingInput as exc:
            raise TinctError(f"{exc}; {_WHAT_TO_DO[exc.kind]}") from None
        if hints is not None:
            hints_from_image(hints.pixels, image.pixels)  # parse now: a wrong size is refused before queueing
        job = Job(id=secrets.token_hex(8), method=method, image=image,
                  reference=None if "reference" in ignored else reference,
                  hints=None if "hints" in ignored else hints)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old_jobs()
        self._queue.put(job)
        return job

    def _forget_old_jobs(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.status in ("done", "error")]
        for key in finished[: max(0, len(finished) - self.max_items)]:
            del self._jobs[key]

    def job(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"job '{job_id}' is unknown or expired; colorize again")
        return job

    def job_status(self, job_id: str) -> dict[str, Any]:
        """``{"status", "fraction", "message", "error", "result_url"?...}`` of a job."""
        job = self.job(job_id)
        with self._lock:
            ahead = sum(1 for j in self._jobs.values() if j.status in ("queued", "running")
                        and j.created < job.created)
        return job.describe(ahead if job.status == "queued" else 0)

    def result_png(self, job_id: str) -> bytes:
        job = self.job(job_id)
        if job.status != "done" or job.result_png is None:
            raise TinctError(f"job '{job_id}' has no result yet (status: {job.status})")
        return job.result_png

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._run(job)
            except TinctError as exc:
                job.status, job.error, job.message = "error", str(exc), "failed"
            except Exception as exc:  # a bug in a method: report it, keep serving
                traceback.print_exc()
                job.status, job.message = "error", "failed"
                job.error = f"internal error in method '{job.method}': {type(exc).__name__}: {exc}"
            finally:
                job.finished = time.monotonic()
            if self._queue.empty():
                self.release()

    def release(self) -> None:
        """Idle: every loaded method frees what it keeps between calls (levin's solver memory);
        the methods stay loaded, so the next job does not reload weights."""
        for method in list(self._methods.values()):
            method.release()

    def _run(self, job: Job) -> None:
        job.status, job.started = "running", time.monotonic()
        job.fraction, job.message = 0.05, f"loading method '{job.method}'"
        colorizer = self._method(job.method)
        hints = None
        if job.hints is not None:
            job.fraction, job.message = 0.1, "reading the scribbles"
            hints = hints_from_image(job.hints.pixels, job.image.pixels)
            if not hints.mask.any():
                hints = None
        job.fraction, job.message = 0.15, f"colorizing {job.image.width}x{job.image.height} with {job.method}"
        reference = job.reference.pixels if job.reference is not None else None
        job.indeterminate = True
        try:
            rgb = colorizer.colorize(job.image.pixels, reference=reference, hints=hints)
        except MissingInput as exc:
            raise TinctError(f"{exc} but none were drawn or given; {_WHAT_TO_DO[exc.kind]}") from None
        finally:
            job.indeterminate = False
        job.fraction, job.message = 0.9, "encoding the PNG"
        job.result_png = self._encode_png(rgb)
        job.status, job.fraction, job.message = "done", 1.0, "done"

    def _method(self, name: str) -> Colorizer:
        # Instances are cached: a method may load weights or build a network once.
        if name not in self._methods:
            self._methods[name] = tinct.load_method(name)
        return self._methods[name]

    def close(self) -> None:
        """Stop the worker (after the current job); uploads and results live in memory only."""
        self._queue.put(None)
        self._worker.join(timeout=5)
