/*
 * vision_index_test.c: the duplicate-face index (src/vision/index.c). Exact search against a
 * plain loop of nova_vision_distance (same hits, same order, same distances); k and the
 * threshold; the IVF's recall against exact search on a gallery of synthetic applicants
 * (each an identity centre plus capture noise, the spread of face-api descriptors: same
 * person about 0.4 apart, different people about 0.9); descriptors added after a build; bad
 * arguments; removals (before and after a build) and the background rebuild's protocol: a
 * copy built while the original takes adds and removals, then caught up to it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nova/vision.h"

#define D NOVA_VISION_DESCRIPTOR

static uint64_t seed_state = 42;

static double gauss(void)
{
    /* Box-Muller on xorshift64* */
    double u[2];
    for (int i = 0; i < 2; i++) {
        seed_state ^= seed_state >> 12;
        seed_state ^= seed_state << 25;
        seed_state ^= seed_state >> 27;
        u[i] = ((seed_state * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
    }
    return sqrt(-2 * log(u[0] + 1e-300)) * cos(2 * M_PI * u[1]);
}

/* centre + capture noise of RMS length `noise` */
static void capture(const float *centre, double noise, float *out)
{
    for (int k = 0; k < D; k++)
        out[k] = centre[k] + (float)(gauss() * noise / sqrt(D));
}

static void identity(float *c)
{
    for (int k = 0; k < D; k++)
        c[k] = (float)(gauss() * 0.9 / sqrt(2.0 * D));
}

static void test_exact_matches_loop(void **state)
{
    (void)state;
    nova_vision_index_t *ix;
    assert_int_equal(nova_vision_index_new(16, &ix), NOVA_OK);
    enum { N = 3000 };
    float *x = malloc(N * D * sizeof(float)), c[D], q[D];
    assert_non_null(x);
    for (int i = 0; i < N; i++) {
        identity(c);
        capture(c, 0.3, x + i * D);
        assert_int_equal(nova_vision_index_add(ix, x + i * D), NOVA_OK);
    }
    assert_int_equal(nova_vision_index_size(ix), N);
    for (int t = 0; t < 20; t++) {
        capture(x + (t * 97 % N) * D, 0.3, q);
        nova_vision_hit_t hits[50];
        size_t n;
        assert_int_equal(nova_vision_index_search(ix, q, 1.0, 50, hits, &n), NOVA_OK);
        /* the loop: every item within 1.0, sorted */
        size_t want = 0;
        for (int i = 0; i < N; i++)
            want += nova_vision_distance(q, x + i * D) <= 1.0;
        assert_int_equal(n, want < 50 ? want : 50);
        assert_true(n >= 1);
        assert_int_equal(hits[0].item, (size_t)(t * 97 % N));
        for (size_t i = 0; i < n; i++) {
            assert_true(fabs(hits[i].distance - nova_vision_distance(q, x + hits[i].item * D)) <
                        1e-4);
            if (i)
                assert_true(hits[i].distance >= hits[i - 1].distance);
        }
        /* a tight threshold keeps only the duplicate; k = 1 only the nearest */
        assert_int_equal(nova_vision_index_search(ix, q, 0.6, 50, hits, &n), NOVA_OK);
        assert_int_equal(n, 1);
        assert_int_equal(nova_vision_index_search(ix, q, 2.0, 1, hits, &n), NOVA_OK);
        assert_int_equal(n, 1);
        assert_int_equal(hits[0].item, (size_t)(t * 97 % N));
    }
    /* an IVF build reorders the descriptors: exact search still names the same items, after a
     * second build too, and so does the IVF over every cell */
    for (int b = 0; b < 2; b++) {
        assert_int_equal(nova_vision_index_build_ivf(ix, 30 + 7 * b, 3, 9 + b), NOVA_OK);
        for (int t = 0; t < 5; t++) {
            nova_vision_hit_t e[5], a[5];
            size_t ne, na;
            const float *x0 = x + (t * 131 % N) * D;
            assert_int_equal(nova_vision_index_search(ix, x0, 0.01, 5, e, &ne), NOVA_OK);
            assert_int_equal(nova_vision_index_search_ivf(ix, x0, 64, 0.01, 5, a, &na), NOVA_OK);
            assert_int_equal(ne, 1);
            assert_int_equal(na, 1);
            assert_int_equal(e[0].item, (size_t)(t * 131 % N));
            assert_int_equal(a[0].item, (size_t)(t * 131 % N));
        }
    }
    nova_vision_hit_t h[1];
    size_t n;
    assert_int_equal(nova_vision_index_search(ix, q, 1.0, 0, h, &n), NOVA_INVALID);
    assert_int_equal(nova_vision_index_search(ix, q, NAN, 1, h, &n), NOVA_INVALID);
    q[3] = NAN;
    assert_int_equal(nova_vision_index_add(ix, q), NOVA_INVALID);
    assert_int_equal(nova_vision_index_size(ix), N);
    assert_int_equal(nova_vision_index_build_ivf(ix, N + 1, 0, 1), NOVA_INVALID);
    assert_int_equal(nova_vision_index_build_ivf(ix, 0, 0, 1), NOVA_INVALID);
    free(x);
    nova_vision_index_free(ix);
}

/* A gallery of 20000 applicants; 500 of them come back: IVF must find what exact search finds
 * (recall >= 0.99 at nprobe 32 of 128 cells), and a face enrolled after the build too. */
static void test_ivf_recall(void **state)
{
    (void)state;
    enum { N = 20000, Q = 500 };
    float *centres = malloc(N * D * sizeof(float)), v[D], q[D];
    nova_vision_index_t *ix;
    assert_non_null(centres);
    assert_int_equal(nova_vision_index_new(N, &ix), NOVA_OK);
    for (int i = 0; i < N; i++) {
        identity(centres + i * D);
        capture(centres + i * D, 0.3, v);
        assert_int_equal(nova_vision_index_add(ix, v), NOVA_OK);
    }
    assert_int_equal(nova_vision_index_build_ivf(ix, 128, 10, 7), NOVA_OK);
    size_t want = 0, got = 0;
    for (int t = 0; t < Q; t++) {
        capture(centres + (t * 37 % N) * D, 0.3, q);
        nova_vision_hit_t e[16], a[16];
        size_t ne, na;
        assert_int_equal(nova_vision_index_search(ix, q, 0.6, 16, e, &ne), NOVA_OK);
        assert_int_equal(nova_vision_index_search_ivf(ix, q, 32, 0.6, 16, a, &na), NOVA_OK);
        want += ne;
        for (size_t i = 0; i < ne; i++)
            for (size_t j = 0; j < na; j++)
                if (a[j].item == e[i].item) {
                    got++;
                    break;
                }
        for (size_t j = 0; j < na; j++) /* nothing the IVF returns is outside the threshold */
            assert_true(a[j].distance <= 0.6f + 1e-5f);
    }
    fprintf(stderr, "ivf recall %zu / %zu\n", got, want);
    assert_true(want >= Q);
    assert_true(got >= 0.99 * want);
    /* enrolled after the build: found by the IVF search (scanned exactly) */
    float late[D];
    identity(late);
    assert_int_equal(nova_vision_index_add(ix, late), NOVA_OK);
    nova_vision_hit_t h[4];
    size_t n;
    assert_int_equal(nova_vision_index_search_ivf(ix, late, 1, 0.1, 4, h, &n), NOVA_OK);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].item, (size_t)N);
    free(centres);
    nova_vision_index_free(ix);
}

