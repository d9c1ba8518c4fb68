"""State and work of the web app, free of HTTP: uploads, colorization jobs, PNG results.

:class:`WebApp` keeps uploaded images (decoded in memory by :func:`tinct.io.decode`, no
temporary file) in a small in-memory store under random ids, runs colorization jobs one at a
time on a worker thread (the machine's cores are better spent on one image than shared by two)
and keeps each result as PNG bytes (:func:`tinct.io.encode`). :mod:`tinct.web.routes` maps HTTP
requests onto these methods.

Bounds: the job queue holds at most ``max_queue`` jobs (:class:`QueueFull` beyond, answered 503),
a job whose memory estimate (:mod:`tinct.web.budget`) is over ``job_memory_bytes`` is refused
before it is queued, and the upload store keeps at most ``max_items`` uploads and
``max_store_bytes`` of decoded pixels (oldest dropped first).

Every user mistake raises :class:`tinct.errors.TinctError` with a one-line message; the server
turns it into a JSON ``{"error": ...}`` answer, so the page can show it and nothing crashes.
"""

from __future__ import annotations

import dataclasses
import io
import queue
import secrets
import threading
import time
import traceback
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

import tinct
from tinct import io as tio
from tinct.color import gray_to_rgb, rgb_to_luma
from tinct.errors import TinctError, TinctWarning
from tinct.hints import hints_from_image
from tinct.options import build_options
from tinct.registry import Colorizer, MissingInput
from tinct.web import catalog
from tinct.web.budget import DEFAULT_JOB_MEMORY_GB, GB, check_budget, max_pixels_within
from tinct.web.records import Job, Upload

ROLES = ("image", "reference", "hints")
DEFAULT_MAX_UPLOAD_MB = 25.0
DEFAULT_MAX_PIXELS = 16_000_000
DEFAULT_MAX_QUEUE = 16
DEFAULT_MAX_STORE_MB = 2048.0
MAX_CAPTION = 300  # characters of the caption box
# Canvas strokes are anti-aliased: edge pixels are partly transparent. Only pixels at least this
# opaque count as scribbles, so a stroke's soft rim does not smear its colour into the hints.
HINT_ALPHA_THRESHOLD = 0.5


_WHAT_TO_DO = {"reference": "upload a colour reference image", "hints": "draw a coloured stroke on the image",
               "caption": "type a caption"}


class NotFound(TinctError):
    """An upload or job id that is unknown or was dropped (the server answers 404)."""


