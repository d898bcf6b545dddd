/*
 * decision.c: the decision point over a tenant's policy bundle (nova/policy_decision.h).
 *
 * A decision runs fixed stages in order and the first that refuses decides: same tenant,
 * action (the action map), purpose (the registry), relation (Check on the model), rules
 * ("require" must hold, "deny" must not), then step-up ("step_up" rules whose AAL the subject
 * has not reached). Every stage fails closed: a missing attribute, a CEL error or a check error
 * is a deny, never an allow. explain records each stage that ran with its result.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/policy_decision.h"

#define MAX_ACTIONS 256
#define MAX_PURPOSES 128
#define MAX_RULES 128
#define MAX_LIST 64
#define NAME_MAX_LEN 128
#define CEL_MAX_LEN 4096

typedef enum rule_effect { EFFECT_REQUIRE, EFFECT_DENY, EFFECT_STEP_UP } rule_effect;

/* The effects a rule may name: a table, so the parser and the docs read from one place. */
static const struct {
    const char *name;
    rule_effect effect;
} EFFECTS[] = {
    {"require", EFFECT_REQUIRE}, /* deny unless when holds */
    {"deny", EFFECT_DENY},       /* deny when when holds */
    {"step_up", EFFECT_STEP_UP}, /* when holds (or always): the subject needs aal */
};

typedef struct strlist {
    const char **v;
    size_t n;
} strlist_t;

typedef struct action_def {
    const char *name;
    const char *relation;
    strlist_t types; /* empty: any resource type */
} action_def_t;

typedef struct purpose_def {
    const char *name;
    strlist_t types, actions;
} purpose_def_t;

typedef struct rule_def {
    const char *id;
    rule_effect effect;
    const char *when; /* NULL: always (step_up only) */
    nova_cel_program_t *program;
    strlist_t actions; /* empty: every action */
    int aal;
} rule_def_t;

typedef struct route_def {
    const char *method;
    const char *path; /* "/v1/accounts/{id}": literal segments, {id} the resource, {x} any */
    const char *action, *resource_type;
} route_def_t;

struct nova_policy_bundle {
    nova_arena_t arena;
    const char *subject_type;      /* of the clients ext_authz and AuthZEN see ("client") */
    const char *user_subject_type; /* of the people (user tokens) they see ("user") */
    route_def_t *routes;
    size_t nroutes;
    const char *store_id, *model_id;
    action_def_t *actions;
    size_t nactions;
    bool purposes_on;
    purpose_def_t *purposes;
    size_t npurposes;
    rule_def_t *rules;
    size_t nrules;
};

/* ---- parsing ---- */

static nova_status fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static nova_status fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return NOVA_INVALID;
}

/* A name: 1..NAME_MAX_LEN printable ASCII characters without spaces. */
static bool valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static nova_status get_name(nova_policy_bundle_t *b, const json_t *v, const char *where,
                            const char **out, char *err, size_t errlen)
{
    if (!json_is_string(v) || !valid_name(json_string_value(v)))
        return fail(err, errlen, "%s: a name is required (1 to %d printable characters)", where,
                    NAME_MAX_LEN);
    *out = nova_arena_strdup(&b->arena, json_string_value(v));
    return *out ? NOVA_OK : NOVA_NOMEM;
}

/* An optional array of names (absent: empty). */
static nova_status get_list(nova_policy_bundle_t *b, const json_t *v, const char *where,
                            strlist_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (v == NULL)
        return NOVA_OK;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > MAX_LIST)
        return fail(err, errlen, "%s: a non-empty array of at most %d names", where, MAX_LIST);
    out->n = json_array_size(v);
    out->v = nova_arena_alloc(&b->arena, out->n * sizeof(*out->v));
    if (out->v == NULL)
        return NOVA_NOMEM;
    for (size_t i = 0; i < out->n; i++) {
        char w[160];
        snprintf(w, sizeof(w), "%s/%zu", where, i);
        nova_status st = get_name(b, json_array_get(v, i), w, &out->v[i], err, errlen);
        if (st)
            return st;
    }
    return NOVA_OK;
}

static bool has(const strlist_t *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

static nova_status only(const json_t *o, const char *const *allowed, const char *where, char *err,
                        size_t errlen)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], k) != 0)
            i++;
        if (!allowed[i])
            return fail(err, errlen, "%s/%s: unknown member", where, k);
    }
    return NOVA_OK;
}

