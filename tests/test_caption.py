"""Caption-steered colorization (issue 18): recolouring, the conditioning layers, the network, training
through `tinct train caption`, the method and its CLI (the words themselves: test_caption_words.py)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures.caption_scene import scene as _scene

import tinct
from tinct import cli
from tinct.data.captions import (
    NONE,
    VOCABULARY,
    synthesize,
    tokenize,
)
from tinct.data.color_names import (
    COLOR_WORDS,
    PROTOTYPES,
    Region,
    image_regions,
)
from tinct.errors import TinctWarning
from tinct.io import write_image
from tinct.methods.caption import KNOWN_NOUNS
from tinct.methods.caption.data import CaptionBatches, ColourBank, LabelledPhoto, crop_caption, recolor
from tinct.methods.caption.model import CaptionModelConfig, CaptionNet, batch_tokens
from tinct.methods.caption.training import CaptionTrainConfig, CaptionTrainer
from tinct.nn.conditioning import ConcatCondition, FiLM
from tinct.options import OptionError

TINY = {"widths": (8, 16, 24, 32), "global_dim": 16, "text_dim": 16, "embed_dim": 8, "n_bins": 261}


def test_film_and_concat_start_as_the_identity_and_keep_shapes() -> None:
    x, c = torch.rand(2, 6, 5, 7), torch.randn(2, 4)
    for layer in (FiLM(6, 4), ConcatCondition(6, 4)):
        out = layer(x, c)
        assert out.shape == x.shape and torch.equal(out, x)
    assert sum(p.numel() for p in FiLM(6, 4).parameters()) == 4 * 12 + 12
    assert sum(p.numel() for p in ConcatCondition(6, 4).parameters()) == 6 * 10 + 6
    film = FiLM(6, 4)
    torch.nn.init.normal_(film.proj.weight)
    assert not torch.allclose(film(x, c[:1].expand(2, -1)), film(x, c[1:].expand(2, -1)))


def test_conditioned_networks_equal_the_plain_trunk_at_init_and_then_follow_the_caption() -> None:
    torch.manual_seed(0)
    plain = CaptionNet(CaptionModelConfig(conditioning="none", **TINY)).eval()
    luma = torch.rand(2, 1, 32, 48)
    tokens, lengths = batch_tokens([tokenize("blue sky, green grass")[0], tokenize("")[0]])
    ref = plain(luma, tokens, lengths)
    for kind in ("film", "concat", "attend"):
        net = CaptionNet(CaptionModelConfig(conditioning=kind, **TINY)).eval()
        net.load_state_dict(plain.state_dict(), strict=False)
        logits, ab = net(luma, tokens, lengths)
        assert logits.shape == (2, 261, 16, 24) and ab.shape == (2, 2, 16, 24)
        assert torch.allclose(logits, ref[0], atol=1e-5) and torch.allclose(ab, ref[1], atol=1e-5)
        with torch.no_grad():
            for p in net.condition.parameters():
                p.add_(0.3 * torch.randn_like(p))
        other = batch_tokens([tokenize("red sky, purple grass")[0], tokenize("")[0]])
        assert not torch.allclose(net(luma, tokens, lengths)[0][0], net(luma, *other)[0][0], atol=1e-4)
        assert torch.allclose(net(luma, tokens, lengths)[0][1], net(luma, *other)[0][1])  # same empty


def test_recoloured_crops_keep_luma_and_their_caption_names_the_new_colour() -> None:
    from tinct.color import rgb_to_lab

    rgb, labels = _scene()
    lab = rgb_to_lab(rgb).astype(np.float32)
    sky = next(r for r in image_regions(lab, labels) if r.label == 0)
    red = recolor(lab, labels, sky, "purple")
    np.testing.assert_array_equal(red[..., 0], lab[..., 0])  # lightness untouched
    np.testing.assert_array_equal(red[labels != 0], lab[labels != 0])  # other regions untouched
    assert next(r for r in image_regions(red, labels) if r.label == 0).word == "purple"
    texts = set()
    for seed in range(12):
        text, target = crop_caption(lab, labels, np.random.default_rng(seed), p_empty=0.0, p_recolor=1.0)
        truth = {r.word for r in image_regions(target, labels)}
        assert {w for w in text.split() if w in COLOR_WORDS} <= truth  # the caption says the target
        changed = [r for r in image_regions(target, labels) if r.word != {q.label: q.word for q in
                   image_regions(lab, labels)}[r.label]]
        assert len(changed) == 1 and changed[0].word in text.split()  # the recoloured region is named
        texts.add(text)
    assert any(w not in ("blue", "green") for t in texts for w in t.split() if w in COLOR_WORDS)


def test_several_recoloured_regions_get_different_words_and_are_all_named() -> None:
    from tinct.color import rgb_to_lab

    rgb, labels = _scene()
    lab = rgb_to_lab(rgb).astype(np.float32)
    before = {r.label: r.word for r in image_regions(lab, labels)}
    counts = set()
    for seed in range(30):
        text, target = crop_caption(lab, labels, np.random.default_rng(seed), p_empty=0.0, p_recolor=1.0,
                                    recolor_regions=2)
        changed = [r for r in image_regions(target, labels) if r.word != before[r.label]]
        assert len({r.word for r in changed}) == len(changed)  # each its own word
        assert all(r.word in text.split() for r in changed)  # every recoloured region is named
        counts.add(len(changed))
    assert counts == {1, 2}
    regions = [Region(k, 0.2, (50, 0, 0), "gray") for k in range(4)]
    for seed in range(200):  # more regions must be named than were drawn: the sentence still fits them
        text, plan = synthesize(regions, np.random.default_rng(seed), must_name=[0, 1, 2])
        assert {0, 1, 2} <= set(plan.regions) and text.split().count("gray") == len(plan.regions)
    with pytest.raises(OptionError, match="recolor_regions"):
        CaptionTrainConfig(recolor_regions=0)


def test_colour_bank_draws_real_colours_of_the_word_at_similar_lightness() -> None:
    regions = [Region(0, 0.5, (50.0, 10.0, -40.0), "blue"), Region(1, 0.5, (90.0, 0.0, -20.0), "blue")]
    bank = ColourBank(regions, tolerance=10.0)
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(bank.sample("blue", 55.0, rng), (10.0, -40.0))  # only the L 50 one
    np.testing.assert_allclose(bank.sample("red", 55.0, rng), PROTOTYPES["red"][1:])  # none: prototype
    np.testing.assert_allclose(bank.sample("white", 55.0, rng), PROTOTYPES["white"][1:])
    pulled = ColourBank(regions, tolerance=10.0, pull=0.25)  # a quarter of the way to the prototype
    expected = 0.75 * np.array([10.0, -40.0]) + 0.25 * np.array(PROTOTYPES["blue"][1:])
    np.testing.assert_allclose(pulled.sample("blue", 55.0, rng), expected, rtol=1e-5)
    with pytest.raises(OptionError, match="bank_pull"):
        CaptionTrainConfig(bank_pull=1.5)


def test_crop_captions_name_only_what_the_crop_shows() -> None:
    from tinct.color import rgb_to_lab

    rgb, labels = _scene()
    rng = np.random.default_rng(1)
    grass, target = crop_caption(rgb_to_lab(rgb[44:]), labels[44:], rng, p_empty=0.0)
    assert "green" in grass.split() and "blue" not in grass.split() and "sky" not in grass.split()
    np.testing.assert_array_equal(target, rgb_to_lab(rgb[44:]))  # p_recolor 0: the true colours
    assert crop_caption(rgb_to_lab(rgb), labels, rng, p_empty=1.0)[0] == ""
    photo = LabelledPhoto("x.jpg", "stanford", "train", (rgb * 255).astype(np.uint8), labels)
    batch = next(CaptionBatches([photo], crop=32, batch_size=6, seed=0, p_empty=0.5)(0))
    assert batch["luma"].shape == (6, 1, 32, 32) and batch["ab"].shape == (6, 2, 32, 32)
    assert batch["tokens"].shape[0] == 6 and batch["lengths"].min() >= 1
    empty = [i for i, t in enumerate(batch["captions"]) if not t]
    assert all(batch["tokens"][i, 0] == NONE for i in empty)


@pytest.mark.parametrize("kind", ["film", "attend"])
def test_a_tiny_network_learns_a_fixed_batch(kind: str) -> None:
    from tinct.methods.fusion.bins import gamut_bins

    torch.manual_seed(0)
    centers = gamut_bins()
    model = CaptionModelConfig(conditioning=kind, **TINY)
    cfg = CaptionTrainConfig(model=model, lr=5e-3, warmup=1, bf16=True)
    trainer = CaptionTrainer(cfg, centers, np.ones(len(centers), np.float32), total_steps=40)
    rgb, labels = _scene(64, 64)  # crops of 64: at 32 the global branch's 1x1 BatchNorm can give NaN in bf16
    photo = LabelledPhoto("x.jpg", "stanford", "train", (rgb * 255).astype(np.uint8), labels)
    batch = next(CaptionBatches([photo], crop=64, batch_size=4, seed=0)(0))
    losses = [trainer.training_step(batch)["total"] for _ in range(25)]
    assert losses[-1] < 0.6 * losses[0]


def test_recolor_weight_marks_the_recoloured_pixels_and_weights_the_loss() -> None:
    from tinct.methods.fusion.bins import gamut_bins

    rgb, labels = _scene(64, 64)
    photo = LabelledPhoto("x.jpg", "stanford", "train", (rgb * 255).astype(np.uint8), labels)
    plain = next(CaptionBatches([photo], crop=64, batch_size=8, seed=3, p_empty=0.0, p_recolor=1.0)(0))
    batch = next(CaptionBatches([photo], crop=64, batch_size=8, seed=3, p_empty=0.0, p_recolor=1.0,
                                recolor_weight=4.0)(0))
    assert "pixel_weight" not in plain and batch["captions"] == plain["captions"]
    w = batch["pixel_weight"][:, 0]
    assert set(torch.unique(w).tolist()) <= {1.0, 4.0} and (w == 4.0).any() and (w == 1.0).any()
    assert torch.equal(batch["ab"], plain["ab"])  # the weight changes no draw and no target
    true = next(CaptionBatches([photo], crop=64, batch_size=8, seed=3, p_empty=0.0, p_recolor=0.0,
                               recolor_weight=4.0)(0))
    assert torch.equal(true["pixel_weight"], torch.ones_like(true["pixel_weight"]))  # nothing recoloured
    torch.manual_seed(0)
    centers = gamut_bins()
    cfg = CaptionTrainConfig(model=CaptionModelConfig(conditioning="film", **TINY), bf16=False)
    trainer = CaptionTrainer(cfg, centers, np.ones(len(centers), np.float32), total_steps=10)
    trainer.net.eval()
    with torch.no_grad():
        unweighted = trainer.losses(plain)["total"]
        ones = trainer.losses({**plain, "pixel_weight": torch.ones_like(batch["pixel_weight"])})["total"]
        weighted = trainer.losses(batch)["total"]
    assert torch.allclose(unweighted, ones, rtol=1e-5)
    assert not torch.allclose(unweighted, weighted, rtol=1e-3)


# ------------------------------------------------------------------ through `tinct train caption`
def write_stanford(root: Path, n: int = 8) -> Path:
    """A Stanford-Background-shaped folder of synthetic scenes (sky / road or building / grass)."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = np.random.default_rng(0)
    ids = []
    for i in range(n):
        rgb, labels = _scene(middle=2 if i % 2 else 5)
        rgb = np.clip(rgb + rng.normal(0, 0.02, rgb.shape), 0, 1).astype(np.float32)
        ids.append(f"{i:07d}")
        write_image(root / "images" / f"{ids[-1]}.jpg", rgb)
        write_image(root / "labels" / f"{ids[-1]}.png", np.repeat(labels[..., None] / 255.0, 3, axis=2))
    (root / "split_train.txt").write_text("\n".join(ids[:6]) + "\n")
    (root / "split_val.txt").write_text("\n".join(ids[6:]) + "\n")
    return root


