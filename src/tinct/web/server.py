"""``tinct serve``: the web app over Python's standard-library HTTP server (no extra dependency).

The CLI calls :func:`add_arguments` and :func:`main`. Routes (JSON unless noted)::

    GET  /                          the page (static/index.html, app.js, app.css)
    GET  /api/methods               {"methods": [{name, summary, paper, needs, accepts}], "default", limits}
    POST /api/upload?role=R&name=N  raw file body -> {"id", "width", "height", "is_color", "note"}
                                    R = image (kept as luma) | reference | hints (RGBA, same size)
    GET  /api/uploads/<id>/preview.png   PNG: the gray input / the reference / the scribbles
    POST /api/colorize              JSON {"image": id, "method", "reference": id?, "hints": id?}
                                    or multipart/form-data with files image, reference?, hints?
                                    and a field method -> {"job": id}
    GET  /api/jobs/<id>             {"status": queued|running|done|error, "fraction", "message", "error"}
    GET  /api/jobs/<id>/result.png  PNG result (``?download=1`` adds a file name)

A user's mistake answers 4xx with ``{"error": "<one line>"}``; the server keeps running.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import ipaddress
import json
import signal
import socket
import sys
import threading
import traceback
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tinct.errors import TinctError
from tinct.web.app import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_MB, NotFound, WebApp

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/static/app.css": ("app.css", "text/css; charset=utf-8")}
# A body this many times over the limit is still read and dropped, so that the browser sees our
# 413 message instead of a reset connection; anything bigger is cut off.
_DRAIN_FACTOR = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``tinct serve``'s options to ``parser``."""
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}: this computer only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT}; 0 picks a free one and prints it)")
    parser.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB,
                        help=f"largest upload in MB (default {DEFAULT_MAX_UPLOAD_MB:g})")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help=f"largest image in pixels, width x height (default {DEFAULT_MAX_PIXELS:,})")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")


def main(args: argparse.Namespace) -> int:
    """Run the server until Ctrl+C; returns the exit status."""
    if args.max_upload_mb <= 0 or args.max_pixels <= 0:
        raise TinctError("--max-upload-mb and --max-pixels must be positive")
    if not 0 <= args.port <= 65535:
        raise TinctError(f"--port must be in 0..65535, got {args.port}")
    app = WebApp(max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels)
    server = make_server(app, args.host, args.port, log_requests=args.log_requests)
    url = server_url(server)
    if not _is_loopback(args.host):
        print(f"warning: listening on {args.host}: anyone who can reach this address can use the app",
              file=sys.stderr)
    print(f"tinct serve: {url} (Ctrl+C to stop)", flush=True)
    if args.open:
        webbrowser.open(url)
    on_main_thread = threading.current_thread() is threading.main_thread()
    if on_main_thread:  # `kill` stops it as cleanly as Ctrl+C (the temporary folder is removed)
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)
        server.server_close()
        app.close()
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: WebApp
    log_requests: bool
    loopback_only: bool


class _Server6(_Server):
    address_family = socket.AF_INET6


def make_server(app: WebApp, host: str = DEFAULT_HOST, port: int = 0, *,
                log_requests: bool = False) -> ThreadingHTTPServer:
    """A bound (not yet serving) HTTP server for ``app``; call ``serve_forever()`` on it."""
    cls = _Server6 if ":" in host else _Server
    try:
        server = cls((host, port), _Handler)
    except OSError as exc:
        raise TinctError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                         "choose another --port (0 picks a free one)") from None
    server.app, server.log_requests = app, log_requests
    server.loopback_only = _is_loopback(host)
    return server