static bool ulid_like(const char *s)
{
    if (!s || strlen(s) != 26)
        return false;
    for (int i = 0; i < 26; i++)
        if (!strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", s[i]))
            return false;
    return true;
}

/* CEL may read these and nothing else. */
static const char *const CEL_INPUTS[] = {"subject", "resource", "context", "action",
                                         "purpose", "tenant",   NULL};

typedef struct ident_check {
    const char *bad;
} ident_check_t;

static void check_ident(void *arg, const char *name)
{
    ident_check_t *c = arg;
    for (size_t i = 0; CEL_INPUTS[i]; i++)
        if (strcmp(CEL_INPUTS[i], name) == 0)
            return;
    if (!c->bad)
        c->bad = name;
}

static nova_status parse_actions(nova_policy_bundle_t *b, const json_t *v, char *err, size_t errlen)
{
    if (!json_is_object(v) || json_object_size(v) == 0 || json_object_size(v) > MAX_ACTIONS)
        return fail(err, errlen, "/actions: an object of 1 to %d actions is required", MAX_ACTIONS);
    b->actions = nova_arena_alloc(&b->arena, json_object_size(v) * sizeof(*b->actions));
    if (!b->actions)
        return NOVA_NOMEM;
    const char *k;
    const json_t *a;
    json_object_foreach((json_t *)v, k, a)
    {
        static const char *const members[] = {"relation", "resource_types", NULL};
        char w[192];
        snprintf(w, sizeof(w), "/actions/%.128s", k);
        action_def_t *d = &b->actions[b->nactions];
        nova_status st;
        if (!valid_name(k))
            return fail(err, errlen, "%s: an action name is 1 to %d printable characters", w,
                        NAME_MAX_LEN);
        if (!json_is_object(a))
            return fail(err, errlen, "%s: an object with relation is required", w);
        if ((st = only(a, members, w, err, errlen)))
            return st;
        char wr[224];
        snprintf(wr, sizeof(wr), "%s/relation", w);
        if ((st = get_name(b, json_object_get(a, "relation"), wr, &d->relation, err, errlen)))
            return st;
        snprintf(wr, sizeof(wr), "%s/resource_types", w);
        if ((st = get_list(b, json_object_get(a, "resource_types"), wr, &d->types, err, errlen)))
            return st;
        if ((d->name = nova_arena_strdup(&b->arena, k)) == NULL)
            return NOVA_NOMEM;
        b->nactions++;
    }
    return NOVA_OK;
}

static const action_def_t *find_action(const nova_policy_bundle_t *b, const char *name)
{
    for (size_t i = 0; i < b->nactions; i++)
        if (strcmp(b->actions[i].name, name) == 0)
            return &b->actions[i];
    return NULL;
}

static nova_status parse_purposes(nova_policy_bundle_t *b, const json_t *v, char *err,
                                  size_t errlen)
{
    if (v == NULL)
        return NOVA_OK;
    if (!json_is_object(v) || json_object_size(v) > MAX_PURPOSES)
        return fail(err, errlen, "/purposes: an object of at most %d purposes", MAX_PURPOSES);
    b->purposes_on = true;
    b->purposes = nova_arena_alloc(&b->arena, (json_object_size(v) + 1) * sizeof(*b->purposes));
    if (!b->purposes)
        return NOVA_NOMEM;
    const char *k;
    const json_t *p;
    json_object_foreach((json_t *)v, k, p)
    {
        static const char *const members[] = {"resource_types", "actions", NULL};
        char w[192], wr[224];
        snprintf(w, sizeof(w), "/purposes/%.128s", k);
        purpose_def_t *d = &b->purposes[b->npurposes];
        nova_status st;
        if (!valid_name(k))
            return fail(err, errlen, "%s: a purpose name is 1 to %d printable characters", w,
                        NAME_MAX_LEN);
        if (!json_is_object(p))
            return fail(err, errlen, "%s: an object with resource_types and actions", w);
        if ((st = only(p, members, w, err, errlen)))
            return st;
        snprintf(wr, sizeof(wr), "%s/resource_types", w);
        if (!json_object_get(p, "resource_types"))
            return fail(err, errlen, "%s: required", wr);
        if ((st = get_list(b, json_object_get(p, "resource_types"), wr, &d->types, err, errlen)))
            return st;
        snprintf(wr, sizeof(wr), "%s/actions", w);
        if (!json_object_get(p, "actions"))
            return fail(err, errlen, "%s: required", wr);
        if ((st = get_list(b, json_object_get(p, "actions"), wr, &d->actions, err, errlen)))
            return st;
        for (size_t i = 0; i < d->actions.n; i++)
            if (!find_action(b, d->actions.v[i]))
                return fail(err, errlen, "%s/%zu: action '%s' is not in /actions", wr, i,
                            d->actions.v[i]);
        if ((d->name = nova_arena_strdup(&b->arena, k)) == NULL)
            return NOVA_NOMEM;
        b->npurposes++;
    }
    return NOVA_OK;
}

#define MAX_ROUTES 256

static bool valid_route_path(const char *p)
{
    if (!p || p[0] != '/' || strlen(p) > 512)
        return false;
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '?' || *c == '#' ||
            (c[0] == '/' && c[1] == '/'))
            return false;
    return true;
}

