/*
 * apikeys.c: API keys (nova/apikey.h): creation, rotation with an overlap window, revocation,
 * the HMAC request signature (canonical string, IMF-fixdate, header checks), IP allow-lists,
 * the nonce replay cache and per-minute budget in the control plane, and the daily amount
 * budget the ledger spends from.
 *
 * Cost of a signed request: one store read (the key's row and its tenant), one HMAC, two kv
 * calls. The secret is opened (AES-GCM) and checked against its argon2id hash only when this
 * process meets a key version for the first time; the result is kept in a direct-mapped cache
 * of KEY_CACHE slots under one mutex (a copy in or out, never I/O under it).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "internal.h"
#include "nova/apikey.h"
#include "nova/log.h"

/* argon2id cost (OWASP's minimum: 19 MiB, 2 passes): the secret is 256 random bits, so the
 * hash only has to be a faithful record, not a brake on guessing. */
#define AK_PWHASH_OPS 2
#define AK_PWHASH_MEM (19u << 20)
#define KEY_CACHE 512

static const char *const fail_names[NOVA_APIKEY_FAIL_COUNT_] = {
    [NOVA_APIKEY_OK] = "ok",
    [NOVA_APIKEY_MALFORMED] = "malformed",
    [NOVA_APIKEY_UNKNOWN] = "unknown_key",
    [NOVA_APIKEY_REVOKED] = "revoked",
    [NOVA_APIKEY_EXPIRED] = "expired",
    [NOVA_APIKEY_IP] = "ip_not_allowed",
    [NOVA_APIKEY_SKEW] = "clock_skew",
    [NOVA_APIKEY_SIGNATURE] = "bad_signature",
    [NOVA_APIKEY_REPLAY] = "nonce_replayed",
    [NOVA_APIKEY_BUDGET] = "budget_exceeded",
};

const char *nova_apikey_fail_name(nova_apikey_fail f)
{
    return (unsigned)f < NOVA_APIKEY_FAIL_COUNT_ ? fail_names[f] : "unknown";
}

/* ---- headers, dates, canonical string ---- */

static bool b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static bool b64url_run(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!b64url_char((unsigned char)s[i]))
            return false;
    return true;
}

static bool key_id_valid(const char *id)
{
    size_t n = strlen(id);
    return n == NOVA_APIKEY_ID_LEN &&
           (strncmp(id, "ak_live_", 8) == 0 || strncmp(id, "ak_test_", 8) == 0) &&
           b64url_run(id + 8, n - 8);
}

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int two(const char *p)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return -1;
    return (p[0] - '0') * 10 + (p[1] - '0');
}

nova_status nova_apikey_date_parse(const char *s, int64_t *out)
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT": fixed width, 29 characters. No leap second (":60"): a
     * parsed date formats back to the same text. */
    if (s == NULL || strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' ||
        memcmp(s + 26, "GMT", 3) != 0)
        return NOVA_INVALID;
    int wday = -1, mon = -1;
    for (int i = 0; i < 7; i++)
        if (memcmp(s, wdays[i], 3) == 0)
            wday = i;
    for (int i = 0; i < 12; i++)
        if (memcmp(s + 8, months[i], 3) == 0)
            mon = i;
    int day = two(s + 5), yhi = two(s + 12), ylo = two(s + 14), hh = two(s + 17), mm = two(s + 20),
        ss = two(s + 23);
    if (wday < 0 || mon < 0 || day < 1 || yhi < 0 || ylo < 0 || hh < 0 || hh > 23 || mm < 0 ||
        mm > 59 || ss < 0 || ss > 59)
        return NOVA_INVALID;
    struct tm tm = {.tm_year = yhi * 100 + ylo - 1900,
                    .tm_mon = mon,
                    .tm_mday = day,
                    .tm_hour = hh,
                    .tm_min = mm,
                    .tm_sec = ss};
    time_t t = timegm(&tm);
    /* timegm normalises 31 Feb into March: a date that moved, or a wrong weekday, is not the
     * date that was written. */
    if (t == (time_t)-1 || tm.tm_mday != day || tm.tm_mon != mon || tm.tm_wday != wday ||
        !nova_time_in_range((int64_t)t))
        return NOVA_INVALID;
    *out = (int64_t)t;
    return NOVA_OK;
}

