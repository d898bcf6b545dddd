/* cae.c: continuous access evaluation (issue 11 item 5, seed 003 §3.4). On every user request
 * the session's context (address, device, located position) is compared with the request's:
 * IP drift, a device change (the User-Agent's digest) or impossible travel (two located
 * positions farther apart than max_speed_kmh allows in the time between them) each do what
 * the tenant set: nothing, downgrade the session to AAL1 (and adopt the new context), force a
 * step-up (AAL1 until a step-up completes from the new context, which adopts it), or revoke
 * it. Positions come from the tenant's own IP-range table (`locations`). Each event is audited
 * once ("session.cae") and counted. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/apikey.h"
#include "nova/json.h"

#define SETTINGS_TTL 5 /* seconds a process keeps a tenant's settings */

static const char *const action_names[] = {
    [NOVA_CAE_NONE] = "none",
    [NOVA_CAE_DOWNGRADE] = "downgrade",
    [NOVA_CAE_STEP_UP] = "step_up",
    [NOVA_CAE_REVOKE] = "revoke",
};

static const char *const event_names[] = {"ip_drift", "device_change", "impossible_travel"};

static _Atomic uint64_t cae_counts[3][4];

void nova_people_settings_default(nova_people_settings_t *s)
{
    memset(s, 0, sizeof(*s));
    s->max_speed_kmh = 900;
}

static bool action_parse(json_t *v, nova_cae_action *out)
{
    for (int i = 0; i < 4; i++)
        if (json_is_string(v) && strcmp(json_string_value(v), action_names[i]) == 0) {
            *out = (nova_cae_action)i;
            return true;
        }
    return false;
}

nova_status nova_people_settings_from_json(const void *obj, nova_people_settings_t *out,
                                           const char **why)
{
    const json_t *o = obj;
    nova_people_settings_default(out);
    *why = NULL;
    if (!json_is_object(o)) {
        *why = "settings: a JSON object";
        return NOVA_INVALID;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        if (strcmp(key, "ip_drift") == 0 || strcmp(key, "device_change") == 0 ||
            strcmp(key, "impossible_travel") == 0) {
            nova_cae_action *a = key[0] == 'i' && key[1] == 'p' ? &out->ip_drift
                                 : key[0] == 'd'                ? &out->device_change
                                                                : &out->impossible_travel;
            if (!action_parse(v, a)) {
                *why = key[0] == 'd'   ? "device_change: none, downgrade, step_up or revoke"
                       : key[1] == 'p' ? "ip_drift: none, downgrade, step_up or revoke"
                                       : "impossible_travel: none, downgrade, step_up or revoke";
                return NOVA_INVALID;
            }
        } else if (strcmp(key, "max_speed_kmh") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 50 || json_integer_value(v) > 5000) {
                *why = "max_speed_kmh: an integer from 50 to 5000";
                return NOVA_INVALID;
            }
            out->max_speed_kmh = (int)json_integer_value(v);
        } else if (strcmp(key, "locations") == 0) {
            if (!json_is_array(v) || json_array_size(v) > NOVA_CAE_LOCATIONS_MAX) {
                *why = "locations: an array of at most 64 {cidr, lat, lon, name}";
                return NOVA_INVALID;
            }
            for (size_t i = 0; i < json_array_size(v); i++) {
                json_t *l = json_array_get(v, i), *c = json_object_get(l, "cidr"),
                       *lat = json_object_get(l, "lat"), *lon = json_object_get(l, "lon"),
                       *name = json_object_get(l, "name");
                nova_cae_location_t *d = &out->loc[i];
                if (!json_is_object(l) || json_object_size(l) > 4 || !json_is_string(c) ||
                    nova_cidr_parse(json_string_value(c), json_string_length(c), &d->cidr) !=
                        NOVA_OK) {
                    *why = "locations[].cidr: an IPv4 or IPv6 CIDR (host bits zero)";
                    return NOVA_INVALID;
                }
                if (!json_is_number(lat) || !json_is_number(lon) ||
                    fabs(json_number_value(lat)) > 90 || fabs(json_number_value(lon)) > 180) {
                    *why = "locations[].lat, lon: degrees (-90..90, -180..180)";
                    return NOVA_INVALID;
                }
                if (name &&
                    (!json_is_string(name) || json_string_length(name) >= sizeof(d->name))) {
                    *why = "locations[].name: a string of at most 31 bytes";
                    return NOVA_INVALID;
                }
                d->lat = json_number_value(lat);
                d->lon = json_number_value(lon);
                snprintf(d->cidr_text, sizeof(d->cidr_text), "%s", json_string_value(c));
                snprintf(d->name, sizeof(d->name), "%s", name ? json_string_value(name) : "");
                out->nloc++;
            }
        } else {
            *why = "settings: members are ip_drift, device_change, impossible_travel, "
                   "max_speed_kmh, locations";
            return NOVA_INVALID;
        }
    }
    return NOVA_OK;
}

void *nova_people_settings_to_json(const nova_people_settings_t *s)
{
    json_t *locs = json_array();
    for (size_t i = 0; i < s->nloc; i++)
        json_array_append_new(locs, json_pack("{s:s, s:f, s:f, s:s}", "cidr", s->loc[i].cidr_text,
                                              "lat", s->loc[i].lat, "lon", s->loc[i].lon, "name",
                                              s->loc[i].name));
    return json_pack("{s:s, s:s, s:s, s:i, s:o}", "ip_drift", action_names[s->ip_drift],
                     "device_change", action_names[s->device_change], "impossible_travel",
                     action_names[s->impossible_travel], "max_speed_kmh", s->max_speed_kmh,
                     "locations", locs);
}

