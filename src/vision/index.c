/* Duplicate-face search over 128-D descriptors.
 *
 * Exact: the squared distances of the query to every descriptor at once, as
 * |x|^2 + |q|^2 - 2 X q with one OpenBLAS sgemv over the row-major matrix X (n x 128), then
 * the hits within the threshold, nearest first. That is a memory-bound pass over n * 512
 * bytes, the floor for an exact answer.
 *
 * Approximate (IVF, the inverted file of Jegou et al. 2011 without compression): k-means
 * (k-means++ seeding on a sample, Lloyd iterations with sgemm for the assignments) splits the
 * descriptors into nlist cells; a query scans its nprobe nearest cells exactly. Descriptors
 * are moved into cell order (one copy, not two: exact search maps positions back to items),
 * so a cell is one contiguous block and one sgemv. The recall against exact search, measured
 * in bench/vision_search.c, sets nprobe. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define D NOVA_VISION_DESCRIPTOR

struct nova_vision_index {
    size_t n, cap;
    float *x;     /* n x D: positions [0, ivf_items) in cell order, then insertion order */
    float *norm2; /* |x|^2 per position */
    /* IVF, when built (nlist > 0): */
    size_t nlist;
    float *cent;      /* nlist x D */
    float *cent2;     /* |c|^2 */
    size_t *start;    /* cell c holds positions start[c] .. start[c + 1] - 1 */
    size_t *order;    /* position -> item, for positions < ivf_items */
    size_t ivf_items; /* items the IVF covers; position = item beyond them */
    size_t *where;    /* item -> position, for items < ivf_items */
    size_t removed;   /* items removed: zero descriptor, infinite norm, never within reach */
};

nova_status nova_vision_index_new(size_t capacity, nova_vision_index_t **out)
{
    nova_vision_index_t *ix = calloc(1, sizeof *ix);
    if (!ix)
        return NOVA_NOMEM;
    ix->cap = capacity ? capacity : 64;
    ix->x = malloc(ix->cap * D * sizeof(float));
    ix->norm2 = malloc(ix->cap * sizeof(float));
    if (!ix->x || !ix->norm2) {
        nova_vision_index_free(ix);
        return NOVA_NOMEM;
    }
    *out = ix;
    return NOVA_OK;
}

/* Drops the cells; the positions keep their (cell) order and order still maps them. */
static void ivf_clear_cells(nova_vision_index_t *ix)
{
    free(ix->cent);
    free(ix->cent2);
    free(ix->start);
    ix->cent = ix->cent2 = NULL;
    ix->start = NULL;
    ix->nlist = 0;
}

static void ivf_clear(nova_vision_index_t *ix)
{
    ivf_clear_cells(ix);
    free(ix->order);
    free(ix->where);
    ix->order = ix->where = NULL;
    ix->ivf_items = 0;
}

void nova_vision_index_free(nova_vision_index_t *ix)
{
    if (!ix)
        return;
    ivf_clear(ix);
    free(ix->x);
    free(ix->norm2);
    free(ix);
}

size_t nova_vision_index_size(const nova_vision_index_t *ix)
{
    return ix->n;
}

static float norm2(const float *v)
{
    float s = 0;
    for (int i = 0; i < D; i++)
        s += v[i] * v[i];
    return s;
}

nova_status nova_vision_index_reserve(nova_vision_index_t *ix, size_t capacity)
{
    if (capacity <= ix->cap)
        return NOVA_OK;
    float *x = realloc(ix->x, capacity * D * sizeof(float));
    if (!x)
        return NOVA_NOMEM;
    ix->x = x;
    float *n2 = realloc(ix->norm2, capacity * sizeof(float));
    if (!n2)
        return NOVA_NOMEM;
    ix->norm2 = n2;
    ix->cap = capacity;
    return NOVA_OK;
}

