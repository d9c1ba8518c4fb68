"""The ``tinct`` argument parser, method options from ``-O KEY=VALUE`` / ``--weights``, plain-text tables."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import tinct
from tinct.cli.caption import add_bench_caption
from tinct.options import OptionError, parse_assignments

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
             "  tinct colorize left.png --method stereocopy --reference right.png -O num_disparities=64\n"
             "  tinct colorize old.jpg --weights warm   # a bundled weight variant (or a .safetensors)\n"
             "  tinct colorize archive/ -r --out-dir coloured    # again: skips what is done\n"
             "  tinct colorize archive/ -r --out-dir coloured --backend ray --address auto\n"
             "  tinct colorize clip.mp4 -o clip_colour.mp4 --method video-blend   # a video, frame by frame\n"
             "  tinct colorize frames/ --video -o coloured_frames/ --keyframe first_colour.png\n\n"
             "'tinct methods NAME' lists a method's options (-O) and weight variants (--weights).\n"
             "Videos (a video file, or a folder of frames with --video) are streamed: read, coloured and\n"
             "written one frame at a time into a video (.mp4 .m4v .mov .mkv: MPEG-4 'mp4v'; .avi: MJPEG)\n"
             "or a folder of PNG frames; audio is not read or written. --keyframe starts from your coloured\n"
             "first frame (a per-frame method is then wrapped in video-blend so its colours last the shot).\n"
             f"Outputs are <stem>_<method>.png in --out-dir (default ./{DEFAULT_OUT_DIR}), mirroring a\n"
             "folder's tree; x.jpg and x.tif in one folder give x_jpg_<method>.png and x_tif_<method>.png.\n"
             "OUT/tinct-manifest.jsonl records every input; a re-run skips what is done (same input,\n"
             "method, options and weights) and --force redoes all. Ctrl-C keeps what is done. An output\n"
             "that the manifest does not list is replaced only with --overwrite; an input never is.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", metavar="OUT", help="output file (only with a single input)")
    out.add_argument("--out-dir", metavar="DIR", help=f"output folder (default: ./{DEFAULT_OUT_DIR})")
    p.add_argument("--method", metavar="NAME", help="method name, see 'tinct methods' (default: the bundled "
                   "default method)")
    p.add_argument("--reference", metavar="IMG", help="colour reference image, for reference-based methods")
    p.add_argument("--hints", metavar="IMG", help="colour scribbles: an RGB(A) image the size of the input")
    p.add_argument("--caption", metavar="TEXT", help="a caption, for methods steered by text")
    p.add_argument("-O", "--option", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="method option (repeatable), e.g. -O refine=true; 'tinct methods NAME' lists them")
    p.add_argument("--weights", metavar="NAME|PATH", help="weights of a trainable method: a bundled variant "
                   "('tinct methods NAME' lists them) or a .safetensors file from 'tinct train'")
    p.add_argument("--video", action="store_true", help="the input is a folder of frames (sorted by name) "
                   "coloured as one video; a video file is recognised by its extension")
    p.add_argument("--keyframe", metavar="IMG", help="a video's first frame in colour (yours, or any "
                   "method's output): the colours to start from")
    p.add_argument("--bit-depth", type=int, choices=(8, 16), help="output bit depth (default: the input's)")
    p.add_argument("--max-pixels", type=int, metavar="N", help="refuse inputs larger than N pixels")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files that "
                   "this folder's manifest does not list")
    p.add_argument("-r", "--recursive", action="store_true", help="also colour the images in subfolders "
                   "(the tree is mirrored in the output folder)")
    p.add_argument("--force", action="store_true", help="redo every input, also those the "
                   "manifest lists as done")
    p.add_argument("--backend", choices=("local", "ray"), default="local", help="where to compute: this "
                   "process (default) or a Ray cluster (pip install 'tinct[ray]'; docs/scale.md)")
    p.add_argument("--address", metavar="ADDR", help="Ray cluster address (host:port or 'auto'; default: "
                   "start a private local Ray)")
    p.add_argument("--workers", type=int, metavar="N", help="Ray workers, one model each "
                   "(default: one per CPU)")

    p = _sub(subs, "methods", "list the colorization methods, or one method's inputs, options and weights",
             "  tinct methods\n  tinct methods levin\n  tinct methods --json")
    p.add_argument("name", nargs="?", metavar="NAME", help="show this method's options and weight variants")
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

    p = _sub(subs, "bench", "benchmarks (quality protocol, paired protocol)",
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
    q.add_argument("--weights", metavar="NAME|PATH", help="weights of a trainable method (variant or file)")
    _add_bench_pairs(bsubs)
    _add_bench_video(bsubs)
    add_bench_caption(bsubs, _sub)

    _sub(subs, "train", "train a trainable method ('tinct train --help' lists them)",
         "  tinct train --help\n  tinct train METHOD --help", add_help=False)
    _sub(subs, "serve", "start the web interface ('tinct serve --help' for its options)",
         "  tinct serve --help", add_help=False)

    p = _sub(subs, "demo", "colorize a sample photo and compare it with the original",
             "  tinct demo\n  tinct demo --out-dir out --method gray")
    p.add_argument("--out-dir", default="out", metavar="DIR", help="output folder (default: ./out)")
    p.add_argument("--method", metavar="NAME", help="method name (default: the bundled default method)")
    return parser

def _add_bench_pairs(bsubs: Any) -> None:
    q = _sub(bsubs, "pairs", "input band + separate true-colour file -> colorize -> PSNR, SSIM, AE, "
             "CIEDE2000, plain and after the best shift",
             "  d=../shared/data/nir/epfl_country_test\n"
             "  tinct bench pairs --method gray --inputs \"$d/*_nir.jpg\" --truth \"$d/*_rgb.jpg\" \\\n"
             "      --json gray_nir.json --markdown gray_nir.md\n\n"
             "Files pair up by the text the one '*' of each glob captures (a_nir.jpg <-> a_rgb.jpg);\n"
             "an input without a truth is an error. The input is read as one band; a truth of another\n"
             "size is refused unless --resize-truth. Aligned scores: the best integer shift within\n"
             "+-R px (min RGB MSE), scored on the overlap. Bad input: one line, exit 2.")
    q.add_argument("--method", required=True, metavar="NAME", help="method name (see 'tinct methods')")
    q.add_argument("--inputs", required=True, metavar="GLOB", help="input bands, one '*': 'DIR/*_nir.jpg'")
    q.add_argument("--truth", required=True, metavar="GLOB", help="true colours, one '*': 'DIR/*_rgb.jpg'")
    q.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    q.add_argument("--markdown", metavar="OUT", help="also write the report as a Markdown file to OUT")
    q.add_argument("--align-radius", type=int, default=4, metavar="R", help="largest shift (px) tried by "
                   "the aligned scores (default 4; 0 = none)")
    q.add_argument("--resize-truth", action="store_true", help="resize a truth of another size to the "
                   "input's (area interpolation) instead of refusing the pair")
    q.add_argument("--limit", type=int, metavar="N", help="score only the first N pairs (sorted by key)")
    q.add_argument("-O", "--option", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="method option (repeatable)")
    q.add_argument("--weights", metavar="NAME|PATH", help="weights of a trainable method (variant or file)")


def _add_bench_video(bsubs: Any) -> None:
    q = _sub(bsubs, "video", "colour frames -> luma -> colorize_frames -> warping error (flicker), "
             "CIEDE2000, PSNR, colourfulness",
             "  tinct bench video --method video-blend --data ../shared/data/video/davis2016/dog \\\n"
             "      --json dog.json --markdown dog.md\n\n"
             "The warping error (Lai et al. 2018) on Lab a*b*: DIS flow on the true luma, occlusions by a\n"
             "forward-backward check; the same for the true video, and their ratio. docs/methods/video.md.")
    q.add_argument("--method", metavar="NAME", help="method name (default: the bundled default method)")
    q.add_argument("--data", required=True, metavar="PATH", help="a folder of colour frames or a video file")
    q.add_argument("--limit", type=int, metavar="N", help="score only the first N frames")
    q.add_argument("--keyframe-truth", action="store_true", help="give the method the true first frame as "
                   "its keyframe")
    q.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    q.add_argument("--markdown", metavar="OUT", help="also write the report as a Markdown file to OUT")
    q.add_argument("-O", "--option", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="method option (repeatable)")
    q.add_argument("--weights", metavar="NAME|PATH", help="weights of a trainable method (variant or file)")


def method_options(args: argparse.Namespace, prog: str) -> dict[str, Any]:
    """``-O KEY=VALUE`` items and ``--weights`` as raw option values (typed later by the method's
    options dataclass, :func:`tinct.options.build_options`)."""
    try:
        options: dict[str, Any] = parse_assignments(args.options)
    except OptionError as exc:
        raise UsageError(prog, str(exc)) from None
    if getattr(args, "weights", None) is not None:
        if "weights" in options:
            raise UsageError(prog, "give the weights once: --weights NAME|PATH (not also -O weights=)")
        options["weights"] = args.weights
    return options


def load_colorizer(name: str, options: dict[str, Any], prog: str) -> Any:
    """``tinct.load_method`` with option errors as usage errors (exit 2) and --weights explained."""
    info = tinct.method_info(name)
    if "weights" in options and not info.weights:
        raise UsageError(prog, f"method '{name}' has no trained weights; --weights is for trainable methods")
    try:
        return tinct.load_method(name, **options)
    except OptionError as exc:
        raise UsageError(prog, str(exc)) from None


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
