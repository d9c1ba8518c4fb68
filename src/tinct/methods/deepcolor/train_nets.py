"""Training the nets (Algorithm 1): feature cache, per-cluster MLPs through :func:`tinct.train.fit`, Alg. 3.

Every net is an MLP on sampled pixels' feature rows, least squares on (U, V) (eq. 1). The
features of ``samples_per_image`` random pixels of every training image are computed once and
cached (``features.npz`` in the output folder); ablations select columns of the same cache.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tinct.color import rgb_to_luma, rgb_to_yuv
from tinct.errors import TinctError
from tinct.metrics import psnr
from tinct.options import option
from tinct.train import FitConfig, RunConfig, StepCounter, fit, optimizer_step, set_cosine_lr

from . import model as mdl
from .clustering import ClusterParams, adaptive_clustering, min_images
from .features import PATCH, FeatureConfig, features_at, semantic_map
from .gist import gist
from .pipeline import Bundle, RefineConfig, compose, predict_uv, refine_uv
from .scene_parser import ParserConfig, SceneParser


@dataclass
class NetTrainConfig:
    """Settings of one MLP's least-squares training."""

    steps: int = 2000
    batch_size: int = 4096
    lr: float = 2e-3
    hidden: int = 0  # 0 = half the input width (the paper)
    time_budget_s: float | None = None


class MLPTrainable(StepCounter):
    """:class:`tinct.train.Trainable`: Adam on the mean squared (U, V) error, cosine learning rate."""

    def __init__(self, mlp: mdl.ColorMLP, cfg: NetTrainConfig) -> None:
        self.mlp = mlp
        self.cfg = cfg
        self.opt = torch.optim.Adam(mlp.parameters(), lr=cfg.lr)
        self.step = 0
        self.modules = {"mlp": mlp}
        self.optimizers = {"opt": self.opt}

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        x, y = batch
        set_cosine_lr(self.opt, self.cfg.lr, self.step / max(1, self.cfg.steps))
        loss = optimizer_step(self.opt, torch.mean((self.mlp(x) - y) ** 2))  # eq. 1, least squares
        self.step += 1
        return {"mse": loss}


def feature_columns(fcfg: FeatureConfig, n_classes: int) -> np.ndarray:
    """Columns of the full (patch, DAISY, semantic) cache that ``fcfg`` keeps."""
    groups = [(fcfg.use_patch, PATCH * PATCH), (fcfg.use_daisy, 32), (fcfg.use_semantic, n_classes)]
    cols, start = [], 0
    for used, width in groups:
        if used:
            cols.append(np.arange(start, start + width))
        start += width
    return np.concatenate(cols)


@dataclass
class FeatureCache:
    """Per-image sampled features (all groups), targets and global descriptors."""

    names: list[str]
    x: np.ndarray  # (n_images, samples, 49 + 32 + K) float16
    y: np.ndarray  # (n_images, samples, 2) float32, (U, V)
    gists: np.ndarray  # (n_images, 512)
    hists: np.ndarray  # (n_images, K)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, names=np.array(self.names), x=self.x, y=self.y, gists=self.gists, hists=self.hists)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> FeatureCache:
        d = np.load(path)
        return cls([str(n) for n in d["names"]], d["x"], d["y"], d["gists"], d["hists"])


def load_training_image(path: Path, work_pixels: int | None) -> np.ndarray:
    """RGB ``(h, w, 3)`` float32 at the working resolution (area resize per channel)."""
    from tinct.io import read_rgb

    rgb = read_rgb(path)
    h, w = rgb.shape[:2]
    if work_pixels and h * w > work_pixels:
        import cv2

        s = (work_pixels / (h * w)) ** 0.5
        rgb = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    return np.clip(rgb, 0, 1).astype(np.float32)


def build_cache(
    paths: list[Path],
    parser: SceneParser,
    samples: int,
    work_pixels: int | None,
    seed: int,
    *,
    progress: bool = True,
) -> FeatureCache:
    """Sample ``samples`` pixels per image and compute all features there (Algorithm 1 step 2)."""
    full = FeatureConfig()
    xs, ys, gists, hists = [], [], [], []
    rng = np.random.default_rng(seed)
    for path in tqdm(paths, desc="features", disable=not progress):
        rgb = load_training_image(path, work_pixels)
        g = rgb_to_luma(rgb).astype(np.float32)
        sem = semantic_map(g, parser, full)
        h, w = g.shape
        idx = rng.choice(h * w, size=samples, replace=h * w < samples)
        py, px = idx // w, idx % w
        xs.append(features_at(g, py, px, full, sem).astype(np.float16))
        ys.append(rgb_to_yuv(rgb[py, px])[:, 1:].astype(np.float32))
        gists.append(gist(g))
        hists.append(sem.reshape(sem.shape[0], -1).mean(1))
    return FeatureCache([p.name for p in paths], np.stack(xs), np.stack(ys), np.stack(gists), np.stack(hists))


