/*
 * json_fuzz.c: libFuzzer target for request-body decoding: nova_json_parse_object and, on
 * success, the member checks a route runs on it (nova_json_only_members, nova_json_get_string,
 * nova_json_get_words) with the limits the API uses. Nothing may crash or leak, and what the
 * getters hand back must honour their contracts (json.h); a violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/json.h"

static const char *const members[] = {"name", "scopes", "audiences", "tenant", NULL};

/* err must come back NUL-terminated and non-empty whenever a call fails. */
static void check_err(nova_status st, const char *err, size_t errlen)
{
    if (st != NOVA_OK && (err[0] == '\0' || strnlen(err, errlen) == errlen))
        abort();
}

static void check_string(json_t *obj, const char *key, bool required, size_t minlen, size_t maxlen)
{
    char err[256] = "";
    const char *s = NULL;
    nova_status st = nova_json_get_string(obj, key, required, minlen, maxlen, &s, err, sizeof(err));
    check_err(st, err, sizeof(err));
    if (st != NOVA_OK) {
        if (s != NULL)
            abort();
        return;
    }
    if (s == NULL) {
        if (required)
            abort();
        return;
    }
    size_t n = strlen(s);
    if (n < minlen || n > maxlen)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            abort();
}

static void check_words(json_t *obj, const char *key, bool required, size_t max_items,
                        size_t maxlen, nova_arena_t *a)
{
    char err[256] = "";
    const char *w = NULL;
    nova_status st =
        nova_json_get_words(obj, key, required, max_items, maxlen, a, &w, err, sizeof(err));
    check_err(st, err, sizeof(err));
    if (st != NOVA_OK || w == NULL) {
        if (st == NOVA_OK && required)
            abort();
        return;
    }
    /* Single spaces between non-empty visible words, at most max_items of them. */
    size_t n = strlen(w), words = 0, run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c == ' ') {
            if (run == 0)
                abort();
            run = 0;
            continue;
        }
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            abort();
        if (run++ == 0)
            words++;
        if (run > maxlen)
            abort();
    }
    if (words > max_items || (n > 0 && run == 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    json_t *obj = NULL;
    nova_status st = nova_json_parse_object((const char *)data, size, &obj, err, sizeof(err));
    check_err(st, err, sizeof(err));
    if (st != NOVA_OK) {
        if (obj != NULL)
            abort();
        return 0;
    }
    if (!json_is_object(obj))
        abort();

    err[0] = '\0';
    st = nova_json_only_members(obj, members, err, sizeof(err));
    check_err(st, err, sizeof(err));

    nova_arena_t a;
    nova_arena_init(&a, 1024);
    check_string(obj, "name", true, 1, 100);
    check_string(obj, "tenant", false, 0, 64);
    check_words(obj, "scopes", true, 16, 64, &a);
    check_words(obj, "audiences", false, 8, 256, &a);
    /* Nested objects are decoded the same way (a route's sub-object, like "client"). */
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (json_is_object(v)) {
            err[0] = '\0';
            check_err(nova_json_only_members(v, members, err, sizeof(err)), err, sizeof(err));
            check_string(v, "name", false, 1, 100);
            check_words(v, "scopes", false, 16, 64, &a);
        }
    }
    nova_arena_free(&a);
    json_decref(obj);
    return 0;
}
