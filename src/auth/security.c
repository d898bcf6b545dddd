/* security.c: tenant security settings: validation, their JSON, and the per-process cache
 * checked against the control plane's version flag (nova/security.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nova/killswitch.h"
#include "nova/security.h"
#include "nova/security_store.h"

void nova_security_defaults(nova_security_settings_t *out)
{
    memset(out, 0, sizeof(*out));
    out->session_timeout_minutes = NOVA_SECURITY_TIMEOUT_MAX;
}

static nova_status read_bool(const json_t *obj, const char *name, bool *out)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL)
        return NOVA_OK;
    if (!json_is_boolean(v))
        return NOVA_INVALID;
    *out = json_is_true(v);
    return NOVA_OK;
}

/* A JSON array of at most NOVA_SECURITY_LIST_MAX distinct strings, each accepted by ok
 * (which copies it into slot i). */
typedef bool (*item_fn)(nova_security_settings_t *set, size_t i, const char *s, size_t n);

static nova_status read_list(const json_t *obj, const char *name, nova_security_settings_t *set,
                             item_fn ok, size_t *count)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL)
        return NOVA_OK;
    if (!json_is_array(v) || json_array_size(v) > NOVA_SECURITY_LIST_MAX)
        return NOVA_INVALID;
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || !ok(set, i, json_string_value(e), json_string_length(e)))
            return NOVA_INVALID;
        for (size_t j = 0; j < i; j++)
            if (json_equal((json_t *)e, json_array_get(v, j)))
                return NOVA_INVALID;
    }
    *count = json_array_size(v);
    return NOVA_OK;
}

static bool range_ok(nova_security_settings_t *set, size_t i, const char *s, size_t n)
{
    if (n >= NOVA_SECURITY_CIDR_TEXT || strlen(s) != n ||
        nova_cidr_parse(s, n, &set->ranges[i]) != NOVA_OK)
        return false;
    memcpy(set->range_text[i], s, n + 1);
    return true;
}

static bool region_ok(nova_security_settings_t *set, size_t i, const char *s, size_t n)
{
    if (n >= NOVA_SECURITY_REGION_TEXT || strlen(s) != n ||
        strcmp(s, NOVA_KILLSWITCH_ALL_REGIONS) == 0 || !nova_killswitch_region_valid(s))
        return false;
    memcpy(set->regions[i], s, n + 1);
    return true;
}

nova_status nova_security_from_json(const json_t *obj, nova_security_settings_t *out,
                                    const char **why)
{
    nova_security_settings_t set;
    nova_security_defaults(&set);
    *why = NULL;
    if (!json_is_object(obj)) {
        *why = "the settings must be a JSON object";
        return NOVA_INVALID;
    }
    if (read_bool(obj, "mfa_required_for_all_users", &set.mfa_required_for_all_users))
        *why = "mfa_required_for_all_users: true or false";
    else if (read_bool(obj, "require_dpop", &set.require_dpop))
        *why = "require_dpop: true or false";
    else if (read_bool(obj, "require_mtls_for_m2m", &set.require_mtls_for_m2m))
        *why = "require_mtls_for_m2m: true or false";
    if (*why == NULL) {
        const json_t *t = json_object_get(obj, "session_timeout_minutes");
        if (t && (!json_is_integer(t) || json_integer_value(t) < NOVA_SECURITY_TIMEOUT_MIN ||
                  json_integer_value(t) > NOVA_SECURITY_TIMEOUT_MAX))
            *why = "session_timeout_minutes: an integer from 5 to 1440";
        else if (t)
            set.session_timeout_minutes = (int)json_integer_value(t);
    }
    if (*why == NULL && read_list(obj, "allowed_ip_ranges", &set, range_ok, &set.n_ranges))
        *why = "allowed_ip_ranges: at most 32 distinct IPv4 or IPv6 CIDRs (\"196.201.0.0/16\", "
               "\"2001:db8::/32\"), host bits zero; empty allows any address";
    if (*why == NULL && read_list(obj, "resident_regions", &set, region_ok, &set.n_regions))
        *why = "resident_regions: at most 32 distinct region codes of 2 to 8 of A-Z 0-9 - "
               "(\"KE\", \"NG\"); empty allows any region";
    if (*why)
        return NOVA_INVALID;
    *out = set;
    return NOVA_OK;
}

