/* json.c: strict request-body decoding (see json.h). */
#include <stdio.h>
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

nova_status nova_json_parse_object(const char *data, size_t n, json_t **out, char *err,
                                   size_t errlen)
{
    *out = NULL;
    /* Cheap pre-check on nesting so a deeply nested body never reaches the recursive parser
     * (jansson's own limit is 2048 levels). Brackets inside strings only make this stricter
     * for bodies that are unreasonable anyway. */
    size_t depth = 0, maxd = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = data[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > maxd)
                maxd = depth;
        } else if (c == '}' || c == ']') {
            if (depth)
                depth--;
        }
        if (maxd > NOVA_JSON_MAX_DEPTH) {
            snprintf(err, errlen, "JSON nested deeper than %d levels", NOVA_JSON_MAX_DEPTH);
            return NOVA_INVALID;
        }
    }
    json_error_t je;
    json_t *v = json_loadb(data, n, JSON_REJECT_DUPLICATES, &je);
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
    *out = v;
    return NOVA_OK;
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
