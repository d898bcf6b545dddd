/*
 * mrz_fuzz.c: libFuzzer target for the MRZ parser (what OCR reads off a document is outside
 * input), over its five formats and its repairs. Whatever the bytes, the parser returns; its
 * strings are terminated and hold only A-Z, 0-9 and spaces; a check it calls repaired has a
 * proved repair inside it and one it calls failed has none; a valid zone has real dates and
 * known country codes; and the zone after repairs (m.lines) parses again to the same fields,
 * with nothing left to repair, every check that held now holding as read.
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

static void same(const char *a, const char *b)
{
    if (strcmp(a, b) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nova_mrz_t m;
    const char *why;
    if (nova_mrz_parse((const char *)data, size, 2026, &m, &why) != NOVA_OK) {
        if (why == NULL || nova_mrz_valid(&m))
            abort();
        return 0;
    }
    if (m.format < NOVA_MRZ_TD1 || m.format > NOVA_MRZ_MRVB || m.nlines < 2 || m.nlines > 3 ||
        m.nerrors > NOVA_MRZ_MAX_ERRORS || m.nrepairs > NOVA_MRZ_MAX_REPAIRS)
        abort();
    clean(m.document_code, sizeof(m.document_code));
    clean(m.issuer, sizeof(m.issuer));
    clean(m.document_number, sizeof(m.document_number));
    clean(m.nationality, sizeof(m.nationality));
    clean(m.surname, sizeof(m.surname));
    clean(m.given_names, sizeof(m.given_names));
    clean(m.optional_data, sizeof(m.optional_data));
    clean(m.optional_data_2, sizeof(m.optional_data_2));
    bool visa = m.format == NOVA_MRZ_MRVA || m.format == NOVA_MRZ_MRVB;
    if (visa != (m.checks[NOVA_MRZ_CHECK_COMPOSITE] == NOVA_MRZ_ABSENT))
        abort();
    for (size_t i = 0; i < m.nrepairs; i++) {
        nova_mrz_check_state st = m.checks[m.repairs[i].check];
        if (m.repairs[i].proved != (st == NOVA_MRZ_OK || st == NOVA_MRZ_REPAIRED))
            abort();
        if (m.repairs[i].line >= m.nlines || m.repairs[i].read == m.repairs[i].repaired)
            abort();
    }
    if (nova_mrz_valid(&m)) {
        if (m.nerrors || m.birth.month < 1 || m.birth.month > 12 || m.expiry.day < 1 ||
            !nova_mrz_country_known(m.issuer) || !nova_mrz_country_known(m.nationality))
            abort();
        for (int k = 0; k < NOVA_MRZ_CHECKS; k++)
            if (m.checks[k] == NOVA_MRZ_FAILED)
                abort();
    }
    /* The repaired zone again: the same zone, nothing to repair. */
    char text[3 * 46];
    size_t n = 0;
    for (size_t i = 0; i < m.nlines; i++) {
        size_t l = strlen(m.lines[i]);
        memcpy(text + n, m.lines[i], l);
        n += l;
        text[n++] = '\n';
    }
    nova_mrz_t again;
    if (nova_mrz_parse(text, n, 2026, &again, &why) != NOVA_OK || again.format != m.format)
        abort();
    same(again.document_number, m.document_number);
    same(again.optional_data, m.optional_data);
    same(again.surname, m.surname);
    if (again.birth.year != m.birth.year || again.expiry.day != m.expiry.day ||
        nova_mrz_valid(&again) != nova_mrz_valid(&m))
        abort();
    for (size_t i = 0; i < again.nrepairs; i++)
        if (again.repairs[i].proved)
            abort();
    for (int k = 0; k < NOVA_MRZ_CHECKS; k++)
        if ((m.checks[k] == NOVA_MRZ_FAILED) != (again.checks[k] == NOVA_MRZ_FAILED) ||
            again.checks[k] == NOVA_MRZ_REPAIRED)
            abort();
    return 0;
}
