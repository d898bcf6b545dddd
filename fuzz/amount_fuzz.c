/*
 * amount_fuzz.c: libFuzzer target for Amount parsing (a decimal string and a currency code
 * from outside). The first 3 bytes are the currency, the rest the value. An accepted amount
 * is within the bounds and formats back to a string that parses to the same minor units; a
 * refusal always says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size > 256)
        return 0;
    char cur[4], val[256];
    memcpy(cur, data, 3);
    cur[3] = '\0';
    memcpy(val, data + 3, size - 3);
    val[size - 3] = '\0';
    for (int allow_zero = 0; allow_zero < 2; allow_zero++) {
        int64_t m = -1, back = -1;
        bool badc = false;
        const char *why = NULL;
        nova_status st = nova_ledger_amount_parse(cur, val, allow_zero, &m, &badc, &why);
        if (st != NOVA_OK) {
            if (st != NOVA_INVALID || why == NULL || m != 0)
                abort();
            continue;
        }
        if (m < 0 || m > NOVA_LEDGER_AMOUNT_MAX || (m == 0 && !allow_zero))
            abort();
        char text[32];
        if (nova_ledger_amount_format(cur, m, text, sizeof(text)) != NOVA_OK)
            abort();
        if (nova_ledger_amount_parse(cur, text, true, &back, &badc, &why) != NOVA_OK || back != m)
            abort();
        /* Canonical text is the shortest form only when the input carried every digit. */
        if (strlen(text) > strlen(val) + 1 + (size_t)nova_ledger_currency(cur)->exponent)
            abort();
    }
    return 0;
}
