/*
 * internal.h: the policy engine's private structures: the parsed model, CEL values and
 * programs, and the tuple index, shared by model.c, cel.c, index.c and check.c.
 */
#ifndef NOVA_POLICY_INTERNAL_H
#define NOVA_POLICY_INTERNAL_H

#include "nova/policy.h"

/* ---- CEL ---- */

typedef enum cel_kind {
    CEL_NULL,
    CEL_BOOL,
    CEL_INT,
    CEL_UINT,
    CEL_DOUBLE,
    CEL_STRING,
    CEL_BYTES,
    CEL_TIMESTAMP,
    CEL_DURATION,
    CEL_IPADDRESS,
    CEL_LIST,
    CEL_MAP,
    CEL_ANY,     /* parameter types only */
    CEL_UNKNOWN, /* a missing parameter: propagates, absorbed by && || like CEL's unknowns */
    CEL_ERROR,
} cel_kind;

/* A parameter's declared type: list<T> and map<T> carry their element type. */
typedef struct cel_type {
    cel_kind kind;
    struct cel_type *elem;
} cel_type_t;

typedef struct cel_value cel_value_t;
struct cel_value {
    cel_kind kind;
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        struct {
            const char *p;
            size_t n;
        } s; /* string, bytes; error message; unknown: the missing name */
        struct {
            int64_t sec;
            int32_t nsec;
        } ts;
        int64_t dur_ns;
        struct {
            int family; /* 4 or 6 */
            uint8_t addr[16];
        } ip;
        struct {
            cel_value_t *v; /* maps: keys at even, values at odd positions */
            size_t n;
        } list;
    };
};

/* One named input of an evaluation. */
typedef struct cel_binding {
    const char *name;
    cel_value_t value;
} cel_binding_t;

/* Evaluates p with the bindings; memory from a. The result is a bool, an unknown (the
 * first missing parameter's name in s) or an error (message in s). */
cel_value_t cel_eval(const nova_cel_program_t *p, const cel_binding_t *b, size_t nb,
                     nova_arena_t *a);
/* Converts a JSON value to a CEL value of the declared type. Returns an error value when it
 * does not fit. */
cel_value_t cel_from_json(const json_t *j, const cel_type_t *t, nova_arena_t *a);
/* Parses a parameter type name ("int", "list<string>", ...) into t (from a); false if bad. */
bool cel_type_parse(const char *s, size_t n, nova_arena_t *a, cel_type_t **t);
/* Every identifier the program reads at the top level (not a macro variable), for model
 * validation: calls fn for each. */
void cel_idents(const nova_cel_program_t *p, void (*fn)(void *arg, const char *name), void *arg);

/* ---- model ---- */

typedef enum rw_kind {
    RW_THIS,
    RW_COMPUTED,
    RW_TTU,
    RW_UNION,
    RW_INTERSECTION,
    RW_DIFFERENCE, /* child[0] but not child[1] */
} rw_kind;

typedef struct rw_node rw_node_t;
struct rw_node {
    rw_kind kind;
    const char *relation; /* computed: the relation; ttu: the relation on the parent */
    const char *tupleset; /* ttu: the relation holding the parents */
    int line, column;
    rw_node_t **child;
    size_t nchild;
};

/* One entry of a relation's directly related types: type, type:*, type#relation, each with
 * an optional condition. */
typedef struct rel_ref {
    const char *type;
    const char *relation; /* NULL unless a userset */
    bool wildcard;
    const char *condition; /* NULL when none */
    int line, column;
} rel_ref_t;

typedef struct pol_relation {
    const char *name;
    rw_node_t *rw;
    rel_ref_t *direct;
    size_t ndirect;
    int line, column;
} pol_relation_t;

typedef struct pol_type {
    const char *name;
    size_t name_len;
    pol_relation_t *rels;
    size_t nrels;
    int line, column;
} pol_type_t;

