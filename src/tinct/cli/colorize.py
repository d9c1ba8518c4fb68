"""``tinct colorize``: output planning, one method loaded once, one line per failed file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

import tinct
from tinct.cli.parser import DEFAULT_OUT_DIR, UsageError, load_colorizer, method_options
from tinct.errors import TinctError
from tinct.registry import MissingInput

_FLAGS = {"reference": "--reference IMG", "hints": "--hints IMG", "caption": "--caption TEXT"}


def cmd_colorize(args: argparse.Namespace) -> int:
    """``tinct colorize``: one method loaded once, every input colorized; failures on one line each."""
    from tinct import io
    from tinct.color import rgb_to_luma
    from tinct.hints import hints_from_image

    prog = "tinct colorize"
    paths = io.expand_inputs(args.inputs)
    if args.output and len(paths) != 1:
        raise UsageError(prog, f"-o/--output takes a single input, got {len(paths)} files; use --out-dir DIR")
    name = args.method or tinct.DEFAULT_METHOD
    info = tinct.method_info(name)
    given = {kind for kind in ("reference", "hints", "caption") if getattr(args, kind) is not None}
    try:
        ignored = info.check_inputs(given)  # the registry's one needs check, early: before any loading
    except MissingInput as exc:
        raise UsageError(prog, f"{exc}: pass {_FLAGS[exc.kind]}") from None
    for kind in ignored:
        _note(args, f"method '{name}' does not use {_FLAGS[kind].split()[0]}; it is ignored")
    colorizer = load_colorizer(name, method_options(args, prog), prog)
    read_kw = {} if args.max_pixels is None else {"max_pixels": args.max_pixels}
    reference = hints_rgba = None
    if args.reference and "reference" in info.accepts:
        reference = io.read_rgb(args.reference, **read_kw)
    if args.hints and "hints" in info.accepts:
        data = io.read_image(args.hints, **read_kw)
        hints_rgba = data.rgb if data.alpha is None else np.concatenate([data.rgb, data.alpha[..., None]], 2)
    outputs = _plan_outputs(paths, args, name)

    failed = written = 0
    for path in tqdm(paths, desc=f"colorize ({name})", unit="img", leave=False,
                     disable=args.quiet or len(paths) < 2 or not sys.stderr.isatty()):
        try:
            out = outputs[path]
            if isinstance(out, str):
                raise TinctError(out)
            if out.exists() and not args.overwrite:
                raise TinctError(f"output {out} exists; pass --overwrite to replace it")
            image = io.read_image(path, **read_kw)
            if io.is_color(image.rgb):
                _note(args, f"{path} is already colour; using its luma")
            gray = image.rgb[..., 0] if image.is_gray_source else rgb_to_luma(image.rgb).astype(np.float32)
            hints = None if hints_rgba is None else hints_from_image(hints_rgba, gray)
            rgb = colorizer.colorize(gray, reference=reference, hints=hints, caption=args.caption)
            deep_format = out.suffix.lower() in (".png", ".tif", ".tiff")  # formats that store 16 bits
            bit_depth = args.bit_depth or (16 if image.bit_depth == 16 and deep_format else 8)
            alpha = image.alpha
            if alpha is not None and out.suffix.lower() in (".jpg", ".jpeg", ".bmp"):
                _note(args, f"{out.name}: {out.suffix} cannot store transparency; alpha channel is dropped")
                alpha = None
            io.write_image(out, rgb, bit_depth=bit_depth, alpha=alpha)
            tqdm.write(str(out))
            written += 1
        except Exception as exc:  # noqa: BLE001 - one line per failed file, the others go on
            if args.debug_flag and not isinstance(exc, TinctError):
                raise
            failed += 1
            tqdm.write(f"error: {_file_message(path, exc)}", file=sys.stderr)
    if failed and len(paths) > 1:
        print(f"{failed} of {len(paths)} files failed; {written} written", file=sys.stderr)
    return 1 if failed else 0


def _plan_outputs(paths: list[Path], args: argparse.Namespace, method: str) -> dict[Path, Path | str]:
    """Output path of each input, or the reason it has none (it would replace an input, or another
    input of this run writes the same name)."""
    out_dir = Path(args.out_dir or DEFAULT_OUT_DIR)
    inputs = {p.resolve() for p in paths if p.exists()}
    plan: dict[Path, Path | str] = {}
    claimed: dict[Path, Path] = {}
    for path in paths:
        out = Path(args.output) if args.output else out_dir / f"{path.stem}_{method}.png"
        key = out.resolve()
        if key in inputs:
            plan[path] = f"refusing to replace the input image {out}; choose another output name"
        elif key in claimed:
            plan[path] = f"output {out} is already the output of {claimed[key]}; colorize it in another run"
        else:
            claimed[key] = path
            plan[path] = out
    return plan


def _file_message(path: Path, exc: Exception) -> str:
    """``<file>: <reason>`` on one line (io's messages already start with the file)."""
    message = " ".join(str(exc).split()) if isinstance(exc, TinctError) else \
        f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())}"
    return message if message.startswith(str(path)) else f"{path}: {message}"


def _note(args: argparse.Namespace, message: str) -> None:
    if not getattr(args, "quiet", False):
        tqdm.write(f"note: {message}", file=sys.stderr)
