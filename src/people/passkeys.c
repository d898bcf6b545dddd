/* passkeys.c: passkeys as the primary factor (issue 11 item 2, seed 003 §3.1): the two
 * WebAuthn ceremonies around the checks of webauthn.c. Challenges are 32 random bytes kept
 * in the control plane for 300 s and taken (single use) by the finishing call. A credential
 * verified with UV gives AAL2. A signature counter that does not grow flags the credential
 * (a cloned authenticator is suspected), refuses the sign-in and is audited. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/json.h"

#define CHALLENGE_TTL 300

static nova_status challenge_new(nova_people_t *p, nova_arena_t *ar, const char *tenant,
                                 const char *value, const char **b64)
{
    uint8_t raw[32];
    char *c = nova_arena_alloc(ar, 48);
    if (c == NULL)
        return NOVA_NOMEM;
    if (nova_random_bytes(raw, sizeof(raw)) != NOVA_OK)
        return NOVA_INTERNAL;
    nova_b64url_encode(raw, sizeof(raw), c);
    char *key = nova_arena_printf(ar, "pwc:%s:%s", tenant, c);
    if (key == NULL)
        return NOVA_NOMEM;
    *b64 = c;
    return nova_kv_set(p->kv, key, value, strlen(value), (uint64_t)CHALLENGE_TTL * 1000);
}

/* Takes the challenge the client data names (single use). NOVA_UNAUTHORIZED when unknown or
 * used; *value what it was issued for. */
static nova_status challenge_take(nova_people_t *p, nova_arena_t *ar, const char *tenant,
                                  const uint8_t *cd, size_t cdl, const char **challenge,
                                  char **value, const char **why)
{
    json_error_t err;
    json_t *o = json_loadb((const char *)cd, cdl, JSON_REJECT_DUPLICATES, &err);
    json_t *ch = json_object_get(o, "challenge");
    nova_status st = NOVA_UNAUTHORIZED;
    *why = "clientDataJSON: no challenge";
    if (json_is_string(ch) && json_string_length(ch) == 43) {
        *challenge = nova_arena_strdup(ar, json_string_value(ch));
        char *key = nova_arena_printf(ar, "pwc:%s:%s", tenant, json_string_value(ch));
        st = key ? nova_kv_take(p->kv, key, ar, value, NULL) : NOVA_NOMEM;
        if (st == NOVA_NOT_FOUND) {
            *why = "clientDataJSON: not a challenge of this server, or used or expired";
            st = NOVA_UNAUTHORIZED;
        }
    }
    json_decref(o);
    return st;
}

/* The base64url member name of obj decoded into the arena. */
static bool b64_member(nova_arena_t *ar, json_t *obj, const char *name, uint8_t **out, size_t *n)
{
    json_t *v = json_object_get(obj, name);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 16384)
        return false;
    size_t len = json_string_length(v);
    *out = nova_arena_alloc(ar, nova_b64url_decoded_max(len) + 1);
    return *out && nova_b64url_decode(json_string_value(v), len, *out, n) == NOVA_OK;
}

static char *options_text(json_t *o)
{
    char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return t;
}

nova_status nova_people_passkey_register_begin(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                               const nova_user_claims_t *c,
                                               const nova_webauthn_rp_t *rp, char **options)
{
    nova_user_view_t u;
    nova_passkey_t *keys;
    size_t n;
    const char *challenge;
    nova_status st = nova_people_user_get(p, s, ar, c->tenant_id, c->user_id, &u);
    if (st == NOVA_OK)
        st = nova_store_passkey_list(s, ar, c->tenant_id, c->user_id, &keys, &n);
    char *val = nova_arena_printf(ar, "reg|%s", c->user_id);
    if (st == NOVA_OK)
        st = val ? challenge_new(p, ar, c->tenant_id, val, &challenge) : NOVA_NOMEM;
    if (st)
        return st;
    char uid[96];
    nova_b64url_encode((const uint8_t *)u.id, strlen(u.id), uid);
    json_t *exclude = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(exclude,
                              json_pack("{s:s, s:s}", "type", "public-key", "id", keys[i].id));
    json_t *o = json_pack(
        "{s:{s:s, s:s}, s:{s:s, s:s, s:s}, s:s, s:[{s:s, s:i}, {s:s, s:i}, {s:s, s:i}], s:i, "
        "s:o, s:{s:s, s:s}, s:s}",
        "rp", "id", rp->rp_id, "name", rp->rp_name, "user", "id", uid, "name", u.email,
        "displayName", u.name ? u.name : u.email, "challenge", challenge, "pubKeyCredParams",
        "type", "public-key", "alg", NOVA_COSE_EDDSA, "type", "public-key", "alg", NOVA_COSE_ES256,
        "type", "public-key", "alg", NOVA_COSE_RS256, "timeout", CHALLENGE_TTL * 1000,
        "excludeCredentials", exclude, "authenticatorSelection", "residentKey", "preferred",
        "userVerification", "preferred", "attestation", "direct");
    *options = options_text(o);
    return *options ? NOVA_OK : NOVA_NOMEM;
}

