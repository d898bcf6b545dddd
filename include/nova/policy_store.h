/*
 * policy_store.h: the relationship engine's repository (src/store/policy.c; tables fga_stores,
 * fga_models, fga_tuples, fga_changes, fga_assertions). Everything belongs to a tenant: a
 * store of another tenant is not found. Every mutation takes its audit entry and appends it in
 * the same transaction (nova/audit_store.h).
 *
 * The change feed. Each tuple written or deleted adds one fga_changes row with the store's
 * next seq (1, 2, ...). Writers of one store serialise on its fga_stores row, so seqs commit
 * in order: a reader that has applied every change up to seq n and then reads seq > n misses
 * nothing. Applying a change is idempotent (a write sets the tuple, a delete removes it), so
 * an index loaded by scanning fga_tuples after reading the feed's head, then brought up to
 * date from that head, is exact.
 *
 * Strings passed in are borrowed; strings read out are in the caller's arena. Times are unix
 * microseconds.
 */
#ifndef NOVA_POLICY_STORE_H
#define NOVA_POLICY_STORE_H

#include "nova/audit.h"
#include "nova/store.h"

typedef struct nova_fga_store {
    const char *id; /* a ULID */
    const char *tenant_id;
    const char *name;
    int64_t created_at;
    int64_t updated_at;
} nova_fga_store_t;

/* Creates a store (NOVA_CONFLICT when the id exists). */
nova_status nova_store_fga_store_create(nova_store_t *s, const nova_fga_store_t *st,
                                        const nova_audit_entry_t *audit);
/* A live store of the tenant; NOVA_NOT_FOUND when absent, deleted or another tenant's. */
nova_status nova_store_fga_store_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *id, nova_fga_store_t *out);
/* nova_store_fga_store_get and, in the same read, the store's latest model id ("" when it has
 * none) and its change feed's head: one round trip before a query instead of three. */
nova_status nova_store_fga_store_state(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       const char *id, nova_fga_store_t *out,
                                       const char **latest_model, int64_t *head);
/* Up to limit live stores of the tenant with id > after ("" from the start), by id. */
nova_status nova_store_fga_store_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *after, size_t limit, nova_fga_store_t **out,
                                      size_t *n);
/* Marks a live store deleted (its data stays, unreadable). NOVA_NOT_FOUND as get. */
nova_status nova_store_fga_store_delete(nova_store_t *s, const char *tenant_id, const char *id,
                                        int64_t now, const nova_audit_entry_t *audit);

typedef struct nova_fga_model {
    const char *id; /* a ULID */
    const char *store_id;
    const char *tenant_id;
    const char *schema_version;
    const char *json; /* the model's JSON form */
    int64_t created_at;
} nova_fga_model_t;

/* Writes a model of a live store (NOVA_NOT_FOUND when the store is not). */
nova_status nova_store_fga_model_insert(nova_store_t *s, const nova_fga_model_t *m,
                                        const nova_audit_entry_t *audit);
/* The model id of the store, or with id NULL its latest (NOVA_NOT_FOUND: none). */
nova_status nova_store_fga_model_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *store_id, const char *id, nova_fga_model_t *out);
/* Up to limit models of the store, newest first, older than before ("" from the newest). */
nova_status nova_store_fga_model_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *store_id, const char *before, size_t limit,
                                      nova_fga_model_t **out, size_t *n);

/* A stored tuple. condition and context are "" when the tuple has none; context is a JSON
 * object's text. change is what the change feed records for it (the tuple key as JSON, made by
 * the caller); ulid and created_at are the row's. */
typedef struct nova_fga_tuple {
    const char *object;
    const char *relation;
    const char *user;
    const char *condition;
    const char *context;
    const char *ulid;
    const char *change;
    int64_t created_at;
} nova_fga_tuple_t;

/* One write request: tuples to write, then tuples to delete, in one transaction. A write of a
 * tuple that exists is an error unless ignore_duplicate and the stored tuple has the same
 * condition and context (then nothing happens); a delete of an absent tuple is an error unless
 * ignore_missing. */
typedef struct nova_fga_write {
    const nova_fga_tuple_t *writes;
    size_t nwrites;
    const nova_fga_tuple_t *deletes;
    size_t ndeletes;
    bool ignore_duplicate;
    bool ignore_missing;
} nova_fga_write_t;

/* What a write did: seq is the feed's head after it (the consistency token); on
 * NOVA_CONFLICT bad is the index of the offending tuple in writes (bad_delete false) or in
 * deletes (bad_delete true), and nothing was written. NOVA_NOT_FOUND: no such live store. */
typedef struct nova_fga_write_result {
    int64_t seq;
    size_t bad;
    bool bad_delete;
} nova_fga_write_result_t;

nova_status nova_store_fga_write(nova_store_t *s, const char *tenant_id, const char *store_id,
                                 const nova_fga_write_t *w, int64_t now,
                                 const nova_audit_entry_t *audit, nova_fga_write_result_t *res);

/* One policy store's share of another change's transaction (a SCIM group's memberships):
 * w's tuples with their own audit entry. seq: the store's feed head after the write (the
 * consistency token; 0 when the store was gone and skipped). */
typedef struct nova_fga_batch {
    const char *store_id;
    nova_fga_write_t w;
    nova_audit_entry_t audit;
    int64_t now; /* the write's time, microseconds since the epoch */
    int64_t seq;
} nova_fga_batch_t;

