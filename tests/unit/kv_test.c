/*
 * kv_test.c: the control plane, every case against the in-process driver and, when
 * NOVA_TEST_REDIS_URL is set, against that Redis too. With Redis, the outage case starts a
 * redis-server of its own (on a free loopback port, no persistence), stops it mid-run and
 * starts it again.
 *
 *   NOVA_TEST_REDIS_URL=$(scripts/redis.sh start) build/tests/unit/kv_test
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nova/kv.h"
/* The in-process table itself, for the full-table case (its bound is too big to reach). */
#include "../../src/kv/inproc.c"

static const char *g_url; /* the group running: NULL in-process, else Redis */
static char g_run[32];    /* a prefix unique to this run: the Redis may be shared */

typedef struct fixture {
    nova_kv_t *kv;
    nova_arena_t a;
} fixture_t;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static uint64_t now_ms(void)
{
    return nova_time_mono_ns() / 1000000u;
}

static const char *k(fixture_t *f, const char *name)
{
    return nova_arena_printf(&f->a, "test:%s:%s", g_run, name);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    char err[256];
    assert_non_null(f);
    nova_arena_init(&f->a, 4096);
    nova_status st = nova_kv_open(g_url, NULL, &f->kv, err, sizeof(err));
    if (st != NOVA_OK)
        fail_msg("open %s: %s", g_url ? g_url : "inproc", err);
    assert_string_equal(nova_kv_driver(f->kv), g_url ? "redis" : "inproc");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    nova_kv_close(f->kv);
    nova_arena_free(&f->a);
    free(f);
    return 0;
}

/* ---- arguments ---- */

static void test_open_urls(void **state)
{
    (void)state;
    nova_kv_t *kv = NULL;
    char err[256];
    assert_int_equal(nova_kv_open("memcached://x", NULL, &kv, err, sizeof(err)), NOVA_INVALID);
    assert_null(kv);
    assert_int_equal(nova_kv_open("redis://h:99999", NULL, &kv, err, sizeof(err)), NOVA_INVALID);
    assert_int_equal(nova_kv_open("redis://h/notanumber", NULL, &kv, err, sizeof(err)),
                     NOVA_INVALID);
    assert_int_equal(nova_kv_open("redis://[::1", NULL, &kv, err, sizeof(err)), NOVA_INVALID);
    assert_int_equal(nova_kv_open("redis://u:%zz@h", NULL, &kv, err, sizeof(err)), NOVA_INVALID);
    /* Port 1 on loopback: nothing listens. The reason names the address, not the secret. */
    assert_int_equal(nova_kv_open("redis://:s3cr3tpass@127.0.0.1:1/0", NULL, &kv, err, sizeof(err)),
                     NOVA_UNAVAILABLE);
    assert_null(kv);
    assert_non_null(strstr(err, "127.0.0.1:1"));
    assert_null(strstr(err, "s3cr3tpass"));
    nova_kv_close(NULL);
}

