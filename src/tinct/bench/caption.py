"""The caption protocol (``tinct bench caption``): does the caption help, and does it steer?

Held-out images: Stanford Background's ``split_val`` (true region labels; never trained on, also
not by fusion's weights) and, optionally, the COCO captions subset (images whose captions hold a
colour word; no regions). For each image the gray input is the BT.601 luma of the original, and
the caption is the first synthesized caption of its true regions (:func:`caption_plans`; COCO: the
first human caption with a colour word). Every score is also measured with the empty caption
(``*_empty``), so the caption's own effect is visible.

- **ab accuracy@k** (Manjunatha et al.'s ab accuracy): at the network's output resolution (half of
  the working size), the ground-truth bin of a pixel is the in-gamut ab bin nearest to the 2x2
  mean of the original's Lab ab; a pixel counts if that bin is among the ``k`` most probable bins
  of the network's distribution (its raw logits: no prior correction and no guidance, so the accuracy
  does not depend on the decoding and every conditioning is scored on the same footing). Pooled over
  all pixels of all images: ``acc@k = hits / pixels``. Needs a colorizer with ``network_outputs``
  (the ``caption`` method); others get NaN.
- **ΔE00 in the named regions**: CIEDE2000 of the output (full pipeline) against the original,
  averaged over the pixels of the regions the caption names, then over images; ``de_image``: over
  all pixels.
- **manipulation rate**: the colour word of the largest named region is replaced by ``swaps``
  other basic colour words (a deterministic draw per image); a swap succeeds when the output's
  median Lab over that region is named the requested word (:func:`name_color`). Chance is about
  1/11. The luma is kept, so some words cannot name a region of those lumas (a black sky, a
  colourful patch of clipped highlights): ``manip_reachable`` counts only the swaps whose word an
  oracle can make the region show through the methods' own output pipeline
  (:func:`tinct.bench.obeyable.obeyable_words`), and ``manip_ceiling`` is their share of all swaps,
  the best any luma-keeping method can score. (v1 called a word reachable when its prototype's
  chroma at the region's median L was named that word; that ignored the per-pixel gamut and counted
  342 of Stanford val's 429 swaps where the oracle finds 304.)
  **Locality**: ``swap_de_in`` / ``swap_de_out`` are the mean CIEDE2000 between the swapped output
  and the true caption's output inside the region and outside it; a model that obeys the word
  by tinting the whole picture has ``swap_de_out`` close to ``swap_de_in``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from tinct import metrics
from tinct.bench.obeyable import obeyable_words
from tinct.bench.report import JsonReport, machine_info
from tinct.color import rgb_to_lab, rgb_to_luma
from tinct.data.captions import ALIASES, CaptionPlan, caption_plans, caption_rng, render
from tinct.data.color_names import COLOR_WORDS, Region, image_regions, name_color
from tinct.errors import TinctError
from tinct.registry import Colorizer
from tinct.weights import git_commit

PROTOCOL = ("tinct.bench.caption v2: gray = BT.601 luma; caption = first synthesized caption of the true "
            "regions (COCO: first human caption with a colour word); acc@k pooled over pixels at the "
            "network's half working size, truth = nearest in-gamut bin to the 2x2-mean ab; ΔE00 (CIEDE2000) "
            "over the named regions' pixels, mean over images; manipulation = largest named region's word "
            "swapped, success if the output's region median Lab is named that word; reachable = some "
            "constant chroma request composed with the region's lumas is named that word (obeyable_words)")


@dataclass
class Case:
    """One held-out image: float32 RGB ``(H, W, 3)`` in [0, 1], uint8 labels ``(H, W)`` (None for
    COCO), its regions, caption and the caption's plan (None for a human caption)."""

    name: str
    rgb: np.ndarray
    labels: np.ndarray | None
    regions: list[Region]
    caption: str
    plan: CaptionPlan | None = None