void nova_apikey_date_format(int64_t t, char out[30])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, 30, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

nova_status nova_apikey_headers_parse(const nova_apikey_headers_t *h, nova_apikey_parsed_t *out,
                                      const char **why)
{
    memset(out, 0, sizeof(*out));
    if (!h->key_id || !h->signature || !h->nonce || !h->date) {
        *why = "a signed request needs x-api-key-id, x-signature, x-nonce and date";
        return NOVA_INVALID;
    }
    if (!key_id_valid(h->key_id)) {
        *why = "x-api-key-id is not an API key id (ak_live_... or ak_test_...)";
        return NOVA_INVALID;
    }
    size_t sl = strlen(h->signature), ml = 0;
    uint8_t mac[33];
    if (sl != 43 || !b64url_run(h->signature, sl) ||
        nova_b64url_decode(h->signature, sl, mac, &ml) != NOVA_OK || ml != 32) {
        *why = "x-signature must be the base64url (no padding) HMAC-SHA-256, 43 characters";
        return NOVA_INVALID;
    }
    size_t nl = strlen(h->nonce);
    if (nl < NOVA_APIKEY_NONCE_MIN || nl > NOVA_APIKEY_NONCE_MAX || !b64url_run(h->nonce, nl)) {
        *why = "x-nonce must be 16 to 128 characters of A-Z a-z 0-9 - _";
        return NOVA_INVALID;
    }
    if (nova_apikey_date_parse(h->date, &out->date) != NOVA_OK) {
        *why = "date must be an IMF-fixdate such as \"Sun, 06 Nov 1994 08:49:37 GMT\"";
        return NOVA_INVALID;
    }
    memcpy(out->key_id, h->key_id, NOVA_APIKEY_ID_LEN);
    memcpy(out->mac, mac, 32);
    memcpy(out->nonce, h->nonce, nl);
    out->date_text = h->date;
    return NOVA_OK;
}

nova_status nova_apikey_canonical(const char *method, const char *target, const void *body,
                                  size_t len, const char *date, const char *nonce, nova_buf_t *out)
{
    uint8_t d[32];
    char hex[65];
    nova_sha256(body ? body : "", len, d);
    nova_hex_encode(d, 32, hex);
    return nova_buf_printf(out, "%s\n%s\n%s\n%s\n%s", method, target, hex, date, nonce);
}

void nova_apikey_mac(const char *secret, size_t secret_len, const void *canonical, size_t n,
                     uint8_t mac[32])
{
    nova_hmac_sha256((const uint8_t *)secret, secret_len, canonical, n, mac);
}

/* ---- CIDR ---- */

static bool parse_addr(const char *s, size_t n, int *family, uint8_t addr[16])
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(addr, 0, 16);
    if (memchr(buf, ':', n)) {
        *family = 6;
        return inet_pton(AF_INET6, buf, addr) == 1;
    }
    *family = 4;
    return inet_pton(AF_INET, buf, addr) == 1;
}

nova_status nova_cidr_parse(const char *s, size_t n, nova_cidr_t *out)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    memset(out, 0, sizeof(*out));
    if (!parse_addr(s, alen, &out->family, out->addr))
        return NOVA_INVALID;
    unsigned max = out->family == 4 ? 32 : 128, bits = max;
    if (slash) {
        size_t pl = n - alen - 1;
        if (pl == 0 || pl > 3 || (pl > 1 && slash[1] == '0'))
            return NOVA_INVALID;
        bits = 0;
        for (size_t i = 0; i < pl; i++) {
            if (slash[1 + i] < '0' || slash[1 + i] > '9')
                return NOVA_INVALID;
            bits = bits * 10 + (unsigned)(slash[1 + i] - '0');
        }
        if (bits > max)
            return NOVA_INVALID;
    }
    /* Host bits must be zero. */
    for (unsigned i = bits; i < max; i++)
        if ((out->addr[i / 8] >> (7 - i % 8)) & 1)
            return NOVA_INVALID;
    out->bits = bits;
    return NOVA_OK;
}

