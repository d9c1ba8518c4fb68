"""The paired protocol: one input band per scene, its true colour in a separate file (issue 16).

Near-infrared colorization is scored this way: the input file (a NIR band) is read as one band
(:func:`tinct.io.read_gray`, float [0, 1]), a method colours it, and the prediction is compared
with the scene's RGB photo (:func:`score_paired`): PSNR, SSIM (RGB, as :mod:`tinct.bench.quality`),
AE (the mean RGB angle in degrees, :func:`tinct.metrics.angular_error`), mean CIEDE2000, the
colourfulness of prediction and truth, and PSNR / SSIM / AE / CIEDE2000 again after the integer
shift within ±``align_radius`` px that minimizes the MSE (:func:`tinct.metrics.aligned_pair`;
scored on the overlap), because the EPFL RGB-NIR pairs are not perfectly registered. The
aligned scores are optimistic by construction (the best of (2R + 1)^2 shifts per image).

Files are paired by the text that the one ``*`` of each glob captures (:func:`match_globs`):
``--inputs 'd/*_nir.jpg' --truth 'd/*_rgb.jpg'`` pairs ``d/a_nir.jpg`` with ``d/a_rgb.jpg``.
A pair whose sizes differ is refused (the truth is not resampled silently) unless
``resize_truth`` is set, which resizes the truth to the input's size (area interpolation, as
:func:`tinct.data.nir.load_pair` does).

Example::

    pairs, _ = match_globs("../shared/data/nir/epfl_country_test/*_nir.jpg",
                           "../shared/data/nir/epfl_country_test/*_rgb.jpg")
    report = evaluate_pairs(tinct.load_method("gray").colorize, pairs, name="gray")
    print(report.to_markdown())
"""

from __future__ import annotations

import glob
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from tinct import io, metrics
from tinct.bench.quality import Column, markdown_table, mean_scores, score_pair
from tinct.bench.report import JsonReport, machine_info
from tinct.data.nir import NirPair
from tinct.errors import TinctError
from tinct.weights import git_commit

PROTOCOL = ("tinct.bench.pairs v1: input = one band (tinct.io.read_gray of the input file, float [0, 1]); "
            "prediction = colorize(band), scored against the truth RGB file of the same size: PSNR (RGB, "
            "data range 1), SSIM (Wang 2004, Gaussian 11x11 sigma 1.5, RGB, mean over channels), AE (mean "
            "angle between RGB vectors, degrees, eps 1e-6 per channel), mean CIEDE2000, colourfulness "
            "(Hasler & Suesstrunk 2003) of prediction and truth; *_aligned: the same four on the overlap "
            "after the integer shift within +-R px that minimizes the RGB MSE; time = the colorize call")

ALIGNED = ("psnr", "ssim", "ae", "ciede2000")
"""The scores measured again after alignment, as ``<name>_aligned``."""

PAIR_METRICS = ("psnr", "ssim", "ae", "ciede2000", "colorfulness_pred", "colorfulness_gt",
                *(f"{k}_aligned" for k in ALIGNED))
"""Score names, in table order. Higher is better for PSNR and SSIM, lower for AE and CIEDE2000."""

PAIR_COLUMNS: tuple[Column, ...] = (
    ("psnr", "PSNR (dB)", ".2f"), ("ssim", "SSIM", ".4f"), ("ae", "AE (deg)", ".2f"),
    ("ciede2000", "CIEDE2000", ".2f"), ("colorfulness_pred", "colourful pred", ".1f"),
    ("colorfulness_gt", "colourful GT", ".1f"), ("psnr_aligned", "PSNR al.", ".2f"),
    ("ssim_aligned", "SSIM al.", ".4f"), ("ae_aligned", "AE al.", ".2f"),
    ("ciede2000_aligned", "CIEDE2000 al.", ".2f"),
    ("shift", "shift dy,dx", "s"), ("seconds", "time (s)", ".3f"))

ColorizeFn = Callable[[np.ndarray], np.ndarray]
"""A band float32 ``(H, W)`` in [0, 1] -> RGB float ``(H, W, 3)`` in [0, 1] (e.g. ``Colorizer.colorize``)."""


