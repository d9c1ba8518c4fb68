"""The batched multifrontal solver for Levin's system agrees with float64 SuperLU."""

from __future__ import annotations

import gc
import os
import threading

import numpy as np
import pytest
import torch

from tinct.methods.levin import fronts
from tinct.methods.levin.nd_plan import build_plan
from tinct.methods.levin.residual import apply_matrix
from tinct.methods.levin.solve import solve_system
from tinct.methods.levin.solver import LevinSolver, default_solver
from tinct.methods.levin.system import build_system


def _problem(h: int, w: int, seed: int, frac: float = 0.02, smooth: bool = True):
    rng = np.random.default_rng(seed)
    if smooth:
        y, x = np.mgrid[0:h, 0:w]
        gray = 0.5 + 0.3 * np.sin(x / 7.0) * np.cos(y / 5.0) + 0.05 * rng.random((h, w))
    else:
        gray = rng.random((h, w))
    mask = rng.random((h, w)) < frac
    mask.flat[rng.integers(h * w)] = True
    uv = rng.uniform(-0.4, 0.4, (h, w, 2))
    return build_system(gray, mask), uv


@pytest.mark.parametrize("h,w", [(1, 40), (2, 33), (3, 3), (5, 7), (37, 53), (64, 64), (90, 31)])
def test_multifrontal_matches_superlu(h: int, w: int) -> None:
    system, uv = _problem(h, w, seed=h * 100 + w, smooth=(h + w) % 2 == 0)
    exact = solve_system(system, uv, solver="superlu")
    fast = solve_system(system, uv, solver="multifrontal")
    np.testing.assert_allclose(fast, exact, atol=1e-6, rtol=0)
    # scribbled pixels keep their chroma
    np.testing.assert_allclose(fast[system.scribbled], uv[system.scribbled], atol=1e-10)


@pytest.mark.parametrize("leaf", [1, 4, 16, 64])
def test_any_leaf_size_gives_the_same_answer(leaf: int) -> None:
    system, uv = _problem(29, 41, seed=leaf)
    exact = solve_system(system, uv, solver="superlu").reshape(-1, 2)
    x = default_solver().solve_rhs(system, system.rhs(uv), refine=True, leaf=leaf)
    assert x is not None
    np.testing.assert_allclose(x, exact, atol=1e-6, rtol=0)


def test_ill_conditioned_piecewise_constant_image_converges() -> None:
    """Flat regions behind hard edges hang on links of ~1e-9: GTH pivots keep the float32 solve
    within 1e-5 (plain pivots: 1e-4 to 3e-4 here), and refinement reaches 1e-6."""
    rng = np.random.default_rng(3)
    gray = np.kron(rng.random((6, 8)), np.ones((10, 10)))
    mask = np.zeros(gray.shape, dtype=bool)
    mask[2:4, 2:12] = True
    uv = np.zeros(gray.shape + (2,))
    uv[..., 0], uv[..., 1] = 0.3, -0.2
    system = build_system(gray, mask)
    assert system.weights[system.weights > 0].min() < 1e-6
    exact = solve_system(system, uv, solver="superlu")
    np.testing.assert_allclose(solve_system(system, uv), exact, atol=1e-4)
    np.testing.assert_allclose(solve_system(system, uv, refine=True), exact, atol=1e-6)
    b = system.rhs(uv)
    plain = default_solver().factor(system, rhs=torch.from_numpy(b)).solution.double().numpy()
    gth = default_solver().factor(system, rhs=torch.from_numpy(b), gth=True).solution.double().numpy()
    err_plain, err_gth = (np.abs(x - exact.reshape(-1, 2)).max() for x in (plain, gth))
    assert err_plain > 5e-5 and err_plain > 20 * err_gth     # GTH's gain: 40x torch, 300x kernel


