/*
 * fga.c: the OpenFGA-compatible HTTP API at OpenFGA's own paths (/stores/...), so that
 * OpenFGA's SDKs work with apiUrl pointing at novad. Request and response shapes, error codes
 * ({"code","message"}) and ids (ULIDs) are OpenFGA's; stores belong to the caller's tenant
 * (another tenant's store is not found); callers hold Nova bearer tokens with fga:read or
 * fga:write.
 *
 * Each store has one in-memory tuple index in this process (the registry below), loaded on
 * first use and kept current from the store's change feed (nova/policy_store.h): before a
 * query the index catches up to the feed's head, so every novad answers from the same tuples.
 * A write answers with the feed's head after it as consistency_token; a query that passes
 * it back is answered by an index at least that far along. MINIMIZE_LATENCY lets a query skip
 * the catch-up when the index caught up less than FGA_LATENCY_NS ago.
 *
 * Queries hold the store's read lock only while evaluating; the catch-up reads the feed
 * without any lock but its own mutex and takes the write lock only to apply what it read.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"
#include "nova/audit.h"
#include "nova/policy.h"
#include "nova/policy_store.h"

#define FGA_MAX_TUPLES_PER_WRITE 100
#define FGA_MAX_CONTEXTUAL 100
#define FGA_MAX_BATCH 50
#define FGA_PAGE_DEFAULT 50
#define FGA_PAGE_MAX 100
#define FGA_LATENCY_NS (100u * 1000u * 1000u)
#define FGA_BODY (256u * 1024u)
#define FGA_MODEL_BODY (1024u * 1024u)

/* ---- replies ---- */

/* OpenFGA's error shape: {"code": "...", "message": "..."}. */
static void fga_error(nova_req_t *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fga_error(nova_req_t *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->problem_code = code;
    api_reply_json(r, status, json_pack("{s:s, s:s}", "code", code, "message", msg));
}

static void fga_status(nova_req_t *r, nova_status st)
{
    switch (st) {
    case NOVA_NOT_FOUND:
        fga_error(r, 404, "store_id_not_found", "store not found");
        break;
    case NOVA_INVALID:
        fga_error(r, 400, "validation_error", "invalid request");
        break;
    case NOVA_UNAVAILABLE:
        nova_resp_header(r, "Retry-After", "1");
        fga_error(r, 503, "unavailable", "the store cannot be reached");
        break;
    default:
        fga_error(r, 500, "internal_error", "Internal Server Error");
    }
}

static void fga_policy_error(nova_req_t *r, const nova_policy_error_t *err)
{
    fga_error(r, 400, nova_policy_error_name(err->code), "%s", err->message);
}

/* This thread's store connection, or a 503 in OpenFGA's shape and NULL. */
static nova_store_t *fga_conn(nova_req_t *r, nova_api_t *api)
{
    nova_store_t *s = NULL;
    if (nova_store_thread(api->database_url, &s) != NOVA_OK) {
        fga_status(r, NOVA_UNAVAILABLE);
        return NULL;
    }
    return s;
}

/* ---- ids and times ---- */

static const char CROCKFORD[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* A ULID: 48 bits of milliseconds, 80 random bits; monotonic within the process (the random
 * part counts up within one millisecond), so ids sort in creation order here. */
static nova_status fga_ulid(char out[27])
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static uint64_t last_ms;
    static uint8_t last[10];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint8_t b[16];
    pthread_mutex_lock(&mu);
    if (ms <= last_ms) {
        ms = last_ms;
        int i = 9;
        while (i >= 0 && ++last[i] == 0)
            i--;
    } else if (nova_random_bytes(last, sizeof(last)) != NOVA_OK) {
        pthread_mutex_unlock(&mu);
        return NOVA_INTERNAL;
    } else {
        last[0] &= 0x7f; /* room to count up */
        last_ms = ms;
    }
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    memcpy(b + 6, last, 10);
    pthread_mutex_unlock(&mu);
    /* 128 bits as 26 base-32 digits, the first holding the top 3 bits. */
    for (int i = 25; i >= 0; i--) {
        int bit = (25 - i) * 5; /* from the least significant end */
        unsigned v = 0;
        for (int k = 0; k < 5; k++) {
            int pos = bit + k;
            if (pos < 128 && (b[15 - pos / 8] >> (pos % 8)) & 1)
                v |= 1u << k;
        }
        out[i] = CROCKFORD[v];
    }
    out[26] = '\0';
    return NOVA_OK;
}

static bool is_ulid(const char *s)
{
    if (s == NULL || strlen(s) != 26 || s[0] > '7')
        return false;
    for (int i = 0; i < 26; i++)
        if (strchr(CROCKFORD, s[i]) == NULL || s[i] == '\0')
            return false;
    return true;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* RFC 3339 with microseconds, UTC. */
static const char *fga_time(nova_arena_t *a, int64_t us)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    return nova_arena_printf(a, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                             (int)(us % 1000000));
}

/* Parses RFC 3339 ("2024-01-01T00:00:00Z", fractions and offsets allowed) to unix µs. */
static bool parse_time(const char *s, int64_t *us)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return false;
    const char *p = s + n;
    int64_t frac = 0, scale = 1000000;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9') {
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
            p++;
        }
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5)
            return false;
        off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
        return false;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    *us = ((int64_t)timegm(&tm) - off) * 1000000 + frac;
    return true;
}

/* ---- the per-store index registry ---- */

typedef struct fga_model_ref {
    char id[27];
    nova_policy_model_t *model;
    struct fga_model_ref *next;
} fga_model_ref_t;

typedef struct fga_ix {
    struct fga_ix *next;
    char tenant_id[72];
    char store_id[27];
    pthread_rwlock_t lock;   /* ix: read by queries, written by the catch-up */
    pthread_mutex_t sync_mu; /* one load or catch-up at a time */
    nova_policy_index_t *ix; /* NULL until loaded */
    _Atomic bool loaded;     /* ix is set */
    _Atomic int64_t seq;     /* changes applied */
    _Atomic uint64_t synced_ns;
    pthread_mutex_t models_mu;
    fga_model_ref_t *models; /* parsed models, never freed while the process runs */
} fga_ix_t;

/* Parsed-model cache lookups (the cache hit rate of /metrics). */
static _Atomic uint64_t fga_cache_hits, fga_cache_misses;

/* Entries live as long as the process (models are immutable and shared by requests). */
static struct {
    pthread_mutex_t mu;
    fga_ix_t *head;
} fga_reg = {PTHREAD_MUTEX_INITIALIZER, NULL};

static fga_ix_t *fga_entry(const char *tenant_id, const char *store_id)
{
    pthread_mutex_lock(&fga_reg.mu);
    fga_ix_t *e = fga_reg.head;
    while (e && (strcmp(e->store_id, store_id) != 0 || strcmp(e->tenant_id, tenant_id) != 0))
        e = e->next;
    if (e == NULL && strlen(tenant_id) < sizeof(e->tenant_id) && (e = calloc(1, sizeof(*e)))) {
        snprintf(e->tenant_id, sizeof(e->tenant_id), "%s", tenant_id);
        snprintf(e->store_id, sizeof(e->store_id), "%s", store_id);
        pthread_rwlock_init(&e->lock, NULL);
        pthread_mutex_init(&e->sync_mu, NULL);
        pthread_mutex_init(&e->models_mu, NULL);
        e->next = fga_reg.head;
        fga_reg.head = e;
    }
    pthread_mutex_unlock(&fga_reg.mu);
    return e;
}

/* Decodes a tuple key of the change feed or of a request (OpenFGA's TupleKey shape). The
 * tuple's strings borrow from j. */
static bool tuple_from_json(const json_t *j, nova_policy_tuple_t *t)
{
    memset(t, 0, sizeof(*t));
    t->object = json_string_value(json_object_get(j, "object"));
    t->relation = json_string_value(json_object_get(j, "relation"));
    t->user = json_string_value(json_object_get(j, "user"));
    const json_t *c = json_object_get(j, "condition");
    if (c) {
        t->condition = json_string_value(json_object_get(c, "name"));
        t->context = json_object_get(c, "context");
        if (t->condition == NULL || (t->context && !json_is_object(t->context)))
            return false;
    }
    return t->object && t->relation && t->user;
}

static nova_status apply_change(nova_policy_index_t *ix, const nova_fga_change_t *c)
{
    json_t *j = json_loads(c->tuple, 0, NULL);
    nova_policy_tuple_t t;
    nova_status st = NOVA_INTERNAL;
    if (j && tuple_from_json(j, &t)) {
        st = nova_policy_index_remove(ix, t.object, t.relation, t.user);
        if (st == NOVA_OK || st == NOVA_NOT_FOUND)
            st = strcmp(c->op, "write") == 0 ? nova_policy_index_add(ix, &t) : NOVA_OK;
    }
    json_decref(j);
    return st;
}

static nova_status load_tuple(const nova_fga_tuple_t *t, void *ud)
{
    json_t *ctx = t->context[0] ? json_loads(t->context, 0, NULL) : NULL;
    if (t->context[0] && ctx == NULL)
        return NOVA_INTERNAL;
    nova_policy_tuple_t pt = {t->object, t->relation, t->user,
                              t->condition[0] ? t->condition : NULL, ctx};
    nova_status st = nova_policy_index_add(ud, &pt);
    json_decref(ctx);
    return st;
}

/* Brings e's index up to the feed's head (loading it first if needed). want: the head to
 * reach at least (-1: whatever the feed holds now). */