/* The credential object a browser's PublicKeyCredential serializes to. */
typedef struct cred_in {
    const char *id;
    uint8_t *client_data, *attestation, *auth_data, *sig;
    size_t cdl, aol, adl, sl;
} cred_in;

static nova_status cred_parse(nova_arena_t *ar, json_t *cred, bool registration, cred_in *out,
                              const char **why)
{
    memset(out, 0, sizeof(*out));
    json_t *id = json_object_get(cred, "id"), *type = json_object_get(cred, "type"),
           *resp = json_object_get(cred, "response");
    *why = "credential: an object with id, type public-key and response";
    if (!json_is_object(cred) || !json_is_string(id) || json_string_length(id) == 0 ||
        json_string_length(id) > 1400 || !json_is_string(type) ||
        strcmp(json_string_value(type), "public-key") != 0 || !json_is_object(resp))
        return NOVA_INVALID;
    out->id = json_string_value(id);
    *why = "credential.response.clientDataJSON: base64url";
    if (!b64_member(ar, resp, "clientDataJSON", &out->client_data, &out->cdl))
        return NOVA_INVALID;
    if (registration) {
        *why = "credential.response.attestationObject: base64url";
        return b64_member(ar, resp, "attestationObject", &out->attestation, &out->aol)
                   ? NOVA_OK
                   : NOVA_INVALID;
    }
    *why = "credential.response.authenticatorData and signature: base64url";
    return b64_member(ar, resp, "authenticatorData", &out->auth_data, &out->adl) &&
                   b64_member(ar, resp, "signature", &out->sig, &out->sl)
               ? NOVA_OK
               : NOVA_INVALID;
}

nova_status nova_people_passkey_register_finish(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                                const nova_user_claims_t *c,
                                                const nova_webauthn_rp_t *rp, void *credential,
                                                nova_passkey_t *out, const char **why)
{
    cred_in in;
    const char *challenge = NULL;
    char *val = NULL;
    nova_status st = cred_parse(ar, credential, true, &in, why);
    if (st)
        return st;
    st = challenge_take(p, ar, c->tenant_id, in.client_data, in.cdl, &challenge, &val, why);
    if (st)
        return st;
    if (strncmp(val, "reg|", 4) != 0 || strcmp(val + 4, c->user_id) != 0) {
        *why = "clientDataJSON: the challenge was issued to another user or ceremony";
        return NOVA_UNAUTHORIZED;
    }
    nova_webauthn_expect_t e = {.type = "webauthn.create",
                                .challenge = challenge,
                                .origin = rp->origin,
                                .rp_id = rp->rp_id};
    nova_webauthn_reg_t reg;
    st = nova_webauthn_verify_registration(ar, &e, in.client_data, in.cdl, in.attestation, in.aol,
                                           &reg, why);
    if (st)
        return st;
    char *id = nova_arena_alloc(ar, nova_b64url_encoded_len(reg.cred_id_len) + 1);
    if (id == NULL)
        return NOVA_NOMEM;
    nova_b64url_encode(reg.cred_id, reg.cred_id_len, id);
    if (strcmp(id, in.id) != 0) {
        *why = "credential.id: not the credential the authenticator data holds";
        return NOVA_UNAUTHORIZED;
    }
    *out = (nova_passkey_t){.id = id,
                            .tenant_id = c->tenant_id,
                            .user_id = c->user_id,
                            .public_key = reg.public_key,
                            .public_key_len = reg.public_key_len,
                            .alg = reg.alg,
                            .sign_count = reg.sign_count,
                            .aaguid = nova_arena_strdup(ar, reg.aaguid),
                            .attestation = reg.fmt,
                            .user_verified = reg.user_verified,
                            .created_at = nova_time_now()};
    nova_audit_entry_t ae;
    nova_audit_actor_t by = {.id = c->user_id};
    st = nova_audit_entry_make(&ae, ar, &by, c->tenant_id, "passkey.register", "user", c->user_id,
                               json_pack("{s:s, s:i, s:s, s:s}", "credential", id, "alg", reg.alg,
                                         "attestation", reg.fmt, "aaguid", reg.aaguid));
    if (st == NOVA_OK)
        st = nova_store_passkey_create(s, out, &ae);
    if (st == NOVA_CONFLICT)
        *why = "credential.id: this credential is registered already";
    return st;
}

