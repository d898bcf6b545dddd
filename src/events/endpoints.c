/*
 * endpoints.c: the tenant's webhook endpoints (nova/events.h). The whsec_ secrets and the
 * client key are sealed with the tenant's data key before they reach the store and opened
 * only by the dispatcher when it signs and connects; the API never shows them again after
 * create and rotate hand a new secret out.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"
#include "nova/datakey.h"
#include "nova/webhook.h"

#define ENDPOINT_PEM_MAX (64u << 10)

static nova_status refuse(nova_events_problem_t *pb, const char *field, const char *why)
{
    pb->field = field;
    pb->why = why;
    return NOVA_INVALID;
}

/* A string member, or NULL when absent; *bad when present and not a string of 1..max bytes. */
static const char *str_member(json_t *body, const char *name, size_t max, bool *bad)
{
    json_t *v = json_object_get(body, name);
    if (v == NULL || json_is_null(v))
        return NULL;
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    if (n == 0 || n > max || strlen(json_string_value(v)) != n) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

nova_status nova_endpoint_parse(nova_arena_t *a, json_t *body, nova_endpoint_in_t *in,
                                nova_events_problem_t *pb)
{
    memset(in, 0, sizeof(*in));
    pb->field = "";
    pb->why = "";
    if (!json_is_object(body))
        return refuse(pb, "", "a JSON object");
    bool bad = false;
    in->url = str_member(body, "url", 2048, &bad);
    if (bad || in->url == NULL || !nova_webhook_url_valid(in->url))
        return refuse(pb, "url", "an https:// URL without user info, at most 2048 bytes");
    nova_status st = events_types_parse(a, json_object_get(body, "events"), &in->events, pb);
    if (st != NOVA_OK)
        return st;
    in->client_cert = str_member(body, "client_certificate", ENDPOINT_PEM_MAX, &bad);
    if (bad || in->client_cert == NULL)
        return refuse(pb, "client_certificate", "the PEM certificate Nova presents (mTLS)");
    in->client_key = str_member(body, "client_key", ENDPOINT_PEM_MAX, &bad);
    if (bad || in->client_key == NULL)
        return refuse(pb, "client_key", "the PEM private key of client_certificate");
    in->ca = str_member(body, "ca_certificate", ENDPOINT_PEM_MAX, &bad);
    if (bad)
        return refuse(pb, "ca_certificate", "a PEM bundle of the receiver's CA");
    in->pin = str_member(body, "pin", 1024, &bad);
    if (bad)
        return refuse(pb, "pin", "sha256//<base64>");
    in->secret = str_member(body, "secret", 200, &bad);
    uint8_t key[NOVA_WEBHOOK_KEY_MAX];
    size_t klen = 0;
    if (bad || (in->secret && (strncmp(in->secret, "whsec_", 6) != 0 ||
                               nova_webhook_secret_parse(in->secret, key, &klen) != NOVA_OK)))
        return refuse(pb, "secret", "whsec_<base64 of 24 to 64 bytes>");
    OPENSSL_cleanse(key, sizeof(key));
    nova_webhook_tls_t tls = {in->client_cert, in->client_key, in->ca, in->pin};
    const char *field = "", *why = "";
    if (nova_webhook_tls_check(&tls, &field, &why) != NOVA_OK)
        return refuse(pb, field, why);
    return NOVA_OK;
}

/* Seals the JSON array of secrets; the clear text is wiped. */
static nova_status seal_secrets(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                                const char *tenant, json_t *secrets, nova_buf_t *out)
{
    char *text = json_dumps(secrets, JSON_COMPACT);
    if (text == NULL)
        return NOVA_NOMEM;
    nova_status st = events_seal(cfg, s, a, tenant, NOVA_EVENT_CTX_SECRETS, text, out);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    return st;
}

json_t *nova_endpoint_json(const nova_webhook_endpoint_row_t *e)
{
    json_t *events = events_types_json(e->events);
    return json_pack("{s:s, s:s, s:o, s:b, s:b, s:b, s:I, s:I}", "id", e->id, "url", e->url,
                     "events", events, "enabled", e->enabled, "ca_certificate", e->ca && *e->ca,
                     "pin", e->pin && *e->pin, "created_at", (json_int_t)e->created_at,
                     "updated_at", (json_int_t)e->updated_at);
}

nova_status nova_endpoint_create(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                                 const nova_audit_actor_t *by, const char *tenant_id, json_t *body,
                                 json_t **out, nova_events_problem_t *pb)
{
    nova_endpoint_in_t in;
    nova_status st = nova_endpoint_parse(a, body, &in, pb);
    if (st != NOVA_OK)
        return st;
    char id[64], fresh[NOVA_WEBHOOK_SECRET_LEN];
    const char *secret = in.secret;
    st = nova_id_new("whe", id, sizeof(id));
    if (st == NOVA_OK && secret == NULL) {
        st = nova_webhook_secret_new(fresh);
        secret = fresh;
    }
    if (st != NOVA_OK)
        return st;
    nova_buf_t sec, key;
    nova_buf_init(&sec);
    nova_buf_init(&key);
    json_t *list = json_pack("[s]", secret);
    st = list ? seal_secrets(cfg, s, a, tenant_id, list, &sec) : NOVA_NOMEM;
    json_decref(list);
    if (st == NOVA_OK)
        st = events_seal(cfg, s, a, tenant_id, NOVA_EVENT_CTX_CLIENT_KEY, in.client_key, &key);
    int64_t now = nova_time_now();
    nova_webhook_endpoint_row_t row = {tenant_id,
                                       id,
                                       in.url,
                                       in.events,
                                       (const uint8_t *)sec.data,
                                       sec.len,
                                       in.client_cert,
                                       (const uint8_t *)key.data,
                                       key.len,
                                       in.ca ? in.ca : "",
                                       in.pin ? in.pin : "",
                                       true,
                                       by->id,
                                       now,
                                       now};
    nova_audit_entry_t e;
    if (st == NOVA_OK) {
        json_t *attrs = json_pack("{s:s}", "events", in.events);
        st = nova_audit_entry_make(&e, a, by, tenant_id, "webhook.endpoint.create",
                                   "webhook_endpoint", id, attrs);
    }
    if (st == NOVA_OK)
        st = nova_store_webhook_endpoint_insert(s, &row, &e);
    nova_buf_free(&sec);
    nova_buf_free(&key);
    if (st == NOVA_OK) {
        *out = nova_endpoint_json(&row);
        json_object_set_new(*out, "secret", json_string(secret));
    }
    OPENSSL_cleanse(fresh, sizeof(fresh));
    return st;
}

nova_status nova_endpoint_rotate(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *id, bool keep_previous, json_t **out)
{
    nova_webhook_endpoint_row_t ep;
    nova_status st = nova_store_webhook_endpoint_get(s, a, tenant_id, id, &ep);
    if (st != NOVA_OK)
        return st;
    char fresh[NOVA_WEBHOOK_SECRET_LEN];
    st = nova_webhook_secret_new(fresh);
    if (st != NOVA_OK)
        return st;
    json_t *list = json_pack("[s]", fresh);
    if (keep_previous) {
        nova_sealed_t v;
        nova_plain_t *plain = NULL;
        st = nova_sealed_decode(ep.secrets, ep.secrets_len, &v);
        if (st == NOVA_OK)
            st = nova_field_open(cfg->auth, s, tenant_id, events_region(cfg),
                                 NOVA_EVENT_CTX_SECRETS, &v, &plain);
        if (st == NOVA_OK) {
            size_t n = 0;
            const uint8_t *p = nova_plain_bytes(plain, &n);
            json_t *old = json_loadb((const char *)p, n, 0, NULL);
            if (json_is_array(old) && json_array_size(old) > 0)
                json_array_append(list, json_array_get(old, 0));
            json_decref(old);
            nova_plain_free(plain);
        }
    }
    nova_buf_t sec;
    nova_buf_init(&sec);
    if (st == NOVA_OK)
        st = seal_secrets(cfg, s, a, tenant_id, list, &sec);
    size_t nsecrets = json_array_size(list);
    json_decref(list);
    nova_audit_entry_t e;
    if (st == NOVA_OK) {
        json_t *attrs = json_pack("{s:b}", "keep_previous", keep_previous);
        st = nova_audit_entry_make(&e, a, by, tenant_id, "webhook.endpoint.rotate",
                                   "webhook_endpoint", id, attrs);
    }
    if (st == NOVA_OK)
        st = nova_store_webhook_endpoint_secrets(s, tenant_id, id, (const uint8_t *)sec.data,
                                                 sec.len, nova_time_now(), &e);
    nova_buf_free(&sec);
    if (st == NOVA_OK)
        *out = json_pack("{s:s, s:s, s:I}", "id", id, "secret", fresh, "secrets",
                         (json_int_t)nsecrets);
    OPENSSL_cleanse(fresh, sizeof(fresh));
    return st;
}

nova_status nova_endpoint_delete(nova_store_t *s, nova_arena_t *a, const nova_audit_actor_t *by,
                                 const char *tenant_id, const char *id)
{
    nova_audit_entry_t e;
    nova_status st = nova_audit_entry_make(&e, a, by, tenant_id, "webhook.endpoint.delete",
                                           "webhook_endpoint", id, NULL);
    if (st == NOVA_OK)
        st = nova_store_webhook_endpoint_delete(s, tenant_id, id, nova_time_now(), &e);
    return st;
}

/* Member name of the body -> whether PATCH may set it. */
static const char *const patch_members[] = {
    "url", "events", "enabled", "client_certificate", "client_key", "ca_certificate", "pin", NULL};

nova_status nova_endpoint_update(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *id, json_t *body, json_t **out,
                                 nova_events_problem_t *pb)
{
    pb->field = "";
    pb->why = "";
    if (!json_is_object(body) || json_object_size(body) == 0)
        return refuse(pb, "",
                      "a JSON object with at least one of url, events, enabled, "
                      "client_certificate, client_key, ca_certificate, pin");
    json_t *en = json_object_get(body, "enabled");
    if (en && !json_is_boolean(en))
        return refuse(pb, "enabled", "true or false");
    nova_webhook_endpoint_row_t ep;
    nova_status st = nova_store_webhook_endpoint_get(s, a, tenant_id, id, &ep);
    if (st != NOVA_OK)
        return st;
    char *old_key = NULL;
    st = events_open(cfg, s, tenant_id, NOVA_EVENT_CTX_CLIENT_KEY, ep.client_key, ep.client_key_len,
                     &old_key);
    if (st != NOVA_OK)
        return st;
    /* The endpoint as it would be, checked whole as a create is. */
    json_t *merged =
        json_pack("{s:s, s:o, s:s, s:s}", "url", ep.url, "events", events_types_json(ep.events),
                  "client_certificate", ep.client_cert, "client_key", old_key);
    events_wipe(old_key);
    if (merged == NULL)
        return NOVA_NOMEM;
    if (*ep.ca)
        json_object_set_new(merged, "ca_certificate", json_string(ep.ca));
    if (*ep.pin)
        json_object_set_new(merged, "pin", json_string(ep.pin));
    json_t *changed = json_array();
    for (size_t i = 0; patch_members[i]; i++) {
        json_t *v = json_object_get(body, patch_members[i]);
        if (v == NULL || strcmp(patch_members[i], "enabled") == 0) {
            if (v)
                json_array_append_new(changed, json_string(patch_members[i]));
            continue;
        }
        json_array_append_new(changed, json_string(patch_members[i]));
        if (json_is_null(v))
            json_object_del(merged, patch_members[i]);
        else
            json_object_set(merged, patch_members[i], v);
    }
    nova_endpoint_in_t in;
    st = nova_endpoint_parse(a, merged, &in, pb);
    nova_buf_t key;
    nova_buf_init(&key);
    if (st == NOVA_OK)
        st = events_seal(cfg, s, a, tenant_id, NOVA_EVENT_CTX_CLIENT_KEY, in.client_key, &key);
    json_t *k = json_object_get(merged, "client_key");
    if (json_is_string(k))
        OPENSSL_cleanse((char *)json_string_value(k), json_string_length(k));
    nova_webhook_endpoint_row_t row = ep;
    if (st == NOVA_OK) {
        row.url = nova_arena_strdup(a, in.url);
        row.events = in.events;
        row.client_cert = nova_arena_strdup(a, in.client_cert);
        row.client_key = (const uint8_t *)key.data;
        row.client_key_len = key.len;
        row.ca = in.ca ? nova_arena_strdup(a, in.ca) : "";
        row.pin = in.pin ? nova_arena_strdup(a, in.pin) : "";
        row.enabled = en ? json_is_true(en) : ep.enabled;
        row.updated_at = nova_time_now();
        if (!row.url || !row.client_cert || !row.ca || !row.pin)
            st = NOVA_NOMEM;
    }
    json_decref(merged);
    nova_audit_entry_t e;
    if (st == NOVA_OK) {
        json_t *attrs = json_pack("{s:o, s:b}", "changed", changed, "enabled", row.enabled);
        changed = NULL;
        st = nova_audit_entry_make(&e, a, by, tenant_id, "webhook.endpoint.update",
                                   "webhook_endpoint", id, attrs);
    }
    json_decref(changed);
    if (st == NOVA_OK)
        st = nova_store_webhook_endpoint_update(s, &row, &e);
    nova_buf_free(&key);
    if (st == NOVA_OK)
        *out = nova_endpoint_json(&row);
    return st;
}
