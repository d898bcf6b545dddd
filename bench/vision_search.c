/*
 * vision_search.c: duplicate-face search (src/vision/index.c) at gallery sizes given on the
 * command line, on one core, printing one JSON object. Per size: exact search time per query
 * (one OpenBLAS sgemv over the gallery), the IVF's build time (k-means, sqrt(n) cells) and,
 * for nprobe 1, 2, 4, ... up to the first that reaches recall 0.99, its time per query and its
 * recall against the exact answer; the gallery's memory and the process's peak RSS.
 *
 * The gallery is synthetic: descriptors of face-api's spread (each applicant an isotropic
 * Gaussian identity centre, different people about 0.9 apart, captures 0.3 of noise, so two
 * captures of one person are about 0.42 apart), queries are fresh captures of enrolled
 * applicants, and a hit is a face within 0.6 (the ground truth is exact search). Isotropic
 * identities in all 128 dimensions are the hard case for a cell index (real descriptors lie
 * closer to a low-dimensional manifold), so the recall here is a floor.
 *   vision_search [SIZES [QUERIES]]   e.g. vision_search 10000,100000,1000000 200
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "nova/vision.h"

#define D NOVA_VISION_DESCRIPTOR
#define THRESHOLD 0.6
#define K 16

static uint64_t rs = 0x2545F4914F6CDD1Dull;

static double gauss(void)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        rs ^= rs >> 12;
        rs ^= rs << 25;
        rs ^= rs >> 27;
        u[i] = ((rs * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
    }
    return sqrt(-2 * log(u[0] + 1e-300)) * cos(2 * M_PI * u[1]);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* "p50_ms", "p95_ms" of t (sorted in place). */
static void pct(double *t, int n, double *p50, double *p95)
{
    qsort(t, (size_t)n, sizeof *t, cmp);
    *p50 = t[n / 2];
    *p95 = t[(int)ceil(0.95 * n) - 1];
}

