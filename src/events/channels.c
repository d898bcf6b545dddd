/*
 * channels.c: the tenant's email and SMS notification channels (nova/events.h) and their
 * sending (internal.h). A channel's password or API key is sealed with the tenant's data key
 * before it reaches the store and opened only by the dispatcher for the one send; the API
 * never shows it, the audit names only which members changed, and no log line carries it.
 * The message is built from the event's payload alone and keeps only ids, statuses, codes
 * and the time: the payload holds no personal data, and the filter keeps a future payload
 * member from leaking one into an email or an SMS.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "internal.h"
#include "nova/notify.h"

#define CHANNEL_PEM_MAX (64u << 10)

static nova_status refuse(nova_events_problem_t *pb, const char *field, const char *why)
{
    pb->field = field;
    pb->why = why;
    return NOVA_INVALID;
}

/* Bytes 0x21..0x7e only, 1..max of them. */
static bool token_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static bool charset_ok(const char *s, size_t max, const char *extra)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && strchr(extra, s[i]) == NULL)
            return false;
    return true;
}

/* One or more PEM certificates and nothing else that parses as one. */
static bool pem_certs_ok(const char *pem)
{
    size_t n = strlen(pem);
    if (n == 0 || n > CHANNEL_PEM_MAX || strstr(pem, "-----BEGIN CERTIFICATE-----") == NULL)
        return false;
    BIO *b = BIO_new_mem_buf(pem, (int)n);
    int count = 0;
    X509 *x;
    while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        count++;
        X509_free(x);
    }
    BIO_free(b);
    return count > 0;
}

/* A list of 1..NOVA_NOTIFY_RECIPIENTS_MAX distinct strings each passing ok. */
static bool recipients_ok(json_t *to, bool (*ok)(const char *))
{
    if (!json_is_array(to) || json_array_size(to) == 0 ||
        json_array_size(to) > NOVA_NOTIFY_RECIPIENTS_MAX)
        return false;
    for (size_t i = 0; i < json_array_size(to); i++) {
        const char *v = json_string_value(json_array_get(to, i));
        if (!ok(v))
            return false;
        for (size_t k = 0; k < i; k++)
            if (strcmp(v, json_string_value(json_array_get(to, k))) == 0)
                return false;
    }
    return true;
}

static const char *const email_members[] = {"smtp_url", "from",           "to",
                                            "username", "ca_certificate", NULL};
static const char *const sms_members[] = {"provider",  "username", "to",
                                          "sender_id", "base_url", NULL};
static const char *const twilio_members[] = {
    "provider", "account_sid",     "api_key_sid", "from", "messaging_service_sid",
    "to",       "status_callback", "base_url",    NULL};

const char *const nova_channel_members[] = {"type",
                                            "events",
                                            "enabled",
                                            "smtp_url",
                                            "from",
                                            "to",
                                            "username",
                                            "password",
                                            "ca_certificate",
                                            "provider",
                                            "api_key",
                                            "sender_id",
                                            "base_url",
                                            "account_sid",
                                            "api_key_sid",
                                            "auth_token",
                                            "api_key_secret",
                                            "messaging_service_sid",
                                            "status_callback",
                                            NULL};

/* A Twilio sender id: 1 to 11 letters, digits and spaces with at least one letter. */
static bool twilio_sender_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    bool letter = false;
    if (n == 0 || n > 11)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != ' ')
            return false;
        letter = letter || isalpha((unsigned char)s[i]);
    }
    return letter;
}

static bool listed(const char *const *list, const char *name)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

/* The Africa's Talking base URL of sms settings: base_url, or the sandbox for the user
 * "sandbox", or the live API. */
static const char *at_base(json_t *settings)
{
    const char *b = json_string_value(json_object_get(settings, "base_url"));
    if (b && *b)
        return b;
    const char *u = json_string_value(json_object_get(settings, "username"));
    return u && strcmp(u, "sandbox") == 0 ? NOVA_EVENT_AT_SANDBOX : NOVA_EVENT_AT_BASE;
}

