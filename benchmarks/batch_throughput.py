"""Batch throughput of ``tinct colorize`` (local vs Ray with 2 workers) and the cold start of one file.

Inputs: ``--count`` Kodak-size (768x512, landscape or portrait) gray JPEGs made from
``../shared/data/photos/val`` and then ``photos/train`` (BSDS500, resized; kept in /tmp between
runs). Every run is the real command line in a fresh process:

- cold start: ``tinct colorize photo.jpg -q`` in a fresh folder (wall, process start to exit),
  ``--repeats`` times, with tinct's bytecode compiled first (as ``pip install`` does);
- local: ``tinct colorize DIR --out-dir OUT -q`` (the method loaded once, I/O threads);
- ray: a head started with ``ray start --head --node-ip-address 127.0.0.1 --num-cpus 2``, then
  ``tinct colorize DIR --out-dir OUT --backend ray --address ... --workers 2 -q``; its outputs
  are compared byte for byte with the local run's.

Images/min are given for the whole command (start-up included) and for the steady state (first
to last output written, from the output files' mtimes). Writes docs/results/batch_throughput.*.

    .venv/bin/python benchmarks/batch_throughput.py --count 200 --method deepcolor
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "photos"
WORK = Path("/tmp/tinct_batch_bench")
TINCT = str(ROOT / ".venv" / "bin" / "tinct")
ENV = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")  # Ray on 127.0.0.1 only (one machine)


def prepare(count: int) -> Path:
    """``count`` gray 768x512 JPEGs (q90) in WORK/in_<count>, made once."""
    folder = WORK / f"in_{count}"
    if folder.is_dir() and len(list(folder.glob("*.jpg"))) == count:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sources = sorted((DATA / "val").glob("*.jpg")) + sorted((DATA / "train").glob("*_*.jpg"))
    sources = [p for p in sources if not p.name.startswith("t91_")][:count]
    if len(sources) < count:
        raise SystemExit(f"only {len(sources)} photos under {DATA}")
    for path in sources:
        image = Image.open(path).convert("L")
        size = (768, 512) if image.width >= image.height else (512, 768)
        image.resize(size, Image.Resampling.LANCZOS).save(folder / path.name, quality=90)
    return folder


def timed(command: list[str], cwd: Path | None = None) -> float:
    """Wall seconds of ``command``; fails loudly on a non-zero exit."""
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=cwd)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds


def steady_rate(out: Path) -> float:
    """Images/min between the first and the last output written."""
    stamps = sorted(p.stat().st_mtime for p in out.rglob("*.png"))
    return 60 * (len(stamps) - 1) / max(stamps[-1] - stamps[0], 1e-9)


def cold_start(folder: Path, method: str, repeats: int) -> list[float]:
    """``tinct colorize photo.jpg`` (into ./tinct-out of a fresh folder each time)."""
    one = sorted(folder.glob("*.jpg"))[0].resolve()
    seconds = []
    for k in range(repeats):
        cwd = WORK / f"cold_{k}"
        shutil.rmtree(cwd, ignore_errors=True)
        cwd.mkdir(parents=True)
        seconds.append(timed([TINCT, "colorize", str(one), "-q", "--method", method], cwd=cwd))
    return seconds


def run_batch(folder: Path, out: Path, method: str, extra: list[str]) -> dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    seconds = timed([TINCT, "colorize", str(folder), "--out-dir", str(out), "-q", "--method", method, *extra])
    count = len(list(out.rglob("*.png")))
    return {"seconds": seconds, "images": count, "images_per_min": 60 * count / seconds,
            "steady_images_per_min": steady_rate(out)}


def overlap(folder: Path, method: str, count: int) -> dict[str, float]:
    """In this process: the local backend with its I/O threads overlapping compute (prefetch 2) and
    without (prefetch 0: decode, compute, encode one after the other), images/min each."""
    from tinct.batch.local import run_local
    from tinct.batch.plan import find_inputs, plan_jobs
    from tinct.batch.work import WorkSpec

    out = WORK / "out_overlap"
    jobs = plan_jobs(find_inputs([str(folder)])[0][:count], method, out)
    out.mkdir(parents=True, exist_ok=True)
    rates = {}
    for name, prefetch in (("serial", 0), ("overlapped", 2)):
        start = time.perf_counter()
        run_local(WorkSpec(method), jobs, lambda job, result: (out / job.output).write_bytes(result.payload),
                  prefetch=prefetch)
        rates[f"{name}_images_per_min"] = 60 * len(jobs) / (time.perf_counter() - start)
    return rates


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_ray_head(action):  # noqa: ANN001, ANN201 - a callable of the address
    """Start a private Ray head on 127.0.0.1 (2 CPUs), run ``action(address)``, stop that head."""
    port = free_port()
    ray = str(ROOT / ".venv" / "bin" / "ray")
    head = subprocess.Popen([ray, "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
                             "--port", str(port), "--num-cpus", "2", "--include-dashboard", "false",
                             "--disable-usage-stats"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=ENV)
    try:
        time.sleep(8)
        return action(f"127.0.0.1:{port}")
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)


def compare_outputs(local: Path, ray: Path, folder: Path, method: str, limit: int = 20) -> dict[str, int]:
    """Ray's outputs against the local run's, byte for byte; those that differ are compared again
    with a local run at one torch thread per process, as each Ray worker computes (``limit`` of them)."""
    names = sorted(p.relative_to(local) for p in local.rglob("*.png"))
    assert names == sorted(p.relative_to(ray) for p in ray.rglob("*.png")), "different output names"
    differ = [n for n in names if (local / n).read_bytes() != (ray / n).read_bytes()]
    again = WORK / "in_differ"
    shutil.rmtree(again, ignore_errors=True)
    again.mkdir(parents=True)
    for name in differ[:limit]:
        source = folder / (name.name[: -len(f"_{method}.png")] + ".jpg")
        shutil.copy(source, again / source.name)
    one_thread = {}
    if differ:
        shutil.rmtree(WORK / "out_one_thread", ignore_errors=True)
        subprocess.run([TINCT, "colorize", str(again), "--out-dir", str(WORK / "out_one_thread"), "-q",
                        "--method", method], env=dict(ENV, OMP_NUM_THREADS="1"), check=True)
        one_thread = {n: (WORK / "out_one_thread" / n.name).read_bytes() == (ray / n).read_bytes()
                      for n in differ[:limit]}
    return {"images": len(names), "identical": len(names) - len(differ),
            "differing_checked_at_one_thread": len(one_thread),
            "identical_to_one_thread_local": sum(one_thread.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--method", default="deepcolor")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--overlap-count", type=int, default=60, help="images for the overlap comparison")
    parser.add_argument("--out", default=str(ROOT / "docs" / "results" / "batch_throughput"))
    args = parser.parse_args()
    folder = prepare(args.count)
    load_before = os.getloadavg()[0]
    # bytecode as `pip install` leaves it (this checkout runs with PYTHONDONTWRITEBYTECODE=1)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "tinct")], check=True)
    cold = cold_start(folder, args.method, args.repeats)
    local = run_batch(folder, WORK / "out_local", args.method, [])
    local.update(overlap(folder, args.method, args.overlap_count), overlap_count=args.overlap_count)
    result = {"command": " ".join(["benchmarks/batch_throughput.py", *sys.argv[1:]]), "method": args.method,
              "count": args.count, "machine": f"{platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} CPUs", "cold_start_s": cold, "local": local}
    if not args.no_ray:
        ray_flags = ["--backend", "ray", "--workers", "2", "--address"]
        result["ray"] = with_ray_head(lambda address: run_batch(folder, WORK / "out_ray", args.method,
                                                                [*ray_flags, address]))
        result["ray"]["outputs"] = compare_outputs(WORK / "out_local", WORK / "out_ray", folder, args.method)
        ray = result["ray"]
        result["ray_overhead"] = {"wall": ray["seconds"] / local["seconds"],
                                  "steady": local["steady_images_per_min"] / ray["steady_images_per_min"]}
    result["load_average_1min"] = {"before": load_before, "after": os.getloadavg()[0]}
    from tinct.testing import write_report

    write_report(args.out, result, markdown(result))


def markdown(r: dict) -> str:
    rows = [("local (1 process, I/O threads)", r["local"])]
    rows += [("Ray, 2 workers", r["ray"])] if "ray" in r else []
    lines = [f"# Batch throughput: `tinct colorize` on {r['count']} Kodak-size photos ({r['method']})", "",
             f"Command: `{r['command']}`; machine: {r['machine']}. Inputs: gray 768x512 JPEGs made from "
             "photos/val + photos/train (BSDS500, resized). Load average (1 min) before / after: "
             f"{r['load_average_1min']['before']:.1f} / {r['load_average_1min']['after']:.1f}.", "",
             f"Cold start of `tinct colorize photo.jpg` (wall, process start to exit, one 768x512 JPEG): "
             f"median {statistics.median(r['cold_start_s']):.2f} s (runs: "
             f"{', '.join(f'{s:.2f}' for s in r['cold_start_s'])} s).", "",
             "| backend | wall (s) | images/min (wall) | images/min (steady) |", "|---|---|---|---|"]
    lines += [f"| {name} | {v['seconds']:.1f} | {v['images_per_min']:.1f} | "
              f"{v['steady_images_per_min']:.1f} |" for name, v in rows]
    lo = r["local"]
    lines += ["", f"The local backend's I/O threads (in one process, the model load included, the first "
                  f"{lo['overlap_count']} images): "
                  f"{lo['overlapped_images_per_min']:.1f} images/min overlapped vs "
                  f"{lo['serial_images_per_min']:.1f} decoding, computing and encoding one after the other."]
    if "ray" in r:
        o = r["ray_overhead"]
        c = r["ray"]["outputs"]
        lines += ["", f"Ray overhead (Ray time / local time): {o['wall']:.2f}x wall (start-up included), "
                      f"{o['steady']:.2f}x steady state.", "",
                  f"Outputs: {c['identical']} of {c['images']} byte-identical to the local run. Of the "
                  f"others, {c['identical_to_one_thread_local']} of {c['differing_checked_at_one_thread']} "
                  "checked are "
                  "byte-identical to a local run with one torch thread, as each Ray worker computes (the "
                  "method's float reductions depend on the thread count, not on the backend)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
