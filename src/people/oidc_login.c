/* oidc_login.c: the OIDC login (nova/oidc.h): authorization code with PKCE (S256), state and
 * nonce kept in the control plane (single use), discovery and the IdP's JWKS fetched with
 * libcurl and cached per process, the token exchange, the ID token verified (signature with
 * src/crypto's JWS, claims with nova_oidc_claims_check), claims it lacks asked of userinfo,
 * then federation.c's end of a login (people_fed_login: the user found by (issuer, sub) or
 * provisioned just in time, groups mapped to roles, a session opened at the AAL acr/amr give)
 * and the ID token kept for RP-initiated logout. people_http_fetch, the IdP fetch of OIDC and
 * SAML, lives here.
 *
 * I/O: the fetches block the request thread (5 s connect, 10 s in all, 256 KiB at most,
 * http/https only, no redirects followed, proxies of the environment ignored, TLS verified by
 * libcurl's defaults). For an https issuer every fetch is refused before it connects to an
 * address that is not public (nova_oidc_addr_public; libcurl's open-socket callback sees the
 * very address it connects to, so DNS rebinding gains nothing) unless NOVA_OIDC_ALLOW_PRIVATE. They
 * happen at sign-in, never on the per-request path, and the cache keeps them rare: discovery for an
 * hour, the JWKS for ten minutes, re-fetched at once when an ID token names a kid the cached
 * set lacks (a key rotation at the IdP), at most once per 30 s for the same unknown kid.
 *
 * Nothing about tokens, codes, the state or the nonce reaches a log line or an audit entry. */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"
#include "nova/log.h"
#include "nova/oidc.h"

#define DISC_TTL 3600
#define JWKS_TTL 600
#define MISS_REFETCH 30
#define STATE_PREFIX "oidc:st:"
#define SESSION_PREFIX "oidc:ses:" /* a federated session's IdP and ID token, for its logout */
#define BCL_JTI_PREFIX "oidc:bcl:" /* a logout token's jti, seen: single use */

/* ---- HTTP (libcurl) ---- */

typedef struct fetch_buf {
    nova_buf_t *b;
    bool too_large;
} fetch_buf;

static size_t fetch_write(char *data, size_t size, size_t n, void *ud)
{
    fetch_buf *f = ud;
    size_t len = size * n;
    if (f->b->len + len > NOVA_OIDC_DOC_MAX) {
        f->too_large = true;
        return 0;
    }
    return nova_buf_append(f->b, data, len) == NOVA_OK ? len : 0;
}

static atomic_bool private_allowed;

void nova_oidc_allow_private(bool allow)
{
    atomic_store(&private_allowed, allow);
}

typedef struct guard {
    bool on;
    bool refused;
} guard_t;

/* libcurl asks for each socket it is about to connect with the resolved address in hand. */
static curl_socket_t guard_open(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    guard_t *g = ud;
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    if (g->on && !nova_oidc_addr_public(&a->addr)) {
        g->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Performs the transfer on c (cleaned up here) with the header list hdr (the caller's). */
static nova_status curl_run(CURL *c, const char *url, const char *form, const char *user,
                            const char *pass, bool error_ok, struct curl_slist *hdr, fetch_buf *fb,
                            guard_t *g)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, fb);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "nova-federation/1");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, guard_open);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, g);
    if (form) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
        if (user) {
            curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
            curl_easy_setopt(c, CURLOPT_USERNAME, user);
            curl_easy_setopt(c, CURLOPT_PASSWORD, pass);
        }
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    /* A name with a public and a refused address may still have connected to the public one:
     * the refusal decides only a transfer that failed. */
    if (rc != CURLE_OK && g->refused)
        return NOVA_FORBIDDEN;
    if (rc != CURLE_OK || fb->too_large)
        return NOVA_UNAVAILABLE;
    if ((status >= 200 && status < 300) || (error_ok && (status == 400 || status == 401)))
        return NOVA_OK;
    return NOVA_UNAVAILABLE;
}

/* internal.h: the IdP fetches of OIDC and SAML. */
nova_status people_http_fetch(const char *url, const char *accept, const char *form,
                              const char *user, const char *pass, const char *bearer, bool error_ok,
                              bool guarded, nova_buf_t *out)
{
    guard_t g = {.on = guarded && !atomic_load(&private_allowed)};
    if (g.on && strncmp(url, "https://", 8) != 0)
        return NOVA_FORBIDDEN;
    pthread_once(&curl_once, curl_init);
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NOVA_NOMEM;
    fetch_buf fb = {.b = out};
    char ah[128];
    snprintf(ah, sizeof(ah), "Accept: %s", accept ? accept : "application/json");
    struct curl_slist *hdr = curl_slist_append(NULL, ah);
    char *auth = NULL;
    if (bearer && asprintf(&auth, "Authorization: Bearer %s", bearer) > 0) {
        struct curl_slist *h2 = curl_slist_append(hdr, auth);
        hdr = h2 ? h2 : hdr;
    }
    if (auth) {
        OPENSSL_cleanse(auth, strlen(auth));
        free(auth);
    }
    nova_status st = curl_run(c, url, form, user, pass, error_ok, hdr, &fb, &g);
    /* The header list may hold an access token: wiped before it is freed. */
    for (struct curl_slist *h = hdr; h; h = h->next)
        OPENSSL_cleanse(h->data, strlen(h->data));
    curl_slist_free_all(hdr);
    return st;
}

bool people_http_guarded(const char *url)
{
    return strncmp(url, "https://", 8) == 0;
}

/* RFC 6749 §2.3.1: client_secret_basic encodes id and secret as form components first. */
static char *escape(CURL *c, const char *s)
{
    return curl_easy_escape(c, s, 0);
}

/* ---- the per-issuer cache ---- */

typedef struct oidc_keys {
    atomic_int refs;
    nova_oidc_keyset_t ks;
} oidc_keys_t;

typedef struct oidc_cache {
    char *issuer;
    char *authz, *token, *jwks_uri;
    char *userinfo, *end_session; /* NULL: the IdP has none */
    int64_t disc_at;
    oidc_keys_t *keys;
    int64_t keys_at;
    char miss_kid[128];
    int64_t miss_at;
    struct oidc_cache *next;
} oidc_cache_t;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static oidc_cache_t *cache_head;

