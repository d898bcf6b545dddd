/* webauthn.c: WebAuthn Level 2 ceremony verification (§7.1 registration, §7.2
 * authentication), the relying party's half, in C: CBOR with libcbor, signatures with
 * OpenSSL 3. Pure: bytes in, results out. Bookworm has no C library for the relying party's
 * side (libfido2 is the client's), so the steps below are written out, each named after the
 * specification's step it implements.
 *
 * Accepted: attestation "none" and "packed" (self attestation, or x5c: the attestation
 * certificate's signature and §8.2.1 requirements; its chain is not checked against a
 * metadata service, so the result says "packed-x5c" and the RP decides what that is worth);
 * keys ES256 (EC2 P-256), EdDSA (OKP Ed25519) and RS256 (RSA 2048+). */
#include <cbor.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FLAG_UP 0x01
#define FLAG_UV 0x04
#define FLAG_AT 0x40
#define FLAG_ED 0x80

static nova_status bad(const char **why, const char *w)
{
    *why = w;
    return NOVA_UNAUTHORIZED;
}

/* ---- CBOR ----
 * Every CBOR item from outside is walked by cbor_bounded before libcbor builds it: libcbor
 * 0.8 allocates an array or map of the size its header declares before reading a single
 * element, so a 6-byte input declaring 1.6 billion elements asked for 13 GB (found by
 * webauthn_fuzz). The walk refuses a declared count larger than the bytes left could hold,
 * indefinite lengths (CTAP2's canonical CBOR has none), nesting over 16, and reserved
 * encodings; *used gets the item's length. */

static bool cbor_bounded(const uint8_t *d, size_t n, int depth, size_t *used)
{
    if (n == 0 || depth > 16)
        return false;
    uint8_t major = d[0] >> 5, info = d[0] & 31;
    size_t off = 1;
    uint64_t arg = info;
    if (info >= 24 && info <= 27) {
        size_t len = (size_t)1 << (info - 24);
        if (n < 1 + len)
            return false;
        arg = 0;
        for (size_t i = 0; i < len; i++)
            arg = (arg << 8) | d[1 + i];
        off += len;
    } else if (info > 27) {
        return false; /* reserved, or an indefinite length */
    }
    size_t left = n - off;
    switch (major) {
    case 0: /* unsigned */
    case 1: /* negative */
        break;
    case 2: /* byte string */
    case 3: /* text string */
        if (arg > left)
            return false;
        off += (size_t)arg;
        break;
    case 4: /* array */
    case 5: /* map */
        if (arg > left / (major == 5 ? 2 : 1))
            return false;
        for (uint64_t i = 0; i < arg * (major == 5 ? 2 : 1); i++) {
            size_t u;
            if (!cbor_bounded(d + off, n - off, depth + 1, &u))
                return false;
            off += u;
        }
        break;
    case 6: /* tag: not used by WebAuthn */
        return false;
    default: /* simple values and floats: false, true, null only */
        if (info != 20 && info != 21 && info != 22)
            return false;
        break;
    }
    *used = off;
    return true;
}

/* cbor_load of one bounded item at the start of d; *read its length. NULL when refused. */
static cbor_item_t *cbor_take(const uint8_t *d, size_t n, size_t *read)
{
    size_t used;
    struct cbor_load_result res;
    if (!cbor_bounded(d, n, 0, &used))
        return NULL;
    cbor_item_t *it = cbor_load(d, used, &res);
    if (it && (res.error.code != CBOR_ERR_NONE || res.read != used)) {
        cbor_decref(&it);
        return NULL;
    }
    *read = used;
    return it;
}

/* ---- CBOR helpers: a map looked up by an integer or a text key ---- */

static bool int_is(const cbor_item_t *k, int64_t want)
{
    if (cbor_isa_uint(k))
        return want >= 0 && cbor_get_int(k) == (uint64_t)want;
    if (cbor_isa_negint(k))
        return want < 0 && cbor_get_int(k) == (uint64_t)(-1 - want);
    return false;
}

