/* recovery.c: single-use recovery codes. Ten codes of 80 random bits each, shown once;
 * the store keeps a SHA-256 digest of each bound to the user id (nova_recovery_hash says why
 * no slow hash is needed), and spending one deletes its digest in the same transaction as the
 * sign-in it allows. */
#include <ctype.h>
#include <string.h>

#include "internal.h"
#include "nova/crypto.h"

nova_status nova_recovery_generate(char codes[NOVA_RECOVERY_CODES][NOVA_RECOVERY_CODE_LEN])
{
    for (int i = 0; i < NOVA_RECOVERY_CODES; i++) {
        uint8_t raw[10];
        char b[17];
        if (nova_random_bytes(raw, sizeof(raw)) != NOVA_OK)
            return NOVA_INTERNAL;
        nova_base32_encode(raw, sizeof(raw), b);
        for (int j = 0; j < 16; j++)
            b[j] = (char)tolower((unsigned char)b[j]);
        snprintf(codes[i], NOVA_RECOVERY_CODE_LEN, "%.4s-%.4s-%.4s-%.4s", b, b + 4, b + 8, b + 12);
    }
    return NOVA_OK;
}

nova_status nova_recovery_hash(const char *user_id, const char *code, char out[65])
{
    char norm[17];
    size_t n = 0;
    if (code == NULL || user_id == NULL)
        return NOVA_INVALID;
    for (const char *p = code; *p; p++) {
        if (*p == '-' || *p == ' ')
            continue;
        char c = (char)tolower((unsigned char)*p);
        if (n == 16 || !((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')))
            return NOVA_INVALID;
        norm[n++] = c;
    }
    if (n != 16)
        return NOVA_INVALID;
    norm[n] = '\0';
    nova_buf_t b;
    nova_buf_init(&b);
    nova_status st = nova_buf_printf(&b, "nova-recovery-v1|%s|%s", user_id, norm);
    if (st == NOVA_OK) {
        uint8_t d[32];
        nova_sha256(b.data, b.len, d);
        nova_hex_encode(d, sizeof(d), out);
    }
    nova_buf_free(&b);
    return st;
}
