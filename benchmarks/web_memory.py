"""Memory of real-size jobs through ``tinct serve``, against the per-job estimate of ``tinct.web.budget``.

A ``tinct serve`` process on 127.0.0.1 (budget ``--job-memory-gb``) gets, one after another, a photo
of each size (scikit-image's astronaut upscaled, sent as JPEG; levin also gets scribbles, reference
methods the photo itself as a same-size reference, the heaviest case) and one job per (method,
size). Before each job the process's peak RSS is reset (``/proc/PID/clear_refs`` = 5); after it,
the job's peak is ``VmHWM - RSS before the job``, printed beside the estimate the server used to
admit it. Jobs over the budget are refused (400) before they start.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/web_memory.py

Writes docs/results/web_memory.{md,json}.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from tinct.testing import write_report
from tinct.web import budget

ROOT = Path(__file__).resolve().parents[1]
JOBS = [("gray", 12), ("fusion", 12), ("deepcolor", 12), ("reinhard", 12), ("welsh", 4), ("stereocopy", 4),
        ("levin", 4), ("spynco", 1), ("spynco", 2)]
NEEDS_REFERENCE = ("reinhard", "welsh", "stereocopy", "cyclecnn")  # given the photo itself, same size


def _status(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _call(base: tuple[str, int], method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(*base, timeout=600)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    answer = json.loads(resp.read() or b"{}")
    conn.close()
    return resp.status, answer


def _photo(megapixels: float) -> tuple[bytes, int, int]:
    h = int(round(np.sqrt(megapixels * 1e6 * 2 / 3)))
    w = int(round(h * 3 / 2))
    image = Image.fromarray(data.astronaut()).resize((w, h), Image.BICUBIC)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue(), w, h


def _hints(w: int, h: int) -> bytes:
    rgba = np.zeros((h, w, 4), np.uint8)
    for k, colour in enumerate([(200, 120, 90), (60, 90, 160), (230, 230, 230), (120, 60, 40)]):
        rows = slice(int(h * (0.15 + 0.2 * k)), int(h * (0.15 + 0.2 * k)) + 4)
        rgba[rows, w // 5: 4 * w // 5] = (*colour, 255)
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, "PNG")
    return buf.getvalue()


def _wait(base: tuple[str, int], job: str) -> dict:
    while True:
        status = _call(base, "GET", f"/api/jobs/{job}")[1]
        if status["status"] in ("done", "error"):
            return status
        time.sleep(0.2)


def _run_job(base: tuple[str, int], pid: int, method: str, megapixels: float) -> dict:
    photo, w, h = _photo(megapixels)
    request = {"image": _call(base, "POST", "/api/upload?role=image&name=astronaut.jpg", photo)[1]["id"],
               "method": method}
    if method in NEEDS_REFERENCE:
        request["reference"] = _call(base, "POST", "/api/upload?role=reference&name=r.jpg", photo)[1]["id"]
    if method == "levin":
        request["hints"] = _call(base, "POST", "/api/upload?role=hints&name=s.png", _hints(w, h))[1]["id"]
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak RSS
    before = _status(pid)["VmRSS"]
    started = time.monotonic()
    status, answer = _call(base, "POST", "/api/colorize", json.dumps(request).encode())
    row = {"method": method, "size": f"{w}x{h}", "megapixels": round(w * h / 1e6, 1),
           "estimate_mb": round(budget.estimate_bytes(method, w, h) / 2**20), "rss_before_mb": round(before)}
    if status != 200:
        return {**row, "outcome": f"refused {status}", "message": answer.get("error")}
    job = _wait(base, answer["job"])
    peak = _status(pid)["VmHWM"]
    return {**row, "outcome": job["status"], "seconds": round(time.monotonic() - started, 1),
            "job_peak_mb": round(peak - before), "process_peak_mb": round(peak), "error": job.get("error")}


def _markdown(rows: list[dict], budget_gb: float) -> str:
    table = ["| method | size | estimate MB | job peak MB (VmHWM − RSS before) | process peak MB | s | "
             "outcome |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        size = f"{r['size']} ({r['megapixels']} MP)"
        cells = [r["method"], size, r["estimate_mb"], r.get("job_peak_mb", "–"),
                 r.get("process_peak_mb", "–"), r.get("seconds", "–"), r["outcome"]]
        table.append("| " + " | ".join(str(c) for c in cells) + " |")
    refused = "".join(f"\nRefused: {r['message']}\n" for r in rows if r["outcome"].startswith("refused"))
    threads = os.environ.get("OMP_NUM_THREADS", "")
    command = f"OMP_NUM_THREADS={threads} .venv/bin/python benchmarks/web_memory.py"
    return (f"# Web jobs: measured peak vs the admission estimate (budget {budget_gb:g} GB)\n\n"
            f"`{command}`\n\n" + "\n".join(table) + "\n" + refused)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-memory-gb", type=float, default=6.0)
    parser.add_argument("--out", default=str(ROOT / "docs" / "results" / "web_memory"))
    args = parser.parse_args()
    code = "import sys; from tinct.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, "serve", "--port", "0", "--max-upload-mb", "200",
                             "--max-pixels", "30000000", "--job-memory-gb", str(args.job_memory_gb)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    base = ("127.0.0.1", int(proc.stdout.readline().split(":")[3].split("/")[0]))
    rows = []
    try:
        for method, megapixels in JOBS:
            rows.append(_run_job(base, proc.pid, method, megapixels))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
    result = {"command": "benchmarks/web_memory.py", "budget_gb": args.job_memory_gb, "rows": rows}
    write_report(args.out, result, _markdown(rows, args.job_memory_gb))


if __name__ == "__main__":
    main()
