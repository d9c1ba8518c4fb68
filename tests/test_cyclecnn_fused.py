"""The fused float32 inference path of Cycle-CNN equals the straightforward modules."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from test_cyclecnn import _randomize_bn  # the same non-trivial BatchNorm set-up

from tinct.methods.cyclecnn import fused as fused_mod
from tinct.methods.cyclecnn.fused import FusedNetworks, FusedResNet
from tinct.methods.cyclecnn.inference import Networks, colorize_pair, colorize_ycbcr, optimize_networks
from tinct.methods.cyclecnn.model import ColorizationCNN, ModelConfig
from tinct.methods.cyclecnn.refine import RefinementCNN
from tinct.methods.cyclecnn.weight_volume import banded_average, weight_volume, weighted_average
from tinct.nn.resnet import ResNetExtractor


@pytest.mark.parametrize(("n", "h", "w", "d", "block", "rows"), [
    (1, 5, 37, 6, 16, 4),    # width not a multiple of the block
    (2, 7, 20, 30, 8, 3),    # batch of 2; d > W (shifts past the border all masked)
    (1, 3, 5, 1, 4, 10),     # d = 1 (copy of the reference), rows > H
    (1, 9, 64, 64, 16, 4),   # the paper's d
])
def test_banded_average_equals_volume(n: int, h: int, w: int, d: int, block: int, rows: int) -> None:
    gen = torch.Generator().manual_seed(0)
    fa, fb = torch.randn(n, 4, h, w, generator=gen), torch.randn(n, 4, h, w, generator=gen)
    vals = torch.rand(n, 3, h, w, generator=gen)
    expected = weighted_average(weight_volume(fa, fb, d, 1.7), vals)
    got = banded_average(fa, fb, vals, d, 1.7, block=block, rows=rows)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=2e-6)
    if d == 1:
        np.testing.assert_allclose(got.numpy(), vals.numpy(), atol=1e-7)


def test_banded_average_shape_error() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        banded_average(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 5), torch.zeros(1, 3, 4, 4), 2)


@pytest.mark.parametrize("fused_conv", [True, False])
def test_fused_resnet_equals_module(fused_conv: bool) -> None:
    gen = torch.Generator().manual_seed(1)
    for in_ch, out_ch in [(1, None), (3, None), (7, 2)]:
        net = _randomize_bn(ResNetExtractor(in_ch, 6, 2, out_channels=out_ch), gen)
        if out_ch:
            torch.nn.init.normal_(net.tail.weight, std=0.2, generator=gen)
        x = torch.rand(1, in_ch, 11, 13, generator=gen)
        fast = FusedResNet(net)
        fast.fused = fused_conv and fast.fused
        with torch.no_grad():
            expected = net(x)
        got = fast(x)
        assert got.shape == expected.shape and fast.out_channels == expected.shape[1]
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)


def test_onednn_fused_convolution_is_used() -> None:
    if not torch.backends.mkldnn.is_available():
        pytest.skip("torch without oneDNN: the fallback is tested above")
    assert FusedResNet(ResNetExtractor(1, 4, 1)).fused


def _nets(gen: torch.Generator, refine: bool = True) -> tuple[ColorizationCNN, RefinementCNN | None]:
    model = _randomize_bn(ColorizationCNN(ModelConfig(4, 2, 6)), gen)
    with torch.no_grad():
        model.log_scale.fill_(0.7)
    if not refine:
        return model, None
    refiner = _randomize_bn(RefinementCNN(4, 2), gen)
    torch.nn.init.normal_(refiner.body.tail.weight, std=0.1, generator=gen)
    return model, refiner


@pytest.mark.parametrize(("strip_rows", "fused_conv"), [(3, True), (16, True), (64, True), (16, False)])
def test_fused_networks_equal_straightforward(strip_rows: int, fused_conv: bool) -> None:
    gen = torch.Generator().manual_seed(2)
    model, refiner = _nets(gen)
    gray, ref = torch.rand(1, 1, 23, 37, generator=gen), torch.rand(1, 3, 23, 37, generator=gen)
    with torch.no_grad():
        plain = model(gray, ref).ycbcr
        plain_refined = refiner(gray, plain)
    fast = FusedNetworks(model, refiner)
    for net in (fast.gray, fast.color, fast.guide, fast.body):
        net.fused = fused_conv and net.fused
    got = fast.colorize(gray, ref, strip_rows=strip_rows, refine=False)
    np.testing.assert_allclose(got.numpy(), plain.numpy(), atol=1e-5)
    assert torch.equal(got[:, :1], gray)
    if strip_rows == 64:  # another d, block and rows per step
        got = fast.colorize(gray, ref, strip_rows=strip_rows, disparities=9, block=4, rows=5)
        with torch.no_grad():
            plain9 = refiner(gray, model(gray, ref, disparities=9).ycbcr)
        np.testing.assert_allclose(got.numpy(), plain9.numpy(), atol=1e-5)
    got = fast.colorize(gray, ref, strip_rows=strip_rows)
    np.testing.assert_allclose(got.numpy(), plain_refined.numpy(), atol=1e-5)
    assert np.abs(plain_refined.numpy() - plain.numpy()).max() > 1e-3  # the refinement did something


def test_default_optimized_path_is_fused(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = torch.Generator().manual_seed(3)
    model, refiner = _nets(gen)
    nets = Networks(model, refiner)
    gray, ref = torch.rand(1, 1, 19, 30, generator=gen), torch.rand(1, 3, 19, 30, generator=gen)
    plain = colorize_ycbcr(nets, gray, ref, disparities=6, optimized=False)
    fast_nets = optimize_networks(nets)
    calls = []
    monkeypatch.setattr(fused_mod, "banded_average",
                        lambda *a, **k: calls.append(1) or banded_average(*a, **k))
    fast = colorize_ycbcr(fast_nets, gray, ref, disparities=6)
    assert calls, "the default optimized path should be the fused one"
    np.testing.assert_allclose(fast.numpy(), plain.numpy(), atol=1e-5)
    # the optimized networks keep the plain modules: both paths run on them
    assert fast_nets.colorizer is model and fast_nets.refiner is refiner
    again = colorize_ycbcr(fast_nets, gray, ref, disparities=6, optimized=False)
    np.testing.assert_allclose(again.numpy(), plain.numpy(), atol=0)
    unrefined = colorize_ycbcr(fast_nets, gray, ref, disparities=6, refine=False)
    with torch.no_grad():
        m_only = model(gray, ref, disparities=6).ycbcr
    np.testing.assert_allclose(unrefined.numpy(), m_only.numpy(), atol=1e-5)
    model_only = colorize_ycbcr(Networks(*_nets(gen, refine=False)), gray, ref, disparities=6)
    assert model_only.shape == (1, 3, 19, 30)


def test_colorize_pair_has_two_paths() -> None:
    # exactly the plain and the fused path; the bf16 tiled path is gone
    params = inspect.signature(colorize_pair).parameters
    assert "bf16" not in params and "fused" not in inspect.signature(colorize_ycbcr).parameters
    gen = torch.Generator().manual_seed(5)
    nets = optimize_networks(Networks(*_nets(gen)))
    gray = torch.rand(17, 28, generator=gen).numpy()
    rgb = torch.rand(17, 28, 3, generator=gen).numpy()
    kw = dict(disparities=6, reference_side="right", refine=True, strip_rows=5)
    fast = colorize_pair(nets, gray, rgb, optimized=True, **kw)
    plain = colorize_pair(nets, gray, rgb, optimized=False, **kw)
    assert fast.shape == (17, 28, 3) and fast.dtype == np.float32
    np.testing.assert_allclose(fast, plain, atol=1e-5)


def test_fused_batch_of_two_and_size_error() -> None:
    gen = torch.Generator().manual_seed(4)
    model, refiner = _nets(gen)
    gray, ref = torch.rand(2, 1, 21, 26, generator=gen), torch.rand(2, 3, 21, 26, generator=gen)
    with torch.no_grad():
        plain = refiner(gray, model(gray, ref).ycbcr)
    fast = FusedNetworks(model, refiner)
    np.testing.assert_allclose(fast.colorize(gray, ref, strip_rows=8).numpy(), plain.numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="differ"):
        fast.colorize(gray, ref[..., :20])
