/*
 * amqp.c: the RabbitMQ driver (librabbitmq 0.11, AMQP 0-9-1). The queue is durable and its
 * messages persistent (delivery_mode 2); it dead-letters to "<name>.dead" through the default
 * exchange (x-dead-letter-exchange "", x-dead-letter-routing-key <name>.dead), so a rejected
 * job is kept for an operator, not dropped.
 *
 * Publishing: one connection shared by the process behind a mutex, in confirm mode; publish
 * waits for the broker's basic.ack of that delivery tag, so a job is accepted only once the
 * broker has it. Any error closes the connection; the next publish reconnects.
 * Consuming: each consumer has its own connection and channel, basic.qos prefetch, manual
 * acks. When its process dies the broker requeues what it held (redelivered).
 * RPC (sync mode): the first call starts one answer consumer for the process, on its own
 * connection: an exclusive, auto-deleted queue the broker names, consumed without acks. A job
 * published by nova_queue_call_publish carries reply_to (that name) and correlation_id; the
 * worker's answer goes through the default exchange to reply_to, not persistent. Should the
 * answer connection drop, it reconnects under a new name, and the calls in flight are answered
 * by their timeouts and the store instead.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include "internal.h"

typedef struct amqp_q {
    nova_queue_t base;
    char *host, *user, *password, *vhost, *name, *dead;
    int port;
    unsigned prefetch, timeout_ms;
    pthread_mutex_t mu; /* the publisher connection */
    amqp_connection_state_t pub;
    uint64_t pub_seq;
    pthread_mutex_t rmu; /* the answer consumer: started, reply_name */
    pthread_cond_t rcv;
    pthread_t rthread;
    bool rstarted;
    _Atomic bool rstop;
    char reply_name[256]; /* "" while the answer queue is not consumed */
} amqp_q;

typedef struct amqp_c {
    nova_queue_consumer_t base;
    amqp_q *q;
    amqp_connection_state_t conn;
    amqp_envelope_t env;
    bool has_env;
    char reply_to[256], corr[QUEUE_CORR_MAX + 1];
} amqp_c;

static const queue_driver_t amqp_driver;

static bool reply_ok(amqp_rpc_reply_t r)
{
    return r.reply_type == AMQP_RESPONSE_NORMAL;
}

static void conn_drop(amqp_connection_state_t *c)
{
    if (*c) {
        amqp_connection_close(*c, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection(*c);
        *c = NULL;
    }
}

/* A logged-in connection with channel 1 open, or NULL. */
static amqp_connection_state_t conn_open(amqp_q *q, char *err, size_t errlen)
{
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *sock = c ? amqp_tcp_socket_new(c) : NULL;
    struct timeval tv = {q->timeout_ms / 1000, (long)(q->timeout_ms % 1000) * 1000};
    if (sock == NULL || amqp_socket_open_noblock(sock, q->host, q->port, &tv) != AMQP_STATUS_OK) {
        snprintf(err, errlen, "cannot connect to %s:%d", q->host, q->port);
        goto fail;
    }
    amqp_set_rpc_timeout(c, &tv);
    if (!reply_ok(
            amqp_login(c, q->vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, q->user, q->password))) {
        snprintf(err, errlen, "login to %s:%d as %s refused", q->host, q->port, q->user);
        goto fail;
    }
    amqp_channel_open(c, 1);
    if (!reply_ok(amqp_get_rpc_reply(c))) {
        snprintf(err, errlen, "channel open failed");
        goto fail;
    }
    return c;
fail:
    if (c)
        amqp_destroy_connection(c);
    return NULL;
}

/* Declares name.dead and name (durable, dead-lettering to name.dead) on c. */
static bool declare(amqp_q *q, amqp_connection_state_t c)
{
    amqp_queue_declare(c, 1, amqp_cstring_bytes(q->dead), 0, 1, 0, 0, amqp_empty_table);
    if (!reply_ok(amqp_get_rpc_reply(c)))
        return false;
    amqp_table_entry_t args[2];
    args[0].key = amqp_cstring_bytes("x-dead-letter-exchange");
    args[0].value.kind = AMQP_FIELD_KIND_UTF8;
    args[0].value.value.bytes = amqp_cstring_bytes("");
    args[1].key = amqp_cstring_bytes("x-dead-letter-routing-key");
    args[1].value.kind = AMQP_FIELD_KIND_UTF8;
    args[1].value.value.bytes = amqp_cstring_bytes(q->dead);
    amqp_table_t t = {2, args};
    amqp_queue_declare(c, 1, amqp_cstring_bytes(q->name), 0, 1, 0, 0, t);
    return reply_ok(amqp_get_rpc_reply(c));
}

static void amqp_close_q(nova_queue_t *base)
{
    amqp_q *q = (amqp_q *)base;
    if (q->rstarted) {
        atomic_store(&q->rstop, true);
        pthread_join(q->rthread, NULL);
    }
    conn_drop(&q->pub);
    pthread_mutex_destroy(&q->rmu);
    pthread_cond_destroy(&q->rcv);
    queue_base_destroy(&q->base);
    pthread_mutex_destroy(&q->mu);
    free(q->host);
    free(q->user);
    free(q->password);
    free(q->vhost);
    free(q->name);
    free(q->dead);
    free(q);
}

/* Waits for the broker's confirm of delivery tag seq on the publisher connection. */
static nova_status wait_confirm(amqp_q *q, uint64_t seq)
{
    struct timeval tv = {q->timeout_ms / 1000, (long)(q->timeout_ms % 1000) * 1000};
    for (;;) {
        amqp_frame_t f;
        int rc = amqp_simple_wait_frame_noblock(q->pub, &f, &tv);
        if (rc != AMQP_STATUS_OK)
            return NOVA_UNAVAILABLE;
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            if (a->delivery_tag == seq || (a->multiple && a->delivery_tag >= seq))
                return NOVA_OK;
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            return NOVA_UNAVAILABLE;
        } else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                   f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
            return NOVA_UNAVAILABLE;
        }
    }
}

