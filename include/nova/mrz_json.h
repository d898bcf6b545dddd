/* mrz_json.h: the JSON form of a parsed zone (src/mrz/json.c). */
#ifndef NOVA_MRZ_JSON_H
#define NOVA_MRZ_JSON_H

#include <jansson.h>

#include "nova/mrz.h"

/* {format, valid, document_code, issuing_state, document_number, nationality, birth_date,
 * expiry_date (YYYY-MM-DD or null), sex, surname, given_names, optional1, optional2,
 * names_truncated, checks: {document_number, birth_date, expiry_date, optional, composite},
 * corrections}. New reference; NULL when out of memory. */
json_t *nova_mrz_json(const nova_mrz_t *m);

#endif