def test_float32_factors_alone_are_close_and_refinement_improves() -> None:
    system, uv = _problem(48, 48, seed=7, smooth=False)
    b = system.rhs(uv)
    exact = solve_system(system, uv, solver="superlu").reshape(-1, 2)
    lu = default_solver().factor(system)
    x0 = lu.solve_factored(torch.from_numpy(b)).double().numpy()
    err0 = np.abs(x0 - exact).max()
    x1 = x0 + lu.solve_factored(torch.from_numpy(b - apply_matrix(system, x0))).double().numpy()
    assert err0 < 1e-2
    assert np.abs(x1 - exact).max() < err0 / 10


def test_apply_matrix_matches_csr() -> None:
    from tinct.methods.levin.system import build_csr_reference
    rng = np.random.default_rng(0)
    gray, mask = rng.random((9, 13)), rng.random((9, 13)) < 0.2
    x = rng.random((9 * 13, 2))
    np.testing.assert_allclose(apply_matrix(build_system(gray, mask), x),
                               build_csr_reference(gray, mask) @ x, atol=1e-12)


@pytest.mark.parametrize("h,w,leaf", [(1, 1, 36), (17, 23, 36), (64, 40, 4), (100, 3, 16)])
def test_plan_eliminates_every_pixel_exactly_once(h: int, w: int, leaf: int) -> None:
    plan = build_plan(h, w, leaf)
    seen = np.zeros(h * w, dtype=int)
    for level in plan.levels:
        for g in level:
            assert g.sep_idx is not None and g.ring_idx is not None
            np.add.at(seen, g.sep_idx.numpy().ravel(), 1)
            ring = g.ring_idx.numpy()[:, :-1]
            assert ((ring >= 0) & (ring < h * w)).all()
            assert (g.ring_idx.numpy()[:, -1] == h * w).all()        # the trash slot
    assert (seen == 1).all()


def test_unknown_solver_is_rejected() -> None:
    system, uv = _problem(8, 8, seed=0)
    with pytest.raises(ValueError, match="unknown levin solver"):
        solve_system(system, uv, solver="cg")