json_t *nova_security_to_json(const nova_security_settings_t *set)
{
    json_t *ranges = json_array(), *regions = json_array();
    for (size_t i = 0; ranges && i < set->n_ranges; i++)
        json_array_append_new(ranges, json_string(set->range_text[i]));
    for (size_t i = 0; regions && i < set->n_regions; i++)
        json_array_append_new(regions, json_string(set->regions[i]));
    return json_pack("{s:b, s:i, s:o*, s:o*, s:b, s:b}", "mfa_required_for_all_users",
                     set->mfa_required_for_all_users, "session_timeout_minutes",
                     set->session_timeout_minutes, "allowed_ip_ranges", ranges, "resident_regions",
                     regions, "require_dpop", set->require_dpop, "require_mtls_for_m2m",
                     set->require_mtls_for_m2m);
}

bool nova_security_ip_allowed(const nova_security_settings_t *set, const char *ip)
{
    if (set->n_ranges == 0)
        return true;
    for (size_t i = 0; ip && i < set->n_ranges; i++)
        if (nova_cidr_contains(&set->ranges[i], ip))
            return true;
    return false;
}

bool nova_security_region_allowed(const nova_security_settings_t *set, const char *region)
{
    if (set->n_regions == 0)
        return true;
    for (size_t i = 0; region && *region && i < set->n_regions; i++)
        if (strcmp(set->regions[i], region) == 0)
            return true;
    return false;
}

/* ---- the cache ---- */

#define BUCKETS 256
#define MAX_ENTRIES 8192

typedef struct entry {
    struct entry *next;
    char *tenant;
    int64_t tag; /* the flag's version when loaded; 0: no flag; -1: unreadable flag */
    uint64_t loaded_ns;
    int64_t version;
    nova_security_settings_t set;
} entry;

struct nova_security_cache {
    pthread_mutex_t lock; /* guards buckets and n; never held across I/O */
    entry *buckets[BUCKETS];
    size_t n;
};

nova_status nova_security_cache_new(nova_security_cache_t **out)
{
    nova_security_cache_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NOVA_NOMEM;
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return NOVA_OK;
}

static void clear_locked(nova_security_cache_t *c)
{
    for (size_t i = 0; i < BUCKETS; i++) {
        while (c->buckets[i]) {
            entry *e = c->buckets[i];
            c->buckets[i] = e->next;
            free(e->tenant);
            free(e);
        }
    }
    c->n = 0;
}

void nova_security_cache_free(nova_security_cache_t *c)
{
    if (c == NULL)
        return;
    clear_locked(c);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static size_t bucket_of(const char *t)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *t; t++)
        h = (h ^ (unsigned char)*t) * 1099511628211ull;
    return (size_t)(h % BUCKETS);
}

static entry *find_locked(nova_security_cache_t *c, const char *tenant)
{
    for (entry *e = c->buckets[bucket_of(tenant)]; e; e = e->next)
        if (strcmp(e->tenant, tenant) == 0)
            return e;
    return NULL;
}

/* Records what was read; a full cache starts over (it only costs store reads). */
static void remember(nova_security_cache_t *c, const char *tenant, int64_t tag, int64_t version,
                     const nova_security_settings_t *set)
{
    pthread_mutex_lock(&c->lock);
    entry *e = find_locked(c, tenant);
    if (e == NULL) {
        if (c->n >= MAX_ENTRIES)
            clear_locked(c);
        e = calloc(1, sizeof(*e));
        if (e && (e->tenant = strdup(tenant)) == NULL) {
            free(e);
            e = NULL;
        }
        if (e) {
            size_t b = bucket_of(tenant);
            e->next = c->buckets[b];
            c->buckets[b] = e;
            c->n++;
        }
    }
    if (e) {
        e->tag = tag;
        e->loaded_ns = nova_time_mono_ns();
        e->version = version;
        e->set = *set;
    }
    pthread_mutex_unlock(&c->lock);
}

static bool tenant_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    return n >= 1 && n <= 64 &&
           strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* The flag's version: 0 when unset, -1 when it holds no version (never matches an entry). */