static void keys_release(oidc_keys_t *k)
{
    if (k && atomic_fetch_sub(&k->refs, 1) == 1) {
        nova_oidc_keyset_clear(&k->ks);
        free(k);
    }
}

/* The entry of issuer (made when absent). Under cache_mu. */
static oidc_cache_t *cache_entry(const char *issuer)
{
    for (oidc_cache_t *e = cache_head; e; e = e->next)
        if (strcmp(e->issuer, issuer) == 0)
            return e;
    oidc_cache_t *e = calloc(1, sizeof(*e));
    if (e == NULL || (e->issuer = strdup(issuer)) == NULL) {
        free(e);
        return NULL;
    }
    e->next = cache_head;
    cache_head = e;
    return e;
}

/* Discovery for issuer into d (arena copies), fetched when not cached or stale. */
static nova_status discover(nova_arena_t *ar, const char *issuer, nova_oidc_discovery_t *d,
                            const char **why)
{
    int64_t now = nova_time_now();
    pthread_mutex_lock(&cache_mu);
    oidc_cache_t *e = cache_entry(issuer);
    if (e && e->authz && now - e->disc_at < DISC_TTL) {
        d->issuer = nova_arena_strdup(ar, issuer);
        d->authorization_endpoint = nova_arena_strdup(ar, e->authz);
        d->token_endpoint = nova_arena_strdup(ar, e->token);
        d->jwks_uri = nova_arena_strdup(ar, e->jwks_uri);
        d->userinfo_endpoint = e->userinfo ? nova_arena_strdup(ar, e->userinfo) : NULL;
        d->end_session_endpoint = e->end_session ? nova_arena_strdup(ar, e->end_session) : NULL;
        d->s256 = true;
        pthread_mutex_unlock(&cache_mu);
        return d->jwks_uri ? NOVA_OK : NOVA_NOMEM;
    }
    pthread_mutex_unlock(&cache_mu);
    if (e == NULL)
        return NOVA_NOMEM;
    /* OpenID Connect Discovery §4: the issuer with /.well-known/openid-configuration
     * appended (a trailing slash of the issuer is not doubled). */
    size_t il = strlen(issuer);
    const char *url = nova_arena_printf(ar, "%.*s/.well-known/openid-configuration",
                                        (int)(il && issuer[il - 1] == '/' ? il - 1 : il), issuer);
    nova_buf_t b;
    nova_buf_init(&b);
    nova_status st = url ? people_http_fetch(url, NULL, NULL, NULL, NULL, NULL, false,
                                             people_http_guarded(issuer), &b)
                         : NOVA_NOMEM;
    if (st == NOVA_FORBIDDEN) {
        *why = PEOPLE_HTTP_PRIVATE_WHY;
        st = NOVA_UNAVAILABLE;
    } else if (st == NOVA_UNAVAILABLE) {
        *why = "the IdP's discovery document could not be fetched";
    }
    if (st == NOVA_OK)
        st = nova_oidc_discovery_parse(ar, (const char *)b.data, b.len, issuer, d, why);
    nova_buf_free(&b);
    if (st)
        return st;
    pthread_mutex_lock(&cache_mu);
    char *a = strdup(d->authorization_endpoint), *t = strdup(d->token_endpoint),
         *j = strdup(d->jwks_uri);
    char *u = d->userinfo_endpoint ? strdup(d->userinfo_endpoint) : NULL;
    char *x = d->end_session_endpoint ? strdup(d->end_session_endpoint) : NULL;
    if (a && t && j && (u || !d->userinfo_endpoint) && (x || !d->end_session_endpoint)) {
        free(e->authz), free(e->token), free(e->jwks_uri), free(e->userinfo), free(e->end_session);
        e->authz = a, e->token = t, e->jwks_uri = j, e->userinfo = u, e->end_session = x;
        e->disc_at = now;
    } else {
        free(a), free(t), free(j), free(u), free(x);
    }
    pthread_mutex_unlock(&cache_mu);
    return NOVA_OK;
}

/* The IdP's keys (a reference: keys_release it). force: fetch even when cached. */
static nova_status jwks_get(const char *issuer, const char *jwks_uri, bool force, oidc_keys_t **out,
                            const char **why)
{
    int64_t now = nova_time_now();
    *out = NULL;
    pthread_mutex_lock(&cache_mu);
    oidc_cache_t *e = cache_entry(issuer);
    if (e && e->keys && !force && now - e->keys_at < JWKS_TTL) {
        atomic_fetch_add(&e->keys->refs, 1);
        *out = e->keys;
    }
    pthread_mutex_unlock(&cache_mu);
    if (*out)
        return NOVA_OK;
    if (e == NULL)
        return NOVA_NOMEM;
    nova_buf_t b;
    nova_buf_init(&b);
    nova_status st = people_http_fetch(jwks_uri, NULL, NULL, NULL, NULL, NULL, false,
                                       people_http_guarded(issuer), &b);
    oidc_keys_t *k = NULL;
    if (st == NOVA_FORBIDDEN) {
        *why = PEOPLE_HTTP_PRIVATE_WHY;
        st = NOVA_UNAVAILABLE;
    } else if (st == NOVA_UNAVAILABLE) {
        *why = "the IdP's JWKS could not be fetched";
    }
    if (st == NOVA_OK && (k = calloc(1, sizeof(*k))) == NULL)
        st = NOVA_NOMEM;
    if (st == NOVA_OK)
        st = nova_oidc_jwks_parse((const char *)b.data, b.len, &k->ks, why);
    nova_buf_free(&b);
    if (st) {
        if (k)
            nova_oidc_keyset_clear(&k->ks);
        free(k);
        return st;
    }
    atomic_init(&k->refs, 2); /* the cache's and the caller's */
    pthread_mutex_lock(&cache_mu);
    oidc_keys_t *old = e->keys;
    e->keys = k;
    e->keys_at = now;
    pthread_mutex_unlock(&cache_mu);
    keys_release(old);
    *out = k;
    return NOVA_OK;
}

/* Whether an unknown kid may make us fetch the JWKS again now (not the same kid within
 * MISS_REFETCH seconds); records the attempt. */
