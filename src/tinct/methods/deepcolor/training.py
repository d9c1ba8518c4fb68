"""``tinct train deepcolor``: :func:`run` (registered as the method's trainer; settings in
:class:`~tinct.methods.deepcolor.train_nets.DeepColorTrainConfig`).

Stages: (optional) scene parser on Stanford Background -> feature cache -> per-cluster MLPs
(Algorithm 3) -> ``OUT/deepcolor.safetensors`` + card, ``OUT/config.json``, ``OUT/summary.json``.
Every net trains through :func:`tinct.train.fit` in ``OUT/nets/<name>/`` (resume, seed, progress).
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

from tinct.errors import TinctError
from tinct.train import FitConfig, RunConfig, fit, save_config
from tinct.weights import WeightCard, bundled_path, load_weights, save_weights

from . import scene_parser as sp
from .pipeline import save_bundle
from .train_nets import DeepColorTrainConfig, train_deepcolor

DEFAULT_DATA = "../shared/data/photos/train"

PARSER_PROTOCOL = (
    "pixel accuracy over labelled pixels (label != 255) of Stanford Background split_val.txt, "
    "images and labels at half resolution (nearest for labels)"
)


def load_parser(path: str | Path) -> sp.SceneParser:
    """The scene parser stored in a deepcolor bundle or a parser-only ``.safetensors``."""
    tensors, card = load_weights(path)
    if "parser" not in card.config or not any(k.startswith("parser.") for k in tensors):
        raise TinctError(f"{path} holds no deepcolor scene parser")
    return sp.parser_from_tensors(tensors, card.section("parser", sp.ParserConfig, path=path))


def train_parser(
    root: str,
    out: Path,
    *,
    steps: int,
    in_channels: int,
    seed: int,
    resume: bool,
    progress: bool,
    time_budget_s: float | None = None,
) -> tuple[sp.SceneParser, float]:
    """Train the scene parser on ``split_train`` through :func:`fit`; returns it and val pixel accuracy."""
    from tinct.data.stanford_background import load_split

    tr_rgb, tr_lab = load_split(root, "train")
    va_rgb, va_lab = load_split(root, "val")
    tr = [sp.to_input(x, in_channels) for x in tr_rgb]
    cfg = sp.ParserConfig(in_channels=in_channels)
    model = sp.SceneParser(cfg)
    trainable = sp.ParserTrainable(model, total_steps=steps, time_budget_s=time_budget_s)
    fit(
        trainable,
        sp.crop_batches(tr, tr_lab, batch_size=16, crop=104, seed=seed),
        FitConfig(
            out_dir=str(out),
            steps=steps,
            seed=seed,
            checkpoint_every=100,
            log_every=20,
            resume=resume,
            progress=progress,
            time_budget_s=time_budget_s,
        ),
        resolved_config={
            "parser": asdict(cfg),
            "data": f"{root} split_train.txt, half resolution, crops 104",
        },
        desc="scene parser",
    )
    acc = sp.pixel_accuracy(model, [sp.to_input(x, in_channels) for x in va_rgb], va_lab)
    card = WeightCard(method="deepcolor", data=str(root), split="split_train.txt",
                      config={"parser": asdict(cfg)},
                      metrics={"pixel_accuracy_val": acc, "protocol": PARSER_PROTOCOL})
    save_weights(out / "parser.safetensors", sp.parser_tensors(model), card)
    return model.eval(), acc


def run(cfg: DeepColorTrainConfig, run: RunConfig) -> int:
    """``tinct train deepcolor``: (optional) scene parser, feature cache, nets, bundle (+ val scores)."""
    if not (cfg.features.use_patch or cfg.features.use_daisy or cfg.features.use_semantic):
        raise TinctError("all feature groups are disabled; keep at least one of patch, DAISY, semantic")
    net = replace(cfg.net, steps=run.steps or cfg.net.steps,
                  time_budget_s=run.time_budget_s if run.time_budget_s is not None else cfg.net.time_budget_s)
    style = cfg.style_name or (Path(cfg.style_list).stem if cfg.style_list else "default")
    cfg = replace(cfg, net=net, style_name=style)
    data = run.data or DEFAULT_DATA
    out = Path(run.out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.parser_data:
        parser, acc = train_parser(cfg.parser_data, out / "parser", steps=cfg.parser_steps,
                                   in_channels=3 if cfg.parser_color else 1, seed=run.seed, resume=run.resume,
                                   progress=run.progress)
        parser_info: dict = {"parser": str(out / "parser" / "parser.safetensors"), "pixel_accuracy_val": acc}
        print(f"scene parser: val pixel accuracy {acc:.3f}")
    else:
        path = cfg.parser_weights or bundled_path("deepcolor")
        if not Path(path).is_file():
            raise TinctError(f"no scene parser at {path}; set parser_weights=FILE or parser_data=DIR")
        parser = load_parser(path)
        parser_info = {"parser": str(path)}
    if parser.config.in_channels != 1:
        raise TinctError("the colorization features need a gray-input scene parser (train without "
                         "parser_color)")
    save_config(out, {"deepcolor": cfg, "run": run, "parser": parser_info})
    bundle, summary = train_deepcolor(cfg, run, data, parser)
    split = "train" + (f" (style list {cfg.style_list})" if cfg.style_list else "")
    card = WeightCard(method="deepcolor", data=data, split=split,
                      config={"train": asdict(cfg), "run": asdict(run), "parser_source": parser_info},
                      metrics={"training_summary": summary}, extra={"style": cfg.style_name})
    weights = save_bundle(out / "deepcolor.safetensors", bundle, card)
    if cfg.val:
        from tinct.bench.quality import PROTOCOL, evaluate_quality

        from . import DeepColorizer

        report = evaluate_quality(DeepColorizer(weights=str(weights)), cfg.val, limit=cfg.val_limit,
                                  progress=run.progress)
        card.metrics["val"] = {"data": cfg.val, "limit": cfg.val_limit, **report.means(),
                               "protocol": PROTOCOL}
        weights = save_bundle(weights, bundle, card)
        print(json.dumps(report.means(), indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"weights: {weights}")
    return 0
