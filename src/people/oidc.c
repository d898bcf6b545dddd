/* oidc.c: a tenant's OpenID Providers (nova/oidc.h): validation of the configuration, the
 * client secret sealed with the tenant's data key (context "oidc.client_secret"), the view
 * the API shows (never the secret), and the group->role mapping with its time boxes.
 *
 * The row keeps the configuration as one JSON object (config) beside the sealed secret; the
 * region the secret was sealed in is a member of it ("secret_region"), not shown. */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/oidc.h"

#define OIDC_SECRET_CTX "oidc.client_secret"
/* private_key_jwt: the IdP row's sealed bytes are the client's ES256 key (PKCS#8 DER,
 * base64url), under a context of their own so neither can be opened as the other. */
#define OIDC_KEY_CTX "oidc.client_key"
#define PKJ "private_key_jwt"

static const char *const idp_members[] = {"issuer",
                                          "client_id",
                                          "client_secret",
                                          "redirect_uris",
                                          "scopes",
                                          "group_claim",
                                          "role_mappings",
                                          "enabled",
                                          "id_token_signing_algs",
                                          "acr_values",
                                          "mfa_acr_values",
                                          "post_logout_redirect_uris",
                                          "token_endpoint_auth_method",
                                          "rotate_client_key",
                                          "client_key_activate_after",
                                          NULL};

/* Client-key rotation (private_key_jwt): a graceful rotation stages the next key, listed in
 * the client's JWK Set at once and signing from client_key_next_at on (by default
 * CLIENT_KEY_STAGE s later), so an IdP that caches the set (oidc-provider for at least 60 s)
 * knows the key before it sees it. The retired key stays listed CLIENT_KEY_GRACE s more:
 * twice an assertion's 60 s life (oidc_login.c). A revoke replaces the key at once. */
#define CLIENT_KEY_STAGE 600
#define CLIENT_KEY_STAGE_MAX 86400
#define CLIENT_KEY_GRACE 120

/* The ID token algorithms an IdP may use; PS256 only where the tenant opts in. */
static const char *const alg_names[] = {"ES256", "EdDSA", "RS256", "PS256"};
static const nova_jws_alg alg_ids[] = {NOVA_JWS_ES256, NOVA_JWS_EDDSA, NOVA_JWS_RS256,
                                       NOVA_JWS_PS256};
#define DEFAULT_ALGS ((1u << NOVA_JWS_ES256) | (1u << NOVA_JWS_EDDSA) | (1u << NOVA_JWS_RS256))

/* An array of 0..max strings of 1..128 printable characters without spaces or quotes (acr
 * values travel space-separated). */
static bool acr_list_ok(json_t *v, size_t max)
{
    size_t i;
    json_t *a;
    if (!json_is_array(v) || json_array_size(v) > max)
        return false;
    json_array_foreach(v, i, a)
    {
        if (!json_is_string(a) || !people_printable(json_string_value(a), 128) ||
            strpbrk(json_string_value(a), " \"\\"))
            return false;
    }
    return true;
}

