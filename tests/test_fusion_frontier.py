"""The accuracy-colour frontier of benchmarks/fusion_frontier.py."""

from __future__ import annotations

from benchmark_loader import load_benchmark

frontier_mod = load_benchmark("fusion_frontier")


def _row(c: float, d: float) -> dict:
    return {"colourfulness_ratio": c, "d_ciede2000": d}


def test_frontier_keeps_only_undominated_decodings_in_colour_order() -> None:
    rows = [_row(0.3, -1.0), _row(0.5, -1.2), _row(0.6, -0.5), _row(0.7, -0.8), _row(0.9, 0.4),
            _row(0.9, 0.2), _row(0.4, -1.3)]
    got = [(r["colourfulness_ratio"], r["d_ciede2000"]) for r in frontier_mod.frontier(rows)]
    assert got == [(0.4, -1.3), (0.5, -1.2), (0.7, -0.8), (0.9, 0.2)]
    assert frontier_mod.best_at(rows, 0.55) == -0.8
    assert frontier_mod.best_at(rows, 0.95) is None


def test_plot_writes_an_image(tmp_path) -> None:
    rows = [_row(0.5, -1.2), _row(0.9, 0.2)]
    frontier_mod.plot({"a": rows}, {"a": frontier_mod.frontier(rows)}, tmp_path / "f.png")
    from PIL import Image

    with Image.open(tmp_path / "f.png") as img:
        assert img.size == frontier_mod.SIZE and len(img.getcolors(maxcolors=1 << 16) or ()) > 3
