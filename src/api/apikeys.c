/* apikeys.c: API keys. The resource (POST/GET /v1/api-keys, GET/DELETE /v1/api-keys/{id},
 * POST /v1/api-keys/{id}/rotate) and the HMAC-signed request authenticator that
 * api_authenticate hands a request to when it carries x-api-key-id.
 *
 * A signature covers the body, but the server authenticates on the headers alone, before it
 * reads any body (src/http/server.c). So authentication runs in two steps: on the headers,
 * everything the body does not change (header syntax, the key's state, expiry, the peer's
 * address, the date's skew, the route's scope); then, as the request's body_check once the
 * body is in, the HMAC, the nonce and the per-minute budget. Only a request whose signature
 * verifies spends a nonce or a budget unit. */
#include <stdatomic.h>
#include <string.h>

#include "internal.h"
#include "nova/apikey.h"

/* Problem for each refusal: docs/API.md lists them. */
static const struct {
    int status;
    const char *code;
    const char *detail;
} fail_reply[NOVA_APIKEY_FAIL_COUNT_] = {
    [NOVA_APIKEY_MALFORMED] = {401, "signature_malformed", NULL},
    [NOVA_APIKEY_UNKNOWN] = {401, "api_key_unknown", "no API key has this id"},
    [NOVA_APIKEY_REVOKED] = {401, "api_key_revoked", "this API key has been revoked"},
    [NOVA_APIKEY_EXPIRED] = {401, "api_key_expired", "this API key has expired"},
    [NOVA_APIKEY_IP] = {403, "ip_not_allowed",
                        "the request's address is outside this API key's ip_allowlist"},
    [NOVA_APIKEY_SKEW] = {401, "clock_skew",
                          "the date header is too far from the server's clock (NOVA_APIKEY_SKEW)"},
    [NOVA_APIKEY_SIGNATURE] = {401, "bad_signature",
                               "x-signature is not the HMAC of this request under the key's "
                               "secret (see docs/API.md for the canonical string)"},
    [NOVA_APIKEY_REPLAY] = {401, "nonce_replayed",
                            "this x-nonce was used before with this key: sign each request with "
                            "a fresh nonce"},
    [NOVA_APIKEY_BUDGET] = {429, "BUDGET_EXCEEDED",
                            "over this API key's requests per minute (rate_per_minute)"},
};

static _Atomic uint64_t failures[NOVA_APIKEY_FAIL_COUNT_];
static _Atomic uint64_t replays;
static _Atomic uint64_t verified;

static void refuse(nova_req_t *r, nova_apikey_fail f, const char *detail)
{
    atomic_fetch_add_explicit(&failures[f], 1, memory_order_relaxed);
    if (f == NOVA_APIKEY_REPLAY)
        atomic_fetch_add_explicit(&replays, 1, memory_order_relaxed);
    const char *code = fail_reply[f].code;
    int status = fail_reply[f].status;
    if (status == 401) {
        char *h =
            nova_arena_printf(&r->arena, "Nova-HMAC-SHA256 realm=\"nova\", error=\"%s\"", code);
        if (h)
            nova_resp_header(r, "WWW-Authenticate", h);
    }
    nova_resp_problem(r, status, code,
                      status == 401   ? "Unauthorized"
                      : status == 403 ? "Forbidden"
                                      : "Too Many Requests",
                      detail ? detail : fail_reply[f].detail);
}

/* What the first step learned, for the second. */
typedef struct ak_state {
    nova_api_t *api;
    nova_apikey_parsed_t hdr;
    nova_apikey_t key;
} ak_state;

/* The request target as the client sent it: raw path, and the raw query after a '?'. */
static const char *request_target(nova_req_t *r)
{
    if (r->query == NULL)
        return r->path;
    return nova_arena_printf(&r->arena, "%s?%s", r->path, r->query);
}

