/* tokens.c: access tokens. JWS (EdDSA or ES256) with typ "at+jwt" (RFC 9068) and claims
 * iss sub tid jti iat exp aud scope client_id. Verification results are cached by the
 * SHA-256 of the token text until exp; liveness (client not revoked, jti not revoked) is asked
 * of the store on every use so revocation takes effect at once on every instance. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "nova/json.h"
#include "nova/session_store.h"

#define MAX_TOKEN_LEN 8192
#define CLOCK_SKEW 60

static const char *first_word(nova_arena_t *ar, const char *list)
{
    while (*list == ' ')
        list++;
    return nova_arena_strndup(ar, list, strcspn(list, " "));
}

bool auth_scope_words_valid(const char *s)
{
    size_t n = strlen(s), words = 0;
    if (n == 0 || n > 1024)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E, separated by single spaces */
        if (c == ' ') {
            if (i == 0 || s[i - 1] == ' ')
                return false;
            continue;
        }
        if (c < 0x21 || c == '"' || c == '\\' || c > 0x7e)
            return false;
        if (i == 0 || s[i - 1] == ' ')
            words++;
    }
    return s[n - 1] != ' ' && words > 0;
}

/* A sticky JSON-object writer for claims: the first failure is kept and later appends do
 * nothing, so building reads as a list of members with one check at the end. */
typedef struct claims_w {
    nova_buf_t b;
    nova_status st;
    bool first;
} claims_w;

static void cw_key(claims_w *w, const char *name)
{
    if (w->st == NOVA_OK)
        w->st = nova_buf_printf(&w->b, "%s\"%s\":", w->first ? "{" : ",", name);
    w->first = false;
}

static void cw_str(claims_w *w, const char *name, const char *v)
{
    if (v == NULL)
        return;
    cw_key(w, name);
    if (w->st == NOVA_OK)
        w->st = nova_buf_append(&w->b, "\"", 1);
    /* Every value but the ids we generated comes from validated, quote-free input; escape
     * anyway so the token can never carry a forged member. */
    if (w->st == NOVA_OK)
        w->st = nova_buf_append_json_escaped(&w->b, v, strlen(v));
    if (w->st == NOVA_OK)
        w->st = nova_buf_append(&w->b, "\"", 1);
}

static void cw_int(claims_w *w, const char *name, int64_t v)
{
    cw_key(w, name);
    if (w->st == NOVA_OK)
        w->st = nova_buf_printf(&w->b, "%lld", (long long)v);
}

nova_status auth_token_mint(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar, const auth_mint_t *m,
                            nova_token_t *out)
{
    const key_entry *key;
    nova_status st = auth_key_for_tenant(a, s, m->tenant_id, &key);
    if (st)
        return st;
    uint8_t raw[16];
    char jti[32];
    if (nova_random_bytes(raw, sizeof(raw)) != NOVA_OK)
        return NOVA_INTERNAL;
    nova_b64url_encode(raw, sizeof(raw), jti);
    int64_t now = nova_time_now(), ttl = m->ttl ? m->ttl : a->token_ttl;
    const char *iss = nova_auth_tenant_issuer(a, ar, m->tenant_id);
    if (iss == NULL)
        return NOVA_NOMEM;

    claims_w w = {.st = NOVA_OK, .first = true};
    nova_buf_t jws;
    nova_buf_init(&w.b);
    nova_buf_init(&jws);
    cw_str(&w, "iss", iss);
    cw_str(&w, "sub", m->subject ? m->subject : m->client_id);
    cw_str(&w, "client_id", m->client_id);
    cw_str(&w, "tid", m->tenant_id);
    cw_str(&w, "aud", m->audience);
    cw_str(&w, "scope", m->scope);
    cw_str(&w, "sid", m->session_id);
    cw_str(&w, "jti", jti);
    cw_int(&w, "iat", now);
    cw_int(&w, "exp", now + ttl);
    if (m->jkt || m->x5t) {
        /* RFC 9449 §6 / RFC 8705 §3: the key or certificate the token is bound to. */
        cw_key(&w, "cnf");
        w.first = true;
        cw_str(&w, "jkt", m->jkt);
        cw_str(&w, "x5t#S256", m->x5t);
        if (w.st == NOVA_OK)
            w.st = nova_buf_append(&w.b, "}", 1);
        w.first = false;
    }
    if (w.st == NOVA_OK)
        w.st = nova_buf_append(&w.b, "}", 1);
    st = w.st ? w.st : nova_jws_sign(key->key, "at+jwt", w.b.data, w.b.len, &jws);
    if (st == NOVA_OK) {
        out->access_token = nova_arena_strndup(ar, jws.data, jws.len);
        out->scope = nova_arena_strdup(ar, m->scope);
        out->audience = nova_arena_strdup(ar, m->audience);
        out->expires_in = ttl;
        out->token_type = m->jkt ? "DPoP" : "Bearer";
        if (!out->access_token || !out->scope || !out->audience)
            st = NOVA_NOMEM;
    }
    nova_buf_free(&w.b);
    nova_buf_free(&jws);
    return st;
}