static nova_status check_email(json_t *m, const char *secret, bool has_secret,
                               nova_events_problem_t *pb)
{
    const char *url = json_string_value(json_object_get(m, "smtp_url"));
    if (!nova_notify_smtp_url_valid(url, NULL))
        return refuse(pb, "smtp_url",
                      "smtp://host[:port] (STARTTLS required unless the host is loopback) or "
                      "smtps://host[:port], without user info or path");
    if (!nova_notify_email_valid(json_string_value(json_object_get(m, "from"))))
        return refuse(pb, "from", "an email address (local@domain)");
    if (!recipients_ok(json_object_get(m, "to"), nova_notify_email_valid))
        return refuse(pb, "to", "a list of 1 to 10 distinct email addresses");
    json_t *u = json_object_get(m, "username");
    if (u && !token_ok(json_string_value(u), 256))
        return refuse(pb, "username", "1 to 256 printable characters without spaces");
    if (secret && (strlen(secret) > 256 || strpbrk(secret, "\r\n") != NULL || !*secret))
        return refuse(pb, "password", "1 to 256 characters on one line");
    if (has_secret && u == NULL)
        return refuse(pb, "username", "required with a password");
    json_t *ca = json_object_get(m, "ca_certificate");
    if (ca && (!json_is_string(ca) || !pem_certs_ok(json_string_value(ca))))
        return refuse(pb, "ca_certificate", "a PEM bundle of the SMTP server's CA");
    return NOVA_OK;
}

static nova_status check_sms(json_t *m, const char *secret, bool has_secret,
                             nova_events_problem_t *pb)
{
    if (!charset_ok(json_string_value(json_object_get(m, "username")), 64, "_.-"))
        return refuse(pb, "username",
                      "the Africa's Talking username (1 to 64 of A-Z a-z 0-9 _ . -)");
    if (!has_secret)
        return refuse(pb, "api_key", "the Africa's Talking API key");
    if (secret && !token_ok(secret, 256))
        return refuse(pb, "api_key", "1 to 256 printable characters without spaces");
    if (!recipients_ok(json_object_get(m, "to"), nova_notify_phone_valid))
        return refuse(pb, "to", "a list of 1 to 10 distinct E.164 numbers (+254711000001)");
    json_t *sid = json_object_get(m, "sender_id");
    if (sid && !charset_ok(json_string_value(sid), 15, "_.-"))
        return refuse(pb, "sender_id", "a sender id or short code (1 to 15 of A-Z a-z 0-9 _ . -)");
    json_t *b = json_object_get(m, "base_url");
    if (b && !nova_notify_base_url_valid(json_string_value(b)))
        return refuse(pb, "base_url",
                      "https://host[:port][/path] (http:// only to a loopback host), no query");
    return NOVA_OK;
}

/* Twilio: the secret is the auth token, or with api_key_sid the API key's secret; which one a
 * body gave (secret_member) must fit, and changing api_key_sid wants the secret again (the
 * sealed one belongs to the other). */
