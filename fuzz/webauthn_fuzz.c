/* webauthn_fuzz: every parser of outside input in src/people. The first byte picks:
 *   0  registration: clientDataJSON fixed and valid, the rest is the attestation object (CBOR,
 *      authenticator data, COSE key, attestation statement, x5c DER)
 *   1  registration: two-byte length, clientDataJSON, then the attestation object
 *   2  assertion: two-byte length, COSE key, two-byte length, authenticator data, signature
 *   3  a recovery code as typed, and a step-up body to normalize (JSON or bytes); the same
 *      bytes as a bearer token whose payload says whether it is a user token (its aud)
 * Accepted or refused, nothing may crash, leak or read out of bounds; a refusal must say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/people.h"

static const char CD[] = "{\"type\":\"webauthn.create\",\"challenge\":"
                         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"origin\":"
                         "\"https://app.example\"}";

static size_t take16(const uint8_t **d, size_t *n)
{
    if (*n < 2)
        return 0;
    size_t l = ((size_t)(*d)[0] << 8) | (*d)[1];
    *d += 2;
    *n -= 2;
    return l < *n ? l : *n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 4;
    data++;
    size--;
    nova_webauthn_expect_t e = {.type = mode == 2 ? "webauthn.get" : "webauthn.create",
                                .challenge = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                .origin = "https://app.example",
                                .rp_id = "app.example"};
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    const char *why = NULL;
    nova_status st = NOVA_OK;
    if (mode == 0) {
        nova_webauthn_reg_t reg;
        st = nova_webauthn_verify_registration(&ar, &e, (const uint8_t *)CD, strlen(CD), data, size,
                                               &reg, &why);
    } else if (mode == 1) {
        size_t l = take16(&data, &size);
        nova_webauthn_reg_t reg;
        st = nova_webauthn_verify_registration(&ar, &e, data, l, data + l, size - l, &reg, &why);
    } else if (mode == 2) {
        size_t kl = take16(&data, &size);
        const uint8_t *key = data;
        data += kl;
        size -= kl;
        size_t al = take16(&data, &size);
        nova_webauthn_assertion_t as;
        const char *cd = "{\"type\":\"webauthn.get\",\"challenge\":"
                         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"origin\":"
                         "\"https://app.example\"}";
        st = nova_webauthn_verify_assertion(&e, key, kl, (const uint8_t *)cd, strlen(cd), data, al,
                                            data + al, size - al, &as, &why);
    } else {
        size_t l = take16(&data, &size);
        char *code = malloc(l + 1), out[65], h[44];
        memcpy(code, data, l);
        code[l] = '\0';
        (void)nova_recovery_hash("usr_fuzz", code, out);
        free(code);
        (void)nova_stepup_orig_hash("POST", "/x", data + l, size - l, h);
        char *tok = malloc(size - l + 1);
        memcpy(tok, data + l, size - l);
        tok[size - l] = '\0';
        (void)nova_people_token_looks_user(tok);
        free(tok);
        st = NOVA_OK;
    }
    if (st == NOVA_UNAUTHORIZED && why == NULL)
        abort(); /* every refusal names what was wrong */
    nova_arena_free(&ar);
    return 0;
}
