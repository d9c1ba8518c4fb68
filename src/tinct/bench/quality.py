"""The quality protocol: colour photos -> luma -> colorize -> compare with the original.

For every colour image of a folder (gray images are skipped and listed), the gray input is the
BT.601 luma of the original, the method colorizes it, and the prediction is scored against the
original with :func:`score_pair`: PSNR (RGB, data range 1), SSIM (RGB, mean over channels), mean
CIEDE2000 and the colourfulness (Hasler & Suesstrunk) of the prediction and of the ground truth.
The time of the ``colorize`` call is recorded per image.

Example::

    report = evaluate_quality("gray", "../shared/data/eval/kodak24", limit=4)
    print(report.to_markdown())
    report.to_json("docs/results/gray_kodak24.json")
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tinct import color, io, metrics
from tinct.bench.report import JsonReport, machine_info
from tinct.errors import TinctError
from tinct.hints import Hints
from tinct.registry import Colorizer, MissingInput, check_inputs, load_method
from tinct.weights import git_commit

PROTOCOL = ("tinct.bench.quality v1: gray = BT.601 luma of the original (8-bit files read as float in "
            "[0, 1]); prediction scored against the original: PSNR (RGB, data range 1), SSIM (Wang 2004, "
            "Gaussian 11x11 sigma 1.5, RGB, mean over channels), mean CIEDE2000, colourfulness "
            "(Hasler & Suesstrunk 2003) of prediction and ground truth; time = the colorize call")

METRICS = ("psnr", "ssim", "ciede2000", "colorfulness_pred", "colorfulness_gt")
"""Score names, in table order. Higher is better for PSNR and SSIM, lower for CIEDE2000."""

ReferenceFn = Callable[[Path, np.ndarray], np.ndarray | None]
HintsFn = Callable[[Path, np.ndarray, np.ndarray], Hints | None]


def score_pair(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Score one prediction against its ground truth.

    Args:
        pred: float ``(H, W, 3)`` RGB in [0, 1].
        gt: float ``(H, W, 3)`` RGB in [0, 1], the same size.

    Returns:
        ``{name: value}`` for every name in :data:`METRICS` (PSNR in dB, SSIM in [-1, 1],
        CIEDE2000 in Delta E units, colourfulness >= 0).
    """
    if pred.shape != gt.shape:
        raise TinctError(f"prediction is {_size(pred)} but the ground truth is {_size(gt)}")
    return {
        "psnr": float(metrics.psnr(pred, gt)),
        "ssim": float(metrics.ssim(pred, gt)),
        "ciede2000": float(metrics.mean_ciede2000(pred, gt)),
        "colorfulness_pred": float(metrics.colorfulness(pred)),
        "colorfulness_gt": float(metrics.colorfulness(gt)),
    }


def _size(img: np.ndarray) -> str:
    return f"{img.shape[1]}x{img.shape[0]}"


def mean_scores(rows: list[Mapping[str, Any]], keys: tuple[str, ...] = METRICS) -> dict[str, float]:
    """Arithmetic mean of each key over ``rows`` (PSNR is averaged in dB, as the papers do)."""
    if not rows:
        return {k: math.nan for k in keys}
    return {k: float(np.mean([float(r[k]) for r in rows])) for k in keys}


@dataclass
class QualityRow:
    """Scores of one image (see :func:`score_pair`) plus its size and the colorize time."""

    image: str
    width: int
    height: int
    psnr: float
    ssim: float
    ciede2000: float
    colorfulness_pred: float
    colorfulness_gt: float
    seconds: float


