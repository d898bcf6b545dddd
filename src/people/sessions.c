/* sessions.c: sign-in (issue 11 item 4) and the session checks of every user request.
 *
 * A session is a row in the store (the durable record, the list an administrator sees, the
 * refresh-token family) and a record in the control plane, "ps:<tenant>:<session>", which
 * every request reads: it holds the user, the AAL, the last activity and the absolute end,
 * and lives only as long as the idle timeout allows (its TTL is moved on activity), so an
 * idle session simply disappears, on every instance sharing Redis. Revoking deletes the
 * record and marks the row. Access tokens are short (300 s) JWS signed by the tenant's
 * people key; refresh tokens "prt.<tenant>.<256 bits>" are stored as SHA-256 digests and
 * rotate on use (a spent one presented again revokes the session).
 *
 * Timeouts: idle = the tenant's session_timeout_minutes; absolute lifetime 12 times that, at
 * most 24 hours. Activity is written back at most every 15 s per session. */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/json.h"

#define MFA_TOKEN_TTL 300
#define MFA_ATTEMPTS 5
#define ACTIVITY_WRITE_S 15
#define ABSOLUTE_MAX 86400

static const char *const outcome_names[NOVA_LOGIN_OUTCOME_N] = {
    [NOVA_LOGIN_OK] = "ok",
    [NOVA_LOGIN_MFA] = "mfa_required",
    [NOVA_LOGIN_ENROL] = "mfa_enrollment_required",
    [NOVA_LOGIN_BAD] = "bad_credentials",
    [NOVA_LOGIN_BAD_MFA] = "bad_second_factor",
    [NOVA_LOGIN_SUSPENDED] = "suspended",
    [NOVA_LOGIN_CLONED] = "passkey_cloned",
};

const char *nova_login_outcome_name(nova_login_outcome o)
{
    return (unsigned)o < NOVA_LOGIN_OUTCOME_N ? outcome_names[o] : "unknown";
}

/* The control-plane record: "v2|user|aal|enrol|last_seen|expires_at|idle_s|ip|device|lat|lon|
 * located_at|held": the session's context for continuous access evaluation is the address and
 * device digest it was bound to, and its last located position and when. */
typedef struct hot {
    char user[64];
    int aal;
    int enrol;
    int64_t last_seen, expires_at, idle;
    char ip[64];
    char dev[17];
    double lat, lon;
    int64_t loc_at; /* 0: never located */
    int held;       /* step-up forced by an event, not yet done */
} hot_t;

static char *hot_key(nova_arena_t *ar, const char *tenant, const char *sid)
{
    return nova_arena_printf(ar, "ps:%s:%s", tenant, sid);
}

/* First 8 bytes of SHA-256 of the User-Agent, hex. */
static void dev_hash(const char *ua, char out[17])
{
    uint8_t d[32];
    nova_sha256(ua ? ua : "", ua ? strlen(ua) : 0, d);
    nova_hex_encode(d, 8, out);
}

static nova_status hot_put(nova_people_t *p, nova_arena_t *ar, const char *tenant, const char *sid,
                           const hot_t *h, int64_t now)
{
    char *key = hot_key(ar, tenant, sid);
    char *val = nova_arena_printf(
        ar, "v2|%s|%d|%d|%lld|%lld|%lld|%s|%s|%.5f|%.5f|%lld|%d", h->user, h->aal, h->enrol,
        (long long)h->last_seen, (long long)h->expires_at, (long long)h->idle,
        h->ip[0] ? h->ip : "-", h->dev, h->lat, h->lon, (long long)h->loc_at, h->held);
    if (!key || !val)
        return NOVA_NOMEM;
    int64_t left = h->expires_at - now;
    int64_t ttl = h->idle < left ? h->idle : left;
    if (ttl <= 0)
        return nova_kv_del(p->kv, key) == NOVA_UNAVAILABLE ? NOVA_UNAVAILABLE : NOVA_OK;
    return nova_kv_set(p->kv, key, val, strlen(val), (uint64_t)ttl * 1000);
}

/* NOVA_NOT_FOUND when the session is over (revoked, idle or past its end). */
static nova_status hot_get(nova_people_t *p, nova_arena_t *ar, const char *tenant, const char *sid,
                           hot_t *h)
{
    char *key = hot_key(ar, tenant, sid), *val = NULL;
    if (key == NULL)
        return NOVA_NOMEM;
    nova_status st = nova_kv_get(p->kv, key, ar, &val, NULL);
    if (st)
        return st;
    long long ls, ex, idle, la;
    int aal, enrol, held, used = 0;
    memset(h, 0, sizeof(*h));
    if (sscanf(val, "v2|%63[^|]|%d|%d|%lld|%lld|%lld|%63[^|]|%16[0-9a-f]|%lf|%lf|%lld|%d%n",
               h->user, &aal, &enrol, &ls, &ex, &idle, h->ip, h->dev, &h->lat, &h->lon, &la, &held,
               &used) != 12 ||
        val[used] != '\0')
        return NOVA_NOT_FOUND; /* not a record this code wrote: treat the session as over */
    if (strcmp(h->ip, "-") == 0)
        h->ip[0] = '\0';
    h->aal = aal;
    h->enrol = enrol;
    h->last_seen = ls;
    h->expires_at = ex;
    h->idle = idle;
    h->loc_at = la;
    h->held = held;
    return NOVA_OK;
}