/* Publishes on the shared publisher connection and waits for the broker's confirm. key: the
 * routing key (a queue name, default exchange); reply_to and corr NULL unless an RPC job. */
static nova_status publish_to(amqp_q *q, const char *key, const void *body, size_t len,
                              bool persistent, const char *reply_to, const char *corr)
{
    char err[160];
    nova_status st = NOVA_UNAVAILABLE;
    pthread_mutex_lock(&q->mu);
    if (q->pub == NULL) {
        q->pub = conn_open(q, err, sizeof(err));
        if (q->pub) {
            amqp_confirm_select(q->pub, 1);
            if (!reply_ok(amqp_get_rpc_reply(q->pub)))
                conn_drop(&q->pub);
            q->pub_seq = 0;
        }
    }
    if (q->pub) {
        amqp_basic_properties_t props = {0};
        props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
        props.delivery_mode = persistent ? AMQP_DELIVERY_PERSISTENT : AMQP_DELIVERY_NONPERSISTENT;
        props.content_type = amqp_cstring_bytes("application/json");
        if (reply_to) {
            props._flags |= AMQP_BASIC_REPLY_TO_FLAG;
            props.reply_to = amqp_cstring_bytes(reply_to);
        }
        if (corr) {
            props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
            props.correlation_id = amqp_cstring_bytes(corr);
        }
        amqp_bytes_t b = {len, (void *)body};
        if (amqp_basic_publish(q->pub, 1, amqp_empty_bytes, amqp_cstring_bytes(key), 0, 0, &props,
                               b) == AMQP_STATUS_OK)
            st = wait_confirm(q, ++q->pub_seq);
        if (st != NOVA_OK)
            conn_drop(&q->pub);
    }
    pthread_mutex_unlock(&q->mu);
    return st;
}

static nova_status amqp_publish(nova_queue_t *base, const void *body, size_t len)
{
    amqp_q *q = (amqp_q *)base;
    return publish_to(q, q->name, body, len, true, NULL, NULL);
}

/* ---- RPC answers ---- */

static void set_reply_name(amqp_q *q, const char *name, size_t n)
{
    pthread_mutex_lock(&q->rmu);
    memcpy(q->reply_name, name, n);
    q->reply_name[n] = '\0';
    pthread_cond_broadcast(&q->rcv);
    pthread_mutex_unlock(&q->rmu);
}

/* The answer consumer: (re)connects, declares its exclusive queue, hands every answer's
 * correlation id to the waiters. */
static void *reply_main(void *arg)
{
    amqp_q *q = arg;
    amqp_connection_state_t c = NULL;
    char err[160];
    while (!atomic_load(&q->rstop)) {
        if (c == NULL) {
            c = conn_open(q, err, sizeof(err));
            amqp_queue_declare_ok_t *ok =
                c ? amqp_queue_declare(c, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table) : NULL;
            bool consuming = false;
            if (ok && ok->queue.len > 0 && ok->queue.len < sizeof(q->reply_name)) {
                char name[sizeof(q->reply_name)];
                size_t n = ok->queue.len;
                memcpy(name, ok->queue.bytes, n);
                amqp_basic_consume(c, 1, ok->queue, amqp_empty_bytes, 0, 1, 1, amqp_empty_table);
                if (reply_ok(amqp_get_rpc_reply(c))) {
                    set_reply_name(q, name, n);
                    consuming = true;
                }
            }
            if (!consuming) {
                conn_drop(&c);
                struct timespec ts = {0, 200 * 1000 * 1000};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        amqp_maybe_release_buffers(c);
        amqp_envelope_t env;
        struct timeval tv = {0, 250 * 1000};
        amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_TIMEOUT)
            continue;
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            set_reply_name(q, "", 0);
            conn_drop(&c);
            continue;
        }
        amqp_basic_properties_t *p = &env.message.properties;
        if ((p->_flags & AMQP_BASIC_CORRELATION_ID_FLAG) && p->correlation_id.len > 0)
            queue_rpc_deliver(&q->base, p->correlation_id.bytes, p->correlation_id.len);
        amqp_destroy_envelope(&env);
    }
    set_reply_name(q, "", 0);
    conn_drop(&c);
    return NULL;
}

