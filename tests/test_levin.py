"""Levin et al. 2004: system build, exact solver, known answers, luma, sizes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla

from tinct.color import rgb_to_luma, rgb_to_yuv
from tinct.errors import TinctError
from tinct.methods.levin import LevinColorizer, levin_chroma
from tinct.methods.levin.solve import compact_csr, nested_dissection, solve_system
from tinct.methods.levin.solver import LevinSolver
from tinct.methods.levin.system import build_csr_reference, build_system, to_csr
from tinct.registry import Hints, load_method


def _yuv(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_yuv(np.asarray(rgb, dtype=np.float64))


def _scribbles(rgb: np.ndarray, n: int, rng: np.random.Generator) -> Hints:
    h, w = rgb.shape[:2]
    mask = np.zeros((h, w), dtype=bool)
    for _ in range(n):
        y, x = rng.integers(0, h), rng.integers(0, w)
        mask[y, max(0, x - 3): x + 3] = True
    return Hints(color=rgb.astype(np.float32), mask=mask)


def test_weights_match_reference_code_at_one_pixel() -> None:
    """Eq. 2 with getColorExact.m's constants, recomputed by hand at an interior pixel."""
    g = np.random.default_rng(1).random((5, 6))
    s = build_system(g, np.zeros(g.shape, dtype=bool))
    win = g[1:4, 1:4].ravel()
    centre, neigh = win[4], np.delete(win, 4)
    csig = max(0.6 * np.var(win), np.min((neigh - centre) ** 2) / -np.log(0.01), 2e-6)
    wts = np.exp(-((neigh - centre) ** 2) / csig)
    np.testing.assert_allclose(s.weights[:, 2, 2], wts / wts.sum(), rtol=1e-12)
    np.testing.assert_allclose(s.weights.sum(axis=0), 1.0, rtol=1e-12)
    assert s.weights[:, 0, 0].tolist().count(0.0) == 5      # corner: 3 neighbours only


def test_fast_matrix_equals_straightforward_build(rng: np.random.Generator) -> None:
    g = rng.random((23, 31))
    mask = rng.random(g.shape) < 0.05
    s = build_system(g, mask)
    ref = build_csr_reference(g, mask)
    assert abs(compact_csr(s) - ref).max() == 0.0
    assert abs(to_csr(s) - ref).max() == 0.0


def test_nested_dissection_is_a_permutation() -> None:
    order = nested_dissection(37, 53)
    assert np.array_equal(np.sort(order), np.arange(37 * 53))


def test_solver_matches_spsolve(small_rgb: np.ndarray, rng: np.random.Generator) -> None:
    yuv = _yuv(small_rgb)
    mask = rng.random(yuv.shape[:2]) < 0.02
    s = build_system(yuv[..., 0], mask)
    fast = solve_system(s, yuv[..., 1:])
    refined = solve_system(s, yuv[..., 1:], refine=True)
    ref = spla.spsolve(build_csr_reference(yuv[..., 0], mask).tocsc(), s.rhs(yuv[..., 1:]))
    assert np.abs(fast.reshape(-1, 2) - ref).max() < 1e-4
    assert np.abs(refined.reshape(-1, 2) - ref).max() < 1e-8


def test_two_flat_regions_take_their_scribble_chroma() -> None:
    gray = np.full((40, 60), 0.3, dtype=np.float32)
    gray[:, 30:] = 0.7
    colors = np.zeros((40, 60, 3), dtype=np.float32)
    mask = np.zeros((40, 60), dtype=bool)
    # scribble colours whose luma equals the region's gray, so the chroma is exactly reachable
    red, blue = np.array([0.6, 0.15, 0.25]), np.array([0.45, 0.75, 0.95])
    red += 0.3 - rgb_to_luma(red)
    blue += 0.7 - rgb_to_luma(blue)
    mask[18:22, 8:12], colors[18:22, 8:12] = True, red
    mask[18:22, 48:52], colors[18:22, 48:52] = True, blue
    out = LevinColorizer().colorize(gray, hints=Hints(colors, mask))
    uv = _yuv(out)[..., 1:]
    np.testing.assert_allclose(uv[:, :29], np.broadcast_to(_yuv(red)[1:], (40, 29, 2)), atol=1e-2)
    np.testing.assert_allclose(uv[:, 31:], np.broadcast_to(_yuv(blue)[1:], (40, 29, 2)), atol=1e-2)
    np.testing.assert_allclose(out[mask], colors[mask], atol=1e-5)     # scribbles reproduced


