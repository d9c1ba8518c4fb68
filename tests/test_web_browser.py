"""End-to-end: `tinct serve` in Debian's chromium, driven by playwright-core (tests/web_e2e).

The server runs in this process on a free localhost port; ``node tests/web_e2e/e2e.mjs <url> <dir>
<scenario> <method>`` drives the page (see its header): scribbles with zoom, pan, palette and
eyedropper and refused uploads; a reference; the gallery, the strength slider, two methods side by
side and a batch with its zip. Screenshots of each state go to ``test-artifacts/e2e_<scenario>_<method>/``.
Skips with a message where chromium, node or ``tests/web_e2e/node_modules/playwright-core`` is
absent (``.ci/run`` installs them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import tinct
from tinct import io as tio
from tinct.hints import hints_to_image
from tinct.registry import _REGISTRY, Colorizer, Inputs, register
from tinct.testing import serve_in_thread
from tinct.web import budget
from tinct.web.app import WebApp

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
E2E_DIR = ROOT / "tests" / "web_e2e"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
PAINT = "_e2e_paint"
MEAN_REFERENCE = "_e2e_reference"


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is absent (apt-get install chromium)"
    if shutil.which("node") is None:
        return "node is absent"
    if not (E2E_DIR / "node_modules" / "playwright-core").is_dir():
        return "tests/web_e2e/node_modules/playwright-core is absent (cd tests/web_e2e && npm ci)"
    return None


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    reason = _missing()
    if reason:
        pytest.skip(f"browser test skipped: {reason}")

    class PaintHints(Colorizer):
        """Test-only: the gray image with the scribbles painted in (checks the page's geometry)."""

        name = PAINT
        needs = frozenset({"hints"})

        def _colorize(self, gray: np.ndarray, inputs: Inputs) -> np.ndarray:
            return hints_to_image(inputs.hints, gray)

    class MeanReference(Colorizer):
        """Test-only: every pixel takes the reference's mean colour."""

        name = MEAN_REFERENCE
        needs = frozenset({"reference"})

        def _colorize(self, gray: np.ndarray, inputs: Inputs) -> np.ndarray:
            return np.broadcast_to(inputs.reference.mean(axis=(0, 1)), gray.shape + (3,)).copy()

    added = [cls.name for cls in (PaintHints, MeanReference) if cls.name not in _REGISTRY]
    for cls in (PaintHints, MeanReference):
        if cls.name in added:
            register(summary=str(cls.__doc__), paper="(test)")(cls)
    app = WebApp(job_memory_bytes=2 * budget.GB)  # small enough that a photo can be over spynco's share
    server, url = serve_in_thread(app)
    yield url
    server.shutdown()
    server.server_close()
    app.close()
    for name in added:
        _REGISTRY.pop(name, None)


def _run_e2e(url: str, scenario: str, method: str) -> dict:
    artifacts = ARTIFACTS / f"e2e_{scenario}_{method.strip('_')}"
    proc = subprocess.run(["node", str(E2E_DIR / "e2e.mjs"), url, str(artifacts), scenario, method],
                          capture_output=True, text=True, timeout=180, cwd=E2E_DIR)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"e2e script printed no report:\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(lines[-1])
    assert proc.returncode == 0, f"e2e failed: {report.get('failure')}\n{proc.stderr}"
    assert report["page_errors"] == []
    assert {"photo", "scribbles", "reference"} <= set(report["groups"])
    assert "astronaut" in report["examples"]
    return report


def _reddish(rgb: np.ndarray) -> bool:
    return float(rgb[0]) > float(max(rgb[1], rgb[2])) + 0.15


def _scribble_report(url: str, method: str) -> dict:
    report = _run_e2e(url, "scribble", method)
    assert "not an image" in report["bad_upload"]["error"] and report["bad_upload"]["chooser_files"] == 0
    assert report["error_after_good_upload"] is False and report["download_visible_before_result"] is False
    assert report["shows_scribbles"] and not report["shows_reference"]
    assert (report["stroke_count_before_undo"], report["stroke_count"]) == ("2 strokes", "3 strokes")
    assert report["zoom"] == "225 %" and report["palette_color"] == "#5a9e3a"
    assert report["picked_color"] == "#20c040"  # the eyedropper read the colour photo
    assert report["download_name"] == f"synthetic-{method}.png"
    assert tio.read_image(report["download"]).rgb.shape == (120, 160, 3)
    # Refused uploads (too large: by the page; corrupt: by the server) leave the page consistent:
    # the chooser is empty, the previous photo, its name, its strokes and its result stay.
    for key, words in (("after_too_large", "the limit is"), ("after_corrupt", "fake.png")):
        state = report[key]
        assert words in state["error"] and "still using synthetic.png" in state["error"], state
        assert state["note"].startswith("synthetic.png: 160×120") and state["chooser_files"] == 0, state
        assert state["input_width"] == 160 and state["result_shown"], state
        assert state["strokes"] == "3 strokes", state
    return report


def test_browser_scribbles_zoom_palette_eyedropper_and_refused_uploads(server_url: str) -> None:
    """Strokes drawn at fit zoom, zoomed in and panned, with a palette colour and an eyedropper
    colour land exactly where they were drawn (a method that paints the hints), gray elsewhere."""
    report = _scribble_report(server_url, PAINT)
    pixels = {k: np.array(v) / 255.0 for k, v in report["pixels"].items()
              if k not in ("size", "max_channel_spread")}
    np.testing.assert_allclose(pixels["on_stroke"], [1.0, 0.0, 0.0], atol=0.02)
    np.testing.assert_allclose(pixels["zoomed_stroke"], np.array([0x5A, 0x9E, 0x3A]) / 255, atol=0.02)
    np.testing.assert_allclose(pixels["picked_stroke"], np.array([0x20, 0xC0, 0x40]) / 255, atol=0.02)
    assert np.ptp(pixels["off_stroke"]) < 0.02 and np.ptp(pixels["undone_stroke"]) < 0.02, report["pixels"]


def test_browser_scribble_levin(server_url: str) -> None:
    """The same flow with Levin et al.'s scribble propagation: red where the red stroke was."""
    if "levin" not in {m.name for m in tinct.list_methods()}:
        pytest.skip("levin is not registered: the levin part of the browser test is skipped")
    report = _scribble_report(server_url, "levin")
    assert _reddish(np.array(report["pixels"]["on_stroke"]) / 255.0), report["pixels"]


def test_browser_reference(server_url: str) -> None:
    """A method that needs a reference: the page shows the reference upload, and the result takes
    the green reference's colour (the reference reached the method)."""
    report = _run_e2e(server_url, "reference", MEAN_REFERENCE)
    assert report["shows_reference"] and not report["shows_scribbles"]
    np.testing.assert_allclose(np.array(report["pixels"]["centre"]) / 255, np.array([0x20, 0xC0, 0x40]) / 255,
                               atol=0.01)


def test_browser_gallery_strength_comparison_and_batch(server_url: str) -> None:
    """An example from the gallery; fusion's strength slider at 0 gives a gray result; fusion and a
    second method side by side; three photos at once, downloaded as one zip."""
    if "fusion" not in {m.name for m in tinct.list_methods()}:
        pytest.skip("fusion is not registered")
    report = _run_e2e(server_url, "gallery", "fusion")
    assert report["note"].startswith("astronaut.png: 512×512") and report["selected_group"] == "photo"
    assert report["shows_strength"], report
    assert report["gray_result"]["max_channel_spread"] <= 1, report["gray_result"]
    assert [card[0] for card in report["cards"]] == ["fusion", report["second"]]
    assert "strength 1.5" in report["cards"][0][1]
    assert report["colour_result"]["max_channel_spread"] > 20  # strength 1.5: colour, not gray
    assert report["batch_rows"] == ["done"] * 3
    with zipfile.ZipFile(report["zip"]) as archive:
        assert archive.namelist() == ["photo1-fusion.png", "photo2-fusion.png", "photo3-fusion.png"]
    if "spynco" in {m.name for m in tinct.list_methods()}:  # a photo over spynco's share of the 2 GB
        assert "too large for spynco" in report["size_warning"] and report["colorize_disabled"], report
