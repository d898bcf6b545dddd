/*
 * policy.h: the relationship engine (OpenFGA-compatible). Pure computation: models, an
 * in-memory tuple index, CEL conditions, Check, ListObjects and ListUsers. No store, no HTTP,
 * no threads. A model never changes once parsed; an index is written by one thread at a time
 * and may be read by many only while nobody writes (the caller holds the lock).
 */
#ifndef NOVA_POLICY_H
#define NOVA_POLICY_H

#include <jansson.h>

#include "nova/base.h"

/* OpenFGA error codes, as its API reports them. */
enum {
    NOVA_POLICY_E_VALIDATION = 2000, /* validation_error (also condition errors) */
    NOVA_POLICY_E_AUTHZ_MODEL_NOT_FOUND = 2001,
    NOVA_POLICY_E_RESOLUTION_DEPTH = 2002,   /* authorization_model_resolution_too_complex */
    NOVA_POLICY_E_INVALID_WRITE = 2003,      /* invalid_write_input */
    NOVA_POLICY_E_TUPLE_EXISTS = 2004,       /* cannot_allow_duplicate_tuples_in_one_request */
    NOVA_POLICY_E_INVALID_MODEL = 2016,      /* invalid_authorization_model */
    NOVA_POLICY_E_TYPE_NOT_FOUND = 2021,     /* type_not_found */
    NOVA_POLICY_E_RELATION_NOT_FOUND = 2022, /* relation_not_found */
    NOVA_POLICY_E_INVALID_TUPLE = 2027,      /* invalid_tuple */
};

/* An error of the engine: the OpenFGA code, a message, and for model text the 1-based line
 * and column of the offending token (0 when not about text). */
typedef struct nova_policy_error {
    int code;
    int line, column;
    char message[256];
} nova_policy_error_t;

/* OpenFGA's short name of a code ("validation_error", "type_not_found", ...). */
const char *nova_policy_error_name(int code);

/* ---- models ---- */

typedef struct nova_policy_model nova_policy_model_t;

/* Parses a model in the OpenFGA modeling language (schema 1.1), conditions included, and
 * validates it (every referenced type, relation and condition exists; no relation is defined
 * twice; every condition expression compiles). On failure *out is NULL and err names the line
 * and column; code NOVA_POLICY_E_INVALID_MODEL. The caller frees *out. */
nova_status nova_policy_model_parse(const char *text, size_t len, nova_policy_model_t **out,
                                    nova_policy_error_t *err);
/* Same from the JSON form of OpenFGA's API (an object with schema_version, type_definitions,
 * conditions; camelCase and snake_case member names both accepted). json is borrowed. */
nova_status nova_policy_model_from_json(const json_t *json, nova_policy_model_t **out,
                                        nova_policy_error_t *err);
/* The JSON form (as OpenFGA's API writes it). New reference, NULL when out of memory. */
json_t *nova_policy_model_to_json(const nova_policy_model_t *m);
void nova_policy_model_free(nova_policy_model_t *m);

/* ---- tuples ---- */

/* A relationship tuple. Strings and context are borrowed from the caller. user is
 * "type:id", "type:*" or "type:id#relation"; condition is NULL or a condition name and
 * context NULL or a JSON object of that condition's parameters. */
typedef struct nova_policy_tuple {
    const char *object;
    const char *relation;
    const char *user;
    const char *condition;
    const json_t *context;
} nova_policy_tuple_t;

/* The tuple is well formed and allowed by the model: the object's type has the relation and
 * the relation's directly related types admit the user (type, wildcard, userset, condition).
 * On failure err->code is NOVA_POLICY_E_INVALID_TUPLE (NOVA_INVALID). */
nova_status nova_policy_tuple_validate(const nova_policy_model_t *m, const nova_policy_tuple_t *t,
                                       nova_policy_error_t *err);

/* In-memory tuple index. Strings are interned; each tuple costs a small fixed entry. */
typedef struct nova_policy_index nova_policy_index_t;

