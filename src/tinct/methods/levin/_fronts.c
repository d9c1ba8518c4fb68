/* Fused front kernel of tinct's multifrontal Levin solver (see multifrontal.py).
 *
 * For the many small fronts of the lower tree depths, the batched torch path spends its time in
 * per-call overhead and in passes over memory (assemble, extend-add, inverse, X, S, forward
 * substitution are each a separate batched op). This kernel does all of them for one box while
 * its front sits in L1/L2 cache, box after box. It is called through ctypes (which releases the
 * GIL), one call per task thread and group row range. Plain C99, float32, no dependencies.
 *
 * Per box (layout identical to the torch path, so either can produce any group):
 *   block = [F1 = [F11 | F12 | trash] (s rows of s + r + 1) | F21 ((r + 1) rows of s)]
 *   1. zero the block, scatter the original entries (-w), add 1 on the diagonal;
 *   2. extend-add the children's Schur complements into F1 / F21 and their carries into acc;
 *   3. Gauss-Jordan on [F11 | F12 | acc_sep] without row exchanges, with GTH pivots: before
 *      step k the pivot is rebuilt as leak_k - (sum of row k over the uneliminated columns),
 *      where the leak (row sum of A) is the last right-hand-side column. Afterwards the block
 *      holds F11^-1 and X = F11^-1 F12 (stored negated), and acc_sep holds y = F11^-1 acc_sep;
 *   4. S = F21 (-X) + the children's ring-ring parts (the update passed to the parent) and the
 *      carry acc_ring - F21 y.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __GNUC__
#define RESTRICT __restrict__
#else
#define RESTRICT
#endif

typedef struct {
    const float *upd;      /* child Schur blocks for this group's box 0; stride q * q */
    const float *carry;    /* child carries for this group's box 0; stride q * C */
    const int64_t *slots;  /* (q,) child slot -> parent front slot (s + r = trash) */
    const int64_t *ring;   /* (q,) child slot -> parent ring row (r = trash) */
    int64_t q, a0, n, p0;  /* q = child's r + 1; child slots a0:a0+n lie on the separator at p0 */
} tinct_link;

