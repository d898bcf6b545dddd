/*
 * authz.c: the decision point over HTTP (issue 7 items 4, 5, 7, 10).
 *
 *   POST /v1/authz/decision                 (authz:decide) the seed's §4.3 input -> decision
 *   POST /v1/authz/simulate?policy_ref=V    (policy:read)  the same under version V, no effects
 *   POST /v1/authz/policies                 (policy:write) publish a bundle: next version, signed
 *   GET  /v1/authz/policies                 (policy:read)  versions and the lifecycle state
 *   GET  /v1/authz/policies/{version}       (policy:read)  one version, its signature checked
 *   POST /v1/authz/policies/{version}/promote (policy:write) make it decide
 *   POST /v1/authz/rollback                 (policy:write) back to the version before
 *   PUT  /v1/authz/shadow                   (policy:write) a candidate on a share of decisions
 *   GET  /v1/authz/shadow                   (policy:read)  the drift report
 *   POST /access/v1/evaluation(s)           (authz:decide) OpenID AuthZEN 1.0
 *   any  /ext-authz/...                     Envoy's ext_authz HTTP service (bearer of the
 *                                           original request)
 *
 * Bundles are verified before they are loaded: the SHA-256 of the stored text must be the
 * recorded digest and the platform key's signature over nova policy bundle v1|tenant|version|
 * digest must hold (nova_auth_platform_verify). A verified bundle is parsed once per process
 * and kept; the lifecycle state is re-read from the store once its copy is a second old (at
 * once after a change made through this process). Any failure on the way to a decision is a
 * deny with its reason; nothing here answers allow on an error.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"
#include "nova/audit.h"
#include "nova/crypto.h"
#include "nova/log.h"
#include "nova/policy.h"
#include "nova/policy_decision.h"
#include "nova/policy_store.h"

#define AUTHZ_BODY (64u * 1024u)
#define POLICY_BODY (256u * 1024u)
#define STATE_TTL_NS (1000ull * 1000ull * 1000ull)
#define EXT_AUTHZ_PREFIX "/ext-authz"
#define AUTHZEN_MAX_EVALUATIONS 64

/* ---- metrics ---- */

static const char *const STAGES[] = {"same_tenant", "action",  "purpose", "relation",
                                     "rule",        "step_up", "allow",   "error"};
#define NSTAGES (sizeof(STAGES) / sizeof(STAGES[0]))
static const char *const REASONS[] = {
    "allowed",         "tenant_mismatch",   "no_policy",
    "model_missing",   "unknown_action",    "action_not_for_type",
    "purpose_missing", "purpose_unknown",   "purpose_not_allowed",
    "no_relation",     "check_error",       "condition_missing_context",
    "rule_error",      "rule_not_met",      "rule_denied",
    "aal_too_low",     "policy_unverified", "store_unavailable",
    "internal_error",  "out_of_memory",     "no_route"};
#define NREASONS (sizeof(REASONS) / sizeof(REASONS[0]))
/* Decision latency buckets, seconds. */
static const double BUCKETS[] = {0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                 0.0025,  0.005,   0.01,   0.05,    0.1};
#define NBUCKETS (sizeof(BUCKETS) / sizeof(BUCKETS[0]))

static struct {
    _Atomic uint64_t answers[3];
    _Atomic uint64_t stages[NSTAGES];
    _Atomic uint64_t reasons[NREASONS];
    _Atomic uint64_t buckets[NBUCKETS + 1];
    _Atomic uint64_t latency_ns;
    _Atomic uint64_t count;
    _Atomic uint64_t shadow_evaluated, shadow_drift, shadow_uncounted;
    _Atomic uint64_t cache_hits, cache_misses;
    _Atomic uint64_t route_scope_denied;
} M;

static size_t index_of(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return n;
}

static void count_decision(const nova_policy_decision_t *d, uint64_t ns)
{
    atomic_fetch_add(&M.answers[d->answer], 1);
    size_t i = index_of(STAGES, NSTAGES, d->stage);
    atomic_fetch_add(&M.stages[i < NSTAGES ? i : NSTAGES - 1], 1);
    i = index_of(REASONS, NREASONS, d->reason);
    if (i < NREASONS)
        atomic_fetch_add(&M.reasons[i], 1);
    double s = (double)ns / 1e9;
    size_t b = 0;
    while (b < NBUCKETS && s > BUCKETS[b])
        b++;
    atomic_fetch_add(&M.buckets[b], 1);
    atomic_fetch_add(&M.latency_ns, ns);
    atomic_fetch_add(&M.count, 1);
}

/* ---- the per-process policy cache ---- */

typedef struct pol_ver {
    int64_t version;
    nova_policy_bundle_t *b;
    _Atomic int bound; /* 0 not yet bound to its model, 1 bound, -1 does not bind */
    struct pol_ver *next;
} pol_ver_t;

typedef struct pol_tenant {
    struct pol_tenant *next;
    char tenant_id[72];
    pthread_mutex_t mu; /* state, state_ns, versions */
    nova_policy_state_t state;
    uint64_t state_ns; /* when state was read; 0: never */
    pol_ver_t *versions;
} pol_tenant_t;

static struct {
    pthread_mutex_t mu;
    pol_tenant_t *head;
} reg = {PTHREAD_MUTEX_INITIALIZER, NULL};

static pol_tenant_t *pol_entry(const char *tenant_id)
{
    pthread_mutex_lock(&reg.mu);
    pol_tenant_t *e = reg.head;
    while (e && strcmp(e->tenant_id, tenant_id) != 0)
        e = e->next;
    if (!e && strlen(tenant_id) < sizeof(e->tenant_id) && (e = calloc(1, sizeof(*e)))) {
        snprintf(e->tenant_id, sizeof(e->tenant_id), "%s", tenant_id);
        pthread_mutex_init(&e->mu, NULL);
        e->next = reg.head;
        reg.head = e;
    }
    pthread_mutex_unlock(&reg.mu);
    return e;
}

/* The lifecycle state, from the cache while it is fresh. */
static nova_status pol_state(nova_store_t *s, pol_tenant_t *e, nova_policy_state_t *out)
{
    uint64_t now = nova_time_mono_ns();
    pthread_mutex_lock(&e->mu);
    bool fresh = e->state_ns && now - e->state_ns < STATE_TTL_NS;
    *out = e->state;
    pthread_mutex_unlock(&e->mu);
    if (fresh)
        return NOVA_OK;
    nova_status st = nova_store_policy_state_get(s, e->tenant_id, out);
    if (st != NOVA_OK)
        return st;
    pthread_mutex_lock(&e->mu);
    e->state = *out;
    e->state_ns = now;
    pthread_mutex_unlock(&e->mu);
    return NOVA_OK;
}

static void pol_forget_state(pol_tenant_t *e)
{
    pthread_mutex_lock(&e->mu);
    e->state_ns = 0;
    pthread_mutex_unlock(&e->mu);
}

/* What the platform key signs for a version: one line per fact. */
static const char *signed_text(nova_arena_t *a, const char *tenant_id, int64_t version,
                               const char *digest)
{
    return nova_arena_printf(a, "nova policy bundle v1\n%s\n%lld\n%s", tenant_id,
                             (long long)version, digest);
}