def stanford_cases(root: str | Path, *, split: str = "val", limit: int | None = None) -> list[Case]:
    """Stanford Background ``split`` images (at full size, 320x240) with their first caption."""
    from tinct.data.stanford_background import load_split, split_ids

    images, labels = load_split(root, split, scale=1.0, limit=limit)
    cases = [_captioned(f"{ident}.jpg", rgb, lab)
             for ident, rgb, lab in zip(split_ids(root, split), images, labels, strict=False)]
    return [c for c in cases if c is not None]


def _captioned(name: str, rgb: np.ndarray, labels: np.ndarray) -> Case | None:
    """A case with the first synthesized caption of its regions (None when no region is large enough)."""
    regions = image_regions(rgb_to_lab(rgb), labels)
    if not regions:
        return None
    text, plan = caption_plans(name, regions, 1)[0]
    return Case(name, rgb, labels, regions, text, plan)


def photo_cases(folders: list[str | Path], *, cache: str | Path | None = None, limit: int | None = None
                ) -> list[Case]:
    """The held-out photos of ``folders`` (the 1-in-10 hash split ``tinct train caption`` keeps out),
    labelled by the scene parser (``cache``: a run's ``parser_labels.npz``), with their first caption:
    a tuning set for decodings, apart from Stanford val, whose labels are true."""
    from tinct.methods.caption.data import load_parsed

    cases = [_captioned(p.name, p.rgb.astype(np.float32) / 255.0, p.labels)
             for p in load_parsed(list(folders), "val", limit=limit, cache=cache)]
    return [c for c in cases if c is not None]


def coco_cases(root: str | Path, *, limit: int | None = None) -> list[Case]:
    """COCO subset images whose captions hold a basic colour word, with the first such caption."""
    from tinct.io import read_rgb

    root = Path(root)
    index = root / "captions.json"
    if not index.is_file():
        raise TinctError(f"{index} not found (the COCO captions subset: captions.json + images/)")
    words = set(COLOR_WORDS) | set(ALIASES)
    cases = []
    for file_name, rec in sorted(json.loads(index.read_text()).items()):
        with_color = [c for c in rec["captions"] if words & set(c.lower().replace(".", " ").split())]
        if with_color:
            cases.append(Case(file_name, read_rgb(root / "images" / file_name), None, [], with_color[0]))
        if limit and len(cases) >= limit:
            break
    return cases


