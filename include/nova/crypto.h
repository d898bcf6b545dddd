/*
 * crypto.h: the cryptography Nova uses, on OpenSSL 3. JWS compact serialization with a strict
 * algorithm allow-list (EdDSA/Ed25519 per RFC 8037, ES256 per RFC 7518; RS256 for verifying
 * identity providers' ID tokens, only where a caller opts in), JWK export/import,
 * SHA-256, HMAC-SHA-256, HKDF, AES-256-GCM, and the keyed digest used for client secrets.
 */
#ifndef NOVA_CRYPTO_H
#define NOVA_CRYPTO_H

#include "nova/base.h"

typedef enum nova_jws_alg {
    NOVA_JWS_EDDSA = 1, /* "EdDSA" with Ed25519 */
    NOVA_JWS_ES256 = 2, /* "ES256": ECDSA P-256 SHA-256, signature R||S (64 bytes) */
    NOVA_JWS_RS256 = 3, /* "RS256": RSASSA-PKCS1-v1_5 SHA-256 (RFC 7518 §3.3), 2048 to 4096
                           bits; verification only, and parsed only with NOVA_JWS_ALLOW_RS256
                           (an IdP's ID token): Nova never signs with it */
    NOVA_JWS_PS256 = 4, /* "PS256": RSASSA-PSS SHA-256, MGF1 SHA-256, salt of 32 bytes (RFC
                           7518 §3.5); as RS256, verification only, parsed only with
                           NOVA_JWS_ALLOW_PS256, from an RSA JWK whose alg is PS256 */
} nova_jws_alg;

/* "EdDSA" / "ES256" / "RS256" / "PS256". */
const char *nova_jws_alg_name(nova_jws_alg alg);
/* Parses an alg name Nova signs with; anything else (including "none", "HS256", and "RS256",
 * which only nova_jws_parse_opts with NOVA_JWS_ALLOW_RS256 reads) is NOVA_INVALID. */
nova_status nova_jws_alg_parse(const char *name, nova_jws_alg *out);

/* An asymmetric signing or verification key with its kid. Immutable once made, so it may be
 * shared between threads. Freed with nova_key_free (NULL-safe). */
typedef struct nova_key nova_key_t;

/* Generates a fresh private key for alg, labelled kid. */
nova_status nova_key_generate(nova_jws_alg alg, const char *kid, nova_key_t **out);
/* Private key <-> PKCS#8 DER (appended to out). Import checks the key type matches alg. */
nova_status nova_key_export_private(const nova_key_t *k, nova_buf_t *out);
nova_status nova_key_import_private(nova_jws_alg alg, const char *kid, const uint8_t *der, size_t n,
                                    nova_key_t **out);
/* Appends the public JWK as a JSON object: {"kty","crv","x"[,"y"],"kid","alg","use":"sig"}. */
nova_status nova_key_public_jwk(const nova_key_t *k, nova_buf_t *out);
/* Builds a key from a JWK JSON object (OKP/Ed25519 or EC/P-256; or RSA, public only, n of 2048
 * to 4096 bits). With "d" it is a private key, otherwise public only. kid comes from the JWK
 * (may be absent: ""). */
nova_status nova_key_from_jwk(const char *json, size_t n, nova_key_t **out);
/* RFC 7638 JWK thumbprint (SHA-256, base64url, 43 chars + NUL) of the public key: the value of
 * DPoP's `jkt` and `cnf.jkt` (RFC 9449). */
nova_status nova_key_thumbprint(const nova_key_t *k, char out[44]);
void nova_key_free(nova_key_t *k);
const char *nova_key_kid(const nova_key_t *k);
nova_jws_alg nova_key_alg(const nova_key_t *k);
bool nova_key_has_private(const nova_key_t *k);

/* Signs a compact JWS: header {"alg":..,"kid":..[,"typ":typ]} (typ may be NULL), payload as
 * given (usually JSON). Appends "h.p.s" to out. */
nova_status nova_jws_sign(const nova_key_t *k, const char *typ, const void *payload, size_t n,
                          nova_buf_t *out);

/* A parsed (not yet verified) compact JWS. Owns its memory; release with nova_jws_clear. */
typedef struct nova_jws {
    nova_jws_alg alg;
    char kid[128]; /* "" when absent */
    char typ[32];  /* "" when absent */
    char *payload; /* decoded payload, NUL-terminated */
    size_t payload_len;
    size_t signing_input_len; /* length of "header.payload" at the start of the token */
    uint8_t sig[512];         /* RS256 up to 4096-bit keys; 64 bytes for the others */
    size_t sig_len;
    const char *token; /* borrowed: the token passed to nova_jws_parse */
    char *jwk;         /* the "jwk" header member as JSON, with NOVA_JWS_ALLOW_JWK only */
} nova_jws_t;

/* nova_jws_parse_opts flags. ALLOW_JWK: accept a "jwk" header member (an object), returned in
 * jws->jwk: the one place a JWS carries its own key is a DPoP proof (RFC 9449 §4.2), whose
 * signature is checked against that key and whose thumbprint is what the server binds. */
#define NOVA_JWS_ALLOW_JWK 1u
/* ALLOW_RS256: accept alg RS256 (the common ID-token algorithm of identity providers). */
#define NOVA_JWS_ALLOW_RS256 2u
/* ALLOW_PS256: accept alg PS256 (RSA-PSS, FAPI profiles' ID-token algorithm). */
#define NOVA_JWS_ALLOW_PS256 4u

/* Parses a compact JWS strictly: exactly three base64url parts, header a JSON object without
 * duplicate keys, alg in the allow-list, no "crit", no "jku"/"jwk"/"x5u" header key
 * injection, bounded sizes. The token must outlive jws. On failure jws needs no clear. */
nova_status nova_jws_parse(const char *token, size_t n, nova_jws_t *jws);
nova_status nova_jws_parse_opts(const char *token, size_t n, unsigned flags, nova_jws_t *jws);
/* Verifies the signature with k; the header alg must equal the key's alg. */
nova_status nova_jws_verify(const nova_jws_t *jws, const nova_key_t *k);
void nova_jws_clear(nova_jws_t *jws);

void nova_sha256(const void *data, size_t n, uint8_t out[32]);
void nova_hmac_sha256(const uint8_t *key, size_t klen, const void *data, size_t n, uint8_t out[32]);
/* HKDF-SHA-256 (RFC 5869) with empty salt: derives outlen bytes for purpose info. */
nova_status nova_hkdf_sha256(const uint8_t *ikm, size_t ikmlen, const char *info, uint8_t *out,
                             size_t outlen);

/* AES-256-GCM. seal appends nonce(12) || ciphertext || tag(16) to out; open reverses it and
 * fails with NOVA_UNAUTHORIZED when the tag or aad do not match. */
nova_status nova_aead_seal(const uint8_t key[32], const void *aad, size_t aadlen, const void *pt,
                           size_t n, nova_buf_t *out);
nova_status nova_aead_open(const uint8_t key[32], const void *aad, size_t aadlen, const void *ct,
                           size_t n, nova_buf_t *out);

/* Keyed digest of a high-entropy secret: hex(HMAC-SHA-256(pepper, secret)), 64 chars + NUL.
 * verify recomputes and compares in constant time. */
void nova_secret_digest(const uint8_t pepper[32], const char *secret, size_t n, char out[65]);
bool nova_secret_verify(const uint8_t pepper[32], const char *secret, size_t n,
                        const char *stored_hex);

#endif
