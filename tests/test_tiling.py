"""Row strips with a halo (tinct.nn.tiling): coverage, halo clipping, equal heights, exactness."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tinct.nn.resnet import ResNetExtractor
from tinct.nn.tiling import Strip, strip_moments, strips
from tinct.testing import map_strips


@pytest.mark.parametrize("height", [1, 2, 7, 31, 32, 33, 100, 780])
@pytest.mark.parametrize("rows", [1, 3, 32, 288, 1000])
@pytest.mark.parametrize("halo", [0, 2, 18])
def test_strips_cover_every_row_once_with_clipped_halo(height: int, rows: int, halo: int) -> None:
    got = strips(height, rows, halo)
    assert len(got) == -(-height // rows)
    covered = np.zeros(height, int)
    for s in got:
        covered[s.rows] += 1
        assert 0 < s.bottom - s.top <= rows
        assert (s.lo, s.hi) == (max(0, s.top - halo), min(height, s.bottom + halo))
    assert (covered == 1).all()
    assert [s.top for s in got[1:]] == [s.bottom for s in got[:-1]]  # in order, contiguous
    assert got[0].lo == 0 and got[-1].hi == height  # the halo is clipped at the image border
    sizes = {s.bottom - s.top for s in got}
    assert max(sizes) - min(sizes) <= 1  # equal heights: no thin last strip


def test_no_thin_last_strip() -> None:
    # 780 rows of at most 288: 3 strips of 260 (not 288 + 288 + 204), each with its own halo
    assert strips(780, 288, 18) == [Strip(0, 260, 0, 278), Strip(260, 520, 242, 538),
                                    Strip(520, 780, 502, 780)]
    assert [s.bottom - s.top for s in strips(100, 32)] == [25, 25, 25, 25]  # not 32 + 32 + 32 + 4


def test_strip_edge_cases() -> None:
    assert strips(0, 16, 3) == []
    assert strips(5, 0) == strips(5, 1)  # fewer than one row counts as one
    with pytest.raises(ValueError, match=">= 0"):
        strips(-1, 4)
    with pytest.raises(ValueError, match=">= 0"):
        strips(4, 4, -1)
    s = Strip(10, 20, 4, 26)
    assert (s.rows, s.extended, s.inner) == (slice(10, 20), slice(4, 26), slice(6, 16))
    assert s.with_halo(2, 21) == Strip(10, 20, 8, 21) and s.with_halo(50, 21) == Strip(10, 20, 0, 21)
    x = np.arange(30 * 2).reshape(30, 2)
    assert np.array_equal(s.take(x), x[4:26]) and np.array_equal(s.crop(s.take(x)), x[10:20])
    with pytest.raises(ValueError, match="22 rows"):
        s.crop(x)  # the whole image, not the extended strip


def _conv_net(gen: torch.Generator) -> tuple[nn.Module, int]:
    """A small net mixing zero, reflect and replicate padding; receptive radius 1 + 2 + 1 = 4."""
    net = nn.Sequential(nn.Conv2d(2, 5, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(5, 4, 5, padding=2, padding_mode="reflect"), nn.Tanh(),
                        nn.Conv2d(4, 3, 3, padding=1, padding_mode="replicate"))
    for p in net.parameters():
        nn.init.normal_(p, std=0.5, generator=gen)
    return net.eval(), 4


@pytest.mark.parametrize("rows", [1, 3, 7, 16, 40])
def test_map_strips_equals_untiled_conv_net(rows: int) -> None:
    gen = torch.Generator().manual_seed(0)
    net, radius = _conv_net(gen)
    x = torch.rand(2, 2, 37, 23, generator=gen)
    with torch.no_grad():
        full = net(x)
        tiled = map_strips(net, x, rows=rows, halo=radius)
        assert tiled.shape == full.shape and tiled.dtype == full.dtype
        np.testing.assert_allclose(tiled.numpy(), full.numpy(), atol=1e-6)
        if rows < 37:  # a halo below the receptive radius is not exact: the test can fail
            short = map_strips(net, x, rows=rows, halo=radius - 1)
            assert np.abs(short.numpy() - full.numpy()).max() > 1e-4


def test_map_strips_equals_untiled_resnet() -> None:
    gen = torch.Generator().manual_seed(1)
    net = ResNetExtractor(3, 6, 2, out_channels=2).eval()
    for m in net.modules():  # non-trivial BatchNorm statistics (eval mode: per-pixel affine)
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5, generator=gen)
            m.running_var.uniform_(0.5, 2.0, generator=gen)
    nn.init.normal_(net.tail.weight, std=0.2, generator=gen)
    x = torch.rand(1, 3, 45, 19, generator=gen)
    with torch.no_grad():
        full = net(x)
        out = torch.full_like(full, float("nan"))
        assert map_strips(net, x, rows=8, halo=net.receptive_radius, out=out) is out
    np.testing.assert_allclose(out.numpy(), full.numpy(), atol=1e-5)


def test_map_strips_numpy_several_inputs_and_none() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.random((3, 29, 11)), rng.random((29, 11))

    def fn(a: np.ndarray, none: None, b: np.ndarray) -> np.ndarray:
        assert none is None
        padded = np.pad(a * b, ((0, 0), (1, 1), (0, 0)), mode="edge")  # 3-row moving average
        return ((padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]) / 3).astype(np.float32)

    got = map_strips(fn, a, None, b, rows=5, halo=1)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    np.testing.assert_allclose(got, fn(a, None, b), atol=1e-7)
    with pytest.raises(ValueError, match="differ in height"):
        map_strips(fn, a, None, b[:-1], rows=5, halo=1)
    with pytest.raises(ValueError, match="at least one input"):
        map_strips(fn, None, rows=5, halo=1)


@pytest.mark.parametrize("rows", [1, 4, 13, 100])
def test_strip_moments_equal_whole_image_statistics(rows: int) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal([5.0, -2.0], [1e-4, 3.0], (50, 17, 2))  # a large mean and a tiny spread: no cancellation
    mean, std = strip_moments(lambda s: x[s.rows], 50, rows)
    np.testing.assert_allclose(mean, x.reshape(-1, 2).mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(std, x.reshape(-1, 2).std(axis=0), rtol=1e-9)
    with pytest.raises(ValueError, match="empty"):
        strip_moments(lambda s: x[s.rows], 0, rows)


def test_tiling_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, tinct.nn.tiling; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