bool nova_cidr_contains(const nova_cidr_t *c, const char *ip)
{
    int family;
    uint8_t addr[16];
    if (ip == NULL || !parse_addr(ip, strlen(ip), &family, addr) || family != c->family)
        return false;
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(addr, c->addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (addr[full] & mask) == (c->addr[full] & mask);
}

bool nova_cidr_list_contains(const char *list, const char *ip)
{
    for (const char *p = list; p && *p;) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        nova_cidr_t c;
        if (l && nova_cidr_parse(p, l, &c) == NOVA_OK && nova_cidr_contains(&c, ip))
            return true;
        p += l;
    }
    return false;
}

/* ---- sealing and the secret cache ---- */

static nova_status seal_key(const nova_auth_t *a, uint8_t out[32])
{
    return nova_hkdf_sha256(a->master_key, 32, "nova api-key seal v1", out, 32);
}

static char *seal_aad(nova_arena_t *ar, const char *id, const char *tenant_id)
{
    return nova_arena_printf(ar, "%s|%s", id, tenant_id);
}

/* A fresh secret, sealed and hashed for the store. */
static nova_status new_secret(nova_auth_t *a, nova_arena_t *ar, const char *id,
                              const char *tenant_id, const char **secret, const char **hash,
                              const uint8_t **enc, size_t *enc_len)
{
    uint8_t raw[32], key[32];
    char *sec = nova_arena_alloc(ar, NOVA_APIKEY_SECRET_LEN + 1);
    char *h = nova_arena_alloc(ar, crypto_pwhash_STRBYTES);
    const char *aad = seal_aad(ar, id, tenant_id);
    nova_buf_t sealed;
    nova_status st;

    nova_buf_init(&sealed);
    if (!sec || !h || !aad)
        return NOVA_NOMEM;
    if (sodium_init() < 0) /* idempotent, thread-safe; 1 once done */
        return NOVA_INTERNAL;
    if ((st = nova_random_bytes(raw, sizeof(raw))) != NOVA_OK)
        return st;
    memcpy(sec, "aks_", 4);
    nova_b64url_encode(raw, sizeof(raw), sec + 4);
    sodium_memzero(raw, sizeof(raw));
    if (crypto_pwhash_str(h, sec, NOVA_APIKEY_SECRET_LEN, AK_PWHASH_OPS, AK_PWHASH_MEM) != 0)
        return NOVA_NOMEM; /* libsodium fails only when it cannot allocate */
    if ((st = seal_key(a, key)) != NOVA_OK)
        return st;
    st = nova_aead_seal(key, aad, strlen(aad), sec, NOVA_APIKEY_SECRET_LEN, &sealed);
    sodium_memzero(key, sizeof(key));
    if (st == NOVA_OK) {
        uint8_t *e = nova_arena_alloc(ar, sealed.len);
        if (e == NULL) {
            st = NOVA_NOMEM;
        } else {
            memcpy(e, sealed.data, sealed.len);
            *enc = e;
            *enc_len = sealed.len;
        }
    }
    nova_buf_free(&sealed);
    *secret = sec;
    *hash = h;
    return st;
}

typedef struct secret_entry {
    const nova_auth_t *owner;
    char id[NOVA_APIKEY_ID_LEN + 1];
    int64_t version;
    int64_t prev_valid_until;
    bool has_prev;
    char secret[NOVA_APIKEY_SECRET_LEN];
    char prev[NOVA_APIKEY_SECRET_LEN];
} secret_entry;

static secret_entry cache[KEY_CACHE];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static secret_entry *slot_of(const char *id)
{
    return &cache[auth_hash(id) % KEY_CACHE];
}

