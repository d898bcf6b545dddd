/* people.c: the people domain object and its per-tenant keys. Each tenant gets two keys of
 * its own, made on first use and stored sealed with the tenant's data key (people_keys):
 * 'index' (32 random bytes: the blind index of emails, so sign-in finds a user without
 * keeping the email in clear) and 'token' (Ed25519: user access tokens and step-up
 * challenges, which only this module verifies). A process opens each once and keeps it. */
#include <ctype.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/datakey.h"
#include "nova/json.h"
#include "nova/oidc.h"
#include "nova/saml.h"

#define MAX_CACHED_TENANTS 4096

nova_status nova_people_new(nova_auth_t *auth, nova_kv_t *kv, const nova_people_config_t *cfg,
                            nova_people_t **out)
{
    nova_people_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NOVA_NOMEM;
    p->auth = auth;
    p->kv = kv;
    const char *region = cfg && cfg->region && *cfg->region ? cfg->region : "global";
    const char *issuer = cfg && cfg->totp_issuer && *cfg->totp_issuer ? cfg->totp_issuer : "Nova";
    if (!nova_envelope_region_valid(region) || strlen(issuer) >= sizeof(p->totp_issuer)) {
        free(p);
        return NOVA_INVALID;
    }
    snprintf(p->region, sizeof(p->region), "%s", region);
    snprintf(p->totp_issuer, sizeof(p->totp_issuer), "%s", issuer);
    p->access_ttl = cfg && cfg->access_ttl ? cfg->access_ttl : 300;
    p->group_tuples = cfg ? cfg->group_tuples : NULL;
    p->group_tuples_synced = cfg ? cfg->group_tuples_synced : NULL;
    p->group_tuples_ud = cfg ? cfg->group_tuples_ud : NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->tmu, NULL);
    *out = p;
    return NOVA_OK;
}

static void keys_free(people_keys_t *k)
{
    while (k) {
        people_keys_t *next = k->next;
        OPENSSL_cleanse(k->index_key, sizeof(k->index_key));
        nova_key_free(k->token_key);
        free(k);
        k = next;
    }
}

void nova_people_free(nova_people_t *p)
{
    if (p == NULL)
        return;
    keys_free(p->keys);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->tmu);
    free(p);
}

nova_status people_seal(nova_people_t *p, nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                        const char *context, const void *pt, size_t n, const uint8_t **out,
                        size_t *outlen)
{
    nova_sealed_t v;
    nova_buf_t b;
    nova_status st = nova_field_seal(p->auth, s, ar, tenant_id, p->region, context, pt, n, &v);
    if (st)
        return st;
    nova_buf_init(&b);
    st = nova_sealed_encode(&v, &b);
    if (st == NOVA_OK) {
        uint8_t *c = nova_arena_alloc(ar, b.len);
        if (c == NULL) {
            st = NOVA_NOMEM;
        } else {
            memcpy(c, b.data, b.len);
            *out = c;
            *outlen = b.len;
        }
    }
    nova_buf_free(&b);
    return st;
}

nova_status people_open(nova_people_t *p, nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                        const char *region, const char *context, const uint8_t *v, size_t n,
                        char **out, size_t *outlen)
{
    nova_sealed_t sv;
    nova_plain_t *pl = NULL;
    nova_status st = nova_sealed_decode(v, n, &sv);
    if (st == NOVA_OK)
        st = nova_field_open(p->auth, s, tenant_id, region, context, &sv, &pl);
    if (st)
        return st;
    size_t len;
    const uint8_t *b = nova_plain_bytes(pl, &len);
    char *c = nova_arena_alloc(ar, len + 1);
    if (c) {
        memcpy(c, b, len);
        c[len] = '\0';
        *out = c;
        if (outlen)
            *outlen = len;
    }
    nova_plain_free(pl);
    return c ? NOVA_OK : NOVA_NOMEM;
}