static void hex32(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* NOVA_OK when the row's text has its digest and the platform key signed it. */
static nova_status verify_row(nova_api_t *api, nova_arena_t *a, const nova_policy_version_t *v)
{
    uint8_t d[32], sig[64];
    char hex[65];
    size_t n = 0;
    nova_sha256(v->body, strlen(v->body), d);
    hex32(d, hex);
    if (strcmp(hex, v->digest) != 0)
        return NOVA_UNAUTHORIZED;
    if (strlen(v->signature) != 86 ||
        nova_b64url_decode(v->signature, strlen(v->signature), sig, &n) != NOVA_OK || n != 64)
        return NOVA_UNAUTHORIZED;
    const char *txt = signed_text(a, v->tenant_id, v->version, v->digest);
    if (!txt)
        return NOVA_NOMEM;
    return nova_auth_platform_verify(api->auth, txt, strlen(txt), sig);
}

/* A verified, parsed version of the tenant's policy. NOVA_NOT_FOUND: no such version;
 * NOVA_UNAUTHORIZED: its digest or signature does not hold (it is not loaded). */
static nova_status pol_version(nova_api_t *api, nova_store_t *s, nova_arena_t *a, pol_tenant_t *e,
                               int64_t version, pol_ver_t **out)
{
    pthread_mutex_lock(&e->mu);
    pol_ver_t *v = e->versions;
    while (v && v->version != version)
        v = v->next;
    pthread_mutex_unlock(&e->mu);
    if (v) {
        atomic_fetch_add(&M.cache_hits, 1);
        *out = v;
        return NOVA_OK;
    }
    atomic_fetch_add(&M.cache_misses, 1);
    nova_policy_version_t row;
    nova_status st = nova_store_policy_get(s, a, e->tenant_id, version, &row);
    if (st != NOVA_OK)
        return st;
    if ((st = verify_row(api, a, &row)) != NOVA_OK) {
        nova_log_warn("policy version %lld of tenant %s fails its signature check: not loaded",
                      (long long)version, e->tenant_id);
        return st;
    }
    json_t *doc = json_loads(row.body, 0, NULL);
    char err[256];
    nova_policy_bundle_t *b = NULL;
    st = doc ? nova_policy_bundle_parse(doc, &b, err, sizeof(err)) : NOVA_INTERNAL;
    json_decref(doc);
    if (st != NOVA_OK)
        return NOVA_INTERNAL; /* it was valid when published */
    if ((v = calloc(1, sizeof(*v))) == NULL) {
        nova_policy_bundle_free(b);
        return NOVA_NOMEM;
    }
    v->version = version;
    v->b = b;
    pthread_mutex_lock(&e->mu);
    pol_ver_t *again = e->versions;
    while (again && again->version != version)
        again = again->next;
    if (again) {
        nova_policy_bundle_free(b);
        free(v);
        v = again;
    } else {
        v->next = e->versions;
        e->versions = v;
    }
    pthread_mutex_unlock(&e->mu);
    *out = v;
    return NOVA_OK;
}

/* ---- deciding ---- */

/* One decision under version (0: none promoted) with its model and tuples; any failure on
 * the way is a deny with its reason. */
static void decide_version(nova_api_t *api, nova_store_t *s, nova_arena_t *a, pol_tenant_t *e,
                           int64_t version, const json_t *input, const char *caller,
                           nova_policy_decision_t *d)
{
    pol_ver_t *v = NULL;
    nova_status st = version ? pol_version(api, s, a, e, version, &v) : NOVA_NOT_FOUND;
    if (st != NOVA_OK) {
        /* without a policy, only the tenant check can run; it denies either way */
        nova_policy_decide(NULL, NULL, NULL, input, caller, d);
        if (d->answer == NOVA_POLICY_DENY && strcmp(d->reason, "tenant_mismatch") != 0) {
            d->reason = st == NOVA_NOT_FOUND      ? "no_policy"
                        : st == NOVA_UNAUTHORIZED ? "policy_unverified"
                        : st == NOVA_UNAVAILABLE  ? "store_unavailable"
                                                  : "internal_error";
            json_object_set_new(d->explain, "reason", json_string(d->reason));
        }
        return;
    }
    api_fga_view_t view;
    st = api_fga_acquire(s, a, e->tenant_id, nova_policy_bundle_store_id(v->b),
                         nova_policy_bundle_model_id(v->b), &view);
    if (st == NOVA_OK && atomic_load(&v->bound) == 0) {
        char err[256];
        atomic_store(&v->bound,
                     nova_policy_bundle_bind(v->b, view.model, err, sizeof(err)) == NOVA_OK ? 1
                                                                                            : -1);
    }
    bool usable = st == NOVA_OK && atomic_load(&v->bound) == 1;
    nova_policy_decide(v->b, usable ? view.model : NULL, usable ? view.index : NULL, input, caller,
                       d);
    if (st == NOVA_OK)
        api_fga_release(&view);
    if (!usable && d->answer == NOVA_POLICY_DENY && strcmp(d->reason, "tenant_mismatch") != 0) {
        d->reason = st == NOVA_UNAVAILABLE                  ? "store_unavailable"
                    : st == NOVA_OK || st == NOVA_NOT_FOUND ? "model_missing"
                                                            : "internal_error";
        json_object_set_new(d->explain, "reason", json_string(d->reason));
    }
    json_object_set_new(d->explain, "policy_version", json_integer(version));
}

static bool shadow_picked(int percent)
{
    uint8_t r = 0;
    return percent > 0 && nova_random_bytes(&r, 1) == NOVA_OK && (int)(r % 100) < percent;
}

/* The decision log line (§4.6): what was decided and why, with the input's identifiers
 * and no values from context or attributes (only their names), through the redaction rules. */
static void log_decision(nova_req_t *r, const char *tenant_id, const json_t *input, int64_t version,
                         const nova_policy_decision_t *d, uint64_t ns)
{
    json_t *rec = json_pack(
        "{s:s, s:s, s:I, s:s, s:s, s:s, s:i, s:O?, s:O?, s:O?, s:I}", "req_id", r->req_id,
        "tenant_id", tenant_id, "policy_version", (json_int_t)version, "decision",
        nova_policy_answer_name(d->answer), "stage", d->stage, "reason", d->reason, "required_aal",
        d->required_aal, "action", json_object_get(input, "action"), "purpose",
        json_object_get(input, "purpose"), "resource_type",
        json_object_get(json_object_get(input, "resource"), "type"), "latency_ns", (json_int_t)ns);
    json_t *keys = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(input, "context"), k, v)
        json_array_append_new(keys, json_string(k));
    json_object_set_new(rec, "context_keys", keys);
    nova_redact_json(rec);
    char *txt = json_dumps(rec, JSON_COMPACT);
    /* member list without the braces, as nova_log_json wants it */
    if (txt && strlen(txt) > 2) {
        txt[strlen(txt) - 1] = '\0';
        nova_log_json(NOVA_LOG_INFO, "authz decision", txt + 1);
    }
    free(txt);
    json_decref(rec);
}

/* A shadow version's evaluations (all instances sharing the control plane) are counted under
 * this key for 30 days from the first (the longest a control-plane key lives). */
#define SHADOW_COUNT_TTL_MS NOVA_KV_TTL_MAX_MS

static const char *shadow_count_key(nova_arena_t *a, const char *tenant_id, int64_t version)
{
    return nova_arena_printf(a, "authz:shadow-evaluated:%s:%lld", tenant_id, (long long)version);
}