nova_policy_index_t *nova_policy_index_new(void);
void nova_policy_index_free(nova_policy_index_t *ix);
/* Adds t (copied). NOVA_CONFLICT when (object, relation, user) is present already,
 * NOVA_INVALID when a string is malformed, NOVA_NOMEM. */
nova_status nova_policy_index_add(nova_policy_index_t *ix, const nova_policy_tuple_t *t);
/* Removes (object, relation, user); NOVA_NOT_FOUND when absent. */
nova_status nova_policy_index_remove(nova_policy_index_t *ix, const char *object,
                                     const char *relation, const char *user);
/* Gives the spare capacity of the index's growable arrays back to the allocator; for after a
 * bulk load (later adds grow them again). Never fails. */
void nova_policy_index_shrink(nova_policy_index_t *ix);
/* Number of tuples held. */
size_t nova_policy_index_count(const nova_policy_index_t *ix);
/* Bytes held by the index (strings, tables, entries), for metrics and the bench. */
size_t nova_policy_index_memory(const nova_policy_index_t *ix);

/* ---- queries ---- */

/* What a query runs against. index may be NULL (only contextual tuples); contextual tuples
 * are validated against the model (NOVA_POLICY_E_INVALID_TUPLE); context is NULL or an
 * object of condition parameters (a tuple's own context wins over it). max_depth 0 means
 * OpenFGA's default of 25. */
typedef struct nova_policy_query {
    const nova_policy_model_t *model;
    const nova_policy_index_t *index;
    const nova_policy_tuple_t *contextual;
    size_t ncontextual;
    const json_t *context;
    int max_depth;
} nova_policy_query_t;

/* Does user have relation on object? On NOVA_OK *allowed holds the answer; any other status
 * fills err (validation 2000, depth 2002, invalid contextual tuple 2027, a condition that
 * lacks parameters or fails to evaluate 2000) and *allowed is false. */
nova_status nova_policy_check(const nova_policy_query_t *q, const char *object,
                              const char *relation, const char *user, bool *allowed,
                              nova_policy_error_t *err);

/* Objects of type on which user has relation: a new JSON array of "type:id" strings in
 * *out (sorted), or an error as nova_policy_check (2021 unknown type, 2022 unknown relation). */
nova_status nova_policy_list_objects(const nova_policy_query_t *q, const char *type,
                                     const char *relation, const char *user, json_t **out,
                                     nova_policy_error_t *err);

/* Users that have relation on object, restricted to filters ("type" or "type#relation"):
 * a new JSON array of user strings ("type:id", "type:*", "type:id#relation") in *out, sorted. */
nova_status nova_policy_list_users(const nova_policy_query_t *q, const char *object,
                                   const char *relation, const char *const *filters,
                                   size_t nfilters, json_t **out, nova_policy_error_t *err);

/* ---- conditions (CEL), exposed for tests and the fuzzer ---- */

typedef struct nova_cel_program nova_cel_program_t;

/* Compiles a CEL expression. On failure returns NOVA_INVALID with err (line/column relative to
 * the expression). The caller frees with nova_cel_free. */
nova_status nova_cel_compile(const char *expr, size_t len, nova_cel_program_t **out,
                             nova_policy_error_t *err);
void nova_cel_free(nova_cel_program_t *p);

/* Evaluates a compiled program with each member of vars (a JSON object) bound by name as a
 * dynamic value (objects are maps, arrays lists, numbers int or double). NOVA_OK with *result
 * when the expression gives a bool; NOVA_INVALID with why (at most whylen bytes) when it gives
 * an error (a missing map key, a type mismatch), reads a variable vars lacks, or is not a bool.
 * Used outside the relationship engine (the verification gateway's review rules). */
nova_status nova_cel_eval_json(const nova_cel_program_t *p, const json_t *vars, bool *result,
                               char *why, size_t whylen);

#endif