nova_status nova_auth_token_issue(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                  const nova_client_t *client, const char *scope,
                                  const char *audience, nova_token_t *out, const char **oauth_error)
{
    return nova_auth_token_issue_bound(a, s, ar, client, scope, audience, NULL, out, oauth_error);
}

nova_status nova_auth_token_issue_bound(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                        const nova_client_t *client, const char *scope,
                                        const char *audience, const nova_token_bind_t *bind,
                                        nova_token_t *out, const char **oauth_error)
{
    *oauth_error = NULL;
    if (scope == NULL) {
        scope = client->scopes;
    } else if (!auth_scope_words_valid(scope) || !nova_auth_scope_subset(scope, client->scopes)) {
        *oauth_error = "invalid_scope";
        return NOVA_FORBIDDEN;
    }
    if (audience == NULL) {
        audience = first_word(ar, client->audiences);
        if (audience == NULL)
            return NOVA_NOMEM;
    } else if (strchr(audience, ' ') || !nova_auth_scope_has(client->audiences, audience)) {
        *oauth_error = "invalid_target";
        return NOVA_FORBIDDEN;
    }
    auth_mint_t m = {.tenant_id = client->tenant_id,
                     .client_id = client->id,
                     .scope = scope,
                     .audience = audience,
                     .jkt = bind && bind->jkt[0] ? bind->jkt : NULL,
                     .x5t = bind && bind->x5t[0] ? bind->x5t : NULL};
    return auth_token_mint(a, s, ar, &m, out);
}

static bool copy_claim(json_t *obj, const char *key, char *dst, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return false;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0 || n >= cap || strlen(s) != n)
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

/* Signature and claims, no liveness. Fills e (the cache entry) on success. The claims are
 * read before the signature is checked, so a token that is expired, from another issuer or
 * malformed is refused without the (far costlier) signature verification; nothing read from
 * an unverified token is used for anything but refusing it. */