static void test_bounds(void **state)
{
    fixture_t *f = *state;
    char *big = calloc(1, NOVA_KV_VALUE_MAX + 2);
    char key[NOVA_KV_KEY_MAX + 2];
    int64_t c;
    char *v;
    assert_non_null(big);
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    assert_int_equal(nova_kv_set_nx(f->kv, "", "v", 1, 1000), NOVA_INVALID);
    assert_int_equal(nova_kv_set_nx(f->kv, key, "v", 1, 1000), NOVA_INVALID);
    key[NOVA_KV_KEY_MAX] = '\0'; /* exactly the longest */
    assert_int_equal(nova_kv_set(f->kv, key, "v", 1, 1000), NOVA_OK);
    assert_int_equal(nova_kv_del(f->kv, key), NOVA_OK);
    assert_int_equal(nova_kv_set_nx(f->kv, k(f, "b"), "v", 1, 0), NOVA_INVALID);
    assert_int_equal(nova_kv_set_nx(f->kv, k(f, "b"), "v", 1, NOVA_KV_TTL_MAX_MS + 1),
                     NOVA_INVALID);
    assert_int_equal(nova_kv_set(f->kv, k(f, "b"), big, NOVA_KV_VALUE_MAX + 1, 1000), NOVA_INVALID);
    assert_int_equal(nova_kv_set(f->kv, k(f, "b"), NULL, 3, 1000), NOVA_INVALID);
    assert_int_equal(nova_kv_incr(f->kv, k(f, "b"), 1, 0, &c, NULL), NOVA_INVALID);
    assert_int_equal(nova_kv_incr(f->kv, k(f, "b"), INT64_MAX, 1000, &c, NULL), NOVA_INVALID);
    assert_int_equal(nova_kv_get(f->kv, NULL, &f->a, &v, NULL), NOVA_INVALID);
    assert_int_equal(nova_kv_flag_set(f->kv, "bad name", "1"), NOVA_INVALID);
    assert_int_equal(nova_kv_flag_set(f->kv, "", "1"), NOVA_INVALID);
    assert_int_equal(nova_kv_flag_set(f->kv, "ok", ""), NOVA_INVALID);
    /* The largest value is stored and read back whole. */
    memset(big, 'x', NOVA_KV_VALUE_MAX);
    big[10] = '\0';
    assert_int_equal(nova_kv_set(f->kv, k(f, "big"), big, NOVA_KV_VALUE_MAX, 5000), NOVA_OK);
    size_t n = 0;
    assert_int_equal(nova_kv_get(f->kv, k(f, "big"), &f->a, &v, &n), NOVA_OK);
    assert_int_equal(n, NOVA_KV_VALUE_MAX);
    assert_memory_equal(v, big, n);
    assert_int_equal(v[n], '\0');
    free(big);
}

/* ---- replay caches ---- */

static void test_set_nx(void **state)
{
    fixture_t *f = *state;
    const char *key = k(f, "jti-1");
    assert_int_equal(nova_kv_set_nx(f->kv, key, "1", 1, 60000), NOVA_OK);
    assert_int_equal(nova_kv_set_nx(f->kv, key, "2", 1, 60000), NOVA_CONFLICT);
    char *v;
    assert_int_equal(nova_kv_get(f->kv, key, &f->a, &v, NULL), NOVA_OK);
    assert_string_equal(v, "1"); /* the replay changed nothing */
    assert_int_equal(nova_kv_set_nx(f->kv, k(f, "empty"), NULL, 0, 60000), NOVA_OK);
    assert_int_equal(nova_kv_set_nx(f->kv, k(f, "empty"), NULL, 0, 60000), NOVA_CONFLICT);
}

static void test_set_nx_expires(void **state)
{
    fixture_t *f = *state;
    const char *key = k(f, "short");
    char *v;
    assert_int_equal(nova_kv_set_nx(f->kv, key, "a", 1, 80), NOVA_OK);
    sleep_ms(200);
    assert_int_equal(nova_kv_get(f->kv, key, &f->a, &v, NULL), NOVA_NOT_FOUND);
    assert_int_equal(nova_kv_set_nx(f->kv, key, "b", 1, 80), NOVA_OK);
}

typedef struct race {
    nova_kv_t *kv;
    const char *prefix;
    int keys;
    int wins;
    int64_t last;
} race_t;

static void *race_set_nx(void *arg)
{
    race_t *r = arg;
    char key[128];
    for (int i = 0; i < r->keys; i++) {
        snprintf(key, sizeof(key), "%s:%d", r->prefix, i);
        nova_status st = nova_kv_set_nx(r->kv, key, "x", 1, 60000);
        if (st == NOVA_OK)
            r->wins++;
        else if (st != NOVA_CONFLICT)
            r->wins = -1000000; /* any other answer fails the sum below */
    }
    return NULL;
}

/* Of concurrent callers with one key, exactly one is first, each on its own connection. */
static void test_set_nx_race(void **state)
{
    fixture_t *f = *state;
    enum { T = 8, KEYS = 500 };
    pthread_t th[T];
    race_t r[T];
    for (int i = 0; i < T; i++) {
        r[i] = (race_t){f->kv, k(f, "race"), KEYS, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, race_set_nx, &r[i]), 0);
    }
    int wins = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        wins += r[i].wins;
    }
    assert_int_equal(wins, KEYS);
}

