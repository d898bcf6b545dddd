/*
 * log_fuzz.c: libFuzzer target for the JSON log writer and the string escaper it and every
 * JSON reply rely on (nova_buf_append_json_escaped, nova_log_json, nova_log). Whatever bytes
 * come in, what goes out must be valid UTF-8 and parse as JSON (jansson), with one line per
 * call; bytes that were valid UTF-8 must come back unchanged. A violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>

#include "nova/base.h"
#include "nova/log.h"

static int log_fd = -1;

/* Everything written to the log since the last call, NUL-terminated; the caller frees it. */
static char *take_log(size_t *len)
{
    off_t end = lseek(log_fd, 0, SEEK_END);
    if (end < 0)
        abort();
    char *out = malloc((size_t)end + 1);
    if (out == NULL || pread(log_fd, out, (size_t)end, 0) != end)
        abort();
    out[end] = '\0';
    *len = (size_t)end;
    if (ftruncate(log_fd, 0) != 0 || lseek(log_fd, 0, SEEK_SET) != 0)
        abort();
    return out;
}

/* One line: valid UTF-8, a JSON object ending in exactly one newline, level "info". */
static json_t *check_line(void)
{
    size_t n;
    char *line = take_log(&n);
    if (n == 0 || line[n - 1] != '\n' || memchr(line, '\n', n - 1) != NULL)
        abort();
    if (!nova_utf8_valid(line, n))
        abort();
    json_error_t je;
    /* \u0000 is valid JSON; jansson only refuses it unless asked. */
    json_t *v = json_loadb(line, n - 1, JSON_ALLOW_NUL, &je);
    if (!json_is_object(v) || strcmp(json_string_value(json_object_get(v, "level")), "info") != 0)
        abort();
    free(line);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    if (log_fd < 0) {
        log_fd = memfd_create("log_fuzz", 0);
        if (log_fd < 0)
            abort();
        nova_log_set_fd(log_fd);
        nova_log_set_level(NOVA_LOG_INFO);
    }

    /* The escaper alone, NULs and all. */
    nova_buf_t b;
    nova_buf_init(&b);
    if (nova_buf_append_cstr(&b, "[\"") || nova_buf_append_json_escaped(&b, in, size) ||
        nova_buf_append_cstr(&b, "\"]"))
        abort();
    if (!nova_utf8_valid(b.data, b.len) || b.len > 6 * size + 4)
        abort();
    json_error_t je;
    json_t *v = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &je);
    json_t *s = json_array_get(v, 0);
    if (!json_is_string(s))
        abort();
    if (nova_utf8_valid(in, size) &&
        (json_string_length(s) != size || memcmp(json_string_value(s), in, size) != 0))
        abort();
    json_decref(v);

    /* A log line with the input as the message (a C string: up to the first NUL) and as a
     * field rendered the way the access log renders the request method. */
    char *msg = malloc(size + 1);
    if (msg == NULL)
        abort();
    memcpy(msg, in, size);
    msg[size] = '\0';
    nova_buf_reset(&b);
    if (nova_buf_append_cstr(&b, "\"method\":\"") || nova_buf_append_json_escaped(&b, in, size) ||
        nova_buf_append_cstr(&b, "\",\"status\":400"))
        abort();
    nova_log_json(NOVA_LOG_INFO, msg, b.data);
    v = check_line();
    if (!json_is_string(json_object_get(v, "msg")) ||
        !json_is_string(json_object_get(v, "method")) ||
        json_integer_value(json_object_get(v, "status")) != 400)
        abort();
    size_t ml = strlen(msg);
    if (nova_utf8_valid(msg, ml) && strcmp(json_string_value(json_object_get(v, "msg")), msg) != 0)
        abort();
    json_decref(v);

    /* The printf form cuts long messages at a fixed size, possibly inside a UTF-8 sequence. */
    nova_log(NOVA_LOG_INFO, "%s", msg);
    v = check_line();
    if (!json_is_string(json_object_get(v, "msg")))
        abort();
    json_decref(v);

    free(msg);
    nova_buf_free(&b);
    return 0;
}