/* Checks the members present in in and writes them into cfg (the stored object). */
static nova_status apply(json_t *cfg, json_t *in, bool create, const char **why)
{
    json_t *v;
    nova_status st = people_fed_apply_common(
        cfg, in, idp_members, create,
        "unknown member (issuer, client_id, client_secret, redirect_uris, scopes, "
        "group_claim, role_mappings, enabled, id_token_signing_algs, acr_values, "
        "mfa_acr_values, post_logout_redirect_uris, token_endpoint_auth_method)",
        why);
    if (st)
        return st;
    if ((v = json_object_get(in, "issuer")) != NULL) {
        if (!create) {
            *why = "issuer: cannot change (create another IdP)";
            return NOVA_INVALID;
        }
        /* The issuer is compared exactly with the discovery document's and the ID token's iss,
         * so it is kept as given (no trailing slash added or removed). */
        if (!json_is_string(v) || !nova_oidc_url_ok(json_string_value(v)) ||
            strchr(json_string_value(v), '?')) {
            *why = "issuer: an https URL without query (http only on a loopback host)";
            return NOVA_INVALID;
        }
        json_object_set(cfg, "issuer", v);
    } else if (create) {
        *why = "issuer: required";
        return NOVA_INVALID;
    }
    if ((v = json_object_get(in, "client_id")) != NULL) {
        if (!json_is_string(v) || !people_printable(json_string_value(v), 255)) {
            *why = "client_id: 1..255 printable characters";
            return NOVA_INVALID;
        }
        json_object_set(cfg, "client_id", v);
    } else if (create) {
        *why = "client_id: required";
        return NOVA_INVALID;
    }
    if ((v = json_object_get(in, "client_secret")) != NULL && !json_is_null(v) &&
        (!json_is_string(v) || !people_printable(json_string_value(v), 512))) {
        *why = "client_secret: 1..512 printable characters, or null to remove it";
        return NOVA_INVALID;
    }
    if ((v = json_object_get(in, "token_endpoint_auth_method")) != NULL) {
        const char *m = json_string_value(v);
        if (m == NULL || (strcmp(m, "client_secret_basic") != 0 && strcmp(m, PKJ) != 0)) {
            *why = "token_endpoint_auth_method: client_secret_basic or private_key_jwt";
            return NOVA_INVALID;
        }
    }
    if ((v = json_object_get(in, "redirect_uris")) != NULL) {
        size_t n = json_is_array(v) ? json_array_size(v) : 0, i;
        json_t *u;
        if (n == 0 || n > NOVA_OIDC_MAX_REDIRECTS) {
            *why = "redirect_uris: an array of 1..8 URLs";
            return NOVA_INVALID;
        }
        json_array_foreach(v, i,
                           u) if (!json_is_string(u) || !nova_oidc_url_ok(json_string_value(u)))
        {
            *why = "redirect_uris: each an https URL (http only on a loopback host), no fragment";
            return NOVA_INVALID;
        }
        json_object_set(cfg, "redirect_uris", v);
    } else if (create) {
        *why = "redirect_uris: required";
        return NOVA_INVALID;
    }
    if ((v = json_object_get(in, "scopes")) != NULL) {
        size_t n = json_is_array(v) ? json_array_size(v) : 0, i;
        json_t *sc;
        bool openid = false;
        if (n == 0 || n > 16) {
            *why = "scopes: an array of 1..16 scopes with openid among them";
            return NOVA_INVALID;
        }
        json_array_foreach(v, i, sc)
        {
            const char *t = json_is_string(sc) ? json_string_value(sc) : NULL;
            if (t == NULL || !people_printable(t, 64) || strpbrk(t, " \"\\")) {
                *why = "scopes: each 1..64 characters without spaces or quotes";
                return NOVA_INVALID;
            }
            openid = openid || strcmp(t, "openid") == 0;
        }
        if (!openid) {
            *why = "scopes: openid is required";
            return NOVA_INVALID;
        }
        json_object_set(cfg, "scopes", v);
    } else if (create) {
        json_object_set_new(cfg, "scopes", json_pack("[s,s,s]", "openid", "email", "profile"));
    }
    if ((v = json_object_get(in, "group_claim")) != NULL) {
        if (!json_is_string(v) || !people_printable(json_string_value(v), 64)) {
            *why = "group_claim: the name of the ID token claim that lists groups (1..64)";
            return NOVA_INVALID;
        }
        json_object_set(cfg, "group_claim", v);
    } else if (create) {
        json_object_set_new(cfg, "group_claim", json_string("groups"));
    }
    if ((v = json_object_get(in, "id_token_signing_algs")) != NULL) {
        size_t n = json_is_array(v) ? json_array_size(v) : 0, i, a;
        json_t *x;
        bool ok = n > 0 && n <= 4;
        json_array_foreach(v, i, x)
        {
            bool known = false;
            for (a = 0; a < 4 && json_is_string(x); a++)
                known = known || strcmp(json_string_value(x), alg_names[a]) == 0;
            ok = ok && known;
        }
        if (!ok) {
            *why = "id_token_signing_algs: an array of 1..4 of ES256, EdDSA, RS256, PS256";
            return NOVA_INVALID;
        }
        json_object_set(cfg, "id_token_signing_algs", v);
    } else if (create) {
        json_object_set_new(cfg, "id_token_signing_algs",
                            json_pack("[s,s,s]", "ES256", "EdDSA", "RS256"));
    }
    if ((v = json_object_get(in, "post_logout_redirect_uris")) != NULL) {
        size_t n = json_is_array(v) ? json_array_size(v) : (size_t)-1, i;
        json_t *u;
        bool ok = n <= NOVA_OIDC_MAX_REDIRECTS;
        json_array_foreach(v, i, u) ok =
            ok && json_is_string(u) && nova_oidc_url_ok(json_string_value(u));
        if (!ok) {
            *why = "post_logout_redirect_uris: an array of at most 8 https URLs (http only on a "
                   "loopback host), no fragment";
            return NOVA_INVALID;
        }
        json_object_set(cfg, "post_logout_redirect_uris", v);
    } else if (create) {
        json_object_set_new(cfg, "post_logout_redirect_uris", json_array());
    }
    static const char *const acr_members[] = {"acr_values", "mfa_acr_values"};
    for (size_t a = 0; a < 2; a++) {
        if ((v = json_object_get(in, acr_members[a])) != NULL) {
            if (!acr_list_ok(v, NOVA_OIDC_MAX_ACR)) {
                *why = a == 0 ? "acr_values: an array of at most 8 acr values (1..128 "
                                "characters, no spaces or quotes)"
                              : "mfa_acr_values: an array of at most 8 acr values (1..128 "
                                "characters, no spaces or quotes)";
                return NOVA_INVALID;
            }
            json_object_set(cfg, acr_members[a], v);
        } else if (create) {
            json_object_set_new(cfg, acr_members[a], json_array());
        }
    }
    return NOVA_OK;
}

