/* queue.c: the queue interface (nova/queue.h) over its two drivers. */
#include <stdio.h>
#include <string.h>

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
