/*
 * sched_test.c: the background scheduler (src/base/sched.c) through nova/sched.h: periodic
 * jobs run on their period, kicked jobs only when kicked, a job never runs twice at once and a
 * kick during a run is not lost, failures are counted, stop joins every thread, and bad names
 * are refused. Waits are bounded polls on counters (no timing assertions).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "nova/sched.h"

typedef struct counter {
    atomic_int runs, inside, max_inside;
    atomic_int hold; /* while set, a run waits inside (the test kicks meanwhile) */
    int sleep_ms;
    nova_status result;
} counter_t;

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static nova_status count_run(void *arg)
{
    counter_t *c = arg;
    int in = atomic_fetch_add(&c->inside, 1) + 1;
    int m = atomic_load(&c->max_inside);
    while (in > m && !atomic_compare_exchange_weak(&c->max_inside, &m, in))
        ;
    for (int i = 0; i < 10000 && atomic_load(&c->hold); i++)
        nap(1);
    if (c->sleep_ms)
        nap(c->sleep_ms);
    atomic_fetch_sub(&c->inside, 1);
    atomic_fetch_add(&c->runs, 1);
    return c->result;
}

/* Polls until *v >= want or about 10 s pass; returns the last value seen. */
static int wait_for(atomic_int *v, int want)
{
    for (int i = 0; i < 2000 && atomic_load(v) < want; i++)
        nap(5);
    return atomic_load(v);
}

static void test_periodic_and_kicked(void **state)
{
    (void)state;
    nova_sched_t *s = NULL;
    assert_int_equal(nova_sched_new(2, &s), NOVA_OK);
    counter_t per = {0}, kicked = {0};
    nova_sched_job_t *pj = NULL, *kj = NULL;
    assert_int_equal(nova_sched_add(s, "periodic", 10, 0, count_run, &per, &pj), NOVA_OK);
    assert_int_equal(nova_sched_add(s, "on-kick", 0, 0, count_run, &kicked, &kj), NOVA_OK);
    assert_int_equal(nova_sched_start(s), NOVA_OK);
    assert_true(wait_for(&per.runs, 3) >= 3);
    /* not kicked yet: never ran, however long the periodic one has been going */
    assert_int_equal(atomic_load(&kicked.runs), 0);
    nova_sched_kick(kj);
    assert_int_equal(wait_for(&kicked.runs, 1), 1);
    nova_sched_kick(kj);
    assert_int_equal(wait_for(&kicked.runs, 2), 2);
    nova_sched_stop(s);
    int after = atomic_load(&per.runs);
    nap(50);
    assert_int_equal(atomic_load(&per.runs), after); /* stopped means stopped */
    nova_sched_kick(NULL);                           /* a no-op */
    nova_sched_free(s);
}

/* Four pool threads, one job kicked 200 times from four threads while its first run is held
 * inside: it never overlaps itself, and the kicks fold into exactly one more run (not zero,
 * not one per kick). */
static void *kicker(void *arg)
{
    for (int i = 0; i < 50; i++)
        nova_sched_kick(arg);
    return NULL;
}

static void test_no_overlap_and_kick_not_lost(void **state)
{
    (void)state;
    nova_sched_t *s = NULL;
    assert_int_equal(nova_sched_new(4, &s), NOVA_OK);
    counter_t c = {.sleep_ms = 5};
    atomic_store(&c.hold, 1);
    nova_sched_job_t *j = NULL;
    assert_int_equal(nova_sched_add(s, "slow", 0, 0, count_run, &c, &j), NOVA_OK);
    assert_int_equal(nova_sched_start(s), NOVA_OK);
    nova_sched_kick(j);
    assert_int_equal(wait_for(&c.inside, 1), 1);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, kicker, j), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    atomic_store(&c.hold, 0);
    assert_int_equal(wait_for(&c.runs, 2), 2);
    nap(50); /* a third run, were one owed, has had time to start */
    assert_int_equal(atomic_load(&c.runs), 2);
    assert_int_equal(atomic_load(&c.max_inside), 1);
    nova_sched_free(s);
}

typedef struct seen {
    int jobs;
    uint64_t runs, failures;
    char names[128];
} seen_t;

static void collect(const nova_sched_stats_t *st, void *ctx)
{
    seen_t *v = ctx;
    v->jobs++;
    v->runs += st->runs;
    v->failures += st->failures;
    strncat(v->names, st->name, sizeof(v->names) - strlen(v->names) - 2);
    strcat(v->names, ",");
}

static void test_failures_counted(void **state)
{
    (void)state;
    nova_sched_t *s = NULL;
    assert_int_equal(nova_sched_new(1, &s), NOVA_OK);
    counter_t bad = {.result = NOVA_UNAVAILABLE};
    assert_int_equal(nova_sched_add(s, "flaky_job", 5, 0, count_run, &bad, NULL), NOVA_OK);
    assert_int_equal(nova_sched_start(s), NOVA_OK);
    assert_true(wait_for(&bad.runs, 3) >= 3); /* a failing job stays scheduled */
    nova_sched_stop(s);
    seen_t v = {0};
    nova_sched_foreach(s, collect, &v);
    assert_int_equal(v.jobs, 1);
    assert_string_equal(v.names, "flaky_job,");
    assert_true(v.runs >= 3);
    assert_int_equal(v.failures, v.runs);
    nova_sched_free(s);
}

static void test_refusals(void **state)
{
    (void)state;
    nova_sched_t *s = NULL;
    assert_int_equal(nova_sched_new(0, &s), NOVA_INVALID);
    assert_null(s);
    assert_int_equal(nova_sched_new(65, &s), NOVA_INVALID);
    assert_int_equal(nova_sched_new(1, &s), NOVA_OK);
    counter_t c = {0};
    nova_sched_job_t *j = (nova_sched_job_t *)1;
    assert_int_equal(nova_sched_add(s, "", 10, 0, count_run, &c, &j), NOVA_INVALID);
    assert_null(j);
    assert_int_equal(nova_sched_add(s, "Upper", 10, 0, count_run, &c, NULL), NOVA_INVALID);
    assert_int_equal(nova_sched_add(s, "a b", 10, 0, count_run, &c, NULL), NOVA_INVALID);
    assert_int_equal(nova_sched_add(s, "x{job=\"y\"}", 10, 0, count_run, &c, NULL), NOVA_INVALID);
    char longname[64];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[63] = 0;
    assert_int_equal(nova_sched_add(s, longname, 10, 0, count_run, &c, NULL), NOVA_INVALID);
    assert_int_equal(nova_sched_add(s, "ok", 10, 0, NULL, &c, NULL), NOVA_INVALID);
    /* never started: free needs no join */
    nova_sched_free(s);
    nova_sched_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periodic_and_kicked),
        cmocka_unit_test(test_no_overlap_and_kick_not_lost),
        cmocka_unit_test(test_failures_counted),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
