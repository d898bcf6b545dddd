/* event.c: outbox events (nova/events.h): their types, payload, JSON view, retry delays and
 * the dispatcher's kick. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const event_types[] = {
    "verification.completed",
    "verification.failed",
    "verification.review_required",
    "review.decided",
    NULL,
};

bool nova_event_type_valid(const char *type)
{
    for (size_t i = 0; type && event_types[i]; i++)
        if (strcmp(type, event_types[i]) == 0)
            return true;
    return false;
}

nova_status events_types_parse(nova_arena_t *a, json_t *ev, const char **out,
                               nova_events_problem_t *pb)
{
    static const char *const why = "a list of event types: verification.completed, "
                                   "verification.failed, verification.review_required, "
                                   "review.decided";
    *out = NULL;
    pb->field = "events";
    pb->why = why;
    if (!json_is_array(ev) || json_array_size(ev) == 0 || json_array_size(ev) > 16)
        return NOVA_INVALID;
    nova_buf_t list;
    nova_buf_init(&list);
    nova_status st = NOVA_OK;
    for (size_t i = 0; i < json_array_size(ev) && st == NOVA_OK; i++) {
        const char *t = json_string_value(json_array_get(ev, i));
        if (!nova_event_type_valid(t)) {
            pb->why = "unknown event type (verification.completed, verification.failed, "
                      "verification.review_required, review.decided)";
            st = NOVA_INVALID;
            break;
        }
        bool seen = false;
        for (size_t k = 0; k < i; k++)
            if (strcmp(t, json_string_value(json_array_get(ev, k))) == 0)
                seen = true;
        if (!seen)
            st = nova_buf_printf(&list, "%s%s", list.len ? " " : "", t);
    }
    if (st == NOVA_OK) {
        nova_buf_append(&list, "", 1);
        *out = list.data ? nova_arena_strdup(a, list.data) : NULL;
        if (*out == NULL)
            st = NOVA_NOMEM;
    }
    nova_buf_free(&list);
    if (st == NOVA_OK) {
        pb->field = "";
        pb->why = "";
    }
    return st;
}

json_t *events_types_json(const char *types)
{
    json_t *events = json_array();
    const char *p = types;
    while (p && *p) {
        size_t n = strcspn(p, " ");
        json_array_append_new(events, json_stringn(p, n));
        p += n;
        while (*p == ' ')
            p++;
    }
    return events;
}

int64_t nova_event_backoff(int64_t attempt, double r)
{
    if (attempt < 1)
        attempt = 1;
    int64_t d = NOVA_EVENT_BACKOFF_BASE_S;
    for (int64_t i = 1; i < attempt && d < NOVA_EVENT_BACKOFF_MAX_S; i++)
        d *= 2;
    if (d > NOVA_EVENT_BACKOFF_MAX_S)
        d = NOVA_EVENT_BACKOFF_MAX_S;
    if (!(r >= 0.0 && r < 1.0))
        r = 0.0;
    /* Jitter over the upper half: retries of many receivers spread out, none comes early. */
    int64_t j = (int64_t)((double)(d - d / 2) * r); /* r >= 0: truncation is floor */
    return d / 2 + j;
}

nova_status nova_event_make(nova_arena_t *a, const char *tenant_id, const char *type,
                            const char *subject, json_t *data, const char *callback_url,
                            nova_event_row_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!nova_event_type_valid(type) || data == NULL)
        return NOVA_INVALID;
    char id[64];
    nova_status st = nova_id_new("evt", id, sizeof(id));
    if (st != NOVA_OK)
        return st;
    int64_t now = nova_time_now();
    char ts[21];
    nova_time_format(now, ts);
    json_t *p = json_pack("{s:s, s:s, s:O}", "type", type, "timestamp", ts, "data", data);
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (text == NULL)
        return NOVA_NOMEM;
    out->tenant_id = nova_arena_strdup(a, tenant_id);
    out->id = nova_arena_strdup(a, id);
    out->type = type;
    out->subject = subject ? nova_arena_strdup(a, subject) : "";
    out->payload = nova_arena_strdup(a, text);
    out->callback_url = callback_url ? nova_arena_strdup(a, callback_url) : NULL;
    out->created_at = now;
    out->max_attempts = NOVA_EVENT_MAX_ATTEMPTS;
    free(text);
    return out->tenant_id && out->id && out->subject && out->payload ? NOVA_OK : NOVA_NOMEM;
}

static _Atomic(nova_sched_job_t *) dispatch_job;

void nova_events_set_job(nova_sched_job_t *job)
{
    atomic_store(&dispatch_job, job);
}

void nova_events_kick(void)
{
    nova_sched_kick(atomic_load(&dispatch_job));
}

json_t *nova_event_json(const nova_event_row_t *e, const nova_delivery_row_t *deliveries, size_t nd,
                        const nova_attempt_row_t *attempts, size_t na)
{
    json_t *payload = json_loads(e->payload, 0, NULL);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:o}", "id", e->id, "type", e->type, "subject",
                          e->subject ? e->subject : "", "created_at", (json_int_t)e->created_at,
                          "payload", payload ? payload : json_null());
    if (o == NULL || deliveries == NULL)
        return o;
    json_t *arr = json_array();
    for (size_t i = 0; i < nd; i++) {
        const nova_delivery_row_t *d = &deliveries[i];
        json_t *log = json_array();
        for (size_t k = 0; k < na; k++) {
            const nova_attempt_row_t *t = &attempts[k];
            if (strcmp(t->delivery_id, d->id) != 0)
                continue;
            json_array_append_new(
                log,
                json_pack("{s:I, s:I, s:I, s:s, s:s, s:I}", "attempt", (json_int_t)t->attempt,
                          "status_code", (json_int_t)t->status_code, "duration_ms",
                          (json_int_t)t->duration_ms, "error", t->error ? t->error : "", "result",
                          t->result ? t->result : "", "at", (json_int_t)t->created_at));
        }
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "id", d->id,
                           "channel", d->channel ? d->channel : "webhook", "channel_id",
                           d->channel_id ? d->channel_id : "", "endpoint_id", d->endpoint_id, "url",
                           d->url, "state", d->state, "attempts", (json_int_t)d->attempts,
                           "max_attempts", (json_int_t)d->max_attempts, "next_at",
                           (json_int_t)d->next_at, "last_status", (json_int_t)d->last_status, "log",
                           log));
    }
    json_object_set_new(o, "deliveries", arr);
    return o;
}
