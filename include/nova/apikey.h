/*
 * apikey.h: API keys (seed 003 §6.1, §6.2): the domain of src/auth/apikeys.c.
 *
 * A key has a public id ("ak_live_" or "ak_test_" and 22 base64url characters) and a secret
 * ("aks_" and 43 base64url characters) shown once. Callers sign every request:
 *
 *   canonical = METHOD "\n" target "\n" hex(SHA-256(body)) "\n" date "\n" nonce
 *   signature = base64url(HMAC-SHA-256(key = the secret's ASCII bytes, canonical))
 *
 * target is the request target exactly as sent (raw path, and "?" and the raw query when the
 * request has one); date is the Date header's text (IMF-fixdate, RFC 9110 §5.6.7); sent as
 * x-api-key-id, x-signature, x-nonce and date. docs/API.md has a worked example.
 *
 * The secret is stored sealed (AES-256-GCM, key HKDF(master key, "nova api-key seal v1"),
 * associated data "id|tenant") next to its argon2id hash. Verifying a request unseals the
 * secret once per process and key version (checking it against the hash then), and keeps
 * it in a small cache, so a request costs one HMAC and no argon2id; the key's row (revoked,
 * expired, rotated) is read from the store on every request, as tokens' liveness is.
 */
#ifndef NOVA_APIKEY_H
#define NOVA_APIKEY_H

#include "nova/apikey_store.h"
#include "nova/auth.h"
#include "nova/kv.h"

#define NOVA_APIKEY_ID_LEN 30     /* "ak_live_" + 22 */
#define NOVA_APIKEY_SECRET_LEN 47 /* "aks_" + 43 */
#define NOVA_APIKEY_NONCE_MIN 16
#define NOVA_APIKEY_NONCE_MAX 128
#define NOVA_APIKEY_SKEW_MAX 300 /* seconds: the nonce cache holds 2 x skew, at most 10 min */
#define NOVA_APIKEY_OVERLAP_MAX (7 * 86400)

/* Why a signed request was refused; one code each (docs/API.md). */
typedef enum nova_apikey_fail {
    NOVA_APIKEY_OK = 0,
    NOVA_APIKEY_MALFORMED, /* a signature header missing or malformed */
    NOVA_APIKEY_UNKNOWN,   /* no key has this id */
    NOVA_APIKEY_REVOKED,
    NOVA_APIKEY_EXPIRED,
    NOVA_APIKEY_IP,        /* the peer address is outside the key's allow-list */
    NOVA_APIKEY_SKEW,      /* the date is outside the clock-skew window */
    NOVA_APIKEY_SIGNATURE, /* the HMAC matches neither the secret nor an overlapping one */
    NOVA_APIKEY_REPLAY,    /* the nonce was used before with this key */
    NOVA_APIKEY_BUDGET,    /* over the key's requests per minute */
    NOVA_APIKEY_FAIL_COUNT_
} nova_apikey_fail;

/* "malformed", "unknown_key", "revoked", "expired", "ip_not_allowed", "clock_skew",
 * "bad_signature", "nonce_replayed", "budget_exceeded" (metric labels). */
const char *nova_apikey_fail_name(nova_apikey_fail f);

/* ---- the signature's parts (pure) ---- */

/* The four headers as received (NULL when absent). */
typedef struct nova_apikey_headers {
    const char *key_id, *signature, *nonce, *date;
} nova_apikey_headers_t;

typedef struct nova_apikey_parsed {
    char key_id[NOVA_APIKEY_ID_LEN + 1];
    uint8_t mac[32];
    char nonce[NOVA_APIKEY_NONCE_MAX + 1];
    const char *date_text; /* borrowed from the headers */
    int64_t date;          /* unix seconds */
} nova_apikey_parsed_t;

/* Checks and decodes the headers: key id of the shape above, signature 43 base64url
 * characters (32 bytes), nonce 16-128 of [A-Za-z0-9_-], date an IMF-fixdate whose weekday is
 * right. NOVA_INVALID with *why (a static sentence) otherwise. */
nova_status nova_apikey_headers_parse(const nova_apikey_headers_t *h, nova_apikey_parsed_t *out,
                                      const char **why);
/* Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into unix seconds. */
nova_status nova_apikey_date_parse(const char *s, int64_t *out);
/* Formats t as an IMF-fixdate (30 bytes with the NUL). */
void nova_apikey_date_format(int64_t t, char out[30]);
/* Appends the canonical string to out. */
nova_status nova_apikey_canonical(const char *method, const char *target, const void *body,
                                  size_t len, const char *date, const char *nonce, nova_buf_t *out);
/* HMAC-SHA-256 of canonical under secret, into mac. */
void nova_apikey_mac(const char *secret, size_t secret_len, const void *canonical, size_t n,
                     uint8_t mac[32]);

/* ---- IP allow-lists ---- */

typedef struct nova_cidr {
    int family; /* 4 or 6 */
    unsigned bits;
    uint8_t addr[16];
} nova_cidr_t;

