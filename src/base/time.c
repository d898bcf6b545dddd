/* time.c: clocks, the CSPRNG and random identifiers. */
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nova/base.h"

static _Atomic int64_t fake_now;

int64_t nova_time_now(void)
{
    int64_t f = atomic_load_explicit(&fake_now, memory_order_relaxed);
    if (f)
        return f;
    return (int64_t)time(NULL);
}

void nova_time_set_fake(int64_t now)
{
    atomic_store(&fake_now, now);
}

uint64_t nova_time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void nova_time_format(int64_t t, char out[21])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

nova_status nova_random_bytes(void *buf, size_t n)
{
    if (n > (size_t)INT32_MAX)
        return NOVA_INVALID;
    return RAND_bytes(buf, (int)n) == 1 ? NOVA_OK : NOVA_INTERNAL;
}

nova_status nova_id_new(const char *prefix, char *out, size_t out_size)
{
    uint8_t raw[16];
    size_t plen = strlen(prefix);
    if (out_size < plen + 1 + 23)
        return NOVA_INVALID;
    if (nova_random_bytes(raw, sizeof(raw)) != NOVA_OK)
        return NOVA_INTERNAL;
    memcpy(out, prefix, plen);
    out[plen] = '_';
    nova_b64url_encode(raw, sizeof(raw), out + plen + 1);
    return NOVA_OK;
}

nova_status nova_id_seq(const char *prefix, char *out, size_t out_size)
{
    static _Thread_local uint8_t seed[9];
    static _Thread_local bool seeded;
    static _Thread_local uint64_t counter;
    size_t plen = strlen(prefix);
    if (out_size < plen + 1 + 21)
        return NOVA_INVALID;
    if (!seeded) {
        if (nova_random_bytes(seed, sizeof(seed)) != NOVA_OK)
            return NOVA_INTERNAL;
        seeded = true;
    }
    uint8_t raw[15];
    memcpy(raw, seed, sizeof(seed));
    uint64_t c = ++counter;
    for (int i = 0; i < 6; i++)
        raw[9 + i] = (uint8_t)(c >> (8 * (5 - i)));
    memcpy(out, prefix, plen);
    out[plen] = '_';
    nova_b64url_encode(raw, sizeof(raw), out + plen + 1);
    return NOVA_OK;
}