/* The live decision: the active version, the shadow candidate on its share, metrics, the log. */
static void decide_live(nova_req_t *r, nova_api_t *api, nova_store_t *s, const json_t *input,
                        nova_policy_decision_t *d, int64_t *version_out)
{
    uint64_t t0 = nova_time_mono_ns();
    const char *tenant_id = r->principal->tenant_id;
    pol_tenant_t *e = pol_entry(tenant_id);
    nova_policy_state_t ps = {0};
    nova_status st = e ? pol_state(s, e, &ps) : NOVA_NOMEM;
    if (st != NOVA_OK) {
        nova_policy_decide(NULL, NULL, NULL, input, tenant_id, d);
        d->stage = "error";
        d->reason = st == NOVA_UNAVAILABLE ? "store_unavailable" : "internal_error";
        d->answer = NOVA_POLICY_DENY;
        json_object_set_new(d->explain, "reason", json_string(d->reason));
    } else {
        decide_version(api, s, &r->arena, e, ps.active, input, tenant_id, d);
    }
    uint64_t ns = nova_time_mono_ns() - t0;
    count_decision(d, ns);
    *version_out = ps.active;
    log_decision(r, tenant_id, input, ps.active, d, ns);
    if (st != NOVA_OK || ps.shadow == 0 || ps.shadow == ps.active ||
        !shadow_picked(ps.shadow_percent))
        return;
    nova_policy_decision_t sd;
    decide_version(api, s, &r->arena, e, ps.shadow, input, tenant_id, &sd);
    atomic_fetch_add(&M.shadow_evaluated, 1);
    /* The report's count, per tenant and shadow version, in the control plane: every novad
     * sharing it adds to the same counter. A control plane down loses a count, never a
     * decision (the live answer is made already). */
    int64_t count;
    const char *ck = shadow_count_key(&r->arena, tenant_id, ps.shadow);
    if (ck == NULL || nova_kv_incr(api->kv, ck, 1, SHADOW_COUNT_TTL_MS, &count, NULL) != NOVA_OK)
        atomic_fetch_add(&M.shadow_uncounted, 1);
    if (sd.answer != d->answer || sd.required_aal != d->required_aal) {
        atomic_fetch_add(&M.shadow_drift, 1);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        const json_t *res = json_object_get(input, "resource");
        nova_policy_drift_t dr = {.shadow_version = ps.shadow,
                                  .active_version = ps.active,
                                  .action = json_string_value(json_object_get(input, "action")),
                                  .resource_type = json_string_value(json_object_get(res, "type")),
                                  .live = nova_policy_answer_name(d->answer),
                                  .shadow = nova_policy_answer_name(sd.answer),
                                  .live_reason = d->reason,
                                  .shadow_reason = sd.reason,
                                  .ts = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000};
        if (nova_store_policy_drift_insert(s, tenant_id, &dr) != NOVA_OK)
            nova_log_warn("authz: a shadow drift row of tenant %s could not be written", tenant_id);
    }
    json_decref(sd.explain);
}

static json_t *decision_json(const nova_policy_decision_t *d, int64_t version)
{
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:O}", "decision", nova_policy_answer_name(d->answer), "reason",
                  d->reason, "policy_version", (json_int_t)version, "explain", d->explain);
    if (o && d->answer == NOVA_POLICY_STEP_UP)
        json_object_set_new(o, "required_aal", json_integer(d->required_aal));
    return o;
}

static const char *const input_members[] = {"tenant",  "subject", "resource", "action",
                                            "purpose", "context", NULL};

/* Decodes and validates a decision input body; on failure the reply is written. */
static json_t *input_body(nova_req_t *r)
{
    json_t *in = api_json_body(r, input_members);
    if (!in)
        return NULL;
    char err[256];
    if (nova_policy_input_validate(in, err, sizeof(err)) != NOVA_OK) {
        nova_resp_problem(r, 400, "invalid_request", "Invalid request", err);
        json_decref(in);
        return NULL;
    }
    return in;
}

static void authz_decision(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *in = input_body(r);
    if (!in)
        return;
    nova_policy_decision_t d;
    int64_t version = 0;
    nova_store_t *s = NULL;
    if (nova_store_thread(api->database_url, &s) != NOVA_OK) {
        /* the store is down: deny, never allow */
        nova_policy_decide(NULL, NULL, NULL, in, r->principal->tenant_id, &d);
        d.stage = "error";
        d.reason = "store_unavailable";
        json_object_set_new(d.explain, "reason", json_string(d.reason));
        count_decision(&d, 0);
    } else {
        decide_live(r, api, s, in, &d, &version);
    }
    api_reply_json(r, 200, decision_json(&d, version));
    json_decref(d.explain);
    json_decref(in);
}

/* policy_ref: a version number, "active" (or absent) or "shadow". */
static bool policy_ref(nova_req_t *r, nova_store_t *s, pol_tenant_t *e, int64_t *out)
{
    const char *ref = nova_req_query(r, "policy_ref");
    nova_policy_state_t ps;
    if (!ref || strcmp(ref, "active") == 0 || strcmp(ref, "shadow") == 0) {
        nova_status st = pol_state(s, e, &ps);
        if (st != NOVA_OK) {
            api_unavailable(r, st);
            return false;
        }
        *out = ref && strcmp(ref, "shadow") == 0 ? ps.shadow : ps.active;
        return true;
    }
    char *end;
    long long v = strtoll(ref, &end, 10);
    if (*ref == '\0' || *end || v < 1 || v > (1ll << 53)) {
        nova_resp_problem(r, 400, "invalid_request", "Invalid request",
                          "policy_ref: a version number (1, 2, ...), active or shadow");
        return false;
    }
    *out = v;
    return true;
}

static void authz_simulate(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *in = input_body(r);
    if (!in)
        return;
    nova_store_t *s = api_store(r, api);
    pol_tenant_t *e = s ? pol_entry(r->principal->tenant_id) : NULL;
    int64_t version = 0;
    if (s && !e)
        nova_resp_status(r, NOVA_NOMEM, NULL);
    if (!e || !policy_ref(r, s, e, &version)) {
        json_decref(in);
        return;
    }
    nova_policy_version_t row;
    nova_status st =
        version ? nova_store_policy_get(s, &r->arena, e->tenant_id, version, &row) : NOVA_NOT_FOUND;
    if (st == NOVA_NOT_FOUND) {
        nova_resp_problem(r, 404, "not_found", "Not Found",
                          "policy_ref: the tenant has no such policy version");
    } else if (st != NOVA_OK) {
        api_unavailable(r, st);
    } else {
        nova_policy_decision_t d;
        decide_version(api, s, &r->arena, e, version, in, e->tenant_id, &d);
        json_t *o = decision_json(&d, version);
        json_object_set_new(o, "simulated", json_true());
        api_reply_json(r, 200, o);
        json_decref(d.explain);
    }
    json_decref(in);
}

/* ---- the lifecycle ---- */

static nova_audit_entry_t *authz_audit(nova_req_t *r, const char *action, int64_t version,
                                       json_t *attrs)
{
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_audit_entry_t *e = nova_arena_alloc(&r->arena, sizeof(*e));
    const char *id = nova_arena_printf(&r->arena, "%lld", (long long)version);
    if (e == NULL || id == NULL ||
        nova_audit_entry_make(e, &r->arena, &by, r->principal->tenant_id, action, "policy", id,
                              attrs) != NOVA_OK) {
        return NULL;
    }
    return e;
}

static json_t *version_json(const nova_policy_version_t *v)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:I}", "version", (json_int_t)v->version, "digest",
                     v->digest, "signature", v->signature, "created_by", v->created_by,
                     "created_at", (json_int_t)v->created_at);
}

