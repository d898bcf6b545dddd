/* json.c: one JSON shape for a parsed zone, for novactl and the gateway's mrz step. */
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
    char sex[2] = {m->sex, '\0'};
    json_t *fields = json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:s, s:s, s:s}", "document_code", m->document_code,
        "issuer", m->issuer, "document_number", m->document_number, "nationality", m->nationality,
        "birth_date", date_json(&m->birth), "sex", sex, "expiry_date", date_json(&m->expiry),
        "surname", m->surname, "given_names", m->given_names, "optional_data", m->optional_data);
    if (fields && m->format == NOVA_MRZ_TD1)
        json_object_set_new(fields, "optional_data_2", json_string(m->optional_data_2));
    json_t *checks = json_object(), *proved = json_object(), *errors = json_array(),
           *repairs = json_array();
    for (int k = 0; k < NOVA_MRZ_CHECKS; k++)
        if (m->checks[k] != NOVA_MRZ_ABSENT)
            json_object_set_new(checks, nova_mrz_check_name((nova_mrz_check)k),
                                json_string(nova_mrz_check_state_name(m->checks[k])));
    for (int f = 0; f < NOVA_MRZ_FIELDS; f++)
        if (f != NOVA_MRZ_OPTIONAL_DATA_2 || m->format == NOVA_MRZ_TD1)
            json_object_set_new(proved, nova_mrz_field_name((nova_mrz_field)f),
                                json_boolean(m->proved[f]));
    for (size_t i = 0; i < m->nerrors; i++)
        json_array_append_new(errors,
                              json_pack("{s:s, s:s, s:s}", "field", m->errors[i].field, "code",
                                        m->errors[i].code, "message", m->errors[i].message));
    for (size_t i = 0; i < m->nrepairs; i++) {
        const nova_mrz_repair_t *r = &m->repairs[i];
        char read[2] = {r->read, '\0'}, to[2] = {r->repaired, '\0'};
        json_array_append_new(repairs, json_pack("{s:s, s:i, s:i, s:s, s:s, s:b}", "check",
                                                 nova_mrz_check_name(r->check), "line",
                                                 (int)r->line, "column", (int)r->column, "read",
                                                 read, "repaired", to, "proved", r->proved));
    }
    return json_pack("{s:b, s:s, s:o, s:o, s:o, s:o, s:o, s:b}", "valid", nova_mrz_valid(m),
                     "format", nova_mrz_format_name(m->format), "fields", fields, "checks", checks,
                     "proved", proved, "errors", errors, "repairs", repairs, "names_truncated",
                     m->names_truncated);
}
