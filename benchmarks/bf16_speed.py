"""Is bf16 autocast faster on this CPU? One training step (forward + backward) of two of our networks,
float32 against forced bf16 autocast, median of ``--repeats`` after one warm-up, in the same run.

This is what :mod:`tinct.precision` decides from the CPU flags (bf16 only with ``avx512_bf16`` or
``amx_bf16``); the benchmark shows the decision's reason on the machine at hand.

    .venv/bin/python benchmarks/bf16_speed.py --out docs/results/bf16_speed
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch

from tinct.methods.fusion.model import FusionNet
from tinct.nn.resnet import ResNetExtractor
from tinct.precision import native_bf16
from tinct.testing import median_seconds, write_report

ROOT = Path(__file__).resolve().parents[1]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def step_seconds(net: torch.nn.Module, x: torch.Tensor, bf16: bool, repeats: int) -> float:
    def step() -> None:
        net.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = net(x)
        out = out[0] if isinstance(out, tuple) else out
        out.float().square().mean().backward()

    return median_seconds(step, repeats)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--note", default="", help="a line about the conditions (e.g. a run beside it)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "bf16_speed"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = {
        "cyclecnn ResNet extractor (16 ch, 8 blocks), 2 x 96x256": (
            ResNetExtractor(1, 16, 8),
            torch.rand(2, 1, 96, 256),
        ),
        "fusion U-Net (3.1 M), 8 x 128x128": (FusionNet(), torch.rand(8, 1, 128, 128)),
    }
    rows = []
    for label, (net, x) in cases.items():
        fp32 = step_seconds(net.train(), x, False, args.repeats)
        bf16 = step_seconds(net.train(), x, True, args.repeats)
        rows.append({"case": label, "fp32_s": fp32, "bf16_s": bf16, "bf16_speedup": fp32 / bf16})
        print(rows[-1], flush=True)
    cpu, native = cpu_name(), native_bf16()
    cmd = f".venv/bin/python benchmarks/bf16_speed.py --threads {args.threads} --repeats {args.repeats}"
    md = [
        "# bf16 autocast against float32, one training step",
        "",
        f"`{cmd}` — CPU: {cpu}; native bf16 (avx512_bf16/amx_bf16): {native}; "
        f"torch {torch.__version__}, {args.threads} threads, median of {args.repeats}.",
        "",
        "| network, batch | float32 s/step | bf16 s/step | bf16 speed-up |",
        "|---|---|---|---|",
        *(
            f"| {r['case']} | {r['fp32_s']:.3f} | {r['bf16_s']:.3f} | {r['bf16_speedup']:.2f}x |"
            for r in rows
        ),
        "",
        "tinct trainers use bf16 only where the CPU has it natively (`tinct.precision`).",
        "",
        *([args.note, ""] if args.note else []),
    ]
    write_report(args.out, {"command": cmd, "cpu": cpu, "native_bf16": native, "rows": rows}, "\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
