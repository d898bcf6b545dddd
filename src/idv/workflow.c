/*
 * workflow.c: validation of verification workflows (nova/workflow.h). What each check may be
 * configured with is a table (one row per parameter), so adding a check or a threshold is one
 * line here and one in the header's enum.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nova/json.h"
#include "nova/mrz.h"
#include "nova/policy.h"
#include "nova/workflow.h"

typedef enum {
    P_NUM,
    P_INT,
    P_BOOL,
    P_ENUM,
    P_HTTPS,
    P_COUNTRIES,
    P_ISSUERS,
    P_DOCTYPES,
    P_ID
} param_type;

typedef struct param {
    nova_check_kind check;
    const char *name;
    param_type type;
    double min, max;     /* P_NUM, P_INT */
    const char *choices; /* P_ENUM: space-separated */
    bool required;
} param;

static const param params[] = {
    {NOVA_CHECK_OCR, "min_confidence", P_NUM, 0, 1, NULL, false},
    {NOVA_CHECK_MRZ, "require_valid", P_BOOL, 0, 0, NULL, false},
    {NOVA_CHECK_DOCUMENT_AUTHENTICITY, "min_score", P_NUM, 0, 1, NULL, false},
    {NOVA_CHECK_DOCUMENT_AUTHENTICITY, "min_sharpness", P_NUM, 0, 10000, NULL, false},
    {NOVA_CHECK_DOCUMENT_AUTHENTICITY, "duplicate_document_penalty", P_NUM, 0, 1, NULL, false},
    {NOVA_CHECK_DOCUMENT_AUTHENTICITY, "issuers", P_ISSUERS, 0, 0, NULL, false},
    {NOVA_CHECK_DOCUMENT_AUTHENTICITY, "document_types", P_DOCTYPES, 0, 0, "P I A C V", false},
    {NOVA_CHECK_FACE_MATCH, "match_max", P_NUM, 0, 2, NULL, false},
    {NOVA_CHECK_FACE_MATCH, "review_max", P_NUM, 0, 2, NULL, false},
    {NOVA_CHECK_LIVENESS, "mode", P_ENUM, 0, 0, "active passive", false},
    {NOVA_CHECK_LIVENESS, "min_score", P_NUM, 0, 1, NULL, false},
    {NOVA_CHECK_AGE, "min_age", P_INT, 0, 130, NULL, false},
    {NOVA_CHECK_AGE, "max_age", P_INT, 0, 150, NULL, false},
    {NOVA_CHECK_ADDRESS, "countries", P_COUNTRIES, 0, 0, NULL, false},
    {NOVA_CHECK_ADDRESS, "require_match", P_BOOL, 0, 0, NULL, false},
    {NOVA_CHECK_ADDRESS, "require_proof_of_address", P_BOOL, 0, 0, NULL, false},
    {NOVA_CHECK_CUSTOM_WEBHOOK, "url", P_HTTPS, 0, 0, NULL, true},
    {NOVA_CHECK_CUSTOM_WEBHOOK, "timeout_ms", P_INT, 100, 30000, NULL, false},
    {NOVA_CHECK_CUSTOM_WEBHOOK, "endpoint_id", P_ID, 0, 0, NULL, false},
};

static const char *const check_names[NOVA_CHECK_N] = {
    "ocr", "mrz",     "document_authenticity", "face_match", "liveness",
    "age", "address", "custom_webhook"};

const char *nova_check_name(nova_check_kind k)
{
    return k < NOVA_CHECK_N ? check_names[k] : "?";
}

typedef struct ctx {
    char *field, *why;
    size_t fieldlen, whylen;
} ctx;

__attribute__((format(printf, 3, 4))) static nova_status refuse(ctx *c, const char *why,
                                                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->field, c->fieldlen, fmt, ap);
    va_end(ap);
    snprintf(c->why, c->whylen, "%s", why);
    return NOVA_INVALID;
}

static bool number(json_t *v, double *out)
{
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return isfinite(*out);
}

static bool choice_ok(const char *choices, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = choices; *p;) {
        size_t l = strcspn(p, " ");
        if (l == n && memcmp(p, s, n) == 0)
            return true;
        p += l;
        while (*p == ' ')
            p++;
    }
    return false;
}

