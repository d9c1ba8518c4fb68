"""Issue 17: tcvc's settings on the training sequences, and its exposure bias on every sequence.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/tcvc_quality.py --threads 2

Protocol: :mod:`tinct.bench.video`. Sequences: ``../shared/data/video/davis2016`` — the TRAINING
sequences (blackswan, bmx-trees, car-roundabout, cows; tcvc was trained on them) choose ``warp``
and ``saturation``; the EVALUATION sequences (camel, dog) and ``video/vtest`` are only measured.

1. settings on the training sequences: ``warp`` false/true, then the ``saturation`` gain that gives
   the chosen setting's outputs the true videos' mean colourfulness (L1 training desaturates);
2. exposure bias (the model fed its own outputs), per sequence, three ways of choosing the previous
   frame: *free* (its own previous output: what ``tinct colorize`` does), *teacher* (the true
   previous frame, as in most of training: an oracle), *blank* (every frame alone). The cost of
   exposure bias is free - teacher; drift is the CIEDE2000 of the last 10 frames minus the first 10
   (free, and blank for comparison: blank has no memory, so its change is the content's).

Writes ``docs/results/tcvc_quality.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

import tinct
from tinct import io
from tinct.bench.quality import markdown_table
from tinct.bench.video import SUMMARY_COLUMNS, evaluate_video, luma_of
from tinct.data.video_pairs import EVAL_SEQUENCES, TRAIN_SEQUENCES
from tinct.methods.tcvc import Tcvc
from tinct.registry import Colorizer, Inputs
from tinct.testing import write_report

ROOT = Path(__file__).resolve().parents[1]
DAVIS = ROOT.parent / "shared" / "data" / "video" / "davis2016"
VTEST = ROOT.parent / "shared" / "data" / "video" / "vtest"
KEYS = tuple(key for key, _, _ in SUMMARY_COLUMNS)
WEIGHTS = ["default"]  # --weights
LIMIT: list[int | None] = [None]  # --limit


class Listed(Colorizer):
    """Replays a list of outputs computed before, in order (a temporal method for the protocol)."""

    name = "listed"
    temporal = True

    def __init__(self, outputs: list[np.ndarray]) -> None:
        super().__init__()
        self.outputs = outputs

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        raise NotImplementedError

    def _colorize_frames(self, frames, inputs: Inputs):
        for out, _ in zip(self.outputs, frames, strict=False):
            yield out


def teacher_forced(method: Tcvc, frames: list[np.ndarray]) -> list[np.ndarray]:
    """Each frame coloured with the TRUE previous frame (at the working size) as its previous frame."""
    outs = []
    for k, truth in enumerate(frames):
        luma = luma_of(truth)
        size = method.working_size(luma.shape)
        small = cv2.resize(luma, size, interpolation=cv2.INTER_AREA)
        prev = None if k == 0 else cv2.resize(frames[k - 1], size, interpolation=cv2.INTER_AREA)
        outs.append(method._emit(luma, method.predict(small, prev)))
    return outs


def modes(method: Tcvc, frames: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    lumas = [luma_of(f) for f in frames]
    return {"free": list(method.colorize_frames(lumas)), "teacher": teacher_forced(method, frames),
            "blank": [method.colorize(x) for x in lumas]}


def row(label: str, outs: list[np.ndarray], frames: list[np.ndarray], data: str, motions: dict) -> dict:
    r = evaluate_video(Listed(outs), frames, data=data, motions=motions)
    de = [x["ciede2000"] for x in r.rows]
    s = r.summary()
    return {"sequence": data, "run": label, **{k: s[k] for k in KEYS},
            "drift": float(np.mean(de[-10:]) - np.mean(de[:10])), "ciede2000_frames": de}


def settings(runs: list[tuple[bool, float]], motions: dict) -> list[dict]:
    """Section 1: tcvc with each (warp, saturation) of ``runs`` on the training sequences."""
    rows = []
    for seq in TRAIN_SEQUENCES:
        frames = list(io.open_frames(DAVIS / seq))[:LIMIT[0]]
        for warp, saturation in runs:
            method = tinct.load_method("tcvc", weights=WEIGHTS[0], warp=warp, saturation=saturation)
            outs = list(method.colorize_frames(luma_of(f) for f in frames))
            label = f"warp={str(warp).lower()}, saturation={saturation}"
            rows.append(row(label, outs, frames, seq, motions.setdefault(seq, {})))
        print(f"settings: {seq}", file=sys.stderr)
    return rows


def exposure(sequences: list[Path], warp: bool, saturation: float) -> list[dict]:
    """Section 2: free / teacher / blank with the settings chosen in section 1."""
    rows = []
    method = tinct.load_method("tcvc", weights=WEIGHTS[0], warp=warp, saturation=saturation)
    for path in sequences:
        frames, motions = list(io.open_frames(path))[:LIMIT[0]], {}
        for label, outs in modes(method, frames).items():
            rows.append(row(label, outs, frames, path.name, motions))
        print(f"exposure: {path.name}", file=sys.stderr)
    return rows


def _means(rows: list[dict]) -> list[dict]:
    out = []
    for label in dict.fromkeys(r["run"] for r in rows):
        group = [r for r in rows if r["run"] == label]
        out.append({"run": label, **{k: float(np.mean([r[k] for r in group])) for k in (*KEYS, "drift")}})
    return out


def _table(rows: list[dict], name_fields: tuple[str, ...]) -> list[str]:
    named = [{**r, "run": ", ".join(str(r[k]) for k in name_fields)} for r in rows]
    columns = (*(c for c in SUMMARY_COLUMNS if c[0] not in ("fps", "fps_cpu")), ("drift", "drift ΔE", "+.2f"))
    return markdown_table(named, columns, None, name_key="run").splitlines()


def markdown(result: dict) -> str:
    lines = ["# tcvc: settings on the training sequences, exposure bias (issue 17)", "",
             f"Command: `{result['command']}`", "",
             f"Threads: {result['threads']}; training running during the run: {result['training_running']}. "
             "Protocol: `tinct.bench.video` (warping error on Lab a*b*; ratio = method / true video). "
             f"Weights: `{result['weights']}`.", "",
             "## 1. warp and saturation on the training sequences (mean of the four)", ""]
    lines += _table(_means(result["settings"]), ("run",))
    lines += ["", f"Chosen (lower CIEDE2000): `{result['chosen']}`. Colourfulness-matching gain (true / "
              f"tcvc's, chosen setting): {result['gain']:.3f}, rounded to **{result['saturation']}** (the "
              "`saturation` default).", "",
              "## 2. exposure bias: previous frame = own output (free), true frame (teacher), blank", "",
              f"Settings chosen in section 1: `{result['chosen']}`, saturation {result['saturation']}. "
              "drift ΔE = mean CIEDE2000 of the last "
              "10 frames minus the first 10.", ""]
    lines += _table(result["exposure"], ("sequence", "run"))
    lines += ["", "Means over the training sequences and over the held-out ones:", ""]
    train = [r for r in result["exposure"] if r["sequence"] in TRAIN_SEQUENCES]
    held = [r for r in result["exposure"] if r["sequence"] not in TRAIN_SEQUENCES]
    lines += _table([{**r, "run": f"training, {r['run']}"} for r in _means(train)]
                    + [{**r, "run": f"held out, {r['run']}"} for r in _means(held)], ("run",))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "docs" / "results" / "tcvc_quality"))
    parser.add_argument("--weights", default="default", help="tcvc weights (variant or path)")
    parser.add_argument("--limit", type=int, default=None, help="frames per sequence (smoke runs)")
    args = parser.parse_args()
    WEIGHTS[0], LIMIT[0] = args.weights, args.limit
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    busy = subprocess.run(["pgrep", "-f", "tinct train"], capture_output=True).returncode == 0
    motions: dict = {}
    rows = settings([(False, 1.0), (True, 1.0)], motions)
    chosen = min(_means(rows), key=lambda r: r["ciede2000"])  # the more accurate
    warp = chosen["run"].startswith("warp=true")
    gain = chosen["colorfulness_gt"] / chosen["colorfulness_pred"]
    saturation = round(gain, 1)
    rows += settings([(warp, saturation)], motions)
    sequences = [DAVIS / s for s in (*TRAIN_SEQUENCES, *EVAL_SEQUENCES)] + [VTEST]
    result = {"command": " ".join(["python", "benchmarks/tcvc_quality.py", *sys.argv[1:]]),
              "threads": args.threads, "weights": args.weights,
              "settings": rows, "chosen": chosen["run"], "gain": gain, "saturation": saturation,
              "exposure": exposure(sequences, warp, saturation)}
    result["training_running"] = busy
    write_report(args.out, result, markdown(result))


if __name__ == "__main__":
    main()