static char *jwk_text(nova_arena_t *ar, json_t *jwk)
{
    char *t = jwk ? json_dumps(jwk, JSON_COMPACT) : NULL;
    char *out = t ? nova_arena_strdup(ar, t) : NULL;
    free(t);
    return out;
}

/* Which client key signs at now, and which the client's JWK Set lists (see CLIENT_KEY_STAGE). */
static void client_keys_view(nova_arena_t *ar, json_t *c, bool pkj, int64_t now,
                             nova_oidc_idp_t *out)
{
    json_t *cur = json_object_get(c, "client_jwk"), *next = json_object_get(c, "client_jwk_next");
    if (!pkj || cur == NULL)
        return;
    int64_t at = json_integer_value(json_object_get(c, "client_key_next_at"));
    json_t *keys = json_array();
    if (next && now >= at) {
        out->client_jwk = jwk_text(ar, next);
        json_array_append(keys, next);
        if (now < at + CLIENT_KEY_GRACE)
            json_array_append(keys, cur);
    } else {
        out->client_jwk = jwk_text(ar, cur);
        json_array_append(keys, cur);
        if (next) {
            json_array_append(keys, next);
            out->client_jwk_next = jwk_text(ar, next);
            out->client_key_next_at = at;
        }
    }
    json_t *set = json_pack("{s:o}", "keys", keys);
    out->client_jwks = jwk_text(ar, set);
    json_decref(set);
}