/* "a.b.c.d/n" (n 0-32), an IPv6 address "/n" (0-128), or a bare address (all its bits).
 * Host bits must be zero ("10.0.0.1/8" is NOVA_INVALID), as PostgreSQL's cidr wants. */
nova_status nova_cidr_parse(const char *s, size_t n, nova_cidr_t *out);
/* true when ip (text, as nova_req_peer_ip gives it) lies in c; families must agree. */
bool nova_cidr_contains(const nova_cidr_t *c, const char *ip);
/* true when ip lies in one of the space-separated CIDRs of list. An empty list matches
 * nothing (callers treat "" as "no allow-list" themselves). */
bool nova_cidr_list_contains(const char *list, const char *ip);

/* ---- keys ---- */

typedef struct nova_apikey_spec {
    const char *mode;            /* "live" (NULL) or "test" */
    const char *purpose;         /* 1-200 printable characters: what the key is for */
    const char *scopes;          /* space-separated, each in nova_auth_scopes */
    const char **ip_allowlist;   /* NULL-terminated CIDRs (at most 32), NULL or empty: any */
    int64_t rate_per_minute;     /* 0: none; else 1..1000000 */
    int64_t budget_daily;        /* with budget_currency: minor units per UTC day, >= 0 */
    const char *budget_currency; /* ISO 4217 (three capitals) or NULL: no amount budget */
    int64_t expires_at;          /* unix seconds in the future, 0: never */
} nova_apikey_spec_t;

/* Creates a key in tenant_id, audited as "api_key.create" by `by` (no secret in the entry).
 * *secret gets the secret (shown once). NOVA_INVALID with *why for a bad spec. */
nova_status nova_auth_apikey_create(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const nova_apikey_spec_t *spec, nova_apikey_t *out,
                                    const char **secret, const char **why);
/* Issues a new secret; the current one stays valid for overlap seconds (0..7 days) and is
 * then refused. A rotation during an overlap ends the older secret at once. Audited as
 * "api_key.rotate". NOVA_NOT_FOUND unless the key is the tenant's and live. */
nova_status nova_auth_apikey_rotate(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const char *id, int64_t overlap, nova_apikey_t *out,
                                    const char **secret);
/* Revokes a key at once (audited as "api_key.revoke"). */
nova_status nova_auth_apikey_revoke(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const char *id);

/* ---- verifying a signed request ---- */

/* Before the body: reads the key (store), then refuses a revoked or expired key, a peer
 * outside its allow-list and a date more than skew seconds from now. NOVA_OK with *key;
 * NOVA_UNAUTHORIZED or NOVA_FORBIDDEN with *fail; a store error (fail closed). */
nova_status nova_auth_apikey_precheck(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                      const nova_apikey_parsed_t *h, const char *peer_ip,
                                      int64_t now, unsigned skew, nova_apikey_t *key,
                                      nova_apikey_fail *fail);
/* With the body: the HMAC against the key's secret, or its previous one while the overlap
 * lasts (constant-time compares). NOVA_OK, NOVA_UNAUTHORIZED (*fail SIGNATURE), or
 * NOVA_INTERNAL when a sealed secret does not open (a row not made under this master key). */
nova_status nova_auth_apikey_verify(nova_auth_t *a, const nova_apikey_t *key,
                                    const nova_apikey_parsed_t *h, const char *method,
                                    const char *target, const void *body, size_t len, int64_t now,
                                    nova_apikey_fail *fail);
/* After the signature: claims the nonce (kept 2 x skew, at least 5 min) and counts the
 * request against the key's per-minute budget, both in kv. NOVA_OK; NOVA_UNAUTHORIZED (*fail
 * REPLAY); NOVA_FORBIDDEN (*fail BUDGET, *retry_s the seconds to the next window);
 * NOVA_UNAVAILABLE when kv is down (fail closed). */
nova_status nova_auth_apikey_admit(nova_kv_t *kv, const nova_apikey_t *key,
                                   const nova_apikey_parsed_t *h, unsigned skew,
                                   nova_apikey_fail *fail, int64_t *retry_s);

/* ---- the amount budget (called by the ledger) ---- */

/* Spends amount (minor units, > 0) of currency from key id's budget for now's UTC day, audited
 * as "api_key.spend" by `by`. NOVA_OK with *remaining what is left today; NOVA_FORBIDDEN when
 * it would pass the budget (the caller answers BUDGET_EXCEEDED; nothing is spent);
 * NOVA_INVALID for another currency or a bad amount; NOVA_NOT_FOUND for an unknown key;
 * NOVA_UNAUTHORIZED for a revoked or expired one. A key
 * without an amount budget spends freely (*remaining INT64_MAX, nothing stored). */
nova_status nova_auth_apikey_budget_consume(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                            const nova_audit_actor_t *by, const char *tenant_id,
                                            const char *id, const char *currency, int64_t amount,
                                            int64_t now, int64_t *remaining);

#endif