static bool text_is(const cbor_item_t *k, const char *want)
{
    return cbor_isa_string(k) && cbor_string_is_definite(k) &&
           cbor_string_length(k) == strlen(want) &&
           memcmp(cbor_string_handle(k), want, strlen(want)) == 0;
}

/* The value under key (int when text is NULL), or NULL. Keys must be unique (CTAP2's
 * canonical form): a repeated key is refused by the caller through map_keys_unique. */
static cbor_item_t *map_get(const cbor_item_t *m, const char *text, int64_t num)
{
    if (!cbor_isa_map(m) || !cbor_map_is_definite(m))
        return NULL;
    struct cbor_pair *p = cbor_map_handle(m);
    for (size_t i = 0; i < cbor_map_size(m); i++)
        if (text ? text_is(p[i].key, text) : int_is(p[i].key, num))
            return p[i].value;
    return NULL;
}

static bool map_keys_unique(const cbor_item_t *m)
{
    if (!cbor_isa_map(m) || !cbor_map_is_definite(m))
        return false;
    struct cbor_pair *p = cbor_map_handle(m);
    size_t n = cbor_map_size(m);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            const cbor_item_t *a = p[i].key, *b = p[j].key;
            if (cbor_isa_string(a) && cbor_isa_string(b) && cbor_string_is_definite(a) &&
                cbor_string_is_definite(b) && cbor_string_length(a) == cbor_string_length(b) &&
                memcmp(cbor_string_handle(a), cbor_string_handle(b), cbor_string_length(a)) == 0)
                return false;
            if ((cbor_isa_uint(a) || cbor_isa_negint(a)) && cbor_typeof(a) == cbor_typeof(b) &&
                cbor_get_int(a) == cbor_get_int(b))
                return false;
        }
    return true;
}

static bool bytes_of(const cbor_item_t *v, const uint8_t **p, size_t *n)
{
    if (v == NULL || !cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v))
        return false;
    *p = cbor_bytestring_handle(v);
    *n = cbor_bytestring_length(v);
    return true;
}

static bool int_of(const cbor_item_t *v, int64_t *out)
{
    if (v && cbor_isa_uint(v) && cbor_get_int(v) <= INT32_MAX) {
        *out = (int64_t)cbor_get_int(v);
        return true;
    }
    if (v && cbor_isa_negint(v) && cbor_get_int(v) < INT32_MAX) {
        *out = -1 - (int64_t)cbor_get_int(v);
        return true;
    }
    return false;
}

/* ---- COSE keys (RFC 9053) ---- */

static EVP_PKEY *ec_key(const uint8_t *x, const uint8_t *y)
{
    uint8_t pt[65];
    pt[0] = 0x04;
    memcpy(pt + 1, x, 32);
    memcpy(pt + 33, y, 32);
    EVP_PKEY *k = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)),
        OSSL_PARAM_construct_end()};
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (c && EVP_PKEY_fromdata_init(c) == 1)
        (void)EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(c);
    return k;
}

static EVP_PKEY *rsa_key(const uint8_t *n, size_t nl, const uint8_t *e, size_t el)
{
    EVP_PKEY *k = NULL;
    BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL), *be = BN_bin2bn(e, (int)el, NULL);
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    if (bn && be && b && OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) == 1)
        params = OSSL_PARAM_BLD_to_param(b);
    EVP_PKEY_CTX *c = params ? EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL) : NULL;
    if (c && EVP_PKEY_fromdata_init(c) == 1)
        (void)EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(c);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    BN_free(bn);
    BN_free(be);
    return k;
}