nova_status nova_people_passkey_login_begin(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                            const char *tenant_id, const char *email,
                                            const nova_webauthn_rp_t *rp, char **options)
{
    json_t *allow = json_array();
    const char *user = "-";
    if (email) {
        /* With an email the options list that user's credentials (non-discoverable ones need
         * it); an unknown email gets an empty list, like a known one without passkeys. */
        const people_keys_t *k;
        char idx[65];
        nova_user_t u;
        nova_passkey_t *keys = NULL;
        size_t n = 0;
        nova_status st = people_keys_get(p, s, tenant_id, &k);
        if (st == NOVA_OK) {
            people_email_index(k, email, idx);
            st = nova_store_user_find_email(s, ar, tenant_id, idx, &u);
            if (st == NOVA_OK) {
                user = u.id;
                st = nova_store_passkey_list(s, ar, tenant_id, u.id, &keys, &n);
            }
        }
        if (st && st != NOVA_NOT_FOUND && st != NOVA_INVALID) {
            json_decref(allow);
            return st;
        }
        for (size_t i = 0; i < n; i++)
            json_array_append_new(allow,
                                  json_pack("{s:s, s:s}", "type", "public-key", "id", keys[i].id));
    }
    const char *challenge;
    char *val = nova_arena_printf(ar, "login|%s", user);
    nova_status st = val ? challenge_new(p, ar, tenant_id, val, &challenge) : NOVA_NOMEM;
    if (st) {
        json_decref(allow);
        return st;
    }
    *options = options_text(json_pack("{s:s, s:s, s:i, s:o, s:s}", "challenge", challenge, "rpId",
                                      rp->rp_id, "timeout", CHALLENGE_TTL * 1000,
                                      "allowCredentials", allow, "userVerification", "preferred"));
    return *options ? NOVA_OK : NOVA_NOMEM;
}