static json_t *state_json(const nova_policy_state_t *ps)
{
    return json_pack("{s:I, s:I, s:I, s:i, s:I}", "active_version", (json_int_t)ps->active,
                     "previous_version", (json_int_t)ps->previous, "shadow_version",
                     (json_int_t)ps->shadow, "shadow_percent", ps->shadow_percent, "updated_at",
                     (json_int_t)ps->updated_at);
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void policies_publish(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *doc = api_json_body(r, NULL);
    if (!doc)
        return;
    char err[256];
    nova_policy_bundle_t *b = NULL;
    nova_store_t *s = NULL;
    if (nova_policy_bundle_parse(doc, &b, err, sizeof(err)) != NOVA_OK) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", err);
        goto end;
    }
    if ((s = api_store(r, api)) == NULL)
        goto end;
    /* the model it names must be one of the tenant's, and the bundle must fit it */
    api_fga_view_t view;
    nova_status st =
        api_fga_acquire(s, &r->arena, r->principal->tenant_id, nova_policy_bundle_store_id(b),
                        nova_policy_bundle_model_id(b), &view);
    if (st == NOVA_NOT_FOUND) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                          "/authorization_model_id: no such model in the tenant's store /store_id");
        goto end;
    }
    if (st != NOVA_OK) {
        api_unavailable(r, st);
        goto end;
    }
    st = nova_policy_bundle_bind(b, view.model, err, sizeof(err));
    api_fga_release(&view);
    if (st != NOVA_OK) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", err);
        goto end;
    }
    char *body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (!body) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        goto end;
    }
    uint8_t d[32], sig[64];
    char hex[65], sig64[90];
    nova_sha256(body, strlen(body), d);
    hex32(d, hex);
    nova_policy_version_t v = {.tenant_id = r->principal->tenant_id,
                               .body = nova_arena_strdup(&r->arena, body),
                               .digest = hex,
                               .signature = sig64,
                               .created_by = r->principal->client_id,
                               .created_at = now_us()};
    free(body);
    /* a concurrent publish may take the version: sign the next one and try again */
    for (int attempt = 0; attempt < 5; attempt++) {
        if ((st = nova_store_policy_next_version(s, v.tenant_id, &v.version)) != NOVA_OK)
            break;
        const char *txt = signed_text(&r->arena, v.tenant_id, v.version, hex);
        if (!txt || !v.body) {
            st = NOVA_NOMEM;
            break;
        }
        if ((st = nova_auth_platform_sign(api->auth, txt, strlen(txt), sig)) != NOVA_OK)
            break;
        nova_b64url_encode(sig, 64, sig64);
        nova_audit_entry_t *ae = authz_audit(
            r, "policy.publish", v.version,
            json_pack("{s:s, s:s, s:s}", "digest", hex, "store_id", nova_policy_bundle_store_id(b),
                      "authorization_model_id", nova_policy_bundle_model_id(b)));
        st = ae ? nova_store_policy_insert(s, &v, ae) : NOVA_NOMEM;
        if (st != NOVA_CONFLICT)
            break;
    }
    if (st != NOVA_OK)
        api_unavailable(r, st);
    else
        api_reply_json(r, 201, version_json(&v));
end:
    nova_policy_bundle_free(b);
    json_decref(doc);
}

static void policies_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (!s)
        return;
    nova_policy_version_t *vs;
    size_t n;
    nova_policy_state_t ps;
    nova_status st = nova_store_policy_list(s, &r->arena, r->principal->tenant_id, 0, 100, &vs, &n);
    if (st == NOVA_OK)
        st = nova_store_policy_state_get(s, r->principal->tenant_id, &ps);
    if (st != NOVA_OK) {
        api_unavailable(r, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, version_json(&vs[i]));
    json_t *o = state_json(&ps);
    json_object_set_new(o, "versions", arr);
    api_reply_json(r, 200, o);
}

static bool path_version(nova_req_t *r, int64_t *out)
{
    char *end;
    long long v = strtoll(r->params[0], &end, 10);
    if (!*r->params[0] || *end || v < 1 || v > (1ll << 53)) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                          "version (the path): a version number 1, 2, ...");
        return false;
    }
    *out = v;
    return true;
}

static void policies_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    int64_t version;
    if (!path_version(r, &version))
        return;
    nova_store_t *s = api_store(r, api);
    if (!s)
        return;
    nova_policy_version_t v;
    nova_status st = nova_store_policy_get(s, &r->arena, r->principal->tenant_id, version, &v);
    if (st != NOVA_OK) {
        nova_resp_status(r, st, st == NOVA_NOT_FOUND ? "no such policy version" : NULL);
        return;
    }
    json_t *o = version_json(&v);
    json_object_set_new(o, "verified", json_boolean(verify_row(api, &r->arena, &v) == NOVA_OK));
    json_object_set_new(o, "bundle", json_loads(v.body, 0, NULL));
    api_reply_json(r, 200, o);
}

/* Writes the new state (audited) when the active version is still `expect`. */
static void state_change(nova_req_t *r, nova_api_t *api, nova_store_t *s,
                         const nova_policy_state_t *ps, int64_t expect, const char *action,
                         int64_t version, json_t *attrs)
{
    nova_audit_entry_t *ae = authz_audit(r, action, version, attrs);
    nova_status st =
        ae ? nova_store_policy_state_put(s, r->principal->tenant_id, ps, expect, ae) : NOVA_NOMEM;
    pol_tenant_t *e = pol_entry(r->principal->tenant_id);
    if (e)
        pol_forget_state(e);
    (void)api;
    if (st == NOVA_CONFLICT)
        nova_resp_problem(r, 409, "conflict", "Conflict",
                          "the active version changed meanwhile: read the state and retry");
    else if (st != NOVA_OK)
        api_unavailable(r, st);
    else
        api_reply_json(r, 200, state_json(ps));
}

/* The version exists and its signature holds. false with the reply written otherwise. */
static bool loadable(nova_req_t *r, nova_api_t *api, nova_store_t *s, int64_t version)
{
    nova_policy_version_t v;
    nova_status st = nova_store_policy_get(s, &r->arena, r->principal->tenant_id, version, &v);
    if (st == NOVA_OK && verify_row(api, &r->arena, &v) != NOVA_OK) {
        nova_resp_problem(r, 409, "policy_unverified", "Conflict",
                          "this version's signature does not verify: it cannot be loaded");
        return false;
    }
    if (st != NOVA_OK) {
        nova_resp_status(r, st, st == NOVA_NOT_FOUND ? "no such policy version" : NULL);
        return false;
    }
    return true;
}

static void policies_promote(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    int64_t version;
    if (!path_version(r, &version))
        return;
    nova_store_t *s = api_store(r, api);
    if (!s || !loadable(r, api, s, version))
        return;
    nova_policy_state_t cur, next;
    nova_status st = nova_store_policy_state_get(s, r->principal->tenant_id, &cur);
    if (st != NOVA_OK) {
        api_unavailable(r, st);
        return;
    }
    if (cur.active == version) {
        nova_resp_problem(r, 409, "conflict", "Conflict", "this version is the active one");
        return;
    }
    next = cur;
    next.active = version;
    next.previous = cur.active;
    if (next.shadow == version) { /* the candidate is live now */
        next.shadow = 0;
        next.shadow_percent = 0;
    }
    next.updated_at = now_us();
    state_change(r, api, s, &next, cur.active, "policy.promote", version,
                 json_pack("{s:I}", "previous_version", (json_int_t)cur.active));
}