static nova_status fga_sync(nova_store_t *s, fga_ix_t *e, int64_t want)
{
    nova_status st = NOVA_OK;
    nova_arena_t ar = {0};
    pthread_mutex_lock(&e->sync_mu);
    if (e->ix == NULL) {
        int64_t head = 0;
        nova_policy_index_t *ix = nova_policy_index_new();
        st = ix ? nova_store_fga_change_head(s, e->tenant_id, e->store_id, &head) : NOVA_NOMEM;
        if (st == NOVA_OK)
            st = nova_store_fga_tuple_scan(s, e->tenant_id, e->store_id, load_tuple, ix);
        if (st == NOVA_OK)
            nova_policy_index_shrink(ix);
        if (st != NOVA_OK) {
            nova_policy_index_free(ix);
            goto end;
        }
        pthread_rwlock_wrlock(&e->lock);
        e->ix = ix;
        atomic_store(&e->seq, head);
        atomic_store(&e->loaded, true);
        pthread_rwlock_unlock(&e->lock);
    }
    for (;;) {
        int64_t seq = atomic_load(&e->seq);
        if (want >= 0 && seq >= want)
            break;
        nova_fga_change_t *ch;
        size_t n;
        st = nova_store_fga_changes(s, &ar, e->tenant_id, e->store_id, seq, 0, 1000, &ch, &n);
        if (st != NOVA_OK || n == 0)
            break;
        pthread_rwlock_wrlock(&e->lock);
        for (size_t i = 0; i < n && st == NOVA_OK; i++)
            if ((st = apply_change(e->ix, &ch[i])) == NOVA_OK)
                atomic_store(&e->seq, ch[i].seq);
        pthread_rwlock_unlock(&e->lock);
        nova_arena_free(&ar);
        if (st != NOVA_OK || (n < 1000 && want < 0))
            break;
    }
    if (st == NOVA_OK)
        atomic_store(&e->synced_ns, nova_time_mono_ns());
end:
    pthread_mutex_unlock(&e->sync_mu);
    nova_arena_free(&ar);
    return st;
}

/* ---- request decoding ---- */

/* What every store route starts with: the live store of the caller's tenant. */
typedef struct fga_ctx {
    nova_api_t *api;
    nova_store_t *s;
    const char *tenant_id;
    const char *store_id;
    nova_fga_store_t store;
    const char *latest_model; /* read with the store: "" when it has no model */
    int64_t head;             /* the change feed's head when the store was read */
    json_t *body;
} fga_ctx_t;

/* Decodes the body as a JSON object with only the listed members. */
static json_t *fga_body(nova_req_t *r, const char *const *members)
{
    const char *ct = nova_req_header(r, "Content-Type");
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
        fga_error(r, 415, "unsupported_media_type", "send the body as application/json");
        return NULL;
    }
    char err[160];
    json_t *obj = NULL;
    nova_status st = nova_json_parse_body(r->body.data ? r->body.data : "", r->body.len, members,
                                          &obj, err, sizeof(err));
    if (st == NOVA_TOO_LARGE) {
        fga_error(r, 413, "payload_too_large", "%s", err);
        return NULL;
    }
    if (st != NOVA_OK) {
        fga_error(r, 400, "validation_error", "invalid request body: %s", err);
        return NULL;
    }
    return obj;
}

/* Opens the store named by the first path parameter. members: the body's members, or NULL
 * for a route without a body. */
static bool fga_open(nova_req_t *r, void *ud, const char *const *members, fga_ctx_t *c)
{
    memset(c, 0, sizeof(*c));
    c->api = ud;
    c->tenant_id = r->principal->tenant_id;
    c->store_id = r->params[0];
    if (!is_ulid(c->store_id)) {
        fga_error(r, 400, "validation_error", "invalid StoreId: a ULID is required");
        return false;
    }
    if (members && (c->body = fga_body(r, members)) == NULL)
        return false;
    if ((c->s = fga_conn(r, c->api)) == NULL)
        goto fail;
    nova_status st = nova_store_fga_store_state(c->s, &r->arena, c->tenant_id, c->store_id,
                                                &c->store, &c->latest_model, &c->head);
    if (st != NOVA_OK) {
        fga_status(r, st);
        goto fail;
    }
    return true;
fail:
    json_decref(c->body);
    c->body = NULL;
    return false;
}

static nova_audit_entry_t *fga_audit(nova_req_t *r, const char *tenant, const char *action,
                                     const char *type, const char *id, json_t *attrs)
{
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_audit_entry_t *e = nova_arena_alloc(&r->arena, sizeof(*e));
    if (e == NULL ||
        nova_audit_entry_make(e, &r->arena, &by, tenant, action, type, id, attrs) != NOVA_OK)
        return NULL;
    return e;
}

/* page_size: absent is the default; else 1..FGA_PAGE_MAX. */
static bool page_size(nova_req_t *r, const json_t *v, const char *q, size_t *out)
{
    *out = FGA_PAGE_DEFAULT;
    long long n = 0;
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v))
            goto bad;
        n = json_integer_value(v);
    } else if (q) {
        char *end;
        n = strtoll(q, &end, 10);
        if (*q == '\0' || *end)
            goto bad;
    } else {
        return true;
    }
    if (n < 1 || n > FGA_PAGE_MAX)
        goto bad;
    *out = (size_t)n;
    return true;
bad:
    fga_error(r, 400, "validation_error", "invalid page_size: 1 to %d", FGA_PAGE_MAX);
    return false;
}

/* An optional string member ("" when absent); false (reply written) when not a string. */
static bool opt_str(nova_req_t *r, const json_t *o, const char *name, const char **out)
{
    const json_t *v = json_object_get(o, name);
    *out = "";
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        fga_error(r, 400, "validation_error", "invalid %s: a string is required", name);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool valid_object(const char *s)
{
    const char *colon = s ? strchr(s, ':') : NULL;
    return colon && colon != s && colon[1] && !strchr(s, '#') && !strchr(s, ' ') &&
           strlen(s) <= 256;
}

/* A TupleKey of a request: object "type:id", relation, user, optional condition; strings
 * borrowed from j. what names it in errors. */
static bool req_tuple(nova_req_t *r, const json_t *j, const char *what, nova_policy_tuple_t *t)
{
    if (!json_is_object(j) || !tuple_from_json(j, t)) {
        fga_error(r, 400, "validation_error",
                  "invalid %s: object, relation and user are required strings (condition: "
                  "{name, context})",
                  what);
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v)
    {
        if (strcmp(k, "object") && strcmp(k, "relation") && strcmp(k, "user") &&
            strcmp(k, "condition")) {
            fga_error(r, 400, "validation_error", "invalid %s: unknown member %s", what, k);
            return false;
        }
    }
    if (!valid_object(t->object) || t->relation[0] == '\0' || t->user[0] == '\0' ||
        strlen(t->relation) > 50 || strlen(t->user) > 512) {
        fga_error(r, 400, "validation_error", "invalid %s '%.256s#%.64s@%.256s'", what, t->object,
                  t->relation, t->user);
        return false;
    }
    return true;
}

/* Contextual tuples: OpenFGA's {"tuple_keys": [...]} (or a bare array, as list-users takes). */
static bool req_contextual(nova_req_t *r, const json_t *v, nova_policy_tuple_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (v == NULL || json_is_null(v))
        return true;
    const json_t *arr = json_is_array(v) ? v : json_object_get(v, "tuple_keys");
    if (json_is_object(v) && json_object_size(v) > 1)
        arr = NULL;
    if (json_is_object(v) && json_object_size(v) == 0)
        return true;
    if (!json_is_array(arr)) {
        fga_error(r, 400, "validation_error", "invalid contextual_tuples: {\"tuple_keys\": [...]}");
        return false;
    }
    size_t k = json_array_size(arr);
    if (k > FGA_MAX_CONTEXTUAL) {
        fga_error(r, 400, "validation_error", "more than %d contextual tuples", FGA_MAX_CONTEXTUAL);
        return false;
    }
    if (k == 0)
        return true;
    *out = nova_arena_alloc(&r->arena, k * sizeof(**out));
    if (*out == NULL) {
        fga_status(r, NOVA_NOMEM);
        return false;
    }
    for (size_t i = 0; i < k; i++)
        if (!req_tuple(r, json_array_get(arr, i), "contextual tuple", &(*out)[i]))
            return false;
    *n = k;
    return true;
}

static bool req_context(nova_req_t *r, const json_t *v, const json_t **out)
{
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_object(v)) {
        fga_error(r, 400, "validation_error", "invalid context: an object is required");
        return false;
    }
    *out = v;
    return true;
}

/* The model a request names (authorization_model_id), or the store's latest. */
/* The parsed model id of e's store, from the process's cache or the store (parsed once).
 * row: the model's row when the caller read it already, else NULL. NOVA_NOT_FOUND: no such
 * model; the pointer stays valid as long as the process runs. */
static nova_status model_ref(nova_store_t *s, nova_arena_t *a, fga_ix_t *e, const char *id,
                             const nova_fga_model_t *row, fga_model_ref_t **out)
{
    pthread_mutex_lock(&e->models_mu);
    fga_model_ref_t *m = e->models;
    while (m && strcmp(m->id, id) != 0)
        m = m->next;
    pthread_mutex_unlock(&e->models_mu);
    if (m) {
        atomic_fetch_add(&fga_cache_hits, 1);
        *out = m;
        return NOVA_OK;
    }
    atomic_fetch_add(&fga_cache_misses, 1);
    nova_fga_model_t got;
    if (row == NULL) {
        nova_status st = nova_store_fga_model_get(s, a, e->tenant_id, e->store_id, id, &got);
        if (st != NOVA_OK)
            return st;
        row = &got;
    }
    json_t *j = json_loads(row->json, 0, NULL);
    nova_policy_error_t err;
    nova_policy_model_t *pm = NULL;
    if (j == NULL || nova_policy_model_from_json(j, &pm, &err) != NOVA_OK ||
        (m = calloc(1, sizeof(*m))) == NULL) {
        json_decref(j);
        nova_policy_model_free(pm);
        return NOVA_INTERNAL;
    }
    json_decref(j);
    snprintf(m->id, sizeof(m->id), "%s", id);
    m->model = pm;
    pthread_mutex_lock(&e->models_mu);
    fga_model_ref_t *again = e->models;
    while (again && strcmp(again->id, id) != 0)
        again = again->next;
    if (again) { /* another thread parsed it meanwhile */
        nova_policy_model_free(pm);
        free(m);
        m = again;
    } else {
        m->next = e->models;
        e->models = m;
    }
    pthread_mutex_unlock(&e->models_mu);
    *out = m;
    return NOVA_OK;
}

