"""The caption protocol (`tinct bench caption`: ab accuracy@k, ΔE00 in the named regions, the
manipulation rate) and the caption box of the web app."""

from __future__ import annotations

import http.client
import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from test_caption import TRAIN_ARGS, write_stanford

import tinct
from tinct import cli
from tinct.bench.caption import coco_cases, evaluate_caption, summarize, topk_hits, true_bins
from tinct.data.captions import tokenize
from tinct.errors import TinctError, TinctWarning
from tinct.io import encode, write_image
from tinct.registry import _REGISTRY, Colorizer, Inputs, register
from tinct.web import catalog
from tinct.web.app import WebApp

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_topk_hits_on_a_constructed_case() -> None:
    truth = torch.tensor([[[0, 1, 4]]])  # (N=1, h=1, w=3) true bins
    logits = torch.tensor([[5.0, 4, 3, 2, 1], [4, 3, 5, 2, 1], [5, 4, 3, 2, 1]]).T.reshape(1, 5, 1, 3)
    # pixel 0: true bin ranked 1st; pixel 1: 3rd (bins 2, 0, 1 ...); pixel 2: 5th (last)
    assert topk_hits(logits, truth, ks=(1, 2, 3, 5)) == {1: 1, 2: 1, 3: 2, 5: 3}
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    ab = torch.tensor([[[[1.0, 9.0, 2.0]], [[1.0, 0.0, 8.0]]]])  # (1, 2, 1, 3): (1,1) (9,0) (2,8)
    assert true_bins(ab, centers).tolist() == [[[0, 1, 2]]]


def test_summary_pools_pixels_and_splits_reachable_swaps() -> None:
    swap = {"reachable": True, "to": "red", "got": "red", "de_in": 20.0, "de_out": 2.0}
    rows = [{"hits1": 10, "hits5": 40, "pixels": 100, "hits1_empty": 5, "hits5_empty": 30,
             "pixels_empty": 100, "de_regions": 4.0, "swaps": [swap, {**swap, "got": "brown"}]},
            {"hits1": 0, "hits5": 20, "pixels": 300, "hits1_empty": 0, "hits5_empty": 10, "pixels_empty": 300,
             "de_regions": 8.0, "swaps": [{**swap, "reachable": False, "to": "white", "got": "white"}]}]
    s = summarize(rows)
    assert s["acc1"] == pytest.approx(2.5) and s["acc5"] == pytest.approx(15.0)
    assert s["acc1_empty"] == pytest.approx(1.25) and s["de_regions"] == pytest.approx(6.0)
    assert s["manip"] == pytest.approx(200 / 3) and s["manip_reachable"] == pytest.approx(50.0)
    assert s["swaps"] == 3 and s["swaps_reachable"] == 2 and np.isnan(s["de_image"])
    assert s["manip_ceiling"] == pytest.approx(200 / 3)
    assert s["swap_de_in"] == pytest.approx(20.0) and s["swap_de_out"] == pytest.approx(2.0)


def write_coco(root: Path) -> Path:
    """A COCO-subset-shaped folder: two images, one with a colour word in a caption."""
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "b.jpg"):
        write_image(root / "images" / name, rng.uniform(0, 1, (48, 64, 3)).astype(np.float32))
    index = {"a.jpg": {"captions": ["A cat on a mat.", "A grey cat sleeping."], "color_words": ["grey"]},
             "b.jpg": {"captions": ["Two dogs playing."], "color_words": []}}
    (root / "captions.json").write_text(json.dumps(index))
    return root


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[str, Path]:
    root = write_stanford(tmp_path_factory.mktemp("sb"))
    run = tmp_path_factory.mktemp("run")
    assert cli.main(["train", "caption", "--stanford", str(root), "--out", str(run), *TRAIN_ARGS,
                     "--steps", "2"]) == 0
    return {"stanford": root, "weights": run / "caption.safetensors", "coco": write_coco(run / "coco")}


def test_coco_cases_take_the_first_caption_with_a_colour_word(weights) -> None:
    cases = coco_cases(weights["coco"])
    assert [(c.name, c.caption, c.labels) for c in cases] == [("a.jpg", "A grey cat sleeping.", None)]