nova_status nova_people_passkey_login_finish(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                             const nova_login_request_t *req,
                                             const nova_webauthn_rp_t *rp, void *credential,
                                             nova_login_result_t *out, const char **why)
{
    cred_in in;
    const char *challenge = NULL;
    char *val = NULL;
    memset(out, 0, sizeof(*out));
    out->outcome = NOVA_LOGIN_BAD;
    nova_status st = cred_parse(ar, credential, false, &in, why);
    if (st)
        return st;
    st = challenge_take(p, ar, req->tenant_id, in.client_data, in.cdl, &challenge, &val, why);
    if (st == NOVA_UNAUTHORIZED)
        return NOVA_OK;
    if (st)
        return st;
    nova_passkey_t k;
    st = nova_store_passkey_get(s, ar, req->tenant_id, in.id, &k);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        *why = "credential.id: no such passkey in this tenant";
        return NOVA_OK;
    }
    if (st)
        return st;
    if (strncmp(val, "login|", 6) != 0 ||
        (strcmp(val + 6, "-") != 0 && strcmp(val + 6, k.user_id) != 0)) {
        *why = "clientDataJSON: the challenge was issued to another user or ceremony";
        return NOVA_OK;
    }
    out->user_id = k.user_id;
    nova_webauthn_expect_t e = {.type = "webauthn.get",
                                .challenge = challenge,
                                .origin = rp->origin,
                                .rp_id = rp->rp_id,
                                .require_uv = req->mfa_required};
    nova_webauthn_assertion_t as;
    st = nova_webauthn_verify_assertion(&e, k.public_key, k.public_key_len, in.client_data, in.cdl,
                                        in.auth_data, in.adl, in.sig, in.sl, &as, why);
    if (st == NOVA_UNAUTHORIZED)
        return NOVA_OK;
    if (st)
        return st;
    if (k.flagged_at || !nova_webauthn_counter_ok((uint32_t)k.sign_count, as.sign_count)) {
        /* A counter at or below the last one seen: two authenticators hold this key. */
        out->outcome = NOVA_LOGIN_CLONED;
        *why = "this passkey's signature counter went backwards: it is suspended as cloned";
        if (!k.flagged_at) {
            nova_audit_entry_t ae;
            nova_audit_actor_t by = {.id = "system"};
            st = nova_audit_entry_make(
                &ae, ar, &by, req->tenant_id, "passkey.clone_detected", "user", k.user_id,
                json_pack("{s:s, s:I, s:I}", "credential", k.id, "stored_count",
                          (json_int_t)k.sign_count, "seen_count", (json_int_t)as.sign_count));
            if (st == NOVA_OK)
                st = nova_store_passkey_flag(s, req->tenant_id, k.id, nova_time_now(), &ae);
        }
        people_count_login(out->outcome);
        return st;
    }
    nova_user_t u;
    st = nova_store_user_get(s, ar, req->tenant_id, k.user_id, &u);
    if (st == NOVA_NOT_FOUND)
        return NOVA_OK;
    if (st)
        return st;
    if (strcmp(u.status, "active") != 0) {
        out->outcome = NOVA_LOGIN_SUSPENDED;
        people_count_login(out->outcome);
        return NOVA_OK;
    }
    st = nova_store_passkey_use(s, req->tenant_id, k.id, k.sign_count, as.sign_count,
                                nova_time_now());
    if (st == NOVA_CONFLICT) {
        *why = "this passkey was used concurrently with the same counter";
        return NOVA_OK;
    }
    if (st)
        return st;
    int aal = as.user_verified ? 2 : 1;
    st = people_session_open(p, s, ar, req, u.id, aal, as.user_verified ? "hwk user" : "hwk", false,
                             NULL, out);
    if (st == NOVA_OK) {
        out->outcome = NOVA_LOGIN_OK;
        people_count_login(out->outcome);
    }
    return st;
}

nova_status people_passkey_assert(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const char *tenant_id, const char *user_id,
                                  const nova_webauthn_rp_t *rp, void *credential,
                                  const char *challenge, const char **why)
{
    (void)p;
    cred_in in;
    nova_status st = cred_parse(ar, credential, false, &in, why);
    if (st)
        return st == NOVA_INVALID ? NOVA_UNAUTHORIZED : st;
    nova_passkey_t k;
    st = nova_store_passkey_get(s, ar, tenant_id, in.id, &k);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID ||
        (st == NOVA_OK && strcmp(k.user_id, user_id))) {
        *why = "credential.id: not a passkey of this user";
        return NOVA_UNAUTHORIZED;
    }
    if (st)
        return st;
    nova_webauthn_expect_t e = {.type = "webauthn.get",
                                .challenge = challenge,
                                .origin = rp->origin,
                                .rp_id = rp->rp_id,
                                .require_uv = true};
    nova_webauthn_assertion_t as;
    st = nova_webauthn_verify_assertion(&e, k.public_key, k.public_key_len, in.client_data, in.cdl,
                                        in.auth_data, in.adl, in.sig, in.sl, &as, why);
    if (st)
        return st;
    if (k.flagged_at || !nova_webauthn_counter_ok((uint32_t)k.sign_count, as.sign_count)) {
        *why = "this passkey's signature counter went backwards: it is suspended as cloned";
        return NOVA_UNAUTHORIZED;
    }
    st = nova_store_passkey_use(s, tenant_id, k.id, k.sign_count, as.sign_count, nova_time_now());
    if (st == NOVA_CONFLICT) {
        *why = "this passkey was used concurrently with the same counter";
        return NOVA_UNAUTHORIZED;
    }
    return st;
}
