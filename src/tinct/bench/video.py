"""The video protocol: colour frames -> luma -> ``colorize_frames`` -> flicker and accuracy (issue 17).

Flicker is the *warping error* of Lai et al. 2018 (*Learning Blind Video Temporal Consistency*,
eq. 8) measured on chroma: for each frame t >= 1, DIS flow (preset MEDIUM) on the true luma takes
frame t onto frame t-1, the forward-backward check gives the pixels visible in both
(:func:`tinct.flow.motion`), and

    E_warp(t) = mean over visible x of |ab(O_t)(x) - ab(O_{t-1})(x + flow(x))|^2

with ``ab`` the CIE Lab a*, b* channels (units^2; bilinear warping). The video's score is the mean
over frames 1..T-1. The same flows and masks score the true colour video, so the ratio
method / true says how much flicker the method adds to that of real colour (camera motion, flow
errors and lighting give the true video a nonzero floor). As a washed-out video flickers little
by construction, each frame is also scored against the truth with :func:`tinct.bench.quality.score_pair`
(PSNR, SSIM, CIEDE2000, colourfulness). Time: the ``next()`` of the method's frame stream, less
the reading of frames, on the wall clock and in CPU seconds of the process.

:func:`cut_recovery` measures a scene cut: sequence A then sequence B as one stream, compared
frame by frame with the method run on B alone; the method has recovered at the first frame after
the cut from which its output stays within ``tolerance`` mean CIEDE2000 of the B-alone run.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, is_dataclass
from itertools import islice
from typing import Any

import numpy as np
from tqdm import tqdm

from tinct import color, metrics
from tinct.bench.quality import METRICS, Column, markdown_table, mean_scores, score_pair
from tinct.bench.report import JsonReport, machine_info
from tinct.errors import TinctError
from tinct.flow import Motion, motion, warp
from tinct.registry import Colorizer
from tinct.weights import git_commit

PROTOCOL = ("tinct.bench.video v1: input = BT.601 luma of each true frame; output = colorize_frames (one "
            "stream); warping error (Lai et al. 2018) on CIE Lab a*b*: per frame t >= 1 the mean over pixels "
            "visible in t-1 (DIS MEDIUM flow on the true luma both ways, forward-backward check |f+b|^2 < "
            "0.01(|f|^2+|b|^2) + 0.5) of |ab_t - warp(ab_{t-1})|^2, averaged over frames, for the output and "
            "the true video; PSNR, SSIM, CIEDE2000, colourfulness per frame against the truth "
            "(tinct.bench.quality.score_pair); time = the next() of the stream less frame reading")

VIDEO_COLUMNS: tuple[Column, ...] = (
    ("warp_pred", "warp err", ".2f"), ("warp_true", "warp err true", ".2f"), ("psnr", "PSNR (dB)", ".2f"),
    ("ssim", "SSIM", ".4f"), ("ciede2000", "CIEDE2000", ".2f"),
    ("colorfulness_pred", "colourful pred", ".1f"), ("colorfulness_gt", "colourful GT", ".1f"),
    ("occluded", "occluded", ".3f"), ("seconds", "time (s)", ".3f"))

SUMMARY_COLUMNS: tuple[Column, ...] = (
    ("warp_pred", "warp err", ".2f"), ("warp_true", "warp err true", ".2f"), ("warp_ratio", "ratio", ".2f"),
    ("ciede2000", "CIEDE2000", ".2f"), ("psnr", "PSNR (dB)", ".2f"),
    ("colorfulness_pred", "colourful", ".1f"), ("colorfulness_gt", "colourful GT", ".1f"),
    ("fps", "frames/s", ".2f"), ("fps_cpu", "frames/CPU-s", ".2f"))


def chroma_ab(rgb: np.ndarray) -> np.ndarray:
    """CIE Lab a*, b* of float ``(H, W, 3)`` RGB in [0, 1]: float32 ``(H, W, 2)``, about [-128, 127]."""
    return color.rgb_to_lab(np.asarray(rgb, dtype=np.float32))[..., 1:].astype(np.float32)


def warp_error(prev_ab: np.ndarray, ab: np.ndarray, moved: Motion) -> float:
    """Lai et al.'s warping error of one frame on chroma.

    Args:
        prev_ab, ab: float ``(H, W, 2)`` a*, b* of frames t-1 and t (:func:`chroma_ab`).
        moved: :func:`tinct.flow.motion` of the true luma, (t-1, t).

    Returns:
        The mean of ``|ab - warp(prev_ab)|^2`` over the visible pixels (units^2); NaN if none is visible.
    """
    if not moved.valid.any():
        return math.nan
    diff = ab - warp(prev_ab, moved.to_prev)
    return float(np.einsum("...c,...c->...", diff, diff)[moved.valid].mean())


def luma_of(rgb: np.ndarray) -> np.ndarray:
    """float32 ``(H, W)`` BT.601 luma in [0, 1] of an RGB frame (what the method is given)."""
    return np.clip(color.rgb_to_luma(np.asarray(rgb, dtype=np.float32)), 0.0, 1.0).astype(np.float32)


@dataclass
class VideoReport(JsonReport):
    """Result of :func:`evaluate_video`: one row per frame (``image`` = index) and the summary."""

    name: str
    data: str
    rows: list[dict[str, Any]]
    width: int
    height: int
    options: dict[str, Any] = field(default_factory=dict)
    keyframe: bool = False
    protocol: str = PROTOCOL
    command: str | None = None

    def summary(self) -> dict[str, float]:
        """Means over frames (warping errors over frames 1..T-1), ``warp_ratio``, ``fps`` (wall clock) and
        ``fps_cpu`` (frames per CPU second of the process: the rate on idle cores at 1 thread)."""
        out = mean_scores(self.rows, (*METRICS, "seconds"))
        moving = [r for r in self.rows[1:] if not math.isnan(r["warp_pred"])]
        out.update(mean_scores(moving, ("warp_pred", "warp_true")))
        out["warp_ratio"] = out["warp_pred"] / out["warp_true"] if out["warp_true"] > 0 else math.nan
        for key, seconds in (("fps", "seconds"), ("fps_cpu", "cpu_seconds")):
            total = sum(r[seconds] for r in self.rows)
            out[key] = len(self.rows) / total if total > 0 else math.nan
        out["frames"] = len(self.rows)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: method, data, protocol, command, machine, summary and per-frame rows."""
        return {"method": self.name, "data": self.data, "options": self.options, "keyframe": self.keyframe,
                "protocol": self.protocol, "command": self.command, "commit": git_commit(),
                "size": [self.width, self.height],
                "machine": machine_info(),
                "summary": self.summary(), "frames": self.rows}

    def to_markdown(self) -> str:
        """The summary row, then one row per frame (warping errors from frame 1)."""
        summary = markdown_table([{"image": self.name, **self.summary()}], SUMMARY_COLUMNS, None)
        frames = markdown_table(self.rows, VIDEO_COLUMNS, None, name_key="image")
        return f"{summary}\n\n{frames}"

    def markdown_document(self) -> str:
        """A Markdown file: title, command, data, protocol and :meth:`to_markdown`."""
        start = "the true first frame as keyframe" if self.keyframe else "no keyframe"
        return "\n".join([f"# {self.name}: video protocol on {self.data} ({len(self.rows)} frames, "
                          f"{self.width}x{self.height}, {start})", "",
                          f"Command: `{self.command or '(from Python)'}`", "",
                          f"Protocol: {self.protocol}.", "", self.to_markdown(), ""])