static bool body_step(nova_req_t *r, void *ud)
{
    ak_state *st = ud;
    nova_apikey_fail f;
    int64_t now = nova_time_now(), retry = 0;
    const char *target = request_target(r);
    if (target == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return false;
    }
    nova_status s = nova_auth_apikey_verify(st->api->auth, &st->key, &st->hdr, r->method, target,
                                            r->body.data, r->body.len, now, &f);
    if (s == NOVA_UNAUTHORIZED) {
        refuse(r, f, NULL);
        return false;
    }
    if (s != NOVA_OK) {
        nova_resp_status(r, s, NULL);
        return false;
    }
    s = nova_auth_apikey_admit(st->api->kv, &st->key, &st->hdr, st->api->apikey_skew, &f, &retry);
    if (s == NOVA_UNAVAILABLE) {
        api_kv_unavailable(r);
        return false;
    }
    if (s == NOVA_UNAUTHORIZED || s == NOVA_FORBIDDEN) {
        if (f == NOVA_APIKEY_BUDGET) {
            char *ra = nova_arena_printf(&r->arena, "%lld", (long long)retry);
            char *pol = nova_arena_printf(&r->arena, "\"api-key\";q=%lld;w=60",
                                          (long long)st->key.rate_per_minute);
            char *rl = nova_arena_printf(&r->arena, "\"api-key\";r=0;t=%lld", (long long)retry);
            if (ra)
                nova_resp_header(r, "Retry-After", ra);
            if (pol)
                nova_resp_header(r, "RateLimit-Policy", pol);
            if (rl)
                nova_resp_header(r, "RateLimit", rl);
        }
        refuse(r, f, NULL);
        return false;
    }
    if (s != NOVA_OK) {
        nova_resp_status(r, s, NULL);
        return false;
    }
    atomic_fetch_add_explicit(&verified, 1, memory_order_relaxed);
    return true;
}

bool api_apikey_authenticate(nova_req_t *r, nova_api_t *api, const char *scope)
{
    if (nova_req_header(r, "Authorization")) {
        nova_resp_problem(r, 400, "invalid_request", "Invalid request",
                          "send either Authorization or an API-key signature (x-api-key-id), "
                          "not both");
        return false;
    }
    ak_state *st = nova_arena_alloc(&r->arena, sizeof(*st));
    nova_principal_t *p = nova_arena_alloc(&r->arena, sizeof(*p));
    if (st == NULL || p == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return false;
    }
    st->api = api;
    nova_apikey_headers_t h = {.key_id = nova_req_header(r, "x-api-key-id"),
                               .signature = nova_req_header(r, "x-signature"),
                               .nonce = nova_req_header(r, "x-nonce"),
                               .date = nova_req_header(r, "Date")};
    const char *why = NULL;
    if (nova_apikey_headers_parse(&h, &st->hdr, &why) != NOVA_OK) {
        refuse(r, NOVA_APIKEY_MALFORMED, why);
        return false;
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return false;
    nova_apikey_fail f;
    nova_status rc =
        nova_auth_apikey_precheck(api->auth, s, &r->arena, &st->hdr, nova_req_peer_ip(r),
                                  nova_time_now(), api->apikey_skew, &st->key, &f);
    if (rc == NOVA_UNAUTHORIZED || rc == NOVA_FORBIDDEN) {
        refuse(r, f, NULL);
        return false;
    }
    if (rc != NOVA_OK) {
        api_unavailable(r, rc);
        return false;
    }
    memset(p, 0, sizeof(*p));
    p->tenant_id = st->key.tenant_id;
    p->tenant_name = st->key.tenant_name;
    p->client_id = st->key.id;
    p->scope = st->key.scopes;
    p->jti = NULL;
    p->exp = st->key.expires_at;
    if (scope && *scope && !nova_auth_scope_has(st->key.scopes, scope)) {
        char *w = nova_arena_printf(&r->arena, "this route needs the %s scope", scope);
        nova_resp_problem(r, 403, "insufficient_scope", "Forbidden", w ? w : "insufficient scope");
        return false;
    }
    r->principal = p;
    r->body_check = body_step;
    r->body_check_ud = st;
    return true;
}

nova_status api_apikeys_metrics(nova_buf_t *out)
{
    nova_status st = nova_buf_append_cstr(
        out, "# HELP nova_apikey_auth_failures_total Refused API-key signed requests, by reason.\n"
             "# TYPE nova_apikey_auth_failures_total counter\n");
    for (int f = 1; f < NOVA_APIKEY_FAIL_COUNT_ && st == NOVA_OK; f++)
        st = nova_buf_printf(
            out, "nova_apikey_auth_failures_total{reason=\"%s\"} %llu\n",
            nova_apikey_fail_name((nova_apikey_fail)f),
            (unsigned long long)atomic_load_explicit(&failures[f], memory_order_relaxed));
    if (st == NOVA_OK)
        st = nova_buf_printf(
            out,
            "# HELP nova_apikey_nonce_replays_total API-key requests refused for a reused nonce.\n"
            "# TYPE nova_apikey_nonce_replays_total counter\n"
            "nova_apikey_nonce_replays_total %llu\n"
            "# HELP nova_apikey_verified_total API-key signed requests accepted.\n"
            "# TYPE nova_apikey_verified_total counter\n"
            "nova_apikey_verified_total %llu\n",
            (unsigned long long)atomic_load_explicit(&replays, memory_order_relaxed),
            (unsigned long long)atomic_load_explicit(&verified, memory_order_relaxed));
    return st;
}

/* ---- the resource ---- */

static json_t *key_json(const nova_apikey_t *k)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:s, s:I}", "id", k->id,
                          "tenant_id", k->tenant_id, "mode", k->mode, "purpose", k->purpose,
                          "scopes", api_words(k->scopes), "ip_allowlist",
                          api_words(k->ip_allowlist), "rate_per_minute",
                          (json_int_t)k->rate_per_minute, "version", (json_int_t)k->version,
                          "created_by", k->created_by, "created_at", (json_int_t)k->created_at);
    if (o == NULL)
        return NULL;
    if (*k->budget_currency)
        json_object_set_new(o, "budget",
                            json_pack("{s:I, s:s}", "amount_daily", (json_int_t)k->budget_daily,
                                      "currency", k->budget_currency));
    if (k->expires_at)
        json_object_set_new(o, "expires_at", json_integer(k->expires_at));
    if (k->rotated_at)
        json_object_set_new(o, "rotated_at", json_integer(k->rotated_at));
    if (k->prev_valid_until && k->prev_valid_until > nova_time_now())
        json_object_set_new(o, "previous_secret_valid_until", json_integer(k->prev_valid_until));
    if (k->revoked_at)
        json_object_set_new(o, "revoked_at", json_integer(k->revoked_at));
    return o;
}

