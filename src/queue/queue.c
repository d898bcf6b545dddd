/* queue.c: the queue interface (nova/queue.h) over its two drivers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

nova_status nova_queue_open(const char *url, const char *name, const nova_queue_options_t *opts,
                            nova_queue_t **out, char *err, size_t errlen)
{
    static const nova_queue_options_t defaults = {0};
    const nova_queue_options_t *o = opts ? opts : &defaults;
    if (name == NULL || *name == '\0' || strlen(name) > 200) {
        snprintf(err, errlen, "queue name: 1-200 bytes");
        return NOVA_INVALID;
    }
    if (url == NULL || *url == '\0')
        return queue_inproc_open(name, o, out);
    if (strncmp(url, "amqp://", 7) != 0) {
        snprintf(err, errlen, "queue URL: expected amqp://user:password@host:port/vhost");
        return NOVA_INVALID;
    }
    return queue_amqp_open(url, name, o, out, err, errlen);
}

void nova_queue_close(nova_queue_t *q)
{
    if (q)
        q->drv->close(q);
}

const char *nova_queue_driver(const nova_queue_t *q)
{
    return q->drv->name;
}

nova_status nova_queue_publish(nova_queue_t *q, const void *body, size_t len)
{
    if (body == NULL || len == 0 || len > NOVA_QUEUE_MSG_MAX)
        return NOVA_INVALID;
    return q->drv->publish(q, body, len);
}

nova_status nova_queue_consumer_open(nova_queue_t *q, nova_queue_consumer_t **out)
{
    return q->drv->consumer_open(q, out);
}

void nova_queue_consumer_close(nova_queue_consumer_t *c)
{
    if (c)
        c->drv->consumer_close(c);
}

nova_status nova_queue_next(nova_queue_consumer_t *c, unsigned timeout_ms, nova_queue_msg_t *m)
{
    return c->drv->next(c, timeout_ms, m);
}

nova_status nova_queue_ack(nova_queue_consumer_t *c, const nova_queue_msg_t *m)
{
    return c->drv->ack(c, m);
}

nova_status nova_queue_reject(nova_queue_consumer_t *c, const nova_queue_msg_t *m, bool requeue)
{
    return c->drv->reject(c, m, requeue);
}

nova_status nova_queue_depth(nova_queue_t *q, uint64_t *ready, uint64_t *dead)
{
    return q->drv->depth(q, ready, dead);
}

/* ---- RPC waits ---- */

struct queue_waiter {
    queue_waiter_t *next;
    char corr[QUEUE_CORR_MAX + 1];
    bool done;
};

struct nova_queue_call {
    nova_queue_t *q;
    queue_waiter_t w;
};

void queue_base_init(nova_queue_t *q, const queue_driver_t *drv)
{
    q->drv = drv;
    pthread_mutex_init(&q->rpc_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->rpc_cv, &ca);
    pthread_condattr_destroy(&ca);
    q->waiters = NULL;
}

void queue_base_destroy(nova_queue_t *q)
{
    pthread_mutex_destroy(&q->rpc_mu);
    pthread_cond_destroy(&q->rpc_cv);
}

void queue_rpc_deliver(nova_queue_t *q, const char *corr, size_t n)
{
    pthread_mutex_lock(&q->rpc_mu);
    bool any = false;
    for (queue_waiter_t *w = q->waiters; w; w = w->next)
        if (strlen(w->corr) == n && memcmp(w->corr, corr, n) == 0) {
            w->done = true;
            any = true;
        }
    if (any)
        pthread_cond_broadcast(&q->rpc_cv);
    pthread_mutex_unlock(&q->rpc_mu);
}

static bool corr_valid(const char *c)
{
    size_t n = c ? strlen(c) : 0;
    if (n == 0 || n > QUEUE_CORR_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)c[i] < 0x21 || (unsigned char)c[i] > 0x7e)
            return false;
    return true;
}

static void unlink_waiter(nova_queue_t *q, queue_waiter_t *w)
{
    pthread_mutex_lock(&q->rpc_mu);
    for (queue_waiter_t **p = &q->waiters; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&q->rpc_mu);
}

nova_status nova_queue_call_publish(nova_queue_t *q, const void *body, size_t len,
                                    const char *correlation_id, nova_queue_call_t **out)
{
    *out = NULL;
    if (body == NULL || len == 0 || len > NOVA_QUEUE_MSG_MAX || !corr_valid(correlation_id))
        return NOVA_INVALID;
    nova_queue_call_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NOVA_NOMEM;
    c->q = q;
    snprintf(c->w.corr, sizeof(c->w.corr), "%s", correlation_id);
    /* registered first: an answer cannot arrive before its waiter */
    pthread_mutex_lock(&q->rpc_mu);
    c->w.next = q->waiters;
    q->waiters = &c->w;
    pthread_mutex_unlock(&q->rpc_mu);
    nova_status st = q->drv->publish_rpc(q, body, len, correlation_id);
    if (st != NOVA_OK) {
        unlink_waiter(q, &c->w);
        free(c);
        return st;
    }
    *out = c;
    return NOVA_OK;
}

nova_status nova_queue_call_wait(nova_queue_call_t *c, unsigned timeout_ms)
{
    nova_queue_t *q = c->q;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->rpc_mu);
    while (!c->w.done)
        if (pthread_cond_timedwait(&q->rpc_cv, &q->rpc_mu, &dl) == ETIMEDOUT)
            break;
    bool done = c->w.done;
    pthread_mutex_unlock(&q->rpc_mu);
    return done ? NOVA_OK : NOVA_NOT_FOUND;
}

void nova_queue_call_free(nova_queue_call_t *c)
{
    if (!c)
        return;
    unlink_waiter(c->q, &c->w);
    free(c);
}

nova_status nova_queue_reply(nova_queue_t *q, const nova_queue_msg_t *m)
{
    if (!m->has_reply)
        return NOVA_OK;
    return q->drv->reply(q, m);
}
