/*
 * sessions.c: SDK sessions and rotating refresh tokens (seed 003 §3.2; seed 000: "SDKs use
 * refresh tokens; client secrets are never exposed in client environments").
 *
 * A tenant backend (client credentials, scope sdk:sessions) mints a session for one subject
 * (an applicant or a verification): a short access token whose sub is that subject and whose
 * scope is a subset of the backend's SDK-grantable scopes, plus an opaque refresh token the
 * app or browser keeps. Each refresh rotates: the presented token is spent and a new one
 * issued in the same family (the session). A spent token presented again means two parties
 * hold the family: the session is revoked, with every access token that names it (sid), and
 * the reuse is audited.
 *
 * Refresh tokens: "nrt." tenant "." 43 base64url characters (256 random bits). The tenant
 * part routes the lookup (row-level security needs the tenant before the query); only
 * HMAC-SHA-256(refresh pepper, token) is stored.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "nova/session_store.h"

#define RT_PREFIX "nrt."
#define SUBJECT_MAX 128

/* Scopes a session may carry: what an applicant's app needs, never administration. */
static const char *const sdk_scopes[] = {"verifications:read", "verifications:write", NULL};

static bool sdk_scope_ok(const char *scope)
{
    const char *p = scope;
    while (*p) {
        size_t n = strcspn(p, " ");
        bool ok = false;
        for (size_t i = 0; sdk_scopes[i] && !ok; i++)
            ok = strlen(sdk_scopes[i]) == n && memcmp(sdk_scopes[i], p, n) == 0;
        if (!ok)
            return false;
        p += n;
        while (*p == ' ')
            p++;
    }
    return true;
}

static bool subject_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > SUBJECT_MAX)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-@") == n;
}

/* A fresh refresh token of tenant_id and its digest. */
static nova_status new_refresh(nova_auth_t *a, nova_arena_t *ar, const char *tenant_id,
                               const char **token, char digest[65])
{
    uint8_t raw[32];
    char b64[44];
    if (nova_random_bytes(raw, sizeof(raw)) != NOVA_OK)
        return NOVA_INTERNAL;
    nova_b64url_encode(raw, sizeof(raw), b64);
    char *t = nova_arena_printf(ar, RT_PREFIX "%s.%s", tenant_id, b64);
    if (t == NULL)
        return NOVA_NOMEM;
    nova_secret_digest(a->refresh_pepper, t, strlen(t), digest);
    *token = t;
    return NOVA_OK;
}