static bool miss_allows_refetch(const char *issuer, const char *kid)
{
    int64_t now = nova_time_now();
    bool ok = true;
    pthread_mutex_lock(&cache_mu);
    oidc_cache_t *e = cache_entry(issuer);
    if (e == NULL) {
        ok = false;
    } else if (strcmp(e->miss_kid, kid) == 0 && now - e->miss_at < MISS_REFETCH) {
        ok = false;
    } else {
        snprintf(e->miss_kid, sizeof(e->miss_kid), "%s", kid);
        e->miss_at = now;
    }
    pthread_mutex_unlock(&cache_mu);
    return ok;
}

/* ---- counters ---- */

static _Atomic uint64_t oidc_logins;
static _Atomic uint64_t oidc_failures[NOVA_OIDC_FAIL_N];
static const char *const fail_names[NOVA_OIDC_FAIL_N] = {
    "none",           "unknown_idp", "state",     "idp_error",    "discovery",
    "token_exchange", "jwks",        "signature", "claims",       "provisioning",
    "suspended",      "mfa_policy",  "userinfo",  "logout_token", "frontchannel"};

const char *nova_oidc_fail_name(nova_oidc_fail f)
{
    return (unsigned)f < NOVA_OIDC_FAIL_N ? fail_names[f] : "other";
}

void nova_oidc_count(nova_oidc_fail f)
{
    if (f == NOVA_OIDC_FAIL_NONE)
        atomic_fetch_add_explicit(&oidc_logins, 1, memory_order_relaxed);
    else if ((unsigned)f < NOVA_OIDC_FAIL_N)
        atomic_fetch_add_explicit(&oidc_failures[f], 1, memory_order_relaxed);
}

nova_status people_oidc_failure_lines(nova_buf_t *out)
{
    return people_fed_failure_lines(out, "oidc", fail_names, oidc_failures, NOVA_OIDC_FAIL_N);
}

nova_status nova_oidc_metrics(nova_buf_t *out)
{
    return nova_buf_printf(
        out,
        "# HELP nova_people_federation_logins_total Sessions opened through a federated "
        "identity provider.\n"
        "# TYPE nova_people_federation_logins_total counter\n"
        "nova_people_federation_logins_total{protocol=\"oidc\"} %llu\n",
        (unsigned long long)atomic_load_explicit(&oidc_logins, memory_order_relaxed));
}

/* ---- the login ---- */

static nova_status fail_with(nova_oidc_fail *fail, nova_oidc_fail f, const char **why,
                             const char *text)
{
    *fail = f;
    if (text)
        *why = text;
    return NOVA_OK;
}

/* discover, a failure of the IdP's (unreachable, invalid) as NOVA_OIDC_FAIL_DISCOVERY. */
static nova_status discover_or_fail(nova_arena_t *ar, const char *issuer, nova_oidc_discovery_t *d,
                                    nova_oidc_fail *fail, const char **why)
{
    nova_status st = discover(ar, issuer, d, why);
    if (st == NOVA_INVALID || st == NOVA_UNAVAILABLE)
        return fail_with(fail, NOVA_OIDC_FAIL_DISCOVERY, why, NULL);
    return st;
}

/* The JWS algorithms an IdP's tokens may use beyond the strict defaults: RS256 (most IdPs
 * sign with it: Entra ID, Google, Okta's default), PS256 where the tenant listed it; the
 * IdP's own list then decides. */
static unsigned jws_flags(const nova_oidc_idp_t *idp)
{
    return NOVA_JWS_ALLOW_RS256 |
           (idp->id_token_algs & (1u << NOVA_JWS_PS256) ? NOVA_JWS_ALLOW_PS256 : 0);
}

static nova_status random_b64(char *out, size_t nbytes)
{
    uint8_t raw[32];
    if (nbytes > sizeof(raw) || nova_random_bytes(raw, nbytes) != NOVA_OK)
        return NOVA_INTERNAL;
    nova_b64url_encode(raw, nbytes, out);
    return NOVA_OK;
}

nova_status nova_oidc_login_begin(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const char *tenant_id, const char *idp_id,
                                  const char *redirect_uri, const char **location,
                                  nova_oidc_fail *fail, const char **why)
{
    *fail = NOVA_OIDC_FAIL_NONE;
    *location = NULL;
    nova_oidc_idp_t idp;
    nova_status st = nova_oidc_idp_get(s, ar, tenant_id, idp_id, &idp);
    if (st == NOVA_NOT_FOUND || (st == NOVA_OK && !idp.enabled))
        return fail_with(fail, NOVA_OIDC_FAIL_UNKNOWN_IDP, why,
                         "this tenant has no enabled IdP of this id");
    if (st)
        return st;
    const char *ru = idp.redirect_uris[0];
    if (redirect_uri) {
        ru = NULL;
        for (size_t i = 0; i < idp.nredirect && !ru; i++)
            if (strcmp(idp.redirect_uris[i], redirect_uri) == 0)
                ru = idp.redirect_uris[i];
        if (ru == NULL)
            return fail_with(fail, NOVA_OIDC_FAIL_UNKNOWN_IDP, why,
                             "redirect_uri: not one of the IdP's redirect_uris");
    }
    nova_oidc_discovery_t d;
    st = discover_or_fail(ar, idp.issuer, &d, fail, why);
    if (st || *fail)
        return st;
    char state[48], nonce[48], verifier[48], challenge[48];
    uint8_t h[32];
    if ((st = random_b64(state, 32)) != NOVA_OK || (st = random_b64(nonce, 32)) != NOVA_OK ||
        (st = random_b64(verifier, 32)) != NOVA_OK)
        return st;
    nova_sha256(verifier, strlen(verifier), h);
    nova_b64url_encode(h, sizeof(h), challenge);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "t", tenant_id, "i", idp.id, "n",
                            nonce, "v", verifier, "r", ru, "iss", idp.issuer);
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    const char *key = nova_arena_printf(ar, STATE_PREFIX "%s", state);
    if (text == NULL || key == NULL) {
        free(text);
        return NOVA_NOMEM;
    }
    st = nova_kv_set(p->kv, key, text, strlen(text), (uint64_t)NOVA_OIDC_STATE_TTL * 1000);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    if (st)
        return st;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NOVA_NOMEM;
    char *e_client = escape(c, idp.client_id), *e_ru = escape(c, ru),
         *e_scope = escape(c, idp.scopes), *e_acr = escape(c, idp.acr_values);
    /* OIDC Core §3.1.2.1: acr_values, the Authentication Context Class References asked for
     * in order of preference (voluntary for the IdP: the AAL is judged on what comes back). */
    if (e_client && e_ru && e_scope && e_acr)
        *location = nova_arena_printf(
            ar,
            "%s%sresponse_type=code&client_id=%s&redirect_uri=%s&scope=%s&state=%s&nonce=%s"
            "&code_challenge=%s&code_challenge_method=S256%s%s",
            d.authorization_endpoint, strchr(d.authorization_endpoint, '?') ? "&" : "?", e_client,
            e_ru, e_scope, state, nonce, challenge, *idp.acr_values ? "&acr_values=" : "",
            *idp.acr_values ? e_acr : "");
    curl_free(e_acr);
    curl_free(e_client);
    curl_free(e_ru);
    curl_free(e_scope);
    curl_easy_cleanup(c);
    return *location ? NOVA_OK : NOVA_NOMEM;
}

