"""Geometry of the batched multifrontal solver: the nested-dissection tree of a pixel grid.

A *box* is a rectangle of pixels still to be eliminated. A box larger than the leaf size is
split at its middle row (or column, whichever side is longer): that row is the box's
*separator*; the two halves are its children. A 9-point stencil never couples the two halves
directly, so eliminating the halves first and the separator last keeps all fill inside small
dense *fronts*. The front of a box holds its separator pixels (``s`` slots, eliminated here) and
its *ring*: the one-pixel frame around the box clipped to the image (``r`` slots), which always
consists of ancestors' separator pixels. One extra *trash* slot (index ``r`` in ring space) lets
every scatter use a single index array: contributions that must be dropped go there.

Boxes of one depth with the same shape and the same image-border pattern (which ring sides
exist) share one :class:`Template`; the numeric code processes such a *group* as one batch.
Everything here depends only on the grid size, so a plan is cached and reused across images
(by :meth:`LevinSolver.plan <tinct.methods.levin.solver.LevinSolver.plan>`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from tinct.methods.levin.system import OFFSETS

Key = tuple[int, int, bool, bool, bool, bool]   # (h, w, ring top, bottom, left, right)


def is_leaf(h: int, w: int, leaf: int) -> bool:
    """Whether an ``h x w`` box is eliminated whole."""
    return h * w <= leaf or max(h, w) < 3


def children(key: Key) -> list[tuple[Key, int, int]]:
    """The two halves of a box: ``(child key, dy, dx)`` offsets relative to the box origin."""
    h, w, top, bot, left, right = key
    if h >= w:
        m = (h - 1) // 2
        return [((m, w, top, True, left, right), 0, 0), ((h - m - 1, w, True, bot, left, right), m + 1, 0)]
    m = (w - 1) // 2
    return [((h, m, top, bot, left, True), 0, 0), ((h, w - m - 1, top, bot, True, right), 0, m + 1)]


@dataclass
class Template:
    """Front layout of one box shape + border pattern; coordinates relative to the box origin.

    The entry arrays give, for every original matrix entry assembled in this front, its flat
    position in the per-box factor block and the offset of its weight ``W[k, y, x]`` in the flat
    pixel-major ``(H, W, 8)`` weights, relative to ``8 x`` the box origin's flat pixel index.
    """

    s: int
    r: int
    sep: np.ndarray            # (s, 2) separator pixels (y, x)
    ring: np.ndarray           # (r, 2) ring pixels
    slot: np.ndarray           # (h + 2, w + 2) front slot of pixel (y + 1, x + 1); -1 if none
    entry_pos: np.ndarray      # (E,) position in the per-box factor block (value -w)
    entry_src: np.ndarray      # (E,) offset of that w in the flat (H, W, 8) weights
    entry_pos_t: torch.Tensor = field(init=False, repr=False)   # the same as int64 tensors, made once
    entry_src_t: torch.Tensor = field(init=False, repr=False)   # (threads share them: never rebuilt)

    def __post_init__(self) -> None:
        self.entry_pos_t = torch.from_numpy(np.ascontiguousarray(self.entry_pos, dtype=np.int64))
        self.entry_src_t = torch.from_numpy(np.ascontiguousarray(self.entry_src, dtype=np.int64))

    @property
    def block(self) -> int:
        """Per-box factor block: ``[F1 = [F11 | F12] (s x (s + r + 1)) | F21 ((r + 1) x s)]``."""
        return 2 * self.s * (self.s + self.r + 1) - self.s * self.s


def make_template(key: Key, leaf: int, width: int) -> Template:
    """Build the :class:`Template` of ``key`` on an image ``width`` wide."""
    h, w, top, bot, left, right = key
    if is_leaf(h, w, leaf):
        sep = np.stack(np.mgrid[0:h, 0:w], axis=-1).reshape(-1, 2)
    elif h >= w:
        sep = np.stack([np.full(w, (h - 1) // 2), np.arange(w)], axis=1)
    else:
        sep = np.stack([np.arange(h), np.full(h, (w - 1) // 2)], axis=1)
    xs = np.arange(-1 if left else 0, w + 1 if right else w)
    parts = [np.zeros((0, 2), dtype=np.int64)]
    if top:
        parts.append(np.stack([np.full(xs.size, -1), xs], axis=1))
    if bot:
        parts.append(np.stack([np.full(xs.size, h), xs], axis=1))
    if left:
        parts.append(np.stack([np.arange(h), np.full(h, -1)], axis=1))
    if right:
        parts.append(np.stack([np.arange(h), np.full(h, w)], axis=1))
    ring = np.concatenate(parts)
    s, r = len(sep), len(ring)
    slot = np.full((h + 2, w + 2), -1, dtype=np.int64)
    slot[sep[:, 0] + 1, sep[:, 1] + 1] = np.arange(s)
    slot[ring[:, 0] + 1, ring[:, 1] + 1] = s + np.arange(r)
    # per-box block layout: [F1 = [F11 | F12] (s rows of f + 1) | F21 ((r + 1) rows of s)]
    o21 = s * (s + r + 1)
    pos, src = [], []
    opposite = {off: k for k, off in enumerate(OFFSETS)}
    rows = np.arange(s)
    for k, (dy, dx) in enumerate(OFFSETS):
        qy, qx = sep[:, 0] + dy, sep[:, 1] + dx
        inside = (qy >= -1) & (qy <= h) & (qx >= -1) & (qx <= w)
        j = np.full(s, -1)
        j[inside] = slot[qy[inside] + 1, qx[inside] + 1]
        src_p = (sep[:, 0] * width + sep[:, 1]) * 8 + k             # W[k, p]: row p towards q
        in_ring = j >= s
        use = j >= 0
        pos.append(rows[use] * (s + r + 1) + j[use])
        src.append(src_p[use])
        kq = opposite[(-dy, -dx)]                                     # W[k', q]: row q towards p
        pos.append(o21 + (j[in_ring] - s) * s + rows[in_ring])
        src.append((qy[in_ring] * width + qx[in_ring]) * 8 + kq)
    return Template(s, r, sep, ring, slot, np.concatenate(pos), np.concatenate(src))


Run = tuple[int, int, int]
"""``(c0, c1, p0)``: child slots ``c0:c1`` map one to one onto parent slots ``p0:p0 + c1 - c0``."""


def runs(index: np.ndarray, trash: int) -> list[Run]:
    """Split a slot map into maximal runs of consecutive slots mapped to consecutive slots.

    A child's ring is a few sides of pixels, each landing as one piece on a side of the parent's
    ring or separator, so a map has at most ~5 runs: extend-add by runs is a few block additions
    of contiguous rows instead of a scatter with one index per entry.
    """
    keep = np.flatnonzero(index != trash)
    if keep.size == 0:
        return []
    breaks = np.flatnonzero((np.diff(keep) != 1) | (np.diff(index[keep]) != 1)) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [keep.size]])
    return [(int(keep[a]), int(keep[e - 1]) + 1, int(index[keep[a]]))
            for a, e in zip(starts, ends, strict=True)]


@dataclass
class ChildLink:
    """How one child's Schur complement ``S_c`` and forward-pass carry enter its parent's front.

    The child's ring slots that lie on the parent's separator form one contiguous run
    ``[a0, a0 + n)`` that lands on parent separator slots ``[p0, p0 + n)`` (the half's side
    facing the separator). So ``S_c`` splits into: its rows in that run -> rows of
    ``[F11 | F12]`` (columns through ``slots``); its columns in that run -> columns of ``F21``
    (rows through ``ring_rows``); and everything else -> the parent's own ``S`` (rows and
    columns through ``ring_rows``). Slots with no place there go to the trash row/column.
    """

    key: Key                   # the child's group at the next depth
    start: int                 # first box of this parent group's children inside that group
    slots: torch.Tensor        # (rc + 1,) child ring slot -> parent front slot (f = trash)
    a0: int
    p0: int
    n: int
    ring_rows: torch.Tensor    # (rc + 1,) child slot -> parent ring index, i.e. row of F21 and
                               # row/column of S (r = trash, also for separator slots)
    ring_runs: list[Run] = field(default_factory=list)   # ring_rows as runs (trash left out)
    slot_runs: list[Run] = field(default_factory=list)   # slots as runs (trash left out)
    runs_t: tuple[torch.Tensor, torch.Tensor] = field(init=False, repr=False)
    """``(slot_runs, ring_runs)`` as int64 ``(n, 3)`` tensors for the fused kernel (made once: the
    kernel's threads hold raw pointers to them)."""

    def __post_init__(self) -> None:
        self.runs_t = tuple(torch.from_numpy(np.array(rs, dtype=np.int64).reshape(-1, 3))
                            for rs in (self.slot_runs, self.ring_runs))


def link(parent: Template, child: Template, dy: int, dx: int, key: Key, start: int) -> ChildLink:
    """Index maps from a child at offset ``(dy, dx)`` into its parent's front."""
    s, r = parent.s, parent.r
    f = s + r
    slots = parent.slot[child.ring[:, 0] + dy + 1, child.ring[:, 1] + dx + 1]
    assert (slots >= 0).all(), "a child's ring must lie in its parent's separator or ring"
    slots = np.append(slots, f)                                       # trash -> trash
    run = np.flatnonzero(slots < s)
    a0, n = int(run[0]), run.size
    p0 = int(slots[a0])
    assert (run == a0 + np.arange(n)).all() and (slots[run] == p0 + np.arange(n)).all()
    ring_row = np.where((slots >= s) & (slots < f), slots - s, r)
    return ChildLink(key, start, torch.from_numpy(slots), a0, p0, n, torch.from_numpy(ring_row),
                     runs(ring_row, r), runs(slots, f))


@dataclass
class Group:
    """All boxes of one depth sharing a template, with batched index tensors."""

    key: Key
    origins: np.ndarray                                   # (B, 2) box origins (y0, x0)
    tpl: Template | None = None
    links: list[ChildLink] = field(default_factory=list)
    base: torch.Tensor | None = None                      # (B,) flat pixel index of the box origins
    src_idx: torch.Tensor | None = None                   # (B, E) weight index of each original entry
                                                          # (int32 below 2**31 weights), made on demand
    sep_idx: torch.Tensor | None = None                   # (B, s) flat pixel index
    ring_idx: torch.Tensor | None = None                  # (B, r + 1) flat pixel index, trash = H*W
    update_at: int = 0                                    # offset of its Schur complements (level buffer)

    def entry_index(self, plane: int) -> torch.Tensor:
        """:attr:`src_idx` for an image of ``plane = H * W`` pixels, made on first use."""
        if self.src_idx is None:
            assert self.tpl is not None and self.base is not None
            dtype = np.int32 if 8 * plane < 2**31 else np.int64    # gathers read half the bytes
            src = 8 * self.base.numpy()[:, None] + self.tpl.entry_src[None, :]
            self.src_idx = torch.from_numpy(src.astype(dtype))
        return self.src_idx

    @property
    def sizes(self) -> tuple[int, int, int]:
        """``(B, s, r)``: boxes, separator slots, ring slots (without trash)."""
        assert self.tpl is not None
        return len(self.origins), self.tpl.s, self.tpl.r


@dataclass
class Plan:
    """The elimination tree of an ``H x W`` grid: ``levels[0]`` is the root depth."""

    h: int
    w: int
    levels: list[list[Group]]
    update_size: int           # elements of one level's Schur complements: max of sum B (r + 1)^2


def build_plan(h: int, w: int, leaf: int) -> Plan:
    """The nested-dissection tree of an ``h x w`` grid with leaves of at most ``leaf`` pixels."""
    cache: dict[Key, Template] = {}

    def tpl_of(key: Key) -> Template:
        if key not in cache:
            cache[key] = make_template(key, leaf, w)
        return cache[key]

    levels = [[Group(key=(h, w, False, False, False, False), origins=np.zeros((1, 2), dtype=np.int64))]]
    while True:
        nxt: dict[Key, list[np.ndarray]] = {}
        counts: dict[Key, int] = {}
        for g in levels[-1]:
            tpl = g.tpl = tpl_of(g.key)
            base = g.origins[:, 0] * w + g.origins[:, 1]
            g.base = torch.from_numpy(base)
            g.sep_idx = torch.from_numpy(base[:, None] + (tpl.sep[:, 0] * w + tpl.sep[:, 1])[None, :])
            ring_flat = np.append(tpl.ring[:, 0] * w + tpl.ring[:, 1], 0)
            ring_idx = base[:, None] + ring_flat[None, :]
            ring_idx[:, -1] = h * w
            g.ring_idx = torch.from_numpy(ring_idx)
            if is_leaf(g.key[0], g.key[1], leaf):
                continue
            for ck, dy, dx in children(g.key):
                start = counts.get(ck, 0)
                g.links.append(link(tpl, tpl_of(ck), dy, dx, ck, start))
                nxt.setdefault(ck, []).append(g.origins + np.array([dy, dx]))
                counts[ck] = start + len(g.origins)
        if not nxt:
            break
        levels.append([Group(key=k, origins=np.concatenate(v)) for k, v in nxt.items()])
    update_size = 0
    for level in levels:
        at = 0
        for g in level:
            b, _, r = g.sizes
            g.update_at = at
            at += b * (r + 1) ** 2
        update_size = max(update_size, at)
    return Plan(h, w, levels, update_size)