int64_t nova_people_session_last_seen(nova_people_t *p, nova_arena_t *ar, const char *tenant_id,
                                      const char *session_id)
{
    hot_t h;
    return hot_get(p, ar, tenant_id, session_id, &h) == NOVA_OK ? h.last_seen : 0;
}

nova_status people_mint(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                        const nova_user_session_t *ses, int aal, const char *amr, const char *orig,
                        int64_t ttl, const char **token)
{
    return people_mint_jit(p, s, ar, ses, aal, amr, orig, ttl, NULL, NULL, token);
}

nova_status people_mint_jit(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                            const nova_user_session_t *ses, int aal, const char *amr,
                            const char *orig, int64_t ttl, const char *jit, const char *role,
                            const char **token)
{
    (void)s;
    uint8_t raw[16];
    char jti[32];
    if (nova_random_bytes(raw, sizeof(raw)) != NOVA_OK)
        return NOVA_INTERNAL;
    nova_b64url_encode(raw, sizeof(raw), jti);
    int64_t now = nova_time_now();
    const char *iss = nova_auth_tenant_issuer(p->auth, ar, ses->tenant_id);
    json_t *amrs = json_array();
    if (iss == NULL || amrs == NULL) {
        json_decref(amrs);
        return NOVA_NOMEM;
    }
    for (const char *w = amr; *w;) {
        size_t n = strcspn(w, " ");
        if (n)
            json_array_append_new(amrs, json_stringn(w, n));
        w += n;
        while (*w == ' ')
            w++;
    }
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:I, s:I}", "iss", iss, "aud",
                          "nova:people", "sub", ses->user_id, "tid", ses->tenant_id, "sid", ses->id,
                          "jti", jti, "aal", aal, "amr", amrs, "iat", (json_int_t)now, "exp",
                          (json_int_t)(now + ttl));
    if (c && orig)
        json_object_set_new(c, "cnf", json_pack("{s:s}", "orig", orig));
    if (c && jit) {
        /* Just-in-time access: the role granted and the request that granted it. */
        json_object_set_new(c, "jit", json_string(jit));
        json_object_set_new(c, "roles", json_pack("[s]", role));
    }
    char *text = c ? json_dumps(c, JSON_COMPACT) : NULL;
    json_decref(c);
    if (text == NULL)
        return NOVA_NOMEM;
    nova_status st = people_sign(p, s, ar, ses->tenant_id, "at+jwt", text, token);
    free(text);
    return st;
}

static nova_status refresh_token_new(nova_arena_t *ar, const char *tenant, const char **token,
                                     char digest[65])
{
    uint8_t raw[32], d[32];
    char b[48];
    if (nova_random_bytes(raw, sizeof(raw)) != NOVA_OK)
        return NOVA_INTERNAL;
    nova_b64url_encode(raw, sizeof(raw), b);
    OPENSSL_cleanse(raw, sizeof(raw));
    char *t = nova_arena_printf(ar, "prt.%s.%s", tenant, b);
    if (t == NULL)
        return NOVA_NOMEM;
    nova_sha256(t, strlen(t), d);
    nova_hex_encode(d, sizeof(d), digest);
    *token = t;
    return NOVA_OK;
}