static nova_status check_twilio(json_t *m, json_t *body, const char *secret,
                                const char *secret_member, bool has_secret,
                                nova_events_problem_t *pb)
{
    if (!nova_notify_twilio_sid_valid(json_string_value(json_object_get(m, "account_sid")), "AC"))
        return refuse(pb, "account_sid", "the Twilio account SID (AC and 32 hex digits)");
    json_t *key = json_object_get(m, "api_key_sid");
    if (key && !nova_notify_twilio_sid_valid(json_string_value(key), "SK"))
        return refuse(pb, "api_key_sid", "a Twilio API key SID (SK and 32 hex digits)");
    const char *want = key ? "api_key_secret" : "auth_token";
    if (secret && strcmp(secret_member, want) != 0)
        return refuse(pb, secret_member,
                      key ? "with api_key_sid the secret is api_key_secret"
                          : "without api_key_sid the secret is auth_token");
    if (!has_secret)
        return refuse(pb, want, key ? "the API key's secret" : "the Twilio auth token");
    if (secret == NULL && json_object_get(body, "api_key_sid"))
        return refuse(pb, want, "required again when api_key_sid changes");
    if (secret && !token_ok(secret, 256))
        return refuse(pb, want, "1 to 256 printable characters without spaces");
    json_t *from = json_object_get(m, "from"), *mss = json_object_get(m, "messaging_service_sid");
    if (from && mss)
        return refuse(pb, "messaging_service_sid",
                      "either from or messaging_service_sid, not both");
    if (mss && !nova_notify_twilio_sid_valid(json_string_value(mss), "MG"))
        return refuse(pb, "messaging_service_sid",
                      "a Twilio messaging service SID (MG and 32 hex digits)");
    if (!mss && !nova_notify_phone_valid(json_string_value(from)) &&
        !twilio_sender_ok(json_string_value(from)))
        return refuse(pb, "from",
                      "an E.164 number or a sender id (1 to 11 letters, digits, spaces), or "
                      "messaging_service_sid instead");
    if (!recipients_ok(json_object_get(m, "to"), nova_notify_phone_valid))
        return refuse(pb, "to", "a list of 1 to 10 distinct E.164 numbers (+254711000001)");
    json_t *cb = json_object_get(m, "status_callback");
    if (cb && !nova_notify_base_url_valid(json_string_value(cb)))
        return refuse(pb, "status_callback",
                      "https://host[:port][/path] (http:// only to a loopback host), no query");
    json_t *b = json_object_get(m, "base_url");
    if (b && !nova_notify_base_url_valid(json_string_value(b)))
        return refuse(pb, "base_url",
                      "https://host[:port][/path] (http:// only to a loopback host), no query");
    return NOVA_OK;
}

/* Whether sms settings name Twilio (else Africa's Talking, the default). */
static bool is_twilio(json_t *settings)
{
    const char *p = json_string_value(json_object_get(settings, "provider"));
    return p && strcmp(p, "twilio") == 0;
}

/* What an SMS channel posts to: Africa's Talking's messaging URL, or Twilio's Messages
 * resource of the account. */
static const char *sms_target(nova_arena_t *a, json_t *settings)
{
    bool tw = is_twilio(settings);
    const char *b =
        tw ? json_string_value(json_object_get(settings, "base_url")) : at_base(settings);
    if (b == NULL || *b == '\0')
        b = NOVA_EVENT_TWILIO_BASE;
    size_t n = strlen(b);
    while (n > 0 && b[n - 1] == '/')
        n--;
    if (!tw)
        return nova_arena_printf(a, "%.*s/version1/messaging", (int)n, b);
    return nova_arena_printf(a, "%.*s/2010-04-01/Accounts/%s/Messages.json", (int)n, b,
                             json_string_value(json_object_get(settings, "account_sid")));
}