@pytest.mark.parametrize("min_ring", [0, 10**9])
def test_extend_add_by_runs_equals_scatter(min_ring: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Block additions of contiguous runs (big fronts) and index_add_ (small ones) agree."""
    system, uv = _problem(57, 43, seed=11)
    b = torch.from_numpy(system.rhs(uv))
    reference = default_solver().factor(system, rhs=b, gth=True).solution
    monkeypatch.setattr(fronts, "RUNS_MIN_RING", min_ring)
    other = default_solver().factor(system, rhs=b, gth=True).solution
    assert reference is not None and other is not None
    torch.testing.assert_close(other, reference, atol=1e-6, rtol=0)


def test_runs_cover_a_slot_map_exactly() -> None:
    from tinct.methods.levin.nd_plan import runs
    index = np.array([5, 6, 7, 9, 0, 1, 2, 9, 3, 9])          # trash = 9
    assert runs(index, 9) == [(0, 3, 5), (4, 7, 0), (8, 9, 3)]
    assert runs(np.array([9, 9]), 9) == []


def test_fused_kernel_is_built_and_matches_the_torch_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The C front kernel (built by ``pip install -e .``) and the batched torch path agree to
    float32 rounding on grids whose boxes hit every border pattern, odd sizes and thin strips."""
    from tinct.methods.levin import kernel

    assert kernel.library() is not None, "the _fronts extension was not built (needs a C compiler)"
    for h, w, seed in [(37, 53, 1), (3, 40, 2), (64, 9, 3), (2, 2, 4), (90, 70, 5)]:
        system, uv = _problem(h, w, seed=seed)
        b = torch.from_numpy(system.rhs(uv))
        fused = default_solver().factor(system, rhs=b, gth=True)
        fused_again = fused.solve_factored(b)      # before the next factorization reuses the memory
        monkeypatch.setenv("TINCT_LEVIN_KERNEL", "torch")
        batched = default_solver().factor(system, rhs=b, gth=True)
        monkeypatch.delenv("TINCT_LEVIN_KERNEL")
        assert batched.kernel is None and fused.kernel is not None
        exact = solve_system(system, uv, solver="superlu").reshape(-1, 2)
        for lu in (fused, batched):
            assert np.abs(lu.solution.double().numpy() - exact).max() < 1e-4
        np.testing.assert_allclose(fused.solution.numpy(), batched.solution.numpy(), atol=2e-5)
        # the factors the kernel stores serve later solves (refinement) like the torch ones
        np.testing.assert_allclose(fused_again.numpy(), batched.solve_factored(b).numpy(), atol=2e-5)


def test_fused_kernel_rebuilds_every_pivot(monkeypatch: pytest.MonkeyPatch) -> None:
    """A strip of random gray hangs on links of ~1e-9 inside single leaves: the kernel's GTH
    pivot at every elimination step stays exact there, while the torch path (GTH pivots per
    front, ordinary pivots inside the leaf inverse) is off by 0.24 with a residual small enough
    to pass the check, so there only ``refine=True`` is right."""
    system, uv = _problem(1, 40, seed=2, smooth=False)
    b = torch.from_numpy(system.rhs(uv))
    exact = solve_system(system, uv, solver="superlu").reshape(-1, 2)
    fused = default_solver().factor(system, rhs=b, gth=True).solution.double().numpy()
    monkeypatch.setenv("TINCT_LEVIN_KERNEL", "torch")
    batched = default_solver().factor(system, rhs=b, gth=True).solution.double().numpy()
    assert np.abs(fused - exact).max() < 1e-5
    assert np.abs(batched - exact).max() > 1e-2
    np.testing.assert_allclose(solve_system(system, uv, refine=True), exact.reshape(1, 40, 2), atol=1e-6)
    monkeypatch.delenv("TINCT_LEVIN_KERNEL")
    np.testing.assert_allclose(solve_system(system, uv), exact.reshape(1, 40, 2), atol=1e-5)


def test_compact_factors_solve_like_full_ones() -> None:
    """``keep=False`` (the default single solve) stores only -X and eliminates the root without
    forming its inverse; the solution matches the full factorization, which alone can re-solve."""
    from tinct.methods.levin import kernel

    if kernel.library() is None:
        pytest.skip("compact factors are made by the fused kernel (disabled here)")
    system, uv = _problem(70, 90, seed=11)
    b = torch.from_numpy(system.rhs(uv))
    full = default_solver().factor(system, rhs=b, gth=True)
    compact = default_solver().factor(system, rhs=b, gth=True, keep=False)
    assert full.keep and not compact.keep
    assert compact.arena.numel() < full.arena.numel() / 2
    np.testing.assert_allclose(compact.solution.numpy(), full.solution.numpy(), atol=2e-5)
    with pytest.raises(ValueError, match="keep=True"):
        compact.solve_factored(b)


def test_missing_kernel_build_warns_once_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the compiled extension the solver still works (torch path) and says why it is slower."""
    import importlib.util

    from tinct.methods.levin import kernel

    monkeypatch.setattr(kernel, "_LIB", None)
    monkeypatch.setattr(kernel, "_LOADED", False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.warns(RuntimeWarning, match="not built"):
        assert kernel.library() is None
    system, uv = _problem(30, 40, seed=12)
    lu = default_solver().factor(system, rhs=torch.from_numpy(system.rhs(uv)), gth=True, keep=False)
    assert lu.kernel is None and lu.keep                      # torch path, full factors
    exact = solve_system(system, uv, solver="superlu").reshape(-1, 2)
    assert np.abs(lu.solution.double().numpy() - exact).max() < 1e-4


def test_kernel_on_one_thread_matches_two() -> None:
    from tinct.methods.levin import kernel

    if kernel.library() is None:
        pytest.skip("the fused kernel is disabled here (torch's BLAS may round differently per thread count)")
    system, uv = _problem(80, 60, seed=13)
    b = torch.from_numpy(system.rhs(uv))
    with LevinSolver(threads=2) as two_threads, LevinSolver(threads=1) as one_thread:
        two = two_threads.factor(system, rhs=b, gth=True, keep=False).solution
        one = one_thread.factor(system, rhs=b, gth=True, keep=False).solution
    assert torch.equal(one, two)          # same boxes, same order of operations per box


def test_factors_overwritten_by_a_later_factorization_are_refused() -> None:
    """The factor memory is kept and shared between solves: an older factorization must not
    silently solve with a newer one's factors."""
    a, uv_a = _problem(30, 30, seed=14)
    b, _ = _problem(30, 30, seed=15)
    rhs = torch.from_numpy(a.rhs(uv_a))
    first = default_solver().factor(a)
    x = first.solve_factored(rhs)
    np.testing.assert_allclose(x.double().numpy(), solve_system(a, uv_a, solver="superlu").reshape(-1, 2),
                               atol=1e-3)
    default_solver().factor(b)
    with pytest.raises(RuntimeError, match="overwritten"):
        first.solve_factored(rhs)


def _strip_reference(system, uv: np.ndarray) -> np.ndarray:
    """50-digit solution of a one-row system (tridiagonal: left/right neighbours only), with the
    paper's exact row sums (diagonal = sum of the row's weights), by the Thomas algorithm."""
    mpmath = pytest.importorskip("mpmath")
    from tinct.methods.levin.system import OFFSETS

    mpmath.mp.dps = 50
    n = system.shape[1]
    scribbled = system.scribbled[0]
    wl, wr = ([mpmath.mpf(float(v)) for v in system.weights[OFFSETS.index((0, d)), 0]] for d in (-1, 1))
    b = system.rhs(uv)
    out = []
    for c in range(b.shape[1]):
        lower = [0 if scribbled[i] else -wl[i] for i in range(n)]
        upper = [0 if scribbled[i] else -wr[i] for i in range(n)]
        diag = [mpmath.mpf(1) if scribbled[i] else wl[i] + wr[i] for i in range(n)]
        r = [mpmath.mpf(float(b[i, c])) for i in range(n)]
        for i in range(1, n):
            m = lower[i] / diag[i - 1]
            diag[i] -= m * upper[i - 1]
            r[i] -= m * r[i - 1]
        x = [mpmath.mpf(0)] * n
        x[-1] = r[-1] / diag[-1]
        for i in range(n - 2, -1, -1):
            x[i] = (r[i] - upper[i] * x[i + 1]) / diag[i]
        out.append([float(v) for v in x])
    return np.array(out).T


def test_kernel_is_accurate_where_float64_elimination_is_not() -> None:
    """A row of random gray is a chain of links as weak as ~1e-4 (condition ~1e15). Against a
    50-digit reference, the kernel's float32 solve with a GTH pivot at every step is within 1e-6,
    also with ``refine=True``, while SuperLU in float64 with ordinary pivots is off by 0.07-0.8
    (measured)."""
    from tinct.methods.levin import kernel

    if kernel.library() is None:
        pytest.skip("needs the fused kernel")
    for seed in (3, 4):
        rng = np.random.default_rng(seed)
        gray = rng.random((1, 2000))
        mask = rng.random((1, 2000)) < 0.03
        mask[0, 0] = True
        uv = rng.uniform(-0.4, 0.4, (1, 2000, 2))
        system = build_system(gray, mask)
        reference = _strip_reference(system, uv)
        fast = solve_system(system, uv).reshape(-1, 2)
        assert np.abs(fast - reference).max() < 1e-6
        # float64 refinement cannot help at this conditioning (it diverges); the GTH solve stands
        refined = solve_system(system, uv, refine=True).reshape(-1, 2)
        assert np.abs(refined - reference).max() < 1e-6
        superlu = solve_system(system, uv, solver="superlu").reshape(-1, 2)
        assert np.abs(superlu - reference).max() > 1e-2


@pytest.mark.parametrize("own", [False, True])
def test_solves_from_several_threads_do_not_share_memory_at_once(own: bool) -> None:
    """A solver's factor memory is kept and shared by its solves: concurrent solves (a library used
    from threads) on the default solver or on one shared solver are serialized and each gets its
    own right answer."""
    from concurrent.futures import ThreadPoolExecutor

    problems = [_problem(40 + 7 * i, 50, seed=20 + i) for i in range(4)]
    exact = [solve_system(s, uv, solver="superlu") for s, uv in problems]
    solve = LevinSolver().solve if own else solve_system
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda p: solve(*p), problems * 2))
    for i, x in enumerate(got):
        np.testing.assert_allclose(x, exact[i % 4], atol=1e-4)