/* Every item of ix within reach of itself, by exact and IVF search, unless removed. */
static void check_items(nova_vision_index_t *ix, const float *x, size_t n, const bool *gone)
{
    for (size_t i = 0; i < n; i++) {
        nova_vision_hit_t h[4];
        size_t k;
        assert_int_equal(nova_vision_index_search(ix, x + i * D, 0.05, 4, h, &k), NOVA_OK);
        assert_int_equal(k, gone[i] ? 0 : 1);
        if (k)
            assert_int_equal(h[0].item, i);
        assert_int_equal(nova_vision_index_search_ivf(ix, x + i * D, 4, 0.05, 4, h, &k), NOVA_OK);
        if (gone[i])
            assert_int_equal(k, 0);
        else if (k) /* the IVF may miss (4 of 16 cells), never return another item */
            assert_int_equal(h[0].item, i);
    }
}

static void test_remove_copy_catch_up(void **state)
{
    (void)state;
    enum { N = 2000, LATE = 300 };
    float *x = malloc((N + LATE) * D * sizeof(float));
    bool gone[N + LATE] = {false};
    assert_non_null(x);
    nova_vision_index_t *ix, *cp;
    assert_int_equal(nova_vision_index_new(8, &ix), NOVA_OK);
    for (int i = 0; i < N + LATE; i++)
        identity(x + i * D);
    for (int i = 0; i < N; i++)
        assert_int_equal(nova_vision_index_add(ix, x + i * D), NOVA_OK);
    /* removed before any build, and twice */
    assert_int_equal(nova_vision_index_remove(ix, 5), NOVA_OK);
    gone[5] = true;
    assert_int_equal(nova_vision_index_remove(ix, 5), NOVA_NOT_FOUND);
    assert_int_equal(nova_vision_index_remove(ix, N), NOVA_NOT_FOUND);
    assert_int_equal(nova_vision_index_live(ix), N - 1);
    assert_int_equal(nova_vision_index_build_ivf(ix, 16, 5, 3), NOVA_OK);
    assert_int_equal(nova_vision_index_cells(ix), 16);
    assert_int_equal(nova_vision_index_unbuilt(ix), 0);
    check_items(ix, x, N, gone);
    /* removed after the build: items keep their numbers although their rows moved */
    for (int i = 0; i < N; i += 97) {
        assert_int_equal(nova_vision_index_remove(ix, (size_t)i),
                         i == 5 ? NOVA_NOT_FOUND : NOVA_OK);
        gone[i] = true;
    }
    check_items(ix, x, N, gone);
    /* the rebuild: a copy is rebuilt while the original takes adds and removals */
    assert_int_equal(nova_vision_index_copy(ix, &cp), NOVA_OK);
    assert_int_equal(nova_vision_index_size(cp), N);
    assert_int_equal(nova_vision_index_build_ivf(cp, 20, 5, 9), NOVA_OK);
    for (int i = N; i < N + LATE; i++)
        assert_int_equal(nova_vision_index_add(ix, x + i * D), NOVA_OK);
    assert_int_equal(nova_vision_index_remove(ix, N + 7), NOVA_OK); /* added, then removed */
    gone[N + 7] = true;
    assert_int_equal(nova_vision_index_remove(ix, 11), NOVA_OK); /* an older one */
    gone[11] = true;
    assert_int_equal(nova_vision_index_unbuilt(ix), LATE);
    assert_int_equal(nova_vision_index_catch_up(cp, ix), NOVA_OK);
    assert_int_equal(nova_vision_index_remove(cp, 11), NOVA_OK); /* the caller's to repeat */
    assert_int_equal(nova_vision_index_size(cp), N + LATE);
    assert_int_equal(nova_vision_index_live(cp), nova_vision_index_live(ix));
    assert_int_equal(nova_vision_index_cells(cp), 20);
    check_items(cp, x, N + LATE, gone);
    check_items(ix, x, N + LATE, gone);
    /* an equal copy is a no-op; a copy ahead of the original is refused */
    assert_int_equal(nova_vision_index_catch_up(ix, cp), NOVA_OK);
    nova_vision_index_free(cp);
    assert_int_equal(nova_vision_index_copy(ix, &cp), NOVA_OK);
    assert_int_equal(nova_vision_index_add(cp, x), NOVA_OK);
    assert_int_equal(nova_vision_index_catch_up(cp, ix), NOVA_INVALID);
    nova_vision_index_free(cp);
    nova_vision_index_free(ix);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_matches_loop),
        cmocka_unit_test(test_ivf_recall),
        cmocka_unit_test(test_remove_copy_catch_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
