/*
 * queue_test.c: the job queue (nova/queue.h) on the in-process driver, and on a real RabbitMQ
 * with NOVA_TEST_AMQP_URL (scripts/rabbitmq.sh start prints one): order, ack, reject with
 * requeue (redelivered), reject to the dead-letter queue, a consumer closed with a message
 * unacknowledged gives it back, several consumers compete and every message is taken once;
 * RPC (sync mode): a call's job carries its reply address and correlation id through a requeue,
 * the consumer's answer (from another queue handle, as from another process) wakes exactly its
 * caller, a plain job has nothing to answer, and bad correlation ids are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nova/queue.h"

static char qname[64];

static nova_queue_t *open_q(const char *url)
{
    nova_queue_t *q = NULL;
    char err[256] = "";
    nova_status st = nova_queue_open(url, qname, NULL, &q, err, sizeof(err));
    if (st != NOVA_OK)
        fprintf(stderr, "queue_test: %s\n", err);
    assert_int_equal(st, NOVA_OK);
    return q;
}

/* Takes everything left so a broker queue starts empty. */
static void drain(nova_queue_t *q)
{
    nova_queue_consumer_t *c = NULL;
    assert_int_equal(nova_queue_consumer_open(q, &c), NOVA_OK);
    nova_queue_msg_t m;
    while (nova_queue_next(c, 300, &m) == NOVA_OK)
        nova_queue_ack(c, &m);
    nova_queue_consumer_close(c);
}

static void semantics(const char *url)
{
    nova_queue_t *q = open_q(url);
    drain(q);
    for (int i = 0; i < 3; i++) {
        char b[16];
        int n = snprintf(b, sizeof(b), "job-%d", i);
        assert_int_equal(nova_queue_publish(q, b, (size_t)n), NOVA_OK);
    }
    assert_int_equal(nova_queue_publish(q, "", 0), NOVA_INVALID);
    nova_queue_consumer_t *c = NULL;
    assert_int_equal(nova_queue_consumer_open(q, &c), NOVA_OK);
    nova_queue_msg_t m;
    /* In order; a reject with requeue comes back, marked redelivered. */
    assert_int_equal(nova_queue_next(c, 5000, &m), NOVA_OK);
    assert_memory_equal(m.body, "job-0", 5);
    assert_false(m.redelivered);
    assert_int_equal(nova_queue_reject(c, &m, true), NOVA_OK);
    assert_int_equal(nova_queue_next(c, 5000, &m), NOVA_OK);
    assert_memory_equal(m.body, "job-0", 5);
    assert_true(m.redelivered);
    assert_int_equal(nova_queue_ack(c, &m), NOVA_OK);
    /* A reject without requeue dead-letters. */
    assert_int_equal(nova_queue_next(c, 5000, &m), NOVA_OK);
    assert_memory_equal(m.body, "job-1", 5);
    assert_int_equal(nova_queue_reject(c, &m, false), NOVA_OK);
    /* A consumer that goes away holding a message gives it back. */
    assert_int_equal(nova_queue_next(c, 5000, &m), NOVA_OK);
    assert_memory_equal(m.body, "job-2", 5);
    nova_queue_consumer_close(c);
    assert_int_equal(nova_queue_consumer_open(q, &c), NOVA_OK);
    assert_int_equal(nova_queue_next(c, 5000, &m), NOVA_OK);
    assert_memory_equal(m.body, "job-2", 5);
    assert_true(m.redelivered);
    assert_int_equal(nova_queue_ack(c, &m), NOVA_OK);
    assert_int_equal(nova_queue_next(c, 300, &m), NOVA_NOT_FOUND);
    nova_queue_consumer_close(c);
    uint64_t ready = 9, dead = 0;
    assert_int_equal(nova_queue_depth(q, &ready, &dead), NOVA_OK);
    assert_int_equal(ready, 0);
    assert_true(dead >= 1);
    nova_queue_close(q);
}

/* ---- competing consumers ---- */

#define MSGS 200
#define CONSUMERS 4
static _Atomic int taken[MSGS];
static _Atomic int total;

static void *consume(void *arg)
{
    nova_queue_consumer_t *c = NULL;
    if (nova_queue_consumer_open(arg, &c) != NOVA_OK)
        return NULL;
    nova_queue_msg_t m;
    while (atomic_load(&total) < MSGS && nova_queue_next(c, 500, &m) != NOVA_UNAVAILABLE) {
        if (m.len == 0)
            continue;
        char b[16] = {0};
        memcpy(b, m.body, m.len < 15 ? m.len : 15);
        int i = atoi(b);
        if (i >= 0 && i < MSGS && nova_queue_ack(c, &m) == NOVA_OK) {
            atomic_fetch_add(&taken[i], 1);
            atomic_fetch_add(&total, 1);
        }
        m.len = 0;
    }
    nova_queue_consumer_close(c);
    return NULL;
}