def test_separate_solvers_keep_separate_memory() -> None:
    """Factors of one solver survive a factorization by another (each owns its memory)."""
    a, uv_a = _problem(30, 30, seed=14)
    b, _ = _problem(30, 30, seed=15)
    rhs = torch.from_numpy(a.rhs(uv_a))
    with LevinSolver() as first, LevinSolver() as second:
        lu = first.factor(a)
        second.factor(b)
        default_solver().factor(b)
        x = lu.solve_factored(rhs).double().numpy()
        assert first.kept_bytes > 0 and second.kept_bytes > 0
    np.testing.assert_allclose(x, solve_system(a, uv_a, solver="superlu").reshape(-1, 2), atol=1e-3)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the resident size from /proc")
def test_release_gives_the_kept_memory_back() -> None:
    """A server keeps a solver between requests: after ``release()`` the process's resident memory
    is back where it was before the solve (measured: +143 MB after a 500 x 500 solve, 119 MB of it
    kept buffers; +3 MB after release), and the solver's threads are gone."""
    system, uv = _problem(500, 500, seed=21, frac=0.01)
    solver = LevinSolver(threads=2)
    solver.solve(system, uv)                # first use: library pages, lazily made torch state
    solver.release()
    gc.collect()
    before = _rss_bytes()
    x = solver.solve(system, uv)
    gc.collect()
    kept, held = solver.kept_bytes, _rss_bytes() - before
    assert kept > 60e6 and held > 0.6 * kept, (kept, held)      # the kept buffers are resident
    solver.release()
    gc.collect()
    assert solver.kept_bytes == 0 and not solver.pool.started
    assert _rss_bytes() - before < 0.25 * held, (held, _rss_bytes() - before)
    np.testing.assert_array_equal(solver.solve(system, uv), x)         # still usable, same answer
    solver.release()


