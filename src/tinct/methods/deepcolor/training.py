"""``tinct train deepcolor``: the CLI hook (``add_arguments``, ``main``).

Stages: (optional) scene parser on Stanford Background -> feature cache -> per-cluster MLPs
(Algorithm 3) -> ``OUT/deepcolor.safetensors`` + card, ``OUT/config.json``, ``OUT/summary.json``.
Every net trains through :func:`tinct.train.fit` in ``OUT/nets/<name>/`` (resume, seed, progress).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import torch

from tinct.errors import TinctError
from tinct.train import FitConfig, fit, save_config
from tinct.weights import bundled_path, load_weights, save_weights

from . import scene_parser as sp
from .clustering import ClusterParams
from .features import FeatureConfig
from .pipeline import RefineConfig, save_bundle
from .trainer import DeepColorTrainConfig, NetTrainConfig, train_deepcolor

PARSER_PROTOCOL = (
    "pixel accuracy over labelled pixels (label != 255) of Stanford Background split_val.txt, "
    "images and labels at half resolution (nearest for labels)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tinct train deepcolor``."""
    a = parser.add_argument
    a("--data", required=True, help="folder of colour training images (e.g. ../shared/data/photos/train)")
    a("--out", required=True, help="output folder (checkpoints, feature cache, weights, config.json)")
    a("--steps", type=int, default=2000, help="training steps per network")
    a("--seed", type=int, default=0)
    a("--no-resume", action="store_true", help="start over instead of resuming from OUT")
    a(
        "--style-list",
        metavar="FILE",
        help="train only on the images named in FILE (a global style, Sec. IV-C)",
    )
    a("--style-name", default=None, help="name recorded for the style (default: the list file's stem)")
    a("--samples-per-image", type=int, default=2000, help="pixels sampled per training image (N_s)")
    a("--batch-size", type=int, default=4096)
    a("--lr", type=float, default=2e-3)
    a("--limit", type=int, default=None, help="use only the first N training images")
    a("--work-pixels", type=int, default=512 * 512, help="working resolution cap (pixels)")
    a("--time-budget", type=float, default=None, help="seconds per network (stop early, cleanly)")
    a("--parser-weights", metavar="FILE", help="scene parser .safetensors (default: the bundled model's)")
    a("--parser-data", metavar="DIR", help="train the scene parser first on this Stanford Background folder")
    a("--parser-steps", type=int, default=1500)
    a("--parser-color", action="store_true", help="train the parser on colour instead of gray (Table I)")
    a("--no-clustering", action="store_true", help="one network on all images (ablation)")
    a("--no-patch", action="store_true", help="drop the 7x7 patch feature (ablation)")
    a("--no-daisy", action="store_true", help="drop the DAISY feature (ablation)")
    a("--no-semantic", action="store_true", help="drop the semantic feature (ablation)")
    a("--no-refine", action="store_true", help="no joint bilateral refinement (ablation)")
    a("--init-from-global", action="store_true", help="start every cluster net from the all-images net")
    a("--n0", type=int, default=4, help="clusters on the top layer (N^0)")
    a("--alpha", type=float, default=30.0, help="alpha of eq. 3 (mu = alpha N_w / N_s)")
    a("--eps-db", type=float, default=-26.0, help="training-error threshold epsilon in dB (E = -PSNR)")
    a("--max-layers", type=int, default=3)
    a("--val", metavar="DIR", help="score the result on this folder with the quality protocol (card metrics)")
    a("--val-limit", type=int, default=None)
    a("--quiet", action="store_true", help="no progress bars")


