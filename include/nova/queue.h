/*
 * queue.h: the job queue of the verification gateway (queue idv-gateway-v2). One interface, two
 * drivers chosen by the URL: "" is an in-process queue (a FIFO under one mutex, for one novad);
 * "amqp://user:pass@host:port/vhost" is RabbitMQ through librabbitmq: a durable queue,
 * persistent messages, publisher confirms, manual acks, prefetch, and a dead-letter queue
 * (<name>.dead) for the jobs a consumer rejects.
 *
 * Delivery is at least once: a message is removed only when acknowledged; one a consumer held
 * when it died (connection closed) is delivered again with redelivered set. Consumers must be
 * idempotent. A nova_queue_t is shared by all threads for publishing; each consuming thread owns
 * its own nova_queue_consumer_t (its own AMQP connection and channel).
 */
#ifndef NOVA_QUEUE_H
#define NOVA_QUEUE_H

#include "nova/base.h"

typedef struct nova_queue nova_queue_t;
typedef struct nova_queue_consumer nova_queue_consumer_t;

#define NOVA_QUEUE_MSG_MAX (1u << 20)

typedef struct nova_queue_options {
    unsigned prefetch;   /* unacknowledged messages per consumer; 0: 1 */
    unsigned timeout_ms; /* AMQP connect and confirm timeout; 0: 2000 */
} nova_queue_options_t;

/* Opens the queue name on url ("" or NULL: in-process), declaring it (and name.dead) on the
 * broker. On failure writes a reason (never the password) into err: NOVA_UNAVAILABLE or
 * NOVA_INVALID (bad URL). Free with nova_queue_close (NULL-safe) after every consumer. */
nova_status nova_queue_open(const char *url, const char *name, const nova_queue_options_t *opts,
                            nova_queue_t **out, char *err, size_t errlen);
void nova_queue_close(nova_queue_t *q);
/* "inproc" or "amqp". */
const char *nova_queue_driver(const nova_queue_t *q);

/* Publishes len bytes (at most NOVA_QUEUE_MSG_MAX) as a persistent message and returns once the
 * broker confirmed it (NOVA_UNAVAILABLE otherwise: the caller must treat it as not sent).
 * Thread-safe. */
nova_status nova_queue_publish(nova_queue_t *q, const void *body, size_t len);

typedef struct nova_queue_msg {
    uint8_t *body; /* owned by the consumer until the next nova_queue_next or close */
    size_t len;
    uint64_t tag;
    bool redelivered;
    bool has_reply;             /* published by nova_queue_call_publish: answer it */
    const char *reply_to;       /* the caller's reply address ("" without a reply) */
    const char *correlation_id; /* the caller's id ("" without a reply); both valid like body */
} nova_queue_msg_t;

/* A consumer for the calling thread. */
nova_status nova_queue_consumer_open(nova_queue_t *q, nova_queue_consumer_t **out);
void nova_queue_consumer_close(nova_queue_consumer_t *c);
/* Waits up to timeout_ms for a message: NOVA_OK with *m, NOVA_NOT_FOUND on timeout,
 * NOVA_UNAVAILABLE when the broker went away (the consumer reconnects on its next call). */
nova_status nova_queue_next(nova_queue_consumer_t *c, unsigned timeout_ms, nova_queue_msg_t *m);
/* Done with m: the queue forgets it. */
nova_status nova_queue_ack(nova_queue_consumer_t *c, const nova_queue_msg_t *m);
/* Gives m back: requeue true puts it back for any consumer, false sends it to name.dead. */
nova_status nova_queue_reject(nova_queue_consumer_t *c, const nova_queue_msg_t *m, bool requeue);

/* ---- RPC (seed 000: sync mode over the broker, AMQP's reply_to + correlation_id) ----
 * The caller publishes a job that carries this process's reply address (on RabbitMQ an
 * exclusive, auto-deleted, server-named queue this process consumes; in process, the queue
 * itself) and a correlation id; the consumer that settles the job answers with
 * nova_queue_reply, and the caller's wait returns at once. Answers are not persistent and carry
 * no data of their own: the caller reads the result where the consumer wrote it (the store),
 * so an answer lost with a reconnect costs only time. */
typedef struct nova_queue_call nova_queue_call_t;

/* Publishes like nova_queue_publish with a reply address and correlation_id (1 to 127
 * bytes), registering the wait before the message can be answered. *out (free it with
 * nova_queue_call_free) exists only when NOVA_OK. */
nova_status nova_queue_call_publish(nova_queue_t *q, const void *body, size_t len,
                                    const char *correlation_id, nova_queue_call_t **out);
/* Waits up to timeout_ms: NOVA_OK once answered (and from then on), NOVA_NOT_FOUND if not yet.
 * May be called again after NOVA_NOT_FOUND. */
nova_status nova_queue_call_wait(nova_queue_call_t *c, unsigned timeout_ms);
void nova_queue_call_free(nova_queue_call_t *c);
/* Answers m's caller when m has a reply address (else does nothing and returns NOVA_OK). */
nova_status nova_queue_reply(nova_queue_t *q, const nova_queue_msg_t *m);

/* Messages waiting and dead-lettered (in-process driver; the broker's counts for AMQP). */
nova_status nova_queue_depth(nova_queue_t *q, uint64_t *ready, uint64_t *dead);

#endif