/* Creates the session (spending f in its transaction), its hot record and its tokens. */
static nova_status session_open(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                const nova_login_request_t *req, const char *user_id, int aal,
                                const char *amr, bool enrol, const nova_factor_spend_t *f,
                                const char *idp_id, const char *idp_sid, nova_login_result_t *out)
{
    char sid[64], digest[65];
    nova_status st = nova_id_new("pss", sid, sizeof(sid));
    if (st)
        return st;
    int64_t now = nova_time_now();
    int64_t idle =
        (int64_t)(req->session_timeout_minutes > 0 ? req->session_timeout_minutes : 30) * 60;
    int64_t life = idle * 12 < ABSOLUTE_MAX ? idle * 12 : ABSOLUTE_MAX;
    char device[129];
    snprintf(device, sizeof(device), "%s", req->device ? req->device : "");
    /* Cut at a character boundary and keep it printable. */
    for (size_t i = 0; device[i]; i++)
        if ((unsigned char)device[i] < 0x20 || (unsigned char)device[i] >= 0x7f)
            device[i] = '?';
    nova_user_session_t ses = {.id = nova_arena_strdup(ar, sid),
                               .tenant_id = req->tenant_id,
                               .user_id = user_id,
                               .aal = aal,
                               .amr = amr,
                               .device = nova_arena_strdup(ar, device),
                               .ip = req->ip ? req->ip : "",
                               .created_at = now,
                               .expires_at = now + life,
                               .revoked_reason = "",
                               .idp_id = idp_id ? idp_id : "",
                               .idp_sid = idp_sid ? idp_sid : ""};
    if (!ses.id || !ses.device)
        return NOVA_NOMEM;
    const char *rt;
    if ((st = refresh_token_new(ar, req->tenant_id, &rt, digest)) != NOVA_OK)
        return st;
    nova_audit_entry_t ae;
    nova_audit_actor_t by = {.id = user_id};
    json_t *attrs = json_pack("{s:s, s:i, s:s, s:b}", "user_id", user_id, "aal", aal, "amr", amr,
                              "enrol_only", enrol);
    st = nova_audit_entry_make(&ae, ar, &by, req->tenant_id, "session.create", "session", sid,
                               attrs);
    if (st == NOVA_OK)
        st = nova_store_user_session_create(s, &ses, digest, f, &ae);
    if (st)
        return st;
    hot_t h = {
        .aal = aal, .enrol = enrol, .last_seen = now, .expires_at = ses.expires_at, .idle = idle};
    snprintf(h.user, sizeof(h.user), "%s", user_id);
    snprintf(h.ip, sizeof(h.ip), "%s", req->ip && !strchr(req->ip, '|') ? req->ip : "");
    dev_hash(req->device, h.dev);
    nova_people_settings_t set;
    if ((st = nova_people_settings_get(p, s, req->tenant_id, &set)) != NOVA_OK)
        return st;
    if (people_cae_locate(&set, h.ip, &h.lat, &h.lon))
        h.loc_at = now;
    if ((st = hot_put(p, ar, req->tenant_id, sid, &h, now)) != NOVA_OK)
        return st;
    if ((st = people_mint(p, s, ar, &ses, aal, amr, NULL, p->access_ttl, &out->access_token)) !=
        NOVA_OK)
        return st;
    out->session = ses;
    out->refresh_token = rt;
    out->expires_in = p->access_ttl;
    people_count(PEOPLE_M_SES_CREATED);
    people_count_aal(aal);
    return NOVA_OK;
}

nova_status people_session_open(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                const nova_login_request_t *req, const char *user_id, int aal,
                                const char *amr, bool enrol, const nova_factor_spend_t *f,
                                nova_login_result_t *out)
{
    return session_open(p, s, ar, req, user_id, aal, amr, enrol, f, NULL, NULL, out);
}

nova_status people_session_open_fed(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_login_request_t *req, const char *user_id, int aal,
                                    const char *amr, const char *idp_id, const char *idp_sid,
                                    nova_login_result_t *out)
{
    return session_open(p, s, ar, req, user_id, aal, amr, false, NULL, idp_id, idp_sid, out);
}

nova_status people_session_forget(nova_people_t *p, nova_arena_t *ar, const char *tenant_id,
                                  const char *const *ids, size_t n, bool count)
{
    nova_status st = NOVA_OK;
    for (size_t i = 0; i < n; i++) {
        char *key = hot_key(ar, tenant_id, ids[i]);
        if (key == NULL)
            return NOVA_NOMEM;
        if (nova_kv_del(p->kv, key) == NOVA_UNAVAILABLE)
            st = NOVA_UNAVAILABLE; /* the others still go */
        else if (count)
            people_count(PEOPLE_M_SES_REVOKED);
    }
    return st;
}