/* Makes the tenant's key `name` and stores it sealed unless another process made it first. */
static nova_status key_make(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                            const char *tenant_id, const char *name)
{
    nova_buf_t der;
    nova_key_t *k = NULL;
    uint8_t raw[32];
    char kid[64];
    nova_status st;
    nova_buf_init(&der);
    if ((st = nova_id_new("ppk", kid, sizeof(kid))) != NOVA_OK)
        return st;
    if (strcmp(name, "token") == 0) {
        st = nova_key_generate(NOVA_JWS_EDDSA, kid, &k);
        if (st == NOVA_OK)
            st = nova_key_export_private(k, &der);
        nova_key_free(k);
    } else {
        st = nova_random_bytes(raw, sizeof(raw));
        if (st == NOVA_OK)
            st = nova_buf_append(&der, raw, sizeof(raw));
        OPENSSL_cleanse(raw, sizeof(raw));
    }
    const char *context = strcmp(name, "token") == 0 ? "people.token_key" : "people.index_key";
    nova_people_key_t row = {.tenant_id = tenant_id,
                             .name = name,
                             .kid = kid,
                             .region = p->region,
                             .created_at = nova_time_now()};
    if (st == NOVA_OK)
        st = people_seal(p, s, ar, tenant_id, context, der.data, der.len, &row.sealed,
                         &row.sealed_len);
    if (der.data)
        OPENSSL_cleanse(der.data, der.len);
    nova_buf_free(&der);
    nova_audit_entry_t ae;
    nova_audit_actor_t by = {.id = "system"};
    json_t *attrs = json_pack("{s:s, s:s}", "name", name, "kid", kid);
    if (st == NOVA_OK)
        st = nova_audit_entry_make(&ae, ar, &by, tenant_id, "people_key.create", "people_key", kid,
                                   attrs);
    else
        json_decref(attrs);
    if (st == NOVA_OK)
        st = nova_store_people_key_put(s, &row, &ae);
    return st;
}

/* Reads (making it if absent) and opens the tenant's key `name`: raw bytes in *out (caller
 * frees with nova_plain_free). */
static nova_status key_open(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                            const char *tenant_id, const char *name, nova_people_key_t *row,
                            nova_plain_t **out)
{
    nova_status st = nova_store_people_key_get(s, ar, tenant_id, name, row);
    if (st == NOVA_NOT_FOUND) {
        st = key_make(p, s, ar, tenant_id, name);
        if (st == NOVA_OK)
            st = nova_store_people_key_get(s, ar, tenant_id, name, row);
    }
    if (st)
        return st;
    const char *context = strcmp(name, "token") == 0 ? "people.token_key" : "people.index_key";
    nova_sealed_t v;
    st = nova_sealed_decode(row->sealed, row->sealed_len, &v);
    if (st == NOVA_OK)
        st = nova_field_open(p->auth, s, tenant_id, row->region, context, &v, out);
    return st;
}

nova_status people_keys_get(nova_people_t *p, nova_store_t *s, const char *tenant_id,
                            const people_keys_t **out)
{
    if (tenant_id == NULL || strlen(tenant_id) >= sizeof(((people_keys_t *)0)->tenant_id))
        return NOVA_INVALID;
    pthread_mutex_lock(&p->mu);
    for (people_keys_t *k = p->keys; k; k = k->next)
        if (strcmp(k->tenant_id, tenant_id) == 0) {
            *out = k;
            pthread_mutex_unlock(&p->mu);
            return NOVA_OK;
        }
    pthread_mutex_unlock(&p->mu);

    nova_arena_t ar;
    nova_arena_init(&ar, 2048);
    nova_people_key_t irow, trow;
    nova_plain_t *ik = NULL, *tk = NULL;
    people_keys_t *k = calloc(1, sizeof(*k));
    nova_status st = k ? NOVA_OK : NOVA_NOMEM;
    if (st == NOVA_OK)
        st = key_open(p, s, &ar, tenant_id, "index", &irow, &ik);
    if (st == NOVA_OK)
        st = key_open(p, s, &ar, tenant_id, "token", &trow, &tk);
    if (st == NOVA_OK) {
        size_t n;
        const uint8_t *b = nova_plain_bytes(ik, &n);
        if (n != sizeof(k->index_key)) {
            st = NOVA_INTERNAL;
        } else {
            memcpy(k->index_key, b, n);
            b = nova_plain_bytes(tk, &n);
            st = nova_key_import_private(NOVA_JWS_EDDSA, trow.kid, b, n, &k->token_key);
        }
    }
    nova_plain_free(ik);
    nova_plain_free(tk);
    nova_arena_free(&ar);
    if (st) {
        keys_free(k);
        return st;
    }
    snprintf(k->tenant_id, sizeof(k->tenant_id), "%s", tenant_id);
    pthread_mutex_lock(&p->mu);
    /* Another thread may have opened it meanwhile: keep the first, so pointers handed out
     * stay valid. */
    for (people_keys_t *e = p->keys; e; e = e->next)
        if (strcmp(e->tenant_id, tenant_id) == 0) {
            *out = e;
            pthread_mutex_unlock(&p->mu);
            keys_free(k);
            return NOVA_OK;
        }
    if (p->nkeys < MAX_CACHED_TENANTS) {
        k->next = p->keys;
        p->keys = k;
        p->nkeys++;
        *out = k;
        pthread_mutex_unlock(&p->mu);
        return NOVA_OK;
    }
    pthread_mutex_unlock(&p->mu);
    keys_free(k);
    return NOVA_UNAVAILABLE; /* more tenants signing in at once than the cache holds */
}

