/*
 * yaml.c: YAML to JSON for OpenFGA's test files and conformance corpora (nova/policy_test.h),
 * on libyaml's event parser. Maps, sequences and scalars only; anchors, aliases and tags are
 * refused, as neither format uses them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "nova/policy_test.h"

#define YAML_MAX_DEPTH 64

static json_t *scalar(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn(v, n);
    if (n == 0 || strcmp(v, "null") == 0 || strcmp(v, "~") == 0)
        return json_null();
    /* YAML 1.1 booleans as the files write them (true, True, TRUE) */
    if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
        return json_true();
    if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0)
        return json_false();
    char *end;
    long long i = strtoll(v, &end, 10);
    if (*end == '\0' && end != v)
        return json_integer(i);
    double d = strtod(v, &end);
    json_t *r = *end == '\0' && end != v ? json_real(d) : NULL;
    if (r)
        return r; /* out-of-range numbers (1e309) stay text, as JSON cannot hold them */
    return json_stringn(v, n);
}

/* The node whose first event is ev. */
static json_t *node(yaml_parser_t *p, yaml_event_t *ev, int depth)
{
    if (depth > YAML_MAX_DEPTH)
        return NULL;
    if (ev->type == YAML_SCALAR_EVENT)
        return ev->data.scalar.tag ? NULL : scalar(ev);
    bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
    if (!seq && ev->type != YAML_MAPPING_START_EVENT)
        return NULL; /* an alias */
    json_t *c = seq ? json_array() : json_object();
    for (;;) {
        yaml_event_t k;
        if (!yaml_parser_parse(p, &k))
            break;
        if (k.type == (seq ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT)) {
            yaml_event_delete(&k);
            return c;
        }
        if (seq) {
            json_t *v = node(p, &k, depth + 1);
            yaml_event_delete(&k);
            if (!v)
                break;
            json_array_append_new(c, v);
            continue;
        }
        char *key = k.type == YAML_SCALAR_EVENT
                        ? strndup((const char *)k.data.scalar.value, k.data.scalar.length)
                        : NULL;
        yaml_event_delete(&k);
        yaml_event_t e;
        if (!key || !yaml_parser_parse(p, &e)) {
            free(key);
            break;
        }
        json_t *v = node(p, &e, depth + 1);
        yaml_event_delete(&e);
        if (!v || json_object_get(c, key)) { /* a key given twice is an error */
            json_decref(v);
            free(key);
            break;
        }
        json_object_set_new(c, key, v);
        free(key);
    }
    json_decref(c);
    return NULL;
}

json_t *nova_policy_yaml_parse(const char *text, size_t n, char *err, size_t errlen)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
    json_t *root = NULL;
    bool done = false;
    yaml_event_t e;
    while (!done && yaml_parser_parse(&p, &e)) {
        yaml_event_type_t t = e.type;
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT ||
            t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT) {
            root = node(&p, &e, 0);
            done = true;
        }
        yaml_event_delete(&e);
        if (t == YAML_STREAM_END_EVENT)
            done = true;
    }
    if (!root)
        snprintf(err, errlen, "not a YAML document of maps, sequences and scalars (line %zu: %s)",
                 p.problem_mark.line + 1, p.problem ? p.problem : "unsupported or duplicate node");
    yaml_parser_delete(&p);
    return root;
}