/* The view of a row (a nova_oidc_idp_t). */
static nova_status view_of(nova_arena_t *ar, const nova_oidc_idp_row_t *row, void *view)
{
    nova_oidc_idp_t *out = view;
    memset(out, 0, sizeof(*out));
    json_error_t err;
    json_t *c = json_loads(row->config, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(c)) {
        json_decref(c);
        return NOVA_INTERNAL;
    }
    out->id = row->id;
    out->tenant_id = row->tenant_id;
    out->issuer = row->issuer;
    const char *method = json_string_value(json_object_get(c, "token_endpoint_auth_method"));
    out->private_key_jwt = method && strcmp(method, PKJ) == 0;
    out->has_client_secret = row->secret_sealed != NULL && !out->private_key_jwt;
    client_keys_view(ar, c, out->private_key_jwt, nova_time_now(), out);
    out->created_at = row->created_at;
    out->updated_at = row->updated_at;
    out->client_id = nova_arena_strdup(ar, json_string_value(json_object_get(c, "client_id")));
    out->group_claim = nova_arena_strdup(ar, json_string_value(json_object_get(c, "group_claim")));
    out->enabled = json_is_true(json_object_get(c, "enabled"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(c, "redirect_uris"), i, v) if (i < NOVA_OIDC_MAX_REDIRECTS)
        out->redirect_uris[out->nredirect++] = nova_arena_strdup(ar, json_string_value(v));
    nova_buf_t sc;
    nova_buf_init(&sc);
    json_array_foreach(json_object_get(c, "scopes"), i, v)
        nova_buf_printf(&sc, "%s%s", i ? " " : "", json_string_value(v));
    out->scopes = nova_arena_strndup(ar, sc.data ? (const char *)sc.data : "", sc.len);
    nova_buf_free(&sc);
    people_fed_mappings_view(ar, json_object_get(c, "role_mappings"), out->mappings,
                             &out->nmappings);
    /* An IdP made before id_token_signing_algs existed accepts what it did then. */
    json_t *algs = json_object_get(c, "id_token_signing_algs");
    out->id_token_algs = algs ? 0 : DEFAULT_ALGS;
    json_array_foreach(algs, i, v) for (size_t a = 0; a < 4;
                                        a++) if (json_is_string(v) &&
                                                 strcmp(json_string_value(v), alg_names[a]) == 0)
        out->id_token_algs |= 1u << alg_ids[a];
    nova_buf_t acr;
    nova_buf_init(&acr);
    json_array_foreach(json_object_get(c, "acr_values"), i, v)
        nova_buf_printf(&acr, "%s%s", i ? " " : "", json_string_value(v));
    out->acr_values = nova_arena_strndup(ar, acr.data ? (const char *)acr.data : "", acr.len);
    nova_buf_free(&acr);
    json_array_foreach(json_object_get(c, "mfa_acr_values"), i, v) if (i < NOVA_OIDC_MAX_ACR)
        out->mfa_acr[out->nmfa_acr++] = nova_arena_strdup(ar, json_string_value(v));
    json_array_foreach(json_object_get(c, "post_logout_redirect_uris"), i,
                       v) if (i < NOVA_OIDC_MAX_REDIRECTS)
        out->post_logout_redirect_uris[out->npost_logout++] =
        nova_arena_strdup(ar, json_string_value(v));
    json_decref(c);
    if (!out->client_id || !out->group_claim || !out->scopes || !out->acr_values)
        return NOVA_NOMEM;
    for (size_t k = 0; k < out->nmfa_acr; k++)
        if (out->mfa_acr[k] == NULL)
            return NOVA_NOMEM;
    for (size_t k = 0; k < out->npost_logout; k++)
        if (out->post_logout_redirect_uris[k] == NULL)
            return NOVA_NOMEM;
    return NOVA_OK;
}

void *nova_oidc_idp_to_json(const nova_oidc_idp_t *idp)
{
    json_t *ru = json_array(), *sc = json_array(), *maps = json_array();
    for (size_t i = 0; i < idp->nredirect; i++)
        json_array_append_new(ru, json_string(idp->redirect_uris[i]));
    for (const char *w = idp->scopes; w && *w;) {
        size_t n = strcspn(w, " ");
        json_array_append_new(sc, json_stringn(w, n));
        w += n + (w[n] == ' ');
    }
    people_fed_mappings_json(maps, idp->mappings, idp->nmappings);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:s, s:o, s:b, s:I, s:I}", "id",
                          idp->id, "tenant_id", idp->tenant_id, "issuer", idp->issuer, "client_id",
                          idp->client_id, "has_client_secret", idp->has_client_secret,
                          "redirect_uris", ru, "scopes", sc, "group_claim", idp->group_claim,
                          "role_mappings", maps, "enabled", idp->enabled, "created_at",
                          (json_int_t)idp->created_at, "updated_at", (json_int_t)idp->updated_at);
    json_t *algs = json_array(), *acr = json_array(), *mfa = json_array();
    for (size_t a = 0; a < 4; a++)
        if (idp->id_token_algs & (1u << alg_ids[a]))
            json_array_append_new(algs, json_string(alg_names[a]));
    for (const char *w = idp->acr_values; w && *w;) {
        size_t n = strcspn(w, " ");
        json_array_append_new(acr, json_stringn(w, n));
        w += n + (w[n] == ' ');
    }
    for (size_t i = 0; i < idp->nmfa_acr; i++)
        json_array_append_new(mfa, json_string(idp->mfa_acr[i]));
    json_t *plo = json_array();
    for (size_t i = 0; i < idp->npost_logout; i++)
        json_array_append_new(plo, json_string(idp->post_logout_redirect_uris[i]));
    if (o)
        json_object_set_new(o, "post_logout_redirect_uris", plo);
    else
        json_decref(plo);
    if (o) {
        /* private_key_jwt: the client's public key, to register with the IdP (its jwks). */
        json_t *jwks = nova_oidc_client_jwks(idp);
        json_object_set_new(o, "token_endpoint_auth_method",
                            json_string(idp->private_key_jwt     ? PKJ
                                        : idp->has_client_secret ? "client_secret_basic"
                                                                 : "none"));
        json_object_set_new(o, "jwks", jwks ? jwks : json_null());
        /* Or register this jwks_uri (under novad's public URL): rotations reach the IdP. */
        json_object_set_new(o, "jwks_path",
                            jwks ? json_sprintf("/auth/oidc/jwks/%s/%s", idp->tenant_id, idp->id)
                                 : json_null());
    }
    if (o && idp->client_jwk_next) {
        json_error_t err;
        json_t *next = json_loads(idp->client_jwk_next, 0, &err);
        json_object_set_new(o, "client_key_rotation",
                            json_pack("{s:O?, s:I}", "next_kid", json_object_get(next, "kid"),
                                      "active_at", (json_int_t)idp->client_key_next_at));
        json_decref(next);
    }
    if (o) {
        json_object_set_new(o, "id_token_signing_algs", algs);
        json_object_set_new(o, "acr_values", acr);
        json_object_set_new(o, "mfa_acr_values", mfa);
    } else {
        json_decref(algs), json_decref(acr), json_decref(mfa);
    }
    if (o) {
        json_object_set_new(
            o, "login_path",
            json_sprintf("/auth/oidc/login?tenant_id=%s&idp=%s", idp->tenant_id, idp->id));
        /* To register with the IdP as the client's backchannel_logout_uri (under novad's
         * public URL). */
        json_object_set_new(
            o, "backchannel_logout_path",
            json_sprintf("/auth/oidc/backchannel-logout/%s/%s", idp->tenant_id, idp->id));
        /* Its frontchannel_logout_uri (with frontchannel_logout_session_required). */
        json_object_set_new(
            o, "frontchannel_logout_path",
            json_sprintf("/auth/oidc/frontchannel-logout/%s/%s", idp->tenant_id, idp->id));
    }
    return o;
}