nova_status nova_vision_index_add(nova_vision_index_t *ix, const float d[NOVA_VISION_DESCRIPTOR])
{
    for (int i = 0; i < D; i++)
        if (!isfinite(d[i]))
            return NOVA_INVALID;
    if (ix->n == ix->cap) {
        size_t cap = ix->cap * 2;
        float *x = realloc(ix->x, cap * D * sizeof(float));
        if (!x)
            return NOVA_NOMEM;
        ix->x = x;
        float *n2 = realloc(ix->norm2, cap * sizeof(float));
        if (!n2)
            return NOVA_NOMEM;
        ix->norm2 = n2;
        ix->cap = cap;
    }
    memcpy(ix->x + ix->n * D, d, D * sizeof(float));
    ix->norm2[ix->n] = norm2(d);
    ix->n++;
    return NOVA_OK;
}

/* The k nearest hits so far, kept sorted by distance (insertion: k is small). */
typedef struct topk {
    nova_vision_hit_t *h;
    size_t n, k;
} topk_t;

static void topk_offer(topk_t *t, size_t item, float d2)
{
    if (t->n == t->k && d2 >= t->h[t->n - 1].distance)
        return;
    size_t i = t->n < t->k ? t->n++ : t->n - 1;
    while (i > 0 && t->h[i - 1].distance > d2) {
        t->h[i] = t->h[i - 1];
        i--;
    }
    t->h[i] = (nova_vision_hit_t){item, d2};
}

/* Scans rows [0, n) of x (with norms x2; item ids from order, or base + the row) against q. */
static void scan(const float *x, const float *x2, const size_t *order, size_t base, size_t n,
                 const float *q, float q2, float t2, float *dots, topk_t *t)
{
    if (n == 0)
        return;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, D, 1.0f, x, D, q, 1, 0.0f, dots, 1);
    for (size_t i = 0; i < n; i++) {
        float d2 = x2[i] + q2 - 2 * dots[i];
        if (d2 <= t2)
            topk_offer(t, order ? order[i] : base + i, d2 < 0 ? 0 : d2);
    }
}

static void finish(topk_t *t, size_t *n)
{
    for (size_t i = 0; i < t->n; i++)
        t->h[i].distance = sqrtf(t->h[i].distance);
    *n = t->n;
}

nova_status nova_vision_index_search(const nova_vision_index_t *ix,
                                     const float q[NOVA_VISION_DESCRIPTOR], double max_distance,
                                     size_t k, nova_vision_hit_t *hits, size_t *n)
{
    *n = 0;
    if (k == 0 || !(max_distance >= 0))
        return NOVA_INVALID;
    float *dots = malloc((ix->n ? ix->n : 1) * sizeof(float));
    if (!dots)
        return NOVA_NOMEM;
    topk_t t = {hits, 0, k};
    float q2 = norm2(q), t2 = (float)(max_distance * max_distance);
    scan(ix->x, ix->norm2, ix->order, 0, ix->ivf_items, q, q2, t2, dots, &t);
    scan(ix->x + ix->ivf_items * D, ix->norm2 + ix->ivf_items, NULL, ix->ivf_items,
         ix->n - ix->ivf_items, q, q2, t2, dots, &t);
    free(dots);
    finish(&t, n);
    return NOVA_OK;
}

/* xorshift64*: the k-means seeding and sample need no cryptographic quality. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Nearest centroid of each of the n rows of x: one sgemm (n x nlist dots) per block. */
static nova_status assign(const float *x, size_t n, const float *cent, const float *cent2,
                          size_t nlist, size_t *label)
{
    const size_t block = 4096;
    float *dots = malloc(block * nlist * sizeof(float));
    if (!dots)
        return NOVA_NOMEM;
    for (size_t b = 0; b < n; b += block) {
        size_t m = n - b < block ? n - b : block;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)nlist, D, 1.0f, x + b * D,
                    D, cent, D, 0.0f, dots, (int)nlist);
        for (size_t i = 0; i < m; i++) {
            const float *r = dots + i * nlist;
            size_t best = 0;
            float bd = cent2[0] - 2 * r[0];
            for (size_t c = 1; c < nlist; c++) {
                float d = cent2[c] - 2 * r[c];
                if (d < bd)
                    bd = d, best = c;
            }
            label[b + i] = best;
        }
    }
    free(dots);
    return NOVA_OK;
}

