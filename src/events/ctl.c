/*
 * ctl.c: `novactl channel list|show|create|update|delete` (nova/events.h): the tenant's
 * notification channels from the command line, through the very calls the HTTP routes make
 * (nova_channel_create, nova_channel_update, nova_channel_delete and the store's reads), so
 * a channel made here is checked, sealed and audited (`notify.channel.*`, actor `novactl`)
 * exactly as one made by POST /v1/notifications/channels. A body is read from a file or
 * standard input, never from the command line, so a password or an API key stays out of the
 * process list and the shell's history; nothing printed shows one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"

/* A channel body's bound, as the HTTP route's. */
#define CTL_BODY_MAX (200u << 10)

static const nova_audit_actor_t ctl_actor = {.id = "novactl"};

/* The HTTP route's members (nova_channel_members); the domain then refuses those the
 * channel's type does not have. */
#define body_members nova_channel_members

static nova_status refuse(nova_arena_t *a, nova_events_problem_t *pb, const char *field,
                          const char *why)
{
    pb->field = nova_arena_strdup(a, field ? field : "");
    pb->why = nova_arena_strdup(a, why ? why : "");
    if (pb->field == NULL || pb->why == NULL) {
        pb->field = "";
        pb->why = "";
    }
    return NOVA_INVALID;
}

/* The JSON object in path ("-": standard input), at most CTL_BODY_MAX bytes, no duplicate
 * member, only the route's members. The text read is wiped: it may hold a secret. */
static nova_status read_body(nova_arena_t *a, const char *path, json_t **out,
                             nova_events_problem_t *pb)
{
    *out = NULL;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return refuse(a, pb, path, "cannot open the file");
    char *buf = malloc(CTL_BODY_MAX + 1);
    size_t n = buf ? fread(buf, 1, CTL_BODY_MAX + 1, f) : 0;
    bool err = ferror(f) != 0;
    if (f != stdin)
        fclose(f);
    if (buf == NULL)
        return NOVA_NOMEM;
    nova_status st = NOVA_OK;
    if (err)
        st = refuse(a, pb, path, "cannot read the file");
    else if (n > CTL_BODY_MAX)
        st = refuse(a, pb, path, "larger than 200 KiB");
    json_t *body = st == NOVA_OK ? json_loadb(buf, n, JSON_REJECT_DUPLICATES, NULL) : NULL;
    OPENSSL_cleanse(buf, n > CTL_BODY_MAX ? CTL_BODY_MAX + 1 : n);
    free(buf);
    if (st != NOVA_OK)
        return st;
    if (!json_is_object(body)) {
        json_decref(body);
        return refuse(a, pb, "", "a JSON object (no duplicate members)");
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        bool known = false;
        for (size_t i = 0; body_members[i] && !known; i++)
            known = strcmp(body_members[i], key) == 0;
        if (!known) {
            st = refuse(a, pb, key, "not a member of a notification channel");
            json_decref(body);
            return st;
        }
    }
    *out = body;
    return NOVA_OK;
}

static void print_json(json_t *o)
{
    char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
    printf("%s\n", t ? t : "{}");
    free(t);
    json_decref(o);
}

/* One line of text for a channel: id, type, state, subscribed types (no address, no number,
 * no secret). */
static void print_line(const nova_notify_channel_row_t *c)
{
    printf("%s  %s  %s  %s\n", c->id, c->kind, c->enabled ? "enabled" : "disabled", c->events);
}

/* Prints the channel JSON the domain answered with (create, update). */
static void print_channel(json_t *o, bool json_out)
{
    if (json_out) {
        print_json(o);
        return;
    }
    json_t *ev = json_object_get(o, "events");
    printf("%s  %s  %s  ", json_string_value(json_object_get(o, "id")),
           json_string_value(json_object_get(o, "type")),
           json_is_true(json_object_get(o, "enabled")) ? "enabled" : "disabled");
    for (size_t i = 0; i < json_array_size(ev); i++)
        printf("%s%s", i ? " " : "", json_string_value(json_array_get(ev, i)));
    printf("\n");
    json_decref(o);
}

nova_status nova_events_ctl_channel(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                                    const char *verb, const char *tenant_id,
                                    const char *const *args, bool json_out,
                                    nova_events_problem_t *pb)
{
    pb->field = "";
    pb->why = "";
    nova_status st;
    if (strcmp(verb, "list") == 0) {
        nova_notify_channel_row_t *rows = NULL;
        size_t n = 0;
        st = nova_store_notify_channel_list(s, a, tenant_id, &rows, &n);
        if (st != NOVA_OK)
            return st;
        json_t *arr = json_out ? json_array() : NULL;
        for (size_t i = 0; i < n; i++) {
            if (json_out)
                json_array_append_new(arr, nova_channel_json(&rows[i]));
            else
                print_line(&rows[i]);
        }
        if (json_out)
            print_json(json_pack("{s:o}", "channels", arr));
        return NOVA_OK;
    }
    if (strcmp(verb, "show") == 0) {
        nova_notify_channel_row_t c;
        st = nova_store_notify_channel_get(s, a, tenant_id, args[0], &c);
        if (st == NOVA_INVALID)
            st = NOVA_NOT_FOUND; /* an id that cannot exist */
        if (st != NOVA_OK)
            return st;
        if (json_out)
            print_json(nova_channel_json(&c));
        else
            print_line(&c);
        return NOVA_OK;
    }
    if (strcmp(verb, "delete") == 0) {
        st = nova_channel_delete(s, a, &ctl_actor, tenant_id, args[0]);
        if (st == NOVA_INVALID)
            st = NOVA_NOT_FOUND;
        if (st == NOVA_OK && json_out)
            print_json(json_pack("{s:s, s:b}", "id", args[0], "deleted", 1));
        else if (st == NOVA_OK)
            printf("%s  deleted\n", args[0]);
        return st;
    }
    bool create = strcmp(verb, "create") == 0;
    if (!create && strcmp(verb, "update") != 0)
        return refuse(a, pb, "", "list, show, create, update or delete");
    json_t *body = NULL;
    st = read_body(a, create ? args[0] : args[1], &body, pb);
    if (st != NOVA_OK)
        return st;
    json_t *out = NULL;
    nova_events_problem_t dp = {"", ""};
    st = create ? nova_channel_create(cfg, s, a, &ctl_actor, tenant_id, body, &out, &dp)
                : nova_channel_update(cfg, s, a, &ctl_actor, tenant_id, args[0], body, &out, &dp);
    /* dp.field may name a member of body: copy it before body goes. */
    if (st == NOVA_INVALID && *dp.why)
        refuse(a, pb, dp.field, dp.why);
    else if (st == NOVA_INVALID && !create)
        st = NOVA_NOT_FOUND; /* the store refused an id that cannot exist */
    json_decref(body);
    if (st == NOVA_OK)
        print_channel(out, json_out);
    return st;
}