@dataclass
class QualityReport(JsonReport):
    """Result of :func:`evaluate_quality`: one row per image, their means and the run's context."""

    method: str
    dataset: str
    data_dir: str
    rows: list[QualityRow]
    options: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    protocol: str = PROTOCOL
    command: str | None = None  # the command line that produced the report, when run from the CLI

    def means(self) -> dict[str, float]:
        """Mean of every score and of ``seconds`` over the rows."""
        return mean_scores([asdict(r) for r in self.rows], (*METRICS, "seconds"))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: method, dataset, protocol, machine, per-image rows and means."""
        return {
            "method": self.method,
            "dataset": self.dataset,
            "data_dir": self.data_dir,
            "options": self.options,
            "protocol": self.protocol,
            "command": self.command,
            "commit": git_commit(),
            "n_images": len(self.rows),
            "skipped_gray_images": self.skipped,
            "machine": machine_info(),
            "mean": self.means(),
            "images": [asdict(r) for r in self.rows],
        }

    def to_markdown(self) -> str:
        """A Markdown table: one row per image, then the mean row in bold."""
        return markdown_table([asdict(r) for r in self.rows], QUALITY_COLUMNS, self.means())


Column = tuple[str, str, str]
"""A Markdown column: ``(key of the row dict, header, format spec)``, e.g.
``("psnr", "PSNR (dB)", ".2f")``."""

QUALITY_COLUMNS: tuple[Column, ...] = (
    ("psnr", "PSNR (dB)", ".2f"), ("ssim", "SSIM", ".4f"), ("ciede2000", "CIEDE2000", ".2f"),
    ("colorfulness_pred", "colourfulness pred", ".1f"), ("colorfulness_gt", "colourfulness GT", ".1f"),
    ("seconds", "time (s)", ".3f"))


def markdown_table(rows: list[Mapping[str, Any]], columns: tuple[Column, ...], mean: Mapping[str, Any] | None,
                   *, name_key: str = "image") -> str:
    """A Markdown table: ``rows[i][name_key]`` then one right-aligned cell per column, and, if
    ``mean`` is given and there are rows, a last row ``**mean**`` in bold."""
    lines = ["| " + " | ".join([name_key, *(h for _, h, _ in columns)]) + " |",
             "|---|" + "---:|" * len(columns)]
    lines += [_md_row(str(r[name_key]), r, columns) for r in rows]
    if mean is not None and rows:
        lines.append(_md_row("**mean**", mean, columns, bold=True))
    return "\n".join(lines)


def _md_row(name: str, v: Mapping[str, Any], columns: tuple[Column, ...], *, bold: bool = False) -> str:
    cells = [format(v[key], spec) for key, _, spec in columns]
    if bold:
        cells = [f"**{c}**" for c in cells]
    return "| " + " | ".join([name, *cells]) + " |"


def evaluate_quality(
    method: str | Colorizer,
    data_dir: str | Path,
    *,
    limit: int | None = None,
    options: Mapping[str, Any] | None = None,
    reference_fn: ReferenceFn | None = None,
    hints_fn: HintsFn | None = None,
    progress: bool = True,
) -> QualityReport:
    """Run the quality protocol of this module on every colour image of ``data_dir``.

    Args:
        method: a registry name (loaded once with ``options``) or a ready :class:`Colorizer`.
        data_dir: folder of colour images (sorted by name; gray images are skipped).
        limit: score only the first ``limit`` colour images.
        options: keyword options for :func:`tinct.load_method` (only with a name).
        reference_fn: ``(path, gt_rgb) -> reference RGB (H', W', 3) in [0, 1]`` for methods that
            need a reference; required for them.
        hints_fn: ``(path, gt_rgb, gray) -> Hints`` for methods that need hints; required for them.
        progress: show a progress bar on stderr.

    Returns:
        A :class:`QualityReport`.
    """
    options = dict(options or {})
    if isinstance(method, Colorizer):
        if options:
            raise TinctError("options can only be given with a method name, not a loaded Colorizer")
        colorizer = method
    else:
        colorizer = load_method(method, **options)
    given = {k for k, fn in (("reference", reference_fn), ("hints", hints_fn)) if fn is not None}
    try:
        check_inputs(colorizer.name, colorizer.needs, colorizer.accepts, given)
    except MissingInput as exc:
        raise TinctError(f"{exc}; the quality protocol needs a {exc.kind}_fn for it") from None
    options = asdict(colorizer.options) if is_dataclass(colorizer.options) else options
    if limit is not None and limit < 1:
        raise TinctError(f"limit must be at least 1, got {limit}")
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise TinctError(f"{data_dir} is not a folder of images")
    paths = io.list_images(data_dir)
    if not paths:
        raise TinctError(f"{data_dir} contains no images")

    rows: list[QualityRow] = []
    skipped: list[str] = []
    bar = tqdm(total=limit or len(paths), desc=f"{colorizer.name} on {data_dir.name}", unit="img",
               disable=not progress, leave=False)
    for path in paths:
        if limit is not None and len(rows) >= limit:
            break
        gt = io.read_rgb(path)
        if not io.is_color(gt):
            skipped.append(Path(path).name)
            continue
        rows.append(_score_one(colorizer, Path(path), gt, reference_fn, hints_fn))
        bar.update(1)
    bar.close()
    if not rows:
        raise TinctError(f"{data_dir} contains no colour images to score")
    return QualityReport(method=colorizer.name, dataset=data_dir.name, data_dir=str(data_dir), rows=rows,
                         options=options, skipped=skipped)


def _score_one(colorizer: Colorizer, path: Path, gt: np.ndarray, reference_fn: ReferenceFn | None,
               hints_fn: HintsFn | None) -> QualityRow:
    gray = color.rgb_to_luma(gt).astype(np.float32)
    reference = reference_fn(path, gt) if reference_fn is not None else None
    hints = hints_fn(path, gt, gray) if hints_fn is not None else None
    start = time.perf_counter()
    pred = colorizer.colorize(gray, reference=reference, hints=hints)
    seconds = time.perf_counter() - start
    scores = score_pair(pred, gt)
    return QualityRow(image=path.name, width=gt.shape[1], height=gt.shape[0], seconds=seconds, **scores)


# --- scoring a folder of predictions against a folder of ground truths (``tinct eval``) ---

def pair_by_stem(preds: list[Path], gts: list[Path]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Pair prediction files with ground-truth files by file stem.

    Rule: a prediction matches the ground truth with the same stem, or, failing that, the one
    whose stem is left after removing trailing ``_<suffix>`` parts (``kodim01_deepcolor.png``
    and ``kodim01_deepcolor_v2.png`` both match ``kodim01.png``); the longest such stem wins.
    Extensions are ignored. A ground truth matched by several predictions is ambiguous.

    Returns:
        ``(pairs, problems)``: ``(pred, gt)`` pairs in ground-truth order, and one-line
        descriptions of ambiguous matches (those ground truths are left out).
    """
    by_stem: dict[str, Path] = {}
    problems: list[str] = []
    duplicated: set[str] = set()
    for gt in gts:
        if gt.stem in by_stem and gt.stem not in duplicated:
            duplicated.add(gt.stem)
            problems.append(f"{gt.parent}: several ground-truth files have the stem '{gt.stem}'; skipped")
        by_stem[gt.stem] = gt
    matched: dict[str, list[Path]] = {}
    for pred in preds:
        parts = pred.stem.split("_")
        for n in range(len(parts), 0, -1):
            stem = "_".join(parts[:n])
            if stem in by_stem:
                matched.setdefault(stem, []).append(pred)
                break
    pairs: list[tuple[Path, Path]] = []
    for gt in gts:
        if gt.stem in duplicated:
            continue
        cands = matched.get(gt.stem, [])
        exact = [p for p in cands if p.stem == gt.stem]
        if len(cands) == 1 or len(exact) == 1:
            pairs.append(((exact or cands)[0], gt))
        elif len(cands) > 1:
            names = ", ".join(p.name for p in cands)
            problems.append(f"{gt}: matched by several predictions ({names}); put each method's results in "
                            "its own folder")
    return pairs, problems


