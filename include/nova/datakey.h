/*
 * datakey.h: field-level encryption of personal data (seed 003 §5.3). Each tenant has, per
 * region its data lives in, a data key: 32 random bytes, stored only wrapped by the region's
 * key (nova/envelope.h, where a KMS plugs in) and unwrapped into this process's memory on
 * first use (zeroed with OPENSSL_cleanse when the nova_auth_t is freed; never logged, never
 * returned). Keys are versioned: rotation makes a new version that seals from then on, the
 * older ones still open what they sealed.
 *
 * A sealed value is AES-256-GCM under the data key with associated data
 * "nova-field-v1|<tenant>|<region>|<version>|<context>", so it opens only in the tenant,
 * region and context (the column: "person.email", ...) it was sealed for. What it opens to is
 * a nova_plain_t (nova/shield.h): no char* view, and the logger withholds any line holding it.
 *
 * For the people, verification and ledger issues: store nova_sealed_encode's bytes in a BLOB
 * column, decrypt only the columns an action needs, free the plaintext at once.
 */
#ifndef NOVA_DATAKEY_H
#define NOVA_DATAKEY_H

#include "nova/audit.h"
#include "nova/auth.h"
#include "nova/datakey_store.h"
#include "nova/envelope.h"
#include "nova/shield.h"

/* A sealed field value: the data key version and nonce(12) || ciphertext || tag(16). Bytes
 * only, no text view. */
typedef struct nova_sealed {
    int64_t version;
    const uint8_t *ct;
    size_t len;
} nova_sealed_t;

/* Longest context name ("person.email"). */
#define NOVA_FIELD_CONTEXT_MAX 64

/* Seals n bytes at pt for (tenant_id, region, context) under the newest data key of
 * (tenant_id, region), creating version 1 the first time (audited "datakey.create" by
 * "system"). out->ct is in ar. The newest version is re-read from the store at most once a
 * second, so a rotation on another instance takes over new writes within that bound.
 * NOVA_INVALID for a bad region or context, NOVA_NOT_FOUND for an unknown tenant,
 * NOVA_UNAUTHORIZED when a stored key does not unwrap (another master key). */
nova_status nova_field_seal(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                            const char *tenant_id, const char *region, const char *context,
                            const void *pt, size_t n, nova_sealed_t *out);
/* Opens v sealed for (tenant_id, region, context). *out is the caller's, freed with
 * nova_plain_free. NOVA_UNAUTHORIZED when v was altered or sealed for another tenant,
 * region, context or key version (or under another master key); NOVA_NOT_FOUND when the
 * version does not exist there. */
nova_status nova_field_open(nova_auth_t *a, nova_store_t *s, const char *tenant_id,
                            const char *region, const char *context, const nova_sealed_t *v,
                            nova_plain_t **out);

/* One BLOB for a column: version (8 bytes big-endian) || ct. */
nova_status nova_sealed_encode(const nova_sealed_t *v, nova_buf_t *out);
/* Reads encode's bytes; out->ct points into p (borrowed). NOVA_INVALID when too short. */
nova_status nova_sealed_decode(const void *p, size_t n, nova_sealed_t *out);

/* Makes a new data key version for (tenant_id, region) that seals from now on; older versions
 * stay to open what they sealed (retired_at set). Audited "datakey.rotate" (attrs: region,
 * version, previous_version, envelope) in the same transaction. out (may be NULL) gets the new
 * row (strings in ar, wrapped key left out). NOVA_NOT_FOUND for an unknown tenant, NOVA_INVALID
 * for a bad region, NOVA_CONFLICT when a concurrent rotation took the version. */
nova_status nova_datakey_rotate(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                const nova_audit_actor_t *by, const char *tenant_id,
                                const char *region, nova_datakey_row_t *out);
/* Every data key version of the tenant (no key material). */
nova_status nova_datakey_list(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                              const char *tenant_id, nova_datakey_row_t **out, size_t *n);

/* Replaces the envelope (a KMS driver) used for keys wrapped from now on and for unwrapping;
 * takes ownership of e. Call before the auth object is shared between threads. */
void nova_auth_set_envelope(nova_auth_t *a, nova_envelope_t *e);

#endif