static nova_status verify_jws(nova_auth_t *a, nova_store_t *s, const char *token, size_t len,
                              int64_t now, token_entry *e, const char **why)
{
    nova_jws_t jws;
    const key_entry *key;
    json_t *claims = NULL;
    char iss[512];
    nova_status st = nova_jws_parse(token, len, &jws);
    if (st) {
        *why = "malformed token";
        return NOVA_UNAUTHORIZED;
    }
    st = NOVA_UNAUTHORIZED;
    if (strcmp(jws.typ, "at+jwt") != 0 || jws.kid[0] == '\0') {
        *why = "not an access token";
        goto end;
    }
    *why = "bad claims";
    /* The same bounded decode as request bodies: this text is not yet authenticated. */
    if (nova_json_parse_object(jws.payload, jws.payload_len, &claims, NULL, 0) != NOVA_OK)
        goto end;
    json_t *iat = json_object_get(claims, "iat"), *exp = json_object_get(claims, "exp");
    /* Each tenant is its own issuer: iss must be the one of the tenant the token names. */
    if (!copy_claim(claims, "tid", e->tenant_id, sizeof(e->tenant_id)) ||
        !copy_claim(claims, "iss", iss, sizeof(iss)) || !auth_issuer_is(a, e->tenant_id, iss)) {
        *why = "wrong issuer";
        goto end;
    }
    if (!copy_claim(claims, "client_id", e->client_id, sizeof(e->client_id)) ||
        !copy_claim(claims, "sub", e->subject, sizeof(e->subject)) ||
        !copy_claim(claims, "jti", e->jti, sizeof(e->jti)) ||
        !copy_claim(claims, "aud", e->audience, sizeof(e->audience)) ||
        !copy_claim(claims, "scope", e->scope, sizeof(e->scope)) || !json_is_integer(iat) ||
        !json_is_integer(exp))
        goto end;
    if (json_object_get(claims, "sid") && !copy_claim(claims, "sid", e->sid, sizeof(e->sid)))
        goto end;
    json_t *cnf = json_object_get(claims, "cnf");
    if (cnf && (!json_is_object(cnf) ||
                (json_object_get(cnf, "jkt") && !copy_claim(cnf, "jkt", e->jkt, sizeof(e->jkt))) ||
                (json_object_get(cnf, "x5t#S256") &&
                 !copy_claim(cnf, "x5t#S256", e->x5t, sizeof(e->x5t))) ||
                (!e->jkt[0] && !e->x5t[0])))
        goto end; /* a binding Nova cannot check is no binding to ignore */
    e->iat = json_integer_value(iat);
    e->exp = json_integer_value(exp);
    /* Bounded before any arithmetic: exp - iat of two arbitrary int64 values can overflow. */
    if (!nova_time_in_range(e->iat) || !nova_time_in_range(e->exp)) {
        *why = "bad token lifetime";
        goto end;
    }
    if (e->exp <= now) {
        *why = "token expired";
        goto end;
    }
    if (e->iat > now + CLOCK_SKEW || e->exp <= e->iat || e->exp - e->iat > 3600) {
        *why = "bad token lifetime";
        goto end;
    }
    st = auth_key_for_kid(a, s, jws.kid, &key);
    if (st == NOVA_NOT_FOUND) {
        *why = "unknown signing key";
        st = NOVA_UNAUTHORIZED;
        goto end;
    }
    if (st)
        goto end;
    st = NOVA_UNAUTHORIZED;
    if (nova_jws_verify(&jws, key->key) != NOVA_OK) {
        *why = "bad signature";
        goto end;
    }
    if (strcmp(e->tenant_id, key->tenant_id) != 0) {
        /* A tenant's key only vouches for its own tenant's tokens. */
        *why = "tenant does not match signing key";
        goto end;
    }
    /* Whether the key is still live (not retired) is asked of the store with every request's
     * liveness read, by this kid. */
    if (strlen(jws.kid) >= sizeof(e->kid)) {
        *why = "unknown signing key";
        goto end;
    }
    memcpy(e->kid, jws.kid, strlen(jws.kid) + 1);
    *why = NULL;
    st = NOVA_OK;
end:
    json_decref(claims);
    nova_jws_clear(&jws);
    return st;
}

/* Verified claims (cached or fresh) plus liveness; audience checked by the caller. */
static nova_status verify(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar, const char *token,
                          size_t len, token_entry *e, uint8_t digest[32], nova_tenant_t *tenant,
                          const char **why)
{
    *why = NULL;
    if (len == 0 || len > MAX_TOKEN_LEN) {
        *why = "malformed token";
        return NOVA_UNAUTHORIZED;
    }
    int64_t now = nova_time_now();
    nova_sha256(token, len, digest);
    if (!auth_token_cache_get(a, digest, now, e)) {
        memset(e, 0, sizeof(*e));
        nova_status st = verify_jws(a, s, token, len, now, e, why);
        if (st)
            return st;
        memcpy(e->digest, digest, 32);
        auth_token_cache_put(a, e);
    }
    /* Liveness and the tenant in one read: no row means the client or the token is revoked
     * (or the tenant is gone, or the token's session is over). */
    nova_status st = e->sid[0]
                         ? nova_store_session_token_resolve(s, ar, e->tenant_id, e->client_id,
                                                            e->jti, e->sid, e->kid, now, tenant)
                         : nova_store_token_resolve(s, ar, e->tenant_id, e->client_id, e->jti,
                                                    e->kid, now, tenant);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        *why = "token revoked";
        return NOVA_UNAUTHORIZED;
    }
    return st;
}