typedef struct pol_param {
    const char *name;
    cel_type_t *type;
} pol_param_t;

typedef struct pol_condition {
    const char *name;
    const char *expression;
    pol_param_t *params;
    size_t nparams;
    nova_cel_program_t *program;
    int line, column;
} pol_condition_t;

struct nova_policy_model {
    nova_arena_t arena;
    const char *schema_version;
    pol_type_t *types;
    size_t ntypes;
    pol_condition_t *conds;
    size_t nconds;
};

const pol_type_t *pol_type_find(const nova_policy_model_t *m, const char *name, size_t n);
const pol_relation_t *pol_relation_find(const pol_type_t *t, const char *name, size_t n);
const pol_condition_t *pol_condition_find(const nova_policy_model_t *m, const char *name);
/* Checks references, duplicates and conditions of a model built by a parser. */
nova_status pol_model_validate(nova_policy_model_t *m, nova_policy_error_t *err);

void pol_error(nova_policy_error_t *err, int code, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- tuple strings ---- */

/* A parsed "type:id" / "type:*" / "type:id#relation"; slices into the source string. */
typedef struct pol_user {
    nova_str_t type, id, relation; /* relation.len == 0 when none */
    bool wildcard;
} pol_user_t;

/* Parses an object ("type:id", no '#', id not '*'). */
bool pol_parse_object(const char *s, pol_user_t *out);
/* Parses a user. */
bool pol_parse_user(const char *s, pol_user_t *out);

/* ---- index ---- */

/* One tuple as the index holds it: the user's interned id, the condition name and
 * context (NULL when none). */
typedef struct ix_entry {
    uint32_t user;
    uint32_t cond; /* interned condition name, 0 when none */
    json_t *context;
} ix_entry_t;

/* The tuples of (object, relation), user ids ascending. A set is never freed before the
 * index, so its position (a set index) names it for the index's life. */
typedef struct ix_set {
    ix_entry_t *e;
    uint32_t n, cap;
    uint32_t object, relation; /* interned ids */
} ix_set_t;

/* Interned string id for s, or 0 when the index has never seen it. */
uint32_t ix_lookup(const nova_policy_index_t *ix, const char *s, size_t n);
/* The string of an id (NUL-terminated) and its length. */
const char *ix_string(const nova_policy_index_t *ix, uint32_t id, size_t *len);
/* The tuples of (object id, relation id), or NULL. */
const ix_set_t *ix_find(const nova_policy_index_t *ix, uint32_t object, uint32_t relation);
/* The reverse index: the sets (indices for ix_set_at) holding user id as a tuple's user,
 * each once, in no particular order; *n is their count (0 and NULL when none). Exact under
 * add and remove. */
const uint32_t *ix_user_sets(const nova_policy_index_t *ix, uint32_t user, uint32_t *n);
/* The set at index si (from ix_user_sets), and how many sets there are. */
const ix_set_t *ix_set_at(const nova_policy_index_t *ix, uint32_t si);
size_t ix_nsets(const nova_policy_index_t *ix);
/* Bit of an interned string: it was written as a tuple's user that is a wildcard or a
 * userset (so a scan for one plain user may skip every other plain user unparsed). */
#define IX_NOT_PLAIN 2
/* true unless id was written as a wildcard or userset user. */
bool ix_plain_user(const nova_policy_index_t *ix, uint32_t id);
/* Calls fn for every known object of the type (objects of tuples, and object parts of users). */
void ix_objects_of_type(const nova_policy_index_t *ix, const char *type, size_t n,
                        void (*fn)(void *arg, const char *object), void *arg);

/* ---- check ---- */

/* ListObjects by the scan (every known object of the type checked), the reverse expansion's
 * reference: same contract as nova_policy_list_objects. */
nova_status pol_list_objects_scan(const nova_policy_query_t *q, const char *type,
                                  const char *relation, const char *user, json_t **out,
                                  nova_policy_error_t *err);

#endif