nova_status nova_vision_index_build_ivf(nova_vision_index_t *ix, size_t nlist, unsigned iterations,
                                        uint64_t seed)
{
    if (nlist == 0 || nlist > ix->n)
        return NOVA_INVALID;
    ivf_clear_cells(ix);
    uint64_t s = seed ? seed : 0x9E3779B97F4A7C15ull;
    /* train on a sample of at most 64 points per cell */
    size_t ns = nlist * 64 < ix->n ? nlist * 64 : ix->n;
    float *sample = malloc(ns * D * sizeof(float));
    size_t *label = malloc((ix->n > ns ? ix->n : ns) * sizeof(size_t));
    float *mind = malloc(ns * sizeof(float));
    ix->cent = malloc(nlist * D * sizeof(float));
    ix->cent2 = malloc(nlist * sizeof(float));
    size_t *count = calloc(nlist, sizeof(size_t));
    nova_status st =
        sample && label && mind && ix->cent && ix->cent2 && count ? NOVA_OK : NOVA_NOMEM;
    for (size_t i = 0; st == NOVA_OK && i < ns; i++) {
        size_t j = ns == ix->n ? i : rnd(&s) % ix->n;
        memcpy(sample + i * D, ix->x + j * D, D * sizeof(float));
    }
    /* k-means++ seeding: each next centroid drawn with probability proportional to its
     * squared distance from the nearest one chosen */
    if (st == NOVA_OK) {
        memcpy(ix->cent, sample + (rnd(&s) % ns) * D, D * sizeof(float));
        for (size_t i = 0; i < ns; i++)
            mind[i] = INFINITY;
        for (size_t c = 1; c < nlist; c++) {
            const float *prev = ix->cent + (c - 1) * D;
            double total = 0;
            for (size_t i = 0; i < ns; i++) {
                float d = 0;
                for (int k = 0; k < D; k++) {
                    float e = sample[i * D + k] - prev[k];
                    d += e * e;
                }
                if (d < mind[i])
                    mind[i] = d;
                total += mind[i];
            }
            double r = (double)(rnd(&s) >> 11) / (double)(1ull << 53) * total;
            size_t pick = ns - 1;
            for (size_t i = 0; i < ns; i++) {
                r -= mind[i];
                if (r <= 0) {
                    pick = i;
                    break;
                }
            }
            memcpy(ix->cent + c * D, sample + pick * D, D * sizeof(float));
        }
    }
    /* Lloyd iterations on the sample */
    for (unsigned it = 0; st == NOVA_OK && it < (iterations ? iterations : 10); it++) {
        for (size_t c = 0; c < nlist; c++)
            ix->cent2[c] = norm2(ix->cent + c * D);
        st = assign(sample, ns, ix->cent, ix->cent2, nlist, label);
        if (st != NOVA_OK)
            break;
        memset(count, 0, nlist * sizeof(size_t));
        float *sum = calloc(nlist * D, sizeof(float));
        if (!sum) {
            st = NOVA_NOMEM;
            break;
        }
        for (size_t i = 0; i < ns; i++) {
            count[label[i]]++;
            for (int k = 0; k < D; k++)
                sum[label[i] * D + k] += sample[i * D + k];
        }
        for (size_t c = 0; c < nlist; c++) {
            if (count[c] == 0) { /* an empty cell restarts on a random sample point */
                memcpy(ix->cent + c * D, sample + (rnd(&s) % ns) * D, D * sizeof(float));
                continue;
            }
            for (int k = 0; k < D; k++)
                ix->cent[c * D + k] = sum[c * D + k] / (float)count[c];
        }
        free(sum);
    }
    free(sample);
    free(mind);
    /* every descriptor into its cell, stored in cell order */
    if (st == NOVA_OK) {
        for (size_t c = 0; c < nlist; c++)
            ix->cent2[c] = norm2(ix->cent + c * D);
        st = assign(ix->x, ix->n, ix->cent, ix->cent2, nlist, label);
    }
    /* move the descriptors into cell order; order maps each position to its item (through
     * the previous build's order for positions it had moved) */
    ix->start = st == NOVA_OK ? calloc(nlist + 1, sizeof(size_t)) : NULL;
    size_t *order = st == NOVA_OK ? malloc(ix->n * sizeof(size_t)) : NULL;
    float *xs = st == NOVA_OK ? malloc(ix->n * D * sizeof(float)) : NULL;
    float *xs2 = st == NOVA_OK ? malloc(ix->n * sizeof(float)) : NULL;
    size_t *where = st == NOVA_OK ? malloc(ix->n * sizeof(size_t)) : NULL;
    if (st == NOVA_OK && (!ix->start || !order || !xs || !xs2 || !where))
        st = NOVA_NOMEM;
    if (st == NOVA_OK) {
        memset(count, 0, nlist * sizeof(size_t));
        for (size_t i = 0; i < ix->n; i++)
            count[label[i]]++;
        for (size_t c = 0; c < nlist; c++)
            ix->start[c + 1] = ix->start[c] + count[c];
        memset(count, 0, nlist * sizeof(size_t));
        for (size_t i = 0; i < ix->n; i++) {
            size_t pos = ix->start[label[i]] + count[label[i]]++;
            order[pos] = i < ix->ivf_items ? ix->order[i] : i;
            memcpy(xs + pos * D, ix->x + i * D, D * sizeof(float));
            xs2[pos] = ix->norm2[i];
        }
        for (size_t pos = 0; pos < ix->n; pos++)
            where[order[pos]] = pos;
        free(ix->x);
        free(ix->norm2);
        free(ix->order);
        free(ix->where);
        ix->x = xs, ix->norm2 = xs2, ix->order = order, ix->where = where, ix->cap = ix->n;
        xs = xs2 = NULL;
        order = where = NULL;
        ix->nlist = nlist;
        ix->ivf_items = ix->n;
    }
    free(order);
    free(where);
    free(xs);
    free(xs2);
    free(label);
    free(count);
    if (st != NOVA_OK)
        ivf_clear_cells(ix);
    return st;
}

