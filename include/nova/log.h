/*
 * log.h: structured JSON log lines on stderr, one line per event, written with one write(2)
 * so lines from different threads never interleave. Never pass secrets, tokens, bodies or
 * personal data: the log is for operators.
 */
#ifndef NOVA_LOG_H
#define NOVA_LOG_H

#include "nova/base.h"

typedef enum nova_log_level {
    NOVA_LOG_DEBUG = 0,
    NOVA_LOG_INFO,
    NOVA_LOG_WARN,
    NOVA_LOG_ERROR,
    NOVA_LOG_OFF
} nova_log_level;

void nova_log_set_level(nova_log_level lvl);
nova_log_level nova_log_get_level(void);
/* Parses "debug|info|warn|error|off". */
nova_status nova_log_parse_level(const char *s, nova_log_level *out);
/* Sets the file descriptor lines go to (default 2). */
void nova_log_set_fd(int fd);

/* Writes {"ts":..,"level":..,"msg":msg, <fields>} where fields is either NULL or a
 * pre-rendered JSON member list without braces (e.g. "\"k\":1,\"s\":\"v\""). */
void nova_log_json(nova_log_level lvl, const char *msg, const char *fields);
/* printf-style convenience: the formatted text becomes "msg". */
void nova_log(nova_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define nova_log_info(...) nova_log(NOVA_LOG_INFO, __VA_ARGS__)
#define nova_log_warn(...) nova_log(NOVA_LOG_WARN, __VA_ARGS__)
#define nova_log_error(...) nova_log(NOVA_LOG_ERROR, __VA_ARGS__)

#endif