nova_status nova_channel_parse(nova_arena_t *a, json_t *body, const nova_notify_channel_row_t *old,
                               nova_channel_in_t *in, nova_events_problem_t *pb)
{
    memset(in, 0, sizeof(*in));
    pb->field = "";
    pb->why = "";
    if (!json_is_object(body))
        return refuse(pb, "", "a JSON object");
    const char *type = json_string_value(json_object_get(body, "type"));
    if (old) {
        if (json_object_get(body, "type") && (type == NULL || strcmp(type, old->kind) != 0))
            return refuse(pb, "type", "a channel's type cannot change (delete it, create another)");
        type = old->kind;
    } else if (type == NULL || (strcmp(type, "email") != 0 && strcmp(type, "sms") != 0)) {
        return refuse(pb, "type", "email or sms");
    }
    bool email = strcmp(type, "email") == 0;
    json_t *merged = old ? json_loads(old->settings, 0, NULL) : json_object();
    if (!json_is_object(merged)) {
        json_decref(merged);
        return old ? NOVA_INTERNAL : NOVA_NOMEM;
    }
    /* An SMS channel's provider: the body's, else the stored one's; it cannot change (the
     * delivery log's codes are the provider's). */
    json_t *prov = json_object_get(body, "provider");
    const char *pname = json_string_value(prov);
    bool twilio = false;
    if (!email && prov &&
        (pname == NULL || (strcmp(pname, "africastalking") != 0 && strcmp(pname, "twilio") != 0))) {
        json_decref(merged);
        return refuse(pb, "provider", "africastalking or twilio");
    }
    if (!email && old && prov &&
        strcmp(pname, is_twilio(merged) ? "twilio" : "africastalking") != 0) {
        json_decref(merged);
        return refuse(pb, "provider",
                      "a channel's provider cannot change (delete it, create another)");
    }
    if (!email)
        twilio = prov ? strcmp(pname, "twilio") == 0 : is_twilio(merged);
    const char *const *members = email ? email_members : twilio ? twilio_members : sms_members;
    const char *secret_name = email ? "password" : twilio ? "auth_token" : "api_key";
    const char *alt_secret = twilio ? "api_key_secret" : NULL;
    const char *secret_member = secret_name;
    nova_status st = NOVA_OK;
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "type") == 0 || strcmp(key, "events") == 0 || strcmp(key, "enabled") == 0)
            continue;
        if (strcmp(key, secret_name) == 0 || (alt_secret && strcmp(key, alt_secret) == 0)) {
            if (in->secret || in->clear_secret) {
                st = refuse(pb, key, "auth_token or api_key_secret, not both");
                break;
            }
            secret_member = strcmp(key, secret_name) == 0 ? secret_name : alt_secret;
            if (json_is_null(v)) {
                in->clear_secret = true;
            } else if (!json_is_string(v) ||
                       strlen(json_string_value(v)) != json_string_length(v)) {
                st = refuse(pb, secret_member, "a string");
                break;
            } else {
                in->secret = json_string_value(v);
            }
            continue;
        }
        if (!listed(members, key)) {
            st = refuse(pb, key,
                        email ? "not a member of an email channel"
                              : "not a member of an SMS channel");
            break;
        }
        if (json_is_null(v))
            json_object_del(merged, key);
        else if (json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v))
            st = refuse(pb, key, "a string without NUL");
        else
            json_object_set(merged, key, v);
    }
    bool has_secret =
        in->secret != NULL || (!in->clear_secret && old != NULL && old->secret_len > 0);
    if (st == NOVA_OK)
        st = email    ? check_email(merged, in->secret, has_secret, pb)
             : twilio ? check_twilio(merged, body, in->secret, secret_member, has_secret, pb)
                      : check_sms(merged, in->secret, has_secret, pb);
    json_t *ev = json_object_get(body, "events");
    json_t *old_events = old && ev == NULL ? events_types_json(old->events) : NULL;
    if (st == NOVA_OK)
        st = events_types_parse(a, ev ? ev : old_events, &in->events, pb);
    json_decref(old_events);
    json_t *en = json_object_get(body, "enabled");
    if (st == NOVA_OK && en && !json_is_boolean(en))
        st = refuse(pb, "enabled", "true or false");
    in->enabled = en ? json_is_true(en) : old ? old->enabled : true;
    if (st == NOVA_OK && !email && json_object_get(merged, "provider") == NULL)
        json_object_set_new(merged, "provider", json_string("africastalking"));
    if (st == NOVA_OK) {
        char *text = json_dumps(merged, JSON_COMPACT | JSON_SORT_KEYS);
        in->kind = email ? "email" : "sms";
        in->settings = text ? nova_arena_strdup(a, text) : NULL;
        free(text);
        if (email) {
            in->target =
                nova_arena_strdup(a, json_string_value(json_object_get(merged, "smtp_url")));
        } else {
            in->target = sms_target(a, merged);
        }
        if (in->settings == NULL || in->target == NULL)
            st = NOVA_NOMEM;
    }
    json_decref(merged);
    return st;
}