static void run(size_t n, int nq, int last)
{
    float *centre = malloc(n * D * sizeof(float)), v[D];
    float *q = malloc((size_t)nq * D * sizeof(float));
    nova_vision_index_t *ix;
    if (!centre || !q || nova_vision_index_new(n, &ix) != NOVA_OK) {
        fprintf(stderr, "vision_search: out of memory at %zu\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < D; k++)
            centre[i * D + k] = (float)(gauss() * 0.9 / sqrt(2.0 * D));
        for (int k = 0; k < D; k++)
            v[k] = centre[i * D + k] + (float)(gauss() * 0.3 / sqrt(D));
        nova_vision_index_add(ix, v);
    }
    for (int j = 0; j < nq; j++) {
        size_t who = (size_t)(((uint64_t)j * 2654435761u) % n);
        for (int k = 0; k < D; k++)
            q[j * D + k] = centre[who * D + k] + (float)(gauss() * 0.3 / sqrt(D));
    }
    free(centre);
    /* exact */
    double *t = malloc((size_t)nq * sizeof(double)), p50, p95;
    nova_vision_hit_t *truth = malloc((size_t)nq * K * sizeof *truth), hits[K];
    size_t *nt = malloc((size_t)nq * sizeof(size_t)), total = 0;
    for (int j = 0; j < nq; j++) {
        double s = now_ms();
        nova_vision_index_search(ix, q + j * D, THRESHOLD, K, truth + j * K, &nt[j]);
        t[j] = now_ms() - s;
        total += nt[j];
    }
    pct(t, nq, &p50, &p95);
    printf("  \"%zu\": {\n    \"gallery_mb\": %.1f,\n    \"hits_per_query\": %.3f,\n", n,
           n * (D + 1) * 4.0 / 1048576, (double)total / nq);
    printf("    \"exact\": {\"p50_ms\": %.3f, \"p95_ms\": %.3f, \"n\": %d},\n", p50, p95, nq);
    /* IVF */
    size_t nlist = (size_t)llround(sqrt((double)n));
    double s = now_ms();
    if (nova_vision_index_build_ivf(ix, nlist, 10, 1) != NOVA_OK) {
        fprintf(stderr, "vision_search: IVF build failed at %zu\n", n);
        exit(1);
    }
    printf("    \"ivf_nlist\": %zu,\n    \"ivf_build_s\": %.2f,\n    \"ivf\": [", nlist,
           (now_ms() - s) / 1e3);
    double chosen_recall = 0, chosen_p50 = 0, chosen_p95 = 0;
    size_t chosen = 0;
    for (size_t np = 1; np <= nlist; np *= 2) {
        size_t found = 0;
        for (int j = 0; j < nq; j++) {
            size_t nh;
            double s1 = now_ms();
            nova_vision_index_search_ivf(ix, q + j * D, np, THRESHOLD, K, hits, &nh);
            t[j] = now_ms() - s1;
            for (size_t a = 0; a < nt[j]; a++)
                for (size_t b = 0; b < nh; b++)
                    if (hits[b].item == truth[j * K + a].item) {
                        found++;
                        break;
                    }
        }
        double recall = total ? (double)found / total : 1;
        pct(t, nq, &p50, &p95);
        printf("%s\n      {\"nprobe\": %zu, \"recall\": %.4f, \"p50_ms\": %.3f, \"p95_ms\": %.3f}",
               np == 1 ? "" : ",", np, recall, p50, p95);
        if (recall >= 0.99) {
            chosen = np, chosen_recall = recall, chosen_p50 = p50, chosen_p95 = p95;
            break;
        }
    }
    printf("\n    ],\n    \"ivf_at_recall_0.99\": {\"nprobe\": %zu, \"recall\": %.4f, \"p50_ms\": "
           "%.3f, \"p95_ms\": %.3f},\n",
           chosen, chosen_recall, chosen_p50, chosen_p95);
    /* the route's background rebuild: copy (under the read lock), rebuild apart, then catch up
     * with 1% of n enrolled meanwhile (under the write lock); a removal in place */
    nova_vision_index_t *cp = NULL;
    s = now_ms();
    if (nova_vision_index_copy(ix, &cp) != NOVA_OK) {
        fprintf(stderr, "vision_search: copy failed at %zu\n", n);
        exit(1);
    }
    double copy_ms = now_ms() - s;
    size_t late = n / 100 ? n / 100 : 1;
    for (size_t j = 0; j < late; j++)
        nova_vision_index_add(ix, q + (j % (size_t)nq) * D);
    nova_vision_index_reserve(cp, n + n / 16 + 1024); /* as the route does before locking */
    s = now_ms();
    nova_status cst = nova_vision_index_catch_up(cp, ix);
    double catch_ms = now_ms() - s;
    s = now_ms();
    for (size_t j = 0; j < 1000 && j < n; j++)
        nova_vision_index_remove(cp, j * (n / 1000 ? n / 1000 : 1));
    double remove_us = (now_ms() - s) * 1e3 / (double)(n < 1000 ? n : 1000);
    nova_vision_index_free(cp);
    printf("    \"rebuild\": {\"copy_ms\": %.2f, \"catch_up_items\": %zu, \"catch_up_ms\": %.2f, "
           "\"catch_up_ok\": %s, \"remove_us\": %.3f}\n  }%s\n",
           copy_ms, late, catch_ms, cst == NOVA_OK ? "true" : "false", remove_us, last ? "" : ",");
    fflush(stdout);
    free(t);
    free(truth);
    free(nt);
    free(q);
    nova_vision_index_free(ix);
}

int main(int argc, char **argv)
{
    const char *sizes = argc > 1 ? argv[1] : "10000,100000,1000000";
    int nq = argc > 2 ? atoi(argv[2]) : 200;
    if (nq < 1)
        nq = 1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", sizes);
    size_t list[8], nl = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && nl < 8;
         tok = strtok_r(NULL, ",", &save))
        if (atol(tok) > 0)
            list[nl++] = (size_t)atol(tok);
    printf("{\n  \"engine\": \"nova vision index (OpenBLAS, 1 thread)\",\n  \"queries\": %d,\n"
           "  \"threshold\": %.2f,\n  \"k\": %d,\n  \"sizes\": {\n",
           nq, THRESHOLD, K);
    for (size_t i = 0; i < nl; i++)
        run(list[i], nq, i + 1 == nl);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("  },\n  \"peak_rss_mb\": %.1f\n}\n", ru.ru_maxrss / 1024.0);
    return 0;
}
