"""``tinct colorize`` on a video (a file, or a folder of frames with ``--video``) and ``tinct bench video``.

A video is streamed: frames are read, coloured by ``method.colorize_frames`` (a lazy iterator) and
written one by one (:mod:`tinct.io.video`), so memory does not grow with the length; the output
appears when complete. ``--keyframe IMG`` starts from a coloured first frame: a temporal method
(``video-blend``) carries it on; a per-frame method is wrapped in ``video-blend`` with it as the
inner method, so the keyframe's colours last the shot (a note says so). Audio is not read or written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

import tinct
from tinct.cli.parser import DEFAULT_OUT_DIR, UsageError, load_colorizer, method_options
from tinct.errors import TinctError
from tinct.registry import MissingInput

PROG = "tinct colorize"
BENCH_PROG = "tinct bench video"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def wants_video(args: argparse.Namespace) -> bool:
    """``--video``, or a single input with a video extension."""
    from tinct.io import VIDEO_EXTENSIONS

    single = len(args.inputs) == 1 and Path(args.inputs[0]).suffix.lower() in VIDEO_EXTENSIONS
    return bool(args.video) or single


def colorize_video(args: argparse.Namespace, name: str, options: dict[str, Any]) -> int:
    """Colour one video or folder of frames into ``-o`` (a video file or a folder of PNG frames).

    ``options`` come from ``check_usage(args, name, video=True)`` after :func:`check_video_usage`.
    Returns 0; usage errors raise :class:`UsageError` (exit 2), a bad video or keyframe file
    :class:`TinctError` (exit 1, nothing written).
    """
    from tinct import io

    source_path = Path(args.inputs[0])
    out = _output_path(args, source_path, name)
    keyframe = _read_keyframe(args.keyframe) if args.keyframe else None
    reference = io.read_rgb(args.reference) if args.reference else None
    source = io.open_frames(source_path, **_max_pixels(args))
    writer = io.FrameWriter(out, fps=source.fps, overwrite=args.overwrite, bit_depth=args.bit_depth or 8)
    colorizer = load_colorizer(name, options, PROG)
    if keyframe is not None and not colorizer.temporal:
        _note(args, f"'{name}' colours each frame on its own; the keyframe's colours are carried on by "
                    f"video-blend (-O inner={name})")
        colorizer = tinct.load_method("video-blend", inner=name, inner_options=options)
    frames = _luma_frames(source, args)
    outputs = colorizer.colorize_frames(frames, reference=reference, caption=args.caption, keyframe=keyframe)
    start = time.perf_counter()
    with writer, tqdm(total=source.frame_count, unit="frame", desc=f"{colorizer.name}", leave=False,
                      disable=args.quiet or not sys.stderr.isatty()) as bar:
        for rgb in outputs:
            writer.write(rgb)
            bar.update(1)
    seconds = time.perf_counter() - start
    if not args.quiet:
        print(f"{out}  ({writer.frames_written} frames, {writer.frames_written / max(seconds, 1e-9):.2f} "
              "frames/s)")
    return 0


def check_video_usage(args: argparse.Namespace) -> None:
    """The checks of a video command line that the image checks do not make (:class:`UsageError`)."""
    if len(args.inputs) != 1:
        raise UsageError(PROG, f"a video is one input (a video file, or a folder of frames with --video), "
                               f"got {len(args.inputs)}")
    for flag, used in (("-r/--recursive", args.recursive), ("--force", args.force),
                       ("--backend ray", args.backend != "local"), ("--workers", args.workers is not None),
                       ("--address", args.address is not None)):
        if used:
            raise UsageError(PROG, f"{flag} is for batches of images, not for a video")
    if args.hints:
        raise UsageError(PROG, "--hints are not used for videos; colour the first frame (e.g. --method levin "
                               "--hints) and pass it as --keyframe")


def _output_path(args: argparse.Namespace, source: Path, name: str) -> Path:
    """``-o`` (a video file or a folder), or ``--out-dir``/<stem>_<method>.mp4 (a folder for frames in)."""
    from tinct.io import WRITE_CODECS

    if not args.output:
        folder = Path(args.out_dir or DEFAULT_OUT_DIR)
        return folder / (f"{source.name}_{name}" if source.is_dir() else f"{source.stem}_{name}.mp4")
    out = Path(args.output)
    suffix = out.suffix.lower()
    if args.output.endswith(("/", "\\")) or out.is_dir() or not suffix:
        return out
    if suffix in _IMAGE_SUFFIXES:
        raise UsageError(PROG, f"-o/--output '{out}' is an image name; a video goes to a video file "
                               f"({', '.join(WRITE_CODECS)}) or to a folder of PNG frames")
    if suffix not in WRITE_CODECS:
        raise UsageError(PROG, f"-o/--output: unknown video extension {suffix!r}; use one of "
                               f"{', '.join(WRITE_CODECS)}, or a folder name for PNG frames")
    return out


def _read_keyframe(path: str) -> Any:
    from tinct import io

    rgb = io.read_rgb(path)
    if not io.is_color(rgb):
        raise UsageError(PROG, f"the keyframe {path} is gray; give the coloured first frame")
    return rgb


def _max_pixels(args: argparse.Namespace) -> dict[str, int]:
    return {} if args.max_pixels is None else {"max_pixels": args.max_pixels}


def _luma_frames(source: Any, args: argparse.Namespace) -> Any:
    """The luma of each frame, read lazily; a note when the input is in colour."""
    import numpy as np

    from tinct import io
    from tinct.color import rgb_to_luma

    for index, rgb in enumerate(source):
        if index == 0 and io.is_color(rgb):
            _note(args, f"{source.path} is in colour; its luma is coloured")
        yield np.clip(rgb_to_luma(rgb), 0.0, 1.0)


def _note(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        tqdm.write(f"note: {message}", file=sys.stderr)


def cmd_bench_video(args: argparse.Namespace) -> int:
    """``tinct bench video``: print the Markdown tables; write JSON / Markdown when asked. Any bad input
    (method, path, frames) is one line and exit 2."""
    from tinct import io
    from tinct.bench.video import evaluate_video

    method = args.method or tinct.DEFAULT_METHOD
    try:
        info = tinct.method_info(method)
        try:
            info.check_inputs(())
        except MissingInput as exc:
            raise TinctError(f"{BENCH_PROG} colours the luma alone; {exc}") from None
        if info.modality != "luma":
            raise TinctError(f"{BENCH_PROG} gives the method the luma of each frame; '{method}' takes a "
                             f"{info.modality} input")
        source = io.open_frames(args.data)
        colorizer = load_colorizer(method, method_options(args, BENCH_PROG), BENCH_PROG)
        report = evaluate_video(colorizer, source, data=Path(args.data).name, limit=args.limit,
                                keyframe_truth=args.keyframe_truth, total=source.frame_count,
                                progress=not args.quiet and sys.stderr.isatty())
    except TinctError as exc:
        raise UsageError(BENCH_PROG, str(exc)) from None
    report.command = " ".join(["tinct", *args.argv])
    print(report.to_markdown())
    for out, text in ((args.json, None), (args.markdown, report.markdown_document())):
        if out:
            path = report.to_json(out) if text is None else _write_text(out, text)
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _write_text(path: str, text: str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out