static void competing(const char *url)
{
    nova_queue_t *q = open_q(url);
    drain(q);
    memset((void *)taken, 0, sizeof(taken));
    atomic_store(&total, 0);
    pthread_t th[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        pthread_create(&th[i], NULL, consume, q);
    for (int i = 0; i < MSGS; i++) {
        char b[16];
        int n = snprintf(b, sizeof(b), "%d", i);
        assert_int_equal(nova_queue_publish(q, b, (size_t)n), NOVA_OK);
    }
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < MSGS; i++)
        assert_int_equal(atomic_load(&taken[i]), 1);
    nova_queue_close(q);
}

/* q is the caller's handle; w the worker's (another process on a broker; the same queue in
 * process). */
static void rpc(nova_queue_t *q, nova_queue_t *w)
{
    drain(q);
    nova_queue_call_t *a = NULL, *b = NULL, *bad = NULL;
    assert_int_equal(nova_queue_call_publish(q, "{\"job\":1}", 9, "ver-a", &a), NOVA_OK);
    assert_int_equal(nova_queue_call_publish(q, "{\"job\":2}", 9, "ver-b", &b), NOVA_OK);
    assert_int_equal(nova_queue_publish(q, "plain", 5), NOVA_OK);
    assert_int_equal(nova_queue_call_wait(a, 0), NOVA_NOT_FOUND);
    nova_queue_consumer_t *c = NULL;
    assert_int_equal(nova_queue_consumer_open(w, &c), NOVA_OK);
    nova_queue_msg_t m;
    assert_int_equal(nova_queue_next(c, 5000, &m), NOVA_OK);
    assert_true(m.has_reply);
    assert_string_equal(m.correlation_id, "ver-a");
    assert_true(m.reply_to[0] != '\0');
    /* a requeued call keeps its reply address */
    assert_int_equal(nova_queue_reject(c, &m, true), NOVA_OK);
    assert_int_equal(nova_queue_next(c, 5000, &m), NOVA_OK);
    assert_true(m.redelivered);
    assert_string_equal(m.correlation_id, "ver-a");
    assert_int_equal(nova_queue_ack(c, &m), NOVA_OK); /* settled without an answer */
    assert_int_equal(nova_queue_next(c, 5000, &m), NOVA_OK);
    assert_string_equal(m.correlation_id, "ver-b");
    assert_int_equal(nova_queue_reply(w, &m), NOVA_OK);
    assert_int_equal(nova_queue_ack(c, &m), NOVA_OK);
    /* b's answer wakes b, and only b */
    assert_int_equal(nova_queue_call_wait(b, 10000), NOVA_OK);
    assert_int_equal(nova_queue_call_wait(b, 0), NOVA_OK);
    assert_int_equal(nova_queue_call_wait(a, 300), NOVA_NOT_FOUND);
    /* a plain job: nothing to answer */
    assert_int_equal(nova_queue_next(c, 5000, &m), NOVA_OK);
    assert_false(m.has_reply);
    assert_string_equal(m.correlation_id, "");
    assert_int_equal(nova_queue_reply(w, &m), NOVA_OK);
    assert_int_equal(nova_queue_ack(c, &m), NOVA_OK);
    nova_queue_consumer_close(c);
    nova_queue_call_free(a);
    nova_queue_call_free(b);
    nova_queue_call_free(NULL);
    char longid[200];
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(nova_queue_call_publish(q, "x", 1, "", &bad), NOVA_INVALID);
    assert_int_equal(nova_queue_call_publish(q, "x", 1, "a b", &bad), NOVA_INVALID);
    assert_int_equal(nova_queue_call_publish(q, "x", 1, longid, &bad), NOVA_INVALID);
    assert_int_equal(nova_queue_call_publish(q, "", 0, "ok", &bad), NOVA_INVALID);
    assert_null(bad);
}

static void test_inproc(void **state)
{
    (void)state;
    snprintf(qname, sizeof(qname), "test-inproc");
    semantics("");
    competing("");
    nova_queue_t *q = open_q("");
    rpc(q, q);
    nova_queue_close(q);
}

static void test_amqp(void **state)
{
    (void)state;
    const char *url = getenv("NOVA_TEST_AMQP_URL");
    if (url == NULL || *url == '\0') {
        skip();
        return;
    }
    snprintf(qname, sizeof(qname), "queue-test-%d", (int)getpid());
    semantics(url);
    competing(url);
    nova_queue_t *q = open_q(url), *w = open_q(url);
    rpc(q, w);
    nova_queue_close(w);
    nova_queue_close(q);
}

static void test_bad_urls(void **state)
{
    (void)state;
    nova_queue_t *q = NULL;
    char err[256];
    assert_int_equal(nova_queue_open("redis://x", "q", NULL, &q, err, sizeof(err)), NOVA_INVALID);
    assert_int_equal(
        nova_queue_open("amqp://guest:guest@127.0.0.1:1", "q", NULL, &q, err, sizeof(err)),
        NOVA_UNAVAILABLE);
    assert_null(strstr(err, "guest:guest"));
    assert_int_equal(nova_queue_open("", "", NULL, &q, err, sizeof(err)), NOVA_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inproc),
        cmocka_unit_test(test_amqp),
        cmocka_unit_test(test_bad_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