json_t *nova_channel_json(const nova_notify_channel_row_t *c)
{
    json_t *o = json_loads(c->settings, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    bool email = strcmp(c->kind, "email") == 0;
    if (email)
        json_object_set_new(o, "ca_certificate",
                            json_boolean(json_object_get(o, "ca_certificate")));
    json_object_set_new(o, "id", json_string(c->id));
    json_object_set_new(o, "type", json_string(c->kind));
    json_object_set_new(o, "target", json_string(c->target));
    json_object_set_new(o, "events", events_types_json(c->events));
    json_object_set_new(o, "enabled", json_boolean(c->enabled));
    const char *secret_name = email                               ? "password"
                              : !is_twilio(o)                     ? "api_key"
                              : json_object_get(o, "api_key_sid") ? "api_key_secret"
                                                                  : "auth_token";
    json_object_set_new(o, secret_name, json_boolean(c->secret_len > 0));
    json_object_set_new(o, "created_at", json_integer(c->created_at));
    json_object_set_new(o, "updated_at", json_integer(c->updated_at));
    return o;
}

/* The names of the members a body sets, for the audit (never their values). */
static json_t *changed_members(json_t *body)
{
    json_t *names = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        (void)v;
        json_array_append_new(names, json_string(key));
    }
    return names;
}

/* Seals in->secret into out (nothing when there is none). */
static nova_status seal_secret(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                               const char *tenant, const nova_channel_in_t *in, nova_buf_t *out)
{
    return in->secret
               ? events_seal(cfg, s, a, tenant, NOVA_EVENT_CTX_CHANNEL_SECRET, in->secret, out)
               : NOVA_OK;
}

nova_status nova_channel_create(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                                const nova_audit_actor_t *by, const char *tenant_id, json_t *body,
                                json_t **out, nova_events_problem_t *pb)
{
    nova_channel_in_t in;
    nova_status st = nova_channel_parse(a, body, NULL, &in, pb);
    if (st != NOVA_OK)
        return st;
    char id[64];
    st = nova_id_new("nch", id, sizeof(id));
    if (st != NOVA_OK)
        return st;
    nova_buf_t sec;
    nova_buf_init(&sec);
    st = seal_secret(cfg, s, a, tenant_id, &in, &sec);
    int64_t now = nova_time_now();
    nova_notify_channel_row_t row = {
        tenant_id, id,        in.kind,    in.target, in.settings, (const uint8_t *)sec.data,
        sec.len,   in.events, in.enabled, by->id,    now,         now};
    nova_audit_entry_t e;
    if (st == NOVA_OK) {
        json_t *attrs = json_pack("{s:s, s:s}", "type", in.kind, "events", in.events);
        st = nova_audit_entry_make(&e, a, by, tenant_id, "notify.channel.create", "notify_channel",
                                   id, attrs);
    }
    if (st == NOVA_OK)
        st = nova_store_notify_channel_insert(s, &row, &e);
    nova_buf_free(&sec);
    if (st == NOVA_OK)
        *out = nova_channel_json(&row);
    return st;
}

nova_status nova_channel_update(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                                const nova_audit_actor_t *by, const char *tenant_id, const char *id,
                                json_t *body, json_t **out, nova_events_problem_t *pb)
{
    pb->field = "";
    pb->why = "";
    if (!json_is_object(body) || json_object_size(body) == 0) {
        pb->why = "a JSON object with at least one member to change";
        return NOVA_INVALID;
    }
    nova_notify_channel_row_t old;
    nova_status st = nova_store_notify_channel_get(s, a, tenant_id, id, &old);
    if (st != NOVA_OK)
        return st;
    nova_channel_in_t in;
    st = nova_channel_parse(a, body, &old, &in, pb);
    if (st != NOVA_OK)
        return st;
    nova_buf_t sec;
    nova_buf_init(&sec);
    st = seal_secret(cfg, s, a, tenant_id, &in, &sec);
    nova_notify_channel_row_t row = old;
    row.target = in.target;
    row.settings = in.settings;
    row.events = in.events;
    row.enabled = in.enabled;
    row.updated_at = nova_time_now();
    if (in.secret) {
        row.secret = (const uint8_t *)sec.data;
        row.secret_len = sec.len;
    } else if (in.clear_secret) {
        row.secret = NULL;
        row.secret_len = 0;
    }
    nova_audit_entry_t e;
    if (st == NOVA_OK) {
        json_t *attrs =
            json_pack("{s:o, s:b}", "changed", changed_members(body), "enabled", row.enabled);
        st = nova_audit_entry_make(&e, a, by, tenant_id, "notify.channel.update", "notify_channel",
                                   id, attrs);
    }
    if (st == NOVA_OK)
        st = nova_store_notify_channel_update(s, &row, &e);
    nova_buf_free(&sec);
    if (st == NOVA_OK)
        *out = nova_channel_json(&row);
    return st;
}