static nova_status parse_http(nova_policy_bundle_t *b, const json_t *v, char *err, size_t errlen)
{
    static const char *const members[] = {"subject_type", "user_subject_type", "routes", NULL};
    static const char *const route_m[] = {"method", "path", "action", "resource_type", NULL};
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
    b->subject_type = "client";
    b->user_subject_type = "user";
    if (v == NULL)
        return NOVA_OK;
    nova_status st;
    if (!json_is_object(v))
        return fail(err, errlen,
                    "/http: an object with subject_type, user_subject_type and routes");
    if ((st = only(v, members, "/http", err, errlen)))
        return st;
    if (json_object_get(v, "subject_type") &&
        (st = get_name(b, json_object_get(v, "subject_type"), "/http/subject_type",
                       &b->subject_type, err, errlen)))
        return st;
    if (json_object_get(v, "user_subject_type") &&
        (st = get_name(b, json_object_get(v, "user_subject_type"), "/http/user_subject_type",
                       &b->user_subject_type, err, errlen)))
        return st;
    const json_t *routes = json_object_get(v, "routes");
    if (!routes)
        return NOVA_OK;
    if (!json_is_array(routes) || json_array_size(routes) > MAX_ROUTES)
        return fail(err, errlen, "/http/routes: an array of at most %d routes", MAX_ROUTES);
    b->routes = nova_arena_alloc(&b->arena, (json_array_size(routes) + 1) * sizeof(*b->routes));
    if (!b->routes)
        return NOVA_NOMEM;
    for (size_t i = 0; i < json_array_size(routes); i++) {
        const json_t *r = json_array_get(routes, i);
        route_def_t *d = &b->routes[i];
        char w[64], wr[96];
        snprintf(w, sizeof(w), "/http/routes/%zu", i);
        if (!json_is_object(r))
            return fail(err, errlen, "%s: an object with method, path, action, resource_type", w);
        if ((st = only(r, route_m, w, err, errlen)))
            return st;
        const char *m = json_string_value(json_object_get(r, "method"));
        size_t k = 0;
        while (m && methods[k] && strcmp(methods[k], m) != 0)
            k++;
        if (!m || !methods[k])
            return fail(err, errlen, "%s/method: GET, POST, PUT, PATCH or DELETE", w);
        d->method = methods[k];
        const char *path = json_string_value(json_object_get(r, "path"));
        if (!valid_route_path(path))
            return fail(err, errlen,
                        "%s/path: an absolute path of printable characters without "
                        "query, fragment or empty segments",
                        w);
        if ((d->path = nova_arena_strdup(&b->arena, path)) == NULL)
            return NOVA_NOMEM;
        snprintf(wr, sizeof(wr), "%s/action", w);
        if ((st = get_name(b, json_object_get(r, "action"), wr, &d->action, err, errlen)))
            return st;
        if (!find_action(b, d->action))
            return fail(err, errlen, "%s: action '%s' is not in /actions", wr, d->action);
        snprintf(wr, sizeof(wr), "%s/resource_type", w);
        if ((st = get_name(b, json_object_get(r, "resource_type"), wr, &d->resource_type, err,
                           errlen)))
            return st;
        b->nroutes = i + 1;
    }
    return NOVA_OK;
}