static nova_status amqp_publish_rpc(nova_queue_t *base, const void *body, size_t len,
                                    const char *corr)
{
    amqp_q *q = (amqp_q *)base;
    char name[sizeof(q->reply_name)];
    pthread_mutex_lock(&q->rmu);
    if (!q->rstarted)
        q->rstarted = pthread_create(&q->rthread, NULL, reply_main, q) == 0;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += q->timeout_ms / 1000 + 1;
    while (q->rstarted && q->reply_name[0] == '\0')
        if (pthread_cond_timedwait(&q->rcv, &q->rmu, &dl) != 0)
            break;
    memcpy(name, q->reply_name, sizeof(name));
    pthread_mutex_unlock(&q->rmu);
    /* without an answer queue the job still goes; its caller falls back on its timeout */
    return publish_to(q, q->name, body, len, true, name[0] ? name : NULL, name[0] ? corr : NULL);
}

static nova_status amqp_reply(nova_queue_t *base, const nova_queue_msg_t *m)
{
    amqp_q *q = (amqp_q *)base;
    static const char answer[] = "{\"settled\":true}";
    return publish_to(q, m->reply_to, answer, sizeof(answer) - 1, false, NULL, m->correlation_id);
}

static nova_status amqp_consumer_open(nova_queue_t *base, nova_queue_consumer_t **out)
{
    amqp_c *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NOVA_NOMEM;
    c->base.drv = &amqp_driver;
    c->q = (amqp_q *)base;
    *out = &c->base;
    return NOVA_OK;
}

static void amqp_consumer_close(nova_queue_consumer_t *base)
{
    amqp_c *c = (amqp_c *)base;
    if (c->has_env)
        amqp_destroy_envelope(&c->env);
    conn_drop(&c->conn);
    free(c);
}

/* Connects the consumer and starts consuming (qos prefetch, manual acks). */
static bool consumer_connect(amqp_c *c)
{
    char err[160];
    c->conn = conn_open(c->q, err, sizeof(err));
    if (c->conn == NULL)
        return false;
    amqp_basic_qos(c->conn, 1, 0, (uint16_t)c->q->prefetch, 0);
    if (reply_ok(amqp_get_rpc_reply(c->conn))) {
        amqp_basic_consume(c->conn, 1, amqp_cstring_bytes(c->q->name), amqp_empty_bytes, 0, 0, 0,
                           amqp_empty_table);
        if (reply_ok(amqp_get_rpc_reply(c->conn)))
            return true;
    }
    conn_drop(&c->conn);
    return false;
}

static nova_status amqp_next(nova_queue_consumer_t *base, unsigned timeout_ms, nova_queue_msg_t *m)
{
    amqp_c *c = (amqp_c *)base;
    if (c->has_env) {
        amqp_destroy_envelope(&c->env);
        c->has_env = false;
    }
    if (c->conn == NULL && !consumer_connect(c))
        return NOVA_UNAVAILABLE;
    amqp_maybe_release_buffers(c->conn);
    struct timeval tv = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000};
    amqp_rpc_reply_t r = amqp_consume_message(c->conn, &c->env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
        return NOVA_NOT_FOUND;
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        conn_drop(&c->conn);
        return NOVA_UNAVAILABLE;
    }
    c->has_env = true;
    m->body = c->env.message.body.bytes;
    m->len = c->env.message.body.len;
    m->tag = c->env.delivery_tag;
    m->redelivered = c->env.redelivered != 0;
    amqp_basic_properties_t *p = &c->env.message.properties;
    m->has_reply = (p->_flags & AMQP_BASIC_REPLY_TO_FLAG) &&
                   (p->_flags & AMQP_BASIC_CORRELATION_ID_FLAG) && p->reply_to.len > 0 &&
                   p->reply_to.len < sizeof(c->reply_to) && p->correlation_id.len > 0 &&
                   p->correlation_id.len < sizeof(c->corr);
    c->reply_to[0] = c->corr[0] = '\0';
    if (m->has_reply) {
        memcpy(c->reply_to, p->reply_to.bytes, p->reply_to.len);
        c->reply_to[p->reply_to.len] = '\0';
        memcpy(c->corr, p->correlation_id.bytes, p->correlation_id.len);
        c->corr[p->correlation_id.len] = '\0';
    }
    m->reply_to = c->reply_to;
    m->correlation_id = c->corr;
    return NOVA_OK;
}

