/* webauthn_test: the relying party's checks (src/people/webauthn.c) on ceremonies built here
 * with OpenSSL and libcbor: registration with attestation none, packed self (ES256, EdDSA,
 * RS256) and packed x5c (a certificate made here, with the §8.2.1 requirements and the
 * AAGUID extension), then assertions; every check refuses its own tampering: type,
 * challenge, origin, cross-origin, rpIdHash, UP, UV when required, signature, trailing
 * bytes, alg mismatch, wrong certificate OU or AAGUID; the counter rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cbor.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "nova/crypto.h"
#include "nova/people.h"

static const char CHALLENGE[] = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80";
static const char ORIGIN[] = "https://app.example";
static const char RP[] = "app.example";
static const uint8_t AAGUID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

typedef struct buf {
    uint8_t d[8192];
    size_t n;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof(b->d));
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static cbor_item_t *cint(int64_t v)
{
    return v >= 0 ? cbor_build_uint64((uint64_t)v) : cbor_build_negint64((uint64_t)(-1 - v));
}

static void madd(cbor_item_t *m, cbor_item_t *k, cbor_item_t *v)
{
    assert_true(cbor_map_add(m, (struct cbor_pair){.key = cbor_move(k), .value = cbor_move(v)}));
}

static size_t ser(cbor_item_t *it, uint8_t *out, size_t cap)
{
    unsigned char *p = NULL;
    size_t sz = 0, n = cbor_serialize_alloc(it, &p, &sz);
    assert_true(n > 0 && n <= cap);
    memcpy(out, p, n);
    free(p);
    return n;
}

/* A key pair and its COSE_Key encoding. */
typedef struct key {
    EVP_PKEY *k;
    int alg;
    uint8_t cose[1024];
    size_t cose_len;
} key;

static void make_key(key *k, int alg)
{
    memset(k, 0, sizeof(*k));
    k->alg = alg;
    cbor_item_t *m = cbor_new_definite_map(5);
    if (alg == NOVA_COSE_ES256) {
        k->k = EVP_EC_gen("P-256");
        uint8_t pt[65];
        size_t n = 0;
        assert_int_equal(
            EVP_PKEY_get_octet_string_param(k->k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &n), 1);
        assert_int_equal(n, 65);
        madd(m, cint(1), cint(2));
        madd(m, cint(3), cint(-7));
        madd(m, cint(-1), cint(1));
        madd(m, cint(-2), cbor_build_bytestring(pt + 1, 32));
        madd(m, cint(-3), cbor_build_bytestring(pt + 33, 32));
    } else if (alg == NOVA_COSE_EDDSA) {
        k->k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        uint8_t x[32];
        size_t n = sizeof(x);
        assert_int_equal(EVP_PKEY_get_raw_public_key(k->k, x, &n), 1);
        madd(m, cint(1), cint(1));
        madd(m, cint(3), cint(-8));
        madd(m, cint(-1), cint(6));
        madd(m, cint(-2), cbor_build_bytestring(x, 32));
    } else {
        k->k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        BIGNUM *bn = NULL, *be = NULL;
        assert_int_equal(EVP_PKEY_get_bn_param(k->k, OSSL_PKEY_PARAM_RSA_N, &bn), 1);
        assert_int_equal(EVP_PKEY_get_bn_param(k->k, OSSL_PKEY_PARAM_RSA_E, &be), 1);
        uint8_t n[256], e[8];
        int nl = BN_bn2bin(bn, n), el = BN_bn2bin(be, e);
        madd(m, cint(1), cint(3));
        madd(m, cint(3), cint(-257));
        madd(m, cint(-1), cbor_build_bytestring(n, (size_t)nl));
        madd(m, cint(-2), cbor_build_bytestring(e, (size_t)el));
        BN_free(bn);
        BN_free(be);
    }
    assert_non_null(k->k);
    k->cose_len = ser(m, k->cose, sizeof(k->cose));
    cbor_decref(&m);
}

static size_t sign(EVP_PKEY *k, int alg, const uint8_t *msg, size_t n, uint8_t *sig)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t sl = 1024;
    assert_int_equal(
        EVP_DigestSignInit(c, NULL, alg == NOVA_COSE_EDDSA ? NULL : EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(c, sig, &sl, msg, n), 1);
    EVP_MD_CTX_free(c);
    return sl;
}