typedef struct login_state {
    const char *tenant, *idp, *nonce, *verifier, *redirect_uri, *issuer;
} login_state;

static bool state_ok(const char *state)
{
    size_t n = state ? strlen(state) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((state[i] >= 'A' && state[i] <= 'Z') || (state[i] >= 'a' && state[i] <= 'z') ||
              (state[i] >= '0' && state[i] <= '9') || state[i] == '-' || state[i] == '_'))
            return false;
    return true;
}

static nova_status state_read(nova_people_t *p, nova_arena_t *ar, const char *state, bool take,
                              login_state *out)
{
    if (!state_ok(state))
        return NOVA_NOT_FOUND;
    const char *key = nova_arena_printf(ar, STATE_PREFIX "%s", state);
    char *val = NULL;
    size_t len = 0;
    if (key == NULL)
        return NOVA_NOMEM;
    nova_status st =
        take ? nova_kv_take(p->kv, key, ar, &val, &len) : nova_kv_get(p->kv, key, ar, &val, &len);
    if (st)
        return st;
    json_error_t err;
    json_t *j = json_loadb(val, len, 0, &err);
    OPENSSL_cleanse(val, len);
    if (j == NULL)
        return NOVA_NOT_FOUND;
    out->tenant = nova_arena_strdup(ar, json_string_value(json_object_get(j, "t")));
    out->idp = nova_arena_strdup(ar, json_string_value(json_object_get(j, "i")));
    out->nonce = nova_arena_strdup(ar, json_string_value(json_object_get(j, "n")));
    out->verifier = nova_arena_strdup(ar, json_string_value(json_object_get(j, "v")));
    out->redirect_uri = nova_arena_strdup(ar, json_string_value(json_object_get(j, "r")));
    out->issuer = nova_arena_strdup(ar, json_string_value(json_object_get(j, "iss")));
    json_decref(j);
    return out->tenant && out->idp && out->nonce && out->verifier && out->redirect_uri &&
                   out->issuer
               ? NOVA_OK
               : NOVA_NOMEM;
}

nova_status nova_oidc_state_tenant(nova_people_t *p, nova_arena_t *ar, const char *state,
                                   const char **tenant_id)
{
    login_state ls;
    nova_status st = state_read(p, ar, state, false, &ls);
    *tenant_id = st == NOVA_OK ? ls.tenant : NULL;
    return st;
}

/* The client's authentication by private_key_jwt (RFC 7523 §2.2, OIDC Core §9): a JWT
 * signed with the IdP's client key, iss = sub = client_id, aud the token endpoint, a fresh
 * jti, valid 60 s. *form_tail the form members that carry it (arena). */
static nova_status client_assertion(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_oidc_idp_row_t *row, const nova_oidc_idp_t *idp,
                                    const char *token_endpoint, const char **form_tail)
{
    *form_tail = NULL;
    json_error_t err;
    json_t *jwk = idp->client_jwk ? json_loads(idp->client_jwk, 0, &err) : NULL;
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    char jti[64];
    nova_key_t *k = NULL;
    nova_status st = kid ? nova_id_new("jti", jti, sizeof(jti)) : NOVA_INTERNAL;
    if (st == NOVA_OK)
        st = people_oidc_client_key(p, s, ar, row, kid, &k);
    int64_t now = nova_time_now();
    json_t *claims = st == NOVA_OK
                         ? json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", idp->client_id, "sub",
                                     idp->client_id, "aud", token_endpoint, "jti", jti, "iat",
                                     (json_int_t)now, "exp", (json_int_t)(now + 60))
                         : NULL;
    char *text = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
    json_decref(claims);
    json_decref(jwk);
    nova_buf_t jwt;
    nova_buf_init(&jwt);
    if (st == NOVA_OK && text == NULL)
        st = NOVA_NOMEM;
    if (st == NOVA_OK)
        st = nova_jws_sign(k, "JWT", text, strlen(text), &jwt);
    free(text);
    nova_key_free(k);
    if (st == NOVA_OK)
        *form_tail = nova_arena_printf(
            ar,
            "&client_assertion_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Aclient-assertion-type%%"
            "3Ajwt-bearer&client_assertion=%.*s",
            (int)jwt.len, (const char *)jwt.data);
    if (st == NOVA_OK && *form_tail == NULL)
        st = NOVA_NOMEM;
    nova_buf_free(&jwt);
    return st;
}