/* Reads a COSE_Key map into an OpenSSL key; *alg its COSE algorithm. */
static nova_status cose_key(const cbor_item_t *m, EVP_PKEY **out, int *alg, const char **why)
{
    int64_t kty, a, crv = 0;
    const uint8_t *x, *y, *n, *e;
    size_t xl, yl, nl, el;
    *out = NULL;
    if (!map_keys_unique(m) || !int_of(map_get(m, NULL, 1), &kty) ||
        !int_of(map_get(m, NULL, 3), &a))
        return bad(why, "credential public key: not a COSE key with kty and alg");
    (void)int_of(map_get(m, NULL, -1), &crv);
    if (kty == 2 && a == NOVA_COSE_ES256) {
        if (crv != 1 || !bytes_of(map_get(m, NULL, -2), &x, &xl) ||
            !bytes_of(map_get(m, NULL, -3), &y, &yl) || xl != 32 || yl != 32)
            return bad(why, "credential public key: ES256 needs a P-256 point (crv 1, x, y)");
        *out = ec_key(x, y);
    } else if (kty == 1 && a == NOVA_COSE_EDDSA) {
        if (crv != 6 || !bytes_of(map_get(m, NULL, -2), &x, &xl) || xl != 32)
            return bad(why, "credential public key: EdDSA needs an Ed25519 key (crv 6, x)");
        *out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xl);
    } else if (kty == 3 && a == NOVA_COSE_RS256) {
        if (!bytes_of(map_get(m, NULL, -1), &n, &nl) || !bytes_of(map_get(m, NULL, -2), &e, &el) ||
            nl < 256 || nl > 512 || el == 0 || el > 8)
            return bad(why, "credential public key: RS256 needs n (2048 to 4096 bits) and e");
        *out = rsa_key(n, nl, e, el);
    } else {
        return bad(why, "credential public key: only ES256, EdDSA and RS256 are accepted");
    }
    if (*out == NULL)
        return bad(why, "credential public key: not a valid key");
    *alg = (int)a;
    return NOVA_OK;
}

/* Verifies sig over msg with key for the COSE alg (ES256 signatures are DER, as WebAuthn
 * sends them). */
static bool sig_ok(EVP_PKEY *key, int alg, const uint8_t *msg, size_t n, const uint8_t *sig,
                   size_t sl)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = false;
    const EVP_MD *md = alg == NOVA_COSE_EDDSA ? NULL : EVP_sha256();
    if (c && EVP_DigestVerifyInit(c, NULL, md, NULL, key) == 1)
        ok = EVP_DigestVerify(c, sig, sl, msg, n) == 1;
    EVP_MD_CTX_free(c);
    return ok;
}

/* ---- authenticator data (§6.1) ---- */

typedef struct authdata {
    const uint8_t *rp_hash;
    uint8_t flags;
    uint32_t count;
    const uint8_t *aaguid;
    const uint8_t *cred_id;
    size_t cred_id_len;
    const uint8_t *cose;
    size_t cose_len;
    cbor_item_t *key; /* the parsed COSE key (decref) */
} authdata_t;

static nova_status authdata_parse(const uint8_t *d, size_t n, bool want_at, authdata_t *a,
                                  const char **why)
{
    memset(a, 0, sizeof(*a));
    if (n < 37)
        return bad(why, "authenticator data: shorter than 37 bytes");
    a->rp_hash = d;
    a->flags = d[32];
    a->count = ((uint32_t)d[33] << 24) | ((uint32_t)d[34] << 16) | ((uint32_t)d[35] << 8) | d[36];
    size_t off = 37;
    if (want_at != ((a->flags & FLAG_AT) != 0))
        return bad(why, want_at ? "authenticator data: no attested credential data"
                                : "authenticator data: unexpected attested credential data");
    if (want_at) {
        if (n < off + 18)
            return bad(why, "authenticator data: attested credential data cut short");
        a->aaguid = d + off;
        a->cred_id_len = ((size_t)d[off + 16] << 8) | d[off + 17];
        off += 18;
        if (a->cred_id_len == 0 || a->cred_id_len > 1023 || n < off + a->cred_id_len + 1)
            return bad(why, "authenticator data: credential id length out of range");
        a->cred_id = d + off;
        off += a->cred_id_len;
        size_t read = 0;
        a->key = cbor_take(d + off, n - off, &read);
        if (a->key == NULL)
            return bad(why, "authenticator data: credential public key is not CBOR");
        a->cose = d + off;
        a->cose_len = read;
        off += read;
    }
    if (a->flags & FLAG_ED) {
        size_t read = 0;
        cbor_item_t *ext = cbor_take(d + off, n - off, &read);
        bool ok = ext && cbor_isa_map(ext);
        if (ext)
            cbor_decref(&ext);
        if (!ok)
            return bad(why, "authenticator data: extensions are not a CBOR map");
        off += read;
    }
    if (off != n)
        return bad(why, "authenticator data: trailing bytes");
    return NOVA_OK;
}