static nova_status flag_tag(nova_kv_t *kv, const char *tenant, int64_t *tag)
{
    nova_arena_t ar;
    nova_arena_init(&ar, 256);
    char *name = nova_arena_printf(&ar, "security:%s", tenant), *v = NULL;
    nova_status st = name ? nova_kv_flag_get(kv, name, &ar, &v) : NOVA_NOMEM;
    if (st == NOVA_NOT_FOUND) {
        *tag = 0;
        st = NOVA_OK;
    } else if (st == NOVA_OK) {
        char *end = NULL;
        long long n = strtoll(v, &end, 10);
        *tag = (end && *end == '\0' && n > 0) ? (int64_t)n : -1;
    }
    nova_arena_free(&ar);
    return st;
}

static nova_status load(nova_store_t *s, const char *tenant, nova_security_settings_t *out,
                        int64_t *version)
{
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    nova_security_row_t row;
    nova_status st = nova_store_security_get(s, &ar, tenant, &row);
    if (st == NOVA_NOT_FOUND) {
        nova_security_defaults(out);
        *version = 0;
        st = NOVA_OK;
    } else if (st == NOVA_OK) {
        json_t *o = json_loads(row.settings, JSON_REJECT_DUPLICATES, NULL);
        const char *why = NULL;
        /* The store only ever holds what from_json accepted: anything else is corruption. */
        st = o && nova_security_from_json(o, out, &why) == NOVA_OK ? NOVA_OK : NOVA_INTERNAL;
        json_decref(o);
        *version = row.version;
    }
    nova_arena_free(&ar);
    return st;
}

nova_status nova_security_get(nova_security_cache_t *c, nova_kv_t *kv, nova_store_t *s,
                              const char *tenant_id, nova_security_settings_t *out,
                              int64_t *version)
{
    if (!tenant_ok(tenant_id))
        return NOVA_INVALID;
    int64_t tag = 0;
    nova_status st = flag_tag(kv, tenant_id, &tag);
    if (st)
        return st;
    uint64_t now = nova_time_mono_ns();
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    entry *e = find_locked(c, tenant_id);
    if (e && e->tag == tag && tag >= 0 &&
        now - e->loaded_ns < (uint64_t)NOVA_SECURITY_CACHE_TTL_MS * 1000000u) {
        *out = e->set;
        *version = e->version;
        hit = true;
    }
    pthread_mutex_unlock(&c->lock);
    if (hit)
        return NOVA_OK;
    /* Read after the flag: a change is committed before its flag is set, so what the store
     * gives now is at least as new as the version the flag named. */
    if ((st = load(s, tenant_id, out, version)) != NOVA_OK)
        return st;
    remember(c, tenant_id, tag, *version, out);
    return NOVA_OK;
}

nova_status nova_security_put(nova_security_cache_t *c, nova_kv_t *kv, nova_store_t *s,
                              nova_arena_t *ar, const nova_audit_actor_t *by, const char *tenant_id,
                              const nova_security_settings_t *set, int64_t *version)
{
    if (!tenant_ok(tenant_id))
        return NOVA_INVALID;
    json_t *o = nova_security_to_json(set);
    char *txt = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *text = txt ? nova_arena_strdup(ar, txt) : NULL;
    free(txt);
    if (text == NULL) {
        json_decref(o);
        return NOVA_NOMEM;
    }
    nova_audit_entry_t ae;
    nova_status st = nova_audit_entry_make(&ae, ar, by, tenant_id, "tenant_security.update",
                                           "tenant", tenant_id, o);
    if (st == NOVA_OK)
        st = nova_store_security_put(s, tenant_id, text, nova_time_now(), &ae, version);
    if (st)
        return st;
    char *name = nova_arena_printf(ar, "security:%s", tenant_id);
    char *value = nova_arena_printf(ar, "%lld", (long long)*version);
    if (name == NULL || value == NULL)
        return NOVA_NOMEM;
    st = nova_kv_flag_set(kv, name, value);
    /* Cached under the new version: should the flag not have been set, this process's copy
     * still names the old one, so the entry misses and the store is read. */
    remember(c, tenant_id, *version, *version, set);
    return st;
}
