/* status.c: names of nova_status values and the panic path behind nova_assert. */
#include <stdio.h>
#include <stdlib.h>

#include "nova/base.h"

static const char *const status_names[NOVA_STATUS_COUNT_] = {
    [NOVA_OK] = "ok",
    [NOVA_INVALID] = "invalid",
    [NOVA_NOT_FOUND] = "not_found",
    [NOVA_CONFLICT] = "conflict",
    [NOVA_UNAUTHORIZED] = "unauthorized",
    [NOVA_FORBIDDEN] = "forbidden",
    [NOVA_TOO_LARGE] = "too_large",
    [NOVA_UNAVAILABLE] = "unavailable",
    [NOVA_INTERNAL] = "internal",
    [NOVA_NOMEM] = "nomem",
};

const char *nova_status_name(nova_status st)
{
    if ((unsigned)st >= NOVA_STATUS_COUNT_)
        return "unknown";
    return status_names[st];
}

_Noreturn void nova_panic(const char *file, int line, const char *what)
{
    fprintf(stderr, "nova: assertion failed at %s:%d: %s\n", file, line, what);
    abort();
}
