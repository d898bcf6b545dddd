/*
 * audit.h: the tamper-evident audit log (seed 003 §8). Every mutation writes one entry, in the
 * same store transaction as the change, into its tenant's hash chain:
 *
 *   row_hash(n) = SHA-256(canonical(id, seq, ts, tenant, actor, action, target, decision,
 *                                   attrs, prev_hash = row_hash(n-1)))
 *
 * The chain head (entry count and last row_hash per tenant) is kept in its own table and in
 * signed export manifests, so a deleted tail shows. docs/AUDIT.md gives the encoding byte by
 * byte, so an auditor can recompute every hash without Nova.
 *
 * What goes in an entry is minimal and redacted (§8.2): ids and names, never a secret, token,
 * key, image, document or card number. Attributes go through nova_audit_attrs, which applies
 * the one set of redaction rules (nova_redact_*) before the entry is hashed.
 *
 * This header is the domain's: pure computation (encoding, hashing, redaction, checking a
 * chain), no SQL. The store side (appending in a transaction, reading) is nova/audit_store.h.
 */
#ifndef NOVA_AUDIT_H
#define NOVA_AUDIT_H

#include <stdio.h>

#include "nova/base.h"

/* jansson's value type, declared here so that the store (which includes this header for the
 * entry types) needs no jansson; C11 allows jansson.h to repeat the typedef. */
typedef struct json_t json_t;

/* Hex SHA-256 of the entry before the first of a tenant's chain: 64 zeros. */
#define NOVA_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
/* The version tag that starts every canonical encoding. */
#define NOVA_AUDIT_ENCODING "nova-audit-v1"

/* Who acts. id: the principal (an API client id), "novactl" (the admin CLI) or "system"
 * (Nova itself: scheduled jobs, detections). request_id: the request's x-req-id, or NULL.
 * Borrowed strings. */
typedef struct nova_audit_actor {
    const char *id;
    const char *request_id;
} nova_audit_actor_t;

/* What a mutation asks to be written. Borrowed strings, copied by the store before it returns.
 *   tenant_id  the chain the entry joins: the tenant whose data changes
 *   actor      nova_audit_actor_t.id
 *   action     "<resource>.<verb>": "tenant.create", "client.revoke", "token.revoke"
 *   target     "<type>:<id>": "client:cli_...", "tenant:ten_...", "token:<jti>"
 *   decision   "allow" (the change was made; NULL means "allow") or "deny"
 *   attrs      a JSON object text made by nova_audit_attrs (canonical, redacted), or NULL
 *              for "{}"
 * ts, id, seq, prev_hash and row_hash are set by the store when it appends. */
typedef struct nova_audit_entry {
    const char *tenant_id;
    const char *actor;
    const char *action;
    const char *target;
    const char *decision;
    const char *attrs;
} nova_audit_entry_t;

/* A stored entry, as read back (arena strings) or as hashed. */
typedef struct nova_audit_record {
    const char *id; /* "aud_..." */
    const char *tenant_id;
    int64_t seq; /* position in the tenant's chain, 1, 2, ... */
    int64_t ts;  /* unix microseconds, taken under the chain lock (non-decreasing in seq) */
    const char *actor;
    const char *action;
    const char *target;
    const char *decision;
    const char *attrs;
    const char *prev_hash; /* 64 lower-case hex digits */
    const char *row_hash;
} nova_audit_record_t;

/* Appends the canonical encoding of r (all fields but row_hash) to out: see docs/AUDIT.md.
 * NOVA_INVALID when a field is missing. */
nova_status nova_audit_canonical(const nova_audit_record_t *r, nova_buf_t *out);
/* hex(SHA-256(canonical(r))) into out (65 bytes). */
nova_status nova_audit_row_hash(const nova_audit_record_t *r, char out[65]);
/* Checks that e can be written: tenant, actor, action and target present, printable, bounded;
 * decision "allow"/"deny"/NULL; attrs NULL or a JSON object. */
nova_status nova_audit_entry_check(const nova_audit_entry_t *e);

/* Attributes of an entry: obj (a JSON object, consumed) redacted by nova_redact_json, then
 * written in canonical form (keys sorted, compact, ASCII only) into ar. NULL obj gives "{}".
 * On error *out is NULL. */
nova_status nova_audit_attrs(nova_arena_t *ar, json_t *obj, const char **out);

/* Fills e for a mutation by `by` of target "<target_type>:<target_id>" in tenant_id: attrs
 * (a JSON object, consumed; NULL for none) gets "request_id" from by, then goes through
 * nova_audit_attrs. Strings are borrowed from the arguments or allocated in ar. */
nova_status nova_audit_entry_make(nova_audit_entry_t *e, nova_arena_t *ar,
                                  const nova_audit_actor_t *by, const char *tenant_id,
                                  const char *action, const char *target_type,
                                  const char *target_id, json_t *attrs);

/* Entries written since the process started (the audit_entries_written metric). */
uint64_t nova_audit_written_total(void);
/* Adds n to it: the store calls this after a commit that wrote n entries. */
void nova_audit_written_add(uint64_t n);

/* ---- redaction (§8.2): one set of rules for audit attributes and log lines ---- */