/* The second step: the mfa token's user, a TOTP code or a recovery code. */
static nova_status login_second(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                const nova_login_request_t *req, nova_login_result_t *out)
{
    char *key = nova_arena_printf(ar, "pm:%s", req->mfa_token), *val = NULL;
    char *akey = nova_arena_printf(ar, "pma:%s", req->mfa_token);
    if (!key || !akey)
        return NOVA_NOMEM;
    out->outcome = NOVA_LOGIN_BAD_MFA;
    nova_status st = nova_kv_get(p->kv, key, ar, &val, NULL);
    if (st == NOVA_NOT_FOUND)
        return NOVA_OK; /* unknown, used or expired */
    if (st)
        return st;
    char *bar = strchr(val, '|');
    if (bar == NULL)
        return NOVA_OK;
    *bar = '\0';
    const char *tenant = val, *user_id = bar + 1;
    if (strcmp(tenant, req->tenant_id) != 0)
        return NOVA_OK;
    out->user_id = user_id;
    int64_t tries = 0;
    uint64_t reset = 0;
    if ((st = nova_kv_incr(p->kv, akey, 1, (uint64_t)MFA_TOKEN_TTL * 1000, &tries, &reset)) !=
        NOVA_OK)
        return st;
    if (tries > MFA_ATTEMPTS) {
        (void)nova_kv_del(p->kv, key); /* too many wrong codes: start again with the password */
        return NOVA_OK;
    }
    nova_user_t u;
    st = nova_store_user_get(s, ar, tenant, user_id, &u);
    if (st == NOVA_NOT_FOUND)
        return NOVA_OK;
    if (st)
        return st;
    if (strcmp(u.status, "active") != 0) {
        out->outcome = NOVA_LOGIN_SUSPENDED;
        return NOVA_OK;
    }
    nova_factor_spend_t f = {.user_id = user_id};
    char digest[65];
    const char *amr;
    if (req->totp_code) {
        int64_t step = 0;
        st = people_totp_check(p, s, ar, &u, req->totp_code, nova_time_now(), &step);
        if (st == NOVA_UNAUTHORIZED)
            return NOVA_OK;
        if (st)
            return st;
        f.totp_step = step;
        amr = "pwd otp";
    } else if (req->recovery_code) {
        if (nova_recovery_hash(user_id, req->recovery_code, digest) != NOVA_OK)
            return NOVA_OK;
        f.recovery_digest = digest;
        amr = "pwd otp kba";
    } else {
        return NOVA_OK;
    }
    /* Single use of the mfa token itself: of two racing second steps one takes it. */
    char *taken = NULL;
    st = nova_kv_take(p->kv, key, ar, &taken, NULL);
    if (st == NOVA_NOT_FOUND)
        return NOVA_OK;
    if (st)
        return st;
    st = people_session_open(p, s, ar, req, user_id, 2, amr, false, &f, out);
    if (st == NOVA_CONFLICT) {
        /* The step or the code was spent already (a replayed code): the password step still
         * stands, so the token goes back for another try (the attempts stay counted). */
        char *v = nova_arena_printf(ar, "%s|%s", tenant, user_id);
        if (v)
            (void)nova_kv_set(p->kv, key, v, strlen(v), (uint64_t)MFA_TOKEN_TTL * 1000);
        return NOVA_OK;
    }
    if (st == NOVA_OK)
        out->outcome = NOVA_LOGIN_OK;
    return st;
}

nova_status nova_people_login(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                              const nova_login_request_t *req, nova_login_result_t *out)
{
    memset(out, 0, sizeof(*out));
    nova_status st;
    if (req->mfa_token) {
        st = login_second(p, s, ar, req, out);
        if (st == NOVA_OK)
            people_count_login(out->outcome);
        return st;
    }
    out->outcome = NOVA_LOGIN_BAD;
    const people_keys_t *k;
    if ((st = people_keys_get(p, s, req->tenant_id, &k)) != NOVA_OK)
        return st == NOVA_NOT_FOUND || st == NOVA_INVALID
                   ? (people_count_login(out->outcome), NOVA_OK)
                   : st;
    char idx[65];
    people_email_index(k, req->email, idx);
    nova_user_t u;
    st = nova_store_user_find_email(s, ar, req->tenant_id, idx, &u);
    if (st && st != NOVA_NOT_FOUND)
        return st;
    bool known = st == NOVA_OK;
    /* An unknown user costs one argon2id too (nova_password_verify with no hash). */
    if (!nova_password_verify(known ? u.password_hash : NULL, req->password,
                              strlen(req->password))) {
        out->user_id = known ? u.id : NULL;
        people_count_login(out->outcome);
        return NOVA_OK;
    }
    out->user_id = u.id;
    if (strcmp(u.status, "active") != 0) {
        out->outcome = NOVA_LOGIN_SUSPENDED;
        people_count_login(out->outcome);
        return NOVA_OK;
    }
    if (strcmp(u.totp_state, "active") == 0) {
        uint8_t raw[24];
        char b[40];
        if (nova_random_bytes(raw, sizeof(raw)) != NOVA_OK)
            return NOVA_INTERNAL;
        nova_b64url_encode(raw, sizeof(raw), b);
        char *tok = nova_arena_printf(ar, "pmt_%s", b);
        char *key = tok ? nova_arena_printf(ar, "pm:%s", tok) : NULL;
        char *val = nova_arena_printf(ar, "%s|%s", req->tenant_id, u.id);
        if (!key || !val)
            return NOVA_NOMEM;
        if ((st = nova_kv_set(p->kv, key, val, strlen(val), MFA_TOKEN_TTL * 1000)) != NOVA_OK)
            return st;
        out->outcome = NOVA_LOGIN_MFA;
        out->mfa_token = tok;
        people_count_login(out->outcome);
        return NOVA_OK;
    }
    bool enrol = req->mfa_required;
    st = people_session_open(p, s, ar, req, u.id, 1, "pwd", enrol, NULL, out);
    if (st == NOVA_OK) {
        out->outcome = enrol ? NOVA_LOGIN_ENROL : NOVA_LOGIN_OK;
        people_count_login(out->outcome);
    }
    return st;
}