static size_t client_data(char *out, const char *type, const char *challenge, const char *origin,
                          const char *extra)
{
    return (size_t)snprintf(out, 512, "{\"type\":\"%s\",\"challenge\":\"%s\",\"origin\":\"%s\"%s}",
                            type, challenge, origin, extra ? extra : "");
}

/* authData: rpIdHash, flags, counter, and (with k) the attested credential data. */
static void auth_data(buf *b, const char *rp, uint8_t flags, uint32_t count, const key *k)
{
    uint8_t h[32], c[4] = {(uint8_t)(count >> 24), (uint8_t)(count >> 16), (uint8_t)(count >> 8),
                           (uint8_t)count};
    nova_sha256(rp, strlen(rp), h);
    b->n = 0;
    put(b, h, 32);
    put(b, &flags, 1);
    put(b, c, 4);
    if (k) {
        uint8_t idl[2] = {0, 16}, id[16];
        memset(id, 0xab, sizeof(id));
        put(b, AAGUID, 16);
        put(b, idl, 2);
        put(b, id, 16);
        put(b, k->cose, k->cose_len);
    }
}

typedef enum { ATT_NONE, ATT_SELF, ATT_X5C } att_kind;

/* A certificate for the attestation key ak, signed by itself (a batch certificate). */
static X509 *att_cert(EVP_PKEY *ak, const char *ou, const uint8_t *aaguid)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"KE", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Test Vendor", -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)ou, -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"Batch", -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_set_pubkey(x, ak);
    X509_EXTENSION *bc =
        X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:FALSE");
    X509_add_ext(x, bc, -1);
    X509_EXTENSION_free(bc);
    if (aaguid) {
        uint8_t der[18] = {0x04, 16};
        memcpy(der + 2, aaguid, 16);
        ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(v, der, sizeof(der));
        ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.45724.1.1.4", 1);
        X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, v);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
        ASN1_OBJECT_free(oid);
        ASN1_OCTET_STRING_free(v);
    }
    assert_true(X509_sign(x, ak, EVP_sha256()) > 0);
    return x;
}

typedef struct reg_opts {
    att_kind kind;
    const char *fmt; /* overrides */
    int stmt_alg;    /* 0: the right one */
    const char *ou;
    const uint8_t *cert_aaguid;
    bool bad_sig;
} reg_opts;

/* Builds an attestation object over ad for client data cd. */
static size_t attestation(const key *k, const buf *ad, const char *cd, size_t cdl,
                          const reg_opts *o, uint8_t *out, size_t cap)
{
    cbor_item_t *m = cbor_new_definite_map(3), *stmt;
    uint8_t h[32], msg[9000], sig[1024];
    nova_sha256(cd, cdl, h);
    memcpy(msg, ad->d, ad->n);
    memcpy(msg + ad->n, h, 32);
    if (o->kind == ATT_NONE) {
        stmt = cbor_new_definite_map(0);
    } else {
        EVP_PKEY *signer = k->k;
        int alg = k->alg;
        X509 *cert = NULL;
        if (o->kind == ATT_X5C) {
            signer = EVP_EC_gen("P-256");
            alg = NOVA_COSE_ES256;
            cert = att_cert(signer, o->ou ? o->ou : "Authenticator Attestation",
                            o->cert_aaguid ? o->cert_aaguid : AAGUID);
        }
        size_t sl = sign(signer, alg, msg, ad->n + 32, sig);
        if (o->bad_sig)
            sig[sl / 2] ^= 1;
        stmt = cbor_new_definite_map(3);
        madd(stmt, cbor_build_string("alg"), cint(o->stmt_alg ? o->stmt_alg : alg));
        madd(stmt, cbor_build_string("sig"), cbor_build_bytestring(sig, sl));
        if (cert) {
            unsigned char *der = NULL;
            int dl = i2d_X509(cert, &der);
            cbor_item_t *arr = cbor_new_definite_array(1);
            assert_true(cbor_array_push(arr, cbor_move(cbor_build_bytestring(der, (size_t)dl))));
            madd(stmt, cbor_build_string("x5c"), arr);
            OPENSSL_free(der);
            X509_free(cert);
            EVP_PKEY_free(signer);
        }
    }
    madd(m, cbor_build_string("fmt"),
         cbor_build_string(o->fmt                ? o->fmt
                           : o->kind == ATT_NONE ? "none"
                                                 : "packed"));
    madd(m, cbor_build_string("attStmt"), stmt);
    madd(m, cbor_build_string("authData"), cbor_build_bytestring(ad->d, ad->n));
    size_t n = ser(m, out, cap);
    cbor_decref(&m);
    return n;
}

