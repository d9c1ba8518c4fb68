"""`tinct serve`'s HTTP API, in process: a real server on a free localhost port, tiny images.

Test-only methods (``_test_*``) are registered for the module and removed afterwards, so the
hints / reference / progress / failure paths are exercised whatever methods exist.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tinct import io as tio
from tinct.color import rgb_to_luma
from tinct.errors import TinctError
from tinct.hints import hints_to_image
from tinct.registry import _REGISTRY, Colorizer, Inputs, register
from tinct.testing import serve_in_thread
from tinct.web import server as web_server
from tinct.web.app import WebApp
from tinct.web.server import make_server

MAX_UPLOAD = 200_000
MAX_PIXELS = 100_000
RELEASE_SLOW = threading.Event()


class _Hints(Colorizer):
    """The gray image with the scribbles painted in."""

    name, needs = "_test_hints", frozenset({"hints"})

    def _colorize(self, gray: np.ndarray, inputs: Inputs) -> np.ndarray:
        return hints_to_image(inputs.hints, gray)


class _Reference(Colorizer):
    """Every pixel = the reference's mean colour."""

    name, needs = "_test_reference", frozenset({"reference"})

    def _colorize(self, gray: np.ndarray, inputs: Inputs) -> np.ndarray:
        return np.broadcast_to(inputs.reference.mean(axis=(0, 1)), gray.shape + (3,)).copy()


class _Slow(Colorizer):
    """Waits until the test releases it (to observe the running and queued states)."""

    name = "_test_slow"
    releases = 0

    def release(self) -> None:
        type(self).releases += 1

    def _colorize(self, gray: np.ndarray, inputs: Inputs) -> np.ndarray:
        RELEASE_SLOW.wait(10)
        return np.repeat(gray[..., None], 3, axis=2)


class _Broken(Colorizer):
    """A method with a bug."""

    name = "_test_broken"

    def _colorize(self, gray: np.ndarray, inputs: Inputs) -> np.ndarray:
        raise ZeroDivisionError("oops")


@pytest.fixture(scope="module")
def base() -> Iterator[tuple[str, int]]:
    added = []
    for cls in (_Hints, _Reference, _Slow, _Broken):
        if cls.name not in _REGISTRY:
            register(summary=f"test only: {cls.__doc__}", paper="(test)")(cls)
            added.append(cls.name)
    app = WebApp(max_upload_bytes=MAX_UPLOAD, max_pixels=MAX_PIXELS)
    server, url = serve_in_thread(app)
    yield server.server_address[:2]
    RELEASE_SLOW.set()
    server.shutdown()
    server.server_close()
    app.close()
    for name in added:
        _REGISTRY.pop(name, None)