static nova_status parse_rule(nova_policy_bundle_t *b, const json_t *r, size_t idx, char *err,
                              size_t errlen)
{
    static const char *const members[] = {"id", "effect", "when", "actions", "aal", NULL};
    char w[64], wr[96];
    snprintf(w, sizeof(w), "/rules/%zu", idx);
    rule_def_t *d = &b->rules[idx];
    nova_status st;
    if (!json_is_object(r))
        return fail(err, errlen, "%s: an object with id and effect is required", w);
    if ((st = only(r, members, w, err, errlen)))
        return st;
    snprintf(wr, sizeof(wr), "%s/id", w);
    if ((st = get_name(b, json_object_get(r, "id"), wr, &d->id, err, errlen)))
        return st;
    for (size_t i = 0; i < idx; i++)
        if (strcmp(b->rules[i].id, d->id) == 0)
            return fail(err, errlen, "%s: id '%s' is given twice", wr, d->id);
    const char *eff = json_string_value(json_object_get(r, "effect"));
    size_t e = 0;
    while (eff && e < sizeof(EFFECTS) / sizeof(EFFECTS[0]) && strcmp(EFFECTS[e].name, eff) != 0)
        e++;
    if (!eff || e == sizeof(EFFECTS) / sizeof(EFFECTS[0]))
        return fail(err, errlen, "%s/effect: one of require, deny, step_up", w);
    d->effect = EFFECTS[e].effect;
    snprintf(wr, sizeof(wr), "%s/actions", w);
    if ((st = get_list(b, json_object_get(r, "actions"), wr, &d->actions, err, errlen)))
        return st;
    for (size_t i = 0; i < d->actions.n; i++)
        if (!find_action(b, d->actions.v[i]))
            return fail(err, errlen, "%s/%zu: action '%s' is not in /actions", wr, i,
                        d->actions.v[i]);
    const json_t *aal = json_object_get(r, "aal");
    if (d->effect == EFFECT_STEP_UP) {
        if (!json_is_integer(aal) || json_integer_value(aal) < 1 || json_integer_value(aal) > 3)
            return fail(err, errlen, "%s/aal: an integer from 1 to 3 is required", w);
        d->aal = (int)json_integer_value(aal);
    } else if (aal) {
        return fail(err, errlen, "%s/aal: only a step_up rule has one", w);
    }
    const json_t *when = json_object_get(r, "when");
    if (!when) {
        if (d->effect != EFFECT_STEP_UP)
            return fail(err, errlen, "%s/when: a CEL expression is required", w);
        return NOVA_OK;
    }
    if (!json_is_string(when) || json_string_length(when) == 0 ||
        json_string_length(when) > CEL_MAX_LEN)
        return fail(err, errlen, "%s/when: a CEL expression of 1 to %d bytes", w, CEL_MAX_LEN);
    d->when = nova_arena_strdup(&b->arena, json_string_value(when));
    if (!d->when)
        return NOVA_NOMEM;
    nova_policy_error_t perr;
    if (nova_cel_compile(d->when, strlen(d->when), &d->program, &perr) != NOVA_OK)
        return fail(err, errlen, "%s/when: %d:%d: %s", w, perr.line, perr.column, perr.message);
    ident_check_t ic = {0};
    cel_idents(d->program, check_ident, &ic);
    if (ic.bad)
        return fail(err, errlen,
                    "%s/when: '%s' is not an input (subject, resource, context, action, purpose, "
                    "tenant)",
                    w, ic.bad);
    return NOVA_OK;
}

nova_status nova_policy_bundle_parse(const json_t *doc, nova_policy_bundle_t **out, char *err,
                                     size_t errlen)
{
    static const char *const members[] = {
        "store_id", "authorization_model_id", "actions", "purposes", "rules", "http", NULL};
    *out = NULL;
    if (!json_is_object(doc))
        return fail(err, errlen, "/: a JSON object is required");
    nova_status st = only(doc, members, "", err, errlen);
    if (st)
        return st;
    nova_policy_bundle_t *b = calloc(1, sizeof(*b));
    if (!b)
        return NOVA_NOMEM;
    nova_arena_init(&b->arena, 4096);
    const char *sid = json_string_value(json_object_get(doc, "store_id"));
    const char *mid = json_string_value(json_object_get(doc, "authorization_model_id"));
    const json_t *rules = json_object_get(doc, "rules");
    if (!ulid_like(sid)) {
        st = fail(err, errlen, "/store_id: the ULID of an OpenFGA store is required");
    } else if (!ulid_like(mid)) {
        st = fail(err, errlen, "/authorization_model_id: the ULID of a model is required");
    } else if ((b->store_id = nova_arena_strdup(&b->arena, sid)) == NULL ||
               (b->model_id = nova_arena_strdup(&b->arena, mid)) == NULL) {
        st = NOVA_NOMEM;
    } else if ((st = parse_actions(b, json_object_get(doc, "actions"), err, errlen)) ||
               (st = parse_purposes(b, json_object_get(doc, "purposes"), err, errlen)) ||
               (st = parse_http(b, json_object_get(doc, "http"), err, errlen))) {
        /* err written */
    } else if (rules && (!json_is_array(rules) || json_array_size(rules) > MAX_RULES)) {
        st = fail(err, errlen, "/rules: an array of at most %d rules", MAX_RULES);
    } else if (rules && json_array_size(rules)) {
        b->rules = nova_arena_alloc(&b->arena, json_array_size(rules) * sizeof(*b->rules));
        memset(b->rules, 0, b->rules ? json_array_size(rules) * sizeof(*b->rules) : 0);
        st = b->rules ? NOVA_OK : NOVA_NOMEM;
        for (size_t i = 0; st == NOVA_OK && i < json_array_size(rules); i++) {
            st = parse_rule(b, json_array_get(rules, i), i, err, errlen);
            b->nrules = i + 1; /* so free releases a half-built rule's program */
        }
    }
    if (st) {
        nova_policy_bundle_free(b);
        return st;
    }
    *out = b;
    return NOVA_OK;
}

