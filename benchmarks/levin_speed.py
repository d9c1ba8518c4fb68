"""Levin solver speed: exact fast path vs straightforward spsolve, plus iterative candidates.

All paths solve the same system (same weights, same scribbles) in the same process:

* our default solver, the batched multifrontal LU (vectorized build, geometric nested
  dissection, dense fronts batched by shape, float32 factors with GTH pivots, one solve;
  ``multifrontal+refine`` adds float64 iterative refinement);
  median of ``--repeat`` runs after one **cold** run (which also builds the cached elimination
  tree and touches fresh memory) reported on its own; ``-torch`` variants
  (``multifrontal-torch``) run without the compiled front kernel, for comparison.
  ``--solvers`` adds other exact solvers to compare, e.g. the
  previous default ``superlu`` (nested-dissection SuperLU without pivoting, float64).
* ``spsolve``: COO build -> CSR, ``scipy.sparse.linalg.spsolve`` (COLAMD, pivoting); one run.
* ``--iterative``: AMG candidates that would scale linearly, each as an FGMRES preconditioner:
  pyamg AIR with degree-2 (``air``) or degree-1 (``air1``) restriction and Ruge-Stüben (``rs``)
  on the true non-symmetric matrix, and smoothed aggregation built on the symmetric part of
  the row-scaled matrix (``sa-sym``). They are stopped as soon as the iterate is within
  ``--tol`` (max abs, U and V) of the exact solution, i.e. with an oracle, so their time is a
  lower bound on what a real stopping rule would cost. One run each.

Reported: wall and CPU seconds (the machine is shared: CPU time is the better estimate), the
1-minute load average around each problem, ratios, max |difference| and iteration counts.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/levin_speed.py --sizes 256 512 1024 --repeat 5 \
        --solvers multifrontal superlu
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/levin_speed.py --sizes 1024 --images astronaut chelsea \
        coffee --repeat 5 --out levin_speed_images
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/levin_speed.py --sizes 256 --images astronaut chelsea \
        coffee --strokes 0 10 --repeat 1 --no-baseline --iterative sa-sym rs air --out levin_iterative_256
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/levin_speed.py --sizes 1024 --images astronaut \
        --strokes 0 10 --repeat 1 --no-baseline --iterative rs air air1 --out levin_iterative_1024
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from skimage import data, transform

from tinct.color import rgb_to_luma, rgb_to_uv
from tinct.methods.levin import kernel
from tinct.methods.levin.solve import SOLVERS, compact_csr, solve_system
from tinct.methods.levin.solver import default_solver
from tinct.methods.levin.strokes import random_strokes
from tinct.methods.levin.system import build_csr_reference, build_system

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    now = _clock()
    return now[0] - start[0], now[1] - start[1]


def problem(size: int, seed: int = 0, image: str = "astronaut",
            strokes: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-image ``image`` resized to size x size; ``strokes`` random strokes (0: size²/2000)."""
    rgb = transform.resize(getattr(data, image)(), (size, size), anti_aliasing=True).astype(np.float32)
    count = strokes if strokes > 0 else max(size * size // 2000, 1)
    hints = random_strokes(rgb, count, np.random.default_rng(seed))
    return rgb_to_luma(rgb), hints.mask, rgb_to_uv(np.asarray(rgb, dtype=np.float64))


def fast(gray: np.ndarray, mask: np.ndarray, uv: np.ndarray,
         solver: str = "multifrontal") -> tuple[np.ndarray, dict[str, float]]:
    """Build + solve with ``solver``; ``-torch`` in the name disables the compiled front kernel."""
    t = _clock()
    system = build_system(gray, mask)
    build_wall, build_cpu = _since(t)
    refine = solver.endswith("+refine")
    name = solver.removesuffix("+refine").replace("-torch", "")
    with kernel.disabled("-torch" in solver):
        t = _clock()
        x = solve_system(system, uv, solver=name, refine=refine)
        solve_wall, solve_cpu = _since(t)
    return x, {"build_s": build_wall, "solve_s": solve_wall, "total_s": build_wall + solve_wall,
               "total_cpu_s": build_cpu + solve_cpu}


def baseline(gray: np.ndarray, mask: np.ndarray, uv: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    t = _clock()
    A = build_csr_reference(gray, mask)
    b = np.where(mask[..., None], uv, 0.0).reshape(-1, 2)
    build_wall, build_cpu = _since(t)
    t = _clock()
    x = spla.spsolve(A.tocsc(), b)
    solve_wall, solve_cpu = _since(t)
    times = {"build_s": build_wall, "solve_s": solve_wall, "total_s": build_wall + solve_wall,
             "total_cpu_s": build_cpu + solve_cpu}
    return x.reshape(uv.shape), times


def _symmetric_part(system, A: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled by the affinity sums (L = D - affinities), off-diagonals symmetrized, the
    diagonal set to the (symmetrized) row sum: an SPD weighted graph Laplacian (scribbled rows
    stay identity, so their links act as Dirichlet terms)."""
    free = ~system.scribbled.ravel()
    L = (sp.diags(np.where(free, system.affinity_sum.ravel(), 1.0)) @ A).tocsr()
    off = L - sp.diags(L.diagonal())
    off = off.multiply(free[:, None]).multiply(free[None, :]).tocsr()
    sym = (off + off.T) * 0.5
    to_scribble = -np.asarray((L - sp.diags(L.diagonal()) - off).sum(axis=1)).ravel()
    diag = -np.asarray(sym.sum(axis=1)).ravel() + to_scribble
    return (sym + sp.diags(np.where(free, diag, 1.0))).tocsr()


def iterative(name: str, gray: np.ndarray, mask: np.ndarray, uv: np.ndarray, exact: np.ndarray,
              tol: float, maxiter: int) -> dict:
    """One AMG-preconditioned FGMRES candidate, stopped (by oracle) within ``tol`` of ``exact``."""
    import pyamg

    t = _clock()
    system = build_system(gray, mask)
    A = compact_csr(system)
    b = system.rhs(uv)
    build_wall, build_cpu = _since(t)
    t = _clock()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "air":
            ml = pyamg.air_solver(A, max_coarse=1000)
        elif name == "air1":                       # cheaper setup: degree-1 restriction stencil
            ml = pyamg.air_solver(A, max_coarse=1000, restrict=("air", {"theta": 0.05, "degree": 1}))
        elif name == "rs":
            ml = pyamg.ruge_stuben_solver(A, max_coarse=1000)
        elif name == "sa-sym":
            ml = pyamg.smoothed_aggregation_solver(_symmetric_part(system, A), max_coarse=1000,
                                                   improve_candidates=None, keep=False)
        else:
            raise SystemExit(f"unknown iterative candidate {name!r}")
    setup_wall, setup_cpu = _since(t)
    x_exact = exact.reshape(-1, 2)
    out = {"build_cpu_s": build_cpu, "setup_s": setup_wall, "setup_cpu_s": setup_cpu,
           "levels": len(ml.levels), "operator_complexity": ml.operator_complexity(),
           "iterations": [], "max_abs_diff": [], "reached_tol": []}
    solve_wall = solve_cpu = 0.0
    for c in range(2):
        errs: list[float] = []
        oracle_cpu = [0.0]

        def callback(xk: np.ndarray, c: int = c, errs: list[float] = errs,
                     oracle_cpu: list[float] = oracle_cpu) -> None:
            t0 = time.process_time()
            errs.append(float(np.abs(xk - x_exact[:, c]).max()))
            oracle_cpu[0] += time.process_time() - t0
            if errs[-1] <= tol:
                raise StopIteration

        t = _clock()
        try:
            pyamg.krylov.fgmres(A, b[:, c], M=ml.aspreconditioner(cycle="V"), tol=1e-14, restart=maxiter,
                                maxiter=1, callback=callback)
        except StopIteration:
            pass
        wall, cpu = _since(t)
        solve_wall += wall - oracle_cpu[0]
        solve_cpu += cpu - oracle_cpu[0]
        out["iterations"].append(len(errs))
        out["max_abs_diff"].append(errs[-1] if errs else float("nan"))
        out["reached_tol"].append(bool(errs) and errs[-1] <= tol)
    out.update(solve_s=solve_wall, solve_cpu_s=solve_cpu,
               total_s=build_wall + setup_wall + solve_wall, total_cpu_s=build_cpu + setup_cpu + solve_cpu)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--images", nargs="+", default=["astronaut"], help="scikit-image data names")
    ap.add_argument("--strokes", type=int, nargs="+", default=[0], help="stroke counts (0: size²/2000)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-baseline", action="store_true", help="skip spsolve (for quick runs)")
    ap.add_argument("--solvers", nargs="+", default=["multifrontal"],
                    choices=[*SOLVERS, "multifrontal+refine", "multifrontal-torch",
                             "multifrontal-torch+refine"],
                    help="solvers to time (+refine: with float64 iterative refinement; -torch: without "
                         "the compiled front kernel); the first is the one compared with spsolve")
    ap.add_argument("--iterative", nargs="*", default=[], help="candidates: sa-sym rs air air1")
    ap.add_argument("--tol", type=float, default=1e-3, help="iterative stop: max |x - exact| (U, V)")
    ap.add_argument("--maxiter", type=int, default=60)
    ap.add_argument("--out", default="levin_speed")
    args = ap.parse_args(argv)
    rows = []
    load_before = os.getloadavg()
    for image in args.images:
        for strokes in args.strokes:
            for size in args.sizes:
                gray, mask, uv = problem(size, image=image, strokes=strokes)
                load = [os.getloadavg()[0]]
                row = {"image": image, "strokes": strokes or max(size * size // 2000, 1), "size": size,
                       "pixels": size * size, "scribbled": int(mask.sum()), "solvers": {}}
                solutions = {}
                for solver in args.solvers:
                    default_solver().release()      # the first run is cold: new plan, fresh memory
                    solutions[solver], cold = fast(gray, mask, uv, solver)
                    runs = [fast(gray, mask, uv, solver)[1] for _ in range(args.repeat)]
                    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                    row["solvers"][solver] = {
                        "cold": cold, "median": med, "runs_total_s": [r["total_s"] for r in runs],
                        "runs_total_cpu_s": [r["total_cpu_s"] for r in runs],
                        "peak_rss_mb_so_far": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
                x_fast = solutions[args.solvers[0]]
                med = row["solvers"][args.solvers[0]]["median"]
                for solver in args.solvers[1:]:
                    diff = float(np.abs(solutions[solver] - x_fast).max())
                    row["solvers"][solver]["max_abs_diff_vs_first"] = diff
                if not args.no_baseline:
                    x_ref, t_ref = baseline(gray, mask, uv)
                    row["spsolve"] = t_ref
                    row["ratio_total"] = t_ref["total_s"] / med["total_s"]
                    row["ratio_total_cpu"] = t_ref["total_cpu_s"] / med["total_cpu_s"]
                    row["max_abs_diff_U"] = float(np.abs(x_fast[..., 0] - x_ref[..., 0]).max())
                    row["max_abs_diff_V"] = float(np.abs(x_fast[..., 1] - x_ref[..., 1]).max())
                for name in args.iterative:
                    row[f"iterative_{name}"] = iterative(name, gray, mask, uv, x_fast, args.tol, args.maxiter)
                load.append(os.getloadavg()[0])
                row["load_1min_before_after"] = load
                print(json.dumps(row), flush=True)
                rows.append(row)
    command = "OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", "unset") + \
        " .venv/bin/python benchmarks/levin_speed.py " + " ".join(sys.argv[1:])
    meta = {"command": command,
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                       f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}",
            "threads": os.environ.get("OMP_NUM_THREADS", "unset"), "iterative_tol": args.tol, "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