/* The token exchange (RFC 6749 §4.1.3 with RFC 7636's code_verifier); *id_token in ar. */
static nova_status exchange(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                            const nova_oidc_idp_row_t *row, const nova_oidc_idp_t *idp,
                            const nova_oidc_discovery_t *d, const login_state *ls, const char *code,
                            const char **id_token, const char **access_token, nova_oidc_fail *fail,
                            const char **why)
{
    const char *secret = NULL, *assertion = NULL;
    nova_status st = idp->private_key_jwt
                         ? client_assertion(p, s, ar, row, idp, d->token_endpoint, &assertion)
                         : people_oidc_secret(p, s, ar, row, &secret);
    if (st)
        return st;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NOVA_NOMEM;
    char *e_code = escape(c, code), *e_ru = escape(c, ls->redirect_uri),
         *e_client = escape(c, idp->client_id), *e_sec = secret ? escape(c, secret) : NULL;
    const char *form = NULL;
    if (e_code && e_ru && e_client && (secret == NULL || e_sec))
        form = nova_arena_printf(ar,
                                 "grant_type=authorization_code&code=%s&redirect_uri=%s"
                                 "&code_verifier=%s%s%s%s",
                                 e_code, e_ru, ls->verifier,
                                 secret ? "" : "&client_id=", secret ? "" : e_client,
                                 assertion ? assertion : "");
    nova_buf_t b;
    nova_buf_init(&b);
    st = form ? people_http_fetch(d->token_endpoint, NULL, form, secret ? e_client : NULL, e_sec,
                                  NULL, true, people_http_guarded(idp->issuer), &b)
              : NOVA_NOMEM;
    curl_free(e_code);
    curl_free(e_ru);
    curl_free(e_client);
    if (e_sec) {
        OPENSSL_cleanse(e_sec, strlen(e_sec));
        curl_free(e_sec);
    }
    curl_easy_cleanup(c);
    if (form)
        OPENSSL_cleanse((char *)form, strlen(form));
    if (st == NOVA_FORBIDDEN || st == NOVA_UNAVAILABLE) {
        nova_buf_free(&b);
        return fail_with(fail, NOVA_OIDC_FAIL_TOKEN, why,
                         st == NOVA_FORBIDDEN ? PEOPLE_HTTP_PRIVATE_WHY
                                              : "the IdP's token endpoint failed");
    }
    if (st == NOVA_OK)
        st = nova_oidc_token_response_parse_at(ar, (const char *)b.data, b.len, id_token,
                                               access_token, why);
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    nova_buf_free(&b);
    if (st == NOVA_INVALID || st == NOVA_UNAUTHORIZED)
        return fail_with(fail, NOVA_OIDC_FAIL_TOKEN, why, NULL);
    return st;
}

/* The signature of a JWS the IdP signed (an ID token; a logout token, whose typ, when
 * present, must be logout_typ) with the IdP's keys (refetched once on an unknown kid);
 * *payload the verified payload (arena). */
static nova_status verify_jws(nova_arena_t *ar, const nova_oidc_idp_t *idp,
                              const nova_oidc_discovery_t *d, const char *id_token,
                              const char *logout_typ, const char **payload, size_t *plen,
                              nova_oidc_fail *fail, const char **why)
{
    nova_jws_t jws;
    if (nova_jws_parse_opts(id_token, strlen(id_token), jws_flags(idp), &jws) != NOVA_OK)
        return fail_with(fail, NOVA_OIDC_FAIL_SIGNATURE, why,
                         "the ID token is not a JWS signed with an algorithm this IdP is allowed "
                         "(id_token_signing_algs)");
    if (!(idp->id_token_algs & (1u << jws.alg))) {
        nova_jws_clear(&jws);
        return fail_with(fail, NOVA_OIDC_FAIL_SIGNATURE, why,
                         "the ID token's alg is not among this IdP's id_token_signing_algs");
    }
    /* Back-Channel Logout §2.4: a logout token may be typed explicitly; typed, it must be
     * one (so that no other JWT of the IdP passes as one). */
    if (logout_typ && jws.typ[0] && strcmp(jws.typ, logout_typ) != 0 &&
        strcmp(jws.typ, "JWT") != 0) {
        nova_jws_clear(&jws);
        return fail_with(fail, NOVA_OIDC_FAIL_LOGOUT_TOKEN, why,
                         "the logout token's typ is neither logout+jwt nor JWT");
    }
    oidc_keys_t *k = NULL;
    nova_status st = jwks_get(idp->issuer, d->jwks_uri, false, &k, why);
    const nova_key_t *key = st == NOVA_OK ? nova_oidc_keyset_find(&k->ks, jws.kid) : NULL;
    if (st == NOVA_OK && key == NULL && miss_allows_refetch(idp->issuer, jws.kid)) {
        /* A kid the cached set lacks: the IdP may have rotated its keys. */
        keys_release(k);
        k = NULL;
        st = jwks_get(idp->issuer, d->jwks_uri, true, &k, why);
        key = st == NOVA_OK ? nova_oidc_keyset_find(&k->ks, jws.kid) : NULL;
    }
    if (st == NOVA_INVALID || st == NOVA_UNAVAILABLE) {
        nova_jws_clear(&jws);
        return fail_with(fail, NOVA_OIDC_FAIL_JWKS, why, NULL);
    }
    if (st == NOVA_OK && key == NULL)
        fail_with(fail, NOVA_OIDC_FAIL_SIGNATURE, why,
                  "the ID token's kid is not among the IdP's keys");
    else if (st == NOVA_OK && nova_jws_verify(&jws, key) != NOVA_OK)
        fail_with(fail, NOVA_OIDC_FAIL_SIGNATURE, why, "the ID token's signature does not verify");
    else if (st == NOVA_OK) {
        *payload = nova_arena_strndup(ar, jws.payload, jws.payload_len);
        *plen = jws.payload_len;
        if (*payload == NULL)
            st = NOVA_NOMEM;
    }
    keys_release(k);
    nova_jws_clear(&jws);
    return st;
}

/* A signed UserInfo response (OIDC Core §5.3.2): a JWS of the IdP's keys and allowed
 * algorithms whose iss is the IdP and whose aud names this client (so another client's
 * response cannot pass as this one's); *out its payload (arena). An encrypted one (JWE, five
 * parts) is refused: Nova registers no encryption key. */
static nova_status userinfo_jwt(nova_arena_t *ar, const nova_oidc_idp_t *idp,
                                const nova_oidc_discovery_t *d, const char *jwt, size_t n,
                                const char **out, size_t *outlen, nova_oidc_fail *fail,
                                const char **why)
{
    size_t dots = 0;
    for (size_t i = 0; i < n; i++)
        dots += jwt[i] == '.';
    while (n && (jwt[n - 1] == ' ' || jwt[n - 1] == '\r' || jwt[n - 1] == '\n'))
        n--;
    if (dots != 2)
        return fail_with(fail, NOVA_OIDC_FAIL_USERINFO, why,
                         dots == 4 ? "the IdP's userinfo response is encrypted (JWE): not "
                                     "supported, register the client without "
                                     "userinfo_encrypted_response_alg"
                                   : "the IdP's userinfo response is neither JSON nor a JWS");
    const char *compact = nova_arena_strndup(ar, jwt, n);
    if (compact == NULL)
        return NOVA_NOMEM;
    const char *payload = NULL;
    size_t plen = 0;
    nova_status st = verify_jws(ar, idp, d, compact, NULL, &payload, &plen, fail, why);
    if (st || *fail != NOVA_OIDC_FAIL_NONE) {
        if (*fail == NOVA_OIDC_FAIL_SIGNATURE)
            *why = "the IdP's signed userinfo response does not verify with its keys and "
                   "allowed algorithms (id_token_signing_algs)";
        return st;
    }
    if (nova_oidc_userinfo_jwt_claims_check(payload, plen, idp->issuer, idp->client_id, why))
        return fail_with(fail, NOVA_OIDC_FAIL_USERINFO, why, NULL);
    *out = payload;
    *outlen = plen;
    return NOVA_OK;
}

