/* oidc_token.c: the pure half of OIDC federation (nova/oidc.h): parsers of what an OpenID
 * Provider sends (discovery document, JWK Set, token response) and the ID token's claim
 * checks (OpenID Connect Core 1.0 §3.1.3.7). No I/O: bytes in, structs out; fuzzed by
 * fuzz/oidc_fuzz.c. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nova/crypto.h"
#include "nova/oidc.h"
#include "nova/webhook.h"

#define OIDC_MAX_KEYS 32
#define OIDC_URL_MAX 2048

static json_t *load_object(const char *text, size_t n)
{
    json_error_t err;
    if (text == NULL || n == 0 || n > NOVA_OIDC_DOC_MAX)
        return NULL;
    json_t *j = json_loadb(text, n, JSON_REJECT_DUPLICATES, &err);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* An http URL is accepted only on a loopback host (a development IdP); anything else must
 * be https. No userinfo, no fragment, no control characters or spaces. */
bool nova_oidc_url_ok(const char *url)
{
    if (url == NULL)
        return false;
    size_t n = strlen(url);
    if (n == 0 || n > OIDC_URL_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f || url[i] == '#')
            return false;
    const char *host;
    bool https = strncmp(url, "https://", 8) == 0;
    if (https)
        host = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else
        return false;
    size_t hl = strcspn(host, "/?");
    if (hl == 0 || memchr(host, '@', hl))
        return false;
    if (https)
        return true;
    static const char *const loopback[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        size_t ll = strlen(loopback[i]);
        if (hl >= ll && strncmp(host, loopback[i], ll) == 0 && (hl == ll || host[ll] == ':'))
            return true;
    }
    return false;
}

static const char *dup_str(nova_arena_t *ar, json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_string(v) ? nova_arena_strdup(ar, json_string_value(v)) : NULL;
}

nova_status nova_oidc_discovery_parse(nova_arena_t *ar, const char *text, size_t n,
                                      const char *expected_issuer, nova_oidc_discovery_t *out,
                                      const char **why)
{
    memset(out, 0, sizeof(*out));
    json_t *j = load_object(text, n);
    nova_status st = NOVA_INVALID;
    if (j == NULL) {
        *why = "the discovery document is not a JSON object";
        return NOVA_INVALID;
    }
    json_t *iss = json_object_get(j, "issuer");
    if (!json_is_string(iss) || expected_issuer == NULL ||
        strcmp(json_string_value(iss), expected_issuer) != 0) {
        *why = "the discovery document's issuer is not the configured issuer";
        goto end;
    }
    out->issuer = dup_str(ar, j, "issuer");
    out->authorization_endpoint = dup_str(ar, j, "authorization_endpoint");
    out->token_endpoint = dup_str(ar, j, "token_endpoint");
    out->jwks_uri = dup_str(ar, j, "jwks_uri");
    if (!nova_oidc_url_ok(out->authorization_endpoint) || !nova_oidc_url_ok(out->token_endpoint) ||
        !nova_oidc_url_ok(out->jwks_uri)) {
        *why = "the discovery document lacks an https authorization_endpoint, token_endpoint "
               "or jwks_uri";
        goto end;
    }
    /* Optional endpoints: kept only when they are URLs of the same rule. */
    out->userinfo_endpoint = dup_str(ar, j, "userinfo_endpoint");
    if (!nova_oidc_url_ok(out->userinfo_endpoint))
        out->userinfo_endpoint = NULL;
    out->end_session_endpoint = dup_str(ar, j, "end_session_endpoint");
    if (!nova_oidc_url_ok(out->end_session_endpoint))
        out->end_session_endpoint = NULL;
    json_t *m = json_object_get(j, "code_challenge_methods_supported");
    out->s256 = m == NULL;
    if (m && !json_is_array(m)) {
        *why = "code_challenge_methods_supported is not an array";
        goto end;
    }
    size_t i;
    json_t *v;
    json_array_foreach(m, i, v) if (json_is_string(v) && strcmp(json_string_value(v), "S256") == 0)
        out->s256 = true;
    if (!out->s256) {
        *why = "the IdP does not offer PKCE with S256";
        goto end;
    }
    st = NOVA_OK;
end:
    json_decref(j);
    return st;
}

