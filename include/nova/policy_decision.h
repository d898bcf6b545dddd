/*
 * policy_decision.h: Nova's decision point (issue 7 item 4). A tenant's policy bundle (the
 * relationship model it decides on, an action map onto the model's relations, a purpose
 * registry and rules in CEL) and the decision over the seed's §4.3 input document:
 * same tenant, purpose, relation, ABAC rules, step-up, answered allow, deny or
 * step_up_required with an explain record. Pure computation: the caller loads the model and
 * the tuple index and holds the index's read lock during nova_policy_decide.
 *
 * A bundle document (JSON):
 *   {"store_id": "<ULID of an OpenFGA store of the tenant>",
 *    "authorization_model_id": "<ULID of a model of that store>",
 *    "actions": {"<action>": {"relation": "<relation>", "resource_types": ["<type>", ...]}},
 *    "purposes": {"<purpose>": {"resource_types": [...], "actions": [...]}},
 *    "rules": [{"id": "<id>", "effect": "require" | "deny" | "step_up", "when": "<CEL>",
 *               "actions": [...], "aal": <1..3>}],
 *    "http": {"subject_type": "client", "user_subject_type": "user",
 *             "routes": [{"method": "GET", "path": "/v1/accounts/{id}",
 *                         "action": "<action>", "resource_type": "<type>"}]}}
 * "purposes" absent: purposes are not checked; present: every decision needs a registered
 * purpose. A rule's "actions" absent: it applies to every action. CEL reads subject,
 * resource, context, action, purpose and tenant.
 */
#ifndef NOVA_POLICY_DECISION_H
#define NOVA_POLICY_DECISION_H

#include <jansson.h>

#include "nova/policy.h"

typedef struct nova_policy_bundle nova_policy_bundle_t;

/* Parses and validates a bundle document (borrowed). On failure returns NOVA_INVALID and
 * writes to err a message that names the field as a JSON Pointer ("/rules/2/when: ...").
 * The caller frees *out. */
nova_status nova_policy_bundle_parse(const json_t *doc, nova_policy_bundle_t **out, char *err,
                                     size_t errlen);
/* Checks the bundle against its model: every action's relation exists on each of its
 * resource types. NOVA_INVALID with err naming the field otherwise. */
nova_status nova_policy_bundle_bind(const nova_policy_bundle_t *b, const nova_policy_model_t *m,
                                    char *err, size_t errlen);
const char *nova_policy_bundle_store_id(const nova_policy_bundle_t *b);
const char *nova_policy_bundle_model_id(const nova_policy_bundle_t *b);
/* The subject type callers seen by ext_authz and AuthZEN have ("client" unless the bundle's
 * http.subject_type says otherwise). */
const char *nova_policy_bundle_subject_type(const nova_policy_bundle_t *b);
/* The subject type people (user access tokens) have ("user" unless http.user_subject_type
 * says otherwise). */
const char *nova_policy_bundle_user_subject_type(const nova_policy_bundle_t *b);
/* Maps an HTTP request onto the bundle's http.routes (the first whose method and path pattern
 * match; HEAD matches GET): its action and resource type, and the resource id (the path's
 * {id} segment, else its last segment, decoded no further; in a). NOVA_NOT_FOUND when no
 * route matches. */
nova_status nova_policy_bundle_route(const nova_policy_bundle_t *b, const char *method,
                                     const char *path, nova_arena_t *a, const char **action,
                                     const char **resource_type, const char **resource_id);
void nova_policy_bundle_free(nova_policy_bundle_t *b);

/* Validates a §4.3 input document: tenant{id}, subject{type,id,aal?,roles?,attrs?},
 * resource{type,id,tenant_id,attrs?}, action, purpose?, context? and nothing else.
 * NOVA_INVALID with err naming the field. */
nova_status nova_policy_input_validate(const json_t *in, char *err, size_t errlen);

typedef enum nova_policy_answer {
    NOVA_POLICY_DENY = 0, /* the zero value: a decision not made is a deny */
    NOVA_POLICY_ALLOW,
    NOVA_POLICY_STEP_UP,
} nova_policy_answer;

/* "deny", "allow", "step_up_required". */
const char *nova_policy_answer_name(nova_policy_answer a);

/* What decided: one of a fixed set (for metrics): "same_tenant", "action", "purpose",
 * "relation", "rule", "step_up", "allow", "error". */
typedef struct nova_policy_decision {
    nova_policy_answer answer;
    int required_aal;   /* step_up: the AAL the subject must reach */
    const char *stage;  /* the stage that decided (static string) */
    const char *reason; /* a stable reason code (static string), e.g. "no_relation" */
    json_t *explain;    /* new reference, owned by the caller (json_decref) */
} nova_policy_decision_t;

/* Decides input (validated by nova_policy_input_validate) for caller_tenant under bundle b
 * with model m and the tuple index ix (may be NULL: no tuples). Never answers allow when
 * anything is missing or fails: b or m NULL, a CEL error or a missing attribute, a check error
 * (missing condition context, depth) all deny with the reason in explain. */
void nova_policy_decide(const nova_policy_bundle_t *b, const nova_policy_model_t *m,
                        const nova_policy_index_t *ix, const json_t *input,
                        const char *caller_tenant, nova_policy_decision_t *out);

/* Check with the relation path that was found: on NOVA_OK *path is a new JSON array of
 * "object#relation" steps from the asked object down to the tuple that matched, ending with
 * the tuple's user, or an empty array when allowed is false. Otherwise as nova_policy_check. */
nova_status nova_policy_check_explain(const nova_policy_query_t *q, const char *object,
                                      const char *relation, const char *user, bool *allowed,
                                      json_t **path, nova_policy_error_t *err);

#endif
