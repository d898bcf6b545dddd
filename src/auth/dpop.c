/*
 * dpop.c: DPoP proofs (RFC 9449). A proof is a JWS with typ "dpop+jwt" carrying its own public
 * key in the "jwk" header; its claims bind it to one request (htm, htu), one moment (iat), one
 * use (jti, remembered in the control plane) and, on resource requests, one access token (ath).
 * The key's thumbprint (jkt) is what an access token is bound to (cnf.jkt).
 *
 * Server nonces (§8) are stateless: base64url(window || HMAC(key, window)[0..15]) where window
 * is the current 5-minute slot; the current and the previous slot are accepted, so every
 * instance sharing the master key agrees without a round trip.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "nova/json.h"
#include "nova/kv.h"

#define PROOF_MAX 4096
#define IAT_PAST 120  /* seconds a proof stays acceptable */
#define IAT_FUTURE 60 /* clock skew the other way */
#define NONCE_SLOT 300

/* Parsed proof keys by SHA-256 of their jwk text. A client signs every proof with one key,
 * and turning a JWK into an OpenSSL key (and its thumbprint) costs more than the signature
 * check itself (measured: most of a DPoP request's CPU was key import), so the last few
 * hundred keys are kept. Direct-mapped; an entry in use survives its eviction until released
 * (refs), since keys are shared by the worker threads. */
#define DPOP_KEY_SLOTS 256

typedef struct dpop_key {
    uint8_t digest[32];
    nova_key_t *key;
    char jkt[44];
    unsigned refs;
    bool evicted;
} dpop_key;

struct dpop_keys {
    pthread_mutex_t lock;
    dpop_key *slot[DPOP_KEY_SLOTS];
};

nova_status auth_dpop_init(nova_auth_t *a)
{
    nova_hkdf_sha256(a->master_key, sizeof(a->master_key), "nova dpop nonce v1", a->nonce_key,
                     sizeof(a->nonce_key));
    a->dpop_keys = calloc(1, sizeof(*a->dpop_keys));
    if (a->dpop_keys == NULL)
        return NOVA_NOMEM;
    pthread_mutex_init(&a->dpop_keys->lock, NULL);
    return NOVA_OK;
}

static void key_unref_locked(dpop_key *k)
{
    if (--k->refs == 0 && k->evicted) {
        nova_key_free(k->key);
        free(k);
    }
}

void auth_dpop_free(nova_auth_t *a)
{
    struct dpop_keys *c = a->dpop_keys;
    if (c == NULL)
        return;
    for (size_t i = 0; i < DPOP_KEY_SLOTS; i++)
        if (c->slot[i]) {
            nova_key_free(c->slot[i]->key);
            free(c->slot[i]);
        }
    pthread_mutex_destroy(&c->lock);
    free(c);
    a->dpop_keys = NULL;
}

/* The parsed public key of a proof's jwk (held: release with key_release), or NULL with
 * *why when it is no public EdDSA or ES256 key. */
static dpop_key *key_get(nova_auth_t *a, const char *jwk, const char **why)
{
    struct dpop_keys *c = a->dpop_keys;
    uint8_t d[32];
    nova_sha256(jwk, strlen(jwk), d);
    size_t i = d[0];
    pthread_mutex_lock(&c->lock);
    dpop_key *k = c->slot[i];
    if (k && memcmp(k->digest, d, 32) == 0) {
        k->refs++;
        pthread_mutex_unlock(&c->lock);
        return k;
    }
    pthread_mutex_unlock(&c->lock);

    nova_key_t *key = NULL;
    if (nova_key_from_jwk(jwk, strlen(jwk), &key) != NOVA_OK) {
        *why = "the proof's jwk is not a supported public key";
        return NULL;
    }
    if (nova_key_has_private(key)) {
        *why = "the proof's jwk holds a private key";
        nova_key_free(key);
        return NULL;
    }
    k = calloc(1, sizeof(*k));
    if (k == NULL || nova_key_thumbprint(key, k->jkt) != NOVA_OK) {
        *why = "out of memory";
        nova_key_free(key);
        free(k);
        return NULL;
    }
    memcpy(k->digest, d, 32);
    k->key = key;
    k->refs = 2; /* the cache's and the caller's */
    pthread_mutex_lock(&c->lock);
    dpop_key *old = c->slot[i];
    c->slot[i] = k;
    if (old) {
        old->evicted = true;
        key_unref_locked(old);
    }
    pthread_mutex_unlock(&c->lock);
    return k;
}