def test_constant_scribbles_give_constant_chroma(small_rgb: np.ndarray, rng: np.random.Generator) -> None:
    gray = rgb_to_luma(small_rgb)
    mask = rng.random(gray.shape) < 0.03
    colors = np.zeros(gray.shape + (3,), dtype=np.float32)
    uv = np.array([0.05, -0.04])
    uv_all = levin_chroma(gray, mask, np.broadcast_to(uv, gray.shape + (2,)))
    np.testing.assert_allclose(uv_all, np.broadcast_to(uv, uv_all.shape), atol=1e-6)   # float32 solve
    refined = levin_chroma(gray, mask, np.broadcast_to(uv, gray.shape + (2,)), refine=True)
    np.testing.assert_allclose(refined, np.broadcast_to(uv, uv_all.shape), atol=1e-9)
    del colors


def test_levin_chroma_solves_with_the_given_solver(small_rgb: np.ndarray, rng: np.random.Generator) -> None:
    """A colorizer can own a solver (and release its memory); the answer is the default solver's."""
    gray = rgb_to_luma(small_rgb)
    mask = rng.random(gray.shape) < 0.03
    uv = _yuv(small_rgb)[..., 1:]
    with LevinSolver(threads=1) as solver:
        own = levin_chroma(gray, mask, uv, solver=solver)
        assert solver.kept_bytes > 0
        coarse = levin_chroma(gray, mask, uv, max_pixels=1000, solver=solver)     # downsampled path
    assert solver.kept_bytes == 0
    np.testing.assert_array_equal(own, levin_chroma(gray, mask, uv))
    np.testing.assert_array_equal(coarse, levin_chroma(gray, mask, uv, max_pixels=1000))


def test_task_threads_run_torch_single_threaded() -> None:
    """The pool's workers run torch ops on one thread each; nobody else's count changes."""
    import torch

    from tinct.methods.levin import runtime

    if runtime._thread_controls() is None:
        pytest.skip("torch's OpenMP runtime is not reachable here (the workers keep torch's default)")
    pool = runtime.TaskPool(2)
    seen: list[int] = []
    pool.run([lambda: seen.append(torch.get_num_threads()) for _ in range(4)])
    pool.shutdown()
    assert seen == [1, 1, 1, 1]
    threads = torch.get_num_threads()
    with runtime.single_threaded():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == threads


def test_keeps_luma_exactly(small_rgb: np.ndarray, rng: np.random.Generator) -> None:
    gray = rgb_to_luma(small_rgb)
    out = load_method("levin").colorize(gray, hints=_scribbles(small_rgb, 20, rng))
    assert np.abs(rgb_to_luma(out.astype(np.float64)) - gray).max() < 1e-5
    assert out.dtype == np.float32 and out.shape == small_rgb.shape


def test_no_scribbles_gives_gray(small_rgb: np.ndarray) -> None:
    gray = rgb_to_luma(small_rgb)
    out = LevinColorizer().colorize(gray, hints=Hints(small_rgb, np.zeros(gray.shape, dtype=bool)))
    np.testing.assert_allclose(out, np.repeat(gray[..., None], 3, axis=2), atol=1e-6)


def test_sixteen_bit_input(small_rgb: np.ndarray, rng: np.random.Generator) -> None:
    rgb16 = np.round(small_rgb * 65535).astype(np.uint16)
    rgb = rgb16.astype(np.float32) / 65535
    gray = rgb_to_luma(rgb)
    out = LevinColorizer().colorize(gray, hints=_scribbles(rgb, 15, rng))
    assert np.isfinite(out).all()
    assert np.abs(rgb_to_luma(out.astype(np.float64)) - gray).max() < 1e-5


def test_downsampled_path_for_large_images(rng: np.random.Generator) -> None:
    """Above max_pixels the chroma is solved on a coarser grid; still colours and keeps luma."""
    y, x = np.mgrid[0:90, 0:120]
    rgb = np.stack([0.5 + 0.3 * np.sin(x / 15), 0.5 + 0.3 * np.cos(y / 11), np.full(x.shape, 0.4)], -1)
    gray = rgb_to_luma(rgb).astype(np.float32)
    hints = _scribbles(rgb, 40, rng)
    full = LevinColorizer().colorize(gray, hints=hints)
    small = LevinColorizer(max_pixels=3000).colorize(gray, hints=hints)
    assert np.abs(rgb_to_luma(small.astype(np.float64)) - gray).max() < 1e-5
    assert np.abs(full - small).mean() < 0.02