const char *nova_auth_refresh_tenant(nova_arena_t *ar, const char *token)
{
    size_t n = strlen(token);
    if (n < sizeof(RT_PREFIX) + 44 || n > 200 || strncmp(token, RT_PREFIX, 4) != 0)
        return NULL;
    const char *t = token + 4, *dot = strchr(t, '.');
    if (dot == NULL || dot == t || strlen(dot + 1) != 43 || strchr(dot + 1, '.'))
        return NULL;
    for (const char *p = t; p < dot; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return NULL;
    return nova_arena_strndup(ar, t, (size_t)(dot - t));
}

static const nova_audit_entry_t *entry(nova_arena_t *ar, const char *tenant, const char *actor,
                                       const char *action, const char *session_id,
                                       const char *decision, json_t *attrs)
{
    nova_audit_entry_t *e = nova_arena_alloc(ar, sizeof(*e));
    nova_audit_actor_t by = {.id = actor};
    if (e == NULL) {
        json_decref(attrs);
        return NULL;
    }
    if (nova_audit_entry_make(e, ar, &by, tenant, action, "session", session_id, attrs) != NOVA_OK)
        return NULL;
    e->decision = decision;
    return e;
}

static nova_status mint_for(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                            const nova_session_t *ses, const char *scope,
                            const nova_token_bind_t *bind, nova_token_t *out)
{
    auth_mint_t m = {.tenant_id = ses->tenant_id,
                     .client_id = ses->client_id,
                     .subject = ses->subject,
                     .scope = scope,
                     .audience = ses->audience,
                     .session_id = ses->id,
                     .jkt = bind && bind->jkt[0] ? bind->jkt : NULL,
                     .x5t = bind && bind->x5t[0] ? bind->x5t : NULL};
    /* An access token never outlives its session. */
    int64_t left = ses->expires_at - nova_time_now();
    m.ttl = left < (int64_t)a->token_ttl ? left : (int64_t)a->token_ttl;
    if (m.ttl <= 0)
        return NOVA_UNAUTHORIZED;
    return auth_token_mint(a, s, ar, &m, out);
}

nova_status nova_auth_session_create(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                     const nova_session_request_t *req, nova_session_grant_t *out,
                                     const char **why)
{
    *why = NULL;
    memset(out, 0, sizeof(*out));
    if (!subject_ok(req->subject)) {
        *why = "subject: 1-128 characters of A-Z a-z 0-9 . _ : - @";
        return NOVA_INVALID;
    }
    const char *scope = req->scope && *req->scope ? req->scope : "verifications:write";
    if (!auth_scope_words_valid(scope) || !sdk_scope_ok(scope)) {
        *why = "scope: SDK sessions may hold verifications:read and verifications:write";
        return NOVA_INVALID;
    }
    int64_t ttl = req->ttl ? req->ttl : a->session_ttl;
    if (ttl < 60 || ttl > 86400) {
        *why = "ttl: 60 to 86400 seconds";
        return NOVA_INVALID;
    }
    if (req->max_ttl > 0 && ttl > req->max_ttl)
        ttl = req->max_ttl; /* the tenant's session_timeout_minutes */
    char id[40], digest[65];
    if (nova_id_new("ses", id, sizeof(id)) != NOVA_OK)
        return NOVA_INTERNAL;
    const char *rt;
    nova_status st = new_refresh(a, ar, req->tenant_id, &rt, digest);
    if (st)
        return st;
    int64_t now = nova_time_now();
    nova_session_t *ses = &out->session;
    *ses = (nova_session_t){.id = nova_arena_strdup(ar, id),
                            .tenant_id = req->tenant_id,
                            .kind = "sdk",
                            .client_id = req->client_id,
                            .subject = req->subject,
                            .scope = scope,
                            .audience = req->audience ? req->audience : a->audience,
                            .created_at = now,
                            .expires_at = now + ttl,
                            .revoked_reason = ""};
    if (ses->id == NULL)
        return NOVA_NOMEM;
    const nova_audit_entry_t *e =
        entry(ar, req->tenant_id, req->client_id, "session.create", ses->id, NULL,
              json_pack("{s:s, s:s, s:s, s:I}", "kind", "sdk", "subject", req->subject, "scope",
                        scope, "ttl", (json_int_t)ttl));
    if (e == NULL)
        return NOVA_NOMEM;
    st = nova_store_session_create(s, ses, digest, e);
    if (st)
        return st;
    out->refresh_token = rt;
    out->refresh_expires_in = ttl;
    return mint_for(a, s, ar, ses, scope, NULL, &out->access);
}

typedef struct rotate_ctx {
    nova_arena_t *ar;
    const char *request_id;
} rotate_ctx;

static const nova_audit_entry_t *rotate_audit(const nova_session_t *ses, bool reuse, void *ud)
{
    rotate_ctx *c = ud;
    if (reuse)
        return entry(c->ar, ses->tenant_id, ses->id, "session.refresh_reuse", ses->id, "deny",
                     json_pack("{s:s, s:s}", "outcome", "family revoked", "subject", ses->subject));
    return entry(c->ar, ses->tenant_id, ses->id, "session.refresh", ses->id, NULL, NULL);
}

nova_status nova_auth_session_refresh(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                      const char *refresh_token, const char *scope,
                                      const nova_token_bind_t *bind, nova_session_grant_t *out,
                                      const char **why)
{
    *why = NULL;
    memset(out, 0, sizeof(*out));
    const char *tenant = refresh_token ? nova_auth_refresh_tenant(ar, refresh_token) : NULL;
    if (tenant == NULL) {
        *why = "not a refresh token";
        return NOVA_UNAUTHORIZED;
    }
    char old_digest[65], new_digest[65];
    const char *rt;
    nova_secret_digest(a->refresh_pepper, refresh_token, strlen(refresh_token), old_digest);
    nova_status st = new_refresh(a, ar, tenant, &rt, new_digest);
    if (st)
        return st;
    rotate_ctx ctx = {.ar = ar};
    nova_rotate_outcome outcome;
    st = nova_store_session_rotate(s, ar, tenant, old_digest, new_digest, nova_time_now(),
                                   rotate_audit, &ctx, &out->session, &outcome);
    if (st)
        return st == NOVA_INVALID ? NOVA_UNAUTHORIZED : st;
    if (outcome == NOVA_ROTATE_REUSED) {
        *why = "refresh token reused: the session is revoked";
        return NOVA_UNAUTHORIZED;
    }
    if (outcome != NOVA_ROTATE_OK) {
        *why = "unknown, expired or revoked refresh token";
        return NOVA_UNAUTHORIZED;
    }
    if (scope && *scope &&
        (!auth_scope_words_valid(scope) || !nova_auth_scope_subset(scope, out->session.scope))) {
        *why = "scope: only a subset of the session's scope";
        return NOVA_FORBIDDEN;
    }
    out->refresh_token = rt;
    out->refresh_expires_in = out->session.expires_at - nova_time_now();
    return mint_for(a, s, ar, &out->session, scope && *scope ? scope : out->session.scope, bind,
                    &out->access);
}

nova_status nova_auth_session_revoke(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                     const char *tenant_id, const char *session_id,
                                     const char *actor)
{
    (void)a;
    const nova_audit_entry_t *e =
        entry(ar, tenant_id, actor, "session.revoke", session_id, NULL, NULL);
    if (e == NULL)
        return NOVA_NOMEM;
    return nova_store_session_revoke(s, tenant_id, session_id, "revoked", nova_time_now(), e);
}