static void key_release(nova_auth_t *a, dpop_key *k)
{
    if (k == NULL)
        return;
    pthread_mutex_lock(&a->dpop_keys->lock);
    key_unref_locked(k);
    pthread_mutex_unlock(&a->dpop_keys->lock);
}

static void nonce_for(const nova_auth_t *a, int64_t slot, char out[NOVA_DPOP_NONCE_LEN])
{
    uint8_t raw[8 + 16], mac[32];
    for (int i = 0; i < 8; i++)
        raw[i] = (uint8_t)((uint64_t)slot >> (56 - 8 * i));
    nova_hmac_sha256(a->nonce_key, sizeof(a->nonce_key), raw, 8, mac);
    memcpy(raw + 8, mac, 16);
    nova_b64url_encode(raw, sizeof(raw), out);
}

void nova_auth_dpop_nonce(nova_auth_t *a, char out[NOVA_DPOP_NONCE_LEN])
{
    nonce_for(a, nova_time_now() / NONCE_SLOT, out);
}

static bool nonce_ok(const nova_auth_t *a, const char *nonce)
{
    char want[NOVA_DPOP_NONCE_LEN];
    int64_t slot = nova_time_now() / NONCE_SLOT;
    if (nonce == NULL || strlen(nonce) != NOVA_DPOP_NONCE_LEN - 1)
        return false;
    for (int64_t s = slot; s >= slot - 1; s--) {
        nonce_for(a, s, want);
        if (memcmp(want, nonce, sizeof(want) - 1) == 0)
            return true; /* nonces are handed out freely: no secret to time */
    }
    return false;
}

/* scheme://host[:port]/path with scheme and host lower-cased, a default port dropped, query
 * and fragment cut (RFC 9449 §4.3 and RFC 3986 §6.2.2-6.2.3). False when it is no http(s) URL. */
