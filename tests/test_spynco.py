"""SpyncoGAN: pyramid shapes, H_t consistency, training steps, unpaired split, bundled weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinct.color import rgb_to_luma, rgb_to_luma_torch
from tinct.data.unpaired import UnpairedBatches, UnpairedImages, disjoint_halves, load_unpaired
from tinct.errors import TinctError
from tinct.methods.spynco import SpyncoColorizer
from tinct.methods.spynco import losses as L
from tinct.methods.spynco.model import SpyncoGenerator, SpyncoModelConfig, generate_full, pad_to_multiple
from tinct.methods.spynco.training import SpyncoTrainConfig, SpyncoTrainer, export_generator
from tinct.nn.gan import image_pyramid
from tinct.registry import load_method, method_info
from tinct.train import load_trainable_state, trainable_state
from tinct.weights import bundled_path, load_weights, save_weights

TINY = SpyncoModelConfig(encoder_width=8, decoder_width=16, n_res_blocks=1)


def tiny_trainer(**kw) -> SpyncoTrainer:
    torch.manual_seed(0)
    return SpyncoTrainer(SpyncoTrainConfig(model=TINY, disc_width=8, lr=2e-3, **kw))


def tiny_batch(seed: int = 0, size: int = 16) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    color = torch.rand(4, 3, size, size, generator=g)
    other = torch.rand(4, 3, size, size, generator=g)
    return {"gray": rgb_to_luma_torch(other), "color": color}


def test_pyramid_output_shapes_three_scales() -> None:
    g = SpyncoGenerator(TINY)
    with torch.no_grad():
        outs = g(torch.rand(2, 1, 24, 40))
    assert [tuple(o.shape) for o in outs] == [(2, 3, 24, 40), (2, 3, 12, 20), (2, 3, 6, 10)]
    assert all(float(o.min()) >= 0.0 and float(o.max()) <= 1.0 for o in outs)  # sigmoid range
    with pytest.raises(ValueError, match="multiples of 4"):
        g(torch.rand(1, 1, 30, 32))


def test_decoder_width_constant_and_head_shared() -> None:
    g = SpyncoGenerator(TINY)
    assert len(g.heads) == 1 and g.heads[0].in_channels == TINY.decoder_width
    assert {m.out_channels for m in (g.proj1, g.proj2, g.proj3)} == {TINY.decoder_width}


def test_consistency_loss_zero_for_gray_consistent_output() -> None:
    gray = torch.rand(2, 1, 16, 16)
    pyr = image_pyramid(gray, 3)
    # A gray RGB image (R = G = B = x) has H_t = x exactly, at every level.
    outs = [p.expand(-1, 3, -1, -1) for p in pyr]
    assert float(L.consistency_loss(outs, pyr, [0, 1, 2])) == pytest.approx(0.0, abs=1e-6)
    # A coloured image with the same luma too: add chroma orthogonal to the luma weights.
    chroma = torch.tensor([0.114, 0.0, -0.299]).view(1, 3, 1, 1) * 0.3
    coloured = [o + chroma for o in outs]
    assert float(L.consistency_loss(coloured, pyr, [0, 1, 2])) == pytest.approx(0.0, abs=1e-6)
    assert float(L.consistency_loss([torch.zeros_like(o) for o in outs], pyr, [0])) > 0.1


def test_loss_levels_switch() -> None:
    assert L.loss_levels([0, 0, 0], "all") == [0, 1, 2]
    assert L.loss_levels([0, 0, 0], "last") == [0]
    with pytest.raises(ValueError):
        L.loss_levels([0, 0, 0], "middle")


def test_contours_loss_zero_for_gray_output_and_positive_for_flat() -> None:
    gray = torch.rand(1, 1, 16, 16)
    pyr = image_pyramid(gray, 3)
    outs = [p.expand(-1, 3, -1, -1) for p in pyr]
    assert float(L.contours_loss(outs, pyr, [0, 1, 2])) < 1e-3
    flat = [torch.full_like(o, 0.5) for o in outs]
    assert float(L.contours_loss(flat, pyr, [0])) > 0.01


@pytest.mark.parametrize("levels,contours", [("all", False), ("last", False), ("all", True)])
def test_training_step_finite_and_only_used_discriminators_learn(levels: str, contours: bool) -> None:
    t = tiny_trainer(loss_levels=levels, contours=contours)
    before = [d.net[0].weight.detach().clone() for d in t.discriminator.discs]
    losses = t.training_step(tiny_batch())
    assert all(np.isfinite(v) for v in losses.values())
    assert ("contours" in losses) == contours
    discs = t.discriminator.discs
    changed = [not torch.equal(b, d.net[0].weight) for b, d in zip(before, discs, strict=True)]
    assert changed == ([True, True, True] if levels == "all" else [True, False, False])


def test_few_steps_decrease_consistency_loss() -> None:
    t = tiny_trainer()
    batch = tiny_batch()
    with torch.no_grad():
        first = float(t.generator_losses(batch["gray"])[0]["consistency"])
    for _ in range(15):
        t.training_step(batch)
    with torch.no_grad():
        last = float(t.generator_losses(batch["gray"])[0]["consistency"])
    assert last < 0.7 * first


def test_state_dict_round_trip_resumes_identically() -> None:
    a = tiny_trainer()
    a.training_step(tiny_batch(0))
    b = tiny_trainer()
    load_trainable_state(b, trainable_state(a))
    la, lb = a.training_step(tiny_batch(1)), b.training_step(tiny_batch(1))
    assert la == pytest.approx(lb, rel=1e-5)


def test_bf16_autocast_close_to_fp32() -> None:
    t = tiny_trainer()
    gray = tiny_batch()["gray"]
    with torch.no_grad():
        fp32 = t.generator_losses(gray)[1][0]
        t.config.bf16 = True
        bf16 = t.generator_losses(gray)[1][0]
    assert float((fp32 - bf16).abs().max()) < 0.03


def test_disjoint_halves() -> None:
    items = [f"img{i}" for i in range(101)]
    gray, color = disjoint_halves(items, seed=3)
    assert len(gray) == 51 and len(color) == 50
    assert not set(gray) & set(color) and set(gray) | set(color) == set(items)
    assert disjoint_halves(items, seed=3) == (gray, color)
    assert disjoint_halves(items, seed=4) != (gray, color)
    with pytest.raises(TinctError):
        disjoint_halves(["one"], seed=0)


def test_unpaired_batches_shapes_and_reproducible(tmp_path) -> None:
    rng = np.random.default_rng(0)
    ims = [(rng.random((20, 24, 3)) * 255).astype(np.uint8) for _ in range(6)]
    images = UnpairedImages([tmp_path / f"{i}" for i in range(3)], [tmp_path / f"{i}" for i in range(3, 6)],
                            ims[:3], ims[3:])
    batches = UnpairedBatches(images, crop=16, batch_size=5, seed=1)
    b = next(batches(7))
    assert b["gray"].shape == (5, 1, 16, 16) and b["color"].shape == (5, 3, 16, 16)
    assert torch.equal(b["gray"], batches.batch(7)["gray"])
    assert not torch.equal(b["gray"], batches.batch(8)["gray"])
    # gray batches come from the gray half only: their values are lumas of gray-half pixels.
    lumas = np.concatenate([rgb_to_luma(im.astype(np.float32) / 255.0).ravel() for im in ims[:3]])
    other = np.concatenate([rgb_to_luma(im.astype(np.float32) / 255.0).ravel() for im in ims[3:]])
    got = b["gray"].numpy().ravel()
    assert np.isin(got, lumas).all() and not np.isin(got, other).all()
    with pytest.raises(TinctError, match="multiple of 4"):
        UnpairedBatches(images, crop=15, batch_size=2)


def test_cifar_split_is_disjoint(shared_data) -> None:
    images = load_unpaired("cifar10", shared_data, seed=0, crop=32, limit=40)
    assert not set(images.gray_files) & set(images.color_files)
    assert len(images.gray_files) + len(images.color_files) == 40
    assert images.split_description()["disjoint"] is True


def test_unpaired_sources_join_folders_and_drop_small_images(tmp_path) -> None:
    from tinct.io.write import write_image

    rng = np.random.default_rng(0)
    for folder, sizes in {"a": [(20, 24), (8, 30), (24, 20)], "b": [(40, 16), (16, 16)]}.items():
        (tmp_path / folder).mkdir()
        for i, (h, w) in enumerate(sizes):
            write_image(tmp_path / folder / f"{folder}{i}.png", rng.random((h, w, 3)).astype(np.float32))
    images = load_unpaired(f"{tmp_path / 'a'},{tmp_path / 'b'}", tmp_path, seed=0, crop=16)
    names = sorted(p.name for p in images.gray_files + images.color_files)
    assert names == ["a0.png", "a2.png", "b0.png", "b1.png"]  # a1 (8 px high) is under the crop
    assert images.split_description()["disjoint"] is True
    with pytest.raises(TinctError, match="not found"):
        load_unpaired(str(tmp_path / "missing"), tmp_path)


def test_pad_and_generate_any_size() -> None:
    x = torch.rand(1, 1, 13, 22)
    padded, size = pad_to_multiple(x)
    assert padded.shape[-2:] == (16, 24) and size == (13, 22)
    assert generate_full(SpyncoGenerator(TINY).eval(), x).shape == (1, 3, 13, 22)


def test_exported_weights_load_and_colorize_odd_size(tmp_path) -> None:
    t = tiny_trainer()
    path = export_generator(tmp_path / "g", t, data={"source": "synthetic"}, split={})
    m = SpyncoColorizer(weights=str(path))
    gray = (0.4 + 0.2 * np.random.default_rng(0).random((19, 27))).astype(np.float32)
    out = m.colorize(gray)
    assert out.shape == (19, 27, 3) and out.dtype == np.float32
    assert np.abs(rgb_to_luma(out) - gray).max() < 1e-5  # luma kept exactly (compose_luma_chroma)
    raw = SpyncoColorizer(weights=str(path), keep_luma=False).colorize(gray)
    assert raw.shape == (19, 27, 3)
    with pytest.raises(TinctError, match="not found"):
        SpyncoColorizer(weights=str(tmp_path / "missing.safetensors"))


def test_float16_weights_load_close_to_float32(tmp_path) -> None:
    path = export_generator(tmp_path / "g32", tiny_trainer(), data={}, split={})
    tensors, card = load_weights(path)
    half = save_weights(tmp_path / "g16", {k: v.half() for k, v in tensors.items()}, card)
    gray = np.linspace(0, 1, 24 * 20, dtype=np.float32).reshape(24, 20)
    a = SpyncoColorizer(weights=str(path), keep_luma=False).colorize(gray)
    b = SpyncoColorizer(weights=str(half), keep_luma=False).colorize(gray)
    assert np.abs(a - b).max() < 5e-3


@pytest.mark.parametrize("name", ["spynco", "cyclegan"])
def test_bundled_weights_colorize_odd_size(name: str) -> None:
    """Both unpaired GANs (cyclegan subclasses spynco's colorizer) ship weights trained on a
    split disjoint from the evaluation images and colour an odd-sized input, keeping its luma."""
    if not bundled_path(name).is_file():
        pytest.skip(f"bundled {name} weights not yet trained")
    info = method_info(name)
    assert info.trainable and info.bundled_weights
    m = load_method(name)
    assert m.card.method == name and m.card.split["disjoint"] is True
    y, x = np.mgrid[0:37, 0:53]
    gray = (0.5 + 0.3 * np.sin(x / 5.0) * np.cos(y / 7.0)).astype(np.float32)
    out = m.colorize(gray)
    assert out.shape == (37, 53, 3) and np.isfinite(out).all()
    assert np.abs(rgb_to_luma(out) - gray).max() < 0.05


def test_generated_train_parser_and_yaml(tmp_path) -> None:
    from tinct.cli.train import resolve_run

    argv = ["--loss-levels", "last", "--contours", "--bf16", "--crop", "64"]
    cfg, run = resolve_run(method_info("spynco"), argv)
    assert cfg.loss_levels == "last" and cfg.contours and cfg.bf16 and cfg.crop == 64 and run.data is None
    yaml_text = "model: {encoder_width: 16}\nlr: 1.0e-3\nrun: {data: photos, steps: 7}\n"
    (tmp_path / "run.yaml").write_text(yaml_text)
    cfg, run = resolve_run(method_info("spynco"), ["--config", str(tmp_path / "run.yaml"), "--steps", "9"])
    assert cfg.model.encoder_width == 16 and cfg.lr == 1e-3 and run.data == "photos" and run.steps == 9