@pytest.mark.slow
def test_large_image_2000x1500(rng: np.random.Generator) -> None:
    y, x = np.mgrid[0:1500, 0:2000]
    rgb = np.stack([0.5 + 0.3 * np.sin(x / 150), 0.5 + 0.3 * np.cos(y / 110), np.full(x.shape, 0.4)], -1)
    gray = rgb_to_luma(rgb).astype(np.float32)
    out = LevinColorizer().colorize(gray, hints=_scribbles(rgb, 500, rng))
    assert out.shape == (1500, 2000, 3)
    assert np.abs(rgb_to_luma(out.astype(np.float64)) - gray).max() < 1e-5


def test_missing_hints_is_a_clear_error(small_rgb: np.ndarray) -> None:
    with pytest.raises(TinctError, match="needs colour scribbles"):
        LevinColorizer().colorize(rgb_to_luma(small_rgb))
    with pytest.raises(TinctError, match="max_pixels"):
        LevinColorizer(max_pixels=1)
    with pytest.raises(TinctError, match="refine' must be true or false"):
        LevinColorizer(refine="maybe")  # type: ignore[arg-type]


def test_colorizer_owns_its_solver_and_releases_it(small_rgb: np.ndarray, rng: np.random.Generator) -> None:
    gray = rgb_to_luma(small_rgb)
    hints = _scribbles(small_rgb, 20, rng)
    a, b = LevinColorizer(), LevinColorizer()
    assert a.solver is not b.solver
    first = a.colorize(gray, hints=hints)
    assert a.solver.kept_bytes > 0
    a.release()
    assert a.solver.kept_bytes == 0
    np.testing.assert_array_equal(a.colorize(gray, hints=hints), first)  # usable after release


def test_refine_option_moves_the_result_by_less_than_float32_noise(small_rgb: np.ndarray,
                                                                  rng: np.random.Generator) -> None:
    gray = rgb_to_luma(small_rgb)
    hints = _scribbles(small_rgb, 20, rng)
    fast = load_method("levin").colorize(gray, hints=hints)
    refined = load_method("levin", refine=True).colorize(gray, hints=hints)
    assert np.abs(fast - refined).max() < 1e-4


def test_downsampled_path_in_strips_equals_the_whole_formula(small_rgb: np.ndarray, rng: np.random.Generator,
                                                             monkeypatch) -> None:
    """Above max_pixels the block means, the upsampling and the composition run in row strips: the
    same result as the whole-image block means + cv2.resize (to float rounding)."""
    import cv2

    import tinct.methods.levin as levin
    from tinct.color import compose_luma_chroma

    gray = rgb_to_luma(small_rgb).astype(np.float32)
    h, w = gray.shape
    mask = rng.random(gray.shape) < 0.03
    uv = _yuv(small_rgb)[..., 1:]
    k = levin.block_size(h, w, 1000)
    assert k > 1
    hits = levin._block_mean(mask.astype(np.float64), k)
    mean_uv = levin._block_mean(np.where(mask[..., None], uv, 0.0), k) / np.maximum(hits, 1e-12)[..., None]
    with LevinSolver(threads=1) as solver:
        small = solver.solve(build_system(levin._block_mean(gray, k), hits > 0, solver.pool), mean_uv)
    whole = np.stack([cv2.resize(small[..., c].astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
                      for c in range(2)], axis=-1)
    monkeypatch.setattr(levin, "STRIP_ROWS", 2 * k + 1)  # strips of 2 block rows
    np.testing.assert_allclose(levin_chroma(gray, mask, uv, max_pixels=1000), whole, atol=1e-6)
    color = np.where(mask[..., None], small_rgb, 0.5).astype(np.float32)
    out = LevinColorizer(max_pixels=1000).colorize(gray, hints=Hints(color=color, mask=mask))
    np.testing.assert_allclose(out, compose_luma_chroma(gray, whole), atol=1e-5)