void people_email_index(const people_keys_t *k, const char *email, char out[65])
{
    char low[256];
    size_t n = strlen(email);
    if (n >= sizeof(low))
        n = sizeof(low) - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)email[i]);
    uint8_t mac[32];
    nova_hmac_sha256(k->index_key, sizeof(k->index_key), low, n, mac);
    nova_hex_encode(mac, sizeof(mac), out);
    OPENSSL_cleanse(low, sizeof(low));
}

nova_status people_sign(nova_people_t *p, nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                        const char *typ, const char *claims, const char **out)
{
    const people_keys_t *k;
    nova_status st = people_keys_get(p, s, tenant_id, &k);
    if (st)
        return st;
    nova_buf_t b;
    nova_buf_init(&b);
    st = nova_jws_sign(k->token_key, typ, claims, strlen(claims), &b);
    if (st == NOVA_OK) {
        *out = nova_arena_strndup(ar, b.data, b.len);
        if (*out == NULL)
            st = NOVA_NOMEM;
    }
    nova_buf_free(&b);
    return st;
}

nova_status people_verify(nova_people_t *p, nova_store_t *s, const char *token, const char *typ,
                          void **claims_out, const char **why)
{
    nova_jws_t jws;
    json_t *claims = NULL;
    const people_keys_t *k;
    *claims_out = NULL;
    if (token == NULL || strlen(token) > 4096 ||
        nova_jws_parse(token, strlen(token), &jws) != NOVA_OK) {
        *why = "malformed token";
        return NOVA_UNAUTHORIZED;
    }
    nova_status st = NOVA_UNAUTHORIZED;
    *why = "not a token of this kind";
    if (strcmp(jws.typ, typ) != 0 || jws.alg != NOVA_JWS_EDDSA)
        goto end;
    *why = "bad claims";
    if (nova_json_parse_object(jws.payload, jws.payload_len, &claims, NULL, 0) != NOVA_OK)
        goto end;
    json_t *tid = json_object_get(claims, "tid"), *exp = json_object_get(claims, "exp");
    if (!json_is_string(tid) || !json_is_integer(exp) ||
        !nova_time_in_range(json_integer_value(exp)))
        goto end;
    if (json_integer_value(exp) <= nova_time_now()) {
        *why = "token expired";
        goto end;
    }
    st = people_keys_get(p, s, json_string_value(tid), &k);
    if (st == NOVA_INVALID || st == NOVA_NOT_FOUND || st == NOVA_UNAUTHORIZED) {
        *why = "unknown tenant";
        st = NOVA_UNAUTHORIZED;
        goto end;
    }
    if (st)
        goto end;
    st = NOVA_UNAUTHORIZED;
    if (strcmp(jws.kid, nova_key_kid(k->token_key)) != 0 ||
        nova_jws_verify(&jws, k->token_key) != NOVA_OK) {
        *why = "bad signature";
        goto end;
    }
    *why = NULL;
    st = NOVA_OK;
    *claims_out = claims;
    claims = NULL;
end:
    json_decref(claims);
    nova_jws_clear(&jws);
    return st;
}

/* ---- counters ---- */

static _Atomic uint64_t counters[PEOPLE_M_N];
static _Atomic uint64_t logins[NOVA_LOGIN_OUTCOME_N];
static _Atomic uint64_t aals[3];

void people_count(int which)
{
    atomic_fetch_add_explicit(&counters[which], 1, memory_order_relaxed);
}

void people_count_login(nova_login_outcome o)
{
    atomic_fetch_add_explicit(&logins[o], 1, memory_order_relaxed);
}

