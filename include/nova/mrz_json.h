/* mrz_json.h: the JSON form of a parsed zone (src/mrz/json.c), printed by `novactl mrz parse`
 * and `novactl ocr mrz` and returned as the gateway's mrz step `extracted` (which adds its
 * visual-zone fields and replaces the names' entries of `proved`). */
#ifndef NOVA_MRZ_JSON_H
#define NOVA_MRZ_JSON_H

#include <jansson.h>

#include "nova/mrz.h"

/* {valid, format ("TD1" "TD2" "TD3" "MRV-A" "MRV-B"),
 *  fields: {document_code, issuer, document_number, nationality, birth_date, sex, expiry_date,
 *           surname, given_names, optional_data, optional_data_2 (TD1 only)} with dates as
 *           YYYY-MM-DD (null when not a date),
 *  checks: {document_number, birth_date, expiry_date, optional_data (TD3), composite (TD1, TD2,
 *           TD3)}: "ok", "failed" or "repaired"; a check the format lacks is absent,
 *  proved: {each field: whether a check digit holds it},
 *  errors: [{field, code, message}],
 *  repairs: [{check, line, column, read, repaired, proved}],
 *  names_truncated}.
 * New reference; NULL when out of memory. */
json_t *nova_mrz_json(const nova_mrz_t *m);

#endif
