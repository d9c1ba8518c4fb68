/* Fused front kernel of tinct's multifrontal Levin solver (see multifrontal.py, kernel.py).
 *
 * For the many small fronts of the lower tree depths, the batched torch path spends its time in
 * per-call overhead and in passes over memory (assemble, extend-add, inverse, X, S, forward
 * substitution are each a separate batched op). This kernel does all of them for one box while
 * its front sits in L1/L2 cache, box after box. It is called through ctypes (which releases the
 * GIL), one call per task thread and group row range. C99 + GCC vector extensions, float32.
 *
 * Per box, in a scratch matrix M whose rows are [F11 | F12 | pad | acc_sep | pad] (width W, a
 * multiple of 16 floats) and a scratch F21:
 *   1. assemble the original entries (-w), 1 on the diagonal, the right-hand side;
 *   2. extend-add the children's Schur complements (by contiguous runs) and their carries;
 *   3. Gauss-Jordan without row exchanges, in panels of 4 pivots (rank-4 updates of the other
 *      rows), with GTH pivots: before step k the pivot is rebuilt as leak_k minus the sum of row
 *      k over the uneliminated columns, the leak (row sum of A) being the last right-hand-side
 *      column. Then M holds [F11^-1 | X = F11^-1 F12 | y = F11^-1 acc_sep] (with `compact`, the
 *      F11^-1 columns are left stale: only X and y are wanted);
 *   4. write the factors in the arena layout of the torch path,
 *        block = [F1 = [F11^-1 | -X | 0] (s rows of s + r + 1) | F21 ((r + 1) rows of s)],
 *      or with `compact` only -X (s rows of r), and y;
 *   5. S = -F21 X (4 x 32 register blocks) + the children's ring-ring parts, the update passed
 *      to the parent, and the carry acc_ring - F21 y.
 * Build with -DNOCLONE to get one plain version (e.g. for sanitizers).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(NOCLONE)
/* one build runs well on any x86-64: AVX-512, AVX2 + FMA, or baseline SSE, picked at load time */
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif
#define INLINE static inline __attribute__((always_inline))
#define RESTRICT __restrict__

typedef float v16 __attribute__((vector_size(64), aligned(4), may_alias));
#define LANES 16
#define PANEL 4

typedef struct {
    const float *upd;        /* child Schur blocks for this group's box 0; stride q * q */
    const float *carry;      /* child carries for this group's box 0; stride q * C */
    const int64_t *slots;    /* (q,) child slot -> parent front slot (s + r = trash) */
    const int64_t *ring;     /* (q,) child slot -> parent ring row (r = trash) */
    const int64_t *slot_runs, *ring_runs;  /* (n, 3) runs (c0, c1, p0) of slots / ring */
    int64_t n_slot_runs, n_ring_runs;
    int64_t q, a0, n, p0;    /* q = child's r + 1; child slots a0:a0+n lie on the separator at p0 */
} tinct_link;

typedef struct {
    int64_t s, r, C, block, n_entries, n_links, gth;
    int64_t compact;            /* store only -X (block = s * r) instead of the full factors */
    const float *weights;       /* negated weights, pixel-major (H, W, 8) */
    const int64_t *base;        /* (B,) flat pixel index of each box's origin */
    const int64_t *entry_src;   /* (E,) weight index of each original entry, relative to base */
    const int64_t *entry_pos;   /* (E,) its position in the block */
    float *blocks;              /* (B, block) this group's factor blocks */
    float *upd;                 /* (B, (r + 1)^2) Schur complements, NULL if r == 0 */
    const float *rhs;           /* (H * W, C) */
    const int64_t *sep_idx;     /* (B, s) flat pixel index of the separator */
    float *y;                   /* (B, s, C) */
    float *carry;               /* (B, r + 1, C), NULL if r == 0 */
    tinct_link links[2];
} tinct_group;

typedef struct {           /* scratch layout of one call */
    int64_t W, Rp, A;      /* row width of M, padded ring width, first acc column */
    float *M;              /* s x W */
    float *F21;            /* pad4(r) x s */
    float *S;              /* pad4(r) x Rp */
    float *accr;           /* (r + 1) x C */
    int64_t *pos;          /* (E,) entry position in M (>= 0) or in F21 (-1 - index) */
} scratch;