typedef struct rotate_ud {
    nova_arena_t *ar;
    nova_audit_entry_t e;
} rotate_ud;

static const nova_audit_entry_t *rotate_audit(const nova_user_session_t *ses, bool reused, void *ud)
{
    rotate_ud *u = ud;
    nova_audit_actor_t by = {.id = ses->user_id};
    if (nova_audit_entry_make(&u->e, u->ar, &by, ses->tenant_id,
                              reused ? "session.refresh_reuse" : "session.refresh", "session",
                              ses->id, NULL) != NOVA_OK)
        return NULL;
    return &u->e;
}

nova_status nova_people_refresh(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                const char *refresh_token, const char *ip, nova_login_result_t *out)
{
    (void)ip;
    memset(out, 0, sizeof(*out));
    if (refresh_token == NULL || strncmp(refresh_token, "prt.", 4) != 0 ||
        strlen(refresh_token) > 200)
        return NOVA_UNAUTHORIZED;
    const char *t = refresh_token + 4, *dot = strchr(t, '.');
    if (dot == NULL || dot == t)
        return NOVA_UNAUTHORIZED;
    char *tenant = nova_arena_strndup(ar, t, (size_t)(dot - t));
    char old[65], fresh[65];
    uint8_t d[32];
    const char *rt;
    nova_sha256(refresh_token, strlen(refresh_token), d);
    nova_hex_encode(d, sizeof(d), old);
    nova_status st = tenant ? refresh_token_new(ar, tenant, &rt, fresh) : NOVA_NOMEM;
    if (st)
        return st;
    rotate_ud ud = {.ar = ar};
    nova_user_session_t ses;
    nova_user_rotate outcome;
    int64_t now = nova_time_now();
    st = nova_store_user_session_rotate(s, ar, tenant, old, fresh, now, rotate_audit, &ud, &ses,
                                        &outcome);
    if (st == NOVA_INVALID)
        return NOVA_UNAUTHORIZED;
    if (st)
        return st;
    if (outcome == NOVA_USER_ROTATE_REUSED) {
        (void)nova_kv_del(p->kv, hot_key(ar, tenant, ses.id));
        people_count(PEOPLE_M_SES_REVOKED);
        return NOVA_UNAUTHORIZED;
    }
    if (outcome != NOVA_USER_ROTATE_OK)
        return NOVA_UNAUTHORIZED;
    hot_t h;
    st = hot_get(p, ar, tenant, ses.id, &h);
    if (st == NOVA_NOT_FOUND) {
        /* Idle past the timeout: the record expired. End the row too. */
        nova_audit_actor_t by = {.id = "system"};
        (void)nova_people_session_revoke(p, s, ar, &by, tenant, ses.id, "idle_timeout");
        people_count(PEOPLE_M_SES_IDLE);
        return NOVA_UNAUTHORIZED;
    }
    if (st)
        return st;
    h.last_seen = now;
    if ((st = hot_put(p, ar, tenant, ses.id, &h, now)) != NOVA_OK)
        return st;
    /* A session continuous evaluation downgraded keeps its lower AAL. */
    int aal = h.held ? 1 : (int)(ses.aal < h.aal ? ses.aal : h.aal);
    ses.aal = aal;
    if ((st = people_mint(p, s, ar, &ses, aal, ses.amr, NULL, p->access_ttl, &out->access_token)) !=
        NOVA_OK)
        return st;
    out->outcome = NOVA_LOGIN_OK;
    out->session = ses;
    out->refresh_token = rt;
    out->expires_in = p->access_ttl;
    out->user_id = ses.user_id;
    people_count(PEOPLE_M_SES_REFRESHED);
    return NOVA_OK;
}

static const char *claim_str(nova_arena_t *ar, json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 128 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return nova_arena_strdup(ar, json_string_value(v));
}