static bool fga_model(nova_req_t *r, fga_ctx_t *c, fga_ix_t *e, const json_t *body,
                      const nova_policy_model_t **out, const char **id_out)
{
    const char *id;
    if (!opt_str(r, body, "authorization_model_id", &id))
        return false;
    if (id[0] && !is_ulid(id)) {
        fga_error(r, 400, "validation_error", "invalid AuthorizationModelId: a ULID is required");
        return false;
    }
    if (id[0] == '\0') {
        /* the latest, as read with the store (no read of its own) */
        if (c->latest_model[0] == '\0') {
            fga_error(r, 400, "latest_authorization_model_not_found",
                      "No authorization models found for store '%s'", c->store_id);
            return false;
        }
        id = c->latest_model;
    }
    fga_model_ref_t *m = NULL;
    nova_status st = model_ref(c->s, &r->arena, e, id, NULL, &m);
    if (st == NOVA_NOT_FOUND) {
        fga_error(r, 400, "authorization_model_not_found", "Authorization Model '%s' not found",
                  id);
        return false;
    }
    if (st != NOVA_OK) {
        fga_status(r, st);
        return false;
    }
    *out = m->model;
    if (id_out)
        *id_out = m->id;
    return true;
}

/* Consistency: "consistency" (UNSPECIFIED, MINIMIZE_LATENCY, HIGHER_CONSISTENCY) and Nova's
 * "consistency_token" (the seq a write answered). Brings the index along as they ask. */
static bool fga_consistent(nova_req_t *r, fga_ctx_t *c, fga_ix_t *e, const json_t *body)
{
    const char *mode, *tok;
    if (!opt_str(r, body, "consistency", &mode) || !opt_str(r, body, "consistency_token", &tok))
        return false;
    if (mode[0] && strcmp(mode, "UNSPECIFIED") && strcmp(mode, "MINIMIZE_LATENCY") &&
        strcmp(mode, "HIGHER_CONSISTENCY")) {
        fga_error(r, 400, "validation_error",
                  "invalid consistency: UNSPECIFIED, MINIMIZE_LATENCY or HIGHER_CONSISTENCY");
        return false;
    }
    int64_t want = -1;
    if (tok[0]) {
        char *end;
        long long v = strtoll(tok, &end, 10);
        if (*end || v < 0) {
            fga_error(r, 400, "validation_error", "invalid consistency_token");
            return false;
        }
        want = v;
    }
    bool loaded = atomic_load(&e->loaded);
    if (loaded && want >= 0 && atomic_load(&e->seq) >= want)
        return true;
    if (loaded && want < 0 && strcmp(mode, "MINIMIZE_LATENCY") == 0 &&
        nova_time_mono_ns() - atomic_load(&e->synced_ns) < FGA_LATENCY_NS)
        return true;
    if (want < 0 && loaded) {
        int64_t head = c->head; /* read with the store */
        want = head;
        if (atomic_load(&e->seq) >= head) {
            atomic_store(&e->synced_ns, nova_time_mono_ns());
            return true;
        }
    }
    nova_status st = fga_sync(c->s, e, want);
    if (st == NOVA_OK && want >= 0 && atomic_load(&e->seq) < want) {
        fga_error(r, 400, "validation_error", "consistency_token is ahead of this store's changes");
        return false;
    }
    if (st != NOVA_OK) {
        fga_status(r, st);
        return false;
    }
    return true;
}

/* ---- stores ---- */

static json_t *store_json(nova_arena_t *a, const nova_fga_store_t *s)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "id", s->id, "name", s->name, "created_at",
                     fga_time(a, s->created_at), "updated_at", fga_time(a, s->updated_at));
}

static bool valid_store_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(ch == '_' || ch == ' ' || ch == '.' || ch == '/' || ch == '@' || ch == '-' ||
              (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            return false;
    }
    return true;
}

static void stores_create(nova_req_t *r, void *ud)
{
    static const char *const members[] = {"name", NULL};
    json_t *body = fga_body(r, members);
    if (body == NULL)
        return;
    const char *name = json_string_value(json_object_get(body, "name"));
    nova_store_t *s;
    char id[27];
    if (name == NULL || !valid_store_name(name)) {
        fga_error(r, 400, "validation_error",
                  "invalid name: 3 to 64 letters, digits, spaces and ._/@-");
    } else if ((s = fga_conn(r, ud)) != NULL) {
        int64_t now = now_us();
        nova_fga_store_t fs = {id, r->principal->tenant_id, name, now, now};
        nova_audit_entry_t *ae;
        nova_status st = fga_ulid(id);
        if (st == NOVA_OK)
            st = (ae = fga_audit(r, fs.tenant_id, "fga_store.create", "fga_store", id,
                                 json_pack("{s:s}", "name", name)))
                     ? nova_store_fga_store_create(s, &fs, ae)
                     : NOVA_INTERNAL;
        if (st != NOVA_OK)
            fga_status(r, st == NOVA_NOT_FOUND ? NOVA_INTERNAL : st);
        else
            api_reply_json(r, 201, store_json(&r->arena, &fs));
    }
    json_decref(body);
}

static void stores_list(nova_req_t *r, void *ud)
{
    size_t limit;
    const char *after = nova_req_query(r, "continuation_token");
    const char *name = nova_req_query(r, "name");
    if (!page_size(r, NULL, nova_req_query(r, "page_size"), &limit))
        return;
    if (after && after[0] && !is_ulid(after)) {
        fga_error(r, 400, "invalid_continuation_token", "Invalid continuation token");
        return;
    }
    nova_store_t *s = fga_conn(r, ud);
    if (s == NULL)
        return;
    json_t *arr = json_array();
    const char *cursor = after ? after : "";
    bool more = false;
    /* name filters after the page is read: keep reading pages until one is full. */
    for (;;) {
        nova_fga_store_t *rows;
        size_t n;
        nova_status st = nova_store_fga_store_list(s, &r->arena, r->principal->tenant_id, cursor,
                                                   limit + 1, &rows, &n);
        if (st != NOVA_OK) {
            json_decref(arr);
            fga_status(r, st);
            return;
        }
        size_t i = 0;
        for (; i < n && json_array_size(arr) < limit; i++) {
            cursor = rows[i].id;
            if (name == NULL || strcmp(name, rows[i].name) == 0)
                json_array_append_new(arr, store_json(&r->arena, &rows[i]));
        }
        more = i < n;
        if (more || n <= limit)
            break;
    }
    api_reply_json(
        r, 200, json_pack("{s:o, s:s}", "stores", arr, "continuation_token", more ? cursor : ""));
}

static void stores_get(nova_req_t *r, void *ud)
{
    fga_ctx_t c;
    if (fga_open(r, ud, NULL, &c))
        api_reply_json(r, 200, store_json(&r->arena, &c.store));
}

static void stores_delete(nova_req_t *r, void *ud)
{
    fga_ctx_t c;
    if (!fga_open(r, ud, NULL, &c))
        return;
    nova_audit_entry_t *ae =
        fga_audit(r, c.tenant_id, "fga_store.delete", "fga_store", c.store_id, NULL);
    nova_status st = ae ? nova_store_fga_store_delete(c.s, c.tenant_id, c.store_id, now_us(), ae)
                        : NOVA_INTERNAL;
    if (st != NOVA_OK)
        fga_status(r, st);
    else
        nova_resp_body(r, 204, NULL, NULL, 0);
}

/* ---- models ---- */

static json_t *model_json(const nova_fga_model_t *m)
{
    json_t *j = json_loads(m->json, 0, NULL);
    if (j)
        json_object_set_new(j, "id", json_string(m->id));
    return j;
}

static void models_write(nova_req_t *r, void *ud)
{
    static const char *const members[] = {"schema_version", "type_definitions", "conditions", NULL};
    fga_ctx_t c;
    if (!fga_open(r, ud, members, &c))
        return;
    nova_policy_error_t err;
    nova_policy_model_t *pm = NULL;
    json_t *mj = NULL;
    char id[27];
    if (nova_policy_model_from_json(c.body, &pm, &err) != NOVA_OK) {
        fga_policy_error(r, &err);
        goto end;
    }
    char *text = NULL;
    nova_status st = fga_ulid(id);
    if (st == NOVA_OK && ((mj = nova_policy_model_to_json(pm)) == NULL ||
                          (text = json_dumps(mj, JSON_COMPACT | JSON_SORT_KEYS)) == NULL))
        st = NOVA_NOMEM;
    if (st == NOVA_OK) {
        const char *sv = json_string_value(json_object_get(mj, "schema_version"));
        nova_fga_model_t m = {id, c.store_id, c.tenant_id, sv ? sv : "1.1", text, now_us()};
        nova_audit_entry_t *ae = fga_audit(r, c.tenant_id, "fga_model.create", "fga_model", id,
                                           json_pack("{s:s}", "store_id", c.store_id));
        st = ae ? nova_store_fga_model_insert(c.s, &m, ae) : NOVA_INTERNAL;
    }
    free(text);
    if (st != NOVA_OK)
        fga_status(r, st);
    else
        api_reply_json(r, 201, json_pack("{s:s}", "authorization_model_id", id));
end:
    nova_policy_model_free(pm);
    json_decref(mj);
    json_decref(c.body);
}