static void policies_rollback(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (!s)
        return;
    nova_policy_state_t cur, next;
    nova_status st = nova_store_policy_state_get(s, r->principal->tenant_id, &cur);
    if (st != NOVA_OK) {
        api_unavailable(r, st);
        return;
    }
    if (cur.previous == 0) {
        nova_resp_problem(r, 409, "conflict", "Conflict",
                          "no version was active before this one: nothing to roll back to");
        return;
    }
    if (!loadable(r, api, s, cur.previous))
        return;
    next = cur;
    next.active = cur.previous;
    next.previous = 0;
    next.updated_at = now_us();
    state_change(r, api, s, &next, cur.active, "policy.rollback", cur.previous,
                 json_pack("{s:I}", "from_version", (json_int_t)cur.active));
}

static void shadow_put(nova_req_t *r, void *ud)
{
    static const char *const members[] = {"version", "percent", NULL};
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, members);
    if (!body)
        return;
    json_t *jv = json_object_get(body, "version"), *jp = json_object_get(body, "percent");
    const char *bad = NULL;
    if (!json_is_integer(jv) || json_integer_value(jv) < 0)
        bad = "version: a policy version, or 0 to stop shadowing";
    else if (!json_is_integer(jp) || json_integer_value(jp) < 0 || json_integer_value(jp) > 100)
        bad = "percent: an integer from 0 to 100, the share of live decisions shadowed";
    int64_t version = bad ? 0 : json_integer_value(jv);
    int percent = bad ? 0 : (int)json_integer_value(jp);
    json_decref(body);
    if (bad) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", bad);
        return;
    }
    nova_store_t *s = api_store(r, api);
    if (!s || (version && !loadable(r, api, s, version)))
        return;
    nova_policy_state_t cur, next;
    nova_status st = nova_store_policy_state_get(s, r->principal->tenant_id, &cur);
    if (st != NOVA_OK) {
        api_unavailable(r, st);
        return;
    }
    next = cur;
    next.shadow = version;
    next.shadow_percent = version ? percent : 0;
    next.updated_at = now_us();
    state_change(r, api, s, &next, cur.active, "policy.shadow", version,
                 json_pack("{s:i}", "percent", next.shadow_percent));
}

static void shadow_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (!s)
        return;
    nova_policy_state_t ps;
    nova_policy_drift_t *dr = NULL;
    size_t n = 0;
    int64_t total = 0;
    nova_status st = nova_store_policy_state_get(s, r->principal->tenant_id, &ps);
    if (st == NOVA_OK && ps.shadow)
        st = nova_store_policy_drift_list(s, &r->arena, r->principal->tenant_id, ps.shadow, 50, &dr,
                                          &n, &total);
    if (st != NOVA_OK) {
        api_unavailable(r, st);
        return;
    }
    /* evaluated: null when the control plane cannot say now (the drift rows still can). */
    json_t *evaluated = json_integer(0);
    if (ps.shadow) {
        char *v = NULL;
        size_t vlen = 0;
        const char *ck = shadow_count_key(&r->arena, r->principal->tenant_id, ps.shadow);
        nova_status kst = ck ? nova_kv_get(api->kv, ck, &r->arena, &v, &vlen) : NOVA_NOMEM;
        json_decref(evaluated);
        evaluated = kst == NOVA_OK          ? json_integer(strtoll(v, NULL, 10))
                    : kst == NOVA_NOT_FOUND ? json_integer(0)
                                            : json_null();
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "active_version",
                           (json_int_t)dr[i].active_version, "action", dr[i].action,
                           "resource_type", dr[i].resource_type, "live", dr[i].live, "shadow",
                           dr[i].shadow, "live_reason", dr[i].live_reason, "shadow_reason",
                           dr[i].shadow_reason, "ts", (json_int_t)dr[i].ts));
    api_reply_json(r, 200,
                   json_pack("{s:I, s:I, s:i, s:I, s:o, s:o}", "active_version",
                             (json_int_t)ps.active, "shadow_version", (json_int_t)ps.shadow,
                             "shadow_percent", ps.shadow_percent, "drifted", (json_int_t)total,
                             "evaluated", evaluated, "drift", arr));
}

/* ---- OpenID AuthZEN 1.0 ---- */

/* Builds a §4.3 input from an AuthZEN request (subject, resource, action, context; each an
 * override of base when given). NULL with err set when a member is malformed. */
static json_t *authzen_input(nova_req_t *r, const json_t *req, const json_t *base, char *err,
                             size_t errlen)
{
    const json_t *sub = json_object_get(req, "subject");
    const json_t *res = json_object_get(req, "resource");
    const json_t *act = json_object_get(req, "action");
    const json_t *ctx = json_object_get(req, "context");
    if (base) {
        sub = sub ? sub : json_object_get(base, "subject");
        res = res ? res : json_object_get(base, "resource");
        act = act ? act : json_object_get(base, "action");
        ctx = ctx ? ctx : json_object_get(base, "context");
    }
    const char *tid = r->principal->tenant_id;
    if (!json_is_object(sub) || !json_is_object(res) || !json_is_object(act)) {
        snprintf(err, errlen, "subject, resource and action objects are required");
        return NULL;
    }
    if (ctx && !json_is_object(ctx)) {
        snprintf(err, errlen, "/context: an object");
        return NULL;
    }
    const json_t *sprops = json_object_get(sub, "properties");
    const json_t *rprops = json_object_get(res, "properties");
    json_t *in = json_pack("{s:{s:s}, s:{s:O?, s:O?}, s:{s:O?, s:O?, s:s}, s:O?}", "tenant", "id",
                           tid, "subject", "type", json_object_get(sub, "type"), "id",
                           json_object_get(sub, "id"), "resource", "type",
                           json_object_get(res, "type"), "id", json_object_get(res, "id"),
                           "tenant_id", tid, "action", json_object_get(act, "name"));
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (json_is_object(sprops)) {
        if (json_object_get(sprops, "aal"))
            json_object_set(json_object_get(in, "subject"), "aal", json_object_get(sprops, "aal"));
        json_object_set(json_object_get(in, "subject"), "attrs", (json_t *)sprops);
    }
    if (json_is_object(rprops))
        json_object_set(json_object_get(in, "resource"), "attrs", (json_t *)rprops);
    if (ctx) {
        json_t *c = json_deep_copy(ctx);
        const json_t *purpose = json_object_get(c, "purpose");
        if (purpose)
            json_object_set(in, "purpose", (json_t *)purpose);
        json_object_del(c, "purpose");
        json_object_set_new(in, "context", c);
    }
    if (nova_policy_input_validate(in, err, errlen) != NOVA_OK) {
        json_decref(in);
        return NULL;
    }
    return in;
}

static json_t *authzen_result(const nova_policy_decision_t *d, int64_t version)
{
    json_t *c = json_pack("{s:s, s:s, s:I}", "decision", nova_policy_answer_name(d->answer),
                          "reason", d->reason, "policy_version", (json_int_t)version);
    if (d->answer == NOVA_POLICY_STEP_UP)
        json_object_set_new(c, "required_aal", json_integer(d->required_aal));
    return json_pack("{s:b, s:o}", "decision", d->answer == NOVA_POLICY_ALLOW, "context", c);
}

