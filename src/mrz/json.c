/* json.c: one JSON shape for a parsed zone, for novactl and (later) the gateway's mrz step. */
#include <stdio.h>

#include "nova/mrz.h"
#include "nova/mrz_json.h"

static json_t *date_json(const nova_mrz_date_t *d)
{
    char s[16];
    if (d->year == 0)
        return json_null();
    snprintf(s, sizeof(s), "%04d-%02d-%02d", d->year, d->month, d->day);
    return json_string(s);
}

json_t *nova_mrz_json(const nova_mrz_t *m)
{
    static const char *const formats[] = {"", "TD1", "TD2", "TD3"};
    char sex[2] = {m->sex, '\0'};
    return json_pack("{s:s, s:b, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s, s:s, s:s, s:b, "
                     "s:{s:b, s:b, s:b, s:b, s:b}, s:i}",
                     "format", formats[m->format], "valid", nova_mrz_valid(m), "document_code",
                     m->document_code, "issuing_state", m->issuing_state, "document_number",
                     m->document_number, "nationality", m->nationality, "birth_date",
                     date_json(&m->birth), "expiry_date", date_json(&m->expiry), "sex", sex,
                     "surname", m->surname, "given_names", m->given_names, "optional1",
                     m->optional1, "optional2", m->optional2, "names_truncated", m->names_truncated,
                     "checks", "document_number", m->number_ok, "birth_date", m->birth_ok,
                     "expiry_date", m->expiry_ok, "optional", m->optional_ok, "composite",
                     m->composite_ok, "corrections", (int)m->corrections);
}
