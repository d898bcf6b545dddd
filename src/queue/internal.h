/* internal.h: what the queue's drivers share (src/queue only). */
#ifndef NOVA_QUEUE_INTERNAL_H
#define NOVA_QUEUE_INTERNAL_H

#include <pthread.h>

#include "nova/queue.h"

typedef struct queue_driver {
    const char *name;
    void (*close)(nova_queue_t *q);
    nova_status (*publish)(nova_queue_t *q, const void *body, size_t len);
    nova_status (*consumer_open)(nova_queue_t *q, nova_queue_consumer_t **out);
    void (*consumer_close)(nova_queue_consumer_t *c);
    nova_status (*next)(nova_queue_consumer_t *c, unsigned timeout_ms, nova_queue_msg_t *m);
    nova_status (*ack)(nova_queue_consumer_t *c, const nova_queue_msg_t *m);
    nova_status (*reject)(nova_queue_consumer_t *c, const nova_queue_msg_t *m, bool requeue);
    nova_status (*depth)(nova_queue_t *q, uint64_t *ready, uint64_t *dead);
    /* publish with this process's reply address and the correlation id */
    nova_status (*publish_rpc)(nova_queue_t *q, const void *body, size_t len, const char *corr);
    /* answer the caller of m (m->has_reply) */
    nova_status (*reply)(nova_queue_t *q, const nova_queue_msg_t *m);
} queue_driver_t;

typedef struct queue_waiter queue_waiter_t;

/* Common heads of each driver's structs. A driver calls queue_base_init on it when it opens
 * and queue_base_destroy when it closes. */
struct nova_queue {
    const queue_driver_t *drv;
    pthread_mutex_t rpc_mu; /* waiters */
    pthread_cond_t rpc_cv;
    queue_waiter_t *waiters;
};

void queue_base_init(nova_queue_t *q, const queue_driver_t *drv);
void queue_base_destroy(nova_queue_t *q);
/* An answer for correlation id corr (n bytes) arrived: wakes its waiters. */
void queue_rpc_deliver(nova_queue_t *q, const char *corr, size_t n);

#define QUEUE_CORR_MAX 127
struct nova_queue_consumer {
    const queue_driver_t *drv;
};

nova_status queue_inproc_open(const char *name, const nova_queue_options_t *o, nova_queue_t **out);
nova_status queue_amqp_open(const char *url, const char *name, const nova_queue_options_t *o,
                            nova_queue_t **out, char *err, size_t errlen);

#endif