static void models_list(nova_req_t *r, void *ud)
{
    fga_ctx_t c;
    size_t limit;
    const char *before = nova_req_query(r, "continuation_token");
    if (!page_size(r, NULL, nova_req_query(r, "page_size"), &limit))
        return;
    if (before && before[0] && !is_ulid(before)) {
        fga_error(r, 400, "invalid_continuation_token", "Invalid continuation token");
        return;
    }
    if (!fga_open(r, ud, NULL, &c))
        return;
    nova_fga_model_t *rows;
    size_t n;
    nova_status st = nova_store_fga_model_list(c.s, &r->arena, c.tenant_id, c.store_id,
                                               before ? before : "", limit + 1, &rows, &n);
    if (st != NOVA_OK) {
        fga_status(r, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < limit; i++)
        json_array_append_new(arr, model_json(&rows[i]));
    api_reply_json(r, 200,
                   json_pack("{s:o, s:s}", "authorization_models", arr, "continuation_token",
                             n > limit ? rows[limit - 1].id : ""));
}

static void models_get(nova_req_t *r, void *ud)
{
    fga_ctx_t c;
    if (!is_ulid(r->params[1])) {
        fga_error(r, 400, "validation_error", "invalid AuthorizationModelId: a ULID is required");
        return;
    }
    if (!fga_open(r, ud, NULL, &c))
        return;
    nova_fga_model_t m;
    nova_status st =
        nova_store_fga_model_get(c.s, &r->arena, c.tenant_id, c.store_id, r->params[1], &m);
    if (st == NOVA_NOT_FOUND)
        fga_error(r, 404, "authorization_model_not_found", "Authorization Model '%s' not found",
                  r->params[1]);
    else if (st != NOVA_OK)
        fga_status(r, st);
    else
        api_reply_json(r, 200, json_pack("{s:o}", "authorization_model", model_json(&m)));
}

/* ---- tuples ---- */

/* The JSON the change feed and /read show for a tuple: OpenFGA's TupleKey. */
static json_t *tuple_json(const char *object, const char *relation, const char *user,
                          const char *condition, const char *context)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "object", object, "relation", relation, "user", user);
    if (j && condition && condition[0]) {
        json_t *ctx = context && context[0] ? json_loads(context, 0, NULL) : NULL;
        json_t *cj = json_pack("{s:s}", "name", condition);
        if (ctx)
            json_object_set_new(cj, "context", ctx);
        json_object_set_new(j, "condition", cj);
    }
    return j;
}