nova_status nova_channel_delete(nova_store_t *s, nova_arena_t *a, const nova_audit_actor_t *by,
                                const char *tenant_id, const char *id)
{
    nova_audit_entry_t e;
    nova_status st = nova_audit_entry_make(&e, a, by, tenant_id, "notify.channel.delete",
                                           "notify_channel", id, NULL);
    if (st == NOVA_OK)
        st = nova_store_notify_channel_delete(s, tenant_id, id, nova_time_now(), &e);
    return st;
}

/* s kept to [A-Za-z0-9_.:+-], at most 80 bytes (others become '_'); "-" when absent. */
static const char *safe_str(nova_arena_t *a, const char *s)
{
    if (s == NULL || *s == '\0')
        return "-";
    size_t n = strlen(s) > 80 ? 80 : strlen(s);
    char *o = nova_arena_alloc(a, n + 1);
    if (o == NULL)
        return "-";
    for (size_t i = 0; i < n; i++)
        o[i] = isalnum((unsigned char)s[i]) || strchr("_.:+-", s[i]) ? s[i] : '_';
    o[n] = '\0';
    return o;
}

static const char *safe(nova_arena_t *a, json_t *v)
{
    return safe_str(a, json_string_value(v));
}

nova_status nova_channel_message(nova_arena_t *a, const char *kind, const char *event_id,
                                 const char *payload, const char **subject, const char **text)
{
    *subject = *text = NULL;
    json_t *p = json_loads(payload ? payload : "", 0, NULL);
    json_t *data = json_object_get(p, "data");
    const char *type = json_string_value(json_object_get(p, "type"));
    if (!json_is_object(data) || !nova_event_type_valid(type)) {
        json_decref(p);
        return NOVA_INVALID;
    }
    const char *vid = safe(a, json_object_get(data, "verification_id"));
    const char *status = safe(a, json_object_get(data, "status"));
    const char *decision = safe(a, json_object_get(data, "decision"));
    const char *ts = safe(a, json_object_get(p, "timestamp"));
    const char *eid = safe_str(a, event_id);
    nova_buf_t reasons;
    nova_buf_init(&reasons);
    json_t *rs = json_object_get(data, "reasons");
    for (size_t i = 0; i < json_array_size(rs) && i < 16; i++)
        nova_buf_printf(&reasons, "%s%s", i ? ", " : "", safe(a, json_array_get(rs, i)));
    bool review = strcmp(type, "review.decided") == 0;
    if (strcmp(kind, "sms") == 0) {
        *subject = "";
        *text = nova_arena_printf(a, "Nova %s: %s %s, decision %s (%s)", type,
                                  review ? "review" : "verification", vid, decision, eid);
    } else {
        *subject = nova_arena_printf(a, "Nova: %s %s", type, vid);
        *text = nova_arena_printf(
            a,
            "Event: %s\nEvent id: %s\n%s: %s\nStatus: %s\nDecision: %s\nReasons: %.*s\nTime: "
            "%s\n\nThis message carries no personal data. The details are at GET "
            "/v1/%s/%s.\n",
            type, eid, review ? "Review" : "Verification", vid, status, decision, (int)reasons.len,
            reasons.len ? reasons.data : "", ts, review ? "reviews" : "verifications", vid);
    }
    nova_buf_free(&reasons);
    json_decref(p);
    return *subject && *text ? NOVA_OK : NOVA_NOMEM;
}

/* The strings of a JSON list (borrowed from it), at most max. */
static size_t strings_of(json_t *list, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(list) && n < max; i++)
        if (json_is_string(json_array_get(list, i)))
            out[n++] = json_string_value(json_array_get(list, i));
    return n;
}