void *nova_oidc_client_jwks(const nova_oidc_idp_t *idp)
{
    json_error_t err;
    return idp->private_key_jwt && idp->client_jwks ? json_loads(idp->client_jwks, 0, &err) : NULL;
}

/* A fresh client key for private_key_jwt (RFC 7523 §2.2): an ES256 key made here, its
 * PKCS#8 DER sealed into *sealed, its public JWK (kid, alg, use) into cfg's client_jwk, for
 * the IdP's registration of the client. */
static nova_status client_key_new(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const char *tenant_id, json_t **pub_out, const uint8_t **sealed,
                                  size_t *len)
{
    *pub_out = NULL;
    char kid[64];
    nova_key_t *k = NULL;
    nova_buf_t der, jwk;
    nova_buf_init(&der);
    nova_buf_init(&jwk);
    nova_status st = nova_id_new("ck", kid, sizeof(kid));
    if (st == NOVA_OK)
        st = nova_key_generate(NOVA_JWS_ES256, kid, &k);
    if (st == NOVA_OK)
        st = nova_key_export_private(k, &der);
    if (st == NOVA_OK)
        st = nova_key_public_jwk(k, &jwk);
    char *b64 = st == NOVA_OK ? nova_arena_alloc(ar, nova_b64url_encoded_len(der.len) + 1) : NULL;
    if (st == NOVA_OK && b64 == NULL)
        st = NOVA_NOMEM;
    if (st == NOVA_OK) {
        size_t n = nova_b64url_encode((const uint8_t *)der.data, der.len, b64);
        st = people_seal(p, s, ar, tenant_id, OIDC_KEY_CTX, b64, n, sealed, len);
        OPENSSL_cleanse(b64, n);
    }
    json_error_t err;
    json_t *pub = st == NOVA_OK ? json_loadb((const char *)jwk.data, jwk.len, 0, &err) : NULL;
    if (st == NOVA_OK && pub == NULL)
        st = NOVA_INTERNAL;
    if (st == NOVA_OK)
        *pub_out = pub;
    if (der.data)
        OPENSSL_cleanse(der.data, der.len);
    nova_buf_free(&der);
    nova_buf_free(&jwk);
    nova_key_free(k);
    return st;
}

static nova_status client_key_make(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                   const char *tenant_id, json_t *cfg, const uint8_t **sealed,
                                   size_t *len)
{
    json_t *pub;
    nova_status st = client_key_new(p, s, ar, tenant_id, &pub, sealed, len);
    if (st == NOVA_OK) {
        json_object_set_new(cfg, "client_jwk", pub);
        json_object_set_new(cfg, "secret_region", json_string(p->region));
        json_object_del(cfg, "client_jwk_next");
        json_object_del(cfg, "client_key_next_sealed");
        json_object_del(cfg, "client_key_next_at");
    }
    return st;
}

/* The client's credential as in asks: for private_key_jwt a key made now (when the IdP had
 * none: on create, or on switching to it), never a secret beside it; otherwise the secret
 * member of in (when present and a string). */
