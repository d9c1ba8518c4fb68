"""Inference pipeline (Algorithm 2) and the weight bundle: parser + per-cluster nets + cluster table.

gray (full res) -> working-resolution gray (at most ``work_pixels``) -> semantic map, gist,
semantic histogram -> cluster -> features by convolution, in row strips -> (U, V) -> joint
bilateral refinement guided by the gray (Sec. III-B.4) -> (U, V) resized to full resolution and
combined with the full-resolution luma, in row strips (bounded memory at any size).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from tinct.color import compose_luma_chroma
from tinct.errors import TinctError
from tinct.filters import joint_bilateral
from tinct.nn.tiling import strips
from tinct.weights import WeightCard, load_weights, save_weights

from . import model as mdl
from .clustering import select_cluster
from .features import FeatureConfig, orientation_maps, semantic_map
from .gist import gist
from .scene_parser import ParserConfig, SceneParser, parser_from_tensors, parser_tensors


@dataclass
class RefineConfig:
    """Joint bilateral refinement of (U, V), at the working resolution."""

    enabled: bool = True
    sigma_space: float = 3.0
    sigma_color: float = 0.08


@dataclass
class Bundle:
    """Everything one model needs at test time."""

    parser: SceneParser | None
    nets: list[mdl.ColorMLP]
    centers: np.ndarray  # (n_nets, gist dim); empty rows if there is no clustering
    hists: np.ndarray  # (n_nets, K) semantic histograms
    global_net: mdl.ColorMLP | None = None  # one net on all images (the "no clustering" model)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    parser_config: ParserConfig = field(default_factory=ParserConfig)
    top_k: int = 3
    refine: RefineConfig = field(default_factory=RefineConfig)
    clustering_default: bool = True  # whether colorize() picks a cluster net unless told otherwise
    card: WeightCard = field(default_factory=WeightCard)


def save_bundle(path: str | Path, bundle: Bundle, card: WeightCard | dict[str, Any]) -> Path:
    """Write the bundle as one ``.safetensors`` + JSON card (architecture in ``card.config``)."""
    tensors: dict[str, torch.Tensor] = {}
    if bundle.parser is not None:
        tensors.update(parser_tensors(bundle.parser))
    for i, net in enumerate(bundle.nets):
        tensors.update(mdl.mlp_tensors(net, f"net{i}"))
    if bundle.global_net is not None:
        tensors.update(mdl.mlp_tensors(bundle.global_net, "global"))
    tensors["clusters.centers"] = torch.from_numpy(np.asarray(bundle.centers, np.float32))
    tensors["clusters.hists"] = torch.from_numpy(np.asarray(bundle.hists, np.float32))
    config = {
        "features": asdict(bundle.features),
        "parser": asdict(bundle.parser_config),
        "mlp": mdl.config_dict(bundle.nets[0].config) if bundle.nets else None,
        "n_nets": len(bundle.nets),
        "has_global": bundle.global_net is not None,
        "has_parser": bundle.parser is not None,
        "top_k": bundle.top_k,
        "clustering_default": bundle.clustering_default,
        "refine": asdict(bundle.refine),
    }
    card = card if isinstance(card, WeightCard) else WeightCard.from_dict(card)
    card = replace(card, method="deepcolor", config={**card.config, **config})
    return save_weights(path, tensors, card)


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle written by :func:`save_bundle`."""
    tensors, card = load_weights(path)
    cfg = card.config
    try:
        fcfg = card.section("features", FeatureConfig, path=path)
        pcfg = card.section("parser", ParserConfig, path=path)
        mcfg = card.section("mlp", mdl.MLPConfig, path=path)
        parser = parser_from_tensors(tensors, pcfg) if cfg.get("has_parser", True) else None
        nets = [mdl.mlp_from_tensors(tensors, f"net{i}", mcfg) for i in range(int(cfg["n_nets"]))]
        global_net = mdl.mlp_from_tensors(tensors, "global", mcfg) if cfg.get("has_global") else None
    except (KeyError, TypeError, RuntimeError) as exc:
        raise TinctError(
            f"{path} is not a deepcolor weight file ({exc}); retrain with `tinct train deepcolor`"
        ) from None
    return Bundle(
        parser=parser,
        nets=nets,
        centers=tensors["clusters.centers"].numpy(),
        hists=tensors["clusters.hists"].numpy(),
        global_net=global_net,
        features=fcfg,
        parser_config=pcfg,
        top_k=int(cfg.get("top_k", 3)),
        refine=card.section("refine", RefineConfig, path=path),
        clustering_default=bool(cfg.get("clustering_default", True)),
        card=card,
    )