def true_bins(ab: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Index ``(N, h, w)`` of the bin centre ``(Q, 2)`` nearest to each ab of ``(N, 2, h, w)``."""
    d = ((ab[:, None] - centers[None, :, :, None, None]) ** 2).sum(dim=2)
    return d.argmin(dim=1)


def topk_hits(logits: torch.Tensor, truth: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> dict[int, int]:
    """``{k: number of pixels whose true bin is among the k largest logits}`` for logits
    ``(N, Q, h, w)`` and true bin indices ``(N, h, w)``."""
    top = logits.topk(max(ks), dim=1).indices  # (N, K, h, w), best first
    hit = top == truth[:, None]
    return {k: int(hit[:, :k].any(dim=1).sum()) for k in ks}


def _accuracy_counts(colorizer: Any, case: Case, caption: str | None) -> dict[str, int]:
    """Pixel hits for acc@1 and acc@5 and the pixel count (NaN-free ints; empty without logits)."""
    if not hasattr(colorizer, "network_outputs"):
        return {}
    gray = colorizer.working_gray(rgb_to_luma(case.rgb).astype(np.float32))
    h, w = gray.shape
    rgb = case.rgb if (h, w) == case.rgb.shape[:2] else _resize(case.rgb, (w, h))
    ab = torch.from_numpy(rgb_to_lab(rgb)[..., 1:].transpose(2, 0, 1).copy()).float()[None]
    ab = F.avg_pool2d(ab, 2)
    logits, _ = colorizer.network_outputs(gray, caption, guidance=1.0)  # raw: independent of decoding
    logits = logits[..., :ab.shape[-2], :ab.shape[-1]].float()
    hits = topk_hits(logits, true_bins(ab, colorizer.bins["centers"]))
    return {"hits1": hits[1], "hits5": hits[5], "pixels": int(ab.shape[-2] * ab.shape[-1])}


def _resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _mean_de(pred_lab: np.ndarray, true_lab: np.ndarray, mask: np.ndarray | None = None) -> float:
    de = metrics.ciede2000(pred_lab, true_lab)
    if mask is not None:
        if not mask.any():
            return float("nan")
        de = de[mask]
    return float(de.mean())


def score_case(colorizer: Colorizer, case: Case, *, swaps: int = 3) -> dict[str, Any]:
    """Every score of one image (see the module docstring); counts for pooled accuracies."""
    gray = rgb_to_luma(case.rgb).astype(np.float32)
    true_lab = rgb_to_lab(case.rgb)
    named = (np.isin(case.labels, list(case.plan.regions)) if case.labels is not None and case.plan
             else None)
    row: dict[str, Any] = {"image": case.name, "caption": case.caption}
    outputs = {}
    for suffix, caption in (("", case.caption), ("_empty", None)):
        pred_lab = outputs[suffix] = rgb_to_lab(colorizer.colorize(gray, caption=caption))
        row[f"de_image{suffix}"] = _mean_de(pred_lab, true_lab)
        if named is not None:
            row[f"de_regions{suffix}"] = _mean_de(pred_lab, true_lab, named)
        row.update({f"{k}{suffix}": v for k, v in _accuracy_counts(colorizer, case, caption).items()})
    if case.plan is not None and case.labels is not None and swaps > 0:
        row["swaps"] = _manipulate(colorizer, case, gray, swaps, outputs[""])
    return row


def _manipulate(colorizer: Colorizer, case: Case, gray: np.ndarray, swaps: int,
                base_lab: np.ndarray) -> list[dict[str, Any]]:
    """The largest named region's word swapped ``swaps`` times: requested, obtained, reachable, and
    how far the output moved (ΔE00 against ``base_lab``, the output with the true caption) inside the
    region and outside it (``de_in``, ``de_out``)."""
    assert case.plan is not None and case.labels is not None
    words = {r.label: r.word for r in case.regions}
    target = max(case.plan.regions, key=lambda k: next(r.fraction for r in case.regions if r.label == k))
    mask = case.labels == target
    others = [w for w in COLOR_WORDS if w != words[target]]
    rng = caption_rng(case.name, salt=1)
    showable = obeyable_words(case.rgb, mask)
    out = []
    for word in rng.choice(others, size=min(swaps, len(others)), replace=False):
        text = render(case.plan, {**words, target: str(word)})
        lab = rgb_to_lab(colorizer.colorize(gray, caption=text))
        got = np.median(lab[mask], axis=0)
        moved = metrics.ciede2000(lab, base_lab)
        out.append({"region": int(target), "from": words[target], "to": str(word), "got": name_color(got),
                    "reachable": str(word) in showable, "caption": text,
                    "de_in": float(moved[mask].mean()),
                    "de_out": float(moved[~mask].mean()) if (~mask).any() else float("nan")})
    return out


@dataclass
class CaptionReport(JsonReport):
    """Rows per image of each dataset, their summaries, and the run's context."""

    method: str
    rows: dict[str, list[dict[str, Any]]]
    options: dict[str, Any] = field(default_factory=dict)
    command: str | None = None
    protocol: str = PROTOCOL

    def summary(self) -> dict[str, dict[str, float]]:
        """Per dataset: acc@1/@5 (caption and empty, %), ΔE00 means, manipulation rates (%)."""
        return {name: summarize(rows) for name, rows in self.rows.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "options": self.options, "protocol": self.protocol,
                "command": self.command, "commit": git_commit(),
                "machine": machine_info(),
                "summary": self.summary(), "images": self.rows}

    def to_markdown(self) -> str:
        cols = [("images", "images", "d"), ("acc1", "acc@1 %", ".1f"), ("acc5", "acc@5 %", ".1f"),
                ("acc1_empty", "acc@1 empty %", ".1f"), ("acc5_empty", "acc@5 empty %", ".1f"),
                ("de_regions", "ΔE00 regions", ".2f"), ("de_regions_empty", "ΔE00 regions empty", ".2f"),
                ("de_image", "ΔE00 image", ".2f"), ("de_image_empty", "ΔE00 image empty", ".2f"),
                ("manip", "manip. %", ".1f"), ("manip_ceiling", "manip. ceiling %", ".1f"),
                ("manip_reachable", "manip. reachable %", ".1f"),
                ("swap_de_in", "swap ΔE00 in", ".2f"), ("swap_de_out", "swap ΔE00 out", ".2f")]
        lines = ["| data | " + " | ".join(h for _, h, _ in cols) + " |", "|---|" + "---:|" * len(cols)]
        for name, s in self.summary().items():
            cells = ["–" if s.get(k) is None or s[k] != s[k] else format(s[k], f) for k, _, f in cols]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def summarize(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Pooled accuracies (% of pixels), mean ΔE00s, manipulation rates (% of swaps) of ``rows``."""
    def pooled(key: str, suffix: str) -> float:
        pixels = sum(r.get(f"pixels{suffix}", 0) for r in rows)
        return 100.0 * sum(r.get(f"{key}{suffix}", 0) for r in rows) / pixels if pixels else float("nan")

    def mean(key: str) -> float:
        vals = [r[key] for r in rows if key in r and r[key] == r[key]]
        return float(np.mean(vals)) if vals else float("nan")

    swaps = [s for r in rows for s in r.get("swaps", [])]
    near = [s for s in swaps if s["reachable"]]

    def rate(ss: list[dict[str, Any]]) -> float:
        return 100.0 * sum(s["got"] == s["to"] for s in ss) / len(ss) if ss else float("nan")

    out = {"images": len(rows), "acc1": pooled("hits1", ""), "acc5": pooled("hits5", ""),
           "acc1_empty": pooled("hits1", "_empty"), "acc5_empty": pooled("hits5", "_empty"),
           "manip": rate(swaps), "manip_reachable": rate(near), "swaps": len(swaps),
           "swaps_reachable": len(near),
           "manip_ceiling": 100.0 * len(near) / len(swaps) if swaps else float("nan")}
    for key in ("de_regions", "de_regions_empty", "de_image", "de_image_empty"):
        out[key] = mean(key)
    for key in ("de_in", "de_out"):  # how far a swap moved the output inside / outside its region
        vals = [s[key] for s in swaps if key in s and s[key] == s[key]]
        out[f"swap_{key}"] = float(np.mean(vals)) if vals else float("nan")
    return out


def evaluate_caption(colorizer: Colorizer, *, stanford: str | Path | None = None,
                     coco: str | Path | None = None, limit: int | None = None, swaps: int = 3,
                     photos: list[Case] | None = None, progress: bool = False) -> CaptionReport:
    """Run the protocol on Stanford Background val (``stanford`` folder), the COCO subset and/or
    ``photos`` (:func:`photo_cases`, scored as ``photos_dev`` with swaps)."""
    if "caption" not in colorizer.accepts | colorizer.needs:
        raise TinctError(f"method '{colorizer.name}' does not use a caption; tinct bench caption scores "
                         "caption-steered methods (e.g. --method caption)")
    if stanford is None and coco is None and not photos:
        raise TinctError("give --stanford DIR and/or --coco DIR")
    datasets = {}
    if stanford is not None:
        datasets["stanford_val"] = stanford_cases(stanford, limit=limit)
    if coco is not None:
        datasets["coco_color"] = coco_cases(coco, limit=limit)
    if photos:
        datasets["photos_dev"] = photos
    rows: dict[str, list[dict[str, Any]]] = {}
    for name, cases in datasets.items():
        n_swaps = 0 if name == "coco_color" else swaps
        rows[name] = [score_case(colorizer, c, swaps=n_swaps)
                      for c in tqdm(cases, desc=name, disable=not progress, leave=False)]
    options = asdict(colorizer.options) if is_dataclass(colorizer.options) else {}
    return CaptionReport(colorizer.name, rows, options)