static nova_status seal_secret(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                               const char *tenant_id, json_t *in, json_t *cfg,
                               const uint8_t **sealed, size_t *len)
{
    json_t *v = json_object_get(in, "client_secret");
    json_t *m = json_object_get(in, "token_endpoint_auth_method");
    const char *was = json_string_value(json_object_get(cfg, "token_endpoint_auth_method"));
    bool pkj_now = m ? strcmp(json_string_value(m), PKJ) == 0 : (was && strcmp(was, PKJ) == 0);
    if (pkj_now) {
        if (json_is_string(v))
            return NOVA_INVALID; /* caught by the caller's why */
        if (m && !(was && strcmp(was, PKJ) == 0)) {
            json_object_set(cfg, "token_endpoint_auth_method", m);
            return client_key_make(p, s, ar, tenant_id, cfg, sealed, len);
        }
        return NOVA_OK;
    }
    if (m) {
        if (was && strcmp(was, PKJ) == 0 && !json_is_string(v))
            return NOVA_INVALID; /* leaving private_key_jwt needs the secret */
        json_object_set(cfg, "token_endpoint_auth_method", m);
        json_object_del(cfg, "client_jwk");
    }
    if (!json_is_string(v))
        return NOVA_OK;
    nova_status st = people_seal(p, s, ar, tenant_id, OIDC_SECRET_CTX, json_string_value(v),
                                 json_string_length(v), sealed, len);
    if (st == NOVA_OK)
        json_object_set_new(cfg, "secret_region", json_string(p->region));
    return st;
}

nova_status nova_oidc_idp_create(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const void *obj, nova_oidc_idp_t *out, const char **why)
{
    json_t *in = (json_t *)obj, *cfg = json_object();
    char id[64];
    nova_oidc_idp_row_t row = {.tenant_id = tenant_id};
    nova_status st = cfg ? NOVA_OK : NOVA_NOMEM;
    if (st == NOVA_OK && !json_is_object(in)) {
        *why = "the body must be a JSON object";
        st = NOVA_INVALID;
    }
    if (st == NOVA_OK)
        st = apply(cfg, in, true, why);
    if (st == NOVA_OK && (json_object_get(in, "rotate_client_key") ||
                          json_object_get(in, "client_key_activate_after"))) {
        *why = "rotate_client_key: only on an update (a new IdP's key is made with it)";
        st = NOVA_INVALID;
    }
    if (st == NOVA_OK)
        st = nova_id_new("oidp", id, sizeof(id));
    if (st == NOVA_OK) {
        st = seal_secret(p, s, ar, tenant_id, in, cfg, &row.secret_sealed, &row.secret_sealed_len);
        if (st == NOVA_INVALID)
            *why = "client_secret: not with token_endpoint_auth_method private_key_jwt (novad "
                   "makes the client's key; register its jwks with the IdP)";
    }
    if (st == NOVA_OK)
        st = people_fed_idp_insert(
            s, ar, by, NOVA_FED_OIDC, id, cfg, "issuer", &row,
            json_pack("{s:O, s:b, s:b}", "issuer", json_object_get(cfg, "issuer"), "client_secret",
                      row.secret_sealed != NULL && !json_object_get(cfg, "client_jwk"),
                      "private_key_jwt", json_object_get(cfg, "client_jwk") != NULL),
            "this tenant has an IdP with this issuer", view_of, out, why);
    json_decref(cfg);
    return st;
}

/* A rotation of the IdP's client key (see CLIENT_KEY_STAGE). graceful: a staged key that
 * already signs first becomes the current one (its sealed bytes into the row), then a new key
 * is staged for after seconds; else a new key replaces every other at once. */
static nova_status rotate_client_key(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const char *tenant_id, json_t *cfg, bool graceful,
                                     int64_t after, nova_oidc_idp_row_t *row)
{
    if (!graceful)
        return client_key_make(p, s, ar, tenant_id, cfg, &row->secret_sealed,
                               &row->secret_sealed_len);
    int64_t now = nova_time_now();
    json_t *next = json_object_get(cfg, "client_jwk_next");
    const char *nb = json_string_value(json_object_get(cfg, "client_key_next_sealed"));
    if (next && nb && now >= json_integer_value(json_object_get(cfg, "client_key_next_at"))) {
        size_t n = strlen(nb), dn = 0;
        uint8_t *d = nova_arena_alloc(ar, nova_b64url_decoded_max(n) + 1);
        if (d == NULL || nova_b64url_decode(nb, n, d, &dn) != NOVA_OK)
            return d ? NOVA_INTERNAL : NOVA_NOMEM;
        row->secret_sealed = d;
        row->secret_sealed_len = dn;
        json_object_set(cfg, "client_jwk", next);
    }
    json_t *pub;
    const uint8_t *sealed;
    size_t len;
    nova_status st = client_key_new(p, s, ar, tenant_id, &pub, &sealed, &len);
    char *b64 = st == NOVA_OK ? nova_arena_alloc(ar, nova_b64url_encoded_len(len) + 1) : NULL;
    if (st == NOVA_OK && b64 == NULL)
        st = NOVA_NOMEM;
    if (st == NOVA_OK) {
        b64[nova_b64url_encode(sealed, len, b64)] = '\0';
        json_object_set_new(cfg, "client_jwk_next", pub);
        json_object_set_new(cfg, "client_key_next_sealed", json_string(b64));
        json_object_set_new(cfg, "client_key_next_at", json_integer(now + after));
    } else {
        json_decref(pub);
    }
    return st;
}