static void invalid_field(nova_req_t *r, const char *why)
{
    nova_resp_problem(r, 422, "invalid_field", "Invalid field", why);
}

static const char *const create_members[] = {
    "purpose", "scopes", "mode", "ip_allowlist", "rate_per_minute", "budget", "expires_at", NULL};

/* Reads a JSON array of strings into a NULL-terminated arena array (at most max). */
static const char **string_list(nova_req_t *r, json_t *arr, size_t max)
{
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n > max)
        return NULL;
    const char **out = nova_arena_alloc(&r->arena, (n + 1) * sizeof(*out));
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v))
            return NULL;
        out[i] = json_string_value(v);
    }
    out[n] = NULL;
    return out;
}

static void keys_create(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, create_members);
    char err[160];
    if (body == NULL)
        return;
    nova_apikey_spec_t spec = {0};
    json_t *v;
    const char *bad = NULL;
    if (nova_json_get_string(body, "purpose", true, 1, 200, &spec.purpose, err, sizeof(err)) ||
        nova_json_get_words(body, "scopes", true, 16, 64, &r->arena, &spec.scopes, err,
                            sizeof(err)) ||
        nova_json_get_string(body, "mode", false, 4, 4, &spec.mode, err, sizeof(err)))
        bad = err;
    else if ((v = json_object_get(body, "ip_allowlist")) &&
             (spec.ip_allowlist = string_list(r, v, 32)) == NULL)
        bad = "ip_allowlist: an array of at most 32 CIDR strings";
    else if ((v = json_object_get(body, "rate_per_minute")) && !json_is_integer(v))
        bad = "rate_per_minute: an integer";
    else if ((v = json_object_get(body, "expires_at")) && !json_is_integer(v))
        bad = "expires_at: an integer (unix seconds)";
    if (bad == NULL) {
        if ((v = json_object_get(body, "rate_per_minute")))
            spec.rate_per_minute = json_integer_value(v);
        if ((v = json_object_get(body, "expires_at")))
            spec.expires_at = json_integer_value(v);
        json_t *b = json_object_get(body, "budget");
        if (b) {
            json_t *amt = json_object_get(b, "amount_daily"), *cur = json_object_get(b, "currency");
            if (!json_is_object(b) || json_object_size(b) != 2 || !json_is_integer(amt) ||
                !json_is_string(cur))
                bad = "budget: {\"amount_daily\": minor units per UTC day, \"currency\": "
                      "\"KES\"}";
            else {
                spec.budget_daily = json_integer_value(amt);
                spec.budget_currency = json_string_value(cur);
            }
        }
    }
    if (bad) {
        invalid_field(r, bad);
        json_decref(body);
        return;
    }
    if (!nova_auth_scopes_known(spec.scopes)) {
        nova_resp_problem(r, 400, "invalid_scope", "Invalid scope",
                          "\"scopes\" holds a scope Nova does not know");
    } else if (!nova_auth_scope_subset(spec.scopes, r->principal->scope)) {
        nova_resp_problem(r, 403, "scope_escalation", "Forbidden",
                          "an API key can only hold scopes its creator holds");
    } else {
        nova_store_t *s = api_store(r, api);
        if (s != NULL) {
            nova_audit_actor_t by = {r->principal->client_id, r->req_id};
            nova_apikey_t k;
            const char *secret = NULL, *why = NULL;
            nova_status st = nova_auth_apikey_create(
                api->auth, s, &r->arena, &by, r->principal->tenant_id, &spec, &k, &secret, &why);
            if (st == NOVA_INVALID && why) {
                invalid_field(r, why);
            } else if (st) {
                api_unavailable(r, st);
            } else {
                json_t *o = key_json(&k);
                json_object_set_new(o, "secret", json_string(secret));
                char *loc = nova_arena_printf(&r->arena, "/v1/api-keys/%s", k.id);
                if (loc)
                    nova_resp_header(r, "Location", loc);
                api_reply_json(r, 201, o);
            }
        }
    }
    json_decref(body);
}