static nova_webauthn_expect_t expect(const char *type)
{
    return (nova_webauthn_expect_t){
        .type = type, .challenge = CHALLENGE, .origin = ORIGIN, .rp_id = RP};
}

/* Registers k with opts; returns the status and fills reg. */
static nova_status do_register(nova_arena_t *ar, const key *k, const reg_opts *o, uint8_t flags,
                               const char *rp, const char *cd_type, const char *cd_origin,
                               const char *cd_extra, nova_webauthn_reg_t *reg, const char **why)
{
    char cd[512];
    buf ad;
    uint8_t ao[9000];
    size_t cdl = client_data(cd, cd_type, CHALLENGE, cd_origin, cd_extra);
    auth_data(&ad, rp, flags, 0, k);
    size_t aol = attestation(k, &ad, cd, cdl, o, ao, sizeof(ao));
    nova_webauthn_expect_t e = expect("webauthn.create");
    return nova_webauthn_verify_registration(ar, &e, (const uint8_t *)cd, cdl, ao, aol, reg, why);
}

static void test_register_each_alg_and_format(void **state)
{
    (void)state;
    nova_arena_t ar;
    nova_arena_init(&ar, 4096);
    const int algs[] = {NOVA_COSE_ES256, NOVA_COSE_EDDSA, NOVA_COSE_RS256};
    const struct {
        att_kind kind;
        const char *fmt;
    } kinds[] = {{ATT_NONE, "none"}, {ATT_SELF, "packed-self"}, {ATT_X5C, "packed-x5c"}};
    for (size_t a = 0; a < 3; a++)
        for (size_t i = 0; i < 3; i++) {
            key k;
            make_key(&k, algs[a]);
            reg_opts o = {.kind = kinds[i].kind};
            nova_webauthn_reg_t reg;
            const char *why = NULL;
            nova_status st =
                do_register(&ar, &k, &o, 0x45, RP, "webauthn.create", ORIGIN, NULL, &reg, &why);
            if (st)
                fail_msg("alg %d %s: %s", algs[a], kinds[i].fmt, why);
            assert_string_equal(reg.fmt, kinds[i].fmt);
            assert_int_equal(reg.alg, algs[a]);
            assert_true(reg.user_verified);
            assert_int_equal(reg.cred_id_len, 16);
            assert_memory_equal(reg.public_key, k.cose, k.cose_len);
            assert_string_equal(reg.aaguid, "01020304-0506-0708-090a-0b0c0d0e0f10");
            EVP_PKEY_free(k.k);
        }
    nova_arena_free(&ar);
}

