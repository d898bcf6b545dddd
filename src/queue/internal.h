/* internal.h: what the queue's drivers share (src/queue only). */
#ifndef NOVA_QUEUE_INTERNAL_H
#define NOVA_QUEUE_INTERNAL_H

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
} queue_driver_t;

/* Common heads of each driver's structs. */
struct nova_queue {
    const queue_driver_t *drv;
};
struct nova_queue_consumer {
    const queue_driver_t *drv;
};

nova_status queue_inproc_open(const char *name, const nova_queue_options_t *o, nova_queue_t **out);
nova_status queue_amqp_open(const char *url, const char *name, const nova_queue_options_t *o,
                            nova_queue_t **out, char *err, size_t errlen);

#endif
