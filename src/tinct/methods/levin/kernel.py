"""ctypes bridge to the fused C front kernel (``_fronts.c``) of the multifrontal solver.

The extension is compiled when the package is installed (``pip install -e .``); if it is
missing (no C compiler at install time) or ``TINCT_LEVIN_KERNEL=torch`` is set, :func:`library`
returns ``None`` and the solver runs every front with batched torch ops (GTH pivots per front
only: slower and less accurate, see the accuracy/speed table in docs/methods/levin.md; a missing
build is reported once as a ``RuntimeWarning``).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from ctypes import c_int64, c_void_p

import torch

__all__ = ["GroupArgs", "LinkArgs", "disabled", "library", "pointer"]

_LIB: ctypes.CDLL | None = None
_LOADED = False


class LinkArgs(ctypes.Structure):
    """``tinct_link``: one child's Schur blocks / carries and its slot maps into the parent."""

    _fields_ = [("upd", c_void_p), ("carry", c_void_p), ("slots", c_void_p), ("ring", c_void_p),
                ("slot_runs", c_void_p), ("ring_runs", c_void_p), ("n_slot_runs", c_int64),
                ("n_ring_runs", c_int64), ("q", c_int64), ("a0", c_int64), ("n", c_int64), ("p0", c_int64)]


class GroupArgs(ctypes.Structure):
    """``tinct_group``: everything the kernel reads and writes for one group of boxes."""

    _fields_ = [("s", c_int64), ("r", c_int64), ("C", c_int64), ("block", c_int64), ("n_entries", c_int64),
                ("n_links", c_int64), ("gth", c_int64), ("compact", c_int64),
                ("weights", c_void_p), ("base", c_void_p), ("entry_src", c_void_p), ("entry_pos", c_void_p),
                ("blocks", c_void_p),
                ("upd", c_void_p), ("rhs", c_void_p), ("sep_idx", c_void_p), ("y", c_void_p),
                ("carry", c_void_p), ("links", LinkArgs * 2)]


def pointer(t: torch.Tensor | None, offset: int = 0) -> int | None:
    """Address of element ``offset`` of a contiguous tensor (``None`` for ``None``)."""
    if t is None:
        return None
    assert t.is_contiguous() or offset == 0
    return t.data_ptr() + offset * t.element_size()


def library() -> ctypes.CDLL | None:
    """The compiled kernel library, or ``None`` if unavailable or disabled (``TINCT_LEVIN_KERNEL=torch``)."""
    global _LIB, _LOADED
    if os.environ.get("TINCT_LEVIN_KERNEL", "").lower() == "torch":
        return None
    if not _LOADED:
        _LOADED = True
        try:
            spec = importlib.util.find_spec("tinct.methods.levin._fronts")
            if spec is not None and spec.origin:
                lib = ctypes.CDLL(spec.origin)
                lib.tinct_factor_boxes.argtypes = [ctypes.POINTER(GroupArgs), c_int64, c_int64]
                lib.tinct_factor_boxes.restype = ctypes.c_int
                lib.tinct_backward_boxes.argtypes = [c_int64] * 7 + [c_void_p] * 5 + [c_int64] * 2
                lib.tinct_backward_boxes.restype = ctypes.c_int
                _LIB = lib
        except (ImportError, OSError, AttributeError):
            _LIB = None
        if _LIB is None:
            warnings.warn("tinct's compiled Levin kernel (tinct.methods.levin._fronts) is not built, so the "
                          "solver runs its batched torch path (~2x slower). Reinstall with a C compiler "
                          "available (e.g. 'pip install -e .' after 'apt install gcc').",
                          RuntimeWarning, stacklevel=2)
    return _LIB


@contextmanager
def disabled(off: bool = True) -> Iterator[None]:
    """Within the block, solvers made with ``off`` true use the batched torch path.

    Sets ``TINCT_LEVIN_KERNEL=torch`` for the block and restores the previous value after it.
    """
    saved = os.environ.get("TINCT_LEVIN_KERNEL")
    if off:
        os.environ["TINCT_LEVIN_KERNEL"] = "torch"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TINCT_LEVIN_KERNEL", None)
        else:
            os.environ["TINCT_LEVIN_KERNEL"] = saved