void nova_oidc_keyset_clear(nova_oidc_keyset_t *ks)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < ks->n; i++)
        nova_key_free(ks->keys[i]);
    free(ks->keys);
    ks->keys = NULL;
    ks->n = 0;
}

nova_status nova_oidc_jwks_parse(const char *text, size_t n, nova_oidc_keyset_t *out,
                                 const char **why)
{
    memset(out, 0, sizeof(*out));
    json_t *j = load_object(text, n);
    json_t *keys = j ? json_object_get(j, "keys") : NULL;
    if (!json_is_array(keys) || json_array_size(keys) > OIDC_MAX_KEYS) {
        json_decref(j);
        *why = "the JWKS is not {\"keys\":[...]} of at most 32 keys";
        return NOVA_INVALID;
    }
    out->keys = calloc(json_array_size(keys) + 1, sizeof(*out->keys));
    if (out->keys == NULL) {
        json_decref(j);
        return NOVA_NOMEM;
    }
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        /* A published private key, or a key of a type Nova does not verify with, is skipped. */
        if (!json_is_object(k) || json_object_get(k, "d"))
            continue;
        char *t = json_dumps(k, JSON_COMPACT);
        nova_key_t *key = NULL;
        if (t && nova_key_from_jwk(t, strlen(t), &key) == NOVA_OK)
            out->keys[out->n++] = key;
        free(t);
    }
    json_decref(j);
    return NOVA_OK;
}

const nova_key_t *nova_oidc_keyset_find(const nova_oidc_keyset_t *ks, const char *kid)
{
    if (ks == NULL)
        return NULL;
    if (kid == NULL || *kid == '\0')
        return ks->n == 1 && *nova_key_kid(ks->keys[0]) == '\0' ? ks->keys[0] : NULL;
    for (size_t i = 0; i < ks->n; i++)
        if (strcmp(nova_key_kid(ks->keys[i]), kid) == 0)
            return ks->keys[i];
    return NULL;
}

nova_status nova_oidc_token_response_parse(nova_arena_t *ar, const char *text, size_t n,
                                           const char **id_token, const char **why)
{
    const char *at = NULL;
    return nova_oidc_token_response_parse_at(ar, text, n, id_token, &at, why);
}

nova_status nova_oidc_token_response_parse_at(nova_arena_t *ar, const char *text, size_t n,
                                              const char **id_token, const char **access_token,
                                              const char **why)
{
    *id_token = NULL;
    *access_token = NULL;
    json_t *j = load_object(text, n);
    nova_status st = NOVA_INVALID;
    if (j == NULL) {
        *why = "the token response is not a JSON object";
        return NOVA_INVALID;
    }
    json_t *err = json_object_get(j, "error");
    if (err) {
        /* RFC 6749 §5.2: the IdP refused the code (its error code is a fixed vocabulary;
         * error_description is not repeated: it may echo what was sent). */
        *why = json_is_string(err) && strcmp(json_string_value(err), "invalid_grant") == 0
                   ? "the IdP refused the code (invalid_grant)"
                   : "the IdP refused the token request";
        st = NOVA_UNAUTHORIZED;
        goto end;
    }
    json_t *tt = json_object_get(j, "token_type");
    json_t *it = json_object_get(j, "id_token");
    if (!json_is_string(tt) || strcasecmp(json_string_value(tt), "Bearer") != 0) {
        *why = "the token response's token_type is not Bearer";
        goto end;
    }
    if (!json_is_string(it) || json_string_length(it) == 0 || json_string_length(it) > 16384) {
        *why = "the token response has no id_token";
        goto end;
    }
    *id_token = nova_arena_strdup(ar, json_string_value(it));
    st = *id_token ? NOVA_OK : NOVA_NOMEM;
    json_t *at = json_object_get(j, "access_token");
    if (st == NOVA_OK && json_is_string(at) && json_string_length(at) > 0 &&
        json_string_length(at) <= 8192 && (*access_token = dup_str(ar, j, "access_token")) == NULL)
        st = NOVA_NOMEM;
end:
    json_decref(j);
    return st;
}

static bool aud_has(json_t *aud, const char *client_id, size_t *count)
{
    *count = 0;
    if (json_is_string(aud)) {
        *count = 1;
        return strcmp(json_string_value(aud), client_id) == 0;
    }
    if (!json_is_array(aud))
        return false;
    bool found = false;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
    {
        if (!json_is_string(v))
            return false;
        (*count)++;
        if (strcmp(json_string_value(v), client_id) == 0)
            found = true;
    }
    return found;
}

