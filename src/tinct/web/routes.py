"""The HTTP side of ``tinct serve``: a Starlette (ASGI) application over :class:`~tinct.web.app.WebApp`.

Routes (JSON unless noted; ``docs/web.md`` has the table)::

    GET  /  /static/<file>                   the page (index.html, *.js, app.css)
    GET  /api/methods                        methods, groups, gallery, limits
    GET  /api/examples/<name>/thumb.png      a gallery thumbnail; colour.png: the colour original
    POST /api/examples/<name>                upload a gallery example -> {image, reference, palette_url}
    POST /api/upload?role=R&name=N           raw file body -> {id, width, height, is_color, note}
    GET  /api/uploads/<id>/preview.png       PNG of an upload
    POST /api/colorize                       JSON {image, method, reference?, hints?, saturation?, caption?}
                                             or multipart (files image, reference?, hints?; fields
                                             method, saturation?, caption?) -> {job, status_url}
    GET  /api/jobs/<id>                      {status, fraction, message, error, ...}
    GET  /api/jobs/<id>/result.png           PNG (``?download=1`` adds a file name)
    GET  /api/results.zip?jobs=<id>,<id>     the results of several jobs in one zip

Every error answers ``{"error": "<one line>"}``: 400 bad input, 403 foreign Host/Origin, 404
unknown id, 408 a body that stalls longer than ``read_timeout``, 411/413 no length / too large,
503 the job queue is full (with ``Retry-After``). Decoding and encoding run on at most
``work_threads`` threads, so a burst of uploads cannot hold more decoded images than that at once.
A client that goes away mid-request is dropped silently.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tinct.errors import TinctError
from tinct.web.app import NotFound, QueueFull, WebApp
from tinct.web.multipart import parse_multipart

LOG = logging.getLogger("tinct.web")
Handler = Callable[[Request], Awaitable[Response]]
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}
# A body this many times over the limit is still read and dropped, so that the browser sees our
# 413 message instead of a reset connection; anything bigger is answered at once and cut off.
DRAIN_FACTOR = 4
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                                      "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"}


class HTTPError(Exception):
    """An answer other than 200, with a one-line message; ``close`` ends the connection after it."""

    def __init__(self, status: int, message: str, *, close: bool = False,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.close, self.headers = status, close, dict(headers or {})


class _ClientGone(Exception):
    """The client disconnected: nothing to answer."""


def _send(body: bytes, content_type: str, status: int = 200,
          headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=content_type, headers={**HEADERS, **(headers or {})})


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return _send(json.dumps(payload).encode(), "application/json", status, headers)


def _static_files() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("tinct.web").joinpath("static")
    files = {}
    for item in folder.iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1]
        if suffix in STATIC_TYPES:
            files[item.name] = (item.read_bytes(), STATIC_TYPES[suffix])
    return files


def create_app(app: WebApp, *, read_timeout: float = 5.0, work_threads: int = 2,
               loopback_only: bool = True) -> Starlette:
    """The ASGI application serving ``app``.

    Args:
        app: the uploads/jobs state.
        read_timeout: seconds a request body may stall between two chunks before it is dropped (408).
        work_threads: decodes/encodes at once (each holds one decoded image).
        loopback_only: refuse requests whose ``Host`` is not localhost and foreign ``Origin`` s.
    """
    static = _static_files()
    limiter: list[anyio.CapacityLimiter] = []  # made on first use, inside the event loop

    async def work(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not limiter:
            limiter.append(anyio.CapacityLimiter(work_threads))
        return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=limiter[0])

    async def read_body(request: Request) -> bytes:
        length_text = request.headers.get("content-length")
        if length_text is None or not length_text.isdigit():
            raise HTTPError(411, "the request has no Content-Length", close=True)
        length, limit = int(length_text), app.max_upload_bytes
        too_large = HTTPError(413, f"the upload is {length / 2**20:.1f} MB; the limit is "
                                   f"{limit / 2**20:.0f} MB (tinct serve --max-upload-mb)", close=True)
        if length > DRAIN_FACTOR * limit:
            raise too_large
        chunks, received = [], 0
        while True:
            try:
                message = await asyncio.wait_for(request.receive(), read_timeout)
            except TimeoutError:
                raise HTTPError(408, f"the request body stalled for {read_timeout:g} s and was dropped; "
                                     "send it again", close=True) from None
            if message["type"] == "http.disconnect":
                raise _ClientGone
            received += len(message.get("body", b""))
            if length <= limit:
                chunks.append(message.get("body", b""))
            if not message.get("more_body", False) or received > length:
                break
        if length > limit:
            raise too_large
        return b"".join(chunks)

    def host_ok(request: Request) -> bool:
        """On a loopback address, answer only requests addressed to localhost (DNS rebinding) and
        sent from our own page or a non-browser client (no foreign Origin)."""
        if not loopback_only:
            return True
        host = urlsplit("//" + request.headers.get("host", "")).hostname or ""
        origin = request.headers.get("origin")
        origin_host = None if origin is None else urlsplit(origin).hostname or ""
        return host in LOOPBACK_NAMES and (origin_host is None or origin_host in LOOPBACK_NAMES)

    def endpoint(handler: Handler) -> Handler:
        async def run(request: Request) -> Response:
            try:
                if not host_ok(request):
                    raise HTTPError(403, "request refused: not addressed to this computer's app", close=True)
                return await handler(request)
            except HTTPError as exc:
                headers = {**exc.headers, **({"Connection": "close"} if exc.close else {})}
                return _json({"error": str(exc)}, exc.status, headers)
            except QueueFull as exc:
                return _json({"error": str(exc)}, 503, {"Retry-After": str(exc.retry_after)})
            except NotFound as exc:
                return _json({"error": str(exc)}, 404)
            except TinctError as exc:
                return _json({"error": str(exc)}, 400)
            except _ClientGone:
                return Response(status_code=400, headers={"Connection": "close"})  # nobody reads it
            except Exception as exc:  # a bug: say so once, keep serving
                LOG.exception("internal error on %s %s", request.method, request.url.path)
                return _json({"error": f"internal error: {type(exc).__name__}: {exc}"}, 500)
        return run

    async def page(request: Request) -> Response:
        name = request.path_params.get("name", "index.html")
        if name not in static:
            raise NotFound(f"no such page: {request.url.path}")
        return _send(*static[name])

    async def favicon(request: Request) -> Response:
        return _send(b"", "image/x-icon", 204)

    async def methods(request: Request) -> Response:
        return _json(await work(app.config))

    async def example_png(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in ("thumb", "colour"):
            raise NotFound(f"no such page: {request.url.path}")
        return _send(await work(app.example_png, request.path_params["name"], kind), "image/png")

    async def add_example(request: Request) -> Response:
        return _json(await work(app.add_example, request.path_params["name"]))

    async def upload(request: Request) -> Response:
        body = await read_body(request)
        query = request.query_params
        info = await work(app.add_upload, body, name=query.get("name", "upload"),
                          role=query.get("role", "image"))
        return _json(info.describe())

    async def preview(request: Request) -> Response:
        return _send(await work(app.preview_png, request.path_params["id"]), "image/png")

    async def colorize(request: Request) -> Response:
        body = await read_body(request)
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            fields = parse_multipart(content_type, body)
            fields = await work(_upload_form_files, app, fields)
        else:
            fields = _parse_json_request(body)
        if not fields.get("image"):
            raise TinctError("no image given; upload a photo first")
        job = await work(app.submit, image_id=str(fields["image"]),
                         method=str(fields.get("method") or "gray"),
                         reference_id=fields.get("reference") or None, hints_id=fields.get("hints") or None,
                         saturation=_saturation(fields.get("saturation")), caption=fields.get("caption"))
        return _json({"job": job.id, "status_url": f"/api/jobs/{job.id}"})

    async def job_status(request: Request) -> Response:
        return _json(app.job_status(request.path_params["id"]))

    async def result(request: Request) -> Response:
        job_id = request.path_params["id"]
        headers = {}
        if request.query_params.get("download"):
            headers["Content-Disposition"] = f'attachment; filename="{app.download_name(job_id)}"'
        return _send(app.result_png(job_id), "image/png", headers=headers)

    async def results_zip(request: Request) -> Response:
        ids = [j for j in request.query_params.get("jobs", "").split(",") if j]
        data = await work(app.results_zip, ids)
        disposition = 'attachment; filename="tinct.zip"'
        return _send(data, "application/zip", headers={"Content-Disposition": disposition})

    async def not_found(request: Request) -> Response:
        raise NotFound(f"no such endpoint: {request.method} {request.url.path}")

    get, post = ["GET"], ["POST"]
    table: list[tuple[str, Handler, list[str]]] = [
        ("/", page, get), ("/index.html", page, get), ("/static/{name}", page, get),
        ("/favicon.ico", favicon, get), ("/api/methods", methods, get),
        ("/api/examples/{name}/{kind}.png", example_png, get), ("/api/examples/{name}", add_example, post),
        ("/api/upload", upload, post), ("/api/uploads/{id}/preview.png", preview, get),
        ("/api/colorize", colorize, post), ("/api/jobs/{id}", job_status, get),
        ("/api/jobs/{id}/result.png", result, get), ("/api/results.zip", results_zip, get),
        ("/{rest:path}", not_found, ["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
    return Starlette(routes=[Route(path, endpoint(fn), methods=verbs) for path, fn, verbs in table])


def _parse_json_request(body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise TinctError("the colorize request is not valid JSON") from None
    if not isinstance(request, dict):
        raise TinctError("the colorize request must be a JSON object")
    return request


def _saturation(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TinctError(f"saturation must be a number, got {value!r}") from None


def _upload_form_files(app: WebApp, fields: dict[str, tuple[str | None, bytes]]) -> dict[str, Any]:
    """Multipart colorize (scripts, ``curl -F``): files are uploaded first, then referred to by id."""
    request: dict[str, Any] = {}
    for role in ("image", "reference", "hints"):
        if role in fields and fields[role][1]:
            request[role] = app.add_upload(fields[role][1], name=fields[role][0] or role, role=role).id
    for key in ("method", "saturation"):
        if key in fields:
            request[key] = fields[key][1].decode("utf-8", "replace").strip()
    return request