/* ---- the per-process cache (tenant -> settings for SETTINGS_TTL) ---- */

typedef struct set_entry {
    char tenant[64];
    int64_t loaded;
    nova_people_settings_t s;
} set_entry;

#define SET_SLOTS 256
static set_entry set_cache[SET_SLOTS];
static pthread_mutex_t set_mu = PTHREAD_MUTEX_INITIALIZER;

static unsigned slot_of(const char *t)
{
    unsigned h = 2166136261u;
    for (; *t; t++)
        h = (h ^ (unsigned char)*t) * 16777619u;
    return h % SET_SLOTS;
}

nova_status nova_people_settings_get(nova_people_t *p, nova_store_t *s, const char *tenant_id,
                                     nova_people_settings_t *out)
{
    (void)p;
    int64_t now = nova_time_now();
    unsigned k = slot_of(tenant_id);
    pthread_mutex_lock(&set_mu);
    if (strcmp(set_cache[k].tenant, tenant_id) == 0 && now - set_cache[k].loaded < SETTINGS_TTL &&
        now >= set_cache[k].loaded) {
        *out = set_cache[k].s;
        pthread_mutex_unlock(&set_mu);
        return NOVA_OK;
    }
    pthread_mutex_unlock(&set_mu);
    nova_arena_t ar;
    nova_arena_init(&ar, 4096);
    const char *text = NULL;
    nova_status st = nova_store_people_settings_get(s, &ar, tenant_id, &text);
    if (st == NOVA_NOT_FOUND) {
        nova_people_settings_default(out);
        st = NOVA_OK;
    } else if (st == NOVA_OK) {
        json_t *o = NULL;
        const char *why;
        st = nova_json_parse_object(text, strlen(text), &o, NULL, 0);
        if (st == NOVA_OK && nova_people_settings_from_json(o, out, &why) != NOVA_OK)
            st = NOVA_INTERNAL; /* stored settings are validated: this is corruption */
        json_decref(o);
    }
    nova_arena_free(&ar);
    if (st == NOVA_OK && strlen(tenant_id) < sizeof(set_cache[k].tenant)) {
        pthread_mutex_lock(&set_mu);
        snprintf(set_cache[k].tenant, sizeof(set_cache[k].tenant), "%s", tenant_id);
        set_cache[k].loaded = now;
        set_cache[k].s = *out;
        pthread_mutex_unlock(&set_mu);
    }
    return st;
}

nova_status nova_people_settings_put(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     const void *obj, nova_people_settings_t *out, const char **why)
{
    (void)p;
    nova_status st = nova_people_settings_from_json(obj, out, why);
    if (st)
        return st;
    json_t *j = nova_people_settings_to_json(out);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (text == NULL)
        return NOVA_NOMEM;
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(
        &ae, ar, by, tenant_id, "people_settings.update", "tenant", tenant_id,
        json_pack("{s:s, s:s, s:s, s:i, s:i}", "ip_drift", action_names[out->ip_drift],
                  "device_change", action_names[out->device_change], "impossible_travel",
                  action_names[out->impossible_travel], "max_speed_kmh", out->max_speed_kmh,
                  "locations", (int)out->nloc));
    if (st == NOVA_OK)
        st = nova_store_people_settings_put(s, tenant_id, text, nova_time_now(), &ae);
    free(text);
    if (st == NOVA_OK) {
        unsigned k = slot_of(tenant_id);
        pthread_mutex_lock(&set_mu);
        set_cache[k].tenant[0] = '\0'; /* this process reads the new settings at once */
        pthread_mutex_unlock(&set_mu);
    }
    return st;
}

/* ---- evaluation ---- */

bool people_cae_locate(const nova_people_settings_t *s, const char *ip, double *lat, double *lon)
{
    for (size_t i = 0; ip && i < s->nloc; i++)
        if (nova_cidr_contains(&s->loc[i].cidr, ip)) {
            *lat = s->loc[i].lat;
            *lon = s->loc[i].lon;
            return true;
        }
    return false;
}

double people_cae_km(double lat1, double lon1, double lat2, double lon2)
{
    const double r = 6371.0, rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * r * atan2(sqrt(a), sqrt(1 - a));
}

void people_cae_count(int event, nova_cae_action a)
{
    atomic_fetch_add_explicit(&cae_counts[event][a], 1, memory_order_relaxed);
}

const char *people_cae_event_name(int event)
{
    return event_names[event];
}

const char *people_cae_action_name(nova_cae_action a)
{
    return action_names[a];
}

nova_status people_cae_metrics(nova_buf_t *out)
{
    nova_status st = nova_buf_append_cstr(
        out, "# HELP nova_people_cae_events_total Continuous access evaluation events, by kind "
             "and the action the tenant's settings took.\n"
             "# TYPE nova_people_cae_events_total counter\n");
    for (int e = 0; e < 3 && st == NOVA_OK; e++)
        for (int a = 1; a < 4 && st == NOVA_OK; a++)
            st = nova_buf_printf(
                out, "nova_people_cae_events_total{event=\"%s\",action=\"%s\"} %llu\n",
                event_names[e], action_names[a],
                (unsigned long long)atomic_load_explicit(&cae_counts[e][a], memory_order_relaxed));
    return st;
}