/* Signature and claims of a user token into out (strings in ar). */
static nova_status token_claims(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                const char *token, nova_user_claims_t *out, const char **why)
{
    void *cv = NULL;
    nova_status st = people_verify(p, s, token, "at+jwt", &cv, why);
    if (st)
        return st;
    json_t *c = cv, *aal = json_object_get(c, "aal"), *amr = json_object_get(c, "amr"),
           *cnf = json_object_get(c, "cnf");
    st = NOVA_UNAUTHORIZED;
    *why = "bad claims";
    out->tenant_id = claim_str(ar, c, "tid");
    out->user_id = claim_str(ar, c, "sub");
    out->session_id = claim_str(ar, c, "sid");
    out->jti = claim_str(ar, c, "jti");
    const char *iss = claim_str(ar, c, "iss"), *aud = claim_str(ar, c, "aud");
    const char *want = out->tenant_id ? nova_auth_tenant_issuer(p->auth, ar, out->tenant_id) : NULL;
    if (!out->tenant_id || !out->user_id || !out->session_id || !out->jti || !iss || !aud ||
        !want || strcmp(iss, want) != 0 || strcmp(aud, "nova:people") != 0 ||
        !json_is_integer(aal) || json_integer_value(aal) < 1 || json_integer_value(aal) > 3 ||
        !json_is_array(amr) || json_array_size(amr) > 8)
        goto end;
    out->aal = (int)json_integer_value(aal);
    out->exp = json_integer_value(json_object_get(c, "exp"));
    nova_buf_t b;
    nova_buf_init(&b);
    for (size_t i = 0; i < json_array_size(amr); i++) {
        json_t *m = json_array_get(amr, i);
        if (json_is_string(m))
            (void)nova_buf_printf(&b, "%s%s", i ? " " : "", json_string_value(m));
    }
    out->amr = nova_arena_strndup(ar, b.data ? b.data : "", b.len);
    nova_buf_free(&b);
    if (cnf) {
        out->orig = json_is_object(cnf) ? claim_str(ar, cnf, "orig") : NULL;
        if (out->orig == NULL || json_object_size(cnf) != 1)
            goto end; /* a binding this code cannot check is no binding to ignore */
    }
    if (json_object_get(c, "jit")) {
        json_t *roles = json_object_get(c, "roles");
        out->jit = claim_str(ar, c, "jit");
        out->jit_role = json_is_array(roles) && json_array_size(roles) == 1 &&
                                json_is_string(json_array_get(roles, 0))
                            ? nova_arena_strdup(ar, json_string_value(json_array_get(roles, 0)))
                            : NULL;
        if (!out->jit || !out->jit_role)
            goto end;
    }
    *why = NULL;
    st = out->amr ? NOVA_OK : NOVA_NOMEM;
end:
    json_decref(c);
    return st;
}

#define COPY_IN(dst, src) (strlen(src) < sizeof(dst) ? (memcpy(dst, src, strlen(src) + 1), 1) : 0)

static bool cache_get(nova_people_t *p, nova_arena_t *ar, const uint8_t d[32], int64_t now,
                      nova_user_claims_t *out)
{
    people_tcache_t e;
    people_tcache_t *slot = &p->tcache[(d[0] | (unsigned)d[1] << 8) % PEOPLE_TCACHE];
    pthread_mutex_lock(&p->tmu);
    e = *slot;
    pthread_mutex_unlock(&p->tmu);
    if (memcmp(e.digest, d, 32) != 0 || e.exp <= now)
        return false;
    out->tenant_id = nova_arena_strdup(ar, e.tenant);
    out->user_id = nova_arena_strdup(ar, e.user);
    out->session_id = nova_arena_strdup(ar, e.sid);
    out->jti = nova_arena_strdup(ar, e.jti);
    out->amr = nova_arena_strdup(ar, e.amr);
    out->orig = e.orig[0] ? nova_arena_strdup(ar, e.orig) : NULL;
    out->jit = e.jit[0] ? nova_arena_strdup(ar, e.jit) : NULL;
    out->jit_role = e.jit[0] ? nova_arena_strdup(ar, e.jit_role) : NULL;
    out->aal = e.aal;
    out->exp = e.exp;
    return out->tenant_id && out->user_id && out->session_id && out->jti && out->amr &&
           (!e.orig[0] || out->orig);
}

static void cache_put(nova_people_t *p, const uint8_t d[32], const nova_user_claims_t *c)
{
    people_tcache_t e;
    memset(&e, 0, sizeof(e));
    memcpy(e.digest, d, 32);
    e.exp = c->exp;
    e.aal = c->aal;
    if (!COPY_IN(e.tenant, c->tenant_id) || !COPY_IN(e.user, c->user_id) ||
        !COPY_IN(e.sid, c->session_id) || !COPY_IN(e.jti, c->jti) || !COPY_IN(e.amr, c->amr) ||
        (c->orig && !COPY_IN(e.orig, c->orig)) || (c->jit && !COPY_IN(e.jit, c->jit)) ||
        (c->jit_role && !COPY_IN(e.jit_role, c->jit_role)))
        return; /* longer than the slots: verified again next time */
    pthread_mutex_lock(&p->tmu);
    p->tcache[(d[0] | (unsigned)d[1] << 8) % PEOPLE_TCACHE] = e;
    pthread_mutex_unlock(&p->tmu);
}

/* Audits one evaluation event on the session (its own entry: the event changes the hot
 * record, not the store). */