/* Reads writes or deletes ({"tuple_keys": [...], "on_duplicate"/"on_missing": ...}). */
static bool write_part(nova_req_t *r, const json_t *part, bool del, const nova_policy_model_t *m,
                       nova_fga_tuple_t **out, size_t *n, bool *ignore)
{
    *out = NULL;
    *n = 0;
    *ignore = false;
    if (part == NULL || json_is_null(part))
        return true;
    const char *opt = del ? "on_missing" : "on_duplicate";
    const json_t *keys = json_object_get(part, "tuple_keys");
    const char *k;
    json_t *v;
    if (!json_is_object(part) || !json_is_array(keys)) {
        fga_error(r, 400, "validation_error", "invalid %s: {\"tuple_keys\": [...]}",
                  del ? "deletes" : "writes");
        return false;
    }
    json_object_foreach((json_t *)part, k, v)
    {
        if (strcmp(k, "tuple_keys") && strcmp(k, opt)) {
            fga_error(r, 400, "validation_error", "invalid %s: unknown member %s",
                      del ? "deletes" : "writes", k);
            return false;
        }
    }
    const char *o = json_string_value(json_object_get(part, opt));
    if (json_object_get(part, opt) && (o == NULL || (strcmp(o, "error") && strcmp(o, "ignore")))) {
        fga_error(r, 400, "validation_error", "invalid %s: \"error\" or \"ignore\"", opt);
        return false;
    }
    *ignore = o && strcmp(o, "ignore") == 0;
    size_t cnt = json_array_size(keys);
    if (cnt == 0)
        return true;
    if (cnt > FGA_MAX_TUPLES_PER_WRITE) {
        fga_error(r, 400, "exceeded_entity_limit",
                  "number of write operations exceeds the allowed limit of %d",
                  FGA_MAX_TUPLES_PER_WRITE);
        return false;
    }
    nova_fga_tuple_t *arr = nova_arena_alloc(&r->arena, cnt * sizeof(*arr));
    if (arr == NULL) {
        fga_status(r, NOVA_NOMEM);
        return false;
    }
    for (size_t i = 0; i < cnt; i++) {
        nova_policy_tuple_t t;
        nova_policy_error_t err;
        if (!req_tuple(r, json_array_get(keys, i), del ? "tuple to delete" : "tuple to write", &t))
            return false;
        if (del && t.condition) {
            fga_error(r, 400, "validation_error", "a tuple to delete takes no condition");
            return false;
        }
        if (!del && nova_policy_tuple_validate(m, &t, &err) != NOVA_OK) {
            fga_error(r, 400, "validation_error", "Invalid tuple '%.256s#%.64s@%.256s'. Reason: %s",
                      t.object, t.relation, t.user, err.message);
            return false;
        }
        char *ctx = t.context && json_object_size(t.context)
                        ? json_dumps(t.context, JSON_COMPACT | JSON_SORT_KEYS)
                        : NULL;
        json_t *cj = tuple_json(t.object, t.relation, t.user, t.condition, ctx);
        char *change = cj ? json_dumps(cj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(cj);
        arr[i] = (nova_fga_tuple_t){
            .object = t.object,
            .relation = t.relation,
            .user = t.user,
            .condition = t.condition ? t.condition : "",
            .context = ctx ? nova_arena_strdup(&r->arena, ctx) : "",
            .change = change ? nova_arena_strdup(&r->arena, change) : NULL,
        };
        free(ctx);
        free(change);
        char *ulid = nova_arena_alloc(&r->arena, 27);
        if (arr[i].change == NULL || ulid == NULL || fga_ulid(ulid) != NOVA_OK) {
            fga_status(r, NOVA_NOMEM);
            return false;
        }
        arr[i].ulid = ulid;
    }
    *out = arr;
    *n = cnt;
    return true;
}

static bool same_key(const nova_fga_tuple_t *a, const nova_fga_tuple_t *b)
{
    return strcmp(a->object, b->object) == 0 && strcmp(a->relation, b->relation) == 0 &&
           strcmp(a->user, b->user) == 0;
}

static void tuples_write(nova_req_t *r, void *ud)
{
    static const char *const members[] = {"writes", "deletes", "authorization_model_id", NULL};
    fga_ctx_t c;
    if (!fga_open(r, ud, members, &c))
        return;
    fga_ix_t *e = fga_entry(c.tenant_id, c.store_id);
    const nova_policy_model_t *m;
    nova_fga_write_t w = {0};
    if (e == NULL) {
        fga_status(r, NOVA_NOMEM);
        goto end;
    }
    if (!fga_model(r, &c, e, c.body, &m, NULL) ||
        !write_part(r, json_object_get(c.body, "writes"), false, m, (nova_fga_tuple_t **)&w.writes,
                    &w.nwrites, &w.ignore_duplicate) ||
        !write_part(r, json_object_get(c.body, "deletes"), true, m, (nova_fga_tuple_t **)&w.deletes,
                    &w.ndeletes, &w.ignore_missing))
        goto end;
    size_t total = w.nwrites + w.ndeletes;
    if (total == 0) {
        fga_error(r, 400, "invalid_write_input",
                  "Invalid input. Make sure you provide at least "
                  "one write or delete");
        goto end;
    }
    if (total > FGA_MAX_TUPLES_PER_WRITE) {
        fga_error(r, 400, "exceeded_entity_limit",
                  "number of write operations exceeds the allowed limit of %d",
                  FGA_MAX_TUPLES_PER_WRITE);
        goto end;
    }
    for (size_t i = 0; i < total; i++)
        for (size_t j = i + 1; j < total; j++) {
            const nova_fga_tuple_t *a = i < w.nwrites ? &w.writes[i] : &w.deletes[i - w.nwrites];
            const nova_fga_tuple_t *b = j < w.nwrites ? &w.writes[j] : &w.deletes[j - w.nwrites];
            if (same_key(a, b)) {
                fga_error(r, 400, "cannot_allow_duplicate_tuples_in_one_request",
                          "duplicate tuple in write: user: '%.256s', relation: '%.64s', object: "
                          "'%.256s'",
                          a->user, a->relation, a->object);
                goto end;
            }
        }
    nova_fga_write_result_t res;
    nova_audit_entry_t *ae = fga_audit(r, c.tenant_id, "fga_tuples.write", "fga_store", c.store_id,
                                       json_pack("{s:I, s:I}", "writes", (json_int_t)w.nwrites,
                                                 "deletes", (json_int_t)w.ndeletes));
    nova_status st = ae ? nova_store_fga_write(c.s, c.tenant_id, c.store_id, &w, now_us(), ae, &res)
                        : NOVA_INTERNAL;
    if (st == NOVA_CONFLICT) {
        const nova_fga_tuple_t *t = res.bad_delete ? &w.deletes[res.bad] : &w.writes[res.bad];
        fga_error(r, 400, "write_failed_due_to_invalid_input",
                  res.bad_delete ? "cannot delete a tuple which does not exist: user: '%.256s', "
                                   "relation: '%.64s', object: '%.256s'"
                                 : "cannot write a tuple which already exists: user: '%.256s', "
                                   "relation: '%.64s', object: '%.256s'",
                  t->user, t->relation, t->object);
        goto end;
    }
    if (st != NOVA_OK) {
        fga_status(r, st);
        goto end;
    }
    /* This instance reads its own writes without the token. */
    if (atomic_load(&e->loaded) && fga_sync(c.s, e, res.seq) != NOVA_OK)
        atomic_store(&e->synced_ns, 0);
    char tok[24];
    snprintf(tok, sizeof(tok), "%lld", (long long)res.seq);
    nova_resp_header(r, "X-Nova-Consistency-Token", tok);
    api_reply_json(r, 200, json_pack("{s:s}", "consistency_token", tok));
end:
    json_decref(c.body);
}

/* The read cursor: base64url of the last tuple key as a JSON array [object, relation, user]. */
static const char *read_cursor(nova_arena_t *a, const nova_fga_tuple_t *t)
{
    json_t *j = json_pack("[s,s,s]", t->object, t->relation, t->user);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char *out = text ? nova_arena_alloc(a, nova_b64url_encoded_len(strlen(text)) + 1) : NULL;
    if (out)
        nova_b64url_encode((const uint8_t *)text, strlen(text), out);
    free(text);
    return out;
}

static json_t *read_cursor_parse(nova_arena_t *a, const char *tok)
{
    size_t n = strlen(tok), len = 0;
    if (n > 4096)
        return NULL;
    uint8_t *buf = nova_arena_alloc(a, nova_b64url_decoded_max(n) + 1);
    if (buf == NULL || nova_b64url_decode(tok, n, buf, &len) != NOVA_OK)
        return NULL;
    json_t *j = json_loadb((const char *)buf, len, 0, NULL);
    if (!json_is_array(j) || json_array_size(j) != 3 || !json_is_string(json_array_get(j, 0)) ||
        !json_is_string(json_array_get(j, 1)) || !json_is_string(json_array_get(j, 2))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static void tuples_read(nova_req_t *r, void *ud)
{
    static const char *const members[] = {"tuple_key",   "page_size",         "continuation_token",
                                          "consistency", "consistency_token", NULL};
    fga_ctx_t c;
    if (!fga_open(r, ud, members, &c))
        return;
    nova_fga_tuple_filter_t f = {0};
    json_t *cur = NULL, *key = json_object_get(c.body, "tuple_key");
    size_t limit;
    const char *tok, *mode;
    if (!page_size(r, json_object_get(c.body, "page_size"), NULL, &limit) ||
        !opt_str(r, c.body, "continuation_token", &tok) ||
        !opt_str(r, c.body, "consistency", &mode))
        goto end;
    if (key && !json_is_null(key)) {
        const char *obj;
        if (!json_is_object(key) || !opt_str(r, key, "object", &obj) ||
            !opt_str(r, key, "relation", &f.relation) || !opt_str(r, key, "user", &f.user))
            goto bad_key;
        size_t ol = strlen(obj);
        if (ol && obj[ol - 1] == ':') {
            f.object_type = nova_arena_strndup(&r->arena, obj, ol - 1);
            if (f.user[0] == '\0' || ol == 1)
                goto bad_key;
        } else if (ol && !valid_object(obj)) {
            goto bad_key;
        } else {
            f.object = obj;
        }
        if (ol == 0 && (f.relation[0] || f.user[0]))
            goto bad_key;
    }
    if (tok[0]) {
        if ((cur = read_cursor_parse(&r->arena, tok)) == NULL) {
            fga_error(r, 400, "invalid_continuation_token", "Invalid continuation token");
            goto end;
        }
        f.after_object = json_string_value(json_array_get(cur, 0));
        f.after_relation = json_string_value(json_array_get(cur, 1));
        f.after_user = json_string_value(json_array_get(cur, 2));
    }
    nova_fga_tuple_t *rows;
    size_t n;
    nova_status st = nova_store_fga_tuple_read(c.s, &r->arena, c.tenant_id, c.store_id, &f,
                                               limit + 1, &rows, &n);
    if (st != NOVA_OK) {
        fga_status(r, st);
        goto end;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < limit; i++)
        json_array_append_new(arr,
                              json_pack("{s:o, s:s}", "key",
                                        tuple_json(rows[i].object, rows[i].relation, rows[i].user,
                                                   rows[i].condition, rows[i].context),
                                        "timestamp", fga_time(&r->arena, rows[i].created_at)));
    const char *next = n > limit ? read_cursor(&r->arena, &rows[limit - 1]) : "";
    api_reply_json(r, 200,
                   json_pack("{s:o, s:s}", "tuples", arr, "continuation_token", next ? next : ""));
    goto end;
bad_key:
    fga_error(r, 400, "validation_error",
              "invalid tuple_key: object 'type:id' or 'type:' (with a user), relation, user; a "
              "relation or user needs an object");
end:
    json_decref(cur);
    json_decref(c.body);
}

/* ---- queries ---- */

/* A query's common part: model, contextual tuples, context, consistency. */
typedef struct fga_query {
    fga_ix_t *e;
    nova_policy_query_t q;
    const char *model_id;
} fga_query_t;

static bool query_open(nova_req_t *r, fga_ctx_t *c, const json_t *contextual, fga_query_t *fq)
{
    memset(fq, 0, sizeof(*fq));
    nova_policy_tuple_t *ct;
    size_t nct;
    const json_t *ctx;
    if ((fq->e = fga_entry(c->tenant_id, c->store_id)) == NULL) {
        fga_status(r, NOVA_NOMEM);
        return false;
    }
    if (!req_contextual(r, contextual, &ct, &nct) ||
        !req_context(r, json_object_get(c->body, "context"), &ctx) ||
        !fga_model(r, c, fq->e, c->body, &fq->q.model, &fq->model_id) ||
        !fga_consistent(r, c, fq->e, c->body))
        return false;
    fq->q.contextual = ct;
    fq->q.ncontextual = nct;
    fq->q.context = ctx;
    return true;
}

static const char *const check_members[] = {
    "tuple_key", "contextual_tuples", "authorization_model_id", "context",
    "trace",     "consistency",       "consistency_token",      NULL};

static void q_check(nova_req_t *r, void *ud)
{
    fga_ctx_t c;
    if (!fga_open(r, ud, check_members, &c))
        return;
    fga_query_t fq;
    nova_policy_tuple_t t;
    const json_t *trace = json_object_get(c.body, "trace");
    if (trace && !json_is_boolean(trace)) {
        fga_error(r, 400, "validation_error", "invalid trace: a boolean");
        goto end;
    }
    if (!req_tuple(r, json_object_get(c.body, "tuple_key"), "tuple_key", &t) ||
        !query_open(r, &c, json_object_get(c.body, "contextual_tuples"), &fq))
        goto end;
    bool allowed = false;
    nova_policy_error_t err;
    pthread_rwlock_rdlock(&fq.e->lock);
    fq.q.index = fq.e->ix;
    nova_status st = nova_policy_check(&fq.q, t.object, t.relation, t.user, &allowed, &err);
    pthread_rwlock_unlock(&fq.e->lock);
    if (st != NOVA_OK)
        fga_policy_error(r, &err);
    else
        api_reply_json(r, 200, json_pack("{s:b, s:s}", "allowed", allowed, "resolution", ""));
end:
    json_decref(c.body);
}

static void q_batch_check(nova_req_t *r, void *ud)
{
    static const char *const members[] = {"checks", "authorization_model_id", "consistency",
                                          "consistency_token", NULL};
    fga_ctx_t c;
    if (!fga_open(r, ud, members, &c))
        return;
    fga_query_t fq;
    const json_t *checks = json_object_get(c.body, "checks");
    size_t n = json_array_size(checks);
    if (!json_is_array(checks) || n == 0 || n > FGA_MAX_BATCH) {
        fga_error(r, 400, "validation_error", "checks: 1 to %d items", FGA_MAX_BATCH);
        goto end;
    }
    if (!query_open(r, &c, NULL, &fq))
        goto end;
    /* Every item is decoded before any is evaluated: a malformed item fails the request. */
    nova_policy_tuple_t *keys = nova_arena_alloc(&r->arena, n * sizeof(*keys));
    nova_policy_query_t *qs = nova_arena_alloc(&r->arena, n * sizeof(*qs));
    const char **corr = nova_arena_alloc(&r->arena, n * sizeof(*corr));
    if (!keys || !qs || !corr) {
        fga_status(r, NOVA_NOMEM);
        goto end;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *it = json_array_get(checks, i);
        const char *k;
        json_t *v;
        if (!json_is_object(it)) {
            fga_error(r, 400, "validation_error", "checks[%zu]: an object", i);
            goto end;
        }
        json_object_foreach((json_t *)it, k, v)
        {
            if (strcmp(k, "tuple_key") && strcmp(k, "contextual_tuples") && strcmp(k, "context") &&
                strcmp(k, "correlation_id")) {
                fga_error(r, 400, "validation_error", "checks[%zu]: unknown member %s", i, k);
                goto end;
            }
        }
        qs[i] = fq.q;
        nova_policy_tuple_t *ct;
        if (!req_tuple(r, json_object_get(it, "tuple_key"), "tuple_key", &keys[i]) ||
            !req_contextual(r, json_object_get(it, "contextual_tuples"), &ct, &qs[i].ncontextual) ||
            !req_context(r, json_object_get(it, "context"), &qs[i].context))
            goto end;
        qs[i].contextual = ct;
        corr[i] = json_string_value(json_object_get(it, "correlation_id"));
        if (corr[i] == NULL || corr[i][0] == '\0' || strlen(corr[i]) > 36) {
            fga_error(r, 400, "validation_error", "checks[%zu]: correlation_id, 1 to 36 characters",
                      i);
            goto end;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(corr[i], corr[j]) == 0) {
                fga_error(r, 400, "validation_error", "duplicate correlation_id '%s'", corr[i]);
                goto end;
            }
    }
    json_t *result = json_object();
    pthread_rwlock_rdlock(&fq.e->lock);
    for (size_t i = 0; i < n; i++) {
        bool allowed = false;
        nova_policy_error_t err;
        qs[i].index = fq.e->ix;
        nova_status st = nova_policy_check(&qs[i], keys[i].object, keys[i].relation, keys[i].user,
                                           &allowed, &err);
        json_object_set_new(
            result, corr[i],
            st == NOVA_OK ? json_pack("{s:b}", "allowed", allowed)
                          : json_pack("{s:b, s:{s:s, s:s}}", "allowed", 0, "error", "input_error",
                                      nova_policy_error_name(err.code), "message", err.message));
    }
    pthread_rwlock_unlock(&fq.e->lock);
    api_reply_json(r, 200, json_pack("{s:o}", "result", result));
end:
    json_decref(c.body);
}

static const char *const list_objects_members[] = {"authorization_model_id",
                                                   "type",
                                                   "relation",
                                                   "user",
                                                   "contextual_tuples",
                                                   "context",
                                                   "consistency",
                                                   "consistency_token",
                                                   NULL};

/* ListObjects and its streamed form share everything but the reply. */
static bool list_objects(nova_req_t *r, fga_ctx_t *c, json_t **objects)
{
    fga_query_t fq;
    const char *type, *rel, *user;
    if (!opt_str(r, c->body, "type", &type) || !opt_str(r, c->body, "relation", &rel) ||
        !opt_str(r, c->body, "user", &user))
        return false;
    if (!type[0] || !rel[0] || !user[0] || strchr(type, ':')) {
        fga_error(r, 400, "validation_error", "type, relation and user are required");
        return false;
    }
    if (!query_open(r, c, json_object_get(c->body, "contextual_tuples"), &fq))
        return false;
    nova_policy_error_t err;
    pthread_rwlock_rdlock(&fq.e->lock);
    fq.q.index = fq.e->ix;
    nova_status st = nova_policy_list_objects(&fq.q, type, rel, user, objects, &err);
    pthread_rwlock_unlock(&fq.e->lock);
    if (st != NOVA_OK) {
        fga_policy_error(r, &err);
        return false;
    }
    return true;
}

static void q_list_objects(nova_req_t *r, void *ud)
{
    fga_ctx_t c;
    json_t *objects;
    if (!fga_open(r, ud, list_objects_members, &c))
        return;
    if (list_objects(r, &c, &objects))
        api_reply_json(r, 200, json_pack("{s:o}", "objects", objects));
    json_decref(c.body);
}

/* One JSON object per line, as OpenFGA's streaming gateway writes them. */
static void q_streamed_list_objects(nova_req_t *r, void *ud)
{
    fga_ctx_t c;
    json_t *objects;
    if (!fga_open(r, ud, list_objects_members, &c))
        return;
    if (list_objects(r, &c, &objects)) {
        nova_buf_t out = {0};
        nova_status st = NOVA_OK;
        for (size_t i = 0; i < json_array_size(objects) && st == NOVA_OK; i++) {
            json_t *line = json_pack("{s:{s:O}}", "result", "object", json_array_get(objects, i));
            char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
            json_decref(line);
            st = text ? nova_buf_printf(&out, "%s\n", text) : NOVA_NOMEM;
            free(text);
        }
        json_decref(objects);
        if (st != NOVA_OK)
            fga_status(r, st);
        else
            nova_resp_body(r, 200, "application/json", out.data ? out.data : "", out.len);
        nova_buf_free(&out);
    }
    json_decref(c.body);
}

/* "type:id", "type:*" or "type:id#rel" as ListUsers' User object. */
static json_t *user_json(const char *u)
{
    const char *colon = strchr(u, ':'), *hash = strchr(u, '#');
    if (colon == NULL)
        return json_pack("{s:s}", "object", u);
    json_t *type = json_stringn(u, (size_t)(colon - u));
    if (hash)
        return json_pack("{s:{s:o, s:s%, s:s}}", "userset", "type", type, "id", colon + 1,
                         (size_t)(hash - colon - 1), "relation", hash + 1);
    if (strcmp(colon + 1, "*") == 0)
        return json_pack("{s:{s:o}}", "wildcard", "type", type);
    return json_pack("{s:{s:o, s:s}}", "object", "type", type, "id", colon + 1);
}

static void q_list_users(nova_req_t *r, void *ud)
{
    static const char *const members[] = {"authorization_model_id",
                                          "object",
                                          "relation",
                                          "user_filters",
                                          "contextual_tuples",
                                          "context",
                                          "consistency",
                                          "consistency_token",
                                          NULL};
    fga_ctx_t c;
    if (!fga_open(r, ud, members, &c))
        return;
    fga_query_t fq;
    const json_t *obj = json_object_get(c.body, "object"),
                 *filters = json_object_get(c.body, "user_filters");
    const char *type = json_string_value(json_object_get(obj, "type"));
    const char *id = json_string_value(json_object_get(obj, "id"));
    const char *rel;
    if (!opt_str(r, c.body, "relation", &rel))
        goto end;
    size_t nf = json_array_size(filters);
    if (!type || !id || !type[0] || !id[0] || !rel[0] || !json_is_array(filters) || nf != 1) {
        fga_error(r, 400, "validation_error",
                  "object {type, id}, relation and exactly one user_filters item are required");
        goto end;
    }
    const char **fs = nova_arena_alloc(&r->arena, nf * sizeof(*fs));
    for (size_t i = 0; fs && i < nf; i++) {
        const json_t *f = json_array_get(filters, i);
        const char *ft = json_string_value(json_object_get(f, "type"));
        const char *fr = json_string_value(json_object_get(f, "relation"));
        if (!ft || !ft[0] || (json_object_get(f, "relation") && !fr)) {
            fga_error(r, 400, "validation_error", "user_filters[%zu]: {type, relation?}", i);
            goto end;
        }
        fs[i] = fr && fr[0] ? nova_arena_printf(&r->arena, "%s#%s", ft, fr) : ft;
    }
    const char *object = nova_arena_printf(&r->arena, "%s:%s", type, id);
    if (!fs || !object) {
        fga_status(r, NOVA_NOMEM);
        goto end;
    }
    if (!query_open(r, &c, json_object_get(c.body, "contextual_tuples"), &fq))
        goto end;
    json_t *users = NULL;
    nova_policy_error_t err;
    pthread_rwlock_rdlock(&fq.e->lock);
    fq.q.index = fq.e->ix;
    nova_status st = nova_policy_list_users(&fq.q, object, rel, fs, nf, &users, &err);
    pthread_rwlock_unlock(&fq.e->lock);
    if (st != NOVA_OK) {
        fga_policy_error(r, &err);
        goto end;
    }
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(users); i++)
        json_array_append_new(out, user_json(json_string_value(json_array_get(users, i))));
    json_decref(users);
    api_reply_json(r, 200, json_pack("{s:o}", "users", out));
end:
    json_decref(c.body);
}

/* ---- expand: one level of the relation's rewrite, with the tuples it reads ---- */

/* The users of the direct tuples (object, relation) in the store, contextual tuples added. */
static nova_status direct_users(nova_req_t *r, fga_ctx_t *c, const nova_policy_query_t *q,
                                const char *object, const char *relation, json_t *out)
{
    nova_fga_tuple_filter_t f = {.object = object, .relation = relation};
    for (;;) {
        nova_fga_tuple_t *rows;
        size_t n;
        nova_status st = nova_store_fga_tuple_read(c->s, &r->arena, c->tenant_id, c->store_id, &f,
                                                   1000, &rows, &n);
        if (st != NOVA_OK)
            return st;
        for (size_t i = 0; i < n; i++)
            json_array_append_new(out, json_string(rows[i].user));
        if (n < 1000)
            break;
        f.after_object = rows[n - 1].object;
        f.after_relation = rows[n - 1].relation;
        f.after_user = rows[n - 1].user;
    }
    for (size_t i = 0; i < q->ncontextual; i++)
        if (strcmp(q->contextual[i].object, object) == 0 &&
            strcmp(q->contextual[i].relation, relation) == 0)
            json_array_append_new(out, json_string(q->contextual[i].user));
    return NOVA_OK;
}

static nova_status expand_node(nova_req_t *r, fga_ctx_t *c, const nova_policy_query_t *q,
                               const char *object, const char *relation, const json_t *rw,
                               int depth, json_t **out)
{
    const char *name = nova_arena_printf(&r->arena, "%s#%s", object, relation);
    json_t *x, *node = name ? json_pack("{s:s}", "name", name) : NULL;
    nova_status st = NOVA_OK;
    if (node == NULL || depth > 25)
        st = node ? NOVA_INVALID : NOVA_NOMEM;
    else if (json_object_get(rw, "this")) {
        json_t *users = json_array();
        st = direct_users(r, c, q, object, relation, users);
        json_object_set_new(node, "leaf", json_pack("{s:{s:o}}", "users", "users", users));
    } else if ((x = json_object_get(rw, "computedUserset"))) {
        const char *cr = json_string_value(json_object_get(x, "relation"));
        json_object_set_new(
            node, "leaf",
            json_pack("{s:{s:s++}}", "computed", "userset", object, "#", cr ? cr : ""));
    } else if ((x = json_object_get(rw, "tupleToUserset"))) {
        const char *ts =
            json_string_value(json_object_get(json_object_get(x, "tupleset"), "relation"));
        const char *cr =
            json_string_value(json_object_get(json_object_get(x, "computedUserset"), "relation"));
        json_t *parents = json_array(), *computed = json_array();
        st = direct_users(r, c, q, object, ts ? ts : "", parents);
        for (size_t i = 0; i < json_array_size(parents); i++) {
            const char *p = json_string_value(json_array_get(parents, i));
            if (strchr(p, '#') == NULL)
                json_array_append_new(computed,
                                      json_pack("{s:s++}", "userset", p, "#", cr ? cr : ""));
        }
        json_decref(parents);
        json_object_set_new(node, "leaf",
                            json_pack("{s:{s:s++, s:o}}", "tupleToUserset", "tupleset", object, "#",
                                      ts ? ts : "", "computed", computed));
    } else if ((x = json_object_get(rw, "union")) || (x = json_object_get(rw, "intersection"))) {
        const char *kind = json_object_get(rw, "union") ? "union" : "intersection";
        json_t *nodes = json_array(), *kid;
        size_t i;
        json_array_foreach(json_object_get(x, "child"), i, kid)
        {
            json_t *sub = NULL;
            if ((st = expand_node(r, c, q, object, relation, kid, depth + 1, &sub)) != NOVA_OK)
                break;
            json_array_append_new(nodes, sub);
        }
        json_object_set_new(node, kind, json_pack("{s:o}", "nodes", nodes));
    } else if ((x = json_object_get(rw, "difference"))) {
        json_t *base = NULL, *sub = NULL;
        st = expand_node(r, c, q, object, relation, json_object_get(x, "base"), depth + 1, &base);
        if (st == NOVA_OK)
            st = expand_node(r, c, q, object, relation, json_object_get(x, "subtract"), depth + 1,
                             &sub);
        json_object_set_new(node, "difference",
                            json_pack("{s:o*, s:o*}", "base", base, "subtract", sub));
    }
    if (st != NOVA_OK) {
        json_decref(node);
        return st;
    }
    *out = node;
    return NOVA_OK;
}

static void q_expand(nova_req_t *r, void *ud)
{
    static const char *const members[] = {"tuple_key",         "authorization_model_id",
                                          "contextual_tuples", "consistency",
                                          "consistency_token", NULL};
    fga_ctx_t c;
    if (!fga_open(r, ud, members, &c))
        return;
    fga_query_t fq;
    const json_t *key = json_object_get(c.body, "tuple_key");
    const char *object = json_string_value(json_object_get(key, "object"));
    const char *rel = json_string_value(json_object_get(key, "relation"));
    if (!valid_object(object) || rel == NULL || rel[0] == '\0') {
        fga_error(r, 400, "validation_error", "tuple_key: object 'type:id' and relation");
        goto end;
    }
    if (!query_open(r, &c, json_object_get(c.body, "contextual_tuples"), &fq))
        goto end;
    json_t *mj = nova_policy_model_to_json(fq.q.model), *td, *rw = NULL;
    size_t i, tl = (size_t)(strchr(object, ':') - object);
    bool type_found = false;
    json_array_foreach(json_object_get(mj, "type_definitions"), i, td)
    {
        const char *t = json_string_value(json_object_get(td, "type"));
        if (t && strlen(t) == tl && strncmp(t, object, tl) == 0) {
            type_found = true;
            rw = json_object_get(json_object_get(td, "relations"), rel);
        }
    }
    if (!type_found)
        fga_error(r, 400, "type_not_found", "type '%.*s' not found", (int)tl, object);
    else if (rw == NULL)
        fga_error(r, 400, "relation_not_found", "relation '%.*s#%s' not found", (int)tl, object,
                  rel);
    else {
        json_t *root = NULL;
        nova_status st = expand_node(r, &c, &fq.q, object, rel, rw, 0, &root);
        if (st == NOVA_INVALID)
            fga_error(r, 400, "authorization_model_resolution_too_complex",
                      "Authorization Model resolution required too many rewrite rules");
        else if (st != NOVA_OK)
            fga_status(r, st);
        else
            api_reply_json(r, 200, json_pack("{s:{s:o}}", "tree", "root", root));
    }
    json_decref(mj);
end:
    json_decref(c.body);
}

/* ---- changes ---- */

static void changes_read(nova_req_t *r, void *ud)
{
    fga_ctx_t c;
    size_t limit;
    const char *type = nova_req_query(r, "type"), *tok = nova_req_query(r, "continuation_token"),
               *start = nova_req_query(r, "start_time");
    int64_t after = 0, from = 0;
    if (!page_size(r, NULL, nova_req_query(r, "page_size"), &limit))
        return;
    if (tok && tok[0]) {
        char *end;
        long long v = strtoll(tok, &end, 10);
        if (*end || v < 0 || tok[0] == '-') {
            fga_error(r, 400, "invalid_continuation_token", "Invalid continuation token");
            return;
        }
        after = v;
    }
    if (start && start[0] && !parse_time(start, &from)) {
        fga_error(r, 400, "validation_error", "invalid start_time: RFC 3339");
        return;
    }
    if (type && (strchr(type, ':') || strchr(type, '#'))) {
        fga_error(r, 400, "validation_error", "invalid type");
        return;
    }
    if (!fga_open(r, ud, NULL, &c))
        return;
    json_t *arr = json_array();
    size_t tl = type ? strlen(type) : 0;
    /* The type filter applies after reading: read on until the page is full or the feed ends. */
    for (;;) {
        nova_fga_change_t *ch;
        size_t n;
        nova_status st = nova_store_fga_changes(c.s, &r->arena, c.tenant_id, c.store_id, after,
                                                from, limit, &ch, &n);
        if (st != NOVA_OK) {
            json_decref(arr);
            fga_status(r, st);
            return;
        }
        for (size_t i = 0; i < n && json_array_size(arr) < limit; i++) {
            after = ch[i].seq;
            json_t *t = json_loads(ch[i].tuple, 0, NULL);
            const char *obj = json_string_value(json_object_get(t, "object"));
            if (t && (tl == 0 || (obj && strncmp(obj, type, tl) == 0 && obj[tl] == ':')))
                json_array_append_new(arr, json_pack("{s:o, s:s, s:s}", "tuple_key", t, "operation",
                                                     strcmp(ch[i].op, "write") == 0
                                                         ? "TUPLE_OPERATION_WRITE"
                                                         : "TUPLE_OPERATION_DELETE",
                                                     "timestamp", fga_time(&r->arena, ch[i].ts)));
            else
                json_decref(t);
        }
        if (n < limit || json_array_size(arr) >= limit)
            break;
    }
    char next[24] = "";
    if (after > 0)
        snprintf(next, sizeof(next), "%lld", (long long)after);
    api_reply_json(r, 200, json_pack("{s:o, s:s}", "changes", arr, "continuation_token", next));
}

/* ---- assertions ---- */

static void assertions_write(nova_req_t *r, void *ud)
{
    static const char *const members[] = {"assertions", NULL};
    fga_ctx_t c;
    if (!is_ulid(r->params[1])) {
        fga_error(r, 400, "validation_error", "invalid AuthorizationModelId: a ULID is required");
        return;
    }
    if (!fga_open(r, ud, members, &c))
        return;
    const json_t *as = json_object_get(c.body, "assertions");
    size_t i;
    json_t *a;
    if (!json_is_array(as) || json_array_size(as) > 100) {
        fga_error(r, 400, "validation_error", "assertions: an array of at most 100");
        goto end;
    }
    json_array_foreach((json_t *)as, i, a)
    {
        nova_policy_tuple_t t, *ct;
        size_t nct;
        const json_t *ctx;
        const char *k;
        json_t *v;
        if (!json_is_object(a) || !json_is_boolean(json_object_get(a, "expectation"))) {
            fga_error(r, 400, "validation_error", "assertions[%zu]: tuple_key and expectation", i);
            goto end;
        }
        json_object_foreach(a, k, v)
        {
            if (strcmp(k, "tuple_key") && strcmp(k, "expectation") &&
                strcmp(k, "contextual_tuples") && strcmp(k, "context")) {
                fga_error(r, 400, "validation_error", "assertions[%zu]: unknown member %s", i, k);
                goto end;
            }
        }
        if (!req_tuple(r, json_object_get(a, "tuple_key"), "assertion tuple_key", &t) ||
            !req_contextual(r, json_object_get(a, "contextual_tuples"), &ct, &nct) ||
            !req_context(r, json_object_get(a, "context"), &ctx))
            goto end;
    }
    char *text = json_dumps(as, JSON_COMPACT | JSON_SORT_KEYS);
    nova_audit_entry_t *ae =
        text ? fga_audit(r, c.tenant_id, "fga_assertions.write", "fga_model", r->params[1],
                         json_pack("{s:s, s:I}", "store_id", c.store_id, "count",
                                   (json_int_t)json_array_size(as)))
             : NULL;
    nova_status st = ae ? nova_store_fga_assertions_put(c.s, c.tenant_id, c.store_id, r->params[1],
                                                        text, now_us(), ae)
                        : NOVA_NOMEM;
    free(text);
    if (st == NOVA_NOT_FOUND)
        fga_error(r, 404, "authorization_model_not_found", "Authorization Model '%s' not found",
                  r->params[1]);
    else if (st != NOVA_OK)
        fga_status(r, st);
    else
        nova_resp_body(r, 204, NULL, NULL, 0);
end:
    json_decref(c.body);
}

static void assertions_read(nova_req_t *r, void *ud)
{
    fga_ctx_t c;
    if (!is_ulid(r->params[1])) {
        fga_error(r, 400, "validation_error", "invalid AuthorizationModelId: a ULID is required");
        return;
    }
    if (!fga_open(r, ud, NULL, &c))
        return;
    nova_fga_model_t m;
    const char *text = "";
    nova_status st =
        nova_store_fga_model_get(c.s, &r->arena, c.tenant_id, c.store_id, r->params[1], &m);
    if (st == NOVA_OK)
        st = nova_store_fga_assertions_get(c.s, &r->arena, c.tenant_id, c.store_id, r->params[1],
                                           &text);
    if (st == NOVA_NOT_FOUND) {
        fga_error(r, 404, "authorization_model_not_found", "Authorization Model '%s' not found",
                  r->params[1]);
        return;
    }
    if (st != NOVA_OK) {
        fga_status(r, st);
        return;
    }
    json_t *as = text[0] ? json_loads(text, 0, NULL) : json_array();
    api_reply_json(r, 200,
                   json_pack("{s:s, s:o}", "authorization_model_id", r->params[1], "assertions",
                             as ? as : json_array()));
}

nova_status api_fga_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"POST", "/stores", "fga:write", stores_create, 4096},
        {"GET", "/stores", "fga:read", stores_list, 0},
        {"GET", "/stores/{store_id}", "fga:read", stores_get, 0},
        {"DELETE", "/stores/{store_id}", "fga:write", stores_delete, 0},
        {"POST", "/stores/{store_id}/authorization-models", "fga:write", models_write,
         FGA_MODEL_BODY},
        {"GET", "/stores/{store_id}/authorization-models", "fga:read", models_list, 0},
        {"GET", "/stores/{store_id}/authorization-models/{id}", "fga:read", models_get, 0},
        {"POST", "/stores/{store_id}/write", "fga:write", tuples_write, FGA_BODY},
        {"POST", "/stores/{store_id}/read", "fga:read", tuples_read, FGA_BODY},
        {"POST", "/stores/{store_id}/check", "fga:read", q_check, FGA_BODY},
        {"POST", "/stores/{store_id}/batch-check", "fga:read", q_batch_check, FGA_BODY},
        {"POST", "/stores/{store_id}/expand", "fga:read", q_expand, FGA_BODY},
        {"POST", "/stores/{store_id}/list-objects", "fga:read", q_list_objects, FGA_BODY},
        {"POST", "/stores/{store_id}/streamed-list-objects", "fga:read", q_streamed_list_objects,
         FGA_BODY},
        {"POST", "/stores/{store_id}/list-users", "fga:read", q_list_users, FGA_BODY},
        {"GET", "/stores/{store_id}/changes", "fga:read", changes_read, 0},
        {"PUT", "/stores/{store_id}/assertions/{authorization_model_id}", "fga:write",
         assertions_write, FGA_MODEL_BODY},
        {"GET", "/stores/{store_id}/assertions/{authorization_model_id}", "fga:read",
         assertions_read, 0},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}