static nova_status fill_claims(nova_arena_t *ar, const token_entry *e, const nova_tenant_t *t,
                               nova_claims_t *out)
{
    out->tenant_name = t->name;
    out->tenant_id = nova_arena_strdup(ar, e->tenant_id);
    out->client_id = nova_arena_strdup(ar, e->client_id);
    out->scope = nova_arena_strdup(ar, e->scope);
    out->jti = nova_arena_strdup(ar, e->jti);
    out->audience = nova_arena_strdup(ar, e->audience);
    out->subject = nova_arena_strdup(ar, e->subject);
    out->session_id = e->sid[0] ? nova_arena_strdup(ar, e->sid) : NULL;
    out->jkt = e->jkt[0] ? nova_arena_strdup(ar, e->jkt) : NULL;
    out->x5t = e->x5t[0] ? nova_arena_strdup(ar, e->x5t) : NULL;
    out->iat = e->iat;
    out->exp = e->exp;
    if (!out->tenant_id || !out->client_id || !out->scope || !out->jti || !out->audience ||
        !out->subject)
        return NOVA_NOMEM;
    return NOVA_OK;
}

nova_status nova_auth_token_verify(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                   const char *token, size_t len, const char *want_aud,
                                   nova_claims_t *out, const char **why)
{
    token_entry e;
    uint8_t digest[32];
    nova_tenant_t t;
    nova_status st = verify(a, s, ar, token, len, &e, digest, &t, why);
    if (st)
        return st;
    if (strcmp(e.audience, want_aud ? want_aud : a->audience) != 0) {
        *why = "token is not for this audience";
        return NOVA_UNAUTHORIZED;
    }
    return fill_claims(ar, &e, &t, out);
}

nova_status nova_auth_token_revoke(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                   const nova_client_t *caller, const char *token)
{
    token_entry e;
    uint8_t digest[32];
    nova_tenant_t t;
    const char *why;
    nova_status st = verify(a, s, ar, token, strlen(token), &e, digest, &t, &why);
    if (st == NOVA_UNAUTHORIZED)
        return NOVA_OK; /* RFC 7009 §2.2: invalid tokens need no revocation */
    if (st)
        return st;
    if (strcmp(e.client_id, caller->id) != 0 || strcmp(e.tenant_id, caller->tenant_id) != 0)
        return NOVA_OK; /* not the caller's token: do nothing, reveal nothing */
    nova_audit_entry_t ae;
    nova_audit_actor_t by = {.id = caller->id};
    st = nova_audit_entry_make(&ae, ar, &by, e.tenant_id, "token.revoke", "token", e.jti, NULL);
    if (st == NOVA_OK)
        st = nova_store_token_revoke(s, e.tenant_id, e.jti, e.exp, &ae);
    if (st == NOVA_OK)
        auth_token_cache_drop(a, digest);
    return st;
}

nova_status nova_auth_token_introspect(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                       const nova_client_t *caller, const char *token, bool *active,
                                       nova_claims_t *out)
{
    *active = false;
    token_entry e;
    uint8_t digest[32];
    nova_tenant_t t;
    const char *why;
    nova_status st = verify(a, s, ar, token, strlen(token), &e, digest, &t, &why);
    if (st == NOVA_UNAUTHORIZED)
        return NOVA_OK;
    if (st)
        return st;
    if (strcmp(e.tenant_id, caller->tenant_id) != 0)
        return NOVA_OK; /* another tenant's token is, to this caller, not a token at all */
    *active = true;
    return fill_claims(ar, &e, &t, out);
}