static nova_status cae_audit(nova_store_t *s, nova_arena_t *ar, const nova_user_claims_t *c,
                             int event, nova_cae_action act)
{
    nova_audit_entry_t ae;
    nova_audit_actor_t by = {.id = "system"};
    nova_status st = nova_audit_entry_make(
        &ae, ar, &by, c->tenant_id, "session.cae", "session", c->session_id,
        json_pack("{s:s, s:s, s:s}", "event", people_cae_event_name(event), "action",
                  people_cae_action_name(act), "user_id", c->user_id));
    return st ? st : nova_store_audit_append(s, ar, &ae, NULL);
}

/* Continuous access evaluation of this request against the session's context (cae.c says
 * what each action does). *dirty when h changed. NOVA_UNAUTHORIZED when it revoked. */
static nova_status cae_check(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                             const nova_user_claims_t *c, const char *ip, const char *device,
                             hot_t *h, int64_t now, bool *dirty, const char **why)
{
    nova_people_settings_t set;
    nova_status st = nova_people_settings_get(p, s, c->tenant_id, &set);
    if (st)
        return st;
    if (set.ip_drift == NOVA_CAE_NONE && set.device_change == NOVA_CAE_NONE &&
        set.impossible_travel == NOVA_CAE_NONE)
        return NOVA_OK;
    char dev[17];
    const char *rip = ip && !strchr(ip, '|') ? ip : "";
    double lat = 0, lon = 0;
    bool located = people_cae_locate(&set, rip, &lat, &lon);
    dev_hash(device, dev);
    int event = -1;
    nova_cae_action act = NOVA_CAE_NONE;
    const struct {
        bool happened;
        nova_cae_action a;
    } ev[3] = {
        {strcmp(rip, h->ip) != 0, set.ip_drift},
        {strcmp(dev, h->dev) != 0, set.device_change},
        {located && h->loc_at > 0 &&
             people_cae_km(h->lat, h->lon, lat, lon) >
                 (double)set.max_speed_kmh * (double)(now - h->loc_at > 0 ? now - h->loc_at : 1) /
                         3600.0 +
                     1.0,
         set.impossible_travel},
    };
    for (int i = 0; i < 3; i++)
        if (ev[i].happened && ev[i].a > act) {
            act = ev[i].a;
            event = i;
        }
    if (act == NOVA_CAE_REVOKE) {
        people_cae_count(event, act);
        nova_audit_actor_t by = {.id = "system"};
        char reason[40];
        snprintf(reason, sizeof(reason), "cae_%s", people_cae_event_name(event));
        st = nova_people_session_revoke(p, s, ar, &by, c->tenant_id, c->session_id, reason);
        if (st && st != NOVA_NOT_FOUND)
            return st;
        *why = event == 0   ? "session revoked: the address changed"
               : event == 1 ? "session revoked: the device changed"
                            : "session revoked: impossible travel";
        return NOVA_UNAUTHORIZED;
    }
    if (act == NOVA_CAE_DOWNGRADE || (act == NOVA_CAE_STEP_UP && !h->held)) {
        people_cae_count(event, act);
        if ((st = cae_audit(s, ar, c, event, act)) != NOVA_OK)
            return st;
        if (act == NOVA_CAE_DOWNGRADE) {
            /* AAL1 from now on, in the context the request came from. */
            h->aal = 1;
            snprintf(h->ip, sizeof(h->ip), "%s", rip);
            memcpy(h->dev, dev, sizeof(dev));
        } else {
            h->held = 1;
        }
        *dirty = true;
    }
    if (located && act != NOVA_CAE_STEP_UP &&
        (h->loc_at == 0 || h->lat != lat || h->lon != lon || now - h->loc_at >= ACTIVITY_WRITE_S)) {
        h->lat = lat;
        h->lon = lon;
        h->loc_at = now;
        *dirty = true;
    }
    return NOVA_OK;
}

nova_status people_session_rebind(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const nova_user_claims_t *c)
{
    hot_t h;
    nova_status st = hot_get(p, ar, c->tenant_id, c->session_id, &h);
    if (st)
        return st == NOVA_NOT_FOUND ? NOVA_OK : st;
    nova_people_settings_t set;
    if ((st = nova_people_settings_get(p, s, c->tenant_id, &set)) != NOVA_OK)
        return st;
    int64_t now = nova_time_now();
    const char *rip = c->ctx_ip && !strchr(c->ctx_ip, '|') ? c->ctx_ip : "";
    snprintf(h.ip, sizeof(h.ip), "%s", rip);
    dev_hash(c->ctx_device, h.dev);
    if (people_cae_locate(&set, rip, &h.lat, &h.lon))
        h.loc_at = now;
    h.held = 0;
    return hot_put(p, ar, c->tenant_id, c->session_id, &h, now);
}