static bool url_normalize(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    const char *p = in;
    bool https;
    if (strncasecmp(p, "https://", 8) == 0) {
        https = true;
        p += 8;
    } else if (strncasecmp(p, "http://", 7) == 0) {
        https = false;
        p += 7;
    } else {
        return false;
    }
    n = (size_t)snprintf(out, cap, "%s://", https ? "https" : "http");
    /* authority: host, or [IPv6], then an optional :port */
    const char *host = p, *name_end, *colon = NULL;
    if (*p == '[') {
        while (*p && *p != ']')
            p++;
        if (*p != ']')
            return false;
        p++;
    } else {
        while (*p && *p != ':' && *p != '/' && *p != '?' && *p != '#')
            p++;
    }
    name_end = p;
    if (*p == ':')
        colon = p++;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p && *p != '/' && *p != '?' && *p != '#')
        return false;
    if (name_end == host || n + (size_t)(p - host) + 2 >= cap)
        return false;
    for (const char *q = host; q < name_end; q++) {
        unsigned char ch = (unsigned char)*q;
        if (ch <= 0x20 || ch >= 0x7f || ch == '@')
            return false;
        out[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    if (colon) {
        size_t portlen = (size_t)(p - colon - 1);
        bool dflt = (https && portlen == 3 && memcmp(colon + 1, "443", 3) == 0) ||
                    (!https && portlen == 2 && memcmp(colon + 1, "80", 2) == 0);
        if (portlen == 0 || portlen > 5)
            return false;
        if (!dflt) {
            memcpy(out + n, colon, portlen + 1);
            n += portlen + 1;
        }
    }
    size_t plen = strcspn(p, "?#");
    if (plen == 0) {
        out[n++] = '/';
    } else {
        if (n + plen + 1 > cap)
            return false;
        memcpy(out + n, p, plen);
        n += plen;
    }
    out[n] = '\0';
    return true;
}

static nova_status refuse(nova_dpop_result_t *out, const char *error, const char *why)
{
    out->error = error;
    out->why = why;
    return NOVA_UNAUTHORIZED;
}

nova_status nova_auth_dpop_verify(nova_auth_t *a, nova_kv_t *kv, const nova_dpop_check_t *c,
                                  nova_dpop_result_t *out)
{
    nova_jws_t jws;
    dpop_key *held = NULL;
    json_t *claims = NULL;
    nova_status st;
    char want[2048], got[2048];

    memset(out, 0, sizeof(*out));
    if (c->proof == NULL || *c->proof == '\0')
        return refuse(out, "invalid_dpop_proof", "a DPoP proof is required");
    size_t len = strlen(c->proof);
    if (len > PROOF_MAX || nova_jws_parse_opts(c->proof, len, NOVA_JWS_ALLOW_JWK, &jws) != NOVA_OK)
        return refuse(out, "invalid_dpop_proof", "malformed DPoP proof");
    st = refuse(out, "invalid_dpop_proof", "not a DPoP proof");
    if (strcmp(jws.typ, "dpop+jwt") != 0 || jws.jwk == NULL)
        goto end;
    if ((held = key_get(a, jws.jwk, &out->why)) == NULL)
        goto end;
    if (nova_jws_verify(&jws, held->key) != NOVA_OK) {
        out->why = "bad DPoP proof signature";
        goto end;
    }
    if (nova_json_parse_object(jws.payload, jws.payload_len, &claims, NULL, 0) != NOVA_OK) {
        out->why = "bad DPoP proof claims";
        goto end;
    }
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    const char *htm = json_string_value(json_object_get(claims, "htm"));
    const char *htu = json_string_value(json_object_get(claims, "htu"));
    json_t *iat = json_object_get(claims, "iat");
    if (!jti || !*jti || strlen(jti) > 256 || !htm || !htu || !json_is_integer(iat)) {
        out->why = "the proof needs jti, htm, htu and iat";
        goto end;
    }
    if (strcmp(htm, c->method) != 0) {
        out->why = "the proof is for another method";
        goto end;
    }
    if (!url_normalize(c->url, want, sizeof(want)) || !url_normalize(htu, got, sizeof(got)) ||
        strcmp(want, got) != 0) {
        out->why = "the proof is for another URL";
        goto end;
    }
    int64_t t = json_integer_value(iat), now = nova_time_now();
    if (!nova_time_in_range(t) || t < now - IAT_PAST || t > now + IAT_FUTURE) {
        out->why = "the proof's iat is outside the accepted window";
        goto end;
    }
    if (c->access_token) {
        uint8_t d[32];
        char ath[44];
        const char *sent = json_string_value(json_object_get(claims, "ath"));
        nova_sha256(c->access_token, strlen(c->access_token), d);
        nova_b64url_encode(d, sizeof(d), ath);
        if (sent == NULL || strcmp(sent, ath) != 0) {
            out->why = sent ? "the proof is for another access token" : "the proof needs ath";
            goto end;
        }
    }
    json_t *nonce = json_object_get(claims, "nonce");
    if ((c->nonce_required || nonce) && !nonce_ok(a, json_string_value(nonce))) {
        st =
            refuse(out, "use_dpop_nonce",
                   nonce ? "the DPoP nonce is stale" : "the authorization server requires a nonce");
        goto end;
    }
    memcpy(out->jkt, held->jkt, sizeof(out->jkt));
    /* One use per key and jti, for as long as the proof could be accepted. */
    char *rk = nova_arena_printf(c->arena, "dpop:%s:%s", out->jkt, jti);
    if (rk == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    st = nova_kv_set_nx(kv, rk, NULL, 0, (uint64_t)(IAT_PAST + IAT_FUTURE) * 1000);
    if (st == NOVA_CONFLICT) {
        st = refuse(out, "invalid_dpop_proof", "DPoP proof replayed");
        goto end;
    }
    if (st != NOVA_OK)
        goto end; /* the control plane is down: fail closed */
    out->error = out->why = NULL;
end:
    if (st != NOVA_OK)
        out->jkt[0] = '\0';
    json_decref(claims);
    key_release(a, held);
    nova_jws_clear(&jws);
    return st;
}