/* The UserInfo endpoint (OIDC Core §5.3) with the access token, merged into who; the JSON
 * form or the signed one (application/jwt). */
static nova_status userinfo(nova_arena_t *ar, const nova_oidc_idp_t *idp,
                            const nova_oidc_discovery_t *d, const char *access_token,
                            nova_oidc_identity_t *who, nova_oidc_fail *fail, const char **why)
{
    nova_buf_t b;
    nova_buf_init(&b);
    nova_status st = people_http_fetch(d->userinfo_endpoint, NULL, NULL, NULL, NULL, access_token,
                                       false, people_http_guarded(idp->issuer), &b);
    if (st == NOVA_FORBIDDEN || st == NOVA_UNAVAILABLE) {
        nova_buf_free(&b);
        return fail_with(fail, NOVA_OIDC_FAIL_USERINFO, why,
                         st == NOVA_FORBIDDEN ? PEOPLE_HTTP_PRIVATE_WHY
                                              : "the IdP's userinfo endpoint could not be reached");
    }
    const char *text = (const char *)b.data;
    size_t n = b.len;
    if (st == NOVA_OK) {
        /* A signed response (application/jwt, OIDC Core §5.3.2: the client registered with
         * userinfo_signed_response_alg) is a compact JWS; the JSON form starts with '{'. */
        size_t i = 0;
        while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
            i++;
        if (i < n && text[i] != '{')
            st = userinfo_jwt(ar, idp, d, text + i, n - i, &text, &n, fail, why);
    }
    if (st == NOVA_OK && *fail == NOVA_OIDC_FAIL_NONE)
        st = nova_oidc_userinfo_merge(ar, text, n, idp->group_claim, who, why);
    if (text && text != (const char *)b.data)
        OPENSSL_cleanse((char *)text, n);
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    nova_buf_free(&b);
    if (*fail != NOVA_OIDC_FAIL_NONE)
        return st;
    if (st == NOVA_UNAUTHORIZED)
        return fail_with(fail, NOVA_OIDC_FAIL_CLAIMS, why, NULL);
    if (st == NOVA_INVALID)
        return fail_with(fail, NOVA_OIDC_FAIL_USERINFO, why, NULL);
    return st;
}

nova_status nova_oidc_login_complete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const char *state, const char *code,
                                     const nova_login_request_t *req, nova_login_result_t *out,
                                     const char **tenant_id, nova_oidc_fail *fail, const char **why)
{
    *fail = NOVA_OIDC_FAIL_NONE;
    *tenant_id = NULL;
    memset(out, 0, sizeof(*out));
    out->outcome = NOVA_LOGIN_BAD;
    login_state ls;
    nova_status st = state_read(p, ar, state, true, &ls);
    if (st == NOVA_NOT_FOUND)
        return fail_with(fail, NOVA_OIDC_FAIL_STATE, why,
                         "state: unknown, already used or expired (start the login again)");
    if (st)
        return st;
    *tenant_id = ls.tenant;
    if (code == NULL || *code == '\0' || strlen(code) > 2048)
        return fail_with(fail, NOVA_OIDC_FAIL_IDP_ERROR, why, "code: missing");
    nova_oidc_idp_row_t row;
    nova_oidc_idp_t idp;
    st = nova_store_oidc_idp_get(s, ar, ls.tenant, ls.idp, &row);
    if (st == NOVA_OK)
        st = nova_oidc_idp_get(s, ar, ls.tenant, ls.idp, &idp);
    /* The IdP was removed, disabled or re-pointed while the browser was away. */
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID ||
        (st == NOVA_OK && (!idp.enabled || strcmp(idp.issuer, ls.issuer) != 0)))
        return fail_with(fail, NOVA_OIDC_FAIL_UNKNOWN_IDP, why, "the IdP is no longer enabled");
    if (st)
        return st;
    nova_oidc_discovery_t d;
    st = discover_or_fail(ar, idp.issuer, &d, fail, why);
    if (st || *fail)
        return st;
    const char *id_token = NULL, *access_token = NULL, *payload = NULL;
    size_t plen = 0;
    st = exchange(p, s, ar, &row, &idp, &d, &ls, code, &id_token, &access_token, fail, why);
    if (st || *fail)
        return st;
    st = verify_jws(ar, &idp, &d, id_token, NULL, &payload, &plen, fail, why);
    if (st || *fail)
        return st;
    int64_t now = nova_time_now();
    nova_oidc_expect_t e = {.issuer = idp.issuer,
                            .client_id = idp.client_id,
                            .nonce = ls.nonce,
                            .group_claim = idp.group_claim,
                            .now = now};
    nova_oidc_identity_t who;
    st = nova_oidc_claims_check(ar, payload, plen, &e, &who, why);
    if (st == NOVA_UNAUTHORIZED)
        return fail_with(fail, NOVA_OIDC_FAIL_CLAIMS, why, NULL);
    if (st)
        return st;
    /* Claims Nova maps that the ID token left out (IdPs that keep the ID token small put them
     * at the userinfo endpoint): asked for there with the access token. */
    bool lacking = who.email == NULL || (idp.nmappings && who.ngroups == 0);
    if (lacking && d.userinfo_endpoint && access_token) {
        st = userinfo(ar, &idp, &d, access_token, &who, fail, why);
        if (st || *fail)
            return st;
    }
    int aal = nova_oidc_aal(&who, idp.mfa_acr, idp.nmfa_acr);
    if (req->mfa_required && aal < 2)
        return fail_with(fail, NOVA_OIDC_FAIL_POLICY, why,
                         "this tenant requires MFA for every user and the IdP asserted no second "
                         "factor (amr mfa, otp, hwk or swk, or one of the IdP's mfa_acr_values); "
                         "sign in with a passkey, or a password and TOTP");
    const char *roles =
        idp.nmappings ? nova_oidc_roles_for(ar, &idp, who.groups, who.ngroups, now) : NULL;
    people_fed_subject_t w = {.proto = NOVA_FED_OIDC,
                              .tenant_id = idp.tenant_id,
                              .idp_id = idp.id,
                              .idp_name = idp.issuer,
                              .sub = who.sub,
                              .email = who.email,
                              .email_verified = who.email_verified,
                              .name = who.name,
                              .roles = roles,
                              .aal = aal,
                              .sid = who.sid};
    people_fed_result res = PEOPLE_FED_OK;
    st = people_fed_login(p, s, ar, &w, req, out, &res, why);
    if (st == NOVA_OK && res == PEOPLE_FED_PROVISIONING)
        *fail = NOVA_OIDC_FAIL_PROVISIONING;
    else if (st == NOVA_OK && res == PEOPLE_FED_SUSPENDED)
        *fail = NOVA_OIDC_FAIL_SUSPENDED;
    else if (st == NOVA_OK && res == PEOPLE_FED_UNKNOWN_IDP)
        *fail = NOVA_OIDC_FAIL_UNKNOWN_IDP;
    if (st || res)
        return st;
    /* What RP-initiated logout needs (id_token_hint), for as long as the session may live. A
     * failure here costs the IdP-side logout only, never the sign-in. */
    int64_t ttl = out->session.expires_at - nova_time_now();
    json_t *rec = json_pack("{s:s, s:s}", "i", idp.id, "t", id_token);
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    const char *key =
        out->session.id ? nova_arena_printf(ar, SESSION_PREFIX "%s", out->session.id) : NULL;
    if (text && key && ttl > 0 &&
        nova_kv_set(p->kv, key, text, strlen(text), (uint64_t)ttl * 1000) != NOVA_OK)
        nova_log_warn("oidc: the federated session's logout record could not be kept");
    if (text) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    return NOVA_OK;
}