def score_paired(pred: np.ndarray, truth: np.ndarray, align_radius: int = 4) -> dict[str, Any]:
    """Score one prediction against its truth, plainly and after the best alignment.

    Args:
        pred, truth: float ``(H, W, 3)`` RGB in [0, 1] of the same size, more than
            ``2 * align_radius + 10`` px on each side.
        align_radius: the largest shift tried (0: the aligned scores equal the plain ones).

    Returns:
        ``{name: float}`` for every name in :data:`PAIR_METRICS`, plus ``dy``, ``dx`` (the shift
        in :mod:`tinct.metrics_align`'s convention) and ``shift`` (``"dy,dx"`` text).
    """
    scores: dict[str, Any] = {**score_pair(pred, truth), "ae": metrics.angular_error(pred, truth)}
    p, t, (dy, dx) = metrics.aligned_pair(pred, truth, align_radius)
    aligned = {**score_pair(p, t), "ae": metrics.angular_error(p, t)}
    scores.update({f"{k}_aligned": aligned[k] for k in ALIGNED})
    return {**{k: scores[k] for k in PAIR_METRICS}, "dy": dy, "dx": dx, "shift": f"{dy:+d},{dx:+d}"}


# --- pairing files ---

def _capture_regex(pattern: str, option: str) -> re.Pattern[str]:
    if pattern.count("*") != 1 or any(c in pattern for c in "?["):
        raise TinctError(f"{option} {pattern!r}: give a glob with exactly one '*' (no '?' or '['), e.g. "
                         "'DIR/*_nir.jpg'; the text it matches pairs the files")
    head, tail = pattern.split("*")
    return re.compile(re.escape(head) + "([^/]*)" + re.escape(tail) + r"\Z")


def _glob_captures(pattern: str, option: str) -> dict[str, Path]:
    pattern = os.path.expanduser(pattern)
    regex = _capture_regex(pattern, option)
    found = {}
    for match in sorted(glob.glob(pattern)):
        m = regex.match(match)
        if m is not None and os.path.isfile(match):
            found[m.group(1)] = Path(match)
    if not found:
        raise TinctError(f"{option} {pattern!r} matches no file")
    return found


def _few(names: Sequence[str], n: int = 5) -> str:
    return ", ".join(names[:n]) + (f" ... ({len(names)} in all)" if len(names) > n else "")


def match_globs(inputs: str, truth: str) -> tuple[list[NirPair], list[str]]:
    """Pair the files of two one-``*`` globs by the text the ``*`` captures.

    Args:
        inputs: glob of the input bands, e.g. ``"DIR/*_nir.jpg"``.
        truth: glob of the true colour images, e.g. ``"DIR/*_rgb.jpg"``.

    Returns:
        ``(pairs, unused_truth)``: :class:`~tinct.data.nir.NirPair` (``key`` = the captured text,
        ``nir`` = the input file, ``rgb`` = the truth) sorted by key, and the names of truth files
        no input matches (allowed: a subset of a folder may be scored).

    Raises:
        TinctError: a glob without exactly one ``*``, a glob matching nothing, no common key, or
            an input without a truth (one line naming a few of them).
    """
    ins, gts = _glob_captures(inputs, "--inputs"), _glob_captures(truth, "--truth")
    common = sorted(ins.keys() & gts.keys())
    if not common:
        raise TinctError(f"no input matches a truth file: the '*' of {inputs!r} captured "
                         f"{_few(sorted(ins))!r}, that of {truth!r} captured {_few(sorted(gts))!r}")
    missing = sorted(k for k in ins if k not in gts)
    if missing:
        raise TinctError(f"{len(missing)} input(s) have no truth file matching {truth!r}: "
                         f"{_few([ins[k].name for k in missing])}")
    unused = [gts[k].name for k in sorted(gts) if k not in ins]
    return [NirPair(k, ins[k], gts[k]) for k in common], unused


