/*
 * inproc.c: the in-process queue driver. A FIFO of messages under one mutex and condition
 * variable; a delivered message moves to its consumer's unacknowledged list until ack (gone),
 * reject with requeue (back at the head, redelivered) or reject without (the dead list). A
 * consumer closed with messages unacknowledged gives them back, like a broker whose consumer's
 * channel closed. Nothing survives the process: the gateway keeps every accepted job in the
 * store and publishes the undecided ones again at start. RPC: the reply address is the queue
 * itself; an answer wakes the caller's wait directly.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

typedef struct imsg {
    struct imsg *next;
    uint64_t tag;
    bool redelivered;
    bool has_reply;
    char corr[QUEUE_CORR_MAX + 1];
    size_t len;
    uint8_t body[];
} imsg;

typedef struct inproc {
    nova_queue_t base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    imsg *head, *tail; /* ready */
    uint64_t ready, dead, next_tag;
    imsg *dead_list;
} inproc;

typedef struct iconsumer {
    nova_queue_consumer_t base;
    inproc *q;
    imsg *unacked; /* delivered, not yet settled */
    uint8_t *held; /* copy handed out by next */
    char held_corr[QUEUE_CORR_MAX + 1];
} iconsumer;

static const queue_driver_t inproc_driver;

static void push_front(inproc *q, imsg *m)
{
    m->next = q->head;
    q->head = m;
    if (q->tail == NULL)
        q->tail = m;
    q->ready++;
}

static void free_list(imsg *m)
{
    while (m) {
        imsg *n = m->next;
        free(m);
        m = n;
    }
}

static void inproc_close(nova_queue_t *base)
{
    inproc *q = (inproc *)base;
    free_list(q->head);
    free_list(q->dead_list);
    queue_base_destroy(&q->base);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}

static nova_status push(inproc *q, const void *body, size_t len, const char *corr)
{
    imsg *m = malloc(sizeof(*m) + len);
    if (m == NULL)
        return NOVA_NOMEM;
    memcpy(m->body, body, len);
    m->len = len;
    m->next = NULL;
    m->redelivered = false;
    m->has_reply = corr != NULL;
    snprintf(m->corr, sizeof(m->corr), "%s", corr ? corr : "");
    pthread_mutex_lock(&q->mu);
    m->tag = ++q->next_tag;
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->ready++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return NOVA_OK;
}

static nova_status inproc_publish(nova_queue_t *base, const void *body, size_t len)
{
    return push((inproc *)base, body, len, NULL);
}

static nova_status inproc_publish_rpc(nova_queue_t *base, const void *body, size_t len,
                                      const char *corr)
{
    return push((inproc *)base, body, len, corr);
}

static nova_status inproc_reply(nova_queue_t *base, const nova_queue_msg_t *m)
{
    queue_rpc_deliver(base, m->correlation_id, strlen(m->correlation_id));
    return NOVA_OK;
}

static nova_status inproc_consumer_open(nova_queue_t *base, nova_queue_consumer_t **out)
{
    iconsumer *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NOVA_NOMEM;
    c->base.drv = &inproc_driver;
    c->q = (inproc *)base;
    *out = &c->base;
    return NOVA_OK;
}

static void inproc_consumer_close(nova_queue_consumer_t *base)
{
    iconsumer *c = (iconsumer *)base;
    pthread_mutex_lock(&c->q->mu);
    while (c->unacked) {
        imsg *m = c->unacked;
        c->unacked = m->next;
        m->redelivered = true;
        push_front(c->q, m);
    }
    pthread_cond_broadcast(&c->q->cv);
    pthread_mutex_unlock(&c->q->mu);
    free(c->held);
    free(c);
}

static nova_status inproc_next(nova_queue_consumer_t *base, unsigned timeout_ms,
                               nova_queue_msg_t *out)
{
    iconsumer *c = (iconsumer *)base;
    inproc *q = c->q;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->mu);
    while (q->head == NULL) {
        if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) == ETIMEDOUT && q->head == NULL) {
            pthread_mutex_unlock(&q->mu);
            return NOVA_NOT_FOUND;
        }
    }
    imsg *m = q->head;
    q->head = m->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->ready--;
    m->next = c->unacked;
    c->unacked = m;
    pthread_mutex_unlock(&q->mu);
    free(c->held);
    c->held = malloc(m->len);
    if (c->held == NULL)
        return NOVA_NOMEM;
    memcpy(c->held, m->body, m->len);
    out->body = c->held;
    out->len = m->len;
    out->tag = m->tag;
    out->redelivered = m->redelivered;
    out->has_reply = m->has_reply;
    memcpy(c->held_corr, m->corr, sizeof(c->held_corr));
    out->correlation_id = c->held_corr;
    out->reply_to = m->has_reply ? "inproc" : "";
    return NOVA_OK;
}

/* Takes the consumer's unacknowledged message tag off its list (the caller holds the lock). */
static imsg *take_unacked(iconsumer *c, uint64_t tag)
{
    for (imsg **p = &c->unacked; *p; p = &(*p)->next)
        if ((*p)->tag == tag) {
            imsg *m = *p;
            *p = m->next;
            m->next = NULL;
            return m;
        }
    return NULL;
}

static nova_status inproc_ack(nova_queue_consumer_t *base, const nova_queue_msg_t *msg)
{
    iconsumer *c = (iconsumer *)base;
    pthread_mutex_lock(&c->q->mu);
    imsg *m = take_unacked(c, msg->tag);
    pthread_mutex_unlock(&c->q->mu);
    free(m);
    return m ? NOVA_OK : NOVA_NOT_FOUND;
}

static nova_status inproc_reject(nova_queue_consumer_t *base, const nova_queue_msg_t *msg,
                                 bool requeue)
{
    iconsumer *c = (iconsumer *)base;
    inproc *q = c->q;
    pthread_mutex_lock(&q->mu);
    imsg *m = take_unacked(c, msg->tag);
    if (m && requeue) {
        m->redelivered = true;
        push_front(q, m);
        pthread_cond_signal(&q->cv);
    } else if (m) {
        m->next = q->dead_list;
        q->dead_list = m;
        q->dead++;
    }
    pthread_mutex_unlock(&q->mu);
    return m ? NOVA_OK : NOVA_NOT_FOUND;
}

static nova_status inproc_depth(nova_queue_t *base, uint64_t *ready, uint64_t *dead)
{
    inproc *q = (inproc *)base;
    pthread_mutex_lock(&q->mu);
    *ready = q->ready;
    *dead = q->dead;
    pthread_mutex_unlock(&q->mu);
    return NOVA_OK;
}

static const queue_driver_t inproc_driver = {
    "inproc",     inproc_close, inproc_publish, inproc_consumer_open, inproc_consumer_close,
    inproc_next,  inproc_ack,   inproc_reject,  inproc_depth,         inproc_publish_rpc,
    inproc_reply,
};

nova_status queue_inproc_open(const char *name, const nova_queue_options_t *o, nova_queue_t **out)
{
    (void)name;
    (void)o;
    inproc *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NOVA_NOMEM;
    queue_base_init(&q->base, &inproc_driver);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    *out = &q->base;
    return NOVA_OK;
}