/* An update's members, and the secret: null removes it, a string replaces it. */
static nova_status apply_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                const char *tenant_id, json_t *cfg, json_t *in, bool create,
                                nova_oidc_idp_row_t *row, const char **why)
{
    nova_status st = apply(cfg, in, create, why);
    const char *was = json_string_value(json_object_get(cfg, "token_endpoint_auth_method"));
    bool pkj = was && strcmp(was, PKJ) == 0;
    if (st == NOVA_OK && pkj && json_is_null(json_object_get(in, "client_secret")) &&
        !json_object_get(in, "token_endpoint_auth_method")) {
        *why = "client_secret: this IdP authenticates with private_key_jwt (set "
               "token_endpoint_auth_method to change that)";
        return NOVA_INVALID;
    }
    if (st == NOVA_OK && json_is_null(json_object_get(in, "client_secret"))) {
        row->secret_sealed = NULL;
        row->secret_sealed_len = 0;
        json_object_del(cfg, "secret_region");
    }
    json_t *rot = json_object_get(in, "rotate_client_key");
    if (st == NOVA_OK && rot) {
        const char *how = json_string_value(rot);
        if (how == NULL || (strcmp(how, "graceful") != 0 && strcmp(how, "revoke") != 0)) {
            *why = "rotate_client_key: \"graceful\" (a new key is listed in the client's JWK "
                   "Set now and signs after client_key_activate_after seconds, 600 by default) "
                   "or \"revoke\" (a new key replaces the others at once)";
            return NOVA_INVALID;
        }
        if (!pkj || json_object_get(in, "token_endpoint_auth_method") ||
            json_object_get(in, "client_secret")) {
            *why = "rotate_client_key: only for an IdP that already uses private_key_jwt, on "
                   "its own (without token_endpoint_auth_method or client_secret)";
            return NOVA_INVALID;
        }
        json_t *a = json_object_get(in, "client_key_activate_after");
        bool graceful = strcmp(how, "graceful") == 0;
        if (a && (!graceful || !json_is_integer(a) || json_integer_value(a) < 0 ||
                  json_integer_value(a) > CLIENT_KEY_STAGE_MAX)) {
            *why = "client_key_activate_after: seconds, 0..86400, with rotate_client_key "
                   "\"graceful\" only";
            return NOVA_INVALID;
        }
        return rotate_client_key(p, s, ar, tenant_id, cfg, graceful,
                                 a ? json_integer_value(a) : CLIENT_KEY_STAGE, row);
    }
    if (st == NOVA_OK && json_object_get(in, "client_key_activate_after")) {
        *why = "client_key_activate_after: only with rotate_client_key";
        return NOVA_INVALID;
    }
    if (st == NOVA_OK) {
        st =
            seal_secret(p, s, ar, tenant_id, in, cfg, &row->secret_sealed, &row->secret_sealed_len);
        if (st == NOVA_INVALID)
            *why = "client_secret: with private_key_jwt none is kept, and leaving it for "
                   "client_secret_basic needs one";
    }
    return st;
}

nova_status nova_oidc_idp_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *id, const void *obj, nova_oidc_idp_t *out,
                                 const char **why)
{
    return people_fed_idp_update(p, s, ar, by, NOVA_FED_OIDC, tenant_id, id, (json_t *)obj,
                                 apply_update, view_of, out, why);
}

nova_status nova_oidc_idp_delete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *id)
{
    nova_oidc_idp_t idp;
    nova_status st = nova_oidc_idp_get(s, ar, tenant_id, id, &idp);
    if (st)
        return st;
    return people_fed_idp_delete(
        p, s, ar, by, NOVA_FED_OIDC, tenant_id, id, "oidc_idp.delete", "oidc_idp",
        json_pack("{s:s, s:I}", "issuer", idp.issuer, "role_mappings", (json_int_t)idp.nmappings),
        NULL);
}

nova_status nova_oidc_idp_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                              const char *id, nova_oidc_idp_t *out)
{
    return people_fed_idp_get(s, ar, NOVA_FED_OIDC, tenant_id, id, view_of, out);
}