static bool logout_state_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || strchr("._~-", s[i])))
            return false;
    return true;
}

nova_status nova_oidc_logout_url(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const char *tenant_id, const char *session_id,
                                 const char *post_logout_redirect_uri, const char *state,
                                 const char **url, const char **why)
{
    *url = NULL;
    if (state && !logout_state_ok(state)) {
        *why = "state: 1..128 characters of A-Z a-z 0-9 . _ ~ -";
        return NOVA_INVALID;
    }
    const char *key = nova_arena_printf(ar, SESSION_PREFIX "%s", session_id);
    char *val = NULL;
    size_t len = 0;
    if (key == NULL)
        return NOVA_NOMEM;
    nova_status st = nova_kv_get(p->kv, key, ar, &val, &len);
    if (st == NOVA_NOT_FOUND) {
        if (post_logout_redirect_uri) {
            *why = "post_logout_redirect_uri: this session was not opened through an IdP";
            return NOVA_INVALID;
        }
        return NOVA_OK;
    }
    if (st)
        return st;
    json_error_t err;
    json_t *j = json_loadb(val, len, 0, &err);
    OPENSSL_cleanse(val, len);
    const char *idp_id = nova_arena_strdup(ar, json_string_value(json_object_get(j, "i")));
    const char *id_token = nova_arena_strdup(ar, json_string_value(json_object_get(j, "t")));
    json_decref(j);
    if (idp_id == NULL || id_token == NULL)
        return NOVA_OK;
    nova_oidc_idp_t idp;
    st = nova_oidc_idp_get(s, ar, tenant_id, idp_id, &idp);
    if (st == NOVA_NOT_FOUND)
        return NOVA_OK; /* the IdP was deleted: only Nova's session ends */
    if (st)
        return st;
    const char *plru = idp.npost_logout ? idp.post_logout_redirect_uris[0] : NULL;
    if (post_logout_redirect_uri) {
        plru = NULL;
        for (size_t i = 0; i < idp.npost_logout && !plru; i++)
            if (strcmp(idp.post_logout_redirect_uris[i], post_logout_redirect_uri) == 0)
                plru = idp.post_logout_redirect_uris[i];
        if (plru == NULL) {
            *why = "post_logout_redirect_uri: not one of the IdP's post_logout_redirect_uris";
            return NOVA_INVALID;
        }
    }
    nova_oidc_discovery_t d;
    const char *dwhy = NULL;
    st = discover(ar, idp.issuer, &d, &dwhy);
    if (st == NOVA_INVALID || st == NOVA_UNAVAILABLE || (st == NOVA_OK && !d.end_session_endpoint))
        return NOVA_OK; /* the IdP offers no end-session endpoint (or cannot be asked now) */
    if (st)
        return st;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NOVA_NOMEM;
    char *e_client = escape(c, idp.client_id), *e_ru = plru ? escape(c, plru) : NULL;
    if (e_client && (plru == NULL || e_ru))
        *url = nova_arena_printf(ar, "%s%sid_token_hint=%s&client_id=%s%s%s%s%s",
                                 d.end_session_endpoint,
                                 strchr(d.end_session_endpoint, '?') ? "&" : "?", id_token,
                                 e_client, plru ? "&post_logout_redirect_uri=" : "",
                                 plru ? e_ru : "", state ? "&state=" : "", state ? state : "");
    curl_free(e_client);
    curl_free(e_ru);
    curl_easy_cleanup(c);
    return *url ? NOVA_OK : NOVA_NOMEM;
}

void nova_oidc_logout_forget(nova_people_t *p, nova_arena_t *ar, const char *session_id)
{
    const char *key = nova_arena_printf(ar, SESSION_PREFIX "%s", session_id);
    if (key)
        (void)nova_kv_del(p->kv, key);
}

/* ---- OpenID Connect Back-Channel Logout 1.0 ---- */

static nova_status logout_sessions(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                   const nova_oidc_idp_t *idp, const nova_oidc_logout_t *lo,
                                   int64_t now, size_t *revoked);