static nova_status amqp_ack(nova_queue_consumer_t *base, const nova_queue_msg_t *m)
{
    amqp_c *c = (amqp_c *)base;
    if (c->conn == NULL || amqp_basic_ack(c->conn, 1, m->tag, 0) != AMQP_STATUS_OK) {
        conn_drop(&c->conn);
        return NOVA_UNAVAILABLE;
    }
    return NOVA_OK;
}

static nova_status amqp_reject(nova_queue_consumer_t *base, const nova_queue_msg_t *m, bool requeue)
{
    amqp_c *c = (amqp_c *)base;
    if (c->conn == NULL || amqp_basic_reject(c->conn, 1, m->tag, requeue) != AMQP_STATUS_OK) {
        conn_drop(&c->conn);
        return NOVA_UNAVAILABLE;
    }
    return NOVA_OK;
}

/* Message counts from passive declares on a connection of its own. */
static nova_status amqp_depth(nova_queue_t *base, uint64_t *ready, uint64_t *dead)
{
    amqp_q *q = (amqp_q *)base;
    char err[160];
    amqp_connection_state_t c = conn_open(q, err, sizeof(err));
    if (c == NULL)
        return NOVA_UNAVAILABLE;
    nova_status st = NOVA_UNAVAILABLE;
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(c, 1, amqp_cstring_bytes(q->name), 1, 0, 0, 0, amqp_empty_table);
    if (ok) {
        *ready = ok->message_count;
        ok = amqp_queue_declare(c, 1, amqp_cstring_bytes(q->dead), 1, 0, 0, 0, amqp_empty_table);
        if (ok) {
            *dead = ok->message_count;
            st = NOVA_OK;
        }
    }
    conn_drop(&c);
    return st;
}

static const queue_driver_t amqp_driver = {
    "amqp",   amqp_close_q, amqp_publish, amqp_consumer_open, amqp_consumer_close, amqp_next,
    amqp_ack, amqp_reject,  amqp_depth,   amqp_publish_rpc,   amqp_reply,
};

nova_status queue_amqp_open(const char *url, const char *name, const nova_queue_options_t *o,
                            nova_queue_t **out, char *err, size_t errlen)
{
    char *copy = strdup(url);
    amqp_q *q = calloc(1, sizeof(*q));
    struct amqp_connection_info ci;
    if (copy == NULL || q == NULL) {
        free(copy);
        free(q);
        return NOVA_NOMEM;
    }
    amqp_default_connection_info(&ci);
    if (amqp_parse_url(copy, &ci) != AMQP_STATUS_OK || ci.ssl) {
        snprintf(err, errlen, "queue URL: expected amqp://user:password@host:port/vhost");
        free(copy);
        free(q);
        return NOVA_INVALID;
    }
    queue_base_init(&q->base, &amqp_driver);
    pthread_mutex_init(&q->rmu, NULL);
    pthread_cond_init(&q->rcv, NULL);
    q->host = strdup(ci.host);
    q->user = strdup(ci.user);
    q->password = strdup(ci.password);
    q->vhost = strdup(ci.vhost);
    q->port = ci.port;
    q->name = strdup(name);
    size_t dl = strlen(name) + 6;
    q->dead = malloc(dl);
    if (q->dead)
        snprintf(q->dead, dl, "%s.dead", name);
    free(copy);
    q->prefetch = o->prefetch ? o->prefetch : 1;
    q->timeout_ms = o->timeout_ms ? o->timeout_ms : 2000;
    pthread_mutex_init(&q->mu, NULL);
    if (!q->host || !q->user || !q->password || !q->vhost || !q->name || !q->dead) {
        amqp_close_q(&q->base);
        return NOVA_NOMEM;
    }
    amqp_connection_state_t c = conn_open(q, err, errlen);
    if (c == NULL) {
        amqp_close_q(&q->base);
        return NOVA_UNAVAILABLE;
    }
    bool ok = declare(q, c);
    conn_drop(&c);
    if (!ok) {
        snprintf(err, errlen, "cannot declare queue %s", name);
        amqp_close_q(&q->base);
        return NOVA_UNAVAILABLE;
    }
    *out = &q->base;
    return NOVA_OK;
}