static int64_t pad(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

INLINE void sub_scaled(float *RESTRICT dst, const float *RESTRICT src, float m, int64_t n) {
    for (int64_t j = 0; j < n; j += LANES) *(v16 *)(dst + j) -= m * *(const v16 *)(src + j);
}

/* Gauss-Jordan on M (s x W) in panels of PANEL pivots; GTH pivots from the leak column. With
 * `no_inverse`, the columns of F11^-1 are not kept up to date (only X and y are wanted): row
 * operations start at the panel's 16-column line, ~20% fewer flops. */
INLINE void gauss_jordan(float *RESTRICT M, int64_t s, int64_t W, int64_t gth_end, int64_t leak, int gth,
                         int no_inverse) {
    for (int64_t k0 = 0; k0 < s; k0 += PANEL) {
        const int64_t k1 = k0 + PANEL < s ? k0 + PANEL : s;
        const int64_t j0 = no_inverse ? k0 / LANES * LANES : 0;
        for (int64_t k = k0; k < k1; ++k) {         /* unblocked among the panel rows */
            float *RESTRICT rk = M + k * W;
            if (gth) {        /* off-diagonals of an M-matrix row share one sign: no cancellation */
                float off = 0.0f;
#pragma omp simd reduction(+ : off)
                for (int64_t j = k + 1; j < gth_end; ++j) off += rk[j];
                rk[k] = rk[leak] - off;
            }
            const float p = 1.0f / rk[k];
            rk[k] = 1.0f;
            for (int64_t j = j0; j < W; j += LANES) *(v16 *)(rk + j) *= p;
            for (int64_t i = k0; i < k1; ++i) {
                if (i == k) continue;
                float *ri = M + i * W;
                const float m = ri[k];
                if (m == 0.0f) continue;
                ri[k] = 0.0f;
                sub_scaled(ri + j0, rk + j0, m, W - j0);
            }
        }
        const int64_t nb = k1 - k0;
        const float *P = M + k0 * W;
        for (int64_t i = 0; i < s; ++i) {            /* rank-nb update of the other rows */
            if (i >= k0 && i < k1) continue;
            float *RESTRICT ri = M + i * W;
            float m[PANEL];
            int any = 0;
            for (int64_t b = 0; b < nb; ++b) {
                m[b] = ri[k0 + b];
                ri[k0 + b] = 0.0f;
                any |= m[b] != 0.0f;
            }
            if (!any) continue;
            if (nb == PANEL) {
                for (int64_t j = j0; j < W; j += LANES) {
                    v16 v = *(v16 *)(ri + j);
                    for (int64_t b = 0; b < PANEL; ++b) v -= m[b] * *(const v16 *)(P + b * W + j);
                    *(v16 *)(ri + j) = v;
                }
            } else {
                for (int64_t b = 0; b < nb; ++b) sub_scaled(ri + j0, P + b * W + j0, m[b], W - j0);
            }
        }
    }
}

/* S (pad4(r) x Rp) = -F21 (pad4(r) x s) X, X = rows of M from column s: blocks of 4 rows x 32
 * columns (8 independent accumulator chains keep both FMA ports busy), a 4 x 16 tail. */
INLINE void schur_product(float *RESTRICT S, const float *RESTRICT F21, const float *RESTRICT M, int64_t s,
                          int64_t r, int64_t W, int64_t Rp) {
    for (int64_t a = 0; a < r; a += 4) {
        const float *f0 = F21 + a * s, *f1 = f0 + s, *f2 = f1 + s, *f3 = f2 + s;
        float *out = S + a * Rp;
        int64_t j = 0;
        for (; j + 2 * LANES <= Rp; j += 2 * LANES) {
            v16 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0}, d0 = {0}, d1 = {0}, d2 = {0}, d3 = {0};
            const float *x = M + s + j;
            for (int64_t k = 0; k < s; ++k) {
                const v16 xa = *(const v16 *)(x + k * W), xb = *(const v16 *)(x + k * W + LANES);
                c0 -= f0[k] * xa;
                d0 -= f0[k] * xb;
                c1 -= f1[k] * xa;
                d1 -= f1[k] * xb;
                c2 -= f2[k] * xa;
                d2 -= f2[k] * xb;
                c3 -= f3[k] * xa;
                d3 -= f3[k] * xb;
            }
            *(v16 *)(out + j) = c0;
            *(v16 *)(out + j + LANES) = d0;
            *(v16 *)(out + Rp + j) = c1;
            *(v16 *)(out + Rp + j + LANES) = d1;
            *(v16 *)(out + 2 * Rp + j) = c2;
            *(v16 *)(out + 2 * Rp + j + LANES) = d2;
            *(v16 *)(out + 3 * Rp + j) = c3;
            *(v16 *)(out + 3 * Rp + j + LANES) = d3;
        }
        if (j < Rp) {
            v16 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
            const float *x = M + s + j;
            for (int64_t k = 0; k < s; ++k) {
                const v16 xk = *(const v16 *)(x + k * W);
                c0 -= f0[k] * xk;
                c1 -= f1[k] * xk;
                c2 -= f2[k] * xk;
                c3 -= f3[k] * xk;
            }
            *(v16 *)(out + j) = c0;
            *(v16 *)(out + Rp + j) = c1;
            *(v16 *)(out + 2 * Rp + j) = c2;
            *(v16 *)(out + 3 * Rp + j) = c3;
        }
    }
}

