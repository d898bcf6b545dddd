/*
 * jws.c: JWS compact serialization (RFC 7515 §7.1), signing and strict parsing. Only the
 * algorithms of the allow-list exist here; the header alg must match the key, so a token can
 * never choose how it is verified.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto_internal.h"

#define JWS_TOKEN_MAX 16384 /* whole compact token */
#define JWS_HEADER_MAX 1024 /* encoded protected header; ours are under 200 */

/* Header members we refuse: crit names extensions we do not implement (RFC 7515 §4.1.11), the
 * others would let the token pick its own verification key. */
static const char *const jws_forbidden[] = {"crit", "jwk", "jku", "x5u", "x5c"};

const char *nova_jws_alg_name(nova_jws_alg alg)
{
    switch (alg) {
    case NOVA_JWS_EDDSA:
        return "EdDSA";
    case NOVA_JWS_ES256:
        return "ES256";
    case NOVA_JWS_RS256:
        return "RS256";
    case NOVA_JWS_PS256:
        return "PS256";
    }
    return "";
}

nova_status nova_jws_alg_parse(const char *name, nova_jws_alg *out)
{
    if (name == NULL)
        return NOVA_INVALID;
    if (strcmp(name, "EdDSA") == 0)
        *out = NOVA_JWS_EDDSA;
    else if (strcmp(name, "ES256") == 0)
        *out = NOVA_JWS_ES256;
    else
        return NOVA_INVALID;
    return NOVA_OK;
}

/* Appends the base64url of data to out. */
static nova_status append_b64(nova_buf_t *out, const void *data, size_t n)
{
    size_t enc = nova_b64url_encoded_len(n);
    nova_status st = nova_buf_reserve(out, enc);
    if (st != NOVA_OK)
        return st;
    out->len += nova_b64url_encode(data, n, out->data + out->len);
    return NOVA_OK;
}

static nova_status append_json_member(nova_buf_t *b, const char *name, const char *value)
{
    nova_status st;
    if ((st = nova_buf_printf(b, ",\"%s\":\"", name)) != NOVA_OK ||
        (st = nova_buf_append_json_escaped(b, value, strlen(value))) != NOVA_OK)
        return st;
    return nova_buf_append(b, "\"", 1);
}

nova_status nova_jws_sign(const nova_key_t *k, const char *typ, const void *payload, size_t n,
                          nova_buf_t *out)
{
    nova_status st;
    nova_buf_t hdr;
    size_t start = out->len;
    uint8_t sig[NOVA_CRYPTO_SIG_LEN];

    nova_buf_init(&hdr);
    if (payload == NULL && n != 0)
        return NOVA_INVALID;
    /* Nova signs with its own EdDSA and ES256 keys only (RS256 is for verifying IdPs). */
    if (k == NULL || !k->has_private || k->alg == NOVA_JWS_RS256 || k->alg == NOVA_JWS_PS256)
        return NOVA_INVALID;
    /* Refuse to make what nova_jws_parse would refuse to read. */
    if (typ != NULL && strlen(typ) >= sizeof(((nova_jws_t *)0)->typ))
        return NOVA_INVALID;
    /* Far beyond any token, and keeps the base64url arithmetic away from overflow. */
    if (n > JWS_TOKEN_MAX * (size_t)1024)
        return NOVA_TOO_LARGE;
    /* Members in a fixed order and no kid when there is none: with the deterministic Ed25519,
     * the same key and payload always give the same token (RFC 8037 A.4 is a test). */
    if ((st = nova_buf_printf(&hdr, "{\"alg\":\"%s\"", nova_jws_alg_name(k->alg))) != NOVA_OK)
        goto end;
    if (k->kid[0] != '\0' && (st = append_json_member(&hdr, "kid", k->kid)) != NOVA_OK)
        goto end;
    if (typ != NULL && (st = append_json_member(&hdr, "typ", typ)) != NOVA_OK)
        goto end;
    if ((st = nova_buf_append(&hdr, "}", 1)) != NOVA_OK)
        goto end;

    if ((st = append_b64(out, hdr.data, hdr.len)) != NOVA_OK ||
        (st = nova_buf_append(out, ".", 1)) != NOVA_OK ||
        (st = append_b64(out, payload, n)) != NOVA_OK)
        goto end;
    if ((st = nova_crypto_sign_raw(k, out->data + start, out->len - start, sig)) != NOVA_OK)
        goto end;
    if ((st = nova_buf_append(out, ".", 1)) != NOVA_OK ||
        (st = append_b64(out, sig, sizeof(sig))) != NOVA_OK)
        goto end;

end:
    nova_buf_free(&hdr);
    if (st != NOVA_OK && out->data != NULL) {
        out->len = start;
        out->data[start] = '\0';
    }
    return st;
}

/* Optional string header member copied into dst (cap bytes with the NUL). */
static nova_status header_copy_str(json_t *hdr, const char *name, char *dst, size_t cap)
{
    json_t *v = json_object_get(hdr, name);
    if (v == NULL)
        return NOVA_OK;
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return NOVA_INVALID;
    /* jansson refuses \u0000 unless asked, so the length is the C string length. */
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return NOVA_OK;
}