/* ---- the decision point's access (internal.h) ---- */

nova_status api_fga_acquire(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                            const char *store_id, const char *model_id, api_fga_view_t *v)
{
    memset(v, 0, sizeof(*v));
    if (!is_ulid(store_id) || !is_ulid(model_id))
        return NOVA_NOT_FOUND;
    fga_ix_t *e = fga_entry(tenant_id, store_id);
    if (e == NULL)
        return NOVA_NOMEM;
    fga_model_ref_t *m = NULL;
    nova_status st = model_ref(s, a, e, model_id, NULL, &m);
    int64_t head = 0;
    if (st == NOVA_OK)
        st = nova_store_fga_change_head(s, tenant_id, store_id, &head);
    if (st == NOVA_OK && (!atomic_load(&e->loaded) || atomic_load(&e->seq) < head))
        st = fga_sync(s, e, head);
    if (st != NOVA_OK)
        return st;
    atomic_store(&e->synced_ns, nova_time_mono_ns());
    pthread_rwlock_rdlock(&e->lock);
    v->entry = e;
    v->model = m->model;
    v->index = e->ix;
    return NOVA_OK;
}

void api_fga_release(api_fga_view_t *v)
{
    fga_ix_t *e = v->entry;
    if (e)
        pthread_rwlock_unlock(&e->lock);
    v->entry = NULL;
}