nova_status nova_policy_bundle_bind(const nova_policy_bundle_t *b, const nova_policy_model_t *m,
                                    char *err, size_t errlen)
{
    for (size_t i = 0; i < b->nactions; i++) {
        const action_def_t *a = &b->actions[i];
        bool any = false;
        for (size_t t = 0; t < m->ntypes; t++) {
            const pol_type_t *ty = &m->types[t];
            bool listed = a->types.n == 0 || has(&a->types, ty->name);
            if (!listed)
                continue;
            bool defined = pol_relation_find(ty, a->relation, strlen(a->relation)) != NULL;
            if (a->types.n && !defined)
                return fail(err, errlen,
                            "/actions/%s/relation: type '%s' has no relation '%s' in the model",
                            a->name, ty->name, a->relation);
            any = any || defined;
        }
        for (size_t t = 0; t < a->types.n; t++)
            if (!pol_type_find(m, a->types.v[t], strlen(a->types.v[t])))
                return fail(err, errlen,
                            "/actions/%s/resource_types/%zu: type '%s' is not in "
                            "the model",
                            a->name, t, a->types.v[t]);
        if (!any)
            return fail(err, errlen, "/actions/%s/relation: no type of the model has '%s'", a->name,
                        a->relation);
    }
    for (size_t i = 0; i < b->npurposes; i++)
        for (size_t t = 0; t < b->purposes[i].types.n; t++) {
            const char *ty = b->purposes[i].types.v[t];
            if (!pol_type_find(m, ty, strlen(ty)))
                return fail(err, errlen,
                            "/purposes/%s/resource_types/%zu: type '%s' is not in the model",
                            b->purposes[i].name, t, ty);
        }
    return NOVA_OK;
}

const char *nova_policy_bundle_store_id(const nova_policy_bundle_t *b)
{
    return b->store_id;
}

const char *nova_policy_bundle_model_id(const nova_policy_bundle_t *b)
{
    return b->model_id;
}

const char *nova_policy_bundle_subject_type(const nova_policy_bundle_t *b)
{
    return b->subject_type;
}

const char *nova_policy_bundle_user_subject_type(const nova_policy_bundle_t *b)
{
    return b->user_subject_type;
}

/* One segment of a route pattern against one of the path (both without '/'). */
static bool seg_match(const char *pat, size_t pn, const char *seg, size_t sn, bool *is_id)
{
    *is_id = false;
    if (pn >= 2 && pat[0] == '{' && pat[pn - 1] == '}') {
        *is_id = pn == 4 && memcmp(pat, "{id}", 4) == 0;
        return sn > 0;
    }
    return pn == sn && memcmp(pat, seg, pn) == 0;
}

