/* json.c: strict request-body decoding (see json.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nova/json.h"

static size_t depth_of(json_t *v, size_t limit)
{
    if (limit == 0)
        return 1;
    size_t max = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c)
        {
            size_t d = depth_of(c, limit - 1);
            if (d > max)
                max = d;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            size_t d = depth_of(c, limit - 1);
            if (d > max)
                max = d;
        }
    } else {
        return 0;
    }
    return max + 1;
}

/* ---- the parse budget ----
 * jansson allocates through one process-wide pair of functions. Ours draw on a budget of the
 * decode running on this thread, when one is running; every other use of jansson (replies,
 * keys, tokens built by Nova) passes straight through to malloc. The budget counts every
 * byte requested during the parse, freed or not, so it bounds the peak as well. */
static _Thread_local struct {
    bool active;
    bool exceeded;
    size_t left;
} budget;

static void *budget_malloc(size_t n)
{
    if (budget.active) {
        if (n > budget.left) {
            budget.exceeded = true;
            return NULL;
        }
        budget.left -= n;
    }
    return malloc(n);
}

static void budget_free(void *p)
{
    free(p);
}

/* Before main, so before any thread and any jansson allocation: every block jansson frees
 * came from budget_malloc (which is malloc). */
__attribute__((constructor)) static void budget_install(void)
{
    json_set_alloc_funcs(budget_malloc, budget_free);
}

static bool member_allowed(const char *const *allowed, const char *k, size_t n)
{
    for (const char *const *a = allowed; *a; a++)
        if (strlen(*a) == n && memcmp(*a, k, n) == 0)
            return true;
    return false;
}

/* One pass over the text before the parser sees it: the nesting depth, and the names of the
 * top-level members, so that a body is refused at its first unknown member without building
 * anything (a huge value under an unknown name costs nothing). Brackets inside strings only
 * make the depth check stricter for bodies that are unreasonable anyway; a name written with
 * escapes is left to nova_json_only_members after the parse. Invalid JSON may be refused
 * here with a message about depth or members; it would be refused by the parser anyway. */
static nova_status prescan(const char *data, size_t n, const char *const *allowed, char *err,
                           size_t errlen)
{
    size_t depth = 0, maxd = 0, key = 0;
    bool in_str = false, escaped = false, want_key = false, in_key = false;
    for (size_t i = 0; i < n; i++) {
        char c = data[i];
        if (in_str) {
            if (c == '\\') {
                escaped = true;
                i++;
            } else if (c == '"') {
                in_str = false;
                if (in_key && !escaped && allowed &&
                    !member_allowed(allowed, data + key, i - key)) {
                    int shown = i - key > 64 ? 64 : (int)(i - key);
                    snprintf(err, errlen, "unknown member \"%.*s\"", shown, data + key);
                    return NOVA_INVALID;
                }
                in_key = false;
            }
        } else if (c == '"') {
            in_str = true;
            escaped = false;
            in_key = want_key && depth == 1;
            want_key = false;
            key = i + 1;
        } else if (c == '{' || c == '[') {
            if (++depth > maxd)
                maxd = depth;
            want_key = depth == 1 && c == '{';
        } else if (c == '}' || c == ']') {
            if (depth)
                depth--;
        } else if (c == ',' && depth == 1) {
            want_key = true;
        }
        if (maxd > NOVA_JSON_MAX_DEPTH) {
            snprintf(err, errlen, "JSON nested deeper than %d levels", NOVA_JSON_MAX_DEPTH);
            return NOVA_INVALID;
        }
    }
    return NOVA_OK;
}