/* ---- client data (§5.8.1) ---- */

static nova_status client_data_check(const nova_webauthn_expect_t *e, const uint8_t *cd, size_t n,
                                     uint8_t hash[32], const char **why)
{
    json_error_t err;
    json_t *o = json_loadb((const char *)cd, n, JSON_REJECT_DUPLICATES, &err);
    nova_status st = NOVA_OK;
    if (!json_is_object(o)) {
        st = bad(why, "clientDataJSON: not a JSON object");
    } else {
        json_t *type = json_object_get(o, "type"), *ch = json_object_get(o, "challenge"),
               *origin = json_object_get(o, "origin"), *cross = json_object_get(o, "crossOrigin");
        if (!json_is_string(type) || strcmp(json_string_value(type), e->type) != 0)
            st = bad(why, "clientDataJSON: wrong type for this ceremony");
        else if (!json_is_string(ch) ||
                 !nova_ct_equal(json_string_value(ch), json_string_length(ch), e->challenge,
                                strlen(e->challenge)))
            st = bad(why, "clientDataJSON: not the challenge this server issued");
        else if (!json_is_string(origin) || strcmp(json_string_value(origin), e->origin) != 0)
            st = bad(why, "clientDataJSON: origin is not this relying party's");
        else if (cross && !json_is_false(cross))
            st = bad(why, "clientDataJSON: cross-origin ceremonies are not accepted");
    }
    json_decref(o);
    if (st == NOVA_OK)
        nova_sha256(cd, n, hash);
    return st;
}

static nova_status flags_check(const nova_webauthn_expect_t *e, const authdata_t *a,
                               const char **why)
{
    uint8_t want[32];
    nova_sha256(e->rp_id, strlen(e->rp_id), want);
    if (!nova_ct_equal(a->rp_hash, 32, want, 32))
        return bad(why, "authenticator data: rpIdHash is not this relying party's");
    if (!(a->flags & FLAG_UP))
        return bad(why, "authenticator data: the user was not present (UP flag)");
    if (e->require_uv && !(a->flags & FLAG_UV))
        return bad(why, "authenticator data: the user was not verified (UV flag)");
    return NOVA_OK;
}

/* ---- packed attestation (§8.2) ---- */

