"""The ``tinct`` command line: a thin shell over the Python API.

Every subcommand parses its arguments, calls the library and prints. Exit codes: 0 success,
1 a failure (a bad input file, an error of the library), 2 a usage error, 130 interrupted.
A :class:`~tinct.errors.TinctError` is printed on one line, never with a traceback; an unexpected
exception prints one line too unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import shutil
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import tinct
from tinct.errors import TinctError

DEFAULT_OUT_DIR = "tinct-out"
DELEGATED = ("train", "serve")  # subcommands whose arguments are parsed by another module


class UsageError(Exception):
    """Bad command-line usage: printed with the command's name, exit code 2."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _sub(subs: Any, name: str, help_: str, epilog: str, **kw: Any) -> argparse.ArgumentParser:
    parser = subs.add_parser(name, help=help_, description=help_, epilog="examples:\n" + epilog,
                             formatter_class=_formatter, **kw)
    if kw.get("add_help", True):
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no notes")
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The ``tinct`` argument parser (``train`` and ``serve`` delegate their arguments)."""
    parser = argparse.ArgumentParser(
        prog="tinct", formatter_class=_formatter,
        description="tinct: colorize grayscale images with classic and learned methods.",
        epilog="examples:\n  tinct colorize old_photo.jpg\n  tinct colorize scans/ --out-dir coloured\n"
               "  tinct methods\n  tinct demo\n\nRun 'tinct COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"tinct {tinct.__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of unexpected errors")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _sub(subs, "colorize", "colorize gray images (files, folders or globs)",
             "  tinct colorize old.jpg                     # -> tinct-out/old_<method>.png\n"
             "  tinct colorize old.jpg -o old_colour.png\n"
             "  tinct colorize 'scans/*.tif' --out-dir coloured --bit-depth 16\n"
             "  tinct colorize photo.png --method levin --hints scribbles.png\n"
             "  tinct colorize left.png --method stereocopy --reference right.png -O key=value\n\n"
             f"Outputs are named <stem>_<method>.png in --out-dir (default ./{DEFAULT_OUT_DIR}). An\n"
             "existing output is replaced only with --overwrite; an input file is never replaced.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", metavar="OUT", help="output file (only with a single input)")
    out.add_argument("--out-dir", metavar="DIR", help=f"output folder (default: ./{DEFAULT_OUT_DIR})")
    p.add_argument("--method", metavar="NAME", help="method name, see 'tinct methods' (default: the bundled "
                   "default method)")
    p.add_argument("--reference", metavar="IMG", help="colour reference image, for reference-based methods")
    p.add_argument("--hints", metavar="IMG", help="colour scribbles: an RGB(A) image the size of the input")
    p.add_argument("-O", "--option", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="method option (repeatable), e.g. -O sigma=5")
    p.add_argument("--style", metavar="NAME", help="style, for methods that have styles (= -O style=NAME)")
    p.add_argument("--bit-depth", type=int, choices=(8, 16), help="output bit depth (default: the input's)")
    p.add_argument("--max-pixels", type=int, metavar="N", help="refuse inputs larger than N pixels")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")

    p = _sub(subs, "methods", "list the colorization methods", "  tinct methods\n  tinct methods --json")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = _sub(subs, "eval", "score predicted colour images against ground truths",
             "  tinct eval tinct-out/ ../shared/data/eval/kodak24\n"
             "  tinct eval preds/ gt/ --csv > scores.csv\n\n"
             "Pairing: a prediction matches the ground truth with the same file stem, or the stem left\n"
             "after removing trailing _<suffix> parts (kodim01_levin.png -> kodim01.png).")
    p.add_argument("pred_dir", metavar="PRED_DIR")
    p.add_argument("gt_dir", metavar="GT_DIR")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--csv", action="store_true", help="print CSV (one row per image)")

    p = _sub(subs, "bench", "benchmarks (quality protocol)",
             "  tinct bench quality --method gray --data ../shared/data/eval/kodak24 --json out.json")
    bsubs = p.add_subparsers(dest="bench", metavar="BENCH", required=True)
    q = _sub(bsubs, "quality", "colour images -> luma -> colorize -> PSNR, SSIM, CIEDE2000, colourfulness",
             "  tinct bench quality --method gray --data ../shared/data/eval/kodak24 \\\n"
             "      --json docs/results/gray_kodak24.json\n"
             "  tinct bench quality --method levin --data ../shared/data/eval/mcmaster18 --limit 3")
    q.add_argument("--method", metavar="NAME", help="method name (default: the bundled default method)")
    q.add_argument("--data", required=True, metavar="DIR", help="folder of colour images")
    q.add_argument("--json", metavar="OUT", nargs="?", const="",
                   help="also write the report as JSON to OUT (default docs/results/<method>_<dataset>.json)")
    q.add_argument("--limit", type=int, metavar="N", help="score only the first N images")
    q.add_argument("-O", "--option", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="method option (repeatable)")

    _sub(subs, "train", "train a trainable method ('tinct train --help' lists them)",
         "  tinct train --help\n  tinct train METHOD --help", add_help=False)
    _sub(subs, "serve", "start the web interface ('tinct serve --help' for its options)",
         "  tinct serve --help", add_help=False)

    p = _sub(subs, "demo", "colorize a sample photo and compare it with the original",
             "  tinct demo\n  tinct demo --out-dir out --method gray")
    p.add_argument("--out-dir", default="out", metavar="DIR", help="output folder (default: ./out)")
    p.add_argument("--method", metavar="NAME", help="method name (default: the bundled default method)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tinct`` command line with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]  # accepted anywhere on the line
    try:
        return _run(argv, debug)
    except UsageError as exc:
        print(f"{exc.prog}: error: {exc}", file=sys.stderr)
        return 2
    except TinctError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into one line
        if debug:
            traceback.print_exc()
            return 1
        print(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush is quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _run(argv: list[str], debug: bool) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit as exc:  # argparse: --help / --version (0) or a usage error (2)
        return int(exc.code or 0)
    args.debug_flag, args.argv = debug, argv
    if args.command not in DELEGATED and extra:
        return _argparse_exit(parser, f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "colorize":
        return cmd_colorize(args)
    if args.command == "methods":
        return cmd_methods(args)
    if args.command == "eval":
        return cmd_eval(args)
    if args.command == "bench":
        return cmd_bench_quality(args)
    if args.command == "train":
        return cmd_train(extra)
    if args.command == "serve":
        return cmd_serve(extra)
    if args.command == "demo":
        return cmd_demo(args)
    raise AssertionError(args.command)


def _argparse_exit(parser: argparse.ArgumentParser, message: str) -> int:
    try:
        parser.error(message)
    except SystemExit as exc:
        return int(exc.code or 2)
    return 2


def parse_options(pairs: Sequence[str], prog: str = "tinct") -> dict[str, Any]:
    """``["sigma=5", "mode=fast", "bf16=true"]`` -> ``{"sigma": 5, "mode": "fast", "bf16": True}``.

    Values are read as JSON when they parse (numbers, true/false/null, lists), else kept as text.
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key.isidentifier():
            raise UsageError(prog, f"bad option '{pair}': expected KEY=VALUE, e.g. -O sigma=5")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = {"True": True, "False": False, "None": None}.get(value, value)
    return options


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int | None = None,
                 shrink: Sequence[int] = ()) -> str:
    """A plain-text table with aligned columns; with ``max_width``, the widest of the ``shrink``
    columns are cut (ending in "~") until the lines fit, none below 12 characters."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    while max_width and shrink and sum(widths) + 2 * (len(widths) - 1) > max_width:
        widest = max(shrink, key=lambda i: widths[i])
        if widths[widest] <= 12:
            break
        widths[widest] -= 1
    cells = [[c if len(c) <= w else c[:w - 1] + "~" for c, w in zip(r, widths, strict=True)] for r in cells]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


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
    for kind, flag in (("reference", "--reference IMG"), ("hints", "--hints IMG")):
        given = getattr(args, kind) is not None
        if kind in info.needs and not given:
            raise UsageError(prog, f"method '{name}' needs a colour {kind} image: pass {flag}")
        if given and kind not in info.accepts:
            _note(args, f"method '{name}' does not use --{kind}; it is ignored")
    options = parse_options(args.options, prog)
    if args.style is not None:
        options["style"] = args.style
    colorizer = tinct.load_method(name, **options)
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
            rgb = colorizer.colorize(gray, reference=reference, hints=hints)
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


def cmd_methods(args: argparse.Namespace) -> int:
    """``tinct methods``: name, needs, bundled weights, trainable, paper, summary."""
    infos = tinct.list_methods()
    default = tinct.DEFAULT_METHOD
    if args.json:
        print(json.dumps([{"name": i.name, "default": i.name == default, "needs": sorted(i.needs),
                           "accepts": sorted(i.accepts), "bundled_weights": i.bundled_weights,
                           "trainable": i.trainable, "paper": i.paper, "summary": i.summary} for i in infos],
                         indent=2))
        return 0
    rows = [(i.name + (" *" if i.name == default else ""), ",".join(sorted(i.needs)) or "-",
             "yes" if i.bundled_weights else "no", "yes" if i.trainable else "no", i.paper, i.summary)
            for i in infos]
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None  # piped: full text
    headers = ("name", "needs", "bundled weights", "trainable", "paper", "summary")
    print(format_table(headers, rows, width, shrink=(4, 5)))
    print(f"\n* default method ({default}); use --method NAME to choose another.")
    return 0


_SCORE_HEADERS = ("PSNR", "SSIM", "CIEDE2000", "colourful pred", "colourful GT")


def _score_cells(v: dict[str, float]) -> list[str]:
    return [f"{v['psnr']:.2f}", f"{v['ssim']:.4f}", f"{v['ciede2000']:.2f}", f"{v['colorfulness_pred']:.1f}",
            f"{v['colorfulness_gt']:.1f}"]


def cmd_eval(args: argparse.Namespace) -> int:
    """``tinct eval PRED_DIR GT_DIR``: per-image scores and means; problems on stderr."""
    from tinct.bench.quality import METRICS, evaluate_folders

    result = evaluate_folders(args.pred_dir, args.gt_dir)
    for line in result.errors:
        print(f"error: {line}", file=sys.stderr)
    if result.unmatched_preds and not args.quiet:
        print(f"note: {len(result.unmatched_preds)} prediction(s) match no ground truth: "
              f"{', '.join(result.unmatched_preds[:5])}{' ...' if len(result.unmatched_preds) > 5 else ''}",
              file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["image", "prediction", *METRICS])
        for r in result.rows:
            writer.writerow([r["image"], r["prediction"], *(repr(float(r[k])) for k in METRICS)])
    else:
        rows = [[r["image"], r["prediction"], *_score_cells(r)] for r in result.rows]
        rows.append(["mean", f"({len(result.rows)} images)", *_score_cells(result.means())])
        print(format_table(("image", "prediction", *_SCORE_HEADERS), rows))
    return 1 if result.errors else 0


def cmd_bench_quality(args: argparse.Namespace) -> int:
    """``tinct bench quality``: print the Markdown table; write JSON when asked."""
    from tinct.bench.quality import evaluate_quality

    method = args.method or tinct.DEFAULT_METHOD
    options = parse_options(args.options, "tinct bench quality")
    needs = tinct.method_info(method).needs
    if needs:
        raise TinctError(f"tinct bench quality scores automatic methods; '{method}' needs "
                         f"{' and '.join(sorted(needs))} (use its own benchmark)")
    report = evaluate_quality(method, args.data, limit=args.limit, options=options,
                              progress=not args.quiet and sys.stderr.isatty())
    report.command = " ".join(["tinct", *args.argv])
    print(report.to_markdown())
    if args.json is not None:
        path = report.to_json(args.json or Path("docs/results") / f"{report.method}_{report.dataset}.json")
        print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_train(extra: list[str]) -> int:
    """``tinct train METHOD ...``: delegate to ``tinct.methods.<METHOD>.training``."""
    trainable = [i for i in tinct.list_methods() if i.trainable]
    parser = argparse.ArgumentParser(
        prog="tinct train", formatter_class=_formatter, description="Train a trainable method.",
        epilog="Run 'tinct train METHOD --help' for the method's options.")
    subs = parser.add_subparsers(dest="method", metavar="METHOD", required=True)
    chosen = extra[0] if extra and not extra[0].startswith("-") else None  # METHOD comes first
    for info in trainable:
        p = subs.add_parser(info.name, help=info.summary, formatter_class=_formatter,
                            description=f"Train '{info.name}': {info.summary} ({info.paper})")
        if info.name == chosen:  # import only the method being trained
            module = _import_optional(f"tinct.methods.{info.name}.training",
                                      f"method '{info.name}' is marked trainable but has no training module")
            module.add_arguments(p)
            p.set_defaults(_main=module.main)
    if not trainable:
        raise TinctError("no trainable method is registered in this installation")
    if chosen is not None and chosen not in {i.name for i in trainable}:
        known = ", ".join(i.name for i in trainable)
        raise UsageError("tinct train", f"'{chosen}' is not a trainable method; trainable methods: {known}")
    try:
        targs = parser.parse_args(extra)
    except SystemExit as exc:
        return int(exc.code or 0)
    return int(targs._main(targs) or 0)


def cmd_serve(extra: list[str]) -> int:
    """``tinct serve ...``: delegate to ``tinct.web.server``."""
    server = _import_optional("tinct.web.server", "the web interface (tinct.web.server) is not part of this "
                              "installation")
    parser = argparse.ArgumentParser(prog="tinct serve", formatter_class=_formatter,
                                     description="Start the tinct web interface.")
    server.add_arguments(parser)
    try:
        sargs = parser.parse_args(extra)
    except SystemExit as exc:
        return int(exc.code or 0)
    return int(server.main(sargs) or 0)


def _import_optional(name: str, missing: str) -> Any:
    """Import ``name``; a :class:`TinctError` with ``missing`` if that module (not a dependency) is absent."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise TinctError(missing) from None
        raise


def cmd_demo(args: argparse.Namespace) -> int:
    """``tinct demo``: colorize a sample photo from the scikit-image wheel."""
    from tinct.demo import run_demo

    result = run_demo(args.out_dir, args.method)
    print(f"input (gray):  {result.gray_path}")
    print(f"result:        {result.result_path}")
    print(f"side by side:  {result.compare_path}   (input | {result.method} | original)")
    print(f"PSNR {result.psnr:.2f} dB, SSIM {result.ssim:.4f} against the original photo")
    return 0


if __name__ == "__main__":
    sys.exit(main())