static void test_register_refusals(void **state)
{
    (void)state;
    nova_arena_t ar;
    nova_arena_init(&ar, 4096);
    key k;
    make_key(&k, NOVA_COSE_ES256);
    nova_webauthn_reg_t reg;
    const char *why;
    reg_opts self = {.kind = ATT_SELF};
    const struct {
        reg_opts o;
        uint8_t flags;
        const char *rp, *type, *origin, *extra, *want;
    } cases[] = {
        {self, 0x45, RP, "webauthn.get", ORIGIN, NULL, "clientDataJSON: wrong type"},
        {self, 0x45, RP, "webauthn.create", "https://evil.example", NULL, "origin"},
        {self, 0x45, RP, "webauthn.create", ORIGIN, ",\"crossOrigin\":true", "cross-origin"},
        {self, 0x45, "evil.example", "webauthn.create", ORIGIN, NULL, "rpIdHash"},
        {self, 0x44, RP, "webauthn.create", ORIGIN, NULL, "UP flag"},
        {{.kind = ATT_SELF, .bad_sig = true},
         0x45,
         RP,
         "webauthn.create",
         ORIGIN,
         NULL,
         "bad signature"},
        {{.kind = ATT_SELF, .stmt_alg = -8},
         0x45,
         RP,
         "webauthn.create",
         ORIGIN,
         NULL,
         "alg differs"},
        {{.kind = ATT_X5C, .ou = "Somebody"},
         0x45,
         RP,
         "webauthn.create",
         ORIGIN,
         NULL,
         "subject OU"},
        {{.kind = ATT_X5C, .cert_aaguid = (const uint8_t *)"0123456789abcdef"},
         0x45,
         RP,
         "webauthn.create",
         ORIGIN,
         NULL,
         "AAGUID"},
        {{.kind = ATT_X5C, .bad_sig = true},
         0x45,
         RP,
         "webauthn.create",
         ORIGIN,
         NULL,
         "attestation certificate"},
        {{.kind = ATT_SELF, .fmt = "tpm"},
         0x45,
         RP,
         "webauthn.create",
         ORIGIN,
         NULL,
         "only none and packed"},
        {{.kind = ATT_SELF, .fmt = "none"},
         0x45,
         RP,
         "webauthn.create",
         ORIGIN,
         NULL,
         "attStmt must be empty"},
        {self, 0x05, RP, "webauthn.create", ORIGIN, NULL, "no attested credential data"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why = NULL;
        nova_status st = do_register(&ar, &k, &cases[i].o, cases[i].flags, cases[i].rp,
                                     cases[i].type, cases[i].origin, cases[i].extra, &reg, &why);
        assert_int_equal(st, NOVA_UNAUTHORIZED);
        if (why == NULL || strstr(why, cases[i].want) == NULL)
            fail_msg("case %zu: want \"%s\", got \"%s\"", i, cases[i].want, why ? why : "");
    }
    /* The wrong challenge, and trailing bytes after the attestation object. */
    char cd[512];
    buf ad;
    uint8_t ao[9000];
    size_t cdl = client_data(cd, "webauthn.create", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                             ORIGIN, NULL);
    auth_data(&ad, RP, 0x45, 0, &k);
    size_t aol = attestation(&k, &ad, cd, cdl, &self, ao, sizeof(ao));
    nova_webauthn_expect_t e = expect("webauthn.create");
    assert_int_equal(
        nova_webauthn_verify_registration(&ar, &e, (uint8_t *)cd, cdl, ao, aol, &reg, &why),
        NOVA_UNAUTHORIZED);
    assert_non_null(strstr(why, "challenge"));
    cdl = client_data(cd, "webauthn.create", CHALLENGE, ORIGIN, NULL);
    aol = attestation(&k, &ad, cd, cdl, &self, ao, sizeof(ao));
    ao[aol++] = 0;
    assert_int_equal(
        nova_webauthn_verify_registration(&ar, &e, (uint8_t *)cd, cdl, ao, aol, &reg, &why),
        NOVA_UNAUTHORIZED);
    /* UV required and absent. */
    aol--;
    auth_data(&ad, RP, 0x41, 0, &k);
    aol = attestation(&k, &ad, cd, cdl, &self, ao, sizeof(ao));
    e.require_uv = true;
    assert_int_equal(
        nova_webauthn_verify_registration(&ar, &e, (uint8_t *)cd, cdl, ao, aol, &reg, &why),
        NOVA_UNAUTHORIZED);
    assert_non_null(strstr(why, "UV flag"));
    EVP_PKEY_free(k.k);
    nova_arena_free(&ar);
}

static void test_assertions(void **state)
{
    (void)state;
    const int algs[] = {NOVA_COSE_ES256, NOVA_COSE_EDDSA, NOVA_COSE_RS256};
    for (size_t a = 0; a < 3; a++) {
        key k;
        make_key(&k, algs[a]);
        char cd[512];
        buf ad;
        uint8_t msg[9000], sig[1024], h[32];
        size_t cdl = client_data(cd, "webauthn.get", CHALLENGE, ORIGIN, NULL);
        auth_data(&ad, RP, 0x05, 42, NULL);
        nova_sha256(cd, cdl, h);
        memcpy(msg, ad.d, ad.n);
        memcpy(msg + ad.n, h, 32);
        size_t sl = sign(k.k, k.alg, msg, ad.n + 32, sig);
        nova_webauthn_expect_t e = expect("webauthn.get");
        nova_webauthn_assertion_t as;
        const char *why = NULL;
        nova_status st = nova_webauthn_verify_assertion(&e, k.cose, k.cose_len, (uint8_t *)cd, cdl,
                                                        ad.d, ad.n, sig, sl, &as, &why);
        if (st)
            fail_msg("alg %d: %s", algs[a], why);
        assert_int_equal(as.sign_count, 42);
        assert_true(as.user_verified);
        /* Any change is refused: the signature, the data it covers, the challenge. */
        sig[3] ^= 1;
        assert_int_equal(nova_webauthn_verify_assertion(&e, k.cose, k.cose_len, (uint8_t *)cd, cdl,
                                                        ad.d, ad.n, sig, sl, &as, &why),
                         NOVA_UNAUTHORIZED);
        sig[3] ^= 1;
        ad.d[36] ^= 1; /* the counter */
        assert_int_equal(nova_webauthn_verify_assertion(&e, k.cose, k.cose_len, (uint8_t *)cd, cdl,
                                                        ad.d, ad.n, sig, sl, &as, &why),
                         NOVA_UNAUTHORIZED);
        ad.d[36] ^= 1;
        e.challenge = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
        assert_int_equal(nova_webauthn_verify_assertion(&e, k.cose, k.cose_len, (uint8_t *)cd, cdl,
                                                        ad.d, ad.n, sig, sl, &as, &why),
                         NOVA_UNAUTHORIZED);
        e.challenge = CHALLENGE;
        e.type = "webauthn.create";
        assert_int_equal(nova_webauthn_verify_assertion(&e, k.cose, k.cose_len, (uint8_t *)cd, cdl,
                                                        ad.d, ad.n, sig, sl, &as, &why),
                         NOVA_UNAUTHORIZED);
        /* Garbage where the stored key should be. */
        e.type = "webauthn.get";
        assert_int_equal(nova_webauthn_verify_assertion(&e, (const uint8_t *)"\xa0", 1,
                                                        (uint8_t *)cd, cdl, ad.d, ad.n, sig, sl,
                                                        &as, &why),
                         NOVA_UNAUTHORIZED);
        EVP_PKEY_free(k.k);
    }
}

/* CBOR whose headers declare more than the input holds is refused before libcbor allocates
 * for it (libcbor 0.8 sized an array from its header: 13 GB for this input, webauthn_fuzz);
 * so are indefinite lengths and tags. */
static void test_cbor_bounds(void **state)
{
    (void)state;
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    char cd[512];
    size_t cdl = client_data(cd, "webauthn.create", CHALLENGE, ORIGIN, NULL);
    nova_webauthn_expect_t e = expect("webauthn.create");
    nova_webauthn_reg_t reg;
    const char *why;
    static const struct {
        const char *b;
        size_t n;
    } bad[] = {
        {"\x9a\x63\x03\x4e\x66", 5},                 /* array of 1.6e9 elements */
        {"\xbb\x00\x00\x00\x10\x00\x00\x00\x00", 9}, /* map of 2^36 pairs */
        {"\x5a\xff\xff\xff\xff", 5},                 /* byte string of 4 GB */
        {"\x9f\x01\xff", 3},                         /* indefinite array */
        {"\xc0\x60", 2},                             /* a tag */
        {"\xa1\x61", 2},                             /* cut short */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_int_equal(nova_webauthn_verify_registration(&ar, &e, (uint8_t *)cd, cdl,
                                                           (const uint8_t *)bad[i].b, bad[i].n,
                                                           &reg, &why),
                         NOVA_UNAUTHORIZED);
        assert_non_null(strstr(why, "attestationObject"));
    }
    nova_arena_free(&ar);
}

static void test_counter_rule(void **state)
{
    (void)state;
    assert_true(nova_webauthn_counter_ok(0, 0)); /* no counter on this authenticator */
    assert_true(nova_webauthn_counter_ok(0, 1));
    assert_true(nova_webauthn_counter_ok(41, 42));
    assert_false(nova_webauthn_counter_ok(42, 42)); /* not grown: a clone */
    assert_false(nova_webauthn_counter_ok(42, 7));
    assert_false(nova_webauthn_counter_ok(5, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_each_alg_and_format),
        cmocka_unit_test(test_register_refusals),
        cmocka_unit_test(test_assertions),
        cmocka_unit_test(test_cbor_bounds),
        cmocka_unit_test(test_counter_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
