"""``tinct colorize``: check the command line (no torch), then a resumable batch or one ``-o`` file.

Everything a user can get wrong on the command line (method, needed inputs, option names and
types, ``--weights``, ``-o``, backend flags, no images found) is checked against the static
method table of :mod:`tinct.cli.catalog` before any method is imported, so these errors come
within a fraction of a second (exit 2). The batch itself is :mod:`tinct.batch`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import tinct
from tinct.batch.plan import find_inputs, plan_jobs
from tinct.batch.work import WorkSpec
from tinct.cli import catalog
from tinct.cli.parser import DEFAULT_OUT_DIR, UsageError, method_options
from tinct.cli.video import check_video_usage, colorize_video, wants_video
from tinct.errors import TinctError
from tinct.options import OptionError
from tinct.registry import MissingInput, check_inputs

PROG = "tinct colorize"
_FLAGS = {"reference": "--reference IMG", "hints": "--hints IMG", "caption": "--caption TEXT"}
_OUTPUT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def cmd_colorize(args: argparse.Namespace) -> int:
    """``tinct colorize``: returns 0 when every input is done (now or before), 1 if any failed, 2 for
    a usage error, 130 when interrupted (what is done stays done)."""
    name = args.method or tinct.DEFAULT_METHOD
    if wants_video(args):
        check_video_usage(args)
        return colorize_video(args, name, check_usage(args, name, video=True))
    if args.keyframe:
        raise UsageError(PROG, "--keyframe is for videos (a video file, or a folder of frames with --video)")
    options = check_usage(args, name)
    out_dir = Path(args.out_dir or DEFAULT_OUT_DIR)
    found, empty = find_inputs(args.inputs, recursive=args.recursive, exclude=out_dir.resolve())
    nested = not args.recursive and any(Path(s).is_dir() and any(p.is_dir() for p in Path(s).iterdir())
                                        for s in empty)
    message = (f"no images found in {', '.join(empty)}{' (add -r for subfolders)' if nested else ''}; "
               f"images are {', '.join(_OUTPUT_EXTENSIONS)} files")
    if not found:
        raise UsageError(PROG, message)
    if empty:
        print(f"warning: {message}", file=sys.stderr)
    if args.output and len(found) != 1:
        raise UsageError(PROG, f"-o/--output takes a single input, got {len(found)} files; use --out-dir DIR")
    spec = WorkSpec(name, options, reference=_read_extra(args, "reference", name),
                    hints=_read_extra(args, "hints", name), caption=args.caption, bit_depth=args.bit_depth,
                    max_pixels=args.max_pixels)
    if args.output:
        from tinct.cli.single import colorize_one

        return colorize_one(found[0][0], Path(args.output), spec, overwrite=args.overwrite, quiet=args.quiet)
    return _run_batch(args, spec, plan_jobs(found, name, out_dir), out_dir)


def check_usage(args: argparse.Namespace, name: str, *, video: bool = False) -> dict[str, Any]:
    """Every check of the command line that needs no image and no method code; returns the method's
    raw options (``-O`` and ``--weights``). Raises :class:`UsageError`. With ``video``, ``-o`` is
    checked by :mod:`tinct.cli.video`."""
    facts = catalog.lookup(name)
    if facts is None:
        raise UsageError(PROG, f"unknown method '{name}'; known methods: {', '.join(catalog.known_names())}")
    if args.caption is not None and not args.caption.strip():
        raise UsageError(PROG, "--caption is empty; give some text, or leave the flag out")
    given = {kind for kind in _FLAGS if getattr(args, kind) is not None}
    try:
        ignored = check_inputs(name, facts.needs, facts.accepts, given)
    except MissingInput as exc:
        raise UsageError(PROG, f"{exc}: pass {_FLAGS[exc.kind]}") from None
    for kind in ignored:
        _note(args, f"method '{name}' does not use {_FLAGS[kind].split()[0]}; it is ignored")
        setattr(args, kind, None)
    options = method_options(args, PROG)
    if "weights" in options and not facts.weights:
        raise UsageError(PROG, f"method '{name}' has no trained weights; --weights is for trainable methods")
    try:
        facts.check_options(options)
    except OptionError as exc:
        raise UsageError(PROG, str(exc)) from None
    if args.output and not video:
        out = args.output
        if out.endswith(("/", "\\")) or Path(out).is_dir():
            raise UsageError(PROG, f"-o/--output takes a file name, and '{out}' is a folder; use --out-dir "
                                   f"{out.rstrip('/')} to write into it")
        if Path(out).suffix.lower() not in _OUTPUT_EXTENSIONS:
            raise UsageError(PROG, f"-o/--output: unknown image extension {Path(out).suffix or '(none)'!r} "
                                   f"in '{out}'; use one of {', '.join(_OUTPUT_EXTENSIONS)}")
        if args.backend != "local":
            raise UsageError(PROG, "-o/--output colours one file here; --backend ray is for "
                                   "--out-dir batches")
    if args.backend != "ray" and (args.address is not None or args.workers is not None):
        raise UsageError(PROG, "--address and --workers are options of --backend ray")
    if args.workers is not None and args.workers < 1:
        raise UsageError(PROG, f"--workers must be at least 1, got {args.workers}")
    if facts.weights:
        options.setdefault("weights", "default")  # named in the manifest (the method's default anyway)
    return options


def _read_extra(args: argparse.Namespace, kind: str, method: str) -> tuple[str, bytes] | None:
    """The ``--reference`` / ``--hints`` file as ``(name, bytes)``; a gray reference or a hints file
    without any visible pixel is refused in one line (the result would be gray)."""
    from tinct import io
    from tinct.batch.local import read_input

    path = getattr(args, kind)
    if path is None:
        return None
    data = read_input(Path(path))
    image = io.decode(data, name=path, **({} if args.max_pixels is None else {"max_pixels": args.max_pixels}))
    if kind == "reference" and not io.is_color(image.rgb):
        raise UsageError(PROG, f"the reference {path} is gray: '{method}' takes its colours from the "
                               "reference, so the result would be gray; give a colour image")
    if kind == "hints" and image.alpha is not None and not image.alpha.any():
        raise UsageError(PROG, f"the hints file {path} has no strokes (it is fully transparent); draw colour "
                               "scribbles on it")
    return path, data


def _run_batch(args: argparse.Namespace, spec: WorkSpec, jobs: list, out_dir: Path) -> int:
    from tinct.batch.run import Batch, config_key

    if args.backend == "ray":
        from tinct.batch.ray_backend import make_backend

        _check_options_now(spec)
        backend = make_backend(args.address, args.workers)
    else:
        from tinct.batch.local import run_local as backend
    batch = Batch(jobs, out_dir, spec, key=config_key(spec, _weights_file(spec)), force=args.force,
                  overwrite=args.overwrite, quiet=args.quiet)
    try:
        counts = batch.run(backend)
    except KeyboardInterrupt:
        c = batch.counts
        print(f"interrupted: {c.done + c.skipped} of {len(jobs)} done ({c.done} in this run), {c.left} left, "
              f"{c.failed} failed; run the same command again to finish", file=sys.stderr)
        return 130
    except TinctError as exc:
        c = batch.counts
        print(f"error: {exc} ({c.done + c.skipped} of {len(jobs)} done)", file=sys.stderr)
        return 1
    if counts.failed or len(jobs) > 1:
        print(f"{counts.done + counts.skipped} of {len(jobs)} done ({counts.done} now, {counts.skipped} "
              f"before); {counts.failed} failed; manifest {batch.manifest.path}", file=sys.stderr)
    return 1 if counts.failed else 0


def _check_options_now(spec: WorkSpec) -> None:
    """Ray workers load the method far away: check the options and the weights file here first
    (imports the method)."""
    from tinct.options import build_options
    from tinct.weights import resolve

    info = tinct.method_info(spec.method)
    try:
        build_options(info.options, spec.options, owner=spec.method)
    except OptionError as exc:
        raise UsageError(PROG, str(exc)) from None
    if info.weights:
        resolve(spec.method, spec.options.get("weights"))


def _weights_file(spec: WorkSpec) -> Path | None:
    """The weights file the options name, found without importing the method (for the resume key)."""
    from tinct.weights import DEFAULT_VARIANT, bundled_path, looks_like_path

    facts = catalog.lookup(spec.method)
    if facts is None or not facts.weights:
        return None
    text = str(spec.options.get("weights") or DEFAULT_VARIANT)
    return Path(text) if looks_like_path(text) else bundled_path(spec.method, text)


def _note(args: argparse.Namespace, message: str) -> None:
    if not getattr(args, "quiet", False):
        print(f"note: {message}", file=sys.stderr)
