"""The fusion method's parts: ab bins, soft targets, decoding, the U-Net + fusion trunk, a training
step that learns, export/load, and the guided upsampling in strips."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from tinct.color import rgb_to_lab, rgb_to_luma
from tinct.filters import upsample_guided
from tinct.methods.fusion import Decoding, FusionColorizer, working_scale
from tinct.methods.fusion.bins import (
    SoftEncoder,
    annealed_mean,
    empirical_prior,
    gamut_bins,
    rebalancing_weights,
    soft_cross_entropy,
)
from tinct.methods.fusion.data import CropBatches, random_crop, to_luma_ab
from tinct.methods.fusion.model import FusionModelConfig, FusionNet
from tinct.methods.fusion.realism import RealismCritic
from tinct.methods.fusion.training import FusionTrainConfig, FusionTrainer, export
from tinct.nn.unet import FusionLayer, GlobalBranch, UNet, UNetConfig
from tinct.options import OptionError
from tinct.weights import WeightCard, load_weights, save_weights

TINY = FusionModelConfig(widths=(8, 16), global_dim=8)


@pytest.fixture(scope="module")
def centers() -> np.ndarray:
    return gamut_bins()


def test_gamut_bins_cover_srgb(centers: np.ndarray) -> None:
    assert 200 < len(centers) < 330  # Zhang et al. report 313 on their gamut sampling
    rgb = np.random.default_rng(0).random((2000, 3))
    ab = rgb_to_lab(rgb)[:, 1:]
    nearest = np.sqrt(((ab[:, None] - centers[None]) ** 2).sum(-1)).min(1)
    assert nearest.max() <= 5 * np.sqrt(2) + 1e-4  # every sRGB colour falls inside some bin's cell


def test_soft_targets_prefer_the_nearest_bin(centers: np.ndarray) -> None:
    enc = SoftEncoder(centers)
    ab = torch.tensor([[12.0, -33.0], [0.0, 0.0], [60.0, 70.0]]).T.reshape(1, 2, 1, 3)
    idx, w = enc(ab)
    assert idx.shape == (1, 9, 1, 3)
    torch.testing.assert_close(w.sum(1), torch.ones(1, 1, 3))
    best = torch.gather(idx, 1, w.argmax(1, keepdim=True))[0, 0, 0]
    for k in range(3):
        d = ((torch.from_numpy(centers) - ab[0, :, 0, k]) ** 2).sum(1)
        assert int(best[k]) == int(d.argmin())


def test_rebalancing_and_cross_entropy(centers: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    samples = np.concatenate([rng.normal(0, 3, (900, 2)), rng.normal(40, 3, (100, 2))]).astype(np.float32)
    prior = empirical_prior(samples, centers)
    w = rebalancing_weights(prior, 0.5)
    assert prior.sum() == pytest.approx(1.0, abs=1e-5) and (prior * w).sum() == pytest.approx(1.0, abs=1e-4)
    rare, common = np.argmin(((centers - 40) ** 2).sum(1)), np.argmin((centers**2).sum(1))
    assert w[rare] > w[common]
    enc = SoftEncoder(centers)
    ab = torch.full((1, 2, 2, 2), 20.0)
    idx, weights = enc(ab)
    good = torch.full((1, len(centers), 2, 2), -5.0)
    good.scatter_(1, idx, 10.0 * weights)  # logits peaked on the targets
    bad = torch.zeros_like(good)
    cw = torch.from_numpy(w)
    assert soft_cross_entropy(good, idx, weights, cw) < soft_cross_entropy(bad, idx, weights, cw)


def test_annealed_mean_between_mean_and_mode(centers: np.ndarray) -> None:
    c = torch.from_numpy(centers)
    logits = torch.full((1, len(c), 1, 1), -10.0)
    hi, lo = int(((c - torch.tensor([50.0, 20.0])) ** 2).sum(1).argmin()), int((c**2).sum(1).argmin())
    logits[0, hi], logits[0, lo] = 2.0, 1.5
    mode = annealed_mean(logits, c, 0.01)[0, :, 0, 0]
    torch.testing.assert_close(mode, c[hi], atol=1e-3, rtol=0)
    mean = annealed_mean(logits, c, 1.0)[0, :, 0, 0]
    assert 0 < float(mean.norm()) < float(c[hi].norm())  # pulled towards gray by the second bin


def test_prior_correction_undoes_the_rebalancing(centers: np.ndarray) -> None:
    c = torch.from_numpy(centers)
    rng = np.random.default_rng(3)
    p = torch.from_numpy(rng.dirichlet(np.full(len(c), 0.3))).float()
    w = torch.from_numpy(rng.uniform(0.2, 5.0, len(c))).float()
    logits = torch.log(p * w).view(1, -1, 1, 1)  # what a network trained with pixel weights w learns
    data_mean = (p[:, None] * c).sum(0)
    corrected = annealed_mean(logits, c, 1.0, class_weights=w, correction=1.0)[0, :, 0, 0]
    torch.testing.assert_close(corrected, data_mean, atol=1e-3, rtol=1e-4)
    biased = annealed_mean(logits, c, 1.0)[0, :, 0, 0]
    assert float((biased - data_mean).norm()) > 1.0
    half = annealed_mean(logits, c, 1.0, class_weights=w, correction=0.5)[0, :, 0, 0]
    assert float((half - data_mean).norm()) < float((biased - data_mean).norm())
    reg = torch.full((1, 2, 1, 1), 7.0)
    assert Decoding(mix=0.0, gain=2.0).ab(logits, reg, c, w).flatten().tolist() == [14.0, 14.0]
    with pytest.raises(OptionError, match="prior_correction"):
        FusionColorizer(prior_correction=1.5)


def test_focus_amplifies_sure_pixels_and_leaves_spread_ones(centers: np.ndarray) -> None:
    c = torch.from_numpy(centers)
    w = torch.ones(len(c))
    sure = torch.full((len(c),), -20.0)
    sure[int(np.argmax(np.hypot(*centers.T)))] = 20.0  # one vivid bin
    spread = torch.zeros(len(c))  # uniform: the annealed mean is the mean of all bins
    logits = torch.stack([sure, spread], dim=1).view(1, -1, 1, 2)
    reg = torch.zeros(1, 2, 1, 2)
    plain = Decoding(temperature=1.0, gain=1.0).ab(logits, reg, c, w)
    flat = Decoding(temperature=1.0, gain=3.0).ab(logits, reg, c, w)
    torch.testing.assert_close(flat, 3.0 * plain)
    focused = Decoding(temperature=1.0, gain=3.0, focus=1.0).ab(logits, reg, c, w)
    torch.testing.assert_close(focused[..., 0], 3.0 * plain[..., 0], rtol=1e-3, atol=1e-3)  # κ = 1
    torch.testing.assert_close(focused[..., 1], plain[..., 1], rtol=1e-3, atol=1e-3)  # κ = 0
    assert FusionColorizer(focus=2.0).decoding.focus == 2.0
    assert FusionColorizer(mix=0.0, gain=1.0).decoding.gain == 1.0  # the plain regression head
    with pytest.raises(OptionError, match="focus"):
        FusionColorizer(focus=-1.0)


def test_unet_and_fusion_shapes() -> None:
    unet = UNet(UNetConfig(1, (8, 16, 32)))
    feats = unet.encode(torch.rand(2, 1, 48, 40))
    assert [tuple(f.shape[-2:]) for f in feats] == [(24, 20), (12, 10), (6, 5)]
    vector = GlobalBranch(32, 12)(feats[-1])
    assert vector.shape == (2, 12)
    fused = FusionLayer(32, 12)(feats[-1], vector)
    assert fused.shape == feats[-1].shape
    assert unet.decode(feats).shape == (2, 8, 24, 20)


def test_training_steps_reduce_the_loss_and_export_loads(centers: np.ndarray, tmp_path) -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    cfg = FusionTrainConfig(model=FusionModelConfig(**{**TINY.to_dict(), "n_bins": len(centers)}),
                            warmup=1, lr=3e-3, bf16=False)
    trainer = FusionTrainer(cfg, centers, np.ones(len(centers), np.float32), total_steps=40)
    sky = np.zeros((64, 64, 3), np.uint8)
    sky[:32] = (90, 150, 230)
    sky[32:] = (60, 140, 40)
    rgb = np.stack([random_crop(sky, 32, rng) for _ in range(4)])
    luma, ab = to_luma_ab(torch.from_numpy(rgb).permute(0, 3, 1, 2).contiguous())
    np.testing.assert_allclose(luma[:, 0].numpy(), rgb_to_luma(rgb), atol=1e-5)
    batch = {"luma": luma, "ab": ab}
    first = trainer.training_step(batch)
    for _ in range(30):
        last = trainer.training_step(batch)
    assert last["total"] < 0.6 * first["total"]
    path = export(tmp_path / "f.safetensors", trainer, np.full(len(centers), 1 / len(centers), np.float32),
                  WeightCard(method="fusion", config={"model": trainer.net.config.to_dict()},
                             extra={"inference": {"temperature": 0.5, "mix": 0.7, "work_size": 40}}))
    method = FusionColorizer(weights=str(path))
    assert method.work_size == 40 and FusionColorizer(weights=str(path), work_size=64).work_size == 64
    assert method.decoding == Decoding(temperature=0.5, prior_correction=0.0, mix=0.7, gain=1.0)
    assert FusionColorizer(weights=str(path), mix=0.2).decoding.mix == 0.2  # options override the card
    gray = rgb_to_luma(np.repeat(np.repeat(sky / 255.0, 2, 0), 2, 1)).astype(np.float32)  # 128 x 128
    out = method.colorize(gray)
    np.testing.assert_allclose(rgb_to_luma(out), gray, atol=2e-5)
    top, bottom = rgb_to_lab(out[:40].reshape(-1, 3)).mean(0), rgb_to_lab(out[-40:].reshape(-1, 3)).mean(0)
    assert top[2] < bottom[2]  # the sky came out bluer than the grass
    assert FusionColorizer(weights=str(path), saturation=0.0).colorize(gray).std(axis=2).max() < 1e-5
    assert not np.allclose(FusionColorizer(weights=str(path), work_size=64).colorize(gray), out)
    by_short = FusionColorizer(weights=str(path), short_side=64)  # the short side sets the scale
    assert working_scale((128, 256), by_short.work_size, by_short.short_side) == 0.5
    assert working_scale((128, 256), method.work_size, method.short_side) == 40 / 256
    assert working_scale((100, 8192), by_short.work_size, by_short.short_side) == 1024 / 8192  # bounded
    tensors, card = load_weights(path)
    card.extra["inference"]["short_side"] = 64
    short_card = save_weights(tmp_path / "short.safetensors", tensors, card)
    assert FusionColorizer(weights=str(short_card)).short_side == 64
    assert FusionColorizer(weights=str(short_card), work_size=80).short_side is None  # the option wins
    with pytest.raises(OptionError, match="not both"):
        FusionColorizer(weights=str(path), work_size=80, short_side=64)


def test_guided_upsampling_in_strips_equals_one_pass() -> None:
    rng = np.random.default_rng(3)
    gray = rng.random((150, 90)).astype(np.float32)
    uv = (rng.random((30, 18, 2)).astype(np.float32) - 0.5) * 0.4
    whole = upsample_guided(uv, gray, rows=10_000)
    strips = upsample_guided(uv, gray, rows=17)
    np.testing.assert_allclose(strips, whole, atol=1e-5)
    assert whole.shape == (150, 90, 2)
    np.testing.assert_array_equal(upsample_guided(uv, gray[:30, :18]), uv)


def test_model_multiple_and_odd_sizes() -> None:
    net = FusionNet(TINY).eval()
    with torch.no_grad():
        logits, ab = net(torch.rand(1, 1, 32, 48))
    assert logits.shape == (1, TINY.n_bins, 16, 24) and ab.shape == (1, 2, 16, 24)
    assert float(ab.abs().max()) <= 110.0


def test_scene_histogram_feeds_the_global_branch(centers: np.ndarray, tmp_path) -> None:
    from tinct.methods.fusion.scene import SceneHistogram

    scene = SceneHistogram()
    sky = torch.ones(1, 1, 96, 128)
    sky[..., 48:, :] = 0.2  # bright top, dark bottom
    hist = scene(torch.cat([sky, sky.flip(-2)]))
    assert hist.shape == (2, scene.classes)
    torch.testing.assert_close(hist.sum(1), torch.ones(2))
    assert float((hist[0] - hist[1]).abs().sum()) > 1e-3  # the histogram depends on the picture
    cfg = FusionModelConfig(**{**TINY.to_dict(), "scene_classes": scene.classes})
    net = FusionNet(cfg).eval()
    with torch.no_grad():
        a, _ = net(sky, hist[:1])
        b, _ = net(sky, hist[1:])
    assert not torch.allclose(a, b)  # the histogram reaches the output through the fusion
    with pytest.raises(ValueError, match="extra features"):
        net(sky)
    # trained and applied end to end: the trainer and the colorizer run the parser themselves
    cfg = FusionTrainConfig(model=replace(cfg, n_bins=len(centers)), warmup=1, bf16=False)
    trainer = FusionTrainer(cfg, centers, np.ones(len(centers), np.float32), total_steps=2)
    ab = torch.zeros(2, 2, 32, 32)
    assert np.isfinite(trainer.training_step({"luma": torch.rand(2, 1, 32, 32), "ab": ab})["total"])
    path = export(tmp_path / "s.safetensors", trainer, np.full(len(centers), 1 / len(centers), np.float32),
                  WeightCard(method="fusion", config={"model": trainer.net.config.to_dict()}))
    out = FusionColorizer(weights=str(path)).colorize(np.random.default_rng(0).random((40, 56), np.float32))
    assert out.shape == (40, 56, 3)


def test_warm_start_loads_the_network_and_refuses_another_architecture(centers: np.ndarray, tmp_path) -> None:
    from tinct.errors import TinctError
    from tinct.weights import warm_start

    model = FusionModelConfig(**{**TINY.to_dict(), "n_bins": len(centers)})
    cfg = FusionTrainConfig(model=model, bf16=False)
    src = FusionTrainer(cfg, centers, np.ones(len(centers), np.float32), total_steps=5)
    src.step = 7
    path = export(tmp_path / "w.safetensors", src, np.full(len(centers), 1 / len(centers), np.float32),
                  WeightCard(method="fusion", config={"model": model.to_dict()}, extra={"steps": 7}))
    dst = FusionTrainer(cfg, centers, np.ones(len(centers), np.float32), total_steps=5)
    assert warm_start(dst.net, "fusion", str(path)) == 7
    for a, b in zip(src.net.state_dict().values(), dst.net.state_dict().values(), strict=True):
        torch.testing.assert_close(a.half().float(), b.float())
    other = FusionTrainer(replace(cfg, model=replace(model, global_dim=4)), centers,
                          np.ones(len(centers), np.float32), total_steps=5)
    with pytest.raises(TinctError, match="do not fit this network"):
        warm_start(other.net, "fusion", str(path))


def test_crop_batches_of_several_sizes_keep_the_pixels_per_step() -> None:
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 255, (int(rng.integers(120, 300)), int(rng.integers(120, 300)), 3), np.uint8)
              for _ in range(6)]
    fixed = next(CropBatches(photos, crop=32, batch_size=8, seed=0)(0))
    assert fixed["luma"].shape == (8, 1, 32, 32) and fixed["ab"].shape == (8, 2, 32, 32)
    stream = CropBatches(photos, crop=32, batch_size=8, seed=0, crop_max=64)(0)
    shapes = {tuple(next(stream)["luma"].shape) for _ in range(30)}
    assert len({s[2:] for s in shapes}) > 3 and any(s[2] != s[3] for s in shapes)  # sizes and aspects vary
    for n, _, h, w in shapes:
        assert h % 16 == 0 and w % 16 == 0 and 32 <= min(h, w) and max(h, w) <= 64
        assert abs(n * h * w - 8 * 32 * 32) <= h * w / 2  # about the same pixels per batch
    a, b = CropBatches(photos, crop=32, batch_size=8, seed=3, crop_max=64)(5), \
        CropBatches(photos, crop=32, batch_size=8, seed=3, crop_max=64)(5)
    torch.testing.assert_close(next(a)["ab"], next(b)["ab"])  # resumable: the same start, the same batch


def test_realism_critic_learns_to_tell_gray_from_colour_and_leaves_its_weights_alone() -> None:
    torch.manual_seed(0)
    critic = RealismCritic(width=8, n_down=2, lr=2e-3)
    luma = torch.rand(8, 1, 32, 32)
    real = torch.randn(8, 2, 1, 1).mul(40).expand(8, 2, 16, 16).contiguous()  # saturated flat colours
    fake = torch.zeros(8, 2, 16, 16, requires_grad=True)  # gray, the regression's failure
    losses = [critic.update(luma, real, fake) for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0]
    assert critic.generator_term(luma, real).item() < 0.5 * critic.generator_term(luma, fake).item()
    assert critic.generator_term(luma, fake).item() > 0.7  # gray is scored near 0 ("fake")
    critic.opt.zero_grad(set_to_none=True)
    critic.generator_term(luma, fake).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0  # the generator gets a gradient
    assert all(p.grad is None for p in critic.net.parameters())  # ... and the critic none
    assert all(p.requires_grad for p in critic.net.parameters())  # and is trainable again


def test_fusion_trainer_with_a_realism_term_trains_and_checkpoints_the_critic(centers: np.ndarray) -> None:
    torch.manual_seed(0)
    cfg = FusionTrainConfig(model=FusionModelConfig(**{**TINY.to_dict(), "n_bins": len(centers)}),
                            warmup=1, bf16=False, lambda_adv=0.5)
    trainer = FusionTrainer(cfg, centers, np.ones(len(centers), np.float32), total_steps=4)
    assert set(trainer.modules) == {"net", "critic"} and set(trainer.optimizers) == {"opt", "critic"}
    luma, ab = to_luma_ab(torch.rand(2, 3, 32, 32))
    w0 = [p.detach().clone() for p in trainer.critic.net.parameters()]
    out = trainer.training_step({"luma": luma, "ab": ab})
    assert {"total", "ce", "reg", "adv", "critic"} <= set(out)
    assert out["total"] == pytest.approx(out["ce"] + out["reg"] + 0.5 * out["adv"], rel=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(w0, trainer.critic.net.parameters(), strict=True))
    plain = FusionTrainer(replace(cfg, lambda_adv=0.0), centers, np.ones(len(centers), np.float32), 4)
    assert plain.critic is None and set(plain.modules) == {"net"}