/* ---- counters ---- */

static void test_incr(void **state)
{
    fixture_t *f = *state;
    const char *key = k(f, "ctr");
    int64_t c = 0;
    uint64_t reset = 0;
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(nova_kv_incr(f->kv, key, 1, 60000, &c, &reset), NOVA_OK);
        assert_int_equal(c, i);
        assert_true(reset >= 1 && reset <= 60000);
    }
    assert_int_equal(nova_kv_incr(f->kv, key, 0, 60000, &c, NULL), NOVA_OK);
    assert_int_equal(c, 5);
    assert_int_equal(nova_kv_incr(f->kv, key, -2, 60000, &c, NULL), NOVA_OK);
    assert_int_equal(c, 3);
    assert_int_equal(nova_kv_incr(f->kv, key, 1000, 60000, &c, NULL), NOVA_OK);
    assert_int_equal(c, 1003);
    char *v;
    assert_int_equal(nova_kv_get(f->kv, key, &f->a, &v, NULL), NOVA_OK);
    assert_string_equal(v, "1003");
    /* A value that is not a counter. */
    assert_int_equal(nova_kv_set(f->kv, k(f, "str"), "abc", 3, 60000), NOVA_OK);
    assert_int_equal(nova_kv_incr(f->kv, k(f, "str"), 1, 60000, &c, NULL), NOVA_CONFLICT);
}

/* A fixed window: later calls do not extend it; once it has passed, counting restarts. */
static void test_incr_window(void **state)
{
    fixture_t *f = *state;
    const char *key = k(f, "win");
    int64_t c;
    uint64_t r1, r2;
    /* A window long enough that a stalled machine (ASan, a loaded CI host) still makes the
     * second call inside it; the test sleeps past it only once. */
    uint64_t t0 = nova_time_mono_ns();
    assert_int_equal(nova_kv_incr(f->kv, key, 1, 1500, &c, &r1), NOVA_OK);
    sleep_ms(120);
    assert_int_equal(nova_kv_incr(f->kv, key, 1, 1500, &c, &r2), NOVA_OK);
    if ((nova_time_mono_ns() - t0) / 1000000 < 1400) {
        assert_int_equal(c, 2);
        assert_true(r2 < r1); /* the second call did not restart the window */
    }
    sleep_ms(1600);
    assert_int_equal(nova_kv_incr(f->kv, key, 1, 1500, &c, &r1), NOVA_OK);
    assert_int_equal(c, 1);
}

static void *race_incr(void *arg)
{
    race_t *r = arg;
    for (int i = 0; i < r->keys; i++) {
        int64_t c;
        if (nova_kv_incr(r->kv, r->prefix, 1, 60000, &c, NULL) != NOVA_OK)
            return NULL;
        r->wins++;
        r->last = c > r->last ? c : r->last;
    }
    return NULL;
}

static void test_incr_race(void **state)
{
    fixture_t *f = *state;
    enum { T = 8, N = 500 };
    pthread_t th[T];
    race_t r[T];
    const char *key = k(f, "ctr-race");
    for (int i = 0; i < T; i++) {
        r[i] = (race_t){f->kv, key, N, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, race_incr, &r[i]), 0);
    }
    int64_t max = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].wins, N);
        max = r[i].last > max ? r[i].last : max;
    }
    assert_int_equal(max, T * N);
    int64_t c;
    assert_int_equal(nova_kv_incr(f->kv, key, 0, 60000, &c, NULL), NOVA_OK);
    assert_int_equal(c, T * N);
}

/* ---- values ---- */

