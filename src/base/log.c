/* log.c: structured JSON log lines, each written with a single write(2). A line that holds a
 * live decrypted field value (nova/shield.h) is never written: a fixed notice at the same
 * level takes its place, so the event is still seen but the value is not. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "nova/log.h"
#include "nova/shield.h"

static _Atomic int log_level = NOVA_LOG_INFO;
static _Atomic int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void nova_log_set_level(nova_log_level lvl)
{
    atomic_store(&log_level, (int)lvl);
}

nova_log_level nova_log_get_level(void)
{
    return (nova_log_level)atomic_load(&log_level);
}

nova_status nova_log_parse_level(const char *s, nova_log_level *out)
{
    for (int i = 0; i <= NOVA_LOG_OFF; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (nova_log_level)i;
            return NOVA_OK;
        }
    }
    return NOVA_INVALID;
}

void nova_log_set_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

void nova_log_json(nova_log_level lvl, const char *msg, const char *fields)
{
    if ((int)lvl < atomic_load_explicit(&log_level, memory_order_relaxed) || lvl >= NOVA_LOG_OFF)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof(ts) - tl, ".%03dZ", (int)(tv.tv_usec / 1000));

    nova_buf_t b;
    nova_buf_init(&b);
    nova_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_names[lvl]);
    nova_buf_append_json_escaped(&b, msg, strlen(msg));
    nova_buf_append(&b, "\"", 1);
    if (fields && *fields) {
        nova_buf_append(&b, ",", 1);
        nova_buf_append_cstr(&b, fields);
    }
    if (b.data && nova_shield_hit((const char *)b.data, b.len)) {
        nova_shield_count_withheld();
        OPENSSL_cleanse(b.data, b.len);
        nova_buf_reset(&b);
        nova_buf_printf(&b,
                        "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"log line withheld: it "
                        "held a decrypted field value\",\"shield\":true",
                        ts, level_names[lvl]);
    }
    if (nova_buf_append(&b, "}\n", 2) == NOVA_OK) {
        ssize_t w = write(atomic_load(&log_fd), b.data, b.len);
        (void)w;
    }
    nova_buf_free(&b);
}

void nova_log(nova_log_level lvl, const char *fmt, ...)
{
    if ((int)lvl < atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    nova_log_json(lvl, msg, NULL);
}