def read_pair(pair: NirPair, *, resize_truth: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The input band float32 ``(H, W)`` and the truth RGB float32 ``(H, W, 3)``, both in [0, 1].

    A truth of another size is refused (:class:`TinctError`) unless ``resize_truth``: then it is
    resized to the input's size with area interpolation.
    """
    band, truth = io.read_gray(pair.nir), io.read_rgb(pair.rgb)
    if truth.shape[:2] != band.shape:
        if not resize_truth:
            raise TinctError(f"{pair.nir} is {band.shape[1]}x{band.shape[0]} but its truth {pair.rgb.name} "
                             f"is {truth.shape[1]}x{truth.shape[0]}; register the pair or pass "
                             "--resize-truth")
        truth = cv2.resize(truth, band.shape[::-1], interpolation=cv2.INTER_AREA)
    return band.astype(np.float32, copy=False), truth.astype(np.float32, copy=False)


# --- the report ---

@dataclass
class PairsReport(JsonReport):
    """Result of :func:`evaluate_pairs`: one row per pair (``image`` = key, the two file names,
    size, :data:`PAIR_METRICS`, ``dy``, ``dx``, ``shift``, ``seconds``), their means and the context."""

    name: str
    rows: list[dict[str, Any]]
    align_radius: int
    data: dict[str, str] = field(default_factory=dict)  # e.g. {"inputs": glob, "truth": glob} or a split
    options: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    protocol: str = PROTOCOL
    command: str | None = None

    def means(self) -> dict[str, float]:
        """Mean of every score, of ``|dy|``, ``|dx|`` and of ``seconds`` over the rows."""
        rows = [{**r, "abs_dy": abs(r["dy"]), "abs_dx": abs(r["dx"])} for r in self.rows]
        return mean_scores(rows, (*PAIR_METRICS, "abs_dy", "abs_dx", "seconds"))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: method, data, protocol, command, machine, means and per-pair rows."""
        return {"method": self.name, "data": self.data, "options": self.options, "protocol": self.protocol,
                "align_radius": self.align_radius, "command": self.command, "commit": git_commit(),
                "n_pairs": len(self.rows), "notes": self.notes,
                "machine": machine_info(),
                "mean": self.means(), "images": self.rows}

    def to_markdown(self) -> str:
        """A Markdown table: one row per pair, then the means in bold (shift: mean |dy|,|dx|)."""
        means = self.means()
        means["shift"] = f"{means['abs_dy']:.1f},{means['abs_dx']:.1f}" if self.rows else ""
        return markdown_table(self.rows, PAIR_COLUMNS, means)

    def markdown_document(self) -> str:
        """A Markdown file: title, command, data, protocol, notes and :meth:`to_markdown`."""
        data = ", ".join(f"{k} `{v}`" for k, v in self.data.items()) or "-"
        lines = [f"# {self.name}: paired protocol ({len(self.rows)} pairs)", "",
                 f"Command: `{self.command or '(from Python)'}`", "", f"Data: {data}", "",
                 f"Protocol: {self.protocol} (R = {self.align_radius}).", ""]
        lines += [f"Note: {n}" for n in self.notes] + ([""] if self.notes else [])
        return "\n".join([*lines, self.to_markdown(), ""])


def evaluate_pairs(colorize_fn: ColorizeFn, pairs: Sequence[NirPair], align_radius: int = 4, *,
                   name: str = "method", limit: int | None = None, resize_truth: bool = False,
                   progress: bool = False) -> PairsReport:
    """Score any ``band -> RGB`` callable on paired files with this module's protocol.

    Args:
        colorize_fn: float32 ``(H, W)`` in [0, 1] -> float ``(H, W, 3)`` in [0, 1].
        pairs: the scenes (``nir`` = input file, ``rgb`` = truth file), e.g.
            :func:`tinct.data.nir.nir_split` or :func:`match_globs`.
        align_radius: the largest shift tried by the aligned scores (>= 0).
        name: the method's name in the report.
        limit: score only the first ``limit`` pairs.
        resize_truth: resize a truth of another size to the input's (default: refuse it).
        progress: show a progress bar on stderr.

    Returns:
        A :class:`PairsReport` (``data`` and ``command`` are for the caller to fill in).

    Raises:
        TinctError: no pairs, a bad ``limit`` / ``align_radius``, an unreadable file, sizes that
            differ, a prediction of the wrong shape; stops at the first such pair.
    """
    if limit is not None and limit < 1:
        raise TinctError(f"limit must be at least 1, got {limit}")
    if align_radius < 0:
        raise TinctError(f"the alignment radius must be >= 0 px, got {align_radius}")
    pairs = list(pairs)[:limit]
    if not pairs:
        raise TinctError("no pairs to score")
    rows = []
    for pair in tqdm(pairs, desc=name, unit="pair", disable=not progress, leave=False):
        band, truth = read_pair(pair, resize_truth=resize_truth)
        if 2 * align_radius + 11 > min(band.shape):
            raise TinctError(f"{pair.nir} is {band.shape[1]}x{band.shape[0]}, too small to score with an "
                             f"alignment radius of {align_radius} px (needs {2 * align_radius + 11} px a "
                             "side)")
        start = time.perf_counter()
        pred = np.asarray(colorize_fn(band), dtype=np.float32)
        seconds = time.perf_counter() - start
        if pred.shape != truth.shape:
            raise TinctError(f"{name} returned shape {pred.shape} for {pair.nir.name}, expected "
                             f"{truth.shape}")
        rows.append({"image": pair.key, "input": pair.nir.name, "truth": pair.rgb.name,
                     "width": band.shape[1], "height": band.shape[0],
                     **score_paired(pred, truth, align_radius), "seconds": seconds})
    return PairsReport(name=name, rows=rows, align_radius=align_radius)