static nova_status packed(const cbor_item_t *stmt, const authdata_t *a, EVP_PKEY *cred_key,
                          int cred_alg, const uint8_t *signed_data, size_t sdl, const char **fmt,
                          const char **why)
{
    int64_t alg;
    const uint8_t *sig;
    size_t sl;
    if (!map_keys_unique(stmt) || !int_of(map_get(stmt, "alg", 0), &alg) ||
        !bytes_of(map_get(stmt, "sig", 0), &sig, &sl))
        return bad(why, "packed attestation: attStmt needs alg and sig");
    cbor_item_t *x5c = map_get(stmt, "x5c", 0);
    if (x5c == NULL) {
        /* Self attestation: the credential key signs, with its own algorithm. */
        if (alg != cred_alg)
            return bad(why, "packed self attestation: alg differs from the credential's");
        if (!sig_ok(cred_key, cred_alg, signed_data, sdl, sig, sl))
            return bad(why, "packed self attestation: bad signature");
        *fmt = "packed-self";
        return NOVA_OK;
    }
    const uint8_t *der;
    size_t dl;
    if (!cbor_isa_array(x5c) || cbor_array_size(x5c) < 1 || cbor_array_size(x5c) > 8 ||
        !bytes_of(cbor_array_handle(x5c)[0], &der, &dl))
        return bad(why, "packed attestation: x5c is not an array of certificates");
    const unsigned char *p = der;
    X509 *cert = d2i_X509(NULL, &p, (long)dl);
    if (cert == NULL || p != der + dl) {
        X509_free(cert);
        return bad(why, "packed attestation: x5c[0] is not a DER certificate");
    }
    nova_status st = NOVA_OK;
    EVP_PKEY *ak = X509_get0_pubkey(cert);
    if (alg != NOVA_COSE_ES256 && alg != NOVA_COSE_RS256 && alg != NOVA_COSE_EDDSA)
        st = bad(why, "packed attestation: unsupported alg");
    else if (ak == NULL || !sig_ok(ak, (int)alg, signed_data, sdl, sig, sl))
        st = bad(why, "packed attestation: bad signature by the attestation certificate");
    else if (X509_get_version(cert) != 2)
        st = bad(why, "packed attestation: the certificate is not X.509 v3");
    else if (X509_check_ca(cert) != 0)
        st = bad(why, "packed attestation: the certificate is a CA");
    if (st == NOVA_OK) {
        /* §8.2.1: subject OU "Authenticator Attestation"; id-fido-gen-ce-aaguid, when
         * present, equal to the authenticator data's AAGUID. */
        X509_NAME *sub = X509_get_subject_name(cert);
        char ou[64] = "";
        if (X509_NAME_get_text_by_NID(sub, NID_organizationalUnitName, ou, sizeof(ou)) < 0 ||
            strcmp(ou, "Authenticator Attestation") != 0)
            st = bad(why, "packed attestation: subject OU is not \"Authenticator Attestation\"");
        ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.45724.1.1.4", 1);
        int idx = oid ? X509_get_ext_by_OBJ(cert, oid, -1) : -1;
        if (st == NOVA_OK && idx >= 0) {
            ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
            const unsigned char *q = ASN1_STRING_get0_data(v);
            ASN1_OCTET_STRING *inner = d2i_ASN1_OCTET_STRING(NULL, &q, ASN1_STRING_length(v));
            if (inner == NULL || ASN1_STRING_length(inner) != 16 ||
                memcmp(ASN1_STRING_get0_data(inner), a->aaguid, 16) != 0)
                st = bad(why, "packed attestation: the certificate's AAGUID differs");
            ASN1_OCTET_STRING_free(inner);
        }
        ASN1_OBJECT_free(oid);
    }
    X509_free(cert);
    if (st == NOVA_OK)
        *fmt = "packed-x5c";
    return st;
}

static void aaguid_text(const uint8_t *g, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[g[i] >> 4];
        out[o++] = hex[g[i] & 15];
    }
    out[o] = '\0';
}

