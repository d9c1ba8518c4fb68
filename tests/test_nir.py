"""The NIR methods (issue 16): data splits and crops, the networks, training through fit, export,
and the colorizer contract (modality, no luma kept, strips equal to one pass)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

import tinct
from tinct import cli
from tinct.data.nir import PairBatches, list_pairs, load_pair, split_pairs
from tinct.errors import TinctError
from tinct.io import write_image
from tinct.methods.nir_snet.model import SNet, SNetConfig
from tinct.nn.unet import Translator, TranslatorConfig
from tinct.options import OptionError

NIR_METHODS = ["nir-acgan", "nir-scgan", "nir-snet", "nir-unet"]


def _scene(rng: np.random.Generator, h: int = 72, w: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A smooth RGB scene and a NIR band that is not its luma (red-weighted, like vegetation)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = rng.uniform(0, 6, 3)
    rgb = np.stack([0.5 + 0.4 * np.sin(x / 11 + phase[0]), 0.5 + 0.4 * np.cos(y / 9 + phase[1]),
                    0.5 + 0.4 * np.sin((x + y) / 15 + phase[2])], axis=2).astype(np.float32)
    nir = np.clip(0.7 * rgb[..., 0] + 0.1 * rgb[..., 1] + 0.2, 0, 1).astype(np.float32)
    return nir, rgb


@pytest.fixture
def pair_dir(tmp_path, rng):
    """Two categories x 4 pairs of synthetic <key>_nir.png / <key>_rgb.png files."""
    for cat in ("field", "urban"):
        for i in range(4):
            nir, rgb = _scene(rng)
            write_image(tmp_path / f"{cat}_{i:04d}_nir.png", np.repeat(nir[..., None], 3, axis=2))
            write_image(tmp_path / f"{cat}_{i:04d}_rgb.png", rgb)
    return tmp_path


def test_split_holds_out_the_last_pairs_of_every_category(pair_dir) -> None:
    pairs = list_pairs(pair_dir)
    train, val = split_pairs(pairs, val_per_category=1)
    assert [p.key for p in val] == ["field_0003", "urban_0003"]
    assert len(train) == 6 and not {p.key for p in train} & {p.key for p in val}
    nir, rgb = load_pair(pairs[0])
    assert nir.shape == rgb.shape[:2] and nir.dtype == np.float32 and 0 <= nir.min() <= nir.max() <= 1


def test_missing_partner_and_empty_folder_are_clear(tmp_path) -> None:
    with pytest.raises(TinctError, match="no <key>_nir"):
        list_pairs(tmp_path)
    write_image(tmp_path / "a_0001_nir.png", np.zeros((8, 8, 3), np.float32))
    with pytest.raises(TinctError, match="no RGB partner"):
        list_pairs(tmp_path)


def test_crops_are_registered_unless_misregistered(rng) -> None:
    nir, _ = _scene(rng)
    rgb = np.repeat(nir[..., None], 3, axis=2)  # the truth equals the band: crops must agree exactly
    aligned = next(PairBatches([(nir, rgb)], crop=48, batch_size=4, seed=0)(0))
    assert aligned["nir"].shape == (4, 1, 48, 48) and aligned["rgb"].shape == (4, 3, 48, 48)
    assert torch.allclose(aligned["rgb"][:, :1], aligned["nir"], atol=1 / 255)
    shifted = next(PairBatches([(nir, rgb)], crop=48, batch_size=4, seed=0, misregister=8)(0))
    assert (shifted["rgb"][:, :1] - shifted["nir"]).abs().mean() > 0.01


def test_networks_map_a_band_to_rgb_at_full_size() -> None:
    x = torch.rand(2, 1, 64, 96)
    for net in (Translator(TranslatorConfig()), Translator(TranslatorConfig(res_blocks=1, noise=0.1)),
                SNet(SNetConfig()), SNet(SNetConfig(skips=True))):
        with torch.no_grad():
            out = net.eval()(x)
        outs = out if isinstance(out, tuple) else (out,)
        for o in outs:
            assert o.shape == (2, 3, 64, 96) and 0 <= float(o.min()) and float(o.max()) <= 1
    inverse = Translator(TranslatorConfig(in_channels=3, out_channels=1))
    assert inverse(torch.rand(1, 3, 32, 32)).shape == (1, 1, 32, 32)


def test_noise_channel_only_while_training() -> None:
    net = Translator(TranslatorConfig(noise=0.5)).eval()
    x = torch.rand(1, 1, 32, 32)
    assert torch.equal(net(x), net(x))  # deterministic at inference
    net.train()
    assert not torch.equal(net(x), net(x))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, str]:
    """Each NIR method trained for a few steps on synthetic pairs through `tinct train`."""
    rng = np.random.default_rng(1)
    root = tmp_path_factory.mktemp("nirdata")
    for i in range(5):
        nir, rgb = _scene(rng)
        write_image(root / f"field_{i:04d}_nir.png", np.repeat(nir[..., None], 3, axis=2))
        write_image(root / f"field_{i:04d}_rgb.png", rgb)
    out = {}
    for name in NIR_METHODS:
        run_dir = tmp_path_factory.mktemp(name)
        code = cli.main(["train", name, "--data", str(root), "--out", str(run_dir), "--steps", "3",
                         "--crop", "32", "--batch-size", "2", "--no-progress", "--threads", "1"])
        assert code == 0
        out[name] = str(run_dir / f"{name}.safetensors")
    return out


@pytest.mark.parametrize("name", NIR_METHODS)
def test_method_contract_and_strips(name: str, trained: dict[str, str], rng) -> None:
    info = tinct.method_info(name)
    assert info.modality == "nir" and not info.keeps_luma and info.trainable
    nir, _ = _scene(rng, 100, 80)
    method = tinct.load_method(name, weights=trained[name], short_side=0)
    whole = method.colorize(nir)
    assert whole.shape == (100, 80, 3) and whole.dtype == np.float32
    stripped = tinct.load_method(name, weights=trained[name], strip_rows=40, short_side=0).colorize(nir)
    # strips of 40 rows with a 96-row halo: only context beyond the halo (and padding) differs
    assert np.abs(stripped - whole).mean() < 0.01
    card = json.loads(open(trained[name].replace(".safetensors", ".json")).read())
    assert card["method"] == name and card["extra"]["steps"] == 3 if "extra" in card else card["steps"] == 3


def test_working_size_defaults_to_the_training_scale(trained: dict[str, str], rng) -> None:
    from tinct.filters import upsample_guided
    from tinct.methods.nir_unet import card_short_side

    nir, _ = _scene(rng, 100, 80)
    method = tinct.load_method("nir-unet", weights=trained["nir-unet"])
    assert method.short_side == 40  # crops of 32 px cover 0.6-1 (0.8 on average) of the short side
    out = method.colorize(nir)
    small = cv2.resize(nir, (40, 50), interpolation=cv2.INTER_AREA)
    expected = np.clip(upsample_guided(method.full_resolution(small), nir, eps=1e-3), 0, 1)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert out.shape == (100, 80, 3) and 0 <= out.min() and out.max() <= 1
    full = tinct.load_method("nir-unet", weights=trained["nir-unet"], short_side=0).colorize(nir)
    np.testing.assert_allclose(full, method.full_resolution(nir), atol=1e-6)
    assert np.abs(full - out).mean() > 1e-4  # the working size changes the result
    small_band = nir[:30, :30]  # no larger than the working size: predicted as it is
    np.testing.assert_allclose(method.colorize(small_band), method.full_resolution(small_band), atol=1e-6)
    assert card_short_side({"train": {"crop": 96}}) == 120
    assert card_short_side({"train": {"crop": 96}, "inference": {"short_side": 200}}) == 200
    assert card_short_side({}) == 0
    with pytest.raises(OptionError, match="short_side"):
        tinct.load_method("nir-unet", weights=trained["nir-unet"], short_side=5)


def test_wrong_weights_are_refused_in_one_line(trained: dict[str, str]) -> None:
    with pytest.raises(TinctError, match="is not nir-snet weights"):
        tinct.load_method("nir-snet", weights=trained["nir-unet"])


def test_l1_training_lowers_the_loss(rng) -> None:
    from tinct.methods.nir_unet.training import L1Trainer, NirUNetTrainConfig

    torch.manual_seed(0)
    cfg = NirUNetTrainConfig(model=TranslatorConfig(widths=(8, 16, 32, 32)), bf16=False, warmup=1, lr=3e-3)
    trainer = L1Trainer(cfg, Translator(cfg.model), total_steps=60)
    batch = next(PairBatches([_scene(rng)], crop=32, batch_size=4, seed=0)(0))
    losses = [trainer.training_step(batch)["total"] for _ in range(60)]
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])


def test_conditional_acgan_judges_pairs_displaced_alike(rng) -> None:
    from tinct.methods.nir_acgan.training import ACGanTrainConfig, ACGanTrainer, displace

    ramp = torch.linspace(0, 1, 32).view(1, 1, 1, 32).expand(2, 3, 32, 32).contiguous()
    assert displace(ramp, 0.0) is ramp
    moved = displace(ramp, 4.0)
    step = 1 / 31  # one pixel of the ramp
    assert 0 < float((moved - ramp).abs().mean()) and float((moved - ramp).abs().max()) < 7 * step
    torch.manual_seed(0)
    small = TranslatorConfig(widths=(8, 16, 32, 32), res_blocks=1)
    inverse = TranslatorConfig(in_channels=3, out_channels=1, widths=(8, 16, 32, 32))
    cfg = ACGanTrainConfig(model=small, inverse=inverse, bf16=False, conditional=True, misregister=4.0,
                           disc_width=8)
    trainer = ACGanTrainer(cfg, Translator(cfg.model), total_steps=5)
    batch = next(PairBatches([_scene(rng), _scene(rng)], crop=32, batch_size=2, seed=0, misregister=4.0)(0))
    real = trainer.judged_b(batch["nir"], batch["rgb"], fake=False)
    assert torch.equal(real, torch.cat([batch["nir"], batch["rgb"]], 1))  # the scene's own partner
    fake = trainer.judged_b(batch["nir"], batch["rgb"], fake=True)
    assert torch.equal(fake[:, :1], batch["nir"]) and not torch.equal(fake[:, 1:], batch["rgb"])
    losses = [trainer.training_step(batch) for _ in range(3)]
    assert all(np.isfinite(x["total"]) and np.isfinite(x["d_b"]) for x in losses)
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(trainer.opt.param_groups[0]["lr"])


def test_acgan_discriminators_take_their_own_learning_rate() -> None:
    from tinct.methods.nir_acgan.training import ACGanTrainConfig, ACGanTrainer

    small = TranslatorConfig(widths=(8, 16, 32, 32))
    inverse = TranslatorConfig(in_channels=3, out_channels=1, widths=(8, 16, 32, 32))
    cfg = ACGanTrainConfig(model=small, inverse=inverse, bf16=False, disc_width=8, disc_lr=2e-5)
    trainer = ACGanTrainer(cfg, Translator(cfg.model), total_steps=5)
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(2e-5)
    assert trainer.opt.param_groups[0]["lr"] == pytest.approx(cfg.lr)
    assert trainer.exported is trainer.net and "net_ema" not in trainer.modules


def test_acgan_exports_the_moving_average_with_ema(rng) -> None:
    from tinct.methods.nir_acgan.training import ACGanTrainConfig, ACGanTrainer

    torch.manual_seed(0)
    small = TranslatorConfig(widths=(8, 16, 32, 32))
    inverse = TranslatorConfig(in_channels=3, out_channels=1, widths=(8, 16, 32, 32))
    cfg = ACGanTrainConfig(model=small, inverse=inverse, bf16=False, disc_width=8, ema=0.9, lr=1e-2)
    trainer = ACGanTrainer(cfg, Translator(cfg.model), total_steps=5)
    assert trainer.modules["net_ema"] is trainer.ema and trainer.exported is trainer.ema.average
    expected = [p.clone() for p in trainer.net.parameters()]
    batch = next(PairBatches([_scene(rng), _scene(rng)], crop=32, batch_size=2, seed=0)(0))
    for n in range(3):
        trainer.training_step(batch)
        d = min(0.9, (1 + n) / (10 + n))  # tinct.nn.ema's warm-up
        current = trainer.net.parameters()
        expected = [e + (1 - d) * (p.detach() - e) for e, p in zip(expected, current, strict=True)]
    assert int(trainer.ema.updates) == 3
    for e, avg in zip(expected, trainer.exported.parameters(), strict=True):
        torch.testing.assert_close(avg, e)
    assert any(not torch.equal(a, p) for a, p in zip(trainer.exported.parameters(), trainer.net.parameters(),
                                                     strict=True))


def test_shift_min_l1_forgives_a_shift_within_its_radius_only() -> None:
    from tinct.methods.nir_acgan.training import shift_min_l1

    torch.manual_seed(0)
    target = torch.rand(2, 3, 24, 24)
    pred = torch.roll(target, shifts=(-2, 1), dims=(2, 3)).requires_grad_()  # pred[y, x] = target[y+2, x-1]
    plain = shift_min_l1(pred, target, 0)
    assert torch.allclose(plain, torch.nn.functional.l1_loss(pred, target)) and plain.item() > 0.2
    assert shift_min_l1(pred, target, 3).item() < 1e-6  # the shift (2, -1) is searched
    assert shift_min_l1(pred, target, 1).item() > 0.2  # out of reach
    shift_min_l1(pred, target, 3).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    with pytest.raises(ValueError, match="no window"):
        shift_min_l1(pred, target, 12)