nova_status nova_oidc_backchannel_logout(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                         const char *tenant_id, const char *idp_id,
                                         const char *logout_token, size_t *revoked,
                                         nova_oidc_fail *fail, const char **why)
{
    *fail = NOVA_OIDC_FAIL_NONE;
    *revoked = 0;
    nova_oidc_idp_t idp;
    /* A disabled IdP still ends its sessions: a logout only ever takes access away. */
    nova_status st = nova_oidc_idp_get(s, ar, tenant_id, idp_id, &idp);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID)
        return fail_with(fail, NOVA_OIDC_FAIL_UNKNOWN_IDP, why,
                         "this tenant has no IdP of this id");
    if (st)
        return st;
    size_t n = logout_token ? strlen(logout_token) : 0;
    if (n == 0 || n > NOVA_OIDC_LOGOUT_TOKEN_MAX)
        return fail_with(fail, NOVA_OIDC_FAIL_LOGOUT_TOKEN, why,
                         "logout_token: required, a JWS of at most 16 KiB");
    /* Its shape before anything is fetched from the IdP: garbage costs no round trip. */
    nova_jws_t probe;
    if (nova_jws_parse_opts(logout_token, n, jws_flags(&idp), &probe) != NOVA_OK)
        return fail_with(fail, NOVA_OIDC_FAIL_LOGOUT_TOKEN, why,
                         "logout_token: not a JWS signed with an algorithm this IdP is allowed");
    nova_jws_clear(&probe);
    nova_oidc_discovery_t d;
    st = discover_or_fail(ar, idp.issuer, &d, fail, why);
    if (st || *fail)
        return st;
    const char *payload = NULL;
    size_t plen = 0;
    st = verify_jws(ar, &idp, &d, logout_token, "logout+jwt", &payload, &plen, fail, why);
    if (st || *fail)
        return st;
    int64_t now = nova_time_now();
    nova_oidc_expect_t e = {.issuer = idp.issuer, .client_id = idp.client_id, .now = now};
    nova_oidc_logout_t lo;
    st = nova_oidc_logout_claims_check(ar, payload, plen, &e, &lo, why);
    if (st == NOVA_UNAUTHORIZED)
        return fail_with(fail, NOVA_OIDC_FAIL_LOGOUT_TOKEN, why, NULL);
    if (st)
        return st;
    /* The jti once (§2.6 step 7), kept as long as the token could be accepted; a digest,
     * as the jti is the IdP's text. */
    uint8_t h[32];
    char hx[65];
    const char *jk = nova_arena_printf(ar, "%s|%s|%s", tenant_id, idp.id, lo.jti);
    if (jk == NULL)
        return NOVA_NOMEM;
    nova_sha256(jk, strlen(jk), h);
    nova_hex_encode(h, sizeof(h), hx);
    const char *key = nova_arena_printf(ar, BCL_JTI_PREFIX "%s", hx);
    int64_t until = lo.iat + NOVA_OIDC_MAX_AGE;
    if (lo.exp > until)
        until = lo.exp;
    int64_t ttl = until - now + NOVA_OIDC_CLOCK_SKEW;
    ttl = ttl < 60 ? 60 : ttl > 86400 ? 86400 : ttl;
    if (key == NULL)
        return NOVA_NOMEM;
    st = nova_kv_set_nx(p->kv, key, "1", 1, (uint64_t)ttl * 1000);
    if (st == NOVA_CONFLICT)
        return fail_with(fail, NOVA_OIDC_FAIL_LOGOUT_TOKEN, why,
                         "this logout token was presented before (jti replay)");
    if (st)
        return st;
    st = logout_sessions(p, s, ar, &idp, &lo, now, revoked);
    if (st)
        (void)nova_kv_del(p->kv, key); /* not done: the IdP's retry must not be a replay */
    return st;
}

/* The sessions a verified logout token names, ended. */
static nova_status logout_sessions(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                   const nova_oidc_idp_t *idp, const nova_oidc_logout_t *lo,
                                   int64_t now, size_t *revoked)
{
    const char *tenant_id = idp->tenant_id;
    nova_status st;
    /* The sessions it names: of the subject's user when sub is given (no user linked: none),
     * of the IdP's session when sid is given, both when both are. */
    const char *user = NULL;
    if (lo->sub) {
        st = nova_store_oidc_link_get(s, ar, tenant_id, idp->issuer, lo->sub, &user);
        if (st == NOVA_NOT_FOUND)
            return NOVA_OK;
        if (st)
            return st;
    }
    const char **ids = NULL;
    size_t nids = 0;
    st = people_fed_logout_sessions(p, s, ar, NOVA_FED_OIDC, tenant_id, idp->id, lo->sid, user,
                                    "session.backchannel_logout", now, &ids, &nids);
    if (st)
        return st;
    for (size_t i = 0; i < nids; i++)
        nova_oidc_logout_forget(p, ar, ids[i]);
    *revoked = nids;
    return NOVA_OK;
}

/* ---- OpenID Connect Front-Channel Logout 1.0 ---- */

nova_status nova_oidc_frontchannel_logout(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                          const char *tenant_id, const char *idp_id,
                                          const char *iss, const char *sid, size_t *revoked,
                                          nova_oidc_fail *fail, const char **why)
{
    *fail = NOVA_OIDC_FAIL_NONE;
    *revoked = 0;
    /* The request's shape first: without both there is nothing to look up. */
    if (iss == NULL || sid == NULL || !people_printable(sid, 255))
        return fail_with(fail, NOVA_OIDC_FAIL_FRONTCHANNEL, why,
                         "iss and sid: required (the IdP's issuer, and its session id of "
                         "1..255 printable bytes)");
    nova_oidc_idp_t idp;
    nova_status st = nova_oidc_idp_get(s, ar, tenant_id, idp_id, &idp);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID)
        return fail_with(fail, NOVA_OIDC_FAIL_UNKNOWN_IDP, why,
                         "this tenant has no IdP of this id");
    if (st)
        return st;
    if (strcmp(iss, idp.issuer) != 0)
        return fail_with(fail, NOVA_OIDC_FAIL_FRONTCHANNEL, why, "iss: not the issuer of this IdP");
    const char **ids = NULL;
    size_t n = 0;
    st = people_fed_logout_sessions(p, s, ar, NOVA_FED_OIDC, tenant_id, idp.id, sid, NULL,
                                    "session.frontchannel_logout", nova_time_now(), &ids, &n);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++)
        nova_oidc_logout_forget(p, ar, ids[i]);
    *revoked = n;
    return NOVA_OK;
}
