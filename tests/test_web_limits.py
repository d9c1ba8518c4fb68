"""`tinct serve`'s bounds, in process: the job queue (503 + Retry-After), the per-job memory budget,
read timeouts for stalled headers and bodies, the strength slider, the gallery and the zip of results."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinct.registry import _REGISTRY, Colorizer, Inputs, register
from tinct.testing import serve_in_thread
from tinct.web import budget, catalog
from tinct.web.app import WebApp

RELEASE = threading.Event()
READ_TIMEOUT = 1.0
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results" / "web_memory.json"


class _Blocked(Colorizer):
    """Waits until the test releases it (keeps the worker busy)."""

    name = "_limits_blocked"

    def _colorize(self, gray: np.ndarray, inputs: Inputs) -> np.ndarray:
        RELEASE.wait(10)
        return np.repeat(gray[..., None], 3, axis=2)


@pytest.fixture(scope="module")
def base() -> Iterator[tuple[str, int]]:
    added = _Blocked.name not in _REGISTRY
    if added:
        register(summary="test only: blocks", paper="(test)")(_Blocked)
    app = WebApp(max_queue=2, job_memory_bytes=int(1.5 * budget.GB))
    server, _ = serve_in_thread(app, read_timeout=READ_TIMEOUT)
    yield server.server_address[:2]
    RELEASE.set()
    server.shutdown()
    server.server_close()
    app.close()
    if added:
        _REGISTRY.pop(_Blocked.name, None)


def call(base: tuple[str, int], method: str, path: str, body: bytes | None = None,
         content_type: str = "application/json") -> tuple[int, dict[str, str], bytes]:
    import http.client

    conn = http.client.HTTPConnection(*base, timeout=10)
    try:
        headers = {"Content-Type": content_type} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def upload_png(base: tuple[str, int], shape: tuple[int, int] = (24, 32), name: str = "photo.png") -> str:
    buf = io.BytesIO()
    Image.fromarray(np.full(shape, 120, np.uint8)).save(buf, "PNG")
    status, _, body = call(base, "POST", f"/api/upload?role=image&name={name}", buf.getvalue(), "image/png")
    assert status == 200, body
    return json.loads(body)["id"]


def submit(base: tuple[str, int], **fields: object) -> tuple[int, dict[str, str], dict]:
    status, headers, body = call(base, "POST", "/api/colorize", json.dumps(fields).encode())
    return status, headers, json.loads(body)


def wait_done(base: tuple[str, int], job: str) -> dict:
    for _ in range(500):
        status = json.loads(call(base, "GET", f"/api/jobs/{job}")[2])
        if status["status"] in ("done", "error"):
            return status
        time.sleep(0.02)
    raise AssertionError(status)


def test_full_queue_answers_503_with_retry_after(base: tuple[str, int]) -> None:
    image = upload_png(base)
    RELEASE.clear()
    jobs = [submit(base, image=image, method=_Blocked.name)[2]["job"] for _ in range(2)]
    status, headers, answer = submit(base, image=image, method="gray")
    assert status == 503 and int(headers["retry-after"]) >= 1 and "busy" in answer["error"]
    RELEASE.set()
    assert all(wait_done(base, job)["status"] == "done" for job in jobs)
    status, _, answer = submit(base, image=image, method="gray")  # room again
    assert status == 200 and wait_done(base, answer["job"])["status"] == "done"


def test_job_over_the_memory_budget_is_refused_before_it_starts(base: tuple[str, int]) -> None:
    fits = budget.max_pixels_within("spynco", int(1.5 * budget.GB))  # ~5 MP under the fixture's 1.5 GB
    side = int(np.sqrt(fits * 1.1)) + 1
    big = upload_png(base, (side, side))
    assert budget.estimate_bytes("spynco", side, side) > 1.5 * budget.GB
    status, _, answer = submit(base, image=big, method="spynco")
    assert status == 400 and "--job-memory-gb" in answer["error"] and "shrink the photo" in answer["error"]
    assert "GB" in answer["error"] and "\n" not in answer["error"]
    assert submit(base, image=big, method="gray")[0] == 200  # a cheaper method still runs on it
    config = json.loads(call(base, "GET", "/api/methods")[2])
    spynco = next(m for m in config["methods"] if m["name"] == "spynco")
    assert spynco["max_pixels"] == fits < side * side and config["job_memory_bytes"] == int(1.5 * budget.GB)


def test_budget_estimates_cover_the_measured_peaks() -> None:
    """Every job peak measured through the server (benchmarks/web_memory.py) is under its estimate."""
    if not RESULTS.is_file():
        pytest.skip(f"{RESULTS} is absent (run benchmarks/web_memory.py)")
    rows = [r for r in json.loads(RESULTS.read_text())["rows"] if "job_peak_mb" in r]
    assert rows
    for row in rows:
        w, h = (int(v) for v in row["size"].split("x"))
        assert budget.estimate_bytes(row["method"], w, h) >= row["job_peak_mb"] * 2**20, row
    assert budget.max_pixels_within("gray", 10) == 0


def test_stalled_body_and_stalled_headers_are_dropped(base: tuple[str, int]) -> None:
    started = time.monotonic()
    with socket.create_connection(base, timeout=5) as body_staller, \
            socket.create_connection(base, timeout=5) as header_staller:
        body_staller.sendall(b"POST /api/upload?role=image HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Content-Length: 5000\r\n\r\npartial")
        header_staller.sendall(b"GET /api/methods HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert call(base, "GET", "/api/methods")[0] == 200  # others are served meanwhile
        answer = b"".join(iter(lambda: body_staller.recv(4096), b""))  # until the server closes
        assert b" 408 " in answer.split(b"\r\n")[0] and b"stalled" in answer
        assert header_staller.recv(4096) == b""  # closed without an answer
    assert time.monotonic() - started < READ_TIMEOUT + 2


def test_saturation_is_checked_and_reaches_the_method(base: tuple[str, int]) -> None:
    image = upload_png(base)
    status, _, answer = submit(base, image=image, method="gray", saturation=1.5)
    assert status == 400 and "no strength" in answer["error"]
    status, _, answer = submit(base, image=image, method="fusion", saturation=9)
    assert status == 400 and "saturation must be in [0, 4]" in answer["error"]
    status, _, answer = submit(base, image=image, method="fusion", saturation="lots")
    assert status == 400 and "must be a number" in answer["error"]
    grays = []
    for saturation in (0.0, 2.0):
        image = upload_png(base, (32, 32))
        status, _, answer = submit(base, image=image, method="fusion", saturation=saturation)
        assert status == 200, answer
        done = wait_done(base, answer["job"])
        assert done["status"] == "done" and done["saturation"] == saturation
        png = call(base, "GET", done["result_url"])[2]
        rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.int16)
        grays.append(int(np.ptp(rgb, axis=2).max()))
    assert grays[0] == 0  # strength 0: gray


def test_gallery_examples_upload_in_one_click(base: tuple[str, int]) -> None:
    config = json.loads(call(base, "GET", "/api/methods")[2])
    names = {e["name"] for e in config["examples"]}
    assert {"astronaut", "motorcycle"} <= names
    assert {g["key"] for g in config["groups"]} >= {"photo", "scribbles", "reference", "dual"}
    groups = {m["name"]: m["group"] for m in config["methods"]}
    assert (groups["fusion"], groups["levin"], groups["reinhard"], groups["stereocopy"]) == \
        ("photo", "scribbles", "reference", "dual")
    assert all(m["plain"] for m in config["methods"])
    status, headers, thumb = call(base, "GET", "/api/examples/astronaut/thumb.png")
    assert status == 200 and headers["content-type"] == "image/png"
    assert max(Image.open(io.BytesIO(thumb)).size) <= 160
    status, _, body = call(base, "POST", "/api/examples/motorcycle", b"")
    pair = json.loads(body)
    assert status == 200 and pair["image"]["width"] == pair["reference"]["width"] == 741
    assert call(base, "POST", "/api/examples/nope", b"")[0] == 404
    assert len(catalog.EXAMPLES) == len(names)


def test_results_zip(base: tuple[str, int]) -> None:
    jobs = []
    for name in ("a.png", "a.png", "b.png"):
        answer = submit(base, image=upload_png(base, name=name), method="gray")[2]
        wait_done(base, answer["job"])
        jobs.append(answer["job"])
    status, headers, data = call(base, "GET", "/api/results.zip?jobs=" + ",".join(jobs))
    assert status == 200 and headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["a-gray.png", "a-gray-2.png", "b-gray.png"]
        assert Image.open(io.BytesIO(archive.read("b-gray.png"))).size == (32, 24)
    assert call(base, "GET", "/api/results.zip?jobs=")[0] == 400
    assert call(base, "GET", "/api/results.zip?jobs=feed")[0] == 404


def test_upload_store_is_bounded_in_bytes() -> None:
    app = WebApp(max_store_bytes=10_000)
    try:
        buf = io.BytesIO()
        Image.fromarray(np.zeros((40, 40), np.uint8)).save(buf, "PNG")  # 6.4 kB of float32 luma
        first, second = (app.add_upload(buf.getvalue()) for _ in range(2))
        with pytest.raises(Exception, match="unknown or expired"):
            app.upload(first.id)
        assert app.upload(second.id) is second
    finally:
        app.close()


@pytest.mark.parametrize("fields, group", [
    ({}, "photo"), ({"accepts": frozenset({"hints"})}, "scribbles"),
    ({"needs": frozenset({"reference"}), "accepts": frozenset({"reference"})}, "reference"),
    ({"modality": "nir"}, "nir"), ({"modality": "lineart", "accepts": frozenset({"hints"})}, "lineart"),
    ({"needs": frozenset({"caption"}), "accepts": frozenset({"caption"})}, "caption"),
])
def test_groups_come_from_the_registry_data(fields: dict, group: str) -> None:
    from tinct.registry import MethodInfo

    info = MethodInfo(name="_x", summary="does things", paper="(test)", factory=Colorizer, **fields)
    assert catalog.group_of(info) == group
    assert catalog.plain_description(info) == "Does things."  # the summary when no plain words exist