static bool cache_get(const nova_auth_t *a, const nova_apikey_t *k, secret_entry *out)
{
    bool hit = false;
    pthread_mutex_lock(&cache_lock);
    secret_entry *e = slot_of(k->id);
    if (e->owner == a && e->version == k->version && e->prev_valid_until == k->prev_valid_until &&
        strcmp(e->id, k->id) == 0) {
        *out = *e;
        hit = true;
    }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_put(const secret_entry *in)
{
    pthread_mutex_lock(&cache_lock);
    secret_entry *e = slot_of(in->id);
    sodium_memzero(e, sizeof(*e));
    *e = *in;
    pthread_mutex_unlock(&cache_lock);
}

/* Opens one sealed secret and checks it against its argon2id hash. */
static nova_status open_secret(const uint8_t key[32], const char *aad, const uint8_t *enc,
                               size_t len, const char *hash, char out[NOVA_APIKEY_SECRET_LEN])
{
    nova_buf_t pt;
    nova_buf_init(&pt);
    nova_status st = nova_aead_open(key, aad, strlen(aad), enc, len, &pt);
    if (st == NOVA_OK &&
        (pt.len != NOVA_APIKEY_SECRET_LEN || crypto_pwhash_str_verify(hash, pt.data, pt.len) != 0))
        st = NOVA_INTERNAL;
    if (st == NOVA_OK)
        memcpy(out, pt.data, NOVA_APIKEY_SECRET_LEN);
    else
        st = NOVA_INTERNAL;
    if (pt.data)
        sodium_memzero(pt.data, pt.len);
    nova_buf_free(&pt);
    return st;
}

static nova_status secrets_of(nova_auth_t *a, const nova_apikey_t *k, int64_t now,
                              secret_entry *out)
{
    if (cache_get(a, k, out))
        return NOVA_OK;
    if (sodium_init() < 0)
        return NOVA_INTERNAL;
    uint8_t key[32];
    char aad[160];
    snprintf(aad, sizeof(aad), "%s|%s", k->id, k->tenant_id);
    memset(out, 0, sizeof(*out));
    out->owner = a;
    snprintf(out->id, sizeof(out->id), "%s", k->id);
    out->version = k->version;
    out->prev_valid_until = k->prev_valid_until;
    nova_status st = seal_key(a, key);
    if (st == NOVA_OK)
        st = open_secret(key, aad, k->secret_enc, k->secret_enc_len, k->secret_hash, out->secret);
    /* The previous secret only matters while its overlap lasts. */
    if (st == NOVA_OK && k->prev_secret_enc && k->prev_valid_until > now) {
        st = open_secret(key, aad, k->prev_secret_enc, k->prev_secret_enc_len, k->prev_secret_hash,
                         out->prev);
        out->has_prev = st == NOVA_OK;
    }
    sodium_memzero(key, sizeof(key));
    if (st != NOVA_OK) {
        nova_log_error("api key %s: its sealed secret does not open under this master key", k->id);
        sodium_memzero(out, sizeof(*out));
        return NOVA_INTERNAL;
    }
    cache_put(out);
    return NOVA_OK;
}

/* ---- keys ---- */

static bool printable(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max || !nova_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static bool currency_valid(const char *c)
{
    return c && strlen(c) == 3 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' &&
           c[2] >= 'A' && c[2] <= 'Z';
}

/* The allow-list as stored: each CIDR parsed and written back in its canonical text. */
static nova_status allowlist_text(nova_arena_t *ar, const char **list, const char **out,
                                  const char **why)
{
    nova_buf_t b;
    nova_buf_init(&b);
    nova_status st = nova_buf_append(&b, "", 0);
    size_t n = 0;
    for (; st == NOVA_OK && list && list[n]; n++) {
        nova_cidr_t c;
        char text[INET6_ADDRSTRLEN];
        if (n == 32) {
            *why = "ip_allowlist: at most 32 entries";
            st = NOVA_INVALID;
            break;
        }
        if (nova_cidr_parse(list[n], strlen(list[n]), &c) != NOVA_OK) {
            *why = "ip_allowlist: each entry is an IPv4 or IPv6 CIDR (\"203.0.113.0/24\", "
                   "\"2001:db8::/32\") or address, with the host bits zero";
            st = NOVA_INVALID;
            break;
        }
        inet_ntop(c.family == 4 ? AF_INET : AF_INET6, c.addr, text, sizeof(text));
        st = nova_buf_printf(&b, "%s%s/%u", n ? " " : "", text, c.bits);
    }
    if (st == NOVA_OK) {
        *out = nova_arena_strdup(ar, b.data);
        if (*out == NULL)
            st = NOVA_NOMEM;
    }
    nova_buf_free(&b);
    return st;
}

static nova_status entry(nova_audit_entry_t *e, nova_arena_t *ar, const nova_audit_actor_t *by,
                         const char *tenant_id, const char *action, const char *id, json_t *attrs)
{
    return nova_audit_entry_make(e, ar, by, tenant_id, action, "api_key", id, attrs);
}

nova_status nova_auth_apikey_create(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const nova_apikey_spec_t *spec, nova_apikey_t *out,
                                    const char **secret, const char **why)
{
    nova_apikey_t k = {0};
    char id[NOVA_APIKEY_ID_LEN + 8];
    int64_t now = nova_time_now();
    nova_status st;

    *why = NULL;
    k.mode = spec->mode ? spec->mode : "live";
    if (strcmp(k.mode, "live") != 0 && strcmp(k.mode, "test") != 0)
        *why = "mode: \"live\" or \"test\"";
    else if (!printable(spec->purpose, 200))
        *why = "purpose: 1 to 200 printable characters saying what the key is for";
    else if (!spec->scopes || !*spec->scopes || !nova_auth_scopes_known(spec->scopes))
        *why = "scopes: one or more scopes Nova knows";
    else if (spec->rate_per_minute < 0 || spec->rate_per_minute > 1000000)
        *why = "rate_per_minute: 1 to 1000000, or 0 for none";
    else if (spec->budget_currency && !currency_valid(spec->budget_currency))
        *why = "budget.currency: an ISO 4217 code such as \"KES\"";
    else if (spec->budget_currency && spec->budget_daily < 0)
        *why = "budget.amount_daily: a non-negative amount in minor units";
    else if (spec->expires_at != 0 &&
             (spec->expires_at <= now || !nova_time_in_range(spec->expires_at)))
        *why = "expires_at: a time in the future (unix seconds)";
    if (*why)
        return NOVA_INVALID;
    if ((st = allowlist_text(ar, spec->ip_allowlist, &k.ip_allowlist, why)) != NOVA_OK)
        return st;
    if ((st = nova_id_new(strcmp(k.mode, "live") == 0 ? "ak_live" : "ak_test", id, sizeof(id))))
        return st;
    k.id = nova_arena_strdup(ar, id);
    k.tenant_id = tenant_id;
    k.purpose = spec->purpose;
    k.scopes = spec->scopes;
    k.rate_per_minute = spec->rate_per_minute;
    k.budget_daily = spec->budget_currency ? spec->budget_daily : 0;
    k.budget_currency = spec->budget_currency ? spec->budget_currency : "";
    k.expires_at = spec->expires_at;
    k.created_by = by->id;
    k.created_at = now;
    k.version = 1;
    k.prev_secret_hash = "";
    if (k.id == NULL)
        return NOVA_NOMEM;
    st = new_secret(a, ar, k.id, tenant_id, secret, &k.secret_hash, &k.secret_enc,
                    &k.secret_enc_len);
    if (st != NOVA_OK)
        return st;
    nova_audit_entry_t e;
    json_t *attrs = json_pack("{s:s, s:s, s:s, s:s}", "mode", k.mode, "purpose", k.purpose,
                              "scopes", k.scopes, "ip_allowlist", k.ip_allowlist);
    if (attrs && k.rate_per_minute)
        json_object_set_new(attrs, "rate_per_minute", json_integer(k.rate_per_minute));
    if (attrs && *k.budget_currency) {
        json_object_set_new(attrs, "budget_daily", json_integer(k.budget_daily));
        json_object_set_new(attrs, "budget_currency", json_string(k.budget_currency));
    }
    if (attrs && k.expires_at)
        json_object_set_new(attrs, "expires_at", json_integer(k.expires_at));
    if ((st = entry(&e, ar, by, tenant_id, "api_key.create", k.id, attrs)) != NOVA_OK)
        return st;
    if ((st = nova_store_apikey_create(s, &k, &e)) != NOVA_OK)
        return st;
    *out = k;
    return NOVA_OK;
}

nova_status nova_auth_apikey_rotate(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const char *id, int64_t overlap, nova_apikey_t *out,
                                    const char **secret)
{
    const char *hash;
    const uint8_t *enc;
    size_t enc_len;
    nova_audit_entry_t e;
    int64_t now = nova_time_now();
    if (overlap < 0 || overlap > NOVA_APIKEY_OVERLAP_MAX || !key_id_valid(id))
        return overlap < 0 || overlap > NOVA_APIKEY_OVERLAP_MAX ? NOVA_INVALID : NOVA_NOT_FOUND;
    nova_status st = nova_store_apikey_get(s, ar, tenant_id, id, out);
    if (st == NOVA_OK && out->revoked_at)
        st = NOVA_NOT_FOUND;
    if (st != NOVA_OK)
        return st;
    if ((st = new_secret(a, ar, id, tenant_id, secret, &hash, &enc, &enc_len)) != NOVA_OK)
        return st;
    /* The overlap never outlives the key itself. */
    int64_t until = now + overlap;
    if (out->expires_at && until > out->expires_at)
        until = out->expires_at;
    json_t *attrs = json_pack("{s:I, s:I}", "version", (json_int_t)(out->version + 1),
                              "previous_valid_until", (json_int_t)until);
    if ((st = entry(&e, ar, by, tenant_id, "api_key.rotate", id, attrs)) != NOVA_OK)
        return st;
    st = nova_store_apikey_rotate(s, tenant_id, id, hash, enc, enc_len, until, now, &e);
    if (st != NOVA_OK)
        return st;
    return nova_store_apikey_get(s, ar, tenant_id, id, out);
}

nova_status nova_auth_apikey_revoke(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const char *id)
{
    nova_audit_entry_t e;
    (void)a;
    if (!key_id_valid(id))
        return NOVA_NOT_FOUND;
    nova_status st = entry(&e, ar, by, tenant_id, "api_key.revoke", id, NULL);
    if (st != NOVA_OK)
        return st;
    return nova_store_apikey_revoke(s, tenant_id, id, nova_time_now(), &e);
}

/* ---- verifying a signed request ---- */

nova_status nova_auth_apikey_precheck(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                      const nova_apikey_parsed_t *h, const char *peer_ip,
                                      int64_t now, unsigned skew, nova_apikey_t *key,
                                      nova_apikey_fail *fail)
{
    (void)a;
    *fail = NOVA_APIKEY_OK;
    nova_status st = nova_store_apikey_find(s, ar, h->key_id, key);
    if (st == NOVA_NOT_FOUND) {
        *fail = NOVA_APIKEY_UNKNOWN;
        return NOVA_UNAUTHORIZED;
    }
    if (st != NOVA_OK)
        return st;
    if (key->revoked_at)
        *fail = NOVA_APIKEY_REVOKED;
    else if (key->expires_at && key->expires_at <= now)
        *fail = NOVA_APIKEY_EXPIRED;
    else if (h->date > now + (int64_t)skew || h->date < now - (int64_t)skew)
        *fail = NOVA_APIKEY_SKEW;
    else if (*key->ip_allowlist && !nova_cidr_list_contains(key->ip_allowlist, peer_ip))
        *fail = NOVA_APIKEY_IP;
    if (*fail == NOVA_APIKEY_IP)
        return NOVA_FORBIDDEN;
    return *fail ? NOVA_UNAUTHORIZED : NOVA_OK;
}

nova_status nova_auth_apikey_verify(nova_auth_t *a, const nova_apikey_t *key,
                                    const nova_apikey_parsed_t *h, const char *method,
                                    const char *target, const void *body, size_t len, int64_t now,
                                    nova_apikey_fail *fail)
{
    secret_entry se;
    nova_buf_t canon;
    uint8_t mac[32];
    bool ok = false;

    *fail = NOVA_APIKEY_OK;
    nova_status st = secrets_of(a, key, now, &se);
    if (st != NOVA_OK)
        return st;
    nova_buf_init(&canon);
    st = nova_apikey_canonical(method, target, body, len, h->date_text, h->nonce, &canon);
    if (st == NOVA_OK) {
        nova_apikey_mac(se.secret, sizeof(se.secret), canon.data, canon.len, mac);
        ok = sodium_memcmp(mac, h->mac, 32) == 0;
        /* The previous secret, while its overlap lasts (checked against now, not the cache). */
        if (!ok && se.has_prev && key->prev_valid_until > now) {
            nova_apikey_mac(se.prev, sizeof(se.prev), canon.data, canon.len, mac);
            ok = sodium_memcmp(mac, h->mac, 32) == 0;
        }
    }
    nova_buf_free(&canon);
    sodium_memzero(&se, sizeof(se));
    if (st != NOVA_OK)
        return st;
    if (!ok) {
        *fail = NOVA_APIKEY_SIGNATURE;
        return NOVA_UNAUTHORIZED;
    }
    return NOVA_OK;
}

nova_status nova_auth_apikey_admit(nova_kv_t *kv, const nova_apikey_t *key,
                                   const nova_apikey_parsed_t *h, unsigned skew,
                                   nova_apikey_fail *fail, int64_t *retry_s)
{
    char k[NOVA_KV_KEY_MAX];
    *fail = NOVA_APIKEY_OK;
    *retry_s = 0;
    /* A request is accepted while its date is within skew of the clock: for at most 2 x skew
     * after its first sight. Keep the nonce that long, and never less than 5 minutes. */
    uint64_t ttl_ms = 2ull * skew * 1000;
    if (ttl_ms < 300000)
        ttl_ms = 300000;
    snprintf(k, sizeof(k), "ak:nonce:%s:%s", key->id, h->nonce);
    nova_status st = nova_kv_set_nx(kv, k, "", 0, ttl_ms);
    if (st == NOVA_CONFLICT) {
        *fail = NOVA_APIKEY_REPLAY;
        return NOVA_UNAUTHORIZED;
    }
    if (st != NOVA_OK)
        return st;
    if (key->rate_per_minute > 0) {
        int64_t count = 0;
        uint64_t reset_ms = 0;
        snprintf(k, sizeof(k), "ak:rpm:%s", key->id);
        st = nova_kv_incr(kv, k, 1, 60000, &count, &reset_ms);
        if (st != NOVA_OK)
            return st;
        if (count > key->rate_per_minute) {
            *fail = NOVA_APIKEY_BUDGET;
            *retry_s = (int64_t)((reset_ms + 999) / 1000);
            if (*retry_s < 1)
                *retry_s = 1;
            return NOVA_FORBIDDEN;
        }
    }
    return NOVA_OK;
}

/* ---- the amount budget ---- */

nova_status nova_auth_apikey_budget_consume(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                            const nova_audit_actor_t *by, const char *tenant_id,
                                            const char *id, const char *currency, int64_t amount,
                                            int64_t now, int64_t *remaining)
{
    nova_apikey_t k;
    nova_audit_entry_t e;
    char day[21];
    int64_t spent = 0;
    (void)a;
    *remaining = 0;
    if (amount <= 0 || !currency_valid(currency))
        return NOVA_INVALID;
    if (!key_id_valid(id))
        return NOVA_NOT_FOUND;
    nova_status st = nova_store_apikey_get(s, ar, tenant_id, id, &k);
    if (st != NOVA_OK)
        return st;
    if (k.revoked_at || (k.expires_at && k.expires_at <= now))
        return NOVA_UNAUTHORIZED;
    if (!*k.budget_currency) {
        *remaining = INT64_MAX;
        return NOVA_OK;
    }
    if (strcmp(k.budget_currency, currency) != 0)
        return NOVA_INVALID;
    nova_time_format(now, day);
    day[10] = '\0'; /* "YYYY-MM-DD" of the UTC day */
    json_t *attrs = json_pack("{s:I, s:s, s:s}", "amount", (json_int_t)amount, "currency", currency,
                              "day", day);
    if ((st = entry(&e, ar, by, tenant_id, "api_key.spend", id, attrs)) != NOVA_OK)
        return st;
    st = nova_store_apikey_spend(s, tenant_id, id, day, currency, amount, k.budget_daily, &e,
                                 &spent);
    *remaining = k.budget_daily - spent;
    return st;
}