static void authzen_evaluation(nova_req_t *r, void *ud)
{
    static const char *const members[] = {"subject", "resource", "action", "context", NULL};
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, members);
    if (!body)
        return;
    char err[256];
    json_t *in = authzen_input(r, body, NULL, err, sizeof(err));
    json_decref(body);
    if (!in) {
        nova_resp_problem(r, 400, "invalid_request", "Invalid request", err);
        return;
    }
    nova_store_t *s = NULL;
    nova_policy_decision_t d = {0};
    int64_t version = 0;
    if (nova_store_thread(api->database_url, &s) != NOVA_OK) {
        nova_policy_decide(NULL, NULL, NULL, in, r->principal->tenant_id, &d);
        d.reason = "store_unavailable";
    } else {
        decide_live(r, api, s, in, &d, &version);
    }
    api_reply_json(r, 200, authzen_result(&d, version));
    json_decref(d.explain);
    json_decref(in);
}

static void authzen_evaluations(nova_req_t *r, void *ud)
{
    static const char *const members[] = {"subject",     "resource", "action", "context",
                                          "evaluations", "options",  NULL};
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, members);
    if (!body)
        return;
    const json_t *evs = json_object_get(body, "evaluations");
    const json_t *opts = json_object_get(body, "options");
    const char *sem = json_string_value(json_object_get(opts, "evaluations_semantic"));
    char err[300];
    if (evs && (!json_is_array(evs) || json_array_size(evs) > AUTHZEN_MAX_EVALUATIONS)) {
        snprintf(err, sizeof(err), "/evaluations: an array of at most %d requests",
                 AUTHZEN_MAX_EVALUATIONS);
        goto bad;
    }
    if (opts && (!json_is_object(opts) ||
                 (sem && strcmp(sem, "execute_all") && strcmp(sem, "deny_on_first_deny") &&
                  strcmp(sem, "permit_on_first_permit")))) {
        snprintf(err, sizeof(err),
                 "/options/evaluations_semantic: execute_all, "
                 "deny_on_first_deny or permit_on_first_permit");
        goto bad;
    }
    size_t n = evs && json_array_size(evs) ? json_array_size(evs) : 1;
    json_t **ins = nova_arena_alloc(&r->arena, n * sizeof(*ins));
    if (!ins) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        json_decref(body);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *ev = evs && json_array_size(evs) ? json_array_get(evs, i) : body;
        char e2[256];
        ins[i] = json_is_object(ev) ? authzen_input(r, ev, body, e2, sizeof(e2)) : NULL;
        if (!ins[i]) {
            snprintf(err, sizeof(err), "/evaluations/%zu: %s", i,
                     json_is_object(ev) ? e2 : "an object");
            for (size_t k = 0; k < i; k++)
                json_decref(ins[k]);
            goto bad;
        }
    }
    nova_store_t *s = NULL;
    bool store_ok = nova_store_thread(api->database_url, &s) == NOVA_OK;
    json_t *out = json_array();
    bool stop = false;
    for (size_t i = 0; i < n; i++) {
        nova_policy_decision_t d = {0};
        int64_t version = 0;
        if (stop) {
            nova_policy_decide(NULL, NULL, NULL, ins[i], r->principal->tenant_id, &d);
            d.reason = "not_evaluated";
        } else if (!store_ok) {
            nova_policy_decide(NULL, NULL, NULL, ins[i], r->principal->tenant_id, &d);
            d.reason = "store_unavailable";
        } else {
            decide_live(r, api, s, ins[i], &d, &version);
        }
        json_array_append_new(out, authzen_result(&d, version));
        if (sem && ((strcmp(sem, "deny_on_first_deny") == 0 && d.answer != NOVA_POLICY_ALLOW) ||
                    (strcmp(sem, "permit_on_first_permit") == 0 && d.answer == NOVA_POLICY_ALLOW)))
            stop = true;
        json_decref(d.explain);
        json_decref(ins[i]);
    }
    json_decref(body);
    api_reply_json(r, 200, json_pack("{s:o}", "evaluations", out));
    return;
bad:
    json_decref(body);
    nova_resp_problem(r, 400, "invalid_request", "Invalid request", err);
}

/* ---- Envoy ext_authz (HTTP service) ---- */

/* Envoy sends the original method, the path prefix + the original path, and the allowed
 * headers; 200 lets the request through (the x-nova-* headers go to the upstream), anything
 * else is returned to the client as the deny. So every failure here is a 401 or 403, never a
 * 5xx. */
static void ext_deny(nova_req_t *r, int status, const char *code, const char *detail)
{
    nova_resp_problem(r, status, code, status == 401 ? "Unauthorized" : "Forbidden", detail);
}

/* The decision input for an HTTP request a policy's http.routes mapped onto action, resource
 * type and id: the subject is the caller's client at AAL 1 with its scopes as an attribute
 * (scopes are one input among others), or a person (user token) as
 * <http.user_subject_type>:<user id> at the session's AAL with the user's roles and the
 * session's methods (attrs.amr); purpose from x-nova-purpose, risk from x-nova-risk, the
 * client address from x-envoy-external-address. NULL when it is not a valid input. */
static json_t *route_input(nova_req_t *r, const pol_ver_t *v, const char *path, const char *action,
                           const char *rtype, const char *rid)
{
    const char *tenant_id = r->principal->tenant_id;
    json_t *ctx = json_pack("{s:s, s:s}", "method", r->method, "path", path);
    const char *risk = nova_req_header(r, "x-nova-risk");
    const char *ip = nova_req_header(r, "x-envoy-external-address");
    if (ctx && risk)
        json_object_set_new(ctx, "risk", json_string(risk));
    if (ctx && ip)
        json_object_set_new(ctx, "ip", json_string(ip));
    const nova_principal_t *pr = r->principal;
    json_t *subject =
        pr->user_id
            ? json_pack("{s:s, s:s, s:i, s:o, s:{s:o}}", "type",
                        nova_policy_bundle_user_subject_type(v->b), "id", pr->user_id, "aal",
                        pr->aal, "roles", api_words(pr->roles), "attrs", "amr", api_words(pr->amr))
            : json_pack("{s:s, s:s, s:i, s:{s:o}}", "type", nova_policy_bundle_subject_type(v->b),
                        "id", pr->client_id, "aal", 1, "attrs", "scopes", api_words(pr->scope));
    json_t *in = json_pack("{s:{s:s}, s:o, s:{s:s, s:s, s:s}, s:s, s:o}", "tenant", "id", tenant_id,
                           "subject", subject, "resource", "type", rtype, "id", rid, "tenant_id",
                           tenant_id, "action", action, "context", ctx);
    const char *purpose = nova_req_header(r, "x-nova-purpose");
    if (in && purpose)
        json_object_set_new(in, "purpose", json_string(purpose));
    char err[256];
    if (!in || nova_policy_input_validate(in, err, sizeof(err)) != NOVA_OK) {
        json_decref(in);
        return NULL;
    }
    return in;
}