static bool int_claim(json_t *c, const char *name, int64_t *out)
{
    json_t *v = json_object_get(c, name);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 1e15) {
        *out = (int64_t)json_real_value(v);
        return true;
    }
    return false;
}

/* The groups of group_claim (an array of strings, or one string) into out. */
static void read_groups(nova_arena_t *ar, json_t *c, const char *group_claim,
                        nova_oidc_identity_t *out)
{
    json_t *g = group_claim && *group_claim ? json_object_get(c, group_claim) : NULL;
    if (json_is_string(g) && json_string_length(g) > 0 && json_string_length(g) <= 256) {
        out->groups[out->ngroups++] = dup_str(ar, c, group_claim);
    } else if (json_is_array(g)) {
        size_t i;
        json_t *v;
        json_array_foreach(g, i, v)
        {
            if (out->ngroups == NOVA_OIDC_MAX_GROUPS)
                break;
            if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 256)
                out->groups[out->ngroups++] = nova_arena_strdup(ar, json_string_value(v));
        }
    }
}

nova_status nova_oidc_claims_check(nova_arena_t *ar, const char *payload, size_t n,
                                   const nova_oidc_expect_t *e, nova_oidc_identity_t *out,
                                   const char **why)
{
    memset(out, 0, sizeof(*out));
    json_t *c = load_object(payload, n);
    nova_status st = NOVA_UNAUTHORIZED;
    if (c == NULL) {
        *why = "the ID token's payload is not a JSON object";
        return NOVA_UNAUTHORIZED;
    }
    json_t *iss = json_object_get(c, "iss"), *sub = json_object_get(c, "sub");
    json_t *azp = json_object_get(c, "azp"), *nonce = json_object_get(c, "nonce");
    size_t naud = 0;
    int64_t exp = 0, iat = 0;
    if (!json_is_string(iss) || strcmp(json_string_value(iss), e->issuer) != 0)
        *why = "the ID token's iss is not the IdP's issuer";
    else if (!aud_has(json_object_get(c, "aud"), e->client_id, &naud))
        *why = "the ID token's aud does not name this client";
    else if (naud > 1 && azp == NULL)
        *why = "the ID token has several audiences and no azp";
    else if (azp && (!json_is_string(azp) || strcmp(json_string_value(azp), e->client_id) != 0))
        *why = "the ID token's azp is not this client";
    else if (!json_is_string(nonce) || e->nonce == NULL ||
             strcmp(json_string_value(nonce), e->nonce) != 0)
        *why = "the ID token's nonce is not the one this login sent";
    else if (!int_claim(c, "exp", &exp) || exp <= e->now - NOVA_OIDC_CLOCK_SKEW)
        *why = "the ID token has expired (exp)";
    else if (!int_claim(c, "iat", &iat) || iat > e->now + NOVA_OIDC_CLOCK_SKEW ||
             iat < e->now - NOVA_OIDC_MAX_AGE)
        *why = "the ID token's iat is missing, in the future or too old";
    else if (!json_is_string(sub) || json_string_length(sub) == 0 || json_string_length(sub) > 255)
        *why = "the ID token's sub is missing or longer than 255 bytes";
    else
        st = NOVA_OK;
    if (st != NOVA_OK)
        goto end;
    out->sub = dup_str(ar, c, "sub");
    json_t *em = json_object_get(c, "email");
    if (json_is_string(em) && json_string_length(em) > 0 && json_string_length(em) <= 254)
        out->email = dup_str(ar, c, "email");
    json_t *ev = json_object_get(c, "email_verified");
    /* Some IdPs send the string "true". */
    out->email_verified =
        json_is_true(ev) || (json_is_string(ev) && strcmp(json_string_value(ev), "true") == 0);
    json_t *sid = json_object_get(c, "sid");
    if (json_is_string(sid) && json_string_length(sid) > 0 && json_string_length(sid) <= 255 &&
        (out->sid = dup_str(ar, c, "sid")) == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    json_t *nm = json_object_get(c, "name");
    if (json_is_string(nm) && json_string_length(nm) > 0 && json_string_length(nm) <= 200)
        out->name = dup_str(ar, c, "name");
    read_groups(ar, c, e->group_claim, out);
    /* OIDC Core §2: acr a string, amr an array of strings (RFC 8176's registry or others). */
    json_t *acr = json_object_get(c, "acr");
    bool want_acr =
        json_is_string(acr) && json_string_length(acr) > 0 && json_string_length(acr) <= 256;
    if (want_acr)
        out->acr = dup_str(ar, c, "acr");
    json_t *amr = json_object_get(c, "amr");
    size_t ai;
    json_t *av;
    json_array_foreach(amr, ai, av)
    {
        if (out->namr == NOVA_OIDC_MAX_AMR)
            break;
        if (json_is_string(av) && json_string_length(av) > 0 && json_string_length(av) <= 64) {
            if ((out->amr[out->namr] = nova_arena_strdup(ar, json_string_value(av))) == NULL) {
                st = NOVA_NOMEM;
                goto end;
            }
            out->namr++;
        }
    }
    if (out->sub == NULL || (want_acr && out->acr == NULL)) {
        st = NOVA_NOMEM;
        goto end;
    }
    for (size_t i = 0; i < out->ngroups; i++)
        if (out->groups[i] == NULL) {
            st = NOVA_NOMEM;
            goto end;
        }
end:
    json_decref(c);
    return st;
}

/* A string claim of 1..255 bytes into *out (arena); absent: *out NULL, true. */
static bool short_claim(nova_arena_t *ar, json_t *c, const char *name, const char **out)
{
    json_t *v = json_object_get(c, name);
    *out = NULL;
    if (v == NULL)
        return true;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 255)
        return false;
    *out = dup_str(ar, c, name);
    return *out != NULL;
}