static void test_values(void **state)
{
    fixture_t *f = *state;
    const char *key = k(f, "sess");
    static const char bin[] = {'a', '\0', 'b', '\xff', '\n'};
    char *v;
    size_t n;
    assert_int_equal(nova_kv_get(f->kv, key, &f->a, &v, &n), NOVA_NOT_FOUND);
    assert_int_equal(nova_kv_set(f->kv, key, bin, sizeof(bin), 60000), NOVA_OK);
    assert_int_equal(nova_kv_get(f->kv, key, &f->a, &v, &n), NOVA_OK);
    assert_int_equal(n, sizeof(bin));
    assert_memory_equal(v, bin, sizeof(bin));
    assert_int_equal(v[n], '\0');
    /* set replaces the value and its TTL */
    assert_int_equal(nova_kv_set(f->kv, key, "new", 3, 80), NOVA_OK);
    assert_int_equal(nova_kv_get(f->kv, key, &f->a, &v, &n), NOVA_OK);
    assert_string_equal(v, "new");
    sleep_ms(200);
    assert_int_equal(nova_kv_get(f->kv, key, &f->a, &v, &n), NOVA_NOT_FOUND);
    /* del */
    assert_int_equal(nova_kv_set(f->kv, key, "x", 1, 60000), NOVA_OK);
    assert_int_equal(nova_kv_del(f->kv, key), NOVA_OK);
    assert_int_equal(nova_kv_del(f->kv, key), NOVA_NOT_FOUND);
    assert_int_equal(nova_kv_get(f->kv, key, &f->a, &v, NULL), NOVA_NOT_FOUND);
    /* take: exactly once */
    assert_int_equal(nova_kv_set(f->kv, key, "once", 4, 60000), NOVA_OK);
    assert_int_equal(nova_kv_take(f->kv, key, &f->a, &v, &n), NOVA_OK);
    assert_string_equal(v, "once");
    assert_int_equal(nova_kv_take(f->kv, key, &f->a, &v, &n), NOVA_NOT_FOUND);
    /* a replay-cache entry is an ordinary value */
    assert_int_equal(nova_kv_set_nx(f->kv, key, "nx", 2, 60000), NOVA_OK);
    assert_int_equal(nova_kv_get(f->kv, key, &f->a, &v, NULL), NOVA_OK);
    assert_string_equal(v, "nx");
}

static void *race_take(void *arg)
{
    race_t *r = arg;
    nova_arena_t a;
    nova_arena_init(&a, 1024);
    char key[128];
    for (int i = 0; i < r->keys; i++) {
        char *v;
        snprintf(key, sizeof(key), "%s:%d", r->prefix, i);
        nova_status st = nova_kv_take(r->kv, key, &a, &v, NULL);
        if (st == NOVA_OK)
            r->wins++;
        else if (st != NOVA_NOT_FOUND)
            r->wins = -1000000;
    }
    nova_arena_free(&a);
    return NULL;
}

static void test_take_race(void **state)
{
    fixture_t *f = *state;
    enum { T = 6, KEYS = 300 };
    pthread_t th[T];
    race_t r[T];
    const char *prefix = k(f, "take");
    char key[128];
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "%s:%d", prefix, i);
        assert_int_equal(nova_kv_set(f->kv, key, "v", 1, 60000), NOVA_OK);
    }
    for (int i = 0; i < T; i++) {
        r[i] = (race_t){f->kv, prefix, KEYS, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, race_take, &r[i]), 0);
    }
    int wins = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        wins += r[i].wins;
    }
    assert_int_equal(wins, KEYS);
}

/* Many short-lived entries nobody reads again: expired ones never show, and the table keeps
 * working (in-process: the sweep reclaims them). */
static void test_many_expire(void **state)
{
    fixture_t *f = *state;
    char key[128];
    const char *p = k(f, "many");
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "%s:%d", p, i);
        assert_int_equal(nova_kv_set_nx(f->kv, key, "v", 1, 50), NOVA_OK);
    }
    sleep_ms(150);
    for (int i = 0; i < 5000; i += 7) {
        char *v;
        snprintf(key, sizeof(key), "%s:%d", p, i);
        assert_int_equal(nova_kv_get(f->kv, key, &f->a, &v, NULL), NOVA_NOT_FOUND);
        assert_int_equal(nova_kv_set_nx(f->kv, key, "w", 1, 60000), NOVA_OK);
    }
}

/* ---- flags ---- */

