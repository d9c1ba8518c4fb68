"""deepcolor (Cheng et al.): features, conv inference == MLP, training, clustering, pipeline, CLI."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from tinct.errors import TinctError
from tinct.methods.deepcolor import clustering as cl
from tinct.methods.deepcolor import features as fe
from tinct.methods.deepcolor import model as mo
from tinct.methods.deepcolor import pipeline as pl
from tinct.methods.deepcolor import scene_parser as sp
from tinct.methods.deepcolor.gist import DIM, gist
from tinct.methods.deepcolor.train_nets import MLPTrainable, NetTrainConfig, feature_columns, row_batches
from tinct.testing import dense_daisy, predict_uv_dense
from tinct.weights import save_weights

ABLATIONS = [
    fe.FeatureConfig(daisy_radius=4, daisy_sigma=1.5),
    fe.FeatureConfig(daisy_radius=4, daisy_sigma=1.5, use_patch=False),
    fe.FeatureConfig(daisy_radius=4, daisy_sigma=1.5, use_daisy=False),
    fe.FeatureConfig(daisy_radius=4, daisy_sigma=1.5, use_semantic=False),
]


@pytest.fixture
def gray(rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[0:29, 0:41].astype(np.float32)
    return np.clip(0.5 + 0.3 * np.sin(x / 4) * np.cos(y / 5) + rng.normal(0, 0.05, x.shape), 0, 1).astype(
        np.float32
    )


def test_patch_feature_is_the_7x7_neighbourhood(gray: np.ndarray) -> None:
    rows = fe.patch_at(gray, np.array([10, 0]), np.array([20, 40]))
    np.testing.assert_array_equal(rows[0].reshape(7, 7), gray[7:14, 17:24] - 0.5)
    padded = np.pad(gray, 3, mode="edge")  # borders replicate the edge pixel
    np.testing.assert_array_equal(rows[1].reshape(7, 7), padded[0:7, 40:47] - 0.5)


def test_daisy_orientation_bins_follow_the_gradient() -> None:
    ramp = np.tile(np.linspace(0, 1, 40, dtype=np.float32), (30, 1))  # brighter to the right
    maps = fe.orientation_maps(ramp, 2.0)
    assert maps.shape == (8, 30, 40)
    assert np.argmax(maps[:, 15, 20]) == 0  # the 0-degree (+x) bin
    np.testing.assert_allclose(np.linalg.norm(maps[:, 15, 20]), 1.0, atol=1e-4)
    # rotating the image by 90 degrees moves every gradient by two 45-degree bins
    rot = np.ascontiguousarray(np.rot90(ramp, -1))  # clockwise: brighter downwards (+y)
    assert np.argmax(fe.orientation_maps(rot, 2.0)[:, 20, 15]) == 2
    flat = fe.orientation_maps(np.full((20, 20), 0.4, np.float32), 2.0)
    assert np.abs(flat).max() == 0.0


def test_dense_daisy_matches_sampled_and_shifts_with_the_image(gray: np.ndarray) -> None:
    dense = dense_daisy(gray, 5, 1.5)
    ys, xs = np.array([0, 14, 28]), np.array([3, 20, 40])
    sampled = fe.daisy_at(fe.orientation_maps(gray, 1.5), ys, xs, 5)
    np.testing.assert_allclose(dense[:, ys, xs].T, sampled)
    # ring order right, down, left, up: descriptor at p, location "right" == centre maps at p + (0, r)
    maps = fe.orientation_maps(gray, 1.5)
    np.testing.assert_allclose(dense[:8, 10, 10], maps[:, 10, 15])
    np.testing.assert_allclose(dense[8:16, 10, 10], maps[:, 15, 10])


@pytest.mark.parametrize("fcfg", ABLATIONS, ids=["all", "no_patch", "no_daisy", "no_semantic"])
def test_conv_inference_equals_mlp_on_materialized_features(
    gray: np.ndarray, rng: np.random.Generator, fcfg: fe.FeatureConfig
) -> None:
    torch.manual_seed(0)
    semantic = rng.random((8, *gray.shape)).astype(np.float32)
    mlp = mo.make_mlp(fcfg, 8).eval()
    assert mlp.config.width == fe.n_features(fcfg, 8) // 2  # the paper: hidden = half the input
    ys, xs = np.meshgrid(np.arange(gray.shape[0]), np.arange(gray.shape[1]), indexing="ij")
    rows = fe.features_at(gray, ys.ravel(), xs.ravel(), fcfg, semantic)
    with torch.no_grad():
        ref = mlp(torch.from_numpy(rows)).numpy().T.reshape(2, *gray.shape)
    orient = fe.orientation_maps(gray, fcfg.daisy_sigma)
    out = predict_uv_dense(mlp, gray, orient, semantic, fcfg)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    # the same columns of the all-features cache
    full = fe.features_at(
        gray, ys.ravel(), xs.ravel(), fe.FeatureConfig(daisy_radius=4, daisy_sigma=1.5), semantic
    )
    np.testing.assert_array_equal(full[:, feature_columns(fcfg, 8)], rows)


def test_mlp_training_steps_reduce_the_loss(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    x = rng.normal(0, 0.5, (2000, 16)).astype(np.float32)
    y = np.stack([np.tanh(x[:, 0] - x[:, 3]), 0.3 * x[:, 5] * x[:, 1]], 1).astype(np.float32)
    mlp = mo.ColorMLP(mo.MLPConfig(n_in=16))
    trainer = MLPTrainable(mlp, NetTrainConfig(steps=60, batch_size=256, lr=1e-2))
    it = row_batches(x, y, 256, seed=0)(0)
    losses = [trainer.training_step(next(it))["mse"] for _ in range(60)]
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:3])


def test_parser_shapes_and_a_loss_that_falls() -> None:
    torch.manual_seed(0)
    model = sp.SceneParser(sp.ParserConfig(widths=(4, 8, 8, 8)))
    assert model(torch.rand(2, 1, 37, 50)).shape == (2, 8, 37, 50)  # any size (padded inside)
    img = np.zeros((1, 32, 32), np.float32)
    img[:, :16] = 1.0  # bright sky above, dark ground below
    lab = np.where(np.arange(32)[:, None] < 16, 0, 3).repeat(32, 1).astype(np.uint8)
    lab[0, 0] = sp.IGNORE
    trainer = sp.ParserTrainable(model, lr=3e-2, total_steps=60)
    it = sp.crop_batches([img], [lab], batch_size=4, crop=24, seed=0)(0)
    losses = [trainer.training_step(next(it))["ce"] for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0]
    assert sp.pixel_accuracy(model, [img], [lab]) > 0.9


def test_gist_descriptor() -> None:
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    stripes = (0.5 + 0.4 * np.sin(x / 3)).astype(np.float32)
    g1, g2 = gist(stripes), gist(stripes.T.copy())
    assert g1.shape == (DIM,) and (g1 >= 0).all()
    toned = gist(stripes * 0.9 + 0.05)  # a tone change moves it little, a rotation a lot
    assert np.linalg.norm(toned - g1) < 0.3 * np.linalg.norm(g1) < np.linalg.norm(g1 - g2)


def test_select_cluster_top_k_then_semantic_cosine() -> None:
    centers = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    hists = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    g = np.array([0.1, 0.0])
    assert cl.select_cluster(g, np.array([0.1, 0.9]), centers, hists, top_k=2) == 1
    assert cl.select_cluster(g, np.array([0.1, 0.9]), centers, hists, top_k=1) == 0
    assert cl.select_cluster(g, np.array([0.9, 0.1]), centers, hists, top_k=3) == 0


def test_adaptive_clustering_algorithm_3() -> None:
    rng = np.random.default_rng(0)
    gists = np.concatenate([rng.normal(0, 0.1, (30, 4)), rng.normal(3, 0.1, (30, 4))])
    hists = np.full((60, 2), 0.5)
    trained: list[np.ndarray] = []
    # images with an even index are "easy" (30 dB > 26 dB): they leave the pool after layer 0
    params = cl.ClusterParams(eps_db=-26.0, n0=2, max_layers=5)
    clusters = cl.adaptive_clustering(
        gists,
        hists,
        lambda i, m: trained.append(m),
        lambda i, m: np.where(m % 2 == 0, 30.0, 20.0),
        params,
        mu=10,
    )
    layers = [c.layer for c in clusters]
    assert layers[:2] == [0, 0] and sorted(len(c.members) for c in clusters[:2]) == [30, 30]
    assert len(trained) == len(clusters)
    # layer 1 has 30 hard images -> 30 // 10 = 3 clusters, none of them "easy"
    assert layers[2:5] == [1, 1, 1]
    assert all((c.members % 2 == 1).all() for c in clusters[2:])
    assert cl.min_images(30, 8010, 2000) == 120  # eq. 3


def test_compose_keeps_luma_and_stays_in_gamut(rng: np.random.Generator) -> None:
    from tinct.color import rgb_to_luma

    g = rng.random((40, 30)).astype(np.float32)
    uv = rng.normal(0, 0.4, (2, 20, 15)).astype(np.float32)  # strong chroma, lower resolution
    rgb = pl.compose(g, uv, strip_rows=7)
    assert rgb.shape == (40, 30, 3) and rgb.min() >= -1e-6 and rgb.max() <= 1 + 1e-6
    np.testing.assert_allclose(rgb_to_luma(rgb), g, atol=2e-6)
    np.testing.assert_allclose(pl.compose(g, uv, strip_rows=40), rgb, atol=1e-6)


def _tiny_bundle(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    fcfg = fe.FeatureConfig(daisy_radius=4, daisy_sigma=1.5, parser_max_side=48)
    pcfg = sp.ParserConfig(widths=(4, 8, 8, 8))
    nets = [mo.make_mlp(fcfg, 8) for _ in range(2)]
    for net in nets:
        torch.nn.init.normal_(net.out.bias, 0, 0.1)
    bundle = pl.Bundle(
        parser=sp.SceneParser(pcfg).eval(),
        nets=nets,
        centers=np.random.rand(2, DIM),
        hists=np.random.rand(2, 8),
        global_net=nets[0],
        features=fcfg,
        parser_config=pcfg,
    )
    return pl.save_bundle(
        tmp_path / "tiny.safetensors", bundle, {"data": "none", "split": "none", "metrics": {}}
    )


def test_tiling_equals_untiled_and_options(tmp_path: Path, gray: np.ndarray) -> None:
    from tinct.methods.deepcolor import DeepColorizer

    path = _tiny_bundle(tmp_path)
    big = np.kron(gray, np.ones((2, 2), np.float32))  # 58 x 82
    whole = DeepColorizer(weights=str(path), strip_rows=1000).colorize(big)
    tiled = DeepColorizer(weights=str(path), strip_rows=5).colorize(big)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    small = DeepColorizer(weights=str(path), work_pixels=600).colorize(big)  # chroma at ~20 x 29
    assert small.shape == whole.shape
    with pytest.raises(TinctError, match="no deepcolor weights named 'nope'; bundled: default, warm"):
        DeepColorizer(weights="nope")
    with pytest.raises(TinctError, match="not a deepcolor weight file"):
        bad = save_weights(tmp_path / "bad.safetensors", {"x": torch.zeros(1)}, {"config": {}})
        DeepColorizer(weights=str(bad))


def test_bundled_weights_colorize_a_sample_photo() -> None:
    from skimage import data, transform

    import tinct
    from tinct.color import rgb_to_luma
    from tinct.weights import bundled_path

    if not bundled_path("deepcolor").is_file():
        pytest.skip("bundled deepcolor weights not built yet")
    rgb = transform.resize(data.astronaut(), (128, 128), anti_aliasing=True).astype(np.float32)
    g = rgb_to_luma(rgb).astype(np.float32)
    out = tinct.load_method("deepcolor").colorize(g)
    assert out.shape == (128, 128, 3)
    np.testing.assert_allclose(rgb_to_luma(out), g, atol=1e-5)
    chroma = np.abs(out - g[..., None]).mean()
    assert chroma > 0.01  # not gray
    # global style (Sec. IV-C): the bundled "warm" model is warmer (larger V - U) than the default
    from tinct.color import rgb_to_yuv
    assert {"default", "warm"} <= set(tinct.method_info("deepcolor").weights)
    warm = rgb_to_yuv(tinct.load_method("deepcolor", weights="warm").colorize(g))
    default = rgb_to_yuv(out)
    assert (warm[..., 2] - warm[..., 1]).mean() > (default[..., 2] - default[..., 1]).mean() + 0.03


def test_training_cli_runs_three_steps(tmp_path: Path, rng: np.random.Generator) -> None:
    from tinct.cli import main
    from tinct.io import write_image

    data = tmp_path / "photos"
    data.mkdir()
    y, x = np.mgrid[0:40, 0:52].astype(np.float32)
    for i in range(4):
        img = np.stack([0.5 + 0.4 * np.sin(x / (5 + i)), 0.5 + 0.3 * np.cos(y / 6), 0.3 + x / 120], 2)
        write_image(data / f"img{i}.png", np.clip(img, 0, 1).astype(np.float32))
    pcfg = sp.ParserConfig(widths=(4, 8, 8, 8))
    parser_file = save_weights(
        tmp_path / "parser.safetensors",
        sp.parser_tensors(sp.SceneParser(pcfg)),
        {"config": {"parser": asdict(pcfg)}},
    )
    style = tmp_path / "dusk.txt"
    style.write_text("img0.png\nimg2\n")
    out = tmp_path / "run"
    args = [
        "train",
        "deepcolor",
        "--data",
        str(data),
        "--out",
        str(out),
        "--steps",
        "3",
        "--seed",
        "1",
        "--samples-per-image",
        "50",
        "--set",
        "net.batch_size=64",
        "--parser-weights",
        str(parser_file),
        "--style-list",
        str(style),
        "--set",
        "clusters.alpha=0.1",
        "--set",
        "clusters.n0=2",
        "--set",
        "clusters.max_layers=1",
        "--no-progress",
    ]
    assert main(args) == 0
    card = (out / "deepcolor.json").read_text()
    assert '"style": "dusk"' in card and '"commit"' in card
    assert (out / "config.json").is_file() and (out / "nets" / "global" / "checkpoint.pt").is_file()
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == 2  # the style list kept img0 and img2
    from tinct.methods.deepcolor import DeepColorizer

    rgb = DeepColorizer(weights=str(out / "deepcolor.safetensors")).colorize(
        rng.random((20, 24)).astype(np.float32)
    )
    assert rgb.shape == (20, 24, 3)
    assert main(args) == 0  # resume: everything is done, nothing retrains


def test_training_cli_trains_the_scene_parser_first(tmp_path: Path) -> None:
    from tinct.cli import main
    from tinct.io import write_image

    root = tmp_path / "stanford"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    for i in range(3):
        sky = y < 20 + 2 * i
        rgb = np.where(sky[..., None], [0.5, 0.7, 0.95], [0.3, 0.5 + 0.01 * i, 0.2]).astype(np.float32)
        write_image(root / "images" / f"{i:07d}.jpg", rgb)
        write_image(root / "labels" / f"{i:07d}.png", np.where(sky, 0, 3).astype(np.float32) / 255)
    (root / "split_train.txt").write_text("0000000\n0000001\n")
    (root / "split_val.txt").write_text("0000002\n")
    photos = root / "images"
    out = tmp_path / "run"
    args = [
        "train",
        "deepcolor",
        "--data",
        str(photos),
        "--out",
        str(out),
        "--steps",
        "2",
        "--parser-data",
        str(root),
        "--parser-steps",
        "2",
        "--samples-per-image",
        "30",
        "--set",
        "net.batch_size=32",
        "--no-clustering",
        "--no-progress",
    ]
    assert main(args) == 0
    card = (out / "parser" / "parser.json").read_text()
    assert "pixel_accuracy_val" in card and "split_train.txt" in card
    assert (out / "deepcolor.safetensors").is_file()