def working_gray(gray: np.ndarray, work_pixels: int | None) -> np.ndarray:
    """``gray`` resized (area) so that it has at most ``work_pixels`` pixels (None: unchanged)."""
    h, w = gray.shape
    if not work_pixels or h * w <= work_pixels:
        return np.ascontiguousarray(gray, np.float32)
    s = (work_pixels / (h * w)) ** 0.5
    return cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def choose_net(bundle: Bundle, g: np.ndarray, semantic: np.ndarray | None, clustering: bool) -> mdl.ColorMLP:
    """Algorithm 2 step 1: the net of the nearest cluster (gist top-k, then semantic cosine)."""
    if not clustering or len(bundle.nets) <= 1:
        return bundle.global_net or bundle.nets[0]
    hist = semantic.reshape(semantic.shape[0], -1).mean(1) if semantic is not None else bundle.hists.mean(0)
    return bundle.nets[select_cluster(gist(g), hist, bundle.centers, bundle.hists, bundle.top_k)]


@torch.no_grad()
def predict_uv(
    bundle: Bundle,
    g: np.ndarray,
    *,
    net: mdl.ColorMLP | None = None,
    clustering: bool = True,
    strip_rows: int = 32,
    semantic: np.ndarray | None = None,
) -> np.ndarray:
    """Raw network chroma at the resolution of ``g`` ``(h, w)``: ``(2, h, w)`` float32 (U, V).

    Row strips of at most ``strip_rows`` (:func:`tinct.nn.tiling.strips`) with a halo of
    ``daisy_radius`` rows (at least the 7x7 patch's 3) give exactly the untiled result: the first
    layer, a convolution, runs on the halo-extended rows, the per-pixel rest of the MLP on the strip's
    own rows only. The orientation and semantic maps are computed once for the whole image.
    """
    fcfg = bundle.features
    if semantic is None and (fcfg.use_semantic or (clustering and len(bundle.nets) > 1)):
        if bundle.parser is None:
            raise TinctError("this deepcolor model has no scene parser but needs semantic features")
        semantic = semantic_map(g, bundle.parser, fcfg)
    net = net or choose_net(bundle, g, semantic, clustering)
    orient = orientation_maps(g, fcfg.daisy_sigma) if fcfg.use_daisy else None
    gt = torch.from_numpy(g)
    ot = torch.from_numpy(orient) if orient is not None else None
    st = torch.from_numpy(semantic) if fcfg.use_semantic else None
    out = np.empty((2, *g.shape), np.float32)
    for s in strips(g.shape[0], strip_rows, max(fcfg.daisy_radius, 3)):
        h1 = mdl.first_layer_maps(net, s.take(gt), None if ot is None else s.take(ot),
                                  None if st is None else s.take(st), fcfg)
        out[:, s.rows] = mdl.apply_rest(net, s.crop(h1).contiguous()).numpy()  # per pixel
    return out


def refine_uv(uv: np.ndarray, g: np.ndarray, cfg: RefineConfig) -> np.ndarray:
    """Joint bilateral filtering of ``(2, h, w)`` chroma guided by the gray ``g`` (Sec. III-B.4)."""
    if not cfg.enabled:
        return uv
    out = joint_bilateral(
        np.ascontiguousarray(uv.transpose(1, 2, 0)),
        g,
        sigma_space=cfg.sigma_space,
        sigma_color=cfg.sigma_color,
    )
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def compose(gray: np.ndarray, uv: np.ndarray, *, strip_rows: int = 512) -> np.ndarray:
    """Full-resolution RGB from the full-resolution luma and (possibly smaller) chroma.

    ``uv`` ``(2, h, w)`` is resized (bilinear) to ``gray``'s size strip by strip; each pixel's
    chroma is scaled down just enough to stay inside the RGB cube, so the luma of the result equals
    ``gray`` exactly (up to float rounding).

    Returns:
        float32 ``(H, W, 3)`` RGB in [0, 1].
    """
    hh, ww = gray.shape
    h, w = uv.shape[1:]
    out = np.empty((hh, ww, 3), np.float32)
    sy, sx = h / hh, w / ww
    map_x = ((np.arange(ww, dtype=np.float32) + 0.5) * sx - 0.5)[None, :]
    uv_hw = np.ascontiguousarray(uv.transpose(1, 2, 0))
    for s in strips(hh, strip_rows):
        n = s.bottom - s.top
        if (h, w) == (hh, ww):
            c = uv_hw[s.rows]
        else:
            map_y = ((np.arange(s.top, s.bottom, dtype=np.float32) + 0.5) * sy - 0.5)[:, None]
            c = cv2.remap(
                uv_hw,
                np.broadcast_to(map_x, (n, ww)).astype(np.float32),
                np.broadcast_to(map_y, (n, ww)).astype(np.float32),
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        out[s.rows] = compose_luma_chroma(gray[s.rows], c, strip_rows=strip_rows)
    return out