bool nova_people_token_looks_user(const char *token)
{
    const char *a = token ? strchr(token, '.') : NULL;
    const char *b = a ? strchr(a + 1, '.') : NULL;
    if (b == NULL || (size_t)(b - a - 1) > 4096)
        return false;
    size_t n = (size_t)(b - a - 1), len = 0;
    uint8_t *buf = malloc(nova_b64url_decoded_max(n) + 1);
    bool yes = false;
    if (buf && nova_b64url_decode(a + 1, n, buf, &len) == NOVA_OK) {
        json_t *c = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
        const char *aud = json_string_value(json_object_get(c, "aud"));
        yes = aud && strcmp(aud, "nova:people") == 0;
        json_decref(c);
    }
    free(buf);
    return yes;
}

nova_status nova_people_token_verify(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const char *token, const char *ip, const char *device,
                                     nova_user_claims_t *out, const char **why)
{
    uint8_t d[32];
    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (token == NULL || strlen(token) > 4096) {
        *why = "malformed token";
        return NOVA_UNAUTHORIZED;
    }
    nova_sha256(token, strlen(token), d);
    int64_t now = nova_time_now();
    nova_status st = NOVA_OK;
    if (!cache_get(p, ar, d, now, out)) {
        memset(out, 0, sizeof(*out));
        if ((st = token_claims(p, s, ar, token, out, why)) != NOVA_OK)
            return st;
        cache_put(p, d, out);
    }
    out->ctx_ip = ip;
    out->ctx_device = device;
    /* The session: revoked, idle or over means the token is worthless. */
    hot_t h;
    st = hot_get(p, ar, out->tenant_id, out->session_id, &h);
    if (st == NOVA_NOT_FOUND ||
        (st == NOVA_OK && (strcmp(h.user, out->user_id) != 0 || h.expires_at <= now))) {
        *why = "session ended";
        return NOVA_UNAUTHORIZED;
    }
    if (st)
        return st;
    bool dirty = false;
    if ((st = cae_check(p, s, ar, out, ip, device, &h, now, &dirty, why)) != NOVA_OK)
        return st;
    out->enrol_only = h.enrol != 0;
    out->cae_held = h.held != 0;
    /* A step-up token (cnf.orig) was minted by a fresh second factor: it keeps its AAL. */
    if (out->orig == NULL) {
        if (h.held)
            out->aal = 1;
        if (h.aal < out->aal)
            out->aal = h.aal;
    }
    if (dirty || now - h.last_seen >= ACTIVITY_WRITE_S) {
        h.last_seen = now;
        if ((st = hot_put(p, ar, out->tenant_id, out->session_id, &h, now)) != NOVA_OK)
            return st;
    }
    return NOVA_OK;
}

nova_status nova_people_session_revoke(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                       const nova_audit_actor_t *by, const char *tenant_id,
                                       const char *session_id, const char *reason)
{
    /* The control-plane record first: it is what every request reads, so once it is gone the
     * session is over everywhere; if the control plane is down nothing changes (503, retry). */
    char *key = hot_key(ar, tenant_id, session_id);
    if (key == NULL)
        return NOVA_NOMEM;
    nova_status st = nova_kv_del(p->kv, key);
    if (st == NOVA_UNAVAILABLE)
        return st;
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(&ae, ar, by, tenant_id, "session.revoke", "session", session_id,
                               json_pack("{s:s}", "reason", reason));
    if (st == NOVA_OK)
        st = nova_store_user_session_revoke(s, tenant_id, session_id, reason, nova_time_now(), &ae);
    if (st == NOVA_OK)
        people_count(PEOPLE_M_SES_REVOKED);
    return st;
}

nova_status nova_people_session_revoke_user(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                            const nova_audit_actor_t *by, const char *tenant_id,
                                            const char *user_id, const char *reason, size_t *n)
{
    nova_user_session_t *live = NULL;
    size_t nlive = 0;
    const char **ids = NULL;
    *n = 0;
    int64_t now = nova_time_now();
    /* The hot records of the live sessions first (as for one session), then the rows; a
     * session created meanwhile is caught by the ids the revocation returns. */
    nova_status st = nova_store_user_session_list(s, ar, tenant_id, user_id, now, &live, &nlive);
    for (size_t i = 0; st == NOVA_OK && i < nlive; i++)
        if (nova_kv_del(p->kv, hot_key(ar, tenant_id, live[i].id)) == NOVA_UNAVAILABLE)
            st = NOVA_UNAVAILABLE;
    if (st)
        return st;
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(&ae, ar, by, tenant_id, "session.revoke_all", "user", user_id,
                               json_pack("{s:s}", "reason", reason));
    if (st == NOVA_OK)
        st = nova_store_user_session_revoke_user(s, ar, tenant_id, user_id, reason, now, &ae, &ids,
                                                 n);
    for (size_t i = 0; st == NOVA_OK && i < *n; i++) {
        if (nova_kv_del(p->kv, hot_key(ar, tenant_id, ids[i])) == NOVA_UNAVAILABLE)
            st = NOVA_UNAVAILABLE;
        people_count(PEOPLE_M_SES_REVOKED);
    }
    return st;
}