nova_status nova_json_parse_body(const char *data, size_t n, const char *const *allowed,
                                 json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    nova_status st = prescan(data, n, allowed, err, errlen);
    if (st != NOVA_OK)
        return st;
    if (n > (SIZE_MAX - NOVA_JSON_BUDGET_BASE) / NOVA_JSON_BUDGET_PER_BYTE) {
        snprintf(err, errlen, "the JSON body is too large");
        return NOVA_TOO_LARGE;
    }
    json_error_t je;
    budget.active = true;
    budget.exceeded = false;
    budget.left = NOVA_JSON_BUDGET(n);
    json_t *v = json_loadb(data, n, JSON_REJECT_DUPLICATES, &je);
    bool exceeded = budget.exceeded;
    budget.active = false;
    if (exceeded) {
        json_decref(v);
        snprintf(err, errlen,
                 "the JSON body needs more than %d times its size in memory to decode; send "
                 "fewer, larger values",
                 NOVA_JSON_BUDGET_PER_BYTE);
        return NOVA_TOO_LARGE;
    }
    if (v == NULL) {
        snprintf(err, errlen, "malformed JSON at line %d column %d: %s", je.line, je.column,
                 je.text);
        return NOVA_INVALID;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        snprintf(err, errlen, "the body must be a JSON object");
        return NOVA_INVALID;
    }
    if (depth_of(v, NOVA_JSON_MAX_DEPTH + 1) > NOVA_JSON_MAX_DEPTH) {
        json_decref(v);
        snprintf(err, errlen, "JSON nested deeper than %d levels", NOVA_JSON_MAX_DEPTH);
        return NOVA_INVALID;
    }
    if (allowed && (st = nova_json_only_members(v, allowed, err, errlen)) != NOVA_OK) {
        json_decref(v);
        return st;
    }
    *out = v;
    return NOVA_OK;
}

nova_status nova_json_parse_object(const char *data, size_t n, json_t **out, char *err,
                                   size_t errlen)
{
    return nova_json_parse_body(data, n, NULL, out, err, errlen);
}

nova_status nova_json_only_members(json_t *obj, const char *const *allowed, char *err,
                                   size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k) == 0) {
                ok = true;
                break;
            }
        if (!ok) {
            snprintf(err, errlen, "unknown member \"%.64s\"", k);
            return NOVA_INVALID;
        }
    }
    return NOVA_OK;
}

static bool has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

nova_status nova_json_get_string(json_t *obj, const char *key, bool required, size_t minlen,
                                 size_t maxlen, const char **out, char *err, size_t errlen)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        if (!required)
            return NOVA_OK;
        snprintf(err, errlen, "\"%s\" is required", key);
        return NOVA_INVALID;
    }
    if (!json_is_string(v)) {
        snprintf(err, errlen, "\"%s\" must be a string", key);
        return NOVA_INVALID;
    }
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n < minlen || n > maxlen) {
        snprintf(err, errlen, "\"%s\" must be %zu to %zu characters long", key, minlen, maxlen);
        return NOVA_INVALID;
    }
    if (strlen(s) != n || has_control(s, n)) {
        snprintf(err, errlen, "\"%s\" must not contain control characters", key);
        return NOVA_INVALID;
    }
    *out = s;
    return NOVA_OK;
}

nova_status nova_json_get_words(json_t *obj, const char *key, bool required, size_t max_items,
                                size_t maxlen, nova_arena_t *a, const char **out, char *err,
                                size_t errlen)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        if (!required)
            return NOVA_OK;
        snprintf(err, errlen, "\"%s\" is required", key);
        return NOVA_INVALID;
    }
    if (!json_is_array(v) || json_array_size(v) > max_items) {
        snprintf(err, errlen, "\"%s\" must be an array of at most %zu strings", key, max_items);
        return NOVA_INVALID;
    }
    nova_buf_t b;
    nova_buf_init(&b);
    nova_status st = NOVA_OK;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        const char *s = json_string_value(item);
        size_t n = s ? json_string_length(item) : 0;
        bool bad = s == NULL || n == 0 || n > maxlen || strlen(s) != n;
        for (size_t j = 0; !bad && j < n; j++)
            if ((unsigned char)s[j] <= 0x20 || s[j] == 0x7f || s[j] == '"' || s[j] == '\\')
                bad = true;
        if (bad) {
            snprintf(err, errlen,
                     "\"%s\"[%zu] must be a non-empty string of at most %zu visible characters",
                     key, i, maxlen);
            st = NOVA_INVALID;
            goto end;
        }
        if ((i && nova_buf_append(&b, " ", 1)) || nova_buf_append(&b, s, n)) {
            st = NOVA_NOMEM;
            goto end;
        }
    }
    *out = nova_arena_strndup(a, b.data ? b.data : "", b.len);
    if (*out == NULL)
        st = NOVA_NOMEM;
end:
    nova_buf_free(&b);
    return st;
}