static const char *fl(fixture_t *f, const char *name)
{
    return nova_arena_printf(&f->a, "test.%s.%s", g_run, name);
}

static void test_flags(void **state)
{
    fixture_t *f = *state;
    char *v, **names, **values;
    size_t n;
    nova_kv_stats_t s0, s1;
    nova_kv_stats(f->kv, &s0);
    assert_int_equal(nova_kv_flag_get(f->kv, fl(f, "a"), &f->a, &v), NOVA_NOT_FOUND);
    assert_int_equal(nova_kv_flag_set(f->kv, fl(f, "b"), "on"), NOVA_OK);
    assert_int_equal(nova_kv_flag_set(f->kv, fl(f, "a"), "1"), NOVA_OK);
    assert_int_equal(nova_kv_flag_set(f->kv, fl(f, "c:x/y-z_"), "v w"), NOVA_OK);
    /* This instance reads its own writes at once. */
    assert_int_equal(nova_kv_flag_get(f->kv, fl(f, "a"), &f->a, &v), NOVA_OK);
    assert_string_equal(v, "1");
    assert_int_equal(nova_kv_flag_set(f->kv, fl(f, "a"), "2"), NOVA_OK);
    assert_int_equal(nova_kv_flag_get(f->kv, fl(f, "a"), &f->a, &v), NOVA_OK);
    assert_string_equal(v, "2");
    assert_int_equal(nova_kv_flag_list(f->kv, nova_arena_printf(&f->a, "test.%s.", g_run), &f->a,
                                       &names, &values, &n),
                     NOVA_OK);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], fl(f, "a"));
    assert_string_equal(values[0], "2");
    assert_string_equal(names[1], fl(f, "b"));
    assert_string_equal(names[2], fl(f, "c:x/y-z_"));
    assert_string_equal(values[2], "v w");
    assert_int_equal(nova_kv_flag_set(f->kv, fl(f, "b"), NULL), NOVA_OK);
    assert_int_equal(nova_kv_flag_get(f->kv, fl(f, "b"), &f->a, &v), NOVA_NOT_FOUND);
    assert_int_equal(nova_kv_flag_set(f->kv, fl(f, "b"), NULL), NOVA_OK); /* clear: idempotent */
    nova_kv_stats(f->kv, &s1);
    assert_true(s1.flags_version > s0.flags_version);
    assert_int_equal(s1.errors, 0);
    nova_kv_flag_set(f->kv, fl(f, "a"), NULL);
    nova_kv_flag_set(f->kv, fl(f, "c:x/y-z_"), NULL);
}

/* Two instances on one Redis, as two novad processes: a change on one is seen by the other
 * within 1 s. */
static void test_flags_two_instances(void **state)
{
    fixture_t *f = *state;
    nova_kv_t *other;
    char err[256], *v = NULL;
    if (g_url == NULL)
        skip(); /* in-process facts are private to one instance by design */
    assert_int_equal(nova_kv_open(g_url, NULL, &other, err, sizeof(err)), NOVA_OK);
    const char *name = fl(f, "kill");
    assert_int_equal(nova_kv_flag_get(other, name, &f->a, &v), NOVA_NOT_FOUND);
    assert_int_equal(nova_kv_flag_set(f->kv, name, "on"), NOVA_OK);
    uint64_t t0 = now_ms();
    nova_status st;
    while ((st = nova_kv_flag_get(other, name, &f->a, &v)) == NOVA_NOT_FOUND &&
           now_ms() - t0 < 1000)
        sleep_ms(10);
    assert_int_equal(st, NOVA_OK);
    assert_string_equal(v, "on");
    /* and a clear travels the same way */
    assert_int_equal(nova_kv_flag_set(other, name, NULL), NOVA_OK);
    t0 = now_ms();
    while ((st = nova_kv_flag_get(f->kv, name, &f->a, &v)) == NOVA_OK && now_ms() - t0 < 1000)
        sleep_ms(10);
    assert_int_equal(st, NOVA_NOT_FOUND);
    /* the shared counters are shared too */
    int64_t c;
    assert_int_equal(nova_kv_incr(f->kv, k(f, "shared"), 1, 60000, &c, NULL), NOVA_OK);
    assert_int_equal(nova_kv_incr(other, k(f, "shared"), 1, 60000, &c, NULL), NOVA_OK);
    assert_int_equal(c, 2);
    assert_int_equal(nova_kv_set_nx(other, k(f, "shared-nx"), "1", 1, 60000), NOVA_OK);
    assert_int_equal(nova_kv_set_nx(f->kv, k(f, "shared-nx"), "1", 1, 60000), NOVA_CONFLICT);
    nova_kv_close(other);
}

