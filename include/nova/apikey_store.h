/*
 * apikey_store.h: the repository of API keys (src/store/apikeys.c, tables api_keys and
 * api_key_spend). A key's secret is kept twice, never in clear: sealed (AES-256-GCM, for the
 * HMAC the server must compute) and as an argon2id hash (the seed's record of it). Both are
 * made by the auth domain; the store only keeps bytes. Every mutation takes its audit entry
 * and appends it in the same transaction (nova/audit_store.h).
 */
#ifndef NOVA_APIKEY_STORE_H
#define NOVA_APIKEY_STORE_H

#include "nova/audit.h"
#include "nova/store.h"

typedef struct nova_apikey {
    const char *id; /* "ak_live_..." / "ak_test_..." */
    const char *tenant_id;
    const char *tenant_name; /* filled by nova_store_apikey_find only */
    const char *mode;        /* "live" or "test" */
    const char *purpose;
    const char *scopes;          /* space-separated */
    const char *ip_allowlist;    /* space-separated CIDRs, "" for any address */
    int64_t rate_per_minute;     /* 0: no limit */
    int64_t budget_daily;        /* minor units of budget_currency per UTC day */
    const char *budget_currency; /* "" when the key has no amount budget */
    const char *secret_hash;     /* argon2id (libsodium crypto_pwhash_str) */
    const uint8_t *secret_enc;   /* sealed secret */
    size_t secret_enc_len;
    const char *prev_secret_hash; /* the secret before the last rotation, "" when none */
    const uint8_t *prev_secret_enc;
    size_t prev_secret_enc_len;
    int64_t prev_valid_until; /* the previous secret is accepted while now < this */
    int64_t version;          /* 1, then +1 per rotation */
    int64_t expires_at;       /* 0: never */
    const char *created_by;
    int64_t created_at;
    int64_t rotated_at; /* 0: never */
    int64_t revoked_at; /* 0: live */
} nova_apikey_t;

/* Inserts k with its audit entry. */
nova_status nova_store_apikey_create(nova_store_t *s, const nova_apikey_t *k,
                                     const nova_audit_entry_t *audit);
/* Looks a key up by its globally unique id (authentication does not know the tenant yet), with
 * its tenant's name. Revoked and expired keys are returned too. */
nova_status nova_store_apikey_find(nova_store_t *s, nova_arena_t *a, const char *id,
                                   nova_apikey_t *out);
/* The key if it is the tenant's, else NOVA_NOT_FOUND. */
nova_status nova_store_apikey_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                  const char *id, nova_apikey_t *out);
/* The tenant's keys, oldest first, revoked ones included. */
nova_status nova_store_apikey_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   nova_apikey_t **out, size_t *n);
/* Marks a live key revoked. NOVA_NOT_FOUND when it is not the tenant's or revoked already. */
nova_status nova_store_apikey_revoke(nova_store_t *s, const char *tenant_id, const char *id,
                                     int64_t now, const nova_audit_entry_t *audit);
/* Rotation: the current secret becomes the previous one (valid until prev_valid_until), the
 * new one current, version + 1. NOVA_NOT_FOUND unless the key is the tenant's and live. */
nova_status nova_store_apikey_rotate(nova_store_t *s, const char *tenant_id, const char *id,
                                     const char *secret_hash, const uint8_t *secret_enc,
                                     size_t secret_enc_len, int64_t prev_valid_until, int64_t now,
                                     const nova_audit_entry_t *audit);
/* Adds amount to the key's spend for day ("YYYY-MM-DD", UTC) unless the total would pass
 * limit: NOVA_OK with *spent the new total, audited; NOVA_FORBIDDEN with *spent the total so
 * far when it would, nothing written. Atomic against concurrent spenders (the row is updated
 * with the limit in its WHERE clause). */
nova_status nova_store_apikey_spend(nova_store_t *s, const char *tenant_id, const char *id,
                                    const char *day, const char *currency, int64_t amount,
                                    int64_t limit, const nova_audit_entry_t *audit, int64_t *spent);

#endif
