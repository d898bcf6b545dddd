/*
 * json.h: strict JSON request decoding on jansson. Bodies must be one JSON object, UTF-8, no
 * duplicate keys, bounded nesting; members are checked against the set a route accepts so a
 * typo is an error, not silently ignored. Messages written to err are safe to show a caller.
 */
#ifndef NOVA_JSON_H
#define NOVA_JSON_H

#include <jansson.h>

#include "nova/base.h"

#define NOVA_JSON_MAX_DEPTH 32

/* The memory a decode of n bytes may request from the allocator, freed or not:
 * 16 bytes per byte of text plus 16 KiB. Strings and arrays of strings, the shape of every
 * body Nova takes, need at most about 16x (long strings about 3x); what needs more is a body
 * made mostly of tiny containers or one-digit numbers ("[{},{},...]" needs about 75x). */
#define NOVA_JSON_BUDGET_PER_BYTE 16
#define NOVA_JSON_BUDGET_BASE 16384
#define NOVA_JSON_BUDGET(n) (NOVA_JSON_BUDGET_PER_BYTE * (size_t)(n) + NOVA_JSON_BUDGET_BASE)

/* Parses data as a JSON object whose top-level members are all in allowed (NULL-terminated;
 * NULL allows any). A top-level member not in allowed is refused before anything is built,
 * and the parse itself may request at most NOVA_JSON_BUDGET(n) bytes. NOVA_INVALID for a
 * body that is malformed, not an object, nested deeper than NOVA_JSON_MAX_DEPTH or has an
 * unknown member; NOVA_TOO_LARGE when the budget is exceeded. The caller owns *out
 * (json_decref). */
nova_status nova_json_parse_body(const char *data, size_t n, const char *const *allowed,
                                 json_t **out, char *err, size_t errlen);
/* nova_json_parse_body with any members allowed. */
nova_status nova_json_parse_object(const char *data, size_t n, json_t **out, char *err,
                                   size_t errlen);
/* NOVA_INVALID naming the first member of obj not in the NULL-terminated list allowed. */
nova_status nova_json_only_members(json_t *obj, const char *const *allowed, char *err,
                                   size_t errlen);
/* Reads a string member. Missing: *out = NULL and NOVA_OK unless required. Wrong type,
 * length outside [minlen, maxlen] or a control character: NOVA_INVALID. *out is borrowed
 * from obj. */
nova_status nova_json_get_string(json_t *obj, const char *key, bool required, size_t minlen,
                                 size_t maxlen, const char **out, char *err, size_t errlen);
/* Reads an array of strings (each as above) and joins it with single spaces into an arena
 * string; strings must be non-empty and contain no whitespace. Missing: *out = NULL. */
nova_status nova_json_get_words(json_t *obj, const char *key, bool required, size_t max_items,
                                size_t maxlen, nova_arena_t *a, const char **out, char *err,
                                size_t errlen);

#endif