static void ext_authz(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    /* the bearer of the original request */
    if (!api_authenticate_caller(r, api)) {
        if (r->status >= 500 || r->status == 0) {
            r->resp_body.len = 0;
            ext_deny(r, 403, "authz_unavailable",
                     "the caller could not be verified now: denied (fail closed)");
        }
        return;
    }
    /* A step-up token is bound to one request of Nova's own API, whose body Envoy does not
     * send here: never a pass for another service's requests. */
    if (r->principal->user_id && api_user_bound(r)) {
        ext_deny(r, 403, "step_up_token_not_accepted",
                 "a step-up token is good for the one request it was made for, not here");
        return;
    }
    const char *tenant_id = r->principal->tenant_id;
    const char *path = r->path + strlen(EXT_AUTHZ_PREFIX);
    nova_store_t *s = NULL;
    pol_tenant_t *e = pol_entry(tenant_id);
    nova_policy_state_t ps = {0};
    pol_ver_t *v = NULL;
    if (nova_store_thread(api->database_url, &s) != NOVA_OK || !e ||
        pol_state(s, e, &ps) != NOVA_OK || ps.active == 0 ||
        pol_version(api, s, &r->arena, e, ps.active, &v) != NOVA_OK) {
        ext_deny(r, 403, "policy_unavailable", "no verified policy decides for this tenant");
        return;
    }
    const char *action, *rtype, *rid;
    if (nova_policy_bundle_route(v->b, r->method, path, &r->arena, &action, &rtype, &rid) !=
        NOVA_OK) {
        ext_deny(r, 403, "no_route", "the policy maps no action onto this method and path");
        return;
    }
    json_t *in = route_input(r, v, path, action, rtype, rid);
    if (!in) {
        ext_deny(r, 403, "bad_input", "the request does not make a valid decision input");
        return;
    }
    nova_policy_decision_t d;
    int64_t version = 0;
    decide_live(r, api, s, in, &d, &version);
    json_decref(in);
    if (d.answer == NOVA_POLICY_ALLOW) {
        nova_resp_header(r, "x-nova-tenant-id", tenant_id);
        nova_resp_header(r, "x-nova-principal-id", r->principal->client_id);
        nova_resp_header(r, "x-tenant-id", tenant_id);
        nova_resp_header(r, "x-principal-id", r->principal->client_id);
        nova_resp_header(r, "x-req-id", r->req_id);
        nova_resp_header(r, "x-nova-policy-version",
                         nova_arena_printf(&r->arena, "%lld", (long long)version));
        nova_resp_json(r, 200, "{\"decision\":\"allow\"}", 20);
    } else if (d.answer == NOVA_POLICY_STEP_UP) {
        const char *why = nova_arena_printf(&r->arena, "step-up required: aal %d", d.required_aal);
        nova_resp_header(r, "WWW-Authenticate",
                         nova_arena_printf(&r->arena,
                                           "Bearer error=\"insufficient_user_authentication\", "
                                           "acr_values=\"aal%d\"",
                                           d.required_aal));
        ext_deny(r, 401, "step_up_required", why);
    } else {
        ext_deny(r, 403, "denied",
                 nova_arena_printf(&r->arena, "denied by %s (%s)", d.stage, d.reason));
    }
    json_decref(d.explain);
}

/* ---- Nova's own /v1 routes: authenticate -> decide -> handler ---- */

static _Atomic uint64_t route_by_scope, route_by_policy[3], route_unavailable, route_user_unmapped;

void api_authz_route_scope_denied(void)
{
    atomic_fetch_add(&M.route_scope_denied, 1);
}

/* The paths no tenant policy governs: the policy lifecycle itself, so a policy that denies too
 * much can always be rolled back or replaced by a caller with the policy scopes. */
static bool route_exempt(const char *path)
{
    return strncmp(path, "/v1/", 4) != 0 || strncmp(path, "/v1/authz/", 10) == 0;
}

/* A person at a route no policy of the tenant decides for people: refused (people have no
 * scopes, so nothing else can admit them). */
static bool user_not_mapped(nova_req_t *r, const char *why)
{
    atomic_fetch_add(&route_user_unmapped, 1);
    nova_resp_problem(r, 403, "user_route_not_mapped", "Forbidden", why);
    return false;
}

bool api_authz_route(nova_req_t *r, nova_api_t *api)
{
    bool user = r->principal->user_id != NULL;
    if (route_exempt(r->path)) {
        if (user)
            return user_not_mapped(r, "this route takes a client's token or API key; people "
                                      "reach only the /v1 routes their tenant's policy maps");
        atomic_fetch_add(&route_by_scope, 1);
        return true;
    }
    const char *tenant_id = r->principal->tenant_id;
    nova_store_t *s = NULL;
    pol_tenant_t *e = pol_entry(tenant_id);
    nova_policy_state_t ps = {0};
    nova_status st = nova_store_thread(api->database_url, &s);
    if (st == NOVA_OK)
        st = e ? pol_state(s, e, &ps) : NOVA_NOMEM;
    if (st != NOVA_OK) {
        /* the tenant's policy cannot be known: fail closed */
        atomic_fetch_add(&route_unavailable, 1);
        api_unavailable(r, st);
        return false;
    }
    if (ps.active == 0) { /* no policy: the route's scope decided */
        if (user)
            return user_not_mapped(r, "the tenant has no active policy, so no route admits "
                                      "people (it maps routes for them in http.routes)");
        atomic_fetch_add(&route_by_scope, 1);
        return true;
    }
    pol_ver_t *v = NULL;
    if (pol_version(api, s, &r->arena, e, ps.active, &v) != NOVA_OK) {
        atomic_fetch_add(&route_by_policy[NOVA_POLICY_DENY], 1);
        nova_resp_problem(r, 403, "policy_unavailable", "Forbidden",
                          "the tenant's active policy cannot be verified or loaded: denied "
                          "(fail closed)");
        return false;
    }
    const char *action, *rtype, *rid;
    st = nova_policy_bundle_route(v->b, r->method, r->path, &r->arena, &action, &rtype, &rid);
    if (st == NOVA_NOT_FOUND) { /* the policy does not govern this route: its scope decided */
        if (user)
            return user_not_mapped(r, "the tenant's policy maps no action onto this method and "
                                      "path, so it is not open to people");
        atomic_fetch_add(&route_by_scope, 1);
        return true;
    }
    json_t *in = st == NOVA_OK ? route_input(r, v, r->path, action, rtype, rid) : NULL;
    if (!in) {
        atomic_fetch_add(&route_by_policy[NOVA_POLICY_DENY], 1);
        nova_resp_problem(r, 403, "bad_input", "Forbidden",
                          "the request does not make a valid decision input: denied");
        return false;
    }
    nova_policy_decision_t d;
    int64_t version = 0;
    decide_live(r, api, s, in, &d, &version);
    json_decref(in);
    atomic_fetch_add(&route_by_policy[d.answer], 1);
    bool ok = d.answer == NOVA_POLICY_ALLOW;
    if (d.answer == NOVA_POLICY_STEP_UP && user) {
        /* A person steps up for exactly this request: once its body is in, the request-bound
         * 403 MFA_REQUIRED with a challenge (or its step-up token admits it). */
        api_user_stepup_later(r, d.required_aal);
        ok = true;
    } else if (d.answer == NOVA_POLICY_STEP_UP) {
        nova_resp_header(r, "WWW-Authenticate",
                         nova_arena_printf(&r->arena,
                                           "Bearer error=\"insufficient_user_authentication\", "
                                           "acr_values=\"aal%d\"",
                                           d.required_aal));
        nova_resp_problem(r, 401, "step_up_required", "Unauthorized",
                          nova_arena_printf(&r->arena, "step-up required: aal %d (policy %lld)",
                                            d.required_aal, (long long)version));
    } else if (!ok) {
        nova_resp_problem(r, 403, "policy_denied", "Forbidden",
                          nova_arena_printf(&r->arena, "denied by %s (%s), policy %lld", d.stage,
                                            d.reason, (long long)version));
    }
    json_decref(d.explain);
    return ok;
}

/* ---- registration and metrics ---- */