typedef struct {
    int64_t s, r, C, block, n_entries, n_links, gth;
    const float *weights;       /* negated weights, flat (8 * H * W) */
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

static inline void axpy(float *RESTRICT dst, const float *RESTRICT src, float m, int64_t n) {
    for (int64_t j = 0; j < n; ++j) dst[j] -= m * src[j];
}

static void factor_box(const tinct_group *g, int64_t i, float *RESTRICT acc) {
    const int64_t s = g->s, r = g->r, C = g->C, f = s + r, w1 = f + 1, r1 = r + 1;
    float *RESTRICT blk = g->blocks + i * g->block;
    float *RESTRICT f21 = blk + s * w1;
    float *RESTRICT accr = acc + s * C;

    /* 1. assemble */
    memset(blk, 0, (size_t)g->block * sizeof(float));
    const float *wb = g->weights + g->base[i];
    for (int64_t e = 0; e < g->n_entries; ++e) blk[g->entry_pos[e]] = wb[g->entry_src[e]];
    for (int64_t k = 0; k < s; ++k) blk[k * w1 + k] += 1.0f;
    const int64_t *sep = g->sep_idx + i * s;
    for (int64_t k = 0; k < s; ++k) memcpy(acc + k * C, g->rhs + sep[k] * C, (size_t)C * sizeof(float));
    memset(accr, 0, (size_t)(r1 * C) * sizeof(float));

    /* 2. extend-add (the child's trash row/column q - 1 is skipped) */
    for (int64_t l = 0; l < g->n_links; ++l) {
        const tinct_link *L = &g->links[l];
        const int64_t q = L->q, a0 = L->a0, a1 = L->a0 + L->n, p0 = L->p0;
        const float *cs = L->upd + i * q * q;
        for (int64_t a = 0; a < q - 1; ++a) {
            const float *row = cs + a * q;
            if (a >= a0 && a < a1) {
                float *dst = blk + (p0 + a - a0) * w1;
                for (int64_t b = 0; b < q - 1; ++b) dst[L->slots[b]] += row[b];
            } else {
                float *dst = f21 + L->ring[a] * s + p0 - a0;
                for (int64_t b = a0; b < a1; ++b) dst[b] += row[b];
            }
        }
        const float *cc = L->carry + i * q * C;
        for (int64_t a = 0; a < q - 1; ++a) {
            float *dst = acc + L->slots[a] * C;       /* acc_sep and acc_ring are contiguous */
            for (int64_t c = 0; c < C; ++c) dst[c] += cc[a * C + c];
        }
    }

    /* 3. Gauss-Jordan with GTH pivots */
    for (int64_t k = 0; k < s; ++k) {
        float *RESTRICT rk = blk + k * w1;
        float *RESTRICT yk = acc + k * C;
        if (g->gth) {
            double off = 0.0;
            for (int64_t j = k + 1; j < f; ++j) off += rk[j];
            rk[k] = (float)((double)yk[C - 1] - off);
        }
        const float p = 1.0f / rk[k];
        rk[k] = 1.0f;
        for (int64_t j = 0; j < f; ++j) rk[j] *= p;
        for (int64_t c = 0; c < C; ++c) yk[c] *= p;
        for (int64_t i2 = 0; i2 < s; ++i2) {
            if (i2 == k) continue;
            float *RESTRICT ri = blk + i2 * w1;
            const float m = ri[k];
            if (m == 0.0f) continue;
            ri[k] = 0.0f;
            axpy(ri, rk, m, f);
            axpy(acc + i2 * C, yk, m, C);
        }
    }
    for (int64_t k = 0; k < s; ++k) {              /* store -X */
        float *x = blk + k * w1 + s;
        for (int64_t j = 0; j < r; ++j) x[j] = -x[j];
    }
    memcpy(g->y + i * s * C, acc, (size_t)(s * C) * sizeof(float));
    if (!r) return;

    /* 4. S = F21 (-X) + children's ring-ring parts; carry = acc_ring - F21 y */
    float *RESTRICT S = g->upd + i * r1 * r1;
    float *RESTRICT carry = g->carry + i * r1 * C;
    memset(S, 0, (size_t)(r1 * r1) * sizeof(float));
    for (int64_t a = 0; a < r; ++a) {
        float *RESTRICT sa = S + a * r1;
        float *RESTRICT ca = carry + a * C;
        const float *fa = f21 + a * s;
        memcpy(ca, accr + a * C, (size_t)C * sizeof(float));
        for (int64_t k = 0; k < s; ++k) {
            const float m = fa[k];
            if (m == 0.0f) continue;
            axpy(sa, blk + k * w1 + s, -m, r);
            axpy(ca, acc + k * C, m, C);
        }
    }
    memset(carry + r * C, 0, (size_t)C * sizeof(float));
    for (int64_t l = 0; l < g->n_links; ++l) {
        const tinct_link *L = &g->links[l];
        const int64_t q = L->q, a0 = L->a0, a1 = L->a0 + L->n;
        const float *cs = L->upd + i * q * q;
        for (int64_t a = 0; a < q - 1; ++a) {
            if (a >= a0 && a < a1) continue;
            float *dst = S + L->ring[a] * r1;
            const float *row = cs + a * q;
            for (int64_t b = 0; b < q - 1; ++b)
                if (b < a0 || b >= a1) dst[L->ring[b]] += row[b];
        }
    }
}

/* Factor boxes lo:hi of one group; returns 0, or -1 if the scratch could not be allocated. */
int tinct_factor_boxes(const tinct_group *g, int64_t lo, int64_t hi) {
    float *acc = (float *)malloc((size_t)((g->s + g->r + 1) * g->C + 16) * sizeof(float));
    if (!acc) return -1;
    for (int64_t i = lo; i < hi; ++i) factor_box(g, i, acc);
    free(acc);
    return 0;
}

/* Back substitution of boxes lo:hi: x[sep] = y[:, :c] + (-X) x[ring] (x has H*W + 1 rows of c).
 * Returns 0, or -1 if the scratch could not be allocated. */
int tinct_backward_boxes(int64_t s, int64_t r, int64_t C, int64_t c, int64_t block, const float *blocks,
                         const float *y, const int64_t *sep_idx, const int64_t *ring_idx, float *x,
                         int64_t lo, int64_t hi) {
    const int64_t w1 = s + r + 1;
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
            const float *RESTRICT nx = blk + k * w1 + s;
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
