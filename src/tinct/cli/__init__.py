"""The ``tinct`` command line: a thin shell over the Python API.

Every subcommand parses its arguments, calls the library and prints. Exit codes: 0 success,
1 a failure (a bad input file, an error of the library), 2 a usage error, 130 interrupted.
A :class:`~tinct.errors.TinctError` is printed on one line, never with a traceback; an unexpected
exception prints one line too unless ``--debug`` is given.

Modules: :mod:`tinct.cli.parser` (``build_parser``, ``method_options``, ``format_table``),
:mod:`tinct.cli.colorize` (``cmd_colorize``, output planning), :mod:`tinct.cli.train` (the generated
``tinct train METHOD`` parser), :mod:`tinct.cli.commands` (the other subcommands). :func:`main`
dispatches through this module's names, so replacing ``tinct.cli.cmd_<name>`` (e.g. in a test)
takes effect.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from tinct.cli.caption import cmd_bench_caption, one_line_warnings
from tinct.cli.colorize import cmd_colorize
from tinct.cli.commands import cmd_bench_pairs, cmd_bench_quality, cmd_demo, cmd_eval, cmd_methods, cmd_serve
from tinct.cli.parser import (
    DEFAULT_OUT_DIR,
    DELEGATED,
    UsageError,
    build_parser,
    format_table,
    method_options,
)
from tinct.cli.train import cmd_train
from tinct.cli.video import cmd_bench_video
from tinct.errors import TinctError
from tinct.options import OptionError

__all__ = [
    "DEFAULT_OUT_DIR",
    "DELEGATED",
    "UsageError",
    "build_parser",
    "cmd_bench_caption",
    "cmd_bench_pairs",
    "cmd_bench_quality",
    "cmd_bench_video",
    "cmd_colorize",
    "cmd_demo",
    "cmd_eval",
    "cmd_methods",
    "cmd_serve",
    "cmd_train",
    "format_table",
    "main",
    "method_options",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tinct`` command line with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]  # accepted anywhere on the line
    try:
        with one_line_warnings():
            return _run(argv, debug)
    except UsageError as exc:
        print(f"{exc.prog}: error: {exc}", file=sys.stderr)
        return 2
    except OptionError as exc:  # a bad option reached the library without the CLI's own check
        print(f"tinct: error: {exc}", file=sys.stderr)
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
        bench = {"pairs": cmd_bench_pairs, "video": cmd_bench_video,
                 "caption": cmd_bench_caption}.get(args.bench, cmd_bench_quality)
        return bench(args)
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
