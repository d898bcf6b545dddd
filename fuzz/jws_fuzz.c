/*
 * jws_fuzz.c: libFuzzer target for the untrusted-input side of crypto: nova_jws_parse and, on
 * success, nova_jws_verify with fixed keys of both algorithms; the same with RS256 allowed (an
 * IdP's ID token) against an RSA key. The same bytes also go to nova_key_from_jwk, since
 * client and IdP JWKs come from outside too (an RSA key parsed is also thumbprinted). Nothing
 * may crash, leak, or verify without a real signature.
 */
#include <stdint.h>
#include <stdlib.h>

#include "nova/crypto.h"

static nova_key_t *ed_key, *es_key, *rsa_key;

/* RFC 7638 §3.1's RSA public key: no fuzzer input can carry a signature it verifies. */
static const char rsa_jwk[] =
    "{\"kty\":\"RSA\",\"n\":"
    "\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxu"
    "hDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65Y"
    "GjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhA"
    "I4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\","
    "\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (nova_key_generate(NOVA_JWS_EDDSA, "fuzz-ed", &ed_key) != NOVA_OK ||
        nova_key_generate(NOVA_JWS_ES256, "fuzz-es", &es_key) != NOVA_OK ||
        nova_key_from_jwk(rsa_jwk, sizeof(rsa_jwk) - 1, &rsa_key) != NOVA_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nova_jws_t jws;
    nova_key_t *k = NULL;

    if (nova_jws_parse((const char *)data, size, &jws) == NOVA_OK) {
        /* The keys are fresh and random: a fuzzer cannot produce a valid signature. */
        if (nova_jws_verify(&jws, ed_key) == NOVA_OK || nova_jws_verify(&jws, es_key) == NOVA_OK)
            abort();
        nova_jws_clear(&jws);
    }
    if (nova_jws_parse_opts((const char *)data, size, NOVA_JWS_ALLOW_RS256 | NOVA_JWS_ALLOW_PS256,
                            &jws) == NOVA_OK) {
        if (nova_jws_verify(&jws, rsa_key) == NOVA_OK || nova_jws_verify(&jws, es_key) == NOVA_OK)
            abort();
        nova_jws_clear(&jws);
    }
    if (nova_key_from_jwk((const char *)data, size, &k) == NOVA_OK) {
        char tp[44];
        nova_buf_t b;
        nova_buf_init(&b);
        (void)nova_key_thumbprint(k, tp);
        (void)nova_key_public_jwk(k, &b);
        nova_buf_free(&b);
        nova_key_free(k);
    }
    return 0;
}
