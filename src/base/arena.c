/* arena.c: a bump allocator for request-lifetime data. Chunks are chained; a request that
 * needs more than one chunk gets another, large allocations get a chunk of their own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nova/base.h"

struct nova_arena_chunk {
    nova_arena_chunk_t *next;
    size_t used;
    size_t size;
    _Alignas(16) unsigned char data[];
};

void nova_arena_init(nova_arena_t *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : 4096;
}

void nova_arena_free(nova_arena_t *a)
{
    if (a == NULL)
        return;
    nova_arena_chunk_t *c = a->head;
    while (c) {
        nova_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

void nova_arena_reset(nova_arena_t *a)
{
    nova_arena_free(a);
}

void *nova_arena_alloc(nova_arena_t *a, size_t n)
{
    /* Rounding and the chunk header must not wrap around. */
    if (n > SIZE_MAX - 15 - sizeof(nova_arena_chunk_t))
        return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    nova_arena_chunk_t *c = a->head;
    if (c == NULL || c->size - c->used < n) {
        size_t size = n > a->chunk_size ? n : a->chunk_size;
        nova_arena_chunk_t *nc = malloc(sizeof(*nc) + size);
        if (nc == NULL)
            return NULL;
        nc->used = 0;
        nc->size = size;
        if (c != NULL && n > a->chunk_size) {
            /* A big one-off block goes behind the head so the head's free space survives. */
            nc->next = c->next;
            c->next = nc;
            nc->used = n;
            return nc->data;
        }
        nc->next = c;
        a->head = nc;
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

char *nova_arena_strndup(nova_arena_t *a, const char *s, size_t n)
{
    char *p = nova_arena_alloc(a, n + 1);
    if (p == NULL)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *nova_arena_strdup(nova_arena_t *a, const char *s)
{
    return s ? nova_arena_strndup(a, s, strlen(s)) : NULL;
}

char *nova_arena_printf(nova_arena_t *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n < 0 ? NULL : nova_arena_alloc(a, (size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}