void events_channel_send(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                         const nova_delivery_row_t *d, const nova_event_row_t *ev,
                         events_outcome_t *o)
{
    nova_notify_channel_row_t c;
    nova_status st = nova_store_notify_channel_get(s, a, d->tenant_id, d->channel_id, &c);
    if (st != NOVA_OK) {
        snprintf(o->error, sizeof(o->error), "channel unreadable: %s", nova_status_name(st));
        o->final = st == NOVA_NOT_FOUND;
        return;
    }
    if (!c.enabled) {
        snprintf(o->error, sizeof(o->error), "the channel is disabled");
        o->final = true;
        return;
    }
    const char *subject = NULL, *text = NULL;
    st = nova_channel_message(a, c.kind, ev->id, ev->payload, &subject, &text);
    json_t *set = json_loads(c.settings, 0, NULL);
    char *secret = NULL;
    if (st == NOVA_OK && c.secret_len > 0)
        st = events_open(cfg, s, c.tenant_id, NOVA_EVENT_CTX_CHANNEL_SECRET, c.secret, c.secret_len,
                         &secret);
    if (st != NOVA_OK || !json_is_object(set)) {
        snprintf(o->error, sizeof(o->error), "could not build the message or open the secret: %s",
                 nova_status_name(st ? st : NOVA_INTERNAL));
        json_decref(set);
        events_wipe(secret);
        return;
    }
    const char *to[NOVA_NOTIFY_RECIPIENTS_MAX];
    size_t nto = strings_of(json_object_get(set, "to"), to, NOVA_NOTIFY_RECIPIENTS_MAX);
    if (strcmp(c.kind, "sms") == 0 && is_twilio(set)) {
        const char *key = json_string_value(json_object_get(set, "api_key_sid"));
        const char *b = json_string_value(json_object_get(set, "base_url"));
        nova_notify_sms_t m = {
            .provider = NOVA_SMS_TWILIO,
            .base_url = b ? b : NOVA_EVENT_TWILIO_BASE,
            .username = key ? key : json_string_value(json_object_get(set, "account_sid")),
            .api_key = secret,
            .from = json_string_value(json_object_get(set, "from")),
            .account_sid = json_string_value(json_object_get(set, "account_sid")),
            .messaging_service_sid =
                json_string_value(json_object_get(set, "messaging_service_sid")),
            .status_callback = json_string_value(json_object_get(set, "status_callback")),
            .to = to,
            .nto = nto,
            .message = text,
            .timeout_ms = NOVA_EVENT_TIMEOUT_MS};
        events_sms_send(cfg, s, a, d, &m, o);
        events_wipe(secret);
        json_decref(set);
        return;
    }
    if (strcmp(c.kind, "sms") == 0) {
        nova_notify_sms_t m = {.provider = NOVA_SMS_AFRICASTALKING,
                               .base_url = at_base(set),
                               .username = json_string_value(json_object_get(set, "username")),
                               .api_key = secret,
                               .from = json_string_value(json_object_get(set, "sender_id")),
                               .to = to,
                               .nto = nto,
                               .message = text,
                               .timeout_ms = NOVA_EVENT_TIMEOUT_MS};
        events_sms_send(cfg, s, a, d, &m, o);
        events_wipe(secret);
        json_decref(set);
        return;
    }
    const char *from = json_string_value(json_object_get(set, "from"));
    const char *domain = from ? strrchr(from, '@') : NULL;
    const char *mid = nova_arena_printf(a, "<%s.%s%s>", ev->id, c.id, domain ? domain : "@nova");
    nova_notify_email_t m = {c.target,
                             json_string_value(json_object_get(set, "username")),
                             secret,
                             json_string_value(json_object_get(set, "ca_certificate")),
                             from,
                             to,
                             nto,
                             subject,
                             text,
                             mid,
                             NOVA_EVENT_TIMEOUT_MS};
    nova_notify_result_t r;
    st = nova_notify_email_send(&m, &r);
    events_wipe(secret);
    json_decref(set);
    o->ok = st == NOVA_OK;
    o->status = r.status;
    o->duration_us = r.duration_us;
    memcpy(o->error, r.error, sizeof(o->error));
    memcpy(o->result, r.result, sizeof(r.result));
    o->final = !o->ok && !r.retry;
}
