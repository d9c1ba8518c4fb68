"""Caption (issue 18): the three conditionings on the caption protocol, their no-caption quality on
Kodak24 and photos/val beside gray and the default automatic method, speed at 512², a picture grid
(one photo, several captions), and bundling.

    python benchmarks/caption_quality.py --run film=RUN/film/caption.safetensors \\
        --run concat=RUN/concat/caption.safetensors --run none=RUN/none/caption.safetensors \\
        --decoding zhang --decoding fusion --bundle fusion

Every run is scored with each ``--decoding`` (the card's ``inference``: ``zhang`` = Zhang et al.'s
annealed mean T 0.38 of the rebalanced head; ``fusion`` = the values fusion tuned on photos/val,
T 0.25, prior correction 0.75, gain 2.5; ``fusion/zhang``: fusion's without a caption, Zhang's with
one). ``--bundle D`` copies the three runs, decoded with ``D``,
into the package (``film`` → ``default``) with their scores on the cards. Writes
docs/results/caption_quality.{md,json} and docs/img/caption_grid.jpg.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

import tinct
from tinct import io
from tinct.bench.caption import evaluate_caption, stanford_cases
from tinct.bench.quality import evaluate_quality
from tinct.color import rgb_to_luma
from tinct.errors import TinctWarning
from tinct.methods.caption import VARIANT_OF, CaptionColorizer
from tinct.testing import median_seconds
from tinct.weights import bundled_path, load_weights, save_weights

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
STANFORD = DATA / "segmentation/stanford_background"
COCO = DATA / "captions/coco2017"
SETS = {"kodak24": DATA / "eval/kodak24", "photos_val": DATA / "photos/val"}
DECODINGS = {"zhang": {"temperature": 0.38, "prior_correction": 0.0, "mix": 1.0, "gain": 1.0},
             "fusion": {"temperature": 0.25, "prior_correction": 0.75, "mix": 1.0, "gain": 2.5}}
# (Stanford val index, captions): chosen to show both what works (a word bound to its region) and
# what does not (a word alone, or a noun the sentence puts in another region, tints everything).
GRID = ((52, ("gray pavement and red sky", "red pavement and blue sky", "yellow pavement and purple sky")),
        (54, ("the sky is blue and the grass is green", "the sky is blue and the grass is yellow",
              "the sky is purple")),
        (51, ("blue sky, a gray road, green trees and red buildings", "blue sky, a yellow road",
              "purple sky")))


def parse_decoding(text: str) -> dict:
    """A :data:`DECODINGS` name or ``T,ALPHA,GAIN[,GUIDANCE]`` (temperature, prior correction, gain,
    classifier-free guidance of a caption); ``A/B``:
    decoding ``A`` without a caption, ``B`` with one (the card's ``inference.with_caption``);
    ``...@sN``: chroma predicted at N px on the short side (``@lN``: on the long side)."""
    if "@" in text:
        text, size = text.rsplit("@", 1)
        key = {"s": "short_side", "l": "work_size"}.get(size[:1])
        if key is None or not size[1:].isdigit():
            raise SystemExit(f"decoding {text}@{size}: the size is @sN (short side) or @lN (long side)")
        return {**parse_decoding(text), key: int(size[1:])}
    if "/" in text:
        empty, with_caption = text.split("/", 1)
        return {**parse_decoding(empty), "with_caption": parse_decoding(with_caption)}
    if text in DECODINGS:
        return DECODINGS[text]
    values = [float(v) for v in text.split(",")]
    if len(values) not in (3, 4):
        raise SystemExit(f"decoding {text}: give T,ALPHA,GAIN or T,ALPHA,GAIN,GUIDANCE")
    out = {"temperature": values[0], "prior_correction": values[1], "mix": 1.0, "gain": values[2]}
    return out if len(values) == 3 else {**out, "guidance": values[3]}


def decoded(path: str, decoding: str, tmp: Path) -> Path:
    """A copy of the weights at ``path`` whose card's inference defaults are ``decoding``
    (:func:`parse_decoding`)."""
    tensors, card = load_weights(path)
    card.extra["inference"] = {**parse_decoding(decoding), "decoding": decoding}
    card.extra.setdefault("source_run", str(path))
    safe = decoding.replace("/", "+")
    return save_weights(tmp / f"{Path(path).parent.name}_{safe}.safetensors", tensors, card)


def reusable(paths: list[str], limit: int | None) -> dict:
    """The baselines and runs of earlier results (``--reuse``) scored with the same ``limit``."""
    out: dict = {"baselines": {}, "runs": {}}
    for path in paths:
        old = json.loads(Path(path).read_text())
        if "limit" not in old or old["limit"] != limit:
            raise SystemExit(f"--reuse {path}: scored with --limit {old.get('limit')}, not {limit}")
        out["baselines"].update(old["baselines"])
        out["runs"].update(old["runs"])
    return out


def quality(colorizer: tinct.Colorizer, limit: int | None) -> dict:
    """Mean PSNR, ΔE00, colourfulness ratio per set (no caption)."""
    out = {}
    for name, folder in SETS.items():
        rows = [asdict(r) for r in evaluate_quality(colorizer, folder, limit=limit, progress=False).rows]
        out[name] = {"psnr": float(np.mean([r["psnr"] for r in rows])),
                     "ciede2000": float(np.mean([r["ciede2000"] for r in rows])),
                     "colourfulness_ratio": float(np.mean(
                         [r["colorfulness_pred"] / max(r["colorfulness_gt"], 1e-6) for r in rows]))}
    return out


def speed(colorizer: CaptionColorizer, runs: int = 5) -> float:
    """Median seconds of one 512x512 colorization with a caption (warm)."""
    gray = np.random.default_rng(0).random((512, 512), dtype=np.float32)
    return median_seconds(lambda: colorizer.colorize(gray, caption="blue sky over green grass"), runs)


def grid(colorizer: CaptionColorizer, out: Path) -> None:
    """Rows of :data:`GRID`, Stanford val photos: gray | no caption | the true caption | the row's
    captions (one region's word changed, or a word for a region alone) | original."""
    cases = stanford_cases(STANFORD)
    rows = []
    for i, captions in GRID:
        case = cases[i % len(cases)]
        gray = rgb_to_luma(case.rgb).astype(np.float32)
        tiles = [_labelled(np.repeat(gray[..., None], 3, axis=2), "gray input")]
        tiles += [_labelled(colorizer.colorize(gray, caption=c), c or "(no caption)")
                  for c in [None, case.caption, *captions]]
        tiles.append(_labelled(case.rgb, "original"))
        rows.append(np.concatenate(tiles, axis=1))
    height = max(r.shape[0] for r in rows)
    rows = [np.pad(r, ((0, height - r.shape[0]), (0, 0), (0, 0)), constant_values=1.0) for r in rows]
    io.write_image(out, np.concatenate(rows, axis=0), quality=88)


def _labelled(rgb: np.ndarray, text: str, width: int = 240) -> np.ndarray:
    """``rgb`` resized to ``width`` with ``text`` wrapped on a white band below it."""
    h = round(rgb.shape[0] * width / rgb.shape[1])
    img = cv2.resize(np.clip(rgb, 0, 1).astype(np.float32), (width, h), interpolation=cv2.INTER_AREA)
    lines, line = [], ""
    for word in text.split():
        if len(line) + len(word) + 1 > 34:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines = (lines + [line])[:3]
    band = np.full((16 * 3 + 4, width, 3), 255, np.uint8)
    for k, t in enumerate(lines):
        cv2.putText(band, t, (4, 14 + 16 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([img, band.astype(np.float32) / 255], axis=0)


def markdown(result: dict, command: str) -> str:
    lines = ["# caption: FiLM vs CONCAT vs no caption (issue 18)", "", f"`{command}`", "",
             "Caption protocol (`tinct.bench.caption`) on Stanford Background split_val (true regions, "
             "synthesized captions) and the COCO subset's captions with a colour word; quality without a "
             "caption (`tinct.bench.quality`) on Kodak24 and photos/val. Bar: FiLM ≥ CONCAT > none on "
             "acc@1, manipulation ≥ 70 %, no-caption Kodak24 ΔE00 within 0.5 of the default method's.", "",
             "| run | decoding | data | acc@1 % | acc@5 % | acc@1 empty % | ΔE00 regions | ΔE00 regions "
             "empty | manip. % | manip. ceiling % | manip. reachable % | swap ΔE00 in | swap ΔE00 out |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["runs"].values():
        for data, s in r["caption"].items():
            lines.append(f"| {r['run']} | {r['decoding']} | {data} | {s['acc1']:.1f} | {s['acc5']:.1f} | "
                         f"{s['acc1_empty']:.1f} | {s.get('de_regions', float('nan')):.2f} | "
                         f"{s.get('de_regions_empty', float('nan')):.2f} | {s['manip']:.1f} | "
                         f"{s.get('manip_ceiling', float('nan')):.1f} | {s['manip_reachable']:.1f} | "
                         f"{s.get('swap_de_in', float('nan')):.2f} | "
                         f"{s.get('swap_de_out', float('nan')):.2f} |")
    lines += ["", "No caption (empty caption), beside gray and the default method "
              f"(`{result['default_method']}`):", "",
              "| method | decoding | Kodak24 PSNR | Kodak24 ΔE00 | Kodak24 colourf. | photos/val PSNR | "
              "photos/val ΔE00 | photos/val colourf. | s at 512² |", "|---|---|---|---|---|---|---|---|---|"]
    rows = {**{k: ("–", v, None) for k, v in result["baselines"].items()},
            **{k: (r["decoding"], r["quality"], r["seconds_512"]) for k, r in result["runs"].items()}}
    for key, (dec, q, sec) in rows.items():
        k, p = q["kodak24"], q["photos_val"]
        lines.append(f"| {key.split('/')[0]} | {dec} | {k['psnr']:.2f} | {k['ciede2000']:.2f} | "
                     f"{k['colourfulness_ratio']:.2f} | {p['psnr']:.2f} | {p['ciede2000']:.2f} | "
                     f"{p['colourfulness_ratio']:.2f} | {'–' if sec is None else f'{sec:.3f}'} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", required=True, metavar="KIND=PATH",
                    help="a trained run: film|concat|attend|none=caption.safetensors (repeatable)")
    ap.add_argument("--decoding", action="append", metavar="NAME|T,ALPHA,GAIN",
                    help=f"decodings to score ({', '.join(DECODINGS)} or temperature,prior correction,gain"
                    "[,guidance]; "
                    "A/B: A without a caption, B with one; a suffix @s128 or @l320 sets the working "
                    "size (short or long side); default: the named ones)")
    ap.add_argument("--limit", type=int, help="only the first N images of each set (smoke runs)")
    ap.add_argument("--no-grid", action="store_true", help="skip the picture grid")
    ap.add_argument("--bundle", metavar="DECODING", help="bundle every run with this decoding (one of "
                    "--decoding)")
    ap.add_argument("--reuse", action="append", default=[], metavar="JSON",
                    help="an earlier run's .json: its scores of the same weights, decoding and --limit are "
                    "taken as they are (score runs as they finish, bundle them together)")
    ap.add_argument("--tmp", default="/tmp/caption_quality", help="folder for the decoded weight copies")
    ap.add_argument("--out", default=str(ROOT / "docs/results/caption_quality"))
    args = ap.parse_args()
    warnings.simplefilter("ignore", TinctWarning)
    runs = dict(r.split("=", 1) for r in args.run)
    if args.bundle and args.bundle not in (args.decoding or list(DECODINGS)):
        ap.error(f"--bundle {args.bundle} must be one of the scored decodings")
    tmp = Path(args.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    result: dict = {"default_method": tinct.DEFAULT_METHOD, "runs": {}, "baselines": {}, "limit": args.limit}
    earlier = reusable(args.reuse, args.limit)
    for label in ("gray", tinct.DEFAULT_METHOD):
        result["baselines"][label] = (earlier["baselines"].get(label)
                                      or quality(tinct.load_method(label), args.limit))
    for kind, path in runs.items():
        for dec in args.decoding or list(DECODINGS):
            if kind == "none" and args.bundle and dec != args.bundle:
                continue  # the captionless model: only the bundled decoding
            old = earlier["runs"].get(f"{kind}/{dec}")
            if old is not None and old["weights"] == path:
                result["runs"][f"{kind}/{dec}"] = old
                continue
            colorizer = CaptionColorizer(weights=str(decoded(path, dec, tmp)), conditioning=kind)
            report = evaluate_caption(colorizer, stanford=STANFORD, coco=COCO, limit=args.limit)
            result["runs"][f"{kind}/{dec}"] = {
                "run": kind, "decoding": dec, "weights": path, "caption": report.summary(),
                "quality": quality(colorizer, args.limit), "seconds_512": speed(colorizer)}
            print(kind, dec, json.dumps(result["runs"][f"{kind}/{dec}"]["caption"]), file=sys.stderr)
    command = "python benchmarks/caption_quality.py " + " ".join(sys.argv[1:])
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps({**result, "command": command}, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(result, command))
    if "film" in runs and not args.no_grid:
        dec = args.bundle or (args.decoding or list(DECODINGS))[0]
        film = CaptionColorizer(weights=str(decoded(runs["film"], dec, tmp)))
        grid(film, ROOT / "docs/img/caption_grid.jpg")
    if args.bundle:
        for kind, path in runs.items():
            tensors, card = load_weights(decoded(path, args.bundle, tmp))
            r = result["runs"][f"{kind}/{args.bundle}"]
            card.metrics = {**card.metrics, "command": command, "caption_protocol": r["caption"],
                            "quality_no_caption": r["quality"], "seconds_512": r["seconds_512"]}
            print("bundled", save_weights(bundled_path("caption", VARIANT_OF[kind]), tensors, card))
    print(markdown(result, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