nova_status api_authz_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"POST", "/v1/authz/decision", "authz:decide", authz_decision, AUTHZ_BODY},
        {"POST", "/v1/authz/simulate", "policy:read", authz_simulate, AUTHZ_BODY},
        {"POST", "/v1/authz/policies", "policy:write", policies_publish, POLICY_BODY},
        {"GET", "/v1/authz/policies", "policy:read", policies_list, 0},
        {"GET", "/v1/authz/policies/{version}", "policy:read", policies_get, 0},
        {"POST", "/v1/authz/policies/{version}/promote", "policy:write", policies_promote, 0},
        {"POST", "/v1/authz/rollback", "policy:write", policies_rollback, 0},
        {"PUT", "/v1/authz/shadow", "policy:write", shadow_put, 4096},
        {"GET", "/v1/authz/shadow", "policy:read", shadow_get, 0},
        {"POST", "/access/v1/evaluation", "authz:decide", authzen_evaluation, AUTHZ_BODY},
        {"POST", "/access/v1/evaluations", "authz:decide", authzen_evaluations, AUTHZ_BODY},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    /* ext_authz: the original path after the prefix, any depth up to the router's 16
     * segments ("{path*}"), every method Envoy forwards. Public routes: the handler verifies the
     * original request's bearer itself. */
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (size_t m = 0; m < 5; m++) {
        nova_status st = nova_http_route(srv, methods[m], EXT_AUTHZ_PREFIX "/{path*}", NULL, 8192,
                                         ext_authz, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}

nova_status api_authz_metrics(nova_buf_t *out)
{
    nova_status st = nova_buf_printf(out, "# HELP nova_authz_decisions_total Decisions by "
                                          "answer.\n# TYPE nova_authz_decisions_total counter\n");
    for (int i = 0; i < 3 && st == NOVA_OK; i++)
        st = nova_buf_printf(out, "nova_authz_decisions_total{decision=\"%s\"} %llu\n",
                             nova_policy_answer_name((nova_policy_answer)i),
                             (unsigned long long)atomic_load(&M.answers[i]));
    if (st == NOVA_OK)
        st = nova_buf_printf(out, "# HELP nova_authz_decisions_by_stage_total Decisions by the "
                                  "stage that decided.\n"
                                  "# TYPE nova_authz_decisions_by_stage_total counter\n");
    for (size_t i = 0; i < NSTAGES && st == NOVA_OK; i++)
        st = nova_buf_printf(out, "nova_authz_decisions_by_stage_total{stage=\"%s\"} %llu\n",
                             STAGES[i], (unsigned long long)atomic_load(&M.stages[i]));
    if (st == NOVA_OK)
        st = nova_buf_printf(out, "# HELP nova_authz_decision_reasons_total Decisions by "
                                  "reason (the deny reasons and allowed).\n"
                                  "# TYPE nova_authz_decision_reasons_total counter\n");
    for (size_t i = 0; i < NREASONS && st == NOVA_OK; i++)
        if (atomic_load(&M.reasons[i]))
            st = nova_buf_printf(out, "nova_authz_decision_reasons_total{reason=\"%s\"} %llu\n",
                                 REASONS[i], (unsigned long long)atomic_load(&M.reasons[i]));
    if (st == NOVA_OK)
        st = nova_buf_printf(out, "# HELP nova_authz_decision_seconds Decision latency.\n"
                                  "# TYPE nova_authz_decision_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i <= NBUCKETS && st == NOVA_OK; i++) {
        cum += atomic_load(&M.buckets[i]);
        if (i < NBUCKETS)
            st = nova_buf_printf(out, "nova_authz_decision_seconds_bucket{le=\"%g\"} %llu\n",
                                 BUCKETS[i], (unsigned long long)cum);
        else
            st = nova_buf_printf(out, "nova_authz_decision_seconds_bucket{le=\"+Inf\"} %llu\n",
                                 (unsigned long long)cum);
    }
    if (st == NOVA_OK)
        st = nova_buf_printf(
            out,
            "nova_authz_decision_seconds_sum %.9f\nnova_authz_decision_seconds_count %llu\n"
            "# HELP nova_authz_shadow_total Shadow evaluations of a candidate policy, and those "
            "that decided differently.\n# TYPE nova_authz_shadow_total counter\n"
            "nova_authz_shadow_total{result=\"evaluated\"} %llu\n"
            "nova_authz_shadow_total{result=\"drift\"} %llu\n"
            "nova_authz_shadow_total{result=\"uncounted\"} %llu\n"
            "# HELP nova_authz_policy_cache_total Verified-bundle cache lookups by result.\n"
            "# TYPE nova_authz_policy_cache_total counter\n"
            "nova_authz_policy_cache_total{result=\"hit\"} %llu\n"
            "nova_authz_policy_cache_total{result=\"miss\"} %llu\n"
            "# HELP nova_authz_policy_version The policy version deciding for each tenant this "
            "process has seen.\n# TYPE nova_authz_policy_version gauge\n",
            (double)atomic_load(&M.latency_ns) / 1e9, (unsigned long long)atomic_load(&M.count),
            (unsigned long long)atomic_load(&M.shadow_evaluated),
            (unsigned long long)atomic_load(&M.shadow_drift),
            (unsigned long long)atomic_load(&M.shadow_uncounted),
            (unsigned long long)atomic_load(&M.cache_hits),
            (unsigned long long)atomic_load(&M.cache_misses));
    if (st == NOVA_OK)
        st = nova_buf_printf(
            out,
            "# HELP nova_authz_route_decisions_total Nova's own /v1 requests by what decided "
            "them: the route's scope alone (no policy governs the route) or the tenant's "
            "policy.\n# TYPE nova_authz_route_decisions_total counter\n"
            "nova_authz_route_decisions_total{decider=\"scope\",decision=\"allow\"} %llu\n"
            "nova_authz_route_decisions_total{decider=\"scope\",decision=\"deny\"} %llu\n"
            "nova_authz_route_decisions_total{decider=\"policy\",decision=\"allow\"} %llu\n"
            "nova_authz_route_decisions_total{decider=\"policy\",decision=\"deny\"} %llu\n"
            "nova_authz_route_decisions_total{decider=\"policy\",decision=\"step_up_required\"} "
            "%llu\n"
            "nova_authz_route_decisions_total{decider=\"unavailable\",decision=\"deny\"} %llu\n"
            "nova_authz_route_decisions_total{decider=\"unmapped_user\",decision=\"deny\"} "
            "%llu\n",
            (unsigned long long)atomic_load(&route_by_scope),
            (unsigned long long)atomic_load(&M.route_scope_denied),
            (unsigned long long)atomic_load(&route_by_policy[NOVA_POLICY_ALLOW]),
            (unsigned long long)atomic_load(&route_by_policy[NOVA_POLICY_DENY]),
            (unsigned long long)atomic_load(&route_by_policy[NOVA_POLICY_STEP_UP]),
            (unsigned long long)atomic_load(&route_unavailable),
            (unsigned long long)atomic_load(&route_user_unmapped));
    pthread_mutex_lock(&reg.mu);
    for (pol_tenant_t *e = reg.head; e && st == NOVA_OK; e = e->next) {
        pthread_mutex_lock(&e->mu);
        int64_t v = e->state.active;
        bool known = e->state_ns != 0;
        pthread_mutex_unlock(&e->mu);
        if (known)
            st = nova_buf_printf(out, "nova_authz_policy_version{tenant=\"%s\"} %lld\n",
                                 e->tenant_id, (long long)v);
    }
    pthread_mutex_unlock(&reg.mu);
    if (st == NOVA_OK)
        st = api_fga_metrics(out);
    return st;
}
