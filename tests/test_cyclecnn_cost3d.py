"""Cycle-CNN's regularized cost volume (volume = "cost3d"): the 3-D network, its up-sampling, the
banded average with a bias, the fused path and loading from a card."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_cyclecnn import _randomize_bn

from tinct.methods.cyclecnn import cost3d
from tinct.methods.cyclecnn.inference import Networks, colorize_ycbcr, load_networks, optimize_networks
from tinct.methods.cyclecnn.model import ColorizationCNN, ModelConfig
from tinct.methods.cyclecnn.refine import RefinementCNN
from tinct.methods.cyclecnn.weight_volume import banded_average, weight_volume, weighted_average
from tinct.weights import WeightCard, save_weights


def _random_bn3d(module: torch.nn.Module, gen: torch.Generator) -> torch.nn.Module:
    _randomize_bn(module, gen)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.5, 0.5, generator=gen)
            m.running_var.uniform_(0.5, 2.0, generator=gen)
            m.weight.data.uniform_(0.5, 1.5, generator=gen)
    return module.eval()


def test_default_model_size_and_volume_channels() -> None:
    model = ColorizationCNN(ModelConfig(volume="cost3d"))
    n = sum(p.numel() for p in model.parameters())
    assert 110_000 < n < 145_000  # the authors' model: ~125k
    reg = model.regularizer
    assert reg.enc0.conv.in_channels == 20 and reg.enc1.conv.out_channels == 16
    assert reg.enc2.conv.out_channels == 32
    assert ColorizationCNN(ModelConfig()).regularizer is None
    with pytest.raises(ValueError, match="weight volume"):
        ColorizationCNN(ModelConfig(volume="nope"))


def test_volume_channels_are_features_and_positions() -> None:
    reg = cost3d.CostRegularizer(width=2, stride=4, features=2, channels=4)
    pa, pb = torch.rand(1, 2, 3, 6), torch.rand(1, 2, 3, 6)
    vol = reg.volume(pa, pb, 3)
    assert vol.shape == (1, 6, 4, 4, 8)  # padded to multiples of 4
    assert vol.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(vol[0, :2, 2, :3, :6], pa[0])
    torch.testing.assert_close(vol[0, 2:4, 2, :3, :4], pb[0, :, :, 2:])  # B at column i + k
    assert (vol[0, 2:4, 2, :3, 4:6] == 0).all() and (vol[0, 5, 2, :3, 4:6] == 0).all()  # past the border
    assert (vol[0, 5, 2, :3, :4] == 1).all()
    torch.testing.assert_close(vol[0, 4, :3, 0, 0], torch.tensor([0.0, 4 / 64, 8 / 64]))
    # with gradients the volume is built from whole tensors (no slice assignment): the same values
    graded = reg.volume(pa.clone().requires_grad_(), pb, 3)
    assert graded.requires_grad and graded.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(graded.detach(), vol)
    torch.testing.assert_close(reg.volume(pa, pb, 9), reg.volume(pa.clone().requires_grad_(), pb, 9).detach())


def test_cost3d_weights_are_a_softmax_and_train() -> None:
    torch.manual_seed(0)
    model = ColorizationCNN(ModelConfig(width=4, n_blocks=1, disparities=9, volume="cost3d", cost_stride=2))
    gray, ref = torch.rand(2, 1, 14, 23), torch.rand(2, 3, 14, 23)
    out = model(gray, ref)
    assert out.weights.shape == (2, 9, 14, 23)
    torch.testing.assert_close(out.weights.sum(1), torch.ones(2, 14, 23))
    for k in range(9):
        assert (out.weights[:, k, :, 23 - k:] == 0).all()
    out.ycbcr[:, 1:].sum().backward()
    grad = model.regularizer.enc0.conv.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert model(gray, ref, return_weights=False).weights is None


@pytest.mark.parametrize(("n", "h", "w", "d", "block", "rows"), [(1, 5, 37, 6, 16, 4), (2, 7, 20, 30, 8, 3),
                                                                  (1, 4, 40, 13, 16, 8)])
def test_banded_average_with_bias_equals_volume(n: int, h: int, w: int, d: int, block: int,
                                                rows: int) -> None:
    gen = torch.Generator().manual_seed(1)
    fa, fb = torch.randn(n, 4, h, w, generator=gen), torch.randn(n, 4, h, w, generator=gen)
    vals = torch.rand(n, 3, h, w, generator=gen)
    bias = 3 * torch.randn(n, h, w, d, generator=gen)
    expected = weighted_average(weight_volume(fa, fb, d, 1.3, bias), vals)
    got = banded_average(fa, fb, vals, d, 1.3, block=block, rows=rows, bias=bias)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=3e-6)
    assert (got - banded_average(fa, fb, vals, d, 1.3, block=block, rows=rows)).abs().max() > 1e-3


def test_upsampling_is_trilinear() -> None:
    # logits linear in (k', y', x') come back linear at the full-resolution coordinates (interior)
    s, coarse, hc, wc, d = 4, 5, 6, 7, 16
    k, y, x = torch.meshgrid(torch.arange(coarse), torch.arange(hc), torch.arange(wc), indexing="ij")
    logits = (0.5 * k + 0.3 * y - 0.2 * x).float()[None]
    up = cost3d.upsample_logits(logits, s, d, wc * s, range(4, 20))  # (1, rows, W, d)
    assert up.shape == (1, 16, wc * s, d)
    kk = torch.arange(d) / s
    yy = (torch.arange(4, 20) + 0.5) / s - 0.5
    xx = (torch.arange(wc * s) + 0.5) / s - 0.5
    expected = 0.5 * kk[None, None] + 0.3 * yy[:, None, None] - 0.2 * xx[None, :, None]
    inner = slice(2, wc * s - 2)  # the outer half pixels are clamped to the edge
    torch.testing.assert_close(up[0, :, inner], expected[:, inner], atol=1e-5, rtol=0)
    # stride 1: a permutation
    plain = torch.randn(1, d, 3, 5)
    torch.testing.assert_close(cost3d.upsample_logits(plain, 1, d, 5, range(3)), plain.permute(0, 2, 3, 1))


@pytest.mark.parametrize(("s", "w"), [(4, 37), (4, 40), (3, 10)])
def test_phase_upsampling_equals_gather(s: int, w: int) -> None:
    x = torch.randn(2, 3, -(-w // s), 5, generator=torch.Generator().manual_seed(2))
    expected = cost3d._lerp(x, 2, (torch.arange(w, dtype=torch.float32) + 0.5) / s - 0.5)
    torch.testing.assert_close(cost3d._upsample_x(x, s, w), expected, atol=1e-6, rtol=0)


def test_conv3d_and_folded_batchnorm() -> None:
    gen = torch.Generator().manual_seed(3)
    block = _random_bn3d(cost3d.ConvBN3d(5, 6, stride=2), gen)
    x = torch.randn(1, 5, 7, 9, 10, generator=gen)
    expected = block.bn(F.conv3d(x, block.conv.weight, None, stride=2, padding=1))
    torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)


def test_coarse_logits_in_strips_equal_whole() -> None:
    gen = torch.Generator().manual_seed(4)
    reg = _random_bn3d(cost3d.CostRegularizer(width=4, stride=1, features=3, channels=4), gen)
    fa, fb = torch.randn(1, 4, 81, 9, generator=gen), torch.randn(1, 4, 81, 9, generator=gen)
    with torch.no_grad():
        whole = reg.coarse_logits(fa, fb, 6)
        torch.testing.assert_close(reg.coarse_logits(fa, fb, 6, strip_rows=8), whole, atol=1e-6, rtol=0)
        reg.halo = 4  # too small a halo: the strips differ (so the halo is what makes them exact)
        assert (reg.coarse_logits(fa, fb, 6, strip_rows=8) - whole).abs().max() > 1e-4


@pytest.mark.parametrize("stride", [1, 4])
def test_fused_cost3d_equals_straightforward(stride: int) -> None:
    gen = torch.Generator().manual_seed(5)
    model = _random_bn3d(ColorizationCNN(ModelConfig(4, 1, 13, "cost3d", stride)), gen)
    nets = Networks(model, _randomize_bn(RefinementCNN(4, 1), gen))
    gray, ref = torch.rand(1, 1, 45, 61, generator=gen), torch.rand(1, 3, 45, 61, generator=gen)
    expected = colorize_ycbcr(nets, gray, ref, disparities=13, optimized=False)
    fast = optimize_networks(nets)
    fast.fused.cost_strip_pixels = 4 * 61  # several strips of the 3-D network too
    for keep in (10**9, 0):  # features kept, or pooled strip by strip and computed again
        fast.fused.keep_feature_pixels = keep
        for strip_rows in (None, 7):
            got = colorize_ycbcr(fast, gray, ref, disparities=13, strip_rows=strip_rows)
            np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=2e-6)


def test_cards_select_the_volume(tmp_path) -> None:
    torch.manual_seed(0)
    model = ColorizationCNN(ModelConfig(4, 1, 11, "cost3d", 2)).eval()
    path = save_weights(tmp_path / "c.safetensors", {"model." + k: v for k, v in model.state_dict().items()},
                        WeightCard(method="cyclecnn", config={"model": {"width": 4, "n_blocks": 1,
                                                                        "disparities": 11,
                                                                        "volume": "cost3d",
                                                                        "cost_stride": 2}}))
    nets = load_networks(path)
    assert nets.colorizer.regularizer is not None and nets.colorizer.regularizer.stride == 2
    gray, ref = torch.rand(1, 1, 12, 30), torch.rand(1, 3, 12, 30)
    with torch.no_grad():
        expected = model(gray, ref, disparities=11).ycbcr
    torch.testing.assert_close(colorize_ycbcr(nets, gray, ref, disparities=11, optimized=False), expected)
    dot = ColorizationCNN(ModelConfig(4, 1, 11)).eval()  # a card of the old format (no volume key)
    path = save_weights(tmp_path / "d.safetensors", {"model." + k: v for k, v in dot.state_dict().items()},
                        WeightCard(method="cyclecnn", config={"model": {"width": 4, "n_blocks": 1,
                                                                        "disparities": 11}}))
    assert load_networks(path).colorizer.regularizer is None
