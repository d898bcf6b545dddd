/*
 * jws_fuzz.c: libFuzzer target for the untrusted-input side of crypto: nova_jws_parse and, on
 * success, nova_jws_verify with fixed keys of both algorithms. The same bytes also go to
 * nova_key_from_jwk, since client JWKs come from outside too. Nothing may crash, leak, or
 * verify without a real signature.
 */
#include <stdint.h>
#include <stdlib.h>

#include "nova/crypto.h"

static nova_key_t *ed_key, *es_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (nova_key_generate(NOVA_JWS_EDDSA, "fuzz-ed", &ed_key) != NOVA_OK ||
        nova_key_generate(NOVA_JWS_ES256, "fuzz-es", &es_key) != NOVA_OK)
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
    if (nova_key_from_jwk((const char *)data, size, &k) == NOVA_OK)
        nova_key_free(k);
    return 0;
}