def test_solves_change_no_global_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """No garbage-collector switch and no change of torch's thread count, in the calling thread or
    for threads started later (the solver's workers set their own count only), on every path."""
    from tinct.methods.levin import kernel

    def fresh_thread_count() -> int:
        seen: list[int] = []
        t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        t.start()
        t.join()
        return seen[0]

    def forbidden(*args: object) -> None:
        raise AssertionError("the solver changed process-wide state")

    system, uv = _problem(70, 90, seed=17)
    threads, fresh, collecting = torch.get_num_threads(), fresh_thread_count(), gc.isenabled()
    for name in ("disable", "enable", "freeze", "set_threshold"):
        monkeypatch.setattr(gc, name, forbidden)
    monkeypatch.setattr(torch, "set_num_threads", forbidden)
    for solver in (LevinSolver(threads=2), LevinSolver(threads=1)):
        for torch_path in (False, True):
            with kernel.disabled(torch_path):
                solver.solve(system, uv)
                solver.solve(system, uv, refine=True)
            assert torch.get_num_threads() == threads and fresh_thread_count() == fresh
            assert gc.isenabled() == collecting
        solver.release()


def test_kernel_disabled_block_restores_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from tinct.methods.levin import kernel

    monkeypatch.delenv("TINCT_LEVIN_KERNEL", raising=False)
    system, uv = _problem(20, 20, seed=16)
    b = torch.from_numpy(system.rhs(uv))
    with kernel.disabled():
        assert default_solver().factor(system, rhs=b, gth=True).kernel is None
    assert "TINCT_LEVIN_KERNEL" not in os.environ
    monkeypatch.setenv("TINCT_LEVIN_KERNEL", "auto")
    with kernel.disabled(False):
        pass
    assert os.environ["TINCT_LEVIN_KERNEL"] == "auto"