nova_status nova_oidc_idp_list(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                               nova_oidc_idp_t **out, size_t *n)
{
    return people_fed_idp_list(s, ar, NOVA_FED_OIDC, tenant_id, view_of, sizeof(**out),
                               (void **)out, n);
}

/* ---- the protocol's table (nova_fed_idp_ops) ---- */

static nova_status ops_create(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                              const nova_audit_actor_t *by, const char *tenant_id,
                              const char *base_url, const void *obj, void *out, const char **why)
{
    (void)base_url; /* an OpenID Provider's configuration names no URL of novad's */
    return nova_oidc_idp_create(p, s, ar, by, tenant_id, obj, out, why);
}
static nova_status ops_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                              const nova_audit_actor_t *by, const char *tenant_id, const char *id,
                              const void *obj, void *out, const char **why)
{
    return nova_oidc_idp_update(p, s, ar, by, tenant_id, id, obj, out, why);
}
static nova_status ops_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id, const char *id,
                           void *out)
{
    return nova_oidc_idp_get(s, ar, tenant_id, id, out);
}
static nova_status ops_list(nova_store_t *s, nova_arena_t *ar, const char *tenant_id, void **out,
                            size_t *n)
{
    return nova_oidc_idp_list(s, ar, tenant_id, (nova_oidc_idp_t **)out, n);
}
static void *ops_json(const void *view)
{
    return nova_oidc_idp_to_json(view);
}
static const char *ops_id(const void *view)
{
    return ((const nova_oidc_idp_t *)view)->id;
}

const nova_fed_idp_ops_t people_oidc_idp_ops = {.proto = NOVA_FED_OIDC,
                                                .name = "oidc",
                                                .members = idp_members,
                                                .url_member = "issuer",
                                                .url_on_update = false,
                                                .view_size = sizeof(nova_oidc_idp_t),
                                                .create = ops_create,
                                                .update = ops_update,
                                                .get = ops_get,
                                                .list = ops_list,
                                                .remove = nova_oidc_idp_delete,
                                                .to_json = ops_json,
                                                .id_of = ops_id};

/* The client secret of an IdP row, opened (arena; NULL when none). */
nova_status people_oidc_secret(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                               const nova_oidc_idp_row_t *row, const char **secret)
{
    return people_fed_open(p, s, ar, row, "secret_region", OIDC_SECRET_CTX, secret);
}

nova_status people_oidc_client_key(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                   const nova_oidc_idp_row_t *row, const char *kid,
                                   nova_key_t **key)
{
    *key = NULL;
    const char *b64 = NULL;
    nova_status st = NOVA_OK;
    json_error_t err;
    json_t *c = json_loads(row->config, 0, &err);
    const char *next_kid =
        json_string_value(json_object_get(json_object_get(c, "client_jwk_next"), "kid"));
    const char *nb = json_string_value(json_object_get(c, "client_key_next_sealed"));
    if (next_kid && nb && kid && strcmp(kid, next_kid) == 0) {
        /* The staged key signs from its time on (client_keys_view chose it). */
        const char *region = json_string_value(json_object_get(c, "secret_region"));
        size_t n = strlen(nb), dn = 0, len = 0;
        uint8_t *d = nova_arena_alloc(ar, nova_b64url_decoded_max(n) + 1);
        char *text = NULL;
        st = d ? nova_b64url_decode(nb, n, d, &dn) : NOVA_NOMEM;
        if (st == NOVA_OK)
            st = people_open(p, s, ar, row->tenant_id, region ? region : "global", OIDC_KEY_CTX, d,
                             dn, &text, &len);
        b64 = text;
    } else {
        st = people_fed_open(p, s, ar, row, "secret_region", OIDC_KEY_CTX, &b64);
    }
    json_decref(c);
    if (st || b64 == NULL)
        return st ? st : NOVA_INTERNAL;
    size_t n = strlen(b64), dn = 0;
    uint8_t *der = nova_arena_alloc(ar, nova_b64url_decoded_max(n) + 1);
    st = der ? nova_b64url_decode(b64, n, der, &dn) : NOVA_NOMEM;
    OPENSSL_cleanse((char *)b64, n);
    if (st == NOVA_OK)
        st = nova_key_import_private(NOVA_JWS_ES256, kid, der, dn, key);
    if (der)
        OPENSSL_cleanse(der, dn);
    return st;
}

const char *nova_oidc_roles_for(nova_arena_t *ar, const nova_oidc_idp_t *idp,
                                const char *const *groups, size_t ngroups, int64_t now)
{
    return people_fed_roles(ar, idp->mappings, idp->nmappings, groups, ngroups, now);
}
