/*
 * pool.c: the handler threads. A worker's epoll thread reads a request, suspends its
 * connection (libmicrohttpd's suspend/resume) and queues the request here; a handler thread
 * runs the route's handler and resumes the connection, whose worker then sends the reply.
 * So a handler that blocks (an outbound call, seconds of OCR, argon2id) holds one handler
 * thread, never a worker's other connections.
 *
 * One FIFO under one mutex: a job is queued once and taken once, and the queue is short
 * (bounded by the requests in flight), so nothing cleverer pays for itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "nova/log.h"

static void *pool_main(void *arg)
{
    http_pool_t *p = arg;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->stopping)
            break;
        http_job_t *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->running, 1, memory_order_relaxed);
        pthread_mutex_unlock(&p->lock);
        j->run(j);
        atomic_fetch_sub_explicit(&p->running, 1, memory_order_relaxed);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

nova_status http_pool_start(http_pool_t *p, size_t nthreads)
{
    memset(p, 0, sizeof(*p));
    atomic_init(&p->queued, 0);
    atomic_init(&p->running, 0);
    if (nthreads == 0)
        return NOVA_INVALID;
    p->threads = calloc(nthreads, sizeof(*p->threads));
    if (!p->threads)
        return NOVA_NOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->initialised = true;
    for (; p->nthreads < nthreads; p->nthreads++) {
        if (pthread_create(&p->threads[p->nthreads], NULL, pool_main, p) != 0) {
            nova_log_error("http: cannot start handler thread %zu", p->nthreads);
            http_pool_stop(p, NULL);
            return NOVA_UNAVAILABLE;
        }
        char name[16];
        snprintf(name, sizeof(name), "nova-handler%zu", p->nthreads);
        pthread_setname_np(p->threads[p->nthreads], name);
    }
    return NOVA_OK;
}

void http_pool_push(http_pool_t *p, http_job_t *j)
{
    j->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    atomic_fetch_add_explicit(&p->queued, 1, memory_order_relaxed);
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void http_pool_stop(http_pool_t *p, void (*drop)(http_job_t *j))
{
    if (!p->initialised)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* What no thread took: the caller answers it (its connection waits, suspended). */
    while (p->head) {
        http_job_t *j = p->head;
        p->head = j->next;
        atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
        if (drop)
            drop(j);
    }
    p->tail = NULL;
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    p->threads = NULL;
    p->nthreads = 0;
    p->initialised = false;
}
