"""``tinct train METHOD``: one parser generated from the method's training dataclass.

Every trainable method registers ``train_config`` (a dataclass) and ``trainer(config, run) -> int``
(:func:`tinct.registry.register`). The parser has the common flags once (``--data --out --steps
--seed --resume/--no-resume --no-progress --threads --time-budget``), ``--config run.yaml``
(the config's fields, nested sections allowed, and an optional ``run:`` section with the common
settings), ``--set a.b=v`` for any field, and a flag for each top-level scalar field
(``--lr 1e-3``, ``--contours/--no-contours``). Precedence: defaults < YAML < flags and ``--set``.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

import tinct
from tinct.cli.parser import UsageError, _formatter
from tinct.config import apply_values, config_fields, read_yaml
from tinct.errors import TinctError
from tinct.options import OptionError, build_options, parse_assignments

PROG = "tinct train"
_COMMON = ("data", "out", "steps", "seed", "resume", "progress", "threads", "time_budget_s")


def _add_common(p: argparse.ArgumentParser, method: str) -> None:
    a = p.add_argument
    d = argparse.SUPPRESS  # unset flags do not override the config file's run: section
    a("--data", metavar="DIR", default=d, help="training data (default: the method's own, see below)")
    a("--out", metavar="DIR", default=d,
      help=f"run folder: checkpoint, losses.jsonl, config.json, weights (default: runs/{method})")
    a("--steps", type=int, metavar="N", default=d, help="training steps (default: the method's own)")
    a("--seed", type=int, default=d, help="seed of initialisation, data order and sampling (default 0)")
    a("--resume", action=argparse.BooleanOptionalAction, default=d,
      help="continue from the run folder's checkpoint (default) or start over")
    a("--no-progress", dest="progress", action="store_false", default=d, help="no progress bar (for logs)")
    a("--threads", type=int, metavar="N", default=d,
      help="torch threads (default: torch's; the machine may be shared)")
    a("--time-budget", type=float, metavar="SECONDS", dest="time_budget_s", default=d,
      help="stop cleanly (with a checkpoint) after this many seconds")
    a("--config", metavar="FILE", help="YAML file of settings (and an optional 'run:' section of the above)")
    a("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
      help="set any setting by its dotted name, e.g. --set model.width=32 (repeatable)")


def _scalar_flags(p: argparse.ArgumentParser, cls: type) -> list[str]:
    """A flag per top-level scalar field (not for names the common flags own); returns their names."""
    hints = typing.get_type_hints(cls)
    names = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if not f.init or dataclasses.is_dataclass(tp) or f.name in _COMMON:
            continue
        flag = "--" + f.name.replace("_", "-")
        helptext = f.metadata.get("help", "") or f"(default: {getattr(cls(), f.name)!r})"
        if tp is bool:
            p.add_argument(flag, dest=f"field_{f.name}", action=argparse.BooleanOptionalAction,
                           default=argparse.SUPPRESS, help=helptext)
        else:
            p.add_argument(flag, dest=f"field_{f.name}", default=argparse.SUPPRESS, metavar="V",
                           help=helptext)
        names.append(f.name)
    return names


def _settings_epilog(cls: type) -> str:
    lines = ["settings (--set KEY=VALUE, or in --config FILE):"]
    for f in config_fields(cls):
        lines.append(f"  {f.name} ({f.type_text}, default {f.default!r}){': ' + f.help if f.help else ''}")
    return "\n".join(lines)


def build_train_parser(info: Any) -> tuple[argparse.ArgumentParser, type, list[str]]:
    """The generated parser of ``tinct train info.name``, its config class and scalar field names."""
    cfg_cls, _ = info.resolve_training()
    doc = (cfg_cls.__doc__ or "").strip().splitlines()
    p = argparse.ArgumentParser(
        prog=f"{PROG} {info.name}", formatter_class=_formatter,
        description=f"Train '{info.name}': {info.summary} ({info.paper})." + (f"\n{doc[0]}" if doc else ""),
        epilog=_settings_epilog(cfg_cls))
    _add_common(p, info.name)
    names = _scalar_flags(p, cfg_cls)
    return p, cfg_cls, names


def resolve_run(info: Any, argv: list[str]) -> tuple[Any, Any] | int:
    """Parse ``argv`` into (config instance, :class:`tinct.train.RunConfig`), or an exit code (help)."""
    from tinct.train import RunConfig

    parser, cfg_cls, names = build_train_parser(info)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    prog = f"{PROG} {info.name}"
    try:
        file_values = read_yaml(args.config) if args.config else {}
        run_values = dict(file_values.pop("run", {}) or {})
        cfg = apply_values(cfg_cls(), file_values, what=args.config or "config")
        flags = {n: getattr(args, f"field_{n}") for n in names if hasattr(args, f"field_{n}")}
        cfg = apply_values(cfg, {**flags, **parse_assignments(args.sets, flag="--set")}, what=prog)
        given = {k: getattr(args, k) for k in _COMMON if hasattr(args, k)}
        run_values = {"out": f"runs/{info.name}", **run_values, **given}
        run = build_options(RunConfig, run_values, owner=f"{prog} (run)")
    except OptionError as exc:
        raise UsageError(prog, str(exc)) from None
    if run.steps is not None and run.steps < 1:
        raise UsageError(prog, f"--steps must be at least 1, got {run.steps}")
    return cfg, run


def cmd_train(extra: list[str]) -> int:
    """``tinct train METHOD ...``: the generated parser, then the method's registered trainer."""
    trainable = [i for i in tinct.list_methods() if i.trainable]
    if not trainable:
        raise TinctError("no trainable method is registered in this installation")
    known = ", ".join(i.name for i in trainable)
    chosen = extra[0] if extra and not extra[0].startswith("-") else None
    if chosen is None:
        top = argparse.ArgumentParser(prog=PROG, formatter_class=_formatter, description="Train a method.",
                                      epilog="trainable methods:\n" + "\n".join(
                                          f"  {i.name:<12} {i.summary}" for i in trainable)
                                      + "\n\nRun 'tinct train METHOD --help' for its settings.")
        top.add_argument("method", metavar="METHOD", help=f"one of: {known}")
        try:
            top.parse_args(extra)
        except SystemExit as exc:
            return int(exc.code or 0)
        return 2
    info = next((i for i in trainable if i.name == chosen), None)
    if info is None:
        raise UsageError(PROG, f"'{chosen}' is not a trainable method; trainable methods: {known}")
    resolved = resolve_run(info, extra[1:])
    if isinstance(resolved, int):
        return resolved
    cfg, run = resolved
    if run.threads:
        import torch

        torch.set_num_threads(run.threads)
    _, trainer = info.resolve_training()
    return int(trainer(cfg, run) or 0)