nova_status nova_oidc_logout_claims_check(nova_arena_t *ar, const char *payload, size_t n,
                                          const nova_oidc_expect_t *e, nova_oidc_logout_t *out,
                                          const char **why)
{
    memset(out, 0, sizeof(*out));
    json_t *c = load_object(payload, n);
    if (c == NULL) {
        *why = "the logout token's payload is not a JSON object";
        return NOVA_UNAUTHORIZED;
    }
    json_t *iss = json_object_get(c, "iss"), *azp = json_object_get(c, "azp");
    json_t *events = json_object_get(c, "events");
    size_t naud = 0;
    bool has_exp = json_object_get(c, "exp") != NULL;
    const char *jti = NULL;
    *why = NULL;
    if (!json_is_string(iss) || strcmp(json_string_value(iss), e->issuer) != 0)
        *why = "the logout token's iss is not the IdP's issuer";
    else if (!aud_has(json_object_get(c, "aud"), e->client_id, &naud))
        *why = "the logout token's aud does not name this client";
    else if (azp && (!json_is_string(azp) || strcmp(json_string_value(azp), e->client_id) != 0))
        *why = "the logout token's azp is not this client";
    else if (!int_claim(c, "iat", &out->iat) || out->iat > e->now + NOVA_OIDC_CLOCK_SKEW ||
             out->iat < e->now - NOVA_OIDC_MAX_AGE)
        *why = "the logout token's iat is missing, in the future or too old";
    else if (has_exp &&
             (!int_claim(c, "exp", &out->exp) || out->exp <= e->now - NOVA_OIDC_CLOCK_SKEW))
        *why = "the logout token has expired (exp)";
    else if (!short_claim(ar, c, "jti", &jti) || jti == NULL)
        *why = "the logout token's jti is missing or longer than 255 bytes";
    else if (!json_is_object(events) ||
             !json_is_object(json_object_get(events, NOVA_OIDC_BCL_EVENT)))
        *why = "the logout token's events claim does not hold "
               "http://schemas.openid.net/event/backchannel-logout";
    else if (json_object_get(c, "nonce") != NULL)
        *why = "the logout token carries a nonce (an ID token is not a logout token)";
    else if (!short_claim(ar, c, "sub", &out->sub) || !short_claim(ar, c, "sid", &out->sid))
        *why = "the logout token's sub or sid is not a string of 1..255 bytes";
    else if (out->sub == NULL && out->sid == NULL)
        *why = "the logout token names neither a sub nor a sid";
    out->jti = jti;
    json_decref(c);
    if (*why) {
        memset(out, 0, sizeof(*out));
        return NOVA_UNAUTHORIZED;
    }
    return NOVA_OK;
}