def request(base: tuple[str, int], method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    conn = http.client.HTTPConnection(*base, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()  # case-insensitive header names
    finally:
        conn.close()


def get_json(base: tuple[str, int], path: str) -> Any:
    status, _, body = request(base, "GET", path)
    assert status == 200, body
    return json.loads(body)


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def upload(base: tuple[str, int], data: bytes, role: str = "image", name: str = "photo.png") -> dict:
    status, _, body = request(base, "POST", f"/api/upload?role={role}&name={name}", data)
    assert status == 200, body
    return json.loads(body)


def error_of(base: tuple[str, int], method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, str]:
    status, _, answer = request(base, method, path, body, headers)
    assert status >= 400
    return status, json.loads(answer)["error"]


def colorize(base: tuple[str, int], **fields: str) -> str:
    status, _, body = request(base, "POST", "/api/colorize", json.dumps(fields).encode(),
                              {"Content-Type": "application/json"})
    assert status == 200, body
    return json.loads(body)["job"]


def wait(base: tuple[str, int], job: str, timeout: float = 10.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status = get_json(base, f"/api/jobs/{job}")
        assert 0.0 <= status["fraction"] <= 1.0
        if status["status"] in ("done", "error"):
            return status
        time.sleep(0.02)
    raise AssertionError(f"job {job} did not finish: {status}")


def result(base: tuple[str, int], job: str) -> np.ndarray:
    status, headers, body = request(base, "GET", f"/api/jobs/{job}/result.png")
    assert status == 200 and headers["Content-Type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"), dtype=np.float32) / 255.0


@pytest.fixture
def gray_u8(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (24, 32), dtype=np.uint8)


def test_methods_lists_every_registered_method_with_its_needs(base: tuple[str, int]) -> None:
    config = get_json(base, "/api/methods")
    by_name = {m["name"]: m for m in config["methods"]}
    assert by_name["gray"]["needs"] == [] and by_name["gray"]["accepts"] == []
    assert by_name["_test_hints"]["needs"] == ["hints"] and by_name["_test_hints"]["accepts"] == ["hints"]
    assert by_name["_test_reference"]["needs"] == ["reference"]
    assert config["default"] in by_name
    assert config["max_upload_bytes"] == MAX_UPLOAD and config["max_pixels"] == MAX_PIXELS


def test_page_and_scripts_are_served_and_work_offline(base: tuple[str, int]) -> None:
    status, headers, page = request(base, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    for element in (b'id="photo"', b'id="method"', b'id="scribbles"', b'id="brush-color"', b'id="undo"',
                    b'id="clear"', b'id="reference"', b'id="compare-slider"', b'id="download"',
                    b'id="progress"', b'role="alert"', b'id="gallery"', b'id="groups"', b'id="strength"',
                    b'id="palette"', b'id="eyedropper"', b'id="zoom-in"', b'id="compare-on"',
                    b'id="batch-zip"', b'type="module"'):
        assert element in page
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    modules = ("app", "api", "methods", "results", "scribble")
    scripts = [("/static/app.css", "text/css")] + [(f"/static/{m}.js", "text/javascript") for m in modules]
    for path, kind in scripts:
        status, headers, body = request(base, "GET", path)
        assert status == 200 and headers["Content-Type"].startswith(kind)
        assert b"http://" not in body and b"https://" not in body  # no CDN: everything is local
    assert request(base, "GET", "/static/../app.py")[0] == 404
    assert request(base, "GET", "/nope")[0] == 404
    assert error_of(base, "GET", "/api/upload") == (404, "no such endpoint: GET /api/upload")


def test_colour_upload_keeps_its_luma_and_gray_round_trips(base: tuple[str, int], rng: np.random.Generator,
                                                           gray_u8: np.ndarray) -> None:
    colour = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    info = upload(base, png(colour))
    assert info["is_color"] and "luma" in info["note"] and (info["width"], info["height"]) == (32, 24)
    _, _, preview = request(base, "GET", f"/api/uploads/{info['id']}/preview.png")
    shown = np.asarray(Image.open(io.BytesIO(preview)).convert("L"), dtype=np.float32) / 255
    np.testing.assert_allclose(shown, rgb_to_luma(colour / 255.0), atol=0.5 / 255 + 1e-6)

    info = upload(base, png(gray_u8), name="old.png")
    assert not info["is_color"] and info["note"] == ""
    job = colorize(base, image=info["id"], method="gray")
    assert wait(base, job)["status"] == "done"
    out = result(base, job)
    np.testing.assert_array_equal(out, np.repeat(gray_u8[..., None] / np.float32(255), 3, axis=2))
    status, headers, _ = request(base, "GET", f"/api/jobs/{job}/result.png?download=1")
    assert headers["Content-Disposition"] == 'attachment; filename="old-gray.png"'


@pytest.mark.parametrize("data, expected", [
    (b"this is not a picture", "not an image"),
    (png(np.random.default_rng(1).integers(0, 256, (64, 64), dtype=np.uint8))[:2000], "corrupt"),
    (b"", "empty"),
    (png(np.zeros((400, 400), np.uint8)), "over the limit of 100,000"),
], ids=["text", "truncated", "empty", "too-many-pixels"])
def test_bad_uploads_get_one_clear_line_and_the_server_keeps_running(
        base: tuple[str, int], data: bytes, expected: str) -> None:
    status, message = error_of(base, "POST", "/api/upload?role=image&name=holiday.jpg", data)
    assert status == 400 and expected in message and "\n" not in message
    assert "/tmp" not in message and ("holiday.jpg" in message or not data)  # the user's name
    assert get_json(base, "/api/methods")["methods"]


def test_too_large_body_is_refused_before_decoding(base: tuple[str, int]) -> None:
    status, message = error_of(base, "POST", "/api/upload?role=image&name=big.png", b"x" * (MAX_UPLOAD + 1))
    assert status == 413 and "limit" in message and "--max-upload-mb" in message
    # Announced far over the limit: answered from the header, the body is never read.
    status, message = error_of(base, "POST", "/api/upload", b"", {"Content-Length": str(10**9)})
    assert status == 413
    assert get_json(base, "/api/methods")["methods"]


def test_scribbles_as_rgba_hints(base: tuple[str, int], gray_u8: np.ndarray) -> None:
    image = upload(base, png(gray_u8))
    rgba = np.zeros((24, 32, 4), np.uint8)
    rgba[4:8, 4:10] = (255, 0, 0, 255)   # an opaque red stroke
    rgba[15:20, 20:25] = (0, 0, 255, 60)  # a faint anti-aliased rim: ignored
    hints = upload(base, png(rgba), role="hints", name="scribbles.png")
    job = colorize(base, image=image["id"], method="_test_hints", hints=hints["id"])
    assert wait(base, job)["status"] == "done"
    out = result(base, job)
    np.testing.assert_array_equal(out[4:8, 4:10], np.broadcast_to([1.0, 0.0, 0.0], (4, 6, 3)))
    mask = np.ones((24, 32), bool)
    mask[4:8, 4:10] = False
    assert np.ptp(out[mask], axis=1).max() == 0  # gray everywhere else, the faint rim included


def test_hint_and_reference_mistakes(base: tuple[str, int], gray_u8: np.ndarray) -> None:
    image = upload(base, png(gray_u8))["id"]
    wrong = upload(base, png(np.zeros((10, 10, 4), np.uint8)), role="hints")["id"]
    empty = upload(base, png(np.zeros((24, 32, 4), np.uint8)), role="hints")["id"]
    cases = [({"method": "_test_hints"}, "needs colour scribbles"),
             ({"method": "_test_hints", "hints": wrong}, "must be the same size"),
             ({"method": "_test_reference"}, "needs a colour reference"),
             ({"method": "no_such_method"}, "unknown method 'no_such_method'"),
             ({"method": "gray", "reference": image}, "is the photo, not the colour reference")]
    for fields, expected in cases:
        payload = json.dumps({"image": image, **fields}).encode()
        status, message = error_of(base, "POST", "/api/colorize", payload)
        assert status == 400 and expected in message, (fields, message)
    status, message = error_of(base, "POST", "/api/colorize", b"{not json")
    assert status == 400 and "JSON" in message
    status, message = error_of(base, "POST", "/api/colorize", json.dumps({"image": "feedbeef"}).encode())
    assert status == 404 and "upload the file again" in message
    job = colorize(base, image=image, method="_test_hints", hints=empty)  # all transparent
    done = wait(base, job)
    assert done["status"] == "error" and "none were drawn" in done["error"]
    assert error_of(base, "GET", f"/api/jobs/{job}/result.png")[0] == 400
    assert error_of(base, "GET", "/api/jobs/0000/result.png")[0] == 404


def test_reference_and_multipart_form(base: tuple[str, int], gray_u8: np.ndarray) -> None:
    reference = np.zeros((6, 9, 3), np.uint8)
    reference[..., 1] = 200
    boundary = "tinctboundary"
    parts = [("method", None, b"_test_reference"), ("image", "old.png", png(gray_u8)),
             ("reference", "grass.png", png(reference))]
    body = b"".join(
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"".encode()
        + (f"; filename=\"{filename}\"\r\nContent-Type: image/png".encode() if filename else b"")
        + b"\r\n\r\n" + data + b"\r\n" for name, filename, data in parts) + f"--{boundary}--\r\n".encode()
    status, _, answer = request(base, "POST", "/api/colorize", body,
                                {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200, answer
    job = json.loads(answer)["job"]
    assert wait(base, job)["status"] == "done"
    np.testing.assert_allclose(result(base, job), np.broadcast_to([0, 200 / 255, 0], (24, 32, 3)), atol=1e-6)


def test_progress_queue_and_a_crashing_method(base: tuple[str, int], gray_u8: np.ndarray) -> None:
    image = upload(base, png(gray_u8))["id"]
    RELEASE_SLOW.clear()
    slow = colorize(base, image=image, method="_test_slow")
    broken = colorize(base, image=image, method="_test_broken")
    for _ in range(200):
        running = get_json(base, f"/api/jobs/{slow}")
        if running["status"] == "running":
            break
        time.sleep(0.01)
    assert running["indeterminate"] and "colorizing 32x24 with _test_slow" in running["message"]
    assert 0 < running["fraction"] < 1
    queued = get_json(base, f"/api/jobs/{broken}")
    assert queued["status"] == "queued" and "1 job(s) ahead" in queued["message"]
    RELEASE_SLOW.set()
    assert wait(base, slow)["status"] == "done"
    failed = wait(base, broken)
    assert failed["status"] == "error" and "ZeroDivisionError: oops" in failed["error"]
    assert wait(base, colorize(base, image=image, method="gray"))["status"] == "done"  # still serving
    for _ in range(200):  # idle: every loaded method releases its kept memory
        if _Slow.releases:
            break
        time.sleep(0.01)
    assert _Slow.releases >= 1


def test_foreign_host_and_origin_are_refused(base: tuple[str, int]) -> None:
    assert request(base, "GET", "/api/methods", headers={"Host": "evil.example:7860"})[0] == 403
    status, _, _ = request(base, "POST", "/api/upload", b"x", {"Origin": "http://evil.example"})
    assert status == 403
    assert request(base, "GET", "/api/methods", headers={"Host": "localhost:1"})[0] == 200


def test_cli_arguments_and_port_in_use(base: tuple[str, int]) -> None:
    parser = argparse.ArgumentParser()
    web_server.add_arguments(parser)
    args = parser.parse_args([])
    assert (args.host, args.port, args.max_upload_mb) == ("127.0.0.1", 7860, 25.0)
    with pytest.raises(TinctError, match="cannot listen on 127.0.0.1:.*--port"):
        make_server(WebApp(), "127.0.0.1", base[1])


def test_main_prints_the_url_and_stops_on_ctrl_c(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    def interrupt(self: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(web_server.ServerHandle, "serve_forever", interrupt)
    parser = argparse.ArgumentParser()
    web_server.add_arguments(parser)
    assert web_server.main(parser.parse_args(["--port", "0"])) == 0
    out = capsys.readouterr().out
    assert out.startswith("tinct serve: http://127.0.0.1:") and ":0/" not in out


def test_written_result_is_a_valid_png_for_tinct_io(base: tuple[str, int], gray_u8: np.ndarray,
                                                    tmp_path: Path) -> None:
    job = colorize(base, image=upload(base, png(gray_u8))["id"], method="gray")
    wait(base, job)
    path = tmp_path / "result.png"
    path.write_bytes(request(base, "GET", f"/api/jobs/{job}/result.png")[2])
    assert tio.read_image(path).rgb.shape == (24, 32, 3)