static nova_status parse_header(const char *b64, size_t n, unsigned flags, nova_jws_t *jws)
{
    nova_status st = NOVA_INVALID;
    uint8_t raw[(JWS_HEADER_MAX / 4) * 3 + 3];
    size_t len = 0;
    json_t *hdr = NULL;
    json_error_t err;

    if (n == 0 || n > JWS_HEADER_MAX)
        return NOVA_INVALID;
    if (nova_b64url_decode(b64, n, raw, &len) != NOVA_OK)
        return NOVA_INVALID;
    if ((hdr = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, &err)) == NULL)
        return NOVA_INVALID;
    if (!json_is_object(hdr))
        goto end;
    for (size_t i = 0; i < sizeof(jws_forbidden) / sizeof(jws_forbidden[0]); i++) {
        json_t *v = json_object_get(hdr, jws_forbidden[i]);
        if (v == NULL)
            continue;
        if (!(flags & NOVA_JWS_ALLOW_JWK) || strcmp(jws_forbidden[i], "jwk") != 0 ||
            !json_is_object(v))
            goto end;
        if ((jws->jwk = json_dumps(v, JSON_COMPACT)) == NULL)
            goto end;
    }
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    if ((flags & NOVA_JWS_ALLOW_RS256) && alg && strcmp(alg, "RS256") == 0)
        jws->alg = NOVA_JWS_RS256;
    else if ((flags & NOVA_JWS_ALLOW_PS256) && alg && strcmp(alg, "PS256") == 0)
        jws->alg = NOVA_JWS_PS256;
    else if (nova_jws_alg_parse(alg, &jws->alg) != NOVA_OK)
        goto end;
    if (header_copy_str(hdr, "kid", jws->kid, sizeof(jws->kid)) != NOVA_OK ||
        header_copy_str(hdr, "typ", jws->typ, sizeof(jws->typ)) != NOVA_OK)
        goto end;
    st = NOVA_OK;

end:
    json_decref(hdr);
    return st;
}

nova_status nova_jws_parse(const char *token, size_t n, nova_jws_t *jws)
{
    return nova_jws_parse_opts(token, n, 0, jws);
}

nova_status nova_jws_parse_opts(const char *token, size_t n, unsigned flags, nova_jws_t *jws)
{
    nova_status st;
    const char *dot1, *dot2, *sig;
    size_t hlen, plen, slen, len = 0;

    memset(jws, 0, sizeof(*jws));
    if (token == NULL || n == 0)
        return NOVA_INVALID;
    if (n > JWS_TOKEN_MAX)
        return NOVA_TOO_LARGE;
    /* Exactly three parts: two dots, no third (which would be JWE or garbage). */
    if ((dot1 = memchr(token, '.', n)) == NULL)
        return NOVA_INVALID;
    if ((dot2 = memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - token))) == NULL)
        return NOVA_INVALID;
    sig = dot2 + 1;
    slen = n - (size_t)(sig - token);
    if (memchr(sig, '.', slen) != NULL)
        return NOVA_INVALID;
    hlen = (size_t)(dot1 - token);
    plen = (size_t)(dot2 - dot1 - 1);

    if ((st = parse_header(token, hlen, flags, jws)) != NOVA_OK)
        goto fail;
    /* EdDSA and ES256 make 64-byte signatures: 86 base64url characters, no more, no less;
     * RS256 and PS256 the modulus size, 256 to 512 bytes. */
    st = NOVA_INVALID;
    bool rsa = jws->alg == NOVA_JWS_RS256 || jws->alg == NOVA_JWS_PS256;
    if (rsa ? slen < nova_b64url_encoded_len(NOVA_CRYPTO_RSA_MIN) ||
                  slen > nova_b64url_encoded_len(NOVA_CRYPTO_RSA_MAX)
            : slen != nova_b64url_encoded_len(NOVA_CRYPTO_SIG_LEN))
        goto fail;
    if (nova_b64url_decode(sig, slen, jws->sig, &jws->sig_len) != NOVA_OK ||
        (rsa ? jws->sig_len < NOVA_CRYPTO_RSA_MIN || jws->sig_len > NOVA_CRYPTO_RSA_MAX
             : jws->sig_len != NOVA_CRYPTO_SIG_LEN))
        goto fail;
    if ((jws->payload = malloc(nova_b64url_decoded_max(plen) + 1)) == NULL) {
        st = NOVA_NOMEM;
        goto fail;
    }
    if (nova_b64url_decode(dot1 + 1, plen, (uint8_t *)jws->payload, &len) != NOVA_OK)
        goto fail;
    jws->payload[len] = '\0';
    jws->payload_len = len;
    jws->signing_input_len = (size_t)(dot2 - token);
    jws->token = token;
    return NOVA_OK;

fail:
    free(jws->payload);
    free(jws->jwk);
    memset(jws, 0, sizeof(*jws));
    return st;
}

nova_status nova_jws_verify(const nova_jws_t *jws, const nova_key_t *k)
{
    if (jws == NULL || k == NULL || jws->token == NULL)
        return NOVA_INVALID;
    /* Algorithm confusion: the key decides the algorithm, the header only has to agree. */
    if (jws->alg != k->alg)
        return NOVA_UNAUTHORIZED;
    return nova_crypto_verify_raw(k, jws->token, jws->signing_input_len, jws->sig, jws->sig_len);
}

void nova_jws_clear(nova_jws_t *jws)
{
    if (jws == NULL)
        return;
    free(jws->payload);
    free(jws->jwk);
    memset(jws, 0, sizeof(*jws));
}