nova_status nova_vision_index_search_ivf(const nova_vision_index_t *ix,
                                         const float q[NOVA_VISION_DESCRIPTOR], size_t nprobe,
                                         double max_distance, size_t k, nova_vision_hit_t *hits,
                                         size_t *n)
{
    *n = 0;
    if (ix->nlist == 0)
        return nova_vision_index_search(ix, q, max_distance, k, hits, n);
    if (k == 0 || !(max_distance >= 0) || nprobe == 0)
        return NOVA_INVALID;
    if (nprobe > ix->nlist)
        nprobe = ix->nlist;
    size_t most = 0;
    for (size_t c = 0; c < ix->nlist; c++)
        if (ix->start[c + 1] - ix->start[c] > most)
            most = ix->start[c + 1] - ix->start[c];
    size_t late = ix->n - ix->ivf_items;
    float *cd = malloc(ix->nlist * sizeof(float));
    float *dots = malloc(((most > late ? most : late) + 1) * sizeof(float));
    if (!cd || !dots) {
        free(cd);
        free(dots);
        return NOVA_NOMEM;
    }
    /* the nprobe cells whose centroids are nearest */
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)ix->nlist, D, 1.0f, ix->cent, D, q, 1, 0.0f, cd,
                1);
    for (size_t c = 0; c < ix->nlist; c++)
        cd[c] = ix->cent2[c] - 2 * cd[c];
    nova_vision_hit_t *cells = malloc(nprobe * sizeof *cells);
    topk_t ct = {cells, 0, nprobe};
    for (size_t c = 0; cells && c < ix->nlist; c++)
        topk_offer(&ct, c, cd[c]);
    float q2 = norm2(q), t2 = (float)(max_distance * max_distance);
    topk_t t = {hits, 0, k};
    for (size_t p = 0; cells && p < ct.n; p++) {
        size_t c = cells[p].item, a = ix->start[c];
        scan(ix->x + a * D, ix->norm2 + a, ix->order + a, 0, ix->start[c + 1] - a, q, q2, t2, dots,
             &t);
    }
    /* descriptors added since the build are scanned exactly */
    scan(ix->x + ix->ivf_items * D, ix->norm2 + ix->ivf_items, NULL, ix->ivf_items, late, q, q2, t2,
         dots, &t);
    nova_status st = cells ? NOVA_OK : NOVA_NOMEM;
    free(cells);
    free(cd);
    free(dots);
    finish(&t, n);
    return st;
}