def load_parser(path: str | Path) -> sp.SceneParser:
    """The scene parser stored in a deepcolor bundle or a parser-only ``.safetensors``."""
    tensors, card = load_weights(path)
    cfg = card.get("config", {}).get("parser")
    if cfg is None or not any(k.startswith("parser.") for k in tensors):
        raise TinctError(f"{path} holds no deepcolor scene parser")
    return sp.parser_from_tensors(tensors, sp.ParserConfig(**{**cfg, "widths": tuple(cfg["widths"])}))


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
    card = {
        "data": str(root),
        "split": "split_train.txt",
        "config": {"parser": asdict(cfg)},
        "metrics": {"pixel_accuracy_val": acc, "protocol": PARSER_PROTOCOL},
    }
    save_weights(out / "parser.safetensors", sp.parser_tensors(model), card)
    return model.eval(), acc


def resolve_config(args: argparse.Namespace) -> DeepColorTrainConfig:
    """CLI flags -> the training dataclass."""
    style = args.style_name or (Path(args.style_list).stem if args.style_list else "default")
    return DeepColorTrainConfig(
        data=args.data,
        out=args.out,
        seed=args.seed,
        resume=not args.no_resume,
        progress=not args.quiet,
        samples_per_image=args.samples_per_image,
        work_pixels=args.work_pixels,
        limit=args.limit,
        style_list=args.style_list,
        style_name=style,
        clustering=not args.no_clustering,
        init_from_global=args.init_from_global,
        net=NetTrainConfig(
            steps=args.steps, batch_size=args.batch_size, lr=args.lr, time_budget_s=args.time_budget
        ),
        features=FeatureConfig(
            use_patch=not args.no_patch, use_daisy=not args.no_daisy, use_semantic=not args.no_semantic
        ),
        clusters=ClusterParams(eps_db=args.eps_db, alpha=args.alpha, n0=args.n0, max_layers=args.max_layers),
        refine=RefineConfig(enabled=not args.no_refine),
    )


def main(args: argparse.Namespace) -> int:
    """Run the training; returns the exit status."""
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cfg = resolve_config(args)
    if not (cfg.features.use_patch or cfg.features.use_daisy or cfg.features.use_semantic):
        raise TinctError("all feature groups are disabled; keep at least one of patch, DAISY, semantic")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    parser_info: dict = {}
    if args.parser_data:
        parser, acc = train_parser(
            args.parser_data,
            out / "parser",
            steps=args.parser_steps,
            in_channels=3 if args.parser_color else 1,
            seed=cfg.seed,
            resume=cfg.resume,
            progress=cfg.progress,
        )
        parser_info = {"parser": str(out / "parser" / "parser.safetensors"), "pixel_accuracy_val": acc}
        print(f"scene parser: val pixel accuracy {acc:.3f}")
    else:
        path = args.parser_weights or bundled_path("deepcolor")
        if not Path(path).is_file():
            raise TinctError(f"no scene parser at {path}; pass --parser-weights FILE or --parser-data DIR")
        parser = load_parser(path)
        parser_info = {"parser": str(path)}
    if parser.config.in_channels != 1:
        raise TinctError(
            "the colorization features need a gray-input scene parser (train without --parser-color)"
        )
    save_config(out, {"deepcolor": cfg, "parser": parser_info})
    bundle, summary = train_deepcolor(cfg, parser)
    card = {
        "data": cfg.data,
        "split": "train" + (f" (style list {cfg.style_list})" if cfg.style_list else ""),
        "style": cfg.style_name,
        "config": {"train": asdict(cfg), "parser_source": parser_info},
        "metrics": {"training_summary": summary},
    }
    weights = save_bundle(out / "deepcolor.safetensors", bundle, card)
    if args.val:
        from tinct.bench.quality import PROTOCOL, evaluate_quality

        from . import DeepColorizer

        report = evaluate_quality(
            DeepColorizer(weights=str(weights)), args.val, limit=args.val_limit, progress=cfg.progress
        )
        card["metrics"] = {
            **card["metrics"],
            "val": {"data": args.val, "limit": args.val_limit, **report.means(), "protocol": PROTOCOL},
        }
        weights = save_bundle(weights, bundle, card)
        print(json.dumps(report.means(), indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"weights: {weights}")
    return 0