def test_protocol_end_to_end_on_synthetic_sets(weights) -> None:
    method = tinct.load_method("caption", weights=str(weights["weights"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TinctWarning)
        report = evaluate_caption(method, stanford=weights["stanford"], coco=weights["coco"], swaps=2)
    s = report.summary()
    assert s["stanford_val"]["images"] == 2 and s["coco_color"]["images"] == 1
    assert s["stanford_val"]["swaps"] == 4 and s["coco_color"]["swaps"] == 0
    for key in ("acc1", "acc5", "acc1_empty", "acc5_empty"):
        assert 0.0 <= s["stanford_val"][key] <= 100.0
    assert s["stanford_val"]["acc1"] <= s["stanford_val"]["acc5"]
    assert s["stanford_val"]["de_regions"] > 0 and np.isnan(s["coco_color"]["de_regions"])
    assert s["stanford_val"]["swap_de_in"] >= 0 and s["stanford_val"]["swap_de_out"] >= 0
    assert np.isnan(s["coco_color"]["swap_de_in"])
    rows = report.to_markdown().splitlines()
    assert len(rows) == 4 and rows[2].startswith("| stanford_val | 2 |")
    with pytest.raises(TinctError, match="does not use a caption"):
        evaluate_caption(tinct.load_method("gray"), stanford=weights["stanford"])


def test_bench_caption_command(weights, tmp_path, capsys) -> None:
    base = ["bench", "caption", "--weights", str(weights["weights"]), "--stanford", str(weights["stanford"]),
            "-q"]
    out = tmp_path / "r.json"
    assert cli.main([*base, "--coco", str(weights["coco"]), "--swaps", "1", "--json", str(out),
                     "--markdown", str(tmp_path / "r.md")]) == 0
    assert "| coco_color | 1 |" in capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert doc["summary"]["stanford_val"]["swaps"] == 2 and len(doc["images"]["stanford_val"]) == 2
    assert (tmp_path / "r.md").read_text().startswith("# caption on the caption protocol")
    assert cli.main([*base, "--coco", str(tmp_path / "nope")]) == 2
    assert cli.main(["bench", "caption", "--method", "fusion", "-q"]) == 2
    assert "does not use a caption" in capsys.readouterr().err


@pytest.mark.data
@pytest.mark.skipif(not (SHARED / "segmentation" / "stanford_background").is_dir(),
                    reason="needs ../shared/data")
def test_real_stanford_regions_get_plausible_words() -> None:
    from tinct.bench.caption import stanford_cases

    cases = stanford_cases(SHARED / "segmentation" / "stanford_background", limit=20)
    words = {r.word for c in cases for r in c.regions if r.label == 0}  # skies
    assert words and words <= {"blue", "white", "gray", "black", "brown", "pink", "orange", "yellow"}
    assert all(not tokenize(c.caption)[1] for c in cases)  # synthesized: no word outside the vocabulary


# ------------------------------------------------------------------ the web app's caption box
class _Caption(Colorizer):
    """red when the caption says red; warns about 'zebra'"""

    name = "_test_caption"
    accepts = frozenset({"caption"})

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        if inputs.caption and "zebra" in inputs.caption:
            warnings.warn(TinctWarning("caption: unknown word ignored: zebra"), stacklevel=2)
        tint = (0.25, -0.1, -0.1) if inputs.caption and "red" in inputs.caption else (0.0, 0.0, 0.0)
        return np.clip(image[..., None] + np.array(tint, np.float32), 0, 1)


@pytest.fixture
def web() -> Iterator[tuple[WebApp, tuple[str, int]]]:
    from tinct.testing import serve_in_thread

    register(summary="test only", paper="(test)")(_Caption)
    app = WebApp()
    server, _ = serve_in_thread(app)
    try:
        yield app, server.server_address[:2]
    finally:
        server.shutdown()
        server.server_close()
        app.close()
        _REGISTRY.pop(_Caption.name, None)


def _post_json(base: tuple[str, int], path: str, payload: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(*base, timeout=10)
    conn.request("POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def _wait(app: WebApp, job_id: str) -> dict:
    for _ in range(200):
        status = app.job_status(job_id)
        if status["status"] in ("done", "error"):
            return status
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_web_caption_box_reaches_the_method_and_its_warning_comes_back(web) -> None:
    app, base = web
    upload = app.add_upload(encode(np.full((16, 24, 3), 0.5, np.float32), format="png"), name="x.png")
    status, reply = _post_json(base, "/api/colorize", {"image": upload.id, "method": "_test_caption",
                                                        "caption": "  a red\n zebra "})
    assert status == 200
    done = _wait(app, reply["job"])
    assert done["status"] == "done" and done["caption"] == "a red zebra" and "zebra" in done["note"]
    rgb = tinct.io.decode(app.result_png(reply["job"]), name="r.png").rgb
    assert rgb[..., 0].mean() > rgb[..., 2].mean() + 0.1  # the caption's red arrived
    plain = app.submit(image_id=upload.id, method="gray", caption="blue sky")  # gray ignores it
    assert plain.caption is None and _wait(app, plain.id)["note"] is None
    with pytest.raises(TinctError, match="caption is 301 characters"):
        app.submit(image_id=upload.id, method="_test_caption", caption="x" * 301)
    config = app.config()
    groups = {m["name"]: m["group"] for m in config["methods"]}
    assert groups["_test_caption"] == "caption" and groups["caption"] == "caption"  # bundled weights
    assert catalog.group_of(tinct.method_info("caption")) == "caption"


def test_held_out_photos_make_a_tuning_set_scored_with_swaps(weights, tmp_path) -> None:
    from fixtures.caption_scene import scene as _scene

    from tinct.bench.caption import photo_cases
    from tinct.data.captions import is_held_out

    folder = tmp_path / "photos"
    folder.mkdir()
    names = [n for n in (f"p{i:03d}.png" for i in range(60)) if is_held_out(n)][:2]
    names += ["kept.png"] if not is_held_out("kept.png") else []
    for name in names:
        write_image(folder / name, _scene(64, 80)[0])
    cache = tmp_path / "labels.npz"
    cases = photo_cases([folder], cache=cache)
    assert sorted(c.name for c in cases) == sorted(n for n in names if is_held_out(n)) and cache.is_file()
    assert all(c.caption and c.plan is not None and c.labels.shape == (64, 80) for c in cases)
    method = tinct.load_method("caption", weights=str(weights["weights"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TinctWarning)
        s = evaluate_caption(method, photos=cases, swaps=1).summary()
    assert list(s) == ["photos_dev"] and s["photos_dev"]["swaps"] == len(cases)