INLINE void add_runs(float *RESTRICT dst, const float *RESTRICT src, const int64_t *runs, int64_t n_runs) {
    for (int64_t u = 0; u < n_runs; ++u) {
        const int64_t c0 = runs[3 * u], c1 = runs[3 * u + 1], p = runs[3 * u + 2];
        for (int64_t t = 0; t < c1 - c0; ++t) dst[p + t] += src[c0 + t];
    }
}

INLINE void factor_box(const tinct_group *g, int64_t i, const scratch *w) {
    const int64_t s = g->s, r = g->r, C = g->C, f = s + r, r1 = r + 1, W = w->W, A = w->A;
    float *RESTRICT M = w->M, *RESTRICT F21 = w->F21, *RESTRICT accr = w->accr;

    /* 1. assemble */
    memset(M, 0, (size_t)(s * W) * sizeof(float));
    memset(F21, 0, (size_t)(pad(r, 4) * s) * sizeof(float));
    memset(accr, 0, (size_t)(r1 * C) * sizeof(float));
    const float *wb = g->weights + 8 * g->base[i];
    for (int64_t e = 0; e < g->n_entries; ++e) {
        const int64_t p = w->pos[e];
        if (p >= 0) M[p] = wb[g->entry_src[e]];
        else F21[-1 - p] = wb[g->entry_src[e]];
    }
    const int64_t *sep = g->sep_idx + i * s;
    for (int64_t k = 0; k < s; ++k) {
        M[k * W + k] += 1.0f;
        for (int64_t c = 0; c < C; ++c) M[k * W + A + c] = g->rhs[sep[k] * C + c];
    }

    /* 2. extend-add (the child's trash row/column q - 1 is left out) */
    for (int64_t l = 0; l < g->n_links; ++l) {
        const tinct_link *L = &g->links[l];
        const int64_t q = L->q, a0 = L->a0, a1 = L->a0 + L->n, p0 = L->p0;
        const float *cs = L->upd + i * q * q;
        for (int64_t a = a0; a < a1; ++a)                              /* rows -> [F11 | F12] */
            add_runs(M + (p0 + a - a0) * W, cs + a * q, L->slot_runs, L->n_slot_runs);
        for (int64_t u = 0; u < L->n_ring_runs; ++u) {                  /* columns -> F21 */
            const int64_t c0 = L->ring_runs[3 * u], c1 = L->ring_runs[3 * u + 1], pr = L->ring_runs[3 * u + 2];
            for (int64_t t = 0; t < c1 - c0; ++t) {
                float *RESTRICT dst = F21 + (pr + t) * s + p0;
                const float *RESTRICT row = cs + (c0 + t) * q + a0;
                for (int64_t b = 0; b < a1 - a0; ++b) dst[b] += row[b];
            }
        }
        const float *cc = L->carry + i * q * C;
        for (int64_t a = 0; a < q - 1; ++a) {
            const int64_t slot = L->slots[a];
            float *dst = slot < s ? M + slot * W + A : accr + (slot - s) * C;
            for (int64_t c = 0; c < C; ++c) dst[c] += cc[a * C + c];
        }
    }

    /* 3. Gauss-Jordan with GTH pivots */
    gauss_jordan(M, s, W, s + w->Rp, A + C - 1, (int)g->gth, (int)g->compact);

    /* 4. factors in the arena layout (or only -X) */
    float *RESTRICT blk = g->blocks + i * g->block;
    for (int64_t k = 0; k < s; ++k) {
        const float *RESTRICT mk = M + k * W;
        if (g->compact) {
            float *RESTRICT out = blk + k * r;
            for (int64_t j = 0; j < r; ++j) out[j] = -mk[s + j];
        } else {
            float *RESTRICT out = blk + k * (f + 1);
            memcpy(out, mk, (size_t)s * sizeof(float));
            for (int64_t j = s; j < f; ++j) out[j] = -mk[j];
            out[f] = 0.0f;
        }
        for (int64_t c = 0; c < C; ++c) g->y[(i * s + k) * C + c] = mk[A + c];
    }
    if (!g->compact) {
        memcpy(blk + s * (f + 1), F21, (size_t)(r * s) * sizeof(float));
        memset(blk + s * (f + 1) + r * s, 0, (size_t)s * sizeof(float));   /* trash row of F21 */
    }
    if (!r) return;

    /* 5. S = -F21 X + children's ring-ring parts; carry = acc_ring - F21 y */
    schur_product(w->S, F21, M, s, r, W, w->Rp);
    float *RESTRICT S = g->upd + i * r1 * r1;
    for (int64_t a = 0; a < r; ++a) {
        const float *RESTRICT sa = w->S + a * w->Rp;
        float *RESTRICT out = S + a * r1;
        memcpy(out, sa, (size_t)r * sizeof(float));
        out[r] = 0.0f;
    }
    memset(S + r * r1, 0, (size_t)r1 * sizeof(float));
    for (int64_t l = 0; l < g->n_links; ++l) {
        const tinct_link *L = &g->links[l];
        const int64_t q = L->q;
        const float *cs = L->upd + i * q * q;
        for (int64_t u = 0; u < L->n_ring_runs; ++u) {
            const int64_t c0 = L->ring_runs[3 * u], c1 = L->ring_runs[3 * u + 1], pr = L->ring_runs[3 * u + 2];
            for (int64_t t = 0; t < c1 - c0; ++t)
                add_runs(S + (pr + t) * r1, cs + (c0 + t) * q, L->ring_runs, L->n_ring_runs);
        }
    }
    float *RESTRICT carry = g->carry + i * r1 * C;
    for (int64_t a = 0; a < r; ++a) {
        for (int64_t c = 0; c < C; ++c) {
            float v = accr[a * C + c];
            for (int64_t k = 0; k < s; ++k) v -= F21[a * s + k] * M[k * W + A + c];
            carry[a * C + c] = v;
        }
    }
    memset(carry + r * C, 0, (size_t)C * sizeof(float));
}