/* ---- Redis outage: a server of this test's own, stopped and started again ---- */

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

static pid_t redis_start(int port, const char *dir)
{
    char p[16], log[128];
    snprintf(p, sizeof(p), "%d", port);
    snprintf(log, sizeof(log), "%s/server.log", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", dir, "--logfile", log, "--loglevel", "warning",
               (char *)NULL);
        _exit(127);
    }
    /* Up when it answers PING (bounded: 5 s). */
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    for (int i = 0; i < 500; i++) {
        nova_kv_t *kv;
        char err[256];
        if (nova_kv_open(url, NULL, &kv, err, sizeof(err)) == NOVA_OK) {
            nova_kv_close(kv);
            return pid;
        }
        sleep_ms(10);
    }
    fail_msg("redis-server on port %d did not start", port);
    return -1;
}

static void redis_stop(pid_t pid)
{
    int status;
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
}

static void test_outage(void **state)
{
    fixture_t *f = *state;
    char dir[] = "/tmp/nova-kv-test-XXXXXX", url[64], err[256], *v;
    nova_kv_t *kv;
    int64_t c;
    if (g_url == NULL)
        skip();
    assert_non_null(mkdtemp(dir));
    int port = free_port();
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", port);
    pid_t pid = redis_start(port, dir);
    nova_kv_options_t opts = {.timeout_ms = 300};
    assert_int_equal(nova_kv_open(url, &opts, &kv, err, sizeof(err)), NOVA_OK);
    assert_int_equal(nova_kv_set_nx(kv, "o:1", "v", 1, 60000), NOVA_OK);
    assert_int_equal(nova_kv_flag_set(kv, "o.flag", "on"), NOVA_OK);

    redis_stop(pid);
    /* Every call fails closed; none says "first sight" or "allowed". */
    assert_int_equal(nova_kv_ping(kv), NOVA_UNAVAILABLE);
    assert_int_equal(nova_kv_set_nx(kv, "o:2", "v", 1, 60000), NOVA_UNAVAILABLE);
    assert_int_equal(nova_kv_incr(kv, "o:c", 1, 60000, &c, NULL), NOVA_UNAVAILABLE);
    assert_int_equal(nova_kv_get(kv, "o:1", &f->a, &v, NULL), NOVA_UNAVAILABLE);
    assert_int_equal(nova_kv_set(kv, "o:1", "v", 1, 1000), NOVA_UNAVAILABLE);
    assert_int_equal(nova_kv_del(kv, "o:1"), NOVA_UNAVAILABLE);
    assert_int_equal(nova_kv_take(kv, "o:1", &f->a, &v, NULL), NOVA_UNAVAILABLE);
    assert_int_equal(nova_kv_flag_set(kv, "o.flag", "off"), NOVA_UNAVAILABLE);
    /* The flag copy is trusted until it is NOVA_KV_FLAG_STALE_MS old, then refused. */
    uint64_t t0 = now_ms();
    nova_status st;
    while ((st = nova_kv_flag_get(kv, "o.flag", &f->a, &v)) == NOVA_OK && now_ms() - t0 < 3000)
        sleep_ms(20);
    assert_int_equal(st, NOVA_UNAVAILABLE);
    nova_kv_stats_t s;
    nova_kv_stats(kv, &s);
    assert_true(s.errors >= 9);

    /* Started again (empty: no persistence): calls recover without reopening the kv. */
    pid = redis_start(port, dir);
    t0 = now_ms();
    while ((st = nova_kv_ping(kv)) != NOVA_OK && now_ms() - t0 < 3000)
        sleep_ms(20);
    assert_int_equal(st, NOVA_OK);
    assert_int_equal(nova_kv_set_nx(kv, "o:2", "v", 1, 60000), NOVA_OK);
    assert_int_equal(nova_kv_incr(kv, "o:c", 1, 60000, &c, NULL), NOVA_OK); /* NOSCRIPT path */
    assert_int_equal(c, 1);
    t0 = now_ms();
    while ((st = nova_kv_flag_get(kv, "o.flag", &f->a, &v)) == NOVA_UNAVAILABLE &&
           now_ms() - t0 < 3000)
        sleep_ms(20);
    assert_int_equal(st, NOVA_NOT_FOUND); /* the new server has no flags */
    assert_int_equal(nova_kv_flag_set(kv, "o.flag", "again"), NOVA_OK);
    assert_int_equal(nova_kv_flag_get(kv, "o.flag", &f->a, &v), NOVA_OK);
    assert_string_equal(v, "again");
    nova_kv_stats(kv, &s);
    assert_true(s.reconnects >= 1);
    nova_kv_close(kv);
    redis_stop(pid);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A full in-process table fails closed (a replay cache that cannot remember must not say
 * "first sight"), still knows what it holds, sweeps itself whole at most once per
 * INPROC_FULL_SWEEP_NS, and takes writes again once its entries expire. */
static void test_inproc_full(void **state)
{
    fixture_t *f = *state;
    if (g_url != NULL)
        skip(); /* Redis has its own maxmemory policy */
    inproc_t *t = f->kv->impl;
    t->max = 64;
    char key[32];
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof(key), "full:%d", i);
        assert_int_equal(nova_kv_set_nx(f->kv, key, "v", 1, i < 32 ? 300 : 60000), NOVA_OK);
    }
    assert_int_equal(nova_kv_set_nx(f->kv, "full:new", NULL, 0, 60000), NOVA_UNAVAILABLE);
    int64_t c;
    assert_int_equal(nova_kv_incr(f->kv, "full:count", 1, 60000, &c, NULL), NOVA_UNAVAILABLE);
    assert_int_equal(nova_kv_set_nx(f->kv, "full:40", NULL, 0, 60000), NOVA_CONFLICT);
    assert_int_equal(nova_kv_set(f->kv, "full:40", "w", 1, 60000), NOVA_OK); /* a replace */
    char *v;
    size_t n;
    assert_int_equal(nova_kv_get(f->kv, "full:40", &f->a, &v, &n), NOVA_OK);
    assert_int_equal(n, 1);
    assert_memory_equal(v, "w", 1);
    sleep_ms(400); /* the first 32 expire; the last full sweep is older than 100 ms */
    assert_int_equal(nova_kv_set_nx(f->kv, "full:new", NULL, 0, 60000), NOVA_OK);
    assert_int_equal(t->n, 33);
    assert_int_equal(nova_kv_set_nx(f->kv, "full:new", NULL, 0, 60000), NOVA_CONFLICT);
}

#define CASE(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_urls),
        CASE(test_bounds),
        CASE(test_set_nx),
        CASE(test_set_nx_expires),
        CASE(test_set_nx_race),
        CASE(test_incr),
        CASE(test_incr_window),
        CASE(test_incr_race),
        CASE(test_values),
        CASE(test_take_race),
        CASE(test_many_expire),
        CASE(test_flags),
        CASE(test_flags_two_instances),
        CASE(test_outage),
        CASE(test_inproc_full),
    };
    int rc;
    snprintf(g_run, sizeof(g_run), "%ld-%d", (long)time(NULL), (int)getpid());
    g_url = NULL;
    rc = cmocka_run_group_tests_name("kv inproc", tests, NULL, NULL);
    const char *redis = getenv("NOVA_TEST_REDIS_URL");
    if (redis != NULL && redis[0] != '\0') {
        g_url = redis;
        rc |= cmocka_run_group_tests_name("kv redis", tests, NULL, NULL);
    }
    return rc;
}