nova_status nova_policy_bundle_route(const nova_policy_bundle_t *b, const char *method,
                                     const char *path, nova_arena_t *a, const char **action,
                                     const char **resource_type, const char **resource_id)
{
    for (size_t i = 0; i < b->nroutes; i++) {
        const route_def_t *r = &b->routes[i];
        if (strcmp(r->method, method) != 0 &&
            !(strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
            continue;
        const char *p = r->path, *q = path, *id = NULL, *last = NULL;
        size_t idn = 0, lastn = 0;
        bool ok = true;
        while (ok && *p == '/' && *q == '/') {
            const char *pe = strchr(p + 1, '/'), *qe = strchr(q + 1, '/');
            size_t pn = pe ? (size_t)(pe - p - 1) : strlen(p + 1);
            size_t qn = qe ? (size_t)(qe - q - 1) : strlen(q + 1);
            bool is_id;
            ok = seg_match(p + 1, pn, q + 1, qn, &is_id);
            if (is_id) {
                id = q + 1;
                idn = qn;
            }
            last = q + 1;
            lastn = qn;
            p += pn + 1;
            q += qn + 1;
        }
        if (!ok || *p || *q)
            continue;
        *action = r->action;
        *resource_type = r->resource_type;
        *resource_id = id ? nova_arena_strndup(a, id, idn) : nova_arena_strndup(a, last, lastn);
        return *resource_id ? NOVA_OK : NOVA_NOMEM;
    }
    return NOVA_NOT_FOUND;
}

void nova_policy_bundle_free(nova_policy_bundle_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nrules; i++)
        nova_cel_free(b->rules[i].program);
    nova_arena_free(&b->arena);
    free(b);
}

/* ---- the input document ---- */

static nova_status input_string(const json_t *o, const char *key, const char *where, bool required,
                                char *err, size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    if (!v && !required)
        return NOVA_OK;
    if (!json_is_string(v) || !valid_name(json_string_value(v)) ||
        strchr(json_string_value(v), '#') || strchr(json_string_value(v), ':'))
        return fail(err, errlen,
                    "%s/%s: a string of 1 to %d printable characters without "
                    "':' or '#' is required",
                    where, key, NAME_MAX_LEN);
    return NOVA_OK;
}

nova_status nova_policy_input_validate(const json_t *in, char *err, size_t errlen)
{
    static const char *const top[] = {"tenant",  "subject", "resource", "action",
                                      "purpose", "context", NULL};
    static const char *const tenant_m[] = {"id", "security", NULL};
    static const char *const subject_m[] = {"type", "id", "aal", "roles", "attrs", NULL};
    static const char *const resource_m[] = {"type", "id", "tenant_id", "attrs", NULL};
    nova_status st;
    if (!json_is_object(in))
        return fail(err, errlen, "/: a JSON object is required");
    if ((st = only(in, top, "", err, errlen)))
        return st;
    const json_t *t = json_object_get(in, "tenant"), *s = json_object_get(in, "subject"),
                 *r = json_object_get(in, "resource");
    if (!json_is_object(t))
        return fail(err, errlen, "/tenant: an object with id is required");
    if ((st = only(t, tenant_m, "/tenant", err, errlen)) ||
        (st = input_string(t, "id", "/tenant", true, err, errlen)))
        return st;
    if (json_object_get(t, "security") && !json_is_object(json_object_get(t, "security")))
        return fail(err, errlen, "/tenant/security: an object");
    if (!json_is_object(s))
        return fail(err, errlen, "/subject: an object with type and id is required");
    if ((st = only(s, subject_m, "/subject", err, errlen)) ||
        (st = input_string(s, "type", "/subject", true, err, errlen)) ||
        (st = input_string(s, "id", "/subject", true, err, errlen)))
        return st;
    const json_t *aal = json_object_get(s, "aal");
    if (aal &&
        (!json_is_integer(aal) || json_integer_value(aal) < 0 || json_integer_value(aal) > 3))
        return fail(err, errlen, "/subject/aal: an integer from 0 to 3");
    const json_t *roles = json_object_get(s, "roles");
    if (roles) {
        if (!json_is_array(roles) || json_array_size(roles) > MAX_LIST)
            return fail(err, errlen, "/subject/roles: an array of at most %d strings", MAX_LIST);
        for (size_t i = 0; i < json_array_size(roles); i++)
            if (!json_is_string(json_array_get(roles, i)))
                return fail(err, errlen, "/subject/roles/%zu: a string", i);
    }
    if (json_object_get(s, "attrs") && !json_is_object(json_object_get(s, "attrs")))
        return fail(err, errlen, "/subject/attrs: an object");
    if (!json_is_object(r))
        return fail(err, errlen, "/resource: an object with type, id and tenant_id is required");
    if ((st = only(r, resource_m, "/resource", err, errlen)) ||
        (st = input_string(r, "type", "/resource", true, err, errlen)) ||
        (st = input_string(r, "id", "/resource", true, err, errlen)) ||
        (st = input_string(r, "tenant_id", "/resource", true, err, errlen)))
        return st;
    if (json_object_get(r, "attrs") && !json_is_object(json_object_get(r, "attrs")))
        return fail(err, errlen, "/resource/attrs: an object");
    if ((st = input_string(in, "action", "", true, err, errlen)) ||
        (st = input_string(in, "purpose", "", false, err, errlen)))
        return st;
    if (json_object_get(in, "context") && !json_is_object(json_object_get(in, "context")))
        return fail(err, errlen, "/context: an object");
    return NOVA_OK;
}

/* ---- deciding ---- */

const char *nova_policy_answer_name(nova_policy_answer a)
{
    static const char *const names[] = {"deny", "allow", "step_up_required"};
    return (unsigned)a < 3 ? names[a] : "deny";
}

typedef struct decide {
    nova_policy_decision_t *out;
    json_t *stages;
    json_t *norm; /* the input with empty attrs and context filled in */
    nova_arena_t arena;
} decide_t;

/* Records a stage in explain; o (consumed) gets stage and result. */
static void stage(decide_t *d, const char *name, const char *result, json_t *o)
{
    if (!o)
        o = json_object();
    json_object_set_new(o, "stage", json_string(name));
    json_object_set_new(o, "result", json_string(result));
    json_array_append_new(d->stages, o);
}

static void deny(decide_t *d, const char *stage_name, const char *reason)
{
    d->out->answer = NOVA_POLICY_DENY;
    d->out->stage = stage_name;
    d->out->reason = reason;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Evaluates a rule's expression over the input: 1 true, 0 false, -1 error or missing input
 * (why says which). */
static int eval_when(decide_t *d, const rule_def_t *r, const json_t *in, const char **why)
{
    cel_binding_t b[6];
    size_t nb = 0;
    for (size_t i = 0; CEL_INPUTS[i]; i++) {
        const json_t *v = json_object_get(in, CEL_INPUTS[i]);
        b[nb].name = CEL_INPUTS[i];
        if (v) {
            b[nb].value = cel_from_json(v, NULL, &d->arena);
        } else {
            b[nb].value = (cel_value_t){.kind = CEL_UNKNOWN};
            b[nb].value.s.p = CEL_INPUTS[i];
            b[nb].value.s.n = strlen(CEL_INPUTS[i]);
        }
        nb++;
    }
    cel_value_t v = cel_eval(r->program, b, nb, &d->arena);
    if (v.kind == CEL_BOOL)
        return v.b ? 1 : 0;
    if (v.kind == CEL_UNKNOWN)
        *why = nova_arena_printf(&d->arena, "input '%.*s' is missing", (int)v.s.n, v.s.p);
    else if (v.kind == CEL_ERROR)
        *why = nova_arena_printf(&d->arena, "%.*s", (int)v.s.n, v.s.p);
    else
        *why = "the expression is not a bool";
    return -1;
}

/* A shallow copy of in whose subject and resource have attrs and which has a context (empty
 * objects where the input has none); owned by d. */
static const json_t *normalized(decide_t *d, const json_t *in)
{
    json_t *n = json_copy((json_t *)in);
    if (!n)
        return in;
    static const char *const parts[] = {"subject", "resource"};
    for (int i = 0; i < 2; i++) {
        json_t *p = json_object_get(n, parts[i]);
        if (json_is_object(p) && !json_object_get(p, "attrs")) {
            json_t *c = json_copy(p);
            json_object_set_new(c, "attrs", json_object());
            json_object_set_new(n, parts[i], c);
        }
    }
    if (!json_object_get(n, "context"))
        json_object_set_new(n, "context", json_object());
    d->norm = n;
    return n;
}

static void decide(decide_t *d, const nova_policy_bundle_t *b, const nova_policy_model_t *m,
                   const nova_policy_index_t *ix, const json_t *in, const char *caller_tenant)
{
    const json_t *tenant = json_object_get(in, "tenant"), *subj = json_object_get(in, "subject"),
                 *res = json_object_get(in, "resource");
    const char *tid = str(tenant, "id"), *action = str(in, "action");
    const char *purpose = str(in, "purpose");
    const char *rtype = str(res, "type"), *rid = str(res, "id");
    /* 1. same tenant: the caller's, the input's and the resource's */
    if (!tid || !caller_tenant || strcmp(tid, caller_tenant) != 0 || !str(res, "tenant_id") ||
        strcmp(str(res, "tenant_id"), tid) != 0) {
        stage(d, "same_tenant", "fail",
              json_pack("{s:s}", "why",
                        "the resource, the input and the caller name different "
                        "tenants"));
        deny(d, "same_tenant", "tenant_mismatch");
        return;
    }
    stage(d, "same_tenant", "pass", NULL);
    if (!b || !m) {
        stage(d, "policy", "fail", json_pack("{s:s}", "why", b ? "model missing" : "no policy"));
        deny(d, "error", b ? "model_missing" : "no_policy");
        return;
    }
    /* 2. the action map */
    const action_def_t *a = action ? find_action(b, action) : NULL;
    if (!a || (a->types.n && !has(&a->types, rtype))) {
        stage(d, "action", "fail",
              json_pack("{s:s}", "why",
                        a ? "the action does not apply to this resource type"
                          : "the action is not in the policy's action map"));
        deny(d, "action", a ? "action_not_for_type" : "unknown_action");
        return;
    }
    stage(d, "action", "pass", json_pack("{s:s}", "relation", a->relation));
    /* 3. purposes */
    if (b->purposes_on) {
        const purpose_def_t *p = NULL;
        for (size_t i = 0; purpose && i < b->npurposes && !p; i++)
            if (strcmp(b->purposes[i].name, purpose) == 0)
                p = &b->purposes[i];
        const char *why = NULL, *reason = NULL;
        if (!purpose) {
            why = "the policy requires a purpose";
            reason = "purpose_missing";
        } else if (!p) {
            why = "the purpose is not registered";
            reason = "purpose_unknown";
        } else if (!has(&p->types, rtype) || !has(&p->actions, action)) {
            why = "the purpose does not cover this resource type and action";
            reason = "purpose_not_allowed";
        }
        if (why) {
            stage(d, "purpose", "fail", json_pack("{s:s}", "why", why));
            deny(d, "purpose", reason);
            return;
        }
        stage(d, "purpose", "pass", json_pack("{s:s}", "purpose", purpose));
    }
    /* 4. the relation */
    const char *object = nova_arena_printf(&d->arena, "%s:%s", rtype, rid);
    const char *user = nova_arena_printf(&d->arena, "%s:%s", str(subj, "type"), str(subj, "id"));
    const json_t *ctx = json_object_get(in, "context");
    nova_policy_query_t q = {.model = m, .index = ix, .context = ctx};
    bool allowed = false;
    json_t *path = NULL;
    nova_policy_error_t perr;
    nova_status st =
        nova_policy_check_explain(&q, object, a->relation, user, &allowed, &path, &perr);
    if (st != NOVA_OK) {
        bool missing = strstr(perr.message, "missing context") != NULL;
        stage(d, "relation", "error",
              json_pack("{s:s, s:s, s:s, s:s}", "object", object, "relation", a->relation, "user",
                        user, "why", st == NOVA_NOMEM ? "out of memory" : perr.message));
        deny(d, "relation", missing ? "condition_missing_context" : "check_error");
        return;
    }
    if (!allowed) {
        json_decref(path);
        stage(d, "relation", "fail",
              json_pack("{s:s, s:s, s:s, s:s}", "object", object, "relation", a->relation, "user",
                        user, "why", "no tuple path from the user to the object grants it"));
        deny(d, "relation", "no_relation");
        return;
    }
    stage(d, "relation", "pass",
          json_pack("{s:s, s:s, s:s, s:o}", "object", object, "relation", a->relation, "user", user,
                    "path", path));
    /* 5. ABAC rules: require and deny. Rules see subject.attrs, resource.attrs and context
     * as empty maps when the input has none, so has(resource.attrs.x) is false, not an error. */
    in = normalized(d, in);
    for (size_t i = 0; i < b->nrules; i++) {
        const rule_def_t *r = &b->rules[i];
        if (r->effect == EFFECT_STEP_UP || (r->actions.n && !has(&r->actions, action)))
            continue;
        const char *why = NULL;
        int v = eval_when(d, r, in, &why);
        bool refuses = v < 0 || (r->effect == EFFECT_REQUIRE ? v == 0 : v == 1);
        json_t *o = json_pack("{s:s, s:s}", "rule", r->id, "when", r->when);
        if (v < 0)
            json_object_set_new(o, "why", json_string(why));
        stage(d, "rule", refuses ? (v < 0 ? "error" : "fail") : "pass", o);
        if (refuses) {
            deny(d, "rule",
                 v < 0                         ? "rule_error"
                 : r->effect == EFFECT_REQUIRE ? "rule_not_met"
                                               : "rule_denied");
            json_object_set_new(d->out->explain, "rule", json_string(r->id));
            return;
        }
    }
    /* 6. step-up: the highest AAL a matching rule asks for */
    int need = 0;
    const char *need_rule = NULL;
    for (size_t i = 0; i < b->nrules; i++) {
        const rule_def_t *r = &b->rules[i];
        if (r->effect != EFFECT_STEP_UP || (r->actions.n && !has(&r->actions, action)))
            continue;
        const char *why = NULL;
        int v = r->program ? eval_when(d, r, in, &why) : 1;
        json_t *o = json_pack("{s:s, s:i}", "rule", r->id, "aal", r->aal);
        if (r->when)
            json_object_set_new(o, "when", json_string(r->when));
        if (v < 0) {
            json_object_set_new(o, "why", json_string(why));
            stage(d, "step_up", "error", o);
            deny(d, "step_up", "rule_error");
            json_object_set_new(d->out->explain, "rule", json_string(r->id));
            return;
        }
        stage(d, "step_up", v ? "applies" : "pass", o);
        if (v && r->aal > need) {
            need = r->aal;
            need_rule = r->id;
        }
    }
    const json_t *aal = json_object_get(subj, "aal");
    int have = json_is_integer(aal) ? (int)json_integer_value(aal) : 0;
    if (need > have) {
        d->out->answer = NOVA_POLICY_STEP_UP;
        d->out->required_aal = need;
        d->out->stage = "step_up";
        d->out->reason = "aal_too_low";
        json_object_set_new(d->out->explain, "rule", json_string(need_rule));
        return;
    }
    d->out->answer = NOVA_POLICY_ALLOW;
    d->out->stage = "allow";
    d->out->reason = "allowed";
}

void nova_policy_decide(const nova_policy_bundle_t *b, const nova_policy_model_t *m,
                        const nova_policy_index_t *ix, const json_t *input,
                        const char *caller_tenant, nova_policy_decision_t *out)
{
    memset(out, 0, sizeof(*out));
    out->answer = NOVA_POLICY_DENY;
    out->stage = "error";
    out->reason = "internal_error";
    decide_t d = {.out = out, .stages = json_array()};
    out->explain = json_object();
    nova_arena_init(&d.arena, 4096);
    if (d.stages && out->explain)
        decide(&d, b, m, ix, input, caller_tenant);
    if (!d.stages || !out->explain) {
        out->answer = NOVA_POLICY_DENY;
        out->stage = "error";
        out->reason = "out_of_memory";
    }
    if (out->explain) {
        json_object_set_new(out->explain, "decided_by", json_string(out->stage));
        json_object_set_new(out->explain, "reason", json_string(out->reason));
        if (b) {
            json_object_set_new(out->explain, "store_id", json_string(b->store_id));
            json_object_set_new(out->explain, "authorization_model_id", json_string(b->model_id));
        }
        json_object_set(out->explain, "stages", d.stages ? d.stages : json_null());
    }
    json_decref(d.stages);
    json_decref(d.norm);
    nova_arena_free(&d.arena);
}