def _clock() -> np.ndarray:
    """(wall seconds, CPU seconds of this process)."""
    return np.array([time.perf_counter(), time.process_time()])


class _Feed:
    """Truth frames in, luma out to the method; remembers the truths not yet scored and the reading time."""

    def __init__(self, frames: Iterable[np.ndarray]) -> None:
        self.frames, self.pending, self.reading = iter(frames), deque(), np.zeros(2)

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            start = _clock()
            truth = next(self.frames, None)
            if truth is None:
                return
            self.pending.append(truth)
            luma = luma_of(truth)
            self.reading += _clock() - start
            yield luma


def timed_stream(colorizer: Colorizer, truths: Iterable[np.ndarray], *,
                 keyframe: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Colour the luma of ``truths`` as one stream; yields ``(output, truth, (wall s, CPU s))`` per frame.

    The times are those of the stream's ``next()`` less the reading of the frames it pulled; CPU
    seconds (all threads of this process) do not count waiting for a busy machine.
    """
    feed = _Feed(truths)
    outputs = colorizer.colorize_frames(iter(feed), keyframe=keyframe)
    while True:
        start, read = _clock(), feed.reading.copy()
        out = next(outputs, None)
        if out is None:
            return
        yield out, feed.pending.popleft(), _clock() - start - (feed.reading - read)


def evaluate_video(colorizer: Colorizer, frames: Iterable[np.ndarray], *, name: str | None = None,
                   data: str = "", limit: int | None = None, keyframe_truth: bool = False,
                   progress: bool = False, total: int | None = None,
                   motions: dict[int, Motion] | None = None) -> VideoReport:
    """Run this module's protocol on a sequence of true colour frames.

    Args:
        colorizer: any method with a gray (luma) input.
        frames: float ``(H, W, 3)`` RGB in [0, 1] (e.g. :func:`tinct.io.open_frames`); read lazily.
        name, data: how the report names the method and the sequence.
        limit: score only the first ``limit`` frames.
        keyframe_truth: start the method from the true first frame as its keyframe.
        progress: a progress bar on stderr (``total`` frames, if known).
        motions: a cache of the true frames' :class:`Motion` by frame index, filled and reused (pass
            the same dict to runs on the same frames: the flows depend on the truth only).

    Returns:
        A :class:`VideoReport`.

    Raises:
        TinctError: fewer than 2 frames, a bad ``limit``, or an error of the method or the frames.
    """
    if limit is not None and limit < 2:
        raise TinctError(f"limit must be at least 2 frames (the warping error compares pairs), got {limit}")
    frames = islice(frames, limit)
    keyframe = None
    if keyframe_truth:
        frames = iter(frames)
        keyframe = next(frames, None)
        frames = frames if keyframe is None else _prepend(keyframe, frames)
    rows: list[dict[str, Any]] = []
    prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # luma, ab of output, ab of truth
    total = min(limit, total) if limit and total else (limit or total)
    bar = tqdm(total=total, unit="frame",
               desc=f"{name or colorizer.name} on {data}", disable=not progress, leave=False)
    for out, truth, (seconds, cpu) in timed_stream(colorizer, frames, keyframe=keyframe):
        luma, ab_out, ab_true = luma_of(truth), chroma_ab(out), chroma_ab(truth)
        row: dict[str, Any] = {"image": len(rows), **score_pair(out, truth), "seconds": seconds,
                               "cpu_seconds": cpu,
                               "warp_pred": math.nan, "warp_true": math.nan, "occluded": math.nan}
        if prev is not None:
            index = len(rows)
            moved = motions[index] if motions is not None and index in motions else motion(prev[0], luma)
            if motions is not None:
                motions[index] = moved
            row.update(warp_pred=warp_error(prev[1], ab_out, moved),
                       warp_true=warp_error(prev[2], ab_true, moved), occluded=moved.occluded_fraction)
        rows.append(row)
        prev = (luma, ab_out, ab_true)
        bar.update(1)
    bar.close()
    if len(rows) < 2:
        raise TinctError(f"{data or 'the video'}: {len(rows)} frame(s); the warping error needs at least 2")
    options = asdict(colorizer.options) if is_dataclass(colorizer.options) else {}
    return VideoReport(name or colorizer.name, data, rows, truth.shape[1], truth.shape[0],
                       options=options, keyframe=keyframe_truth)


def _prepend(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


@dataclass
class CutReport:
    """Result of :func:`cut_recovery`: per frame after the cut, the mean CIEDE2000 between the joined
    run and the second sequence alone (``to_alone``) and against the truth (``joined``, ``alone``)."""

    name: str
    first_frames: int
    rows: list[dict[str, float]]
    tolerance: float

    @property
    def recovery(self) -> int | None:
        """Frames after the cut until the output stays within ``tolerance`` of the B-alone run
        (0: at the cut itself); None if it never does."""
        for k in range(len(self.rows)):
            if all(r["to_alone"] <= self.tolerance for r in self.rows[k:]):
                return k
        return None


def cut_recovery(colorizer: Colorizer, first: Iterable[np.ndarray], second: Iterable[np.ndarray], *,
                 first_frames: int, second_frames: int, tolerance: float = 1.0) -> CutReport:
    """A scene cut: ``first_frames`` of ``first`` then ``second_frames`` of ``second`` as one stream.

    Args:
        colorizer: the method (one instance runs both streams; its frame state must be per stream).
        first, second: float ``(H, W, 3)`` RGB frames in [0, 1] of one size (re-iterable, e.g.
            :class:`tinct.io.FrameSource`; ``second`` is read twice).
        first_frames, second_frames: how many frames of each.
        tolerance: mean CIEDE2000 under which the joined output counts as recovered.

    Returns:
        A :class:`CutReport` with one row per frame of the second part.
    """
    joined = timed_stream(colorizer, _joined(first, second, first_frames, second_frames))
    alone = timed_stream(colorizer, islice(second, second_frames))
    for _ in range(first_frames):
        next(joined)
    rows = []
    for (out, truth, _), (ref, _, _) in zip(joined, alone, strict=True):
        de = metrics.mean_ciede2000
        rows.append({"to_alone": de(out, ref), "joined": de(out, truth), "alone": de(ref, truth)})
    return CutReport(colorizer.name, first_frames, rows, tolerance)


def _joined(first: Iterable[np.ndarray], second: Iterable[np.ndarray], n_first: int,
            n_second: int) -> Iterator[np.ndarray]:
    yield from islice(first, n_first)
    yield from islice(second, n_second)
