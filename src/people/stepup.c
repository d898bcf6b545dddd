/* stepup.c: request-bound step-up MFA, seed 003 §3.2. A protected action attempted below
 * its AAL answers 403 MFA_REQUIRED with a challenge JWT holding origHash =
 * base64url(SHA-256(method|path|normalizedBody)), tid, sub and a 300 s expiry; completing it
 * with a second factor yields an AAL2 token whose cnf.orig binds it to that one request,
 * valid 600 s and for one use: replayed on another method, path or body, or a second time,
 * it is refused. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/json.h"

nova_status nova_stepup_orig_hash(const char *method, const char *path, const void *body,
                                  size_t len, char out[44])
{
    nova_buf_t b;
    json_t *j = NULL;
    char *norm = NULL;
    nova_buf_init(&b);
    if (method == NULL || path == NULL)
        return NOVA_INVALID;
    if (len > 0) {
        json_error_t err;
        /* Objects and arrays only, no duplicate members: the same rules as request bodies. */
        j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
        if (j && (json_is_object(j) || json_is_array(j)))
            norm = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        json_decref(j);
    }
    nova_status st = nova_buf_printf(&b, "%s|%s|", method, path);
    if (st == NOVA_OK)
        st = norm ? nova_buf_append_cstr(&b, norm) : nova_buf_append(&b, body, len);
    free(norm);
    if (st == NOVA_OK) {
        uint8_t d[32];
        nova_sha256(b.data, b.len, d);
        nova_b64url_encode(d, sizeof(d), out);
    }
    nova_buf_free(&b);
    return st;
}

nova_status nova_people_stepup_challenge(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                         const nova_user_claims_t *c, const char *orig_hash,
                                         const char **challenge)
{
    uint8_t raw[16];
    char jti[32];
    if (nova_random_bytes(raw, sizeof(raw)) != NOVA_OK)
        return NOVA_INTERNAL;
    nova_b64url_encode(raw, sizeof(raw), jti);
    int64_t now = nova_time_now();
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "origHash", orig_hash, "tid",
                          c->tenant_id, "sub", c->user_id, "sid", c->session_id, "jti", jti, "iat",
                          (json_int_t)now, "exp", (json_int_t)(now + NOVA_STEPUP_CHALLENGE_TTL));
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return NOVA_NOMEM;
    nova_status st = people_sign(p, s, ar, c->tenant_id, "mfa-challenge+jwt", text, challenge);
    free(text);
    if (st == NOVA_OK)
        people_count(PEOPLE_M_STEPUP_PROMPT);
    return st;
}

static bool claim_is(json_t *o, const char *name, const char *want)
{
    json_t *v = json_object_get(o, name);
    return json_is_string(v) && want && strcmp(json_string_value(v), want) == 0;
}

static nova_status fail(const char **why, const char *w)
{
    *why = w;
    people_count(PEOPLE_M_STEPUP_FAIL);
    return NOVA_UNAUTHORIZED;
}

