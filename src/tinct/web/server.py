"""``tinct serve``: the web app on uvicorn (an ASGI server), routes in :mod:`tinct.web.routes` (Starlette).

The CLI calls :func:`add_arguments` and :func:`main`; tests and scripts call :func:`make_server`
(a bound :class:`ServerHandle`) and run it on a thread. Hardening against many or bad clients:

- the listening socket's backlog is :data:`BACKLOG` (the standard library server's was 5, so a
  burst of 50 clients got connection resets);
- a connection that does not finish its request headers within ``read_timeout`` seconds is
  closed (:class:`_TimedH11Protocol`), and a body that stalls that long between two chunks is
  answered 408 and dropped (:mod:`tinct.web.routes`): stalled clients hold a socket, never a thread;
- the job queue is bounded (503 + Retry-After), each job's memory is estimated and refused over
  the budget before it starts, decodes run on at most two threads (:class:`tinct.web.app.WebApp`);
- a client that disconnects is dropped without a traceback (uvicorn's and our own handling).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import socket
import sys
import threading
import webbrowser
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from tinct.errors import TinctError
from tinct.web.app import DEFAULT_MAX_PIXELS, DEFAULT_MAX_QUEUE, DEFAULT_MAX_UPLOAD_MB, WebApp
from tinct.web.budget import DEFAULT_JOB_MEMORY_GB, GB
from tinct.web.routes import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_READ_TIMEOUT = 5.0
BACKLOG = 1024


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
    parser.add_argument("--job-memory-gb", type=float, default=DEFAULT_JOB_MEMORY_GB,
                        help="refuse a job whose estimated peak memory is over this "
                             f"(default {DEFAULT_JOB_MEMORY_GB:g})")
    parser.add_argument("--max-queue", type=int, default=DEFAULT_MAX_QUEUE,
                        help="jobs waiting or running at once; more are answered 503 "
                             f"(default {DEFAULT_MAX_QUEUE})")
    parser.add_argument("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT,
                        help="seconds a client may stall while sending its request before it is dropped "
                             f"(default {DEFAULT_READ_TIMEOUT:g})")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")


def main(args: argparse.Namespace) -> int:
    """Run the server until Ctrl+C (or SIGTERM); returns the exit status."""
    for name in ("max_upload_mb", "max_pixels", "job_memory_gb", "max_queue", "read_timeout"):
        if getattr(args, name) <= 0:
            raise TinctError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if not 0 <= args.port <= 65535:
        raise TinctError(f"--port must be in 0..65535, got {args.port}")
    app = WebApp(max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels,
                 max_queue=args.max_queue, job_memory_bytes=int(args.job_memory_gb * GB))
    server = make_server(app, args.host, args.port, log_requests=args.log_requests,
                         read_timeout=args.read_timeout)
    if not _is_loopback(args.host):
        print(f"warning: listening on {args.host}: anyone who can reach this address can use the app",
              file=sys.stderr)
    print(f"tinct serve: {server.url} (Ctrl+C to stop)", flush=True)
    if args.open:
        webbrowser.open(server.url)
    on_main_thread = threading.current_thread() is threading.main_thread()
    if on_main_thread:  # `kill` stops it as cleanly as Ctrl+C
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping", file=sys.stderr)
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)
        server.server_close()
        app.close()
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class _TimedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, plus: a connection that has not sent complete request headers
    ``header_timeout`` seconds after it opened (or after its previous response) is closed."""

    header_timeout = DEFAULT_READ_TIMEOUT
    _header_timer: Any = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_overdue)

    def _headers_overdue(self) -> None:
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


class ServerHandle:
    """A bound server: ``serve_forever()`` (blocks), ``shutdown()`` (from another thread, waits),
    ``server_close()``; ``url`` and ``server_address`` tell where it listens."""

    def __init__(self, sock: socket.socket, config: uvicorn.Config) -> None:
        self.socket, self.config = sock, config
        self.server_address = sock.getsockname()
        self._uvicorn = uvicorn.Server(config)
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        """``http://host:port/`` (the real port when 0 was asked)."""
        host, port = self.server_address[:2]
        host = "127.0.0.1" if host == "0.0.0.0" else host
        return f"http://[{host}]:{port}/" if ":" in str(host) else f"http://{host}:{port}/"

    def serve_forever(self) -> None:
        try:
            self._uvicorn.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        self._uvicorn.should_exit = True
        self._stopped.wait(timeout)

    def server_close(self) -> None:
        self.socket.close()


def make_server(app: WebApp, host: str = DEFAULT_HOST, port: int = 0, *, log_requests: bool = False,
                read_timeout: float = DEFAULT_READ_TIMEOUT) -> ServerHandle:
    """A bound (not yet serving) server for ``app``; call ``serve_forever()`` on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as exc:
        raise TinctError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                         "choose another --port (0 picks a free one)") from None
    if log_requests:
        access = logging.getLogger("uvicorn.access")
        access.setLevel(logging.INFO)
        if not access.handlers:
            access.addHandler(logging.StreamHandler(sys.stderr))
    protocol = type("TimedH11Protocol", (_TimedH11Protocol,), {"header_timeout": read_timeout})
    asgi = create_app(app, read_timeout=read_timeout, loopback_only=_is_loopback(host))
    config = uvicorn.Config(asgi, http=protocol, lifespan="off", log_config=None, access_log=log_requests,
                            backlog=BACKLOG, timeout_keep_alive=5, timeout_graceful_shutdown=3,
                            server_header=False)
    return ServerHandle(sock, config)


def server_url(server: ServerHandle) -> str:
    """``http://host:port/`` of a bound server (kept for callers of the earlier API)."""
    return server.url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