void people_count_aal(int aal)
{
    atomic_fetch_add_explicit(&aals[aal >= 2 ? 2 : 1], 1, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static _Atomic uint64_t fed_failures[NOVA_FED_PROTOCOL_N][NOVA_FED_REASON_N];
static _Atomic uint64_t fed_changes[NOVA_FED_PROTOCOL_N][NOVA_FED_CHANGE_N];
static const char *const fed_protocols[NOVA_FED_PROTOCOL_N] = {"scim", "oidc", "saml"};
static const char *const fed_reasons[NOVA_FED_REASON_N] = {
    "token_missing", "token_malformed", "token_unknown", "invalid_filter", "invalid_syntax",
    "invalid_value", "invalid_path",    "mutability",    "uniqueness",     "not_found",
    "precondition",  "unavailable",     "other"};
static const char *const fed_change_names[NOVA_FED_CHANGE_N] = {"created", "replaced", "patched",
                                                                "deleted"};

void nova_people_count_federation_failure(nova_fed_protocol proto, nova_fed_reason reason)
{
    if ((unsigned)proto < NOVA_FED_PROTOCOL_N && (unsigned)reason < NOVA_FED_REASON_N)
        atomic_fetch_add_explicit(&fed_failures[proto][reason], 1, memory_order_relaxed);
}

void nova_people_count_provisioned(nova_fed_protocol proto, nova_fed_change change)
{
    if ((unsigned)proto < NOVA_FED_PROTOCOL_N && (unsigned)change < NOVA_FED_CHANGE_N)
        atomic_fetch_add_explicit(&fed_changes[proto][change], 1, memory_order_relaxed);
}

static nova_status federation_metrics(nova_buf_t *out)
{
    nova_status st = nova_buf_append_cstr(
        out, "# HELP nova_people_federation_failures_total Refused federation and provisioning "
             "requests, by protocol and reason.\n"
             "# TYPE nova_people_federation_failures_total counter\n");
    /* SCIM's reasons from the table here; OIDC's own (oidc_login.c) after them. */
    for (int r = 0; r < NOVA_FED_REASON_N && st == NOVA_OK; r++)
        st = nova_buf_printf(
            out, "nova_people_federation_failures_total{protocol=\"%s\",reason=\"%s\"} %llu\n",
            fed_protocols[NOVA_FED_SCIM], fed_reasons[r],
            (unsigned long long)get(&fed_failures[NOVA_FED_SCIM][r]));
    if (st == NOVA_OK)
        st = people_oidc_failure_lines(out);
    if (st == NOVA_OK)
        st = people_saml_failure_lines(out);
    if (st == NOVA_OK)
        st = nova_buf_append_cstr(
            out, "# HELP nova_people_provisioned_total Users changed by provisioning, by "
                 "protocol and change.\n"
                 "# TYPE nova_people_provisioned_total counter\n");
    for (int p = 0; p < NOVA_FED_PROTOCOL_N; p++)
        for (int c = 0; c < NOVA_FED_CHANGE_N && st == NOVA_OK; c++)
            st = nova_buf_printf(out,
                                 "nova_people_provisioned_total{protocol=\"%s\",change=\"%s\"} "
                                 "%llu\n",
                                 fed_protocols[p], fed_change_names[c],
                                 (unsigned long long)get(&fed_changes[p][c]));
    return st;
}

nova_status nova_people_metrics(nova_buf_t *out)
{
    nova_status st = nova_buf_append_cstr(
        out, "# HELP nova_people_logins_total User sign-in attempts, by result.\n"
             "# TYPE nova_people_logins_total counter\n");
    for (int o = 0; o < NOVA_LOGIN_OUTCOME_N && st == NOVA_OK; o++)
        st = nova_buf_printf(out, "nova_people_logins_total{result=\"%s\"} %llu\n",
                             nova_login_outcome_name((nova_login_outcome)o),
                             (unsigned long long)get(&logins[o]));
    if (st == NOVA_OK)
        st = nova_buf_printf(
            out,
            "# HELP nova_people_sessions_by_aal_total Sessions created, by assurance level.\n"
            "# TYPE nova_people_sessions_by_aal_total counter\n"
            "nova_people_sessions_by_aal_total{aal=\"1\"} %llu\n"
            "nova_people_sessions_by_aal_total{aal=\"2\"} %llu\n"
            "# HELP nova_people_session_events_total Session churn.\n"
            "# TYPE nova_people_session_events_total counter\n"
            "nova_people_session_events_total{event=\"created\"} %llu\n"
            "nova_people_session_events_total{event=\"refreshed\"} %llu\n"
            "nova_people_session_events_total{event=\"revoked\"} %llu\n"
            "nova_people_session_events_total{event=\"idle_timeout\"} %llu\n"
            "# HELP nova_people_stepup_total Step-up prompts and their completion.\n"
            "# TYPE nova_people_stepup_total counter\n"
            "nova_people_stepup_total{event=\"prompted\"} %llu\n"
            "nova_people_stepup_total{event=\"accepted\"} %llu\n"
            "nova_people_stepup_total{event=\"failed\"} %llu\n",
            (unsigned long long)get(&aals[1]), (unsigned long long)get(&aals[2]),
            (unsigned long long)get(&counters[PEOPLE_M_SES_CREATED]),
            (unsigned long long)get(&counters[PEOPLE_M_SES_REFRESHED]),
            (unsigned long long)get(&counters[PEOPLE_M_SES_REVOKED]),
            (unsigned long long)get(&counters[PEOPLE_M_SES_IDLE]),
            (unsigned long long)get(&counters[PEOPLE_M_STEPUP_PROMPT]),
            (unsigned long long)get(&counters[PEOPLE_M_STEPUP_OK]),
            (unsigned long long)get(&counters[PEOPLE_M_STEPUP_FAIL]));
    if (st == NOVA_OK)
        st = people_cae_metrics(out);
    if (st == NOVA_OK)
        st = federation_metrics(out);
    if (st == NOVA_OK)
        st = nova_oidc_metrics(out);
    if (st == NOVA_OK)
        st = nova_saml_metrics(out);
    return st;
}
