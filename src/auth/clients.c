/* clients.c: API clients (OAuth 2.0 confidential clients, RFC 6749 §2.3.1). Secrets are 256
 * random bits shown once; the store keeps HMAC-SHA-256(pepper, secret). A high-entropy secret
 * cannot be guessed offline, so a slow hash would only cap the token endpoint's throughput. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "nova/json.h"

bool nova_auth_scopes_known(const char *scopes)
{
    const char *p = scopes;
    size_t words = 0;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        if (l == 0)
            break;
        bool ok = false;
        for (const char *const *k = nova_auth_scopes; *k; k++)
            if (strlen(*k) == l && memcmp(*k, p, l) == 0)
                ok = true;
        if (!ok)
            return false;
        words++;
        p += l;
    }
    return words > 0;
}

static bool audiences_valid(const char *aud)
{
    size_t n = strlen(aud);
    if (n == 0 || n > 512)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)aud[i] < 0x20 || aud[i] == '"' || aud[i] == '\\' || aud[i] == 0x7f)
            return false;
    return true;
}

/* Creates the client of spec with method (validated by the caller). A secret is made only for
 * client_secret; the others store an empty digest, which no secret matches. */
static nova_status client_create(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const nova_client_spec_t *spec, const char *method,
                                 nova_client_t *out, const char **secret)
{
    const char *name = spec->name, *scopes = spec->scopes, *audiences = spec->audiences;
    size_t nl = name ? strlen(name) : 0;
    if (nl == 0 || nl > 128 || scopes == NULL || strlen(scopes) > 1024 ||
        !nova_auth_scopes_known(scopes))
        return NOVA_INVALID;
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return NOVA_INVALID;
    if (audiences == NULL)
        audiences = a->audience;
    if (!audiences_valid(audiences))
        return NOVA_INVALID;

    char id[64];
    uint8_t raw[32];
    bool with_secret = strcmp(method, "client_secret") == 0;
    char *sec = nova_arena_alloc(ar, 48);
    char *digest = nova_arena_alloc(ar, 65);
    if (sec == NULL || digest == NULL)
        return NOVA_NOMEM;
    nova_status st = nova_id_new("cli", id, sizeof(id));
    if (st == NOVA_OK)
        st = nova_random_bytes(raw, sizeof(raw));
    if (st)
        return st;
    nova_b64url_encode(raw, sizeof(raw), sec);
    if (with_secret)
        nova_secret_digest(a->pepper, sec, strlen(sec), digest);
    else
        digest[0] = '\0';

    memset(out, 0, sizeof(*out));
    out->id = nova_arena_strdup(ar, id);
    out->tenant_id = nova_arena_strdup(ar, tenant_id);
    out->name = nova_arena_strdup(ar, name);
    out->secret_digest = digest;
    out->scopes = nova_arena_strdup(ar, scopes);
    out->audiences = nova_arena_strdup(ar, audiences);
    out->created_at = nova_time_now();
    out->auth_method = method;
    out->jwks = spec->jwks ? spec->jwks : "";
    out->tls_subject_dn = spec->tls_subject_dn ? spec->tls_subject_dn : "";
    if (!out->id || !out->tenant_id || !out->name || !out->scopes || !out->audiences)
        return NOVA_NOMEM;
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(&ae, ar, by, tenant_id, "client.create", "client", out->id,
                               json_pack("{s:s, s:s, s:s, s:s}", "name", name, "scopes", scopes,
                                         "audiences", audiences, "auth_method", method));
    if (st == NOVA_OK)
        st = nova_store_client_create(s, out, &ae);
    if (st == NOVA_OK)
        *secret = with_secret ? sec : NULL;
    return st;
}

nova_status nova_auth_client_create(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const char *name, const char *scopes, const char *audiences,
                                    nova_client_t *out, const char **secret)
{
    nova_client_spec_t spec = {.name = name, .scopes = scopes, .audiences = audiences};
    return client_create(a, s, ar, by, tenant_id, &spec, "client_secret", out, secret);
}

/* What an unknown client's secret is compared with. 64 hex digits like a real digest, so the
 * compare costs the same; all zeros, so no secret matches it short of an HMAC preimage. */