def row_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    """``batches(start)`` for :func:`tinct.train.fit`: random rows of ``(x, y)``."""

    def batches(start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rng = np.random.default_rng([seed, start])
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        while True:
            i = torch.from_numpy(rng.integers(0, len(x), batch_size))
            yield xt[i], yt[i]

    return batches


def train_net(
    cache: FeatureCache,
    members: np.ndarray,
    fcfg: FeatureConfig,
    n_classes: int,
    cfg: NetTrainConfig,
    out_dir: Path,
    *,
    seed: int,
    resume: bool,
    progress: bool,
    desc: str,
    init: mdl.ColorMLP | None = None,
) -> tuple[mdl.ColorMLP, list[dict]]:
    """Train one MLP on the cached rows of ``members`` through :func:`tinct.train.fit`.

    ``init``: start from these weights (a cluster net fine-tuned from the all-images net).
    """
    cols = feature_columns(fcfg, n_classes)
    x = np.ascontiguousarray(cache.x[members][..., cols].reshape(-1, len(cols)), dtype=np.float32)
    y = np.ascontiguousarray(cache.y[members].reshape(-1, 2))
    mlp = mdl.make_mlp(fcfg, n_classes, cfg.hidden)
    if init is not None:
        mlp.load_state_dict(init.state_dict())
    trainable = MLPTrainable(mlp, cfg)
    fit_cfg = FitConfig(
        out_dir=str(out_dir),
        steps=cfg.steps,
        seed=seed,
        checkpoint_every=500,
        log_every=50,
        resume=resume,
        progress=progress,
        time_budget_s=cfg.time_budget_s,
    )
    history = fit(
        trainable,
        row_batches(x, y, cfg.batch_size, seed),
        fit_cfg,
        desc=desc,
        resolved_config={"net": asdict(cfg), "features": asdict(fcfg), "members": len(members)},
    )
    if not history and (out_dir / "losses.jsonl").is_file():  # finished earlier: report its last record
        lines = (out_dir / "losses.jsonl").read_text().splitlines()
        history = [json.loads(lines[-1])] if lines else []
    return mlp.eval(), history


def image_psnr(bundle: Bundle, net: mdl.ColorMLP, paths: list[Path], work_pixels: int | None) -> np.ndarray:
    """PSNR (dB, RGB) of each training image colorized by ``net`` (features, net, refinement)."""
    out = []
    for path in paths:
        rgb = load_training_image(path, work_pixels)
        g = rgb_to_luma(rgb).astype(np.float32)
        uv = refine_uv(predict_uv(bundle, g, net=net), g, bundle.refine)
        out.append(psnr(compose(g, uv), rgb))
    return np.array(out)


@dataclass
class DeepColorTrainConfig:
    """Everything ``tinct train deepcolor`` resolves besides the run flags (saved as ``config.json``);
    --data: a folder of colour training photos (default photos/train); --steps: per network."""

    samples_per_image: int = option(2000, "pixels sampled per training image (N_s)")
    work_pixels: int | None = option(512 * 512, "working resolution cap (pixels)")
    limit: int | None = option(None, "use only the first N training images")
    style_list: str | None = option(None, "train only on the images named in this file (a global style, "
                                    "Sec. IV-C)")
    style_name: str | None = option(None, "name recorded for the style (default: the list file's stem)")
    clustering: bool = option(True, "adaptive image clustering, one net per cluster (false: one net, "
                              "ablation)")
    global_net: bool = option(True, "also train the one net on all images")
    init_from_global: bool = option(False, "start every cluster net from the all-images net (ours, not the "
                                    "paper's)")
    net: NetTrainConfig = field(default_factory=NetTrainConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    clusters: ClusterParams = field(default_factory=ClusterParams)
    refine: RefineConfig = field(default_factory=RefineConfig)
    parser_weights: str | None = option(None, "scene parser .safetensors (default: the bundled model's)")
    parser_data: str | None = option(None, "train the scene parser first on this Stanford Background folder")
    parser_steps: int = option(1500, "scene parser training steps")
    parser_color: bool = option(False, "train the parser on colour instead of gray (Table I; not usable "
                                "for colorization)")
    val: str | None = option(None, "score the result on this folder with the quality protocol (card metrics)")
    val_limit: int | None = option(None, "score only the first N validation images")


def training_paths(cfg: DeepColorTrainConfig, data: str | Path) -> list[Path]:
    """Training images of ``data``, restricted to the style list (Sec. IV-C) when given."""
    from tinct.io import list_images

    data = Path(data)
    if not data.is_dir():
        raise TinctError(f"training folder not found: {data}")
    paths = list_images(data)
    if cfg.style_list:
        listed = Path(cfg.style_list)
        if not listed.is_file():
            raise TinctError(f"style list not found: {listed}")
        wanted = {s.strip() for s in listed.read_text().splitlines() if s.strip() and not s.startswith("#")}
        paths = [p for p in paths if p.name in wanted or p.stem in wanted]
        if not paths:
            raise TinctError(f"no image of {data} is named in the style list {listed}")
    paths = paths[: cfg.limit] if cfg.limit else paths
    if not paths:
        raise TinctError(f"no images in {data}")
    return paths


def train_deepcolor(cfg: DeepColorTrainConfig, run: RunConfig, data: str | Path,
                    parser: SceneParser) -> tuple[Bundle, dict]:
    """Algorithm 1 with Algorithm 3 on the photos of ``data``, in the run folder ``run.out``.

    Returns the bundle and a summary (clusters, PSNRs, timings).
    """
    out = Path(run.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = training_paths(cfg, data)
    n_classes = parser.config.num_classes
    cache_path = out / "features.npz"
    cache = FeatureCache.load(cache_path) if run.resume and cache_path.is_file() else None
    if cache is None or cache.names != [p.name for p in paths] or cache.x.shape[1] != cfg.samples_per_image:
        t0 = time.perf_counter()
        cache = build_cache(
            paths, parser, cfg.samples_per_image, cfg.work_pixels, run.seed, progress=run.progress
        )
        cache.save(cache_path)
        print(f"features: {len(paths)} images in {time.perf_counter() - t0:.0f} s -> {cache_path}")
    fcfg = cfg.features
    bundle = Bundle(
        parser=parser,
        nets=[],
        centers=np.zeros((0, cache.gists.shape[1]), np.float32),
        hists=np.zeros((0, n_classes), np.float32),
        features=fcfg,
        parser_config=ParserConfig(**asdict(parser.config)),
        top_k=cfg.clusters.top_k,
        refine=cfg.refine,
    )
    summary: dict = {"images": len(paths), "samples_per_image": cfg.samples_per_image, "nets": []}
    everyone = np.arange(len(paths))
    clusters: list = []
    if cfg.global_net or not cfg.clustering:
        net, hist = train_net(
            cache,
            everyone,
            fcfg,
            n_classes,
            cfg.net,
            out / "nets" / "global",
            seed=run.seed,
            resume=run.resume,
            progress=run.progress,
            desc="net global",
        )
        bundle.global_net = net
        summary["global"] = {"final": hist[-1] if hist else None}
    if cfg.clustering:
        n_weights = sum(p.numel() for p in mdl.make_mlp(fcfg, n_classes, cfg.net.hidden).parameters())
        mu = min_images(cfg.clusters.alpha, n_weights, cfg.samples_per_image)
        nets: list[mdl.ColorMLP] = []

        def train_cluster(index: int, members: np.ndarray) -> None:
            net, hist = train_net(
                cache,
                members,
                fcfg,
                n_classes,
                cfg.net,
                out / "nets" / f"cluster{index}",
                seed=run.seed + 1 + index,
                resume=run.resume,
                progress=run.progress,
                desc=f"net cluster {index}",
                init=bundle.global_net if cfg.init_from_global else None,
            )
            nets.append(net)
            summary["nets"].append(
                {"cluster": index, "members": int(len(members)), "final": hist[-1] if hist else None}
            )

        def cluster_psnr(index: int, members: np.ndarray) -> np.ndarray:
            return image_psnr(bundle, nets[index], [paths[i] for i in members], cfg.work_pixels)

        clusters = adaptive_clustering(
            cache.gists, cache.hists, train_cluster, cluster_psnr, cfg.clusters, mu, seed=run.seed
        )
        if not clusters:  # fewer than mu images: Algorithm 3 trains nothing, keep the global net only
            print(f"clustering: {len(paths)} images < mu = {mu}; one network only")
    if cfg.clustering and clusters:
        bundle.nets = nets
        bundle.centers = np.stack([c.center for c in clusters]).astype(np.float32)
        bundle.hists = np.stack([c.semantic_hist for c in clusters]).astype(np.float32)
        summary["mu"] = mu
        summary["n_weights_per_net"] = n_weights
        for entry, c in zip(summary["nets"], clusters, strict=True):
            entry.update(
                layer=c.layer,
                train_psnr_mean=float(c.psnr.mean()),
                removed=int((-c.psnr <= cfg.clusters.eps_db).sum()),
            )
    else:
        if bundle.global_net is None:
            raise TinctError("no network was trained")
        bundle.nets = [bundle.global_net]
        bundle.centers = cache.gists.mean(0, keepdims=True).astype(np.float32)
        bundle.hists = cache.hists.mean(0, keepdims=True).astype(np.float32)
        bundle.global_net = None
    return bundle, summary
