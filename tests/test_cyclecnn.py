"""Cycle-CNN: weight volume, model M and the cycle, losses, BatchNorm folding, SSM training pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinct.methods.cyclecnn.losses import (
    chroma_ssim_loss,
    cycle_consistency_loss,
    refinement_loss,
    smoothness_loss,
    ssim_structure_loss,
    structure_similarity_loss,
)
from tinct.methods.cyclecnn.model import ColorizationCNN, ModelConfig, colorize_cycle, hflip
from tinct.methods.cyclecnn.ssm import StructureSimilarityNet, ssm_training_pair
from tinct.methods.cyclecnn.weight_volume import streaming_average, weight_volume, weighted_average
from tinct.nn.resnet import ResNetExtractor, fold_batchnorm

TINY = ModelConfig(width=4, n_blocks=1, disparities=8)


def _randomize_bn(module: torch.nn.Module, gen: torch.Generator) -> torch.nn.Module:
    """Non-trivial BatchNorm statistics, so folding and the fused path are really tested."""
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5, generator=gen)
            m.running_var.uniform_(0.5, 2.0, generator=gen)
            m.weight.data.uniform_(0.5, 1.5, generator=gen)
            m.bias.data.uniform_(-0.2, 0.2, generator=gen)
    return module.eval()


def test_weight_volume_sums_to_one_and_masks_border() -> None:
    gen = torch.Generator().manual_seed(0)
    fa, fb = torch.randn(2, 5, 6, 20, generator=gen), torch.randn(2, 5, 6, 20, generator=gen)
    w = weight_volume(fa, fb, 8, 0.7)
    assert w.shape == (2, 8, 6, 20)
    torch.testing.assert_close(w.sum(1), torch.ones(2, 6, 20))
    for k in range(8):  # columns i + k >= W get no weight
        assert (w[:, k, :, 20 - k:] == 0).all()
    assert (w[:, :, :, -1][:, 0] == 1).all()


def test_shift_is_recovered_with_oracle_features() -> None:
    # gray(j, i) = ref(j, i + 3): with per-pixel random descriptors as oracle features the weight
    # volume peaks at k = 3 and the averaged chroma equals the true chroma
    gen = torch.Generator().manual_seed(1)
    k_true, h, w = 3, 5, 30
    desc = torch.nn.functional.normalize(torch.randn(1, 16, h, w + k_true, generator=gen), dim=1)
    chroma = torch.rand(1, 3, h, w + k_true, generator=gen)
    fa, va = desc[..., k_true:], chroma[..., k_true:]
    fb, vb = desc[..., :w], chroma[..., :w]
    weights = weight_volume(fa, fb, 8, 50.0)
    valid = slice(0, w - 8)
    assert (weights.argmax(1)[..., valid] == k_true).all()
    avg = weighted_average(weights, vb)
    torch.testing.assert_close(avg[..., valid], va[..., valid], atol=1e-3, rtol=0)


def test_streaming_equals_volume() -> None:
    gen = torch.Generator().manual_seed(2)
    fa, fb = torch.randn(1, 4, 7, 25, generator=gen), torch.randn(1, 4, 7, 25, generator=gen)
    vals = torch.rand(1, 3, 7, 25, generator=gen)
    for d in (1, 5, 30):
        ref = weighted_average(weight_volume(fa, fb, d, 2.0), vals)
        torch.testing.assert_close(streaming_average(fa, fb, vals, d, 2.0), ref, atol=1e-5, rtol=1e-5)


def test_model_output_and_flip_cycle_shapes() -> None:
    torch.manual_seed(0)
    model = ColorizationCNN(TINY)
    gray, ref = torch.rand(2, 1, 16, 24), torch.rand(2, 3, 16, 24)
    out = model(gray, ref)
    assert out.ycbcr.shape == (2, 3, 16, 24) and out.warped_y.shape == (2, 1, 16, 24)
    assert out.weights.shape == (2, 8, 16, 24)
    torch.testing.assert_close(out.ycbcr[:, :1], gray)  # Y comes from A_G
    assert out.ycbcr[:, 1:].min() >= ref[:, 1:].min() - 1e-6  # a convex combination of B's chroma
    cyc = colorize_cycle(model, gray, ref)
    assert cyc.second.ycbcr.shape == (2, 3, 16, 24)
    torch.testing.assert_close(cyc.second.ycbcr[:, :1], ref[:, :1])  # R'_C keeps R_G
    # the second pass is M on flipped inputs, flipped back
    direct = model(hflip(ref[:, :1]), hflip(cyc.first.ycbcr))
    torch.testing.assert_close(cyc.second.ycbcr, hflip(direct.ycbcr))
    with pytest.raises(ValueError, match="differ"):
        model(gray, ref[..., :20])


def test_losses_are_zero_where_they_should_be_and_differentiable() -> None:
    gen = torch.Generator().manual_seed(3)
    a = torch.rand(1, 3, 24, 24, generator=gen, requires_grad=True)
    b = torch.rand(1, 3, 24, 24, generator=gen)
    assert float(cycle_consistency_loss(b, b)) == pytest.approx(0, abs=1e-6)
    assert float(chroma_ssim_loss(a.detach(), b)) > 0.3
    assert float(ssim_structure_loss(b[:, :1], b[:, :1])) == pytest.approx(0, abs=1e-6)
    assert float(smoothness_loss(torch.full((1, 4, 5, 6), 0.25))) == 0.0
    # eq. 3 by hand: one voxel differs by 1 from its 6 neighbours
    w = torch.zeros(1, 3, 3, 3)
    w[0, 1, 1, 1] = 1.0
    assert float(smoothness_loss(w)) == pytest.approx(2 * 6 / 27)
    assert float(refinement_loss(b, b)) == 0.0
    ssm = StructureSimilarityNet(width=4, n_blocks=1).eval()
    loss = (cycle_consistency_loss(a, b) + ssim_structure_loss(a[:, :1], b[:, :1])
            + structure_similarity_loss(ssm, b[:, :1], a[:, :1]) + refinement_loss(a, b))
    vol = torch.softmax(torch.rand(1, 4, 8, 8, generator=gen, requires_grad=True), 1)
    loss = loss + smoothness_loss(vol)
    loss.backward()
    assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0


def test_fold_batchnorm_matches() -> None:
    gen = torch.Generator().manual_seed(4)
    net = _randomize_bn(ResNetExtractor(3, 6, 2, out_channels=2), gen)
    x = torch.rand(1, 3, 20, 20, generator=gen)
    folded = fold_batchnorm(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    torch.testing.assert_close(folded(x), net(x), atol=1e-5, rtol=1e-4)


def test_ssm_pair_aligned_target_is_one(rng: np.random.Generator) -> None:
    rgb = rng.random((40, 40, 3)).astype(np.float32)
    seen = []
    for _ in range(40):
        g, c, t = ssm_training_pair(rgb, rng)
        assert g.shape == c.shape == t.shape == (40, 40)
        seen.append(float(t.mean()))
    assert max(seen) == pytest.approx(1.0, abs=1e-6)  # some pairs are aligned (no warp)
    assert min(seen) < 0.5  # warps of random texture destroy structure
