"""``tinct bench caption`` (its parser and command) and the one-line display of :class:`TinctWarning`."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tinct.errors import TinctError, TinctWarning

DEFAULT_STANFORD = "../shared/data/segmentation/stanford_background"


def add_bench_caption(bsubs: Any, sub: Any) -> None:
    """The ``bench caption`` subparser (``sub``: :func:`tinct.cli.parser._sub`)."""
    q = sub(bsubs, "caption", "gray + caption -> colorize -> ab accuracy@1/@5, ΔE00 in the named regions, "
            "manipulation rate (swap a colour word)",
            "  tinct bench caption --weights runs/caption/film/caption.safetensors \\\n"
            "      --coco ../shared/data/captions/coco2017 --json film.json --markdown film.md\n\n"
            "Held-out: Stanford Background split_val (true regions; captions synthesized from them) and,\n"
            "with --coco, the COCO images whose captions hold a colour word. Each score is also taken\n"
            "with the empty caption. docs/methods/caption.md defines the metrics.")
    q.add_argument("--method", default="caption", metavar="NAME", help="a method that uses captions "
                   "(default: caption)")
    q.add_argument("--stanford", default=DEFAULT_STANFORD, metavar="DIR", help="Stanford Background folder "
                   f"(default {DEFAULT_STANFORD}; 'none' to skip)")
    q.add_argument("--coco", metavar="DIR", help="also the COCO captions subset (captions.json + images/)")
    q.add_argument("--limit", type=int, metavar="N", help="only the first N images of each set")
    q.add_argument("--swaps", type=int, default=3, metavar="N", help="colour-word swaps per image for the "
                   "manipulation rate (default 3; 0 = none)")
    q.add_argument("--json", metavar="OUT", help="also write the report (per image and summary) as JSON")
    q.add_argument("--markdown", metavar="OUT", help="also write the summary table as Markdown")
    q.add_argument("-O", "--option", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="method option (repeatable)")
    q.add_argument("--weights", metavar="NAME|PATH", help="weights of a trainable method (variant or file)")


def cmd_bench_caption(args: argparse.Namespace) -> int:
    """``tinct bench caption``: print the summary table; write JSON / Markdown when asked. Bad input
    (method, folder, weights, options) is one line and exit 2."""
    import tinct
    from tinct.bench.caption import evaluate_caption
    from tinct.cli.parser import UsageError, load_colorizer, method_options

    prog = "tinct bench caption"
    stanford = None if str(args.stanford).lower() == "none" else args.stanford
    try:
        if "caption" not in tinct.method_info(args.method).accepts:
            raise TinctError(f"method '{args.method}' does not use a caption; use --method caption")
        for folder, flag in ((stanford, "--stanford"), (args.coco, "--coco")):
            if folder is not None and not Path(folder).is_dir():
                raise TinctError(f"{flag}: folder not found: {folder}")
        if args.swaps < 0 or (args.limit is not None and args.limit < 1):
            raise TinctError("--swaps must be >= 0 and --limit >= 1")
        colorizer = load_colorizer(args.method, method_options(args, prog), prog)
        with warnings.catch_warnings():  # COCO captions are full of words outside the vocabulary
            warnings.simplefilter("ignore", TinctWarning)
            report = evaluate_caption(colorizer, stanford=stanford, coco=args.coco, limit=args.limit,
                                      swaps=args.swaps, progress=not args.quiet and sys.stderr.isatty())
    except TinctError as exc:
        raise UsageError(prog, str(exc)) from None
    report.command = " ".join(["tinct", *args.argv])
    table = report.to_markdown()
    print(table)
    if args.json:
        print(f"wrote {report.to_json(args.json)}", file=sys.stderr)
    if args.markdown:
        out = Path(args.markdown)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f"# {report.method} on the caption protocol\n\n`{report.command}`\n\n{table}\n\n"
                       f"Protocol: {report.protocol}\n")
        print(f"wrote {out}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Within the block, a :class:`TinctWarning` is printed as ``warning: <message>`` on stderr (once
    per message); other warnings keep Python's format."""
    with warnings.catch_warnings():
        original = warnings.showwarning

        def show(message: Any, category: type, filename: str, lineno: int, file: Any = None,
                 line: str | None = None) -> None:
            if issubclass(category, TinctWarning):
                print(f"warning: {message}", file=sys.stderr)
            else:
                original(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        warnings.simplefilter("default", TinctWarning)
        yield