/* Factor boxes lo:hi of one group; returns 0, or -1 if the scratch could not be allocated. */
CLONES int tinct_factor_boxes(const tinct_group *g, int64_t lo, int64_t hi) {
    const int64_t s = g->s, r = g->r, f = s + r;
    scratch w;
    w.Rp = pad(r, LANES);
    w.A = s + w.Rp;
    w.W = pad(w.A + g->C, LANES);
    const int64_t r4 = pad(r, 4);
    const size_t floats = (size_t)(s * w.W + r4 * s + r4 * w.Rp + (r + 1) * g->C);
    float *mem = (float *)aligned_alloc(64, pad((int64_t)(floats * sizeof(float)), 64));
    w.pos = (int64_t *)malloc((size_t)(g->n_entries + 1) * sizeof(int64_t));
    if (!mem || !w.pos) {
        free(mem);
        free(w.pos);
        return -1;
    }
    w.M = mem;
    w.F21 = w.M + s * w.W;
    w.S = w.F21 + r4 * s;
    w.accr = w.S + r4 * w.Rp;
    for (int64_t e = 0; e < g->n_entries; ++e) {    /* block position -> scratch position */
        const int64_t p = g->entry_pos[e];
        w.pos[e] = p < s * (f + 1) ? p / (f + 1) * w.W + p % (f + 1) : -1 - (p - s * (f + 1));
    }
    for (int64_t i = lo; i < hi; ++i) factor_box(g, i, &w);
    free(mem);
    free(w.pos);
    return 0;
}

/* Back substitution of boxes lo:hi: x[sep] = y[:, :c] + (-X) x[ring] (x has H*W + 1 rows of c);
 * row k of -X is at blocks + i * block + k * stride + first. Returns 0, or -1 if the scratch could
 * not be allocated. */
CLONES int tinct_backward_boxes(int64_t s, int64_t r, int64_t C, int64_t c, int64_t block, int64_t stride,
                                int64_t first, const float *blocks,
                                const float *y, const int64_t *sep_idx, const int64_t *ring_idx, float *x,
                                int64_t lo, int64_t hi) {
    float *xr = (float *)malloc((size_t)(r * c + 1) * sizeof(float));   /* x[ring], one row per column */
    if (!xr) return -1;
    for (int64_t i = lo; i < hi; ++i) {
        const float *blk = blocks + i * block;
        const float *yi = y + i * s * C;
        const int64_t *sep = sep_idx + i * s;
        const int64_t *ring = ring_idx + i * (r + 1);
        for (int64_t j = 0; j < r; ++j)
            for (int64_t cc = 0; cc < c; ++cc) xr[cc * r + j] = x[ring[j] * c + cc];
        for (int64_t k = 0; k < s; ++k) {
            const float *RESTRICT nx = blk + k * stride + first;
            float *out = x + sep[k] * c;
            for (int64_t cc = 0; cc < c; ++cc) {
                const float *RESTRICT xc = xr + cc * r;
                float v = 0.0f;
#pragma omp simd reduction(+ : v)
                for (int64_t j = 0; j < r; ++j) v += nx[j] * xc[j];
                out[cc] = yi[k * C + cc] + v;
            }
        }
    }
    free(xr);
    return 0;
}

#ifdef TINCT_PYTHON_MODULE
/* A stub module so that setuptools can build and install this file as an extension; the
 * functions above are reached through ctypes. */
#include <Python.h>
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fronts", "ctypes kernels of tinct's Levin solver",
                                    -1, NULL, NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit__fronts(void) { return PyModule_Create(&module); }
#endif