nova_status nova_people_stepup_complete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                        const nova_user_claims_t *c, const char *challenge,
                                        const char *orig_hash, const char *totp_code,
                                        const char *recovery_code, void *passkey,
                                        const nova_webauthn_rp_t *rp, const char **token,
                                        const char **why)
{
    void *cv = NULL;
    nova_status st = people_verify(p, s, challenge, "mfa-challenge+jwt", &cv, why);
    if (st == NOVA_UNAUTHORIZED) {
        people_count(PEOPLE_M_STEPUP_FAIL);
        return st;
    }
    if (st)
        return st;
    json_t *ch = cv;
    char jti[64] = "";
    if (json_is_string(json_object_get(ch, "jti")))
        snprintf(jti, sizeof(jti), "%s", json_string_value(json_object_get(ch, "jti")));
    bool mine = claim_is(ch, "tid", c->tenant_id) && claim_is(ch, "sub", c->user_id) &&
                claim_is(ch, "sid", c->session_id);
    bool same = claim_is(ch, "origHash", orig_hash);
    json_decref(ch);
    if (!mine || !jti[0])
        return fail(why, "this challenge was issued to another session");
    if (!same)
        return fail(why, "the request named is not the one the challenge was issued for");

    nova_user_t u;
    st = nova_store_user_get(s, ar, c->tenant_id, c->user_id, &u);
    if (st == NOVA_NOT_FOUND)
        return fail(why, "no such user");
    if (st)
        return st;
    if (strcmp(u.status, "active") != 0)
        return fail(why, "the account is suspended");
    nova_factor_spend_t f = {.user_id = u.id};
    char digest[65];
    const char *amr;
    bool spend = true;
    if ((totp_code || recovery_code) && strcmp(u.totp_state, "active") != 0)
        return fail(why, "no TOTP is enrolled: use a passkey or enrol TOTP");
    if (passkey) {
        /* The WebAuthn challenge is the digest of this step-up challenge, so the assertion is
         * bound to it (and through it to the request) with no second round trip. */
        uint8_t d[32];
        char wc[44];
        nova_sha256(challenge, strlen(challenge), d);
        nova_b64url_encode(d, sizeof(d), wc);
        if (rp == NULL)
            return fail(why, "passkeys need the relying party (NOVA_ISSUER)");
        st = people_passkey_assert(p, s, ar, c->tenant_id, c->user_id, rp, passkey, wc, why);
        if (st == NOVA_UNAUTHORIZED) {
            people_count(PEOPLE_M_STEPUP_FAIL);
            return st;
        }
        if (st)
            return st;
        amr = "hwk user";
        spend = false;
    } else if (totp_code) {
        int64_t step = 0;
        st = people_totp_check(p, s, ar, &u, totp_code, nova_time_now(), &step);
        if (st == NOVA_UNAUTHORIZED)
            return fail(why, "wrong or reused code");
        if (st)
            return st;
        f.totp_step = step;
        amr = "otp";
    } else if (recovery_code) {
        if (nova_recovery_hash(u.id, recovery_code, digest) != NOVA_OK)
            return fail(why, "wrong recovery code");
        f.recovery_digest = digest;
        amr = "otp kba";
    } else {
        return fail(why, "give totp_code, recovery_code or credential (a passkey assertion)");
    }
    /* The challenge is single use (before the factor is spent, so a replay spends nothing). */
    char *key = nova_arena_printf(ar, "pch:%s:%s", c->tenant_id, jti);
    if (key == NULL)
        return NOVA_NOMEM;
    st = nova_kv_set_nx(p->kv, key, "1", 1, (uint64_t)NOVA_STEPUP_CHALLENGE_TTL * 1000);
    if (st == NOVA_CONFLICT)
        return fail(why, "this challenge was used already");
    if (st)
        return st;
    nova_audit_entry_t ae;
    nova_audit_actor_t by = {.id = c->user_id};
    st = nova_audit_entry_make(&ae, ar, &by, c->tenant_id, "stepup.complete", "session",
                               c->session_id,
                               json_pack("{s:s, s:s}", "orig", orig_hash, "amr", amr));
    if (st == NOVA_OK)
        st = spend ? nova_store_factor_spend(s, c->tenant_id, &f, &ae)
                   : nova_store_audit_append(s, ar, &ae, NULL);
    if (st == NOVA_CONFLICT)
        return fail(why, "wrong or reused code");
    if (st)
        return st;
    nova_user_session_t ses = {
        .id = c->session_id, .tenant_id = c->tenant_id, .user_id = c->user_id};
    st = people_mint(p, s, ar, &ses, 2, amr, orig_hash, NOVA_STEPUP_TOKEN_TTL, token);
    if (st == NOVA_OK)
        st = people_session_rebind(p, s, ar, c);
    if (st == NOVA_OK)
        people_count(PEOPLE_M_STEPUP_OK);
    return st;
}

nova_status nova_people_stepup_admit(nova_people_t *p, const nova_user_claims_t *c, int aal,
                                     const char *orig_hash, const char **why)
{
    *why = NULL;
    if (c->orig == NULL) {
        if (c->aal >= aal)
            return NOVA_OK;
        *why = "this action needs a second factor: complete the challenge";
        return NOVA_FORBIDDEN;
    }
    if (strcmp(c->orig, orig_hash) != 0) {
        *why = "this step-up token is bound to another request";
        return NOVA_FORBIDDEN;
    }
    if (c->aal < aal) {
        *why = "this action needs a higher assurance level";
        return NOVA_FORBIDDEN;
    }
    nova_arena_t ar;
    nova_arena_init(&ar, 256);
    char *key = nova_arena_printf(&ar, "psu:%s:%s", c->tenant_id, c->jti);
    nova_status st =
        key ? nova_kv_set_nx(p->kv, key, "1", 1, (uint64_t)NOVA_STEPUP_TOKEN_TTL * 1000)
            : NOVA_NOMEM;
    nova_arena_free(&ar);
    if (st == NOVA_CONFLICT) {
        *why = "this step-up token was used already";
        return NOVA_FORBIDDEN;
    }
    return st;
}
