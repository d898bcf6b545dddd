/*
 * envelope.h: wrapping of per-tenant data keys by a key per region (seed 003 §5.3). A data
 * key (32 random bytes, nova/datakey.h) is stored only wrapped; the envelope is what wraps
 * and unwraps it, bound to (region, tenant, version) so a wrapped key copied to another
 * tenant, region or version does not unwrap.
 *
 * This is the place a KMS plugs in: a driver is two calls, and the one driver today
 * (nova_envelope_derived_new) stands in for a regional KMS with a key per region derived from
 * the master key, HKDF-SHA-256(master, "nova region key v1|<region>"), wrapping with
 * AES-256-GCM under associated data "<tenant>|<version>|<region>". A KMS driver would call the
 * region's KMS Encrypt/Decrypt (or wrap locally under a KMS-held key) with the same
 * associated data as encryption context; rows record which driver wrapped them
 * (nova_envelope_name), so a move to a KMS can rewrap them version by version.
 */
#ifndef NOVA_ENVELOPE_H
#define NOVA_ENVELOPE_H

#include "nova/base.h"

#define NOVA_DATAKEY_LEN 32

typedef struct nova_envelope nova_envelope_t;

/* A driver. ctx is the driver's own state. wrap appends the wrapped form of dk to out;
 * unwrap writes the data key back and fails NOVA_UNAUTHORIZED when the wrapped bytes, the
 * region, the tenant or the version do not match what was wrapped. Both may be called from
 * any thread at once. */
typedef struct nova_envelope_driver {
    const char *name; /* stored with each wrapped key: "derived-v1", "kms-...", ... */
    nova_status (*wrap)(void *ctx, const char *region, const char *tenant_id, int64_t version,
                        const uint8_t dk[NOVA_DATAKEY_LEN], nova_buf_t *out);
    nova_status (*unwrap)(void *ctx, const char *region, const char *tenant_id, int64_t version,
                          const uint8_t *wrapped, size_t n, uint8_t dk[NOVA_DATAKEY_LEN]);
    void (*free)(void *ctx); /* may be NULL */
} nova_envelope_driver_t;

/* An envelope over drv (borrowed, static in practice) and ctx (owned: drv->free at the end). */
nova_status nova_envelope_new(const nova_envelope_driver_t *drv, void *ctx, nova_envelope_t **out);
/* The derived driver: region keys from master (copied; the copy is zeroed on free). */
nova_status nova_envelope_derived_new(const uint8_t master[32], nova_envelope_t **out);
void nova_envelope_free(nova_envelope_t *e);
const char *nova_envelope_name(const nova_envelope_t *e);

/* Region codes: 2 to 16 of A-Z a-z 0-9 '-'. */
bool nova_envelope_region_valid(const char *region);

/* Wraps/unwraps dk for (region, tenant_id, version >= 1): NOVA_INVALID for a bad region,
 * tenant or version, else what the driver returns. unwrap leaves dk zeroed on failure. */
nova_status nova_envelope_wrap(nova_envelope_t *e, const char *region, const char *tenant_id,
                               int64_t version, const uint8_t dk[NOVA_DATAKEY_LEN],
                               nova_buf_t *out);
nova_status nova_envelope_unwrap(nova_envelope_t *e, const char *region, const char *tenant_id,
                                 int64_t version, const uint8_t *wrapped, size_t n,
                                 uint8_t dk[NOVA_DATAKEY_LEN]);

#endif