class QueueFull(TinctError):
    """The job queue is full (the server answers 503 with ``Retry-After: retry_after``)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WebApp:
    """Uploads, jobs and results of one ``tinct serve`` process (thread-safe).

    Args:
        max_upload_bytes: largest request body accepted (the server enforces it before reading).
        max_pixels: largest image (width x height) :func:`tinct.io.read_image` may decode.
        max_items: how many uploads and how many finished jobs are kept (oldest dropped first;
            enough for many users at once: an upload must outlive its user's next request).
        max_queue: how many jobs may wait or run at once; more are refused with :class:`QueueFull`.
        job_memory_bytes: the per-job memory budget (:func:`tinct.web.budget.check_budget`).
        max_store_bytes: decoded pixels kept for all uploads together, and result PNG bytes for
            all finished jobs together (oldest dropped first).
    """

    def __init__(self, *, max_upload_bytes: int = int(DEFAULT_MAX_UPLOAD_MB * 2**20),
                 max_pixels: int = DEFAULT_MAX_PIXELS, max_items: int = 256,
                 max_queue: int = DEFAULT_MAX_QUEUE, job_memory_bytes: int = int(DEFAULT_JOB_MEMORY_GB * GB),
                 max_store_bytes: int = int(DEFAULT_MAX_STORE_MB * 2**20)) -> None:
        self.max_upload_bytes = int(max_upload_bytes)
        self.max_pixels = int(max_pixels)
        self.max_items = int(max_items)
        self.max_queue = int(max_queue)
        self.job_memory_bytes = int(job_memory_bytes)
        self.max_store_bytes = int(max_store_bytes)
        self._seconds_per_job = 2.0  # running mean of finished jobs, for Retry-After
        self._lock = threading.Lock()
        self._uploads: OrderedDict[str, Upload] = OrderedDict()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._methods: dict[str, Colorizer] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="tinct-web-worker", daemon=True)
        self._worker.start()

    # ----------------------------------------------------------------------------- methods
    def config(self) -> dict[str, Any]:
        """Methods whose weights ship (what each needs/accepts, its group and plain description,
        whether it has a strength control, the largest photo its memory estimate allows), the
        groups, the gallery, the default method and the limits."""
        methods = [{
            "name": m.name, "summary": m.summary, "paper": m.paper, "needs": sorted(m.needs),
            "accepts": sorted(m.accepts), "bundled_weights": m.bundled_weights,
            "modality": m.modality, "group": catalog.group_of(m), "plain": catalog.plain_description(m),
            "saturation": "saturation" in {spec.name for spec in m.option_specs()},
            "max_pixels": min(self.max_pixels, max_pixels_within(m.name, self.job_memory_bytes)),
        } for m in tinct.list_methods()
            if not m.factory.temporal  # video methods: not for one photo
            and (not m.weights or m.bundled_weights)]  # a trainable method shows once its weights ship
        groups = [{"key": k, "title": t, "text": x} for k, t, x in catalog.GROUPS]
        examples = [{"name": e.name, "title": e.title, "group": e.group, "has_reference": bool(e.reference),
                     "thumbnail_url": f"/api/examples/{e.name}/thumb.png"} for e in catalog.EXAMPLES]
        return {"methods": methods, "default": tinct.DEFAULT_METHOD, "groups": groups, "examples": examples,
                "max_upload_bytes": self.max_upload_bytes, "max_pixels": self.max_pixels,
                "job_memory_bytes": self.job_memory_bytes, "max_queue": self.max_queue}

    # ----------------------------------------------------------------------------- the gallery
    def add_example(self, name: str) -> dict[str, Any]:
        """Upload a gallery example: ``{"image": upload, "reference": upload | None, "palette_url"}``
        (``palette_url``: the original colour photo, for the page's eyedropper)."""
        try:
            entry = catalog.example(name)
        except KeyError:
            raise NotFound(f"no example called '{name}'") from None
        image = self.add_upload(catalog.example_bytes(entry.image), name=entry.image, role="image")
        reference = (self.add_upload(catalog.example_bytes(entry.reference), name=entry.reference,
                                     role="reference") if entry.reference else None)
        return {"image": image.describe(), "reference": reference.describe() if reference else None,
                "palette_url": f"/api/examples/{name}/colour.png"}

    def example_png(self, name: str, kind: str) -> bytes:
        """``thumb`` (160 px) or ``colour`` (the original colour photo) of a gallery example, as PNG."""
        try:
            return catalog.example_png(name, kind)
        except KeyError:
            raise NotFound(f"no example called '{name}'") from None

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
            while len(self._uploads) > 1 and (len(self._uploads) > self.max_items or sum(
                    u.nbytes for u in self._uploads.values()) > self.max_store_bytes):
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
               hints_id: str | None = None, saturation: float | None = None,
               caption: str | None = None) -> Job:
        """Queue a colorization; returns the :class:`Job` at once (poll :meth:`job`).

        Refused with a one-line :class:`TinctError` before queueing: an unknown method or upload,
        a missing input, scribbles of another size, a ``saturation`` (strength, in [0, 4]) for a
        method without that option, a ``caption`` over :data:`MAX_CAPTION` characters (blank: none;
        ignored by methods without captions), a memory estimate over the budget; :class:`QueueFull`
        when ``max_queue`` jobs are already waiting or running.
        """
        info = tinct.method_info(method)  # unknown method -> clear TinctError now, not later
        if saturation is not None:
            if "saturation" not in {spec.name for spec in info.option_specs()}:
                raise TinctError(f"method '{method}' has no strength (saturation) control")
            build_options(info.options, {"saturation": saturation}, owner=method)  # range check now
        image = self.upload(image_id, "image")
        reference = self.upload(reference_id, "reference") if reference_id else None
        hints = self.upload(hints_id, "hints") if hints_id else None
        caption = _clean_caption(caption)
        inputs = (("reference", reference), ("hints", hints), ("caption", caption))
        given = {k for k, v in inputs if v is not None}
        try:
            ignored = info.check_inputs(given)  # the registry's needs check; sizes: colorize()
        except MissingInput as exc:
            raise TinctError(f"{exc}; {_WHAT_TO_DO[exc.kind]}") from None
        if hints is not None:
            hints_from_image(hints.pixels, image.pixels)  # parse now: a wrong size is refused before queueing
        check_budget(method, image.width, image.height, self.job_memory_bytes)
        job = Job(id=secrets.token_hex(8), method=method, image=image,
                  reference=None if "reference" in ignored else reference,
                  hints=None if "hints" in ignored else hints, saturation=saturation,
                  caption=None if "caption" in ignored else caption)
        with self._lock:
            active = sum(1 for j in self._jobs.values() if j.status in ("queued", "running"))
            if active >= self.max_queue:
                wait = max(1, round(self._seconds_per_job * (active - self.max_queue + 1)))
                raise QueueFull(f"the server is busy ({active} jobs waiting or running); "
                                f"try again in {wait} s", retry_after=wait)
            self._jobs[job.id] = job
            self._forget_old_jobs()
        self._queue.put(job)
        return job

    def _forget_old_jobs(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.status in ("done", "error")]
        kept_bytes = sum(len(self._jobs[k].result_png or b"") for k in finished)
        for key in finished[:-1]:  # the newest result always stays
            if len(finished) <= self.max_items and kept_bytes <= self.max_store_bytes:
                break
            kept_bytes -= len(self._jobs[key].result_png or b"")
            finished.remove(key)
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

    def results_zip(self, job_ids: list[str]) -> bytes:
        """A zip (stored, PNGs do not compress) of finished jobs' results, named
        ``<photo>-<method>.png`` (``-2``, ``-3``... when two would share a name)."""
        if not job_ids:
            raise TinctError("no jobs given; add ?jobs=<id>,<id>...")
        buffer, used = io.BytesIO(), set()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            for job_id in job_ids:
                png, stem = self.result_png(job_id), self.download_name(job_id)[:-4]
                name, k = f"{stem}.png", 1
                while name in used:
                    k += 1
                    name = f"{stem}-{k}.png"
                used.add(name)
                archive.writestr(name, png)
        return buffer.getvalue()

    def download_name(self, job_id: str) -> str:
        """``<photo stem>-<method>.png`` (only letters, digits, ``-`` and ``_`` of the stem)."""
        job = self.job(job_id)
        stem = "".join(c for c in job.image.name.rsplit(".", 1)[0] if c.isalnum() or c in "-_")
        return f"{stem or 'image'}-{job.method}.png"

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
                took = job.finished - (job.started or job.finished)
                self._seconds_per_job = 0.8 * self._seconds_per_job + 0.2 * took
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
        defaults = colorizer.options
        if job.saturation is not None:  # read at colorize time; the cached instance keeps its weights
            colorizer.options = dataclasses.replace(defaults, saturation=float(job.saturation))
        try:
            with warnings.catch_warnings(record=True) as caught:  # one worker thread: safe to record here
                warnings.simplefilter("always", TinctWarning)
                rgb = colorizer.colorize(job.image.pixels, reference=reference, hints=hints,
                                         caption=job.caption)
            notes = [str(w.message) for w in caught if issubclass(w.category, TinctWarning)]
            job.note = "; ".join(notes) or None
        except MissingInput as exc:
            raise TinctError(f"{exc} but none were drawn or given; {_WHAT_TO_DO[exc.kind]}") from None
        finally:
            job.indeterminate = False
            colorizer.options = defaults
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


def _clean_caption(caption: Any) -> str | None:
    """The caption box's text on one line, None when blank; longer than :data:`MAX_CAPTION`: refused."""
    text = " ".join(str(caption).split()) if caption is not None else ""
    if len(text) > MAX_CAPTION:
        raise TinctError(f"the caption is {len(text)} characters long; keep it under {MAX_CAPTION}")
    return text or None