static const char unknown_client_digest[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

nova_status nova_auth_client_authenticate(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                          const char *client_id, const char *secret,
                                          nova_client_t *out)
{
    if (client_id == NULL || secret == NULL || strlen(client_id) > 64 || strlen(secret) > 256)
        return NOVA_UNAUTHORIZED;
    nova_status st = nova_store_client_get(s, ar, client_id, out);
    if (st != NOVA_OK && st != NOVA_NOT_FOUND && st != NOVA_INVALID)
        return st;
    /* An unknown client_id costs the same HMAC and constant-time compare as a known one with
     * a wrong secret, so the time of the answer does not tell which client ids exist. */
    bool known = st == NOVA_OK;
    bool ok = nova_secret_verify(a->pepper, secret, strlen(secret),
                                 known && out->secret_digest[0] ? out->secret_digest
                                                                : unknown_client_digest);
    /* A client registered for another method has no secret to present. */
    if (!known || !ok || out->revoked_at != 0 || strcmp(out->auth_method, "client_secret") != 0)
        return NOVA_UNAUTHORIZED;
    return NOVA_OK;
}

nova_status nova_auth_client_revoke(nova_auth_t *a, nova_store_t *s, const nova_audit_actor_t *by,
                                    const char *tenant_id, const char *client_id)
{
    (void)a;
    nova_arena_t ar;
    nova_audit_entry_t ae;
    nova_arena_init(&ar, 512);
    /* Cached verifications of this client's tokens are not dropped here: verification asks
     * the store whether the client is live on every request, so they stop working at once. */
    nova_status st = client_id ? nova_audit_entry_make(&ae, &ar, by, tenant_id, "client.revoke",
                                                       "client", client_id, NULL)
                               : NOVA_INVALID;
    if (st == NOVA_OK)
        st = nova_store_client_revoke(s, tenant_id, client_id, nova_time_now(), &ae);
    nova_arena_free(&ar);
    return st;
}

/* ---- other client authentication methods (RFC 7523, RFC 8705) ---- */

#define JWKS_MAX_KEYS 8
#define JWKS_MAX_LEN 16384
#define ASSERTION_MAX_LIFE 600 /* seconds an assertion may be valid for */

static const char *const auth_methods[] = {"client_secret", "private_key_jwt", "tls_client_auth",
                                           "self_signed_tls_client_auth", NULL};

/* SHA-256 (base64url) of the DER certificate x5c[0] (standard base64), into out[44]. */
static bool x5c_thumbprint(json_t *jwk, char out[44])
{
    json_t *x5c = json_object_get(jwk, "x5c");
    const char *b64 = json_string_value(json_array_get(x5c, 0));
    if (!json_is_array(x5c) || b64 == NULL)
        return false;
    size_t n = strlen(b64), len = 0, m = 0;
    if (n == 0 || n > 8192)
        return false;
    /* x5c is standard base64 (RFC 7517 §4.7): map it onto base64url, padding dropped. */
    char *u = malloc(n + 1);
    uint8_t *der = malloc(n);
    bool ok = u && der;
    for (size_t i = 0; ok && i < n && b64[i] != '='; i++)
        u[m++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    ok = ok && strspn(b64 + m, "=") == n - m && nova_b64url_decode(u, m, der, &len) == NOVA_OK &&
         len > 0;
    free(u);
    if (ok) {
        uint8_t d[32];
        nova_sha256(der, len, d);
        nova_b64url_encode(d, sizeof(d), out);
    }
    free(der);
    return ok;
}

/* Checks a client's JWK Set for its method: private_key_jwt needs 1..8 public signing keys
 * (EdDSA or ES256) with distinct kids; self-signed mTLS needs 1..8 entries with an x5c
 * certificate. *why names the problem. */
static bool jwks_valid(const char *method, const char *jwks, const char **why)
{
    json_error_t e;
    bool pk = strcmp(method, "private_key_jwt") == 0;
    json_t *set =
        strlen(jwks) <= JWKS_MAX_LEN ? json_loads(jwks, JSON_REJECT_DUPLICATES, &e) : NULL;
    json_t *keys = json_object_get(set, "keys");
    size_t n = json_array_size(keys);
    bool ok = json_is_array(keys) && n >= 1 && n <= JWKS_MAX_KEYS;
    *why = "jwks: a JWK Set {\"keys\": [...]} of 1 to 8 keys";
    for (size_t i = 0; ok && i < n; i++) {
        json_t *k = json_array_get(keys, i);
        char tp[44];
        if (!pk) {
            ok = x5c_thumbprint(k, tp);
            *why = ok ? *why : "jwks: every key needs an x5c certificate (base64 DER)";
            continue;
        }
        char *txt = json_dumps(k, JSON_COMPACT);
        nova_key_t *key = NULL;
        /* RSA keys parse (for IdPs' ID tokens) but client assertions are EdDSA or ES256 */
        ok = txt && nova_key_from_jwk(txt, strlen(txt), &key) == NOVA_OK &&
             !nova_key_has_private(key) && nova_key_alg(key) != NOVA_JWS_RS256;
        free(txt);
        nova_key_free(key);
        if (!ok) {
            *why = "jwks: every key must be a public EdDSA (Ed25519) or ES256 (P-256) key";
            break;
        }
        const char *kid = json_string_value(json_object_get(k, "kid"));
        for (size_t j = 0; kid && j < i; j++) {
            const char *other = json_string_value(json_object_get(json_array_get(keys, j), "kid"));
            if (other && strcmp(other, kid) == 0) {
                ok = false;
                *why = "jwks: kids must be distinct";
            }
        }
    }
    json_decref(set);
    return ok;
}

nova_status nova_auth_client_create_spec(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                         const nova_audit_actor_t *by, const char *tenant_id,
                                         const nova_client_spec_t *spec, nova_client_t *out,
                                         const char **secret, const char **why)
{
    const char *method = spec->auth_method ? spec->auth_method : "client_secret";
    bool known = false;
    *why = NULL;
    for (size_t i = 0; auth_methods[i]; i++)
        known |= strcmp(auth_methods[i], method) == 0;
    if (!known) {
        *why = "token_endpoint_auth_method: client_secret_basic, client_secret_post, "
               "private_key_jwt, tls_client_auth or self_signed_tls_client_auth";
        return NOVA_INVALID;
    }
    bool needs_jwks = strcmp(method, "private_key_jwt") == 0 ||
                      strcmp(method, "self_signed_tls_client_auth") == 0;
    bool needs_dn = strcmp(method, "tls_client_auth") == 0;
    if (needs_jwks != (spec->jwks != NULL) ||
        (needs_jwks && !jwks_valid(method, spec->jwks, why))) {
        *why = *why         ? *why
               : needs_jwks ? "jwks is required by this method"
                            : "jwks: not for this method";
        return NOVA_INVALID;
    }
    size_t dnl = spec->tls_subject_dn ? strlen(spec->tls_subject_dn) : 0;
    if (needs_dn != (dnl > 0) || dnl > 512) {
        *why = needs_dn ? "tls_client_auth_subject_dn: the certificate subject (RFC 4514), "
                          "1-512 characters"
                        : "tls_client_auth_subject_dn: only for tls_client_auth";
        return NOVA_INVALID;
    }
    for (size_t i = 0; i < dnl; i++)
        if ((unsigned char)spec->tls_subject_dn[i] < 0x20) {
            *why = "tls_client_auth_subject_dn: no control characters";
            return NOVA_INVALID;
        }
    return client_create(a, s, ar, by, tenant_id, spec, method, out, secret);
}

/* The key of the client's JWK Set named kid (any single key when kid is ""). */
static nova_status jwks_key(const char *jwks, const char *kid, nova_key_t **out)
{
    json_error_t e;
    json_t *set = json_loads(jwks, 0, &e), *keys = json_object_get(set, "keys"), *found = NULL;
    size_t n = json_array_size(keys);
    for (size_t i = 0; i < n; i++) {
        json_t *k = json_array_get(keys, i);
        const char *id = json_string_value(json_object_get(k, "kid"));
        if ((*kid && id && strcmp(id, kid) == 0) || (!*kid && n == 1))
            found = k;
    }
    nova_status st = NOVA_NOT_FOUND;
    char *txt = found ? json_dumps(found, JSON_COMPACT) : NULL;
    if (txt)
        st = nova_key_from_jwk(txt, strlen(txt), out);
    free(txt);
    json_decref(set);
    return st;
}

static bool aud_accepted(json_t *aud, const char *const *accept)
{
    json_t *one;
    size_t i;
    if (json_is_string(aud)) {
        for (const char *const *p = accept; *p; p++)
            if (strcmp(json_string_value(aud), *p) == 0)
                return true;
        return false;
    }
    if (!json_is_array(aud) || json_array_size(aud) == 0 || json_array_size(aud) > 8)
        return false;
    for (i = 0; (one = json_array_get(aud, i)) != NULL; i++)
        if (aud_accepted(one, accept))
            return true;
    return false;
}

nova_status nova_auth_client_assertion(nova_auth_t *a, nova_kv_t *kv, nova_store_t *s,
                                       nova_arena_t *ar, const char *assertion,
                                       const char *client_id, const char *token_endpoint,
                                       nova_client_t *out, const char **why)
{
    nova_jws_t jws;
    json_t *claims = NULL;
    nova_key_t *key = NULL;
    *why = "malformed client assertion";
    if (!assertion || nova_jws_parse(assertion, strlen(assertion), &jws) != NOVA_OK)
        return NOVA_UNAUTHORIZED;
    nova_status st = NOVA_UNAUTHORIZED;
    if (nova_json_parse_object(jws.payload, jws.payload_len, &claims, NULL, 0) != NOVA_OK)
        goto end;
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    json_t *exp = json_object_get(claims, "exp");
    /* RFC 7523 §3: iss and sub are the client; exp bounds it; jti makes it single-use. */
    if (!iss || !sub || strcmp(iss, sub) != 0 || strlen(iss) > 64 || !jti || !*jti ||
        strlen(jti) > 256 || !json_is_integer(exp) || (client_id && strcmp(client_id, iss) != 0)) {
        *why = "the assertion needs iss = sub = client_id, jti and exp";
        goto end;
    }
    int64_t now = nova_time_now(), e = json_integer_value(exp);
    if (!nova_time_in_range(e) || e <= now || e > now + ASSERTION_MAX_LIFE) {
        *why = "the assertion is expired or lives too long";
        goto end;
    }
    st = nova_store_client_get(s, ar, iss, out);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID ||
        (st == NOVA_OK &&
         (out->revoked_at != 0 || strcmp(out->auth_method, "private_key_jwt") != 0))) {
        *why = "client authentication failed";
        st = NOVA_UNAUTHORIZED;
        goto end;
    }
    if (st)
        goto end;
    st = NOVA_UNAUTHORIZED;
    /* The audience: the token endpoint, or the issuer identifier (the tenant's, or the
     * deployment's), as current clients send it (oauth4webapi: [issuer, token endpoint]). */
    const char *accept[] = {token_endpoint, nova_auth_tenant_issuer(a, ar, out->tenant_id),
                            a->issuer, NULL};
    if (!accept[1] || !aud_accepted(json_object_get(claims, "aud"), accept)) {
        *why = "the assertion is for another audience";
        goto end;
    }
    if (jwks_key(out->jwks, jws.kid, &key) != NOVA_OK || nova_jws_verify(&jws, key) != NOVA_OK) {
        *why = "client authentication failed";
        goto end;
    }
    char *rk = nova_arena_printf(ar, "pkjwt:%s:%s", out->id, jti);
    st = rk ? nova_kv_set_nx(kv, rk, NULL, 0, (uint64_t)(e - now + 60) * 1000) : NOVA_NOMEM;
    if (st == NOVA_CONFLICT) {
        *why = "client assertion replayed";
        st = NOVA_UNAUTHORIZED;
    }
    if (st == NOVA_OK)
        *why = NULL;
end:
    nova_key_free(key);
    json_decref(claims);
    nova_jws_clear(&jws);
    return st;
}

nova_status nova_auth_client_tls(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                 const char *client_id, const char *thumbprint, bool verified,
                                 const char *subject_dn, nova_client_t *out, const char **why)
{
    (void)a;
    *why = "client authentication failed";
    if (!client_id || !thumbprint || strlen(client_id) > 64)
        return NOVA_UNAUTHORIZED;
    nova_status st = nova_store_client_get(s, ar, client_id, out);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID)
        return NOVA_UNAUTHORIZED;
    if (st)
        return st;
    if (out->revoked_at != 0)
        return NOVA_UNAUTHORIZED;
    if (strcmp(out->auth_method, "tls_client_auth") == 0) {
        /* RFC 8705 §2.1: a certificate from the trusted CA with the registered subject. */
        if (!verified || !subject_dn || strcmp(subject_dn, out->tls_subject_dn) != 0)
            return NOVA_UNAUTHORIZED;
    } else if (strcmp(out->auth_method, "self_signed_tls_client_auth") == 0) {
        /* §2.2: the very certificate registered (its x5c), no chain needed. */
        json_error_t e;
        json_t *set = json_loads(out->jwks, 0, &e), *k;
        size_t i;
        bool match = false;
        json_t *keys = json_object_get(set, "keys");
        for (i = 0; (k = json_array_get(keys, i)) != NULL; i++) {
            char tp[44];
            if (x5c_thumbprint(k, tp) && strcmp(tp, thumbprint) == 0)
                match = true;
        }
        json_decref(set);
        if (!match)
            return NOVA_UNAUTHORIZED;
    } else {
        return NOVA_UNAUTHORIZED;
    }
    *why = NULL;
    return NOVA_OK;
}