static nova_status check_param(ctx *c, size_t i, const param *p, json_t *v)
{
    double d;
    const char *s = json_string_value(v);
    switch (p->type) {
    case P_NUM:
    case P_INT:
        if (!number(v, &d) || (p->type == P_INT && !json_is_integer(v)) || d < p->min ||
            d > p->max) {
            char why[96];
            snprintf(why, sizeof(why), "%s in [%g, %g]",
                     p->type == P_INT ? "an integer" : "a number", p->min, p->max);
            return refuse(c, why, "/steps/%zu/config/%s", i, p->name);
        }
        return NOVA_OK;
    case P_BOOL:
        return json_is_boolean(v) ? NOVA_OK
                                  : refuse(c, "true or false", "/steps/%zu/config/%s", i, p->name);
    case P_ENUM:
        return s && choice_ok(p->choices, s)
                   ? NOVA_OK
                   : refuse(c, p->choices, "/steps/%zu/config/%s", i, p->name);
    case P_HTTPS:
        if (!s || strncmp(s, "https://", 8) != 0 || strlen(s) > 2048 || strlen(s) < 9 ||
            strpbrk(s, " \t\r\n\"<>\\^`{|}"))
            return refuse(c, "an https:// URL (the webhook is called over mTLS)",
                          "/steps/%zu/config/%s", i, p->name);
        return NOVA_OK;
    case P_ID:
        /* An id of the tenant's (a webhook endpoint's "whe_..."): checked when the step runs. */
        return s && strlen(s) >= 4 && strlen(s) <= 64 &&
                       strspn(s,
                              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                           strlen(s)
                   ? NOVA_OK
                   : refuse(c, "the id of one of the tenant's webhook endpoints",
                            "/steps/%zu/config/%s", i, p->name);
    case P_ISSUERS: {
        /* The issuing states accepted, as the MRZ prints them (ISO 3166-1 alpha-3 or ICAO's
         * own codes: nova_mrz_country_known). */
        size_t n = json_array_size(v);
        if (!json_is_array(v) || n == 0 || n > 300)
            return refuse(c, "a list of 1-300 issuing-state codes as the MRZ prints them (KEN)",
                          "/steps/%zu/config/%s", i, p->name);
        for (size_t k = 0; k < n; k++) {
            const char *cc = json_string_value(json_array_get(v, k));
            if (!cc || !nova_mrz_country_known(cc))
                return refuse(c, "an ISO 3166-1 alpha-3 or ICAO code in capitals",
                              "/steps/%zu/config/%s/%zu", i, p->name, k);
        }
        return NOVA_OK;
    }
    case P_DOCTYPES: {
        /* Document kinds by the first letter of the MRZ document code. */
        size_t n = json_array_size(v);
        if (!json_is_array(v) || n == 0 || n > 5)
            return refuse(c, "a list of document kinds: P, I, A, C, V", "/steps/%zu/config/%s", i,
                          p->name);
        for (size_t k = 0; k < n; k++) {
            const char *t = json_string_value(json_array_get(v, k));
            if (!t || strlen(t) != 1 || !choice_ok(p->choices, t))
                return refuse(c, "one of P, I, A, C, V", "/steps/%zu/config/%s/%zu", i, p->name, k);
        }
        return NOVA_OK;
    }
    case P_COUNTRIES: {
        size_t n = json_array_size(v);
        if (!json_is_array(v) || n == 0 || n > 250)
            return refuse(c, "a list of 1-250 ISO 3166-1 alpha-2 codes", "/steps/%zu/config/%s", i,
                          p->name);
        for (size_t k = 0; k < n; k++) {
            const char *cc = json_string_value(json_array_get(v, k));
            if (!cc || strlen(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z')
                return refuse(c, "an ISO 3166-1 alpha-2 code in capitals",
                              "/steps/%zu/config/%s/%zu", i, p->name, k);
        }
        return NOVA_OK;
    }
    }
    return NOVA_INTERNAL;
}

static nova_status check_config(ctx *c, size_t i, nova_check_kind kind, json_t *config)
{
    if (config && !json_is_object(config))
        return refuse(c, "an object", "/steps/%zu/config", i);
    const char *key;
    json_t *v;
    json_object_foreach(config, key, v)
    {
        const param *found = NULL;
        for (size_t k = 0; k < sizeof(params) / sizeof(*params) && !found; k++)
            if (params[k].check == kind && strcmp(params[k].name, key) == 0)
                found = &params[k];
        if (!found)
            return refuse(c, "not a parameter of this check", "/steps/%zu/config/%s", i, key);
        nova_status st = check_param(c, i, found, v);
        if (st)
            return st;
    }
    for (size_t k = 0; k < sizeof(params) / sizeof(*params); k++)
        if (params[k].check == kind && params[k].required &&
            json_object_get(config, params[k].name) == NULL)
            return refuse(c, "required by this check", "/steps/%zu/config/%s", i, params[k].name);
    /* Thresholds that come in pairs must be in order. */
    double a, b;
    if (number(json_object_get(config, "match_max"), &a) &&
        number(json_object_get(config, "review_max"), &b) && b < a)
        return refuse(c, "review_max must not be below match_max", "/steps/%zu/config/review_max",
                      i);
    if (number(json_object_get(config, "min_age"), &a) &&
        number(json_object_get(config, "max_age"), &b) && b < a)
        return refuse(c, "max_age must not be below min_age", "/steps/%zu/config/max_age", i);
    return NOVA_OK;
}

static nova_status check_step(ctx *c, nova_workflow_def_t *w, size_t i, json_t *s)
{
    static const char *const members[] = {"id",      "check",      "config", "required",
                                          "on_fail", "depends_on", NULL};
    static const char *const fails[] = {"reject", "review", "continue"};
    nova_workflow_step_t *st = &w->steps[i];
    char err[128];
    if (!json_is_object(s))
        return refuse(c, "a step object", "/steps/%zu", i);
    if (nova_json_only_members(s, members, err, sizeof(err)) != NOVA_OK)
        return refuse(c, err, "/steps/%zu", i);
    const char *check = json_string_value(json_object_get(s, "check"));
    st->check = NOVA_CHECK_N;
    for (int k = 0; check && k < NOVA_CHECK_N; k++)
        if (strcmp(check, check_names[k]) == 0)
            st->check = (nova_check_kind)k;
    if (st->check == NOVA_CHECK_N)
        return refuse(c,
                      "one of ocr, mrz, document_authenticity, face_match, liveness, age, "
                      "address, custom_webhook",
                      "/steps/%zu/check", i);
    if (i == 0 && st->check != NOVA_CHECK_OCR)
        return refuse(c, "OCR is mandatory and comes first", "/steps/0/check");
    if (i > 0 && st->check == NOVA_CHECK_OCR)
        return refuse(c, "OCR runs once, as the first step", "/steps/%zu/check", i);
    json_t *id = json_object_get(s, "id");
    const char *ids = id ? json_string_value(id) : check_names[st->check];
    size_t idl = ids ? strlen(ids) : 0;
    if (!ids || idl == 0 || idl > 32 || strspn(ids, "abcdefghijklmnopqrstuvwxyz0123456789_") != idl)
        return refuse(c, "1-32 of a-z, 0-9 and _", "/steps/%zu/id", i);
    memcpy(st->id, ids, idl + 1);
    for (size_t k = 0; k < i; k++)
        if (strcmp(w->steps[k].id, st->id) == 0)
            return refuse(
                c, id ? "another step has this id" : "another step has this check: give one an id",
                id ? "/steps/%zu/id" : "/steps/%zu/check", i);
    json_t *req = json_object_get(s, "required");
    if (req && !json_is_boolean(req))
        return refuse(c, "true or false", "/steps/%zu/required", i);
    st->required = req ? json_is_true(req) : true;
    if (i == 0 && !st->required)
        return refuse(c, "OCR is mandatory", "/steps/0/required");
    json_t *of = json_object_get(s, "on_fail");
    st->on_fail = NOVA_ON_FAIL_REJECT;
    if (of) {
        const char *ofs = json_string_value(of);
        int found = -1;
        for (int k = 0; ofs && k < 3; k++)
            if (strcmp(ofs, fails[k]) == 0)
                found = k;
        if (found < 0)
            return refuse(c, "reject, review or continue", "/steps/%zu/on_fail", i);
        st->on_fail = (nova_on_fail)found;
    }
    json_t *deps = json_object_get(s, "depends_on");
    if (deps && (!json_is_array(deps) || json_array_size(deps) > NOVA_WORKFLOW_MAX_DEPS))
        return refuse(c, "a list of at most 8 step ids", "/steps/%zu/depends_on", i);
    st->ndeps = 0;
    for (size_t k = 0; k < json_array_size(deps); k++) {
        const char *d = json_string_value(json_array_get(deps, k));
        size_t at = SIZE_MAX;
        for (size_t j = 0; d && j < w->nsteps; j++)
            if (strcmp(w->steps[j].id, d) == 0)
                at = j;
        if (at == SIZE_MAX)
            return refuse(c, "no step has this id", "/steps/%zu/depends_on/%zu", i, k);
        if (at >= i)
            return refuse(c, "a step can only depend on an earlier one",
                          "/steps/%zu/depends_on/%zu", i, k);
        st->deps[st->ndeps++] = at;
    }
    return check_config(c, i, st->check, json_object_get(s, "config"));
}

static nova_status check_rules(ctx *c, nova_workflow_def_t *w, json_t *rules)
{
    if (rules && (!json_is_array(rules) || json_array_size(rules) > 16))
        return refuse(c, "a list of at most 16 rules", "/review_rules");
    for (size_t i = 0; i < json_array_size(rules); i++) {
        json_t *r = json_array_get(rules, i), *v;
        if (!json_is_object(r) || json_object_size(r) != 1)
            return refuse(c,
                          "one of {\"any_step\": \"review\"}, {\"score_between\": [lo, hi]}, "
                          "{\"when\": CEL}",
                          "/review_rules/%zu", i);
        if ((v = json_object_get(r, "any_step")) != NULL) {
            if (!json_is_string(v) || strcmp(json_string_value(v), "review") != 0)
                return refuse(c, "\"review\"", "/review_rules/%zu/any_step", i);
        } else if ((v = json_object_get(r, "score_between")) != NULL) {
            double lo, hi;
            if (json_array_size(v) != 2 || !number(json_array_get(v, 0), &lo) ||
                !number(json_array_get(v, 1), &hi) || lo < 0 || hi > 1 || lo > hi)
                return refuse(c, "[lo, hi] with 0 <= lo <= hi <= 1",
                              "/review_rules/%zu/score_between", i);
        } else if ((v = json_object_get(r, "when")) != NULL) {
            const char *e = json_string_value(v);
            nova_cel_program_t *p = NULL;
            nova_policy_error_t err;
            if (!e || strlen(e) > 1024 || nova_cel_compile(e, strlen(e), &p, &err) != NOVA_OK)
                return refuse(c, "a CEL expression over the step outputs (steps.<id>.<field>)",
                              "/review_rules/%zu/when", i);
            nova_cel_free(p);
        } else {
            return refuse(c, "any_step, score_between or when", "/review_rules/%zu", i);
        }
    }
    w->nreview_rules = json_array_size(rules);
    return NOVA_OK;
}

nova_status nova_workflow_validate(const char *json, size_t len, nova_workflow_def_t *out,
                                   char *field, size_t fieldlen, char *why, size_t whylen)
{
    static const char *const members[] = {"name", "steps", "review_rules", "decision", NULL};
    ctx c = {field, why, fieldlen, whylen};
    json_t *o = NULL;
    char err[128];
    nova_status st;
    memset(out, 0, sizeof(*out));
    if (nova_json_parse_body(json, len, members, &o, err, sizeof(err)) != NOVA_OK)
        return refuse(&c, err, "%s", "");
    const char *name = json_string_value(json_object_get(o, "name"));
    size_t nl = name ? strlen(name) : 0;
    json_t *steps = json_object_get(o, "steps"), *d = json_object_get(o, "decision");
    if (nl == 0 || nl > 64 ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._- ") != nl) {
        st = refuse(&c, "1-64 of letters, digits, space, . _ -", "/name");
        goto end;
    }
    memcpy(out->name, name, nl + 1);
    if (!json_is_array(steps) || json_array_size(steps) == 0 ||
        json_array_size(steps) > NOVA_WORKFLOW_MAX_STEPS) {
        st = refuse(&c, "a list of 1-16 steps, OCR first", "/steps");
        goto end;
    }
    for (size_t i = 0; i < json_array_size(steps); i++) {
        if ((st = check_step(&c, out, i, json_array_get(steps, i))) != NOVA_OK)
            goto end;
        out->nsteps = i + 1;
    }
    if ((st = check_rules(&c, out, json_object_get(o, "review_rules"))) != NOVA_OK)
        goto end;
    out->approve_at = 0.7;
    out->reject_below = 0.4;
    if (d) {
        static const char *const dm[] = {"approve_at", "reject_below", NULL};
        json_t *a = json_object_get(d, "approve_at"), *r = json_object_get(d, "reject_below");
        if (!json_is_object(d) || nova_json_only_members(d, dm, err, sizeof(err)) != NOVA_OK) {
            st = refuse(&c, "{\"approve_at\": x, \"reject_below\": y}", "/decision");
            goto end;
        }
        if (a && (!number(a, &out->approve_at) || out->approve_at < 0 || out->approve_at > 1)) {
            st = refuse(&c, "a score in [0, 1]", "/decision/approve_at");
            goto end;
        }
        if (r &&
            (!number(r, &out->reject_below) || out->reject_below < 0 || out->reject_below > 1)) {
            st = refuse(&c, "a score in [0, 1]", "/decision/reject_below");
            goto end;
        }
        if (out->reject_below > out->approve_at) {
            st = refuse(&c, "reject_below must not be above approve_at", "/decision/reject_below");
            goto end;
        }
    }
    st = NOVA_OK;
end:
    json_decref(o);
    return st;
}