TRAIN_ARGS = ["--no-photos", "--batch-size", "4", "--crop", "64", "--threads", "1", "--no-progress",
              "--warmup", "2", "--init", "none", "--set", "model.widths=[8,16,24,32]",
              "--set", "model.global_dim=16", "--set", "model.text_dim=16", "--set", "model.embed_dim=8"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """A FiLM and a no-caption model, 4 steps each through `tinct train caption` (the FiLM run resumed)."""
    root = write_stanford(tmp_path_factory.mktemp("stanford"))
    out = {"stanford": root}
    for kind in ("film", "none"):
        run = tmp_path_factory.mktemp(kind)
        base = ["train", "caption", "--stanford", str(root), "--out", str(run), *TRAIN_ARGS,
                "--set", f"model.conditioning={kind}"]
        assert cli.main([*base, "--steps", "2" if kind == "film" else "4"]) == 0
        if kind == "film":
            assert cli.main([*base, "--steps", "4"]) == 0  # resumes from step 2
        out[kind] = run / "caption.safetensors"
    return out


def test_training_writes_weights_card_and_caption_cache(trained: dict[str, Path]) -> None:
    run = trained["film"].parent
    steps = [json.loads(line)["step"] for line in (run / "losses.jsonl").read_text().splitlines()]
    assert steps == [2, 4]  # the second call continued, it did not start over
    card = json.loads(trained["film"].with_suffix(".json").read_text())
    assert card["config"]["model"]["conditioning"] == "film" and card["vocabulary"] == list(VOCABULARY)
    cache = json.loads((run / "captions.json").read_text())
    assert cache["vocabulary"] == list(VOCABULARY) and len(cache["images"]) == 8
    assert {im["split"] for im in cache["images"]} == {"train", "val"}
    first = cache["images"][0]
    assert [r["word"] for r in first["regions"]] == ["blue", "green", "red"] and len(first["captions"]) == 3


def test_method_colours_with_and_without_a_caption_and_names_unknown_words(trained) -> None:
    from tinct.color import rgb_to_luma

    method = tinct.load_method("caption", weights=str(trained["film"]))
    rgb, _ = _scene()
    gray = rgb_to_luma(rgb).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = method.colorize(gray)
        steered = method.colorize(gray, caption="blue sky and green grass")
        one_call = tinct.colorize(gray, method="caption", weights=str(trained["film"]),
                                  caption="blue sky and green grass")
    np.testing.assert_array_equal(one_call, steered)
    with pytest.warns(TinctWarning, match=r"1 word\(s\) outside .*: bus \(it knows scene regions only"):
        method.colorize(gray, caption="a red bus in front of a white house")
    for out in (plain, steered):
        assert out.shape == (64, 80, 3) and out.dtype == np.float32
        np.testing.assert_allclose(rgb_to_luma(out), gray, atol=2e-5)
    none = tinct.load_method("caption", weights=str(trained["none"]), conditioning="none")
    with pytest.warns(TinctWarning, match="without captions"):
        none.colorize(gray, caption="blue sky")


def test_cli_caption_flag_warning_and_errors(trained, tmp_path, capsys) -> None:
    rgb, _ = _scene()
    write_image(tmp_path / "in.png", rgb)
    w = str(trained["film"])
    base = ["colorize", str(tmp_path / "in.png"), "--method", "caption", "--weights", w, "-q"]
    caption = "a red bus in front of a white house"
    assert cli.main([*base, "--caption", caption, "-o", str(tmp_path / "a.png")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["warning: caption: 1 word(s) outside the model's vocabulary are ignored: "
                   f"bus ({KNOWN_NOUNS})"]
    assert (tmp_path / "a.png").is_file()
    assert cli.main([*base, "-o", str(tmp_path / "b.png")]) == 0  # no caption: the empty caption
    assert cli.main([*base, "--caption", "  ", "-o", str(tmp_path / "c.png")]) == 2
    assert "--caption is empty" in capsys.readouterr().err
    concat = ["-O", "conditioning=concat", "--caption", "x", "-o", str(tmp_path / "d.png")]
    assert cli.main([*base, *concat]) == 2
    assert "trained with conditioning=film" in capsys.readouterr().err
    assert cli.main([*base, "-O", "conditioning=blue", "-o", str(tmp_path / "e.png")]) == 2
    shipped = ["colorize", str(tmp_path / "in.png"), "--method", "caption", "--caption", "blue sky"]
    assert cli.main([*shipped, "-O", "conditioning=concat", "-o", str(tmp_path / "f.png")]) == 0
    assert (tmp_path / "f.png").is_file()  # the bundled concat variant follows the option
    assert cli.main([*shipped, "-O", "weights=nope", "-o", str(tmp_path / "g.png")]) == 1
    assert "bundled: default, concat, none" in capsys.readouterr().err


def test_train_refuses_a_run_without_data(tmp_path, capsys) -> None:
    code = cli.main(["train", "caption", "--no-photos", "--stanford", "none", "--out", str(tmp_path),
                     "--steps", "1", "--no-progress"])
    assert code != 0 and "no train photos" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["film", "concat", "attend"])
def test_a_run_started_from_fusion_weights_starts_as_fusion(kind: str) -> None:
    from tinct.methods.fusion import load_network
    from tinct.weights import resolve, warm_start

    fusion, _, _ = load_network(str(resolve("fusion", "default")))
    net = CaptionNet(CaptionModelConfig(conditioning=kind, n_bins=fusion.config.n_bins)).eval()
    assert warm_start(net, "fusion", "default", partial=True) > 0
    luma = torch.rand(1, 1, 64, 96)
    with torch.no_grad():
        want = fusion(luma)
        got = net(luma, *batch_tokens([tokenize("a red sky over purple grass")[0]]))
    assert torch.allclose(got[0], want[0], atol=1e-4) and torch.allclose(got[1], want[1], atol=1e-3)
    small = CaptionNet(CaptionModelConfig(conditioning=kind, **TINY))
    with pytest.raises(tinct.TinctError, match="do not fit this network"):
        warm_start(small, "fusion", "default", partial=True)
    with pytest.raises(tinct.TinctError, match="is missing"):  # a FiLM net is more than fusion's
        warm_start(CaptionNet(CaptionModelConfig(conditioning=kind, n_bins=fusion.config.n_bins)), "fusion",
                   "default")


def test_a_caption_has_its_own_decoding_from_the_card(trained, tmp_path) -> None:
    from tinct.weights import load_weights, save_weights

    tensors, card = load_weights(trained["film"])
    card.extra["inference"] = {"temperature": 0.25, "prior_correction": 0.75, "gain": 2.0,
                               "with_caption": {"prior_correction": 0.0, "gain": 1.0}}
    path = save_weights(tmp_path / "two.safetensors", tensors, card)
    method = tinct.load_method("caption", weights=str(path))
    auto, named = method.decoding_for(None), method.decoding_for("blue sky")
    assert (auto.prior_correction, auto.gain, auto.temperature) == (0.75, 2.0, 0.25)
    assert (named.prior_correction, named.gain, named.temperature) == (0.0, 1.0, 0.25)  # T inherited
    assert method.decoding_for("") == auto
    forced = tinct.load_method("caption", weights=str(path), prior_correction=0.5)  # options win
    assert forced.decoding_for("blue sky").prior_correction == 0.5
    assert forced.decoding_for(None).prior_correction == 0.5


def test_guidance_extrapolates_from_the_empty_caption_through_the_caption(trained, tmp_path) -> None:
    from tinct.weights import load_weights, save_weights

    gray = np.random.default_rng(0).random((48, 64), dtype=np.float32)
    plain = tinct.load_method("caption", weights=str(trained["film"]))
    assert plain.guidance == 1.0
    with_cap, empty = plain.network_outputs(gray, "blue sky"), plain.network_outputs(gray, "")
    assert not torch.allclose(with_cap[0], empty[0])
    guided = tinct.load_method("caption", weights=str(trained["film"]), guidance=2.5)
    logits, ab = guided.network_outputs(gray, "blue sky")
    torch.testing.assert_close(logits, empty[0] + 2.5 * (with_cap[0] - empty[0]), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ab, empty[1] + 2.5 * (with_cap[1] - empty[1]), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(guided.network_outputs(gray, "blue sky", guidance=1.0)[0], with_cap[0])
    torch.testing.assert_close(guided.network_outputs(gray, None)[0], empty[0])  # no caption: one pass
    tensors, card = load_weights(trained["film"])  # the card's with_caption decoding may carry it
    card.extra["inference"] = {"with_caption": {"guidance": 1.7}}
    assert tinct.load_method("caption", weights=str(save_weights(tmp_path / "g.safetensors", tensors,
                                                                 card))).guidance == 1.7
    with pytest.raises(OptionError, match="guidance"):
        tinct.load_method("caption", weights=str(trained["film"]), guidance=-1.0)


def test_the_working_size_comes_from_the_card_or_the_options(trained, tmp_path) -> None:
    from tinct.weights import load_weights, save_weights

    tensors, card = load_weights(trained["film"])
    card.extra["inference"] = {**card.extra.get("inference", {}), "short_side": 48}
    path = save_weights(tmp_path / "short.safetensors", tensors, card)
    image = np.zeros((96, 200), np.float32)
    assert tinct.load_method("caption", weights=str(path)).working_gray(image).shape == (48, 100)
    assert tinct.load_method("caption", weights=str(path), work_size=50).working_gray(image).shape == (24, 50)
    assert tinct.load_method("caption", weights=str(trained["film"])).working_gray(image).shape == (96, 200)
    with pytest.raises(OptionError, match="not both"):
        tinct.load_method("caption", weights=str(path), work_size=50, short_side=48)