/* One tuple of api_fga_relate_plan in the shape write_part makes. */
static nova_status relate_tuple(nova_arena_t *a, const char *object, const char *relation,
                                const char *user, nova_fga_tuple_t *out)
{
    json_t *cj = tuple_json(object, relation, user, NULL, NULL);
    char *change = cj ? json_dumps(cj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(cj);
    char *ulid = nova_arena_alloc(a, 27);
    *out = (nova_fga_tuple_t){.object = object,
                              .relation = relation,
                              .user = user,
                              .condition = "",
                              .context = "",
                              .change = change ? nova_arena_strdup(a, change) : NULL,
                              .ulid = ulid};
    free(change);
    return out->change && ulid && fga_ulid(ulid) == NOVA_OK ? NOVA_OK : NOVA_NOMEM;
}

nova_status api_fga_relate_plan(nova_store_t *s, nova_arena_t *a, const nova_audit_actor_t *by,
                                const char *tenant_id, const char *object, const char *relation,
                                const char *const *add, size_t nadd, const char *const *remove,
                                size_t nremove, nova_fga_batch_t **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (nadd + nremove == 0)
        return NOVA_OK;
    size_t cap = 0;
    nova_fga_store_t *stores;
    size_t ns;
    const char *after = "";
    do {
        nova_status st = nova_store_fga_store_list(s, a, tenant_id, after, 100, &stores, &ns);
        if (st)
            return st;
        for (size_t i = 0; i < ns; i++) {
            nova_fga_store_t one;
            const char *latest = "";
            int64_t head = 0;
            st = nova_store_fga_store_state(s, a, tenant_id, stores[i].id, &one, &latest, &head);
            if (st == NOVA_NOT_FOUND || (st == NOVA_OK && latest[0] == '\0'))
                continue; /* gone meanwhile, or no model yet */
            fga_ix_t *e = st ? NULL : fga_entry(tenant_id, stores[i].id);
            fga_model_ref_t *m = NULL;
            if (st == NOVA_OK)
                st = e ? model_ref(s, a, e, latest, NULL, &m) : NOVA_NOMEM;
            if (st)
                return st;
            /* The model decides: a tuple it does not admit is not this store's business. */
            nova_policy_error_t err;
            nova_policy_tuple_t probe = {object, relation, nadd ? add[0] : remove[0], NULL, NULL};
            if (nova_policy_tuple_validate(m->model, &probe, &err) != NOVA_OK)
                continue;
            if (*nout == cap) {
                size_t ncap = cap ? 2 * cap : 4;
                nova_fga_batch_t *nb = nova_arena_alloc(a, ncap * sizeof(*nb));
                if (nb == NULL)
                    return NOVA_NOMEM;
                if (*nout)
                    memcpy(nb, *out, *nout * sizeof(*nb));
                *out = nb;
                cap = ncap;
            }
            nova_fga_batch_t *b = &(*out)[*nout];
            nova_fga_tuple_t *w = nova_arena_alloc(a, (nadd + nremove) * sizeof(*w));
            if (w == NULL)
                return NOVA_NOMEM;
            *b = (nova_fga_batch_t){.store_id = stores[i].id,
                                    .w = {.writes = w,
                                          .nwrites = nadd,
                                          .deletes = w + nadd,
                                          .ndeletes = nremove,
                                          .ignore_duplicate = true,
                                          .ignore_missing = true},
                                    .now = now_us()};
            for (size_t k = 0; k < nadd + nremove && st == NOVA_OK; k++)
                st = relate_tuple(a, object, relation, k < nadd ? add[k] : remove[k - nadd], &w[k]);
            if (st == NOVA_OK)
                st = nova_audit_entry_make(
                    &b->audit, a, by, tenant_id, "fga_tuples.write", "fga_store", stores[i].id,
                    json_pack("{s:I, s:I, s:s}", "writes", (json_int_t)nadd, "deletes",
                              (json_int_t)nremove, "source", "scim_group"));
            if (st)
                return st;
            ++*nout;
        }
        if (ns)
            after = stores[ns - 1].id;
    } while (ns == 100);
    return NOVA_OK;
}

void api_fga_relate_synced(nova_store_t *s, const char *tenant_id, const nova_fga_batch_t *b,
                           size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fga_ix_t *e = b[i].seq > 0 ? fga_entry(tenant_id, b[i].store_id) : NULL;
        if (e && atomic_load(&e->loaded) && fga_sync(s, e, b[i].seq) != NOVA_OK)
            atomic_store(&e->synced_ns, 0);
    }
}

