/*
 * policy_fuzz.c: libFuzzer target for the policy engine's parsers of outside input: the
 * OpenFGA modeling language, the JSON model form and CEL expressions. The first byte picks
 * the parser. A model that parses must survive the trip to JSON and back, and a Check on it
 * must answer or fail cleanly; a CEL program that compiles must evaluate to a bool, an
 * unknown or an error. Nothing may crash or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/policy/internal.h"

static void exercise(const nova_policy_model_t *m)
{
    json_t *j = nova_policy_model_to_json(m);
    if (!j)
        abort();
    nova_policy_model_t *back = NULL;
    nova_policy_error_t err;
    if (nova_policy_model_from_json(j, &back, &err) != NOVA_OK)
        abort(); /* what we write we must read */
    json_decref(j);
    nova_policy_model_free(back);
    if (m->ntypes == 0 || m->types[0].nrels == 0)
        return;
    char obj[300];
    snprintf(obj, sizeof(obj), "%s:1", m->types[0].name);
    nova_policy_tuple_t t = {.object = obj, .relation = m->types[0].rels[0].name, .user = "user:x"};
    nova_policy_query_t q = {.model = m, .contextual = &t, .ncontextual = 1};
    bool allowed;
    nova_policy_check(&q, obj, m->types[0].rels[0].name, "user:x", &allowed, &err);
    q.ncontextual = 0;
    nova_policy_check(&q, obj, m->types[0].rels[0].name, "user:x", &allowed, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    nova_policy_error_t err;
    switch (data[0] % 3) {
    case 0: {
        nova_policy_model_t *m = NULL;
        nova_status st = nova_policy_model_parse(text, n, &m, &err);
        if ((st == NOVA_OK) != (m != NULL))
            abort();
        if (st != NOVA_OK && (err.line < 1 || err.message[0] == '\0'))
            abort();
        if (m)
            exercise(m);
        nova_policy_model_free(m);
        break;
    }
    case 1: {
        json_t *j = json_loadb(text, n, JSON_REJECT_DUPLICATES, NULL);
        if (!j)
            break;
        nova_policy_model_t *m = NULL;
        if (nova_policy_model_from_json(j, &m, &err) == NOVA_OK)
            exercise(m);
        nova_policy_model_free(m);
        json_decref(j);
        break;
    }
    default: {
        nova_cel_program_t *p = NULL;
        if (nova_cel_compile(text, n, &p, &err) != NOVA_OK) {
            if (p || err.message[0] == '\0')
                abort();
            break;
        }
        nova_arena_t a;
        nova_arena_init(&a, 1024);
        cel_binding_t b[] = {{.name = "x", .value = {.kind = CEL_INT, .i = 7}},
                             {.name = "s", .value = {.kind = CEL_STRING, .s = {"abc", 3}}},
                             {.name = "m", .value = {.kind = CEL_UNKNOWN, .s = {"m", 1}}}};
        cel_value_t v = cel_eval(p, b, 3, &a);
        if (v.kind != CEL_BOOL && v.kind != CEL_UNKNOWN && v.kind != CEL_ERROR)
            abort();
        nova_arena_free(&a);
        nova_cel_free(p);
        break;
    }
    }
    return 0;
}