nova_status nova_webauthn_verify_registration(nova_arena_t *ar, const nova_webauthn_expect_t *e,
                                              const uint8_t *cd, size_t cdl, const uint8_t *ao,
                                              size_t aol, nova_webauthn_reg_t *out,
                                              const char **why)
{
    uint8_t cd_hash[32];
    authdata_t a = {0};
    EVP_PKEY *key = NULL;
    cbor_item_t *att = NULL;
    memset(out, 0, sizeof(*out));
    *why = NULL;
    /* §7.1 steps 5-12: the client data. */
    nova_status st = client_data_check(e, cd, cdl, cd_hash, why);
    if (st)
        return st;
    /* Step 13: the attestation object, exactly one CBOR map {fmt, attStmt, authData}. */
    size_t read = 0;
    att = cbor_take(ao, aol, &read);
    const uint8_t *ad;
    size_t adl;
    cbor_item_t *fmt = NULL, *stmt = NULL;
    if (att == NULL || read != aol || !map_keys_unique(att) || !(fmt = map_get(att, "fmt", 0)) ||
        !(stmt = map_get(att, "attStmt", 0)) || !bytes_of(map_get(att, "authData", 0), &ad, &adl) ||
        !cbor_isa_string(fmt) || !cbor_string_is_definite(fmt) || !cbor_isa_map(stmt)) {
        st = bad(why, "attestationObject: not a CBOR map of fmt, attStmt and authData");
        goto end;
    }
    /* Steps 14-17: rpIdHash, UP, UV, and the credential. */
    if ((st = authdata_parse(ad, adl, true, &a, why)) != NOVA_OK ||
        (st = flags_check(e, &a, why)) != NOVA_OK ||
        (st = cose_key(a.key, &key, &out->alg, why)) != NOVA_OK)
        goto end;
    /* Steps 19-21: the attestation statement. */
    if (text_is(fmt, "none")) {
        if (cbor_map_size(stmt) != 0) {
            st = bad(why, "none attestation: attStmt must be empty");
            goto end;
        }
        out->fmt = "none";
    } else if (text_is(fmt, "packed")) {
        size_t sdl = adl + 32;
        uint8_t *sd = nova_arena_alloc(ar, sdl);
        if (sd == NULL) {
            st = NOVA_NOMEM;
            goto end;
        }
        memcpy(sd, ad, adl);
        memcpy(sd + adl, cd_hash, 32);
        if ((st = packed(stmt, &a, key, out->alg, sd, sdl, &out->fmt, why)) != NOVA_OK)
            goto end;
    } else {
        st = bad(why, "attestationObject: only none and packed attestation are accepted");
        goto end;
    }
    uint8_t *id = nova_arena_alloc(ar, a.cred_id_len), *pk = nova_arena_alloc(ar, a.cose_len);
    if (!id || !pk) {
        st = NOVA_NOMEM;
        goto end;
    }
    memcpy(id, a.cred_id, a.cred_id_len);
    memcpy(pk, a.cose, a.cose_len);
    out->cred_id = id;
    out->cred_id_len = a.cred_id_len;
    out->public_key = pk;
    out->public_key_len = a.cose_len;
    out->sign_count = a.count;
    out->user_verified = (a.flags & FLAG_UV) != 0;
    aaguid_text(a.aaguid, out->aaguid);
end:
    EVP_PKEY_free(key);
    if (a.key)
        cbor_decref(&a.key);
    if (att)
        cbor_decref(&att);
    return st;
}

nova_status nova_webauthn_verify_assertion(const nova_webauthn_expect_t *e, const uint8_t *pk,
                                           size_t pkl, const uint8_t *cd, size_t cdl,
                                           const uint8_t *ad, size_t adl, const uint8_t *sig,
                                           size_t sl, nova_webauthn_assertion_t *out,
                                           const char **why)
{
    uint8_t cd_hash[32];
    authdata_t a;
    EVP_PKEY *key = NULL;
    int alg = 0;
    memset(out, 0, sizeof(*out));
    *why = NULL;
    nova_status st = client_data_check(e, cd, cdl, cd_hash, why);
    if (st)
        return st;
    if ((st = authdata_parse(ad, adl, false, &a, why)) != NOVA_OK ||
        (st = flags_check(e, &a, why)) != NOVA_OK)
        return st;
    size_t read = 0;
    cbor_item_t *k = cbor_take(pk, pkl, &read);
    if (k == NULL || read != pkl) {
        if (k)
            cbor_decref(&k);
        return bad(why, "stored credential key is not CBOR");
    }
    st = cose_key(k, &key, &alg, why);
    cbor_decref(&k);
    if (st)
        return st;
    /* §7.2 step 20: the signature over authenticatorData || SHA-256(clientDataJSON). */
    uint8_t *msg = malloc(adl + 32);
    if (msg == NULL) {
        EVP_PKEY_free(key);
        return NOVA_NOMEM;
    }
    memcpy(msg, ad, adl);
    memcpy(msg + adl, cd_hash, 32);
    bool ok = sig_ok(key, alg, msg, adl + 32, sig, sl);
    free(msg);
    EVP_PKEY_free(key);
    if (!ok)
        return bad(why, "signature: does not verify with the credential's key");
    out->sign_count = a.count;
    out->user_verified = (a.flags & FLAG_UV) != 0;
    return NOVA_OK;
}

bool nova_webauthn_counter_ok(uint32_t stored, uint32_t seen)
{
    /* §7.2 step 21: an authenticator without a counter reports 0 every time; otherwise the
     * counter must grow, or a clone of the authenticator is in use. */
    if (stored == 0 && seen == 0)
        return true;
    return seen > stored;
}