@dataclass
class PairScores:
    """Scores of the predictions of one folder (``tinct eval``)."""

    rows: list[dict[str, Any]]
    errors: list[str]
    unmatched_preds: list[str]
    unmatched_gts: list[str]

    def means(self) -> dict[str, float]:
        """Mean of every score over the scored pairs."""
        return mean_scores(self.rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the protocol, the per-image rows, the means and the problems."""
        return {"protocol": PROTOCOL, "n_pairs": len(self.rows), "mean": self.means(), "images": self.rows,
                "errors": self.errors, "unmatched_predictions": self.unmatched_preds,
                "unmatched_ground_truths": self.unmatched_gts}


def evaluate_folders(pred_dir: str | Path, gt_dir: str | Path) -> PairScores:
    """Score every prediction of ``pred_dir`` against its ground truth in ``gt_dir``.

    Files are paired with :func:`pair_by_stem`. A pair whose sizes differ, or a file that
    cannot be read, is reported in ``errors`` and skipped; the others are still scored.
    Raises :class:`TinctError` when a folder is missing or no file pairs up.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    for d, what in ((pred_dir, "prediction"), (gt_dir, "ground-truth")):
        if not d.is_dir():
            raise TinctError(f"{d} is not a folder ({what} folder expected)")
    preds, gts = [Path(p) for p in io.list_images(pred_dir)], [Path(p) for p in io.list_images(gt_dir)]
    pairs, errors = pair_by_stem(preds, gts)
    if not pairs:
        raise TinctError(f"no prediction in {pred_dir} ({len(preds)} images) matches a ground truth in "
                         f"{gt_dir} ({len(gts)} images) by file stem")
    paired_preds = {p for p, _ in pairs}
    paired_gts = {g for _, g in pairs}
    rows: list[dict[str, Any]] = []
    for pred_path, gt_path in pairs:
        try:
            pred, gt = io.read_rgb(pred_path), io.read_rgb(gt_path)
            if pred.shape != gt.shape:
                raise TinctError(f"prediction is {_size(pred)} but the ground truth {gt_path.name} is "
                                 f"{_size(gt)}")
            rows.append({"image": gt_path.name, "prediction": pred_path.name, **score_pair(pred, gt)})
        except TinctError as exc:
            errors.append(f"{pred_path}: {exc}")
    return PairScores(rows=rows, errors=errors,
                      unmatched_preds=[p.name for p in preds if p not in paired_preds],
                      unmatched_gts=[g.name for g in gts if g not in paired_gts])