static size_t position(const nova_vision_index_t *ix, size_t item)
{
    return item < ix->ivf_items ? ix->where[item] : item;
}

nova_status nova_vision_index_remove(nova_vision_index_t *ix, size_t item)
{
    if (item >= ix->n)
        return NOVA_NOT_FOUND;
    size_t pos = position(ix, item);
    if (isinf(ix->norm2[pos]))
        return NOVA_NOT_FOUND;
    /* |x|^2 + |q|^2 - 2 x.q is +inf for every q: no threshold reaches it */
    memset(ix->x + pos * D, 0, D * sizeof(float));
    ix->norm2[pos] = INFINITY;
    ix->removed++;
    return NOVA_OK;
}

size_t nova_vision_index_live(const nova_vision_index_t *ix)
{
    return ix->n - ix->removed;
}

size_t nova_vision_index_cells(const nova_vision_index_t *ix)
{
    return ix->nlist;
}

size_t nova_vision_index_unbuilt(const nova_vision_index_t *ix)
{
    return ix->n - ix->ivf_items;
}

static void *copy_of(const void *p, size_t len)
{
    void *q = malloc(len ? len : 1);
    if (q && len)
        memcpy(q, p, len);
    return q;
}

nova_status nova_vision_index_copy(const nova_vision_index_t *ix, nova_vision_index_t **out)
{
    nova_vision_index_t *c = calloc(1, sizeof *c);
    if (!c)
        return NOVA_NOMEM;
    *c = *ix;
    c->cap = ix->n ? ix->n : 1;
    c->x = copy_of(ix->x, ix->n * D * sizeof(float));
    c->norm2 = copy_of(ix->norm2, ix->n * sizeof(float));
    c->cent = c->cent2 = NULL;
    c->start = c->order = c->where = NULL;
    bool ok = c->x && c->norm2;
    if (ok && ix->nlist) {
        c->cent = copy_of(ix->cent, ix->nlist * D * sizeof(float));
        c->cent2 = copy_of(ix->cent2, ix->nlist * sizeof(float));
        c->start = copy_of(ix->start, (ix->nlist + 1) * sizeof(size_t));
        ok = c->cent && c->cent2 && c->start;
    }
    if (ok && ix->ivf_items) {
        c->order = copy_of(ix->order, ix->ivf_items * sizeof(size_t));
        c->where = copy_of(ix->where, ix->ivf_items * sizeof(size_t));
        ok = c->order && c->where;
    }
    if (!ok) {
        nova_vision_index_free(c);
        return NOVA_NOMEM;
    }
    *out = c;
    return NOVA_OK;
}

nova_status nova_vision_index_catch_up(nova_vision_index_t *dst, const nova_vision_index_t *src)
{
    if (dst->n > src->n || src->ivf_items > dst->n)
        return NOVA_INVALID;
    for (size_t item = dst->n; item < src->n; item++) {
        /* src's items past dst's size were added after every build src had: position = item */
        const float *v = src->x + item * D;
        bool gone = isinf(src->norm2[item]);
        nova_status st = nova_vision_index_add(dst, v);
        if (st == NOVA_OK && gone)
            st = nova_vision_index_remove(dst, item);
        if (st != NOVA_OK)
            return st;
    }
    return NOVA_OK;
}