nova_status api_fga_metrics(nova_buf_t *out)
{
    nova_status st =
        nova_buf_printf(out,
                        "# HELP nova_fga_model_cache_total Parsed-model cache lookups by result.\n"
                        "# TYPE nova_fga_model_cache_total counter\n"
                        "nova_fga_model_cache_total{result=\"hit\"} %llu\n"
                        "nova_fga_model_cache_total{result=\"miss\"} %llu\n"
                        "# HELP nova_fga_tuples Tuples in this process's index of each store.\n"
                        "# TYPE nova_fga_tuples gauge\n",
                        (unsigned long long)atomic_load(&fga_cache_hits),
                        (unsigned long long)atomic_load(&fga_cache_misses));
    pthread_mutex_lock(&fga_reg.mu);
    for (fga_ix_t *e = fga_reg.head; e && st == NOVA_OK; e = e->next) {
        if (!atomic_load(&e->loaded))
            continue;
        pthread_rwlock_rdlock(&e->lock);
        size_t n = nova_policy_index_count(e->ix);
        pthread_rwlock_unlock(&e->lock);
        st = nova_buf_printf(out, "nova_fga_tuples{store=\"%s\"} %zu\n", e->store_id, n);
    }
    if (st == NOVA_OK)
        st = nova_buf_printf(out,
                             "# HELP nova_fga_change_feed_lag_seconds Seconds since each store's "
                             "index last caught up with its change feed.\n"
                             "# TYPE nova_fga_change_feed_lag_seconds gauge\n");
    uint64_t now = nova_time_mono_ns();
    for (fga_ix_t *e = fga_reg.head; e && st == NOVA_OK; e = e->next)
        if (atomic_load(&e->loaded))
            st = nova_buf_printf(out, "nova_fga_change_feed_lag_seconds{store=\"%s\"} %.3f\n",
                                 e->store_id, (double)(now - atomic_load(&e->synced_ns)) / 1e9);
    pthread_mutex_unlock(&fga_reg.mu);
    return st;
}
