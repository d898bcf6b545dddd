/* killswitch.c: kill switches on the control plane's flags (nova/killswitch.h). The flag's
 * value is a small JSON object {"reason","by","at"}; only its presence decides. */
#include <string.h>

#include <jansson.h>

#include "nova/audit_store.h"
#include "nova/killswitch.h"

bool nova_killswitch_action_valid(const char *a)
{
    size_t n = a ? strlen(a) : 0;
    if (n < 1 || n > 40 || a[0] < 'a' || a[0] > 'z')
        return false;
    return strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

bool nova_killswitch_region_valid(const char *r)
{
    if (r && strcmp(r, NOVA_KILLSWITCH_ALL_REGIONS) == 0)
        return true;
    size_t n = r ? strlen(r) : 0;
    return n >= 2 && n <= 8 && strspn(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

static bool tenant_valid(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    return n >= 1 && n <= 64 &&
           strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* Flag names admit no '*': every region is "_" there, which no region code can be. */
#define ALL_REGIONS_FLAG "_"

static char *flag_name(nova_arena_t *ar, const char *tenant, const char *region, const char *action)
{
    if (strcmp(region, NOVA_KILLSWITCH_ALL_REGIONS) == 0)
        region = ALL_REGIONS_FLAG;
    return nova_arena_printf(ar, "ks:%s:%s:%s", tenant, region, action);
}

bool nova_killswitch_active(nova_kv_t *kv, const char *tenant_id, const char *region,
                            const char *action)
{
    if (!tenant_valid(tenant_id) || !nova_killswitch_action_valid(action) ||
        (region && !nova_killswitch_region_valid(region)))
        return true;
    nova_arena_t ar;
    nova_arena_init(&ar, 512);
    bool on = true;
    char *v = NULL;
    const char *regions[2] = {NOVA_KILLSWITCH_ALL_REGIONS, region};
    for (int i = 0; i < (region ? 2 : 1); i++) {
        char *name = flag_name(&ar, tenant_id, regions[i], action);
        nova_status st = name ? nova_kv_flag_get(kv, name, &ar, &v) : NOVA_NOMEM;
        if (st == NOVA_NOT_FOUND)
            continue;
        goto end; /* set, or unknown (stale copy, no memory): active either way */
    }
    on = false;
end:
    nova_arena_free(&ar);
    return on;
}

static bool reason_valid(const char *r)
{
    size_t n = r ? strlen(r) : 0;
    if (n < 1 || n > 200)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)r[i] < 0x20 || r[i] == 0x7f)
            return false;
    return true;
}

nova_status nova_killswitch_set(nova_kv_t *kv, nova_store_t *s, nova_arena_t *ar,
                                const nova_audit_actor_t *by, const char *tenant_id,
                                const char *region, const char *action, bool on, const char *reason)
{
    if (!tenant_valid(tenant_id) || !nova_killswitch_region_valid(region) ||
        !nova_killswitch_action_valid(action) || (on && !reason_valid(reason)) ||
        (!on && reason && !reason_valid(reason)))
        return NOVA_INVALID;
    char *name = flag_name(ar, tenant_id, region, action);
    char *target = nova_arena_printf(ar, "%s:%s", region, action);
    if (name == NULL || target == NULL)
        return NOVA_NOMEM;
    /* The previous value, to undo the change if the audit entry cannot be written. */
    char *prev = NULL;
    nova_status st = nova_kv_flag_get(kv, name, ar, &prev);
    if (st == NOVA_NOT_FOUND)
        prev = NULL;
    else if (st)
        return st;
    char *value = NULL;
    if (on) {
        json_t *o = json_pack("{s:s, s:s, s:I}", "reason", reason, "by", by->id, "at",
                              (json_int_t)nova_time_now());
        char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        value = txt ? nova_arena_strdup(ar, txt) : NULL;
        free(txt);
        if (value == NULL)
            return NOVA_NOMEM;
    }
    st = nova_kv_flag_set(kv, name, value);
    if (st)
        return st;
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(&ae, ar, by, tenant_id, on ? "killswitch.set" : "killswitch.clear",
                               "killswitch", target,
                               reason ? json_pack("{s:s}", "reason", reason) : NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append(s, NULL, &ae, NULL);
    if (st)
        (void)nova_kv_flag_set(kv, name, prev); /* no change without its entry */
    return st;
}

nova_status nova_killswitch_list(nova_kv_t *kv, nova_arena_t *ar, const char *tenant_id,
                                 nova_killswitch_t **out, size_t *n)
{
    if (!tenant_valid(tenant_id))
        return NOVA_INVALID;
    char *prefix = nova_arena_printf(ar, "ks:%s:", tenant_id);
    char **names = NULL, **values = NULL;
    size_t k = 0;
    nova_status st = prefix ? nova_kv_flag_list(kv, prefix, ar, &names, &values, &k) : NOVA_NOMEM;
    if (st)
        return st;
    nova_killswitch_t *ks = nova_arena_alloc(ar, (k ? k : 1) * sizeof(*ks));
    if (ks == NULL)
        return NOVA_NOMEM;
    size_t m = 0, plen = strlen(prefix);
    for (size_t i = 0; i < k; i++) {
        char *rest = names[i] + plen, *colon = strchr(rest, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        json_t *v = json_loads(values[i], 0, NULL);
        ks[m] = (nova_killswitch_t){
            .region = strcmp(rest, ALL_REGIONS_FLAG) == 0 ? NOVA_KILLSWITCH_ALL_REGIONS : rest,
            .action = colon + 1,
            .reason = nova_arena_strdup(ar, json_string_value(json_object_get(v, "reason"))
                                                ? json_string_value(json_object_get(v, "reason"))
                                                : ""),
            .set_by = nova_arena_strdup(ar, json_string_value(json_object_get(v, "by"))
                                                ? json_string_value(json_object_get(v, "by"))
                                                : ""),
            .set_at = json_integer_value(json_object_get(v, "at"))};
        json_decref(v);
        m++;
    }
    *out = ks;
    *n = m;
    return NOVA_OK;
}
