"""benchmarks/gan_bundle.py: a run's generator goes into the package as float16, G only, and loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from benchmark_loader import load_benchmark

from tinct.methods.spynco import load_generator
from tinct.methods.spynco.model import SpyncoGenerator
from tinct.weights import load_weights, save_weights

gan_bundle = load_benchmark("gan_bundle")


def _run_export(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    g = SpyncoGenerator()
    tensors = {f"G.{k}": v for k, v in g.state_dict().items()}
    tensors["D.0.weight"] = torch.ones(3, 3)  # training state that must not be bundled
    card = {"method": "spynco", "config": {"model": {}}, "metrics": {"old": 1}}
    return save_weights(tmp_path / "run" / "g", tensors, card)


def test_bundle_writes_half_generator_only_with_the_new_metrics(tmp_path, monkeypatch) -> None:
    src = _run_export(tmp_path)
    monkeypatch.setattr(gan_bundle, "bundled_path",
                        lambda method, name: tmp_path / method / f"{name}.safetensors")
    out = gan_bundle.bundle_generator(src, "spynco", "photos", {"photos_val": {"ciede2000": 11.6}})
    tensors, card = load_weights(out)
    assert out == tmp_path / "spynco" / "photos.safetensors"
    assert all(k.startswith("G.") for k in tensors) and "D.0.weight" not in tensors
    assert {v.dtype for v in tensors.values()} == {torch.float16}
    assert card.metrics == {"photos_val": {"ciede2000": 11.6}}
    assert card.extra["source_run"] == str(src)
    assert out.stat().st_size < 0.55 * src.stat().st_size
    g, _ = load_generator(out)  # widened to float32, close to the run's own weights
    run_g, _ = load_generator(src)
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(g(x)[-1], run_g(x)[-1], atol=5e-3)


def test_bundle_refuses_a_file_without_a_generator(tmp_path) -> None:
    src = save_weights(tmp_path / "d", {"D.0.weight": torch.ones(2)}, {"method": "spynco"})
    with pytest.raises(SystemExit, match="no generator"):
        gan_bundle.bundle_generator(src, "spynco", "x", {})


def test_main_bundles_a_row_of_a_written_table_with_its_scores(tmp_path, monkeypatch) -> None:
    src = _run_export(tmp_path)
    monkeypatch.setattr(gan_bundle, "bundled_path",
                        lambda method, name: tmp_path / method / f"{name}.safetensors")
    scores = {"ciede2000": 11.0, "psnr": 24.0, "ssim": 0.95, "colourfulness": 0.5}
    gray = {"ciede2000": 12.0, "psnr": 23.0, "ssim": 0.96, "colourfulness": 0.0}
    table = {"command": "python benchmarks/gan_table.py ...", "commit": "x",
             "rows": {"run A": ["spynco", str(src)]},
             "results": {"photos_val": {"gray floor": gray, "run A": scores}}}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(table))
    assert gan_bundle.main(["--table", str(path), "--row", "run A", "--name", "photos"]) == 0
    _, card = load_weights(tmp_path / "spynco" / "photos.safetensors")
    assert card.metrics["photos_val"] == {"gray floor": gray, "this": scores}
    assert card.metrics["report"] == str(tmp_path / "t.md")
    assert card.metrics["protocol"] == gan_bundle.PROTOCOL
    with pytest.raises(SystemExit, match="no row 'run B'"):
        gan_bundle.main(["--table", str(path), "--row", "run B", "--name", "photos"])