static void keys_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_apikey_t *rows = NULL;
    size_t n = 0;
    nova_status st = nova_store_apikey_list(s, &r->arena, r->principal->tenant_id, &rows, &n);
    if (st) {
        api_unavailable(r, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, key_json(&rows[i]));
    api_reply_json(r, 200, json_pack("{s:o}", "api_keys", arr));
}

static void keys_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_apikey_t k;
    nova_status st = nova_store_apikey_get(s, &r->arena, r->principal->tenant_id, r->params[0], &k);
    if (st) {
        api_unavailable(r, st == NOVA_INVALID ? NOVA_NOT_FOUND : st);
        return;
    }
    api_reply_json(r, 200, key_json(&k));
}

static void keys_delete(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_status st = nova_auth_apikey_revoke(api->auth, s, &r->arena, &by, r->principal->tenant_id,
                                             r->params[0]);
    if (st) {
        api_unavailable(r, st == NOVA_INVALID ? NOVA_NOT_FOUND : st);
        return;
    }
    nova_resp_body(r, 204, NULL, NULL, 0);
}

static const char *const rotate_members[] = {"overlap_seconds", NULL};

static void keys_rotate(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    int64_t overlap = 86400;
    if (r->body.len) {
        json_t *body = api_json_body(r, rotate_members);
        if (body == NULL)
            return;
        json_t *v = json_object_get(body, "overlap_seconds");
        bool ok = v == NULL || (json_is_integer(v) && json_integer_value(v) >= 0 &&
                                json_integer_value(v) <= NOVA_APIKEY_OVERLAP_MAX);
        if (v && ok)
            overlap = json_integer_value(v);
        json_decref(body);
        if (!ok) {
            invalid_field(r, "overlap_seconds: 0 to 604800 seconds the old secret stays valid");
            return;
        }
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_apikey_t k;
    const char *secret = NULL;
    nova_status st = nova_auth_apikey_rotate(api->auth, s, &r->arena, &by, r->principal->tenant_id,
                                             r->params[0], overlap, &k, &secret);
    if (st) {
        api_unavailable(r, st == NOVA_INVALID ? NOVA_NOT_FOUND : st);
        return;
    }
    json_t *o = key_json(&k);
    json_object_set_new(o, "secret", json_string(secret));
    api_reply_json(r, 200, o);
}

nova_status api_apikeys_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"POST", "/v1/api-keys", "api-keys:write", keys_create, 8192},
        {"GET", "/v1/api-keys", "api-keys:read", keys_list, 0},
        {"GET", "/v1/api-keys/{id}", "api-keys:read", keys_get, 0},
        {"DELETE", "/v1/api-keys/{id}", "api-keys:write", keys_delete, 0},
        {"POST", "/v1/api-keys/{id}/rotate", "api-keys:write", keys_rotate, 256},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