/* true when a JSON member or header of this name holds a credential or a secret
 * (password, secret, token, authorization, api key, private key, cookie, card number, ...). */
bool nova_redact_name(const char *name);
/* true when the value looks like a credential or card data whatever its name: a compact JWS,
 * an opaque token of Nova's shapes, a PEM block, a payment card number (13-19 digits passing
 * Luhn, spaces or dashes allowed). */
bool nova_redact_value(const char *value, size_t len);
/* Replaces in place, throughout obj (objects and arrays, any depth), every value named by
 * nova_redact_name or matched by nova_redact_value with "[redacted]". */
void nova_redact_json(json_t *obj);

/* ---- checking a chain ---- */

typedef enum nova_audit_fault {
    NOVA_AUDIT_INTACT = 0,
    NOVA_AUDIT_EDITED,    /* an entry's content (or its hash) no longer matches its row_hash */
    NOVA_AUDIT_DELETED,   /* an entry is missing inside the chain */
    NOVA_AUDIT_INSERTED,  /* an entry is in the chain that was not appended by Nova */
    NOVA_AUDIT_REORDERED, /* entries are intact but in the wrong positions */
    NOVA_AUDIT_TRUNCATED, /* entries at the end of the chain are missing */
} nova_audit_fault;

/* "intact", "edited", "deleted", "inserted", "reordered", "truncated". */
const char *nova_audit_fault_name(nova_audit_fault f);

/* A streaming checker of one tenant's chain: feed every row in seq order. It keeps no rows,
 * only the previous hash, so it checks chains of any length in constant memory. */
typedef struct nova_audit_verifier {
    /* set by init */
    int64_t head_count; /* the anchored chain head: entries appended */
    char head_hash[65]; /* and the last row_hash ("" when the tenant has no head row) */
    int64_t rows;       /* rows the log holds for the tenant (a COUNT, read before) */
    /* state */
    int64_t seen;
    int64_t expect_seq;
    char prev[65];
    char prev_id[64];
    /* result */
    nova_audit_fault fault;
    int64_t bad_seq;  /* position of the first bad entry (or of the first missing one) */
    char bad_id[64];  /* its id when there is a row there, else "" */
    char detail[256]; /* one sentence, safe to print */
} nova_audit_verifier_t;

/* head_hash NULL: the tenant has no head row (then head_count must be 0). rows: how many rows
 * the log holds for the tenant, so a shifted chain can be told from a reordered one. */
void nova_audit_verify_init(nova_audit_verifier_t *v, int64_t head_count, const char *head_hash,
                            int64_t rows);
/* Checks the next row. false once a fault is found (v->fault etc. say which); later calls
 * do nothing and return false. */
bool nova_audit_verify_next(nova_audit_verifier_t *v, const nova_audit_record_t *r);
/* After the last row: the end of the chain against the head. Returns v->fault. */
nova_audit_fault nova_audit_verify_end(nova_audit_verifier_t *v);

/* ---- over the store (src/audit/audit.c) ---- */

typedef struct nova_store nova_store_t;

/* Checks tenant_id's whole chain in the store: reads the head and the row count, then every
 * row in seq order, a page at a time. Returns NOVA_OK when the check ran (v->fault says what
 * it found), else the store's error. */
nova_status nova_audit_verify_tenant(nova_store_t *s, const char *tenant_id,
                                     nova_audit_verifier_t *v);

/* The platform's export-signing key: an Ed25519 key derived (HKDF-SHA-256, info
 * "nova audit export signing v1") from the master key, so every process holding the master
 * key signs with the same key and nothing more is stored. Appends its public key as PEM
 * (SubjectPublicKeyInfo) to pem. */
nova_status nova_audit_export_public_pem(const uint8_t master_key[32], nova_buf_t *pem);

/* Signs msg (n bytes) with that same platform key: a 64-byte Ed25519 signature. Other
 * domains sign what they publish with it (the policy bundles of nova/policy_decision.h). */
nova_status nova_audit_platform_sign(const uint8_t master_key[32], const void *msg, size_t n,
                                     uint8_t sig[64]);
/* NOVA_OK when sig is the platform key's signature of msg, NOVA_UNAUTHORIZED when not. */
nova_status nova_audit_platform_verify(const uint8_t master_key[32], const void *msg, size_t n,
                                       const uint8_t sig[64]);

/* Exports tenant_id's entries with from_ts <= ts < to_ts (unix microseconds; 0: no bound):
 * writes one JSON object per line to jsonl (members as in the table, attrs as the exact text
 * that was hashed), then appends the manifest (a JSON object: count, first and last seq and
 * hash, the chain head, the file's SHA-256) to manifest and its 64-byte Ed25519 signature to
 * sig. file_name is recorded in the manifest. */
nova_status nova_audit_export(nova_store_t *s, const uint8_t master_key[32], const char *tenant_id,
                              int64_t from_ts, int64_t to_ts, const char *file_name, FILE *jsonl,
                              nova_buf_t *manifest, uint8_t sig[64]);

/* Parses a time bound: unix seconds ("1767225600"), a date ("2026-01-01", midnight UTC) or
 * RFC 3339 UTC ("2026-01-01T12:00:00Z"). *us gets unix microseconds. */
nova_status nova_audit_parse_time(const char *text, int64_t *us);

#endif