/* Writes each batch inside the transaction open on s for tenant_id, as nova_store_fga_write
 * does (the same change-feed rows and audit entry), so the tuples commit or roll back with
 * the caller's change. A store deleted meanwhile is skipped; NOVA_CONFLICT as there (the
 * caller rolls back); NOVA_INVALID when no transaction is open. */
nova_status nova_store_fga_batches_in_tx(nova_store_t *s, const char *tenant_id,
                                         nova_fga_batch_t *b, size_t n);

/* A filter on tuples: every non-empty member must match; object_type matches the type of the
 * object ("document" matches "document:..."). Pages are ordered by (object, relation, user);
 * after_* ("" from the start) is the last tuple of the previous page. */
typedef struct nova_fga_tuple_filter {
    const char *object;
    const char *object_type;
    const char *relation;
    const char *user;
    const char *after_object, *after_relation, *after_user;
} nova_fga_tuple_filter_t;

nova_status nova_store_fga_tuple_read(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *store_id, const nova_fga_tuple_filter_t *f,
                                      size_t limit, nova_fga_tuple_t **out, size_t *n);

/* Calls fn for every tuple of the store (strings valid during the call only; change is NULL).
 * fn returning non-OK stops the scan with its status. */
typedef nova_status (*nova_fga_tuple_fn)(const nova_fga_tuple_t *t, void *ud);
nova_status nova_store_fga_tuple_scan(nova_store_t *s, const char *tenant_id, const char *store_id,
                                      nova_fga_tuple_fn fn, void *ud);

/* The change feed's head: the last seq of the store (0 when nothing was written). */
nova_status nova_store_fga_change_head(nova_store_t *s, const char *tenant_id, const char *store_id,
                                       int64_t *seq);

typedef struct nova_fga_change {
    int64_t seq;
    const char *op;    /* "write" | "delete" */
    const char *tuple; /* the change text the writer recorded */
    int64_t ts;
} nova_fga_change_t;

/* Up to limit changes with seq > after_seq and ts >= from_ts, in seq order. */
nova_status nova_store_fga_changes(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *store_id, int64_t after_seq, int64_t from_ts,
                                   size_t limit, nova_fga_change_t **out, size_t *n);

/* Replaces the assertions of a model of the store (json: their JSON text). NOVA_NOT_FOUND when
 * the store or the model is not there. */
nova_status nova_store_fga_assertions_put(nova_store_t *s, const char *tenant_id,
                                          const char *store_id, const char *model_id,
                                          const char *json, int64_t now,
                                          const nova_audit_entry_t *audit);
/* The assertions' JSON text, "" when none were written. */
nova_status nova_store_fga_assertions_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                          const char *store_id, const char *model_id,
                                          const char **json);

/* ---- policy bundles and their lifecycle (migration 0014) ---- */

/* One version of a tenant's policy: the bundle document (nova/policy_decision.h) as text,
 * the hex SHA-256 of that text and the platform key's signature (base64url) over
 * nova_policy_bundle_signed_text(). Written once, never changed. */
typedef struct nova_policy_version {
    const char *tenant_id;
    int64_t version;
    const char *body;
    const char *digest;
    const char *signature;
    const char *created_by;
    int64_t created_at;
} nova_policy_version_t;

/* The version the next publish of the tenant takes (1 for the first). */
nova_status nova_store_policy_next_version(nova_store_t *s, const char *tenant_id, int64_t *out);
/* Writes v; NOVA_CONFLICT when the version is taken (a concurrent publish: take the next one
 * and sign again). */
nova_status nova_store_policy_insert(nova_store_t *s, const nova_policy_version_t *v,
                                     const nova_audit_entry_t *audit);
/* NOVA_NOT_FOUND when the tenant has no such version. */
nova_status nova_store_policy_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                  int64_t version, nova_policy_version_t *out);
/* Up to limit versions below before (0: from the newest), newest first. */
nova_status nova_store_policy_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   int64_t before, size_t limit, nova_policy_version_t **out,
                                   size_t *n);

/* Which version decides, the rollback target, and the shadowed candidate. All 0 when the
 * tenant has never promoted one. */
typedef struct nova_policy_state {
    int64_t active;
    int64_t previous;
    int64_t shadow;
    int shadow_percent; /* 0..100 */
    int64_t updated_at;
} nova_policy_state_t;

nova_status nova_store_policy_state_get(nova_store_t *s, const char *tenant_id,
                                        nova_policy_state_t *out);
/* Replaces the state when its active version is still expect_active (else NOVA_CONFLICT:
 * someone promoted meanwhile), with its audit entry in the same transaction. */
nova_status nova_store_policy_state_put(nova_store_t *s, const char *tenant_id,
                                        const nova_policy_state_t *st, int64_t expect_active,
                                        const nova_audit_entry_t *audit);

/* A shadowed decision where the candidate differed. */
typedef struct nova_policy_drift {
    int64_t seq; /* set by insert */
    int64_t shadow_version, active_version;
    const char *action, *resource_type;
    const char *live, *shadow;               /* answers */
    const char *live_reason, *shadow_reason; /* reason codes */
    int64_t ts;
} nova_policy_drift_t;

/* Records one drift row (a decision log, not a change of the tenant's state: no audit). */
nova_status nova_store_policy_drift_insert(nova_store_t *s, const char *tenant_id,
                                           const nova_policy_drift_t *d);
/* The newest limit drift rows of shadow_version and how many there are in all. */
nova_status nova_store_policy_drift_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                         int64_t shadow_version, size_t limit,
                                         nova_policy_drift_t **out, size_t *n, int64_t *total);

#endif