def server_url(server: ThreadingHTTPServer) -> str:
    """``http://host:port/`` of a bound server (the real port when 0 was asked)."""
    host, port = server.server_address[:2]
    host = "127.0.0.1" if host == "0.0.0.0" else host
    return f"http://[{host}]:{port}/" if ":" in str(host) else f"http://{host}:{port}/"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """``multipart/form-data`` -> {field: (file name or None, bytes)} (standard library only)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise TinctError("the form is not valid multipart/form-data")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "tinct-serve"
    protocol_version = "HTTP/1.1"

    # ------------------------------------------------------------------------- plumbing
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        if self.server.log_requests:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _host_ok(self) -> bool:
        """On a loopback address, answer only requests addressed to localhost (DNS rebinding) and,
        for writes, sent from our own page or a non-browser client (no foreign Origin)."""
        if not self.server.loopback_only:
            return True
        allowed = {"localhost", "127.0.0.1", "::1"}
        host = urlsplit("//" + (self.headers.get("Host") or "")).hostname or ""
        if host not in allowed:
            return False
        origin = self.headers.get("Origin")
        return origin is None or (urlsplit(origin).hostname or "") in allowed

    def _body(self) -> bytes | None:
        """The request body, or ``None`` after answering 411/413 (size checked before reading)."""
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self.close_connection = True
            self._error(HTTPStatus.LENGTH_REQUIRED, "the request has no Content-Length")
            return None
        length, limit = int(length_text), self.server.app.max_upload_bytes
        if length > limit:
            if length <= _DRAIN_FACTOR * limit:
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            self.close_connection = True
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"the upload is {length / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB "
                        "(tinct serve --max-upload-mb)")
            return None
        return self.rfile.read(length)

    def _dispatch(self, routes: Any) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if not self._host_ok():
            self.close_connection = True  # a POST body is left unread
            self._error(HTTPStatus.FORBIDDEN, "request refused: not addressed to this computer's app")
            return
        try:
            routes(url.path, query)
        except NotFound as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc))
        except TinctError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # a bug: say so, keep serving
            traceback.print_exc()
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(exc).__name__}: {exc}")

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch(self._get)

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch(self._post)

    # ------------------------------------------------------------------------- routes
    def _get(self, path: str, query: dict[str, str]) -> None:
        app = self.server.app
        parts = path.strip("/").split("/")
        if path in STATIC:
            name, content_type = STATIC[path]
            body = resources.files("tinct.web").joinpath("static", name).read_bytes()
            self._send(HTTPStatus.OK, body, content_type)
        elif path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        elif path == "/api/methods":
            self._json(HTTPStatus.OK, app.config())
        elif len(parts) == 4 and parts[:2] == ["api", "uploads"] and parts[3] == "preview.png":
            self._send(HTTPStatus.OK, app.preview_png(parts[2]), "image/png")
        elif len(parts) == 3 and parts[:2] == ["api", "jobs"]:
            self._json(HTTPStatus.OK, app.job_status(parts[2]))
        elif len(parts) == 4 and parts[:2] == ["api", "jobs"] and parts[3] == "result.png":
            job = app.job(parts[2])
            png = app.result_png(job.id)
            headers = {}
            if query.get("download"):
                stem = "".join(c for c in job.image.name.rsplit(".", 1)[0] if c.isalnum() or c in "-_")
                headers["Content-Disposition"] = f'attachment; filename="{stem or "image"}-{job.method}.png"'
            self._send(HTTPStatus.OK, png, "image/png", headers)
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such page: {path}")

    def _post(self, path: str, query: dict[str, str]) -> None:
        if path not in ("/api/upload", "/api/colorize"):
            self.close_connection = True
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: POST {path}")
            return
        body = self._body()
        if body is None:
            return
        app = self.server.app
        if path == "/api/upload":
            upload = app.add_upload(body, name=query.get("name", "upload"), role=query.get("role", "image"))
            self._json(HTTPStatus.OK, upload.describe())
            return
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            request = self._colorize_form(parse_multipart(content_type, body))
        else:
            try:
                request = json.loads(body or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise TinctError("the colorize request is not valid JSON") from None
            if not isinstance(request, dict):
                raise TinctError("the colorize request must be a JSON object")
        if not request.get("image"):
            raise TinctError("no image given; upload a photo first")
        job = app.submit(image_id=str(request["image"]), method=str(request.get("method") or "gray"),
                         reference_id=request.get("reference") or None, hints_id=request.get("hints") or None)
        self._json(HTTPStatus.OK, {"job": job.id, "status_url": f"/api/jobs/{job.id}"})

    def _colorize_form(self, fields: dict[str, tuple[str | None, bytes]]) -> dict[str, Any]:
        """Multipart colorize (scripts, ``curl -F``): files are uploaded first, then referred to."""
        app, request = self.server.app, {}
        for role in ("image", "reference", "hints"):
            if role in fields and fields[role][1]:
                name = fields[role][0] or role
                request[role] = app.add_upload(fields[role][1], name=name, role=role).id
        request["method"] = fields.get("method", (None, b"gray"))[1].decode("utf-8", "replace").strip()
        return request