int nova_oidc_aal(const nova_oidc_identity_t *who, const char *const *mfa_acr, size_t nmfa_acr)
{
    /* RFC 8176 §2: mfa (several factors), otp, hwk and swk (proof of possession of a key). */
    static const char *const strong[] = {"mfa", "otp", "hwk", "swk"};
    for (size_t i = 0; i < who->namr; i++)
        for (size_t k = 0; k < sizeof(strong) / sizeof(strong[0]); k++)
            if (strcmp(who->amr[i], strong[k]) == 0)
                return 2;
    for (size_t i = 0; who->acr && i < nmfa_acr; i++)
        if (mfa_acr[i] && strcmp(who->acr, mfa_acr[i]) == 0)
            return 2;
    return 1;
}

bool nova_oidc_addr_public(const void *sockaddr)
{
    const struct sockaddr *sa = sockaddr;
    char text[INET6_ADDRSTRLEN];
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof(in));
        if (inet_ntop(AF_INET, &in.sin_addr, text, sizeof(text)) == NULL)
            return false;
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof(in6));
        if (inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof(text)) == NULL)
            return false;
    } else {
        return false;
    }
    /* One classifier for every outbound fetch Nova makes on a tenant's word. */
    return nova_webhook_address_public(text);
}

nova_status nova_oidc_userinfo_merge(nova_arena_t *ar, const char *text, size_t n,
                                     const char *group_claim, nova_oidc_identity_t *who,
                                     const char **why)
{
    json_t *u = load_object(text, n);
    if (u == NULL) {
        *why = "the IdP's userinfo response is not a JSON object";
        return NOVA_INVALID;
    }
    nova_status st = NOVA_OK;
    json_t *sub = json_object_get(u, "sub");
    if (!json_is_string(sub) || who->sub == NULL || strcmp(json_string_value(sub), who->sub) != 0) {
        /* §5.3.4: a response for another subject may be a substitution attack. */
        *why = "the IdP's userinfo sub is not the ID token's";
        st = NOVA_UNAUTHORIZED;
        goto end;
    }
    json_t *em = json_object_get(u, "email");
    if (who->email == NULL && json_is_string(em) && json_string_length(em) > 0 &&
        json_string_length(em) <= 254) {
        json_t *ev = json_object_get(u, "email_verified");
        who->email = dup_str(ar, u, "email");
        who->email_verified =
            json_is_true(ev) || (json_is_string(ev) && strcmp(json_string_value(ev), "true") == 0);
        if (who->email == NULL)
            st = NOVA_NOMEM;
    }
    json_t *nm = json_object_get(u, "name");
    if (st == NOVA_OK && who->name == NULL && json_is_string(nm) && json_string_length(nm) > 0 &&
        json_string_length(nm) <= 200 && (who->name = dup_str(ar, u, "name")) == NULL)
        st = NOVA_NOMEM;
    if (st == NOVA_OK && who->ngroups == 0) {
        read_groups(ar, u, group_claim, who);
        for (size_t i = 0; i < who->ngroups; i++)
            if (who->groups[i] == NULL)
                st = NOVA_NOMEM;
    }
end:
    json_decref(u);
    return st;
}

nova_status nova_oidc_userinfo_jwt_claims_check(const char *payload, size_t n, const char *issuer,
                                                const char *client_id, const char **why)
{
    json_error_t err;
    json_t *c = json_loadb(payload, n, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(c)) {
        json_decref(c);
        *why = "the IdP's signed userinfo response does not hold a JSON object";
        return NOVA_INVALID;
    }
    const char *iss = json_string_value(json_object_get(c, "iss"));
    json_t *aud = json_object_get(c, "aud");
    bool aud_ok = json_is_string(aud) && strcmp(json_string_value(aud), client_id) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) aud_ok =
        aud_ok || (json_is_string(v) && strcmp(json_string_value(v), client_id) == 0);
    bool iss_ok = iss && strcmp(iss, issuer) == 0;
    json_decref(c);
    if (iss_ok && aud_ok)
        return NOVA_OK;
    *why = !iss_ok ? "the IdP's signed userinfo response names another iss"
                   : "the IdP's signed userinfo response is not for this client (aud)";
    return NOVA_INVALID;
}
