"""InstanceNorm networks in tiles (tinct.nn.norm_tiles): frozen statistics, exact tiles, bounded memory."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tinct.methods.spynco.model import SpyncoGenerator, SpyncoModelConfig, _Finest, generate_full
from tinct.nn.gan import ResnetGenerator
from tinct.nn.norm_tiles import (
    SAMPLE,
    FrozenInstanceNorm,
    forward_tiled,
    freeze_norms,
    norm_statistics,
    sample_tiles,
    sampled_statistics,
)


def _nets(blocks: int) -> list[nn.Module]:
    torch.manual_seed(blocks)
    nets = [SpyncoGenerator(SpyncoModelConfig(encoder_width=4, decoder_width=8, n_res_blocks=blocks)),
            ResnetGenerator(1, 3, width=4, n_blocks=blocks)]
    for net in nets:  # random affine norms, so that a wrong statistic shows
        for m in net.modules():
            if isinstance(m, nn.InstanceNorm2d):
                nn.init.uniform_(m.weight, 0.5, 2.0)
                nn.init.uniform_(m.bias, -0.5, 0.5)
    return [_Finest(n).eval() for n in nets]


def test_frozen_norm_with_the_image_statistics_is_the_instance_norm() -> None:
    norm = nn.InstanceNorm2d(3, affine=True)
    nn.init.uniform_(norm.weight, 0.5, 2.0)
    x = torch.randn(1, 3, 9, 7) * 3 + 1
    var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)
    torch.testing.assert_close(FrozenInstanceNorm(norm, mean, var)(x), norm(x))


@pytest.mark.parametrize("blocks", [1, 3])
@pytest.mark.parametrize("shape", [(72, 100), (100, 36)])
def test_tiles_equal_the_whole_image_with_the_declared_halo(blocks: int, shape: tuple[int, int]) -> None:
    x = torch.rand(1, 1, *shape)
    for net in _nets(blocks):
        with torch.no_grad():
            whole = net(x)
        radius = net.generator.receptive_radius
        def tiled(halo: int, net: nn.Module = net) -> torch.Tensor:
            return forward_tiled(net, x, out_channels=3, halo=halo, multiple=4, tile=12, stats_pixels=10**6)

        torch.testing.assert_close(tiled(radius), whole, atol=2e-5, rtol=0)
        assert (tiled(radius - 8) - whole).abs().max() > 1e-4  # the declared radius is needed


def test_statistics_pass_records_every_norm_and_freezing_copies() -> None:
    net = _nets(2)[0]
    x = torch.rand(1, 1, 32, 48)
    stats = norm_statistics(net, x)
    norms = [n for n, m in net.named_modules() if isinstance(m, nn.InstanceNorm2d)]
    assert sorted(stats) == sorted(norms) and len(norms) == 10  # 3 encoder + 4 ResNet + 3 decoder
    frozen = freeze_norms(net, stats)
    assert not any(isinstance(m, nn.InstanceNorm2d) for m in frozen.modules())
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in net.modules()) == 10  # the original is unchanged
    with torch.no_grad():
        torch.testing.assert_close(frozen(x), net(x), atol=2e-5, rtol=0)
    with pytest.raises(ValueError, match="batch of 1"):
        norm_statistics(net, torch.rand(2, 1, 8, 8))


def test_sampled_statistics_of_a_cover_are_the_whole_image_statistics() -> None:
    net = _nets(2)[0]
    x = torch.rand(1, 1, 96, 136)
    radius = net.generator.receptive_radius
    cover = sample_tiles(96, 136, 32, radius, 4, 10**9)
    assert len(cover) == 3 * 5  # every tile of the 32-pixel grid (136 = 5 x 27.2)
    exact, sampled = norm_statistics(net, x), sampled_statistics(net, x, cover)
    assert sorted(exact) == sorted(sampled)
    for name, (mean, var) in exact.items():
        torch.testing.assert_close(sampled[name][0], mean, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(sampled[name][1], var, atol=1e-5, rtol=1e-4)
    # a sample of the tiles: close to, not equal to, the whole image's statistics
    some = sample_tiles(96, 136, 32, radius, 4, 4 * 32 * 32)
    assert len(some) == 4 and set(some) < set(cover)
    first = next(iter(exact))
    assert not torch.equal(sampled_statistics(net, x, some)[first][0], exact[first][0])


def test_sample_tiles_spread_over_the_image() -> None:
    tiles = sample_tiles(4000, 6000, 64, 31, 4, 1 << 19)
    assert 100 <= len(tiles) <= 128
    tops = sorted({r.top for r, _ in tiles})
    lefts = sorted({c.top for _, c in tiles})
    assert len(tops) > 50 and len(lefts) > 50  # many different rows and columns, not a coarse lattice
    assert tops[0] < 100 and tops[-1] > 3800 and lefts[0] < 100 and lefts[-1] > 5800
    assert all(r.bottom - r.top <= 64 and r.top % 4 == 0 and c.top % 4 == 0 for r, c in tiles)


def test_generate_full_above_the_budget_keeps_every_activation_bounded() -> None:
    net = _nets(2)[0].generator
    x = torch.rand(1, 1, 150, 203)
    biggest = [0]

    def track(_m: nn.Module, _i: tuple, out: torch.Tensor) -> None:
        if isinstance(out, torch.Tensor):
            biggest[0] = max(biggest[0], out.shape[-2] * out.shape[-1])

    handles = [m.register_forward_hook(track) for m in net.modules() if isinstance(m, nn.Conv2d)]
    out = generate_full(net, x, whole_pixels=64 * 64, tile=32)
    tiles_max = biggest[0]
    biggest[0] = 0
    whole = generate_full(net, x, whole_pixels=10**9)
    for h in handles:
        h.remove()
    assert out.shape == whole.shape == (1, 3, 150, 203)
    halo = net.receptive_radius
    # every convolution ran on one tile (32 own pixels) or one sample tile (SAMPLE own), with the halo
    assert tiles_max <= (max(32, SAMPLE) + 2 * halo) ** 2 < biggest[0] == 152 * 204
    assert 0 < (out - whole).abs().mean() < 0.05  # sampled statistics: close, not equal
